#include <gpuhours/workload/parallel.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace gpuhours {
namespace {
constexpr std::array<std::pair<Schedule, std::string_view>, 5> kSchedules{{{Schedule::gpipe, "gpipe"},
                                                                           {Schedule::one_f_one_b, "1f1b"},
                                                                           {Schedule::interleaved, "interleaved"},
                                                                           {Schedule::zero_bubble, "zero-bubble"},
                                                                           {Schedule::dualpipe, "dualpipe"}}};
constexpr std::array<std::pair<Recompute, std::string_view>, 3> kRecompute{
    {{Recompute::none, "none"}, {Recompute::selective, "selective"}, {Recompute::full, "full"}}};
}  // namespace

std::string_view to_string(Schedule s) {
    for (const auto& [value, name] : kSchedules) if (value == s) return name;
    return "?";
}
std::optional<Schedule> schedule_from_string(std::string_view name) {
    for (const auto& [value, n] : kSchedules) if (n == name) return value;
    return std::nullopt;
}
std::string_view to_string(Recompute r) {
    for (const auto& [value, name] : kRecompute) if (value == r) return name;
    return "?";
}
std::optional<Recompute> recompute_from_string(std::string_view name) {
    for (const auto& [value, n] : kRecompute) if (n == name) return value;
    return std::nullopt;
}

std::string_view to_string(CpCommType c) { return c == CpCommType::p2p ? "p2p" : "all_gather"; }

std::string_view to_string(MoeDispatcher d) { return d == MoeDispatcher::alltoall ? "alltoall" : "deepep"; }

std::string_view to_string(RecomputeModule m) {
    constexpr std::array<std::pair<RecomputeModule, std::string_view>, 6> kModules{
        {{RecomputeModule::core_attn, "core_attn"},
         {RecomputeModule::mla_up_proj, "mla_up_proj"},
         {RecomputeModule::layernorm, "layernorm"},
         {RecomputeModule::mlp, "mlp"},
         {RecomputeModule::moe_act, "moe_act"},
         {RecomputeModule::shared_experts, "shared_experts"}}};
    for (const auto& [value, name] : kModules) if (value == m) return name;
    return "?";
}
std::optional<RecomputeModule> recompute_module_from_string(std::string_view name) {
    for (RecomputeModule m : kAllRecomputeModules) if (to_string(m) == name) return m;
    return std::nullopt;
}
std::string describe_recompute_modules(unsigned modules) {
    std::string out;
    for (RecomputeModule m : kAllRecomputeModules) {
        if ((modules & static_cast<unsigned>(m)) != 0) out += (out.empty() ? "" : ", ") + std::string(to_string(m));
    }
    return out;
}
std::string describe_recompute(const ParallelLayout& p) {
    if (p.recompute == Recompute::selective && p.recompute_modules != 0) {
        return fmt::format("selective ({})", describe_recompute_modules(p.recompute_modules));
    }
    if (p.recompute == Recompute::full && p.recompute_num_layers > 0) {
        return fmt::format("full (first {} layer{} of each chunk)", p.recompute_num_layers, p.recompute_num_layers == 1 ? "" : "s");
    }
    return std::string(to_string(p.recompute));
}

std::optional<std::vector<std::string>> order_parts(std::string_view order) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t dash = order.find('-', start);
        parts.emplace_back(order.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
        if (dash == std::string_view::npos) break;
        start = dash + 1;
    }
    std::vector<std::string> sorted = parts;
    std::sort(sorted.begin(), sorted.end());
    if (sorted != std::vector<std::string>{"cp", "dp", "ep", "pp", "tp"}) return std::nullopt;
    return parts;
}

double ParallelLayout::gradient_bucket_parameters() const {
    if (gradient_bucket > 0) return static_cast<double>(gradient_bucket);
    return std::max(40e6, 1e6 * data * context);
}

long long ParallelLayout::padded_vocab(int vocab) const {
    const long long multiple = 1LL * vocab_divisible_by * tensor;
    return (vocab + multiple - 1) / multiple * multiple;
}

std::string describe_tensor_parallel(const ParallelLayout& p) {
    if (p.tensor <= 1) return {};
    if (!p.sequence_parallel) return "all-reduce after each row-parallel GEMM";
    if (!p.tp_comm_overlap) return "sequence parallel, all-gathers and reduce-scatters between the GEMMs";
    return fmt::format("sequence parallel, all-gathers and reduce-scatters overlapped with their GEMMs ({} SMs)", p.tp_comm_overlap_sms);
}

std::string describe_context_parallel(const ParallelLayout& p) {
    if (p.context <= 1) return {};
    if (p.cp_comm_type == CpCommType::p2p) return "K/V ring exchange (p2p) beside the attention core, forward and backward";
    return "K/V all-gathered before attention and again for its backward, dK/dV reduce-scattered after it (exposed)";
}

std::string describe_expert_dispatch(const ParallelLayout& p, bool moe) {
    if (!moe || p.expert <= 1) return {};
    return p.moe_dispatcher == MoeDispatcher::deepep ? "DeepEP-style: a token sent once per destination node, forwarded over NVLink inside it"
                                                     : "alltoall: one copy of a token per routed expert";
}

std::string describe_schedule(const ParallelLayout& p) {
    return std::string(to_string(p.schedule)) + (p.combined_1f1b ? " + combined 1F1B" : "");
}

std::string describe_degrees(const ParallelLayout& p) {
    std::string text = fmt::format("TP{} CP{} PP{} DP{} EP{}", p.tensor, p.context, p.pipeline, p.data, p.expert);
    if (p.folds_experts()) text += fmt::format(" ETP{}", p.expert_tensor_degree());
    return text;
}

std::string describe_data_parallel(const ParallelLayout& p) {
    const long long dc = 1LL * p.data * p.context;
    if (dc <= 1) return {};
    if (p.zero_stage >= 3) {
        std::string shard = p.shard_group > 0 && p.shard_group < dc
                                ? fmt::format(", shard group {} of {}", p.shard_group, dc)
                                : std::string();
        return fmt::format("ZeRO-3 / FSDP, per-layer gathers (prefetch {}, {}{})", p.prefetch,
                           p.reshard_after_forward ? "resharded after forward" : "kept from forward to backward", shard);
    }
    const char* reduce = p.zero_stage >= 1 ? "reduce-scattered" : "all-reduced";
    const std::string zero = p.zero_stage >= 1 ? fmt::format("ZeRO-{}, ", p.zero_stage) : std::string("no ZeRO, ");
    const std::string params = p.zero_stage == 0             ? std::string()
                               : p.param_gather_overlaps() ? "; parameters all-gathered layer by layer beside the next forward"
                                                           : "; parameters all-gathered after the optimizer";
    if (!p.overlap_gradient_reduce) return fmt::format("{}gradients {} after the backward{}", zero, reduce, params);
    return fmt::format("{}gradients {} in buckets of {:.0f}M parameters during the backward{}", zero, reduce,
                       p.gradient_bucket_parameters() / 1e6, params);
}

}  // namespace gpuhours
