/* onnx_import.c — see onnx_import.h.
 *
 * Every ONNX value the graph computes is tracked with the net layer that
 * holds it and how its layout relates to ONNX's: a stamp tensor (ONNX
 * N,C,H,W = engine H,W,C), a vector (N,F = F), a vector flattened from a
 * stamp tensor (ONNX order c,h,w; engine order h,w,c: a Dense that reads it
 * has its kernel rows reordered), a sequence in one of its ONNX views (see
 * vkind), a constant (an initializer or a Constant node), or a value no
 * layer computes (shape arithmetic, zeros).  Weights
 * are converted when their node is read and copied into the net once it is
 * finalised. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "model/import/onnx_import.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/import/onnx/onnx.pb-c.h"
#include "core/sha256.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define OIMP_MAX_FILE (1L << 30) /* 1 GiB */

/* V_SEQ: (N, T, F), the engine's (T, F); V_SEQ_TM: the same steps seen
 * time-major (T, N, F), as ONNX's GRU / LSTM read and write them; V_RNN_Y:
 * a GRU / LSTM output Y (T, 1, N, H); V_RNN_H: its last state Y_h (1, N, H);
 * V_SHAPE: a computation on tensor shapes (Shape, Gather, Concat, ...);
 * V_ZERO: a tensor known to hold zeros (an RNN's initial state). */
typedef enum vkind {
    V_STAMP = 1, V_VEC, V_VEC_CHW, V_CONST, V_SEQ, V_SEQ_TM, V_RNN_Y, V_RNN_H, V_SHAPE, V_ZERO
} vkind;

#define OIMP_MAX_SEG NN_MAX_INPUTS

typedef struct oseg {            /* a flattened image inside a vector      */
    int off, c, h, w;
} oseg;

typedef struct oval {
    const char *name;
    vkind kind;
    int layer;                   /* net layer (not V_CONST)               */
    int nseg;                    /* V_VEC_CHW: its flattened images, in   */
    oseg seg[OIMP_MAX_SEG];      /* ONNX's (c, h, w) order                */
    const Onnx__TensorProto *t;  /* V_CONST                               */
} oval;

typedef struct pend {            /* a weight to copy after finalisation   */
    int layer, param;
    float *w;
    size_t n;
} pend;

typedef struct oimp {
    const char *src;
    sv_error *err;
    nn_net *net;
    const Onnx__GraphProto *g;
    int opset;
    int steps;                   /* --steps: T of a sequence input left free */
    oval *v;
    int nv, capv;
    pend *p;
    int np, capp;
} oimp;

/* ---- errors, values, weights -------------------------------------------- */

static int o_unsup(oimp *k, const Onnx__NodeProto *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A node's name for messages: ONNX makes it optional ("?" when absent). */
static const char *o_node_name(const Onnx__NodeProto *n)
{
    return n->name && n->name[0] ? n->name : "?";
}

static int o_unsup(oimp *k, const Onnx__NodeProto *n, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sv_error_set(k->err, SV_ERR_UNSUPPORTED, "%s: node '%s' (%s): %s", k->src,
                        o_node_name(n), n->op_type, what);
}

static oval *o_find(oimp *k, const char *name)
{
    for (int i = k->nv - 1; i >= 0; i--)
        if (!strcmp(k->v[i].name, name))
            return &k->v[i];
    return NULL;
}

static oval *o_new(oimp *k, const char *name, vkind kind, int layer)
{
    if (k->nv == k->capv) {
        int cap = k->capv ? 2 * k->capv : 64;
        oval *nv = realloc(k->v, (size_t)cap * sizeof *nv);
        if (!nv)
            return NULL;
        k->v = nv;
        k->capv = cap;
    }
    oval *v = &k->v[k->nv++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->kind = kind;
    v->layer = layer;
    return v;
}

/* A new value `name` with x's layout, held by `layer` (x may move). */
static int o_alias(oimp *k, const char *name, const oval *x, int layer)
{
    oval keep = *x;
    oval *v = o_new(k, name, keep.kind, layer);
    if (!v)
        return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
    v->nseg = keep.nseg;
    memcpy(v->seg, keep.seg, sizeof v->seg);
    return 0;
}

/* Keep w (malloc'd, n floats) for parameter `param` of `layer`. */
static int o_pend(oimp *k, int layer, int param, float *w, size_t n)
{
    if (k->np == k->capp) {
        int cap = k->capp ? 2 * k->capp : 32;
        pend *np = realloc(k->p, (size_t)cap * sizeof *np);
        if (!np) {
            free(w);
            return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
        }
        k->p = np;
        k->capp = cap;
    }
    k->p[k->np++] = (pend){layer, param, w, n};
    return 0;
}

static pend *o_pending(oimp *k, int layer, int param)
{
    for (int i = 0; i < k->np; i++)
        if (k->p[i].layer == layer && k->p[i].param == param)
            return &k->p[i];
    return NULL;
}

/* How many nodes read value `name` (the graph output counts as one): a
 * bias or an activation is fused only into a value nobody else reads. */
static int o_consumers(const oimp *k, const char *name)
{
    int c = 0;
    for (size_t i = 0; i < k->g->n_node; i++)
        for (size_t j = 0; j < k->g->node[i]->n_input; j++)
            c += !strcmp(k->g->node[i]->input[j], name);
    for (size_t i = 0; i < k->g->n_output; i++)
        c += !strcmp(k->g->output[i]->name, name);
    return c;
}

static size_t t_count(const Onnx__TensorProto *t)
{
    size_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        size_t d = t->dims[i] > 0 ? (size_t)t->dims[i] : 0;
        if (d && n > SIZE_MAX / d)
            return SIZE_MAX; /* saturates: no data block is that long */
        n *= d;
    }
    return n;
}

/* The float values of constant `name` (a copy), checking its element count
 * (want, or any when 0).  NULL with err set. */
static float *o_floats(oimp *k, const Onnx__NodeProto *n, const char *name, size_t want,
                       size_t *count)
{
    oval *v = o_find(k, name);
    if (!v || v->kind != V_CONST) {
        o_unsup(k, n, "input '%s' is not a constant (an initializer)", name);
        return NULL;
    }
    const Onnx__TensorProto *t = v->t;
    size_t c = t_count(t);
    if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        o_unsup(k, n, "constant '%s' is of ONNX data type %d, not float", name, t->data_type);
        return NULL;
    }
    if (want && c != want) {
        sv_error_set(k->err, SV_ERR_FORMAT, "%s: node '%s' (%s): constant '%s' has %zu values, "
                     "%zu expected", k->src, o_node_name(n), n->op_type, name, c, want);
        return NULL;
    }
    float *w = malloc((c ? c : 1) * sizeof *w);
    if (!w) {
        sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
        return NULL;
    }
    if (t->n_float_data == c) {
        if (c) /* an empty tensor has no float_data (NULL): memcpy needs a pointer */
            memcpy(w, t->float_data, c * sizeof *w);
    } else if (t->has_raw_data && t->raw_data.len == c * sizeof(float)) {
        for (size_t i = 0; i < c; i++) { /* little-endian IEEE float32 */
            const uint8_t *b = t->raw_data.data + 4 * i;
            uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                         (uint32_t)b[3] << 24;
            memcpy(&w[i], &u, sizeof u);
        }
    } else {
        free(w);
        sv_error_set(k->err, SV_ERR_FORMAT, "%s: constant '%s' holds no data for its %zu "
                     "values (external data is not supported)", k->src, name, c);
        return NULL;
    }
    for (size_t i = 0; i < c; i++)
        if (!isfinite(w[i])) {
            free(w);
            sv_error_set(k->err, SV_ERR_FORMAT, "%s: constant '%s' holds NaN or infinite "
                         "values", k->src, name);
            return NULL;
        }
    if (count)
        *count = c;
    return w;
}

/* int64 values of a constant (Reshape's shape), at most max. */
static int o_ints(oimp *k, const Onnx__NodeProto *n, const char *name, int64_t *out, int max)
{
    oval *v = o_find(k, name);
    if (!v || v->kind != V_CONST || v->t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
        return o_unsup(k, n, "input '%s' is not a constant int64 tensor", name);
    const Onnx__TensorProto *t = v->t;
    size_t c = t_count(t);
    if (c > (size_t)max)
        return o_unsup(k, n, "input '%s' has %zu values (at most %d)", name, c, max);
    if (c == 0)
        return 0;
    if (t->n_int64_data == c)
        memcpy(out, t->int64_data, c * sizeof *out);
    else if (t->has_raw_data && t->raw_data.len == c * 8)
        for (size_t i = 0; i < c; i++) {
            uint64_t u = 0;
            for (int b = 7; b >= 0; b--)
                u = u << 8 | t->raw_data.data[8 * i + b];
            out[i] = (int64_t)u;
        }
    else
        return o_unsup(k, n, "constant '%s' holds no data", name);
    return (int)c;
}

/* ---- attributes ---------------------------------------------------------- */

static const Onnx__AttributeProto *o_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (!strcmp(n->attribute[i]->name, name))
            return n->attribute[i];
    return NULL;
}

