#include <gpuhours/units/error.hpp>
#include <gpuhours/network/network.hpp>

#include "max_min.hpp"
#include "phase_memo.hpp"
#include "relabel.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <queue>
#include <tuple>
#include <unordered_map>

namespace gpuhours {

int detail::link_preference(LinkKind k) {
    switch (k) {
        case LinkKind::nic: return 0;
        case LinkKind::scale_up: return 1;
        case LinkKind::fabric: return 2;
        case LinkKind::host: return 3;
    }
    return 4;
}

using detail::delivered;
using detail::link_preference;
using detail::max_min_flat;
using detail::MaxMinScratch;

SimTime detail::ceil_time(double seconds) {
    if (!(seconds > 0.0)) return SimTime::zero();
    const double ps = std::ceil(seconds * 1e12);
    // Past SimTime's range (about 106 days) the checked conversion reports it (throws) instead of a wrapped cast.
    if (!(ps < 9.2e18)) return SimTime::from_seconds(Seconds(seconds));
    return SimTime::from_picoseconds(static_cast<std::int64_t>(ps));
}

std::string_view to_string(NetworkKind k) { return k == NetworkKind::flow ? "flow" : "alpha-beta"; }

std::optional<NetworkKind> network_kind_from_string(std::string_view name) {
    if (name == "flow" || name == "max-min") return NetworkKind::flow;
    if (name == "alpha-beta") return NetworkKind::alpha_beta;
    return std::nullopt;
}

// ---- shared helpers for large all-to-all --------------------------------------------------------------

std::vector<std::uint32_t> detail::by_distance_desc(const std::vector<std::uint8_t>& dist) {
    std::vector<std::uint32_t> count(256, 0);
    for (const std::uint8_t d : dist) ++count[d];
    std::vector<std::uint32_t> cursor(256, 0);
    std::uint32_t total = 0;
    for (int d = 254; d >= 0; --d) {
        cursor[static_cast<std::size_t>(d)] = total;
        total += count[static_cast<std::size_t>(d)];
    }
    std::vector<std::uint32_t> order(total);
    for (std::size_t v = 0; v < dist.size(); ++v) {
        if (dist[v] != Router::kUnreachable) order[cursor[dist[v]]++] = static_cast<std::uint32_t>(v);
    }
    return order;
}


// ---- max-min fluid ------------------------------------------------------------------------------------------

// A fluid's links: capacities (B/s) and reporting preferences, and the solver's scratch.
struct LinkTable {
    std::vector<double> capacity;
    std::vector<int> preference;
    MaxMinScratch scratch;

    // Room for n links, then each appended: fluid link i is the i-th added.
    void reserve(std::size_t n) {
        capacity.reserve(n);
        preference.reserve(n);
    }
    void add(const LinkInfo& l) {
        capacity.push_back(l.effective_bandwidth().value());
        preference.push_back(link_preference(l.kind));
    }
};

class MaxMinNetwork::Fluid {
public:
    // A fluid over every link of `topology` (the network's own, engine mode): its link tables are filled at the first
    // flow that transmits or the first solve, so a network whose flows all come as standalone phases never pays for
    // them.
    explicit Fluid(const Topology& topology) : unfilled_(&topology) {}

    struct Flow {
        std::uint32_t route_begin = 0;
        std::uint32_t route_end = 0;
        double size = 0.0;
        double remaining = 0.0;
        SimTime transmit_from;  // start + route latency
        double rate = 0.0;
        bool transmitting = false;
        bool done = false;
        std::int64_t bottleneck = -1;
        SimTime finish;  // valid while transmitting
        FlowCallback on_done;
        SimTime ended;
        std::uint32_t serial = 0;  // tells a slot's flows apart in link_flows_ (slots are reused)
    };

    // A fluid over `links` only, relabelled 0, 1, …: link `i` of the fluid is topology link links[i] (a phase
    // solved in its canonical form, so that its result does not depend on the links' names).
    static Fluid over(const Topology& topology, std::span<const LinkId> links) {
        LinkTable tables;
        tables.reserve(links.size());
        for (const LinkId l : links) tables.add(topology.link(l));
        return Fluid(std::move(tables));
    }
    [[nodiscard]] int preference(std::int64_t link) const { return tables_.preference[static_cast<std::size_t>(link)]; }

