// Golden bytes for each header object, written by hand from shared/specs/ASF-notes.md.
#include <gtest/gtest.h>

#include "objects.hpp"
#include "test_util.hpp"

namespace asfcast::asfmux {
namespace {

using testutil::H;
using testutil::cat;
using testutil::fill;
using testutil::zeros;
using testutil::kFileId;
using testutil::test_video;
using testutil::test_audio;

Bytes write(auto fn) {
    Bytes out;
    ByteWriter w(out);
    fn(w);
    return out;
}

TEST(Guids, StringToDiskOrder) {
    // ASF-notes §1: 75B22630-668E-11CF-A6D9-00AA0062CE6C is stored as below.
    const Guid g = detail::guids::header;
    EXPECT_BYTES_EQ(Bytes(g.begin(), g.end()), H("30 26 B2 75 8E 66 CF 11 A6 D9 00 AA 00 62 CE 6C"));
    EXPECT_EQ(guid_to_string(g), "75B22630-668E-11CF-A6D9-00AA0062CE6C");
    EXPECT_STREQ(detail::guid_name(g), "Header");
    EXPECT_STREQ(detail::guid_name(detail::guids::audio_spread), "Audio Spread");
    EXPECT_EQ(detail::guid_name(kFileId), nullptr);
}

TEST(Guids, RandomGuidIsVersion4) {
    const Guid a = random_guid(), b = random_guid();
    EXPECT_NE(a, b);
    const std::string s = guid_to_string(a);
    EXPECT_EQ(s[14], '4');
    EXPECT_NE(std::string("89AB").find(s[19]), std::string::npos);
}

TEST(Guids, UnixToFiletime) {
    EXPECT_EQ(unix_to_filetime(0), 116444736000000000ULL);
    EXPECT_EQ(unix_to_filetime(1), 116444736010000000ULL);
    EXPECT_EQ(unix_to_filetime(-20'000'000'000LL), 0u);
}

TEST(Objects, FileProperties) {
    detail::FilePropertiesFields f;
    f.file_id = kFileId;
    f.creation_filetime = 0x0102030405060708ULL;
    f.preroll_ms = 3000;
    f.flags = 1;
    f.packet_size = 8192;
    f.max_bitrate = 1000000;
    const Bytes expected = H(
        "A1 DC AB 8C 47 A9 CF 11 8E E4 00 C0 0C 20 53 65"  // Object ID: File Properties
        "68 00 00 00 00 00 00 00"                          // Object Size 104
        "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"  // File ID
        "00 00 00 00 00 00 00 00"                          // File Size 0 (live)
        "08 07 06 05 04 03 02 01"                          // Creation Date
        "00 00 00 00 00 00 00 00"                          // Data Packets Count 0
        "00 00 00 00 00 00 00 00"                          // Play Duration 0
        "00 00 00 00 00 00 00 00"                          // Send Duration 0
        "B8 0B 00 00 00 00 00 00"                          // Preroll 3000 ms
        "01 00 00 00"                                      // Flags: Broadcast
        "00 20 00 00"                                      // Minimum Data Packet Size 8192
        "00 20 00 00"                                      // Maximum Data Packet Size 8192
        "40 42 0F 00");                                    // Maximum Bitrate 1,000,000
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_file_properties(w, f); }), expected);
}

TEST(Objects, VideoStreamProperties) {
    const Bytes expected = H(
        "91 07 DC B7 B7 A9 CF 11 8E E6 00 C0 0C 20 53 65"  // Object ID: Stream Properties
        "87 00 00 00 00 00 00 00"                          // Object Size 135 = 78 + 57
        "C0 EF 19 BC 4D 5B CF 11 A8 FD 00 80 5F 5C 44 2B"  // Stream Type: Video Media
        "00 57 FB 20 55 5B CF 11 A8 FD 00 80 5F 5C 44 2B"  // Error Correction Type: No Error Correction
        "00 00 00 00 00 00 00 00"                          // Time Offset
        "39 00 00 00"                                      // Type-Specific Data Length 57 = 11 + 40 + 6
        "00 00 00 00"                                      // Error Correction Data Length 0
        "01 00"                                            // Flags: stream 1
        "00 00 00 00"                                      // Reserved
        "40 01 00 00"                                      // Encoded Image Width 320
        "F0 00 00 00"                                      // Encoded Image Height 240
        "02"                                               // Reserved Flags
        "2E 00"                                            // Format Data Size 46
        "2E 00 00 00"                                      // biSize 46
        "40 01 00 00"                                      // biWidth
        "F0 00 00 00"                                      // biHeight
        "01 00"                                            // biPlanes
        "18 00"                                            // biBitCount 24
        "48 32 36 34"                                      // biCompression "H264"
        "00 84 03 00"                                      // biSizeImage 230400 = 320*240*3
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"  // X/Y pels per meter, ClrUsed, ClrImportant
        "00 00 00 01 67 42");                              // codec private (Annex B)
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_stream_properties(w, test_video()); }), expected);
}

