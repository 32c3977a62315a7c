// Reads [training] (tokens, batch, precisions, attention kernel) and the [[phases]] that refine it.
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <gpuhours/scenario/limits.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace gpuhours::detail {
namespace {

constexpr std::string_view kTokensHint =
    "the largest published pre-training runs are tens of trillions of tokens (\"15T\"); check the count's suffix";

Precision read_precision(TableReader& r, std::string_view key, Precision fallback) {
    std::vector<std::pair<std::string_view, Precision>> choices;
    for (Precision p : kAllPrecisions) choices.emplace_back(to_string(p), p);
    return read_choice<Precision>(r, key, choices, fallback);
}

// A phase's own rental price, `gpu_hour = "$2.5"`.
void read_phase_price(TableReader& r, PhaseSpec& ph) {
    if (const Node* n = r.optional("gpu_hour")) {
        ph.gpu_hour = detail::as_quantity(*n, r.path_of("gpu_hour"), parse_dollars, "$2");
        if (ph.gpu_hour->value() < 0) {
            throw KeyError(n->where, n->where, false, fmt::format("`{}` cannot be negative", r.path_of("gpu_hour")), "e.g. gpu_hour = \"$2\"",
                           stand_in(n->where, Node::Kind::string, 0, 0.0, "$2"));
        }
        if (!(ph.gpu_hour->value() <= limits::kGpuHourPriceMax)) {
            throw KeyError(n->where, n->where, false,
                           fmt::format("`{}` = \"{}\" is beyond the supported range of prices per GPU-hour (limit ${:g})",
                                       r.path_of("gpu_hour"), n->text, limits::kGpuHourPriceMax),
                           "a GPU-hour rents for dollars (an H100 about $2–3): check the suffix, e.g. gpu_hour = \"$2.35\"",
                           stand_in(n->where, Node::Kind::string, 0, 0.0, "$2"));
        }
    }
}

// A phase's batch_ramp = { from, tokens } (at `path`), checked against the phase `ph` (named `name`).
BatchRamp read_ramp(const Node& ramp, const std::string& path, const PhaseSpec& ph, const std::string& name) {
    TableReader rr(detail::as_table(ramp, path), path);
    BatchRamp b;
    const Node& from = rr.required("from", "the global batch the ramp starts at");
    b.from = detail::as_int(from, rr.path_of("from"), 1, kMaxInt);
    const Node& rt = rr.required("tokens", "the tokens over which the batch grows");
    b.tokens = detail::as_count(rt, rr.path_of("tokens"));
    require_positive(b.tokens, rt, rr.path_of("tokens"), "a token count");
    rr.finish();
    const long long unit = 1LL * ph.parallel.data * ph.parallel.micro_batch;
    // Rules between the ramp and the phase, located at the ramp's key; for the search for every mistake,
    // a value that satisfies each (data × micro_batch; the phase's tokens), when there is one.
    if (b.from >= ph.training.global_batch || b.from % unit != 0) {
        throw CoupledError(from.where,
                           fmt::format("{} = {} must be below global_batch = {} and a multiple of data × "
                                       "micro_batch = {}", rr.path_of("from"), b.from, ph.training.global_batch, unit),
                           "every batch of the ramp must split into whole micro-batches per replica",
                           unit < ph.training.global_batch ? stand_in(from.where, Node::Kind::integer, unit) : nullptr,
                           {"training.batch_ramp.from", "training.global_batch", "parallelism.data",
                            "parallelism.micro_batch", "parallelism.tensor", "parallelism.context",
                            "parallelism.pipeline", "cluster.gpus"})
            .in_phase(name, false);
    }
    // The ramp is simulated at limits::kRampLevels levels, each over an equal share of its tokens and at a batch up to
    // the phase's: fewer tokens than a step at the full batch per level rounds a level to 0 steps (a scenario-language
    // audit, session 51; a reviewer found the first rule, one step at `from`, let 300K tokens through to four levels
    // of 0 steps).
    // Judged where the phase itself is long enough for such a ramp: a shorter phase is refused by its own rules (and
    // a stand-in phase of one token, in the search for every mistake, must not make this a mistake of its own).
    const double least = static_cast<double>(limits::kRampLevels) * ph.training.global_batch * ph.training.sequence_length;
    if (b.tokens < least && ph.tokens >= least) {
        throw CoupledError(rt.where,
                           fmt::format("{}: the batch ramp's {} tokens give its {} levels fewer than one step each at the "
                                       "phase's batch ({} × {} sequences of {} tokens = {} tokens at least)",
                                       name, format_count(b.tokens), limits::kRampLevels, limits::kRampLevels,
                                       ph.training.global_batch, ph.training.sequence_length, format_count(least)),
                           "make batch_ramp.tokens many steps long (a ramp grows the batch over billions of tokens), or "
                           "leave the ramp out",
                           stand_in(rt.where, Node::Kind::floating, 0, std::min(ph.tokens, least)),
                           {"training.batch_ramp.tokens", "training.batch_ramp.from", "training.sequence_length"})
            .in_phase(name, false);
    }
    // The phase reaches its own batch: at least one step at it after the ramp. A ramp over the whole phase would
    // leave its batch (the one the phase is judged and headlined at) no tokens (a crash before session 53's audit).
    // Judged where the phase is at least a step long, as every phase that passed its own rules is (a stand-in phase
    // shorter than a step, in the search for every mistake, keeps the plain bound: its own error is reported, not the
    // ramp's). A phase of exactly one step leaves no room: any ramp is refused (a reviewer's case).
    const double full_step = static_cast<double>(ph.training.global_batch) * ph.training.sequence_length;
    const double room = ph.tokens >= full_step ? ph.tokens - full_step : ph.tokens;
    if (b.tokens > room) {
        const std::string what = b.tokens > ph.tokens
                                     ? fmt::format("is longer than the phase ({} tokens)", format_count(ph.tokens))
                                     : fmt::format("leaves the phase ({} tokens) less than one step at its full batch "
                                                   "({} × {} = {} tokens)",
                                                   format_count(ph.tokens), ph.training.global_batch,
                                                   ph.training.sequence_length, format_count(full_step));
        throw CoupledError(rt.where,
                           fmt::format("{}: the batch ramp ({} tokens) {}", name, format_count(b.tokens), what),
                           "make batch_ramp.tokens at most the phase's tokens less one step at its full batch",
                           room > 0.0 ? stand_in(rt.where, Node::Kind::floating, 0, room) : nullptr,
                           {"training.batch_ramp.tokens", "training.tokens", "training.steps",
                            "training.global_batch", "training.sequence_length"})
            .in_phase(name, false);
    }
    return b;
}

// `first_last_layers_bf16` (with precision = "fp8"): the first and last transformer layers in BF16, as many as
// `num_layers_at_start_in_bf16` and `num_layers_at_end_in_bf16` say (each 1 unless written; Megatron-Core's flags).
void read_bf16_layers(TableReader& r, bool fp8, MixedPrecision& p) {
    const Node* flag = r.optional("first_last_layers_bf16");
    const bool on = flag != nullptr && detail::as_bool(*flag, r.path_of("first_last_layers_bf16"));
    if (on && !fp8) {
        throw CoupledError(flag->where, fmt::format("first_last_layers_bf16 = true keeps layers of an FP8 step in BF16, but precision is {}",
                                                    to_string(p.compute)),
                           "set precision = \"fp8\", or remove first_last_layers_bf16", nullptr,
                           {"training.first_last_layers_bf16", "training.precision"});
    }
    for (const char* key : {"num_layers_at_start_in_bf16", "num_layers_at_end_in_bf16"}) {
        const Node* n = r.optional(key);
        const bool start = std::string_view(key) == "num_layers_at_start_in_bf16";
        int& count = start ? p.bf16_layers_at_start : p.bf16_layers_at_end;
        if (n == nullptr) {
            count = on ? 1 : 0;
            continue;
        }
        if (!on) {
            throw CoupledError(n->where, fmt::format("{} counts the layers first_last_layers_bf16 keeps in BF16, which is not set", key),
                               "add first_last_layers_bf16 = true (with precision = \"fp8\"), or remove the count", nullptr,
                               {std::string("training.") + key, "training.first_last_layers_bf16"});
        }
        count = detail::as_int(*n, r.path_of(key), 0, limits::kLayers);
    }
}

// `fp8_recipe`: with precision = "fp8" one of the FP8 recipes (default delayed, Megatron-Core's default), and
// the chip must have that recipe's GEMM figure; with any other precision only "none" (the default).
void read_fp8_recipe(TableReader& r, const Node& node, const ChipProfile& chip, MixedPrecision& p) {
    const bool fp8 = p.compute == Precision::fp8;
    std::vector<std::pair<std::string_view, Fp8Recipe>> choices;
    for (Fp8Recipe recipe : kAllFp8Recipes) choices.emplace_back(to_string(recipe), recipe);
    p.fp8_recipe = read_choice<Fp8Recipe>(r, "fp8_recipe", choices, fp8 ? Fp8Recipe::delayed : Fp8Recipe::none);
    const Node* written = r.optional("fp8_recipe");
    const SourceRef at = written ? written->where : node.where;
    const auto placeholder = [&](std::string_view value) { return stand_in(at, Node::Kind::string, 0, 0.0, std::string(value)); };
    if (!fp8 && p.fp8_recipe != Fp8Recipe::none) {
        throw CoupledError(at,
                           fmt::format("fp8_recipe = \"{}\" scales FP8 GEMMs, but precision is {}", to_string(p.fp8_recipe),
                                       to_string(p.compute)),
                           "set precision = \"fp8\", or remove fp8_recipe (or write fp8_recipe = \"none\")",
                           placeholder("none"), {"training.precision", "training.fp8_recipe"});
    }
    if (fp8 && p.fp8_recipe == Fp8Recipe::none) {
        throw CoupledError(at, "fp8_recipe = \"none\" with precision = \"fp8\": FP8 GEMMs need a scaling recipe",
                           "write one of delayed, tensorwise, rowwise, blockwise, mxfp8, or set precision = \"bf16\"",
                           placeholder("delayed"), {"training.precision", "training.fp8_recipe"});
    }
    if (fp8 && !(chip.efficiency.fp8_gemm(p.fp8_recipe) > 0.0)) {
        std::string has;
        for (Fp8Recipe recipe : kAllFp8Recipes) {
            if (recipe != Fp8Recipe::none && chip.efficiency.fp8_gemm(recipe) > 0.0) {
                has += (has.empty() ? "" : ", ") + std::string(to_string(recipe));
            }
        }
        throw CoupledError(at,
                           fmt::format("chip \"{}\" has no efficiency.{} figure, so it cannot run the {} FP8 recipe",
                                       chip.id, fp8_efficiency_key(p.fp8_recipe), to_string(p.fp8_recipe)),
                           fmt::format("use a recipe the chip's catalog entry measures ({}), or set efficiency.{} in "
                                       "[cluster.chip]",
                                       has.empty() ? "none" : has, fp8_efficiency_key(p.fp8_recipe)),
                           placeholder("delayed"), {"training.fp8_recipe", "cluster.chip"});
    }
    read_bf16_layers(r, fp8, p);
    if (const Node* g = r.optional("fp8_param_gather")) {
        p.fp8_param_gather = detail::as_bool(*g, r.path_of("fp8_param_gather"));
        if (p.fp8_param_gather && !fp8) {
            throw CoupledError(g->where, fmt::format("fp8_param_gather = true gathers the FP8 GEMMs' weights in FP8, but precision is {}",
                                                     to_string(p.compute)),
                               "set precision = \"fp8\", or remove fp8_param_gather", nullptr,
                               {"training.fp8_param_gather", "training.precision"});
        }
        if (p.fp8_param_gather && p.fp8_recipe == Fp8Recipe::rowwise) {
            throw CoupledError(g->where, "fp8_param_gather = true with fp8_recipe = \"rowwise\": no framework gathers row-wise scaled "
                               "weights in FP8 (Megatron-Core has no row-wise recipe; torchao's float8 all-gather is tensor-wise)",
                               "use fp8_recipe = \"tensorwise\" or \"delayed\", or remove fp8_param_gather", nullptr,
                               {"training.fp8_param_gather", "training.fp8_recipe"});
        }
    }
}

}  // namespace

TrainingSpec read_training(const Node& node, const ChipProfile& chip, bool tokens_required, const std::string& name) {
    TrainingSpec t;
    TableReader r(node, name);
    if (tokens_required || r.has("tokens")) {
        const Node& tokens = r.required("tokens", "add `tokens = \"14.8T\"` (training tokens), or [[phases]]");
        t.tokens = detail::as_count(tokens, "training.tokens");
        require_positive(t.tokens, tokens, "training.tokens", "a token count");
        require_within(t.tokens, tokens, "training.tokens", "token counts", 0.0, limits::kTokensMax, "", kTokensHint);
    }
    t.sequence_length = read_limited(r, "sequence_length", 1, limits::kSequenceLength, "sequence lengths");
    t.global_batch = read_int(r, "global_batch", 1, kMaxInt);
    t.precision.compute = read_precision(r, "precision", Precision::bf16);
    t.precision.parameters = read_precision(r, "parameters", Precision::bf16);
    t.precision.master_weights = read_precision(r, "master_weights", Precision::fp32);
    t.precision.optimizer_state = read_precision(r, "optimizer_state", Precision::fp32);
    t.precision.gradients = read_precision(r, "gradients", Precision::fp32);
    // Activations are kept in the 16-bit format the step computes in: FP16 for an FP16 run (Megatron-LM 2021, GPT-3
    // era), BF16 otherwise (FP8 runs keep BF16 activations between their GEMMs). Both are 2 B.
    t.precision.activations =
        read_precision(r, "activations", t.precision.compute == Precision::fp16 ? Precision::fp16 : Precision::bf16);
    if (r.has("dispatch_precision")) t.precision.dispatch = read_precision(r, "dispatch_precision", Precision::bf16);
    if (r.has("combine_precision")) t.precision.combine = read_precision(r, "combine_precision", Precision::bf16);
    t.attention_kernel = read_choice<AttentionKernel>(
        r, "attention_kernel", {{"fused", AttentionKernel::fused}, {"materialized", AttentionKernel::materialized}},
        AttentionKernel::fused);
    if (const Node* d = r.optional("dropout")) t.dropout = detail::as_bool(*d, "training.dropout");
    if (const Node* g = r.optional("cuda_graphs")) t.cuda_graphs = detail::as_bool(*g, "training.cuda_graphs");
    t.gradient_accumulation = read_choice<GradientAccumulation>(
        r, "gradient_accumulation",
        {{"fused", GradientAccumulation::fused}, {"add", GradientAccumulation::add}, {"cast-add", GradientAccumulation::cast_add}},
        GradientAccumulation::fused);
    if (!chip.peak_dense.contains(t.precision.compute)) {
        const Node* p = r.optional("precision");
        std::string supported;
        for (const auto& [format, rate] : chip.peak_dense) supported += (supported.empty() ? "" : ", ") + std::string(to_string(format));
        // A rule between the precision and the chip: the search for every mistake reads on in BF16 when the chip
        // has it.
        const SourceRef at = p ? p->where : node.where;
        throw CoupledError(at,
                           fmt::format("chip \"{}\" has no {} peak, so it cannot compute in {}", chip.id,
                                       to_string(t.precision.compute), to_string(t.precision.compute)),
                           fmt::format("use one of the formats it supports: {}", supported),
                           p && chip.peak_dense.contains(Precision::bf16) ? stand_in(at, Node::Kind::string, 0, 0.0, "bf16") : nullptr,
                           {"training.precision", "cluster.chip"});
    }
    read_fp8_recipe(r, node, chip, t.precision);
    r.finish();
    return t;
}

void require_whole_step(double tokens, double tokens_per_step, const Node& node, std::string_view path, bool by_steps) {
    if (tokens >= tokens_per_step) return;
    auto one_step = std::make_shared<Node>(node);  // the value that satisfies the rule: one step (its tokens, or 1)
    one_step->kind = Node::Kind::floating;
    one_step->floating = by_steps ? 1.0 : tokens_per_step;
    throw CoupledError(node.where,
                        fmt::format("`{}` makes {} tokens, less than one step trains (global_batch × sequence_length = "
                                    "{} tokens)",
                                    path, format_count(tokens), format_count(tokens_per_step)),
                        "a run trains whole steps: write the tokens with their suffix (e.g. \"1.5T\"), or at least one step",
                        std::move(one_step));
}

// [[phases]]: each phase's keys override [training] (tokens or steps, sequence_length, global_batch) and, in
// [phases.parallelism], [parallelism]; the result is validated like the scenario itself.
std::vector<PhaseSpec> read_phases(const Node& node, const Scenario& base, const Node& training_node,
                                   const Node* parallel_node) {
    if (node.kind != Node::Kind::array || node.items.empty()) {
        throw ScenarioError(node.where, "`phases` must be a non-empty array of tables", "write each phase as a [[phases]] block");
    }
    std::vector<PhaseSpec> out;
    for (std::size_t i = 0; i < node.items.size(); ++i) {
        const std::string name = fmt::format("phases[{}]", i);
        const Node& item = detail::as_table(node.items[i], name);
        TableReader r(item, name);
        PhaseSpec ph;
        ph.where = item.where;
        ph.name = detail::as_string(r.required("name", "name the phase, e.g. \"pre-training\""), r.path_of("name"));
        // Rows, figures and --set paths in the output name a phase by its name: two alike would be told apart by
        // nothing (a scenario-language audit, session 51).
        for (std::size_t j = 0; j < out.size(); ++j) {
            if (out[j].name != ph.name) continue;
            throw ScenarioError(r.optional("name")->where,
                                fmt::format("phases[{}] and phases[{}] are both named \"{}\"", j, i, ph.name),
                                "give each phase its own name (the output's rows and figures are named by it)");
        }
        if (const Node* q = r.optional("gpu_hours")) {
            ph.quoted_gpu_hours = detail::as_count(*q, r.path_of("gpu_hours"));
            require_positive(*ph.quoted_gpu_hours, *q, r.path_of("gpu_hours"), "GPU-hours");
            require_within(*ph.quoted_gpu_hours, *q, r.path_of("gpu_hours"), "quoted GPU-hours", 0.0, limits::kGpuHoursMax, "", "a quoted figure this large is a wrong unit or exponent (the largest published runs are tens of millions of GPU-hours)");
            ph.quoted_source = detail::as_string(r.required("source", "a phase that quotes GPU-hours must cite where they come from"),
                                                 r.path_of("source"));
            read_phase_price(r, ph);
            for (const char* key : {"tokens", "steps", "sequence_length", "global_batch", "batch_ramp", "parallelism"}) {
                if (const Node* extra = r.optional(key)) {
                    throw ScenarioError(extra->where, fmt::format("{} quotes gpu_hours, so `{}` would be ignored", name, key),
                                        "a phase either quotes GPU-hours or describes tokens to simulate, not both");
                }
            }
            r.finish();
            ph.training = base.training;
            ph.parallel = base.parallel;
            out.push_back(ph);
            continue;
        }
        if (const Node* src = r.optional("source")) (void)detail::as_string(*src, r.path_of("source"));
        read_phase_price(r, ph);
        // The phase's [training]: the scenario's, with this phase's keys on top.
        Node t = training_node;
        t.erase("tokens");
        for (const char* key : {"sequence_length", "global_batch"}) {
            if (const Node* v = r.optional(key)) t.set(key, *v, v->where);
        }
        Node p;
        p.kind = Node::Kind::table;
        p.where = item.where;
        if (parallel_node != nullptr) p = *parallel_node;
        if (const Node* over = r.optional("parallelism")) detail::merge_into(p, detail::as_table(*over, r.path_of("parallelism")));
        int data_given = 0;
        Scenario copy = base;
        // Named after the phase: a mistake in one of its keys reads `phases[1].sequence_length`, not `training.…`.
        copy.training = read_training(t, base.cluster.chip, false, name);
        copy.parallel = read_parallelism(p, base.cluster.gpus, &data_given, name + ".parallelism");
        copy.sources.parallelism = item.where;
        copy.sources.training = item.where;
        // The phase's keys where it writes them, else the scenario's: rules name the value that made this phase.
        for (const auto& [key, value] : t.fields) copy.sources.keys["training." + key] = value.where;
        for (const auto& [key, value] : p.fields) copy.sources.keys["parallelism." + key] = value.where;
        try {  // the layout's rules for this phase name it
            validate_layout(copy, data_given != 0 || parallel_node == nullptr);
        } catch (const CoupledError& e) {
            throw e.in_phase(name, true);
        } catch (const KeyError&) {
            throw;
        } catch (const ScenarioError& e) {
            throw ScenarioError(e.where(), name + ": " + e.message(), e.hint());
        }
        ph.training = copy.training;
        ph.parallel = copy.parallel;
        const double tokens_per_step = static_cast<double>(ph.training.global_batch) * ph.training.sequence_length;
        const Node* tokens = r.optional("tokens");
        const Node* steps = r.optional("steps");
        if ((tokens == nullptr) == (steps == nullptr)) {
            if (tokens == nullptr) {  // a misspelt `tokns` is the mistake to name, not the missing key
                r.allow("batch_ramp");
                r.finish();
            }
            const std::string message = fmt::format("{} needs exactly one of tokens or steps", name);
            const std::string hint = "e.g. tokens = \"14.8T\", or steps = 1000 (× global_batch × sequence_length tokens)";
            if (tokens != nullptr) throw ScenarioError(steps->where, message, hint);  // both: at the second, taken out
            // Neither: the search for every mistake reads on with one step.
            throw MissingKeyError(item.where, message, hint, "steps", stand_in(item.where, Node::Kind::integer, 1));
        }
        if (tokens != nullptr) {
            ph.tokens = detail::as_count(*tokens, r.path_of("tokens"));
            require_positive(ph.tokens, *tokens, r.path_of("tokens"), "a token count");
        } else {
            const double count = detail::as_count(*steps, r.path_of("steps"));
            if (std::isfinite(count) && count != std::floor(count)) {
                throw KeyError(steps->where, steps->where, false,
                               fmt::format("`{}` = {:g} is not a whole number of steps", r.path_of("steps"), count),
                               fmt::format("a run trains whole steps: write {:g} or {:g}", std::floor(count), std::ceil(count)),
                               stand_in(steps->where, Node::Kind::integer, static_cast<std::int64_t>(std::max(1.0, std::ceil(count)))));
            }
            ph.tokens = count * tokens_per_step;
            ph.by_steps = true;
            require_positive(ph.tokens, *steps, r.path_of("steps"), "a step count");
        }
        const Node& amount = tokens != nullptr ? *tokens : *steps;
        require_whole_step(ph.tokens, tokens_per_step, amount, tokens != nullptr ? r.path_of("tokens") : r.path_of("steps"),
                           tokens == nullptr);
        require_within(ph.tokens, amount, tokens != nullptr ? r.path_of("tokens") : r.path_of("steps") + " × tokens per step",
                       "token counts", 0.0, limits::kTokensMax, "", kTokensHint);
        if (const Node* ramp = r.optional("batch_ramp")) ph.ramp = read_ramp(*ramp, r.path_of("batch_ramp"), ph, name);
        r.finish();
        out.push_back(ph);
    }
    // A run simulates at least one phase: `run` refused a scenario whose phases all quote GPU-hours, unlocated, after
    // `check` said valid (a fresh verifier, #12).
    if (std::all_of(out.begin(), out.end(), [](const PhaseSpec& ph) { return ph.quoted_gpu_hours.has_value(); })) {
        throw ScenarioError(node.where, "every phase quotes its GPU-hours: there is no phase to simulate",
                            "give at least one phase `tokens` or `steps`");
    }
    return out;
}

}  // namespace gpuhours::detail
