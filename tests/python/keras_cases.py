#!/usr/bin/python3
"""keras_cases.py OUTDIR — Keras-layout HDF5 test models for every layer the
importer supports, with inputs and reference outputs, plus broken files.

Writes into OUTDIR:
  <case>.h5 (and <case>.json for weights-only cases), <case>.in<i>.f32
  (network input i, float32 little-endian, batch-major), <case>.out.f32
  (reference output, float32), and manifest.txt with one line per case:
    case NAME H5 ARCH|- BATCH N_INPUTS OUT_SIZE_PER_SAMPLE
    error NAME H5 ARCH|- TEXT...        (import must fail; message contains
                                          every '|'-separated part of TEXT)
Inputs are listed in the order stampvet feeds them: the stamp (rank 3)
first, then a feature vector (rank 1).
"""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_ref as K  # noqa: E402

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
manifest = []
BATCH = 3


def emit(name, model, inputs, mode="full", str_mode="vlen", names_mode="fixed"):
    """Write model + inputs + reference outputs; inputs in feed order."""
    h5 = os.path.join(OUT, name + ".h5")
    arch = "-"
    if mode == "full":
        K.write_full(h5, model, str_mode, names_mode)
    else:
        arch = os.path.join(OUT, name + ".json")
        K.write_weights_only(h5, arch, model, names_mode)
    # the reference takes inputs in the model's own input order
    by_name = dict(zip(feed_order(model), inputs))
    y = model.forward([by_name[n] for n in model.inputs])
    for i, x in enumerate(inputs):
        x.astype("<f4").tofile(os.path.join(OUT, "%s.in%d.f32" % (name, i)))
    y.astype("<f4").tofile(os.path.join(OUT, name + ".out.f32"))
    per = int(np.prod(y.shape[1:]))
    manifest.append("case %s %s %s %d %d %d" % (name, h5, arch, y.shape[0], len(inputs), per))


def feed_order(model):
    """stampvet's input order: rank-3 inputs, then rank-1, then others."""
    shapes = {l.name: l.cfg["batch_input_shape"] for l in model.layers if l.cls == "InputLayer"}
    order = [n for n in model.inputs if len(shapes[n]) == 4]
    order += [n for n in model.inputs if len(shapes[n]) == 2]
    order += [n for n in model.inputs if n not in order]
    return order


def x_img(rng, h, w, c):
    return rng.uniform(-1, 1, (BATCH, h, w, c)).astype(np.float32)


def seq(name, rng, shape, *layers, **kw):
    inp = K.input_layer(name + "_in", shape)
    m = K.Model(name, [inp] + list(layers), **{k: v for k, v in kw.items()
                                               if k in ("sequential_form", "sequential_input_layer")})
    x = rng.uniform(-1, 1, (BATCH,) + tuple(shape)).astype(np.float32)
    emit(name, m, [x], **{k: v for k, v in kw.items() if k in ("mode", "str_mode", "names_mode")})


rng = np.random.default_rng(20240531)

# --- convolutions -----------------------------------------------------------
seq("conv2d_valid_relu", rng, (9, 8, 3), K.conv2d_layer(rng, "conv", 3, 4, (3, 2), activation="relu"))
seq("conv2d_same_stride2_nobias", rng, (9, 9, 2),
    K.conv2d_layer(rng, "conv", 2, 3, (3, 3), strides=(2, 2), padding="same", use_bias=False))
seq("conv2d_same_even_kernel_tanh", rng, (7, 6, 2),
    K.conv2d_layer(rng, "conv", 2, 3, (4, 4), padding="same", activation="tanh"))
seq("conv2d_valid_stride_2x3", rng, (11, 10, 3),
    K.conv2d_layer(rng, "conv", 3, 5, (3, 3), strides=(2, 3), activation="sigmoid"))
seq("depthwise_valid_dm2_sigmoid", rng, (8, 8, 3),
    K.depthwise_layer(rng, "dw", 3, 2, (3, 3), activation="sigmoid"))
seq("depthwise_same_stride2", rng, (9, 7, 4),
    K.depthwise_layer(rng, "dw", 4, 1, (3, 3), strides=(2, 2), padding="same"))
seq("separable_same_dm2_relu", rng, (8, 8, 3),
    K.separable_layer(rng, "sep", 3, 5, (3, 3), dm=2, padding="same", activation="relu"))
seq("separable_valid_stride2_nobias", rng, (9, 9, 2),
    K.separable_layer(rng, "sep", 2, 4, (3, 3), strides=(2, 2), use_bias=False))

