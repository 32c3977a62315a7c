// Compute-restriction what-ifs (include/gpuhours/analysis/whatif.hpp).
//
// Each variant is the scenario file read again with overrides, so it goes through the same validation as the
// file: `cluster.chip.from = <id>` swaps the chip and keeps whatever the scenario's [cluster.chip] table sets on
// top of it (the flagship's FP8 efficiency range), then the request's own overrides (hypothetical chips).
// Re-derivation, in order, only as far as needed:
//   1. a chip without the scenario's compute format (A800, Ascend: no FP8) computes in BF16;
//   2. a layout that does not fit gets more recomputation (selective, then full), then more ZeRO sharding (up to
//      stage 3); degrees are kept, so the comparison stays about the chip. No fit after that: the row says so.
// The deadline search (analysis/deadline.hpp) scales the data-parallel degree of every phase by one factor
// (cluster.gpus with it), grows a batch that no longer feeds the schedule within --max-batch-tokens, derives the
// fabric the count needs, and takes the fewest GPUs whose nominal run's wall clock (every input nominal, as the
// row's other figures) meets the deadline: a stated assumption that the wall clock does not rise with more GPUs.
// (`capacity`, which answers in tokens, judges its deadline and budget on the samples' medians instead.)
#include <gpuhours/analysis/whatif.hpp>

#include <gpuhours/analysis/deadline.hpp>
#include <gpuhours/analysis/validation.hpp>

#include <gpuhours/units/error.hpp>
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/training/placement.hpp>
#include <gpuhours/workload/workload.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>

