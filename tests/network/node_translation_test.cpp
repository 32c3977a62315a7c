// Node translations proven from the fabric's geometry (NodeTranslation, include/gpuhours/network/automorphism.hpp).
// The expected answer is derived independently of the proof: wherever a translation is proven, every route between
// two GPUs, taken by the router itself, must be the image of the route between their preimages under one vertex
// bijection — node vertices moved node for node, each leaf onto its image NIC's leaf, and each spine onto one spine
// whichever route reaches it — with the same link figures hop by hop; and a phase of flows must then take exactly
// the time of its image. Where the proof refuses, it must be for the reasons the header gives (checked on fabrics
// built to have them).
#include <gpuhours/network/automorphism.hpp>
#include <gpuhours/network/network.hpp>
#include <gpuhours/units/error.hpp>

#include "../support/fabrics.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace gpuhours;

namespace {

// The expected image of a node's vertex (GPU, NIC or the node's switch) under the shift by `gpus_shift` GPUs.
VertexId node_vertex_image(const Topology& t, const std::vector<VertexId>& nic_of, VertexId v, std::size_t gpus_shift) {
    const VertexInfo& info = t.vertex(v);
    const std::size_t g = t.gpus().size();
    switch (info.kind) {
        case VertexKind::gpu: return t.gpu(static_cast<int>((static_cast<std::size_t>(info.index) + gpus_shift) % g));
        case VertexKind::nic: return nic_of[(static_cast<std::size_t>(info.index) + gpus_shift) % g];
        case VertexKind::nvswitch: {
            // The switch of the node `shift / gpus per node` further: found next to that node's first GPU.
            const std::size_t per_node = static_cast<std::size_t>(t.gpus_per_node());
            const std::size_t first = (static_cast<std::size_t>(info.node) * per_node + gpus_shift) % g;
            for (const LinkInfo& l : t.links()) {
                if (l.from == t.gpu(static_cast<int>(first)) && t.vertex(l.to).kind == VertexKind::nvswitch) return l.to;
            }
            return v;
        }
        default: return v;
    }
}

// Every GPU pair's route against its image's: checks the claim the proof makes (see the file's header).
void require_routes_carried(const Topology& t, std::size_t gpus_shift) {
    const std::size_t g = t.gpus().size();
    std::vector<VertexId> nic_of(g, 0);
    for (const LinkInfo& l : t.links()) {
        if (t.vertex(l.from).kind == VertexKind::gpu && t.vertex(l.to).kind == VertexKind::nic) {
            nic_of[static_cast<std::size_t>(t.vertex(l.from).index)] = l.to;
        }
    }
    const FabricGeometry& geometry = *t.geometry();
    std::map<VertexId, VertexId> switch_image, switch_preimage;  // leaves from the NICs, spines as the routes show
    for (std::size_t i = 0; i < g; ++i) {
        switch_image[geometry.nic_leaf[i]] = geometry.nic_leaf[(i + gpus_shift) % g];
    }
    Router router(t);
    for (std::size_t a = 0; a < g; ++a) {
        for (std::size_t b = 0; b < g; ++b) {
            if (a == b) continue;
            const Route r = router.route(t.gpu(static_cast<int>(a)), t.gpu(static_cast<int>(b)));
            const Route s = router.route(t.gpu(static_cast<int>((a + gpus_shift) % g)), t.gpu(static_cast<int>((b + gpus_shift) % g)));
            INFO("GPU " << a << " to GPU " << b);
            REQUIRE(s.links.size() == r.links.size());
            REQUIRE(s.latency.value() == r.latency.value());
            for (std::size_t k = 0; k < r.links.size(); ++k) {
                const LinkInfo& x = t.link(r.links[k]);
                const LinkInfo& y = t.link(s.links[k]);
                REQUIRE(y.kind == x.kind);
                REQUIRE(y.bandwidth.value() == x.bandwidth.value());
                REQUIRE(y.efficiency == x.efficiency);
                const VertexId to = x.to;
                if (!is_network_switch(t.vertex(to).kind)) {
                    REQUIRE(y.to == node_vertex_image(t, nic_of, to, gpus_shift));
                } else {
                    const auto [it, fresh] = switch_image.try_emplace(to, y.to);
                    REQUIRE(it->second == y.to);  // one image per switch, whichever route reaches it
                    const auto [back, new_back] = switch_preimage.try_emplace(y.to, to);
                    REQUIRE(back->second == to);  // and no two switches onto one
                }
            }
        }
    }
}

// A phase of flows and its image: GPU a to GPU (a × 5 + 3) mod G with sizes growing with a (a pattern that crosses
// leaves unevenly), each solved on a fresh network with no relabelling, so nothing is carried between them.
void require_phase_carried(const Topology& t, std::size_t gpus_shift) {
    const std::size_t g = t.gpus().size();
    std::vector<FlowSpec> flows, image;
    for (std::size_t a = 0; a < g; ++a) {
        const std::size_t b = (a * 5 + 3) % g;
        if (a == b) continue;
        const Bytes size(1e6 * static_cast<double>(1 + a % 7));
        flows.push_back(FlowSpec{t.gpu(static_cast<int>(a)), t.gpu(static_cast<int>(b)), size});
        image.push_back(FlowSpec{t.gpu(static_cast<int>((a + gpus_shift) % g)), t.gpu(static_cast<int>((b + gpus_shift) % g)), size});
    }
    MaxMinNetwork one(t), other(t);
    one.set_relabel(false);
    other.set_relabel(false);
    REQUIRE(other.run_phase(image).time.value() == one.run_phase(flows).time.value());
}

test::FabricCase fabric(const char* name, Fabric kind, int gpus, int per_node, int planes, int radix, int tiers = 2) {
    return test::FabricCase{name, kind, gpus, per_node, tiers, planes, radix};
}

}  // namespace

