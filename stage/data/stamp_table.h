/* stamp_table.h — the labelled-stamps FITS table: training data, the
 * stamps the stage saves, and what `stampvet simulate --stamps` writes.
 *
 * One FITS file, an empty primary HDU and one BINTABLE with EXTNAME =
 * 'STAMPS', one row per stamp triplet:
 *
 *   column    TFORM      meaning
 *   ID        K          the detection's identifier (candid, row number ...)
 *   SCI       (S*S)E     science stamp, TDIM = '(S,S)', row-major with FITS
 *   REF       (S*S)E     NAXIS1 (x) fastest exactly as in a FITS cutout; the
 *   DIFF      (S*S)E     detection sits on pixel (S/2, S/2) 0-based, i.e.
 *                        FITS pixel (S/2+1, S/2+1): 32,32 for S = 63
 *   LABEL     J          index into the class list (0-based), -1 unlabelled
 *   LABELNAM  16A        the class name of LABEL ('' when unlabelled)
 *  optional groups (meta.columns):
 *   SV_STAMP_COL_POS:   X, Y (D)    detection position in the exposure the
 *                                   stamp was cut from, 1-based FITS pixels
 *   SV_STAMP_COL_FLAGS: FLAGS (J)   the stage's stamp-quality bitmask
 *   SV_STAMP_COL_TRUTH: simulation truth
 *       TRUECLS  16A  physical class (transient, variable, asteroid, bogus)
 *       SUBTYPE  16A  what exactly (sn_host, agn, dipole, cosmic_ray ...)
 *       MAG      E    PSF magnitude measured on the difference (like ZTF
 *                     magpsf), from |flux|
 *       TRUEMAG  E    injected difference magnitude; for an artefact of a
 *                     star, that star's magnitude; NaN otherwise
 *       SNR      E    matched-filter S/N measured on the difference at the
 *                     detection; negative for a negative difference
 *       DX, DY   E    true source centre minus the centre pixel (pixels;
 *                     NaN when there is no single source)
 *       FWHMSCI  E    seeing of the science image (arcsec FWHM)
 *       FWHMREF  E    seeing of the reference image (arcsec FWHM)
 *
 * Header of the STAMPS HDU: SVFORMAT = 'stampvet-stamps', SVFMTVER = 1,
 * STAMPSZ (S), CHANNELS = 'SCI,REF,DIFF', NCLASS and CLASS1..CLASSn (the
 * class list; NCLASS = 0 for an unlabelled table), SURVEY, BAND, PIXSCALE
 * (arcsec/pixel, 0 unknown), SEED (when known), BUNIT of the stamps, plus
 * any cards the writer's caller adds (provenance).  Both HDUs carry FITS
 * CHECKSUM/DATASUM.  Readers ignore columns and cards they do not know, so
 * a team may add its own.
 *
 * Labels: LABEL is authoritative.  A row with LABEL = -1 and a LABELNAM
 * naming a class takes that class (label by name); a LABELNAM that
 * contradicts LABEL, or names no class, is an error naming file and row.
 *
 * Writing is atomic: rows go to a temporary file in the destination folder
 * which is renamed over the destination only by sv_stamp_writer_finish; a
 * failure or sv_stamp_writer_abort leaves no partial file and an existing
 * file untouched.  Reading streams chunks of rows (a training set may be
 * larger than memory); a damaged file (truncated, wrong columns, bad TDIM,
 * bad checksum when asked to verify, labels out of range) gives an error
 * naming the file and what is wrong.
 *
 * Thread safety: a writer or reader is used by one thread at a time;
 * distinct objects may be used concurrently (cfitsio is built reentrant on
 * Debian).  Batches are plain memory.
 */
#ifndef SV_STAMP_TABLE_H
#define SV_STAMP_TABLE_H

#include <stdint.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_STAMP_NAME_LEN 16      /* LABELNAM, TRUECLS, SUBTYPE, class names */
#define SV_STAMP_MAX_CLASSES 64
#define SV_STAMP_MAX_SIZE 1024    /* largest stamp side accepted           */
#define SV_STAMP_FORMAT_VERSION 1

/* Optional column groups. */
enum {
    SV_STAMP_COL_POS = 1u << 0,
    SV_STAMP_COL_FLAGS = 1u << 1,
    SV_STAMP_COL_TRUTH = 1u << 2
};

/* Reader flags. */
enum { SV_STAMP_VERIFY_CHECKSUM = 1u << 0 };

typedef char sv_stamp_name[SV_STAMP_NAME_LEN + 1];

typedef struct sv_stamp_meta {
    int stamp_size;                               /* S                       */
    int n_class;                                  /* 0 = unlabelled          */
    sv_stamp_name class_name[SV_STAMP_MAX_CLASSES];
    char survey[32];                              /* "" = unknown            */
    char band[16];
    char bunit[16];                               /* "" = unknown ("adu")    */
    double pixscale;                              /* arcsec/pixel, 0 unknown */
    int has_seed;
    uint64_t seed;
    unsigned columns;                             /* SV_STAMP_COL_* present  */
} sv_stamp_meta;

/* Rows of stamps in memory, one array per column (struct of arrays).
 * Pixel arrays hold n * S * S floats, stamp i at offset i * S * S.  The
 * optional arrays are always allocated (so a batch can be reused for any
 * table of its stamp size); which of them are meaningful is meta.columns. */