static int64_t a_int(const Onnx__NodeProto *n, const char *name, int64_t dflt)
{
    const Onnx__AttributeProto *a = o_attr(n, name);
    return a ? a->i : dflt;
}

static float a_float(const Onnx__NodeProto *n, const char *name, float dflt)
{
    const Onnx__AttributeProto *a = o_attr(n, name);
    return a ? a->f : dflt;
}

/* An ints attribute of exactly `len` values into out (defaults kept when
 * absent); -1 when present with another length. */
static int a_ints(const Onnx__NodeProto *n, const char *name, int64_t *out, size_t len)
{
    const Onnx__AttributeProto *a = o_attr(n, name);
    if (!a)
        return 0;
    if (a->n_ints != len)
        return -1;
    memcpy(out, a->ints, len * sizeof *out);
    return 1;
}

/* ---- the net ------------------------------------------------------------- */

/* A unique layer name for node n (its own name when it has one). */
static void o_layer_name(oimp *k, const Onnx__NodeProto *n, char *out)
{
    const char *base = n->name && n->name[0] ? n->name : n->op_type;
    snprintf(out, NN_NAME_MAX, "%.*s", NN_NAME_MAX - 1, base);
    for (int i = 2; nn_net_find(k->net, out) >= 0; i++) {
        char suffix[16];
        int sl = snprintf(suffix, sizeof suffix, "_%d", i);
        snprintf(out, NN_NAME_MAX, "%.*s%s", NN_NAME_MAX - 1 - sl, base, suffix);
    }
}

static int o_add(oimp *k, const Onnx__NodeProto *n, nn_layer *L, int n_in, const int *in,
                 int *idx)
{
    o_layer_name(k, n, L->name);
    L->n_in = n_in;
    for (int i = 0; i < n_in; i++)
        L->in[i] = in[i];
    int r = nn_net_add(k->net, L, k->err);
    if (r < 0)
        return sv_error_prefix(k->err, "%s: node '%s' (%s): ", k->src, o_node_name(n), n->op_type);
    *idx = r;
    return 0;
}

/* The per-sample shape of layer idx as the net stands. */
static int o_shape(oimp *k, int idx, int shape[NN_MAX_RANK])
{
    nn_net *c = nn_net_clone(k->net);
    if (!c)
        return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
    c->n_layers = idx + 1;
    c->output = idx;
    int st = nn_net_finalize(c, k->err);
    if (st)
        sv_error_prefix(k->err, "%s: ", k->src);
    else
        memcpy(shape, c->layers[idx].shape, sizeof c->layers[idx].shape);
    nn_net_free(c);
    return st;
}

/* The data input of n: a computed value of one of the kinds in `ok`. */
static oval *o_data(oimp *k, const Onnx__NodeProto *n, size_t i, unsigned ok)
{
    if (i >= n->n_input || !n->input[i][0]) {
        o_unsup(k, n, "missing input %zu", i);
        return NULL;
    }
    oval *v = o_find(k, n->input[i]);
    if (!v) {
        sv_error_set(k->err, SV_ERR_FORMAT, "%s: node '%s' (%s): input '%s' is computed by no "
                     "earlier node", k->src, o_node_name(n), n->op_type, n->input[i]);
        return NULL;
    }
    if (!(ok & (1u << v->kind))) {
        static const char *const kn[] = {
            "", "an image (N,C,H,W)", "a vector (N,F)", "a flattened image", "a constant",
            "a sequence (N,T,F)", "a time-major sequence (T,N,F)",
            "a recurrent output Y (T,1,N,H)", "a recurrent state Y_h (1,N,H)",
            "a shape computation", "a tensor of zeros"};
        o_unsup(k, n, "input '%s' is %s", n->input[i], kn[v->kind]);
        return NULL;
    }
    if ((v->kind == V_SEQ || v->kind == V_SEQ_TM || v->kind == V_RNN_Y) &&
        (k->net->layers[v->layer].kind == NN_GRU || k->net->layers[v->layer].kind == NN_LSTM) &&
        !k->net->layers[v->layer].return_sequences) {
        o_unsup(k, n, "input '%s' is the whole output sequence of '%s', whose last step "
                "another node takes (not both)", n->input[i], k->net->layers[v->layer].name);
        return NULL;
    }
    return v;
}

#define K_STAMP (1u << V_STAMP)
#define K_VEC (1u << V_VEC)
#define K_CHW (1u << V_VEC_CHW)
#define K_CONST (1u << V_CONST)
#define K_SEQ (1u << V_SEQ)
#define K_SEQ_TM (1u << V_SEQ_TM)
#define K_RNN_Y (1u << V_RNN_Y)
#define K_RNN_H (1u << V_RNN_H)
#define K_SHAPE (1u << V_SHAPE)
#define K_ZERO (1u << V_ZERO)

/* The output value of n, held by layer idx. */
static int o_out(oimp *k, const Onnx__NodeProto *n, vkind kind, int idx)
{
    if (n->n_output < 1)
        return sv_error_set(k->err, SV_ERR_FORMAT, "%s: node '%s' has no output", k->src,
                            o_node_name(n));
    if (!o_new(k, n->output[0], kind, idx))
        return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
    return 0;
}

/* ONNX pads / auto_pad -> valid or TF-same on an h x w input. */
static int o_padding(oimp *k, const Onnx__NodeProto *n, int h, int w, int kh, int kw, int sh,
                     int sw, nn_padding *pad)
{
    const Onnx__AttributeProto *ap = o_attr(n, "auto_pad");
    char mode[32] = "NOTSET";
    if (ap)
        snprintf(mode, sizeof mode, "%.*s", (int)ap->s.len, (const char *)ap->s.data);
    int64_t p[4] = {0, 0, 0, 0};
    if (a_ints(n, "pads", p, 4) < 0)
        return o_unsup(k, n, "pads of other than 4 values");
    if (!strcmp(mode, "VALID") || (!strcmp(mode, "NOTSET") && !p[0] && !p[1] && !p[2] && !p[3])) {
        *pad = NN_PAD_VALID;
        return 0;
    }
    if (!strcmp(mode, "SAME_UPPER")) {
        *pad = NN_PAD_SAME;
        return 0;
    }
    if (strcmp(mode, "NOTSET"))
        return o_unsup(k, n, "auto_pad %s (VALID, SAME_UPPER or explicit pads are)", mode);
    int ho, wo, pt, pl;
    nn_conv_geometry(h, kh, sh, NN_PAD_SAME, &ho, &pt);
    nn_conv_geometry(w, kw, sw, NN_PAD_SAME, &wo, &pl);
    long th = (long)(ho - 1) * sh + kh - h, tw = (long)(wo - 1) * sw + kw - w;
    th = th < 0 ? 0 : th;
    tw = tw < 0 ? 0 : tw;
    if (p[0] == pt && p[1] == pl && p[2] == th - pt && p[3] == tw - pl) {
        *pad = NN_PAD_SAME;
        return 0;
    }
    return o_unsup(k, n, "pads [%lld,%lld,%lld,%lld] are neither none nor TF-same on a %dx%d "
                   "input", (long long)p[0], (long long)p[1], (long long)p[2], (long long)p[3],
                   h, w);
}

/* Kernel, strides and padding of a Conv or pool over value x. */
static int o_window(oimp *k, const Onnx__NodeProto *n, const oval *x, nn_layer *L, int kh0,
                    int kw0)
{
    int64_t ks[2] = {kh0, kw0}, st[2] = {1, 1}, dl[2] = {1, 1};
    if (a_ints(n, "kernel_shape", ks, 2) < 0 || a_ints(n, "strides", st, 2) < 0 ||
        a_ints(n, "dilations", dl, 2) < 0)
        return o_unsup(k, n, "a kernel_shape, strides or dilations of other than 2 values "
                       "(2-D only)");
    if (dl[0] != 1 || dl[1] != 1)
        return o_unsup(k, n, "dilations other than 1");
    if (ks[0] < 1 || ks[1] < 1 || st[0] < 1 || st[1] < 1 || ks[0] > 4096 || ks[1] > 4096 ||
        st[0] > 4096 || st[1] > 4096)
        return o_unsup(k, n, "kernel_shape or strides out of range");
    if (ks[0] != kh0 || ks[1] != kw0)
        return sv_error_set(k->err, SV_ERR_FORMAT, "%s: node '%s': kernel_shape disagrees with "
                            "the weights", k->src, o_node_name(n));
    L->kh = (int)ks[0];
    L->kw = (int)ks[1];
    L->sh = (int)st[0];
    L->sw = (int)st[1];
    int shp[NN_MAX_RANK];
    int s = o_shape(k, x->layer, shp);
    if (s)
        return s;
    return o_padding(k, n, shp[0], shp[1], L->kh, L->kw, L->sh, L->sw, &L->padding);
}

