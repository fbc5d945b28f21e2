/* dia_stage.h — a generic, versioned C ABI for difference-image (DIA)
 * pipeline stages.
 *
 * This header is the whole contract between a HOST (a survey pipeline, a
 * batch driver, a command-line tool) and a STAGE (a shared object that takes
 * the detections of one exposure and returns them annotated: a real/bogus
 * scorer, a classifier, a cross-matcher ...).  It names no particular stage;
 * any stage can implement it and any host can load any stage.
 *
 * ---------------------------------------------------------------------------
 * 1. Finding the stage
 *
 * A stage is a shared object that exports exactly one symbol:
 *
 *     const dia_stage_descriptor *dia_stage_entry(void);
 *
 * It returns a pointer to a static, immutable descriptor (never NULL, same
 * pointer on every call, callable from any thread).  Everything else is
 * reached through the descriptor's function pointers.  Build stages with
 * -fvisibility=hidden and (libtool) -module -avoid-version
 * -export-symbols-regex '^dia_stage_entry$'.
 *
 * Versioning: the descriptor starts with abi_major, abi_minor and
 * struct_size.  A host MUST reject a stage whose abi_major differs from its
 * DIA_ABI_MAJOR, and MUST reject a struct_size smaller than the size of the
 * descriptor it was compiled with.  A larger struct_size or abi_minor is a
 * newer stage of the same major: the host uses the fields it knows.  Minor
 * versions only ever append fields at the end of structs; every struct a
 * host passes in also starts with (or carries) struct_size so that a stage
 * can tell which fields a host filled.  dia_host.h does these checks.
 *
 * Version history (minor versions of major 1; each only appends fields):
 *   1.0  the first ABI.
 *   1.1  dia_file_job.overwrite (DIA_FILE_JOB_SIZE_1_0: a 1.0 job's size).
 *   1.2  dia_host_services.progress (DIA_HOST_SERVICES_SIZE_1_1: a 1.1
 *        host's size).  A stage reads only the struct_size bytes a host
 *        passed (a 1.1 host's services have no progress and get no
 *        progress calls); a host can tell from the descriptor's
 *        abi_minor < 2 that a stage will not call it.
 *
 * ---------------------------------------------------------------------------
 * 2. Lifecycle
 *
 *     desc = dia_stage_entry();
 *     desc->create(config, n_config, &services, &inst, errbuf, errlen);
 *     loop:  desc->process(inst, &exposure, &detections, &results);
 *            (or desc->process_files(inst, &files))
 *            ... the host reads *results ...
 *     desc->destroy(inst);
 *
 * create() parses and validates the configuration, loads what the stage
 * needs (models, calibrations) and returns an opaque instance.  process()
 * may be called any number of times.  destroy() frees everything; it accepts
 * NULL.
 *
 * ---------------------------------------------------------------------------
 * 3. Parameters
 *
 * A stage declares its parameters in a static table (descriptor->params):
 * {key, type, default, min, max, choices, help}.  The host passes the
 * configuration as key = value strings (dia_kv).  Keys not in the table,
 * values that do not parse as the type, numbers outside [min, max] and
 * choices not in the list are ERRORS (create fails, naming the key), never
 * ignored.  Keys not given take the default.  The same table prints a
 * stage's --help (dia_host_print_params in dia_host.h).
 *
 * ---------------------------------------------------------------------------
 * 4. Errors and logging
 *
 * Every call returns a dia_status.  On failure create() writes the reason to
 * the caller's buffer; every other call leaves it in the instance's
 * last-error text (descriptor->last_error), which says what failed and where
 * (file, HDU, column, detection).  A stage never calls abort() or exit(),
 * never writes to stdout or stderr, and logs only through the host's log
 * callback.  A bad detection (off the image, NaN coordinates, a stamp full
 * of masked pixels) is not a failure: it is flagged in its result row.  A
 * process() call that fails returns no result table and leaves no file.
 *
 * ---------------------------------------------------------------------------
 * 5. Threads
 *
 * - Separate instances may be used concurrently from different threads.
 * - One instance is used by one thread at a time (the host serialises calls
 *   on the same instance; it may move an instance between threads).
 * - dia_stage_entry() and last_error() of an instance not in use are always
 *   safe.
 * - A stage changes no process-global state: not the thread count of a BLAS
 *   library, not GSL's error handler, not signal handlers, not the locale,
 *   not the current directory.  Its worker threads, if any, come from its own
 *   parameters (conventionally a `threads` key) and end before process()
 *   returns.
 * - Because of that, a write beyond the process's file size limit (ulimit
 *   -f, RLIMIT_FSIZE) raises SIGXFSZ, whose default action kills the host.
 *   A host that wants such a write to fail with an error instead (EFBIG:
 *   the stage then reports DIA_ERR_IO naming the output and leaves no
 *   temporary file) ignores SIGXFSZ itself, as the stampvet command does.
 *
 * ---------------------------------------------------------------------------
 * 6. Ownership
 *
 * - Everything the host passes in (config strings, images, headers, tables,
 *   paths) is owned by the host and only read during the call; the stage
 *   keeps no pointer into it after the call returns.
 * - The result table returned by process() is owned by the instance.  It
 *   stays valid and unchanged until the next process()/process_files() or
 *   destroy() on that instance.  The host copies what it wants to keep.
 * - The descriptor and parameter table are static and live as long as the
 *   shared object is loaded.
 *
 * ---------------------------------------------------------------------------
 * 7. Masked and non-finite pixels
 *
 * What the surveys do.  ZTF's alert cutouts carry masked and bad pixels as
 * NaN, and its real/bogus network (braai) sees them as 0 after
 * numpy.nan_to_num: a masked pixel is a missing value, not a measurement.
 * LSST's pipelines keep the pixel values and flag: a mask plane per
 * condition, and on every source the pixelFlags of its footprint and of its
 * centre (base_PixelFlags_flag_badCenter, _saturatedCenter, ...), which
 * downstream filters use to drop or distrust it.
 *
 * The contract a stage follows:
 * - Into the network: a pixel that is masked (the host's mask has a bit of
 *   the stage's mask selection set) or NaN/infinite in any of the three
 *   images is a missing value, filled as the model's preprocessing fills
 *   NaN (ZTF: 0); it is never fed as the number underneath.
 * - Out of the network: a detection whose OWN pixel (the pixel containing
 *   its position) is masked, or is NaN/infinite in the science, reference
 *   or difference image, is flagged on its result row (as LSST's
 *   *Center pixel flags) and is NEVER labelled real by default, whatever
 *   its score: the score of a stamp with a hole at its centre is kept for
 *   inspection but does not count.  The host may opt out per flag through
 *   the stage's parameters.
 * stampvet: FLAGS bits MASKED (4) and BADCENTRE (64), the parameter
 * veto_flags (default 68: both) and the output card VETOFLAG; REAL is 0 on
 * a vetoed row and the summary log line counts them.
 *
 * ---------------------------------------------------------------------------
 * 8. Output columns: the survey's names, the input's pixel origin
 *
 * A stage names the columns it adds as the host's survey names them, so a
 * pipeline's next step reads them without a rename, and it says in every
 * column's description (dia_column.description; in a file, the TTYPEn
 * comment and a TCOMMn card) what the column is.  A pixel position it adds
 * is in the SAME origin as the input's positions (the coordinate of the
 * first pixel's centre: 1 in FITS, SExtractor and ZTF tables, 0 in
 * LSST's), and its description names that origin: a 1-based position
 * never sits beside a 0-based input x.  The stage's configuration selects
 * the convention (stampvet: the parameter `preset`).
 *
 * stampvet's columns (one output schema serves process() and
 * process_files(): the same names, types, units and descriptions), after
 * the input columns and in this order:
 *   score        float32   P(real), NaN when not scored: preset ztf `drb`,
 *                          lsst `reliability`, sextractor and generic `rb`
 *                          (parameter rb_column renames it)
 *   <score>version string  ztf only (`drbversion`): the real/bogus model's
 *                          version, the same on every row (= meta RBMVERS)
 *   REAL         uint8     1: score >= rb_threshold and no veto flag
 *   P_<CLASS>, CLASS       with a class model: probabilities, the label
 *   FLAGS        int32     stamp-quality bits (meta FLAGn names bit n)
 *   BADFRAC      float32   fraction of bad stamp values
 *   XPIX, YPIX   float64   where the stamps were cut, in the input x/y's
 *                          origin (ztf, sextractor, generic 1; lsst 0;
 *                          parameter pixel_origin), said in the
 *                          description and in meta PIXORIG
 *   SCI, REF, DIFF         with save_stamps: the raw stamps (S x S), DIFF
 *                          as the model saw it (a negative detection's
 *                          inverted under diff_positive; meta DIFFPOS)
 *   LC_P_<CLASS>, LC_CLASS, LC_FLAGS   with a light-curve model
 * meta names the score column (RBCOL) and carries the provenance: stage
 * and ABI version, each model's name, version, checksum and absolute path,
 * the configuration given (SVCONFIG, and its hash SVCFGHSH), the host's
 * command line when the host passes it (parameter host_command: SVCMD),
 * the science image's DATE-OBS, MJD-OBS (every digit of the double),
 * EXPTIME and FILTER, and, for process_files(), each input file's absolute
 * path and SHA-256.
 */
