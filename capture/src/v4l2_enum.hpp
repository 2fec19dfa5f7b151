// Private: V4L2 format enumeration over an injectable ioctl, so unit tests can play drivers that
// answer oddly (endless lists, stepwise ranges, no enumeration at all).
#pragma once

#include <functional>

#include "asfcast/capture/devices.hpp"

namespace asfcast::capture::detail {

// ioctl(request, arg) on an open V4L2 node: 0 on success, -1 (errno set) on failure.
using V4l2Ioctl = std::function<int(unsigned long request, void* arg)>;

// Fills dev.formats for buffer type `buf_type` (V4L2_BUF_TYPE_VIDEO_CAPTURE or _MPLANE) with
// VIDIOC_ENUM_FMT / ENUM_FRAMESIZES / ENUM_FRAMEINTERVALS (every index capped; stepwise and
// continuous ranges reduced to common sizes and rates), falling back to G_FMT / G_PARM.
void enum_v4l2_formats(const V4l2Ioctl& io, unsigned buf_type, VideoDevice& dev);

}  // namespace asfcast::capture::detail
