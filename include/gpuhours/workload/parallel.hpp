// How a model is laid out over a cluster: the parallel degrees, the pipeline schedule, recomputation and
// optimizer-state sharding. Plain data; the scenario checks it against the model and cluster.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpuhours {

enum class Schedule { gpipe, one_f_one_b, interleaved, zero_bubble, dualpipe };
enum class Recompute { none, selective, full };
// How context parallelism moves each softmax-attention layer's keys and values (Megatron-Core --cp-comm-type):
//   p2p         ring attention (Transformer Engine's AttnFuncWithCPAndKVP2P; Megatron's default): cp steps, each
//               computing attention over one K/V chunk while the next travels to the neighbour, so the exchange
//               runs beside (cp − 1)/cp of the attention core; backward sends K, V and the partial dK, dV round
//               the ring beside the attention backward in the same way.
//   all_gather  K and V all-gathered before attention (exposed), gathered again for the backward and dK, dV
//               reduce-scattered after it (TE's AttnFuncWithCPAndKVAllGather; Llama 3, arXiv 2407.21783 §3.3.2).
// Linear-attention layers all-gather their d × d states either way (LASP-2).
enum class CpCommType { p2p, all_gather };
// How an MoE layer's tokens reach their experts' GPUs (Megatron-Core --moe-token-dispatcher-type):
//   alltoall   one copy of a token per routed expert, whichever node the experts sit on (the alltoall dispatcher:
//              an NCCL all-to-all of the tokens permuted per expert)
//   deepep     one copy per destination node, forwarded over NVLink to that node's experts (DeepEP's normal
//              kernels and HybridEP: Megatron-Core's flex dispatcher, DeepSeek-V3's own training, arXiv 2412.19437
//              §3.2.2): k copies across nodes become the token's distinct nodes (dispatch_factor, step_passes.cpp).
//              The default: issue #15 takes dispatch as DeepEP runs it, and Megatron-Bridge's recipes run it for
//              most MoE models (DeepSeek-V3, Kimi K2, Qwen3-30B-A3B); its Qwen3-235B-A22B recipes on H100 and B200
//              name alltoall.
enum class MoeDispatcher { alltoall, deepep };

std::string_view to_string(Schedule s);
std::optional<Schedule> schedule_from_string(std::string_view name);
std::string_view to_string(Recompute r);
std::optional<Recompute> recompute_from_string(std::string_view name);
std::string_view to_string(CpCommType c);
std::string_view to_string(MoeDispatcher d);
// Selective recomputation by module, Megatron-Core's --recompute-modules names (bits of
// ParallelLayout::recompute_modules). What each drops from the stored activations and replays in backward:
//   core_attn       the attention core's stored tensors (softmax output, or the fused kernel's log-sum-exp)
//   mla_up_proj     MLA's decompressed Q, K, V and the latents' norm outputs (the up-projections replayed)
//   layernorm       the norms' outputs (the projections' inputs), rebuilt from the norms' inputs
//   mlp             a dense layer's MLP intermediates (fc1 and fc2 replayed from the MLP's input)
//   moe_act         the experts' activation output (a gated MLP's product), rebuilt from fc1's output
//   shared_experts  the shared experts' intermediates (their GEMMs replayed)
// Norms and activations carry no model FLOPs: their replay is memory traffic the kernel model does not add.
enum class RecomputeModule : unsigned {
    core_attn = 1u << 0,
    mla_up_proj = 1u << 1,
    layernorm = 1u << 2,
    mlp = 1u << 3,
    moe_act = 1u << 4,
    shared_experts = 1u << 5,
};
inline constexpr RecomputeModule kAllRecomputeModules[] = {RecomputeModule::core_attn, RecomputeModule::mla_up_proj,
                                                           RecomputeModule::layernorm, RecomputeModule::mlp,
                                                           RecomputeModule::moe_act,   RecomputeModule::shared_experts};
