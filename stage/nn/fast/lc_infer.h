/* lc_infer.h — the inference fast path of light-curve networks.
 *
 * A light-curve network — GRU and LSTM layers over a sequence (unmasked, or
 * masked: two producers, in[1] the mask's source, nn.h), Masking, Conv1D
 * (valid / same / causal, stride, dilation, bias, fused activation), Add
 * (any number of inputs, fused activation), GlobalAveragePooling1D (plain
 * or masked), Dense, Concatenate, Dropout, inference-mode
 * BatchNormalization, Activation; any DAG of them in the net's order
 * (residual and skip connections) — is compiled once into a plan that runs
 * a batch with:
 *   - each GRU's / LSTM's input projections for every step of every
 *     sequence as one matrix product, the recurrent products one per step
 *     over the whole batch, in a time-major state buffer; a masked step
 *     keeps a row's state (h, and c for the LSTM) and repeats its output, as
 *     the reference (nn_layer_gru.c, nn_layer_lstm.c); a step masked in
 *     every row of the batch is skipped;
 *   - each Conv1D as one product: the rows of every output step (im2col, K
 *     taps of C channels, zeros outside the sequence) times the Keras
 *     kernel (K*C) x filters, packed;
 *   - those products, and Dense, with register-blocked kernels for
 *     AVX-512, AVX2 + FMA and portable C (no BLAS: no thread is started);
 *   - the gates (sigmoid / hard sigmoid, tanh) and the fused sigmoid, tanh,
 *     hard sigmoid and relu of Conv1D, Add and Activation in branch-free
 *     loops over arrays with a polynomial exp (|relative error| < 2e-7),
 *     compiled for AVX-512, AVX2 and generic x86-64 (lc_gates_tmpl.h), the
 *     copy chosen by cpu.h's one policy when the plan is made (other
 *     activations: nn_act_forward);
 *   - Dense on sequences as one product over all steps, bias and
 *     activation fused after it;
 *   - a network without GRU / LSTM runs a large batch in passes of as many
 *     samples as keep each layer's buffer near 256 KB (cache-resident
 *     between the layers); recurrent networks in one pass.
 * STAMPVET_ISA (read once, cpu.h; as for nn_plan.h) picks the kernels:
 * avx512, avx2, generic (portable products and gates); an ISA the CPU cannot
 * run, and reference, refuse the fast path (callers then run nn_forward).
 * Results equal the reference engine's (nn_forward) to float rounding
 * (tests/test_lightcurve.c holds every layer kind, masked sequences and
 * RAPID's four published models to 1e-5 on every ISA).  A network with any
 * other layer (or a GRU / LSTM activation other than tanh with a sigmoid or
 * Keras 2 hard sigmoid recurrence) is refused (SV_ERR_UNSUPPORTED, the
 * layer named) and callers use nn_forward.
 *
 * Thread safety: a plan reads the net it was made from (which must outlive
 * it, unchanged) and owns its buffers: one plan per thread.  It runs on
 * the calling thread only and changes no process-global state (it
 * sets flush-to-zero in the calling thread's MXCSR for the duration of a
 * run and restores it).
 */
#ifndef SV_LC_INFER_H
#define SV_LC_INFER_H

#include "core/cpu.h"
#include "nn/nn.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_lc_infer sv_lc_infer;

/* A plan for batches of up to max_batch samples of net (finalised).  NULL
 * with err set: SV_ERR_UNSUPPORTED for a layer the fast path does not run
 * (err names it) or an ISA it cannot use, SV_ERR_ARG when STAMPVET_ISA
 * names no ISA, SV_ERR_NOMEM. */
sv_lc_infer *sv_lc_infer_new(const nn_net *net, int max_batch, sv_error *err);
/* The same with an explicit ISA (NN_ISA_AUTO: the best; the environment is
 * not read): SV_ERR_UNSUPPORTED also when the CPU or the build cannot run
 * isa, or isa is NN_ISA_REFERENCE. */
sv_lc_infer *sv_lc_infer_new_isa(const nn_net *net, int max_batch, nn_isa isa, sv_error *err);
void sv_lc_infer_free(sv_lc_infer *p);

/* Forward `batch` samples; inputs as nn_forward's (one pointer per network
 * input); returns a pointer to batch x out_size outputs (valid until the
 * next run), or NULL with err set. */
const float *sv_lc_infer_run(sv_lc_infer *p, int batch, const float *const *inputs,
                             sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
