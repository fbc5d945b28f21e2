#!/usr/bin/python3
"""onnx_rnn_cases.py make OUTDIR | check REF SCORES [--expect-differ] -- torch
recurrent light-curve classifiers exported to ONNX, for tests/onnx_rnn.sh (run
with /usr/bin/python3: python3-torch, python3-onnx, astropy).

make writes into OUTDIR, for each model M below: M.onnx (torch.onnx.export,
opset 13, batch axis free), and for the inputs X.fits (float32 [N, T, F] as
numpy/astropy write it: NAXIS1 = F, NAXIS2 = T, NAXIS3 = N; some samples with
zero-padded tails, fed as data as torch does) and X20.fits (the first 20
steps) torch's own outputs M.ref.txt and M.ref20.txt, in `score --tensors`
form: "I T p0 p1 ..." per sample and step for per-step models (--all-steps),
"I p0 p1 ..." for last-step models.

  gru       2-layer nn.GRU (linear_before_reset 1) -> per-step Linear ->
            Softmax: out [N, T, 4]
  lstm      nn.LSTM exported with a free time axis (import --steps) ->
            per-step Linear -> Softmax
  gru_last  nn.GRU, y[:, -1] (Gather on the time axis) -> Linear -> Softmax
  lstm_hn   nn.LSTM, h_n[-1] (Gather of Y_h) -> Linear -> Softmax
  gru_lbr0  gru.onnx with linear_before_reset 0 (the Keras reset_after=False
            GRU) and its reference from a float64 numpy GRU written from ONNX's
            equations (which first reproduces torch's gru to 1e-6)
negative controls (the test requires them to fail the tolerance):
  gru_swapped   gru.onnx with the z and r gate blocks of W, R, B swapped
  lstm_swapped  lstm.onnx with the f and o gate blocks swapped
refused by name (the test checks the message):
  gru_bidir     bidirectional nn.GRU          (attribute 'direction')
  gru_h0        gru_last.onnx with an initial state of 0.25 (input 'initial_h')
  lstm_clip     lstm.onnx with clip = 3       (attribute 'clip')
  lstm_peep     lstm.onnx with a P input      (input 'P')
  gru_logsoftmax  gru.onnx ending in LogSoftmax (an operator not supported)

check compares `score --tensors` output with a reference to 1e-5 and exits
0 when they agree (or, with --expect-differ, when they do not).
"""
import os
import sys

import numpy as np

N, T, F, H, K = 7, 32, 5, 12, 4
TOL = 1e-5


if sys.argv[1] == "check":
    ref = [r for r in (line.split() for line in open(sys.argv[2]))]
    got = [r for r in (line.split() for line in open(sys.argv[3]))]
    differ = "--expect-differ" in sys.argv
    if len(ref) != len(got):
        sys.exit("FAIL: %d reference rows, %d scored" % (len(ref), len(got)))
    worst = 0.0
    for r, g in zip(ref, got):
        head = [t for t in g if "=" not in t]
        if head != r[:len(head)]:
            sys.exit("FAIL: row %s scored as %s" % (r[:len(head)], head))
        p = np.array([float(t.split("=")[1]) for t in g if "=" in t])
        q = np.array([float(t) for t in r[len(head):]])
        if p.shape != q.shape:
            sys.exit("FAIL: %d classes scored, %d in the reference" % (p.size, q.size))
        worst = max(worst, float(np.abs(p - q).max()))
    print("%s: %d rows, max |stampvet - torch| = %.2e%s" % (
        os.path.basename(sys.argv[3]), len(ref), worst, " (must exceed 1e-5)" if differ else ""))
    sys.exit(0 if (worst > TOL) == differ else 1)

import onnx  # noqa: E402
import torch  # noqa: E402
from astropy.io import fits  # noqa: E402
from onnx import numpy_helper  # noqa: E402

OUT = sys.argv[2]
torch.manual_seed(17)
torch.set_num_threads(1)