TEST_CASE("A proven node translation carries every route and phase, on every builder's fabric", "[network][translation]") {
    std::vector<test::FabricCase> cases = test::builder_fabrics();
    // Fabrics where the translation by a leaf's nodes holds (leaves × the step between them a multiple of the
    // uplinks S, so the leaf that wraps round is rotated as the others are):
    // - multi-plane, 8 planes of radix 8: leaves of 4 NICs, S = 4, 4 leaves per plane (16 nodes);
    // - fat-tree of radix 16 with 4-GPU nodes: two nodes per leaf, S = 8, 16 leaves.
    cases.push_back(fabric("multi-plane, 4 leaves of 4 per plane", Fabric::multi_plane, 128, 8, 8, 8));
    cases.push_back(fabric("fat-tree, two nodes per leaf, 16 leaves", Fabric::fat_tree, 128, 4, 1, 16));
    std::size_t proven = 0;
    for (const test::FabricCase& c : cases) {
        const Topology t = test::build_fabric(c);
        const int nodes = static_cast<int>(t.gpus().size()) / t.gpus_per_node();
        for (int shift = 1; shift < nodes; ++shift) {
            const std::optional<NodeTranslation> pi = NodeTranslation::prove(t, shift);
            if (!pi) continue;
            INFO(c.name << ", shift by " << shift << " nodes");
            ++proven;
            REQUIRE(pi->gpu_shift() == static_cast<std::size_t>(shift * t.gpus_per_node()));
            REQUIRE(pi->gpus() == t.gpus().size());
            require_routes_carried(t, pi->gpu_shift());
            require_phase_carried(t, pi->gpu_shift());
        }
    }
    CHECK(proven > 0);
}

TEST_CASE("Node translations are proven by whole leaves, and refused where the spreading or the nodes differ", "[network][translation]") {
    // Multi-plane, 8 planes, radix 8: 16 nodes, a leaf holds 4 (one NIC of each in each plane). Whole leaves
    // (4, 8, 12 nodes) are proven; a shift inside a leaf moves a leaf's NICs onto two leaves and is refused.
    const Topology planes = test::build_fabric(fabric("", Fabric::multi_plane, 128, 8, 8, 8));
    for (const int shift : {4, 8, 12}) CHECK(NodeTranslation::prove(planes, shift));
    for (const int shift : {1, 2, 3, 5}) CHECK_FALSE(NodeTranslation::prove(planes, shift));
    // Six leaves of one 4-GPU node each under S = 4 spines: the leaf that wraps round is rotated by 2 more than the
    // others (6 mod 4), so no shift keeps the spines' images one each.
    const Topology six = test::build_fabric(fabric("", Fabric::fat_tree, 24, 4, 1, 8));
    for (int shift = 1; shift < 6; ++shift) CHECK_FALSE(NodeTranslation::prove(six, shift));
    // Three tiers; nodes of 6 straddling leaves of 8; two planes for 8 GPUs (4 NICs of a node in one plane's leaf
    // and 4 in the other's: the node's switch chooses among relays); outside (0, nodes).
    CHECK_FALSE(NodeTranslation::prove(test::build_fabric(fabric("", Fabric::fat_tree, 128, 8, 1, 8, 3)), 4));
    CHECK_FALSE(NodeTranslation::prove(test::build_fabric(fabric("", Fabric::fat_tree, 48, 6, 1, 16)), 4));
    CHECK_FALSE(NodeTranslation::prove(test::build_fabric(fabric("", Fabric::multi_plane, 64, 8, 2, 16)), 4));
    CHECK_FALSE(NodeTranslation::prove(planes, 0));
    CHECK_FALSE(NodeTranslation::prove(planes, 16));
}

