// Wall time to simulate large collectives: a 4,096-GPU ring all-reduce and a 2,048-GPU all-to-all, under both
// network models. Chip figures are H100-like, written here (no catalog read), efficiencies 0.8 / 0.9.
//
// What makes it fast (see collective.hpp / network.hpp): ring steps are identical, so one step's concurrent
// flows (8 rings × 4,096 = 32,768 flows) are routed and solved by max-min once and multiplied by 2(n−1); the
// all-to-all (2,048 × 2,047 = 4.2M flows) is above MaxMinNetwork::kExactFlowLimit, so it is aggregated per
// destination over its route tree (O(vertices) per destination) and reported as the congestion bound.
#include <gpuhours/network/collective.hpp>
#include <gpuhours/network/network.hpp>
#include <gpuhours/hardware/topology.hpp>

#include <chrono>
#include <cstdio>

using namespace gpuhours;

namespace {

ClusterSpec h100_cluster(int gpus, int tiers) {
    ClusterSpec spec;
    spec.chip.id = "h100-like";
    spec.chip.scale_up_bandwidth = gigabytes_per_second(450);
    spec.chip.scale_up_latency = microseconds(3);
    spec.chip.efficiency.scale_up_link = 0.8;
    spec.chip.efficiency.nic_link = 0.9;
    spec.gpus = gpus;
    spec.gpus_per_node = 8;
    spec.fabric = Fabric::fat_tree;
    spec.nic_bandwidth = gigabytes_per_second(50);
    spec.nic_latency = microseconds(2.8);
    spec.tiers = tiers;
    spec.switch_radix = 64;
    return spec;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void run(const char* what, int gpus, int tiers, CollectiveKind kind, Bytes size) {
    auto t0 = std::chrono::steady_clock::now();
    const Topology topology = build_topology(h100_cluster(gpus, tiers));
    const double build_s = seconds_since(t0);
    for (NetworkKind nk : {NetworkKind::flow, NetworkKind::alpha_beta}) {
        auto network = make_network(nk, topology);
        CollectiveRequest request;
        request.kind = kind;
        request.size = size;
        request.ranks = topology.gpus();
        request.algorithm = supported_algorithms(kind).front();
        t0 = std::chrono::steady_clock::now();
        const CollectiveResult r = simulate_collective(*network, request);
        const double sim_s = seconds_since(t0);
        std::printf("%-34s %-10s graph %6zu vertices %7zu links (build %.3f s) | simulate %.3f s | "
                    "simulated %.4f s, busbw %.1f GB/s, limited by %s\n",
                    what, std::string(to_string(nk)).c_str(), topology.vertex_count(), topology.links().size(), build_s,
                    sim_s, r.time.value(), r.bus_bandwidth.value() / 1e9, r.limiting_link_description.c_str());
    }
}

}  // namespace

int main() {
    run("ring all-reduce 4096 GPUs, 1 GiB", 4096, 3, CollectiveKind::all_reduce, gibibytes(1));
    run("all-to-all 2048 GPUs, 1 GiB/rank", 2048, 2, CollectiveKind::all_to_all, gibibytes(1));
    return 0;
}
