// Phases answered as relabellings of earlier ones, proven before routing (relabel.hpp has the argument).
#include "relabel.hpp"

#include "phase_memo.hpp"

#include <gpuhours/network/automorphism.hpp>

#include <algorithm>
#include <bit>
#include <tuple>

namespace gpuhours::detail {

SwapClosure::SwapClosure(const Topology& topology) : topology_(topology) {}

bool SwapClosure::alike(std::uint32_t a, std::uint32_t b) const { return class_[a] == class_[b]; }

bool SwapClosure::fix(VertexId v) {
    if (state_[v] == State::fixed) return true;
    if (state_[v] == State::swapped) return false;
    state_[v] = State::fixed;
    touched_.push_back(static_cast<std::uint32_t>(v));
    return true;
}

bool SwapClosure::swap(VertexId a, VertexId b) {
    if (state_[a] == State::swapped && image_[a] == b) return true;
    if (a == b || state_[a] != State::free || state_[b] != State::free) return false;
    const VertexInfo& x = topology_.vertex(a);
    const VertexInfo& y = topology_.vertex(b);
    if (x.kind != y.kind || x.group != y.group) return false;
    image_[a] = static_cast<std::uint32_t>(b);
    image_[b] = static_cast<std::uint32_t>(a);
    state_[a] = state_[b] = State::swapped;
    touched_.push_back(static_cast<std::uint32_t>(a));
    touched_.push_back(static_cast<std::uint32_t>(b));
    queue_.push_back(static_cast<std::uint32_t>(std::min(a, b)));
    return true;
}

bool SwapClosure::match_in_order(std::span<const std::uint32_t> a_links, std::span<const std::uint32_t> b_links, bool out) {
    // First without touching anything: does pairing the i-th link with the i-th hold? (Builders add a node's, a
    // leaf's or a plane's links in one order, so it mostly does.) Far ends newly swapped must be distinct.
    // The check must be complete: once the second loop starts, every step of it succeeds. seen_ marks the far
    // ends this list would swap (swapping) or fix (fixing).
    const std::size_t n = a_links.size();
    stamp_ += 2;
    if (stamp_ < 2) {  // wrapped: old marks could read as this call's
        std::fill(seen_.begin(), seen_.end(), 0);
        stamp_ = 2;
    }
    const std::uint32_t swapping = stamp_, fixing = stamp_ + 1;
    const auto marked = [&](VertexId v) { return seen_[v] == swapping || seen_[v] == fixing; };
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t a = a_links[i];
        const std::uint32_t b = b_links[i];
        if (!alike(a, b) || (link_image_[a] != a && link_image_[a] != b) || (link_image_[b] != b && link_image_[b] != a)) {
            return false;
        }
        const VertexId w = far_end(a, out);
        const VertexId x = far_end(b, out);
        if (state_[w] != State::free) {
            if (image_[w] != x) return false;
        } else if (w == x) {
            if (seen_[w] == swapping) return false;
            seen_[w] = fixing;
        } else {
            const VertexInfo& p = topology_.vertex(w);
            const VertexInfo& q = topology_.vertex(x);
            if (state_[x] != State::free || marked(w) || marked(x) || p.kind != q.kind || p.group != q.group) return false;
            seen_[w] = seen_[x] = swapping;
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t a = a_links[i];
        const std::uint32_t b = b_links[i];
        const VertexId w = far_end(a, out);
        const VertexId x = far_end(b, out);
        if (state_[w] == State::free && !(w == x ? fix(w) : swap(w, x))) return false;
        if (link_image_[a] == a) {
            link_image_[a] = b;
            link_image_[b] = a;
            touched_links_.push_back(a);
            touched_links_.push_back(b);
        }
    }
    return true;
}

bool SwapClosure::match(std::span<const std::uint32_t> a_links, std::span<const std::uint32_t> b_links, bool out) {
    const std::size_t n = a_links.size();
    if (b_links.size() != n) return false;
    if (match_in_order(a_links, b_links, out)) return true;
    // u''s links chained by far end (chain_head_ per vertex, chain_next_ per position), so a far end's links are
    // found without a scan.
    used_.assign(n, 0);
    chain_next_.resize(n);
    for (std::size_t j = n; j-- > 0;) {
        std::uint32_t& head = chain_head_[far_end(b_links[j], out)];
        chain_next_[j] = head;
        head = static_cast<std::uint32_t>(j + 1);
    }
    // A link between two swapped vertices is matched twice (from each end): the second time it must get the same
    // image (parallel links could otherwise be paired two ways, and π on links would not be a bijection).
    const auto pair_up = [&](std::size_t i, std::size_t j) {
        used_[j] = 1;
        const std::uint32_t a = a_links[i];
        const std::uint32_t b = b_links[j];
        if (link_image_[a] != a || link_image_[b] != b) return link_image_[a] == b && link_image_[b] == a;
        link_image_[a] = b;
        link_image_[b] = a;
        touched_links_.push_back(a);
        touched_links_.push_back(b);
        return true;
    };
    // The first unused b link, alike to a, whose far end is `end` (a's image if it has one already); n when none.
    const auto find_at = [&](std::uint32_t a, VertexId end) {
        for (std::uint32_t k = chain_head_[end]; k != 0; k = chain_next_[k - 1]) {
            const std::uint32_t b = b_links[k - 1];
            if (!used_[k - 1] && alike(a, b) && (link_image_[a] == a || link_image_[a] == b)) return static_cast<std::size_t>(k - 1);
        }
        return n;
    };
    bool ok = true;
    std::vector<std::uint32_t>& rest = rest_;  // a links left for the third pass
    rest.clear();
    // Far ends already placed must go where π sends them; far ends common to both are fixed.
    for (std::size_t i = 0; i < n && ok; ++i) {
        const VertexId w = far_end(a_links[i], out);
        if (state_[w] != State::free) {
            const std::size_t j = find_at(a_links[i], image_[w]);
            ok = j != n && pair_up(i, j);
        } else {
            rest.push_back(static_cast<std::uint32_t>(i));
        }
    }
    std::size_t kept = 0;
    for (std::size_t r = 0; r < rest.size() && ok; ++r) {
        const std::size_t i = rest[r];
        const VertexId w = far_end(a_links[i], out);
        if (state_[w] != State::free) {  // placed since (an earlier link to the same vertex)
            const std::size_t j = find_at(a_links[i], image_[w]);
            ok = j != n && pair_up(i, j);
            continue;
        }
        const std::size_t j = find_at(a_links[i], w);
        if (j == n) {
            rest[kept++] = static_cast<std::uint32_t>(i);
            continue;
        }
        ok = fix(w) && pair_up(i, j);
    }
    rest.resize(ok ? kept : 0);
    // The rest in adjacency order, each with the first unused alike b link; their far ends swapped.
    std::size_t start = 0;
    for (const std::uint32_t i : rest) {
        while (start < n && used_[start]) ++start;
        std::size_t j = start;
        while (j < n && (used_[j] || !alike(a_links[i], b_links[j]))) ++j;
        if (j == n || !swap(far_end(a_links[i], out), far_end(b_links[j], out)) || !pair_up(i, j)) {
            ok = false;
            break;
        }
    }
    for (std::size_t j = 0; j < n; ++j) chain_head_[far_end(b_links[j], out)] = 0;
    return ok;
}

bool SwapClosure::close(std::span<const VertexId> from, std::span<const VertexId> to) {
    const std::size_t vertices = topology_.vertex_count();
    if (image_.size() != vertices) {
        image_.resize(vertices);
        for (std::size_t v = 0; v < vertices; ++v) image_[v] = static_cast<std::uint32_t>(v);
        state_.assign(vertices, State::free);
        seen_.assign(vertices, 0);
        chain_head_.assign(vertices, 0);
        const std::vector<LinkRecord>& links = topology_.link_records();
        link_image_.resize(links.size());
        for (std::size_t l = 0; l < links.size(); ++l) link_image_[l] = static_cast<std::uint32_t>(l);
        in_offsets_.assign(vertices + 1, 0);
        for (const LinkRecord& link : links) ++in_offsets_[link.to + 1];
        for (std::size_t v = 0; v < vertices; ++v) in_offsets_[v + 1] += in_offsets_[v];
        in_links_.resize(links.size());
        std::vector<std::uint32_t> cursor(in_offsets_.begin(), in_offsets_.end() - 1);
        for (std::size_t l = 0; l < links.size(); ++l) in_links_[cursor[links[l].to]++] = static_cast<std::uint32_t>(l);
        // Links numbered by class, kind, bandwidth, efficiency and latency alike, in order of first use: a class is
        // one of the topology's distinct figures, whose index (Topology::link_specs, an entry added as the link that
        // first uses it is) already numbers them so.
        class_.resize(links.size());
        for (std::size_t l = 0; l < links.size(); ++l) class_[l] = links[l].spec;
    }
    for (std::size_t i = 0; i < from.size(); ++i) {
        if (!(from[i] == to[i] ? fix(from[i]) : swap(from[i], to[i]))) return false;
    }
    const auto& adj = topology_.adjacency();
    const auto span_of = [](const std::vector<std::uint32_t>& offsets, const std::vector<std::uint32_t>& ids, VertexId v) {
        return std::span<const std::uint32_t>(ids.data() + offsets[v], offsets[v + 1] - offsets[v]);
    };
    for (std::size_t head = 0; head < queue_.size(); ++head) {
        const VertexId u = queue_[head];
        const VertexId v = image_[u];
        if (!match(span_of(adj.offsets, adj.links, u), span_of(adj.offsets, adj.links, v), true)) return false;
        if (!match(span_of(in_offsets_, in_links_, u), span_of(in_offsets_, in_links_, v), false)) return false;
    }
    return true;
}

SwapClosure::Snapshot SwapClosure::save() const {
    Snapshot snapshot;
    for (const std::uint32_t v : touched_) snapshot.vertices.emplace_back(v, image_[v], static_cast<std::uint8_t>(state_[v]));
    std::sort(snapshot.vertices.begin(), snapshot.vertices.end());
    for (const std::uint32_t l : touched_links_) snapshot.links.emplace_back(l, link_image_[l]);
    snapshot.pairs = queue_.size();
    return snapshot;
}

void SwapClosure::moved(std::vector<std::pair<std::uint32_t, std::uint32_t>>& vertices,
                        std::vector<std::pair<std::uint32_t, std::uint32_t>>& links) const {
    // Read off the dense images in id order (sorted without a sort: one pass over each table).
    vertices.clear();
    links.clear();
    if (touched_.empty()) return;
    for (std::uint32_t v = 0; v < image_.size(); ++v) {
        if (image_[v] != v) vertices.emplace_back(v, image_[v]);
    }
    for (std::uint32_t l = 0; l < link_image_.size(); ++l) {
        if (link_image_[l] != l) links.emplace_back(l, link_image_[l]);
    }
}

VertexId SwapClosure::Snapshot::image(VertexId v) const {
    const auto it = std::lower_bound(vertices.begin(), vertices.end(), std::make_tuple(static_cast<std::uint32_t>(v), 0u, std::uint8_t{0}));
    return it != vertices.end() && std::get<0>(*it) == v ? std::get<1>(*it) : v;
}

void SwapClosure::load(const Snapshot& snapshot) {
    reset();
    for (const auto& [v, image, state] : snapshot.vertices) {
        image_[v] = image;
        state_[v] = static_cast<State>(state);
        touched_.push_back(v);
    }
    for (const auto& [l, image] : snapshot.links) {
        link_image_[l] = image;
        touched_links_.push_back(l);
    }
    queue_.resize(snapshot.pairs);  // only its size is read (swapped())
}

void SwapClosure::reset() {
    for (const std::uint32_t v : touched_) {
        image_[v] = v;
        state_[v] = State::free;
    }
    for (const std::uint32_t l : touched_links_) link_image_[l] = l;
    touched_.clear();
    touched_links_.clear();
    queue_.clear();
}

void PhaseRelabeller::sign(std::span<const FlowSpec> flows) {
    if (label_of_.size() != topology_.vertex_count()) label_of_.assign(topology_.vertex_count(), 0);
    signature_.clear();
    vertices_.clear();
    const auto label = [&](VertexId v) {
        std::uint32_t& l = label_of_[v];
        if (l == 0) {
            vertices_.push_back(v);
            l = static_cast<std::uint32_t>(vertices_.size());
        }
        return static_cast<std::uint64_t>(l - 1);
    };
    for (const FlowSpec& f : flows) {
        signature_.push_back(std::bit_cast<std::uint64_t>(f.size.value()));
        signature_.push_back(label(f.src));
        signature_.push_back(label(f.dst));
    }
    for (const VertexId v : vertices_) label_of_[v] = 0;
    hash_ = MaxMinNetwork::PhaseMemo::Hash{}(signature_);  // the phase memo's hash of word sequences
}

namespace {

// A GPU with one scale-up link that chose it maps by itself under every automorphism π: Router::choose takes a
// GPU's first scale-up candidate among its first 64 (a logged choice has at most ChoiceLog::kMaxCandidates = 64, so
// all of them), the candidates at π(u) are the images of u's (distances are kept), and π(u)'s one scale-up link is
// the image of u's (π keeps links' kinds and ends). PXN's choices, most of an all-to-all's, are of this kind.
bool maps_by_itself(const Topology& topology, const Router::ChoiceLog& log, std::size_t i) {
    const auto& links = topology.links();
    const VertexId u = log.vertex[i];
    if (links[log.chosen[i]].kind != LinkKind::scale_up || topology.vertex(u).kind != VertexKind::gpu) return false;
    const auto& adj = topology.adjacency();
    int scale_up = 0;
    for (std::uint32_t k = adj.offsets[u]; k < adj.offsets[u + 1]; ++k) scale_up += links[adj.links[k]].kind == LinkKind::scale_up;
    return scale_up == 1;
}

// Whether every choice of `log` maps under the vertex and link images given (see PhaseRelabeller and
// choices_map). `marked` is per-link scratch, left all 0.
template <class VertexImage, class LinkImage>
bool choices_hold_under(const Topology& topology, const Router& router, const Router::ChoiceLog& log,
                        const VertexImage& vertex, const LinkImage& link, std::vector<char>& marked,
                        std::vector<LinkId>& ordered) {
    const auto& adj = topology.adjacency();
    const auto& links = topology.links();
    if (marked.size() != links.size()) marked.assign(links.size(), 0);
    for (std::size_t i = 0; i < log.size(); ++i) {
        if (maps_by_itself(topology, log, i)) continue;
        const VertexId v = vertex(log.vertex[i]);
        // The image candidates in v's adjacency order.
        for (std::uint32_t k = log.begin[i]; k < log.begin[i + 1]; ++k) marked[link(log.candidates[k])] = 1;
        ordered.clear();
        for (std::uint32_t k = adj.offsets[v]; k < adj.offsets[v + 1]; ++k) {
            if (marked[adj.links[k]]) ordered.push_back(adj.links[k]);
        }
        for (std::uint32_t k = log.begin[i]; k < log.begin[i + 1]; ++k) marked[link(log.candidates[k])] = 0;
        if (ordered.size() != log.begin[i + 1] - log.begin[i]) return false;
        if (router.choose(v, vertex(log.destination[i]), ordered) != link(log.chosen[i])) return false;
    }
    return true;
}

}  // namespace

bool PhaseRelabeller::choices_hold(const Router& router, const Router::ChoiceLog& log) {
    return choices_hold_under(
        topology_, router, log, [&](VertexId v) { return closure_.vertex(v); }, [&](LinkId l) { return closure_.link(l); },
        marked_, ordered_);
}

std::optional<PhaseResult> PhaseRelabeller::find(const Router& router, std::span<const FlowSpec> flows) {
    wanted_ = false;
    if (!every_phase_ && flows.size() < kMinFlows) return std::nullopt;  // routed (below worth_it whatever its vertices)
    sign(flows);
    if (!worth_it(flows)) return std::nullopt;
    wanted_ = true;
    const auto it = by_hash_.find(hash_);
    if (it == by_hash_.end()) return std::nullopt;
    for (const std::uint32_t r : it->second) {
        Record& record = records_[r];
        // A record that never served after kTries attempts is not tried again (traffic across the spines, whose
        // destination-based choices rarely map from one stage to another; a failed attempt costs a closure).
        if (record.wins == 0 && record.tries >= kTries) continue;
        if (record.signature != signature_) continue;
        ++record.tries;
        // The automorphism loaded, or one of the last proven, serves when it maps the phase's vertices alike
        // (checked in time of the vertices); otherwise one is closed from them.
        const auto maps = [&](const auto& image) {
            return std::equal(record.vertices.begin(), record.vertices.end(), vertices_.begin(),
                              [&](VertexId a, VertexId b) { return image(a) == b; });
        };
        bool proven = closed_ && maps([&](VertexId v) { return closure_.vertex(v); });
        for (std::size_t k = snapshots_.size(); !proven && k-- > 0;) {
            if (k == loaded_ || !maps([&](VertexId v) { return snapshots_[k].image(v); })) continue;
            closure_.load(snapshots_[k]);
            ++closure_version_;
            loaded_ = k;
            closed_ = proven = true;
        }
        if (!proven) {
            closure_.reset();
            ++closure_version_;
            closed_ = proven = closure_.close(record.vertices, vertices_);
            loaded_ = kNone;
            if (proven) {
                // Kept: an automorphism of the topology serves every later phase whose vertices it maps alike.
                SwapClosure::Snapshot snapshot = closure_.save();
                const auto entries = [](const SwapClosure::Snapshot& s) { return s.vertices.size() + s.links.size(); };
                snapshot_entries_ += entries(snapshot);
                while (!snapshots_.empty() && (snapshots_.size() >= kSnapshots || snapshot_entries_ > kSnapshotEntries)) {
                    snapshot_entries_ -= entries(snapshots_.front());
                    snapshots_.erase(snapshots_.begin());
                }
                snapshots_.push_back(std::move(snapshot));
                loaded_ = snapshots_.size() - 1;
            }
        }
        // A record routed like the one last checked under this very automorphism holds as it did (the dispatch
        // and combine of one all-to-all: one routing at two sizes).
        const bool checked = proven && record.choices.routing == checked_routing_ && closure_version_ == checked_version_;
        if (proven && (checked || choices_hold(router, record.choices))) {
            checked_routing_ = record.choices.routing;
            checked_version_ = closure_version_;
            ++record.wins;
            PhaseResult found = record.result;
            if (found.limiting_link) found.limiting_link = closure_.link(*found.limiting_link);
            return found;
        }
    }
    return std::nullopt;
}

void PhaseRelabeller::keep(std::span<const FlowSpec> flows, const Router::ChoiceLog& log, const PhaseResult& result,
                           bool signed_already) {
    if (!log.complete || (!every_phase_ && flows.size() < kMinFlows)) return;
    if (!signed_already) sign(flows);
    if (!worth_it(flows)) return;  // never tried (find), so never kept
    std::vector<std::uint32_t>& kept = by_hash_[hash_];
    if (kept.size() >= kPerSignature) return;
    const std::size_t words = signature_.size() + vertices_.size() + log.size() * 4 + log.candidates.size();
    if (words_ + words > kMaxWords) {
        records_.clear();
        by_hash_.clear();
        words_ = 0;
        if (words > kMaxWords) return;
    }
    by_hash_[hash_].push_back(static_cast<std::uint32_t>(records_.size()));
    records_.push_back(Record{signature_, vertices_, log, result, 0, 0});
    words_ += words;
}

}  // namespace gpuhours::detail

