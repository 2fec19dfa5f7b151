// asfcast repair: see repair.hpp. Field offsets: ASF-notes §5 (File Properties Object), §15 (Data
// Object), §17 (Simple Index Object, written by asfmux::SimpleIndexBuilder).
#include "asfcast/archive/repair.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "asfcast/asfmux/asfmux.hpp"

namespace asfcast::archive {
namespace {

constexpr std::size_t kDataObjectStart = 50;  // ASF-notes §15: the Data Object's fixed part

// A file descriptor closed on every path.
class File {
public:
    File(const std::string& path, int flags, mode_t mode = 0) : path_(path), fd_(::open(path.c_str(), flags | O_CLOEXEC, mode)) {}
    ~File() {
        if (fd_ >= 0) ::close(fd_);
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    int fd() const { return fd_; }
    bool ok() const { return fd_ >= 0; }

    // Reads up to n bytes at `offset`; fewer only at the end of the file.
    std::size_t read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) const {
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::pread(fd_, out + got, n - got, static_cast<off_t>(offset + got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) throw ArchiveError(path_ + ": read failed: " + std::strerror(errno));
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
        }
        return got;
    }
    void write_all(const std::uint8_t* data, std::size_t n) {
        while (n > 0) {
            const ssize_t w = ::write(fd_, data, n);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0)
                throw ArchiveError(path_ + ": write failed: " + std::strerror(errno) + " (check free space; the original is unchanged)");
            data += w;
            n -= static_cast<std::size_t>(w);
        }
    }

private:
    std::string path_;
    int fd_;
};

void put_u32(Bytes& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u64(Bytes& b, std::size_t at, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

bool all_zero(const Bytes& b) {
    return std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
}

std::string tool_name(const asfmux::HeaderInfo& h) {
    for (const auto& [name, value] : h.metadata.extended)
        if (name == "WM/ToolName") return value;
    return {};
}

}  // namespace

RepairReport repair_archive(const std::string& path, RepairOptions options) {
    File in(path, O_RDONLY);
    if (!in.ok()) throw ArchiveError(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(in.fd(), &st) != 0) throw ArchiveError(path + ": cannot stat: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw ArchiveError(path + ": not a regular file");
    const auto file_size = static_cast<std::uint64_t>(st.st_size);

    // ASF-notes §4: the Header Object's size is at offset 16; the Data Object follows it.
    Bytes head(30);
    if (in.read_at(0, head.data(), head.size()) < head.size()) throw ArchiveError(path + ": too short to be an ASF file");
    std::uint64_t header_size = 0;
    for (int i = 0; i < 8; ++i) header_size |= std::uint64_t{head[16 + static_cast<std::size_t>(i)]} << (8 * i);
    if (header_size < 30 || header_size > (1u << 24) || header_size + kDataObjectStart > file_size)
        throw ArchiveError(path + ": not an ASF file (no Header Object and Data Object at its start)");
    Bytes header(static_cast<std::size_t>(header_size + kDataObjectStart));
    in.read_at(0, header.data(), header.size());
    asfmux::HeaderInfo info;
    try {
        info = asfmux::parse_header(header);
    } catch (const ParseError& e) {
        throw ArchiveError(path + ": not an ASF file: " + e.what());
    }
    // Only our own archives: their layout (fixed packets, whole-packet writes, a header rewritten
    // in place) is what repair relies on.
    if (const std::string tool = tool_name(info); tool != "asfcast")
        throw ArchiveError(path + ": not written by asfcast (WM/ToolName " + (tool.empty() ? "absent" : "'" + tool + "'") +
                           "); repair touches only asfcast's own archives");
    if (info.min_packet_size != info.max_packet_size || info.max_packet_size == 0)
        throw ArchiveError(path + ": packet sizes are not fixed (" + std::to_string(info.min_packet_size) + ".." +
                           std::to_string(info.max_packet_size) + ")");
    const std::uint32_t packet_size = info.max_packet_size;
    const std::uint64_t data_start = header_size + kDataObjectStart;

    RepairReport report;
    // Finalized already (Seekable, not Broadcast, and the sizes it declares are on disk): nothing
    // to do, so repairing twice changes nothing.
    const bool seekable = (info.flags & 0x2) != 0, broadcast = (info.flags & 0x1) != 0;
    if (seekable && !broadcast && info.data_packets > 0 && info.data_object_packets == info.data_packets &&
        info.data_object_size == kDataObjectStart + info.data_packets * packet_size && info.file_size == file_size &&
        data_start + info.data_packets * packet_size <= file_size) {
        report.already_final = true;
        report.packets = info.data_packets;
        report.file_size = file_size;
        report.play_duration = static_cast<Micros>(info.play_duration_100ns / 10) - static_cast<Micros>(info.preroll_ms) * 1000;
        report.send_duration = static_cast<Micros>(info.send_duration_100ns / 10);
        return report;
    }

    // Whole, readable packets from the start of the data; the first that is cut short, all zeros
    // (blocks a power loss left unwritten) or unreadable ends the data.
    std::vector<asfmux::SimpleIndexBuilder> indexes;
    for (const auto& s : info.streams)
        if (s.kind == MediaKind::video) indexes.emplace_back(s.number, static_cast<std::uint32_t>(info.preroll_ms));
    const std::string tmp_path = path + ".repair-tmp";
    std::unique_ptr<File> out;
    if (!options.dry_run) {
        out = std::make_unique<File>(tmp_path, O_WRONLY | O_CREAT | O_TRUNC, st.st_mode & 07777);
        if (!out->ok()) throw ArchiveError(tmp_path + ": cannot create the working copy: " + std::strerror(errno));
    }
    struct TmpRemover {
        const std::string& path;
        bool keep = false;
        ~TmpRemover() {
            if (!keep) ::unlink(path.c_str());
        }
    } remover{tmp_path, options.dry_run};
    if (out) out->write_all(header.data(), header.size());  // rewritten with the totals at the end

    DataPacket packet;
    packet.bytes.resize(packet_size);
    std::uint32_t last_send_ms = 0;
    Micros max_pts = 0;
    std::uint64_t n = 0;
    // A header that counts its packets (finalized, then damaged) bounds the data: what follows
    // them is the index, not packets.
    const std::uint64_t limit = info.data_packets > 0 ? info.data_packets : ~std::uint64_t{0};
    for (std::uint64_t at = data_start; n < limit && at + packet_size <= file_size; at += packet_size, ++n) {
        in.read_at(at, packet.bytes.data(), packet_size);
        if (all_zero(packet.bytes)) break;
        asfmux::PacketInfo p;
        try {
            p = asfmux::parse_packet(packet.bytes, packet_size);
        } catch (const ParseError&) {
            break;
        }
        if (p.payloads.empty()) break;
        packet.number = n;
        packet.max_pts = 0;
        for (const auto& pl : p.payloads)
            packet.max_pts = std::max<Micros>(packet.max_pts, (static_cast<Micros>(pl.pts_ms) - static_cast<Micros>(info.preroll_ms)) * 1000);
        max_pts = std::max(max_pts, packet.max_pts);
        last_send_ms = std::max(last_send_ms, p.send_time_ms);
        for (auto& ix : indexes) ix.add_packet(packet, n);
        if (out) out->write_all(packet.bytes.data(), packet.bytes.size());
    }
    if (n == 0) throw ArchiveError(path + ": no whole, readable data packet; nothing to repair");
    report.packets = n;
    report.bytes_dropped = file_size - (data_start + n * packet_size);
    report.play_duration = max_pts;
    report.send_duration = Micros{last_send_ms} * 1000;

    std::uint64_t end = data_start + n * packet_size;
    for (auto& ix : indexes) {
        const Bytes obj = ix.build(info.file_id);
        if (out) out->write_all(obj.data(), obj.size());
        end += obj.size();
        ++report.index_objects;
    }
    report.file_size = end;

    // The final header: ASF-notes §5 (File Properties) and §15 (Data Object), as the archive
    // writer leaves them at a clean end.
    const auto fp = std::find_if(info.objects.begin(), info.objects.end(),
                                 [](const asfmux::ObjectInfo& o) { return o.name == "File Properties" && o.depth == 1; });
    if (fp == info.objects.end() || fp->size < 104) throw ArchiveError(path + ": no File Properties Object");
    const auto f = static_cast<std::size_t>(fp->offset);
    put_u64(header, f + 40, end);                                        // File Size
    put_u64(header, f + 56, n);                                          // Data Packets Count
    put_u64(header, f + 64, static_cast<std::uint64_t>(max_pts) * 10 + info.preroll_ms * 10'000);  // Play Duration (incl. preroll)
    put_u64(header, f + 72, static_cast<std::uint64_t>(report.send_duration) * 10);                // Send Duration
    put_u32(header, f + 88, (info.flags & ~0x1u) | 0x2u);                // Flags: Seekable, not Broadcast
    const auto d = static_cast<std::size_t>(header_size);
    put_u64(header, d + 16, kDataObjectStart + n * packet_size);         // Data Object size
    put_u64(header, d + 40, n);                                          // Total Data Packets
    if (options.dry_run) return report;

    if (::pwrite(out->fd(), header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
        throw ArchiveError(tmp_path + ": cannot write the final header: " + std::strerror(errno));
    if (options.durable && ::fsync(out->fd()) != 0) throw ArchiveError(tmp_path + ": fsync failed: " + std::strerror(errno));
    if (::rename(tmp_path.c_str(), path.c_str()) != 0)
        throw ArchiveError("cannot rename " + tmp_path + " over " + path + ": " + std::strerror(errno));
    remover.keep = true;
    // The rename itself survives a power loss once the directory is synced.
    const std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
    if (!options.durable) return report;
    if (File dfd(dir, O_RDONLY | O_DIRECTORY); dfd.ok()) ::fsync(dfd.fd());
    return report;
}

}  // namespace asfcast::archive
