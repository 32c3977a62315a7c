// Small fabrics of every builder, for the routing tests that compare a derivation with the breadth-first search.
#pragma once

#include <gpuhours/hardware/topology.hpp>

#include <vector>

namespace gpuhours::test {

struct FabricCase {
    const char* name;
    Fabric fabric;
    int gpus, gpus_per_node, tiers, planes, radix;
};

// Every builder, both tier counts, one to eight planes, one to sixteen GPUs per node, partial leaves and pods, and
// nodes whose NICs straddle two leaves (6 GPUs per node on leaves of 8 or 4 NICs).
inline const std::vector<FabricCase>& builder_fabrics() {
    static const std::vector<FabricCase> all = {
        {"single node", Fabric::single_node, 8, 8, 2, 1, 64},
        {"fat-tree, 2 tiers", Fabric::fat_tree, 64, 8, 2, 1, 16},
        {"fat-tree, one-GPU nodes", Fabric::fat_tree, 22, 1, 2, 1, 8},
        {"fat-tree, two GPUs per node", Fabric::fat_tree, 24, 2, 2, 1, 8},
        {"fat-tree, one leaf", Fabric::fat_tree, 16, 8, 2, 1, 64},
        {"fat-tree, nodes straddle leaves", Fabric::fat_tree, 48, 6, 2, 1, 16},
        {"fat-tree, 3 tiers", Fabric::fat_tree, 128, 8, 3, 1, 8},
        {"fat-tree, 3 tiers, partial pod", Fabric::fat_tree, 88, 8, 3, 1, 8},
        {"fat-tree, 3 tiers, one-GPU nodes, partial leaf and pod", Fabric::fat_tree, 39, 1, 3, 1, 8},
        {"fat-tree, 3 tiers, nodes straddle leaves", Fabric::fat_tree, 96, 6, 3, 1, 8},
        {"rail-optimized", Fabric::rail_optimized, 64, 8, 2, 1, 16},
        {"rail-optimized, two leaves per rail", Fabric::rail_optimized, 128, 8, 2, 1, 16},
        {"rail-optimized, four GPUs per node, partial leaves", Fabric::rail_optimized, 52, 4, 2, 1, 16},
        {"multi-plane", Fabric::multi_plane, 64, 8, 2, 8, 16},
        {"multi-plane, 2 planes", Fabric::multi_plane, 64, 8, 2, 2, 16},
        {"multi-plane, 4 planes, one leaf each", Fabric::multi_plane, 32, 8, 2, 4, 16},
        {"multi-plane, one plane", Fabric::multi_plane, 48, 8, 2, 1, 16},
        {"multi-plane, 16 GPUs per node, 2 NICs per plane", Fabric::multi_plane, 64, 16, 2, 8, 8},
        // Wide nodes (StructuralDistance's per-node exits and leaf lists, kWideNode = 32 GPUs and more; the routes'
        // binary search in a large NVSwitch's adjacency): a TPU pod's or an NVL domain's thousands, scaled down.
        {"fat-tree, nodes of 32 GPUs over four leaves", Fabric::fat_tree, 64, 32, 2, 1, 16},
        {"fat-tree, 3 tiers, nodes of 40 GPUs straddling leaves", Fabric::fat_tree, 120, 40, 3, 1, 16},
        {"rail-optimized, nodes of 32 GPUs", Fabric::rail_optimized, 64, 32, 2, 1, 32},
    };
    return all;
}

// The case's fabric: 50 GB/s NICs at 2 µs, 450 GB/s NVLink at 3 µs, efficiencies 0.9 (NIC) and 0.8 (NVLink);
// leaves' uplinks `oversubscription` times narrower than their NICs.
inline Topology build_fabric(const FabricCase& c, double oversubscription = 1.0) {
    ChipProfile chip;
    chip.id = "test";
    chip.efficiency.nic_link = 0.9;
    chip.efficiency.scale_up_link = 0.8;
    chip.scale_up_bandwidth = gigabytes_per_second(450);
    chip.scale_up_latency = microseconds(3);
    ClusterSpec spec;
    spec.chip = chip;
    spec.gpus = c.gpus;
    spec.gpus_per_node = c.gpus_per_node;
    spec.fabric = c.fabric;
    spec.tiers = c.tiers;
    spec.planes = c.planes;
    spec.switch_radix = c.radix;
    spec.nic_bandwidth = gigabytes_per_second(50);
    spec.nic_latency = microseconds(2);
    spec.oversubscription = oversubscription;
    return build_topology(spec);
}

}  // namespace gpuhours::test
