/* nn.c — building an nn_net: layers, shape inference, parameters, names.
 * See nn.h. */
#include "nn/nn.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_layers.h"

#define NN_SIZE_LIMIT ((size_t)1 << 31) /* no tensor of 2^31 floats or more */
#define NN_DIM_LIMIT (1 << 24)          /* any single dimension / hyper-param */

/* ---- names ------------------------------------------------------------- */

static const char *const kind_names[NN_KIND_COUNT] = {
    [NN_INPUT] = "input",
    [NN_CONV2D] = "conv2d",
    [NN_DEPTHWISE_CONV2D] = "depthwise_conv2d",
    [NN_SEPARABLE_CONV2D] = "separable_conv2d",
    [NN_MAXPOOL2D] = "max_pooling2d",
    [NN_AVGPOOL2D] = "average_pooling2d",
    [NN_GLOBAL_AVGPOOL2D] = "global_average_pooling2d",
    [NN_DENSE] = "dense",
    [NN_FLATTEN] = "flatten",
    [NN_DROPOUT] = "dropout",
    [NN_BATCHNORM] = "batch_normalization",
    [NN_CONCAT] = "concatenate",
    [NN_GRU] = "gru",
    [NN_ACTIVATION] = "activation",
    [NN_LSTM] = "lstm",
    [NN_CONV1D] = "conv1d",
    [NN_ADD] = "add",
    [NN_MASKING] = "masking",
};

static const char *const act_names[NN_ACT_COUNT] = {
    [NN_ACT_LINEAR] = "linear",
    [NN_ACT_RELU] = "relu",
    [NN_ACT_LEAKY_RELU] = "leaky_relu",
    [NN_ACT_SIGMOID] = "sigmoid",
    [NN_ACT_TANH] = "tanh",
    [NN_ACT_SOFTMAX] = "softmax",
    [NN_ACT_HARD_SIGMOID] = "hard_sigmoid",
    [NN_ACT_HARD_SIGMOID_K3] = "hard_sigmoid_k3",
};

/* Keras class names and common spellings accepted by nn_kind_from_name. */
static const struct {
    const char *name;
    nn_kind kind;
} kind_aliases[] = {
    {"inputlayer", NN_INPUT},
    {"conv2d", NN_CONV2D},
    {"convolution2d", NN_CONV2D},
    {"depthwiseconv2d", NN_DEPTHWISE_CONV2D},
    {"separableconv2d", NN_SEPARABLE_CONV2D},
    {"separableconvolution2d", NN_SEPARABLE_CONV2D},
    {"maxpooling2d", NN_MAXPOOL2D},
    {"maxpool2d", NN_MAXPOOL2D},
    {"averagepooling2d", NN_AVGPOOL2D},
    {"avgpool2d", NN_AVGPOOL2D},
    {"averagepool2d", NN_AVGPOOL2D},
    {"globalaveragepooling2d", NN_GLOBAL_AVGPOOL2D},
    {"globalavgpool2d", NN_GLOBAL_AVGPOOL2D},
    {"globalaveragepool", NN_GLOBAL_AVGPOOL2D},
    {"batchnormalization", NN_BATCHNORM},
    {"batchnorm", NN_BATCHNORM},
    {"convolution1d", NN_CONV1D},
};

const char *nn_kind_name(nn_kind kind)
{
    if ((int)kind < 0 || kind >= NN_KIND_COUNT)
        return "unknown";
    return kind_names[kind];
}

const char *nn_act_name(nn_act act)
{
    if ((int)act < 0 || act >= NN_ACT_COUNT)
        return "unknown";
    return act_names[act];
}

/* Lower-case copy without '_' for lenient comparisons. */
static void squash(const char *s, char *out, size_t cap)
{
    size_t j = 0;
    for (; *s && j + 1 < cap; s++)
        if (*s != '_' && *s != ' ')
            out[j++] = (char)tolower((unsigned char)*s);
    out[j] = '\0';
}

int nn_kind_from_name(const char *name)
{
    if (!name)
        return -1;
    char q[64], k[64];
    squash(name, q, sizeof q);
    for (int i = 0; i < NN_KIND_COUNT; i++) {
        squash(kind_names[i], k, sizeof k);
        if (!strcmp(q, k))
            return i;
    }
    for (size_t i = 0; i < sizeof kind_aliases / sizeof kind_aliases[0]; i++)
        if (!strcmp(q, kind_aliases[i].name))
            return (int)kind_aliases[i].kind;
    return -1;
}

int nn_act_from_name(const char *name)
{
    if (!name)
        return -1;
    char q[64], k[64];
    squash(name, q, sizeof q);
    for (int i = 0; i < NN_ACT_COUNT; i++) {
        squash(act_names[i], k, sizeof k);
        if (!strcmp(q, k))
            return i;
    }
    if (!strcmp(q, "none") || !q[0])
        return NN_ACT_LINEAR;
    return -1;
}

/* ---- building ----------------------------------------------------------- */

