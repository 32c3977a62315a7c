// The max-min solver (progressive filling); see max_min.hpp.
#include "max_min.hpp"

#include <gpuhours/network/network.hpp>

#include <algorithm>
#include <cassert>
#include <optional>

namespace gpuhours {

namespace detail {

// Flat max-min solver (progressive filling). Flow f crosses links flow_links[offsets[f] .. offsets[f+1]).
// Writes rates (B/s, +inf when unconstrained) and bottleneck link (-1 when none). The link that saturates first
// is the one with the smallest fair share; ties go to the lower preference, then the lower link id, so the result
// does not depend on the order links are met.
void max_min_flat(const std::vector<double>& capacity, const std::vector<int>& preference,
                  const std::vector<std::uint32_t>& offsets, const std::vector<std::uint32_t>& flow_links,
                  std::vector<double>& rate, std::vector<std::int64_t>& bottleneck, MaxMinScratch& w) {
    const std::size_t flows = offsets.empty() ? 0 : offsets.size() - 1;
    rate.assign(flows, kInfinity);
    bottleneck.assign(flows, -1);
    if (w.local_of.size() != capacity.size()) w.local_of.assign(capacity.size(), -1);
    w.global.clear();
    w.local_links.resize(flow_links.size());
    for (std::size_t i = 0; i < flow_links.size(); ++i) {
        std::int32_t& local = w.local_of[flow_links[i]];
        if (local < 0) {
            local = static_cast<std::int32_t>(w.global.size());
            w.global.push_back(flow_links[i]);
        }
        w.local_links[i] = static_cast<std::uint32_t>(local);
    }
    const std::size_t links = w.global.size();
    // Flows per link (CSR).
    w.count.assign(links, 0);
    for (const std::uint32_t l : w.local_links) ++w.count[l];
    w.link_offsets.assign(links + 1, 0);
    for (std::size_t l = 0; l < links; ++l) w.link_offsets[l + 1] = w.link_offsets[l] + w.count[l];
    w.link_flows.resize(flow_links.size());
    w.cursor.assign(w.link_offsets.begin(), w.link_offsets.end() - 1);
    for (std::size_t f = 0; f < flows; ++f) {
        for (std::uint32_t i = offsets[f]; i < offsets[f + 1]; ++i) w.link_flows[w.cursor[w.local_links[i]]++] = static_cast<std::uint32_t>(f);
    }
    w.remaining.resize(links);
    for (std::size_t l = 0; l < links; ++l) w.remaining[l] = capacity[w.global[l]];
    w.frozen.assign(flows, 0);
    w.marked.assign(links, 0);
    auto& count = w.count;
    auto& remaining = w.remaining;
    auto share = [&](std::uint32_t l) { return std::max(0.0, remaining[l]) / static_cast<double>(count[l]); };
    auto pref = [&](std::uint32_t l) { return preference.empty() ? 0 : preference[w.global[l]]; };
    LinkHeap& heap = w.heap;
    heap.reset(links, &w.global);
    for (std::uint32_t l = 0; l < links; ++l) {
        if (count[l] > 0) heap.add(l, share(l), pref(l));
    }
    heap.heapify();
    while (!heap.empty()) {
        const std::uint32_t l = heap.top();
        const double s = heap.share(l);
        const std::uint32_t global = w.global[l];
        heap.remove(l);
        // Freeze every flow of the saturated link at its share; each other link they cross gets one new heap
        // entry after the round (an entry per decrement would only add stale ones: an entry is used when its
        // share is the link's current share, and the round's last share is the one pushed either way).
        w.touched.clear();
        for (std::uint32_t i = w.link_offsets[l]; i < w.link_offsets[l + 1]; ++i) {
            const std::uint32_t f = w.link_flows[i];
            if (w.frozen[f]) continue;
            w.frozen[f] = 1;
            rate[f] = s;
            bottleneck[f] = global;
            for (std::uint32_t j = offsets[f]; j < offsets[f + 1]; ++j) {
                const std::uint32_t other = w.local_links[j];
                remaining[other] -= s;
                --count[other];
                if (other != l && !w.marked[other]) {
                    w.marked[other] = 1;
                    w.touched.push_back(other);
                }
            }
        }
        count[l] = 0;
        for (const std::uint32_t other : w.touched) {
            w.marked[other] = 0;
            if (count[other] > 0) heap.update(other, share(other));
            else if (heap.contains(other)) heap.remove(other);
        }
    }
    for (const std::uint32_t l : w.global) w.local_of[l] = -1;
}

}  // namespace detail

MaxMinSolution solve_max_min(const MaxMinProblem& problem) {
    std::vector<double> capacity;
    capacity.reserve(problem.capacities.size());
    for (const BytesPerSecond c : problem.capacities) capacity.push_back(c.value());
    std::vector<std::uint32_t> offsets{0};
    std::vector<std::uint32_t> links;
    for (const auto& flow : problem.flow_links) {
        for (const std::size_t l : flow) {
            assert(l < capacity.size());
            links.push_back(static_cast<std::uint32_t>(l));
        }
        offsets.push_back(static_cast<std::uint32_t>(links.size()));
    }
    assert(problem.link_preference.empty() || problem.link_preference.size() == capacity.size());
    std::vector<double> rate;
    std::vector<std::int64_t> bottleneck;
    detail::MaxMinScratch scratch;
    detail::max_min_flat(capacity, problem.link_preference, offsets, links, rate, bottleneck, scratch);
    MaxMinSolution solution;
    for (std::size_t f = 0; f < rate.size(); ++f) {
        solution.rates.emplace_back(rate[f]);
        solution.bottleneck.push_back(bottleneck[f] < 0 ? std::nullopt : std::optional<std::size_t>(static_cast<std::size_t>(bottleneck[f])));
    }
    return solution;
}

}  // namespace gpuhours
