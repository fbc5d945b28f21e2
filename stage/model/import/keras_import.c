/* keras_import.c — see keras_import.h.
 *
 * Two halves: the architecture (Keras JSON -> nn_net, through jansson) and
 * the weights (HDF5 groups -> nn_param tensors, through the libhdf5 C API).
 * Every Keras option that changes what a layer computes is checked against
 * what the engine runs; anything else is refused with the layer's name.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "model/import/keras_import.h"
#include "model/import/h5_heap_check.h"
#include "model/import/h5_ohdr_check.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <jansson.h>

#include "core/sha256.h"
#include "nn/nn_ops.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define KIMP_MAX_LAYERS 4096

/* ======================================================================
 * architecture: Keras JSON -> nn_net
 * ==================================================================== */

typedef struct kimp {
    const char *src;   /* where the JSON came from, for messages        */
    sv_error *err;
    nn_net *net;
    int keras_major;   /* 2 or 3 (hard_sigmoid changed in Keras 3)          */
    int steps;         /* time steps for a sequence input of free length    */
    hid_t wroot;       /* the weights group, or -1 (JSON only)              */
    int krank[KIMP_MAX_LAYERS]; /* per-sample rank of each net layer's output */
    /* Keras masks: the net layer whose steps define the mask a layer's
     * output carries (-1: none), and the mask value */
    int mask_src[KIMP_MAX_LAYERS];
    float mask_val[KIMP_MAX_LAYERS];
    int n_masked;      /* recurrent layers that read a mask                 */
    double first_mask; /* the first Masking layer's mask value, NaN: none   */
} kimp;

static const char *kimp_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* HDF5 helpers (the weights half, below) that the architecture reader uses
 * to take a Sequential model's input shape from its first weights. */
typedef struct h5strs {
    int n;
    char **s;
} h5strs;
static void h5strs_free(h5strs *l);
static int h5_read_strings(hid_t obj, const char *attr, const char *where, h5strs *out,
                           sv_error *err);
static int h5_path_exists(hid_t loc, const char *path);
static void keras_weight_param_name(const char *wname, char *out, size_t len);

/* ---- small JSON accessors -------------------------------------------- */

static const char *kj_str(json_t *obj, const char *key, const char *dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static int kj_bool(json_t *obj, const char *key, int dflt)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_boolean(v))
        return json_is_true(v);
    return dflt;
}

static double kj_num(json_t *obj, const char *key, double dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* Read an int or a pair of ints ([a, b]) into out[2].  Returns 0, 1 when the
 * key is absent or null (out keeps its defaults), -1 when malformed. */
static int kj_pair(json_t *obj, const char *key, int out[2])
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 1;
    if (json_is_integer(v)) {
        out[0] = out[1] = (int)json_integer_value(v);
        return 0;
    }
    if (json_is_array(v) && json_array_size(v) == 2 &&
        json_is_integer(json_array_get(v, 0)) && json_is_integer(json_array_get(v, 1))) {
        out[0] = (int)json_integer_value(json_array_get(v, 0));
        out[1] = (int)json_integer_value(json_array_get(v, 1));
        return 0;
    }
    if (json_is_array(v) && json_array_size(v) == 1 && json_is_integer(json_array_get(v, 0))) {
        out[0] = out[1] = (int)json_integer_value(json_array_get(v, 0));
        return 0;
    }
    return -1;
}

/* ---- errors ------------------------------------------------------------ */

