/* stampvet.h — the public C API of libstampvet (installed as
 * <stampvet/stampvet.h>; `pkg-config --cflags --libs stampvet`).
 *
 * This header is the manual.  It is the one interface a host program or a
 * language binding (the Python package, python/) needs: load a model and
 * read its description, score stamp triplets (with named features for
 * multi-input models), and run the whole stage over an exposure held in
 * memory or on disk.  Everything else in the library is internal: libstampvet
 * is built with -fvisibility=hidden and exports only the functions marked
 * SV_API here, plus the host loader of dia_host.h.
 *
 * The stage's images, detection tables and result tables are the generic
 * stage ABI's (dia_stage.h, installed beside this header): a dia_exposure
 * of float images with their FITS header text and an optional mask, and
 * dia_table column tables.
 *
 * Conventions, as in WCSLIB: each function says what it is Given, what it
 * Returns through its arguments, its Function return value and its Thread
 * safety.  A function that can fail returns an int status (SV_OK = 0, or a
 * negative sv_status) and writes what went wrong, naming the file, column or
 * detection, into the caller's sv_error (which may be NULL).  Constructors
 * are `int f(..., T **out, sv_error *err)`: *out is NULL on failure.
 * Nothing here prints, exits, or changes process-global state.
 *
 * A minimal program:
 *
 *     #include <stampvet/stampvet.h>
 *     sv_error err;
 *     sv_model *m;
 *     sv_scorer *s;
 *     if (sv_model_load("braai-d6_m7.fits", &m, &err) ||
 *         sv_scorer_create(m, 64, 1, &s, &err)) {
 *         fprintf(stderr, "%s\n", err.text);
 *         return 1;
 *     }
 *     sv_triplet t = {{sci, ref, diff}, 63, 63};
 *     float p;
 *     if (sv_scorer_run(s, 1, &t, NULL, &p, NULL, &err)) ...
 *     sv_scorer_free(s);
 *     sv_model_free(m);
 */
#ifndef STAMPVET_H
#define STAMPVET_H

#include <stddef.h>
#include <stdint.h>

#include "dia_stage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The visibility of the public API (the library is built with
 * -fvisibility=hidden). */
#if defined(__GNUC__)
#define SV_API __attribute__((visibility("default")))
#else
#define SV_API
#endif

/* ---- errors ------------------------------------------------------------ */

#define SV_ERROR_TEXT_MAX 1024

/* Status codes returned by every function that can fail. */
enum sv_status {
    SV_OK = 0,
    SV_ERR_ARG = -1,         /* a caller passed something invalid          */
    SV_ERR_IO = -2,          /* a file could not be read or written        */
    SV_ERR_FORMAT = -3,      /* a file was read but its content is wrong   */
    SV_ERR_NOMEM = -4,       /* an allocation failed                       */
    SV_ERR_SHAPE = -5,       /* stamps, images or tables do not fit together */
    SV_ERR_UNSUPPORTED = -6, /* a valid request this build cannot serve    */
    SV_ERR_CANCELLED = -7,   /* the host asked to stop                     */
    SV_ERR_INTERNAL = -8     /* a bug: please report it                    */
};

/* The error record: the caller owns it (on the stack is fine) and passes it
 * to calls that can fail; they clear it on entry or set it on failure. */
typedef struct sv_error {
    int status;                     /* last status set, SV_OK when clear  */
    char text[SV_ERROR_TEXT_MAX];   /* human readable, "" when clear      */
} sv_error;

/* sv_status_name: a short name for a status.
 *   Given:    status  an sv_status (any int is accepted).
 *   Function return value: a static string ("I/O error", "format error",
 *             ..., "unknown status").
 *   Thread safety: reentrant. */
SV_API const char *sv_status_name(int status);

/* sv_version: the library's version.
 *   Function return value: a static string, e.g. "0.1.0".
 *   Thread safety: reentrant. */
SV_API const char *sv_version(void);

/* ---- models ------------------------------------------------------------ */

/* A loaded model: a network with its task, classes, input description,
 * preprocessing and provenance (opaque here). */
typedef struct sv_model sv_model;

