// The machine's capture devices: V4L2 nodes through ioctls, ALSA PCMs through alsa-lib. Drivers
// answer oddly at times, so every enumeration index is capped and failures become notes.
// alsa-lib 1.2.8 declares snd_lib_error_set_local outside its extern "C" block: include it with C
// linkage (the C headers it pulls in first, so only ALSA's own declarations are inside).
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
extern "C" {
#include <alsa/asoundlib.h>
}
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <optional>
#include <string_view>

#include "asfcast/capture/devices.hpp"
#include "v4l2_enum.hpp"

namespace asfcast::capture {

namespace {

namespace fs = std::filesystem;

// Caps on enumeration indices: no real device has more; a buggy driver answering "yes" forever
// must not hang `asfcast devices`.
constexpr __u32 kMaxFormats = 64;
constexpr __u32 kMaxSizes = 128;
constexpr __u32 kMaxIntervals = 64;
constexpr int kMaxNodes = 256;
constexpr int kMaxCards = 64;
constexpr int kMaxPcmDevices = 64;

// Sizes offered for stepwise/continuous ranges (capture cards, some webcams, vivid).
constexpr std::pair<int, int> kCommonSizes[] = {{320, 240},   {640, 360},   {640, 480},   {720, 480},
                                               {720, 576},   {800, 600},   {960, 540},   {1024, 768},
                                               {1280, 720},  {1280, 1024}, {1600, 1200}, {1920, 1080},
                                               {2560, 1440}, {3840, 2160}};
constexpr Fraction kCommonRates[] = {{60, 1}, {60000, 1001}, {50, 1}, {30, 1}, {30000, 1001}, {25, 1},
                                     {24, 1}, {15, 1},       {10, 1}, {5, 1}};
constexpr int kCommonAudioRates[] = {8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 192000};

int xioctl(int fd, unsigned long req, void* arg) {
    for (int tries = 0; tries < 8; ++tries) {
        int r = ::ioctl(fd, req, arg);
        if (r != -1 || errno != EINTR) return r;
    }
    return -1;
}

std::string fourcc_text(__u32 f) {
    std::string s;
    for (int i = 0; i < 4; ++i) {
        char c = static_cast<char>((f >> (8 * i)) & 0xff);
        if (c != ' ' && c != '\0') s += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return s;
}

std::string cstr(const __u8* p, std::size_t n) {
    const auto* c = reinterpret_cast<const char*>(p);
    return std::string(c, strnlen(c, n));
}

// A V4L2 frame interval (seconds per frame) as a reduced rate; nullopt for nonsense answers.
std::optional<Fraction> rate_of_interval(__u32 num, __u32 den) {
    if (num == 0 || den == 0 || num > 0x7fffffff || den > 0x7fffffff) return std::nullopt;
    const __u32 g = std::gcd(num, den);
    return Fraction{static_cast<int>(den / g), static_cast<int>(num / g)};
}

void sort_rates(std::vector<Fraction>& rates) {
    std::sort(rates.begin(), rates.end(), [](const Fraction& a, const Fraction& b) { return a.value() > b.value(); });
    rates.erase(std::unique(rates.begin(), rates.end()), rates.end());
}

std::vector<Fraction> enum_rates(const detail::V4l2Ioctl& io, __u32 pixfmt, int w, int h) {
    std::vector<Fraction> rates;
    for (__u32 i = 0; i < kMaxIntervals; ++i) {
        v4l2_frmivalenum iv{};
        iv.index = i;
        iv.pixel_format = pixfmt;
        iv.width = static_cast<__u32>(w);
        iv.height = static_cast<__u32>(h);
        if (io(VIDIOC_ENUM_FRAMEINTERVALS, &iv) != 0) break;
        if (iv.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
            if (auto r = rate_of_interval(iv.discrete.numerator, iv.discrete.denominator)) rates.push_back(*r);
            continue;
        }
        // Stepwise / continuous: the common rates inside [1/max interval, 1/min interval].
        const auto& sw = iv.stepwise;
        if (sw.min.numerator == 0 || sw.min.denominator == 0 || sw.max.denominator == 0) break;
        const double fastest = static_cast<double>(sw.min.denominator) / sw.min.numerator;
        const double slowest = static_cast<double>(sw.max.denominator) / std::max<__u32>(1, sw.max.numerator);
        for (const auto& r : kCommonRates)
            if (r.value() <= fastest * 1.0001 && r.value() >= slowest * 0.9999) rates.push_back(r);
        break;  // a stepwise answer is the only one
    }
    sort_rates(rates);
    return rates;
}

// The format's current rate from VIDIOC_G_PARM, for drivers that enumerate nothing.
std::vector<Fraction> current_rate(const detail::V4l2Ioctl& io, __u32 buf_type) {
    v4l2_streamparm parm{};
    parm.type = buf_type;
    if (io(VIDIOC_G_PARM, &parm) == 0) {
        const auto& tpf = parm.parm.capture.timeperframe;
        if (auto r = rate_of_interval(tpf.numerator, tpf.denominator)) return {*r};
    }
    return {};
}

bool interlaced_field(__u32 field) {
    return field == V4L2_FIELD_INTERLACED || field == V4L2_FIELD_INTERLACED_TB || field == V4L2_FIELD_INTERLACED_BT ||
           field == V4L2_FIELD_SEQ_TB || field == V4L2_FIELD_SEQ_BT || field == V4L2_FIELD_ALTERNATE;
}

}  // namespace

void detail::enum_v4l2_formats(const V4l2Ioctl& io, unsigned buf_type, VideoDevice& dev) {
    // The current format tells the field order (interlaced input on capture cards).
    v4l2_format cur{};
    cur.type = buf_type;
    bool have_cur = io(VIDIOC_G_FMT, &cur) == 0;
    const bool mplane = buf_type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
    const __u32 cur_w = !have_cur ? 0 : mplane ? cur.fmt.pix_mp.width : cur.fmt.pix.width;
    const __u32 cur_h = !have_cur ? 0 : mplane ? cur.fmt.pix_mp.height : cur.fmt.pix.height;
    const __u32 cur_field = !have_cur ? 0 : mplane ? cur.fmt.pix_mp.field : cur.fmt.pix.field;
    const bool cur_interlaced = have_cur && interlaced_field(cur_field);

    for (__u32 fi = 0; fi < kMaxFormats; ++fi) {
        v4l2_fmtdesc fd_desc{};
        fd_desc.index = fi;
        fd_desc.type = buf_type;
        if (io(VIDIOC_ENUM_FMT, &fd_desc) != 0) break;
        VideoFormat f;
        f.fourcc = fourcc_text(fd_desc.pixelformat);
        f.description = cstr(fd_desc.description, sizeof fd_desc.description);
        for (__u32 si = 0; si < kMaxSizes; ++si) {
            v4l2_frmsizeenum fs{};
            fs.index = si;
            fs.pixel_format = fd_desc.pixelformat;
            if (io(VIDIOC_ENUM_FRAMESIZES, &fs) != 0) break;
            if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
                FrameSize s;
                s.width = static_cast<int>(fs.discrete.width);
                s.height = static_cast<int>(fs.discrete.height);
                if (s.width <= 0 || s.height <= 0) continue;
                s.rates = enum_rates(io, fd_desc.pixelformat, s.width, s.height);
                s.interlaced = cur_interlaced && fs.discrete.width == cur_w && fs.discrete.height == cur_h;
                f.sizes.push_back(std::move(s));
                continue;
            }
            // Stepwise / continuous: the common sizes within range that fit the step, and the maximum.
            const auto& sw = fs.stepwise;
            auto fits = [&](int w, int h) {
                const auto uw = static_cast<__u32>(w), uh = static_cast<__u32>(h);
                return uw >= sw.min_width && uw <= sw.max_width && uh >= sw.min_height && uh <= sw.max_height &&
                       (sw.step_width <= 1 || (uw - sw.min_width) % sw.step_width == 0) &&
                       (sw.step_height <= 1 || (uh - sw.min_height) % sw.step_height == 0);
            };
            std::vector<std::pair<int, int>> sizes;
            for (auto [w, h] : kCommonSizes)
                if (fits(w, h)) sizes.emplace_back(w, h);
            if (sw.max_width > 0 && sw.max_height > 0 && sw.max_width <= 16384 && sw.max_height <= 16384) {
                std::pair<int, int> mx{static_cast<int>(sw.max_width), static_cast<int>(sw.max_height)};
                if (std::find(sizes.begin(), sizes.end(), mx) == sizes.end()) sizes.push_back(mx);
            }
            for (auto [w, h] : sizes) {
                FrameSize s;
                s.width = w;
                s.height = h;
                s.rates = enum_rates(io, fd_desc.pixelformat, w, h);
                s.interlaced = cur_interlaced && static_cast<__u32>(w) == cur_w && static_cast<__u32>(h) == cur_h;
                f.sizes.push_back(std::move(s));
            }
            break;
        }
        // Drivers without size enumeration (some capture cards, driven by DV timings): the current size.
        if (f.sizes.empty() && have_cur && (mplane ? cur.fmt.pix_mp.pixelformat : cur.fmt.pix.pixelformat) ==
                                               fd_desc.pixelformat && cur_w > 0 && cur_h > 0) {
            FrameSize s;
            s.width = static_cast<int>(cur_w);
            s.height = static_cast<int>(cur_h);
            s.rates = current_rate(io, buf_type);
            s.interlaced = cur_interlaced;
            f.sizes.push_back(std::move(s));
        }
        dev.formats.push_back(std::move(f));
    }
}

namespace {

std::vector<std::string> by_id_links(const std::string& node) {
    std::vector<std::string> out;
    std::error_code ec;
    const fs::path dir = "/dev/v4l/by-id";
    if (!fs::is_directory(dir, ec)) return out;
    const auto target = fs::canonical(node, ec);
    if (ec) return out;
    int n = 0;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator() && n < kMaxNodes;
         it.increment(ec), ++n) {
        std::error_code ec2;
        if (fs::canonical(it->path(), ec2) == target && !ec2) out.push_back(it->path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// /dev/videoN sorted by N.
std::vector<std::string> video_nodes() {
    std::vector<std::pair<int, std::string>> nodes;
    std::error_code ec;
    int n = 0;
    for (auto it = fs::directory_iterator("/dev", ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind("video", 0) != 0 || name.size() == 5) continue;
        const std::string num = name.substr(5);
        if (!std::all_of(num.begin(), num.end(), [](unsigned char c) { return std::isdigit(c); }) || num.size() > 6)
            continue;
        nodes.emplace_back(std::stoi(num), it->path().string());
        if (++n >= kMaxNodes) break;
    }
    std::sort(nodes.begin(), nodes.end());
    std::vector<std::string> out;
    for (auto& [i, p] : nodes) out.push_back(std::move(p));
    return out;
}

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// alsa-lib prints its own errors to stderr ("ALSA lib pcm.c: ... Unknown PCM"); the caller gets
// them as return codes and notes instead. The local handler is per thread, so a running alsasrc
// elsewhere keeps GStreamer's global one.
void quiet_alsa(const char*, int, const char*, int, const char*, va_list) {}
struct QuietAlsa {
    snd_local_error_handler_t previous = snd_lib_error_set_local(&quiet_alsa);
    ~QuietAlsa() { snd_lib_error_set_local(previous); }
};

std::string open_hint(int err) {
    if (err == -EBUSY) return "device busy (another program is capturing from it)";
    if (err == -EACCES || err == -EPERM)
        return "permission denied (add the user to the 'audio' group)";
    if (err == -ENOENT || err == -ENODEV) return "no such device (unplugged, or no sound card with that name)";
    return snd_strerror(err);
}

// Channel and rate ranges of an opened PCM.
void read_hw_params(snd_pcm_t* pcm, AudioDevice& a) {
    snd_pcm_hw_params_t* hw = nullptr;
    if (snd_pcm_hw_params_malloc(&hw) < 0) return;
    if (snd_pcm_hw_params_any(pcm, hw) >= 0) {
        unsigned cmin = 0, cmax = 0, rmin = 0, rmax = 0;
        int dir = 0;
        if (snd_pcm_hw_params_get_channels_min(hw, &cmin) >= 0 && snd_pcm_hw_params_get_channels_max(hw, &cmax) >= 0) {
            a.channels_min = static_cast<int>(std::min(cmin, 64u));
            a.channels_max = static_cast<int>(std::min(cmax, 64u));
        }
        if (snd_pcm_hw_params_get_rate_min(hw, &rmin, &dir) >= 0 && snd_pcm_hw_params_get_rate_max(hw, &rmax, &dir) >= 0) {
            a.rate_min = static_cast<int>(std::min(rmin, 768000u));
            a.rate_max = static_cast<int>(std::min(rmax, 768000u));
        }
        for (int r : kCommonAudioRates)
            if (snd_pcm_hw_params_test_rate(pcm, hw, static_cast<unsigned>(r), 0) == 0) a.rates.push_back(r);
    }
    snd_pcm_hw_params_free(hw);
}

}  // namespace

std::vector<VideoDevice> SystemDevices::list_video() const {
    std::vector<VideoDevice> out;
    for (const auto& path : video_nodes()) {
        VideoDevice dev;
        dev.path = path;
        Fd f;
        f.fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (f.fd < 0) {
            const int e = errno;
            if (e == ENOENT || e == ENODEV || e == ENXIO) continue;  // vanished between listing and open
            dev.by_id_paths = by_id_links(path);
            dev.note = e == EACCES || e == EPERM
                           ? fmt::format("cannot open: permission denied (add the user to the 'video' group)")
                           : fmt::format("cannot open: {}", std::strerror(e));
            out.push_back(std::move(dev));
            continue;
        }
        v4l2_capability cap{};
        if (xioctl(f.fd, VIDIOC_QUERYCAP, &cap) != 0) continue;  // not a V4L2 node
        const __u32 caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
        // uvcvideo also registers metadata nodes; only video capture nodes are sources.
        if (!(caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE))) continue;
        dev.name = cstr(cap.card, sizeof cap.card);
        dev.driver = cstr(cap.driver, sizeof cap.driver);
        dev.bus_info = cstr(cap.bus_info, sizeof cap.bus_info);
        dev.by_id_paths = by_id_links(path);
        const __u32 type =
            (caps & V4L2_CAP_VIDEO_CAPTURE) ? V4L2_BUF_TYPE_VIDEO_CAPTURE : V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
        const int fd = f.fd;
        detail::enum_v4l2_formats([fd](unsigned long req, void* arg) { return xioctl(fd, req, arg); }, type, dev);
        if (dev.formats.empty()) dev.note = "the driver lists no pixel formats (no input signal?)";
        out.push_back(std::move(dev));
    }
    return out;
}

std::vector<AudioDevice> SystemDevices::list_audio() const {
    std::vector<AudioDevice> out;
    QuietAlsa quiet;
    // Heap, not alloca: these are reused across the (bounded) loops below.
    struct Infos {
        snd_ctl_card_info_t* card = nullptr;
        snd_pcm_info_t* pcm = nullptr;
        ~Infos() {
            if (card) snd_ctl_card_info_free(card);
            if (pcm) snd_pcm_info_free(pcm);
        }
    } info;
    if (snd_ctl_card_info_malloc(&info.card) < 0 || snd_pcm_info_malloc(&info.pcm) < 0) return out;
    int card = -1;
    for (int n = 0; n < kMaxCards; ++n) {
        if (snd_card_next(&card) < 0 || card < 0) break;
        snd_ctl_t* ctl = nullptr;
        const std::string hw = fmt::format("hw:{}", card);
        if (snd_ctl_open(&ctl, hw.c_str(), 0) < 0) {
            AudioDevice a;
            a.card = card;
            a.alsa_name = hw + ",0";
            a.note = "cannot open the card's control device (permission denied? add the user to the 'audio' group)";
            out.push_back(std::move(a));
            continue;
        }
        std::string card_id, card_name;
        if (snd_ctl_card_info(ctl, info.card) >= 0) {
            card_id = snd_ctl_card_info_get_id(info.card);
            card_name = snd_ctl_card_info_get_name(info.card);
        }
        int dev = -1;
        for (int d = 0; d < kMaxPcmDevices; ++d) {
            if (snd_ctl_pcm_next_device(ctl, &dev) < 0 || dev < 0) break;
            snd_pcm_info_t* pinfo = info.pcm;
            snd_pcm_info_set_device(pinfo, static_cast<unsigned>(dev));
            snd_pcm_info_set_subdevice(pinfo, 0);
            snd_pcm_info_set_stream(pinfo, SND_PCM_STREAM_CAPTURE);
            if (snd_ctl_pcm_info(ctl, pinfo) < 0) continue;  // playback only
            AudioDevice a;
            a.card = card;
            a.card_id = card_id;
            a.card_name = card_name;
            a.device = dev;
            a.device_name = snd_pcm_info_get_name(pinfo);
            a.alsa_name = card_id.empty() ? fmt::format("hw:{},{}", card, dev)
                                          : fmt::format("hw:CARD={},DEV={}", card_id, dev);
            snd_pcm_t* pcm = nullptr;
            const int err = snd_pcm_open(&pcm, a.alsa_name.c_str(), SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK);
            if (err < 0) {
                a.note = open_hint(err);
            } else {
                read_hw_params(pcm, a);
                snd_pcm_close(pcm);
            }
            out.push_back(std::move(a));
        }
        snd_ctl_close(ctl);
    }
    return out;
}

std::optional<std::string> SystemDevices::check_audio_open(const std::string& alsa_name) const {
    QuietAlsa quiet;
    snd_pcm_t* pcm = nullptr;
    const int err = snd_pcm_open(&pcm, alsa_name.c_str(), SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK);
    if (err < 0) return fmt::format("{} ({})", open_hint(err), snd_strerror(err));
    snd_pcm_close(pcm);
    return std::nullopt;
}

}  // namespace asfcast::capture
