/* nn_engine.h — running an nn_net: forward, backward, losses, optimisers.
 *
 * An nn_workspace is the mutable side of a network: activations, caches for
 * backward, gradients, scratch.  It is sized for a maximum batch when it is
 * created and never allocates afterwards.  One workspace is used by one
 * thread at a time; the nn_net it runs is only read (except by
 * nn_optimizer_step and by BatchNormalization moving statistics updated in
 * nn_forward with training = 1, which the caller serialises).
 *
 * Multi-threaded training: give each thread its own workspace over a slice of
 * the minibatch, then sum their gradients (nn_workspace_add_grads) before one
 * nn_optimizer_step.
 *
 * No function here changes process-global state (OpenBLAS thread count
 * included: the engine calls BLAS from the calling thread only).
 */
#ifndef SV_NN_ENGINE_H
#define SV_NN_ENGINE_H

#include "nn/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nn_workspace nn_workspace;

/* Tell OpenBLAS to run each call single-threaded: the training and
 * evaluation loops already run one BLAS call per worker thread, and
 * OpenBLAS' own threads would only compete with them.  An application
 * choice (process-wide), made by the CLI, never by the library.  Not
 * thread-safe: call once before starting threads. */
void nn_blas_single_thread(void);

/* A workspace for `net` (finalised) and batches up to max_batch samples.
 * training != 0 also allocates what backward needs.  NULL with err set on
 * failure.  Thread-safe (reads net only). */
nn_workspace *nn_workspace_new(const nn_net *net, int max_batch, int training,
                               sv_error *err);
void nn_workspace_free(nn_workspace *ws);

/* Forward pass over `batch` samples of `net`: the net the workspace was
 * made for, or a clone of it (same structure, other weights).  inputs[i] points to batch * (size of
 * network input i) floats in the layout of nn.h, one pointer per net input in
 * net->inputs order.  training != 0 activates Dropout (with the workspace's
 * generator) and BatchNormalization batch statistics (and updates the
 * net's moving statistics: moving = moving*momentum + batch*(1-momentum),
 * with the unbiased batch variance for image inputs, as Keras 2's fused
 * path does, and the biased one for vector/sequence inputs, as its
 * unfused path does; a BN layer with trainable = 0 stays in inference mode,
 * as in Keras 2 under TF2).  Returns 0 or a status with err set.
 * The output is valid until the next call on the same workspace. */
int nn_forward(nn_workspace *ws, nn_net *net, int batch,
               const float *const *inputs, int training, sv_error *err);

/* Output of the last forward: batch * out_size floats. */
const float *nn_workspace_output(const nn_workspace *ws);
/* Output of any layer from the last forward (for tests and debugging). */
const float *nn_workspace_layer_output(const nn_workspace *ws, int layer);

/* Backward pass for the last nn_forward (which must have had training != 0).
 * d_output holds dLoss/dOutput, batch * out_size floats.  Gradients of every
 * trainable parameter are ADDED to the workspace's gradient buffers (clear
 * them with nn_workspace_zero_grads).  If d_inputs is non-NULL, d_inputs[i]
 * receives dLoss/dInput for net input i (buffers supplied by the caller, may
 * be NULL individually).  Returns 0 or a status. */
int nn_backward(nn_workspace *ws, const nn_net *net, const float *d_output,
                float *const *d_inputs, sv_error *err);

void nn_workspace_zero_grads(nn_workspace *ws);
/* Gradient buffer of parameter `param` of layer `layer` (same size as the
 * parameter), or NULL when the layer or parameter has none. */
float *nn_workspace_grad(nn_workspace *ws, int layer, int param);
/* dst += src, for every gradient buffer (both over the same net). */
void nn_workspace_add_grads(nn_workspace *dst, const nn_workspace *src);
/* Seed the workspace's generator (Dropout masks). */
void nn_workspace_seed(nn_workspace *ws, uint64_t seed);

/* ---- losses -------------------------------------------------------------
 * Each returns the mean loss over the batch (weighted as stated) and, when
 * grad is non-NULL, writes dLoss/dInput (same size as the input) so that it
 * can be handed to nn_backward.
 */

