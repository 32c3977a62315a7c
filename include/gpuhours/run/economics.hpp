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
};

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

// Pricing policy (one basis per breakdown, chosen deterministically):
//   - `gpu_hour` given: basis "rental", total = GPU-hours × price. The rental price is all-in (power, cooling,
//     hosts and network included), so electricity is not added, and any `ownership` figures are ignored.
//   - otherwise `ownership`: GPU, server and networking capex each amortised as capex × wall_clock / amortisation,
//     plus energy × electricity price when a price is given.
// Throws Error when neither a rental price nor ownership figures are given, on a non-positive GPU count or
// amortisation period, on PUE < 1, or on negative or non-finite inputs.
CostBreakdown cost_of(const CostInputs& inputs);

}  // namespace gpuhours
