// Internal to the analysis layer: what a run is made of, derived from a scenario — each phase's batch levels and the
// reliability model — shared by the run evaluation (evaluation.cpp) and require_run_can_finish (run_inputs.cpp).
#pragma once

#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include <string_view>
#include <utility>
#include <vector>

namespace gpuhours::detail {

// Batch-ramp levels simulated per ramping phase: the ramp's tokens are split evenly over them, each level at the
// batch reached at its midpoint, rounded down to whole micro-batches per replica, in the steps the pipeline schedule
// takes them (DualPipe: an even count, at least 2 × pipeline; interleaved: a multiple of the stages), so a ramp
// never makes a batch the schedule refuses (a documented approximation of a continuous ramp).
constexpr int kRampLevels = limits::kRampLevels;

// (global batch, tokens) of each batch level of a simulated phase.
std::vector<std::pair<int, double>> levels_of(const PhaseSpec& ph);
// Refuses a run that expects more than limits::kInterruptionsMax interruptions over its closed-form expected wall
// clock (each is played in every replay and sample): a ScenarioError at the restart (else the checkpoint interval)
// when its pieces need many tries (pieces_need_many_tries), else at run_length_source(s).
// `why`, appended to the message: why `check` passed it when `run`, with the simulated steps, refuses it.
void require_supported_interruptions(const Scenario& s, const RunInputs& run, std::string_view why = {});
// Each piece of work needs many tries between interruptions: its checkpoint interval, blocking write and restart
// together outlast the job's MTTF (λ(τ + C + R) > 1; at most e ≈ 2.7 tries on average otherwise), so a count of
// interruptions beyond the limit is the reliability figures' rather than the run's length. False without failure
// classes. Throws the run model's Error for inputs it refuses.
bool pieces_need_many_tries(const RunInputs& run);
// The scenario's failure classes and restart, checkpoint write and interval, with where each is written.
ReliabilityModel reliability_of(const Scenario& s);

}  // namespace gpuhours::detail
