/* nn.h — stampvet's neural-network engine: the network description.
 *
 * A network (nn_net) is a list of layers in topological order.  Each layer
 * names the earlier layers it reads (several for Concatenate), so both
 * Sequential and functional (multi-input) Keras graphs map onto it.
 *
 * Data layout (shared by every module, chosen to stay when inference is made
 * fast):
 *   - float32 everywhere;
 *   - a batch is sample-major: sample n's values are contiguous;
 *   - inside a sample, Keras channels-last order: images (H, W, C),
 *     sequences (T, F), vectors (F).  Flatten therefore keeps the memory order
 *     and equals Keras' channels-last Flatten.
 *   - weights are stored in Keras' own shapes and order, so import and the
 *     model file copy them verbatim:
 *       Conv2D           kernel (kh, kw, cin, cout), bias (cout)
 *       DepthwiseConv2D  depthwise_kernel (kh, kw, cin, depth_multiplier), bias (cin*dm)
 *       SeparableConv2D  depthwise_kernel (kh, kw, cin, dm),
 *                        pointwise_kernel (1, 1, cin*dm, cout), bias (cout)
 *       Dense            kernel (in, units), bias (units); on a (T, F) input
 *                        it applies to every time step, as Keras Dense and
 *                        TimeDistributed(Dense) do
 *       BatchNormalization gamma, beta, moving_mean, moving_variance (C)
 *       GRU              kernel (in, 3u), recurrent_kernel (u, 3u), bias (3u),
 *                        or bias (2, 3u) when reset_after; gate order z, r, h
 *                        as in Keras.
 *       LSTM             kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u);
 *                        gate order i, f, c, o as in Keras.
 *       Conv1D           kernel (k, cin, filters), bias (filters), on (T, C).
 *
 * Masks (Keras Masking): a GRU or LSTM with two producers reads its data
 * from in[0] and its mask from in[1]: step t of a sample is masked when
 * every value of in[1] at t equals the layer's mask_value.  At a masked step
 * the layer keeps its state and repeats its previous output (zeros before
 * the first unmasked step), as Keras' RNN does.
 *
 * The nn_net holds structure and weights only; everything that changes while
 * running lives in an nn_workspace (nn_engine.h).  A finalised nn_net is
 * read-only during inference, so any number of workspaces in any number of
 * threads may share it.
 *
 * Thread safety: building a net (nn_net_add_*, nn_net_finalize) is not
 * thread-safe on the same net; distinct nets are independent.
 */
#ifndef SV_NN_H
#define SV_NN_H

#include <stddef.h>
#include <stdint.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NN_NAME_MAX 64
#define NN_MAX_RANK 3      /* per-sample rank: (H,W,C), (T,F) or (F)       */
#define NN_MAX_PARAMS 4    /* parameter tensors per layer                  */
#define NN_MAX_INPUTS 8    /* producers of one layer (Concatenate)         */
#define NN_MAX_NET_INPUTS 8

/* Layer kinds, generated from the registry nn/ops/nn_ops_list.h (one
 * descriptor per kind, nn/nn_ops.h).  The values are fixed: NN_INPUT 0,
 * NN_CONV2D 1, ... NN_MASKING 17, new kinds after. */
typedef enum nn_kind {
#define NN_OP(kind, value, op) kind = value,
#include "nn/ops/nn_ops_list.h"
#undef NN_OP
    NN_KIND_COUNT
} nn_kind;

typedef enum nn_act {
    NN_ACT_LINEAR = 0,
    NN_ACT_RELU,
    NN_ACT_LEAKY_RELU,   /* slope `alpha` below zero                       */
    NN_ACT_SIGMOID,
    NN_ACT_TANH,
    NN_ACT_SOFTMAX,      /* over the last axis                             */
    NN_ACT_HARD_SIGMOID, /* Keras 2: clip(0.2 x + 0.5, 0, 1)               */
    NN_ACT_HARD_SIGMOID_K3, /* Keras 3: clip(x / 6 + 0.5, 0, 1)            */
    NN_ACT_COUNT
} nn_act;

/* causal: Conv1D only, all padding before the first step (Keras) */
typedef enum nn_padding { NN_PAD_VALID = 0, NN_PAD_SAME = 1, NN_PAD_CAUSAL = 2 } nn_padding;

typedef struct nn_param {
    char name[24];        /* Keras name: "kernel", "bias", "gamma", ...      */
    int rank;             /* 1..4                                            */
    int dims[4];          /* Keras shape                                     */
    size_t size;          /* product of dims                                 */
    float *w;             /* values, owned by the net                        */
    int trainable;        /* 0 for BatchNormalization moving statistics      */
} nn_param;

