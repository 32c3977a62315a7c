// The step builder: one training step (step.hpp) turned into a task graph on the engine, run, and summed up.
// Internal to the training layer. Its parts, each in its own source:
// - step.cpp: setup (batch checks, pipeline plan, simulated ranks) and the step's flow, `run`;
// - step_passes.cpp: per-chunk pass templates (compute, recompute and collective segments of each pass kind);
// - step_collectives.cpp: collective and pipeline-send timing on the network (symmetric mode, cached);
// - step_tasks.cpp: engine tasks of each pipeline op's passes, in dependency order, with their p2p transfers;
// - step_sync.cpp: data-parallel gradient reduction of each chunk, the optimizer step, ZeRO's parameter gather;
// - step_breakdown.cpp: the breakdown per GPU and stage, the trace, FLOPs and utilisation, memory.
#pragma once

#include <gpuhours/engine/engine.hpp>
#include <gpuhours/engine/processor_sharing.hpp>
#include <gpuhours/hardware/topology.hpp>
#include <gpuhours/network/automorphism.hpp>
#include <gpuhours/network/collective.hpp>
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/training/placement.hpp>
#include <gpuhours/training/schedule.hpp>
#include <gpuhours/training/step.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gpuhours::detail {

inline std::size_t axis_index(CommAxis a) { return static_cast<std::size_t>(a); }

inline SimTime to_sim(Seconds s) { return SimTime::from_seconds(s); }

// A collective a segment of a pass needs: which group, what, how big (nccl-tests size convention).
struct CommSpec {
    CollectiveKind kind = CollectiveKind::all_reduce;
    GroupKind group = GroupKind::tensor;
    Bytes size;  // what each rank sends (an expert all-to-all: after DeepEP's merge, S × node_merge)
    CommAxis axis = CommAxis::tensor;
    // > 0: an expert all-to-all run as DeepEP runs it (CollectiveAlgorithm::node_forwarded) with this node merge
    // (the dispatch factor; 1 inside one node) and GPU merge (gpu_merge, step_passes.cpp); 0: the collective as
    // NCCL runs it.
    double node_merge = 0.0;
    double gpu_merge = 1.0;
};

// compute, recompute: on the compute stream, in the pass's chain. comm: a collective on the communication stream,
// in the chain (the next segment waits for it). dp_comm: a collective on the data-parallel stream issued when the
// chain reaches it, which the chain does not wait for (a ZeRO-3 parameter prefetch or gradient reduce-scatter, a
// gradient bucket's reduction); wait: the chain waits for the pass's dp_comm of `slot`.
// comm: a collective the chain waits for; comm_async: one launched on the communication stream beside the chain's
// next segments (tensor-parallel overlap), awaited by a later `wait` of the same slot; dp_comm: a data-parallel
// collective on a stream of its own (a ZeRO-3 gather awaited by a wait, or a gradient reduction awaited by the
// optimizer).
enum class SegmentKind { compute, recompute, comm, comm_async, dp_comm, wait };

struct Segment {
    SegmentKind kind = SegmentKind::compute;
    SimTime duration;  // compute, recompute
    CommSpec comm;     // comm, dp_comm
    std::string label;
    // dp_comm, wait: the unit whose parameters are gathered (a wait names the gather it needs); a dp_comm with
    // slot -1 reduces gradients and is awaited only by the optimizer. comm_async and its wait: a slot below -1.
    int slot = -1;
    // dp_comm: issued when the step starts (the previous step's optimizer done: overlap_param_gather's all-gathers)
    // instead of after the chain's tasks so far.
    bool at_step_start = false;
    // comm, dp_comm in symmetric mode: the collective's time on stage `timed_stage` once add_segment has asked
    // symmetric_time for it (-1: not yet). A pass template serves every micro-batch of its chunk, so each later
    // use reads it back instead of looking the collective up again.
    mutable int timed_stage = -1;
    mutable SimTime timed{};
};

using Segments = std::vector<Segment>;

}  // namespace gpuhours::detail

