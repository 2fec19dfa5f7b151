// A single-threaded epoll load generator of MS-MSBD sessions ([MS-MSBD] 2.2, 3.2), the MSBD
// counterpart of wmsp_load.hpp for msbd_bench.
//
// Each client connects, sends MSB_MSG_REQ_CONNECT (dwFlags 0x0001, szChannel "NetShow"), and parses
// the MSBMSGBASE framing incrementally: dwSignature must be "MSB ", cbMessage 16..0xFFFF, wMessageId
// a server message; MSB_MSG_RES_CONNECT with a failure hr closes the client; MSB_MSG_REQ_PING is
// answered with MSB_MSG_RES_PING; MSB_MSG_IND_PACKET payload bytes are counted and never copied out
// of the read buffer. Cost per client is a small slot and one socket; once the stream flows reads are
// batched with SO_RCVLOWAT like wmsp_load.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "wmsp_load.hpp"  // State, Fail, state_name, fail_name, now_s

namespace loadgen {

struct MsbdLoadClient {
    int fd = -1;
    State state = State::Idle;  // Head: REQ_CONNECT sent, waiting for RES_CONNECT; Body: streaming
    Fail fail = Fail::None;
    bool lowat_set = false;
    std::uint8_t hdr_len = 0;      // bytes of the current message's start collected in hdr
    std::uint8_t want = 16;        // bytes of it to collect: the header, + 8 (IND_PACKET), + 32 (STREAMINFO)
    std::uint8_t req_off = 0;      // bytes of REQ_CONNECT sent
    std::uint8_t hdr[48] = {};
    std::uint32_t skip = 0;        // bytes of the current message still to skip
    std::uint32_t last_id = 0;     // dwPacketId of the last IND_PACKET
    bool have_id = false;
    std::uint32_t hr = 0;          // RES_CONNECT hr
    std::uint64_t raw_bytes = 0;   // every byte received
    std::uint64_t packet_bytes = 0;  // IND_PACKET payload bytes (the ASF packets)
    std::uint64_t packets = 0;
    std::uint64_t id_gaps = 0;     // dwPacketId not +1 (must not happen: 2.2.10)
    std::uint32_t pings = 0;
    std::uint32_t eos = 0;
    std::uint32_t framing_errors = 0;
    std::uint32_t header_bytes = 0;  // cbHeader of the first IND_STREAMINFO
    double t_open = 0;
    double t_first_info = 0;       // when the first IND_STREAMINFO was complete (0: not yet)
    std::string framing_error;
};

struct MsbdLoadOptions {
    sockaddr_in addr{};
    int rcvlowat = 65536;          // SO_RCVLOWAT once IND_PACKETs flow; 0: leave the default
    std::size_t read_size = 65536;
};

class MsbdEngine {
public:
    MsbdEngine(std::size_t slots, MsbdLoadOptions options);
    ~MsbdEngine();
    MsbdEngine(const MsbdEngine&) = delete;
    MsbdEngine& operator=(const MsbdEngine&) = delete;

    void connect(std::size_t i);
    void close(std::size_t i, Fail why);
    void close_all();
    // Reads what the kernel holds for slot i (bounded to 64 reads), so counters sampled right after
    // are exact to the message.
    void drain(std::size_t i);
    void poll(int timeout_ms);

    std::size_t size() const { return clients_.size(); }
    MsbdLoadClient& at(std::size_t i) { return clients_[i]; }
    const MsbdLoadClient& at(std::size_t i) const { return clients_[i]; }
    std::size_t open_count() const { return open_; }
    std::uint64_t reads() const { return reads_; }
    std::uint64_t waits() const { return waits_; }

private:
    void on_event(std::size_t i, std::uint32_t events);
    void on_writable(std::size_t i);
    void on_readable(std::size_t i);
    void on_bytes(std::size_t i, const std::uint8_t* p, std::size_t n);
    void on_message_start(std::size_t i);
    void framing_fail(std::size_t i, std::string what);

    MsbdLoadOptions options_;
    int epfd_ = -1;
    std::vector<MsbdLoadClient> clients_;
    std::vector<std::uint8_t> buf_;
    std::vector<std::uint8_t> request_;  // MSB_MSG_REQ_CONNECT, the same for every client
    std::size_t open_ = 0;
    std::uint64_t reads_ = 0, waits_ = 0;
};

}  // namespace loadgen
