// NTLMv2 client against the published values: RFC 1320 (MD4) and MS-NLMP 4.2.1/4.2.4.
#include <gtest/gtest.h>

#include <cctype>

#include "asfcast/push/http_auth_client.hpp"
#include "asfcast/push/wmhttp_wire.hpp"
#include "ntlm.hpp"

namespace asfcast::push {
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
        std::string line = dump.substr(pos, eol - pos);
        pos = eol + 1;
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::size_t i = colon + 1;
        while (i + 2 < line.size() + 1) {
            while (i < line.size() && line[i] == ' ') ++i;
            if (i + 2 > line.size() || !std::isxdigit(static_cast<unsigned char>(line[i])) ||
                !std::isxdigit(static_cast<unsigned char>(line[i + 1])) ||
                (i + 2 < line.size() && line[i + 2] != ' '))
                break;
            out.push_back(static_cast<std::uint8_t>(std::stoi(line.substr(i, 2), nullptr, 16)));
            i += 2;
        }
    }
    return out;
}

ByteView sv(std::string_view s) { return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

TEST(Ntlm, Md4Rfc1320) {
    EXPECT_EQ(hexs(ntlm::md4(sv(""))), "31d6cfe0d16ae931b73c59d7e0c089c0");
    EXPECT_EQ(hexs(ntlm::md4(sv("abc"))), "a448017aaf21d8525fc10ae87aa6729d");
    EXPECT_EQ(hexs(ntlm::md4(sv("message digest"))), "d9130a8164549fe818874806e1c7014b");
    EXPECT_EQ(hexs(ntlm::md4(sv("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))),
              "043f8582f241db351ce627e153e7f0e4");
    EXPECT_EQ(hexs(ntlm::md4(sv("12345678901234567890123456789012345678901234567890123456789012345678901234567890"))),
              "e33b4ddc9c38f2199c3e7b164fcc0536");
}

TEST(Ntlm, OwfValuesFromMsNlmp) {
    // 4.2.2.1.2 NTOWFv1("Password") and 4.2.4.1.1 NTOWFv2("Password", "User", "Domain").
    EXPECT_EQ(hexs(ntlm::md4(ntlm::utf16le("Password"))), "a4f49c406510bdcab6824ee7c30fd852");
    EXPECT_EQ(hexs(ntlm::ntowf_v2("Password", "User", "Domain")), "0c868a403bfd7a93a3001ef22ef02e3f");
}

// MS-NLMP 4.2.4.3.
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

TEST(Ntlm, AuthenticateMessageMatchesMsNlmp424) {
    const Bytes challenge = from_dump(kChallenge);
    const Bytes expected = from_dump(kAuthenticate);
    ASSERT_EQ(challenge.size(), 0x68u);
    ASSERT_EQ(expected.size(), 0xE8u);
    std::string err;
    auto c = ntlm::parse_challenge(challenge, &err);
    ASSERT_TRUE(c) << err;
    EXPECT_EQ(c->flags, 0xe28a8233u);
    EXPECT_FALSE(c->timestamp);
    ntlm::AuthInputs in;
    in.user = "User";
    in.password = "Password";
    in.domain = "Domain";
    in.workstation = "COMPUTER";
    in.client_challenge.fill(0xaa);
    in.random_session_key.fill(0x55);
    in.time = 0;
    in.flags = 0xe2888235u;
    in.version = std::array<std::uint8_t, 8>{0x05, 0x01, 0x28, 0x0a, 0x00, 0x00, 0x00, 0x0f};
    auto msg = ntlm::authenticate_message(ntlm::negotiate_message(), challenge, in, &err);
    ASSERT_TRUE(msg) << err;
    EXPECT_EQ(hexs(*msg), hexs(expected));
    // The pieces the spec lists separately: LMv2 response, NTProofStr, encrypted session key.
    EXPECT_EQ(hexs(ByteView(*msg).subspan(0x6c, 16)), "86c35097ac9cec102554764a57cccc19");
    EXPECT_EQ(hexs(ByteView(*msg).subspan(0x84, 16)), "68cd0ab851e51c96aabc927bebef6a1c");
    EXPECT_EQ(hexs(ByteView(*msg).subspan(0xd8, 16)), "c5dad2544fc9799094ce1ce90bc9d03e");
}

TEST(Ntlm, NegotiateMessageLikeWmEncoder) {
    const Bytes m = ntlm::negotiate_message();
    ASSERT_EQ(m.size(), 40u);
    // MS-WMHTTP 4.8 sends "TlRMTVNTUAABAAAAB4IIog..." (flags 0xa2088207 with Version); ours
    // asks for the same without the debugging Version.
    EXPECT_EQ(base64_encode(std::string(m.begin(), m.end())), "TlRMTVNTUAABAAAAB4IIoAAAAAAoAAAAAAAAACgAAAAAAAAAAAAAAA==");
}

TEST(Ntlm, TimestampBringsMicAndNoLmResponse) {
    // A challenge like Windows servers send: TargetInfo with MsvAvTimestamp.
    Bytes ti;
    {
        ByteWriter w(ti);
        w.u16(2), w.u16(12), w.bytes(ntlm::utf16le("Domain"));
        w.u16(7), w.u16(8), w.u64(0x01D0000000000000ull);
        w.u16(0), w.u16(0);
    }
    Bytes chal;
    ByteWriter w(chal);
    w.bytes("NTLMSSP\0", 8);
    w.u32(2);
    w.u16(0), w.u16(0), w.u32(56);
    w.u32(ntlm::kUnicode | ntlm::kNtlm | ntlm::kTargetInfo | ntlm::kExtendedSessionSecurity | ntlm::kAlwaysSign);
    w.bytes("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    w.zeros(8);
    w.u16(static_cast<std::uint16_t>(ti.size())), w.u16(static_cast<std::uint16_t>(ti.size())), w.u32(56);
    w.zeros(8);
    w.bytes(ti);
    ntlm::AuthInputs in;
    in.user = "enc";
    in.password = "pw";
    in.domain = "WMS";
    in.client_challenge.fill(0x11);
    std::string err;
    const Bytes neg = ntlm::negotiate_message();
    auto msg = ntlm::authenticate_message(neg, chal, in, &err);
    ASSERT_TRUE(msg) << err;
    const ByteView m(*msg);
    // LM response Z(24) at the offset its fields give; the MIC checks out.
    const std::size_t lm_off = m[16] | m[17] << 8;
    EXPECT_EQ(m[12], 24);
    EXPECT_EQ(hexs(m.subspan(lm_off, 24)), std::string(48, '0'));
    EXPECT_EQ(m[32] | m[33] << 8, 88);  // the first payload (domain) follows a header with the MIC field
    const std::size_t nt_len = m[20] | m[21] << 8, nt_off = m[24] | m[25] << 8;
    const Bytes nt(m.begin() + static_cast<std::ptrdiff_t>(nt_off), m.begin() + static_cast<std::ptrdiff_t>(nt_off + nt_len));
    const auto key = ntlm::ntowf_v2("pw", "enc", "WMS");
    const auto proof = ByteView(nt).subspan(0, 16);
    Bytes session_base(16);
    {
        auto k = ntlm::hmac_md5(key, proof);
        std::copy(k.begin(), k.end(), session_base.begin());
    }
    Bytes zeroed(m.begin(), m.end());
    std::fill(zeroed.begin() + 72, zeroed.begin() + 88, 0);
    Bytes all = neg;
    all.insert(all.end(), chal.begin(), chal.end());
    all.insert(all.end(), zeroed.begin(), zeroed.end());
    EXPECT_EQ(hexs(m.subspan(72, 16)), hexs(ntlm::hmac_md5(session_base, all)));
    // The client's AV_PAIRs carry MsvAvFlags with the MIC bit.
    const std::string blob = hexs(nt);
    EXPECT_NE(blob.find("0600040002000000"), std::string::npos);
}

TEST(Ntlm, MalformedChallenges) {
    std::string err;
    EXPECT_FALSE(ntlm::parse_challenge(Bytes{}, &err));
    Bytes c = from_dump(kChallenge);
    c[8] = 3;
    EXPECT_FALSE(ntlm::parse_challenge(c, &err));
    c = from_dump(kChallenge);
    c[44] = 0x60;  // TargetInfo offset past the end
    EXPECT_FALSE(ntlm::parse_challenge(c, &err));
    c = from_dump(kChallenge);
    c.resize(c.size() - 4);  // no MsvAvEOL
    c[40] = 0x20;
    EXPECT_FALSE(ntlm::parse_challenge(c, &err));
}

TEST(Ntlm, HttpHandshakeOnOneConnection) {
    HttpAuthClient a("WMS\\enc", "pw");
    a.set_random_source([](std::size_t n) { return std::string(n, '\x42'); });
    a.set_ntlm_time([] { return std::uint64_t{0}; });
    auto d = a.on_unauthorized({"Negotiate", "NTLM"}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::retry_same_connection);
    const std::string h1 = a.authorization("POST", "/live");
    ASSERT_EQ(h1.rfind("NTLM ", 0), 0u) << h1;
    EXPECT_EQ(base64_decode(h1.substr(5)).value().substr(0, 8), std::string("NTLMSSP\0", 8));
    const Bytes chal = from_dump(kChallenge);
    d = a.on_unauthorized({"NTLM " + base64_encode(std::string(chal.begin(), chal.end()))}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::retry_same_connection);
    const std::string h2 = a.authorization("POST", "/live");
    ASSERT_EQ(h2.rfind("NTLM ", 0), 0u);
    const std::string msg = base64_decode(h2.substr(5)).value();
    EXPECT_EQ(msg[8], 3);
    // Domain and user split from "WMS\enc".
    EXPECT_NE(msg.find(std::string("W\0M\0S\0", 6)), std::string::npos);
    EXPECT_NE(msg.find(std::string("e\0n\0c\0", 6)), std::string::npos);
    a.on_success();
    EXPECT_EQ(a.authorization("POST", "/live"), "");  // the connection is authenticated
    // Refused after the full handshake: bad credentials.
    d = a.on_unauthorized({"NTLM"}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::retry_same_connection);  // a new handshake
    (void)a.authorization("POST", "/live");
    (void)a.on_unauthorized({"NTLM " + base64_encode(std::string(chal.begin(), chal.end()))}, true);
    (void)a.authorization("POST", "/live");
    d = a.on_unauthorized({"NTLM"}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::bad_credentials);
}

}  // namespace
}  // namespace asfcast::push
