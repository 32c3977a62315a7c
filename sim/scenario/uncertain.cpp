// Uncertain inputs: distributions written in place of values, and the sampler that reads a scenario at drawn values.
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>

namespace gpuhours::detail {
namespace {

constexpr double kZ95 = 1.6448536269514722;  // standard normal 95th percentile

// A distribution parameter: a number, or a unit string split into prefix, number and suffix.
struct Parameter {
    double value = 0;
    std::string prefix, suffix;
    SourceRef where;    // the bound's value
    std::string path;   // its dotted key ("pricing.gpu_hour.high")
    std::string text;   // as written (a number's text empty)
};

Parameter read_parameter(const Node& n, const std::string& path) {
    if (n.kind == Node::Kind::integer || n.kind == Node::Kind::floating) return Parameter{detail::as_number(n, path), {}, {}, n.where, path, {}};
    const std::string text = detail::as_string(n, path);
    std::size_t start = 0;
    while (start < text.size() && !(std::isdigit(static_cast<unsigned char>(text[start])) || text[start] == '.' || text[start] == '-')) ++start;
    std::size_t end = start;
    const auto digit = [&](std::size_t i) { return i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); };
    while (end < text.size()) {
        const char c = text[end];
        if (digit(end) || c == '.' || (end == start && c == '-')) {
            ++end;
            continue;
        }
        // An exponent, signed or not ("$2e-1" was read as 2 with the unit "$…e-1": "not in the unit of" "$3").
        if ((c == 'e' || c == 'E') && end > start) {
            const std::size_t k = end + 1 + (end + 1 < text.size() && (text[end + 1] == '-' || text[end + 1] == '+') ? 1 : 0);
            if (digit(k)) {
                end = k + 1;
                continue;
            }
        }
        break;
    }
    if (end == start) throw ScenarioError(n.where, fmt::format("`{}` = \"{}\" has no number", path, text), "write e.g. \"$1.5\" or \"0.4\"");
    Parameter p;
    try {
        p.value = std::stod(text.substr(start, end - start));
    } catch (const std::exception&) {
        throw ScenarioError(n.where, fmt::format("`{}` = \"{}\" has no readable number", path, text));
    }
    p.prefix = text.substr(0, start);
    p.suffix = text.substr(end);
    p.where = n.where;
    p.path = path;
    p.text = text;
    return p;
}

UncertainInput read_distribution(const Node& n, const std::string& path) {
    TableReader r(n, path);
    UncertainInput u;
    u.path = path;
    u.where = n.where;
    std::string dist;
    if (const Node* d = r.optional("dist")) dist = detail::as_string(*d, r.path_of("dist"));
    if (const Node* source = r.optional("source")) (void)detail::as_string(*source, r.path_of("source"));  // kept by read_one
    std::vector<Parameter> params;
    auto param = [&](const char* key) {
        params.push_back(read_parameter(r.required(key), r.path_of(key)));
        return params.back().value;
    };
    if (dist.empty()) dist = r.has("mode") ? "triangular" : "uniform";
    // The bounds are read first, their units compared, then their order: "200 Gb/s" to "50 GB" is a unit mistake,
    // not an order one.
    std::string order_error;  // the order rule the bounds break, when they do
    double lo = 0, hi = 0;
    if (dist == "uniform") {
        u.distribution = Distribution::uniform;
        u.a = param("low");
        u.b = param("high");
        if (!(u.a < u.b)) order_error = fmt::format("`{}` needs low < high", path);
    } else if (dist == "triangular") {
        u.distribution = Distribution::triangular;
        u.a = param("low");
        u.b = param("mode");
        u.c = param("high");
        if (!(u.a <= u.b && u.b <= u.c)) order_error = fmt::format("`{}` needs low ≤ mode ≤ high", path);
    } else if (dist == "normal") {
        u.distribution = Distribution::normal;
        u.a = param("mean");
        u.b = param("sd");
        if (!(u.b > 0)) order_error = fmt::format("`{}.sd` must be positive", path);
    } else if (dist == "lognormal") {
        u.distribution = Distribution::lognormal;
        lo = param("low");
        hi = param("high");
        if (!(lo > 0 && hi > lo)) order_error = fmt::format("`{}` needs 0 < low < high (its 5th and 95th percentiles)", path);
    } else {
        throw ScenarioError(r.table().find("dist")->where, fmt::format("`{}.dist` = \"{}\" is not a distribution", path, dist),
                            "use \"uniform\", \"triangular\", \"normal\" or \"lognormal\"");
    }
    r.finish();
    // The bounds' unit is the one most of them use (the first's on a tie); the first bound in another is named.
    const auto same_unit = [](const Parameter& a, const Parameter& b) { return a.prefix == b.prefix && a.suffix == b.suffix; };
    const Parameter* reference = &params.front();
    for (const auto& p : params) {
        const auto count = [&](const Parameter& q) { return std::count_if(params.begin(), params.end(), [&](const Parameter& o) { return same_unit(o, q); }); };
        if (count(p) > count(*reference)) reference = &p;
    }
    const auto written = [](const Parameter& p) { return p.text.empty() ? fmt::format("{:g}", p.value) : fmt::format("\"{}\"", p.text); };
    for (const auto& p : params) {
        // A bare number in quotes beside numbers ("0.583" beside 0.477): the key takes a number, as the others are.
        if (!p.text.empty() && p.prefix.empty() && p.suffix.empty() && reference->text.empty()) {
            throw ScenarioError(p.where, fmt::format("`{}` = \"{}\" is a string", p.path, p.text),
                                fmt::format("write it as a number, without quotes ({:g}), as `{}` is", p.value, reference->path));
        }
        if (!same_unit(p, *reference)) {
            throw ScenarioError(p.where, fmt::format("`{}` = {} is not in the unit of `{}` = {}", p.path, written(p), reference->path,
                                                     written(*reference)),
                                fmt::format("write every bound of a range in one unit, as `{}` = {}", reference->path, written(*reference)));
        }
    }
    // A rule between the bounds, or a bound the key refuses, is located at a bound given by --set over the file's
    // range: that --set is the change (a fresh user's hunt, session 37: `--set …gemm_fp8_blockwise.high=1.5` was the
    // file's line). With several bounds given by --set the arguments cannot be ordered here: the range's place stays.
    const auto given_by_set = [](const Parameter& p) { return p.where.file.starts_with("--set"); };
    if (std::count_if(params.begin(), params.end(), given_by_set) == 1) {
        u.where = std::find_if(params.begin(), params.end(), given_by_set)->where;
    }
    if (!order_error.empty()) {
        throw ScenarioError(u.where, order_error, "put the bounds in that order (docs/scenario-language.md, \"Ranges\")");
    }
    if (u.distribution == Distribution::lognormal) {
        u.a = 0.5 * (std::log(lo) + std::log(hi));
        u.b = (std::log(hi) - std::log(lo)) / (2.0 * kZ95);
    }
    u.prefix = params.front().prefix;
    u.suffix = params.front().suffix;
    return u;
}

// Distribution `value` at dotted `child` read into `out` and replaced in the document by its nominal value.
void read_one(Node& value, const std::string& child, std::vector<UncertainInput>& out) {
    if (child.rfind("claims", 0) == 0 || child.rfind("published", 0) == 0 || child.rfind("phases", 0) == 0 ||
        child == "training.tokens") {
        throw ScenarioError(value.where, fmt::format("`{}` cannot be uncertain", child),
                            "distributions are supported for prices, reliability figures, and the inputs of the "
                            "step (cluster, chip, model, parallelism, training except tokens)");
    }
    UncertainInput u = read_distribution(value, child);
    const double nominal = u.nominal();
    const bool numeric = u.prefix.empty() && u.suffix.empty();
    Node replacement;
    if (numeric) {
        replacement.kind = Node::Kind::floating;
        replacement.floating = nominal;
    } else {
        replacement.kind = Node::Kind::string;
        replacement.text = u.text(nominal);
    }
    replacement.where = value.where;
    replacement.from_range = true;
    // A range with a `source` stands as the figure { value = nominal, source = "…" }, so that the assumptions list
    // it with its source, as a [pricing], [reliability] or chip figure written that way.
    if (const Node* source = value.find("source")) {
        Node figure;
        figure.kind = Node::Kind::table;
        figure.where = value.where;
        figure.set("value", std::move(replacement), value.where);
        figure.set("source", *source, source->where);
        replacement = std::move(figure);
    }
    value = std::move(replacement);
    out.push_back(std::move(u));
}

// A value of a distribution's kind, to read the rest of the file with when the distribution has a mistake: its
// first scalar bound as written (mode, mean, low, high, in that order of preference), other than the one the
// mistake is at (`mistaken`: a mode in another unit would be reported again); nullopt when it has none.
std::optional<Node> stand_in_for(const Node& distribution, const SourceRef& mistaken) {
    for (const char* key : {"mode", "mean", "low", "high"}) {
        const Node* n = distribution.find(key);
        if (n != nullptr && !same_place(n->where, mistaken) &&
            (n->kind == Node::Kind::integer || n->kind == Node::Kind::floating || n->kind == Node::Kind::string)) {
            Node out = *n;
            out.where = distribution.where;
            return out;
        }
    }
    return std::nullopt;
}

void find_uncertain(Node& node, const std::string& path, std::vector<UncertainInput>& out, std::vector<ScenarioError>& mistakes) {
    for (std::size_t i = 0; i < node.fields.size();) {
        auto& [key, value] = node.fields[i];
        const std::string child = path.empty() ? key : path + "." + key;
        if (is_distribution(value)) {
            try {
                read_one(value, child, out);
            } catch (const ScenarioError& e) {
                // Reported with the rest of the file's mistakes; the rest is read with a stand-in (or without the key).
                mistakes.push_back(e);
                if (auto standing = stand_in_for(value, e.where())) {
                    value = std::move(*standing);
                } else {
                    const std::string name = key;
                    node.erase(name);
                    continue;
                }
            }
        } else if (value.kind == Node::Kind::table) {
            find_uncertain(value, child, out, mistakes);
        }
        ++i;
    }
}

}  // namespace

