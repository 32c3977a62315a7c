// One training step as a task graph on the discrete-event engine.
//
// Every pipeline pass (forward, backward, split backward input/weight, DualPipe's overlapped forward&backward)
// of every micro-batch becomes a chain of tasks on serial streams per simulated GPU — a compute stream, a
// communication stream and a data-parallel one, as frameworks run NCCL kernels on CUDA streams of their own. Compute tasks are timed by the
// kernel model (kernel.hpp) from the workload's operators; communication tasks are collectives over the rank's
// groups (placement.hpp), timed on the cluster's network. Pipeline sends are point-to-point transfers between
// stages. In the backward that completes a chunk's gradients, each gradient bucket is reduced over the
// data-parallel groups as soon as the backward has produced it, on the data-parallel stream (overlapping the rest
// of the backward; without overlap_gradient_reduce, after the stage's whole backward on the communication
// stream); then the optimizer step runs, then ZeRO-1/2's parameter all-gather — unless it overlaps the next
// step's forward (ParallelLayout::overlap_param_gather: issued per unit on the data-parallel stream when the step
// starts, each unit's first forward waiting for its own). Under ZeRO-3 / FSDP
// (ParallelLayout::zero_stage 3) the data-parallel stream gathers each unit's (layer's) parameters ahead of its
// forward and backward and reduce-scatters its gradients after its backward, every micro-batch; the compute
// stream waits only for the gather it needs.
// The step time is the engine's makespan: it comes out of the simulation.
//
// Modes (shared/ARCHITECTURE.md, "Scale: symmetry first"):
// - symmetric (default): one representative GPU per pipeline stage (tensor, context and data rank 0). All
//   data-parallel replicas and all ranks of a tensor/context/expert group do the same work at the same time, so
//   each collective is timed once, standalone on the network, with the flows of every group of the same kind in
//   that stage running concurrently (other replicas' traffic on shared links), and cached. Under ZeRO-3 a rank's
//   data-parallel collectives that overlap (a gather beside a reduce-scatter) then share its links as a
//   processor-sharing server (engine/processor_sharing.hpp), one for its groups inside the node and one for those
//   across nodes: while k run, each advances at 1/k of its timed pace.
// - full: every GPU is simulated; each collective is one engine task per group whose flows share the links with
//   whatever else is in flight at that moment (max-min, re-solved as flows start and end).
// The two agree when the concurrent collectives of the full simulation are the ones symmetry assumes.
#pragma once

#include <gpuhours/hardware/hardware.hpp>
#include <gpuhours/workload/model.hpp>
#include <gpuhours/network/automorphism.hpp>
#include <gpuhours/network/network.hpp>
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/workload/parallel.hpp>
#include <gpuhours/units/precision.hpp>
#include <gpuhours/units/units.hpp>
#include <gpuhours/workload/workload.hpp>

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <string>
#include <vector>

namespace gpuhours {

enum class SimulationMode { symmetric, full };
std::string_view to_string(SimulationMode m);

// Communication axes, for the breakdown.
enum class CommAxis { tensor, context, expert, pipeline, data };
inline constexpr std::array<CommAxis, 5> kCommAxes{CommAxis::tensor, CommAxis::context, CommAxis::expert,
                                                  CommAxis::pipeline, CommAxis::data};
std::string_view to_string(CommAxis a);

struct StepSpec {
    ModelSpec model;
    ClusterSpec cluster;
    ParallelLayout layout;
    MixedPrecision precision;
    int sequence_length = 0;
    int global_batch = 0;  // sequences per step
    AttentionKernel attention_kernel = AttentionKernel::fused;
    bool dropout = false;
    bool cuda_graphs = false;  // TrainingSpec::cuda_graphs: kernel launches without host cost
    // How weight gradients accumulate over the micro-batches (kernel.hpp; TrainingSpec::gradient_accumulation).
    GradientAccumulation gradient_accumulation = GradientAccumulation::fused;
    SimulationMode mode = SimulationMode::symmetric;
    NetworkKind network = NetworkKind::flow;
    bool record_trace = false;

