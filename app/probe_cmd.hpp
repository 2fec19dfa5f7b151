// `asfcast probe URL`: what a network source offers (codecs, sizes, rates, audio) and what the
// preset would do with it, before going on air (issue 15, point 4).
#pragma once

#include <string>

namespace asfcast::app {

// Prints the report on stdout; returns 0, or 1 after logging why the source could not be probed.
int probe_source(const std::string& url, const std::string& preset_name, int timeout_s);

}  // namespace asfcast::app
