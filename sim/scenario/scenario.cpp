#include <gpuhours/scenario/scenario.hpp>

#include "document.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace gpuhours {

using detail::Node;
using detail::TableReader;

namespace {

constexpr int kMaxInt = std::numeric_limits<int>::max();

// ---- catalog lookup -------------------------------------------------------------------------------------

bool is_catalog_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    return std::filesystem::is_directory(dir / "chips", ec) && std::filesystem::is_directory(dir / "models", ec);
}

std::filesystem::path find_catalog_dir(const std::filesystem::path& scenario_file) {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::absolute(scenario_file, ec).parent_path();
    while (!dir.empty()) {
        if (is_catalog_dir(dir)) return dir;
        if (is_catalog_dir(dir / "scenarios")) return dir / "scenarios";
        if (dir == dir.parent_path()) break;
        dir = dir.parent_path();
    }
    return default_catalog_dir();
}

std::string kind_singular(const std::string& kind) { return kind == "chips" ? "chip" : "model"; }

// Loads the catalog entry `name` of `kind` ("chips" or "models"); unknown names list the known ones.
Node load_catalog_entry(const std::string& kind, const std::string& name, const std::filesystem::path& catalog_dir,
                        const SourceRef& referenced_from) {
    const std::filesystem::path file = catalog_dir / kind / (name + ".toml");
    std::error_code ec;
    if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
        !std::filesystem::is_regular_file(file, ec)) {
        const std::vector<std::string> known = catalog_names(catalog_dir, kind);
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        std::string hint;
        if (auto best = detail::suggest(name, known)) {
            hint = fmt::format("did you mean \"{}\"? Known {}s: {}", *best, kind_singular(kind), list);
        } else {
            hint = fmt::format("known {}s ({}): {}", kind_singular(kind), (catalog_dir / kind).string(), list);
        }
        throw ScenarioError(referenced_from, fmt::format("unknown {} \"{}\"", kind_singular(kind), name), hint);
    }
    return detail::parse_document_file(file.string(), referenced_from);
}

// A catalog slot is either a name ("h800"), or a table: a full inline definition, or `from = "h800"` plus
// overrides. Returns the merged table and the id to show for it.
std::pair<Node, std::string> resolve_slot(const Node& slot, const std::string& kind, const std::string& key_path,
                                          const std::filesystem::path& catalog_dir) {
    if (slot.kind == Node::Kind::string) {
        return {load_catalog_entry(kind, slot.text, catalog_dir, slot.where), slot.text};
    }
    if (slot.kind != Node::Kind::table) {
        throw ScenarioError(slot.where,
                            fmt::format("`{}` must be a catalog name (a string) or a table", key_path),
                            fmt::format("e.g. `{} = \"{}\"`", key_path.substr(key_path.rfind('.') + 1),
                                        kind == "chips" ? "h800" : "deepseek-v3"));
    }
    const Node* from = slot.find("from");
    if (from == nullptr) return {slot, "inline"};
    const std::string base_name = detail::as_string(*from, key_path + ".from");
    Node base = load_catalog_entry(kind, base_name, catalog_dir, from->where);
    Node overlay = slot;
    overlay.erase("from");
    const bool modified = !overlay.fields.empty();
    detail::merge_into(base, std::move(overlay));
    return {std::move(base), modified ? base_name + " (modified)" : base_name};
}

// ---- chips ----------------------------------------------------------------------------------------------

template <class Q>
Q read_figure(TableReader& r, std::string_view key, Q (*parse)(std::string_view), std::string_view example) {
    const std::string path = r.path_of(key);
    const Node& value = detail::figure_value(r.required(key), path);
    return detail::as_quantity(value, path, parse, example);
}

double read_figure_number(TableReader& r, std::string_view key) {
    const std::string path = r.path_of(key);
    return detail::as_number(detail::figure_value(r.required(key), path), path);
}

int read_figure_int(TableReader& r, std::string_view key, int min, int max) {
    const std::string path = r.path_of(key);
    return detail::as_int(detail::figure_value(r.required(key), path), path, min, max);
}

void require_positive(double value, const Node& node, std::string_view path, std::string_view what) {
    if (!(value > 0.0)) {
        throw ScenarioError(node.where, fmt::format("`{}` must be positive ({} cannot be zero or negative)", path, what),
                            "check the sign and the number");
    }
}

double read_fraction(TableReader& r, std::string_view key) {
    const Node& node = r.required(key);
    const std::string path = r.path_of(key);
    const double v = detail::as_number(detail::figure_value(node, path), path);
    if (!(v > 0.0 && v <= 1.0)) {
        throw ScenarioError(detail::figure_value(node, path).where,
                            fmt::format("`{}` = {} must be a fraction in (0, 1]", path, v),
                            "efficiencies are achieved / peak, e.g. 0.8");
    }
    return v;
}

ChipProfile read_chip(const Node& table, const std::string& id, const std::string& prefix) {
    ChipProfile chip;
    chip.id = id;
    TableReader r(table, prefix);
    r.allow("from");
    chip.display_name = detail::as_string(r.required("name"), r.path_of("name"));
    if (const Node* v = r.optional("vendor")) chip.vendor = detail::as_string(*v, r.path_of("vendor"));
    if (const Node* n = r.optional("note")) (void)detail::as_string(*n, r.path_of("note"));

    {
        const Node& compute = detail::as_table(r.required("compute"), r.path_of("compute"));
        TableReader c(compute, r.path_of("compute"));
        for (Precision p : kAllPrecisions) {
            const std::string key(to_string(p));
            if (const Node* node = c.optional(key)) {
                const std::string path = c.path_of(key);
                const Node& value = detail::figure_value(*node, path);
                const FlopsPerSecond rate = detail::as_quantity(value, path, parse_flops_rate, "989.4 TFLOPS");
                require_positive(rate.value(), value, path, "a peak");
                chip.peak_dense[p] = rate;
            }
        }
        chip.sm_count = read_figure_int(c, "sm_count", 1, 100000);
        c.finish();
        if (chip.peak_dense.empty()) {
            throw ScenarioError(compute.where, fmt::format("[{}] lists no peak throughput", c.name()),
                                "add at least `bf16 = { value = \"… TFLOPS\", source = \"…\" }`");
        }
    }
    {
        TableReader m(detail::as_table(r.required("memory"), r.path_of("memory")), r.path_of("memory"));
        chip.memory_capacity = read_figure(m, "capacity", parse_bytes, "80 GB");
        require_positive(chip.memory_capacity.value(), m.table(), m.path_of("capacity"), "memory");
        chip.memory_bandwidth = read_figure(m, "bandwidth", parse_bandwidth, "3.35 TB/s");
        require_positive(chip.memory_bandwidth.value(), m.table(), m.path_of("bandwidth"), "a bandwidth");
        m.finish();
    }
    {
        TableReader s(detail::as_table(r.required("scale_up"), r.path_of("scale_up")), r.path_of("scale_up"));
        chip.scale_up_bandwidth = read_figure(s, "bandwidth", parse_bandwidth, "450 GB/s");
        require_positive(chip.scale_up_bandwidth.value(), s.table(), s.path_of("bandwidth"), "a bandwidth");
        chip.scale_up_domain = read_figure_int(s, "domain", 1, 100000);
        chip.scale_up_latency = read_figure(s, "latency", parse_duration, "3.33 us");
        s.finish();
    }
    {
        TableReader o(detail::as_table(r.required("scale_out"), r.path_of("scale_out")), r.path_of("scale_out"));
        chip.nic_bandwidth = read_figure(o, "nic_bandwidth", parse_bandwidth, "400 Gb/s");
        require_positive(chip.nic_bandwidth.value(), o.table(), o.path_of("nic_bandwidth"), "a bandwidth");
        chip.nic_latency = read_figure(o, "latency", parse_duration, "2.8 us");
        o.finish();
    }
    {
        TableReader p(detail::as_table(r.required("power"), r.path_of("power")), r.path_of("power"));
        chip.tdp = read_figure(p, "tdp", parse_power, "700 W");
        require_positive(chip.tdp.value(), p.table(), p.path_of("tdp"), "power");
        p.finish();
    }
    if (const Node* die = r.optional("die")) {
        TableReader d(detail::as_table(*die, r.path_of("die")), r.path_of("die"));
        if (d.has("area_mm2")) {
            chip.die_area_mm2 = read_figure_number(d, "area_mm2");
            require_positive(*chip.die_area_mm2, *die, d.path_of("area_mm2"), "an area");
        }
        if (const Node* process = d.optional("process")) (void)detail::as_string(*process, d.path_of("process"));
        d.finish();
    }
    {
        TableReader e(detail::as_table(r.required("efficiency"), r.path_of("efficiency")), r.path_of("efficiency"));
        chip.efficiency.gemm = read_fraction(e, "gemm");
        if (chip.peak_dense.contains(Precision::fp8) || e.has("gemm_fp8")) {
            chip.efficiency.gemm_fp8 = read_fraction(e, "gemm_fp8");
        }
        chip.efficiency.attention = read_fraction(e, "attention");
        chip.efficiency.memory = read_fraction(e, "memory");
        chip.efficiency.scale_up_link = read_fraction(e, "scale_up_link");
        chip.efficiency.nic_link = read_fraction(e, "nic_link");
        chip.efficiency.gemm_tile_m = read_figure_int(e, "gemm_tile_m", 1, 4096);
        chip.efficiency.gemm_tile_n = read_figure_int(e, "gemm_tile_n", 1, 4096);
        e.finish();
    }
    r.finish();
    return chip;
}

