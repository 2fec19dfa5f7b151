// The asfcast command: run a broadcast job, inspect ASF files, list presets.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asfcast/core/log.hpp"
#include "asfcast/presets/presets.hpp"
#include "inspect.hpp"
#include "job.hpp"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) {
    // First Ctrl-C stops cleanly (archive finalized); a second one ends at once.
    if (g_stop.exchange(true)) _exit(130);
}

}  // namespace

int main(int argc, char** argv) {
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
    run->add_option("--input", input_path, "encode this media file instead of the preset's source");
    run->add_flag("--fast", fast, "file input: encode as fast as possible instead of in real time");

    auto* inspect = cli.add_subcommand("inspect", "Print the ASF objects, streams and packet statistics of a file");
    std::string inspect_path;
    bool inspect_json = false;
    inspect->add_option("FILE", inspect_path, "ASF file")->required();
    inspect->add_flag("--json", inspect_json, "machine-readable output");

    auto* presets_cmd = cli.add_subcommand("presets", "List the built-in presets");

    CLI11_PARSE(cli, argc, argv);
    asfcast::init_logging(log_level);

    if (*inspect) return asfcast::app::inspect_file(inspect_path, inspect_json);

    if (*presets_cmd) {
        for (auto& [name, description] : asfcast::presets::builtin_presets())
            fmt::print("{:<16} {}\n", name, description);
        return 0;
    }

    try {
        asfcast::app::JobOptions options;
        options.preset = asfcast::presets::resolve_preset(preset_name);
        if (!input_path.empty()) {
            options.preset.source.type = "file";
            options.preset.source.path = input_path;
        }
        if (!archive_path.empty()) options.preset.outputs.archive = archive_path;
        if (duration > 0) options.duration_s = duration;
        options.fast = fast;
        options.status_line = ::isatty(STDERR_FILENO) && log_level != "off";

        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);

        asfcast::app::JobStats stats;
        spdlog::info("asfcast {}: preset '{}' ({})", ASFCAST_VERSION, options.preset.name, options.preset.origin);
        return asfcast::app::run_job(options, g_stop, stats);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
