#include <gpuhours/units/error.hpp>
#include <gpuhours/training/placement.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace gpuhours {

std::string_view to_string(GroupKind g) {
    switch (g) {
        case GroupKind::tensor: return "tensor";
        case GroupKind::context: return "context";
        case GroupKind::expert: return "expert";
        case GroupKind::expert_data: return "expert-data";
        case GroupKind::expert_tensor: return "expert-tensor";
        case GroupKind::data: return "data";
        case GroupKind::pipeline: return "pipeline";
        case GroupKind::data_context: return "data×context";
        case GroupKind::shard: return "shard";
        case GroupKind::replica: return "replica";
        case GroupKind::mirror: return "mirror";
    }
    return "?";
}

Placement::Placement(const ParallelLayout& layout, int gpus) : layout_(layout) {
    const long long total = layout.total_ranks();
    if (total != gpus) {
        throw Error(fmt::format("tensor × context × pipeline × data = {} ≠ {} GPUs", total, gpus),
                    "make the parallel degrees multiply to the GPU count");
    }
    ranks_ = gpus;
    if (layout.shard_group > 0 && (1LL * layout.data * layout.context) % layout.shard_group != 0) {
        throw Error(fmt::format("shard_group = {} does not divide data × context = {}", layout.shard_group,
                                1LL * layout.data * layout.context),
                    "make parallelism.shard_group a divisor of data × context");
    }
    const auto parsed = order_parts(layout.order);
    if (!parsed) throw Error(fmt::format("order \"{}\" is not a permutation of tp, cp, ep, dp, pp", layout.order));
    const std::vector<std::string>& parts = *parsed;
    const int degree[4] = {layout.tensor, layout.context, layout.data, layout.pipeline};
    int stride = 1;
    strides_.assign(4, 1);
    int ep_pos = 0;
    int dp_pos = 0;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::string& p = parts[i];
        if (p == "ep") { ep_pos = static_cast<int>(i); continue; }
        const int dim = p == "tp" ? 0 : p == "cp" ? 1 : p == "dp" ? 2 : 3;
        if (p == "dp") dp_pos = static_cast<int>(i);
        dense_order_.push_back(dim);
        strides_[static_cast<std::size_t>(dim)] = stride;
        stride *= degree[dim];
    }
    ep_before_dp_ = ep_pos < dp_pos;
    if (layout.folds_experts()) {
        const long long stage = 1LL * layout.tensor * layout.context * layout.data;
        if (stage % (1LL * layout.expert * layout.expert_tensor_degree()) != 0) {
            throw Error(fmt::format("expert × expert_tensor = {} × {} does not divide tensor × context × data = {}",
                                    layout.expert, layout.expert_tensor_degree(), stage),
                        "make parallelism.expert × parallelism.expert_tensor a divisor of tensor × context × data");
        }
        if (!ep_before_dp_) {
            throw Error(fmt::format("order \"{}\" puts ep after dp; folded expert groups are laid out tp-ep-dp", layout.order),
                        "put ep before dp in parallelism.order, or use expert_tensor = tensor with expert dividing data × context");
        }
    }
}

RankCoord Placement::coord(int rank) const {
    RankCoord c;
    const int degree[4] = {layout_.tensor, layout_.context, layout_.data, layout_.pipeline};
    int digits[4] = {0, 0, 0, 0};
    for (int dim = 0; dim < 4; ++dim) digits[dim] = (rank / strides_[static_cast<std::size_t>(dim)]) % degree[dim];
    c.tp = digits[0];
    c.cp = digits[1];
    c.dp = digits[2];
    c.pp = digits[3];
    c.etp = c.tp;
    if (layout_.folds_experts()) {
        const int f = stage_index(c);
        const int et = layout_.expert_tensor_degree();
        c.etp = f % et;
        c.ep = f / et % layout_.expert;
        c.ep_group = f / et / layout_.expert;
        return c;
    }
    // Flattened data × context index, cp and dp in the order's relative order.
    const bool cp_inner = strides_[1] < strides_[2];
    const int flat = cp_inner ? c.cp + layout_.context * c.dp : c.dp + layout_.data * c.cp;
    const int ep = layout_.expert;
    const int groups = layout_.data * layout_.context / ep;
    if (ep_before_dp_) {
        c.ep = flat % ep;
        c.ep_group = flat / ep;
    } else {
        c.ep = flat / groups;
        c.ep_group = flat % groups;
    }
    return c;
}

int Placement::rank_of(int tp, int cp, int dp, int pp) const {
    return tp * strides_[0] + cp * strides_[1] + dp * strides_[2] + pp * strides_[3];
}

