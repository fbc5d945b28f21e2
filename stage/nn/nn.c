/* nn.c — building an nn_net: layers, shape inference, parameters, names.
 * See nn.h. */
#include "nn/nn.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_layers.h"
#include "nn/nn_ops.h"

/* ---- names ------------------------------------------------------------- */

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

const char *nn_kind_name(nn_kind kind)
{
    const nn_op *op = nn_op_of(kind);
    return op ? op->name : "unknown";
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
        const nn_op *op = nn_op_of((nn_kind)i);
        squash(op->name, k, sizeof k);
        if (!strcmp(q, k))
            return i;
    }
    for (int i = 0; i < NN_KIND_COUNT; i++) {
        const nn_op *op = nn_op_of((nn_kind)i);
        for (const char *const *al = op->aliases; al && *al; al++)
            if (!strcmp(q, *al))
                return i;
    }
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
    const nn_op *op = nn_op_of(kind);
    if (op && op->defaults)
        op->defaults(&L);
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

static int check_spec(const nn_net *net, nn_layer *L, sv_error *err)
{
    const char *nm = L->name;
    const nn_op *op = nn_op_of(L->kind);
    if (!op)
        return sv_error_set(err, SV_ERR_ARG, "layer '%s': unknown layer kind %d",
                            nm, (int)L->kind);
    const char *kn = op->name;
    if ((int)L->act < 0 || L->act >= NN_ACT_COUNT)
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): unknown activation %d",
                            nm, kn, (int)L->act);
    if (!(L->alpha >= 0.0f) || !isfinite(L->alpha))
        return sv_error_set(err, SV_ERR_ARG,
                            "layer '%s' (%s): leaky relu slope %g must be finite and >= 0",
                            nm, kn, (double)L->alpha);
    /* producers */
    if (L->n_in < op->n_in_min || L->n_in > op->n_in_max) {
        if (op->n_in_max == 0)
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): an input has no producers",
                                nm, kn);
        if (op->n_in_min == op->n_in_max)
            return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): %d inputs, needs exactly %d",
                                nm, kn, L->n_in, op->n_in_min);
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): %d inputs, needs %d..%d", nm, kn,
                            L->n_in, op->n_in_min, op->n_in_max);
    }
    for (int i = 0; i < L->n_in; i++)
        if (L->in[i] < 0 || L->in[i] >= net->n_layers)
            return sv_error_set(err, SV_ERR_ARG,
                                "layer '%s' (%s): input %d refers to layer %d, not an earlier layer",
                                nm, kn, i, L->in[i]);
    /* hyper-parameters */
    int st = op->check ? op->check(L, err) : 0;
    if (st)
        return st;
    if (L->kind == NN_INPUT && net->n_inputs >= NN_MAX_NET_INPUTS)
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (input): more than %d network inputs",
                            nm, NN_MAX_NET_INPUTS);
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

static int finalize_layer(nn_net *net, int li, sv_error *err)
{
    nn_layer *L = &net->layers[li];
    const nn_layer *in[NN_MAX_INPUTS];
    for (int k = 0; k < L->n_in; k++)
        in[k] = &net->layers[L->in[k]];
    nn_shape sh;
    int st = nn_op_infer(L, in, &sh, err);
    if (st)
        return st;
    if ((st = set_shape(L, sh.rank, sh.dims, err)))
        return st;
    for (int j = 0; j < sh.n_params; j++) {
        const nn_pspec *p = &sh.p[j];
        if ((st = add_param(L, p->name, p->rank, p->dims[0], p->dims[1], p->dims[2], p->dims[3],
                            p->trainable, err)))
            return st;
    }
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

void nn_net_init_weights(nn_net *net, uint64_t seed)
{
    if (!net)
        return;
    sv_xoshiro r;
    sv_xoshiro_seed(&r, seed);
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        const nn_op *op = nn_op_of(L->kind);
        if (op && op->init)
            op->init(L, &r);
        else
            nn_init_default(L, &r);
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
