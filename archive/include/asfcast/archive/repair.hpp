// archive repair: finalizes an archive left by a crash or a power loss (`asfcast repair FILE`).
// Such a file still carries the Broadcast flag and the live header's zero sizes; its data may end
// inside a packet. Repair keeps every whole, readable packet, appends Simple Index Objects (one per
// video stream), and writes the final sizes, counts, durations and the Seekable flag, exactly as the
// archive writer does at a clean end. It works on a copy next to the file and renames the copy over
// it only when the copy is complete and synced: a failure leaves the original as it was.
#pragma once

#include <cstdint>
#include <string>

#include "asfcast/archive/archive.hpp"
#include "asfcast/core/clock.hpp"

namespace asfcast::archive {

struct RepairReport {
    bool already_final = false;        // finalized before: nothing was changed
    std::uint64_t packets = 0;         // whole, readable packets kept
    std::uint64_t bytes_dropped = 0;   // what followed the last of them (a partial packet, zeros)
    std::uint32_t index_objects = 0;
    std::uint64_t file_size = 0;       // after repair
    Micros play_duration = 0;          // without preroll
    Micros send_duration = 0;
};

struct RepairOptions {
    bool dry_run = false;  // report what repair would do; write nothing
    // fsync the repaired copy before the rename and the folder after it, so that a power loss
    // leaves the old file or the new one. Off only where nothing must survive (fuzzing).
    bool durable = true;
};

// Throws ArchiveError naming the file and the reason: not an ASF file, not written by asfcast
// (WM/ToolName), variable packet sizes, no whole packet, or an I/O error (the original stays).
RepairReport repair_archive(const std::string& path, RepairOptions options = {});

}  // namespace asfcast::archive
