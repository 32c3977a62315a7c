// The α–β network model (network.hpp, AlphaBetaNetwork): each flow takes its route's latency plus its bytes over its
// slowest link, endpoints serialised; a phase is also bounded by its links' congestion.
#include <gpuhours/units/error.hpp>
#include <gpuhours/network/network.hpp>

#include "phase_memo.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <queue>

namespace gpuhours {

using detail::by_distance_desc;
using detail::ceil_time;
using detail::congestion_bound;
using detail::link_preference;

// ---- α–β ------------------------------------------------------------------------------------------------------

AlphaBetaNetwork::AlphaBetaNetwork(const Topology& topology) : NetworkModel(topology) {}

namespace {

struct AlphaBetaTime {
    Seconds time;
    std::optional<LinkId> slowest;
};

AlphaBetaTime alpha_beta_time(const Topology& topology, const Route& route, Bytes size) {
    AlphaBetaTime out;
    out.time = route.latency;
    for (const LinkId l : route.links) {
        const LinkInfo& link = topology.link(l);
        if (!out.slowest || link.effective_bandwidth() < topology.link(*out.slowest).effective_bandwidth() ||
            (link.effective_bandwidth() == topology.link(*out.slowest).effective_bandwidth() &&
             link_preference(link.kind) < link_preference(topology.link(*out.slowest).kind))) {
            out.slowest = l;
        }
    }
    if (out.slowest && size.value() > 0.0) out.time += size / topology.link(*out.slowest).effective_bandwidth();
    return out;
}

// Serialized endpoints (network.hpp): per endpoint link, the sum of its flows' bytes / bottleneck rates and the
// longest latency among them.
struct EndpointLoad {
    double seconds = 0.0;
    Seconds latency;
    LinkId link = 0;
};

// The phase's time once endpoint serialization is counted: each endpoint link's serialized flows against the
// longest single flow already in `result`.
void apply_endpoints(std::vector<EndpointLoad>& loads, PhaseResult& result) {
    std::sort(loads.begin(), loads.end(), [](const EndpointLoad& a, const EndpointLoad& b) { return a.link < b.link; });
    for (std::size_t i = 0; i < loads.size();) {
        EndpointLoad sum{0.0, Seconds(0.0), loads[i].link};
        std::size_t j = i;
        for (; j < loads.size() && loads[j].link == loads[i].link; ++j) {
            sum.seconds += loads[j].seconds;
            sum.latency = std::max(sum.latency, loads[j].latency);
        }
        const Seconds t = sum.latency + Seconds(sum.seconds);
        if (j - i > 1 && t > result.time) {
            result.time = t;
            result.limiting_link = sum.link;
        }
        i = j;
    }
}

}  // namespace

FlowId AlphaBetaNetwork::start_flow(SimTime now, const FlowSpec& flow, FlowCallback on_done) {
    const Route route = router().route(flow.src, flow.dst);
    const AlphaBetaTime t = alpha_beta_time(topology(), route, flow.size);
    const std::uint64_t id = next_id_++;
    SimTime done = now + ceil_time(t.time.value());
    if (!route.links.empty()) {
        // First come, first served on the endpoint links: sending starts when both are free.
        SimTime& out = busy_until_[route.links.front()];
        SimTime& in = busy_until_[route.links.back()];
        const SimTime start = std::max({now, out, in});
        const SimTime sent = start + ceil_time((t.time - route.latency).value());
        out = sent;
        in = sent;
        done = sent + ceil_time(route.latency.value());
    }
    heap_.push_back(Pending{done, id});
    std::push_heap(heap_.begin(), heap_.end());
    callbacks_.emplace(id, std::move(on_done));
    return FlowId{id};
}

std::optional<SimTime> AlphaBetaNetwork::next_event_time() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().at;
}

void AlphaBetaNetwork::advance_to(SimTime t) {
    while (!heap_.empty() && heap_.front().at <= t) {
        std::pop_heap(heap_.begin(), heap_.end());
        const Pending p = heap_.back();
        heap_.pop_back();
        auto it = callbacks_.find(p.id);
        FlowCallback callback = std::move(it->second);
        callbacks_.erase(it);
        if (callback) callback(FlowId{p.id}, t);
    }
}

PhaseResult AlphaBetaNetwork::run_phase(std::span<const FlowSpec> flows) {
    PhaseResult result;
    bool first = true;
    std::vector<EndpointLoad> endpoints;
    std::vector<double> load(topology().links().size(), 0.0);  // bytes per link, for the congestion bound below
    for (const FlowSpec& f : flows) {
        const Route r = router().route(f.src, f.dst);
        for (const LinkId l : r.links) load[l] += f.size.value();
        const AlphaBetaTime t = alpha_beta_time(topology(), r, f.size);
        result.max_latency = std::max(result.max_latency, r.latency);
        if (first || t.time > result.time) {
            result.time = t.time;
            result.limiting_link = f.size.value() > 0.0 ? t.slowest : std::nullopt;
            first = false;
        }
        if (r.links.empty() || f.size.value() <= 0.0) continue;
        const double sending = (t.time - r.latency).value();
        endpoints.push_back(EndpointLoad{sending, r.latency, r.links.front()});
        if (r.links.back() != r.links.front()) endpoints.push_back(EndpointLoad{sending, r.latency, r.links.back()});
    }
    apply_endpoints(endpoints, result);
    // Flows that share a link inside the fabric share its rate: the phase lasts at least the most loaded link's
    // bytes over its rate plus the longest latency (the congestion bound; see run_all_to_all).
    const PhaseResult congested = congestion_bound(topology(), load, result.max_latency);
    if (congested.time > result.time) {
        result.time = congested.time;
        result.limiting_link = congested.limiting_link;
    }
    return result;
}

