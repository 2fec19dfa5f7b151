// The packagers that are not linked in: an external program over pipes, and a shared object
// with the C entry points of packager_abi.h. Both speak the packager protocol (protocol.hpp);
// this file is the I/O edge (processes, pipes, poll, dlopen).
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "asfcast/drm/packager_abi.h"
#include "transports.hpp"

extern char** environ;

namespace asfcast::drm {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::Message;
using protocol::ProtocolError;
using protocol::Type;

long long ms_since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// A reply must be of the expected type, or ERROR; anything else is the packager's fault. The
// message says what happened; the caller puts the packager's name in front.
Message expect_reply(Message m, Type want, std::uint32_t sequence) {
    if (m.sequence != sequence)
        throw asfmux::PackagerError("answered request " + std::to_string(m.sequence) + " while request " +
                                    std::to_string(sequence) + " was pending");
    if (m.type == Type::error) throw asfmux::PackagerError("reported an error: " + protocol::decode_error(m.body));
    if (m.type != want)
        throw asfmux::PackagerError(std::string("answered with ") + protocol::type_name(m.type) + " where " +
                                    protocol::type_name(want) + " was expected");
    return m;
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                    strsignal(WTERMSIG(status)) + ")";
    return "stopped";
}

}  // namespace

// ---- ExternalPackager ----