namespace gpuhours {

VertexId Automorphism::vertex(VertexId v) const {
    const auto it = std::lower_bound(vertices_.begin(), vertices_.end(), std::make_pair(static_cast<std::uint32_t>(v), 0u));
    return it != vertices_.end() && it->first == v ? it->second : v;
}

LinkId Automorphism::link(LinkId l) const {
    const auto it = std::lower_bound(links_.begin(), links_.end(), std::make_pair(static_cast<std::uint32_t>(l), 0u));
    return it != links_.end() && it->first == l ? it->second : l;
}

AutomorphismProver::AutomorphismProver(const Topology& topology)
    : topology_(topology), closure_(std::make_unique<detail::SwapClosure>(topology)) {}

AutomorphismProver::~AutomorphismProver() = default;

std::optional<Automorphism> AutomorphismProver::prove_swap(std::span<const VertexId> from, std::span<const VertexId> to) {
    if (from.size() != to.size()) throw Error("prove_swap needs as many vertices to swap to as from", "pass spans of one length");
    const auto outside = [&](VertexId v) { return v >= topology_.vertex_count(); };
    if (std::any_of(from.begin(), from.end(), outside) || std::any_of(to.begin(), to.end(), outside)) {
        throw Error("prove_swap names a vertex the topology does not have", "pass vertices of the prover's topology");
    }
    closure_->reset();
    const bool proven = closure_->close(from, to);
    std::optional<Automorphism> result;
    if (proven) {
        Automorphism a;
        closure_->moved(a.vertices_, a.links_);
        result = std::move(a);
    }
    closure_->reset();
    return result;
}

void AutomorphismProver::drop_self_mapping(Router::ChoiceLog& log) const {
    Router::ChoiceLog kept;
    kept.complete = log.complete;
    kept.routing = log.routing;
    for (std::size_t i = 0; i < log.size(); ++i) {
        if (detail::maps_by_itself(topology_, log, i)) continue;
        kept.vertex.push_back(log.vertex[i]);
        kept.destination.push_back(log.destination[i]);
        kept.chosen.push_back(log.chosen[i]);
        kept.candidates.insert(kept.candidates.end(), log.candidates.begin() + log.begin[i], log.candidates.begin() + log.begin[i + 1]);
        kept.begin.push_back(static_cast<std::uint32_t>(kept.candidates.size()));
    }
    log = std::move(kept);
}

bool AutomorphismProver::choices_map(const Router& router, const Router::ChoiceLog& log, const Automorphism& first,
                                     const Automorphism* then) {
    if (!log.complete) return false;
    if (log.size() == 0) return true;  // no choice among several: every route maps by distances alone
    // π = then ∘ first written into dense images (identity elsewhere) over the vertices and links either moves, so
    // that each choice reads them directly; put back after.
    if (vertex_image_.size() != topology_.vertex_count()) {
        vertex_image_.resize(topology_.vertex_count());
        for (std::size_t v = 0; v < vertex_image_.size(); ++v) vertex_image_[v] = static_cast<std::uint32_t>(v);
        link_image_.resize(topology_.links().size());
        for (std::size_t l = 0; l < link_image_.size(); ++l) link_image_[l] = static_cast<std::uint32_t>(l);
    }
    // then's images first, then first's composed with then (where first moves x, π x = then(first x)).
    const auto write = [](const auto& moved, std::vector<std::uint32_t>& image, const auto& map) {
        for (const auto& [x, y] : moved) image[x] = static_cast<std::uint32_t>(map(y));
    };
    const auto as_is = [](std::uint32_t y) { return y; };
    if (then) {
        write(then->vertices_, vertex_image_, as_is);
        write(then->links_, link_image_, as_is);
        write(first.vertices_, vertex_image_, [&](std::uint32_t y) { return then->vertex(y); });
        write(first.links_, link_image_, [&](std::uint32_t y) { return then->link(y); });
    } else {
        write(first.vertices_, vertex_image_, as_is);
        write(first.links_, link_image_, as_is);
    }
    const bool holds = detail::choices_hold_under(
        topology_, router, log, [&](VertexId v) { return static_cast<VertexId>(vertex_image_[v]); },
        [&](LinkId l) { return static_cast<LinkId>(link_image_[l]); }, marked_, ordered_);
    const auto restore = [](const auto& moved, std::vector<std::uint32_t>& image) {
        for (const auto& [x, ignored] : moved) image[x] = x;
    };
    restore(first.vertices_, vertex_image_);
    restore(first.links_, link_image_);
    if (then) {
        restore(then->vertices_, vertex_image_);
        restore(then->links_, link_image_);
    }
    return holds;
}

}  // namespace gpuhours
