// MulticastOutput: the UDP socket and the thread around MsbSender. This file only opens the
// socket, moves the feed's packets into the sender, sends what the sender hands out and writes
// the .nsc file; the protocol is in msb_sender.cpp.
#include "asfcast/multicast/multicast.hpp"

#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <asio.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asfcast/core/thread_annotations.hpp"
#include "asfcast/core/thread_name.hpp"

namespace asfcast::multicast {

namespace {

using Clock = SteadyClock;
using asio::ip::udp;

std::string errno_text() { return std::strerror(errno); }

// The .nsc file appears whole or not at all: a temporary file in the same folder, renamed.
void write_file_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw MulticastError(fmt::format("cannot write the .nsc file '{}': {}", path, errno_text()));
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const std::string why = errno_text();
            ::close(fd);
            ::unlink(tmp.c_str());
            throw MulticastError(fmt::format("cannot write the .nsc file '{}': {}", path, why));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) spdlog::warn("multicast: fsync of {}: {}", tmp, errno_text());
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = errno_text();
        ::unlink(tmp.c_str());
        throw MulticastError(fmt::format("cannot write the .nsc file '{}': rename: {}", path, why));
    }
}

// getifaddrs, freed on every path.
struct InterfaceList {
    ifaddrs* list = nullptr;
    InterfaceList() {
        if (::getifaddrs(&list) != 0) throw MulticastError(fmt::format("cannot list the network interfaces: {}", errno_text()));
    }
    ~InterfaceList() { ::freeifaddrs(list); }
    InterfaceList(const InterfaceList&) = delete;
    InterfaceList& operator=(const InterfaceList&) = delete;
};

struct SendFrom {
    asio::ip::address source;  // bound and announced as the Multicast Adapter; unspecified: none
    unsigned ifindex = 0;      // IPv6
    std::string shown;         // for log lines
};

// Where the datagrams leave (MulticastConfig::interface): an address of this host or an
// interface name; none named: the loopback interface, so nothing reaches a network by default.
SendFrom resolve_interface(const std::string& name, bool v6) {
    SendFrom from;
    asio::error_code ec;
    if (name.empty()) {
        if (!v6) {
            from.source = asio::ip::address_v4::loopback();
            from.shown = "127.0.0.1 (loopback only: name an interface to reach a network)";
            return from;
        }
        InterfaceList ifs;
        for (ifaddrs* i = ifs.list; i; i = i->ifa_next)
            if (i->ifa_flags & IFF_LOOPBACK) {
                from.ifindex = ::if_nametoindex(i->ifa_name);
                from.shown = fmt::format("{} (loopback only: name an interface to reach a network)", i->ifa_name);
                break;
            }
        if (from.ifindex == 0) throw MulticastError("multicast: no loopback interface to send on; name an interface");
        return from;
    }
    const asio::ip::address addr = asio::ip::make_address(name, ec);
    InterfaceList ifs;
    if (!ec) {
        if (addr.is_v6() != v6)
            throw MulticastError(fmt::format("multicast interface {} is an IPv{} address and the group IPv{}", name,
                                             addr.is_v6() ? 6 : 4, v6 ? 6 : 4));
        for (ifaddrs* i = ifs.list; i; i = i->ifa_next) {
            if (!i->ifa_addr) continue;
            if (!v6 && i->ifa_addr->sa_family == AF_INET) {
                const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
                asio::ip::address_v4::bytes_type b;
                std::memcpy(b.data(), &sin->sin_addr, 4);
                if (asio::ip::address_v4(b) == addr.to_v4()) {
                    from.source = addr;
                    from.shown = fmt::format("{} ({})", name, i->ifa_name);
                    return from;
                }
            } else if (v6 && i->ifa_addr->sa_family == AF_INET6) {
                const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
                asio::ip::address_v6::bytes_type b;
                std::memcpy(b.data(), &sin6->sin6_addr, 16);
                if (asio::ip::address_v6(b) == addr.to_v6()) {
                    from.ifindex = ::if_nametoindex(i->ifa_name);
                    asio::ip::address_v6 src(b, addr.to_v6().is_link_local() ? from.ifindex : 0);
                    from.source = src;
                    from.shown = fmt::format("{} ({})", name, i->ifa_name);
                    return from;
                }
            }
        }
        throw MulticastError(fmt::format("multicast interface {}: no interface of this host has that address", name));
    }
    // An interface name.
    const unsigned index = ::if_nametoindex(name.c_str());
    if (index == 0) throw MulticastError(fmt::format("multicast interface '{}' is neither an address nor an interface of this host", name));
    if (v6) {
        from.ifindex = index;
        from.shown = name;
        return from;
    }
    for (ifaddrs* i = ifs.list; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && name == i->ifa_name) {
            const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
            asio::ip::address_v4::bytes_type b;
            std::memcpy(b.data(), &sin->sin_addr, 4);
            from.source = asio::ip::address_v4(b);
            from.shown = fmt::format("{} ({})", from.source.to_string(), name);
            return from;
        }
    throw MulticastError(fmt::format("multicast interface '{}' has no IPv4 address", name));
}

}  // namespace

