// H.264 through the libx264 API. Timestamps are microseconds (i_timebase 1/1000000): x264 carries
// each input picture's pts through to its output picture, and computes dts for reordered output.
// Other codecs (WMV2) go to a detail::VideoBackend (video_backend.hpp, wmv2_encoder.cpp).
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>

extern "C" {
#include <x264.h>
}

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "asfcast/encode/encode.hpp"
#include "video_backend.hpp"

namespace asfcast::encode {

namespace {

std::string name_list(const char* const* names) {
    std::string out;
    for (int i = 0; names[i]; ++i) {
        if (i) out += ", ";
        out += names[i];
    }
    return out;
}

bool in_list(const char* const* names, const std::string& s) {
    for (int i = 0; names[i]; ++i)
        if (s == names[i]) return true;
    return false;
}

void x264_log_to_spdlog(void*, int level, const char* fmt_str, va_list args) {
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, fmt_str, args);
    std::size_t n = std::strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    switch (level) {
        case X264_LOG_ERROR: spdlog::error("x264: {}", buf); break;
        case X264_LOG_WARNING: spdlog::warn("x264: {}", buf); break;
        case X264_LOG_INFO: spdlog::debug("x264: {}", buf); break;
        default: spdlog::trace("x264: {}", buf); break;
    }
}

}  // namespace

std::uint32_t detail::fourcc_value(const std::string& s) {
    if (s.size() != 4) throw EncodeError("video fourcc must be 4 characters, got '" + s + "'");
    return static_cast<std::uint32_t>(static_cast<unsigned char>(s[0])) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(s[1])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(s[2])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(s[3])) << 24;
}

struct VideoEncoder::Impl {
    VideoEncoderConfig cfg;
    x264_param_t param{};
    x264_t* enc = nullptr;
    VideoStreamFormat fmt;
    bool force_idr = false;
    std::size_t frame_bytes = 0;
    std::unique_ptr<detail::VideoBackend> other;  // set for codecs other than H.264

    ~Impl() {
        if (enc) x264_encoder_close(enc);
    }

    void emit(x264_nal_t* nals, int n, int size, const x264_picture_t& pic, std::vector<EncodedFrame>& out) {
        if (size <= 0) return;
        EncodedFrame f;
        f.stream = cfg.stream;
        f.kind = MediaKind::video;
        f.pts = pic.i_pts;
        f.dts = pic.i_dts;
        f.keyframe = pic.b_keyframe != 0;
        f.data.reserve(static_cast<std::size_t>(size));
        for (int i = 0; i < n; ++i) f.data.insert(f.data.end(), nals[i].p_payload, nals[i].p_payload + nals[i].i_payload);
        out.push_back(std::move(f));
    }
};

