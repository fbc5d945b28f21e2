#!/usr/bin/python3
"""onnx_cases.py FIXTURES OUTDIR -- ONNX models exported by Debian's torch for
tests/onnx_import.sh (run with /usr/bin/python3: python3-torch, python3-onnx,
h5py, astropy).

Writes into OUTDIR:
  braai.onnx       ZTF's braai d6_m7 (fixtures/braai/d6_m7.h5's weights) as
                   the torch module of bench/export_onnx.py (NCHW input; the
                   first dense kernel's rows permuted from Keras' (h, w, c)
                   flatten to torch's (c, h, w)), exported to ONNX
  two.onnx         a two-input model: a 3x21x21 stamp (Conv, ReLU, MaxPool,
                   BatchNorm, Conv, Flatten) and 4 features (Gemm, Tanh),
                   Concat, Gemm, Softmax over 3 classes
  two/<id>_{sci,ref,diff}.fits, two/list.txt, two/features.csv
                   8 random triplets and their features for `score --list`
  two.torch.txt    torch's own outputs for them: "<id> p0 p1 p2"
  dilated.onnx     two.onnx with its first Conv dilated (refused by name)
"""
import os
import sys

import h5py
import numpy as np
import torch
from astropy.io import fits

FX, OUT = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import export_onnx  # noqa: E402  (the Braai torch module)

torch.manual_seed(17)
torch.set_num_threads(1)
os.makedirs(os.path.join(OUT, "two"), exist_ok=True)


def export(m, args, path, names):
    torch.onnx.export(m, args, path, input_names=names, output_names=["out"],
                      dynamic_axes={**{n: {0: "batch"} for n in names}, "out": {0: "batch"}},
                      opset_version=13, do_constant_folding=True)


# ---- braai d6_m7 ---------------------------------------------------------
with h5py.File(os.path.join(FX, "braai", "d6_m7.h5"), "r") as h:
    g = h["model_weights"]
    kw = {}
    for ours, keras in [("conv1", "conv1"), ("conv2", "conv2"), ("conv3", "conv3"),
                        ("conv4", "conv4"), ("dense1", "fc_1"), ("dense2", "fc_out")]:
        kw[ours] = (np.array(g[keras][keras]["kernel:0"]), np.array(g[keras][keras]["bias:0"]))
m = export_onnx.Braai().eval()
with torch.no_grad():
    for name in ("conv1", "conv2", "conv3", "conv4"):
        k, b = kw[name]
        getattr(m, name).weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
        getattr(m, name).bias.copy_(torch.from_numpy(b.copy()))
    k, b = kw["dense1"]
    k = k.reshape(6, 6, 32, 256).transpose(2, 0, 1, 3).reshape(1152, 256)
    m.dense1.weight.copy_(torch.from_numpy(k.T.copy()))
    m.dense1.bias.copy_(torch.from_numpy(b.copy()))
    k, b = kw["dense2"]
    m.dense2.weight.copy_(torch.from_numpy(k.T.copy()))
    m.dense2.bias.copy_(torch.from_numpy(b.copy()))
export(m, (torch.zeros(1, 3, 63, 63),), os.path.join(OUT, "braai.onnx"), ["stamps"])


# ---- a two-input model ------------------------------------------------------
class Two(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.c2 = torch.nn.Conv2d(8, 6, 3, stride=2)
        self.f1 = torch.nn.Linear(4, 5)
        self.out = torch.nn.Linear(6 * 4 * 4 + 5, 3)

    def forward(self, stamp, feat):
        f = torch.nn.functional
        x = f.max_pool2d(f.relu(self.c1(stamp)), 2)
        x = f.relu(self.c2(self.bn(x)))
        x = torch.flatten(x, 1)
        y = torch.tanh(self.f1(feat))
        return torch.softmax(self.out(torch.cat([x, y], 1)), dim=1)


two = Two()
with torch.no_grad():  # a trained-looking BatchNorm
    two.bn.running_mean.uniform_(-0.3, 0.3)
    two.bn.running_var.uniform_(0.5, 2.0)
    two.bn.weight.uniform_(0.5, 1.5)
    two.bn.bias.uniform_(-0.2, 0.2)
two.eval()
export(two, (torch.zeros(1, 3, 21, 21), torch.zeros(1, 4)), os.path.join(OUT, "two.onnx"),
       ["stamp", "features"])
rng = np.random.default_rng(5)
N = 8
stamps = rng.normal(0, 1, (N, 3, 21, 21)).astype(np.float32)
feats = rng.normal(0, 1, (N, 4)).astype(np.float32)
with torch.no_grad():
    ref = two(torch.from_numpy(stamps), torch.from_numpy(feats)).numpy().astype(np.float64)
with open(os.path.join(OUT, "two", "list.txt"), "w") as lf, \
        open(os.path.join(OUT, "two", "features.csv"), "w") as ff, \
        open(os.path.join(OUT, "two.torch.txt"), "w") as tf:
    ff.write("id,f1,f2,f3,f4\n")
    for i in range(N):
        sid = "s%d" % i
        for c, ch in enumerate(("sci", "ref", "diff")):  # channels 0, 1, 2 = SCI, REF, DIFF
            fits.PrimaryHDU(stamps[i, c]).writeto(
                os.path.join(OUT, "two", "%s_%s.fits" % (sid, ch)), overwrite=True)
        lf.write("%s %s_sci.fits %s_ref.fits %s_diff.fits\n" % (sid, sid, sid, sid))
        ff.write(sid + "," + ",".join("%.9g" % v for v in feats[i]) + "\n")
        tf.write(sid + " " + " ".join("%.10g" % v for v in ref[i]) + "\n")


# ---- an attribute the importer does not take: a dilated Conv ----------------
import onnx  # noqa: E402

mp = onnx.load(os.path.join(OUT, "two.onnx"))
for node in mp.graph.node:
    if node.op_type == "Conv":
        for a in node.attribute:
            if a.name == "dilations":
                a.ints[:] = [2, 2]
        break
onnx.save(mp, os.path.join(OUT, "dilated.onnx"))
