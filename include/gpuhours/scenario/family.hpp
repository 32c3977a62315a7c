// Model families (scenarios/families/<id>.toml): a ladder of catalog models of one shape, smallest first, each with
// the layout (tensor, pipeline, expert degrees) it trains with, for `gpuhours capacity`'s largest-model question.
//
//   name = "Llama-like dense"
//   source = "…"
//   [[rungs]]
//   model = "llama-3.1-8b"          # scenarios/models/llama-3.1-8b.toml
//   tensor = 1
//   pipeline = 1
//   expert = 1                      # optional, default 1
//   expert_tensor = 1               # optional, MoE only: the routed experts' tensor degree (default: tensor);
//                                   # another value folds the experts over the stage's ranks (docs/moe.md)
//   note = "…"                      # optional: where the layout comes from
#pragma once

#include <gpuhours/units/error.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace gpuhours {

struct FamilyRung {
    std::string model;  // catalog id
    int tensor = 1, pipeline = 1, expert = 1;
    int expert_tensor = 0;  // 0: unset (the tensor degree)
    std::string note;
    SourceRef where;
};

struct ModelFamily {
    std::string id, name, source;
    std::vector<FamilyRung> rungs;  // smallest first
};

// Reads scenarios/families/<name>.toml under `catalog_dir` (default: default_catalog_dir()), or a path to a file.
// Throws ScenarioError at file:line:column for an unknown key, a missing model, a degree below 1, expert_tensor on
// a dense model, or rungs not ordered by total parameters; an unknown family names the known ones.
ModelFamily load_model_family(const std::string& name, const std::filesystem::path& catalog_dir = {});

}  // namespace gpuhours