/* ---- operators ----------------------------------------------------------- */

static int op_conv(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_STAMP);
    if (!x)
        return k->err->status;
    if (a_int(n, "group", 1) != 1)
        return o_unsup(k, n, "group %lld (only 1)", (long long)a_int(n, "group", 1));
    oval *wv = n->n_input > 1 ? o_find(k, n->input[1]) : NULL;
    if (!wv || wv->kind != V_CONST || wv->t->n_dims != 4)
        return o_unsup(k, n, "weights that are not a constant (O, I, kh, kw) tensor");
    const int64_t *d = wv->t->dims;
    for (int q = 0; q < 4; q++)
        if (d[q] < 1 || d[q] > 65536)
            return sv_error_set(k->err, SV_ERR_SHAPE,
                                "%s: node '%s' (Conv): weights of shape (%lld, %lld, %lld, %lld)",
                                k->src, o_node_name(n), (long long)d[0], (long long)d[1],
                                (long long)d[2], (long long)d[3]);
    int O = (int)d[0], I = (int)d[1], kh = (int)d[2], kw = (int)d[3];
    nn_layer L = nn_layer_defaults(NN_CONV2D, "");
    L.filters = O;
    int st = o_window(k, n, x, &L, kh, kw);
    if (st)
        return st;
    float *W = o_floats(k, n, n->input[1], (size_t)O * I * kh * kw, NULL);
    if (!W)
        return k->err->status;
    float *K = malloc((size_t)O * I * kh * kw * sizeof *K), *B = NULL;
    if (!K) {
        free(W);
        return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
    }
    for (int o = 0; o < O; o++)
        for (int c = 0; c < I; c++)
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                    K[(((size_t)i * kw + j) * I + c) * O + o] =
                        W[(((size_t)o * I + c) * kh + i) * kw + j];
    free(W);
    if (n->n_input > 2 && n->input[2][0]) {
        if (!(B = o_floats(k, n, n->input[2], (size_t)O, NULL))) {
            free(K);
            return k->err->status;
        }
    } else {
        B = calloc((size_t)O, sizeof *B); /* a later Add may fill it */
    }
    int idx;
    if ((st = o_add(k, n, &L, 1, &x->layer, &idx))) {
        free(K);
        free(B);
        return st;
    }
    if ((st = o_pend(k, idx, 0, K, (size_t)O * I * kh * kw))) { /* it took K */
        free(B);
        return st;
    }
    if (!B || (st = o_pend(k, idx, 1, B, (size_t)O)))
        return st ? st : sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
    return o_out(k, n, V_STAMP, idx);
}

/* Dense on x with kernel K (fin x units, in ONNX's row order) and bias B. */
static int o_dense(oimp *k, const Onnx__NodeProto *n, oval *x, float *K, float *B, int fin,
                   int units)
{
    if (x->kind == V_VEC_CHW) { /* rows (c, h, w) -> the engine's (h, w, c), per image */
        const oseg *last = &x->seg[x->nseg - 1];
        if (last->off + last->c * last->h * last->w > fin) {
            free(K);
            free(B);
            return sv_error_set(k->err, SV_ERR_SHAPE, "%s: node '%s': %d inputs, fewer than "
                                "its flattened images hold", k->src, o_node_name(n), fin);
        }
        float *R = malloc((size_t)fin * units * sizeof *R);
        if (!R) {
            free(K);
            free(B);
            return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
        }
        memcpy(R, K, (size_t)fin * units * sizeof *R); /* plain rows stay */
        for (int q = 0; q < x->nseg; q++) {
            const oseg *g = &x->seg[q];
            for (int c = 0; c < g->c; c++)
                for (int i = 0; i < g->h; i++)
                    for (int j = 0; j < g->w; j++)
                        memcpy(R + (g->off + ((size_t)i * g->w + j) * g->c + c) * units,
                               K + (g->off + ((size_t)c * g->h + i) * g->w + j) * units,
                               (size_t)units * sizeof *R);
        }
        free(K);
        K = R;
    }
    nn_layer L = nn_layer_defaults(NN_DENSE, "");
    L.units = units;
    int idx, st;
    if ((st = o_add(k, n, &L, 1, &x->layer, &idx))) {
        free(K);
        free(B);
        return st;
    }
    if ((st = o_pend(k, idx, 0, K, (size_t)fin * units))) {
        free(B);
        return st;
    }
    if ((st = o_pend(k, idx, 1, B, (size_t)units)))
        return st;
    return o_out(k, n, x->kind == V_SEQ || x->kind == V_SEQ_TM ? x->kind : V_VEC, idx);
}

static int op_gemm(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_VEC | K_CHW);
    if (!x)
        return k->err->status;
    if (a_int(n, "transA", 0) || a_float(n, "alpha", 1.0f) != 1.0f ||
        a_float(n, "beta", 1.0f) != 1.0f)
        return o_unsup(k, n, "transA, alpha or beta other than 0, 1, 1");
    oval *bv = n->n_input > 1 ? o_find(k, n->input[1]) : NULL;
    if (!bv || bv->kind != V_CONST || bv->t->n_dims != 2)
        return o_unsup(k, n, "B that is not a constant matrix");
    int tb = (int)a_int(n, "transB", 0);
    int fin = (int)bv->t->dims[tb ? 1 : 0], units = (int)bv->t->dims[tb ? 0 : 1];
    float *Bm = o_floats(k, n, n->input[1], (size_t)fin * units, NULL);
    if (!Bm)
        return k->err->status;
    float *K = Bm;
    if (tb) {
        if (!(K = malloc((size_t)fin * units * sizeof *K))) {
            free(Bm);
            return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
        }
        for (int i = 0; i < fin; i++)
            for (int j = 0; j < units; j++)
                K[(size_t)i * units + j] = Bm[(size_t)j * fin + i];
        free(Bm);
    }
    float *B;
    if (n->n_input > 2 && n->input[2][0])
        B = o_floats(k, n, n->input[2], (size_t)units, NULL);
    else
        B = calloc((size_t)units, sizeof *B);
    if (!B) {
        free(K);
        return k->err->status ? k->err->status : SV_ERR_NOMEM;
    }
    return o_dense(k, n, x, K, B, fin, units);
}

static int op_matmul(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_VEC | K_CHW | K_SEQ | K_SEQ_TM); /* per step on a sequence */
    if (!x)
        return k->err->status;
    oval *bv = n->n_input > 1 ? o_find(k, n->input[1]) : NULL;
    if (!bv || bv->kind != V_CONST || bv->t->n_dims != 2)
        return o_unsup(k, n, "a second operand that is not a constant matrix");
    int fin = (int)bv->t->dims[0], units = (int)bv->t->dims[1];
    float *K = o_floats(k, n, n->input[1], (size_t)fin * units, NULL);
    float *B = calloc(units > 0 ? (size_t)units : 1, sizeof *B);
    if (!K || !B) {
        free(K);
        free(B);
        return k->err->status ? k->err->status : SV_ERR_NOMEM;
    }
    return o_dense(k, n, x, K, B, fin, units);
}

static int op_add(oimp *k, const Onnx__NodeProto *n)
{
    if (n->n_input != 2)
        return o_unsup(k, n, "%zu inputs (2 expected)", n->n_input);
    oval *a = o_find(k, n->input[0]), *b = o_find(k, n->input[1]);
    if (!a || !b)
        return sv_error_set(k->err, SV_ERR_FORMAT, "%s: node '%s': an input is computed by no "
                            "earlier node", k->src, o_node_name(n));
    if (a->kind == V_CONST) {
        oval *t = a;
        a = b;
        b = t;
    }
    if (b->kind == V_CONST) { /* a bias: into the Dense / Conv that computes a */
        const nn_layer *P = a->kind != V_CONST ? &k->net->layers[a->layer] : NULL;
        pend *bias = P ? o_pending(k, a->layer, 1) : NULL;
        if (!P || (P->kind != NN_DENSE && P->kind != NN_CONV2D) || P->act != NN_ACT_LINEAR ||
            o_consumers(k, a->name) != 1 || !bias)
            return o_unsup(k, n, "adding a constant to anything but a Dense or Conv output");
        size_t c = 0;
        float *v = o_floats(k, n, b->name, 0, &c);
        if (!v)
            return k->err->status;
        if (c != bias->n) {
            free(v);
            return o_unsup(k, n, "a constant of %zu values added to %zu channels (only a "
                           "per-channel bias)", c, bias->n);
        }
        for (size_t i = 0; i < c; i++)
            bias->w[i] += v[i];
        free(v);
        return o_alias(k, n->output[0], a, a->layer);
    }
    if (a->kind != b->kind || a->kind == V_VEC_CHW)
        return o_unsup(k, n, "inputs of different layouts");
    nn_layer L = nn_layer_defaults(NN_ADD, "");
    int in[2] = {a->layer, b->layer}, idx, st;
    if ((st = o_add(k, n, &L, 2, in, &idx)))
        return st;
    return o_out(k, n, a->kind, idx);
}

