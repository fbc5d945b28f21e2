/* nn_engine.c — workspaces, forward and backward over the layer graph,
 * gradient buffers.  See nn_engine.h; the per-layer kernels are reached
 * through each kind's descriptor (nn/nn_ops.h). */
#include "nn/nn_engine.h"

#include <stdlib.h>
#include <string.h>

#include "nn/nn_layers.h"
#include "nn/nn_ops.h"

struct nn_workspace {
    const nn_net *net;      /* the net it was sized for (shape reference) */
    int n_layers;
    int max_batch;
    int training;           /* allocated for backward                    */
    float **out;            /* per layer: max_batch * out_size            */
    float **dout;           /* training: dLoss/d(out)                     */
    float **cache;          /* per layer cache (may be NULL)              */
    int **icache;
    float *scratch, *scratch2;
    float **grad;           /* [layer * NN_MAX_PARAMS + j], or NULL       */
    size_t *grad_size;
    unsigned char *need;    /* backward: gradient of this output needed   */
    sv_xoshiro rng;
    int last_batch;         /* 0 before the first forward                 */
    int last_training;
};

/* ---- memory per layer ---------------------------------------------------- */

void nn_layer_mem(const nn_net *net, int li, int max_batch, int training, nn_mem *m)
{
    const nn_layer *L = &net->layers[li];
    const nn_layer *in[NN_MAX_INPUTS];
    for (int k = 0; k < L->n_in; k++)
        in[k] = &net->layers[L->in[k]];
    memset(m, 0, sizeof *m);
    const nn_op *op = nn_op_of(L->kind);
    if (op && op->mem)
        op->mem(L, in, max_batch, training, m);
}

/* ---- workspace ------------------------------------------------------------ */

void nn_workspace_free(nn_workspace *ws)
{
    if (!ws)
        return;
    for (int i = 0; i < ws->n_layers; i++) {
        if (ws->out)
            free(ws->out[i]);
        if (ws->dout)
            free(ws->dout[i]);
        if (ws->cache)
            free(ws->cache[i]);
        if (ws->icache)
            free(ws->icache[i]);
    }
    if (ws->grad)
        for (int i = 0; i < ws->n_layers * NN_MAX_PARAMS; i++)
            free(ws->grad[i]);
    free(ws->out);
    free(ws->dout);
    free(ws->cache);
    free(ws->icache);
    free(ws->grad);
    free(ws->grad_size);
    free(ws->need);
    free(ws->scratch);
    free(ws->scratch2);
    free(ws);
}

static void *xcalloc(size_t n, size_t sz, int *fail)
{
    if (n == 0)
        return NULL;
    void *p = calloc(n, sz);
    if (!p)
        *fail = 1;
    return p;
}

nn_workspace *nn_workspace_new(const nn_net *net, int max_batch, int training, sv_error *err)
{
    if (!net || !net->finalized) {
        sv_error_set(err, SV_ERR_ARG, "nn_workspace_new: network missing or not finalised");
        return NULL;
    }
    if (max_batch < 1 || max_batch > (1 << 20)) {
        sv_error_set(err, SV_ERR_ARG, "nn_workspace_new: max_batch %d not in 1..%d", max_batch,
                     1 << 20);
        return NULL;
    }
    nn_workspace *ws = calloc(1, sizeof *ws);
    if (!ws) {
        sv_error_set(err, SV_ERR_NOMEM, "nn_workspace_new: out of memory");
        return NULL;
    }
    int n = net->n_layers, fail = 0;
    ws->net = net;
    ws->n_layers = n;
    ws->max_batch = max_batch;
    ws->training = training ? 1 : 0;
    sv_xoshiro_seed(&ws->rng, 0x5eedULL);
    ws->out = xcalloc((size_t)n, sizeof(float *), &fail);
    ws->cache = xcalloc((size_t)n, sizeof(float *), &fail);
    ws->icache = xcalloc((size_t)n, sizeof(int *), &fail);
    ws->need = xcalloc((size_t)n, 1, &fail);
    if (training) {
        ws->dout = xcalloc((size_t)n, sizeof(float *), &fail);
        ws->grad = xcalloc((size_t)n * NN_MAX_PARAMS, sizeof(float *), &fail);
        ws->grad_size = xcalloc((size_t)n * NN_MAX_PARAMS, sizeof(size_t), &fail);
    }
    size_t scr = 0, scr2 = 0;
    for (int i = 0; i < n && !fail; i++) {
        const nn_layer *L = &net->layers[i];
        size_t sz = (size_t)max_batch * L->out_size;
        if (sz >= ((size_t)1 << 31)) { /* kernels index a batch with int */
            nn_workspace_free(ws);
            sv_error_set(err, SV_ERR_ARG,
                         "nn_workspace_new: layer '%s': a batch of %d needs %zu values, over "
                         "2^31",
                         L->name, max_batch, sz);
            return NULL;
        }
        ws->out[i] = xcalloc(sz, sizeof(float), &fail);
        if (training)
            ws->dout[i] = xcalloc(sz, sizeof(float), &fail);
        nn_mem m;
        nn_layer_mem(net, i, max_batch, training, &m);
        ws->cache[i] = xcalloc(m.cache, sizeof(float), &fail);
        ws->icache[i] = xcalloc(m.icache, sizeof(int), &fail);
        if (m.scratch > scr)
            scr = m.scratch;
        if (m.scratch2 > scr2)
            scr2 = m.scratch2;
        if (training)
            for (int j = 0; j < L->n_params; j++)
                if (L->p[j].trainable) {
                    ws->grad[i * NN_MAX_PARAMS + j] = xcalloc(L->p[j].size, sizeof(float), &fail);
                    ws->grad_size[i * NN_MAX_PARAMS + j] = L->p[j].size;
                }
    }
    if (!fail) {
        ws->scratch = xcalloc(scr, sizeof(float), &fail);
        ws->scratch2 = xcalloc(scr2, sizeof(float), &fail);
    }
    if (fail) {
        nn_workspace_free(ws);
        sv_error_set(err, SV_ERR_NOMEM,
                     "nn_workspace_new: out of memory for a batch of %d samples", max_batch);
        return NULL;
    }
    return ws;
}

