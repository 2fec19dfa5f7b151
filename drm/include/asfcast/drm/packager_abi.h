/* The C entry points of a packager shared object (drm.kind: shared-object, docs/drm.md).
 *
 * asfcast loads the library with dlopen and looks up these four symbols. Requests and replies are
 * the packager protocol's messages (asfcast/drm/protocol.hpp: a 16-byte head "APK1", type, flags,
 * reserved, sequence, body length, then the body), so a packager can be written once and offered
 * both as a program and as a shared object. All calls come from one thread (asfcast's mux thread),
 * one at a time; a call must return within drm.deadline_ms (asfcast checks it when the call
 * returns and stops the protected broadcast when it was late; a call that never returns stalls
 * the broadcast, so untrusted packagers are better run as programs).
 *
 *   int asfcast_packager_v1_open(const char* config, void** state, char* error, size_t error_size);
 *     config: the preset's drm.config text (NUL-terminated). Returns 0 and sets *state, or non-zero
 *     with a NUL-terminated message in error (never key material).
 *   int asfcast_packager_v1_call(void* state, const uint8_t* request, size_t request_size,
 *                                uint8_t** reply, size_t* reply_size);
 *     One request message (HELLO, PROTECT or END); *reply receives one reply message (HEADER,
 *     PROTECTED or ERROR; none for END) allocated by the library. Returns 0, or non-zero when the
 *     library itself failed (asfcast then stops the protected broadcast).
 *   void asfcast_packager_v1_free(void* state, uint8_t* reply);   frees a reply
 *   void asfcast_packager_v1_close(void* state);                   the end
 */
#ifndef ASFCAST_DRM_PACKAGER_ABI_H
#define ASFCAST_DRM_PACKAGER_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*asfcast_packager_v1_open_fn)(const char* config, void** state, char* error, size_t error_size);
typedef int (*asfcast_packager_v1_call_fn)(void* state, const uint8_t* request, size_t request_size, uint8_t** reply,
                                           size_t* reply_size);
typedef void (*asfcast_packager_v1_free_fn)(void* state, uint8_t* reply);
typedef void (*asfcast_packager_v1_close_fn)(void* state);

#ifdef __cplusplus
}
#endif

#endif