static int kimp_unsupported(kimp *k, const char *layer, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int kimp_unsupported(kimp *k, const char *layer, const char *cls, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sv_error_set(k->err, SV_ERR_UNSUPPORTED, "%s: layer '%s' (%s): %s", k->src, layer,
                        cls, what);
}

static int kimp_bad(kimp *k, const char *layer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int kimp_bad(kimp *k, const char *layer, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (layer)
        return sv_error_set(k->err, SV_ERR_FORMAT, "%s: layer '%s': %s", k->src, layer, what);
    return sv_error_set(k->err, SV_ERR_FORMAT, "%s: %s", k->src, what);
}

/* ---- option checks shared by several layers ------------------------- */

static int kimp_act(kimp *k, const char *layer, const char *cls, json_t *cfg, const char *key,
                    const char *dflt, nn_act *act)
{
    json_t *v = json_object_get(cfg, key);
    const char *name = dflt;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            return kimp_unsupported(k, layer, cls, "%s is not a built-in activation name", key);
        name = json_string_value(v);
    }
    if (!strcmp(name, "linear") || !strcmp(name, "None"))
        *act = NN_ACT_LINEAR;
    else if (!strcmp(name, "relu"))
        *act = NN_ACT_RELU;
    else if (!strcmp(name, "sigmoid"))
        *act = NN_ACT_SIGMOID;
    else if (!strcmp(name, "tanh"))
        *act = NN_ACT_TANH;
    else if (!strcmp(name, "softmax"))
        *act = NN_ACT_SOFTMAX;
    else if (!strcmp(name, "hard_sigmoid")) /* as the Keras that wrote the file */
        *act = k->keras_major >= 3 ? NN_ACT_HARD_SIGMOID_K3 : NN_ACT_HARD_SIGMOID;
    else
        return kimp_unsupported(k, layer, cls, "%s '%s' is not supported (linear, relu, "
                                "sigmoid, tanh, softmax, hard_sigmoid are)", key, name);
    return 0;
}

static int kimp_check_format(kimp *k, const char *layer, const char *cls, json_t *cfg)
{
    const char *df = kj_str(cfg, "data_format", "channels_last");
    if (strcmp(df, "channels_last"))
        return kimp_unsupported(k, layer, cls, "data_format '%s' (only channels_last)", df);
    return 0;
}

static int kimp_check_dilation(kimp *k, const char *layer, const char *cls, json_t *cfg)
{
    int d[2] = {1, 1};
    if (kj_pair(cfg, "dilation_rate", d) < 0 || d[0] != 1 || d[1] != 1)
        return kimp_unsupported(k, layer, cls, "dilation_rate other than 1");
    if (kj_num(cfg, "groups", 1) != 1)
        return kimp_unsupported(k, layer, cls, "groups other than 1");
    return 0;
}

static int kimp_padding(kimp *k, const char *layer, const char *cls, json_t *cfg,
                        nn_padding *pad)
{
    const char *p = kj_str(cfg, "padding", "valid");
    if (!strcmp(p, "valid"))
        *pad = NN_PAD_VALID;
    else if (!strcmp(p, "same"))
        *pad = NN_PAD_SAME;
    else
        return kimp_unsupported(k, layer, cls, "padding '%s' (only valid and same)", p);
    return 0;
}

static int kimp_kernel_strides(kimp *k, const char *layer, const char *cls, json_t *cfg,
                               const char *ksize_key, nn_layer *L)
{
    int ks[2] = {0, 0};
    int st[2] = {1, 1};
    if (kj_pair(cfg, ksize_key, ks) != 0 || ks[0] < 1 || ks[1] < 1)
        return kimp_bad(k, layer, "missing or invalid %s", ksize_key);
    if (!strcmp(ksize_key, "pool_size")) {
        /* pooling: strides default (null) to the pool size */
        st[0] = ks[0];
        st[1] = ks[1];
    }
    if (kj_pair(cfg, "strides", st) < 0 || st[0] < 1 || st[1] < 1)
        return kimp_bad(k, layer, "invalid strides");
    (void)cls;
    L->kh = ks[0];
    L->kw = ks[1];
    L->sh = st[0];
    L->sw = st[1];
    return 0;
}

/* Keras axis (counting the batch axis) that denotes the last axis of a
 * per-sample tensor of rank r: -1 or r. */
static int kimp_is_last_axis(json_t *v, int r)
{
    if (json_is_array(v) && json_array_size(v) == 1)
        v = json_array_get(v, 0);
    if (!json_is_integer(v))
        return 0;
    json_int_t a = json_integer_value(v);
    return a == -1 || a == r;
}

/* ---- one Keras layer -> one nn layer ------------------------------ */

static int kimp_input_rank(kimp *k, int n_in, const int *in)
{
    return n_in > 0 ? k->krank[in[0]] : 0;
}

/* Append L (inputs in[0..n_in), per-sample output rank rank_out) to the
 * net; *idx is its index.  The output carries the mask of in[0] when
 * keeps_mask. */
static int kimp_push(kimp *k, const char *cls, nn_layer *L, int n_in, const int *in,
                     int rank_out, int keeps_mask, int *idx)
{
    L->n_in = n_in;
    for (int i = 0; i < n_in; i++)
        L->in[i] = in[i];
    int r = nn_net_add(k->net, L, k->err);
    if (r < 0)
        return sv_error_prefix(k->err, "%s: layer '%s' (%s): ", k->src, L->name, cls);
    if (r >= KIMP_MAX_LAYERS)
        return kimp_unsupported(k, L->name, cls, "more than %d layers", KIMP_MAX_LAYERS);
    k->krank[r] = rank_out;
    k->mask_src[r] = keeps_mask && n_in > 0 ? k->mask_src[in[0]] : -1;
    k->mask_val[r] = keeps_mask && n_in > 0 ? k->mask_val[in[0]] : 0.0f;
    *idx = r;
    return 0;
}

/* The per-sample shape of net layer idx as it stands (a finalised copy of
 * the layers so far). */
static int kimp_shape_of(kimp *k, const char *name, int idx, int shape[NN_MAX_RANK])
{
    nn_net *c = nn_net_clone(k->net);
    if (!c)
        return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
    c->n_layers = idx + 1;
    c->output = idx;
    int st = nn_net_finalize(c, k->err);
    if (st)
        sv_error_prefix(k->err, "%s: layer '%s': ", k->src, name);
    else
        memcpy(shape, c->layers[idx].shape, sizeof c->layers[idx].shape);
    nn_net_free(c);
    return st;
}

/* A Conv1D layer (Keras names: filters, kernel, dilation, padding). */
static nn_layer kimp_conv1d_spec(const char *name, int filters, int kernel, int dilation,
                                 nn_padding pad, nn_act act)
{
    nn_layer L = nn_layer_defaults(NN_CONV1D, name);
    L.filters = filters;
    L.kh = kernel;
    L.dilation = dilation;
    L.padding = pad;
    L.act = act;
    return L;
}

/* keras-tcn's TCN layer (philipperemy/keras-tcn), computed as versions
 * 3.1.2 to 3.4.4 do: the ones whose config has use_weight_norm but not
 * go_backwards (3.5.0 added it); astrorapid's ZTF model pins 3.4.0.  Each
 * residual block (ResidualBlock.build/call there):
 *     x1 = act(conv1D_1(act(conv1D_0(x))))  (SpatialDropout1D: identity)
 *     x1 = act(x1)                           (the "Act_Conv_Blocks" layer:
 *                                             the activation twice, as
 *                                             those versions build it)
 *     out = act(matching_conv1D(x) + x1)     (1x1 conv only when the
 *                                             channels differ, else x)
 * skip = x1; the TCN returns the sum of every block's skip with
 * use_skip_connections, else the last block's out.  Weights live in the
 * TCN's group as <name>/residual_block_<i>/<conv>/kernel:0; the net layers
 * are named the same way (the loader splits the name at the first '/'). */
static int kimp_tcn(kimp *k, const char *name, json_t *cfg, int in0, int *idx)
{
    const char *cls = "TCN";
    char lname[NN_NAME_MAX + 64];
    int st, shape[NN_MAX_RANK];
    nn_act act;
    nn_padding pad;

    if (k->krank[in0] != 2)
        return kimp_unsupported(k, name, cls, "input of rank %d (needs time, features)",
                                k->krank[in0]);
    static const char *const off[] = {"use_batch_norm", "use_layer_norm", "use_weight_norm",
                                      "go_backwards", "return_state"};
    for (size_t i = 0; i < sizeof off / sizeof *off; i++)
        if (kj_bool(cfg, off[i], 0))
            return kimp_unsupported(k, name, cls, "option %s true is not supported", off[i]);
    if (!kj_bool(cfg, "return_sequences", 0))
        return kimp_unsupported(k, name, cls, "option return_sequences false is not supported "
                                "(a per-step model returns the sequence)");
    const char *padding = kj_str(cfg, "padding", "causal");
    if (!strcmp(padding, "causal"))
        pad = NN_PAD_CAUSAL;
    else if (!strcmp(padding, "same"))
        pad = NN_PAD_SAME;
    else
        return kimp_unsupported(k, name, cls, "padding '%s' (causal or same)", padding);
    if ((st = kimp_act(k, name, cls, cfg, "activation", "relu", &act)))
        return st;
    if (act == NN_ACT_SOFTMAX)
        return kimp_unsupported(k, name, cls, "activation softmax");
    int ks = (int)kj_num(cfg, "kernel_size", 3), stacks = (int)kj_num(cfg, "nb_stacks", 1);
    json_t *dil = json_object_get(cfg, "dilations"), *nbf = json_object_get(cfg, "nb_filters");
    size_t nd = json_array_size(dil);
    if (!json_is_array(dil) || nd == 0 || ks < 1 || stacks < 1 || stacks > 64)
        return kimp_bad(k, name, "TCN: missing or invalid dilations, kernel_size or nb_stacks");
    if (!(json_is_integer(nbf) || (json_is_array(nbf) && json_array_size(nbf) == nd)))
        return kimp_bad(k, name, "TCN: nb_filters is neither a number nor a list of one per "
                        "dilation");
    int trainable = kj_bool(cfg, "trainable", 1);

    int x = in0, skips[64 * 32], nb = 0;
    if ((st = kimp_shape_of(k, name, in0, shape)))
        return st;
    int cin = shape[1];
    for (int s = 0; s < stacks; s++)
        for (size_t i = 0; i < nd; i++, nb++) {
            json_t *dj = json_array_get(dil, i);
            int d = json_is_integer(dj) ? (int)json_integer_value(dj) : 0;
            int nf = (int)json_integer_value(json_is_array(nbf) ? json_array_get(nbf, i) : nbf);
            if (d < 1 || nf < 1 || nb >= (int)(sizeof skips / sizeof *skips))
                return kimp_bad(k, name, "TCN: invalid dilation, filter count or too many "
                                "blocks");
            int a, b, m, r;
            nn_layer L;
#define TCN_NAME(what) snprintf(lname, sizeof lname, "%s/residual_block_%d/%s", name, nb, what)
            TCN_NAME("conv1D_0");
            L = kimp_conv1d_spec(lname, nf, ks, d, pad, act);
            L.trainable = trainable;
            if ((st = kimp_push(k, cls, &L, 1, &x, 2, 0, &a)))
                return st;
            TCN_NAME("conv1D_1");
            L = kimp_conv1d_spec(lname, nf, ks, d, pad, act);
            L.trainable = trainable;
            if ((st = kimp_push(k, cls, &L, 1, &a, 2, 0, &b)))
                return st;
            TCN_NAME("Act_Conv_Blocks");
            L = nn_layer_defaults(NN_ACTIVATION, lname);
            L.act = act;
            if ((st = kimp_push(k, cls, &L, 1, &b, 2, 0, &skips[nb])))
                return st;
            m = x;
            if (nf != cin) {
                TCN_NAME("matching_conv1D");
                L = kimp_conv1d_spec(lname, nf, 1, 1, NN_PAD_SAME, NN_ACT_LINEAR);
                L.trainable = trainable;
                if ((st = kimp_push(k, cls, &L, 1, &x, 2, 0, &m)))
                    return st;
            }
            TCN_NAME("Add_Res");
            L = nn_layer_defaults(NN_ADD, lname);
            L.act = act; /* the block's final activation */
            int pair[2] = {m, skips[nb]};
            if ((st = kimp_push(k, cls, &L, 2, pair, 2, 0, &r)))
                return st;
#undef TCN_NAME
            x = r;
            cin = nf;
        }
    if (kj_bool(cfg, "use_skip_connections", 1) && nb > 1) {
        /* the sum of the skips, at most NN_MAX_INPUTS at a time */
        int acc = skips[0];
        for (int i = 1, part = 0; i < nb; part++) {
            int grp[NN_MAX_INPUTS], n = 0;
            grp[n++] = acc;
            while (n < NN_MAX_INPUTS && i < nb)
                grp[n++] = skips[i++];
            snprintf(lname, sizeof lname, part ? "%s/Add_Skip_Connections_%d"
                                               : "%s/Add_Skip_Connections%.0d", name, part);
            nn_layer L = nn_layer_defaults(NN_ADD, lname);
            if ((st = kimp_push(k, cls, &L, n, grp, 2, 0, &acc)))
                return st;
        }
        x = acc;
    } else if (kj_bool(cfg, "use_skip_connections", 1)) {
        x = skips[0]; /* one block: its skip (keras-tcn 3.5.0's reading) */
    }
    *idx = x;
    return 0;
}

/* ---- the Keras classes ----------------------------------------------------
 * keras_classes[] maps each Keras class name to a layer kind and the parser
 * of its config.  A parser gets p->L = nn_layer_defaults(kind, name),
 * p->rank_out = the input's rank and p->keeps_mask from KC_KEEPS_MASK, and
 * sets the hyper-parameters (and, for the classes that change them, the
 * output rank and whether the Keras mask travels on).  A KC_SELF parser
 * adds its layers itself and sets p->idx. */

typedef struct kparse {
    kimp *k;
    const char *cls, *name;
    json_t *cfg;
    int n_in;
    const int *in;
    int rin;          /* the Keras rank of in[0] (per sample)             */
    nn_layer L;
    int rank_out;
    int keeps_mask;   /* Keras layers that pass their input's mask on     */
    int idx;          /* KC_SELF: the index of the layer that stands for it */
} kparse;

enum {
    KC_KEEPS_MASK = 1, /* the Keras mask of in[0] travels on               */
    KC_MASKED = 2,     /* reads the Keras mask of in[0] as its in[1]       */
    KC_MULTI = 4,      /* takes 1..NN_MAX_INPUTS inputs (else exactly one) */
    KC_NEW_MASK = 8,   /* Masking: a new mask, from this layer's input     */
    KC_SELF = 16       /* the parser adds the layers itself                */
};

static int kimp_add_layer(kimp *k, const char *cls, json_t *cfg, const char *name, int n_in,
                          const int *in, int *idx);

#define KP_UNSUP(...) kimp_unsupported(p->k, p->name, p->cls, __VA_ARGS__)

/* the input must have the rank the layer kind's shape rule wants */
static int kp_rank(kparse *p)
{
    const nn_op *op = nn_op_of(p->L.kind);
    if (op && op->in_rank && p->rin != op->in_rank)
        return KP_UNSUP("input of rank %d (needs %s)", p->rin,
                        op->in_rank == 3   ? "H, W, C"
                        : op->in_rank == 2 ? "steps, channels"
                                           : "a vector");
    return 0;
}

static int kp_tcn(kparse *p)
{
    if (p->n_in != 1)
        return KP_UNSUP("%d inputs (one expected)", p->n_in);
    return kimp_tcn(p->k, p->name, p->cfg, p->in[0], &p->idx);
}

static int kp_time_distributed(kparse *p)
{
    json_t *inner = json_object_get(p->cfg, "layer");
    const char *icls = kj_str(inner, "class_name", "?");
    if (!json_is_object(inner) || strcmp(icls, "Dense"))
        return KP_UNSUP("only TimeDistributed(Dense) is supported, not TimeDistributed(%s)",
                        icls);
    if (p->rin != 2)
        return KP_UNSUP("TimeDistributed(Dense) needs a (time, features) input, got rank %d",
                        p->rin);
    /* Dense on (T, F) applies to every step: same computation, and the
     * weights live under the wrapper's name. */
    return kimp_add_layer(p->k, "Dense", json_object_get(inner, "config"), p->name, p->n_in,
                          p->in, &p->idx);
}

static int kp_masking(kparse *p)
{
    /* Keras: mask = any(x != mask_value) per step; the output is x with
     * masked steps zeroed, and the mask travels to the GRU/LSTM layers
     * downstream (through the per-step layers that pass masks on). */
    p->L.mask_value = (float)kj_num(p->cfg, "mask_value", 0.0);
    if (p->rin != 2)
        return KP_UNSUP("input of rank %d (needs time, features)", p->rin);
    if (!isfinite(p->L.mask_value))
        return KP_UNSUP("mask_value %g", (double)p->L.mask_value);
    return 0;
}

/* Conv2D, DepthwiseConv2D, SeparableConv2D */
static int kp_conv2d(kparse *p)
{
    kimp *k = p->k;
    nn_layer *L = &p->L;
    int st;
    if ((st = kimp_check_format(k, p->name, p->cls, p->cfg)) ||
        (st = kimp_check_dilation(k, p->name, p->cls, p->cfg)) ||
        (st = kimp_padding(k, p->name, p->cls, p->cfg, &L->padding)) ||
        (st = kimp_kernel_strides(k, p->name, p->cls, p->cfg, "kernel_size", L)) ||
        (st = kimp_act(k, p->name, p->cls, p->cfg, "activation", "linear", &L->act)))
        return st;
    if (L->kind != NN_DEPTHWISE_CONV2D)
        L->filters = (int)kj_num(p->cfg, "filters", 0);
    if (L->kind != NN_CONV2D)
        L->depth_multiplier = (int)kj_num(p->cfg, "depth_multiplier", 1);
    L->use_bias = kj_bool(p->cfg, "use_bias", 1);
    p->rank_out = 3;
    return kp_rank(p);
}

static int kp_pool2d(kparse *p)
{
    int st;
    if ((st = kimp_check_format(p->k, p->name, p->cls, p->cfg)) ||
        (st = kimp_padding(p->k, p->name, p->cls, p->cfg, &p->L.padding)) ||
        (st = kimp_kernel_strides(p->k, p->name, p->cls, p->cfg, "pool_size", &p->L)))
        return st;
    p->rank_out = 3;
    return kp_rank(p);
}

/* GlobalAveragePooling1D/2D: channels last, keepdims false; the output is
 * a vector of channels.  The needed input rank is the kind's. */
static int kp_global_pool(kparse *p)
{
    int st;
    if ((st = kimp_check_format(p->k, p->name, p->cls, p->cfg)))
        return st;
    if (kj_bool(p->cfg, "keepdims", 0))
        return KP_UNSUP("keepdims true");
    p->rank_out = 1;
    return kp_rank(p);
}

static int kp_conv1d(kparse *p)
{
    int ks[2] = {0, 0}, sd[2] = {1, 1}, dl[2] = {1, 1}, st;
    json_t *cfg = p->cfg;
    const char *pd = kj_str(cfg, "padding", "valid");
    nn_padding pad;
    if (!strcmp(pd, "valid"))
        pad = NN_PAD_VALID;
    else if (!strcmp(pd, "same"))
        pad = NN_PAD_SAME;
    else if (!strcmp(pd, "causal"))
        pad = NN_PAD_CAUSAL;
    else
        return KP_UNSUP("padding '%s' (valid, same or causal)", pd);
    if (kj_pair(cfg, "kernel_size", ks) != 0 || ks[0] < 1 || kj_pair(cfg, "strides", sd) < 0 ||
        sd[0] < 1 || kj_pair(cfg, "dilation_rate", dl) < 0 || dl[0] < 1)
        return kimp_bad(p->k, p->name, "missing or invalid kernel_size, strides or dilation_rate");
    if (sd[0] != 1 && dl[0] != 1)
        return KP_UNSUP("strides and dilation_rate both above 1");
    if (kj_num(cfg, "groups", 1) != 1)
        return KP_UNSUP("groups other than 1");
    if ((st = kimp_check_format(p->k, p->name, p->cls, cfg)))
        return st;
    nn_act act;
    if ((st = kimp_act(p->k, p->name, p->cls, cfg, "activation", "linear", &act)))
        return st;
    if (act == NN_ACT_SOFTMAX)
        return KP_UNSUP("activation softmax");
    p->L = kimp_conv1d_spec(p->name, (int)kj_num(cfg, "filters", 0), ks[0], dl[0], pad, act);
    p->L.sh = sd[0];
    p->L.use_bias = kj_bool(cfg, "use_bias", 1);
    if (p->rin != 2)
        return KP_UNSUP("input of rank %d (needs time, channels)", p->rin);
    return 0;
}

static int kp_dense(kparse *p)
{
    int st;
    if ((st = kimp_act(p->k, p->name, p->cls, p->cfg, "activation", "linear", &p->L.act)))
        return st;
    p->L.units = (int)kj_num(p->cfg, "units", 0);
    p->L.use_bias = kj_bool(p->cfg, "use_bias", 1);
    if (p->rin != 1 && p->rin != 2)
        return KP_UNSUP("input of rank %d (the engine's Dense takes a vector or a (time, "
                        "features) sequence)", p->rin);
    return 0;
}

static int kp_flatten(kparse *p)
{
    p->rank_out = 1;
    return kimp_check_format(p->k, p->name, p->cls, p->cfg);
}

/* Dropout and the noise layers: all the identity at inference; only plain
 * Dropout is reproduced in training */
static int kp_dropout(kparse *p)
{
    p->L.rate = strcmp(p->cls, "Dropout") ? 0.0f : (float)kj_num(p->cfg, "rate", 0.0);
    return 0;
}

static int kp_batchnorm(kparse *p)
{
    json_t *axis = json_object_get(p->cfg, "axis");
    if (axis && !kimp_is_last_axis(axis, p->rin))
        return KP_UNSUP("axis other than the last (channels) axis");
    if (kj_bool(p->cfg, "renorm", 0))
        return KP_UNSUP("renorm true");
    if (json_is_integer(json_object_get(p->cfg, "virtual_batch_size")))
        return KP_UNSUP("virtual_batch_size");
    p->L.epsilon = (float)kj_num(p->cfg, "epsilon", 1e-3);
    p->L.momentum = (float)kj_num(p->cfg, "momentum", 0.99);
    return 0;
}

static int kp_concat(kparse *p)
{
    json_t *axis = json_object_get(p->cfg, "axis");
    if (axis && !kimp_is_last_axis(axis, p->rin))
        return KP_UNSUP("axis %lld is not the last axis", (long long)json_integer_value(axis));
    for (int i = 1; i < p->n_in; i++)
        if (p->k->krank[p->in[i]] != p->rin)
            return KP_UNSUP("inputs of different ranks");
    p->L.concat_axis = -1;
    return 0;
}

/* GRU, LSTM */
static int kp_recurrent(kparse *p)
{
    kimp *k = p->k;
    nn_layer *L = &p->L;
    json_t *cfg = p->cfg;
    int lstm = L->kind == NN_LSTM, st;
    if ((st = kimp_act(k, p->name, p->cls, cfg, "activation", "tanh", &L->act)))
        return st;
    if (L->act == NN_ACT_SOFTMAX)
        return KP_UNSUP("activation softmax");
    if ((st = kimp_act(k, p->name, p->cls, cfg, "recurrent_activation", "hard_sigmoid",
                       &L->recurrent_act)))
        return st;
    if (L->recurrent_act != NN_ACT_SIGMOID && L->recurrent_act != NN_ACT_HARD_SIGMOID &&
        L->recurrent_act != NN_ACT_HARD_SIGMOID_K3)
        return KP_UNSUP("recurrent_activation other than sigmoid or hard_sigmoid");
    if (kj_bool(cfg, "go_backwards", 0))
        return KP_UNSUP("go_backwards true");
    if (kj_bool(cfg, "stateful", 0))
        return KP_UNSUP("stateful true");
    if (kj_bool(cfg, "return_state", 0))
        return KP_UNSUP("return_state true");
    if (kj_bool(cfg, "time_major", 0))
        return KP_UNSUP("time_major true");
    if (!lstm && !kj_bool(cfg, "use_bias", 1))
        return KP_UNSUP("use_bias false");
    L->use_bias = kj_bool(cfg, "use_bias", 1);
    L->units = (int)kj_num(cfg, "units", 0);
    L->return_sequences = kj_bool(cfg, "return_sequences", 0);
    /* Keras 2.2.4 GRU: reset_after false; tf.keras 2.x: true */
    L->reset_after = lstm ? 0 : kj_bool(cfg, "reset_after", k->keras_major >= 3);
    if (p->rin != 2)
        return KP_UNSUP("input of rank %d (needs time, features)", p->rin);
    p->rank_out = L->return_sequences ? 2 : 1;
    p->keeps_mask = L->return_sequences;
    return 0;
}

static int kp_activation(kparse *p)
{
    return kimp_act(p->k, p->name, p->cls, p->cfg, "activation", "linear", &p->L.act);
}

static int kp_leaky_relu(kparse *p)
{
    p->L.act = NN_ACT_LEAKY_RELU;
    p->L.alpha = (float)kj_num(p->cfg, "alpha", kj_num(p->cfg, "negative_slope", 0.3));
    return 0;
}

static int kp_relu(kparse *p)
{
    json_t *mv = json_object_get(p->cfg, "max_value");
    if (mv && !json_is_null(mv))
        return KP_UNSUP("max_value");
    if (kj_num(p->cfg, "threshold", 0) != 0)
        return KP_UNSUP("threshold other than 0");
    double slope = kj_num(p->cfg, "negative_slope", 0);
    p->L.act = slope != 0 ? NN_ACT_LEAKY_RELU : NN_ACT_RELU;
    p->L.alpha = (float)slope;
    return 0;
}

static int kp_softmax(kparse *p)
{
    json_t *axis = json_object_get(p->cfg, "axis");
    if (axis && !kimp_is_last_axis(axis, p->rin))
        return KP_UNSUP("axis other than the last");
    p->L.act = NN_ACT_SOFTMAX;
    return 0;
}

#undef KP_UNSUP

static const struct kclass {
    const char *cls;
    nn_kind kind;
    int (*parse)(kparse *p);
    int flags;
} keras_classes[] = {
    {"TCN", NN_ADD, kp_tcn, KC_SELF},
    {"TimeDistributed", NN_DENSE, kp_time_distributed, KC_SELF},
    {"Masking", NN_MASKING, kp_masking, KC_NEW_MASK},
    {"Conv2D", NN_CONV2D, kp_conv2d, 0},
    {"Convolution2D", NN_CONV2D, kp_conv2d, 0},
    {"DepthwiseConv2D", NN_DEPTHWISE_CONV2D, kp_conv2d, 0},
    {"SeparableConv2D", NN_SEPARABLE_CONV2D, kp_conv2d, 0},
    {"SeparableConvolution2D", NN_SEPARABLE_CONV2D, kp_conv2d, 0},
    {"MaxPooling2D", NN_MAXPOOL2D, kp_pool2d, 0},
    {"MaxPool2D", NN_MAXPOOL2D, kp_pool2d, 0},
    {"AveragePooling2D", NN_AVGPOOL2D, kp_pool2d, 0},
    {"AvgPool2D", NN_AVGPOOL2D, kp_pool2d, 0},
    {"GlobalAveragePooling2D", NN_GLOBAL_AVGPOOL2D, kp_global_pool, 0},
    {"GlobalAvgPool2D", NN_GLOBAL_AVGPOOL2D, kp_global_pool, 0},
    {"Conv1D", NN_CONV1D, kp_conv1d, 0},
    {"Convolution1D", NN_CONV1D, kp_conv1d, 0},
    {"Dense", NN_DENSE, kp_dense, KC_KEEPS_MASK},
    {"Flatten", NN_FLATTEN, kp_flatten, 0},
    {"Dropout", NN_DROPOUT, kp_dropout, KC_KEEPS_MASK},
    {"SpatialDropout1D", NN_DROPOUT, kp_dropout, KC_KEEPS_MASK},
    {"SpatialDropout2D", NN_DROPOUT, kp_dropout, KC_KEEPS_MASK},
    {"GaussianDropout", NN_DROPOUT, kp_dropout, KC_KEEPS_MASK},
    {"AlphaDropout", NN_DROPOUT, kp_dropout, KC_KEEPS_MASK},
    {"GaussianNoise", NN_DROPOUT, kp_dropout, KC_KEEPS_MASK},
    {"BatchNormalization", NN_BATCHNORM, kp_batchnorm, KC_KEEPS_MASK},
    {"Concatenate", NN_CONCAT, kp_concat, KC_MULTI},
    {"GlobalAveragePooling1D", NN_GLOBAL_AVGPOOL1D, kp_global_pool, KC_MASKED},
    {"GRU", NN_GRU, kp_recurrent, KC_MASKED},
    {"LSTM", NN_LSTM, kp_recurrent, KC_MASKED},
    {"Activation", NN_ACTIVATION, kp_activation, KC_KEEPS_MASK},
    {"LeakyReLU", NN_ACTIVATION, kp_leaky_relu, KC_KEEPS_MASK},
    {"ReLU", NN_ACTIVATION, kp_relu, KC_KEEPS_MASK},
    {"Softmax", NN_ACTIVATION, kp_softmax, KC_KEEPS_MASK},
};

/* Add the Keras layer (class cls, config cfg, Keras name `name`) reading
 * the net layers in[0..n_in).  On success *idx is the new layer's index. */
static int kimp_add_layer(kimp *k, const char *cls, json_t *cfg, const char *name, int n_in,
                          const int *in, int *idx)
{
    int st;
    if (strlen(name) >= NN_NAME_MAX)
        return kimp_unsupported(k, name, cls, "layer name longer than %d characters",
                                NN_NAME_MAX - 1);
    if (strchr(name, '/'))
        return kimp_unsupported(k, name, cls, "a '/' in the layer name");
    if (!json_is_object(cfg))
        return kimp_bad(k, name, "no config object");
    if (n_in > NN_MAX_INPUTS)
        return kimp_unsupported(k, name, cls, "more than %d inputs", NN_MAX_INPUTS);

    const struct kclass *kc = NULL;
    for (size_t i = 0; i < sizeof keras_classes / sizeof keras_classes[0] && !kc; i++)
        if (!strcmp(cls, keras_classes[i].cls))
            kc = &keras_classes[i];
    if (!kc)
        return kimp_unsupported(k, name, cls, "layer class '%s' is not supported", cls);

    kparse p = {.k = k, .cls = cls, .name = name, .cfg = cfg, .n_in = n_in, .in = in,
                .rin = kimp_input_rank(k, n_in, in), .idx = -1};
    p.L = nn_layer_defaults(kc->kind, name);
    p.rank_out = p.rin;
    p.keeps_mask = (kc->flags & KC_KEEPS_MASK) != 0;
    if ((st = kc->parse(&p)))
        return st;
    if (kc->flags & KC_SELF) {
        *idx = p.idx;
        return 0;
    }
    nn_layer L = p.L;

    /* options that change the computation of any layer */
    if (json_is_object(json_object_get(cfg, "dtype")) ||
        (kj_str(cfg, "dtype", NULL) && strcmp(kj_str(cfg, "dtype", ""), "float32")))
        return kimp_unsupported(k, name, cls, "dtype '%s' (only float32)",
                                kj_str(cfg, "dtype", "policy object"));
    if (!(kc->flags & KC_MULTI) && n_in != 1)
        return kimp_unsupported(k, name, cls, "%d inputs (one expected)", n_in);
    /* Keras merges the masks of a Concatenate's inputs; the engine carries
     * masks only along single-input chains */
    if (kc->flags & KC_MULTI)
        for (int i = 0; i < n_in; i++)
            if (k->mask_src[in[i]] >= 0)
                return kimp_unsupported(k, name, cls, "an input that carries a Keras mask "
                                        "(from Masking)");

    L.trainable = kj_bool(cfg, "trainable", 1);
    if ((kc->flags & KC_MASKED) && n_in == 1 && k->mask_src[in[0]] >= 0) {
        /* masked: the mask is in[1] */
        int in2[2] = {in[0], k->mask_src[in[0]]};
        L.mask_value = k->mask_val[in[0]];
        k->n_masked++;
        st = kimp_push(k, cls, &L, 2, in2, p.rank_out, p.keeps_mask, idx);
        if (!st && p.keeps_mask) { /* the mask travels on */
            k->mask_src[*idx] = in2[1];
            k->mask_val[*idx] = L.mask_value;
        }
        return st;
    }
    if ((st = kimp_push(k, cls, &L, n_in, in, p.rank_out, p.keeps_mask, idx)))
        return st;
    if (kc->flags & KC_NEW_MASK) { /* a new mask, from this layer's input */
        k->mask_src[*idx] = in[0];
        k->mask_val[*idx] = L.mask_value;
        if (isnan(k->first_mask))
            k->first_mask = L.mask_value;
    }
    return 0;
}

/* An input layer with a per-sample shape from a Keras batch shape
 * ([null, d1, d2, ...]). */
static int kimp_add_input(kimp *k, const char *name, json_t *batch_shape, int *idx)
{
    nn_layer L = nn_layer_defaults(NN_INPUT, name);
    size_t n = json_array_size(batch_shape);
    if (strlen(name) >= NN_NAME_MAX)
        return kimp_unsupported(k, name, "InputLayer", "layer name longer than %d characters",
                                NN_NAME_MAX - 1);
    if (!json_is_array(batch_shape) || n < 2)
        return kimp_bad(k, name, "missing or invalid batch_input_shape");
    if (n - 1 > NN_MAX_RANK)
        return kimp_unsupported(k, name, "InputLayer", "input of rank %zu (at most %d)", n - 1,
                                NN_MAX_RANK);
    L.rank = (int)(n - 1);
    for (size_t i = 1; i < n; i++) {
        json_t *d = json_array_get(batch_shape, i);
        if (json_is_null(d) && n == 3 && i == 1) { /* a sequence of free length */
            if (k->steps < 1)
                return kimp_unsupported(k, name, "InputLayer", "the number of time steps is "
                                        "free (None): give it (--steps)");
            L.shape[0] = k->steps;
            continue;
        }
        if (json_is_null(d))
            return kimp_unsupported(k, name, "InputLayer", "input dimension %zu is variable "
                                    "(None); the engine needs fixed shapes", i);
        if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 1 << 24)
            return kimp_bad(k, name, "invalid input dimension %zu", i);
        L.shape[i - 1] = (int)json_integer_value(d);
    }
    int r = nn_net_add(k->net, &L, k->err);
    if (r < 0)
        return sv_error_prefix(k->err, "%s: input '%s': ", k->src, name);
    k->krank[r] = L.rank;
    k->mask_src[r] = -1;
    *idx = r;
    return 0;
}

