// Data packets (ASF-notes §16), made once in both forms (core/muxed.hpp DataPacket).
//
// File form of a packet with padding (packet_size bytes), always the multiple-payloads layout:
//   0  82 00 00        Error Correction Flags (present, 2 bytes) + EC data            §16.1
//   3  11              Length Type Flags: Padding Length WORD | multiple payloads      §16.2
//   4  5D              Property Flags: repl BYTE, offset DWORD, object# BYTE, stream BYTE
//   5  WORD            Padding Length
//   7  DWORD           Send Time (ms)
//  11  WORD            Duration (ms)
//  13  BYTE            Payload Flags = count | 0x80                                     §16.3
//      payloads: Stream Number B (bit 7 key frame), Media Object Number B, Offset D,
//                Replicated Data Length B = 8, Media Object Size D, Presentation Time D,
//                Payload Length W, data
//      padding: zeros to packet_size
// Its wire form (MS-WMSP 2.2.3.3, MS-WMHTTP 2.2.3.3, MS-MSB 2.2.4): Length Type Flags 01 (no
// Packet Length, no Padding Length), the Padding Length field and the padding gone. Every payload
// keeps its own length, so a client that pads the wire form back to packet_size with zeros (as
// ffmpeg, VLC and libmms do) reads exactly the same payloads.
//
// A fragment that fills an empty packet completely is written in the single-payload layout with
// no padding and no Padding Length field (Length Type Flags 00, header 11 bytes); both forms are
// then the same bytes. A single payload that does not fill its packet stays in the multiple
// layout: dropping the padding of a single-payload packet would let a re-padding client read the
// zeros as media.
//
// Send Time = decode time (ms, no preroll) of the packet's first payload, never below the previous
// packet's. Duration = latest decode time of a payload in the packet - Send Time (0 for one frame).
//
// With a packager (packager.hpp), every media object is handed to it before any byte of it is
// written, and each of its payloads carries the payload extension data the packager returned in
// its replicated data, after the object size and presentation time (ASF-notes §8, §16.3):
// Replicated Data Length = 8 + extension bytes of the stream. Audio and command objects are never
// split across packets; video objects are, and every fragment carries the same replicated data.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "asfcast/asfmux/packager.hpp"
#include "objects.hpp"

namespace asfcast::asfmux {
namespace {

namespace pkt = detail::pkt;

inline void store16(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}
inline void store32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
    p[2] = static_cast<std::uint8_t>(v >> 16);
    p[3] = static_cast<std::uint8_t>(v >> 24);
}

// Microseconds to whole milliseconds (floor), plus `add`, clamped to a DWORD.
std::uint32_t to_ms(Micros us, std::int64_t add) {
    std::int64_t ms = us / 1000;
    if (us % 1000 < 0) --ms;
    ms += add;
    if (ms < 0) return 0;
    if (ms > std::numeric_limits<std::uint32_t>::max()) return std::numeric_limits<std::uint32_t>::max();
    return static_cast<std::uint32_t>(ms);
}

}  // namespace

Packetizer::Packetizer(MuxConfig config, const StreamSet& streams)
    : Packetizer(config, streams, nullptr, ProtectionHeader{}) {}

Packetizer::Packetizer(MuxConfig config, const StreamSet& streams, std::shared_ptr<Packager> packager,
                       const ProtectionHeader& protection)
    : config_(config), packager_(std::move(packager)) {
    if (config_.packet_size < pkt::kMinPacketSize || config_.packet_size > pkt::kMaxPacketSize)
        throw std::invalid_argument("ASF packet size " + std::to_string(config_.packet_size) + " is outside " +
                                    std::to_string(pkt::kMinPacketSize) + ".." + std::to_string(pkt::kMaxPacketSize));
    for (const auto& s : detail::ordered_streams(streams)) {
        StreamState& st = streams_[static_cast<std::size_t>(s.number)];
        if (s.video) {
            st.kind = 1;
            if (s.video->frame_rate > 0.0 && std::isfinite(s.video->frame_rate))
                st.frame_duration_us = static_cast<Micros>(std::llround(1e6 / s.video->frame_rate));
        } else if (s.audio) {
            st.kind = 2;
            st.avg_bytes_per_sec = s.audio->avg_bytes_per_sec;
        } else {
            st.kind = 3;
        }
        if (packager_) {
            const std::size_t ext = protection.extension_bytes(s.number);
            // Replicated Data Length is a BYTE (§16.2): 8 + extension data.
            if (ext > 255 - pkt::kReplicatedLength ||
                config_.packet_size < pkt::kMinPacketSize + ext)
                throw std::invalid_argument("Packetizer: stream " + std::to_string(s.number) + " needs " +
                                            std::to_string(ext) + " bytes of payload extension data, too many for " +
                                            std::to_string(config_.packet_size) + "-byte packets");
            st.extension = static_cast<std::uint8_t>(ext);
        }
    }
}

