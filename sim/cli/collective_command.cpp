// `gpuhours collective KIND --chip NAME --gpus N [options]`: times one collective over a range of sizes.
//
// Composition root for the network layers: chip catalog → ClusterSpec → Topology → NetworkModel → collective.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/report/schema.hpp>
#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/network/collective.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/hardware/hardware.hpp>
#include <gpuhours/network/network.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/hardware/topology.hpp>
#include <gpuhours/units/units.hpp>

#include <fmt/format.h>

#include <cmath>

#include <cstring>

#include <charconv>
#include <ostream>

namespace gpuhours::cli {

namespace {

double parse_ratio(const std::string& option, const std::string& text) {
    // "2", "2:1"
    const std::string head = text.substr(0, text.find(':'));
    double value = 0.0;
    const auto [end, ec] = std::from_chars(head.data(), head.data() + head.size(), value);
    if (ec != std::errc() || end != head.data() + head.size() || (head.size() != text.size() && text.substr(head.size()) != ":1")) {
        throw Error(fmt::format("{} expects a ratio like 2 or 2:1, got \"{}\"", option, text), fmt::format("e.g. {} 2:1", option));
    }
    if (!(value >= 1.0 && value <= 1024.0)) {  // as cluster.oversubscription (at least 1); finite
        throw Error(fmt::format("{} {} must be from 1 (non-blocking) to 1024", option, text), fmt::format("e.g. {} 2:1", option));
    }
    return value;
}

std::string names_of(std::initializer_list<std::string_view> names) {
    std::string list;
    for (const auto n : names) list += (list.empty() ? "" : ", ") + std::string(n);
    return list;
}

// "1MiB:8GiB" → 1 MiB, 2 MiB, …, 8 GiB (doubling; the last size is the upper bound when the range is not a power
// of two apart); "64MiB" → one size; a comma-separated list of either ("1MiB,1GiB") → each in turn, in order.
std::vector<Bytes> parse_size_range(const std::string& text);

std::vector<Bytes> parse_sizes(const std::string& text) {
    std::vector<Bytes> sizes;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = text.find(',', start);
        const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (item.empty()) throw Error(fmt::format("--sizes \"{}\" has an empty item", text), "e.g. --sizes 1MiB,1GiB");
        for (const Bytes b : parse_size_range(item)) sizes.push_back(b);
        if (sizes.size() > 66) throw Error(fmt::format("--sizes \"{}\": more than 66 sizes", text), "give fewer sizes or a narrower range");
        if (comma == std::string::npos) return sizes;
        start = comma + 1;
    }
}

std::vector<Bytes> parse_size_range(const std::string& text) {
    const auto colon = text.find(':');
    try {
        const Bytes low = parse_bytes(text.substr(0, colon));
        const Bytes high = colon == std::string::npos ? low : parse_bytes(text.substr(colon + 1));
        if (!(low.value() > 0.0) || high < low) {
            throw Error(fmt::format("--sizes \"{}\" needs 0 < low ≤ high", text), "e.g. --sizes 1MiB:8GiB");
        }
        for (const Bytes b : {low, high}) {  // a message is whole bytes (0.125 B, "1b", is one bit)
            if (b.value() < 1.0 || std::floor(b.value()) != b.value()) {
                throw Error(fmt::format("--sizes \"{}\": {} B is not a whole number of bytes", text, b.value()),
                            "give sizes of 1 B or more in whole bytes (B, KB, KiB, MB, …; a lowercase b is a bit)");
            }
        }
        std::vector<Bytes> sizes;
        for (Bytes s = low; s.value() <= high.value() * (1 + 1e-12); s *= 2.0) {
            sizes.push_back(s);
            if (sizes.size() > 64) break;
        }
        if (sizes.back().value() < high.value() * (1 - 1e-12)) sizes.push_back(high);
        return sizes;
    } catch (const UnitError& e) {
        throw Error(fmt::format("--sizes \"{}\": {}", text, e.what()), "e.g. --sizes 1MiB:8GiB or --sizes 256MB");
    }
}

// The largest all-to-all the command times (cmd_collective).
constexpr int kMaxAllToAllGpus = 16'384;

// --algorithm: a collective algorithm, or nullopt for "auto" (the fastest).
std::optional<CollectiveAlgorithm> algorithm_option(const std::string& a) {
    if (a == "auto") return std::nullopt;
    if (const auto algorithm = collective_algorithm_from_string(a)) return algorithm;
    std::string hint = "use one of: ring, tree, hierarchical, direct, node-forwarded, auto";
    for (const char* known : {"ring", "tree", "hierarchical", "direct", "node-forwarded", "auto"}) {
        if (edit_distance(a, known) <= 2) hint = fmt::format("did you mean \"{}\"? ({})", known, hint);
    }
    throw Error(fmt::format("--algorithm {} is not a collective algorithm", a), hint);
}

// --node-merge, --gpu-merge: a share of a token's copies in (0, 1] (CollectiveRequest), for the node-forwarded
// all-to-all only; 1 when not given.
double merge_option(const ParsedArgs& args, const std::string& flag, const std::optional<CollectiveAlgorithm>& algorithm) {
    if (!args.has(flag)) return 1.0;
    if (algorithm != CollectiveAlgorithm::node_forwarded) {
        throw Error(fmt::format("{} applies to the node-forwarded all-to-all only", flag),
                    fmt::format("add --algorithm node-forwarded, or drop {}", flag));
    }
    const std::string text = args.get(flag);
    double value = 0.0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || !(value > 0.0 && value <= 1.0)) {
        throw Error(fmt::format("{} {} is not a share in (0, 1]", flag, text),
                    fmt::format("e.g. {} 0.5: the share of a token's copies to a {} left when it is sent once there", flag,
                                flag == "--node-merge" ? "node" : "GPU"));
    }
    return value;
}