namespace gpuhours {

// One placement's times (step.hpp, CommTimeCache). Keys as StepBuilder's own caches: collectives by (kind, size in
// bytes, group kind, stage, node merge, GPU merge), sends by (from stage, to stage, bytes).
struct CommTimeCache::Table {
    using CollectiveKey = std::tuple<int, double, int, int, double, double>;
    using SendKey = std::tuple<int, int, double>;
    // A topology as the network sees it: every vertex and link with its properties, in order, and the GPUs.
    struct Graph {
        std::vector<VertexInfo> vertices;
        std::vector<LinkRecord> links;     // Topology::link_records()
        std::vector<LinkSpec> link_specs;  // Topology::link_specs()
        std::vector<VertexId> gpus;
        int gpus_per_node = 0;
        std::string fabric;
        explicit Graph(const Topology& t);
        friend bool operator==(const Graph&, const Graph&) = default;
    };
    std::shared_ptr<const Graph> graph;
    NetworkKind network = NetworkKind::flow;
    ParallelLayout placement;  // the fields Placement reads (others reset to their defaults)
    std::mutex mutex;
    std::map<CollectiveKey, SimTime> collectives;
    std::map<SendKey, SimTime> sends;

    // The layout's fields that decide which ranks form each group; `dense`: each group without experts and the
    // pipeline sends (the expert degrees reset: expert 1, expert_tensor the tensor degree).
    static ParallelLayout placement_of(const ParallelLayout& layout, bool dense = false);
    template <class Key>
    std::optional<SimTime> find(const std::map<Key, SimTime>& times, const Key& key) {
        std::lock_guard lock(mutex);
        const auto it = times.find(key);
        return it == times.end() ? std::nullopt : std::optional<SimTime>(it->second);
    }
    template <class Key>
    void keep(std::map<Key, SimTime>& times, const Key& key, SimTime t) {
        std::lock_guard lock(mutex);
        times.emplace(key, t);
    }
};

}  // namespace gpuhours

namespace gpuhours::detail {

// What kind of task a task id is, for the breakdown and the trace.
// dp_comm: ZeRO-3 parameter gathers, on the data-parallel stream; dp_reduce: gradient reduce-scatters and
// all-reduces (ZeRO-3's per unit, gradient buckets), on the data-parallel reduction stream.
enum class TaskRole { compute, recompute, optimizer, comm, p2p, dp_comm, dp_reduce };

// Which simulated ranks a task belongs to: none, one, or (a full-mode group collective) every member of a group
// kept in StepBuilder::task_groups_.
struct TaskInfo {
    TaskRole role = TaskRole::compute;
    CommAxis axis = CommAxis::tensor;
    int rank = -1;   // the one rank, or -1
    int group = -1;  // index in task_groups_, or -1
    int from_stage = -1;  // a p2p transfer: the stage it comes from; -1 otherwise
    int run = -1;         // a run of segments added as one task (StepBuilder::add_run): its index in runs_; -1 otherwise
};

// The share of a token's expert copies the expert all-to-all carries under `dispatcher` (step_passes.cpp).
double dispatch_factor(const ModelSpec& model, const Placement& placement, int gpus_per_node, MoeDispatcher dispatcher);
// The share of a token's copies to one GPU of the expert group left when DeepEP sends it once per GPU (step_passes.cpp).
double gpu_merge(const ModelSpec& model, const Placement& placement, int gpus_per_node, MoeDispatcher dispatcher);

class StepBuilder {
public:
    StepBuilder(const StepSpec& spec, CommTimeCache* comm_times);

    StepResult run();

private:
    // The four pass kinds of one model chunk: forward, full backward, backward-input, backward-weight.
    struct ChunkPasses {
        Segments forward, backward, backward_input, weight;
        // The backward and weight passes that complete the chunk's gradients in a step: with their gradient
        // buckets' reductions (ZeRO 0–2 with overlap_gradient_reduce; the same as backward and weight otherwise).
        Segments backward_reduce, weight_reduce;
        // The step's first forward of the chunk on its stage under ParallelLayout::param_gather_overlaps(): the
        // units' parameter all-gathers issued at the step's start, the forward waiting for them.
        Segments forward_gather;
        // (no) ZeRO-3: the chunk's units' segments per pass, in the chunk's forward order.
        std::vector<Segments> unit_forward, unit_backward, unit_backward_input, unit_weight;
        std::vector<std::pair<double, double>> unit_parameters;  // per unit: (dense, routed-expert) on this GPU
        std::vector<std::pair<double, double>> unit_fp8;         // per unit: of those, the FP8 GEMMs' weights
        std::vector<std::string> unit_names;                     // per unit: "embedding", "dense-layer 3", …
        bool holds_head = false;                                 // the model's last chunk (its last unit: the head)
        double dense_parameters = 0.0;   // this GPU's parameters in the chunk, excluding routed experts
        double expert_parameters = 0.0;  // routed-expert parameters on this GPU
        Flops recompute_flops;
    };

