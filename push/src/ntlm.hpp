// The push client's NTLM (MS-NLMP) on top of the shared messages and cryptography in core
// (asfcast/core/ntlm.hpp): NEGOTIATE_MESSAGE, then the AUTHENTICATE_MESSAGE answering a server's
// CHALLENGE_MESSAGE, connection-oriented, NTLMv2.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "asfcast/core/ntlm.hpp"

namespace asfcast::push {

// The messages and cryptography live in core; push code and its tests name them push::ntlm.
namespace ntlm = ::asfcast::ntlm;

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
