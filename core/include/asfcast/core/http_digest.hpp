// HTTP Digest access authentication (RFC 2617, MD5, qop=auth): the computations shared by the
// pull server (verifying) and the push client (answering challenges).
#pragma once

#include <string>
#include <string_view>

namespace asfcast::http {

// Lowercase hex MD5 of `data`.
std::string md5_hex(std::string_view data);
// HA1 = MD5(user ":" realm ":" password)  (RFC 2617 3.2.2.2, algorithm MD5)
std::string digest_ha1(std::string_view user, std::string_view realm, std::string_view password);
// HA2 = MD5(method ":" uri)  (RFC 2617 3.2.2.3, qop=auth or absent)
std::string digest_ha2(std::string_view method, std::string_view uri);
// request-digest (RFC 2617 3.2.2.1). With an empty qop: MD5(HA1 ":" nonce ":" HA2);
// otherwise MD5(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2).
std::string digest_response(std::string_view ha1, std::string_view nonce, std::string_view nc,
                            std::string_view cnonce, std::string_view qop, std::string_view ha2);
// Compares two strings in time that depends only on their lengths (CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace asfcast::http