    std::uint64_t add(SimTime now, const Route& route, Bytes size, FlowCallback on_done) {
        return add(now, route.links, route.latency, size, std::move(on_done));
    }
    std::uint64_t add(SimTime now, std::span<const LinkId> links, Seconds latency, Bytes size, FlowCallback on_done) {
        progress_to(now);
        if (route_pool_.size() >= compact_at_) compact_routes();
        Flow f;
        f.route_begin = static_cast<std::uint32_t>(route_pool_.size());
        for (const LinkId l : links) route_pool_.push_back(static_cast<std::uint32_t>(l));
        f.route_end = static_cast<std::uint32_t>(route_pool_.size());
        f.size = size.value();
        f.remaining = size.value();
        f.transmit_from = now + SimTime::from_seconds(latency);
        f.on_done = std::move(on_done);
        f.serial = ++next_serial_;
        const bool now_sending = f.transmit_from == now;
        std::uint32_t slot = 0;
        if (free_.empty()) {
            slot = static_cast<std::uint32_t>(flows_.size());
            flows_.push_back(std::move(f));
        } else {
            slot = free_.back();
            free_.pop_back();
            flows_[slot] = std::move(f);
        }
        active_.push_back(slot);
        if (now_sending) dirty_ = true;
        return slot;
    }
    // Gives a finished flow's slot back for a later add() (the network's own flows, once their callback has run:
    // memory then follows the flows in flight, not every flow of the step). Standalone phase fluids keep theirs.
    void release(std::uint32_t i) {
        flows_[i] = Flow{};
        free_.push_back(i);
    }

    std::optional<SimTime> next_event() {
        solve_if_dirty();
        std::optional<SimTime> next;
        for (const std::uint32_t i : active_) {
            const Flow& f = flows_[i];
            const SimTime t = f.transmitting ? f.finish : f.transmit_from;
            if (!next || t < *next) next = t;
        }
        return next;
    }

    // Moves to t; completes due flows; returns their ids in completion order (flow index order within t).
    std::vector<std::uint32_t> advance(SimTime t) {
        solve_if_dirty();
        progress_to(t);
        std::vector<std::uint32_t> completed;
        std::vector<std::uint32_t> still;
        still.reserve(active_.size());
        for (const std::uint32_t i : active_) {
            Flow& f = flows_[i];
            if (!f.transmitting && f.transmit_from <= t) {
                f.transmitting = true;
                f.finish = SimTime::from_picoseconds(std::numeric_limits<std::int64_t>::max());  // until solved
                dirty_ = true;
                if (incremental_) started(i);
            }
            if (f.transmitting && (delivered(f.remaining, f.size) || f.finish <= t)) {
                f.done = true;
                f.ended = t;
                completed.push_back(i);
                dirty_ = true;
                if (incremental_) {
                    --transmitting_;
                    changed_links_.insert(changed_links_.end(), route_pool_.begin() + f.route_begin, route_pool_.begin() + f.route_end);
                }
            } else {
                still.push_back(i);
            }
        }
        active_.swap(still);
        solve_if_dirty();
        if (active_.empty()) route_pool_.clear();  // no live flow refers to it
        return completed;
    }

