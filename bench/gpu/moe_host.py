#!/usr/bin/env python3
"""Host and kernel costs of a Mixture-of-Experts layer on one GPU, for the in-node MoE misses (docs/moe.md,
"Known misses"; issue #15). Written in session 36 without a GPU; not yet run. Nothing in it is fitted.

What the model needs to know and cannot derive (the catalog's 10 µs of host time per kernel, one kernel per
operator, no host synchronisation):
  host_op.csv      host (CPU) time of one eager PyTorch call, by kind: a tiny elementwise op, torch.empty, a small
                   F.linear, a .tolist() of 16 counts after an idle stream; and the GPU's time for the same call
                   (CUDA events over a graph of them), so host-bound and GPU-bound cases tell apart.
  expert_gemm.csv  one grouped GEMM of E local experts, m tokens each, at real experts' shapes, three ways: a loop
                   of per-expert torch.mm (one launch per expert, as Transformer Engine's multi-stream GroupedLinear
                   and the grouped_gemm library's cuBLAS path do), the same loop captured in a CUDA graph (launches
                   without host time), and one torch._grouped_mm kernel where this PyTorch has it. Columns: host
                   seconds per call (eager), GPU seconds per call (graph), achieved TFLOP/s.
  moe_layer.csv    one MoE layer's forward and backward in plain PyTorch (router, top-k, permutation by argsort,
                   per-expert loop of fc1 / SwiGLU / fc2, weighted un-permutation), with the token counts read to
                   the host before the expert GEMMs (`tokens_per_expert.tolist()`, as Megatron-Core's dropless
                   dispatchers and TEGroupedMLP do) and without (counts fixed in advance: static shapes, as token
                   dropping gives). Wall seconds per layer (forward + backward) and the host's share.

Shapes (hidden → expert hidden, experts, top-k): Qwen3-30B-A3B 2,048 → 768, 128, 8; gpt-oss-120b 2,880 → 2,880,
128, 4; Qwen3-235B-A22B 4,096 → 1,536, 128, 8; DeepSeek-V3 7,168 → 2,048, 256, 8. Local experts E = experts / EP
for EP 8 (16 or 32) and EP 32-64 (4). BF16 throughout (FP8 adds per-expert quantisation kernels; a later run can add
them once these are known).

Usage (on the device machine): python3 bench/gpu/moe_host.py OUTDIR [--quick]
Writes OUTDIR/{env.txt,host_op.csv,expert_gemm.csv,moe_layer.csv}, each row flushed as measured. About 3 minutes
on an H200 (each section stops at its time budget).
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
SECTION_S = {"host": 25.0, "gemm": 80.0, "layer": 60.0}
section = [time.time(), "host"]
has_grouped_mm = hasattr(torch, "_grouped_mm")


def start_section(name):
    section[0], section[1] = time.time(), name


def over_budget():
    return time.time() - section[0] > SECTION_S[section[1]]


def csv(name, header):
    return open_csv(out, name, header)


with open(os.path.join(out, "env.txt"), "w") as f:
    p = torch.cuda.get_device_properties(0)
    f.write(f"device {p.name} sms {p.multi_processor_count} memory_bytes {p.total_memory}\n")
    f.write(f"torch {torch.__version__} cuda {torch.version.cuda} grouped_mm {has_grouped_mm}\n")
    try:
        f.write(subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout)
    except Exception as e:  # noqa: BLE001
        f.write(f"lscpu failed: {e}\n")


def host_seconds(fn, calls):
    """Host seconds per call of fn issued `calls` times back to back, the GPU left to catch up afterwards."""
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    host = (time.perf_counter() - t) / calls
    torch.cuda.synchronize()
    return host


def wall_seconds(fn, calls):
    """Wall seconds per call including the GPU's work (synchronised at the end)."""
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / calls


# ---------------------------------------------------------------- host time per eager call
start_section("host")
h = csv("host_op.csv", "op,host_seconds,gpu_seconds")
small = torch.randn(1024, device=dev)
x = torch.randn(256, 2048, device=dev, dtype=torch.bfloat16)
w = torch.randn(768, 2048, device=dev, dtype=torch.bfloat16)
counts = torch.randint(0, 4096, (16,), device=dev)
ops = [
    ("add_ (1,024 floats)", lambda: small.add_(1.0)),
    ("empty (256 x 2,048 bf16)", lambda: torch.empty(256, 2048, device=dev, dtype=torch.bfloat16)),
    ("linear (256 x 2,048 -> 768 bf16)", lambda: F.linear(x, w)),
    ("softmax (256 x 2,048)", lambda: torch.softmax(x, dim=-1)),
    ("topk 8 of 128 (256 rows)", lambda: torch.topk(x[:, :128], 8, dim=-1)),
]
for name, fn in ops:
    if over_budget():
        break
    for _ in range(50):
        fn()
    host = host_seconds(fn, 2000)
    try:
        gpu = graph_seconds(fn, 200) if not name.startswith("empty") else 0.0
    except Exception:  # noqa: BLE001  (an op a graph cannot capture)
        gpu = float("nan")
    h.write(f"{name},{host:.3e},{gpu:.3e}\n")
    h.flush()
# A host synchronisation: read 16 counts after a queue of GPU work (the drain is in `wall`; the round trip alone
# after an idle stream in `host`).
big = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
torch.cuda.synchronize()
t = time.perf_counter()
for _ in range(200):
    counts.tolist()
h.write(f"tolist (16 counts; idle stream),{(time.perf_counter() - t) / 200:.3e},0\n")
t_mm = wall_seconds(lambda: big @ big, 5)
t = time.perf_counter()
for _ in range(20):
    big @ big
    counts.tolist()
