// NTLM (MS-NLMP), connection-oriented, NTLMv2 only: the messages and the cryptography shared by
// the push client (push/, answering a server's challenge) and the pull server (pullserver/,
// challenging clients and verifying their answers). HTTP needs no session security, so neither
// side signs or seals; the key exchange and the MIC are still computed where the spec asks.
// MD4 and RC4 come from OpenSSL 3's legacy provider (Debian's libssl3 ships it), fetched into a library
// context of their own so the rest of the process keeps the default algorithms only.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "asfcast/core/bytes.hpp"

namespace asfcast::ntlm {

// NegotiateFlags bits (MS-NLMP 2.2.2.5).
inline constexpr std::uint32_t kUnicode = 0x00000001, kOem = 0x00000002, kRequestTarget = 0x00000004,
                               kSign = 0x00000010, kSeal = 0x00000020, kLmKey = 0x00000080, kNtlm = 0x00000200,
                               kAlwaysSign = 0x00008000, kTargetTypeDomain = 0x00010000,
                               kTargetTypeServer = 0x00020000, kExtendedSessionSecurity = 0x00080000,
                               kTargetInfo = 0x00800000, kVersion = 0x02000000, k128 = 0x20000000,
                               kKeyExch = 0x40000000, k56 = 0x80000000;
// What our NEGOTIATE_MESSAGE asks for (the same set as the WMEncoder example, MS-WMHTTP 4.8,
// without the debugging Version).
inline constexpr std::uint32_t kClientFlags =
    kUnicode | kOem | kRequestTarget | kNtlm | kAlwaysSign | kExtendedSessionSecurity | k128 | k56;

// AV_PAIR AvId values (MS-NLMP 2.2.2.1).
inline constexpr std::uint16_t kAvEol = 0, kAvNbComputerName = 1, kAvNbDomainName = 2, kAvDnsComputerName = 3,
                               kAvDnsDomainName = 4, kAvFlags = 6, kAvTimestamp = 7, kAvTargetName = 9,
                               kAvChannelBindings = 10;
// MsvAvFlags bit: the AUTHENTICATE_MESSAGE carries a MIC (2.2.2.1).
inline constexpr std::uint32_t kAvFlagMicPresent = 0x00000002;

// NTLMSSP MessageType values (2.2.1).
inline constexpr std::uint32_t kNegotiateMessage = 1, kChallengeMessage = 2, kAuthenticateMessage = 3;

using Key = std::array<std::uint8_t, 16>;
using Challenge8 = std::array<std::uint8_t, 8>;

Key md4(ByteView data);
Key hmac_md5(ByteView key, ByteView data);
void rc4(ByteView key, Bytes& data);  // in place
Bytes utf16le(std::string_view utf8);
// NTOWFv2(Passwd, User, UserDom) (3.3.2); User upper-cased (ASCII letters).
Key ntowf_v2(std::string_view password, std::string_view user, std::string_view domain);
// Compares in time that depends only on the lengths (CRYPTO_memcmp).
bool constant_time_equal(ByteView a, ByteView b);

// The MessageType of an NTLMSSP message (Signature checked), or nullopt.
std::optional<std::uint32_t> message_type(ByteView msg);

// ---------------------------------------------------------------------------------------------
// Client role

struct Challenge {
    std::uint32_t flags = 0;
    Challenge8 server_challenge{};
    Bytes target_info;                       // AV_PAIRs as sent, EOL included
    std::optional<std::uint64_t> timestamp;  // MsvAvTimestamp
};
// nullopt with *error set for a malformed CHALLENGE_MESSAGE.
std::optional<Challenge> parse_challenge(ByteView msg, std::string* error);

struct AuthInputs {
    std::string user, password, domain, workstation;
    Challenge8 client_challenge{};
    std::uint64_t time = 0;                   // used when the challenge has no timestamp
    Key random_session_key{};                 // used with KEY_EXCH and SIGN/SEAL
    std::optional<std::uint32_t> flags;       // default: challenge flags & what we asked for
    std::optional<std::array<std::uint8_t, 8>> version;  // sent (with the Version flag) if set
};

Bytes negotiate_message();
// The AUTHENTICATE_MESSAGE; `negotiate` is the NEGOTIATE_MESSAGE we sent (for the MIC).
std::optional<Bytes> authenticate_message(ByteView negotiate, ByteView challenge, const AuthInputs& in,
                                          std::string* error);

// ---------------------------------------------------------------------------------------------
// Server role (3.2.5.1)

struct Negotiate {
    std::uint32_t flags = 0;
};
// nullopt with *error set for a malformed NEGOTIATE_MESSAGE (2.2.1.1).
std::optional<Negotiate> parse_negotiate(ByteView msg, std::string* error);

// How the server names itself in the CHALLENGE_MESSAGE: TargetName and the TargetInfo AV_PAIRs.
// A server that is not in a domain: TargetName is the NetBIOS computer name (3.2.5.1.1).
struct ServerNames {
    std::string nb_computer;   // MsvAvNbComputerName, e.g. "ENCODER"
    std::string nb_domain;     // MsvAvNbDomainName, e.g. "ASFCAST"
    std::string dns_computer;  // MsvAvDnsComputerName (left out when empty)
};

// The NegotiateFlags a server answers a client's flags with (3.2.5.1.1): Unicode (else OEM),
// extended session security when asked, 128/56/sign/seal/key exchange as asked, and always
// REQUEST_TARGET, NTLM, ALWAYS_SIGN, TARGET_INFO and TARGET_TYPE_SERVER.
std::uint32_t server_flags(std::uint32_t negotiate_flags);
// The CHALLENGE_MESSAGE (2.2.1.2) for a client's NEGOTIATE flags: `server_challenge` is a fresh
// nonce, `filetime` the server's time (MsvAvTimestamp, 100 ns since 1601).
Bytes challenge_message(std::uint32_t negotiate_flags, const Challenge8& server_challenge, std::uint64_t filetime,
                        const ServerNames& names);

// The fields of an AUTHENTICATE_MESSAGE (2.2.1.3).
struct Authenticate {
    std::uint32_t flags = 0;
    Bytes lm_response, nt_response, encrypted_random_session_key;
    std::string domain, user, workstation;  // UTF-8
    bool payload_after_mic = false;         // every payload starts at or after offset 88 (room for a MIC)
};
// nullopt with *error set for a malformed message: fields outside it, names that are not
// UTF-16LE (with the Unicode flag) or hold a NUL.
std::optional<Authenticate> parse_authenticate(ByteView msg, std::string* error);

// The NTLMv2_CLIENT_CHALLENGE inside an NTLMv2 NtChallengeResponse (2.2.2.7, 2.2.2.8).
struct ClientChallengeBlob {
    std::uint64_t timestamp = 0;
    Challenge8 client_challenge{};
    std::optional<std::uint32_t> av_flags;  // MsvAvFlags
};
std::optional<ClientChallengeBlob> parse_ntlmv2_response(ByteView nt_response, std::string* error);

// NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp) (3.3.2), temp being the
// NtChallengeResponse after its first 16 bytes.
Key nt_proof(const Key& response_key_nt, const Challenge8& server_challenge, ByteView temp);

// What the server has of one exchange on a connection, to verify its AUTHENTICATE_MESSAGE.
struct ServerExchange {
    ByteView negotiate;  // the client's NEGOTIATE_MESSAGE (for the MIC)
    ByteView challenge;  // our CHALLENGE_MESSAGE
    Challenge8 server_challenge{};
};

struct Verification {
    bool ok = false;
    std::string failure;          // why not; never holds a secret
    std::uint64_t timestamp = 0;  // the client challenge's TimeStamp
    bool mic_verified = false;    // the message carried a MIC, and it was right
    Key session_base_key{};
};
// Verifies an AUTHENTICATE_MESSAGE with the password of the user it names (3.2.5.1.2): the
// NTLMv2 response (NTProofStr over our ServerChallenge and the client's blob, with the domain the
// client sent, then with NIL as the spec allows), then the MIC when MsvAvFlags announces one.
// NTLMv1 and LM-only answers and anonymous logons are refused. The timestamp is only returned:
// whether it is recent enough is the caller's policy.
Verification verify_authenticate(const Authenticate& message, ByteView authenticate_bytes,
                                 const ServerExchange& exchange, std::string_view password);

}  // namespace asfcast::ntlm
