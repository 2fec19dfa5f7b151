// A single-threaded epoll load generator of MS-WMSP (mmsh) Play sessions.
//
// Each client connects to the server, sends a Play request like Windows Media Player's, reads the HTTP
// response head and then parses the $H/$D framing incrementally ([MS-WMSP] 2.2.3): every packet starts
// with a 4-byte framing header (0x24 or 0xA4, PacketID, u16 LE PacketLength); $D, $H and $M carry an
// 8-byte MMS data packet header (LocationId u32, Incarnation u8, AFFlags u8, PacketSize u16) whose
// PacketSize must equal PacketLength. The payload itself is never copied out of the read buffer.
//
// Cost per client is a ~150-byte slot, one socket and, once data flows, reads of about `rcvlowat` bytes
// (SO_RCVLOWAT batches wake-ups so the load generator stays cheaper than the server it measures).
//
// Latency, for "timed" clients (Client::timed, set before connect): they read as soon as data arrives (no
// SO_RCVLOWAT), stamp each read with CLOCK_MONOTONIC, keep the $H and $D payloads, take the preroll from
// the ASF header's File Properties Object and, for every $D, the packet's oldest presentation time from its
// payloads' replicated data (ASF-notes §16). With the server's media clock (set_media_origin: the
// CLOCK_MONOTONIC microseconds at media time 0, which asfcast writes with --media-clock-file) the latency of
// a $D is arrival - (origin + oldest presentation time - preroll): from the capture of the packet's oldest
// media to its arrival at the client. Samples go to a histogram while recording (set_recording).
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace loadgen {

double now_s();  // CLOCK_MONOTONIC seconds

enum class State : std::uint8_t { Idle, Connecting, Sending, Head, Body, Closed };

enum class Fail : std::uint8_t {
    None,
    Socket,      // socket()/connect() failed at once (EMFILE, EADDRNOTAVAIL...)
    Connect,     // asynchronous connect error (ECONNREFUSED, timeout)
    Send,        // error while sending the request
    HeadTooBig,  // no end of the response head within 16 KiB
    Status,      // response status is not 200
    Eof,         // the server closed the connection
    Reset,       // read error (ECONNRESET...)
    Framing,     // invalid $X framing: see Client::framing_errors
    Closed,      // closed by us (end of run)
};
const char* fail_name(Fail f);
const char* state_name(State s);

// What a timed client keeps to parse $H and $D payloads (only timed clients have one).
struct TimedState {
    std::vector<std::uint8_t> header;  // $H payloads of the header being received
    std::vector<std::uint8_t> packet;  // the current $D payload (one ASF data packet)
    bool header_done = false;          // the last $H piece arrived (a new $H starts a new header)
    std::int64_t preroll_ms = -1;      // from the File Properties Object; -1: not known yet
    std::uint64_t unparsed = 0;        // $D whose presentation times could not be read
};

struct Client {
    int fd = -1;
    bool timed = false;           // read eagerly and measure latency (see the header comment); kept by connect()
    State state = State::Idle;
    Fail fail = Fail::None;
    bool lowat_set = false;
    bool have_loc = false;
    std::uint8_t hdr_len = 0;     // bytes of the current framing + MMS header collected in hdr
    std::uint8_t hdr[12] = {};
    std::uint16_t status = 0;     // HTTP status of the response
    std::uint16_t req_off = 0;    // bytes of the request already sent
    std::uint32_t skip = 0;       // bytes of the current packet's body still to skip
    std::uint32_t last_loc = 0;   // LocationId of the last $D
    std::uint64_t raw_bytes = 0;  // every byte after the HTTP head
    std::uint64_t d_bytes = 0;    // $D payload bytes (the ASF packets, without the 12 framing bytes)
    std::uint64_t d_pkts = 0;
    std::uint32_t h_pkts = 0;
    std::uint32_t e_pkts = 0;
    std::uint32_t c_pkts = 0;
    std::uint32_t other_pkts = 0;  // $M, $P, $T and unknown IDs (skipped by PacketLength)
    std::uint64_t lost_pkts = 0;   // $D LocationIds skipped (server dropped packets for this client)
    std::uint32_t framing_errors = 0;
    std::uint32_t h_bytes = 0;     // $H payload bytes (the ASF header)
    std::uint16_t d_len_min = 0xffff, d_len_max = 0;  // $D PacketLength range
    double t_open = 0;             // when connect() was called
    double t_first_h = 0;          // when the first $H header was complete (0: not yet)
    std::unique_ptr<std::string> head;  // response head, only while reading it (kept for keep_head)
    std::unique_ptr<TimedState> timing; // timed clients only
    std::string framing_error;          // first framing error, for the report
};

struct Options {
    sockaddr_in addr{};
    std::string host;          // Host header value
    int rcvlowat = 65536;      // SO_RCVLOWAT once $D flows; 0: leave the default
    std::size_t read_size = 65536;
};

// The oldest presentation time (ms, as written: with the preroll) of the payloads of one ASF data packet,
// or -1 when the packet cannot be parsed (ASF-notes §16: error correction, payload parsing information,
// single or multiple payloads, replicated data of 8+ bytes or compressed payloads).
std::int64_t asf_packet_oldest_pts_ms(const std::uint8_t* p, std::size_t n);
// The Preroll (ms) of an ASF header (Header Object with its File Properties Object), or -1.
std::int64_t asf_header_preroll_ms(const std::uint8_t* p, std::size_t n);

// Latency samples: 0.1 ms buckets up to 10 s, then one overflow bucket.
struct LatencyHistogram {
    static constexpr std::size_t kBuckets = 100'000;
    std::vector<std::uint64_t> count = std::vector<std::uint64_t>(kBuckets + 1);
    std::uint64_t samples = 0, negative = 0;
    double max_ms = 0;
    void add(double ms);
    double percentile(double q) const;  // NaN when empty; the bucket's middle
    void clear();
};

class Engine {
public:
    Engine(std::size_t slots, Options options);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // (Re)starts slot i: resets its counters and begins a non-blocking connect.
    void connect(std::size_t i);
    // Closes slot i (no-op if not open); `why` is recorded unless it already failed.
    void close(std::size_t i, Fail why);
    void close_all();
    // Reads what the kernel holds for slot i (the reads that SO_RCVLOWAT would still delay), so counters
    // sampled right after are exact to the packet. Bounded to 64 reads.
    void drain(std::size_t i);
    // Waits at most timeout_ms for socket events and handles them.
    void poll(int timeout_ms);

    std::size_t size() const { return clients_.size(); }
    Client& at(std::size_t i) { return clients_[i]; }
    const Client& at(std::size_t i) const { return clients_[i]; }
    std::size_t open_count() const { return open_; }
    // Slot whose response head is kept after parsing (for the report); -1: none.
    void keep_head_of(std::ptrdiff_t i) { keep_head_ = i; }
    // Work counters of the load generator itself.
    std::uint64_t reads() const { return reads_; }
    std::uint64_t waits() const { return waits_; }
    // Latency of timed clients: the server's media clock origin (CLOCK_MONOTONIC us at media time 0;
    // 0: unknown, no samples), and whether $D arrivals are recorded now.
    void set_media_origin(std::int64_t us) { media_origin_us_ = us; }
    std::int64_t media_origin() const { return media_origin_us_; }
    void set_recording(bool on) { recording_ = on; }
    LatencyHistogram& latency() { return latency_; }
    std::uint64_t unparsed_packets() const;  // $D of timed clients whose times could not be read

private:
    void on_event(std::size_t i, std::uint32_t events);
    void on_writable(std::size_t i);
    void on_readable(std::size_t i);
    bool on_head_bytes(std::size_t i, const std::uint8_t* p, std::size_t n);
    bool on_body_bytes(std::size_t i, const std::uint8_t* p, std::size_t n);
    void on_timed_packet(Client& c, std::uint8_t id, std::uint8_t afflags);
    bool framing_fail(std::size_t i, std::string what);
    std::string request(std::size_t i) const;

    Options options_;
    int epfd_ = -1;
    std::vector<Client> clients_;
    std::vector<std::uint8_t> buf_;
    std::size_t open_ = 0;
    std::ptrdiff_t keep_head_ = -1;
    std::uint64_t guid_seed_;
    std::uint64_t reads_ = 0, waits_ = 0;
    std::int64_t media_origin_us_ = 0;
    bool recording_ = false;
    std::int64_t read_at_us_ = 0;  // CLOCK_MONOTONIC of the read being parsed (timed clients)
    LatencyHistogram latency_;
};

}  // namespace loadgen
