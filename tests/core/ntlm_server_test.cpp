// The NTLM server role in core (MS-NLMP 3.2.5.1): the published NTLMv2 values of MS-NLMP 4.2.4
// verified the way the pull server verifies a client, the CHALLENGE_MESSAGE we send read back
// field by field (2.2.1.2), and malformed client messages refused with a reason.
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "asfcast/core/ntlm.hpp"

namespace asfcast::ntlm {
namespace {

std::string hexs(ByteView b) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (auto c : b) {
        s.push_back(d[c >> 4]);
        s.push_back(d[c & 15]);
    }
    return s;
}

// Hex dump lines as printed in MS-NLMP ("0000000: 4e 54 ... NTLM...") -> bytes.
Bytes from_dump(const std::string& dump) {
    Bytes out;
    std::size_t pos = 0;
    while (pos < dump.size()) {
        auto eol = dump.find('\n', pos);
        if (eol == std::string::npos) eol = dump.size();
        const std::string line = dump.substr(pos, eol - pos);
        pos = eol + 1;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::size_t i = colon + 1;
        while (true) {
            while (i < line.size() && line[i] == ' ') ++i;
            if (i + 2 > line.size() || !std::isxdigit(static_cast<unsigned char>(line[i])) ||
                !std::isxdigit(static_cast<unsigned char>(line[i + 1])) || (i + 2 < line.size() && line[i + 2] != ' '))
                break;
            out.push_back(static_cast<std::uint8_t>(std::stoi(line.substr(i, 2), nullptr, 16)));
            i += 2;
        }
    }
    return out;
}

// MS-NLMP 4.2.4.3: the CHALLENGE_MESSAGE and the AUTHENTICATE_MESSAGE answering it
// (User "User", UserDom "Domain", Passwd "Password", ServerChallenge 0123456789abcdef,
// ClientChallenge aa*8, Time 0, RandomSessionKey 55*16).
const char* kChallenge = R"(
0000000: 4e 54 4c 4d 53 53 50 00 02 00 00 00 0c 00 0c 00
0000010: 38 00 00 00 33 82 8a e2 01 23 45 67 89 ab cd ef
0000020: 00 00 00 00 00 00 00 00 24 00 24 00 44 00 00 00
0000030: 06 00 70 17 00 00 00 0f 53 00 65 00 72 00 76 00
0000040: 65 00 72 00 02 00 0c 00 44 00 6f 00 6d 00 61 00
0000050: 69 00 6e 00 01 00 0c 00 53 00 65 00 72 00 76 00
0000060: 65 00 72 00 00 00 00 00
)";
const char* kAuthenticate = R"(
0000000: 4e 54 4c 4d 53 53 50 00 03 00 00 00 18 00 18 00
0000010: 6c 00 00 00 54 00 54 00 84 00 00 00 0c 00 0c 00
0000020: 48 00 00 00 08 00 08 00 54 00 00 00 10 00 10 00
0000030: 5c 00 00 00 10 00 10 00 d8 00 00 00 35 82 88 e2
0000040: 05 01 28 0a 00 00 00 0f 44 00 6f 00 6d 00 61 00
0000050: 69 00 6e 00 55 00 73 00 65 00 72 00 43 00 4f 00
0000060: 4d 00 50 00 55 00 54 00 45 00 52 00 86 c3 50 97
0000070: ac 9c ec 10 25 54 76 4a 57 cc cc 19 aa aa aa aa
0000080: aa aa aa aa 68 cd 0a b8 51 e5 1c 96 aa bc 92 7b
0000090: eb ef 6a 1c 01 01 00 00 00 00 00 00 00 00 00 00
00000A0: 00 00 00 00 aa aa aa aa aa aa aa aa 00 00 00 00
00000B0: 02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00
00000C0: 01 00 0c 00 53 00 65 00 72 00 76 00 65 00 72 00
00000D0: 00 00 00 00 00 00 00 00 c5 da d2 54 4f c9 79 90
00000E0: 94 ce 1c e9 0b c9 d0 3e
)";

constexpr Challenge8 kServerChallenge = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

