// The step builder's setup and the step's flow (step_builder.hpp names the parts), and step.hpp's public names.
#include "step_builder.hpp"

#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace gpuhours {

std::string_view to_string(SimulationMode m) { return m == SimulationMode::symmetric ? "symmetric" : "full"; }

std::string_view to_string(CommAxis a) {
    switch (a) {
        case CommAxis::tensor: return "tensor";
        case CommAxis::context: return "context";
        case CommAxis::expert: return "expert";
        case CommAxis::pipeline: return "pipeline";
        case CommAxis::data: return "data";
    }
    return "?";
}

Seconds StepBreakdown::exposed_total() const {
    Seconds total;
    for (const auto& e : exposed) total += e;
    return total;
}

KernelContext kernel_context(const StepSpec& spec, int reserved_sms) {
    return KernelContext{spec.cluster.chip, spec.precision.compute, Precision::bf16, reserved_sms,
                         spec.precision.gemm_recipe(), spec.cluster.clock_factor(),
                         accumulation_bytes_per_parameter(spec.gradient_accumulation, spec.precision)};
}

namespace detail {

StepBuilder::StepBuilder(const StepSpec& spec, CommTimeCache* comm_times)
    : spec_(spec),
      layout_(spec.layout),
      placement_(spec.layout, spec.cluster.gpus),
      comm_times_(comm_times),
      built_topology_(comm_times != nullptr ? comm_times->topology_for(spec.cluster)
                                            : std::make_shared<const Topology>(build_topology(spec.cluster))),
      topology_(*built_topology_),
      network_(make_network(spec.network, topology_)),
      kernel_(kernel_context(spec, spec.layout.communication_sms)),
      kernel_overlap_(kernel_context(spec, spec.layout.communication_sms +
                                               (spec.layout.tp_comm_overlap ? spec.layout.tp_comm_overlap_sms : 0))),
      launch_gap_(to_sim(spec.cluster.chip.launch_gap)),
      launch_host_(spec.cuda_graphs ? SimTime::zero() : to_sim(spec.cluster.chip.launch_host)) {
    const long long per_step = 1LL * layout_.data * layout_.micro_batch;
    if (spec.global_batch <= 0 || spec.global_batch % per_step != 0) {
        throw Error(fmt::format("global batch {} is not a multiple of data × micro_batch = {}", spec.global_batch,
                                per_step));
    }
    micro_batches_ = static_cast<int>(spec.global_batch / per_step);
    if (layout_.schedule == Schedule::dualpipe && (micro_batches_ < 2 * layout_.pipeline || micro_batches_ % 2)) {
        throw Error(fmt::format("DualPipe needs an even number of at least 2 × pipeline = {} micro-batches per "
                                "replica; this layout has {} (global batch {} / (data {} × micro_batch {}))",
                                2 * layout_.pipeline, micro_batches_, spec.global_batch, layout_.data,
                                layout_.micro_batch),
                    "raise the global batch, or lower data or micro_batch");
    }
    plan_ = std::make_unique<PipelinePlan>(
        make_pipeline_plan(layout_.schedule, layout_.pipeline, micro_batches_, layout_.virtual_stages, layout_.combined_1f1b));
    // Causal training. A fused kernel skips the masked half of the s×s products; one that materializes the scores
    // (Megatron-LM 2021's baddbmm and bmm around a fused scale-mask-softmax) computes the whole square.
    shape_ = MicroBatchShape{spec.sequence_length, layout_.micro_batch,
                             spec.attention_kernel == AttentionKernel::materialized ? AttentionMask::full : AttentionMask::causal};
    blocks_ = model_ops(spec.model, layout_, spec.precision, shape_);
    chunk_layers_ = chunk_layers(spec.model, plan_->model_chunks(), layout_.layers_per_chunk);
    dispatch_factor_ = dispatch_factor(spec.model, placement_, spec.cluster.gpus_per_node, spec.layout.moe_dispatcher);
    gpu_merge_ = gpu_merge(spec.model, placement_, spec.cluster.gpus_per_node, spec.layout.moe_dispatcher);
    engine_.add_model(*network_);
    if (comm_times != nullptr && spec.mode == SimulationMode::symmetric) {
        auto tables = comm_times->tables_for(spec, topology_);
        shared_times_ = std::move(tables.all);
        shared_dense_times_ = std::move(tables.dense);
    }

    const int p = layout_.pipeline;
    stage_ranks_.resize(static_cast<std::size_t>(p));
    for (int s = 0; s < p; ++s) {
        if (spec.mode == SimulationMode::symmetric) {
            stage_ranks_[static_cast<std::size_t>(s)] = {placement_.rank_of(0, 0, 0, s)};
        } else {
            for (int r = 0; r < placement_.ranks(); ++r) {
                if (placement_.coord(r).pp == s) stage_ranks_[static_cast<std::size_t>(s)].push_back(r);
            }
        }
    }
    for (const auto& ranks : stage_ranks_) simulated_.insert(simulated_.end(), ranks.begin(), ranks.end());
    std::sort(simulated_.begin(), simulated_.end());
    dense_.assign(static_cast<std::size_t>(placement_.ranks()), -1);
    for (std::size_t i = 0; i < simulated_.size(); ++i) dense_[static_cast<std::size_t>(simulated_[i])] = static_cast<int>(i);
    // Resources in the order of stages and their ranks, as before the tables were dense (resource ids are
    // submission order, and the trace names them).
    compute_.resize(simulated_.size());
    for (const auto& ranks : stage_ranks_) {
        for (int r : ranks) compute_[slot_of(r)] = engine_.add_resource(fmt::format("rank{}/compute", r));
    }
    last_comm_.resize(simulated_.size());
    last_dp_comm_.resize(simulated_.size());
    last_dp_reduce_.resize(simulated_.size());
    if (spec.mode == SimulationMode::symmetric && layout_.zero_stage >= 3) {
        dp_links_ = std::make_unique<ProcessorSharing>(engine_, 2 * simulated_.size());
    }
    volume_.resize(simulated_.size());
    grad_sync_.resize(simulated_.size());
}

// The step: find where each chunk's gradients are complete; in symmetric mode, time every collective up front;
// add every pipeline op's passes (compute, recompute, collectives, p2p sends), each chunk's data-parallel
// gradient reduction as soon as its gradients are complete, then the optimizer; run the engine; sum it up.
StepResult StepBuilder::run() {
    const SyncPoints sync_after = gradient_sync_points();
    if (spec_.mode == SimulationMode::symmetric) time_collectives();
    add_pipeline_ops(sync_after);
    if (layout_.schedule == Schedule::dualpipe) add_mirror_sync();
    for (int s = 0; s < layout_.pipeline; ++s) add_optimizer(s);
    if (const auto* report = StepProgressScope::current()) engine_.set_progress(*report);
    const SimTime makespan = engine_.run();
    return collect(makespan);
}

}  // namespace detail

namespace {
thread_local const StepProgressScope* t_progress = nullptr;
}  // namespace

StepProgressScope::StepProgressScope(std::function<void(double)> report) : report_(std::move(report)), outer_(t_progress) {
    t_progress = this;
}

StepProgressScope::~StepProgressScope() { t_progress = outer_; }

const std::function<void(double)>* StepProgressScope::current() { return t_progress != nullptr ? &t_progress->report_ : nullptr; }

StepResult simulate_step(const StepSpec& spec, CommTimeCache* comm_times) {
    detail::StepBuilder builder(spec, comm_times);
    return builder.run();
}

}  // namespace gpuhours