void nn_workspace_seed(nn_workspace *ws, uint64_t seed)
{
    if (ws)
        sv_xoshiro_seed(&ws->rng, seed);
}

const float *nn_workspace_output(const nn_workspace *ws)
{
    if (!ws || !ws->net)
        return NULL;
    return ws->out[ws->net->output];
}

const float *nn_workspace_layer_output(const nn_workspace *ws, int layer)
{
    if (!ws || layer < 0 || layer >= ws->n_layers)
        return NULL;
    return ws->out[layer];
}

void nn_workspace_zero_grads(nn_workspace *ws)
{
    if (!ws || !ws->grad)
        return;
    for (int i = 0; i < ws->n_layers * NN_MAX_PARAMS; i++)
        if (ws->grad[i])
            memset(ws->grad[i], 0, ws->grad_size[i] * sizeof(float));
}

float *nn_workspace_grad(nn_workspace *ws, int layer, int param)
{
    if (!ws || !ws->grad || layer < 0 || layer >= ws->n_layers || param < 0 ||
        param >= NN_MAX_PARAMS)
        return NULL;
    return ws->grad[layer * NN_MAX_PARAMS + param];
}

const float *nn_workspace_grad_const(const nn_workspace *ws, int layer, int param)
{
    return nn_workspace_grad((nn_workspace *)ws, layer, param);
}

void nn_workspace_add_grads(nn_workspace *dst, const nn_workspace *src)
{
    if (!dst || !src || !dst->grad || !src->grad || dst->n_layers != src->n_layers)
        return;
    for (int i = 0; i < dst->n_layers * NN_MAX_PARAMS; i++) {
        float *d = dst->grad[i];
        const float *s = src->grad[i];
        if (!d || !s || dst->grad_size[i] != src->grad_size[i])
            continue;
        for (size_t k = 0; k < dst->grad_size[i]; k++)
            d[k] += s[k];
    }
}

/* ---- dispatch --------------------------------------------------------------- */

static int check_net(const nn_workspace *ws, const nn_net *net, sv_error *err)
{
    if (!ws || !net)
        return sv_error_set(err, SV_ERR_ARG, "nn engine: NULL workspace or network");
    if (!net->finalized)
        return sv_error_set(err, SV_ERR_ARG, "nn engine: network not finalised");
    if (net != ws->net) {
        /* another net of the same structure (a clone) is fine */
        if (net->n_layers != ws->n_layers || net->output != ws->net->output)
            return sv_error_set(err, SV_ERR_ARG,
                                "nn engine: workspace was made for a different network");
        for (int i = 0; i < net->n_layers; i++)
            if (net->layers[i].kind != ws->net->layers[i].kind ||
                net->layers[i].out_size != ws->net->layers[i].out_size ||
                net->layers[i].n_params != ws->net->layers[i].n_params)
                return sv_error_set(err, SV_ERR_ARG,
                                    "nn engine: workspace was made for a different network "
                                    "(layer '%s' differs)",
                                    net->layers[i].name);
    }
    return 0;
}