    Flow& flow(std::uint32_t i) { return flows_[i]; }
    // Room for `n` more flows and `links` more route entries (a phase adds all its flows at once).
    void reserve(std::size_t n, std::size_t links) {
        flows_.reserve(flows_.size() + n);
        active_.reserve(active_.size() + n);
        route_pool_.reserve(route_pool_.size() + links);
    }
    [[nodiscard]] bool idle() const { return active_.empty(); }
    // Re-solve only the flows linked (through shared links, transitively) to those that started or ended since the
    // last solve: the rest keep their rates. Exact: progressive filling treats link-disjoint parts independently,
    // and the affected flows keep their relative order (every finish is recomputed, as in the whole solve).
    // Its per-link tables are sized at the first flow that transmits: a network whose flows all come as standalone
    // phases (symmetric mode) never pays for them (24 bytes per link: 25 MB at 131,072 GPUs).
    void set_incremental(bool on) { incremental_ = on; }

private:
    // The route pool past compact_at_ entries (at least 2^20) is rebuilt from the flows in flight when they hold under
    // a quarter of it; the next look is when it has doubled again (amortised O(1) per flow).
    static constexpr std::size_t kCompactRoutesFrom = std::size_t{1} << 20;
    void compact_routes() {
        std::size_t live = 0;
        for (const std::uint32_t i : active_) live += flows_[i].route_end - flows_[i].route_begin;
        compact_at_ = std::max(kCompactRoutesFrom, 2 * route_pool_.size());
        if (4 * live > route_pool_.size()) return;
        std::vector<std::uint32_t> pool;
        pool.reserve(2 * live + 1024);
        for (const std::uint32_t i : active_) {
            Flow& f = flows_[i];
            const auto begin = static_cast<std::uint32_t>(pool.size());
            pool.insert(pool.end(), route_pool_.begin() + f.route_begin, route_pool_.begin() + f.route_end);
            f.route_begin = begin;
            f.route_end = static_cast<std::uint32_t>(pool.size());
        }
        route_pool_.swap(pool);
        compact_at_ = std::max(kCompactRoutesFrom, 2 * route_pool_.size());
    }

    void progress_to(SimTime t) {
        if (t <= now_) return;
        const double dt = (t - now_).to_seconds().value();
        for (const std::uint32_t i : active_) {
            Flow& f = flows_[i];
            if (f.transmitting && std::isfinite(f.rate)) f.remaining = std::max(0.0, f.remaining - f.rate * dt);
            else if (f.transmitting) f.remaining = 0.0;
        }
        now_ = t;
    }

    void size_link_tables() {
        const std::size_t links = tables().capacity.size();
        if (link_flows_.size() == links) return;
        link_flows_.resize(links);
        link_seen_.assign(links, 0);
    }

    void started(std::uint32_t i) {
        size_link_tables();
        const Flow& f = flows_[i];
        ++transmitting_;
        started_.push_back(i);
        for (std::uint32_t r = f.route_begin; r < f.route_end; ++r) {
            link_flows_[route_pool_[r]].emplace_back(i, f.serial);
            changed_links_.push_back(route_pool_[r]);
        }
    }

    // Marks (flow_seen_ == stamp_) the flows linked to the changes; false when they are more than half of those
    // transmitting (then the whole solve is cheaper). Drops the stale entries of the link lists it reads.
    bool mark_affected() {
        size_link_tables();
        if (++stamp_ == 0) {
            std::fill(link_seen_.begin(), link_seen_.end(), 0);
            std::fill(flow_seen_.begin(), flow_seen_.end(), 0);
            stamp_ = 1;
        }
        if (flow_seen_.size() < flows_.size()) flow_seen_.resize(flows_.size(), 0);
        queue_.clear();
        auto visit_link = [&](std::uint32_t l) {
            if (link_seen_[l] != stamp_) {
                link_seen_[l] = stamp_;
                queue_.push_back(l);
            }
        };
        auto visit_links = [&](const Flow& f) {
            for (std::uint32_t r = f.route_begin; r < f.route_end; ++r) visit_link(route_pool_[r]);
        };
        std::size_t affected = 0;
        for (const std::uint32_t i : started_) {
            const Flow& f = flows_[i];
            if (f.done || flow_seen_[i] == stamp_) continue;
            flow_seen_[i] = stamp_;
            ++affected;
            visit_links(f);
        }
        for (const std::uint32_t l : changed_links_) visit_link(l);
        started_.clear();
        changed_links_.clear();
        for (std::size_t q = 0; q < queue_.size(); ++q) {
            auto& list = link_flows_[queue_[q]];
            std::size_t keep = 0;
            for (const auto& [slot, serial] : list) {
                const Flow& f = flows_[slot];
                if (f.serial != serial || f.done) continue;
                list[keep++] = {slot, serial};
                if (flow_seen_[slot] == stamp_) continue;
                flow_seen_[slot] = stamp_;
                ++affected;
                visit_links(f);
            }
            list.resize(keep);
            if (2 * affected > transmitting_) return false;
        }
        return true;
    }

