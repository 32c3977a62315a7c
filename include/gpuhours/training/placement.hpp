// The ranks of a parallel layout and their communicator groups (tensor, context, expert, data, pipeline).
// Rank r runs on GPU r (GPUs are numbered node by node), so the order decides which groups stay inside a node.
//
// Convention (Megatron-Core's RankGenerator): `order` lists tp, cp, ep, dp, pp innermost first. Dense groups
// ignore `ep`: a rank's coordinates (tp, cp, dp, pp) are its digits in the mixed radix given by the order. The
// expert-parallel group is carved out of the data × context ranks of one pipeline stage and one tensor rank:
// those ranks are flattened (cp and dp in their order) and cut into blocks of `expert` consecutive ranks when
// ep precedes dp in the order (the default, keeping an expert group on as few nodes as possible), or into
// stride-(dp·cp/expert) sets when ep comes after dp. The expert-data-parallel group (ranks holding the same
// experts, which reduce their gradients together) is the complement within the same flattened set.
//
// MoE parallel folding (ParallelLayout::folds_experts: an expert_tensor degree other than tensor, or expert not
// dividing data × context; Megatron-Core's expert RankGenerator, arXiv 2504.14960): the tensor × context × data
// ranks of one stage, numbered f = 0 … t·c·d − 1 by their dense digits in the order (tp, cp, dp innermost first as
// the order lists them), are laid out again as f = etp + ET·(ep + EP·edp): the expert-tensor group varies etp, the
// expert group ep, the expert-data group edp. The order's `ep` must then come before `dp` (the expert grid's order
// is Megatron's tp-ep-dp). Unfolded, the expert-tensor group is the tensor group.
#pragma once

#include <gpuhours/workload/parallel.hpp>

#include <vector>

namespace gpuhours {

struct RankCoord {
    int tp = 0;
    int cp = 0;
    int dp = 0;
    int pp = 0;
    int ep = 0;         // position within its expert group
    int ep_group = 0;   // which expert group of the stage (0 .. dp·cp/expert − 1); folded: the expert-data index
    int etp = 0;        // position within its expert-tensor group (folded; else tp)
};

// shard, replica: hybrid sharding (ParallelLayout::shard_group S): the data × context ranks, flattened as for
// experts, cut into blocks of S consecutive ranks (a shard group: FSDP's intra-node shard) and the ranks at the
// same position in every block (a replica group). S = data × context (full sharding): one shard group, replica
// groups of one.
// mirror: DualPipe's two copies of the same layers, rank (tp, cp, dp, pp) and (tp, cp, dp, p − 1 − pp), lower stage
// first (one rank when pp = p − 1 − pp).
enum class GroupKind { tensor, context, expert, expert_data, expert_tensor, data, pipeline, data_context, shard, replica, mirror };
std::string_view to_string(GroupKind g);

class Placement {
public:
    // Throws Error when the degrees do not multiply to `gpus` or the order is not a permutation.
    Placement(const ParallelLayout& layout, int gpus);

    [[nodiscard]] int ranks() const { return ranks_; }
    [[nodiscard]] const ParallelLayout& layout() const { return layout_; }
    [[nodiscard]] RankCoord coord(int rank) const;
    [[nodiscard]] int rank_of(int tp, int cp, int dp, int pp) const;
    // The ranks of `rank`'s group of `kind`, in group order (the rank's own position included).
    [[nodiscard]] std::vector<int> group(GroupKind kind, int rank) const;

private:
    // Folded experts: a rank's index f within its stage, and the rank of index f in stage `pp`.
    [[nodiscard]] int stage_index(const RankCoord& c) const;
    [[nodiscard]] int rank_at(int f, int pp) const;
    [[nodiscard]] std::vector<int> folded_group(GroupKind kind, const RankCoord& c) const;

    ParallelLayout layout_;
    int ranks_ = 0;
    std::vector<char> order_;  // 't', 'c', 'e', 'd', 'p' innermost first
    bool ep_before_dp_ = true;
    std::vector<int> dense_order_;  // indices into (tp, cp, dp, pp) innermost first
    std::vector<int> strides_;      // stride of tp, cp, dp, pp
};

// Whether `ranks` lie on more than one node of `gpus_per_node` GPUs (rank r on GPU r, nodes numbered in order).
// False for an empty list; `gpus_per_node` must be positive.
[[nodiscard]] bool spans_nodes(const std::vector<int>& ranks, int gpus_per_node);

}  // namespace gpuhours
