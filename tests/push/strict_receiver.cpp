#include "strict_receiver.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/http_digest.hpp"
#include "asfcast/core/http_head.hpp"
#include "asfcast/push/wmhttp_wire.hpp"
#include "ntlm.hpp"

namespace asfcast::pushtest {

namespace {

constexpr const char* kServer = "Cougar/9.01.01.3814";

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(s.begin());
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
    return s;
}

// "Digest a=b, c="d, e"" -> scheme and params (written here, independent of the client's parser).
bool parse_credentials(const std::string& v, std::string& scheme, std::map<std::string, std::string>& params) {
    const auto sp = v.find(' ');
    scheme = lower(v.substr(0, sp));
    if (sp == std::string::npos) return true;
    std::string rest = v.substr(sp + 1);
    std::size_t i = 0;
    while (i < rest.size()) {
        while (i < rest.size() && (rest[i] == ' ' || rest[i] == ',')) ++i;
        const auto eq = rest.find('=', i);
        if (eq == std::string::npos) {
            params["#token"] = trim(rest.substr(i));
            return true;
        }
        const std::string key = lower(trim(rest.substr(i, eq - i)));
        i = eq + 1;
        std::string val;
        if (i < rest.size() && rest[i] == '"') {
            ++i;
            while (i < rest.size() && rest[i] != '"') {
                if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
                val.push_back(rest[i++]);
            }
            if (i >= rest.size()) return false;
            ++i;
        } else {
            while (i < rest.size() && rest[i] != ',') val.push_back(rest[i++]);
            val = trim(val);
        }
        params[key] = val;
    }
    return true;
}

std::string b64decode(const std::string& s) {
    static const std::string k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    int val = 0, bits = -8;
    for (char c : s) {
        if (c == '=') break;
        const auto p = k.find(c);
        if (p == std::string::npos) return "";
        val = (val << 6) + static_cast<int>(p);
        bits += 6;
        if (bits >= 0) {
            out.push_back(static_cast<char>((val >> bits) & 0xFF));
            bits -= 8;
        }
    }
    return out;
}

bool send_all(int fd, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
        const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return false;
        }
        off += static_cast<std::size_t>(n);
    }
    return true;
}

std::string reply(int status, const std::string& reason, const std::string& extra_headers, const std::string& body = {}) {
    return fmt::format(
        "HTTP/1.1 {} {}\r\nServer: {}\r\nDate: Mon, 01 Jan 2007 17:45:16 GMT\r\nPragma: no-cache, timeout=60000\r\n"
        "Cache-Control: no-cache\r\n{}Content-Length: {}\r\n\r\n{}",
        status, reason, kServer, extra_headers, body.size(), body);
}

const char* reason_for(int s) {
    switch (s) {
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Error";
    }
}

// MS-WMHTTP 2.2.1.8: "WMEncoder/" major "." minor ["." 1*4DIGIT "." 1*4DIGIT] *(SP product),
// (major, minor) one of (9|10|11|12, 0).
bool valid_user_agent(const std::string& ua) {
    const std::string p = "WMEncoder/";
    if (ua.compare(0, p.size(), p) != 0) return false;
    std::size_t i = p.size();
    auto digits = [&](std::size_t max) {
        const std::size_t b = i;
        while (i < ua.size() && std::isdigit(static_cast<unsigned char>(ua[i]))) ++i;
        return (i > b && i - b <= max) ? ua.substr(b, i - b) : std::string();
    };
    const std::string major = digits(2);
    if (major != "9" && major != "10" && major != "11" && major != "12") return false;
    if (i >= ua.size() || ua[i++] != '.') return false;
    if (digits(2) != "0") return false;
    if (i < ua.size() && ua[i] == '.') {
        ++i;
        if (digits(4).empty() || i >= ua.size() || ua[i++] != '.' || digits(4).empty()) return false;
    }
    return i == ua.size() || ua[i] == ' ';
}

// "push-id=" 1*255 visible characters.
bool parse_cookie(const std::string& v, std::string& id) {
    const std::string p = "push-id=";
    if (v.compare(0, p.size(), p) != 0) return false;
    id = v.substr(p.size());
    if (id.empty() || id.size() > 255) return false;
    for (char c : id)
        if (c < '!' || c > '~') return false;
    return true;
}

}  // namespace

struct StrictReceiver::Conn {
    int fd = -1;
    std::atomic<bool> killed{false};
    std::mutex m;
    bool closed = false;
    std::string buf;

