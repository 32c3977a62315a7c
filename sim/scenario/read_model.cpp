// Reads a model (a catalog entry or an inline [model] table): layers, attention, MLP, experts, published counts.
#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace gpuhours::detail {

namespace {

// [attention] linear = "lightning", softmax_every, linear_block (AttentionSpec: the linear-attention layers).
void read_linear_attention(TableReader& a, int layers, AttentionSpec& at) {
    if (const Node* linear = a.optional("linear")) {
        (void)read_choice<int>(a, "linear", {{"lightning", 0}}, std::nullopt);
        at.linear = true;
        if (at.kind == AttentionKind::mla) {
            throw ScenarioError(linear->where,
                                fmt::format("`{}` is modelled beside softmax attention of kind \"mha\" or \"gqa\", not \"mla\"",
                                            a.path_of("linear")),
                                "set kind = \"gqa\" (or \"mha\") for the softmax layers, or remove `linear`");
        }
    }
    for (const char* key : {"softmax_every", "linear_block"}) {
        if (!at.linear && a.table().find(key) != nullptr) {
            throw ScenarioError(a.table().find(key)->where,
                                fmt::format("`{}` applies to linear-attention layers only", a.path_of(key)),
                                "set `linear = \"lightning\"` in the same table, or remove it");
        }
    }
    at.softmax_every = read_int(a, "softmax_every", 0, layers, 0);
    at.linear_block = read_int(a, "linear_block", 1, 1'000'000, 256);
}

// A figure of another attention kind (an MLA rank under kind = "mha", kv_heads under "mha" or "mla"), named as such rather
// than as an unknown key: a kind changed by --set over a catalog model left its figures "unknown" at the catalog
// file's line (an audit, session 51). Located at the kind when a --set gave it and not the figure, else at the figure.
void require_kind_figures(const TableReader& a, AttentionKind kind) {
    static constexpr std::array<std::string_view, 4> kMla{"q_lora_rank", "kv_lora_rank", "rope_head_dim", "v_head_dim"};
    const char* kind_name = kind == AttentionKind::mla ? "mla" : kind == AttentionKind::gqa ? "gqa" : "mha";
    for (const auto& [key, value] : a.table().fields) {
        const bool mla_figure = std::find(kMla.begin(), kMla.end(), key) != kMla.end();
        const std::string_view belongs = mla_figure && kind != AttentionKind::mla ? "mla"
                                         : key == "kv_heads" && kind != AttentionKind::gqa ? "gqa"
                                                                                          : "";
        if (belongs.empty()) continue;
        const SourceRef& kind_at = a.table().find("kind")->where;
        const bool kind_set = kind_at.file.starts_with("--set") && !value.where.file.starts_with("--set");
        throw ScenarioError(kind_set ? kind_at : value.where,
                            fmt::format("`{}` is a figure of {} attention, but `{}` = \"{}\"", a.path_of(key),
                                        belongs == "mla" ? "multi-head latent (mla)" : "grouped-query (gqa)", a.path_of("kind"), kind_name),
                            belongs == "mla" ? fmt::format("keep kind = \"mla\", or give a model without MLA's figures ({})",
                                                           "q_lora_rank, kv_lora_rank, rope_head_dim, v_head_dim")
                                             : std::string("keep kind = \"gqa\", or remove kv_heads"));
    }
}

// [attention] of a model (AttentionSpec): the kind, heads, MLA ranks, windows, sinks and linear layers.
void read_attention(TableReader& r, ModelSpec& m) {
    const Node& node = detail::as_table(r.required("attention"), r.path_of("attention"));
    TableReader a(node, r.path_of("attention"));
    auto& at = m.attention;
    at.kind = read_choice<AttentionKind>(
        a, "kind", {{"mha", AttentionKind::mha}, {"gqa", AttentionKind::gqa}, {"mla", AttentionKind::mla}},
        std::nullopt);
    require_kind_figures(a, at.kind);
    at.heads = read_int(a, "heads", 1, 1'000'000);
    at.head_dim = read_int(a, "head_dim", 1, 1'000'000);
    if (at.kind == AttentionKind::gqa) {
        at.kv_heads = read_int(a, "kv_heads", 1, at.heads);
        if (at.heads % at.kv_heads != 0) {
            // A rule between heads and kv_heads alone: held back only when the search changed one of them. Located at
            // kv_heads, or at heads when only heads was given by --set (the key written last).
            const SourceRef& heads_at = a.table().find("heads")->where;
            const SourceRef& kv_at = a.table().find("kv_heads")->where;
            const bool heads_set = heads_at.file.starts_with("--set") && !kv_at.file.starts_with("--set");
            throw CoupledError(heads_set ? heads_at : kv_at,
                               fmt::format("`{}` = {} does not divide heads = {}", a.path_of("kv_heads"), at.kv_heads, at.heads),
                               "grouped-query attention needs heads to be a multiple of kv_heads", nullptr,
                               {a.path_of("heads"), a.path_of("kv_heads")});
        }
    } else {
        at.kv_heads = at.heads;
    }
    at.sliding_window = read_int(a, "sliding_window", 0, 100'000'000, 0);
    at.full_attention_every = read_int(a, "full_attention_every", 0, m.layers, 0);
    if (const Node* sinks = a.optional("sinks")) at.sinks = detail::as_bool(*sinks, a.path_of("sinks"));
    if (at.sliding_window == 0 && at.full_attention_every > 0) {
        throw ScenarioError(a.table().find("full_attention_every")->where,
                            fmt::format("`{}` needs a sliding window", a.path_of("full_attention_every")),
                            "set `sliding_window = …` (tokens), or remove full_attention_every");
    }
    read_linear_attention(a, m.layers, at);
    if (at.sliding_window > 0) {
        bool windowed = false;
        for (int l = 0; l < m.layers && !windowed; ++l) windowed = is_windowed_layer(m, l);
        if (!windowed) {
            throw ScenarioError(a.table().find("sliding_window")->where,
                                fmt::format("`{}` applies to no layer: every layer is linear or keeps full attention",
                                            a.path_of("sliding_window")),
                                "remove sliding_window, or change full_attention_every / softmax_every so that some "
                                "softmax layer is windowed");
        }
    }
    if (at.kind == AttentionKind::mla) {
        at.q_lora_rank = read_int(a, "q_lora_rank", 0, 10'000'000, 0);
        at.kv_lora_rank = read_int(a, "kv_lora_rank", 1, 10'000'000);
        at.rope_head_dim = read_int(a, "rope_head_dim", 0, 1'000'000);
        at.v_head_dim = read_int(a, "v_head_dim", 1, 1'000'000, at.head_dim);
    }
    a.finish();
}

}  // namespace

