// The simulator's supported ranges for input, in one table: each is checked where the input is read, before any
// work is sized by it, and a value past one is an error worded "… beyond the supported range … (limit N)" naming
// the file:line:column or the flag. Raising a limit is a decision about memory and time, made here.
#pragma once

#include <cstdint>

namespace gpuhours::limits {

// Tables within tables in a scenario or catalog file: [a.b.c] headers, dotted keys a.b.c = …, inline tables and
// arrays, and --set paths. The document is walked recursively, so this bounds the stack.
// How a value outside its supported range [lo, hi] stands to it, for the message that refuses it: "beyond" above
// `hi`, "below" under the range ("--deadline 1 min is below the supported range", not "beyond").
constexpr const char* range_side(double value, double hi) { return value > hi ? "beyond" : "below"; }

inline constexpr int kNestingDepth = 64;
// A scenario, `extends` or catalog file, in bytes: the largest shipped file is a few KB.
inline constexpr std::int64_t kInputFileBytes = std::int64_t{16} << 20;
// Mistakes of one file reported at once (each key-local mistake costs one more read of the document, a few ms).
inline constexpr int kErrorsPerFile = 20;
// Files in one `extends` chain (each names the next).
inline constexpr int kExtendsDepth = 32;
// Monte Carlo samples of one run (--samples): about 0.1 ms to 1 ms each for the shipped scenarios.
inline constexpr int kSamples = 100'000;
// GPUs of a cluster (cluster.gpus, and every flag that names a GPU count): the topology is built with every GPU,
// NIC and switch as a vertex, 4.3 s and 1.5 GB at 2^20 GPUs on a 3-tier fat-tree of radix 256 (`gpuhours
// collective send-recv --chip h100 --gpus 1048576 --tiers 3 --switch-radix 256`, 2026-12-01); ten times that would
// take 15 GB before the first step. The largest published training clusters hold about 100,000 GPUs.
inline constexpr int kGpus = 1 << 20;
// Transformer layers of a model: the largest published dense models have 96–126 (GPT-3, Llama 3.1 405B).
inline constexpr int kLayers = 10'000;
// Routed experts per MoE layer: DeepSeek-V3 has 256, Kimi K2 384; million-expert research layers (PEER) fit.
inline constexpr int kRoutedExperts = 1 << 20;
// Tokens per sequence (training.sequence_length, per phase too): published contexts reach 10^7.
inline constexpr int kSequenceLength = 100'000'000;
// Points of one sweep (a grid's product, or --random N): each point is one run.
inline constexpr long long kSweepPoints = 10'000'000;
// Layer passes a pipeline stage simulates in one step: its layers (layers / pipeline, rounded up) × the
// micro-batches per replica. The step's tasks grow with it (a few per layer pass, forward and backward: about 5M
// tasks at 24 × 65,536 = 1.6M); the bound keeps one step's task table under about 1 GB.
inline constexpr long long kLayerPassesPerStage = 1LL << 21;
// Micro-batches per data-parallel replica in one step: a step simulates every one (its cost is linear in them;
// 65,536 is about 5M tasks for a 24-layer model, seconds). Published runs use tens to a few hundred (DeepSeek-V3:
// 15,360 / 128 = 120).
inline constexpr long long kMicroBatchesPerReplica = 65'536;
// parallelism.vocab_divisible_by: Megatron-LM uses 128; past 65,536 × tensor the padding outgrows any vocabulary.
inline constexpr int kVocabDivisibleBy = 65'536;

// Chip figures that simulated work is divided by. Past these a kernel or transfer takes longer than simulated time
// holds (SimTime: about 106 days at picosecond resolution) or the figure is a unit slip ("1e-30 TFLOPS"); each
// range is several orders of magnitude wider than any real chip's.
// Efficiencies (achieved / peak), from 0.1 % to 1: real kernels reach 20–95 %.
inline constexpr double kEfficiencyMin = 1e-3;
// Peak throughput of one chip in one format, FLOP/s: 1 GFLOP/s to 1 EFLOP/s (an H100 is 9.9e14 dense BF16).
inline constexpr double kPeakFlopsMin = 1e9;
inline constexpr double kPeakFlopsMax = 1e18;
// Bandwidths (HBM, scale-up, NIC), B/s: 1 MB/s to 1 PB/s (HBM3e is 8e12 B/s, a 400 Gb/s NIC 5e10 B/s).
inline constexpr double kBandwidthMin = 1e6;
// A chip's memory, 10 GB/s up (the slowest accelerator memory is an L4's 300 GB/s of GDDR6), and its scale-up link,
// 1 GB/s up (PCIe 4.0 × 16 is 32 GB/s): below them a step's memory-bound kernels or its tensor-parallel collectives
// outlast simulated time, which `check` cannot bound without simulating (a scenario-language audit, session 51:
// 1 MB/s of HBM passed `check` and failed `run`).
inline constexpr double kMemoryBandwidthMin = 1e10;
inline constexpr double kScaleUpBandwidthMin = 1e9;
inline constexpr double kBandwidthMax = 1e15;
// A NIC per GPU, B/s: at most 250 GB/s (2 Tb/s), above the fastest shipping (ConnectX-9, 1.6 Tb/s = 200 GB/s): the
// common slip "400 GB/s" for a 400 Gb/s NIC (3.2 Tb/s, faster than NVLink on an H800) ran silently 7 % fast.
inline constexpr double kNicBandwidthMax = 250e9;
// And at least 125 MB/s (1 Gb/s, the slowest Ethernet port sold): below it a run's length is out of every supported
// range, which `check` cannot see without simulating a step (an auditor's read: "8 Mb/s" passed check, and run then
// refused 2.2 million interruptions at the training tokens).
inline constexpr double kNicBandwidthMin = 125e6;
// Link latencies, seconds: up to 1 s (real ones are a few microseconds).
inline constexpr double kLatencyMax = 1.0;
// A chip's TDP, W: 1 W to 100 kW (accelerators draw 75–2,700 W; a GB200 superchip about 2.7 kW). "1e306 W" made a
// run's energy infinite: an internal error, or the energy line silently dropped.
inline constexpr double kPowerMin = 1.0;
inline constexpr double kPowerMax = 1e5;
// A chip's memory capacity, bytes: 1 GiB to 4 TiB (accelerators hold 16–288 GB; a wafer-scale part or a unified
// CPU–GPU pool stays within it); "1e30 GiB" printed 1e21 EB per GPU, and "80 TiB" (a unit slip, 1 PiB allowed it)
// was reported as fitting (a memory audit, session 50).
inline constexpr double kMemoryMin = 1073741824.0;
inline constexpr double kMemoryMax = 4398046511104.0;

// Run figures. Training tokens of the whole run or of one phase: up to 10^18 (a million times the largest
// published pre-training run); past it a run's work in seconds outgrows what checkpoint intervals can divide.
inline constexpr double kTokensMax = 1e18;
// GPU-hours quoted for a phase or a research run: up to 10^12 (over 10^4 times the largest published estimates,
// tens of millions); past it a run's wall clock and cost are no longer finite numbers ("1.7e308" printed $inf).
inline constexpr double kGpuHoursMax = 1e12;
// A price in [pricing] (per GPU-hour, per kWh, per GPU bought, per person-year…), in its unit: up to 10^9 dollars;
// `gpu_hour = "$1e306"` made the run's cost infinite (an internal error) and "$1e300" printed $8.9e294B.
inline constexpr double kPriceMax = 1e9;
// A rental price per GPU-hour ([pricing] or a phase's gpu_hour): up to $1,000, some 70 times the dearest on-demand
// listing (hyperscalers' $8–14 for a B200-class GPU, shared/reference chips-and-rules §2.3); past it, a suffix slip
// ("$6M", "$2.35K" for $2.35), which ran silently and printed a cost of $1.957e+05B.
inline constexpr double kGpuHourPriceMax = 1000.0;
// An electricity price, $/kWh: retail and industrial tariffs run $0.03–0.50/kWh; $100 is a unit slip ($1e9/kWh
// printed a cost of "$1.888e+06B": a scenario-language audit, session 51).
inline constexpr double kElectricityPriceMax = 100.0;
// The levels a batch ramp is simulated at, each over an equal share of its tokens (analysis/run_inputs.cpp): a ramp
// must give each level at least one step at the phase's full batch, or a level rounds to 0 steps.
inline constexpr int kRampLevels = 4;
// Interruptions a run expects (its closed-form wall clock over the job's MTTF): up to 10^6 (published runs have
// hundreds to thousands). The run is played once per interruption in each of 201 nominal replays and every sample;
// 4.7 million (a Llama 3 405B run's tokens × 10^4, the sanitizer fuzz's mutant 18880) took 24 s with one sample, and
// over 30 s under ASan.
inline constexpr double kInterruptionsMax = 1e6;
// reliability.restart_time, checkpoint_write and checkpoint_interval: up to 10 years, in seconds.
inline constexpr double kReliabilityDurationMax = 10.0 * 365.25 * 86400.0;
// reliability.checkpoint_interval: at least one second (a checkpoint is taken at a step boundary, and steps take
// seconds); below it `check` passed an interval of nanoseconds that `run` then refused for its 10^15 checkpoints.
inline constexpr double kCheckpointIntervalMin = 1.0;
// A failure class's MTBF per GPU or per node: at least one minute (real ones are tens of thousands of hours); below
// it the job's failure rate is beyond what a run can finish under, or not a finite number.
inline constexpr double kMtbfMin = 60.0;
// ... and at most 10^9 hours (114,000 years; real ones are 10^4 to 10^6 hours): "1e300 years" printed a job MTTF of
// 1e301 days and a checkpoint interval of 1e147 days.
inline constexpr double kMtbfMax = 1e9 * 3600.0;
// A deadline (`[whatif] deadline`, the --deadline of whatif, capacity and report): one hour to 100 years, in
// seconds. Below an hour no large run finishes (a restart alone takes minutes) and the deadline search would try
// every GPU count up to --max-gpus; past a century the figure is a unit slip ("1e300 years" printed a 300-digit
// day count).
inline constexpr double kDeadlineMin = 3600.0;
inline constexpr double kDeadlineMax = 100.0 * 365.25 * 86400.0;
// A budget (--budget of capacity and report), in dollars: up to 10^12, thousands of times the largest published
// estimates of one training run's cost (hundreds of millions of dollars).
inline constexpr double kBudgetMax = 1e12;
// A claim's bounds: a cost up to kBudgetMax, a wall clock up to kDeadlineMax, GPU-hours up to kGpuHoursMax, and an
// energy up to 3.6e21 J (10^6 TWh, some forty times the world's yearly electricity). `energy_below = "1e300 GWh"`
// passed `check` and `run` refused it, unlocated, as infinite; `wall_clock_below = "1e300 years"` printed a
// 300-digit day count.
inline constexpr double kEnergyMax = 3.6e21;

}  // namespace gpuhours::limits
