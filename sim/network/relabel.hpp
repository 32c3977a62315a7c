// A standalone phase answered as another phase with its vertices renamed by an automorphism of the topology,
// proven before routing (MaxMinNetwork::run_phase; issue #13). Symmetric mode times each collective once per
// pipeline stage with its concurrent groups; on a regular fabric stage s's groups are stage 0's moved to other
// nodes and leaves, and the max-min answer is the same. The phase memo (phase_memo.hpp) finds that out only after
// routing every flow and putting the phase into canonical form, which were most of the step's network time.
//
// The argument. Let π be an automorphism of the topology: a permutation of the vertices that maps every link to a
// link of the same kind, bandwidth, efficiency and latency, and keeps each vertex's kind and group. Then hop
// distances are kept (d(π u, π v) = d(u, v)), so the equal-cost next hops of π(v) toward π(dst) are the images of
// those of v toward dst. The router picks among them by Router::choose, which reads the candidates' order at the
// vertex and the destination's index, neither of which π need keep; so every choice the routing of phase A made
// among more than one candidate is checked at its image: the image candidates are put into π(v)'s adjacency order
// and must give the image of the link chosen. A choice among one candidate maps by itself. When the check holds,
// every route of B = π(A) is the image of A's route, link by link: B's canonical form (phase_memo.hpp) is A's, so
// its max-min answer is A's to the last bit, its route latencies are A's (the same links' latencies added in the
// same order), and its limiting link is the image of A's.
//
// Finding π. Only involutions are tried: swaps of two vertex sets, everything else fixed. The flows of A and B are
// put side by side (vertex i of A in order of first appearance ↔ vertex i of B; the sizes and the pattern of
// endpoints must agree flow by flow), and the seeds are closed over the graph: for every swapped pair (u, u'),
// u's out-links are matched with u''s and u's in-links with u''s, kind, bandwidth, efficiency and latency equal —
// first the links whose far end is already placed (it must go where π sends it), then those whose far end is
// common to both (fixed), then the rest in adjacency order (their far ends swapped, and closed in turn). Every
// link that touches a swapped vertex is matched this way and the others are fixed, so a closure that completes
// is an automorphism. It fails at the first conflict (a vertex asked to go to two places, a link with no match),
// and then the phase is routed as before: the check only ever skips work whose answer it has proven.
#pragma once

#include <gpuhours/network/network.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace gpuhours::detail {

// The swap closure of a set of seed pairs (see the file comment). Scratch sized to the topology, reset after use.
class SwapClosure {
public:
    explicit SwapClosure(const Topology& topology);
    // Extends from[i] ↦ to[i] (from[i] == to[i]: fixed) to an involutive automorphism; false when none is found.
    // Either way the closure keeps its state until reset().
    bool close(std::span<const VertexId> from, std::span<const VertexId> to);
    [[nodiscard]] VertexId vertex(VertexId v) const { return image_[v]; }
    [[nodiscard]] LinkId link(LinkId l) const { return link_image_[l]; }
    [[nodiscard]] std::size_t swapped() const { return queue_.size() * 2; }  // vertices moved by the last close
    void reset();
    // A proven closure, kept to be loaded again (each vertex and link it moves, with its image).
    struct Snapshot {
        std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint8_t>> vertices;  // vertex, image, state
        std::vector<std::pair<std::uint32_t, std::uint32_t>> links;
        std::size_t pairs = 0;
        [[nodiscard]] VertexId image(VertexId v) const;  // (vertices sorted by vertex)
    };
    [[nodiscard]] Snapshot save() const;
    void load(const Snapshot& snapshot);
    // The vertices and links the closure moves, each with its image, sorted (AutomorphismProver).
    void moved(std::vector<std::pair<std::uint32_t, std::uint32_t>>& vertices,
               std::vector<std::pair<std::uint32_t, std::uint32_t>>& links) const;

private:
    enum class State : std::uint8_t { free, fixed, swapped };
    bool fix(VertexId v);
    bool swap(VertexId a, VertexId b);
    // Matches the links a_links (of u) with b_links (of u'), far ends at `to` (out-links) or `from` (in-links).
    bool match(std::span<const std::uint32_t> a_links, std::span<const std::uint32_t> b_links, bool out);
    // The same, pairing the i-th link with the i-th, when that holds throughout (nothing changed otherwise).
    bool match_in_order(std::span<const std::uint32_t> a_links, std::span<const std::uint32_t> b_links, bool out);
    [[nodiscard]] VertexId far_end(std::uint32_t l, bool out) const {
        const LinkRecord& r = topology_.link_records()[l];
        return out ? r.to : r.from;
    }
    [[nodiscard]] bool alike(std::uint32_t a, std::uint32_t b) const;