    // Per stage and pass slot (0 = main pass, 1 = overlapped pass), each rank's last task of that pass.
    struct Added {
        std::vector<TaskId> ends[2];
    };

    // Per stage: the op index after which each local chunk's gradients are complete → that local chunk.
    using SyncPoints = std::vector<std::multimap<int, int>>;

    // ---- per-chunk pass templates (step_passes.cpp) -----------------------------------------------------
    std::vector<const Block*> chunk_blocks(int chunk) const;
    std::optional<CommSpec> comm_spec(const Communication& c, bool backward) const;
    // Appends to `out`, as collectives the chain waits for, the `before` (else `after`) collectives of `ops` (the
    // shared experts' own, under shared-expert overlap), forward or backward.
    void append_collectives(Segments& out, const std::vector<const Op*>& ops, bool before, bool backward) const;
    Seconds materialized_attention(const Op& op) const;
    ChunkPasses make_chunk(int chunk) const;
    // One block's forward and backward segments (step_passes.cpp); `next_slot` numbers overlapped collectives.
    Segments forward_segments(const Block& block, const std::string& name, int& next_slot) const;
    // A block's pass of `kernels` kernels that keep the GPU busy for `busy`: when the host needs longer to launch
    // them (kernels × launch_host_), the stream waits for the difference, put before the pass's first kernel.
    void launch_bound(Segments& pass, SimTime busy, int kernels, const std::string& name) const;
    Segments backward_segments(const Block& block, const Segments& fwd, const std::string& name, bool with_weight,
                               int& next_slot) const;
    void assemble_passes(ChunkPasses& c) const;
    std::vector<Segment> shard_collectives(const ChunkPasses& c, std::size_t unit, bool gradients) const;
    // Bytes of an all-gather of `parameters` of which `fp8` are FP8 GEMMs' weights: the parameters' format, the
    // FP8 weights at 1 B under MixedPrecision::fp8_param_gather.
    [[nodiscard]] double param_gather_bytes(double parameters, double fp8) const;
    const ChunkPasses& chunk(int c);
    // `reduce`: the variant that completes the chunk's gradients (ChunkPasses::backward_reduce, weight_reduce);
    // `first`: the step's first forward of the chunk on the stage (ChunkPasses::forward_gather where it applies).
    const Segments& segments(int stage, const Pass& pass, bool reduce = false, bool first = false);
    std::vector<Segment> bucket_collectives(double& pending_dense, double& pending_expert, bool flush) const;
    [[nodiscard]] bool buckets_overlap() const;

    // ---- collective and p2p timing (step_collectives.cpp) -----------------------------------------------
    std::vector<VertexId> vertices(const std::vector<int>& ranks) const;
    bool spans_nodes(const std::vector<int>& ranks) const;
    // Every rank of pipeline stage `stage`, in increasing order (symmetric mode times a collective with all of
    // them); kept per stage.
    const std::vector<int>& all_ranks_of_stage(int stage);
    // The same ranks by (tensor, context, data) coordinates, unsorted: stage s's i-th is stage t's i-th moved.
    std::vector<int> ranks_by_coordinates(int stage) const;
    // Whether u_i ↦ w_i keeps which GPUs share a node: node(u_i) ↦ node(w_i) a function and one-to-one.
    bool keeps_nodes(std::span<const VertexId> u, std::span<const VertexId> w) const;
    // The request for `c` on `ranks` (a node-forwarded all-to-all: the unmerged size, its merge and algorithm), and
    // the algorithms `c` may be planned with (node-forwarded alone for one, supported_algorithms otherwise).
    static CollectiveRequest request_for(const CommSpec& c, std::vector<VertexId> ranks);
    static std::vector<CollectiveAlgorithm> algorithms_for(const CommSpec& c);
    SimTime symmetric_time(const CommSpec& c, int rank);
    SimTime p2p_time(int from_stage, int to_stage, Bytes bytes);
    Bytes activation_bytes() const;
    CollectiveAlgorithm algorithm_for(const CollectiveRequest& request, const std::vector<int>& group);
    void time_collectives();

