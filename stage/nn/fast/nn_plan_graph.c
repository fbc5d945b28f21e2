/* nn_plan_graph.c — several input branches meeting in one merge, run as
 * fast chains (nn_plan_graph.h). */
#include "nn/fast/nn_plan_graph.h"

#include <stdlib.h>
#include <string.h>

typedef struct branch {
    int input;        /* position in the network's inputs          */
    nn_net *net;      /* the chain as a network of its own, or NULL
                         when the branch is the input alone        */
    nn_plan *plan;
    size_t in_size, out_size;
    float *out;       /* slice x out_size                          */
} branch;

struct nn_graph {
    int n_br;
    branch br[NN_MAX_NET_INPUTS];
    int add;          /* merge by Add (else Concatenate)           */
    size_t rows;      /* Concatenate: values before the last axis  */
    size_t m_size;    /* floats of one merged sample               */
    float *merged;    /* slice x m_size                            */
    nn_net *tail_net; /* the chain after the merge, or NULL        */
    nn_plan *tail;
    size_t out_size;
    int slice;
    const char *isa;
};

void nn_graph_release_threads(nn_graph *g)
{
    for (int i = 0; g && i < g->n_br; i++)
        nn_plan_release_threads(g->br[i].plan);
    if (g)
        nn_plan_release_threads(g->tail);
}

void nn_graph_free(nn_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_br; i++) {
        nn_plan_free(g->br[i].plan);
        nn_net_free(g->br[i].net);
        free(g->br[i].out);
    }
    nn_plan_free(g->tail);
    nn_net_free(g->tail_net);
    free(g->merged);
    free(g);
}

const char *nn_graph_isa(const nn_graph *g) { return g->isa; }

/* The chain layers[idx[0..n)] of net as a network of its own whose input is
 * a copy of layer `in` (an input layer, or the merge, whose output shape it
 * takes), weights copied.  NULL when out of memory or when the copy does
 * not finalise (cannot happen for a finalised net; reported as memory). */
static nn_net *chain_net(const nn_net *net, int in, const int *idx, int n)
{
    nn_net *c = nn_net_new();
    if (!c)
        return NULL;
    const nn_layer *I = &net->layers[in];
    nn_layer spec = nn_layer_defaults(NN_INPUT, I->name);
    spec.rank = I->rank;
    memcpy(spec.shape, I->shape, sizeof spec.shape);
    if (nn_net_add(c, &spec, NULL) < 0)
        goto fail;
    for (int k = 0; k < n; k++) {
        spec = net->layers[idx[k]];
        spec.n_in = 1;
        spec.in[0] = k;
        if (nn_net_add(c, &spec, NULL) < 0)
            goto fail;
    }
    if (nn_net_finalize(c, NULL))
        goto fail;
    for (int k = 0; k < n; k++) {
        const nn_layer *S = &net->layers[idx[k]];
        nn_layer *D = &c->layers[k + 1];
        if (D->n_params != S->n_params || D->out_size != S->out_size)
            goto fail;
        for (int q = 0; q < S->n_params; q++) {
            if (D->p[q].size != S->p[q].size)
                goto fail;
            memcpy(D->p[q].w, S->p[q].w, S->p[q].size * sizeof(float));
        }
    }
    return c;
fail:
    nn_net_free(c);
    return NULL;
}

/* a chain's plan, refused (0) when it runs the reference engine */
static int chain_plan(nn_net *c, int slice, nn_isa isa, unsigned flags, nn_plan **out,
                      const char **why, sv_error *err)
{
    *out = nn_plan_new_flags(c, slice, isa, flags, err);
    if (!*out)
        return err && err->status ? err->status : SV_ERR_NOMEM;
    if (strcmp(nn_plan_isa(*out), "reference") == 0) {
        *why = "a branch the fast path does not cover";
        nn_plan_free(*out);
        *out = NULL;
        return 0;
    }
    return 1;
}

