/* catalog.c — see catalog.h. */
#include "pipeline/catalog.h"
#include "fits/fits_dates.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <fitsio.h>

#include "core/atomic_file.h"
#include "config.h"
#include "fits/stamps.h"
#include "fits/fits_error.h"

/* ---- provenance ---------------------------------------------------------- */

static int valid_key(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n < 1 || n > 8)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isupper((unsigned char)key[i]) || isdigit((unsigned char)key[i]) ||
              key[i] == '-' || key[i] == '_'))
            return 0;
    return 1;
}

static int prov_put(sv_provenance *p, const char *key, char type, const char *value,
                    const char *comment)
{
    if (!p || !valid_key(key))
        return SV_ERR_ARG;
    int i;
    for (i = 0; i < p->n; i++)
        if (!strcmp(p->card[i].key, key))
            break;
    if (i == p->n) {
        if (p->n >= SV_PROV_MAX)
            return SV_ERR_ARG;
        p->n++;
    }
    sv_prov_card *c = &p->card[i];
    snprintf(c->key, sizeof c->key, "%s", key);
    c->type = type;
    size_t k = 0;
    for (const char *s = value ? value : ""; *s && k + 1 < sizeof c->value; s++)
        c->value[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    c->value[k] = '\0';
    snprintf(c->comment, sizeof c->comment, "%s", comment ? comment : "");
    return SV_OK;
}

int sv_prov_merge(sv_provenance *p, const sv_provenance *q)
{
    int st = SV_OK;
    for (int i = 0; q && i < q->n; i++) {
        const sv_prov_card *c = &q->card[i];
        if (prov_put(p, c->key, c->type, c->value, c->comment))
            st = SV_ERR_ARG;
    }
    return st;
}

int sv_prov_str(sv_provenance *p, const char *key, const char *value, const char *comment)
{
    return prov_put(p, key, 's', value, comment);
}

int sv_prov_dbl(sv_provenance *p, const char *key, double value, const char *comment)
{
    char buf[40];
    for (int digits = 10; digits <= 17; digits++) { /* the shortest exact text */
        snprintf(buf, sizeof buf, "%.*g", digits, value);
        if (strtod(buf, NULL) == value)
            break;
    }
    return prov_put(p, key, 'd', buf, comment);
}

int sv_prov_int(sv_provenance *p, const char *key, long long value, const char *comment)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", value);
    return prov_put(p, key, 'i', buf, comment);
}

int sv_prov_bool(sv_provenance *p, const char *key, int value, const char *comment)
{
    return prov_put(p, key, 'l', value ? "T" : "F", comment);
}

const char *sv_prov_get(const sv_provenance *p, const char *key)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->card[i].key, key))
            return p->card[i].value;
    return NULL;
}

/* ---- schema ---------------------------------------------------------------- */

static int valid_colname(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 68)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

/* Append a column; desc is a printf format. */
static sv_out_col *add_col(sv_out_schema *s, sv_out_kind kind, int index, const char *name,
                           dia_col_type type, int repeat, const char *unit, const char *desc,
                           ...) __attribute__((format(printf, 8, 9)));
