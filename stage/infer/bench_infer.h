/* bench_infer.h — inference throughput measurements for `stampvet bench`
 * and bench/peers.sh.
 *
 * The benchmark network is ZTF's braai (VGG6, 38.1 MFLOP per 63x63x3 stamp)
 * built in code with deterministic random weights, plus any model file the
 * caller loads.  Throughput is stamps per second through the inference fast
 * path (nn_plan), the median of several timed runs of about `seconds` each,
 * on random stamps; the share of peak divides the FLOP rate by the FP32
 * peak measured on this machine (nn_isa_peak_gflops) times the threads.
 *
 * Thread safety: every function is reentrant; they spend CPU time, so run
 * them alone for meaningful figures.
 */
#ifndef SV_BENCH_INFER_H
#define SV_BENCH_INFER_H

#include <stdint.h>
#include <stdio.h>

#include "nn/nn.h"
#include "nn/fast/nn_plan.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* braai for an h x w x 3 stamp with one sigmoid output, finalised, Glorot
 * kernels and small random biases drawn from `seed`.  NULL with err set on
 * failure.  Free with nn_net_free. */
nn_net *sv_bench_braai(int h, int w, uint64_t seed, sv_error *err);

typedef struct sv_bench_result {
    double median;     /* stamps/s                                        */
    double lo, hi;     /* slowest and fastest run                         */
    int runs;
    const char *isa;   /* the plan's ISA                                  */
} sv_bench_result;

/* Time nn_plan_run(batch, threads) of a plan for `net` with the given ISA:
 * one warm-up, then `runs` runs of about `seconds` each.  Returns 0 and
 * fills *r, or a status with err set. */
int sv_bench_measure(const nn_net *net, nn_isa isa, int threads, int batch, int runs,
                     double seconds, sv_bench_result *r, sv_error *err);

/* Where the time of one stamp goes: `net` on the fast path with the given
 * ISA, one thread, calls of `batch` stamps for about `seconds`, each step
 * timed (nn_plan_profile).  Prints to out, per layer that has steps: the
 * steps' kinds, milliseconds per stamp, nominal MFLOP per stamp (direct
 * convolution count, nn_layer_flops), GFLOP/s, the share of `peak` (one
 * core's FP32 GFLOP/s; 0: no share printed) and of the stamp's time; then
 * the total.  Returns 0, or a status with err set (SV_ERR_UNSUPPORTED for
 * a network whose plan has no steps: a graph, or the reference engine). */
int sv_bench_profile(const nn_net *net, nn_isa isa, int batch, double seconds, double peak,
                     FILE *out, sv_error *err);

/* The files bench/export_onnx.py and bench/ort_bench.js read, in dir (which
 * must exist): braai.weights.f32 (the net's parameters, float32
 * little-endian, in layer order, each kernel then its bias, Keras shapes),
 * check_input.f32 (n_check stamps, channels-last) and check_output.f32
 * (the reference engine's scores for them).  Returns 0 or a status with
 * err naming the file. */
int sv_bench_dump(const nn_net *net, const char *dir, int n_check, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