nn_net *nn_net_new(void)
{
    nn_net *net = calloc(1, sizeof *net);
    if (!net)
        return NULL;
    net->output = -1;
    return net;
}

static void free_params(nn_layer *L)
{
    for (int j = 0; j < L->n_params; j++) {
        free(L->p[j].w);
        L->p[j].w = NULL;
    }
}

void nn_net_free(nn_net *net)
{
    if (!net)
        return;
    for (int i = 0; i < net->n_layers; i++)
        free_params(&net->layers[i]);
    free(net->layers);
    free(net);
}

nn_layer nn_layer_defaults(nn_kind kind, const char *name)
{
    nn_layer L;
    memset(&L, 0, sizeof L);
    if (name) {
        strncpy(L.name, name, NN_NAME_MAX - 1);
        L.name[NN_NAME_MAX - 1] = '\0';
    }
    L.kind = kind;
    L.act = NN_ACT_LINEAR;
    L.alpha = 0.3f; /* Keras LeakyReLU default */
    L.kh = L.kw = 1;
    L.sh = L.sw = 1;
    L.padding = NN_PAD_VALID;
    L.depth_multiplier = 1;
    L.use_bias = 1;
    L.rate = 0.0f;
    L.epsilon = 1e-3f;
    L.momentum = 0.99f;
    L.return_sequences = 0;
    L.reset_after = 0;
    L.recurrent_act = NN_ACT_HARD_SIGMOID;
    L.concat_axis = -1;
    L.dilation = 1;
    L.mask_value = 0.0f;
    L.trainable = 1;
    switch (kind) {
    case NN_MAXPOOL2D:
    case NN_AVGPOOL2D:
        L.kh = L.kw = 2;
        L.sh = L.sw = 0; /* 0: equal to the pool size (Keras strides=None) */
        break;
    case NN_GRU:
    case NN_LSTM:
        L.act = NN_ACT_TANH;
        break;
    default:
        break;
    }
    return L;
}

int nn_net_find(const nn_net *net, const char *name)
{
    if (!net || !name)
        return -1;
    for (int i = 0; i < net->n_layers; i++)
        if (!strcmp(net->layers[i].name, name))
            return i;
    return -1;
}

static int bad_dim(int v) { return v <= 0 || v > NN_DIM_LIMIT; }

