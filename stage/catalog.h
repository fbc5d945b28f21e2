/* catalog.h — the stage's output: the annotated detection table, its
 * provenance, and the FITS file it is written to.
 *
 * ---------------------------------------------------------------------------
 * THE OUTPUT FILE
 *
 * HDU 1, primary: no data; CREATOR and SVVERS.
 * HDU 2, BINTABLE EXTNAME = 'DETECTIONS', one row per input detection, in
 *   input order, nothing dropped:
 *   - every input column, first and in its input order, with its TFORM,
 *     TUNIT, and the other cards describing it (TDIMn, TNULLn, TSCALn,
 *     TZEROn, TDISPn ...): the row bytes of the input are copied as stored;
 *     other non-structural cards of the input header are kept too;
 *   - then the stage's own columns:
 *       <rb_column>  E   real/bogus score P(real), NaN when not scored
 *                        (default name "rb", parameter rb_column)
 *       REAL         L   score >= rb_threshold (F when not scored)
 *       P_<CLASS>    E   one per class of the class model, named after the
 *                        class in upper case (P_TRANSIENT, P_VARIABLE ...),
 *                        NaN when not scored  [only with a class model]
 *       CLASS        nA  the most probable class ('' when not scored)
 *                        [only with a class model]
 *       FLAGS        J   stamp-quality bitmask (stamps.h; documented in the
 *                        header as FLAG1 = 'EDGE', FLAG2 = 'BADFRAC', ...:
 *                        the keyword's number is the bit's value)
 *       BADFRAC      E   fraction of NaN/inf/masked values in the in-image
 *                        part of the stamps (NaN off the image)
 *       XPIX, YPIX   D   the position the stamps were cut at, 1-based FITS
 *                        pixels (from x/y, or from ra/dec through the WCS)
 *       SCI, REF, DIFF  (S*S)E, TDIM = '(S,S)'   [save_stamps = columns]
 *                        the raw stamps, NaN outside the image
 *   - header: provenance cards (sv_provenance: SVVERS, DIAABI, RBMODEL,
 *     RBMVERS, RBMCKSUM, CLMODEL ..., thresholds, input file names, DATE),
 *     the FLAGn cards, CHECKSUM and DATASUM.
 * HDU 3, BINTABLE EXTNAME = 'STAMPS' [save_stamps = extension]: the
 *   labelled-stamps layout of stamp_table.h (unlabelled), one row per input
 *   detection in the same order: ID, SCI, REF, DIFF, LABEL (-1), LABELNAM
 *   (''), X, Y (1-based), FLAGS; SVFORMAT = 'stampvet-stamps', SVFMTVER,
 *   STAMPSZ, CHANNELS, NCLASS = 0, SURVEY, BAND, PIXSCALE, BUNIT.  A team
 *   labels these rows and trains on the file as it is.
 * Every HDU carries CHECKSUM and DATASUM.
 *
 * The file is written atomically: into a temporary file in the output's
 * folder, renamed over the output by sv_catalog_commit only when complete.
 * A failure (or sv_catalog_abort) leaves no partial file, and an existing
 * output is replaced only by a complete one.  The output path is taken
 * literally (no cfitsio extended syntax).
 *
 * Thread safety: an sv_catalog is used by one thread at a time; distinct
 * catalogs may be written concurrently.  The other functions are
 * reentrant.
 */
#ifndef SV_CATALOG_H
#define SV_CATALOG_H

#include <stdint.h>

#include "detections.h"
#include "model.h"
#include "sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- provenance ---------------------------------------------------------- */

#define SV_PROV_MAX 96
#define SV_PROV_VALUE_MAX 512

typedef struct sv_prov_card {
    char key[9];          /* FITS keyword, upper case                         */
    char type;            /* 's' string, 'd' real, 'i' integer, 'l' logical  */
    char value[SV_PROV_VALUE_MAX]; /* as text ('T'/'F' for logicals)          */
    char comment[48];
} sv_prov_card;

typedef struct sv_provenance {
    int n;
    sv_prov_card card[SV_PROV_MAX];
} sv_provenance;

/* Add (or replace, same key) a card.  Strings are cut to
 * SV_PROV_VALUE_MAX-1 characters (longer than 68 they are written with the
 * CONTINUE long-string convention) and non-printable characters become
 * '?'.  Return 0, or SV_ERR_ARG when full
 * or the key is not 1..8 characters of A-Z 0-9 - _. */
int sv_prov_str(sv_provenance *p, const char *key, const char *value, const char *comment);
int sv_prov_dbl(sv_provenance *p, const char *key, double value, const char *comment);
int sv_prov_int(sv_provenance *p, const char *key, long long value, const char *comment);
int sv_prov_bool(sv_provenance *p, const char *key, int value, const char *comment);
/* The value of key, or NULL. */
const char *sv_prov_get(const sv_provenance *p, const char *key);

/* ---- the stage's own columns --------------------------------------------- */

