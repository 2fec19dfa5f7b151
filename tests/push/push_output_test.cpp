// PushOutput against the strict receiver on 127.0.0.1: several targets, a dead one, and the
// faults real servers produce (restart, 500, 401, 403, 404, stall, reset mid-POST).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <thread>

#include "asfcast/core/failpoints.hpp"
#include "asfcast/push/push_output.hpp"
#include "asfcast/push/wmhttp_session.hpp"
#include "push_test_util.hpp"
#include "strict_receiver.hpp"
#include "test_stream.hpp"

namespace asfcast::push {
namespace {

using namespace std::chrono_literals;
using namespace pushtest;  // TestStream, StrictReceiver and the helpers of push_test_util.hpp
using Clock = std::chrono::steady_clock;

template <class Pred>
bool wait_status(const PushOutput& out, std::size_t i, Pred pred, std::chrono::milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
        if (pred(out.status().at(i))) return true;
        std::this_thread::sleep_for(5ms);
    }
    return pred(out.status().at(i));
}

std::vector<Bytes> payloads(const std::vector<PacketPtr>& ps, const MuxedHeader&) {
    std::vector<Bytes> out;
    for (const auto& p : ps) out.emplace_back(p->wire_form().begin(), p->wire_form().end());
    return out;
}

// Feeds packets with a small gap; returns the longest on_packet call.
std::chrono::microseconds feed(PushOutput& out, const std::vector<PacketPtr>& ps, std::chrono::microseconds gap) {
    std::chrono::microseconds worst{0};
    for (const auto& p : ps) {
        const auto t0 = Clock::now();
        out.feed()->publish_packet(p);
        worst = std::max(worst, std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0));
        if (gap.count()) std::this_thread::sleep_for(gap);
    }
    return worst;
}

TEST(PushOutput, TwoTargetsOneDeadTheOtherGetsEveryPacket) {
    StrictReceiver rx;
    auto cfg = fast_config();
    cfg.targets.push_back({fmt::format("127.0.0.1:{}/live", refused_port()), "", "", "", false});
    cfg.targets.push_back({rx.url(), "", "", "", false});
    PushOutput out(cfg);
    TestStream ts(1400, 10);
    auto hdr = ts.header();
    auto ps = ts.packets(400);
    out.feed()->publish_header(hdr);
    const auto worst = feed(out, ps, 500us);
    pushtest::end_stream(out);
    const auto st = out.status();
    ASSERT_EQ(st.size(), 2u);
    EXPECT_EQ(st[1].state, TargetState::finished) << st[1].describe();
    EXPECT_EQ(st[1].packets_sent, ps.size());
    EXPECT_EQ(st[1].packets_skipped, 0u);
    EXPECT_EQ(st[1].reconnects, 0u);
    EXPECT_EQ(st[0].error, TargetError::network);
    EXPECT_GT(st[0].reconnects, 0u);
    EXPECT_NE(st[0].last_error.find("cannot connect"), std::string::npos) << st[0].last_error;
    // Not a speed test: publishing never waits for a target (core's OutputFeed tests show it
    // without a clock). Waiting for the dead one would take its connect attempts (seconds); the
    // bound only has to stay above a loaded machine's scheduling delays.
    EXPECT_LT(worst, 500ms) << "publish_packet waited for a target";

    ASSERT_TRUE(rx.wait_for([&](const auto& p) { return p.ended; }, 3000ms));
    const auto v = rx.view();
    EXPECT_EQ(v.header, hdr->bytes);
    EXPECT_EQ(v.packets, payloads(ps, *hdr));
    EXPECT_TRUE(v.ended);
    EXPECT_EQ(v.sessions_started, 1);
    EXPECT_EQ(v.user_agents, std::set<std::string>{"WMEncoder/11.0.5721.5145"});
    expect_no_violations(rx);
}

