#!/usr/bin/python3
"""Training throughput of the braai network (VGG6) in PyTorch: the reference
for bench/train_bench.c.

The same network as stampvet's `--arch braai` (stage/model/arch.h): 63x63x3 input,
conv 3x3x16 relu (valid), conv 3x3x16 relu, maxpool 2, dropout .25,
conv 3x3x32 relu, conv 3x3x32 relu, maxpool 4, dropout .25, flatten,
dense 256 relu, dropout .5, dense 1 sigmoid (312,081 parameters); binary
cross-entropy, Adam (lr 1e-3, betas 0.9/0.999, eps 1e-7 as Keras), minibatch
64, torch.set_num_threads(N).  The data are already tensors in memory (torch's
native NCHW), so this measures forward + backward + update only.

usage: train_torch.py [--threads 2] [--batch 64] [--steps 30] [--warmup 3]
Prints `torch_stamps_per_s X` (wall clock) and `torch_stamps_per_cpu_s Y`
(per CPU-second of the process, all threads).  Run with Debian's /usr/bin/python3.
"""
import argparse
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError:
    print("torch not available for %s" % sys.executable, file=sys.stderr)
    sys.exit(77)


def braai():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3), nn.ReLU(),
        nn.Conv2d(16, 16, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Conv2d(16, 32, 3), nn.ReLU(),
        nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.MaxPool2d(4), nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(1152, 256), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(256, 1), nn.Sigmoid())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = braai()
    nparams = sum(p.numel() for p in net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = nn.BCELoss()
    x = torch.rand(a.batch, 3, 63, 63)
    y = (torch.arange(a.batch) % 2).float().unsqueeze(1)
    net.train()
    t0 = c0 = None
    for s in range(a.steps + a.warmup):
        if s == a.warmup:
            t0 = time.perf_counter()
            c0 = time.process_time()
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    dc = time.process_time() - c0
    print("torch               %s, %d threads, %d parameters, batch %d"
          % (torch.__version__, torch.get_num_threads(), nparams, a.batch))
    print("torch_stamps_per_s  %.1f" % (a.steps * a.batch / dt))
    print("torch_stamps_per_cpu_s %.1f" % (a.steps * a.batch / dc))


if __name__ == "__main__":
    main()
