// Cost and energy of a run (include/gpuhours/run/economics.hpp).
//
// Pricing policy, deterministic and stated in `CostBreakdown::basis`:
//   - a rental price wins whenever one is given: the total is GPU-hours × price and nothing else. A rental price
//     is all-in (the provider pays for power, cooling, hosts and network), so electricity is never added to it,
//     and ownership figures given alongside are ignored (one total, one basis; compare by running twice).
//   - otherwise ownership: GPU capex, server overhead and networking, each amortised linearly over
//     `amortisation` (capex × wall clock / amortisation), plus electricity when a price is given.
//     Deliberate approximation: straight-line depreciation with no residual value, no cost of capital and no
//     idle time, i.e. the run is charged exactly its share of the hardware's life.
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
        const double life_fraction = inputs.wall_clock / o.amortisation;  // share of the hardware's life used
        const Dollars gpu_capex = o.gpu_price * gpus;
        const Dollars server_capex = o.server_overhead * gpus;
        const Dollars network_capex = (gpu_capex + server_capex) * o.networking_share;
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

}  // namespace gpuhours