/* Binary cross-entropy on probabilities p (after sigmoid), targets y in
 * [0,1], n samples x k outputs.  class_weight, if non-NULL, holds {w0, w1}:
 * the weight of a target 0 and of a target 1 (soft targets interpolate).
 * Loss is sum(w*l)/(n*k): the mean over the k outputs, as Keras'
 * binary_crossentropy, then over samples (for k = 1 this is sum(w*l)/n).
 * As Keras 2 (TF2) does, p is clipped to [1e-7, 1-1e-7] and
 * l = -(y log(p + 1e-7) + (1-y) log(1 - p + 1e-7)).  The gradient treats
 * the clip as the identity, so a saturated output still learns. */
float nn_loss_bce(const float *p, const float *y, int n, int k,
                  const float *class_weight, float *grad);

/* Categorical cross-entropy on probabilities p (after softmax), one-hot or
 * soft targets y, n samples x k classes.  class_weight (k values or NULL)
 * weights each sample by the weight of its target class (sum_c y_c w_c).
 * Loss is sum(w*l)/n.  As Keras 2: p is divided by its sum over the
 * classes, clipped to [1e-7, 1-1e-7], l = -sum_c y_c log p_c (the gradient
 * includes the division, and treats the clip as the identity). */
float nn_loss_cce(const float *p, const float *y, int n, int k,
                  const float *class_weight, float *grad);

/* Weighted categorical cross-entropy over sequences: p and y are
 * n x t x k; mask (n x t, or NULL for all ones) excludes padded steps; each
 * step weighted by class_weight of its target.  Loss is
 * sum(mask*w*l) / sum(mask). */
float nn_loss_cce_seq(const float *p, const float *y, const float *mask,
                      int n, int t, int k, const float *class_weight,
                      float *grad);

/* ---- optimisers --------------------------------------------------------
 * Keras 2 update rules, g = grad_scale * gradient + weight_decay * w:
 *   SGD:  v = momentum * v - lr * g;  w += v   (plain w -= lr*g if momentum 0)
 *   Adam: m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *         w -= lr * sqrt(1-b2^t) / (1-b1^t) * m / (sqrt(v) + eps)
 * lr is multiplied by the layer's scale.  Layers with trainable = 0 and
 * parameters with trainable = 0 (BN moving statistics) are never changed.
 */

typedef enum nn_opt_kind { NN_OPT_SGD = 0, NN_OPT_ADAM = 1 } nn_opt_kind;

typedef struct nn_optimizer nn_optimizer;

typedef struct nn_opt_config {
    nn_opt_kind kind;
    float lr;            /* learning rate                                   */
    float momentum;      /* SGD                                             */
    float beta1, beta2, eps; /* Adam (Keras defaults 0.9, 0.999, 1e-7)      */
    float weight_decay;  /* L2 added to the gradient, 0 = none              */
} nn_opt_config;

nn_opt_config nn_opt_defaults(nn_opt_kind kind);

/* Optimiser state for every trainable parameter of net. */
nn_optimizer *nn_optimizer_new(const nn_net *net, const nn_opt_config *cfg,
                               sv_error *err);
void nn_optimizer_free(nn_optimizer *opt);
/* Per-layer learning-rate multiplier (1 by default; 0 freezes). */
void nn_optimizer_set_layer_lr_scale(nn_optimizer *opt, int layer, float scale);
/* One update of every parameter that is trainable (param and layer flags)
 * from the gradients in ws, scaled by grad_scale (e.g. 1/number of
 * workspaces summed).  Not thread-safe with anything that reads net. */
void nn_optimizer_step(nn_optimizer *opt, nn_net *net, const nn_workspace *ws,
                       float grad_scale);
/* The same from gradients held elsewhere (the training fast path,
 * nn_train.h): grads[layer * NN_MAX_PARAMS + j] is the gradient of
 * parameter j of that layer in its Keras layout, or NULL for none. */
void nn_optimizer_step_grads(nn_optimizer *opt, nn_net *net, const float *const *grads,
                             float grad_scale);
/* nn_optimizer_step_grads in pieces, for several threads: nn_optimizer_begin
 * once (it counts the step), then nn_optimizer_apply_range on pieces that
 * together cover every parameter once: elements lo .. lo+n-1 of parameter
 * j of layer `layer` from their gradients g[0 .. n-1].  The update is
 * element-wise, so the result equals nn_optimizer_step_grads' however the
 * parameters are cut.  Pieces may run concurrently when they are disjoint;
 * begin may not run with them. */
void nn_optimizer_begin(nn_optimizer *opt);
void nn_optimizer_apply_range(nn_optimizer *opt, nn_net *net, int layer, int j, size_t lo,
                              size_t n, const float *g, float grad_scale);

#ifdef __cplusplus
}
#endif
#endif
