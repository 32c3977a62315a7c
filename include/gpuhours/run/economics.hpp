// What a run costs: rental or ownership, and the energy it draws.
// Inputs are plain numbers from the run (wall clock, GPU-hours) and the scenario's [pricing]; nothing here knows
// how they were computed.
#pragma once

#include <gpuhours/units/units.hpp>

#include <optional>
#include <string>
#include <vector>

namespace gpuhours {

// Owning the hardware instead of renting it: capital amortised over its life, plus the electricity.
struct Ownership {
    Dollars gpu_price;              // per GPU
    Dollars server_overhead;        // per GPU: host, chassis, memory, storage share
    double networking_share = 0.0;  // networking capex as a fraction of GPU + server capex
    Seconds amortisation;           // depreciation period (e.g. 4 years)
    Dollars networking_per_gpu;     // networking capex per GPU (switches, optics, NICs), added to the share's
    double cost_of_capital = 0.0;   // annual rate (0.08 = 8% a year); 0: straight-line depreciation
    double residual_value = 0.0;    // fraction of the capex the hardware is still worth after `amortisation`
};

// Years as the economics count them: 365.25 days (units.hpp's year).
inline constexpr double kSecondsPerYear = 365.25 * 86400.0;

// The share of the capex a run of `wall_clock` is charged: the equivalent annual cost of the hardware (capital
// recovery factor, e.g. Brealey, Myers & Allen, "Principles of Corporate Finance", ch. 6) per dollar of capex,
// times the run's length in years:
//   i > 0: (1 − r (1 + i)^−L) × i / (1 − (1 + i)^−L) × T
//   i = 0: (1 − r) / L × T   (straight line)
// with i = cost_of_capital per year, L = amortisation in years, r = residual_value, T = wall clock in years.
// Dimensionless. Assumes the run is charged for its time only (no idle time between runs).
double capex_share(const Ownership& o, Seconds wall_clock);

// A share of the run's GPU-hours rented at its own price (a phase priced apart, e.g. post-training on other
// hardware). The shares' fractions sum to 1; the rental total is Σ GPU-hours × fraction × price.
struct RentalShare {
    std::string item;      // "rental: pre-training"
    double fraction = 0.0;
    Dollars gpu_hour;
};

struct CostInputs {
    int gpus = 0;
    Seconds wall_clock;                  // of the whole run, interruptions included
    Watts gpu_power;                     // per GPU at its average utilisation (TDP × utilisation)
    double pue = 1.0;                    // facility power / IT power
    double host_power_share = 0.0;       // non-GPU IT power as a fraction of GPU power (CPUs, NICs, switches)
    std::optional<EnergyPrice> electricity;
    std::optional<Dollars> gpu_hour;     // rental price per GPU-hour: rental cost = GPU-hours × price
    std::vector<RentalShare> rental_shares;  // when not empty: per-share rental lines instead of gpu_hour's one
    std::optional<Ownership> ownership;  // ownership cost = capex × wall_clock / amortisation + electricity
};

struct CostLine {
    std::string item;  // "rental", "GPU capex (amortised)", "electricity", …
    Dollars cost;
};

struct CostBreakdown {
    double gpu_hours = 0.0;
    Joules energy;          // facility energy: GPUs × power × (1 + host share) × PUE × wall clock
    std::vector<CostLine> lines;
    Dollars total;          // Σ lines
    std::string basis;      // what the total includes: "rental", "ownership" (amortised capex + electricity), or
                            // "ownership, excluding electricity" (no electricity price given)
};

// ---- the cost ladder ---------------------------------------------------------------------------------------
// The rungs analysts count a model's cost on (Cottier et al., "The rising costs of training frontier AI models",
// Epoch AI, arXiv 2405.21015: cloud rental; amortised hardware capex plus energy; total hardware acquisition; the
// full development cost with experiments and R&D staff). Each rung is its own figure, never summed with another.
enum class CostRung { rental, ownership, capital, research, staff };
inline constexpr CostRung kCostRungs[] = {CostRung::rental, CostRung::ownership, CostRung::capital, CostRung::research,
                                          CostRung::staff};
std::string_view to_string(CostRung r);  // "rental", "ownership", "capital", "research", "staff"
int rung_number(CostRung r);              // 1–5
std::string_view rung_title(CostRung r);  // "the final run at rental prices", …
std::optional<CostRung> cost_rung_from_string(std::string_view name);
// What `rung` needs to be priced, said as cost_ladder's `RungCost::missing` says it when absent: rung 1 a rental
// price (the run's, a phase's or the chip catalog's), rungs 2 and 3 ownership figures, rung 4 research compute (a
// multiplier or a list of runs), rung 5 staff figures. Rungs 4 and 5 also need the run priced at its base rung.
std::string_view rung_needs(CostRung rung);
inline constexpr std::string_view kCostRungHint =
    "use one of \"rental\" (rung 1: the final run at rental prices), \"ownership\" (2: the final run at amortised "
    "ownership plus energy), \"capital\" (3: the cluster's total capital outlay), \"research\" (4: the run plus "
    "research and ablation compute), \"staff\" (5: plus R&D staff)";

// R&D staff: headcount × cost per person-year × duration.
struct Staff {
    double headcount = 0.0;
    Dollars cost_per_year;  // fully loaded, per person
    Seconds duration;       // how long they work on the model
};

// One extra run of the model's development (an ablation, a smaller-scale experiment, a failed run): rung 4 as a list.
struct ResearchRun {
    std::string name;
    double gpu_hours = 0.0;  // > 0
    std::string source;      // where the figure comes from
};

struct LadderInputs {
    CostInputs run;                          // the run as cost_of prices it (its gpu_hour may be empty)
    std::optional<Dollars> catalog_rental;   // rung 1's price when the run has none: the chip catalog's
    // Total compute of the model's development / the final run's (≥ 1): experiments, ablations, failed runs.
    std::optional<double> research_multiplier;
    // Or the research compute as a list of runs, each priced at the base rung's own cost per GPU-hour of the final
    // run (its cost / its GPU-hours: gpus × wall clock). At most one of the two is given.
    std::vector<ResearchRun> research_runs;
    std::optional<Staff> staff;
};

struct RungCost {
    CostRung rung = CostRung::rental;
    std::optional<Dollars> cost;   // nullopt: not priced, `missing` says what to add
    std::vector<CostLine> lines;   // how the cost is made up
    std::string missing;
};

struct CostLadder {
    CostRung base = CostRung::rental;  // the scenario's own basis (cost_of's): rental when priced so, else ownership
    std::vector<RungCost> rungs;        // every rung, in order
    [[nodiscard]] const RungCost& at(CostRung r) const;
};

// Every rung of the ladder: (1) the run at its rental price, else the catalog's; (2) the run at amortised
// ownership plus electricity (cost_of without a rental price); (3) the capital outlay: gpus × (GPU price + server
// overhead) × (1 + networking share) + gpus × networking per GPU; (4) the base rung (1 or 2, as `base`) ×
// research_multiplier, or the base rung + Σ research_runs' GPU-hours × (base rung cost / the final run's GPU-hours);
// (5) rung 4 (or the base rung without a multiplier) + staff headcount × cost per year ×
// duration in years. A rung without its inputs is not priced. Throws Error as cost_of does, and for a research
// multiplier below 1, a research run's GPU-hours not positive and finite, both a multiplier and runs, or a negative
// staff input.
CostLadder cost_ladder(const LadderInputs& inputs);

// Pricing policy (one basis per breakdown, chosen deterministically):
//   - `gpu_hour` given: basis "rental", total = GPU-hours × price. The rental price is all-in (power, cooling,
//     hosts and network included), so electricity is not added, and any `ownership` figures are ignored.
//   - otherwise `ownership`: GPU, server and networking capex each charged capex × capex_share(ownership,
//     wall_clock) (capex × wall_clock / amortisation without cost of capital or residual value), plus energy ×
//     electricity price when a price is given.
// Throws Error when neither a rental price nor ownership figures are given, on a non-positive GPU count or
// amortisation period, on PUE < 1, or on negative or non-finite inputs.
CostBreakdown cost_of(const CostInputs& inputs);

}  // namespace gpuhours