static void fill_ctx(nn_lctx *c, nn_workspace *ws, const nn_net *net, int i, int batch,
                     int training)
{
    const nn_layer *L = &net->layers[i];
    memset(c, 0, sizeof *c);
    c->L = L;
    c->batch = batch;
    c->max_batch = ws->max_batch;
    c->training = training;
    for (int k = 0; k < L->n_in; k++) {
        c->in_layer[k] = &net->layers[L->in[k]];
        c->x[k] = ws->out[L->in[k]];
    }
    c->y = ws->out[i];
    c->cache = ws->cache[i];
    c->icache = ws->icache[i];
    c->scratch = ws->scratch;
    c->scratch2 = ws->scratch2;
    c->rng = &ws->rng;
}

int nn_forward(nn_workspace *ws, nn_net *net, int batch, const float *const *inputs,
               int training, sv_error *err)
{
    int st = check_net(ws, net, err);
    if (st)
        return st;
    if (batch < 1 || batch > ws->max_batch)
        return sv_error_set(err, SV_ERR_ARG, "nn_forward: batch %d not in 1..%d", batch,
                            ws->max_batch);
    if (training && !ws->training)
        return sv_error_set(err, SV_ERR_ARG,
                            "nn_forward: training pass on a workspace made for inference");
    if (!inputs)
        return sv_error_set(err, SV_ERR_ARG, "nn_forward: no inputs");
    for (int k = 0; k < net->n_inputs; k++)
        if (!inputs[k])
            return sv_error_set(err, SV_ERR_ARG, "nn_forward: input %d ('%s') is NULL", k,
                                net->layers[net->inputs[k]].name);
    ws->last_batch = 0;
    int next_input = 0;
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        if (L->kind == NN_INPUT) {
            memcpy(ws->out[i], inputs[next_input++], (size_t)batch * L->out_size * sizeof(float));
            continue;
        }
        nn_lctx c;
        fill_ctx(&c, ws, net, i, batch, training ? 1 : 0);
        if (training)
            c.Lw = L;
        nn_op_of(L->kind)->forward(&c);
    }
    ws->last_batch = batch;
    ws->last_training = training ? 1 : 0;
    return 0;
}

int nn_backward(nn_workspace *ws, const nn_net *net, const float *d_output,
                float *const *d_inputs, sv_error *err)
{
    int st = check_net(ws, net, err);
    if (st)
        return st;
    if (!ws->training || !ws->last_training || ws->last_batch < 1)
        return sv_error_set(err, SV_ERR_ARG,
                            "nn_backward: needs a training forward pass on a training workspace");
    if (!d_output)
        return sv_error_set(err, SV_ERR_ARG, "nn_backward: no output gradient");
    int batch = ws->last_batch, n = net->n_layers;

    /* which outputs need a gradient: those with something trainable (or a
     * requested input gradient) upstream */
    int in_no = 0;
    for (int i = 0; i < n; i++) {
        const nn_layer *L = &net->layers[i];
        int need = 0;
        if (L->kind == NN_INPUT) {
            need = d_inputs && d_inputs[in_no];
            in_no++;
        } else {
            if (L->trainable)
                for (int j = 0; j < L->n_params; j++)
                    if (L->p[j].trainable && ws->grad[i * NN_MAX_PARAMS + j])
                        need = 1;
            for (int k = 0; k < L->n_in; k++)
                if (ws->need[L->in[k]])
                    need = 1;
        }
        ws->need[i] = (unsigned char)need;
    }
    for (int i = 0; i < n; i++)
        if (ws->need[i])
            memset(ws->dout[i], 0, (size_t)batch * net->layers[i].out_size * sizeof(float));
    int out = net->output;
    if (!ws->need[out]) /* nothing to do, but still honour d_inputs (zeros) */
        memset(ws->dout[out], 0, (size_t)batch * net->layers[out].out_size * sizeof(float));
    memcpy(ws->dout[out], d_output, (size_t)batch * net->layers[out].out_size * sizeof(float));

    for (int i = n - 1; i >= 0; i--) {
        const nn_layer *L = &net->layers[i];
        if (L->kind == NN_INPUT || !ws->need[i])
            continue;
        nn_lctx c;
        fill_ctx(&c, ws, net, i, batch, 1);
        c.dy = ws->dout[i];
        for (int k = 0; k < L->n_in; k++)
            c.dx[k] = ws->need[L->in[k]] ? ws->dout[L->in[k]] : NULL;
        if (L->trainable)
            for (int j = 0; j < L->n_params; j++)
                c.g[j] = L->p[j].trainable ? ws->grad[i * NN_MAX_PARAMS + j] : NULL;
        nn_op_of(L->kind)->backward(&c);
    }
    if (d_inputs)
        for (int k = 0; k < net->n_inputs; k++) {
            if (!d_inputs[k])
                continue;
            int li = net->inputs[k];
            size_t sz = (size_t)batch * net->layers[li].out_size * sizeof(float);
            memcpy(d_inputs[k], ws->dout[li], sz);
        }
    return 0;
}