static int check_spec(const nn_net *net, nn_layer *L, sv_error *err)
{
    const char *nm = L->name;
    const char *kn = nn_kind_name(L->kind);
    if ((int)L->kind < 0 || L->kind >= NN_KIND_COUNT)
        return sv_error_set(err, SV_ERR_ARG, "layer '%s': unknown layer kind %d",
                            nm, (int)L->kind);
    if ((int)L->act < 0 || L->act >= NN_ACT_COUNT)
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): unknown activation %d",
                            nm, kn, (int)L->act);
    if (!(L->alpha >= 0.0f) || !isfinite(L->alpha))
        return sv_error_set(err, SV_ERR_ARG,
                            "layer '%s' (%s): leaky relu slope %g must be finite and >= 0",
                            nm, kn, (double)L->alpha);
    /* producers */
    if (L->kind == NN_INPUT) {
        if (L->n_in != 0)
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (input): an input has no producers",
                                nm);
        if (L->rank < 1 || L->rank > NN_MAX_RANK)
            return sv_error_set(err, SV_ERR_SHAPE, "layer '%s' (input): rank %d not in 1..%d",
                                nm, L->rank, NN_MAX_RANK);
        for (int d = 0; d < L->rank; d++)
            if (bad_dim(L->shape[d]))
                return sv_error_set(err, SV_ERR_SHAPE,
                                    "layer '%s' (input): dimension %d is %d (must be 1..%d)",
                                    nm, d, L->shape[d], NN_DIM_LIMIT);
        if (net->n_inputs >= NN_MAX_NET_INPUTS)
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (input): more than %d network inputs",
                                nm, NN_MAX_NET_INPUTS);
    } else if (L->kind == NN_CONCAT || L->kind == NN_ADD) {
        if (L->n_in < 2 || L->n_in > NN_MAX_INPUTS)
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): %d inputs, needs 2..%d", nm,
                                kn, L->n_in, NN_MAX_INPUTS);
    } else if ((L->kind == NN_GRU || L->kind == NN_LSTM) && L->n_in == 2) {
        /* a masked recurrent layer: in[1] gives the mask (nn.h) */
    } else if (L->n_in != 1) {
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): %d inputs, needs exactly 1", nm,
                            kn, L->n_in);
    }
    for (int i = 0; i < L->n_in; i++)
        if (L->in[i] < 0 || L->in[i] >= net->n_layers)
            return sv_error_set(err, SV_ERR_ARG,
                                "layer '%s' (%s): input %d refers to layer %d, not an earlier layer",
                                nm, kn, i, L->in[i]);
    /* hyper-parameters */
    switch (L->kind) {
    case NN_CONV2D:
    case NN_SEPARABLE_CONV2D:
        if (bad_dim(L->filters))
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): filters %d", nm, kn,
                                L->filters);
        /* fall through */
    case NN_DEPTHWISE_CONV2D:
        if (L->kind != NN_CONV2D && bad_dim(L->depth_multiplier))
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): depth_multiplier %d", nm, kn,
                                L->depth_multiplier);
        /* fall through */
    case NN_MAXPOOL2D:
    case NN_AVGPOOL2D:
        if ((L->kind == NN_MAXPOOL2D || L->kind == NN_AVGPOOL2D)) {
            if (L->sh <= 0)
                L->sh = L->kh;
            if (L->sw <= 0)
                L->sw = L->kw;
        }
        if (bad_dim(L->kh) || bad_dim(L->kw))
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): kernel/pool size %dx%d", nm,
                                kn, L->kh, L->kw);
        if (bad_dim(L->sh) || bad_dim(L->sw))
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): strides %dx%d", nm, kn, L->sh,
                                L->sw);
        if (L->padding != NN_PAD_VALID && L->padding != NN_PAD_SAME)
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): unknown padding %d", nm, kn,
                                (int)L->padding);
        break;
    case NN_DENSE:
        if (bad_dim(L->units))
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (dense): units %d", nm, L->units);
        break;
    case NN_GRU:
    case NN_LSTM:
        if (bad_dim(L->units))
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): units %d", nm, kn, L->units);
        if (L->recurrent_act != NN_ACT_SIGMOID && L->recurrent_act != NN_ACT_HARD_SIGMOID &&
            L->recurrent_act != NN_ACT_HARD_SIGMOID_K3)
            return sv_error_set(err, SV_ERR_UNSUPPORTED,
                                "layer '%s' (%s): recurrent activation '%s' not supported "
                                "(sigmoid or hard_sigmoid)",
                                nm, kn, nn_act_name(L->recurrent_act));
        if (L->act == NN_ACT_SOFTMAX)
            return sv_error_set(err, SV_ERR_UNSUPPORTED,
                                "layer '%s' (%s): softmax as the cell activation not supported",
                                nm, kn);
        if (!isfinite(L->mask_value))
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): mask value %g", nm, kn,
                                (double)L->mask_value);
        break;
    case NN_CONV1D:
        if (bad_dim(L->filters) || bad_dim(L->kh) || bad_dim(L->sh) || bad_dim(L->dilation))
            return sv_error_set(err, SV_ERR_ARG,
                                "layer '%s' (conv1d): filters %d, kernel %d, stride %d, "
                                "dilation %d (all must be >= 1)",
                                nm, L->filters, L->kh, L->sh, L->dilation);
        if (L->padding != NN_PAD_VALID && L->padding != NN_PAD_SAME &&
            L->padding != NN_PAD_CAUSAL)
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (conv1d): unknown padding %d", nm,
                                (int)L->padding);
        if (L->act == NN_ACT_SOFTMAX)
            return sv_error_set(err, SV_ERR_UNSUPPORTED,
                                "layer '%s' (conv1d): softmax as fused activation not supported",
                                nm);
        break;
    case NN_MASKING:
        if (!isfinite(L->mask_value))
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (masking): mask value %g", nm,
                                (double)L->mask_value);
        break;
    case NN_DROPOUT:
        if (!(L->rate >= 0.0f && L->rate < 1.0f))
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (dropout): rate %g not in [0,1)",
                                nm, (double)L->rate);
        break;
    case NN_BATCHNORM:
        if (!(L->epsilon > 0.0f) || !isfinite(L->epsilon))
            return sv_error_set(err, SV_ERR_ARG,
                                "layer '%s' (batch_normalization): epsilon %g must be > 0", nm,
                                (double)L->epsilon);
        if (!(L->momentum >= 0.0f && L->momentum <= 1.0f))
            return sv_error_set(err, SV_ERR_ARG,
                                "layer '%s' (batch_normalization): momentum %g not in [0,1]", nm,
                                (double)L->momentum);
        break;
    default:
        break;
    }
    return 0;
}

int nn_net_add(nn_net *net, const nn_layer *spec, sv_error *err)
{
    if (!net || !spec)
        return sv_error_set(err, SV_ERR_ARG, "nn_net_add: NULL argument");
    if (net->finalized)
        return sv_error_set(err, SV_ERR_ARG, "layer '%s': the network is already finalised",
                            spec->name);
    nn_layer L = *spec;
    L.name[NN_NAME_MAX - 1] = '\0';
    if (!L.name[0])
        return sv_error_set(err, SV_ERR_ARG, "layer %d (%s): empty layer name", net->n_layers,
                            nn_kind_name(L.kind));
    if (nn_net_find(net, L.name) >= 0)
        return sv_error_set(err, SV_ERR_ARG, "layer '%s': duplicate layer name", L.name);
    int st = check_spec(net, &L, err);
    if (st)
        return st;
    if (net->n_layers == net->cap_layers) {
        int cap = net->cap_layers ? 2 * net->cap_layers : 16;
        nn_layer *nl = realloc(net->layers, (size_t)cap * sizeof *nl);
        if (!nl)
            return sv_error_set(err, SV_ERR_NOMEM, "layer '%s': out of memory", L.name);
        net->layers = nl;
        net->cap_layers = cap;
    }
    /* parameters and derived fields are set by finalize */
    L.n_params = 0;
    memset(L.p, 0, sizeof L.p);
    if (L.kind != NN_INPUT) {
        L.rank = 0;
        memset(L.shape, 0, sizeof L.shape);
    }
    L.out_size = 0;
    int idx = net->n_layers;
    net->layers[idx] = L;
    net->n_layers++;
    if (L.kind == NN_INPUT)
        net->inputs[net->n_inputs++] = idx;
    return idx;
}

