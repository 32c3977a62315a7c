// The run layer: interruptions, checkpoint intervals, the Daly closed form and the Monte Carlo run.
// Sources: Llama 3 (arXiv 2407.21783 §3.3.4, Table 5): 419 unexpected interruptions in a 54-day snapshot on
// 16,384 GPUs; Young 1974 / Daly 2006 for the checkpoint interval and the expected wall-clock time.
#include <gpuhours/units/error.hpp>
#include <gpuhours/run/run.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace gpuhours;

namespace {

// Llama 3: 419 interruptions / (16,384 GPUs × 54 days × 24 h) = 419 / 21,233,664 GPU-hours
// = 1.97328e-5 per GPU-hour (one per 50,677 GPU-hours).
constexpr int kLlamaGpus = 16'384;
constexpr double kLlamaGpuHours = 16'384.0 * 54.0 * 24.0;  // 21,233,664
constexpr double kLlamaRate = 419.0 / kLlamaGpuHours;

ReliabilityModel llama_reliability() {
    ReliabilityModel m;
    m.classes.push_back(FailureClass{"unexpected", kLlamaRate, false, {}, {}});
    return m;
}

// One segment of `work` seconds: `steps` steps of work/steps seconds.
RunInputs one_segment(Seconds work, double steps, int gpus) {
    RunInputs in;
    in.gpus = gpus;
    in.gpus_per_host = 8;
    in.segments.push_back(RunSegment{"pre-training", steps, work / steps, 0.0});
    return in;
}

// Sample mean and (n − 1) variance.
struct Moments {
    double mean = 0.0;
    double variance = 0.0;
};
Moments moments(const std::vector<double>& xs) {
    double sum = 0.0;
    for (double x : xs) sum += x;
    const double mean = sum / static_cast<double>(xs.size());
    double ss = 0.0;
    for (double x : xs) ss += (x - mean) * (x - mean);
    return {mean, ss / static_cast<double>(xs.size() - 1)};
}

}  // namespace

TEST_CASE("expected interruptions of a 16384 GPU job over 54 days at the Llama 3 rate are 419", "[run]") {
    // rate × GPUs × hours = 419 / (16,384 × 1,296) × 16,384 × 1,296 = 419.
    CHECK(expected_interruptions(llama_reliability(), kLlamaGpus, 8, days(54)) == Approx(419.0).epsilon(1e-12));
    // Half the time, half the interruptions: 209.5.
    CHECK(expected_interruptions(llama_reliability(), kLlamaGpus, 8, days(27)) == Approx(209.5).epsilon(1e-12));
}

TEST_CASE("per node failure rates count each node once and a partly filled node as one", "[run]") {
    // 16,384 GPUs / 8 = 2,048 nodes; a per-node rate of 8 × the per-GPU rate gives the same 419.
    ReliabilityModel per_node;
    per_node.classes.push_back(FailureClass{"host", 8.0 * kLlamaRate, true, {}, {}});
    CHECK(expected_interruptions(per_node, kLlamaGpus, 8, days(54)) == Approx(419.0).epsilon(1e-12));
    // 12 GPUs at 8 per node occupy 2 nodes: 1e-3 per node-hour × 2 nodes × 100 h = 0.2.
    ReliabilityModel small;
    small.classes.push_back(FailureClass{"host", 1e-3, true, {}, {}});
    CHECK(expected_interruptions(small, 12, 8, hours(100)) == Approx(0.2).epsilon(1e-12));
    // Classes add: GPU class 1e-4 per GPU-hour × 12 GPUs × 100 h = 0.12, plus 0.2 = 0.32.
    small.classes.push_back(FailureClass{"GPU", 1e-4, false, {}, {}});
    CHECK(expected_interruptions(small, 12, 8, hours(100)) == Approx(0.32).epsilon(1e-12));
}

