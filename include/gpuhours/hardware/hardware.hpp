// Accelerator profiles and the cluster a run uses, as plain validated data.
// Every figure originates in a catalog file under scenarios/chips/ with its source; nothing here has a
// built-in default for a physical figure.
#pragma once

#include <gpuhours/units/precision.hpp>
#include <gpuhours/units/units.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gpuhours {

// How a fused attention kernel's efficiency varies with its shape, relative to KernelEfficiency::attention (the
// catalog's figure at its reference shape): a factor per measured kernel sequence length (tokens: the keys one
// kernel call walks per query block) for each measured head dimension (d_qk), read off a micro-benchmark's rows
// (scenarios/chips/, `[efficiency] attention_shape`). Between sequence lengths the factor is interpolated linearly in
// log2(sequence), between head dimensions linearly in the head dimension; outside the measured range it is held at
// the nearest end. Every factor lies in (0, 1], so no shape runs faster than the reference (plan's lower bound and
// `check`'s step-length bound rely on that).
struct AttentionShapeTable {
    std::vector<double> sequence;                          // ascending kernel sequence lengths, tokens
    std::vector<std::pair<int, std::vector<double>>> rows;  // ascending head dims, each with a factor per sequence

    [[nodiscard]] bool empty() const { return rows.empty(); }
    // The factor at `kernel_sequence` tokens and head dimension `head_dim`; 1 for an empty table. Throws Error for
    // a non-positive sequence or head dimension.
    [[nodiscard]] double factor(double kernel_sequence, int head_dim) const;

    friend bool operator==(const AttentionShapeTable&, const AttentionShapeTable&) = default;
};

// A GEMM kernel's fixed time per output tile beyond its main loop (prologue and pipeline fill, epilogue: the tile's
// scaling and store), one figure per kernel family as KernelEfficiency's GEMM figures (`gemm`, `gemm_fp8`, …), each the
// time one SM spends per tile (per split-K slice) whatever the inner dimension K. The kernel model
// (include/gpuhours/training/kernel.hpp) adds it to each tile's main loop, so a GEMM of short K runs below the
// family's figure: on an H200, cuBLAS's FP8 GEMMs with one scale per tensor run at 0.50 of the FP8 peak at K = 1,024
// and 0.65 at K = 16,384 (bench/gpu/results/h200-2026-11-30/gemm_fp8.csv). Zero where the catalog measured none
// (scenarios/chips/, `[efficiency] gemm_tile_overhead`): the family's figure then holds at every K.
struct GemmTileOverhead {
    Seconds gemm;
    Seconds gemm_fp8;
    Seconds gemm_fp8_rowwise;
    Seconds gemm_fp8_blockwise;
    Seconds gemm_mxfp8;

    // The figure of `recipe`'s kernels (gemm for none), as KernelEfficiency::fp8_gemm.
    [[nodiscard]] Seconds of(Fp8Recipe recipe) const;

    friend bool operator==(const GemmTileOverhead&, const GemmTileOverhead&) = default;
};

// Achievable fractions of peak, used by the step simulator's operator and link timing. Each is a catalog
// figure with its source or rationale (measured, published, or an assumption stated as such).
struct KernelEfficiency {
    double gemm = 0.0;           // large, well-shaped GEMMs: achieved / peak dense FLOP/s
    // Large FP8 GEMMs: achieved / FP8 peak, one figure per kernel family (Fp8Recipe, units/precision.hpp).
    // gemm_fp8: one scale per tensor (cuBLAS; the delayed and tensorwise recipes), required for chips with an
    // FP8 peak. The others are 0 where the catalog has no figure, and the recipe is then refused on the chip:
    // gemm_fp8_rowwise (per-row scales, cuBLAS), gemm_fp8_blockwise (1×128 × 128×128 block scales: DeepGEMM on
    // Hopper), gemm_mxfp8 (1×32 E8M0 scales in the tensor cores: Blackwell).
    double gemm_fp8 = 0.0;
    double gemm_fp8_rowwise = 0.0;
    double gemm_fp8_blockwise = 0.0;
    double gemm_mxfp8 = 0.0;
    double attention = 0.0;      // fused attention kernels (FlashAttention-class): achieved / peak
    AttentionShapeTable attention_shape;  // its shape dependence; empty where the catalog measured none (factor 1)
    double memory = 0.0;         // memory-bound kernels: achieved / peak HBM bandwidth
    double scale_up_link = 0.0;  // NVLink-class collectives: bus bandwidth / per-direction link bandwidth
    double nic_link = 0.0;       // scale-out collectives: bus bandwidth / per-direction NIC bandwidth
    // The output tile one SM (compute unit) of a large GEMM computes at a time, rows × columns: the grain of
    // tile quantisation (partial tiles cost a whole tile) and wave quantisation (tiles in waves of the free
    // SMs) in the kernel model (include/gpuhours/training/kernel.hpp). Counts, not fractions.
    int gemm_tile_m = 0;
    int gemm_tile_n = 0;
    // A second, narrower tile gemm_tile_m × gemm_tile_n_narrow that the library may pick instead (cuBLAS chooses a
    // tile per shape): the kernel model takes the tiling of the higher efficiency among the two, the narrow one only
    // where it needs no split-K. 0, or not narrower than gemm_tile_n: one tile only (every chip whose catalog
    // measured no second one).
    int gemm_tile_n_narrow = 0;
    GemmTileOverhead gemm_tile_overhead;  // the fixed time per tile of each GEMM family; zero where none was measured

