#include "gst_frame.hpp"

#include <gst/video/video.h>

#include <cstddef>

namespace asfcast::capture {

bool copy_i420_frame(GstSample* sample, RawVideoFrame& f) {
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstCaps* caps = gst_sample_get_caps(sample);
    GstVideoInfo vinfo;
    GstVideoFrame vframe;
    if (!buf || !caps || !gst_video_info_from_caps(&vinfo, caps) ||
        !gst_video_frame_map(&vframe, &vinfo, buf, GST_MAP_READ))
        return false;
    f.width = GST_VIDEO_FRAME_WIDTH(&vframe);
    f.height = GST_VIDEO_FRAME_HEIGHT(&vframe);
    std::size_t total = 0;
    for (guint p = 0; p < 3; ++p)
        total += static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_WIDTH(&vframe, p)) *
                 static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_HEIGHT(&vframe, p));
    // One copy into the packed frame: reserve + append (resize would zero-fill 1.4 MB at 720p
    // first), a whole plane at a time when its rows are already contiguous.
    f.i420.clear();
    f.i420.reserve(total);
    for (guint p = 0; p < 3; ++p) {
        const auto w = static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_WIDTH(&vframe, p));
        const int h = GST_VIDEO_FRAME_COMP_HEIGHT(&vframe, p);
        const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&vframe, p);
        const auto* src = static_cast<const std::uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&vframe, p));
        if (static_cast<std::size_t>(stride) == w) {
            f.i420.insert(f.i420.end(), src, src + w * static_cast<std::size_t>(h));
            continue;
        }
        for (int y = 0; y < h; ++y) {
            const std::uint8_t* row = src + static_cast<std::ptrdiff_t>(y) * stride;
            f.i420.insert(f.i420.end(), row, row + w);
        }
    }
    gst_video_frame_unmap(&vframe);
    return true;
}

}  // namespace asfcast::capture