/* ---- finalize: shapes and parameters ------------------------------------ */

void nn_conv_geometry(int in, int k, int s, nn_padding pad, int *out, int *pad_before)
{
    if (pad == NN_PAD_SAME) {
        int o = (in + s - 1) / s;
        long total = (long)(o - 1) * s + k - in;
        if (total < 0)
            total = 0;
        *out = o;
        *pad_before = (int)(total / 2);
    } else {
        *out = in >= k ? (in - k) / s + 1 : 0;
        *pad_before = 0;
    }
}

void nn_conv1d_geometry(int in, int k, int s, int d, nn_padding pad, int *out, int *pad_before)
{
    long eff = (long)(k - 1) * d + 1; /* the dilated kernel's extent */
    if (pad == NN_PAD_CAUSAL) {
        *pad_before = (int)(eff - 1);
        *out = (in - 1) / s + 1;
    } else if (pad == NN_PAD_SAME) {
        int o = (in + s - 1) / s;
        long total = (long)(o - 1) * s + eff - in;
        *out = o;
        *pad_before = total > 0 ? (int)(total / 2) : 0;
    } else {
        *out = in >= eff ? (int)((in - eff) / s + 1) : 0;
        *pad_before = 0;
    }
}

void nn_window_of(const nn_layer *L, const nn_layer *In, nn_window *g)
{
    g->h = In->shape[0];
    g->w = In->shape[1];
    g->c = In->shape[2];
    g->kh = L->kh;
    g->kw = L->kw;
    g->sh = L->sh;
    g->sw = L->sw;
    nn_conv_geometry(g->h, g->kh, g->sh, L->padding, &g->ho, &g->pt);
    nn_conv_geometry(g->w, g->kw, g->sw, L->padding, &g->wo, &g->pl);
    g->co = L->shape[2];
    g->p = g->ho * g->wo;
}

static int set_shape(nn_layer *L, int rank, const int *dims, sv_error *err)
{
    size_t n = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] <= 0)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (%s): output dimension %d would be %d", L->name,
                                nn_kind_name(L->kind), d, dims[d]);
        n *= (size_t)dims[d];
        if (n >= NN_SIZE_LIMIT)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (%s): output of over 2^31 values per sample",
                                L->name, nn_kind_name(L->kind));
    }
    L->rank = rank;
    for (int d = 0; d < NN_MAX_RANK; d++)
        L->shape[d] = d < rank ? dims[d] : 0;
    L->out_size = n;
    return 0;
}

static int add_param(nn_layer *L, const char *name, int rank, int d0, int d1, int d2, int d3,
                     int trainable, sv_error *err)
{
    nn_param *p = &L->p[L->n_params];
    memset(p, 0, sizeof *p);
    strncpy(p->name, name, sizeof p->name - 1);
    p->rank = rank;
    int d[4] = {d0, d1, d2, d3};
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        p->dims[i] = d[i];
        n *= (size_t)d[i];
        if (n >= NN_SIZE_LIMIT)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (%s): parameter '%s' of over 2^31 values", L->name,
                                nn_kind_name(L->kind), name);
    }
    p->size = n;
    p->trainable = trainable;
    p->w = calloc(n, sizeof(float));
    if (!p->w)
        return sv_error_set(err, SV_ERR_NOMEM, "layer '%s': out of memory for parameter '%s'",
                            L->name, name);
    L->n_params++;
    return 0;
}

static const char *shape_str(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "(");
    for (int d = 0; d < L->rank && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, d ? ",%d" : "%d", L->shape[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, ")");
    return buf;
}