std::string_view to_string(RecomputeModule m);
std::optional<RecomputeModule> recompute_module_from_string(std::string_view name);
// "core_attn, mlp" for a mask; "" for 0.
std::string describe_recompute_modules(unsigned modules);
struct ParallelLayout;
// The recomputation in a few words for headers: "none", "selective", "selective (core_attn, mlp)", "full",
// "full (first 2 layers of each chunk)".
std::string describe_recompute(const ParallelLayout& p);
// The parts of a rank order ("tp-cp-ep-dp-pp" → tp, cp, ep, dp, pp), or nullopt unless it lists each of tp, cp,
// ep, dp and pp exactly once.
std::optional<std::vector<std::string>> order_parts(std::string_view order);

struct ParallelLayout;
// How the data-parallel traffic runs, in a few words for the run header and `check`: "ZeRO-1, gradients
// reduce-scattered in buckets of 40M parameters during the backward", "ZeRO-3 / FSDP, per-layer gathers
// (prefetch 1, resharded after forward, shard group 8 of 64)", …; empty without data parallelism.
std::string describe_data_parallel(const ParallelLayout& p);
// How the tensor-parallel traffic runs, for the run header: "sequence parallel, communication overlapped with the
// GEMMs (24 SMs)", "sequence parallel", "all-reduce after each row-parallel GEMM"; empty without tensor parallelism.
std::string describe_tensor_parallel(const ParallelLayout& p);
// How the context-parallel exchange runs, for the run header: "K/V ring exchange (p2p) beside the attention core",
// "K/V all-gathered before attention and again for its backward, dK/dV reduce-scattered"; empty with context 1.
std::string describe_context_parallel(const ParallelLayout& p);
// The expert all-to-all's dispatcher for headers: "" without experts or expert parallelism, else e.g. "DeepEP-style:
// a token sent once per destination node, forwarded over NVLink inside it".
std::string describe_expert_dispatch(const ParallelLayout& p, bool moe);
// The schedule's name for headers: "1f1b", "interleaved", with " + combined 1F1B" after it when combined_1f1b.
std::string describe_schedule(const ParallelLayout& p);
// The degrees for headers and tables: "TP2 CP1 PP2 DP512 EP32", with " ETP1" after it when the MoE layers fold
// (ParallelLayout::folds_experts).
std::string describe_degrees(const ParallelLayout& p);

