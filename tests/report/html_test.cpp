// The HTML report (html.hpp) and its SVG charts (svg.hpp): chart geometry derived by hand, escaping, the page's
// self-containedness and determinism, and `gpuhours report` end to end on a small scenario.
#include "../support/cli.hpp"

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/report/html.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/report/svg.hpp>
#include <gpuhours/units/units.hpp>
#include <gpuhours/analysis/whatif.hpp>

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using gpuhours::test::run_cli;
namespace svg = gpuhours::svg;

namespace {

const std::string kRoot = GPUHOURS_TEST_SOURCE_DIR;
const std::string kSmall = kRoot + "/tests/report/small.toml";
const std::string kCatalog = " --catalog " + kRoot + "/scenarios";

std::filesystem::path scratch(const std::string& name) {
    const auto dir = gpuhours::test::scratch_path("html-test");
    std::filesystem::create_directories(dir);
    return dir / name;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

// The values of `attribute` of every element matching `element_prefix` (e.g. `<rect class="bar"`), in order.
std::vector<double> attribute_values(const std::string& svg_text, const std::string& element_prefix, const std::string& attribute) {
    std::vector<double> out;
    for (std::size_t at = svg_text.find(element_prefix); at != std::string::npos;
         at = svg_text.find(element_prefix, at + 1)) {
        const std::size_t end = svg_text.find('>', at);
        const std::string element = svg_text.substr(at, end - at);
        const std::size_t a = element.find(" " + attribute + "=\"");
        REQUIRE(a != std::string::npos);
        out.push_back(std::stod(element.substr(a + attribute.size() + 3)));
    }
    return out;
}

// Every reference a browser would follow out of the page: src=, href=, xlink:href=, CSS url(…) and @import, and
// <script>/<link>/<iframe>/<object> elements. References within the page (#id) and data: URIs are allowed.
std::vector<std::string> external_references(const std::string& html) {
    std::vector<std::string> found;
    const std::regex attribute(R"re(\b(?:src|href|srcset|action|poster|data)\s*=\s*["']?([^"'\s>]*))re", std::regex::icase);
    const std::regex css_url(R"re(url\(\s*["']?([^"')\s]*))re", std::regex::icase);
    for (const std::regex* re : {&attribute, &css_url}) {
        for (auto it = std::sregex_iterator(html.begin(), html.end(), *re); it != std::sregex_iterator(); ++it) {
            const std::string target = (*it)[1].str();
            if (target.rfind('#', 0) == 0 || target.rfind("data:", 0) == 0) continue;
            found.push_back(it->str());
        }
    }
    const std::regex element(R"re(<\s*(script|link|iframe|object|embed|img)\b|@import|https?://)re", std::regex::icase);
    for (auto it = std::sregex_iterator(html.begin(), html.end(), element); it != std::sregex_iterator(); ++it) {
        found.push_back(it->str());
    }
    return found;
}

gpuhours::RunEvaluation small_evaluation(int samples = 32, std::uint64_t seed = 1) {
    gpuhours::LoadOptions load;
    load.catalog_dir = kRoot + "/scenarios";
    const gpuhours::ScenarioSampler sampler(kSmall, load);
    gpuhours::EvaluateOptions options;
    options.samples = samples;
    options.seed = seed;
    options.record_trace = true;
    return gpuhours::evaluate_run(sampler, options);
}

// The bars of a Gantt chart: the elements of its <g class="bars"> group.
std::string gantt_bars(const std::string& svg_text) {
    const std::size_t at = svg_text.find("<g class=\"bars\">");
    REQUIRE(at != std::string::npos);
    return svg_text.substr(at, svg_text.find("</g>", at) - at);
}

// The <svg …>…</svg> element with the given id.
std::string chart(const std::string& page, const std::string& id) {
    const std::size_t at = page.find("<svg class=\"chart\" id=\"" + id + "\"");
    REQUIRE(at != std::string::npos);
    return page.substr(at, page.find("</svg>", at) + 6 - at);
}

}  // namespace