#ifndef DIA_STAGE_H
#define DIA_STAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DIA_ABI_MAJOR 1
#define DIA_ABI_MINOR 2
#define DIA_STAGE_ENTRY_SYMBOL "dia_stage_entry"

#if defined(__GNUC__)
#define DIA_EXPORT __attribute__((visibility("default")))
#else
#define DIA_EXPORT
#endif

/* ---- status ------------------------------------------------------------ */

typedef enum dia_status {
    DIA_OK = 0,
    DIA_ERR_ARGUMENT = 1,    /* NULL pointer, bad struct_size, bad table    */
    DIA_ERR_CONFIG = 2,      /* unknown key, bad value, out of range        */
    DIA_ERR_IO = 3,          /* a file could not be read or written         */
    DIA_ERR_FORMAT = 4,      /* a file or buffer has wrong content          */
    DIA_ERR_DATA = 5,        /* inputs do not fit together (image sizes,
                                WCS, missing columns)                       */
    DIA_ERR_NOMEM = 6,
    DIA_ERR_CANCELLED = 7,   /* the host's cancel flag was raised           */
    DIA_ERR_UNSUPPORTED = 8, /* valid but not available in this build       */
    DIA_ERR_INTERNAL = 9     /* a bug in the stage                          */
} dia_status;

