// `gpuhours model`: a model's parameters, FLOPs per token and, for a scenario, its memory per GPU rank by rank and
// every phase's fit.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/report/report.hpp>
#include <gpuhours/report/schema.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/workload/workload.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

namespace gpuhours::cli {
namespace {

// ---- model --------------------------------------------------------------------------------------------

bool looks_like_file(const std::string& arg) {
    return arg.find('/') != std::string::npos || arg.ends_with(".toml") || std::filesystem::exists(arg);
}

// The parameter counts beside the model card's.
std::string parameters_table(const ModelSpec& model, const ParameterCount& params) {
    report::Table t({"parameters", "count", "published"});
    auto published = [](const std::optional<double>& v) { return v ? format_count(*v) : std::string("—"); };
    t.add_row({"total", format_count(params.total), published(model.published_total_parameters)});
    // Model cards differ on whether "active" counts the input-embedding table (a lookup): DeepSeek does not (37B),
    // Meta's Llama 4 Maverick does (17B); both readings are shown so a published figure can be compared.
    // MiniMax-01 counts neither table (45.9B).
    const bool with_embedding = model.published_active_counts_embedding;
    const bool without_head = !model.published_active_counts_head;
    t.add_row({"active per token", format_count(params.active),
               with_embedding || without_head ? "" : published(model.published_active_parameters)});
    t.add_row({"  with the input embedding", format_count(params.active_with_embedding),
               with_embedding ? published(model.published_active_parameters) : ""});
    if (without_head) {
        t.add_row({"  without the output head", format_count(params.active_without_head),
                   published(model.published_active_parameters)});
    }
    t.add_row({"embedding", format_count(params.embedding), ""});
    t.add_row({"output head", format_count(params.output_head), ""});
    if (model.mtp_depth > 0) t.add_row({"MTP modules (not in total)", format_count(params.mtp), ""});
    return t.render() + "\n";
}

// The model's layer pattern, when it has one: dense and MoE layers interleaved, linear and sliding-window layers.
std::string layer_pattern_text(const ModelSpec& model, const ParameterCount& params) {
    std::string out;
    if (model.moe && params.dense_layers > 0) {
        out += fmt::format("layers: {} dense, {} MoE{}\n", params.dense_layers, params.moe_layers,
                           model.moe->layer_frequency > 1
                               ? fmt::format(" (every {} after the first {})", model.moe->layer_frequency, model.moe->dense_layers)
                               : std::string());
    }
    int linear = 0;
    for (int l = 0; l < model.layers; ++l) linear += is_linear_attention_layer(model, l) ? 1 : 0;
    if (model.attention.linear) {
        out += fmt::format("attention: {} linear (lightning, blocks of {} tokens), {} softmax\n", linear,
                           model.attention.linear_block, model.layers - linear);
    }
    if (model.attention.sliding_window > 0) {
        int windowed = 0;
        for (int l = 0; l < model.layers; ++l) windowed += is_windowed_layer(model, l) ? 1 : 0;
        out += fmt::format("attention: {} layers through a sliding window of {} tokens, {} with full attention{}\n",
                           windowed, model.attention.sliding_window, model.layers - linear - windowed,
                           model.attention.sinks ? "; attention sinks" : "");
    }
    return out.empty() ? out : out + "\n";
}

// `model`'s sequence: --sequence-length (the range of training.sequence_length, read_training.cpp) or `fallback`. A
// learned position table has no row past its length, refused as check_position_table refuses the scenario key.
int sequence_of(const ParsedArgs& args, const ModelSpec& model, int fallback) {
    if (!args.has("--sequence-length")) return fallback;
    const int n = static_cast<int>(whole_number("--sequence-length", args.get("--sequence-length"), 1, 100'000'000));
    if (model.position == PositionKind::learned && n > model.max_position_embeddings) {
        throw Error(fmt::format("--sequence-length {} is longer than model \"{}\"'s learned position table ({} positions, "
                                "max_position_embeddings)", n, model.id, model.max_position_embeddings),
                    fmt::format("use at most {} tokens, or a model with more positions", model.max_position_embeddings));
    }
    return n;
}

// Every simulated phase's fit, each at its own layout, sequence and batch (as `run` and `check` require them), when
// the scenario has [[phases]]: `model`'s table shows the scenario's own [parallelism] and [training] only (an audit
// read the flagship's table as covering its CP8 and CP32 phases too).
struct PhaseFit {
    std::string name;
    std::string layout;
    FitCheck fit;
};
std::vector<PhaseFit> phase_fits(const Scenario& s) {
    std::vector<PhaseFit> out;
    if (!s.phases_given || s.phases.size() < 2) return out;
    for (const auto& ph : s.phases) {
        if (ph.quoted_gpu_hours) continue;
        const Scenario one = scenario_of_phase(s, ph, ph.training.global_batch);
        const ParallelLayout& p = one.parallel;
        out.push_back({ph.name,
                       fmt::format("{}, sequence {}, recompute {}", describe_degrees(p), one.training.sequence_length,
                                   describe_recompute(p)),
                       fit_of(one)});
    }
    return out;
}

// `model`'s memory: the scenario's layout rank by rank, its fit, the replayed layer, each phase's fit.
void model_memory_text(std::ostream& out, const Scenario& s, int sequence_length, const FitCheck& fit,
                       const std::vector<MemoryBreakdown>& stages) {
    // The memory is the scenario's, at its own sequence: said when --sequence-length gave the FLOPs another.
    const std::string at_sequence = sequence_length == s.training.sequence_length
                                        ? std::string()
                                        : fmt::format(", at the scenario's sequence {} (--sequence-length sets the FLOPs only)",
                                                      s.training.sequence_length);
    out << fmt::format("memory per GPU on {} ({}), layout TP{} PP{} DP{} EP{} CP{}{}, ZeRO-{}, recompute {}{}:\n",
                       s.cluster.chip.display_name, s.cluster.chip.memory_basis(), s.parallel.tensor,
                       s.parallel.pipeline, s.parallel.data, s.parallel.expert, s.parallel.context,
                       s.parallel.folds_experts() ? fmt::format(" ETP{}", s.parallel.expert_tensor_degree()) : std::string(),
                       s.parallel.zero_stage, describe_recompute(s.parallel), at_sequence);
    std::vector<std::string> headers{"pipeline rank"};
    for (const auto& term : stages.front().terms()) headers.emplace_back(term.name);
    headers.emplace_back("total");
    headers.emplace_back("fits");
    report::Table m(headers);
    for (const auto& st : stages) {
        std::vector<std::string> row{std::to_string(st.stage)};
        for (const auto& term : st.terms()) row.push_back(format_bytes(term.bytes));
        row.push_back(format_bytes(st.total()));
        row.push_back(st.total() <= fit.capacity ? "yes" : "NO");
        m.add_row(row);
    }
    out << m.render();
    const auto largest = fit.breakdown.largest_term();
    if (fit.fits) {
        out << fmt::format("\nfits: worst rank {} needs {} of {} ({} headroom)\n", fit.breakdown.stage,
                           format_bytes(fit.breakdown.total()), format_bytes(fit.capacity),
                           format_bytes(fit.headroom));
    } else {
        out << fmt::format("\nDOES NOT FIT: rank {} needs {} of {} ({} over); the largest term is {} ({})\n",
                           fit.breakdown.stage, format_bytes(fit.breakdown.total()), format_bytes(fit.capacity),
                           format_bytes(Bytes(-fit.headroom.value())), largest.name, format_bytes(largest.bytes));
    }
    if (fit.breakdown.replayed_layer.value() > 0.0) {
        out << fmt::format("activations include {} for the layer full recompute replays in the backward (one micro-batch, "
                           "held until that layer's backward ends)\n",
                           format_bytes(fit.breakdown.replayed_layer));
    }
    if (const auto phases = phase_fits(s); !phases.empty()) {
        out << "\nthe table is the scenario's [parallelism] at its [training] sequence; each phase at its own layout:\n";
        for (const auto& ph : phases) {
            out << fmt::format("  {} ({}): {} rank {} needs {} of {}\n", ph.name, ph.layout, ph.fit.fits ? "fits," : "DOES NOT FIT:",
                               ph.fit.breakdown.stage, format_bytes(ph.fit.breakdown.total()), format_bytes(ph.fit.capacity));
        }
    }
}

// `model --json`'s memory: the chip, its memory in whole bytes, the fit, the worst pipeline rank's terms and every
// rank's, as the text's table lists them.
void model_memory_json(report::Json& j, const Scenario& s, const FitCheck& fit, const std::vector<MemoryBreakdown>& stages) {
    j.key("memory").begin_object();
    chip_json(j, s);
    memory_bytes_json(j, s.cluster.chip);
    j.field("fits", fit.fits).field("worst_stage", fit.breakdown.stage);
    j.field("largest_term", fit.breakdown.largest_term().name);
    j.key("worst_stage_bytes").begin_object();
    for (const auto& term : fit.breakdown.terms()) j.field(term.name, term.bytes.value());
    j.field("total", fit.breakdown.total().value());
    j.end_object();
    j.key("stages").begin_array();
    for (const auto& st : stages) {
        j.begin_object().field("stage", st.stage).key("bytes").begin_object();
        for (const auto& term : st.terms()) j.field(term.name, term.bytes.value());
        j.field("total", st.total().value()).end_object();
        j.field("fits", st.total() <= fit.capacity).end_object();
    }
    j.end_array();
    j.field("replayed_layer_bytes", fit.breakdown.replayed_layer.value());
    j.key("phases").begin_array();
    for (const auto& ph : phase_fits(s)) {
        j.begin_object().field("phase", ph.name).field("fits", ph.fit.fits).field("worst_stage", ph.fit.breakdown.stage);
        j.field("total", ph.fit.breakdown.total().value()).end_object();
    }
    j.end_array();
    j.end_object();
}


int model_command(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "model");
    const std::string& target = single_positional(args, "model", "NAME|SCENARIO");
    std::optional<Scenario> scenario;
    ModelSpec model;
    if (looks_like_file(target)) {
        // A catalog model's file name where no such file is ("llama-3.1-8b.toml"): the name it means (an audit).
        std::error_code ec;
        const std::filesystem::path as_given(target);
        if (!std::filesystem::exists(as_given, ec) && as_given.extension() == ".toml" && !as_given.has_parent_path() &&
            std::filesystem::is_regular_file(catalog_dir(args) / "models" / as_given, ec)) {
            throw Error(fmt::format("no file \"{}\" here; the model catalog has one of that name", target),
                        fmt::format("name the catalog model without .toml: gpuhours model {}", as_given.stem().string()));
        }
        scenario = load_scenario(target, load_options(args));
        model = scenario->model;
    } else {
        if (args.has("--set")) throw Error("--set applies to a scenario file, not a catalog model name");
        model = load_model(target, catalog_dir(args));
    }
    // A catalog name alone: 4,096 tokens, or a learned position table's length when it is shorter (GPT-2/3-style
    // models, 2,048), as the scenario key would have to be.
    const int default_sequence = model.position == PositionKind::learned && model.max_position_embeddings > 0
                                     ? std::min(4096, model.max_position_embeddings)
                                     : 4096;
    const int sequence_length = sequence_of(args, model, scenario ? scenario->training.sequence_length : default_sequence);
    const ParameterCount params = count_parameters(model);
    // The vocabulary as the scenario's layout trains it; a catalog name alone: one GPU at the default multiple.
    const ParallelLayout layout = scenario ? scenario->parallel : ParallelLayout{};
    const long long padded_vocab = layout.padded_vocab(model.vocab);
    const FlopsPerToken causal = training_flops_breakdown(model, sequence_length, AttentionMask::causal);
    const FlopsPerToken full = training_flops_breakdown(model, sequence_length, AttentionMask::full);
    std::optional<FitCheck> fit;
    std::vector<MemoryBreakdown> stages;
    if (scenario) {
        stages = memory_per_stage(model, scenario->parallel, scenario->training.precision, shape_of(*scenario),
                                  memory_options_of(*scenario));
        fit = check_fit(memory_per_gpu(model, scenario->parallel, scenario->training.precision, shape_of(*scenario),
                                       memory_options_of(*scenario)),
                        scenario->cluster.chip.memory_capacity);
    }

