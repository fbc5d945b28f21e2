/* stage.h — the stage's orchestration: one exposure's detections in,
 * annotated detections out (the work behind dia_stage.h's process() and
 * process_files()).
 *
 * Lifecycle: sv_stage_create(cfg) loads and checks the models (real/bogus,
 * and optionally class), compiles each model's network once into an
 * inference plan (score.h, nn_plan.h: one plan per model per instance,
 * sized for `batch` stamps) and prepares one cutting scratch per thread;
 * sv_stage_process() / sv_stage_process_files() run any number of
 * exposures; sv_stage_free().
 *
 * Processing, per exposure:
 *   1. the same-grid check of science, reference and difference (sizes, and
 *      the WCS where present: stamps.h sv_grid_check); a missing or broken
 *      WCS is reported through the host log and is an error only when the
 *      positions must come from ra/dec or resampling needs a pixel scale;
 *   2. positions of the detections (detections.h), in chunks of rows, and
 *      their signs when negative detections are shown positive
 *      (diff_positive: a sign column such as ztf's isdiffpos; an
 *      unreadable sign is flagged BADSIGN and taken as positive);
 *   3. for each batch of `batch` detections that have a stamp (taken in
 *      strips of image rows, so that neighbouring stamps come from the
 *      caches), two phases in turn:
 *        a. cut: the stamps are cut (stamps.h), a negative detection's
 *           DIFF stamp inverted (x -1, as ZTF's alert cutouts show it: see
 *           stamps.h "The sign of the difference"), flagged and
 *           preprocessed into the plans' input by `threads` threads;
 *        b. infer: the real/bogus and class plans run the batch, each with
 *           `threads` threads (nn_plan_run);
 *      the host's cancel flag is polled before every batch;
 *   4. the results: one row per input detection, in input order.
 * A stamp's scores do not depend on the batch it falls in, on `batch` or
 * on `threads`: on the fast path bit for bit (it runs whole stamps per
 * thread with a fixed summation order); a network it does not cover runs
 * on the reference engine, equal to float rounding.
 *
 * Threads.  An instance runs at most `threads` threads at any time: the
 * calling thread plus threads-1 POSIX threads started for each phase above
 * (and for reading the three images of the file path, min(threads, 3)),
 * all joined before the phase ends, except the network's: each scorer's
 * inference plan keeps its threads-1 workers (core/pool.h) across the
 * batches of a call and they are joined before sv_stage_process(_files)
 * returns; nothing runs between calls.  So two
 * instances in one process use threads_a + threads_b threads at most, and
 * a host that runs N instances side by side gives each threads = cores / N
 * to fill the machine without oversubscribing it (the default, threads =
 * 1, never oversubscribes).  The fast paths call no BLAS: the stamp
 * networks' (nn_plan.h) and the light-curve model's (lc_stage.h through
 * lc_infer.h: GRU, LSTM, TCN, masked or not).  Only a network neither
 * covers (a stamp network with a residual or two merges, ...) runs the
 * reference engine through OpenBLAS, whose own thread pool this library
 * leaves as the host set it (OPENBLAS_NUM_THREADS,
 * openblas_set_num_threads: `stampvet batch` sets it to 1).
 *
 * Memory: the file path streams the detection table in chunks of rows and
 * writes each chunk before reading the next, so its memory does not grow
 * with the number of detections; the in-memory path holds the host's table
 * and the result table (which copies the input columns), plus one chunk of
 * working buffers.  Besides: the plans and `threads` cutting scratches (a
 * few MB for braai at batch 64), and, after a file call, the three images'
 * pixel buffers, which the next file call reuses when its images are no
 * larger (an exposure is read into memory that is already mapped) and
 * sv_stage_free releases.
 *
 * The default real/bogus model, used when rb_model is empty, is ZTF's
 * production braai d6_m7 (models/braai-d6_m7.fits, imported from its public
 * Keras weights), looked up in the installed data folder only:
 * $(pkgdatadir)/models, where `make install` puts it, or the folder named by
 * the environment variable STAMPVET_MODELS when set (the test suite points
 * it at the source tree's models/).  The path used is in the output's
 * provenance (RBMFILE).  When the file is not there, sv_stage_create
 * fails with an error naming the path and saying that rb_model must be
 * given.
 *
 * Thread safety: one sv_stage is used by one thread at a time; distinct
 * stages run concurrently (they share only read-only data).  Nothing here
 * changes process-global state (no BLAS thread count, no signal handler,
 * no cfitsio or GSL error-handler changes).  The host's log callback is
 * called from the calling thread only.
 */