    // ---- stage translation (step_translation.cpp) -------------------------------------------------------
    // What a symmetric_time answer depends on besides the collective: the representative group, then (when it
    // crosses nodes) every group of its kind in the stage, in the order symmetric_time plans them; as GPU vertices.
    struct CommGroups {
        std::vector<VertexId> vertices;
        std::vector<std::uint32_t> offsets{0};  // group i: vertices[offsets[i] .. offsets[i + 1])
        bool crosses = false;                   // the representative spans nodes (the stage's groups follow)
        std::optional<std::vector<int>> copies;  // leaf_local_copies of them, when they cross (comm_groups)
        void add(const std::vector<VertexId>& group);
        [[nodiscard]] std::size_t size() const { return offsets.size() - 1; }
        [[nodiscard]] std::vector<VertexId> at(std::size_t i) const {
            return {vertices.begin() + offsets[i], vertices.begin() + offsets[i + 1]};
        }
    };
    // comm_groups lists them once per (group kind, rank) and keeps them (with their copies pattern); list_groups
    // lists them.
    CommGroups comm_groups(const CommSpec& c, int rank);
    CommGroups list_groups(const CommSpec& c, int rank);
    // A stage's place among the stages: its class's canonical stage c (the first stage found alike) and the
    // automorphism swapping c's GPUs with its own, rank by rank of equal (tensor, context, data) coordinates.
    struct StageImage {
        int canonical = -1;  // -1: not yet proven
        Automorphism map;    // identity for a canonical stage
    };
    const StageImage& stage_image(int stage);
    // The time of `c` when the stage's groups are proven link-disjoint copies of the representative from the
    // fabric's structure (leaf_local_copies, network/automorphism.hpp): the representative's time alone with its best
    // algorithm, which the merged plans of every group would give; kept by the representative's pattern, so one
    // timing answers every stage (counted in stage_translations). nullopt otherwise, and with the translation off.
    std::optional<SimTime> copies_time(const CommSpec& c, const CommGroups& groups);
    // The time of `c` at `stage` carried from the same collective timed at another stage of its class, when the
    // groups map and the routing's choices do (step_translation.cpp has the argument); nullopt otherwise.
    std::optional<SimTime> translated_time(const CommSpec& c, int stage, const CommGroups& groups);
    // `algorithm`: the one the stage's groups were planned with (symmetric_time).
    void remember_translation(const CommSpec& c, int stage, CommGroups groups, CollectiveAlgorithm algorithm, SimTime time);
    struct Timed {  // a symmetric_time answer kept for translation
        SimTime time;
        int stage = 0;
        CommGroups groups;
        std::size_t log = 0;  // choice_logs_ index + 1 (0: not routed yet)
        CommSpec comm;
        CollectiveAlgorithm algorithm = CollectiveAlgorithm::ring;  // the stage's groups' (groups 1, 2, …)
        bool loggable = true;  // false: kept for stage_shift alone (a stage or pair set too large to log and check)
        bool exact = false;    // phases_exact over the representative: stage_shift may carry it
    };
    // Whether every phase that timing `c` over `group` runs (each plan of each algorithm tried) has at most
    // MaxMinNetwork::kExactFlowLimit flows. Above it the network answers with a congestion bound whose near-ties go
    // by link id, or (an all-to-all) with routing trees summed in an order of vertices, neither of which a
    // translation keeps to the last bit; below it the max-min answer is a function of the phase's canonical form.
    // The count does not depend on the size, so the answer holds for every size over the same group.
    bool phases_exact(const CommSpec& c, const std::vector<VertexId>& group);
    // A translation whose powers include the shift by one pipeline stage's nodes (NodeTranslation,
    // network/automorphism.hpp), proven at the first call: the shift by one leaf's nodes when a stage is several
    // whole leaves (the network then also answers a stage-wide phase from one leaf's flows,
    // MaxMinNetwork::use_translation), else by the stage's. Null when the stages are not whole nodes or the proof
    // fails, and with the translation off.
    const NodeTranslation* stage_shift();
    // The time of the pipeline sends `flows` (one phase): carried from sends timed earlier that they are a
    // translation of (stage_shift), else run on the network and kept for the next ones.
    SimTime sends_time(std::span<const FlowSpec> flows);
    // When `groups` are, under stage_shift, the groups of a stage where a collective of c's kind and group kind was
    // timed at another size: replaces them by those and returns that stage. Timing c there gives the answer it has
    // here (the translation carries every plan, route and phase), and finds the phases' routings kept from that
    // timing (PhaseMemo::earlier) instead of routing them. nullopt (groups unchanged) otherwise.
    std::optional<int> move_to_timed_stage(const CommSpec& c, CommGroups& groups);
    std::optional<std::vector<std::uint64_t>> routed_pairs(const Timed& timed) const;
    Router::ChoiceLog route_logged(std::span<const std::uint64_t> pairs);
    bool carries(Timed& timed, int stage, const Automorphism& first, const Automorphism& then);
    AutomorphismProver& prover();

