// Reads [pricing] (rental, electricity, ownership, staff); [reliability] is read_reliability.cpp.
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <gpuhours/scenario/limits.hpp>

#include <fmt/format.h>

#include <type_traits>

namespace gpuhours::detail {

const Node* note_figure(TableReader& r, std::string_view key, std::vector<Assumption>& out,
                        const std::function<std::string(const std::string&, const SourceRef&)>& source_of) {
    const Node* n = r.optional(key);
    if (n == nullptr) return nullptr;
    std::string source;
    const Node& value = detail::figure_value(*n, r.path_of(key), &source);
    std::string text;
    switch (value.kind) {
        case Node::Kind::string: text = value.text; break;
        case Node::Kind::integer: text = std::to_string(value.integer); break;
        case Node::Kind::floating: text = fmt::format("{:g}", value.floating); break;
        default: text = "…";
    }
    out.push_back({r.path_of(key), text, source_of(source, value.where)});
    return &value;
}

namespace {

// Reads [pricing]'s figures (each a value or { value = …, source = "…" }) and notes each one read as an assumption.
class PricingReader {
public:
    PricingReader(const Node& table, std::string name, std::vector<Assumption>& out, std::string catalog)
        : r_(table, std::move(name)), out_(out), catalog_(std::move(catalog)) {}
    TableReader& reader() { return r_; }