    friend bool operator==(const StepSpec&, const StepSpec&) = default;
};

// The kernel model's context for `spec`'s operators (kernel.hpp) with `reserved_sms` held by communication kernels:
// its chip, compute precision and FP8 recipe, power-cap clock and gradient-accumulation bytes. The context refers to
// spec.cluster.chip, so `spec` must outlive it.
KernelContext kernel_context(const StepSpec& spec, int reserved_sms);

// Where the time of one GPU's step goes. compute + recompute + optimizer + exposed communication + bubble =
// step time. "Exposed" communication is time the compute stream waits while a collective of that axis is in
// flight; "on link" is the collectives' total duration, hidden or not.
struct StepBreakdown {
    Seconds compute;    // forward and backward kernels
    Seconds recompute;  // activation recomputation in backward
    Seconds optimizer;  // the optimizer step
    Seconds bubble;     // the compute stream idle with no collective of its own in flight (pipeline waits)
    std::array<Seconds, kCommAxes.size()> exposed{};
    std::array<Seconds, kCommAxes.size()> on_link{};
    // Communication volume: the sizes of the collectives this GPU took part in, summed per axis, in the nccl-tests
    // convention of CollectiveRequest::size (an all-gather's or reduce-scatter's whole buffer, an all-reduce's
    // buffer; an expert all-to-all under the deepep dispatcher: a rank's buffer after the per-node merge, S × the
    // dispatch factor, CollectiveRequest::node_merge). Pipeline sends are not collectives and are not counted.
    // ZeRO-3 / FSDP moves 2 × parameter bytes (gathered before forward and before backward) + gradient bytes
    // (reduce-scattered) per micro-batch over the data axis; ZeRO-1/2 gradient bytes + parameter bytes per step.
    std::array<Bytes, kCommAxes.size()> volume{};

    [[nodiscard]] Seconds exposed_total() const;
};

struct StageStep {
    int stage = 0;
    int rank = 0;  // the simulated GPU (global rank) this row describes
    StepBreakdown breakdown;
};

struct TraceEvent {
    int rank = 0;
    std::string stream;  // "compute", "comm", "p2p", "dp" (ZeRO-3's gathers), "dp reduce" (gradient reductions)
    std::string name;
    SimTime start;
    SimTime end;
    int from_stage = -1;  // "p2p": the pipeline stage the transfer comes from (`rank` receives it); -1 otherwise
};

struct StepResult {
    Seconds step_time;
    int micro_batches = 0;      // per pipeline replica per step
    int simulated_ranks = 0;
    std::size_t tasks = 0;         // operations simulated: each segment of a pass on each simulated GPU, sends, markers
    std::size_t engine_tasks = 0;  // the engine tasks they took (symmetric mode merges runs of chained operations)
    SimulationMode mode = SimulationMode::symmetric;
    StepBreakdown breakdown;         // mean over the simulated GPUs
    std::vector<StageStep> stages;   // one per pipeline stage (its representative GPU)
    // FLOPs of the whole step over all GPUs: model FLOPs (PaLM's definition) with causal attention and with
    // full (non-causal) attention, and hardware FLOPs (model + recomputation, with the attention the kernels
    // execute: causal for fused ones, the whole s×s square where the scores are materialized).
    Flops model_flops_causal;
    Flops model_flops_full;
    Flops hardware_flops;
    bool full_square_attention = false;  // the attention kernels compute the whole s×s square (materialized scores)
    FlopsPerSecond model_flops_per_gpu;  // causal model FLOPs / (step time × GPUs)
    // MFU against the compute format's peak and against the BF16 peak (DeepSeek and Llama quote BF16), each
    // with causal and full-attention FLOPs; HFU adds recomputation (causal FLOPs), against either peak. Outputs
    // headline the BF16 peak with full-attention FLOPs (mfu_bf16_full) and label the compute-format figures.
    double mfu_causal = 0.0;
    double mfu_full = 0.0;
    double mfu_bf16_causal = 0.0;
    double mfu_bf16_full = 0.0;
    double hfu = 0.0;       // compute-format peak
    double hfu_bf16 = 0.0;  // BF16 peak
    Precision compute_precision = Precision::bf16;
    std::vector<MemoryBreakdown> memory;  // per pipeline stage
    std::vector<TraceEvent> trace;        // when StepSpec::record_trace
};

// Symmetric mode's collective and pipeline-send times, kept across steps. A time is a pure function of the
// topology (compared in full: every vertex and link with its bandwidth, efficiency and latency), the network
// model, the ranks' placement (the layout's degrees, order and shard group) and the collective (kind, size, group
// kind, pipeline stage) or send (stages, bytes): MaxMinNetwork::run_phase answers a phase the same whichever
// phase of its form was solved first. So steps that differ elsewhere — a batch ramp's shapes, a kernel efficiency
// drawn for the Monte Carlo, a what-if's chip of the same links — time each collective once. Thread-safe;
// bounded (forgets everything past kMaxTopologies topologies or kMaxTables placements).
class CommTimeCache {
public:
    struct Table;  // the times of one topology, network model and placement (step_builder.hpp)
    static constexpr std::size_t kMaxTopologies = 16;
    static constexpr std::size_t kMaxTables = 4096;
    // The table for `spec`'s network model and placement on `topology` (built from spec.cluster); empty the first
    // time.
    std::shared_ptr<Table> table_for(const StepSpec& spec, const Topology& topology);
    // The same table, and the one for the pipeline sends and the groups without experts (tensor, context, data,
    // pipeline, data × context, shard, replica), whose ranks and concurrent groups do not depend on the expert
    // degrees: keyed by the placement without them, so layouts that differ only in expert parallelism (`plan`'s
    // candidates) time those once. For a layout without experts both are one table.
    struct Tables {
        std::shared_ptr<Table> all;
        std::shared_ptr<Table> dense;
    };
    Tables tables_for(const StepSpec& spec, const Topology& topology);
    // The topology build_topology(cluster) gives (a pure function of the cluster), kept for the last kMaxBuilt
    // distinct topologies asked and shared by the steps that ask for it: the steps of one run, its batch ramp's
    // shapes, and its Monte Carlo draws of a chip figure the fabric does not read (a new cluster's topology is built
    // and compared in full with those kept: every vertex, link, GPU, destination key and the builder's geometry).
    // Its adjacency is built before it is shared, so that threads only read it; tables_for finds its graph without
    // copying or comparing it again. Throws Error as build_topology does.
    std::shared_ptr<const Topology> topology_for(const ClusterSpec& cluster);
    static constexpr std::size_t kMaxBuilt = 4;
    // NodeTranslation::prove(topology, node_shift), proven once for a topology topology_for gave (kept with it);
    // proven on the spot for any other. Null when refused.
    std::shared_ptr<const NodeTranslation> node_translation(const Topology& topology, int node_shift);

private:
    struct Built {
        std::vector<ClusterSpec> clusters;  // those found to build it (at most kMaxBuilt kept)
        std::shared_ptr<const Topology> topology;
        std::shared_ptr<const void> graph;  // Table::Graph of it, made at its first tables_for
        std::vector<std::pair<int, std::shared_ptr<const NodeTranslation>>> shifts;  // node_translation's, by node shift
    };
    std::vector<Built> built_;  // most recently asked last
    std::mutex mutex_;
    std::vector<std::shared_ptr<const Table>> topologies_;  // the first table of each topology (its graph)
    std::vector<std::shared_ptr<Table>> tables_;
};

// Simulates one step. Throws Error on a layout the schedule cannot run (e.g. DualPipe with too few
// micro-batches), naming what to change. `comm_times`: collective times kept across steps (none: this step's own).
StepResult simulate_step(const StepSpec& spec, CommTimeCache* comm_times = nullptr);

// How far the step being simulated on the calling thread has come, for a command's progress bar (a full-mode step
// of thousands of GPUs runs for minutes): while a scope is alive, simulate_step on its thread reports the share of
// its event loop's tasks finished, 0 to 1, to `report` every Engine::kProgressEvents events (a step whose times
// follow from its graph in one pass reports nothing). Never part of a result. Scopes nest; the innermost reports.
class StepProgressScope {
public:
    explicit StepProgressScope(std::function<void(double)> report);
    ~StepProgressScope();
    StepProgressScope(const StepProgressScope&) = delete;
    StepProgressScope& operator=(const StepProgressScope&) = delete;
    // The innermost live scope's `report` on this thread, or null.
    static const std::function<void(double)>* current();

private:
    std::function<void(double)> report_;
    const StepProgressScope* outer_;
};

}  // namespace gpuhours

