// Shortest-path routing with destination-based ECMP (network.hpp, Router): breadth-first distances to switches,
// distances to GPUs and NICs derived from the switches next to them, and the next-hop choice.
#include <gpuhours/units/error.hpp>
#include <gpuhours/network/network.hpp>

#include "structure.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <optional>
#include <vector>

namespace gpuhours {

// ---- routing ----------------------------------------------------------------------------------------------

Router::Router(const Topology& topology) : topology_(topology) { set_structure(true); }

Router::~Router() = default;

void Router::set_structure(bool on) {
    structure_.reset();  // built at the first route that reads it (a network whose phases all come from a cache
    use_structure_ = on && topology_.geometry() != nullptr;  // never pays for its tables)
    current_valid_ = false;
}

bool Router::structural(VertexId dst) const { return use_structure_ && topology_.vertex(dst).kind == VertexKind::gpu; }

namespace {

// out[v] = min(out[v], in[v] + c) with the sum saturating at 255 (unreachable stays unreachable). Built with
// vectorisation on (GCC's -O2 cost model leaves this loop scalar; it is the cost of a derived distance array).
[[gnu::optimize("tree-vectorize")]] void min_plus(std::uint8_t* out, const std::uint8_t* in, std::size_t n, std::uint8_t c) {
    for (std::size_t v = 0; v < n; ++v) {
        const std::uint8_t sum = static_cast<std::uint8_t>(in[v] > 255 - c ? 255 : in[v] + c);
        out[v] = out[v] < sum ? out[v] : sum;
    }
}

// The number destination-based spreading keys `dst` by (Router::choose): a GPU's or NIC's destination key, else
// its index, else the vertex.
std::size_t ecmp_key(const Topology& topology, VertexId dst) {
    const VertexInfo& to = topology.vertex(dst);
    const bool gpu_or_nic = to.index >= 0 && (to.kind == VertexKind::gpu || to.kind == VertexKind::nic);
    const int key_index = gpu_or_nic ? topology.destination_key(to.index) : to.index;
    return key_index >= 0 ? static_cast<std::size_t>(key_index) : dst;
}

// Whether a choice among `count` candidates goes into `log`: a log that met more than it keeps
// (ChoiceLog::kMaxCandidates) is incomplete from then on and takes nothing more; a single candidate is no choice.
bool logs_choice(Router::ChoiceLog* log, std::size_t count) {
    if (log != nullptr && count > Router::ChoiceLog::kMaxCandidates) log->complete = false;
    return log != nullptr && count > 1 && log->complete;
}

// The structure's distances as pick_next_hop reads them, with its test for neighbours off every shortest path.
struct ByStructure {
    detail::StructuralDistance* structure;
    std::uint8_t operator()(VertexId u) const { return (*structure)(u); }
    [[nodiscard]] bool off_path(VertexId v, std::uint32_t i, std::uint8_t here) const { return structure->off_path(v, i, here); }
    bool switch_next_hops(VertexId v, std::uint8_t here, std::vector<LinkId>& out, std::span<const std::uint32_t>* run) const {
        return structure->switch_next_hops(v, here, out, run);
    }
};

}  // namespace

void Router::build_reversed_links() {
    const std::size_t n = topology_.vertex_count();
    const std::vector<LinkRecord>& links = topology_.link_records();
    if (in_offsets_.size() != n + 1 || in_from_.size() != links.size()) {
        in_offsets_.assign(n + 1, 0);
        for (const LinkRecord& l : links) ++in_offsets_[l.to + 1];
        for (std::size_t v = 0; v < n; ++v) in_offsets_[v + 1] += in_offsets_[v];
        in_from_.assign(links.size(), 0);
        std::vector<std::uint32_t> cursor(in_offsets_.begin(), in_offsets_.end() - 1);
        for (const LinkRecord& l : links) in_from_[cursor[l.to]++] = static_cast<std::uint32_t>(l.from);
    }
}

std::vector<std::uint8_t> Router::search_distances_to(VertexId dst) { return search_from(std::span(&dst, 1)); }

// Breadth-first search from `sources` (all at distance 0) over reversed links (hand-made graphs may have one-way
// links); nothing is expanded at 254 hops, so 255 and beyond read as unreachable.
std::vector<std::uint8_t> Router::search_from(std::span<const VertexId> sources) {
    std::vector<std::uint8_t> dist(topology_.vertex_count(), kUnreachable);
    build_reversed_links();
    queue_.clear();
    for (const VertexId s : sources) {
        dist[s] = 0;
        queue_.push_back(static_cast<std::uint32_t>(s));
    }
    for (std::size_t head = 0; head < queue_.size(); ++head) {
        const std::uint32_t v = queue_[head];
        if (dist[v] + 1 >= kUnreachable) continue;
        for (std::uint32_t i = in_offsets_[v]; i < in_offsets_[v + 1]; ++i) {
            const std::uint32_t u = in_from_[i];
            if (dist[u] == kUnreachable) {
                dist[u] = static_cast<std::uint8_t>(dist[v] + 1);
                queue_.push_back(u);
            }
        }
    }
    return dist;
}

// A network switch's distances, derived with its attachment group's (derive_group_distances) or searched, and
// kept (make_switch_room).
const std::vector<std::uint8_t>& Router::switch_distances_to(VertexId w) {
    if (auto it = switch_cache_.find(w); it != switch_cache_.end()) return it->second;
    if (derive_group_distances(w)) return switch_cache_.at(w);
    const std::size_t n = topology_.vertex_count();
    std::vector<std::uint8_t> dist = search_distances_to(w);
    make_switch_room(1);
    switch_cache_bytes_ += n;
    return switch_cache_[w] = std::move(dist);
}

// Room in the switch cache for `arrays` more arrays, made together so that none of them evicts another: past 1 GB
// the cache is forgotten (its arrays are found again as needed; still exact).
void Router::make_switch_room(std::size_t arrays) {
    if (switch_cache_bytes_ + arrays * topology_.vertex_count() <= (std::size_t{1} << 30)) return;
    switch_cache_.clear();
    switch_cache_bytes_ = 0;
    current_valid_ = false;  // its array may have been one of these
}

std::size_t Router::IdsHash::operator()(const std::vector<VertexId>& ids) const {
    std::size_t h = 0x9E3779B97F4A7C15ull ^ ids.size();
    for (const VertexId v : ids) h = (h ^ v) * 0x100000001B3ull + (h >> 29);
    return h;
}

// The hop distance from every vertex to the nearest of `sources` (kUnreachable where none), searched and kept.
const std::vector<std::uint8_t>& Router::distances_to_set(const std::vector<VertexId>& sources) {
    if (auto it = set_cache_.find(sources); it != set_cache_.end()) return it->second;
    const std::size_t n = topology_.vertex_count();
    if (set_cache_bytes_ + n > (std::size_t{256} << 20)) {
        set_cache_.clear();
        set_cache_bytes_ = 0;
    }
    std::vector<std::uint8_t> dist = search_from(sources);
    set_cache_bytes_ += n;
    return set_cache_[sources] = std::move(dist);
}

// min over the U sets of `sets` of the distance to each (distances_to_set), kept by `key` (the sets, each
// preceded by its size).
const std::vector<std::uint8_t>& Router::group_minimum(const std::vector<VertexId>& key,
                                                       const std::vector<std::vector<VertexId>>& sets) {
    if (auto it = minimum_cache_.find(key); it != minimum_cache_.end()) return it->second;
    const std::size_t n = topology_.vertex_count();
    if (minimum_cache_.size() >= 64) minimum_cache_.clear();
    std::vector<std::uint8_t> minimum(n, kUnreachable);
    for (const auto& set : sets) {
        if (!set.empty()) min_plus(minimum.data(), distances_to_set(set).data(), n, 0);
    }
    return minimum_cache_[key] = std::move(minimum);
}

// Distances to the switches of w's attachment group, without a search per switch.
//
// The non-switch vertices form regions (a node: its GPUs, NVSwitch and NICs) attached to fabric switches. The
// group of w: w, and every switch linked into a region from which a group member is reached without crossing a
// switch, closed (one leaf of a fat-tree whose nodes hang from it alone; leaf i of every plane of a multi-plane or
// every rail of a rail-optimised fabric, which share their nodes). A path from outside the group's regions into
// them enters from a group member, so Bellman's equation over w's in-neighbours (the switches U_w linked into w,
// and region vertices) reads, for v outside the regions:
//   d(v, w) = min( 1 + D_{U_w}(v),  min_{e ≠ w} d(v, e) + t(e → w) )
// with D_U(v) the distance from v to the nearest switch of U (one multi-source search per distinct U: all the
// leaves of a plane or a pod share it) and t(e → w) the shortest path from e through the regions into w. Closing
// t over the group (T*, Floyd–Warshall, T*(w → w) = 0) solves it: d(v, w) = min_e (1 + D_{U_e}(v) + T*(e → w)),
// and at a member e itself d(e, w) = T*(e → w) enters too. Inside a region a path first meets a member e within
// the region: d(y, w) = min_e r_e(y) + d(e, w), r_e the in-region distance. Exact: the same array as the search
// (tests/network/network_test.cpp compares them on every fabric the builders make). One min-plus pass per member
// and group member, where the search visits every link once per switch.
// The attachment group of w (see derive_group_distances) and each member's backward in-region search; false when
// it has more than kMaxGroup members or a region leads somewhere other than a member or another region vertex.
bool Router::find_group(VertexId w, AttachmentGroup& g) {
    constexpr std::size_t kMaxGroup = 16;
    const auto& adj = topology_.adjacency();
    auto next_stamp = [&] {
        if (++stamp_ == 0) {
            std::fill(visited_.begin(), visited_.end(), 0);
            stamp_ = 1;
        }
    };
    std::vector<VertexId>& group = g.members;
    group.assign(1, w);
    for (std::size_t i = 0; i < group.size(); ++i) {
        const VertexId e = group[i];
        next_stamp();
        visited_[e] = stamp_;
        auto& r = g.reach.emplace_back();
        r.emplace_back(e, 0);
        for (std::size_t head = 0; head < r.size(); ++head) {
            const auto [y, d] = r[head];
            if (d + 1 >= kUnreachable) continue;
            for (std::uint32_t k = in_offsets_[y]; k < in_offsets_[y + 1]; ++k) {
                const VertexId z = in_from_[k];
                if (is_network_switch(topology_.vertex(z).kind)) {
                    // A switch linked into the region (not e's own switch-to-switch links: those are U_e).
                    if (head > 0 && std::find(group.begin(), group.end(), z) == group.end()) {
                        if (group.size() == kMaxGroup) return false;
                        group.push_back(z);
                    }
                } else if (visited_[z] != stamp_) {
                    visited_[z] = stamp_;
                    r.emplace_back(z, static_cast<std::uint8_t>(d + 1));
                }
            }
        }
        r.erase(r.begin());  // e itself
    }
    // The equations need every way out of the regions to go to a member (true of cables, which run both ways;
    // hand-made one-way links may break it: then search).
    next_stamp();
    for (const VertexId e : group) visited_[e] = stamp_;
    for (const auto& r : g.reach) {
        for (const auto& entry : r) visited_[entry.first] = stamp_;
    }
    for (const auto& r : g.reach) {
        for (const auto& entry : r) {
            for (std::uint32_t a = adj.offsets[entry.first]; a < adj.offsets[entry.first + 1]; ++a) {
                if (visited_[adj.to[a]] != stamp_) return false;
            }
        }
    }
    return true;
}

// T*(e → f) at closure[e · k + f]: t(e → f), from e over one link into a region vertex y then r_f(y), closed by
// Floyd–Warshall; 0 on the diagonal.
void Router::close_transits(AttachmentGroup& g) {
    constexpr int kFar = 1 << 20;  // beyond any hop count
    const auto& adj = topology_.adjacency();
    const auto& links = topology_.links();
    const std::size_t k = g.members.size();
    std::vector<int>& closure = g.closure;
    closure.assign(k * k, kFar);
    for (std::size_t f = 0; f < k; ++f) {
        for (const auto& [y, d] : g.reach[f]) in_region_[y] = d;
        for (std::size_t e = 0; e < k; ++e) {
            int& t = closure[e * k + f];
            if (e == f) {
                t = 0;
                continue;
            }
            for (std::uint32_t a = adj.offsets[g.members[e]]; a < adj.offsets[g.members[e] + 1]; ++a) {
                const VertexId y = links[adj.links[a]].to;
                if (in_region_[y] != kUnreachable) t = std::min(t, 1 + in_region_[y]);
            }
        }
        for (const auto& [y, d] : g.reach[f]) in_region_[y] = kUnreachable;
    }
    for (std::size_t m = 0; m < k; ++m) {
        for (std::size_t a = 0; a < k; ++a) {
            for (std::size_t b = 0; b < k; ++b) closure[a * k + b] = std::min(closure[a * k + b], closure[a * k + m] + closure[m * k + b]);
        }
    }
}

bool Router::derive_group_distances(VertexId w) {
    build_reversed_links();
    const std::size_t n = topology_.vertex_count();
    if (in_region_.size() != n) in_region_.assign(n, kUnreachable);
    if (visited_.size() != n) visited_.assign(n, 0);
    AttachmentGroup g;
    if (!find_group(w, g)) return false;
    close_transits(g);
    const std::vector<VertexId>& group = g.members;
    const auto& reach = g.reach;
    const std::vector<int>& closure = g.closure;
    const std::size_t k = group.size();
    // D_{U_e} for each member: the switches with a link into it.
    std::vector<std::vector<VertexId>> up_sets(k);
    for (std::size_t e = 0; e < k; ++e) {
        for (std::uint32_t a = in_offsets_[group[e]]; a < in_offsets_[group[e] + 1]; ++a) {
            const VertexId u = in_from_[a];
            if (is_network_switch(topology_.vertex(u).kind)) up_sets[e].push_back(u);
        }
        std::sort(up_sets[e].begin(), up_sets[e].end());
        up_sets[e].erase(std::unique(up_sets[e].begin(), up_sets[e].end()), up_sets[e].end());
    }
    // When every other member is τ_f from f (the members of a multi-plane or rail group: 6 hops through a node),
    // min_{e ≠ f} D_e + τ_f can use the minimum over all members, M = min_e D_e (τ_f ≥ 0, so e = f never wins
    // there): out_f = min(1 + D_f, 1 + τ_f + M), two passes instead of one per member. M is kept by the group's
    // U sets, which every group of a multi-plane fabric shares (one leaf per plane).
    std::vector<VertexId> sets_key;
    for (std::size_t e = 0; e < k; ++e) {
        sets_key.push_back(up_sets[e].size());
        sets_key.insert(sets_key.end(), up_sets[e].begin(), up_sets[e].end());
    }
    const auto uniform_column = [&](std::size_t f) -> std::optional<int> {
        std::optional<int> tau;
        for (std::size_t e = 0; e < k; ++e) {
            if (e == f || up_sets[e].empty()) continue;
            if (tau && *tau != closure[e * k + f]) return std::nullopt;
            tau = closure[e * k + f];
        }
        return tau;
    };
    std::vector<std::vector<std::uint8_t>> arrays(k);
    for (std::size_t f = 0; f < k; ++f) {
        std::vector<std::uint8_t>& out = arrays[f];
        out.assign(n, kUnreachable);
        const std::optional<int> tau = k > 2 ? uniform_column(f) : std::nullopt;
        if (tau && *tau + 1 < kUnreachable) {
            min_plus(out.data(), group_minimum(sets_key, up_sets).data(), n, static_cast<std::uint8_t>(*tau + 1));
            if (!up_sets[f].empty()) min_plus(out.data(), distances_to_set(up_sets[f]).data(), n, 1);
        } else if (!tau) {
            for (std::size_t e = 0; e < k; ++e) {
                const int t = closure[e * k + f];
                if (up_sets[e].empty() || t + 1 >= kUnreachable) continue;
                // Fetched one at a time (a fetch may clear the set cache; nothing is held across it).
                min_plus(out.data(), distances_to_set(up_sets[e]).data(), n, static_cast<std::uint8_t>(t + 1));
            }
        } else if (!up_sets[f].empty()) {
            min_plus(out.data(), distances_to_set(up_sets[f]).data(), n, 1);  // the others are too far to count
        }
        for (std::size_t e = 0; e < k; ++e) {
            const int t = closure[e * k + f];
            if (t < kUnreachable) out[group[e]] = std::min<std::uint8_t>(out[group[e]], static_cast<std::uint8_t>(t));
        }
    }
    // Region vertices: the first member met within the region, then on from there (in_region_ accumulates the
    // minimum over members, then is written and cleared).
    for (std::size_t f = 0; f < k; ++f) {
        std::vector<std::uint8_t>& out = arrays[f];
        for (std::size_t e = 0; e < k; ++e) {
            const int base = out[group[e]];
            for (const auto& [y, d] : reach[e]) {
                in_region_[y] = static_cast<std::uint8_t>(std::min<int>({in_region_[y], base + d, kUnreachable}));
            }
        }
        for (const auto& r : reach) {
            for (const auto& entry : r) out[entry.first] = in_region_[entry.first];
        }
        for (const auto& r : reach) {
            for (const auto& entry : r) in_region_[entry.first] = kUnreachable;
        }
    }
    make_switch_room(k);
    for (std::size_t f = 0; f < k; ++f) {
        auto [it, added] = switch_cache_.try_emplace(group[f]);
        if (!added) continue;
        it->second = std::move(arrays[f]);
        switch_cache_bytes_ += n;
        ++derived_switches_;
    }
    return true;
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
            if (is_network_switch(kind)) {
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

std::size_t detail::EntryListHash::operator()(const EntryList& via) const {
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

void Router::drop_dominated(Via& via) {
    if (via.size() < 2) return;
    std::vector<char> dropped(via.size(), 0);
    for (std::size_t i = 0; i < via.size(); ++i) {
        // Read before the next fetch (a fetch may clear the switch cache).
        const std::vector<std::uint8_t>& to_i = switch_distances_to(via[i].first);
        for (std::size_t j = 0; j < via.size(); ++j) {
            if (j != i && !dropped[j] && int{to_i[via[j].first]} + via[i].second <= via[j].second) dropped[j] = 1;
        }
    }
    std::size_t kept = 0;
    for (std::size_t i = 0; i < via.size(); ++i) {
        if (!dropped[i]) via[kept++] = via[i];
    }
    via.resize(kept);
}

void Router::select(VertexId dst, bool by_structure) {
    by_structure = by_structure && structural(dst);
    if (current_valid_ && current_ == dst && current_structural_ == by_structure) return;
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
    current_offset_ = 0;
    current_structural_ = by_structure;
    if (current_structural_) {
        if (structure_ == nullptr) structure_ = std::make_unique<detail::StructuralDistance>(topology_);
        structure_->select(dst);  // no array and no local region: the structure gives every distance
    } else if (is_network_switch(topology_.vertex(dst).kind)) {
        current_shared_ = &switch_distances_to(dst);  // no local region: its own searched distances
    } else {
        // The destination's local region and its list of (w, c_w), found once and kept (bounded like the arrays).
        auto found = regions_.find(dst);
        if (found == regions_.end()) {
            if (regions_.size() >= (std::size_t{1} << 20)) regions_.clear();
            Region region;
            local_search(dst, region.local, region.via);
            std::sort(region.via.begin(), region.via.end());
            drop_dominated(region.via);
            found = regions_.emplace(dst, std::move(region)).first;
        }
        const Via& via = found->second.via;
        if (via.size() == 1) {
            // One switch: its own array, offset by c_w (no array of shared(v) is built).
            current_shared_ = &switch_distances_to(via.front().first);
            current_offset_ = static_cast<std::uint8_t>(std::min(via.front().second, 255));
        } else {
            current_shared_ = shared_distances(via);
        }
        for (const auto& [v, d] : found->second.local) {
            local_stamp_[v] = generation_;
            local_value_[v] = d;
        }
    }
    current_ = dst;
    current_valid_ = true;
}

std::uint8_t Router::current_distance(VertexId v) const {
    if (current_structural_) return (*structure_)(v);
    // d(v, w) + c_w saturating at kUnreachable, as min_plus builds the shared arrays.
    const unsigned sum = current_shared_ != nullptr ? unsigned{(*current_shared_)[v]} + current_offset_ : kUnreachable;
    const auto shared = static_cast<std::uint8_t>(std::min<unsigned>(sum, kUnreachable));
    if (local_stamp_[v] != generation_) return shared;
    return std::min(shared, local_value_[v]);
}

const std::vector<std::uint8_t>& Router::distances_to(VertexId dst) {
    if (is_network_switch(topology_.vertex(dst).kind)) return switch_distances_to(dst);
    if (auto it = cache_.find(dst); it != cache_.end()) return it->second;
    // Bounded cache: forget everything past 64 MB of distance arrays (found again as needed, not wrong).
    const std::size_t n = topology_.vertex_count();
    if ((cache_.size() + 1) * n > (std::size_t{64} << 20)) cache_.clear();
    select(dst, false);  // the arrays: filling one from the structure costs more per vertex
    std::vector<std::uint8_t>& dist = cache_[dst];
    dist.resize(n);
    for (VertexId v = 0; v < n; ++v) dist[v] = current_distance(v);
    return dist;
}

template <class Distance>
LinkId Router::pick_next_hop(VertexId v, VertexId dst, const Distance& dist) const {
    const auto& adj = topology_.adjacency();
    const std::uint8_t here = dist(v);
    // A neighbour that the distance proves off every shortest path is not evaluated (StructuralDistance::off_path,
    // asked by the link's place in the adjacency).
    const auto next = [&](std::uint32_t i) {
        if constexpr (requires { dist.off_path(v, i, here); }) {
            if (dist.off_path(v, i, here)) return false;
        }
        return dist(adj.to[i]) + 1 == here;
    };
    // Equal-cost next hops, in adjacency order (64 kept on the stack; more are gathered again into a vector). A
    // distance that can list a switch's next hops by runs of alike links does (StructuralDistance::switch_next_hops).
    std::size_t candidates = 0;
    LinkId first[64];
    std::span<const LinkId> among;
    bool listed = false;
    if constexpr (requires { dist.switch_next_hops(v, here, wide_, nullptr); }) {
        wide_.clear();
        std::span<const std::uint32_t> run;
        listed = dist.switch_next_hops(v, here, wide_, &run);
        if (!run.empty()) {
            // One run of alike links (a leaf's uplinks to every spine of its plane): chosen from the adjacency's
            // own array when no log wants the list (the same index `choose` takes: v is a switch, so no PXN).
            if (!logs_choice(choice_log_, run.size())) return run[(ecmp_key(topology_, dst) + v) % run.size()];
            wide_.assign(run.begin(), run.end());
        }
        candidates = wide_.size();
        among = wide_;
    }
    if (!listed) {
        for (std::uint32_t i = adj.offsets[v]; i < adj.offsets[v + 1]; ++i) {
            if (next(i)) {
                if (candidates < 64) first[candidates] = adj.links[i];
                ++candidates;
            }
        }
        among = std::span<const LinkId>(first, std::min<std::size_t>(candidates, 64));
    }
    assert(candidates > 0);
    if (!listed && candidates > 64) {
        wide_.clear();
        for (std::uint32_t i = adj.offsets[v]; i < adj.offsets[v + 1]; ++i) {
            if (next(i)) wide_.push_back(adj.links[i]);
        }
        among = wide_;
    }
    const LinkId chosen = choose(v, dst, among);
    if (logs_choice(choice_log_, candidates)) {
        choice_log_->vertex.push_back(v);
        choice_log_->destination.push_back(dst);
        choice_log_->chosen.push_back(chosen);
        choice_log_->candidates.insert(choice_log_->candidates.end(), among.begin(), among.end());
        choice_log_->begin.push_back(static_cast<std::uint32_t>(choice_log_->candidates.size()));
    }
    return chosen;
}

LinkId Router::choose(VertexId v, VertexId dst, std::span<const LinkId> candidates) const {
    // PXN: at a GPU whose NVLink and NIC ports both lead on a shortest path (a destination on another node reached
    // through the rail or plane of another local GPU), the data crosses NVLink first, to the local GPU on the
    // destination's rail, and leaves by that GPU's NIC: NCCL's PXN and DeepEP's dispatch route so, and it spreads
    // an all-to-all's bytes evenly over the node's NICs (by D-mod-k, half the destinations went out by the
    // sender's own NIC and the NICs of odd rails carried 1.5× their share; issue #15).
    const auto& links = topology_.links();
    if (candidates.size() > 1 && topology_.vertex(v).kind == VertexKind::gpu) {
        for (std::size_t c = 0; c < std::min<std::size_t>(candidates.size(), 64); ++c) {
            if (links[candidates[c]].kind == LinkKind::scale_up) return candidates[c];
        }
    }
    return candidates[(ecmp_key(topology_, dst) + v) % candidates.size()];
}

LinkId Router::next_hop(VertexId v, VertexId dst, const std::vector<std::uint8_t>& dist) const {
    return pick_next_hop(v, dst, [&](VertexId u) { return dist[u]; });
}

Route Router::route(VertexId src, VertexId dst) {
    Route route;
    if (src != dst) route.latency = walk(src, dst, route.links);
    return route;
}

std::uint8_t Router::distance(VertexId v, VertexId dst) {
    select(dst, true);
    return current_distance(v);
}

std::optional<Seconds> Router::walk_in_node(VertexId src, VertexId dst, std::vector<LinkId>& out) const {
    const VertexInfo& a = topology_.vertex(src);
    const VertexInfo& b = topology_.vertex(dst);
    if (a.kind != VertexKind::gpu || b.kind != VertexKind::gpu || a.node != b.node || a.node < 0 ||
        topology_.geometry() == nullptr) {
        return std::nullopt;
    }
    const auto& adj = topology_.adjacency();
    const auto& links = topology_.links();
    const auto out_link = [&](VertexId v, auto&& wanted) -> std::optional<LinkId> {
        for (std::uint32_t i = adj.offsets[v]; i < adj.offsets[v + 1]; ++i) {
            if (wanted(links[adj.links[i]])) return adj.links[i];
        }
        return std::nullopt;
    };
    const std::optional<LinkId> up = out_link(src, [](const LinkInfo& l) { return l.kind == LinkKind::scale_up; });
    if (!up || topology_.vertex(links[*up].to).kind != VertexKind::nvswitch) return std::nullopt;
    // The NVSwitch's link down to dst: its adjacency lists the node's vertices in the order the builder added them
    // (ascending), so a binary search finds it in a node of thousands of GPUs (a TPU pod's); a scan where not.
    const VertexId nvswitch = links[*up].to;
    std::optional<LinkId> down;
    const auto first = adj.to.begin() + adj.offsets[nvswitch];
    const auto last = adj.to.begin() + adj.offsets[nvswitch + 1];
    if (const auto at = std::lower_bound(first, last, dst); at != last && *at == dst) {
        down = adj.links[static_cast<std::size_t>(at - adj.to.begin())];
    } else {
        down = out_link(nvswitch, [&](const LinkInfo& l) { return l.to == dst; });
    }
    if (!down) return std::nullopt;
    out.push_back(*up);
    out.push_back(*down);
    return links[*up].latency + links[*down].latency;
}

Seconds Router::walk(VertexId src, VertexId dst, std::vector<LinkId>& out) {
    if (const std::optional<Seconds> in_node = walk_in_node(src, dst, out)) return *in_node;
    select(dst, true);
    if (current_structural_) return walk_with(src, dst, out, ByStructure{structure_.get()});
    if (current_shared_ != nullptr && current_offset_ == 0) {
        // The common case read without the offset's saturating add (a walk evaluates every neighbour on its way).
        const std::uint8_t* shared = current_shared_->data();
        return walk_with(src, dst, out, [&](VertexId u) {
            return local_stamp_[u] != generation_ ? shared[u] : std::min(shared[u], local_value_[u]);
        });
    }
    return walk_with(src, dst, out, [&](VertexId u) { return current_distance(u); });
}

template <class Distance>
Seconds Router::walk_with(VertexId src, VertexId dst, std::vector<LinkId>& out, const Distance& dist) {
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
