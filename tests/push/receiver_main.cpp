// strict_receiver: the strict MS-WMHTTP receiver of the push tests as a program, for end-to-end
// tests with a real `asfcast run --push`. It listens on 127.0.0.1, prints "port N" once ready,
// waits until the publishing point's stream ends with $E (or --seconds pass), then writes what it
// received as an ASF file (the header and every $D packet padded back to the packet size) and
// prints every violation of the spec it saw. Exit 0 only when the stream ended with no violation.
// --wire-out FILE also writes what arrived exactly as received, as records of a type byte, a
// 4-byte little-endian length and the bytes: one 'H' record (the latest ASF header), then one 'D'
// record per $D payload in arrival order (the wire form: no padding).
// --entries-out PREFIX also writes each playlist entry received (the header that began it, $H or
// $C, and its $D payloads padded back to the packet size) as PREFIX-N.asf, N from 1, and prints
// one line per entry: "entry N: P packets, ended by $E(1)|not ended".
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "asfcast/asfmux/asfmux.hpp"
#include "strict_receiver.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
    std::string out_path, wire_out_path, entries_out, auth = "none", user = "encoder", password = "s3cret!";
    int seconds = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--out") out_path = v;
        else if (k == "--wire-out") wire_out_path = v;
        else if (k == "--entries-out") entries_out = v;
        else if (k == "--seconds") seconds = std::atoi(v.c_str());
        else if (k == "--auth") auth = v;
        else if (k == "--user") user = v;
        else if (k == "--password") password = v;
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    if (out_path.empty()) {
        std::fprintf(stderr, "usage: strict_receiver --out FILE [--seconds N] [--auth none|basic|digest|ntlm] "
                             "[--user U] [--password P] [--wire-out FILE]\n");
        return 2;
    }
    asfcast::pushtest::StrictReceiver::Options o;
    using Auth = asfcast::pushtest::StrictReceiver::Auth;
    o.auth = auth == "basic" ? Auth::basic : auth == "digest" ? Auth::digest : auth == "ntlm" ? Auth::ntlm : Auth::none;
    o.user = user;
    o.password = password;
    asfcast::pushtest::StrictReceiver rx(o);
    std::printf("port %u\n", rx.port());
    std::fflush(stdout);

    const bool ended = rx.wait_for([](const auto& p) { return p.ended; }, std::chrono::seconds(seconds));
    const auto view = rx.view();
    std::ofstream f(out_path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(view.header.data()), static_cast<std::streamsize>(view.header.size()));
    for (const auto& p : view.packets) {
        asfcast::Bytes padded = p;
        if (view.packet_size > padded.size()) padded.resize(view.packet_size, 0);
        f.write(reinterpret_cast<const char*>(padded.data()), static_cast<std::streamsize>(padded.size()));
    }
    f.close();
    if (!wire_out_path.empty()) {
        std::ofstream w(wire_out_path, std::ios::binary);
        const auto record = [&w](char type, const asfcast::Bytes& b) {
            const auto n = static_cast<std::uint32_t>(b.size());
            const char len[4] = {static_cast<char>(n & 0xFF), static_cast<char>((n >> 8) & 0xFF),
                                 static_cast<char>((n >> 16) & 0xFF), static_cast<char>((n >> 24) & 0xFF)};
            w.put(type);
            w.write(len, 4);
            w.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
        };
        record('H', view.header);
        for (const auto& p : view.packets) record('D', p);
        if (!w) {
            std::fprintf(stderr, "cannot write %s\n", wire_out_path.c_str());
            return 2;
        }
    }
    if (!entries_out.empty()) {
        for (std::size_t i = 0; i < view.entries.size(); ++i) {
            const auto& e = view.entries[i];
            const std::string name = entries_out + "-" + std::to_string(i + 1) + ".asf";
            std::uint32_t packet_size = 0;
            try {
                packet_size = asfcast::asfmux::parse_header(e.header).max_packet_size;
            } catch (const std::exception& err) {
                std::fprintf(stderr, "entry %zu: header does not parse: %s\n", i + 1, err.what());
                return 2;
            }
            std::ofstream ef(name, std::ios::binary);
            ef.write(reinterpret_cast<const char*>(e.header.data()), static_cast<std::streamsize>(e.header.size()));
            for (const auto& p : e.packets) {
                asfcast::Bytes padded = p;
                if (packet_size > padded.size()) padded.resize(packet_size, 0);
                ef.write(reinterpret_cast<const char*>(padded.data()), static_cast<std::streamsize>(padded.size()));
            }
            std::printf("entry %zu: %zu packets, %s\n", i + 1, e.packets.size(), e.ended ? "ended by $E(1)" : "not ended");
        }
    }
    const auto violations = rx.violations();
    for (const auto& v : violations) std::printf("violation: %s\n", v.c_str());
    std::printf("received %zu packets in %d sessions, %d setups, %d posts, %d challenges, ended %s\n",
                view.packets.size(), view.sessions_started, view.setups, view.posts, view.challenges,
                ended ? "with $E" : "without $E");
    return ended && violations.empty() ? 0 : 1;
}
