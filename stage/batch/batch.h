/* batch.h — run a night of exposures through any DIA stage.
 *
 * The batch engine takes a manifest (manifest.h) and runs every exposure
 * through a stage's process_files() (plugin_api/dia_stage.h), which writes
 * each output atomically.  It works with any stage: it opens it through
 * dia_host_open() (a name registered with dia_host_register_static, or a
 * module path) and uses nothing but the ABI.
 *
 * Workers.  options.workers threads, each with its own stage instance (the
 * ABI's thread contract: one instance per thread).  Exposures are handed
 * out dynamically: a worker that finishes takes the next one, so exposures
 * of different sizes balance.  When the stage declares a `threads`
 * parameter and the configuration does not set it, each instance gets
 * threads=1 (workers x stage threads should not exceed the cores).  An
 * exposure with per-exposure overrides runs on an instance created with the
 * merged configuration; each worker keeps its few most recent instances.
 *
 * Outputs.  Missing folders above an output are created (mkdir -p) before
 * the stage runs; a folder that cannot be made fails that exposure.
 *
 * Isolation.  A failed exposure (a corrupt file, a missing WCS, an output
 * that cannot be written, ...) is recorded with its status and the stage's
 * error text, and the others go on.
 *
 * Resume.  Unless options.force, an exposure is SKIPPED when its output
 * already exists and is complete with the same provenance:
 *   - every HDU carries CHECKSUM and DATASUM and both verify
 *     (fits_verify_chksum), so a truncated or altered file is redone;
 *   - a header card named options.hash_card (default "SVCFGHSH") equals the
 *     configuration hash of the exposure (sv_params_hash, params_hash.h): the
 *     stage records the hash of the configuration it ran with;
 *   - every model file in the configuration (a PATH parameter naming a FITS
 *     file whose primary header has a CHECKSUM card) has that CHECKSUM value
 *     recorded in a header card of the output, so a model file replaced at
 *     the same path makes the outputs out of date (a stampvet model file
 *     holds a digest of its weights in its primary header, so its primary
 *     CHECKSUM identifies the whole model: model_fits.h).
 * Otherwise the exposure is (re)done; the stage replaces the old output
 * only with a complete new one.
 *
 * After a stage reports success the output is checked the same way
 * (checksums, and one row per input detection: the first table of the
 * output has as many rows as the first table of the detection file); a
 * mismatch makes the exposure FAILED.  An output without the hash card is
 * accepted but cannot be recognised on a rerun: the engine logs a warning
 * once.
 *
 * Stale temporary files.  Before the first exposure, every output folder
 * of the manifest is cleaned of the temporary files that killed writers
 * left there (atomic_file.h: the pattern DIR/.svtmp-HOST-PID-N.NAME, from
 * this host, whose process is gone); each removal is logged.  Files of
 * other hosts are left to `stampvet clean --older-than`.
 *
 * Stopping.  When *options.cancel becomes non-zero (the CLI sets it from
 * SIGINT/SIGTERM with an atomic store, as dia_stage.h asks of a host's
 * cancel flag; the library installs no signal handler), no new exposure
 * is started; the same flag is the stage's host cancel flag, so a running
 * process_files() stops early and leaves no file.  Exposures not done are
 * CANCELLED in the results.
 *
 * Thread safety: one sv_batch is driven by one thread (the engine makes its
 * own workers); separate sv_batch objects are independent.
 */
#ifndef SV_BATCH_H
#define SV_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "dia_host.h"
#include "batch/manifest.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sv_batch_status {
    SV_BATCH_PENDING = 0,   /* not run (yet)                                  */
    SV_BATCH_OK = 1,        /* processed, output written and verified         */
    SV_BATCH_FAILED = 2,    /* processing failed; error says why              */
    SV_BATCH_SKIPPED = 3,   /* output already complete with same provenance   */
    SV_BATCH_CANCELLED = 4  /* stopped by the cancel flag before or during     */
} sv_batch_status;

/* "pending", "ok", "failed", "skipped", "cancelled". */
const char *sv_batch_status_name(sv_batch_status status);

#define SV_BATCH_ERROR_MAX 512

