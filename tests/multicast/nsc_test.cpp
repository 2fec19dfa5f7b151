// The .nsc file (MS-MSB 2.2.1) and the .asx redirector: the encoding examples of MS-MSB 4.3 as
// corrected in NSC.md §6, the §4.3 files read and written back, our decoder reading what we
// write (and the strict receiver's own decoder agreeing), and malformed input rejected with a
// clear error.
#include <gtest/gtest.h>

#include "../push/test_stream.hpp"
#include "asfcast/multicast/nsc.hpp"
#include "msb_receiver.hpp"

namespace asfcast::multicast {
namespace {

std::string crlf(std::initializer_list<std::string> lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\r\n";
    return out;
}

std::string error_of(std::string_view text) {
    try {
        parse_nsc(text);
    } catch (const NscError& e) {
        return e.what();
    }
    return "(no error)";
}

// MS-MSB 4.3 / NSC.md §6: strings encoded as UTF-16 with their NUL, Key 0.
TEST(NscEncoding, SpecExamplesAsCorrectedInNscMd) {
    EXPECT_EQ(encode_nsc_string("3.0"), "029G0000000008Cm0k0300000");
    EXPECT_EQ(encode_nsc_string("157.55.149.102"), "0230000000000UCG0r03S0BW0r03K0BW0n03G0EG0k0340C00o0000");
    EXPECT_EQ(encode_nsc_string("239.192.48.179"), "020G000000000UCW0p03a0BW0n03a0CW0k03G0E00k0340Dm0v0000");
    EXPECT_EQ(encode_nsc_string(""), "020W0000000002000");
    // The spec prints 029W... for this one; its CRC character is wrong (NSC.md §6).
    EXPECT_EQ(encode_nsc_string("MY_COMPUTER, bpp"), "0200000000000YJG1P05y0Gm1F04q0K01L05G0HG1I02m0801Y0700S00000");
}

TEST(NscEncoding, SpecExamplesDecode) {
    EXPECT_EQ(decode_nsc_string("029G0000000008Cm0k0300000"), "3.0");
    EXPECT_EQ(decode_nsc_string("0230000000000UCG0r03S0BW0r03K0BW0n03G0EG0k0340C00o0000"), "157.55.149.102");
    EXPECT_EQ(decode_nsc_string("020G000000000UCW0p03a0BW0n03a0CW0k03G0E00k0340Dm0v0000"), "239.192.48.179");
    EXPECT_EQ(decode_nsc_string("020W0000000002000"), "");
    EXPECT_EQ(decode_nsc_string("0200000000000YJG1P05y0Gm1F04q0K01L05G0HG1I02m0801Y0700S00000"), "MY_COMPUTER, bpp");
    // The spec's Description1 value: a consistent block reading "Windows Media".
    EXPECT_EQ(decode_nsc_string("029m000000000SLm1f06u0P01l07S0Sm0W04q0PG1a06a0OG0000"), "Windows Media");
    // The spec's Name value as printed: the CRC does not match, and the error says so.
    try {
        decode_nsc_string("029W000000000YJG1P05y0Gm1F04q0K01L05G0HG1I02m0801Y0700S00000");
        ADD_FAILURE() << "the spec's misprinted Name decoded";
    } catch (const NscError& e) {
        EXPECT_NE(std::string(e.what()).find("CRC is 0x26"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("give 0x00"), std::string::npos) << e.what();
    }
}

TEST(NscEncoding, BlockHeaderFieldsAreBigEndianAndCrcIsXor) {
    // "3.0" as UTF-16LE + NUL = 33 00 2E 00 30 00 00 00: Length 8, Key 0, CRC 0x33^0x2E^0x30^0x08 = 0x25.
    const NscBlock b = decode_nsc_block("029G0000000008Cm0k0300000");
    EXPECT_EQ(b.key, 0u);
    EXPECT_EQ(b.data, (Bytes{0x33, 0, 0x2E, 0, 0x30, 0, 0, 0}));
    // A key in the high bits of the DWORD comes first in the bit string.
    const Bytes data{1, 2, 3};
    const std::string enc = encode_nsc_block(data, 0x7FF);
    const NscBlock back = decode_nsc_block(enc);
    EXPECT_EQ(back.key, 0x7FFu);
    EXPECT_EQ(back.data, data);
    // CRC = 0x00^0x00^0x07^0xFF ^ 0^0^0^3 ^ 1^2^3 = 0xF8; first 6 bits 111110 = 62 = '{'.
    EXPECT_EQ(enc.substr(0, 3), "02{");
}

TEST(NscEncoding, EveryLengthRoundTrips) {
    Bytes data;
    for (int n = 0; n < 70; ++n) {
        const std::string enc = encode_nsc_block(data, static_cast<std::uint32_t>(n));
        EXPECT_EQ(enc.size(), 2 + ((9 + data.size()) * 8 + 5) / 6);
        const NscBlock b = decode_nsc_block(enc);
        EXPECT_EQ(b.data, data);
        EXPECT_EQ(b.key, static_cast<std::uint32_t>(n));
        data.push_back(static_cast<std::uint8_t>(n * 37 + 11));
    }
    EXPECT_EQ(decode_nsc_string(encode_nsc_string("Grüße, 東京 🎥")), "Grüße, 東京 🎥");
}

// The ASF header used as Format1 in these tests: a real live header of our muxer.
Bytes test_header() { return pushtest::TestStream(1400).header()->bytes; }

// MS-MSB 4.3's first file: every string plain ASCII.
std::string spec_plain_example(const std::string& format1) {
    return crlf({"[Address]", "Name=MY_COMPUTER, bpp", "NSC Format Version=3.0", "Multicast Adapter=157.55.149.102",
                 "IP Address=239.192.48.179", "IP Port=0x00004A41", "Time To Live=0x00000020", "Default Ecc=0x0000000A",
                 "Log URL=", "Unicast URL=", "Allow Splitting=0x00000001", "Allow Caching=0x00000001",
                 "Cache Expiration Time=0x00015180", "Network Buffer Time=0x000001F4", "[Formats]", "Format1=" + format1,
                 "Description1=Windows Media Audio Stream"});
}

// MS-MSB 4.3's second file, every string encoded (Name with the corrected CRC, Multicast Adapter
// on one line, Description1 as the spec prints it: "Windows Media").
std::string spec_encoded_example(const std::string& format1) {
    return crlf({"[Address]", "Name=0200000000000YJG1P05y0Gm1F04q0K01L05G0HG1I02m0801Y0700S00000",
                 "NSC Format Version=029G0000000008Cm0k0300000",
                 "Multicast Adapter=0230000000000UCG0r03S0BW0r03K0BW0n03G0EG0k0340C00o0000",
                 "IP Address=020G000000000UCW0p03a0BW0n03a0CW0k03G0E00k0340Dm0v0000", "IP Port=0x00004A41",
                 "Time To Live=0x00000020", "Default Ecc=0x0000000A", "Log URL=020W0000000002000",
                 "Unicast URL=020W0000000002000", "Allow Splitting=0x00000001", "Allow Caching=0x00000001",
                 "Cache Expiration Time=0x00015180", "Network Buffer Time=0x000001F4", "[Formats]", "Format1=" + format1,
                 "Description1=029m000000000SLm1f06u0P01l07S0Sm0W04q0PG1a06a0OG0000"});
}

// Drops the lines of empty strings: an empty string is an absent property (MS-MSB 2.2.1), so
// they are not written back.
std::string without_empty_urls(std::string text, std::string_view log, std::string_view unicast) {
    for (std::string_view l : {log, unicast}) {
        const auto at = text.find(l);
        if (at != std::string::npos) text.erase(at, text.find("\r\n", at) + 2 - at);
    }
    return text;
}

TEST(NscFile, SpecPlainExampleReadsAndWritesBack) {
    const Bytes header = test_header();
    const std::string format1 = encode_nsc_block(header, 0x123);
    const std::string text = spec_plain_example(format1);
    const NscAnnouncement a = parse_nsc(text);
    EXPECT_EQ(a.name, "MY_COMPUTER, bpp");
    EXPECT_TRUE(a.format_version);
    EXPECT_EQ(a.multicast_adapter, "157.55.149.102");
    EXPECT_EQ(a.ip_address, "239.192.48.179");
    EXPECT_EQ(a.ip_port, 19009);
    EXPECT_EQ(a.time_to_live, 32u);
    EXPECT_EQ(a.default_ecc, 10u);
    EXPECT_EQ(a.log_url, "");
    EXPECT_EQ(a.unicast_url, "");
    EXPECT_EQ(a.allow_splitting, true);
    EXPECT_EQ(a.allow_caching, true);
    EXPECT_EQ(a.cache_expiration_s, 86400u);
    EXPECT_EQ(a.network_buffer_ms, 500u);
    ASSERT_EQ(a.formats.size(), 1u);
    EXPECT_EQ(a.formats[0].format_id, 0x123);
    EXPECT_EQ(a.formats[0].asf_header, header);
    EXPECT_EQ(a.formats[0].description, "Windows Media Audio Stream");
    EXPECT_EQ(make_nsc(a, NscStrings::plain_when_possible), without_empty_urls(text, "Log URL=", "Unicast URL="));
}

TEST(NscFile, SpecEncodedExampleReadsAndWritesBack) {
    const Bytes header = test_header();
    const std::string format1 = encode_nsc_block(header, 0x123);
    const std::string text = spec_encoded_example(format1);
    const NscAnnouncement a = parse_nsc(text);
    NscAnnouncement plain = parse_nsc(spec_plain_example(format1));
    plain.formats[0].description = "Windows Media";  // the two spec examples differ here (NSC.md §6)
    EXPECT_EQ(a, plain);
    EXPECT_EQ(make_nsc(a, NscStrings::encoded),
              without_empty_urls(text, "Log URL=020W0000000002000", "Unicast URL=020W0000000002000"));
}

NscAnnouncement full_announcement() {
    NscAnnouncement a;
    a.name = "encoder-1, live";
    a.multicast_adapter = "10.0.0.7";
    a.ip_address = "239.255.10.20";
    a.ip_port = 4321;
    a.time_to_live = 1;
    a.default_ecc = 10;
    a.log_url = "http://10.0.0.7:8080/log";
    a.unicast_url = "http://10.0.0.7:8080/";
    a.allow_splitting = false;
    a.allow_caching = false;
    a.cache_expiration_s = 60;
    a.network_buffer_ms = 2000;
    a.formats.push_back({0x7FF, test_header(), "Live — Übertragung"});
    a.formats.push_back({0x001, pushtest::TestStream(1400, 10, 32).header()->bytes, ""});
    return a;
}

TEST(NscFile, OurDecoderReadsWhatWeWriteInBothForms) {
    const NscAnnouncement a = full_announcement();
    for (NscStrings mode : {NscStrings::encoded, NscStrings::plain_when_possible}) {
        const std::string text = make_nsc(a, mode);
        EXPECT_EQ(parse_nsc(text), a);
        // ASCII only, CR LF, the ABNF's order.
        for (std::size_t i = 0; i < text.size(); ++i) {
            ASSERT_LT(static_cast<unsigned char>(text[i]), 0x7F);
            if (text[i] == '\n') {
                ASSERT_EQ(text[i - 1], '\r');
            }
        }
        EXPECT_EQ(text.rfind("[Address]\r\nName=", 0), 0u);
        EXPECT_LT(text.find("IP Port="), text.find("Time To Live="));
        EXPECT_LT(text.find("Network Buffer Time="), text.find("[Formats]"));
        EXPECT_LT(text.find("Format1="), text.find("Description1="));
        EXPECT_EQ(text.find("Description2="), std::string::npos) << "an empty description is not written";
        EXPECT_NE(text.find("NSC Format Version="), std::string::npos) << "VLC recognizes the file by it";
    }
    const std::string plain = make_nsc(a, NscStrings::plain_when_possible);
    EXPECT_NE(plain.find("IP Address=239.255.10.20\r\n"), std::string::npos);
    EXPECT_NE(plain.find("IP Port=0x000010E1\r\n"), std::string::npos);
    EXPECT_NE(plain.find("Allow Splitting=0x00000000\r\n"), std::string::npos);
    EXPECT_EQ(plain.find("Übertragung"), std::string::npos) << "non-ASCII is encoded (2.2.1.2)";
    const std::string encoded = make_nsc(a, NscStrings::encoded);
    EXPECT_NE(encoded.find("IP Address=" + encode_nsc_string("239.255.10.20") + "\r\n"), std::string::npos);
}

TEST(NscFile, TheStrictReceiversOwnDecoderAgrees) {
    const NscAnnouncement a = full_announcement();
    for (NscStrings mode : {NscStrings::encoded, NscStrings::plain_when_possible}) {
        const msbtest::ReceiverNsc r = msbtest::read_nsc(make_nsc(a, mode));
        EXPECT_EQ(r.group, a.ip_address);
        EXPECT_EQ(r.port, a.ip_port);
        EXPECT_EQ(r.adapter, a.multicast_adapter);
        EXPECT_EQ(r.ttl, a.time_to_live);
        EXPECT_EQ(r.default_ecc, a.default_ecc);
        ASSERT_EQ(r.headers.size(), 2u);
        EXPECT_EQ(r.headers.at(0x7FF), a.formats[0].asf_header);
        EXPECT_EQ(r.headers.at(0x001), a.formats[1].asf_header);
    }
}

TEST(NscFile, PlainStringsThatWouldReadAsSomethingElseAreEncoded) {
    NscAnnouncement a = full_announcement();
    a.name = "02ABCDEFGHIJKLMNOP";  // looks like an encoded block
    a.log_url = " leading blank";
    const std::string text = make_nsc(a, NscStrings::plain_when_possible);
    EXPECT_NE(text.find("Name=" + encode_nsc_string(a.name)), std::string::npos);
    EXPECT_EQ(parse_nsc(text), a);
}

TEST(NscFile, NamesIgnoreCaseAndBlanksAroundEquals) {
    const std::string f = encode_nsc_block(test_header(), 5);
    const NscAnnouncement a =
        parse_nsc(crlf({"[ADDRESS]", "ip address = 239.1.1.1", "IP PORT\t=\t0x000004d2", "[formats]", "FORMAT1 = " + f}));
    EXPECT_EQ(a.ip_address, "239.1.1.1");
    EXPECT_EQ(a.ip_port, 1234);
    EXPECT_EQ(a.formats.at(0).format_id, 5);
}

TEST(NscFile, MalformedInputIsAClearError) {
    const std::string f = encode_nsc_block(test_header(), 5);
    const std::string good_block = encode_nsc_string("x");
    std::string bad_crc = good_block;
    bad_crc[2] = bad_crc[2] == '0' ? '1' : '0';
    std::string long_length = encode_nsc_block(Bytes{1, 2, 3}, 0);
    long_length[11] = 'Z';  // Length's low bits now say more than the block holds
    const std::string addr = "[Address]";
    const std::string ip = "IP Address=239.1.1.1", port = "IP Port=0x00001000";
    struct Case {
        std::string text, expect;
    };
    const std::vector<Case> cases = {
        {"", "empty"},
        {addr + "\n" + ip + "\n", "LF alone"},
        {crlf({addr, ip, port, "[Formats]"}) + "Format1=" + f, "does not end with CR LF"},
        {crlf({"[Formats]", "Format1=" + f}), "starts with [Address]"},
        {crlf({addr, port, ip, "[Formats]", "Format1=" + f}), "IP Address comes after IP Port"},
        {crlf({addr, "[Formats]", "Format1=" + f}), "no IP Address"},
        {crlf({addr, ip, "[Formats]", "Format1=" + f}), "no IP Port"},
        {crlf({addr, ip, port}), "no [Formats] section"},
        {crlf({addr, ip, port, "[Formats]"}), "lists no ASF header"},
        {crlf({addr, ip, ip, port, "[Formats]", "Format1=" + f}), "IP Address appears twice"},
        {crlf({addr, "Player URL=http://x/", ip, port, "[Formats]", "Format1=" + f}), "not a property of the [Address]"},
        {crlf({addr, ip, "IP Port=0x1000", "[Formats]", "Format1=" + f}), "0x and 8 hex digits"},
        {crlf({addr, ip, "IP Port=0x0001000G", "[Formats]", "Format1=" + f}), "0x and 8 hex digits"},
        {crlf({addr, ip, "IP Port=0x00000000", "[Formats]", "Format1=" + f}), "not a UDP port"},
        {crlf({addr, ip, port, "Allow Caching=0x00000002", "[Formats]", "Format1=" + f}), "1 or 0"},
        {crlf({addr, "NSC Format Version=2.0", ip, port, "[Formats]", "Format1=" + f}), "only 3.0"},
        {crlf({addr, ip, port, "", "[Formats]", "Format1=" + f}), "empty line"},
        {crlf({addr, "Name=caf\xC3\xA9", ip, port, "[Formats]", "Format1=" + f}), "not a printable ASCII"},
        {crlf({addr, "Name" + std::string("=") + bad_crc, ip, port, "[Formats]", "Format1=" + f}), "CRC"},
        {crlf({addr, "Name=" + long_length, ip, port, "[Formats]", "Format1=" + f}), "Length"},
        {crlf({addr, ip, port, "[Formats]", "Format1=" + f + "0"}), "characters, not"},
        {crlf({addr, ip, port, "[Formats]", "Format1=hello"}), "starts with \"02\""},
        {crlf({addr, ip, port, "[Formats]", "Format1=02" + f.substr(2, 10)}), "at least 12"},
        {crlf({addr, ip, port, "[Formats]", "Format1=" + f.substr(0, 20) + "!" + f.substr(21)}), "not in the encoding table"},
        {crlf({addr, ip, port, "[Formats]", "Format1=" + encode_nsc_block(Bytes{1}, 0x800)}), "11-bit Format ID"},
        {crlf({addr, ip, port, "[Formats]", "Format1=" + f, "Format2=" + f}), "already another header's"},
        {crlf({addr, ip, port, "[Formats]", "Description1=x", "Format1=" + f}), "does not follow Format1"},
        {crlf({addr, ip, port, "[Formats]", "Format1=" + f, "Description2=x"}), "does not follow Format2"},
        {crlf({addr, ip, port, "[Formats]", "Format1=" + f, "Format=x"}), "not a property of the [Formats]"},
        {crlf({addr, ip, port, "[Formats]", "Format1"}), "Name=value"},
    };
    for (const auto& c : cases) {
        const std::string e = error_of(c.text);
        EXPECT_NE(e.find(c.expect), std::string::npos) << "input:\n" << c.text << "\nerror: " << e;
    }
    // Errors name the line.
    EXPECT_NE(error_of(crlf({addr, ip, "IP Port=0x1", "[Formats]", "Format1=" + f})).find(".nsc line 3"), std::string::npos);
}

TEST(NscFile, WritingRefusesWhatTheSpecForbids) {
    NscAnnouncement a = full_announcement();
    auto refuses = [](NscAnnouncement x, std::string_view what) {
        try {
            make_nsc(x);
            ADD_FAILURE() << "written: " << what;
        } catch (const NscError& e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    NscAnnouncement x = a;
    x.ip_address.clear();
    refuses(x, "IP Address");
    x = a;
    x.ip_port = 0;
    refuses(x, "IP Port");
    x = a;
    x.formats.clear();
    refuses(x, "at least one ASF header");
    x = a;
    x.formats[0].format_id = 0x800;
    refuses(x, "more than 11 bits");
    x = a;
    x.formats[1].format_id = x.formats[0].format_id;
    refuses(x, "same Format ID");
}

TEST(NscFile, FormatIdIsElevenBitsOfTheHeader) {
    const Bytes h1 = test_header(), h2 = pushtest::TestStream(1400, 10, 32).header()->bytes;
    EXPECT_LE(format_id_for(h1), 0x7FF);
    EXPECT_EQ(format_id_for(h1), format_id_for(h1));
    EXPECT_NE(format_id_for(h1), format_id_for(h2));
}

TEST(Asx, RedirectorListsTheNscThenThePullUrl) {
    const std::string asx = make_asx(make_redirector("Live & <loud>", "mmsh://enc.example:8080/", "http://enc.example:8080/stream.nsc"));
    EXPECT_EQ(asx,
              "<ASX VERSION=\"3.0\">\r\n"
              "  <TITLE>Live &amp; &lt;loud&gt;</TITLE>\r\n"
              "  <ENTRY>\r\n"
              "    <TITLE>Live &amp; &lt;loud&gt;</TITLE>\r\n"
              "    <REF HREF=\"http://enc.example:8080/stream.nsc\" />\r\n"
              "    <REF HREF=\"mmsh://enc.example:8080/\" />\r\n"
              "  </ENTRY>\r\n"
              "</ASX>\r\n");
    const std::string pull_only = make_asx(make_redirector("", "mmsh://h:1/"));
    EXPECT_EQ(pull_only, "<ASX VERSION=\"3.0\">\r\n  <ENTRY>\r\n    <REF HREF=\"mmsh://h:1/\" />\r\n  </ENTRY>\r\n</ASX>\r\n");
    EXPECT_NE(make_asx({"", {"http://h/?a=1&b=\"2\""}}).find("HREF=\"http://h/?a=1&amp;b=&quot;2&quot;\""), std::string::npos);
    EXPECT_THROW(make_asx({"t", {}}), NscError);
}

}  // namespace
}  // namespace asfcast::multicast