static json_t *kimp_batch_shape(json_t *cfg)
{
    json_t *s = json_object_get(cfg, "batch_input_shape");
    if (!s)
        s = json_object_get(cfg, "batch_shape");
    return json_is_array(s) ? s : NULL;
}

static int kimp_check_input_cfg(kimp *k, const char *name, json_t *cfg)
{
    if (kj_bool(cfg, "sparse", 0))
        return kimp_unsupported(k, name, "InputLayer", "sparse input");
    if (kj_bool(cfg, "ragged", 0))
        return kimp_unsupported(k, name, "InputLayer", "ragged input");
    const char *dt = kj_str(cfg, "dtype", "float32");
    if (strcmp(dt, "float32"))
        return kimp_unsupported(k, name, "InputLayer", "dtype '%s' (only float32)", dt);
    return 0;
}

/* The shape of the `kernel` weight of Keras layer `layer` in the weights
 * group, into dims[0..*rank); 0, or -1 when there is none. */
static int kimp_peek_kernel(kimp *k, const char *layer, hsize_t dims[4], int *rank)
{
    h5strs wn = {0, NULL};
    int found = -1;
    if (k->wroot < 0 || !h5_path_exists(k->wroot, layer))
        return -1;
    hid_t g = H5Gopen2(k->wroot, layer, H5P_DEFAULT);
    if (g < 0)
        return -1;
    if (h5_read_strings(g, "weight_names", k->src, &wn, NULL) == 0)
        for (int i = 0; i < wn.n && found < 0; i++) {
            char pname[64];
            keras_weight_param_name(wn.s[i], pname, sizeof pname);
            if (strcmp(pname, "kernel") || !h5_path_exists(g, wn.s[i]))
                continue;
            hid_t ds = H5Dopen2(g, wn.s[i], H5P_DEFAULT);
            hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
            int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
            if (r >= 1 && r <= 4 && H5Sget_simple_extent_dims(sp, dims, NULL) == r) {
                *rank = r;
                found = 0;
            }
            if (sp >= 0)
                H5Sclose(sp);
            if (ds >= 0)
                H5Dclose(ds);
        }
    h5strs_free(&wn);
    H5Gclose(g);
    return found;
}

