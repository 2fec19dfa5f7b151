#include "asfcast/core/muxed.hpp"

namespace asfcast {

void MuxedStreamBus::subscribe(std::shared_ptr<MuxedStreamSink> sink) {
    HeaderPtr h;
    {
        std::lock_guard lk(m_);
        sinks_.push_back(sink);
        h = header_;
    }
    if (h) sink->on_header(h);  // a late subscriber still starts with the header
}

void MuxedStreamBus::publish_header(HeaderPtr h) {
    std::vector<std::shared_ptr<MuxedStreamSink>> sinks;
    {
        std::lock_guard lk(m_);
        header_ = h;
        sinks = sinks_;
    }
    for (auto& s : sinks) s->on_header(h);
}

void MuxedStreamBus::publish_packet(PacketPtr p) {
    std::vector<std::shared_ptr<MuxedStreamSink>> sinks;
    {
        std::lock_guard lk(m_);
        sinks = sinks_;
    }
    for (auto& s : sinks) s->on_packet(p);
}

void MuxedStreamBus::publish_end() {
    std::vector<std::shared_ptr<MuxedStreamSink>> sinks;
    {
        std::lock_guard lk(m_);
        sinks = sinks_;
    }
    for (auto& s : sinks) s->on_end();
}

HeaderPtr MuxedStreamBus::current_header() const {
    std::lock_guard lk(m_);
    return header_;
}

}  // namespace asfcast