static int op_act(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_STAMP | K_VEC | K_CHW | K_SEQ | K_SEQ_TM);
    if (!x)
        return k->err->status;
    nn_act act;
    float alpha = 0.0f;
    const char *op = n->op_type;
    if (!strcmp(op, "Relu"))
        act = NN_ACT_RELU;
    else if (!strcmp(op, "Sigmoid"))
        act = NN_ACT_SIGMOID;
    else if (!strcmp(op, "Tanh"))
        act = NN_ACT_TANH;
    else if (!strcmp(op, "LeakyRelu")) {
        act = NN_ACT_LEAKY_RELU;
        alpha = a_float(n, "alpha", 0.01f);
    } else { /* Softmax */
        int64_t axis = a_int(n, "axis", k->opset >= 13 ? -1 : 1);
        int seq = x->kind == V_SEQ || x->kind == V_SEQ_TM, last = seq ? 2 : 1;
        if (x->kind == V_STAMP || !(axis == -1 || axis == last))
            return o_unsup(k, n, "softmax over axis %lld of a %s (only the features, the last "
                           "axis)", (long long)axis, x->kind == V_STAMP ? "image" : seq ?
                           "sequence" : "vector");
        act = NN_ACT_SOFTMAX;
    }
    nn_layer *P = &k->net->layers[x->layer];
    if ((P->kind == NN_DENSE || P->kind == NN_CONV2D || P->kind == NN_ADD) &&
        P->act == NN_ACT_LINEAR && o_consumers(k, x->name) == 1 && x->kind != V_VEC_CHW) {
        P->act = act; /* fused, as the engine runs it */
        P->alpha = alpha;
        return o_alias(k, n->output[0], x, x->layer);
    }
    nn_layer L = nn_layer_defaults(NN_ACTIVATION, "");
    L.act = act;
    L.alpha = alpha;
    int idx, st;
    if ((st = o_add(k, n, &L, 1, &x->layer, &idx)))
        return st;
    return o_alias(k, n->output[0], x, idx);
}

static int op_pool(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_STAMP);
    if (!x)
        return k->err->status;
    int max = !strcmp(n->op_type, "MaxPool");
    if (a_int(n, "ceil_mode", 0))
        return o_unsup(k, n, "ceil_mode 1");
    if (!max && a_int(n, "count_include_pad", 0))
        return o_unsup(k, n, "count_include_pad 1");
    if (max && a_int(n, "storage_order", 0))
        return o_unsup(k, n, "storage_order 1");
    if (n->n_output > 1 && n->output[1][0])
        return o_unsup(k, n, "the Indices output");
    int64_t ks[2] = {0, 0};
    if (a_ints(n, "kernel_shape", ks, 2) != 1)
        return o_unsup(k, n, "kernel_shape of other than 2 values");
    nn_layer L = nn_layer_defaults(max ? NN_MAXPOOL2D : NN_AVGPOOL2D, "");
    int st = o_window(k, n, x, &L, (int)ks[0], (int)ks[1]), idx;
    if (st || (st = o_add(k, n, &L, 1, &x->layer, &idx)))
        return st;
    return o_out(k, n, V_STAMP, idx);
}

static int op_gap(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_STAMP);
    if (!x)
        return k->err->status;
    nn_layer L = nn_layer_defaults(NN_GLOBAL_AVGPOOL2D, "");
    int idx, st;
    if ((st = o_add(k, n, &L, 1, &x->layer, &idx)))
        return st;
    return o_out(k, n, V_VEC, idx); /* (N, C, 1, 1): a vector once flattened */
}

/* Flatten, or a Reshape to (batch, -1): an image becomes a (c, h, w)-ordered
 * vector; a vector stays. */
static int o_flatten(oimp *k, const Onnx__NodeProto *n, oval *x)
{
    if (x->kind != V_STAMP)
        return o_alias(k, n->output[0], x, x->layer);
    int shp[NN_MAX_RANK], st, idx;
    if ((st = o_shape(k, x->layer, shp)))
        return st;
    nn_layer L = nn_layer_defaults(NN_FLATTEN, "");
    if ((st = o_add(k, n, &L, 1, &x->layer, &idx)))
        return st;
    int flat = shp[0] == 1 && shp[1] == 1; /* 1x1: the orders agree */
    oval *v = o_new(k, n->output[0], flat ? V_VEC : V_VEC_CHW, idx);
    if (!v)
        return SV_ERR_NOMEM;
    if (!flat)
        v->seg[v->nseg++] = (oseg){0, shp[2], shp[0], shp[1]};
    return 0;
}

static int op_flatten(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_STAMP | K_VEC | K_CHW);
    if (!x)
        return k->err->status;
    if (a_int(n, "axis", 1) != 1)
        return o_unsup(k, n, "axis %lld (only 1: keep the batch)", (long long)a_int(n, "axis", 1));
    return o_flatten(k, n, x);
}

static int op_reshape(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_STAMP | K_VEC | K_CHW);
    if (!x)
        return k->err->status;
    int64_t s[8];
    int ns = n->n_input > 1 ? o_ints(k, n, n->input[1], s, 8) : -1;
    if (ns < 0)
        return k->err->status ? k->err->status : o_unsup(k, n, "no shape");
    if (a_int(n, "allowzero", 0))
        return o_unsup(k, n, "allowzero 1");
    int shp[NN_MAX_RANK], st;
    if ((st = o_shape(k, x->layer, shp)))
        return st;
    long per = (long)k->net->layers[x->layer].out_size;
    (void)shp;
    if (ns == 2 && (s[0] == 0 || s[0] == -1 || s[0] == 1) && (s[1] == -1 || s[1] == per))
        return o_flatten(k, n, x);
    return o_unsup(k, n, "reshape to a shape other than (batch, -1) (a flatten)");
}

static int op_shape_of(oimp *k, const Onnx__NodeProto *n);

static int op_concat(oimp *k, const Onnx__NodeProto *n)
{
    int shapes = 1; /* of shapes and constants only: a shape computation */
    for (size_t i = 0; i < n->n_input; i++) {
        oval *x = o_find(k, n->input[i]);
        shapes &= x && (x->kind == V_SHAPE || x->kind == V_CONST);
    }
    if (shapes)
        return op_shape_of(k, n);
    if (n->n_input < 2 || n->n_input > NN_MAX_INPUTS)
        return o_unsup(k, n, "%zu inputs (2..%d)", n->n_input, NN_MAX_INPUTS);
    int in[NN_MAX_INPUTS], nseg = 0, off = 0, st;
    oseg seg[OIMP_MAX_SEG];
    int image = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        oval *x = o_data(k, n, i, K_STAMP | K_VEC | K_CHW);
        if (!x)
            return k->err->status;
        if (i && (x->kind == V_STAMP) != image)
            return o_unsup(k, n, "an image concatenated with a vector");
        image = x->kind == V_STAMP;
        in[i] = x->layer;
        int shp[NN_MAX_RANK];
        if (!image && (st = o_shape(k, x->layer, shp)))
            return st;
        for (int q = 0; !image && q < x->nseg; q++) /* flattened images move along */
            if (nseg < OIMP_MAX_SEG) {
                seg[nseg] = x->seg[q];
                seg[nseg++].off += off;
            }
        off += image ? 0 : shp[0];
    }
    int64_t axis = a_int(n, "axis", 1);
    if (axis != 1 && !(!image && axis == -1))
        return o_unsup(k, n, "axis %lld (only the channel / feature axis 1)", (long long)axis);
    nn_layer L = nn_layer_defaults(NN_CONCAT, "");
    int idx;
    if ((st = o_add(k, n, &L, (int)n->n_input, in, &idx)))
        return st;
    oval *v = o_new(k, n->output[0], image ? V_STAMP : nseg ? V_VEC_CHW : V_VEC, idx);
    if (!v)
        return SV_ERR_NOMEM;
    v->nseg = nseg;
    memcpy(v->seg, seg, sizeof seg);
    return 0;
}

