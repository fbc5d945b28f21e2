/* nn_ops.c — the descriptor table generated from nn_ops_list.h, and the
 * helpers the nn_layer_<kind>.c files share.  See nn/nn_ops.h. */
#include "nn/nn_ops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The registry's values must be its line numbers from 0 (the enum and the
 * table are indexed by them). */
enum {
#define NN_OP(kind, value, op) nn_position_of_##kind,
#include "nn/ops/nn_ops_list.h"
#undef NN_OP
    nn_positions
};
#define NN_OP(kind, value, op)                                                                 \
    _Static_assert((int)kind == (int)nn_position_of_##kind,                                    \
                   #kind ": registry values must be consecutive from 0 in list order");
#include "nn/ops/nn_ops_list.h"
#undef NN_OP
_Static_assert((int)nn_positions == (int)NN_KIND_COUNT, "registry and nn_kind disagree");

static const nn_op *const op_table[NN_KIND_COUNT] = {
#define NN_OP(kind, value, op) [kind] = &op,
#include "nn/ops/nn_ops_list.h"
#undef NN_OP
};

const nn_op *nn_op_of(nn_kind kind)
{
    if ((int)kind < 0 || kind >= NN_KIND_COUNT)
        return NULL;
    return op_table[kind];
}

int nn_op_infer(const nn_layer *L, const nn_layer *const *in, nn_shape *out, sv_error *err)
{
    const nn_op *op = nn_op_of(L->kind);
    memset(out, 0, sizeof *out);
    if (!op)
        return sv_error_set(err, SV_ERR_ARG, "layer '%s': unknown layer kind %d", L->name,
                            (int)L->kind);
    if (op->in_rank && L->n_in > 0 && in[0]->rank != op->in_rank) {
        char sbuf[64];
        return sv_error_set(err, SV_ERR_SHAPE,
                            "layer '%s' (%s): needs %s, got shape %s from layer '%s'", L->name,
                            op->name, op->in_what ? op->in_what : "another input rank",
                            nn_shape_str(in[0], sbuf, sizeof sbuf), in[0]->name);
    }
    return op->shape(L, in, out, err);
}

void nn_shape_set(nn_shape *out, int rank, const int *dims)
{
    out->rank = rank;
    for (int d = 0; d < NN_MAX_RANK; d++)
        out->dims[d] = d < rank ? dims[d] : 0;
}

void nn_shape_param(nn_shape *out, const char *name, int rank, int d0, int d1, int d2, int d3,
                    int trainable)
{
    if (out->n_params >= NN_MAX_PARAMS)
        return;
    nn_pspec *p = &out->p[out->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->rank = rank;
    int d[4] = {d0, d1, d2, d3};
    for (int i = 0; i < rank && i < 4; i++)
        p->dims[i] = d[i];
    p->trainable = trainable;
}

const char *nn_shape_str(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "(");
    for (int d = 0; d < L->rank && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, d ? ",%d" : "%d", L->shape[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, ")");
    return buf;
}

void nn_describe_add(char *buf, size_t cap, size_t *k, const char *fmt, ...)
{
    if (*k >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *k, cap - *k, fmt, ap);
    va_end(ap);
    if (n > 0)
        *k += (size_t)n;
}

int nn_window_check(nn_layer *L, sv_error *err)
{
    const char *nm = L->name, *kn = nn_kind_name(L->kind);
    if (nn_bad_dim(L->kh) || nn_bad_dim(L->kw))
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): kernel/pool size %dx%d", nm, kn,
                            L->kh, L->kw);
    if (nn_bad_dim(L->sh) || nn_bad_dim(L->sw))
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): strides %dx%d", nm, kn, L->sh,
                            L->sw);
    if (L->padding != NN_PAD_VALID && L->padding != NN_PAD_SAME)
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): unknown padding %d", nm, kn,
                            (int)L->padding);
    return 0;
}

int nn_window_out(const nn_layer *L, const nn_layer *In, int *ho, int *wo, sv_error *err)
{
    int pt, pl;
    char sbuf[64];
    nn_conv_geometry(In->shape[0], L->kh, L->sh, L->padding, ho, &pt);
    nn_conv_geometry(In->shape[1], L->kw, L->sw, L->padding, wo, &pl);
    if (*ho <= 0 || *wo <= 0)
        return sv_error_set(err, SV_ERR_SHAPE,
                            "layer '%s' (%s): window %dx%d larger than its input %s from "
                            "layer '%s' (valid padding)",
                            L->name, nn_kind_name(L->kind), L->kh, L->kw,
                            nn_shape_str(In, sbuf, sizeof sbuf), In->name);
    return 0;
}

void nn_window_describe(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    nn_describe_add(buf, cap, &k, "%dx%d", L->kh, L->kw);
    if (L->kind != NN_CONV2D && L->kind != NN_MAXPOOL2D && L->kind != NN_AVGPOOL2D &&
        L->depth_multiplier != 1)
        nn_describe_add(buf, cap, &k, " dm%d", L->depth_multiplier);
    nn_describe_add(buf, cap, &k, " s%dx%d %s", L->sh, L->sw,
                    L->padding == NN_PAD_SAME ? "same" : "valid");
    if (L->kind != NN_MAXPOOL2D && L->kind != NN_AVGPOOL2D && !L->use_bias)
        nn_describe_add(buf, cap, &k, " no-bias");
}

int nn_rnn_check(nn_layer *L, sv_error *err)
{
    const char *nm = L->name, *kn = nn_kind_name(L->kind);
    if (nn_bad_dim(L->units))
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): units %d", nm, kn, L->units);
    if (L->recurrent_act != NN_ACT_SIGMOID && L->recurrent_act != NN_ACT_HARD_SIGMOID &&
        L->recurrent_act != NN_ACT_HARD_SIGMOID_K3)
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "layer '%s' (%s): recurrent activation '%s' not supported "
                            "(sigmoid or hard_sigmoid)",
                            nm, kn, nn_act_name(L->recurrent_act));
    if (L->act == NN_ACT_SOFTMAX)
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "layer '%s' (%s): softmax as the cell activation not supported", nm,
                            kn);
    if (!isfinite(L->mask_value))
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): mask value %g", nm, kn,
                            (double)L->mask_value);
    return 0;
}

int nn_seq_mask_input(const nn_layer *L, const nn_layer *const *in, sv_error *err)
{
    if (L->n_in != 2)
        return 0;
    const nn_layer *I = in[0], *M = in[1];
    if (M->rank != 2 || I->rank != 2 || M->shape[0] != I->shape[0])
        return sv_error_set(err, SV_ERR_SHAPE,
                            "layer '%s' (%s): its mask input '%s' is not a sequence of the "
                            "data's %d steps",
                            L->name, nn_kind_name(L->kind), M->name, I->shape[0]);
    return 0;
}

void nn_rnn_defaults(nn_layer *L) { L->act = NN_ACT_TANH; }

void nn_rnn_describe(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    nn_describe_add(buf, cap, &k, "rec %s%s%s", nn_act_name(L->recurrent_act),
                    L->reset_after ? " reset_after" : "", L->return_sequences ? " seq" : "");
    if (L->n_in == 2)
        nn_describe_add(buf, cap, &k, " masked(%g)", (double)L->mask_value);
}
