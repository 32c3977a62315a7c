// Shortest-path routing with destination-based ECMP (network.hpp, Router): breadth-first distances to switches,
// distances to GPUs and NICs derived from the switches next to them, and the next-hop choice.
#include <gpuhours/units/error.hpp>
#include <gpuhours/network/network.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <vector>

namespace gpuhours {

// ---- routing ----------------------------------------------------------------------------------------------

Router::Router(const Topology& topology) : topology_(topology) {}

namespace {

// out[v] = min(out[v], in[v] + c) with the sum saturating at 255 (unreachable stays unreachable). Built with
// vectorisation on (GCC's -O2 cost model leaves this loop scalar; it is the cost of a derived distance array).
[[gnu::optimize("tree-vectorize")]] void min_plus(std::uint8_t* out, const std::uint8_t* in, std::size_t n, std::uint8_t c) {
    for (std::size_t v = 0; v < n; ++v) {
        const std::uint8_t sum = static_cast<std::uint8_t>(in[v] > 255 - c ? 255 : in[v] + c);
        out[v] = out[v] < sum ? out[v] : sum;
    }
}

bool is_fabric_switch(VertexKind k) {
    return k == VertexKind::leaf_switch || k == VertexKind::spine_switch || k == VertexKind::core_switch;
}

}  // namespace

void Router::build_reversed_links() {
    const std::size_t n = topology_.vertex_count();
    const auto& links = topology_.links();
    if (in_offsets_.size() != n + 1 || in_from_.size() != links.size()) {
        in_offsets_.assign(n + 1, 0);
        for (const LinkInfo& l : links) ++in_offsets_[l.to + 1];
        for (std::size_t v = 0; v < n; ++v) in_offsets_[v + 1] += in_offsets_[v];
        in_from_.assign(links.size(), 0);
        std::vector<std::uint32_t> cursor(in_offsets_.begin(), in_offsets_.end() - 1);
        for (const LinkInfo& l : links) in_from_[cursor[l.to]++] = static_cast<std::uint32_t>(l.from);
    }
}

std::vector<std::uint8_t> Router::search_distances_to(VertexId dst) {
    const std::size_t n = topology_.vertex_count();
    std::vector<std::uint8_t> dist(n, kUnreachable);
    // BFS from dst over reversed links (hand-made graphs may have one-way links).
    build_reversed_links();
    const auto& in_offsets = in_offsets_;
    const auto& in_from = in_from_;
    queue_.clear();
    dist[dst] = 0;
    queue_.push_back(static_cast<std::uint32_t>(dst));
    for (std::size_t head = 0; head < queue_.size(); ++head) {
        const std::uint32_t v = queue_[head];
        if (dist[v] + 1 >= kUnreachable) continue;
        for (std::uint32_t i = in_offsets[v]; i < in_offsets[v + 1]; ++i) {
            const std::uint32_t u = in_from[i];
            if (dist[u] == kUnreachable) {
                dist[u] = static_cast<std::uint8_t>(dist[v] + 1);
                queue_.push_back(u);
            }
        }
    }
    return dist;
}

// A network switch's distances, searched and kept; past 1 GB they are found again as needed (still exact).
const std::vector<std::uint8_t>& Router::switch_distances_to(VertexId w) {
    if (auto it = switch_cache_.find(w); it != switch_cache_.end()) return it->second;
    const std::size_t n = topology_.vertex_count();
    std::vector<std::uint8_t> dist = search_distances_to(w);
    if (switch_cache_bytes_ + n > (std::size_t{1} << 30)) {
        switch_cache_.clear();
        switch_cache_bytes_ = 0;
        current_valid_ = false;  // its array may have been one of these
    }
    switch_cache_bytes_ += n;
    return switch_cache_[w] = std::move(dist);
}

// Local part: a search from dst over reversed links through vertices other than network switches (a GPU's whole
// node), noting for each network switch met the length c_w of its shortest such path to dst.
void Router::local_search(VertexId dst, std::vector<std::pair<VertexId, std::uint8_t>>& local,
                          std::vector<std::pair<VertexId, int>>& via) {
    build_reversed_links();
    local.assign(1, {dst, 0});
    via.clear();
    // Visited marks by stamp, so a search costs what it visits, not the graph's size.
    if (visited_.size() != topology_.vertex_count()) visited_.assign(topology_.vertex_count(), 0);
    if (++stamp_ == 0) {
        std::fill(visited_.begin(), visited_.end(), 0);
        stamp_ = 1;
    }
    visited_[dst] = stamp_;
    for (std::size_t head = 0; head < local.size(); ++head) {
        const auto [v, d] = local[head];
        if (d + 1 >= kUnreachable) continue;  // as the search: nothing at 255 hops or more
        for (std::uint32_t i = in_offsets_[v]; i < in_offsets_[v + 1]; ++i) {
            const VertexId u = in_from_[i];
            const VertexKind kind = topology_.vertex(u).kind;
            if (is_fabric_switch(kind)) {
                auto it = std::find_if(via.begin(), via.end(), [&](const auto& e) { return e.first == u; });
                if (it == via.end()) via.emplace_back(u, d + 1);
                else it->second = std::min(it->second, d + 1);
            } else if (visited_[u] != stamp_) {
                visited_[u] = stamp_;
                local.emplace_back(u, static_cast<std::uint8_t>(d + 1));
            }
        }
    }
}

std::size_t Router::ViaHash::operator()(const Via& via) const {
    std::size_t h = 0x9E3779B97F4A7C15ull ^ via.size();
    for (const auto& [w, c] : via) h = (h ^ (w * 256 + static_cast<std::size_t>(c))) * 0x100000001B3ull + (h >> 29);
    return h;
}

const std::vector<std::uint8_t>* Router::shared_distances(const Via& via) {
    if (via.empty()) return nullptr;
    if (auto it = shared_cache_.find(via); it != shared_cache_.end()) return &it->second;
    const std::size_t n = topology_.vertex_count();
    // Bounded: past 512 MB the arrays are forgotten and built again as needed (still exact). 512 MB holds one array
    // per (leaf set, local GPU index) of the flagship layout at 131,072 GPUs (1,024 lists × 280 K vertices, 287 MB);
    // at 256 MB the stage-by-stage timing rebuilt them (+20 % of that step's CPU). Trade-off: a collective over
    // every GPU of such a cluster keeps up to 512 MB of them.
    if (shared_cache_bytes_ + n > (std::size_t{512} << 20)) {
        shared_cache_.clear();
        shared_cache_bytes_ = 0;
        current_valid_ = false;
    }
    std::vector<std::uint8_t> dist(n, kUnreachable);
    for (const auto& [w, c] : via) {
        // d(v, w) + c_w, saturating at kUnreachable (255). Fetched one at a time: a fetch may clear the switch
        // cache, but nothing is held across it.
        min_plus(dist.data(), switch_distances_to(w).data(), n, static_cast<std::uint8_t>(std::min(c, 255)));
    }
    shared_cache_bytes_ += n;
    return &(shared_cache_[via] = std::move(dist));
}

void Router::select(VertexId dst) {
    if (current_valid_ && current_ == dst) return;
    const std::size_t n = topology_.vertex_count();
    if (hop_stamp_.size() != n) {
        hop_stamp_.assign(n, 0);
        hop_link_.assign(n, 0);
        local_stamp_.assign(n, 0);
        local_value_.assign(n, 0);
        generation_ = 0;
    }
    if (++generation_ == 0) {
        std::fill(hop_stamp_.begin(), hop_stamp_.end(), 0);
        std::fill(local_stamp_.begin(), local_stamp_.end(), 0);
        generation_ = 1;
    }
    current_valid_ = false;
    if (is_fabric_switch(topology_.vertex(dst).kind)) {
        current_shared_ = &switch_distances_to(dst);  // no local region: its own searched distances
    } else {
        // The destination's local region and its list of (w, c_w), found once and kept (bounded like the arrays).
        auto found = regions_.find(dst);
        if (found == regions_.end()) {
            if (regions_.size() >= (std::size_t{1} << 20)) regions_.clear();
            Region region;
            local_search(dst, region.local, region.via);
            std::sort(region.via.begin(), region.via.end());
            found = regions_.emplace(dst, std::move(region)).first;
        }
        current_shared_ = shared_distances(found->second.via);
        for (const auto& [v, d] : found->second.local) {
            local_stamp_[v] = generation_;
            local_value_[v] = d;
        }
    }
    current_ = dst;
    current_valid_ = true;
}

std::uint8_t Router::current_distance(VertexId v) const {
    const std::uint8_t shared = current_shared_ != nullptr ? (*current_shared_)[v] : kUnreachable;
    if (local_stamp_[v] != generation_) return shared;
    return std::min(shared, local_value_[v]);
}

const std::vector<std::uint8_t>& Router::distances_to(VertexId dst) {
    if (is_fabric_switch(topology_.vertex(dst).kind)) return switch_distances_to(dst);
    if (auto it = cache_.find(dst); it != cache_.end()) return it->second;
    // Bounded cache: forget everything past 64 MB of distance arrays (found again as needed, not wrong).
    const std::size_t n = topology_.vertex_count();
    if ((cache_.size() + 1) * n > (std::size_t{64} << 20)) cache_.clear();
    select(dst);
    std::vector<std::uint8_t>& dist = cache_[dst];
    dist.resize(n);
    for (VertexId v = 0; v < n; ++v) dist[v] = current_distance(v);
    return dist;
}

template <class Distance>
LinkId Router::pick_next_hop(VertexId v, VertexId dst, const Distance& dist) const {
    const auto& adj = topology_.adjacency();
    const auto& links = topology_.links();
    const std::uint8_t here = dist(v);
    // Equal-cost next hops, in adjacency order (at most 64 are remembered; more are counted and found again).
    std::uint32_t candidates = 0;
    std::uint32_t first[64];
    for (std::uint32_t i = adj.offsets[v]; i < adj.offsets[v + 1]; ++i) {
        if (dist(links[adj.links[i]].to) + 1 == here) {
            if (candidates < 64) first[candidates] = adj.links[i];
            ++candidates;
        }
    }
    assert(candidates > 0);
    // PXN: at a GPU whose NVLink and NIC ports both lead on a shortest path (a destination on another node reached
    // through the rail or plane of another local GPU), the data crosses NVLink first, to the local GPU on the
    // destination's rail, and leaves by that GPU's NIC: NCCL's PXN and DeepEP's dispatch route so, and it spreads
    // an all-to-all's bytes evenly over the node's NICs (by D-mod-k, half the destinations went out by the
    // sender's own NIC and the NICs of odd rails carried 1.5× their share; issue #15).
    if (candidates > 1 && topology_.vertex(v).kind == VertexKind::gpu) {
        for (std::uint32_t c = 0; c < std::min<std::uint32_t>(candidates, 64); ++c) {
            if (links[first[c]].kind == LinkKind::scale_up) return first[c];
        }
    }
    const int key_index = topology_.vertex(dst).index;
    const std::size_t key = key_index >= 0 ? static_cast<std::size_t>(key_index) : dst;
    std::uint32_t pick = static_cast<std::uint32_t>((key + v) % candidates);
    if (pick < 64) return first[pick];
    for (std::uint32_t i = adj.offsets[v]; i < adj.offsets[v + 1]; ++i) {
        if (dist(links[adj.links[i]].to) + 1 == here) {
            if (pick == 0) return adj.links[i];
            --pick;
        }
    }
    return adj.links[adj.offsets[v]];  // unreachable
}

LinkId Router::next_hop(VertexId v, VertexId dst, const std::vector<std::uint8_t>& dist) const {
    return pick_next_hop(v, dst, [&](VertexId u) { return dist[u]; });
}

Route Router::route(VertexId src, VertexId dst) {
    Route route;
    if (src != dst) route.latency = walk(src, dst, route.links);
    return route;
}

Seconds Router::walk(VertexId src, VertexId dst, std::vector<LinkId>& out) {
    select(dst);
    auto dist = [&](VertexId u) { return current_distance(u); };
    if (dist(src) == kUnreachable) {
        throw Error(fmt::format("no route from {} to {}", topology_.describe(src), topology_.describe(dst)),
                    "check that the fabric connects these GPUs");
    }
    // Next hops toward the current destination are remembered (flows to one destination converge on its tree):
    // a next hop is a function of the vertex and the destination alone.
    Seconds latency;
    VertexId v = src;
    while (v != dst) {
        LinkId l = 0;
        if (hop_stamp_[v] == generation_) {
            l = hop_link_[v];
        } else {
            l = pick_next_hop(v, dst, dist);
            hop_stamp_[v] = generation_;
            hop_link_[v] = l;
        }
        out.push_back(l);
        const LinkInfo& link = topology_.link(l);
        latency += link.latency;
        v = link.to;
    }
    return latency;
}

RouteTable Router::routes(std::span<const FlowSpec> flows) {
    RouteTable out;
    routes(flows, out);
    return out;
}

void Router::routes(std::span<const FlowSpec> flows, RouteTable& out) {
    // The flows grouped by destination, destinations in order of first appearance (a counting sort: flows_to_
    // counts each destination's flows, then holds its next slot, and is reset for the destinations met).
    const std::size_t n = topology_.vertex_count();
    if (flows_to_.size() != n) flows_to_.assign(n, 0);
    std::vector<VertexId> destinations;
    for (const FlowSpec& f : flows) {
        if (flows_to_[f.dst]++ == 0) destinations.push_back(f.dst);
    }
    std::vector<std::uint32_t> first(destinations.size() + 1, 0);
    for (std::size_t d = 0; d < destinations.size(); ++d) {
        first[d + 1] = first[d] + flows_to_[destinations[d]];
        flows_to_[destinations[d]] = first[d];
    }
    std::vector<std::uint32_t> order(flows.size());
    for (std::uint32_t i = 0; i < flows.size(); ++i) order[flows_to_[flows[i].dst]++] = i;
    for (const VertexId d : destinations) flows_to_[d] = 0;

    out.links.clear();
    out.begin.resize(flows.size());
    out.end.resize(flows.size());
    out.latency.assign(flows.size(), Seconds(0.0));
    out.links.reserve(flows.size() * 6);
    for (std::size_t d = 0; d < destinations.size(); ++d) {
        const VertexId dst = destinations[d];
        for (std::uint32_t k = first[d]; k < first[d + 1]; ++k) {
            const std::uint32_t i = order[k];
            out.begin[i] = static_cast<std::uint32_t>(out.links.size());
            if (flows[i].src != dst) out.latency[i] = walk(flows[i].src, dst, out.links);
            out.end[i] = static_cast<std::uint32_t>(out.links.size());
        }
    }
}

}  // namespace gpuhours
