// Hop distances from the fabric's structure (structure.hpp gives the argument).
#include "structure.hpp"

#include <algorithm>
#include <cassert>

namespace gpuhours::detail {

StructuralDistance::StructuralDistance(const Topology& topology)
    : topology_(topology),
      geometry_(*topology.geometry()),
      first_switch_(geometry_.first_switch),
      gpus_per_node_(std::max(1, topology.gpus_per_node())) {
    for (const FabricGeometry::Place& p : geometry_.switches) components_ = std::max(components_, p.component + 1);
    nodes_.resize(geometry_.first_switch);
    for (VertexId v = 0; v < geometry_.first_switch; ++v) {
        const VertexInfo& info = topology.vertex(v);
        const int local = info.kind == VertexKind::nvswitch ? -1 : info.index % gpus_per_node_;
        nodes_[v] = NodeVertex{info.node, static_cast<std::int32_t>(local), static_cast<std::uint8_t>(info.kind)};
    }
    const Topology::Adjacency& adj = topology.adjacency();
    far_node_.resize(adj.to.size());
    for (std::size_t i = 0; i < adj.to.size(); ++i) far_node_[i] = adj.to[i] < first_switch_ ? nodes_[adj.to[i]].node : -1;
    build_runs();
}

void StructuralDistance::build_runs() {
    const Topology::Adjacency& adj = topology_.adjacency();
    const auto same_class = [&](std::uint32_t a, std::uint32_t b) {
        if ((adj.to[a] < first_switch_) != (adj.to[b] < first_switch_)) return false;
        if (adj.to[a] < first_switch_) return true;  // node vertices: one run
        const FabricGeometry::Place& x = geometry_.switches[adj.to[a] - first_switch_];
        const FabricGeometry::Place& y = geometry_.switches[adj.to[b] - first_switch_];
        return x.component == y.component && x.tier == y.tier && x.pod == y.pod;
    };
    run_begin_.assign(geometry_.switches.size() + 1, 0);
    for (std::size_t s = 0; s < geometry_.switches.size(); ++s) {
        const VertexId v = first_switch_ + s;
        for (std::uint32_t i = adj.offsets[v]; i < adj.offsets[v + 1];) {
            Run run{i, i + 1, adj.to[i] < first_switch_, true};
            while (run.end < adj.offsets[v + 1] && same_class(i, run.end)) {
                // A run of NICs is "sorted" when their nodes do not decrease (switch_next_hops finds the
                // destination's node's NICs by binary search), a run of switches when the far ends ascend.
                run.sorted = run.sorted && (run.nics ? far_node_[run.end - 1] <= far_node_[run.end]
                                                     : adj.to[run.end - 1] < adj.to[run.end]);
                ++run.end;
            }
            runs_.push_back(run);
            i = run.end;
        }
        run_begin_[s + 1] = static_cast<std::uint32_t>(runs_.size());
    }
}

bool StructuralDistance::switch_next_hops(VertexId v, int here, std::vector<LinkId>& out, std::span<const std::uint32_t>* whole_run) {
    if (whole_run != nullptr) *whole_run = {};
    if (v < first_switch_ || !only_destination_nics(here)) return false;
    const Topology::Adjacency& adj = topology_.adjacency();
    const std::size_t out_before = out.size();
    // A whole run of next hops found first is held as a span (not copied) until anything else is found: then it is
    // copied into `out` ahead of the rest, keeping the adjacency order.
    std::span<const std::uint32_t> held;
    const auto flush = [&] {
        out.insert(out.end(), held.begin(), held.end());
        held = {};
    };
    const std::size_t s = v - first_switch_;
    const bool above_destination = entry_leaf(v);
    const auto take = [&](std::uint32_t i) {
        if ((*this)(adj.to[i]) + 1 == here) {
            flush();
            out.push_back(adj.links[i]);
        }
    };
    for (std::uint32_t r = run_begin_[s]; r < run_begin_[s + 1]; ++r) {
        const Run& run = runs_[r];
        if (run.nics) {
            // Only the destination's node's NICs can be next hops (off_path), and they hang below its leaves alone.
            if (!above_destination) continue;
            std::uint32_t lo = run.begin, hi = run.end;
            if (run.sorted) {  // a leaf of a multi-plane fabric holds 128 nodes' NICs at radix 256, one of them wanted
                const std::int32_t* at = far_node_.data();
                lo = static_cast<std::uint32_t>(std::lower_bound(at + lo, at + hi, node_) - at);
                hi = static_cast<std::uint32_t>(std::upper_bound(at + lo, at + hi, node_) - at);
            }
            for (std::uint32_t i = lo; i < hi; ++i) {
                if (far_node_[i] == node_) take(i);
            }
            continue;
        }
        // The destination's leaves among this run's far ends (ascending positions), read one by one; the others
        // share the class's distance, read at a far end that is not one of them.
        std::uint32_t own[16];
        std::size_t owned = 0;
        bool scan = !run.sorted;
        // The run's far ends are switches of one component: only that component's entry leaves can be among them.
        const auto comp = static_cast<std::size_t>(geometry_.switches[adj.to[run.begin] - first_switch_].component);
        for (std::uint32_t e = via_begin_[comp]; e < via_begin_[comp + 1]; ++e) {
            const VertexId w = (*via_)[e].first;
            if (scan) break;
            const auto* lo = adj.to.data() + run.begin;
            const auto* hi = adj.to.data() + run.end;
            const auto* at = std::lower_bound(lo, hi, static_cast<std::uint32_t>(w));
            if (at == hi || *at != w) continue;
            if (owned == std::size(own)) scan = true;
            else own[owned++] = static_cast<std::uint32_t>(at - adj.to.data());
        }
        if (scan) {
            for (std::uint32_t i = run.begin; i < run.end; ++i) take(i);
            continue;
        }
        std::sort(own, own + owned);
        std::uint32_t rep = run.begin;
        while (rep < run.end && entry_leaf(adj.to[rep])) ++rep;
        const bool class_in = rep < run.end && from_switch(adj.to[rep]) + 1 == here;
        if (whole_run != nullptr && class_in && owned == 0 && out.size() == out_before && held.empty()) {
            held = std::span<const std::uint32_t>(adj.links.data() + run.begin, run.end - run.begin);
            continue;
        }
        std::uint32_t i = run.begin;
        for (std::size_t k = 0; k <= owned; ++k) {
            const std::uint32_t stop = k < owned ? own[k] : run.end;
            if (class_in && stop > i) {
                flush();
                out.insert(out.end(), adj.links.begin() + i, adj.links.begin() + stop);
            }
            if (k < owned) take(stop);
            i = stop + 1;
        }
    }
    if (whole_run != nullptr) *whole_run = held;  // non-empty only when nothing else was found
    return true;
}

void StructuralDistance::select(VertexId dst) {
    const VertexInfo& info = topology_.vertex(dst);
    assert(info.kind == VertexKind::gpu);
    node_ = info.node;
    local_ = info.index % gpus_per_node_;
    if (memo_of_gpu_.size() != first_switch_) memo_of_gpu_.assign(first_switch_, nullptr);
    auto* found = memo_of_gpu_[dst];
    if (found == nullptr) {
        EntryList& via = scratch_;
        via.clear();
        // Grouped by component: a switch looks only at its own component's leaves (D is infinite across).
        const auto component = [&](VertexId w) { return geometry_.switches[w - geometry_.first_switch].component; };
        const auto by_component = [&](VertexId a, VertexId b) { return std::pair(component(a), a) < std::pair(component(b), b); };
        if (!geometry_.nic_leaf.empty() && gpus_per_node_ >= kWideNode) {
            // A wide node: its leaves once (sorted, each once), each at c = local_distance + 1 by the destination's own
            // NIC or by any other (all others at one distance from the GPU).
            if (leaves_node_ != node_) {
                const auto first = geometry_.nic_leaf.begin() + static_cast<std::ptrdiff_t>(node_) * gpus_per_node_;
                node_leaves_.assign(first, first + gpus_per_node_);
                std::sort(node_leaves_.begin(), node_leaves_.end(), by_component);
                node_leaves_.erase(std::unique(node_leaves_.begin(), node_leaves_.end()), node_leaves_.end());
                leaves_node_ = node_;
            }
            const VertexId own = geometry_.nic_leaf[static_cast<std::size_t>(node_ * gpus_per_node_ + local_)];
            const int by_own = local_distance({VertexKind::nic, local_}, {VertexKind::gpu, local_}) + 1;
            const int by_other = local_distance({VertexKind::nic, local_ == 0 ? 1 : 0}, {VertexKind::gpu, local_}) + 1;
            for (const VertexId leaf : node_leaves_) via.emplace_back(leaf, leaf == own ? by_own : by_other);
        } else if (!geometry_.nic_leaf.empty()) {
            for (int j = 0; j < gpus_per_node_; ++j) {
                const VertexId leaf = geometry_.nic_leaf[static_cast<std::size_t>(node_ * gpus_per_node_ + j)];
                const int c = local_distance({VertexKind::nic, j}, {VertexKind::gpu, local_}) + 1;
                auto same = std::find_if(via.begin(), via.end(), [&](const auto& e) { return e.first == leaf; });
                if (same == via.end()) via.emplace_back(leaf, c);
                else same->second = std::min(same->second, c);
            }
            std::sort(via.begin(), via.end(), [&](const auto& a, const auto& b) { return by_component(a.first, b.first); });
        }
        auto it = memos_.find(via);
        if (it == memos_.end()) {
            const std::size_t bytes = geometry_.switches.size();
            if (memo_bytes_ + bytes > (std::size_t{64} << 20)) {
                memos_.clear();
                memo_bytes_ = 0;
                std::fill(memo_of_gpu_.begin(), memo_of_gpu_.end(), nullptr);
            }
            Memo memo;
            memo.distance.assign(bytes, 0);
            memo.via_begin.assign(static_cast<std::size_t>(components_) + 1, 0);
            for (const auto& e : via) {
                ++memo.via_begin[static_cast<std::size_t>(component(e.first)) + 1];
                memo.via_min = std::min(memo.via_min, e.second);
            }
            for (std::size_t k = 0; k + 1 < memo.via_begin.size(); ++k) memo.via_begin[k + 1] += memo.via_begin[k];
            it = memos_.emplace(via, std::move(memo)).first;
            memo_bytes_ += bytes;
        }
        found = &*it;  // unordered_map nodes stay put until erased
        memo_of_gpu_[dst] = found;
    }
    via_ = &found->first;
    via_begin_ = found->second.via_begin.data();
    via_min_ = found->second.via_min;
    memo_ = found->second.distance.data();
    ++exits_stamp_;  // a node's exits depend on the destination's leaves (from_switch)
}

const StructuralDistance::NodeExits& StructuralDistance::exits_of(int node) {
    if (exits_.empty()) exits_.resize(topology_.gpus().size() / static_cast<std::size_t>(gpus_per_node_) + 1);
    NodeExits& e = exits_[static_cast<std::size_t>(node)];
    if (e.stamp == exits_stamp_ && exits_stamp_ != 0) return e;
    e = NodeExits{};
    e.stamp = exits_stamp_;
    const std::size_t first = static_cast<std::size_t>(node) * static_cast<std::size_t>(gpus_per_node_);
    for (int j = 0; j < gpus_per_node_; ++j) {
        const int c = from_switch(geometry_.nic_leaf[first + static_cast<std::size_t>(j)]);
        if (c < e.least) {
            e.second = e.least;
            e.least = static_cast<std::uint8_t>(c);
            e.at = j;
        } else if (c < e.second) {
            e.second = static_cast<std::uint8_t>(c);
        }
    }
    return e;
}

int StructuralDistance::local_distance(Position a, Position b) {
    if (a.kind == b.kind && a.local == b.local) return 0;
    if (a.kind == VertexKind::nvswitch) std::swap(a, b);  // the NVSwitch second
    if (a.kind == VertexKind::nic && b.kind == VertexKind::gpu) std::swap(a, b);  // a GPU before a NIC
    if (a.kind == VertexKind::gpu) {
        if (b.kind == VertexKind::nvswitch) return 1;
        if (b.kind == VertexKind::gpu) return 2;
        return a.local == b.local ? 1 : 3;  // its own NIC, or through the NVSwitch and the other GPU
    }
    return b.kind == VertexKind::nvswitch ? 2 : 4;  // NIC–NVSwitch, NIC–NIC
}

int StructuralDistance::to_leaf(VertexId u, VertexId leaf) const {
    if (u == leaf) return 0;
    const FabricGeometry::Place& a = geometry_.switches[u - geometry_.first_switch];
    const FabricGeometry::Place& b = geometry_.switches[leaf - geometry_.first_switch];
    if (a.component != b.component) return kFar;
    if (!geometry_.three_tier) return a.tier == 0 ? 2 : 1;  // another leaf through a spine; a spine is cabled to it
    // Three tiers: leaf (0) – aggregation switch (1) – core (2). A pod's leaves are cabled to every aggregation
    // switch of the pod, and aggregation switch j of every pod to every core of group j.
    if (a.tier == 0) return a.pod == b.pod ? 2 : 4;  // through an aggregation switch, or up to a core and down
    if (a.tier == 1) return a.pod == b.pod ? 1 : 3;  // cabled, or through a core to the leaf's pod
    return 2;                                         // a core: down to the leaf's pod and to the leaf
}

int StructuralDistance::fill_switch(std::size_t s) {
    const VertexId u = first_switch_ + s;
    int best = kFar;
    const auto k = static_cast<std::size_t>(geometry_.switches[s].component);
    for (std::uint32_t i = via_begin_[k]; i < via_begin_[k + 1]; ++i) {
        best = std::min(best, to_leaf(u, (*via_)[i].first) + (*via_)[i].second);
    }
    best = std::min(best, kFar);
    assert(best >= 2);
    memo_[s] = static_cast<std::uint8_t>(best);
    return best;
}

std::uint8_t StructuralDistance::node_distance(VertexId v) {
    const NodeVertex info = nodes_[v];
    const Position here{static_cast<VertexKind>(info.kind), info.local};
    int best = info.node == node_ ? local_distance(here, {VertexKind::gpu, local_}) : kFar;
    if (geometry_.nic_leaf.empty()) return static_cast<std::uint8_t>(best);
    const std::size_t first = static_cast<std::size_t>(info.node) * static_cast<std::size_t>(gpus_per_node_);
    // Leave by the vertex's own NIC first (the cheapest exit of a GPU or NIC); the others cost the same as each
    // other and are tried only when they could still be shorter (their exit cost + the least c_j).
    int others = 3;  // the NVSwitch: every NIC at 2, its leaf at 3
    if (here.local >= 0) {
        const int own = here.kind == VertexKind::nic ? 1 : 2;
        best = std::min(best, own + from_switch(geometry_.nic_leaf[first + static_cast<std::size_t>(here.local)]));
        others = here.kind == VertexKind::nic ? 5 : 4;
    }
    if (others + via_min_ < best) {
        if (gpus_per_node_ >= kWideNode) {
            // The least exit over the node's NICs other than the vertex's own: the second least where its own NIC
            // gives the least (ties leave second = least).
            const NodeExits& e = exits_of(info.node);
            best = std::min(best, others + (here.local >= 0 && e.at == here.local ? e.second : e.least));
        } else {
            for (int j = 0; j < gpus_per_node_; ++j) {
                if (j == here.local) continue;
                best = std::min(best, others + from_switch(geometry_.nic_leaf[first + static_cast<std::size_t>(j)]));
            }
        }
    }
    return static_cast<std::uint8_t>(std::min(best, kFar));
}

}  // namespace gpuhours::detail