TEST(Objects, AudioStreamPropertiesWithSpread) {
    const Bytes expected = H(
        "91 07 DC B7 B7 A9 CF 11 8E E6 00 C0 0C 20 53 65"  // Object ID: Stream Properties
        "72 00 00 00 00 00 00 00"                          // Object Size 114 = 78 + 28 + 8
        "40 9E 69 F8 4D 5B CF 11 A8 FD 00 80 5F 5C 44 2B"  // Stream Type: Audio Media
        "50 CD C3 BF 8F 61 CF 11 8B B2 00 AA 00 B4 E2 20"  // Error Correction Type: Audio Spread
        "00 00 00 00 00 00 00 00"                          // Time Offset
        "1C 00 00 00"                                      // Type-Specific Data Length 28 = 18 + 10
        "08 00 00 00"                                      // Error Correction Data Length 8
        "02 00"                                            // Flags: stream 2
        "00 00 00 00"                                      // Reserved
        "61 01"                                            // wFormatTag 0x0161
        "02 00"                                            // nChannels
        "44 AC 00 00"                                      // nSamplesPerSec 44100
        "80 3E 00 00"                                      // nAvgBytesPerSec 16000
        "CE 05"                                            // nBlockAlign 1486
        "10 00"                                            // wBitsPerSample
        "0A 00"                                            // cbSize 10
        "00 88 00 00 0F 00 00 00 00 00"                    // codec data
        "01"                                               // Span 1
        "CE 05"                                            // Virtual Packet Length = block align
        "CE 05"                                            // Virtual Chunk Length = block align
        "01 00"                                            // Silence Data Length 1
        "00");                                             // Silence Data
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_stream_properties(w, test_audio()); }), expected);
}

TEST(Objects, AudioStreamPropertiesWithoutSpread) {
    AudioStreamFormat a = test_audio();
    a.spread_error_correction = false;
    a.codec_data.clear();
    const Bytes expected = H(
        "91 07 DC B7 B7 A9 CF 11 8E E6 00 C0 0C 20 53 65"  // Object ID: Stream Properties
        "60 00 00 00 00 00 00 00"                          // Object Size 96 = 78 + 18
        "40 9E 69 F8 4D 5B CF 11 A8 FD 00 80 5F 5C 44 2B"  // Audio Media
        "00 57 FB 20 55 5B CF 11 A8 FD 00 80 5F 5C 44 2B"  // No Error Correction
        "00 00 00 00 00 00 00 00"                          // Time Offset
        "12 00 00 00"                                      // X = 18
        "00 00 00 00"                                      // Y = 0
        "02 00 00 00 00 00"                                // Flags, Reserved
        "61 01 02 00 44 AC 00 00 80 3E 00 00 CE 05 10 00 00 00");  // WAVEFORMATEX, cbSize 0
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_stream_properties(w, a); }), expected);
}

