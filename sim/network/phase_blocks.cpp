// MaxMinNetwork::run_phase_by_blocks: a stage-wide phase answered from one block of its flows and the blocks that
// differ, under a translation the step proved (issue #13: a pipeline stage of 8,192 GPUs spans 8 leaves, and its
// collectives' phases repeat one leaf's flows 7 times).
//
// The argument. T is a NodeTranslation (network/automorphism.hpp): GPU g ↦ g + s (mod G), an automorphism of the
// topology that carries every route, link by link (the route of T(f) is T of f's route). The phase's flows are
// grouped by the block of their source (s consecutive GPUs); each block's flows, moved back by their block's start,
// form a sequence (ends and size, in phase order); the blocks of each sequence that repeats (a pattern k) are copies
// of the first of them in phase order, B0_k: the copy d blocks further is T^d(B0_k), flow for flow. Every other
// block's flows form R, and P = ∪ B0_k ∪ R (in phase order). When the links that each copy's routes cross,
// T^d(L(B0_k)), are disjoint from L(P) and from every other copy's (of any pattern), no link is crossed by flows of
// two of P and the copies: the phase's link-disjoint parts are P's parts and each copy's, and a copy's parts are T^d
// of B0_k's own parts, of the same canonical forms (T keeps the links' figures and their order along each route).
// MaxMinNetwork answers a phase of several parts with its latest part's time, each part solved in its canonical form
// (phase_memo.cpp, solve_by_parts), so the phase lasts max(time(P), time(B0_k) for each k), to the last bit;
// time(B0_k) is needed only when B0_k shares a link with the rest of P (otherwise B0_k's parts are among P's). Its
// longest route latency is P's: a copy's routes are of the same links' figures as its B0's. Two patterns are the
// usual case of a phase between two stages in both directions (DualPipe's mirror pairs, pipeline sends both ways).
// The disjointness is a function of P's pairs, the B0 blocks (which of P's flows are each pattern's) and the copies'
// shifts, checked once (on the routes P's solve found, mapping each L(B0_k) d times by NodeTranslation::link_image)
// and kept.
#include <gpuhours/network/automorphism.hpp>
#include <gpuhours/network/network.hpp>

#include "phase_memo.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

