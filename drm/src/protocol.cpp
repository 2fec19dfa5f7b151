// The packager protocol (protocol.hpp, docs/drm.md).
#include "asfcast/drm/protocol.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

namespace asfcast::drm::protocol {
namespace {

bool known_type(std::uint8_t t) {
    return t == 0x01 || t == 0x02 || t == 0x03 || t == 0x81 || t == 0x82 || t == 0x7F;
}

std::uint8_t kind_code(MediaKind k) { return k == MediaKind::video ? 1 : k == MediaKind::audio ? 2 : 3; }

MediaKind kind_of(std::uint8_t code, const char* what) {
    switch (code) {
        case 1: return MediaKind::video;
        case 2: return MediaKind::audio;
        case 3: return MediaKind::command;
        default: throw ProtocolError(std::string(what) + ": stream kind " + std::to_string(code) + " (allowed 1, 2, 3)");
    }
}

asfmux::Guid read_guid(ByteReader& r) {
    const ByteView b = r.bytes(16);
    asfmux::Guid g{};
    std::copy(b.begin(), b.end(), g.begin());
    return g;
}

// Runs a decoder, turning ByteReader's ParseError into ProtocolError.
template <class F>
auto decoding(const char* what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const ParseError& e) {
        throw ProtocolError(std::string(what) + ": " + e.what());
    }
}

void check_stream(int n, const char* what) {
    if (n < 1 || n > 127) throw ProtocolError(std::string(what) + ": stream number " + std::to_string(n) + " (allowed 1..127)");
}

}  // namespace

const char* type_name(Type t) {
    switch (t) {
        case Type::hello: return "HELLO";
        case Type::protect: return "PROTECT";
        case Type::end: return "END";
        case Type::header: return "HEADER";
        case Type::protected_object: return "PROTECTED";
        case Type::error: return "ERROR";
    }
    return "?";
}

Bytes encode(Type type, std::uint32_t sequence, ByteView body) {
    if (body.size() > kMaxBody) throw ProtocolError("a message body of " + std::to_string(body.size()) + " bytes is too long");
    Bytes out;
    out.reserve(kHeadBytes + body.size());
    ByteWriter w(out);
    w.bytes(kMagic, 4);
    w.u8(static_cast<std::uint8_t>(type));
    w.u8(0);   // flags
    w.u16(0);  // reserved
    w.u32(sequence);
    w.u32(static_cast<std::uint32_t>(body.size()));
    w.bytes(body);
    return out;
}

void MessageReader::feed(ByteView bytes) {
    if (pos_ > 0 && pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    }
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

std::optional<Message> MessageReader::next() {
    if (buf_.size() - pos_ < kHeadBytes) return std::nullopt;
    const std::uint8_t* h = buf_.data() + pos_;
    if (std::memcmp(h, kMagic, 4) != 0) throw ProtocolError("a message does not start with \"APK1\"");
    if (!known_type(h[4])) throw ProtocolError("unknown message type 0x" + hex(ByteView(h + 4, 1)));
    if (h[5] != 0 || h[6] != 0 || h[7] != 0) throw ProtocolError("flags and reserved fields must be 0");
    const std::uint32_t seq = h[8] | (h[9] << 8) | (h[10] << 16) | (std::uint32_t{h[11]} << 24);
    const std::uint32_t len = h[12] | (h[13] << 8) | (h[14] << 16) | (std::uint32_t{h[15]} << 24);
    if (len > kMaxBody) throw ProtocolError("a message announces " + std::to_string(len) + " bytes (at most 16 MiB)");
    if (buf_.size() - pos_ < kHeadBytes + len) return std::nullopt;
    Message m;
    m.type = static_cast<Type>(h[4]);
    m.sequence = seq;
    m.body.assign(buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + kHeadBytes),
                  buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + kHeadBytes + len));
    pos_ += kHeadBytes + len;
    if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    } else if (pos_ > (1u << 20)) {
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
        pos_ = 0;
    }
    return m;
}

Bytes encode_hello(const Hello& h) {
    Bytes out;
    ByteWriter w(out);
    w.u16(h.version);
    w.u16(static_cast<std::uint16_t>(h.streams.size()));
    for (const auto& s : h.streams) {
        w.u8(static_cast<std::uint8_t>(s.number));
        w.u8(kind_code(s.kind));
    }
    w.u32(static_cast<std::uint32_t>(h.config.size()));
    w.bytes(h.config.data(), h.config.size());
    return out;
}