// `text` with the scenario's cluster keys named as the flags that set them ("cluster.gpus = 12" → "--gpus 12"). The
// longer keys first, so that cluster.gpus_per_node is not read as cluster.gpus.
std::string with_flags(std::string text) {
    for (const auto& [key, flag] : {std::pair{"cluster.switch_radix", "--switch-radix"}, std::pair{"cluster.tiers", "--tiers"},
                                    std::pair{"cluster.planes", "--planes"}, std::pair{"cluster.gpus_per_node", "--gpus-per-node"},
                                    std::pair{"cluster.gpus", "--gpus"}, std::pair{"gpus_per_node", "--gpus-per-node"}}) {
        // "gpus_per_node = 8" becomes "--gpus-per-node 8", but not inside a chain ("planes = gpus_per_node = 8").
        const std::string assigned = std::string(key) + " = ";
        for (auto at = text.find(assigned); at != std::string::npos; at = text.find(assigned, at + 1)) {
            if (at < 2 || text.compare(at - 2, 2, "= ") != 0) text.replace(at, assigned.size(), std::string(flag) + " ");
        }
        for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
            if (at < 2 || text.compare(at - 2, 2, "= ") != 0) text.replace(at, std::strlen(key), flag);
        }
    }
    // `fabric = "fat-tree"` (a hint in scenario terms) becomes `--fabric fat-tree`.
    const std::string fabric = "fabric = \"";
    for (auto at = text.find(fabric); at != std::string::npos; at = text.find(fabric, at + 1)) {
        const auto close = text.find('"', at + fabric.size());
        if (close == std::string::npos) break;
        const std::string name = text.substr(at + fabric.size(), close - at - fabric.size());
        text.replace(at, close + 1 - at, "--fabric " + name);
    }
    return text;
}

// The cluster's topology; the fabric's rules name the scenario's keys, here the flags that set them.
Topology topology_of(const ClusterSpec& spec) {
    try {
        return build_topology(spec);
    } catch (const Error& e) {
        throw Error(with_flags(e.message()), with_flags(e.hint()));
    }
}

