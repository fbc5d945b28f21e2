#!/usr/bin/python3
"""lc_torch.py -- the light-curve inference benchmark's network in PyTorch:
two GRU(U) layers over T steps of F features and a softmax head (what
bench/lc_bench.c runs in stampvet), sequences per second on N threads.

With --dump PREFIX it loads the weights, input and output that
`lc_bench --dump PREFIX` wrote (Keras layouts: GRU kernel (F, 3U) with gates
z, r, h; recurrent kernel (U, 3U); bias (2, 3U) for reset_after), maps them
onto torch.nn.GRU (gates r, z, n; weight_ih (3U, F)), runs the same input
and prints the largest difference from stampvet's output; with --onnx FILE
it also exports that network to FILE (input "x" (B, T, F), output "p", the
batch axis free) for bench/ort_lc.js, and exits.

usage: lc_torch.py [--threads N] [--batch B] [--steps T] [--features F]
                   [--units U] [--classes K] [--seconds S] [--dump PREFIX]
Prints `torch_seq_per_s X`.
"""
import argparse
import sys
import time

import numpy as np
import torch


def keras_to_torch_gates(w, u):
    """Keras gate blocks (z, r, h) along the last axis -> torch order (r, z, n)."""
    z, r, h = w[..., :u], w[..., u:2 * u], w[..., 2 * u:]
    return np.concatenate([r, z, h], axis=-1)


class Net(torch.nn.Module):
    def __init__(self, f, u, k):
        super().__init__()
        self.gru = torch.nn.GRU(f, u, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(u, k)

    def forward(self, x):
        y, _ = self.gru(x)
        return torch.softmax(self.fc(y[:, -1, :]), dim=-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--features", type=int, default=10)
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--classes", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--dump", default=None)
    ap.add_argument("--onnx", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    T, F, U, K, B = a.steps, a.features, a.units, a.classes, a.batch
    net = Net(F, U, K).eval()
    x = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (B, T, F)).astype(np.float32))
    if a.dump:
        w = np.fromfile(a.dump + ".weights", dtype=np.float32)
        o = 0

        def take(shape):
            nonlocal o
            n = int(np.prod(shape))
            v = w[o:o + n].reshape(shape)
            o += n
            return v

        with torch.no_grad():
            for layer, fin in ((0, F), (1, U)):
                kern = take((fin, 3 * U))
                rec = take((U, 3 * U))
                bias = take((2, 3 * U))
                getattr(net.gru, "weight_ih_l%d" % layer).copy_(
                    torch.from_numpy(keras_to_torch_gates(kern, U).T.copy()))
                getattr(net.gru, "weight_hh_l%d" % layer).copy_(
                    torch.from_numpy(keras_to_torch_gates(rec, U).T.copy()))
                getattr(net.gru, "bias_ih_l%d" % layer).copy_(
                    torch.from_numpy(keras_to_torch_gates(bias[0], U).copy()))
                getattr(net.gru, "bias_hh_l%d" % layer).copy_(
                    torch.from_numpy(keras_to_torch_gates(bias[1], U).copy()))
            net.fc.weight.copy_(torch.from_numpy(take((U, K)).T.copy()))
            net.fc.bias.copy_(torch.from_numpy(take((K,)).copy()))
            if o != w.size:
                sys.exit("lc_torch.py: %d weights read, %d in the file" % (o, w.size))
        x = torch.from_numpy(np.fromfile(a.dump + ".input", dtype=np.float32).reshape(B, T, F))
        ref = np.fromfile(a.dump + ".output", dtype=np.float32).reshape(B, K)
        with torch.no_grad():
            got = net(x).numpy()
        diff = float(np.abs(got - ref).max())
        print("max |torch - stampvet| = %.3g over %d x %d probabilities" % (diff, B, K))
        if diff > 1e-4:
            sys.exit("lc_torch.py: outputs differ by %.3g (> 1e-4)" % diff)
        if a.onnx:
            torch.onnx.export(net, x[:1], a.onnx, input_names=["x"], output_names=["p"],
                              dynamic_axes={"x": {0: "batch"}, "p": {0: "batch"}},
                              opset_version=13)
            print("wrote %s" % a.onnx)
            return
    with torch.no_grad():
        net(x)  # warm-up
        done, t0 = 0, time.perf_counter()
        while True:
            net(x)
            done += B
            t = time.perf_counter()
            if t - t0 >= a.seconds:
                break
    print("torch %s: %d threads, batch %d, %d sequences in %.2f s" % (torch.__version__, a.threads, B, done, t - t0))
    print("torch_seq_per_s %.1f" % (done / (t - t0)))


if __name__ == "__main__":
    main()
