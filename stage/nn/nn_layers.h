/* nn_layers.h — internal to the NN engine: the per-layer kernels.
 *
 * Not installed, not part of the public API.  nn_engine.c walks the graph
 * and calls, for each layer, one forward and (in training) one backward
 * kernel of its kind's descriptor (nn/nn_ops.h), handing them an nn_lctx that holds
 * every pointer they need.  Kernels never allocate: all memory comes from the
 * workspace (caches sized by nn_layer_mem, shared scratch).
 *
 * Conventions for every kernel:
 *   - tensors are sample-major, channels-last (nn.h);
 *   - forward writes c->y (batch * L->out_size floats) and, when
 *     c->training, whatever its backward needs into c->cache / c->icache;
 *   - backward reads c->dy (dLoss/dOutput; it may overwrite it in place with
 *     dLoss/dPre-activation), ADDS dLoss/dInput into c->dx[i] when non-NULL
 *     and ADDS parameter gradients into c->g[j] when non-NULL.
 *
 * Thread safety: kernels are reentrant; they only write through c.
 */
#ifndef SV_NN_LAYERS_H
#define SV_NN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "nn/nn.h"

/* ---- the context of one layer call ------------------------------------ */

typedef struct nn_lctx {
    const nn_layer *L;                    /* the layer                      */
    const nn_layer *in_layer[NN_MAX_INPUTS]; /* its producers (shapes)      */
    int batch;
    int max_batch;                        /* the workspace's (cache layout) */
    int training;
    const float *x[NN_MAX_INPUTS];        /* producer outputs               */
    float *y;                             /* this layer's output            */
    float *dy;                            /* backward: dLoss/dy (writable)  */
    float *dx[NN_MAX_INPUTS];             /* backward: += dLoss/dx, or NULL */
    float *g[NN_MAX_PARAMS];              /* backward: += dLoss/dparam, or NULL */
    float *cache;                         /* layer cache (nn_layer_mem)     */
    int *icache;
    float *scratch;                       /* shared scratch (nn_layer_mem)  */
    float *scratch2;
    sv_xoshiro *rng;                      /* Dropout masks (core/rng.h)     */
    nn_layer *Lw;                         /* writable layer: BN moving stats
                                             (training forward only)        */
} nn_lctx;

/* Memory a layer needs for batches up to max_batch: floats and ints of its
 * own cache (kept from forward to backward) and floats of the two shared
 * scratch buffers (reused by every layer).  Inference needs less. */
typedef struct nn_mem {
    size_t cache;
    size_t icache;
    size_t scratch;
    size_t scratch2;
} nn_mem;

void nn_layer_mem(const nn_net *net, int layer, int max_batch, int training,
                  nn_mem *m);

/* Read access to a gradient buffer of a const workspace (nn_optim.c). */
struct nn_workspace;
const float *nn_workspace_grad_const(const struct nn_workspace *ws, int layer,
                                     int param);

/* ---- helpers shared by the layer files -------------------------------- */


/* The sliding-window geometry of a Conv2D / DepthwiseConv2D /
 * SeparableConv2D / pooling layer L over its input layer In (NHWC, per
 * sample): input h x w x c, output ho x wo x co (co = L->shape[2]), kernel
 * kh x kw, strides sh, sw, leading padding pt (rows), pl (columns), and
 * p = ho * wo output positions. */
typedef struct nn_window {
    int h, w, c;
    int ho, wo, co;
    int kh, kw, sh, sw;
    int pt, pl;
    int p;
} nn_window;

void nn_window_of(const nn_layer *L, const nn_layer *In, nn_window *g);

/* keep[n*T + t] = 1 when step t of sample n (F values of x, sample-major
 * (N, T, F)) holds a value other than mask_value, else 0 (Keras Masking).
 * ops/nn_layer_mask.c. */
void nn_seq_mask(const float *x, int N, int T, int F, float mask_value, int *keep);

/* ops/nn_act.c: apply activation in place over rows x last values
 * (softmax over last). */
void nn_act_forward(nn_act act, float alpha, float *y, size_t rows,
                    int last);
/* dy <- dy * act'(pre) computed from the activation output y. */
void nn_act_backward(nn_act act, float alpha, const float *y, float *dy,
                     size_t rows, int last);

/* The kernels of each kind are reached through its descriptor
 * (nn/nn_ops.h, stage/nn/ops/nn_layer_<kind>.c). */

#endif