    void solve_if_dirty() {
        if (!dirty_) return;
        dirty_ = false;
        const bool part = incremental_ && mark_affected();
        offsets_.assign(1, 0);
        links_.clear();
        std::vector<std::uint32_t> sending;
        for (const std::uint32_t i : active_) {
            const Flow& f = flows_[i];
            if (!f.transmitting || (part && flow_seen_[i] != stamp_)) continue;
            sending.push_back(i);
            links_.insert(links_.end(), route_pool_.begin() + f.route_begin, route_pool_.begin() + f.route_end);
            offsets_.push_back(static_cast<std::uint32_t>(links_.size()));
        }
        LinkTable& t = tables();
        max_min_flat(t.capacity, t.preference, offsets_, links_, rates_, bottlenecks_, t.scratch);
        for (std::size_t k = 0; k < sending.size(); ++k) {
            Flow& f = flows_[sending[k]];
            f.rate = rates_[k];
            f.bottleneck = bottlenecks_[k];
        }
        for (const std::uint32_t i : active_) {
            Flow& f = flows_[i];
            if (f.transmitting) f.finish = std::isfinite(f.rate) ? now_ + detail::ceil_time(f.remaining / f.rate) : now_;
        }
    }

    explicit Fluid(LinkTable tables) : tables_(std::move(tables)) {}

    LinkTable& tables() {
        if (unfilled_ != nullptr) {
            tables_.reserve(unfilled_->links().size());
            for (const LinkInfo& l : unfilled_->links()) tables_.add(l);
            unfilled_ = nullptr;
        }
        return tables_;
    }