namespace gpuhours::detail {

// Symmetric mode's stage translation (sim/training/step_translation.cpp): a collective timed at one pipeline stage
// answers it at another when an automorphism of the topology proves the two alike, or when each stage's groups
// are proven link-disjoint copies of one pattern (network/automorphism.hpp, leaf_local_copies: one group timed
// alone answers every stage). On by default; tests turn it off on their thread to time every stage's groups
// together on the network, the reference it is tested against. Returns the previous setting.
bool set_stage_translation(bool on);
// How many collectives this thread's steps answered from another stage's timing, in all (tests).
std::size_t stage_translations();

}  // namespace gpuhours

namespace gpuhours {

// Step results by specification. A step's result is a pure function of its StepSpec (the engine orders events
// by time and sequence number; nothing is random), so a specification seen before is answered from memory:
// phases, sweep points, what-if variants, deadline probes, layout candidates and validation cases that share a
// step simulate it once. Keys are compared in full (StepSpec's defaulted operator==, so a field added to any part
// of the specification takes part without being listed); a hash of the layout and shape only picks the bucket. A
// result simulated with its trace also answers the same specification without one.
// Thread-safe: a specification asked for by several threads at once is simulated by the first and awaited by the
// others. An Error thrown by simulate_step is kept and rethrown to every caller of that specification.
class StepCache {
public:
    StepCache() = default;
    StepCache(const StepCache&) = delete;
    StepCache& operator=(const StepCache&) = delete;

    // simulate_step(spec), simulated at most once per distinct spec over the cache's life.
    StepResult simulate(const StepSpec& spec);

    struct Counts {
        std::size_t simulated = 0;  // distinct specifications simulated (misses)
        std::size_t reused = 0;     // answers from memory (hits)
    };
    [[nodiscard]] Counts counts() const;

private:
    struct Entry;
    mutable std::mutex mutex_;
    std::unordered_multimap<std::size_t, std::shared_ptr<Entry>> entries_;
    Counts counts_;
    CommTimeCache comm_times_;  // shared by the steps it simulates
};

}  // namespace gpuhours