TEST(PushOutput, SeveralLiveTargetsAndSmallPostBudgets) {
    StrictReceiver a, b;
    auto cfg = fast_config();
    cfg.post_budget = 20000;  // many PushStarts with $F filler
    cfg.targets.push_back({a.url(), "", "", "", false});
    cfg.targets.push_back({b.url(), "", "", "", false});
    PushOutput out(cfg);
    TestStream ts(1400, 10);
    auto hdr = ts.header();
    auto ps = ts.packets(300);
    out.feed()->publish_header(hdr);
    feed(out, ps, 200us);
    pushtest::end_stream(out);
    for (auto* rx : {&a, &b}) {
        ASSERT_TRUE(rx->wait_for([&](const auto& p) { return p.ended; }, 3000ms));
        const auto v = rx->view();
        EXPECT_EQ(v.packets, payloads(ps, *hdr));
        EXPECT_GT(v.posts_completed, 5);
        EXPECT_EQ(v.posts, v.posts_completed + 1);
        EXPECT_GT(v.filler_bytes, 0u);
        EXPECT_EQ(v.setups, 1);
        expect_no_violations(*rx);
    }
}

TEST(PushOutput, HeaderChangeAndTemplate) {
    StrictReceiver::Options o;
    o.expected_setup_body = "Template-URL: \"/tmpl\"\r\nAutoDestroy: 1\r\n";
    o.send_set_cookie = false;  // a receiver without Set-Cookie: push-id stays 0
    StrictReceiver rx(o);
    auto cfg = fast_config();
    cfg.targets.push_back({rx.url(), "", "", "/tmpl", true});
    PushOutput out(cfg);
    TestStream ts(1400, 10), ts2(1400, 10, 64, 10'000'000);  // the second continues the timeline
    auto h1 = ts.header(0);
    auto h2 = ts2.header(1);
    auto p1 = ts.packets(50);
    auto p2 = ts2.packets(50);
    out.feed()->publish_header(h1);
    feed(out, p1, 200us);
    out.feed()->publish_header(h2);
    feed(out, p2, 200us);
    pushtest::end_stream(out);
    ASSERT_TRUE(rx.wait_for([&](const auto& p) { return p.ended; }, 3000ms));
    const auto v = rx.view();
    EXPECT_EQ(v.header, h2->bytes);
    // One session, two playlist entries: the first ended by $E(1), the second begun by $C.
    EXPECT_EQ(v.sessions_started, 1);
    EXPECT_EQ(v.header_changes, 1);
    EXPECT_EQ(v.entries_ended, 1);
    ASSERT_EQ(v.entries.size(), 2u);
    EXPECT_EQ(v.entries[0].header, h1->bytes);
    EXPECT_EQ(v.entries[0].packets, payloads(p1, *h1));
    EXPECT_TRUE(v.entries[0].ended);
    EXPECT_EQ(v.entries[1].header, h2->bytes);
    EXPECT_EQ(v.entries[1].packets, payloads(p2, *h2));
    auto expected = payloads(p1, *h1);
    for (auto& b : payloads(p2, *h2)) expected.push_back(b);
    EXPECT_EQ(v.packets, expected);
    expect_no_violations(rx);
}

TEST(PushOutput, ReceiverRestartMidStreamReconnects) {
    StrictReceiver rx;
    auto cfg = fast_config();
    cfg.targets.push_back({rx.url(), "", "", "", false});
    PushOutput out(cfg);
    TestStream ts(1400, 10);
    auto hdr = ts.header();
    out.feed()->publish_header(hdr);
    feed(out, ts.packets(100), 500us);
    ASSERT_TRUE(rx.wait_for([](const auto& p) { return p.packets.size() >= 50; }, 3000ms));
    rx.restart(100ms);
    // Keep the stream flowing while the target notices and reconnects.
    std::atomic<bool> go{true};
    std::thread feeder([&] {
        while (go) feed(out, ts.packets(10), 1000us);
    });
    const bool back = rx.wait_for([](const auto& p) { return p.sessions_started >= 2 && p.packets.size() > 150; }, 5000ms);
    go = false;
    feeder.join();
    ASSERT_TRUE(back);
    pushtest::end_stream(out);
    ASSERT_TRUE(rx.wait_for([](const auto& p) { return p.ended; }, 3000ms));
    const auto st = out.status()[0];
    EXPECT_GE(st.reconnects, 1u);
    EXPECT_EQ(st.state, TargetState::finished);
    expect_no_violations(rx);  // includes: send times never went backwards across the restart
}