TEST(Objects, HeaderExtensionWithOneExtendedStreamProperties) {
    const VideoStreamFormat v = test_video();
    const std::vector<detail::StreamRef> streams = {{1, &v, nullptr}};
    const Bytes expected = H(
        "B5 03 BF 5F 2E A9 CF 11 8E E3 00 C0 0C 20 53 65"  // Object ID: Header Extension
        "8E 00 00 00 00 00 00 00"                          // Object Size 142 = 46 + 96
        "11 D2 D3 AB BA A9 CF 11 8E E6 00 C0 0C 20 53 65"  // Reserved Field 1
        "06 00"                                            // Reserved Field 2
        "60 00 00 00"                                      // Header Extension Data Size 96
        // Extended Stream Properties
        "CB A5 E6 14 72 C6 32 43 83 99 A9 69 52 06 5B 5A"  // Object ID
        "60 00 00 00 00 00 00 00"                          // Object Size 96 = 88 + 8
        "00 00 00 00 00 00 00 00"                          // Start Time
        "00 00 00 00 00 00 00 00"                          // End Time
        "20 A1 07 00"                                      // Data Bitrate 500000
        "B8 0B 00 00"                                      // Buffer Size 3000 ms (default)
        "00 00 00 00"                                      // Initial Buffer Fullness
        "20 A1 07 00"                                      // Alternate Data Bitrate
        "B8 0B 00 00"                                      // Alternate Buffer Size
        "00 00 00 00"                                      // Alternate Initial Buffer Fullness
        "00 00 00 00"                                      // Maximum Object Size
        "00 00 00 00"                                      // Flags
        "01 00"                                            // Stream Number
        "00 00"                                            // Stream Language ID Index
        "80 1A 06 00 00 00 00 00"                          // Average Time Per Frame 400000 (25 fps)
        "01 00"                                            // Stream Name Count
        "00 00"                                            // Payload Extension System Count
        "00 00"                                            // name: Language ID Index
        "04 00"                                            // name: length 4 bytes
        "56 00 00 00");                                    // "V" NUL
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_header_extension(w, streams); }), expected);
}

TEST(Objects, ExtendedStreamPropertiesUsesMaxBitrateAndBuffer) {
    VideoStreamFormat v = test_video();
    v.max_bitrate = 800000;  // 0x000C3500
    v.buffer_ms = 2000;      // 0x07D0
    v.stream_name.clear();
    const Bytes b = write([&](ByteWriter& w) { detail::write_extended_stream_properties(w, v); });
    const Bytes expected = cat({H("CB A5 E6 14 72 C6 32 43 83 99 A9 69 52 06 5B 5A"  // Object ID
                                  "58 00 00 00 00 00 00 00"                          // Object Size 88
                                  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"  // Start, End Time
                                  "00 35 0C 00 D0 07 00 00 00 00 00 00"              // bitrate, buffer, fullness
                                  "00 35 0C 00 D0 07 00 00 00 00 00 00"              // alternates
                                  "00 00 00 00 00 00 00 00"                          // max object size, flags
                                  "01 00 00 00 80 1A 06 00 00 00 00 00"              // stream, lang, time/frame
                                  "00 00 00 00")});                                  // no names, no systems
    EXPECT_BYTES_EQ(b, expected);
}

TEST(Objects, StreamBitrateProperties) {
    const VideoStreamFormat v = test_video();
    const AudioStreamFormat a = test_audio();
    const std::vector<detail::StreamRef> streams = {{1, &v, nullptr}, {2, nullptr, &a}};
    const Bytes expected = H(
        "CE 75 F8 7B 8D 46 D1 11 8D 82 00 60 97 C9 A2 B2"  // Object ID: Stream Bitrate Properties
        "26 00 00 00 00 00 00 00"                          // Object Size 38
        "02 00"                                            // Bitrate Records Count
        "01 00 20 A1 07 00"                                // stream 1: 500000
        "02 00 00 F4 01 00");                              // stream 2: 128000
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_stream_bitrate_properties(w, streams, {500000, 128000}); }),
                    expected);
}

