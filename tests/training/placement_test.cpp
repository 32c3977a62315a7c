// Rank placement (include/gpuhours/training/placement.hpp): Megatron-Core's RankGenerator convention. A rank's dense
// coordinates are its digits in the mixed radix of the order (innermost first, ep skipped); the expert group is
// carved out of a stage's data × context ranks. Every expected group is derived in the comment before it.
#include <gpuhours/units/error.hpp>
#include <gpuhours/training/placement.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

using namespace gpuhours;

namespace {

ParallelLayout layout(int tensor, int context, int data, int pipeline, int expert, std::string order = "tp-cp-ep-dp-pp") {
    ParallelLayout l;
    l.tensor = tensor;
    l.context = context;
    l.data = data;
    l.pipeline = pipeline;
    l.expert = expert;
    l.order = std::move(order);
    return l;
}

using Ranks = std::vector<int>;

}  // namespace

TEST_CASE("the default order keeps tensor groups inside a node and strides data by tp and pipeline by tp times dp",
          "[placement]") {
    // TP 8 × DP 4 × PP 2 = 64 GPUs, 8 per node, order tp-cp-ep-dp-pp: strides tp 1, cp 8 (degree 1), dp 8,
    // pp 8·4 = 32.
    const Placement pl(layout(8, 1, 4, 2, 1), 64);
    REQUIRE(pl.ranks() == 64);
    // Tensor groups are 8 consecutive ranks: node n holds exactly tensor group n.
    CHECK(pl.group(GroupKind::tensor, 0) == Ranks{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(pl.group(GroupKind::tensor, 13) == Ranks{8, 9, 10, 11, 12, 13, 14, 15});
    for (int r = 0; r < 64; ++r) {
        for (int member : pl.group(GroupKind::tensor, r)) CHECK(member / 8 == r / 8);
    }
    // Data-parallel groups stride by tp·cp = 8; pipeline groups by tp·cp·dp = 32.
    CHECK(pl.group(GroupKind::data, 0) == Ranks{0, 8, 16, 24});
    CHECK(pl.group(GroupKind::data, 13) == Ranks{5, 13, 21, 29});
    CHECK(pl.group(GroupKind::pipeline, 0) == Ranks{0, 32});
    CHECK(pl.group(GroupKind::pipeline, 45) == Ranks{13, 45});
    // Rank 45 = 5 + 8·1 + 32·1: tp 5, dp 1, pp 1; rank_of inverts coord.
    const RankCoord c = pl.coord(45);
    CHECK(c.tp == 5);
    CHECK(c.cp == 0);
    CHECK(c.dp == 1);
    CHECK(c.pp == 1);
    for (int r = 0; r < 64; ++r) {
        const RankCoord x = pl.coord(r);
        CHECK(pl.rank_of(x.tp, x.cp, x.dp, x.pp) == r);
    }
}

TEST_CASE("context sits between tensor and data and expert groups are blocks of consecutive data-context ranks",
          "[placement]") {
    // TP 2 × CP 2 × DP 4 × PP 2 = 32 GPUs, EP 4, order tp-cp-ep-dp-pp: strides tp 1, cp 2, dp 2·2 = 4, pp 16.
    const Placement pl(layout(2, 2, 4, 2, 4), 32);
    CHECK(pl.group(GroupKind::context, 0) == Ranks{0, 2});
    CHECK(pl.group(GroupKind::data, 0) == Ranks{0, 4, 8, 12});
    CHECK(pl.group(GroupKind::pipeline, 0) == Ranks{0, 16});
    // The data × context set of a (tp, pp) is flattened cp-inner (cp precedes dp in the order):
    // flat = cp + 2·dp, rank = tp + 2·cp + 4·dp + 16·pp, so flat f of tp 0, pp 0 is rank 2·f.
    CHECK(pl.group(GroupKind::data_context, 0) == Ranks{0, 2, 4, 6, 8, 10, 12, 14});
    // ep precedes dp: expert groups are blocks of expert = 4 consecutive flat indices. Rank 0 (flat 0): flats 0..3
    // → ranks 0, 2, 4, 6. Rank 9 = 1 + 4·2 (tp 1, cp 0, dp 2): flat 4, block 1 = flats 4..7, and flat f of tp 1 is
    // rank 1 + 2·f → ranks 9, 11, 13, 15.
    CHECK(pl.group(GroupKind::expert, 0) == Ranks{0, 2, 4, 6});
    CHECK(pl.group(GroupKind::expert, 9) == Ranks{9, 11, 13, 15});
    CHECK(pl.coord(9).ep == 0);
    CHECK(pl.coord(9).ep_group == 1);
    CHECK(pl.coord(15).ep == 3);
    // The expert-data group (same experts: the same position in every block) strides by the block: flats f and
    // f + 4. Rank 0 → flats 0, 4 → ranks 0, 8; rank 15 (flat 7) → flats 3, 7 → ranks 7, 15.
    CHECK(pl.group(GroupKind::expert_data, 0) == Ranks{0, 8});
    CHECK(pl.group(GroupKind::expert_data, 15) == Ranks{7, 15});
    // Complement: for every rank, its expert group and its expert-data group meet only in the rank itself, and
    // expert × expert-data (4 × 2) covers its data × context set of 8 exactly once.
    for (int r = 0; r < 32; ++r) {
        INFO("rank " << r);
        const Ranks ep = pl.group(GroupKind::expert, r);
        const Ranks edp = pl.group(GroupKind::expert_data, r);
        CHECK(ep.size() == 4);
        CHECK(edp.size() == 2);
        Ranks common;
        std::set_intersection(ep.begin(), ep.end(), edp.begin(), edp.end(), std::back_inserter(common));
        CHECK(common == Ranks{r});
        std::set<int> covered;
        for (int e : edp) {
            for (int member : pl.group(GroupKind::expert, e)) covered.insert(member);
        }
        const Ranks dc = pl.group(GroupKind::data_context, r);
        CHECK(covered == std::set<int>(dc.begin(), dc.end()));
    }
}

TEST_CASE("putting pipeline inside data changes the strides to tp times cp for pp and tp times cp times pp for dp",
          "[placement]") {
    // Same degrees (TP 2 × CP 2 × DP 4 × PP 2, EP 4), order tp-cp-ep-pp-dp: dense order tp, cp, pp, dp gives
    // strides tp 1, cp 2, pp 2·2 = 4, dp 4·2 = 8.
    const Placement pl(layout(2, 2, 4, 2, 4, "tp-cp-ep-pp-dp"), 32);
    CHECK(pl.group(GroupKind::tensor, 0) == Ranks{0, 1});
    CHECK(pl.group(GroupKind::context, 0) == Ranks{0, 2});
    CHECK(pl.group(GroupKind::pipeline, 0) == Ranks{0, 4});
    CHECK(pl.group(GroupKind::data, 0) == Ranks{0, 8, 16, 24});
    // (tp 1, cp 1, dp 3, pp 1) = 1 + 2 + 24 + 4 = 31, and back.
    CHECK(pl.rank_of(1, 1, 3, 1) == 31);
    const RankCoord c = pl.coord(31);
    CHECK(c.tp == 1);
    CHECK(c.cp == 1);
    CHECK(c.dp == 3);
    CHECK(c.pp == 1);
    // ep still precedes dp: blocks of 4 consecutive flats (flat = cp + 2·dp, rank = 2·cp + 8·dp for tp 0, pp 0):
    // flats 0..3 → ranks 0, 2, 8, 10.
    CHECK(pl.group(GroupKind::expert, 0) == Ranks{0, 2, 8, 10});
    CHECK(pl.group(GroupKind::expert_data, 0) == Ranks{0, 16});
}

TEST_CASE("expert after data in the order spreads expert groups with a stride of data times context over expert",
          "[placement]") {
    // TP 2 × CP 2 × DP 4 × PP 2, EP 4, order tp-cp-dp-ep-pp: dense strides as the default (tp 1, cp 2, dp 4,
    // pp 16). ep after dp: groups = dp·cp/ep = 2; a rank's expert position is flat / 2 and its group flat mod 2, so
    // expert groups are stride-2 sets of flats: rank 0 → flats 0, 2, 4, 6 → ranks 2·f = 0, 4, 8, 12; its
    // expert-data group is the other flats of its position, 0 and 1 → ranks 0, 2.
    const Placement pl(layout(2, 2, 4, 2, 4, "tp-cp-dp-ep-pp"), 32);
    CHECK(pl.group(GroupKind::data, 0) == Ranks{0, 4, 8, 12});
    CHECK(pl.group(GroupKind::expert, 0) == Ranks{0, 4, 8, 12});
    CHECK(pl.group(GroupKind::expert_data, 0) == Ranks{0, 2});
    // Rank 6 = 2·1 + 4·1 (cp 1, dp 1): flat 3, position 1, group 1 → expert flats 1, 3, 5, 7 → ranks 2, 6, 10, 14.
    CHECK(pl.coord(6).ep == 1);
    CHECK(pl.coord(6).ep_group == 1);
    CHECK(pl.group(GroupKind::expert, 6) == Ranks{2, 6, 10, 14});
}

TEST_CASE("degrees that do not multiply to the GPU count and orders that are not permutations are refused",
          "[placement]") {
    using Catch::Matchers::Contains;
    // 8 × 4 × 2 = 64 ≠ 32.
    CHECK_THROWS_AS(Placement(layout(8, 1, 4, 2, 1), 32), Error);
    CHECK_THROWS_WITH(Placement(layout(8, 1, 4, 2, 1), 32), Contains("64") && Contains("32 GPUs"));
    // ep missing, dp twice.
    CHECK_THROWS_WITH(Placement(layout(8, 1, 4, 2, 1, "tp-cp-dp-dp-pp"), 64), Contains("not a permutation"));
    CHECK_THROWS_WITH(Placement(layout(8, 1, 4, 2, 1, "tp-cp-dp-pp"), 64), Contains("not a permutation"));
}

TEST_CASE("shard and replica groups cut the data-parallel ranks into blocks and strides", "[placement]") {
    // TP 2 × DP 8 on 16 GPUs, shard_group 4: rank r has tp = r % 2, dp = r / 2. The data-parallel ranks of tp 0 are
    // 0, 2, …, 14; shard groups are blocks of 4 of them ({0, 2, 4, 6}, {8, 10, 12, 14}), replica groups the ranks
    // at the same place in each block ({0, 8}, {2, 10}, …).
    ParallelLayout l = layout(2, 1, 8, 1, 1);
    l.zero_stage = 3;
    l.shard_group = 4;
    const Placement p(l, 16);
    CHECK(p.group(GroupKind::shard, 10) == Ranks{8, 10, 12, 14});
    CHECK(p.group(GroupKind::replica, 10) == Ranks{2, 10});
    CHECK(p.group(GroupKind::shard, 3) == Ranks{1, 3, 5, 7});
    // Without a shard group, one block of all 8 and replica groups of one.
    l.shard_group = 0;
    const Placement full(l, 16);
    CHECK(full.group(GroupKind::shard, 10).size() == 8);
    CHECK(full.group(GroupKind::replica, 10) == Ranks{10});
    // A shard group that does not divide data × context is refused (3 into 8).
    l.shard_group = 3;
    CHECK_THROWS_WITH(Placement(l, 16), Catch::Matchers::Contains("shard_group = 3 does not divide data × context = 8"));
}

TEST_CASE("MoE parallel folding lays a stage's tensor, context and data ranks out as expert-tensor, expert and "
          "expert-data",
          "[placement]") {
    // TP 2 × DP 4 × PP 2 = 16 GPUs, EP 4 with expert_tensor 1 (≠ tensor 2, so the MoE layers fold). Default order: strides tp 1, dp 2, pp 8; a rank's index in its stage is
    // f = tp + 2·dp = rank − 8·pp, laid out again as f = etp + 1·(ep + 4·edp): etp = 0, ep = f mod 4, edp = f / 4.
    ParallelLayout l = layout(2, 1, 4, 2, 4);
    l.expert_tensor = 1;
    REQUIRE(l.folds_experts());
    CHECK(l.expert_data_ranks() == 2);  // 2 · 1 · 4 / (4 · 1)
    const Placement pl(l, 16);
    // Rank 0: f 0 → expert group f 0..3 = ranks 0..3 (both tensor ranks of two data ranks: one node's worth);
    // rank 13 (pp 1, f 5): ep 1, edp 1 → f 4..7 = ranks 12..15.
    CHECK(pl.group(GroupKind::expert, 0) == Ranks{0, 1, 2, 3});
    CHECK(pl.group(GroupKind::expert, 13) == Ranks{12, 13, 14, 15});
    CHECK(pl.coord(13).ep == 1);
    CHECK(pl.coord(13).ep_group == 1);
    // Expert-data: same ep, edp 0..1 → f 0 and 4 for rank 0; f 1 and 5 (+ 8) for rank 13.
    CHECK(pl.group(GroupKind::expert_data, 0) == Ranks{0, 4});
    CHECK(pl.group(GroupKind::expert_data, 13) == Ranks{9, 13});
    // Expert-tensor degree 1: the rank alone. Dense groups are untouched: tensor {0, 1}, data {0, 2, 4, 6}.
    CHECK(pl.group(GroupKind::expert_tensor, 13) == Ranks{13});
    CHECK(pl.group(GroupKind::tensor, 0) == Ranks{0, 1});
    CHECK(pl.group(GroupKind::data, 0) == Ranks{0, 2, 4, 6});

    // TP 1 × DP 8 × PP 1, EP 2, expert_tensor 2: f = dp = rank; etp = f mod 2, ep = f / 2 mod 2, edp = f / 4.
    // Rank 5: etp 1, ep 0, edp 1 → expert-tensor f 4, 5; expert f = 1 + 2·(i + 2·1) = 5, 7; expert-data
    // f = 1 + 2·(0 + 2·g) = 1, 5.
    ParallelLayout m = layout(1, 1, 8, 1, 2);
    m.expert_tensor = 2;
    const Placement pm(m, 8);
    CHECK(pm.group(GroupKind::expert_tensor, 5) == Ranks{4, 5});
    CHECK(pm.group(GroupKind::expert, 5) == Ranks{5, 7});
    CHECK(pm.group(GroupKind::expert_data, 5) == Ranks{1, 5});
    CHECK(pm.coord(5).etp == 1);
    // Every rank: its three groups meet only in itself, and expert-tensor × expert × expert-data (2 × 2 × 2)
    // covers the stage's 8 ranks exactly once.
    for (int r = 0; r < 8; ++r) {
        INFO("rank " << r);
        std::multiset<int> covered;
        for (int d : pm.group(GroupKind::expert_data, r)) {
            for (int e : pm.group(GroupKind::expert, d)) {
                for (int t : pm.group(GroupKind::expert_tensor, e)) covered.insert(t);
            }
        }
        CHECK(covered == std::multiset<int>{0, 1, 2, 3, 4, 5, 6, 7});
    }
    // Unfolded (expert_tensor = tensor), the expert-tensor group is the tensor group.
    const Placement unfolded(layout(2, 2, 4, 2, 4), 32);
    CHECK(unfolded.group(GroupKind::expert_tensor, 9) == unfolded.group(GroupKind::tensor, 9));
    // Refused: expert × expert_tensor = 4 × 2 not dividing tensor × context × data = 4, and a folded layout whose
    // order puts ep after dp.
    ParallelLayout big = layout(1, 1, 4, 1, 4);
    big.expert_tensor = 2;
    CHECK_THROWS_AS(Placement(big, 4), Error);
    ParallelLayout late = layout(1, 1, 8, 1, 2, "tp-cp-dp-ep-pp");
    late.expert_tensor = 2;
    CHECK_THROWS_AS(Placement(late, 8), Error);
}

TEST_CASE("every group but the pipeline's is another stage's group moved by whole pipeline distances", "[placement]") {
    // Rank numbers are rank_of(tp, cp, dp, pp) = tp·s_tp + cp·s_cp + dp·s_dp + pp·s_pp (a mixed radix), and every
    // group kind but the pipeline's holds one stage's ranks chosen by the non-pipeline coordinates. So the group of
    // the rank at (tp, cp, dp, s) is the group of (tp, cp, dp, 0) with every member moved by s·s_pp =
    // rank_of(0, 0, 0, s) − rank_of(0, 0, 0, 0): what the step's list_groups relies on (sim/training/
    // step_translation.cpp) to list a stage's groups once and move them to the other stages.
    std::vector<std::pair<ParallelLayout, int>> layouts;
    layouts.emplace_back(layout(2, 2, 4, 3, 4), 48);                    // the default order
    layouts.emplace_back(layout(2, 2, 4, 3, 4, "tp-cp-ep-pp-dp"), 48);  // pipeline inside data
    layouts.emplace_back(layout(2, 1, 8, 2, 4, "tp-cp-dp-ep-pp"), 32);  // expert after data
    ParallelLayout folded = layout(2, 1, 4, 3, 4);
    folded.expert_tensor = 1;
    layouts.emplace_back(folded, 24);
    ParallelLayout sharded = layout(2, 1, 8, 3, 1);
    sharded.zero_stage = 3;
    sharded.shard_group = 4;
    layouts.emplace_back(sharded, 48);
    const GroupKind kinds[] = {GroupKind::tensor,      GroupKind::context,      GroupKind::expert, GroupKind::expert_data,
                               GroupKind::expert_tensor, GroupKind::data,       GroupKind::data_context,
                               GroupKind::shard,       GroupKind::replica};
    for (const auto& [l, gpus] : layouts) {
        const Placement p(l, gpus);
        for (int s = 1; s < l.pipeline; ++s) {
            const int move = p.rank_of(0, 0, 0, s) - p.rank_of(0, 0, 0, 0);
            for (int r = 0; r < gpus; ++r) {
                const RankCoord c = p.coord(r);
                if (c.pp != 0) continue;
                const int there = p.rank_of(c.tp, c.cp, c.dp, s);
                CHECK(there == r + move);
                for (const GroupKind kind : kinds) {
                    INFO("order " << l.order << ", stage " << s << ", rank " << r << ", kind " << to_string(kind));
                    Ranks moved = p.group(kind, r);
                    for (int& m : moved) m += move;
                    CHECK(p.group(kind, there) == moved);
                }
            }
        }
        // The pipeline's group is the same set at every stage, not a moved one.
        CHECK(p.group(GroupKind::pipeline, p.rank_of(0, 0, 0, 1)) == p.group(GroupKind::pipeline, 0));
    }
}