TEST(PushOutput, ServerErrorsAreRetried) {
    StrictReceiver rx;
    rx.fail_setups(500, 3);
    auto cfg = fast_config();
    cfg.targets.push_back({rx.url(), "", "", "", false});
    PushOutput out(cfg);
    TestStream ts(1400, 10);
    out.feed()->publish_header(ts.header());
    EXPECT_TRUE(wait_status(out, 0, [](const TargetStatus& s) { return s.error == TargetError::server_error; }, 2000ms));
    EXPECT_NE(out.status()[0].last_error.find("server error (500"), std::string::npos);
    feed(out, ts.packets(20), 1000us);
    EXPECT_TRUE(wait_status(out, 0, [](const TargetStatus& s) { return s.state == TargetState::streaming; }, 3000ms));
    pushtest::end_stream(out);
    EXPECT_GE(out.status()[0].reconnects, 3u);
    EXPECT_TRUE(rx.wait_for([](const auto& p) { return p.ended; }, 3000ms));
    expect_no_violations(rx);
}

TEST(PushOutput, PermanentErrorsAreReported) {
    StrictReceiver forbidden, denied;
    forbidden.fail_setups(403, 1000);
    StrictReceiver::Options o;
    o.auth = StrictReceiver::Auth::digest;
    StrictReceiver digest(o);
    auto cfg = fast_config();
    cfg.targets.push_back({forbidden.url(), "", "", "", false});
    cfg.targets.push_back({denied.url("/nosuch"), "", "", "", false});
    cfg.targets.push_back({digest.url(), "encoder", "wrong-password", "", false});
    cfg.targets.push_back({digest.url(), "", "", "", false});  // credentials needed, none given
    PushOutput out(cfg);
    TestStream ts;
    out.feed()->publish_header(ts.header());
    auto failed = [](const TargetStatus& s) { return s.state == TargetState::failed; };
    for (std::size_t i = 0; i < 4; ++i) ASSERT_TRUE(wait_status(out, i, failed, 3000ms)) << i;
    const auto st = out.status();
    EXPECT_EQ(st[0].error, TargetError::forbidden);
    EXPECT_EQ(st[0].describe(), "failed: no right to the publishing point (403 Forbidden)");
    EXPECT_EQ(st[1].error, TargetError::not_found);
    EXPECT_EQ(st[1].describe(), "failed: no such publishing point (404 Not Found)");
    EXPECT_EQ(st[2].error, TargetError::bad_credentials);
    EXPECT_NE(st[2].describe().find("bad credentials (401)"), std::string::npos);
    EXPECT_EQ(st[3].error, TargetError::bad_credentials);
    for (const auto& s : st) EXPECT_EQ(s.describe().find("wrong-password"), std::string::npos);
    pushtest::end_stream(out);
    for (auto* rx : {&forbidden, &denied, &digest}) expect_no_violations(*rx);
}

