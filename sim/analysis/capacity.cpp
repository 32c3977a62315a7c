// `gpuhours capacity` (include/gpuhours/analysis/capacity.hpp): the most tokens a cluster trains by a deadline,
// and the largest model of a family it trains to a token target.
#include <gpuhours/analysis/capacity.hpp>

#include <gpuhours/analysis/deadline.hpp>
#include <gpuhours/analysis/whatif.hpp>
#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/workload/workload.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <climits>
#include <memory>
#include <numeric>

namespace gpuhours {
namespace {

LoadOptions with(const LoadOptions& base, const std::vector<std::string>& overrides) {
    LoadOptions o = base;
    o.overrides.insert(o.overrides.end(), overrides.begin(), overrides.end());
    return o;
}

// The first phase that is simulated, and its index; nullptr when every phase quotes its GPU-hours.
const PhaseSpec* first_simulated(const Scenario& s, std::size_t& index) {
    for (index = 0; index < s.phases.size(); ++index) {
        if (!s.phases[index].quoted_gpu_hours) return &s.phases[index];
    }
    return nullptr;
}

// One forward simulation at a token count.
struct Probe {
    double tokens = 0.0, days = 0.0, cost = 0.0, gpu_hours = 0.0;
};

struct Limits {
    double days = 0.0;
    std::optional<double> budget;
    // The larger of wall clock / deadline and cost / budget: at most 1 meets both.
    [[nodiscard]] double load(const Probe& p) const { return std::max(p.days / days, budget ? p.cost / *budget : 0.0); }
    [[nodiscard]] bool meets(const Probe& p) const { return load(p) <= 1.0; }
    [[nodiscard]] std::string bound(const Probe& p) const { return budget && p.cost / *budget > p.days / days ? "budget" : "deadline"; }
    // The limits `p` passes: "deadline", "budget" or both.
    [[nodiscard]] std::string exceeded(const Probe& p) const {
        const bool late = p.days > days;
        const bool dear = budget && p.cost > *budget;
        return late && dear ? "deadline and the budget" : dear ? "budget" : "deadline";
    }
};

Probe evaluate_at(const std::filesystem::path& file, const LoadOptions& base, const std::vector<std::string>& plan,
                  const std::string& key, double tokens, const EvaluateOptions& options) {
    std::vector<std::string> o = plan;
    o.push_back(fmt::format("{}={:.0f}", key, tokens));
    EvaluateOptions run_options = options;
    run_options.judge_claims = false;
    const RunEvaluation ev = evaluate_run(ScenarioSampler(file, with(base, o)), run_options);
    // Days and cost both on the samples' median, so that a deadline and a budget are judged on one basis (the cost
    // was the nominal run's: a "$5M" answer whose median run cost $5.9M, an analyst's read).
    return {std::round(tokens), ev.wall_clock_days_spread.p50, ev.nominal_cost ? ev.cost_spread.p50 : 0.0,
            ev.gpu_hours_spread.p50};
}

// The next token count to try: where a line through the last two probes (through the origin with one) reaches
// the limits, aimed a little inside them, kept within the bracket found so far; and once the most tokens that meet
// are close to it, the count just past them that should not.
double next_tokens(const std::vector<Probe>& probes, const Limits& limits, const std::optional<Probe>& lo,
                   const std::optional<Probe>& hi, double precision) {
    const Probe& b = probes.back();
    double target = b.tokens / limits.load(b);
    if (probes.size() >= 2) {
        const Probe& a = probes[probes.size() - 2];
        const double slope = (limits.load(b) - limits.load(a)) / (b.tokens - a.tokens);
        if (slope > 0 && std::isfinite(slope)) target = b.tokens + (1.0 - limits.load(b)) / slope;
    }
    if (lo && target < lo->tokens * (1 + precision)) return lo->tokens * (1 + precision * 0.999);
    if (hi && target >= hi->tokens) target = hi->tokens / (1 + precision * 0.5);
    target *= 1 - precision * 0.25;
    if (lo && hi && (target <= lo->tokens || target >= hi->tokens)) target = std::sqrt(lo->tokens * hi->tokens);
    return target;
}

// `step_tokens`: one step of the first phase (global batch × sequence length), the fewest tokens a run trains: no
// probe goes below it (the scenario would refuse it, and the search would report that refusal as its answer).
void search_tokens(TokenCapacity& row, const std::filesystem::path& file, const LoadOptions& base, const Limits& limits,
                   double own_tokens, double step_tokens, double precision, const EvaluateOptions& options) {
    std::vector<Probe> probes;
    std::optional<Probe> lo, hi;  // the most tokens that meet, the fewest that do not
    double tokens = own_tokens;
    for (int i = 0; i < 40; ++i) {
        tokens = std::max(tokens, step_tokens);
        const Probe p = evaluate_at(file, base, row.plan.overrides, row.tokens_key, tokens, options);
        probes.push_back(p);
        if (limits.meets(p)) {
            if (!lo || p.tokens > lo->tokens) lo = p;
        } else if (!hi || p.tokens < hi->tokens) {
            hi = p;
        }
        if (lo && hi && hi->tokens <= lo->tokens * (1 + precision)) break;
        if (!lo && hi && hi->tokens < own_tokens * 1e-6) break;  // not even a millionth of the scenario's tokens
        if (!lo && hi && hi->tokens <= step_tokens) break;       // not even one step
        if (lo && lo->tokens >= gpuhours::limits::kTokensMax) break;  // the supported range's end meets the limits
        tokens = std::round(next_tokens(probes, limits, lo, hi, precision));
        if (lo && tokens <= lo->tokens) tokens = lo->tokens + 1;
        tokens = std::min(tokens, gpuhours::limits::kTokensMax);  // a run is not evaluated past the range (scenario/limits.hpp)
    }
    row.probes = static_cast<int>(probes.size());
    if (!lo) {
        row.note = fmt::format("not even {} tokens{} meet the {}: {:.1f} days, ${}", format_count(hi->tokens),
                               hi->tokens <= step_tokens ? " (one step of the first phase)" : "", limits.bound(*hi),
                               hi->days, hi->cost >= 100 ? with_commas(hi->cost) : fmt::format("{:.2f}", hi->cost));
        return;
    }
    row.feasible = true;
    row.tokens = lo->tokens;
    row.days = lo->days;
    row.cost_usd = lo->cost;
    row.gpu_hours = lo->gpu_hours;
    const Probe& first = probes.front();
    row.linearity = (lo->days / lo->tokens) / (first.days / first.tokens);
    if (hi) {
        row.tokens_over = hi->tokens;
        row.days_over = hi->days;
        row.cost_over_usd = hi->cost;
        row.bound = limits.bound(*hi);
    }
    if (!hi && lo->tokens >= gpuhours::limits::kTokensMax) {
        row.note = fmt::format("{} tokens, the end of the supported range of token counts, meet the {} already ({:.1f} days): "
                               "the most is beyond what the simulator evaluates",
                               format_count(lo->tokens), limits.budget ? "deadline and budget" : "deadline", lo->days);
    } else if (!hi || hi->tokens > lo->tokens * (1 + precision)) {
        row.note = fmt::format("the search stopped after {} runs without closing within {:.0f}%", row.probes, 100 * precision);
    }
}

TokenCapacity tokens_for_chip(const std::filesystem::path& file, const LoadOptions& base, const CapacityRequest& request,
                              const std::string& chip, const Limits& limits, const EvaluateOptions& options) {
    TokenCapacity row;
    row.chip = chip;
    try {
        row.chip_name = load_chip(chip, base.catalog_dir).display_name;
        row.plan = plan_capacity(file, base, chip, request.gpus, request.overrides, request.max_batch_tokens, request.same_price);
        const Scenario s = load_scenario(file, with(base, row.plan.overrides));
        std::size_t index = 0;
        const PhaseSpec* first = first_simulated(s, index);
        if (first->by_steps) {
            throw Error(fmt::format("the first simulated phase, \"{}\", is given in steps", first->name),
                        "give it `tokens` so that capacity can vary them");
        }
        row.tokens_key = s.phases_given ? fmt::format("phases.{}.tokens", index) : "training.tokens";
        const double step_tokens = static_cast<double>(first->training.global_batch) * first->training.sequence_length;
        search_tokens(row, file, base, limits, first->tokens, step_tokens, request.precision, options);
    } catch (const Error& e) {
        row.feasible = false;
        row.note = e.one_line();
    }
    return row;
}

// The other simulated phases of `original` on the rung's GPUs: a phase with its own data and context degrees (the
// flagship's context extensions, context × data = 8 × 16 and 32 × 4 beside pre-training's 1 × 128) keeps its
// context and takes the data degree that gives the first phase's context × data (`ranks`), its batch rounded up to
// whole micro-batches per replica; a context that does not divide it is cut to their greatest common divisor.
void rung_phases(const Scenario& original, std::size_t first, long long ranks, std::vector<std::string>& extra) {
    if (!original.phases_given) return;
    for (std::size_t i = 0; i < original.phases.size(); ++i) {
        const PhaseSpec& ph = original.phases[i];
        if (i == first || ph.quoted_gpu_hours) continue;
        const ParallelLayout& l = ph.parallel;
        if (l.data == original.parallel.data && l.context == original.parallel.context) continue;  // [parallelism]'s
        const long long context = std::gcd(static_cast<long long>(l.context), ranks);
        const long long data = ranks / context;
        if (context != l.context) extra.push_back(fmt::format("phases.{}.parallelism.context={}", i, context));
        extra.push_back(fmt::format("phases.{}.parallelism.data={}", i, data));
        const long long unit = data * l.micro_batch;
        const long long batch = (ph.training.global_batch + unit - 1) / unit * unit;
        if (batch != ph.training.global_batch) extra.push_back(fmt::format("phases.{}.global_batch={}", i, batch));
    }
}

RungCapacity rung_on_chip(const std::filesystem::path& file, const LoadOptions& base, const CapacityRequest& request,
                          const std::string& chip, const FamilyRung& rung, const Limits& limits, const EvaluateOptions& options) {
    RungCapacity out;
    out.model = rung.model;
    try {
        const Scenario original = load_scenario(file, with(base, request.overrides));
        std::size_t index = 0;
        if (first_simulated(original, index) == nullptr) throw Error("every phase quotes its GPU-hours: there is nothing to train");
        const ParallelLayout& p = original.phases[index].parallel;
        // The rung's model and degrees at the smallest data degree to re-plan from: whole nodes (a multiple of
        // gpus_per_node / gcd(gpus_per_node, ranks per replica)) that the experts divide (a multiple of
        // expert / gcd(expert, context); folded, expert × expert_tensor must divide tensor × context × data: a
        // multiple of that product / gcd(it, tensor × context)), with [training]'s batch rounded up to whole
        // micro-batches per replica. The phases share [parallelism] (a phase with its own degrees keeps them).
        const long long ranks = 1LL * p.context * rung.tensor * rung.pipeline;
        const long long gpn = original.cluster.gpus_per_node;
        const bool folded = rung.expert_tensor > 0 && rung.expert_tensor != rung.tensor;
        const long long experts = folded ? 1LL * rung.expert * rung.expert_tensor : rung.expert;
        const long long beside = folded ? 1LL * rung.tensor * p.context : p.context;
        const long long data = std::lcm(gpn / std::gcd(gpn, ranks), experts / std::gcd(experts, beside));
        const long long unit = data * p.micro_batch;
        const long long batch = (original.training.global_batch + unit - 1) / unit * unit;
        std::vector<std::string> extra = request.overrides;
        extra.push_back(fmt::format("model=\"{}\"", rung.model));
        extra.push_back(fmt::format("parallelism.tensor={}", rung.tensor));
        extra.push_back(fmt::format("parallelism.pipeline={}", rung.pipeline));
        extra.push_back(fmt::format("parallelism.expert={}", rung.expert));
        if (rung.expert_tensor > 0) extra.push_back(fmt::format("parallelism.expert_tensor={}", rung.expert_tensor));
        if (rung.tensor == 1) extra.push_back("parallelism.sequence_parallel=false");  // it shards over the TP group
        extra.push_back(fmt::format("parallelism.data={}", data));
        extra.push_back(fmt::format("cluster.gpus={}", data * ranks));
        if (batch != original.training.global_batch) extra.push_back(fmt::format("training.global_batch={}", batch));
        // A schedule that needs stages (DualPipe pairs them; interleaving splits them) runs 1F1B on the rung's one.
        if (rung.pipeline == 1 && (p.schedule == Schedule::dualpipe || p.schedule == Schedule::interleaved)) {
            extra.push_back("parallelism.schedule=\"1f1b\"");
            if (p.virtual_stages != 1) extra.push_back("parallelism.virtual_stages=1");
            if (p.combined_1f1b) extra.push_back("parallelism.combined_1f1b=false");
        }
        rung_phases(original, index, 1LL * p.context * data, extra);
        out.plan = plan_capacity(file, base, chip, request.gpus, extra, request.max_batch_tokens, request.same_price);
        const Scenario s = load_scenario(file, with(base, out.plan.overrides));
        out.model_name = s.model.display_name;
        out.parameters = count_parameters(s.model).total;
        out.tokens = request.tokens ? *request.tokens : std::round(request.tokens_per_parameter * out.parameters);
        if (first_simulated(s, index) == nullptr) throw Error("every phase quotes its GPU-hours: there is nothing to train");
        const std::string key = s.phases_given ? fmt::format("phases.{}.tokens", index) : "training.tokens";
        // A batch ramp keeps its share of the phase (the flagship's 469B-token ramp of 14.8T is 3.2 %: 10.0B of
        // DeepSeek-V2-Lite's 314B), so that it never outlasts a smaller rung's tokens.
        if (const PhaseSpec& ph = s.phases[index]; ph.ramp && ph.tokens > 0 && out.tokens != ph.tokens) {
            out.plan.overrides.push_back(fmt::format("phases.{}.batch_ramp.tokens={:.0f}", index, ph.ramp->tokens * out.tokens / ph.tokens));
        }
        const Probe probe = evaluate_at(file, base, out.plan.overrides, key, out.tokens, options);
        out.plan.overrides.push_back(fmt::format("{}={:.0f}", key, out.tokens));  // the run as evaluated
        out.ran = true;
        out.days = probe.days;
        out.cost_usd = probe.cost;
        out.meets = limits.meets(probe);
        if (!out.meets) out.note = fmt::format("over the {}", limits.exceeded(probe));
    } catch (const Error& e) {
        out.note = e.one_line();
    }
    return out;
}

}  // namespace

CapacityPlan plan_capacity(const std::filesystem::path& file, const LoadOptions& base, const std::string& chip,
                           long long gpus, const std::vector<std::string>& extra, std::optional<double> max_batch_tokens,
                           bool same_price) {
    // The swap without its memory fit: the fit depends on the data degree (ZeRO shards over it), which is chosen
    // below, so it is judged there (a helper's read: a rung fitted at its starting degree, data 1, kept full
    // recomputation at data 78, where the layout fits without: Llama 3.1 405B on 9,984 H100 in 95.0 days, not 70.8).
    ChipSwap swap = chip_swap(file, base, chip, extra, same_price, /*fit=*/false);
    const Scenario s = load_scenario(file, with(base, swap.overrides));
    std::size_t index = 0;
    const PhaseSpec* first = first_simulated(s, index);
    if (first == nullptr) throw Error("every phase quotes its GPU-hours: there is nothing to train");
    const long long mp = first->parallel.model_parallel_ranks();
    const double own_batch_tokens = static_cast<double>(first->training.global_batch) * first->training.sequence_length;
    const double bound = max_batch_tokens.value_or(1.25 * own_batch_tokens);
    const long long most = std::min<long long>(gpus / mp, INT_MAX);
    if (most < 1) {
        throw Error(fmt::format("{} GPUs are fewer than one replica of the layout ({} GPUs: TP{} CP{} PP{})", with_commas(static_cast<double>(gpus)),
                                mp, first->parallel.tensor, first->parallel.context, first->parallel.pipeline),
                    "give more GPUs, or a layout with fewer model-parallel ranks");
    }
    std::string blocked;
    long long blocked_gpus = 0;  // the GPUs of the largest degree the batch bound refused
    bool whole_nodes = false;  // some degree up to `most` fills whole nodes
    for (long long d = most; d >= 1; --d) {  // scale_plan is arithmetic: microseconds a degree
        if ((d * mp) % s.cluster.gpus_per_node != 0) continue;
        whole_nodes = true;
        const auto plan = scale_plan(s, static_cast<int>(d), bound);
        if (!plan) continue;
        if (plan->blocked) {
            if (blocked.empty()) {
                blocked = *plan->blocked;
                blocked_gpus = d * mp;
            }
            continue;
        }
        CapacityPlan out;
        out.gpus = plan->gpus;
        out.layout = plan->summary;
        // The swap's assignments, then the plan's; a key written twice (a rung's starting cluster.gpus, then the
        // plan's) keeps its last value, in the place of its first, so the list reads as the run it gives.
        for (const std::vector<std::string>* list : {static_cast<const std::vector<std::string>*>(&swap.overrides), &plan->overrides}) {
            for (const std::string& o : *list) {
                const std::string key = o.substr(0, o.find('='));
                const auto same = std::find_if(out.overrides.begin(), out.overrides.end(),
                                               [&](const std::string& x) { return x.substr(0, x.find('=')) == key; });
                if (same != out.overrides.end()) *same = o;
                else out.overrides.push_back(o);
            }
        }
        MemoryFit fitted = fit_swapped(file, base, chip, extra, out.overrides);
        out.overrides = std::move(fitted.overrides);
        out.chip_note = fitted.note.empty() ? swap.note : swap.note.empty() ? fitted.note : fitted.note + "; " + swap.note;
        if (!blocked.empty()) {
            out.gpus_note = fmt::format("{} of the {} GPUs: more replicas are refused by the batch bound of {} tokens "
                                        "(--max-batch-tokens; default 1.25× the first phase's batch): at {} GPUs, {}",
                                        with_commas(static_cast<double>(out.gpus)), with_commas(static_cast<double>(gpus)),
                                        max_batch_tokens_text(bound), with_commas(static_cast<double>(blocked_gpus)), blocked);
        }
        return out;
    }
    const auto gpus_text = [](long long n) { return fmt::format("{} GPU{}", with_commas(static_cast<double>(n)), n == 1 ? "" : "s"); };
    if (!whole_nodes) {  // the node, not the layout, is what does not fit (a replica of 1 GPU on nodes of 8 at --gpus 7)
        throw Error(fmt::format("{} do not make a whole node of {} with replicas of {} (TP{} CP{} PP{})", gpus_text(gpus),
                                s.cluster.gpus_per_node, gpus_text(mp), first->parallel.tensor, first->parallel.context,
                                first->parallel.pipeline),
                    fmt::format("give at least {} (one node), in whole nodes", gpus_text(std::lcm(mp, static_cast<long long>(s.cluster.gpus_per_node)))));
    }
    if (!blocked.empty()) {
        throw Error(fmt::format("no data-parallel degree up to {} ({}) re-plans the scenario: {}", most, gpus_text(most * mp), blocked),
                    "raise --max-batch-tokens");
    }
    // What the degree must satisfy, as sweep --derive says it, and the nearest count above that does (scale_plan is
    // arithmetic: a few thousand degrees cost microseconds each).
    const ParallelLayout& p = first->parallel;
    const long long last = std::min(4 * most + 4096, static_cast<long long>(limits::kGpus) / mp);  // searched up to
    std::string above = fmt::format("; none up to {} does", gpus_text(last * mp));
    for (long long d = most + 1; d <= last; ++d) {
        if ((d * mp) % s.cluster.gpus_per_node != 0) continue;
        if (const auto plan = scale_plan(s, static_cast<int>(d), bound); plan && !plan->blocked) {
            above = fmt::format("; the fewest GPUs above that do: {}", gpus_text(d * mp));
            break;
        }
    }
    throw Error(fmt::format("no data-parallel degree up to {} ({}) re-plans the scenario (each replica takes TP{} × CP{} × PP{} = {} "
                            "on whole nodes of {}; every phase's data degree scales with the first's{})",
                            most, gpus_text(most * mp), p.tensor, p.context, p.pipeline, gpus_text(mp), s.cluster.gpus_per_node,
                            p.expert > 1 ? fmt::format(" and expert parallelism {} must divide data × context in every phase", p.expert) : ""),
                fmt::format("give more GPUs{}", above));
}

CapacityResult run_capacity(const std::filesystem::path& file, const LoadOptions& given_base, const CapacityRequest& request,
                            const EvaluateOptions& given, const std::function<void(int, int)>& progress) {
    LoadOptions base = given_base;  // chips looked up where the scenario's own names are, as in run_whatif
    if (base.catalog_dir.empty()) base.catalog_dir = find_catalog_dir(file);
    if (request.gpus < 1) throw Error("capacity needs a GPU count", "pass --gpus N");
    EvaluateOptions options = given;
    if (!options.step_cache) options.step_cache = std::make_shared<StepCache>();
    options.record_trace = false;
    const Scenario original = load_scenario(file, with(base, request.overrides));
    CapacityResult result;
    result.title = original.title;
    result.gpus = request.gpus;
    result.deadline = request.deadline;
    result.budget = request.budget;
    result.priced = prices_run(original);
    result.options = given;
    std::size_t searched = 0;
    if (original.phases_given && first_simulated(original, searched) != nullptr) {
        result.searched_phase = original.phases[searched].name;
        result.other_phases = original.phases.size() - 1;
    }
    std::vector<std::string> chips = request.chips;
    if (chips.empty()) chips.push_back(catalog_id(original.cluster.chip));
    const Limits limits{in_days(request.deadline), request.budget ? std::optional<double>(request.budget->value()) : std::nullopt};
    const int total = static_cast<int>(chips.size() * (1 + (request.family ? request.family->rungs.size() : 0)));
    int done = 0;
    for (const std::string& chip : chips) {
        result.tokens.push_back(tokens_for_chip(file, base, request, chip, limits, options));
        if (progress) progress(++done, total);
    }
    if (!request.family) return result;
    result.family_name = request.family->name;
    result.tokens_per_parameter = request.tokens_per_parameter;
    result.family_tokens = request.tokens;
    for (const std::string& chip : chips) {
        FamilyCapacity f;
        f.chip = chip;
        f.chip_name = load_chip(chip, base.catalog_dir).display_name;
        for (const FamilyRung& rung : request.family->rungs) {
            RungCapacity r = rung_on_chip(file, base, request, chip, rung, limits, options);
            if (progress) progress(++done, total);
            const bool stop = r.ran && !r.meets;  // larger rungs take longer still (a stated assumption)
            if (r.meets) f.largest = f.rungs.size();
            f.rungs.push_back(std::move(r));
            if (stop) break;
        }
        result.family.push_back(std::move(f));
    }
    return result;
}

}  // namespace gpuhours
