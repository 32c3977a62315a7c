// The deadline search (include/gpuhours/analysis/deadline.hpp): re-planning at another GPU count, and the search for the fewest GPUs.
#include <gpuhours/analysis/deadline.hpp>

#include <gpuhours/analysis/evaluation.hpp>

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
    return !pipeline_shape_error(p.schedule, p.pipeline, static_cast<int>(m), p.virtual_stages, p.combined_1f1b);
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
    ParallelLayout layout;  // with the recipe applied
    int global_batch;
    int sequence_length;
    std::optional<BatchRamp> ramp;
    std::string data_key, batch_key, ramp_key;  // ramp_key empty: no ramp
    std::string name;
    std::string steps_key;  // a phase given in steps: its step count, rewritten so that its tokens stay the same
    double tokens = 0.0;
    bool first = false;  // the first simulated phase's layout (or [training]'s without phases)
};

std::vector<Shape> shapes_of(const Scenario& s) {
    std::vector<Shape> shapes;
    if (s.phases_given) {
        for (std::size_t i = 0; i < s.phases.size(); ++i) {
            const PhaseSpec& ph = s.phases[i];
            if (ph.quoted_gpu_hours) continue;
            shapes.push_back({ph.parallel, ph.training.global_batch, ph.training.sequence_length, ph.ramp,
                              fmt::format("phases.{}.parallelism.data", i), fmt::format("phases.{}.global_batch", i),
                              fmt::format("phases.{}.batch_ramp.from", i), fmt::format("phase \"{}\"", ph.name),
                              ph.by_steps ? fmt::format("phases.{}.steps", i) : std::string(), ph.tokens,
                              shapes.empty()});
        }
        // Last, so that a phase is named when both need a larger batch.
        shapes.push_back({s.parallel, s.training.global_batch, s.training.sequence_length, std::nullopt, "parallelism.data",
                          "training.global_batch", "", "[training]", "", 0.0, false});
    } else {
        // One phase made from [training] (a batch ramp needs [[phases]]; the tokens are [training]'s).
        shapes.push_back({s.parallel, s.training.global_batch, s.training.sequence_length, std::nullopt, "parallelism.data",
                          "training.global_batch", "", "[training]", "", 0.0, true});
    }
    return shapes;
}

// The layout under `recipe`, and the overrides that write it for the layout whose data degree is `data_key`
// ("phases.0.parallelism.data" → "phases.0.parallelism.schedule=…").
void apply_recipe(const Recipe& recipe, Shape& sh, std::vector<std::string>& overrides) {
    const std::string prefix = sh.data_key.substr(0, sh.data_key.size() - std::string_view("data").size());
    if (recipe.schedule && *recipe.schedule != sh.layout.schedule) {
        sh.layout.schedule = *recipe.schedule;
        overrides.push_back(fmt::format("{}schedule=\"{}\"", prefix, to_string(*recipe.schedule)));
        if (sh.layout.schedule != Schedule::interleaved && sh.layout.virtual_stages != 1) {
            sh.layout.virtual_stages = 1;
            overrides.push_back(prefix + "virtual_stages=1");
        }
        // Combined 1F1B where the new schedule can pair its rounds; off where it cannot (1F1B over several stages).
        if (sh.layout.combined_1f1b && !combined_1f1b_pairs(sh.layout.schedule, sh.layout.pipeline)) {
            sh.layout.combined_1f1b = false;
            overrides.push_back(prefix + "combined_1f1b=false");
        }
        // DualPipe overlaps the all-to-all with the other direction's micro-batch; the shared experts' overlap goes.
        if (sh.layout.moe_shared_expert_overlap && sh.layout.schedule == Schedule::dualpipe) {
            sh.layout.moe_shared_expert_overlap = false;
            overrides.push_back(prefix + "moe_shared_expert_overlap=false");
        }
    }
    if (recipe.micro_batch && *recipe.micro_batch != sh.layout.micro_batch) {
        sh.layout.micro_batch = *recipe.micro_batch;
        overrides.push_back(fmt::format("{}micro_batch={}", prefix, *recipe.micro_batch));
    }
}

