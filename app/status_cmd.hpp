// asfcast status: the control API's status of a running instance, for a terminal or as JSON.
#pragma once

#include <string>

namespace asfcast::app {

// `control`: [ADDR:]PORT of the instance's control port (default 127.0.0.1:8090); `token_file`:
// a file whose first line is its token (empty: none). Returns the exit status.
int print_status(const std::string& control, const std::string& token_file, bool json);

}  // namespace asfcast::app