void validate(const MulticastConfig& c) {
    asio::error_code ec;
    const asio::ip::address group = asio::ip::make_address(c.group, ec);
    if (ec) throw MulticastError(fmt::format("multicast group '{}' is not an IP address", c.group));
    if (!group.is_multicast())
        throw MulticastError(fmt::format("multicast group {} is not a multicast address (IPv4 224.0.0.0/4, IPv6 ff00::/8)", c.group));
    if (c.port == 0) throw MulticastError("multicast port 0: give a UDP port from 1 to 65535");
    if (c.ttl < 0 || c.ttl > 255) throw MulticastError(fmt::format("multicast TTL {} is outside 0..255", c.ttl));
    try {
        validate(c.msb);
    } catch (const MsbError& e) {
        throw MulticastError(std::string("multicast: ") + e.what());
    }
}

struct MulticastOutput::Impl final : DatagramSink {
    explicit Impl(MulticastConfig c)
        : config(std::move(c)),
          socket(ioc),
          feed(std::make_shared<OutputFeed>(OutputFeed::Config{"multicast", config.feed_packets})) {}

    MulticastConfig config;
    asio::io_context ioc;  // only for the socket; nothing runs it (sends are synchronous)
    udp::socket socket;
    udp::endpoint destination;
    SendFrom from;
    std::shared_ptr<OutputFeed> feed;
    MulticastStats stats;
    std::thread thread;
    std::atomic<bool> stopping{false};

    // The sender and the .nsc text: the output thread and announce() (the job's thread) use them.
    mutable Mutex m;
    std::optional<MsbSender> sender GUARDED_BY(m);
    std::string nsc GUARDED_BY(m);
    bool warned_fragments GUARDED_BY(m) = false;

    std::mutex done_m;
    std::condition_variable done_cv;

    // Touched by send() only, which runs inside the sender's calls, with `m` held.
    Clock::time_point last_error_log{};
    std::uint64_t unlogged_errors = 0;

    void open() {
        const asio::ip::address group = asio::ip::make_address(config.group);
        const bool v6 = group.is_v6();
        from = resolve_interface(config.interface, v6);
        destination = udp::endpoint(group, config.port);
        asio::error_code ec;
        socket.open(v6 ? udp::v6() : udp::v4(), ec);
        if (ec) throw MulticastError(fmt::format("multicast: cannot open a UDP socket: {}", ec.message()));
        auto option = [&](auto&& opt, const char* what) {
            socket.set_option(opt, ec);
            if (ec) throw MulticastError(fmt::format("multicast to {}: cannot set {}: {}", config.group, what, ec.message()));
        };
        // MS-MSB 2.2.1.4 Time To Live: the IPv4 TTL / IPv6 hop limit of every MSB packet.
        option(asio::ip::multicast::hops(config.ttl), "the TTL");
        // Receivers on this host get the datagrams too.
        option(asio::ip::multicast::enable_loopback(true), "loopback delivery");
        if (v6) option(asio::ip::multicast::outbound_interface(from.ifindex), "the outgoing interface");
        else option(asio::ip::multicast::outbound_interface(from.source.to_v4()), "the outgoing interface");
        if (config.send_buffer_bytes > 0) option(asio::socket_base::send_buffer_size(config.send_buffer_bytes), "SO_SNDBUF");
        if (!from.source.is_unspecified()) {
            // The source address is the interface's: what the .nsc's Multicast Adapter says.
            socket.bind(udp::endpoint(from.source, 0), ec);
            if (ec) throw MulticastError(fmt::format("multicast: cannot send from {}: {}", from.source.to_string(), ec.message()));
        }
        // Connecting looks the route up now: a group the interface cannot reach (IPv6 on a loopback
        // without multicast, an interface that is down) fails here, not at every datagram.
        socket.connect(destination, ec);
        if (ec)
            throw MulticastError(fmt::format("multicast to {} from {}: {}{}", destination_text(), from.shown, ec.message(),
                                             v6 && config.interface.empty()
                                                 ? " (IPv6 multicast on the loopback needs the interface to have multicast; "
                                                   "name an interface)"
                                                 : ""));
    }

