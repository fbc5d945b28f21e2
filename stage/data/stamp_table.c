/* stamp_table.c — the labelled-stamps FITS table (see stamp_table.h).
 *
 * Rows are encoded and decoded here as raw big-endian bytes and moved with
 * fits_write_tblbytes / fits_read_tblbytes: one contiguous transfer per
 * chunk of rows instead of one strided pass per column.
 */
#include "data/stamp_table.h"
#include "fits/fits_dates.h"
#include "fits/fits_guard.h"

#include <ctype.h>
#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/byte_order.h"
#include "fits/fits_error.h"

/* ---- columns ------------------------------------------------------------ */

enum {
    C_ID, C_SCI, C_REF, C_DIFF, C_LABEL, C_LABELNAM,
    C_X, C_Y, C_FLAGS,
    C_TRUECLS, C_SUBTYPE, C_MAG, C_TRUEMAG, C_SNR, C_DX, C_DY, C_FWHMSCI, C_FWHMREF,
    C_N
};

typedef struct colspec {
    const char *name;
    char code;          /* TFORM letter written: K E J A D               */
    unsigned group;     /* 0 = always present, else SV_STAMP_COL_*         */
    const char *unit;   /* NULL: none; "@" = the stamps' BUNIT            */
    const char *help;
} colspec;

static const colspec cols[C_N] = {
    [C_ID] = {"ID", 'K', 0, NULL, "detection identifier"},
    [C_SCI] = {"SCI", 'E', 0, "@", "science stamp (S,S), NAXIS1 fastest"},
    [C_REF] = {"REF", 'E', 0, "@", "reference stamp (S,S)"},
    [C_DIFF] = {"DIFF", 'E', 0, "@", "difference stamp (S,S)"},
    [C_LABEL] = {"LABEL", 'J', 0, NULL, "class index (0-based) into CLASSn, -1 none"},
    [C_LABELNAM] = {"LABELNAM", 'A', 0, NULL, "class name of LABEL"},
    [C_X] = {"X", 'D', SV_STAMP_COL_POS, "pix", "detection x, 1-based FITS pixel"},
    [C_Y] = {"Y", 'D', SV_STAMP_COL_POS, "pix", "detection y, 1-based FITS pixel"},
    [C_FLAGS] = {"FLAGS", 'J', SV_STAMP_COL_FLAGS, NULL, "stamp quality bitmask"},
    [C_TRUECLS] = {"TRUECLS", 'A', SV_STAMP_COL_TRUTH, NULL, "true physical class"},
    [C_SUBTYPE] = {"SUBTYPE", 'A', SV_STAMP_COL_TRUTH, NULL, "true sub-type"},
    [C_MAG] = {"MAG", 'E', SV_STAMP_COL_TRUTH, "mag", "PSF mag measured on DIFF"},
    [C_TRUEMAG] = {"TRUEMAG", 'E', SV_STAMP_COL_TRUTH, "mag", "injected difference mag"},
    [C_SNR] = {"SNR", 'E', SV_STAMP_COL_TRUTH, NULL, "matched-filter S/N on DIFF (signed)"},
    [C_DX] = {"DX", 'E', SV_STAMP_COL_TRUTH, "pix", "true centre - centre pixel, x"},
    [C_DY] = {"DY", 'E', SV_STAMP_COL_TRUTH, "pix", "true centre - centre pixel, y"},
    [C_FWHMSCI] = {"FWHMSCI", 'E', SV_STAMP_COL_TRUTH, "arcsec", "science seeing FWHM"},
    [C_FWHMREF] = {"FWHMREF", 'E', SV_STAMP_COL_TRUTH, "arcsec", "reference seeing FWHM"},
};

static int is_pixel_col(int c) { return c == C_SCI || c == C_REF || c == C_DIFF; }

static void put_str(unsigned char *p, const char *s, int width)
{
    int n = (int)strnlen(s, (size_t)width);
    memcpy(p, s, (size_t)n);
    memset(p + n, 0, (size_t)(width - n)); /* NUL-padded: readers see no trailing blanks */
}

/* Copy a fixed-width FITS string, stopping at NUL, trimming trailing blanks.
 * Returns -1 when the content does not fit SV_STAMP_NAME_LEN. */
static int get_str(const unsigned char *p, int width, sv_stamp_name out)
{
    int n = 0;
    while (n < width && p[n])
        n++;
    while (n > 0 && p[n - 1] == ' ')
        n--;
    if (n > SV_STAMP_NAME_LEN)
        return -1;
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    return 0;
}

/* Copy src into dst (size bytes), truncating. */
static void copy_trunc(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- meta and batches --------------------------------------------------- */

void sv_stamp_meta_init(sv_stamp_meta *meta, int stamp_size)
{
    memset(meta, 0, sizeof *meta);
    meta->stamp_size = stamp_size;
    strcpy(meta->bunit, "adu");
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SV_STAMP_NAME_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isprint((unsigned char)s[i]) || s[i] == '\'')
            return 0;
    return s[n - 1] != ' ';
}

int sv_stamp_meta_set_classes(sv_stamp_meta *meta, const char *const *names, int n,
                              sv_error *err)
{
    if (n < 0 || n > SV_STAMP_MAX_CLASSES)
        return sv_error_set(err, SV_ERR_ARG, "stamp table: %d classes (0..%d allowed)", n,
                            SV_STAMP_MAX_CLASSES);
    for (int i = 0; i < n; i++) {
        if (!names[i] || !valid_name(names[i]))
            return sv_error_set(err, SV_ERR_ARG,
                                "stamp table: class %d name '%s' is not 1..%d printable "
                                "characters",
                                i + 1, names[i] ? names[i] : "(null)", SV_STAMP_NAME_LEN);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return sv_error_set(err, SV_ERR_ARG, "stamp table: class '%s' listed twice",
                                    names[i]);
    }
    meta->n_class = n;
    for (int i = 0; i < n; i++)
        snprintf(meta->class_name[i], sizeof meta->class_name[i], "%s", names[i]);
    return 0;
}

int sv_stamp_meta_class_index(const sv_stamp_meta *meta, const char *name)
{
    for (int i = 0; i < meta->n_class; i++)
        if (!strcmp(meta->class_name[i], name))
            return i;
    return -1;
}