std::size_t Packetizer::max_unsplit_bytes(int stream) const {
    // An object alone in a packet, multiple-payloads layout (it may leave padding).
    const std::size_t ext = stream >= 1 && stream <= 127 ? streams_[static_cast<std::size_t>(stream)].extension : 0;
    return config_.packet_size - pkt::kMultipleHeader - pkt::kMultiplePayloadHeader - ext;
}

std::size_t Packetizer::max_audio_frame_bytes() const {
    std::size_t ext = 0;
    for (const auto& st : streams_)
        if (st.kind == 2) ext = std::max<std::size_t>(ext, st.extension);
    return config_.packet_size - pkt::kMultipleHeader - pkt::kMultiplePayloadHeader - ext;
}

std::size_t Packetizer::free_space(std::size_t extension) const {
    const std::size_t header = pkt::kMultiplePayloadHeader + extension;
    if (!is_open_) return config_.packet_size - pkt::kMultipleHeader - header;
    if (single_form_ || payloads_ >= pkt::kMaxPayloads) return 0;
    const std::size_t left = config_.packet_size - pos_;
    return left > header ? left - header : 0;
}

std::optional<Micros> Packetizer::next_deadline() const {
    if (!is_open_) return std::nullopt;
    return open_.oldest_capture_us + Micros{config_.max_packet_delay_ms} * 1000;
}

void Packetizer::open_packet(Micros now_us) {
    open_ = DataPacket{};
    // Payloads are appended (no zero-fill of bytes about to be overwritten); close_packet
    // zero-fills only the padding. The capacity never changes, so pointers stay valid.
    open_.bytes.reserve(config_.packet_size);
    open_.bytes.resize(pkt::kMultipleHeader);
    std::uint8_t* b = open_.bytes.data();
    b[0] = pkt::kEcFlags;  // EC data bytes 1..2 stay 0
    b[4] = pkt::kPropertyFlags;
    open_.oldest_capture_us = now_us;
    is_open_ = true;
    single_form_ = false;
    pos_ = pkt::kMultipleHeader;
    payloads_ = 0;
    max_dts_ms_ = 0;
}

namespace {

const char* kind_word(std::uint8_t kind) { return kind == 1 ? "video" : kind == 2 ? "audio" : "command"; }
std::uint8_t kind_code(MediaKind k) { return k == MediaKind::video ? 1 : k == MediaKind::audio ? 2 : 3; }

}  // namespace

void Packetizer::add(const EncodedFrame& frame, Micros now_us, std::vector<DataPacket>& out) {
    if (frame.stream < 1 || frame.stream > 127 || streams_[static_cast<std::size_t>(frame.stream)].kind == 0)
        throw std::invalid_argument("Packetizer: frame for unknown stream " + std::to_string(frame.stream));
    const StreamState& st = streams_[static_cast<std::size_t>(frame.stream)];
    if (st.kind != kind_code(frame.kind))
        throw std::invalid_argument("Packetizer: stream " + std::to_string(frame.stream) + " is configured as " +
                                    kind_word(st.kind) + " but got a " + kind_word(kind_code(frame.kind)) + " frame");
    if (frame.data.empty()) return;  // nothing to carry; no media object is created
    if (!packager_) {
        write(frame, {}, now_us, out);
        return;
    }
    // Protected: the packager works on a copy (scratch_ keeps its buffers between objects), and
    // only what it returns is written.
    scratch_.stream = frame.stream;
    scratch_.kind = frame.kind;
    scratch_.pts = frame.pts;
    scratch_.dts = frame.dts;
    scratch_.keyframe = frame.keyframe;
    scratch_.data.assign(frame.data.begin(), frame.data.end());
    extension_.clear();
    packager_->protect(scratch_, extension_);
    if (scratch_.stream != frame.stream || scratch_.kind != frame.kind || scratch_.pts != frame.pts ||
        scratch_.dts != frame.dts || scratch_.keyframe != frame.keyframe)
        throw PackagerError("packager " + packager_->name() + " changed the stream, kind, times or key-frame flag of a "
                            "media object of stream " + std::to_string(frame.stream));
    if (scratch_.data.empty())
        throw PackagerError("packager " + packager_->name() + " returned an empty media object for stream " +
                            std::to_string(frame.stream));
    if (extension_.size() != st.extension)
        throw PackagerError("packager " + packager_->name() + " returned " + std::to_string(extension_.size()) +
                            " bytes of payload extension data for stream " + std::to_string(frame.stream) +
                            "; its header declares " + std::to_string(st.extension));
    write(scratch_, extension_, now_us, out);
}

