// The reference PlayReady packager (playready.hpp). Section numbers: PlayReady Header
// Specification (MicrosoftDocs/PlayReady playready-header-specification.md) unless said otherwise.
#include "asfcast/drm/playready.hpp"
#include "asfcast/core/text.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>


namespace asfcast::drm::playready {
namespace {

asfmux::Guid must_guid(std::string_view s) { return *asfmux::parse_guid(s); }

struct EvpCtx {
    EVP_CIPHER_CTX* p = EVP_CIPHER_CTX_new();
    ~EvpCtx() { EVP_CIPHER_CTX_free(p); }
};

// One AES-128 block operation or a CTR run, through libcrypto. Throws on any libcrypto failure.
void evp_run(const EVP_CIPHER* cipher, const SecretKey& key, const std::uint8_t* iv, const std::uint8_t* in,
             std::uint8_t* out, std::size_t n) {
    EvpCtx ctx;
    if (!ctx.p || EVP_EncryptInit_ex(ctx.p, cipher, nullptr, key.bytes().data(), iv) != 1)
        throw asfmux::PackagerError("AES: libcrypto could not set up the cipher");
    EVP_CIPHER_CTX_set_padding(ctx.p, 0);
    std::size_t done = 0;
    while (done < n) {
        const int chunk = static_cast<int>(std::min<std::size_t>(n - done, 1 << 30));
        int len = 0;
        if (EVP_EncryptUpdate(ctx.p, out + done, &len, in + done, chunk) != 1 || len != chunk)
            throw asfmux::PackagerError("AES: libcrypto failed");
        done += static_cast<std::size_t>(chunk);
    }
}

void sha256(std::initializer_list<std::span<const std::uint8_t>> parts, std::uint8_t out[32]) {
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned len = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256: libcrypto failed");
    for (auto p : parts)
        if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) throw std::runtime_error("SHA-256: libcrypto failed");
    if (EVP_DigestFinal_ex(ctx.get(), out, &len) != 1 || len != 32) throw std::runtime_error("SHA-256: libcrypto failed");
}

void put_be64(std::uint8_t* p, std::uint64_t v) {
    for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}

// Text between <tag> and </tag> (first occurrence), or "".
std::string element_text(std::string_view xml, std::string_view tag) {
    const std::string open = "<" + std::string(tag) + ">";
    const std::string close = "</" + std::string(tag) + ">";
    const auto a = xml.find(open);
    if (a == std::string_view::npos) return {};
    const auto b = xml.find(close, a + open.size());
    if (b == std::string_view::npos) return {};
    return std::string(xml.substr(a + open.size(), b - a - open.size()));
}

// Value of attr="..." inside the start tag that begins at `at`, or "".
std::string attribute(std::string_view xml, std::size_t at, std::string_view attr) {
    const auto end = xml.find('>', at);
    const std::string_view tag = xml.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    const std::string key = " " + std::string(attr) + "=\"";
    const auto a = tag.find(key);
    if (a == std::string_view::npos) return {};
    const auto b = tag.find('"', a + key.size());
    if (b == std::string_view::npos) return {};
    return std::string(tag.substr(a + key.size(), b - a - key.size()));
}

std::string kid_text(const std::string& b64) {
    if (auto bytes = unbase64(b64); bytes && bytes->size() == 16) {
        asfmux::Guid g{};
        std::copy(bytes->begin(), bytes->end(), g.begin());
        return asfmux::guid_to_string(g);
    }
    return b64;
}

}  // namespace

const asfmux::Guid kProtectionSystemIdentifierObject = must_guid("9A04F079-9840-4286-AB92-E65BE0885F95");
const asfmux::Guid kPlayReadySystemId = must_guid("F4637010-03C3-42CD-B932-B48ADF3A6A54");
const asfmux::Guid kEncryptionSampleIdExtension = must_guid("6698B84E-0AFA-4330-AEB2-1C0A98D7A44D");

SecretKey content_key_from_seed(std::span<const std::uint8_t> key_seed, const asfmux::Guid& kid) {
    // playready-key-seed.md: the seed is truncated to 30 bytes; the KID is Guid.ToByteArray().
    if (key_seed.size() < 30)
        throw std::invalid_argument("a PlayReady key seed must be at least 30 bytes, this one has " +
                                    std::to_string(key_seed.size()));
    const std::span<const std::uint8_t> seed = key_seed.first(30);
    const std::span<const std::uint8_t> id(kid.data(), kid.size());
    std::uint8_t a[32], b[32], c[32];
    sha256({seed, id}, a);
    sha256({seed, id, seed}, b);
    sha256({seed, id, seed, id}, c);
    std::array<std::uint8_t, 16> key{};
    for (std::size_t i = 0; i < 16; ++i)
        key[i] = static_cast<std::uint8_t>(a[i] ^ a[i + 16] ^ b[i] ^ b[i + 16] ^ c[i] ^ c[i + 16]);
    SecretKey out(key);
    OPENSSL_cleanse(key.data(), key.size());
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    OPENSSL_cleanse(c, sizeof c);
    return out;
}

