// GUID names (ASF-notes §3), GUID formatting, random File IDs, FILETIME conversion.
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "objects.hpp"

namespace asfcast::asfmux {
namespace detail {
namespace {

struct NamedGuid {
    Guid guid;
    const char* name;
};

#define ASF_GUID(str, name) NamedGuid{guid_from_string(str), name}

// Every GUID in ASF-notes §3, in the order of its tables.
constexpr NamedGuid kNames[] = {
    // Top-level objects
    ASF_GUID("75B22630-668E-11CF-A6D9-00AA0062CE6C", "Header"),
    ASF_GUID("75B22636-668E-11CF-A6D9-00AA0062CE6C", "Data"),
    ASF_GUID("33000890-E5B1-11CF-89F4-00A0C90349CB", "Simple Index"),
    ASF_GUID("D6E229D3-35DA-11D1-9034-00A0C90349BE", "Index"),
    ASF_GUID("FEB103F8-12AD-4C64-840F-2A1D2F7AD48C", "Media Object Index"),
    ASF_GUID("3CB73FD0-0C4A-4803-953D-EDF7B6228F0C", "Timecode Index"),
    // Objects inside the Header Object
    ASF_GUID("8CABDCA1-A947-11CF-8EE4-00C00C205365", "File Properties"),
    ASF_GUID("B7DC0791-A9B7-11CF-8EE6-00C00C205365", "Stream Properties"),
    ASF_GUID("5FBF03B5-A92E-11CF-8EE3-00C00C205365", "Header Extension"),
    ASF_GUID("86D15240-311D-11D0-A3A4-00A0C90348F6", "Codec List"),
    ASF_GUID("1EFB1A30-0B62-11D0-A39B-00A0C90348F6", "Script Command"),
    ASF_GUID("F487CD01-A951-11CF-8EE6-00C00C205365", "Marker"),
    ASF_GUID("D6E229DC-35DA-11D1-9034-00A0C90349BE", "Bitrate Mutual Exclusion"),
    ASF_GUID("75B22635-668E-11CF-A6D9-00AA0062CE6C", "Error Correction"),
    ASF_GUID("75B22633-668E-11CF-A6D9-00AA0062CE6C", "Content Description"),
    ASF_GUID("D2D0A440-E307-11D2-97F0-00A0C95EA850", "Extended Content Description"),
    ASF_GUID("2211B3FA-BD23-11D2-B4B7-00A0C955FC6E", "Content Branding"),
    ASF_GUID("7BF875CE-468D-11D1-8D82-006097C9A2B2", "Stream Bitrate Properties"),
    ASF_GUID("2211B3FB-BD23-11D2-B4B7-00A0C955FC6E", "Content Encryption"),
    ASF_GUID("298AE614-2622-4C17-B935-DAE07EE9289C", "Extended Content Encryption"),
    ASF_GUID("2211B3FC-BD23-11D2-B4B7-00A0C955FC6E", "Digital Signature"),
    ASF_GUID("1806D474-CADF-4509-A4BA-9AABCB96AAE8", "Padding"),
    // Objects inside the Header Extension Object
    ASF_GUID("14E6A5CB-C672-4332-8399-A96952065B5A", "Extended Stream Properties"),
    ASF_GUID("A08649CF-4775-4670-8A16-6E35357566CD", "Advanced Mutual Exclusion"),
    ASF_GUID("D1465A40-5A79-4338-B71B-E36B8FD6C249", "Group Mutual Exclusion"),
    ASF_GUID("D4FED15B-88D3-454F-81F0-ED5C45999E24", "Stream Prioritization"),
    ASF_GUID("A69609E6-517B-11D2-B6AF-00C04FD908E9", "Bandwidth Sharing"),
    ASF_GUID("7C4346A9-EFE0-4BFC-B229-393EDE415C85", "Language List"),
    ASF_GUID("C5F8CBEA-5BAF-4877-8467-AA8C44FA4CCA", "Metadata"),
    ASF_GUID("44231C94-9498-49D1-A141-1D134E457054", "Metadata Library"),
    ASF_GUID("D6E229DF-35DA-11D1-9034-00A0C90349BE", "Index Parameters"),
    ASF_GUID("6B203BAD-3F11-4E84-ACA8-D7613DE2CFA7", "Media Object Index Parameters"),
    ASF_GUID("F55E496D-9797-4B5D-8C8B-604DFE9BFB24", "Timecode Index Parameters"),
    ASF_GUID("FF889EF1-ADEE-40DA-9E71-98704BB928CE", "Alt Extended Content Encryption"),
    // Stream types
    ASF_GUID("F8699E40-5B4D-11CF-A8FD-00805F5C442B", "Audio Media"),
    ASF_GUID("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B", "Video Media"),
    ASF_GUID("59DACFC0-59E6-11D0-A3AC-00A0C90348F6", "Command Media"),
    ASF_GUID("B61BE100-5B4E-11CF-A8FD-00805F5C442B", "JFIF Media"),
    ASF_GUID("35907DE0-E415-11CF-A917-00805F5C442B", "Degradable JPEG Media"),
    ASF_GUID("91BD222C-F21C-497A-8B6D-5AA86BFC0185", "File Transfer Media"),
    ASF_GUID("3AFB65E2-47EF-40F2-AC2C-70A90D71D343", "Binary Media"),
    ASF_GUID("776257D4-C627-41CB-8F81-7AC7FF1C40CC", "Web Stream Media Subtype"),
    ASF_GUID("DA1E6B13-8359-4050-B398-388E965BF00C", "Web Stream Format"),
    // Error correction types
    ASF_GUID("20FB5700-5B55-11CF-A8FD-00805F5C442B", "No Error Correction"),
    ASF_GUID("BFC3CD50-618F-11CF-8BB2-00AA00B4E220", "Audio Spread"),
    // Reserved-field GUIDs and other constants
    ASF_GUID("ABD3D211-A9BA-11CF-8EE6-00C00C205365", "Reserved 1"),
    ASF_GUID("86D15241-311D-11D0-A3A4-00A0C90348F6", "Reserved 2"),
    ASF_GUID("4B1ACBE3-100B-11D0-A39B-00A0C90348F6", "Reserved 3"),
    ASF_GUID("4CFEDB20-75F6-11CF-9C0F-00A0C90349CB", "Reserved 4"),
    ASF_GUID("D6E22A00-35DA-11D1-9034-00A0C90349BE", "Mutex Language"),
    ASF_GUID("D6E22A01-35DA-11D1-9034-00A0C90349BE", "Mutex Bitrate"),
    ASF_GUID("D6E22A02-35DA-11D1-9034-00A0C90349BE", "Mutex Unknown"),
    ASF_GUID("AF6060AA-5197-11D2-B6AF-00C04FD908E9", "Bandwidth Sharing Exclusive"),
    ASF_GUID("AF6060AB-5197-11D2-B6AF-00C04FD908E9", "Bandwidth Sharing Partial"),
    // Payload extension systems
    ASF_GUID("399595EC-8667-4E2D-8FDB-98814CE76C1E", "Payload Ext System Timecode"),
    ASF_GUID("E165EC0E-19ED-45D7-B4A7-25CBD1E28E9B", "Payload Ext System File Name"),
    ASF_GUID("D590DC20-07BC-436C-9CF7-F3BBFBF1A4DC", "Payload Ext System Content Type"),
    ASF_GUID("1B1EE554-F9EA-4BC8-821A-376B74E4C4B8", "Payload Ext System Pixel Aspect Ratio"),
    ASF_GUID("C6BD9450-867F-4907-83A3-C77921B733AD", "Payload Ext System Sample Duration"),
    // Not in ASF-notes §3: DRM and script objects named by public readers (docs/drm.md)
    ASF_GUID("9A04F079-9840-4286-AB92-E65BE0885F95", "Protection System Identifier"),
    ASF_GUID("F4637010-03C3-42CD-B932-B48ADF3A6A54", "Content Protection System Microsoft PlayReady"),
    ASF_GUID("8683973A-6639-463A-ABD7-64F1CE3EEAE0", "PlayReady Encrypted Command Media"),
    ASF_GUID("6698B84E-0AFA-4330-AEB2-1C0A98D7A44D", "Payload Ext System Encryption Sample ID"),
    ASF_GUID("82F38A70-C29F-11D1-97AD-00A0C95EA850", "Script Type Two Strings"),
};

#undef ASF_GUID

}  // namespace

const char* guid_name(const Guid& g) {
    for (const auto& n : kNames)
        if (n.guid == g) return n.name;
    return nullptr;
}

}  // namespace detail

std::string guid_to_string(const Guid& g) {
    // On-disk order back to canonical text (ASF-notes §1).
    char s[37];
    std::snprintf(s, sizeof s, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", g[3], g[2],
                  g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
    return s;
}

std::optional<Guid> parse_guid(std::string_view text) {
    if (text.size() == 38 && text.front() == '{' && text.back() == '}') text = text.substr(1, 36);
    if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-') return std::nullopt;
    std::uint8_t b[16]{};
    int n = 0;
    for (char c : text) {
        if (c == '-') continue;
        int v = -1;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        if (v < 0 || n >= 32) return std::nullopt;
        b[n / 2] = static_cast<std::uint8_t>(b[n / 2] | (v << ((n % 2) ? 0 : 4)));
        ++n;
    }
    if (n != 32) return std::nullopt;
    // First group a little-endian DWORD, then two little-endian WORDs, then 8 bytes (ASF-notes §1).
    return Guid{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]};
}

Bytes encode_script_command(std::string_view type, std::string_view parameter) {
    Bytes out;
    ByteWriter w(out);
    w.utf16le(type, true);       // type, NUL-terminated UTF-16LE
    w.utf16le(parameter, true);  // parameter, NUL-terminated UTF-16LE
    return out;
}

std::optional<std::pair<std::string, std::string>> decode_script_command(ByteView data) {
    // Two NUL-terminated UTF-16LE strings filling the object exactly.
    std::size_t first_end = std::string_view::npos;
    for (std::size_t i = 0; i + 1 < data.size(); i += 2)
        if (data[i] == 0 && data[i + 1] == 0) {
            first_end = i;
            break;
        }
    if (first_end == std::string_view::npos || data.size() % 2 != 0 || data.size() < first_end + 4) return std::nullopt;
    const std::size_t second = first_end + 2;
    std::size_t second_end = std::string_view::npos;
    for (std::size_t i = second; i + 1 < data.size(); i += 2)
        if (data[i] == 0 && data[i + 1] == 0) {
            second_end = i;
            break;
        }
    if (second_end != data.size() - 2) return std::nullopt;
    ByteReader r(data, "script command");
    std::string type = r.utf16le(first_end);
    r.skip(2);
    std::string parameter = r.utf16le(second_end - second);
    return std::make_pair(std::move(type), std::move(parameter));
}

Guid random_guid() {
    Guid g{};
    if (RAND_bytes(g.data(), static_cast<int>(g.size())) != 1)
        throw std::runtime_error("random_guid: OpenSSL RAND_bytes failed");
    // Version 4: the high nibble of the third group (a little-endian WORD at bytes 6-7) is 4;
    // variant 10xx in the first byte of the fourth group.
    g[7] = static_cast<std::uint8_t>((g[7] & 0x0F) | 0x40);
    g[8] = static_cast<std::uint8_t>((g[8] & 0x3F) | 0x80);
    return g;
}

std::uint64_t unix_to_filetime(std::int64_t unix_seconds) {
    // FILETIME: 100-ns ticks since 1601-01-01; the Unix epoch is 116444736000000000 (ASF-notes §1).
    constexpr std::int64_t kEpoch = 116444736000000000LL;
    constexpr std::int64_t kTicks = 10'000'000;
    if (unix_seconds <= -kEpoch / kTicks) return 0;
    if (unix_seconds >= (INT64_MAX - kEpoch) / kTicks) return static_cast<std::uint64_t>(INT64_MAX);
    return static_cast<std::uint64_t>(unix_seconds * kTicks + kEpoch);
}

}  // namespace asfcast::asfmux
