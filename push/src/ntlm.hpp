// NTLMv2 client messages (MS-NLMP): NEGOTIATE_MESSAGE and the AUTHENTICATE_MESSAGE answering a
// server's CHALLENGE_MESSAGE, connection-oriented. HTTP needs no session security, so no
// signing or sealing is asked for; a key is still exchanged when the server insists (KEY_EXCH
// with SIGN/SEAL) and a MIC is sent when the challenge carries a timestamp (3.1.5.1.2).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "asfcast/core/bytes.hpp"

namespace asfcast::push {

namespace ntlm {

// NegotiateFlags bits (2.2.2.5).
inline constexpr std::uint32_t kUnicode = 0x00000001, kOem = 0x00000002, kRequestTarget = 0x00000004,
                               kSign = 0x00000010, kSeal = 0x00000020, kNtlm = 0x00000200,
                               kAlwaysSign = 0x00008000, kExtendedSessionSecurity = 0x00080000,
                               kTargetInfo = 0x00800000, kVersion = 0x02000000, k128 = 0x20000000,
                               kKeyExch = 0x40000000, k56 = 0x80000000;
// What our NEGOTIATE_MESSAGE asks for (the same set as the WMEncoder example, MS-WMHTTP 4.8,
// without the debugging Version).
inline constexpr std::uint32_t kClientFlags =
    kUnicode | kOem | kRequestTarget | kNtlm | kAlwaysSign | kExtendedSessionSecurity | k128 | k56;

using Key = std::array<std::uint8_t, 16>;

Key md4(ByteView data);
Key hmac_md5(ByteView key, ByteView data);
void rc4(ByteView key, Bytes& data);  // in place
Bytes utf16le(std::string_view utf8);
// NTOWFv2(Passwd, User, UserDom) (3.3.2); User upper-cased (ASCII letters).
Key ntowf_v2(std::string_view password, std::string_view user, std::string_view domain);

struct Challenge {
    std::uint32_t flags = 0;
    std::array<std::uint8_t, 8> server_challenge{};
    Bytes target_info;                       // AV_PAIRs as sent, EOL included
    std::optional<std::uint64_t> timestamp;  // MsvAvTimestamp
};
// nullopt with *error set for a malformed CHALLENGE_MESSAGE.
std::optional<Challenge> parse_challenge(ByteView msg, std::string* error);

struct AuthInputs {
    std::string user, password, domain, workstation;
    std::array<std::uint8_t, 8> client_challenge{};
    std::uint64_t time = 0;                   // used when the challenge has no timestamp
    Key random_session_key{};                 // used with KEY_EXCH and SIGN/SEAL
    std::optional<std::uint32_t> flags;       // default: challenge flags & what we asked for
    std::optional<std::array<std::uint8_t, 8>> version;  // sent (with the Version flag) if set
};

Bytes negotiate_message();
// The AUTHENTICATE_MESSAGE; `negotiate` is the NEGOTIATE_MESSAGE we sent (for the MIC).
std::optional<Bytes> authenticate_message(ByteView negotiate, ByteView challenge, const AuthInputs& in,
                                          std::string* error);

}  // namespace ntlm

class NtlmClient {
public:
    NtlmClient(std::string user, std::string password, std::string domain, std::string workstation,
               std::function<std::string(std::size_t)> random, std::function<std::uint64_t()> filetime_now);

    // Binary NEGOTIATE_MESSAGE (2.2.1.1).
    std::string negotiate_message() const;
    // Binary AUTHENTICATE_MESSAGE (2.2.1.3) for a binary CHALLENGE_MESSAGE (2.2.1.2); nullopt
    // with *error set when the challenge is malformed.
    std::optional<std::string> authenticate_message(std::string_view challenge, std::string* error) const;

private:
    std::string user_, password_, domain_, workstation_;
    std::function<std::string(std::size_t)> random_;
    std::function<std::uint64_t()> filetime_now_;
};

}  // namespace asfcast::push
