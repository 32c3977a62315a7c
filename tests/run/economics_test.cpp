// Cost and energy of a run (include/gpuhours/run/economics.hpp). Every expected number is derived in a comment first.
#include <gpuhours/run/economics.hpp>
#include <gpuhours/units/error.hpp>

#include <catch2/catch.hpp>

#include <limits>

using namespace gpuhours;

namespace {

// The 2,048-GPU cluster used throughout: 700 W per GPU (H800 TDP), hosts and network add 30%, PUE 1.2.
CostInputs cluster_of_2048(Seconds wall_clock) {
    CostInputs in;
    in.gpus = 2048;
    in.wall_clock = wall_clock;
    in.gpu_power = Watts(700.0);
    in.host_power_share = 0.3;
    in.pue = 1.2;
    return in;
}

Ownership owned_h100_class() {
    // $25K per GPU, $8K server overhead per GPU, networking 15% of that capex, depreciated over 4 years.
    return Ownership{Dollars(25'000.0), Dollars(8'000.0), 0.15, days(4 * kDaysPerYear), Dollars(0.0), 0.0, 0.0};
}

}  // namespace

TEST_CASE("DeepSeek-V3's rental arithmetic gives 5.576 million dollars for 2788K GPU-hours at 2 dollars", "[economics]") {
    // DeepSeek-V3 report §1 Table 1: 2,788K H800 GPU-hours at $2/GPU-hour = $5.576M.
    // On 2,048 GPUs: 2,788,000 / 2,048 = 1,361.328125 h of wall clock (exact in binary).
    CostInputs in = cluster_of_2048(hours(2'788'000.0 / 2048.0));
    in.gpu_hour = Dollars(2.0);
    const CostBreakdown c = cost_of(in);
    // GPU-hours = 2,048 × 1,361.328125 = 2,788,000; cost = 2,788,000 × $2 = $5,576,000.
    CHECK(c.gpu_hours == Approx(2'788'000.0));
    CHECK(c.total.value() == Approx(5'576'000.0));
    CHECK(c.basis == "rental");
    REQUIRE(c.lines.size() == 1);
    CHECK(c.lines[0].item == "rental");
    CHECK(c.lines[0].cost.value() == Approx(5'576'000.0));
}

TEST_CASE("facility energy counts GPU power plus host share scaled by PUE", "[economics]") {
    // 2,048 × 700 W = 1,433,600 W of GPU power; × (1 + 0.3) = 1,863,680 W of IT power; × PUE 1.2 = 2,236,416 W.
    // Over 1,000 h: 2,236,416 kWh = 2,236.416 MWh = 2,236,416 × 3.6e6 J = 8.0510976e12 J.
    CostInputs in = cluster_of_2048(hours(1000.0));
    in.gpu_hour = Dollars(2.0);
    const CostBreakdown c = cost_of(in);
    CHECK(c.energy.value() == Approx(8.0510976e12));
    CHECK(c.energy.value() / kJoulesPerKwh == Approx(2'236'416.0));
    // GPU-hours = 2,048 × 1,000 = 2,048,000.
    CHECK(c.gpu_hours == Approx(2'048'000.0));
}

TEST_CASE("a rental price is all-in so electricity is not added to it", "[economics]") {
    // Energy as above (2,236,416 kWh); at $0.08/kWh it would be $178,913.28, but the rental total stays
    // 2,048,000 GPU-hours × $2 = $4,096,000.
    CostInputs in = cluster_of_2048(hours(1000.0));
    in.gpu_hour = Dollars(2.0);
    in.electricity = EnergyPrice(0.08 / kJoulesPerKwh);
    const CostBreakdown c = cost_of(in);
    CHECK(c.basis == "rental");
    REQUIRE(c.lines.size() == 1);
    CHECK(c.total.value() == Approx(4'096'000.0));
}

