#include "asfcast/core/thread_name.hpp"
#include "asfcast/capture/live_source.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>

#include "asfcast/core/clock.hpp"

namespace asfcast::capture {
namespace {

constexpr Micros kUnset = std::numeric_limits<Micros>::min();
// A source that started but has not delivered anything gets this long (on top of the loss
// timeout) before it counts as lost again: pipelines take a moment to negotiate and preroll.
constexpr Micros kFirstMediaGrace = 3'000'000;
// Repeated identical attach failures are logged again after this long.
constexpr Micros kRepeatFailureLog = 300'000'000;
// Audio this far ahead of the system clock comes from a source faster than real time: dropped.
constexpr Micros kMaxAhead = 500'000;
// A live source that delivers one kind of media only (a camera without audio; video still waiting
// for the sender's next key frame while its audio flows): once one time line has run this long,
// the filler starts the other (silence, the slate) so that downstream gets both from the start.
constexpr Micros kOtherLineStart = 500'000;

}  // namespace

std::string to_string(SourceState s) {
    switch (s) {
        case SourceState::starting: return "starting";
        case SourceState::live: return "live";
        case SourceState::holding: return "holding";
        case SourceState::lost: return "lost";
        case SourceState::stopped: return "stopped";
    }
    return "?";
}

struct LiveSource::Impl : std::enable_shared_from_this<Impl> {
    RawFormat format;
    LossPolicy policy;
    MediaSourceFactory factory;
    CaptureCallbacks down;
    bool correct_drift;

    Micros frame_us = 33'333;
    Micros fill_lag_us = 300'000;  // filler keeps this far behind real time (late media still fits)
    RawVideoFrame slate;
    std::atomic<Micros> origin{kUnset};  // monotonic time of time-line 0

    // Attach state.
    mutable std::mutex m;
    std::condition_variable cv;
    std::unique_ptr<MediaSource> src;
    std::atomic<MediaSource*> current{nullptr};
    std::atomic<std::uint64_t> gen{0};
    SourceState state = SourceState::starting;
    bool delivering = false;          // the current source delivered media since it attached
    Micros attached_at = 0;           // monotonic
    std::atomic<Micros> last_arrival{0};  // monotonic, of the current source's media
    bool source_ended = false;        // on_end/on_error from the current source
    std::string end_reason;
    bool end_is_error = false;
    Micros next_attempt = 0;
    std::string last_failure;
    Micros last_failure_logged = 0;
    std::uint64_t attempts_since_loss = 0;
    std::uint64_t failed_in_a_row = 0;  // attach attempts since the source last delivered
    LiveSourceStatus st;  // counters below are kept apart: they change under the time line locks
    std::atomic<std::uint64_t> filler_frames{0}, silence_frames{0}, late_frames{0}, ahead_frames{0};
    bool quit = false;
    std::atomic<bool> ended_downstream{false};
    std::atomic<bool> warned_timestamps{false};

    // Video time line.
    std::mutex vm;
    bool video_started = false;
    std::atomic<Micros> video_line_start{kUnset};  // time-line time of the first video frame
    Micros last_vpts = 0;
    RawVideoFrame held;
    bool have_held = false;
    bool video_snap = true;   // the next source frame re-phases onto the grid (after an attach or a fill)
    Micros video_shift = 0;   // added to the current source's video times to stay on the grid
    // video.codec copy: the source's access units keep their own times (an encoded picture cannot
    // be moved onto a grid or repeated); only the slate fills, and only while the source is lost.
    bool copy = false;
    Micros last_vdts = kUnset;  // of the last video handed down (copy: the decode order must not go back)
    // Copy: the units' decode times are put on a grid of their frame period (as raw frames are on
    // the frame grid): a source re-attached hands its first pictures on faster or slower while its
    // jitter buffer settles, and a player showing a constant rate would get two in one slot.
    Micros grid_base = 0;
    std::int64_t grid_n = 0;
    Micros grid_period = 0;