void sv_stamp_batch_free(sv_stamp_batch *b)
{
    if (!b)
        return;
    free(b->id);
    free(b->sci);
    free(b->ref);
    free(b->diff);
    free(b->label);
    free(b->label_name);
    free(b->x);
    free(b->y);
    free(b->flags);
    free(b->true_cls);
    free(b->subtype);
    free(b->mag);
    free(b->true_mag);
    free(b->snr);
    free(b->dx);
    free(b->dy);
    free(b->fwhm_sci);
    free(b->fwhm_ref);
    memset(b, 0, sizeof *b);
}

void sv_stamp_batch_clear_row(sv_stamp_batch *b, long i)
{
    size_t np = (size_t)b->stamp_size * (size_t)b->stamp_size;
    b->id[i] = 0;
    memset(b->sci + i * np, 0, np * sizeof(float));
    memset(b->ref + i * np, 0, np * sizeof(float));
    memset(b->diff + i * np, 0, np * sizeof(float));
    b->label[i] = -1;
    b->label_name[i][0] = '\0';
    b->x[i] = b->y[i] = NAN;
    b->flags[i] = 0;
    b->true_cls[i][0] = b->subtype[i][0] = '\0';
    b->mag[i] = b->true_mag[i] = b->snr[i] = b->dx[i] = b->dy[i] = NAN;
    b->fwhm_sci[i] = b->fwhm_ref[i] = NAN;
}

int sv_stamp_batch_init(sv_stamp_batch *b, long capacity, int stamp_size, sv_error *err)
{
    memset(b, 0, sizeof *b);
    if (capacity <= 0 || stamp_size < 1 || stamp_size > SV_STAMP_MAX_SIZE)
        return sv_error_set(err, SV_ERR_ARG,
                            "stamp batch: capacity %ld and stamp size %d (1..%d) invalid",
                            capacity, stamp_size, SV_STAMP_MAX_SIZE);
    size_t n = (size_t)capacity, np = (size_t)stamp_size * (size_t)stamp_size;
    b->capacity = capacity;
    b->stamp_size = stamp_size;
    b->id = calloc(n, sizeof *b->id);
    b->sci = calloc(n * np, sizeof(float));
    b->ref = calloc(n * np, sizeof(float));
    b->diff = calloc(n * np, sizeof(float));
    b->label = calloc(n, sizeof *b->label);
    b->label_name = calloc(n, sizeof *b->label_name);
    b->x = calloc(n, sizeof *b->x);
    b->y = calloc(n, sizeof *b->y);
    b->flags = calloc(n, sizeof *b->flags);
    b->true_cls = calloc(n, sizeof *b->true_cls);
    b->subtype = calloc(n, sizeof *b->subtype);
    b->mag = calloc(n, sizeof(float));
    b->true_mag = calloc(n, sizeof(float));
    b->snr = calloc(n, sizeof(float));
    b->dx = calloc(n, sizeof(float));
    b->dy = calloc(n, sizeof(float));
    b->fwhm_sci = calloc(n, sizeof(float));
    b->fwhm_ref = calloc(n, sizeof(float));
    if (!b->id || !b->sci || !b->ref || !b->diff || !b->label || !b->label_name || !b->x ||
        !b->y || !b->flags || !b->true_cls || !b->subtype || !b->mag || !b->true_mag ||
        !b->snr || !b->dx || !b->dy || !b->fwhm_sci || !b->fwhm_ref) {
        sv_stamp_batch_free(b);
        return sv_error_set(err, SV_ERR_NOMEM, "stamp batch: no memory for %ld stamps of %dx%d",
                            capacity, stamp_size, stamp_size);
    }
    for (long i = 0; i < capacity; i++)
        sv_stamp_batch_clear_row(b, i);
    return 0;
}

/* ---- row layout --------------------------------------------------------- */

typedef struct layout {
    int present[C_N];
    int colnum[C_N];      /* 1-based FITS column number                       */
    long offset[C_N];     /* byte offset in the row                          */
    char code[C_N];       /* TFORM letter                                     */
    long repeat[C_N];
    long row_bytes;       /* NAXIS1                                           */
} layout;

static int code_size(char code)
{
    switch (code) {
    case 'L': case 'B': case 'A': return 1;
    case 'I': return 2;
    case 'J': case 'E': return 4;
    case 'K': case 'D': case 'C': case 'P': return 8;
    case 'M': case 'Q': return 16;
    default: return 0;
    }
}

static int str_width(int c) { (void)c; return SV_STAMP_NAME_LEN; }

/* Layout the writer uses for the columns present in meta. */
static void layout_for_writing(const sv_stamp_meta *meta, layout *L)
{
    memset(L, 0, sizeof *L);
    long off = 0;
    int num = 0;
    long np = (long)meta->stamp_size * meta->stamp_size;
    for (int c = 0; c < C_N; c++) {
        if (cols[c].group && !(meta->columns & cols[c].group))
            continue;
        L->present[c] = 1;
        L->colnum[c] = ++num;
        L->code[c] = cols[c].code;
        L->repeat[c] = is_pixel_col(c) ? np : cols[c].code == 'A' ? str_width(c) : 1;
        L->offset[c] = off;
        off += L->repeat[c] * code_size(cols[c].code);
    }
    L->row_bytes = off;
}

/* ---- writer -------------------------------------------------------------- */

struct sv_stamp_writer {
    fitsfile *f;
    char *path;
    sv_atomic_file af; /* the temporary file beside path (atomic_file.h) */
    sv_stamp_meta meta;
    layout L;
    long rows;
    unsigned char *buf;
    size_t buf_cap;
    int failed;
};

static int writer_fits_error(sv_stamp_writer *w, sv_error *err, int status, const char *what)
{
    char t[FLEN_STATUS];
    w->failed = 1;
    return sv_error_set(err, SV_ERR_IO, "%s: %s: %s (cfitsio %d)", w->path, what,
                        sv_fits_status_text(status, t), status);
}