    const Topology& topology_;
    std::vector<std::uint32_t> in_offsets_, in_links_;  // in-links by head, in link id order
    std::vector<std::uint32_t> image_;
    std::vector<State> state_;
    std::vector<std::uint32_t> link_image_;
    std::vector<std::uint32_t> touched_, touched_links_, queue_;
    std::vector<std::uint32_t> chain_head_;  // match's scratch: per far end, its first b link (+1; 0: none)
    std::vector<std::uint32_t> chain_next_;
    std::vector<char> used_;
    std::vector<std::uint32_t> rest_;
    std::vector<std::uint32_t> seen_;  // match_in_order's marks: seen when == stamp_
    std::uint32_t stamp_ = 0;
    std::vector<std::uint32_t> class_;  // per link: its class (kind, bandwidth, efficiency and latency alike)
};

// Phases kept for relabelling: per phase its flows' signature, its vertices in order of first appearance, the
// choices its routing made and its result. Bounded (cleared past kMaxWords of signatures and logs).
class PhaseRelabeller {
public:
    explicit PhaseRelabeller(const Topology& topology) : topology_(topology), closure_(topology) {}
    // `flows`' result as the image of a kept phase under a proven automorphism; nullopt when none is proven.
    std::optional<PhaseResult> find(const Router& router, std::span<const FlowSpec> flows);
    // Keeps `flows`' result with the choices `log` holds (those of the routing of exactly these flows).
    // `signed_already`: find() was the last call, on these flows.
    void keep(std::span<const FlowSpec> flows, const Router::ChoiceLog& log, const PhaseResult& result, bool signed_already);
    // Every phase tried, however few its flows (tests: the proof is exercised on small fabrics).
    void try_every_phase(bool on) { every_phase_ = on; }
    // Whether the phase of the last find() is one to keep (so its routing's choices are worth logging).
    [[nodiscard]] bool wanted() const { return wanted_; }

    static constexpr std::size_t kMaxWords = std::size_t{1} << 23;  // 64 MiB
    static constexpr std::size_t kPerSignature = 4;                 // phases kept under one signature
    static constexpr std::size_t kFlowsPerVertex = 8;               // tried from this many flows per vertex
    static constexpr std::size_t kMinFlows = 1024;                  // and phases of fewer flows never
    static constexpr std::uint32_t kTries = 3;                      // attempts a record gets to serve once

private:
    struct Record {
        std::vector<std::uint64_t> signature;  // per flow: size bits, source label, destination label
        std::vector<VertexId> vertices;        // by label
        Router::ChoiceLog choices;
        PhaseResult result;
        std::uint32_t tries = 0, wins = 0;  // finds that tried it, and that it served
    };
    // signature_, vertices_ and hash_ for `flows`.
    void sign(std::span<const FlowSpec> flows);
    // Worth proving rather than routing (after sign): a closure visits every link of the nodes it swaps (some
    // hundred per node), routing a few per flow, so only phases of several flows per GPU gain. Measured on the
    // DeepSeek-V3 step (callgrind), with routes read from the fabric's structure (session 25): from 8 flows per GPU
    // and 1,024 flows (its all-to-alls and expert-data collectives) 408 M instructions, from 16 or 32 441 M, none
    // 579 M. With the earlier distance arrays (session 24): 423 M, 432 M from 32, 441 M for every phase of 64 flows
    // or more (pipeline sends too, a flow per GPU), 495 M none.
    [[nodiscard]] bool worth_it(std::span<const FlowSpec> flows) const {
        return every_phase_ || flows.size() >= kFlowsPerVertex * vertices_.size();
    }
    [[nodiscard]] bool choices_hold(const Router& router, const Router::ChoiceLog& log);

    const Topology& topology_;
    SwapClosure closure_;
    bool every_phase_ = false;
    bool wanted_ = false;
    bool closed_ = false;  // closure_ holds a proven automorphism
    // The last kSnapshots automorphisms proven, at most kSnapshotEntries vertices and links in all (one pipeline
    // stage's phases map to stage 0's under one swap; the step times every stage's all-to-alls before the stages'
    // data-parallel collectives, so each stage's swap must still be here when they come: with the last 8 only, the
    // DeepSeek-V3 step closed 58 swaps, with 64 39, 396.8 M → 383.8 M instructions). loaded_ is the one closure_ holds.
    static constexpr std::size_t kSnapshots = 64;
    static constexpr std::size_t kSnapshotEntries = std::size_t{1} << 22;  // some 50 MB
    std::size_t snapshot_entries_ = 0;
    static constexpr std::size_t kNone = ~std::size_t{0};
    std::vector<SwapClosure::Snapshot> snapshots_;
    std::size_t loaded_ = kNone;
    std::uint64_t closure_version_ = 0;                 // changes whenever closure_ does
    std::uint64_t checked_routing_ = 0, checked_version_ = 0;  // the last choice log found to hold, and under which
    std::vector<Record> records_;
    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> by_hash_;
    std::size_t words_ = 0;
    std::vector<std::uint64_t> signature_;
    std::vector<VertexId> vertices_;
    std::uint64_t hash_ = 0;
    std::vector<std::uint32_t> label_of_;  // per vertex: its label + 1 in the phase being signed (0: none)
    std::vector<char> marked_;             // choices_hold's scratch, per link
    std::vector<LinkId> ordered_;
};

}  // namespace gpuhours::detail
