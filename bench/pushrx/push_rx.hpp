// Minimal MS-WMHTTP push receivers for push_bench: N listening sockets on 127.0.0.1 served by one epoll
// thread (the caller's: poll() runs one epoll_wait and handles what it returns). Cheap on purpose: no payload
// is kept. Each receiver answers PushSetup (MS-WMHTTP 2.2.2.1) with 204 No Content, `Server: Cougar/...`,
// `Set-Cookie: push-id=<n>`, `Content-Length: 0`; then reads PushStart heads and their bodies, parsing the
// $-framing (2.2.3: '$', PacketID, u16 LE PacketLength, payload) incrementally, counting $D payload bytes,
// $H, $C, $E (and its reason) and $F; it answers 204 when a PushStart body's Content-Length is used up.
// Anything it cannot parse is counted as a framing or protocol error and the connection is closed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pushrx {

struct RxStats {
    std::uint64_t d_bytes = 0;  // $D payload bytes, counted as they arrive (exact at any instant)
    std::uint64_t d_pkts = 0;
    std::uint64_t h_pkts = 0, c_pkts = 0, e_pkts = 0, f_bytes = 0;
    std::uint32_t last_e_reason = 0;
    std::uint64_t e_nonzero = 0;  // $E with a reason other than 0
    std::uint64_t conns = 0, setups = 0, posts = 0, posts_completed = 0;
    std::uint64_t closed_mid_post = 0;  // the client closed with a PushStart body unfinished and no $E
    std::uint64_t framing_errors = 0, protocol_errors = 0;
    std::string first_error;
    std::uint32_t h_bytes = 0;
    std::uint16_t d_len_min = 0xFFFF, d_len_max = 0;
    double t_first_h = 0, t_first_d = 0, t_e = 0;  // now_s() of the first $H / $D, of the last $E
    int open = 0;                                  // connections open now
    bool streaming = false;                        // a connection is inside a PushStart body now
};

class Receivers {
public:
    // port_base 0: ephemeral ports; otherwise port_base .. port_base+n-1. Throws on socket errors.
    explicit Receivers(int n, int port_base = 0);
    ~Receivers();
    Receivers(const Receivers&) = delete;
    Receivers& operator=(const Receivers&) = delete;

    int size() const { return static_cast<int>(stats_.size()); }
    std::uint16_t port(int i) const { return ports_[static_cast<std::size_t>(i)]; }
    const RxStats& at(int i) const { return stats_[static_cast<std::size_t>(i)]; }

    // One epoll_wait of at most timeout_ms and the handling of every ready socket.
    void poll(int timeout_ms);
    int open_connections() const { return open_; }
    std::uint64_t reads() const { return reads_; }
    std::uint64_t wakeups() const { return wakeups_; }
    std::uint64_t bytes() const { return bytes_; }

private:
    struct Conn;
    struct Listener;
    void accept_on(Listener& l);
    void on_readable(Conn& c);
    // Handles n bytes; false: the connection must be closed.
    bool consume(Conn& c, const std::uint8_t* p, std::size_t n);
    bool on_head(Conn& c);
    bool end_of_body(Conn& c);
    void body_frames(Conn& c, const std::uint8_t* p, std::size_t n);
    bool reply(Conn& c, const std::string& s);
    void error(Conn& c, bool framing, std::string what);
    void close_conn(Conn* c);

    int epfd_ = -1;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::uint16_t> ports_;
    std::vector<RxStats> stats_;
    std::vector<Conn*> conns_;  // owned; deleted on close
    std::vector<std::uint8_t> buf_;
    std::uint64_t next_id_ = 1;
    int open_ = 0;
    std::uint64_t reads_ = 0, wakeups_ = 0, bytes_ = 0;
};

}  // namespace pushrx
