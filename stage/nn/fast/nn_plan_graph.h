/* nn_plan_graph.h — internal to the inference fast path (nn_plan.c): a
 * network of several input branches that meet in one merge, run as fast
 * chains.
 *
 * Covered graphs (ACAI's shape: a stamp branch and a feature branch):
 *   - every network input starts a chain (each layer reading the one
 *     before it, none read by two layers; a chain may be the input alone);
 *   - the chains meet in one Concatenate (last axis) or Add layer, that
 *     reads exactly their ends;
 *   - after it, a chain to the network output (possibly empty).
 * Each chain is copied into a network of its own (its input, its layers,
 * their weights) and compiled by nn_plan_new_flags; a graph is covered only
 * when every chain is covered by the fast path (none runs the reference
 * engine).  A run takes the batch in slices of up to NN_GRAPH_SLICE
 * samples: every branch's plan over the slice, the merge per sample, the
 * tail's plan on the merged values.  Results equal nn_forward's to float
 * rounding, as the chains' do.
 *
 * Thread safety: as nn_plan.h (one graph run by one thread at a time; it
 * reads the net it was made from only while being made).
 */
#ifndef SV_NN_PLAN_GRAPH_H
#define SV_NN_PLAN_GRAPH_H

#include "nn/fast/nn_plan.h"

#define NN_GRAPH_SLICE 256 /* samples per pass through the branches */

typedef struct nn_graph nn_graph;

/* Compile `net` (finalised, several inputs or one merge) as a graph of
 * chains with the kernels of `isa` (not AUTO or REFERENCE) and plan
 * `flags`.  Returns 1 with *out set, 0 when the graph is not of the covered
 * shape or a chain is not covered (*why says what, for the caller's
 * fallback to the reference engine), or a negative status with err set
 * (memory). */
int nn_graph_new(const nn_net *net, int max_batch, nn_isa isa, unsigned flags, nn_graph **out,
                 const char **why, sv_error *err);

/* nn_plan_run's contract (arguments already checked by it). */
int nn_graph_run(nn_graph *g, int batch, const float *const *inputs, float *out, int threads,
                 sv_error *err);

/* The ISA name its chains run ("avx512", "avx2", "generic"). */
const char *nn_graph_isa(const nn_graph *g);

void nn_graph_free(nn_graph *g);
/* nn_plan_release_threads of every chain's plan (NULL is ignored). */
void nn_graph_release_threads(nn_graph *g);

#endif