/* sv_model_load: read a stampvet model file (FITS; `stampvet inspect`
 * describes one).
 *   Given:    path    the file.
 *   Returned: *out    the model, to be freed with sv_model_free; NULL on
 *                     failure.
 *             err     on failure, the reason naming the file.
 *   Function return value: SV_OK, SV_ERR_IO (cannot open), SV_ERR_FORMAT or
 *             SV_ERR_SHAPE (not a model file, damaged, inconsistent),
 *             SV_ERR_NOMEM, SV_ERR_ARG (NULL path or out).
 *   Thread safety: reentrant. */
SV_API int sv_model_load(const char *path, sv_model **out, sv_error *err);

/* sv_model_free: free a model and its network.  NULL is allowed.  No scorer
 * may still use it.  Thread safety: not on a model in use. */
SV_API void sv_model_free(sv_model *m);

/* The model's description.  Every accessor is Given a non-NULL loaded
 * model, returns strings owned by the model (valid until sv_model_free),
 * and is reentrant (reads only).
 *
 * sv_model_name       the model's name, e.g. "braai-d6_m7".
 * sv_model_version    its version text ("" when none).
 * sv_model_task       "realbogus" (one output, P(real)), "class" (one
 *                     probability per class) or "lightcurve".
 * sv_model_checksum   the FITS CHECKSUM of the file's primary HDU ("" when
 *                     the file has none): the model's identity in
 *                     provenance.
 * sv_model_path       the file it was read from.
 * sv_model_n_classes  the number of outputs per input (1 for realbogus);
 * sv_model_class      the name of output i (0 <= i < n_classes; NULL
 *                     outside), e.g. "real" or "SN".
 * sv_model_n_features, sv_model_feature
 *                     the named scalar features a multi-input model takes
 *                     besides the stamps, in the order sv_scorer_run wants
 *                     them (0 for a stamp-only model; NULL outside).
 * sv_model_input_shape
 *                     Returned: *height, *width, *channels of the network
 *                     input (each pointer may be NULL); a stamp model
 *                     accepts raw stamps of any size (see sv_scorer_run).
 *                     For a light-curve model, the sequence length, 1 and
 *                     the values per step.
 * sv_model_channel    the raw stamp feeding network channel i: 0 science,
 *                     1 reference, 2 difference (-1 outside 0..channels-1).
 * sv_model_stamp_size the size the stage cuts around a detection.
 * sv_model_n_provenance, sv_model_provenance
 *                     the model's provenance cards (creator, training data,
 *                     parent model, source file checksum ...): entry i's
 *                     key is returned in *key, the function returns its
 *                     value (NULL outside 0..n-1). */
SV_API const char *sv_model_name(const sv_model *m);
SV_API const char *sv_model_version(const sv_model *m);
SV_API const char *sv_model_task(const sv_model *m);
SV_API const char *sv_model_checksum(const sv_model *m);
SV_API const char *sv_model_path(const sv_model *m);
SV_API int sv_model_n_classes(const sv_model *m);
SV_API const char *sv_model_class(const sv_model *m, int i);
SV_API int sv_model_n_features(const sv_model *m);
SV_API const char *sv_model_feature(const sv_model *m, int i);
SV_API void sv_model_input_shape(const sv_model *m, int *height, int *width, int *channels);
SV_API int sv_model_channel(const sv_model *m, int i);
SV_API int sv_model_stamp_size(const sv_model *m);
SV_API int sv_model_n_provenance(const sv_model *m);
SV_API const char *sv_model_provenance(const sv_model *m, int i, const char **key);

/* ---- scoring stamp triplets ---------------------------------------------- */

/* One triplet of raw stamps as stored in the FITS cutouts (no flip): each
 * h x w floats, row-major with FITS NAXIS1 (x) fastest, NaN allowed.
 * chan[0] science, chan[1] reference, chan[2] difference; channels the
 * model does not use may be NULL. */
typedef struct sv_triplet {
    const float *chan[3];
    int h, w;
} sv_triplet;

/* A scorer: a model's network compiled for inference, with its buffers. */
typedef struct sv_scorer sv_scorer;

/* Largest `threads` of a scorer. */
#define SV_SCORER_THREADS_MAX 1024

