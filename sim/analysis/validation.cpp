// Predictions against published training runs (include/gpuhours/analysis/validation.hpp).
#include <gpuhours/analysis/validation.hpp>

#include <gpuhours/units/error.hpp>
#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/training/placement.hpp>

#include "parallel_for.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <mutex>

namespace gpuhours {

ValidationCase validate_scenario(const std::filesystem::path& file, const LoadOptions& options, std::shared_ptr<StepCache> cache) {
    if (!cache) cache = std::make_shared<StepCache>();
    const Scenario s = load_scenario(file, options);
    if (!s.published) {
        throw ScenarioError(s.sources.file, fmt::format("{} has no [published] table to validate against", file.string()),
                            "add [published] with source and the reported figures (docs/scenario-language.md)");
    }
    const PublishedSpec& pub = *s.published;
    ValidationCase c;
    c.id = file.stem().string();
    c.title = s.title;
    c.source = pub.source;
    c.informed = pub.informed;
    c.step = cache->simulate(step_spec_of(s));
    check_step_figures(c.step);
    const StepResult& r = c.step;
    const double gpus = s.cluster.gpus;
    const double seconds = r.step_time.value();
    const double tokens_per_step = static_cast<double>(s.training.global_batch) * s.training.sequence_length;
    // Every figure below restates the step: measurement 0, counted once (the first listed).
    auto step_figure = [&](std::string name, std::string unit, double predicted, double reported) {
        c.figures.push_back({std::move(name), std::move(unit), predicted, reported, 0, c.figures.empty()});
    };
    if (pub.step_time) step_figure("step time", "s", seconds, pub.step_time->value());
    if (pub.tokens_per_second_per_gpu) {
        step_figure("tokens per second per GPU", "tokens/s", tokens_per_step / seconds / gpus, *pub.tokens_per_second_per_gpu);
    }
    if (pub.gpu_hours_per_trillion_tokens) {
        step_figure("GPU-hours per trillion tokens", "GPU-hours", 1e12 / tokens_per_step * seconds * gpus / 3600.0,
                    *pub.gpu_hours_per_trillion_tokens);
    }
    const double model_flops = (pub.causal_attention_flops ? r.model_flops_causal : r.model_flops_full).value();
    if (pub.model_tflops_per_gpu) {
        step_figure(pub.causal_attention_flops ? "model TFLOP/s per GPU (causal)" : "model TFLOP/s per GPU", "TFLOP/s",
                    model_flops / seconds / gpus / 1e12, *pub.model_tflops_per_gpu);
    }
    if (pub.hardware_tflops_per_gpu) {
        const double factor = s.parallel.recompute == Recompute::full ? 4.0 / 3.0 : 1.0;
        step_figure("hardware TFLOP/s per GPU (Megatron)", "TFLOP/s", r.model_flops_full.value() * factor / seconds / gpus / 1e12,
                    *pub.hardware_tflops_per_gpu);
    }
    if (pub.mfu_bf16) {
        step_figure(pub.causal_attention_flops ? "BF16 MFU (causal)" : "BF16 MFU", "%",
                    100.0 * (pub.causal_attention_flops ? r.mfu_bf16_causal : r.mfu_bf16_full), 100.0 * *pub.mfu_bf16);
    }
    if (!pub.phase_gpu_hours.empty()) {
        // The whole run, without interruptions or uncertainty: each phase's GPU-hours at its simulated steps.
        EvaluateOptions o;
        o.samples = 1;
        o.step_cache = cache;
        const RunEvaluation ev = evaluate_run(ScenarioSampler(file, options), o);
        for (const auto& [name, hours] : pub.phase_gpu_hours) {
            // A name covers the phase of that name, or every phase whose name starts with it and a space (a paper
            // that reports "context extension" for two stages).
            double predicted = 0;
            int matched = 0;
            for (const auto& p : ev.phases) {
                if (p.name == name || p.name.rfind(name + " ", 0) == 0) {
                    predicted += p.gpu_hours;
                    ++matched;
                }
            }
            if (matched == 0) {
                throw ScenarioError(s.sources.file, fmt::format("published.phase_gpu_hours names phase \"{}\", which the scenario does not have", name),
                                    "use the name of one of the scenario's [[phases]] (or the start of several)");
            }
            const int measurement = c.figures.empty() ? 0 : c.figures.back().measurement + 1;
            c.figures.push_back({fmt::format("GPU-hours, {}", name), "GPU-hours", predicted, hours, measurement, true});
        }
    }
    return c;
}

std::vector<ValidationCase> validate_directory(const std::filesystem::path& dir, const LoadOptions& options,
                                               const std::function<void(int, int)>& progress) {
    if (!std::filesystem::is_directory(dir)) {
        throw Error(fmt::format("the validation directory \"{}\" is not a directory", dir.string()), "point --dir at a directory of validation scenarios, e.g. scenarios/validation");
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".toml") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw Error(fmt::format("no scenarios (*.toml) in {}", dir.string()), "point --dir at scenarios/validation");
    std::vector<ValidationCase> cases(files.size());
    const auto cache = std::make_shared<StepCache>();
    std::mutex mutex;
    int done = 0;
    detail::parallel_for(files.size(), detail::thread_count(0, files.size()), [&](std::size_t i, unsigned) {
        cases[i] = validate_scenario(files[i], options, cache);
        if (!progress) return;
        const std::lock_guard lock(mutex);
        progress(++done, static_cast<int>(files.size()));
    });
    return cases;
}

namespace {

void add_case(ValidationStats& stats, const ValidationCase& c) {
    double sum = stats.mean_absolute_error * stats.measurements;
    bool any = false;
    for (const auto& f : c.figures) {
        if (!f.counted) continue;
        const double e = std::fabs(f.relative_error());
        sum += e;
        stats.absolute_errors.push_back(e);
        ++stats.measurements;
        any = true;
        if (stats.max_case.empty() || e > stats.max_absolute_error) {
            stats.max_absolute_error = e;
            stats.max_case = c.id;
            stats.max_figure = f.name;
        }
    }
    if (any) ++stats.cases;
    stats.mean_absolute_error = stats.measurements > 0 ? sum / stats.measurements : 0.0;
}

}  // namespace

ValidationSummary summarize_validation(const std::vector<ValidationCase>& cases) {
    ValidationSummary s;
    for (const auto& c : cases) {
        add_case(s.all, c);
        add_case(c.independent() ? s.independent : s.informed, c);
        s.figures_listed += static_cast<int>(c.figures.size());
    }
    for (ValidationStats* stats : {&s.all, &s.independent, &s.informed}) {
        std::vector<double>& e = stats->absolute_errors;
        std::sort(e.begin(), e.end());
        stats->median_absolute_error = e.empty()        ? 0.0
                                       : e.size() % 2 == 1 ? e[e.size() / 2]
                                                          : 0.5 * (e[e.size() / 2 - 1] + e[e.size() / 2]);
    }
    return s;
}

double mean_absolute_percentage_error(const std::vector<ValidationCase>& cases) {
    return summarize_validation(cases).all.mean_absolute_error;
}

std::vector<std::string> step_caveats(const Scenario& s) {
    std::vector<std::string> out;
    const ParallelLayout& layout = s.phases.front().parallel;
    if (s.model.moe && s.cluster.gpus_per_node > 0 &&
        !spans_nodes(Placement(layout, s.cluster.gpus).group(GroupKind::expert, 0), s.cluster.gpus_per_node)) {
        // With expert = 1 there is no group to speak of, but the step is of the same kind: all expert compute on
        // the GPU, many local experts, no dispatch over the network.
        out.push_back(std::string(layout.expert == 1 ? "every GPU holds all the experts (expert = 1): a step of mostly local "
                                                       "expert compute."
                                                     : "the expert-parallel group stays inside one node.") +
                      " Six MoE runs of that kind that NVIDIA published "
                      "(Megatron-Bridge; scenarios/validation/) came out 65-300 % faster here than measured: read this "
                      "step time as optimistic (docs/moe.md, \"Known misses\")");
    }
    return out;
}

}  // namespace gpuhours