    if (args.has("--json")) {
        report::Json j;
        j.begin_object().field("schema_version", report::kJsonSchemaVersion);
        j.field("model", model.id).field("name", model.display_name);
        j.field("vocab", model.vocab).field("vocab_padded", static_cast<std::int64_t>(padded_vocab));
        j.key("parameters").begin_object();
        j.field("total", params.total).field("active", params.active).field("active_with_embedding", params.active_with_embedding);
        j.field("active_without_head", params.active_without_head);
        j.field("embedding", params.embedding).field("output_head", params.output_head).field("mtp", params.mtp);
        if (model.published_total_parameters) j.field("published_total", *model.published_total_parameters);
        if (model.published_active_parameters) j.field("published_active", *model.published_active_parameters);
        j.end_object();
        j.key("flops_per_token").begin_object();
        j.field("sequence_length", sequence_length);
        j.field("training_causal_flop", causal.total.value()).field("training_full_flop", full.total.value());
        j.field("forward_matmul_flop", causal.forward_matmul.value());
        j.field("six_n_active_flop", 6.0 * params.active);
        j.end_object();
        if (fit) model_memory_json(j, *scenario, *fit, stages);
        j.end_object();
        out << j.str();
        return 0;
    }

    out << fmt::format("{} ({})\n", model.display_name, model.id);
    out << fmt::format("vocabulary {}\n\n", vocab_text(model.vocab, layout));
    out << parameters_table(model, params);
    out << layer_pattern_text(model, params);

    out << fmt::format("training FLOPs per token at sequence {} (forward + backward, model FLOPs):\n",
                       sequence_length);
    out << fmt::format("  {} causal attention, {} full (non-causal) attention; 6 × active parameters (norms and biases "
                       "included) = {}\n\n",
                       format_flops(causal.total), format_flops(full.total), format_flops(Flops(6.0 * params.active)));

    if (!fit) {
        out << "memory per GPU: give a scenario file (model, cluster and layout) to see it, e.g.\n"
               "  gpuhours model scenarios/deepseek-v3.toml\n";
        return 0;
    }
    model_memory_text(out, *scenario, sequence_length, *fit, stages);
    return 0;
}

}  // namespace

int cmd_model(const Args& args, std::ostream& out) { return model_command(args, out); }

}  // namespace gpuhours::cli