    // ---- task creation (step_tasks.cpp) -----------------------------------------------------------------
    // An engine task and its role; `rank` -1 for a task of no rank (a pass's end marker).
    TaskId add(TaskSpec spec, TaskRole role, CommAxis axis, int rank);
    // The same for a fixed-duration task, its dependencies read from `after` (no TaskSpec, no vector moved).
    TaskId add_fixed(std::span<const TaskId> after, std::optional<ResourceId> resource, SimTime duration,
                     std::string_view name, TaskRole role, CommAxis axis, int rank);
    // A simulated rank's index in simulated_ (the per-rank tables below are indexed by it).
    [[nodiscard]] std::size_t slot_of(int rank) const { return static_cast<std::size_t>(dense_[static_cast<std::size_t>(rank)]); }
    void set_info(TaskId id, TaskInfo info);
    std::span<const int> ranks_of(const TaskInfo& info) const;
    // The last task of one stream per simulated rank (by dense index), or none.
    using Stream = std::vector<std::optional<TaskId>>;
    void add_segment(int stage, const Segment& seg, const std::string& label, std::vector<std::vector<TaskId>>& after,
                     Stream* stream = nullptr);
    // Per simulated rank of the stage, the tasks of each issued dp_comm slot of a pass.
    using Issued = std::map<int, std::vector<std::vector<TaskId>>>;
    void add_dp_segment(int stage, const Segment& seg, const std::string& label,
                           const std::vector<std::vector<TaskId>>& after, Issued& issued);
    std::vector<TaskId> add_p2p(int from_stage, int to_stage, const std::vector<TaskId>& producer_ends,
                                const std::string& label);
    // Symmetric mode, a pass alone on its streams, no trace: the run of compute, recompute and comm segments of
    // `segs` from index `k`, added as few tasks as keep it exact; returns the index past the run (step_tasks.cpp).
    std::size_t add_run(int stage, const Segments& segs, std::size_t k, std::vector<std::vector<TaskId>>& after);
    // Segments [a, b) of a run as one task on each rank of `stage` (add_run).
    void add_merged(int stage, const Segments& segs, std::size_t a, std::size_t b, std::vector<std::vector<TaskId>>& after);
    void add_op(OpRef ref, const std::multimap<int, int>& sync_after);
    void add_pipeline_ops(const SyncPoints& sync_after);

    // ---- data-parallel sync and optimizer (step_sync.cpp) -----------------------------------------------
    SyncPoints gradient_sync_points() const;
    void add_gradient_sync(OpRef ref, const std::multimap<int, int>& sync_after);
    void sync_after_all(int stage, int local_chunk);
    void add_data_parallel_sync(int stage, int local_chunk, const std::vector<TaskId>& after_ends);
    void add_optimizer(int stage);
    // The parameters of `dense` dense and `expert` expert ones a rank holds once the data-parallel reduction is done:
    // all without ZeRO, else its shard (dense over ParallelLayout::dense_shard_ranks(), the shard group under hybrid
    // sharding; expert over the expert-data ranks).
    [[nodiscard]] double reduced_locally(double dense, double expert) const;
    // A collective's plan with its flows' ends as positions in the group it was planned for (symmetric_time).
    struct PlanTemplate {
        CollectivePlan plan;
        std::vector<std::vector<std::uint32_t>> positions;  // per phase: each flow's source and destination, or the ranks
        static std::optional<PlanTemplate> of(const CollectivePlan& plan, std::span<const VertexId> ranks);
        [[nodiscard]] CollectivePlan instance(std::span<const VertexId> ranks) const;
    };
    [[nodiscard]] std::vector<std::uint32_t> node_pattern(std::span<const VertexId> ranks) const;
    void add_mirror_sync();