VideoEncoder::VideoEncoder(const VideoEncoderConfig& c) : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.cfg = c;
    if (c.codec == "wmv2") {
        s.other = detail::make_wmv2_backend(c);
        return;
    }
    if (c.codec != "h264") throw EncodeError("unknown video codec '" + c.codec + "' (valid: h264, wmv2)");
    if (c.width <= 0 || c.height <= 0 || c.width % 2 || c.height % 2)
        throw EncodeError(fmt::format("video size {}x{} must be positive and even", c.width, c.height));
    if (c.fps_num <= 0 || c.fps_den <= 0)
        throw EncodeError(fmt::format("invalid video frame rate {}/{}", c.fps_num, c.fps_den));
    if (c.bitrate_kbps <= 0) throw EncodeError(fmt::format("invalid video bitrate {} kbit/s", c.bitrate_kbps));
    if (c.max_bitrate_kbps < 0 || c.vbv_buffer_kbit < 0 || (c.max_bitrate_kbps > 0 && c.vbv_buffer_kbit <= 0))
        throw EncodeError(fmt::format("invalid VBV settings: max bitrate {} kbit/s, buffer {} kbit",
                                      c.max_bitrate_kbps, c.vbv_buffer_kbit));
    if (c.keyframe_interval <= 0)
        throw EncodeError(fmt::format("invalid key-frame interval {}", c.keyframe_interval));
    if (c.bframes < 0 || c.bframes > 16) throw EncodeError(fmt::format("invalid B-frame count {}", c.bframes));
    if (c.threads < 0) throw EncodeError(fmt::format("invalid x264 thread count {}", c.threads));
    const std::uint32_t fourcc = detail::fourcc_value(c.fourcc.empty() ? "H264" : c.fourcc);

    if (!in_list(x264_preset_names, c.preset))
        throw EncodeError("unknown x264 preset '" + c.preset + "' (valid: " + name_list(x264_preset_names) + ")");
    // Tunes may be combined ("zerolatency,fastdecode"); x264 accepts , . / - + as separators.
    for (std::size_t at = 0; at < c.tune.size();) {
        std::size_t end = c.tune.find_first_of(",./-+", at);
        if (end == std::string::npos) end = c.tune.size();
        const std::string one = c.tune.substr(at, end - at);
        if (!in_list(x264_tune_names, one))
            throw EncodeError("unknown x264 tune '" + one + "' (valid: " + name_list(x264_tune_names) + ")");
        at = end + 1;
    }
    static const char* const profiles[] = {"baseline", "main", "high", nullptr};  // 8-bit 4:2:0
    if (!in_list(profiles, c.profile))
        throw EncodeError("unsupported H.264 profile '" + c.profile + "' (valid: " + name_list(profiles) + ")");
    x264_param_t& p = s.param;
    if (x264_param_default_preset(&p, c.preset.c_str(), c.tune.empty() ? nullptr : c.tune.c_str()) < 0)
        throw EncodeError("x264 rejected preset '" + c.preset + "' with tune '" + c.tune + "'");

    p.pf_log = &x264_log_to_spdlog;
    p.p_log_private = nullptr;
    p.i_log_level = X264_LOG_WARNING;
    p.i_width = c.width;
    p.i_height = c.height;
    p.i_csp = X264_CSP_I420;
    p.i_fps_num = static_cast<std::uint32_t>(c.fps_num);
    p.i_fps_den = static_cast<std::uint32_t>(c.fps_den);
    p.i_timebase_num = 1;
    p.i_timebase_den = 1000000;
    p.b_vfr_input = 0;
    p.rc.i_rc_method = X264_RC_ABR;
    p.rc.i_bitrate = c.bitrate_kbps;
    if (c.max_bitrate_kbps > 0) {
        p.rc.i_vbv_max_bitrate = c.max_bitrate_kbps;
        p.rc.i_vbv_buffer_size = c.vbv_buffer_kbit;
    }
    p.i_keyint_max = c.keyframe_interval;
    // Scene cuts may add IDRs, but not closer than this.
    p.i_keyint_min = std::max(1, std::min(c.keyframe_interval / 4, (c.fps_num + c.fps_den - 1) / c.fps_den));
    if (c.keyframes_on_request) {
        p.i_keyint_max = X264_KEYINT_MAX_INFINITE;
        p.i_keyint_min = 1;
        p.i_scenecut_threshold = 0;
    }
    p.b_repeat_headers = 1;  // SPS/PPS before every IDR: late joiners can start there
    p.b_annexb = 1;
    p.i_bframe = c.bframes;
    p.b_open_gop = 0;
    p.b_intra_refresh = 0;
    p.i_threads = c.threads;
    if (x264_param_apply_profile(&p, c.profile.c_str()) < 0)
        throw EncodeError("H.264 profile '" + c.profile + "' cannot be used with these settings");

    s.enc = x264_encoder_open(&p);
    if (!s.enc)
        throw EncodeError(fmt::format("x264 refused the settings ({}x{} {}/{} fps, {} kbit/s, preset {}, profile {})",
                                      c.width, c.height, c.fps_num, c.fps_den, c.bitrate_kbps, c.preset,
                                      c.profile));
    x264_encoder_parameters(s.enc, &s.param);  // what x264 actually uses (profile may drop B-frames)

    x264_nal_t* nals = nullptr;
    int n = 0;
    if (x264_encoder_headers(s.enc, &nals, &n) < 0) throw EncodeError("x264_encoder_headers failed");
    VideoStreamFormat& f = s.fmt;
    f.stream = c.stream;
    f.width = c.width;
    f.height = c.height;
    f.fourcc = fourcc;
    for (int i = 0; i < n; ++i) {
        if (nals[i].i_type == NAL_SPS || nals[i].i_type == NAL_PPS)
            f.codec_private.insert(f.codec_private.end(), nals[i].p_payload, nals[i].p_payload + nals[i].i_payload);
    }
    const int peak_kbps = std::max(c.bitrate_kbps, c.max_bitrate_kbps);
    f.bitrate = static_cast<std::uint32_t>(c.bitrate_kbps) * 1000u;
    f.max_bitrate = static_cast<std::uint32_t>(peak_kbps) * 1000u;
    f.buffer_ms = c.max_bitrate_kbps > 0
                      ? static_cast<std::uint32_t>(static_cast<std::int64_t>(c.vbv_buffer_kbit) * 1000 / peak_kbps)
                      : 0u;
    f.frame_rate = static_cast<double>(c.fps_num) / c.fps_den;
    f.codec_name = "H.264";
    f.codec_description = fmt::format("x264 {} {}x{} {:g} fps {} kbit/s", c.profile, c.width, c.height,
                                      f.frame_rate, c.bitrate_kbps);
    const std::size_t luma = static_cast<std::size_t>(c.width) * static_cast<std::size_t>(c.height);
    s.frame_bytes = luma + 2 * (luma / 4);
}

