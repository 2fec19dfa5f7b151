#include "asfcast/core/http_digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <stdexcept>

namespace asfcast::http {

std::string md5_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr) != 1)
        throw std::runtime_error("OpenSSL MD5 failed");
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(hex[md[i] >> 4]);
        out.push_back(hex[md[i] & 15]);
    }
    return out;
}

static std::string join(std::initializer_list<std::string_view> parts) {
    std::string s;
    bool first = true;
    for (auto p : parts) {
        if (!first) s.push_back(':');
        s.append(p);
        first = false;
    }
    return s;
}

std::string digest_ha1(std::string_view user, std::string_view realm, std::string_view password) {
    return md5_hex(join({user, realm, password}));
}

std::string digest_ha2(std::string_view method, std::string_view uri) {
    return md5_hex(join({method, uri}));
}

std::string digest_response(std::string_view ha1, std::string_view nonce, std::string_view nc,
                            std::string_view cnonce, std::string_view qop, std::string_view ha2) {
    if (qop.empty()) return md5_hex(join({ha1, nonce, ha2}));
    return md5_hex(join({ha1, nonce, nc, cnonce, qop, ha2}));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace asfcast::http
