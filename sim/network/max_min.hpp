// The max-min solver (progressive filling) that every fluid of sim/network/network.cpp runs: standalone phases,
// their parts, and the network's own flows in engine mode. Private to sim/network.
#pragma once

#include <gpuhours/units/units.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace gpuhours::detail {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// The links not yet saturated, as an indexed binary heap of local link indices: one entry per link, re-placed when
// its share changes (no stale entries to pop). The order is the smallest share, then the lower reporting preference,
// then the lower topology link id: strict and total, so the solver's result does not depend on insertion order.
class LinkHeap {
public:
    // Starts a solve over `links` local links; `global` maps a local index to its topology link id.
    void reset(std::size_t links, const std::vector<std::uint32_t>* global) {
        global_ = global;
        heap_.clear();
        place_.assign(links, -1);
        share_.resize(links);
        preference_.resize(links);
    }
    // Adds link l with its share and preference (call heapify after the last add).
    void add(std::uint32_t l, double share, int preference) {
        share_[l] = share;
        preference_[l] = preference;
        place_[l] = static_cast<std::int32_t>(heap_.size());
        heap_.push_back(l);
    }
    void heapify() {
        for (std::size_t i = heap_.size() / 2; i-- > 0;) sift_down(i);
    }
    [[nodiscard]] bool empty() const { return heap_.empty(); }
    [[nodiscard]] std::uint32_t top() const { return heap_.front(); }
    [[nodiscard]] double share(std::uint32_t l) const { return share_[l]; }
    [[nodiscard]] bool contains(std::uint32_t l) const { return place_[l] >= 0; }
    // Link l (in the heap) has a new share.
    void update(std::uint32_t l, double share) {
        share_[l] = share;
        sift_up(static_cast<std::size_t>(place_[l]));
        sift_down(static_cast<std::size_t>(place_[l]));
    }
    void remove(std::uint32_t l) {
        const auto i = static_cast<std::size_t>(place_[l]);
        place_[l] = -1;
        const std::uint32_t last = heap_.back();
        heap_.pop_back();
        if (i == heap_.size()) return;
        set(i, last);
        sift_up(i);
        sift_down(static_cast<std::size_t>(place_[last]));
    }

private:
    [[nodiscard]] bool before(std::uint32_t a, std::uint32_t b) const {
        if (share_[a] != share_[b]) return share_[a] < share_[b];
        if (preference_[a] != preference_[b]) return preference_[a] < preference_[b];
        return (*global_)[a] < (*global_)[b];
    }
    void set(std::size_t i, std::uint32_t l) {
        heap_[i] = l;
        place_[l] = static_cast<std::int32_t>(i);
    }
    void sift_up(std::size_t i) {
        const std::uint32_t l = heap_[i];
        while (i > 0 && before(l, heap_[(i - 1) / 2])) {
            set(i, heap_[(i - 1) / 2]);
            i = (i - 1) / 2;
        }
        set(i, l);
    }
    void sift_down(std::size_t i) {
        const std::uint32_t l = heap_[i];
        for (;;) {
            std::size_t c = 2 * i + 1;
            if (c >= heap_.size()) break;
            if (c + 1 < heap_.size() && before(heap_[c + 1], heap_[c])) ++c;
            if (!before(heap_[c], l)) break;
            set(i, heap_[c]);
            i = c;
        }
        set(i, l);
    }

    const std::vector<std::uint32_t>* global_ = nullptr;
    std::vector<std::uint32_t> heap_;
    std::vector<std::int32_t> place_;  // per local link: its index in heap_, -1 when absent
    std::vector<double> share_;        // per local link: its share when last placed
    std::vector<int> preference_;
};

// Scratch for the max-min solver, kept between solves so that a solve costs time in the links its flows cross,
// not in the links of the whole topology: `local_of` maps a topology link to its index among the links in use
// (-1 when unused) and is reset after every solve.
struct MaxMinScratch {
    std::vector<std::int32_t> local_of;      // topology link → local index, or -1
    std::vector<std::uint32_t> global;       // local index → topology link
    std::vector<std::uint32_t> local_links;  // the flows' links as local indices (CSR by flow, as the input)
    std::vector<std::uint32_t> count, link_offsets, link_flows, cursor;
    std::vector<double> remaining;
    std::vector<char> frozen;
    std::vector<char> marked;                // links touched in the current round
    std::vector<std::uint32_t> touched;
    LinkHeap heap;
};

// Flat max-min solver (progressive filling). Flow f crosses links flow_links[offsets[f] .. offsets[f+1]).
// Writes rates (B/s, +inf when unconstrained) and bottleneck link (-1 when none). The link that saturates first
// is the one with the smallest fair share; ties go to the lower preference, then the lower link id, so the result
// does not depend on the order links are met.
void max_min_flat(const std::vector<double>& capacity, const std::vector<int>& preference,
                  const std::vector<std::uint32_t>& offsets, const std::vector<std::uint32_t>& flow_links,
                  std::vector<double>& rate, std::vector<std::int64_t>& bottleneck, MaxMinScratch& w);

// Whether a flow of `size` bytes with `remaining` left counts as delivered: equal flows whose rates differ in
// the last bits of a double must end together, or a phase of n equal flows would take n events.
inline bool delivered(double remaining, double size) { return remaining <= 1e-9 * size + 1e-6; }


}  // namespace gpuhours::detail
