#!/usr/bin/env python3
"""Kernel micro-benchmarks on one Hopper GPU, for the chip catalog's efficiencies (issue #14 item 6).

Measures achieved TFLOP/s (or TB/s) of the kernels a transformer step is made of, by shape:
  gemm.csv       BF16 GEMMs in the three layouts of a linear layer's step (forward Y = X W^T, data gradient
                 dX = dY W, weight gradient dW = dY^T X), over a grid of (M tokens, N, K);
  gemm_fp8.csv   FP8 (E4M3) GEMMs through torch._scaled_mm with tensor-wise and row-wise scaling, BF16 out;
  attention.csv  fused causal attention (scaled_dot_product_attention) forward and backward, per backend;
  memory.csv     streaming kernels (copy, add, layer norm, softmax): achieved bytes/s.
Every row carries its shape, the FLOPs or bytes counted, the time and the achieved rate; nothing is fitted here.

Timing: a CUDA graph of R launches of the kernel (R sized for about 20 ms), replayed 5 times after a warm-up;
the median replay divided by R. Random normal data (zeros run faster). Operands are reused across the R launches,
so shapes whose operands fit the 50 MB L2 can read them from L2 (noted in the catalog's source).

Usage (on the device machine): python3 bench/gpu/hopper_kernels.py OUTDIR [--quick]
Writes OUTDIR/{env.txt,gemm.csv,gemm_fp8.csv,attention.csv,memory.csv}, each row flushed as measured.
"""
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from gpu_timing import graph_seconds, open_csv

out = sys.argv[1] if len(sys.argv) > 1 else "."
quick = "--quick" in sys.argv
os.makedirs(out, exist_ok=True)
dev = torch.device("cuda")
torch.backends.cuda.matmul.allow_tf32 = False
T0 = time.time()
# Seconds each section may take (the lease is short): GEMM BF16, GEMM FP8, attention, memory.
SECTION_S = {"bf16": 100.0, "fp8": 100.0, "attention": 70.0, "memory": 25.0}
section_start = [time.time(), "bf16"]


def start_section(name):
    section_start[0], section_start[1] = time.time(), name


def over_budget():
    return time.time() - section_start[0] > SECTION_S[section_start[1]]


def smi(what):
    try:
        return subprocess.run(["nvidia-smi", "-q", "-d", what], capture_output=True, text=True, timeout=20).stdout
    except Exception as e:  # noqa: BLE001
        return f"nvidia-smi failed: {e}\n"


with open(os.path.join(out, "env.txt"), "w") as f:
    p = torch.cuda.get_device_properties(0)
    f.write(f"device {p.name} sms {p.multi_processor_count} memory_bytes {p.total_memory}\n")
    f.write(f"torch {torch.__version__} cuda {torch.version.cuda} cudnn {torch.backends.cudnn.version()}\n")
    f.write(smi("CLOCK,POWER"))


