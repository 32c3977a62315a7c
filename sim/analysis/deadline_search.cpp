// The deadline search (include/gpuhours/analysis/deadline.hpp): re-planning at another GPU count, and the search for the fewest GPUs.
#include <gpuhours/analysis/deadline.hpp>

#include <gpuhours/hardware/topology.hpp>
#include <gpuhours/training/schedule.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/units/units.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace gpuhours {

namespace {

const PhaseSpec* first_simulated(const Scenario& s) {
    for (const PhaseSpec& ph : s.phases) {
        if (!ph.quoted_gpu_hours) return &ph;
    }
    return nullptr;
}

// Whether `m` micro-batches per replica suit the layout's pipeline schedule (training/schedule.cpp's rules).
bool schedule_accepts(const ParallelLayout& p, long long m) {
    if (m < 1 || m > (1LL << 30)) return false;
    try {
        check_pipeline_shape(p.schedule, p.pipeline, static_cast<int>(m), p.virtual_stages);
    } catch (const Error&) {
        return false;
    }
    return true;
}

// The smallest micro-batch count of at least `m` that the schedule accepts (every schedule accepts some count
// within 4 × stages × virtual stages above any m: DualPipe an even one of at least 2 × stages, interleaved a
// multiple of the stages); 0 when none does.
long long schedule_count_from(const ParallelLayout& p, long long m) {
    const long long limit = m + 4LL * p.pipeline * std::max(1, p.virtual_stages) + 2;
    for (long long k = std::max(1LL, m); k <= limit; ++k) {
        if (schedule_accepts(p, k)) return k;
    }
    return 0;
}

// One layout that has to stay valid at the new degree: the scenario's [parallelism] with [training] (when it has
// [[phases]], its own rules still apply) or a simulated phase.
struct Shape {
    const ParallelLayout* layout;
    int global_batch;
    int sequence_length;
    std::optional<BatchRamp> ramp;
    std::string data_key, batch_key, ramp_key;  // ramp_key empty: no ramp
    std::string name;
    std::string steps_key;  // a phase given in steps: its step count, rewritten so that its tokens stay the same
    double tokens = 0.0;
};

std::vector<Shape> shapes_of(const Scenario& s) {
    std::vector<Shape> shapes;
    if (s.phases_given) {
        for (std::size_t i = 0; i < s.phases.size(); ++i) {
            const PhaseSpec& ph = s.phases[i];
            if (ph.quoted_gpu_hours) continue;
            shapes.push_back({&ph.parallel, ph.training.global_batch, ph.training.sequence_length, ph.ramp,
                              fmt::format("phases.{}.parallelism.data", i), fmt::format("phases.{}.global_batch", i),
                              fmt::format("phases.{}.batch_ramp.from", i), fmt::format("phase \"{}\"", ph.name),
                              ph.by_steps ? fmt::format("phases.{}.steps", i) : std::string(), ph.tokens});
        }
        // Last, so that a phase is named when both need a larger batch.
        shapes.push_back({&s.parallel, s.training.global_batch, s.training.sequence_length, std::nullopt, "parallelism.data",
                          "training.global_batch", "", "[training]", "", 0.0});
    } else {
        // One phase made from [training] (a batch ramp needs [[phases]]; the tokens are [training]'s).
        shapes.push_back({&s.parallel, s.training.global_batch, s.training.sequence_length, std::nullopt, "parallelism.data",
                          "training.global_batch", "", "[training]", "", 0.0});
    }
    return shapes;
}

// The fabric the GPU count needs: the scenario's, or three tiers for a fat-tree, or a larger radix (doubled) for
// the two-tier fabrics. Appends the overrides and a summary; false when no radix up to 4,096 holds it.
bool derive_fabric(const Scenario& s, long long gpus, std::vector<std::string>& overrides, std::string& summary) {
    ClusterSpec c = s.cluster;
    c.gpus = static_cast<int>(gpus);
    auto holds = [&] {
        try {
            check_fabric_size(c);
        } catch (const Error&) {
            return false;
        }
        return true;
    };
    if (holds()) return true;
    if (c.fabric == Fabric::fat_tree && c.tiers == 2) {
        c.tiers = 3;
        if (holds()) {
            overrides.push_back("cluster.tiers=3");
            summary = fmt::format("a three-tier fat-tree of {}-port switches (two tiers cannot connect {} GPUs)", c.switch_radix,
                                  with_commas(static_cast<double>(gpus)));
            return true;
        }
    }
    while (c.switch_radix < 4096) {
        c.switch_radix *= 2;
        if (holds()) {
            if (c.tiers != s.cluster.tiers) overrides.push_back(fmt::format("cluster.tiers={}", c.tiers));
            overrides.push_back(fmt::format("cluster.switch_radix={}", c.switch_radix));
            summary = fmt::format("{}-port switches (the scenario's {} cannot connect {} GPUs)", c.switch_radix,
                                  s.cluster.switch_radix, with_commas(static_cast<double>(gpus)));
            return true;
        }
    }
    return false;
}

std::string fabric_text(const ClusterSpec& c) {
    if (c.fabric == Fabric::single_node) return "one node";
    return fmt::format("{}-tier {}{}, {}-port switches", c.fabric == Fabric::fat_tree ? c.tiers : 2, to_string(c.fabric),
                       c.fabric == Fabric::multi_plane ? fmt::format(" of {} planes", c.planes) : std::string(), c.switch_radix);
}

}  // namespace