/* The input of a Sequential model saved without batch_input_shape (Keras
 * builds it at the first call): from the config's build_input_shape, else
 * from the first weighted layer's kernel (the feature count; a sequence's
 * time axis is then free).  A new JSON batch shape, or NULL with err set. */
static json_t *kimp_sequential_input(kimp *k, json_t *layers, json_t *build_shape)
{
    if (json_is_array(build_shape))
        return json_incref(build_shape);
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *lj = json_array_get(layers, i);
        const char *cls = kj_str(lj, "class_name", "");
        const char *name = kj_str(json_object_get(lj, "config"), "name", "");
        hsize_t d[4];
        int r = 0;
        if (kimp_peek_kernel(k, name, d, &r))
            continue;
        int seq = !strcmp(cls, "GRU") || !strcmp(cls, "LSTM") || !strcmp(cls, "TimeDistributed");
        if (seq && r == 2)
            return json_pack("[n,n,I]", (json_int_t)d[0]);
        if (!strcmp(cls, "Conv1D") && r == 3)
            return json_pack("[n,n,I]", (json_int_t)d[1]);
        if (!strcmp(cls, "Dense") && r == 2)
            return json_pack("[n,I]", (json_int_t)d[0]);
        kimp_unsupported(k, name, cls, "the model has no batch_input_shape and its first "
                         "weighted layer does not give the input shape");
        return NULL;
    }
    kimp_bad(k, kj_str(json_object_get(json_array_get(layers, 0), "config"), "name", NULL),
             "the Sequential model has no batch_input_shape, no build_input_shape and no "
             "weights to take the input shape from");
    return NULL;
}

