// Where a scenario's rules are located: the source of the key among those a rule couples that was written last
// (a later layer — base file, scenario, --set — or further down the same file), and the texts that say where a
// value was set.
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpuhours::detail {

std::string set_in_scenario(const SourceRef& where) {
    if (where.file.starts_with("--set ")) return fmt::format("set on the command line ({})", where.file);
    if (where.file.empty() || where.line <= 0) return "set in the scenario";
    return fmt::format("set in the scenario ({}:{})", where.file, where.line);
}

bool same_place(const SourceRef& a, const SourceRef& b) { return a.file == b.file && a.line == b.line && a.column == b.column; }

std::string scenario_key_of_phase(const std::string& phase_key) {
    return phase_key.starts_with("parallelism.") ? phase_key : "training." + phase_key;
}

int layer_of(const Scenario& s, const SourceRef& where) {
    return where.file.starts_with("--set") ? 2 : where.file == s.sources.file.file ? 1 : 0;
}

SourceRef latest_written(const Scenario& s, std::initializer_list<std::string_view> keys, const SourceRef& fallback) {
    const SourceRef* best = nullptr;
    const auto consider = [&](std::string_view key) {
        const auto it = s.sources.keys.find(key);
        if (it == s.sources.keys.end() || !it->second.known()) return;
        if (best == nullptr || written_after(s, it->second, *best)) best = &it->second;
    };
    for (const std::string_view key : keys) {
        consider(key);
        // A data degree not written is the GPU count over the model-parallel degrees: the count stands for it (a
        // batch that 48 GPUs' data degree does not divide is located at `--set cluster.gpus=48`, or a sweep's
        // `--vary` value, not at the batch written long before; session 19's fresh verifier).
        if (key == "parallelism.data" && !s.sources.keys.contains("parallelism.data")) consider("cluster.gpus");
    }
    return best != nullptr ? *best : fallback;
}

void throw_rule(const Scenario& s, std::initializer_list<std::string_view> keys, const SourceRef& fallback, std::string message,
                std::string hint, std::shared_ptr<const Node> placeholder) {
    throw CoupledError(latest_written(s, keys, fallback), std::move(message), std::move(hint), std::move(placeholder),
                       std::vector<std::string>(keys.begin(), keys.end()));
}

}  // namespace gpuhours::detail

namespace gpuhours {

bool written_after(const Scenario& s, const SourceRef& a, const SourceRef& b) {
    const int la = detail::layer_of(s, a), lb = detail::layer_of(s, b);
    if (la != lb) return la > lb;
    return a.file == b.file && (a.line > b.line || (a.line == b.line && a.column > b.column));
}

SourceRef run_length_source(const Scenario& s) {
    const SourceRef* best = nullptr;
    for (const auto& [key, where] : s.sources.keys) {
        const bool sets_work = key == "training.tokens" || (key.starts_with("phases") && (key.ends_with("tokens") || key.ends_with("steps")));
        if (!sets_work || !where.known()) continue;
        if (best == nullptr || written_after(s, where, *best)) best = &where;
    }
    return best != nullptr ? *best : s.sources.file;
}

SourceRef step_length_source(const Scenario& s) {
    auto sets_length = [](std::string_view k) {
        return k.starts_with("cluster.chip") || k == "model" || k.starts_with("model.") || k == "cluster.gpus" ||
               k == "cluster.power_cap" || k.ends_with("global_batch") || k.ends_with("sequence_length") || k.ends_with("micro_batch");
    };
    const SourceRef* best = nullptr;
    for (const auto& [key, where] : s.sources.keys) {
        if (!sets_length(key) || !where.known()) continue;
        if (best == nullptr || written_after(s, where, *best)) best = &where;
    }
    return best != nullptr ? *best : s.sources.file;
}

}  // namespace gpuhours