def bench(fn, flops_or_bytes, target_s=0.02):
    """Seconds per call of fn, from CUDA-graph replays."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    est = max(time.perf_counter() - t, 1e-6)
    reps = int(max(1, min(200, target_s / est)))
    return graph_seconds(fn, reps)


def csv(name, header):
    return open_csv(out, name, header)


# ---------------------------------------------------------------- GEMM, BF16
Ms = [4096, 16384, 1024, 8192, 2048, 256]  # most-used first, in case a section runs out of time
Ns = [1024, 2048, 4096, 6144, 7168, 12288, 16384, 24576]
Ks = [1024, 2048, 4096, 7168, 8192, 12288, 16384]
if quick:
    Ms, Ns, Ks = [2048, 8192], [4096, 16384], [4096, 16384]

start_section("bf16")
g = csv("gemm.csv", "dtype,layout,m,n,k,flops,seconds,tflops")
for m in Ms:
    for n in Ns:
        for k in Ks:
            if over_budget():
                break
            fl = 2.0 * m * n * k
            x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
            w = torch.randn(n, k, device=dev, dtype=torch.bfloat16)
            layouts = [("fwd", lambda: F.linear(x, w))]
            if m in (2048, 8192) or quick:
                dy = torch.randn(m, n, device=dev, dtype=torch.bfloat16)
                layouts.append(("dgrad", lambda: dy @ w))          # (m×n)(n×k)
                layouts.append(("wgrad", lambda: dy.t() @ x))      # (n×m)(m×k)
            for name, fn in layouts:
                try:
                    t = bench(fn, fl)
                    g.write(f"bf16,{name},{m},{n},{k},{fl:.6g},{t:.6e},{fl / t / 1e12:.1f}\n")
                except Exception as e:  # noqa: BLE001
                    g.write(f"bf16,{name},{m},{n},{k},{fl:.6g},error,{type(e).__name__}\n")
                g.flush()
            del x, w
            torch.cuda.empty_cache()
g.close()

# ---------------------------------------------------------------- GEMM, FP8 (E4M3 × E4M3 → BF16)
start_section("fp8")
g = csv("gemm_fp8.csv", "dtype,scaling,m,n,k,flops,seconds,tflops")
for m in Ms:
    for n in Ns:
        for k in Ks:
            if over_budget():
                break
            fl = 2.0 * m * n * k
            a = (torch.randn(m, k, device=dev) * 0.5).to(torch.float8_e4m3fn)
            b = (torch.randn(n, k, device=dev) * 0.5).to(torch.float8_e4m3fn).t()  # column-major k×n
            one = torch.ones((), device=dev, dtype=torch.float32)
            sa = torch.ones(m, 1, device=dev, dtype=torch.float32)
            sb = torch.ones(1, n, device=dev, dtype=torch.float32)
            variants = [
                ("tensorwise", lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)),
                ("rowwise", lambda: torch._scaled_mm(a, b, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)),
            ]
            for name, fn in variants:
                try:
                    t = bench(fn, fl)
                    g.write(f"e4m3,{name},{m},{n},{k},{fl:.6g},{t:.6e},{fl / t / 1e12:.1f}\n")
                except Exception as e:  # noqa: BLE001
                    g.write(f"e4m3,{name},{m},{n},{k},{fl:.6g},error,{type(e).__name__}\n")
                g.flush()
            del a, b
            torch.cuda.empty_cache()
g.close()

# ---------------------------------------------------------------- attention
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

start_section("attention")
g = csv("attention.csv", "backend,pass,batch,heads,seq,d_qk,d_v,causal,flops,seconds,tflops")
backends = [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION),
            ("efficient", SDPBackend.EFFICIENT_ATTENTION)]
shapes = []
for seq in [1024, 2048, 4096, 8192, 16384]:
    for heads, dqk, dv in [(32, 128, 128), (64, 128, 128), (128, 192, 128), (16, 64, 64)]:
        shapes.append((max(1, 16384 // seq), heads, seq, dqk, dv))
if quick:
    shapes = shapes[:8]
for be_name, be in backends:
    for (bsz, heads, seq, dqk, dv) in shapes:
        if over_budget():
            break
        # Causal attention FLOPs (FlashAttention papers' count): forward 4·b·h·s²·d / 2 with d the mean of the
        # two matrix products' inner dims (Q·K^T uses d_qk, P·V uses d_v); backward 2.5 × forward.
        fwd = 2.0 * bsz * heads * seq * seq * (dqk + dv) / 2
        try:
            q = torch.randn(bsz, heads, seq, dqk, device=dev, dtype=torch.bfloat16, requires_grad=True)
            k_ = torch.randn(bsz, heads, seq, dqk, device=dev, dtype=torch.bfloat16, requires_grad=True)
            v = torch.randn(bsz, heads, seq, dv, device=dev, dtype=torch.bfloat16, requires_grad=True)
            do = torch.randn(bsz, heads, seq, dv, device=dev, dtype=torch.bfloat16)
            with sdpa_kernel([be]):
                def f():
                    return F.scaled_dot_product_attention(q, k_, v, is_causal=True)
                tf = bench(f, fwd)
                g.write(f"{be_name},fwd,{bsz},{heads},{seq},{dqk},{dv},1,{fwd:.6g},{tf:.6e},{fwd / tf / 1e12:.1f}\n")
                g.flush()

                def fb():
                    o = F.scaled_dot_product_attention(q, k_, v, is_causal=True)
                    torch.autograd.grad(o, (q, k_, v), do)
                # Graph capture of autograd is fragile; time fwd+bwd with events over a plain loop instead.
                for _ in range(3):
                    fb()
                torch.cuda.synchronize()
                reps = 10
                a = torch.cuda.Event(enable_timing=True)
                b = torch.cuda.Event(enable_timing=True)
                a.record()
                for _ in range(reps):
                    fb()
                b.record()
                b.synchronize()
                tfb = a.elapsed_time(b) / 1e3 / reps
                tb = max(tfb - tf, 1e-9)
                g.write(f"{be_name},bwd,{bsz},{heads},{seq},{dqk},{dv},1,{2.5 * fwd:.6g},{tb:.6e},"
                        f"{2.5 * fwd / tb / 1e12:.1f}\n")
                g.write(f"{be_name},fwd+bwd,{bsz},{heads},{seq},{dqk},{dv},1,{3.5 * fwd:.6g},{tfb:.6e},"
                        f"{3.5 * fwd / tfb / 1e12:.1f}\n")
        except Exception as e:  # noqa: BLE001
            g.write(f"{be_name},error,{bsz},{heads},{seq},{dqk},{dv},1,{fwd:.6g},error,"
                    f"{type(e).__name__}: {str(e)[:80].replace(',', ';')}\n")
        g.flush()
        torch.cuda.empty_cache()
g.close()

# ---------------------------------------------------------------- memory-bound kernels
start_section("memory")
g = csv("memory.csv", "kernel,elements,bytes,seconds,tbps")
for numel in [2**24, 2**27, 2**30]:
    if over_budget():
        break
    x = torch.randn(numel, device=dev, dtype=torch.bfloat16)
    y = torch.randn(numel, device=dev, dtype=torch.bfloat16)
    z = torch.empty_like(x)
    rows = numel // 8192
    xs = x.view(rows, 8192)
    wln = torch.ones(8192, device=dev, dtype=torch.bfloat16)
    kernels = [
        ("copy", lambda: z.copy_(x), 4 * numel),
        ("add", lambda: torch.add(x, y, out=z), 6 * numel),
        ("layer_norm", lambda: F.layer_norm(xs, (8192,), wln, wln), 4 * numel),
        ("softmax", lambda: torch.softmax(xs, dim=-1), 4 * numel),
        ("gelu", lambda: F.gelu(x), 4 * numel),
    ]
    for name, fn, by in kernels:
        try:
            t = bench(fn, by)
            g.write(f"{name},{numel},{by},{t:.6e},{by / t / 1e12:.3f}\n")
        except Exception as e:  # noqa: BLE001
            g.write(f"{name},{numel},{by},error,{type(e).__name__}\n")
        g.flush()
    del x, y, z
    torch.cuda.empty_cache()
g.close()

with open(os.path.join(out, "env.txt"), "a") as f:
    f.write(f"\nelapsed_s {time.time() - T0:.1f}\n")
    f.write(smi("CLOCK,POWER"))
print(f"done in {time.time() - T0:.1f} s")