void Packetizer::write(const EncodedFrame& frame, ByteView extension, Micros now_us, std::vector<DataPacket>& out) {
    StreamState& st = streams_[static_cast<std::size_t>(frame.stream)];
    const bool video = st.kind == 1;
    const std::size_t ext = st.extension;
    const std::size_t size = frame.data.size();
    if (size > std::numeric_limits<std::uint32_t>::max())
        throw std::invalid_argument("Packetizer: media object larger than 4 GiB");
    if (!video && size > max_unsplit_bytes(frame.stream))
        throw std::invalid_argument(std::string("Packetizer: ") + kind_word(st.kind) + " object of " +
                                    std::to_string(size) + " bytes on stream " + std::to_string(frame.stream) +
                                    " cannot fit in a " + std::to_string(config_.packet_size) + "-byte packet (at most " +
                                    std::to_string(max_unsplit_bytes(frame.stream)) + ")");

    const bool key = video && frame.keyframe;
    if (is_open_) {
        if (key && config_.key_frame_starts_packet) close_packet(out);  // key frame first in a packet
        else if (!video && free_space(ext) < size) close_packet(out);    // audio and commands are never split
    }

    const std::uint8_t stream_byte = static_cast<std::uint8_t>(frame.stream | (key ? 0x80 : 0));
    const std::uint8_t object = st.object_number++;
    const std::uint32_t pres_ms = to_ms(frame.pts, config_.preroll_ms);
    const std::uint32_t dts_ms = to_ms(frame.dts, 0);
    Micros duration = st.kind == 3 ? 0 : st.frame_duration_us;
    if (st.kind == 2 && st.avg_bytes_per_sec)
        duration = static_cast<Micros>(static_cast<double>(size) * 1e6 / st.avg_bytes_per_sec);
    const Micros end_pts = frame.pts + duration;
    const std::uint8_t* data = frame.data.data();
    const std::uint32_t size32 = static_cast<std::uint32_t>(size);
    const std::size_t psize = config_.packet_size;

    std::size_t offset = 0;
    while (offset < size) {
        // Room left by another stream's payloads may be too small for this stream's payload header.
        if (is_open_ && free_space(ext) == 0) close_packet(out);
        if (!is_open_) open_packet(now_us);
        const std::size_t remaining = size - offset;

        // Per-packet bookkeeping for the payload about to be written.
        if (payloads_ == 0) {
            const std::uint32_t send = std::max(dts_ms, last_send_time_ms_);
            last_send_time_ms_ = send;
            open_.send_time_ms = send;
            max_dts_ms_ = send;
            open_.max_pts = end_pts;
            open_.min_pts = frame.pts;
            if (key && offset == 0) open_.starts_with_key_frame = true;
        } else {
            open_.max_pts = std::max(open_.max_pts, end_pts);
            open_.min_pts = std::min(open_.min_pts, frame.pts);
        }
        max_dts_ms_ = std::max(max_dts_ms_, dts_ms);
        if (key && offset == 0) open_.key_frames.push_back({frame.stream, frame.pts});

        // A fragment that fills an empty packet completely: single-payload layout, no padding.
        const std::size_t single_cap = psize - pkt::kSingleHeader - pkt::kSinglePayloadHeader - ext;
        if (payloads_ == 0 && remaining >= single_cap) {
            std::uint8_t p[pkt::kSinglePayloadHeader];
            p[0] = stream_byte;
            p[1] = object;
            store32(p + 2, static_cast<std::uint32_t>(offset));
            p[6] = static_cast<std::uint8_t>(pkt::kReplicatedLength + ext);
            store32(p + 7, size32);
            store32(p + 11, pres_ms);
            open_.bytes.resize(pkt::kSingleHeader);  // no Padding Length, no Payload Flags
            open_.bytes.insert(open_.bytes.end(), p, p + pkt::kSinglePayloadHeader);
            open_.bytes.insert(open_.bytes.end(), extension.begin(), extension.end());  // payload extension data
            open_.bytes.insert(open_.bytes.end(), data + offset, data + offset + single_cap);
            pos_ = psize;
            payloads_ = 1;
            single_form_ = true;
            offset += single_cap;
            close_packet(out);
            continue;
        }

        const std::size_t n = std::min(remaining, free_space(ext));  // >= 1: full packets are closed
        std::uint8_t p[pkt::kMultiplePayloadHeader];
        p[0] = stream_byte;
        p[1] = object;
        store32(p + 2, static_cast<std::uint32_t>(offset));
        p[6] = static_cast<std::uint8_t>(pkt::kReplicatedLength + ext);
        store32(p + 7, size32);
        store32(p + 11, pres_ms);
        store16(p + 15, static_cast<std::uint32_t>(n));
        open_.bytes.insert(open_.bytes.end(), p, p + 15);             // up to the replicated data's 8 bytes
        open_.bytes.insert(open_.bytes.end(), extension.begin(), extension.end());  // payload extension data
        open_.bytes.insert(open_.bytes.end(), p + 15, p + 17);         // Payload Length
        open_.bytes.insert(open_.bytes.end(), data + offset, data + offset + n);
        pos_ += pkt::kMultiplePayloadHeader + ext + n;
        ++payloads_;
        offset += n;
        if (free_space(ext) == 0) close_packet(out);
    }
}

