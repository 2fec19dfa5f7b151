// H.264 pass-through (passthrough.hpp). ITU-T H.264 7.4.1.2.3: an access unit's parameter sets
// come before its first slice; an IDR access unit starts a coded video sequence a decoder can
// begin with, given the SPS and PPS it refers to.
#include "asfcast/encode/passthrough.hpp"

#include "asfcast/core/h264.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

extern "C" {
#include <libswscale/swscale.h>
}

#include <array>
#include <map>
#include <optional>

namespace asfcast::encode {

namespace {

constexpr std::array<std::uint8_t, 4> kStartCode = {0, 0, 0, 1};

void append_nal(Bytes& out, ByteView nal) {
    out.insert(out.end(), kStartCode.begin(), kStartCode.end());
    out.insert(out.end(), nal.begin(), nal.end());
}

}  // namespace

VideoStreamFormat h264_stream_format(const VideoStreamFormat& base, ByteView sps_nal,
                                     const std::vector<Bytes>& pps_nals, double fallback_fps) {
    const h264::Sps sps = h264::parse_sps(sps_nal);
    VideoStreamFormat f = base;
    f.width = sps.width;
    f.height = sps.height;
    f.codec_private.clear();
    append_nal(f.codec_private, sps_nal);  // BITMAPINFOHEADER extra data, as the x264 path writes it
    for (const Bytes& pps : pps_nals) append_nal(f.codec_private, pps);
    f.frame_rate = sps.fps_num && sps.fps_den ? static_cast<double>(sps.fps_num) / sps.fps_den : fallback_fps;
    f.codec_name = "H.264";
    f.codec_description = fmt::format("H.264 from the source (profile_idc {}, level_idc {}) {}x{} {:g} fps",
                                      sps.profile_idc, sps.level_idc, f.width, f.height, f.frame_rate);
    return f;
}

struct VideoPassthrough::Impl {
    PassthroughConfig cfg;
    VideoStreamFormat fmt;            // what the header says now
    PassthroughStats stats;
    // The source's parameter sets, as last sent (NAL units without start codes).
    Bytes sps;
    std::map<std::uint32_t, Bytes> pps;  // by pic_parameter_set_id
    bool waiting_for_idr = true;
    Micros last_malformed_log = std::numeric_limits<Micros>::min();

    // The slate's encoder at the stream's current size, made when the first slate picture comes.
    std::unique_ptr<VideoEncoder> slate_encoder;
    bool slate_needs_idr = true;      // the first slate picture after the source's is an IDR
    SwsContext* sws = nullptr;
    int sws_in_w = 0, sws_in_h = 0, sws_out_w = 0, sws_out_h = 0;
    RawVideoFrame scaled;
    RawVideoFrame last_slate;         // the last slate picture, shown until the source's next IDR
    bool have_last_slate = false;

    explicit Impl(PassthroughConfig c) : cfg(std::move(c)) {
        // No lookahead or B-frames: a slate picture is out at once, before the source is back.
        cfg.slate.tune = "zerolatency";
        cfg.slate.bframes = 0;
        cfg.slate.keyframes_on_request = false;
        VideoEncoder initial(cfg.slate);  // checks the settings now, and gives the first format
        fmt = initial.format();
        fmt.stream_name = cfg.stream_name;
    }
    ~Impl() {
        if (sws) sws_freeContext(sws);
    }

    void log_malformed(Micros pts, const std::string& why) {
        ++stats.malformed;
        // At most one line every 10 s of media: a broken sender must not flood the log.
        if (pts - last_malformed_log < 10'000'000) return;
        last_malformed_log = pts;
        spdlog::warn("video copy: an access unit of the source cannot be read ({}); dropped ({} so far)", why,
                     stats.malformed);
    }

    std::vector<Bytes> pps_list() const {
        std::vector<Bytes> out;
        for (const auto& [id, nal] : pps) out.push_back(nal);
        return out;
    }

