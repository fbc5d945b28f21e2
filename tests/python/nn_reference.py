#!/usr/bin/python3
"""Independent reference forward pass for stampvet's NN engine.

Reads the JSON written by `tests/test_nn --dump-reference FILE` (networks
with their weights, inputs and every layer's output from the C engine),
recomputes every layer with torch in float64, written from the Keras 2
definitions (TF "same" padding, depthwise channel order c*dm+m, GRU gate
order z, r, h with both reset_after variants, hard_sigmoid
clip(0.2x+0.5, 0, 1), ...), and compares each layer's output (computed from
the engine's own inputs to that layer) and the network's final output
(computed by the reference alone from the network inputs) to 1e-5, absolute
below 1 and relative above.

Usage: nn_reference.py DUMP.json        exit 0 when every layer agrees.
"""
import json
import sys

import torch
import torch.nn.functional as F

TOL = 1e-5
D = torch.float64


def tf_same_pad(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def pad_nchw(x, L, value=0.0):
    """Pad an NCHW tensor as TF does for L's padding; returns the padded x."""
    if L["padding"] != "same":
        return x
    kh, kw = L["kernel"]
    sh, sw = L["strides"]
    t, b = tf_same_pad(x.shape[2], kh, sh)
    l, r = tf_same_pad(x.shape[3], kw, sw)
    return F.pad(x, (l, r, t, b), value=value)


def act(name, x, alpha):
    if name == "linear":
        return x
    if name == "relu":
        return torch.relu(x)
    if name == "leaky_relu":
        return F.leaky_relu(x, alpha)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "softmax":
        return torch.softmax(x, dim=-1)
    if name == "hard_sigmoid":
        return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)
    if name == "hard_sigmoid_k3":  # Keras 3: relu6(x + 3) / 6
        return torch.clamp(x / 6.0 + 0.5, 0.0, 1.0)
    raise ValueError("unknown activation " + name)


def P(L, name):
    p = L["params"][name]
    return torch.tensor(p["data"], dtype=D).reshape(p["shape"])


def nhwc_to_nchw(x):
    return x.permute(0, 3, 1, 2)


def nchw_to_nhwc(x):
    return x.permute(0, 2, 3, 1)


def depthwise(x_nchw, L):
    k = P(L, "depthwise_kernel")  # (kh, kw, cin, dm)
    kh, kw, cin, dm = k.shape
    w = k.permute(2, 3, 0, 1).reshape(cin * dm, 1, kh, kw)  # out channel c*dm+m
    return F.conv2d(pad_nchw(x_nchw, L), w, stride=tuple(L["strides"]), groups=cin)


def forward_layer(L, xs):
    kind = L["kind"]
    x = xs[0] if xs else None
    a, alpha = L["act"], L["alpha"]
    if kind == "conv2d":
        k = P(L, "kernel")  # (kh, kw, cin, cout)
        w = k.permute(3, 2, 0, 1)
        y = F.conv2d(pad_nchw(nhwc_to_nchw(x), L), w, stride=tuple(L["strides"]))
        y = nchw_to_nhwc(y)
        if L["use_bias"]:
            y = y + P(L, "bias")
        return act(a, y, alpha)
    if kind == "depthwise_conv2d":
        y = nchw_to_nhwc(depthwise(nhwc_to_nchw(x), L))
        if L["use_bias"]:
            y = y + P(L, "bias")
        return act(a, y, alpha)
    if kind == "separable_conv2d":
        mid = depthwise(nhwc_to_nchw(x), L)
        pw = P(L, "pointwise_kernel")  # (1, 1, cin*dm, cout)
        y = nchw_to_nhwc(F.conv2d(mid, pw.permute(3, 2, 0, 1)))
        if L["use_bias"]:
            y = y + P(L, "bias")
        return act(a, y, alpha)
    if kind == "max_pooling2d":
        xp = pad_nchw(nhwc_to_nchw(x), L, value=float("-inf"))
        return nchw_to_nhwc(F.max_pool2d(xp, tuple(L["kernel"]), tuple(L["strides"])))
    if kind == "average_pooling2d":
        xn = nhwc_to_nchw(x)
        k, s = tuple(L["kernel"]), tuple(L["strides"])
        n = k[0] * k[1]
        sums = F.avg_pool2d(pad_nchw(xn, L), k, s) * n
        counts = F.avg_pool2d(pad_nchw(torch.ones_like(xn), L), k, s) * n
        return nchw_to_nhwc(sums / counts)
    if kind == "global_average_pooling2d":
        return x.mean(dim=(1, 2))
    if kind == "global_average_pooling1d":
        if len(xs) == 1:
            return x.mean(dim=1)
        # Keras: mask = any(m != mask_value) per step; sum(x * mask) / sum(mask)
        keep = (xs[1] != L["mask_value"]).any(dim=-1).to(D).unsqueeze(-1)
        return (x * keep).sum(dim=1) / keep.sum(dim=1)
    if kind == "dense":
        y = x @ P(L, "kernel")
        if L["use_bias"]:
            y = y + P(L, "bias")
        return act(a, y, alpha)
    if kind == "flatten":
        return x.reshape(x.shape[0], -1)
    if kind == "dropout":
        return x
    if kind == "activation":
        return act(a, x, alpha)
    if kind == "batch_normalization":
        g, b = P(L, "gamma"), P(L, "beta")
        m, v = P(L, "moving_mean"), P(L, "moving_variance")
        return (x - m) / torch.sqrt(v + L["epsilon"]) * g + b
    if kind == "concatenate":
        return torch.cat(xs, dim=-1)
    if kind == "gru":
        return gru(L, x)
    raise ValueError("unknown layer kind " + kind)