/* Sequential: a chain.  `layers` is the JSON array of {class_name, config};
 * build_shape the config's build_input_shape (or NULL). */
static int kimp_sequential(kimp *k, json_t *layers, json_t *build_shape)
{
    size_t n = json_array_size(layers);
    int prev = -1;
    if (!json_is_array(layers) || n == 0)
        return kimp_bad(k, NULL, "Sequential model without layers");
    for (size_t i = 0; i < n; i++) {
        json_t *lj = json_array_get(layers, i);
        const char *cls = kj_str(lj, "class_name", NULL);
        json_t *cfg = json_object_get(lj, "config");
        const char *name = kj_str(cfg, "name", NULL);
        int st, idx;
        if (!cls || !name)
            return kimp_bad(k, NULL, "layer %zu of the Sequential model has no class_name or "
                            "name", i);
        if (!strcmp(cls, "InputLayer")) {
            if (prev >= 0)
                return kimp_unsupported(k, name, cls, "InputLayer inside a Sequential model");
            if ((st = kimp_check_input_cfg(k, name, cfg)) ||
                (st = kimp_add_input(k, name, kimp_batch_shape(cfg), &prev)))
                return st;
            continue;
        }
        if (prev < 0) {
            json_t *bs = kimp_batch_shape(cfg);
            char iname[NN_NAME_MAX + 8];
            bs = bs ? json_incref(bs) : kimp_sequential_input(k, layers, build_shape);
            if (!bs)
                return k->err ? k->err->status : SV_ERR_FORMAT;
            snprintf(iname, sizeof iname, "%.56s_input", name);
            st = kimp_add_input(k, iname, bs, &prev);
            json_decref(bs);
            if (st)
                return st;
        }
        if ((st = kimp_add_layer(k, cls, cfg, name, 1, &prev, &idx)))
            return st;
        prev = idx;
    }
    k->net->output = prev;
    return 0;
}

/* Collect the producer names of one inbound node.  Keras 2: a list of
 * [name, node_index, tensor_index, kwargs]; Keras 3: {"args": [...]} with
 * {"config": {"keras_history": [name, node, tensor]}} tensors inside. */
static int kimp_node_collect(json_t *v, const char **names, int *n, int max)
{
    if (json_is_array(v)) {
        if (json_array_size(v) >= 3 && json_is_string(json_array_get(v, 0)) &&
            json_is_integer(json_array_get(v, 1)) && json_is_integer(json_array_get(v, 2))) {
            if (json_integer_value(json_array_get(v, 2)) != 0 ||
                json_integer_value(json_array_get(v, 1)) != 0)
                return -2; /* a shared layer's later node or a multi-output layer */
            if (*n >= max)
                return -1;
            names[(*n)++] = json_string_value(json_array_get(v, 0));
            return 0;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            int r = kimp_node_collect(json_array_get(v, i), names, n, max);
            if (r)
                return r;
        }
        return 0;
    }
    if (json_is_object(v)) {
        json_t *cfg = json_object_get(v, "config");
        json_t *hist = json_object_get(cfg, "keras_history");
        if (hist)
            return kimp_node_collect(hist, names, n, max);
        json_t *args = json_object_get(v, "args");
        if (args)
            return kimp_node_collect(args, names, n, max);
    }
    return 0;
}

/* [name, 0, 0] or [[name, 0, 0], ...] -> names. */
static int kimp_io_list(kimp *k, json_t *v, const char *what, const char **names, int *n,
                        int max)
{
    *n = 0;
    if (json_is_array(v) && json_array_size(v) > 0 && json_is_string(json_array_get(v, 0))) {
        names[(*n)++] = json_string_value(json_array_get(v, 0));
        return 0;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_array(e) || !json_is_string(json_array_get(e, 0)))
            return kimp_bad(k, NULL, "malformed %s", what);
        if (*n >= max)
            return kimp_unsupported(k, json_string_value(json_array_get(e, 0)), "Model",
                                    "more than %d %s", max, what);
        names[(*n)++] = json_string_value(json_array_get(e, 0));
    }
    if (*n == 0)
        return kimp_bad(k, NULL, "no %s", what);
    return 0;
}

