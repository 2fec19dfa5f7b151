// Script commands and markers for one job (issue 13): the command stream's commands from the line
// protocol (a FIFO or stdin) and a caption file, handed to the mux thread at their presentation
// times; the markers; and the listing the archive's final header gets.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/presets/presets.hpp"
#include "asfcast/script/script.hpp"

namespace asfcast::app {

class JobScript {
public:
    // `stream`: the command stream's number. Reads and parses the caption file (errors are logged
    // with their line numbers; the good cues play) and starts reading the input. Throws
    // std::runtime_error for an input that cannot be opened or a wall-clock start with a source
    // that has no capture clock.
    JobScript(const presets::ScriptCommandsPreset& preset, int stream, bool live_source);
    ~JobScript();

    // Mux thread, before each media object goes to the packetizer: `media_us` is its decode time
    // (the muxer's position), `next_packet` the number of the next packet, `origin_us` the
    // CLOCK_MONOTONIC time of media time 0 when known (live sources). Returns the command objects
    // due at or before it (stream, pts = their time, dts = media_us) and records markers.
    // A command or marker without a time takes the media time of the moment it was read: the
    // capture clock's (arrival - origin) on a live source, so it goes with the picture captured
    // when the operator sent it; the muxer's position on a file source.
    std::vector<EncodedFrame> due(Micros media_us, std::uint64_t next_packet, std::optional<Micros> origin_us);

    // A command or marker from the control API (any thread): handled as one read from the input.
    void submit(script::CommandLine c) { take(std::move(c)); }

    // What was sent and marked, for the archive's final header (any thread).
    asfmux::ScriptListing listing() const;
    std::size_t commands_sent() const;
    std::size_t markers() const;

private:
    void take(script::CommandLine c);  // input thread
    void load_captions(Micros base);

    presets::ScriptCommandsPreset preset_;
    int stream_;
    script::CaptionFile captions_;
    bool captions_pending_ = false;  // wall-clock start waiting for the media clock
    std::optional<std::int64_t> wallclock_target_us_;  // CLOCK_REALTIME of the captions' 00:00:00
    script::ScriptScheduler scheduler_;  // mux thread only
    std::size_t late_ = 0;

    mutable std::mutex mutex_;
    struct Arrived {
        script::CommandLine command;
        Micros monotonic_us = 0;  // when it was read
    };
    std::vector<Arrived> intake_;  // under mutex_
    asfmux::ScriptListing listing_;  // under mutex_
    std::unique_ptr<script::CommandInput> input_;  // last: its thread calls take()
};

}  // namespace asfcast::app
