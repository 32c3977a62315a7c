// Model families for `gpuhours capacity` (include/gpuhours/scenario/family.hpp).
#include <gpuhours/scenario/family.hpp>

#include "scenario_reader.hpp"

#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/workload/workload.hpp>

#include <fmt/format.h>

#include <system_error>

namespace gpuhours {

using detail::Node;
using detail::TableReader;

ModelFamily load_model_family(const std::string& name, const std::filesystem::path& catalog_dir) {
    const std::filesystem::path dir = catalog_dir.empty() ? default_catalog_dir() : catalog_dir;
    std::error_code ec;
    const bool path_given = name.ends_with(".toml") || name.find('/') != std::string::npos;
    const std::filesystem::path file = path_given ? std::filesystem::path(name) : dir / "families" / (name + ".toml");
    if (!std::filesystem::is_regular_file(file, ec)) {
        const std::vector<std::string> known = catalog_names(dir, "families");
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        std::string hint = fmt::format("known families ({}): {}", (dir / "families").string(), list);
        // A near miss or the start of one name ("llama": llama-dense), as chips and keys are suggested.
        const std::vector<std::string> meant = detail::meanings(name, known);
        if (!meant.empty()) {
            std::string names;
            for (std::size_t i = 0; i < meant.size(); ++i) {
                names += fmt::format("{}\"{}\"", i == 0 ? "" : i + 1 == meant.size() ? " or " : ", ", meant[i]);
            }
            hint = fmt::format("did you mean {}? {}", names, hint);
        }
        throw Error(fmt::format("unknown model family \"{}\"", name), hint);
    }
    const Node root = detail::parse_document_file(file.string());
    TableReader r(root, "");
    ModelFamily f;
    f.id = file.stem().string();
    f.name = detail::as_string(r.required("name"), "name");
    f.source = detail::as_string(r.required("source", "where the shapes and layouts come from"), "source");
    const Node& rungs = r.required("rungs", "[[rungs]] tables, smallest model first");
    if (rungs.kind != Node::Kind::array || rungs.items.empty()) {
        throw ScenarioError(rungs.where, "`rungs` must be a non-empty array of tables", "add [[rungs]] with model, tensor, pipeline");
    }
    double previous = 0.0;
    std::string previous_model;
    for (std::size_t i = 0; i < rungs.items.size(); ++i) {
        const std::string path = fmt::format("rungs[{}]", i);
        TableReader rr(detail::as_table(rungs.items[i], path), path);
        FamilyRung rung;
        const Node& model = rr.required("model", "a catalog model, e.g. \"llama-3.1-8b\"");
        rung.model = detail::as_string(model, path + ".model");
        rung.where = model.where;
        auto degree = [&](const char* key) {
            const Node* n = rr.optional(key);
            return n == nullptr ? 1 : detail::as_int(*n, path + "." + key, 1, 1 << 16);
        };
        rung.tensor = degree("tensor");
        rung.pipeline = degree("pipeline");
        rung.expert = degree("expert");
        const Node* expert_tensor = rr.optional("expert_tensor");
        if (expert_tensor != nullptr) rung.expert_tensor = degree("expert_tensor");
        if (const Node* note = rr.optional("note")) rung.note = detail::as_string(*note, path + ".note");
        rr.finish();
        const ModelSpec spec = [&] {
            try {
                return load_model(rung.model, dir);
            } catch (const ScenarioError& e) {
                throw ScenarioError(rung.where, e.message(), e.hint());
            }
        }();
        if (expert_tensor != nullptr && !spec.moe) {
            throw ScenarioError(expert_tensor->where, fmt::format("{}.expert_tensor: {} has no routed experts", path, rung.model),
                                "remove expert_tensor from this rung (it applies to MoE models)");
        }
        const double total = count_parameters(spec).total;
        if (total <= previous) {
            throw ScenarioError(rung.where,
                                fmt::format("rung {} ({}, {} parameters) is not larger than the rung before it ({}, {})", i,
                                            rung.model, format_count(total), previous_model, format_count(previous)),
                                "order the rungs smallest model first");
        }
        previous = total;
        previous_model = rung.model;
        f.rungs.push_back(std::move(rung));
    }
    r.finish();
    return f;
}

}  // namespace gpuhours