namespace gpuhours {

void MaxMinNetwork::use_translation(std::shared_ptr<const NodeTranslation> translation) {
    translation_ = std::move(translation);
    block_checks_.reset();  // a check counts shifts in the translation's blocks
    if (translation_) block_checks_ = std::make_unique<BlockChecks>();
}

namespace {

using Moved = detail::MovedFlow;

// One block's flows, in phase order (positions in the phase), and their hash moved back.
struct Block {
    std::size_t block = 0;
    std::vector<std::uint32_t> flows;
    std::uint64_t hash = 0x9E3779B97F4A7C15ull;
};

// A repeated pattern: its first block B0 (in phase order), B0's flows and their positions in P, and the copies'
// shifts d from B0 (ascending).
struct Pattern {
    std::size_t b0 = 0;
    std::vector<FlowSpec> b0_flows;
    std::vector<std::uint32_t> b0_in_p;
    std::vector<std::uint32_t> shifts;
};

// The phase split: P = ∪ B0_k ∪ R (in phase order) and every repeated pattern.
struct Split {
    std::vector<FlowSpec> p_flows;
    std::vector<Pattern> patterns;
    std::size_t block_count = 0;
};

// The flows by block of s GPUs, in phase order (blocks in the order of their first flow), each moved back to block 0;
// `slot`: scratch by block, all -1 (left so). Empty when a flow's end is not a GPU.
std::vector<Block> blocks_of(const Topology& t, std::span<const FlowSpec> flows, std::size_t s,
                             std::vector<std::int32_t>& slot, std::vector<Moved>& moved, std::vector<std::size_t>& block_of) {
    const std::size_t g = t.gpus().size();
    std::vector<Block> blocks;
    moved.resize(flows.size());
    block_of.resize(flows.size());
    for (std::size_t i = 0; i < flows.size(); ++i) {
        const VertexInfo& a = t.vertex(flows[i].src);
        const VertexInfo& b = t.vertex(flows[i].dst);
        if (a.kind != VertexKind::gpu || b.kind != VertexKind::gpu || a.index < 0 || b.index < 0) {
            for (const Block& x : blocks) slot[x.block] = -1;
            return {};
        }
        const auto src = static_cast<std::size_t>(a.index), dst = static_cast<std::size_t>(b.index);
        const std::size_t block = src / s;
        moved[i] = Moved{src - block * s, (dst + g - block * s) % g, std::bit_cast<std::uint64_t>(flows[i].size.value())};
        std::int32_t& k = slot[block];
        if (k < 0) {
            k = static_cast<std::int32_t>(blocks.size());
            blocks.push_back(Block{block, {}, 0x9E3779B97F4A7C15ull});
        }
        block_of[i] = static_cast<std::size_t>(k);
        Block& into = blocks[block_of[i]];
        into.flows.push_back(static_cast<std::uint32_t>(i));
        detail::hash_word(into.hash, moved[i].src);
        detail::hash_word(into.hash, moved[i].dst);
        detail::hash_word(into.hash, moved[i].size);
    }
    for (const Block& x : blocks) slot[x.block] = -1;
    return blocks;
}

// Splits the phase (argument above): every sequence of moved flows that repeats is a pattern, its first block (in
// phase order) its B0. A block holding a B0's flows in another order is not taken for a copy (it is answered among
// the others, as exactly). nullopt when no sequence repeats.
std::optional<Split> split(const Topology& t, std::span<const FlowSpec> flows, std::size_t s, MaxMinNetwork::BlockChecks& scratch) {
    std::vector<Moved>& moved = scratch.moved;  // kept: a phase of 65,536 flows would fault 2 MB in anew
    std::vector<std::size_t>& block_of = scratch.block_of;
    const std::vector<Block> blocks = blocks_of(t, flows, s, scratch.slot, moved, block_of);
    if (blocks.size() < 2) return std::nullopt;
    const auto same = [&](const Block& a, const Block& b) {
        return a.hash == b.hash && a.flows.size() == b.flows.size() &&
               std::equal(a.flows.begin(), a.flows.end(), b.flows.begin(), [&](std::uint32_t x, std::uint32_t y) { return moved[x] == moved[y]; });
    };
    std::vector<std::size_t> pattern_of(blocks.size());  // by block: the first block of its sequence
    std::vector<std::size_t> count(blocks.size(), 0);
    std::vector<std::size_t> firsts;                     // the first block of each sequence, in order
    for (std::size_t k = 0; k < blocks.size(); ++k) {
        std::size_t p = k;
        for (const std::size_t q : firsts) {
            if (same(blocks[q], blocks[k])) {
                p = q;
                break;
            }
        }
        if (p == k) firsts.push_back(k);
        pattern_of[k] = p;
        ++count[p];
    }
    Split out;
    out.block_count = t.gpus().size() / s;
    std::vector<std::int32_t> pattern_index(blocks.size(), -1);  // by first block: its pattern's index
    for (const std::size_t q : firsts) {
        if (count[q] < 2) continue;
        pattern_index[q] = static_cast<std::int32_t>(out.patterns.size());
        out.patterns.push_back(Pattern{blocks[q].block, {}, {}, {}});
    }
    if (out.patterns.empty()) return std::nullopt;
    std::vector<char> is_copy(blocks.size(), 0);
    for (std::size_t k = 0; k < blocks.size(); ++k) {
        const std::int32_t index = pattern_index[pattern_of[k]];
        if (index < 0 || pattern_of[k] == k) continue;
        is_copy[k] = 1;
        const std::size_t first = blocks[pattern_of[k]].block;
        out.patterns[static_cast<std::size_t>(index)].shifts.push_back(
            static_cast<std::uint32_t>((blocks[k].block + out.block_count - first) % out.block_count));
    }
    for (Pattern& pattern : out.patterns) std::sort(pattern.shifts.begin(), pattern.shifts.end());
    out.p_flows.reserve(flows.size());
    for (std::size_t i = 0; i < flows.size(); ++i) {
        const std::size_t k = block_of[i];
        if (is_copy[k]) continue;
        if (pattern_of[k] == k && pattern_index[k] >= 0) {
            Pattern& pattern = out.patterns[static_cast<std::size_t>(pattern_index[k])];
            pattern.b0_in_p.push_back(static_cast<std::uint32_t>(out.p_flows.size()));
            pattern.b0_flows.push_back(flows[i]);
        }
        out.p_flows.push_back(flows[i]);
    }
    return out;
}

// Whether every copy's links, T^d(L(B0_k)), miss L(P) and every other copy's; and for each pattern whether B0_k
// shares a link with the rest of P. `routes`: P's. `owner`: scratch by link id, all -1 (left so). `t`: the topology
// the translation was proven on.
void check_copies(const Topology& t, const NodeTranslation& translation, const Split& split, const RouteTable& routes,
                  std::vector<std::int32_t>& owner, detail::BlockCheck& check) {
    std::vector<LinkId> touched;
    const auto mark = [&](LinkId l, std::int32_t who) {
        if (owner[l] < 0) touched.push_back(l);
        owner[l] = who;
    };
    // Marks: P's links by the pattern whose B0 crosses them (its index) or R (patterns' count) or several (−2);
    // the copies' from −3 down.
    const auto patterns = static_cast<std::int32_t>(split.patterns.size());
    std::vector<std::int32_t> pattern_in_p(split.p_flows.size(), patterns);
    for (std::size_t k = 0; k < split.patterns.size(); ++k) {
        for (const std::uint32_t i : split.patterns[k].b0_in_p) pattern_in_p[i] = static_cast<std::int32_t>(k);
    }
    std::vector<std::vector<LinkId>> links(split.patterns.size());  // L(B0_k), each once
    check.shared.assign(split.patterns.size(), 0);
    for (std::size_t i = 0; i < split.p_flows.size(); ++i) {
        const std::int32_t who = pattern_in_p[i];
        for (const LinkId l : routes.links_of(i)) {
            if (who < patterns) links[static_cast<std::size_t>(who)].push_back(l);
            if (owner[l] >= 0 && owner[l] != who) {  // a second owner: both share it
                if (owner[l] < patterns) check.shared[static_cast<std::size_t>(owner[l])] = 1;
                if (who < patterns) check.shared[static_cast<std::size_t>(who)] = 1;
                owner[l] = -2;
            } else if (owner[l] == -2) {
                if (who < patterns) check.shared[static_cast<std::size_t>(who)] = 1;
            } else {
                mark(l, who);
            }
        }
    }
    check.disjoint = true;
    std::int32_t copy_mark = -3;
    for (std::size_t k = 0; check.disjoint && k < split.patterns.size(); ++k) {
        std::vector<LinkId>& own = links[k];
        std::sort(own.begin(), own.end());
        own.erase(std::unique(own.begin(), own.end()), own.end());
        const std::vector<std::uint32_t>& shifts = split.patterns[k].shifts;
        std::size_t next = 0;
        for (std::uint32_t d = 1; check.disjoint && next < shifts.size(); ++d) {
            for (LinkId& l : own) l = translation.link_image(t, l);  // now T^d(L(B0_k))
            if (shifts[next] != d) continue;
            ++next;
            for (const LinkId l : own) {
                if (owner[l] != -1) {
                    check.disjoint = false;
                    break;
                }
                mark(l, copy_mark);
            }
            --copy_mark;
        }
    }
    for (const LinkId l : touched) owner[l] = -1;
}

// Clears in_blocks_ however the answer ends.
struct Inside {
    bool& flag;
    explicit Inside(bool& f) : flag(f) { flag = true; }
    ~Inside() { flag = false; }
    Inside(const Inside&) = delete;
    Inside& operator=(const Inside&) = delete;
};

}  // namespace

std::optional<PhaseResult> MaxMinNetwork::run_phase_by_blocks(std::span<const FlowSpec> flows) {
    const Topology& t = topology();
    const std::size_t s = translation_->gpu_shift(), g = translation_->gpus();
    if (s == 0 || g % s != 0 || g != t.gpus().size() || !translation_->proven_on(t)) return std::nullopt;
    BlockChecks& checks = *block_checks_;
    if (checks.slot.size() != g / s) checks.slot.assign(g / s, -1);
    const std::optional<Split> parts = split(t, flows, s, checks);
    if (!parts) return std::nullopt;

    // The copies' disjointness is a function of P's pairs, which of them are each pattern's B0 (those from its
    // block: the sizes chose it) and the shifts: checked once.
    const std::vector<FlowSpec>& p = parts->p_flows;
    std::uint64_t hash = detail::pairs_hash(p.size(), [&](std::size_t i) { return std::pair(p[i].src, p[i].dst); });
    std::vector<std::size_t> b0s;
    std::vector<std::vector<std::uint32_t>> shifts;
    for (const Pattern& pattern : parts->patterns) {
        b0s.push_back(pattern.b0);
        shifts.push_back(pattern.shifts);
        detail::hash_word(hash, pattern.b0);
        for (const std::uint32_t d : pattern.shifts) detail::hash_word(hash, d);
    }
    const auto matches = [&](const detail::BlockCheck& c) {
        return c.hash == hash && c.b0 == b0s && c.shifts == shifts && detail::same_pairs(parts->p_flows, c.pairs);
    };
    auto found = std::find_if(checks.checks.begin(), checks.checks.end(), matches);
    if (found != checks.checks.end() && !found->disjoint) return std::nullopt;

    // P solved first, so that a first check reads the routes its solve found.
    const Inside inside(in_blocks_);
    PhaseResult result = run_phase(parts->p_flows);
    if (found == checks.checks.end()) {
        const RouteTable* routes = &memo_->routes;
        if (!memo_->routed || !detail::same_pairs(parts->p_flows, memo_->routed_pairs)) {  // answered by a relabelling
            router().routes(parts->p_flows, checks.routes);
            routes = &checks.routes;
        }
        detail::BlockCheck check;
        check.hash = hash;
        check.b0 = std::move(b0s);
        check.shifts = std::move(shifts);
        check.pairs.reserve(parts->p_flows.size());
        for (const FlowSpec& f : parts->p_flows) check.pairs.emplace_back(f.src, f.dst);
        if (checks.owner.size() != t.links().size()) checks.owner.assign(t.links().size(), -1);
        check_copies(t, *translation_, *parts, *routes, checks.owner, check);
        if (checks.checks.size() >= BlockChecks::kKept) checks.checks.erase(checks.checks.begin());
        checks.checks.push_back(std::move(check));
        found = checks.checks.end() - 1;
        if (!found->disjoint) return std::nullopt;  // the whole phase is solved (P's answer is not its)
    }
    // A B0 alone when it shares links with the rest of P: its copies' parts are its own, which P's solve merged with
    // others'.
    for (std::size_t k = 0; k < parts->patterns.size(); ++k) {
        if (!found->shared[k]) continue;
        const Pattern& pattern = parts->patterns[k];
        const PhaseResult alone = run_phase(pattern.b0_flows);
        if (alone.time > result.time) {
            result.time = alone.time;
            result.limiting_link = alone.limiting_link;
            if (result.limiting_link) {  // the first copy's: B0's own link may not limit in the whole phase
                for (std::uint32_t d = 0; d < pattern.shifts.front(); ++d) result.limiting_link = translation_->link_image(t, *result.limiting_link);
            }
        }
        result.max_latency = std::max(result.max_latency, alone.max_latency);
    }
    ++phases_by_blocks_;
    return result;
}

}  // namespace gpuhours
