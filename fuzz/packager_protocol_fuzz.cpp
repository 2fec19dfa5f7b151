// libFuzzer target for the packager protocol (drm/protocol.hpp) as asfcast reads it from an
// external program or a shared object, and for the PlayReady Object reader used by inspect:
// any input either decodes or throws ProtocolError/ParseError; nothing else may escape, crash,
// overread or hang. Messages that decode are encoded again and must decode the same; requests
// are also answered by a PackagerServer with the reference packager (a fixed test key). The input
// is also read as a key file's text and as the reference packager's configuration text.
#include <cstddef>
#include <cstdint>

#include "asfcast/drm/playready.hpp"
#include "asfcast/drm/protocol.hpp"
#include "../drm/tools/reference_config.hpp"

using namespace asfcast;
using namespace asfcast::drm;

namespace {

void decode_body(protocol::Type type, ByteView body) {
    using namespace protocol;
    try {
        switch (type) {
            case Type::hello: {
                const Hello h = decode_hello(body);
                if (decode_hello(encode_hello(h)).streams.size() != h.streams.size()) __builtin_trap();
                break;
            }
            case Type::header: {
                const auto h = decode_header(body);
                if (encode_header(h) != Bytes(body.begin(), body.end()) && h.description.size() < 0xFFFF) __builtin_trap();
                break;
            }
            case Type::protect: {
                const EncodedFrame f = decode_protect(body);
                if (decode_protect(encode_protect(f)).data != f.data) __builtin_trap();
                break;
            }
            case Type::protected_object: (void)decode_protected(body); break;
            case Type::error: (void)decode_error(body); break;
            case Type::end: break;
        }
    } catch (const ProtocolError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView input(data, size);
    static protocol::PackagerServer server([](const std::string&) -> std::unique_ptr<asfmux::Packager> {
        std::array<std::uint8_t, 16> k{};
        for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i);
        return std::make_unique<playready::PlayReadyPackager>(SecretKey(k), playready::WrmHeader{}, 1);
    });
    // As a stream of messages, fed in two pieces.
    protocol::MessageReader reader;
    try {
        reader.feed(input.first(size / 2));
        while (auto m = reader.next()) decode_body(m->type, m->body), (void)server.answer(*m);
        reader.feed(input.subspan(size / 2));
        while (auto m = reader.next()) decode_body(m->type, m->body), (void)server.answer(*m);
    } catch (const protocol::ProtocolError&) {
    }
    // The input as each kind of body.
    if (size > 0) decode_body(static_cast<protocol::Type>(data[0] & 0x80 ? 0x81 + (data[0] & 1) : 1 + (data[0] % 3)), input.subspan(1));
    // A PlayReady Object and its WRMHEADER.
    try {
        for (const auto& r : playready::parse_playready_object(input))
            (void)playready::summarize_wrmheader(playready::utf16le_to_utf8(r.value));
    } catch (const ParseError&) {
    }
    (void)playready::summarize_wrmheader(std::string_view(reinterpret_cast<const char*>(data), size));
    (void)playready::unbase64(std::string_view(reinterpret_cast<const char*>(data), size));
    // Key files (hex or base64) and the reference packager's configuration text.
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        (void)decode_secret_text(text, "fuzz");
    } catch (const std::invalid_argument&) {
    }
    try {
        (void)tools::parse_reference_config(text);
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