static sv_out_col *add_col(sv_out_schema *s, sv_out_kind kind, int index, const char *name,
                           dia_col_type type, int repeat, const char *unit, const char *desc,
                           ...)
{
    if (s->ncols >= SV_OUT_MAX_COLS)
        return NULL;
    sv_out_col *c = &s->col[s->ncols++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->index = index;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->type = type;
    c->repeat = repeat;
    snprintf(c->unit, sizeof c->unit, "%s", unit);
    va_list ap;
    va_start(ap, desc);
    vsnprintf(c->description, sizeof c->description, desc, ap);
    va_end(ap);
    c->in_file_table = 1;
    return c;
}

/* PREFIX + the class name in upper case, other characters '_'. */
static void class_colname(const char *prefix, const char *cls, char *out, size_t len)
{
    size_t j = (size_t)snprintf(out, len, "%s", prefix);
    for (const char *p = cls; *p && j + 1 < len && j < 60; p++)
        out[j++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    out[j] = '\0';
}

static int label_width(const sv_model *m)
{
    int w = 1;
    for (int k = 0; k < m->n_classes; k++)
        if ((int)strlen(m->classes[k]) > w)
            w = (int)strlen(m->classes[k]);
    return w;
}

/* Columns first .. ncols-1 against every earlier one. */
static int check_unique(const sv_out_schema *s, int first, const char *what, sv_error *err)
{
    for (int i = first; i < s->ncols; i++)
        for (int j = 0; j < i; j++)
            if (!strcasecmp(s->col[i].name, s->col[j].name))
                return sv_error_set(err, SV_ERR_ARG, "output column '%s' would appear twice "
                                    "(%s)", s->col[i].name, what);
    return SV_OK;
}

int sv_out_schema_make(const sv_out_names *nm, const sv_model *class_model,
                       sv_stamp_save stamps, int stamp_size, sv_out_schema *s, sv_error *err)
{
    memset(s, 0, sizeof *s);
    const char *score = nm ? nm->score : NULL;
    if (!score || !valid_colname(score))
        return sv_error_set(err, SV_ERR_ARG,
                            "rb_column: '%s' is not a column name (1..68 letters, digits, '_')",
                            score ? score : "");
    int origin = nm->origin ? 1 : 0;
    s->origin = origin;
    s->stamps = stamps;
    s->stamp_size = stamp_size;
    snprintf(s->model_version, sizeof s->model_version, "%s",
             nm->model_version ? nm->model_version : "");
    const char *o_text = origin ? "1-based pixels (origin 1)" : "0-based pixels (origin 0)";
    add_col(s, SV_OUT_SCORE, 0, score, DIA_COL_FLOAT32, 1, "",
            "real/bogus score P(real); NaN: not scored");
    if (nm->version && *nm->version) {
        int w = (int)strlen(s->model_version);
        add_col(s, SV_OUT_VERSION, 0, nm->version, DIA_COL_STRING, w > 0 ? w : 1, "",
                "version of the real/bogus model that gave %s", score);
    }
    add_col(s, SV_OUT_REAL, 0, "REAL", DIA_COL_UINT8, 1, "",
            "score >= rb_threshold and no veto flag");
    if (class_model) {
        s->n_classes = class_model->n_classes;
        for (int k = 0; k < s->n_classes; k++) {
            const char *cls = class_model->classes[k];
            char col[SV_COLNAME_MAX];
            snprintf(s->class_name[k], sizeof s->class_name[k], "%s", cls);
            class_colname("P_", cls, col, sizeof col);
            add_col(s, SV_OUT_PROB, k, col, DIA_COL_FLOAT32, 1, "", "P(%.60s)", cls);
        }
        add_col(s, SV_OUT_CLASS, 0, "CLASS", DIA_COL_STRING, label_width(class_model), "",
                "most probable class");
    }
    add_col(s, SV_OUT_FLAGS, 0, nm->flags && *nm->flags ? nm->flags : "FLAGS", DIA_COL_INT32, 1, "",
            "stamp-quality bitmask (FLAGn cards)");
    add_col(s, SV_OUT_BADFRAC, 0, "BADFRAC", DIA_COL_FLOAT32, 1, "",
            "fraction of bad stamp values");
    add_col(s, SV_OUT_XPIX, 0, "XPIX", DIA_COL_FLOAT64, 1, "pix", "stamp centre x, %s", o_text);
    add_col(s, SV_OUT_YPIX, 0, "YPIX", DIA_COL_FLOAT64, 1, "pix", "stamp centre y, %s", o_text);
    if (stamps != SV_SAVE_NONE) {
        static const char *const ch[3] = {"SCI", "REF", "DIFF"};
        static const char *const what[3] = {"science", "reference", "difference"};
        for (int c = 0; c < 3; c++)
            add_col(s, SV_OUT_STAMP, c, ch[c], DIA_COL_FLOAT32, stamp_size * stamp_size, "",
                    "%s stamp, raw, NaN outside the image", what[c])
                ->in_file_table = stamps == SV_SAVE_COLUMNS;
    }
    return check_unique(s, 1, class_model ? "rb_column or the class names of the class model"
                                          : "rb_column", err);
}

int sv_out_schema_add_lc(sv_out_schema *s, const sv_model *lc, sv_error *err)
{
    int first = s->ncols;
    s->n_lc = lc->n_classes;
    for (int k = 0; k < s->n_lc; k++) {
        const char *cls = lc->classes[k];
        char col[SV_COLNAME_MAX];
        snprintf(s->lc_name[k], sizeof s->lc_name[k], "%s", cls);
        class_colname("LC_P_", cls, col, sizeof col);
        add_col(s, SV_OUT_LC_PROB, k, col, DIA_COL_FLOAT32, 1, "", "light-curve P(%.50s)", cls);
    }
    add_col(s, SV_OUT_LC_CLASS, 0, "LC_CLASS", DIA_COL_STRING, label_width(lc), "",
            "most probable light-curve class");
    add_col(s, SV_OUT_LC_FLAGS, 0, "LC_FLAGS", DIA_COL_INT32, 1, "",
            "light-curve flags: 1 NOHIST 2 NODET 4 NOKEY 8 NOTABLE");
    return check_unique(s, first, "the class names of the light-curve model", err);
}

int sv_out_schema_ncols(const sv_out_schema *s) { return s->ncols; }

void sv_out_schema_prov(const sv_out_schema *s, sv_provenance *p)
{
    sv_prov_str(p, "RBCOL", s->col[0].name, "the real/bogus score column");
    for (int i = 0; i < s->ncols; i++)
        if (s->col[i].kind == SV_OUT_FLAGS)
            sv_prov_str(p, "FLAGCOL", s->col[i].name, "the stamp-quality flags column");
    sv_prov_int(p, "PIXORIG", s->origin, "pixel origin of XPIX, YPIX (the input x/y's)");
}

const sv_out_col *sv_out_schema_col(const sv_out_schema *s, int i)
{
    return i >= 0 && i < s->ncols ? &s->col[i] : NULL;
}

const char *sv_out_schema_colname(const sv_out_schema *s, int i)
{
    return i >= 0 && i < s->ncols ? s->col[i].name : NULL;
}

void sv_out_col_tform(const sv_out_col *c, char *tform, size_t len)
{
    char code = c->type == DIA_COL_FLOAT64 ? 'D'
                : c->type == DIA_COL_INT32 ? 'J'
                : c->type == DIA_COL_UINT8 ? 'L'
                : c->type == DIA_COL_STRING ? 'A'
                                            : 'E';
    snprintf(tform, len, "%d%c", c->repeat, code);
}

int sv_out_schema_check_clash(const sv_out_schema *s, const sv_col_source *in, sv_error *err)
{
    int n = sv_out_schema_ncols(s);
    for (int c = 0; c < in->ncols; c++) {
        const char *name = in->name(in->src, c);
        for (int i = 0; i < n; i++)
            if (name && !strcasecmp(name, sv_out_schema_colname(s, i)))
                return sv_error_set(err, SV_ERR_SHAPE,
                                    "%s: the input already has a column '%s', which the "
                                    "stage would add%s",
                                    in->origin ? in->origin : "detections", name,
                                    i == 0 ? "; set rb_column to another name (e.g. rb_sv)"
                                           : "; rename the input column");
    }
    return SV_OK;
}

/* ---- the FITS file --------------------------------------------------------- */

struct sv_catalog {
    fitsfile *fp;
    char path[4096];
    sv_atomic_file out_file;   /* the temporary file (atomic_file.h)   */
    fitsfile *sfp;             /* compress_stamps: the STAMPS rows until
                                  the commit compresses them into fp    */
    sv_atomic_file stamps_file;
    sv_out_schema out;
    int in_ncols;
    size_t rowbytes;
    int64_t nrows;
    int failed;
};

static int cat_fail(sv_catalog *cat, sv_error *err, const char *what, int status)
{
    cat->failed = 1;
    return sv_fits_fail(err, SV_ERR_IO, cat->path, what, status);
}

static int write_prov(fitsfile *fp, const sv_provenance *prov, int *status)
{
    for (int i = 0; prov && i < prov->n && !*status; i++) {
        const sv_prov_card *c = &prov->card[i];
        const char *cm = c->comment[0] ? c->comment : NULL;
        if (c->type == 'd' && isfinite(strtod(c->value, NULL))) {
            /* the value's text as it is: every digit of the double */
            char card[FLEN_CARD], val[FLEN_VALUE];
            snprintf(val, sizeof val, "%s", c->value);
            for (char *e = val; *e; e++)
                if (*e == 'e')
                    *e = 'E';
            if (!strpbrk(val, ".E") && strlen(val) + 2 < sizeof val)
                strcat(val, ".0"); /* a real, not an integer */
            fits_make_key(c->key, val, cm, card, status);
            fits_update_card(fp, c->key, card, status);
        } else if (c->type == 'd') {
            double v = strtod(c->value, NULL);
            fits_update_key(fp, TDOUBLE, c->key, &v, cm, status);
        } else if (c->type == 'i') {
            LONGLONG v = strtoll(c->value, NULL, 10);
            fits_update_key(fp, TLONGLONG, c->key, &v, cm, status);
        } else if (c->type == 'l') {
            int v = c->value[0] == 'T';
            fits_update_key(fp, TLOGICAL, c->key, &v, cm, status);
        } else {
            fits_update_key_longstr(fp, c->key, c->value, cm, status);
        }
    }
    return *status;
}

static int create_stamps_hdu(sv_catalog *cat, fitsfile *fp, int *status)
{
    const sv_out_schema *o = &cat->out;
    int S = o->stamp_size;
    char fpix[32];
    snprintf(fpix, sizeof fpix, "%dE", S * S);
    char *ttype[] = {"ID", "SCI", "REF", "DIFF", "LABEL", "LABELNAM", "X", "Y", "FLAGS"};
    char *tform[] = {"1K", fpix, fpix, fpix, "1J", "16A", "1D", "1D", "1J"};
    char *tunit[] = {"", (char *)o->bunit, (char *)o->bunit, (char *)o->bunit, "", "",
                     "pix", "pix", ""};
    fits_create_tbl(fp, BINARY_TBL, (LONGLONG)cat->nrows, 9, ttype, tform, tunit,
                    "STAMPS", status);
    long dims[2] = {S, S};
    for (int c = 2; c <= 4; c++)
        fits_write_tdim(fp, c, 2, dims, status);
    fits_update_key_str(fp, "SVFORMAT", "stampvet-stamps", "labelled-stamps table",
                        status);
    int v = 1;
    fits_update_key(fp, TINT, "SVFMTVER", &v, "format version", status);
    fits_update_key(fp, TINT, "STAMPSZ", &S, "stamp side, pixels", status);
    fits_update_key_str(fp, "CHANNELS", "SCI,REF,DIFF", "stamp columns", status);
    v = 0;
    fits_update_key(fp, TINT, "NCLASS", &v, "unlabelled", status);
    fits_update_key_str(fp, "SURVEY", o->survey, NULL, status);
    fits_update_key_str(fp, "BAND", o->band, NULL, status);
    double ps = o->pixscale;
    fits_update_key(fp, TDOUBLE, "PIXSCALE", &ps, "arcsec/pixel of the stamps, 0 unknown",
                    status);
    fits_update_key_str(fp, "BUNIT", o->bunit[0] ? o->bunit : "DN", NULL, status);
    return *status;
}

int sv_catalog_open(const char *path, const sv_det_schema *in, const sv_out_schema *out,
                    int64_t nrows, const sv_provenance *prov, sv_catalog **catp, sv_error *err)
{
    *catp = NULL;
    if (!path || !*path)
        return sv_error_set(err, SV_ERR_ARG, "no output file name given");
    if (strlen(path) > 4000)
        return sv_error_set(err, SV_ERR_ARG, "output file name too long");
    sv_catalog *cat = calloc(1, sizeof *cat);
    if (!cat)
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    snprintf(cat->path, sizeof cat->path, "%s", path);
    cat->out = *out;
    cat->in_ncols = in->ncols;
    cat->rowbytes = in->rowbytes;
    cat->nrows = nrows;

    /* a temporary name in the destination's folder */
    if (sv_atomic_begin_name(&cat->out_file, path, err)) {
        free(cat);
        return err && err->status ? err->status : SV_ERR_IO;
    }
    int status = 0;
    if (fits_create_diskfile(&cat->fp, cat->out_file.tmp, &status)) {
        cat->fp = NULL;
        cat_fail(cat, err, "cannot create the output", status);
        sv_catalog_abort(cat);
        return SV_ERR_IO;
    }
    /* primary */
    fits_create_img(cat->fp, BYTE_IMG, 0, NULL, &status);
    fits_update_key_str(cat->fp, "CREATOR", "stampvet " PACKAGE_VERSION, "software", &status);
    fits_update_key_str(cat->fp, "SVVERS", PACKAGE_VERSION, "stampvet version", &status);
    fits_write_comment(cat->fp, "The annotated detections are in extension DETECTIONS.",
                       &status);

    /* DETECTIONS: input columns, then the stage's (the output schema) */
    int nown = 0;
    for (int k = 0; k < out->ncols; k++)
        nown += out->col[k].in_file_table;
    int ncols = in->ncols + nown;
    char **ttype = calloc((size_t)ncols + 1, sizeof *ttype);
    char **tform = calloc((size_t)ncols + 1, sizeof *tform);
    char **tunit = calloc((size_t)ncols + 1, sizeof *tunit);
    char (*own_form)[24] = calloc((size_t)nown + 1, sizeof *own_form);
    if (!ttype || !tform || !tunit || !own_form) {
        free(ttype);
        free(tform);
        free(tunit);
        free(own_form);
        sv_catalog_abort(cat);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < in->ncols; i++) {
        ttype[i] = (char *)in->ttype[i];
        tform[i] = (char *)in->tform[i];
        tunit[i] = (char *)in->tunit[i];
    }
    size_t own_bytes = 0;
    for (int k = 0, j = 0; k < out->ncols; k++) {
        const sv_out_col *c = &out->col[k];
        if (!c->in_file_table)
            continue;
        sv_out_col_tform(c, own_form[j], sizeof own_form[j]);
        own_bytes += (size_t)c->repeat * sv_col_type_size(c->type);
        ttype[in->ncols + j] = (char *)c->name;
        tform[in->ncols + j] = own_form[j];
        tunit[in->ncols + j] = (char *)c->unit;
        j++;
    }
    fits_create_tbl(cat->fp, BINARY_TBL, (LONGLONG)nrows, ncols, ttype, tform, tunit,
                    "DETECTIONS", &status);
    free(ttype);
    free(tform);
    free(tunit);
    free(own_form);
    if (status) {
        cat_fail(cat, err, "cannot create the DETECTIONS table (bad input column format?)",
                 status);
        sv_catalog_abort(cat);
        return SV_ERR_IO;
    }
    LONGLONG naxis1 = 0;
    fits_read_key(cat->fp, TLONGLONG, "NAXIS1", &naxis1, NULL, &status);
    if (!status && (size_t)naxis1 != in->rowbytes + own_bytes) {
        sv_error_set(err, SV_ERR_FORMAT,
                     "%s: the input columns' formats add up to %lld bytes per row, not the "
                     "input's NAXIS1 = %zu",
                     path, (long long)(naxis1 - (LONGLONG)own_bytes), in->rowbytes);
        sv_catalog_abort(cat);
        return SV_ERR_FORMAT;
    }
    /* the input's other cards: TDIMn, TNULLn, TSCALn, TZEROn, TDISPn, notes */
    for (int i = 0; i < in->nextra && !status; i++)
        fits_write_record(cat->fp, in->extra[i], &status);
    /* describe the stage's columns: TTYPEn comment, TCOMMn, TDIMn */
    for (int k = 0, n = in->ncols + 1; k < out->ncols && !status; k++) {
        const sv_out_col *c = &out->col[k];
        if (!c->in_file_table)
            continue;
        char key[FLEN_KEYWORD];
        snprintf(key, sizeof key, "TTYPE%d", n);
        fits_modify_comment(cat->fp, key, c->description, &status);
        snprintf(key, sizeof key, "TCOMM%d", n);
        fits_update_key_str(cat->fp, key, c->description, NULL, &status);
        if (c->kind == SV_OUT_STAMP) {
            long dims[2] = {out->stamp_size, out->stamp_size};
            fits_write_tdim(cat->fp, n, 2, dims, &status);
        }
        n++;
    }
    write_prov(cat->fp, prov, &status);
    for (int b = 0; b < SV_N_FLAGS && !status; b++) {
        char key[FLEN_KEYWORD];
        snprintf(key, sizeof key, "FLAG%u", sv_flag_docs[b].bit);
        fits_update_key_str(cat->fp, key, sv_flag_docs[b].name, sv_flag_docs[b].meaning,
                            &status);
    }
    fits_write_comment(cat->fp, "FLAGS bits: keyword FLAGn names the bit of value n.", &status);
    sv_fits_write_date(cat->fp, &status);
    if (!status)
        fits_set_hdustruc(cat->fp, &status);
    if (!status && out->stamps == SV_SAVE_EXTENSION && !out->compress_stamps) {
        create_stamps_hdu(cat, cat->fp, &status);
        write_prov(cat->fp, prov, &status);
        if (!status)
            fits_movabs_hdu(cat->fp, 2, NULL, &status);
    }
    if (!status && out->stamps == SV_SAVE_EXTENSION && out->compress_stamps) {
        if (sv_atomic_begin_name(&cat->stamps_file, path, err)) {
            sv_catalog_abort(cat);
            return err && err->status ? err->status : SV_ERR_IO;
        }
        if (fits_create_diskfile(&cat->sfp, cat->stamps_file.tmp, &status))
            cat->sfp = NULL;
        else
            fits_create_img(cat->sfp, BYTE_IMG, 0, NULL, &status);
        create_stamps_hdu(cat, cat->sfp, &status);
        write_prov(cat->sfp, prov, &status);
    }
    if (status) {
        cat_fail(cat, err, "cannot write the output header", status);
        sv_catalog_abort(cat);
        return SV_ERR_IO;
    }
    *catp = cat;
    return SV_OK;
}

int sv_catalog_write(sv_catalog *cat, int64_t row0, const unsigned char *raw,
                     const sv_results *r, sv_error *err)
{
    if (cat->failed)
        return sv_error_set(err, SV_ERR_IO, "%s: writing after a failure", cat->path);
    int n = r->n;
    if (n <= 0)
        return SV_OK;
    if (row0 < 0 || row0 + n > cat->nrows)
        return sv_error_set(err, SV_ERR_INTERNAL, "%s: rows %lld..%lld outside the table",
                            cat->path, (long long)row0 + 1, (long long)row0 + n);
    int status = 0;
    LONGLONG first = row0 + 1;
    if (cat->rowbytes > 0)
        for (int i = 0; i < n && !status; i++)
            fits_write_tblbytes(cat->fp, first + i, 1, (LONGLONG)cat->rowbytes,
                                (unsigned char *)raw + (size_t)i * cat->rowbytes, &status);
    const sv_out_schema *o = &cat->out;
    float *tmp = malloc((size_t)n * sizeof *tmp);
    char *logic = malloc((size_t)n);
    char **names = malloc((size_t)n * sizeof *names);
    int32_t *lab = malloc((size_t)n * sizeof *lab);
    double *pos = malloc((size_t)n * sizeof *pos);
    if (!tmp || !logic || !names || !lab || !pos) {
        free(pos);
        free(lab);
        free(tmp);
        free(logic);
        free(names);
        cat->failed = 1;
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", cat->path);
    }
    static char empty[] = "";
    LONGLONG npix = (LONGLONG)n * o->stamp_size * o->stamp_size;
    int have_lc = r->lc_prob && r->lc_label && r->lc_flags;
    for (int k = 0, col = cat->in_ncols + 1; k < o->ncols && !status; k++) {
        const sv_out_col *c = &o->col[k];
        if (!c->in_file_table)
            continue;
        switch (c->kind) {
        case SV_OUT_SCORE:
            fits_write_col(cat->fp, TFLOAT, col, first, 1, n, r->rb, &status);
            break;
        case SV_OUT_VERSION:
            for (int i = 0; i < n; i++)
                names[i] = (char *)o->model_version;
            fits_write_col(cat->fp, TSTRING, col, first, 1, n, names, &status);
            break;
        case SV_OUT_REAL:
            for (int i = 0; i < n; i++)
                logic[i] = r->real[i] ? 1 : 0;
            fits_write_col(cat->fp, TLOGICAL, col, first, 1, n, logic, &status);
            break;
        case SV_OUT_PROB:
            for (int i = 0; i < n; i++)
                tmp[i] = r->prob[(size_t)i * o->n_classes + c->index];
            fits_write_col(cat->fp, TFLOAT, col, first, 1, n, tmp, &status);
            break;
        case SV_OUT_CLASS:
            for (int i = 0; i < n; i++)
                names[i] = r->label[i] >= 0 && r->label[i] < o->n_classes
                               ? (char *)o->class_name[r->label[i]]
                               : empty;
            fits_write_col(cat->fp, TSTRING, col, first, 1, n, names, &status);
            break;
        case SV_OUT_FLAGS:
            fits_write_col(cat->fp, TINT, col, first, 1, n, r->flags, &status);
            break;
        case SV_OUT_BADFRAC:
            fits_write_col(cat->fp, TFLOAT, col, first, 1, n, r->badfrac, &status);
            break;
        case SV_OUT_XPIX:
        case SV_OUT_YPIX:
            fits_write_col(cat->fp, TDOUBLE, col, first, 1, n,
                           c->kind == SV_OUT_XPIX ? r->xpix : r->ypix, &status);
            break;
        case SV_OUT_STAMP:
            fits_write_col(cat->fp, TFLOAT, col, first, 1, npix, r->stamp[c->index], &status);
            break;
        case SV_OUT_LC_PROB: /* lc_stage.h */
            if (have_lc) {
                for (int i = 0; i < n; i++)
                    tmp[i] = r->lc_prob[(size_t)i * o->n_lc + c->index];
                fits_write_col(cat->fp, TFLOAT, col, first, 1, n, tmp, &status);
            }
            break;
        case SV_OUT_LC_CLASS:
            if (have_lc) {
                for (int i = 0; i < n; i++)
                    names[i] = r->lc_label[i] >= 0 && r->lc_label[i] < o->n_lc
                                   ? (char *)o->lc_name[r->lc_label[i]]
                                   : empty;
                fits_write_col(cat->fp, TSTRING, col, first, 1, n, names, &status);
            }
            break;
        case SV_OUT_LC_FLAGS:
            if (have_lc)
                fits_write_col(cat->fp, TINT, col, first, 1, n, r->lc_flags, &status);
            break;
        }
        col++;
    }
    if (o->stamps == SV_SAVE_EXTENSION && !status) {
        fitsfile *sf = cat->sfp ? cat->sfp : cat->fp; /* its HDU 2 or 3 */
        if (!cat->sfp)
            fits_movabs_hdu(sf, 3, NULL, &status);
        fits_write_col(sf, TLONGLONG, 1, first, 1, n, r->id, &status);
        for (int c = 0; c < 3; c++)
            fits_write_col(sf, TFLOAT, 2 + c, first, 1, npix, r->stamp[c], &status);
        for (int i = 0; i < n; i++)
            lab[i] = -1;
        fits_write_col(sf, TINT, 5, first, 1, n, lab, &status);
        for (int i = 0; i < n; i++)
            names[i] = empty;
        fits_write_col(sf, TSTRING, 6, first, 1, n, names, &status);
        /* X, Y of the labelled-stamps layout are 1-based (stamp_table.h) */
        for (int a = 0; a < 2; a++) {
            const double *p = a ? r->ypix : r->xpix;
            for (int i = 0; i < n; i++)
                pos[i] = p[i] + (1 - o->origin);
            fits_write_col(sf, TDOUBLE, 7 + a, first, 1, n, pos, &status);
        }
        fits_write_col(sf, TINT, 9, first, 1, n, r->flags, &status);
        if (!cat->sfp)
            fits_movabs_hdu(sf, 2, NULL, &status);
    }
    free(pos);
    free(lab);
    free(tmp);
    free(logic);
    free(names);
    if (status)
        return cat_fail(cat, err, "cannot write rows (disk full, or over the file size limit of "
                        "ulimit -f?)", status);
    return SV_OK;
}

int sv_catalog_add_prov(sv_catalog *cat, const sv_provenance *prov, sv_error *err)
{
    int status = 0;
    if (write_prov(cat->fp, prov, &status))
        return cat_fail(cat, err, "cannot write the header", status);
    return SV_OK;
}

int sv_catalog_commit(sv_catalog *cat, sv_error *err)
{
    if (!cat)
        return sv_error_set(err, SV_ERR_ARG, "no catalog");
    if (cat->failed) {
        sv_catalog_abort(cat);
        return err && err->status ? err->status : SV_ERR_IO;
    }
    int status = 0, nhdu = 0;
    if (cat->sfp) {
        /* the STAMPS rows, tile-compressed, become HDU 3 */
        fits_compress_table(cat->sfp, cat->fp, &status);
        if (status) {
            cat_fail(cat, err, "cannot compress the STAMPS table", status);
            sv_catalog_abort(cat);
            return SV_ERR_IO;
        }
        fits_close_file(cat->sfp, &status);
        cat->sfp = NULL;
        sv_atomic_abort(&cat->stamps_file);
        status = 0;
    }
    fits_get_num_hdus(cat->fp, &nhdu, &status);
    for (int h = 1; h <= nhdu && !status; h++) {
        fits_movabs_hdu(cat->fp, h, NULL, &status);
        sv_fits_write_chksum(cat->fp, &status);
    }
    if (status) {
        cat_fail(cat, err, "cannot write checksums", status);
        sv_catalog_abort(cat);
        return SV_ERR_IO;
    }
    fits_close_file(cat->fp, &status);
    cat->fp = NULL;
    if (status) {
        cat_fail(cat, err, "cannot finish the file (disk full?)", status);
        sv_catalog_abort(cat);
        return SV_ERR_IO;
    }
    if (sv_atomic_commit(&cat->out_file, err)) {
        free(cat);
        return SV_ERR_IO;
    }
    free(cat);
    return SV_OK;
}

void sv_catalog_abort(sv_catalog *cat)
{
    if (!cat)
        return;
    int status = 0;
    if (cat->fp)
        fits_close_file(cat->fp, &status);
    sv_atomic_abort(&cat->out_file);
    if (cat->sfp) {
        status = 0;
        fits_close_file(cat->sfp, &status);
    }
    sv_atomic_abort(&cat->stamps_file);
    free(cat);
}