// Degrees. Convention (Megatron-Core): tensor × context × pipeline × data = GPUs; expert parallelism is
// carved out of the data × context ranks of one pipeline stage, so `expert` divides data × context and the
// routed experts divide by `expert`. Sequence parallelism shards the non-tensor-parallel activations over the
// tensor-parallel group and has no degree of its own.
// MoE parallel folding (Megatron-Core's --expert-tensor-parallel-size; arXiv 2504.14960): the MoE layers lay the
// tensor × context × data ranks of a stage out again as expert_tensor × expert × expert-data, so that expert ×
// expert_tensor divides tensor × context × data instead (training/placement.hpp gives the ranks).
struct ParallelLayout {
    int tensor = 1;
    int pipeline = 1;
    int data = 1;
    int expert = 1;
    // Expert tensor parallelism: the routed experts' GEMMs split over this many ranks; 0 = the attention's
    // `tensor` (Megatron-Core's default). Read through expert_tensor_degree().
    int expert_tensor = 0;
    int context = 1;
    bool sequence_parallel = false;
    int zero_stage = 0;          // 0 = replicated optimizer state; 1 shards optimizer; 2 + gradients; 3 + params
    int micro_batch = 1;         // sequences per micro-batch
    int virtual_stages = 1;      // model chunks per pipeline rank (interleaved schedule)
    Schedule schedule = Schedule::one_f_one_b;
    Recompute recompute = Recompute::none;
    // With recompute = full: 0 recomputes every transformer layer (Megatron-Core's uniform method, one layer per
    // checkpoint); N > 0 only the first N layers of each model chunk, the others keeping every activation
    // (--recompute-method block --recompute-num-layers N).
    int recompute_num_layers = 0;
    // With recompute = selective: the modules replayed (RecomputeModule bits). 0: the default set — core_attn
    // (Megatron-Core's default); with MLA DeepSeek-V3's set: also mla_up_proj and layernorm (§3.3.2:
    // "recomputation of RMSNorm and MLA up-projection") and a gated MLP's product, dense or routed (it recomputes
    // the SwiGLU output).
    unsigned recompute_modules = 0;
    std::string order = "tp-cp-ep-dp-pp";  // rank order, innermost first
    int communication_sms = 0;  // SMs each GPU reserves for communication kernels (DeepSeek-V3: 20 of 132)
    // Reduce gradients bucket by bucket as the backward of the micro-batch that completes them produces them,
    // overlapping the rest of the backward (Megatron-Core --overlap-grad-reduce, PyTorch DDP buckets). false:
    // after the whole backward, as Megatron-LM did in 2021.
    bool overlap_gradient_reduce = true;
    // ZeRO-1/2 (the distributed optimizer): the updated parameters' all-gather runs beside the next step's forward,
    // one gather per unit (layer, embedding, head) issued in order when the previous step's optimizer is done, each
    // unit's first forward of the step waiting for its own (Megatron-Core --overlap-param-gather; NeMo: "chunked by
    // the granularity of a Transformer layer … exposes only one DP communication chunk"; with pipeline parallelism
    // "the granularity … becomes the Transformer layers per virtual pipeline stage": each model chunk's first
    // forward waits for all its units). false: the all-gather follows the optimizer inside the step. Takes effect
    // with overlap_gradient_reduce (Megatron-Core requires it): param_gather_overlaps().
    bool overlap_param_gather = true;
    // Combined 1F1B (Megatron-Core --overlap-moe-expert-parallel-comm, "1F1B A2A overlap"): the 1F1B order's steady
    // rounds run the forward of one micro-batch beside the backward of another, so that each one's expert
    // all-to-all hides behind the other's compute (schedule.hpp, make_pipeline_plan). Needs a MoE model with
    // expert > 1, and the interleaved schedule or 1F1B with pipeline = 1.
    bool combined_1f1b = false;
    // Shared-expert overlap (Megatron-Core --moe-shared-expert-overlap, SharedExpertMLP on its own CUDA stream): in
    // a MoE layer the shared experts' first GEMM and activation run beside the dispatch all-to-all and their second
    // GEMM beside the combine; in the backward, their second GEMM's gradients beside the combine's backward
    // all-to-all and the rest beside the dispatch's. The shared experts' sequence-parallel gather and
    // reduce-scatter stay on the layer's critical path (pre_forward_comm before the dispatch, post_forward_comm
    // after the combine). The GEMMs beside the all-to-all run on the SMs `communication_sms` leaves them. Needs
    // shared experts and expert > 1; not with combined_1f1b (Megatron-Core refuses the pair) or DualPipe, which
    // overlap the all-to-all with another micro-batch's compute instead.
    bool moe_shared_expert_overlap = false;
    // Tensor-parallel communication overlapped with the GEMMs beside it (Megatron-Core --tp-comm-overlap,
    // Transformer Engine's userbuffers; NeMo's default on Hopper), sequence parallelism only: the all-gather before
    // a column-parallel GEMM and the reduce-scatter after a row-parallel one run in chunks beside the GEMM's own
    // chunks (ring exchange; pipelined reduce-scatter), and in the backward the input gradient's reduce-scatter
    // runs beside the weight-gradient GEMM (bulk overlap). The pipelined and bulk overlaps take
    // `tp_comm_overlap_sms` SMs from the GEMMs they run beside: 24, NeMo's userbuffer configurations for Llama 3
    // 70B and 405B on H100 (proj_fprop and fc2_fprop pipelined, qkv_wgrad bulk, num_sm 24) [U].
    bool tp_comm_overlap = false;
    int tp_comm_overlap_sms = 24;
    // The context-parallel exchange of keys and values (CpCommType); applies with context > 1.
    CpCommType cp_comm_type = CpCommType::p2p;
    // How the expert all-to-all carries a token's copies (MoeDispatcher); applies to MoE models.
    MoeDispatcher moe_dispatcher = MoeDispatcher::deepep;
    // Parameters per gradient bucket when reductions overlap the backward (ZeRO 0–2): a bucket is reduced as soon
    // as the backward has produced all its gradients, in the order the backward produces them. 0: Megatron-Core's
    // default, max(40,000,000, 1,000,000 × data × context) (DistributedDataParallelConfig.bucket_size).
    long long gradient_bucket = 0;
    // ZeRO-3 / FSDP full sharding (zero_stage 3): parameters are gathered one unit (a layer, the embedding, the
    // head) at a time over the data-parallel group before its forward, and — when `reshard_after_forward` —
    // freed after it and gathered again before its backward; each unit's gradients are reduce-scattered as soon
    // as its backward is done, every micro-batch (DeepSpeed ZeRO-3; PyTorch FSDP FULL_SHARD, whose
    // reshard_after_forward=false is SHARD_GRAD_OP). `prefetch`: units gathered ahead of the one computing
    // (FSDP's forward/backward prefetch of one unit: 1; 0 gathers each unit only when it is needed).
    int prefetch = 1;
    bool reshard_after_forward = true;
    // Hybrid sharding (FSDP HYBRID_SHARD / torchtitan's HSDP), zero_stage 3: dense parameters, gradients and
    // optimizer state sharded over `shard_group` data × context ranks (consecutive in the rank order, e.g. one
    // node) and replicated across the (data × context) / shard_group such groups; gathers stay inside the shard
    // group, and each unit's reduce-scatter there is followed by an all-reduce of the 1/shard_group shard across
    // the replicas. 0: data × context (full sharding). Routed experts keep their expert-data-parallel sharding.
    int shard_group = 0;
    // The vocabulary is padded with unused rows to a multiple of vocab_divisible_by × tensor, so that every
    // tensor-parallel rank holds an equal, aligned slice of the embedding and output head (Megatron-LM's
    // --make-vocab-size-divisible-by, default 128; 1 pads only as far as tensor parallelism needs).
    int vocab_divisible_by = 128;
    // [parallelism] layers_per_stage: the transformer layers of each of the pipeline × virtual_stages model chunks,
    // in chunk order (chunk c on pipeline rank c mod pipeline), summing to the model's layers; each at least 1. It
    // generalises Megatron-LM's --decoder-first-pipeline-num-layers / --decoder-last-pipeline-num-layers: a stage
    // that also holds the embedding, or the output head and MTP modules, can take fewer layers. Empty: the even
    // split (chunk_layers in workload.hpp).
    std::vector<int> layers_per_chunk;

