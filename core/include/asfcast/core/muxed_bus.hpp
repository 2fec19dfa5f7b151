// Fan-out of the muxed stream to every output's feed; outputs never know each other. The mux
// thread is the only publisher; publishing never waits for an output (output_feed.hpp).
#pragma once

#include <memory>
#include <vector>

#include "asfcast/core/muxed.hpp"
#include "asfcast/core/output_feed.hpp"
#include "asfcast/core/thread_annotations.hpp"

namespace asfcast {

class MuxedStreamBus {
public:
    // Adds an output's feed; an output attached after the header was published gets it at once.
    void attach(std::shared_ptr<OutputFeed> feed) EXCLUDES(m_);
    void publish_header(HeaderPtr h) EXCLUDES(m_);
    void publish_packet(PacketPtr p) EXCLUDES(m_);
    void publish_end() EXCLUDES(m_);
    HeaderPtr current_header() const EXCLUDES(m_);
    // Feeds still open (an output that failed closes its feed).
    std::size_t open_outputs() const EXCLUDES(m_);

private:
    mutable Mutex m_;
    std::vector<std::shared_ptr<OutputFeed>> feeds_ GUARDED_BY(m_);
    HeaderPtr header_ GUARDED_BY(m_);
    bool ended_ GUARDED_BY(m_) = false;
};

}  // namespace asfcast
