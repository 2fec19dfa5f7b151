// wmsp_to_asf BODY OUT: turns a captured MS-WMSP Play response body (2.2.3 framing: $H header,
// $D data packets, ...) into an ASF file as a player's buffer would hold it: the header, then
// every $D packet padded back to the fixed packet size (MS-WMSP 2.2.3.3: the server strips the
// padding). The last packet may be cut short by the capture's end; it is dropped. Prints
// "H=<$H packets> D=<$D packets>" and fails on broken framing.
#include <cstdio>
#include <fstream>
#include <iterator>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/pullserver/framing_reader.hpp"

int main(int argc, char** argv) {
    using namespace asfcast;
    if (argc != 3) {
        std::fprintf(stderr, "usage: wmsp_to_asf BODY OUT\n");
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "wmsp_to_asf: cannot read %s\n", argv[1]);
        return 2;
    }
    const Bytes body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    pull::FramedStreamReader reader;
    reader.feed(body);
    Bytes header;
    Bytes data;
    std::uint32_t packet_size = 0;
    std::size_t h = 0, d = 0;
    while (auto p = reader.next()) {
        if (p->type == 'H') {
            // A header may span several $H packets (the afflags say which); they concatenate.
            if (packet_size) continue;  // a repeated header after the first data: ignore
            header.insert(header.end(), p->payload.begin(), p->payload.end());
            ++h;
            try {
                packet_size = asfmux::parse_header(header).max_packet_size;
            } catch (const std::exception&) {
                packet_size = 0;  // not complete yet
            }
        } else if (p->type == 'D') {
            if (!packet_size) {
                std::fprintf(stderr, "wmsp_to_asf: $D before a complete $H\n");
                return 1;
            }
            if (p->payload.size() > packet_size) {
                std::fprintf(stderr, "wmsp_to_asf: $D of %zu bytes exceeds the packet size %u\n", p->payload.size(),
                             packet_size);
                return 1;
            }
            data.insert(data.end(), p->payload.begin(), p->payload.end());
            data.resize(data.size() + (packet_size - p->payload.size()), 0);
            ++d;
        } else if (p->type == 'E') {
            break;
        }
    }
    // A capture cut mid-packet leaves bytes buffered: that is the end of the capture, not an error.
    if (reader.failed()) {
        std::fprintf(stderr, "wmsp_to_asf: broken framing: %s\n", reader.error().c_str());
        return 1;
    }
    if (!packet_size || d == 0) {
        std::fprintf(stderr, "wmsp_to_asf: no complete header or no data packets (H=%zu D=%zu)\n", h, d);
        return 1;
    }
    std::ofstream out(argv[2], std::ios::binary);
    out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!out) {
        std::fprintf(stderr, "wmsp_to_asf: cannot write %s\n", argv[2]);
        return 1;
    }
    std::printf("H=%zu D=%zu\n", h, d);
    return 0;
}
