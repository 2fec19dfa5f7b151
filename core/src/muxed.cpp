#include "asfcast/core/muxed_bus.hpp"

namespace asfcast {

void MuxedStreamBus::attach(std::shared_ptr<OutputFeed> feed) {
    HeaderPtr h;
    bool ended = false;
    {
        MutexLock lk(m_);
        feeds_.push_back(feed);
        h = header_;
        ended = ended_;
    }
    if (h) feed->publish_header(h);  // a late output still starts with the header
    if (ended) feed->publish_end();
}

void MuxedStreamBus::publish_header(HeaderPtr h) {
    MutexLock lk(m_);
    header_ = h;
    for (auto& f : feeds_) f->publish_header(h);
}

void MuxedStreamBus::publish_packet(PacketPtr p) {
    MutexLock lk(m_);
    for (auto& f : feeds_) f->publish_packet(p);
}

void MuxedStreamBus::publish_end() {
    MutexLock lk(m_);
    ended_ = true;
    for (auto& f : feeds_) f->publish_end();
}

HeaderPtr MuxedStreamBus::current_header() const {
    MutexLock lk(m_);
    return header_;
}

std::size_t MuxedStreamBus::open_outputs() const {
    MutexLock lk(m_);
    std::size_t n = 0;
    for (const auto& f : feeds_) n += !f->closed();
    return n;
}

}  // namespace asfcast