static int finalize_layer(nn_net *net, int li, sv_error *err)
{
    nn_layer *L = &net->layers[li];
    const char *nm = L->name, *kn = nn_kind_name(L->kind);
    const nn_layer *I = L->n_in > 0 ? &net->layers[L->in[0]] : NULL;
    char sbuf[64];
    int dims[NN_MAX_RANK] = {0};
    int st;

    switch (L->kind) {
    case NN_INPUT:
        return set_shape(L, L->rank, L->shape, err);

    case NN_CONV2D:
    case NN_DEPTHWISE_CONV2D:
    case NN_SEPARABLE_CONV2D:
    case NN_MAXPOOL2D:
    case NN_AVGPOOL2D: {
        if (I->rank != 3)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (%s): needs an image input (H,W,C), got shape %s from "
                                "layer '%s'",
                                nm, kn, shape_str(I, sbuf, sizeof sbuf), I->name);
        int ho, wo, pt, pl;
        nn_conv_geometry(I->shape[0], L->kh, L->sh, L->padding, &ho, &pt);
        nn_conv_geometry(I->shape[1], L->kw, L->sw, L->padding, &wo, &pl);
        if (ho <= 0 || wo <= 0)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (%s): window %dx%d larger than its input %s from "
                                "layer '%s' (valid padding)",
                                nm, kn, L->kh, L->kw, shape_str(I, sbuf, sizeof sbuf), I->name);
        int cin = I->shape[2];
        dims[0] = ho;
        dims[1] = wo;
        int dm = L->depth_multiplier;
        if ((long)cin * dm > NN_DIM_LIMIT)
            return sv_error_set(err, SV_ERR_SHAPE, "layer '%s' (%s): too many channels", nm, kn);
        switch (L->kind) {
        case NN_CONV2D:
            dims[2] = L->filters;
            if ((st = set_shape(L, 3, dims, err)))
                return st;
            if ((st = add_param(L, "kernel", 4, L->kh, L->kw, cin, L->filters, 1, err)))
                return st;
            if (L->use_bias && (st = add_param(L, "bias", 1, L->filters, 0, 0, 0, 1, err)))
                return st;
            break;
        case NN_DEPTHWISE_CONV2D:
            dims[2] = cin * dm;
            if ((st = set_shape(L, 3, dims, err)))
                return st;
            if ((st = add_param(L, "depthwise_kernel", 4, L->kh, L->kw, cin, dm, 1, err)))
                return st;
            if (L->use_bias && (st = add_param(L, "bias", 1, cin * dm, 0, 0, 0, 1, err)))
                return st;
            break;
        case NN_SEPARABLE_CONV2D:
            dims[2] = L->filters;
            if ((st = set_shape(L, 3, dims, err)))
                return st;
            if ((st = add_param(L, "depthwise_kernel", 4, L->kh, L->kw, cin, dm, 1, err)))
                return st;
            if ((st = add_param(L, "pointwise_kernel", 4, 1, 1, cin * dm, L->filters, 1, err)))
                return st;
            if (L->use_bias && (st = add_param(L, "bias", 1, L->filters, 0, 0, 0, 1, err)))
                return st;
            break;
        default: /* pools */
            dims[2] = cin;
            if ((st = set_shape(L, 3, dims, err)))
                return st;
            break;
        }
        return 0;
    }

    case NN_GLOBAL_AVGPOOL2D:
        if (I->rank != 3)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (%s): needs an image input (H,W,C), got shape %s from "
                                "layer '%s'",
                                nm, kn, shape_str(I, sbuf, sizeof sbuf), I->name);
        dims[0] = I->shape[2];
        return set_shape(L, 1, dims, err);

    case NN_DENSE: {
        for (int d = 0; d < I->rank; d++)
            dims[d] = I->shape[d];
        int fin = I->shape[I->rank - 1];
        dims[I->rank - 1] = L->units;
        if ((st = set_shape(L, I->rank, dims, err)))
            return st;
        if ((st = add_param(L, "kernel", 2, fin, L->units, 0, 0, 1, err)))
            return st;
        if (L->use_bias && (st = add_param(L, "bias", 1, L->units, 0, 0, 0, 1, err)))
            return st;
        return 0;
    }

    case NN_FLATTEN:
        dims[0] = (int)I->out_size;
        return set_shape(L, 1, dims, err);

    case NN_DROPOUT:
    case NN_ACTIVATION:
        return set_shape(L, I->rank, I->shape, err);

    case NN_BATCHNORM: {
        int c = I->shape[I->rank - 1];
        if ((st = set_shape(L, I->rank, I->shape, err)))
            return st;
        if ((st = add_param(L, "gamma", 1, c, 0, 0, 0, 1, err)) ||
            (st = add_param(L, "beta", 1, c, 0, 0, 0, 1, err)) ||
            (st = add_param(L, "moving_mean", 1, c, 0, 0, 0, 0, err)) ||
            (st = add_param(L, "moving_variance", 1, c, 0, 0, 0, 0, err)))
            return st;
        return 0;
    }

    case NN_CONCAT: {
        int r = I->rank;
        if (L->concat_axis != -1 && L->concat_axis != r)
            return sv_error_set(err, SV_ERR_UNSUPPORTED,
                                "layer '%s' (concatenate): only the last axis (-1) is supported, "
                                "got axis %d",
                                nm, L->concat_axis);
        long last = 0;
        for (int i = 0; i < L->n_in; i++) {
            const nn_layer *J = &net->layers[L->in[i]];
            char b2[64];
            if (J->rank != r)
                return sv_error_set(err, SV_ERR_SHAPE,
                                    "layer '%s' (concatenate): input '%s' has shape %s, input "
                                    "'%s' has shape %s (ranks differ)",
                                    nm, I->name, shape_str(I, sbuf, sizeof sbuf), J->name,
                                    shape_str(J, b2, sizeof b2));
            for (int d = 0; d < r - 1; d++)
                if (J->shape[d] != I->shape[d])
                    return sv_error_set(err, SV_ERR_SHAPE,
                                        "layer '%s' (concatenate): input '%s' has shape %s, "
                                        "input '%s' has shape %s (all but the last axis must "
                                        "agree)",
                                        nm, I->name, shape_str(I, sbuf, sizeof sbuf), J->name,
                                        shape_str(J, b2, sizeof b2));
            last += J->shape[r - 1];
        }
        if (last > NN_DIM_LIMIT)
            return sv_error_set(err, SV_ERR_SHAPE, "layer '%s' (concatenate): too wide", nm);
        for (int d = 0; d < r - 1; d++)
            dims[d] = I->shape[d];
        dims[r - 1] = (int)last;
        return set_shape(L, r, dims, err);
    }

    case NN_GRU: {
        if (I->rank != 2)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (gru): needs a sequence input (T,F), got shape %s "
                                "from layer '%s'",
                                nm, shape_str(I, sbuf, sizeof sbuf), I->name);
        int T = I->shape[0], F = I->shape[1], u = L->units;
        if ((long)3 * u > NN_DIM_LIMIT)
            return sv_error_set(err, SV_ERR_SHAPE, "layer '%s' (gru): too many units", nm);
        if (L->return_sequences) {
            dims[0] = T;
            dims[1] = u;
            st = set_shape(L, 2, dims, err);
        } else {
            dims[0] = u;
            st = set_shape(L, 1, dims, err);
        }
        if (st)
            return st;
        if ((st = add_param(L, "kernel", 2, F, 3 * u, 0, 0, 1, err)) ||
            (st = add_param(L, "recurrent_kernel", 2, u, 3 * u, 0, 0, 1, err)))
            return st;
        if (L->use_bias) {
            if (L->reset_after)
                st = add_param(L, "bias", 2, 2, 3 * u, 0, 0, 1, err);
            else
                st = add_param(L, "bias", 1, 3 * u, 0, 0, 0, 1, err);
        }
        return st;
    }

    case NN_LSTM: {
        if (I->rank != 2)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (lstm): needs a sequence input (T,F), got shape %s "
                                "from layer '%s'",
                                nm, shape_str(I, sbuf, sizeof sbuf), I->name);
        int T = I->shape[0], F = I->shape[1], u = L->units;
        if ((long)4 * u > NN_DIM_LIMIT)
            return sv_error_set(err, SV_ERR_SHAPE, "layer '%s' (lstm): too many units", nm);
        dims[0] = L->return_sequences ? T : u;
        dims[1] = u;
        if ((st = set_shape(L, L->return_sequences ? 2 : 1, dims, err)))
            return st;
        if ((st = add_param(L, "kernel", 2, F, 4 * u, 0, 0, 1, err)) ||
            (st = add_param(L, "recurrent_kernel", 2, u, 4 * u, 0, 0, 1, err)) ||
            (L->use_bias && (st = add_param(L, "bias", 1, 4 * u, 0, 0, 0, 1, err))))
            return st;
        return 0;
    }

    case NN_CONV1D: {
        if (I->rank != 2)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (conv1d): needs a sequence input (T,C), got shape %s "
                                "from layer '%s'",
                                nm, shape_str(I, sbuf, sizeof sbuf), I->name);
        int to, pb;
        if ((long)(L->kh - 1) * L->dilation + 1 > NN_DIM_LIMIT)
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (conv1d): kernel %d x dilation %d "
                                "too wide", nm, L->kh, L->dilation);
        nn_conv1d_geometry(I->shape[0], L->kh, L->sh, L->dilation, L->padding, &to, &pb);
        if (to <= 0)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (conv1d): kernel %d (dilation %d) longer than its "
                                "input %s from layer '%s' (valid padding)",
                                nm, L->kh, L->dilation, shape_str(I, sbuf, sizeof sbuf), I->name);
        dims[0] = to;
        dims[1] = L->filters;
        if ((st = set_shape(L, 2, dims, err)) ||
            (st = add_param(L, "kernel", 3, L->kh, I->shape[1], L->filters, 0, 1, err)) ||
            (L->use_bias && (st = add_param(L, "bias", 1, L->filters, 0, 0, 0, 1, err))))
            return st;
        return 0;
    }

    case NN_ADD:
        for (int i = 1; i < L->n_in; i++) {
            const nn_layer *J = &net->layers[L->in[i]];
            int same = J->rank == I->rank;
            for (int d = 0; same && d < I->rank; d++)
                same = J->shape[d] == I->shape[d];
            if (!same) {
                char b2[64];
                return sv_error_set(err, SV_ERR_SHAPE,
                                    "layer '%s' (add): input '%s' has shape %s, input '%s' has "
                                    "shape %s (they must be equal)",
                                    nm, I->name, shape_str(I, sbuf, sizeof sbuf), J->name,
                                    shape_str(J, b2, sizeof b2));
            }
        }
        return set_shape(L, I->rank, I->shape, err);

    case NN_MASKING:
        if (I->rank != 2)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (masking): needs a sequence input (T,F), got shape "
                                "%s from layer '%s'",
                                nm, shape_str(I, sbuf, sizeof sbuf), I->name);
        return set_shape(L, 2, I->shape, err);

    default:
        return sv_error_set(err, SV_ERR_ARG, "layer '%s': unknown layer kind %d", nm,
                            (int)L->kind);
    }
}