TEST(PushOutput, BasicAndDigestWithStaleNonces) {
    StrictReceiver::Options ob;
    ob.auth = StrictReceiver::Auth::basic;
    StrictReceiver basic(ob);
    StrictReceiver::Options od;
    od.auth = StrictReceiver::Auth::digest;
    StrictReceiver digest(od);
    auto cfg = fast_config();
    cfg.post_budget = 30000;  // a new PushStart (and Authorization) every ~20 packets
    cfg.targets.push_back({basic.url(), "encoder", "s3cret!", "", false});
    cfg.targets.push_back({digest.url(), "encoder", "s3cret!", "", false});
    PushOutput out(cfg);
    TestStream ts(1400, 10);
    auto hdr = ts.header();
    auto p1 = ts.packets(100);
    out.feed()->publish_header(hdr);
    feed(out, p1, 300us);
    ASSERT_TRUE(digest.wait_for([](const auto& p) { return p.posts_completed >= 2; }, 3000ms));
    digest.expire_nonces();
    feed(out, ts.packets(200), 300us);
    pushtest::end_stream(out);
    for (auto* rx : {&basic, &digest}) {
        EXPECT_TRUE(rx->wait_for([](const auto& p) { return p.ended; }, 3000ms));
        expect_no_violations(*rx);
    }
    const auto st = out.status();
    EXPECT_EQ(st[0].packets_sent, 300u);
    EXPECT_EQ(st[0].state, TargetState::finished);
    EXPECT_EQ(st[1].state, TargetState::finished);
    EXPECT_NE(st[1].error, TargetError::bad_credentials);
    EXPECT_GE(digest.view().challenges, 2);  // the first one and the stale one
}

TEST(PushOutput, NtlmOnTheSetupConnection) {
    StrictReceiver::Options o;
    o.auth = StrictReceiver::Auth::ntlm;
    StrictReceiver rx(o);
    auto cfg = fast_config();
    cfg.post_budget = 40000;  // later PushStarts ride on the authenticated connection
    cfg.targets.push_back({rx.url(), "WMS\\encoder", "s3cret!", "", false});
    cfg.targets.push_back({rx.url(), "WMS\\encoder", "not-it", "", false});
    PushOutput out(cfg);
    TestStream ts(1400, 10);
    auto hdr = ts.header();
    auto ps = ts.packets(150);
    out.feed()->publish_header(hdr);
    ASSERT_TRUE(wait_status(out, 1, [](const TargetStatus& s) { return s.state == TargetState::failed; }, 3000ms));
    feed(out, ps, 300us);
    pushtest::end_stream(out);
    ASSERT_TRUE(rx.wait_for([](const auto& p) { return p.ended; }, 3000ms));
    const auto st = out.status();
    EXPECT_EQ(st[0].state, TargetState::finished) << st[0].describe();
    EXPECT_EQ(st[1].error, TargetError::bad_credentials);
    EXPECT_EQ(rx.view().packets, payloads(ps, *hdr));
    EXPECT_GT(rx.view().posts_completed, 2);
    expect_no_violations(rx);
}

TEST(PushOutput, StalledServerIsLeftAndRejoined) {
    StrictReceiver::Options o;
    o.rcvbuf = 8192;  // small buffers: a server that stops reading blocks the writer quickly
    StrictReceiver rx(o);
    rx.stall_next_post_after(30000);
    auto cfg = fast_config();
    cfg.stall_timeout = 400ms;
    cfg.socket_send_buffer = 8192;
    cfg.targets.push_back({rx.url(), "", "", "", false});
    PushOutput out(cfg);
    TestStream ts(1400, 10);
    out.feed()->publish_header(ts.header());
    std::atomic<bool> go{true};
    std::thread feeder([&] {
        while (go) feed(out, ts.packets(10), 10000us);  // ~140 KB/s, about 3x real time
    });
    const bool back = rx.wait_for([](const auto& p) { return p.sessions_started >= 2 && p.packets.size() > 100; }, 8000ms);
    go = false;
    feeder.join();
    EXPECT_TRUE(back);
    pushtest::end_stream(out);
    const auto st = out.status()[0];
    EXPECT_GE(st.reconnects, 1u);
    EXPECT_TRUE(rx.wait_for([](const auto& p) { return p.ended; }, 3000ms));
    expect_no_violations(rx);
}