/* sv_scorer_create: a scorer for a stamp model.
 *   Given:    m          a realbogus or class model; it must outlive the
 *                        scorer, unchanged (several scorers may share it).
 *             max_batch  triplets per network call (<= 0: 64).
 *             threads    threads per call, 1..SV_SCORER_THREADS_MAX: the
 *                        calling thread plus threads-1 workers the scorer
 *                        keeps (started by its first call, asleep between
 *                        calls after at most 0.1 ms of spinning, joined by
 *                        sv_scorer_free).
 *   Returned: *out       the scorer (sv_scorer_free), NULL on failure.
 *             err        on failure, why.
 *   Function return value: SV_OK; SV_ERR_ARG (not a stamp model, an
 *             argument out of range); SV_ERR_NOMEM.
 *   Thread safety: reentrant. */
SV_API int sv_scorer_create(const sv_model *m, int max_batch, int threads, sv_scorer **out,
                            sv_error *err);

/* sv_scorer_free: free a scorer.  NULL is allowed. */
SV_API void sv_scorer_free(sv_scorer *s);

/* sv_scorer_n_outputs: values per triplet in sv_scorer_run's output (1 for
 * realbogus, n_classes otherwise).  Reentrant. */
SV_API int sv_scorer_n_outputs(const sv_scorer *s);

/* sv_scorer_isa: the instruction set the scorer's compiled network runs on
 * ("avx512", "avx2", "generic", or "reference" for a network the fast path
 * does not cover).  Reentrant. */
SV_API const char *sv_scorer_isa(const sv_scorer *s);

/* sv_scorer_run: score n triplets.
 *   Given:    n         number of triplets (>= 0).
 *             t         n triplets, any sizes: each is preprocessed with the
 *                       model's own recipe (NaN fill, normalisation, then a
 *                       centre crop when larger than the network input or
 *                       end-padding when smaller, as ZTF pads edge stamps).
 *             features  n * sv_model_n_features floats, row per triplet in
 *                       the model's feature order; NULL for a model without
 *                       features.
 *   Returned: out       n * sv_scorer_n_outputs floats: P(real), or the
 *                       class probabilities in the model's class order.
 *             n_bad     if non-NULL, n counts of NaN/inf pixels filled.
 *             err       on failure, the (0-based) triplet that failed.
 *   Function return value: SV_OK; SV_ERR_SHAPE (a stamp of impossible
 *             size); SV_ERR_ARG (a channel or the features missing).
 *   A triplet's outputs depend neither on the batch it falls in nor on
 *   `threads` (bit for bit on the fast path).
 *   Thread safety: one thread at a time per scorer; distinct scorers run
 *   concurrently, even on one model. */
SV_API int sv_scorer_run(sv_scorer *s, int n, const sv_triplet *t, const float *features,
                         float *out, int *n_bad, sv_error *err);

/* ---- the stage: an exposure's detections in, annotated detections out ---- */

/* A stage instance: a real/bogus model (and optionally a class model and a
 * light-curve model) with the configuration that says how to cut, flag and
 * score the stamps of an exposure's detections. */
typedef struct sv_stage sv_stage;

/* sv_stage_param_table: the stage's parameters (key, type, default, range,
 * choices, help), the same table as the plug-in descriptor's and
 * `stampvet run --dump-config`.
 *   Returned: *n    the number of entries (n may be NULL).
 *   Function return value: a static table.
 *   Thread safety: reentrant. */
SV_API const dia_param_desc *sv_stage_param_table(int *n);

/* sv_stage_new: create a stage from key = value parameters.
 *   Given:    kv, n   the parameters (kv may be NULL when n is 0); keys not
 *                     given take their default, e.g. rb_model = the shipped
 *                     default real/bogus model.
 *             host    log callback and cancel flag (may be NULL; the struct
 *                     is copied, *host->user is not).
 *   Returned: *out    the stage (sv_stage_free), NULL on failure.
 *             err     on failure, the reason naming the key or file, e.g.
 *                     "unknown parameter 'thresh'".
 *   Function return value: SV_OK; SV_ERR_ARG (an unknown key, a value that
 *             does not parse or is out of range, an inconsistent
 *             configuration such as a model of the wrong task or a
 *             stamp_size the model cannot take); SV_ERR_IO, SV_ERR_FORMAT,
 *             SV_ERR_SHAPE (a model file that cannot be read, named);
 *             SV_ERR_NOMEM.
 *   Thread safety: reentrant. */