    // The figure of `recipe`'s GEMMs (gemm for none); 0 where the catalog has none.
    [[nodiscard]] double fp8_gemm(Fp8Recipe recipe) const;

    friend bool operator==(const KernelEfficiency&, const KernelEfficiency&) = default;
};

// The [efficiency] key of `recipe`'s GEMM figure: "gemm_fp8" (delayed, tensorwise), "gemm_fp8_rowwise",
// "gemm_fp8_blockwise", "gemm_mxfp8"; "gemm" for none.
std::string_view fp8_efficiency_key(Fp8Recipe recipe);

struct ChipProfile {
    std::string id;            // catalog name: "h800", "a100-80gb"
    std::string display_name;  // "NVIDIA H800 SXM5"
    std::string vendor;
    std::map<Precision, FlopsPerSecond> peak_dense;  // dense (no sparsity) peak per supported format
    // Device memory as software sees it. memory_device: the bytes CUDA exposes (cudaDeviceProp::totalGlobalMem,
    // PyTorch's "total capacity"; an "80 GB" H100 exposes 79.15–79.33 GiB = 85.0–85.2 × 10⁹ B). memory_reserve:
    // what the framework holds outside the model's tensors (CUDA context and kernel images, NCCL buffers, the
    // caching allocator's fragmentation). memory_capacity = memory_device − memory_reserve is what parameters,
    // gradients, optimizer state and activations may use: every fit check compares against it.
    // memory_nameplate: memory_device is the published figure (read in 10⁹ B) because what the device exposes is
    // not published for the part ([memory] basis = "nameplate"); on the HBM parts whose exposed bytes are known (H100,
    // H20, B200, GB200, MI300X) these lie 6–7 % above the nameplate GB, so a fit on such a part may be that much
    // pessimistic (the GDDR parts' ECC keeps theirs near the nameplate: L40S 47.77 against 48 GB).
    Bytes memory_capacity;
    Bytes memory_device;
    Bytes memory_reserve;
    bool memory_nameplate = false;
    BytesPerSecond memory_bandwidth;
    BytesPerSecond scale_up_bandwidth;   // per GPU, per direction (NVLink 900 GB/s bidirectional = 450)
    int scale_up_domain = 1;             // GPUs in one scale-up (NVLink/NVSwitch) domain in the usual node
    // GPUs in one host server (the [host] table: one OS, CPUs, NICs, power supplies), the unit per-node failure
    // rates count: 8 on an HGX board, 4 in a GB200 NVL72 compute tray, whose NVLink domain is the 72-GPU rack.
    // 0 where the chip's entry has none: the cluster's node is taken as the host (ClusterSpec::gpus_per_host).
    int gpus_per_host = 0;
    Seconds scale_up_latency;            // one hop, small message
    BytesPerSecond nic_bandwidth;        // typical scale-out NIC bandwidth per GPU, per direction
    Seconds nic_latency;                 // one hop, small message
    Watts tdp;
    // Board power with the GPU idle at its clocks (no kernels running): the static part of the power model a
    // power cap is read with (ClusterSpec::power_cap). 0 where the catalog has none: a cap is then refused.
    Watts idle_power;
    Watts min_power_cap;  // the lowest board power limit the driver accepts (nvidia-smi's Min Power Limit); 0: unknown
    // Kernel launches ([launch] table; 0 where the catalog has none, and launches are then not modelled):
    // launch_host, the CPU time an eager framework spends to launch one kernel (the stream starves when a block's
    // kernels are launched more slowly than the GPU runs them); launch_gap, the GPU's idle time between two
    // consecutive kernels of a stream.
    Seconds launch_host;
    Seconds launch_gap;
    std::optional<double> die_area_mm2;  // logic die area on a non-planar process; nullopt if unpublished
    int sm_count = 0;                    // streaming multiprocessors / compute units
    KernelEfficiency efficiency;
    // Market rental price per GPU-hour from the catalog's [price] table, and its source (market, date); nullopt
    // where the reference has none. A chip swap in `whatif` prices the swapped chip with it.
    std::optional<Dollars> rental_gpu_hour;
    std::string rental_source;