/* Functional model: layers with inbound_nodes, input_layers, output_layers. */
static int kimp_functional(kimp *k, json_t *config)
{
    json_t *layers = json_object_get(config, "layers");
    size_t n = json_array_size(layers);
    const char *in_names[NN_MAX_NET_INPUTS];
    const char *out_names[2];
    int n_inputs, n_outputs, st;

    if (!json_is_array(layers) || n == 0)
        return kimp_bad(k, NULL, "functional model without layers");
    if (n >= KIMP_MAX_LAYERS)
        return kimp_bad(k, NULL, "more than %d layers", KIMP_MAX_LAYERS);
    if ((st = kimp_io_list(k, json_object_get(config, "input_layers"), "input_layers", in_names,
                           &n_inputs, NN_MAX_NET_INPUTS)))
        return st;
    if ((st = kimp_io_list(k, json_object_get(config, "output_layers"), "output_layers",
                           out_names, &n_outputs, 2)))
        return st;
    if (n_outputs != 1)
        return kimp_unsupported(k, out_names[1], "Model", "more than one model output");

    int *net_idx = malloc(n * sizeof *net_idx);
    if (!net_idx)
        return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
    for (size_t i = 0; i < n; i++)
        net_idx[i] = -1;

    /* the name and the JSON of every layer */
#define KLAYER(i) json_array_get(layers, (i))
#define KCFG(i) json_object_get(KLAYER(i), "config")
#define KNAME(i) kj_str(KLAYER(i), "name", kj_str(KCFG(i), "name", NULL))
    for (size_t i = 0; i < n; i++) {
        if (!KNAME(i) || !kj_str(KLAYER(i), "class_name", NULL)) {
            st = kimp_bad(k, NULL, "layer %zu has no name or class_name", i);
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(KNAME(i), KNAME(j))) {
                st = kimp_bad(k, KNAME(i), "two layers with this name");
                goto done;
            }
    }

    /* network inputs first: stamp (rank 3), then vectors (rank 1), then
     * anything else, so that input 0 is the stamp and input 1 the features */
    for (int pass = 0; pass < 3; pass++) {
        for (int a = 0; a < n_inputs; a++) {
            size_t i;
            for (i = 0; i < n; i++)
                if (!strcmp(KNAME(i), in_names[a]))
                    break;
            if (i == n) {
                st = kimp_bad(k, in_names[a], "named in input_layers but not defined");
                goto done;
            }
            if (net_idx[i] >= 0)
                continue;
            const char *cls = kj_str(KLAYER(i), "class_name", "");
            if (strcmp(cls, "InputLayer")) {
                st = kimp_unsupported(k, in_names[a], cls, "model input that is not an "
                                      "InputLayer (nested model?)");
                goto done;
            }
            json_t *bs = kimp_batch_shape(KCFG(i));
            int r = bs ? (int)json_array_size(bs) - 1 : 0;
            if ((pass == 0 && r != 3) || (pass == 1 && r != 1))
                continue;
            if ((st = kimp_check_input_cfg(k, in_names[a], KCFG(i))) ||
                (st = kimp_add_input(k, in_names[a], bs, &net_idx[i])))
                goto done;
        }
    }

    /* the rest in dependency order */
    for (;;) {
        int progress = 0, pending = 0;
        for (size_t i = 0; i < n; i++) {
            if (net_idx[i] >= 0)
                continue;
            const char *cls = kj_str(KLAYER(i), "class_name", "");
            const char *name = KNAME(i);
            if (!strcmp(cls, "InputLayer")) {
                st = kimp_bad(k, name, "InputLayer not listed in input_layers");
                goto done;
            }
            if (!strcmp(cls, "Model") || !strcmp(cls, "Functional") || !strcmp(cls, "Sequential")) {
                st = kimp_unsupported(k, name, cls, "nested models are not supported");
                goto done;
            }
            json_t *nodes = json_object_get(KLAYER(i), "inbound_nodes");
            if (!json_is_array(nodes) || json_array_size(nodes) == 0) {
                st = kimp_bad(k, name, "no inbound_nodes");
                goto done;
            }
            if (json_array_size(nodes) > 1) {
                st = kimp_unsupported(k, name, cls, "layer shared between %zu calls",
                                      json_array_size(nodes));
                goto done;
            }
            const char *pn[NN_MAX_INPUTS];
            int npn = 0, in[NN_MAX_INPUTS], ready = 1;
            int cr = kimp_node_collect(json_array_get(nodes, 0), pn, &npn, NN_MAX_INPUTS);
            if (cr == -2) {
                st = kimp_unsupported(k, name, cls, "input from a shared layer's later call or "
                                      "a multi-output layer");
                goto done;
            }
            if (cr == -1) {
                st = kimp_unsupported(k, name, cls, "more than %d inputs", NN_MAX_INPUTS);
                goto done;
            }
            if (npn == 0) {
                st = kimp_bad(k, name, "inbound node names no layer");
                goto done;
            }
            for (int a = 0; a < npn && ready; a++) {
                size_t j;
                for (j = 0; j < n; j++)
                    if (!strcmp(KNAME(j), pn[a]))
                        break;
                if (j == n) {
                    st = kimp_bad(k, name, "input from undefined layer '%s'", pn[a]);
                    goto done;
                }
                if (net_idx[j] < 0)
                    ready = 0;
                else
                    in[a] = net_idx[j];
            }
            if (!ready) {
                pending++;
                continue;
            }
            if ((st = kimp_add_layer(k, cls, KCFG(i), name, npn, in, &net_idx[i])))
                goto done;
            progress++;
        }
        if (!pending)
            break;
        if (!progress) {
            st = kimp_bad(k, NULL, "the layer graph has a cycle or unreachable layers");
            goto done;
        }
    }

    k->net->output = -1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(KNAME(i), out_names[0]))
            k->net->output = net_idx[i];
    if (k->net->output < 0) {
        st = kimp_bad(k, out_names[0], "named in output_layers but not defined");
        goto done;
    }
    st = 0;
done:
#undef KLAYER
#undef KCFG
#undef KNAME
    free(net_idx);
    return st;
}

/* What the architecture reader may know besides the JSON. */
typedef struct kimp_ctx {
    int keras_major; /* of the Keras that wrote the file (2 unless told)    */
    int steps;       /* time steps for a free time axis, 0 = not given      */
    hid_t wroot;     /* the weights group (input shapes), or -1            */
} kimp_ctx;

static int kimp_net_from_json(const char *json_text, const char *src, const kimp_ctx *ctx,
                              nn_net **out, double *mask, sv_error *err);

int sv_keras_net_from_json(const char *json_text, const char *src, nn_net **out, sv_error *err)
{
    kimp_ctx ctx = {2, 0, -1};
    return kimp_net_from_json(json_text, src, &ctx, out, NULL, err);
}

/* The same, with ctx, and *mask (if non-NULL) = the first Masking layer's
 * mask_value, NaN without one. */
static int kimp_net_from_json(const char *json_text, const char *src, const kimp_ctx *ctx,
                              nn_net **out, double *mask, sv_error *err)
{
    json_error_t jerr;
    int st;
    kimp *k;
    *out = NULL;
    json_t *root = json_loads(json_text, JSON_DECODE_ANY, &jerr);
    if (!root)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: invalid JSON at line %d: %s", src,
                            jerr.line, jerr.text);
    k = calloc(1, sizeof *k);
    if (!k) {
        json_decref(root);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", src);
    }
    k->src = src;
    k->err = err;
    k->keras_major = ctx->keras_major;
    k->steps = ctx->steps;
    k->wroot = ctx->wroot;
    k->first_mask = NAN;
    k->net = nn_net_new();
    if (!k->net) {
        st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", src);
        goto fail;
    }
    const char *cls = kj_str(root, "class_name", NULL);
    json_t *config = json_object_get(root, "config");
    if (!cls || !config) {
        st = kimp_bad(k, NULL, "not a Keras model configuration (no class_name/config)");
        goto fail;
    }
    if (!strcmp(cls, "Sequential")) {
        st = json_is_array(config)
                 ? kimp_sequential(k, config, NULL)
                 : kimp_sequential(k, json_object_get(config, "layers"),
                                   json_object_get(config, "build_input_shape"));
    } else if (!strcmp(cls, "Model") || !strcmp(cls, "Functional")) {
        st = kimp_functional(k, config);
    } else {
        st = sv_error_set(err, SV_ERR_UNSUPPORTED, "%s: model class '%s' is not supported "
                          "(Sequential, Model, Functional are)", src, cls);
    }
    if (st)
        goto fail;

    /* network inputs: the InputLayers in the order they were added */
    k->net->n_inputs = 0;
    for (int i = 0; i < k->net->n_layers; i++)
        if (k->net->layers[i].kind == NN_INPUT) {
            if (k->net->n_inputs >= NN_MAX_NET_INPUTS) {
                st = sv_error_set(err, SV_ERR_UNSUPPORTED, "%s: more than %d model inputs",
                                  src, NN_MAX_NET_INPUTS);
                goto fail;
            }
            k->net->inputs[k->net->n_inputs++] = i;
        }
    if ((st = nn_net_finalize(k->net, err))) {
        sv_error_prefix(err, "%s: ", src);
        goto fail;
    }
    *out = k->net;
    if (mask)
        *mask = k->first_mask;
    free(k);
    json_decref(root);
    return 0;
fail:
    nn_net_free(k->net);
    free(k);
    json_decref(root);
    return st ? st : SV_ERR_INTERNAL;
}

/* ======================================================================
 * weights: HDF5 -> nn_param
 * ==================================================================== */

static void h5strs_free(h5strs *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    l->s = NULL;
    l->n = 0;
}

/* Read a string attribute (scalar or 1-D array; variable- or fixed-length
 * strings; an empty non-string array reads as no strings).  Returns 0, 1 when
 * the attribute does not exist, or a negative status with err set. */
