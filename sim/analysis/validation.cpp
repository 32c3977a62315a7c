// Predictions against published training runs (include/gpuhours/analysis/validation.hpp).
#include <gpuhours/analysis/validation.hpp>

#include <gpuhours/units/error.hpp>
#include <gpuhours/analysis/evaluation.hpp>

#include "parallel_for.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

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
    c.step = cache->simulate(step_spec_of(s));
    check_step_figures(c.step);
    const StepResult& r = c.step;
    const double gpus = s.cluster.gpus;
    const double seconds = r.step_time.value();
    if (pub.step_time) c.figures.push_back({"step time", "s", seconds, pub.step_time->value()});
    if (pub.gpu_hours_per_trillion_tokens) {
        const double tokens_per_step = static_cast<double>(s.training.global_batch) * s.training.sequence_length;
        c.figures.push_back({"GPU-hours per trillion tokens", "GPU-hours", 1e12 / tokens_per_step * seconds * gpus / 3600.0,
                             *pub.gpu_hours_per_trillion_tokens});
    }
    const double model_flops = (pub.causal_attention_flops ? r.model_flops_causal : r.model_flops_full).value();
    if (pub.model_tflops_per_gpu) {
        c.figures.push_back({pub.causal_attention_flops ? "model TFLOP/s per GPU (causal)" : "model TFLOP/s per GPU", "TFLOP/s",
                             model_flops / seconds / gpus / 1e12, *pub.model_tflops_per_gpu});
    }
    if (pub.hardware_tflops_per_gpu) {
        const double factor = s.parallel.recompute == Recompute::full ? 4.0 / 3.0 : 1.0;
        c.figures.push_back({"hardware TFLOP/s per GPU (Megatron)", "TFLOP/s", r.model_flops_full.value() * factor / seconds / gpus / 1e12,
                             *pub.hardware_tflops_per_gpu});
    }
    if (pub.mfu_bf16) {
        c.figures.push_back({pub.causal_attention_flops ? "BF16 MFU (causal)" : "BF16 MFU", "%",
                             100.0 * (pub.causal_attention_flops ? r.mfu_bf16_causal : r.mfu_bf16_full), 100.0 * *pub.mfu_bf16});
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
            c.figures.push_back({fmt::format("GPU-hours, {}", name), "GPU-hours", predicted, hours});
        }
    }
    return c;
}

std::vector<ValidationCase> validate_directory(const std::filesystem::path& dir, const LoadOptions& options) {
    if (!std::filesystem::is_directory(dir)) {
        throw Error(fmt::format("{} is not a directory", dir.string()), "point --dir at a directory of validation scenarios, e.g. scenarios/validation");
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".toml") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw Error(fmt::format("no scenarios (*.toml) in {}", dir.string()), "point --dir at scenarios/validation");
    std::vector<ValidationCase> cases(files.size());
    const auto cache = std::make_shared<StepCache>();
    detail::parallel_for(files.size(), detail::thread_count(0, files.size()),
                         [&](std::size_t i, unsigned) { cases[i] = validate_scenario(files[i], options, cache); });
    return cases;
}

double mean_absolute_percentage_error(const std::vector<ValidationCase>& cases) {
    double sum = 0;
    int n = 0;
    for (const auto& c : cases) {
        for (const auto& f : c.figures) {
            sum += std::fabs(f.relative_error());
            ++n;
        }
    }
    return n > 0 ? sum / n : 0.0;
}

}  // namespace gpuhours
