// libFuzzer target for `asfcast repair` (archive/repair.hpp), a reader of files left on disk. Each
// input is an archive as a crash could leave it: a real live header of ours (HeaderBuilder, with
// WM/ToolName asfcast) and real packets (Packetizer) form a base file; the input then overwrites
// bytes of it at chosen places, cuts it short or appends to it (the first bytes say how), and
// the rest of the input is written at the end as raw data. Properties checked:
//  - repair never crashes, and refuses what it cannot repair with ArchiveError;
//  - when it finalizes a file, a second repair finds it finalized and changes nothing;
//  - a repaired file's header parses and counts the packets repair reported.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "asfcast/archive/repair.hpp"
#include "asfcast/asfmux/asfmux.hpp"

namespace {

using namespace asfcast;

Bytes make_base_file() {
    asfmux::MuxConfig c;
    c.packet_size = 1024;
    c.preroll_ms = 1000;
    c.max_packet_delay_ms = 100;
    c.key_frame_starts_packet = true;
    asfmux::StreamSet s;
    VideoStreamFormat v;
    v.stream = 1;
    v.width = 64;
    v.height = 48;
    v.fourcc = 0x34363248;  // "H264"
    v.bitrate = 200000;
    s.video.push_back(v);
    AudioStreamFormat a;
    a.stream = 2;
    a.format_tag = 0x0161;
    a.channels = 1;
    a.sample_rate = 8000;
    a.avg_bytes_per_sec = 8000;
    a.block_align = 372;
    a.bitrate = 64000;
    s.audio.push_back(a);
    asfmux::Metadata m;
    m.title = "fuzz";
    m.extended.emplace_back("WM/ToolName", "asfcast");
    asfmux::HeaderBuilder builder(c, s, m, asfmux::Guid{9, 8, 7}, 0);
    Bytes file = builder.build_live().bytes;
    asfmux::Packetizer packetizer(c, s);
    std::vector<DataPacket> out;
    for (int i = 0; i < 60; ++i) {
        EncodedFrame f;
        const bool video = i % 3 != 2;
        f.stream = video ? 1 : 2;
        f.kind = video ? MediaKind::video : MediaKind::audio;
        f.pts = f.dts = static_cast<Micros>(i) * 20'000;
        f.keyframe = !video || i % 15 == 0;
        f.data.assign(video ? (f.keyframe ? 2500 : 600) : 372, static_cast<std::uint8_t>(i));
        packetizer.add(f, f.dts, out);
        packetizer.poll(f.dts, out);
    }
    packetizer.flush(out);
    for (const auto& p : out) file.insert(file.end(), p.bytes.begin(), p.bytes.end());
    return file;
}

const Bytes& base_file() {
    static const Bytes base = make_base_file();
    return base;
}

void write_file(const std::string& path, const Bytes& b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

Bytes read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Bytes file = base_file();
    // Edits: [op, pos_lo, pos_hi, value] x up to 8: op%4 == 0 overwrite one byte at pos (scaled
    // over the file), 1 cut the file at pos, 2 zero 512 bytes from pos, 3 stop editing.
    std::size_t i = 0;
    for (int e = 0; e < 8 && i + 4 <= size; ++e, i += 4) {
        const int op = data[i] % 4;
        if (op == 3) {
            i += 4;
            break;
        }
        const std::size_t pos = file.empty() ? 0 : ((data[i + 1] | (data[i + 2] << 8)) * file.size()) / 65536;
        if (op == 0 && pos < file.size()) file[pos] = data[i + 3];
        if (op == 1) file.resize(pos);
        if (op == 2)
            for (std::size_t k = pos; k < file.size() && k < pos + 512; ++k) file[k] = 0;
    }
    if (i < size) file.insert(file.end(), data + i, data + size);

    // In memory (/dev/shm) and without fsync: thousands of repairs a minute.
    static const std::string path = "/dev/shm/asfcast-repair-fuzz-" + std::to_string(::getpid()) + ".wmv";
    archive::RepairOptions options;
    options.durable = false;
    write_file(path, file);
    try {
        const archive::RepairReport first = archive::repair_archive(path, options);
        const Bytes repaired = read_file(path);
        const archive::RepairReport second = archive::repair_archive(path, options);
        if (!second.already_final || read_file(path) != repaired) {
            std::fprintf(stderr, "a second repair changed a repaired file\n");
            std::abort();
        }
        const asfmux::HeaderInfo h = asfmux::parse_header(repaired);
        if (h.data_packets != first.packets || (h.flags & 0x3) != 0x2) {
            std::fprintf(stderr, "the repaired header says %llu packets, flags %u; repair reported %llu\n",
                         static_cast<unsigned long long>(h.data_packets), h.flags,
                         static_cast<unsigned long long>(first.packets));
            std::abort();
        }
    } catch (const archive::ArchiveError&) {
    }
    ::unlink(path.c_str());
    return 0;
}
