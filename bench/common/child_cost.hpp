// What pipeline_bench, mbr_bench and rtsp_relay_bench share: running a command and measuring its CPU and
// wall time, this process's own CPU time, medians, "--flag value" argument parsing and the noisy test clip
// pipeline_bench and mbr_bench encode.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace benchutil {

struct Cost {
    double cpu = 0;   // user + system seconds of the child and its threads
    double wall = 0;
    int status = 0;   // exit status; 128 + signal when killed
};

// Runs args (args[0] looked up in PATH) to its end. With output_path, the child's stdout and stderr go to
// that file (truncated). With timeout_s > 0, a child still running after that many seconds gets SIGINT,
// then SIGKILL 10 s later (its status then says which).
Cost run_measured(const std::vector<std::string>& args, const std::string& output_path = {},
                  double timeout_s = 0);
// User + system seconds this process has used so far.
double self_cpu_seconds();
// Median of v (v must not be empty).
double median(std::vector<double> v);

// Parses "--flag value" pairs into the matching setters; an unknown flag, a flag without its value or
// --help prints usage (a whole line) to stderr and exits (status 2; 0 for --help).
using FlagSetter = std::function<void(const std::string& value)>;
void parse_flag_pairs(int argc, char** argv, const char* usage, const std::vector<std::pair<std::string, FlagSetter>>& flags);

// Has ffmpeg write `seconds` of noisy testsrc2 video of size ("1280x720") at 30 fps as a y4m file at path.
Cost make_noisy_clip(const std::string& size, int seconds, const std::string& path);

}  // namespace benchutil
