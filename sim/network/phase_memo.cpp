// The memo of standalone max-min phases (network.hpp, MaxMinNetwork): canonical forms, and a phase's link-disjoint
// parts answered by the first of them when they are alike.
#include "phase_memo.hpp"

#include <algorithm>
#include <limits>
#include <cassert>
#include <cstring>

namespace gpuhours::detail {

namespace {

std::uint64_t bits(double x) {
    std::uint64_t u = 0;
    static_assert(sizeof u == sizeof x);
    std::memcpy(&u, &x, sizeof u);
    return u;
}

// The phase's link-disjoint parts (connected components of the flows, two flows joined when they cross a common
// link) into memo.part_begin / part_flows: parts in the order of their first flow, each part's flows in phase order.
// A flow that crosses no link is a part of its own. O(links crossed × α).
void split_parts(const RouteTable& routes, std::size_t links, MaxMinNetwork::PhaseMemo& memo) {
    const std::size_t n = routes.size();
    auto& parent = memo.parent;
    parent.resize(n);
    for (std::size_t i = 0; i < n; ++i) parent[i] = static_cast<std::uint32_t>(i);
    const auto find = [&](std::uint32_t i) {
        while (parent[i] != i) i = parent[i] = parent[parent[i]];
        return i;
    };
    if (memo.flow_on_link.size() != links) memo.flow_on_link.assign(links, -1);
    for (std::size_t i = 0; i < n; ++i) {
        for (const LinkId l : routes.links_of(i)) {
            std::int32_t& other = memo.flow_on_link[l];
            if (other < 0) {
                assert(i <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
                other = static_cast<std::int32_t>(i);
                continue;
            }
            const std::uint32_t a = find(static_cast<std::uint32_t>(i));
            const std::uint32_t b = find(static_cast<std::uint32_t>(other));
            if (a != b) parent[std::max(a, b)] = std::min(a, b);  // a part's root is its first flow
        }
    }
    for (const LinkId l : routes.links) memo.flow_on_link[l] = -1;
    // Roots are first flows, so numbering roots as they are met numbers parts by first flow. part_flows first holds
    // each flow's part, then the flows by part (a counting sort).
    auto& begin = memo.part_begin;
    auto& order = memo.part_flows;
    order.resize(n);
    begin.assign(1, 0);
    std::vector<std::uint32_t>& part_of = memo.parent;  // reused once every flow's root is known
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t root = find(static_cast<std::uint32_t>(i));
        order[i] = root == i ? static_cast<std::uint32_t>(begin.size() - 1) : order[root];
        if (root == i) begin.push_back(0);
    }
    for (std::size_t i = 0; i < n; ++i) ++begin[order[i] + 1];
    for (std::size_t p = 1; p < begin.size(); ++p) begin[p] += begin[p - 1];
    part_of.assign(begin.begin(), begin.end() - 1);  // next slot per part
    std::vector<std::uint32_t> flows_by_part(n);
    for (std::size_t i = 0; i < n; ++i) flows_by_part[part_of[order[i]]++] = static_cast<std::uint32_t>(i);
    order.swap(flows_by_part);
}

}  // namespace

// The canonical form of the flows `order` (indices into flows and routes, in that order; empty: every flow) into
// `key`, the link of each label into `link_of` and each route entry's label into `labelled` (at the routes'
// positions). See PhaseMemo.
void canonical_form(const Topology& topology, std::span<const FlowSpec> flows, const RouteTable& routes,
                    std::span<const std::uint32_t> order, MaxMinNetwork::PhaseMemo& memo, std::vector<std::uint64_t>& key,
                    std::vector<LinkId>& link_of, std::vector<LinkId>& labelled, std::vector<std::uint32_t>* size_word) {
    const std::size_t count = order.empty() ? flows.size() : order.size();
    key.clear();
    key.reserve(count * 4 + routes.links.size() * 2);
    labelled.resize(routes.links.size());
    link_of.clear();
    if (size_word != nullptr) size_word->resize(count);
    for (std::size_t n = 0; n < count; ++n) {
        const std::size_t i = order.empty() ? n : order[n];
        if (size_word != nullptr) (*size_word)[n] = static_cast<std::uint32_t>(key.size());
        key.push_back(bits(flows[i].size.value()));
        key.push_back(bits(routes.latency[i].value()));
        key.push_back(routes.end[i] - routes.begin[i]);
        for (std::uint32_t k = routes.begin[i]; k < routes.end[i]; ++k) {
            const LinkId l = routes.links[k];
            std::int32_t& label = memo.label_of[l];
            const bool first = label < 0;
            if (first) {
                assert(link_of.size() <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
                label = static_cast<std::int32_t>(link_of.size());
                link_of.push_back(l);
            }
            key.push_back(static_cast<std::uint64_t>(label));
            labelled[k] = static_cast<LinkId>(label);
            if (first) {
                const LinkInfo& info = topology.link(l);
                key.push_back(bits(info.effective_bandwidth().value()));
                key.push_back(static_cast<std::uint64_t>(link_preference(info.kind)));
            }
        }
    }
    for (const LinkId l : link_of) memo.label_of[l] = -1;
}

namespace {

std::size_t routing_bytes(const std::vector<std::pair<VertexId, VertexId>>& pairs, const RouteTable& t,
                          const Router::ChoiceLog& c) {
    return pairs.size() * sizeof(pairs[0]) + t.links.size() * sizeof(LinkId) +
           (t.begin.size() + t.end.size()) * sizeof(std::uint32_t) + t.latency.size() * sizeof(Seconds) +
           (c.vertex.size() + c.destination.size() + c.chosen.size() + c.candidates.size()) * 8 + c.begin.size() * 4;
}

void swap_scratch(MaxMinNetwork::PhaseMemo& memo, MaxMinNetwork::PhaseMemo::Routing& r) {
    std::swap(memo.routed_pairs, r.pairs);
    std::swap(memo.routes, r.routes);
    std::swap(memo.choices, r.choices);
}

}  // namespace

bool same_pairs(std::span<const FlowSpec> flows, const std::vector<std::pair<VertexId, VertexId>>& pairs) {
    return flows.size() == pairs.size() &&
           std::equal(flows.begin(), flows.end(), pairs.begin(),
                      [](const FlowSpec& f, const std::pair<VertexId, VertexId>& p) { return f.src == p.first && f.dst == p.second; });
}

void stash(MaxMinNetwork::PhaseMemo& memo) {
    using Routing = MaxMinNetwork::PhaseMemo::Routing;
    if (!memo.routed) return;
    memo.routed = false;
    const std::size_t bytes = routing_bytes(memo.routed_pairs, memo.routes, memo.choices);
    if (bytes > MaxMinNetwork::PhaseMemo::kRecallBytes / 4) return;  // too large to keep: the scratch keeps its buffers
    Routing kept;
    swap_scratch(memo, kept);
    kept.bytes = bytes;
    kept.hash = pairs_hash(kept.pairs.size(), [&](std::size_t i) { return kept.pairs[i]; });
    std::size_t drop = 0;
    while (drop < memo.earlier.size() && memo.earlier_bytes + kept.bytes > MaxMinNetwork::PhaseMemo::kRecallBytes) {
        memo.earlier_bytes -= memo.earlier[drop++].bytes;
    }
    if (drop > 0) {
        swap_scratch(memo, memo.earlier[drop - 1]);  // the scratch reuses a dropped routing's buffers
        memo.earlier.erase(memo.earlier.begin(), memo.earlier.begin() + static_cast<std::ptrdiff_t>(drop));
    }
    memo.earlier_bytes += kept.bytes;
    memo.earlier.push_back(std::move(kept));
}

bool recall(MaxMinNetwork::PhaseMemo& memo, std::span<const FlowSpec> flows) {
    using Routing = MaxMinNetwork::PhaseMemo::Routing;
    if (memo.earlier.empty()) return false;
    const std::uint64_t hash = pairs_hash(flows.size(), [&](std::size_t i) { return std::pair(flows[i].src, flows[i].dst); });
    for (std::size_t i = memo.earlier.size(); i-- > 0;) {
        Routing& r = memo.earlier[i];
        if (r.hash != hash || !same_pairs(flows, r.pairs)) continue;
        Routing found = std::move(r);
        memo.earlier.erase(memo.earlier.begin() + static_cast<std::ptrdiff_t>(i));
        memo.earlier_bytes -= found.bytes;
        stash(memo);  // the scratch's routing, when it is one, among the kept
        swap_scratch(memo, found);
        memo.routed = false;  // the canonical form is still the previous phase's
        return true;
    }
    return false;
}

// Keeps `entry` under `key` (the memo is cleared when full).
void keep(MaxMinNetwork::PhaseMemo& memo, const std::vector<std::uint64_t>& key, const MaxMinNetwork::PhaseMemo::Entry& entry) {
    if (memo.words + key.size() > MaxMinNetwork::PhaseMemo::kMemoWords) {
        memo.entries.clear();
        memo.words = 0;
    }
    memo.words += key.size();
    memo.entries.emplace(key, entry);
}

namespace {

// The entry of part `flows_of_part` (solved in its canonical form, or found in the memo) with its limiting link and
// that link's reporting preference; `found`: whether it was in the memo.
struct PartAnswer {
    MaxMinNetwork::PhaseMemo::Entry entry;
    LinkId link = 0;     // the limiting link (meaningful when entry.limiting_label >= 0)
    int preference = 0;  // its reporting preference
};

// `previous`: the canonical form and entry of the part solved just before, if any: a part of the same form (the common
// case: a phase's parts mostly repeat) takes its entry without a lookup (it was found or kept under that form).
PartAnswer solve_part(const Topology& topology, std::span<const FlowSpec> flows, const RouteTable& routes,
                      std::span<const std::uint32_t> flows_of_part, MaxMinNetwork::PhaseMemo& memo, bool& found,
                      std::vector<std::uint64_t>& previous_key, std::optional<MaxMinNetwork::PhaseMemo::Entry>& previous) {
    canonical_form(topology, flows, routes, flows_of_part, memo, memo.other_key, memo.other_link_of, memo.other_labelled);
    PartAnswer answer;
    found = false;
    if (previous && previous_key == memo.other_key) {
        found = true;
        answer.entry = *previous;
    } else if (const auto it = memo.entries.find(memo.other_key); it != memo.entries.end()) {
        found = true;
        answer.entry = it->second;
    } else {
        answer.entry = solve_canonical(topology, flows, routes, flows_of_part, memo.other_link_of, memo.other_labelled);
        keep(memo, memo.other_key, answer.entry);
    }
    if (!previous || previous_key != memo.other_key) {
        previous_key = memo.other_key;
        previous = answer.entry;
    }
    if (answer.entry.limiting_label >= 0) {
        answer.link = memo.other_link_of[static_cast<std::size_t>(answer.entry.limiting_label)];
        answer.preference = link_preference(topology.link(answer.link).kind);
    }
    return answer;
}

// The phase's entry from its parts solved one by one: the latest part's time; its limiting link (among parts that
// end at that same instant: the lowest reporting preference, then the limited flow that comes first in the phase,
// as the whole solve reports the flows of its last batch). `reused`: whether every part was in the memo.
MaxMinNetwork::PhaseMemo::Entry solve_each_part(const Topology& topology, std::span<const FlowSpec> flows,
                                                const RouteTable& routes, MaxMinNetwork::PhaseMemo& memo, bool& reused) {
    const std::size_t parts = memo.part_begin.size() - 1;
    reused = true;
    bool have = false;
    PartAnswer best;
    std::uint32_t best_flow = 0;  // the best part's limited flow, in phase order
    std::vector<std::uint64_t> previous_key;
    std::optional<MaxMinNetwork::PhaseMemo::Entry> previous;
    for (std::size_t p = 0; p < parts; ++p) {
        const std::span<const std::uint32_t> part(memo.part_flows.data() + memo.part_begin[p],
                                                  memo.part_begin[p + 1] - memo.part_begin[p]);
        bool found = false;
        const PartAnswer a = solve_part(topology, flows, routes, part, memo, found, previous_key, previous);
        reused = reused && found;
        const bool limited = a.entry.limiting_label >= 0;
        const std::uint32_t flow = limited ? part[a.entry.limiting_position] : 0;
        bool better = !have || a.entry.time > best.entry.time;
        if (!better && a.entry.time == best.entry.time && limited) {
            better = best.entry.limiting_label < 0 || a.preference < best.preference ||
                     (a.preference == best.preference && flow < best_flow);
        }
        if (better) {
            best = a;
            best_flow = flow;
            have = true;
        }
    }
    if (best.entry.limiting_label < 0) return best.entry;
    const auto whole_label = std::find(memo.link_of.begin(), memo.link_of.end(), best.link) - memo.link_of.begin();
    return MaxMinNetwork::PhaseMemo::Entry{best.entry.time, whole_label, best_flow};
}

}  // namespace

// A phase of link-disjoint parts, answered from its parts (network.hpp), as the whole phase's entry (labels and
// positions of the whole canonical form, in memo.link_of); nullopt when the phase is one part. `reused`: whether
// the parts were found in the memo.
std::optional<MaxMinNetwork::PhaseMemo::Entry> solve_by_parts(const Topology& topology, std::span<const FlowSpec> flows,
                                                              const RouteTable& routes, MaxMinNetwork::PhaseMemo& memo,
                                                              bool& reused) {
    using PhaseMemo = MaxMinNetwork::PhaseMemo;
    split_parts(routes, topology.links().size(), memo);
    const std::size_t parts = memo.part_begin.size() - 1;
    const auto part = [&](std::size_t p) {
        return std::span<const std::uint32_t>(memo.part_flows.data() + memo.part_begin[p],
                                              memo.part_begin[p + 1] - memo.part_begin[p]);
    };
    if (parts < 2) return std::nullopt;
    for (std::size_t p = 1; p < parts; ++p) {
        if (part(p).size() != part(0).size()) return solve_each_part(topology, flows, routes, memo, reused);
    }
    canonical_form(topology, flows, routes, part(0), memo, memo.part_key, memo.part_link_of, memo.part_labelled);
    for (std::size_t p = 1; p < parts; ++p) {
        canonical_form(topology, flows, routes, part(p), memo, memo.other_key, memo.other_link_of, memo.other_labelled);
        if (memo.other_key != memo.part_key) return solve_each_part(topology, flows, routes, memo, reused);
    }
    PhaseMemo::Entry entry;
    reused = false;
    if (const auto it = memo.entries.find(memo.part_key); it != memo.entries.end()) {
        reused = true;
        entry = it->second;
    } else {
        entry = solve_canonical(topology, flows, routes, part(0), memo.part_link_of, memo.part_labelled);
        keep(memo, memo.part_key, entry);
    }
    if (entry.limiting_label < 0) return entry;
    // Every part ends with the same flows (by position) limited by the same label, and the whole solve reports the
    // first of them in phase order: the part whose flow at that position comes first names the link.
    std::size_t first = 0;
    for (std::size_t p = 1; p < parts; ++p) {
        if (part(p)[entry.limiting_position] < part(first)[entry.limiting_position]) first = p;
    }
    canonical_form(topology, flows, routes, part(first), memo, memo.other_key, memo.other_link_of, memo.other_labelled);
    const LinkId link = memo.other_link_of[static_cast<std::size_t>(entry.limiting_label)];
    const auto whole_label = std::find(memo.link_of.begin(), memo.link_of.end(), link) - memo.link_of.begin();
    return PhaseMemo::Entry{entry.time, whole_label, part(first)[entry.limiting_position]};
}

bool first_node_flows(const Topology& topology, std::span<const FlowSpec> flows, std::vector<FlowSpec>& first) {
    if (flows.size() < 2 || topology.geometry() == nullptr || topology.gpus_per_node() < 1) return false;
    const auto node_of = [&](const FlowSpec& f) {
        const VertexInfo& s = topology.vertex(f.src);
        const VertexInfo& d = topology.vertex(f.dst);
        const bool inside = s.kind == VertexKind::gpu && d.kind == VertexKind::gpu && s.node == d.node && s.node >= 0;
        return inside ? s.node : -1;
    };
    const int node0 = node_of(flows[0]);
    if (node0 < 0) return false;
    bool several = false;
    for (const FlowSpec& f : flows) {
        const int n = node_of(f);
        if (n < 0) return false;
        several = several || n != node0;
    }
    if (!several) return false;
    // Each flow's node numbered by first appearance (`group`) and its position among that node's flows.
    const std::size_t nodes = topology.gpus().size() / static_cast<std::size_t>(topology.gpus_per_node()) + 1;
    std::vector<std::int32_t> group_of(nodes, -1);
    std::vector<std::uint32_t> count;
    std::vector<std::uint32_t> group(flows.size()), position(flows.size());
    for (std::size_t i = 0; i < flows.size(); ++i) {
        const auto n = static_cast<std::size_t>(node_of(flows[i]));
        if (n >= nodes) return false;
        if (group_of[n] < 0) {
            group_of[n] = static_cast<std::int32_t>(count.size());
            count.push_back(0);
        }
        group[i] = static_cast<std::uint32_t>(group_of[n]);
        position[i] = count[group[i]]++;
    }
    const std::uint32_t m = count[0];
    if (std::any_of(count.begin(), count.end(), [&](std::uint32_t c) { return c != m; })) return false;
    std::vector<std::uint32_t> at(flows.size());  // at[g × m + k]: the k-th flow of node g
    for (std::size_t i = 0; i < flows.size(); ++i) at[std::size_t{group[i]} * m + position[i]] = static_cast<std::uint32_t>(i);
    const auto local = [&](VertexId v) {
        const VertexInfo& info = topology.vertex(v);
        return info.index - info.node * topology.gpus_per_node();
    };
    for (std::size_t i = 0; i < flows.size(); ++i) {
        if (group[i] == 0) continue;
        const std::uint32_t k = position[i];
        const FlowSpec& f = flows[at[k]];
        const bool same = local(flows[i].src) == local(f.src) && local(flows[i].dst) == local(f.dst) &&
                          flows[i].size.value() == f.size.value();
        if (!same || at[std::size_t{group[i] - 1} * m + k] > i) return false;
    }
    first.clear();
    for (std::uint32_t k = 0; k < m; ++k) first.push_back(flows[at[k]]);
    return true;
}

}  // namespace gpuhours::detail
