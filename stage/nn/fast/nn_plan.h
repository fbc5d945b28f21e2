/* nn_plan.h — the inference fast path: a finalised nn_net compiled into an
 * execution plan.
 *
 * nn_plan_new() reads the network once and
 *   - repacks every weight tensor into the layout its kernel wants (output
 *     channels padded to a multiple of 16, zero rows for padded input
 *     channels, Dense rows in the physical order of the padded Flatten);
 *   - runs 3x3 stride-1 convolutions on 16 or more channels as Winograd
 *     F(2x2,3x3) (2.25 times fewer multiplications; the transformed
 *     weights are computed once, in double precision), others as direct
 *     convolutions with register tiling;
 *   - fuses Conv2D/Dense + bias + ReLU into one kernel call (other
 *     activations run right after on the logical values), makes Flatten and
 *     Dropout (inference) free, and turns "same" padding into a zero border;
 *   - picks the kernels of one instruction set: AVX-512, AVX2+FMA, or
 *     portable C, chosen at run time from what the CPU supports;
 *   - sizes the scratch of each worker: the convolutional part of one stamp
 *     runs in two ping-pong buffers that stay in the core's L2 cache, and the
 *     Dense part runs over a chunk of up to 16 stamps at once so that the
 *     dense weights are read once per chunk.
 * nn_plan_run() spreads chunks of stamps over `threads` workers: the calling
 * thread plus threads-1 threads of a pool the plan owns (core/pool.h:
 * started by the first run that needs them, kept until nn_plan_free, spinning
 * about 0.1 ms after a run and then asleep), per-core stamp streams; a
 * batch of one stamp is cut into pieces of rows that the workers take as
 * they come.  It calls no BLAS and changes no process-global state.
 *
 * Covered networks: one input (a H x W x C stamp, or a feature vector) and a
 * chain of Conv2D (valid/same, any stride, any activation),
 * DepthwiseConv2D and SeparableConv2D (a depthwise step, then the pointwise
 * part as a 1x1 Conv2D), MaxPool2D, AveragePool2D, GlobalAveragePooling2D,
 * Flatten, Dropout, Activation, BatchNormalization (folded into the Conv2D
 * or Dense before it when that one is linear and the folded weights stay
 * exact to float rounding, else applied per value), and Dense on vectors;
 * and graphs of such chains, one per input, meeting in one Concatenate or
 * Add followed by a chain (ACAI's stamp + features shape:
 * nn_plan_graph.h).  Any other network (a residual, GRU, ...) is still
 * accepted: the plan then runs the reference engine (nn_forward), one
 * nn_workspace per worker, and nn_plan_isa() says "reference".
 *
 * Results equal the reference engine's (nn_forward) up to float rounding
 * (summation order): tests/test_nn_plan.c holds them to 1e-5.
 *
 * Instruction set override: the environment variable STAMPVET_ISA
 * (generic, avx2, avx512, reference; unset or "auto" = the best the CPU has;
 * read once per process, cpu.h) is honoured by nn_plan_new();
 * nn_plan_new_isa() takes the choice explicitly.
 *
 * Thread safety: a plan only reads the nn_net given to nn_plan_new (which
 * must stay alive and unchanged while the plan exists; the plan keeps its
 * own copy of the repacked weights).  One plan is used by one thread at a
 * time (nn_plan_run is not reentrant on the same plan: it owns the workers'
 * scratch); distinct plans, even over the same net, run concurrently.
 */
#ifndef SV_NN_PLAN_H
#define SV_NN_PLAN_H

#include <stddef.h>

#include "core/cpu.h"
#include "nn/nn.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nn_plan nn_plan;

/* nn_isa, nn_isa_name() and nn_isa_from_name() are in cpu.h. */

/* 1 when this build has the kernels of `isa` and this CPU (and OS) can run
 * them; AUTO, GENERIC and REFERENCE always give 1.  Thread-safe. */
int nn_isa_supported(nn_isa isa);

/* The ISA that AUTO resolves to on this CPU.  Thread-safe. */
nn_isa nn_isa_best(void);

/* Compile `net` (finalised) for batches of up to max_batch samples per
 * nn_plan_run call, with the ISA named by STAMPVET_ISA (or the best one).
 * Returns NULL with err set when net is not finalised, max_batch is not in
 * 1..2^20, STAMPVET_ISA names an unknown or unsupported ISA, or memory runs
 * out.  Thread-safe (reads net only). */