ExternalPackager::ExternalPackager(std::vector<std::string> argv, std::string config, std::chrono::milliseconds deadline)
    : argv_(std::move(argv)), config_(std::move(config)), deadline_(deadline) {
    if (argv_.empty()) throw std::runtime_error("drm.program: no program given");
    // A packager that dies while we write to it must give EPIPE, not kill asfcast.
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGPIPE, &ign, nullptr);
    }
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error(std::string("drm.program: pipe: ") + std::strerror(errno));
    if (::pipe2(out, O_CLOEXEC) != 0) {
        ::close(in[0]);
        ::close(in[1]);
        throw std::runtime_error(std::string("drm.program: pipe: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);   // the child's stdin: our requests
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);  // the child's stdout: its replies
    std::vector<char*> args;
    for (auto& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, argv_[0].c_str(), &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
        ::close(in[1]);
        ::close(out[0]);
        pid_ = -1;
        throw std::runtime_error("drm.program: cannot start " + argv_[0] + ": " + std::strerror(rc));
    }
    to_child_ = in[1];
    from_child_ = out[0];
    ::fcntl(to_child_, F_SETFL, ::fcntl(to_child_, F_GETFL) | O_NONBLOCK);
    ::fcntl(from_child_, F_SETFL, ::fcntl(from_child_, F_GETFL) | O_NONBLOCK);
}

ExternalPackager::~ExternalPackager() {
    if (pid_ > 0 && !broken_) {
        // Best effort: END, then a moment to exit by itself.
        try {
            const Bytes end = protocol::encode(Type::end, ++sequence_, {});
            (void)::write(to_child_, end.data(), end.size());
        } catch (...) {
        }
    }
    if (to_child_ >= 0) ::close(to_child_);
    if (from_child_ >= 0) ::close(from_child_);
    if (pid_ > 0) {
        int status = 0;
        for (int i = 0; i < 50; ++i) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
    }
}

std::string ExternalPackager::name() const { return "external program " + argv_[0]; }

void ExternalPackager::fail(const std::string& why) {
    broken_ = true;
    std::string what = why;
    if (pid_ > 0) {
        int status = 0;
        pid_t r = 0;
        // The program may be exiting right now (it closed its output): give it a moment.
        for (int i = 0; i < 20 && (r = ::waitpid(pid_, &status, WNOHANG)) == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (r == pid_) {
            what += "; it " + describe_status(status);
        } else {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            what += "; it was stopped (SIGKILL)";
        }
        pid_ = -1;
    }
    throw asfmux::PackagerError("packager program " + argv_[0] + ": " + what);
}

Message ExternalPackager::call(Type type, const Bytes& body, Type want, std::chrono::milliseconds deadline) {
    if (broken_) throw asfmux::PackagerError("packager program " + argv_[0] + " has already failed");
    const std::uint32_t seq = ++sequence_;
    const Bytes request = protocol::encode(type, seq, body);
    const auto start = Clock::now();
    const auto left = [&] {
        return static_cast<int>(std::max<long long>(0, deadline.count() - ms_since(start)));
    };
    std::size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n = ::write(to_child_, request.data() + sent, request.size() - sent);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) fail(std::string("cannot send ") + protocol::type_name(type) + ": " + std::strerror(errno));
        pollfd p{to_child_, POLLOUT, 0};
        if (left() == 0) fail("did not take a " + std::string(protocol::type_name(type)) + " request within " +
                              std::to_string(deadline.count()) + " ms");
        if (::poll(&p, 1, left()) < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
    }
    std::uint8_t buf[65536];
    for (;;) {
        try {
            if (auto m = reader_.next()) return expect_reply(std::move(*m), want, seq);
        } catch (const ProtocolError& e) {
            fail(std::string("broke the packager protocol: ") + e.what());
        } catch (const asfmux::PackagerError& e) {
            fail(e.what());
        }
        const ssize_t n = ::read(from_child_, buf, sizeof buf);
        if (n > 0) {
            reader_.feed(ByteView(buf, static_cast<std::size_t>(n)));
            continue;
        }
        if (n == 0) fail("closed its output without answering " + std::string(protocol::type_name(type)));
        if (errno == EINTR) continue;
        if (errno != EAGAIN) fail(std::string("read: ") + std::strerror(errno));
        if (left() == 0)
            fail("did not answer " + std::string(protocol::type_name(type)) + " within its deadline of " +
                 std::to_string(deadline.count()) + " ms");
        pollfd p{from_child_, POLLIN, 0};
        if (::poll(&p, 1, left()) < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
    }
}

asfmux::ProtectionHeader ExternalPackager::header(const asfmux::StreamSet& streams) {
    // The first answer also waits for the program to start: at least 10 s.
    const Message m = call(Type::hello, protocol::encode_hello(protocol::hello_for(streams, config_)), Type::header,
                           std::max(deadline_, std::chrono::milliseconds(10000)));
    try {
        return protocol::decode_header(m.body);
    } catch (const ProtocolError& e) {
        fail(std::string("sent a malformed HEADER: ") + e.what());
    }
}

void ExternalPackager::protect(EncodedFrame& frame, Bytes& extension) {
    const Message m = call(Type::protect, protocol::encode_protect(frame), Type::protected_object, deadline_);
    try {
        protocol::Protected p = protocol::decode_protected(m.body);
        frame.data = std::move(p.data);
        extension = std::move(p.extension);
    } catch (const ProtocolError& e) {
        fail(std::string("sent a malformed PROTECTED: ") + e.what());
    }
}

// ---- SharedObjectPackager ----

SharedObjectPackager::SharedObjectPackager(const std::string& path, const std::string& config,
                                           std::chrono::milliseconds deadline)
    : path_(path), config_(config), deadline_(deadline) {
    handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw std::runtime_error("drm.library " + path + ": " + ::dlerror());
    const auto sym = [&](const char* name) {
        void* p = ::dlsym(handle_, name);
        if (!p) {
            ::dlclose(handle_);
            handle_ = nullptr;
            throw std::runtime_error("drm.library " + path + " has no " + name + " (see asfcast/drm/packager_abi.h)");
        }
        return p;
    };
    open_ = reinterpret_cast<void*>(sym("asfcast_packager_v1_open"));
    call_ = reinterpret_cast<void*>(sym("asfcast_packager_v1_call"));
    free_ = reinterpret_cast<void*>(sym("asfcast_packager_v1_free"));
    close_ = reinterpret_cast<void*>(sym("asfcast_packager_v1_close"));
    char error[512] = {};
    if (reinterpret_cast<asfcast_packager_v1_open_fn>(open_)(config.c_str(), &state_, error, sizeof error - 1) != 0) {
        ::dlclose(handle_);
        handle_ = nullptr;
        throw std::runtime_error("drm.library " + path + " refused to open: " + std::string(error));
    }
}

SharedObjectPackager::~SharedObjectPackager() {
    if (!handle_) return;
    if (!broken_) {
        try {
            const Bytes end = protocol::encode(Type::end, ++sequence_, {});
            std::uint8_t* reply = nullptr;
            std::size_t size = 0;
            if (reinterpret_cast<asfcast_packager_v1_call_fn>(call_)(state_, end.data(), end.size(), &reply, &size) == 0 &&
                reply)
                reinterpret_cast<asfcast_packager_v1_free_fn>(free_)(state_, reply);
        } catch (...) {
        }
    }
    reinterpret_cast<asfcast_packager_v1_close_fn>(close_)(state_);
    ::dlclose(handle_);
}

std::string SharedObjectPackager::name() const { return "shared object " + path_; }

Message SharedObjectPackager::call(Type type, const Bytes& body, Type want) {
    const std::string who = "packager library " + path_;
    if (broken_) throw asfmux::PackagerError(who + " has already failed");
    const std::uint32_t seq = ++sequence_;
    const Bytes request = protocol::encode(type, seq, body);
    std::uint8_t* reply = nullptr;
    std::size_t size = 0;
    const auto start = Clock::now();
    const int rc = reinterpret_cast<asfcast_packager_v1_call_fn>(call_)(state_, request.data(), request.size(), &reply, &size);
    const long long took = ms_since(start);
    Bytes copy;
    if (reply) {
        copy.assign(reply, reply + size);
        reinterpret_cast<asfcast_packager_v1_free_fn>(free_)(state_, reply);
    }
    broken_ = true;  // until proven otherwise
    if (rc != 0) throw asfmux::PackagerError(who + ": asfcast_packager_v1_call returned " + std::to_string(rc));
    if (took > deadline_.count() && type != Type::hello)
        throw asfmux::PackagerError(who + ": took " + std::to_string(took) + " ms to answer " + protocol::type_name(type) +
                                    ", beyond its deadline of " + std::to_string(deadline_.count()) + " ms");
    protocol::MessageReader r;
    r.feed(copy);
    std::optional<Message> m;
    try {
        m = r.next();
    } catch (const ProtocolError& e) {
        throw asfmux::PackagerError(who + " broke the packager protocol: " + e.what());
    }
    if (!m || r.buffered() != 0) throw asfmux::PackagerError(who + ": the reply is not exactly one protocol message");
    try {
        Message out = expect_reply(std::move(*m), want, seq);
        broken_ = false;
        return out;
    } catch (const asfmux::PackagerError& e) {
        throw asfmux::PackagerError(who + ": " + e.what());
    }
}

asfmux::ProtectionHeader SharedObjectPackager::header(const asfmux::StreamSet& streams) {
    const Message m = call(Type::hello, protocol::encode_hello(protocol::hello_for(streams, config_)), Type::header);
    try {
        return protocol::decode_header(m.body);
    } catch (const ProtocolError& e) {
        broken_ = true;
        throw asfmux::PackagerError("packager library " + path_ + " sent a malformed HEADER: " + e.what());
    }
}

void SharedObjectPackager::protect(EncodedFrame& frame, Bytes& extension) {
    const Message m = call(Type::protect, protocol::encode_protect(frame), Type::protected_object);
    try {
        protocol::Protected p = protocol::decode_protected(m.body);
        frame.data = std::move(p.data);
        extension = std::move(p.extension);
    } catch (const ProtocolError& e) {
        broken_ = true;
        throw asfmux::PackagerError("packager library " + path_ + " sent a malformed PROTECTED: " + e.what());
    }
}

}  // namespace asfcast::drm