static int h5_read_strings(hid_t obj, const char *attr, const char *where, h5strs *out,
                           sv_error *err)
{
    hid_t aid = -1, ftype = -1, mtype = -1, space = -1;
    int st = 0;
    out->n = 0;
    out->s = NULL;
    htri_t ex = H5Aexists(obj, attr);
    if (ex == 0)
        return 1;
    if (ex < 0)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: cannot read attribute '%s'", where, attr);
    if ((aid = H5Aopen(obj, attr, H5P_DEFAULT)) < 0 || (ftype = H5Aget_type(aid)) < 0 ||
        (space = H5Aget_space(aid)) < 0) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: cannot open attribute '%s'", where, attr);
        goto done;
    }
    hssize_t np = H5Sget_simple_extent_npoints(space);
    if (np < 0 || np > 1000000) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: attribute '%s' has an invalid size", where,
                          attr);
        goto done;
    }
    if (H5Tget_class(ftype) != H5T_STRING) {
        if (np == 0)
            goto done; /* Keras writes an empty float64 array for "no weights" */
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: attribute '%s' is not a string", where, attr);
        goto done;
    }
    if (np == 0)
        goto done;
    out->s = calloc((size_t)np, sizeof *out->s);
    if (!out->s) {
        st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    if (H5Tis_variable_str(ftype) > 0) {
        char **vs = calloc((size_t)np, sizeof *vs);
        mtype = H5Tcopy(H5T_C_S1);
        if (!vs || mtype < 0 || H5Tset_size(mtype, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0) {
            free(vs);
            st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", where);
            goto done;
        }
        if (H5Aread(aid, mtype, vs) < 0) {
            free(vs);
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: cannot read attribute '%s'", where, attr);
            goto done;
        }
        for (hssize_t i = 0; i < np; i++) {
            out->s[i] = strdup(vs[i] ? vs[i] : "");
            if (!out->s[i])
                st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", where);
            out->n++;
        }
        H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, vs);
        free(vs);
    } else {
        size_t sz = H5Tget_size(ftype);
        char *buf = NULL;
        if (sz == 0 || sz > (1u << 26) || (size_t)np > ((size_t)1 << 30) / sz ||
            !(buf = malloc((size_t)np * sz + 1))) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: attribute '%s' is too large", where, attr);
            goto done;
        }
        mtype = H5Tcopy(ftype);
        if (mtype < 0 || H5Aread(aid, mtype, buf) < 0) {
            free(buf);
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: cannot read attribute '%s'", where, attr);
            goto done;
        }
        for (hssize_t i = 0; i < np; i++) {
            const char *p = buf + (size_t)i * sz;
            size_t len = strnlen(p, sz);
            while (len > 0 && p[len - 1] == ' ')
                len--;
            out->s[i] = strndup(p, len);
            if (!out->s[i])
                st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", where);
            out->n++;
        }
        free(buf);
    }
done:
    if (mtype >= 0)
        H5Tclose(mtype);
    if (space >= 0)
        H5Sclose(space);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (aid >= 0)
        H5Aclose(aid);
    if (st)
        h5strs_free(out);
    return st;
}

/* Does the path (relative to loc, components separated by '/') exist? */
static int h5_path_exists(hid_t loc, const char *path)
{
    char buf[1024];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            htri_t e = H5Lexists(loc, buf, H5P_DEFAULT);
            buf[i] = c;
            if (e <= 0)
                return 0;
        }
    }
    return 1;
}

/* "conv1/kernel:0" -> "kernel" */
static void keras_weight_param_name(const char *wname, char *out, size_t len)
{
    const char *b = strrchr(wname, '/');
    b = b ? b + 1 : wname;
    size_t n = strcspn(b, ":");
    if (n >= len)
        n = len - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

static void kimp_shape_text(int rank, const hsize_t *hd, const int *id, char *buf, size_t len)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "(");
    for (int i = 0; i < rank && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%llu", i ? ", " : "",
                              hd ? (unsigned long long)hd[i] : (unsigned long long)id[i]);
    if (o < len)
        snprintf(buf + o, len - o, ")");
}

/* Read one dataset into param p, checking its shape. */
static int kimp_read_param(hid_t grp, const char *dpath, const char *file, const char *lname,
                           nn_param *p, sv_error *err)
{
    hid_t ds = -1, sp = -1, ty = -1;
    int st = 0;
    if ((ds = H5Dopen2(grp, dpath, H5P_DEFAULT)) < 0) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: layer '%s': cannot open weight dataset '%s'",
                          file, lname, dpath);
        goto done;
    }
    sp = H5Dget_space(ds);
    ty = H5Dget_type(ds);
    if (sp < 0 || ty < 0) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: layer '%s': weight '%s' is unreadable", file,
                          lname, dpath);
        goto done;
    }
    if (H5Tget_class(ty) != H5T_FLOAT) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: layer '%s': weight '%s' is not floating point",
                          file, lname, dpath);
        goto done;
    }
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank < 0 || rank > H5S_MAX_RANK || H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: layer '%s': weight '%s' has an unreadable "
                          "shape", file, lname, dpath);
        goto done;
    }
    int same = rank == p->rank;
    for (int i = 0; same && i < rank; i++)
        same = dims[i] == (hsize_t)p->dims[i];
    if (!same) {
        char a[128], b[128];
        kimp_shape_text(rank, dims, NULL, a, sizeof a);
        kimp_shape_text(p->rank, NULL, p->dims, b, sizeof b);
        st = sv_error_set(err, SV_ERR_SHAPE, "%s: layer '%s': weight '%s' has shape %s, the "
                          "architecture needs %s", file, lname, dpath, a, b);
        goto done;
    }
    if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, p->w) < 0) {
        st = sv_error_set(err, SV_ERR_IO, "%s: layer '%s': cannot read weight '%s' (corrupt or "
                          "truncated file?)", file, lname, dpath);
        goto done;
    }
    for (size_t i = 0; i < p->size; i++)
        if (!isfinite(p->w[i])) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: layer '%s': weight '%s' holds NaN or "
                              "infinite values", file, lname, dpath);
            goto done;
        }
done:
    if (ty >= 0)
        H5Tclose(ty);
    if (sp >= 0)
        H5Sclose(sp);
    if (ds >= 0)
        H5Dclose(ds);
    return st;
}

/* A net layer made from part of a composite Keras layer (keras-tcn's TCN)
 * is named "<keras layer>/<part path>": its weights are in the Keras
 * layer's group, those whose path ends in the part path.  The length of the
 * group name, or 0 for a plain layer. */
static size_t kimp_group_len(const char *lname)
{
    const char *sl = strchr(lname, '/');
    return sl ? (size_t)(sl - lname) : 0;
}

/* Is weight "a/b/part/kernel:0" one of part's (its folder ends in part)? */
static int kimp_weight_of(const char *wname, const char *part)
{
    const char *last = strrchr(wname, '/');
    size_t dl = last ? (size_t)(last - wname) : 0, pl = strlen(part);
    if (dl < pl || strncmp(wname + dl - pl, part, pl))
        return 0;
    return dl == pl || wname[dl - pl - 1] == '/';
}

/* Fill every parameter of one net layer from its HDF5 group. */
static int kimp_load_layer(hid_t root, const char *file, nn_layer *L, sv_error *err)
{
    int st = 0;
    hid_t g = -1;
    h5strs wn = {0, NULL};
    int filled[NN_MAX_PARAMS] = {0};
    char group[NN_NAME_MAX];
    size_t gl = kimp_group_len(L->name);
    const char *part = gl ? L->name + gl + 1 : NULL;
    snprintf(group, sizeof group, "%.*s", gl ? (int)gl : NN_NAME_MAX - 1, L->name);

    if (!h5_path_exists(root, group))
        return sv_error_set(err, SV_ERR_FORMAT, "%s: missing weights for layer '%s' (no group "
                            "'%s' in the file)", file, L->name, group);
    if ((g = H5Gopen2(root, group, H5P_DEFAULT)) < 0)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: cannot open the weight group of layer '%s'",
                            file, L->name);
    st = h5_read_strings(g, "weight_names", file, &wn, err);
    if (st < 0)
        goto done;
    if (st == 1) {
        /* no weight_names: Keras always writes them; accept the usual
         * "<layer>/<param>:0" layout */
        st = 0;
        wn.s = calloc(NN_MAX_PARAMS, sizeof *wn.s);
        if (!wn.s) {
            st = sv_error_set(err, SV_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int j = 0; j < L->n_params; j++) {
            char path[256];
            snprintf(path, sizeof path, "%s/%s:0", L->name, L->p[j].name);
            if (h5_path_exists(g, path))
                wn.s[wn.n++] = strdup(path);
        }
    }
    for (int i = 0; i < wn.n; i++) {
        char pname[64];
        int j;
        if (part && !kimp_weight_of(wn.s[i], part))
            continue; /* another part's */
        keras_weight_param_name(wn.s[i], pname, sizeof pname);
        for (j = 0; j < L->n_params; j++)
            if (!strcmp(L->p[j].name, pname))
                break;
        if (j == L->n_params) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: layer '%s': weight '%s' does not belong "
                              "to a %s layer as configured", file, L->name, wn.s[i],
                              nn_kind_name(L->kind));
            goto done;
        }
        if (filled[j]) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: layer '%s': weight '%s' given twice", file,
                              L->name, pname);
            goto done;
        }
        if (!h5_path_exists(g, wn.s[i])) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: layer '%s': missing weight dataset '%s'",
                              file, L->name, wn.s[i]);
            goto done;
        }
        if ((st = kimp_read_param(g, wn.s[i], file, L->name, &L->p[j], err)))
            goto done;
        filled[j] = 1;
    }
    for (int j = 0; j < L->n_params; j++) {
        if (filled[j])
            continue;
        /* BatchNormalization with scale=False / center=False has no gamma /
         * beta: they are 1 and 0 */
        if (L->kind == NN_BATCHNORM && !strcmp(L->p[j].name, "gamma")) {
            for (size_t q = 0; q < L->p[j].size; q++)
                L->p[j].w[q] = 1.0f;
            continue;
        }
        if (L->kind == NN_BATCHNORM && !strcmp(L->p[j].name, "beta")) {
            memset(L->p[j].w, 0, L->p[j].size * sizeof(float));
            continue;
        }
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: layer '%s': missing weight '%s'", file,
                          L->name, L->p[j].name);
        goto done;
    }
done:
    h5strs_free(&wn);
    H5Gclose(g);
    return st;
}

/* Weights for every layer that has parameters; and no weights in the file
 * for layers the architecture does not have. */
