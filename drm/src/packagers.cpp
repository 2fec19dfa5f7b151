// SecretKey, secret files and make_packager (drm.hpp).
#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "asfcast/drm/drm.hpp"
#include "asfcast/drm/playready.hpp"
#include "transports.hpp"

namespace asfcast::drm {

SecretKey::~SecretKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

std::vector<std::uint8_t> decode_secret_text(const std::string& text, const std::string& what) {
    std::string t = text;
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\r' || t.back() == '\n')) t.pop_back();
    std::size_t b = 0;
    while (b < t.size() && (t[b] == ' ' || t[b] == '\t')) ++b;
    t.erase(0, b);
    const auto hexval = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    bool all_hex = !t.empty() && t.size() % 2 == 0;
    for (char c : t) all_hex = all_hex && hexval(c) >= 0;
    std::vector<std::uint8_t> out;
    if (all_hex) {
        for (std::size_t i = 0; i < t.size(); i += 2)
            out.push_back(static_cast<std::uint8_t>(hexval(t[i]) << 4 | hexval(t[i + 1])));
    } else if (auto b64 = playready::unbase64(t)) {
        out = std::move(*b64);
    }
    OPENSSL_cleanse(t.data(), t.size());
    if (out.empty()) throw std::invalid_argument(what + " is neither hex nor base64");
    return out;
}

std::vector<std::uint8_t> read_secret_file(const std::string& path, const std::string& what) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(what + " " + path + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(what + " " + path + " is not a regular file");
    if (st.st_mode & 077)
        throw std::runtime_error(what + " " + path + " can be read by group or others; run chmod 600 on it");
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) throw std::runtime_error(what + " " + path + " cannot be read or is empty");
    try {
        auto out = decode_secret_text(line, what + " " + path);
        OPENSSL_cleanse(line.data(), line.size());
        return out;
    } catch (const std::invalid_argument& e) {
        OPENSSL_cleanse(line.data(), line.size());
        throw std::runtime_error(e.what());
    }
}

std::shared_ptr<asfmux::Packager> make_packager(const PackagerConfig& c) {
    if (c.kind == "playready") return playready::PlayReadyPackager::from_settings(c.playready);
    if (c.kind == "program") return std::make_shared<ExternalPackager>(c.program, c.config, c.deadline);
    if (c.kind == "shared-object") return std::make_shared<SharedObjectPackager>(c.library, c.config, c.deadline);
    throw std::runtime_error("drm.packager: '" + c.kind + "' is not a packager (allowed: playready, program, shared-object)");
}

}  // namespace asfcast::drm