Hello decode_hello(ByteView body) {
    return decoding("HELLO", [&] {
        ByteReader r(body, "HELLO");
        Hello h;
        h.version = r.u16();
        if (h.version != kVersion)
            throw ProtocolError("HELLO: protocol version " + std::to_string(h.version) + " (this side speaks 1)");
        const std::uint16_t n = r.u16();
        if (n > 127) throw ProtocolError("HELLO: " + std::to_string(n) + " streams (at most 127)");
        for (unsigned i = 0; i < n; ++i) {
            Hello::Stream s;
            s.number = r.u8();
            check_stream(s.number, "HELLO");
            s.kind = kind_of(r.u8(), "HELLO");
            h.streams.push_back(s);
        }
        const ByteView c = r.bytes(r.u32());
        h.config.assign(c.begin(), c.end());
        if (!r.empty()) throw ProtocolError("HELLO: " + std::to_string(r.remaining()) + " bytes after the configuration");
        return h;
    });
}

Hello hello_for(const asfmux::StreamSet& streams, std::string config) {
    Hello h;
    for (const auto& v : streams.video) h.streams.push_back({v.stream, MediaKind::video});
    for (const auto& a : streams.audio) h.streams.push_back({a.stream, MediaKind::audio});
    for (const auto& c : streams.commands) h.streams.push_back({c.stream, MediaKind::command});
    h.config = std::move(config);
    return h;
}

asfmux::StreamSet stream_set_of(const Hello& h) {
    asfmux::StreamSet s;
    for (const auto& st : h.streams) {
        if (st.kind == MediaKind::video) {
            VideoStreamFormat v;
            v.stream = st.number;
            s.video.push_back(v);
        } else if (st.kind == MediaKind::audio) {
            AudioStreamFormat a;
            a.stream = st.number;
            s.audio.push_back(a);
        } else {
            asfmux::CommandStreamFormat c;
            c.stream = st.number;
            s.commands.push_back(c);
        }
    }
    return s;
}

Bytes encode_header(const asfmux::ProtectionHeader& h) {
    Bytes out;
    ByteWriter w(out);
    const std::string d = h.description.substr(0, 0xFFFF);
    w.u16(static_cast<std::uint16_t>(d.size()));
    w.bytes(d.data(), d.size());
    for (const auto* list : {&h.header_objects, &h.header_extension_objects}) {
        w.u16(static_cast<std::uint16_t>(list->size()));
        for (const Bytes& o : *list) {
            w.u32(static_cast<std::uint32_t>(o.size()));
            w.bytes(o);
        }
    }
    w.u16(static_cast<std::uint16_t>(h.streams.size()));
    for (const auto& s : h.streams) {
        w.u8(static_cast<std::uint8_t>(s.stream));
        w.u8(static_cast<std::uint8_t>((s.encrypted ? 1 : 0) | (s.stream_type ? 2 : 0)));
        if (s.stream_type) w.bytes(s.stream_type->data(), 16);
        w.u8(static_cast<std::uint8_t>(s.extensions.size()));
        for (const auto& e : s.extensions) {
            w.bytes(e.id.data(), 16);
            w.u16(e.data_size);
            w.u16(static_cast<std::uint16_t>(e.info.size()));
            w.bytes(e.info);
        }
    }
    return out;
}

asfmux::ProtectionHeader decode_header(ByteView body) {
    return decoding("HEADER", [&] {
        ByteReader r(body, "HEADER");
        asfmux::ProtectionHeader h;
        const ByteView d = r.bytes(r.u16());
        h.description.assign(d.begin(), d.end());
        for (auto* list : {&h.header_objects, &h.header_extension_objects}) {
            const std::uint16_t n = r.u16();
            for (unsigned i = 0; i < n; ++i) {  // each reads >= 4 bytes: bounded by the input
                const ByteView o = r.bytes(r.u32());
                list->emplace_back(o.begin(), o.end());
            }
        }
        const std::uint16_t n = r.u16();
        if (n > 127) throw ProtocolError("HEADER: " + std::to_string(n) + " stream entries (at most 127)");
        for (unsigned i = 0; i < n; ++i) {
            asfmux::StreamProtection s;
            s.stream = r.u8();
            check_stream(s.stream, "HEADER");
            const std::uint8_t flags = r.u8();
            if (flags & ~3u) throw ProtocolError("HEADER: stream flags 0x" + hex(ByteView(&flags, 1)));
            s.encrypted = flags & 1;
            if (flags & 2) s.stream_type = read_guid(r);
            const std::uint8_t systems = r.u8();
            for (unsigned k = 0; k < systems; ++k) {
                asfmux::PayloadExtensionSystem e;
                e.id = read_guid(r);
                e.data_size = r.u16();
                const ByteView info = r.bytes(r.u16());
                e.info.assign(info.begin(), info.end());
                s.extensions.push_back(std::move(e));
            }
            h.streams.push_back(std::move(s));
        }
        if (!r.empty()) throw ProtocolError("HEADER: " + std::to_string(r.remaining()) + " bytes after the streams");
        return h;
    });
}

