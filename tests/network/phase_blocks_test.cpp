// A phase answered from one block of its flows and the blocks that differ (MaxMinNetwork::use_translation,
// sim/network/phase_blocks.cpp). The expected answer is the same phase solved whole by a network without the
// translation: the time and the longest route latency must be equal to the last bit, and a limiting link, when one
// is named, of the same kind and figures (the whole solve may name a copy's). Where the moved copies share links
// (so the parts of the whole phase are not the block's), the answer must still be the whole solve's, found by
// falling back to it.
#include <gpuhours/network/automorphism.hpp>
#include <gpuhours/network/network.hpp>

#include "../support/fabrics.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

using namespace gpuhours;

namespace {

// The shift by one leaf's nodes, proven.
std::shared_ptr<const NodeTranslation> leaf_shift(const Topology& t) {
    const int leaf = NodeTranslation::nodes_per_leaf(t);
    REQUIRE(leaf > 0);
    auto proof = NodeTranslation::prove(t, leaf);
    REQUIRE(proof);
    return std::make_shared<const NodeTranslation>(std::move(*proof));
}

FlowSpec flow(const Topology& t, std::size_t src, std::size_t dst, double bytes) {
    return FlowSpec{t.gpu(static_cast<int>(src)), t.gpu(static_cast<int>(dst)), Bytes(bytes)};
}

// `flows` solved with the translation (one network, kept across calls so that checks are reused) and whole (a fresh
// network without it): the same answer. Returns whether it was answered by blocks.
bool answered_alike(const Topology& t, MaxMinNetwork& by_blocks, const std::vector<FlowSpec>& flows) {
    MaxMinNetwork whole(t);
    const std::uint64_t before = by_blocks.phases_by_blocks();
    const PhaseResult a = by_blocks.run_phase(flows);
    const PhaseResult b = whole.run_phase(flows);
    REQUIRE(whole.phases_by_blocks() == 0);
    REQUIRE(a.time.value() == b.time.value());
    REQUIRE(a.max_latency.value() == b.max_latency.value());
    // A limiting link is named by both or neither (which one may differ: a copy's, or another part ending together).
    REQUIRE(a.limiting_link.has_value() == b.limiting_link.has_value());
    return by_blocks.phases_by_blocks() > before;
}

}  // namespace

