#include "ntlm.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <stdexcept>

namespace asfcast::push {
namespace ntlm {
namespace {

constexpr std::uint8_t kSignature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};

std::uint32_t rotl(std::uint32_t x, int s) { return (x << s) | (x >> (32 - s)); }

void md4_block(std::uint32_t st[4], const std::uint8_t* p) {
    std::uint32_t x[16];
    for (int i = 0; i < 16; ++i)
        x[i] = static_cast<std::uint32_t>(p[4 * i]) | static_cast<std::uint32_t>(p[4 * i + 1]) << 8 |
               static_cast<std::uint32_t>(p[4 * i + 2]) << 16 | static_cast<std::uint32_t>(p[4 * i + 3]) << 24;
    std::uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    auto F = [](std::uint32_t x1, std::uint32_t y, std::uint32_t z) { return (x1 & y) | (~x1 & z); };
    auto G = [](std::uint32_t x1, std::uint32_t y, std::uint32_t z) { return (x1 & y) | (x1 & z) | (y & z); };
    auto H = [](std::uint32_t x1, std::uint32_t y, std::uint32_t z) { return x1 ^ y ^ z; };
    static const int s1[4] = {3, 7, 11, 19}, s2[4] = {3, 5, 9, 13}, s3[4] = {3, 9, 11, 15};
    static const int k2[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};
    static const int k3[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    for (int i = 0; i < 16; ++i) {
        const std::uint32_t t = rotl(a + F(b, c, d) + x[i], s1[i % 4]);
        a = d, d = c, c = b, b = t;
    }
    for (int i = 0; i < 16; ++i) {
        const std::uint32_t t = rotl(a + G(b, c, d) + x[k2[i]] + 0x5A827999u, s2[i % 4]);
        a = d, d = c, c = b, b = t;
    }
    for (int i = 0; i < 16; ++i) {
        const std::uint32_t t = rotl(a + H(b, c, d) + x[k3[i]] + 0x6ED9EBA1u, s3[i % 4]);
        a = d, d = c, c = b, b = t;
    }
    st[0] += a, st[1] += b, st[2] += c, st[3] += d;
}

Bytes cat(std::initializer_list<ByteView> parts) {
    Bytes out;
    for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

std::uint16_t rd16(ByteView b, std::size_t at) { return static_cast<std::uint16_t>(b[at] | b[at + 1] << 8); }
std::uint32_t rd32(ByteView b, std::size_t at) {
    return static_cast<std::uint32_t>(b[at]) | static_cast<std::uint32_t>(b[at + 1]) << 8 |
           static_cast<std::uint32_t>(b[at + 2]) << 16 | static_cast<std::uint32_t>(b[at + 3]) << 24;
}

constexpr std::uint16_t kAvEol = 0, kAvFlags = 6, kAvTimestamp = 7, kAvTargetName = 9, kAvChannelBindings = 10;

}  // namespace

Key md4(ByteView data) {
    std::uint32_t st[4] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u};
    std::size_t i = 0;
    for (; i + 64 <= data.size(); i += 64) md4_block(st, data.data() + i);
    std::uint8_t tail[128] = {};
    const std::size_t rest = data.size() - i;
    if (rest) std::memcpy(tail, data.data() + i, rest);
    tail[rest] = 0x80;
    const std::size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
    for (int k = 0; k < 8; ++k) tail[tail_len - 8 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(bits >> (8 * k));
    md4_block(st, tail);
    if (tail_len == 128) md4_block(st, tail + 64);
    Key out{};
    for (int w = 0; w < 4; ++w)
        for (int k = 0; k < 4; ++k) out[static_cast<std::size_t>(4 * w + k)] = static_cast<std::uint8_t>(st[w] >> (8 * k));
    return out;
}

Key hmac_md5(ByteView key, ByteView data) {
    Key out{};
    unsigned int len = 0;
    if (!HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len) ||
        len != out.size())
        throw std::runtime_error("OpenSSL HMAC-MD5 failed");
    return out;
}

void rc4(ByteView key, Bytes& data) {
    std::uint8_t s[256];
    for (int i = 0; i < 256; ++i) s[i] = static_cast<std::uint8_t>(i);
    std::uint8_t j = 0;
    for (int i = 0; i < 256; ++i) {
        j = static_cast<std::uint8_t>(j + s[i] + key[static_cast<std::size_t>(i) % key.size()]);
        std::swap(s[i], s[j]);
    }
    std::uint8_t a = 0, b = 0;
    for (auto& byte : data) {
        a = static_cast<std::uint8_t>(a + 1);
        b = static_cast<std::uint8_t>(b + s[a]);
        std::swap(s[a], s[b]);
        byte ^= s[static_cast<std::uint8_t>(s[a] + s[b])];
    }
}

Bytes utf16le(std::string_view utf8) {
    Bytes out;
    ByteWriter w(out);
    w.utf16le(utf8, false);
    return out;
}

Key ntowf_v2(std::string_view password, std::string_view user, std::string_view domain) {
    std::string upper(user);
    for (auto& c : upper)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const Key nt = md4(utf16le(password));
    return hmac_md5(nt, utf16le(upper + std::string(domain)));
}

std::optional<Challenge> parse_challenge(ByteView msg, std::string* error) {
    auto fail = [&](const char* why) -> std::optional<Challenge> {
        if (error) *error = why;
        return std::nullopt;
    };
    if (msg.size() < 32 || std::memcmp(msg.data(), kSignature, 8) != 0) return fail("not an NTLMSSP message");
    if (rd32(msg, 8) != 2) return fail("not a CHALLENGE_MESSAGE");
    Challenge c;
    c.flags = rd32(msg, 20);
    std::memcpy(c.server_challenge.data(), msg.data() + 24, 8);
    if (msg.size() >= 48 && (c.flags & kTargetInfo)) {
        const std::size_t len = rd16(msg, 40);
        const std::size_t off = rd32(msg, 44);
        if (off > msg.size() || len > msg.size() - off) return fail("TargetInfo outside the message");
        c.target_info.assign(msg.begin() + static_cast<std::ptrdiff_t>(off),
                             msg.begin() + static_cast<std::ptrdiff_t>(off + len));
        // Walk the AV_PAIRs: they must end with MsvAvEOL inside TargetInfo.
        std::size_t p = 0;
        bool eol = false;
        const ByteView ti(c.target_info);
        while (p + 4 <= ti.size()) {
            const std::uint16_t id = rd16(ti, p);
            const std::size_t avlen = rd16(ti, p + 2);
            if (p + 4 + avlen > ti.size()) return fail("AV_PAIR runs past TargetInfo");
            if (id == kAvEol) {
                eol = true;
                c.target_info.resize(p + 4);
                break;
            }
            if (id == kAvTimestamp && avlen == 8) {
                std::uint64_t t = 0;
                for (int k = 7; k >= 0; --k) t = t << 8 | ti[p + 4 + static_cast<std::size_t>(k)];
                c.timestamp = t;
            }
            p += 4 + avlen;
        }
        if (!eol) return fail("TargetInfo without MsvAvEOL");
    }
    return c;
}

Bytes negotiate_message() {
    Bytes out;
    ByteWriter w(out);
    w.bytes(kSignature, 8);
    w.u32(1);
    w.u32(kClientFlags);
    w.u16(0), w.u16(0), w.u32(40);  // DomainNameFields: none
    w.u16(0), w.u16(0), w.u32(40);  // WorkstationFields: none
    w.zeros(8);                     // Version (flag not set)
    return out;
}

std::optional<Bytes> authenticate_message(ByteView negotiate, ByteView challenge, const AuthInputs& in,
                                          std::string* error) {
    auto chal = parse_challenge(challenge, error);
    if (!chal) return std::nullopt;
    std::uint32_t flags = in.flags ? *in.flags : (chal->flags & (kClientFlags | kTargetInfo));
    if (!in.flags && !(flags & kUnicode) && !(flags & kOem)) flags |= kUnicode;
    if (in.version && !in.flags) flags |= kVersion;
    const bool unicode = flags & kUnicode;
    auto encode = [&](const std::string& s) { return unicode ? utf16le(s) : Bytes(s.begin(), s.end()); };

    const Key response_key = ntowf_v2(in.password, in.user, in.domain);
    const std::uint64_t time = chal->timestamp ? *chal->timestamp : in.time;
    const bool with_mic = chal->timestamp.has_value();

    Bytes av = chal->target_info;
    if (with_mic && av.size() >= 4) {
        // 3.1.5.1.2: MsvAvFlags with the MIC bit, empty channel bindings and target name.
        av.resize(av.size() - 4);  // drop EOL
        bool had_flags = false;
        for (std::size_t p = 0; p + 4 <= av.size();) {
            const std::uint16_t id = rd16(av, p);
            const std::size_t len = rd16(av, p + 2);
            if (id == kAvFlags && len == 4) {
                av[p + 4] |= 0x02;
                had_flags = true;
            }
            p += 4 + len;
        }
        ByteWriter w(av);
        if (!had_flags) w.u16(kAvFlags), w.u16(4), w.u32(2);
        w.u16(kAvChannelBindings), w.u16(16), w.zeros(16);
        w.u16(kAvTargetName), w.u16(0);
        w.u16(kAvEol), w.u16(0);
    }

    Bytes temp;
    {
        ByteWriter w(temp);
        w.u8(1), w.u8(1), w.zeros(6);
        w.u64(time);
        w.bytes(in.client_challenge.data(), 8);
        w.zeros(4);
        w.bytes(av);
        w.zeros(4);
    }
    const ByteView sc(chal->server_challenge.data(), 8);
    const ByteView cc(in.client_challenge.data(), 8);
    const Key nt_proof = hmac_md5(response_key, cat({sc, temp}));
    const Bytes nt_response = cat({ByteView(nt_proof), temp});
    Bytes lm_response;
    if (with_mic) {
        lm_response.assign(24, 0);
    } else {
        const Key lm = hmac_md5(response_key, cat({sc, cc}));
        lm_response = cat({ByteView(lm), cc});
    }
    const Key session_base_key = hmac_md5(response_key, nt_proof);
    Key exported = session_base_key;  // KXKEY for NTLMv2
    Bytes encrypted_key;
    if ((flags & kKeyExch) && (flags & (kSign | kSeal))) {
        exported = in.random_session_key;
        encrypted_key.assign(exported.begin(), exported.end());
        rc4(session_base_key, encrypted_key);
    }

    const Bytes domain = encode(in.domain), user = encode(in.user), ws = encode(in.workstation);
    const std::size_t header = 72 + (with_mic ? 16 : 0);
    Bytes out;
    ByteWriter w(out);
    w.bytes(kSignature, 8);
    w.u32(3);
    std::size_t off = header;
    const Bytes* order[6] = {&domain, &user, &ws, &lm_response, &nt_response, &encrypted_key};
    std::size_t offsets[6];
    for (int i = 0; i < 6; ++i) {
        offsets[i] = off;
        off += order[i]->size();
    }
    auto field = [&](int i) {
        w.u16(static_cast<std::uint16_t>(order[i]->size()));
        w.u16(static_cast<std::uint16_t>(order[i]->size()));
        w.u32(static_cast<std::uint32_t>(offsets[i]));
    };
    field(3);  // LmChallengeResponseFields
    field(4);  // NtChallengeResponseFields
    field(0);  // DomainNameFields
    field(1);  // UserNameFields
    field(2);  // WorkstationFields
    field(5);  // EncryptedRandomSessionKeyFields
    w.u32(flags);
    if (in.version && (flags & kVersion)) w.bytes(in.version->data(), 8);
    else w.zeros(8);
    if (with_mic) w.zeros(16);
    for (auto* p : order) w.bytes(*p);
    if (with_mic) {
        const Key mic = hmac_md5(exported, cat({negotiate, challenge, out}));
        std::memcpy(out.data() + 72, mic.data(), mic.size());
    }
    return out;
}

}  // namespace ntlm

NtlmClient::NtlmClient(std::string user, std::string password, std::string domain, std::string workstation,
                       std::function<std::string(std::size_t)> random, std::function<std::uint64_t()> filetime_now)
    : user_(std::move(user)),
      password_(std::move(password)),
      domain_(std::move(domain)),
      workstation_(std::move(workstation)),
      random_(std::move(random)),
      filetime_now_(std::move(filetime_now)) {}

std::string NtlmClient::negotiate_message() const {
    const Bytes m = ntlm::negotiate_message();
    return std::string(m.begin(), m.end());
}

std::optional<std::string> NtlmClient::authenticate_message(std::string_view challenge, std::string* error) const {
    ntlm::AuthInputs in;
    in.user = user_;
    in.password = password_;
    in.domain = domain_;
    in.workstation = workstation_;
    const std::string cc = random_(8);
    const std::string rk = random_(16);
    if (cc.size() != 8 || rk.size() != 16) {
        if (error) *error = "random source failed";
        return std::nullopt;
    }
    std::memcpy(in.client_challenge.data(), cc.data(), 8);
    std::memcpy(in.random_session_key.data(), rk.data(), 16);
    in.time = filetime_now_();
    const Bytes neg = ntlm::negotiate_message();
    auto msg = ntlm::authenticate_message(
        neg, ByteView(reinterpret_cast<const std::uint8_t*>(challenge.data()), challenge.size()), in, error);
    if (!msg) return std::nullopt;
    return std::string(msg->begin(), msg->end());
}

}  // namespace asfcast::push
