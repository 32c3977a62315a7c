// The workload of training a transformer: parameters, FLOPs, bytes moved, and memory per GPU, derived from the
// architecture (ModelSpec), the parallel layout and the mixed-precision recipe. Knows nothing of the network.
//
// Three views of the same arithmetic, built from one set of per-operator formulas so they cannot disagree:
//   - totals: count_parameters(), training_flops_per_token();
//   - operators: model_ops() / layer_ops(), one Op per GEMM, attention core, elementwise kernel, with the
//     collective it needs next to it, sharded for one GPU and one micro-batch (the step simulator's input);
//   - memory: memory_per_gpu(), parameters + gradients + optimizer state + activations + buffers of the worst
//     pipeline stage, and check_fit() against a capacity.
//
// Conventions (each is a deliberate choice; see the comments at the definitions):
//   - "Model FLOPs" count GEMMs and the attention score/context products only (PaLM / Megatron convention):
//     norms, activations, softmax, the embedding lookup and the loss are not model FLOPs.
//   - Backward = 2 × forward for every model-FLOP op (input gradient + weight gradient; the attention core's
//     backward also counts as 2 × its forward, as in PaLM's 12·L·H·Q·T).
//   - Parameters are counted as element counts (double: DeepSeek-V3 has 6.7e11).
//   - Counts exclude the multi-token-prediction (MTP) modules unless a field says otherwise: DeepSeek-V3's
//     published 671B total / 37B active exclude its 14B MTP module (arXiv 2412.19437 §4.2).
#pragma once

#include <gpuhours/workload/model.hpp>
#include <gpuhours/workload/parallel.hpp>
#include <gpuhours/units/precision.hpp>
#include <gpuhours/units/units.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <span>
#include <vector>

namespace gpuhours {

// Which query-key pairs the attention core computes. `causal` counts half of the s×s score and context
// products (the FLOPs a causal kernel actually does, up to the diagonal blocks); `full` counts all of them —
// PaLM's 12·L·H·Q·T (arXiv 2204.02311 App. B) is the `full` count. DeepSeek quotes both (432 vs 385 TFLOP/s).
enum class AttentionMask { causal, full };
std::string_view to_string(AttentionMask m);

// ---- parameters ---------------------------------------------------------------------------------------------

// Element counts. Layer figures include that layer's norms (and biases when the model has them).
struct ParameterCount {
    double total = 0.0;        // whole main model (embeddings, all layers, final norm, head); excludes MTP
    // Parameters one token's forward pass multiplies by: every dense weight, the router, the shared experts and
    // top_k routed experts of each MoE layer, the output head — but not the input-embedding table, which is a
    // lookup (one row per token). This is DeepSeek's convention: it gives 36.6B for V3 ("37B") and 20.9B for V2
    // ("21B"); counting the table too gives 37.6B and 21.4B, which round to neither.
    double active = 0.0;
    double active_with_embedding = 0.0;  // `active` + the input-embedding table (and learned positions)
    double active_without_head = 0.0;    // `active` − the head's V·h weights (MiniMax-01's convention)
    double embedding = 0.0;    // input token-embedding table + learned position table
    double output_head = 0.0;  // the vocabulary projection; 0 when tied to the embedding
    double final_norm = 0.0;
    int dense_layers = 0;      // layers with the dense MLP
    int moe_layers = 0;        // layers with the MoE block
    // One layer's figures: the first layer of each kind (layers with linear attention differ from softmax ones).
    double per_dense_layer = 0.0;       // one dense layer (attention + MLP + its norms)
    double per_moe_layer = 0.0;         // one MoE layer, all experts
    double per_moe_layer_active = 0.0;  // one MoE layer, shared + top_k routed experts + router
    double attention_per_layer = 0.0;   // the attention sub-block of layer 0 (with its pre-norm)
    // The MTP modules (DeepSeek-V3: mtp_depth = 1), excluding the embedding and output head they share with the
    // main model: per module one transformer layer (MoE if the model is), two RMSNorms, the 2h×h projection and
    // the head's norm. DeepSeek's published "14B" MTP figure also counts the copies of the embedding and head
    // stored in the checkpoint: mtp + embedding + output_head (11.6B + 1.9B for V3).
    double mtp = 0.0;
    double mtp_active = 0.0;   // per token, same convention as `active` (includes the shared head it runs)