// ", schedule "1f1b" instead of "dualpipe", which needs ≥ 32 micro-batches per replica"; empty for the scenario's own.
std::string recipe_text(const Recipe& r, const ParallelLayout& own) {
    std::string out;
    if (r.schedule && *r.schedule != own.schedule) {
        out += fmt::format(", schedule \"{}\" instead of \"{}\"", to_string(*r.schedule), to_string(own.schedule));
        if (own.schedule == Schedule::dualpipe) out += fmt::format(", which needs ≥ {} micro-batches per replica", 2 * own.pipeline);
        if (own.schedule == Schedule::interleaved) out += fmt::format(", which needs a multiple of {} micro-batches per replica", own.pipeline);
    }
    if (r.micro_batch && *r.micro_batch != own.micro_batch) {
        out += fmt::format(", micro-batch {} instead of {}", *r.micro_batch, own.micro_batch);
    }
    if (r.batch_to_bound) out += ", batch grown to the bound (fewer steps, a smaller pipeline bubble)";
    return out;
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
    if (c.fabric == Fabric::single_node && gpus > c.gpus_per_node) {
        // One node (the default for a scenario of one node's GPUs) becomes the default fabric of more: a fat-tree.
        c.fabric = Fabric::fat_tree;
        overrides.push_back("cluster.fabric=\"fat-tree\"");
        summary = fmt::format("a {}-tier fat-tree of {}-port switches (the default fabric of more than one node)", c.tiers, c.switch_radix);
        if (holds()) return true;
    }
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
                       c.fabric == Fabric::multi_plane ? fmt::format(" of {} plane{}", c.planes, c.planes == 1 ? "" : "s") : std::string(), c.switch_radix);
}

}  // namespace

namespace {

// "the batch grown to the bound, micro-batch 1 or schedule "1f1b"": the dimensions the recipes after the first vary.
std::string other_recipes_text(const std::vector<Recipe>& recipes) {
    std::vector<std::string> parts;
    if (std::any_of(recipes.begin(), recipes.end(), [](const Recipe& r) { return r.batch_to_bound; })) parts.push_back("the batch grown to the bound");
    for (const Recipe& r : recipes) {
        if (r.micro_batch && !r.schedule && !r.batch_to_bound) parts.push_back(fmt::format("micro-batch {}", *r.micro_batch));
        if (r.schedule && !r.micro_batch && !r.batch_to_bound) parts.push_back(fmt::format("schedule \"{}\"", to_string(*r.schedule)));
    }
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? "" : i + 1 == parts.size() ? " or " : ", ") + parts[i];
    return out + (parts.size() > 1 ? ", alone or together" : "");
}

}  // namespace

std::vector<Recipe> recipes_for(const ParallelLayout& p, bool batch_may_grow) {
    // GPipe, 1F1B and zero-bubble accept any count of micro-batches; DualPipe and interleaving do not.
    const bool other_schedule = p.schedule == Schedule::dualpipe || p.schedule == Schedule::interleaved;
    std::vector<Recipe> out;
    for (const bool schedule : {false, true}) {
        if (schedule && !other_schedule) continue;
        for (const bool one : {false, true}) {
            if (one && p.micro_batch == 1) continue;
            for (const bool grow : {false, true}) {
                if (grow && !batch_may_grow) continue;
                out.push_back({schedule ? std::optional(Schedule::one_f_one_b) : std::nullopt, one ? std::optional(1) : std::nullopt, grow});
            }
        }
    }
    return out;
}

// A bound given back as a flag value must not fall below what it stands for.
std::string max_batch_tokens_text(double tokens) {
    if (!(tokens > 0)) return format_count(tokens);
    const double unit = std::pow(10.0, std::floor(std::log10(tokens)) - 3);
    return format_count(std::ceil(tokens / unit - 1e-9) * unit);
}

