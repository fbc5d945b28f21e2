/* nn_train.h — the training fast path: forward with the caches backward
 * needs, backward, and gradients, on the kernels of the inference fast path
 * (nn_kernels.h: register-tiled AVX-512 / AVX2+FMA / portable C, chosen at
 * run time).
 *
 * An nn_tplan is a finalised nn_net compiled for training: every weight
 * tensor repacked for its kernels (output channels padded to multiples of
 * 16), plus the flipped and transposed copies the data gradients need and
 * the Winograd transforms of both (3x3 stride-1 convolutions where the
 * channel counts make it pay).  An nn_tws is the mutable side of one
 * minibatch slice: per-sample activations, Dropout masks, gradient scratch
 * and the slice's parameter gradients (packed).
 *
 * What runs where:
 *   Conv2D   forward: direct tiles or Winograd F(2x2,3x3), bias and ReLU
 *            fused; backward: the activation's derivative and the bias
 *            gradient in one pass, the weight gradient as a tiled product
 *            (input channels x output channels, reduced over the output
 *            pixels), the data gradient as a convolution of the zero-bordered
 *            (and, for strides, dilated) output gradient with the flipped,
 *            transposed kernel (Winograd where it pays).  valid/same, any
 *            stride.
 *   MaxPool2D, AveragePool2D (TF "same" rules), Dropout (masks drawn in
 *            the reference engine's order from the same generator, so the
 *            same seed gives the same masks), Activation, Flatten (free).
 *   Dense    on vectors, over the whole slice at once (weights read once
 *            per slice); sigmoid / softmax outputs.
 * Per sample through the convolutional part, per slice through the Dense
 * part.  Everything else (several inputs, BatchNormalization, separable
 * convolutions, GRU, a network that does not end in a vector ...) is not
 * covered: nn_tplan_new says so and the caller uses the reference engine
 * (nn_engine.h), which stays the correctness oracle (tests/test_nn_train.c
 * compares the two on every layer kind and over training steps).
 *
 * Determinism: a slice's gradients depend only on the slice's samples (in a
 * fixed order) and the plan, never on threads; summing slices in a fixed
 * order (nn_tplan_update) keeps training bit-identical for any thread
 * count.  Results differ from the reference engine's by float rounding
 * (summation order, Winograd).
 *
 * Instruction set: STAMPVET_ISA (generic, avx2, avx512; "reference" or an
 * unknown name: not covered) is read by nn_tplan_new, as by nn_plan_new.
 *
 * Thread safety: a plan is only read by nn_tws_* calls, which may run
 * concurrently on distinct workspaces of the same plan; nn_tplan_sync
 * writes it (serialise it with them).  The plan keeps a pointer to the net
 * for its structure (it must outlive the plan, structure unchanged).
 * Denormals are flushed to zero inside the calls (as in nn_plan_run).
 */
#ifndef SV_NN_TRAIN_H
#define SV_NN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"
#include "nn/nn_engine.h"
#include "nn/fast/nn_plan.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nn_tplan nn_tplan;
typedef struct nn_tws nn_tws;

/* Compile `net` (finalised) for training on `isa` (NN_ISA_AUTO: the
 * STAMPVET_ISA variable, else the best the CPU has), with the net's current
 * weights.  Returns NULL with err set: SV_ERR_UNSUPPORTED when the network
 * is not covered or the ISA asked is "reference" (the message says why; the
 * caller falls back to the reference engine), or another status (bad
 * arguments, memory, an ISA this CPU cannot run).  flags: NN_PLAN_NO_WINOGRAD
 * or 0.  Thread-safe (reads net only). */
nn_tplan *nn_tplan_new(const nn_net *net, nn_isa isa, unsigned flags, sv_error *err);
void nn_tplan_free(nn_tplan *p);

/* Repack the weights of net (the plan's net or a clone of it) into the
 * plan, e.g. after an optimiser step.  Not thread-safe with nn_tws_*. */
void nn_tplan_sync(nn_tplan *p, const nn_net *net);

/* "avx512", "avx2" or "generic". */
const char *nn_tplan_isa(const nn_tplan *p);

/* A slice workspace for batches up to max_batch (1..2^20).  NULL with err
 * set when out of memory or max_batch is out of range. */
nn_tws *nn_tws_new(const nn_tplan *p, int max_batch, sv_error *err);
void nn_tws_free(nn_tws *ws);

/* Seed the Dropout generator (as nn_workspace_seed). */
void nn_tws_seed(nn_tws *ws, uint64_t seed);

/* Forward over `batch` samples at x (batch x input size floats, nn.h
 * layout).  training != 0 draws Dropout masks and keeps what backward
 * needs.  Returns 0 or SV_ERR_ARG (bad batch).  The output stays valid
 * until the next forward. */
int nn_tws_forward(nn_tws *ws, int batch, const float *x, int training, sv_error *err);

/* Output of the last forward: batch x output size floats (nn.h layout). */
const float *nn_tws_output(const nn_tws *ws);

/* Backward for the last forward (which must have had training != 0) from
 * d_output (batch x output size): parameter gradients are ADDED to the
 * workspace's (clear them with nn_tws_zero_grads).  Returns 0 or
 * SV_ERR_ARG. */
int nn_tws_backward(nn_tws *ws, const float *d_output, sv_error *err);

void nn_tws_zero_grads(nn_tws *ws);

/* One optimiser step from the gradients of the slice workspaces
 * ws[0..n_ws-1] of one minibatch (same plan): their sum in slice order
 * (into ws[0]), opt applied to net (as nn_optimizer_step_grads with
 * grad_scale 1 on that sum in Keras layout), and the plan repacked from net
 * (nn_tplan_sync).  All three are element-wise: the weights are cut into
 * `threads` parts by input channel (threads created for the call,
 * sv_parallel_for), each summed, updated and repacked where it lies, and the
 * result is bit-identical for every thread count.  Not thread-safe with any
 * other call on the plan, its workspaces or net. */
void nn_tplan_update(nn_tplan *p, nn_tws *const *ws, int n_ws, nn_optimizer *opt, nn_net *net,
                     int threads);

/* Write the gradients, in the Keras layout of each parameter, to
 * grads[layer * NN_MAX_PARAMS + j] (buffers of the parameter's size; NULL
 * entries are skipped; parameters without a gradient — frozen — are left
 * alone). */
void nn_tws_grads(const nn_tws *ws, float *const *grads);

/* 1 when parameter j of layer i gets a gradient from this plan. */
int nn_tplan_has_grad(const nn_tplan *p, int layer, int j);

/* Profiling (bench/train_bench --profile).  The plan runs nn_tplan_steps
 * steps, step i for layer nn_tplan_step_layer(p, i) of the net.  After
 * nn_tws_profile(ws, t) with t holding 4 * steps + 2 doubles (NULL: off,
 * the default), every forward and backward on ws adds the seconds that
 * step i takes to t[4 i] (forward) and t[4 i + 1] (backward; of which, for
 * a Conv2D, t[4 i + 2] the weight gradient and t[4 i + 3] the data
 * gradient), drawing the Dropout masks to t[4 steps] and everything else
 * (copies, the output and input gradient layouts) to t[4 steps + 1].  Timing costs two clock reads
 * per step and sample; t belongs to one workspace (not shared between
 * threads). */
int nn_tplan_steps(const nn_tplan *p);
int nn_tplan_step_layer(const nn_tplan *p, int i);
void nn_tws_profile(nn_tws *ws, double *t);

#ifdef __cplusplus
}
#endif
#endif