    [[nodiscard]] double non_embedding() const { return total - embedding; }
};

// Throws Error for a model with no layers, no hidden size, no heads, or an MoE block with no experts.
ParameterCount count_parameters(const ModelSpec& model);

// ---- FLOPs per token ----------------------------------------------------------------------------------------

// Model FLOPs of one training token (forward + backward, no recomputation) at `sequence_length`.
struct FlopsPerToken {
    Flops forward_matmul;     // 2 × (active parameters in GEMMs), i.e. all GEMMs incl. router and head
    Flops forward_attention;  // score + context products, halved for causal; linear layers' block-wise products
    Flops forward;            // forward_matmul + forward_attention
    Flops backward;           // 2 × forward
    Flops total;              // forward + backward = 3 × forward (excludes MTP)
    Flops mtp_total;          // the MTP modules' forward + backward (their layer, projection and shared head)
};
FlopsPerToken training_flops_breakdown(const ModelSpec& model, int sequence_length, AttentionMask mask);
// = training_flops_breakdown(...).total. For a dense MHA model with N non-embedding GEMM parameters this is
// 6·N_gemm + 6·V·h (head) + 12·L·h·s (full) or 6·L·h·s (causal).
Flops training_flops_per_token(const ModelSpec& model, int sequence_length, AttentionMask mask);

// Expert load imbalance (MoeSpec::load_cv = c > 0): the slowest expert-parallel rank's token-slots over the mean
// rank's, E[max_r S_r] / E[S_r], which sets each MoE layer's pace (every rank waits for it at the combine). S_r is
// the load of one rank's n = routed_experts / expert_parallel experts, each load log-normal with mean 1 and
// coefficient of variation c, independent. S_r is taken as log-normal with S's mean n and coefficient of variation
// c / √n (Fenton–Wilkinson moment matching: Fenton 1960, IRE Trans. Commun. Syst. 8(1)); its largest of
// N = expert_parallel draws has the quantile function Q(v^(1/N)), so E[max] = ∫₀¹ Q(v^(1/N)) dv, evaluated by the
// midpoint rule on 4,096 points (normal quantiles from Boost.Math). Within 2.5 % of a Monte Carlo of the exact sums
// for c ≤ 1 and 4–16 experts per rank (tests/workload/ops_test.cpp). Exactly 1 when c = 0 or expert_parallel = 1.
double expert_load_factor(int routed_experts, int expert_parallel, double load_cv);

// ---- operators ----------------------------------------------------------------------------------------------

enum class OpKind {
    gemm,          // dense matrix multiply, shape in Op::gemm
    grouped_gemm,  // `count` GEMMs of the same shape (the local routed experts), each of average load
    attention,     // the attention core (scores, softmax, context), fused or not
    elementwise,   // norms, activations, rotary, residual adds, router softmax/top-k: memory bound
    embedding,     // table lookup: memory bound
    loss,          // softmax cross-entropy over the vocabulary
};
std::string_view to_string(OpKind k);

// A collective an operator needs before its input or after its output. The step simulator expands these into
// flows; the workload only says which group and how many bytes each GPU contributes.
enum class Collective {
    none,
    tp_all_reduce,      // tensor parallel without sequence parallelism: after the row-parallel GEMM
    tp_all_gather,      // sequence parallel: before the column-parallel GEMM
    tp_reduce_scatter,  // sequence parallel: after the row-parallel GEMM
    cp_exchange,        // context parallel: a softmax attention's keys and values (ring or all-gather: CpCommType)
    cp_state_gather,    // context parallel: a linear attention's d × d states, all-gathered (LASP-2)
    ep_dispatch,        // all-to-all of routed tokens to the experts' GPUs
    ep_combine,         // all-to-all of expert outputs back to the tokens' GPUs
    etp_all_gather,     // expert tensor parallel: the dispatched tokens gathered over the expert-tensor group
    etp_reduce_scatter, // expert tensor parallel: the experts' partial outputs reduce-scattered before the combine
    pp_send,            // activations to the next pipeline stage (one per stage boundary)
};
std::string_view to_string(Collective c);

struct Communication {
    Collective kind = Collective::none;
    Bytes bytes;  // per GPU, forward pass: the buffer each GPU contributes (before all-gather: its shard)
    // Per GPU, backward pass, where its transposed collective moves another format (an expert all-to-all's
    // gradients: MixedPrecision::dispatch / combine); nullopt: `bytes`.
    std::optional<Bytes> backward_bytes;
};

// C[m×n] = A[m×k] · B[k×n], `count` independent products of this shape (grouped expert GEMMs). For a
// weight GEMM, m is tokens, k the input and n the output features of this GPU's shard.
struct GemmShape {
    long long m = 0;
    long long n = 0;
    long long k = 0;
    long long count = 1;
};

// The shape one fused softmax-attention kernel call works on, where kernel timing reads the chip's attention
// efficiency by shape (hardware/hardware.hpp, AttentionShapeTable): `sequence` is the keys a query block walks per
// call — the sequence length, s/cp per step of ring context parallelism (each step pairs the local queries with one
// chunk of keys), or the sliding window when shorter — and `head_dim` the query/key head dimension (MLA: d + r).
struct AttentionKernelShape {
    double sequence = 0.0;  // tokens
    int head_dim = 0;