    // DatagramSink: one gather write per datagram (the head is ours, the body the muxer's bytes).
    void send(const MsbDatagram& d) override {
        const std::array<asio::const_buffer, 2> buffers{asio::buffer(d.head.data(), d.head.size()),
                                                        asio::buffer(d.body.data(), d.body.size())};
        asio::error_code ec;
        const std::size_t n = socket.send(buffers, 0, ec);
        if (ec || n != d.size()) {
            ++stats.send_errors;
            ++unlogged_errors;
            const auto now = Clock::now();
            if (now - last_error_log >= std::chrono::seconds(10)) {
                spdlog::error("multicast to {}: {} datagram(s) not sent: {}", destination_text(), unlogged_errors,
                              ec ? ec.message() : fmt::format("sent {} of {} bytes", n, d.size()));
                last_error_log = now;
                unlogged_errors = 0;
            }
            return;
        }
        ++stats.datagrams;
        stats.bytes += n;
        switch (d.kind) {
            case DatagramKind::data: ++stats.data_packets; break;
            case DatagramKind::parity: ++stats.parity_packets; break;
            case DatagramKind::beacon: ++stats.beacons; break;
        }
    }

    std::string destination_text() const {
        const std::string g = destination.address().is_v6() ? "[" + config.group + "]" : config.group;
        return fmt::format("{}:{}", g, config.port);
    }

    NscAnnouncement announcement_locked() const REQUIRES(m) {
        NscAnnouncement a;
        a.name = config.name;
        if (!from.source.is_unspecified()) a.multicast_adapter = from.source.is_v6() ? from.source.to_v6().to_string() : from.source.to_string();
        a.ip_address = config.group;
        a.ip_port = config.port;
        a.time_to_live = static_cast<std::uint32_t>(config.ttl);
        if (config.msb.fec_span > 0) a.default_ecc = static_cast<std::uint32_t>(config.msb.fec_span);
        a.log_url = config.log_url;
        a.unicast_url = config.unicast_url;
        a.network_buffer_ms = config.network_buffer_ms;
        for (const MsbFormat& f : sender->formats()) a.formats.push_back({f.format_id, f.header->bytes, config.description});
        return a;
    }

    // A new header was given to the sender: the .nsc lists it before its first packet leaves.
    std::string update_nsc_locked(const HeaderPtr& header) REQUIRES(m) {
        std::string text = make_nsc(announcement_locked(), config.nsc_strings);
        if (!config.nsc_path.empty()) write_file_atomically(config.nsc_path, text);
        nsc = text;
        if (!warned_fragments && header->packet_size + 11 > 1472) {
            warned_fragments = true;
            spdlog::info("multicast: MSB packets of up to {} bytes travel as IP fragments on a 1500-byte link, where one "
                         "lost fragment loses the packet; asf.packet_size 1400 keeps each in one frame",
                         header->packet_size + 11);
        }
        return text;
    }

    // On the output thread: a header from the feed.
    void header_locked(const HeaderPtr& header, Clock::time_point now) REQUIRES(m) {
        if (!sender->on_header(header, now, *this)) return;
        try {
            update_nsc_locked(header);
            spdlog::info("multicast: new stream (header version {}), wStreamID 0x{:04X}{}", header->version,
                         sender->stream_id(), config.nsc_path.empty() ? "" : "; " + config.nsc_path + " rewritten");
        } catch (const std::exception& e) {
            // The packets go on; players with the old file ignore the new Format ID (MS-MSB 3.2.5.2).
            spdlog::error("multicast: {}", e.what());
        }
    }