std::string key_checksum(const SecretKey& key, const asfmux::Guid& kid) {
    // §5, AESCTR: the 16-byte KID encrypted with the content key in ECB mode; the first 8 bytes, base64.
    std::uint8_t out[16];
    evp_run(EVP_aes_128_ecb(), key, nullptr, kid.data(), out, 16);
    return base64(std::span<const std::uint8_t>(out, 8));
}

std::string base64(std::span<const std::uint8_t> bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const std::uint32_t v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
        for (int k = 18; k >= 0; k -= 6) out += kAlphabet[(v >> k) & 63];
    }
    if (i + 1 == bytes.size()) {
        const std::uint32_t v = bytes[i] << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == bytes.size()) {
        const std::uint32_t v = (bytes[i] << 16) | (bytes[i + 1] << 8);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> unbase64(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::vector<std::uint8_t> out;
    out.reserve(text.size() / 4 * 3);
    const auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        if (pad == 1 && text[i + 2] == '=') return std::nullopt;  // "x=y=" is not padding
        std::uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = text[i + static_cast<std::size_t>(k)];
            int d = 0;
            if (k >= 4 - pad) {
                if (c != '=') return std::nullopt;
            } else if ((d = value(c)) < 0) {
                return std::nullopt;
            }
            v = (v << 6) | static_cast<std::uint32_t>(d);
        }
        out.push_back(static_cast<std::uint8_t>(v >> 16));
        if (pad < 2) out.push_back(static_cast<std::uint8_t>(v >> 8));
        if (pad < 1) out.push_back(static_cast<std::uint8_t>(v));
    }
    return out;
}

std::string wrmheader_xml(const WrmHeader& h) {
    // §3.2: canonical XML, names case-sensitive, every element closed, namespace attribute first,
    // attributes in alphabetical order, no <?xml?> declaration.
    const std::string kid = base64(h.kid);
    std::string x = "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"" +
                    h.version + "\"><DATA>";
    if (h.version == "4.0.0.0") {
        // §3.6.2: PROTECTINFO with KEYLEN 16 and ALGID AESCTR, then KID and CHECKSUM elements
        // (the order of the spec's base64 example).
        x += "<PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>" + kid + "</KID>";
        if (!h.checksum.empty()) x += "<CHECKSUM>" + xml_escape(h.checksum) + "</CHECKSUM>";
    } else if (h.version == "4.2.0.0") {
        // §3.4.3: KIDS/KID with ALGID, CHECKSUM and VALUE attributes, in alphabetical order.
        x += "<PROTECTINFO><KIDS><KID ALGID=\"AESCTR\"";
        if (!h.checksum.empty()) x += " CHECKSUM=\"" + xml_escape(h.checksum) + "\"";
        x += " VALUE=\"" + kid + "\"></KID></KIDS></PROTECTINFO>";
    } else {
        throw std::invalid_argument("WRMHEADER version " + h.version + " is not written (allowed: 4.0.0.0, 4.2.0.0)");
    }
    if (!h.la_url.empty()) x += "<LA_URL>" + xml_escape(h.la_url) + "</LA_URL>";
    if (!h.lui_url.empty()) x += "<LUI_URL>" + xml_escape(h.lui_url) + "</LUI_URL>";
    if (!h.ds_id.empty()) x += "<DS_ID>" + xml_escape(h.ds_id) + "</DS_ID>";
    if (!h.custom_attributes.empty()) x += "<CUSTOMATTRIBUTES>" + h.custom_attributes + "</CUSTOMATTRIBUTES>";
    x += "</DATA></WRMHEADER>";
    return x;
}

Bytes playready_object(std::string_view wrmheader_utf8) {
    // §2: Length DWORD (the whole object), Record Count WORD, then records: Record Type WORD
    // (0x0001 PlayReady Header), Record Length WORD, Record Value (the WRMHEADER in UTF-16LE).
    Bytes xml;
    ByteWriter(xml).utf16le(wrmheader_utf8, false);
    if (xml.size() > 0xFFFF) throw std::invalid_argument("the WRMHEADER is longer than a PlayReady Object record holds");
    Bytes out;
    ByteWriter w(out);
    w.u32(static_cast<std::uint32_t>(4 + 2 + 4 + xml.size()));  // Length
    w.u16(1);                                                    // PlayReady Object Record Count
    w.u16(1);                                                    // Record Type: PlayReady Header
    w.u16(static_cast<std::uint16_t>(xml.size()));               // Record Length
    w.bytes(xml);                                                // Record Value
    return out;
}

