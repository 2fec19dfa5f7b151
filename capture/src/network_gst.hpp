// Internal: the GStreamer side of network sources, shared by the capture pipeline and the probe.
#pragma once

#include <gst/gst.h>

#include <string>

#include "asfcast/capture/capture.hpp"

namespace asfcast::capture::detail {

// Sets the source element uridecodebin (or the discoverer) made for a network URI: rtspsrc's
// transport, latency, credentials and a short TCP connect timeout; srtsrc's latency, passphrase
// and stream id. Elements of other kinds are left as they are.
void configure_network_element(GstElement* element, const SourceConfig& source);

// An error from a network source's pipeline in words the operator can act on: what failed
// (credentials refused, host unreachable, no such stream), where (the redacted URL) and what to
// check. `raw` is GStreamer's text (element: message (debug)), redacted by the caller or not:
// the result is redacted here.
std::string explain_network_error(const GError* error, const std::string& raw, const SourceConfig& source);

}  // namespace asfcast::capture::detail