def gru(L, x):
    W, U = P(L, "kernel"), P(L, "recurrent_kernel")
    u = L["units"]
    ra = L["reset_after"]
    if L["use_bias"]:
        b = P(L, "bias")
        b_in = b[0] if ra else b
        b_rec = b[1] if ra else torch.zeros(3 * u, dtype=D)
    else:
        b_in = torch.zeros(3 * u, dtype=D)
        b_rec = torch.zeros(3 * u, dtype=D)
    rec = lambda v: act(L["recurrent_act"], v, 0.0)
    N, T, _ = x.shape
    h = torch.zeros(N, u, dtype=D)
    seq = []
    for t in range(T):
        xt = x[:, t, :] @ W + b_in
        xz, xr, xh = xt[:, :u], xt[:, u:2 * u], xt[:, 2 * u:]
        if ra:
            inner = h @ U + b_rec
            z = rec(xz + inner[:, :u])
            r = rec(xr + inner[:, u:2 * u])
            hh = act(L["act"], xh + r * inner[:, 2 * u:], 0.0)
        else:
            z = rec(xz + h @ U[:, :u])
            r = rec(xr + h @ U[:, u:2 * u])
            hh = act(L["act"], xh + (r * h) @ U[:, 2 * u:], 0.0)
        h = z * h + (1 - z) * hh
        seq.append(h)
    return torch.stack(seq, dim=1) if L["return_sequences"] else h


def check_case(case):
    layers = case["layers"]
    B = case["batch"]
    vals = [None] * len(layers)
    for inp in case["inputs"]:
        L = layers[inp["layer"]]
        vals[inp["layer"]] = torch.tensor(inp["data"], dtype=D).reshape([B] + L["shape"])
    worst = 0.0
    worst_layer = ""
    for i, L in enumerate(layers):
        if L["kind"] != "input":
            vals[i] = forward_layer(L, [vals[j] for j in L["in"]])
        got = torch.tensor(L["out"], dtype=D).reshape([B] + L["shape"])
        if tuple(vals[i].shape) != tuple(got.shape):
            print(f"  layer {L['name']}: shape {tuple(got.shape)} vs reference "
                  f"{tuple(vals[i].shape)}")
            return False, float("inf"), L["name"]
        # compare relative to the magnitude for large values, absolute below 1
        diff = ((got - vals[i]).abs() / torch.clamp(vals[i].abs(), min=1.0)).max().item()
        if diff > worst:
            worst, worst_layer = diff, L["name"]
        # continue from the C engine's own values, so that each layer is
        # checked on its own inputs
        vals[i] = got
    # and the whole network computed by the reference alone, in float64
    ref = [None] * len(layers)
    for inp in case["inputs"]:
        ref[inp["layer"]] = vals[inp["layer"]]
    for i, L in enumerate(layers):
        if L["kind"] != "input":
            ref[i] = forward_layer(L, [ref[j] for j in L["in"]])
    o = case["output"]
    got = vals[o]
    diff = ((got - ref[o]).abs() / torch.clamp(ref[o].abs(), min=1.0)).max().item()
    if diff > worst:
        worst, worst_layer = diff, "(end to end) " + layers[o]["name"]
    return worst <= TOL, worst, worst_layer


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        dump = json.load(f)
    torch.set_grad_enabled(False)
    failed = 0
    for case in dump["cases"]:
        ok, worst, where = check_case(case)
        print(f"{'ok  ' if ok else 'FAIL'} {case['name']:<62} max diff {worst:.2e}"
              + ("" if ok else f" (layer {where})"))
        failed += not ok
    print(f"{len(dump['cases']) - failed} of {len(dump['cases'])} cases within {TOL:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