std::vector<UncertainInput> extract_uncertain(Node& root, std::vector<ScenarioError>& mistakes) {
    std::vector<UncertainInput> out;
    find_uncertain(root, "", out, mistakes);
    return out;
}

// Sets the node at dotted `path` to `value` written like the input's bounds.
bool set_value(Node& root, const UncertainInput& u, double value) {
    Node* node = &root;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = u.path.find('.', start);
        const std::string key = u.path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        node = node->find(key);
        if (node == nullptr) return false;
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    if (Node* figure_value = node->kind == Node::Kind::table ? node->find("value") : nullptr) node = figure_value;  // { value, source }
    if (u.prefix.empty() && u.suffix.empty()) {
        node->kind = Node::Kind::floating;
        node->floating = value;
        // Integer keys (counts) take the nearest whole number.
    } else {
        node->kind = Node::Kind::string;
        node->text = u.text(value);
    }
    return true;
}

}  // namespace gpuhours::detail

namespace gpuhours {

using detail::Node;

double UncertainInput::nominal() const {
    switch (distribution) {
        case Distribution::uniform: return 0.5 * (a + b);
        case Distribution::triangular: return b;
        case Distribution::normal: return a;
        case Distribution::lognormal: return std::exp(a);
    }
    return a;
}

double UncertainInput::quantile(double q) const {
    // Inverse normal CDF by bisection on erfc: quantiles are needed a few times per run, not per sample.
    auto normal_quantile = [](double p) {
        double lo = -10, hi = 10;
        for (int i = 0; i < 100; ++i) {
            const double mid = 0.5 * (lo + hi);
            if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p) lo = mid;
            else hi = mid;
        }
        return 0.5 * (lo + hi);
    };
    switch (distribution) {
        case Distribution::uniform: return a + q * (b - a);
        case Distribution::triangular: {
            const double f = (b - a) / (c - a);
            return q < f ? a + std::sqrt(q * (c - a) * (b - a)) : c - std::sqrt((1 - q) * (c - a) * (c - b));
        }
        case Distribution::normal: return a + b * normal_quantile(q);
        case Distribution::lognormal: return std::exp(a + b * normal_quantile(q));
    }
    return a;
}

