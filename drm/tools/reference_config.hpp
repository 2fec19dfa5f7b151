// The reference PlayReady packager's configuration text, for the program and shared-object
// builds (drm.config in the preset): "key=value" lines, '#' comments; keys as PlayReadySettings:
//   kid, key_file, key_seed_file, la_url, lui_url, ds_id, header_version, checksum (true|false).
// A content key is only read from a file (mode 600), never from this text.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

#include "asfcast/drm/drm.hpp"

namespace asfcast::drm::tools {

inline PlayReadySettings parse_reference_config(const std::string& text) {
    PlayReadySettings s;
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        const auto eq = line.find('=');
        if (eq == std::string::npos) throw std::invalid_argument("config line " + std::to_string(n) + ": expected key=value");
        const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
        if (k == "kid") s.kid = v;
        else if (k == "key_file") s.key_file = v;
        else if (k == "key_seed_file") s.key_seed_file = v;
        else if (k == "la_url") s.la_url = v;
        else if (k == "lui_url") s.lui_url = v;
        else if (k == "ds_id") s.ds_id = v;
        else if (k == "header_version") s.header_version = v;
        else if (k == "checksum") s.checksum = v == "true";
        else throw std::invalid_argument("config line " + std::to_string(n) + ": unknown key '" + k + "'");
    }
    return s;
}

}  // namespace asfcast::drm::tools
