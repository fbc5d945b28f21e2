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
 *   - then the stage's own columns, as the output schema below lists
 *     them (names after the survey convention of the preset):
 *       <score>      E   real/bogus score P(real), NaN when not scored
 *                        (drb | reliability | rb; parameter rb_column)
 *       <score>version  nA  the model version (ztf: drbversion)
 *       REAL         L   score >= rb_threshold, not vetoed (F when not
 *                        scored)
 *       P_<CLASS>    E   one per class of the class model, named after the
 *                        class in upper case (P_TRANSIENT, P_VARIABLE ...),
 *                        NaN when not scored  [only with a class model]
 *       CLASS        nA  the most probable class ('' when not scored)
 *                        [only with a class model]
 *       FLAGS        J   (sextractor: SV_FLAGS) stamp-quality bitmask (stamps.h; documented in the
 *                        header as FLAG1 = 'EDGE', FLAG2 = 'BADFRAC', ...:
 *                        the keyword's number is the bit's value)
 *       BADFRAC      E   fraction of NaN/inf/masked values in the in-image
 *                        part of the stamps (NaN off the image)
 *       XPIX, YPIX   D   the position the stamps were cut at (from x/y, or
 *                        from ra/dec through the WCS), in the pixel origin
 *                        of the input's x/y (PIXORIG card: 1 FITS, 0 LSST)
 *       SCI, REF, DIFF  (S*S)E, TDIM = '(S,S)'   [save_stamps = columns]
 *                        the raw stamps, NaN outside the image
 *       LC_P_<CLASS>..., LC_CLASS, LC_FLAGS   [with a light-curve model]
 *     each described by the comment of its TTYPEn and a TCOMMn card (the
 *     schema's description: the origin of XPIX/YPIX is in it);
 *   - header: provenance cards (sv_provenance: SVVERS, DIAABI, RBMODEL,
 *     RBMVERS, RBMCKSUM, CLMODEL ..., thresholds, input file names, DATE),
 *     RBCOL and FLAGCOL (the score's and flags' column names) and PIXORIG
 *     (XPIX/YPIX's origin:
 *     sv_out_schema_prov),
 *     the FLAGn cards, CHECKSUM and DATASUM.
 * HDU 3, BINTABLE EXTNAME = 'STAMPS' [save_stamps = extension]: the
 *   labelled-stamps layout of stamp_table.h (unlabelled), one row per input
 *   detection in the same order: ID, SCI, REF, DIFF, LABEL (-1), LABELNAM
 *   (''), X, Y (1-based), FLAGS; SVFORMAT = 'stampvet-stamps', SVFMTVER,
 *   STAMPSZ, CHANNELS, NCLASS = 0, SURVEY, BAND, PIXSCALE, BUNIT.  A team
 *   labels these rows and trains on the file as it is.  With
 *   compress_stamps, the same table tile-compressed (the FITS tiled table
 *   convention, cfitsio's fits_compress_table: lossless, GZIP_2 for the
 *   float stamp columns; ZTABLE = T); stamp_table.h reads it back as it is,
 *   fpack/funpack and astropy read it too.  Until the commit the rows go to
 *   a second temporary file beside the output, compressed into it there.
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

#include <stddef.h>
#include <stdint.h>

#include "pipeline/detections.h"
#include "model/model.h"
#include "core/sv_error.h"

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
/* sv_prov_dbl keeps every digit of the double (the shortest text, of at
 * least 10 significant digits, that reads back as the same value: an
 * MJD-OBS to the last bit), and the file card shows that text. */
int sv_prov_dbl(sv_provenance *p, const char *key, double value, const char *comment);
int sv_prov_int(sv_provenance *p, const char *key, long long value, const char *comment);
int sv_prov_bool(sv_provenance *p, const char *key, int value, const char *comment);
/* The value of key, or NULL. */
const char *sv_prov_get(const sv_provenance *p, const char *key);
/* Add every card of q to p, in q's order (a key p has already: its card
 * is replaced where it stands).  Returns 0, or SV_ERR_ARG when p is full
 * (the cards that fit are added). */
int sv_prov_merge(sv_provenance *p, const sv_provenance *q);

/* ---- the stage's own columns: the one output schema ------------------------
 *
 * One table describes every column the stage adds, in output order: its
 * name (after the survey's convention of the detection preset), type,
 * elements per row, unit, description and, for positions, the pixel
 * origin.  The in-memory result table (dia_table, dia_stage.h's process())
 * and the FITS file (sv_catalog_*, process_files()) are both built from it,
 * so the two paths cannot disagree.
 *
 * The conventions per preset (detections.h; rb_column overrides the score
 * name, pixel_origin the origin):
 *   ztf          drb, drbversion (the model's version, sv_model_label), and
 *                positions in the input's origin, 1 (ZTF's xpos/ypos)
 *   lsst         reliability, positions 0-based (LSST's x/y)
 *   sextractor   rb, positions 1-based (X_IMAGE/Y_IMAGE), and the stamp
 *                flags as SV_FLAGS (SExtractor's own FLAGS stay the input's)
 *   generic      rb, positions 1-based
 * The version column exists when the preset has one and is named after the
 * score column (<score>version: drbversion, or drb_svversion after
 * rb_column = drb_sv).  XPIX/YPIX are always in the origin of the input's
 * x/y columns (a 0-based LSST x sits beside a 0-based XPIX, never a
 * 1-based one); the description of each says which. */

#define SV_OUT_MAX_COLS (2 * SV_MAX_CLASSES + 16)
#define SV_OUT_DESC_MAX 69      /* a FITS string value (TCOMMn) */

typedef enum sv_stamp_save {
    SV_SAVE_NONE = 0,
    SV_SAVE_COLUMNS = 1,
    SV_SAVE_EXTENSION = 2
} sv_stamp_save;

/* What an own column holds (which sv_results array fills it). */
typedef enum sv_out_kind {
    SV_OUT_SCORE,      /* rb: real/bogus score, NaN not scored          */
    SV_OUT_VERSION,    /* the model version, the same on every row       */
    SV_OUT_REAL,       /* real: score >= rb_threshold and not vetoed     */
    SV_OUT_PROB,       /* prob[., index]: P(class index)                 */
    SV_OUT_CLASS,      /* label: the most probable class's name          */
    SV_OUT_FLAGS,      /* flags                                          */
    SV_OUT_BADFRAC,    /* badfrac                                        */
    SV_OUT_XPIX,       /* xpix, in the schema's origin                   */
    SV_OUT_YPIX,       /* ypix                                           */
    SV_OUT_STAMP,      /* stamp[index]: SCI, REF, DIFF                   */
    SV_OUT_LC_PROB,    /* lc_prob[., index]                              */
    SV_OUT_LC_CLASS,   /* lc_label                                       */
    SV_OUT_LC_FLAGS    /* lc_flags                                       */
} sv_out_kind;

typedef struct sv_out_col {
    sv_out_kind kind;
    int index;                        /* class (PROB, LC_PROB), channel (STAMP) */
    char name[SV_COLNAME_MAX];
    dia_col_type type;                /* FLOAT32, FLOAT64, INT32, STRING, or
                                         UINT8 for a logical (FITS 'L')    */
    int repeat;                       /* elements per row: a string's width,
                                         S*S for a stamp (TDIM (S,S))      */
    char unit[16];
    char description[SV_OUT_DESC_MAX];
    int in_file_table;                /* 0: in a file, not a DETECTIONS
                                         column (save_stamps = extension:
                                         the STAMPS HDU holds the stamps) */
} sv_out_col;

/* The naming conventions of the output, from the preset (detections.h
 * sv_det_map) and the configuration. */
typedef struct sv_out_names {
    const char *score;          /* score column name                     */
    const char *version;        /* version column name; NULL or "": none */
    const char *model_version;  /* the version column's value            */
    int origin;                 /* pixel origin of XPIX/YPIX: 0 or 1     */
    const char *flags;          /* flags column name; NULL: "FLAGS"      */
} sv_out_names;

typedef struct sv_out_schema {
    int ncols;
    sv_out_col col[SV_OUT_MAX_COLS];
    int origin;                                      /* of XPIX/YPIX      */
    char model_version[64];                          /* the VERSION column */
    int n_classes;                                   /* 0: no class model */
    char class_name[SV_MAX_CLASSES][SV_LABEL_MAX];
    int n_lc;                                        /* light-curve classes */
    char lc_name[SV_MAX_CLASSES][SV_LABEL_MAX];
    sv_stamp_save stamps;
    int compress_stamps;                             /* STAMPS extension
                                                        tile-compressed   */
    int stamp_size;                                  /* S                 */
    /* STAMPS extension header */
    char survey[32], band[16], bunit[16];
    double pixscale;                                 /* arcsec/pixel, 0   */
} sv_out_schema;

/* Build the schema: the names of `names` (the score's 1..68 characters,
 * letters, digits, '_'), the class columns of class_model (may be NULL),
 * the stamp mode and size.  Returns 0 or SV_ERR_ARG naming the bad name
 * (two columns of the same name, e.g. two classes, included). */
int sv_out_schema_make(const sv_out_names *names, const sv_model *class_model,
                       sv_stamp_save stamps, int stamp_size, sv_out_schema *s, sv_error *err);

/* Append the light-curve model's columns (lc_stage.h: LC_P_<CLASS>...,
 * LC_CLASS, LC_FLAGS, after every other own column) to a schema made by
 * sv_out_schema_make.  Returns 0 or SV_ERR_ARG (a column name clash). */
int sv_out_schema_add_lc(sv_out_schema *s, const sv_model *lc_model, sv_error *err);

/* The stage's own columns, in output order: count, i-th, its name. */
int sv_out_schema_ncols(const sv_out_schema *s);
const sv_out_col *sv_out_schema_col(const sv_out_schema *s, int i);
const char *sv_out_schema_colname(const sv_out_schema *s, int i);

/* Add the schema's conventions to a provenance: RBCOL (the score column's
 * name), FLAGCOL (the flags column's) and PIXORIG (the origin of XPIX,
 * YPIX). */
void sv_out_schema_prov(const sv_out_schema *s, sv_provenance *p);

/* The FITS TFORM of a column ("1E", "1D", "1J", "1L", "9A", "3969E"). */
void sv_out_col_tform(const sv_out_col *c, char *tform, size_t len);

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
    double *xpix, *ypix; /* n, pixels in the schema's origin (NaN unknown) */
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