    // ---- breakdown, trace, FLOPs (step_breakdown.cpp) ---------------------------------------------------
    StepResult collect(SimTime makespan);
    // Per simulated rank, by dense index.
    std::vector<StepBreakdown> rank_breakdowns(SimTime makespan, std::vector<TraceEvent>& trace);
    void add_flops(StepResult& result);

    const StepSpec& spec_;
    ParallelLayout layout_;
    Placement placement_;
    CommTimeCache* comm_times_ = nullptr;  // kept across steps (null: none)
    std::shared_ptr<const Topology> built_topology_;  // shared with the steps of one CommTimeCache (topology_for)
    const Topology& topology_;
    std::unique_ptr<NetworkModel> network_;
    KernelContext kernel_;
    KernelContext kernel_overlap_;  // the GEMMs beside an overlapped tensor-parallel collective: fewer SMs
    // time_op(op, kernel_ or kernel_overlap_), kept by the op's timing inputs (kind, FLOPs, bytes, GEMM shape) and
    // the context: every layer of a kind has the same ops, each timed in the forward, both backward passes and the
    // weight gradient (issue #13). Other contexts are not kept.
    struct OpTimeKeyHash {
        std::size_t operator()(const std::array<std::uint64_t, 17>& k) const;
    };
    mutable std::unordered_map<std::array<std::uint64_t, 17>, OpTime, OpTimeKeyHash> op_times_;
    OpTime op_time(const Op& op, const KernelContext& kernel) const;
    // A GEMM run beside an overlapped tensor-parallel collective as `chunks` kernels split along `split`
    // (gemm_chunk, training/kernel.hpp): its times are op_time of one such chunk; the caller counts the chunks.
    OpTime chunk_time(const Op& op, const KernelContext& kernel, int chunks, GemmSplit split) const;
    // Kernel launches (ChipProfile::launch_gap, launch_host): the GPU's idle time between two kernels of a
    // stream, added to each kernel; the host's time per launch (0 under CUDA graphs), which stalls a block's pass
    // when its kernels are launched more slowly than they run (launch_bound).
    SimTime launch_gap_;
    SimTime launch_host_;
    Engine engine_;
    std::unique_ptr<PipelinePlan> plan_;
    MicroBatchShape shape_;
    std::vector<Block> blocks_;
    std::vector<std::vector<int>> chunk_layers_;
    double dispatch_factor_ = 1.0;
    double gpu_merge_ = 1.0;  // gpu_merge (1 but under the deepep dispatcher)
    int micro_batches_ = 0;

