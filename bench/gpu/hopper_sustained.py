#!/usr/bin/env python3
"""Sustained GEMM rate on one Hopper GPU: the same large GEMM back to back for SECONDS seconds per dtype, the rate
of each second and the SM clock and power read beside it, to see how far a training-length run falls below the
short bursts of hopper_kernels.py (power and clock limits). Also repeats a few grid shapes of hopper_kernels.py
to give its run-to-run spread.
Usage (device machine): python3 bench/gpu/hopper_sustained.py OUTDIR [SECONDS]   Writes OUTDIR/sustained.csv, repeat.csv.
"""
import os, subprocess, sys, time
import torch
import torch.nn.functional as F

out = sys.argv[1]
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
dev = torch.device("cuda")


def smi():
    r = subprocess.run(["nvidia-smi", "--query-gpu=clocks.sm,power.draw,temperature.gpu", "--format=csv,noheader,nounits"],
                       capture_output=True, text=True, timeout=10).stdout.strip()
    return r.replace(" ", "")


def gemm(dtype, m, n, k):
    if dtype == "bf16":
        x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        w = torch.randn(n, k, device=dev, dtype=torch.bfloat16)
        return lambda: F.linear(x, w)
    a = (torch.randn(m, k, device=dev) * 0.5).to(torch.float8_e4m3fn)
    b = (torch.randn(n, k, device=dev) * 0.5).to(torch.float8_e4m3fn).t()
    one = torch.ones((), device=dev, dtype=torch.float32)
    return lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)


with open(os.path.join(out, "sustained.csv"), "w") as f:
    f.write("dtype,m,n,k,second,tflops,sm_mhz,power_w,temp_c\n")
    for dtype in ["bf16", "e4m3"]:
        m = n = k = 8192
        fn = gemm(dtype, m, n, k)
        fl = 2.0 * m * n * k
        for _ in range(5):
            fn()
        torch.cuda.synchronize()
        t0 = time.time()
        sec = 0
        while time.time() - t0 < secs:
            a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
            a.record()
            reps = 0
            t1 = time.time()
            while time.time() - t1 < 0.9:
                for _ in range(20):
                    fn()
                reps += 20
                torch.cuda.synchronize()
            b.record(); b.synchronize()
            s = a.elapsed_time(b) / 1e3
            f.write(f"{dtype},{m},{n},{k},{sec},{fl * reps / s / 1e12:.1f},{smi()}\n"); f.flush()
            sec += 1
        del fn
        torch.cuda.empty_cache()

# Repeats: five shapes of the grid, timed 5 times each with 2 s apart, to give the spread between runs.
with open(os.path.join(out, "repeat.csv"), "w") as f:
    f.write("dtype,m,n,k,trial,tflops\n")
    for dtype in ["bf16", "e4m3"]:
        for (m, n, k) in [(4096, 7168, 2048), (2048, 6144, 12288), (8192, 16384, 16384), (1024, 4096, 4096), (16384, 24576, 16384)]:
            fn = gemm(dtype, m, n, k)
            fl = 2.0 * m * n * k
            for trial in range(5):
                for _ in range(3):
                    fn()
                torch.cuda.synchronize()
                reps = max(1, int(0.05 / max(fl / 6e14, 1e-6)))
                a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
                a.record()
                for _ in range(reps):
                    fn()
                b.record(); b.synchronize()
                f.write(f"{dtype},{m},{n},{k},{trial},{fl * reps / (a.elapsed_time(b) / 1e3) / 1e12:.1f}\n"); f.flush()
                time.sleep(0.3)
            del fn
            torch.cuda.empty_cache()
print("done")