// The cluster of --gpus, --gpus-per-node, the NIC and the fabric's flags around `chip`, each flag's range as the
// scenario key's (sim/scenario/read_cluster.cpp).
ClusterSpec cluster_of(const ParsedArgs& args, const ChipProfile& chip) {
    ClusterSpec spec;
    spec.chip = chip;
    // The ranges of the scenario's [cluster] keys (sim/scenario/read_cluster.cpp).
    // At least two: a collective over one GPU moves nothing (it printed 0 s and 0 B/s; a fresh verifier, #12).
    spec.gpus = static_cast<int>(whole_number_option(args, "--gpus", 8, 2, limits::kGpus));
    const int default_per_node = std::max(1, std::min(spec.gpus, chip.scale_up_domain));
    spec.gpus_per_node = static_cast<int>(whole_number_option(args, "--gpus-per-node", default_per_node, 1, 100'000));
    spec.nic_bandwidth = chip.nic_bandwidth;
    if (args.has("--nic-bandwidth")) {
        try {
            spec.nic_bandwidth = parse_bandwidth(args.get("--nic-bandwidth"));
        } catch (const UnitError& e) {
            throw Error(fmt::format("--nic-bandwidth {}: {}", args.get("--nic-bandwidth"), e.what()), "e.g. --nic-bandwidth \"400 Gb/s\"");
        }
        // The range of cluster.nic_bandwidth (limits.hpp), as the scenario key has it.
        if (!(spec.nic_bandwidth.value() >= limits::kBandwidthMin && spec.nic_bandwidth.value() <= limits::kBandwidthMax)) {
            throw Error(fmt::format("--nic-bandwidth {} is {} the supported range of bandwidths (limit 1 MB/s to 1 PB/s)",
                                    args.get("--nic-bandwidth"), limits::range_side(spec.nic_bandwidth.value(), limits::kBandwidthMax)),
                        "e.g. --nic-bandwidth \"400 Gb/s\"");
        }
    }
    spec.nic_latency = chip.nic_latency;
    if (args.has("--fabric")) {
        const auto fabric = fabric_from_string(args.get("--fabric"));
        if (!fabric) {
            throw Error(fmt::format("--fabric {} is not a fabric", args.get("--fabric")),
                        "use one of: " + names_of({"single-node", "fat-tree", "rail-optimized", "multi-plane"}));
        }
        spec.fabric = *fabric;
    } else {
        spec.fabric = spec.gpus == spec.gpus_per_node ? Fabric::single_node : Fabric::fat_tree;
    }
    if (args.has("--oversubscription")) spec.oversubscription = parse_ratio("--oversubscription", args.get("--oversubscription"));
    spec.tiers = static_cast<int>(whole_number_option(args, "--tiers", spec.tiers, 2, 3));
    spec.switch_radix = static_cast<int>(whole_number_option(args, "--switch-radix", spec.switch_radix, 4, 4096));
    spec.planes = static_cast<int>(whole_number_option(args, "--planes", spec.fabric == Fabric::multi_plane ? spec.gpus_per_node : 1, 1, 64));
    if (spec.fabric != Fabric::multi_plane && spec.planes != 1) {  // read and never used, as a scenario's planes
        throw Error(fmt::format("--planes {} applies to the multi-plane fabric only, and this one is {}", spec.planes, to_string(spec.fabric)),
                    "add --fabric multi-plane, or leave --planes out");
    }
    // The other fabric flags, where the fabric has nothing they describe: one node has no switches, and only the
    // fat-tree has a third tier (rail-optimized and multi-plane fabrics are built in two).
    for (const char* flag : {"--tiers", "--switch-radix", "--oversubscription"}) {
        if (spec.fabric == Fabric::single_node && args.has(flag)) {
            throw Error(fmt::format("{} describes the switches between nodes, and this cluster is one node ({} GPUs, single-node fabric)", flag,
                                    spec.gpus),
                        fmt::format("leave {} out, or give more GPUs than --gpus-per-node {}", flag, spec.gpus_per_node));
        }
    }
    if (spec.tiers == 3 && args.has("--tiers") && (spec.fabric == Fabric::rail_optimized || spec.fabric == Fabric::multi_plane)) {
        throw Error(fmt::format("--tiers applies to the fat-tree fabric only; the {} fabric is built in two tiers", to_string(spec.fabric)),
                    "leave --tiers out, or use --fabric fat-tree");
    }
    // A cluster beyond two tiers' reach gets a third tier unless the user chose.
    if (!args.has("--tiers") && spec.fabric == Fabric::fat_tree && spec.switch_radix > 0 &&
        static_cast<long>(spec.gpus) > static_cast<long>(spec.switch_radix) * spec.switch_radix / 2) {
        spec.tiers = 3;
    }
    return spec;
}

}  // namespace

int cmd_collective(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "collective");
    if (args.positional.size() != 1) {
        throw Error("`gpuhours collective` needs one collective",
                    "e.g. gpuhours collective all-reduce --chip h800 --gpus 16 (collectives: all-reduce, reduce-scatter, "
                    "all-gather, all-to-all, broadcast, send-recv)");
    }
    const auto kind = collective_kind_from_string(args.positional[0]);
    if (!kind) {
        std::string hint = "use one of: all-reduce, reduce-scatter, all-gather, all-to-all, broadcast, send-recv";
        for (const char* known : {"all-reduce", "reduce-scatter", "all-gather", "all-to-all", "broadcast", "send-recv"}) {
            if (edit_distance(args.positional[0], known) <= 2) hint = fmt::format("did you mean \"{}\"? ({})", known, hint);
        }
        throw Error(fmt::format("unknown collective \"{}\"", args.positional[0]), hint);
    }
    if (!args.has("--chip")) throw Error("`gpuhours collective` needs --chip", "e.g. --chip h100 (see `gpuhours chips`)");

    const std::filesystem::path catalog = args.has("--catalog") ? catalog_dir(args) : std::filesystem::path();  // "": the shipped one
    const ChipProfile chip = for_flag("--chip", args.get("--chip"), [&] { return load_chip(args.get("--chip"), catalog); });
    const ClusterSpec spec = cluster_of(args, chip);

    const std::optional<CollectiveAlgorithm> algorithm = algorithm_option(args.get("--algorithm", "auto"));
    const double node_merge = merge_option(args, "--node-merge", algorithm);
    const double gpu_merge = merge_option(args, "--gpu-merge", algorithm);
    const std::string network_name = args.get("--network", "flow");
    const auto network_kind = network_kind_from_string(network_name);
    if (!network_kind) throw Error(fmt::format("--network {} is not a network model", network_name), "use --network flow or --network alpha-beta");
    const std::vector<Bytes> sizes = parse_sizes(args.get("--sizes", "1MiB:8GiB"));

    // An all-to-all lists every ordered pair of GPUs: 268M at 16,384 GPUs (about 20 s per size on 2 cores), 4.3G at
    // 65,536 (hours). Its per-GPU rate on a fabric that carries it changes little with N beyond that (one NIC's rate
    // × N/(N − 1), docs/moe.md), so larger groups are refused rather than left running.
    if (*kind == CollectiveKind::all_to_all && spec.gpus > kMaxAllToAllGpus) {
        throw Error(fmt::format("--gpus {}: an all-to-all over {} GPUs has {:.3g} ordered pairs to route, beyond what this command times "
                                "(at most {} GPUs)", spec.gpus, spec.gpus, static_cast<double>(spec.gpus) * (spec.gpus - 1), kMaxAllToAllGpus),
                    fmt::format("give --gpus {} or fewer", kMaxAllToAllGpus));
    }
    const Topology topology = topology_of(spec);
    const auto network = make_network(*network_kind, topology);
    std::vector<CollectiveResult> results;
    ProgressBar progress("collective sizes", args);
    for (const Bytes size : sizes) {
        progress.update(static_cast<double>(results.size()), static_cast<int>(sizes.size()));
        CollectiveRequest request;
        request.kind = *kind;
        request.size = size;
        request.ranks = topology.gpus();
        if (*kind == CollectiveKind::send_recv) request.ranks = {topology.gpus().front(), topology.gpus().back()};
        request.algorithm = algorithm;
        request.node_merge = node_merge;
        request.gpu_merge = gpu_merge;
        try {
            results.push_back(simulate_collective(*network, request));
        } catch (const SimTimeRangeError& e) {
            // Named at the flags that make a transfer that long (no scenario key is involved here).
            throw Error(fmt::format("--sizes {}: {}", args.get("--sizes", "1MiB:8GiB"), e.message()),
                        "give smaller --sizes, or check --nic-bandwidth and the chip's link figures for a wrong unit");
        } catch (const AlgorithmUnsupportedError& e) {
            // An algorithm the operation or the GPUs cannot run ("reduce-scatter has no tree algorithm"), named at
            // the flag that asked for it (an audit of the collectives, session 51); other errors are not the flag's.
            if (!algorithm) throw;
            throw Error(fmt::format("--algorithm {}: {}", to_string(*algorithm), e.message()),
                        fmt::format("{}; or leave --algorithm out (auto: the fastest this operation can run)", e.hint()));
        }
    }

    if (args.has("--json")) {
        report::Json j;
        j.begin_object().field("schema_version", report::kJsonSchemaVersion);
        j.field("collective", to_string(*kind)).field("chip", chip.id).field("gpus", spec.gpus);
        j.field("gpus_per_node", spec.gpus_per_node).field("fabric", to_string(spec.fabric));
        j.field("network", to_string(*network_kind));
        j.key("results").begin_array();
        for (const auto& r : results) {
            j.begin_object();
            j.field("size_bytes", r.size.value()).field("algorithm", to_string(r.algorithm)).field("channels", r.channels);
            j.field("time_s", r.time.value());
            j.field("algbw_bytes_per_s", r.algorithm_bandwidth.value()).field("busbw_bytes_per_s", r.bus_bandwidth.value());
            if (r.limiting_link_description.empty()) j.key("limiting_link").null();
            else j.field("limiting_link", r.limiting_link_description);
            j.field("latency_s", r.latency.value());
            j.end_object();
        }
        j.end_array().end_object();
        out << j.str();
        return 0;
    }
    // A node wider than the chip's scale-up domain joins GPUs by a link they do not have: said, as `run` says it.
    const std::string wider = spec.gpus_per_node > chip.scale_up_domain
                                  ? fmt::format(", above the {}'s scale-up domain of {}: a hypothetical node", chip.id,
                                                chip.scale_up_domain)
                                  : std::string();
    out << fmt::format("{} on {} × {} ({} per node{}, {}), {} network model\n\n", to_string(*kind), spec.gpus, chip.id,
                       spec.gpus_per_node, wider, to_string(spec.fabric), to_string(*network_kind));
    report::Table table({"size", "algorithm", "time", "algbw", "busbw", "limited by"});
    for (const auto& r : results) {
        // Mostly route latency (a small message): the latency bounds it, not the bandwidth of the link its flows met.
        const bool latency_bound = r.time.value() > 0.0 && r.latency.value() >= 0.5 * r.time.value();
        const std::string limit = latency_bound ? fmt::format("latency ({:.0f}% of the time)", 100.0 * r.latency.value() / r.time.value())
                                  : r.limiting_link_description.empty() ? std::string("—")
                                                                        : r.limiting_link_description;
        table.add_row({format_bytes(r.size), std::string(to_string(r.algorithm)), format_duration(r.time),
                       format_bandwidth(r.algorithm_bandwidth), format_bandwidth(r.bus_bandwidth), limit});
    }
    out << table.render();
    out << "\nalgbw = size / time; busbw = algbw × NCCL's factor; link bandwidths are effective (nominal × the "
           "chip catalog's efficiency).\n";
    return 0;
}

}  // namespace gpuhours::cli
