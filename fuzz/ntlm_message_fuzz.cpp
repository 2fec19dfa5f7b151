// NTLM messages from clients (MS-NLMP), as the pull server receives them:
// - the raw bytes through every server-side parser (NEGOTIATE, AUTHENTICATE, the NTLMv2 response);
// - an AUTHENTICATE verified against a fixed exchange, then again with its NTProofStr made right
//   for the fuzzed blob, so the MIC and key-exchange paths run too. Invariant: with the right
//   proof, a parseable blob and no MIC announced, the verification succeeds;
// - the bytes as the token of "Authorization: NTLM" and "Negotiate" in the Authenticator, after a
//   real NEGOTIATE on the same connection (AUTHENTICATE against a live challenge) and alone.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "asfcast/core/http_head.hpp"
#include "asfcast/core/ntlm.hpp"
#include "http_auth.hpp"

namespace {

using namespace asfcast;

std::string base64(ByteView in) {
    std::string out(4 * ((in.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), in.data(), static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

http::HttpHead request_with(const std::string& authorization) {
    http::HttpHead h;
    h.method = "GET";
    h.target = "/";
    h.version = "HTTP/1.1";
    h.headers.push_back({"Authorization", authorization});
    return h;
}

constexpr ntlm::Challenge8 kServerChallenge = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
constexpr const char* kPassword = "Password";

void verify_fixed_exchange(ByteView msg) {
    std::string error;
    const auto a = ntlm::parse_authenticate(msg, &error);
    if (!a) return;
    (void)ntlm::parse_ntlmv2_response(a->nt_response, &error);
    static const Bytes negotiate = ntlm::negotiate_message();
    static const Bytes challenge =
        ntlm::challenge_message(ntlm::kClientFlags, kServerChallenge, 133'000'000'000'000'000ull, {"FUZZ", "ASFCAST", ""});
    const ntlm::ServerExchange exchange{negotiate, challenge, kServerChallenge};
    (void)ntlm::verify_authenticate(*a, msg, exchange, kPassword);

    // The NTProofStr recomputed for the fuzzed blob and written into the message.
    if (a->nt_response.size() <= 24) return;
    Bytes fixed(msg.begin(), msg.end());
    const std::size_t nt_len = static_cast<std::size_t>(fixed[20] | fixed[21] << 8);
    const std::size_t nt_off = static_cast<std::size_t>(fixed[24]) | static_cast<std::size_t>(fixed[25]) << 8 |
                               static_cast<std::size_t>(fixed[26]) << 16 | static_cast<std::size_t>(fixed[27]) << 24;
    const ntlm::Key key = ntlm::ntowf_v2(kPassword, a->user, a->domain);
    const ntlm::Key proof = ntlm::nt_proof(key, kServerChallenge, ByteView(fixed).subspan(nt_off + 16, nt_len - 16));
    std::memcpy(fixed.data() + nt_off, proof.data(), proof.size());
    const auto b = ntlm::parse_authenticate(fixed, &error);
    if (!b) return;
    const ntlm::Verification v = ntlm::verify_authenticate(*b, fixed, exchange, kPassword);
    // The proof covers the blob; fields overlapping it (names, the MIC) may have changed with it.
    const auto blob = ntlm::parse_ntlmv2_response(b->nt_response, &error);
    const bool mic_announced = blob && blob->av_flags && (*blob->av_flags & ntlm::kAvFlagMicPresent);
    if (blob && !mic_announced && b->user == a->user && b->domain == a->domain && b->nt_response.size() > 24 &&
        std::memcmp(b->nt_response.data(), proof.data(), proof.size()) == 0 && !v.ok)
        std::abort();  // a right NTLMv2 proof was refused
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView in(data, size);
    std::string error;
    (void)ntlm::message_type(in);
    (void)ntlm::parse_negotiate(in, &error);
    (void)ntlm::parse_challenge(in, &error);
    (void)ntlm::parse_ntlmv2_response(in, &error);
    verify_fixed_exchange(in);

    static pull::Authenticator auth({"ntlm", "digest"}, "fuzz", {{"User", kPassword}},
                                    [] { return std::uint64_t{133'000'000'000'000'000ull}; });
    static const Bytes negotiate = ntlm::negotiate_message();
    std::int64_t now = 1'000'000;
    // AUTHENTICATE (or anything) against a live challenge on connection 1.
    (void)auth.check(request_with("NTLM " + base64(negotiate)), 1, now);
    (void)auth.check(request_with("NTLM " + base64(in)), 1, now + 1);
    (void)auth.check(request_with("NTLM"), 1, now + 2);  // after it: the connection's state
    // The token alone, and the bytes as the raw text of a Negotiate header.
    (void)auth.check(request_with("Negotiate " + base64(in)), 2, now);
    (void)auth.check(request_with("NTLM " + std::string(reinterpret_cast<const char*>(data), size)), 3, now);
    auth.connection_closed(1);
    auth.connection_closed(2);
    auth.connection_closed(3);
    if (auth.ntlm_connections() != 0) std::abort();  // state outlived its connections
    return 0;
}