TEST_CASE("A phase of repeated blocks is answered from one block and those that differ, as the whole solve", "[network][translation][blocks]") {
    // Multi-plane, 8 planes of radix 16: 64 nodes of 8 GPUs, 8 nodes (64 GPUs) under each leaf, S = 8 spines, 8
    // leaves per plane: the shift by a leaf's 8 nodes is proven (8 leaves a multiple of S). Fat-tree of radix 32
    // with 4-GPU nodes: 4 nodes (16 GPUs) under each leaf, 16 uplinks, 32 leaves.
    const std::vector<test::FabricCase> cases = {
        {"multi-plane", Fabric::multi_plane, 512, 8, 2, 8, 16},
        {"fat-tree", Fabric::fat_tree, 512, 4, 2, 1, 32},
    };
    for (const test::FabricCase& c : cases) {
        INFO(c.name);
        const Topology t = test::build_fabric(c);
        const std::size_t g = t.gpus().size();
        const std::size_t per_node = static_cast<std::size_t>(t.gpus_per_node());
        const std::size_t nodes = g / per_node;
        const std::shared_ptr<const NodeTranslation> shift = leaf_shift(t);
        const std::size_t block = shift->gpu_shift();
        REQUIRE(block == (c.fabric == Fabric::multi_plane ? 64u : 16u));
        MaxMinNetwork net(t);
        net.use_translation(shift);

        // A ring step over every node, each GPU to the same GPU of the next node: every block the first one moved
        // but the last, whose last node's flows wrap to node 0 (R).
        std::vector<FlowSpec> ring;
        for (std::size_t n = 0; n < nodes; ++n) {
            for (std::size_t j = 0; j < per_node; ++j) ring.push_back(flow(t, n * per_node + j, ((n + 1) % nodes) * per_node + j, 1e8));
        }
        CHECK(answered_alike(t, net, ring));
        // The same pairs at another size (the check kept), and a ring over the first half of the nodes (a stage).
        for (FlowSpec& f : ring) f.size = Bytes(3.3e7);
        CHECK(answered_alike(t, net, ring));
        // A ring over the first half of the nodes (a stage), each GPU sending two chunks: the last block wraps.
        std::vector<FlowSpec> stage;
        for (std::size_t n = 0; n < nodes / 2; ++n) {
            for (std::size_t j = 0; j < per_node; ++j) {
                for (const double bytes : {2e8, 1e8}) stage.push_back(flow(t, n * per_node + j, ((n + 1) % (nodes / 2)) * per_node + j, bytes));
            }
        }
        CHECK(answered_alike(t, net, stage));
        // The last block of the stage also sends to the GPUs of node 1 (B0's destinations): B0 shares links with
        // the block that differs, so B0 is solved alone too; the copies (blocks 1 to the last but one) stay
        // disjoint.
        std::vector<FlowSpec> shared = stage;
        for (std::size_t i = (nodes / 2) * per_node - block; i < (nodes / 2) * per_node; ++i) shared.push_back(flow(t, i, per_node + i % per_node, 3e7));
        CHECK(answered_alike(t, net, shared));
        // The same ring in both directions: a block's flows into its last node and the next block's into its first
        // share those nodes' links, so no block's copies are disjoint: solved whole.
        for (std::size_t n = 0; n < nodes / 2; ++n) {
            for (std::size_t j = 0; j < per_node; ++j) stage.push_back(flow(t, n * per_node + j, ((n + nodes / 2 - 1) % (nodes / 2)) * per_node + j, 1e8));
        }
        CHECK_FALSE(answered_alike(t, net, stage));

        // Pipeline sends from every GPU to the one half the cluster further: every block a copy of the first.
        std::vector<FlowSpec> sends;
        for (std::size_t i = 0; i < g; ++i) sends.push_back(flow(t, i, (i + g / 2) % g, 5e7));
        CHECK(answered_alike(t, net, sends));

        // Two patterns: a quarter of the cluster sends two chunks to the GPUs three quarters further and those send
        // them back (the mirror pairs of two pipeline stages, DualPipe's gradient sum): each direction's blocks are
        // copies of their own first block, so P is the two first blocks; answered by blocks, as the whole solve.
        std::vector<FlowSpec> mirror;
        for (std::size_t i = 0; i < g / 4; ++i) {
            for (const double bytes : {4e7, 2e7}) mirror.push_back(flow(t, i, i + 3 * g / 4, bytes));
        }
        for (std::size_t i = 3 * g / 4; i < g; ++i) {
            for (const double bytes : {4e7, 2e7}) mirror.push_back(flow(t, i, i - 3 * g / 4, bytes));
        }
        REQUIRE(mirror.size() >= MaxMinNetwork::kMinBlockFlows);
        CHECK(answered_alike(t, net, mirror));
        // The same with the way back carrying half the bytes: two patterns of their own sizes.
        for (std::size_t i = g / 2; i < mirror.size(); ++i) mirror[i].size = Bytes(mirror[i].size.value() / 2);
        CHECK(answered_alike(t, net, mirror));

        // One block's flows in another order: not a copy, solved with the block that differs, still the same answer.
        std::vector<FlowSpec> shuffled = sends;
        std::reverse(shuffled.begin() + static_cast<std::ptrdiff_t>(2 * block), shuffled.begin() + static_cast<std::ptrdiff_t>(3 * block));
        CHECK(answered_alike(t, net, shuffled));

        // Each GPU sends to the first GPU of the next block and of the one after: every block alike, but block b's
        // second flows and block b + 1's first ones meet at the same GPU, so the copies share links: the whole
        // phase is solved (not by blocks), and the answer is the same.
        std::vector<FlowSpec> crossing;
        for (std::size_t i = 0; i < g; ++i) {
            const std::size_t b = i / block;
            crossing.push_back(flow(t, i, ((b + 1) * block) % g, 1e7));
            crossing.push_back(flow(t, i, ((b + 2) * block) % g, 1e7));
        }
        CHECK_FALSE(answered_alike(t, net, crossing));
        CHECK_FALSE(answered_alike(t, net, crossing));  // the failed check kept
        // Unequal sizes in one block make it differ; too few flows are not tried.
        std::vector<FlowSpec> uneven = sends;
        uneven[block + 1].size = Bytes(7e7);
        CHECK(answered_alike(t, net, uneven));
        const std::vector<FlowSpec> few(sends.begin(), sends.begin() + static_cast<std::ptrdiff_t>(MaxMinNetwork::kMinBlockFlows - 1));
        CHECK_FALSE(answered_alike(t, net, few));
    }
}

