#include "asfcast/core/ntlm.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace asfcast::ntlm {
namespace {

constexpr std::uint8_t kSignature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};

// MD4 and RC4 live in OpenSSL 3's legacy provider (Debian's libssl3 ships it). They are fetched
// from a library context of our own, so loading that provider changes nothing for the rest of the
// process (the default context keeps only the default algorithms).
struct LegacyAlgorithms {
    OSSL_LIB_CTX* ctx = nullptr;
    OSSL_PROVIDER* legacy = nullptr;
    OSSL_PROVIDER* base = nullptr;
    EVP_MD* md4 = nullptr;
    EVP_CIPHER* rc4 = nullptr;
    LegacyAlgorithms() {
        ctx = OSSL_LIB_CTX_new();
        if (ctx) {
            legacy = OSSL_PROVIDER_load(ctx, "legacy");
            base = OSSL_PROVIDER_load(ctx, "default");
        }
        if (legacy) {
            md4 = EVP_MD_fetch(ctx, "MD4", nullptr);
            rc4 = EVP_CIPHER_fetch(ctx, "RC4", nullptr);
        }
    }
    ~LegacyAlgorithms() {
        EVP_CIPHER_free(rc4);
        EVP_MD_free(md4);
        if (base) OSSL_PROVIDER_unload(base);
        if (legacy) OSSL_PROVIDER_unload(legacy);
        OSSL_LIB_CTX_free(ctx);
    }
};

const LegacyAlgorithms& legacy_algorithms() {
    static const LegacyAlgorithms algorithms;
    if (!algorithms.md4 || !algorithms.rc4)
        throw std::runtime_error(
            "OpenSSL's legacy provider (MD4, RC4 for NTLM, MS-NLMP 3.3.2) could not be loaded: install libssl3 "
            "with ossl-modules/legacy.so, or set OPENSSL_MODULES to its folder");
    return algorithms;
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

}  // namespace

Key md4(ByteView data) {
    Key out{};
    unsigned int len = 0;
    if (!EVP_Digest(data.data(), data.size(), out.data(), &len, legacy_algorithms().md4, nullptr) || len != out.size())
        throw std::runtime_error("OpenSSL MD4 failed");
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
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    const unsigned int key_len = static_cast<unsigned int>(key.size());
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_uint("keylen", const_cast<unsigned int*>(&key_len)),
                                 OSSL_PARAM_construct_end()};
    int n = 0, tail = 0;
    if (!c || !EVP_EncryptInit_ex2(c.get(), legacy_algorithms().rc4, nullptr, nullptr, params) ||
        !EVP_EncryptInit_ex2(c.get(), nullptr, key.data(), nullptr, nullptr) ||
        !EVP_EncryptUpdate(c.get(), data.data(), &n, data.data(), static_cast<int>(data.size())) ||
        !EVP_EncryptFinal_ex(c.get(), data.data() + n, &tail) || static_cast<std::size_t>(n + tail) != data.size())
        throw std::runtime_error("OpenSSL RC4 failed");
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
    if (rd32(msg, 8) != kChallengeMessage) return fail("not a CHALLENGE_MESSAGE");  // MS-NLMP 2.2.1.2
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
    // MS-NLMP 2.2.1.1 NEGOTIATE_MESSAGE.
    Bytes out;
    ByteWriter w(out);
    w.bytes(kSignature, 8);
    w.u32(kNegotiateMessage);
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

    // MS-NLMP 2.2.2.7 NTLMv2_CLIENT_CHALLENGE (temp of 3.3.2).
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
    // MS-NLMP 2.2.1.3 AUTHENTICATE_MESSAGE.
    Bytes out;
    ByteWriter w(out);
    w.bytes(kSignature, 8);
    w.u32(kAuthenticateMessage);
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

