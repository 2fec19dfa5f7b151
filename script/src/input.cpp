// CommandInput and send_command_line: the I/O edge of the line protocol (a FIFO or stdin).
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "asfcast/core/thread_name.hpp"
#include "asfcast/script/script.hpp"

namespace asfcast::script {

CommandInput::CommandInput(std::string path, OnCommand on_command, OnError on_error)
    : path_(std::move(path)), on_command_(std::move(on_command)), on_error_(std::move(on_error)) {
    if (path_ == "-") {
        fd_ = ::dup(0);
        if (fd_ < 0) throw std::runtime_error(std::string("--commands -: cannot use standard input: ") + std::strerror(errno));
    } else {
        struct stat st {};
        if (::stat(path_.c_str(), &st) != 0) {
            if (errno != ENOENT) throw std::runtime_error("--commands " + path_ + ": " + std::strerror(errno));
            // Only the owner may inject commands.
            if (::mkfifo(path_.c_str(), 0600) != 0)
                throw std::runtime_error("--commands " + path_ + ": cannot create the FIFO: " + std::strerror(errno));
            created_ = true;
        } else if (!S_ISFIFO(st.st_mode)) {
            throw std::runtime_error("--commands " + path_ + " exists and is not a FIFO (remove it, or name another path)");
        }
        // Read and write: the FIFO stays open between writers (no end of file when one closes).
        fd_ = ::open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd_ < 0) throw std::runtime_error("--commands " + path_ + ": " + std::strerror(errno));
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    thread_ = std::thread([this] { run(); });
}

CommandInput::~CommandInput() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    if (created_) ::unlink(path_.c_str());
}

void CommandInput::run() {
    set_thread_name("asfcast-cmds");
    std::string line;
    bool too_long = false;
    int number = 0;
    char buf[4096];
    while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, 200);
        if (r < 0 && errno != EINTR) {
            on_error_(std::string("commands: poll: ") + std::strerror(errno));
            return;
        }
        if (r <= 0) continue;
        const ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n == 0) return;  // standard input ended (a FIFO opened O_RDWR never ends)
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            on_error_(std::string("commands: read: ") + std::strerror(errno));
            return;
        }
        for (ssize_t i = 0; i < n; ++i) {
            const char c = buf[i];
            if (c != '\n') {
                if (line.size() <= kMaxLineBytes) line += c;
                else too_long = true;
                continue;
            }
            ++number;
            if (too_long) {
                on_error_("commands line " + std::to_string(number) + ": longer than " + std::to_string(kMaxLineBytes) +
                          " bytes; ignored");
            } else {
                LineResult lr = parse_command_line(line);
                if (lr.command) on_command_(std::move(*lr.command));
                else if (!lr.error.empty()) on_error_("commands line " + std::to_string(number) + ": " + lr.error + "; ignored");
            }
            line.clear();
            too_long = false;
        }
    }
}

void send_command_line(const std::string& fifo, const std::string& line) {
    const LineResult lr = parse_command_line(line);
    if (!lr.command) throw std::runtime_error(lr.error.empty() ? "nothing to send" : lr.error);
    struct stat st {};
    if (::stat(fifo.c_str(), &st) != 0) throw std::runtime_error(fifo + ": " + std::strerror(errno));
    if (!S_ISFIFO(st.st_mode)) throw std::runtime_error(fifo + " is not a FIFO (asfcast run --commands PATH makes it)");
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENXIO) throw std::runtime_error("no broadcast reads " + fifo + " (asfcast run --commands " + fifo + ")");
        throw std::runtime_error(fifo + ": " + std::strerror(errno));
    }
    const std::string out = line + "\n";  // at most 4097 bytes: one write (PIPE_BUF is 4096 on Linux)
    const ssize_t n = ::write(fd, out.data(), out.size());
    const int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(out.size()))
        throw std::runtime_error(fifo + ": " + (n < 0 ? std::strerror(err) : std::string("short write")));
}

}  // namespace asfcast::script