per = (time.perf_counter() - t) / 20
h.write(f"tolist after an 8192^3 GEMM (wall per pair minus the GEMM's wall),{per - t_mm:.3e},{t_mm:.3e}\n")
h.close()
del big

# ---------------------------------------------------------------- one grouped GEMM of E experts
start_section("gemm")
g = csv("expert_gemm.csv", "model,gemm,experts,tokens_per_expert,n,k,flops,way,host_seconds,gpu_seconds,tflops")
shapes = [  # (model, hidden, expert hidden); fc1 is gated (2 × expert hidden outputs), fc2 back to hidden
    ("qwen3-30b-a3b", 2048, 768),
    ("gpt-oss-120b", 2880, 2880),
    ("qwen3-235b-a22b", 4096, 1536),
    ("deepseek-v3", 7168, 2048),
]
experts_list = [16, 4, 32]
tokens_list = [2048, 512, 4096, 256, 1024]
if quick:
    shapes, experts_list, tokens_list = shapes[:2], [16], [2048]
for model, hidden, ffn in shapes:
    for gemm, n, k in (("fc1", 2 * ffn, hidden), ("fc2", hidden, ffn)):
        for e in experts_list:
            for m in tokens_list:
                if over_budget():
                    break
                fl = 2.0 * e * m * n * k
                xs = torch.randn(e * m, k, device=dev, dtype=torch.bfloat16)
                ws = torch.randn(e, n, k, device=dev, dtype=torch.bfloat16)
                parts = list(xs.split(m))

                def loop():
                    return [torch.mm(parts[i], ws[i].t()) for i in range(e)]

                rows = [("per-expert loop", loop)]
                if has_grouped_mm:
                    offs = torch.arange(m, e * m + 1, m, device=dev, dtype=torch.int32)
                    wt = ws.transpose(-2, -1)
                    rows.append(("torch._grouped_mm", lambda: torch._grouped_mm(xs, wt, offs=offs)))
                for way, fn in rows:
                    try:
                        for _ in range(3):
                            fn()
                        host = host_seconds(fn, 50)
                        gpu = graph_seconds(fn, 20)
                        g.write(f"{model},{gemm},{e},{m},{n},{k},{fl:.6g},{way},{host:.3e},{gpu:.3e},"
                                f"{fl / gpu / 1e12:.1f}\n")
                    except Exception as ex:  # noqa: BLE001
                        g.write(f"{model},{gemm},{e},{m},{n},{k},{fl:.6g},{way},error,error,{type(ex).__name__}\n")
                    g.flush()
                del xs, ws, parts
                torch.cuda.empty_cache()
g.close()

# ---------------------------------------------------------------- one MoE layer, forward and backward
start_section("layer")
lay = csv("moe_layer.csv", "model,tokens,experts,local_experts,top_k,sync,wall_seconds,host_seconds")


def moe_layer(tokens, hidden, ffn, experts, local, top_k, sync):
    """Forward and backward of one MoE layer on one GPU: tokens routed over `experts`, those of the `local` first
    experts computed here (the others' slots stand for what the all-to-all would send away)."""
    x = torch.randn(tokens, hidden, device=dev, dtype=torch.bfloat16, requires_grad=True)
    router = torch.randn(experts, hidden, device=dev, dtype=torch.bfloat16, requires_grad=True)
    w1 = torch.randn(local, 2 * ffn, hidden, device=dev, dtype=torch.bfloat16, requires_grad=True)
    w2 = torch.randn(local, hidden, ffn, device=dev, dtype=torch.bfloat16, requires_grad=True)
    fixed = [tokens * top_k // experts] * local  # balanced counts known in advance (static shapes)

    def step():
        logits = F.linear(x, router)
        probs, idx = torch.topk(torch.softmax(logits.float(), dim=-1), top_k, dim=-1)
        flat = idx.flatten()
        order = torch.argsort(flat, stable=True)
        slots = x.repeat_interleave(top_k, dim=0)[order]
        if sync:
            sizes = torch.bincount(flat, minlength=experts)[:local].tolist()  # the host waits for the GPU here
        else:
            sizes = fixed
        used = sum(sizes)
        outs = []
        for i, part in enumerate(slots[:used].split(sizes)):
            hmid = F.linear(part, w1[i])
            a, b = hmid.chunk(2, dim=-1)
            outs.append(F.linear(F.silu(a) * b, w2[i]))
        y = torch.cat(outs + [slots[used:]])
        back = torch.empty_like(y)
        back[order] = y
        out = (back.view(tokens, top_k, hidden) * probs.unsqueeze(-1).to(y.dtype)).sum(dim=1)
        out.sum().backward()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t = time.perf_counter()
    cpu = time.process_time()
    calls = 10
    for _ in range(calls):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / calls, (time.process_time() - cpu) / calls


layers = [("qwen3-30b-a3b", 2048, 768, 128, 8), ("gpt-oss-120b", 2880, 2880, 128, 4),
          ("qwen3-235b-a22b", 4096, 1536, 128, 8), ("deepseek-v3", 7168, 2048, 256, 8)]
if quick:
    layers = layers[:1]
for model, hidden, ffn, experts, top_k in layers:
    for local in sorted({experts // 8, 4}, reverse=True):
        for sync in (True, False):
            if over_budget():
                break
            try:
                wall, host = moe_layer(4096, hidden, ffn, experts, local, top_k, sync)
                lay.write(f"{model},4096,{experts},{local},{top_k},{int(sync)},{wall:.4e},{host:.4e}\n")
            except Exception as ex:  # noqa: BLE001
                lay.write(f"{model},4096,{experts},{local},{top_k},{int(sync)},error,{type(ex).__name__}\n")
            lay.flush()
            torch.cuda.empty_cache()
lay.close()
print(f"done in {time.time() - section[0]:.0f} s (last section); results in {out}")