// ---- models ---------------------------------------------------------------------------------------------

template <class Enum>
Enum read_choice(TableReader& r, std::string_view key, const std::vector<std::pair<std::string_view, Enum>>& choices,
                 std::optional<Enum> fallback) {
    const Node* node = r.optional(key);
    std::string list;
    for (const auto& [name, value] : choices) list += (list.empty() ? "\"" : ", \"") + std::string(name) + "\"";
    if (node == nullptr) {
        if (fallback) return *fallback;
        (void)r.required(key, fmt::format("add `{} = …` with one of {}", key, list));
    }
    const std::string path = r.path_of(key);
    const std::string text = detail::as_string(*node, path);
    std::vector<std::string> names;
    for (const auto& [name, value] : choices) {
        if (name == text) return value;
        names.emplace_back(name);
    }
    std::string hint = fmt::format("use one of {}", list);
    if (auto best = detail::suggest(text, names)) hint = fmt::format("did you mean \"{}\"? ({})", *best, hint);
    throw ScenarioError(node->where, fmt::format("`{}` = \"{}\" is not a known choice", path, text), hint);
}

int read_int(TableReader& r, std::string_view key, int min, int max, std::optional<int> fallback = std::nullopt) {
    if (const Node* node = r.optional(key)) return detail::as_int(*node, r.path_of(key), min, max);
    if (fallback) return *fallback;
    return detail::as_int(r.required(key), r.path_of(key), min, max);
}

ModelSpec read_model(const Node& table, const std::string& id, const std::string& prefix) {
    ModelSpec m;
    m.id = id;
    TableReader r(table, prefix);
    r.allow("from");
    m.display_name = detail::as_string(r.required("name"), r.path_of("name"));
    if (const Node* s = r.optional("source")) (void)detail::as_string(*s, r.path_of("source"));
    if (const Node* n = r.optional("note")) (void)detail::as_string(*n, r.path_of("note"));
    m.layers = read_int(r, "layers", 1, 100000);
    m.hidden = read_int(r, "hidden", 1, 10'000'000);
    m.vocab = read_int(r, "vocab", 1, 100'000'000);
    if (const Node* t = r.optional("tied_embeddings")) m.tied_embeddings = detail::as_bool(*t, r.path_of("tied_embeddings"));
    if (const Node* b = r.optional("bias")) m.bias = detail::as_bool(*b, r.path_of("bias"));
    m.norm = read_choice<NormKind>(r, "norm", {{"layernorm", NormKind::layernorm}, {"rmsnorm", NormKind::rmsnorm}},
                                   std::nullopt);
    m.position = read_choice<PositionKind>(
        r, "position",
        {{"learned", PositionKind::learned}, {"rope", PositionKind::rope}, {"alibi", PositionKind::alibi}},
        std::nullopt);
    if (m.position == PositionKind::learned) {
        m.max_position_embeddings = read_int(r, "max_position_embeddings", 1, 100'000'000);
    } else if (const Node* node = r.optional("max_position_embeddings")) {
        throw ScenarioError(node->where, "`max_position_embeddings` applies only to position = \"learned\"",
                            "remove it, or set position = \"learned\"");
    }
    m.mtp_depth = read_int(r, "mtp_depth", 0, 64, 0);

    {
        const Node& node = detail::as_table(r.required("attention"), r.path_of("attention"));
        TableReader a(node, r.path_of("attention"));
        auto& at = m.attention;
        at.kind = read_choice<AttentionKind>(
            a, "kind", {{"mha", AttentionKind::mha}, {"gqa", AttentionKind::gqa}, {"mla", AttentionKind::mla}},
            std::nullopt);
        at.heads = read_int(a, "heads", 1, 1'000'000);
        at.head_dim = read_int(a, "head_dim", 1, 1'000'000);
        if (at.kind == AttentionKind::gqa) {
            at.kv_heads = read_int(a, "kv_heads", 1, at.heads);
            if (at.heads % at.kv_heads != 0) {
                throw ScenarioError(a.table().find("kv_heads")->where,
                                    fmt::format("`{}` = {} does not divide heads = {}", a.path_of("kv_heads"),
                                                at.kv_heads, at.heads),
                                    "grouped-query attention needs heads to be a multiple of kv_heads");
            }
        } else {
            at.kv_heads = at.heads;
        }
        if (at.kind == AttentionKind::mla) {
            at.q_lora_rank = read_int(a, "q_lora_rank", 0, 10'000'000, 0);
            at.kv_lora_rank = read_int(a, "kv_lora_rank", 1, 10'000'000);
            at.rope_head_dim = read_int(a, "rope_head_dim", 0, 1'000'000);
            at.v_head_dim = read_int(a, "v_head_dim", 1, 1'000'000, at.head_dim);
        }
        a.finish();
    }
    {
        TableReader p(detail::as_table(r.required("mlp"), r.path_of("mlp")), r.path_of("mlp"));
        m.mlp.kind = read_choice<MlpKind>(
            p, "kind", {{"gelu", MlpKind::gelu}, {"swiglu", MlpKind::swiglu}, {"squared-relu", MlpKind::squared_relu}},
            std::nullopt);
        m.mlp.ffn_hidden = read_int(p, "ffn_hidden", 1, 100'000'000);
        p.finish();
    }
    if (const Node* moe_node = r.optional("moe")) {
        TableReader e(detail::as_table(*moe_node, r.path_of("moe")), r.path_of("moe"));
        MoeSpec moe;
        moe.routed_experts = read_int(e, "routed_experts", 1, 1'000'000);
        moe.shared_experts = read_int(e, "shared_experts", 0, 1'000'000, 0);
        moe.top_k = read_int(e, "top_k", 1, moe.routed_experts);
        moe.expert_ffn_hidden = read_int(e, "expert_ffn_hidden", 1, 100'000'000);
        moe.dense_layers = read_int(e, "dense_layers", 0, m.layers, 0);
        moe.max_nodes_per_token = read_int(e, "max_nodes_per_token", 0, 1'000'000, 0);
        e.finish();
        m.moe = moe;
    }
    if (const Node* published = r.optional("published")) {
        TableReader p(detail::as_table(*published, r.path_of("published")), r.path_of("published"));
        if (const Node* t = p.optional("total_parameters")) {
            m.published_total_parameters = detail::as_count(detail::figure_value(*t, p.path_of("total_parameters")),
                                                            p.path_of("total_parameters"));
        }
        if (const Node* a = p.optional("active_parameters")) {
            m.published_active_parameters = detail::as_count(
                detail::figure_value(*a, p.path_of("active_parameters")), p.path_of("active_parameters"));
        }
        p.finish();
    }
    r.finish();
    return m;
}