# --- pooling ------------------------------------------------------------------
seq("maxpool_valid_odd", rng, (9, 7, 3), K.pool_layer("pool", "max", (2, 2)))
seq("maxpool_same_3s2", rng, (9, 8, 2), K.pool_layer("pool", "max", (3, 3), (2, 2), "same"))
seq("avgpool_valid_2x3_s1x2", rng, (6, 9, 2), K.pool_layer("pool", "avg", (2, 3), (1, 2)))
seq("avgpool_same_3s2", rng, (7, 8, 2), K.pool_layer("pool", "avg", (3, 3), (2, 2), "same"))
seq("global_avgpool", rng, (5, 6, 4), K.gap_layer("gap"))

seq("global_avgpool1d", rng, (6, 4), K.gap1d_layer("gap1d"), K.dense_layer(rng, "fc", 4, 3))


def gap1d_masked():
    """Masking, then GlobalAveragePooling1D: the mean over the unmasked
    steps (masked at the end, the start, the middle)."""
    m = K.Model("gap1d_masked", [K.input_layer("gm_in", (6, 4)), K.masking_layer("mask"),
                                 K.gap1d_layer("gap1d", masked=True),
                                 K.dense_layer(rng, "fc", 4, 3, "softmax")])
    x = rng.uniform(-1, 1, (BATCH, 6, 4)).astype(np.float32)
    x[0, 4:] = 0
    x[1, :2] = 0
    x[2, 3] = 0
    emit("gap1d_masked", m, [x])


gap1d_masked()

# --- dense, flatten, dropout ------------------------------------------------
seq("dense_relu", rng, (10,), K.dense_layer(rng, "fc", 10, 7, "relu"))
seq("dense_softmax_nobias", rng, (10,), K.dense_layer(rng, "fc", 10, 6, "softmax", use_bias=False))
seq("dense_on_sequence_tanh", rng, (5, 6), K.dense_layer(rng, "fc", 6, 4, "tanh"))
seq("timedistributed_dense", rng, (5, 6), K.timedistributed_dense(rng, "td", 6, 3, "sigmoid"))
seq("conv_flatten_dense", rng, (6, 5, 3),
    K.conv2d_layer(rng, "conv", 3, 4, (3, 3), activation="relu"), K.flatten_layer("flat"),
    K.dense_layer(rng, "fc", 4 * 3 * 4, 5, "linear"))
seq("dropout_identity", rng, (8,), K.dropout_layer("drop", 0.5), K.dense_layer(rng, "fc", 8, 3))

# --- batch normalisation ----------------------------------------------------
seq("batchnorm_image", rng, (5, 5, 3), K.batchnorm_layer(rng, "bn", 3))
seq("batchnorm_vector_noscale_nocenter", rng, (6,),
    K.batchnorm_layer(rng, "bn", 6, epsilon=1e-2, center=False, scale=False))
seq("batchnorm_axis3", rng, (4, 4, 2), K.batchnorm_layer(rng, "bn", 2, axis=3))

# --- activations ------------------------------------------------------------
seq("activation_layers", rng, (9,),
    K.activation_layer("a_tanh", "tanh"), K.leaky_layer("leaky", 0.1),
    K.activation_layer("a_hsig", "hard_sigmoid"), K.relu_layer("relu"),
    K.dense_layer(rng, "fc", 9, 4), K.activation_layer("a_soft", "softmax"))
seq("leaky_relu_image", rng, (4, 4, 2), K.conv2d_layer(rng, "conv", 2, 3, (3, 3)),
    K.leaky_layer("leaky", 0.3))

# --- GRU --------------------------------------------------------------------
seq("gru_keras22_default", rng, (6, 4), K.gru_layer(rng, "gru", 4, 5))
seq("gru_reset_after_sigmoid_seq", rng, (6, 4),
    K.gru_layer(rng, "gru", 4, 5, reset_after=True, recurrent_activation="sigmoid",
                return_sequences=True))
seq("gru_seq_then_gru_td", rng, (5, 3),
    K.gru_layer(rng, "gru1", 3, 4, return_sequences=True),
    K.gru_layer(rng, "gru2", 4, 6, reset_after=True, recurrent_activation="sigmoid",
                return_sequences=True),
    K.timedistributed_dense(rng, "td", 6, 3, "softmax"))

# --- file-format variants ---------------------------------------------------
seq("seq_list_form_weights_only", rng, (6, 6, 2), K.conv2d_layer(rng, "conv", 2, 3, (3, 3)),
    K.flatten_layer("flat"), K.dense_layer(rng, "fc", 48, 2, "softmax"),
    sequential_form="list", mode="weights")