Bytes encode_protect(const EncodedFrame& f) {
    Bytes out;
    out.reserve(20 + f.data.size());
    ByteWriter w(out);
    w.u8(static_cast<std::uint8_t>(f.stream));
    w.u8(kind_code(f.kind));
    w.u8(f.keyframe ? 1 : 0);
    w.u8(0);
    w.u64(static_cast<std::uint64_t>(f.pts));
    w.u64(static_cast<std::uint64_t>(f.dts));
    w.bytes(f.data);
    return out;
}

EncodedFrame decode_protect(ByteView body) {
    return decoding("PROTECT", [&] {
        ByteReader r(body, "PROTECT");
        EncodedFrame f;
        f.stream = r.u8();
        check_stream(f.stream, "PROTECT");
        f.kind = kind_of(r.u8(), "PROTECT");
        const std::uint8_t flags = r.u8();
        if (flags & ~1u) throw ProtocolError("PROTECT: flags 0x" + hex(ByteView(&flags, 1)));
        f.keyframe = flags & 1;
        (void)r.u8();
        f.pts = static_cast<Micros>(r.u64());
        f.dts = static_cast<Micros>(r.u64());
        const ByteView data = r.bytes(r.remaining());
        if (data.empty()) throw ProtocolError("PROTECT: an empty media object");
        f.data.assign(data.begin(), data.end());
        return f;
    });
}

Bytes encode_protected(ByteView extension, ByteView data) {
    if (extension.size() > 255) throw ProtocolError("PROTECTED: more than 255 bytes of extension data");
    Bytes out;
    out.reserve(1 + extension.size() + data.size());
    ByteWriter w(out);
    w.u8(static_cast<std::uint8_t>(extension.size()));
    w.bytes(extension);
    w.bytes(data);
    return out;
}

Protected decode_protected(ByteView body) {
    return decoding("PROTECTED", [&] {
        ByteReader r(body, "PROTECTED");
        Protected p;
        const ByteView ext = r.bytes(r.u8());
        p.extension.assign(ext.begin(), ext.end());
        const ByteView data = r.bytes(r.remaining());
        if (data.empty()) throw ProtocolError("PROTECTED: an empty media object");
        p.data.assign(data.begin(), data.end());
        return p;
    });
}

std::string decode_error(ByteView body) {
    std::string s(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(body.size(), 4096)));
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = ' ';
    return s;
}

std::optional<Bytes> PackagerServer::answer(const Message& request) {
    const auto error = [&](const std::string& what) {
        return encode(Type::error, request.sequence, ByteView(reinterpret_cast<const std::uint8_t*>(what.data()), what.size()));
    };
    try {
        switch (request.type) {
            case Type::hello: {
                const Hello h = decode_hello(request.body);
                packager_ = make_(h.config);
                if (!packager_) return error("the packager could not be set up");
                return encode(Type::header, request.sequence, encode_header(packager_->header(stream_set_of(h))));
            }
            case Type::protect: {
                if (!packager_) return error("PROTECT before HELLO");
                EncodedFrame f = decode_protect(request.body);
                Bytes ext;
                packager_->protect(f, ext);
                return encode(Type::protected_object, request.sequence, encode_protected(ext, f.data));
            }
            case Type::end: return std::nullopt;
            default: return error(std::string("unexpected ") + type_name(request.type) + " message");
        }
    } catch (const std::exception& e) {
        return error(e.what());
    }
}

}  // namespace asfcast::drm::protocol