static int kimp_load_weights(hid_t root, const char *file, nn_net *net, sv_error *err)
{
    h5strs names;
    int st = h5_read_strings(root, "layer_names", file, &names, err);
    if (st < 0)
        return st;
    if (st == 0) {
        for (int i = 0; i < names.n; i++) {
            if (nn_net_find(net, names.s[i]) >= 0)
                continue;
            /* the parts of a composite layer must use all of its weights */
            size_t used = 0, nl = strlen(names.s[i]);
            int parts = 0;
            for (int j = 0; j < net->n_layers; j++)
                if (kimp_group_len(net->layers[j].name) == nl &&
                    !strncmp(net->layers[j].name, names.s[i], nl)) {
                    parts = 1;
                    used += (size_t)net->layers[j].n_params;
                }
            /* a layer the architecture lacks: an error only if it has weights */
            h5strs wn = {0, NULL};
            int has = 0;
            if (h5_path_exists(root, names.s[i])) {
                hid_t g = H5Gopen2(root, names.s[i], H5P_DEFAULT);
                if (g >= 0) {
                    if (h5_read_strings(g, "weight_names", file, &wn, NULL) == 0)
                        has = wn.n > 0 && (size_t)wn.n != used;
                    h5strs_free(&wn);
                    H5Gclose(g);
                }
            }
            if (has && parts) {
                st = sv_error_set(err, SV_ERR_FORMAT, "%s: layer '%s' has weights that its "
                                  "imported parts do not use (an option not imported?)", file,
                                  names.s[i]);
                h5strs_free(&names);
                return st;
            }
            if (has) {
                st = sv_error_set(err, SV_ERR_FORMAT, "%s: the file has weights for layer '%s', "
                                  "which the architecture does not have (wrong --arch?)", file,
                                  names.s[i]);
                h5strs_free(&names);
                return st;
            }
        }
        h5strs_free(&names);
    }
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        if (L->n_params == 0)
            continue;
        if ((st = kimp_load_layer(root, file, L, err)))
            return st;
    }
    return 0;
}

/* ======================================================================
 * the model around the net (model_import.h)
 * ==================================================================== */

sv_keras_options sv_keras_options_defaults(void) { return sv_import_options_defaults(); }

/* The whole file as a NUL-terminated string. */
static char *kimp_slurp(const char *path, sv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sv_error_set(err, SV_ERR_IO, "%s: cannot open", path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while (buf) {
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len + 1 < cap)
            break;
        if (cap > (1u << 28)) {
            free(buf);
            buf = NULL;
            sv_error_set(err, SV_ERR_FORMAT, "%s: larger than 256 MiB", path);
            fclose(f);
            return NULL;
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        sv_error_set(err, SV_ERR_IO, "%s: read error", path);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* The network and its weights; *kver (if non-NULL) gets the keras_version
 * attribute or "" (at most 71 characters). */
static int kimp_load_net(const char *h5_path, const char *arch_path, int steps, nn_net **out,
                         double *mask, char *kver_out, size_t kver_len, sv_error *err)
{
    char *arch_text = NULL;
    h5strs cfg = {0, NULL}, kver = {0, NULL};
    hid_t file = -1, root = -1;
    nn_net *net = NULL;
    int st;
    H5E_auto2_t old_func = NULL;
    void *old_data = NULL;

    *out = NULL;
    if (kver_out && kver_len)
        kver_out[0] = '\0';
    if (!h5_path)
        return sv_error_set(err, SV_ERR_ARG, "Keras import: no file given");
    if (arch_path && !(arch_text = kimp_slurp(arch_path, err)))
        return err ? err->status : SV_ERR_IO;
    FILE *probe = fopen(h5_path, "rb");
    if (!probe) {
        free(arch_text);
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open", h5_path);
    }
    fclose(probe);

    /* HDF5 would print its error stack on stderr for every failed call:
     * our messages say it better.  Restored before returning. */
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    /* a global heap that would hang HDF5 (h5_heap_check.h), an object
     * header it would read beyond (h5_ohdr_check.h) */
    if ((st = sv_h5_heap_check(h5_path, err)) || (st = sv_h5_ohdr_check(h5_path, err)))
        goto done;
    if (H5Fis_hdf5(h5_path) <= 0) {
        st = sv_error_set(err, SV_ERR_IO, "%s: not an HDF5 file (or corrupt or truncated)",
                          h5_path);
        goto done;
    }
    file = H5Fopen(h5_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        st = sv_error_set(err, SV_ERR_IO, "%s: cannot open as HDF5 (corrupt or truncated?)",
                          h5_path);
        goto done;
    }

    /* the weights group and the Keras version first: the architecture
     * reader needs them (input shapes, hard_sigmoid of Keras 3) */
    if (H5Lexists(file, "model_weights", H5P_DEFAULT) > 0)
        root = H5Gopen2(file, "model_weights", H5P_DEFAULT);
    else
        root = H5Gopen2(file, "/", H5P_DEFAULT);
    if (root < 0) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: cannot open the weights group", h5_path);
        goto done;
    }
    /* an attribute that exists but cannot be read is a damaged file: HDF5
     * 1.10.8, after failing to load a global heap collection, can allocate
     * gigabytes on the next variable-length read of the same file (a
     * fuzzing finding: tests/fuzz/regress/keras/), so nothing more is read */
    int kst = h5_read_strings(root, "keras_version", h5_path, &kver, err);
    if (kst > 0 || (kst == 0 && kver.n != 1)) {
        h5strs_free(&kver);
        kst = h5_read_strings(file, "keras_version", h5_path, &kver, err);
    }
    if (kst < 0) {
        st = kst;
        goto done;
    }
    kimp_ctx ctx = {2, steps, root};
    if (kver.n == 1 && atoi(kver.s[0]) >= 3)
        ctx.keras_major = atoi(kver.s[0]);

    /* architecture */
    if (arch_text) {
        st = kimp_net_from_json(arch_text, arch_path, &ctx, &net, mask, err);
    } else {
        st = h5_read_strings(file, "model_config", h5_path, &cfg, err);
        if (st == 1 || (st == 0 && cfg.n != 1)) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: no 'model_config' attribute: a "
                              "weights-only file needs the architecture JSON (--arch)", h5_path);
            goto done;
        }
        if (st)
            goto done;
        st = kimp_net_from_json(cfg.s[0], h5_path, &ctx, &net, mask, err);
    }
    if (st)
        goto done;

    /* weights */
    if ((st = kimp_load_weights(root, h5_path, net, err)))
        goto done;
    if (kver_out && kver_len && kver.n == 1)
        snprintf(kver_out, kver_len, "%s", kver.s[0]);
    *out = net;
    net = NULL;
    st = 0;
done:
    if (root >= 0)
        H5Gclose(root);
    if (file >= 0)
        H5Fclose(file);
    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    h5strs_free(&cfg);
    h5strs_free(&kver);
    free(arch_text);
    nn_net_free(net);
    return st;
}

int sv_keras_import_net(const char *h5_path, const char *arch_path, nn_net **out, sv_error *err)
{
    return kimp_load_net(h5_path, arch_path, 0, out, NULL, NULL, 0, err);
}

int sv_keras_import(const char *h5_path, const sv_keras_options *opt_in, sv_model **out,
                    sv_error *err)
{
    sv_keras_options opt = opt_in ? *opt_in : sv_keras_options_defaults();
    char srcck[SV_SHA256_HEX], archck[SV_SHA256_HEX], kver[72];
    nn_net *net = NULL;
    sv_model *m = NULL;
    int st;

    *out = NULL;
    if (!h5_path)
        return sv_error_set(err, SV_ERR_ARG, "sv_keras_import: no file given");
    if ((st = sv_sha256_file(h5_path, srcck, err)))
        return st;
    if (opt.arch_path && (st = sv_sha256_file(opt.arch_path, archck, err)))
        return st;
    double mask = NAN;
    int steps = sv_import_steps(&opt);
    if ((st = kimp_load_net(h5_path, opt.arch_path, steps, &net, &mask, kver, sizeof kver,
                            err)))
        return st;

    m = sv_model_new(net);
    if (!m) {
        nn_net_free(net);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", h5_path);
    }
    /* no DATE nor path: the import is a function of the file's bytes and the
     * options, and gives the same model file byte for byte */
    if ((st = sv_import_describe(m, &opt, h5_path, err)) ||
        (st = sv_import_provenance(m, opt.creator ? opt.creator
                                                  : "stampvet " PACKAGE_VERSION " import-keras",
                                   h5_path, srcck, err)))
        goto done;
    if ((opt.arch_path && (st = sv_model_set_prov(m, "ARCHFILE", kimp_basename(opt.arch_path)))) ||
        (opt.arch_path && (st = sv_model_set_prov(m, "ARCHCK", archck))) ||
        (kver[0] && (st = sv_model_set_prov(m, "KERASVER", kver)))) {
        st = sv_error_set(err, SV_ERR_INTERNAL, "%s: cannot record provenance", h5_path);
        goto done;
    }
    if (!isnan(mask)) { /* Keras Masking: the GRU/LSTM layers downstream skip masked steps */
        char mv[32];
        snprintf(mv, sizeof mv, "%.9g", mask);
        if ((st = sv_model_set_prov(m, "LCMASK", mv)) ||
            (st = sv_model_add_history(m, "Keras Masking: recurrent layers keep their state "
                                          "at masked steps, as Keras"))) {
            st = sv_error_set(err, SV_ERR_INTERNAL, "%s: cannot record provenance", h5_path);
            goto done;
        }
    }
    if ((st = sv_model_validate(m, err))) {
        sv_error_prefix(err, "%s: ", h5_path);
        goto done;
    }
    *out = m;
    m = NULL;
    st = 0;
done:
    sv_model_free(m);
    return st;
}
