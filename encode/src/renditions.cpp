// MBR fan-out (renditions.hpp): lanes of renditions that share a picture size, each lane with at
// most one libswscale context and one reused output buffer; lanes past the first run on worker
// threads, one capture frame at a time (the caller waits for every lane before the next frame,
// so the scaled buffers can be reused and output order is fixed).
#include "asfcast/core/thread_name.hpp"
#include "asfcast/encode/renditions.hpp"

extern "C" {
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
}

#include <fmt/format.h>

#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace asfcast::encode {

struct VideoRenditions::Impl {
    struct Lane {
        int width = 0, height = 0;
        SwsContext* sws = nullptr;  // null: the lane encodes the capture frames as they are
        RawVideoFrame scaled;       // reused for every frame
        std::vector<std::size_t> members;  // rendition indexes
    };
    struct Rendition {
        std::unique_ptr<VideoEncoder> encoder;
        std::string name;
        Micros period_us = 0;     // 1 / frame rate
        bool every_frame = true;  // rate >= capture rate: no decimation
        std::int64_t last_slot = -1;
        bool keep = false;        // this frame
        bool key_pending = false;
        std::uint64_t fed = 0, forced = 0;
        std::vector<EncodedFrame> out;
    };

    VideoRenditionsConfig cfg;
    std::vector<Rendition> rend;
    std::vector<Lane> lanes;
    Micros capture_period_us = 0;
    Micros key_interval_us = 0;
    bool have_origin = false;
    Micros origin = 0;
    Micros next_key_us = 0;

    // Workers for lanes 1..n-1.
    std::vector<std::thread> workers;
    std::mutex m;
    std::condition_variable cv_start, cv_done;
    std::uint64_t generation = 0;
    std::size_t busy = 0;
    bool quit = false;
    const RawVideoFrame* current = nullptr;
    std::exception_ptr error;

    ~Impl() {
        {
            std::lock_guard lk(m);
            quit = true;
        }
        cv_start.notify_all();
        for (auto& t : workers) t.join();
        for (auto& l : lanes)
            if (l.sws) sws_freeContext(l.sws);
    }

    void run_lane(Lane& lane, const RawVideoFrame& frame) {
        bool any = false;
        for (std::size_t r : lane.members) any = any || rend[r].keep;
        if (!any) return;
        const RawVideoFrame* src = &frame;
        if (lane.sws) {
            const int cw = frame.width, ch = frame.height;
            const std::size_t cl = static_cast<std::size_t>(cw) * static_cast<std::size_t>(ch);
            const std::uint8_t* in_planes[3] = {frame.i420.data(), frame.i420.data() + cl, frame.i420.data() + cl + cl / 4};
            const int in_strides[3] = {cw, cw / 2, cw / 2};
            const std::size_t ol = static_cast<std::size_t>(lane.width) * static_cast<std::size_t>(lane.height);
            std::uint8_t* out_planes[3] = {lane.scaled.i420.data(), lane.scaled.i420.data() + ol,
                                           lane.scaled.i420.data() + ol + ol / 4};
            const int out_strides[3] = {lane.width, lane.width / 2, lane.width / 2};
            sws_scale(lane.sws, in_planes, in_strides, 0, ch, out_planes, out_strides);
            lane.scaled.pts = frame.pts;
            src = &lane.scaled;
        }
        for (std::size_t r : lane.members) {
            Rendition& x = rend[r];
            if (!x.keep) continue;
            if (x.key_pending) {
                x.encoder->force_keyframe();
                x.key_pending = false;
                ++x.forced;
            }
            x.encoder->encode(*src, x.out);
            ++x.fed;
        }
    }

    void worker_loop(std::size_t lane_index) {
        std::uint64_t seen = 0;
        for (;;) {
            const RawVideoFrame* frame = nullptr;
            {
                std::unique_lock lk(m);
                cv_start.wait(lk, [&] { return quit || generation != seen; });
                if (quit) return;
                seen = generation;
                frame = current;
            }
            std::exception_ptr err;
            try {
                run_lane(lanes[lane_index], *frame);
            } catch (...) {
                err = std::current_exception();
            }
            std::lock_guard lk(m);
            if (err && !error) error = err;
            if (--busy == 0) cv_done.notify_one();
        }
    }

