// Cost and energy of a run (include/gpuhours/run/economics.hpp).
//
// Pricing policy, deterministic and stated in `CostBreakdown::basis`:
//   - a rental price wins whenever one is given: the total is GPU-hours × price and nothing else. A rental price
//     is all-in (the provider pays for power, cooling, hosts and network), so electricity is never added to it,
//     and ownership figures given alongside are ignored (one total, one basis; compare by running twice).
//   - otherwise ownership: GPU capex, server overhead and networking, each amortised linearly over
//     `amortisation` (capex × wall clock / amortisation), plus electricity when a price is given.
//     With a cost of capital or a residual value the share is the equivalent annual cost's (capex_share).
//     Deliberate approximation: no idle time, i.e. the run is charged exactly its share of the hardware's life.
//   - neither: Error, saying what to add.
#include <gpuhours/run/economics.hpp>
#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <cmath>

namespace gpuhours {

namespace {

constexpr std::string_view kPriceHint =
    "give a rental price per GPU-hour (pricing.gpu_hour, e.g. \"$2\") or ownership figures "
    "(GPU price, server overhead per GPU, networking share, amortisation period)";

// Rejects NaN, infinities and negatives, naming the input and the fix.
void require_non_negative(double value, std::string_view what, std::string_view example) {
    if (!std::isfinite(value) || value < 0.0) {
        throw Error(fmt::format("{} is {}; it must be a finite number of at least 0", what, value),
                    fmt::format("set {} to a non-negative value, e.g. {}", what, example));
    }
}

void validate(const CostInputs& in) {
    if (in.gpus <= 0) {
        throw Error(fmt::format("cost needs a positive GPU count; got {}", in.gpus), "set cluster.gpus, e.g. 2048");
    }
    require_non_negative(in.wall_clock.value(), "the wall clock (s)", "\"54 days\"");
    require_non_negative(in.gpu_power.value(), "the GPU power (W)", "\"700 W\"");
    if (!std::isfinite(in.pue) || in.pue < 1.0) {
        throw Error(fmt::format("PUE is {}; it must be at least 1", in.pue),
                    "PUE is facility power / IT power: set pricing.pue to e.g. 1.2");
    }
    require_non_negative(in.host_power_share, "the host power share", "0.3 (host, NIC and switch power = 30% of GPU power)");
    if (in.electricity) require_non_negative(in.electricity->value(), "the electricity price ($/J)", "\"$0.08/kWh\"");
    if (in.gpu_hour) require_non_negative(in.gpu_hour->value(), "the rental price per GPU-hour ($)", "\"$2\"");
    if (!in.rental_shares.empty()) {
        double sum = 0.0;
        for (const auto& share : in.rental_shares) {
            require_non_negative(share.fraction, "a rental share's fraction", "0.5");
            require_non_negative(share.gpu_hour.value(), "a rental share's price per GPU-hour ($)", "\"$2\"");
            sum += share.fraction;
        }
        if (std::abs(sum - 1.0) > 1e-9) {
            throw Error(fmt::format("the rental shares' fractions sum to {}, not 1", sum), "give every GPU-hour exactly one price");
        }
    }
    if (in.ownership) {
        const Ownership& o = *in.ownership;
        require_non_negative(o.gpu_price.value(), "the GPU price ($)", "\"$25K\"");
        require_non_negative(o.server_overhead.value(), "the server overhead per GPU ($)", "\"$8K\"");
        require_non_negative(o.networking_share, "the networking share", "0.15 (15% of GPU + server capex)");
        require_non_negative(o.networking_per_gpu.value(), "the networking capex per GPU ($)", "\"$4.39K\"");
        require_non_negative(o.cost_of_capital, "the cost of capital", "0.08 (8% a year)");
        if (!std::isfinite(o.residual_value) || o.residual_value < 0.0 || o.residual_value >= 1.0) {
            throw Error(fmt::format("the residual value is {}; it must be a fraction from 0 to below 1", o.residual_value),
                        "set the residual value to the share of the price the hardware still fetches, e.g. 0.28");
        }
        if (!std::isfinite(o.amortisation.value()) || o.amortisation.value() <= 0.0) {
            throw Error(fmt::format("the amortisation period is {} s; it must be positive", o.amortisation.value()),
                        "set the amortisation period to the hardware's depreciation life, e.g. \"4 years\"");
        }
    }
    if (!in.gpu_hour && in.rental_shares.empty() && !in.ownership) throw Error("cannot price the run: no rental price and no ownership figures", std::string(kPriceHint));
}

}  // namespace

CostBreakdown cost_of(const CostInputs& inputs) {
    validate(inputs);
    const double gpus = static_cast<double>(inputs.gpus);

    CostBreakdown out;
    out.gpu_hours = gpus * in_hours(inputs.wall_clock);
    // Facility energy: IT power (GPUs plus their share of hosts, NICs, switches) scaled by PUE.
    out.energy = gpus * (inputs.gpu_power * ((1.0 + inputs.host_power_share) * inputs.pue)) * inputs.wall_clock;

    if (!inputs.rental_shares.empty()) {
        out.basis = "rental";
        for (const auto& share : inputs.rental_shares) out.lines.push_back({share.item, share.gpu_hour * (out.gpu_hours * share.fraction)});
    } else if (inputs.gpu_hour) {
        out.basis = "rental";
        out.lines.push_back({"rental", *inputs.gpu_hour * out.gpu_hours});
    } else {
        const Ownership& o = *inputs.ownership;
        const double life_fraction = capex_share(o, inputs.wall_clock);  // share of the capex charged to the run
        const Dollars gpu_capex = o.gpu_price * gpus;
        const Dollars server_capex = o.server_overhead * gpus;
        const Dollars network_capex = (gpu_capex + server_capex) * o.networking_share + o.networking_per_gpu * gpus;
        out.lines.push_back({"GPU capex (amortised)", gpu_capex * life_fraction});
        out.lines.push_back({"server overhead (amortised)", server_capex * life_fraction});
        out.lines.push_back({"networking (amortised)", network_capex * life_fraction});
        if (inputs.electricity) {
            out.basis = "ownership";
            out.lines.push_back({"electricity", *inputs.electricity * out.energy});
        } else {
            out.basis = "ownership, excluding electricity";
        }
    }
    for (const auto& line : out.lines) out.total += line.cost;
    return out;
}

double capex_share(const Ownership& o, Seconds wall_clock) {
    const double years = wall_clock.value() / kSecondsPerYear;
    const double life = o.amortisation.value() / kSecondsPerYear;
    const double i = o.cost_of_capital;
    const double r = o.residual_value;
    if (i == 0.0) return (1.0 - r) / life * years;
    // (1 + i)^−L and 1 − (1 + i)^−L through log1p and expm1: with pow, a rate near 1e-16 gave 1 + i = 1 and a
    // division by zero, and 1e-12 lost digits to cancellation (an economics audit, session 50).
    const double log_growth = -life * std::log1p(i);
    const double discount = std::exp(log_growth);
    const double written_off = -std::expm1(log_growth);
    return (1.0 - r * discount) * i / written_off * years;
}

// ---- the ladder ------------------------------------------------------------------------------------------

std::string_view to_string(CostRung r) {
    switch (r) {
        case CostRung::rental: return "rental";
        case CostRung::ownership: return "ownership";
        case CostRung::capital: return "capital";
        case CostRung::research: return "research";
        case CostRung::staff: return "staff";
    }
    return "?";
}

int rung_number(CostRung r) { return static_cast<int>(r) + 1; }

std::string_view rung_title(CostRung r) {
    switch (r) {
        case CostRung::rental: return "the final run at rental prices";
        case CostRung::ownership: return "the final run at amortised ownership, plus energy";
        case CostRung::capital: return "the cluster's total capital outlay";
        case CostRung::research: return "the run plus research and ablation compute";
        case CostRung::staff: return "plus R&D staff";
    }
    return "?";
}

std::optional<CostRung> cost_rung_from_string(std::string_view name) {
    for (CostRung r : kCostRungs) {
        if (to_string(r) == name) return r;
    }
    return std::nullopt;
}

const RungCost& CostLadder::at(CostRung r) const { return rungs.at(static_cast<std::size_t>(r)); }

std::string_view rung_needs(CostRung rung) {
    switch (rung) {
        case CostRung::rental: return "no rental price: set pricing.gpu_hour (the chip's catalog has none)";
        case CostRung::ownership:
        case CostRung::capital: return "no ownership figures: add [pricing.ownership]";
        case CostRung::research: return "no research compute: set pricing.research_multiplier or [[pricing.research_runs]]";
        case CostRung::staff: return "no staff figures: add [pricing.staff]";
    }
    return "";
}

namespace {

RungCost priced(CostRung rung, const CostBreakdown& b) { return RungCost{rung, b.total, b.lines, {}}; }
RungCost unpriced(CostRung rung, std::string missing) { return RungCost{rung, std::nullopt, {}, std::move(missing)}; }

}  // namespace

CostLadder cost_ladder(const LadderInputs& in) {
    CostLadder out;
    out.rungs.reserve(std::size(kCostRungs));  // references into it stay valid while it grows
    const bool rented = in.run.gpu_hour.has_value() || !in.run.rental_shares.empty();
    out.base = rented || !in.run.ownership ? CostRung::rental : CostRung::ownership;

    CostInputs rental = in.run;
    rental.ownership.reset();
    if (!rented) rental.gpu_hour = in.catalog_rental;
    out.rungs.push_back(rental.gpu_hour || !rental.rental_shares.empty()
                            ? priced(CostRung::rental, cost_of(rental))
                            : unpriced(CostRung::rental, std::string(rung_needs(CostRung::rental))));

    if (in.run.ownership) {
        CostInputs owned = in.run;
        owned.gpu_hour.reset();
        owned.rental_shares.clear();
        out.rungs.push_back(priced(CostRung::ownership, cost_of(owned)));
        const Ownership& o = *in.run.ownership;
        const double gpus = static_cast<double>(in.run.gpus);
        const Dollars gpu_capex = o.gpu_price * gpus;
        const Dollars server_capex = o.server_overhead * gpus;
        const Dollars network_capex = (gpu_capex + server_capex) * o.networking_share + o.networking_per_gpu * gpus;
        RungCost capital{CostRung::capital, gpu_capex + server_capex + network_capex,
                         {{"GPUs", gpu_capex}, {"servers", server_capex}, {"networking", network_capex}}, {}};
        out.rungs.push_back(capital);
    } else {
        const std::string missing(rung_needs(CostRung::ownership));
        out.rungs.push_back(unpriced(CostRung::ownership, missing));
        out.rungs.push_back(unpriced(CostRung::capital, missing));
    }

    const RungCost& base = out.rungs[static_cast<std::size_t>(out.base)];
    if (in.research_multiplier && !in.research_runs.empty()) {
        throw Error("the research compute is given both as a multiplier and as a list of runs",
                    "give pricing.research_multiplier or [[pricing.research_runs]], not both");
    }
    if (!in.research_runs.empty() && base.cost) {
        const double final_gpu_hours = static_cast<double>(in.run.gpus) * in_hours(in.run.wall_clock);
        if (!(final_gpu_hours > 0)) throw Error("the final run has no GPU-hours to price research runs by");
        const Dollars per_gpu_hour = *base.cost / final_gpu_hours;
        RungCost research{CostRung::research, *base.cost, {{fmt::format("final run (rung {})", rung_number(out.base)), *base.cost}}, {}};
        for (const ResearchRun& run : in.research_runs) {
            if (!(std::isfinite(run.gpu_hours) && run.gpu_hours > 0)) {
                throw Error(fmt::format("research run \"{}\" has {} GPU-hours; it needs a positive number", run.name, run.gpu_hours));
            }
            const Dollars cost = per_gpu_hour * run.gpu_hours;
            research.lines.push_back({fmt::format("{} ({} GPU-hours)", run.name, format_count(run.gpu_hours)), cost});
            *research.cost += cost;
        }
        out.rungs.push_back(std::move(research));
    } else if (in.research_multiplier && base.cost) {
        const double m = *in.research_multiplier;
        if (!std::isfinite(m) || m < 1.0) {
            throw Error(fmt::format("the research multiplier is {}; it must be at least 1", m),
                        "it is the model's total development compute over the final run's, e.g. 2.2");
        }
        out.rungs.push_back(RungCost{CostRung::research, *base.cost * m,
                                     {{fmt::format("final run (rung {})", rung_number(out.base)), *base.cost},
                                      {fmt::format("research and ablation compute (× {:g} − 1)", m), *base.cost * (m - 1.0)}},
                                     {}});
    } else {
        out.rungs.push_back(unpriced(CostRung::research, base.cost ? std::string(rung_needs(CostRung::research))
                                                                   : base.missing));
    }

    const RungCost& below = out.rungs.back().cost ? out.rungs.back() : base;
    if (in.staff && below.cost) {
        const Staff& st = *in.staff;
        require_non_negative(st.headcount, "the staff headcount", "100");
        require_non_negative(st.cost_per_year.value(), "the staff cost per person-year ($)", "\"$500K\"");
        require_non_negative(st.duration.value(), "the staff duration", "\"1 year\"");
        const Dollars staff = st.cost_per_year * (st.headcount * st.duration.value() / kSecondsPerYear);
        out.rungs.push_back(RungCost{CostRung::staff, *below.cost + staff,
                                     {{fmt::format("compute (rung {})", rung_number(below.rung)), *below.cost},
                                      {"R&D staff", staff}},
                                     {}});
    } else {
        out.rungs.push_back(unpriced(CostRung::staff, below.cost ? std::string(rung_needs(CostRung::staff)) : below.missing));
    }
    return out;
}

}  // namespace gpuhours