static int op_bn(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_STAMP | K_VEC);
    if (!x)
        return k->err->status;
    if (n->n_input != 5)
        return o_unsup(k, n, "%zu inputs (X, scale, B, mean, var expected)", n->n_input);
    if (a_int(n, "training_mode", 0))
        return o_unsup(k, n, "training_mode 1");
    if (n->n_output > 1)
        return o_unsup(k, n, "running-statistics outputs (training mode)");
    nn_layer L = nn_layer_defaults(NN_BATCHNORM, "");
    L.epsilon = a_float(n, "epsilon", 1e-5f);
    float m = a_float(n, "momentum", 0.9f);
    L.momentum = m >= 0.0f && m <= 1.0f ? m : 0.9f;
    int shp[NN_MAX_RANK], st, idx;
    if ((st = o_shape(k, x->layer, shp)))
        return st;
    size_t C = (size_t)shp[x->kind == V_STAMP ? 2 : 0]; /* the channels */
    if ((st = o_add(k, n, &L, 1, &x->layer, &idx)))
        return st;
    for (int j = 0; j < 4; j++) { /* scale, B, mean, var = gamma, beta, mean, variance */
        float *w = o_floats(k, n, n->input[1 + j], C, NULL);
        if (!w || (st = o_pend(k, idx, j, w, C)))
            return k->err->status ? k->err->status : st;
    }
    return o_out(k, n, x->kind, idx);
}

static int op_identity(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_STAMP | K_VEC | K_CHW | K_SEQ | K_SEQ_TM);
    if (!x)
        return k->err->status;
    if (!strcmp(n->op_type, "Dropout")) {
        if (n->n_input > 2 && n->input[2][0])
            return o_unsup(k, n, "a training_mode input");
        if (n->n_output > 1 && n->output[1][0])
            return o_unsup(k, n, "the mask output");
    }
    return o_alias(k, n->output[0], x, x->layer);
}


/* ---- recurrent layers and the tensors around them ------------------------
 * torch.onnx.export writes an nn.GRU / nn.LSTM (batch_first) as
 *   Transpose(perm 1,0,2) -> GRU(X, W, R, B, "", initial_h) -> Squeeze(axis 1)
 *   -> Transpose(perm 1,0,2)
 * with initial_h zeros built from the input's shape (Shape, Gather,
 * Unsqueeze, Concat, ConstantOfShape, or Expand / Slice of zeros), and the
 * last step as Gather / Slice of the sequence or Gather / Squeeze of Y_h.
 * The shape arithmetic is followed only as far as proving the initial state
 * zero; a last step taken turns the GRU / LSTM into return_sequences = 0. */

/* 1 when constant t holds only zero bytes (0 of every numeric type). */
static int t_is_zero(const Onnx__TensorProto *t)
{
    for (size_t i = 0; t->has_raw_data && i < t->raw_data.len; i++)
        if (t->raw_data.data[i])
            return 0;
    for (size_t i = 0; i < t->n_float_data; i++)
        if (t->float_data[i] != 0.0f)
            return 0;
    for (size_t i = 0; i < t->n_int32_data; i++)
        if (t->int32_data[i])
            return 0;
    for (size_t i = 0; i < t->n_int64_data; i++)
        if (t->int64_data[i])
            return 0;
    for (size_t i = 0; i < t->n_double_data; i++)
        if (t->double_data[i] != 0.0)
            return 0;
    return 1;
}

/* Is value name (an optional input: "" is absent) absent or zeros? */
static int o_zero_or_absent(oimp *k, const Onnx__NodeProto *n, size_t i)
{
    if (i >= n->n_input || !n->input[i][0])
        return 1;
    oval *v = o_find(k, n->input[i]);
    return v && (v->kind == V_ZERO || (v->kind == V_CONST && t_is_zero(v->t)));
}

/* A value of kind V_SHAPE or V_ZERO (no layer) for n's output. */
static int o_meta(oimp *k, const Onnx__NodeProto *n, vkind kind)
{
    return o_out(k, n, kind, -1);
}

/* Shape, and Gather / Unsqueeze / Squeeze / Concat / Slice on shapes. */
static int op_shape_of(oimp *k, const Onnx__NodeProto *n)
{
    if (!strcmp(n->op_type, "Shape")) {
        if (!o_data(k, n, 0, K_STAMP | K_VEC | K_CHW | K_SEQ | K_SEQ_TM | K_RNN_Y | K_RNN_H))
            return k->err->status;
    } else {
        for (size_t i = 0; i < n->n_input; i++)
            if (n->input[i][0] && !o_data(k, n, i, K_SHAPE | K_CONST))
                return k->err->status;
    }
    return o_meta(k, n, V_SHAPE);
}

/* The scalar or one-value int64 constant input i of n. */
static int o_int1(oimp *k, const Onnx__NodeProto *n, size_t i, int64_t *out)
{
    if (i >= n->n_input || !n->input[i][0])
        return o_unsup(k, n, "missing input %zu", i);
    int c = o_ints(k, n, n->input[i], out, 1);
    if (c < 0)
        return k->err->status;
    return c == 1 ? 0 : o_unsup(k, n, "input '%s' is not a single value", n->input[i]);
}

/* Take the last step of the sequence that recurrent layer `layer`
 * computes: it returns its last state only (return_sequences = 0), which
 * no layer may already read as a sequence.  n's output becomes a vector. */
static int o_last_step(oimp *k, const Onnx__NodeProto *n, int layer)
{
    nn_layer *L = &k->net->layers[layer];
    if (L->kind != NN_GRU && L->kind != NN_LSTM)
        return o_unsup(k, n, "the last step of a sequence that no GRU or LSTM computes");
    for (int i = layer + 1; i < k->net->n_layers; i++)
        for (int j = 0; j < k->net->layers[i].n_in; j++)
            if (k->net->layers[i].in[j] == layer && L->return_sequences)
                return o_unsup(k, n, "the last step of '%s', whose whole sequence '%s' reads "
                               "too", L->name, k->net->layers[i].name);
    L->return_sequences = 0;
    return o_out(k, n, V_VEC, layer);
}

static int op_constant(oimp *k, const Onnx__NodeProto *n)
{
    const Onnx__AttributeProto *a = o_attr(n, "value");
    if (!a || !a->t)
        return o_unsup(k, n, "a constant without a tensor 'value'");
    if (n->n_output < 1)
        return o_unsup(k, n, "no output");
    oval *v = o_new(k, n->output[0], V_CONST, -1);
    if (!v)
        return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
    v->t = a->t;
    return 0;
}

static int op_constant_of_shape(oimp *k, const Onnx__NodeProto *n)
{
    if (!o_data(k, n, 0, K_SHAPE | K_CONST))
        return k->err->status;
    const Onnx__AttributeProto *a = o_attr(n, "value");
    if (a && a->t && !t_is_zero(a->t))
        return o_unsup(k, n, "a value other than 0 (only zeros: an initial state)");
    return o_meta(k, n, V_ZERO);
}

/* Expand / Slice of zeros stay zeros. */
static int op_zeros(oimp *k, const Onnx__NodeProto *n)
{
    if (!o_zero_or_absent(k, n, 0) || !n->input[0][0])
        return o_unsup(k, n, "input '%s' is not a tensor of zeros (only an initial state is "
                       "expanded or sliced here)", n->n_input ? n->input[0] : "?");
    return o_meta(k, n, V_ZERO);
}

static int op_transpose(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_SEQ | K_SEQ_TM);
    if (!x)
        return k->err->status;
    int64_t p[3] = {0, 0, 0};
    if (a_ints(n, "perm", p, 3) != 1 || p[0] != 1 || p[1] != 0 || p[2] != 2)
        return o_unsup(k, n, "perm other than [1,0,2] (batch <-> time of a sequence)");
    return o_out(k, n, x->kind == V_SEQ ? V_SEQ_TM : V_SEQ, x->layer);
}

/* The axes of Squeeze / Unsqueeze: the input (opset 13) or the attribute. */
static int o_axes(oimp *k, const Onnx__NodeProto *n, int64_t *ax)
{
    if (n->n_input > 1 && n->input[1][0])
        return o_ints(k, n, n->input[1], ax, 4);
    const Onnx__AttributeProto *a = o_attr(n, "axes");
    if (!a)
        return o_unsup(k, n, "no axes (every axis of size 1)");
    if (a->n_ints > 4)
        return o_unsup(k, n, "more than 4 axes");
    memcpy(ax, a->ints, a->n_ints * sizeof *ax);
    return (int)a->n_ints;
}