class PerStep(torch.nn.Module):
    def __init__(self, cell, layers=1):
        super().__init__()
        self.rnn = cell(F, H, num_layers=layers, batch_first=True)
        self.fc = torch.nn.Linear(H, K)

    def forward(self, x):
        y, _ = self.rnn(x)
        return torch.softmax(self.fc(y), dim=-1)


class Last(torch.nn.Module):
    def __init__(self, cell, from_state, **kw):
        super().__init__()
        self.rnn = cell(F, H, batch_first=True, **kw)
        self.fc = torch.nn.Linear(H * (2 if kw.get("bidirectional") else 1), K)
        self.from_state = from_state

    def forward(self, x):
        y, h = self.rnn(x)
        if isinstance(h, tuple):
            h = h[0]
        return torch.softmax(self.fc(h[-1] if self.from_state else y[:, -1]), dim=-1)


def export(m, name, free_time=False):
    axes = {"seq": {0: "batch"}, "out": {0: "batch"}}
    if free_time:
        axes = {"seq": {0: "batch", 1: "time"}, "out": {0: "batch", 1: "time"}}
    torch.onnx.export(m, (torch.zeros(1, T, F),), os.path.join(OUT, name + ".onnx"),
                      input_names=["seq"], output_names=["out"], dynamic_axes=axes,
                      opset_version=13, do_constant_folding=True)


rng = np.random.default_rng(23)
x = rng.normal(0, 1, (N, T, F)).astype(np.float32)
for i, keep in enumerate([T, T, 20, 9, T, 1, 27]):  # zero-padded tails
    x[i, keep:] = 0.0
fits.PrimaryHDU(x).writeto(os.path.join(OUT, "X.fits"), overwrite=True)
x20 = np.ascontiguousarray(x[:, :20])
fits.PrimaryHDU(x20).writeto(os.path.join(OUT, "X20.fits"), overwrite=True)


def write_ref(path, p):
    with open(path, "w") as f:
        for i in range(p.shape[0]):
            if p.ndim == 3:
                for t in range(p.shape[1]):
                    f.write("%d %d %s\n" % (i, t, " ".join("%.9g" % v for v in p[i, t])))
            else:
                f.write("%d %s\n" % (i, " ".join("%.9g" % v for v in p[i])))


def ref(m, name):
    with torch.no_grad():
        for xs, suffix in ((x, ""), (x20, "20")):
            write_ref(os.path.join(OUT, "%s.ref%s.txt" % (name, suffix)),
                      m(torch.from_numpy(xs)).numpy().astype(np.float64))


models = {
    "gru": (PerStep(torch.nn.GRU, layers=2), False),
    "lstm": (PerStep(torch.nn.LSTM), True),
    "gru_last": (Last(torch.nn.GRU, False), False),
    "lstm_hn": (Last(torch.nn.LSTM, True), False),
    "gru_bidir": (Last(torch.nn.GRU, False, bidirectional=True), False),
}
for name, (m, free) in models.items():
    m.eval()
    export(m, name, free)
    ref(m, name)


def edit(src, dst, fn):
    mp = onnx.load(os.path.join(OUT, src + ".onnx"))
    node = [nd for nd in mp.graph.node if nd.op_type in ("GRU", "LSTM")][0]
    fn(mp, node)
    onnx.save(mp, os.path.join(OUT, dst + ".onnx"))


def init(mp, name):
    return [t for t in mp.graph.initializer if t.name == name][0]


def swap_gates(a, b):  # swap gate blocks a and b (of H rows) in W, R and B
    def fn(mp, node):
        for inp in node.input[1:4]:
            t = init(mp, inp)
            v = numpy_helper.to_array(t).copy()
            G = v.shape[1] // H if v.ndim == 3 else v.shape[1] // (2 * H)
            blocks = [slice(g * H, (g + 1) * H) for g in range(G * (1 if v.ndim == 3 else 2))]
            for off in range(0, len(blocks), G):
                ba, bb = blocks[off + a], blocks[off + b]
                tmp = v[:, ba].copy()
                v[:, ba] = v[:, bb]
                v[:, bb] = tmp
            t.CopyFrom(numpy_helper.from_array(v, t.name))
    return fn