bool constant_time_equal(ByteView a, ByteView b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::uint32_t> message_type(ByteView msg) {
    if (msg.size() < 12 || std::memcmp(msg.data(), kSignature, 8) != 0) return std::nullopt;
    return rd32(msg, 8);
}

// ---------------------------------------------------------------------------------------------
// Server role

namespace {

// A payload field (Len, MaxLen, BufferOffset; 2.2.1.1-2.2.1.3) at `at`: the bytes it points to,
// or nullopt when they lie outside the message. MaxLen MUST be ignored on receipt.
std::optional<ByteView> payload_field(ByteView msg, std::size_t at) {
    const std::size_t len = rd16(msg, at);
    const std::size_t off = rd32(msg, at + 4);
    if (len == 0) return ByteView{};
    if (off > msg.size() || len > msg.size() - off) return std::nullopt;
    return msg.subspan(off, len);
}

// A name from an AUTHENTICATE_MESSAGE as UTF-8: UTF-16LE with the Unicode flag, else OEM (taken
// as bytes). nullopt for an odd length, unpaired surrogates, NUL or invalid bytes.
std::optional<std::string> decode_name(ByteView raw, bool unicode) {
    std::string out;
    if (!unicode) {
        for (std::uint8_t b : raw) {
            if (b == 0 || b >= 0x80) return std::nullopt;  // OEM code pages beyond ASCII are not guessed
            out.push_back(static_cast<char>(b));
        }
        return out;
    }
    if (raw.size() % 2) return std::nullopt;
    for (std::size_t i = 0; i < raw.size(); i += 2) {
        std::uint32_t cp = rd16(raw, i);
        if (cp == 0 || (cp >= 0xDC00 && cp < 0xE000)) return std::nullopt;
        if (cp >= 0xD800 && cp < 0xDC00) {
            if (i + 3 >= raw.size()) return std::nullopt;
            const std::uint32_t lo = rd16(raw, i + 2);
            if (lo < 0xDC00 || lo >= 0xE000) return std::nullopt;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 2;
        }
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }
    return out;
}

void av_pair(ByteWriter& w, std::uint16_t id, ByteView value) {
    // MS-NLMP 2.2.2.1 AV_PAIR: AvId, AvLen, Value.
    w.u16(id);
    w.u16(static_cast<std::uint16_t>(value.size()));
    w.bytes(value);
}

}  // namespace

std::optional<Negotiate> parse_negotiate(ByteView msg, std::string* error) {
    auto fail = [&](const char* why) -> std::optional<Negotiate> {
        if (error) *error = why;
        return std::nullopt;
    };
    // MS-NLMP 2.2.1.1: Signature, MessageType, NegotiateFlags, DomainNameFields,
    // WorkstationFields (the last two and Version may be missing in old clients' 16-byte form).
    const auto type = message_type(msg);
    if (!type) return fail("not an NTLMSSP message");
    if (*type != kNegotiateMessage) return fail("not a NEGOTIATE_MESSAGE");
    if (msg.size() < 16) return fail("NEGOTIATE_MESSAGE shorter than its fixed fields");
    Negotiate n;
    n.flags = rd32(msg, 12);
    if (msg.size() >= 32 && (!payload_field(msg, 16) || !payload_field(msg, 24)))
        return fail("NEGOTIATE_MESSAGE field outside the message");
    return n;
}

std::uint32_t server_flags(std::uint32_t negotiate_flags) {
    // MS-NLMP 3.2.5.1.1: what the client asked for that we support, plus the flags a server always sets.
    std::uint32_t flags = kRequestTarget | kNtlm | kAlwaysSign | kTargetInfo | kTargetTypeServer;
    if (negotiate_flags & kUnicode) flags |= kUnicode;
    else if (negotiate_flags & kOem) flags |= kOem;
    else flags |= kUnicode;  // neither asked: Unicode, which every NTLMv2 client speaks
    if (negotiate_flags & kExtendedSessionSecurity) flags |= kExtendedSessionSecurity;
    flags |= negotiate_flags & (kSign | kSeal | kKeyExch | k128 | k56);
    return flags;
}

Bytes challenge_message(std::uint32_t negotiate_flags, const Challenge8& server_challenge, std::uint64_t filetime,
                        const ServerNames& names) {
    const std::uint32_t flags = server_flags(negotiate_flags);
    const bool unicode = flags & kUnicode;
    const Bytes target_name = unicode ? utf16le(names.nb_computer)
                                      : Bytes(names.nb_computer.begin(), names.nb_computer.end());
    // MS-NLMP 2.2.2.1 / 3.2.5.1.1: TargetInfo is always Unicode; computer and domain names, then
    // the time (MsvAvTimestamp, which tells the client to send a MIC, 3.1.5.1.2), then MsvAvEOL.
    Bytes target_info;
    {
        ByteWriter t(target_info);
        av_pair(t, kAvNbDomainName, utf16le(names.nb_domain));
        av_pair(t, kAvNbComputerName, utf16le(names.nb_computer));
        if (!names.dns_computer.empty()) av_pair(t, kAvDnsComputerName, utf16le(names.dns_computer));
        Bytes stamp;
        ByteWriter(stamp).u64(filetime);
        av_pair(t, kAvTimestamp, stamp);
        av_pair(t, kAvEol, {});
    }
    // MS-NLMP 2.2.1.2 CHALLENGE_MESSAGE: Signature, MessageType, TargetNameFields, NegotiateFlags,
    // ServerChallenge, Reserved, TargetInfoFields, Version (zero: the Version flag is not set),
    // then the payload: TargetName, TargetInfo.
    constexpr std::uint32_t kHeader = 56;
    Bytes out;
    ByteWriter w(out);
    w.bytes(kSignature, 8);
    w.u32(kChallengeMessage);
    w.u16(static_cast<std::uint16_t>(target_name.size()));
    w.u16(static_cast<std::uint16_t>(target_name.size()));
    w.u32(kHeader);
    w.u32(flags & ~kVersion);
    w.bytes(server_challenge.data(), server_challenge.size());
    w.zeros(8);
    w.u16(static_cast<std::uint16_t>(target_info.size()));
    w.u16(static_cast<std::uint16_t>(target_info.size()));
    w.u32(kHeader + static_cast<std::uint32_t>(target_name.size()));
    w.zeros(8);
    w.bytes(target_name);
    w.bytes(target_info);
    return out;
}

std::optional<Authenticate> parse_authenticate(ByteView msg, std::string* error) {
    auto fail = [&](const char* why) -> std::optional<Authenticate> {
        if (error) *error = why;
        return std::nullopt;
    };
    // MS-NLMP 2.2.1.3 AUTHENTICATE_MESSAGE: Signature, MessageType, LmChallengeResponseFields,
    // NtChallengeResponseFields, DomainNameFields, UserNameFields, WorkstationFields,
    // EncryptedRandomSessionKeyFields, NegotiateFlags, Version, MIC, Payload.
    const auto type = message_type(msg);
    if (!type) return fail("not an NTLMSSP message");
    if (*type != kAuthenticateMessage) return fail("not an AUTHENTICATE_MESSAGE");
    if (msg.size() < 64) return fail("AUTHENTICATE_MESSAGE shorter than its fixed fields");
    Authenticate a;
    a.flags = rd32(msg, 60);
    const auto lm = payload_field(msg, 12), nt = payload_field(msg, 20), domain = payload_field(msg, 28),
               user = payload_field(msg, 36), workstation = payload_field(msg, 44), key = payload_field(msg, 52);
    if (!lm || !nt || !domain || !user || !workstation || !key)
        return fail("AUTHENTICATE_MESSAGE field outside the message");
    const bool unicode = a.flags & kUnicode;
    auto d = decode_name(*domain, unicode), u = decode_name(*user, unicode), ws = decode_name(*workstation, unicode);
    if (!d || !u || !ws) return fail("AUTHENTICATE_MESSAGE name is not valid text");
    a.domain = std::move(*d);
    a.user = std::move(*u);
    a.workstation = std::move(*ws);
    a.lm_response.assign(lm->begin(), lm->end());
    a.nt_response.assign(nt->begin(), nt->end());
    a.encrypted_random_session_key.assign(key->begin(), key->end());
    a.payload_after_mic = msg.size() >= 88;
    for (std::size_t at : {12u, 20u, 28u, 36u, 44u, 52u})
        if (rd16(msg, at) != 0 && rd32(msg, at + 4) < 88) a.payload_after_mic = false;
    return a;
}

std::optional<ClientChallengeBlob> parse_ntlmv2_response(ByteView nt_response, std::string* error) {
    auto fail = [&](const char* why) -> std::optional<ClientChallengeBlob> {
        if (error) *error = why;
        return std::nullopt;
    };
    // MS-NLMP 2.2.2.8 NTLMv2_RESPONSE: Response (16 bytes), NTLMv2_CLIENT_CHALLENGE (2.2.2.7):
    // RespType, HiRespType, Reserved1, Reserved2, TimeStamp, ChallengeFromClient, Reserved3, AvPairs.
    if (nt_response.size() < 16 + 28 + 4) return fail("NTLMv2 response too short");
    const ByteView blob = nt_response.subspan(16);
    if (blob[0] != 1 || blob[1] != 1) return fail("NTLMv2 client challenge of an unknown version");
    ClientChallengeBlob c;
    c.timestamp = static_cast<std::uint64_t>(rd32(blob, 8)) | static_cast<std::uint64_t>(rd32(blob, 12)) << 32;
    std::memcpy(c.client_challenge.data(), blob.data() + 16, 8);
    std::size_t p = 28;
    while (true) {
        if (p + 4 > blob.size()) return fail("NTLMv2 AvPairs without MsvAvEOL");
        const std::uint16_t id = rd16(blob, p);
        const std::size_t len = rd16(blob, p + 2);
        if (len > blob.size() - p - 4) return fail("AV_PAIR runs past the NTLMv2 response");
        if (id == kAvEol) break;
        if (id == kAvFlags) {
            if (len != 4) return fail("MsvAvFlags of the wrong length");
            c.av_flags = rd32(blob, p + 4);
        }
        p += 4 + len;
    }
    return c;
}

Key nt_proof(const Key& response_key_nt, const Challenge8& server_challenge, ByteView temp) {
    // MS-NLMP 3.3.2: NTProofStr = HMAC_MD5(ResponseKeyNT, ConcatenationOf(CHALLENGE_MESSAGE.ServerChallenge, temp)).
    return hmac_md5(response_key_nt, cat({ByteView(server_challenge.data(), server_challenge.size()), temp}));
}

Verification verify_authenticate(const Authenticate& m, ByteView authenticate_bytes, const ServerExchange& exchange,
                                 std::string_view password) {
    Verification v;
    if (m.user.empty() && m.nt_response.empty()) {
        v.failure = "anonymous logon";
        return v;
    }
    if (m.nt_response.size() <= 24) {
        v.failure = m.nt_response.empty() ? "LM-only response (NTLMv2 required)" : "NTLMv1 response (NTLMv2 required)";
        return v;
    }
    std::string why;
    const auto blob = parse_ntlmv2_response(m.nt_response, &why);
    if (!blob) {
        v.failure = why;
        return v;
    }
    v.timestamp = blob->timestamp;
    const ByteView response(m.nt_response);
    const ByteView proof = response.subspan(0, 16);
    const ByteView temp = response.subspan(16);
    // MS-NLMP 3.2.5.1.2: with the domain the client sent, then with NIL ("NTLM servers SHOULD
    // support NTLM clients which incorrectly use NIL for the UserDom").
    std::optional<Key> matched_key;
    for (std::string_view domain : {std::string_view(m.domain), std::string_view{}}) {
        const Key key = ntowf_v2(password, m.user, domain);
        const Key expected = nt_proof(key, exchange.server_challenge, temp);
        if (constant_time_equal(expected, proof)) {
            matched_key = key;
            break;
        }
        if (m.domain.empty()) break;
    }
    if (!matched_key) {
        v.failure = "wrong password";
        return v;
    }
    // SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr) (3.3.2); KXKEY is the SessionBaseKey
    // for NTLMv2 (3.4.5.1).
    v.session_base_key = hmac_md5(*matched_key, proof);
    if (blob->av_flags && (*blob->av_flags & kAvFlagMicPresent)) {
        Key exported = v.session_base_key;
        if ((m.flags & kKeyExch) && (m.flags & (kSign | kSeal))) {
            // 3.2.5.1.2: ExportedSessionKey = RC4K(KeyExchangeKey, EncryptedRandomSessionKey).
            if (m.encrypted_random_session_key.size() != 16) {
                v.failure = "key exchange without a 16-byte EncryptedRandomSessionKey";
                return v;
            }
            Bytes k = m.encrypted_random_session_key;
            rc4(v.session_base_key, k);
            std::memcpy(exported.data(), k.data(), exported.size());
        }
        if (!m.payload_after_mic || authenticate_bytes.size() < 88) {
            v.failure = "MsvAvFlags announces a MIC the message has no room for";
            return v;
        }
        // MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE with MIC = Z(16)).
        Bytes zeroed(authenticate_bytes.begin(), authenticate_bytes.end());
        std::fill(zeroed.begin() + 72, zeroed.begin() + 88, std::uint8_t{0});
        const Key mic = hmac_md5(exported, cat({exchange.negotiate, exchange.challenge, zeroed}));
        if (!constant_time_equal(mic, authenticate_bytes.subspan(72, 16))) {
            v.failure = "MIC mismatch";
            return v;
        }
        v.mic_verified = true;
    }
    v.ok = true;
    return v;
}

}  // namespace asfcast::ntlm