ModelSpec read_model(const Node& table, const std::string& id, const std::string& prefix) {
    ModelSpec m;
    m.id = id;
    TableReader r(table, prefix);
    r.allow("from");
    // Without a name a table is a whole entry or a `from` one: a misspelt `from` (`frm = "h800"`) is the mistake
    // then, named before "missing `name`", which would send the user to write a whole entry (an audit, session 51).
    if (table.find("name") == nullptr && table.find("from") == nullptr) r.name_misspelling_of({"from"});
    m.display_name = detail::as_string(r.required("name"), r.path_of("name"));
    if (const Node* s = r.optional("source")) (void)detail::as_string(*s, r.path_of("source"));
    if (const Node* n = r.optional("note")) (void)detail::as_string(*n, r.path_of("note"));
    m.layers = read_limited(r, "layers", 1, limits::kLayers, "layer counts");
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

    read_attention(r, m);
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
        moe.routed_experts = read_limited(e, "routed_experts", 1, limits::kRoutedExperts, "expert counts");
        moe.shared_experts = read_int(e, "shared_experts", 0, 1'000'000, 0);
        moe.top_k = read_int(e, "top_k", 1, moe.routed_experts);
        moe.expert_ffn_hidden = read_int(e, "expert_ffn_hidden", 1, 100'000'000);
        moe.dense_layers = read_int(e, "dense_layers", 0, m.layers, 0);
        moe.max_nodes_per_token = read_int(e, "max_nodes_per_token", 0, 1'000'000, 0);
        // A token's k experts reach at most k nodes: a limit above top_k limits nothing (an MoE audit, session 50: 9
        // or 300 with top-8 ran as no limit, unsaid).
        if (moe.max_nodes_per_token > moe.top_k) {
            const Node& at = *e.optional("max_nodes_per_token");
            throw ScenarioError(at.where,
                                fmt::format("`{}` = {} is above top_k = {}: a token's {} experts reach at most {} nodes, so the limit "
                                            "limits nothing",
                                            e.path_of("max_nodes_per_token"), moe.max_nodes_per_token, moe.top_k, moe.top_k, moe.top_k),
                                fmt::format("give at most {} (DeepSeek-V3: 4 of top-8), or leave it out for routing without a node limit",
                                            moe.top_k));
        }
        moe.layer_frequency = read_int(e, "layer_frequency", 1, m.layers, 1);
        if (const Node* cv = e.optional("load_cv")) {
            moe.load_cv = detail::as_number(*cv, e.path_of("load_cv"));
            if (!(moe.load_cv >= 0.0 && moe.load_cv <= 4.0)) {
                throw ScenarioError(cv->where, fmt::format("`{}` = {} is outside 0–4", e.path_of("load_cv"), moe.load_cv),
                                    "the coefficient of variation of the experts' token loads: 0 for balanced routing, "
                                    "e.g. 0.3 for a router whose expert loads spread by 30 %");
            }
        }
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
        if (const Node* e = p.optional("active_counts_embedding")) {
            m.published_active_counts_embedding = detail::as_bool(*e, p.path_of("active_counts_embedding"));
        }
        if (const Node* e = p.optional("active_counts_head")) {
            m.published_active_counts_head = detail::as_bool(*e, p.path_of("active_counts_head"));
        }
        p.finish();
        // A catalog model the scenario changes (id "NAME (modified)") is no longer the one its card describes: the
        // catalog's published sizes are dropped, unless the scenario writes its own.
        const std::string base = id.substr(0, id.find(" (modified)"));
        auto from_catalog = [&](const char* key) {
            const Node* n = p.table().find(key);
            return base != id && n != nullptr && n->where.file.ends_with("models/" + base + ".toml");
        };
        if (from_catalog("total_parameters")) m.published_total_parameters.reset();
        if (from_catalog("active_parameters")) m.published_active_parameters.reset();
    }
    r.finish();
    return m;
}

// `model = "…"` written after a table header belongs to that table (TOML): the scenario then has no model, and the
// key is named where it stands, not only as missing (a scenario-language audit, session 51).
void require_model_not_misplaced(const Node& root) {
    if (root.find("model") != nullptr) return;
    for (const auto& [name, table] : root.fields) {
        if (table.kind != Node::Kind::table) continue;
        const Node* misplaced = table.find("model");
        if (misplaced == nullptr || misplaced->kind != Node::Kind::string) continue;
        throw ScenarioError(misplaced->where,
                            fmt::format("`model = \"{}\"` is inside [{}]: TOML puts every key after a table header into that "
                                        "table, so the scenario has no model",
                                        misplaced->text, name),
                            "move the line above the first [table] header of the file");
    }
}

}  // namespace gpuhours::detail