std::optional<ScaledPlan> scale_plan(const Scenario& s, int data, std::optional<double> max_batch_tokens, const Recipe& recipe) {
    const PhaseSpec* first = first_simulated(s);
    if (first == nullptr || data < 1) return std::nullopt;
    const int d0 = first->parallel.data;
    ScaledPlan plan;
    plan.data = data;
    plan.gpus = 1LL * data * first->parallel.model_parallel_ranks();
    plan.overrides.push_back(fmt::format("cluster.gpus={}", plan.gpus));
    plan.recipe = recipe;
    // Each shape at the new degree first (its data degree, batch and ramp start), then the overrides: a phase's
    // batch is written whenever any batch grows, since [training]'s may change under a phase that inherits it.
    struct Scaled {
        const Shape* shape;
        long long data, batch, ramp_from;
    };
    std::vector<Scaled> scaled;
    std::vector<Shape> shapes = shapes_of(s);
    for (Shape& sh : shapes) apply_recipe(recipe, sh, plan.overrides);
    for (const Shape& sh : shapes) {
        const long long num = 1LL * sh.layout.data * data;
        if (num % d0 != 0) return std::nullopt;
        const long long pd = num / d0;
        if (pd * sh.layout.model_parallel_ranks() != plan.gpus) return std::nullopt;
        if (sh.layout.expert > 1 && (pd * sh.layout.context) % sh.layout.expert != 0) return std::nullopt;
        const long long unit = pd * sh.layout.micro_batch;
        long long m = schedule_count_from(sh.layout, (sh.global_batch + unit - 1) / unit);
        if (m == 0) return std::nullopt;
        if (recipe.batch_to_bound && max_batch_tokens) {
            // The largest count within the bound (or the phase's own tokens per batch, if larger) that the schedule accepts.
            const double most_tokens = std::max(*max_batch_tokens, static_cast<double>(sh.global_batch) * sh.sequence_length);
            const auto most = static_cast<long long>(std::floor(most_tokens / (static_cast<double>(unit) * sh.sequence_length) + 1e-9));
            for (long long k = std::min(most, 1LL << 30); k > m; --k) {
                if (schedule_accepts(sh.layout, k)) {
                    m = k;
                    break;
                }
            }
        }
        long long batch = m * unit;
        // The ramp starts at the same fraction of the batch, in whole micro-batches per replica, below the batch.
        long long ramp_from = 0;
        if (sh.ramp && !sh.ramp_key.empty()) {
            for (;;) {
                const double at = static_cast<double>(sh.ramp->from) * static_cast<double>(batch) / sh.global_batch;
                ramp_from = std::max(unit, static_cast<long long>(std::ceil(at / static_cast<double>(unit) - 1e-9)) * unit);
                if (ramp_from < batch) break;
                m = schedule_count_from(sh.layout, m + 1);
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
    std::string ramps;        // each batch ramp whose start moved, for the summary
    for (const auto& [sh, pd, batch, ramp_from] : scaled) {
        plan.overrides.push_back(fmt::format("{}={}", sh->data_key, pd));
        const bool top = sh->batch_key == "training.global_batch";
        if (batch != sh->global_batch || (!top && batch_grows)) plan.overrides.push_back(fmt::format("{}={}", sh->batch_key, batch));
        if (!sh->steps_key.empty() && batch != sh->global_batch) {
            // The whole step count nearest the phase's tokens (a run trains whole steps: the tokens move by under half a
            // step), at least one.
            const double steps = std::max(1.0, std::round(sh->tokens / (static_cast<double>(batch) * sh->sequence_length)));
            plan.overrides.push_back(fmt::format("{}={:.0f}", sh->steps_key, steps));
        }
        if (sh->ramp && !sh->ramp_key.empty() && ramp_from != sh->ramp->from) {
            plan.overrides.push_back(fmt::format("{}={}", sh->ramp_key, ramp_from));
            ramps += fmt::format(", the batch ramp of {} from {} (was {})", sh->name,
                                 with_commas(static_cast<double>(ramp_from)), with_commas(sh->ramp->from));
        }
        if (first_batch.empty() && sh->first) {
            first_batch = batch == sh->global_batch
                              ? fmt::format("global batch {}", with_commas(static_cast<double>(batch)))
                              : fmt::format("global batch {} (grown from {})", with_commas(static_cast<double>(batch)),
                                            with_commas(sh->global_batch));
        }
    }
    std::string fabric;
    if (!derive_fabric(s, plan.gpus, plan.overrides, fabric)) return std::nullopt;
    const ParallelLayout& p = first->parallel;
    ParallelLayout degrees = p;
    degrees.data = static_cast<int>(data);
    plan.summary = fmt::format("{}{}, {}{}", describe_degrees(degrees), recipe_text(recipe, p), first_batch, ramps);
    plan.summary += ", " + (fabric.empty() ? fmt::format("the scenario's fabric ({})", fabric_text(s.cluster)) : fabric);
    return plan;
}

namespace {

// One recipe's search: its plans at every degree, and the fewest GPUs among them meeting the deadline.
struct RecipeOutcome {
    std::vector<ScaledPlan> all;                 // every degree that can be planned, in order
    std::vector<const ScaledPlan*> within;       // those whose batches stay within the bound
    const ScaledPlan* found = nullptr;           // the answer, within the bound
    const ScaledPlan* beyond = nullptr;          // the answer past the bound, when none is within it
};

class DeadlineSearch {
public:
    DeadlineSearch(const Scenario& s, double own_days, double deadline_days, std::optional<double> max_batch_tokens,
                   const DeadlineProbe& probe, const std::function<void(int)>& progress, DeadlineAnswer& answer)
        : s_(s), deadline_days_(deadline_days), max_batch_tokens_(max_batch_tokens), probe_(probe), progress_(progress),
          answer_(answer), d0_(first_simulated(s)->parallel.data), estimate_(d0_ * own_days / deadline_days) {
        days_at_[{0, d0_}] = own_days;
    }

    // Recipe `index`'s plans below data degree `below` (`max_data` for all), searched from the linear estimate;
    // `past_bound` also searches the plans whose batch is past the bound when none within it meets the deadline.
    RecipeOutcome run(int index, const Recipe& recipe, long long max_data, long long below, bool past_bound) {
        RecipeOutcome out;
        // Whole nodes only: a count the fabric cannot build would end the search as "not reached" (a what-if chip's
        // own nodes can be 2 or 64 GPUs, so most counts are not whole nodes).
        const long long mp = first_simulated(s_)->parallel.model_parallel_ranks();
        const long long gpn = std::max(1, s_.cluster.gpus_per_node);
        for (long long d = 1; d <= max_data && d < below; ++d) {
            if ((d * mp) % gpn != 0) continue;
            if (auto plan = scale_plan(s_, static_cast<int>(d), max_batch_tokens_, recipe)) out.all.push_back(std::move(*plan));
        }
        std::vector<const ScaledPlan*> every;
        for (const ScaledPlan& p : out.all) {
            every.push_back(&p);
            if (!p.blocked) out.within.push_back(&p);
        }
        recipe_ = index;
        out.found = fewest(out.within);
        if (out.found == nullptr && past_bound && out.within.size() < every.size()) out.beyond = fewest(every);
        if (out.beyond != nullptr && !out.beyond->blocked) std::swap(out.found, out.beyond);  // a gap in `within`
        return out;
    }

    std::optional<double> days(int recipe, const ScaledPlan& p) {
        if (auto it = days_at_.find({recipe, p.data}); it != days_at_.end()) return it->second;
        std::string error;
        std::optional<double> out = probe_(p.overrides, error);
        ++answer_.probes;
        if (progress_) progress_(answer_.probes);
        if (!out && recipe == 0) last_error = error;
        return days_at_[{recipe, p.data}] = out;
    }

    // The days of a plan already run (nullopt inside: it could not run); nullopt when it was not run.
    std::optional<std::optional<double>> known(int recipe, int data) const {
        const auto it = days_at_.find({recipe, data});
        if (it == days_at_.end()) return std::nullopt;
        return it->second;
    }

    std::string last_error;  // why the scenario's own recipe could not run at some degree

private:
    bool meets(const ScaledPlan& p) {
        const auto d = days(recipe_, p);
        return d && *d <= deadline_days_;
    }

    // The fewest GPUs among `plans` that meet the deadline: from the plan at the linear estimate of the degree
    // needed, galloping (steps doubling) to a bracket, then bisection. A plan that cannot run above the scenario's
    // own degree (too few micro-batches, a fabric limit) is a ceiling; below it (memory) more GPUs may help.
    const ScaledPlan* fewest(const std::vector<const ScaledPlan*>& plans) {
        const std::size_t end = plans.size();
        if (end == 0) return nullptr;
        const auto at = [&](std::size_t i) -> const ScaledPlan& { return *plans[i]; };
        const auto ceiling = [&](std::size_t i) { return !days(recipe_, at(i)) && at(i).data > d0_; };
        std::size_t start = static_cast<std::size_t>(
            std::lower_bound(plans.begin(), plans.end(), estimate_, [](const ScaledPlan* p, double v) { return p->data < v; }) -
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
            if (ceiling(start)) return nullptr;
            for (std::size_t i = start + 1, step = 1; i < end; i = std::min(end - 1, i + step), step *= 2) {
                if (meets(at(i))) {
                    hi = i;
                    break;
                }
                if (ceiling(i)) break;
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
    }

    const Scenario& s_;
    double deadline_days_;
    std::optional<double> max_batch_tokens_;
    const DeadlineProbe& probe_;
    const std::function<void(int)>& progress_;
    DeadlineAnswer& answer_;
    int d0_;
    double estimate_;
    int recipe_ = 0;
    std::map<std::pair<int, int>, std::optional<double>> days_at_;  // by recipe and data degree; nullopt: cannot run
};

}  // namespace

DeadlineAnswer search_deadline(const Scenario& s, double own_days, double deadline_days, int max_gpus,
                               std::optional<double> max_batch_tokens, const DeadlineProbe& probe,
                               const std::function<void(int runs)>& progress) {
    DeadlineAnswer answer;
    const PhaseSpec* first = first_simulated(s);
    if (first == nullptr) {
        answer.note = "every phase quotes its GPU-hours: nothing to scale";
        return answer;
    }
    const long long mp = first->parallel.model_parallel_ranks();
    const long long max_data = max_gpus / mp;
    // Out of reach at every count the search may try when even the run's compute lower bound on max_gpus GPUs
    // passes the deadline: said at once, without simulating steps at the largest counts (minutes at 131,072 GPUs).
    const double fastest_days = shortest_compute_seconds(s, max_gpus) / 86400.0;
    if (fastest_days > deadline_days) {
        answer.note = fmt::format("not reached: on {} GPUs (--max-gpus) the run's FLOPs alone take {:.1f} days at the chip's peaks "
                                  "times its GEMM and attention efficiencies, with no communication, pipeline bubble or failure",
                                  with_commas(static_cast<double>(max_gpus)), fastest_days);
        return answer;
    }
    DeadlineSearch search(s, own_days, deadline_days, max_batch_tokens, probe, progress, answer);
    const bool batch_may_grow = max_batch_tokens && *max_batch_tokens > static_cast<double>(first->training.global_batch) *
                                                                           first->training.sequence_length * (1 + 1e-12);
    const std::vector<Recipe> recipes = recipes_for(first->parallel, batch_may_grow);
    RecipeOutcome own;
    std::optional<std::pair<int, ScaledPlan>> best;  // recipe index and plan
    for (std::size_t i = 0; i < recipes.size(); ++i) {
        const long long below = best ? best->second.data : max_data + 1;
        RecipeOutcome o = search.run(static_cast<int>(i), recipes[i], max_data, below, i == 0);
        if (o.found != nullptr) best = std::make_pair(static_cast<int>(i), *o.found);
        if (i == 0) own = std::move(o);
    }
    auto summary = [&](int recipe, const ScaledPlan& p) {
        return fmt::format("{:.1f} days (nominal run) on {} GPUs: {}", *search.days(recipe, p),
                           with_commas(static_cast<double>(p.gpus)), p.summary);
    };
    if (best) {
        answer.plan = best->second;
        answer.days = search.days(best->first, best->second);
        answer.note = summary(best->first, best->second);
        if (own.beyond != nullptr && own.beyond->data < best->second.data) {
            // Fewer GPUs would do with the scenario's own recipe and a larger batch: say so, with the flag. An upper
            // bound: this plan keeps the smallest batch per replica the schedule takes, and the search the flag allows
            // grows batches up to the bound, so it may need fewer GPUs (a plan audit, session 50: the H20 for two months,
            // 11,264 here against 10,240 with the flag).
            answer.note += fmt::format("; with --max-batch-tokens {} and the scenario's schedule, at most {} GPUs ({:.1f} days there; "
                                       "that search, growing the batch to the bound, may find fewer)",
                                       max_batch_tokens_text(own.beyond->needed_batch_tokens),
                                       with_commas(static_cast<double>(own.beyond->gpus)), *search.days(0, *own.beyond));
        }
        return answer;
    }
    // Not reached: say how far the scenario's own recipe got and what would let it go further.
    std::optional<std::pair<int, double>> most;  // data degree, days, within the batch bound
    for (const ScaledPlan* p : own.within) {
        const auto d = search.known(0, p->data);
        if (d && *d && (!most || p->data > most->first)) most = std::make_pair(p->data, **d);
    }
    const std::string reached = most ? fmt::format("the most GPUs that ran with the scenario's schedule, {}, take {:.1f} days",
                                                   with_commas(static_cast<double>(most->first * mp)), most->second)
                                     : std::string("no GPU count that was tried could run");
    if (own.beyond != nullptr) {
        // Past the batch bound: the fewest GPUs that would meet the deadline with a larger batch, and that batch.
        answer.note = fmt::format("not reached at the scenario's batch sizes ({}); with --max-batch-tokens {}: {}", reached,
                                  max_batch_tokens_text(own.beyond->needed_batch_tokens), summary(0, *own.beyond));
    } else {
        answer.note = fmt::format("not reached: {}", reached);
        if (!search.last_error.empty()) answer.note += fmt::format("; beyond: {}", search.last_error);
        answer.note += own.within.size() < own.all.size()
                           ? fmt::format("; nor with batches grown as far as the schedule needs, up to {} GPUs", with_commas(max_gpus))
                           : fmt::format("; searched up to {} GPUs", with_commas(max_gpus));
    }
    if (recipes.size() > 1) {
        answer.note += fmt::format("; nor with {}", other_recipes_text(recipes));
    }
    // The most GPUs that ran were the most --max-gpus allows: more GPUs are the first thing to try.
    if (most && (most->first + 1) * mp > max_gpus) {
        answer.note += fmt::format("; more GPUs may reach it: raise --max-gpus (the search stopped at {})",
                                   with_commas(static_cast<double>(max_gpus)));
    }
    if (!batch_may_grow && own.beyond == nullptr) {  // (with `beyond`, the note above already gives the batch that does)
        // A larger batch leaves more micro-batches per replica (a smaller bubble) and fewer steps: say how to try it.
        answer.note += "; a larger batch may reach it: --max-batch-tokens N lets the search grow every phase's batch up to N tokens";
    }
    return answer;
}

}  // namespace gpuhours