/* What happened to one exposure. */
typedef struct sv_batch_result {
    sv_batch_status status;
    int64_t detections;     /* rows in the output (ok/skipped), else -1       */
    /* read from the output table (ok/skipped; sv_batch_output_scores): */
    int64_t n_real;         /* rows with REAL true, -1 unknown               */
    int64_t n_flagged;      /* rows with FLAGS != 0, -1 unknown              */
    double median_score;    /* median finite real/bogus score, NaN unknown   */
    double seconds;         /* wall time spent on the exposure               */
    int rank;               /* MPI rank that ran it (0 without MPI)          */
    const char *error;      /* "" unless failed or cancelled; owned by the
                               batch, valid until sv_batch_close            */
} sv_batch_result;

/* Running totals, for progress reports. */
typedef struct sv_batch_tally {
    size_t total;           /* exposures selected for this run               */
    size_t done;            /* ok + failed + skipped + cancelled             */
    size_t ok, failed, skipped, cancelled;
    int64_t detections;     /* detections in exposures processed (ok)        */
    size_t processed;       /* exposures that were run (ok + failed)          */
    double elapsed;         /* seconds since the run started                 */
} sv_batch_tally;

/* Called after each exposure, serialised (never two at once), from a worker
 * thread or the MPI coordinator. */
typedef void (*sv_batch_progress_fn)(void *user, const sv_manifest_entry *entry,
                                     const sv_batch_result *result,
                                     const sv_batch_tally *tally);

typedef struct sv_batch_options {
    const char *stage;         /* registered name or module path            */
    const dia_kv *config;      /* base configuration of every instance       */
    size_t n_config;
    int workers;               /* worker threads, >= 1                      */
    int force;                 /* redo outputs that are complete            */
    const char *hash_card;     /* NULL: "SVCFGHSH"                          */
    const volatile int *cancel;/* stop flag (may be NULL)                   */
    sv_batch_progress_fn progress; /* may be NULL                            */
    void *progress_user;
    /* Messages from the stage and the engine (may be NULL); serialised. */
    void (*log)(void *user, dia_log_level level, const char *message);
    void *log_user;
    /* The host's command line, given to every instance as host_command
     * when the stage has that parameter and the configuration does not
     * set it (provenance; not part of the configuration hash).  May be
     * NULL. */
    const char *host_command;
} sv_batch_options;

typedef struct sv_batch sv_batch;

/* Prepare a run: open the stage, merge the base configuration with each
 * exposure's overrides and check every merged configuration against the
 * stage's parameter table (an error names the manifest line), compute the
 * configuration hashes, and create one instance with the base
 * configuration, so that a configuration the stage rejects (a missing model
 * file, ...) stops the run before it starts.  The manifest and options (and
 * what they point to) must outlive the sv_batch.  Returns 0 and sets *out,
 * or SV_ERR_ARG (configuration), SV_ERR_IO (stage not found), SV_ERR_NOMEM
 * with err set. */
int sv_batch_open(const sv_manifest *manifest, const sv_batch_options *options,
                  sv_batch **out, sv_error *err);

/* Select the deterministic share `index` (1-based) of `count`: manifest
 * entry i (0-based) belongs to share (i % count) + 1.  count 0 or 1 selects
 * everything (the default).  Returns 0, or SV_ERR_ARG when index is not in
 * 1..count. */
int sv_batch_select_shard(sv_batch *b, int index, int count, sv_error *err);

/* Run the selected exposures on the worker pool.  Returns 0 when the run
 * went through (individual exposures may still have failed: see the tally),
 * or a status when the engine itself could not run (threads, memory). */
int sv_batch_run(sv_batch *b, sv_error *err);

/* Results: the number of manifest entries, whether entry i is selected, and
 * its result (valid after a run). */
size_t sv_batch_count(const sv_batch *b);
int sv_batch_selected(const sv_batch *b, size_t i);
const sv_batch_result *sv_batch_get(const sv_batch *b, size_t i);
const sv_manifest_entry *sv_batch_entry(const sv_batch *b, size_t i);
sv_batch_tally sv_batch_get_tally(const sv_batch *b);

/* Write the summary of the selected exposures (batch_summary.h). */
int sv_batch_write_summary(const sv_batch *b, const char *path, sv_error *err);

/* Destroy the instances, close the stage, free everything.  NULL is fine. */
void sv_batch_close(sv_batch *b);


