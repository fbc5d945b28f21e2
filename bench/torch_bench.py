#!/usr/bin/python3
"""torch_bench.py — PyTorch (Debian's python3-torch) throughput on the braai
network with stampvet's weights (export_onnx.build_model).

usage: torch_bench.py DUMPDIR THREADS BATCHES RUNS SECONDS
  THREADS, BATCHES: comma lists.  For each (threads, batch): one warm-up,
  RUNS runs of about SECONDS, and one line
    torch threads=T batch=B stamps_per_s=MEDIAN runs=...
  in eval mode under torch.inference_mode(), NCHW float32 input.
"""
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import build_model, check_data  # noqa: E402


def timed_rates(call, batch, runs, seconds):
    """Samples per second of call() (batch samples each): one warm-up, calls
    sized to runs of about `seconds`, then `runs` runs; the per-run rates."""
    call()
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            call()
        dt = time.perf_counter() - t0
        if dt > 0.2:
            iters = max(1, round(iters * seconds / dt))
            break
        iters *= 2
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(iters):
            call()
        rates.append(iters * batch / (time.perf_counter() - t0))
    return rates


def main():
    if len(sys.argv) != 6:
        raise SystemExit("usage: torch_bench.py DUMPDIR THREADS BATCHES RUNS SECONDS")
    dump = sys.argv[1]
    threads = [int(t) for t in sys.argv[2].split(",")]
    batches = [int(b) for b in sys.argv[3].split(",")]
    runs, seconds = int(sys.argv[4]), float(sys.argv[5])
    torch.set_num_interop_threads(1)
    model = build_model(dump)
    cd = check_data(dump)
    rng = np.random.default_rng(12345)
    for t in threads:
        torch.set_num_threads(t)
        with torch.inference_mode():
            if cd is not None:
                y = model(torch.from_numpy(cd[0])).numpy().reshape(-1)
                d = float(np.max(np.abs(y - cd[1])))
                print(f"torch threads={t} parity max_abs_diff={d:.2e} stamps={y.size}", flush=True)
            for b in batches:
                x = torch.from_numpy(rng.uniform(0, 0.25, (b, 3, 63, 63)).astype(np.float32))
                rates = timed_rates(lambda: model(x), b, runs, seconds)
                print(f"torch threads={t} batch={b} stamps_per_s={statistics.median(rates):.1f} "
                      f"runs={','.join(f'{r:.0f}' for r in rates)}", flush=True)


if __name__ == "__main__":
    main()
