// Packagers reached through the packager protocol (internal to drm/; make_packager builds them).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "asfcast/asfmux/packager.hpp"
#include "asfcast/drm/protocol.hpp"

namespace asfcast::drm {

// An external program: HELLO/PROTECT written to its standard input, HEADER/PROTECTED read from its
// standard output, each answer within `deadline` (HELLO: at least 10 s, to let it start). Any
// failure (exit, crash, ERROR, protocol violation, timeout) kills the program and throws
// PackagerError saying what happened; every later call throws too.
class ExternalPackager : public asfmux::Packager {
public:
    ExternalPackager(std::vector<std::string> argv, std::string config, std::chrono::milliseconds deadline);
    ~ExternalPackager() override;
    ExternalPackager(const ExternalPackager&) = delete;
    ExternalPackager& operator=(const ExternalPackager&) = delete;

    std::string name() const override;
    asfmux::ProtectionHeader header(const asfmux::StreamSet& streams) override;
    void protect(EncodedFrame& frame, Bytes& extension) override;

private:
    protocol::Message call(protocol::Type type, const Bytes& body, protocol::Type want, std::chrono::milliseconds deadline);
    [[noreturn]] void fail(const std::string& why);

    std::vector<std::string> argv_;
    std::string config_;
    std::chrono::milliseconds deadline_;
    pid_t pid_ = -1;
    int to_child_ = -1;
    int from_child_ = -1;
    std::uint32_t sequence_ = 0;
    protocol::MessageReader reader_;
    bool broken_ = false;
};

// A shared object with the packager_abi.h entry points. The deadline is checked when a call
// returns (a late answer is discarded and fails the broadcast).
class SharedObjectPackager : public asfmux::Packager {
public:
    SharedObjectPackager(const std::string& path, const std::string& config, std::chrono::milliseconds deadline);
    ~SharedObjectPackager() override;
    SharedObjectPackager(const SharedObjectPackager&) = delete;
    SharedObjectPackager& operator=(const SharedObjectPackager&) = delete;

    std::string name() const override;
    asfmux::ProtectionHeader header(const asfmux::StreamSet& streams) override;
    void protect(EncodedFrame& frame, Bytes& extension) override;

private:
    protocol::Message call(protocol::Type type, const Bytes& body, protocol::Type want);

    std::string path_;
    std::string config_;
    std::chrono::milliseconds deadline_;
    void* handle_ = nullptr;
    void* state_ = nullptr;
    void* open_ = nullptr;
    void* call_ = nullptr;
    void* free_ = nullptr;
    void* close_ = nullptr;
    std::uint32_t sequence_ = 0;
    bool broken_ = false;
};

}  // namespace asfcast::drm