    void run() {
        set_thread_name("asfcast-mcast");
        OutputFeed::Batch batch;
        HeaderPtr header;
        try {
            while (!stopping) {
                const auto now = Clock::now();
                bool got = false;
                {
                    MutexLock lk(m);
                    sender->on_timer(now, *this);
                    got = feed->take(batch, 256);
                    if (got) {
                        stats.packets_skipped = batch.discarded;
                        for (const auto& e : batch.entries) {
                            if (e.header != header) {
                                header = e.header;
                                header_locked(header, now);
                            }
                            try {
                                sender->on_packet(*e.packet, now, *this);
                            } catch (const MsbError& err) {
                                spdlog::error("multicast: packet {} not sent: {}", e.packet->number, err.what());
                            }
                        }
                        if (batch.header && batch.header != header && batch.entries.empty()) {
                            header = batch.header;
                            header_locked(header, now);
                        }
                        if (batch.ended) {
                            sender->on_end(now, *this);
                            break;
                        }
                    }
                }
                if (!got) {
                    auto wait = std::chrono::milliseconds(200);
                    std::optional<Clock::time_point> due;
                    {
                        MutexLock lk(m);
                        due = sender->deadline();
                    }
                    if (due) {
                        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*due - Clock::now()) +
                                          std::chrono::milliseconds(1);
                        wait = std::clamp(left, std::chrono::milliseconds(1), wait);
                    }
                    feed->wait(wait);
                }
            }
        } catch (const std::exception& e) {
            stats.failed = true;
            spdlog::error("multicast to {}: stopped after an error: {}; the broadcast goes on without it", destination_text(),
                          e.what());
        }
        feed->close();
        {
            MutexLock lk(m);
            if (unlogged_errors)
                spdlog::error("multicast to {}: {} more datagram(s) not sent", destination_text(), unlogged_errors);
        }
        std::lock_guard lk(done_m);
        stats.finished = true;
        done_cv.notify_all();
    }
};

MulticastOutput::MulticastOutput(MulticastConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
    validate(impl_->config);
    impl_->open();
    {
        MutexLock lk(impl_->m);
        impl_->sender.emplace(impl_->config.msb, Clock::now());
    }
    const auto& c = impl_->config;
    spdlog::info("multicast: MSB to {} from {}, ttl {}, {}, beacons every {} s while idle", impl_->destination_text(),
                 impl_->from.shown, c.ttl,
                 c.msb.fec_span > 0 ? fmt::format("a parity packet after every {} packets", c.msb.fec_span)
                                    : std::string("no error correction"),
                 std::chrono::duration<double>(c.msb.beacon_interval).count());
    impl_->thread = std::thread([this] { impl_->run(); });
}

MulticastOutput::~MulticastOutput() { stop(); }

std::shared_ptr<OutputFeed> MulticastOutput::feed() const { return impl_->feed; }

std::string MulticastOutput::announce(const HeaderPtr& header) {
    MutexLock lk(impl_->m);
    try {
        impl_->sender->on_header(header, Clock::now(), *impl_);
    } catch (const MsbError& e) {
        throw MulticastError(std::string("multicast: ") + e.what());
    }
    std::string text = impl_->update_nsc_locked(header);
    if (!impl_->config.nsc_path.empty()) spdlog::info("multicast: announced in {}", impl_->config.nsc_path);
    return text;
}

std::string MulticastOutput::nsc_text() const {
    MutexLock lk(impl_->m);
    return impl_->nsc;
}

bool MulticastOutput::wait_finished(std::chrono::milliseconds timeout) {
    std::unique_lock lk(impl_->done_m);
    return impl_->done_cv.wait_for(lk, timeout, [&] { return impl_->stats.finished.load(); });
}

void MulticastOutput::stop() {
    if (!impl_) return;
    impl_->stopping = true;
    impl_->feed->close();
    if (impl_->thread.joinable()) impl_->thread.join();
    asio::error_code ignored;
    impl_->socket.close(ignored);
}

const MulticastStats& MulticastOutput::stats() const { return impl_->stats; }

std::string MulticastOutput::destination() const {
    return fmt::format("{} from {} (ttl {})", impl_->destination_text(), impl_->from.shown, impl_->config.ttl);
}

}  // namespace asfcast::multicast