TEST(NtlmServer, ParsesTheMsNlmp424AuthenticateMessage) {
    const Bytes msg = from_dump(kAuthenticate);
    ASSERT_EQ(msg.size(), 0xE8u);
    std::string error;
    const auto a = parse_authenticate(msg, &error);
    ASSERT_TRUE(a) << error;
    EXPECT_EQ(a->flags, 0xe2888235u);
    EXPECT_EQ(a->user, "User");
    EXPECT_EQ(a->domain, "Domain");
    EXPECT_EQ(a->workstation, "COMPUTER");
    EXPECT_EQ(hexs(a->lm_response), "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");  // 4.2.4.2.1
    EXPECT_EQ(a->nt_response.size(), 0x54u);
    EXPECT_EQ(hexs(ByteView(a->nt_response).subspan(0, 16)), "68cd0ab851e51c96aabc927bebef6a1c");  // 4.2.4.2.2
    EXPECT_EQ(hexs(a->encrypted_random_session_key), "c5dad2544fc9799094ce1ce90bc9d03e");  // 4.2.4.2.3
    EXPECT_FALSE(a->payload_after_mic);  // a Version but no MIC field: the payload starts at 0x48
    const auto blob = parse_ntlmv2_response(a->nt_response, &error);
    ASSERT_TRUE(blob) << error;
    EXPECT_EQ(blob->timestamp, 0u);
    EXPECT_EQ(hexs(blob->client_challenge), "aaaaaaaaaaaaaaaa");
    EXPECT_FALSE(blob->av_flags);
}

TEST(NtlmServer, ComputesTheMsNlmp424Values) {
    // 4.2.4.1.1 NTOWFv2, 4.2.4.2.2 NTProofStr over the server challenge and temp (4.2.4.1.3).
    const Key key = ntowf_v2("Password", "User", "Domain");
    EXPECT_EQ(hexs(key), "0c868a403bfd7a93a3001ef22ef02e3f");
    const Bytes msg = from_dump(kAuthenticate);
    const ByteView temp = ByteView(msg).subspan(0x84 + 16, 0x54 - 16);
    EXPECT_EQ(hexs(nt_proof(key, kServerChallenge, temp)), "68cd0ab851e51c96aabc927bebef6a1c");
}

TEST(NtlmServer, VerifiesTheMsNlmp424Answer) {
    const Bytes challenge = from_dump(kChallenge);
    const Bytes msg = from_dump(kAuthenticate);
    std::string error;
    const auto a = parse_authenticate(msg, &error);
    ASSERT_TRUE(a) << error;
    const ServerExchange exchange{{}, challenge, kServerChallenge};
    const Verification v = verify_authenticate(*a, msg, exchange, "Password");
    EXPECT_TRUE(v.ok) << v.failure;
    EXPECT_EQ(hexs(v.session_base_key), "8de40ccadbc14a82f15cb0ad0de95ca3");  // 4.2.4.1.2
    EXPECT_EQ(v.timestamp, 0u);
    EXPECT_FALSE(v.mic_verified);  // the example's TargetInfo has no timestamp, so no MIC

    // Every other password, server challenge or proof fails.
    EXPECT_EQ(verify_authenticate(*a, msg, exchange, "password").failure, "wrong password");
    EXPECT_EQ(verify_authenticate(*a, msg, exchange, "").failure, "wrong password");
    ServerExchange other = exchange;
    other.server_challenge[7] ^= 1;
    EXPECT_EQ(verify_authenticate(*a, msg, other, "Password").failure, "wrong password");
    auto tampered = *a;
    tampered.nt_response[0] ^= 0x80;
    EXPECT_FALSE(verify_authenticate(tampered, msg, exchange, "Password").ok);
    tampered = *a;
    tampered.nt_response[16 + 8] ^= 1;  // the blob's timestamp: covered by the proof
    EXPECT_FALSE(verify_authenticate(tampered, msg, exchange, "Password").ok);
    // The user name is case-insensitive (NTOWFv2 upper-cases it).
    tampered = *a;
    tampered.user = "USER";
    EXPECT_TRUE(verify_authenticate(tampered, msg, exchange, "Password").ok);
}