TEST_CASE("the Llama 3 job has a mean time to interruption of 3.09 hours", "[run]") {
    // MTTF = 1 / (rate × GPUs) = 21,233,664 / 419 / 16,384 h = 1,296 h / 419 = 3.0931 h = 11,135.1 s.
    const std::optional<Seconds> mttf = job_mttf(llama_reliability(), kLlamaGpus, 8);
    REQUIRE(mttf.has_value());
    CHECK(in_hours(*mttf) == Approx(1296.0 / 419.0).epsilon(1e-12));
    CHECK(in_hours(*mttf) == Approx(3.09).epsilon(1e-3));
    // No classes, or only zero rates: the job never fails.
    CHECK_FALSE(job_mttf(ReliabilityModel{}, kLlamaGpus, 8).has_value());
    ReliabilityModel zero;
    zero.classes.push_back(FailureClass{"none", 0.0, false, {}, {}});
    CHECK_FALSE(job_mttf(zero, kLlamaGpus, 8).has_value());
}

TEST_CASE("the Young Daly interval for a 60 s write and a 3 h MTTF is 1138.4 s", "[run]") {
    // √(2 · 60 s · 10,800 s) = √1,296,000 = 1,138.42 s.
    CHECK(young_daly_interval(seconds(60), hours(3)).value() == Approx(1138.42).epsilon(1e-5));
    CHECK(young_daly_interval(seconds(60), hours(3)).value() == Approx(std::sqrt(1'296'000.0)).epsilon(1e-15));
    // Four times the write time doubles the interval: √(2 · 240 · 10,800) = 2,276.8 s.
    CHECK(young_daly_interval(seconds(240), hours(3)).value() == Approx(2.0 * std::sqrt(1'296'000.0)).epsilon(1e-15));
}

