// Reads [pricing] (rental, electricity, ownership) and [reliability] (failures, restarts, checkpoints).
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <gpuhours/scenario/limits.hpp>

#include <fmt/format.h>

namespace gpuhours::detail {
namespace {

Seconds read_nonnegative_duration(TableReader& r, std::string_view key, std::string_view example, Seconds fallback) {
    const Node* n = r.optional(key);
    if (n == nullptr) return fallback;
    const std::string path = r.path_of(key);
    const Seconds v = detail::as_quantity(*n, path, parse_duration, example);
    if (v.value() < 0) throw ScenarioError(n->where, fmt::format("`{}` cannot be negative", path));
    require_within(v.value(), *n, path, "reliability durations", 0.0, limits::kReliabilityDurationMax, "s",
                   "restarts and checkpoint writes take minutes, intervals minutes to hours; check the unit");
    return v;
}

double read_number_at_least(TableReader& r, std::string_view key, double min, double fallback, std::string_view hint) {
    const Node* n = r.optional(key);
    if (n == nullptr) return fallback;
    const std::string path = r.path_of(key);
    const double v = detail::as_number(*n, path);
    if (!(v >= min)) throw ScenarioError(n->where, fmt::format("`{}` = {} must be at least {}", path, v, min), std::string(hint));
    return v;
}

}  // namespace

ReliabilitySpec read_reliability(const Node& node) {
    ReliabilitySpec s;
    TableReader r(node, "reliability");
    s.restart_time = read_nonnegative_duration(r, "restart_time", "15 min", Seconds(0));
    s.checkpoint_write = read_nonnegative_duration(r, "checkpoint_write", "1 min", Seconds(0));
    if (const Node* n = r.optional("storage_bandwidth")) {
        if (r.has("checkpoint_write")) {
            throw ScenarioError(n->where, "give one of reliability.checkpoint_write and reliability.storage_bandwidth",
                                "checkpoint_write is the time of one write; storage_bandwidth derives it from the checkpoint's size");
        }
        s.storage_bandwidth = detail::as_quantity(*n, "reliability.storage_bandwidth", parse_bandwidth, "\"1 TB/s\"");
        require_positive(s.storage_bandwidth->value(), *n, "reliability.storage_bandwidth", "a bandwidth");
    }
    if (const Node* a = r.optional("async_checkpoint")) s.async_checkpoint = detail::as_bool(*a, "reliability.async_checkpoint");
    if (r.has("checkpoint_interval")) {
        s.checkpoint_interval = read_nonnegative_duration(r, "checkpoint_interval", "30 min", Seconds(0));
        if (s.checkpoint_interval->value() <= 0) {
            throw ScenarioError(r.table().find("checkpoint_interval")->where, "`reliability.checkpoint_interval` must be positive",
                                "leave it out to use the Young/Daly optimum");
        }
    }
    if (const Node* f = r.optional("failures")) {
        if (f->kind != Node::Kind::array) {
            throw ScenarioError(f->where, "`reliability.failures` must be an array of tables",
                                "write each kind as a [[reliability.failures]] block");
        }
        for (std::size_t i = 0; i < f->items.size(); ++i) {
            const std::string name = fmt::format("reliability.failures[{}]", i);
            TableReader fr(detail::as_table(f->items[i], name), name);
            FailureClass c;
            c.name = detail::as_string(fr.required("name", "name the kind of interruption, e.g. \"GPU\""), fr.path_of("name"));
            const Node* gpu = fr.optional("mtbf_per_gpu");
            const Node* node_mtbf = fr.optional("mtbf_per_node");
            if ((gpu == nullptr) == (node_mtbf == nullptr)) {
                throw ScenarioError(f->items[i].where, fmt::format("{} needs exactly one of mtbf_per_gpu or mtbf_per_node", name),
                                    "e.g. mtbf_per_gpu = \"50700 h\": one interruption per 50,700 GPU-hours");
            }
            const Node& n = gpu ? *gpu : *node_mtbf;
            const std::string path = fr.path_of(gpu ? "mtbf_per_gpu" : "mtbf_per_node");
            const Seconds mtbf = detail::as_quantity(n, path, parse_duration, "50700 h");
            require_positive(mtbf.value(), n, path, "a mean time between failures");
            if (!(mtbf.value() >= limits::kMtbfMin)) {
                throw ScenarioError(n.where,
                                    fmt::format("`{}` = {:g} s is beyond the supported range of mean times between "
                                                "failures (limit at least {:g} s)", path, mtbf.value(), limits::kMtbfMin),
                                    "an MTBF per GPU or node is thousands of hours (e.g. \"50700 h\"); check the unit");
            }
            c.where = n.where;
            c.rate_per_unit_hour = 1.0 / in_hours(mtbf);
            c.per_node = node_mtbf != nullptr;
            if (const Node* src = fr.optional("source")) (void)detail::as_string(*src, fr.path_of("source"));
            fr.finish();
            s.failures.push_back(c);
        }
    }
    r.finish();
    return s;
}

PricingSpec read_pricing(const Node& node) {
    PricingSpec s;
    TableReader r(node, "pricing");
    if (const Node* n = r.optional("gpu_hour")) {
        s.gpu_hour = detail::as_quantity(*n, "pricing.gpu_hour", parse_dollars, "$2");
        if (s.gpu_hour->value() < 0) throw ScenarioError(n->where, "`pricing.gpu_hour` cannot be negative");
    }
    if (const Node* n = r.optional("electricity")) {
        s.electricity = detail::as_quantity(*n, "pricing.electricity", parse_energy_price, "$0.08/kWh");
        if (s.electricity->value() < 0) throw ScenarioError(n->where, "`pricing.electricity` cannot be negative");
    }
    s.pue = read_number_at_least(r, "pue", 1.0, 1.0, "PUE is facility power / IT power, e.g. 1.2");
    s.utilization = read_number_at_least(r, "utilization", 0.0, 1.0, "average GPU power as a fraction of TDP, e.g. 0.8");
    if (s.utilization > 1.0) throw ScenarioError(r.table().find("utilization")->where, "`pricing.utilization` is a fraction of TDP, at most 1");
    s.host_power_share = read_number_at_least(r, "host_power_share", 0.0, 0.0, "non-GPU IT power as a fraction of GPU power, e.g. 0.3");
    if (const Node* n = r.optional("includes")) s.includes = detail::as_string(*n, "pricing.includes");
    if (const Node* o = r.optional("ownership")) {
        TableReader orr(detail::as_table(*o, "pricing.ownership"), "pricing.ownership");
        Ownership own;
        own.gpu_price = detail::as_quantity(orr.required("gpu_price"), "pricing.ownership.gpu_price", parse_dollars, "$25K");
        if (const Node* n = orr.optional("server_overhead")) own.server_overhead = detail::as_quantity(*n, "pricing.ownership.server_overhead", parse_dollars, "$8K");
        own.networking_share = read_number_at_least(orr, "networking_share", 0.0, 0.0, "networking capex as a fraction of GPU + server capex, e.g. 0.15");
        own.amortisation = detail::as_quantity(orr.required("amortisation"), "pricing.ownership.amortisation", parse_duration, "4 years");
        require_positive(own.amortisation.value(), orr.required("amortisation"), "pricing.ownership.amortisation", "an amortisation period");
        if (own.gpu_price.value() < 0 || own.server_overhead.value() < 0) throw ScenarioError(o->where, "prices in [pricing.ownership] cannot be negative");
        orr.finish();
        s.ownership = own;
    }
    r.finish();
    return s;
}

}  // namespace gpuhours::detail