    // Peak for `p`; throws Error naming the chip and its supported formats when the chip lacks it.
    [[nodiscard]] FlopsPerSecond peak(Precision p) const;
    // "81.77 GB usable: 84.99 GB as the device reports it less a 3.22 GB framework reserve (CUDA context, NCCL
    // buffers, allocator fragmentation)", or "… (no framework reserve: none in the chip's entry, or a reserve of 0 set)".
    [[nodiscard]] std::string memory_basis() const;

    friend bool operator==(const ChipProfile&, const ChipProfile&) = default;
};

// How kernels are launched and what that costs, for headers: "eager launches: 10 µs of host time and 1 µs of GPU
// gap per kernel (…)", "CUDA graphs (cuda_graphs = true): …", or that the chip has no [launch] figures.
std::string describe_launches(const ChipProfile& chip, bool cuda_graphs);

enum class Fabric { single_node, fat_tree, rail_optimized, multi_plane };
std::string_view to_string(Fabric f);
std::optional<Fabric> fabric_from_string(std::string_view name);

struct ClusterSpec {
    ChipProfile chip;
    int gpus = 0;
    int gpus_per_node = 0;
    Fabric fabric = Fabric::fat_tree;
    BytesPerSecond nic_bandwidth;   // per GPU per direction; the chip's typical figure unless the scenario says
    Seconds nic_latency;
    double oversubscription = 1.0;  // leaf uplink oversubscription (2.0 means 2:1)
    int tiers = 2;                  // switch tiers of the fat-tree (2 or 3)
    int planes = 1;                 // multi-plane fabrics: independent planes (DeepSeek: 8)
    int switch_radix = 64;          // ports per switch
    // GPUs per host server, for the failure classes counted per node (reliability mtbf_per_node) and nothing else:
    // the scenario's cluster.gpus_per_host, else the chip's [host] figure, else gpus_per_node (0 here: the node, for a
    // cluster built by hand; host_gpus() resolves it). It may differ from gpus_per_node, which is the scale-up
    // (NVLink) domain the network is built on: a GB200 NVL72 rack is one 72-GPU node of 18 hosts of 4; an H100 PCIe
    // pair bridged by NVLink is a 2-GPU node in an 8-GPU host.
    int gpus_per_host = 0;
    // Board power limit per GPU (nvidia-smi -pl), below the chip's TDP; nullopt: the TDP.
    std::optional<Watts> power_cap;

    [[nodiscard]] int nodes() const { return gpus / gpus_per_node; }
    // Host servers the job holds: ⌈gpus / gpus_per_host⌉ (a partly used host counts whole: its failures stop the job).
    [[nodiscard]] int host_gpus() const { return gpus_per_host > 0 ? gpus_per_host : gpus_per_node; }
    [[nodiscard]] int hosts() const { return (gpus + host_gpus() - 1) / host_gpus(); }
    // The SM clock under power_cap as a fraction of the clock at the TDP (1 without a cap), by the dynamic
    // power of CMOS logic, P = P_idle + C·V²·f with V ∝ f across the DVFS range (so the dynamic part ∝ f³):
    //   f_cap / f_tdp = ((cap − idle) / (TDP − idle))^(1/3).
    // Compute-bound kernels run at this fraction of their rate; memory-bound ones keep theirs (HBM clocks are
    // not lowered). The catalog's efficiencies are at the TDP (H200: 675–687 W sustained at 700 W), so the
    // model starts from there. [U]: the cube law is the textbook DVFS approximation, not a measured curve.
    [[nodiscard]] double clock_factor() const;
    // The cap for headers: "power cap 500 W per GPU (TDP 700 W): SM clock × 0.878 for compute-bound kernels (…)";
    // empty without a cap.
    [[nodiscard]] std::string describe_power_cap() const;

    friend bool operator==(const ClusterSpec&, const ClusterSpec&) = default;
};

}  // namespace gpuhours
