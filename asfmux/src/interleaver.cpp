#include "asfcast/asfmux/interleaver.hpp"

#include <algorithm>
#include <stdexcept>

namespace asfcast::asfmux {

Interleaver::Interleaver(const std::vector<int>& streams, Micros max_wait_us) : max_wait_(max_wait_us) {
    for (int s : streams) lanes_[s];
}

void Interleaver::push(EncodedFrame frame, Micros now_us) {
    auto it = lanes_.find(frame.stream);
    if (it == lanes_.end()) throw std::invalid_argument("Interleaver: frame for an unknown stream");
    it->second.have_last = true;
    it->second.last_dts = frame.dts;
    it->second.frames.push_back(Queued{std::move(frame), now_us});
}

void Interleaver::set_min_step(int stream, Micros min_step) {
    auto it = lanes_.find(stream);
    if (it == lanes_.end()) throw std::invalid_argument("Interleaver: min step for an unknown stream");
    it->second.min_step = std::max<Micros>(0, min_step);
}

void Interleaver::end_stream(int stream) {
    auto it = lanes_.find(stream);
    if (it != lanes_.end()) it->second.ended = true;
}

std::map<int, Interleaver::Lane>::iterator Interleaver::earliest() {
    auto best = lanes_.end();
    for (auto it = lanes_.begin(); it != lanes_.end(); ++it) {
        if (it->second.frames.empty()) continue;
        if (best == lanes_.end() || it->second.frames.front().frame.dts < best->second.frames.front().frame.dts)
            best = it;
    }
    return best;
}

std::optional<EncodedFrame> Interleaver::pop(Micros now_us) {
    auto best = earliest();
    if (best == lanes_.end()) return std::nullopt;
    const Micros dts = best->second.frames.front().frame.dts;
    bool safe = true;
    for (auto& [stream, lane] : lanes_) {
        if (!lane.frames.empty() || lane.ended) continue;
        // An empty lane can still deliver an earlier frame, unless its spacing rules that out.
        if (lane.min_step > 0 && lane.have_last && dts <= lane.last_dts + lane.min_step) continue;
        safe = false;
    }
    if (!safe && now_us - best->second.frames.front().arrived < max_wait_) return std::nullopt;
    EncodedFrame f = std::move(best->second.frames.front().frame);
    best->second.frames.pop_front();
    return f;
}

std::optional<EncodedFrame> Interleaver::pop_any() {
    auto best = earliest();
    if (best == lanes_.end()) return std::nullopt;
    EncodedFrame f = std::move(best->second.frames.front().frame);
    best->second.frames.pop_front();
    return f;
}

std::optional<Micros> Interleaver::next_deadline() const {
    std::optional<Micros> d;
    for (auto& [stream, lane] : lanes_)
        if (!lane.frames.empty()) {
            Micros t = lane.frames.front().arrived + max_wait_;
            if (!d || t < *d) d = t;
        }
    return d;
}

std::size_t Interleaver::queued() const {
    std::size_t n = 0;
    for (auto& [stream, lane] : lanes_) n += lane.frames.size();
    return n;
}

}  // namespace asfcast::asfmux
