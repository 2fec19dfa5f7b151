// Copying GStreamer video samples into RawVideoFrame (shared by the capture appsink and the slate).
#pragma once

#include <gst/gst.h>

#include "asfcast/core/media.hpp"

namespace asfcast::capture {

// Copies the I420 picture of `sample` (any strides and plane offsets, from its GstVideoMeta) into
// f.i420, tightly packed, and sets width/height. Returns false if the sample cannot be mapped.
bool copy_i420_frame(GstSample* sample, RawVideoFrame& f);

}  // namespace asfcast::capture