// A bound given back as a flag value must not fall below what it stands for.
std::string max_batch_tokens_text(double tokens) {
    if (!(tokens > 0)) return format_count(tokens);
    const double unit = std::pow(10.0, std::floor(std::log10(tokens)) - 3);
    return format_count(std::ceil(tokens / unit - 1e-9) * unit);
}

std::optional<ScaledPlan> scale_plan(const Scenario& s, int data, std::optional<double> max_batch_tokens) {
    const PhaseSpec* first = first_simulated(s);
    if (first == nullptr || data < 1) return std::nullopt;
    const int d0 = first->parallel.data;
    ScaledPlan plan;
    plan.data = data;
    plan.gpus = 1LL * data * first->parallel.model_parallel_ranks();
    plan.overrides.push_back(fmt::format("cluster.gpus={}", plan.gpus));
    // Each shape at the new degree first (its data degree, batch and ramp start), then the overrides: a phase's
    // batch is written whenever any batch grows, since [training]'s may change under a phase that inherits it.
    struct Scaled {
        const Shape* shape;
        long long data, batch, ramp_from;
    };
    std::vector<Scaled> scaled;
    const std::vector<Shape> shapes = shapes_of(s);
    for (const Shape& sh : shapes) {
        const long long num = 1LL * sh.layout->data * data;
        if (num % d0 != 0) return std::nullopt;
        const long long pd = num / d0;
        if (pd * sh.layout->model_parallel_ranks() != plan.gpus) return std::nullopt;
        if (sh.layout->expert > 1 && (pd * sh.layout->context) % sh.layout->expert != 0) return std::nullopt;
        const long long unit = pd * sh.layout->micro_batch;
        long long m = schedule_count_from(*sh.layout, (sh.global_batch + unit - 1) / unit);
        if (m == 0) return std::nullopt;
        long long batch = m * unit;
        // The ramp starts at the same fraction of the batch, in whole micro-batches per replica, below the batch.
        long long ramp_from = 0;
        if (sh.ramp && !sh.ramp_key.empty()) {
            for (;;) {
                const double at = static_cast<double>(sh.ramp->from) * static_cast<double>(batch) / sh.global_batch;
                ramp_from = std::max(unit, static_cast<long long>(std::ceil(at / static_cast<double>(unit) - 1e-9)) * unit);
                if (ramp_from < batch) break;
                m = schedule_count_from(*sh.layout, m + 1);
                if (m == 0) return std::nullopt;
                batch = m * unit;
            }
        }
        if (batch > std::numeric_limits<int>::max()) return std::nullopt;
        const double own_tokens = static_cast<double>(sh.global_batch) * sh.sequence_length;
        const double tokens = static_cast<double>(batch) * sh.sequence_length;
        if (batch > sh.global_batch && tokens > std::max(own_tokens, max_batch_tokens.value_or(own_tokens)) * (1 + 1e-12)) {
            if (!plan.blocked || tokens > plan.needed_batch_tokens) {
                plan.blocked = fmt::format("{} needs a global batch of {} ({} tokens; it has {})", sh.name,
                                           with_commas(static_cast<double>(batch)), max_batch_tokens_text(tokens),
                                           with_commas(sh.global_batch));
                plan.needed_batch_tokens = std::max(plan.needed_batch_tokens, tokens);
            }
        }
        scaled.push_back({&sh, pd, batch, ramp_from});
    }
    const bool batch_grows = std::any_of(scaled.begin(), scaled.end(), [](const Scaled& x) { return x.batch != x.shape->global_batch; });
    std::string first_batch;  // the first simulated phase's batch, for the summary
    for (const auto& [sh, pd, batch, ramp_from] : scaled) {
        plan.overrides.push_back(fmt::format("{}={}", sh->data_key, pd));
        const bool top = sh->batch_key == "training.global_batch";
        if (batch != sh->global_batch || (!top && batch_grows)) plan.overrides.push_back(fmt::format("{}={}", sh->batch_key, batch));
        if (!sh->steps_key.empty() && batch != sh->global_batch) {
            plan.overrides.push_back(fmt::format("{}={}", sh->steps_key, sh->tokens / (static_cast<double>(batch) * sh->sequence_length)));
        }
        if (sh->ramp && !sh->ramp_key.empty() && ramp_from != sh->ramp->from) {
            plan.overrides.push_back(fmt::format("{}={}", sh->ramp_key, ramp_from));
        }
        if (first_batch.empty() && (sh->layout == &first->parallel || !s.phases_given)) {
            first_batch = batch == sh->global_batch
                              ? fmt::format("global batch {}", with_commas(static_cast<double>(batch)))
                              : fmt::format("global batch {} (grown from {})", with_commas(static_cast<double>(batch)),
                                            with_commas(sh->global_batch));
        }
    }
    std::string fabric;
    if (!derive_fabric(s, plan.gpus, plan.overrides, fabric)) return std::nullopt;
    const ParallelLayout& p = first->parallel;
    plan.summary = fmt::format("TP{} CP{} PP{} DP{} EP{}, {}", p.tensor, p.context, p.pipeline, data, p.expert, first_batch);
    plan.summary += ", " + (fabric.empty() ? fmt::format("the scenario's fabric ({})", fabric_text(s.cluster)) : fabric);
    return plan;
}

