"""Timing and output helpers shared by the device micro-benchmarks in bench/gpu/ (hopper_kernels.py, moe_host.py)."""
import os

import torch


def graph_seconds(fn, reps):
    """GPU seconds per call of fn: a CUDA graph of `reps` calls (no host time, warmed on a side stream), the median of
    5 replays timed with CUDA events, divided by `reps`."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(reps):
            fn()
    g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(5):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / 1e3 / reps)
    times.sort()
    del g
    return times[len(times) // 2]


def open_csv(out, name, header):
    """OUT/name opened for writing with its header line written and flushed (rows are flushed as measured)."""
    f = open(os.path.join(out, name), "w")
    f.write(header + "\n")
    f.flush()
    return f