TEST_CASE("The attested node translation accepts what the link-by-link proof accepts, and maps every link alike", "[network][translation]") {
    // NodeTranslation::prove takes the nodes, NIC cables and leaf-to-spine cabling of a two-tier builder's fabric
    // from the builder (FabricGeometry::uniform_two_tier) and checks the rest; prove_link_by_link checks every vertex
    // and link. The expected answer is the link-by-link proof's, on every builder's fabric and every shift: the same
    // shifts proven, and each link's image the same link. Besides the shared cases, fabrics where whole-leaf
    // shifts hold (as in the first test case), an oversubscribed one (uplinks narrower than the NICs) and one with a
    // partly filled last leaf (its uplinks narrower: refused by both).
    std::vector<test::FabricCase> cases = test::builder_fabrics();
    cases.push_back(fabric("multi-plane, 4 leaves of 4 per plane", Fabric::multi_plane, 128, 8, 8, 8));
    cases.push_back(fabric("fat-tree, two nodes per leaf, 16 leaves", Fabric::fat_tree, 128, 4, 1, 16));
    cases.push_back(fabric("rail-optimized, 4 leaves per rail", Fabric::rail_optimized, 128, 4, 1, 16));
    cases.push_back(fabric("fat-tree, partly filled last leaf", Fabric::fat_tree, 72, 4, 1, 16));
    std::size_t attested = 0, compared = 0;
    for (const test::FabricCase& c : cases) {
        for (const double oversubscription : {1.0, 2.0}) {
            const Topology t = test::build_fabric(c, oversubscription);
            const int nodes = static_cast<int>(t.gpus().size()) / t.gpus_per_node();
            for (int shift = 0; shift <= nodes; ++shift) {
                INFO(c.name << ", oversubscription " << oversubscription << ", shift by " << shift << " nodes");
                const std::optional<NodeTranslation> fast = NodeTranslation::prove(t, shift);
                const std::optional<NodeTranslation> full = NodeTranslation::prove_link_by_link(t, shift);
                REQUIRE(fast.has_value() == full.has_value());
                ++compared;
                if (!fast) continue;
                attested += t.geometry()->uniform_two_tier ? 1 : 0;
                REQUIRE(fast->gpu_shift() == full->gpu_shift());
                REQUIRE(fast->links() == full->links());
                for (LinkId l = 0; l < t.links().size(); ++l) REQUIRE(fast->link_image(t, l) == full->link_image(t, l));
            }
        }
    }
    CHECK(attested >= 10);
    CHECK(compared > 500);
}

TEST_CASE("The attested node translation agrees with the link-by-link proof over a generated sweep of builder fabrics", "[network][translation]") {
    // Every two-tier builder (fat-tree, rail-optimized, multi-plane with every plane count dividing the node),
    // switch radix 4, 8 and 16, 1, 2, 3, 4, 6 and 8 GPUs per node, 1 to 24 nodes (partial last leaves, single
    // leaves without spines, leaf counts that are and are not multiples of the uplinks), oversubscription 1 and 2,
    // every shift from −1 to nodes + 1. The expected answer is the link-by-link proof's: the same shifts accepted,
    // every link the same image; and where the builder attests its fabric, prove() must have taken the attested
    // path (attested()), so that the comparison is of the two methods, not of one with itself.
    const auto build = [](Fabric f, int nodes, int per_node, int planes, int radix, double oversubscription) {
        test::FabricCase c{"", f, nodes * per_node, per_node, 2, planes, radix};
        return test::build_fabric(c, oversubscription);
    };
    std::size_t topologies = 0, accepted = 0, accepted_one_gpu = 0;
    for (const Fabric f : {Fabric::fat_tree, Fabric::rail_optimized, Fabric::multi_plane}) {
        for (const int radix : {4, 8, 16}) {
            for (const int per_node : {1, 2, 3, 4, 6, 8}) {
                for (int planes = 1; planes <= per_node; ++planes) {
                    if ((f != Fabric::multi_plane && planes > 1) || per_node % planes != 0) continue;
                    for (int nodes = 1; nodes <= 24; ++nodes) {
                        for (const double oversubscription : {1.0, 2.0}) {
                            Topology t;
                            try {
                                t = build(f, nodes, per_node, planes, radix, oversubscription);
                            } catch (const Error&) {
                                continue;  // too big for the radix
                            }
                            REQUIRE(t.geometry() != nullptr);
                            REQUIRE(t.geometry()->uniform_two_tier);
                            ++topologies;
                            for (int shift = -1; shift <= nodes + 1; ++shift) {
                                INFO("fabric " << static_cast<int>(f) << ", radix " << radix << ", " << per_node << " GPUs per node, "
                                               << planes << " planes, " << nodes << " nodes, oversubscription " << oversubscription
                                               << ", shift " << shift);
                                const std::optional<NodeTranslation> fast = NodeTranslation::prove(t, shift);
                                const std::optional<NodeTranslation> full = NodeTranslation::prove_link_by_link(t, shift);
                                REQUIRE(fast.has_value() == full.has_value());
                                if (!fast) continue;
                                REQUIRE(fast->attested());
                                REQUIRE_FALSE(full->attested());
                                ++accepted;
                                accepted_one_gpu += per_node == 1 ? 1 : 0;
                                for (LinkId l = 0; l < t.links().size(); ++l) REQUIRE(fast->link_image(t, l) == full->link_image(t, l));
                            }
                        }
                    }
                }
            }
        }
    }
    // The sweep reaches accepted shifts of every kind it is meant to compare.
    CHECK(topologies > 1000);
    CHECK(accepted > 300);
    CHECK(accepted_one_gpu > 0);
}