    std::vector<std::vector<int>> stage_ranks_;
    std::map<int, std::vector<int>> all_stage_ranks_;  // all_ranks_of_stage
    std::vector<char> covered_;                        // symmetric_time's marks, one per rank, left all 0
    std::vector<int> simulated_;  // in increasing order
    std::vector<int> dense_;      // per rank of the cluster: its index in simulated_, or -1
    // Per simulated rank (dense index): its compute stream, the last task of its communication stream.
    std::vector<ResourceId> compute_;
    Stream last_comm_;
    // Per simulated rank: the last task of its data-parallel streams, one for parameter gathers and one for gradient
    // reductions (FSDP2 runs its all-gathers and reduce-scatters on separate CUDA streams).
    std::map<std::pair<int, int>, bool> forward_seen_;  // (stage, local chunk): its first forward added
    Stream last_dp_comm_;
    Stream last_dp_reduce_;
    // Symmetric mode under ZeRO-3: each simulated rank's data-parallel collectives, both streams, share its links as
    // processor-sharing servers (a gather beside a reduce-scatter each at half its pace, as the flows of full mode
    // share the links), two per rank: one for groups inside its node (the scale-up links), one for groups across
    // nodes (its NIC), so that a hybrid-sharded gather inside the node and its replica all-reduce across nodes do
    // not slow each other (dp_server). Null otherwise: data-parallel collectives then take their timed duration.
    std::unique_ptr<ProcessorSharing> dp_links_;
    std::map<std::pair<int, int>, std::size_t> dp_servers_;  // (GroupKind, rank) → dp_server
    std::size_t dp_server(GroupKind group, int rank);
    std::vector<std::array<Bytes, kCommAxes.size()>> volume_;  // per simulated rank: StepBreakdown::volume
    std::vector<std::vector<TaskId>> grad_sync_;  // per simulated rank: the data-parallel reductions of its chunks
    std::map<std::pair<int, int>, Added> added_;    // (stage, op index)
    std::vector<TaskInfo> info_;                 // per engine task
    // A merged task's segments (add_merged), in order: what the breakdown expands it into.
    struct RunSegment {
        SimTime duration;
        TaskRole role = TaskRole::compute;
        CommAxis axis = CommAxis::tensor;
        Bytes bytes;  // a collective's size (StepBreakdown::volume); 0 for compute
    };
    // One merged run of a pass template on a stage, shared by every micro-batch's task of it.
    struct Run {
        std::uint32_t first = 0;  // in run_segments_
        std::uint32_t count = 0;
        SimTime total;              // the merged task's duration
        bool computes = false;      // has a compute or recompute segment: holds the compute stream
        bool communicates = false;  // has a collective: the communication stream's last task
    };
    std::vector<Run> runs_;
    std::vector<RunSegment> run_segments_;
    std::map<std::tuple<const Segment*, std::size_t, int>, std::size_t> run_of_;  // (first segment, count, stage) → runs_
    std::size_t merged_away_ = 0;  // segments added inside merged tasks, less those tasks: operations − tasks
    std::vector<std::vector<int>> task_groups_;  // the groups of full-mode collective tasks
    std::map<int, ChunkPasses> chunks_;
    std::map<CommTimeCache::Table::CollectiveKey, SimTime> comm_cache_;
    // copies_time's answers by (kind, size, group kind, node merge, GPU merge, the representative's pattern).
    std::map<std::tuple<int, double, int, double, double, std::vector<int>>, SimTime> local_copies_;
    std::map<std::tuple<int, double, int, int>, CollectiveAlgorithm> algorithm_cache_;
    std::map<CommTimeCache::Table::SendKey, SimTime> p2p_cache_;
    std::shared_ptr<CommTimeCache::Table> shared_times_;  // kept across steps (null: none)
    std::shared_ptr<CommTimeCache::Table> shared_dense_times_;  // the same for sends and groups without experts
    // The table kept across steps that holds collectives of `group`'s kind (null: none).
    [[nodiscard]] CommTimeCache::Table* shared_table(GroupKind group) const;
    // Stage translation: per stage its image; the canonical stages found so far; the prover; the answers kept by
    // (kind, size, group kind); the routing choice logs by their sorted (source, destination) pairs; which (log,
    // from stage, to stage) checks held; the (kind, group kind) found not to carry.
    std::vector<StageImage> stage_images_;
    std::vector<int> canonical_stages_;
    std::unique_ptr<AutomorphismProver> prover_;
    std::map<std::tuple<int, double, int, double, double>, std::vector<Timed>> timed_;
    std::set<std::pair<int, int>> untranslatable_;
    std::vector<Router::ChoiceLog> choice_logs_;
    std::map<std::vector<std::uint64_t>, std::size_t> log_of_pairs_;  // by source × 2^32 + destination
    std::map<std::tuple<std::size_t, int, int>, bool> log_checks_;
    std::map<std::pair<int, int>, CommGroups> groups_of_;  // comm_groups by (group kind, rank)
    // list_groups' first listing of a stage's groups of each kind that crosses nodes, as ranks (group i:
    // ranks[offsets[i] .. offsets[i + 1])), and the stage it was listed at; by group kind.
    struct ListedStage {
        int stage = -1;
        std::vector<int> ranks;
        std::vector<std::uint32_t> offsets{0};
    };
    std::map<int, ListedStage> listed_stages_;
    std::map<std::tuple<int, bool, std::vector<VertexId>>, bool> exact_phases_;  // phases_exact's answers
    std::shared_ptr<const NodeTranslation> stage_shift_;
    bool stage_shift_tried_ = false;
    // Pipeline sends timed on the network, kept for sends_time: their ends (source, destination, …), sizes
    // and time.
    struct TimedSends {
        std::vector<VertexId> ends;
        std::vector<double> sizes;
        SimTime time;
    };
    std::vector<TimedSends> timed_sends_;
};

}  // namespace gpuhours::detail