#ifndef SV_STAGE_H
#define SV_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "dia_stage.h"
#include "model/model.h"
#include "pipeline/stage_params.h"
#include "stampvet.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest `threads` of an instance (the parameter table's bound). */
#define SV_STAGE_THREADS_MAX 256

/* Rows read, cut and scored per chunk (in-memory and file paths). */
#define SV_STAGE_CHUNK 16384

/* Figures of the last process call. */
typedef struct sv_stage_stats {
    int64_t rows;            /* detections in = rows out                      */
    int64_t scored;          /* rows with a real/bogus score                 */
    int64_t flagged;         /* rows with any flag                           */
    int64_t edge, badfrac, masked, off_image, bad_coord, failed, badcentre,
        badsign;             /* per flag                                     */
    int64_t inverted;        /* stamps of negative detections whose DIFF was
                                inverted (diff_positive)                    */
    int64_t vetoed;          /* scored >= rb_threshold but kept from REAL by
                                veto_flags                                  */
    int threads;             /* most threads used by the cut phase           */
    /* wall-clock seconds, phases in turn (they sum to about t_total): */
    double t_read;           /* reading images and detections, positions
                                (WCS) (files), or checking the in-memory
                                exposure                                    */
    double t_cut;            /* cutting, flagging and preprocessing stamps
                                (normalisation, NaN fill, padding)          */
    double t_infer;          /* the networks (nn_plan_run) only             */
    double t_write;          /* writing the output (files) or building the
                                result table                                */
    double t_total;          /* the whole call                              */
} sv_stage_stats;

/* Create a stage from a parsed configuration.  host (may be NULL) gives
 * the log callback and cancel flag; the struct is copied.  Returns 0 with
 * *out set, or with *out NULL and err saying why:
 *   SV_ERR_ARG     the configuration is inconsistent: no rb_model and no
 *                  default model installed; a model whose stamp size or
 *                  channels differ from stamp_size / channels; a model of
 *                  the wrong task; resample without a model pixel scale;
 *                  an output column name clash between rb_column and the
 *                  class names;
 *   SV_ERR_IO / SV_ERR_FORMAT / SV_ERR_SHAPE  a model file that cannot be
 *                  read (model_fits.h's errors, naming the file);
 *   SV_ERR_NOMEM. */
int sv_stage_create(const sv_stage_config *cfg, const dia_host_services *host,
                    sv_stage **out, sv_error *err);

/* Public (stampvet.h): sv_stage, sv_stage_new (parse + sv_stage_create),
 * sv_stage_free, sv_stage_process (in memory, dia_stage.h's process()),
 * sv_stage_process_files (from files, process_files()), sv_stage_rb_model,
 * sv_stage_class_model. */

/* The figures of the last process call (zeroed before each). */
const sv_stage_stats *sv_stage_last_stats(const sv_stage *s);

/* The environment variable naming the folder of the default models
 * (default: the installed $(pkgdatadir)/models). */
#define SV_MODELS_ENV "STAMPVET_MODELS"

/* Find the shipped default real/bogus model: writes its path
 * ($STAMPVET_MODELS or $(pkgdatadir)/models, then /braai-d6_m7.fits) to buf
 * and returns 0 when it is readable, else SV_ERR_IO (buf = the path looked
 * at).  Reads the environment: thread-safe unless another thread changes
 * it. */
int sv_stage_default_model(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
