// StepCache: simulate_step by specification, each distinct specification simulated once
// (include/gpuhours/training/step.hpp).
#include "step_builder.hpp"

#include <algorithm>
#include <exception>
#include <functional>
#include <future>

namespace gpuhours {

struct StepCache::Entry {
    StepSpec spec;
    std::shared_future<StepResult> result;
};

namespace {

void mix(std::size_t& h, std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); }

// A hash of the fields that tell specifications apart most often; equality decides.
std::size_t bucket_of(const StepSpec& s) {
    std::size_t h = 0;
    const ParallelLayout& l = s.layout;
    for (const int v : {l.tensor, l.pipeline, l.data, l.expert, l.context, l.micro_batch, l.virtual_stages, l.zero_stage, l.prefetch, l.shard_group,
                        static_cast<int>(l.schedule), static_cast<int>(l.recompute), s.sequence_length, s.global_batch,
                        s.cluster.gpus, s.model.layers, s.model.hidden, static_cast<int>(s.mode), static_cast<int>(s.network)}) {
        mix(h, static_cast<std::size_t>(v));
    }
    mix(h, static_cast<std::size_t>(l.gradient_bucket));
    mix(h, std::hash<std::string>{}(s.cluster.chip.id));
    mix(h, std::hash<double>{}(s.cluster.chip.efficiency.gemm));
    mix(h, std::hash<double>{}(s.cluster.chip.efficiency.fp8_gemm(s.precision.fp8_recipe)));
    mix(h, static_cast<std::size_t>(s.precision.fp8_recipe));
    return h;
}

// Whether the result simulated for `cached` answers `wanted`: the same specification, or one that differs only in
// recording the trace (the trace observes the engine and changes no figure; it is dropped from the answer).
bool answers(const StepSpec& cached, const StepSpec& wanted) {
    if (cached.record_trace == wanted.record_trace) return cached == wanted;
    if (!cached.record_trace) return false;
    StepSpec untraced = cached;
    untraced.record_trace = false;
    return untraced == wanted;
}

}  // namespace

ParallelLayout CommTimeCache::Table::placement_of(const ParallelLayout& layout, bool dense) {
    ParallelLayout p;
    p.tensor = layout.tensor;
    p.context = layout.context;
    p.data = layout.data;
    p.pipeline = layout.pipeline;
    // Placement::rank_of and the dense groups read the tensor, context, data and pipeline degrees and the order's
    // dense dimensions; only the expert groups read the expert degrees (placement.cpp).
    p.expert = dense ? 1 : layout.expert;
    p.expert_tensor = dense ? layout.tensor : layout.expert_tensor_degree();
    p.order = layout.order;
    p.shard_group = layout.dense_shard_ranks();
    return p;
}

CommTimeCache::Table::Graph::Graph(const Topology& t)
    : links(t.link_records()), link_specs(t.link_specs()), gpus(t.gpus()), gpus_per_node(t.gpus_per_node()), fabric(t.fabric) {
    vertices.reserve(t.vertex_count());
    for (VertexId v = 0; v < t.vertex_count(); ++v) vertices.push_back(t.vertex(v));
}

std::shared_ptr<CommTimeCache::Table> CommTimeCache::table_for(const StepSpec& spec, const Topology& topology) {
    return tables_for(spec, topology).all;
}

namespace {

// Whether two topologies are the same to everything that reads one (the network, the router, the planners).
bool same_topology(const Topology& a, const Topology& b) {
    if (a.vertex_count() != b.vertex_count() || a.link_records() != b.link_records() || a.link_specs() != b.link_specs() || a.gpus() != b.gpus() ||
        a.gpus_per_node() != b.gpus_per_node() || a.fabric != b.fabric) {
        return false;
    }
    for (VertexId v = 0; v < a.vertex_count(); ++v) {
        if (!(a.vertex(v) == b.vertex(v))) return false;
    }
    for (std::size_t g = 0; g < a.gpus().size(); ++g) {
        if (a.destination_key(static_cast<int>(g)) != b.destination_key(static_cast<int>(g))) return false;
    }
    const FabricGeometry* x = a.geometry();
    const FabricGeometry* y = b.geometry();
    if ((x == nullptr) != (y == nullptr)) return false;
    if (x == nullptr) return true;
    if (x->three_tier != y->three_tier || x->uniform_two_tier != y->uniform_two_tier || x->nic_leaf != y->nic_leaf ||
        x->first_switch != y->first_switch ||
        x->switches.size() != y->switches.size()) {
        return false;
    }
    for (std::size_t i = 0; i < x->switches.size(); ++i) {
        const FabricGeometry::Place& p = x->switches[i];
        const FabricGeometry::Place& q = y->switches[i];
        if (p.component != q.component || p.tier != q.tier || p.pod != q.pod || p.slot != q.slot) return false;
    }
    return true;
}

}  // namespace