SV_API int sv_stage_new(const dia_kv *kv, size_t n, const dia_host_services *host,
                        sv_stage **out, sv_error *err);

/* sv_stage_free: free a stage and its last result table.  NULL is allowed. */
SV_API void sv_stage_free(sv_stage *s);

/* sv_stage_process: annotate the detections of one exposure held in memory.
 *   Given:    x       the exposure: science, reference and difference float
 *                     images on one grid (dia_image: data, width, height,
 *                     stride; FITS header text for the WCS, may be NULL when
 *                     positions are pixels), optional mask (non-zero bits
 *                     of mask_bits make a pixel bad), optional light-curve
 *                     histories.  Only read during the call.
 *             det     the detections: columns named per the configuration
 *                     (preset / col_x, col_y or col_ra, col_dec, ...).
 *   Returned: *results  a table owned by the stage, valid until the next
 *                     process call or sv_stage_free: one row per input
 *                     detection in input order, the input columns (copied),
 *                     then the stage's columns (rb, REAL, P_<CLASS>...,
 *                     CLASS, FLAGS, BADFRAC, XPIX, YPIX; with save_stamps
 *                     = columns the stamps as SCI, REF, DIFF array columns
 *                     of S*S floats, dims (S, S)), provenance
 *                     (models, checksums, thresholds) in meta.  NULL on
 *                     failure.
 *             err     on failure, the reason.
 *   Function return value: SV_OK; SV_ERR_ARG (a malformed exposure or
 *             table: NULL data, negative sizes, unnamed or duplicate
 *             columns); SV_ERR_SHAPE (images of different sizes or WCS;
 *             position columns missing or not numeric; sky positions
 *             without a WCS; an input column named like an output one);
 *             SV_ERR_CANCELLED; SV_ERR_NOMEM; SV_ERR_INTERNAL.
 *   A bad detection (off the image, NaN position, a masked stamp) is not a
 *   failure: it is flagged in its row.
 *   Threads: up to the stage's `threads`, all joined before returning.
 *   Thread safety: one thread at a time per stage; distinct stages run
 *   concurrently. */
SV_API int sv_stage_process(sv_stage *s, const dia_exposure *x, const dia_table *det,
                            const dia_table **results, sv_error *err);

/* sv_stage_process_files: the same from files (dia_file_job: the three
 * images, mask, detections as a FITS table), writing job->output atomically
 * (a FITS table).  Errors as sv_stage_process plus SV_ERR_IO / SV_ERR_FORMAT
 * for unreadable files, each named; on failure no output is left and an
 * existing one is untouched.  Thread safety: as sv_stage_process. */
SV_API int sv_stage_process_files(sv_stage *s, const dia_file_job *job, sv_error *err);

/* sv_stage_rb_model, sv_stage_class_model: the stage's loaded models
 * (the class model is NULL when none), owned by the stage.  Reentrant. */
SV_API const sv_model *sv_stage_rb_model(const sv_stage *s);
SV_API const sv_model *sv_stage_class_model(const sv_stage *s);

/* ---- alert packets: Avro alerts in, one scored row per alert out -------- */

/* An alert scorer: a stamp model's scorer and an Avro alert reader, with
 * the table of the alerts scored so far.  It scores the survey alert
 * packets brokers receive (ZTF alert schema 3.x, LSST / Rubin 7.x-9.x;
 * Avro container files with any number of alerts, or schemaless messages
 * with the writer's schema) exactly as `stampvet score --alerts` does
 * (doc/alerts.md): each alert's science, template and difference cutouts
 * as stored in the packet, with the model's own preprocessing. */
typedef struct sv_alert_scorer sv_alert_scorer;

/* sv_alerts_available: 1 when this build reads Avro alert packets (built
 * with libavro), else 0 (the functions below then fail with
 * SV_ERR_UNSUPPORTED).  Thread safety: reentrant. */
SV_API int sv_alerts_available(void);