// ---- scenario sections ----------------------------------------------------------------------------------

Precision read_precision(TableReader& r, std::string_view key, Precision fallback) {
    std::vector<std::pair<std::string_view, Precision>> choices;
    for (Precision p : kAllPrecisions) choices.emplace_back(to_string(p), p);
    return read_choice<Precision>(r, key, choices, fallback);
}

ClusterSpec read_cluster(const Node& node, const std::filesystem::path& catalog_dir) {
    ClusterSpec c;
    TableReader r(node, "cluster");
    const Node& chip_slot = r.required("chip", "add `chip = \"h800\"` (a name from scenarios/chips/) or a [cluster.chip] table");
    auto [chip_table, chip_id] = resolve_slot(chip_slot, "chips", "cluster.chip", catalog_dir);
    const bool from_catalog = chip_slot.kind == Node::Kind::string;
    c.chip = read_chip(chip_table, chip_id, from_catalog ? std::string() : std::string("cluster.chip"));

    c.gpus = read_int(r, "gpus", 1, 10'000'000);
    c.gpus_per_node = read_int(r, "gpus_per_node", 1, 100'000, std::min(c.gpus, c.chip.scale_up_domain));
    c.fabric = read_choice<Fabric>(r, "fabric",
                                   {{"single-node", Fabric::single_node},
                                    {"fat-tree", Fabric::fat_tree},
                                    {"rail-optimized", Fabric::rail_optimized},
                                    {"multi-plane", Fabric::multi_plane}},
                                   c.gpus <= c.gpus_per_node ? Fabric::single_node : Fabric::fat_tree);
    c.nic_bandwidth = c.chip.nic_bandwidth;
    if (const Node* n = r.optional("nic_bandwidth")) {
        c.nic_bandwidth = detail::as_quantity(*n, "cluster.nic_bandwidth", parse_bandwidth, "400 Gb/s");
        require_positive(c.nic_bandwidth.value(), *n, "cluster.nic_bandwidth", "a bandwidth");
    }
    c.nic_latency = c.chip.nic_latency;
    if (const Node* n = r.optional("nic_latency")) {
        c.nic_latency = detail::as_quantity(*n, "cluster.nic_latency", parse_duration, "2.8 us");
        if (c.nic_latency.value() < 0) throw ScenarioError(n->where, "`cluster.nic_latency` cannot be negative");
    }
    if (const Node* o = r.optional("oversubscription")) {
        c.oversubscription = detail::as_number(*o, "cluster.oversubscription");
        if (!(c.oversubscription >= 1.0)) {
            throw ScenarioError(o->where,
                                fmt::format("`cluster.oversubscription` = {} must be at least 1", c.oversubscription),
                                "1 is a non-blocking fabric; 2 means 2:1 (half the uplink bandwidth)");
        }
    }
    c.tiers = read_int(r, "tiers", 2, 3, 2);
    c.planes = read_int(r, "planes", 1, 64, c.fabric == Fabric::multi_plane ? c.gpus_per_node : 1);
    c.switch_radix = read_int(r, "switch_radix", 4, 4096, 64);
    r.finish();

    if (c.gpus > c.gpus_per_node && c.gpus % c.gpus_per_node != 0) {
        throw ScenarioError(node.where,
                            fmt::format("cluster.gpus = {} is not a whole number of nodes of gpus_per_node = {}",
                                        c.gpus, c.gpus_per_node),
                            fmt::format("use a multiple of {} GPUs (e.g. {} or {})", c.gpus_per_node,
                                        c.gpus / c.gpus_per_node * c.gpus_per_node,
                                        (c.gpus / c.gpus_per_node + 1) * c.gpus_per_node));
    }
    if (c.fabric == Fabric::single_node && c.gpus > c.gpus_per_node) {
        throw ScenarioError(node.where,
                            fmt::format("fabric = \"single-node\" but gpus = {} exceeds gpus_per_node = {}", c.gpus,
                                        c.gpus_per_node),
                            "use fabric = \"fat-tree\", \"rail-optimized\" or \"multi-plane\" for several nodes");
    }
    if (c.fabric == Fabric::multi_plane && c.gpus_per_node % c.planes != 0) {
        throw ScenarioError(node.where,
                            fmt::format("planes = {} does not divide gpus_per_node = {}", c.planes, c.gpus_per_node),
                            "each plane connects the same NIC index of every node; use a divisor of gpus_per_node");
    }
    return c;
}

ParallelLayout read_parallelism(const Node& node, int gpus, int* data_given) {
    ParallelLayout p;
    TableReader r(node, "parallelism");
    p.tensor = read_int(r, "tensor", 1, kMaxInt, 1);
    p.pipeline = read_int(r, "pipeline", 1, kMaxInt, 1);
    p.context = read_int(r, "context", 1, kMaxInt, 1);
    p.expert = read_int(r, "expert", 1, kMaxInt, 1);
    if (const Node* d = r.optional("data")) {
        p.data = detail::as_int(*d, "parallelism.data", 1, kMaxInt);
        *data_given = 1;
    } else {
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
    p.recompute = read_choice<Recompute>(
        r, "recompute", {{"none", Recompute::none}, {"selective", Recompute::selective}, {"full", Recompute::full}},
        Recompute::none);
    p.communication_sms = read_int(r, "communication_sms", 0, 100000, 0);
    if (const Node* o = r.optional("overlap_gradient_reduce")) p.overlap_gradient_reduce = detail::as_bool(*o, "parallelism.overlap_gradient_reduce");
    if (const Node* o = r.optional("order")) {
        p.order = detail::as_string(*o, "parallelism.order");
        if (!order_parts(p.order)) {
            throw ScenarioError(o->where, fmt::format("`parallelism.order` = \"{}\" is not an ordering of tp, cp, ep, dp, pp", p.order),
                                "list each of tp, cp, ep, dp, pp once, innermost first, e.g. \"tp-cp-ep-dp-pp\"");
        }
    }
    r.finish();
    return p;
}

TrainingSpec read_training(const Node& node, const ChipProfile& chip, bool tokens_required) {
    TrainingSpec t;
    TableReader r(node, "training");
    if (tokens_required || r.has("tokens")) {
        const Node& tokens = r.required("tokens", "add `tokens = \"14.8T\"` (training tokens), or [[phases]]");
        t.tokens = detail::as_count(tokens, "training.tokens");
        require_positive(t.tokens, tokens, "training.tokens", "a token count");
    }
    t.sequence_length = read_int(r, "sequence_length", 1, 100'000'000);
    t.global_batch = read_int(r, "global_batch", 1, kMaxInt);
    t.precision.compute = read_precision(r, "precision", Precision::bf16);
    t.precision.parameters = read_precision(r, "parameters", Precision::bf16);
    t.precision.master_weights = read_precision(r, "master_weights", Precision::fp32);
    t.precision.optimizer_state = read_precision(r, "optimizer_state", Precision::fp32);
    t.precision.gradients = read_precision(r, "gradients", Precision::fp32);
    t.precision.activations = read_precision(r, "activations", Precision::bf16);
    t.attention_kernel = read_choice<AttentionKernel>(
        r, "attention_kernel", {{"fused", AttentionKernel::fused}, {"materialized", AttentionKernel::materialized}},
        AttentionKernel::fused);
    if (const Node* d = r.optional("dropout")) t.dropout = detail::as_bool(*d, "training.dropout");
    if (!chip.peak_dense.contains(t.precision.compute)) {
        const Node* p = r.optional("precision");
        std::string supported;
        for (const auto& [format, rate] : chip.peak_dense) supported += (supported.empty() ? "" : ", ") + std::string(to_string(format));
        throw ScenarioError(p ? p->where : node.where,
                            fmt::format("chip \"{}\" has no {} peak, so it cannot compute in {}", chip.id,
                                        to_string(t.precision.compute), to_string(t.precision.compute)),
                            fmt::format("use one of the formats it supports: {}", supported));
    }
    r.finish();
    return t;
}

Seconds read_nonnegative_duration(TableReader& r, std::string_view key, std::string_view example, Seconds fallback) {
    const Node* n = r.optional(key);
    if (n == nullptr) return fallback;
    const std::string path = r.path_of(key);
    const Seconds v = detail::as_quantity(*n, path, parse_duration, example);
    if (v.value() < 0) throw ScenarioError(n->where, fmt::format("`{}` cannot be negative", path));
    return v;
}

double read_number_at_least(TableReader& r, std::string_view key, double min, double fallback, std::string_view hint) {
    const Node* n = r.optional(key);
    if (n == nullptr) return fallback;
    const std::string path = r.path_of(key);
    const double v = detail::as_number(*n, path);
    if (!(v >= min)) throw ScenarioError(n->where, fmt::format("`{}` = {} must be at least {}", path, v, min), std::string(hint));
    return v;
}

ReliabilitySpec read_reliability(const Node& node) {
    ReliabilitySpec s;
    TableReader r(node, "reliability");
    s.restart_time = read_nonnegative_duration(r, "restart_time", "15 min", Seconds(0));
    s.checkpoint_write = read_nonnegative_duration(r, "checkpoint_write", "1 min", Seconds(0));
    if (const Node* n = r.optional("storage_bandwidth")) {
        if (r.has("checkpoint_write")) {
            throw ScenarioError(n->where, "give one of reliability.checkpoint_write and reliability.storage_bandwidth",
                                "checkpoint_write is the time of one write; storage_bandwidth derives it from the checkpoint's size");
        }
        s.storage_bandwidth = detail::as_quantity(*n, "reliability.storage_bandwidth", parse_bandwidth, "\"1 TB/s\"");
        require_positive(s.storage_bandwidth->value(), *n, "reliability.storage_bandwidth", "a bandwidth");
    }
    if (const Node* a = r.optional("async_checkpoint")) s.async_checkpoint = detail::as_bool(*a, "reliability.async_checkpoint");
    if (r.has("checkpoint_interval")) {
        s.checkpoint_interval = read_nonnegative_duration(r, "checkpoint_interval", "30 min", Seconds(0));
        if (s.checkpoint_interval->value() <= 0) {
            throw ScenarioError(r.table().find("checkpoint_interval")->where, "`reliability.checkpoint_interval` must be positive",
                                "leave it out to use the Young/Daly optimum");
        }
    }
    if (const Node* f = r.optional("failures")) {
        if (f->kind != Node::Kind::array) {
            throw ScenarioError(f->where, "`reliability.failures` must be an array of tables",
                                "write each kind as a [[reliability.failures]] block");
        }
        for (std::size_t i = 0; i < f->items.size(); ++i) {
            const std::string name = fmt::format("reliability.failures[{}]", i);
            TableReader fr(detail::as_table(f->items[i], name), name);
            FailureClass c;
            c.name = detail::as_string(fr.required("name", "name the kind of interruption, e.g. \"GPU\""), fr.path_of("name"));
            const Node* gpu = fr.optional("mtbf_per_gpu");
            const Node* node_mtbf = fr.optional("mtbf_per_node");
            if ((gpu == nullptr) == (node_mtbf == nullptr)) {
                throw ScenarioError(f->items[i].where, fmt::format("{} needs exactly one of mtbf_per_gpu or mtbf_per_node", name),
                                    "e.g. mtbf_per_gpu = \"50700 h\": one interruption per 50,700 GPU-hours");
            }
            const Node& n = gpu ? *gpu : *node_mtbf;
            const std::string path = fr.path_of(gpu ? "mtbf_per_gpu" : "mtbf_per_node");
            const Seconds mtbf = detail::as_quantity(n, path, parse_duration, "50700 h");
            require_positive(mtbf.value(), n, path, "a mean time between failures");
            c.rate_per_unit_hour = 1.0 / in_hours(mtbf);
            c.per_node = node_mtbf != nullptr;
            if (const Node* src = fr.optional("source")) (void)detail::as_string(*src, fr.path_of("source"));
            fr.finish();
            s.failures.push_back(c);
        }
    }
    r.finish();
    return s;
}

PricingSpec read_pricing(const Node& node) {
    PricingSpec s;
    TableReader r(node, "pricing");
    if (const Node* n = r.optional("gpu_hour")) {
        s.gpu_hour = detail::as_quantity(*n, "pricing.gpu_hour", parse_dollars, "$2");
        if (s.gpu_hour->value() < 0) throw ScenarioError(n->where, "`pricing.gpu_hour` cannot be negative");
    }
    if (const Node* n = r.optional("electricity")) {
        s.electricity = detail::as_quantity(*n, "pricing.electricity", parse_energy_price, "$0.08/kWh");
        if (s.electricity->value() < 0) throw ScenarioError(n->where, "`pricing.electricity` cannot be negative");
    }
    s.pue = read_number_at_least(r, "pue", 1.0, 1.0, "PUE is facility power / IT power, e.g. 1.2");
    s.utilization = read_number_at_least(r, "utilization", 0.0, 1.0, "average GPU power as a fraction of TDP, e.g. 0.8");
    if (s.utilization > 1.0) throw ScenarioError(r.table().find("utilization")->where, "`pricing.utilization` is a fraction of TDP, at most 1");
    s.host_power_share = read_number_at_least(r, "host_power_share", 0.0, 0.0, "non-GPU IT power as a fraction of GPU power, e.g. 0.3");
    if (const Node* n = r.optional("includes")) s.includes = detail::as_string(*n, "pricing.includes");
    if (const Node* o = r.optional("ownership")) {
        TableReader orr(detail::as_table(*o, "pricing.ownership"), "pricing.ownership");
        Ownership own;
        own.gpu_price = detail::as_quantity(orr.required("gpu_price"), "pricing.ownership.gpu_price", parse_dollars, "$25K");
        if (const Node* n = orr.optional("server_overhead")) own.server_overhead = detail::as_quantity(*n, "pricing.ownership.server_overhead", parse_dollars, "$8K");
        own.networking_share = read_number_at_least(orr, "networking_share", 0.0, 0.0, "networking capex as a fraction of GPU + server capex, e.g. 0.15");
        own.amortisation = detail::as_quantity(orr.required("amortisation"), "pricing.ownership.amortisation", parse_duration, "4 years");
        require_positive(own.amortisation.value(), orr.required("amortisation"), "pricing.ownership.amortisation", "an amortisation period");
        if (own.gpu_price.value() < 0 || own.server_overhead.value() < 0) throw ScenarioError(o->where, "prices in [pricing.ownership] cannot be negative");
        orr.finish();
        s.ownership = own;
    }
    r.finish();
    return s;
}

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

// ---- rules that span sections ---------------------------------------------------------------------------

void validate_layout(const Scenario& s, bool data_given) {
    const ParallelLayout& p = s.parallel;
    const ModelSpec& m = s.model;
    const SourceRef& at = s.sources.parallelism.known() ? s.sources.parallelism : s.sources.file;
    const long long product = p.total_ranks();
    if (product != s.cluster.gpus) {
        if (!data_given && s.cluster.gpus % p.model_parallel_ranks() != 0) {
            throw ScenarioError(at,
                                fmt::format("tensor × context × pipeline = {} × {} × {} = {} does not divide gpus = {}",
                                            p.tensor, p.context, p.pipeline, p.model_parallel_ranks(),
                                            s.cluster.gpus),
                                "change a parallel degree or cluster.gpus so that the GPUs split into whole "
                                "data-parallel replicas");
        }
        throw ScenarioError(at,
                            fmt::format("tensor × context × pipeline × data = {} × {} × {} × {} = {} ≠ gpus {}",
                                        p.tensor, p.context, p.pipeline, p.data, product, s.cluster.gpus),
                            fmt::format("make the product equal cluster.gpus (e.g. data = {}), or change cluster.gpus",
                                        s.cluster.gpus % p.model_parallel_ranks() == 0
                                            ? fmt::format("{}", s.cluster.gpus / p.model_parallel_ranks())
                                            : std::string("gpus / (tensor × context × pipeline)")));
    }
    const int heads = m.attention.heads;
    if (heads % p.tensor != 0) {
        throw ScenarioError(at, fmt::format("tensor = {} does not divide the model's {} attention heads", p.tensor, heads),
                            "choose a tensor-parallel degree that divides the head count");
    }
    if (m.attention.kind == AttentionKind::gqa && m.attention.kv_heads % p.tensor != 0) {
        throw ScenarioError(at,
                            fmt::format("tensor = {} does not divide the model's {} key/value heads", p.tensor,
                                        m.attention.kv_heads),
                            "grouped-query attention shards whole KV groups over tensor ranks; use a divisor of kv_heads");
    }
    if (p.expert > 1 && !m.moe) {
        throw ScenarioError(at, fmt::format("expert = {} but model \"{}\" has no experts", p.expert, m.id),
                            "set expert = 1 for a dense model");
    }
    if (p.expert > 1) {
        const long long carved = 1LL * p.data * p.context;
        if (carved % p.expert != 0) {
            throw ScenarioError(at,
                                fmt::format("expert = {} does not divide data × context = {} × {} = {}", p.expert,
                                            p.data, p.context, carved),
                                "expert-parallel ranks are carved out of the data × context ranks of a pipeline stage "
                                "(Megatron-Core convention); use a divisor");
        }
        if (m.moe->routed_experts % p.expert != 0) {
            throw ScenarioError(at,
                                fmt::format("expert = {} does not divide the model's {} routed experts", p.expert,
                                            m.moe->routed_experts),
                                "each expert-parallel rank holds the same number of experts; use a divisor");
        }
    }
    const long long chunks = 1LL * p.pipeline * p.virtual_stages;
    if (chunks > m.layers) {
        throw ScenarioError(at,
                            fmt::format("pipeline × virtual_stages = {} × {} = {} exceeds the model's {} layers",
                                        p.pipeline, p.virtual_stages, chunks, m.layers),
                            "every pipeline chunk needs at least one layer; lower pipeline or virtual_stages");
    }
    if (p.virtual_stages > 1 && p.schedule != Schedule::interleaved) {
        throw ScenarioError(at,
                            fmt::format("virtual_stages = {} needs schedule = \"interleaved\" (got \"{}\")",
                                        p.virtual_stages, to_string(p.schedule)),
                            "set schedule = \"interleaved\" or virtual_stages = 1");
    }
    if (p.schedule == Schedule::interleaved && p.virtual_stages < 2) {
        throw ScenarioError(at, "schedule = \"interleaved\" needs virtual_stages ≥ 2",
                            "set virtual_stages (model chunks per pipeline rank), e.g. 2");
    }
    if (p.schedule == Schedule::dualpipe && p.pipeline % 2 != 0) {
        throw ScenarioError(at, fmt::format("schedule = \"dualpipe\" needs an even pipeline degree (got {})", p.pipeline),
                            "DualPipe pairs stage i with stage pipeline−1−i; use an even pipeline degree");
    }
    if (p.communication_sms >= s.cluster.chip.sm_count) {
        throw ScenarioError(at,
                            fmt::format("communication_sms = {} leaves no SM for compute on the {} ({} SMs)",
                                        p.communication_sms, s.cluster.chip.display_name, s.cluster.chip.sm_count),
                            "reserve fewer SMs for communication kernels (DeepSeek-V3 reserves 20 of 132)");
    }
    if (p.sequence_parallel && p.tensor == 1) {
        throw ScenarioError(at, "sequence_parallel = true needs tensor > 1",
                            "sequence parallelism shards activations over the tensor-parallel group");
    }
    if (s.training.sequence_length % p.context != 0) {
        throw ScenarioError(s.sources.training.known() ? s.sources.training : at,
                            fmt::format("sequence_length = {} is not divisible by context = {}",
                                        s.training.sequence_length, p.context),
                            "context parallelism splits each sequence evenly over its ranks");
    }
    const long long per_step = 1LL * p.data * p.micro_batch;
    if (s.training.global_batch % per_step != 0) {
        throw ScenarioError(s.sources.training.known() ? s.sources.training : at,
                            fmt::format("global_batch = {} is not divisible by data × micro_batch = {} × {} = {}",
                                        s.training.global_batch, p.data, p.micro_batch, per_step),
                            fmt::format("use a global batch that is a multiple of {} (e.g. {})", per_step,
                                        (s.training.global_batch / per_step + 1) * per_step));
    }
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

// A phase's own rental price, `gpu_hour = "$2.5"`.
void read_phase_price(TableReader& r, PhaseSpec& ph) {
    if (const Node* n = r.optional("gpu_hour")) {
        ph.gpu_hour = detail::as_quantity(*n, r.path_of("gpu_hour"), parse_dollars, "\"$2\"");
        if (ph.gpu_hour->value() < 0) throw ScenarioError(n->where, fmt::format("`{}` cannot be negative", r.path_of("gpu_hour")));
    }
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
        if (const Node* q = r.optional("gpu_hours")) {
            ph.quoted_gpu_hours = detail::as_count(*q, r.path_of("gpu_hours"));
            require_positive(*ph.quoted_gpu_hours, *q, r.path_of("gpu_hours"), "GPU-hours");
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
        copy.training = read_training(t, base.cluster.chip, false);
        copy.parallel = read_parallelism(p, base.cluster.gpus, &data_given);
        copy.sources.parallelism = item.where;
        copy.sources.training = item.where;
        validate_layout(copy, data_given != 0 || parallel_node == nullptr);
        ph.training = copy.training;
        ph.parallel = copy.parallel;
        const double tokens_per_step = static_cast<double>(ph.training.global_batch) * ph.training.sequence_length;
        const Node* tokens = r.optional("tokens");
        const Node* steps = r.optional("steps");
        if ((tokens == nullptr) == (steps == nullptr)) {
            throw ScenarioError(item.where, fmt::format("{} needs exactly one of tokens or steps", name),
                                "e.g. tokens = \"14.8T\", or steps = 1000 (× global_batch × sequence_length tokens)");
        }
        if (tokens != nullptr) {
            ph.tokens = detail::as_count(*tokens, r.path_of("tokens"));
            require_positive(ph.tokens, *tokens, r.path_of("tokens"), "a token count");
        } else {
            ph.tokens = detail::as_count(*steps, r.path_of("steps")) * tokens_per_step;
            require_positive(ph.tokens, *steps, r.path_of("steps"), "a step count");
        }
        if (const Node* ramp = r.optional("batch_ramp")) {
            TableReader rr(detail::as_table(*ramp, r.path_of("batch_ramp")), r.path_of("batch_ramp"));
            BatchRamp b;
            b.from = detail::as_int(rr.required("from", "the global batch the ramp starts at"), rr.path_of("from"), 1, kMaxInt);
            const Node& rt = rr.required("tokens", "the tokens over which the batch grows");
            b.tokens = detail::as_count(rt, rr.path_of("tokens"));
            require_positive(b.tokens, rt, rr.path_of("tokens"), "a token count");
            rr.finish();
            const long long unit = 1LL * ph.parallel.data * ph.parallel.micro_batch;
            if (b.from >= ph.training.global_batch || b.from % unit != 0) {
                throw ScenarioError(ramp->where,
                                    fmt::format("batch_ramp.from = {} must be below global_batch = {} and a multiple of "
                                                "data × micro_batch = {}", b.from, ph.training.global_batch, unit),
                                    "every batch of the ramp must split into whole micro-batches per replica");
            }
            if (b.tokens > ph.tokens) {
                throw ScenarioError(ramp->where, fmt::format("the batch ramp ({} tokens) is longer than the phase ({} tokens)",
                                                             format_count(b.tokens), format_count(ph.tokens)));
            }
            ph.ramp = b;
        }
        r.finish();
        out.push_back(ph);
    }
    return out;
}

// `extends` and `--set` applied: the document the scenario is read from.
Node merge_document(Node root, const std::filesystem::path& file, const LoadOptions& options) {
    // extends: deep merge, this file wins. Chains are followed; a cycle is an error.
    std::set<std::string> seen{std::filesystem::weakly_canonical(file).string()};
    std::filesystem::path current = file;
    while (const Node* ext = root.find("extends")) {
        const std::string name = detail::as_string(*ext, "extends");
        const std::filesystem::path base_path = current.parent_path() / name;
        const std::string canonical = std::filesystem::weakly_canonical(base_path).string();
        if (!seen.insert(canonical).second) {
            throw ScenarioError(ext->where, fmt::format("`extends` = \"{}\" forms a cycle", name),
                                "remove the extends that leads back to a file already included");
        }
        Node base = detail::parse_document_file(base_path.string(), ext->where);
        root.erase("extends");
        const Node* base_ext = base.find("extends");
        Node base_ext_copy;
        if (base_ext) base_ext_copy = *base_ext;
        base.erase("extends");
        detail::merge_into(base, std::move(root));
        root = std::move(base);
        if (base_ext) root.set("extends", base_ext_copy, base_ext_copy.where);
        current = base_path;
    }
    for (const auto& assignment : options.overrides) detail::apply_override(root, assignment);
    return root;
}

Scenario read_merged(const Node& root, const std::filesystem::path& file, const LoadOptions& options) {
    const std::filesystem::path catalog_dir =
        options.catalog_dir.empty() ? find_catalog_dir(file) : options.catalog_dir;

    Scenario s;
    s.sources.file = SourceRef{file.string(), 1, 1};
    TableReader r(root, "");
    if (const Node* t = r.optional("title")) s.title = detail::as_string(*t, "title");

    const Node& model_slot = r.required("model", "add `model = \"deepseek-v3\"` (a name from scenarios/models/) or a [model] table");
    s.sources.model = model_slot.where;
    {
        auto [table, id] = resolve_slot(model_slot, "models", "model", catalog_dir);
        s.model = read_model(table, id, model_slot.kind == Node::Kind::string ? std::string() : std::string("model"));
    }
    const Node& cluster = detail::as_table(r.required("cluster"), "cluster");
    s.sources.cluster = cluster.where;
    s.cluster = read_cluster(cluster, catalog_dir);

    const Node& training = detail::as_table(r.required("training"), "training");
    s.sources.training = training.where;
    const bool has_phases = root.find("phases") != nullptr;
    s.training = read_training(training, s.cluster.chip, !has_phases);

    int data_given = 0;
    if (const Node* parallel = r.optional("parallelism")) {
        s.sources.parallelism = parallel->where;
        s.parallel = read_parallelism(detail::as_table(*parallel, "parallelism"), s.cluster.gpus, &data_given);
    } else {
        s.parallel.data = s.cluster.gpus;
    }
    if (const Node* n = r.optional("reliability")) s.reliability = read_reliability(detail::as_table(*n, "reliability"));
    if (const Node* n = r.optional("pricing")) s.pricing = read_pricing(detail::as_table(*n, "pricing"));
    if (const Node* n = r.optional("claims")) {
        if (n->kind != Node::Kind::array) {
            throw ScenarioError(n->where, "`claims` must be an array of tables", "write each claim as a [[claims]] block");
        }
        for (std::size_t i = 0; i < n->items.size(); ++i) s.claims.push_back(read_claim(n->items[i], i));
    }
    if (const Node* n = r.optional("published")) s.published = read_published(detail::as_table(*n, "published"));
    if (const Node* n = r.optional("whatif")) s.whatif = read_whatif(detail::as_table(*n, "whatif"), catalog_dir);
    r.allow("phases");
    r.allow("extends");
    r.finish();
    if (s.title.empty()) s.title = file.stem().string();
    validate_layout(s, data_given != 0);
    const Node* parallel_node = root.find("parallelism");
    if (const Node* phases = root.find("phases")) {
        (void)r.has("phases");
        s.phases = read_phases(*phases, s, training, parallel_node);
        s.phases_given = true;
        s.training.tokens = 0;
        for (const auto& ph : s.phases) s.training.tokens += ph.tokens;
    } else {
        PhaseSpec only;
        only.name = "training";
        only.tokens = s.training.tokens;
        only.training = s.training;
        only.parallel = s.parallel;
        only.where = s.sources.training;
        s.phases.push_back(only);
    }
    return s;
}

// ---- uncertain inputs -----------------------------------------------------------------------------------

constexpr double kZ95 = 1.6448536269514722;  // standard normal 95th percentile

bool is_distribution(const Node& n) {
    if (n.kind != Node::Kind::table || n.fields.empty()) return false;
    bool has_low = false;
    bool has_high = false;
    bool has_dist = false;
    for (const auto& [k, v] : n.fields) {
        if (k == "low") has_low = true;
        else if (k == "high") has_high = true;
        else if (k == "dist") has_dist = true;
        else if (k != "mode" && k != "mean" && k != "sd") return false;
    }
    return has_dist || (has_low && has_high);
}

// A distribution parameter: a number, or a unit string split into prefix, number and suffix.
struct Parameter {
    double value = 0;
    std::string prefix, suffix;
};

Parameter read_parameter(const Node& n, const std::string& path) {
    if (n.kind == Node::Kind::integer || n.kind == Node::Kind::floating) return Parameter{detail::as_number(n, path), {}, {}};
    const std::string text = detail::as_string(n, path);
    std::size_t start = 0;
    while (start < text.size() && !(std::isdigit(static_cast<unsigned char>(text[start])) || text[start] == '.' || text[start] == '-')) ++start;
    std::size_t end = start;
    while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.' || text[end] == 'e' ||
                                 text[end] == 'E' || (end == start && text[end] == '-'))) {
        if ((text[end] == 'e' || text[end] == 'E') && (end + 1 >= text.size() || !std::isdigit(static_cast<unsigned char>(text[end + 1])))) break;
        ++end;
    }
    if (end == start) throw ScenarioError(n.where, fmt::format("`{}` = \"{}\" has no number", path, text), "write e.g. \"$1.5\" or \"0.4\"");
    Parameter p;
    try {
        p.value = std::stod(text.substr(start, end - start));
    } catch (const std::exception&) {
        throw ScenarioError(n.where, fmt::format("`{}` = \"{}\" has no readable number", path, text));
    }
    p.prefix = text.substr(0, start);
    p.suffix = text.substr(end);
    return p;
}

UncertainInput read_distribution(const Node& n, const std::string& path) {
    TableReader r(n, path);
    UncertainInput u;
    u.path = path;
    u.where = n.where;
    std::string dist;
    if (const Node* d = r.optional("dist")) dist = detail::as_string(*d, r.path_of("dist"));
    std::vector<Parameter> params;
    auto param = [&](const char* key) {
        params.push_back(read_parameter(r.required(key), r.path_of(key)));
        return params.back().value;
    };
    if (dist.empty()) dist = r.has("mode") ? "triangular" : "uniform";
    if (dist == "uniform") {
        u.distribution = Distribution::uniform;
        u.a = param("low");
        u.b = param("high");
    } else if (dist == "triangular") {
        u.distribution = Distribution::triangular;
        u.a = param("low");
        u.b = param("mode");
        u.c = param("high");
        if (!(u.a <= u.b && u.b <= u.c)) throw ScenarioError(n.where, fmt::format("`{}` needs low ≤ mode ≤ high", path));
    } else if (dist == "normal") {
        u.distribution = Distribution::normal;
        u.a = param("mean");
        u.b = param("sd");
        if (!(u.b > 0)) throw ScenarioError(n.where, fmt::format("`{}.sd` must be positive", path));
    } else if (dist == "lognormal") {
        u.distribution = Distribution::lognormal;
        const double lo = param("low");
        const double hi = param("high");
        if (!(lo > 0 && hi > lo)) throw ScenarioError(n.where, fmt::format("`{}` needs 0 < low < high (its 5th and 95th percentiles)", path));
        u.a = 0.5 * (std::log(lo) + std::log(hi));
        u.b = (std::log(hi) - std::log(lo)) / (2.0 * kZ95);
    } else {
        throw ScenarioError(r.table().find("dist")->where, fmt::format("`{}.dist` = \"{}\" is not a distribution", path, dist),
                            "use \"uniform\", \"triangular\", \"normal\" or \"lognormal\"");
    }
    if (u.distribution == Distribution::uniform && !(u.a < u.b)) throw ScenarioError(n.where, fmt::format("`{}` needs low < high", path));
    r.finish();
    for (const auto& p : params) {
        if (p.prefix != params.front().prefix || p.suffix != params.front().suffix) {
            throw ScenarioError(n.where, fmt::format("the bounds of `{}` use different units", path),
                                "write every bound in the same unit, e.g. low = \"$1.5\", high = \"$3.5\"");
        }
    }
    u.prefix = params.front().prefix;
    u.suffix = params.front().suffix;
    return u;
}

void find_uncertain(Node& node, const std::string& path, std::vector<UncertainInput>& out) {
    for (auto& [key, value] : node.fields) {
        const std::string child = path.empty() ? key : path + "." + key;
        if (is_distribution(value)) {
            if (child.rfind("claims", 0) == 0 || child.rfind("published", 0) == 0 || child.rfind("phases", 0) == 0 ||
                child == "training.tokens") {
                throw ScenarioError(value.where, fmt::format("`{}` cannot be uncertain", child),
                                    "distributions are supported for prices, reliability figures, and the inputs of the "
                                    "step (cluster, chip, model, parallelism, training except tokens)");
            }
            UncertainInput u = read_distribution(value, child);
            const double nominal = u.nominal();
            const bool numeric = u.prefix.empty() && u.suffix.empty();
            const SourceRef where = value.where;
            Node replacement;
            if (numeric) {
                replacement.kind = Node::Kind::floating;
                replacement.floating = nominal;
            } else {
                replacement.kind = Node::Kind::string;
                replacement.text = u.text(nominal);
            }
            replacement.where = where;
            value = std::move(replacement);
            out.push_back(std::move(u));
        } else if (value.kind == Node::Kind::table) {
            find_uncertain(value, child, out);
        }
    }
}

std::vector<UncertainInput> extract_uncertain(Node& root) {
    std::vector<UncertainInput> out;
    find_uncertain(root, "", out);
    return out;
}

// Sets the node at dotted `path` to `value` written like the input's bounds.
void set_value(Node& root, const UncertainInput& u, double value) {
    Node* node = &root;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = u.path.find('.', start);
        const std::string key = u.path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        node = node->find(key);
        if (node == nullptr) throw std::logic_error("uncertain input path vanished: " + u.path);
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    if (u.prefix.empty() && u.suffix.empty()) {
        node->kind = Node::Kind::floating;
        node->floating = value;
        // Integer keys (counts) take the nearest whole number.
    } else {
        node->kind = Node::Kind::string;
        node->text = u.text(value);
    }
}

Scenario read_scenario(Node root, const std::filesystem::path& file, const LoadOptions& options) {
    Node merged = merge_document(std::move(root), file, options);
    (void)extract_uncertain(merged);
    return read_merged(merged, file, options);
}

}  // namespace

