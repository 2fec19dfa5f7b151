// fake_packager: the reference PlayReady packager as a program (the packager protocol on
// stdin/stdout) that misbehaves on purpose after --after N protected objects, for the tests of
// a failing packager (tests/drm, tests/interop/drm_failing.sh):
//   --mode ok       never fails
//   --mode crash    abort() (SIGABRT)
//   --mode exit     exit(7) without answering
//   --mode error    answers ERROR "refused on purpose"
//   --mode garbage  answers bytes that are not a protocol message
//   --mode slow     sleeps --delay-ms before answering (then answers)
//   --mode clear    answers with the media object unchanged (a packager that "forgets" to encrypt)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "asfcast/drm/playready.hpp"
#include "asfcast/drm/protocol.hpp"
#include "../../drm/tools/reference_config.hpp"

using namespace asfcast;
using namespace asfcast::drm;

namespace {

bool write_all(const Bytes& b) {
    std::size_t done = 0;
    while (done < b.size()) {
        const ssize_t w = ::write(1, b.data() + done, b.size() - done);
        if (w <= 0) return false;
        done += static_cast<std::size_t>(w);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = "ok";
    long after = 0, delay_ms = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--mode") mode = argv[i + 1];
        else if (a == "--after") after = std::atol(argv[i + 1]);
        else if (a == "--delay-ms") delay_ms = std::atol(argv[i + 1]);
        else {
            std::fprintf(stderr, "fake_packager: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    protocol::PackagerServer server([](const std::string& config) -> std::unique_ptr<asfmux::Packager> {
        return playready::PlayReadyPackager::from_settings(tools::parse_reference_config(config));
    });
    protocol::MessageReader reader;
    long protected_objects = 0;
    std::uint8_t buf[65536];
    for (;;) {
        const ssize_t n = ::read(0, buf, sizeof buf);
        if (n <= 0) return 0;
        reader.feed(ByteView(buf, static_cast<std::size_t>(n)));
        while (auto m = reader.next()) {
            if (m->type == protocol::Type::protect && protected_objects++ >= after && mode != "ok") {
                std::fprintf(stderr, "fake_packager: failing (%s) at object %ld\n", mode.c_str(), protected_objects);
                if (mode == "crash") std::abort();
                if (mode == "exit") std::exit(7);
                if (mode == "error") {
                    const std::string e = "refused on purpose";
                    write_all(protocol::encode(protocol::Type::error, m->sequence,
                                               ByteView(reinterpret_cast<const std::uint8_t*>(e.data()), e.size())));
                    continue;
                }
                if (mode == "garbage") {
                    write_all(Bytes(64, 0x47));
                    continue;
                }
                if (mode == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
                if (mode == "clear") {
                    const EncodedFrame f = protocol::decode_protect(m->body);
                    write_all(protocol::encode(protocol::Type::protected_object, m->sequence,
                                               protocol::encode_protected(Bytes(8, 0), f.data)));
                    continue;
                }
            }
            const auto reply = server.answer(*m);
            if (!reply) return 0;
            if (!write_all(*reply)) return 1;
        }
    }
}