DeadlineAnswer search_deadline(const Scenario& s, double own_days, double deadline_days, int max_gpus,
                               std::optional<double> max_batch_tokens, const DeadlineProbe& probe) {
    DeadlineAnswer answer;
    const PhaseSpec* first = first_simulated(s);
    if (first == nullptr) {
        answer.note = "every phase quotes its GPU-hours: nothing to scale";
        return answer;
    }
    const int d0 = first->parallel.data;
    const long long mp = first->parallel.model_parallel_ranks();
    // The degrees that can be planned, in order (each phase's degree whole, experts dividing it); `within` those
    // whose batches stay within the bound.
    std::vector<ScaledPlan> all;
    for (long long d = 1; d * mp <= max_gpus; ++d) {
        if (auto plan = scale_plan(s, static_cast<int>(d), max_batch_tokens)) all.push_back(std::move(*plan));
    }
    std::vector<const ScaledPlan*> within, every;
    for (const ScaledPlan& p : all) {
        every.push_back(&p);
        if (!p.blocked) within.push_back(&p);
    }
    std::map<int, std::optional<double>> days_at{{d0, own_days}};  // by data degree; nullopt: cannot run
    std::string last_error;
    auto days = [&](const ScaledPlan& p) -> std::optional<double> {
        if (auto it = days_at.find(p.data); it != days_at.end()) return it->second;
        std::string error;
        std::optional<double> out = probe(p.overrides, error);
        ++answer.probes;
        if (!out) last_error = error;
        return days_at[p.data] = out;
    };
    auto meets = [&](const ScaledPlan& p) {
        const auto d = days(p);
        return d && *d <= deadline_days;
    };
    // The fewest GPUs among `plans` that meet the deadline: from the plan at the linear estimate of the degree
    // needed, galloping (steps doubling) to a bracket, then bisection. A plan that cannot run above the scenario's
    // own degree (too few micro-batches, a fabric limit) is a ceiling; below it (memory) more GPUs may help.
    const double estimate = d0 * own_days / deadline_days;
    auto fewest = [&](const std::vector<const ScaledPlan*>& plans) -> const ScaledPlan* {
        const std::size_t end = plans.size();
        if (end == 0) return nullptr;
        const auto at = [&](std::size_t i) -> const ScaledPlan& { return *plans[i]; };
        std::size_t start = static_cast<std::size_t>(
            std::lower_bound(plans.begin(), plans.end(), estimate, [](const ScaledPlan* p, double v) { return p->data < v; }) -
            plans.begin());
        start = std::min(start, end - 1);
        std::optional<std::size_t> hi;
        std::size_t lo = 0;
        if (meets(at(start))) {
            hi = start;
            for (std::size_t step = 1; *hi > 0; step *= 2) {
                const std::size_t down = *hi > step ? *hi - step : 0;
                if (!meets(at(down))) {
                    lo = down + 1;
                    break;
                }
                hi = down;
            }
        } else {
            lo = start + 1;
            if (!days(at(start)) && at(start).data > d0) return nullptr;  // a ceiling
            for (std::size_t i = start + 1, step = 1; i < end; i = std::min(end - 1, i + step), step *= 2) {
                if (meets(at(i))) {
                    hi = i;
                    break;
                }
                if (!days(at(i)) && at(i).data > d0) break;  // a ceiling
                lo = i + 1;
                if (i + 1 == end) break;
            }
        }
        if (!hi) return nullptr;
        while (lo < *hi) {
            const std::size_t mid = lo + (*hi - lo) / 2;
            if (meets(at(mid))) hi = mid;
            else lo = mid + 1;
        }
        return plans[*hi];
    };
    auto summary = [&](const ScaledPlan& p) {
        return fmt::format("{:.1f} days (nominal run) on {} GPUs: {}", *days(p), with_commas(static_cast<double>(p.gpus)), p.summary);
    };
    const ScaledPlan* found = fewest(within);
    const ScaledPlan* beyond = found == nullptr && within.size() < every.size() ? fewest(every) : nullptr;
    if (beyond != nullptr && !beyond->blocked) found = beyond;  // within the bound after all (a gap in `within`)
    if (found != nullptr) {
        answer.plan = *found;
        answer.days = days(*found);
        answer.note = summary(*found);
        return answer;
    }
    // Not reached: say how far the search got and what would let it go further.
    std::optional<std::pair<int, double>> most;  // data degree, days, within the batch bound
    for (const ScaledPlan* p : within) {
        const auto it = days_at.find(p->data);
        if (it != days_at.end() && it->second && (!most || p->data > most->first)) most = std::make_pair(p->data, *it->second);
    }
    const std::string reached = most ? fmt::format("the most GPUs that ran, {}, take {:.1f} days",
                                                   with_commas(static_cast<double>(most->first * mp)), most->second)
                                     : std::string("no GPU count that was tried could run");
    if (beyond != nullptr) {
        // Past the batch bound: the fewest GPUs that would meet the deadline with a larger batch, and that batch.
        answer.note = fmt::format("not reached at the scenario's batch sizes ({}); with --max-batch-tokens {}: {}", reached,
                                  max_batch_tokens_text(beyond->needed_batch_tokens), summary(*beyond));
    } else {
        answer.note = fmt::format("not reached: {}", reached);
        if (!last_error.empty()) answer.note += fmt::format("; beyond: {}", last_error);
        answer.note += within.size() < every.size()
                           ? fmt::format("; not with larger batches either, up to {} GPUs", with_commas(max_gpus))
                           : fmt::format("; searched up to {} GPUs", with_commas(max_gpus));
    }
    return answer;
}

}  // namespace gpuhours