std::filesystem::path default_catalog_dir() { return std::filesystem::path(GPUHOURS_SOURCE_CATALOG_DIR); }

std::vector<std::string> catalog_names(const std::filesystem::path& catalog_dir, const std::string& kind) {
    std::vector<std::string> names;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(catalog_dir / kind, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() == ".toml") names.push_back(it->path().stem().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

void validate_layout(const Scenario& s) { validate_layout(s, true); }

StepSpec step_spec_of(const Scenario& s) {
    StepSpec spec{s.model, s.cluster, s.parallel, s.training.precision, s.training.sequence_length, s.training.global_batch};
    spec.attention_kernel = s.training.attention_kernel;
    spec.dropout = s.training.dropout;
    return spec;
}

Bytes checkpoint_bytes(const Scenario& s) {
    const double params = count_parameters(s.model).total;
    const MixedPrecision& p = s.training.precision;
    return Bytes(params * (bytes_per_element(p.master_weights) + 2.0 * bytes_per_element(p.optimizer_state)));
}

Seconds checkpoint_write_time(const Scenario& s) {
    if (s.reliability.storage_bandwidth) return checkpoint_bytes(s) / *s.reliability.storage_bandwidth;
    return s.reliability.checkpoint_write;
}

Scenario scenario_of_phase(const Scenario& s, const PhaseSpec& phase, int global_batch) {
    Scenario copy = s;
    copy.training = phase.training;
    if (global_batch > 0) copy.training.global_batch = global_batch;
    copy.parallel = phase.parallel;
    return copy;
}

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

void require_fit(const Scenario& s, const FitCheck& fit) {
    if (!fit.fits) {
        const auto largest = fit.breakdown.largest_term();
        throw ScenarioError(s.sources.parallelism.known() ? s.sources.parallelism : s.sources.file,
                            fmt::format("the model does not fit: {} needed per GPU on pipeline rank {} but the {} has "
                                        "{}; the largest term is {} ({})",
                                        format_bytes(fit.breakdown.total()), fit.breakdown.stage,
                                        s.cluster.chip.display_name, format_bytes(fit.capacity), largest.name,
                                        format_bytes(largest.bytes)),
                            "shard more: raise tensor or pipeline, use zero = 1..3, or recompute = \"selective\" / "
                            "\"full\"; see `gpuhours model` for the whole breakdown");
    }
}

void require_fit(const Scenario& s) { require_fit(s, fit_of(s)); }

ChipProfile load_chip(const std::string& name, const std::filesystem::path& catalog_dir) {
    const std::filesystem::path dir = catalog_dir.empty() ? default_catalog_dir() : catalog_dir;
    const Node table = load_catalog_entry("chips", name, dir, SourceRef{});
    return read_chip(table, name, "");
}

ModelSpec load_model(const std::string& name, const std::filesystem::path& catalog_dir) {
    const std::filesystem::path dir = catalog_dir.empty() ? default_catalog_dir() : catalog_dir;
    const Node table = load_catalog_entry("models", name, dir, SourceRef{});
    return read_model(table, name, "");
}

Scenario load_scenario(const std::filesystem::path& file, const LoadOptions& options) {
    Node root = detail::parse_document_file(file.string());
    return read_scenario(std::move(root), file, options);
}

double UncertainInput::nominal() const {
    switch (distribution) {
        case Distribution::uniform: return 0.5 * (a + b);
        case Distribution::triangular: return b;
        case Distribution::normal: return a;
        case Distribution::lognormal: return std::exp(a);
    }
    return a;
}

double UncertainInput::quantile(double q) const {
    // Inverse normal CDF by bisection on erfc: quantiles are needed a few times per run, not per sample.
    auto normal_quantile = [](double p) {
        double lo = -10, hi = 10;
        for (int i = 0; i < 100; ++i) {
            const double mid = 0.5 * (lo + hi);
            if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p) lo = mid;
            else hi = mid;
        }
        return 0.5 * (lo + hi);
    };
    switch (distribution) {
        case Distribution::uniform: return a + q * (b - a);
        case Distribution::triangular: {
            const double f = (b - a) / (c - a);
            return q < f ? a + std::sqrt(q * (c - a) * (b - a)) : c - std::sqrt((1 - q) * (c - a) * (c - b));
        }
        case Distribution::normal: return a + b * normal_quantile(q);
        case Distribution::lognormal: return std::exp(a + b * normal_quantile(q));
    }
    return a;
}

double UncertainInput::draw(Random& rng) const {
    switch (distribution) {
        case Distribution::uniform: return a + (b - a) * rng.uniform();
        case Distribution::triangular: return rng.triangular(a, b, c);
        case Distribution::normal: return rng.normal(a, b);
        case Distribution::lognormal: return std::exp(rng.normal(a, b));
    }
    return a;
}

std::string UncertainInput::text(double value) const {
    return prefix + fmt::format("{:.6g}", value) + suffix;
}

std::string UncertainInput::describe() const {
    switch (distribution) {
        case Distribution::uniform: return fmt::format("{} ~ uniform({}, {})", path, text(a), text(b));
        case Distribution::triangular: return fmt::format("{} ~ triangular({}, {}, {})", path, text(a), text(b), text(c));
        case Distribution::normal: return fmt::format("{} ~ normal(mean {}, sd {})", path, text(a), text(b));
        case Distribution::lognormal:
            return fmt::format("{} ~ lognormal(90% in {}–{})", path, text(quantile(0.05)), text(quantile(0.95)));
    }
    return path;
}

ScenarioSampler::ScenarioSampler(const std::filesystem::path& file, const LoadOptions& options) : file_(file), options_(options) {
    auto doc = std::make_shared<Node>(merge_document(detail::parse_document_file(file.string()), file, options));
    inputs_ = extract_uncertain(*doc);
    document_ = doc;
}

Scenario ScenarioSampler::nominal() const { return with(nominal_values()); }

std::vector<double> ScenarioSampler::nominal_values() const {
    std::vector<double> v;
    for (const auto& u : inputs_) v.push_back(u.nominal());
    return v;
}

std::vector<double> ScenarioSampler::draw(Random& rng) const {
    std::vector<double> v;
    for (const auto& u : inputs_) v.push_back(u.draw(rng));
    return v;
}

Scenario ScenarioSampler::with(const std::vector<double>& values) const {
    Node doc = *std::static_pointer_cast<const Node>(document_);
    for (std::size_t i = 0; i < inputs_.size() && i < values.size(); ++i) set_value(doc, inputs_[i], values[i]);
    return read_merged(doc, file_, options_);
}

Scenario load_scenario_from_string(std::string_view text, const std::string& name, const LoadOptions& options) {
    Node root = detail::parse_document(text, name);
    return read_scenario(std::move(root), std::filesystem::path(name), options);
}

}  // namespace gpuhours