TEST(NtlmServer, AcceptsAClientThatUsedNoDomain) {
    // MS-NLMP 3.2.5.1.2: servers SHOULD accept a response computed with NIL for UserDom.
    const Bytes challenge = from_dump(kChallenge);
    AuthInputs in;
    in.user = "User";
    in.password = "Password";
    in.domain = "";
    in.client_challenge.fill(0x11);
    std::string error;
    auto msg = authenticate_message(negotiate_message(), challenge, in, &error);
    ASSERT_TRUE(msg) << error;
    auto a = parse_authenticate(*msg, &error);
    ASSERT_TRUE(a) << error;
    a->domain = "Domain";  // what a client that hashed without a domain may still send
    EXPECT_TRUE(verify_authenticate(*a, *msg, {{}, challenge, kServerChallenge}, "Password").ok);
}

TEST(NtlmServer, RefusesNtlmV1LmOnlyAndAnonymous) {
    const Bytes challenge = from_dump(kChallenge);
    const ServerExchange exchange{{}, challenge, kServerChallenge};
    Authenticate a;
    a.user = "User";
    a.nt_response.assign(24, 0x33);
    EXPECT_EQ(verify_authenticate(a, {}, exchange, "Password").failure, "NTLMv1 response (NTLMv2 required)");
    a.nt_response.clear();
    a.lm_response.assign(24, 0x33);
    EXPECT_EQ(verify_authenticate(a, {}, exchange, "Password").failure, "LM-only response (NTLMv2 required)");
    a.user.clear();
    EXPECT_EQ(verify_authenticate(a, {}, exchange, "Password").failure, "anonymous logon");
}

TEST(NtlmServer, ChallengeMessageFields) {
    ServerNames names;
    names.nb_computer = "ENCODER";
    names.nb_domain = "ASFCAST";
    names.dns_computer = "encoder.example.org";
    const Challenge8 sc = {1, 2, 3, 4, 5, 6, 7, 8};
    const std::uint64_t time = 0x01D9'1234'5678'9ABCull;
    const Bytes m = challenge_message(kClientFlags, sc, time, names);
    // 2.2.1.2: header of 56 bytes, TargetName at 56, TargetInfo after it.
    ASSERT_GE(m.size(), 56u);
    EXPECT_EQ(hexs(ByteView(m).subspan(0, 12)), "4e544c4d5353500002000000");
    EXPECT_EQ(m[12] | m[13] << 8, 14);  // "ENCODER" in UTF-16LE
    EXPECT_EQ(m[16], 56);
    EXPECT_EQ(hexs(ByteView(m).subspan(24, 8)), "0102030405060708");
    EXPECT_EQ(hexs(ByteView(m).subspan(32, 8)), "0000000000000000");  // Reserved
    std::string error;
    const auto c = parse_challenge(m, &error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->flags, server_flags(kClientFlags));
    for (std::uint32_t f : {kUnicode, kRequestTarget, kNtlm, kAlwaysSign, kTargetInfo, kTargetTypeServer,
                            kExtendedSessionSecurity, k128, k56})
        EXPECT_TRUE((c->flags & f) != 0u) << std::hex << f;
    EXPECT_FALSE((c->flags & kOem) != 0u) << "Unicode was asked for, so not OEM (3.2.5.1.1)";
    EXPECT_FALSE((c->flags & (kKeyExch | kSign | kSeal | kVersion)) != 0u);
    ASSERT_TRUE(c->timestamp);
    EXPECT_EQ(*c->timestamp, time);
    // The AV_PAIRs in order: NbDomainName, NbComputerName, DnsComputerName, Timestamp, EOL.
    const ByteView ti(c->target_info);
    std::vector<std::uint16_t> ids;
    for (std::size_t p = 0; p + 4 <= ti.size();) {
        ids.push_back(static_cast<std::uint16_t>(ti[p] | ti[p + 1] << 8));
        p += 4 + static_cast<std::size_t>(ti[p + 2] | ti[p + 3] << 8);
    }
    EXPECT_EQ(ids, (std::vector<std::uint16_t>{kAvNbDomainName, kAvNbComputerName, kAvDnsComputerName, kAvTimestamp,
                                               kAvEol}));
    EXPECT_EQ(hexs(ti.subspan(4, 14)), hexs(utf16le("ASFCAST")));
    // Only OEM asked: OEM TargetName.
    EXPECT_TRUE((server_flags(kOem) & kOem) != 0u);
    EXPECT_FALSE((server_flags(kOem) & kUnicode) != 0u);
    const Bytes oem = challenge_message(kOem, sc, time, names);
    EXPECT_EQ(oem[12], 7);
}

