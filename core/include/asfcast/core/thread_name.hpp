// Names the calling thread (visible in top -H, ps -L, gdb, /proc/PID/task/*/comm). Linux allows
// 15 characters; longer names are cut.
#pragma once

#include <pthread.h>

#include <string>

namespace asfcast {

inline void set_thread_name(const std::string& name) {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace asfcast