    // Parameters per gradient bucket: gradient_bucket, or Megatron-Core's default max(40M, 1M × data × context).
    [[nodiscard]] double gradient_bucket_parameters() const;
    // The vocabulary as trained: `vocab` rounded up to a multiple of vocab_divisible_by × tensor.
    [[nodiscard]] long long padded_vocab(int vocab) const;
    // The data × context ranks ZeRO shards dense state over: the shard group under ZeRO-3 hybrid sharding,
    // else all of them.
    [[nodiscard]] int dense_shard_ranks() const {
        return zero_stage >= 3 && shard_group > 0 ? shard_group : data * context;
    }
    // Whether ZeRO-1/2's parameter all-gather overlaps the next step's forward (overlap_param_gather above).
    [[nodiscard]] bool param_gather_overlaps() const {
        return overlap_param_gather && overlap_gradient_reduce && (zero_stage == 1 || zero_stage == 2);
    }
    [[nodiscard]] int expert_tensor_degree() const { return expert_tensor > 0 ? expert_tensor : tensor; }
    // Whether the MoE layers fold their ranks (above): an expert-tensor degree other than `tensor`, or `expert`
    // not dividing data × context. Unfolded, the expert group is carved from data × context at one tensor rank.
    [[nodiscard]] bool folds_experts() const {
        return expert_tensor_degree() != tensor || (1LL * data * context) % expert != 0;
    }
    // Ranks holding the same experts' shards (they reduce those gradients together): tensor × context × data /
    // (expert × expert_tensor), which is data × context / expert unfolded.
    [[nodiscard]] int expert_data_ranks() const {
        return static_cast<int>(1LL * tensor * context * data / (1LL * expert * expert_tensor_degree()));
    }
    [[nodiscard]] long long model_parallel_ranks() const { return 1LL * tensor * context * pipeline; }
    [[nodiscard]] long long total_ranks() const { return 1LL * tensor * context * pipeline * data; }

    friend bool operator==(const ParallelLayout&, const ParallelLayout&) = default;
};

}  // namespace gpuhours
