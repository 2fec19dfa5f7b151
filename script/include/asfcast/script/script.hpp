// script: live script commands (issue 13): captions, URL, FILENAME and custom events, and markers.
//   - parse_captions: SRT and WebVTT caption files -> timed cues (errors with line numbers);
//   - parse_command_line: the line protocol read from stdin or a FIFO (`asfcast run --commands`);
//   - ScriptScheduler: what is due at a media time (plain class, used on the mux thread);
//   - CommandInput: the I/O edge, a thread reading lines from a FIFO or stdin.
// The muxer carries the commands as ASF script command payloads (asfmux CommandStreamFormat) and
// the archive lists them in its Script Command Object; markers go to the archive's Marker Object.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "asfcast/asfmux/asfmux.hpp"

namespace asfcast::script {

// ---- caption files ----

struct Cue {
    Micros start = 0;  // from the start of the file's timeline
    Micros end = 0;
    std::string text;  // markup removed, lines joined with '\n'
    int line = 0;      // where the cue's timing line is
};

struct CaptionError {
    int line = 0;
    std::string message;
};

struct CaptionFile {
    std::string format;  // "WebVTT" or "SRT"
    std::vector<Cue> cues;             // in file order, valid ones only
    std::vector<CaptionError> errors;  // each bad cue (skipped) with its line
};

inline constexpr std::size_t kMaxCues = 100000;
inline constexpr std::size_t kMaxCueText = 1024;  // bytes of caption text per cue (longer: an error)

// SRT (index line, "HH:MM:SS,mmm --> HH:MM:SS,mmm", text lines, blank line) or WebVTT (a first line
// "WEBVTT", cues of an optional identifier, "[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm [settings]", text;
// NOTE/STYLE/REGION blocks skipped). A cue that cannot be read is reported with its line number
// and skipped; the others are kept. Never throws; at most kMaxCues cues and 1000 errors.
CaptionFile parse_captions(std::string_view text);

// ---- the line protocol ----

// One line: "[@TIME ]TYPE [PARAMETER]". TYPE is CAPTION, URL, FILENAME, EVENT, TEXT, MARKER or a
// custom name of letters, digits and '_' (1..32); the built-in names are matched in any case and
// written in capitals. TIME is a media time (seconds "12.5" or "HH:MM:SS[.mmm]"); without it the
// command goes out at the media time the muxer is at. PARAMETER is the rest of the line (UTF-8,
// no control characters, at most 2048 bytes; MARKER needs one). Blank lines and lines starting
// with '#' are not commands.
struct CommandLine {
    std::optional<Micros> at;
    std::string type;
    std::string parameter;
    bool is_marker() const { return type == "MARKER"; }
};
struct LineResult {
    std::optional<CommandLine> command;  // set for a command
    std::string error;                   // set for a line that is neither a command nor blank/comment
};
LineResult parse_command_line(std::string_view line);
inline constexpr std::size_t kMaxLineBytes = 4096;

// "12.5", "90", "01:02:03.250" -> microseconds; nullopt otherwise.
std::optional<Micros> parse_media_time(std::string_view text);

// ---- scheduling ----

// Commands waiting for their presentation time. Plain class, fed media times (no clock).
class ScriptScheduler {
public:
    // Queues one command for presentation time `c.pts` (without preroll). At most kMaxPending are
    // held; beyond that add() returns false and the command is dropped (the caller says so).
    bool add(asfmux::ScriptCommand c);
    // The cues of a caption file, `base` added to their times: CAPTION text at the start, and an
    // empty CAPTION (clearing it) at the end unless the next cue starts there.
    std::size_t add_captions(const CaptionFile& f, Micros base);
    // The commands whose time is at or before `now`, in time order (ties in the order added).
    std::vector<asfmux::ScriptCommand> due(Micros now);
    std::size_t pending() const { return queue_.size(); }
    static constexpr std::size_t kMaxPending = 200000;

private:
    std::deque<asfmux::ScriptCommand> queue_;  // sorted by pts
};

// ---- the input edge ----

// Reads the line protocol from a FIFO (created with mode 0600 if it does not exist; opened so that
// writers may come and go) or from standard input ("-", read until its end), on the thread
// "asfcast-cmds". Each command goes to `on_command`; each bad line is reported to `on_error` with
// its line number, and reading goes on.
class CommandInput {
public:
    using OnCommand = std::function<void(CommandLine)>;
    using OnError = std::function<void(const std::string&)>;
    // Throws std::runtime_error when the path exists and is not a FIFO, or cannot be created/opened.
    CommandInput(std::string path, OnCommand on_command, OnError on_error);
    ~CommandInput();
    CommandInput(const CommandInput&) = delete;
    CommandInput& operator=(const CommandInput&) = delete;
    const std::string& path() const { return path_; }

private:
    void run();
    std::string path_;
    OnCommand on_command_;
    OnError on_error_;
    int fd_ = -1;
    bool created_ = false;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// `asfcast marker` / `asfcast command`: writes one protocol line to the FIFO a running broadcast
// reads. Throws std::runtime_error when nothing reads it, or the line is not a valid command.
void send_command_line(const std::string& fifo, const std::string& line);

}  // namespace asfcast::script
