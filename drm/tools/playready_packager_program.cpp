// asfcast-playready-packager: the reference PlayReady packager as an external program speaking the
// packager protocol on stdin/stdout (drm.packager: program). Its configuration is the HELLO's text
// (reference_config.hpp). Diagnostics go to stderr and never contain key material.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "asfcast/drm/playready.hpp"
#include "asfcast/drm/protocol.hpp"
#include "reference_config.hpp"

int main() {
    using namespace asfcast;
    using namespace asfcast::drm;
    protocol::PackagerServer server([](const std::string& config) -> std::unique_ptr<asfmux::Packager> {
        return playready::PlayReadyPackager::from_settings(tools::parse_reference_config(config));
    });
    protocol::MessageReader reader;
    std::uint8_t buf[65536];
    for (;;) {
        const ssize_t n = ::read(0, buf, sizeof buf);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            std::fprintf(stderr, "asfcast-playready-packager: read: %s\n", std::strerror(errno));
            return 1;
        }
        reader.feed(ByteView(buf, static_cast<std::size_t>(n)));
        try {
            while (auto m = reader.next()) {
                const auto reply = server.answer(*m);
                if (!reply) return 0;  // END
                std::size_t done = 0;
                while (done < reply->size()) {
                    const ssize_t w = ::write(1, reply->data() + done, reply->size() - done);
                    if (w < 0 && errno == EINTR) continue;
                    if (w <= 0) return 1;
                    done += static_cast<std::size_t>(w);
                }
            }
        } catch (const protocol::ProtocolError& e) {
            std::fprintf(stderr, "asfcast-playready-packager: %s\n", e.what());
            return 2;
        }
    }
}