int Placement::stage_index(const RankCoord& c) const {
    const int digit[4] = {c.tp, c.cp, c.dp, c.pp};
    const int degree[4] = {layout_.tensor, layout_.context, layout_.data, layout_.pipeline};
    int f = 0;
    int radix = 1;
    for (const int dim : dense_order_) {
        if (dim == 3) continue;
        f += digit[dim] * radix;
        radix *= degree[dim];
    }
    return f;
}

int Placement::rank_at(int f, int pp) const {
    int digit[4] = {0, 0, 0, pp};
    const int degree[4] = {layout_.tensor, layout_.context, layout_.data, layout_.pipeline};
    for (const int dim : dense_order_) {
        if (dim == 3) continue;
        digit[dim] = f % degree[dim];
        f /= degree[dim];
    }
    return rank_of(digit[0], digit[1], digit[2], digit[3]);
}

std::vector<int> Placement::folded_group(GroupKind kind, const RankCoord& c) const {
    const int et = layout_.expert_tensor_degree();
    const int ep = layout_.expert;
    std::vector<int> out;
    auto at = [&](int etp, int e, int edp) { out.push_back(rank_at(etp + et * (e + ep * edp), c.pp)); };
    if (kind == GroupKind::expert) {
        for (int i = 0; i < ep; ++i) at(c.etp, i, c.ep_group);
    } else if (kind == GroupKind::expert_data) {
        for (int g = 0; g < layout_.expert_data_ranks(); ++g) at(c.etp, c.ep, g);
    } else {
        for (int j = 0; j < et; ++j) at(j, c.ep, c.ep_group);
    }
    return out;
}

std::vector<int> Placement::group(GroupKind kind, int rank) const {
    const RankCoord c = coord(rank);
    if (layout_.folds_experts() &&
        (kind == GroupKind::expert || kind == GroupKind::expert_data || kind == GroupKind::expert_tensor)) {
        return folded_group(kind, c);
    }
    std::vector<int> out;
    const bool cp_inner = strides_[1] < strides_[2];
    auto from_flat = [&](int flat) {
        const int cp = cp_inner ? flat % layout_.context : flat / layout_.data;
        const int dp = cp_inner ? flat / layout_.context : flat % layout_.data;
        return rank_of(c.tp, cp, dp, c.pp);
    };
    const int ep = layout_.expert;
    const int groups = layout_.data * layout_.context / ep;
    auto flat_of = [&](int ep_index, int ep_group) {
        return ep_before_dp_ ? ep_group * ep + ep_index : ep_index * groups + ep_group;
    };
    switch (kind) {
        case GroupKind::tensor:
        case GroupKind::expert_tensor:  // unfolded: the experts split over the tensor group
            for (int i = 0; i < layout_.tensor; ++i) out.push_back(rank_of(i, c.cp, c.dp, c.pp));
            break;
        case GroupKind::context:
            for (int i = 0; i < layout_.context; ++i) out.push_back(rank_of(c.tp, i, c.dp, c.pp));
            break;
        case GroupKind::data:
            for (int i = 0; i < layout_.data; ++i) out.push_back(rank_of(c.tp, c.cp, i, c.pp));
            break;
        case GroupKind::pipeline:
            for (int i = 0; i < layout_.pipeline; ++i) out.push_back(rank_of(c.tp, c.cp, c.dp, i));
            break;
        case GroupKind::mirror: {
            const int other = layout_.pipeline - 1 - c.pp;
            out.push_back(rank_of(c.tp, c.cp, c.dp, std::min(c.pp, other)));
            if (other != c.pp) out.push_back(rank_of(c.tp, c.cp, c.dp, std::max(c.pp, other)));
            break;
        }
        case GroupKind::data_context:
            for (int f = 0; f < layout_.data * layout_.context; ++f) out.push_back(from_flat(f));
            break;
        case GroupKind::expert:
            for (int i = 0; i < ep; ++i) out.push_back(from_flat(flat_of(i, c.ep_group)));
            break;
        case GroupKind::expert_data:
            for (int g = 0; g < groups; ++g) out.push_back(from_flat(flat_of(c.ep, g)));
            break;
        case GroupKind::shard:
        case GroupKind::replica: {
            const int all = layout_.data * layout_.context;
            const int size = layout_.dense_shard_ranks();
            const int flat = cp_inner ? c.cp + layout_.context * c.dp : c.dp + layout_.data * c.cp;
            if (kind == GroupKind::shard) {
                for (int f = flat / size * size; f < flat / size * size + size; ++f) out.push_back(from_flat(f));
            } else {
                for (int f = flat % size; f < all; f += size) out.push_back(from_flat(f));
            }
            break;
        }
    }
    return out;
}

bool spans_nodes(const std::vector<int>& ranks, int gpus_per_node) {
    return std::any_of(ranks.begin(), ranks.end(),
                       [&](int r) { return r / gpus_per_node != ranks.front() / gpus_per_node; });
}

}  // namespace gpuhours