std::shared_ptr<const Topology> CommTimeCache::topology_for(const ClusterSpec& cluster) {
    const auto use = [&](std::size_t i) {  // the most recently used last
        std::rotate(built_.begin() + static_cast<std::ptrdiff_t>(i), built_.begin() + static_cast<std::ptrdiff_t>(i) + 1, built_.end());
        return built_.back().topology;
    };
    {
        std::lock_guard lock(mutex_);
        for (std::size_t i = built_.size(); i-- > 0;) {
            const auto& c = built_[i].clusters;
            if (std::find(c.begin(), c.end(), cluster) != c.end()) return use(i);
        }
    }
    auto topology = std::make_shared<const Topology>(build_topology(cluster));  // outside the lock: steps build in parallel
    std::lock_guard lock(mutex_);
    for (std::size_t i = built_.size(); i-- > 0;) {
        if (!same_topology(*built_[i].topology, *topology)) continue;
        auto& c = built_[i].clusters;
        if (c.size() >= kMaxBuilt) c.erase(c.begin());
        c.push_back(cluster);
        return use(i);
    }
    (void)topology->adjacency();  // before any other thread can read it
    if (built_.size() >= kMaxBuilt) built_.erase(built_.begin());
    built_.push_back(Built{{cluster}, topology, nullptr, {}});
    return topology;
}

std::shared_ptr<const NodeTranslation> CommTimeCache::node_translation(const Topology& topology, int node_shift) {
    const auto kept = [&]() -> Built* {
        for (Built& b : built_) {
            if (b.topology.get() == &topology) return &b;
        }
        return nullptr;
    };
    {
        std::lock_guard lock(mutex_);
        if (Built* b = kept()) {
            for (const auto& [shift, proof] : b->shifts) {
                if (shift == node_shift) return proof;
            }
        }
    }
    std::shared_ptr<const NodeTranslation> proof;
    if (auto proven = NodeTranslation::prove(topology, node_shift)) {  // outside the lock
        proof = std::make_shared<const NodeTranslation>(std::move(*proven));
    }
    std::lock_guard lock(mutex_);
    if (Built* b = kept()) b->shifts.emplace_back(node_shift, proof);
    return proof;
}

CommTimeCache::Tables CommTimeCache::tables_for(const StepSpec& spec, const Topology& topology) {
    std::shared_ptr<const Table::Graph> graph;
    {
        std::lock_guard lock(mutex_);
        for (const Built& b : built_) {
            if (b.topology.get() == &topology && b.graph) graph = std::static_pointer_cast<const Table::Graph>(b.graph);
        }
    }
    const bool known = graph != nullptr;
    if (!known) graph = std::make_shared<const Table::Graph>(topology);
    std::lock_guard lock(mutex_);
    if (!known) {
        for (const auto& first : topologies_) {
            if (*first->graph == *graph) graph = first->graph;
        }
        for (Built& b : built_) {
            if (b.topology.get() == &topology) b.graph = graph;
        }
    }
    const auto find_or_add = [&](const ParallelLayout& placement) {
        for (const auto& t : tables_) {
            if (t->graph == graph && t->network == spec.network && t->placement == placement) return t;
        }
        if (tables_.size() >= kMaxTables || topologies_.size() >= kMaxTopologies) {
            tables_.clear();  // steps running keep theirs
            topologies_.clear();
        }
        auto table = std::make_shared<Table>();
        table->graph = graph;
        table->network = spec.network;
        table->placement = placement;
        tables_.push_back(table);
        if (std::none_of(topologies_.begin(), topologies_.end(), [&](const auto& t) { return t->graph == graph; })) {
            topologies_.push_back(table);
        }
        return table;
    };
    Tables out;
    out.all = find_or_add(Table::placement_of(spec.layout));
    out.dense = find_or_add(Table::placement_of(spec.layout, true));
    return out;
}

StepResult StepCache::simulate(const StepSpec& spec) {
    const std::size_t bucket = bucket_of(spec);
    std::promise<StepResult> promise;
    {
        std::unique_lock lock(mutex_);
        const auto [first, last] = entries_.equal_range(bucket);
        for (auto it = first; it != last; ++it) {
            if (answers(it->second->spec, spec)) {
                ++counts_.reused;
                const std::shared_future<StepResult> result = it->second->result;
                lock.unlock();
                StepResult out = result.get();  // waits when another thread is still simulating it; rethrows its Error
                if (!spec.record_trace) out.trace.clear();
                return out;
            }
        }
        ++counts_.simulated;
        entries_.emplace(bucket, std::make_shared<Entry>(Entry{spec, promise.get_future().share()}));
    }
    try {
        StepResult result = simulate_step(spec, &comm_times_);
        promise.set_value(result);
        return result;
    } catch (...) {
        promise.set_exception(std::current_exception());
        throw;
    }
}

StepCache::Counts StepCache::counts() const {
    std::lock_guard lock(mutex_);
    return counts_;
}

}  // namespace gpuhours
