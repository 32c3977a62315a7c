// Reads [parallelism] and checks the layout against the cluster, the model and the batch.
#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <gpuhours/training/placement.hpp>
#include <gpuhours/training/schedule.hpp>
#include <gpuhours/units/checked.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <cstdint>

namespace gpuhours::detail {
namespace {

// tensor × context × pipeline (× data when written), multiplied with overflow checks: a product past 2^63 is an
// error at the key whose degree made it overflow, never a wrapped number (a divisor of 0, or a product that
// happens to equal the GPU count).
void check_degree_product(const Node& table, const ParallelLayout& p, bool with_data) {
    std::int64_t product = 1;
    std::string names;
    const std::pair<const char*, int> degrees[] = {{"tensor", p.tensor}, {"context", p.context}, {"pipeline", p.pipeline}, {"data", p.data}};
    for (const auto& [key, degree] : degrees) {
        if (!with_data && std::string_view(key) == "data") break;
        names += names.empty() ? key : fmt::format(" × {}", key);
        const auto next = checked_mul(product, degree);
        if (!next) {
            throw ScenarioError(key_where(table, key),
                                fmt::format("`parallelism.{}` = {} takes {} beyond the supported range (limit 2^63)",
                                            key, degree, names),
                                "the product of the parallel degrees is the GPU count: choose degrees whose product "
                                "is cluster.gpus");
        }
        product = *next;
    }
}

}  // namespace

namespace {

// recompute, with recompute_num_layers (full) or recompute_modules (selective).
void read_recompute(TableReader& r, ParallelLayout& p, const std::string& name) {
    p.recompute = read_choice<Recompute>(
        r, "recompute", {{"none", Recompute::none}, {"selective", Recompute::selective}, {"full", Recompute::full}},
        Recompute::none);
    if (const Node* n = r.optional("recompute_num_layers")) {
        // 0: every layer, as when the key is absent (so that a --set can undo a file's N, as plan's line for a layout
        // without full recomputation must).
        p.recompute_num_layers = detail::as_int(*n, r.path_of("recompute_num_layers"), 0, kMaxInt);
        if (p.recompute != Recompute::full && p.recompute_num_layers > 0) {
            throw CoupledError(n->where,
                               fmt::format("`{}.recompute_num_layers` applies to recompute = \"full\" (Megatron-Core's block "
                                           "method), but recompute is \"{}\"",
                                           name, to_string(p.recompute)),
                               "set recompute = \"full\", or remove the key", nullptr,
                               {"parallelism.recompute_num_layers", "parallelism.recompute"});
        }
    }
    if (const Node* n = r.optional("recompute_modules")) {
        std::vector<std::string> names;
        for (RecomputeModule m : kAllRecomputeModules) names.emplace_back(to_string(m));
        const std::string list = fmt::format("\"{}\"", fmt::join(names, "\", \""));
        if (n->kind != Node::Kind::array || n->items.empty()) {
            throw ScenarioError(n->where, fmt::format("`{}.recompute_modules` must be a non-empty list of module names", name),
                                fmt::format("e.g. recompute_modules = [\"core_attn\", \"mlp\"]; the modules: {}", list));
        }
        for (std::size_t i = 0; i < n->items.size(); ++i) {
            const Node& item = n->items[i];
            const std::string path = fmt::format("{}.recompute_modules[{}]", name, i);
            const std::string text = detail::as_string(item, path);
            const auto m = recompute_module_from_string(text);
            if (text == "moe") {  // Megatron-Core's name for the whole MoE layer
                throw ScenarioError(item.where,
                                    fmt::format("`{}` = \"moe\": recomputing the whole MoE layer (Megatron-Core's \"moe\") re-runs "
                                                "its dispatch and combine all-to-alls, which is not modelled",
                                                path),
                                    "list \"moe_act\" and \"shared_experts\" for the experts' tensors, or use recompute = \"full\"");
            }
            if (!m) {
                const auto best = detail::suggest(text, names);
                throw ScenarioError(item.where, fmt::format("`{}` = \"{}\" is not a recompute module", path, text),
                                    best ? fmt::format("did you mean \"{}\"? (use one of {})", *best, list)
                                         : fmt::format("use one of {} (Megatron-Core's --recompute-modules)", list));
            }
            if ((p.recompute_modules & static_cast<unsigned>(*m)) != 0) {
                throw ScenarioError(item.where, fmt::format("`{}` = \"{}\" is listed twice", path, text),
                                    "list each module once");
            }
            p.recompute_modules |= static_cast<unsigned>(*m);
        }
        if (p.recompute != Recompute::selective) {
            throw CoupledError(n->where,
                               fmt::format("`{}.recompute_modules` applies to recompute = \"selective\", but recompute is \"{}\"",
                                           name, to_string(p.recompute)),
                               "set recompute = \"selective\", or remove the key", nullptr,
                               {"parallelism.recompute_modules", "parallelism.recompute"});
        }
    }
}

// How communication overlaps compute: gradient reduction, ZeRO-1/2's parameter gather, combined 1F1B, tensor- and
// context-parallel exchanges.
void read_overlaps(TableReader& r, ParallelLayout& p) {
    if (const Node* o = r.optional("overlap_gradient_reduce")) {
        p.overlap_gradient_reduce = detail::as_bool(*o, "parallelism.overlap_gradient_reduce");
        if (p.zero_stage >= 3 && !p.overlap_gradient_reduce) {
            throw CoupledError(o->where, "`parallelism.overlap_gradient_reduce = false` applies to ZeRO 0–2: ZeRO-3 reduce-scatters each unit's gradients as soon as its backward is done",
                               "remove the key, or set parallelism.zero to 0, 1 or 2", nullptr,
                               {"parallelism.overlap_gradient_reduce", "parallelism.zero"});
        }
    }
    if (const Node* o = r.optional("overlap_param_gather")) {
        p.overlap_param_gather = detail::as_bool(*o, "parallelism.overlap_param_gather");
        if (p.zero_stage != 1 && p.zero_stage != 2) {
            throw CoupledError(o->where,
                               fmt::format("`parallelism.overlap_param_gather` applies to ZeRO-1/2 (the distributed optimizer's "
                                           "parameter all-gather), but zero = {}", p.zero_stage),
                               p.zero_stage >= 3 ? "remove the key: ZeRO-3 gathers each unit's parameters before its forward and backward (prefetch)"
                                                 : "set parallelism.zero = 1 or 2, or remove the key",
                               nullptr, {"parallelism.overlap_param_gather", "parallelism.zero"});
        }
        if (p.overlap_param_gather && 1LL * p.data * p.context == 1) {
            throw CoupledError(o->where, "`parallelism.overlap_param_gather = true`, but a data × context group of one GPU gathers no parameters",
                               "remove the key, or use data parallelism (data > 1)", nullptr,
                               {"parallelism.overlap_param_gather", "parallelism.data", "parallelism.context"});
        }
        if (p.overlap_param_gather && !p.overlap_gradient_reduce) {
            throw CoupledError(o->where, "`parallelism.overlap_param_gather = true` needs overlap_gradient_reduce = true (Megatron-Core's "
                               "--overlap-param-gather requires --overlap-grad-reduce)",
                               "set overlap_gradient_reduce = true, or overlap_param_gather = false", nullptr,
                               {"parallelism.overlap_param_gather", "parallelism.overlap_gradient_reduce"});
        }
    }
    if (const Node* c = r.optional("combined_1f1b")) p.combined_1f1b = detail::as_bool(*c, "parallelism.combined_1f1b");
    if (const Node* o = r.optional("moe_shared_expert_overlap")) {
        p.moe_shared_expert_overlap = detail::as_bool(*o, "parallelism.moe_shared_expert_overlap");
    }
    if (const Node* o = r.optional("tp_comm_overlap")) p.tp_comm_overlap = detail::as_bool(*o, "parallelism.tp_comm_overlap");
    if (const Node* n = r.optional("tp_comm_overlap_sms")) {
        if (!p.tp_comm_overlap) {
            throw CoupledError(n->where, "`parallelism.tp_comm_overlap_sms` applies with tp_comm_overlap = true",
                               "set parallelism.tp_comm_overlap = true, or remove the key", nullptr,
                               {"parallelism.tp_comm_overlap_sms", "parallelism.tp_comm_overlap"});
        }
        p.tp_comm_overlap_sms = detail::as_int(*n, "parallelism.tp_comm_overlap_sms", 0, 100000);
    }
    if (const Node* cp = r.optional("cp_comm_type")) {
        if (cp->kind == Node::Kind::string && (cp->text == "a2a" || cp->text == "a2a+p2p")) {
            throw ScenarioError(cp->where,
                                fmt::format("`parallelism.cp_comm_type` = \"{}\": Megatron-Core's all-to-all context parallelism "
                                            "(DeepSpeed-Ulysses, scattering heads) is not modelled", cp->text),
                                "use \"p2p\" (ring attention, Megatron-Core's default) or \"all_gather\"");
        }
        p.cp_comm_type = read_choice<CpCommType>(r, "cp_comm_type", {{"p2p", CpCommType::p2p}, {"all_gather", CpCommType::all_gather}},
                                                 CpCommType::p2p);
        if (p.context <= 1) {
            throw CoupledError(cp->where, fmt::format("`parallelism.cp_comm_type` applies with context parallelism, but context = {}", p.context),
                               "set parallelism.context > 1, or remove the key", nullptr, {"parallelism.cp_comm_type", "parallelism.context"});
        }
    }
    if (const Node* d = r.optional("moe_token_dispatcher")) {
        if (d->kind == Node::Kind::string && d->text == "allgather") {
            throw ScenarioError(d->where, "`parallelism.moe_token_dispatcher` = \"allgather\": Megatron-Core's allgather dispatcher is not modelled",
                                "use \"alltoall\" (one copy of a token per routed expert) or \"deepep\" (one per destination node)");
        }
        if (d->kind == Node::Kind::string && (d->text == "flex" || d->text == "hybridep")) {
            throw ScenarioError(d->where,
                                fmt::format("`parallelism.moe_token_dispatcher` = \"{}\" is Megatron-Core's name; the dispatchers here are named "
                                            "by how they send a token: \"alltoall\" or \"deepep\"", d->text),
                                "write \"deepep\": the flex dispatcher, with DeepEP or HybridEP, sends a token once per destination node");
        }
        p.moe_dispatcher = read_choice<MoeDispatcher>(r, "moe_token_dispatcher",
                                                      {{"alltoall", MoeDispatcher::alltoall}, {"deepep", MoeDispatcher::deepep}},
                                                      MoeDispatcher::deepep);
    }
}

}  // namespace

ParallelLayout read_parallelism(const Node& node, int gpus, int* data_given, const std::string& name) {
    ParallelLayout p;
    TableReader r(node, name);
    p.tensor = read_int(r, "tensor", 1, kMaxInt, 1);
    p.pipeline = read_int(r, "pipeline", 1, kMaxInt, 1);
    p.context = read_int(r, "context", 1, kMaxInt, 1);
    p.expert = read_int(r, "expert", 1, kMaxInt, 1);
    p.expert_tensor = read_int(r, "expert_tensor", 1, kMaxInt, 0);
    if (const Node* d = r.optional("data")) {
        p.data = detail::as_int(*d, "parallelism.data", 1, kMaxInt);
        *data_given = 1;
        check_degree_product(node, p, true);
    } else {
        check_degree_product(node, p, false);
        const long long mp = p.model_parallel_ranks();
        p.data = static_cast<int>(std::max<long long>(1, gpus / std::max<long long>(1, mp)));
        *data_given = 0;
    }
    if (const Node* sp = r.optional("sequence_parallel")) p.sequence_parallel = detail::as_bool(*sp, "parallelism.sequence_parallel");
    p.zero_stage = read_int(r, "zero", 0, 3, 0);
    p.micro_batch = read_int(r, "micro_batch", 1, kMaxInt, 1);
    p.virtual_stages = read_int(r, "virtual_stages", 1, kMaxInt, 1);
    p.schedule = read_choice<Schedule>(r, "schedule",
                                       {{"gpipe", Schedule::gpipe},
                                        {"1f1b", Schedule::one_f_one_b},
                                        {"interleaved", Schedule::interleaved},
                                        {"zero-bubble", Schedule::zero_bubble},
                                        {"dualpipe", Schedule::dualpipe}},
                                       p.virtual_stages > 1 ? Schedule::interleaved : Schedule::one_f_one_b);
    read_recompute(r, p, name);
    p.communication_sms = read_int(r, "communication_sms", 0, 100000, 0);
    p.vocab_divisible_by = read_int(r, "vocab_divisible_by", 1, limits::kVocabDivisibleBy, 128);
    if (const Node* split = r.optional("layers_per_stage")) {
        if (split->kind != Node::Kind::array || split->items.empty()) {
            throw ScenarioError(split->where, fmt::format("`{}.layers_per_stage` must be a list of layer counts, one per pipeline chunk", name),
                                "e.g. layers_per_stage = [15, 16, 16, 14] for 61 layers on 4 stages (rank 0's chunk first)");
        }
        for (std::size_t i = 0; i < split->items.size(); ++i) {
            p.layers_per_chunk.push_back(detail::as_int(split->items[i], fmt::format("{}.layers_per_stage[{}]", name, i), 1, kMaxInt));
        }
    }
    read_overlaps(r, p);
    const Node* prefetch = r.optional("prefetch");
    const Node* reshard = r.optional("reshard_after_forward");
    const Node* shard = r.optional("shard_group");
    for (const Node* n : {prefetch, reshard, shard}) {
        if (n != nullptr && p.zero_stage < 3) {
            // A rule of this key and `zero` (reported whatever else the search for every mistake changed).
            const std::string key = n == prefetch ? "prefetch" : n == reshard ? "reshard_after_forward" : "shard_group";
            throw CoupledError(n->where, fmt::format("`parallelism.{}` applies to ZeRO-3 / FSDP sharding only, but zero = {}", key, p.zero_stage),
                               "set parallelism.zero = 3 (FSDP full sharding), or remove the key", nullptr,
                               {"parallelism." + key, "parallelism.zero"});
        }
    }
    if (shard != nullptr) {
        p.shard_group = detail::as_int(*shard, "parallelism.shard_group", 1, kMaxInt);
        const long long dc = 1LL * p.data * p.context;
        if (dc % p.shard_group != 0) {
            throw CoupledError(shard->where, fmt::format("`parallelism.shard_group` = {} does not divide data × context = {} × {} = {}",
                                                         p.shard_group, p.data, p.context, dc),
                               "make shard_group a divisor of data × context (e.g. the GPUs per node when tensor = 1)", nullptr,
                               {"parallelism.shard_group", "parallelism.data", "parallelism.context", "cluster.gpus"});
        }
    }
    if (const Node* b = r.optional("gradient_bucket")) {
        p.gradient_bucket = detail::as_integer(*b, "parallelism.gradient_bucket", 1, std::int64_t{1} << 50);
        if (p.zero_stage >= 3) {
            throw CoupledError(b->where, "`parallelism.gradient_bucket` applies to ZeRO 0–2: ZeRO-3 reduce-scatters each unit's gradients",
                               "remove the key, or set parallelism.zero to 0, 1 or 2", nullptr, {"parallelism.gradient_bucket", "parallelism.zero"});
        }
    }
    if (prefetch != nullptr) p.prefetch = detail::as_int(*prefetch, "parallelism.prefetch", 0, 16);
    if (reshard != nullptr) p.reshard_after_forward = detail::as_bool(*reshard, "parallelism.reshard_after_forward");
    if (const Node* o = r.optional("order")) {
        p.order = detail::as_string(*o, "parallelism.order");
        if (!order_parts(p.order)) {
            // About this key alone: the search for every mistake reads on with the default order.
            throw KeyError(o->where, o->where, false,
                           fmt::format("`parallelism.order` = \"{}\" is not an ordering of tp, cp, ep, dp, pp", p.order),
                           "list each of tp, cp, ep, dp, pp once, innermost first, e.g. \"tp-cp-ep-dp-pp\"",
                           stand_in(o->where, Node::Kind::string, 0, 0.0, "tp-cp-ep-dp-pp"));
        }
    }
    r.finish();
    return p;
}

// ---- rules that span sections ---------------------------------------------------------------------------

// The keys the global batch's rules read, for CoupledError::involves: divisibility by data × micro_batch; with
// `schedule`, also the schedule's micro-batch shape and the layer passes a step simulates; with `data` not
// written, what it is derived from.
std::vector<std::string> batch_keys(const Scenario& s, bool schedule = true) {
    std::vector<std::string> keys = {"training.global_batch", "parallelism.data", "parallelism.micro_batch"};
    // The schedule's shape and the layer passes read the pipeline's shape and the model too; divisibility does not.
    if (schedule) keys.insert(keys.end(), {"parallelism.pipeline", "parallelism.schedule", "parallelism.virtual_stages", "model"});
    if (!s.sources.keys.contains("parallelism.data")) {
        keys.insert(keys.end(), {"parallelism.tensor", "parallelism.context", "cluster.gpus"});
    }
    return keys;
}

// The one model-parallel degree written that by itself does not divide the GPU count (`tensor = 3` of 16 GPUs):
// whatever else changes, it must (or the GPU count), so a product rule is located there rather than at the degree
// written last. Null when none or several do.
namespace {
const SourceRef* sole_non_divisor(const Scenario& s) {
    const ParallelLayout& p = s.parallel;
    const SourceRef* found = nullptr;
    int count = 0;
    for (const auto& [key, degree] : {std::pair{"parallelism.tensor", p.tensor}, std::pair{"parallelism.pipeline", p.pipeline},
                                      std::pair{"parallelism.context", p.context}}) {
        if (degree <= 0 || s.cluster.gpus % degree == 0) continue;
        ++count;
        const auto it = s.sources.keys.find(key);
        if (it != s.sources.keys.end() && it->second.known()) found = &it->second;
    }
    return count == 1 ? found : nullptr;
}
}  // namespace

// tensor × context × pipeline × data = cluster.gpus (or, with data derived, whole data-parallel replicas).
void check_layout_product(const Scenario& s, bool data_given, const SourceRef& at) {
    const ParallelLayout& p = s.parallel;
    // Each rule is located at the key among those it couples that the user wrote last (latest_written).
    const std::initializer_list<std::string_view> degrees = {"parallelism.data", "parallelism.tensor", "parallelism.pipeline",
                                                             "parallelism.context", "cluster.gpus"};
    // Checked again here for layouts built by callers (the layout search), not read from a file.
    const auto checked = checked_product({p.tensor, p.context, p.pipeline, p.data});
    if (!checked) {
        throw ScenarioError(latest_written(s, degrees, at),
                            fmt::format("tensor × context × pipeline × data = {} × {} × {} × {} is beyond the supported "
                                        "range (limit 2^63)", p.tensor, p.context, p.pipeline, p.data),
                            "choose degrees whose product is cluster.gpus");
    }
    const long long product = *checked;
    if (product == s.cluster.gpus) return;
    // The value of cluster.gpus that satisfies the rule, for the search for every mistake (a stand-in for
    // gpus = 0 must not hide the mistakes after it): the product, or whole replicas of the model-parallel ranks.
    const auto gpus_at = s.sources.keys.find("cluster.gpus");
    auto fix = [&](long long gpus) {
        return gpus_at == s.sources.keys.end() ? nullptr : stand_in(gpus_at->second, Node::Kind::integer, gpus);
    };
    // The GPUs do not split into whole model-parallel groups: a model-parallel degree or the GPU count is the key to
    // change, never `data` (given or derived), so the rule is located at the one of those written last. For the
    // search for every mistake: with data derived, cluster.gpus becomes whole replicas; with data given, the GPU
    // count becomes the product when it is the key located, else the degree located is taken out (a phase's
    // `context = 3` reads on with the scenario's).
    const long long mp = p.model_parallel_ranks();
    if (s.cluster.gpus % mp != 0) {
        // The sole non-divisor unless the GPU count was written after it (a child file's or a --set's gpus, a
        // sweep's --vary: the key to change is then the count, as the rule written last says; a reviewer's read).
        const SourceRef* sole = sole_non_divisor(s);
        if (sole != nullptr && gpus_at != s.sources.keys.end() && gpus_at->second.known() && written_after(s, gpus_at->second, *sole)) {
            sole = nullptr;
        }
        const SourceRef located = sole != nullptr ? *sole
                                                  : latest_written(s, {"parallelism.tensor", "parallelism.pipeline",
                                                                       "parallelism.context", "cluster.gpus"}, at);
        const bool at_gpus = gpus_at != s.sources.keys.end() && gpus_at->second.line > 0 && same_place(gpus_at->second, located);
        if (!data_given) {
            throw CoupledError(located,
                               fmt::format("tensor × context × pipeline = {} × {} × {} = {} does not divide gpus = {}", p.tensor,
                                           p.context, p.pipeline, mp, s.cluster.gpus),
                               "change a parallel degree or cluster.gpus so that the GPUs split into whole "
                               "data-parallel replicas",
                               fix(mp * std::max<long long>(1, s.cluster.gpus / mp)),
                               {"parallelism.tensor", "parallelism.pipeline", "parallelism.context", "cluster.gpus"});
        }
        throw CoupledError(located,
                           fmt::format("tensor × context × pipeline × data = {} × {} × {} × {} = {} ≠ gpus {}", p.tensor, p.context,
                                       p.pipeline, p.data, product, s.cluster.gpus),
                           fmt::format("tensor × context × pipeline = {} does not divide gpus {}: change one of them, or "
                                       "cluster.gpus to a multiple of {} (e.g. {} with data = {})",
                                       mp, s.cluster.gpus, mp, product, p.data),
                           at_gpus ? fix(product) : nullptr, std::vector<std::string>(degrees.begin(), degrees.end()));
    }
    // The GPUs split into whole replicas. For the search for every mistake, the key written last changes: `data` to
    // gpus / (tensor × context × pipeline), `cluster.gpus` to the product; another degree (a phase's `tensor = 2`)
    // is taken out, so that the value below it (the scenario's, a base file's or the default) applies.
    const SourceRef located = latest_written(s, degrees, at);
    const auto is = [&](const char* key) {
        const auto it = s.sources.keys.find(key);
        return it != s.sources.keys.end() && it->second.line > 0 && same_place(it->second, located);
    };
    std::shared_ptr<const Node> fixed;
    const long long d = s.cluster.gpus / mp;
    if (is("parallelism.data")) fixed = stand_in(located, Node::Kind::integer, d);
    else if (is("cluster.gpus")) fixed = fix(product);
    // data = gpus / (tensor × context × pipeline) is suggested only where the rules it meets next hold: expert ×
    // expert_tensor dividing tensor × context × data, and whole micro-batches per replica (an analyst's read: "e.g.
    // data = 125" for the flagship at 2,000 GPUs, which EP64 and the batch of 15,360 both refuse).
    std::string why_not;
    if (const long long ranks = 1LL * p.expert * p.expert_tensor_degree(); p.expert > 1 && (1LL * p.tensor * p.context * d) % ranks != 0) {
        why_not = fmt::format("data = {} would not hold expert = {} within tensor × context × data", d, p.expert);
    } else if (s.training.global_batch % (d * p.micro_batch) != 0) {
        why_not = fmt::format("data = {} would not divide global_batch = {} into whole micro-batches", d, s.training.global_batch);
    }
    const std::string data_hint = why_not.empty() ? fmt::format("e.g. data = {}", d) : why_not;
    throw CoupledError(located,
                       fmt::format("tensor × context × pipeline × data = {} × {} × {} × {} = {} ≠ gpus {}", p.tensor, p.context,
                                   p.pipeline, p.data, product, s.cluster.gpus),
                       is("cluster.gpus") || !why_not.empty()
                           ? fmt::format("make cluster.gpus the product (e.g. gpus = {}), or change a degree ({})", product, data_hint)
                           : fmt::format("make the product equal cluster.gpus ({}), or change cluster.gpus", data_hint),
                       std::move(fixed), std::vector<std::string>(degrees.begin(), degrees.end()));
}

// Pipeline chunks: at most one per layer, and an explicit layer split (layers_per_stage) one count per chunk
// summing to the model's layers. Rules of the keys they couple, located at the one written last.
void check_chunks(const Scenario& s, const SourceRef& at) {
    const ParallelLayout& p = s.parallel;
    const ModelSpec& m = s.model;
    const long long chunks = 1LL * p.pipeline * p.virtual_stages;
    if (chunks > m.layers) {
        throw_rule(s, {"parallelism.pipeline", "parallelism.virtual_stages", "model", "model.layers"}, at,
                            fmt::format("pipeline × virtual_stages = {} × {} = {} exceeds the model's {} layers",
                                        p.pipeline, p.virtual_stages, chunks, m.layers),
                            "every pipeline chunk needs at least one layer; lower pipeline or virtual_stages");
    }
    if (!p.layers_per_chunk.empty()) {
        const long long total = std::accumulate(p.layers_per_chunk.begin(), p.layers_per_chunk.end(), 0LL);
        if (static_cast<long long>(p.layers_per_chunk.size()) != chunks || total != m.layers) {
            throw_rule(s, {"parallelism.layers_per_stage", "parallelism.pipeline", "parallelism.virtual_stages", "model", "model.layers"}, at,
                       fmt::format("layers_per_stage gives {} chunks summing to {} layers; the layout has pipeline × virtual_stages = {} "
                                   "chunks and the model {} layers",
                                   p.layers_per_chunk.size(), total, chunks, m.layers),
                       fmt::format("give {} counts, rank 0's chunk first, that sum to {}", chunks, m.layers));
        }
    }
}

// Combined 1F1B (ParallelLayout::combined_1f1b): an expert all-to-all to overlap, and 1F1B rounds to pair.
void check_combined_1f1b(const Scenario& s, const SourceRef& at) {
    const ParallelLayout& p = s.parallel;
    const ModelSpec& m = s.model;
    if (p.combined_1f1b && (!m.moe || p.expert < 2)) {
        throw_rule(s, {"parallelism.combined_1f1b", "parallelism.expert", "model"}, at,
                   fmt::format("combined_1f1b = true overlaps the expert all-to-all, but {}", !m.moe ? fmt::format("model \"{}\" has no experts", m.id)
                                                                                                       : std::string("expert = 1 sends none")),
                   "set parallelism.expert > 1 on a MoE model (Megatron-Core asserts the same), or remove combined_1f1b");
    }
    if (p.combined_1f1b && !combined_1f1b_pairs(p.schedule, p.pipeline)) {
        throw_rule(s, {"parallelism.combined_1f1b", "parallelism.schedule", "parallelism.pipeline"}, at,
                   fmt::format("combined_1f1b = true pairs the forwards and backwards of the 1F1B order: it needs schedule = "
                               "\"interleaved\", or \"1f1b\" with pipeline = 1 (got \"{}\" with pipeline = {})",
                               to_string(p.schedule), p.pipeline),
                   p.schedule == Schedule::dualpipe
                       ? std::string("DualPipe already overlaps the expert all-to-all (its F&B pairs): remove combined_1f1b")
                       : std::string("Megatron-Core requires virtual pipeline stages when pipelining: set schedule = \"interleaved\" "
                                     "and virtual_stages ≥ 2, or remove combined_1f1b"));
    }
}

// Shared-expert overlap (ParallelLayout::moe_shared_expert_overlap): shared experts, an expert all-to-all to run
// them beside, and no other overlap of that all-to-all.
void check_shared_expert_overlap(const Scenario& s, const SourceRef& at) {
    const ParallelLayout& p = s.parallel;
    const ModelSpec& m = s.model;
    if (!p.moe_shared_expert_overlap) return;
    if (!m.moe || m.moe->shared_experts == 0 || p.expert < 2) {
        throw_rule(s, {"parallelism.moe_shared_expert_overlap", "parallelism.expert", "model"}, at,
                   fmt::format("moe_shared_expert_overlap = true runs the shared experts beside the expert all-to-all, but {}",
                               !m.moe                        ? fmt::format("model \"{}\" has no experts", m.id)
                               : m.moe->shared_experts == 0 ? fmt::format("model \"{}\" has no shared experts", m.id)
                                                            : std::string("expert = 1 sends none")),
                   "use it on a MoE model with shared experts and parallelism.expert > 1, or remove moe_shared_expert_overlap");
    }
    if (p.combined_1f1b || p.schedule == Schedule::dualpipe) {
        throw_rule(s, {"parallelism.moe_shared_expert_overlap", "parallelism.combined_1f1b", "parallelism.schedule"}, at,
                   fmt::format("moe_shared_expert_overlap = true with {}, which already overlaps the expert all-to-all with "
                               "another micro-batch's compute",
                               p.combined_1f1b ? "combined_1f1b = true" : "schedule = \"dualpipe\""),
                   p.combined_1f1b ? "remove one of the two (Megatron-Core refuses moe_shared_expert_overlap with "
                                     "overlap_moe_expert_parallel_comm)"
                                   : "remove moe_shared_expert_overlap, or use another schedule");
    }
}

// The token dispatcher, written, names how a MoE model's all-to-all runs: refused with a dense model. With expert = 1
// it is kept (nothing to send; a plan or what-if variant of an expert-parallel scenario may have one).
void check_moe_dispatcher(const Scenario& s, const SourceRef& at) {
    if (!s.sources.keys.contains("parallelism.moe_token_dispatcher") || s.model.moe) return;
    throw_rule(s, {"parallelism.moe_token_dispatcher", "model"}, at,
               fmt::format("moe_token_dispatcher = \"{}\" sets how tokens reach their experts, but model \"{}\" has no experts",
                           to_string(s.parallel.moe_dispatcher), s.model.id),
               "remove moe_token_dispatcher, or use a MoE model");
}

// Gradient accumulation in kernels of its own (TrainingSpec::gradient_accumulation) is modelled for a whole buffer
// on each rank until the reduction (ZeRO 0–1: memory.cpp keeps gradients unsharded below ZeRO-2). ZeRO-2 and ZeRO-3
// / FSDP reduce-scatter every micro-batch's gradients and accumulate the shards, which is not.
void check_gradient_accumulation(const Scenario& s, const SourceRef& at) {
    if (s.training.gradient_accumulation != GradientAccumulation::fused && s.parallel.zero_stage >= 2) {
        throw_rule(s, {"training.gradient_accumulation", "parallelism.zero"}, at,
                   fmt::format("gradient_accumulation = \"{}\" is modelled for ZeRO 0-1 only: ZeRO-{} reduce-scatters "
                               "each micro-batch's gradients and accumulates their shards",
                               to_string(s.training.gradient_accumulation), s.parallel.zero_stage),
                   "remove gradient_accumulation (fused, the default), or use parallelism.zero = 0 or 1");
    }
}

// FP8 parameter all-gather (MixedPrecision::fp8_param_gather): only where parameters are all-gathered.
void check_fp8_param_gather(const Scenario& s, const SourceRef& at) {
    const ParallelLayout& p = s.parallel;
    if (s.training.precision.fp8_param_gather && (p.zero_stage == 0 || 1LL * p.data * p.context == 1)) {
        throw_rule(s, {"training.fp8_param_gather", "parallelism.zero", "parallelism.data"}, at,
                   fmt::format("fp8_param_gather = true, but {} gathers no parameters", p.zero_stage == 0 ? "ZeRO-0" : "a data × context group of one GPU"),
                   "set parallelism.zero = 1, 2 or 3 with data parallelism (the distributed optimizer or FSDP), or remove fp8_param_gather");
    }
}

// The layers first_last_layers_bf16 keeps in BF16 (MixedPrecision::bf16_layers_at_start / _at_end): no more than the
// model has.
void check_bf16_layers(const Scenario& s, const SourceRef& at) {
    const MixedPrecision& pr = s.training.precision;
    if (pr.bf16_layers_at_start + pr.bf16_layers_at_end > s.model.layers) {
        throw_rule(s, {"training.num_layers_at_start_in_bf16", "training.num_layers_at_end_in_bf16", "training.first_last_layers_bf16", "model"}, at,
                   fmt::format("{} first and {} last layers in BF16 exceed the model's {} layers", pr.bf16_layers_at_start,
                               pr.bf16_layers_at_end, s.model.layers),
                   fmt::format("keep at most {} layers in BF16 in all (num_layers_at_start_in_bf16 + num_layers_at_end_in_bf16)", s.model.layers));
    }
}

// Tensor-parallel communication overlap (ParallelLayout::tp_comm_overlap): sequence parallelism's collectives to
// overlap, and SMs left for the GEMMs beside them.
void check_tp_comm_overlap(const Scenario& s, const SourceRef& at) {
    const ParallelLayout& p = s.parallel;
    if (p.tp_comm_overlap && !p.sequence_parallel) {
        throw_rule(s, {"parallelism.tp_comm_overlap", "parallelism.sequence_parallel", "parallelism.tensor"}, at,
                   "tp_comm_overlap = true overlaps the all-gathers and reduce-scatters of sequence parallelism, which is off",
                   "set sequence_parallel = true with tensor > 1 (Megatron-Core's --tp-comm-overlap requires it), or remove tp_comm_overlap");
    }
    if (p.tp_comm_overlap && p.communication_sms + p.tp_comm_overlap_sms >= s.cluster.chip.sm_count) {
        throw_rule(s, {"parallelism.tp_comm_overlap_sms", "parallelism.communication_sms", "cluster.chip", "cluster.chip.from"}, at,
                   fmt::format("communication_sms + tp_comm_overlap_sms = {} + {} leaves no SM for the overlapped GEMMs on the {} ({} SMs)",
                               p.communication_sms, p.tp_comm_overlap_sms, s.cluster.chip.display_name, s.cluster.chip.sm_count),
                   "give the overlapped collectives fewer SMs (NeMo's configurations use 24 of 132)");
    }
}

namespace {

// recompute_modules against the model: a module the model does not have would read as recomputation that is not
// there.
void check_recompute_modules(const Scenario& s, const SourceRef& at) {
    const ParallelLayout& p = s.parallel;
    const ModelSpec& m = s.model;
    // The block method's count against the layers of the largest model chunk: more would read as a layout that
    // recomputes some layers and not others, where it recomputes all.
    if (p.recompute_num_layers > 0) {
        const long long chunks = 1LL * p.pipeline * p.virtual_stages;
        long long most = (m.layers + chunks - 1) / std::max(1LL, chunks);
        if (!p.layers_per_chunk.empty()) most = *std::max_element(p.layers_per_chunk.begin(), p.layers_per_chunk.end());
        if (p.recompute_num_layers > most) {
            throw_rule(s, {"parallelism.recompute_num_layers", "parallelism.pipeline", "model"}, at,
                       fmt::format("recompute_num_layers = {} exceeds the {} layers of the largest model chunk ({} layers over {} "
                                   "chunk{})",
                                   p.recompute_num_layers, most, m.layers, chunks, chunks == 1 ? "" : "s"),
                       fmt::format("use at most {}, or remove the key to recompute every layer", most));
        }
    }
    const auto has = [&](RecomputeModule module) { return (p.recompute_modules & static_cast<unsigned>(module)) != 0; };
    if (has(RecomputeModule::mla_up_proj) && m.attention.kind != AttentionKind::mla) {
        throw_rule(s, {"parallelism.recompute_modules", "model"}, at,
                   fmt::format("recompute_modules lists \"mla_up_proj\", but model \"{}\" has no multi-head latent attention", m.id),
                   "remove \"mla_up_proj\" from the list");
    }
    if ((has(RecomputeModule::moe_act) || has(RecomputeModule::shared_experts)) && !m.moe) {
        throw_rule(s, {"parallelism.recompute_modules", "model"}, at,
                   fmt::format("recompute_modules lists \"{}\", but model \"{}\" has no experts",
                               has(RecomputeModule::moe_act) ? "moe_act" : "shared_experts", m.id),
                   "for a dense model's MLP use \"mlp\"");
    }
    if (has(RecomputeModule::shared_experts) && m.moe && m.moe->shared_experts == 0) {
        throw_rule(s, {"parallelism.recompute_modules", "model"}, at,
                   fmt::format("recompute_modules lists \"shared_experts\", but model \"{}\" has no shared experts", m.id),
                   "remove \"shared_experts\" from the list");
    }
}

// Megatron-LM asserts max_position_embeddings >= seq_length: a learned position table has no row past its length.
void check_position_table(const Scenario& s, const SourceRef& at) {
    const ModelSpec& m = s.model;
    if (m.position != PositionKind::learned || s.training.sequence_length <= m.max_position_embeddings) return;
    throw_rule(s, {"training.sequence_length", "model", "model.max_position_embeddings", "model.position"},
               s.sources.training.known() ? s.sources.training : at,
               fmt::format("sequence_length = {} is longer than model \"{}\"'s learned position table ({} positions, "
                           "max_position_embeddings)", s.training.sequence_length, m.id, m.max_position_embeddings),
               fmt::format("use a sequence of at most {} tokens, or a model with more positions", m.max_position_embeddings));
}

// Node-limited routing ([moe] max_nodes_per_token = M): a token's k experts come from at most M of the nodes its
// expert group spans, so the M nodes holding the most of the group's experts must hold k between them. Node i holds
// E · c_i / G of the E experts (c_i of the group's G ranks on it; rank 0's group, as the step takes it). With fewer,
// no router can fill a token's k slots (the step's dispatch and once-per-GPU shares, step_passes.cpp, assume it can).
void check_node_limit(const Scenario& s, const SourceRef& at) {
    const ParallelLayout& p = s.parallel;
    const ModelSpec& m = s.model;
    const int limit = m.moe ? m.moe->max_nodes_per_token : 0;
    if (limit <= 0 || p.expert <= 1 || s.cluster.gpus_per_node <= 0) return;
    const auto product = checked_product({p.tensor, p.context, p.pipeline, p.data});
    if (!product || *product != s.cluster.gpus) return;  // check_layout_product names that mistake
    const std::vector<int> group = Placement(p, s.cluster.gpus).group(GroupKind::expert, 0);
    std::map<int, int> members;  // node → the group's ranks on it
    for (const int r : group) ++members[r / s.cluster.gpus_per_node];
    if (static_cast<int>(members.size()) <= limit) return;
    std::vector<int> counts;
    for (const auto& [node, count] : members) counts.push_back(count);
    std::sort(counts.begin(), counts.end(), std::greater<>());
    const long long held = std::accumulate(counts.begin(), counts.begin() + limit, 0LL);  // ranks on the M fullest nodes
    const long long experts = held * m.moe->routed_experts / static_cast<long long>(group.size());
    if (experts >= m.moe->top_k) return;
    throw_rule(s, {"parallelism.expert", "parallelism.expert_tensor", "parallelism.order", "cluster.gpus_per_node", "model",
                   "model.moe.max_nodes_per_token"},
               at,
               fmt::format("node-limited routing cannot fill a token's {} experts: model \"{}\" draws them from at most "
                           "{} node{} (max_nodes_per_token), and its expert group of {} ranks spans {} nodes, so at most {} "
                           "of the {} routed experts lie on {} of them",
                           m.moe->top_k, m.id, limit, limit == 1 ? "" : "s", group.size(), members.size(), experts,
                           m.moe->routed_experts, limit),
               "lay the expert group over fewer nodes (a smaller expert degree, or more GPUs per node), or raise the "
               "model's max_nodes_per_token (--set model.moe.max_nodes_per_token=N)");
}

// Expert parallelism: carved out of data × context (Megatron-Core's convention), or folded over tensor × context ×
// data with its own expert-tensor degree (ParallelLayout::folds_experts).
void check_experts(const Scenario& s, const SourceRef& at) {
    const ParallelLayout& p = s.parallel;
    const ModelSpec& m = s.model;
    const int et = p.expert_tensor_degree();
    if (p.expert_tensor > 0 && !m.moe) {
        throw_rule(s, {"parallelism.expert_tensor", "model"}, at,
                   fmt::format("expert_tensor = {} but model \"{}\" has no experts", p.expert_tensor, m.id),
                   "remove expert_tensor for a dense model");
    }
    if (p.expert == 1 && et == p.tensor) return;
    if (et == p.tensor) {
        const long long carved = 1LL * p.data * p.context;
        if (carved % p.expert != 0) {
            const std::string message = fmt::format("expert = {} does not divide data × context = {} × {} = {}", p.expert, p.data,
                                                    p.context, carved);
            const std::string hint = "expert-parallel ranks are carved out of the data × context ranks of a pipeline stage "
                                     "(Megatron-Core convention); use a divisor, or set expert_tensor to fold them over "
                                     "tensor × context × data";
            // The GPU count enters only through a derived `data`.
            if (s.sources.keys.contains("parallelism.data")) {
                throw_rule(s, {"parallelism.expert", "parallelism.data", "parallelism.context"}, at, message, hint);
            }
            throw_rule(s, {"parallelism.expert", "parallelism.data", "parallelism.context", "cluster.gpus"}, at, message, hint);
        }
    } else {
        const long long stage = 1LL * p.tensor * p.context * p.data;
        if (stage % (1LL * p.expert * et) != 0) {
            throw_rule(s, {"parallelism.expert", "parallelism.expert_tensor", "parallelism.tensor", "parallelism.data",
                           "parallelism.context", "cluster.gpus"},
                       at,
                       fmt::format("expert × expert_tensor = {} × {} does not divide tensor × context × data = {} × {} × {} = {}",
                                   p.expert, et, p.tensor, p.context, p.data, stage),
                       "MoE parallel folding lays a stage's tensor × context × data ranks out as expert_tensor × expert × "
                       "expert-data; choose degrees whose product divides it");
        }
        if (p.tensor > 1 && !p.sequence_parallel) {
            throw_rule(s, {"parallelism.expert_tensor", "parallelism.sequence_parallel", "parallelism.tensor"}, at,
                       fmt::format("expert_tensor = {} differs from tensor = {} without sequence parallelism: the MoE "
                                   "layer's tokens are then copies on every tensor rank", et, p.tensor),
                       "set sequence_parallel = true (Megatron-Core requires it for MoE with tensor parallelism), or "
                       "expert_tensor = tensor");
        }
        const auto parts = order_parts(p.order);
        if (parts && std::find(parts->begin(), parts->end(), "ep") > std::find(parts->begin(), parts->end(), "dp")) {
            throw_rule(s, {"parallelism.order", "parallelism.expert_tensor"}, at,
                       fmt::format("order \"{}\" puts ep after dp; folded expert groups are laid out tp-ep-dp", p.order),
                       "put ep before dp in parallelism.order, or set expert_tensor = tensor");
        }
        if (m.moe->expert_ffn_hidden % et != 0) {
            throw_rule(s, {"parallelism.expert_tensor", "model", "model.moe.expert_ffn_hidden"}, at,
                       fmt::format("expert_tensor = {} does not divide the experts' hidden size {}", et, m.moe->expert_ffn_hidden),
                       "choose an expert-tensor degree that divides the model's expert_ffn_hidden");
        }
    }
    if (m.moe->routed_experts % p.expert != 0) {
        throw_rule(s, {"parallelism.expert", "model", "model.moe.routed_experts"}, at,
                   fmt::format("expert = {} does not divide the model's {} routed experts", p.expert, m.moe->routed_experts),
                   "each expert-parallel rank holds the same number of experts; use a divisor");
    }
    check_node_limit(s, at);
}

}  // namespace

// Context parallelism cuts each sequence into 2 × context chunks and gives rank i chunks i and 2·context − 1 − i,
// which balances causal attention's work (Megatron-Core's get_batch_on_this_cp_rank, Transformer Engine's
// context-parallel attention): the sequence must divide into 2 × context.
void check_context_split(const Scenario& s, const ParallelLayout& p, const SourceRef& at) {
    const long long cp_unit = p.context > 1 ? 2LL * p.context : 1;
    if (s.training.sequence_length % cp_unit != 0) {
        // For the search for every mistake: at the sequence length (a required key), the next multiple of 2 × context
        // stands in; at context, the key is taken out.
        const SourceRef located = latest_written(s, {"training.sequence_length", "parallelism.context"},
                                                 s.sources.training.known() ? s.sources.training : at);
        const bool at_sequence = same_place(located, s.sources.at("training.sequence_length", SourceRef{}));
        const long long next = (1LL * s.training.sequence_length / cp_unit + 1) * cp_unit;
        throw CoupledError(located, fmt::format("sequence_length = {} is not divisible by 2 × context = {}", s.training.sequence_length, cp_unit),
                           "context parallelism splits each sequence into 2 × context chunks, two per rank (the load "
                           "balancing of causal attention in Megatron-Core and Transformer Engine)",
                           at_sequence ? stand_in(located, Node::Kind::integer, next) : nullptr,
                           {"training.sequence_length", "parallelism.context"});
    }
}

void validate_layout(const Scenario& s, bool data_given) {
    const ParallelLayout& p = s.parallel;
    const ModelSpec& m = s.model;
    const SourceRef& at = s.sources.parallelism.known() ? s.sources.parallelism : s.sources.file;
    check_layout_product(s, data_given, at);
    // Each rule is located at the key among those it couples that the user wrote last (throw_rule, latest_written).
    const int heads = m.attention.heads;
    if (heads % p.tensor != 0) {
        throw_rule(s, {"parallelism.tensor", "model", "model.attention.heads"}, at,
                            fmt::format("tensor = {} does not divide the model's {} attention heads", p.tensor, heads),
                            "choose a tensor-parallel degree that divides the head count");
    }
    if (m.attention.kind == AttentionKind::gqa && m.attention.kv_heads % p.tensor != 0) {
        throw_rule(s, {"parallelism.tensor", "model", "model.attention.kv_heads"}, at,
                            fmt::format("tensor = {} does not divide the model's {} key/value heads", p.tensor,
                                        m.attention.kv_heads),
                            "grouped-query attention shards whole KV groups over tensor ranks; use a divisor of kv_heads");
    }
    check_recompute_modules(s, at);
    if (p.expert > 1 && !m.moe) {
        throw_rule(s, {"parallelism.expert", "model"}, at, fmt::format("expert = {} but model \"{}\" has no experts", p.expert, m.id),
                            "set expert = 1 for a dense model");
    }
    // A MoE block no layer has (dense_layers = layers, say) leaves nothing to shard over expert ranks: accepted, it ran
    // as a dense model with idle expert groups (an MoE audit, session 50).
    if (p.expert > 1 && m.moe) {
        bool any = false;
        for (int l = 0; l < m.layers && !any; ++l) any = is_moe_layer(m, l);
        if (!any) {
            throw_rule(s, {"parallelism.expert", "model"}, at,
                       fmt::format("expert = {} but no layer of model \"{}\" has experts (dense_layers = {} of {} layers)", p.expert, m.id,
                                   m.moe->dense_layers, m.layers),
                       "set expert = 1, or lower model.moe.dense_layers (or layer_frequency) so that some layers have experts");
        }
    }
    check_experts(s, at);
    check_chunks(s, at);
    if (p.virtual_stages > 1 && p.schedule != Schedule::interleaved) {
        throw_rule(s, {"parallelism.virtual_stages", "parallelism.schedule"}, at,
                            fmt::format("virtual_stages = {} needs schedule = \"interleaved\" (got \"{}\")",
                                        p.virtual_stages, to_string(p.schedule)),
                            "set schedule = \"interleaved\" or virtual_stages = 1");
    }
    if (p.schedule == Schedule::interleaved && p.virtual_stages < 2) {
        throw_rule(s, {"parallelism.schedule", "parallelism.virtual_stages"}, at, "schedule = \"interleaved\" needs virtual_stages ≥ 2",
                            "set virtual_stages (model chunks per pipeline rank), e.g. 2");
    }
    if (p.schedule == Schedule::dualpipe && p.pipeline % 2 != 0) {
        throw_rule(s, {"parallelism.schedule", "parallelism.pipeline"}, at,
                            fmt::format("schedule = \"dualpipe\" needs an even pipeline degree (got {})", p.pipeline),
                            "DualPipe pairs stage i with stage pipeline−1−i; use an even pipeline degree");
    }
    check_combined_1f1b(s, at);
    check_shared_expert_overlap(s, at);
    check_moe_dispatcher(s, at);
    if (p.communication_sms >= s.cluster.chip.sm_count) {
        throw_rule(s, {"parallelism.communication_sms", "cluster.chip", "cluster.chip.from"}, at,
                            fmt::format("communication_sms = {} leaves no SM for compute on the {} ({} SMs)",
                                        p.communication_sms, s.cluster.chip.display_name, s.cluster.chip.sm_count),
                            "reserve fewer SMs for communication kernels (DeepSeek-V3 reserves 20 of 132)");
    }
    check_tp_comm_overlap(s, at);
    check_fp8_param_gather(s, at);
    check_gradient_accumulation(s, at);
    check_bf16_layers(s, at);
    if (p.sequence_parallel && p.tensor == 1) {
        throw_rule(s, {"parallelism.sequence_parallel", "parallelism.tensor"}, at, "sequence_parallel = true needs tensor > 1",
                            "sequence parallelism shards activations over the tensor-parallel group");
    }
    check_context_split(s, p, at);
    if (p.sequence_parallel && (s.training.sequence_length / p.context) % p.tensor != 0) {
        // Megatron-Core's sequence-parallel regions scatter each context shard's tokens over the tensor group (the
        // reduce-scatter's first dimension must divide evenly). At the sequence length the next multiple of
        // context × tensor stands in; at tensor, the key is taken out.
        const SourceRef located = latest_written(s, {"training.sequence_length", "parallelism.tensor", "parallelism.sequence_parallel"},
                                                 s.sources.training.known() ? s.sources.training : at);
        const bool at_sequence = same_place(located, s.sources.at("training.sequence_length", SourceRef{}));
        const long long unit = 1LL * p.context * p.tensor;
        const long long next = (1LL * s.training.sequence_length / unit + 1) * unit;
        throw CoupledError(located,
                           fmt::format("sequence_length = {} gives {} tokens per context rank, not divisible by tensor = {} "
                                       "with sequence_parallel = true", s.training.sequence_length,
                                       s.training.sequence_length / p.context, p.tensor),
                           "sequence parallelism splits each context rank's tokens evenly over the tensor-parallel group: "
                           "use a sequence_length that is a multiple of context × tensor, or sequence_parallel = false",
                           at_sequence ? stand_in(located, Node::Kind::integer, next) : nullptr,
                           {"training.sequence_length", "parallelism.tensor", "parallelism.sequence_parallel"});
    }
    check_position_table(s, at);
    const long long per_step = 1LL * p.data * p.micro_batch;
    if (s.training.global_batch % per_step != 0) {
        // Located at the global batch; the value that satisfies the rule (for the search for every mistake, when the
        // batch or the layout may be a stand-in) is the next multiple.
        // The next multiple the pipeline schedule also accepts (an even count of micro-batches for DualPipe, a
        // multiple of the stages when interleaved; within 2 × pipeline + 2 multiples), else the next multiple.
        const auto schedule_accepts = [&](long long batch) {
            return !pipeline_shape_error(p.schedule, p.pipeline, static_cast<int>(std::min<long long>(batch / per_step, kMaxInt)),
                                         p.virtual_stages);
        };
        const long long first = (s.training.global_batch / per_step + 1) * per_step;
        long long next = first;
        while (!schedule_accepts(next) && next < first + (2LL * p.pipeline + 2) * per_step) next += per_step;
        if (!schedule_accepts(next)) next = first;
        const SourceRef batch_at = s.sources.at("training.global_batch", s.sources.training.known() ? s.sources.training : at);
        // Located at the key of the three written last (a child's micro_batch = 2 over a base's batch); at the batch,
        // the search for every mistake reads on with the batch the hint names, else takes the key out.
        const SourceRef located = latest_written(s, {"training.global_batch", "parallelism.data", "parallelism.micro_batch"}, batch_at);
        const bool at_batch = same_place(located, batch_at);
        throw CoupledError(located,
                           fmt::format("global_batch = {} is not divisible by data × micro_batch = {} × {} = {}",
                                       s.training.global_batch, p.data, p.micro_batch, per_step),
                           fmt::format("use a global batch that is a multiple of {} (e.g. {}){}", per_step, next,
                                       at_batch ? "" : ", or change data or micro_batch"),
                           at_batch && s.sources.keys.contains("training.global_batch") ? stand_in(batch_at, Node::Kind::integer, next) : nullptr,
                           batch_keys(s, false));
    }
    check_schedule_shape(s, s.training.global_batch, s.sources.at("training.global_batch", s.sources.training.known() ? s.sources.training : at));
}

void check_schedule_shape(const Scenario& s, int global_batch, const SourceRef& batch_where) {
    const ParallelLayout& p = s.parallel;
    const long long per_step = 1LL * p.data * p.micro_batch;
    if (per_step <= 0 || global_batch % per_step != 0) return;  // the divisibility rule reports it
    const auto micro_batches = global_batch / per_step;
    if (micro_batches > limits::kMicroBatchesPerReplica) {
        throw CoupledError(batch_where,
                            fmt::format("global_batch = {} / (data {} × micro_batch {}) = {} micro-batches per replica, more "
                                        "than the {} a step simulates",
                                        global_batch, p.data, p.micro_batch, micro_batches, limits::kMicroBatchesPerReplica),
                            fmt::format("use a global batch of at most {} (or a larger micro_batch or data degree)",
                                        limits::kMicroBatchesPerReplica * per_step),
                            stand_in(batch_where, Node::Kind::integer, limits::kMicroBatchesPerReplica * per_step), batch_keys(s));
    }
    // The step simulates every layer of a stage for every micro-batch: bound that work before it is allocated.
    const long long stage_layers = (s.model.layers + p.pipeline - 1) / p.pipeline;
    if (stage_layers * micro_batches > limits::kLayerPassesPerStage) {
        throw CoupledError(batch_where,
                            fmt::format("{} layers per pipeline stage × {} micro-batches per replica = {} layer passes "
                                        "per stage, beyond the supported range of a simulated step (limit {})",
                                        stage_layers, micro_batches, stage_layers * micro_batches,
                                        limits::kLayerPassesPerStage),
                            fmt::format("use a global batch of at most {} (or a larger micro_batch, data or pipeline degree)",
                                        limits::kLayerPassesPerStage / stage_layers * per_step),
                            stand_in(batch_where, Node::Kind::integer, std::max<long long>(1, limits::kLayerPassesPerStage / stage_layers) * per_step),
                            batch_keys(s));
    }
    const auto shape_error = [&](int m) { return pipeline_shape_error(p.schedule, p.pipeline, m, p.virtual_stages); };
    const auto error = shape_error(static_cast<int>(micro_batches));
    if (!error) return;
    // The schedule's rules (training/schedule.cpp), as the step would apply them. When the layout fails them with
    // any micro-batch count (2 × pipeline is even, a multiple of the stages and enough for DualPipe), the layout
    // is the key to change; otherwise the batch.
    if (shape_error(p.pipeline <= kMaxInt / 2 ? 2 * p.pipeline : p.pipeline)) {
        const SourceRef fallback = s.sources.parallelism.known() ? s.sources.parallelism : s.sources.file;
        SourceRef where = s.sources.at("parallelism.pipeline", fallback);
        if (s.sources.keys.contains("parallelism.schedule")) where = s.sources.at("parallelism.schedule", where);
        if (p.virtual_stages > 1) where = s.sources.at("parallelism.virtual_stages", where);
        throw ScenarioError(where, error->message(), error->hint());
    }
    // Located at the key among the batch's and the schedule's written last (a child's `schedule = "interleaved"`
    // over a base's batch is the child's to change). At the batch (or data, micro_batch): the batch that satisfies
    // the schedule stands in for the search for every mistake, 2 × pipeline micro-batches, which the test above has
    // just passed; at the schedule's keys, that key is taken out, so the value below it applies.
    const SourceRef located = latest_written(s, {"training.global_batch", "parallelism.data", "parallelism.micro_batch", "parallelism.schedule",
                                                 "parallelism.virtual_stages", "parallelism.pipeline"}, batch_where);
    const auto written_at = [&](const char* key) {
        const auto it = s.sources.keys.find(key);
        return it != s.sources.keys.end() && it->second.known() && same_place(it->second, located);
    };
    const bool at_schedule = written_at("parallelism.schedule") || written_at("parallelism.virtual_stages") ||
                             written_at("parallelism.pipeline");
    throw CoupledError(at_schedule ? located : batch_where,
                       fmt::format("{} (global_batch = {} / (data {} × micro_batch {}) = {} micro-batches per replica)",
                                   error->message(), global_batch, p.data, p.micro_batch, micro_batches),
                       fmt::format("{}{}change the global batch, or data or micro_batch{}", error->hint(), error->hint().empty() ? "" : ": ",
                                   at_schedule ? ", or the schedule" : ""),
                       at_schedule ? nullptr : stand_in(batch_where, Node::Kind::integer, 2LL * p.pipeline * per_step), batch_keys(s));
}

}  // namespace gpuhours::detail

namespace gpuhours {

void validate_layout(const Scenario& s) { detail::validate_layout(s, true); }

}  // namespace gpuhours