/* The mask producer of a masked recurrent layer must be a sequence as long
 * as the data (nn.h). */
static int check_mask_input(const nn_net *net, const nn_layer *L, sv_error *err)
{
    if (!((L->kind == NN_GRU || L->kind == NN_LSTM) && L->n_in == 2))
        return 0;
    const nn_layer *I = &net->layers[L->in[0]], *M = &net->layers[L->in[1]];
    if (M->rank != 2 || I->rank != 2 || M->shape[0] != I->shape[0])
        return sv_error_set(err, SV_ERR_SHAPE,
                            "layer '%s' (%s): its mask input '%s' is not a sequence of the "
                            "data's %d steps",
                            L->name, nn_kind_name(L->kind), M->name, I->shape[0]);
    return 0;
}

int nn_net_finalize(nn_net *net, sv_error *err)
{
    if (!net)
        return sv_error_set(err, SV_ERR_ARG, "nn_net_finalize: NULL network");
    if (net->finalized)
        return 0;
    if (net->n_layers == 0)
        return sv_error_set(err, SV_ERR_ARG, "network has no layers");
    if (net->n_inputs == 0)
        return sv_error_set(err, SV_ERR_ARG, "network has no input layer");
    if (net->output < 0)
        net->output = net->n_layers - 1;
    if (net->output >= net->n_layers)
        return sv_error_set(err, SV_ERR_ARG, "network output index %d is not a layer",
                            net->output);
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        for (int k = 0; k < L->n_in; k++)
            if (L->in[k] < 0 || L->in[k] >= i)
                return sv_error_set(err, SV_ERR_ARG,
                                    "layer '%s' (%s): input %d refers to layer %d, not an "
                                    "earlier layer",
                                    L->name, nn_kind_name(L->kind), k, L->in[k]);
        free_params(L);
        L->n_params = 0;
        int st = finalize_layer(net, i, err);
        if (!st)
            st = check_mask_input(net, L, err);
        if (st) {
            for (int j = 0; j <= i; j++) {
                free_params(&net->layers[j]);
                net->layers[j].n_params = 0;
            }
            return st;
        }
    }
    net->finalized = 1;
    return 0;
}

