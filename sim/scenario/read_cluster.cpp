// Reads [cluster] and its chip (a catalog entry or an inline table): peaks, memory, links, power, efficiencies.
#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <gpuhours/hardware/topology.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>

namespace gpuhours::detail {
namespace {

template <class Q>
Q read_figure(TableReader& r, std::string_view key, Q (*parse)(std::string_view), std::string_view example) {
    const std::string path = r.path_of(key);
    const Node& value = detail::figure_value(r.required(key), path);
    return detail::as_quantity(value, path, parse, example);
}

double read_figure_number(TableReader& r, std::string_view key) {
    const std::string path = r.path_of(key);
    return detail::as_number(detail::figure_value(r.required(key), path), path);
}

int read_figure_int(TableReader& r, std::string_view key, int min, int max) {
    const std::string path = r.path_of(key);
    return detail::as_int(detail::figure_value(r.required(key), path), path, min, max);
}

double read_fraction(TableReader& r, std::string_view key) {
    const std::string path = r.path_of(key);
    const Node& value = detail::figure_value(r.required(key), path);
    const double v = detail::as_number(value, path);
    if (!(v > 0.0 && v <= 1.0)) {
        throw KeyError(value.where, value.where, false, fmt::format("`{}` = {} must be a fraction in (0, 1]", path, v),
                       "efficiencies are achieved / peak, e.g. 0.8", stand_in(value.where, Node::Kind::floating, 0, 0.8));
    }
    require_within(v, value, path, "efficiencies", limits::kEfficiencyMin, 1.0, "");
    return v;
}

// `[efficiency] attention_shape` (AttentionShapeTable): { sequence = [ascending kernel sequence lengths],
// head_dim_D = [a factor in (0, 1] per sequence] for each measured head dimension D, source = "…" }.
AttentionShapeTable read_attention_shape(const Node& node, const std::string& path) {
    const std::string form = "attention_shape = { sequence = [1024, 4096], head_dim_128 = [0.68, 0.94], source = \"…\" }";
    if (node.kind != Node::Kind::table) {
        throw ScenarioError(node.where, fmt::format("`{}` must be a table of factors by sequence length and head dimension", path), form);
    }
    TableReader t(node, path);
    AttentionShapeTable table;
    const Node& seq = t.required("sequence", form);
    if (seq.kind != Node::Kind::array || seq.items.empty()) {
        throw ScenarioError(seq.where, fmt::format("`{}.sequence` must be a list of kernel sequence lengths", path), form);
    }
    for (std::size_t i = 0; i < seq.items.size(); ++i) {
        const std::string at = fmt::format("{}.sequence[{}]", path, i);
        const double v = as_number(seq.items[i], at);
        if (!(v >= 1.0 && v <= limits::kSequenceLength) || (!table.sequence.empty() && !(v > table.sequence.back()))) {
            throw ScenarioError(seq.items[i].where, fmt::format("`{}` = {} must exceed the length before it and lie in [1, {}] tokens", at, v, limits::kSequenceLength),
                                "list the measured sequence lengths in ascending order");
        }
        table.sequence.push_back(v);
    }
    for (const auto& [key, value] : node.fields) {
        if (!key.starts_with("head_dim_")) continue;
        const std::string at = fmt::format("{}.{}", path, key);
        const std::string digits = key.substr(9);
        const bool numeric = !digits.empty() && digits.size() <= 4 &&
                             std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        const int dim = numeric ? std::stoi(digits) : 0;
        if (dim < 1) {
            throw ScenarioError(value.where, fmt::format("`{}`: the head dimension after head_dim_ must be a whole number from 1 to 9999", at),
                                "name each row by its query/key head dimension, e.g. head_dim_128");
        }
        (void)t.required(key);
        if (std::any_of(table.rows.begin(), table.rows.end(), [&](const auto& row) { return row.first == dim; })) {
            throw ScenarioError(value.where, fmt::format("`{}` is a second row for head dimension {}", at, dim),
                                "keep one head_dim_ row per head dimension");
        }
        if (value.kind != Node::Kind::array || value.items.size() != table.sequence.size()) {
            throw ScenarioError(value.where, fmt::format("`{}` must list one factor per sequence length ({})", at, table.sequence.size()), form);
        }
        std::vector<double> factors;
        for (std::size_t i = 0; i < value.items.size(); ++i) {
            const std::string item = fmt::format("{}[{}]", at, i);
            const double f = as_number(value.items[i], item);
            if (!(f >= limits::kEfficiencyMin && f <= 1.0)) {
                throw ScenarioError(value.items[i].where, fmt::format("`{}` = {} must be a factor in [{}, 1]", item, f, limits::kEfficiencyMin),
                                    "factors are relative to `attention`, the figure at the reference shape, which no shape exceeds");
            }
            factors.push_back(f);
        }
        table.rows.emplace_back(dim, std::move(factors));
    }
    if (table.rows.empty()) throw ScenarioError(node.where, fmt::format("`{}` has no head_dim_… row", path), form);
    std::sort(table.rows.begin(), table.rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    if (const Node* src = t.optional("source")) (void)as_string(*src, t.path_of("source"));
    if (const Node* note = t.optional("note")) (void)as_string(*note, t.path_of("note"));
    t.finish();
    return table;
}

// A bandwidth given as `key` of `r`, positive and within limits.hpp's range.
// A NIC per GPU within kNicBandwidthMax; past it, most often bytes written for bits ("400 GB/s" for a 400 Gb/s NIC),
// which the hint says.
// Below kNicBandwidthMin the hint asks for the unit instead (an auditor's read: "100 Kb/s" was told it was "above
// any NIC" and to write bits, which it was written in).
void require_nic_bandwidth(BytesPerSecond b, const Node& value, std::string_view path) {
    const double v = b.value();
    const std::string hint =
        v > limits::kNicBandwidthMax
            ? fmt::format("{:g} GB/s is {:g} Tb/s per GPU, above any NIC; a NIC's rate is usually in bits: \"{:g} Gb/s\" is {:g} GB/s",
                          v / 1e9, v * 8 / 1e12, v / 1e9, v / 8e9)
            : fmt::format("{:g} Gb/s per GPU is below any training cluster's network (1 Gb/s Ethernet is the slowest port sold); "
                          "check the unit: a NIC is e.g. \"400 Gb/s\" (= \"50 GB/s\")",
                          v * 8 / 1e9);
    require_within(v, value, path, "NIC bandwidths per GPU", limits::kNicBandwidthMin, limits::kNicBandwidthMax, "B/s", hint);
}

BytesPerSecond read_bandwidth(TableReader& r, std::string_view key, std::string_view example, double min = limits::kBandwidthMin,
                              std::string_view hint = {}) {
    const std::string path = r.path_of(key);
    const Node& value = detail::figure_value(r.required(key), path);
    const BytesPerSecond b = detail::as_quantity(value, path, parse_bandwidth, example);
    require_positive(b.value(), value, path, "a bandwidth");
    require_within(b.value(), value, path, "bandwidths", min, limits::kBandwidthMax, "B/s", hint);
    return b;
}

// A latency given as `key` of `r`: zero or more, within limits.hpp's range.
Seconds read_latency(TableReader& r, std::string_view key, std::string_view example) {
    const std::string path = r.path_of(key);
    const Node& value = detail::figure_value(r.required(key), path);
    const Seconds t = detail::as_quantity(value, path, parse_duration, example);
    require_within(t.value(), value, path, "latencies", 0.0, limits::kLatencyMax, "s");
    return t;
}

// `[efficiency] gemm_tile_overhead` (GemmTileOverhead): { gemm = "1.4 us", gemm_fp8 = "2.2 us", …, source = "…" }, a
// fixed time per output tile for each GEMM family named by its efficiency key, each in [0, 100 µs] (measured ones are
// microseconds; a unit slip would multiply every tile of a step). A time for a family the chip has no figure for is
// read and never used, as that figure would be (a what-if carries a scenario's times to chips without FP8).
GemmTileOverhead read_tile_overhead(TableReader& e, const std::string& path) {
    const std::string form = "gemm_tile_overhead = { gemm = \"1.4 us\", gemm_fp8 = \"2.2 us\", source = \"…\" }";
    const Node& node = *e.optional("gemm_tile_overhead");
    if (node.kind != Node::Kind::table) {
        throw ScenarioError(node.where, fmt::format("`{}` must be a table of times per tile by GEMM family", path), form);
    }
    TableReader t(node, path);
    GemmTileOverhead o;
    const auto read = [&](std::string_view key, Seconds& into) {
        const Node* written = t.optional(key);
        if (written == nullptr) return;
        const std::string at = t.path_of(key);
        const Node& value = detail::figure_value(*written, at);
        into = detail::as_quantity(value, at, parse_duration, "2 us");
        require_within(into.value(), value, at, "times per GEMM tile", 0.0, 1e-4, "s");
    };
    read("gemm", o.gemm);
    read("gemm_fp8", o.gemm_fp8);
    read("gemm_fp8_rowwise", o.gemm_fp8_rowwise);
    read("gemm_fp8_blockwise", o.gemm_fp8_blockwise);
    read("gemm_mxfp8", o.gemm_mxfp8);
    if (const Node* src = t.optional("source")) (void)as_string(*src, t.path_of("source"));
    if (const Node* note = t.optional("note")) (void)as_string(*note, t.path_of("note"));
    t.finish();
    return o;
}

// Whether `n` is the user's (the scenario's file or a --set) rather than the catalog entry's.
bool user_given(const std::string& user_file, const Node& n) {
    return n.where.file.starts_with("--set ") || (!user_file.empty() && n.where.file == user_file);
}

// Where a rule between two values of a chip table is reported: at `second` when the user writes it (in `user_file`,
// the scenario's [cluster.chip] table, or with `--set`) and `first` comes from the catalog entry, else at `first`. A
// `[cluster.chip]` table with `from` is the catalog's table with the user's values merged in, each keeping its own
// position.
const SourceRef& coupled_at(const std::string& user_file, const Node& first, const Node& second) {
    return user_given(user_file, second) && !user_given(user_file, first) ? second.where : first.where;
}

// The most a format's dense peak may be, as a multiple of the same chip's BF16 peak: formats as wide or wider run
// at most at BF16's rate (FP16 equals it on every chip; TF32 and FP32 are half of it or less); 8-bit formats at most
// twice it (H100, H200, B200, MI300X: exactly 2×; Gaudi 3: 1×); FP4 at most 8 × (B200 4×, B300's NVFP4 about 6.7×).
double most_over_bf16(Precision p) {
    switch (p) {
        case Precision::fp8:
        case Precision::int8: return 2.0;
        case Precision::fp4: return 8.0;
        default: return 1.0;
    }
}

// The BF16 peak MFU is reported against: present, and every other format within its multiple of it (read_chip's
// [compute]).
void check_bf16_peak(TableReader& c, const ChipProfile& chip, const std::string& user_file) {
    // MFU is reported against the BF16 peak: a chip without one passed `check` and failed in `run`, unlocated
    // (a third fresh verifier, #12).
    const auto bf16 = chip.peak_dense.find(Precision::bf16);
    if (bf16 == chip.peak_dense.end()) {
        throw ScenarioError(c.table().where, fmt::format("[{}] lists no bf16 peak, which MFU is reported against", c.name()),
                            "add `bf16 = { value = \"… TFLOPS\", source = \"…\" }`");
    }
    // Every other format within its multiple of the BF16 peak (most_over_bf16). Past it the headline MFU, against
    // the BF16 peak, passed 100 %: an FP16 peak above BF16's (a second fresh verifier, #12), an H100's FP8 peak with a
    // BF16 peak of 200 TFLOPS (116 %), a TF32 or FP8 peak of 10^6 TFLOPS beside 10 of BF16 (480–500 %; the third).
    for (const auto& [format, peak] : chip.peak_dense) {
        const double most = most_over_bf16(format);
        if (format == Precision::bf16 || peak.value() <= most * bf16->second.value() * 1.05) continue;  // 5 %: datasheets round (L40S: 733 vs 2 × 362)
        const std::string key(to_string(format));
        const Node& f = detail::figure_value(*c.optional(key), c.path_of(key));
        const Node& b = detail::figure_value(*c.optional("bf16"), c.path_of("bf16"));
        const std::string times = most == 1.0 ? std::string() : fmt::format("{:g} × ", most);
        throw ScenarioError(coupled_at(user_file, f, b),
                            fmt::format("`{}` ({}) is above {}the `{}` peak ({}): no chip runs {} faster than {}BF16, and MFU, "
                                        "reported against the BF16 peak, would pass 100 %",
                                        c.path_of(key), f.text, times, c.path_of("bf16"), b.text, key, times),
                            fmt::format("give it at most {}the bf16 peak", times));
    }
}

// [power] (tdp, idle, min_cap) and [launch] (host_per_kernel, gap_per_kernel) of a chip table.
void read_power_and_launch(TableReader& r, ChipProfile& chip, const std::string& user_file) {
    {
        TableReader p(detail::as_table(r.required("power"), r.path_of("power")), r.path_of("power"));
        chip.tdp = read_figure(p, "tdp", parse_power, "700 W");
        const Node& tdp = detail::figure_value(*p.optional("tdp"), p.path_of("tdp"));
        // At the value (the user's --set or file, not the catalog's [power] header).
        require_positive(chip.tdp.value(), tdp, p.path_of("tdp"), "power");
        require_within(chip.tdp.value(), tdp, p.path_of("tdp"), "chip powers", limits::kPowerMin, limits::kPowerMax, "W",
                       "accelerators draw 75 W to about 2.7 kW: check the unit and the exponent, e.g. \"700 W\"");
        if (p.has("idle")) {
            chip.idle_power = read_figure(p, "idle", parse_power, "70 W");
            // Above 0 W: a board draws power at idle, and 0 is how a chip without the figure reads (power_cap needs one).
            if (!(chip.idle_power.value() > 0.0 && chip.idle_power.value() < chip.tdp.value())) {
                throw ScenarioError(coupled_at(user_file, detail::figure_value(*p.optional("idle"), p.path_of("idle")), tdp),
                                    fmt::format("`{}` = {} must be above 0 W and below `{}` ({})", p.path_of("idle"),
                                                format_power(chip.idle_power), p.path_of("tdp"), format_power(chip.tdp)),
                                    "give the board power with the GPU idle below its TDP, e.g. idle = { value = \"70 W\", source = \"…\" }");
            }
        }
        if (p.has("min_cap")) {
            chip.min_power_cap = read_figure(p, "min_cap", parse_power, "200 W");
            if (!(chip.min_power_cap.value() > chip.idle_power.value() && chip.min_power_cap.value() <= chip.tdp.value())) {
                // At the user's figure among the two the broken side couples: min_cap and idle, or min_cap and the TDP.
                const Node& other = chip.min_power_cap.value() > chip.idle_power.value() ? tdp : detail::figure_value(*p.optional("idle"), p.path_of("idle"));
                throw ScenarioError(coupled_at(user_file, detail::figure_value(*p.optional("min_cap"), p.path_of("min_cap")), other),
                                    fmt::format("`{}` = {} must lie above the idle power ({}) and at most `{}` ({})", p.path_of("min_cap"),
                                                format_power(chip.min_power_cap), format_power(chip.idle_power), p.path_of("tdp"),
                                                format_power(chip.tdp)),
                                    "the lowest power cap the driver accepts (nvidia-smi -q -d POWER: Min Power Limit), e.g. \"200 W\"");
            }
        }
        p.finish();
    }
    if (const Node* launch = r.optional("launch")) {
        TableReader l(detail::as_table(*launch, r.path_of("launch")), r.path_of("launch"));
        // Each within 0–1 ms: real launches take microseconds, and a second per kernel (a unit slip) would be
        // multiplied by every kernel of a step.
        const auto per_kernel = [&](std::string_view key, std::string_view example) {
            const Seconds t = read_latency(l, key, example);
            const std::string path = l.path_of(key);
            require_within(t.value(), detail::figure_value(*l.optional(key), path), path, "kernel launch times", 0.0, 1e-3, "s");
            return t;
        };
        chip.launch_host = per_kernel("host_per_kernel", "10 us");
        chip.launch_gap = per_kernel("gap_per_kernel", "1 us");
        l.finish();
    }
}

// An FP8 peak asks for the FP8 GEMMs' efficiency: refused at the peak when the user wrote it over a catalog chip
// without FP8 kernels (`--set cluster.chip.compute.fp8=…` on an A100 was "missing required key" at the catalog's
// [efficiency]).
void require_fp8_efficiency(TableReader& e, const Node& fp8_value, const std::string& compute_path, const std::string& user_file) {
    if (e.has("gemm_fp8")) return;
    throw ScenarioError(coupled_at(user_file, e.table(), fp8_value),
                        fmt::format("[{}] has an fp8 peak but no `{}`, the FP8 GEMMs' efficiency", compute_path, e.path_of("gemm_fp8")),
                        "add `gemm_fp8 = { value = …, source = \"…\" }` to the chip's [efficiency], or remove the fp8 peak");
}

// `a` as format_bytes prints it, or in whole bytes where `b` would print the same (a reserve "84.99 GB" was said to
// lie above a capacity of "84.99 GB": an audit).
std::string distinct_bytes(Bytes a, Bytes b) {
    const std::string text = format_bytes(a);
    return text == format_bytes(b) ? fmt::format("{:.0f} B", a.value()) : text;
}

// [memory]: the bytes the device exposes (capacity), their basis, the framework reserve below them, the bandwidth.
// In whole bytes, as devices count them and `--json` prints them: "79.15 GiB" is 84,986,665,369.6 B, and a fit was
// refused for 0.4 B where the JSON showed the total equal to the capacity (an audit). The device's bytes round down
// and the reserve's up, so that a fit never counts on a fraction of a byte.
void read_memory(TableReader& r, ChipProfile& chip, const std::string& user_file) {
    TableReader m(detail::as_table(r.required("memory"), r.path_of("memory")), r.path_of("memory"));
    chip.memory_device = Bytes(std::floor(read_figure(m, "capacity", parse_memory_size, "79.15 GiB").value()));
    const Node& capacity = detail::figure_value(*m.optional("capacity"), m.path_of("capacity"));
    require_positive(chip.memory_device.value(), capacity, m.path_of("capacity"), "memory");
    require_within(chip.memory_device.value(), capacity, m.path_of("capacity"), "memory capacities", limits::kMemoryMin,
                   limits::kMemoryMax, "B", "accelerators hold 16 to 288 GB: check the unit and the exponent, e.g. \"80 GiB\"");
    if (const Node* n = m.optional("reserve")) {
        const std::string path = m.path_of("reserve");
        const Node& value = detail::figure_value(*n, path);
        chip.memory_reserve = Bytes(std::ceil(detail::as_quantity(value, path, parse_memory_size, "3 GiB").value()));
        if (!(chip.memory_reserve.value() >= 0.0 && chip.memory_reserve < chip.memory_device)) {
            throw ScenarioError(coupled_at(user_file, value, detail::figure_value(*m.optional("capacity"), m.path_of("capacity"))),
                                fmt::format("`{}` = {} must be at least 0 and below the capacity ({})", path,
                                            distinct_bytes(chip.memory_reserve, chip.memory_device),
                                            distinct_bytes(chip.memory_device, chip.memory_reserve)),
                                "the reserve is what the framework holds outside the model's tensors, e.g. \"3 GiB\"");
        }
    }
    if (const Node* n = m.optional("basis")) {
        const std::string path = m.path_of("basis");
        const Node& value = detail::figure_value(*n, path);
        const std::string basis = detail::as_string(value, path);
        if (basis != "exposed" && basis != "nameplate") {
            throw ScenarioError(value.where, fmt::format("`{}` = \"{}\" is not a capacity basis", path, basis),
                                "write \"exposed\" (the bytes the device exposes to software, the default) or "
                                "\"nameplate\" (the published figure, when what the device exposes is not known)");
        }
        // A capacity the user gives over a catalog chip's nameplate figure is the user's own (often measured) figure:
        // it keeps the nameplate basis only where the user says so too.
        chip.memory_nameplate = basis == "nameplate" && (!user_given(user_file, capacity) || user_given(user_file, value));
    }
    chip.memory_capacity = chip.memory_device - chip.memory_reserve;
    chip.memory_bandwidth = read_bandwidth(m, "bandwidth", "3.35 TB/s", limits::kMemoryBandwidthMin,
                                           "accelerator memory runs at 0.3 to 8 TB/s: check the unit, e.g. \"3.35 TB/s\"");
    m.finish();
}

}  // namespace

ChipProfile read_chip(const Node& table, const std::string& id, const std::string& prefix, const std::string& user_file) {
    ChipProfile chip;
    chip.id = id;
    TableReader r(table, prefix);
    r.allow("from");
    // Without a name a table is a whole entry or a `from` one: a misspelt `from` (`frm = "h800"`) is the mistake
    // then, named before "missing `name`", which would send the user to write a whole entry (an audit, session 51).
    if (table.find("name") == nullptr && table.find("from") == nullptr) r.name_misspelling_of({"from"});
    chip.display_name = detail::as_string(r.required("name"), r.path_of("name"));
    if (const Node* v = r.optional("vendor")) chip.vendor = detail::as_string(*v, r.path_of("vendor"));
    if (const Node* n = r.optional("note")) (void)detail::as_string(*n, r.path_of("note"));

    const Node* fp8_value = nullptr;  // the FP8 peak as written, which asks for an FP8 GEMM efficiency
    {
        const Node& compute = detail::as_table(r.required("compute"), r.path_of("compute"));
        TableReader c(compute, r.path_of("compute"));
        for (Precision p : kAllPrecisions) {
            const std::string key(to_string(p));
            if (const Node* node = c.optional(key)) {
                const std::string path = c.path_of(key);
                const Node& value = detail::figure_value(*node, path);
                const FlopsPerSecond rate = detail::as_quantity(value, path, parse_flops_rate, "989.4 TFLOPS");
                require_positive(rate.value(), value, path, "a peak");
                require_within(rate.value(), value, path, "peak throughputs", limits::kPeakFlopsMin,
                               limits::kPeakFlopsMax, "FLOP/s");
                chip.peak_dense[p] = rate;
                if (p == Precision::fp8) fp8_value = &value;
            }
        }
        chip.sm_count = read_figure_int(c, "sm_count", 1, 100000);
        check_bf16_peak(c, chip, user_file);
        c.finish();
        if (chip.peak_dense.empty()) {
            throw ScenarioError(compute.where, fmt::format("[{}] lists no peak throughput", c.name()),
                                "add at least `bf16 = { value = \"… TFLOPS\", source = \"…\" }`");
        }
    }
    read_memory(r, chip, user_file);
    {
        TableReader s(detail::as_table(r.required("scale_up"), r.path_of("scale_up")), r.path_of("scale_up"));
        chip.scale_up_bandwidth = read_bandwidth(s, "bandwidth", "450 GB/s", limits::kScaleUpBandwidthMin,
                                                 "a scale-up link runs at 32 GB/s (PCIe) to 900 GB/s (NVLink 5) per direction: "
                                                 "check the unit, e.g. \"450 GB/s\"");
        chip.scale_up_domain = read_figure_int(s, "domain", 1, 100000);
        chip.scale_up_latency = read_latency(s, "latency", "3.33 us");
        s.finish();
    }
    {
        TableReader o(detail::as_table(r.required("scale_out"), r.path_of("scale_out")), r.path_of("scale_out"));
        chip.nic_bandwidth = read_bandwidth(o, "nic_bandwidth", "400 Gb/s");
        const Node& nic = detail::figure_value(*o.optional("nic_bandwidth"), o.path_of("nic_bandwidth"));
        require_nic_bandwidth(chip.nic_bandwidth, nic, o.path_of("nic_bandwidth"));
        chip.nic_latency = read_latency(o, "latency", "2.8 us");
        o.finish();
    }
    if (const Node* host = r.optional("host")) {
        TableReader h(detail::as_table(*host, r.path_of("host")), r.path_of("host"));
        chip.gpus_per_host = read_figure_int(h, "gpus", 1, 100000);
        h.finish();
    }
    read_power_and_launch(r, chip, user_file);
    if (const Node* die = r.optional("die")) {
        TableReader d(detail::as_table(*die, r.path_of("die")), r.path_of("die"));
        if (d.has("area_mm2")) {
            chip.die_area_mm2 = read_figure_number(d, "area_mm2");
            require_positive(*chip.die_area_mm2, detail::figure_value(*d.optional("area_mm2"), d.path_of("area_mm2")), d.path_of("area_mm2"),
                             "an area");
        }
        if (const Node* process = d.optional("process")) (void)detail::as_string(*process, d.path_of("process"));
        d.finish();
    }
    if (const Node* price = r.optional("price")) {
        TableReader pr(detail::as_table(*price, r.path_of("price")), r.path_of("price"));
        if (pr.has("rental_gpu_hour")) {
            chip.rental_gpu_hour = read_figure(pr, "rental_gpu_hour", parse_dollars, "$2.35");
            const Node& figure = pr.required("rental_gpu_hour");
            require_positive(chip.rental_gpu_hour->value(), detail::figure_value(figure, pr.path_of("rental_gpu_hour")),
                             pr.path_of("rental_gpu_hour"), "a price");
            if (const Node* source = figure.kind == Node::Kind::table ? figure.find("source") : nullptr) {
                chip.rental_source = detail::as_string(*source, pr.path_of("rental_gpu_hour") + ".source");
            }
        }
        pr.finish();
    }
    {
        TableReader e(detail::as_table(r.required("efficiency"), r.path_of("efficiency")), r.path_of("efficiency"));
        chip.efficiency.gemm = read_fraction(e, "gemm");
        if (fp8_value != nullptr) require_fp8_efficiency(e, *fp8_value, r.path_of("compute"), user_file);
        if (fp8_value != nullptr || e.has("gemm_fp8")) chip.efficiency.gemm_fp8 = read_fraction(e, "gemm_fp8");
        // The other FP8 kernel families only where the catalog measured or derived them (a recipe without its
        // figure is refused on the chip: read_training).
        if (e.has("gemm_fp8_rowwise")) chip.efficiency.gemm_fp8_rowwise = read_fraction(e, "gemm_fp8_rowwise");
        if (e.has("gemm_fp8_blockwise")) chip.efficiency.gemm_fp8_blockwise = read_fraction(e, "gemm_fp8_blockwise");
        if (e.has("gemm_mxfp8")) chip.efficiency.gemm_mxfp8 = read_fraction(e, "gemm_mxfp8");
        chip.efficiency.attention = read_fraction(e, "attention");
        if (const Node* shape = e.optional("attention_shape")) {
            chip.efficiency.attention_shape = read_attention_shape(*shape, e.path_of("attention_shape"));
        }
        chip.efficiency.memory = read_fraction(e, "memory");
        chip.efficiency.scale_up_link = read_fraction(e, "scale_up_link");
        chip.efficiency.nic_link = read_fraction(e, "nic_link");
        chip.efficiency.gemm_tile_m = read_figure_int(e, "gemm_tile_m", 1, 4096);
        chip.efficiency.gemm_tile_n = read_figure_int(e, "gemm_tile_n", 1, 4096);
        // One not narrower than gemm_tile_n is read and unused (the kernel model then has one tile; the assumptions say so).
        if (e.has("gemm_tile_n_narrow")) chip.efficiency.gemm_tile_n_narrow = read_figure_int(e, "gemm_tile_n_narrow", 0, 4096);
        if (e.has("gemm_tile_overhead")) chip.efficiency.gemm_tile_overhead = read_tile_overhead(e, e.path_of("gemm_tile_overhead"));
        e.finish();
    }
    r.finish();
    return chip;
}

namespace {
// Whether `n` (a key of the table, or null) was given by --set: the one a rule between it and a file's key blames.
bool given_by_set(const Node* n) { return n != nullptr && n->where.file.starts_with("--set "); }

// The fabric's shape rules over the read cluster `c` of table `node`: one node for single-node, planes for
// multi-plane only and dividing its nodes.
void check_fabric_shape(const Node& node, const ClusterSpec& c) {
    // Located at the key that sets the fabric's shape (written: the defaults satisfy these rules).
    const auto at_key = [&](std::initializer_list<const char*> keys) {
        for (const char* key : keys) {
            if (const Node* n = node.find(key)) return n->where;
        }
        return node.where;
    };
    if (c.fabric == Fabric::single_node && c.gpus > c.gpus_per_node) {
        throw ScenarioError(at_key({"fabric", "gpus"}),
                            fmt::format("fabric = \"single-node\" but gpus = {} exceeds gpus_per_node = {}", c.gpus,
                                        c.gpus_per_node),
                            "use fabric = \"fat-tree\", \"rail-optimized\" or \"multi-plane\" for several nodes");
    }
    if (c.fabric != Fabric::multi_plane && c.planes != 1) {  // read and never used: an analyst's fabric it is not
        // At the fabric when a --set changed it (the file's planes were right for the file's fabric), else at planes.
        const Node* fabric = node.find("fabric");
        throw ScenarioError(given_by_set(fabric) ? fabric->where : at_key({"planes", "fabric"}),
                            fmt::format("planes = {} applies to the multi-plane fabric only, and this cluster's is {}", c.planes,
                                        to_string(c.fabric)),
                            "set fabric = \"multi-plane\" for separate network planes, or planes = 1");
    }
    if (c.fabric == Fabric::multi_plane && c.gpus_per_node % c.planes != 0) {
        throw ScenarioError(at_key({"planes", "gpus_per_node"}),
                            fmt::format("planes = {} does not divide gpus_per_node = {}", c.planes, c.gpus_per_node),
                            "each plane connects the same NIC index of every node; use a divisor of gpus_per_node");
    }
}
}  // namespace

ClusterSpec read_cluster(const Node& node, const std::filesystem::path& catalog_dir) {
    ClusterSpec c;
    TableReader r(node, "cluster");
    const Node& chip_slot = r.required("chip", "add `chip = \"h800\"` (a name from scenarios/chips/) or a [cluster.chip] table");
    auto [chip_table, chip_id] = resolve_slot(chip_slot, "chips", "cluster.chip", catalog_dir);
    const bool from_catalog = chip_slot.kind == Node::Kind::string;
    c.chip = read_chip(chip_table, chip_id, from_catalog ? std::string() : std::string("cluster.chip"), chip_slot.where.file);

    c.gpus = read_limited(r, "gpus", 1, limits::kGpus, "GPU counts");
    c.gpus_per_node = read_int(r, "gpus_per_node", 1, 100'000, std::min(c.gpus, c.chip.scale_up_domain));
    c.fabric = read_choice<Fabric>(r, "fabric",
                                   {{"single-node", Fabric::single_node},
                                    {"fat-tree", Fabric::fat_tree},
                                    {"rail-optimized", Fabric::rail_optimized},
                                    {"multi-plane", Fabric::multi_plane}},
                                   c.gpus <= c.gpus_per_node ? Fabric::single_node : Fabric::fat_tree);
    c.nic_bandwidth = c.chip.nic_bandwidth;
    if (const Node* n = r.optional("nic_bandwidth")) {
        c.nic_bandwidth = detail::as_quantity(*n, "cluster.nic_bandwidth", parse_bandwidth, "400 Gb/s");
        require_positive(c.nic_bandwidth.value(), *n, "cluster.nic_bandwidth", "a bandwidth");
        require_nic_bandwidth(c.nic_bandwidth, *n, "cluster.nic_bandwidth");
    }
    if (const Node* n = r.optional("power_cap")) {
        const Watts cap = detail::as_quantity(*n, "cluster.power_cap", parse_power, "500 W");
        if (!(c.chip.idle_power.value() > 0.0)) {
            throw CoupledError(n->where,
                               fmt::format("`cluster.power_cap` needs the chip's idle board power, and chip \"{}\" has no [power] "
                                           "idle figure",
                                           c.chip.id),
                               "set `idle = { value = \"… W\", source = \"…\" }` in the chip's [power] table, or remove power_cap",
                               nullptr, {"cluster.power_cap", "cluster.chip"});
        }
        // The lowest limit the driver accepts (nvidia-smi's Min Power Limit) where the catalog has it; else above idle.
        const bool has_min = c.chip.min_power_cap.value() > 0.0;
        const Watts low = has_min ? c.chip.min_power_cap : c.chip.idle_power;
        if (!((has_min ? cap.value() >= low.value() : cap.value() > low.value()) && cap.value() <= c.chip.tdp.value())) {
            throw CoupledError(n->where,
                               fmt::format("`cluster.power_cap` = {} is outside the chip's range: {} {} ({}) and at most its TDP ({})",
                                           format_power(cap), has_min ? "at least" : "above", has_min ? "its lowest settable limit" : "its idle power",
                                           format_power(low), format_power(c.chip.tdp)),
                               fmt::format("give a cap between {} and {}", format_power(low), format_power(c.chip.tdp)),
                               stand_in(n->where, Node::Kind::string, 0, 0.0, format_power(c.chip.tdp)),
                               {"cluster.power_cap", "cluster.chip"});
        }
        c.power_cap = cap;
    }
    c.nic_latency = c.chip.nic_latency;
    if (const Node* n = r.optional("nic_latency")) {
        c.nic_latency = detail::as_quantity(*n, "cluster.nic_latency", parse_duration, "2.8 us");
        if (c.nic_latency.value() < 0) {
            throw KeyError(n->where, n->where, false, "`cluster.nic_latency` cannot be negative", "e.g. `nic_latency = \"2.8 us\"`",
                           stand_in(n->where, Node::Kind::string, 0, 0.0, "2.8 us"));
        }
        require_within(c.nic_latency.value(), *n, "cluster.nic_latency", "latencies", 0.0, limits::kLatencyMax, "s");
    }
    if (const Node* o = r.optional("oversubscription")) {
        c.oversubscription = detail::as_number(*o, "cluster.oversubscription");
        // 1 to 1,024, as `collective --oversubscription`: 1e300 passed `check` and made a task outlast simulated time
        // in `run`, blamed on the batch (a fresh verifier, #12).
        if (!(c.oversubscription >= 1.0 && c.oversubscription <= 1024.0)) {
            throw KeyError(o->where, o->where, false,
                           fmt::format("`cluster.oversubscription` = {} must be from 1 to 1024 (the supported range)", c.oversubscription),
                           "1 is a non-blocking fabric; 2 means 2:1 (half the uplink bandwidth)",
                           stand_in(o->where, Node::Kind::floating, 0, 1.0));
        }
    }
    // The host server, for per-node failure rates: the scenario's, else the chip's [host] figure, else the node.
    // A chip's host that does not fit the scenario's nodes (8-GPU boards in nodes of 3) gives way to the node, as a chip
    // without a [host] figure does; the assumptions say which (scenario.cpp). Written, it must fit (below).
    // A job within one node (gpus_per_node defaults to min(gpus, the scale-up domain): 300 Ascend chips of a 384-chip
    // CloudMatrix are one partial domain) holds whole hosts and a partial one, whatever the sizes (hosts() rounds up).
    const auto fits = [&](int host) {
        return host % c.gpus_per_node == 0 || c.gpus_per_node % host == 0 || c.gpus <= c.gpus_per_node;
    };
    const bool chip_host_fits = c.chip.gpus_per_host > 0 && fits(c.chip.gpus_per_host);
    c.gpus_per_host = read_int(r, "gpus_per_host", 1, 100'000, chip_host_fits ? c.chip.gpus_per_host : c.gpus_per_node);
    c.tiers = read_int(r, "tiers", 2, 3, 2);
    c.planes = read_int(r, "planes", 1, 64, c.fabric == Fabric::multi_plane ? c.gpus_per_node : 1);
    c.switch_radix = read_int(r, "switch_radix", 4, 4096, 64);
    if (c.switch_radix % 2 != 0) {
        throw ScenarioError(r.table().find("switch_radix")->where,
                            fmt::format("`cluster.switch_radix` = {} must be even (half a switch's ports face down, "
                                        "half up)", c.switch_radix),
                            "64-port switches are typical (Quantum-2 NDR)");
    }
    r.finish();

    if (c.gpus % c.gpus_per_node != 0) {
        // Both directions: fewer GPUs than one node is not a whole node either. The key to change is
        // gpus_per_node when it was written (it is the one a mistake gives), else gpus.
        const Node* per_node = node.find("gpus_per_node");
        const long long below = c.gpus / c.gpus_per_node * c.gpus_per_node;
        // The value that satisfies the rule, for the search for every mistake: gpus rounded down to whole nodes, or
        // one node (gpus = 0 read on as 1 is not a node of 8).
        const Node* gpus = node.find("gpus");
        // A --set of gpus over the file's gpus_per_node is the one to change (`--set cluster.gpus=57`; a fresh verifier).
        const bool at_per_node = per_node != nullptr && (given_by_set(per_node) || !given_by_set(gpus));
        throw CoupledError(at_per_node ? per_node->where : gpus->where,
                            fmt::format("cluster.gpus = {} is not a whole number of nodes of gpus_per_node = {}",
                                        c.gpus, c.gpus_per_node),
                            below > 0 ? fmt::format("use a multiple of {} GPUs (e.g. {} or {}), or change gpus_per_node",
                                                    c.gpus_per_node, below, below + c.gpus_per_node)
                                      : fmt::format("set gpus_per_node to at most {} (a divisor of gpus), or use {} GPUs",
                                                    c.gpus, c.gpus_per_node),
                            stand_in(gpus->where, Node::Kind::integer, below > 0 ? below : c.gpus_per_node));
    }
    // A host server holds whole NVLink domains (PCIe pairs, an HGX board of one domain) or a domain whole hosts (a
    // GB200 NVL72 rack of 18 trays of 4); between them, `hosts()` would count servers that straddle domains.
    if (!fits(c.gpus_per_host)) {
        throw ScenarioError(node.find("gpus_per_host")->where,
                            fmt::format("cluster.gpus_per_host = {} and cluster.gpus_per_node = {}: neither divides the "
                                        "other, so a host server would straddle NVLink domains",
                                        c.gpus_per_host, c.gpus_per_node),
                            "set cluster.gpus_per_host to the GPUs in one server, a divisor or a multiple of gpus_per_node "
                            "(per-node failure rates count servers)");
    }
    check_fabric_shape(node, c);
    return c;
}

void check_cluster_size(const Scenario& s) {
    try {
        check_fabric_size(s.cluster);
    } catch (const ScenarioError&) {
        throw;
    } catch (const Error& e) {
        // The key to change: tiers when a fat-tree was given two, else the radix when written, else the GPUs.
        const bool two_tier_tree = s.cluster.fabric == Fabric::fat_tree && s.cluster.tiers == 2;
        SourceRef where = s.sources.at("cluster.gpus", s.sources.cluster);
        if (s.sources.keys.contains("cluster.switch_radix")) where = s.sources.at("cluster.switch_radix", where);
        if (two_tier_tree && s.sources.keys.contains("cluster.tiers")) where = s.sources.at("cluster.tiers", where);
        throw ScenarioError(where, e.message(), e.hint());
    }
}

}  // namespace gpuhours::detail