static int meta_check(const sv_stamp_meta *meta, const char *path, sv_error *err)
{
    if (meta->stamp_size < 1 || meta->stamp_size > SV_STAMP_MAX_SIZE)
        return sv_error_set(err, SV_ERR_ARG, "%s: stamp size %d outside 1..%d", path,
                            meta->stamp_size, SV_STAMP_MAX_SIZE);
    if (meta->n_class < 0 || meta->n_class > SV_STAMP_MAX_CLASSES)
        return sv_error_set(err, SV_ERR_ARG, "%s: %d classes", path, meta->n_class);
    for (int i = 0; i < meta->n_class; i++)
        if (!valid_name(meta->class_name[i]))
            return sv_error_set(err, SV_ERR_ARG, "%s: class %d name '%s' invalid", path,
                                i + 1, meta->class_name[i]);
    return 0;
}

sv_stamp_writer *sv_stamp_writer_create(const char *path, const sv_stamp_meta *meta,
                                        sv_error *err)
{
    if (!path || !*path || !meta) {
        sv_error_set(err, SV_ERR_ARG, "stamp table: no output path or description");
        return NULL;
    }
    if (meta_check(meta, path, err))
        return NULL;
    sv_stamp_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        if (w) {
            free(w->path);
            free(w);
        }
        sv_error_set(err, SV_ERR_NOMEM, "%s: no memory", path);
        return NULL;
    }
    w->meta = *meta;
    layout_for_writing(meta, &w->L);

    /* A temporary name beside the destination (same file system, so that
     * the final rename is atomic; atomic_file.h). */
    if (sv_atomic_begin_name(&w->af, path, err)) {
        free(w->path);
        free(w);
        return NULL;
    }

    int st = 0;
    fits_create_diskfile(&w->f, w->af.tmp, &st);
    if (st) {
        char t[FLEN_STATUS];
        sv_error_set(err, SV_ERR_IO, "%s: cannot create %s: %s", path, w->af.tmp,
                     sv_fits_status_text(st, t));
        sv_atomic_abort(&w->af);
        free(w->path);
        free(w);
        return NULL;
    }
    fits_create_img(w->f, BYTE_IMG, 0, NULL, &st);
    fits_write_key_str(w->f, "SVFORMAT", "stampvet-stamps", "labelled stamp triplets", &st);
    fits_write_comment(w->f, "Stamp triplets are in the STAMPS binary table extension.", &st);

    const layout *L = &w->L;
    char *ttype[C_N], *tform[C_N], *tunit[C_N];
    char formbuf[C_N][24];
    int ncol = 0;
    for (int c = 0; c < C_N; c++) {
        if (!L->present[c])
            continue;
        ttype[ncol] = (char *)cols[c].name;
        snprintf(formbuf[ncol], sizeof formbuf[ncol], "%ld%c", L->repeat[c], L->code[c]);
        tform[ncol] = formbuf[ncol];
        tunit[ncol] = (char *)(!cols[c].unit ? "" : cols[c].unit[0] == '@' ? meta->bunit
                                                                             : cols[c].unit);
        ncol++;
    }
    fits_create_tbl(w->f, BINARY_TBL, 0, ncol, ttype, tform, tunit, "STAMPS", &st);
    long dims[2] = {meta->stamp_size, meta->stamp_size};
    for (int c = C_SCI; c <= C_DIFF; c++)
        fits_write_tdim(w->f, L->colnum[c], 2, dims, &st);
    for (int c = 0; c < C_N; c++) {
        if (!L->present[c])
            continue;
        char key[FLEN_KEYWORD];
        snprintf(key, sizeof key, "TTYPE%d", L->colnum[c]);
        fits_modify_comment(w->f, key, (char *)cols[c].help, &st);
    }
    fits_write_key_str(w->f, "SVFORMAT", "stampvet-stamps", "labelled stamp triplets", &st);
    int ver = SV_STAMP_FORMAT_VERSION;
    fits_write_key(w->f, TINT, "SVFMTVER", &ver, "version of this table layout", &st);
    int s = meta->stamp_size, cen = meta->stamp_size / 2 + 1;
    fits_write_key(w->f, TINT, "STAMPSZ", &s, "stamp side S (stamps are S x S)", &st);
    fits_write_key(w->f, TINT, "STMPCEN", &cen, "detection pixel, 1-based (x = y)", &st);
    fits_write_key_str(w->f, "CHANNELS", "SCI,REF,DIFF", "stamp columns", &st);
    if (meta->bunit[0])
        fits_write_key_str(w->f, "BUNIT", meta->bunit, "unit of the stamp pixels", &st);
    int nc = meta->n_class;
    fits_write_key(w->f, TINT, "NCLASS", &nc, "number of classes (0 = unlabelled)", &st);
    for (int i = 0; i < nc; i++) {
        char key[FLEN_KEYWORD], com[48];
        snprintf(key, sizeof key, "CLASS%d", i + 1);
        snprintf(com, sizeof com, "name of LABEL = %d", i);
        fits_write_key_str(w->f, key, meta->class_name[i], com, &st);
    }
    if (meta->survey[0])
        fits_write_key_str(w->f, "SURVEY", meta->survey, "survey the stamps come from", &st);
    if (meta->band[0])
        fits_write_key_str(w->f, "BAND", meta->band, "photometric band", &st);
    double ps = meta->pixscale;
    fits_write_key(w->f, TDOUBLE, "PIXSCALE", &ps, "[arcsec/pixel] 0 = unknown", &st);
    if (meta->has_seed) {
        LONGLONG seed = (LONGLONG)meta->seed;
        fits_write_key(w->f, TLONGLONG, "SEED", &seed, "random seed of the simulation", &st);
    }
    fits_write_comment(w->f, "Stamps are row-major with NAXIS1 (x) fastest, as FITS cutouts;", &st);
    fits_write_comment(w->f, "the detection is on pixel (STMPCEN, STMPCEN), 1-based.", &st);
    if (st) {
        writer_fits_error(w, err, st, "cannot write the table header");
        sv_stamp_writer_abort(w);
        return NULL;
    }
    return w;
}

static int writer_key_check(sv_stamp_writer *w, const char *key, sv_error *err)
{
    if (!w || w->failed)
        return sv_error_set(err, SV_ERR_ARG, "stamp table: writer unusable");
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > 8)
        return sv_error_set(err, SV_ERR_ARG, "%s: header key '%s' is not 1..8 characters",
                            w->path, key ? key : "");
    return 0;
}