/* ---- initial weights ----------------------------------------------------- */

static void glorot(sv_xoshiro *r, nn_param *p, double fan_in, double fan_out)
{
    double lim = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < p->size; i++)
        p->w[i] = (float)((2.0 * sv_xoshiro_uniform(r) - 1.0) * lim);
}

static double gauss(sv_xoshiro *r)
{
    double u1 = sv_xoshiro_uniform(r), u2 = sv_xoshiro_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Keras Orthogonal for a (rows, cols) matrix: orthonormal rows when
 * rows <= cols, else orthonormal columns; by Gram-Schmidt on Gaussians. */
static void orthogonal(sv_xoshiro *r, nn_param *p)
{
    int rows = p->dims[0], cols = p->dims[1];
    int nv = rows <= cols ? rows : cols;  /* vectors to orthonormalise */
    int len = rows <= cols ? cols : rows; /* their length */
    double *v = malloc((size_t)nv * len * sizeof *v);
    if (!v) { /* fall back to Glorot */
        glorot(r, p, rows, cols);
        return;
    }
    for (size_t i = 0; i < (size_t)nv * len; i++)
        v[i] = gauss(r);
    for (int a = 0; a < nv; a++) {
        double *va = v + (size_t)a * len;
        for (int pass = 0; pass < 2; pass++)
            for (int b = 0; b < a; b++) {
                double *vb = v + (size_t)b * len, d = 0;
                for (int k = 0; k < len; k++)
                    d += va[k] * vb[k];
                for (int k = 0; k < len; k++)
                    va[k] -= d * vb[k];
            }
        double nrm = 0;
        for (int k = 0; k < len; k++)
            nrm += va[k] * va[k];
        nrm = sqrt(nrm);
        if (nrm < 1e-12)
            nrm = 1;
        for (int k = 0; k < len; k++)
            va[k] /= nrm;
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            p->w[(size_t)i * cols + j] =
                (float)(rows <= cols ? v[(size_t)i * len + j] : v[(size_t)j * len + i]);
    free(v);
}

void nn_net_init_weights(nn_net *net, uint64_t seed)
{
    if (!net)
        return;
    sv_xoshiro r;
    sv_xoshiro_seed(&r, seed);
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        for (int j = 0; j < L->n_params; j++) {
            nn_param *p = &L->p[j];
            const char *n = p->name;
            if (!strcmp(n, "kernel") || !strcmp(n, "pointwise_kernel") ||
                !strcmp(n, "depthwise_kernel")) {
                double fin, fout;
                if (p->rank == 4) {
                    double rf = (double)p->dims[0] * p->dims[1];
                    fin = rf * p->dims[2];
                    fout = rf * p->dims[3];
                } else if (p->rank == 3) { /* Conv1D (k, cin, filters) */
                    fin = (double)p->dims[0] * p->dims[1];
                    fout = (double)p->dims[0] * p->dims[2];
                } else {
                    fin = p->dims[0];
                    fout = p->dims[1];
                }
                glorot(&r, p, fin, fout);
            } else if (!strcmp(n, "recurrent_kernel")) {
                orthogonal(&r, p);
            } else if (!strcmp(n, "gamma") || !strcmp(n, "moving_variance")) {
                for (size_t k = 0; k < p->size; k++)
                    p->w[k] = 1.0f;
            } else {
                memset(p->w, 0, p->size * sizeof(float));
            }
        }
        /* Keras LSTM unit_forget_bias: the forget gate's bias starts at 1 */
        if (L->kind == NN_LSTM && L->use_bias && L->n_params == 3)
            for (int k = 0; k < L->units; k++)
                L->p[2].w[L->units + k] = 1.0f;
    }
}

int nn_net_with_steps(const nn_net *net, int steps, nn_net **out, sv_error *err)
{
    *out = NULL;
    if (!net || !net->finalized)
        return sv_error_set(err, SV_ERR_ARG, "nn_net_with_steps: network missing or not "
                            "finalised");
    nn_net *c = nn_net_new();
    if (!c)
        return sv_error_set(err, SV_ERR_NOMEM, "out of memory");
    int st = 0;
    for (int i = 0; i < net->n_layers && !st; i++) {
        nn_layer L = net->layers[i];
        L.n_params = 0;
        memset(L.p, 0, sizeof L.p);
        if (L.kind == NN_INPUT && L.rank == 2)
            L.shape[0] = steps;
        if (nn_net_add(c, &L, err) < 0)
            st = err ? err->status : SV_ERR_ARG;
    }
    if (!st) {
        c->output = net->output;
        st = nn_net_finalize(c, err);
    }
    for (int i = 0; i < net->n_layers && !st; i++) {
        const nn_layer *A = &net->layers[i];
        nn_layer *B = &c->layers[i];
        for (int j = 0; j < A->n_params && !st; j++) {
            if (B->n_params != A->n_params || B->p[j].size != A->p[j].size)
                st = sv_error_set(err, SV_ERR_SHAPE,
                                  "layer '%s' (%s): its weights depend on the number of time "
                                  "steps, so the network runs only on %d",
                                  A->name, nn_kind_name(A->kind),
                                  net->layers[net->inputs[0]].shape[0]);
            else
                memcpy(B->p[j].w, A->p[j].w, A->p[j].size * sizeof(float));
        }
    }
    if (st) {
        nn_net_free(c);
        return st;
    }
    *out = c;
    return 0;
}

size_t nn_net_count_params(const nn_net *net, int trainable_only)
{
    size_t n = 0;
    if (!net)
        return 0;
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        for (int j = 0; j < L->n_params; j++)
            if (!trainable_only || (L->trainable && L->p[j].trainable))
                n += L->p[j].size;
    }
    return n;
}