VideoEncoder::~VideoEncoder() = default;

const VideoStreamFormat& VideoEncoder::format() const { return impl_->other ? impl_->other->format() : impl_->fmt; }

void VideoEncoder::encode(const RawVideoFrame& frame, std::vector<EncodedFrame>& out) {
    Impl& s = *impl_;
    if (s.other) return s.other->encode(frame, out);
    if (frame.width != s.cfg.width || frame.height != s.cfg.height)
        throw EncodeError(fmt::format("video frame is {}x{}, encoder expects {}x{}", frame.width, frame.height,
                                      s.cfg.width, s.cfg.height));
    if (frame.i420.size() != s.frame_bytes)
        throw EncodeError(fmt::format("I420 frame has {} bytes, expected {}", frame.i420.size(), s.frame_bytes));
    x264_picture_t in;
    x264_picture_init(&in);
    in.img.i_csp = X264_CSP_I420;
    in.img.i_plane = 3;
    auto* base = const_cast<std::uint8_t*>(frame.i420.data());  // x264 only reads input planes
    const std::size_t luma = static_cast<std::size_t>(s.cfg.width) * static_cast<std::size_t>(s.cfg.height);
    in.img.plane[0] = base;
    in.img.plane[1] = base + luma;
    in.img.plane[2] = base + luma + luma / 4;
    in.img.i_stride[0] = s.cfg.width;
    in.img.i_stride[1] = s.cfg.width / 2;
    in.img.i_stride[2] = s.cfg.width / 2;
    in.i_pts = frame.pts;
    in.i_type = s.force_idr ? X264_TYPE_IDR : X264_TYPE_AUTO;
    s.force_idr = false;

    x264_picture_t pic;
    x264_nal_t* nals = nullptr;
    int n = 0;
    int size = x264_encoder_encode(s.enc, &nals, &n, &in, &pic);
    if (size < 0) throw EncodeError("x264_encoder_encode failed");
    s.emit(nals, n, size, pic, out);
}

void VideoEncoder::flush(std::vector<EncodedFrame>& out) {
    Impl& s = *impl_;
    if (s.other) return s.other->flush(out);
    while (x264_encoder_delayed_frames(s.enc) > 0) {
        x264_picture_t pic;
        x264_nal_t* nals = nullptr;
        int n = 0;
        int size = x264_encoder_encode(s.enc, &nals, &n, nullptr, &pic);
        if (size < 0) throw EncodeError("x264_encoder_encode failed while flushing");
        s.emit(nals, n, size, pic, out);
    }
}

void VideoEncoder::force_keyframe() {
    if (impl_->other) return impl_->other->force_keyframe();
    impl_->force_idr = true;
}

}  // namespace asfcast::encode