    // Audio time line: audio_pos is the next sample's position (samples at format.sample_rate).
    std::mutex am;
    std::unique_ptr<AudioDriftCorrector> drift;
    bool audio_started = false;
    std::atomic<Micros> audio_line_start{kUnset};  // time-line time of the first audio sample
    std::int64_t audio_pos = 0;
    bool audio_align = true;          // the next source block realigns the time line
    std::int64_t drop_pending = 0;    // source samples still to drop (overlap after filling)
    std::vector<std::int16_t> corrected;
    // audio.codec copy: silence handed down since the last AAC frame starts at silence_from
    // (samples); the next frame pads it to whole AAC frames (the silence is encoded as AAC
    // downstream, whole frames stamped one after the other) and goes on right after it.
    bool audio_copy = false;
    bool silence_open = false;
    std::int64_t silence_from = 0;

    std::thread supervisor;
    std::thread filler;

    Impl(RawFormat f, LossPolicy p, MediaSourceFactory fac, CaptureCallbacks d, bool drift_ok)
        : format(f), policy(std::move(p)), factory(std::move(fac)), down(std::move(d)), correct_drift(drift_ok) {
        copy = format.video && format.video_copy;
        audio_copy = format.audio && format.audio_copy;
        if (format.video) {
            frame_us = std::max<Micros>(1, static_cast<Micros>(1e6 * format.fps_den / format.fps_num));
            fill_lag_us = std::max<Micros>(fill_lag_us, 4 * frame_us);
        }
        if (format.audio)
            drift = std::make_unique<AudioDriftCorrector>(format.sample_rate, format.channels,
                                                          correct_drift && policy.drift_correction);
    }

    Micros now_line() const {
        const Micros o = origin.load();
        return o == kUnset ? kUnset : monotonic_us() - o;
    }

    // ---- downstream emission (each time line under its own lock) ----

    void emit_video(RawVideoFrame&& f) {
        if (down.on_video) down.on_video(std::move(f));
    }

    void emit_filler_video_locked(Micros pts, bool slate_only) {
        RawVideoFrame f;
        f.width = format.width;
        f.height = format.height;
        f.pts = pts;
        f.i420 = (!slate_only && have_held) ? held.i420 : slate.i420;
        if (f.i420.empty()) f.i420.assign(static_cast<std::size_t>(format.width) * format.height * 3 / 2, 16);
        last_vpts = pts;
        last_vdts = pts;
        ++filler_frames;
        emit_video(std::move(f));
    }