    void close_now(bool reset) {
        std::lock_guard lk(m);
        if (closed) return;
        if (reset) {
            linger l{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        ::close(fd);
        closed = true;
    }
};

StrictReceiver::StrictReceiver(Options options) : opt_(std::move(options)) {
    for (const auto& p : opt_.pubpoints) pubpoints_[p];
    listen_on(opt_.port);
}

StrictReceiver::~StrictReceiver() {
    stopping_ = true;
    stop_all();
}

std::string StrictReceiver::url(const std::string& path) const { return fmt::format("http://127.0.0.1:{}{}", port_, path); }

void StrictReceiver::listen_on(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) {
        ::close(fd);
        throw std::runtime_error(fmt::format("bind/listen on port {} failed: {}", port, std::strerror(errno)));
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen_fd_ = fd;
    accept_thread_ = std::thread([this, fd] { accept_loop(fd); });
}

void StrictReceiver::accept_loop(int listen_fd) {
    while (!stopping_ && listen_fd_ == listen_fd) {
        pollfd p{listen_fd, POLLIN, 0};
        const int r = ::poll(&p, 1, 20);
        if (r <= 0) {
            if (listen_fd_ != listen_fd) return;
            continue;
        }
        const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (listen_fd_ != listen_fd) return;
            continue;
        }
        if (opt_.rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opt_.rcvbuf, sizeof opt_.rcvbuf);
        auto c = std::make_shared<Conn>();
        c->fd = fd;
        std::lock_guard lk(m_);
        ++connections_;
        conns_.push_back(c);
        conn_threads_.emplace_back([this, c] { serve(c); });
        cv_.notify_all();
    }
}

void StrictReceiver::stop_all() {
    const int lfd = listen_fd_.exchange(-1);
    // The accept loop notices listen_fd_ changed (or stopping_) within one poll interval.
    if (accept_thread_.joinable()) accept_thread_.join();
    if (lfd >= 0) ::close(lfd);
    std::vector<std::thread> threads;
    {
        std::lock_guard lk(m_);
        for (auto& c : conns_) c->killed = true;
        threads.swap(conn_threads_);
    }
    for (auto& t : threads) t.join();
    std::lock_guard lk(m_);
    conns_.clear();
}

void StrictReceiver::restart(std::chrono::milliseconds down) {
    stop_all();
    {
        std::lock_guard lk(m_);
        sessions_.clear();
        pending_ids_.clear();
        nonces_.clear();
        stale_nonces_.clear();
        stall_armed_ = reset_armed_ = false;
    }
    std::this_thread::sleep_for(down);
    listen_on(port_);
}

void StrictReceiver::fail_setups(int status, int count) {
    std::lock_guard lk(m_);
    fail_status_ = status;
    fail_count_ = count;
}

void StrictReceiver::stall_next_post_after(std::size_t bytes) {
    std::lock_guard lk(m_);
    stall_armed_ = true;
    stall_after_ = bytes;
}

void StrictReceiver::reset_next_post_after(std::size_t bytes) {
    std::lock_guard lk(m_);
    reset_armed_ = true;
    reset_after_ = bytes;
}

void StrictReceiver::expire_nonces() {
    std::lock_guard lk(m_);
    for (const auto& [n, nc] : nonces_) stale_nonces_.insert(n);
    nonces_.clear();
}

StrictReceiver::Pubpoint StrictReceiver::view(const std::string& path) const {
    std::lock_guard lk(m_);
    auto it = pubpoints_.find(path);
    return it == pubpoints_.end() ? Pubpoint{} : it->second;
}

std::vector<std::string> StrictReceiver::violations() const {
    std::lock_guard lk(m_);
    return violations_;
}

int StrictReceiver::connections() const {
    std::lock_guard lk(m_);
    return connections_;
}

bool StrictReceiver::wait_for(const std::function<bool(const Pubpoint&)>& pred, std::chrono::milliseconds timeout,
                              const std::string& path) const {
    std::unique_lock lk(m_);
    return cv_.wait_for(lk, timeout, [&] {
        auto it = pubpoints_.find(path);
        return it != pubpoints_.end() && pred(it->second);
    });
}

void StrictReceiver::violation(const std::string& text) {
    // Called with m_ held.
    if (violations_.size() < 200) violations_.push_back(text);
}

void StrictReceiver::serve(std::shared_ptr<Conn> conn) {
    Conn& c = *conn;
    auto read_more = [&]() -> bool {
        char tmp[16384];
        while (!stopping_ && !c.killed) {
            pollfd p{c.fd, POLLIN, 0};
            const int r = ::poll(&p, 1, 20);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return false;
            if (r == 0) continue;
            const ssize_t n = ::recv(c.fd, tmp, sizeof tmp, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            c.buf.append(tmp, static_cast<std::size_t>(n));
            return true;
        }
        return false;
    };
    auto read_exact = [&](std::size_t n, std::string& out) -> bool {
        while (c.buf.size() < n)
            if (!read_more()) return false;
        out = c.buf.substr(0, n);
        c.buf.erase(0, n);
        return true;
    };
    auto finish = [&](bool reset) {
        c.close_now(reset || c.killed);
        std::lock_guard lk(m_);
        cv_.notify_all();
    };

    bool setup_done_here = false;
    std::string conn_id;  // the push-id this connection's PushSetup got
    Bytes ntlm_challenge;  // the CHALLENGE_MESSAGE sent on this connection
    Bytes ntlm_negotiate;
    bool ntlm_authenticated = false;
    const std::string host = fmt::format("127.0.0.1:{}", port_);

    while (!stopping_ && !c.killed) {
        http::HttpHeadParser parser(http::HttpHeadParser::Kind::Request, 16 * 1024);
        while (parser.status() == http::HeadStatus::NeedMore) {
            if (c.buf.empty() && !read_more()) return finish(false);
            const std::size_t used =
                parser.feed(ByteView(reinterpret_cast<const std::uint8_t*>(c.buf.data()), c.buf.size()));
            c.buf.erase(0, used);
        }
        if (parser.status() != http::HeadStatus::Complete) {
            {
                std::lock_guard lk(m_);
                violation("unparsable request head: " + parser.error());
            }
            send_all(c.fd, reply(400, "Bad Request", "Connection: close\r\n"));
            return finish(false);
        }
        const http::HttpHead head = parser.head();
        const std::string path = head.target;

        // ---- Checks every request gets ----
        std::string content_type = head.find("Content-Type") ? *head.find("Content-Type") : "";
        if (auto semi = content_type.find(';'); semi != std::string::npos) {
            if (lower(trim(content_type.substr(semi + 1))) != "charset=utf-8") {
                std::lock_guard lk(m_);
                violation("Content-Type parameter other than charset=UTF-8: " + content_type);
            }
            content_type = trim(content_type.substr(0, semi));
        }
        const bool is_setup = content_type == "application/x-wms-pushsetup";
        const bool is_start = content_type == "application/x-wms-pushstart";
        const auto cl = head.content_length();
        const std::string* ua = head.find("User-Agent");
        const std::string* host_h = head.find("Host");
        const auto cookies = head.find_all("Cookie");
        std::string cookie_id;
        {
            std::lock_guard lk(m_);
            if (head.method != "POST") violation("method " + head.method + " (PushSetup/PushStart are POSTs)");
            if (head.version != "HTTP/1.1" && head.version != "HTTP/1.0") violation("version " + head.version);
            if (!is_setup && !is_start) violation("wrong Content-Type '" + content_type + "'");
            if (!cl) violation("no Content-Length");
            if (head.find("Transfer-Encoding")) violation("Transfer-Encoding used (chunking is not allowed)");
            if (!ua || !valid_user_agent(*ua)) violation("User-Agent not WMEncoder/major.minor: " + (ua ? *ua : "none"));
            if (ua) pubpoints_[path].user_agents.insert(*ua);
            if (!host_h || *host_h != host) violation("Host header '" + (host_h ? *host_h : "none") + "', expected " + host);
            if (cookies.size() != 1) {
                violation(fmt::format("{} Cookie headers (expected one with push-id)", cookies.size()));
            } else {
                const std::string v(cookies[0]);
                if (!parse_cookie(v, cookie_id)) violation("Cookie is not push-id=<id>: " + v);
            }
            for (const auto& h : head.headers) {
                const std::string n = lower(h.name);
                if (n == "set-cookie" || n == "server" || n == "supported" || n == "www-authenticate")
                    violation("response-only header in a request: " + h.name);
            }
        }
        if (!is_setup && !is_start) {
            send_all(c.fd, reply(400, "Bad Request", "Connection: close\r\n"));
            return finish(false);
        }
        if (!cl) return finish(false);
        bool known_path = false;
        for (const auto& p : opt_.pubpoints) known_path |= p == path;

        // ---- Authentication ----
        // 0 ok, 1 challenge, 2 stale challenge, 3 NTLM CHALLENGE_MESSAGE to send
        auto check_ntlm = [&](const std::string* a) -> int {
            if (ntlm_authenticated) {
                if (a) {
                    std::lock_guard lk(m_);
                    violation("Authorization on a connection NTLM already authenticated");
                }
                return 0;
            }
            if (!a) return 1;
            const auto sp = a->find(' ');
            const std::string scheme = a->substr(0, sp);
            auto raw = sp == std::string::npos ? std::nullopt : push::base64_decode(a->substr(sp + 1));
            if ((scheme != "NTLM" && scheme != "Negotiate") || !raw || raw->size() < 12 ||
                raw->compare(0, 8, std::string("NTLMSSP\0", 8)) != 0) {
                std::lock_guard lk(m_);
                violation("malformed NTLM Authorization");
                return 1;
            }
            const Bytes msg(raw->begin(), raw->end());
            if (msg[8] == 1) {
                // NEGOTIATE -> CHALLENGE with a timestamp (as Windows sends: the client must MIC).
                ntlm_negotiate = msg;
                std::mt19937_64 rng(std::random_device{}());
                Bytes ti;
                ByteWriter t(ti);
                t.u16(2), t.u16(6), t.bytes(push::ntlm::utf16le("WMS"));
                t.u16(1), t.u16(10), t.bytes(push::ntlm::utf16le("MEDIA"));
                t.u16(7), t.u16(8), t.u64(0x01D9000000000000ull);
                t.u16(0), t.u16(0);
                Bytes c = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
                ByteWriter w(c);
                w.u32(2);
                w.u16(6), w.u16(6), w.u32(56);
                w.u32(push::ntlm::kUnicode | push::ntlm::kNtlm | push::ntlm::kTargetInfo |
                      push::ntlm::kExtendedSessionSecurity | push::ntlm::kAlwaysSign | push::ntlm::kRequestTarget);
                w.u64(rng());
                w.zeros(8);
                w.u16(static_cast<std::uint16_t>(ti.size())), w.u16(static_cast<std::uint16_t>(ti.size())), w.u32(62);
                w.zeros(8);
                w.bytes(push::ntlm::utf16le("WMS"));
                w.bytes(ti);
                ntlm_challenge = c;
                return 3;
            }
            if (msg[8] != 3 || ntlm_challenge.empty() || msg.size() < 88) {
                std::lock_guard lk(m_);
                violation("NTLM AUTHENTICATE without a CHALLENGE on this connection");
                return 1;
            }
            auto field = [&](std::size_t at) -> Bytes {
                const std::size_t len = msg[at] | msg[at + 1] << 8;
                const std::size_t off = msg[at + 4] | msg[at + 5] << 8 | msg[at + 6] << 16 | msg[at + 7] << 24;
                if (off > msg.size() || len > msg.size() - off) return {};
                return Bytes(msg.begin() + static_cast<std::ptrdiff_t>(off), msg.begin() + static_cast<std::ptrdiff_t>(off + len));
            };
            const Bytes nt = field(20), dom = field(28), usr = field(36), lm = field(12);
            auto from16 = [](const Bytes& b) {
                std::string s;
                for (std::size_t i = 0; i + 1 < b.size(); i += 2) s.push_back(static_cast<char>(b[i]));
                return s;
            };
            std::lock_guard lk(m_);
            if (nt.size() < 16 + 28) {
                violation("NTLM response is not NTLMv2");
                return 1;
            }
            if (lm != Bytes(24, 0)) violation("LmChallengeResponse not Z(24) although the challenge had a timestamp");
            const auto key = push::ntlm::ntowf_v2(opt_.password, from16(usr), from16(dom));
            Bytes proof_in(ntlm_challenge.begin() + 24, ntlm_challenge.begin() + 32);
            proof_in.insert(proof_in.end(), nt.begin() + 16, nt.end());
            const auto proof = push::ntlm::hmac_md5(key, proof_in);
            if (from16(usr) != opt_.user || !std::equal(proof.begin(), proof.end(), nt.begin())) return 1;
            // MIC over the three messages with the MIC zeroed (key: the session base key).
            const auto base = push::ntlm::hmac_md5(key, ByteView(proof));
            Bytes zeroed = msg;
            std::fill(zeroed.begin() + 72, zeroed.begin() + 88, 0);
            Bytes all = ntlm_negotiate;
            all.insert(all.end(), ntlm_challenge.begin(), ntlm_challenge.end());
            all.insert(all.end(), zeroed.begin(), zeroed.end());
            const auto mic = push::ntlm::hmac_md5(base, all);
            if (!std::equal(mic.begin(), mic.end(), msg.begin() + 72)) violation("NTLM MIC wrong");
            ntlm_authenticated = true;
            return 0;
        };
        auto check_auth = [&]() -> int {
            if (opt_.auth == Auth::none) return 0;
            const std::string* a = head.find("Authorization");
            if (opt_.auth == Auth::ntlm) return check_ntlm(a);
            if (!a) return 1;
            std::string scheme;
            std::map<std::string, std::string> p;
            std::lock_guard lk(m_);
            if (!parse_credentials(*a, scheme, p)) {
                violation("malformed Authorization header");
                return 1;
            }
            if (opt_.auth == Auth::basic) {
                if (scheme != "basic") return 1;
                return http::constant_time_equal(b64decode(p["#token"]), opt_.user + ":" + opt_.password) ? 0 : 1;
            }
            if (scheme != "digest") return 1;
            for (const char* k : {"username", "realm", "nonce", "uri", "response"})
                if (!p.count(k)) {
                    violation(std::string("Digest Authorization without ") + k);
                    return 1;
                }
            if (stale_nonces_.count(p["nonce"])) return 2;
            auto n = nonces_.find(p["nonce"]);
            if (n == nonces_.end()) return 1;
            if (p["uri"] != head.target) violation("Digest uri '" + p["uri"] + "' is not the request-URI " + head.target);
            if (p["realm"] != opt_.realm) violation("Digest realm changed: " + p["realm"]);
            if (p.count("algorithm") && p["algorithm"] != "MD5") violation("Digest algorithm " + p["algorithm"]);
            if (p["qop"] != "auth") {
                violation("Digest without qop=auth");
                return 1;
            }
            if (!p.count("cnonce") || !p.count("nc") || p["nc"].size() != 8) {
                violation("Digest qop=auth without cnonce/8-digit nc");
                return 1;
            }
            if (p["opaque"] != "opq42") violation("Digest opaque not echoed");
            const auto nc = static_cast<std::uint32_t>(std::stoul(p["nc"], nullptr, 16));
            if (nc <= n->second) {
                violation(fmt::format("Digest nc {} not above the last one ({})", nc, n->second));
                return 1;
            }
            const std::string expect = http::digest_response(
                http::digest_ha1(p["username"], opt_.realm, opt_.password), p["nonce"], p["nc"], p["cnonce"], "auth",
                http::digest_ha2(head.method, p["uri"]));
            if (p["username"] != opt_.user || !http::constant_time_equal(expect, p["response"])) return 1;
            n->second = nc;
            return 0;
        };
        auto challenge = [&](bool stale, const std::string& id, bool ntlm_message = false) {
            std::string h;
            {
                std::lock_guard lk(m_);
                ++pubpoints_[path].challenges;
                if (opt_.auth == Auth::ntlm) {
                    h = ntlm_message ? "WWW-Authenticate: NTLM " +
                                           push::base64_encode(std::string(ntlm_challenge.begin(), ntlm_challenge.end())) + "\r\n"
                                     : "WWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n";
                } else if (opt_.auth == Auth::basic || opt_.auth == Auth::none) {
                    h = fmt::format("WWW-Authenticate: Basic realm=\"{}\"\r\n", opt_.realm);
                } else {
                    std::mt19937_64 rng(std::random_device{}());
                    const std::string nonce = fmt::format("{:016x}{:016x}", rng(), rng());
                    nonces_[nonce] = 0;
                    h = fmt::format("WWW-Authenticate: Digest realm=\"{}\", nonce=\"{}\", qop=\"auth\", opaque=\"opq42\"{}\r\n",
                                    opt_.realm, nonce, stale ? ", stale=true" : "");
                }
                if (!id.empty()) h += "Set-Cookie: push-id=" + id + "\r\n";
            }
            send_all(c.fd, reply(401, "Unauthorized", h, "<html>401</html>"));
        };

        if (is_setup) {
            std::string body;
            if (*cl > 4096) {
                std::lock_guard lk(m_);
                violation("PushSetup body too large");
                return finish(false);
            }
            if (!read_exact(*cl, body)) return finish(false);
            int fail = 0;
            std::string id;
            {
                std::lock_guard lk(m_);
                if (body != opt_.expected_setup_body)
                    violation("PushSetup body '" + body + "', expected '" + opt_.expected_setup_body + "'");
                if (cookie_id != "0" && !sessions_.count(cookie_id) && !pending_ids_.count(cookie_id))
                    violation("PushSetup with an unknown push-id " + cookie_id);
                if (fail_count_ > 0) {
                    --fail_count_;
                    fail = fail_status_;
                }
                id = (cookie_id != "0" && (sessions_.count(cookie_id) || pending_ids_.count(cookie_id)))
                         ? cookie_id
                         : std::to_string(next_id_++);
            }
            if (fail == 401) {
                {
                    std::lock_guard lk(m_);
                    pending_ids_.insert(id);
                }
                challenge(false, id);
                continue;
            }
            if (fail) {
                send_all(c.fd, reply(fail, reason_for(fail), "Connection: close\r\n", "<html>error</html>"));
                return finish(false);
            }
            if (!known_path) {
                send_all(c.fd, reply(404, "Not Found", "Connection: close\r\n", "<html>no such publishing point</html>"));
                return finish(false);
            }
            const int a = check_auth();
            if (a != 0) {
                {
                    std::lock_guard lk(m_);
                    pending_ids_.insert(id);
                }
                challenge(a == 2, id, a == 3);
                continue;  // keep the connection; the client may resend here or reconnect
            }
            std::string cookie_headers;
            {
                std::lock_guard lk(m_);
                pending_ids_.erase(id);
                sessions_[id] = Session{path};
                ++pubpoints_[path].setups;
                if (opt_.send_set_cookie) {
                    cookie_headers = opt_.cookie_lists
                                         ? fmt::format("Set-Cookie: theme=dark; Path=/, push-id={}; Path={}\r\nSet-Cookie: lang=en\r\n", id, path)
                                         : fmt::format("Set-Cookie: push-id={}\r\n", id);
                }
                cv_.notify_all();
            }
            cookie_headers += "Supported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm\r\n";
            if (!send_all(c.fd, reply(204, "No Content", cookie_headers))) return finish(false);
            setup_done_here = true;
            conn_id = id;
            continue;
        }

        // ---- PushStart ----
        std::string session_id = conn_id;
        {
            std::lock_guard lk(m_);
            if (!setup_done_here) violation("PushStart not on the PushSetup connection");
            const std::string expected_cookie = opt_.send_set_cookie ? conn_id : "0";
            if (setup_done_here && cookie_id != expected_cookie)
                violation("PushStart Cookie push-id=" + cookie_id + ", expected " + expected_cookie);
            if (!setup_done_here) session_id = cookie_id;
        }
        if (!known_path) {
            send_all(c.fd, reply(404, "Not Found", "Connection: close\r\n"));
            return finish(false);
        }
        if (const int a = check_auth(); a != 0) {
            challenge(a == 2, "");
            return finish(false);  // the body that follows is not read
        }
        bool stall = false, reset = false;
        std::size_t stall_at = 0, reset_at = 0;
        {
            std::lock_guard lk(m_);
            if (!sessions_.count(session_id)) {
                violation("PushStart for an unknown session " + session_id);
                sessions_[session_id] = Session{path};
            }
            ++pubpoints_[path].posts;
            if (stall_armed_) {
                stall = true;
                stall_at = stall_after_;
                stall_armed_ = false;
            }
            if (reset_armed_) {
                reset = true;
                reset_at = reset_after_;
                reset_armed_ = false;
            }
            cv_.notify_all();
        }
        std::uint64_t remaining = *cl;
        std::uint64_t consumed = 0;
        bool first_frame = true;
        bool ended = false;
        auto read_body = [&](std::size_t n, std::string& out) -> int {  // 0 ok, 1 closed, 2 faulted
            if (reset && consumed + n >= reset_at) {
                // Read up to the reset point, then RST.
                return 2;
            }
            if (stall && consumed + n >= stall_at) return 3;
            if (!read_exact(n, out)) return 1;
            consumed += n;
            return 0;
        };
        int fault = 0;
        while (remaining > 0) {
            std::string fh;
            fault = read_body(4, fh);
            if (fault) break;
            const auto b0 = static_cast<std::uint8_t>(fh[0]);
            const char id = fh[1];
            const std::size_t len = static_cast<std::uint8_t>(fh[2]) | static_cast<std::uint8_t>(fh[3]) << 8;
            std::unique_lock lk(m_);
            if (b0 != 0x24) {
                violation(fmt::format("framing byte 0x{:02X} (must be '$' with the B bit 0)", b0));
                break;
            }
            if (4 + len > remaining) {
                violation(fmt::format("${} of {} bytes crosses the Content-Length budget ({} left)", id, 4 + len, remaining));
                break;
            }
            if (len > opt_.max_chunk) violation(fmt::format("${} chunk of {} bytes over the {}-byte limit", id, len, opt_.max_chunk));
            lk.unlock();
            std::string payload;
            fault = read_body(len, payload);
            lk.lock();
            if (fault) break;
            remaining -= 4 + len;
            Session& s = sessions_[session_id];
            Pubpoint& pp = pubpoints_[path];
            // A session that started after this one took the publishing point over (as servers
            // replace an old source); what is still in flight on this connection is dropped.
            const bool starts_session = id == 'H' && !s.first_post_done && first_frame;
            if (!starts_session && !pp.active_session.empty() && pp.active_session != session_id) {
                ++pp.superseded_frames;
                first_frame = false;
                s.first_post_done = true;
                continue;
            }
            if (starts_session) pp.active_session = session_id;
            // Sequencing, from the server rules of MS-WMHTTP 3.2.5 (the body grammar of 2.2.2.2,
            // "Playlist-Entry = *$D (1*$E / 1*$F)" and "*( $C Playlist-Entry )", says the same in
            // short, and 2.2.2.2: "Subsequent PushStart requests can start with either a $C ... or
            // a $D packet"):
            // - the first packet of a session's first PushStart MUST be $H (3.2.5.2); $H is only
            //   ever "used to send the first ASF file header" (2.2.3.6): after $H, $D, $C and $F
            //   the server waits for "$D, $E, or $F" / "$C, $D, $E, or $F" (3.2.5.3, 3.2.5.4,
            //   3.2.5.6, 3.2.5.7), never for $H;
            // - $C only after the entry was ended by $E with Reason 1: after that $E the server
            //   waits "for a $C, $E, or $F packet" (3.2.5.5), and a client sends $C only once it
            //   "has sent an $E packet" for the previous entry (3.1.4.5);
            // - $D only while an entry is open (after $H or $C, not after $E(1) before the $C);
            // - nothing after $E with another Reason: the session is over (3.2.5.5).
            bool ok = true;
            std::string rule;
            if (s.ended) {
                ok = false;
                rule = "the session ended with $E(0)";
            } else if (!s.first_post_done && first_frame) {
                ok = id == 'H';
                rule = "a session's first PushStart begins with $H (3.2.5.2)";
            } else if (id == 'H') {
                ok = false;
                rule = "$H only begins a session; a new header comes in $C (2.2.3.6, 3.2.5.3-3.2.5.7)";
            } else if (id == 'C') {
                ok = s.entry_ended;
                rule = "$C only after $E with Reason 1 (3.2.5.5, 3.1.4.5)";
            } else if (id == 'D') {
                ok = !s.entry_ended;
                rule = "$D after $E(1) needs a $C first (3.2.5.5)";
            }
            if (!ok) {
                const std::string prev = s.last == '1' ? "$E(1)" : s.last ? std::string("$") + s.last : "nothing";
                violation(fmt::format("${} after {} (first frame of POST: {}, session's first POST: {}): {}", id, prev,
                                      first_frame, !s.first_post_done, rule));
            }
            first_frame = false;
            s.first_post_done = true;
            switch (id) {
                case 'H': {
                    // 2.2.3.6: the ASF file header, at most 65,531 bytes.
                    if (payload.size() > 65531) violation(fmt::format("$H header of {} bytes (at most 65531)", payload.size()));
                    try {
                        auto info = asfmux::parse_header(ByteView(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()));
                        ++pp.sessions_started;
                        pp.header.assign(payload.begin(), payload.end());
                        pp.packet_size = info.max_packet_size;
                        pp.entries.push_back(Entry{pp.header, {}, false});
                        // 3.1.4.2.1: Length-Remaining at least three maximum-size $D packets and
                        // the $H + 4.
                        if (*cl < 3ull * (4 + info.max_packet_size) || *cl < payload.size() + 8)
                            violation(fmt::format("Content-Length {} below the minimum for {}-byte packets", *cl, info.max_packet_size));
                    } catch (const std::exception& e) {
                        violation(std::string("$H is not an ASF header: ") + e.what());
                    }
                    s.entry_ended = false;
                    break;
                }
                case 'C': {
                    // 2.2.3.2: Reason MUST be 0, then the new ASF file header (at most 65,527 bytes).
                    if (len < 4 || payload.compare(0, 4, std::string(4, '\0')) != 0) violation("$C reason not 0");
                    const std::string header = payload.size() >= 4 ? payload.substr(4) : "";
                    if (header.size() > 65527) violation(fmt::format("$C header of {} bytes (at most 65527)", header.size()));
                    // 3.1.4.5: the client sends $C only if its size plus 4 fits Length-Remaining;
                    // 3.1.4.2.1: Content-Length at least the largest $C + 4.
                    if (remaining < 4)
                        violation(fmt::format("$C of {} bytes left {} bytes of the Content-Length budget (3.1.4.5: "
                                              "$C + 4 must fit, else $F)", 4 + len, remaining));
                    if (*cl < 4ull + len + 4)
                        violation(fmt::format("Content-Length {} below the $C of {} bytes + 4", *cl, 4 + len));
                    try {
                        auto info = asfmux::parse_header(ByteView(reinterpret_cast<const std::uint8_t*>(header.data()), header.size()));
                        ++pp.header_changes;
                        pp.header.assign(header.begin(), header.end());
                        pp.packet_size = info.max_packet_size;
                        pp.entries.push_back(Entry{pp.header, {}, false});
                    } catch (const std::exception& e) {
                        violation(std::string("$C does not carry an ASF header: ") + e.what());
                    }
                    s.entry_ended = false;
                    break;
                }
                case 'D': {
                    if (pp.header.empty()) {
                        violation("$D before any header");
                        break;
                    }
                    if (payload.size() > pp.packet_size) violation("$D larger than the packet size");
                    {
                        // MS-WMHTTP 2.2.3.3: the Padding Data removed and the Padding Length field
                        // saying it does not exist; no Packet Length field (the packet ends where
                        // the $D ends). A receiver pads a short packet back to the packet size, so a
                        // shortened packet must carry its payloads' lengths (multiple payloads).
                        const auto* b = reinterpret_cast<const std::uint8_t*>(payload.data());
                        std::size_t at = 0;
                        if (!payload.empty() && (b[0] & 0x80)) at = 1 + (b[0] & 0x0F);  // Error Correction
                        if (at >= payload.size()) {
                            violation("$D too short for its payload parsing information");
                        } else {
                            const std::uint8_t ltf = b[at];
                            if ((ltf >> 5) & 3) violation("$D carries a Packet Length field");
                            if ((ltf >> 3) & 3) violation("$D carries a Padding Length field");
                            if (payload.size() < pp.packet_size && !(ltf & 0x01))
                                violation("$D shorter than the packet size in the single-payload layout: a receiver "
                                          "that pads it back reads the zeros as media");
                        }
                    }
                    try {
                        const ByteView pv(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
                        auto info = asfmux::parse_wire_packet(pv, pp.packet_size);
                        if (info.padding != 0) violation("$D with padding left in");
                        auto& last_st = last_send_time_[path];
                        if (!pp.send_times.empty() && info.send_time_ms < last_st)
                            violation(fmt::format("send time went backwards: {} after {}", info.send_time_ms, last_st));
                        last_st = info.send_time_ms;
                        pp.send_times.push_back(info.send_time_ms);
                        pp.packets.emplace_back(payload.begin(), payload.end());
                        if (!pp.entries.empty()) pp.entries.back().packets.push_back(pp.packets.back());
                    } catch (const std::exception& e) {
                        violation(std::string("$D is not an ASF data packet: ") + e.what());
                    }
                    break;
                }
                case 'E': {
                    if (len != 4) {
                        violation("$E length not 4");
                        break;
                    }
                    const std::uint32_t reason = static_cast<std::uint8_t>(payload[0]) | static_cast<std::uint8_t>(payload[1]) << 8 |
                                                 static_cast<std::uint8_t>(payload[2]) << 16 |
                                                 static_cast<std::uint32_t>(static_cast<std::uint8_t>(payload[3])) << 24;
                    // 2.2.3.4: S_OK (0) the end, S_FALSE (1) the end of this playlist entry.
                    if (reason == 0) {
                        s.ended = true;
                        pp.ended = true;
                        ended = true;
                    } else if (reason == 1) {
                        if (!s.entry_ended) ++pp.entries_ended;
                        s.entry_ended = true;
                        if (!pp.entries.empty()) pp.entries.back().ended = true;
                    } else {
                        violation(fmt::format("$E reason 0x{:08X}", reason));
                    }
                    s.last = reason == 1 ? '1' : 'E';
                    break;
                }
                case 'F':
                    pp.filler_bytes += 4 + len;
                    break;
                default:
                    violation(fmt::format("unknown frame ${} (0x{:02X})", id, static_cast<unsigned char>(id)));
                    break;
            }
            if (id != 'E') s.last = id;
            if (id == 'D' || id == 'H') pp.ended = false;
            cv_.notify_all();
            if (ended) break;
        }
        if (fault == 2) return finish(true);
        if (fault == 3) {
            // Stop reading; wait for the client to give up on this connection.
            while (!stopping_ && !c.killed) {
                pollfd p{c.fd, POLLRDHUP, 0};
                if (::poll(&p, 1, 20) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) break;
            }
            return finish(false);
        }
        if (fault == 1) return finish(false);  // the client went away mid-POST
        if (ended) {
            // After $E(0) the server closes (MS-WMHTTP 4.1); nothing else may follow on this connection.
            while (read_more()) {
            }
            {
                std::lock_guard lk(m_);
                if (!c.buf.empty()) violation("bytes after $E(0)");
            }
            return finish(false);
        }
        if (remaining > 0) return finish(false);  // a violation stopped parsing
        {
            std::lock_guard lk(m_);
            ++pubpoints_[path].posts_completed;
            cv_.notify_all();
        }
        if (!opt_.answer_pushstart) return finish(false);
        const std::string cookie = opt_.send_set_cookie ? fmt::format("Set-Cookie: push-id={}\r\n", session_id) : "";
        if (!send_all(c.fd, reply(204, "No Content", cookie))) return finish(false);
    }
    finish(false);
}

}  // namespace asfcast::pushtest
