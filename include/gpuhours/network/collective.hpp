// Collective communication expanded into phases of concurrent flows on the cluster graph, timed by a
// NetworkModel (max-min flows or α–β).
//
// Sizes follow nccl-tests: `size` is the all-reduce / broadcast / send buffer, the whole (gathered) buffer of
// all-gather and reduce-scatter, and each rank's whole send buffer of all-to-all (S/n to every peer).
// Bandwidths follow NCCL's definitions: algbw = size / time; busbw = algbw × factor with factor 2(n−1)/n for
// all-reduce, (n−1)/n for reduce-scatter, all-gather and all-to-all, 1 for broadcast and send/recv.
//
// Algorithms (what each phase contains):
// - ring: NCCL's rings. When the ranks sit k per node on ≥ 2 nodes, k rings ("channels") run at once, each
//   carrying 1/k of the data; ring c visits node m's ranks starting at local index (c − m) mod k, so it leaves
//   node m and enters node m+1 on the same local index (rail-aligned) and every NIC carries exactly one ring per
//   direction — the way NCCL uses all of a node's NICs. Otherwise one ring in the given rank order.
//   All-reduce = 2(n−1) identical steps of S/n per ring edge; reduce-scatter and all-gather n−1 steps. Steps
//   are identical, so one step's concurrent flows are solved once and multiplied (symmetry; exact for a
//   fluid model because every step starts on an idle network and moves the same bytes on the same links).
// - tree: NCCL's double binary tree. On ranks k per node over M ≥ 2 nodes, as NCCL builds it: a chain inside
//   each node to the rank of each channel's NIC, and per NIC (rail) two binary trees over the nodes — tree A
//   in order (node i's children are i ± b/2, b its lowest set bit, so most edges join neighbouring nodes), tree B
//   the same over the nodes mirrored, so the interior nodes of one are leaves of the other — each carrying half
//   of the rail's S/k. NCCL
//   pipelines chunks through chains and trees at once, so the plan is one phase of concurrent flows (the chain
//   traffic as a ring per node moving 2(k−1)/k·S per GPU; reduce and broadcast on every tree edge), and the
//   latency term counts a chunk's 2(k−1) chain hops and 2·⌊log₂ M⌋ tree hops. Every NIC moves 2S/k each way: a
//   1 GiB all-reduce on 16,384 H100 takes 6–7 ms against the two-level bound 2·(S/8)/(50 GB/s) = 5.4 ms, where
//   the rings' 2(M−1) latency steps take tens of ms. Otherwise (one node, uneven nodes) the two trees span the
//   ranks in the given order.
// - hierarchical all-reduce: intra-node ring reduce-scatter (all nodes at once), inter-node ring all-reduce of
//   each S/k shard among the same-local-index ranks of every node (k rings at once, rail-aligned), intra-node
//   ring all-gather. Needs the same number of ranks on every node.
// - direct: all-to-all (every pair at once) and send/recv (one flow).
// - node-forwarded all-to-all (DeepEP's normal kernels, arXiv 2412.19437 §3.2.2 and deepseek-ai/DeepEP's
//   internode dispatch; taken only when asked for): on ranks g per node over M ≥ 2 nodes (n = gM), each rank sends
//   the tokens bound for node B once, over RDMA, to the rank of B at its own position in the node (the same rail),
//   which forwards them over NVLink to B's other ranks; one phase of concurrent flows, as the kernels pipeline the
//   two hops. Rank i of node A sends node_merge × g × S/n to rank i of every other node (node_merge: the share of
//   a token's copies to a node left after sending it once there, DeepEP's merge; 1 sends every copy), and every
//   rank sends M × gpu_merge × S/n to each other rank of its node: what it sends them directly and what it relays
//   from the M − 1 other nodes' ranks at its position, gpu_merge × S/n from each (gpu_merge: the share of a token's
//   copies to a GPU left after sending it once there, as DeepEP's NVLink kernels do; 1 sends every copy). NIC bytes
//   equal direct's with every pair scaled by node_merge; NVLink carries the relay. On one node: every pair at once,
//   each S/n × gpu_merge (DeepEP's intranode kernels); on uneven nodes: every pair at once, each S/n × node_merge.
// Broadcast uses the rings as pipelined chains from the root (bandwidth S/B, latency n−1 hops).
//
// Automatic choice (`algorithm` = nullopt), like NCCL's tuner which predicts each algorithm's time and takes the
// fastest: all-reduce on ≥ 2 nodes evaluates ring, tree and (where it applies) hierarchical with the given
// network model and keeps the fastest (ties: ring, hierarchical, tree); on one node it is ring (NVSwitch, no
// NVLS modelled). Other collectives have one algorithm (node-forwarded all-to-all only when asked for).
//
// Link efficiency comes from the topology's links (chip catalog), never from here.
#pragma once

#include <gpuhours/engine/engine.hpp>
#include <gpuhours/network/network.hpp>
#include <gpuhours/hardware/topology.hpp>
#include <gpuhours/units/units.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gpuhours {

enum class CollectiveKind { all_reduce, reduce_scatter, all_gather, all_to_all, broadcast, send_recv };
enum class CollectiveAlgorithm { ring, tree, hierarchical, direct, node_forwarded };