/* ---- host services ----------------------------------------------------- */

typedef enum dia_log_level {
    DIA_LOG_ERROR = 0,
    DIA_LOG_WARNING = 1,
    DIA_LOG_INFO = 2,
    DIA_LOG_DEBUG = 3
} dia_log_level;

/* Passed to create(); the stage keeps a copy of the struct (not of *user).
 * Any member may be NULL.  log may be called from the thread that called
 * into the stage only (never from a stage-internal worker), so it needs no
 * locking on the host side beyond what the host itself requires.  The
 * cancel flag is polled between batches of detections; when *cancel becomes
 * non-zero, process() stops, discards its partial results and returns
 * DIA_ERR_CANCELLED.  The flag is shared between threads (a host's signal
 * handler or controller thread writes it while the stage reads it), so
 * both sides access it atomically: the stage with a relaxed atomic load
 * (__atomic_load_n(cancel, __ATOMIC_RELAXED)), the host with
 * __atomic_store_n (lock-free for int, so also from a signal handler); a
 * plain volatile read is a data race in C11 (ThreadSanitizer reports it). */
typedef struct dia_host_services {
    uint32_t struct_size;          /* sizeof(dia_host_services)             */
    void *user;                    /* handed back to log() and progress()   */
    void (*log)(void *user, dia_log_level level, const char *message);
    const volatile int *cancel;    /* may be NULL                           */
    /* ABI 1.2.  Progress of one process()/process_files() call: called
     * from the thread that called into the stage (as log) after each batch
     * of rows is done, with rows_done strictly increasing and the last call
     * of a successful call having rows_done == rows_total (the number of
     * input detections; one call with 0, 0 for an empty table).  A call
     * that fails or is cancelled stops calling it.  May be NULL. */
    void (*progress)(void *user, int64_t rows_done, int64_t rows_total);
} dia_host_services;

/* The size of an ABI 1.1 dia_host_services (without `progress`). */
#define DIA_HOST_SERVICES_SIZE_1_1 (offsetof(dia_host_services, progress))