PhaseResult AlphaBetaNetwork::run_all_to_all(std::span<const VertexId> ranks, Bytes bytes_per_pair) {
    // Per destination: mark the route tree of all sources (farthest first), then compute each vertex's route
    // latency and slowest link nearest first. O(V) per destination instead of O(n) routes.
    // An all-to-all loads every link it crosses with many flows at once, which per-flow α–β times cannot see
    // (issue 14: on a multi-plane fabric the spine uplinks, not the NICs, bound DeepSeek-V3's dispatch, and the
    // flagship's step came out 11 % fast). So the result is also at least the congestion bound: the bytes each link
    // carries (every source's bytes pushed down the destination's route tree) over its rate, plus the longest
    // route latency, the same bound the flow model reports for an all-to-all too large to solve flow by flow.
    PhaseResult result;
    std::vector<double> load(topology().links().size(), 0.0);
    std::vector<double> mass(topology().vertex_count(), 0.0);
    const std::size_t vertices = topology().vertex_count();
    std::vector<double> latency(vertices, 0.0);
    std::vector<std::int64_t> slowest(vertices, -1);
    std::vector<std::int64_t> next(vertices, -1);
    std::vector<char> on_tree(vertices, 0);
    std::vector<char> is_rank(vertices, 0);
    for (const VertexId r : ranks) is_rank[r] = 1;
    std::vector<std::int64_t> last(vertices, -1);  // the last link of v's route to dst
    // Serialized endpoints: per link, the sending seconds of the flows that leave or arrive by it.
    std::vector<double> endpoint_seconds(topology().links().size(), 0.0);
    std::vector<double> endpoint_latency(topology().links().size(), 0.0);
    std::vector<std::uint32_t> endpoint_flows(topology().links().size(), 0);
    auto endpoint = [&](LinkId l, double seconds, double lat) {
        endpoint_seconds[l] += seconds;
        endpoint_latency[l] = std::max(endpoint_latency[l], lat);
        ++endpoint_flows[l];
    };
    for (const VertexId dst : ranks) {
        const auto& dist = router().distances_to(dst);
        const std::vector<std::uint32_t> order = by_distance_desc(dist);
        std::fill(next.begin(), next.end(), -1);
        std::fill(on_tree.begin(), on_tree.end(), 0);
        for (const VertexId s : ranks) {
            on_tree[s] = s != dst;
            if (s != dst) mass[s] += bytes_per_pair.value();
        }
        for (const std::uint32_t v : order) {
            if (!on_tree[v] || v == dst) continue;
            const LinkId l = router().next_hop(v, dst, dist);
            next[v] = static_cast<std::int64_t>(l);
            on_tree[topology().link(l).to] = 1;
            load[l] += mass[v];  // farthest first: everything routed through v has reached it
            mass[topology().link(l).to] += mass[v];
            mass[v] = 0.0;
        }
        mass[dst] = 0.0;
        latency[dst] = 0.0;
        slowest[dst] = -1;
        for (auto it = order.rbegin(); it != order.rend(); ++it) {
            const std::uint32_t v = *it;
            if (next[v] < 0) continue;
            const auto l = static_cast<LinkId>(next[v]);
            const LinkInfo& link = topology().link(l);
            latency[v] = link.latency.value() + latency[link.to];
            const std::int64_t down = slowest[link.to];
            bool take = down < 0;
            if (!take) {
                const LinkInfo& other = topology().link(static_cast<LinkId>(down));
                take = link.effective_bandwidth() < other.effective_bandwidth() ||
                       (link.effective_bandwidth() == other.effective_bandwidth() &&
                        link_preference(link.kind) < link_preference(other.kind));
            }
            slowest[v] = take ? static_cast<std::int64_t>(l) : down;
            last[v] = link.to == dst ? static_cast<std::int64_t>(l) : last[link.to];
            if (!is_rank[v]) continue;
            const auto worst = static_cast<LinkId>(slowest[v]);
            const Seconds sending = bytes_per_pair / topology().link(worst).effective_bandwidth();
            const Seconds t = Seconds(latency[v]) + sending;
            if (bytes_per_pair.value() > 0.0) {
                endpoint(l, sending.value(), latency[v]);
                if (last[v] != static_cast<std::int64_t>(l)) endpoint(static_cast<LinkId>(last[v]), sending.value(), latency[v]);
            }
            result.max_latency = std::max(result.max_latency, Seconds(latency[v]));
            if (t > result.time) {
                result.time = t;
                result.limiting_link = worst;
            }
        }
    }
    for (LinkId l = 0; l < endpoint_flows.size(); ++l) {
        const Seconds t = Seconds(endpoint_latency[l] + endpoint_seconds[l]);
        if (endpoint_flows[l] > 1 && t > result.time) {
            result.time = t;
            result.limiting_link = l;
        }
    }
    const PhaseResult congested = congestion_bound(topology(), load, result.max_latency);
    if (congested.time > result.time) {
        result.time = congested.time;
        result.limiting_link = congested.limiting_link;
    }
    return result;
}

}  // namespace gpuhours
