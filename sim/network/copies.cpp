// Link-disjoint copies of a group, proven from the fabric's structure (include/gpuhours/network/automorphism.hpp,
// leaf_local_copies, has the argument).
#include <gpuhours/network/automorphism.hpp>

#include <algorithm>

namespace gpuhours {

std::optional<std::vector<int>> leaf_local_copies(const Topology& topology, std::span<const VertexId> vertices,
                                                  std::span<const std::uint32_t> offsets) {
    const FabricGeometry* geometry = topology.geometry();
    const int per_node = topology.gpus_per_node();
    if (geometry == nullptr || geometry->nic_leaf.empty() || per_node < 1 || offsets.size() < 2) return std::nullopt;
    std::vector<int> owner(geometry->nic_leaf.size() / static_cast<std::size_t>(per_node), -1);  // group per node
    // Group g's pattern and its nodes in order of first appearance; false when one of its nodes is another
    // group's, or its NICs of one local index sit on more than one leaf.
    const auto read = [&](std::size_t g, std::vector<int>& pattern, std::vector<int>& nodes) {
        pattern.clear();
        nodes.clear();
        for (std::uint32_t i = offsets[g]; i < offsets[g + 1]; ++i) {
            const VertexInfo& gpu = topology.vertex(vertices[i]);
            if (gpu.kind != VertexKind::gpu) return false;
            int& mine = owner[static_cast<std::size_t>(gpu.node)];
            if (mine == -1) {
                mine = static_cast<int>(g);
                nodes.push_back(gpu.node);
            } else if (mine != static_cast<int>(g)) {
                return false;
            }
            const auto at = std::find(nodes.rbegin(), nodes.rend(), gpu.node);  // few nodes per group
            pattern.push_back(static_cast<int>(nodes.rend() - at) - 1);
            pattern.push_back(gpu.index % per_node);
        }
        for (int k = 0; k < per_node; ++k) {
            const auto leaf = [&](int node) { return geometry->nic_leaf[static_cast<std::size_t>(node * per_node + k)]; };
            if (!std::all_of(nodes.begin(), nodes.end(), [&](int node) { return leaf(node) == leaf(nodes.front()); })) {
                return false;
            }
        }
        // Condition 4: on its nodes (alike by condition 2) every NIC on one leaf, or each on a leaf of its own. Between
        // the two, a GPU relaying to another leaf would be one of several on it, picked by vertex id (Router::choose):
        // routes of two groups would then differ by more than a renaming.
        std::vector<VertexId> leaves;
        for (int k = 0; k < per_node; ++k) leaves.push_back(geometry->nic_leaf[static_cast<std::size_t>(nodes.front() * per_node + k)]);
        std::sort(leaves.begin(), leaves.end());
        const auto distinct = static_cast<std::size_t>(std::unique(leaves.begin(), leaves.end()) - leaves.begin());
        return distinct == 1 || distinct == static_cast<std::size_t>(per_node);
    };
    std::vector<int> pattern, nodes, theirs;
    if (!read(0, pattern, nodes)) return std::nullopt;
    for (const int node : nodes) owner[static_cast<std::size_t>(node)] = -1;  // group 0 is among groups 1, 2, …
    for (std::size_t g = 1; g + 1 < offsets.size(); ++g) {
        if (!read(g, theirs, nodes) || theirs != pattern) return std::nullopt;
    }
    return pattern;
}

}  // namespace gpuhours