int nn_graph_new(const nn_net *net, int max_batch, nn_isa isa, unsigned flags, nn_graph **out,
                 const char **why, sv_error *err)
{
    *out = NULL;
    int L = net->n_layers, merge = -1;
    int *readers = calloc((size_t)L, sizeof *readers), *idx = malloc((size_t)L * sizeof *idx);
    nn_graph *g = calloc(1, sizeof *g);
    int st = 0;
    if (!readers || !idx || !g) {
        st = sv_error_set(err, SV_ERR_NOMEM, "nn_plan_new: out of memory");
        goto done;
    }
    /* the shape: one merge, no layer read twice, chains elsewhere */
    for (int i = 0; i < L; i++) {
        const nn_layer *Y = &net->layers[i];
        for (int j = 0; j < Y->n_in; j++)
            readers[Y->in[j]]++;
        if (Y->kind == NN_CONCAT || Y->kind == NN_ADD) {
            if (merge >= 0) {
                *why = "several merges";
                goto done;
            }
            merge = i;
        } else if (Y->kind != NN_INPUT && Y->n_in != 1) {
            *why = "a layer with several producers";
            goto done;
        }
    }
    if (merge < 0) {
        *why = net->n_inputs > 1 ? "several inputs without a merge" : "not a chain";
        goto done;
    }
    for (int i = 0; i < L; i++)
        if (i != net->output && readers[i] != 1) {
            *why = readers[i] ? "a layer read by several layers" : "a layer nobody reads";
            goto done;
        }
    const nn_layer *M = &net->layers[merge];
    if (M->n_in != net->n_inputs) {
        *why = "the merge does not read one branch per input";
        goto done;
    }
    g->add = M->kind == NN_ADD;
    g->m_size = M->out_size;
    g->rows = M->out_size / (size_t)M->shape[M->rank - 1];
    g->out_size = net->layers[net->output].out_size;
    g->slice = max_batch < NN_GRAPH_SLICE ? max_batch : NN_GRAPH_SLICE;
    g->isa = nn_isa_name(isa);
    int seen = 1; /* layers accounted for: the merge */
    for (int b = 0; b < M->n_in; b++) {
        int n = 0, k = M->in[b];
        while (net->layers[k].kind != NN_INPUT) { /* back to the branch's input */
            idx[n++] = k;
            k = net->layers[k].in[0];
        }
        for (int a = 0; a < n / 2; a++) { /* input-first order */
            int t = idx[a];
            idx[a] = idx[n - 1 - a];
            idx[n - 1 - a] = t;
        }
        branch *B = &g->br[g->n_br++];
        B->input = -1;
        for (int q = 0; q < net->n_inputs; q++)
            if (net->inputs[q] == k)
                B->input = q;
        B->in_size = net->layers[k].out_size;
        B->out_size = net->layers[M->in[b]].out_size;
        seen += n + 1;
        if (n > 0) {
            B->net = chain_net(net, k, idx, n);
            if (!B->net) {
                st = sv_error_set(err, SV_ERR_NOMEM, "nn_plan_new: out of memory");
                goto done;
            }
            st = chain_plan(B->net, g->slice, isa, flags, &B->plan, why, err);
            if (st <= 0)
                goto done;
            st = 0;
            g->isa = nn_plan_isa(B->plan);
            B->out = malloc((size_t)g->slice * B->out_size * sizeof(float));
            if (!B->out) {
                st = sv_error_set(err, SV_ERR_NOMEM, "nn_plan_new: out of memory");
                goto done;
            }
        }
    }
    /* the tail: from the output back to the merge */
    int n = 0;
    for (int k = net->output; k != merge; k = net->layers[k].in[0]) {
        if (net->layers[k].kind == NN_INPUT || n >= L) {
            *why = "the output does not follow the merge";
            goto done;
        }
        idx[n++] = k;
    }
    seen += n;
    if (seen != L) {
        *why = "layers outside the branches and the tail";
        goto done;
    }
    for (int a = 0; a < n / 2; a++) {
        int t = idx[a];
        idx[a] = idx[n - 1 - a];
        idx[n - 1 - a] = t;
    }
    g->merged = malloc((size_t)g->slice * g->m_size * sizeof(float));
    if (!g->merged) {
        st = sv_error_set(err, SV_ERR_NOMEM, "nn_plan_new: out of memory");
        goto done;
    }
    if (n > 0) {
        g->tail_net = chain_net(net, merge, idx, n);
        if (!g->tail_net) {
            st = sv_error_set(err, SV_ERR_NOMEM, "nn_plan_new: out of memory");
            goto done;
        }
        st = chain_plan(g->tail_net, g->slice, isa, flags, &g->tail, why, err);
        if (st <= 0)
            goto done;
        g->isa = nn_plan_isa(g->tail);
    }
    *out = g;
    g = NULL;
    st = 1;
done:
    nn_graph_free(g);
    free(readers);
    free(idx);
    return st;
}

int nn_graph_run(nn_graph *g, int batch, const float *const *inputs, float *out, int threads,
                 sv_error *err)
{
    for (int n0 = 0; n0 < batch; n0 += g->slice) {
        int m = batch - n0 < g->slice ? batch - n0 : g->slice;
        const float *res[NN_MAX_NET_INPUTS];
        for (int b = 0; b < g->n_br; b++) {
            branch *B = &g->br[b];
            const float *x = inputs[B->input] + (size_t)n0 * B->in_size;
            if (!B->plan) {
                res[b] = x;
                continue;
            }
            int st = nn_plan_run(B->plan, m, &x, B->out, threads, err);
            if (st)
                return st;
            res[b] = B->out;
        }
        /* the merge, sample by sample */
        for (int j = 0; j < m; j++) {
            float *y = g->merged + (size_t)j * g->m_size;
            if (g->add) {
                memcpy(y, res[0] + (size_t)j * g->m_size, g->m_size * sizeof(float));
                for (int b = 1; b < g->n_br; b++) {
                    const float *x = res[b] + (size_t)j * g->m_size;
                    for (size_t e = 0; e < g->m_size; e++)
                        y[e] += x[e];
                }
                continue;
            }
            for (size_t r = 0; r < g->rows; r++)
                for (int b = 0; b < g->n_br; b++) {
                    size_t d = g->br[b].out_size / g->rows;
                    memcpy(y, res[b] + (size_t)j * g->br[b].out_size + r * d, d * sizeof(float));
                    y += d;
                }
        }
        float *o = out + (size_t)n0 * g->out_size;
        if (!g->tail) {
            memcpy(o, g->merged, (size_t)m * g->m_size * sizeof(float));
            continue;
        }
        const float *x = g->merged;
        int st = nn_plan_run(g->tail, m, &x, o, threads, err);
        if (st)
            return st;
    }
    return 0;
}
