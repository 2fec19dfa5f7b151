// The asfcast command: run a broadcast job, inspect ASF files, list presets.
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>
#include <tuple>
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asfcast/core/log.hpp"
#include "asfcast/presets/keys.hpp"
#include "asfcast/presets/presets.hpp"
#include "asfcast/script/script.hpp"
#include "devices_cmd.hpp"
#include "inspect.hpp"
#include "asfcast/archive/repair.hpp"
#include "job.hpp"
#include "status_cmd.hpp"
#include "job_source.hpp"
#include "probe_cmd.hpp"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};  // SIGHUP: read the preset file again

void on_reload_signal(int) { g_reload = true; }

void on_signal(int) {
    // First Ctrl-C stops cleanly (archive finalized); a second one ends at once.
    if (g_stop.exchange(true)) _exit(130);
}

// "[ADDR:]PORT" (IPv6 addresses in brackets: [::1]:8080) or "off" for OPTION: nullopt for off,
// else the address (`address` when the spec has none) and port.
std::optional<std::pair<std::string, int>> parse_address_spec(const std::string& option, const std::string& spec,
                                                              std::string address) {
    if (spec == "off" || spec == "false" || spec == "no") return std::nullopt;
    std::string port_text = spec;
    if (auto colon = spec.rfind(':'); colon != std::string::npos) {
        address = spec.substr(0, colon);
        port_text = spec.substr(colon + 1);
        if (address.size() >= 2 && address.front() == '[' && address.back() == ']')
            address = address.substr(1, address.size() - 2);
    }
    int port = -1;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535 || address.empty())
        throw std::runtime_error(option + " " + spec + ": expected [ADDR:]PORT (port 0..65535, 0 = any free port) or off");
    return std::pair{address, port};
}

// --pull [ADDR:]PORT | off.
void apply_pull_spec(const std::string& spec, asfcast::presets::PullPreset& pull) {
    const auto at = parse_address_spec("--pull", spec, pull.address);
    pull.enabled = at.has_value();
    if (at) std::tie(pull.address, pull.port) = *at;
}

// --multicast GROUP:PORT[@IFADDR] | off. An IPv6 group goes in brackets: [ff15::1]:5000@fd00::7.
// IFADDR (an address of this host or an interface name) is where the datagrams leave; without it
// they stay on the loopback. The preset's other outputs.multicast keys apply.
void apply_multicast_spec(const std::string& spec, asfcast::presets::MulticastPreset& multicast) {
    if (spec == "off" || spec == "false" || spec == "no") {
        multicast = asfcast::presets::MulticastPreset{};
        return;
    }
    const auto fail = [&] {
        throw std::runtime_error("--multicast " + spec + ": expected GROUP:PORT[@IFADDR] (e.g. 239.255.0.1:5000@10.0.0.7, "
                                 "[ff15::1]:5000@eth0) or off");
    };
    std::string rest = spec, interface;
    if (const auto at = rest.rfind('@'); at != std::string::npos) {
        interface = rest.substr(at + 1);
        rest = rest.substr(0, at);
        if (interface.empty()) fail();
    }
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) fail();
    std::string group = rest.substr(0, colon);
    const std::string port_text = rest.substr(colon + 1);
    if (group.size() >= 2 && group.front() == '[' && group.back() == ']') group = group.substr(1, group.size() - 2);
    int port = -1;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (group.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) fail();
    multicast.group = group;
    multicast.port = port;
    multicast.interface = interface;
}

// --msbd [ADDR:]PORT | off: the MS-MSBD server on an IPv4 address (default 127.0.0.1), port 0 =
// any free port. The preset's other outputs.msbd keys apply.
void apply_msbd_spec(const std::string& spec, asfcast::presets::MsbdPreset& msbd) {
    const auto at = parse_address_spec("--msbd", spec, msbd.address);
    if (at && at->first.find(':') != std::string::npos)
        throw std::runtime_error("--msbd " + spec + ": expected [IPv4-ADDR:]PORT (port 0..65535, 0 = any free port) or off");
    msbd.enabled = at.has_value();
    if (at) std::tie(msbd.address, msbd.port) = *at;
}

