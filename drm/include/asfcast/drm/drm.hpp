// drm: packagers behind the asfmux::Packager hook (asfmux/packager.hpp) and how a job gets one.
//   - "playready": the reference packager, in process (playready.hpp): PlayReady Object in a
//     Protection System Identifier Object, AES-128-CTR per media object, 8-byte sample IDs;
//   - "program": an external program speaking the packager protocol (protocol.hpp) on its
//     standard input and output, with a deadline on every answer;
//   - "shared-object": a shared object with the C entry points of packager_abi.h, which take the
//     same protocol messages.
// The protocol and the C ABI are documented in docs/drm.md. Key material is held in SecretKey,
// which is wiped when destroyed and has no way to be printed.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asfcast/asfmux/packager.hpp"

namespace asfcast::drm {

// 16 bytes of key material. Never logged: there is no formatter, and error messages name the
// file it came from, never its bytes. Wiped (OPENSSL_cleanse) on destruction.
class SecretKey {
public:
    SecretKey() = default;
    explicit SecretKey(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}
    SecretKey(const SecretKey&) = default;
    SecretKey& operator=(const SecretKey&) = default;
    ~SecretKey();
    const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }

private:
    std::array<std::uint8_t, 16> bytes_{};
};

// Reads a secret from a file that only its owner may read (no group or other permission bits:
// chmod 600), as hex (32 digits for a key) or base64, the first line, surrounding blanks ignored.
// `what` names it in errors ("drm.key_file"). Throws std::runtime_error naming the path and what is
// wrong, never the contents.
std::vector<std::uint8_t> read_secret_file(const std::string& path, const std::string& what);
// Hex (any case) or base64 text to bytes; throws std::invalid_argument("`what` is neither ...").
std::vector<std::uint8_t> decode_secret_text(const std::string& text, const std::string& what);

// The reference PlayReady packager's settings (preset `drm:` keys, or a protocol config string).
struct PlayReadySettings {
    std::string kid;            // GUID; empty: a random one (logged, it is not secret)
    std::string key_file;       // 16-byte content key, hex or base64, mode 600
    std::string key;            // the same in the preset itself (discouraged: presets get copied)
    std::string key_seed_file;  // >= 30-byte key seed, hex or base64, mode 600: key = KeySeed(seed, KID)
    std::string la_url;         // license acquisition URL written into the WRMHEADER
    std::string lui_url;        // optional non-silent license acquisition page
    std::string ds_id;          // optional domain service ID (base64 GUID)
    std::string header_version = "4.0.0.0";  // 4.0.0.0 (every PlayReady client) or 4.2.0.0
    bool checksum = true;       // write the key checksum (PlayReady Header Spec §5)
};

struct PackagerConfig {
    std::string kind;  // playready | program | shared-object
    PlayReadySettings playready;
    std::vector<std::string> program;  // argv of the external program
    std::string library;               // path of the shared object
    std::string config;                // opaque text given to the program/shared object (HELLO)
    std::chrono::milliseconds deadline{1000};  // per answer (program: enforced; shared object: checked after)
};

// The packager a job uses. Throws std::runtime_error with the reason (a key file readable by
// others, a program that does not start, a library without the entry points, ...).
std::shared_ptr<asfmux::Packager> make_packager(const PackagerConfig& config);

}  // namespace asfcast::drm