std::string_view to_string(CollectiveKind k);       // "all-reduce", "reduce-scatter", …, "send-recv"
std::string_view to_string(CollectiveAlgorithm a);  // "ring", "tree", "hierarchical", "direct", "node-forwarded"
std::optional<CollectiveKind> collective_kind_from_string(std::string_view name);
std::optional<CollectiveAlgorithm> collective_algorithm_from_string(std::string_view name);
// The algorithms the automatic choice tries for `kind`, in tie-break order (plan_collective also accepts
// node-forwarded for all-to-all).
std::vector<CollectiveAlgorithm> supported_algorithms(CollectiveKind kind);
// NCCL's bus-bandwidth factor for `ranks` ranks (see the file comment).
double bus_bandwidth_factor(CollectiveKind kind, std::size_t ranks);

struct CollectiveRequest {
    CollectiveKind kind = CollectiveKind::all_reduce;
    Bytes size;                                    // nccl-tests convention, see the file comment
    std::vector<VertexId> ranks;                   // GPU vertices of the group, in rank order
    std::optional<CollectiveAlgorithm> algorithm;  // nullopt: automatic choice
    std::size_t root = 0;                          // broadcast root, as an index into `ranks`
    // Node-forwarded all-to-all: the share of a token's copies to a node, and to a GPU, left when it is sent once
    // there (DeepEP's merges), each in (0, 1]; 1 sends every copy. Other algorithms ignore them.
    double node_merge = 1.0;
    double gpu_merge = 1.0;
};

struct FlowSet {
    std::vector<FlowSpec> flows;
};
struct AllPairs {
    std::vector<VertexId> ranks;
    Bytes bytes_per_pair;
};

struct CollectivePhase {
    std::string label;                        // "ring step", "inter-node all-reduce step", …
    std::variant<FlowSet, AllPairs> traffic;  // flows that start together; the phase ends with the last
    std::int64_t repeat = 1;                  // identical back-to-back repetitions (solved once)
    int pipeline_hops = 1;                    // phase time adds (pipeline_hops − 1) × the longest route latency
};

struct CollectivePlan {
    CollectiveKind kind = CollectiveKind::all_reduce;
    CollectiveAlgorithm algorithm = CollectiveAlgorithm::ring;
    int channels = 1;  // concurrent rings
    std::vector<CollectivePhase> phases;
};

struct CollectiveResult {
    CollectiveKind kind = CollectiveKind::all_reduce;
    CollectiveAlgorithm algorithm = CollectiveAlgorithm::ring;
    std::size_t ranks = 0;
    int channels = 1;
    Bytes size;
    Seconds time;
    BytesPerSecond algorithm_bandwidth;  // size / time (0 when time is 0)
    BytesPerSecond bus_bandwidth;        // algbw × bus_bandwidth_factor
    // The link that limited the phase contributing most time; nullopt when nothing moved.
    std::optional<LinkId> limiting_link;
    std::string limiting_link_description;  // "NIC (nic→leaf) 45 GB/s", or "" when none
    // Of `time`, the part spent waiting on route latency: each phase's longest route latency × its pipeline hops ×
    // its repetitions (a phase's flows start after their route's latency), seconds, ≤ time. Most of the time for a
    // small message: then latency, not a link's bandwidth, bounds the collective.
    Seconds latency;
};

// The Error plan_collective throws when `algorithm` cannot run the request: the operation has no such algorithm,
// or the ranks' layout does not allow it (hierarchical without the same number of ranks on ≥ 2 nodes). The CLI names
// its --algorithm flag on this one only; other errors are the request's own.
class AlgorithmUnsupportedError : public Error {
public:
    using Error::Error;
};

// Expands `request` with `algorithm` into phases. Throws Error on a bad request: fewer than 1 rank, a rank that
// is not a GPU vertex, a repeated rank, a negative size, an algorithm `kind` does not support
// (AlgorithmUnsupportedError), send/recv without exactly 2 ranks, a root out of range, hierarchical without the same
// number of ranks on ≥ 2 nodes (AlgorithmUnsupportedError), a node_merge
// or gpu_merge outside (0, 1].
// Of the topology it reads only which ranks share a node (VertexInfo::node): the step's stage translation
// (sim/training/step_translation.cpp) relies on it, so a plan that read more (a GPU's index, a vertex id) would have
// to be checked there too.
CollectivePlan plan_collective(const Topology& topology, const CollectiveRequest& request, CollectiveAlgorithm algorithm);

// Times a plan on `network` (standalone phases).
CollectiveResult run_plan(NetworkModel& network, const CollectivePlan& plan, const CollectiveRequest& request);

// Plans (choosing the algorithm when the request leaves it open) and times the collective. Left open, it tries every
// algorithm plan_collective accepts, but trees and hierarchical on one node; the step's stage translation logs the
// routes of all of them (sim/training/step_translation.cpp, routed_pairs), so trying more here must be mirrored there.
CollectiveResult simulate_collective(NetworkModel& network, const CollectiveRequest& request);

// Engine mode: a task that runs the plan's phases in order, each repetition starting its flows on `network` when
// the previous one ended, and finishes with the last. Slower than run_plan (no symmetry shortcut) and without
// the pipelined-latency term; meant for step simulations where collectives overlap other work. `network` must be
// registered with engine.add_model and outlive the run; `task.work` is replaced.
TaskId add_collective_task(Engine& engine, NetworkModel& network, CollectivePlan plan, TaskSpec task);

}  // namespace gpuhours