namespace {
// The standard normal quantile at 10⁻⁶ (Φ⁻¹(1 − 10⁻⁶)): the truncation of normal and lognormal inputs.
constexpr double kTailZ = 4.753424308822899;
}  // namespace

std::pair<double, double> UncertainInput::range() const {
    switch (distribution) {
        case Distribution::uniform: return {a, b};
        case Distribution::triangular: return {a, c};
        case Distribution::normal: return {a - kTailZ * b, a + kTailZ * b};
        case Distribution::lognormal: return {std::exp(a - kTailZ * b), std::exp(a + kTailZ * b)};
    }
    return {a, a};
}

double UncertainInput::draw(Random& rng) const {
    // Normal draws past ±kTailZ sd (one in 500,000) are drawn again: range() is what `check` tested.
    auto truncated_normal = [&] {
        double v = rng.normal(a, b);
        while (std::abs(v - a) > kTailZ * b) v = rng.normal(a, b);
        return v;
    };
    switch (distribution) {
        case Distribution::uniform: return a + (b - a) * rng.uniform();
        case Distribution::triangular: return rng.triangular(a, b, c);
        case Distribution::normal: return truncated_normal();
        case Distribution::lognormal: return std::exp(truncated_normal());
    }
    return a;
}

std::string UncertainInput::text(double value) const {
    return prefix + fmt::format("{:.6g}", value) + suffix;
}

