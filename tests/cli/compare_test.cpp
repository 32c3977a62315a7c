// `gpuhours compare`: the inputs that differ and the results side by side, checked on a hand-made difference (one
// scenario under two prices), in text, JSON and the HTML page, and its mistakes.
#include "../support/cli.hpp"
#include "../support/json.hpp"
#include "../support/scenarios.hpp"
#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

using gpuhours::test::run_cli;
namespace fs = std::filesystem;

namespace {

const std::string kRoot = GPUHOURS_TEST_SOURCE_DIR;

}  // namespace

TEST_CASE("compare of one scenario at two prices: only the price differs, and the cost ratio is the price ratio", "[cli][compare]") {
    const gpuhours::test::TempDir scratch("compare-prices-" + std::to_string(::getpid()));
    const auto& dir = scratch.path;
    const auto file = gpuhours::test::write_small_run(dir).string();
    // The small run priced at a fixed $1.5 (A) and $3 (B) per GPU-hour, no other cost item: the same run (same
    // seed, same interruptions) so the same days and GPU-hours, and cost = GPU-hours × price, so B / A = 3 / 1.5 = 2.
    const std::string args = "compare " + file + " " + file + " --set 'A:pricing.gpu_hour=$1.5' --set 'B:pricing.gpu_hour=$3' --samples 4";
    const auto r = run_cli(args + " --json");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const auto doc = gpuhours::test::JsonReader(r.out).document();
    const auto& a = doc["scenarios"].array().at(0);
    const auto& b = doc["scenarios"].array().at(1);
    CHECK(a["wall_clock_days"].number() == b["wall_clock_days"].number());
    CHECK(a["gpu_hours"].number() == b["gpu_hours"].number());
    CHECK(b["cost_usd"].number() / a["cost_usd"].number() == Approx(2.0).epsilon(1e-12));
    // And the cost is GPU-hours × price: A's is 1.5 × its GPU-hours.
    CHECK(a["cost_usd"].number() == Approx(1.5 * a["gpu_hours"].number()).epsilon(1e-12));
    // The median over the samples beside it (the small run has a failure class, so its samples differ): the same
    // samples at twice the price, so twice the median.
    CHECK(b["cost_usd_p50"].number() / a["cost_usd_p50"].number() == Approx(2.0).epsilon(1e-12));
    // Two inputs differ: the key as written (the uncertain table replaced by one value) and the price it resolves to.
    const auto& differences = doc["differences"].array();
    REQUIRE(differences.size() == 2);
    CHECK(differences[0]["key"].string() == "pricing.gpu_hour");
    CHECK(differences[0]["values"].array()[0].string() == "\"$1.5\"");
    CHECK(differences[0]["values"].array()[1].string() == "\"$3\"");
    CHECK(differences[1]["key"].string() == "resolved.gpu_hour");
    CHECK(doc["same_inputs"].number() > 10);

    // Each column lists its own --set.
    CHECK(a["set"].array().at(0).string() == "pricing.gpu_hour=$1.5");
    CHECK(b["set"].array().at(0).string() == "pricing.gpu_hour=$3");

    const auto text = run_cli(args);
    REQUIRE(text.exit_code == 0);
    CHECK_THAT(text.out, Catch::Contains("(" + file + ", --set pricing.gpu_hour=$3)"));
    CHECK_THAT(text.out, Catch::Contains("inputs that differ (2;"));
    CHECK_THAT(text.out, Catch::Contains("\ncost (median over the samples)"));
    CHECK_THAT(text.out, Catch::Contains("B against A: days ×1.000, GPU-hours ×1.000, cost ×2.000"));
    // `run`'s MFU basis (BF16 peak, full attention) comes first, the other labelled after it.
    const auto bf16 = text.out.find("MFU (BF16 peak, full attention)");
    const auto other = text.out.find("MFU (own compute precision's peak, causal)");
    REQUIRE(bf16 != std::string::npos);
    REQUIRE(other != std::string::npos);
    CHECK(bf16 < other);
    // Each figure names the peak it is of (the small run computes in BF16, the default).
    CHECK_THAT(text.out.substr(other, text.out.find('\n', other) - other), Catch::Contains("% of the bf16 peak"));

    const auto page = dir / "compare.html";
    const auto html = run_cli(args + " -o " + page.string());
    INFO(html.out);
    REQUIRE(html.exit_code == 0);
    const std::string content = gpuhours::test::read_text(page);
    CHECK_THAT(content, Catch::StartsWith("<!DOCTYPE html>") && Catch::EndsWith("</html>\n"));
    CHECK_THAT(content, Catch::Contains("<section id=\"compare\">") && Catch::Contains("pricing.gpu_hour"));
    CHECK_THAT(content, Catch::Contains("Cost (nominal prices) by scenario"));
    // The page ends its comparison with the text's ratio line too (it had only the tables and charts).
    CHECK_THAT(content, Catch::Contains("<p>B against A: days ×1.000, GPU-hours ×1.000, cost ×2.000"));
    // Each bar's hover text is the figure as the table prints it, with its scenario (it was the raw double).
    const auto days_a = fmt::format("<title>A: {:.1f} days</title>", a["wall_clock_days"].number());
    CHECK_THAT(content, Catch::Contains(days_a));
    // Same input and seed, same page.
    REQUIRE(run_cli(args + " -o " + (dir / "again.html").string()).exit_code == 0);
    CHECK(gpuhours::test::read_text(dir / "again.html") == content);
}

