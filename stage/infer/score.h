/* score.h — scoring pre-cut stamp triplets with a model.
 *
 * This is how brokers receive ZTF cutouts: three small FITS images
 * (science, reference, difference), often gzipped, per candidate.  The
 * stamps are used as stored (no flip), preprocessed with the model's own
 * sv_preproc (NaN fill, normalisation, crop or end-padding, channel order),
 * and run through the network in batches.  A multi-input model also takes
 * one feature vector per triplet, in the order of the model's feature names
 * (feature_table.h builds it by name).
 *
 * Inference runs through the fast path (nn_plan.h): each scorer compiles
 * its model's network once into its own plan, sized for max_batch, and
 * runs every batch with the scorer's `threads` (the calling thread plus
 * threads-1 workers the plan keeps between calls: asleep after at most
 * 0.1 ms of spinning, joined by sv_scorer_free; no BLAS, no process-global
 * state).  A network the fast path
 * does not cover runs on the reference engine inside the plan.  A
 * triplet's outputs do not depend on the batch it is in, the batch size or
 * the number of threads (bit for bit on the fast path).
 *
 * Thread safety: an sv_scorer is used by one thread at a time (except
 * sv_scorer_prepare, see there); several scorers may share one model
 * (read-only) in as many threads.  Stamp files are read with fits/stamp_file.h.
 */
#ifndef SV_SCORE_H
#define SV_SCORE_H

#include "fits/stamp_file.h"
#include "model/model.h"
#include "stampvet.h"
#include "core/sv_error.h"

/* Public (stampvet.h): sv_triplet, sv_scorer, sv_scorer_create, _free,
 * _n_outputs, _isa, _run. */

#ifdef __cplusplus
extern "C" {
#endif

/* A scorer for model m (which must outlive it, unchanged), running up to
 * max_batch triplets per network call (max_batch <= 0: 64) with `threads`
 * threads (1..SV_SCORER_THREADS_MAX).  NULL with err set when the model is
 * not a stamp model, an argument is out of range, or memory is short. */
sv_scorer *sv_scorer_new_threads(const sv_model *m, int max_batch, int threads, sv_error *err);

/* sv_scorer_new_threads(m, max_batch, 1, err). */
sv_scorer *sv_scorer_new(const sv_model *m, int max_batch, sv_error *err);

/* The scorer's max_batch and threads. */
int sv_scorer_max_batch(const sv_scorer *s);
/* Join the scorer's network workers now (nn_plan_release_threads; the next
 * call starts them again): the stage does it before process() returns. */
void sv_scorer_release_threads(sv_scorer *s);
int sv_scorer_threads(const sv_scorer *s);

/* The two halves of sv_scorer_run, for callers that preprocess in parallel
 * (the stage, stage.h).
 *
 * sv_scorer_prepare preprocesses triplet t into the scorer's input slot
 * `slot` (0 .. max_batch-1), with its feature vector (m->n_features
 * floats; NULL for a model without features).  scratch: at least t->h *
 * t->w floats owned by the caller (one per thread).  n_bad, if non-NULL,
 * gets the count of NaN/inf pixels filled.  Returns 0, SV_ERR_SHAPE (stamp
 * size), or SV_ERR_ARG (slot out of range, a channel or the features
 * missing).  Thread-safe for DISTINCT slots of one scorer (it writes only
 * that slot), never concurrently with sv_scorer_infer / sv_scorer_run.
 *
 * sv_scorer_infer runs the network over slots 0 .. n-1 (1 <= n <=
 * max_batch), all prepared since the last call, with the scorer's threads:
 * out gets n * sv_scorer_n_outputs() floats.  Returns 0 or a status with
 * err set.  Not reentrant on one scorer. */
int sv_scorer_prepare(sv_scorer *s, int slot, const sv_triplet *t, const float *features,
                      float *scratch, int *n_bad);
int sv_scorer_infer(sv_scorer *s, int n, float *out, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