std::string UncertainInput::distribution_text() const {
    switch (distribution) {
        case Distribution::uniform: return fmt::format("uniform({}, {})", text(a), text(b));
        case Distribution::triangular: return fmt::format("triangular({}, {}, {})", text(a), text(b), text(c));
        case Distribution::normal: return fmt::format("normal(mean {}, sd {})", text(a), text(b));
        case Distribution::lognormal: return fmt::format("lognormal(90% in {}–{})", text(quantile(0.05)), text(quantile(0.95)));
    }
    return {};
}

std::string UncertainInput::describe() const { return fmt::format("{} ~ {}", path, distribution_text()); }

const UncertainInput* ScenarioSampler::input(std::string_view path) const {
    const auto it = std::find_if(inputs_.begin(), inputs_.end(), [&](const UncertainInput& u) { return u.path == path; });
    return it == inputs_.end() ? nullptr : &*it;
}

std::string UncertainInput::nominal_basis() const {
    switch (distribution) {
        case Distribution::uniform: return "the midpoint";
        case Distribution::triangular:
            return fmt::format("the mode; {:.0f}% of draws lie below it", c > a ? 100.0 * (b - a) / (c - a) : 50.0);
        case Distribution::normal: return "the mean";
        case Distribution::lognormal: return "the median";
    }
    return "the nominal value";
}

ScenarioSampler::ScenarioSampler(const std::filesystem::path& file, const LoadOptions& options) : file_(file), options_(options) {
    std::vector<ScenarioError> range_mistakes;  // an `unset` entry's and the ranges' mistakes, reported with the rest
    auto doc = std::make_shared<Node>(detail::merge_document(detail::parse_document_file(file.string()), file, options, &range_mistakes));
    inputs_ = detail::extract_uncertain(*doc, range_mistakes);
    // The nominal scenario's own mistakes first (all of them, located, with the ranges'); then the ends of the ranges.
    (void)detail::read_merged(*doc, file, options, range_mistakes, &inputs_);
    document_ = doc;
}

Scenario ScenarioSampler::nominal() const { return with(nominal_values()); }

std::vector<double> ScenarioSampler::nominal_values() const {
    std::vector<double> v;
    for (const auto& u : inputs_) v.push_back(u.nominal());
    return v;
}

std::vector<double> ScenarioSampler::draw(std::uint64_t seed) const {
    std::vector<double> v;
    v.reserve(inputs_.size());
    for (const auto& u : inputs_) {
        std::uint64_t stream = 0xcbf29ce484222325ULL;  // FNV-1a over the path
        for (const unsigned char ch : u.path) stream = (stream ^ ch) * 0x100000001b3ULL;
        Random rng(seed ^ stream);
        v.push_back(u.draw(rng));
    }
    return v;
}

Scenario ScenarioSampler::with(const std::vector<double>& values) const {
    Node doc = *std::static_pointer_cast<const Node>(document_);
    for (std::size_t i = 0; i < inputs_.size() && i < values.size(); ++i) {
        if (!detail::set_value(doc, inputs_[i], values[i])) throw std::logic_error("uncertain input path vanished: " + inputs_[i].path);
    }
    return detail::read_merged(doc, file_, options_);
}

}  // namespace gpuhours
