/* nn_test_util.h — small helpers shared by the NN engine tests (header
 * only, static functions; include after cmocka.h). */
#ifndef SV_NN_TEST_UTIL_H
#define SV_NN_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/nn.h"
#include "nn/nn_engine.h"

/* deterministic uniform generator for test data (splitmix64) */
static sv_rng tu_state = {12345};
static inline void tu_seed(uint64_t s) { tu_state.s = s; }
static inline double tu_uniform(void) { return sv_rng_uniform(&tu_state); }
static inline float tu_range(double lo, double hi) { return (float)(lo + (hi - lo) * tu_uniform()); }

static inline void tu_fill(float *v, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = tu_range(lo, hi);
}

static inline int tu_add(nn_net *net, nn_layer *L)
{
    sv_error err;
    sv_error_clear(&err);
    int i = nn_net_add(net, L, &err);
    if (i < 0)
        fprintf(stderr, "nn_net_add failed: %s\n", err.text);
    assert_true(i >= 0);
    return i;
}

static inline int tu_input(nn_net *net, const char *name, int rank, int d0, int d1, int d2)
{
    nn_layer L = nn_layer_defaults(NN_INPUT, name);
    L.rank = rank;
    L.shape[0] = d0;
    L.shape[1] = d1;
    L.shape[2] = d2;
    return tu_add(net, &L);
}

static inline void tu_finalize(nn_net *net)
{
    sv_error err;
    sv_error_clear(&err);
    int st = nn_net_finalize(net, &err);
    if (st)
        fprintf(stderr, "nn_net_finalize failed: %s\n", err.text);
    assert_int_equal(st, 0);
}

/* random weights (not just Glorot: biases and BN statistics too) */
static inline void tu_random_weights(nn_net *net, double scale)
{
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        for (int j = 0; j < L->n_params; j++) {
            nn_param *p = &L->p[j];
            if (!strcmp(p->name, "moving_variance"))
                tu_fill(p->w, p->size, 0.5, 1.5);
            else if (!strcmp(p->name, "gamma"))
                tu_fill(p->w, p->size, 0.5, 1.5);
            else
                tu_fill(p->w, p->size, -scale, scale);
        }
    }
}

static inline size_t tu_input_size(const nn_net *net, int k)
{
    return net->layers[net->inputs[k]].out_size;
}

/* layers appended to a chain (named after their index), as the fast-path
 * tests build them */
static inline int tu_last(const nn_net *n) { return n->n_layers - 1; }

static inline void tu_conv(nn_net *n, int filters, int kh, int kw, int sh, int sw, nn_padding pad,
                 nn_act act)
{
    char name[32];
    snprintf(name, sizeof name, "conv%d", n->n_layers);
    nn_layer L = nn_layer_defaults(NN_CONV2D, name);
    L.n_in = 1;
    L.in[0] = tu_last(n);
    L.filters = filters;
    L.kh = kh;
    L.kw = kw;
    L.sh = sh;
    L.sw = sw;
    L.padding = pad;
    L.act = act;
    L.alpha = 0.1f;
    tu_add(n, &L);
}

static inline void tu_pool(nn_net *n, nn_kind kind, int k, int s, nn_padding pad)
{
    char name[32];
    snprintf(name, sizeof name, "pool%d", n->n_layers);
    nn_layer L = nn_layer_defaults(kind, name);
    L.n_in = 1;
    L.in[0] = tu_last(n);
    L.kh = L.kw = k;
    L.sh = L.sw = s;
    L.padding = pad;
    tu_add(n, &L);
}

static inline void tu_simple(nn_net *n, nn_kind kind)
{
    char name[32];
    snprintf(name, sizeof name, "l%d", n->n_layers);
    nn_layer L = nn_layer_defaults(kind, name);
    L.n_in = 1;
    L.in[0] = tu_last(n);
    L.rate = 0.5f;
    tu_add(n, &L);
}

static inline void tu_act(nn_net *n, nn_act a)
{
    char name[32];
    snprintf(name, sizeof name, "act%d", n->n_layers);
    nn_layer L = nn_layer_defaults(NN_ACTIVATION, name);
    L.n_in = 1;
    L.in[0] = tu_last(n);
    L.act = a;
    L.alpha = 0.2f;
    tu_add(n, &L);
}

static inline void tu_dense(nn_net *n, int units, nn_act a)
{
    char name[32];
    snprintf(name, sizeof name, "dense%d", n->n_layers);
    nn_layer L = nn_layer_defaults(NN_DENSE, name);
    L.n_in = 1;
    L.in[0] = tu_last(n);
    L.units = units;
    L.act = a;
    L.alpha = 0.1f;
    tu_add(n, &L);
}

#endif