    // Which renditions take this frame, and whether the key-frame grid is due (same decision for
    // every rendition: the IDRs land on one capture frame).
    void plan(Micros pts) {
        if (!have_origin) {
            have_origin = true;
            origin = pts;
        }
        // Half a capture period of slack: capture timestamps jitter around their ideal grid.
        const Micros t = pts - origin + capture_period_us / 2;
        bool all_keep = true;
        for (auto& x : rend) {
            if (x.every_frame) {
                x.keep = true;
                continue;
            }
            const std::int64_t slot = t >= 0 ? t / x.period_us : -1;
            x.keep = slot > x.last_slot;
            if (x.keep) x.last_slot = slot;
            all_keep = all_keep && x.keep;
        }
        if (t >= next_key_us) {
            // Wait for a frame every rendition keeps (30 and 15 fps meet every other frame), but
            // not forever: with rates that rarely meet, each takes its next frame instead.
            if (all_keep || t - next_key_us >= key_interval_us / 2) {
                for (auto& x : rend) x.key_pending = true;
                next_key_us = (t / key_interval_us + 1) * key_interval_us;
            }
        }
    }
};

VideoRenditions::VideoRenditions(VideoRenditionsConfig config) : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.cfg = std::move(config);
    const auto& c = s.cfg;
    if (c.renditions.empty()) throw EncodeError("MBR: no video renditions");
    if (c.capture_width <= 0 || c.capture_height <= 0 || c.capture_width % 2 || c.capture_height % 2)
        throw EncodeError(fmt::format("MBR: capture size {}x{} must be positive and even", c.capture_width,
                                      c.capture_height));
    if (c.capture_fps_num <= 0 || c.capture_fps_den <= 0)
        throw EncodeError(fmt::format("MBR: invalid capture frame rate {}/{}", c.capture_fps_num, c.capture_fps_den));
    if (!(c.keyframe_interval_s > 0.0))
        throw EncodeError(fmt::format("MBR: key frame interval {} s must be positive", c.keyframe_interval_s));
    const double capture_fps = static_cast<double>(c.capture_fps_num) / c.capture_fps_den;
    s.capture_period_us = static_cast<Micros>(std::llround(1e6 / capture_fps));
    s.key_interval_us = std::max<Micros>(1, static_cast<Micros>(std::llround(c.keyframe_interval_s * 1e6)));
    const bool single = c.renditions.size() == 1;

    for (std::size_t i = 0; i < c.renditions.size(); ++i) {
        const VideoRendition& vr = c.renditions[i];
        VideoEncoderConfig ec = vr.encoder;
        const double fps = ec.fps_den > 0 ? static_cast<double>(ec.fps_num) / ec.fps_den : 0.0;
        if (!(fps > 0.0)) throw EncodeError(fmt::format("MBR rendition {}: invalid frame rate", i + 1));
        if (fps > capture_fps * 1.0001)
            throw EncodeError(fmt::format("MBR rendition {} ({}): {:g} fps is above the capture rate {:g} fps", i + 1,
                                          vr.name, fps, capture_fps));
        // One rendition keeps x264's own key-frame placement (scene cuts); several put IDRs only
        // on the shared grid.
        ec.keyframe_interval = std::max(1, static_cast<int>(std::lround(c.keyframe_interval_s * fps)));
        ec.keyframes_on_request = !single;
        Impl::Rendition x;
        x.encoder = std::make_unique<VideoEncoder>(ec);
        x.name = vr.name;
        x.period_us = static_cast<Micros>(std::llround(1e6 / fps));
        x.every_frame = fps >= capture_fps * 0.9999;
        s.rend.push_back(std::move(x));

        Impl::Lane* lane = nullptr;
        for (auto& l : s.lanes)
            if (l.width == ec.width && l.height == ec.height) lane = &l;
        if (!lane) {
            Impl::Lane l;
            l.width = ec.width;
            l.height = ec.height;
            if (ec.width != c.capture_width || ec.height != c.capture_height) {
                l.sws = sws_getContext(c.capture_width, c.capture_height, AV_PIX_FMT_YUV420P, ec.width, ec.height,
                                       AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr);
                if (!l.sws)
                    throw EncodeError(fmt::format("MBR: libswscale cannot scale {}x{} to {}x{}", c.capture_width,
                                                  c.capture_height, ec.width, ec.height));
                l.scaled.width = ec.width;
                l.scaled.height = ec.height;
                const std::size_t luma = static_cast<std::size_t>(ec.width) * static_cast<std::size_t>(ec.height);
                l.scaled.i420.resize(luma + 2 * (luma / 4));
            }
            s.lanes.push_back(std::move(l));
            lane = &s.lanes.back();
        }
        lane->members.push_back(i);
    }
    if (c.parallel)
        for (std::size_t i = 1; i < s.lanes.size(); ++i) s.workers.emplace_back([this, i] {
            set_thread_name("asfcast-venc-" + std::to_string(i + 1));
            impl_->worker_loop(i);
        });
}