int sv_stamp_writer_key_str(sv_stamp_writer *w, const char *key, const char *value,
                            const char *comment, sv_error *err)
{
    int st = 0;
    if (writer_key_check(w, key, err))
        return SV_ERR_ARG;
    fits_update_key_longstr(w->f, key, value ? value : "", comment, &st);
    return st ? writer_fits_error(w, err, st, key) : 0;
}

int sv_stamp_writer_key_dbl(sv_stamp_writer *w, const char *key, double value,
                            const char *comment, sv_error *err)
{
    int st = 0;
    if (writer_key_check(w, key, err))
        return SV_ERR_ARG;
    fits_update_key_dbl(w->f, key, value, -15, comment, &st);
    return st ? writer_fits_error(w, err, st, key) : 0;
}

int sv_stamp_writer_key_lng(sv_stamp_writer *w, const char *key, long long value,
                            const char *comment, sv_error *err)
{
    int st = 0;
    if (writer_key_check(w, key, err))
        return SV_ERR_ARG;
    LONGLONG v = value;
    fits_update_key(w->f, TLONGLONG, key, &v, comment, &st);
    return st ? writer_fits_error(w, err, st, key) : 0;
}

long sv_stamp_writer_rows(const sv_stamp_writer *w) { return w ? w->rows : 0; }

static void encode_row(const layout *L, const sv_stamp_batch *b, long i,
                       const sv_stamp_name label_name, unsigned char *row)
{
    size_t np = (size_t)b->stamp_size * (size_t)b->stamp_size;
    sv_be_put_u64(row + L->offset[C_ID], (uint64_t)b->id[i]);
    const float *pix[3] = {b->sci + i * np, b->ref + i * np, b->diff + i * np};
    for (int k = 0; k < 3; k++) {
        unsigned char *p = row + L->offset[C_SCI + k];
        for (size_t j = 0; j < np; j++)
            sv_be_put_f32(p + 4 * j, pix[k][j]);
    }
    sv_be_put_u32(row + L->offset[C_LABEL], (uint32_t)b->label[i]);
    put_str(row + L->offset[C_LABELNAM], label_name, SV_STAMP_NAME_LEN);
    if (L->present[C_X]) {
        sv_be_put_f64(row + L->offset[C_X], b->x[i]);
        sv_be_put_f64(row + L->offset[C_Y], b->y[i]);
    }
    if (L->present[C_FLAGS])
        sv_be_put_u32(row + L->offset[C_FLAGS], (uint32_t)b->flags[i]);
    if (L->present[C_TRUECLS]) {
        put_str(row + L->offset[C_TRUECLS], b->true_cls[i], SV_STAMP_NAME_LEN);
        put_str(row + L->offset[C_SUBTYPE], b->subtype[i], SV_STAMP_NAME_LEN);
        const float *v[] = {b->mag, b->true_mag, b->snr, b->dx, b->dy, b->fwhm_sci, b->fwhm_ref};
        for (int k = 0; k < 7; k++)
            sv_be_put_f32(row + L->offset[C_MAG + k], v[k][i]);
    }
}

int sv_stamp_writer_append(sv_stamp_writer *w, const sv_stamp_batch *b, sv_error *err)
{
    if (!w || w->failed)
        return sv_error_set(err, SV_ERR_ARG, "stamp table: writer unusable after an error");
    if (!b || b->n < 0 || b->n > b->capacity)
        return sv_error_set(err, SV_ERR_ARG, "%s: invalid batch", w->path);
    if (b->stamp_size != w->meta.stamp_size)
        return sv_error_set(err, SV_ERR_SHAPE, "%s: batch stamps are %dx%d, table wants %dx%d",
                            w->path, b->stamp_size, b->stamp_size, w->meta.stamp_size,
                            w->meta.stamp_size);
    if (b->n == 0)
        return 0;
    /* Check labels before touching the file. */
    for (long i = 0; i < b->n; i++) {
        int lab = b->label[i];
        if (lab < -1 || lab >= w->meta.n_class)
            return sv_error_set(err, SV_ERR_ARG,
                                "%s: row %ld: LABEL %d outside -1..%d (NCLASS = %d)", w->path,
                                w->rows + i + 1, lab, w->meta.n_class - 1, w->meta.n_class);
        if (lab >= 0 && b->label_name[i][0] &&
            strcmp(b->label_name[i], w->meta.class_name[lab]))
            return sv_error_set(err, SV_ERR_ARG, "%s: row %ld: LABELNAM '%s' but LABEL %d is '%s'",
                                w->path, w->rows + i + 1, b->label_name[i], lab,
                                w->meta.class_name[lab]);
    }
    const long chunk = 256;
    size_t need = (size_t)w->L.row_bytes * (size_t)(b->n < chunk ? b->n : chunk);
    if (need > w->buf_cap) {
        unsigned char *nb = realloc(w->buf, need);
        if (!nb)
            return sv_error_set(err, SV_ERR_NOMEM, "%s: no memory for the row buffer", w->path);
        w->buf = nb;
        w->buf_cap = need;
    }
    for (long first = 0; first < b->n; first += chunk) {
        long m = b->n - first < chunk ? b->n - first : chunk;
        for (long k = 0; k < m; k++) {
            long i = first + k;
            const char *name = b->label[i] >= 0 ? w->meta.class_name[b->label[i]] : "";
            encode_row(&w->L, b, i, name, w->buf + (size_t)k * (size_t)w->L.row_bytes);
        }
        int st = 0;
        fits_write_tblbytes(w->f, (LONGLONG)w->rows + 1, 1, (LONGLONG)m * w->L.row_bytes,
                            w->buf, &st);
        if (st)
            return writer_fits_error(w, err, st, "cannot write rows");
        w->rows += m;
    }
    return 0;
}

void sv_stamp_writer_abort(sv_stamp_writer *w)
{
    if (!w)
        return;
    if (w->f) {
        int st = 0;
        fits_close_file(w->f, &st);
    }
    sv_atomic_abort(&w->af);
    free(w->buf);
    free(w->path);
    free(w);
}