TEST_CASE("electricity for an owned cluster is energy times the price per kWh", "[economics]") {
    // 1,000 h: 2,236,416 kWh × $0.08 = $178,913.28.
    // Capex over 1,000 h of a 4-year (35,064 h) life: 1,000 / 35,064 of 2,048 × ($25K + $8K) × 1.15 = $77,721,600,
    // i.e. 77,721,600,000 / 35,064 = $2,216,564.00 (to the cent); total $2,216,564.00 + $178,913.28 = $2,395,477.28.
    CostInputs in = cluster_of_2048(hours(1000.0));
    in.electricity = EnergyPrice(0.08 / kJoulesPerKwh);
    in.ownership = owned_h100_class();
    const CostBreakdown c = cost_of(in);
    REQUIRE(c.lines.size() == 4);
    CHECK(c.lines[3].item == "electricity");
    CHECK(c.lines[3].cost.value() == Approx(178'913.28));
    CHECK(c.total.value() == Approx(2'395'477.28));
}

TEST_CASE("owning the cluster for a 60-day run amortises capex over four years and adds electricity", "[economics]") {
    // Life used: 60 days / (4 × 365.25 = 1,461 days) = 60 / 1,461.
    // GPU capex       2,048 × $25,000 = $51,200,000  → × 60/1,461 = $2,102,669.40
    // server overhead 2,048 × $8,000  = $16,384,000  → × 60/1,461 =   $672,854.21
    // networking      0.15 × $67,584,000 = $10,137,600 → × 60/1,461 = $416,328.54
    // electricity     2,236,416 W × 1,440 h = 3,220,439.04 kWh × $0.08 = $257,635.12
    // total           $3,449,487.28
    CostInputs in = cluster_of_2048(days(60.0));
    in.electricity = EnergyPrice(0.08 / kJoulesPerKwh);
    in.ownership = owned_h100_class();
    const CostBreakdown c = cost_of(in);
    CHECK(c.basis == "ownership");
    REQUIRE(c.lines.size() == 4);
    CHECK(c.lines[0].item == "GPU capex (amortised)");
    CHECK(c.lines[0].cost.value() == Approx(2'102'669.40));
    CHECK(c.lines[1].item == "server overhead (amortised)");
    CHECK(c.lines[1].cost.value() == Approx(672'854.21));
    CHECK(c.lines[2].item == "networking (amortised)");
    CHECK(c.lines[2].cost.value() == Approx(416'328.54));
    CHECK(c.lines[3].cost.value() == Approx(257'635.12));
    CHECK(c.total.value() == Approx(3'449'487.28));
    // GPU-hours = 2,048 × 1,440 = 2,949,120.
    CHECK(c.gpu_hours == Approx(2'949'120.0));
}

TEST_CASE("ownership without an electricity price says the total excludes electricity", "[economics]") {
    // Capex only: $2,102,669.40 + $672,854.21 + $416,328.54 = $3,191,852.16 (= $77,721,600 × 60/1,461).
    CostInputs in = cluster_of_2048(days(60.0));
    in.ownership = owned_h100_class();
    const CostBreakdown c = cost_of(in);
    CHECK(c.basis == "ownership, excluding electricity");
    CHECK(c.lines.size() == 3);
    CHECK(c.total.value() == Approx(3'191'852.16));
}

TEST_CASE("a rental price takes precedence over ownership figures", "[economics]") {
    // Both given: the rental basis wins, $2 × 2,949,120 GPU-hours = $5,898,240 for 60 days on 2,048 GPUs.
    CostInputs in = cluster_of_2048(days(60.0));
    in.gpu_hour = Dollars(2.0);
    in.electricity = EnergyPrice(0.08 / kJoulesPerKwh);
    in.ownership = owned_h100_class();
    const CostBreakdown c = cost_of(in);
    CHECK(c.basis == "rental");
    CHECK(c.lines.size() == 1);
    CHECK(c.total.value() == Approx(5'898'240.0));
}

TEST_CASE("a run with neither a rental price nor ownership figures cannot be priced", "[economics]") {
    CostInputs in = cluster_of_2048(hours(1000.0));
    in.electricity = EnergyPrice(0.08 / kJoulesPerKwh);
    CHECK_THROWS_AS(cost_of(in), Error);
    CHECK_THROWS_WITH(cost_of(in), Catch::Contains("pricing.gpu_hour"));
}

TEST_CASE("negative or non-finite cost inputs are rejected with what to change", "[economics]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CostInputs base = cluster_of_2048(hours(1000.0));
    base.gpu_hour = Dollars(2.0);
    REQUIRE_NOTHROW(cost_of(base));

    CostInputs in = base;
    in.gpu_hour = Dollars(-2.0);
    CHECK_THROWS_WITH(cost_of(in), Catch::Contains("rental price") && Catch::Contains("e.g."));
    in = base;
    in.wall_clock = Seconds(nan);
    CHECK_THROWS_AS(cost_of(in), Error);
    in = base;
    in.gpus = 0;
    CHECK_THROWS_AS(cost_of(in), Error);
    in = base;
    in.gpu_power = Watts(-700.0);
    CHECK_THROWS_AS(cost_of(in), Error);
    in = base;
    in.pue = 0.9;
    CHECK_THROWS_WITH(cost_of(in), Catch::Contains("PUE"));
    in = base;
    in.host_power_share = nan;
    CHECK_THROWS_AS(cost_of(in), Error);
    in = base;
    in.electricity = EnergyPrice(-1.0);
    CHECK_THROWS_AS(cost_of(in), Error);
    in = base;
    in.ownership = owned_h100_class();
    in.ownership->amortisation = Seconds(0.0);
    CHECK_THROWS_WITH(cost_of(in), Catch::Contains("amortisation"));
    in.ownership = owned_h100_class();
    in.ownership->networking_share = -0.1;
    CHECK_THROWS_AS(cost_of(in), Error);
}

TEST_CASE("phases priced apart each get a rental line of their share of the GPU-hours", "[economics]") {
    // 2,048 GPUs for 1,000 h = 2,048,000 GPU-hours. 90% at $2: 1,843,200 × $2 = $3,686,400; 10% at $4:
    // 204,800 × $4 = $819,200; total $4,505,600 (a single $2 price would give $4,096,000).
    CostInputs in = cluster_of_2048(hours(1000.0));
    in.gpu_hour = Dollars(2.0);
    in.rental_shares = {RentalShare{"rental: pre-training", 0.9, Dollars(2.0)}, RentalShare{"rental: post-training", 0.1, Dollars(4.0)}};
    const CostBreakdown c = cost_of(in);
    REQUIRE(c.lines.size() == 2);
    CHECK(c.lines[0].item == "rental: pre-training");
    CHECK(c.lines[0].cost.value() == Approx(3'686'400.0));
    CHECK(c.lines[1].cost.value() == Approx(819'200.0));
    CHECK(c.total.value() == Approx(4'505'600.0));
    CHECK(c.basis == "rental");
}

TEST_CASE("rental shares that do not add up to the whole run are refused", "[economics]") {
    CostInputs in = cluster_of_2048(hours(1000.0));
    in.rental_shares = {RentalShare{"a", 0.5, Dollars(2.0)}, RentalShare{"b", 0.4, Dollars(2.0)}};
    CHECK_THROWS_WITH(cost_of(in), Catch::Contains("sum to 0.9"));
}

TEST_CASE("the capex share with a cost of capital is the capital recovery factor net of the residual value", "[economics]") {
    // i = 8 % a year, L = 4 years, r = 0.28, T = 60 days = 60 / 365.25 = 0.164271 years.
    // (1 + i)^−L = 1.08^−4 = 0.7350298; capital recovery factor i / (1 − 0.7350298) = 0.3019208 per year;
    // charged per year: (1 − 0.28 × 0.7350298) × 0.3019208 = 0.2397830; × T = 0.0393894.
    // Straight line (i = 0): (1 − 0.28) / 4 × T = 0.0295688; and a tiny rate tends to it (the i → 0 limit).
    Ownership o = owned_h100_class();
    o.residual_value = 0.28;
    o.cost_of_capital = 0.08;
    CHECK(capex_share(o, days(60.0)) == Approx(0.0393894).epsilon(1e-6));
    o.cost_of_capital = 0.0;
    CHECK(capex_share(o, days(60.0)) == Approx(0.0295688).epsilon(1e-6));
    o.cost_of_capital = 1e-9;
    CHECK(capex_share(o, days(60.0)) == Approx(0.0295688).epsilon(1e-6));
    // Below the double's resolution of 1 + i (1e-16: 1 + i == 1) the limit still holds, finite, to 1e-9 (it was a
    // division by zero, an internal error), and at 1e-12 to 1e-9 (cancellation lost the fifth digit).
    o.cost_of_capital = 1e-16;
    CHECK(capex_share(o, days(60.0)) == Approx(0.72 / 4.0 * 60.0 / 365.25).epsilon(1e-9));
    o.cost_of_capital = 1e-12;
    CHECK(capex_share(o, days(60.0)) == Approx(0.72 / 4.0 * 60.0 / 365.25).epsilon(1e-9));
    // Without residual value or cost of capital it is the life used, T / L = 60 / 1,461 (the test above).
    CHECK(capex_share(owned_h100_class(), days(60.0)) == Approx(60.0 / 1461.0));
}

TEST_CASE("the cost ladder prices each rung from its own inputs, never summing two", "[economics]") {
    // 2,048 GPUs for 60 days = 2,949,120 GPU-hours, rented at $2 and also owned (owned_h100_class, $0.08/kWh):
    // (1) rental      2,949,120 × $2 = $5,898,240
    // (2) ownership   $3,449,487.28 (the 60-day ownership case above, electricity included)
    // (3) capital     2,048 × ($25,000 + $8,000) × 1.15 = $77,721,600 (networking 15 % of GPU + server capex)
    // (4) research    the base rung (rental: the scenario is priced by rental) × 2.2 = $12,976,128
    // (5) staff       rung 4 + 100 people × $500,000 a year × 0.5 year = $12,976,128 + $25,000,000 = $37,976,128
    LadderInputs in;
    in.run = cluster_of_2048(days(60.0));
    in.run.gpu_hour = Dollars(2.0);
    in.run.electricity = EnergyPrice(0.08 / kJoulesPerKwh);
    in.run.ownership = owned_h100_class();
    in.research_multiplier = 2.2;
    in.staff = Staff{100.0, Dollars(500'000.0), days(kDaysPerYear / 2)};
    const CostLadder ladder = cost_ladder(in);
    CHECK(ladder.base == CostRung::rental);
    CHECK(ladder.at(CostRung::rental).cost->value() == Approx(5'898'240.0));
    CHECK(ladder.at(CostRung::ownership).cost->value() == Approx(3'449'487.28));
    CHECK(ladder.at(CostRung::capital).cost->value() == Approx(77'721'600.0));
    CHECK(ladder.at(CostRung::research).cost->value() == Approx(12'976'128.0));
    CHECK(ladder.at(CostRung::staff).cost->value() == Approx(37'976'128.0));

    // Without the rental price the base is ownership: rung 4 = $3,449,487.28 × 2.2 = $7,588,872.02, rung 1 is
    // priced at the catalog's rental price when one is given ($2.5: 2,949,120 × 2.5 = $7,372,800), else it says
    // what to add.
    in.run.gpu_hour.reset();
    in.catalog_rental = Dollars(2.5);
    const CostLadder owned = cost_ladder(in);
    CHECK(owned.base == CostRung::ownership);
    CHECK(owned.at(CostRung::research).cost->value() == Approx(7'588'872.02));
    CHECK(owned.at(CostRung::rental).cost->value() == Approx(7'372'800.0));
    in.catalog_rental.reset();
    const CostLadder no_rental = cost_ladder(in);
    CHECK_FALSE(no_rental.at(CostRung::rental).cost);
    CHECK_THAT(no_rental.at(CostRung::rental).missing, Catch::Contains("pricing.gpu_hour"));

    // A multiplier below 1 would make development cheaper than the final run: refused.
    in.research_multiplier = 0.97;
    CHECK_THROWS_WITH(cost_ladder(in), Catch::Contains("at least 1"));
}

TEST_CASE("rung 4 as a list of research runs prices each at the final run's cost per GPU-hour", "[economics]") {
    // 2,048 GPUs for 60 days = 2,949,120 GPU-hours rented at $2 (rung 1 = $5,898,240, so $2 per GPU-hour of the
    // final run). Two extra runs of 400K and 1.5M GPU-hours: $800,000 and $3,000,000; rung 4 = $9,698,240.
    LadderInputs in;
    in.run = cluster_of_2048(days(60.0));
    in.run.gpu_hour = Dollars(2.0);
    in.research_runs = {ResearchRun{"ablations", 400'000.0, "test"}, ResearchRun{"small-scale runs", 1'500'000.0, "test"}};
    const CostLadder ladder = cost_ladder(in);
    const RungCost& research = ladder.at(CostRung::research);
    REQUIRE(research.cost);
    CHECK(research.cost->value() == Approx(9'698'240.0));
    REQUIRE(research.lines.size() == 3);
    CHECK(research.lines[1].cost.value() == Approx(800'000.0));
    CHECK(research.lines[2].cost.value() == Approx(3'000'000.0));
    // A run of no GPU-hours, or a list beside a multiplier, is refused.
    in.research_runs[0].gpu_hours = 0.0;
    CHECK_THROWS_WITH(cost_ladder(in), Catch::Contains("positive"));
    in.research_runs[0].gpu_hours = 400'000.0;
    in.research_multiplier = 2.2;
    CHECK_THROWS_WITH(cost_ladder(in), Catch::Contains("both"));
}
