#include "ntlm.hpp"

#include <cstring>

namespace asfcast::push {

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
