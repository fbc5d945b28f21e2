#!/usr/bin/python3
"""acai_torch.py — the ACAI-shaped network of tests/python/acai_case.py (the
same weights stampvet imports) as a PyTorch module and an ONNX file, and
PyTorch's throughput on it, for bench/acai_bench.sh.

usage: acai_torch.py WORKDIR THREADS BATCHES RUNS SECONDS
  Runs acai_case.py into WORKDIR (acai.h5 and the rest, as for the test),
  checks the torch module against the case's numpy reference scores (1e-5),
  writes WORKDIR/acai.onnx (inputs "features" (B, 25) and "triplets"
  (B, 3, 63, 63), NCHW: the peers' native layout), WORKDIR/check_features.f32,
  check_triplets.f32 (NCHW) and check_output.f32 for ONNX Runtime's parity
  check, then prints for each (threads, batch), after one warm-up and RUNS
  runs of about SECONDS each,
    torch threads=T batch=B stamps_per_s=MEDIAN runs=...
  in eval mode under torch.inference_mode().
"""
import contextlib
import io
import os
import runpy
import statistics
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_bench import timed_rates  # noqa: E402
CASE = os.path.join(HERE, "..", "tests", "python", "acai_case.py")


class Acai(torch.nn.Module):
    """features -> dense 16 -> dense 8; triplets -> separable 8 (same) ->
    max 2 -> separable 8 -> max 4 -> global average; concat -> 12 -> 5."""

    def __init__(self, g):
        super().__init__()
        f = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        w = {L.name: dict(L.weights) for L in g["model"].layers if getattr(L, "weights", None)}
        self.dw, self.pw, self.pb = [], [], []
        for name in ("sep1", "sep2"):
            dk, pk, b = w[name]["depthwise_kernel"], w[name]["pointwise_kernel"], w[name]["bias"]
            kh, kw, cin, dm = dk.shape
            self.dw.append(f(dk.transpose(2, 3, 0, 1).reshape(cin * dm, 1, kh, kw)))
            self.pw.append(f(pk[0, 0].T[:, :, None, None]))
            self.pb.append(f(b))
        self.dense = {n: (f(w[n]["kernel"].T), f(w[n]["bias"]))
                      for n in ("feat_fc1", "feat_fc2", "fc", "heads")}

    def forward(self, feats, x):
        F = torch.nn.functional
        lin = lambda v, n: F.linear(v, *self.dense[n])
        c = x.shape[1]
        x = F.conv2d(x, self.dw[0], padding=1, groups=c)
        x = F.relu(F.conv2d(x, self.pw[0], self.pb[0]))
        x = F.max_pool2d(x, 2)
        x = F.conv2d(x, self.dw[1], groups=x.shape[1])
        x = F.relu(F.conv2d(x, self.pw[1], self.pb[1]))
        x = F.max_pool2d(x, 4)
        x = x.mean(dim=(2, 3))
        v = F.relu(lin(F.relu(lin(feats, "feat_fc1")), "feat_fc2"))
        h = F.relu(lin(torch.cat([x, v], dim=1), "fc"))
        return torch.sigmoid(lin(h, "heads"))


def main():
    if len(sys.argv) != 6:
        raise SystemExit("usage: acai_torch.py WORKDIR THREADS BATCHES RUNS SECONDS")
    work = sys.argv[1]
    threads = [int(t) for t in sys.argv[2].split(",")]
    batches = [int(b) for b in sys.argv[3].split(",")]
    runs, seconds = int(sys.argv[4]), float(sys.argv[5])
    torch.set_num_interop_threads(1)
    saved = sys.argv
    sys.argv = [CASE, work]
    with contextlib.redirect_stdout(io.StringIO()):
        g = runpy.run_path(CASE, run_name="acai_case")
    sys.argv = saved
    m = Acai(g).eval()
    fv, x = g["fv"], np.ascontiguousarray(g["x"].transpose(0, 3, 1, 2))
    with torch.inference_mode():
        y = m(torch.from_numpy(fv), torch.from_numpy(x)).numpy()
    d = float(np.max(np.abs(y - g["y"])))
    print(f"torch parity max_abs_diff={d:.2e} stamps={len(y)} (vs the case's numpy reference)",
          flush=True)
    if d > 1e-5:
        raise SystemExit("acai_torch: the torch module does not reproduce the case's network")
    fv.astype("<f4").tofile(os.path.join(work, "check_features.f32"))
    x.astype("<f4").tofile(os.path.join(work, "check_triplets.f32"))
    y.astype("<f4").tofile(os.path.join(work, "check_output.f32"))
    out = os.path.join(work, "acai.onnx")
    torch.onnx.export(m, (torch.zeros(1, 25), torch.zeros(1, 3, 63, 63)), out,
                      input_names=["features", "triplets"], output_names=["scores"],
                      dynamic_axes={"features": {0: "batch"}, "triplets": {0: "batch"},
                                    "scores": {0: "batch"}},
                      opset_version=13, do_constant_folding=True)
    rng = np.random.default_rng(12345)
    for t in threads:
        torch.set_num_threads(t)
        with torch.inference_mode():
            for b in batches:
                a = torch.from_numpy(rng.uniform(0, 0.25, (b, 25)).astype(np.float32))
                s = torch.from_numpy(rng.uniform(0, 0.25, (b, 3, 63, 63)).astype(np.float32))
                rates = timed_rates(lambda: m(a, s), b, runs, seconds)
                print(f"torch threads={t} batch={b} stamps_per_s={statistics.median(rates):.1f} "
                      f"runs={','.join(f'{r:.0f}' for r in rates)}", flush=True)


if __name__ == "__main__":
    main()