static int op_squeeze(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_RNN_Y | K_RNN_H | K_SHAPE | K_ZERO);
    if (!x)
        return k->err->status;
    if (x->kind == V_SHAPE || x->kind == V_ZERO)
        return o_meta(k, n, x->kind);
    int64_t ax[4];
    int na = o_axes(k, n, ax);
    if (na < 0)
        return k->err->status;
    if (x->kind == V_RNN_Y && na == 1 && (ax[0] == 1 || ax[0] == -3))
        return o_out(k, n, V_SEQ_TM, x->layer); /* (T, 1, N, H) -> (T, N, H) */
    if (x->kind == V_RNN_H && na == 1 && (ax[0] == 0 || ax[0] == -3))
        return o_last_step(k, n, x->layer); /* (1, N, H) -> (N, H) */
    return o_unsup(k, n, "axes other than the direction axis of a GRU / LSTM output");
}

static int op_unsqueeze(oimp *k, const Onnx__NodeProto *n)
{
    return o_data(k, n, 0, K_SHAPE | K_CONST) ? o_meta(k, n, V_SHAPE) : k->err->status;
}

static int op_gather(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_SHAPE | K_CONST | K_SEQ | K_SEQ_TM | K_RNN_H);
    if (!x)
        return k->err->status;
    if (x->kind == V_SHAPE || x->kind == V_CONST)
        return op_shape_of(k, n);
    oval *iv = n->n_input > 1 ? o_find(k, n->input[1]) : NULL;
    if (!iv || iv->kind != V_CONST || iv->t->n_dims != 0)
        return o_unsup(k, n, "indices that are not one constant scalar");
    int64_t i, axis = a_int(n, "axis", 0);
    int st = o_int1(k, n, 1, &i), shp[NN_MAX_RANK];
    if (st || (st = o_shape(k, x->layer, shp)))
        return st;
    int T = x->kind == V_RNN_H ? 1 : shp[0];
    int64_t time_axis = x->kind == V_SEQ ? 1 : 0;
    if ((axis == time_axis || axis == time_axis - 3) && (i == -1 || i == T - 1))
        return o_last_step(k, n, x->layer);
    return o_unsup(k, n, "axis %lld index %lld (only the last step of a GRU / LSTM sequence)",
                   (long long)axis, (long long)i);
}

static int op_slice(oimp *k, const Onnx__NodeProto *n)
{
    oval *x = o_data(k, n, 0, K_SHAPE | K_CONST | K_ZERO | K_SEQ | K_SEQ_TM);
    if (!x)
        return k->err->status;
    if (x->kind == V_SHAPE || x->kind == V_CONST)
        return op_shape_of(k, n);
    if (x->kind == V_ZERO)
        return op_zeros(k, n);
    int64_t b, e, axis, step = 1;
    int st, shp[NN_MAX_RANK];
    if ((st = o_int1(k, n, 1, &b)) || (st = o_int1(k, n, 2, &e)) ||
        (st = o_int1(k, n, 3, &axis)) ||
        (n->n_input > 4 && n->input[4][0] && (st = o_int1(k, n, 4, &step))) ||
        (st = o_shape(k, x->layer, shp)))
        return st;
    int64_t T = shp[0], time_axis = x->kind == V_SEQ ? 1 : 0;
    if ((axis == time_axis || axis == time_axis - 3) && step == 1 && (b == -1 || b == T - 1) &&
        e >= T)
        return o_last_step(k, n, x->layer); /* (N, 1, H): the layout of (N, H) */
    return o_unsup(k, n, "a slice other than the last step of a GRU / LSTM sequence (axis "
                   "%lld, %lld:%lld:%lld)", (long long)axis, (long long)b, (long long)e,
                   (long long)step);
}

/* The activations attribute of a GRU / LSTM, when present, must name the
 * defaults (Sigmoid, Tanh[, Tanh]). */
static int o_rnn_acts(oimp *k, const Onnx__NodeProto *n, int lstm)
{
    const Onnx__AttributeProto *a = o_attr(n, "activations");
    if (o_attr(n, "activation_alpha") || o_attr(n, "activation_beta"))
        return o_unsup(k, n, "attribute 'activation_alpha' / 'activation_beta' (only the "
                       "default activations)");
    if (!a)
        return 0;
    static const char *const want[] = {"Sigmoid", "Tanh", "Tanh"};
    size_t nw = lstm ? 3 : 2;
    int ok = a->n_strings == nw;
    for (size_t i = 0; ok && i < nw; i++)
        ok = a->strings[i].len == strlen(want[i]) &&
             !memcmp(a->strings[i].data, want[i], a->strings[i].len);
    return ok ? 0 : o_unsup(k, n, "attribute 'activations' other than the defaults (%s)",
                            lstm ? "Sigmoid, Tanh, Tanh" : "Sigmoid, Tanh");
}

/* ONNX GRU (gates z, r, h) and LSTM (gates i, o, f, c; W, R: (1, G*H, in /
 * H); B: (1, 2*G*H) = Wb, Rb) -> the engine's Keras layout: kernel (in, G*H)
 * and recurrent_kernel (H, G*H) transposed, gates z, r, h / i, f, c, o;
 * bias Wb, Rb as the (2, 3H) of reset_after (linear_before_reset 1), else
 * Wb + Rb. */
static int op_rnn(oimp *k, const Onnx__NodeProto *n)
{
    int lstm = !strcmp(n->op_type, "LSTM"), G = lstm ? 4 : 3;
    oval *x = o_data(k, n, 0, K_SEQ_TM);
    if (!x)
        return k->err->status;
    const Onnx__AttributeProto *dir = o_attr(n, "direction");
    if (dir && !(dir->s.len == 7 && !memcmp(dir->s.data, "forward", 7)))
        return o_unsup(k, n, "attribute 'direction' %.*s (only forward)", (int)dir->s.len,
                       (const char *)dir->s.data);
    if (o_attr(n, "clip"))
        return o_unsup(k, n, "attribute 'clip' (cell clipping)");
    if (a_int(n, "layout", 0))
        return o_unsup(k, n, "attribute 'layout' %lld (only 0: time-major)",
                       (long long)a_int(n, "layout", 0));
    if (lstm && a_int(n, "input_forget", 0))
        return o_unsup(k, n, "attribute 'input_forget' 1 (coupled input and forget gates)");
    int st = o_rnn_acts(k, n, lstm);
    if (st)
        return st;
    if (n->n_input > 4 && n->input[4][0])
        return o_unsup(k, n, "input 'sequence_lens' (sequences of their own lengths)");
    if (!o_zero_or_absent(k, n, 5))
        return o_unsup(k, n, "input 'initial_h' is not zeros (only a zero initial state)");
    if (lstm && !o_zero_or_absent(k, n, 6))
        return o_unsup(k, n, "input 'initial_c' is not zeros (only a zero initial state)");
    if (lstm && n->n_input > 7 && n->input[7][0])
        return o_unsup(k, n, "input 'P' (peephole connections)");
    if (lstm && n->n_output > 2 && n->output[2][0] && o_consumers(k, n->output[2]))
        return o_unsup(k, n, "output 'Y_c' (the cell state) is read");
    int64_t H = a_int(n, "hidden_size", 0);
    int shp[NN_MAX_RANK];
    if ((st = o_shape(k, x->layer, shp)))
        return st;
    int I = shp[1];
    oval *wv = n->n_input > 2 ? o_find(k, n->input[1]) : NULL;
    oval *rv = n->n_input > 2 ? o_find(k, n->input[2]) : NULL;
    if (!wv || !rv || wv->kind != V_CONST || rv->kind != V_CONST || wv->t->n_dims != 3)
        return o_unsup(k, n, "W or R that is not a constant (initializer)");
    if (wv->t->dims[0] != 1)
        return o_unsup(k, n, "%lld directions (only forward)", (long long)wv->t->dims[0]);
    if (H < 1 || H > 4096 || wv->t->dims[1] != G * H || wv->t->dims[2] != I)
        return sv_error_set(k->err, SV_ERR_SHAPE, "%s: node '%s' (%s): W of (%lld, %lld, %lld) "
                            "does not fit hidden_size %lld on %d inputs", k->src, n->name,
                            n->op_type, (long long)wv->t->dims[0], (long long)wv->t->dims[1],
                            (long long)wv->t->dims[2], (long long)H, I);
    size_t u = (size_t)H, gu = (size_t)G * u, in = (size_t)I;
    int reset_after = !lstm && a_int(n, "linear_before_reset", 0) != 0;
    float *W = o_floats(k, n, n->input[1], gu * in, NULL);
    float *R = W ? o_floats(k, n, n->input[2], gu * u, NULL) : NULL;
    float *B = R && n->n_input > 3 && n->input[3][0] ? o_floats(k, n, n->input[3], 2 * gu, NULL)
                                                       : R ? calloc(2 * gu, sizeof *B) : NULL;
    size_t nb = reset_after ? 2 * gu : gu;
    float *Kk = B ? malloc(in * gu * sizeof *Kk) : NULL;
    float *Kr = Kk ? malloc(u * gu * sizeof *Kr) : NULL;
    float *Kb = Kr ? malloc(nb * sizeof *Kb) : NULL;
    if (!Kb) {
        free(W), free(R), free(B), free(Kk), free(Kr);
        return k->err->status ? k->err->status
                              : sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
    }
    static const int lstm_gate[4] = {0, 2, 3, 1}; /* Keras i, f, c, o in ONNX's i, o, f, c */
    for (int g = 0; g < G; g++) {
        size_t og = (size_t)(lstm ? lstm_gate[g] : g);
        for (size_t j = 0; j < u; j++) {
            size_t col = (size_t)g * u + j, row = og * u + j;
            for (size_t i = 0; i < in; i++)
                Kk[i * gu + col] = W[row * in + i];
            for (size_t i = 0; i < u; i++)
                Kr[i * gu + col] = R[row * u + i];
            if (reset_after) {
                Kb[col] = B[row];
                Kb[gu + col] = B[gu + row];
            } else {
                Kb[col] = B[row] + B[gu + row];
            }
        }
    }
    free(W), free(R), free(B);
    nn_layer L = nn_layer_defaults(lstm ? NN_LSTM : NN_GRU, "");
    L.units = (int)H;
    L.return_sequences = 1;
    L.reset_after = reset_after;
    L.recurrent_act = NN_ACT_SIGMOID;
    L.act = NN_ACT_TANH;
    int idx;
    if ((st = o_add(k, n, &L, 1, &x->layer, &idx))) {
        free(Kk), free(Kr), free(Kb);
        return st;
    }
    if ((st = o_pend(k, idx, 0, Kk, in * gu))) {
        free(Kr), free(Kb);
        return st;
    }
    if ((st = o_pend(k, idx, 1, Kr, u * gu))) {
        free(Kb);
        return st;
    }
    if ((st = o_pend(k, idx, 2, Kb, nb)) || (st = o_out(k, n, V_RNN_Y, idx)))
        return st;
    if (n->n_output > 1 && n->output[1][0] && !o_new(k, n->output[1], V_RNN_H, idx))
        return sv_error_set(k->err, SV_ERR_NOMEM, "%s: out of memory", k->src);
    return 0;
}

