// `asfcast inspect FILE`: the ASF objects, streams and packet statistics of a file.
#pragma once

#include <string>

namespace asfcast::app {

// Prints a report (text or JSON) to stdout; returns the exit code (1 if the file is unreadable
// or not ASF; problems found inside packets are reported and also give exit code 1).
int inspect_file(const std::string& path, bool json);

}  // namespace asfcast::app