int sv_stamp_writer_finish(sv_stamp_writer *w, sv_error *err)
{
    if (!w)
        return sv_error_set(err, SV_ERR_ARG, "stamp table: no writer");
    if (w->failed) {
        sv_error_set(err, SV_ERR_IO, "%s: not written (an earlier error)", w->path);
        sv_stamp_writer_abort(w);
        return SV_ERR_IO;
    }
    int st = 0;
    LONGLONG nrows = w->rows;
    fits_update_key(w->f, TLONGLONG, "NSTAMPS", &nrows, "rows in this table", &st);
    sv_fits_write_chksum(w->f, &st);
    int hdutype;
    fits_movabs_hdu(w->f, 1, &hdutype, &st);
    sv_fits_write_chksum(w->f, &st);
    if (st) {
        writer_fits_error(w, err, st, "cannot finish the table");
        sv_stamp_writer_abort(w);
        return SV_ERR_IO;
    }
    fits_close_file(w->f, &st);
    w->f = NULL;
    if (st) {
        writer_fits_error(w, err, st, "cannot close the table");
        sv_stamp_writer_abort(w);
        return SV_ERR_IO;
    }
    if (sv_atomic_commit(&w->af, err)) { /* fsync, rename */
        sv_stamp_writer_abort(w);
        return SV_ERR_IO;
    }
    free(w->buf);
    free(w->path);
    free(w);
    return 0;
}

/* ---- reader -------------------------------------------------------------- */

struct sv_stamp_reader {
    fitsfile *f;
    char *path;
    sv_stamp_meta meta;
    layout L;
    long nrows;
    long next_row;
    unsigned char *buf;
    size_t buf_cap;
};

static int parse_tform(const char *s, long *repeat, char *code)
{
    while (*s == ' ')
        s++;
    long r = 1;
    if (isdigit((unsigned char)*s)) {
        char *end;
        r = strtol(s, &end, 10);
        s = end;
    }
    if (!isalpha((unsigned char)*s))
        return -1;
    *repeat = r;
    *code = (char)toupper((unsigned char)*s);
    return 0;
}

static long col_bytes(long repeat, char code)
{
    if (code == 'X')
        return (repeat + 7) / 8;
    if (code == 'P' || code == 'Q')
        return repeat ? code_size(code) : 0;
    return repeat * code_size(code);
}