    friend bool operator==(const AttentionKernelShape&, const AttentionKernelShape&) = default;
};

// One operator of one layer, for one micro-batch on one GPU (after TP, SP, CP and EP sharding).
struct Op {
    std::string name;  // "attn.q_up", "moe.routed.fc1", …, unique within its block
    OpKind kind = OpKind::elementwise;
    Flops forward;    // model FLOPs forward (0 for elementwise, embedding and loss: see the header comment)
    Flops backward;   // model FLOPs backward (2 × forward)
    Flops recompute;  // extra forward FLOPs repeated in backward under the layout's recompute mode
    Bytes read;       // forward: weights + input activations read from HBM
    Bytes written;    // forward: output activations written to HBM
    double parameters = 0.0;  // parameters of this op held on this GPU (before ZeRO-3 sharding)
    bool expert = false;      // routed-expert weights: sharded over EP; ZeRO shards them over data·context/expert
    bool fp8 = false;         // a GEMM run in FP8: its weights are cast once per step by the recipe's kernels
    // Its parameters are a copy of the input embedding's (an MTP module's lookup, a tied head), held apart only on a
    // rank without the embedding: a rank holding both (DualPipe's first and last ranks) holds them once.
    bool embedding_copy = false;
    // Memory-bound ops whose backward is not the derived 2 × read + written (see training/kernel.hpp): the
    // bytes the backward pass moves (an FP8 quantisation op: casting the output gradient dY of its GEMM).
    std::optional<Bytes> backward_bytes;
    std::optional<GemmShape> gemm;
    std::optional<AttentionKernelShape> attention_shape;  // softmax attention cores (not linear attention)
    Communication before;
    Communication after;
};

enum class BlockKind { embedding, dense_layer, moe_layer, mtp, head };
std::string_view to_string(BlockKind k);

// The ops of one block in execution order. `layer` is the transformer layer index (0-based), -1 otherwise.
struct Block {
    BlockKind kind = BlockKind::dense_layer;
    int layer = -1;
    std::vector<Op> ops;
    // The backward replays the whole block's forward, collectives included (full recomputation of this layer or
    // MTP module; ParallelLayout::recompute_num_layers may leave some layers out).
    bool full_recompute = false;