TEST_CASE("the checkpoint interval is the given one or Young Daly or one write apart when asynchronous", "[run]") {
    // 100 h of work in 36,000 steps of 10 s on 16,384 GPUs at the Llama 3 rate: MTTF = 11,135.1 s (above).
    RunInputs in = one_segment(hours(100), 36'000.0, kLlamaGpus);
    in.reliability = llama_reliability();
    in.reliability.checkpoint_write = seconds(60);
    // Young/Daly: √(2 · 60 · 11,135.1) = √1,336,213 = 1,155.9 s.
    const double mttf_s = 1296.0 / 419.0 * 3600.0;
    CHECK(checkpoint_interval(in).value() == Approx(std::sqrt(2.0 * 60.0 * mttf_s)).epsilon(1e-12));
    CHECK(checkpoint_interval(in).value() == Approx(1155.9).epsilon(1e-4));
    // Asynchronous: back-to-back writes, every 60 s.
    in.reliability.async_checkpoint = true;
    CHECK(checkpoint_interval(in).value() == 60.0);
    // ...but never more often than once per 10 s step: a 1 s async write still checkpoints every 10 s.
    in.reliability.checkpoint_write = seconds(1);
    CHECK(checkpoint_interval(in).value() == 10.0);
    // A given interval wins.
    in.reliability.checkpoint_interval = seconds(1800);
    CHECK(checkpoint_interval(in).value() == 1800.0);
    // A job that never fails checkpoints once: the whole run, 360,000 s.
    RunInputs never = one_segment(hours(100), 36'000.0, kLlamaGpus);
    CHECK(checkpoint_interval(never).value() == Approx(360'000.0).epsilon(1e-12));
}

TEST_CASE("the closed form wall clock matches a hand computed Daly case", "[run]") {
    // M = 10 h = 36,000 s, τ = 1 h, C = 300 s, R = 600 s, W = 100 h:
    // per piece M · e^{R/M} · (e^{(τ+C)/M} − 1) = 36,000 · e^{1/60} · (e^{0.108333} − 1)
    //   = 36,000 · 1.016806 · 0.114419 = 4,188.32 s; × W/τ = 100 pieces = 418,831.6 s.
    CHECK(expected_wall_clock(hours(100), hours(10), hours(1), seconds(300), seconds(600)).value() ==
          Approx(418'831.6).epsilon(1e-6));
    // Rare failures (M = 1e12 s): e^{x} − 1 → x, so W · (τ + C)/τ = 360,000 · 3,900/3,600 = 390,000 s.
    CHECK(expected_wall_clock(hours(100), seconds(1e12), hours(1), seconds(300), seconds(0)).value() ==
          Approx(390'000.0).epsilon(1e-6));
}

TEST_CASE("wall clock without failures is the work plus the blocking checkpoints", "[run]") {
    // 1,000 steps × 2 s + 500 steps × 4 s = 4,000 s of work; checkpoint every 1,000 s, 30 s each, blocking.
    // Checkpoints after 1,000, 2,000 and 3,000 s; the last piece (3,000 → 4,000 s) just finishes:
    // 3 × 30 s = 90 s, wall clock 4,090 s.
    RunInputs in;
    in.gpus = 1024;
    in.segments.push_back(RunSegment{"pre-training", 1000.0, seconds(2), 0.0});
    in.segments.push_back(RunSegment{"context extension", 500.0, seconds(4), 0.0});
    in.reliability.checkpoint_write = seconds(30);
    in.reliability.restart_time = seconds(900);
    in.reliability.checkpoint_interval = seconds(1000);
    const RunSample s = simulate_run(in, 7);
    CHECK(s.wall_clock.value() == 4090.0);
    CHECK(s.productive.value() == 4000.0);
    CHECK(s.checkpointing.value() == 90.0);
    CHECK(s.lost_work.value() == 0.0);
    CHECK(s.restarting.value() == 0.0);
    CHECK(s.interruptions == 0);
    CHECK(s.goodput() == Approx(4000.0 / 4090.0).epsilon(1e-15));
    // Asynchronous checkpoints add nothing: 4,000 s.
    in.reliability.async_checkpoint = true;
    const RunSample a = simulate_run(in, 7);
    CHECK(a.wall_clock.value() == 4000.0);
    CHECK(a.checkpointing.value() == 0.0);
    // A 1,500 s interval: checkpoints after 1,500 and 3,000 s, last piece 1,000 s: 4,000 + 2 × 30 = 4,060 s.
    in.reliability.async_checkpoint = false;
    in.reliability.checkpoint_interval = seconds(1500);
    CHECK(simulate_run(in, 7).wall_clock.value() == 4060.0);
}

TEST_CASE("simulated interruptions of the Llama 3 run average 419 within Poisson error", "[run]") {
    // 54 days of work (4,665,600 s) in 10 s steps on 16,384 GPUs at the Llama 3 rate, M = 11,135.1 s; asynchronous
    // checkpoints every step and no restart time, so the wall clock is barely longer than 54 days.
    // The count N(T) at the (random) end T satisfies E[N] = λ · E[T] (optional stopping for N(t) − λt), and with the
    // closed form E[T] = M · (e^{10/M} − 1) · W/10: E[N] = (e^{10/M} − 1) · W/10 ≈ 419 · (1 + 10/(2M)) = 419.19
    // (each interruption redoes 5 s of work on average).
    // Poisson: sd of one run ≈ √419 = 20.47; the mean of 200 runs has sd 20.47/√200 = 1.447; 4 sd = 5.79.
    RunInputs in = one_segment(days(54), 4'665'600.0 / 10.0, kLlamaGpus);
    in.reliability = llama_reliability();
    in.reliability.async_checkpoint = true;
    in.reliability.checkpoint_interval = seconds(10);
    const Seconds mttf = *job_mttf(in.reliability, kLlamaGpus, 8);
    const double expected = expected_wall_clock(days(54), mttf, seconds(10), seconds(0), seconds(0)) / mttf;
    CHECK(expected == Approx(419.0).margin(0.3));

    constexpr int kRuns = 200;
    std::vector<double> counts;
    for (int seed = 0; seed < kRuns; ++seed) counts.push_back(simulate_run(in, static_cast<std::uint64_t>(seed)).interruptions);
    const Moments m = moments(counts);
    CHECK(m.mean == Approx(expected).margin(4.0 * std::sqrt(419.0) / std::sqrt(double{kRuns})));
    // The spread is Poisson too: the sample variance of 200 draws of Poisson(419) has sd ≈ 419 · √(2/199) = 42;
    // 4 sd = 168.
    CHECK(m.variance == Approx(419.0).margin(168.0));
}

TEST_CASE("an asynchronous checkpoint counts only once written: an interruption loses its write time more on average", "[run]") {
    // M = 10 h (λ = 0.1 per hour), τ = 1 h, asynchronous writes of δ = 20 min, no restart time, W = 100 h.
    // An interruption at `into` hours into a piece loses `into`, plus the previous piece when the last snapshot is
    // still being written (into < δ) and was taken since the run last (re)started (the one it resumed from is
    // durable). The time X from the last (re)start to the interruption is exponential (memoryless), and so is `into`
    // truncated to [0, τ), whatever the pieces before it:
    //   E[into] = 1/λ − τ / (e^{λτ} − 1) = 10 − 1 / (e^{0.1} − 1) = 0.49167 h;
    //   P(into < δ) = (1 − e^{−λδ}) / (1 − e^{−λτ}) = (1 − e^{−1/30}) / (1 − e^{−0.1}) = 0.34450;
    //   P(X ≥ τ), a snapshot taken since the (re)start: e^{−0.1} = 0.90484.
    // Lost per interruption: 0.49167 + 0.90484 × 0.34450 × 1 h = 0.80339 h (0.49167 h if a snapshot counted at once,
    // as before). (The run's last piece and its end shift this by under 0.003 h.)
    RunInputs in = one_segment(hours(100), 36'000.0, 1);
    in.reliability.classes.push_back(FailureClass{"all", 0.1, false, {}, {}});
    in.reliability.async_checkpoint = true;
    in.reliability.checkpoint_write = seconds(1200);
    in.reliability.restart_time = seconds(0);
    in.reliability.checkpoint_interval = hours(1);
    constexpr int kRuns = 400;
    std::vector<double> per_interruption;
    for (int seed = 0; seed < kRuns; ++seed) {
        const RunSample s = simulate_run(in, static_cast<std::uint64_t>(seed));
        if (s.interruptions > 0) per_interruption.push_back(s.lost_work.value() / 3600.0 / s.interruptions);
    }
    const Moments m = moments(per_interruption);
    const double standard_error = std::sqrt(m.variance / static_cast<double>(per_interruption.size()));
    INFO("mean " << m.mean << " h, standard error " << standard_error << " h");
    CHECK(m.mean == Approx(0.80339).margin(4.0 * standard_error + 0.003));
    CHECK(m.mean > 0.49167 + 10.0 * standard_error);
}

TEST_CASE("simulated mean wall clock matches the Daly closed form within Monte Carlo error", "[run]") {
    // The hand case above: M = 10 h, τ = 1 h, C = 300 s blocking, R = 600 s, W = 100 h (exactly 100 pieces).
    // The simulation writes no checkpoint after the last piece, so
    // E[T] = 99 · 4,188.32 + 36,000 · e^{1/60} · (e^{0.1} − 1) = 414,643.3 + 3,849.8 = 418,493.1 s
    // (goodput 360,000 / 418,493 = 0.860). ~11.6 interruptions a run.
    // Tolerance: 4 standard errors of the mean of 200 runs, the standard error from the samples' own spread.
    RunInputs in = one_segment(hours(100), 36'000.0, 1);
    in.reliability.classes.push_back(FailureClass{"all", 0.1, false, {}, {}});  // 1 GPU at 0.1 per hour: M = 10 h
    in.reliability.checkpoint_write = seconds(300);
    in.reliability.restart_time = seconds(600);
    in.reliability.checkpoint_interval = hours(1);
    const Seconds expected = expected_wall_clock(hours(99), hours(10), hours(1), seconds(300), seconds(600)) +
                             expected_wall_clock(hours(1), hours(10), hours(1), seconds(0), seconds(600));
    CHECK(expected.value() == Approx(418'493.1).epsilon(1e-6));

    constexpr int kRuns = 200;
    std::vector<double> walls;
    std::vector<double> counts;
    for (int seed = 0; seed < kRuns; ++seed) {
        const RunSample s = simulate_run(in, static_cast<std::uint64_t>(seed));
        walls.push_back(s.wall_clock.value());
        counts.push_back(s.interruptions);
    }
    const Moments m = moments(walls);
    const double standard_error = std::sqrt(m.variance / kRuns);
    INFO("mean " << m.mean << " s, standard error " << standard_error << " s");
    CHECK(standard_error > 0.0);
    CHECK(m.mean == Approx(expected.value()).margin(4.0 * standard_error));
    // Goodput W / mean(T) against W / E[T] = 0.8602: d(W/T) = W/T² · dT, so 4 SE · W/E[T]² (~0.002 here).
    const double goodput_margin = 4.0 * standard_error * 360'000.0 / (expected.value() * expected.value());
    CHECK(360'000.0 / m.mean == Approx(360'000.0 / expected.value()).margin(goodput_margin));
    CHECK(360'000.0 / expected.value() == Approx(0.8602).margin(1e-4));
    // Interruptions: E[N] = λ E[T] = 418,493 / 36,000 = 11.62; Poisson-like sd √11.6 = 3.4, of the mean 0.24; 4 sd 0.96.
    CHECK(moments(counts).mean == Approx(expected.value() / 36'000.0).margin(0.96));
}

TEST_CASE("the parts of a simulated run add up to its wall clock", "[run]") {
    // wall clock = productive + lost work + blocking checkpoints + restarts, in every sample; each interruption
    // loses at most one interval (3,600 s) of work and adds at most one restart (600 s).
    RunInputs in = one_segment(hours(100), 36'000.0, 1);
    in.reliability.classes.push_back(FailureClass{"all", 0.25, false, {}, {}});  // M = 4 h
    in.reliability.checkpoint_write = seconds(300);
    in.reliability.restart_time = seconds(600);
    in.reliability.checkpoint_interval = hours(1);
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
        const RunSample s = simulate_run(in, seed);
        INFO("seed " << seed);
        CHECK(s.productive.value() == Approx(360'000.0).epsilon(1e-12));
        CHECK(s.wall_clock.value() ==
              Approx((s.productive + s.lost_work + s.checkpointing + s.restarting).value()).epsilon(1e-9));
        CHECK(s.interruptions > 0);
        CHECK(s.lost_work.value() <= 3600.0 * s.interruptions + 1e-6);
        CHECK(s.restarting.value() <= 600.0 * s.interruptions + 1e-6);
        CHECK(s.goodput() < 1.0);
    }
}

TEST_CASE("the same seed gives the same sample and different seeds give different ones", "[run]") {
    RunInputs in = one_segment(days(54), 466'560.0, kLlamaGpus);
    in.reliability = llama_reliability();
    in.reliability.checkpoint_write = seconds(60);
    in.reliability.restart_time = seconds(900);
    const RunSample a = simulate_run(in, 2024);
    const RunSample b = simulate_run(in, 2024);
    const RunSample c = simulate_run(in, 2025);
    CHECK(a.wall_clock.value() == b.wall_clock.value());
    CHECK(a.lost_work.value() == b.lost_work.value());
    CHECK(a.checkpointing.value() == b.checkpointing.value());
    CHECK(a.restarting.value() == b.restarting.value());
    CHECK(a.interruptions == b.interruptions);
    CHECK(a.wall_clock.value() != c.wall_clock.value());
    CHECK(a.lost_work.value() != c.lost_work.value());
}

TEST_CASE("Random reproduces splitmix64 and xoshiro256 starstar values computed from their definitions", "[run]") {
    // splitmix64 from x = 0: x += 0x9e3779b97f4a7c15; z = (x ^ x>>30) · 0xbf58476d1ce4e5b9;
    // z = (z ^ z>>27) · 0x94d049bb133111eb; z ^ z>>31 — its first outputs are the published
    // 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4 (the state words s0, s1 of Random(0)).
    std::uint64_t x = 0;
    auto splitmix = [&x]() {
        std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31U);
    };
    const std::uint64_t s0 = splitmix();
    const std::uint64_t s1 = splitmix();
    CHECK(s0 == 0xe220a8397b1dcdafULL);
    CHECK(s1 == 0x6e789e6aa1b965f4ULL);
    // xoshiro256**'s first output depends on s1 only: rotl(s1 · 5, 7) · 9 = 0x99ec5f36cb75f2b4.
    const std::uint64_t first = std::rotl(s1 * 5U, 7) * 9U;
    CHECK(first == 0x99ec5f36cb75f2b4ULL);
    Random r(0);
    CHECK(r.next() == first);
    // The next two (computed with the full state update, off-line from the same definition).
    CHECK(r.next() == 0xbf6e1f784956452aULL);
    CHECK(r.next() == 0x1a5f849d4933e6e0ULL);
    // uniform() is the top 53 bits · 2^-53: for the first output, 0x99ec5f36cb75f2b4 >> 11 over 2^53.
    Random u(0);
    CHECK(u.uniform() == static_cast<double>(0x99ec5f36cb75f2b4ULL >> 11U) * 0x1.0p-53);
    // Determinism: two generators from one seed agree on the next 1,000 outputs.
    Random p(123);
    Random q(123);
    bool same = true;
    for (int i = 0; i < 1000; ++i) same = same && p.next() == q.next();
    CHECK(same);
}

TEST_CASE("uniform exponential normal and triangular draws have their derived mean and variance", "[run]") {
    // n = 100,000 draws each; tolerances are 4 standard errors:
    // uniform[0,1): mean 1/2, sd of mean √(1/12/n) = 9.13e-4 → 3.65e-3; variance 1/12, sd of the sample variance
    //   √((μ4 − σ⁴)/n) = √((1/80 − 1/144)/n) = √(1/180/n) = 2.36e-4 → 9.4e-4.
    // exponential(rate 2): mean 0.5, sd of mean 0.5/√n = 1.58e-3 → 6.3e-3; variance 0.25, sd √((9 − 1)/2⁴/n)
    //   = 2.24e-3 → 8.9e-3.
    // normal(3, 2): mean 3, sd of mean 2/√n = 6.32e-3 → 2.53e-2; variance 4, sd √(2σ⁴/n) = 1.79e-2 → 7.2e-2.
    // triangular(0, 1, 3): mean (0+1+3)/3 = 4/3, variance (0+1+9−0−0−3)/18 = 7/18, sd of mean √(7/18/n) = 1.97e-3
    //   → 7.9e-3; the variance within 5% (loose: its sd is ≈ 0.5%).
    constexpr int n = 100'000;
    Random r(42);
    std::vector<double> u(n);
    std::vector<double> e(n);
    std::vector<double> g(n);
    std::vector<double> t(n);
    bool in_range = true;
    for (int i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>(i);
        u[k] = r.uniform();
        e[k] = r.exponential(2.0);
        g[k] = r.normal(3.0, 2.0);
        t[k] = r.triangular(0.0, 1.0, 3.0);
        in_range = in_range && u[k] >= 0.0 && u[k] < 1.0 && e[k] >= 0.0 && t[k] >= 0.0 && t[k] <= 3.0;
    }
    CHECK(in_range);
    const Moments mu = moments(u);
    CHECK(mu.mean == Approx(0.5).margin(3.65e-3));
    CHECK(mu.variance == Approx(1.0 / 12.0).margin(9.4e-4));
    const Moments me = moments(e);
    CHECK(me.mean == Approx(0.5).margin(6.3e-3));
    CHECK(me.variance == Approx(0.25).margin(8.9e-3));
    const Moments mg = moments(g);
    CHECK(mg.mean == Approx(3.0).margin(2.53e-2));
    CHECK(mg.variance == Approx(4.0).margin(7.2e-2));
    const Moments mt = moments(t);
    CHECK(mt.mean == Approx(4.0 / 3.0).margin(7.9e-3));
    CHECK(mt.variance == Approx(7.0 / 18.0).epsilon(0.05));
    // Degenerate triangular and zero-sd normal return the point.
    CHECK(r.triangular(2.0, 2.0, 2.0) == 2.0);
    CHECK(r.normal(5.0, 0.0) == 5.0);
}

TEST_CASE("invalid run inputs throw errors that say what to change", "[run]") {
    RunInputs good = one_segment(hours(10), 3600.0, 8);
    good.reliability = llama_reliability();
    CHECK_NOTHROW(simulate_run(good, 1));

    RunInputs in = good;
    in.gpus = 0;
    CHECK_THROWS_WITH(simulate_run(in, 1), Catch::Contains("0 GPUs") && Catch::Contains("cluster.gpus"));
    in = good;
    in.gpus_per_host = -1;
    CHECK_THROWS_AS(simulate_run(in, 1), Error);
    in = good;
    in.segments.clear();
    CHECK_THROWS_WITH(simulate_run(in, 1), Catch::Contains("no segments"));
    in = good;
    in.segments[0].step_time = seconds(std::numeric_limits<double>::quiet_NaN());
    CHECK_THROWS_WITH(simulate_run(in, 1), Catch::Contains("step time"));
    in = good;
    in.segments[0].steps = -5.0;
    CHECK_THROWS_WITH(simulate_run(in, 1), Catch::Contains("-5 steps"));
    in = good;
    in.reliability.restart_time = seconds(-1);
    CHECK_THROWS_WITH(simulate_run(in, 1), Catch::Contains("reliability.restart_time"));
    in = good;
    in.reliability.checkpoint_write = seconds(std::numeric_limits<double>::quiet_NaN());
    CHECK_THROWS_WITH(simulate_run(in, 1), Catch::Contains("reliability.checkpoint_write"));
    in = good;
    in.reliability.checkpoint_interval = seconds(0);
    CHECK_THROWS_WITH(simulate_run(in, 1), Catch::Contains("reliability.checkpoint_interval"));
    in = good;
    in.reliability.classes[0].rate_per_unit_hour = -1.0;
    CHECK_THROWS_WITH(simulate_run(in, 1), Catch::Contains("mtbf_per_gpu"));
    // A job interrupted every 36 s on average that needs 10 h without one would never finish.
    in = good;
    in.reliability.classes[0].rate_per_unit_hour = 12.5;  // × 8 GPUs = 100 per hour
    in.reliability.checkpoint_interval = hours(10);
    CHECK_THROWS_WITH(simulate_run(in, 1), Catch::Contains("never finish"));

    CHECK_THROWS_AS(young_daly_interval(seconds(60), seconds(0)), Error);
    CHECK_THROWS_AS(young_daly_interval(seconds(-1), hours(3)), Error);
    CHECK_THROWS_AS(expected_interruptions(llama_reliability(), 8, 8, seconds(-1)), Error);
    CHECK_THROWS_AS(expected_wall_clock(hours(1), hours(1), seconds(0), seconds(0), seconds(0)), Error);
    Random r(1);
    CHECK_THROWS_AS(r.exponential(0.0), Error);
    CHECK_THROWS_AS(r.triangular(3.0, 1.0, 2.0), Error);
}