seq("seq_inputlayer_bytes_attrs", rng, (5, 5, 1), K.conv2d_layer(rng, "conv", 1, 2, (2, 2)),
    K.gap_layer("gap"), sequential_input_layer=True, str_mode="bytes", names_mode="vlen")

# --- functional graphs --------------------------------------------------------
def functional_concat_image():
    inp = K.input_layer("img", (6, 6, 2))
    a = K.conv2d_layer(rng, "ca", 2, 3, (3, 3), padding="same", activation="relu")
    a.inbound = ["img"]
    b = K.depthwise_layer(rng, "cb", 2, 2, (3, 3), padding="same")
    b.inbound = ["img"]
    cat = K.concat_layer("cat", ["ca", "cb"], axis=3)
    gap = K.gap_layer("gap")
    gap.inbound = ["cat"]
    m = K.Model("fcat", [inp, a, b, cat, gap], functional=True)
    emit("functional_concat_channels", m, [x_img(rng, 6, 6, 2)])


functional_concat_image()


def acai_like(name, mode):
    """ACAI's structure: image branch (SeparableConv2D, MaxPool, GAP) over a
    triplet, feature branch (Dense) over 25 features, Concatenate, Dense,
    sigmoid heads.  The feature input is listed FIRST in the Keras model
    to check that stampvet feeds the stamp as input 0."""
    feats = K.input_layer("features", (25,))
    img = K.input_layer("triplets", (13, 13, 3))
    s1 = K.separable_layer(rng, "sep1", 3, 8, (3, 3), padding="same", activation="relu")
    s1.inbound = ["triplets"]
    p1 = K.pool_layer("pool1", "max", (2, 2))
    p1.inbound = ["sep1"]
    s2 = K.separable_layer(rng, "sep2", 8, 6, (3, 3), activation="relu")
    s2.inbound = ["pool1"]
    g = K.gap_layer("gap")
    g.inbound = ["sep2"]
    f1 = K.dense_layer(rng, "feat_fc1", 25, 16, "relu")
    f1.inbound = ["features"]
    f2 = K.dense_layer(rng, "feat_fc2", 16, 8, "relu")
    f2.inbound = ["feat_fc1"]
    cat = K.concat_layer("concat", ["gap", "feat_fc2"])
    d1 = K.dense_layer(rng, "fc", 14, 12, "relu")
    d1.inbound = ["concat"]
    dr = K.dropout_layer("drop", 0.25)
    dr.inbound = ["fc"]
    out = K.dense_layer(rng, "heads", 12, 5, "sigmoid")
    out.inbound = ["drop"]
    m = K.Model(name, [feats, img, s1, p1, s2, g, f1, f2, cat, d1, dr, out], functional=True,
                inputs=["features", "triplets"])
    x = x_img(rng, 13, 13, 3)
    f = rng.uniform(-2, 2, (BATCH, 25)).astype(np.float32)
    emit(name, m, [x, f], mode=mode)


acai_like("functional_acai_like", "full")
acai_like("functional_acai_like_weights_only", "weights")

# --- broken and unsupported files -------------------------------------------
def err_case(name, h5, arch, *parts):
    manifest.append("error %s %s %s %s" % (name, h5, arch or "-", "|".join(parts)))


def simple_model(extra_layer=None, name="m"):
    inp = K.input_layer("in", (6, 6, 2))
    layers = [inp, K.conv2d_layer(rng, "conv", 2, 3, (3, 3))]
    if extra_layer is not None:
        layers.append(extra_layer)
    layers.append(K.gap_layer("gap"))
    return K.Model(name, layers)


def path(n, ext=".h5"):
    return os.path.join(OUT, n + ext)


# an unsupported layer class
m = simple_model(K.Layer("LSTM", K._base("lstm_7", units=3)))
K.write_full(path("err_unsupported_layer"), m)
err_case("unsupported_layer", path("err_unsupported_layer"), None, "lstm_7", "LSTM")

# an unsupported option: dilation
m = simple_model()
m.layers[1].cfg["dilation_rate"] = [2, 2]
K.write_full(path("err_dilation"), m)
err_case("unsupported_dilation", path("err_dilation"), None, "conv", "dilation_rate")

# channels_first
m = simple_model()
m.layers[1].cfg["data_format"] = "channels_first"
K.write_full(path("err_channels_first"), m)
err_case("unsupported_channels_first", path("err_channels_first"), None, "conv",
         "channels_first")