TEST_CASE("A node translation's link images are a bijection onto links of the same figures", "[network][translation][blocks]") {
    const Topology t = test::build_fabric({"multi-plane", Fabric::multi_plane, 512, 8, 2, 8, 16});
    // 64 nodes under 8 leaves of 8 per plane; the first GPU's leaf holds one NIC of each of 8 nodes.
    REQUIRE(NodeTranslation::nodes_per_leaf(t) == 8);
    const auto shift = NodeTranslation::prove(t, 8);
    REQUIRE(shift);
    std::vector<char> hit(t.links().size(), 0);
    for (LinkId l = 0; l < t.links().size(); ++l) {
        const LinkId m = shift->link_image(t, l);
        REQUIRE(m < t.links().size());
        REQUIRE_FALSE(hit[m]);
        hit[m] = 1;
        REQUIRE(t.link(m).kind == t.link(l).kind);
        REQUIRE(t.link(m).bandwidth.value() == t.link(l).bandwidth.value());
        REQUIRE(t.link(m).latency.value() == t.link(l).latency.value());
    }
    // A GPU's NVLink to its node's switch maps onto the same link of the GPU 64 further (8 nodes of 8).
    for (LinkId l = 0; l < t.links().size(); ++l) {
        if (t.link(l).from != t.gpu(3) || t.link(l).kind != LinkKind::scale_up) continue;
        CHECK(t.link(shift->link_image(t, l)).from == t.gpu(67));
    }
}

TEST_CASE("A kept disjointness check is the one of the same block: another block's copies are checked anew", "[network][translation][blocks]") {
    // Fat-tree of radix 32, 4-GPU nodes: blocks of 16 GPUs. X(b): an all-to-all inside block b. Y(b): a lighter one
    // inside block b and, from each GPU, a large flow to the first GPU of block b + 3 (the first half of the block)
    // or b + 2 (the second half). F1 = X(0), Y(4), X(1), X(2): X is the common block (B0 = block 0, copies at shifts
    // 1 and 2, link-disjoint: each stays inside its leaf). F2 = X(0), Y(4), Y(5), Y(6): the same pairs left to solve
    // (X(0) and Y(4)) and the same shifts, but now B0 = block 4, and Y(4)'s copies meet Y(5)'s at block 7's first
    // GPU: not disjoint, so F2 must be solved whole, on the network that kept F1's check as on a fresh one.
    const Topology t = test::build_fabric({"fat-tree", Fabric::fat_tree, 512, 4, 2, 1, 32});
    const std::shared_ptr<const NodeTranslation> shift = leaf_shift(t);
    const std::size_t b = shift->gpu_shift();
    REQUIRE(b == 16);
    const auto x = [&](std::size_t block, std::vector<FlowSpec>& out) {
        for (std::size_t i = 0; i < b; ++i) {
            for (std::size_t k = 1; k < b; ++k) out.push_back(flow(t, block * b + i, block * b + (i + k) % b, 1e8));
        }
    };
    const auto y = [&](std::size_t block, std::vector<FlowSpec>& out) {
        for (std::size_t i = 0; i < b; ++i) {
            for (std::size_t k = 1; k < b; ++k) out.push_back(flow(t, block * b + i, block * b + (i + k) % b, 1e6));
            out.push_back(flow(t, block * b + i, (i < b / 2 ? block + 3 : block + 2) * b, 1e10));
        }
    };
    std::vector<FlowSpec> f1, f2;
    x(0, f1), y(4, f1), x(1, f1), x(2, f1);
    x(0, f2), y(4, f2), y(5, f2), y(6, f2);
    MaxMinNetwork net(t);
    net.use_translation(shift);
    CHECK(answered_alike(t, net, f1));
    CHECK_FALSE(answered_alike(t, net, f2));
    // A translation proven on another topology (here of the same link count, 4,096) is not used.
    const Topology other = test::build_fabric({"multi-plane", Fabric::multi_plane, 512, 8, 2, 8, 16});
    MaxMinNetwork elsewhere(other);
    elsewhere.use_translation(shift);
    std::vector<FlowSpec> ring;
    for (std::size_t i = 0; i < other.gpus().size(); ++i) ring.push_back(flow(other, i, (i + 8) % other.gpus().size(), 1e8));
    CHECK_FALSE(answered_alike(other, elsewhere, ring));
}
