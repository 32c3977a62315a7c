// `gpuhours plan`: the layout search (plan.hpp) on a scenario's model, cluster and [training], printed as the
// top N layouts, the scenario's own layout for comparison, what was rejected or pruned, and why the runner-up
// loses to the winner.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/training/kernel.hpp>
#include <gpuhours/report/schema.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/analysis/plan.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <ostream>

namespace gpuhours::cli {
namespace {

// --fix AXIS=V1,V2,…: restricts one axis of the search space.
void apply_fix(PlanSpace& space, const std::string& assignment) {
    const std::size_t eq = assignment.find('=');
    const std::vector<std::string> axes{"tensor", "pipeline", "context", "expert", "expert_tensor", "micro_batch", "virtual_stages",
                                        "schedule", "recompute"};
    if (eq == std::string::npos || eq == 0 || eq + 1 == assignment.size()) {
        throw Error(fmt::format("--fix {} is not AXIS=VALUES", assignment),
                    fmt::format("e.g. --fix tensor=8 or --fix schedule=1f1b,interleaved; axes: {}", fmt::join(axes, ", ")));
    }
    const std::string axis = assignment.substr(0, eq);
    const std::vector<std::string> values = split_list(assignment.substr(eq + 1), ',');
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (std::find(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(i), values[i]) != values.begin() + static_cast<std::ptrdiff_t>(i)) {
            throw Error(fmt::format("--fix {}: {} is listed twice", assignment, values[i]), "list each value once");
        }
    }
    auto ints = [&](std::vector<int>& into) {
        for (const auto& v : values) into.push_back(static_cast<int>(whole_number("--fix " + axis + "=", v, 1, 1 << 20)));
    };
    if (axis == "tensor") ints(space.tensor);
    else if (axis == "pipeline") ints(space.pipeline);
    else if (axis == "context") ints(space.context);
    else if (axis == "expert") ints(space.expert);
    else if (axis == "expert_tensor") ints(space.expert_tensor);
    else if (axis == "micro_batch") ints(space.micro_batch);
    else if (axis == "virtual_stages") ints(space.virtual_stages);
    else if (axis == "schedule") {
        for (const auto& v : values) {
            const auto sch = schedule_from_string(v);
            if (!sch) throw Error(fmt::format("--fix schedule={}: `{}` is not a schedule", values.size() == 1 ? v : assignment.substr(eq + 1), v),
                                  "schedules: gpipe, 1f1b, interleaved, zero-bubble, dualpipe");
            space.schedules.push_back(*sch);
        }
    } else if (axis == "recompute") {
        for (const auto& v : values) {
            const auto rc = recompute_from_string(v);
            if (!rc) throw Error(fmt::format("--fix recompute={}: `{}` is not a recompute mode", values.size() == 1 ? v : assignment.substr(eq + 1), v), "modes: none, selective, full");
            space.recompute.push_back(*rc);
        }
    } else {
        std::string hint = fmt::format("axes: {}", fmt::join(axes, ", "));
        for (const auto& known : axes) {
            if (edit_distance(axis, known) <= 2) hint = fmt::format("did you mean `{}`? ({})", known, hint);
        }
        throw Error(fmt::format("--fix: `{}` is not an axis of the layout search", axis), hint);
    }
}

// Fixes that the search would read and never use, or that no layout of this model can take: refused by name rather
// than answered with the unrestricted ranking or with "no layout passes the rules".
void check_fixes(const Scenario& s, const PlanSpace& space) {
    const auto beyond_one = [](const std::vector<int>& v) { return std::any_of(v.begin(), v.end(), [](int x) { return x > 1; }); };
    if (!s.model.moe) {
        if (beyond_one(space.expert)) {
            throw Error(fmt::format("--fix expert={}: {} has no routed experts to spread", fmt::join(space.expert, ","), s.model.display_name),
                        "leave --fix expert out (a dense model's expert degree is 1)");
        }
        if (!space.expert_tensor.empty()) {
            throw Error(fmt::format("--fix expert_tensor={}: {} has no routed experts", fmt::join(space.expert_tensor, ","), s.model.display_name),
                        "leave --fix expert_tensor out");
        }
    }
    if (beyond_one(space.virtual_stages)) {
        const bool one_stage = !space.pipeline.empty() && !beyond_one(space.pipeline);
        const bool no_interleaving = !space.schedules.empty() &&
                                     std::none_of(space.schedules.begin(), space.schedules.end(), [](Schedule x) { return x == Schedule::interleaved; });
        if (one_stage || no_interleaving) {
            throw Error(fmt::format("--fix virtual_stages={}: virtual stages split an interleaved schedule's pipeline stages, and {}",
                                    fmt::join(space.virtual_stages, ","),
                                    one_stage ? "--fix pipeline leaves one stage" : "--fix schedule leaves out interleaved"),
                        "leave --fix virtual_stages out, or fix a pipeline above 1 and a schedule that includes interleaved");
        }
    }
}

std::string schedule_cell(const ParallelLayout& l) {
    const std::string base =
        l.schedule == Schedule::interleaved ? fmt::format("interleaved×{}", l.virtual_stages) : std::string(to_string(l.schedule));
    return l.combined_1f1b ? base + "+combined" : base;
}

// Times in one unit per report: seconds, or milliseconds when the fastest step is under a second. Values that
// round to zero print unsigned.
struct TimeUnit {
    double scale = 1.0;
    const char* symbol = "s";
    explicit TimeUnit(Seconds fastest) {
        if (fastest.value() < 1.0) {
            scale = 1e3;
            symbol = "ms";
        }
    }
    [[nodiscard]] std::string text(Seconds t) const { return fmt::format("{:.3f} {}", clean(t), symbol); }
    [[nodiscard]] std::string signed_text(Seconds t) const { return fmt::format("{:+.3f} {}", clean(t), symbol); }
    [[nodiscard]] double clean(Seconds t) const {
        const double v = t.value() * scale;
        return std::fabs(v) < 0.0005 ? 0.0 : v;
    }
};

void add_row(report::Table& t, const std::string& rank, const PlanCandidate& c, Seconds best, const TimeUnit& unit) {
    const ParallelLayout& l = c.layout;
    const StepResult& r = *c.step;
    const Seconds behind = r.step_time - best;
    t.add_row({rank, std::to_string(l.tensor), std::to_string(l.context), std::to_string(l.pipeline), std::to_string(l.data),
               l.folds_experts() ? fmt::format("{} (ETP{})", l.expert, l.expert_tensor_degree()) : std::to_string(l.expert),
               std::to_string(l.micro_batch), schedule_cell(l), std::string(to_string(l.recompute)),
               unit.text(r.step_time), behind.value() > 0 ? fmt::format("+{:.1f}%", 100.0 * (behind / best)) : "—",
               fmt::format("{:.1f}%", 100.0 * r.mfu_bf16_full), format_bytes(c.fit->breakdown.total()),
               format_bytes(c.fit->headroom)});
}

void write_candidate_json(report::Json& j, const PlanCandidate& c) {
    const ParallelLayout& l = c.layout;
    j.field("tensor", l.tensor).field("context", l.context).field("pipeline", l.pipeline).field("data", l.data);
    j.field("expert", l.expert).field("expert_tensor", l.expert_tensor_degree()).field("micro_batch", l.micro_batch).field("schedule", to_string(l.schedule));
    j.field("virtual_stages", l.virtual_stages).field("recompute", to_string(l.recompute));
    j.field("combined_1f1b", l.combined_1f1b);
    j.field("moe_shared_expert_overlap", l.moe_shared_expert_overlap);
    j.field("tp_comm_overlap", l.tp_comm_overlap);
    if (l.context > 1) j.field("cp_comm_type", to_string(l.cp_comm_type));
    j.field("sequence_parallel", l.sequence_parallel).field("micro_batches_per_step", c.micro_batches);
    j.field("fate", to_string(c.fate));
    if (!c.reason.empty()) j.field("reason", c.reason);
    if (c.fit) {
        // Whole bytes, as check's capacity_bytes (a fraction of a byte came from the GiB capacities).
        j.field("memory_peak_bytes", static_cast<std::int64_t>(std::ceil(c.fit->breakdown.total().value())));
        j.field("memory_headroom_bytes", static_cast<std::int64_t>(std::floor(c.fit->headroom.value())));
    }
    if (c.fate == CandidateFate::simulated || c.fate == CandidateFate::pruned_by_bound ||
        c.fate == CandidateFate::failed_in_simulation) {
        j.field("lower_bound_s", c.lower_bound.value());
    }
    if (c.step) {
        const StepResult& r = *c.step;
        j.field("step_time_s", r.step_time.value()).field("mfu_causal", r.mfu_causal).field("mfu_bf16_full", r.mfu_bf16_full);
        j.key("breakdown_s").begin_object();
        j.field("compute", r.breakdown.compute.value()).field("recompute", r.breakdown.recompute.value());
        j.field("optimizer", r.breakdown.optimizer.value()).field("bubble", r.breakdown.bubble.value());
        for (CommAxis a : kCommAxes) {
            j.field(fmt::format("exposed_{}", to_string(a)), r.breakdown.exposed[static_cast<std::size_t>(a)].value());
        }
        j.end_object();
    }
}

// --json: the search's counts, the top layouts, the scenario's own layout and why the runner-up loses.
void write_json(const Scenario& s, const PlanResult& result, std::ostream& out) {
    const PlanCounts& n = result.counts;
    const PlanCandidate& own = result.scenario();
    report::Json j;
    j.begin_object().field("schema_version", report::kJsonSchemaVersion).field("title", s.title);
    j.field("gpus", s.cluster.gpus);
    chip_json(j, s);  // the catalog id and what the scenario changes, as sweep and check write it ("h100 (modified)" before)
    j.field("model", s.model.id);
    j.field("sequence_length", s.training.sequence_length).field("global_batch", s.training.global_batch);
    j.field("mfu_peak_precision", to_string(s.training.precision.compute));
    j.key("counts").begin_object();
    j.field("enumerated", static_cast<std::int64_t>(n.enumerated));
    j.field("rejected_by_rule", static_cast<std::int64_t>(n.rejected_by_rule));
    j.field("rejected_by_memory", static_cast<std::int64_t>(n.rejected_by_memory));
    j.field("pruned_by_bound", static_cast<std::int64_t>(n.pruned_by_bound));
    j.field("failed_in_simulation", static_cast<std::int64_t>(n.failed_in_simulation));
    j.field("simulated", static_cast<std::int64_t>(n.simulated));
    j.end_object();
    j.key("top").begin_array();
    for (std::size_t k = 0; k < std::min<std::size_t>(result.ranking.size(), static_cast<std::size_t>(result.top)); ++k) {
        j.begin_object().field("rank", static_cast<std::int64_t>(k + 1));
        write_candidate_json(j, result.candidates[result.ranking[k]]);
        j.end_object();
    }
    j.end_array();
    j.key("scenario_layout").begin_object();
    j.field("in_search_space", result.scenario_in_space);
    if (result.scenario_rank) j.field("rank", static_cast<std::int64_t>(*result.scenario_rank));
    else j.key("rank").null();
    // No rank at all for a layout that was not simulated (infeasible, or failed in simulation): null, not 0.
    if (own.step) j.field("rank_at_least", static_cast<std::int64_t>(result.scenario_rank_at_least));
    else j.key("rank_at_least").null();
    write_candidate_json(j, own);
    j.end_object();
    j.key("runner_up");
    if (result.runner_up) {
        const RunnerUpExplanation& why = *result.runner_up;
        j.begin_object().field("step_time_difference_s", why.difference.value());
        j.field("largest_term", why.terms[why.largest].term);
        j.key("terms_s").begin_array();
        for (const auto& t : why.terms) {
            j.begin_object().field("term", t.term).field("winner", t.winner.value()).field("runner_up", t.runner_up.value());
            j.field("difference", t.difference().value()).end_object();
        }
        j.end_array();
        j.key("changes").begin_array();
        for (const auto& c : why.changes) j.value(c);
        j.end_array().end_object();
    } else {
        j.null();
    }
    j.end_object();
    out << j.str();
}

// The text report: the ranking table, the scenario's own layout and the candidate counts.
// Why candidates were refused (a researcher's read: "45 rejected by rule, 63 by memory" named neither): the rules
// broken most often, counted over their wording with the numbers taken out, each with one candidate's own message;
// and the candidate that came closest to fitting, with what it needs.
void print_refusals(const PlanResult& result, std::ostream& out) {
    std::map<std::string, std::pair<int, std::string>> rules;  // wording without numbers → count, an example
    const PlanCandidate* closest = nullptr;
    for (const PlanCandidate& c : result.candidates) {
        if (c.scenario_layout && !result.scenario_in_space) continue;
        if (c.fate == CandidateFate::rejected_by_rule) {
            std::string key;
            for (std::size_t i = 0; i < c.reason.size(); ++i) {
                const bool digit = c.reason[i] >= '0' && c.reason[i] <= '9';
                if (!digit) key += c.reason[i];
                else if (key.empty() || key.back() != '#') key += '#';
            }
            auto& [count, example] = rules[key];
            if (count++ == 0) example = c.reason;
        } else if (c.fate == CandidateFate::rejected_by_memory && c.fit) {
            const auto over = [](const PlanCandidate& x) { return x.fit->breakdown.total() - x.fit->capacity; };
            if (closest == nullptr || over(c) < over(*closest)) closest = &c;
        }
    }
    std::vector<std::pair<int, std::string>> by_count;
    for (const auto& [key, entry] : rules) by_count.emplace_back(entry.first, entry.second);
    std::stable_sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (std::size_t i = 0; i < by_count.size() && i < 3; ++i) {
        out << fmt::format("  refused by rule ({} {}): {}\n", by_count[i].first, by_count[i].first == 1 ? "layout" : "layouts",
                           by_count[i].second);
    }
    if (by_count.size() > 3) out << fmt::format("  … and {} other rule{}\n", by_count.size() - 3, by_count.size() == 4 ? "" : "s");
    if (closest != nullptr) {
        const MemoryBreakdown& m = closest->fit->breakdown;
        const auto largest = m.largest_term();
        out << fmt::format("  closest to fitting: {} needs {} per GPU on pipeline rank {} ({} over; largest term {}, {})\n",
                           describe_layout(closest->layout), format_bytes(m.total()), m.stage,
                           format_bytes(m.total() - closest->fit->capacity), largest.name, format_bytes(largest.bytes));
    }
}

void print_ranking(const Scenario& s, const PlanResult& result, std::ostream& out) {
    const PlanCounts& n = result.counts;
    const PlanCandidate& own = result.scenario();
    const auto& p = s.parallel;
    out << fmt::format("layout search: {}\n", s.title);
    out << fmt::format("{} × {}, {}, sequence {}, global batch {}; kept from the scenario: ZeRO {}, {} compute, order {}, "
                       "sequence parallel {}{}{}{}{}{}{}\n\n",
                       s.cluster.gpus, s.cluster.chip.display_name, s.model.display_name, s.training.sequence_length,
                       s.training.global_batch, p.zero_stage, to_string(s.training.precision.compute), p.order,
                       p.sequence_parallel ? "on (off where tensor = 1)" : "off",
                       p.tp_comm_overlap ? fmt::format(", TP communication overlap with {} SMs (where sequence parallel)", p.tp_comm_overlap_sms)
                                         : std::string(),
                       p.combined_1f1b ? ", combined 1F1B (where the schedule takes it: interleaved, or 1F1B on one stage, "
                                         "with expert > 1)"
                                       : "",
                       p.moe_shared_expert_overlap ? ", shared experts beside the all-to-all (where expert > 1, not under DualPipe)" : "",
                       s.model.moe ? fmt::format(", the {} token dispatcher", to_string(p.moe_dispatcher)) : std::string(),
                       describe_gradient_accumulation(s.training.gradient_accumulation, s.training.precision, ", "),
                       p.recompute_num_layers > 0
                           ? fmt::format(", full recomputation of the first {} layer{} of each chunk (where recompute = full)",
                                         p.recompute_num_layers, p.recompute_num_layers == 1 ? "" : "s")
                           : std::string());
    if (result.ranking.empty()) {
        out << "no layout in the search space passes the rules and fits in memory";
        if (n.failed_in_simulation > 0) out << fmt::format(" and simulates ({} failed in simulation)", n.failed_in_simulation);
        out << "\n";
    } else {
        const Seconds best = result.best().step->step_time;
        const TimeUnit unit(best);
        report::Table t({"rank", "TP", "CP", "PP", "DP", "EP", "mb", "schedule", "recompute", "step time", "vs best", "MFU",
                         "memory/GPU", "headroom"});
        for (std::size_t k = 0; k < std::min<std::size_t>(result.ranking.size(), static_cast<std::size_t>(result.top)); ++k) {
            const PlanCandidate& c = result.candidates[result.ranking[k]];
            add_row(t, fmt::format("{}{}", k + 1, c.scenario_layout ? " (scenario)" : ""), c, best, unit);
        }
        if (own.step) {
            const std::string rank = result.scenario_rank ? fmt::format("{}", *result.scenario_rank)
                                                          : fmt::format("≥{}", result.scenario_rank_at_least);
            if (!result.scenario_in_space) {
                add_row(t, fmt::format("{} (scenario, outside the space)", rank), own, best, unit);
            } else if (!result.scenario_rank || *result.scenario_rank > static_cast<std::size_t>(result.top)) {
                add_row(t, fmt::format("{} (scenario)", rank), own, best, unit);
            }
        }
        out << t.render();
        out << fmt::format("MFU: full-attention model FLOPs over the BF16 peak, as run's headline (--json also has it causal, "
                           "`mfu_causal`, over the {} peak); memory: the worst pipeline rank, of {} per GPU\n",
                           to_string(s.training.precision.compute), format_bytes(s.cluster.chip.memory_capacity));
    }
    const TimeUnit unit(result.ranking.empty() ? Seconds(1.0) : result.best().step->step_time);
    out << fmt::format("\nscenario's layout ({}{}): ", describe_layout(own.layout), result.scenario_in_space ? "" : ", outside the search space");
    if (own.step) {
        const char* verb = result.scenario_in_space ? "rank" : "would rank";
        if (!result.scenario_in_space && result.ranking.empty()) {
            out << fmt::format("no feasible layout of the search space to rank it among, {}\n", unit.text(own.step->step_time));
        } else if (result.scenario_rank) {
            out << fmt::format("{} {} {} {} feasible layouts, {}\n", verb, *result.scenario_rank, result.scenario_in_space ? "of" : "among the",
                               n.simulated + n.pruned_by_bound, unit.text(own.step->step_time));
        } else {
            out << fmt::format("{} {} or lower, {}\n", verb, result.scenario_rank_at_least, unit.text(own.step->step_time));
        }
    } else {
        out << fmt::format("{}: {}\n", own.fate == CandidateFate::failed_in_simulation ? "fails in simulation" : "infeasible", own.reason);
    }
    out << fmt::format("candidates: {} enumerated; {} rejected by rule, {} by memory; {} pruned by bound; {} simulated{}\n",
                       n.enumerated, n.rejected_by_rule, n.rejected_by_memory, n.pruned_by_bound, n.simulated,
                       n.failed_in_simulation > 0 ? fmt::format(" ({} failed in simulation)", n.failed_in_simulation) : "");
    print_refusals(result, out);
}

// Why the runner-up loses: the step-time terms of the two best layouts side by side.
void print_runner_up(const PlanResult& result, std::ostream& out) {
    if (!result.runner_up) return;
    const TimeUnit unit(result.best().step->step_time);
    const RunnerUpExplanation& why = *result.runner_up;
    const PlanCandidate& winner = result.best();
    const PlanCandidate& second = result.candidates[result.ranking[1]];
    out << fmt::format("\nwhy the runner-up loses: {} takes {} longer than {} ({:.2f}%)",
                       describe_layout(second.layout), unit.text(why.difference), describe_layout(winner.layout),
                       100.0 * (why.difference / winner.step->step_time));
    if (!why.changes.empty()) out << fmt::format("; it changes {}", fmt::join(why.changes, ", "));
    out << "\n";
    report::Table t({"term (mean per GPU)", "winner", "runner-up", "difference"});
    for (std::size_t k = 0; k < why.terms.size(); ++k) {
        const TermDifference& d = why.terms[k];
        if (d.winner.value() == 0 && d.runner_up.value() == 0) continue;
        t.add_row({d.term + (k == why.largest && d.difference().value() > 0 ? "  ← largest" : ""), unit.text(d.winner),
                   unit.text(d.runner_up), unit.signed_text(d.difference())});
    }
    out << t.render();
    if (why.difference.value() > 0 && why.terms[why.largest].difference().value() > 0) {
        out << fmt::format("the largest difference is {} ({})\n", why.terms[why.largest].term,
                           unit.signed_text(why.terms[why.largest].difference()));
    } else {
        out << "the two layouts tie; the order is by layout key\n";
    }
}

// `text` inside single quotes for a POSIX shell ('…'\''…' for a quote in it).
std::string shell_quoted(const std::string& text) {
    std::string out = "'";
    for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// The --set arguments that make the scenario's layout `l`: every field enumerate_layouts (plan.cpp) sets on a
// candidate that differs from the scenario's. nullopt when a difference has no --set form here (a layer split or a
// recompute module list the candidate drops: the scenario needs editing).
std::optional<std::vector<std::string>> layout_sets(const ParallelLayout& l, const ParallelLayout& p) {
    std::vector<std::string> sets;
    const auto number = [&](const char* key, int mine, int theirs) {
        if (mine != theirs) sets.push_back(fmt::format("parallelism.{}={}", key, mine));
    };
    const auto flag = [&](const char* key, bool mine, bool theirs) {
        if (mine != theirs) sets.push_back(fmt::format("parallelism.{}={}", key, mine));
    };
    number("tensor", l.tensor, p.tensor);
    number("context", l.context, p.context);
    number("pipeline", l.pipeline, p.pipeline);
    number("data", l.data, p.data);
    number("expert", l.expert, p.expert);
    number("expert_tensor", l.expert_tensor_degree(), p.expert_tensor_degree());  // 0 stands for "as tensor"
    number("micro_batch", l.micro_batch, p.micro_batch);
    if (l.schedule != p.schedule) sets.push_back(fmt::format("parallelism.schedule=\"{}\"", to_string(l.schedule)));
    number("virtual_stages", l.virtual_stages, p.virtual_stages);  // whatever the schedule (DualPipe after interleaved×2)
    if (l.recompute != p.recompute) sets.push_back(fmt::format("parallelism.recompute=\"{}\"", to_string(l.recompute)));
    number("recompute_num_layers", l.recompute_num_layers, p.recompute_num_layers);
    flag("sequence_parallel", l.sequence_parallel, p.sequence_parallel);
    flag("tp_comm_overlap", l.tp_comm_overlap, p.tp_comm_overlap);
    flag("combined_1f1b", l.combined_1f1b, p.combined_1f1b);
    flag("moe_shared_expert_overlap", l.moe_shared_expert_overlap, p.moe_shared_expert_overlap);
    if (l.recompute_modules != p.recompute_modules || l.layers_per_chunk != p.layers_per_chunk) return std::nullopt;
    return sets;
}

// How to run the best layout: its --set arguments, with each phase that writes its own degrees given the data
// degree its GPUs leave under them (the search is over the first phase's batch and sequence; a phase's own degrees
// are kept). Checked as `run` would take them (the layout rules and every phase's memory), and that they give rank
// 1's layout; where they cannot, says why. A search printed rank 1 as PP8 DP256 EP256 for the flagship, whose
// context-extension phases then failed `check` until their data degrees were set (an audit of plan, session 52).
void print_how_to_run(const std::string& file, const ParsedArgs& args, const Scenario& s, const PlanResult& result, std::ostream& out) {
    if (result.ranking.empty() || result.best().scenario_layout) return;
    const ParallelLayout& l = result.best().layout;
    const ParallelLayout& p = s.parallel;
    const auto own = layout_sets(l, p);
    if (!own) {
        out << "\nrank 1 cannot be written as --set arguments over this scenario: it drops the scenario's layer split or "
               "recompute module list; edit the scenario's [parallelism] to run it\n";
        return;
    }
    std::vector<std::string> sets = *own;
    bool phases = false;
    for (std::size_t i = 0; s.phases_given && i < s.phases.size(); ++i) {
        const PhaseSpec& ph = s.phases[i];
        if (ph.quoted_gpu_hours) continue;
        const ParallelLayout& q = ph.parallel;
        if (q.data == p.data && q.context == p.context && q.tensor == p.tensor && q.pipeline == p.pipeline) continue;
        // A degree the phase writes differs from the scenario's: kept; the others follow the layout.
        const long long ranks = 1LL * (q.tensor != p.tensor ? q.tensor : l.tensor) * (q.context != p.context ? q.context : l.context) *
                                (q.pipeline != p.pipeline ? q.pipeline : l.pipeline);
        if (s.cluster.gpus % ranks != 0) {
            out << fmt::format("\nrank 1's layout does not carry to phase \"{}\": its model-parallel ranks ({}) do not divide {} GPUs; "
                               "give that phase a layout of its own to run it\n", ph.name, ranks, s.cluster.gpus);
            return;
        }
        sets.push_back(fmt::format("phases.{}.parallelism.data={}", i, s.cluster.gpus / ranks));
        phases = true;
    }
    LoadOptions options = load_options(args);
    options.overrides.insert(options.overrides.end(), sets.begin(), sets.end());
    try {
        const Scenario with = load_scenario(file, options);
        const ParallelLayout& w = with.parallel;
        // What the line runs is rank 1 (a field the reader derives otherwise would run another step, unsaid).
        if (layout_key(w) != layout_key(l) || w.sequence_parallel != l.sequence_parallel || w.tp_comm_overlap != l.tp_comm_overlap ||
            w.combined_1f1b != l.combined_1f1b || w.moe_shared_expert_overlap != l.moe_shared_expert_overlap ||
            w.recompute_num_layers != l.recompute_num_layers || w.expert_tensor_degree() != l.expert_tensor_degree()) {
            out << fmt::format("\nrank 1 cannot be written as --set arguments over this scenario: they read back as {}\n", describe_layout(w));
            return;
        }
        require_every_phase_fits(with);
    } catch (const Error& e) {
        out << fmt::format("\nrank 1 written as --set arguments is refused{}: {}\n", phases ? " (with its phases' data degrees)" : "",
                           e.one_line());
        return;
    }
    std::string flags;  // the search's own --catalog and --set first, as given
    if (args.has("--catalog")) flags += " --catalog " + shell_quoted(args.get("--catalog"));
    for (const auto& set : args.get_all("--set")) flags += " --set " + shell_quoted(set);
    for (const auto& set : sets) flags += " --set " + shell_quoted(set);
    out << fmt::format("\nto run rank 1{}: gpuhours run {}{}\n",
                       phases ? " (the search is over the first phase; the phases that set their own degrees keep them, with the data degree their GPUs leave)" : "",
                       shell_quoted(file), flags);
}

}  // namespace

int cmd_plan(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "plan");
    const std::string& file = single_positional(args, "plan", "SCENARIO");
    PlanOptions options;
    if (args.has("--top")) options.top = static_cast<int>(whole_number("--top", args.get("--top"), 1, 1000));
    if (args.has("--threads")) options.threads = static_cast<unsigned>(whole_number("--threads", args.get("--threads"), 1, 1024));
    // Every feasible layout is simulated unless asked (#13 item 5: plan simulates what it ranks; exact ranks).
    if (args.has("--prune") && args.has("--exhaustive")) {
        throw Error("--prune and --exhaustive contradict each other", "give one: --exhaustive is the default");
    }
    options.prune = args.has("--prune");
    std::vector<std::string> fixed;  // one --fix per axis: a second was added to the first's values silently
    for (const auto& fix : args.get_all("--fix")) {
        const std::string axis = fix.substr(0, fix.find('='));
        if (std::find(fixed.begin(), fixed.end(), axis) != fixed.end()) {
            throw Error(fmt::format("--fix {}: {} is fixed twice", fix, axis),
                        fmt::format("give each axis one --fix with all its values: --fix {}=V1,V2", axis));
        }
        fixed.push_back(axis);
        apply_fix(options.space, fix);
    }
    const Scenario s = load_scenario(file, load_options(args));
    check_fixes(s, options.space);
    // A search can take minutes: the layouts settled (simulated, or pruned by their bound) of those that passed the
    // rules and the memory check, as every long command shows its work (a bar with an estimate on a terminal, a
    // line per tenth otherwise; --quiet silences it); never in the report.
    ProgressBar progress("plan: layouts simulated", args);
    options.on_progress = [&](std::size_t done, std::size_t total) {
        progress.update(static_cast<double>(done), static_cast<int>(std::min<std::size_t>(total, std::numeric_limits<int>::max())));
    };
    const PlanResult result = plan_layouts(s, options);
    if (const auto fixes = args.get_all("--fix"); result.counts.enumerated == 0 && !fixes.empty()) {
        // The --fix values emptied the space (unrestricted, it holds at least the all-data layout): a mistake in them.
        throw Error(fmt::format("{}: the layout search holds no layout of {} GPUs with {}",
                                fmt::format("--fix {}", fmt::join(fixes, " --fix ")), s.cluster.gpus,
                                fixes.size() == 1 ? "that value" : "those values together"),
                    "fix degrees whose product can make the GPU count and that divide the model's heads, layers and "
                    "experts, a schedule the pipeline degree allows (interleaved and DualPipe need stages), or fewer axes");
    }
    if (args.has("--json")) {
        write_json(s, result, out);
        return 0;
    }
    print_ranking(s, result, out);
    print_runner_up(result, out);
    print_how_to_run(file, args, s, result, out);
    return 0;
}

}  // namespace gpuhours::cli