VideoRenditions::~VideoRenditions() = default;

std::vector<VideoStreamFormat> VideoRenditions::formats() const {
    std::vector<VideoStreamFormat> out;
    for (const auto& x : impl_->rend) {
        VideoStreamFormat f = x.encoder->format();
        if (!x.name.empty()) f.stream_name = x.name;
        out.push_back(std::move(f));
    }
    return out;
}

void VideoRenditions::encode(const RawVideoFrame& frame, std::vector<EncodedFrame>& out) {
    Impl& s = *impl_;
    if (frame.width != s.cfg.capture_width || frame.height != s.cfg.capture_height)
        throw EncodeError(fmt::format("MBR: capture frame is {}x{}, expected {}x{}", frame.width, frame.height,
                                      s.cfg.capture_width, s.cfg.capture_height));
    const std::size_t luma = static_cast<std::size_t>(frame.width) * static_cast<std::size_t>(frame.height);
    if (frame.i420.size() != luma + 2 * (luma / 4))
        throw EncodeError(fmt::format("MBR: I420 frame has {} bytes, expected {}", frame.i420.size(), luma + 2 * (luma / 4)));
    s.plan(frame.pts);
    if (!s.workers.empty()) {
        {
            std::lock_guard lk(s.m);
            s.current = &frame;
            s.busy = s.workers.size();
            ++s.generation;
        }
        s.cv_start.notify_all();
        std::exception_ptr err;
        try {
            s.run_lane(s.lanes[0], frame);
        } catch (...) {
            err = std::current_exception();
        }
        std::unique_lock lk(s.m);
        s.cv_done.wait(lk, [&] { return s.busy == 0; });
        if (!err) err = s.error;
        s.error = nullptr;
        if (err) std::rethrow_exception(err);
    } else {
        for (auto& lane : s.lanes) s.run_lane(lane, frame);
    }
    for (auto& x : s.rend) {
        for (auto& f : x.out) out.push_back(std::move(f));
        x.out.clear();
    }
}

void VideoRenditions::flush(std::vector<EncodedFrame>& out) {
    for (auto& x : impl_->rend) x.encoder->flush(out);
}

std::size_t VideoRenditions::size() const { return impl_->rend.size(); }

std::size_t VideoRenditions::scaler_count() const {
    std::size_t n = 0;
    for (const auto& l : impl_->lanes) n += l.sws != nullptr;
    return n;
}

std::vector<std::uint64_t> VideoRenditions::frames_fed() const {
    std::vector<std::uint64_t> v;
    for (const auto& x : impl_->rend) v.push_back(x.fed);
    return v;
}

std::vector<std::uint64_t> VideoRenditions::keyframes_forced() const {
    std::vector<std::uint64_t> v;
    for (const auto& x : impl_->rend) v.push_back(x.forced);
    return v;
}

AudioRenditions::AudioRenditions(const AudioRenditionsConfig& config) : names_(config.names) {
    if (config.encoders.empty()) throw EncodeError("MBR: no audio encodings");
    for (const auto& c : config.encoders) encoders_.push_back(std::make_unique<AudioEncoder>(c));
}

AudioRenditions::~AudioRenditions() = default;

std::vector<Micros> AudioRenditions::frame_durations_us() const {
    std::vector<Micros> out;
    for (const auto& e : encoders_) out.push_back(e->frame_duration_us());
    return out;
}

std::vector<AudioStreamFormat> AudioRenditions::formats() const {
    std::vector<AudioStreamFormat> out;
    for (std::size_t i = 0; i < encoders_.size(); ++i) {
        AudioStreamFormat f = encoders_[i]->format();
        if (i < names_.size() && !names_[i].empty()) f.stream_name = names_[i];
        out.push_back(std::move(f));
    }
    return out;
}

void AudioRenditions::encode(const RawAudioBlock& block, std::vector<EncodedFrame>& out) {
    for (auto& e : encoders_) e->encode(block, out);
}

void AudioRenditions::flush(std::vector<EncodedFrame>& out) {
    for (auto& e : encoders_) e->flush(out);
}

std::size_t AudioRenditions::size() const { return encoders_.size(); }

}  // namespace asfcast::encode
