"""keras_ref.py — Keras-layout HDF5 files without Keras, and an independent
numpy reference forward pass, for stampvet's Keras-import tests.

A model is described here once, as a list of layers (Sequential) or a graph
(functional); from that description the module writes
  - the Keras 2 architecture JSON (written by hand in Keras' own format),
  - the HDF5 file exactly as Keras 2.x `model.save` / `save_weights` lay it
    out (root attributes, model_weights/<layer>/<layer>/<param>:0 datasets,
    layer_names / weight_names attributes),
and computes the outputs in float64 numpy, independently of the C engine.

Run with Debian's /usr/bin/python3 (numpy, h5py).
"""
import json

import h5py
import numpy as np

F32 = np.float32


# ---------------------------------------------------------------------------
# reference maths (float64, channels-last, batch first)

def act(name, x, alpha=0.3):
    if name in (None, "linear"):
        return x
    if name == "relu":
        return np.maximum(x, 0)
    if name == "leaky_relu":
        return np.where(x >= 0, x, alpha * x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    if name == "hard_sigmoid":  # Keras 2
        return np.clip(0.2 * x + 0.5, 0.0, 1.0)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(name)


def _same_pad(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2


def _out_and_pads(h, w, kh, kw, sh, sw, padding):
    if padding == "valid":
        return (h - kh) // sh + 1, (w - kw) // sw + 1, (0, 0), (0, 0)
    oh, t, b = _same_pad(h, kh, sh)
    ow, l, r = _same_pad(w, kw, sw)
    return oh, ow, (t, b), (l, r)


def conv2d(x, k, b, strides=(1, 1), padding="valid"):
    n, h, w, c = x.shape
    kh, kw, _, f = k.shape
    sh, sw = strides
    oh, ow, pt, pl = _out_and_pads(h, w, kh, kw, sh, sw, padding)
    xp = np.pad(x, ((0, 0), pt, pl, (0, 0)))
    y = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            y[:, i, j, :] = np.einsum("nhwc,hwcf->nf", patch, k)
    return y + (b if b is not None else 0)


def depthwise(x, k, b, strides=(1, 1), padding="valid"):
    n, h, w, c = x.shape
    kh, kw, _, dm = k.shape
    sh, sw = strides
    oh, ow, pt, pl = _out_and_pads(h, w, kh, kw, sh, sw, padding)
    xp = np.pad(x, ((0, 0), pt, pl, (0, 0)))
    y = np.zeros((n, oh, ow, c * dm))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            y[:, i, j, :] = np.einsum("nhwc,hwcm->ncm", patch, k).reshape(n, c * dm)
    return y + (b if b is not None else 0)


def pool(x, size, strides, padding, mode):
    n, h, w, c = x.shape
    kh, kw = size
    sh, sw = strides
    oh, ow, pt, pl = _out_and_pads(h, w, kh, kw, sh, sw, padding)
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - pt[0], j * sw - pl[0]
            r1, c1 = min(r0 + kh, h), min(c0 + kw, w)
            r0, c0 = max(r0, 0), max(c0, 0)
            win = x[:, r0:r1, c0:c1, :]
            y[:, i, j, :] = win.max(axis=(1, 2)) if mode == "max" else win.mean(axis=(1, 2))
    return y


def gru(x, kernel, rkernel, bias, units, activation="tanh", recurrent_activation="hard_sigmoid",
        reset_after=False, return_sequences=False):
    n, t, _ = x.shape
    u = units
    h = np.zeros((n, u))
    seq = []
    if reset_after:
        bi, br = bias[0], bias[1]
    else:
        bi, br = bias, np.zeros(3 * u)
    for s in range(t):
        xs = x[:, s, :] @ kernel + bi
        hs = h @ rkernel + br if reset_after else None
        if reset_after:
            z = act(recurrent_activation, xs[:, :u] + hs[:, :u])
            r = act(recurrent_activation, xs[:, u:2 * u] + hs[:, u:2 * u])
            hh = act(activation, xs[:, 2 * u:] + r * hs[:, 2 * u:])
        else:
            z = act(recurrent_activation, xs[:, :u] + h @ rkernel[:, :u])
            r = act(recurrent_activation, xs[:, u:2 * u] + h @ rkernel[:, u:2 * u])
            hh = act(activation, xs[:, 2 * u:] + (r * h) @ rkernel[:, 2 * u:])
        h = z * h + (1 - z) * hh
        seq.append(h)
    return np.stack(seq, axis=1) if return_sequences else h


# ---------------------------------------------------------------------------
# layers: Keras config + weights + reference forward

class Layer:
    """One Keras layer: class name, config (as Keras writes it), weights
    [(param, array float32)], and a reference forward f(inputs list)."""

    def __init__(self, cls, cfg, weights=(), fwd=None, inbound=None):
        self.cls = cls
        self.cfg = dict(cfg)
        self.name = cfg["name"]
        self.weights = list(weights)
        self.fwd = fwd
        self.inbound = inbound or []   # producer layer names (functional)

    def keras_json(self, functional):
        d = {"class_name": self.cls, "config": self.cfg}
        if functional:
            d["name"] = self.name
            d["inbound_nodes"] = ([[[p, 0, 0, {}] for p in self.inbound]]
                                  if self.inbound else [])
        return d


def _w(rng, shape, fan_in):
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(F32)


def _base(name, **kw):
    c = {"name": name, "trainable": True, "dtype": "float32"}
    c.update(kw)
    return c


def input_layer(name, shape):
    return Layer("InputLayer", {"batch_input_shape": [None] + list(shape), "dtype": "float32",
                                "sparse": False, "name": name}, fwd=lambda xs: xs[0])


def conv2d_layer(rng, name, cin, filters, k, strides=(1, 1), padding="valid", activation="linear",
                 use_bias=True):
    kern = _w(rng, (k[0], k[1], cin, filters), k[0] * k[1] * cin)
    bias = (0.1 * rng.standard_normal(filters)).astype(F32)
    cfg = _base(name, filters=filters, kernel_size=list(k), strides=list(strides), padding=padding,
                data_format="channels_last", dilation_rate=[1, 1], activation=activation,
                use_bias=use_bias)
    ws = [("kernel", kern)] + ([("bias", bias)] if use_bias else [])
    return Layer("Conv2D", cfg, ws, lambda xs: act(activation, conv2d(
        xs[0], kern.astype(float), bias.astype(float) if use_bias else None, strides, padding)))


def depthwise_layer(rng, name, cin, dm, k, strides=(1, 1), padding="valid", activation="linear",
                    use_bias=True):
    kern = _w(rng, (k[0], k[1], cin, dm), k[0] * k[1])
    bias = (0.1 * rng.standard_normal(cin * dm)).astype(F32)
    cfg = _base(name, kernel_size=list(k), strides=list(strides), padding=padding,
                depth_multiplier=dm, data_format="channels_last", dilation_rate=[1, 1],
                activation=activation, use_bias=use_bias)
    ws = [("depthwise_kernel", kern)] + ([("bias", bias)] if use_bias else [])
    return Layer("DepthwiseConv2D", cfg, ws, lambda xs: act(activation, depthwise(
        xs[0], kern.astype(float), bias.astype(float) if use_bias else None, strides, padding)))


def separable_layer(rng, name, cin, filters, k, dm=1, strides=(1, 1), padding="valid",
                    activation="linear", use_bias=True):
    dk = _w(rng, (k[0], k[1], cin, dm), k[0] * k[1])
    pk = _w(rng, (1, 1, cin * dm, filters), cin * dm)
    bias = (0.1 * rng.standard_normal(filters)).astype(F32)
    cfg = _base(name, filters=filters, kernel_size=list(k), strides=list(strides),
                padding=padding, data_format="channels_last", dilation_rate=[1, 1],
                depth_multiplier=dm, activation=activation, use_bias=use_bias)
    ws = [("depthwise_kernel", dk), ("pointwise_kernel", pk)] + ([("bias", bias)] if use_bias else [])

    def f(xs):
        d = depthwise(xs[0], dk.astype(float), None, strides, padding)
        y = conv2d(d, pk.astype(float), bias.astype(float) if use_bias else None)
        return act(activation, y)
    return Layer("SeparableConv2D", cfg, ws, f)


def pool_layer(name, mode, size, strides=None, padding="valid"):
    cfg = _base(name, pool_size=list(size), padding=padding,
                strides=list(strides) if strides else None, data_format="channels_last")
    st = strides or size
    return Layer("MaxPooling2D" if mode == "max" else "AveragePooling2D", cfg,
                 fwd=lambda xs: pool(xs[0], size, st, padding, mode))


def gap_layer(name):
    return Layer("GlobalAveragePooling2D", _base(name, data_format="channels_last"),
                 fwd=lambda xs: xs[0].mean(axis=(1, 2)))


def gap1d_layer(name, masked=False):
    """GlobalAveragePooling1D; masked: straight after Masking(0.0), whose
    masked steps are all zeros, so the Keras mask is any(x != 0) per step
    and the mean is sum(x * mask) / sum(mask), as Keras computes it."""
    def fwd(xs):
        x = xs[0]
        if not masked:
            return x.mean(axis=1)
        keep = (x != 0).any(axis=-1, keepdims=True).astype(float)
        return (x * keep).sum(axis=1) / keep.sum(axis=1)
    return Layer("GlobalAveragePooling1D", _base(name, data_format="channels_last"), fwd=fwd)


def masking_layer(name, mask_value=0.0):
    def fwd(xs):
        x = xs[0]
        keep = (x != mask_value).any(axis=-1, keepdims=True)
        return x * keep
    return Layer("Masking", _base(name, mask_value=mask_value), fwd=fwd)


def dense_layer(rng, name, fin, units, activation="linear", use_bias=True):
    kern = _w(rng, (fin, units), fin)
    bias = (0.1 * rng.standard_normal(units)).astype(F32)
    cfg = _base(name, units=units, activation=activation, use_bias=use_bias)
    ws = [("kernel", kern)] + ([("bias", bias)] if use_bias else [])
    return Layer("Dense", cfg, ws, lambda xs: act(
        activation, xs[0] @ kern.astype(float) + (bias.astype(float) if use_bias else 0)))


def timedistributed_dense(rng, name, fin, units, activation="linear"):
    inner = dense_layer(rng, "inner_" + name, fin, units, activation)
    cfg = _base(name, layer={"class_name": "Dense", "config": inner.cfg})
    return Layer("TimeDistributed", cfg, inner.weights, inner.fwd)


def flatten_layer(name):
    return Layer("Flatten", _base(name, data_format="channels_last"),
                 fwd=lambda xs: xs[0].reshape(xs[0].shape[0], -1))


def dropout_layer(name, rate):
    return Layer("Dropout", _base(name, rate=rate, noise_shape=None, seed=None),
                 fwd=lambda xs: xs[0])


def batchnorm_layer(rng, name, c, epsilon=1e-3, center=True, scale=True, axis=-1):
    gamma = (1 + 0.2 * rng.standard_normal(c)).astype(F32)
    beta = (0.2 * rng.standard_normal(c)).astype(F32)
    mean = (0.3 * rng.standard_normal(c)).astype(F32)
    var = (0.5 + rng.random(c)).astype(F32)
    cfg = _base(name, axis=axis, momentum=0.99, epsilon=epsilon, center=center, scale=scale)
    ws = ([("gamma", gamma)] if scale else []) + ([("beta", beta)] if center else []) + \
        [("moving_mean", mean), ("moving_variance", var)]
    g = gamma.astype(float) if scale else 1.0
    b = beta.astype(float) if center else 0.0
    return Layer("BatchNormalization", cfg, ws, lambda xs: g * (xs[0] - mean.astype(float)) /
                 np.sqrt(var.astype(float) + np.float32(epsilon)) + b)


def concat_layer(name, inbound, axis=-1):
    return Layer("Concatenate", _base(name, axis=axis),
                 fwd=lambda xs: np.concatenate(xs, axis=-1), inbound=inbound)


def activation_layer(name, a):
    return Layer("Activation", _base(name, activation=a), fwd=lambda xs: act(a, xs[0]))


def leaky_layer(name, alpha):
    return Layer("LeakyReLU", _base(name, alpha=alpha),
                 fwd=lambda xs: act("leaky_relu", xs[0], alpha))


def relu_layer(name):
    return Layer("ReLU", _base(name, max_value=None, negative_slope=0.0, threshold=0.0),
                 fwd=lambda xs: act("relu", xs[0]))


def gru_layer(rng, name, fin, units, reset_after=False, recurrent_activation="hard_sigmoid",
              return_sequences=False, activation="tanh"):
    kern = _w(rng, (fin, 3 * units), fin)
    rk = _w(rng, (units, 3 * units), units)
    bias = (0.2 * rng.standard_normal((2, 3 * units) if reset_after else (3 * units,))).astype(F32)
    cfg = _base(name, return_sequences=return_sequences, return_state=False, go_backwards=False,
                stateful=False, unroll=False, units=units, activation=activation,
                recurrent_activation=recurrent_activation, use_bias=True, dropout=0.0,
                recurrent_dropout=0.0, implementation=2 if reset_after else 1,
                reset_after=reset_after)
    ws = [("kernel", kern), ("recurrent_kernel", rk), ("bias", bias)]
    return Layer("GRU", cfg, ws, lambda xs: gru(
        xs[0], kern.astype(float), rk.astype(float), bias.astype(float), units, activation,
        recurrent_activation, reset_after, return_sequences))


# ---------------------------------------------------------------------------
# models

class Model:
    """Sequential (layers in order, first an InputLayer) or functional
    (layers with inbound names; inputs/outputs by name)."""

    def __init__(self, name, layers, functional=False, inputs=None, outputs=None,
                 sequential_form="dict", sequential_input_layer=False):
        self.name = name
        self.layers = layers
        self.functional = functional
        self.inputs = inputs or [layers[0].name]
        self.outputs = outputs or [layers[-1].name]
        self.sequential_form = sequential_form   # "dict" (Keras >= 2.2.3) or "list"
        self.sequential_input_layer = sequential_input_layer

    def config(self):
        if self.functional:
            return {"class_name": "Model", "config": {
                "name": self.name,
                "layers": [l.keras_json(True) for l in self.layers],
                "input_layers": [[n, 0, 0] for n in self.inputs],
                "output_layers": [[n, 0, 0] for n in self.outputs]},
                "keras_version": "2.2.4", "backend": "tensorflow"}
        inp = self.layers[0]
        body = self.layers[1:]
        items = []
        if self.sequential_input_layer:
            items.append(inp.keras_json(False))
        else:
            first = dict(body[0].cfg)
            first["batch_input_shape"] = inp.cfg["batch_input_shape"]
            body = [Layer(body[0].cls, first, body[0].weights, body[0].fwd)] + body[1:]
        items += [l.keras_json(False) for l in body]
        cfg = items if self.sequential_form == "list" else {"name": self.name, "layers": items}
        return {"class_name": "Sequential", "config": cfg, "keras_version": "2.2.4",
                "backend": "tensorflow"}

    def weight_layers(self):
        """Layers as Keras saves them (InputLayers have no group in a
        Sequential model's file; functional models list them)."""
        if self.functional:
            return self.layers
        return self.layers[1:]

    def forward(self, inputs):
        vals = {}
        if self.functional:
            for n, x in zip(self.inputs, inputs):
                vals[n] = x.astype(float)
            for l in self.layers:
                if l.name in vals:
                    continue
                vals[l.name] = l.fwd([vals[p] for p in l.inbound])
            return vals[self.outputs[0]]
        x = inputs[0].astype(float)
        for l in self.layers[1:]:
            x = l.fwd([x])
        return x


def _str_attr(obj, key, text, mode):
    if mode == "vlen":
        obj.attrs[key] = text                     # variable-length UTF-8 string
    else:
        obj.attrs[key] = np.bytes_(text.encode())  # fixed-length byte string


def _write_weights(g, model, names_mode):
    layers = model.weight_layers()
    names = [l.name.encode() for l in layers]
    if names_mode == "vlen":
        g.attrs.create("layer_names", [l.name for l in layers],
                       dtype=h5py.string_dtype())
    else:
        g.attrs["layer_names"] = np.array(names)
    g.attrs["backend"] = "tensorflow"
    g.attrs["keras_version"] = "2.2.4"
    for l in layers:
        lg = g.create_group(l.name)
        wn = ["%s/%s:0" % (l.name, p) for p, _ in l.weights]
        if wn:
            lg.attrs["weight_names"] = np.array([w.encode() for w in wn])
        else:
            lg.attrs["weight_names"] = np.array([], dtype=np.float64)
        for (p, a), path in zip(l.weights, wn):
            lg.create_dataset(path, data=a)


def write_full(path, model, str_mode="vlen", names_mode="fixed"):
    """Like Keras 2 model.save(): model_config on the root, weights under
    model_weights/."""
    with h5py.File(path, "w") as f:
        _str_attr(f, "model_config", json.dumps(model.config()), str_mode)
        _str_attr(f, "keras_version", "2.2.4", str_mode)
        _str_attr(f, "backend", "tensorflow", str_mode)
        _write_weights(f.create_group("model_weights"), model, names_mode)


def write_weights_only(path, arch_path, model, names_mode="fixed"):
    """Like Keras 2 model.save_weights() + model.to_json()."""
    with h5py.File(path, "w") as f:
        _write_weights(f, model, names_mode)
    with open(arch_path, "w") as fa:
        fa.write(json.dumps(model.config()))