namespace gpuhours {

std::string_view to_string(Limiter l) {
    switch (l) {
        case Limiter::compute: return "compute";
        case Limiter::hbm: return "HBM bandwidth";
        case Limiter::nvlink: return "NVLink";
        case Limiter::network: return "network";
        case Limiter::bubble: return "pipeline bubble";
        case Limiter::memory_capacity: return "memory capacity";
    }
    return "?";
}

bool cost_on_borrowed_price(const WhatIfRow& row) { return row.price_borrowed && row.cost_basis.starts_with("rung 1"); }

bool claim_on_borrowed_price(const WhatIfRow& row, const ClaimVerdict& v) {
    // v.rung is set for a claim with a cost bound; rungs 4 and 5 add to the final run's cost at its price.
    return row.price_borrowed && !v.rung.empty() && v.rung != to_string(CostRung::ownership) && v.rung != to_string(CostRung::capital);
}

std::string borrowed_price_note(const WhatIfResult& result) {
    std::vector<std::string> chips;
    for (const auto& r : result.rows) {
        if (r.feasible && r.price_borrowed) chips.push_back(r.chip);
    }
    if (chips.empty()) return {};
    return fmt::format("§ {}: no catalog rental price, so priced at the scenario chip's: a rental cost of theirs, and a claim's "
                       "cost criterion on it (its verdict marked §), compares the runs' GPU-hours at one price, not what these "
                       "chips rent for",
                       fmt::join(chips, ", "));
}

std::string class_label(const WhatIfRow& row) {
    return row.subject || row.classification.empty() ? row.classification : row.classification + " (not subject)";
}

std::string limiter_label(const WhatIfRow& row) {
    if (row.limiter != Limiter::memory_capacity || row.limiter_seconds.empty()) return std::string(to_string(row.limiter));
    return fmt::format("{}, then {}", to_string(row.limiter), to_string(row.limiter_seconds.front().first));
}

namespace {

// The fraction of a step's kernel time spent in memory-bound passes, from the kernel model over the model's
// operators (forward, both backward GEMMs, recompute at the forward's bound).
double memory_bound_fraction(const Scenario& s) {
    const StepSpec spec = step_spec_of(s);
    const KernelContext context = kernel_context(spec, spec.layout.communication_sms);
    double memory = 0, total = 0;
    for (const Block& block : model_ops(s.model, s.parallel, s.training.precision, shape_of(s))) {
        for (const Op& op : block.ops) {
            const OpTime t = time_op(op, context);
            for (const PassTime* p : {&t.forward, &t.backward_input, &t.backward_weight}) {
                total += p->time.value();
                if (p->bound == Bound::memory) memory += p->time.value();
            }
            // The gradient-accumulation kernel inside a compute-bound pass is memory-bound time of its own.
            if (t.gradient_pass().bound != Bound::memory) memory += t.accumulation.value();
            total += t.recompute.value();
            if (t.forward.bound == Bound::memory) memory += t.recompute.value();
        }
    }
    return total > 0 ? memory / total : 0.0;
}

// Whether rank 0's group of `kind` stays inside one node (its collectives then run on NVLink).
bool inside_node(const Scenario& s, GroupKind kind) {
    const Placement placement(s.parallel, s.cluster.gpus);
    const std::vector<int> group = placement.group(kind, 0);
    const int node = group.front() / s.cluster.gpus_per_node;
    return std::all_of(group.begin(), group.end(), [&](int r) { return r / s.cluster.gpus_per_node == node; });
}

std::vector<std::pair<Limiter, double>> limiter_seconds(const Scenario& headline_scenario, const StepResult& step) {
    const StepBreakdown& b = step.breakdown;
    const double phi = memory_bound_fraction(headline_scenario);
    const double kernels = (b.compute + b.recompute).value();
    std::vector<std::pair<Limiter, double>> out{{Limiter::compute, kernels * (1.0 - phi)},
                                                {Limiter::hbm, kernels * phi + b.optimizer.value()},
                                                {Limiter::nvlink, 0.0},
                                                {Limiter::network, 0.0},
                                                {Limiter::bubble, b.bubble.value()}};
    const std::pair<CommAxis, GroupKind> axes[] = {{CommAxis::tensor, GroupKind::tensor},   {CommAxis::context, GroupKind::context},
                                                   {CommAxis::expert, GroupKind::expert},   {CommAxis::pipeline, GroupKind::pipeline},
                                                   {CommAxis::data, GroupKind::data}};
    for (const auto& [axis, kind] : axes) {
        const double exposed = b.exposed[static_cast<std::size_t>(axis)].value();
        if (exposed <= 0) continue;
        out[inside_node(headline_scenario, kind) ? 2 : 3].second += exposed;
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
    return out;
}

struct Variant {
    std::vector<std::string> overrides;
    std::string note;      // what was re-derived, for the row
    bool rederived = false;
};

LoadOptions with(const LoadOptions& base, const std::vector<std::string>& overrides) {
    LoadOptions o = base;
    o.overrides.insert(o.overrides.end(), overrides.begin(), overrides.end());
    return o;
}

// The first simulated phase whose step does not fit, or nullopt.
std::optional<std::string> misfit(const Scenario& s) {
    for (const PhaseSpec& ph : s.phases) {
        if (ph.quoted_gpu_hours) continue;
        const Scenario sc = scenario_of_phase(s, ph);
        const FitCheck fit = fit_of(sc);
        if (!fit.fits) {
            return fmt::format("phase \"{}\" needs {} per GPU, the {} has {}", ph.name, format_bytes(fit.breakdown.total()),
                               s.cluster.chip.display_name, format_bytes(fit.capacity));
        }
    }
    return std::nullopt;
}

// A chip efficiency by its [efficiency] key name; nullopt for the tile counts and unknown names.
std::optional<double> efficiency_figure(const KernelEfficiency& e, std::string_view key) {
    for (Fp8Recipe recipe : kAllFp8Recipes) {  // gemm (none) and each recipe's GEMM figure, by its key
        if (key == fp8_efficiency_key(recipe)) return e.fp8_gemm(recipe);
    }
    if (key == "attention") return e.attention;
    if (key == "memory") return e.memory;
    if (key == "scale_up_link") return e.scale_up_link;
    if (key == "nic_link") return e.nic_link;
    return std::nullopt;
}

// Whether a --set, the command's (`base`) or the request's (`extra`), writes `key` or a key below it: the user's
// figure for every chip, which a swap never re-derives.
bool set_by_user(const std::string& key, const LoadOptions& base, const std::vector<std::string>& extra) {
    const auto sets = [&](const std::string& o) {
        return o.rfind(key, 0) == 0 && (o.size() == key.size() || o[key.size()] == '=' || o[key.size()] == '.');
    };
    return std::any_of(extra.begin(), extra.end(), sets) || std::any_of(base.overrides.begin(), base.overrides.end(), sets);
}

// An efficiency the scenario's [cluster.chip] sets to its own chip's catalog figure at nominal (the flagship's
// gemm_fp8_blockwise = { low = 0.477, mode = 0.53, high = 0.583 } around the H800's 0.53) only adds an uncertainty
// to that chip's figure: on another chip the same relative range is put around that chip's figure (the H20's 0.60 →
// 0.54–0.60–0.66), instead of carrying the H800's numbers over. Other overrides are carried as they are.
void scale_uncertain_efficiencies(const std::filesystem::path& file, const LoadOptions& base, const Scenario& original,
                                  const ChipProfile& from, const ChipProfile& to, const std::vector<std::string>& extra, Variant& v,
                                  std::vector<std::string>& notes) {
    std::vector<std::pair<std::string, std::string>> inputs;
    for (const std::string& key : original.sources.chip_overrides) {
        if (key.rfind("efficiency.", 0) != 0) continue;
        // A value a --set gives (the command's or the request's) is the user's figure for every chip: carried as given.
        if (set_by_user("cluster.chip." + key, base, extra)) continue;
        const std::string name = key.substr(std::string("efficiency.").size());
        const auto own = efficiency_figure(from.efficiency, name);
        const auto nominal = efficiency_figure(original.cluster.chip.efficiency, name);
        const auto target = efficiency_figure(to.efficiency, name);
        if (!own || !nominal || !target || *own <= 0.0 || std::abs(*nominal - *own) > 1e-9 * *own) continue;
        if (*target <= 0.0) {  // the chip has no such kernels (no FP8 peak): the range stays, drawn but never used
            notes.push_back(fmt::format("{}: not used on the {}, which has no figure for it", key, to.display_name));
            continue;
        }
        if (inputs.empty()) inputs = scenario_inputs(file, base);
        const double factor = *target / *own;
        const std::string prefix = "cluster.chip." + key;
        for (const auto& [path, text] : inputs) {
            if (path != prefix && path.rfind(prefix + ".", 0) != 0) continue;
            char* end = nullptr;
            const double x = std::strtod(text.c_str(), &end);
            if (end == text.c_str() || *end != '\0') continue;  // `source` and other text
            // Twelve significant digits: the product's last-bit noise (0.6599999999999999 for 0.6 × 1.1) is not a figure
            // anyone wrote, and the assignment is meant to be pasted into --set.
            v.overrides.push_back(fmt::format("{}={:.12g}", path, std::min(1.0, x * factor)));
        }
        notes.push_back(fmt::format("{}: the scenario's range around the {}'s {:g} put around the {}'s {:g}", key, from.display_name,
                                    *own, to.display_name, *target));
        v.rederived = true;
    }
}

// The compute precision and FP8 recipe the chip can run: BF16 (and what only an FP8 step has, off) without a peak for
// the scenario's format, per-tensor scaling without the recipe's kernels, BF16 storage and all-to-all formats
// without FP8 casts.
void carry_precision(const Scenario& original, const ChipProfile& profile, Variant& v, std::vector<std::string>& notes) {
    const Fp8Recipe recipe = original.training.precision.fp8_recipe;
    if (!profile.peak_dense.contains(original.training.precision.compute)) {
        v.overrides.push_back("training.precision=\"bf16\"");
        if (recipe != Fp8Recipe::none) v.overrides.push_back("training.fp8_recipe=\"none\"");
        // What only an FP8 step has goes with it (the scenario layer refuses either beside BF16).
        std::string also;
        if (original.training.precision.fp8_param_gather) {
            v.overrides.push_back("training.fp8_param_gather=false");
            also += ", weights gathered in BF16";
        }
        if (original.sources.keys.contains("training.first_last_layers_bf16")) {
            v.overrides.push_back("training.first_last_layers_bf16=false");
        }
        notes.push_back(fmt::format("no {} peak: BF16 GEMMs{}", to_string(original.training.precision.compute), also));
        v.rederived = true;
    } else if (recipe != Fp8Recipe::none && !(profile.efficiency.fp8_gemm(recipe) > 0.0)) {
        // The recipe's kernels are not in the chip's catalog entry (blockwise on a chip without DeepGEMM figures,
        // MXFP8 before Blackwell): per-tensor scaling, which every FP8 chip has (gemm_fp8).
        v.overrides.push_back("training.fp8_recipe=\"delayed\"");
        notes.push_back(fmt::format("no {} FP8 figure: per-tensor (delayed) scaling", to_string(recipe)));
        v.rederived = true;
    }
    // FP8 storage and all-to-all formats need FP8 casts the chip runs; without an FP8 peak (A800, Ascend 910B) a
    // scenario written for the chip keeps them in BF16, as its GEMMs.
    if (!profile.peak_dense.contains(Precision::fp8)) {
        const MixedPrecision& mp = original.training.precision;
        std::vector<std::string> moved;
        for (const auto& [key, format] : {std::pair{"activations", std::optional(mp.activations)}, std::pair{"dispatch_precision", mp.dispatch},
                                          std::pair{"combine_precision", mp.combine}}) {
            if (format != Precision::fp8) continue;
            v.overrides.push_back(fmt::format("training.{}=\"bf16\"", key));
            moved.push_back(key);
        }
        if (!moved.empty()) notes.push_back(fmt::format("no FP8: {} in BF16", fmt::join(moved, ", ")));
    }
}

// A node of the scenario chip's scale-up domain (written or by default: the flagship's 8 H800 on NVSwitch) is that
// chip's node: the swapped chip gets its own domain (an H100 PCIe's bridged pair, a GB200 NVL72 rack), else a
// node would join GPUs by a scale-up link they do not have. The node takes the largest size within the domain that
// divides the GPU count (2,048 GPUs in 64-GPU nodes on a GB200, for racks of 72) and, on a multi-plane fabric, that
// the planes divide; when none does and the planes were the node's GPUs (a NIC per GPU, each on its own plane),
// the planes follow the node down. A node the scenario sized otherwise, one node written as the whole (single-node)
// fabric, or a node size given by --set, is the cluster's own and is kept (a plane count given alone is not a node
// size: the node still follows the chip where the planes divide it).
void carry_node(const Scenario& original, const LoadOptions& base, const std::vector<std::string>& extra, const std::string& chip,
                const ChipProfile& profile, Variant& v, std::vector<std::string>& notes) {
    // A node kept wider than the target chip's scale-up domain (the scenario's own size, or the user's) is a machine
    // that chip is not built into: said in the row's note, as `run` lists it among its assumptions.
    const auto say_if_wider = [&] {
        const int node = original.cluster.gpus_per_node;
        if (node > profile.scale_up_domain) {
            notes.push_back(fmt::format("nodes of {} kept, above the {}'s scale-up domain of {}: a hypothetical node", node,
                                        profile.display_name, profile.scale_up_domain));
        }
    };
    if (set_by_user("cluster.gpus_per_node", base, extra)) return say_if_wider();  // the user's node
    if (const std::string from = catalog_id(original.cluster.chip); from != "inline" && from != chip) {
        const ClusterSpec& c = original.cluster;
        const int own = load_chip(from, base.catalog_dir).scale_up_domain;
        const int target = profile.scale_up_domain;
        const bool single_written = c.fabric == Fabric::single_node && original.sources.keys.contains("cluster.fabric");
        if (own != target && c.gpus_per_node == std::min(c.gpus, own) && !single_written) {
            const bool multi_plane = c.fabric == Fabric::multi_plane;
            const auto largest = [&](bool planes_divide) {
                for (int d = std::min(c.gpus, std::max(1, target)); d >= 1; --d) {
                    if (c.gpus % d == 0 && (!planes_divide || d % c.planes == 0)) return d;
                }
                return 0;
            };
            int node = largest(multi_plane);
            const bool planes_follow = node == 0 && multi_plane && c.planes == c.gpus_per_node;
            if (planes_follow) node = largest(false);
            if (node > 0 && node != c.gpus_per_node) {
                v.overrides.push_back(fmt::format("cluster.gpus_per_node={}", node));
                if (planes_follow) v.overrides.push_back(fmt::format("cluster.planes={}", node));
                notes.push_back(fmt::format("nodes of {} → {} GPUs ({}'s scale-up domain {}{})", c.gpus_per_node, node,
                                            profile.display_name, target,
                                            node == std::min(c.gpus, target) ? "" : fmt::format(", the largest node that divides {} GPUs", c.gpus)));
                // The layout is kept: a tensor-parallel group wider than the new node now crosses the network (a plan
                // audit, session 50: the L40S's TP8 over 8 single-GPU nodes spent 57 of its 129 s step there).
                if (const int tensor = original.parallel.tensor; tensor > node) {
                    notes.push_back(fmt::format("tensor parallelism {} kept, now across {} nodes: its collectives cross the network "
                                                "(`gpuhours plan` with this row's chip and nodes of {} finds layouts that keep it within one)",
                                                tensor, (tensor + node - 1) / node, node));
                }
                v.rederived = true;
                return;
            }
        }
    }
    say_if_wider();  // the node kept as the scenario (or a plane count it cannot follow) has it
}

// A host-server size the scenario wrote (cluster.gpus_per_host) is kept on every chip, as a written node is; said when
// the swapped chip's [host] figure differs (its per-node failure classes count the scenario's servers).
void say_host_kept(const Scenario& original, const ChipProfile& profile, std::vector<std::string>& notes) {
    if (!original.sources.keys.contains("cluster.gpus_per_host") || profile.gpus_per_host <= 0) return;
    if (profile.gpus_per_host == original.cluster.gpus_per_host) return;
    notes.push_back(fmt::format("hosts of {} GPUs kept (the scenario's cluster.gpus_per_host; the {}'s [host] figure is {}): "
                                "per-node failures count these servers",
                                original.cluster.gpus_per_host, profile.display_name, profile.gpus_per_host));
}

// Under ownership pricing (no rental price written), rung 1 is priced at each chip's catalog rental price; a chip
// without one is given the scenario chip's, as this override (loaded with the variant, so that a claim about rung 1
// stays priced when the scenario is read). nullopt: nothing to borrow.
std::optional<std::string> borrowed_rental(const Scenario& original, const ChipProfile& profile) {
    const ChipProfile& from = original.cluster.chip;
    if (original.pricing.gpu_hour || !original.pricing.ownership || !from.rental_gpu_hour || profile.rental_gpu_hour) return std::nullopt;
    return fmt::format("cluster.chip.price.rental_gpu_hour={{ value = \"${}\", source = \"the {}'s catalog rental price: {} has "
                       "none\" }}",
                       from.rental_gpu_hour->value(), from.display_name, profile.display_name);
}

// The scenario on `chip`, re-derived until it can run (see the file comment). Throws ScenarioError when nothing
// fits, naming what was tried.
// A variant whose layout does not fit gets more recomputation (selective, then full), then more ZeRO sharding (up to
// stage 3), degrees unchanged — but never a recompute or ZeRO stage the user gave by --set (in `base` or `extra`);
// says so in `notes` (then v.note) and sets v.rederived. None fits: ScenarioError.
void fit_variant(const std::filesystem::path& file, const LoadOptions& base, const std::vector<std::string>& extra,
                 const ChipProfile& profile, Variant& v, std::vector<std::string>& notes);

// `fit`: false leaves the memory fit to the caller (capacity fits at the data degree it re-plans to).
Variant derive_variant(const std::filesystem::path& file, const LoadOptions& base, const std::string& chip,
                       const std::vector<std::string>& extra, bool fit = true) {
    Variant v;
    v.overrides.push_back(fmt::format("cluster.chip.from=\"{}\"", chip));
    v.overrides.insert(v.overrides.end(), extra.begin(), extra.end());
    // On its own chip, as `extra` makes it (a capacity rung's GPUs and degrees): what the swap carries is read from it.
    const Scenario original = load_scenario(file, with(base, extra));
    const ChipProfile profile = load_chip(chip, base.catalog_dir);
    if (const auto rental = borrowed_rental(original, profile)) v.overrides.push_back(*rental);
    std::vector<std::string> notes;
    if (const std::string from = catalog_id(original.cluster.chip);
        !original.sources.chip_overrides.empty() && from != "inline" && from != chip) {
        scale_uncertain_efficiencies(file, base, original, load_chip(from, base.catalog_dir), profile, extra, v, notes);
    }
    // SMs reserved for communication kernels are a share of the chip the scenario was written for (DeepSeek's 20
    // of the H800's 132): carried over as the same share of the target chip's SMs (at least one left for
    // compute), not as the same count — 20 of the Ascend 910B's 24 AI cores would leave 4 for compute.
    // The SMs a tensor-parallel overlap takes from its GEMMs likewise, within what the reservation leaves.
    const int from_sms = original.cluster.chip.sm_count;
    auto share_of = [&](int reserved, long cap) {
        return std::clamp(std::lround(static_cast<double>(reserved) * profile.sm_count / from_sms), 0L, cap);
    };
    // A count the user gave by --set is kept as given (set_by_user), for the run and for each phase; a phase's own
    // count the scenario writes is still carried as its share, and said so.
    auto carry_share = [&](const char* key, const char* what, auto reserved_of, auto cap_of) {
        const int sms = reserved_of(original.parallel);
        if (sms <= 0 || profile.sm_count == from_sms) return;
        const long share = share_of(sms, cap_of(original.parallel));
        const bool given = set_by_user(fmt::format("parallelism.{}", key), base, extra);
        if (!given) {
            v.overrides.push_back(fmt::format("parallelism.{}={}", key, share));
            notes.push_back(fmt::format("{} {} of {} → {} of {} (the scenario's share)", what, sms, from_sms, share, profile.sm_count));
            v.rederived = true;
        }
        for (std::size_t i = 0; i < original.phases.size() && original.phases_given; ++i) {
            const int own = reserved_of(original.phases[i].parallel);  // a phase that sets its own
            if (original.phases[i].quoted_gpu_hours || own == sms || own <= 0) continue;
            if (set_by_user(fmt::format("phases.{}.parallelism.{}", i, key), base, extra)) continue;
            const long phase_share = share_of(own, cap_of(original.phases[i].parallel));
            v.overrides.push_back(fmt::format("phases.{}.parallelism.{}={}", i, key, phase_share));
            if (given) {  // the run's note above is not there to cover it
                notes.push_back(fmt::format("phase \"{}\": {} {} of {} → {} of {} (the scenario's share)", original.phases[i].name,
                                            what, own, from_sms, phase_share, profile.sm_count));
                v.rederived = true;
            }
        }
    };
    const long last = static_cast<long>(profile.sm_count) - 1;
    carry_share("communication_sms", "communication SMs", [](const ParallelLayout& p) { return p.communication_sms; },
                [&](const ParallelLayout&) { return last; });
    carry_share("tp_comm_overlap_sms", "TP-overlap SMs",
                [](const ParallelLayout& p) { return p.tp_comm_overlap ? p.tp_comm_overlap_sms : 0; },
                [&](const ParallelLayout& p) { return last - share_of(p.communication_sms, last); });
    carry_precision(original, profile, v, notes);
    carry_node(original, base, extra, chip, profile, v, notes);
    say_host_kept(original, profile, notes);
    // A scale-up bandwidth the user caps for every chip leaves each chip's own link efficiency (its catalog's share of
    // the line rate that NCCL reaches): rows at one capped rate still differ by it (an analyst's read: the H100 and
    // H800 at 100 GB/s took 20.20 and 20.29 s with nothing said).
    if (set_by_user("cluster.chip.scale_up.bandwidth", base, extra) && !set_by_user("cluster.chip.efficiency.scale_up_link", base, extra) &&
        profile.efficiency.scale_up_link != original.cluster.chip.efficiency.scale_up_link) {
        notes.push_back(fmt::format("scale-up link efficiency {:g} (its catalog's; the {}'s {:g}) at the capped rate",
                                    profile.efficiency.scale_up_link, original.cluster.chip.display_name,
                                    original.cluster.chip.efficiency.scale_up_link));
    }
    // A [cluster] NIC equal to the scenario chip's catalog figure is that chip's server NIC (the flagship's 400 Gb/s
    // CX7 per H800): the swapped chip gets its own catalog NIC. Another figure is the cluster's own and is kept.
    // A NIC given by --set is the user's, kept as given.
    if (const std::string from = catalog_id(original.cluster.chip); original.sources.keys.contains("cluster.nic_bandwidth") &&
                                                                     !set_by_user("cluster.nic_bandwidth", base, extra) &&
                                                                     from != "inline" && from != chip) {
        const BytesPerSecond own = load_chip(from, base.catalog_dir).nic_bandwidth;
        const BytesPerSecond written = original.cluster.nic_bandwidth;
        if (std::abs(written.value() - own.value()) <= 1e-9 * own.value() && profile.nic_bandwidth.value() != own.value()) {
            v.overrides.push_back(fmt::format("cluster.nic_bandwidth=\"{} Gb/s\"", profile.nic_bandwidth.value() * 8 / 1e9));
            notes.push_back(fmt::format("NIC {:g} → {:g} Gb/s per GPU (each chip's catalog server NIC)", own.value() * 8 / 1e9,
                                        profile.nic_bandwidth.value() * 8 / 1e9));
        } else if (std::abs(written.value() - profile.nic_bandwidth.value()) > 1e-9 * written.value()) {
            notes.push_back(fmt::format("NIC {:g} Gb/s per GPU kept (the scenario's cluster; the catalog gives the {} {:g})",
                                        written.value() * 8 / 1e9, profile.display_name, profile.nic_bandwidth.value() * 8 / 1e9));
        }
    }
    if (fit) fit_variant(file, base, extra, profile, v, notes);
    else v.note = fmt::format("{}", fmt::join(notes, "; "));
    return v;
}

// The reference row: the scenario on its own chip with the overrides, re-fitted as a swapped chip is when the
// overrides (the command's --set, a capacity rung's degrees) leave a layout that fits as written without room (a
// capped HBM capacity, an analyst's read: the scenario's own chip was the one row that "could not run" under a cap
// the others were re-fitted to). A scenario that does not fit as written is left as written: its row fails as `run`
// refuses it, rather than showing another layout as the scenario's own.
Variant reference_variant(const std::filesystem::path& file, const LoadOptions& base, const ChipProfile& profile,
                          const std::vector<std::string>& overrides) {
    Variant v{overrides, "", false};
    LoadOptions as_written = base;
    as_written.overrides.clear();
    bool fits_as_written = true;
    try {
        fits_as_written = !misfit(load_scenario(file, as_written));
    } catch (const Error&) {
        // The file reads only with the overrides (a key they supply): judged with them, as a swapped chip is.
    }
    if (!fits_as_written) return v;
    std::vector<std::string> notes;
    fit_variant(file, base, overrides, profile, v, notes);
    return v;
}

void fit_variant(const std::filesystem::path& file, const LoadOptions& base, const std::vector<std::string>& extra,
                 const ChipProfile& profile, Variant& v, std::vector<std::string>& notes) {
    Scenario s = load_scenario(file, with(base, v.overrides));
    std::optional<std::string> why = misfit(s);
    if (!why) {
        v.note = fmt::format("{}", fmt::join(notes, "; "));
        return;
    }
    const std::string first_misfit = *why;
    // More recomputation, then more ZeRO sharding; degrees unchanged, and what the user set kept.
    const bool recompute_free = !set_by_user("parallelism.recompute", base, extra);
    const bool zero_free = !set_by_user("parallelism.zero", base, extra);
    std::vector<std::vector<std::string>> steps;
    const Recompute r = s.parallel.recompute;
    if (recompute_free && r == Recompute::none) steps.push_back({"parallelism.recompute=\"selective\""});
    if (recompute_free && r != Recompute::full) steps.push_back({"parallelism.recompute=\"full\""});
    for (int z = s.parallel.zero_stage + 1; zero_free && z <= 3; ++z) {
        std::vector<std::string> step;
        if (recompute_free) step.push_back("parallelism.recompute=\"full\"");
        step.push_back(fmt::format("parallelism.zero={}", z));
        steps.push_back(std::move(step));
    }
    for (const auto& step : steps) {
        std::vector<std::string> tried = v.overrides;
        tried.insert(tried.end(), step.begin(), step.end());
        try {
            s = load_scenario(file, with(base, tried));
        } catch (const ScenarioError&) {
            continue;  // e.g. a ZeRO stage the layout cannot use
        }
        if (!misfit(s)) {
            v.overrides = tried;
            notes.push_back(fmt::format("{} (the scenario's layout does not fit: {})", fmt::join(step, ", "), first_misfit));
            v.note = fmt::format("{}", fmt::join(notes, "; "));
            v.rederived = true;
            return;
        }
    }
    const std::string tried = recompute_free && zero_free ? "even with full recomputation and ZeRO-3"
                              : recompute_free             ? "even with full recomputation (ZeRO as given by --set)"
                              : zero_free                  ? "even with ZeRO-3 (recomputation as given by --set)"
                                                           : "with the recomputation and ZeRO stage given by --set";
    throw ScenarioError(s.sources.parallelism.known() ? s.sources.parallelism : s.sources.file,
                        fmt::format("no layout fits on {}: {}, {}", profile.display_name, first_misfit, tried),
                        "raise tensor or pipeline for this chip (gpuhours plan searches layouts), or use more GPUs");
}


// The price of `row`'s GPU-hour: a swapped chip's catalog rental price (ChipProfile::rental_gpu_hour) replaces the
// scenario's, phases' own prices included, unless the request keeps one price for all; the scenario's own chip,
// a chip without a catalog price and an unpriced scenario keep the scenario's. Says which in the row.
void price_variant(WhatIfRow& row, Variant& v, const Scenario& original, const ChipProfile& profile, const WhatIfRequest& request) {
    const bool own = row.reference || row.chip == catalog_id(original.cluster.chip);
    if (!prices_run(original)) return;  // unpriced: no cost column, no price
    const PhaseSpec* phase_price = first_priced_phase(original);
    if (!original.pricing.gpu_hour && phase_price == nullptr) {
        // No rental price written (an ownership scenario): rung 1 is priced at each chip's catalog rental price. A
        // chip without one is given the scenario chip's, said so, so that a claim about rung 1 stays priced.
        const ChipProfile& from = original.cluster.chip;
        if (!from.rental_gpu_hour) return;
        if (own) {
            row.price_gpu_hour = from.rental_gpu_hour->value();
            row.price_note = "the chip's catalog price (rung 1 only: the cost column is the scenario's own basis, ownership at "
                             "the scenario's figures for every chip)";
            return;
        }
        const bool catalog = profile.rental_gpu_hour.has_value();
        row.price_gpu_hour = catalog ? profile.rental_gpu_hour->value() : from.rental_gpu_hour->value();
        row.price_note = catalog ? fmt::format("catalog: {} (rung 1 only)", profile.rental_source)
                                 : fmt::format("the {}'s catalog price, as this chip has none (rung 1 only)", from.display_name);
        row.price_borrowed = !catalog;
        // derive_variant has loaded the variant with borrowed_rental's override.
        return;
    }
    // Rental: [pricing] gpu_hour, or only the phases' own prices (the first priced phase's stands for them in the row),
    // an ownership table beside them or not (its rung 2 is the cost column's basis then; rung 1 is these prices).
    // [pricing] gpu_hour where a phase is charged it; else (every phase priced on its own) the first priced phase's.
    const bool falls_back = std::any_of(original.phases.begin(), original.phases.end(), [](const PhaseSpec& ph) { return !ph.gpu_hour; });
    row.price_gpu_hour = original.pricing.gpu_hour && (phase_price == nullptr || falls_back) ? original.pricing.gpu_hour->value()
                                                                                             : phase_price->gpu_hour->value();
    if (own || request.same_price || !profile.rental_gpu_hour) {
        row.price_note = own ? "the scenario's" : request.same_price ? "the scenario's (--same-price)"
                                                                     : "the scenario's (no catalog price for this chip)";
        row.price_borrowed = !own && !request.same_price;
        // Phases at prices of their own (a phase without one at [pricing]'s): the row's one figure is the first's.
        // The spread is the phases' (a [pricing] gpu_hour no phase is priced at does not widen it).
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (const PhaseSpec& ph : original.phases) {
            const auto price = ph.gpu_hour ? ph.gpu_hour : original.pricing.gpu_hour;
            if (!price) continue;
            lo = std::min(lo, price->value());
            hi = std::max(hi, price->value());
        }
        if (phase_price != nullptr && hi > lo) {
            row.price_note += fmt::format(", phases at ${:.2f} to ${:.2f} (the column shows ${:.2f}; the cost prices "
                                          "each phase at its own)", lo, hi, row.price_gpu_hour);
        }
        return;
    }
    row.price_gpu_hour = profile.rental_gpu_hour->value();
    row.price_note = fmt::format("catalog: {}", profile.rental_source);
    v.overrides.push_back(fmt::format("pricing.gpu_hour=\"${}\"", row.price_gpu_hour));
    for (std::size_t i = 0; i < original.phases.size() && original.phases_given; ++i) {
        if (original.phases[i].gpu_hour) v.overrides.push_back(fmt::format("phases.{}.gpu_hour=\"${}\"", i, row.price_gpu_hour));
    }
}

// Catalog chip `id` as the row that runs on it has it, for its export-control class: the swap carries the scenario's
// [cluster.chip] figures and the request's and the command's `--set cluster.chip.…` (the chip every row runs on,
// `h100*`), so a rule judges the hypothetical chip the row simulates (a capped NVLink, say), not the catalog's (a
// plan audit, session 50: an H100 at 200 GB/s was classed by its 900). The variant is derived as the row's (its
// precision carried to what the chip has), without the memory fit. The catalog's entry where nothing changes the
// chip, or where no variant loads on it (its row then cannot run either, and says why).
ChipProfile chip_as_set(const std::filesystem::path& file, const LoadOptions& base, const Scenario& original, const std::string& id,
                        const std::vector<std::string>& overrides) {
    // Only what a rule reads (policy.hpp's metrics: the peaks, the die, the scale-up link, the memory) makes the
    // derivation worth its loads: the flagship's [cluster.chip] sets efficiencies alone.
    const auto classed = [](std::string_view key) {
        for (const std::string_view table : {"compute.", "die.", "scale_up.", "memory."}) {
            if (key.starts_with(table)) return true;
        }
        return false;
    };
    bool changed = std::any_of(original.sources.chip_overrides.begin(), original.sources.chip_overrides.end(), classed);
    for (const auto* list : {&base.overrides, &overrides}) {
        for (const std::string& o : *list) changed = changed || (o.starts_with("cluster.chip.") && classed(o.substr(13)));
    }
    if (changed) {
        try {
            const Variant v = derive_variant(file, base, id, overrides, /*fit=*/false);
            return load_scenario(file, with(base, v.overrides)).cluster.chip;
        } catch (const ScenarioError&) {
        }
    }
    return load_chip(id, base.catalog_dir);
}

// The request's chips; with a rule and none: the chips it permits, the scenario's own chip first as the reference row
// (added, and set in `reference`, when the rule does not permit it).
std::vector<std::string> chips_to_compare(const std::filesystem::path& file, const Scenario& original, const LoadOptions& base,
                                          const WhatIfRequest& request, std::optional<std::string>& reference,
                                          std::vector<std::pair<std::string, std::string>>& not_permitted) {
    std::vector<std::string> chips = request.chips;
    if (!chips.empty()) return chips;
    if (!request.rule) throw Error("a what-if needs chips or a rule", "give --chips h100,h800,h20 or --rule oct-2023");
    if (request.rule->memory_scope) throw Error(memory_scope_refusal(*request.rule), memory_scope_hint(*request.rule));
    const std::string own = catalog_id(original.cluster.chip);
    for (const auto& id : catalog_names(base.catalog_dir.empty() ? default_catalog_dir() : base.catalog_dir, "chips")) {
        const Classification c = classify(chip_as_set(file, base, original, id, request.overrides), *request.rule);
        if (permitted(c, *request.rule)) chips.push_back(id);
        else if (id != own) not_permitted.emplace_back(id, c.class_name);
    }
    if (chips.empty()) throw Error(fmt::format("rule set {} permits no catalog chip", request.rule->id), "name chips with --chips");
    if (const auto at = std::find(chips.begin(), chips.end(), own); at == chips.end()) {
        reference = own;
        chips.insert(chips.begin(), own);
    } else {
        std::rotate(chips.begin(), at, at + 1);  // first, as the help says, not in the catalog's order
    }
    return chips;
}

}  // namespace

ChipSwap chip_swap(const std::filesystem::path& file, const LoadOptions& base, const std::string& chip,
                   const std::vector<std::string>& extra, bool same_price, bool fit) {
    const Scenario original = load_scenario(file, with(base, extra));
    WhatIfRow row;
    row.chip = chip;
    const bool own = chip == catalog_id(original.cluster.chip);
    row.reference = own;
    Variant v = own ? (fit ? reference_variant(file, base, original.cluster.chip, extra) : Variant{extra, "", false})
                    : derive_variant(file, base, chip, extra, fit);
    WhatIfRequest request;
    request.same_price = same_price;
    price_variant(row, v, original, own ? original.cluster.chip : load_chip(chip, base.catalog_dir), request);
    ChipSwap swap;
    swap.overrides = std::move(v.overrides);
    swap.note = v.note;
    if (!row.price_note.empty()) {
        std::string range;
        // A price kept from the scenario that is a range there is drawn in every sample, so a median cost rests on the
        // range's median, not the nominal printed (an analyst's read: $2/GPU-hour beside a cost at $2.37).
        if (!row.price_note.starts_with("catalog")) {
            const ScenarioSampler sampler(file, with(base, swap.overrides));
            if (const UncertainInput* price = sampler.input("pricing.gpu_hour")) {
                // The cost judged is the median over the --samples drawn, so with few of them it moves (an audit: 10.39T
                // tokens for $5M at 20 samples, 11.15T at 200): said beside the range's own median.
                range = fmt::format(": nominal of {}, which each sample draws (the range's median ${:.2f}; the cost "
                                    "judged is the median over the samples drawn, which moves with --samples)",
                                    price->distribution_text(), price->quantile(0.5));
            }
        }
        swap.note += fmt::format("{}price ${}/GPU-hour ({}{})", swap.note.empty() ? "" : "; ", row.price_gpu_hour, row.price_note, range);
    }
    swap.price_gpu_hour = row.price_gpu_hour;
    return swap;
}

MemoryFit fit_swapped(const std::filesystem::path& file, const LoadOptions& base, const std::string& chip,
                      const std::vector<std::string>& extra, const std::vector<std::string>& overrides) {
    const Scenario original = load_scenario(file, with(base, extra));
    Variant v{overrides, "", false};
    if (chip == catalog_id(original.cluster.chip)) {
        v = reference_variant(file, base, original.cluster.chip, overrides);
    } else {
        std::vector<std::string> notes;
        fit_variant(file, base, extra, load_chip(chip, base.catalog_dir), v, notes);
    }
    return {std::move(v.overrides), std::move(v.note)};
}

// A catalog figure whose source's first label is [U] (an assumption), after any "as other.toml:" that carries it from
// another part: "[U] assumption …", "as l20.toml [U], …", "as h100-pcie.toml: [U] …". Only the label at the start
// was read before, so a part whose figure is another's assumption carried over was not flagged (an audit: the L2 and
// H800 PCIe beside the L20 and H100 PCIe, whose figures they copy). "[U/D]" and "[R range, U point]" are not [U].
namespace {
bool first_label_is_assumption(std::string_view source) {
    // The first label outside parentheses: "as b200.toml, the same silicon (… [U]): [R/D …]" is the B200's [R/D],
    // the parenthesis an aside about it.
    std::size_t open = std::string_view::npos;
    int depth = 0;
    for (std::size_t i = 0; i < source.size() && open == std::string_view::npos; ++i) {
        if (source[i] == '(') ++depth;
        else if (source[i] == ')' && depth > 0) --depth;
        else if (source[i] == '[' && depth == 0) open = i;
    }
    if (open == std::string_view::npos) return false;
    const std::string_view before = source.substr(0, open);
    if (!before.empty() && !before.starts_with("as ")) return false;  // a label inside the text, not the source's own
    return source.substr(open).starts_with("[U]");
}

// A phase whose GPU-hours are quoted (not simulated) was quoted on the scenario's chip: on another chip's row they are
// carried unchanged, said so (an audit: DeepSeek's "5K H800 GPU-hours" of post-training charged on an L2 unremarked).
void add_quoted_phase_caveats(WhatIfRow& row, const Scenario& original) {
    for (const PhaseSpec& ph : original.phases) {
        if (!ph.quoted_gpu_hours) continue;
        row.caveats.push_back(fmt::format("phase \"{}\" quotes {} GPU-hours (not simulated), carried unchanged from the "
                                          "scenario's chip to this one", ph.name, with_commas(*ph.quoted_gpu_hours)));
    }
}
}  // namespace

void fill_whatif_row(WhatIfRow& row, const RunEvaluation& ev) {
    const Scenario& s = ev.scenario;
    const StepResult& step = ev.headline_step();
    row.gpus = s.cluster.gpus;
    if (ev.nominal_ladder) {
        row.cost_basis = fmt::format("rung {}, {}", rung_number(ev.nominal_ladder->base), rung_title(ev.nominal_ladder->base));
    }
    const PhaseSpec* first = nullptr;
    for (const auto& ph : s.phases) {
        if (!ph.quoted_gpu_hours) {
            first = &ph;
            break;
        }
    }
    row.layout = first->parallel;
    row.step_time_s = step.step_time.value();
    row.mfu_bf16 = step.mfu_bf16_full;
    row.wall_clock_days = ev.nominal_wall_clock_days;
    row.gpu_hours = ev.nominal_gpu_hours;
    row.steady_state_gpu_hours = ev.simulated_gpu_hours();
    // The nominal run's (every input nominal), as `gpuhours run` prints it.
    row.cost_usd = ev.nominal_cost ? ev.nominal_cost->total.value() : 0.0;
    row.energy_mwh = ev.nominal_cost ? ev.nominal_cost->energy.value() / 3.6e9 : 0.0;
    row.verdicts = ev.verdicts;
    row.caveats = step_caveats(s);
    // A kernel figure that sets the chip's speed and is an assumption ([U]) taken at one value: the row's step and
    // verdicts rest on it with none of its uncertainty (a range, as the flagship gives its FP8 figure, is drawn).
    std::vector<std::string> assumed;  // "gemm_fp8 (0.54)", …
    for (const Assumption& a : s.assumptions) {
        constexpr std::string_view kPrefix = "cluster.chip.efficiency.";
        if (!a.key.starts_with(kPrefix) || !first_label_is_assumption(a.source)) continue;
        const std::string_view figure = std::string_view(a.key).substr(kPrefix.size());
        if (!figure.starts_with("gemm") && figure != "attention") continue;
        if (figure.starts_with("gemm_tile")) continue;  // the tile's grain, not a rate
        const bool drawn = std::any_of(ev.uncertain_inputs.begin(), ev.uncertain_inputs.end(),
                                       [&](const std::string& u) { return u.starts_with(a.key + " "); });
        if (!drawn) assumed.push_back(fmt::format("{} ({})", figure, a.value));
    }
    if (!assumed.empty()) {
        const bool one = assumed.size() == 1;
        row.caveats.push_back(fmt::format("its kernel efficienc{} {} {} (marked [U] at {} source), taken at one value: its "
                                          "step, days and claims' shares carry none of that uncertainty",
                                          one ? "y" : "ies", fmt::join(assumed, " and "),
                                          one ? "is an assumption, not a measurement" : "are assumptions, not measurements",
                                          one ? "its" : "their"));
    }
    row.samples = ev.options.samples;
    row.limiter_seconds = limiter_seconds(scenario_of_phase(s, *first), step);
    row.limiter = row.layout_rederived && row.layout_note.find("does not fit") != std::string::npos ? Limiter::memory_capacity
                                                                                                    : row.limiter_seconds.front().first;
}

WhatIfResult run_whatif(const std::filesystem::path& file, const LoadOptions& given_base, const WhatIfRequest& request,
                        const EvaluateOptions& given, const std::function<void(int, int)>& progress) {
    // The chips to compare are looked up where the scenario's own names are (`check` found them there).
    LoadOptions base = given_base;
    if (base.catalog_dir.empty()) base.catalog_dir = find_catalog_dir(file);
    // One step cache for every chip's variant and deadline probe (a probe that lands on a simulated count reuses it).
    EvaluateOptions options = given;
    if (!options.step_cache) options.step_cache = std::make_shared<StepCache>();
    options.break_evens = false;  // a row shows its claims' verdicts and shares, no break-evens
    WhatIfResult result;
    const Scenario original = load_scenario(file, with(base, request.overrides));
    result.scenario_title = original.title;
    result.deadline = request.deadline;
    if (request.rule) {
        result.rule = request.rule->id;
        result.rule_set = *request.rule;
    }
    std::optional<std::string> reference;
    const std::vector<std::string> chips = chips_to_compare(file, original, base, request, reference, result.not_permitted);
    // What the scenario's file writes for its own chip; a key the command's --set gives is the user's figure for
    // every chip, listed with the overrides instead.
    for (const std::string& key : original.sources.chip_overrides) {
        if (!set_by_user("cluster.chip." + key, base, request.overrides)) result.carried.push_back(key);
    }
    const std::string own = catalog_id(original.cluster.chip);
    // Progress in units of runs: one per chip, or with a deadline kDeadlineUnits per chip (its run, then one per
    // deadline run up to the chip's share: the search's length is not known ahead).
    constexpr int kDeadlineUnits = 40;
    const int units = request.deadline ? kDeadlineUnits : 1;
    const int total_units = static_cast<int>(chips.size()) * units;
    for (const std::string& chip : chips) {
        const int done_units = static_cast<int>(result.rows.size()) * units;
        WhatIfRow row;
        row.chip = chip;
        // The scenario's own chip, [cluster.chip] table and all, is not swapped for the catalog's: its row is the
        // headline run (evaluated as `run` evaluates it when the request says how: EvaluateOptions::samples).
        row.reference = (reference && chip == *reference) || chip == own;
        EvaluateOptions row_options = options;
        if (row.reference && request.own_samples) row_options.samples = *request.own_samples;
        const ChipProfile profile = row.reference ? original.cluster.chip : load_chip(chip, base.catalog_dir);  // unknown: ScenarioError
        row.chip_name = profile.display_name;
        if (request.rule) {
            const Classification c = classify(row.reference ? profile : chip_as_set(file, base, original, chip, request.overrides), *request.rule);
            row.classification = c.class_name;
            row.classification_reason = c.why();
            row.subject = c.subject;
            row.permitted = permitted(c, *request.rule);
        }
        try {
            Variant v = row.reference ? reference_variant(file, base, profile, request.overrides)
                                      : derive_variant(file, base, chip, request.overrides);
            price_variant(row, v, original, profile, request);
            row.layout_rederived = v.rederived;
            row.layout_note = v.note;
            row.chip_overrides = v.overrides;
            const LoadOptions variant_options = with(base, v.overrides);
            const RunEvaluation ev = evaluate_run(ScenarioSampler(file, variant_options), row_options);
            fill_whatif_row(row, ev);
            if (!row.reference) add_quoted_phase_caveats(row, original);
            if (request.deadline) {
                // Each probe's memory is judged at its own data degree (ZeRO shards over it): the swap without its
                // fit, priced as the row, then the probe's degrees, then fit_swapped; the row's own fit held at a
                // probe (more recomputation than a larger degree needs, or less than a smaller one's) misjudged it.
                Variant bare = row.reference ? Variant{request.overrides, "", false}
                                             : derive_variant(file, base, chip, request.overrides, /*fit=*/false);
                WhatIfRow priced = row;
                price_variant(priced, bare, original, profile, request);
                const std::string fit_chip = row.reference ? catalog_id(original.cluster.chip) : chip;
                const auto probe = [&](const std::vector<std::string>& scaled, std::string& error) -> std::optional<double> {
                    std::vector<std::string> o = bare.overrides;
                    o.insert(o.end(), scaled.begin(), scaled.end());
                    try {
                        o = fit_swapped(file, base, fit_chip, request.overrides, o).overrides;
                        EvaluateOptions probe_options = row_options;
                        probe_options.nominal_only = true;
                        return evaluate_run(ScenarioSampler(file, with(base, o)), probe_options).nominal_wall_clock_days;
                    } catch (const Error& e) {
                        error = e.one_line();
                        return std::nullopt;
                    }
                };
                const auto runs_done = [&](int runs) {
                    if (progress) progress(done_units + std::min(units - 1, 1 + runs), total_units);
                };
                runs_done(0);
                const DeadlineAnswer found =
                    search_deadline(ev.scenario, ev.nominal_wall_clock_days, in_days(*request.deadline),
                                    request.max_gpus, request.max_batch_tokens, probe, runs_done);
                if (found.plan) {
                    row.deadline_gpus = static_cast<int>(found.plan->gpus);
                    row.deadline_days = found.days;
                    row.deadline_layout = found.plan->summary;
                    row.deadline_overrides = found.plan->overrides;
                    // The answer's own memory fit, where it differs from the row's, so that chip_set + deadline_set
                    // re-run what the probe ran (a larger degree may need less recomputation, a smaller one more).
                    std::vector<std::string> o = bare.overrides;
                    o.insert(o.end(), found.plan->overrides.begin(), found.plan->overrides.end());
                    const Scenario at = load_scenario(file, with(base, fit_swapped(file, base, fit_chip, request.overrides, o).overrides));
                    if (at.parallel.recompute != ev.scenario.parallel.recompute) {
                        row.deadline_overrides.push_back(fmt::format("parallelism.recompute=\"{}\"", to_string(at.parallel.recompute)));
                    }
                    if (at.parallel.zero_stage != ev.scenario.parallel.zero_stage) {
                        row.deadline_overrides.push_back(fmt::format("parallelism.zero={}", at.parallel.zero_stage));
                    }
                }
                row.deadline_note = found.note;
            }
        } catch (const Error& e) {
            row.feasible = false;
            row.error = e.what();
        }
        result.rows.push_back(std::move(row));
        if (progress) progress(static_cast<int>(result.rows.size()) * units, total_units);
    }
    return result;
}

}  // namespace gpuhours