    [[nodiscard]] Flops forward() const;
    [[nodiscard]] Flops backward() const;
    [[nodiscard]] Flops recompute() const;
    [[nodiscard]] double parameters() const;
};

// The shape of the work one GPU does per micro-batch. The workload reads the micro-batch size from here, not
// from ParallelLayout::micro_batch (callers pass that value).
struct MicroBatchShape {
    int sequence_length = 0;   // tokens per sequence (before context-parallel sharding)
    int micro_batch = 1;       // sequences
    AttentionMask mask = AttentionMask::causal;
};

// One transformer layer (0 ≤ layer < model.layers): dense or MoE according to moe->dense_layers.
// Sharding: TP splits heads, the MLP and expert intermediate dims and the vocabulary; MLA's down-projections,
// norms and the router are replicated across TP; SP shards the token dimension of the replicated ops over TP;
// CP shards tokens (each GPU computes its s/cp queries against all s keys); EP spreads the routed experts,
// each GPU processing tokens·top_k routed token-slots on average (perfect balance assumed).
// Recompute FLOPs: selective = the attention core's forward (MLA: + the q/kv up-projections); full = the whole
// layer's forward.
Block layer_ops(const ModelSpec& model, int layer, const ParallelLayout& layout, const MixedPrecision& precision,
                const MicroBatchShape& shape);
// The whole model in order: embedding, layers 0..L-1, the MTP modules, head (final norm, projection, loss).
std::vector<Block> model_ops(const ModelSpec& model, const ParallelLayout& layout, const MixedPrecision& precision,
                             const MicroBatchShape& shape);

// ---- pipeline stages ----------------------------------------------------------------------------------------

// Which layers a pipeline rank holds. Layers are cut into pipeline × virtual_stages contiguous chunks; rank r
// holds chunks r, r + p, r + 2p, …. When the chunks cannot be equal, every chunk gets floor(L / chunks) layers
// and the remainder goes one layer each to chunks 1, 2, …: chunk 0 (which also holds the embedding and, under
// 1F1B, the most micro-batches in flight) never gets an extra layer. Llama 3 405B's 126 layers over 16 stages
// give 7, 8 × 14, 7 — the first and last stage one layer fewer, as the Llama 3 paper describes (§3.3.2).
// The embedding is on rank 0; the final norm, head, loss and MTP modules on rank p - 1.
struct StageAssignment {
    int rank = 0;
    std::vector<int> layers;  // transformer layer indices, ascending
    bool embedding = false;
    bool head = false;        // final norm + output head + loss (and MTP, which DeepSeek-V3 places there)
};
std::vector<StageAssignment> assign_stages(const ModelSpec& model, const ParallelLayout& layout);
// The layers of each of `chunks` contiguous model chunks, by the rule above (chunk 0 never gets an extra layer),
// or by `split` when it is given (ParallelLayout::layers_per_chunk: `chunks` counts of at least 1 summing to the
// model's layers; anything else throws Error).
std::vector<std::vector<int>> chunk_layers(const ModelSpec& model, int chunks, const std::vector<int>& split = {});

// ---- memory -------------------------------------------------------------------------------------------------

// How the attention core stores what its backward needs.
enum class AttentionKernel {
    fused,         // FlashAttention-class: keeps Q, K, V, the output and the log-sum-exp; no s×s tensor
    materialized,  // keeps the s×s softmax output (Korthikanti et al. 2022's accounting)
};

struct MemoryOptions {
    AttentionKernel attention_kernel = AttentionKernel::fused;
    // Dropout after attention/MLP/softmax (GPT-3, Megatron 2021): 1-byte masks and the softmax-dropout output.
    // Llama 3 and DeepSeek pre-train without dropout.
    bool dropout = false;
    // Micro-batches per optimizer step per pipeline. GPipe keeps all of them in flight; the other schedules keep
    // at most this many. 0 = unknown: GPipe assumes as many as pipeline stages, the others no limit.
    int micro_batches = 0;
};

// Stored activation bytes of one transformer layer for one micro-batch on one GPU under the layout's
// recompute mode (selective on an MLA model also rebuilds the norm outputs and Q, K, V from the latents, as
// DeepSeek-V3 does), TP/SP/CP sharding and `precision.activations`. With AttentionKernel::materialized,
// dropout, MHA, a GELU 4h MLP and 16-bit activations this is exactly Korthikanti et al. 2022 (arXiv
// 2205.05198) eqs. (1)–(5): s·b·h·(34 + 5·a·s/h) without parallelism, s·b·h·(10 + 24/t + 5·a·s/(h·t)) with
// TP t, s·b·h·(34/t + 5·a·s/(h·t)) with TP and SP, s·b·h·34/t selective with SP, 2·s·b·h full (2·s·b·h/t
// with SP, whose layer input is sequence-sharded). Generalisations are derived in sim/workload/memory.cpp. FP8
// GEMMs (precision.compute fp8) keep the inputs that only a weight-gradient GEMM reads as their framework saves
// them (fp8_saved_input_bytes, units/precision.hpp: 1 B plus scales under Transformer Engine's recipes), and the
// attention output then twice (the core's copy in precision.activations, the out-projection's in FP8).
Bytes layer_activation_bytes(const ModelSpec& model, int layer, const ParallelLayout& layout,
                             const MixedPrecision& precision, const MicroBatchShape& shape,
                             const MemoryOptions& options = {});

// Micro-batches whose activations a pipeline rank holds at its peak.
//   GPipe: all m.  1F1B: p - rank (rank 0 holds p), at most m.  Interleaved 1F1B (v chunks): rank r holds
//   N = 2(p − r − 1) + (v − 1)p + 1 chunk-micro-batches (Megatron-LM's warm-up forwards and the first round's
//   forward; at most m·v), N/v micro-batches of its L/p layers: rank 0 p + (p − 1)/v (Korthikanti §4.2.3:
//   L·(1 + (p-1)/(p·v)) layers' worth), each later rank 2/v fewer.
//   Zero bubble: ZB-H1 of Qi et al. 2023 (arXiv 2401.10241): 1F1B's peak p on every rank, at most m (rank r's
//   last r weight-gradient passes trail its backward, each set held until its W: (p − r − 1) + 1 + r).
//   DualPipe: p + 1 for every rank (DeepSeek-V3 report, arXiv 2412.19437 Table 2: activation "PP + 1" vs
//   1F1B's "PP", parameters "2×"): rank r holds stage chunks r and p - 1 - r, with p - r and r + 1 micro-batches
//   in flight; memory_per_stage() weighs each chunk's activations by its own count. [U] The table states the
//   peak; that every rank reaches it, and that gradients and optimizer state double with the parameters, are
//   our reading.
//   Combined 1F1B (layout.combined_1f1b): one more warm-up forward, so one more chunk: + 1 for 1F1B, + 1/v
//   interleaved (make_pipeline_plan's order; tests/training/schedule_test.cpp counts its peak).
double in_flight_micro_batches(const ParallelLayout& layout, int rank, const MemoryOptions& options = {});
// The same peak per local chunk, in micro-batches through that one chunk (index = local chunk):
//   interleaved: forward k visits local chunk ⌊(k mod p·v)/p⌋ (groups of p micro-batches per chunk) and backward k
//   frees chunk v − 1 − that, so the N sets held after each 1F1B round's forward move between chunks from round to
//   round, repeating every p·v rounds. Returned: the composition whose Σ count_j · chunk_bytes[j] is largest over
//   that period (chunk_bytes empty: every chunk alike, so the first round's: of N, chunk j holds ⌊N/(p·v)⌋·p +
//   min(p, max(0, N mod (p·v) − j·p))); every set when the warm-up runs every forward. The sum over chunks is
//   v·in_flight_micro_batches. chunk_bytes, when given, has v entries (one micro-batch's activations per chunk).
//   DualPipe (p > 1): {p − r, r + 1} for chunks r and p − 1 − r.  The others: one chunk, in_flight_micro_batches.
std::vector<double> chunk_in_flight(const ParallelLayout& layout, int rank, const MemoryOptions& options = {},
                                    std::span<const double> chunk_bytes = {});

// One GPU's memory. Named terms; `total()` is their sum.
struct MemoryBreakdown {
    Bytes parameters;       // working weights in precision.parameters (÷ DP under ZeRO-3)
    Bytes gradients;        // precision.gradients (÷ DP under ZeRO ≥ 2)
    Bytes optimizer_state;  // master weights + Adam's two moments (÷ DP under ZeRO ≥ 1)
    Bytes activations;      // stored activations of the micro-batches in flight, + the last stage's logits, + under
                            // full recompute one micro-batch's replayed layer (`replayed_layer`)
    Bytes buffers;          // ZeRO-3's gathered copies of the layer being computed and the next one (prefetch), in the
                            // parameters' format, or 1 B per element with fp8_param_gather under FP8 compute; and the
                            // largest unit's whole gradients in the gradients' format, held until its reduce-scatter
    Bytes replayed_layer;   // part of `activations`: under full recompute, what the layer replayed in the backward
                            // stores above its kept input, for one micro-batch, the largest such layer; else 0
    int stage = 0;          // the pipeline rank this breakdown is for
    double parameter_count = 0.0;  // parameters on this GPU before ZeRO-3 sharding
    double micro_batches_in_flight = 0.0;

