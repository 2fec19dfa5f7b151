// Packetizer: packet layouts (hand-written from ASF-notes §16) and packing rules.
#include <gtest/gtest.h>

#include "objects.hpp"
#include "test_util.hpp"

namespace asfcast::asfmux {
namespace {

using testutil::cat;
using testutil::fill;
using testutil::H;
using testutil::test_audio;
using testutil::test_video;
using testutil::zeros;

StreamSet streams() {
    StreamSet s;
    s.video.push_back(test_video());  // stream 1, 25 fps
    s.audio.push_back(test_audio());  // stream 2, 16000 bytes/s
    return s;
}

MuxConfig small_config() {
    MuxConfig c;
    c.packet_size = 64;
    c.preroll_ms = 1000;
    c.max_packet_delay_ms = 100;
    c.key_frame_starts_packet = true;
    return c;
}

EncodedFrame video(Micros pts, std::size_t n, bool key, std::uint8_t byte = 0xAA) {
    EncodedFrame f;
    f.stream = 1;
    f.kind = MediaKind::video;
    f.pts = f.dts = pts;
    f.keyframe = key;
    f.data.assign(n, byte);
    return f;
}

EncodedFrame audio(Micros pts, std::size_t n, std::uint8_t byte = 0xBB) {
    EncodedFrame f;
    f.stream = 2;
    f.kind = MediaKind::audio;
    f.pts = f.dts = pts;
    f.keyframe = true;  // must be ignored for audio
    f.data.assign(n, byte);
    return f;
}

TEST(Packetizer, OnePayloadWithPaddingUsesTheMultipleLayout) {
    Packetizer p(small_config(), streams());
    std::vector<DataPacket> out;
    p.add(video(40'000, 10, true), 5, out);
    EXPECT_TRUE(out.empty());
    p.flush(out);
    ASSERT_EQ(out.size(), 1u);
    // One payload that leaves padding: the multiple-payloads layout, so that the payload has its
    // own length and the wire form (padding removed) reads the same when padded back with zeros.
    const Bytes head = H("82 00 00"        // Error Correction Flags + 2 data bytes
                         "11"              // Length Type Flags: padding WORD | multiple payloads
                         "5D");            // Property Flags
    const Bytes rest = cat({H("28 00 00 00"     // Send Time 40 ms
                              "00 00"           // Duration
                              "81"              // Payload Flags: 1 payload, WORD lengths
                              "81"              // Stream Number 1 | key frame
                              "00"              // Media Object Number 0
                              "00 00 00 00"     // Offset Into Media Object
                              "08"              // Replicated Data Length
                              "0A 00 00 00"     // Media Object Size 10
                              "10 04 00 00"     // Presentation Time 1040 = 40 + preroll 1000
                              "0A 00"),         // Payload Length 10
                            fill(10, 0xAA)});
    EXPECT_BYTES_EQ(out[0].bytes, cat({head, H("17 00"),  // Padding Length 23 = 64 - 14 - 17 - 10
                                       rest, zeros(23)}));
    // Wire form (MS-WMSP 2.2.3.3, MS-WMHTTP 2.2.3.3): no Padding Length field, no padding,
    // Length Type Flags 01 (no Packet Length either).
    EXPECT_BYTES_EQ(Bytes(out[0].wire_form().begin(), out[0].wire_form().end()),
                    cat({H("82 00 00 01 5D"), rest}));
    EXPECT_EQ(out[0].number, 0u);
    EXPECT_EQ(out[0].send_time_ms, 40u);
    EXPECT_EQ(out[0].padding, 23u);
    EXPECT_TRUE(out[0].starts_with_key_frame);
    ASSERT_EQ(out[0].key_frames.size(), 1u);
    EXPECT_EQ(out[0].key_frames[0].stream, 1);
    EXPECT_EQ(out[0].key_frames[0].pts, 40'000);
    EXPECT_EQ(out[0].max_pts, 80'000);  // pts + 1/25 s
    EXPECT_EQ(out[0].oldest_capture_us, 5);
}

TEST(Packetizer, MultiplePayloadLayout) {
    Packetizer p(small_config(), streams());
    std::vector<DataPacket> out;
    p.add(video(0, 5, false), 0, out);
    p.add(audio(10'000, 4), 1, out);
    p.flush(out);
    ASSERT_EQ(out.size(), 1u);
    const Bytes expected = cat({H("82 00 00"        // EC
                                  "11"              // Length Type Flags: padding WORD | multiple payloads
                                  "5D"              // Property Flags
                                  "07 00"           // Padding Length 7 = 64 - 14 - 22 - 21
                                  "00 00 00 00"     // Send Time 0
                                  "0A 00"           // Duration 10 ms (dts span)
                                  "82"              // Payload Flags: 2 payloads, WORD lengths
                                  "01 00 00 00 00 00 08"  // stream 1, object 0, offset 0, repl 8
                                  "05 00 00 00 E8 03 00 00"  // object size 5, pres time 1000
                                  "05 00"),               // payload length 5
                                fill(5, 0xAA),
                                H("02 00 00 00 00 00 08"     // stream 2 (no key bit for audio), object 0
                                  "04 00 00 00 F2 03 00 00"  // object size 4, pres time 1010
                                  "04 00"),                  // payload length 4
                                fill(4, 0xBB), zeros(7)});
    EXPECT_BYTES_EQ(out[0].bytes, expected);
    EXPECT_FALSE(out[0].starts_with_key_frame);
    EXPECT_TRUE(out[0].key_frames.empty());
    EXPECT_EQ(out[0].max_pts, 40'000);  // video end 0 + 40 ms > audio end 10 ms + 4/16000 s
}

TEST(Packetizer, MediaObjectSpreadOverPackets) {
    Packetizer p(small_config(), streams());
    std::vector<DataPacket> out;
    Bytes data(100);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i);
    EncodedFrame f = video(0, 0, true);
    f.data = data;
    p.add(f, 0, out);
    // A fragment that fills an empty packet completely is written single-payload with no padding
    // and no Padding Length field (64 - 11 - 15 = 38 bytes); the last 24 bytes leave padding,
    // so they go in the multiple-payloads layout.
    ASSERT_EQ(out.size(), 3u);
    const auto frag = [&](std::size_t from, std::size_t n) { return Bytes(data.begin() + from, data.begin() + from + n); };
    const Bytes p0 = cat({H("82 00 00"
                            "00"               // Length Type Flags: nothing optional, single payload
                            "5D"
                            "00 00 00 00 00 00"  // send time 0, duration 0
                            "81 00"            // stream 1 key, object 0
                            "00 00 00 00"      // offset 0
                            "08 64 00 00 00"   // repl 8: object size 100
                            "E8 03 00 00"),    // pres time 1000
                          frag(0, 38)});
    const Bytes p1 = cat({H("82 00 00 00 5D 00 00 00 00 00 00"
                            "81 00"
                            "26 00 00 00"      // offset 38
                            "08 64 00 00 00 E8 03 00 00"),
                          frag(38, 38)});
    const Bytes p2 = cat({H("82 00 00 11 5D"
                            "09 00"            // padding 9 = 64 - 14 - 17 - 24
                            "00 00 00 00 00 00"
                            "81"               // 1 payload, WORD length
                            "81 00"
                            "4C 00 00 00"      // offset 76
                            "08 64 00 00 00 E8 03 00 00"
                            "18 00"),          // payload length 24
                          frag(76, 24), zeros(9)});
    EXPECT_BYTES_EQ(out[0].bytes, p0);
    EXPECT_BYTES_EQ(out[1].bytes, p1);
    EXPECT_BYTES_EQ(out[2].bytes, p2);
    // Full packets: the wire form is the file form.
    EXPECT_TRUE(out[0].wire.empty());
    EXPECT_EQ(out[0].wire_form().size(), 64u);
    EXPECT_EQ(out[2].wire_form().size(), 64u - 2 - 9);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(out[i].number, i);
    EXPECT_TRUE(out[0].starts_with_key_frame);
    EXPECT_EQ(out[0].key_frames.size(), 1u);
    EXPECT_FALSE(out[1].starts_with_key_frame);
    EXPECT_TRUE(out[1].key_frames.empty());
    EXPECT_TRUE(out[2].key_frames.empty());

    // The next frame gets object number 1 and shares a packet with nothing yet.
    p.add(video(40'000, 3, false), 0, out);
    p.flush(out);
    ASSERT_EQ(out.size(), 4u);
    const PacketInfo pi = parse_packet(out[3].bytes, 64);
    ASSERT_EQ(pi.payloads.size(), 1u);
    EXPECT_EQ(pi.payloads[0].object_number, 1u);
    EXPECT_FALSE(pi.payloads[0].keyframe);
}

TEST(Packetizer, VideoFragmentSharesPacketsWithOtherPayloads) {
    MuxConfig c = small_config();
    c.packet_size = 128;
    Packetizer p(c, streams());
    std::vector<DataPacket> out;
    p.add(audio(0, 10), 0, out);        // 14 + 17 + 10 = 41 used
    p.add(video(0, 150, true), 0, out); // key frame: closes the audio packet first
    p.add(audio(20'000, 10), 0, out);
    p.flush(out);
    std::uint32_t total = 0, next_offset = 0;
    int key_fragments = 0;
    for (const auto& pk : out) {
        EXPECT_EQ(pk.bytes.size(), 128u);
        for (const auto& pl : parse_packet(pk.bytes, 128).payloads) {
            if (pl.stream != 1) continue;
            EXPECT_EQ(pl.offset, next_offset);
            EXPECT_EQ(pl.object_size, 150u);
            EXPECT_TRUE(pl.keyframe);  // on every fragment
            next_offset += pl.length;
            total += pl.length;
            ++key_fragments;
        }
    }
    EXPECT_EQ(total, 150u);
    ASSERT_EQ(out.size(), 3u);  // audio | 100-byte fragment (single) | 50-byte fragment + audio
    EXPECT_GE(key_fragments, 2);
    EXPECT_TRUE(out[1].starts_with_key_frame);
    // The last video fragment and the second audio frame share the last packet.
    const PacketInfo last = parse_packet(out.back().bytes, 128);
    EXPECT_TRUE(last.multiple_payloads);
    ASSERT_EQ(last.payloads.size(), 2u);
    EXPECT_EQ(last.payloads[1].stream, 2);
}

TEST(Packetizer, AudioIsNotSplit) {
    Packetizer p(small_config(), streams());
    std::vector<DataPacket> out;
    p.add(video(0, 10, false), 0, out);  // 14 + 17 + 10 = 41: 6 data bytes left for another payload
    p.add(audio(0, 10), 0, out);         // does not fit: the open packet is closed
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].padding, 23u);  // one payload, multiple layout: 64 - 14 - 17 - 10
    p.flush(out);
    ASSERT_EQ(out.size(), 2u);
    const PacketInfo pi = parse_packet(out[1].bytes, 64);
    ASSERT_EQ(pi.payloads.size(), 1u);
    EXPECT_EQ(pi.payloads[0].stream, 2);
    EXPECT_EQ(pi.payloads[0].offset, 0u);
    EXPECT_EQ(pi.payloads[0].length, 10u);
    EXPECT_FALSE(pi.payloads[0].keyframe);
}

TEST(Packetizer, AudioTooLargeThrows) {
    Packetizer p(small_config(), streams());
    std::vector<DataPacket> out;
    EXPECT_EQ(p.max_audio_frame_bytes(), 33u);  // 64 - 14 - 17
    EXPECT_THROW(p.add(audio(0, 34), 0, out), std::invalid_argument);
    p.add(audio(0, 33), 0, out);  // exactly fills one packet
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].padding, 0u);
}

TEST(Packetizer, UnknownStreamThrows) {
    Packetizer p(small_config(), streams());
    std::vector<DataPacket> out;
    EncodedFrame f = video(0, 4, false);
    f.stream = 3;
    EXPECT_THROW(p.add(f, 0, out), std::invalid_argument);
    f.stream = 200;
    EXPECT_THROW(p.add(f, 0, out), std::invalid_argument);
    f.stream = 2;  // audio stream, video frame
    EXPECT_THROW(p.add(f, 0, out), std::invalid_argument);
}

TEST(Packetizer, DeadlineFlushViaPoll) {
    MuxConfig c = small_config();
    c.packet_size = 128;
    Packetizer p(c, streams());
    std::vector<DataPacket> out;
    EXPECT_FALSE(p.next_deadline().has_value());
    p.add(audio(0, 4), 1'000'000, out);
    p.add(audio(10'000, 4), 1'050'000, out);
    ASSERT_TRUE(p.next_deadline().has_value());
    EXPECT_EQ(*p.next_deadline(), 1'100'000);
    p.poll(1'099'999, out);
    EXPECT_TRUE(out.empty());
    p.poll(1'100'000, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].oldest_capture_us, 1'000'000);
    EXPECT_EQ(parse_packet(out[0].bytes, 128).payloads.size(), 2u);
    EXPECT_FALSE(p.next_deadline().has_value());
    p.poll(5'000'000, out);  // nothing open: no empty packet
    p.flush(out);
    EXPECT_EQ(out.size(), 1u);
    EXPECT_EQ(p.packets_written(), 1u);
}

TEST(Packetizer, SendTimesNeverGoBackwards) {
    Packetizer p(small_config(), streams());
    std::vector<DataPacket> out;
    p.add(audio(100'000, 4), 0, out);
    p.flush(out);
    p.add(audio(50'000, 4), 0, out);  // dts goes backwards
    p.flush(out);
    EncodedFrame neg = audio(-30'000, 4);
    p.add(neg, 0, out);
    p.flush(out);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].send_time_ms, 100u);
    EXPECT_EQ(out[1].send_time_ms, 100u);
    EXPECT_EQ(out[2].send_time_ms, 100u);
    EXPECT_EQ(parse_packet(out[1].bytes, 64).send_time_ms, 100u);
    // Presentation times are not clamped by send time: 50 + 1000.
    EXPECT_EQ(parse_packet(out[1].bytes, 64).payloads[0].pts_ms, 1050u);
    // Negative pts: -30 ms + 1000 ms preroll.
    EXPECT_EQ(parse_packet(out[2].bytes, 64).payloads[0].pts_ms, 970u);
}

TEST(Packetizer, NegativeDtsClampsToZero) {
    Packetizer p(small_config(), streams());
    std::vector<DataPacket> out;
    p.add(audio(-5'000, 4), 0, out);
    p.flush(out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].send_time_ms, 0u);
}

TEST(Packetizer, KeyFrameStartsPacket) {
    MuxConfig c = small_config();
    c.packet_size = 256;
    {
        Packetizer p(c, streams());
        std::vector<DataPacket> out;
        p.add(video(0, 5, false), 0, out);
        p.add(video(40'000, 5, true), 0, out);
        p.flush(out);
        ASSERT_EQ(out.size(), 2u);
        EXPECT_FALSE(out[0].starts_with_key_frame);
        EXPECT_TRUE(out[1].starts_with_key_frame);
        ASSERT_EQ(out[1].key_frames.size(), 1u);
        EXPECT_EQ(out[1].key_frames[0].pts, 40'000);
        EXPECT_EQ(out[0].send_time_ms, 0u);
        EXPECT_EQ(out[1].send_time_ms, 40u);
    }
    {
        c.key_frame_starts_packet = false;
        Packetizer p(c, streams());
        std::vector<DataPacket> out;
        p.add(video(0, 5, false), 0, out);
        p.add(video(40'000, 5, true), 0, out);
        p.flush(out);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_FALSE(out[0].starts_with_key_frame);
        ASSERT_EQ(out[0].key_frames.size(), 1u);
        const PacketInfo pi = parse_packet(out[0].bytes, 256);
        ASSERT_EQ(pi.payloads.size(), 2u);
        EXPECT_FALSE(pi.payloads[0].keyframe);
        EXPECT_TRUE(pi.payloads[1].keyframe);
        EXPECT_EQ(pi.duration_ms, 40u);
    }
}

TEST(Packetizer, ObjectNumbersWrapAndPayloadCountIsLimited) {
    MuxConfig c = small_config();
    c.packet_size = 8192;
    Packetizer p(c, streams());
    std::vector<DataPacket> out;
    for (int i = 0; i < 300; ++i) p.add(audio(i * 1000, 1, static_cast<std::uint8_t>(i)), 0, out);
    p.flush(out);
    std::uint32_t expected_object = 0;
    std::size_t frames = 0;
    for (const auto& pk : out) {
        const PacketInfo pi = parse_packet(pk.bytes, 8192);
        EXPECT_LE(pi.payloads.size(), 63u);
        for (const auto& pl : pi.payloads) {
            EXPECT_EQ(pl.object_number, expected_object % 256);
            ++expected_object;
            ++frames;
        }
    }
    EXPECT_EQ(frames, 300u);
    EXPECT_EQ(parse_packet(out[0].bytes, 8192).payloads.size(), 63u);
}

TEST(Packetizer, EveryPacketIsExactlyPacketSizeAndRoundTrips) {
    MuxConfig c = small_config();
    c.packet_size = 512;
    Packetizer p(c, streams());
    std::vector<DataPacket> out;
    std::size_t video_bytes = 0, audio_bytes = 0;
    for (int i = 0; i < 100; ++i) {
        const std::size_t n = 50 + static_cast<std::size_t>(i * 37 % 1500);
        p.add(video(i * 40'000, n, i % 10 == 0), i * 40'000, out);
        video_bytes += n;
        p.add(audio(i * 40'000, 100), i * 40'000, out);
        audio_bytes += 100;
        p.poll(i * 40'000, out);
    }
    p.flush(out);
    std::size_t v = 0, a = 0;
    std::uint32_t last_send = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        EXPECT_EQ(out[i].bytes.size(), 512u);
        EXPECT_EQ(out[i].number, i);
        const PacketInfo pi = parse_packet(out[i].bytes, 512);
        EXPECT_EQ(pi.padding, out[i].padding);
        EXPECT_EQ(pi.send_time_ms, out[i].send_time_ms);
        EXPECT_GE(pi.send_time_ms, last_send);
        last_send = pi.send_time_ms;
        // Single-payload layout only for a packet its payload fills: no padding, no field.
        if (pi.multiple_payloads) {
            EXPECT_EQ(out[i].bytes[3], 0x11);
        } else {
            EXPECT_EQ(pi.padding, 0u);
            EXPECT_EQ(out[i].bytes[3], 0x00);
        }
        // The wire form: padding and its field gone, every payload the same (spec reader).
        const PacketInfo wi = parse_wire_packet(out[i].wire_form(), 512);
        EXPECT_EQ(wi.padding, 0u);
        EXPECT_EQ(out[i].wire_form()[3] & 0x78, 0);  // no Padding Length, no Packet Length field
        EXPECT_EQ(out[i].wire_form().size(), pi.multiple_payloads ? 512u - 2 - out[i].padding : 512u);
        ASSERT_EQ(wi.payloads.size(), pi.payloads.size());
        for (std::size_t k = 0; k < wi.payloads.size(); ++k) {
            EXPECT_EQ(wi.payloads[k].length, pi.payloads[k].length);
            EXPECT_EQ(wi.payloads[k].pts_ms, pi.payloads[k].pts_ms);
        }
        for (const auto& pl : pi.payloads) (pl.stream == 1 ? v : a) += pl.length;
        // Padding is zeros.
        for (std::size_t k = 512 - out[i].padding; k < 512; ++k) ASSERT_EQ(out[i].bytes[k], 0);
    }
    EXPECT_EQ(v, video_bytes);
    EXPECT_EQ(a, audio_bytes);
}

TEST(Packetizer, EmptyFrameIsIgnored) {
    Packetizer p(small_config(), streams());
    std::vector<DataPacket> out;
    p.add(video(0, 0, true), 0, out);
    p.flush(out);
    EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace asfcast::asfmux