/* The one table: operator, its converter, the attributes it understands. */
static const struct {
    const char *op;
    int (*fn)(oimp *, const Onnx__NodeProto *);
    const char *attrs; /* ",a,b," */
} ops[] = {
    {"Conv", op_conv, ",kernel_shape,strides,pads,dilations,group,auto_pad,"},
    {"Gemm", op_gemm, ",alpha,beta,transA,transB,"},
    {"MatMul", op_matmul, ","},
    {"Add", op_add, ","},
    {"Relu", op_act, ","},
    {"LeakyRelu", op_act, ",alpha,"},
    {"Sigmoid", op_act, ","},
    {"Tanh", op_act, ","},
    {"Softmax", op_act, ",axis,"},
    {"MaxPool", op_pool, ",kernel_shape,strides,pads,dilations,auto_pad,ceil_mode,storage_order,"},
    {"AveragePool", op_pool, ",kernel_shape,strides,pads,auto_pad,ceil_mode,count_include_pad,"},
    {"GlobalAveragePool", op_gap, ","},
    {"Flatten", op_flatten, ",axis,"},
    {"Reshape", op_reshape, ",allowzero,"},
    {"Concat", op_concat, ",axis,"},
    {"BatchNormalization", op_bn, ",epsilon,momentum,training_mode,spatial,"},
    {"Dropout", op_identity, ",ratio,seed,"},
    {"Identity", op_identity, ","},
    {"GRU", op_rnn, ",hidden_size,linear_before_reset,direction,activations,activation_alpha,"
                    "activation_beta,clip,layout,"},
    {"LSTM", op_rnn, ",hidden_size,direction,activations,activation_alpha,activation_beta,clip,"
                     "layout,input_forget,"},
    {"Transpose", op_transpose, ",perm,"},
    {"Squeeze", op_squeeze, ",axes,"},
    {"Unsqueeze", op_unsqueeze, ",axes,"},
    {"Gather", op_gather, ",axis,"},
    {"Slice", op_slice, ","},
    {"Shape", op_shape_of, ","},
    {"Constant", op_constant, ",value,"},
    {"ConstantOfShape", op_constant_of_shape, ",value,"},
    {"Expand", op_zeros, ","},
};

static void o_supported(char *list, size_t cap);

/* ---- the graph ---------------------------------------------------------- */

static int o_inputs(oimp *k)
{
    const Onnx__GraphProto *g = k->g;
    for (int pass = 0; pass < 2; pass++) /* stamps and sequences first, then vectors */
        for (size_t i = 0; i < g->n_input; i++) {
            const Onnx__ValueInfoProto *vi = g->input[i];
            if (o_find(k, vi->name))
                continue; /* an initializer listed as an input (old exporters) */
            const Onnx__TypeProto *t = vi->type;
            if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type ||
                !t->tensor_type->shape)
                return sv_error_set(k->err, SV_ERR_UNSUPPORTED, "%s: input '%s' is not a tensor "
                                    "of known shape", k->src, vi->name);
            if (t->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
                return sv_error_set(k->err, SV_ERR_UNSUPPORTED, "%s: input '%s' is not float32",
                                    k->src, vi->name);
            const Onnx__TensorShapeProto *s = t->tensor_type->shape;
            int r = (int)s->n_dim;
            if (r < 2 || r > 4)
                return sv_error_set(k->err, SV_ERR_UNSUPPORTED, "%s: input '%s' of rank %d "
                                    "(an image N,C,H,W, a sequence N,T,F or a vector N,F)",
                                    k->src, vi->name, r);
            if ((pass == 0) != (r > 2))
                continue;
            int d[4] = {0, 0, 0, 0};
            for (int j = 1; j < r; j++) {
                const Onnx__TensorShapeProto__Dimension *dm = s->dim[j];
                if (r == 3 && j == 1 && k->steps > 0 &&
                    dm->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
                    d[j] = k->steps; /* a free time axis: --steps */
                    continue;
                }
                if (dm->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
                    dm->dim_value < 1 || dm->dim_value > (1 << 24))
                    return sv_error_set(k->err, SV_ERR_UNSUPPORTED, "%s: input '%s': dimension "
                                        "%d is not a fixed size%s", k->src, vi->name, j,
                                        r == 3 && j == 1 ? " (give the time steps with --steps)"
                                                         : "");
                d[j] = (int)dm->dim_value;
            }
            nn_layer L = nn_layer_defaults(NN_INPUT, "");
            snprintf(L.name, NN_NAME_MAX, "%.*s", NN_NAME_MAX - 1, vi->name);
            L.rank = r - 1;
            if (r == 4) {
                L.shape[0] = d[2];
                L.shape[1] = d[3];
                L.shape[2] = d[1];
            } else {
                L.shape[0] = d[1];
                L.shape[1] = d[2];
            }
            int idx = nn_net_add(k->net, &L, k->err);
            if (idx < 0)
                return sv_error_prefix(k->err, "%s: input '%s': ", k->src, vi->name);
            if (!o_new(k, vi->name, r == 4 ? V_STAMP : r == 3 ? V_SEQ : V_VEC, idx))
                return SV_ERR_NOMEM;
        }
    return 0;
}

/* The converter of node n, or NULL with err naming the operator or the
 * attribute the table does not have. */
static int (*o_converter(oimp *k, const Onnx__NodeProto *n))(oimp *, const Onnx__NodeProto *)
{
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx")) {
        o_unsup(k, n, "operator domain '%s'", n->domain);
        return NULL;
    }
    size_t j;
    for (j = 0; j < sizeof ops / sizeof *ops; j++)
        if (!strcmp(ops[j].op, n->op_type))
            break;
    if (j == sizeof ops / sizeof *ops) {
        char list[400];
        o_supported(list, sizeof list);
        o_unsup(k, n, "operator %s is not supported (%s are)", n->op_type, list);
        return NULL;
    }
    for (size_t a = 0; a < n->n_attribute; a++) {
        char key[80];
        snprintf(key, sizeof key, ",%.70s,", n->attribute[a]->name);
        if (!strstr(ops[j].attrs, key)) {
            o_unsup(k, n, "attribute '%s' is not supported", n->attribute[a]->name);
            return NULL;
        }
    }
    return ops[j].fn;
}