    // The value node of `key` (nullptr when absent), recorded with its source.
    const Node* figure(std::string_view key) {
        return note_figure(r_, key, out_, [&](const std::string& source, const SourceRef& where) {
            if (source.empty()) return set_in_scenario(where);
            // The catalog's file is named only for a figure written there, not for one the scenario writes over it.
            const bool from_catalog = !catalog_.empty() && where.file.ends_with(fmt::format("pricing/{}.toml", catalog_));
            return from_catalog ? fmt::format("{} (scenarios/pricing/{}.toml)", source, catalog_) : source;
        });
    }
    template <class Q>
    std::optional<Q> quantity(std::string_view key, Q (*parse)(std::string_view), std::string_view example) {
        const Node* n = figure(key);
        if (n == nullptr) return std::nullopt;
        const Q q = detail::as_quantity(*n, r_.path_of(key), parse, example);
        // Out of range, the search for every mistake reads on with `example` in the value's place (taking the value
        // out of `{ value = …, source = … }` made a spurious "missing required key" first; a third fresh verifier).
        const auto example_node = [&] { return detail::stand_in(n->where, detail::Node::Kind::string, 0, 0.0, std::string(example)); };
        if (q.value() < 0) {
            throw detail::KeyError(n->where, n->where, false, fmt::format("`{}` cannot be negative", r_.path_of(key)), {}, example_node());
        }
        // Prices only (a duration here is an amortisation or a staffing period): dollars, and an energy price in $/kWh.
        double price = 0.0;  // a duration: no price limit
        if constexpr (std::is_same_v<Q, Dollars>) price = q.value();
        if constexpr (std::is_same_v<Q, EnergyPrice>) price = q.value() * 3.6e6;  // $/J → $/kWh
        if (key == "gpu_hour" && !(price <= limits::kGpuHourPriceMax)) {
            throw detail::KeyError(n->where, n->where, false,
                                   fmt::format("`{}` = \"{}\" is beyond the supported range of prices per GPU-hour (limit ${:g})",
                                               r_.path_of(key), n->text, limits::kGpuHourPriceMax),
                                   "a GPU-hour rents for dollars (an H100 about $2–3): check the suffix, e.g. `gpu_hour = \"$2.35\"`",
                                   example_node());
        }
        if (key == "electricity" && !(price <= limits::kElectricityPriceMax)) {
            throw detail::KeyError(n->where, n->where, false,
                                   fmt::format("`{}` = \"{}\" is beyond the supported range of electricity prices (limit ${:g}/kWh)",
                                               r_.path_of(key), n->text, limits::kElectricityPriceMax),
                                   "electricity costs cents per kWh (US industrial about $0.08): check the unit, e.g. "
                                   "`electricity = \"$0.08/kWh\"`",
                                   example_node());
        }
        if (!(price <= limits::kPriceMax)) {
            throw detail::KeyError(n->where, n->where, false,
                                   fmt::format("`{}` = \"{}\" is beyond the supported range of prices (limit {:g} {})", r_.path_of(key),
                                               n->text, limits::kPriceMax, std::is_same_v<Q, EnergyPrice> ? "$/kWh" : "$"),
                                   fmt::format("check the unit and the exponent, e.g. `{} = \"{}\"`", key, example), example_node());
        }
        return q;
    }
    // A number of at least `min` and at most `max` (a bound on a unit slip: a PUE of 10^300 made the energy infinite,
    // an internal error, where a located one belongs).
    double number_at_least(std::string_view key, double min, double fallback, std::string_view hint, double max = 1e6) {
        const Node* n = figure(key);
        if (n == nullptr) {
            // The default the figures then rest on is an assumption too (energy at PUE 1 after `unset`).
            out_.push_back({r_.path_of(key), fmt::format("{:g}", fallback), fmt::format("default, not written: {}", hint)});
            return fallback;
        }
        const double v = detail::as_number(*n, r_.path_of(key));
        // Out of range: the nearest value in it stands in for the search for every mistake (see quantity()).
        if (!(v >= min)) {
            throw detail::KeyError(n->where, n->where, false, fmt::format("`{}` = {} must be at least {}", r_.path_of(key), v, min),
                                   std::string(hint), detail::stand_in(n->where, detail::Node::Kind::floating, 0, min));
        }
        if (!(v <= max)) {
            throw detail::KeyError(n->where, n->where, false,
                                   fmt::format("`{}` = {} is beyond the supported range (limit {})", r_.path_of(key), v, max),
                                   std::string(hint), detail::stand_in(n->where, detail::Node::Kind::floating, 0, max));
        }
        return v;
    }
    double fraction_below_one(std::string_view key, std::string_view hint) {
        const Node* n = figure(key);
        if (n == nullptr) return 0.0;
        const double v = detail::as_number(*n, r_.path_of(key));
        if (!(v >= 0.0 && v < 1.0)) {
            throw detail::KeyError(n->where, n->where, false, fmt::format("`{}` = {} must be a fraction from 0 to below 1", r_.path_of(key), v),
                                   std::string(hint), detail::stand_in(n->where, detail::Node::Kind::floating, 0, 0.0));
        }
        return v;
    }

private:
    TableReader r_;
    std::vector<Assumption>& out_;
    std::string catalog_;
};

Ownership read_ownership(const Node& node, std::vector<Assumption>& assumptions, const std::string& catalog) {
    PricingReader p(detail::as_table(node, "pricing.ownership"), "pricing.ownership", assumptions, catalog);
    TableReader& orr = p.reader();
    Ownership own;
    (void)orr.required("gpu_price", "the purchase price of one GPU, e.g. \"$25K\"");
    own.gpu_price = *p.quantity("gpu_price", parse_dollars, "$25K");
    own.server_overhead = p.quantity("server_overhead", parse_dollars, "$8K").value_or(Dollars(0));
    own.networking_share = p.number_at_least("networking_share", 0.0, 0.0, "networking capex as a fraction of GPU + server capex, e.g. 0.15");
    own.networking_per_gpu = p.quantity("networking_per_gpu", parse_dollars, "$4.39K").value_or(Dollars(0));
    const Node& amortisation = orr.required("amortisation", "the depreciation period, e.g. \"4 years\"");
    own.amortisation = *p.quantity("amortisation", parse_duration, "4 years");
    require_positive(own.amortisation.value(), amortisation, "pricing.ownership.amortisation", "an amortisation period");
    // One day to a century: "1e-300 s" made the hourly cost infinite (an internal error in run, accepted by check).
    if (!(own.amortisation.value() >= 86400.0 && own.amortisation.value() <= 100.0 * 365.25 * 86400.0)) {
        const Node& value = detail::figure_value(amortisation, "pricing.ownership.amortisation");
        throw detail::KeyError(value.where, value.where, false,
                               fmt::format("`pricing.ownership.amortisation` = \"{}\" is {} the supported range of "
                                           "amortisation periods (limit 1 day to 100 years)", value.text,
                                           limits::range_side(own.amortisation.value(), 100.0 * 365.25 * 86400.0)),
                               "hardware is written off over years, e.g. \"4 years\"",
                               detail::stand_in(value.where, detail::Node::Kind::string, 0, 0.0, "4 years"));  // read on with it
    }
    // At most 100 % a year: a rate written as a percent (8 for 8 %) made the ownership rung exceed the whole capital
    // outlay (an economics audit, session 50).
    own.cost_of_capital = p.number_at_least("cost_of_capital", 0.0, 0.0, "an annual rate as a fraction, e.g. 0.08 for 8% a year", 1.0);
    own.residual_value = p.fraction_below_one("residual_value", "the share of the price the hardware fetches after amortisation, e.g. 0.28");
    orr.finish();
    return own;
}

Staff read_staff(const Node& node, std::vector<Assumption>& assumptions, const std::string& catalog) {
    PricingReader p(detail::as_table(node, "pricing.staff"), "pricing.staff", assumptions, catalog);
    TableReader& sr = p.reader();
    Staff st;
    (void)sr.required("headcount", "people working on the model, e.g. 150");
    st.headcount = p.number_at_least("headcount", 0.0, 0.0, "a number of people, e.g. 150");
    (void)sr.required("cost_per_year", "the fully loaded cost of one person-year, e.g. \"$500K\"");
    st.cost_per_year = *p.quantity("cost_per_year", parse_dollars, "$500K");
    (void)sr.required("duration", "how long the staff work on the model, e.g. \"1 year\"");
    st.duration = *p.quantity("duration", parse_duration, "1 year");
    sr.finish();
    return st;
}

}  // namespace

PricingSpec read_pricing(const Node& given, const std::filesystem::path& catalog_dir, std::vector<Assumption>& assumptions) {
    PricingSpec s;
    Node node = given;
    if (const Node* from = given.find("from")) {
        s.from = detail::as_string(*from, "pricing.from");
        Node base = load_catalog_entry("pricing", s.from, catalog_dir, from->where);
        node.erase("from");
        detail::merge_into(base, std::move(node));
        node = std::move(base);
    }
    // A list of research runs written with the scenario replaces the catalog's default multiplier (a multiplier
    // written beside it is refused below).
    if (given.find("research_runs") != nullptr && given.find("research_multiplier") == nullptr) node.erase("research_multiplier");
    PricingReader p(node, "pricing", assumptions, s.from);
    TableReader& r = p.reader();
    s.gpu_hour = p.quantity("gpu_hour", parse_dollars, "$2");
    s.electricity = p.quantity("electricity", parse_energy_price, "$0.08/kWh");
    s.pue = p.number_at_least("pue", 1.0, 1.0, "PUE is facility power / IT power, e.g. 1.2 (reported data centres: 1.1 to about 2.5)", 10.0);
    s.utilization = p.number_at_least("utilization", 0.0, 1.0, "average GPU power as a fraction of TDP, e.g. 0.8");
    if (s.utilization > 1.0) throw ScenarioError(r.table().find("utilization")->where, "`pricing.utilization` is a fraction of TDP, at most 1");
    // A GPU that runs a training step draws power: 0 gave "energy 0 kWh" and a free electricity line (an audit).
    if (s.utilization <= 0.0) {
        throw ScenarioError(r.table().find("utilization")->where, "`pricing.utilization` = 0: the GPUs would draw no power",
                            "give the average GPU power as a fraction of TDP, above 0, e.g. 0.8 (idle is about 0.1)");
    }
    s.host_power_share = p.number_at_least("host_power_share", 0.0, 0.0, "non-GPU IT power as a fraction of GPU power, e.g. 0.3");
    if (const Node* n = r.optional("includes")) s.includes = detail::as_string(*n, "pricing.includes");
    if (r.has("research_multiplier") && r.has("research_runs")) {
        // Checked before the multiplier's own range (taking a bad multiplier out would hide it); located at the
        // multiplier, a value the search for every mistake can take out and read on with the runs.
        throw ScenarioError(r.table().find("research_multiplier")->where,
                            "the research compute is given both as `pricing.research_multiplier` and as `pricing.research_runs`",
                            "give one of the two: a multiplier on the final run, or the list of extra runs");
    }
    if (r.has("research_multiplier")) {
        s.research_multiplier = p.number_at_least("research_multiplier", 1.0, 1.0,
                                                  "total development compute / the final run's: 1 or more, e.g. 2.2 (Epoch AI's median)");
    }
    if (const Node* runs = r.optional("research_runs")) {
        if (runs->kind != Node::Kind::array || runs->items.empty()) {
            throw ScenarioError(runs->where, "`pricing.research_runs` must be a non-empty array of tables",
                                "write each run as [[pricing.research_runs]] with name, gpu_hours and source");
        }
        for (std::size_t i = 0; i < runs->items.size(); ++i) {
            const std::string name = fmt::format("pricing.research_runs[{}]", i);
            TableReader rr(detail::as_table(runs->items[i], name), name);
            ResearchRun run;
            run.name = detail::as_string(rr.required("name", "name the run, e.g. \"ablations at 16B\""), rr.path_of("name"));
            const Node& gh = rr.required("gpu_hours", "the run's GPU-hours, e.g. \"200K\"");
            run.gpu_hours = detail::as_count(gh, rr.path_of("gpu_hours"));
            require_positive(run.gpu_hours, gh, rr.path_of("gpu_hours"), "GPU-hours");
            require_within(run.gpu_hours, gh, rr.path_of("gpu_hours"), "quoted GPU-hours", 0.0, limits::kGpuHoursMax, "", "a quoted figure this large is a wrong unit or exponent (the largest published runs are tens of millions of GPU-hours)");
            run.source = detail::as_string(rr.required("source", "where the figure comes from"), rr.path_of("source"));
            rr.finish();
            assumptions.push_back(Assumption{rr.path_of("gpu_hours"), format_count(run.gpu_hours) + " GPU-hours (" + run.name + ")", run.source});
            s.research_runs.push_back(std::move(run));
        }
    }
    if (const Node* o = r.optional("ownership")) s.ownership = read_ownership(*o, assumptions, s.from);
    if (const Node* st = r.optional("staff")) s.staff = read_staff(*st, assumptions, s.from);
    r.allow("from");
    r.finish();
    return s;
}

}  // namespace gpuhours::detail