static int reader_fail(sv_stamp_reader *r, sv_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int reader_fail(sv_stamp_reader *r, sv_error *err, int status, const char *fmt, ...)
{
    char msg[SV_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sv_error_set(err, status, "%s: %s", r->path, msg);
}

/* Move to the STAMPS table: EXTNAME = STAMPS, else the first binary table
 * with SCI, REF and DIFF columns. */
static int reader_find_hdu(sv_stamp_reader *r, sv_error *err)
{
    int st = 0, nhdu = 0, type;
    fits_get_num_hdus(r->f, &nhdu, &st);
    if (st) {
        char t[FLEN_STATUS];
        return reader_fail(r, err, SV_ERR_FORMAT, "not a readable FITS file: %s",
                           sv_fits_status_text(st, t));
    }
    int fallback = 0;
    for (int h = 2; h <= nhdu; h++) {
        st = 0;
        if (fits_movabs_hdu(r->f, h, &type, &st) || type != BINARY_TBL)
            continue;
        char extname[FLEN_VALUE] = "";
        int s2 = 0;
        fits_read_key_str(r->f, "EXTNAME", extname, NULL, &s2);
        if (!s2 && !strcasecmp(extname, "STAMPS"))
            return 0;
        if (!fallback) {
            int c1, c2, c3, s3 = 0;
            fits_get_colnum(r->f, CASEINSEN, "SCI", &c1, &s3);
            fits_get_colnum(r->f, CASEINSEN, "REF", &c2, &s3);
            fits_get_colnum(r->f, CASEINSEN, "DIFF", &c3, &s3);
            if (!s3)
                fallback = h;
        }
    }
    if (fallback) {
        st = 0;
        fits_movabs_hdu(r->f, fallback, &type, &st);
        return 0;
    }
    return reader_fail(r, err, SV_ERR_FORMAT,
                       "no STAMPS binary table (nor a table with SCI, REF, DIFF columns) "
                       "among its %d HDUs",
                       nhdu);
}

/* A tile-compressed STAMPS table (ZTABLE = T: the FITS tiled table
 * convention, run's compress_stamps): check its checksums when asked, then
 * read on from an uncompressed copy in memory.  *compressed is set to 1
 * when it was one. */
static int reader_uncompress(sv_stamp_reader *r, int verify, int *compressed, sv_error *err)
{
    int st = 0, ztable = 0;
    *compressed = 0;
    if (fits_read_key(r->f, TLOGICAL, "ZTABLE", &ztable, NULL, &st) || !ztable)
        return 0;
    *compressed = 1;
    if (verify) {
        int dataok = 0, hduok = 0;
        fits_verify_chksum(r->f, &dataok, &hduok, &st);
        if (st || dataok < 0 || hduok < 0)
            return reader_fail(r, err, SV_ERR_FORMAT, "checksum mismatch: the compressed "
                               "STAMPS %s is damaged", dataok < 0 ? "data" : "header");
    }
    fitsfile *m = NULL;
    fits_create_file(&m, "mem://", &st);
    fits_create_img(m, BYTE_IMG, 0, NULL, &st);
    fits_uncompress_table(r->f, m, &st);
    if (st) {
        char t[FLEN_STATUS];
        if (m)
            fits_close_file(m, &(int){0});
        return reader_fail(r, err, SV_ERR_FORMAT, "cannot uncompress the tile-compressed "
                           "STAMPS table: %s", sv_fits_status_text(st, t));
    }
    fits_close_file(r->f, &(int){0});
    r->f = m;
    return 0;
}

static int reader_layout(sv_stamp_reader *r, sv_error *err)
{
    int st = 0, ncols = 0;
    LONGLONG naxis1 = 0, naxis2 = 0;
    layout *L = &r->L;
    memset(L, 0, sizeof *L);
    fits_get_num_cols(r->f, &ncols, &st);
    fits_read_key(r->f, TLONGLONG, "NAXIS1", &naxis1, NULL, &st);
    fits_read_key(r->f, TLONGLONG, "NAXIS2", &naxis2, NULL, &st);
    if (st || naxis1 <= 0 || naxis2 < 0) {
        char t[FLEN_STATUS];
        return reader_fail(r, err, SV_ERR_FORMAT, "STAMPS table header unreadable: %s",
                           st ? sv_fits_status_text(st, t) : "bad NAXIS1/NAXIS2");
    }
    long off = 0;
    for (int n = 1; n <= ncols; n++) {
        char key[FLEN_KEYWORD], tform[FLEN_VALUE] = "", ttype[FLEN_VALUE] = "";
        long repeat;
        char code;
        snprintf(key, sizeof key, "TFORM%d", n);
        fits_read_key_str(r->f, key, tform, NULL, &st);
        snprintf(key, sizeof key, "TTYPE%d", n);
        int s2 = 0;
        fits_read_key_str(r->f, key, ttype, NULL, &s2);
        if (st || parse_tform(tform, &repeat, &code) || (!code_size(code) && code != 'X'))
            return reader_fail(r, err, SV_ERR_FORMAT, "column %d: unreadable TFORM '%s'", n,
                               tform);
        for (int c = 0; c < C_N; c++) {
            if (s2 || strcasecmp(ttype, cols[c].name))
                continue;
            L->present[c] = 1;
            L->colnum[c] = n;
            L->code[c] = code;
            L->repeat[c] = repeat;
            L->offset[c] = off;
        }
        off += col_bytes(repeat, code);
    }
    if (off != naxis1)
        return reader_fail(r, err, SV_ERR_FORMAT,
                           "STAMPS table damaged: columns add up to %ld bytes per row but "
                           "NAXIS1 = %lld",
                           off, (long long)naxis1);
    L->row_bytes = (long)naxis1;
    r->nrows = (long)naxis2;

    static const int required[] = {C_ID, C_SCI, C_REF, C_DIFF, C_LABEL};
    for (size_t k = 0; k < sizeof required / sizeof *required; k++)
        if (!L->present[required[k]])
            return reader_fail(r, err, SV_ERR_FORMAT, "STAMPS table has no %s column",
                               cols[required[k]].name);
    /* types */
    for (int c = 0; c < C_N; c++) {
        if (!L->present[c])
            continue;
        char code = L->code[c];
        int ok;
        if (cols[c].code == 'A')
            ok = code == 'A';
        else if (cols[c].code == 'E' || cols[c].code == 'D')
            ok = code == 'E' || code == 'D';
        else
            ok = code == 'B' || code == 'I' || code == 'J' || code == 'K';
        if (!ok)
            return reader_fail(r, err, SV_ERR_FORMAT, "column %s has type '%c', unsupported",
                               cols[c].name, code);
        if (!is_pixel_col(c) && cols[c].code != 'A' && L->repeat[c] != 1)
            return reader_fail(r, err, SV_ERR_FORMAT, "column %s has %ld elements, expected 1",
                               cols[c].name, L->repeat[c]);
        /* scaled columns are not supported: the bytes are the values */
        char key[FLEN_KEYWORD];
        double v;
        int s3 = 0;
        snprintf(key, sizeof key, "TSCAL%d", L->colnum[c]);
        if (!fits_read_key(r->f, TDOUBLE, key, &v, NULL, &s3) && v != 1.0)
            return reader_fail(r, err, SV_ERR_FORMAT, "column %s is scaled (%s), unsupported",
                               cols[c].name, key);
        s3 = 0;
        snprintf(key, sizeof key, "TZERO%d", L->colnum[c]);
        if (!fits_read_key(r->f, TDOUBLE, key, &v, NULL, &s3) && v != 0.0)
            return reader_fail(r, err, SV_ERR_FORMAT, "column %s has an offset (%s), unsupported",
                               cols[c].name, key);
    }
    /* the pixel columns: S*S elements, TDIM (S,S) */
    long np = L->repeat[C_SCI];
    int S = (int)lround(sqrt((double)np));
    if (np <= 0 || (long)S * S != np || S > SV_STAMP_MAX_SIZE)
        return reader_fail(r, err, SV_ERR_FORMAT, "SCI has %ld elements: not a square stamp", np);
    for (int c = C_SCI; c <= C_DIFF; c++) {
        if (L->repeat[c] != np)
            return reader_fail(r, err, SV_ERR_FORMAT, "%s has %ld elements but SCI has %ld",
                               cols[c].name, L->repeat[c], np);
        int naxis = 0, s3 = 0;
        long dims[4] = {0};
        char key[FLEN_KEYWORD], val[FLEN_VALUE];
        snprintf(key, sizeof key, "TDIM%d", L->colnum[c]);
        if (fits_read_key_str(r->f, key, val, NULL, &s3) == 0) {
            fits_read_tdim(r->f, L->colnum[c], 4, &naxis, dims, &s3);
            if (s3 || naxis != 2 || dims[0] != S || dims[1] != S)
                return reader_fail(r, err, SV_ERR_FORMAT, "%s: %s = '%s', expected '(%d,%d)'",
                                   cols[c].name, key, val, S, S);
        }
    }
    r->meta.stamp_size = S;
    return 0;
}

static int reader_meta(sv_stamp_reader *r, sv_error *err)
{
    sv_stamp_meta *m = &r->meta;
    int S = m->stamp_size;
    sv_stamp_meta_init(m, S);
    m->bunit[0] = '\0';
    int st = 0;
    long v = 0;
    if (fits_read_key(r->f, TLONG, "STAMPSZ", &v, NULL, &st) == 0 && v != S)
        return reader_fail(r, err, SV_ERR_FORMAT, "STAMPSZ = %ld but the stamps are %dx%d", v,
                           S, S);
    st = 0;
    int nclass = 0;
    if (fits_read_key(r->f, TINT, "NCLASS", &nclass, NULL, &st)) {
        if (st != KEY_NO_EXIST)
            return reader_fail(r, err, SV_ERR_FORMAT, "NCLASS unreadable");
        nclass = 0; /* unlabelled table */
    }
    if (nclass < 0 || nclass > SV_STAMP_MAX_CLASSES)
        return reader_fail(r, err, SV_ERR_FORMAT, "NCLASS = %d outside 0..%d", nclass,
                           SV_STAMP_MAX_CLASSES);
    const char *names[SV_STAMP_MAX_CLASSES];
    char buf[SV_STAMP_MAX_CLASSES][FLEN_VALUE];
    for (int i = 0; i < nclass; i++) {
        char key[FLEN_KEYWORD];
        snprintf(key, sizeof key, "CLASS%d", i + 1);
        st = 0;
        if (fits_read_key_str(r->f, key, buf[i], NULL, &st))
            return reader_fail(r, err, SV_ERR_FORMAT, "NCLASS = %d but %s is missing", nclass,
                               key);
        names[i] = buf[i];
    }
    sv_error e2;
    sv_error_clear(&e2);
    if (sv_stamp_meta_set_classes(m, names, nclass, &e2))
        return reader_fail(r, err, SV_ERR_FORMAT, "%s", e2.text);
    char val[FLEN_VALUE];
    st = 0;
    if (!fits_read_key_str(r->f, "SURVEY", val, NULL, &st))
        copy_trunc(m->survey, sizeof m->survey, val);
    st = 0;
    if (!fits_read_key_str(r->f, "BAND", val, NULL, &st))
        copy_trunc(m->band, sizeof m->band, val);
    st = 0;
    if (!fits_read_key_str(r->f, "BUNIT", val, NULL, &st))
        copy_trunc(m->bunit, sizeof m->bunit, val);
    st = 0;
    double ps;
    if (!fits_read_key(r->f, TDOUBLE, "PIXSCALE", &ps, NULL, &st) && isfinite(ps) && ps >= 0)
        m->pixscale = ps;
    st = 0;
    LONGLONG seed;
    if (!fits_read_key(r->f, TLONGLONG, "SEED", &seed, NULL, &st)) {
        m->has_seed = 1;
        m->seed = (uint64_t)seed;
    }
    const layout *L = &r->L;
    if (L->present[C_X] && L->present[C_Y])
        m->columns |= SV_STAMP_COL_POS;
    if (L->present[C_FLAGS])
        m->columns |= SV_STAMP_COL_FLAGS;
    if (L->present[C_TRUECLS])
        m->columns |= SV_STAMP_COL_TRUTH;
    return 0;
}

static int is_gzip(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    unsigned char m[2] = {0, 0};
    size_t n = fread(m, 1, 2, fp);
    fclose(fp);
    return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

sv_stamp_reader *sv_stamp_reader_open(const char *path, unsigned flags, sv_error *err)
{
    if (!path || !*path) {
        sv_error_set(err, SV_ERR_ARG, "stamp table: no path");
        return NULL;
    }
    sv_stamp_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        sv_error_set(err, SV_ERR_NOMEM, "%s: no memory", path);
        return NULL;
    }
    int st = 0;
    struct stat sb;
    int on_disk = stat(path, &sb) == 0;
    if (sv_fits_guard_file(path, err)) {
        sv_stamp_reader_close(r);
        return NULL;
    }
    if (on_disk)
        fits_open_diskfile(&r->f, path, READONLY, &st);
    else
        fits_open_file(&r->f, path, READONLY, &st);
    if (st) {
        char t[FLEN_STATUS];
        sv_error_set(err, on_disk ? SV_ERR_FORMAT : SV_ERR_IO, "%s: cannot open: %s%s", path,
                     sv_fits_status_text(st, t), on_disk ? " (not a FITS file, or damaged)" : "");
        r->f = NULL;
        sv_stamp_reader_close(r);
        return NULL;
    }
    int compressed = 0;
    if (reader_find_hdu(r, err) ||
        reader_uncompress(r, flags & SV_STAMP_VERIFY_CHECKSUM, &compressed, err) ||
        reader_layout(r, err) || reader_meta(r, err)) {
        sv_stamp_reader_close(r);
        return NULL;
    }
    /* A truncated file opens fine in cfitsio; check that all rows are there
     * (a compressed table's heap: sv_fits_guard_file checked it). */
    if (on_disk && S_ISREG(sb.st_mode) && !is_gzip(path) && !compressed) {
        LONGLONG head, data, end;
        st = 0;
        fits_get_hduaddrll(r->f, &head, &data, &end, &st);
        long long need = (long long)data + (long long)r->L.row_bytes * r->nrows;
        if (!st && need > (long long)sb.st_size) {
            long have = (long)(((long long)sb.st_size - data) / r->L.row_bytes);
            reader_fail(r, err, SV_ERR_FORMAT,
                        "truncated: the STAMPS table declares %ld rows but the file holds "
                        "only %ld complete rows (%lld of %lld bytes)",
                        r->nrows, have < 0 ? 0 : have, (long long)sb.st_size, need);
            sv_stamp_reader_close(r);
            return NULL;
        }
    }
    if ((flags & SV_STAMP_VERIFY_CHECKSUM) && !compressed) {
        int dataok = 0, hduok = 0;
        st = 0;
        fits_verify_chksum(r->f, &dataok, &hduok, &st);
        if (st || dataok < 0 || hduok < 0) {
            reader_fail(r, err, SV_ERR_FORMAT, "checksum mismatch: the STAMPS %s is damaged",
                        dataok < 0 ? "data" : "header");
            sv_stamp_reader_close(r);
            return NULL;
        }
    }
    return r;
}

const sv_stamp_meta *sv_stamp_reader_meta(const sv_stamp_reader *r) { return &r->meta; }
long sv_stamp_reader_nrows(const sv_stamp_reader *r) { return r->nrows; }

static int64_t decode_int(const unsigned char *p, char code)
{
    switch (code) {
    case 'B': return p[0];
    case 'I': return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
    case 'J': return (int32_t)sv_be_get_u32(p);
    default: return (int64_t)sv_be_get_u64(p);
    }
}

static float decode_flt(const unsigned char *p, char code)
{
    return code == 'E' ? sv_be_get_f32(p) : (float)sv_be_get_f64(p);
}

static double decode_dbl(const unsigned char *p, char code)
{
    return code == 'E' ? (double)sv_be_get_f32(p) : sv_be_get_f64(p);
}

long sv_stamp_reader_read(sv_stamp_reader *r, long first, long n, sv_stamp_batch *b,
                          sv_error *err)
{
    if (!r || !b)
        return sv_error_set(err, SV_ERR_ARG, "stamp table: no reader or batch");
    const layout *L = &r->L;
    const sv_stamp_meta *m = &r->meta;
    if (b->stamp_size != m->stamp_size)
        return reader_fail(r, err, SV_ERR_SHAPE, "stamps are %dx%d, the batch holds %dx%d",
                           m->stamp_size, m->stamp_size, b->stamp_size, b->stamp_size);
    if (first < 0)
        return reader_fail(r, err, SV_ERR_ARG, "row %ld requested", first);
    if (n > b->capacity)
        n = b->capacity;
    if (first + n > r->nrows)
        n = r->nrows - first;
    b->n = 0;
    if (n <= 0)
        return 0;
    size_t need = (size_t)n * (size_t)L->row_bytes;
    if (need > r->buf_cap) {
        unsigned char *nb = realloc(r->buf, need);
        if (!nb)
            return reader_fail(r, err, SV_ERR_NOMEM, "no memory to read %ld rows", n);
        r->buf = nb;
        r->buf_cap = need;
    }
    int st = 0;
    fits_read_tblbytes(r->f, (LONGLONG)first + 1, 1, (LONGLONG)need, r->buf, &st);
    if (st) {
        char t[FLEN_STATUS];
        return reader_fail(r, err, SV_ERR_FORMAT, "rows %ld..%ld unreadable: %s (damaged?)",
                           first + 1, first + n, sv_fits_status_text(st, t));
    }
    size_t np = (size_t)m->stamp_size * (size_t)m->stamp_size;
    for (long k = 0; k < n; k++) {
        const unsigned char *row = r->buf + (size_t)k * (size_t)L->row_bytes;
        long row1 = first + k + 1;
        sv_stamp_batch_clear_row(b, k);
        b->id[k] = decode_int(row + L->offset[C_ID], L->code[C_ID]);
        float *dst[3] = {b->sci + k * np, b->ref + k * np, b->diff + k * np};
        for (int c = 0; c < 3; c++) {
            const unsigned char *p = row + L->offset[C_SCI + c];
            if (L->code[C_SCI + c] == 'E')
                for (size_t j = 0; j < np; j++)
                    dst[c][j] = sv_be_get_f32(p + 4 * j);
            else
                for (size_t j = 0; j < np; j++)
                    dst[c][j] = (float)sv_be_get_f64(p + 8 * j);
        }
        int64_t lab = decode_int(row + L->offset[C_LABEL], L->code[C_LABEL]);
        sv_stamp_name nm = "";
        if (L->present[C_LABELNAM] &&
            get_str(row + L->offset[C_LABELNAM], (int)L->repeat[C_LABELNAM], nm))
            return reader_fail(r, err, SV_ERR_FORMAT, "row %ld: LABELNAM longer than %d", row1,
                               SV_STAMP_NAME_LEN);
        if (lab < -1 || lab >= m->n_class)
            return reader_fail(r, err, SV_ERR_FORMAT,
                               "row %ld: LABEL %lld outside -1..%d (NCLASS = %d)", row1,
                               (long long)lab, m->n_class - 1, m->n_class);
        if (lab >= 0 && nm[0] && strcmp(nm, m->class_name[lab]))
            return reader_fail(r, err, SV_ERR_FORMAT,
                               "row %ld: LABEL %lld is '%s' but LABELNAM is '%s'", row1,
                               (long long)lab, m->class_name[lab], nm);
        if (lab < 0 && nm[0]) {
            lab = sv_stamp_meta_class_index(m, nm);
            if (lab < 0)
                return reader_fail(r, err, SV_ERR_FORMAT,
                                   "row %ld: LABELNAM '%s' is not one of the %d classes", row1,
                                   nm, m->n_class);
        }
        b->label[k] = (int32_t)lab;
        if (lab >= 0)
            memcpy(b->label_name[k], m->class_name[lab], sizeof b->label_name[k]);
        if (L->present[C_X])
            b->x[k] = decode_dbl(row + L->offset[C_X], L->code[C_X]);
        if (L->present[C_Y])
            b->y[k] = decode_dbl(row + L->offset[C_Y], L->code[C_Y]);
        if (L->present[C_FLAGS])
            b->flags[k] = (int32_t)decode_int(row + L->offset[C_FLAGS], L->code[C_FLAGS]);
        if (L->present[C_TRUECLS] &&
            get_str(row + L->offset[C_TRUECLS], (int)L->repeat[C_TRUECLS], b->true_cls[k]))
            return reader_fail(r, err, SV_ERR_FORMAT, "row %ld: TRUECLS too long", row1);
        if (L->present[C_SUBTYPE] &&
            get_str(row + L->offset[C_SUBTYPE], (int)L->repeat[C_SUBTYPE], b->subtype[k]))
            return reader_fail(r, err, SV_ERR_FORMAT, "row %ld: SUBTYPE too long", row1);
        float *fv[] = {b->mag, b->true_mag, b->snr, b->dx, b->dy, b->fwhm_sci, b->fwhm_ref};
        for (int c = 0; c < 7; c++)
            if (L->present[C_MAG + c])
                fv[c][k] = decode_flt(row + L->offset[C_MAG + c], L->code[C_MAG + c]);
    }
    b->n = n;
    return n;
}

long sv_stamp_reader_next(sv_stamp_reader *r, sv_stamp_batch *b, sv_error *err)
{
    if (!r)
        return sv_error_set(err, SV_ERR_ARG, "stamp table: no reader");
    long got = sv_stamp_reader_read(r, r->next_row, b ? b->capacity : 0, b, err);
    if (got > 0)
        r->next_row += got;
    return got;
}

void sv_stamp_reader_rewind(sv_stamp_reader *r, long row)
{
    if (r)
        r->next_row = row < 0 ? 0 : row;
}

void sv_stamp_reader_close(sv_stamp_reader *r)
{
    if (!r)
        return;
    if (r->f) {
        int st = 0;
        fits_close_file(r->f, &st);
    }
    free(r->buf);
    free(r->path);
    free(r);
}