/* ---- parameters -------------------------------------------------------- */

typedef enum dia_param_type {
    DIA_PARAM_BOOL = 0,   /* "0"/"1", "true"/"false", "yes"/"no"             */
    DIA_PARAM_INT = 1,    /* decimal integer within [min, max]               */
    DIA_PARAM_REAL = 2,   /* floating point within [min, max]               */
    DIA_PARAM_STRING = 3, /* free text                                       */
    DIA_PARAM_PATH = 4,   /* a file name (may be "" when optional)          */
    DIA_PARAM_CHOICE = 5  /* one of `choices` ("a|b|c")                      */
} dia_param_type;

typedef struct dia_param_desc {
    const char *key;            /* lower-case, [a-z0-9_]                     */
    dia_param_type type;
    const char *default_value;  /* as text, valid for the type               */
    double min, max;            /* INT and REAL only                         */
    const char *choices;        /* CHOICE only: "a|b|c"                      */
    const char *help;           /* one sentence                              */
} dia_param_desc;

typedef struct dia_kv {
    const char *key;
    const char *value;
} dia_kv;

/* ---- images and exposures ---------------------------------------------- */

/* A 2-D float image in FITS order: pixel (x, y), 0-based in memory, is
 * data[y * stride + x]; x runs along FITS NAXIS1.  NaN marks no data.
 * header is the FITS header text (80-character cards, concatenated, no
 * separators, as fits_hdr2str gives it; may be NULL) from which the stage
 * reads the WCS. */
typedef struct dia_image {
    const float *data;
    int32_t width;          /* NAXIS1                                       */
    int32_t height;         /* NAXIS2                                       */
    int64_t stride;         /* floats between rows; 0 means width           */
    const char *header;     /* FITS header cards, may be NULL              */
    int32_t header_ncards;  /* number of 80-char cards in header           */
} dia_image;

/* The exposure: science, reference and difference images on one pixel grid
 * (same width, height and WCS), an optional mask, and metadata.
 * mask (may be NULL): same size as the images, row pitch mask_stride (0 =
 * width), non-zero = bad pixel (bit meanings are the host's).  How masked
 * pixels enter the network and their detections' labels: section 7. */
typedef struct dia_exposure {
    uint32_t struct_size;        /* sizeof(dia_exposure)                    */
    const char *exposure_id;     /* host's identifier, may be NULL          */
    const char *band;            /* e.g. "g", "r", "i'"; may be NULL        */
    double mjd;                  /* mid-exposure MJD, NaN if unknown        */
    const char *survey;          /* e.g. "ZTF", "ILMT"; may be NULL          */
    dia_image science;
    dia_image reference;
    dia_image difference;
    const uint32_t *mask;
    int64_t mask_stride;
    /* optional per-candidate histories (light curves) keyed by a column of
     * the detection table; NULL when the host has none.  Columns and key are
     * stage-specific and documented by the stage's parameters. */
    const struct dia_table *history;
} dia_exposure;

/* ---- column tables ----------------------------------------------------- */

typedef enum dia_col_type {
    DIA_COL_INT32 = 0,
    DIA_COL_INT64 = 1,
    DIA_COL_FLOAT32 = 2,
    DIA_COL_FLOAT64 = 3,
    DIA_COL_STRING = 4,     /* fixed width, `repeat` bytes, NUL-padded      */
    DIA_COL_UINT8 = 5,      /* bytes (booleans, small flags)               */
    DIA_COL_INT16 = 6
} dia_col_type;

/* A column: nrows * repeat elements of `type`, row-major (row r's elements
 * at r*repeat .. r*repeat+repeat-1).  repeat > 1 makes an array column
 * (e.g. a 63x63 stamp, with dims giving its shape, NAXIS1 first as in FITS
 * TDIM).  For DIA_COL_STRING, repeat is the width in bytes. */
typedef struct dia_column {
    const char *name;
    dia_col_type type;
    int32_t repeat;
    int32_t ndim;            /* 0 or 1: a vector; 2: an image (TDIM)        */
    int32_t dims[2];
    const char *unit;        /* may be NULL                                 */
    const char *description; /* may be NULL                                 */
    const void *data;
} dia_column;

