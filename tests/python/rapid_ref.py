#!/usr/bin/python3
"""rapid_ref.py FIXTURES_RAPID OUTDIR -- an independent float64 numpy forward
pass of RAPID's four published Keras models, for tests/test_rapid_import.c.

Written from Keras' and keras-tcn's own definitions, not from stampvet's
engine: the architecture and weights are read from each HDF5 file with h5py
(model_config JSON, model_weights/<layer>/...), and every layer is computed
as the Keras version that wrote the file computes it:

  Keras 2.2.4 GRU (reset_after false):
      z = ra(x Wz + h Uz + bz), r = ra(x Wr + h Ur + br)
      hh = tanh(x Wh + (r * h) Uh + bh),  h' = z h + (1 - z) hh
  Keras / tf.keras 2.x LSTM (gate order i, f, c, o):
      c' = f c + i tanh(zc),  h' = o tanh(c')
  hard_sigmoid of Keras 2 (and tf.keras 2.x): clip(0.2 x + 0.5, 0, 1)
  Masking(mask_value): a step is masked when all its features equal the
      value; a masked step keeps the RNN state and repeats the previous
      output (zeros before the first unmasked step), as K.rnn does
  BatchNormalization (inference): (x - mean) / sqrt(var + eps) * gamma + beta
  TimeDistributed(Dense(softmax)): per step
  keras-tcn 3.4.0 TCN (philipperemy/keras-tcn tcn/tcn.py, ResidualBlock):
      x1 = act(conv1D_1(act(conv1D_0(x)))); x1 = act(x1)  (Act_Conv_Blocks)
      out = act(matching_conv1D(x) or x  +  x1);  skip = x1
      TCN output = sum of the skips (use_skip_connections)
      Conv1D causal: (k - 1) * dilation zeros in front; the Masking before
      the TCN changes no value (TF 2 drops the mask at layers that do not
      support masks, and a masked step is all zeros already).

Writes into OUTDIR, for each model M:
  M.in.f64      input, B x T x F (float64; the test casts to float32), with
                zero-padded (masked) tails of different lengths
  M.ref.f64     reference outputs, B x T x K, every class of every step
  M.ctl_<name>.f64   the same reference with one semantic deliberately
                wrong (negative controls; the engine must be far from them)
  M.shape       "B T F K" and the control names
and, for the error tests, copies with one unsupported option:
  tcn_layernorm.h5, tcn_batchnorm.h5, tcn_weightnorm.h5 (TCN use_layer_norm,
  use_batch_norm, use_weight_norm true), tcn_last.h5 (TCN return_sequences
  false), lstm_backwards.h5 (LSTM go_backwards true), unknown_layer.h5 (a
  layer class that does not exist).
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

SRC, OUT = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)

MODELS = ["rapid2019_gru_redshift", "rapid2019_gru_noredshift",
          "rapid2020_lstm_ztf_noredshift", "rapid2021_tcn_ztf_redshift"]


def hard_sigmoid_k2(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACT = {"tanh": np.tanh, "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid_k2,
       "relu": lambda x: np.maximum(x, 0.0), "linear": lambda x: x}


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Weights:
    def __init__(self, h5):
        self.g = h5["model_weights"]

    def get(self, layer, sub=""):
        """{param: float64 array} of a layer (or of a part path inside it)."""
        grp = self.g[layer]
        out = {}
        for n in grp.attrs["weight_names"]:
            n = n.decode() if isinstance(n, bytes) else n
            folder, leaf = n.rsplit("/", 1)
            if sub and not (folder == sub or folder.endswith("/" + sub)):
                continue
            out[leaf.split(":")[0]] = np.array(grp[n], dtype=np.float64)
        return out


def step_mask(x, value):
    return np.any(x != value, axis=-1)  # B x T, True = used


def gru(x, w, cfg, mask, ctl):
    """Keras 2.2.4 GRU, reset_after false."""
    assert not cfg.get("reset_after", False)
    u = cfg["units"]
    W, U, b = w["kernel"], w["recurrent_kernel"], w["bias"]
    ra = ACT["sigmoid" if ctl == "sigmoid" else cfg["recurrent_activation"]]
    act = ACT[cfg["activation"]]
    zi, ri = (1, 0) if ctl == "gate_order" else (0, 1)  # the control swaps z and r
    B, T, _ = x.shape
    h = np.zeros((B, u))
    ys = np.zeros((B, T, u))
    for t in range(T):
        xp = x[:, t] @ W + b
        z = ra(xp[:, zi * u:(zi + 1) * u] + h @ U[:, zi * u:(zi + 1) * u])
        r = ra(xp[:, ri * u:(ri + 1) * u] + h @ U[:, ri * u:(ri + 1) * u])
        hh = act(xp[:, 2 * u:] + (r * h) @ U[:, 2 * u:])
        hn = z * h + (1 - z) * hh
        if mask is not None:
            hn = np.where(mask[:, t:t + 1], hn, h)
        h = hn
        ys[:, t] = h
    return ys


def lstm(x, w, cfg, mask, ctl):
    u = cfg["units"]
    W, U, b = w["kernel"], w["recurrent_kernel"], w["bias"]
    ra = ACT["sigmoid" if ctl == "sigmoid" else cfg["recurrent_activation"]]
    act = ACT[cfg["activation"]]
    ii, fi = (1, 0) if ctl == "gate_order" else (0, 1)  # the control swaps i and f
    if ctl == "no_mask":
        mask = None
    B, T, _ = x.shape
    h = np.zeros((B, u))
    c = np.zeros((B, u))
    ys = np.zeros((B, T, u))
    for t in range(T):
        z = x[:, t] @ W + h @ U + b
        i = ra(z[:, ii * u:(ii + 1) * u])
        f = ra(z[:, fi * u:(fi + 1) * u])
        g = act(z[:, 2 * u:3 * u])
        o = ra(z[:, 3 * u:])
        cn = f * c + i * g
        hn = o * act(cn)
        if mask is not None:
            keep = mask[:, t:t + 1]
            cn = np.where(keep, cn, c)
            hn = np.where(keep, hn, h)
        h, c = hn, cn
        ys[:, t] = h
    return ys


def conv1d(x, kernel, bias, dilation, padding):
    """Keras Conv1D, stride 1: causal pads (k-1)*d in front; same (k = 1)."""
    k = kernel.shape[0]
    B, T, C = x.shape
    if padding == "causal":
        xp = np.concatenate([np.zeros((B, (k - 1) * dilation, C)), x], axis=1)
    elif padding == "same":
        tot = (k - 1) * dilation
        xp = np.concatenate([np.zeros((B, tot // 2, C)), x, np.zeros((B, tot - tot // 2, C))],
                            axis=1)
    else:
        raise ValueError(padding)
    y = np.zeros((B, T, kernel.shape[2])) + bias
    for j in range(k):
        y += xp[:, j * dilation:j * dilation + T] @ kernel[j]
    return y


def tcn(x, wts, name, cfg, ctl):
    """keras-tcn 3.4.0 TCN (see the module docstring)."""
    act = ACT[cfg["activation"]]
    pad = "same" if ctl == "same_padding" else cfg["padding"]
    assert cfg["return_sequences"] and not cfg["use_batch_norm"]
    assert not cfg["use_layer_norm"] and not cfg["use_weight_norm"]
    skips = []
    blk = 0
    for _ in range(cfg["nb_stacks"]):
        for d in cfg["dilations"]:
            rb = "residual_block_%d" % blk
            c0 = wts.get(name, rb + "/conv1D_0")
            c1 = wts.get(name, rb + "/conv1D_1")
            x1 = act(conv1d(x, c0["kernel"], c0["bias"], d, pad))
            x1 = act(conv1d(x1, c1["kernel"], c1["bias"], d, pad))
            if ctl != "one_activation":  # keras-tcn >= 3.1.2: Act_Conv_Blocks
                x1 = act(x1)
            m = wts.get(name, rb + "/matching_conv1D")
            x2 = conv1d(x, m["kernel"], m["bias"], 1, "same") if m else x
            x = act(x2 + x1)
            skips.append(x1)
            blk += 1
    return sum(skips) if cfg["use_skip_connections"] else x


def forward(path, x, ctl=None):
    with h5py.File(path, "r") as h5:
        mc = json.loads(h5.attrs["model_config"])
        wts = Weights(h5)
        layers = mc["config"]["layers"]
        mask = None
        for L in layers:
            cls, cfg = L["class_name"], L["config"]
            name = cfg["name"]
            if cls == "InputLayer":
                continue
            if cls == "Masking":
                mask = step_mask(x, cfg["mask_value"])
                x = np.where(mask[:, :, None], x, 0.0)
            elif cls == "GRU":
                x = gru(x, wts.get(name), cfg, mask, ctl)
            elif cls == "LSTM":
                x = lstm(x, wts.get(name), cfg, mask, ctl)
            elif cls == "Dropout":
                pass
            elif cls == "BatchNormalization":
                w = wts.get(name)
                x = (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + cfg["epsilon"]) \
                    * w["gamma"] + w["beta"]
            elif cls == "TimeDistributed":
                inner = cfg["layer"]
                assert inner["class_name"] == "Dense"
                w = wts.get(name)
                x = x @ w["kernel"] + w["bias"]
                if inner["config"]["activation"] == "softmax":
                    x = softmax(x)
                else:
                    x = ACT[inner["config"]["activation"]](x)
            elif cls == "TCN":
                mask = None  # dropped: the TCN layer does not support masks
                x = tcn(x, wts, name, cfg, ctl)
            else:
                raise ValueError("no reference for layer class " + cls)
        return x


CONTROLS = {
    "gru": ["gate_order", "sigmoid"],
    "lstm": ["gate_order", "sigmoid", "no_mask"],
    "tcn": ["one_activation", "same_padding"],
}

rng = np.random.default_rng(20260301)
valid = [50, 41, 23, 9, 1, 30]  # unpadded steps per sample; the rest are zeros
B, T = len(valid), 50
for m in MODELS:
    path = os.path.join(SRC, m + ".hdf5")
    with h5py.File(path, "r") as h5:
        mc = json.loads(h5.attrs["model_config"])
    cfg = mc["config"]
    shape = cfg.get("build_input_shape") or cfg["layers"][0]["config"]["batch_input_shape"]
    F = shape[-1]
    x = np.zeros((B, T, F))
    for b, n in enumerate(valid):
        t = np.arange(n)
        # RAPID-like inputs: two bands of a rising and falling flux (scaled
        # so that the gates leave hard_sigmoid's linear range), redshift last
        peak = rng.uniform(8, 30)
        for f in range(min(F, 2)):
            x[b, :n, f] = rng.uniform(0.5, 3.0) * np.exp(-0.5 * ((t - peak) / rng.uniform(4, 10)) ** 2) \
                + 0.05 * rng.standard_normal(n)
        if F == 3:
            x[b, :n, 2] = rng.uniform(0.02, 0.4)
    x = x.astype(np.float32).astype(np.float64)  # what the engine sees
    kind = "tcn" if "tcn" in m else "lstm" if "lstm" in m else "gru"
    y = forward(path, x)
    x.tofile(os.path.join(OUT, m + ".in.f64"))
    y.tofile(os.path.join(OUT, m + ".ref.f64"))
    for c in CONTROLS[kind]:
        forward(path, x, c).tofile(os.path.join(OUT, "%s.ctl_%s.f64" % (m, c)))
    with open(os.path.join(OUT, m + ".shape"), "w") as f:
        f.write("%d %d %d %d %s\n" % (B, T, F, y.shape[-1], " ".join(CONTROLS[kind])))

# copies with one unsupported option (the importer must name layer and option)


def edited(src, dst, edit):
    shutil.copyfile(os.path.join(SRC, src + ".hdf5"), os.path.join(OUT, dst))
    with h5py.File(os.path.join(OUT, dst), "r+") as h5:
        mc = json.loads(h5.attrs["model_config"])
        edit(mc["config"]["layers"])
        h5.attrs["model_config"] = json.dumps(mc).encode()


def tcn_option(option, value):  # keras-tcn options the importer refuses by name
    def edit(layers):
        for L in layers:
            if L["class_name"] == "TCN":
                L["config"][option] = value
    return edit


def lstm_backwards(layers):
    for L in layers:
        if L["class_name"] == "LSTM":
            L["config"]["go_backwards"] = True
            break


def unknown_layer(layers):
    layers[1]["class_name"] = "SimpleRNN"


for name, option, value in (("layernorm", "use_layer_norm", True),
                            ("batchnorm", "use_batch_norm", True),
                            ("weightnorm", "use_weight_norm", True),
                            ("last", "return_sequences", False)):
    edited("rapid2021_tcn_ztf_redshift", "tcn_%s.h5" % name, tcn_option(option, value))
edited("rapid2020_lstm_ztf_noredshift", "lstm_backwards.h5", lstm_backwards)
edited("rapid2019_gru_redshift", "unknown_layer.h5", unknown_layer)