nn_plan *nn_plan_new(const nn_net *net, int max_batch, sv_error *err);

/* The same with an explicit ISA (NN_ISA_AUTO: the best; the environment is
 * not read).  An ISA this CPU cannot run is an error (SV_ERR_UNSUPPORTED). */
nn_plan *nn_plan_new_isa(const nn_net *net, int max_batch, nn_isa isa, sv_error *err);

/* Options of nn_plan_new_flags (or-ed). */
#define NN_PLAN_NO_WINOGRAD 1u /* 3x3 stride-1 convolutions by direct kernels only */
#define NN_PLAN_ALL_THREADS 2u /* start every thread nn_plan_run is given that has
                                  stamps (or rows of one stamp) to run, however
                                  little work that is (for tests) */

/* nn_plan_new_isa with options; nn_plan_new_isa passes 0. */
nn_plan *nn_plan_new_flags(const nn_net *net, int max_batch, nn_isa isa, unsigned flags,
                           sv_error *err);

void nn_plan_free(nn_plan *p);

/* Inference over `batch` samples (1..max_batch).  inputs[i] points to
 * batch x (size of network input i) floats, sample-major, in the layout of
 * nn.h (one pointer per net input in net->inputs order); out receives
 * batch x nn_plan_out_size() floats, the network output in the same layout
 * as nn_forward's.  Up to threads (>= 1) workers share the batch, each
 * running whole stamps (or, for one stamp, pieces of its rows); more
 * threads than chunks of stamps, or than the work pays for (a thread for
 * every 8 MFLOP of the call; unless NN_PLAN_ALL_THREADS), are not started.
 * Returns 0, or a status with err set (bad arguments, out of memory, an
 * error of the reference engine).  The helper threads are the plan's
 * pool's (kept between runs); one that cannot be started leaves its share
 * to the others.  Not reentrant on the same plan. */
int nn_plan_run(nn_plan *p, int batch, const float *const *inputs, float *out, int threads,
                sv_error *err);

/* Join the plan's worker threads (the next run that needs them starts
 * them again): for callers that promise no thread between their calls. */
void nn_plan_release_threads(nn_plan *p);

/* The ISA the plan runs: "avx512", "avx2", "generic", or "reference" when
 * the network is not covered by the fast path (or REFERENCE was asked). */
const char *nn_plan_isa(const nn_plan *p);

/* Floats of one sample's output. */
size_t nn_plan_out_size(const nn_plan *p);

/* Floating-point operations of one sample's forward pass, counting a
 * multiply-add of Conv2D, DepthwiseConv2D, SeparableConv2D and Dense as 2
 * (the usual "FLOPs" of a CNN; pools and activations not counted).
 * Thread-safe. */
double nn_net_flops(const nn_net *net);
/* The same for layer i alone (0 for a layer without multiply-adds or an
 * index out of range). */
double nn_layer_flops(const nn_net *net, int i);

/* Profiling (stampvet bench --profile).  A chain plan runs nn_plan_steps(p)
 * steps (0 for a graph or reference plan); step i comes from layer
 * nn_plan_step_layer(p, i) of the net and is of kind nn_plan_step_kind(p, i):
 * "pad", "conv" (direct), "winograd", "depthwise", "pool", "act" or "dense".
 * After nn_plan_profile(p, t), t holding nn_plan_steps(p) doubles (NULL:
 * off, the default), every nn_plan_run adds the seconds step i takes to
 * t[i] (Dense steps: for the whole chunk of stamps), and runs on the
 * calling thread only.  Not thread-safe with nn_plan_run. */
int nn_plan_steps(const nn_plan *p);
int nn_plan_step_layer(const nn_plan *p, int i);
const char *nn_plan_step_kind(const nn_plan *p, int i);
void nn_plan_profile(nn_plan *p, double *t);

/* Measured FP32 throughput of one core with the FMA instructions of `isa`
 * (GENERIC: the portable vector multiply-add), in GFLOP/s: the best of
 * repeated register-resident FMA loops over about `seconds` (0.2 is plenty).
 * Returns 0 when the ISA is not supported here.  Thread-safe. */
double nn_isa_peak_gflops(nn_isa isa, double seconds);

#ifdef __cplusplus
}
#endif
#endif