typedef struct nn_layer {
    char name[NN_NAME_MAX];
    nn_kind kind;
    int n_in;                     /* producers (0 for NN_INPUT)              */
    int in[NN_MAX_INPUTS];        /* indices of earlier layers               */

    /* hyper-parameters; only those of `kind` are meaningful */
    nn_act act;                   /* fused output activation (linear = none);
                                     GRU: the candidate activation (Keras
                                     `activation`, default tanh)             */
    float alpha;                  /* leaky relu slope                        */
    int filters;                  /* Conv2D / SeparableConv2D / Conv1D       */
    int units;                    /* Dense / GRU / LSTM                      */
    int kh, kw;                   /* kernel or pool size (Conv1D: kh)        */
    int sh, sw;                   /* strides; pools: 0 = the pool size (Keras
                                     strides=None), resolved by nn_net_add   */
    int dilation;                 /* Conv1D dilation_rate (1 = none)         */
    float mask_value;             /* Masking, and masked GRU / LSTM          */
    nn_padding padding;
    int depth_multiplier;         /* Depthwise / Separable                   */
    int use_bias;
    float rate;                   /* Dropout                                 */
    float epsilon, momentum;      /* BatchNormalization (Keras semantics:
                                     moving = moving*momentum + batch*(1-m)) */
    int return_sequences;         /* GRU / LSTM                              */
    int reset_after;              /* GRU: Keras reset_after                  */
    nn_act recurrent_act;         /* GRU / LSTM: sigmoid or a hard_sigmoid   */
    int concat_axis;              /* Concatenate: the last axis only: -1, or
                                     the per-sample rank (Keras' index that
                                     counts the batch axis)                  */

    int trainable;                /* 0 freezes every parameter of the layer;
                                     a frozen BatchNormalization also runs in
                                     inference mode in training (as Keras 2
                                     under TF2 does)                          */

    /* filled by nn_net_finalize */
    int rank;                     /* per-sample output rank                  */
    int shape[NN_MAX_RANK];       /* per-sample output shape                 */
    size_t out_size;              /* product of shape                        */

    int n_params;
    nn_param p[NN_MAX_PARAMS];
} nn_layer;

typedef struct nn_net {
    int n_layers;
    int cap_layers;
    nn_layer *layers;
    int n_inputs;                     /* network inputs, in feed order       */
    int inputs[NN_MAX_NET_INPUTS];    /* layer indices of the NN_INPUT layers*/
    int output;                       /* index of the output layer           */
    int finalized;
} nn_net;

/* ---- building ---------------------------------------------------------- */

/* A new empty net, or NULL when out of memory. */
nn_net *nn_net_new(void);

/* Free a net and all its weights.  NULL is allowed. */
void nn_net_free(nn_net *net);

/* A layer description with Keras defaults for `kind` (stride 1, valid
 * padding, use_bias 1, trainable 1, epsilon 1e-3, momentum 0.99,
 * recurrent_act hard_sigmoid, reset_after 0, depth_multiplier 1, act linear
 * (GRU, LSTM: tanh), leaky relu alpha 0.3, pools 2x2 with strides 0 = pool
 * size, concat_axis -1, dilation 1, mask_value 0).  The caller sets n_in/in, sizes and the rest. */
nn_layer nn_layer_defaults(nn_kind kind, const char *name);

/* Append a copy of `spec` (its `in` indices must name earlier layers; an
 * NN_INPUT layer gives its per-sample shape in rank/shape, and becomes the
 * next network input in net->inputs).  Parameters are not allocated yet.
 * Returns the new layer's index, or a negative status with err set naming
 * the layer (empty or duplicate name, bad producer index or count, bad
 * hyper-parameter, net already finalised). */
int nn_net_add(nn_net *net, const nn_layer *spec, sv_error *err);

/* Index of the layer called `name`, or -1. */
int nn_net_find(const nn_net *net, const char *name);

/* Check that shapes chain, compute every layer's output shape, and allocate
 * parameter tensors (zero-filled).  The last added layer is the output
 * unless net->output was set (nn_net_new sets it to -1).  Returns 0, or a
 * status with err naming the layer that does not fit (and its input's
 * shape).  Sizes are bounded (no tensor of 2^31 floats or more, no
 * dimension over 2^24).  Calling it again on a finalised net does nothing. */
int nn_net_finalize(nn_net *net, sv_error *err);

/* Glorot-uniform kernels (Keras fans: receptive field x channels), GRU
 * recurrent kernels orthogonal (Keras default), zero biases, BN gamma 1 /
 * beta 0 / mean 0 / var 1, from a deterministic generator seeded with
 * `seed` (same seed, same weights, on every platform).  Not thread-safe on
 * the same net. */
void nn_net_init_weights(nn_net *net, uint64_t seed);

/* Total number of parameters (all tensors), and of trainable ones. */
size_t nn_net_count_params(const nn_net *net, int trainable_only);

/* The parameter `pname` of layer `lname`, or NULL. */
nn_param *nn_net_param(nn_net *net, const char *lname, const char *pname);

/* Deep copy (structure and weights); NULL when out of memory. */
nn_net *nn_net_clone(const nn_net *net);

/* A finalised copy of `net` (finalised) whose sequence inputs, rank 2
 * (T, F), have `steps` time steps instead: recurrent, Conv1D and per-step
 * layers do not depend on T, as in Keras with a free time axis.  Returns 0
 * with *out set (free with nn_net_free), or a status with err naming the
 * layer whose weights would change (a Flatten of the sequence, ...) or
 * whose shape no longer fits.  Thread-safe (reads net only). */
int nn_net_with_steps(const nn_net *net, int steps, nn_net **out, sv_error *err);

/* Output size and leading padding of one spatial axis of a Conv2D or pool
 * (TF rules: "same" puts the extra padding at the end).  Thread-safe. */
void nn_conv_geometry(int in, int k, int s, nn_padding pad, int *out, int *pad_before);

/* Output length and leading padding of a Conv1D over `in` steps: kernel k,
 * stride s, dilation d (Keras rules; causal puts all (k-1)*d in front, same
 * puts the extra step at the end).  Thread-safe. */
void nn_conv1d_geometry(int in, int k, int s, int d, nn_padding pad, int *out,
                        int *pad_before);

/* Names used in model files and printouts ("conv2d", "relu", ...), and the
 * reverse look-ups (return -1 when unknown). */
const char *nn_kind_name(nn_kind kind);
const char *nn_act_name(nn_act act);
int nn_kind_from_name(const char *name);
int nn_act_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