    void emit_audio_locked(const std::int16_t* data, std::size_t frames) {
        if (frames == 0) return;
        const auto ch = static_cast<std::size_t>(format.channels);
        Micros pts = static_cast<Micros>(audio_pos * 1'000'000 / format.sample_rate) + policy.av_offset_us;
        std::size_t skip = 0;
        if (pts < 0) {  // a negative A/V offset at the very start: nothing before time 0
            skip = std::min<std::size_t>(frames, static_cast<std::size_t>((-pts * format.sample_rate + 999'999) / 1'000'000));
            audio_pos += static_cast<std::int64_t>(skip);
            pts = static_cast<Micros>(audio_pos * 1'000'000 / format.sample_rate) + policy.av_offset_us;
            if (skip == frames) return;
        }
        RawAudioBlock b;
        b.pts = pts;
        b.sample_rate = format.sample_rate;
        b.channels = format.channels;
        b.samples.assign(data + skip * ch, data + frames * ch);
        audio_pos += static_cast<std::int64_t>(frames - skip);
        if (down.on_audio) down.on_audio(std::move(b));
    }

    void emit_silence_locked(std::size_t frames) {
        static thread_local std::vector<std::int16_t> zeros;
        zeros.assign(frames * static_cast<std::size_t>(format.channels), 0);
        silence_frames += frames;
        if (audio_copy && !silence_open) {
            silence_open = true;
            silence_from = audio_pos;
        }
        emit_audio_locked(zeros.data(), frames);
    }

    // ---- source callbacks (GStreamer streaming threads) ----

    // Media from attach generation g arrived: the first one marks the source as delivering.
    bool arrived(std::uint64_t g) {
        if (g != gen.load()) return false;
        last_arrival = monotonic_us();
        MediaSource* s = current.load();
        Micros expected = kUnset;
        if (s && origin.load() == kUnset) origin.compare_exchange_strong(expected, s->clock_base_us());
        std::unique_lock lk(m);
        if (g != gen.load()) return false;
        if (!delivering) {
            delivering = true;
            failed_in_a_row = 0;
            const bool back = st.losses > 0;
            state = SourceState::live;
            if (back) {
                ++st.reattaches;
                st.last_event = "source back: " + (s ? s->description() : std::string("?"));
                spdlog::info("capture: the source is back (attempt {} since it was lost); slate off", attempts_since_loss);
            }
        } else if (state == SourceState::holding) {
            state = SourceState::live;
        }
        return true;
    }

    Micros map_pts(Micros source_pts) const {
        MediaSource* s = current.load();
        return source_pts + (s ? s->clock_base_us() : 0) - origin.load();
    }

    // A timestamp more than a second away from when the media arrived is not a capture time
    // (a driver stamping with another clock, ALSA's null device stamping wall-clock time): the
    // arrival time, less the media's own duration, is the better estimate then.
    Micros sane_pts(Micros mapped, Micros duration_us, const char* what) {
        const Micros estimate = monotonic_us() - origin.load() - duration_us;
        if (std::abs(mapped - estimate) <= 1'000'000) return mapped;
        if (!warned_timestamps.exchange(true))
            spdlog::warn("capture: {} timestamps are {:.1f} s away from the system clock; using arrival times", what,
                         (mapped - estimate) / 1e6);
        return estimate;
    }

    void on_source_video(std::uint64_t g, RawVideoFrame&& f) {
        if (!arrived(g)) return;
        Micros pts = sane_pts(map_pts(f.pts), 0, "video");
        std::lock_guard lk(vm);
        if (g != gen.load()) return;
        if (!video_started) {
            video_started = true;
            video_line_start = pts;
            last_vpts = pts - frame_us;
        }
        if (video_snap) {
            // The first frame after an attach or a fill: its phase need not match the grid the
            // fill kept (a frame 1/2 period after the last one would show as two frames in one
            // slot to a constant-rate player). Fill the whole periods of the gap, then shift this
            // source's frames onto the grid (by under half a period) until the next gap.
            const Micros gap = pts - last_vpts;
            if (gap < frame_us / 2) {  // the time line has already passed it
                ++late_frames;
                return;
            }
            const Micros periods = std::max<Micros>(1, (gap + frame_us / 2) / frame_us);
            for (Micros i = 1; i < periods && i < 1000; ++i) emit_filler_video_locked(last_vpts + frame_us, false);
            video_shift = last_vpts + frame_us - pts;
            video_snap = false;
        }
        pts += video_shift;
        if (pts < last_vpts + frame_us / 2) {  // the time line has already passed it
            ++late_frames;
            return;
        }
        // A frame the source skipped: fill its slot on the grid.
        for (int i = 0; pts - last_vpts > frame_us * 3 / 2 && i < 1000; ++i)
            emit_filler_video_locked(last_vpts + frame_us, false);
        held.width = f.width;
        held.height = f.height;
        held.i420.assign(f.i420.begin(), f.i420.end());
        have_held = true;
        f.pts = pts;
        last_vpts = pts;
        emit_video(std::move(f));
    }

    // video.codec copy: an access unit keeps its time (mapped onto the time line); one whose decode
    // time does not come after what was handed down (the slate ran past it) is dropped as late.
    void on_source_coded(std::uint64_t g, EncodedFrame&& f) {
        if (!arrived(g)) return;
        const Micros mapped = map_pts(f.pts);
        const Micros pts = sane_pts(mapped, 0, "video");
        const Micros shift = pts - mapped;  // the same for the decode time
        std::lock_guard lk(vm);
        if (g != gen.load()) return;
        f.pts = pts;
        f.dts = std::min(map_pts(f.dts) + shift, pts);
        if (!video_started) {
            video_started = true;
            video_line_start = pts;
            last_vpts = pts - frame_us;
        }
        if (video_snap && last_vdts != kUnset) {
            // The first unit after the slate: the slate fills the whole periods up to it, and it
            // is moved (by under half a period) onto the slate's grid, so the picture rate goes on
            // without a gap (a player guessing a constant rate would otherwise misplace pictures).
            const Micros gap = f.dts - last_vpts;
            if (gap >= frame_us / 2) {
                const Micros periods = (gap + frame_us / 2) / frame_us;
                for (Micros i = 1; i < periods && i < 1000; ++i) emit_filler_video_locked(last_vpts + frame_us, true);
                const Micros to_grid = last_vpts + frame_us - f.dts;
                f.dts += to_grid;
                f.pts += to_grid;
            }
        }
        const Micros period = f.duration > 0 ? f.duration : frame_us;
        if (video_snap || period != grid_period) {  // after an attach or the slate: a new grid from here
            grid_base = f.dts;
            grid_n = 0;
            grid_period = period;
        } else if (grid_n >= 0) {
            const std::int64_t n = std::max<std::int64_t>(grid_n + 1, (f.dts - grid_base + period / 2) / period);
            const Micros snapped = grid_base + n * period;
            if (snapped - f.dts > 4 * period) {
                // The source runs faster than its frame period says: its own times from here on
                // (kept in order below), until the next attach.
                grid_n = -1;
                spdlog::warn("capture: the source's pictures come faster than their frame period ({} us); "
                             "their own times are kept",
                             period);
            } else {
                f.pts += snapped - f.dts;
                f.dts = snapped;
                grid_n = n;
            }
        }
        if (grid_n < 0 && last_vdts != kUnset && f.dts < last_vdts + 1000) {
            f.pts += last_vdts + 1000 - f.dts;
            f.dts = last_vdts + 1000;
        }
        // The slate ran past it (the first units after an attach), or ASF's millisecond times
        // would not keep it after the last one.
        if (last_vdts != kUnset && f.dts < last_vdts + 1000) {
            ++late_frames;
            return;
        }
        video_snap = false;
        last_vdts = f.dts;
        last_vpts = std::max(last_vpts, f.pts);
        if (down.on_coded_video) down.on_coded_video(std::move(f));
    }

    void on_source_audio(std::uint64_t g, RawAudioBlock&& b) {
        if (!arrived(g)) return;
        if (b.sample_rate != format.sample_rate || b.channels != format.channels) return;  // never: caps fixed
        const Micros pts =
            sane_pts(map_pts(b.pts), static_cast<Micros>(b.frames() * 1'000'000 / static_cast<std::size_t>(format.sample_rate)),
                     "audio");
        std::lock_guard lk(am);
        if (g != gen.load()) return;
        corrected.clear();
        drift->push(b.samples.data(), b.frames(), monotonic_us(), corrected);
        const auto ch = static_cast<std::size_t>(format.channels);
        std::size_t frames = corrected.size() / ch;
        std::size_t first = 0;
        if (audio_align) {
            audio_align = false;
            const auto target = static_cast<std::int64_t>(std::llround(static_cast<double>(pts) * format.sample_rate / 1e6));
            if (!audio_started) {
                audio_started = true;
                audio_line_start = pts;
                audio_pos = target;
            } else if (target > audio_pos) {
                emit_silence_locked(static_cast<std::size_t>(target - audio_pos));
            } else {
                drop_pending = audio_pos - target;
            }
        }
        // A source delivering faster than real time (a broken device; ALSA's null PCM) is clipped
        // to real time instead of running the time line into the future.
        const Micros line_now = monotonic_us() - origin.load();
        if (audio_pos * 1'000'000 / format.sample_rate > line_now + kMaxAhead) {
            ahead_frames += frames;
            return;
        }
        if (drop_pending > 0) {
            const auto n = std::min<std::int64_t>(drop_pending, static_cast<std::int64_t>(frames));
            first = static_cast<std::size_t>(n);
            drop_pending -= n;
        }
        emit_audio_locked(corrected.data() + first * ch, frames - first);
    }

    // audio.codec copy: an AAC frame keeps its time (mapped onto the time line, as on_source_coded
    // does for video), put on the sample grid after the last one (below). The audio time line's
    // position moves to the frame's end, so that the filler's silence (encoded as AAC downstream)
    // goes on from there while the source is late or lost; a frame that does not come after the
    // last one handed down (the silence ran past it) is dropped.
    void on_source_coded_audio(std::uint64_t g, EncodedFrame&& f) {
        if (!arrived(g)) return;
        const Micros duration = f.duration > 0 ? f.duration : 1024 * 1'000'000 / format.sample_rate;
        const Micros pts = sane_pts(map_pts(f.pts), duration, "audio");
        std::lock_guard lk(am);
        if (g != gen.load()) return;
        const std::int64_t start = static_cast<std::int64_t>(std::llround(static_cast<double>(pts) * format.sample_rate / 1e6));
        // In samples, rounded: GStreamer's 21333 us of a 48 kHz frame are 1024 samples, not 1023.
        const std::int64_t length =
            std::max<std::int64_t>(1, std::llround(static_cast<double>(duration) * format.sample_rate / 1e6));
        // Frames follow each other on the sample grid (a frame's samples are fixed: its time can
        // only say where it starts). A source's times wander a little (rtpjitterbuffer hands on
        // the first second of a stream about 10% fast while it estimates the clock skew): a frame
        // within two frames of where the last one ended goes right there; one further before it
        // (the silence or the frames before it cover its time) is dropped as late; one further
        // after it starts at its own time (a gap the source left).
        // After silence (the source was late or lost; the filler keeps fill_lag_us behind real
        // time, so a source that is back is usually ahead of it) or a gap, silence goes on up to
        // the frame's time, padded to whole AAC frames from where it began, and the frame right
        // after it: the audio stream steps one frame at a time throughout.
        const std::int64_t tolerance = 2 * length;
        std::int64_t at = start;
        const Micros line_now = monotonic_us() - origin.load();
        if (pts > line_now + kMaxAhead) {
            ++ahead_frames;
            return;
        }
        if (!audio_started) {
            audio_started = true;
            audio_line_start = pts;
        } else if (start < audio_pos - tolerance) {
            ++late_frames;
            return;
        } else {
            if (silence_open || start > audio_pos + tolerance) {
                const std::int64_t from = silence_open ? silence_from : audio_pos;
                const std::int64_t target = std::max(audio_pos, start);
                const std::int64_t padded_end = from + (target - from + length - 1) / length * length;
                if (padded_end > audio_pos) emit_silence_locked(static_cast<std::size_t>(padded_end - audio_pos));
            }
            at = audio_pos;
        }
        silence_open = false;
        audio_align = false;
        audio_pos = at + length;
        f.pts = f.dts = static_cast<Micros>(at * 1'000'000 / format.sample_rate) + policy.av_offset_us;
        if (f.pts < 0) return;  // a negative A/V offset at the very start: nothing before time 0
        if (down.on_coded_audio) down.on_coded_audio(std::move(f));
    }

    void on_source_end(std::uint64_t g, bool error, const std::string& why) {
        std::lock_guard lk(m);
        if (g != gen.load() || source_ended) return;
        source_ended = true;
        end_is_error = error;
        end_reason = why;
        cv.notify_all();
    }

    // ---- attach / detach (supervisor thread, and start()) ----

    // Starts a fresh source. Returns an empty string on success, else why it failed.
    std::string attach() {
        const std::uint64_t g = gen.fetch_add(1) + 1;
        std::weak_ptr<Impl> weak = weak_from_this();
        CaptureCallbacks cb;
        cb.on_video = [weak, g](RawVideoFrame&& f) {
            if (auto self = weak.lock()) self->on_source_video(g, std::move(f));
        };
        cb.on_audio = [weak, g](RawAudioBlock&& b) {
            if (auto self = weak.lock()) self->on_source_audio(g, std::move(b));
        };
        cb.on_coded_video = [weak, g](EncodedFrame&& f) {
            if (auto self = weak.lock()) self->on_source_coded(g, std::move(f));
        };
        cb.on_coded_audio = [weak, g](EncodedFrame&& f) {
            if (auto self = weak.lock()) self->on_source_coded_audio(g, std::move(f));
        };
        cb.on_end = [weak, g] {
            if (auto self = weak.lock()) self->on_source_end(g, false, "the source ended");
        };
        cb.on_error = [weak, g](const std::string& msg) {
            if (auto self = weak.lock()) self->on_source_end(g, true, msg);
        };
        std::unique_ptr<MediaSource> s;
        try {
            s = factory(std::move(cb));
            {
                std::lock_guard lk(m);
                delivering = false;
                source_ended = false;
                attached_at = monotonic_us();
            }
            // The new source's first media realigns both time lines; set before start(), since
            // media may flow while start() still waits for the pipeline.
            {
                std::lock_guard la(am);
                audio_align = true;
                drop_pending = 0;
                if (drift) drift->restart();
            }
            {
                std::lock_guard lv(vm);
                video_snap = true;
            }
            current = s.get();
            s->start();
        } catch (const std::exception& e) {
            current = nullptr;
            gen.fetch_add(1);  // whatever it managed to deliver is ignored
            if (s) s->abort();
            return e.what();
        }
        std::lock_guard lk(m);
        src = std::move(s);
        return {};
    }

    // The wait before the next attempt: the interval, doubled for each attempt that failed in a
    // row up to reattach_max_interval_us.
    Micros retry_delay() const {
        const Micros base = policy.reattach_interval_us;
        const Micros cap = std::max(base, policy.reattach_max_interval_us);
        Micros d = base;
        for (std::uint64_t i = 1; i < failed_in_a_row && d < cap; ++i) d *= 2;
        return std::min(d, cap);
    }

    // Logs a failed attempt once per distinct reason (again after kRepeatFailureLog).
    void log_attempt_failure(const std::string& failure, Micros now) {
        if (failure != last_failure || now - last_failure_logged > kRepeatFailureLog) {
            spdlog::warn("capture: the source cannot start yet: {} (next attempt in {:.1f} s)", failure,
                         retry_delay() / 1e6);
            last_failure = failure;
            last_failure_logged = now;
        }
    }

    // Takes the current source off (supervisor thread; m held by the caller through `lk`).
    void detach(std::unique_lock<std::mutex>& lk, const std::string& why) {
        if (state == SourceState::lost && !delivering) {
            // A re-attach attempt that started but failed later (a network source connects after
            // start(): refused credentials, unreachable host): one more failed attempt, not a
            // new loss; the slate is on air already.
            gen.fetch_add(1);
            std::unique_ptr<MediaSource> old = std::move(src);
            current = nullptr;
            ++failed_in_a_row;
            ++st.attach_failures;
            const Micros now = monotonic_us();
            next_attempt = now + retry_delay();
            log_attempt_failure(why, now);
            lk.unlock();
            if (old) old->abort();
            old.reset();
            lk.lock();
            return;
        }
        gen.fetch_add(1);
        Micros unset = kUnset;
        origin.compare_exchange_strong(unset, monotonic_us());  // nothing ever came: the slate starts now
        std::unique_ptr<MediaSource> old = std::move(src);
        current = nullptr;
        state = SourceState::lost;
        ++st.losses;
        attempts_since_loss = 0;
        st.last_event = "source lost: " + why;
        const Micros now = monotonic_us();
        next_attempt = now + policy.reattach_interval_us;
        lk.unlock();
        spdlog::warn("capture: source lost ({}); the slate is on air, trying again every {:.1f} s", why,
                     policy.reattach_interval_us / 1e6);
        if (old) old->abort();
        old.reset();
        {
            std::lock_guard lv(vm);
            have_held = false;  // from here on, and in the gap before the source is back: the slate
        }
        lk.lock();
    }

    void end_downstream(bool error, const std::string& why) {
        if (ended_downstream.exchange(true)) return;
        if (error) {
            if (down.on_error) down.on_error(why);
        } else if (down.on_end) {
            down.on_end();
        }
    }

    void supervise() {
        set_thread_name("asfcast-live-sup");
        std::unique_lock lk(m);
        while (!quit) {
            cv.wait_for(lk, std::chrono::milliseconds(20));
            if (quit) break;
            const Micros now = monotonic_us();
            if (src) {
                std::string why;
                if (source_ended) {
                    why = end_reason;
                } else if (delivering && now - last_arrival.load() > policy.loss_timeout_us) {
                    why = fmt::format("no media for {:.1f} s", (now - last_arrival.load()) / 1e6);
                } else if (!delivering && !src->waits_for_sender() &&
                           now - attached_at > policy.loss_timeout_us + kFirstMediaGrace) {
                    why = fmt::format("started but delivered nothing for {:.1f} s", (now - attached_at) / 1e6);
                }
                if (why.empty()) continue;
                if (!policy.slate) {
                    state = SourceState::stopped;
                    const bool error = end_is_error || !source_ended;
                    lk.unlock();
                    end_downstream(error, why);
                    lk.lock();
                    break;
                }
                detach(lk, why);
                continue;
            }
            if (state == SourceState::lost && now >= next_attempt) {
                ++attempts_since_loss;
                lk.unlock();
                const std::string failure = attach();
                lk.lock();
                if (failure.empty()) {
                    if (!delivering) spdlog::info("capture: the source started again; waiting for its media");
                    continue;
                }
                ++st.attach_failures;
                ++failed_in_a_row;
                next_attempt = monotonic_us() + retry_delay();
                log_attempt_failure(failure, now);
            }
        }
    }

    // Keeps both time lines moving while the source is late or lost.
    void fill() {
        set_thread_name("asfcast-live-fill");
        while (true) {
            {
                std::lock_guard lk(m);
                if (quit) return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            const Micros line = now_line();
            if (line == kUnset) continue;
            const Micros until = line - fill_lag_us;
            SourceState s;
            {
                std::lock_guard lk(m);
                s = state;
            }
            const bool lost = s == SourceState::lost || s == SourceState::starting;
            bool filled = false;
            if (format.video) {
                std::lock_guard lk(vm);
                const Micros audio_began = audio_line_start.load();
                if (!video_started && (lost || (audio_began != kUnset && until - audio_began >= kOtherLineStart))) {
                    video_started = true;
                    last_vpts = std::max<Micros>(0, until) - frame_us;
                    video_line_start = last_vpts + frame_us;
                }
                // Copy: a late source's pictures cannot be held (players hold the last one); the
                // slate goes on only once it is lost.
                for (int i = 0; video_started && (lost || !copy) && last_vpts + frame_us <= until && i < 1000; ++i) {
                    emit_filler_video_locked(last_vpts + frame_us, lost);
                    video_snap = true;
                    filled = true;
                }
            }
            if (format.audio) {
                std::lock_guard lk(am);
                const Micros video_began = video_line_start.load();
                if (!audio_started && (lost || (video_began != kUnset && until - video_began >= kOtherLineStart))) {
                    audio_started = true;
                    audio_pos = std::max<std::int64_t>(0, until) * format.sample_rate / 1'000'000;
                    audio_line_start = std::max<Micros>(0, until);
                }
                const std::int64_t target = until * format.sample_rate / 1'000'000;
                if (audio_started && target > audio_pos) {
                    emit_silence_locked(static_cast<std::size_t>(target - audio_pos));
                    audio_align = true;  // late source audio must not land after the silence
                    filled = true;
                }
            }
            if (filled) {
                std::lock_guard lk(m);
                if (state == SourceState::live) {
                    state = SourceState::holding;
                    spdlog::debug("capture: source late; holding the last picture");
                }
            }
        }
    }
};

LiveSource::LiveSource(RawFormat format, LossPolicy policy, MediaSourceFactory factory, CaptureCallbacks downstream,
                       bool correct_drift)
    : impl_(std::make_shared<Impl>(format, std::move(policy), std::move(factory), std::move(downstream),
                                   correct_drift)) {}

LiveSource::~LiveSource() {
    try {
        stop();
    } catch (...) {
    }
}

void LiveSource::start() {
    Impl& d = *impl_;
    if (d.format.video && d.policy.slate)
        d.slate = render_slate(d.format.width, d.format.height, d.policy.slate_image, d.policy.slate_text);
    const std::string failure = d.attach();
    if (failure.empty()) {
        std::lock_guard lk(d.m);
        if (d.src && d.src->waits_for_sender()) {
            // A listener may wait minutes for its sender: the time line (and the slate) starts now.
            Micros expected = kUnset;
            d.origin.compare_exchange_strong(expected, monotonic_us());
        }
    }
    if (!failure.empty()) {
        if (!d.policy.slate) throw CaptureError(failure);
        spdlog::error("capture: the source cannot start: {}. Broadcasting the slate; trying again every {:.1f} s",
                      failure, d.policy.reattach_interval_us / 1e6);
        Micros expected = kUnset;
        d.origin.compare_exchange_strong(expected, monotonic_us());
        std::lock_guard lk(d.m);
        d.state = SourceState::lost;
        ++d.st.losses;
        ++d.st.attach_failures;
        d.failed_in_a_row = 1;
        d.st.last_event = "source missing at start: " + failure;
        d.last_failure = failure;
        d.last_failure_logged = monotonic_us();
        d.next_attempt = monotonic_us() + d.policy.reattach_interval_us;
    }
    d.supervisor = std::thread([&d] { d.supervise(); });
    d.filler = std::thread([&d] { d.fill(); });
}

void LiveSource::stop() {
    Impl& d = *impl_;
    {
        std::lock_guard lk(d.m);
        if (d.state == SourceState::stopped && !d.supervisor.joinable() && d.ended_downstream) return;
        d.quit = true;
    }
    d.cv.notify_all();
    if (d.supervisor.joinable()) d.supervisor.join();
    if (d.filler.joinable()) d.filler.join();
    std::unique_ptr<MediaSource> s;
    bool delivered = false;
    {
        std::lock_guard lk(d.m);
        s = std::move(d.src);
        delivered = d.delivering;
        d.state = SourceState::stopped;
    }
    // Drains: the last frames still reach downstream through the callbacks. A source that never
    // delivered (a listener still waiting for its sender) has nothing to drain, and an end of
    // stream pushed into its empty decoder is only an error on the bus.
    if (s && delivered) s->stop();
    else if (s) s->abort();
    d.gen.fetch_add(1);
    d.current = nullptr;
    d.end_downstream(false, {});
}

LiveSourceStatus LiveSource::status() const {
    Impl& d = *impl_;
    LiveSourceStatus out;
    {
        std::lock_guard lk(d.m);
        out = d.st;
        out.state = d.state;
        out.filler_frames = d.filler_frames.load();
        out.silence_frames = d.silence_frames.load();
        out.late_frames = d.late_frames.load();
        out.ahead_frames = d.ahead_frames.load();
    }
    if (d.drift) {
        std::lock_guard lk(d.am);
        out.drift = d.drift->stats();
    }
    return out;
}

std::string LiveSource::description() const {
    Impl& d = *impl_;
    std::lock_guard lk(d.m);
    if (d.src) return d.src->description();
    return d.st.last_event.empty() ? "no source" : d.st.last_event;
}

}  // namespace asfcast::capture