/* What an output table says of its detections: the first binary table
 * holding an RBCOL card (the stage's catalog, catalog.h) is read; *n_real
 * counts its rows whose REAL column is true, *n_flagged those whose flags
 * column (FLAGCOL, default FLAGS) is non-zero, *median the median of the
 * finite values of the score column RBCOL names (NaN when none).  Returns
 * 0, or -1 (with *n_real = *n_flagged = -1, *median = NaN) when the file
 * is not such a table (another stage's output, a damaged file).
 * Thread-safe (cfitsio's reentrant build). */
int sv_batch_output_scores(const char *path, int64_t *n_real, int64_t *n_flagged,
                           double *median);

/* Check an output for resume.  Returns
 *    1  when `path` exists, every HDU's CHECKSUM and DATASUM verify, the
 *       header card `hash_card` (NULL: not tested) equals `expected_hash`,
 *       and each of the n_models checksum strings is the value of some
 *       header card;
 *   -1  when the file is complete (checksums verify, it has a table) but
 *       the provenance is missing or different;
 *    0  when it is missing, incomplete or damaged.
 * `why` says what is missing or wrong when the answer is not 1; *rows (may
 * be NULL) gets the row count of its first table when not 0.  Opens the
 * file without cfitsio's extended name syntax.  Reentrant (cfitsio is built
 * thread-safe). */
int sv_batch_output_complete(const char *path, const char *hash_card,
                             const char *expected_hash, const char *const *models,
                             size_t n_models, int64_t *rows, char *why, size_t whylen);

/* ---- for batch_mpi.c: the worker pool with a pluggable work source ---- */

/* Report of one finished exposure handed to a work source (a fixed-size
 * record, so that MPI can send it as bytes). */
typedef struct sv_batch_report {
    uint64_t index;
    int32_t status;         /* sv_batch_status                               */
    int32_t rank;
    int64_t detections;
    int64_t n_real, n_flagged; /* -1 unknown (sv_batch_result)                */
    double median_score;       /* NaN unknown                                 */
    double seconds;
    char error[SV_BATCH_ERROR_MAX];
} sv_batch_report;

/* A work source.  fetch() is called with the pool's lock held, so calls are
 * serialised; `finished` (NULL on a worker's first call) is the exposure
 * the worker just did.  It stores the next index in *next and returns 1, or
 * returns 0 when the worker should stop.  The local source records results
 * with sv_batch_record_locked() and takes the next selected index. */
typedef int (*sv_batch_fetch_fn)(void *user, sv_batch *b, const sv_batch_report *finished,
                                 size_t *next);

/* Run the pool with a given work source (sv_batch_run uses the local one).
 * on_start (may be NULL) runs in the calling thread once the workers are
 * started and before they are joined (the MPI coordinator runs there). */
int sv_batch_run_pool(sv_batch *b, sv_batch_fetch_fn fetch, void *fetch_user,
                      void (*on_start)(void *user, sv_batch *b), void *start_user,
                      sv_error *err);

/* Lock and unlock the pool (for a coordinator thread that shares the work
 * source's state with the local workers). */
void sv_batch_lock(sv_batch *b);
void sv_batch_unlock(sv_batch *b);

/* Record a result (lock held): stores it, updates the tally and calls the
 * progress callback. */
void sv_batch_record_locked(sv_batch *b, const sv_batch_report *report);

/* The next selected, not yet handed out index (lock held); returns 0 when
 * none is left or the cancel flag is up.  The local work source. */
int sv_batch_take_locked(sv_batch *b, size_t *next);

/* The cancel flag's current value (0 when there is none). */
int sv_batch_cancelled(const sv_batch *b);

/* Mark every selected exposure still pending as cancelled (after a run that
 * was stopped). */
void sv_batch_mark_pending_cancelled(sv_batch *b);

#ifdef HAVE_MPI
#include <mpi.h>
/* Run the selected exposures over the ranks of `comm` (batch_mpi.c): every
 * rank calls it with the same manifest, options and selection.  Rank 0
 * hands out exposure indices as ranks ask for them and collects every
 * result; every rank works with its own options.workers threads (rank 0's
 * workers take indices directly, a coordinator thread serves the others).
 * After the call, rank 0's results (sv_batch_get) cover every exposure;
 * another rank's cover the exposures it ran (the rest stay pending).  Needs MPI initialised with at least
 * MPI_THREAD_SERIALIZED.  Returns 0 or a status with err set. */
int sv_batch_run_mpi(sv_batch *b, MPI_Comm comm, sv_error *err);
#endif

#ifdef __cplusplus
}
#endif
#endif