void Packetizer::poll(Micros now_us, std::vector<DataPacket>& out) {
    if (is_open_ && now_us - open_.oldest_capture_us >= Micros{config_.max_packet_delay_ms} * 1000)
        close_packet(out);
}

void Packetizer::flush(std::vector<DataPacket>& out) {
    if (is_open_) close_packet(out);
}

void Packetizer::close_packet(std::vector<DataPacket>& out) {
    if (!is_open_) return;
    std::uint8_t* b = open_.bytes.data();
    if (single_form_) {
        // Filled completely: no padding, so no Padding Length field; the wire form is the same.
        b[pkt::kOffLengthTypeFlags] = 0x00;
        store32(b + pkt::kSingleOffSendTime, open_.send_time_ms);
        store16(b + pkt::kSingleOffDuration, std::min<std::uint32_t>(max_dts_ms_ - open_.send_time_ms, 0xFFFF));
        open_.padding = 0;
    } else {
        open_.bytes.resize(config_.packet_size);  // zero-fills the padding only
        b = open_.bytes.data();
        const std::size_t padding = config_.packet_size - pos_;
        b[pkt::kOffLengthTypeFlags] = static_cast<std::uint8_t>(pkt::kPaddingWord | pkt::kMultiplePayloads);
        store16(b + pkt::kOffPadding, static_cast<std::uint32_t>(padding));
        store32(b + pkt::kOffSendTime, open_.send_time_ms);
        store16(b + pkt::kOffDuration, std::min<std::uint32_t>(max_dts_ms_ - open_.send_time_ms, 0xFFFF));
        b[pkt::kOffPayloadFlags] = static_cast<std::uint8_t>(payloads_ | pkt::kPayloadLengthWord);
        open_.padding = static_cast<std::uint32_t>(padding);
        // The wire form: without the Padding Length field (bytes 5-6) and the padding.
        open_.wire.reserve(pos_ - 2);
        open_.wire.assign(b, b + pkt::kOffPadding);
        open_.wire[pkt::kOffLengthTypeFlags] = pkt::kMultiplePayloads;
        open_.wire.insert(open_.wire.end(), b + pkt::kOffSendTime, b + pos_);
    }
    open_.number = next_number_++;
    out.push_back(std::move(open_));
    open_ = DataPacket{};
    is_open_ = false;
    payloads_ = 0;
}

}  // namespace asfcast::asfmux