# an unsupported activation
m = simple_model()
m.layers[1].cfg["activation"] = "selu"
K.write_full(path("err_selu"), m)
err_case("unsupported_activation", path("err_selu"), None, "conv", "selu")

# a missing weight dataset (bias)
m = simple_model()
K.write_full(path("err_missing_bias"), m)
with h5py.File(path("err_missing_bias"), "a") as f:
    del f["model_weights/conv/conv/bias:0"]
err_case("missing_weight_dataset", path("err_missing_bias"), None, "conv", "bias:0")

# weight_names that do not list the bias: the bias is missing
m = simple_model()
K.write_full(path("err_missing_bias2"), m)
with h5py.File(path("err_missing_bias2"), "a") as f:
    g = f["model_weights/conv"]
    g.attrs["weight_names"] = np.array([b"conv/kernel:0"])
    del g["conv/bias:0"]
err_case("missing_weight", path("err_missing_bias2"), None, "conv", "missing weight", "bias")

# a layer group missing entirely
m = simple_model()
K.write_full(path("err_missing_group"), m)
with h5py.File(path("err_missing_group"), "a") as f:
    del f["model_weights/conv"]
    f["model_weights"].attrs["layer_names"] = np.array([b"gap"])
err_case("missing_weights_group", path("err_missing_group"), None, "missing weights",
         "conv")

# a weight of the wrong shape
m = simple_model()
K.write_full(path("err_wrong_shape"), m)
with h5py.File(path("err_wrong_shape"), "a") as f:
    del f["model_weights/conv/conv/kernel:0"]
    f["model_weights/conv/conv"].create_dataset("kernel:0", data=np.zeros((3, 3, 2, 4), "f4"))
err_case("wrong_weight_shape", path("err_wrong_shape"), None, "conv", "(3, 3, 2, 4)",
         "(3, 3, 2, 3)")

# weights for a layer the architecture does not have (wrong --arch)
m1 = simple_model()
K.write_weights_only(path("err_arch_mismatch"), path("err_arch_mismatch_own", ".json"), m1)
m2 = K.Model("m", [K.input_layer("in", (6, 6, 2)), K.gap_layer("gap")])
with open(path("err_arch_mismatch", ".json"), "w") as fa:
    fa.write(json.dumps(m2.config()))
err_case("weights_for_unknown_layer", path("err_arch_mismatch"),
         path("err_arch_mismatch", ".json"), "conv", "architecture does not have")

# a weights-only file without --arch
err_case("weights_only_without_arch", path("err_arch_mismatch"), None, "model_config",
         "--arch")

# invalid JSON architecture
with open(path("err_bad_json", ".json"), "w") as fa:
    fa.write('{"class_name": "Sequential", "config": {"layers": [')
err_case("invalid_json", path("err_arch_mismatch"), path("err_bad_json", ".json"),
         "invalid JSON")

# a shared layer (two calls of one Dense)
inp = K.input_layer("in", (4,))
d = K.dense_layer(rng, "shared", 4, 4)
lj = d.keras_json(True)
lj["inbound_nodes"] = [[["in", 0, 0, {}]], [["in", 0, 0, {}]]]
cfg = {"class_name": "Model", "config": {"name": "s", "layers": [
    inp.keras_json(True), lj], "input_layers": [["in", 0, 0]],
    "output_layers": [["shared", 1, 0]]}}
with h5py.File(path("err_shared"), "w") as f:
    f.attrs["model_config"] = json.dumps(cfg)
    g = f.create_group("model_weights")
    g.attrs["layer_names"] = np.array([b"in", b"shared"])
err_case("shared_layer", path("err_shared"), None, "shared", "shared")

# corrupt HDF5: garbage, and a truncated copy of a good file
with open(path("err_garbage"), "wb") as f:
    f.write(b"this is not an HDF5 file at all\n" * 40)
err_case("garbage_file", path("err_garbage"), None, "err_garbage.h5", "not an HDF5 file")
K.write_full(path("err_trunc_src"), simple_model())
raw = open(path("err_trunc_src"), "rb").read()
with open(path("err_truncated"), "wb") as f:
    f.write(raw[:len(raw) // 2])
err_case("truncated_file", path("err_truncated"), None, "err_truncated.h5")
err_case("nonexistent_file", path("does_not_exist"), None, "does_not_exist.h5", "cannot open")

with open(os.path.join(OUT, "manifest.txt"), "w") as f:
    f.write("\n".join(manifest) + "\n")
print("wrote %d cases to %s" % (len(manifest), OUT))
