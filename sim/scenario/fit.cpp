// A scenario's memory fit: the micro-batch shape and options its memory model reads, the check, and the refusal
// with a hint built from the largest term and what the layout does not do yet.
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <gpuhours/workload/workload.hpp>

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

namespace gpuhours {

MicroBatchShape shape_of(const Scenario& s) {
    return MicroBatchShape{s.training.sequence_length, s.parallel.micro_batch, AttentionMask::causal};
}

MemoryOptions memory_options_of(const Scenario& s) {
    MemoryOptions options;
    options.micro_batches = s.training.global_batch / (s.parallel.data * s.parallel.micro_batch);
    options.attention_kernel = s.training.attention_kernel;
    options.dropout = s.training.dropout;
    return options;
}

FitCheck fit_of(const Scenario& s) {
    return check_fit(s.model, s.parallel, s.training.precision, shape_of(s), s.cluster.chip.memory_capacity, memory_options_of(s));
}

namespace {
// What would shrink the largest term, from what the layout does not do yet: activations shrink with tensor (with
// sequence parallelism) or pipeline degrees, context parallelism, recomputation and a smaller micro-batch, not with
// ZeRO; parameters, gradients and optimizer state with tensor, pipeline or expert degrees and a higher ZeRO stage.
std::string fit_hint(const Scenario& s, std::string_view largest) {
    const ParallelLayout& p = s.parallel;
    std::vector<std::string> ways{"raise tensor or pipeline"};
    if (largest == "activations") {
        ways.emplace_back("raise context (context parallelism splits each sequence)");
        if (p.recompute == Recompute::none) ways.emplace_back("recompute = \"selective\" or \"full\"");
        else if (p.recompute == Recompute::selective) ways.emplace_back("recompute = \"full\"");
        if (p.micro_batch > 1) ways.emplace_back("a smaller micro_batch");
    } else if (largest == "buffers") {
        if (p.zero_stage == 3 && p.prefetch > 0) ways.emplace_back("a smaller prefetch (each unit gathered ahead holds its parameters)");
    } else {
        if (s.model.moe) ways.front() = "raise tensor, pipeline or expert";
        // The ZeRO stage that first shards the term (1: optimizer state, 2: gradients, 3: parameters), when the layout
        // is below it and has data-parallel ranks to shard over; above it, ZeRO has nothing more to give that term.
        const int shards = largest == "optimizer state" ? 1 : largest == "gradients" ? 2 : 3;
        const bool ranks = p.dense_shard_ranks() > 1 || (s.model.moe && p.expert_data_ranks() > 1);
        if (ranks && p.zero_stage < shards) ways.emplace_back(fmt::format("zero = {}", shards == 3 ? "3" : fmt::format("{}..3", shards)));
    }
    std::string text = ways.front();
    for (std::size_t i = 1; i < ways.size(); ++i) text += (i + 1 == ways.size() ? ", or " : ", ") + ways[i];
    return text;
}
}  // namespace

void require_fit(const Scenario& s, const FitCheck& fit) {
    if (!fit.fits) {
        const auto largest = fit.breakdown.largest_term();
        // At the key among those the memory rests on that the user wrote last (a child's micro_batch over the
        // flagship: there); none written: at [parallelism], whose degrees shard the model, else at the model. When the
        // training state and buffers alone exceed the capacity, the keys that size activations alone are left out:
        // no change of theirs makes it fit (a 405B model put in place of a 1.7B one on 32 A100 was blamed on the
        // file's sequence_length, written below its model and [parallelism]; session 55).
        const SourceRef table = s.sources.parallelism.known() ? s.sources.parallelism
                                                              : (s.sources.model.known() ? s.sources.model : s.sources.file);
        const bool state = fit.breakdown.total() - fit.breakdown.activations > fit.capacity;
        SourceRef where = detail::latest_written(s,
                                                 {"parallelism.tensor", "parallelism.pipeline", "parallelism.context", "parallelism.expert",
                                                  "parallelism.data", "parallelism.zero", "parallelism.virtual_stages", "parallelism.schedule",
                                                  "training.precision", "training.parameters", "training.master_weights", "training.gradients",
                                                  "training.optimizer_state", "model", "cluster.chip", "cluster.chip.from",
                                                  "cluster.chip.memory.capacity", "cluster.chip.memory.reserve"},
                                                 SourceRef{});
        if (!state) {
            const SourceRef activations = detail::latest_written(s,
                                                                 {"parallelism.micro_batch", "parallelism.recompute", "parallelism.combined_1f1b",
                                                                  "training.sequence_length", "training.activations"},
                                                                 SourceRef{});
            if (activations.known() && (!where.known() || written_after(s, activations, where))) where = activations;
        }
        if (!where.known()) where = table;
        throw ScenarioError(where,
                            fmt::format("the model does not fit: {} needed per GPU on pipeline rank {} ({} over) but the {} has "
                                        "{}; the largest term is {} ({})",
                                        format_bytes(fit.breakdown.total()), fit.breakdown.stage,
                                        format_bytes(fit.breakdown.total() - fit.capacity),
                                        s.cluster.chip.display_name, s.cluster.chip.memory_basis(), largest.name,
                                        format_bytes(largest.bytes)),
                            fmt::format("shard more: {}{}; see `gpuhours model` for the whole breakdown", fit_hint(s, largest.name),
                                        s.parallel.combined_1f1b ? ", or remove combined_1f1b (its extra warm-up forward holds one more "
                                                                   "chunk of activations)"
                                                                 : ""));
    }
}

void require_fit(const Scenario& s) { require_fit(s, fit_of(s)); }

void require_every_phase_fits(const Scenario& s) {
    require_fit(s);
    for (const PhaseSpec& ph : s.phases) {
        if (s.phases_given && !ph.quoted_gpu_hours) require_fit(scenario_of_phase(s, ph, ph.training.global_batch));
    }
}

void require_memory_ranges_fit(const ScenarioSampler& sampler) {
    const std::vector<UncertainInput>& inputs = sampler.inputs();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const UncertainInput& u = inputs[i];
        if (!u.path.starts_with("cluster.chip.memory.")) continue;
        const auto [low, high] = u.range();
        for (const double end : {low, high}) {
            std::vector<double> values = sampler.nominal_values();
            values[i] = end;
            const Scenario at_end = sampler.with(values);
            try {
                require_every_phase_fits(at_end);
            } catch (const ScenarioError& e) {
                throw ScenarioError(u.where, fmt::format("{} reaches {}, at which {}", u.describe(), u.text(end), e.message()),
                                    fmt::format("keep the range where the layout fits, or {}", e.hint()));
            }
        }
    }
}

}  // namespace gpuhours