typedef enum sv_stamp_save {
    SV_SAVE_NONE = 0,
    SV_SAVE_COLUMNS = 1,
    SV_SAVE_EXTENSION = 2
} sv_stamp_save;

typedef struct sv_out_schema {
    char rb_col[SV_COLNAME_MAX];
    int n_classes;                                   /* 0: no class model */
    char class_col[SV_MAX_CLASSES][SV_COLNAME_MAX];  /* P_<CLASS>         */
    char class_name[SV_MAX_CLASSES][SV_LABEL_MAX];
    int label_width;                                 /* CLASS width, >= 1 */
    sv_stamp_save stamps;
    int stamp_size;                                  /* S                 */
    /* STAMPS extension header */
    char survey[32], band[16], bunit[16];
    double pixscale;                                 /* arcsec/pixel, 0   */
    /* light-curve model (lc_stage.h): LC_P_<CLASS>..., LC_CLASS, LC_FLAGS
     * after every other own column; n_lc 0 without one */
    int n_lc;
    char lc_col[SV_MAX_CLASSES][SV_COLNAME_MAX];
    char lc_name[SV_MAX_CLASSES][SV_LABEL_MAX];
    int lc_label_width;
} sv_out_schema;

/* Build the schema: rb column name (1..68 characters, letters, digits,
 * '_'), the class columns of class_model (may be NULL), the stamp mode
 * and size.  Returns 0 or SV_ERR_ARG naming the bad name (two classes that
 * give the same column name included). */
int sv_out_schema_make(const char *rb_col, const sv_model *class_model, sv_stamp_save stamps,
                       int stamp_size, sv_out_schema *s, sv_error *err);

/* Append the light-curve model's columns (lc_stage.h) to a schema made by
 * sv_out_schema_make.  Returns 0 or SV_ERR_ARG (a column name clash). */
int sv_out_schema_add_lc(sv_out_schema *s, const sv_model *lc_model, sv_error *err);

/* Names of the stage's own columns, in output order: count and i-th. */
int sv_out_schema_ncols(const sv_out_schema *s);
const char *sv_out_schema_colname(const sv_out_schema *s, int i);

/* An input column whose name (case-insensitive) equals one of the stage's
 * own is an error: returns SV_ERR_SHAPE naming it and the table (and
 * suggesting rb_column when it is the score's), else 0. */
int sv_out_schema_check_clash(const sv_out_schema *s, const sv_col_source *in,
                              sv_error *err);

/* The stage's results for n consecutive detections (struct of arrays). */
typedef struct sv_results {
    int n;
    float *rb;           /* n                                   */
    uint8_t *real;       /* n: 1 real, 0 not (or not scored)     */
    float *prob;         /* n * n_classes, row-major, or NULL    */
    int16_t *label;      /* n: class index, -1 not scored; NULL without classes */
    int32_t *flags;      /* n                                   */
    float *badfrac;      /* n                                   */
    double *xpix, *ypix; /* n, 1-based FITS pixels (NaN unknown) */
    int64_t *id;         /* n: identifier (id column or row number) */
    float *stamp[3];     /* n * S * S each, or NULL             */
    float *lc_prob;      /* n * n_lc light-curve probabilities, or NULL */
    int16_t *lc_label;   /* n: light-curve class, -1 none; NULL without */
    int32_t *lc_flags;   /* n: lc_stage.h LC_FLAGS; NULL without         */
} sv_results;

/* ---- the FITS file --------------------------------------------------------- */

typedef struct sv_catalog sv_catalog;

/* Start writing `path` for nrows detections whose input table is
 * described by `in` (its columns come first) and whose own columns are
 * `out`; `prov` goes into the DETECTIONS header.  Returns 0 with *cat set,
 * or a status with err naming the path: SV_ERR_IO (folder not writable,
 * disk full), SV_ERR_ARG. */
int sv_catalog_open(const char *path, const sv_det_schema *in, const sv_out_schema *out,
                    int64_t nrows, const sv_provenance *prov, sv_catalog **cat, sv_error *err);

/* Write rows row0 .. row0+r->n-1: the input rows' raw bytes (r->n *
 * in->rowbytes, as sv_det_file_read_raw gives them) and the results.
 * Returns 0 or SV_ERR_IO; after a failure only sv_catalog_abort is left. */
int sv_catalog_write(sv_catalog *cat, int64_t row0, const unsigned char *raw,
                     const sv_results *r, sv_error *err);

/* Add a card to the DETECTIONS header (e.g. counts known at the end). */
int sv_catalog_add_prov(sv_catalog *cat, const sv_provenance *prov, sv_error *err);

/* Checksums, close, rename over the destination.  Always frees cat.
 * Returns 0, or SV_ERR_IO with nothing left at the destination's place
 * (an existing file untouched). */
int sv_catalog_commit(sv_catalog *cat, sv_error *err);

/* Drop the temporary file, free cat.  NULL is allowed. */
void sv_catalog_abort(sv_catalog *cat);

#ifdef __cplusplus
}
#endif
#endif