/* A table of columns, all with the same number of rows.
 * meta: optional key/value provenance (written by stages as FITS header
 * cards: e.g. model names and checksums, thresholds; section 8). */
typedef struct dia_table {
    int64_t nrows;
    int32_t ncols;
    const dia_column *cols;
    int32_t nmeta;
    const dia_kv *meta;
} dia_table;

/* ---- file-based convenience call --------------------------------------- */

/* Paths of one exposure on disk, for process_files().  The stage reads the
 * images (FITS, compressed FITS, .gz as cfitsio reads them) and the
 * detections (a FITS BINTABLE, a FITS_LDAC catalogue's LDAC_OBJECTS, or a
 * CSV or ECSV table; what a file is goes by its content, not its name; a
 * file that is none of them is refused naming it), processes, and writes `output` atomically (a
 * temporary file in the same folder, then rename): on failure no output
 * file is left and an existing one is untouched.  mask may be NULL.
 *
 * Outputs never replace inputs.  A stage MUST refuse (DIA_ERR_ARGUMENT,
 * before reading anything) an output that is one of the job's input files
 * or any other file it reads (a model, a history table): the same path, or
 * the same file through a symbolic or hard link (device and inode).  An
 * output that already exists is replaced only when `overwrite` is non-zero
 * (ABI 1.1; a host of ABI 1.0 passes a smaller struct_size and gets the
 * safe answer: an existing output is refused). */
typedef struct dia_file_job {
    uint32_t struct_size;        /* sizeof(dia_file_job)                    */
    const char *science;
    const char *reference;
    const char *difference;
    const char *detections;
    const char *mask;
    const char *output;
    const char *exposure_id;     /* may be NULL                             */
    /* ABI 1.1 */
    int32_t overwrite;           /* non-zero: replace an existing output    */
} dia_file_job;

/* The size of an ABI 1.0 dia_file_job (without `overwrite`). */
#define DIA_FILE_JOB_SIZE_1_0 (offsetof(dia_file_job, overwrite))

/* ---- the descriptor ---------------------------------------------------- */

typedef struct dia_instance dia_instance;   /* opaque, stage-defined        */

typedef struct dia_stage_descriptor {
    uint32_t abi_major;          /* DIA_ABI_MAJOR the stage was built with  */
    uint32_t abi_minor;          /* DIA_ABI_MINOR the stage was built with  */
    uint32_t struct_size;        /* sizeof(dia_stage_descriptor)            */

    const char *name;            /* short identifier, e.g. "stampvet"       */
    const char *version;         /* the stage's own version                */
    const char *description;     /* one paragraph                          */

    const dia_param_desc *params;
    int32_t n_params;

    /* Create an instance from n_config key=value pairs (config may be NULL
     * when n_config is 0).  services may be NULL.  On success *out is set and
     * DIA_OK returned.  On failure *out is NULL and errbuf (errlen bytes,
     * may be NULL/0) holds the reason, e.g. "unknown parameter 'thresh'".
     * Thread-safe. */
    dia_status (*create)(const dia_kv *config, size_t n_config,
                         const dia_host_services *services,
                         dia_instance **out, char *errbuf, size_t errlen);

    /* Free an instance and everything it owns, including its last result
     * table.  NULL is allowed. */
    void (*destroy)(dia_instance *inst);

    /* Annotate the detections of one exposure.  detections: the host's
     * table (its columns are named per the stage's configuration).  On
     * success *results points to a table owned by the instance with one row
     * per input detection, in input order, nothing dropped: the input
     * columns followed by the stage's own, plus provenance in meta.  Returns
     * DIA_OK, or a status with last_error set and *results NULL. */
    dia_status (*process)(dia_instance *inst, const dia_exposure *exposure,
                          const dia_table *detections,
                          const dia_table **results);

    /* The same from files on disk; writes job->output atomically. */
    dia_status (*process_files)(dia_instance *inst, const dia_file_job *job);

    /* The instance's last error text ("" after a success).  Valid until the
     * next call on the instance.  Never NULL for a non-NULL instance. */
    const char *(*last_error)(const dia_instance *inst);
} dia_stage_descriptor;

/* The one exported symbol of a stage module. */
typedef const dia_stage_descriptor *(*dia_stage_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* DIA_STAGE_H */
