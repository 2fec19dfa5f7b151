// A strict MS-WMHTTP receiver (server role, MS-WMHTTP 3.2) written from the spec for the push
// tests. It listens on 127.0.0.1 (ephemeral port), serves publishing points, records what it
// receives and notes every deviation from the spec and from what real receivers check:
// content types, lengths, framing (B bit, ids, lengths, chunk limit), the order of the PushStart
// body's packets (3.2.5: $H first; a new header only in $C, after $E with Reason 1; $D only in an
// open entry) and its Content-Length budget (3.1.4.2.1, 3.1.4.5), the push-id cookie, PushStart on
// the PushSetup connection, User-Agent, send times that never go backwards across sessions, $E at
// the end.
// It can require Basic, Digest or NTLM (NTLMv2, the connection authenticated by the PushSetup
// handshake) and be told to fail, stall, reset or restart.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "asfcast/core/bytes.hpp"

namespace asfcast::pushtest {

class StrictReceiver {
public:
    enum class Auth { none, basic, digest, ntlm };
    struct Options {
        std::vector<std::string> pubpoints{"/live"};
        Auth auth = Auth::none;
        std::string user = "encoder";  // NTLM: the account in domain "WMS"
        std::string password = "s3cret!";
        std::string realm = "asfcast test";
        std::size_t max_chunk = 8192;        // largest PacketLength accepted
        bool send_set_cookie = true;         // false: like receivers that never send one
        bool cookie_lists = true;            // Set-Cookie with other cookies around push-id
        std::string expected_setup_body;     // the exact PushSetup body expected
        bool answer_pushstart = true;        // false: close instead of answering a full POST
        int rcvbuf = 0;                      // SO_RCVBUF of accepted connections
        std::uint16_t port = 0;              // 0: ephemeral
    };

    // One playlist entry as received: the header that began it ($H or $C) and its $D payloads.
    struct Entry {
        Bytes header;
        std::vector<Bytes> packets;
        bool ended = false;  // closed by $E with Reason 1 (MS-WMHTTP 2.2.3.4)
    };

    // What a publishing point received, across sessions and restarts.
    struct Pubpoint {
        Bytes header;                        // the latest ASF header
        std::uint32_t packet_size = 0;
        std::vector<Bytes> packets;          // $D payloads in arrival order
        std::vector<std::uint32_t> send_times;
        int setups = 0;                      // PushSetup requests answered 204
        int posts = 0;                       // PushStart requests accepted
        int posts_completed = 0;             // PushStart bodies received in full
        int sessions_started = 0;            // sessions whose $H arrived
        int header_changes = 0;              // $C packets (a new header after $E(1))
        int entries_ended = 0;               // $E packets with Reason 1 (S_FALSE)
        std::vector<Entry> entries;          // in order, across sessions
        int challenges = 0;                  // 401s sent
        std::uint64_t filler_bytes = 0;
        bool ended = false;                  // the latest session ended with $E(0)
        std::string active_session;          // the session whose $H came last
        std::uint64_t superseded_frames = 0; // frames of older sessions arriving late, ignored
        std::set<std::string> user_agents;
    };

    explicit StrictReceiver(Options options);
    StrictReceiver() : StrictReceiver(Options{}) {}
    ~StrictReceiver();
    StrictReceiver(const StrictReceiver&) = delete;
    StrictReceiver& operator=(const StrictReceiver&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url(const std::string& path = "/live") const;

    // ---- Faults ----
    // The next `count` PushSetups get `status` (401 with a fresh challenge, 403, 404, 500...).
    void fail_setups(int status, int count);
    // The next PushStart stops being read after `bytes` body bytes (the connection stays open).
    void stall_next_post_after(std::size_t bytes);
    // The next PushStart is reset (TCP RST) after `bytes` body bytes.
    void reset_next_post_after(std::size_t bytes);
    // Resets every connection, forgets every session and nonce, and listens again on the same
    // port after `down`. Received data is kept (the publishing point's view continues).
    void restart(std::chrono::milliseconds down = std::chrono::milliseconds(0));
    // Digest: nonces issued so far become stale (answered with stale=true).
    void expire_nonces();

    // ---- Observations ----
    Pubpoint view(const std::string& path = "/live") const;
    std::vector<std::string> violations() const;
    int connections() const;
    // Waits until pred holds for the publishing point (checked on every change).
    bool wait_for(const std::function<bool(const Pubpoint&)>& pred, std::chrono::milliseconds timeout,
                  const std::string& path = "/live") const;

private:
    struct Conn;
    struct Session {
        std::string path;
        bool first_post_done = false;   // a PushStart of this session has carried frames
        char last = 0;                  // last frame id ('1' for $E reason 1)
        bool ended = false;
        bool entry_ended = false;       // $E(1) received, no $C yet
    };

    void listen_on(std::uint16_t port);
    void accept_loop(int listen_fd);
    void serve(std::shared_ptr<Conn> conn);
    void violation(const std::string& text);
    void stop_all();

    Options opt_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> listen_fd_{-1};
    std::thread accept_thread_;

    mutable std::mutex m_;
    mutable std::condition_variable cv_;
    std::list<std::shared_ptr<Conn>> conns_;
    std::vector<std::thread> conn_threads_;
    std::map<std::string, Session> sessions_;  // by push-id
    std::set<std::string> pending_ids_;        // issued with a 401, not yet set up
    std::map<std::string, Pubpoint> pubpoints_;
    std::map<std::string, std::uint32_t> nonces_;  // nonce -> last nc
    std::set<std::string> stale_nonces_;
    std::vector<std::string> violations_;
    std::map<std::string, std::uint32_t> last_send_time_;  // per publishing point
    int fail_status_ = 0, fail_count_ = 0;
    std::size_t stall_after_ = 0, reset_after_ = 0;
    bool stall_armed_ = false, reset_armed_ = false;
    std::uint64_t next_id_ = 1000;
    int connections_ = 0;
};

}  // namespace asfcast::pushtest
