// Reads the figures a scenario is checked against: [[claims]], [published] and the [whatif] comparison.
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace gpuhours::detail {

ClaimSpec read_claim(const Node& node, std::size_t index) {
    const std::string name = fmt::format("claims[{}]", index);
    ClaimSpec c;
    c.where = node.where;
    TableReader r(detail::as_table(node, name), name);
    c.text = detail::as_string(r.required("text", "add `text = \"…\"` quoting the claim"), r.path_of("text"));
    if (const Node* n = r.optional("cost_below")) c.cost_below = detail::as_quantity(*n, r.path_of("cost_below"), parse_dollars, "$6M");
    if (const Node* n = r.optional("wall_clock_below")) c.wall_clock_below = detail::as_quantity(*n, r.path_of("wall_clock_below"), parse_duration, "2 months");
    if (const Node* n = r.optional("gpu_hours_below")) c.gpu_hours_below = detail::as_count(*n, r.path_of("gpu_hours_below"));
    if (const Node* n = r.optional("mfu_above")) {
        c.mfu_above = detail::as_number(*n, r.path_of("mfu_above"));
        if (!(*c.mfu_above > 0 && *c.mfu_above < 1)) throw ScenarioError(n->where, "`mfu_above` is a fraction, e.g. 0.4 for 40%");
    }
    if (const Node* n = r.optional("energy_below")) c.energy_below = detail::as_quantity(*n, r.path_of("energy_below"), parse_energy, "10 GWh");
    r.finish();
    if (!c.cost_below && !c.wall_clock_below && !c.gpu_hours_below && !c.mfu_above && !c.energy_below) {
        throw ScenarioError(node.where, fmt::format("{} states nothing to check", name),
                            "add at least one of cost_below, wall_clock_below, gpu_hours_below, mfu_above, energy_below");
    }
    return c;
}

PublishedSpec read_published(const Node& node) {
    PublishedSpec p;
    TableReader r(node, "published");
    p.source = detail::as_string(r.required("source", "cite the paper and table the figures come from"), "published.source");
    if (const Node* n = r.optional("attention")) {
        const std::string a = detail::as_string(*n, "published.attention");
        if (a != "causal" && a != "full") throw ScenarioError(n->where, "`published.attention` must be \"causal\" or \"full\"", "say which attention FLOPs the paper counted");
        p.causal_attention_flops = a == "causal";
    }
    if (const Node* n = r.optional("step_time")) p.step_time = detail::as_quantity(*n, "published.step_time", parse_duration, "19.926 s");
    if (const Node* n = r.optional("model_tflops_per_gpu")) p.model_tflops_per_gpu = detail::as_number(*n, "published.model_tflops_per_gpu");
    if (const Node* n = r.optional("hardware_tflops_per_gpu")) p.hardware_tflops_per_gpu = detail::as_number(*n, "published.hardware_tflops_per_gpu");
    if (const Node* n = r.optional("mfu_bf16")) p.mfu_bf16 = detail::as_number(*n, "published.mfu_bf16");
    if (const Node* n = r.optional("phase_gpu_hours")) {
        const Node& t = detail::as_table(*n, "published.phase_gpu_hours");
        for (const auto& [name, value] : t.fields) {
            const std::string path = fmt::format("published.phase_gpu_hours.\"{}\"", name);
            const double hours = detail::as_count(value, path);
            require_positive(hours, value, path, "GPU-hours");
            p.phase_gpu_hours.emplace_back(name, hours);
        }
    }
    if (const Node* n = r.optional("gpu_hours_per_trillion_tokens")) p.gpu_hours_per_trillion_tokens = detail::as_count(*n, "published.gpu_hours_per_trillion_tokens");
    r.finish();
    return p;
}

// [whatif]: the comparison `gpuhours whatif` and `gpuhours report` run when no flags say otherwise.
WhatIfSpec read_whatif(const Node& node, const std::filesystem::path& catalog_dir) {
    WhatIfSpec w;
    w.where = node.where;
    TableReader r(node, "whatif");
    if (const Node* n = r.optional("chips")) {
        if (n->kind != Node::Kind::array || n->items.empty()) {
            throw ScenarioError(n->where, "`whatif.chips` must be a non-empty array of chip names", "e.g. chips = [\"h800\", \"h100\", \"h20\"]");
        }
        const std::vector<std::string> known = catalog_names(catalog_dir, "chips");
        for (std::size_t i = 0; i < n->items.size(); ++i) {
            const std::string path = fmt::format("whatif.chips[{}]", i);
            const std::string id = detail::as_string(n->items[i], path);
            if (std::find(known.begin(), known.end(), id) == known.end()) {
                throw ScenarioError(n->items[i].where, fmt::format("`{}` = \"{}\" is not a chip in the catalog", path, id),
                                    fmt::format("known chips: {}", fmt::join(known, ", ")));
            }
            w.chips.push_back(id);
        }
    }
    if (const Node* n = r.optional("rule")) w.rule = detail::as_string(*n, "whatif.rule");
    if (const Node* n = r.optional("deadline")) {
        w.deadline = detail::as_quantity(*n, "whatif.deadline", parse_duration, "\"2 months\"");
        require_positive(w.deadline->value(), *n, "whatif.deadline", "a duration");
    }
    r.finish();
    if (w.chips.empty() && w.rule.empty()) {
        throw ScenarioError(node.where, "[whatif] needs chips or a rule", "e.g. chips = [\"h800\", \"h100\", \"h20\"] or rule = \"oct-2023\"");
    }
    return w;
}

}  // namespace gpuhours::detail
