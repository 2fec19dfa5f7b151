// `asfcast devices`: the V4L2 and ALSA capture devices of this machine (or of a recording).
#pragma once

namespace asfcast::app {

// Prints a table, or with `json` {"video":[...],"audio":[...]}. The environment variable
// ASFCAST_DEVICES_RECORDING=<file.yaml> replaces the machine's devices by a recording (tests).
int list_devices(bool json);

}  // namespace asfcast::app
