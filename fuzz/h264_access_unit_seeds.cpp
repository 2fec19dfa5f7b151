// Writes the seed corpus of h264_access_unit_fuzz into the folder given: libx264's access units
// (through asfcast's own VideoEncoder) in the fuzzer's record format (h264_access_unit_fuzz.hpp),
// as a network source hands them on: with and without SPS/PPS in the IDRs, B-frames, an access unit
// delimiter in front, a change of picture size, slate pictures, resync and flush in between.
// Generated at test time (tests/fuzz runs it before the fuzzer) so that no media is kept in git.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "asfcast/core/h264.hpp"
#include "asfcast/encode/encode.hpp"
#include "h264_access_unit_fuzz.hpp"

using namespace asfcast;
using namespace asfcast::encode;
namespace fz = asfcast::fuzz_h264;

namespace {

struct Camera {
    int width = 64, height = 48;
    std::string profile = "main";
    int bframes = 0;
    int keyint = 10;
};

std::vector<EncodedFrame> encode_frames(const Camera& cam, int first, int n) {
    VideoEncoderConfig c;
    c.width = cam.width;
    c.height = cam.height;
    c.profile = cam.profile;
    c.bframes = cam.bframes;
    c.keyframe_interval = cam.keyint;
    c.preset = "ultrafast";
    c.threads = 1;
    c.bitrate_kbps = 100;
    c.max_bitrate_kbps = 100;
    c.vbv_buffer_kbit = 100;
    VideoEncoder enc(c);
    std::vector<EncodedFrame> out;
    for (int i = first; i < first + n; ++i) {
        RawVideoFrame f;
        f.width = cam.width;
        f.height = cam.height;
        f.pts = i * fz::kPeriodUs;
        f.i420.resize(static_cast<std::size_t>(cam.width) * cam.height * 3 / 2);
        for (int y = 0; y < cam.height; ++y)
            for (int x = 0; x < cam.width; ++x)
                f.i420[static_cast<std::size_t>(y) * cam.width + x] = static_cast<std::uint8_t>(x * 3 + y * 2 + i * 5);
        for (std::size_t k = static_cast<std::size_t>(cam.width) * cam.height; k < f.i420.size(); ++k)
            f.i420[k] = static_cast<std::uint8_t>(128 + (k + i) % 16);
        enc.encode(f, out);
    }
    enc.flush(out);
    return out;
}

Bytes keep_nals(const Bytes& au, const std::function<bool(std::uint8_t)>& keep, bool aud_first = false) {
    Bytes kept;
    if (aud_first) kept.insert(kept.end(), {0, 0, 0, 1, h264::kNalAud, 0xF0});
    for (ByteView nal : h264::split_annexb(au)) {
        if (!keep(h264::nal_type(nal))) continue;
        kept.insert(kept.end(), {0, 0, 0, 1});
        kept.insert(kept.end(), nal.begin(), nal.end());
    }
    return kept;
}

class Seed {
public:
    void unit(const Bytes& au, int step_ms = 33, int reorder = 0) {
        bytes_.push_back(fz::unit_control(step_ms, reorder));
        bytes_.push_back(static_cast<std::uint8_t>(au.size() >> 8));
        bytes_.push_back(static_cast<std::uint8_t>(au.size()));
        bytes_.insert(bytes_.end(), au.begin(), au.end());
    }
    void frames(const std::vector<EncodedFrame>& fs) {
        for (const auto& f : fs) {
            const int reorder = static_cast<int>(std::min<Micros>(2, std::max<Micros>(0, (f.pts - f.dts) / fz::kPeriodUs)));
            unit(f.data, 33, reorder);
        }
    }
    void event(std::uint8_t e) { bytes_.push_back(e); }
    void write(const std::filesystem::path& dir, const std::string& name) const {
        std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(bytes_.data()),
                                                          static_cast<std::streamsize>(bytes_.size()));
    }

private:
    std::vector<std::uint8_t> bytes_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    const auto is_ps = [](std::uint8_t t) { return t == h264::kNalSps || t == h264::kNalPps; };
    {
        Seed s;  // a camera as it is: SPS+PPS in every IDR
        s.frames(encode_frames({}, 0, 25));
        s.write(dir, "plain");
    }
    {
        Seed s;  // joined mid-GOP, the parameter sets alone first, IDRs without them (RTP depayloaders)
        const auto fs = encode_frames({}, 0, 25);
        s.unit(keep_nals(fs[0].data, is_ps), 0);
        for (std::size_t i = 4; i < fs.size(); ++i) s.unit(keep_nals(fs[i].data, [&](std::uint8_t t) { return !is_ps(t); }));
        s.write(dir, "stripped");
    }
    {
        Seed s;  // B-frames (presentation after decode), high profile, an AUD in front of every unit
        Camera cam;
        cam.width = 96;
        cam.height = 64;
        cam.profile = "high";
        cam.bframes = 2;
        for (const auto& f : encode_frames(cam, 0, 20)) {
            const int reorder = static_cast<int>(std::min<Micros>(2, std::max<Micros>(0, (f.pts - f.dts) / fz::kPeriodUs)));
            s.unit(keep_nals(f.data, [](std::uint8_t) { return true; }, true), 33, reorder);
        }
        s.write(dir, "bframes_aud");
    }
    {
        Seed s;  // a new picture size, the slate while the source is lost, a resync, flush
        s.frames(encode_frames({}, 0, 12));
        s.event(fz::kEventSlate);
        s.event(fz::kEventSlate);
        Camera bigger;
        bigger.width = 80;
        bigger.height = 64;
        const auto fs = encode_frames(bigger, 12, 24);
        for (std::size_t i = 0; i < fs.size(); ++i) {
            if (i == 15) s.event(fz::kEventResync);
            s.unit(fs[i].data);
        }
        s.event(fz::kEventSlate);
        s.event(fz::kEventFlush);
        s.write(dir, "size_change_slate");
    }
    {
        Seed s;  // a larger camera, baseline: a few units only
        Camera cam;
        cam.width = 352;
        cam.height = 288;
        cam.profile = "baseline";
        cam.keyint = 2;
        s.frames(encode_frames(cam, 0, 3));
        s.write(dir, "cif_baseline");
    }
    return 0;
}