    struct Term {
        std::string_view name;  // "parameters", "gradients", "optimizer state", "activations", "buffers"
        Bytes bytes;
    };
    [[nodiscard]] std::vector<Term> terms() const;  // in the order above
    [[nodiscard]] Bytes total() const;
    [[nodiscard]] Term largest_term() const;
};

// Memory of every pipeline rank (index = rank). Data parallel degree for ZeRO: dense parameters are sharded over
// data × context ranks (Megatron's distributed optimizer spans DP × CP); routed experts over
// data × context / expert (the expert-data-parallel group). Not counted here: the CUDA context, NCCL buffers and
// allocator fragmentation, which the chip's framework reserve takes off the capacity (ChipProfile::memory_reserve,
// hardware.hpp); not modelled at all: transient workspaces, communication buckets (but for ZeRO-3's gathered units and
// one unit's whole gradients, `buffers`), activation gradients in flight.
std::vector<MemoryBreakdown> memory_per_stage(const ModelSpec& model, const ParallelLayout& layout,
                                              const MixedPrecision& precision, const MicroBatchShape& shape,
                                              const MemoryOptions& options = {});
// The worst (largest total) rank of memory_per_stage(); ties go to the lower rank.
MemoryBreakdown memory_per_gpu(const ModelSpec& model, const ParallelLayout& layout, const MixedPrecision& precision,
                               const MicroBatchShape& shape, const MemoryOptions& options = {});

struct FitCheck {
    bool fits = false;
    Bytes capacity;
    Bytes headroom;  // capacity - total; negative when it does not fit
    MemoryBreakdown breakdown;
};
FitCheck check_fit(const MemoryBreakdown& breakdown, Bytes capacity);
FitCheck check_fit(const ModelSpec& model, const ParallelLayout& layout, const MixedPrecision& precision,
                   const MicroBatchShape& shape, Bytes capacity, const MemoryOptions& options = {});

}  // namespace gpuhours