static int o_graph(oimp *k)
{
    const Onnx__GraphProto *g = k->g;
    int st;
    /* every operator known before anything is built; otherwise name them all */
    char missing[512] = "";
    const Onnx__NodeProto *first = NULL;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        size_t j;
        for (j = 0; j < sizeof ops / sizeof *ops; j++)
            if (!strcmp(ops[j].op, n->op_type))
                break;
        char key[80];
        snprintf(key, sizeof key, " %.70s,", n->op_type);
        if (j == sizeof ops / sizeof *ops && !strstr(missing, key)) {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s", key);
            first = first ? first : n;
        }
    }
    if (first) {
        char list[400];
        o_supported(list, sizeof list);
        missing[strlen(missing) - 1] = '\0';
        return sv_error_set(k->err, SV_ERR_UNSUPPORTED, "%s: operators not supported:%s (node "
                            "'%s' is the first; %s are)", k->src, missing, o_node_name(first), list);
    }
    for (size_t i = 0; i < g->n_node; i++)
        if (!o_converter(k, g->node[i]))
            return k->err ? k->err->status : SV_ERR_UNSUPPORTED;
    for (size_t i = 0; i < g->n_initializer; i++) {
        oval *v = o_new(k, g->initializer[i]->name, V_CONST, -1);
        if (!v)
            return SV_ERR_NOMEM;
        v->t = g->initializer[i];
    }
    if ((st = o_inputs(k)))
        return st;
    if (g->n_output != 1)
        return sv_error_set(k->err, SV_ERR_UNSUPPORTED, "%s: %zu graph outputs (one expected)",
                            k->src, g->n_output);
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if ((st = o_converter(k, n)(k, n)))
            return st;
    }
    oval *out = o_find(k, g->output[0]->name);
    if (!out || out->kind == V_CONST || out->layer < 0)
        return sv_error_set(k->err, SV_ERR_FORMAT, "%s: the graph output '%s' is computed by "
                            "no node", k->src, g->output[0]->name);
    const nn_layer *O = &k->net->layers[out->layer];
    if (out->kind == V_SEQ_TM || out->kind == V_RNN_Y || out->kind == V_RNN_H ||
        (out->kind == V_SEQ && (O->kind == NN_GRU || O->kind == NN_LSTM) && !O->return_sequences))
        return sv_error_set(k->err, SV_ERR_UNSUPPORTED, "%s: the graph output '%s' is a "
                            "recurrent layer's raw or time-major output (a (N,T,C) sequence, a "
                            "(N,C) vector or an image is)", k->src, g->output[0]->name);
    k->net->output = out->layer;
    return 0;
}

/* "Conv, Gemm, ..." (the table's operators) */
static void o_supported(char *list, size_t cap)
{
    size_t o = 0;
    list[0] = '\0';
    for (size_t j = 0; j < sizeof ops / sizeof *ops && o < cap; j++)
        o += (size_t)snprintf(list + o, cap - o, "%s%s", j ? ", " : "", ops[j].op);
}

/* ---- the file ------------------------------------------------------------ */

static uint8_t *o_slurp(const char *path, size_t *len, sv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sv_error_set(err, SV_ERR_IO, "%s: cannot open", path);
        return NULL;
    }
    uint8_t *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n < 0 || n > OIMP_MAX_FILE || fseek(f, 0, SEEK_SET)) {
        fclose(f);
        sv_error_set(err, SV_ERR_IO, "%s: unreadable or over 1 GiB", path);
        return NULL;
    }
    buf = malloc(n ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        sv_error_set(err, SV_ERR_IO, "%s: read error", path);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* onnx.proto is proto2: a string field the file leaves out is NULL after
 * unpacking.  The names ONNX requires (a node's op_type, an attribute's,
 * an initializer's and a graph input's or output's name) and a node's
 * output are checked here, once, so that the importer can rely on them. */
static int o_check_required(const Onnx__GraphProto *g, const char *path, sv_error *err)
{
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (!n->op_type)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: node %zu ('%s') has no op_type", path,
                                i, o_node_name(n));
        if (n->n_output < 1) /* every operator the importer maps has one */
            return sv_error_set(err, SV_ERR_FORMAT, "%s: node '%s' (%s) has no output", path,
                                o_node_name(n), n->op_type);
        for (size_t a = 0; a < n->n_attribute; a++)
            if (!n->attribute[a]->name)
                return sv_error_set(err, SV_ERR_FORMAT, "%s: node '%s' (%s): attribute %zu "
                                    "has no name", path, o_node_name(n), n->op_type, a);
    }
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!g->initializer[i]->name)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: initializer %zu has no name", path, i);
    for (size_t i = 0; i < g->n_input; i++)
        if (!g->input[i]->name)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: graph input %zu has no name", path, i);
    for (size_t i = 0; i < g->n_output; i++)
        if (!g->output[i]->name)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: graph output %zu has no name", path,
                                i);
    return SV_OK;
}

int sv_onnx_import(const char *path, const sv_import_options *opt_in, sv_model **out,
                   sv_error *err)
{
    sv_import_options opt = opt_in ? *opt_in : sv_import_options_defaults();
    *out = NULL;
    if (!path)
        return sv_error_set(err, SV_ERR_ARG, "sv_onnx_import: no file given");
    char srcck[SV_SHA256_HEX];
    int st = sv_sha256_file(path, srcck, err);
    if (st)
        return st;
    size_t len = 0;
    uint8_t *buf = o_slurp(path, &len, err);
    if (!buf)
        return err ? err->status : SV_ERR_IO;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!mp || !mp->graph) {
        if (mp)
            onnx__model_proto__free_unpacked(mp, NULL);
        return sv_error_set(err, SV_ERR_FORMAT, "%s: not an ONNX model (the protobuf does not "
                            "parse as onnx.ModelProto with a graph)", path);
    }
    if ((st = o_check_required(mp->graph, path, err))) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return st;
    }
    oimp k;
    memset(&k, 0, sizeof k);
    k.src = path;
    k.err = err;
    k.g = mp->graph;
    k.opset = 0;
    k.steps = sv_import_steps(&opt);
    for (size_t i = 0; i < mp->n_opset_import; i++)
        if (!mp->opset_import[i]->domain || !mp->opset_import[i]->domain[0])
            k.opset = (int)mp->opset_import[i]->version;
    sv_model *m = NULL;
    k.net = nn_net_new();
    if (!k.net) {
        st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((st = o_graph(&k)))
        goto done;
    if ((st = nn_net_finalize(k.net, err))) {
        sv_error_prefix(err, "%s: ", path);
        goto done;
    }
    for (int i = 0; i < k.np; i++) {
        nn_layer *L = &k.net->layers[k.p[i].layer];
        nn_param *p = k.p[i].param < L->n_params ? &L->p[k.p[i].param] : NULL;
        if (!p || p->size != k.p[i].n) {
            st = sv_error_set(err, SV_ERR_SHAPE, "%s: layer '%s': %zu weight values, the "
                              "network needs %zu (%s)", path, L->name, k.p[i].n,
                              p ? p->size : 0, p ? p->name : "no such parameter");
            goto done;
        }
        memcpy(p->w, k.p[i].w, p->size * sizeof(float));
    }
    m = sv_model_new(k.net);
    if (!m) {
        st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    k.net = NULL;
    char v[72];
    if ((st = sv_import_describe(m, &opt, path, err)) ||
        (st = sv_import_provenance(m, opt.creator ? opt.creator
                                                  : "stampvet " PACKAGE_VERSION " import-onnx",
                                   path, srcck, err)))
        goto done;
    snprintf(v, sizeof v, "%lld", (long long)mp->ir_version);
    sv_model_set_prov(m, "ONNXIR", v);
    snprintf(v, sizeof v, "%d", k.opset);
    sv_model_set_prov(m, "ONNXOPS", v);
    if (mp->producer_name && mp->producer_name[0]) {
        snprintf(v, sizeof v, "%.40s %.24s", mp->producer_name,
                 mp->producer_version ? mp->producer_version : "");
        sv_model_set_prov(m, "ONNXPROD", v);
    }
    if ((st = sv_model_validate(m, err))) {
        sv_error_prefix(err, "%s: ", path);
        goto done;
    }
    *out = m;
    m = NULL;
done:
    sv_model_free(m);
    nn_net_free(k.net);
    for (int i = 0; i < k.np; i++)
        free(k.p[i].w);
    free(k.p);
    free(k.v);
    onnx__model_proto__free_unpacked(mp, NULL);
    return st;
}
