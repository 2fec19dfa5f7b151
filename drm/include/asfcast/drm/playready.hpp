// The reference packager: PlayReady's ASF layout as far as it is public.
//
// What follows a public specification (MicrosoftDocs/PlayReady, Docs/Specifications):
//   - playready-header-specification.md §2 PlayReady Object (Length DWORD, Record Count WORD,
//     records of Type WORD, Length WORD, Value; little-endian), §3 the PlayReady Header
//     (WRMHEADER XML in UTF-16LE: v4.0.0.0 and v4.2.0.0, canonical form: attributes in
//     alphabetical order, every element closed), §5 the AESCTR key checksum;
//   - playready-key-seed.md: the content key from a key seed and a KID.
// What follows the Microsoft PlayReady Format Specification as public readers quote it (the
// document itself is not public; docs/drm.md names the readers): the Protection System Identifier
// Object (GUID 9A04F079-..., System ID F4637010-... PlayReady, System Version 1, Data Size, Data =
// the PlayReady Object) among the Header Object's children, and AES-128 in counter mode per media
// object with an 8-byte sample ID as the IV (big-endian, carried as the payload extension system
// 6698B84E-0AFA-4330-AEB2-1C0A98D7A44D of fixed size 8) and the 16-byte block number from the start
// of the media object as the counter.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asfcast/asfmux/packager.hpp"
#include "asfcast/drm/drm.hpp"

namespace asfcast::drm::playready {

using Key = std::array<std::uint8_t, 16>;

// GUIDs, in the on-disk order of ASF-notes §1.
extern const asfmux::Guid kProtectionSystemIdentifierObject;  // 9A04F079-9840-4286-AB92-E65BE0885F95
extern const asfmux::Guid kPlayReadySystemId;                 // F4637010-03C3-42CD-B932-B48ADF3A6A54
extern const asfmux::Guid kEncryptionSampleIdExtension;       // 6698B84E-0AFA-4330-AEB2-1C0A98D7A44D

// playready-key-seed.md: SHA-256 of (seed[0..30) || KID), (seed || KID || seed) and
// (seed || KID || seed || KID), the six 16-byte halves XORed. KID as GUID bytes in little-endian
// (.NET Guid.ToByteArray) order, which is asfmux::Guid's. Throws std::invalid_argument when the
// seed is shorter than 30 bytes.
SecretKey content_key_from_seed(std::span<const std::uint8_t> key_seed, const asfmux::Guid& kid);

// Header Spec §5 (AESCTR): base64 of the first 8 bytes of AES-128-ECB(key, KID bytes).
std::string key_checksum(const SecretKey& key, const asfmux::Guid& kid);

std::string base64(std::span<const std::uint8_t> bytes);
std::optional<std::vector<std::uint8_t>> unbase64(std::string_view text);  // strict; nullopt if malformed

struct WrmHeader {
    std::string version = "4.0.0.0";  // 4.0.0.0 | 4.2.0.0
    asfmux::Guid kid{};
    std::string checksum;           // base64, empty: none
    std::string la_url;             // empty: none
    std::string lui_url;            // empty: none
    std::string ds_id;              // empty: none
    std::string custom_attributes;  // XML placed as it is inside <CUSTOMATTRIBUTES>; empty: none
};

// The WRMHEADER XML (UTF-8 here; the PlayReady Object carries it as UTF-16LE). Text is escaped
// (&, <, >, ", '). Throws std::invalid_argument for another version.
std::string wrmheader_xml(const WrmHeader& h);

// Header Spec §2: Length, Record Count 1, one record of type 1 holding the XML as UTF-16LE.
Bytes playready_object(std::string_view wrmheader_utf8);

struct ProRecord {
    std::uint16_t type = 0;  // 1 PlayReady Header, 3 Embedded License Store
    Bytes value;
};
// Parses a PlayReady Object; throws ParseError when the lengths do not add up.
std::vector<ProRecord> parse_playready_object(ByteView pro);

// What a WRMHEADER says, read leniently (for `asfcast inspect`): the version attribute, the KIDs
// (v4.0 <KID>, v4.1+ <KID VALUE=>), ALGID, CHECKSUM and LA_URL. Never throws.
struct WrmHeaderSummary {
    std::string version;
    std::vector<std::string> kids;  // as GUID strings (or the raw text when not 16 bytes of base64)
    std::string algid;
    std::string checksum;
    std::string la_url;
};
WrmHeaderSummary summarize_wrmheader(std::string_view xml_utf8);
std::string utf16le_to_utf8(ByteView utf16);

// The ASF Protection System Identifier Object carrying a PlayReady Object.
Bytes protection_system_identifier_object(ByteView pro);

// AES-128-CTR over `data`, which starts `offset` bytes into a media object whose sample ID is
// `sample_id`: counter block = sample_id (8 bytes, big-endian) || (offset / 16) (8 bytes,
// big-endian), the first offset % 16 bytes of its keystream skipped. Encrypts and decrypts.
void aes_ctr(const SecretKey& key, std::uint64_t sample_id, std::uint64_t offset, std::span<std::uint8_t> data);

// The reference packager (in process, also behind the program and shared-object transports).
class PlayReadyPackager : public asfmux::Packager {
public:
    // Takes the key and the WRMHEADER fields; `first_sample_id` is where sample IDs start
    // (random in production, fixed in tests).
    PlayReadyPackager(SecretKey key, WrmHeader header, std::uint64_t first_sample_id);
    // From settings: reads the key (file or preset), derives it from a seed, makes a KID.
    static std::unique_ptr<PlayReadyPackager> from_settings(const PlayReadySettings& s);

    std::string name() const override { return "reference PlayReady"; }
    asfmux::ProtectionHeader header(const asfmux::StreamSet& streams) override;
    void protect(EncodedFrame& frame, Bytes& extension) override;

    const WrmHeader& wrmheader() const { return wrm_; }

private:
    SecretKey key_;
    WrmHeader wrm_;
    std::uint64_t next_sample_id_;
};

}  // namespace asfcast::drm::playready
