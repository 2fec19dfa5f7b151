// Entry files of a playlist: pre-encoded ASF files read for play-out. Layouts: ASF-notes §4
// (Header Object), §5 (File Properties), §15 (Data Object), §16 (data packets), §17 (indexes).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/playlist/playlist.hpp"

namespace asfcast::playlist {
namespace {

constexpr std::uint64_t kDataObjectStart = 50;  // ASF-notes §15: the Data Object's fixed part

class FileSource final : public ByteSource {
public:
    explicit FileSource(const std::string& path) : path_(path) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw PlaylistError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
        struct stat st {};
        if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd_);
            throw PlaylistError(fmt::format("{} is not a regular file", path));
        }
        size_ = static_cast<std::uint64_t>(st.st_size);
    }
    ~FileSource() override { ::close(fd_); }
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;
    std::uint64_t size() const override { return size_; }
    std::size_t read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) override {
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::pread(fd_, out + got, n - got, static_cast<off_t>(offset + got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) throw PlaylistError(fmt::format("{}: read failed at byte {}: {}", path_, offset + got, std::strerror(errno)));
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
        }
        return got;
    }

private:
    std::string path_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

class MemorySource final : public ByteSource {
public:
    explicit MemorySource(Bytes b) : bytes_(std::move(b)) {}
    std::uint64_t size() const override { return bytes_.size(); }
    std::size_t read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) override {
        if (offset >= bytes_.size()) return 0;
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, bytes_.size() - offset));
        std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(offset), k, out);
        return k;
    }

private:
    Bytes bytes_;
};

std::uint64_t le64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
    return v;
}

// The top-level objects that may follow the Data Object (ASF-notes §17): where the packets end
// when the file does not say how many there are.
bool starts_index_object(const Bytes& b) {
    static const auto simple = asfmux::parse_guid("33000890-E5B1-11CF-89F4-00A0C90349CB");
    static const auto index = asfmux::parse_guid("D6E229D3-35DA-11D1-9034-00A0C90349BE");
    return b.size() >= 16 && ((simple && std::equal(simple->begin(), simple->end(), b.begin())) ||
                              (index && std::equal(index->begin(), index->end(), b.begin())));
}

}  // namespace

std::unique_ptr<ByteSource> open_file_source(const std::string& path) { return std::make_unique<FileSource>(path); }
std::unique_ptr<ByteSource> memory_source(Bytes bytes) { return std::make_unique<MemorySource>(std::move(bytes)); }

AsfEntryFile::AsfEntryFile(std::unique_ptr<ByteSource> source, const std::string& what, const EntryFileLimits& limits)
    : source_(std::move(source)), what_(what) {
    const std::uint64_t size = source_->size();
    Bytes head(30);
    if (source_->read_at(0, head.data(), head.size()) < head.size())
        throw PlaylistError(fmt::format("{}: not an ASF file ({} bytes, too short)", what_, size));
    // ASF-notes §4: Header Object GUID, then its QWORD size; the Data Object follows it.
    const std::uint64_t header_size = le64(head.data() + 16);
    if (header_size < 30 || header_size > limits.max_header_bytes || header_size + kDataObjectStart > size)
        throw PlaylistError(fmt::format("{}: not an ASF file (no Header Object of at most {} bytes and Data Object at its start)",
                                        what_, limits.max_header_bytes));
    Bytes header(static_cast<std::size_t>(header_size + kDataObjectStart));
    source_->read_at(0, header.data(), header.size());
    asfmux::HeaderInfo info;
    try {
        info = asfmux::parse_header(header);
        header_.bytes = asfmux::header_with_totals(header, nullptr);  // a live header: Broadcast, no sizes
    } catch (const ParseError& e) {
        throw PlaylistError(fmt::format("{}: not an ASF file: {}", what_, e.what()));
    }
    if (info.min_packet_size != info.max_packet_size || info.max_packet_size == 0)
        throw PlaylistError(fmt::format("{}: packet sizes are not fixed ({}..{} bytes); only fixed-size packets can be played out",
                                        what_, info.min_packet_size, info.max_packet_size));
    if (info.max_packet_size > limits.max_packet_size)
        throw PlaylistError(fmt::format("{}: packet size {} bytes is larger than an enabled output carries ({} bytes at most)",
                                        what_, info.max_packet_size, limits.max_packet_size));
    if (info.streams.empty()) throw PlaylistError(fmt::format("{}: the header has no stream", what_));
    header_.packet_size = info.max_packet_size;
    header_.preroll_ms = static_cast<std::uint32_t>(std::min<std::uint64_t>(info.preroll_ms, 0xFFFFFFFF));
    header_.max_bitrate = info.max_bitrate;
    for (const auto& s : info.streams) {
        (s.kind == MediaKind::video   ? header_.video_streams
         : s.kind == MediaKind::audio ? header_.audio_streams
                                      : header_.command_streams)
            .push_back(s.number);
        header_.protected_content = header_.protected_content || s.encrypted;
    }
    data_start_ = header_size + kDataObjectStart;
    if (info.data_object_packets > 0) packet_count_ = info.data_object_packets;
    else if (info.data_packets > 0) packet_count_ = info.data_packets;
    else if (info.data_object_size > kDataObjectStart)
        packet_count_ = (info.data_object_size - kDataObjectStart) / info.max_packet_size;
    buffer_.resize(info.max_packet_size);
    // The first packet is read now: a file without a readable packet is refused before it is on air.
    if (!next()) throw PlaylistError(fmt::format("{}: no data packet", what_));
    rewind();
}

std::optional<DataPacket> AsfEntryFile::next() {
    const std::uint32_t ps = header_.packet_size;
    if (packet_count_ && next_packet_ >= *packet_count_) return std::nullopt;
    const std::uint64_t at = data_start_ + next_packet_ * ps;
    const std::size_t got = source_->read_at(at, buffer_.data(), ps);
    if (got < ps) {
        if (packet_count_ || got >= 16)
            throw PlaylistError(fmt::format("{}: the file ends inside packet {} (byte {})", what_, next_packet_, at));
        return std::nullopt;  // the end of a file that does not count its packets
    }
    if (!packet_count_ && starts_index_object(buffer_)) return std::nullopt;
    DataPacket p;
    asfmux::PacketInfo info;
    try {
        info = asfmux::parse_packet(buffer_, ps);
        p.bytes = buffer_;
        Bytes wire = asfmux::to_wire_form(buffer_, ps);
        if (wire != p.bytes) p.wire = std::move(wire);
    } catch (const ParseError& e) {
        throw PlaylistError(fmt::format("{}: packet {} (byte {}) is unreadable: {}", what_, next_packet_, at, e.what()));
    }
    p.send_time_ms = info.send_time_ms;
    p.padding = info.padding;
    const auto is_video = [this](int s) {
        return std::find(header_.video_streams.begin(), header_.video_streams.end(), s) != header_.video_streams.end();
    };
    bool first = true;
    for (const auto& pl : info.payloads) {
        const Micros pts = (static_cast<Micros>(pl.pts_ms) - static_cast<Micros>(header_.preroll_ms)) * 1000;
        p.min_pts = first ? pts : std::min(p.min_pts, pts);
        p.max_pts = first ? pts : std::max(p.max_pts, pts);
        if (pl.keyframe && pl.offset == 0 && is_video(pl.stream)) {
            p.key_frames.push_back({pl.stream, pts});
            if (first) p.starts_with_key_frame = true;
        }
        first = false;
    }
    ++next_packet_;
    return p;
}

}  // namespace asfcast::playlist