std::vector<ProRecord> parse_playready_object(ByteView pro) {
    ByteReader r(pro, "PlayReady Object");
    const std::uint32_t length = r.u32();
    if (length != pro.size())
        throw ParseError("PlayReady Object: Length " + std::to_string(length) + " but " + std::to_string(pro.size()) +
                         " bytes");
    const std::uint16_t count = r.u16();
    std::vector<ProRecord> out;
    for (unsigned i = 0; i < count; ++i) {  // each reads >= 4 bytes: bounded by the input
        ProRecord rec;
        rec.type = r.u16();
        const ByteView v = r.bytes(r.u16());
        rec.value.assign(v.begin(), v.end());
        out.push_back(std::move(rec));
    }
    if (!r.empty()) throw ParseError("PlayReady Object: " + std::to_string(r.remaining()) + " bytes after the records");
    return out;
}

std::string utf16le_to_utf8(ByteView utf16) {
    ByteReader r(utf16, "UTF-16");
    return r.utf16le(utf16.size() & ~std::size_t{1});
}

WrmHeaderSummary summarize_wrmheader(std::string_view xml) {
    WrmHeaderSummary s;
    if (const auto at = xml.find("<WRMHEADER"); at != std::string_view::npos) s.version = attribute(xml, at, "version");
    s.la_url = element_text(xml, "LA_URL");
    s.algid = element_text(xml, "ALGID");
    s.checksum = element_text(xml, "CHECKSUM");
    for (std::size_t at = xml.find("<KID"); at != std::string_view::npos; at = xml.find("<KID", at + 4)) {
        if (at + 4 < xml.size() && xml[at + 4] == '>') {  // v4.0: <KID>base64</KID>
            const auto end = xml.find("</KID>", at);
            if (end != std::string_view::npos) s.kids.push_back(kid_text(std::string(xml.substr(at + 5, end - at - 5))));
        } else if (at + 4 < xml.size() && xml[at + 4] == ' ') {  // v4.1+: <KID ALGID= CHECKSUM= VALUE=>
            s.kids.push_back(kid_text(attribute(xml, at, "VALUE")));
            if (s.algid.empty()) s.algid = attribute(xml, at, "ALGID");
            if (s.checksum.empty()) s.checksum = attribute(xml, at, "CHECKSUM");
        }
        if (s.kids.size() >= 64) break;
    }
    return s;
}

Bytes protection_system_identifier_object(ByteView pro) {
    // Object ID, Object Size, System ID (PlayReady), System Version 1, Data Size, Data.
    Bytes out;
    ByteWriter w(out);
    w.bytes(kProtectionSystemIdentifierObject.data(), 16);
    w.u64(24 + 16 + 4 + 4 + pro.size());
    w.bytes(kPlayReadySystemId.data(), 16);
    w.u32(1);
    w.u32(static_cast<std::uint32_t>(pro.size()));
    w.bytes(pro);
    return out;
}

void aes_ctr(const SecretKey& key, std::uint64_t sample_id, std::uint64_t offset, std::span<std::uint8_t> data) {
    if (data.empty()) return;
    // Counter block: the sample ID (IV, big-endian) then the block offset from the start of the
    // media object (big-endian); OpenSSL's CTR increments the whole block big-endian, which is
    // the same while the block offset stays below 2^64.
    std::uint8_t iv[16];
    put_be64(iv, sample_id);
    put_be64(iv + 8, offset / 16);
    const std::size_t skip = offset % 16;
    if (skip == 0) {
        evp_run(EVP_aes_128_ctr(), key, iv, data.data(), data.data(), data.size());
        return;
    }
    // Start inside a block: run the cipher over `skip` dummy bytes first.
    std::vector<std::uint8_t> buf(skip + data.size(), 0);
    std::copy(data.begin(), data.end(), buf.begin() + static_cast<std::ptrdiff_t>(skip));
    evp_run(EVP_aes_128_ctr(), key, iv, buf.data(), buf.data(), buf.size());
    std::copy(buf.begin() + static_cast<std::ptrdiff_t>(skip), buf.end(), data.begin());
}