typedef struct sv_stamp_batch {
    long capacity;     /* rows allocated                      */
    long n;            /* rows in use                         */
    int stamp_size;
    int64_t *id;
    float *sci, *ref, *diff;
    int32_t *label;
    sv_stamp_name *label_name;
    double *x, *y;
    int32_t *flags;
    sv_stamp_name *true_cls, *subtype;
    float *mag, *true_mag, *snr, *dx, *dy, *fwhm_sci, *fwhm_ref;
} sv_stamp_batch;

/* Fill meta with defaults: S = stamp_size, no classes, no optional
 * columns, bunit "adu", pixscale 0.  Reentrant. */
void sv_stamp_meta_init(sv_stamp_meta *meta, int stamp_size);

/* Set the class list from n names (each 1..16 printable characters, no
 * duplicates).  Returns 0 or SV_ERR_ARG.  Reentrant. */
int sv_stamp_meta_set_classes(sv_stamp_meta *meta, const char *const *names, int n,
                              sv_error *err);

/* Index of a class name in meta (exact match), -1 when absent. */
int sv_stamp_meta_class_index(const sv_stamp_meta *meta, const char *name);

/* Allocate a batch of capacity rows of S x S stamps, zeroed (labels -1,
 * optional floats NaN).  Returns 0, SV_ERR_ARG or SV_ERR_NOMEM.  Free with
 * sv_stamp_batch_free (safe on a zeroed or failed batch). */
int sv_stamp_batch_init(sv_stamp_batch *b, long capacity, int stamp_size, sv_error *err);
void sv_stamp_batch_free(sv_stamp_batch *b);

/* Reset row i to the empty state (id 0, zero pixels, label -1, names "",
 * optional floats NaN, flags 0).  0 <= i < capacity. */
void sv_stamp_batch_clear_row(sv_stamp_batch *b, long i);

/* ---- writing ---------------------------------------------------------- */

typedef struct sv_stamp_writer sv_stamp_writer;

/* Start a table at path (replaced atomically on finish).  meta is copied.
 * Returns NULL with err naming the path when the folder is not writable or
 * meta is invalid. */
sv_stamp_writer *sv_stamp_writer_create(const char *path, const sv_stamp_meta *meta,
                                        sv_error *err);

/* Add a provenance card to the STAMPS header (any time before finish).
 * key: 1..8 characters; comment may be NULL.  Returns 0 or a status. */
int sv_stamp_writer_key_str(sv_stamp_writer *w, const char *key, const char *value,
                            const char *comment, sv_error *err);
int sv_stamp_writer_key_dbl(sv_stamp_writer *w, const char *key, double value,
                            const char *comment, sv_error *err);
int sv_stamp_writer_key_lng(sv_stamp_writer *w, const char *key, long long value,
                            const char *comment, sv_error *err);

/* Append rows 0..b->n-1 of b (stamp size must match).  Labels are checked
 * against the class list (LABEL in -1..NCLASS-1; an empty LABELNAM is
 * filled from LABEL).  Returns 0 or a status; after a failure the writer
 * can only be aborted. */
int sv_stamp_writer_append(sv_stamp_writer *w, const sv_stamp_batch *b, sv_error *err);

/* Rows appended so far. */
long sv_stamp_writer_rows(const sv_stamp_writer *w);

/* Write checksums, close and rename over the destination.  Always frees
 * w; on failure nothing is left at the destination's place (an existing
 * file is untouched).  Returns 0 or a status. */
int sv_stamp_writer_finish(sv_stamp_writer *w, sv_error *err);

/* Drop the temporary file and free w (NULL is fine). */
void sv_stamp_writer_abort(sv_stamp_writer *w);

/* ---- reading ---------------------------------------------------------- */

typedef struct sv_stamp_reader sv_stamp_reader;

/* Open a labelled-stamps table (plain or gzipped FITS; the first BINTABLE
 * with EXTNAME 'STAMPS', or else the first BINTABLE with SCI/REF/DIFF
 * columns).  flags: SV_STAMP_VERIFY_CHECKSUM reads the whole table once to
 * verify DATASUM/CHECKSUM (when present).  Returns NULL with err naming the
 * file and the problem. */
sv_stamp_reader *sv_stamp_reader_open(const char *path, unsigned flags, sv_error *err);

/* The table's description (valid while the reader is open). */
const sv_stamp_meta *sv_stamp_reader_meta(const sv_stamp_reader *r);

/* Number of rows. */
long sv_stamp_reader_nrows(const sv_stamp_reader *r);

/* Read rows first .. first+n-1 (0-based; n is cut to the table's end and
 * to b->capacity) into b, which must have the table's stamp size.  Sets
 * b->n and returns the number of rows read (0 past the end), or a negative
 * status with err naming file and row. */
long sv_stamp_reader_read(sv_stamp_reader *r, long first, long n, sv_stamp_batch *b,
                          sv_error *err);

/* Streaming: read the next up-to-b->capacity rows after the last call
 * (starting at row 0).  Returns rows read, 0 at the end, or a negative
 * status. */
long sv_stamp_reader_next(sv_stamp_reader *r, sv_stamp_batch *b, sv_error *err);

/* Restart streaming at row (0-based). */
void sv_stamp_reader_rewind(sv_stamp_reader *r, long row);

void sv_stamp_reader_close(sv_stamp_reader *r);

#ifdef __cplusplus
}
#endif
#endif
