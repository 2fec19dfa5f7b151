// Reads an MS-WMSP framed packet stream (2.2.3) as a client would, checking the framing strictly.
// Used by the tests and the load generator in bench/ to verify what the pull server sends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "asfcast/core/bytes.hpp"

namespace asfcast::pull {

struct FramedPacket {
    char type = 0;                  // 'H', 'D', 'M', 'E', 'C', 'P', 'T'
    std::uint32_t location_id = 0;  // $H $D $M
    std::uint8_t incarnation = 0;   // $H $D $M
    std::uint8_t afflags = 0;       // $H $D $M
    ByteView payload;               // $H $D $M: the MMS payload; $P: the random bytes
    std::uint32_t reason = 0;       // $E $C $P
};

class FramedStreamReader {
public:
    // Appends received bytes. Invalidates the payload views of packets returned so far.
    void feed(ByteView data);
    // The next complete packet, or nullopt when more bytes are needed or the stream is broken
    // (then error() says why, and every later call returns nullopt).
    std::optional<FramedPacket> next();
    const std::string& error() const { return error_; }
    bool failed() const { return !error_.empty(); }
    std::size_t buffered() const { return buf_.size() - pos_; }  // bytes not yet returned
    std::uint64_t offset() const { return consumed_ + pos_; }     // stream position of the next packet

private:
    std::optional<FramedPacket> fail(std::string message);

    Bytes buf_;
    std::size_t pos_ = 0;          // start of the next packet in buf_
    std::uint64_t consumed_ = 0;   // bytes dropped from the front of buf_
    std::string error_;
};

}  // namespace asfcast::pull