PlayReadyPackager::PlayReadyPackager(SecretKey key, WrmHeader header, std::uint64_t first_sample_id)
    : key_(std::move(key)), wrm_(std::move(header)), next_sample_id_(first_sample_id) {
    (void)wrmheader_xml(wrm_);  // validates the version up front
}

std::unique_ptr<PlayReadyPackager> PlayReadyPackager::from_settings(const PlayReadySettings& s) {
    WrmHeader h;
    h.version = s.header_version;
    if (s.kid.empty()) {
        h.kid = asfmux::random_guid();
    } else if (auto g = asfmux::parse_guid(s.kid)) {
        h.kid = *g;
    } else {
        throw std::runtime_error("drm.kid: '" + s.kid + "' is not a GUID (XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)");
    }
    const int sources = !s.key_file.empty() + !s.key.empty() + !s.key_seed_file.empty();
    if (sources != 1)
        throw std::runtime_error("drm: give exactly one of key_file, key_seed_file or key (the reference PlayReady "
                                 "packager needs the content key)");
    SecretKey key;
    if (!s.key_seed_file.empty()) {
        std::vector<std::uint8_t> seed = read_secret_file(s.key_seed_file, "drm.key_seed_file");
        try {
            key = content_key_from_seed(seed, h.kid);
        } catch (const std::invalid_argument& e) {
            OPENSSL_cleanse(seed.data(), seed.size());
            throw std::runtime_error("drm.key_seed_file " + s.key_seed_file + ": " + e.what());
        }
        OPENSSL_cleanse(seed.data(), seed.size());
    } else {
        std::vector<std::uint8_t> bytes = s.key_file.empty() ? decode_secret_text(s.key, "drm.key")
                                                             : read_secret_file(s.key_file, "drm.key_file");
        const std::size_t n = bytes.size();
        std::array<std::uint8_t, 16> k{};
        if (n == 16) std::copy(bytes.begin(), bytes.end(), k.begin());
        OPENSSL_cleanse(bytes.data(), bytes.size());
        if (n != 16)
            throw std::runtime_error((s.key_file.empty() ? std::string("drm.key") : "drm.key_file " + s.key_file) +
                                     ": a content key is 16 bytes (32 hex digits), this one has " + std::to_string(n));
        key = SecretKey(k);
        OPENSSL_cleanse(k.data(), k.size());
    }
    if (!s.la_url.empty() && s.la_url.rfind("http://", 0) != 0 && s.la_url.rfind("https://", 0) != 0)
        throw std::runtime_error("drm.la_url: '" + s.la_url + "' is not an absolute http(s) URL (PlayReady Header "
                                 "Specification: only absolute URLs are allowed)");
    h.la_url = s.la_url;
    h.lui_url = s.lui_url;
    h.ds_id = s.ds_id;
    if (s.checksum) h.checksum = key_checksum(key, h.kid);
    std::uint64_t first = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&first), sizeof first) != 1)
        throw std::runtime_error("drm: OpenSSL RAND_bytes failed");
    return std::make_unique<PlayReadyPackager>(std::move(key), std::move(h), first);
}

asfmux::ProtectionHeader PlayReadyPackager::header(const asfmux::StreamSet& streams) {
    asfmux::ProtectionHeader p;
    p.description = "PlayReady (reference packager) AES-128-CTR, WRMHEADER " + wrm_.version + ", KID " +
                    asfmux::guid_to_string(wrm_.kid) + (wrm_.la_url.empty() ? "" : ", LA_URL " + wrm_.la_url);
    p.header_objects.push_back(protection_system_identifier_object(playready_object(wrmheader_xml(wrm_))));
    // Every stream encrypted, each payload with its 8-byte sample ID. Script command streams keep
    // the Command Media type (see docs/drm.md: ffmpeg refuses a file with an unknown stream type).
    const auto add = [&](int number) {
        p.streams.push_back({number, true, {{kEncryptionSampleIdExtension, 8, {}}}, std::nullopt});
    };
    for (const auto& v : streams.video) add(v.stream);
    for (const auto& a : streams.audio) add(a.stream);
    for (const auto& c : streams.commands) add(c.stream);
    return p;
}

void PlayReadyPackager::protect(EncodedFrame& frame, Bytes& extension) {
    const std::uint64_t sample_id = next_sample_id_++;
    // Payload extension data: the sample ID, big-endian, 8 bytes.
    std::uint8_t be[8];
    put_be64(be, sample_id);
    extension.assign(be, be + 8);
    aes_ctr(key_, sample_id, 0, frame.data);
}

}  // namespace asfcast::drm::playready