nn_param *nn_net_param(nn_net *net, const char *lname, const char *pname)
{
    int i = nn_net_find(net, lname);
    if (i < 0 || !pname)
        return NULL;
    nn_layer *L = &net->layers[i];
    for (int j = 0; j < L->n_params; j++)
        if (!strcmp(L->p[j].name, pname))
            return &L->p[j];
    return NULL;
}

nn_net *nn_net_clone(const nn_net *net)
{
    if (!net)
        return NULL;
    nn_net *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *net;
    c->layers = NULL;
    c->n_layers = 0;
    c->cap_layers = 0;
    if (net->n_layers > 0) {
        c->layers = calloc((size_t)net->n_layers, sizeof *c->layers);
        if (!c->layers) {
            free(c);
            return NULL;
        }
        c->cap_layers = net->n_layers;
    }
    for (int i = 0; i < net->n_layers; i++) {
        c->layers[i] = net->layers[i];
        nn_layer *L = &c->layers[i];
        for (int j = 0; j < L->n_params; j++)
            L->p[j].w = NULL;
        c->n_layers = i + 1;
        for (int j = 0; j < L->n_params; j++) {
            const nn_param *src = &net->layers[i].p[j];
            L->p[j].w = malloc((src->size ? src->size : 1) * sizeof(float));
            if (!L->p[j].w) {
                nn_net_free(c);
                return NULL;
            }
            memcpy(L->p[j].w, src->w, src->size * sizeof(float));
        }
    }
    return c;
}