TEST(NtlmServer, ClientAndServerAgreeWithAMic) {
    // Our client answers our challenge (which carries MsvAvTimestamp, so the client sends a MIC).
    const Bytes negotiate = negotiate_message();
    const Challenge8 sc = {9, 8, 7, 6, 5, 4, 3, 2};
    const Bytes challenge = challenge_message(kClientFlags, sc, 133'000'000'000'000'000ull, {"ENC", "ASFCAST", ""});
    AuthInputs in;
    in.user = "alice";
    in.password = "pw";
    in.domain = "ASFCAST";
    in.client_challenge.fill(0x21);
    std::string error;
    const auto msg = authenticate_message(negotiate, challenge, in, &error);
    ASSERT_TRUE(msg) << error;
    const auto a = parse_authenticate(*msg, &error);
    ASSERT_TRUE(a) << error;
    EXPECT_TRUE(a->payload_after_mic);
    const ServerExchange exchange{negotiate, challenge, sc};
    Verification v = verify_authenticate(*a, *msg, exchange, "pw");
    EXPECT_TRUE(v.ok) << v.failure;
    EXPECT_TRUE(v.mic_verified);
    EXPECT_EQ(v.timestamp, 133'000'000'000'000'000ull);
    // A MIC over other messages (e.g. a NEGOTIATE the client did not send) fails.
    Bytes other_negotiate = negotiate;
    other_negotiate[12] ^= 0x04;
    v = verify_authenticate(*a, *msg, {other_negotiate, challenge, sc}, "pw");
    EXPECT_EQ(v.failure, "MIC mismatch");
    Bytes tampered = *msg;
    tampered[80] ^= 1;
    v = verify_authenticate(*a, tampered, exchange, "pw");
    EXPECT_EQ(v.failure, "MIC mismatch");
}

TEST(NtlmServer, MalformedClientMessages) {
    std::string error;
    EXPECT_FALSE(parse_negotiate(Bytes{}, &error));
    EXPECT_FALSE(parse_authenticate(Bytes{}, &error));
    Bytes m = from_dump(kAuthenticate);
    EXPECT_FALSE(parse_negotiate(m, &error));
    EXPECT_EQ(error, "not a NEGOTIATE_MESSAGE");
    Bytes bad = m;
    bad[0x10] = 0xF0;  // LmChallengeResponse offset past the end
    EXPECT_FALSE(parse_authenticate(bad, &error));
    EXPECT_EQ(error, "AUTHENTICATE_MESSAGE field outside the message");
    bad = m;
    bad[0x24] = 9;  // UserName of an odd length in UTF-16
    EXPECT_FALSE(parse_authenticate(bad, &error));
    bad = m;
    bad[0x54] = 0;  // a NUL in the user name ('U' -> 0)
    EXPECT_FALSE(parse_authenticate(bad, &error));
    bad = m;
    bad.resize(0x30);
    EXPECT_FALSE(parse_authenticate(bad, &error));
    // The NTLMv2 blob: wrong version, no MsvAvEOL, an AV_PAIR running past the end.
    auto a = parse_authenticate(m, &error);
    ASSERT_TRUE(a) << error;
    Bytes nt = a->nt_response;
    nt[16] = 2;
    EXPECT_FALSE(parse_ntlmv2_response(nt, &error));
    nt = a->nt_response;
    nt.resize(nt.size() - 8);  // cuts the EOL and the trailing Reserved
    EXPECT_FALSE(parse_ntlmv2_response(nt, &error));
    nt = a->nt_response;
    nt[16 + 28 + 2] = 0xFF;  // first AvLen
    EXPECT_FALSE(parse_ntlmv2_response(nt, &error));
    EXPECT_TRUE(parse_negotiate(negotiate_message(), &error));
}

}  // namespace
}  // namespace asfcast::ntlm