    void add_unit(const EncodedFrame& unit, std::vector<EncodedFrame>& out) {
        ++stats.units_in;
        h264::AccessUnitInfo info;
        std::vector<ByteView> nals;
        try {
            info = h264::inspect_access_unit(unit.data);
            nals = h264::split_annexb(unit.data);
            for (ByteView nal : nals) {
                const auto type = h264::nal_type(nal);
                if (type == h264::kNalSps) sps.assign(nal.begin(), nal.end());
                else if (type == h264::kNalPps) pps[h264::parse_pps_id(nal)].assign(nal.begin(), nal.end());
            }
            if (pps.size() > 256) throw h264::H264Error("more than 256 picture parameter sets");
        } catch (const h264::H264Error& e) {
            log_malformed(unit.pts, e.what());
            return;
        }
        if (!info.slices) {  // parameter sets or SEI alone: kept above, nothing to show
            ++stats.waiting_for_idr;
            return;
        }
        if (waiting_for_idr && !info.idr) {
            ++stats.waiting_for_idr;
            // Back from the slate mid-GOP: the slate stays on screen (encoded again at this unit's
            // time) until the source's IDR, instead of a frozen picture.
            if (have_last_slate) {
                last_slate.pts = unit.pts;
                add_slate(last_slate, out);
            }
            return;
        }
        EncodedFrame f;
        f.stream = fmt.stream;
        f.kind = MediaKind::video;
        f.pts = unit.pts;
        f.dts = unit.dts;
        f.keyframe = info.idr;
        if (info.idr) {
            if (sps.empty() || pps.empty()) {
                log_malformed(unit.pts, "an IDR before any SPS and PPS");
                return;
            }
            std::optional<h264::Sps> active;
            try {
                active = h264::parse_sps(sps);
            } catch (const h264::H264Error& e) {
                log_malformed(unit.pts, e.what());
                return;
            }
            if (active->width != fmt.width || active->height != fmt.height) {
                // A new picture size: a new header on every output, from this IDR on.
                const int old_w = fmt.width, old_h = fmt.height;
                fmt = h264_stream_format(fmt, sps, pps_list(), static_cast<double>(cfg.slate.fps_num) / cfg.slate.fps_den);
                f.new_format = std::make_shared<const VideoStreamFormat>(fmt);
                ++stats.format_changes;
                slate_encoder.reset();  // the slate follows the size
                spdlog::info("video copy: the source's pictures are {}x{} (were {}x{}): a new header on every output",
                             fmt.width, fmt.height, old_w, old_h);
            }
            if (!info.has_sps || !info.has_pps) {
                // A late joiner starts here: the parameter sets go in front (7.4.1.2.3: before the
                // first slice; an access unit delimiter, if any, stays first).
                Bytes with;
                with.reserve(unit.data.size() + sps.size() + 64);
                std::size_t first_slice_at = 0;
                bool aud_first = !nals.empty() && h264::nal_type(nals.front()) == h264::kNalAud;
                if (aud_first) append_nal(with, nals.front()), first_slice_at = 1;
                if (!info.has_sps) append_nal(with, sps);
                if (!info.has_pps)
                    for (const auto& [id, nal] : pps) append_nal(with, nal);
                for (std::size_t i = first_slice_at; i < nals.size(); ++i) append_nal(with, nals[i]);
                f.data = std::move(with);
                ++stats.parameter_sets_added;
            }
            ++stats.idr_units;
            waiting_for_idr = false;
            slate_needs_idr = true;
        }
        if (f.data.empty()) f.data = unit.data;  // as the source sent it
        ++stats.units_out;
        out.push_back(std::move(f));
    }

    const RawVideoFrame& scale(const RawVideoFrame& in) {
        if (in.width == fmt.width && in.height == fmt.height) return in;
        if (!sws || sws_in_w != in.width || sws_in_h != in.height || sws_out_w != fmt.width || sws_out_h != fmt.height) {
            if (sws) sws_freeContext(sws);
            sws = sws_getContext(in.width, in.height, AV_PIX_FMT_YUV420P, fmt.width, fmt.height, AV_PIX_FMT_YUV420P,
                                 SWS_BILINEAR, nullptr, nullptr, nullptr);
            if (!sws) throw EncodeError(fmt::format("cannot scale the slate from {}x{} to {}x{}", in.width, in.height,
                                                    fmt.width, fmt.height));
            sws_in_w = in.width, sws_in_h = in.height, sws_out_w = fmt.width, sws_out_h = fmt.height;
        }
        const auto luma_in = static_cast<std::size_t>(in.width) * static_cast<std::size_t>(in.height);
        const auto luma_out = static_cast<std::size_t>(fmt.width) * static_cast<std::size_t>(fmt.height);
        scaled.width = fmt.width;
        scaled.height = fmt.height;
        scaled.i420.resize(luma_out * 3 / 2);
        const std::uint8_t* src[3] = {in.i420.data(), in.i420.data() + luma_in, in.i420.data() + luma_in * 5 / 4};
        const int src_stride[3] = {in.width, in.width / 2, in.width / 2};
        std::uint8_t* dst[3] = {scaled.i420.data(), scaled.i420.data() + luma_out, scaled.i420.data() + luma_out * 5 / 4};
        const int dst_stride[3] = {fmt.width, fmt.width / 2, fmt.width / 2};
        sws_scale(sws, src, src_stride, 0, in.height, dst, dst_stride);
        scaled.pts = in.pts;
        return scaled;
    }

    void add_slate(const RawVideoFrame& in, std::vector<EncodedFrame>& out) {
        if (in.i420.size() != static_cast<std::size_t>(in.width) * in.height * 3 / 2 || in.width % 2 || in.height % 2)
            throw EncodeError(fmt::format("slate picture {}x{} with {} bytes is not I420", in.width, in.height,
                                          in.i420.size()));
        if (!slate_encoder) {
            VideoEncoderConfig c = cfg.slate;
            c.width = fmt.width;
            c.height = fmt.height;
            slate_encoder = std::make_unique<VideoEncoder>(c);
            slate_needs_idr = false;  // a new encoder starts with one
        }
        if (&in != &last_slate) {
            last_slate = in;
            have_last_slate = true;
        }
        if (slate_needs_idr) slate_encoder->force_keyframe();
        slate_needs_idr = false;
        waiting_for_idr = true;  // the source goes on from its next IDR
        const std::size_t before = out.size();
        slate_encoder->encode(scale(in), out);
        for (std::size_t i = before; i < out.size(); ++i) {
            out[i].stream = fmt.stream;
            ++stats.slate_frames;
            ++stats.units_out;
        }
    }
};

VideoPassthrough::VideoPassthrough(PassthroughConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
VideoPassthrough::~VideoPassthrough() = default;

const VideoStreamFormat& VideoPassthrough::format() const { return impl_->fmt; }

void VideoPassthrough::add(const EncodedFrame& unit, std::vector<EncodedFrame>& out) { impl_->add_unit(unit, out); }

void VideoPassthrough::add(const RawVideoFrame& slate, std::vector<EncodedFrame>& out) { impl_->add_slate(slate, out); }

void VideoPassthrough::flush(std::vector<EncodedFrame>& out) {
    if (impl_->slate_encoder) impl_->slate_encoder->flush(out);
}

void VideoPassthrough::resync() { impl_->waiting_for_idr = true; }

const PassthroughStats& VideoPassthrough::stats() const { return impl_->stats; }

}  // namespace asfcast::encode
