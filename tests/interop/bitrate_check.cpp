// bitrate_check: does an ASF file's header tell the truth about its bit rates? (issue 11, point 6)
//
// usage: bitrate_check FILE [--label NAME]
//
// Reads the header (File Properties Maximum Bitrate, Stream Bitrate Properties Average Bitrate per
// stream; ASF-notes §5, §9) and every data packet (ASF-notes §16: Send Time, payloads), then
// measures what was actually sent over every 1-second window of send time [t, t+1000 ms) that
// starts at a packet's send time:
//   - the whole stream: packets in the window × packet size × 8 (every packet is packet-size
//     bytes in the file and, padded back, on the wire);
//   - each stream: what it sends, its payloads' bytes (payload header and data) plus its share of
//     the packet's parsing information (error correction, flags, send time, duration), shared out
//     by payload bytes. A packet's padding is no stream's (the wire form of MS-WMSP, MS-WMHTTP and
//     MS-MSB drops it); it counts in the total, which the File Properties Maximum Bitrate covers.
// Prints one line per stream and one for the total (declared, measured maximum, its window start),
// and exits 1 if any measured maximum is above what the header declares.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "asfcast/asfmux/asfmux.hpp"

namespace {

using asfcast::Bytes;
using asfcast::ByteView;

struct Packet {
    std::uint32_t send_ms = 0;
    std::map<int, double> share;  // stream -> bytes of this packet attributed to it
};

struct Max {
    double bits = 0;
    std::uint32_t at_ms = 0;
};

// The largest sum of `bytes(p)` over packets whose send time is in [t, t + 1000), t a send time.
template <typename F>
Max max_window(const std::vector<Packet>& packets, F bytes) {
    Max best;
    double sum = 0;
    std::size_t end = 0;
    for (std::size_t start = 0; start < packets.size(); ++start) {
        // (Later packets of the same send time see a part of the same window: never more.)
        while (end < packets.size() && packets[end].send_ms < packets[start].send_ms + 1000) sum += bytes(packets[end++]);
        if (sum * 8 > best.bits) best = {sum * 8, packets[start].send_ms};
        sum -= bytes(packets[start]);
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bitrate_check FILE [--label NAME]\n");
        return 2;
    }
    const std::string path = argv[1];
    std::string label = path;
    for (int i = 2; i + 1 < argc; i += 2)
        if (std::string(argv[i]) == "--label") label = argv[i + 1];
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "bitrate_check: cannot read %s\n", path.c_str());
        return 2;
    }
    const Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
        const auto info = asfcast::asfmux::parse_header(file);
        const std::uint32_t psize = info.max_packet_size;
        if (psize == 0 || info.min_packet_size != psize) {
            std::fprintf(stderr, "bitrate_check: %s has no fixed packet size\n", path.c_str());
            return 2;
        }
        std::uint64_t at = info.header_size + 50;
        const std::uint64_t count = info.data_packets;
        std::vector<Packet> packets;
        while (at + psize <= file.size() && (count == 0 || packets.size() < count)) {
            const ByteView bytes(file.data() + at, psize);
            const auto p = asfcast::asfmux::parse_packet(bytes, psize);
            Packet out;
            out.send_ms = p.send_time_ms;
            std::map<int, double> own;  // payload header + data per stream
            double payload_total = 0;
            for (std::size_t i = 0; i < p.payloads.size(); ++i) {
                const auto& pl = p.payloads[i];
                // A payload's header runs from the end of the previous payload to its data; the
                // first one's from the end of the payload parsing information: stream, object
                // number, offset DWORD, replicated data length and data, and in the multiple-
                // payload layout the length WORD (our Property Flags 0x5D, ASF-notes §16).
                const double header =
                    i == 0 ? (p.multiple_payloads ? 17.0 : 15.0) + pl.extension.size()
                           : double(pl.data_at) - (p.payloads[i - 1].data_at + p.payloads[i - 1].length);
                own[pl.stream] += header + pl.length;
                payload_total += header + pl.length;
            }
            // What the packet sends besides its padding (the wire form drops the padding): its
            // parsing information is shared out by payload bytes; the padding counts in the total.
            const double sent = double(psize) - p.padding;
            for (const auto& [s, b] : own) out.share[s] = payload_total > 0 ? b * sent / payload_total : 0;
            if (own.empty()) out.share[0] = sent;
            packets.push_back(std::move(out));
            at += psize;
        }
        if (packets.empty()) {
            std::fprintf(stderr, "bitrate_check: %s has no data packets\n", path.c_str());
            return 2;
        }
        bool ok = true;
        const double seconds = (packets.back().send_ms - packets.front().send_ms) / 1000.0;
        const Max total = max_window(packets, [&](const Packet&) { return double(psize); });
        const double average = seconds > 0 ? packets.size() * double(psize) * 8 / seconds : 0;
        const bool total_ok = total.bits <= info.max_bitrate;
        ok = ok && total_ok;
        std::printf("%s: total: declared %u bit/s, measured max %.0f bit/s (1 s from send time %u ms), average %.0f "
                    "bit/s, %zu packets of %u bytes in %.1f s%s\n",
                    label.c_str(), info.max_bitrate, total.bits, total.at_ms, average, packets.size(), psize, seconds,
                    total_ok ? "" : "  <-- ABOVE THE DECLARED MAXIMUM BITRATE");
        std::uint64_t declared_sum = 0;
        for (const auto& s : info.streams) {
            declared_sum += s.bitrate;
            const Max m = max_window(packets, [&](const Packet& p) {
                const auto it = p.share.find(s.number);
                return it == p.share.end() ? 0.0 : it->second;
            });
            const bool s_ok = m.bits <= s.bitrate;
            ok = ok && s_ok;
            std::printf("%s: stream %d: declared %u bit/s, measured max %.0f bit/s (1 s from send time %u ms)%s\n",
                        label.c_str(), s.number, s.bitrate, m.bits, m.at_ms,
                        s_ok ? "" : "  <-- ABOVE ITS STREAM BITRATE PROPERTIES VALUE");
        }
        if (declared_sum > info.max_bitrate) {
            std::printf("%s: the streams' bit rates add up to %llu, above the Maximum Bitrate %u\n", label.c_str(),
                        static_cast<unsigned long long>(declared_sum), info.max_bitrate);
            ok = false;
        }
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bitrate_check: %s: %s\n", path.c_str(), e.what());
        return 2;
    }
}