/* sv_alert_scorer_create: a scorer for alert packets.
 *   Given:    m            a realbogus or class model; it must outlive the
 *                          scorer, unchanged.
 *             lc_model     NULL, or a light-curve model file: each alert's
 *                          history in the packet plus the alert itself is
 *                          classified too (columns lc_p_<class>, lc_class,
 *                          lc_flags).
 *             schema       NULL, or the writer's Avro schema (.avsc) for
 *                          schemaless messages.
 *             max_batch    alerts per network call (<= 0: 64).
 *             threads      threads per network call, 1..SV_SCORER_THREADS_MAX.
 *   Returned: *out         the scorer (sv_alert_scorer_free), NULL on
 *                          failure.
 *             err          on failure, the reason naming the file.
 *   Function return value: SV_OK; SV_ERR_ARG (not a stamp model, an
 *             argument out of range); SV_ERR_IO, SV_ERR_FORMAT (an
 *             unreadable schema or light-curve model, named);
 *             SV_ERR_UNSUPPORTED (built without Avro); SV_ERR_NOMEM.
 *   Thread safety: reentrant. */
SV_API int sv_alert_scorer_create(const sv_model *m, const char *lc_model, const char *schema,
                                  int max_batch, int threads, sv_alert_scorer **out,
                                  sv_error *err);

/* sv_alert_scorer_free: free a scorer and its table.  NULL is allowed. */
SV_API void sv_alert_scorer_free(sv_alert_scorer *s);

/* sv_alert_scorer_add_file, sv_alert_scorer_add_buffer: read every alert
 * of an Avro file, or of len bytes at buf (a container file's bytes or
 * one schemaless message, called name in messages), score them and add
 * one row per alert, in order, to the scorer's table.
 *   Given:    path / buf, len, name (name may be NULL: "(buffer)").
 *   Returned: err   on failure, the reason naming the source.
 *   Function return value: SV_OK when the source was read: every alert in
 *             it is a row, a damaged record, an alert without cutouts or
 *             with unreadable ones a flagged row (flags, error naming the
 *             source and the record).  Otherwise the source could not be
 *             read as a whole and it is one flagged row (UNDECODABLE, with
 *             the message), as `score --alerts` writes it: SV_ERR_IO
 *             (cannot open), SV_ERR_FORMAT (not Avro, a damaged header or
 *             schema, a schemaless message without a schema),
 *             SV_ERR_UNSUPPORTED (an Avro codec this libavro lacks, named);
 *             or SV_ERR_NOMEM / SV_ERR_INTERNAL (rows added unscored).
 *             The buffer is only read during the call.
 *   Thread safety: one thread at a time per scorer; distinct scorers run
 *             concurrently (their Avro decoding is serialised inside the
 *             library, their cutouts and networks are not). */
SV_API int sv_alert_scorer_add_file(sv_alert_scorer *s, const char *path, sv_error *err);
SV_API int sv_alert_scorer_add_buffer(sv_alert_scorer *s, const void *buf, size_t len,
                                      const char *name, sv_error *err);

/* sv_alert_scorer_table: the table of the alerts added so far.
 *   Returned: *table  owned by the scorer, valid until its next call: one
 *                     row per alert in input order, columns named as the
 *                     survey names them (ZTF: candid, objectId, drb,
 *                     drbversion, packet_drb, nprv; LSST: diaSourceId,
 *                     diaObjectId, reliability, reliabilityVersion,
 *                     packet_reliability, nPrvDiaSources; a class model:
 *                     p_<class> and class for the score; both surveys: id,
 *                     objectId, score, model, packet_score, nhist), then
 *                     flags, survey, source, record, error; the identifier
 *                     is INT64 with -1 for unknown, scores are FLOAT32 with
 *                     NaN for not scored, strings are as wide as their
 *                     longest value.  meta: SVVERS, MODEL, MODELVER,
 *                     MODELCK (the model's CHECKSUM), NALERTS, NFLAGGED,
 *                     NSCORED (and LCMODEL, LCMCK), FLAG<bit> = each
 *                     flag's name.  These are the columns
 *                     of `stampvet score --alerts`, value for value.
 *             err     on failure, why.
 *   Function return value: SV_OK; SV_ERR_NOMEM.
 *   Thread safety: as sv_alert_scorer_add_file. */
SV_API int sv_alert_scorer_table(sv_alert_scorer *s, const dia_table **table, sv_error *err);

/* sv_alert_scorer_clear: drop the rows scored so far (the model, reader
 * and its cached schemas stay).  Thread safety: as above. */
SV_API void sv_alert_scorer_clear(sv_alert_scorer *s);

#ifdef __cplusplus
}
#endif
#endif /* STAMPVET_H */
