// The packager protocol (docs/drm.md): how asfcast talks to a packager that is not linked in,
// over a pipe to an external program or through the C entry points of a shared object
// (packager_abi.h). Plain functions and classes fed bytes; every reader is bounded and throws
// ProtocolError at the first bad field.
//
// A message: a 16-byte head, then `body length` bytes. Little-endian throughout.
//   0  4  magic "APK1"
//   4  1  type
//   5  1  flags (0)
//   6  2  reserved (0)
//   8  4  sequence number: a reply carries its request's
//  12  4  body length (at most kMaxBody)
// asfcast -> packager:  HELLO 0x01, PROTECT 0x02, END 0x03
// packager -> asfcast:  HEADER 0x81 (answers HELLO), PROTECTED 0x82 (answers PROTECT), ERROR 0x7F
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "asfcast/asfmux/packager.hpp"
#include "asfcast/core/bytes.hpp"

namespace asfcast::drm::protocol {

class ProtocolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline constexpr std::uint8_t kMagic[4] = {'A', 'P', 'K', '1'};
inline constexpr std::size_t kHeadBytes = 16;
inline constexpr std::uint32_t kMaxBody = 16u << 20;  // 16 MiB: larger than any media object we send
inline constexpr std::uint16_t kVersion = 1;

enum class Type : std::uint8_t {
    hello = 0x01,
    protect = 0x02,
    end = 0x03,
    header = 0x81,
    protected_object = 0x82,
    error = 0x7F,
};
const char* type_name(Type t);

struct Message {
    Type type = Type::error;
    std::uint32_t sequence = 0;
    Bytes body;
};

Bytes encode(Type type, std::uint32_t sequence, ByteView body);

// Splits a byte stream into messages. Bounded: at most one head plus kMaxBody bytes are held.
class MessageReader {
public:
    void feed(ByteView bytes);
    // The next complete message, if any. Throws ProtocolError for a bad magic, type, flags,
    // reserved field or a body longer than kMaxBody; the reader is then unusable.
    std::optional<Message> next();
    std::size_t buffered() const { return buf_.size() - pos_; }

private:
    Bytes buf_;
    std::size_t pos_ = 0;
};

// HELLO: protocol version WORD, stream count WORD, per stream its number BYTE and kind BYTE
// (1 video, 2 audio, 3 command), configuration text length DWORD + UTF-8 text.
struct Hello {
    std::uint16_t version = kVersion;
    struct Stream {
        int number = 0;
        MediaKind kind = MediaKind::video;
    };
    std::vector<Stream> streams;
    std::string config;
};
Bytes encode_hello(const Hello& h);
Hello decode_hello(ByteView body);
Hello hello_for(const asfmux::StreamSet& streams, std::string config);
// The StreamSet a packager sees (numbers and kinds only; formats are not sent).
asfmux::StreamSet stream_set_of(const Hello& h);

// HEADER: description (WORD length + UTF-8), header objects (WORD count, each DWORD length +
// bytes), header extension objects (same), stream protections (WORD count, each: stream BYTE,
// flags BYTE (bit 0 encrypted, bit 1 stream type follows), [stream type GUID 16 bytes],
// extension count BYTE, each: system GUID 16, data size WORD, info length WORD + info).
Bytes encode_header(const asfmux::ProtectionHeader& h);
asfmux::ProtectionHeader decode_header(ByteView body);

// PROTECT: stream BYTE, kind BYTE, flags BYTE (bit 0 key frame), reserved BYTE, pts QWORD, dts
// QWORD (microseconds, signed), then the media object (the rest of the body).
Bytes encode_protect(const EncodedFrame& f);
EncodedFrame decode_protect(ByteView body);

// PROTECTED: extension length BYTE + extension data, then the media object (the rest, not empty).
Bytes encode_protected(ByteView extension, ByteView data);
struct Protected {
    Bytes extension;
    Bytes data;
};
Protected decode_protected(ByteView body);

// ERROR: UTF-8 text (the rest of the body, at most 4096 bytes shown).
std::string decode_error(ByteView body);

// The packager side: answers protocol messages with an asfmux::Packager. Used by the reference
// program and shared object (drm/tools) and by the tests' misbehaving packagers.
class PackagerServer {
public:
    // `make` builds the packager from the HELLO's configuration text.
    using Factory = std::function<std::unique_ptr<asfmux::Packager>(const std::string& config)>;
    explicit PackagerServer(Factory make) : make_(std::move(make)) {}
    // The reply to one request (an ERROR message when anything fails), or nullopt for END.
    std::optional<Bytes> answer(const Message& request);

private:
    Factory make_;
    std::unique_ptr<asfmux::Packager> packager_;
};

}  // namespace asfcast::drm::protocol