TEST_CASE("escape turns the five markup characters into entities and leaves the rest", "[report]") {
    CHECK(svg::escape(R"(<a href="x">Tom & Jerry's</a>)") ==
          "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    CHECK(svg::escape("×2 — 90% ≤ $6M") == "×2 — 90% ≤ $6M");
    CHECK(svg::escape("&amp;") == "&amp;amp;");  // escaping is not idempotent: text is escaped exactly once
}

TEST_CASE("nice ticks step by 1, 2 or 5 times a power of ten and cover the range", "[report]") {
    // (4 − 0) / 5 = 0.8 = 8 × 0.1, nearest nice number 10 × 0.1 = 1: ticks 0, 1, 2, 3, 4.
    CHECK(svg::nice_ticks(0.0, 4.0, 5) == std::vector<double>{0, 1, 2, 3, 4});
    // 1.668 / 8 = 0.2085 = 2.085 × 0.1 → 2 × 0.1: ticks 0, 0.2, …, 1.8 (the first ≥ 1.668).
    const auto t = svg::nice_ticks(0.0, 1.668, 8);
    REQUIRE(t.size() == 10);
    CHECK(t.back() == 1.8);
    // 0.3 / 3 = 0.1 → step 0.1: the third tick is exactly 0.3, not 0.1 × 3 = 0.30000000000000004.
    CHECK(svg::nice_ticks(0.0, 0.3, 3) == std::vector<double>{0.0, 0.1, 0.2, 0.3});
    // (60.88 − 53.7) / 6 = 1.197 → step 1: from 53 (≤ 53.7) to 61 (≥ 60.88).
    const auto w = svg::nice_ticks(53.7, 60.88, 6);
    CHECK(w.front() == 53.0);
    CHECK(w.back() == 61.0);
    CHECK(w.size() == 9);
}

TEST_CASE("stacked bar segments are as wide as their values on the axis scale", "[report]") {
    svg::BarChart c;
    c.frame = {"t", "title", "what it shows", "time (s)", "", 600};
    c.series = {{"compute", "#0072B2"}, {"bubble", "#BDBDBD"}};
    c.bars = {{"a", {1.0, 3.0}, "", {}}, {"b", {2.0, 0.0}, "", {}}};
    const std::string s = svg::bar_chart(c);
    // Left margin max(80, 7 × 1 character + 16) = 80; right margin max(24, 0 + 16) = 24, so the plot spans
    // 80..576 px = 496 px. The largest total is 1 + 3 = 4, nice_ticks(0, 4) ends at 4: 124 px per unit.
    // Bar a: 1 → x 80, 124 px; 3 → x 204, 372 px. Bar b: 2 → x 80, 248 px; its 0 draws nothing.
    CHECK(attribute_values(s, "<rect class=\"bar\"", "x") == std::vector<double>{80.0, 204.0, 80.0});
    CHECK(attribute_values(s, "<rect class=\"bar\"", "width") == std::vector<double>{124.0, 372.0, 248.0});
    // The axis line spans the plot.
    CHECK(attribute_values(s, "<line class=\"axis\"", "x1") == std::vector<double>{80.0});
    CHECK(attribute_values(s, "<line class=\"axis\"", "x2") == std::vector<double>{576.0});
}

TEST_CASE("a marker beyond the bars extends the axis to it", "[report]") {
    svg::BarChart c;
    c.frame = {"m", "memory", "memory per rank", "memory (GB)", "", 600};
    c.series = {{"parameters", "#0072B2"}};
    c.bars = {{"r", {40.0}, "", {}}};
    c.markers = {{80.0, "capacity 80 GB", "#B00020", false}};
    const std::string s = svg::bar_chart(c);
    // nice_ticks(0, 80, 5): 80 / 5 = 16 = 1.6 × 10 → 2 × 10, ticks 0..80. Plot 80..576 px (496 px): 40 GB is half
    // of it, 248 px, and the capacity line stands at the plot's right edge, x = 576.
    CHECK(attribute_values(s, "<rect class=\"bar\"", "width") == std::vector<double>{248.0});
    CHECK(attribute_values(s, "<line class=\"marker\"", "x1") == std::vector<double>{576.0});
}

TEST_CASE("histogram bars are as tall as their counts", "[report]") {
    svg::Histogram h;
    h.frame = {"h", "cost", "cost of runs", "cost ($)", "runs", 600};
    h.samples = {1, 2, 2, 3, 3, 3};
    h.bins = 2;
    const std::string s = svg::histogram(h);
    // Two bins of width (3 − 1) / 2 = 1: [1, 2) holds 1 sample, [2, 3] (the maximum falls in the last bin) holds 5.
    // The count axis runs 0..5 over the 180 px plot: 36 px and 180 px.
    CHECK(attribute_values(s, "<rect class=\"bin\"", "height") == std::vector<double>{36.0, 180.0});
    CHECK_THAT(s, Catch::Contains("<title>1 to 2: 1 of 6</title>"));
}

TEST_CASE("a histogram's bins carry the page's formatting when it gives one", "[report]") {
    // Samples 5,166,234.12 and 5,266,234.12 in one bin each (2 bins of $50,000): edges $5.166M, $5.216M, $5.266M
    // written as money (format_dollars' four figures), not as the raw doubles of the bin arithmetic.
    svg::Histogram h;
    h.frame = {"h", "cost", "cost of runs", "cost ($)", "runs", 600};
    h.samples = {5166234.123456, 5266234.123456};
    h.bins = 2;
    h.bin_format = [](double v) { return gpuhours::format_dollars(gpuhours::Dollars(v)); };
    const std::string s = svg::histogram(h);
    CHECK_THAT(s, Catch::Contains("<title>$5.166M to $5.216M: 1 of 2</title>"));
    CHECK_THAT(s, Catch::Contains("<title>$5.216M to $5.266M: 1 of 2</title>"));
    CHECK_THAT(s, !Catch::Contains("123456"));
}

TEST_CASE("gantt bars are clipped to the window and those outside it are not drawn", "[report]") {
    svg::Gantt g;
    g.frame = {"g", "timeline", "a timeline", "time (s)", "", 600};
    g.series = {{"forward", "#0072B2"}, {"backward", "#E69F00"}};
    g.rows = {{"r", false}};
    g.bars = {{0, 0.5, 2.0, 0, 0, "inside then out"}, {0, 1.5, 2.0, 1, 0, "outside"}};
    g.window_start = 0.0;
    g.window_end = 1.0;
    const std::string s = svg::gantt(g);
    // Left margin 80 (one-character label), plot 80..576 px for 0..1 s: the first bar runs 0.5–1 s (clipped) →
    // x 80 + 248 = 328, 248 px wide; the second starts after the window and is not drawn, nor is its legend entry.
    CHECK(count(gantt_bars(s), "<rect ") == 1);
    CHECK_THAT(s, Catch::Contains(R"(<rect x="328.0" y=)"));
    CHECK_THAT(s, Catch::Contains(R"(width="248.0" height="14.0")"));
    CHECK_THAT(s, Catch::Contains(">forward</text>"));
    CHECK_THAT(s, !Catch::Contains(">backward</text>"));
}

TEST_CASE("every chart has a title, a description and an accessible name", "[report]") {
    const std::string page = gpuhours::report::html_report(small_evaluation());
    const std::size_t charts = count(page, "<svg ");
    REQUIRE(charts > 0);
    CHECK(count(page, R"(role="img" aria-labelledby=")") == charts);
    CHECK(std::regex_search(page, std::regex(R"(<title id="timeline-chart-title">[^<]+</title><desc id="timeline-chart-desc">[^<]+</desc>)")));
    // Axis labels carry their unit.
    CHECK_THAT(page, Catch::Contains(">time since the step began (s)</text>"));
    CHECK_THAT(page, Catch::Contains(">memory per GPU (GB, 10⁹ bytes)</text>"));
    CHECK_THAT(page, Catch::Contains(">wall clock (days)</text>"));
}

TEST_CASE("the checker finds external references, and the report has none", "[report]") {
    // The checker itself must catch each kind, or the real assertion below could not fail.
    CHECK(external_references(R"(<img src="https://cdn.example/x.png">)").size() >= 1);
    CHECK(external_references(R"(<a href=other.html>x</a>)").size() == 1);
    CHECK(external_references(R"x(<style>body { background: url('bg.png') }</style>)x").size() == 1);
    CHECK(external_references(R"(<script>1</script>)").size() == 1);
    CHECK(external_references(R"x(<a href="#claims">x</a><div style="background:url(data:image/png;base64,AA)">)x").empty());

    const std::string page = gpuhours::report::html_report(small_evaluation());
    CHECK(external_references(page) == std::vector<std::string>{});
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK_THAT(page, Catch::Contains("<meta charset=\"utf-8\">"));
}

TEST_CASE("text from the scenario is escaped in the page", "[report]") {
    gpuhours::RunEvaluation ev = small_evaluation();
    ev.scenario.title = R"(<script>alert('x') & "y"</script>)";
    const std::string page = gpuhours::report::html_report(ev);
    CHECK_THAT(page, Catch::Contains("<h1>&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;</h1>"));
    CHECK_THAT(page, !Catch::Contains("<script"));
    // The claim text of tests/report/small.toml, "under $10K & <2 days", escaped.
    CHECK_THAT(page, Catch::Contains("“under $10K &amp; &lt;2 days”"));
}

TEST_CASE("the timeline shows each stage until every stage has finished its first backward pass", "[report]") {
    gpuhours::RunEvaluation ev = small_evaluation(8);
    auto& step = ev.steps.at(ev.headline);
    REQUIRE(step.stages.size() == 2);  // tests/report/small.toml: pipeline 2
    const int r0 = step.stages[0].rank;
    const int r1 = step.stages[1].rank;
    using gpuhours::SimTime;
    auto ms = [](int m) { return SimTime::from_picoseconds(static_cast<std::int64_t>(m) * 1'000'000'000); };
    // Stage 0 finishes its first backward (B0, two pieces) at 5 ms, stage 1 at 3 ms: the window is 0–5 ms.
    // Drawn: stage 0 F0 (0–1), B0 (3–5, one bar: its pieces abut), its send (1–1.5); stage 1 F0 (1.5–2),
    // B0 (2–3). Not drawn: stage 1's F1 at 5–6 ms (after the window).
    step.trace = {
        {r0, "compute", "F0.c0 layer 0", ms(0), ms(1)},
        {r0, "p2p", "pp 0→1 mb0", ms(1), SimTime::from_picoseconds(1'500'000'000)},
        {r0, "compute", "B0.c0 layer 0 recompute", ms(3), ms(4)},
        {r0, "compute", "B0.c0 layer 0", ms(4), ms(5)},
        {r1, "compute", "F0.c0 layer 1", SimTime::from_picoseconds(1'500'000'000), ms(2)},
        {r1, "compute", "B0.c0 layer 1", ms(2), ms(3)},
        {r1, "compute", "F1.c0 layer 1", ms(5), ms(6)},
    };
    const std::string page = gpuhours::report::html_report(ev);
    const std::string timeline = chart(page, "timeline-chart");
    CHECK_THAT(page, Catch::Contains("The first 0.005 s of the"));
    // Six bars: stage 0's F0, B0's recompute and the rest of B0 (different kinds do not merge) and its send;
    // stage 1's F0 and B0.
    CHECK(count(gantt_bars(timeline), "<rect ") == 6);
    CHECK_THAT(timeline, Catch::Contains("<title>B0.c0 recompute 1.00 ms</title>"));
    CHECK_THAT(timeline, Catch::Contains("<title>pp 0→1 mb0 0.50 ms</title>"));
    CHECK_THAT(timeline, !Catch::Contains("F1.c0"));
}

TEST_CASE("the comparison across chips draws days, cost and GPU-hours with each chip's limiter", "[report]") {
    const gpuhours::RunEvaluation ev = small_evaluation(8);
    gpuhours::WhatIfResult w;
    w.scenario_title = "t";
    gpuhours::WhatIfRow a;
    a.chip = "h100";
    a.chip_name = "NVIDIA H100";
    a.gpus = 16;
    a.wall_clock_days = 10.0;
    a.gpu_hours = 3840.0;
    a.cost_usd = 8000.0;
    a.limiter = gpuhours::Limiter::compute;
    gpuhours::ClaimVerdict claim;
    claim.text = "under $20K";
    claim.verdict = gpuhours::Verdict::holds;
    claim.probability = 1.0;
    claim.nominal_verdict = gpuhours::Verdict::holds;
    a.verdicts = {claim};
    gpuhours::WhatIfRow b = a;
    b.chip = "h20";
    b.chip_name = "NVIDIA H20";
    b.wall_clock_days = 30.0;
    b.gpu_hours = 11520.0;
    b.cost_usd = 24000.0;
    b.limiter = gpuhours::Limiter::hbm;
    b.verdicts.front().verdict = gpuhours::Verdict::fails;
    b.verdicts.front().probability = 0.0;
    b.verdicts.front().nominal_verdict = gpuhours::Verdict::fails;
    b.caveats = {"its kernel efficiency attention (0.6) is an assumption"};
    gpuhours::WhatIfRow c = a;
    c.chip = "tiny";
    c.chip_name = "Tiny";
    c.feasible = false;
    c.error = "no layout fits in 16 GB";
    w.rows = {a, b, c};

    const std::string without = gpuhours::report::html_report(ev);
    const std::string page = gpuhours::report::html_report(ev, &w);
    CHECK_THAT(without, !Catch::Contains("id=\"comparison\""));
    CHECK(count(page, "<svg ") == count(without, "<svg ") + 3);
    // The H20 takes 3× the H100's days, cost and GPU-hours, so its bar is 3× as long in each chart; the
    // infeasible chip has no bar.
    for (const char* id : {"whatif-days", "whatif-cost", "whatif-gpu-hours"}) {
        const auto widths = attribute_values(chart(page, id), "<rect class=\"bar\"", "width");
        REQUIRE(widths.size() == 2);
        CHECK(widths[1] == Approx(3.0 * widths[0]).margin(0.2));  // coordinates are printed to 0.1 px
    }
    CHECK_THAT(page, Catch::Contains("30.0 days · step limited by HBM bandwidth"));
    CHECK_THAT(page, Catch::Contains("infeasible: no layout fits in 16 GB"));
    // The table: no rule (no classification), no deadline, so neither column; the claim's text once, under it,
    // and each row's verdict alone: over the samples, then at the nominal inputs (the row's figures).
    const std::size_t at = page.find("<table class=\"wide\">", page.find("id=\"comparison\""));
    REQUIRE(at != std::string::npos);
    const std::string comparison = page.substr(at, page.find("</section>", at) - at);
    CHECK_THAT(comparison, Catch::Contains("<th>claim (samples; nominal)</th>") && Catch::Contains("<td>HOLDS 100% (HOLDS at nominal)</td>") &&
                               Catch::Contains("<td>FAILS 0% (FAILS at nominal)</td>"));
    CHECK_THAT(comparison, !Catch::Contains("classification") && !Catch::Contains("deadline"));
    CHECK(count(comparison, "under $20K") == 1);
    // A row's caveat is said under the table, as `whatif` says it under its own (a new user found the report without
    // the H20's [U] note): once, for that chip only.
    CHECK(count(comparison, "Note (h20): its kernel efficiency attention (0.6) is an assumption.") == 1);
    CHECK_THAT(comparison, !Catch::Contains("Note (h100)"));
    // How many samples each row's shares are of: not said where not known (both rows here: the WhatIfRow default, 0).
    CHECK_THAT(comparison, !Catch::Contains("Claim shares:"));

    // Under a rule the page says what `whatif` says in its classification block: each row's class, its reason and
    // whether the rule permits it, the catalog chips left out, and the vendors the rule does not reach (the page gave
    // the class alone; an audit of the report, session 52).
    w.rule = "oct-2023";
    gpuhours::RuleSet rules;
    rules.id = "oct-2023";
    rules.not_subject_vendors = {"Huawei"};
    rules.not_subject_source = "PRC-origin parts";
    w.rule_set = rules;
    w.rows[0].classification = "3A090.a";
    w.rows[0].classification_reason = "TPP 15,831 ≥ 4,800";
    w.rows[0].permitted = false;
    w.rows[0].reference = true;
    w.rows[1].classification = "not controlled";
    w.rows[1].classification_reason = "TPP 2,368 < 4,800";
    w.not_permitted = {{"h200", "3A090.a"}, {"b200", "3A090.a"}};
    w.rows[0].samples = 200;  // the scenario's own chip at run's count, the other at whatif's
    w.rows[1].samples = 100;
    const std::string ruled = gpuhours::report::html_report(ev, &w);
    CHECK_THAT(ruled, Catch::Contains("Classification of h100 under oct-2023: 3A090.a — TPP 15,831 ≥ 4,800; not permitted under this rule: "
                                      "the scenario&#39;s own chip, run as written as the reference row."));
    CHECK_THAT(ruled, Catch::Contains("Classification of h20 under oct-2023: not controlled — TPP 2,368 &lt; 4,800."));
    CHECK_THAT(ruled, Catch::Contains("Not permitted under oct-2023, so not compared: h200 (3A090.a), b200 (3A090.a)."));
    CHECK_THAT(ruled, Catch::Contains("Not subject to oct-2023: Huawei parts, whatever their class (PRC-origin parts)."));
    CHECK_THAT(ruled, Catch::Contains("Claim shares: h100 over 200 Monte Carlo samples; h20 over 100 Monte Carlo samples."));
}

TEST_CASE("gpuhours report writes one self-contained page with the verdict and the charts", "[report]") {
    const auto out = scratch("small.html");
    std::filesystem::remove(out);
    // 40 samples: all of them meeting the claim settle HOLDS (the share's 95 % interval from 40 / 43.84 = 0.912 up;
    // 32 would reach 32 / 35.84 = 0.893, below 90 %: UNCERTAIN, too few samples).
    const auto r = run_cli("report " + kSmall + kCatalog + " --samples 40 -o " + out.string());
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.rfind("report: " + out.string() + " (", 0) == 0);
    const std::string page = slurp(out);
    CHECK_THAT(page, Catch::Contains(R"(<div class="verdict holds"><div class="badge">HOLDS</div>)"));
    CHECK_THAT(page, Catch::Contains("“under $10K &amp; &lt;2 days”"));
    // Six charts: the timeline, the step breakdown, the per-stage breakdown, the cost and wall clock histograms
    // (the run is stochastic and priced), and memory per rank.
    CHECK(count(page, "<svg ") == 6);
    // The steady-state cost beside the allocated total, the figure `run` prints for the same scenario and seed (the
    // page had only the allocated total; a report audit, session 52).
    const auto text = run_cli("run " + kSmall + kCatalog + " --samples 40");
    const std::smatch steady = [&] {
        std::smatch m;
        REQUIRE(std::regex_search(text.out, m, std::regex(R"(steady-state (\$[0-9.,]+[KMB]?) \(the same prices)")));
        return m;
    }();
    CHECK_THAT(page, Catch::Contains("the same prices give " + steady[1].str() + "."));
    // Hover texts print figures as the page does ($, days, separators): no raw double with six or more decimals.
    CHECK_FALSE(std::regex_search(page, std::regex(R"(<title>[^<]*[0-9]\.[0-9]{6,}[^<]*</title>)")));
    // Each wall-clock bin's edges read apart however narrow the bins are (every bin read "11.6 days to 11.6 days"
    // where the runs spread less than 0.05 days).
    const std::string days = chart(page, "wall-clock-histogram");
    const std::regex bin(R"(<title>([0-9.]+) days to ([0-9.]+) days: )");
    int bins = 0;
    for (auto it = std::sregex_iterator(days.begin(), days.end(), bin); it != std::sregex_iterator(); ++it, ++bins) {
        CHECK((*it)[1].str() != (*it)[2].str());
    }
    CHECK(bins >= 1);
    for (const char* id : {"timeline-chart", "breakdown-chart", "breakdown-stages", "cost-histogram", "wall-clock-histogram", "memory-chart"}) {
        CHECK_THAT(page, Catch::Contains(std::string("<svg class=\"chart\" id=\"") + id + "\""));
    }
    // Every id on the page once: a chart named as its section (<section id="timeline"> around <svg id="timeline">)
    // made the page invalid HTML and its #timeline anchor ambiguous (a report audit, session 52).
    const std::regex id_attribute(R"re( id="([^"]+)")re");
    std::set<std::string> ids;
    for (auto it = std::sregex_iterator(page.begin(), page.end(), id_attribute); it != std::sregex_iterator(); ++it) {
        CHECK(ids.insert((*it)[1].str()).second);
    }
    CHECK(ids.size() >= 9);  // 6 sections and the charts above at least
    // The claim thresholds are drawn on the histograms: $10K and 2 days.
    CHECK_THAT(chart(page, "cost-histogram"), Catch::Contains(">claim: cost &lt; $10K</text>"));
    CHECK_THAT(chart(page, "wall-clock-histogram"), Catch::Contains(">claim: wall clock &lt; 2.0 days</text>"));
    // The sections come in the order of the issue: verdicts first.
    const std::size_t claims = page.find("id=\"claims\"");
    const std::size_t summary = page.find("id=\"summary\"");
    const std::size_t timeline = page.find("id=\"timeline\"");
    const std::size_t breakdown = page.find("id=\"breakdown\"");
    const std::size_t cost = page.find("id=\"cost\"");
    const std::size_t memory = page.find("<section id=\"memory\"");
    CHECK(claims < summary);
    CHECK(summary < timeline);
    CHECK(timeline < breakdown);
    CHECK(breakdown < cost);
    CHECK(cost < memory);
    CHECK(memory != std::string::npos);
}

TEST_CASE("the same seed gives a byte-identical report and another seed another one", "[report]") {
    const auto a = scratch("a.html");
    const auto b = scratch("b.html");
    const auto c = scratch("c.html");
    for (const auto& [path, seed] : {std::pair{a, 5}, std::pair{b, 5}, std::pair{c, 6}}) {
        const auto r = run_cli("report " + kSmall + kCatalog + " --samples 32 --seed " + std::to_string(seed) + " -o " + path.string());
        INFO(r.out);
        REQUIRE(r.exit_code == 0);
    }
    const std::string pa = slurp(a);
    CHECK(pa.size() > 10'000);
    CHECK(pa == slurp(b));
    CHECK(pa != slurp(c));
}

TEST_CASE("report without -o, or with a path it cannot write, exits 2 and leaves no file", "[report]") {
    const auto none = run_cli("report " + kSmall + kCatalog + " --samples 4");
    CHECK(none.exit_code == 2);
    CHECK_THAT(none.out, Catch::Contains("add -o FILE"));

    const auto missing_dir = scratch("no-such-dir");
    std::filesystem::remove_all(missing_dir);
    const auto r = run_cli("report " + kSmall + kCatalog + " --samples 4 -o " + (missing_dir / "report.html").string());
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("no-such-dir/report.html"));
    CHECK(!std::filesystem::exists(missing_dir));

    // The target is a directory: refused before the run is evaluated (report::check_output_path), so the
    // directory holds what it held before and no temporary was made.
    const auto dir = scratch("a-directory");
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto d = run_cli("report " + kSmall + kCatalog + " --samples 4 --output " + dir.string());
    CHECK(d.exit_code == 2);
    CHECK(std::filesystem::is_directory(dir));
    CHECK(std::filesystem::is_empty(dir));
    CHECK(!std::filesystem::exists(dir.string() + ".tmp"));

    // A name that promises data is refused, whatever its case (a page was written into it).
    const auto json = run_cli("report " + kSmall + kCatalog + " --samples 4 -o " + scratch("r.JSON").string());
    CHECK(json.exit_code == 2);
    CHECK_THAT(json.out, Catch::Contains("gpuhours report writes an HTML page, not json"));
    CHECK(!std::filesystem::exists(scratch("r.JSON")));
}

TEST_CASE("report --same-price applies to its chip comparison without --capacity", "[report]") {
    // whatif_request reads it for the comparison; it was refused as "applies to the capacity section" (a reviewer,
    // session 38). The small run is priced ($ per GPU-hour), so there is a price to keep.
    const auto out = scratch("same-price.html");
    const auto r = run_cli("report " + kSmall + kCatalog + " --samples 4 --chips b200 --same-price -o " + out.string());
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(slurp(out), Catch::Contains("the scenario&#39;s (--same-price)") || Catch::Contains("the scenario's (--same-price)"));
}

TEST_CASE("axis ticks of large whole numbers carry thousands separators", "[report]") {
    // GPU-hours axes reach millions: 5e6 reads "5,000,000"; small and fractional values keep their shortest form.
    CHECK(svg::default_tick(5e6) == "5,000,000");
    CHECK(svg::default_tick(10000) == "10,000");
    CHECK(svg::default_tick(2500) == "2500");
    CHECK(svg::default_tick(2.5) == "2.5");
    CHECK(svg::default_tick(0) == "0");
}