    LinkTable tables_;
    const Topology* unfilled_ = nullptr;  // the topology whose links tables_ is still to hold (null: filled)
    std::vector<Flow> flows_;
    std::vector<std::uint32_t> active_;
    std::vector<std::uint32_t> free_;  // released slots, reused last-released first
    std::vector<std::uint32_t> route_pool_;
    std::size_t compact_at_ = kCompactRoutesFrom;
    // set_incremental: per link, its transmitting flows as (slot, serial), stale entries dropped when read; the
    // changes since the last solve; visit stamps.
    bool incremental_ = false;
    std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> link_flows_;
    std::vector<std::uint32_t> started_, changed_links_, queue_;
    std::vector<std::uint32_t> link_seen_, flow_seen_;
    std::uint32_t stamp_ = 0;
    std::uint32_t next_serial_ = 0;
    std::size_t transmitting_ = 0;
    SimTime now_ = SimTime::zero();
    bool dirty_ = false;
    // scratch
    std::vector<std::uint32_t> offsets_, links_;
    std::vector<double> rates_;
    std::vector<std::int64_t> bottlenecks_;
};

struct MaxMinNetwork::RouteCache {
    static constexpr std::size_t kMaxLinks = std::size_t{1} << 23;  // 64 MiB of link ids
    struct Entry {
        std::uint32_t begin = 0, end = 0;  // links[begin .. end)
        Seconds latency;
    };
    std::unordered_map<std::uint64_t, Entry> entries;  // by source × 2^32 + destination
    std::vector<LinkId> links;
};

MaxMinNetwork::MaxMinNetwork(const Topology& topology)
    : NetworkModel(topology), fluid_(std::make_unique<Fluid>(topology)), route_cache_(std::make_unique<RouteCache>()),
      memo_(std::make_unique<PhaseMemo>()),
      relabel_(std::make_unique<detail::PhaseRelabeller>(topology)) {
    memo_->label_of.assign(topology.links().size(), -1);
    fluid_->set_incremental(true);
}

MaxMinNetwork::~MaxMinNetwork() = default;

void MaxMinNetwork::set_relabel(bool on, bool every_phase) {
    relabel_on_ = on;
    relabel_->try_every_phase(every_phase);
    memo_->routed = false;  // the next phase is routed, so its choices are logged (or not) as this says
}

FlowId MaxMinNetwork::start_flow(SimTime now, const FlowSpec& flow, FlowCallback on_done) {
    RouteCache& cache = *route_cache_;
    const std::uint64_t key = (static_cast<std::uint64_t>(flow.src) << 32) | flow.dst;
    auto it = cache.entries.find(key);
    if (it == cache.entries.end()) {
        Route route = router().route(flow.src, flow.dst);
        if (cache.links.size() + route.links.size() > RouteCache::kMaxLinks) {
            cache.entries.clear();
            cache.links.clear();
        }
        RouteCache::Entry entry{static_cast<std::uint32_t>(cache.links.size()), 0, route.latency};
        cache.links.insert(cache.links.end(), route.links.begin(), route.links.end());
        entry.end = static_cast<std::uint32_t>(cache.links.size());
        it = cache.entries.emplace(key, entry).first;
    }
    const RouteCache::Entry& e = it->second;
    return FlowId{fluid_->add(now, std::span<const LinkId>(cache.links.data() + e.begin, e.end - e.begin), e.latency,
                              flow.size, std::move(on_done))};
}

std::optional<SimTime> MaxMinNetwork::next_event_time() const { return fluid_->next_event(); }

void MaxMinNetwork::advance_to(SimTime t) {
    for (const std::uint32_t i : fluid_->advance(t)) {
        // Move the callback out first: it may start flows, which can reallocate the flow table.
        FlowCallback callback = std::move(fluid_->flow(i).on_done);
        if (callback) callback(FlowId{i}, t);
        fluid_->release(i);
    }
}

// Congestion bound over explicit routes: max link load / capacity + max latency.
PhaseResult detail::congestion_bound(const Topology& topology, const std::vector<double>& load, Seconds max_latency) {
    PhaseResult result;
    result.max_latency = max_latency;
    double worst = 0.0;
    for (std::size_t l = 0; l < load.size(); ++l) {
        if (load[l] <= 0.0) continue;
        const double t = load[l] / topology.link(l).effective_bandwidth().value();
        const bool better = !result.limiting_link || t > worst * (1 + 1e-12) ||
                            (t >= worst * (1 - 1e-12) && link_preference(topology.link(l).kind) <
                                                             link_preference(topology.link(*result.limiting_link).kind));
        if (better) {
            worst = std::max(worst, t);
            result.limiting_link = l;
        }
    }
    result.time = Seconds(worst) + max_latency;
    return result;
}

MaxMinNetwork::PhaseMemo::Entry detail::solve_canonical(const Topology& topology, std::span<const FlowSpec> flows,
                                                const RouteTable& routes, std::span<const std::uint32_t> order,
                                                const std::vector<LinkId>& link_of, const std::vector<LinkId>& labelled) {
    using Fluid = MaxMinNetwork::Fluid;
    const std::size_t count = order.empty() ? flows.size() : order.size();
    Fluid fluid = Fluid::over(topology, link_of);
    fluid.reserve(count, labelled.size());
    for (std::size_t n = 0; n < count; ++n) {
        const std::size_t i = order.empty() ? n : order[n];
        fluid.add(SimTime::zero(), std::span<const LinkId>(labelled.data() + routes.begin[i], routes.end[i] - routes.begin[i]),
                  routes.latency[i], flows[i].size, nullptr);
    }
    SimTime end = SimTime::zero();
    std::int64_t limiting = -1;  // label of the bottleneck of a flow in the last batch to finish (-1: none)
    std::uint32_t position = 0;  // and that flow
    while (const std::optional<SimTime> t = fluid.next_event()) {
        const std::vector<std::uint32_t> done = fluid.advance(*t);
        if (done.empty()) continue;
        end = *t;
        limiting = -1;
        for (const std::uint32_t i : done) {
            const std::int64_t b = fluid.flow(i).bottleneck;
            if (b < 0 || fluid.flow(i).size <= 0.0) continue;
            if (limiting < 0 || fluid.preference(b) < fluid.preference(limiting)) {
                limiting = b;
                position = i;
            }
        }
    }
    return MaxMinNetwork::PhaseMemo::Entry{end.to_seconds(), limiting, position};
}

PhaseResult MaxMinNetwork::run_phase(std::span<const FlowSpec> flows) {
    if (split_parts_ && flows.size() <= kExactFlowLimit) {
        // Nodes alike, each with the same flows: solve_by_parts would answer by the first node's (phase_memo.hpp).
        std::vector<FlowSpec> first;
        if (detail::first_node_flows(topology(), flows, first)) {
            ++phases_split_;
            return run_phase(first);
        }
    }
    if (translation_ && !in_blocks_ && split_parts_ && flows.size() >= kMinBlockFlows && flows.size() <= kExactFlowLimit) {
        if (std::optional<PhaseResult> by_blocks = run_phase_by_blocks(flows)) return *by_blocks;
    }
    PhaseResult result;
    PhaseMemo& memo = *memo_;
    RouteTable& routes = memo.routes;  // scratch, reused phase after phase (large phases would page-fault anew)
    const bool same_routes = memo.routed && detail::same_pairs(flows, memo.routed_pairs);
    bool relabel = relabel_on_ && flows.size() <= kExactFlowLimit;
    if (relabel && !same_routes) {
        if (const std::optional<PhaseResult> found = relabel_->find(router(), flows)) {
            ++phases_reused_;
            ++phases_relabelled_;
            return *found;
        }
        relabel = relabel_->wanted();  // a phase it would never try again is not kept, nor its choices logged
    }
    // A routing of these pairs kept from before other phases came between (PhaseMemo::earlier), with its log.
    const bool recalled = !same_routes && flows.size() <= kExactFlowLimit && detail::recall(memo, flows);
    if (!same_routes && !recalled) {
        if (flows.size() <= kExactFlowLimit) detail::stash(memo);
        memo.routed = false;  // until the routes, the key's words and size_word below all belong to these flows
        memo.choices.clear();
        memo.choices.complete = relabel;  // a routing not logged proves nothing, whatever phase reuses its routes
        memo.choices.routing = ++routings_;
        router().log_choices(relabel ? &memo.choices : nullptr);
        try {
            router().routes(flows, routes);
        } catch (...) {
            router().log_choices(nullptr);
            throw;
        }
        router().log_choices(nullptr);
        memo.routed_pairs.resize(flows.size());
        for (std::size_t i = 0; i < flows.size(); ++i) memo.routed_pairs[i] = {flows[i].src, flows[i].dst};
    }
    if (flows.size() > kExactFlowLimit) {
        std::vector<double> load(topology().links().size(), 0.0);
        Seconds max_latency{0.0};
        for (std::size_t i = 0; i < flows.size(); ++i) {
            for (const LinkId l : routes.links_of(i)) load[l] += flows[i].size.value();
            max_latency = std::max(max_latency, routes.latency[i]);
        }
        return detail::congestion_bound(topology(), load, max_latency);
    }
    for (std::size_t i = 0; i < flows.size(); ++i) result.max_latency = std::max(result.max_latency, routes.latency[i]);
    const std::span<const std::uint32_t> every;  // empty: every flow, in phase order
    if (same_routes) {
        for (std::size_t i = 0; i < flows.size(); ++i) memo.key[memo.size_word[i]] = std::bit_cast<std::uint64_t>(flows[i].size.value());
    } else {
        detail::canonical_form(topology(), flows, routes, every, memo, memo.key, memo.link_of, memo.labelled, &memo.size_word);
        memo.routed = true;
    }
    const std::vector<std::uint64_t>& key = memo.key;
    PhaseMemo::Entry entry;
    if (const auto it = memo.entries.find(key); it != memo.entries.end()) {
        ++phases_reused_;
        entry = it->second;
    } else {
        bool reused = false;
        const std::optional<PhaseMemo::Entry> by_part =
            split_parts_ ? detail::solve_by_parts(topology(), flows, routes, memo, reused) : std::nullopt;
        phases_split_ += by_part ? 1 : 0;
        phases_reused_ += reused ? 1 : 0;
        entry = by_part ? *by_part : detail::solve_canonical(topology(), flows, routes, every, memo.link_of, memo.labelled);
        detail::keep(memo, key, entry);
    }
    result.time = entry.time;
    if (entry.limiting_label >= 0) result.limiting_link = memo.link_of[static_cast<std::size_t>(entry.limiting_label)];
    // The choices of the routing these flows' routes came from; find() signed them unless the routes were reused.
    if (relabel) relabel_->keep(flows, memo.choices, result, !same_routes);
    return result;
}

PhaseResult MaxMinNetwork::run_all_to_all(std::span<const VertexId> ranks, Bytes bytes_per_pair) {
    const std::size_t n = ranks.size();
    if (n * (n - 1) <= kExactFlowLimit) {
        std::vector<FlowSpec> flows;
        flows.reserve(n * (n - 1));
        for (const VertexId s : ranks) {
            for (const VertexId d : ranks) {
                if (s != d) flows.push_back(FlowSpec{s, d, bytes_per_pair});
            }
        }
        return run_phase(flows);
    }
    // Aggregated: per destination, push every source's bytes down the destination's route tree, then walk
    // the tree nearest-first for route latencies.
    const std::size_t vertices = topology().vertex_count();
    std::vector<double> load(topology().links().size(), 0.0);
    std::vector<double> mass(vertices, 0.0);
    std::vector<double> latency(vertices, 0.0);
    std::vector<std::int64_t> next(vertices, -1);
    std::vector<char> is_rank(vertices, 0);
    for (const VertexId r : ranks) is_rank[r] = 1;
    double max_latency = 0.0;
    for (const VertexId dst : ranks) {
        const auto& dist = router().distances_to(dst);
        const std::vector<std::uint32_t> order = detail::by_distance_desc(dist);
        for (const VertexId s : ranks) {
            if (s != dst) mass[s] += bytes_per_pair.value();
        }
        std::fill(next.begin(), next.end(), -1);
        for (const std::uint32_t v : order) {
            if (mass[v] == 0.0 || v == dst) continue;
            const LinkId l = router().next_hop(v, dst, dist);
            next[v] = static_cast<std::int64_t>(l);
            load[l] += mass[v];
            mass[topology().link(l).to] += mass[v];
            mass[v] = 0.0;
        }
        mass[dst] = 0.0;
        latency[dst] = 0.0;
        for (auto it = order.rbegin(); it != order.rend(); ++it) {
            const std::uint32_t v = *it;
            if (next[v] < 0) continue;
            const LinkInfo& link = topology().link(static_cast<LinkId>(next[v]));
            latency[v] = link.latency.value() + latency[link.to];
            if (is_rank[v]) max_latency = std::max(max_latency, latency[v]);
        }
    }
    return detail::congestion_bound(topology(), load, Seconds(max_latency));
}

std::unique_ptr<NetworkModel> make_network(NetworkKind kind, const Topology& topology) {
    if (kind == NetworkKind::flow) return std::make_unique<MaxMinNetwork>(topology);
    return std::make_unique<AlphaBetaNetwork>(topology);
}

// ---- engine glue -----------------------------------------------------------------------------------------------

TaskId add_flows_task(Engine& engine, NetworkModel& network, TaskSpec task, std::vector<FlowSpec> flows) {
    task.work = Driven{[&engine, &network, flows = std::move(flows)](TaskId id) {
        if (flows.empty()) {
            engine.finish(id);
            return;
        }
        auto left = std::make_shared<std::size_t>(flows.size());
        for (const FlowSpec& f : flows) {
            network.start_flow(engine.now(), f, [&engine, id, left](FlowId, SimTime) {
                if (--*left == 0) engine.finish(id);
            });
        }
    }};
    return engine.add_task(std::move(task));
}

}  // namespace gpuhours