TEST_CASE("compare says which columns' claim shares weigh a price range and which a price of one figure", "[cli][compare]") {
    // The flagship draws its rental price from triangular($1.5, $2, $3.5); its ownership twin prices rung 1 at the
    // chip catalog's one figure. Its claim's HOLDS 100% beside the flagship's UNCERTAIN carries no price uncertainty
    // (an analyst read it as ownership making the claim hold); the line under the table says so.
    const std::string a = kRoot + "/scenarios/deepseek-v3.toml";
    const std::string b = kRoot + "/scenarios/deepseek-v3-ownership.toml";
    const auto r = run_cli("compare " + a + " " + b + " --samples 4");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("claims' shares: A draws its price per GPU-hour from triangular($1.5, $2, $3.5); B prices it at "
                                      "one figure (no price uncertainty in its share)"));
    const auto doc = gpuhours::test::JsonReader(run_cli("compare " + a + " " + b + " --samples 4 --json").out).document();
    CHECK(doc["scenarios"].array().at(0)["price_range"].string() == "triangular($1.5, $2, $3.5)");
    CHECK(std::holds_alternative<std::nullptr_t>(doc["scenarios"].array().at(1)["price_range"].v));
    // Both columns drawing the price from a range: nothing to say.
    const auto same = run_cli("compare " + a + " " + a + " --set 'B:cluster.chip.efficiency.gemm_fp8_blockwise=0.53' --samples 4");
    REQUIRE(same.exit_code == 0);
    CHECK_THAT(same.out, !Catch::Contains("claims' shares"));
}

TEST_CASE("compare with a chip set by --set says that the chip's other inputs stay as written", "[cli][compare]") {
    const gpuhours::test::TempDir scratch("compare-chip-" + std::to_string(::getpid()));
    const auto file = gpuhours::test::write_small_run(scratch.path).string();
    const auto r = run_cli("compare " + file + " " + file + " --set B:cluster.chip=h800 --samples 1");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("--set cluster.chip=h800)") && Catch::Contains("B sets its chip by --set") &&
                          Catch::Contains("`gpuhours whatif` re-derives these for a chip swap"));
    const auto same = run_cli("compare " + file + " " + file + " --set 'B:pricing.gpu_hour=$3' --samples 1");
    REQUIRE(same.exit_code == 0);
    CHECK_THAT(same.out, !Catch::Contains("sets its chip"));
}

TEST_CASE("compare lists the inputs as written before what they resolve to", "[cli][compare]") {
    // A key only B writes (its --set) was seen after A's resolved rows, and listed among them (a fresh user's hunt,
    // session 38): every input key comes first, then the resolved.* rows.
    const gpuhours::test::TempDir scratch("compare-order-" + std::to_string(::getpid()));
    const auto file = gpuhours::test::write_small_run(scratch.path).string();
    const auto r = run_cli("compare " + file + " " + file + " --set B:training.dropout=true --set B:cluster.chip=h800 --samples 1 --json");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const auto doc = gpuhours::test::JsonReader(r.out).document();
    bool resolved_seen = false;
    int inputs = 0, resolved = 0;
    for (const auto& d : doc["differences"].array()) {
        const bool is_resolved = d["key"].string().rfind("resolved.", 0) == 0;
        CHECK_FALSE((resolved_seen && !is_resolved));
        resolved_seen = resolved_seen || is_resolved;
        (is_resolved ? resolved : inputs) += 1;
    }
    CHECK(inputs >= 2);    // training.dropout, cluster.chip
    CHECK(resolved >= 1);  // resolved.chip
}

TEST_CASE("compare of unpriced scenarios shows no price", "[cli][compare]") {
    // An unpriced scenario prices nothing, but compare listed the chip catalog's rental price among its resolved
    // inputs ("(the chip catalog's, rung 1 only)"), which applies to an ownership scenario's rung 1 only (a fresh
    // user's hunt, session 37).
    const std::string file = std::string(GPUHOURS_TEST_SOURCE_DIR) + "/scenarios/validation/megatron-1.7b.toml";
    const auto r = run_cli("compare " + file + " " + file + " --set B:training.global_batch=256 --samples 1");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, !Catch::Contains("resolved.gpu_hour") && !Catch::Contains("rung 1 only"));
}

TEST_CASE("compare's mistakes exit 2 naming the flag or the file, and write nothing", "[cli][compare]") {
    const gpuhours::test::TempDir scratch("compare-mistakes-" + std::to_string(::getpid()));
    const auto& dir = scratch.path;
    const auto file = gpuhours::test::write_small_run(dir).string();
    struct Case {
        std::string args, says;
    };
    const Case cases[] = {
        {file, "compare needs at least two scenarios, and got 1"},
        {file + " " + file + " --set C:pricing.gpu_hour=1", "names scenario C, and there are 2 (A to B)"},
        {file + " " + file + " -o " + (dir / "out.txt").string(), "cannot tell the format"},
        {file + " " + (dir / "missing.toml").string(), "missing.toml"},
        // Named as typed, with its letter (it read "--set parallelism.pipelin=2", an argument never given).
        {file + " " + file + " --set B:parallelism.pipelin=2", "--set B:parallelism.pipelin=2: error: unknown key `pipelin`"},
        // An empty -o (a script's unset variable) is not "no file": it was taken for one and the table printed.
        {file + " " + file + " -o ''", "-o needs a file name"},
        // A lowercase letter is not a key ("unknown key `b:pricing`, did you mean `pricing`?" pointed at every
        // scenario's key instead).
        {file + " " + file + " --set b:pricing.gpu_hour=1", "scenario letters are capitals"},
    };
    for (const auto& c : cases) {
        const auto r = run_cli("compare " + c.args);
        INFO(c.args << "\n" << r.out);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.out, Catch::Contains(c.says));
    }
    CHECK_FALSE(fs::exists(dir / "out.txt"));
}
