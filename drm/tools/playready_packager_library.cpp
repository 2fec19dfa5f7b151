// libasfcast_playready_packager.so: the reference PlayReady packager as a shared object with the
// entry points of asfcast/drm/packager_abi.h (drm.packager: shared-object).
#include <cstdlib>
#include <cstring>
#include <exception>

#include "asfcast/drm/packager_abi.h"
#include "asfcast/drm/playready.hpp"
#include "asfcast/drm/protocol.hpp"
#include "reference_config.hpp"

namespace {

struct State {
    asfcast::drm::protocol::PackagerServer server{[](const std::string& config) -> std::unique_ptr<asfcast::asfmux::Packager> {
        return asfcast::drm::playready::PlayReadyPackager::from_settings(
            asfcast::drm::tools::parse_reference_config(config));
    }};
};

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int asfcast_packager_v1_open(const char*, void** state, char* error,
                                                                      size_t error_size) {
    try {
        *state = new State();
        return 0;
    } catch (const std::exception& e) {
        if (error && error_size) std::strncpy(error, e.what(), error_size - 1);
        return 1;
    }
}

__attribute__((visibility("default"))) int asfcast_packager_v1_call(void* state, const uint8_t* request,
                                                                      size_t request_size, uint8_t** reply,
                                                                      size_t* reply_size) {
    try {
        *reply = nullptr;
        *reply_size = 0;
        asfcast::drm::protocol::MessageReader r;
        r.feed(asfcast::ByteView(request, request_size));
        auto m = r.next();
        if (!m) return 2;
        auto out = static_cast<State*>(state)->server.answer(*m);
        if (!out) return 0;
        *reply = static_cast<uint8_t*>(std::malloc(out->size()));
        if (!*reply) return 3;
        std::memcpy(*reply, out->data(), out->size());
        *reply_size = out->size();
        return 0;
    } catch (...) {
        return 1;
    }
}

__attribute__((visibility("default"))) void asfcast_packager_v1_free(void*, uint8_t* reply) { std::free(reply); }

__attribute__((visibility("default"))) void asfcast_packager_v1_close(void* state) { delete static_cast<State*>(state); }

}