// --control [ADDR:]PORT | off: the control API, metrics and status page (default address 127.0.0.1).
void apply_control_spec(const std::string& spec, asfcast::presets::ControlPreset& control) {
    const auto at = parse_address_spec("--control", spec, control.address);
    control.enabled = at.has_value();
    if (at) std::tie(control.address, control.port) = *at;
}

// Thousands of pull clients need thousands of descriptors (one each): take the hard limit, at
// start, before any thread exists. Returns the soft limit now in force (0: unknown).
rlim_t raise_descriptor_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        const rlim_t before = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = before;
    }
    return rl.rlim_cur;
}

// Descriptors the job needs besides its pull clients (GStreamer, archive, push, logs, listeners).
constexpr rlim_t kDescriptorReserve = 64;

}  // namespace

int main(int argc, char** argv) {
    const rlim_t descriptor_limit = raise_descriptor_limit();
    CLI::App cli{"asfcast: live encoder and Windows Media broadcast appliance"};
    cli.require_subcommand(1);
    std::string log_level = "info";
    cli.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

    auto* run = cli.add_subcommand("run", "Capture, encode, mux and deliver a live stream");
    std::string preset_name = "default";
    std::string archive_path, input_path;
    double duration = 0;
    bool fast = false;
    run->add_option("--preset", preset_name, "built-in preset NAME or a YAML FILE (default: default)");
    run->add_option("--archive", archive_path, "archive the stream to this .wmv/.asf file");
    run->add_option("--duration", duration, "end the broadcast cleanly after SECONDS")->check(CLI::PositiveNumber);
    run->add_option("--input", input_path,
                    "encode this media file, or this rtsp://, srt:// or other URL (a live network source), instead "
                    "of the preset's source");
    run->add_flag("--fast", fast, "file input: encode as fast as possible instead of in real time");
    std::vector<std::string> push_urls;
    run->add_option("--push", push_urls,
                    "publish to a Windows Media server over MS-WMHTTP: http://server[:port]/pubpoint or "
                    "server:port/pubpoint (repeatable; credentials go in the preset's outputs.push)");
    std::string pull_spec;
    run->add_option("--pull", pull_spec,
                    "serve MS-WMSP pull (mmsh://) on [ADDR:]PORT (default 127.0.0.1:8080 from the preset), or 'off'");
    std::string msbd_spec;
    run->add_option("--msbd", msbd_spec,
                    "serve MS-MSBD (Windows Media servers over TCP) on [ADDR:]PORT (IPv4; usually 7007), or 'off'; "
                    "the rest are the preset's outputs.msbd keys");

    std::string multicast_spec;
    run->add_option("--multicast", multicast_spec,
                    "send the stream as an MS-MSB multicast to GROUP:PORT, leaving by IFADDR (an address or interface "
                    "name; without @IFADDR the loopback only), or 'off'; the .nsc path and the rest are the preset's "
                    "outputs.multicast keys");
    std::string media_clock_file;
    run->add_option("--media-clock-file", media_clock_file,
                    "write the media clock to PATH whenever it changes (live sources): 'origin_us N' is the "
                    "CLOCK_MONOTONIC time in microseconds at media time 0, so a payload with ASF presentation "
                    "time T ms was captured at N + (T - preroll_ms) * 1000; for latency measurements by clients");
    // Script commands and captions (issue 13): a command stream fed by a FIFO (or stdin) and a caption file.
    std::string commands_path, captions_spec;
    run->add_option("--commands", commands_path,
                    "read script commands ('[@TIME ]CAPTION|URL|FILENAME|EVENT|TEXT|MARKER|TYPE parameter' lines) from "
                    "this FIFO (created, mode 0600) or '-' for standard input; turns the command stream on");
    run->add_option("--captions", captions_spec,
                    "play this SRT or WebVTT file as CAPTION commands: FILE, or FILE@TIME to start its 00:00:00 at media "
                    "time TIME (seconds or HH:MM:SS.mmm); turns the command stream on");
    std::string control_spec, control_token_file;
    run->add_option("--control", control_spec,
                    "serve the control API, /metrics and the status page on [ADDR:]PORT (default address 127.0.0.1; "
                    "any other than a loopback address needs a token), or 'off'");
    run->add_option("--control-token-file", control_token_file,
                    "the control port's bearer token: the first line of this file (mode 600)");
    auto* status_cmd = cli.add_subcommand("status", "Print the status of a running asfcast (its control port)");
    std::string status_control = "127.0.0.1:8090", status_token_file;
    bool status_json = false;
    status_cmd->add_option("--control", status_control, "[ADDR:]PORT of its control port (default 127.0.0.1:8090)");
    status_cmd->add_option("--token-file", status_token_file, "a file whose first line is the control port's token");
    status_cmd->add_flag("--json", status_json, "the JSON document of GET /api/status");
    auto* marker_cmd = cli.add_subcommand("marker", "Mark the running broadcast (the archive's Marker Object lists it)");
    std::string marker_fifo, marker_name;
    marker_cmd->add_option("--commands", marker_fifo, "the FIFO of the broadcast (asfcast run --commands PATH)")->required();
    marker_cmd->add_option("NAME", marker_name, "the marker's name, e.g. \"Keynote\"")->required();
    auto* command_cmd = cli.add_subcommand("command", "Send a script command to the running broadcast");
    std::string command_fifo, command_type, command_param;
    command_cmd->add_option("--commands", command_fifo, "the FIFO of the broadcast (asfcast run --commands PATH)")->required();
    command_cmd->add_option("TYPE", command_type, "CAPTION, URL, FILENAME, EVENT, TEXT or a custom type")->required();
    command_cmd->add_option("PARAMETER", command_param, "the command's text");

    auto* inspect = cli.add_subcommand("inspect", "Print the ASF objects, streams and packet statistics of a file");
    std::string inspect_path;
    bool inspect_json = false;
    inspect->add_option("FILE", inspect_path, "ASF file")->required();
    inspect->add_flag("--json", inspect_json, "machine-readable output");

    auto* repair_cmd = cli.add_subcommand("repair", "Finalize an archive left by a crash or a power loss (index, sizes, seekable flag), in place, through a copy");
    std::string repair_path;
    bool repair_dry_run = false;
    repair_cmd->add_option("FILE", repair_path, "an archive written by asfcast")->required();
    repair_cmd->add_flag("--dry-run", repair_dry_run, "say what would be done; change nothing");

    auto* presets_cmd = cli.add_subcommand("presets", "List the built-in presets");
    bool presets_keys = false;
    std::string presets_readme;
    presets_cmd->add_flag("--keys", presets_keys, "print every preset key (type, default, reload, allowed) as Markdown");
    presets_cmd->add_option("--update-readme", presets_readme,
                            "rewrite the key tables of FILE (presets/README.md) from the key table");
    auto* devices_cmd = cli.add_subcommand("devices", "List the V4L2 video and ALSA audio capture devices");
    bool devices_json = false;
    devices_cmd->add_flag("--json", devices_json, "machine-readable output: {\"video\":[...],\"audio\":[...]}");

    auto* probe_cmd = cli.add_subcommand("probe", "Print what a network source offers and what the preset would do with it");
    std::string probe_url, probe_preset = "default";
    int probe_timeout = 10;
    probe_cmd->add_option("URL", probe_url, "rtsp://..., srt://host:port[?mode=listener], or any URI GStreamer opens")
        ->required();
    probe_cmd->add_option("--preset", probe_preset, "built-in preset NAME or a YAML FILE whose source keys apply "
                                                    "(credentials, transport, latency)");
    probe_cmd->add_option("--timeout", probe_timeout, "give up after SECONDS (default 10)")->check(CLI::Range(1, 300));

    CLI11_PARSE(cli, argc, argv);
    asfcast::init_logging(log_level);

    if (*inspect) return asfcast::app::inspect_file(inspect_path, inspect_json);

    if (*devices_cmd) return asfcast::app::list_devices(devices_json);

    if (*probe_cmd) return asfcast::app::probe_source(probe_url, probe_preset, probe_timeout);

    if (*status_cmd) return asfcast::app::print_status(status_control, status_token_file, status_json);

    if (*repair_cmd) {
        try {
            const auto r = asfcast::archive::repair_archive(repair_path, {repair_dry_run});
            if (r.already_final)
                fmt::print("{}: already finalized ({} packets, {:.1f} s); nothing to do\n", repair_path, r.packets,
                           static_cast<double>(r.play_duration) / 1e6);
            else
                fmt::print("{}: {}{} packets ({:.1f} s), {} bytes after the last whole packet dropped, {} index object(s), {} bytes\n",
                           repair_path, repair_dry_run ? "would finalize: " : "finalized: ", r.packets,
                           static_cast<double>(r.play_duration) / 1e6, r.bytes_dropped, r.index_objects, r.file_size);
            return 0;
        } catch (const std::exception& e) {
            spdlog::error("repair: {}", e.what());
            return 1;
        }
    }

    if (*marker_cmd || *command_cmd) {
        try {
            if (*marker_cmd) asfcast::script::send_command_line(marker_fifo, "MARKER " + marker_name);
            else asfcast::script::send_command_line(command_fifo, command_type + (command_param.empty() ? "" : " " + command_param));
            return 0;
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 1;
        }
    }

    if (*presets_cmd && presets_keys) {
        fmt::print("{}", asfcast::presets::all_keys_markdown());
        return 0;
    }
    if (*presets_cmd && !presets_readme.empty()) {
        try {
            std::ifstream in(presets_readme, std::ios::binary);
            if (!in) throw std::runtime_error(presets_readme + ": cannot be read: " + std::strerror(errno));
            const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
            const std::string rendered = asfcast::presets::render_key_tables(text);
            if (rendered != text) {
                std::ofstream out(presets_readme, std::ios::binary | std::ios::trunc);
                out << rendered;
                if (!out.flush()) throw std::runtime_error(presets_readme + ": cannot be written: " + std::strerror(errno));
            }
            fmt::print("{}: key tables {}\n", presets_readme, rendered == text ? "already up to date" : "rewritten");
            return 0;
        } catch (const std::exception& e) {
            spdlog::error("presets --update-readme: {}", e.what());
            return 1;
        }
    }
    if (*presets_cmd) {
        const auto list = asfcast::presets::builtin_presets();
        std::size_t width = 0;
        for (const auto& entry : list) width = std::max(width, entry.first.size());
        for (const auto& [name, description] : list) fmt::print("{:<{}}  {}\n", name, width, description);
        return 0;
    }

    try {
        asfcast::app::JobOptions options;
        // Command-line overrides win over the file, at start and at every reload (SIGHUP).
        const auto load_preset = [&] {
            asfcast::presets::Preset preset = asfcast::presets::resolve_preset(preset_name);
            if (!input_path.empty()) {
                asfcast::app::apply_input(input_path, preset.source);
            }
            if (!archive_path.empty()) preset.outputs.archive = archive_path;
            if (!pull_spec.empty()) apply_pull_spec(pull_spec, preset.outputs.pull);
            if (!msbd_spec.empty()) apply_msbd_spec(msbd_spec, preset.outputs.msbd);
            if (!multicast_spec.empty()) apply_multicast_spec(multicast_spec, preset.outputs.multicast);
            if (!control_spec.empty()) apply_control_spec(control_spec, preset.control);
            if (!control_token_file.empty()) {
                preset.control.token_file = control_token_file;
                preset.control.token.clear();
            }
            for (const auto& url : push_urls) {
                asfcast::presets::PushTargetPreset target;
                target.url = url;
                preset.outputs.push.targets.push_back(std::move(target));
            }
            if (!commands_path.empty()) {
                preset.script_commands.enabled = true;
                preset.script_commands.input = commands_path;
            }
            if (!captions_spec.empty()) {
                preset.script_commands.enabled = true;
                std::string file = captions_spec;
                if (const auto at = captions_spec.rfind('@'); at != std::string::npos) {
                    const auto t = asfcast::script::parse_media_time(captions_spec.substr(at + 1));
                    if (!t) throw std::runtime_error("--captions " + captions_spec + ": '" + captions_spec.substr(at + 1) +
                                                     "' is not a media time (seconds or HH:MM:SS.mmm)");
                    file = captions_spec.substr(0, at);
                    preset.script_commands.captions_start_us = *t;
                    preset.script_commands.captions_wallclock.clear();
                }
                preset.script_commands.captions = file;
            }
            asfcast::presets::check_packet_size_for_outputs(preset, preset.origin);
            return preset;
        };
        options.preset = load_preset();
        // The command line may have added outputs (--push, --pull, --msbd, --multicast): the packet
        // size must fit them too (issue 11).
        asfcast::presets::check_packet_size_for_outputs(options.preset, options.preset.origin);
        if (duration > 0) options.duration_s = duration;
        options.fast = fast;
        options.media_clock_file = media_clock_file;
        options.status_line = ::isatty(STDERR_FILENO) && log_level != "off";

        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);

        if (const auto& pull = options.preset.outputs.pull; pull.enabled && descriptor_limit != 0 &&
                                                             descriptor_limit != RLIM_INFINITY &&
                                                             descriptor_limit < static_cast<rlim_t>(pull.max_clients) + kDescriptorReserve)
            spdlog::warn("the open file limit is {}: about {} pull clients can connect, not the {} of "
                         "outputs.pull.max_clients; raise it (LimitNOFILE= in the systemd unit, ulimit -Hn in a shell)",
                         static_cast<unsigned long long>(descriptor_limit),
                         static_cast<unsigned long long>(descriptor_limit > kDescriptorReserve ? descriptor_limit - kDescriptorReserve : 0),
                         pull.max_clients);
        asfcast::app::JobStats stats;
        spdlog::info("asfcast {}: preset '{}' ({})", ASFCAST_VERSION, options.preset.name, options.preset.origin);
        // SIGHUP reloads: the preset is read and validated again on this thread, never in the
        // signal handler; an invalid one changes nothing.
        asfcast::app::JobReloader reloader_entry;
        options.reloader = &reloader_entry;
        options.load_preset = load_preset;  // the control API's reload action
        struct sigaction hup {};
        hup.sa_handler = on_reload_signal;
        sigemptyset(&hup.sa_mask);
        sigaction(SIGHUP, &hup, nullptr);
        std::atomic<bool> job_done{false};
        std::thread reloader([&] {
            while (!job_done) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                if (!g_reload.exchange(false)) continue;
                asfcast::app::ReloadResult r;
                try {
                    spdlog::info("reload: reading {} again (SIGHUP)", preset_name);
                    r = reloader_entry.reload(load_preset());
                } catch (const std::exception& e) {
                    r.error = e.what();
                }
                asfcast::app::log_reload(r);
            }
        });
        struct JoinReloader {
            std::atomic<bool>& done;
            std::thread& thread;
            ~JoinReloader() {
                done = true;
                thread.join();
            }
        } join_reloader{job_done, reloader};
        return asfcast::app::run_job(options, g_stop, stats);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