TEST(PushOutput, ResetMidPostReconnects) {
    StrictReceiver rx;
    rx.reset_next_post_after(20000);
    auto cfg = fast_config();
    cfg.targets.push_back({rx.url(), "", "", "", false});
    PushOutput out(cfg);
    TestStream ts(1400, 10);
    out.feed()->publish_header(ts.header());
    std::atomic<bool> go{true};
    std::thread feeder([&] {
        while (go) feed(out, ts.packets(10), 1000us);
    });
    const bool back = rx.wait_for([](const auto& p) { return p.sessions_started >= 2 && p.packets.size() > 60; }, 5000ms);
    go = false;
    feeder.join();
    EXPECT_TRUE(back);
    pushtest::end_stream(out);
    EXPECT_GE(out.status()[0].reconnects, 1u);
    EXPECT_TRUE(rx.wait_for([](const auto& p) { return p.ended; }, 3000ms));
    expect_no_violations(rx);
}

TEST(PushOutput, ReceiverThatClosesInsteadOfAnswering) {
    StrictReceiver::Options o;
    o.answer_pushstart = false;  // closes when a POST body is complete
    StrictReceiver rx(o);
    auto cfg = fast_config();
    cfg.post_budget = 25000;
    cfg.targets.push_back({rx.url(), "", "", "", false});
    PushOutput out(cfg);
    TestStream ts(1400, 10);
    out.feed()->publish_header(ts.header());
    feed(out, ts.packets(200), 300us);
    pushtest::end_stream(out);
    EXPECT_TRUE(rx.wait_for([](const auto& p) { return p.ended; }, 3000ms));
    const auto v = rx.view();
    EXPECT_GT(v.sessions_started, 2);
    EXPECT_EQ(out.status()[0].error, TargetError::none);
    expect_no_violations(rx);
}

TEST(PushOutput, AnInternalErrorInOneTargetEndsThatTargetOnly) {
    // The first target's session throws at its 60th packet (a bug, an allocation failure): that
    // target is reported failed, the network thread and the other target go on to the end.
    StrictReceiver rx0, rx1;
    auto cfg = fast_config();
    cfg.targets.push_back({rx0.url(), "", "", "", false});
    cfg.targets.push_back({rx1.url(), "", "", "", false});
    set_failpoints("push.target.0=60");
    PushOutput out(cfg);
    TestStream ts(1400, 10);
    auto hdr = ts.header();
    auto ps = ts.packets(300);
    out.feed()->publish_header(hdr);
    feed(out, ps, 300us);
    EXPECT_TRUE(pushtest::end_stream(out));
    set_failpoints("");
    const auto st = out.status();
    EXPECT_EQ(st[0].state, TargetState::failed);
    EXPECT_EQ(st[0].error, TargetError::internal);
    EXPECT_NE(st[0].last_error.find("internal error: failpoint push.target.0"), std::string::npos) << st[0].last_error;
    EXPECT_EQ(st[1].state, TargetState::finished) << st[1].describe();
    EXPECT_EQ(st[1].packets_sent, ps.size());
    ASSERT_TRUE(rx1.wait_for([&](const auto& p) { return p.ended; }, 3000ms));
    EXPECT_EQ(rx1.view().packets, payloads(ps, *hdr));
    expect_no_violations(rx1);
    EXPECT_LT(rx0.view().packets.size(), ps.size());
}

TEST(PushOutput, BadUrlIsRefusedUpFront) {
    PushConfig cfg;
    cfg.targets.push_back({"mms://server/pub", "", "", "", false});
    EXPECT_THROW(PushOutput out(cfg), std::invalid_argument);
    PushConfig cfg2;
    cfg2.targets.push_back({"http://user:pw@server:70000/pub", "", "", "", false});
    try {
        PushOutput out(cfg2);
        ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).find("pw"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace asfcast::push