edit("gru", "gru_swapped", swap_gates(0, 1))   # z <-> r
edit("lstm", "lstm_swapped", swap_gates(1, 2))  # o <-> f (ONNX order i, o, f, c)
edit("lstm", "lstm_clip", lambda mp, node: node.attribute.append(
    onnx.helper.make_attribute("clip", 3.0)))


def peephole(mp, node):
    p = numpy_helper.from_array(np.zeros((1, 3 * H), np.float32), "peep")
    mp.graph.initializer.append(p)
    while len(node.input) < 7:
        node.input.append("")
    node.input.append("peep")


edit("lstm", "lstm_peep", peephole)


def learned_h0(mp, node):
    mp.graph.initializer.append(numpy_helper.from_array(
        np.full((1, 1, H), 0.25, np.float32), "h0"))
    node.input[5] = "h0"


edit("gru_last", "gru_h0", learned_h0)


def log_softmax(mp, node):
    [nd for nd in mp.graph.node if nd.op_type == "Softmax"][0].op_type = "LogSoftmax"


edit("gru", "gru_logsoftmax", log_softmax)


# gru_lbr0: both GRUs of gru.onnx switched to linear_before_reset 0 and the
# reference computed here in float64 from ONNX's GRU equations
mp = onnx.load(os.path.join(OUT, "gru.onnx"))
for nd in mp.graph.node:
    for a in nd.attribute:
        if nd.op_type == "GRU" and a.name == "linear_before_reset":
            a.i = 0
onnx.save(mp, os.path.join(OUT, "gru_lbr0.onnx"))
W = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in mp.graph.initializer}
grus = [nd for nd in mp.graph.node if nd.op_type == "GRU"]
mm = [nd for nd in mp.graph.node if nd.op_type == "MatMul"][0]
add = [nd for nd in mp.graph.node if nd.op_type == "Add"][0]
bias = [W[i] for i in add.input if i in W][0]


def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def onnx_gru(xs, nd, lbr):
    w, r, b = (W[i][0] for i in nd.input[1:4])
    wz, wr, wh = np.split(w, 3)
    rz, rr, rh = np.split(r, 3)
    wbz, wbr, wbh, rbz, rbr, rbh = np.split(b, 6)
    h = np.zeros((xs.shape[0], H))
    ys = []
    for t in range(xs.shape[1]):
        xt = xs[:, t]
        z = sig(xt @ wz.T + h @ rz.T + wbz + rbz)
        rg = sig(xt @ wr.T + h @ rr.T + wbr + rbr)
        if lbr:
            hh = np.tanh(xt @ wh.T + rg * (h @ rh.T + rbh) + wbh)
        else:
            hh = np.tanh(xt @ wh.T + (rg * h) @ rh.T + rbh + wbh)
        h = (1 - z) * hh + z * h
        ys.append(h)
    return np.stack(ys, 1)


def numpy_model(xs, lbr):
    y = xs.astype(np.float64)
    for nd in grus:
        y = onnx_gru(y, nd, lbr)
    o = y @ W[mm.input[1]] + bias
    o = np.exp(o - o.max(-1, keepdims=True))
    return o / o.sum(-1, keepdims=True)


# the numpy GRU must first reproduce torch's (linear_before_reset 1) model
with torch.no_grad():
    tref = models["gru"][0](torch.from_numpy(x)).numpy()
d = np.abs(numpy_model(x, 1) - tref).max()
if d > 1e-6:
    sys.exit("FAIL: the numpy ONNX GRU differs from torch by %.2e" % d)
for xs, suffix in ((x, ""), (x20, "20")):
    write_ref(os.path.join(OUT, "gru_lbr0.ref%s.txt" % suffix), numpy_model(xs, 0))