TEST(Objects, CodecList) {
    const VideoStreamFormat v = test_video();
    const AudioStreamFormat a = test_audio();
    const std::vector<detail::StreamRef> streams = {{1, &v, nullptr}, {2, nullptr, &a}};
    const Bytes expected = H(
        "40 52 D1 86 1D 31 D0 11 A3 A4 00 A0 C9 03 48 F6"  // Object ID: Codec List
        "5A 00 00 00 00 00 00 00"                          // Object Size 90
        "41 52 D1 86 1D 31 D0 11 A3 A4 00 A0 C9 03 48 F6"  // Reserved
        "02 00 00 00"                                      // Codec Entries Count
        "01 00"                                            // Type: video
        "05 00"                                            // Codec Name Length: 5 characters
        "48 00 32 00 36 00 34 00 00 00"                    // "H264" NUL
        "02 00"                                            // Codec Description Length: 2 characters
        "78 00 00 00"                                      // "x" NUL
        "04 00"                                            // Codec Information Length
        "48 32 36 34"                                      // FourCC
        "02 00"                                            // Type: audio
        "04 00"                                            // Codec Name Length: 4 characters
        "57 00 4D 00 41 00 00 00"                          // "WMA" NUL
        "01 00"                                            // Codec Description Length: 1 (just NUL)
        "00 00"                                            // "" NUL
        "02 00"                                            // Codec Information Length
        "61 01");                                          // wFormatTag
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_codec_list(w, streams); }), expected);
}

TEST(Objects, ContentDescription) {
    Metadata m;
    m.title = "T";
    m.copyright = "C";
    const Bytes expected = H(
        "33 26 B2 75 8E 66 CF 11 A6 D9 00 AA 00 62 CE 6C"  // Object ID: Content Description
        "2A 00 00 00 00 00 00 00"                          // Object Size 42
        "04 00"                                            // Title Length (bytes)
        "00 00"                                            // Author Length: empty
        "04 00"                                            // Copyright Length
        "00 00"                                            // Description Length
        "00 00"                                            // Rating Length
        "54 00 00 00"                                      // "T"
        "43 00 00 00");                                    // "C"
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_content_description(w, m); }), expected);
}

TEST(Objects, ExtendedContentDescription) {
    Metadata m;
    m.extended = {{"A", "b"}};
    const Bytes expected = H(
        "40 A4 D0 D2 07 E3 D2 11 97 F0 00 A0 C9 5E A8 50"  // Object ID: Extended Content Description
        "28 00 00 00 00 00 00 00"                          // Object Size 40
        "01 00"                                            // Content Descriptors Count
        "04 00"                                            // Descriptor Name Length (bytes)
        "41 00 00 00"                                      // "A"
        "00 00"                                            // Value Data Type: UTF-16 string
        "04 00"                                            // Value Length
        "62 00 00 00");                                    // "b"
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_extended_content_description(w, m); }), expected);

    const Bytes empty = H(
        "40 A4 D0 D2 07 E3 D2 11 97 F0 00 A0 C9 5E A8 50"  // Object ID
        "1A 00 00 00 00 00 00 00"                          // Object Size 26
        "00 00");                                          // no descriptors
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_extended_content_description(w, Metadata{}); }), empty);
}

TEST(Objects, DataObjectStart) {
    const Bytes expected = H(
        "36 26 B2 75 8E 66 CF 11 A6 D9 00 AA 00 62 CE 6C"  // Object ID: Data
        "32 00 00 00 00 00 00 00"                          // Object Size 50 (live)
        "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"  // File ID
        "00 00 00 00 00 00 00 00"                          // Total Data Packets 0
        "01 01");                                          // Reserved
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_data_object_start(w, kFileId, 50, 0); }), expected);
}

TEST(Objects, StreamNumbersValidated) {
    StreamSet s;
    s.video.push_back(test_video());
    s.audio.push_back(test_audio());
    s.audio.back().stream = 1;
    EXPECT_THROW(detail::ordered_streams(s), std::invalid_argument);
    s.audio.back().stream = 128;
    EXPECT_THROW(detail::ordered_streams(s), std::invalid_argument);
    s.audio.back().stream = 0;
    EXPECT_THROW(detail::ordered_streams(s), std::invalid_argument);
}

}  // namespace
}  // namespace asfcast::asfmux
