/* catalog.c — see catalog.h. */
#include "catalog.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <fitsio.h>

#include "atomic_file.h"
#include "config.h"
#include "stamps.h"

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

int sv_prov_str(sv_provenance *p, const char *key, const char *value, const char *comment)
{
    return prov_put(p, key, 's', value, comment);
}

int sv_prov_dbl(sv_provenance *p, const char *key, double value, const char *comment)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.10g", value);
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

int sv_out_schema_make(const char *rb_col, const sv_model *class_model, sv_stamp_save stamps,
                       int stamp_size, sv_out_schema *s, sv_error *err)
{
    memset(s, 0, sizeof *s);
    if (!rb_col || !valid_colname(rb_col))
        return sv_error_set(err, SV_ERR_ARG,
                            "rb_column: '%s' is not a column name (1..68 letters, digits, '_')",
                            rb_col ? rb_col : "");
    snprintf(s->rb_col, sizeof s->rb_col, "%s", rb_col);
    s->label_width = 1;
    if (class_model) {
        s->n_classes = class_model->n_classes;
        for (int k = 0; k < s->n_classes; k++) {
            const char *name = class_model->classes[k];
            snprintf(s->class_name[k], sizeof s->class_name[k], "%s", name);
            char col[SV_COLNAME_MAX] = "P_";
            size_t j = 2;
            for (const char *p = name; *p && j < 60; p++)
                col[j++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
            col[j] = '\0';
            snprintf(s->class_col[k], sizeof s->class_col[k], "%s", col);
            int w = (int)strlen(name);
            if (w > s->label_width)
                s->label_width = w;
        }
    }
    s->stamps = stamps;
    s->stamp_size = stamp_size;
    snprintf(s->bunit, sizeof s->bunit, "%s", "");
    int n = sv_out_schema_ncols(s);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (!strcasecmp(sv_out_schema_colname(s, i), sv_out_schema_colname(s, j)))
                return sv_error_set(err, SV_ERR_ARG,
                                    "output column '%s' would appear twice (rb_column or class "
                                    "names of model '%s')",
                                    sv_out_schema_colname(s, i),
                                    class_model ? class_model->name : "-");
    return SV_OK;
}

/* own columns, in order: rb, REAL, P_*..., CLASS, FLAGS, BADFRAC, XPIX, YPIX,
 * [SCI, REF, DIFF], [LC_P_*..., LC_CLASS, LC_FLAGS] */
static int ncols_base(const sv_out_schema *s)
{
    return 2 + s->n_classes + (s->n_classes > 0) + 4 + (s->stamps == SV_SAVE_COLUMNS ? 3 : 0);
}

int sv_out_schema_ncols(const sv_out_schema *s)
{
    return ncols_base(s) + (s->n_lc > 0 ? s->n_lc + 2 : 0);
}

int sv_out_schema_add_lc(sv_out_schema *s, const sv_model *lc, sv_error *err)
{
    s->n_lc = lc->n_classes;
    s->lc_label_width = 1;
    for (int k = 0; k < s->n_lc; k++) {
        const char *name = lc->classes[k];
        snprintf(s->lc_name[k], sizeof s->lc_name[k], "%s", name);
        char col[SV_COLNAME_MAX] = "LC_P_";
        size_t j = 5;
        for (const char *p = name; *p && j < 60; p++)
            col[j++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
        col[j] = '\0';
        snprintf(s->lc_col[k], sizeof s->lc_col[k], "%s", col);
        if ((int)strlen(name) > s->lc_label_width)
            s->lc_label_width = (int)strlen(name);
    }
    int n = sv_out_schema_ncols(s);
    for (int i = ncols_base(s); i < n; i++)
        for (int j = 0; j < i; j++)
            if (!strcasecmp(sv_out_schema_colname(s, i), sv_out_schema_colname(s, j)))
                return sv_error_set(err, SV_ERR_ARG, "output column '%s' would appear twice "
                                    "(class names of light-curve model '%s')",
                                    sv_out_schema_colname(s, i), lc->name);
    return SV_OK;
}

const char *sv_out_schema_colname(const sv_out_schema *s, int i)
{
    static const char *const tail[] = {"FLAGS", "BADFRAC", "XPIX", "YPIX", "SCI", "REF", "DIFF"};
    int base = ncols_base(s);
    if (i >= base && s->n_lc > 0) { /* light-curve columns */
        i -= base;
        return i < s->n_lc ? s->lc_col[i]
                           : (i == s->n_lc ? "LC_CLASS" : (i == s->n_lc + 1 ? "LC_FLAGS" : NULL));
    }
    if (i == 0)
        return s->rb_col;
    if (i == 1)
        return "REAL";
    i -= 2;
    if (i < s->n_classes)
        return s->class_col[i];
    i -= s->n_classes;
    if (s->n_classes > 0) {
        if (i == 0)
            return "CLASS";
        i--;
    }
    return i >= 0 && i < 7 ? tail[i] : NULL;
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
    sv_out_schema out;
    int in_ncols;
    size_t rowbytes;
    int64_t nrows;
    int failed;
};

static int cat_fail(sv_catalog *cat, sv_error *err, const char *what, int status)
{
    char txt[FLEN_STATUS] = "";
    fits_get_errstatus(status, txt);
    cat->failed = 1;
    return sv_error_set(err, SV_ERR_IO, "%s: %s (cfitsio: %s)", cat->path, what, txt);
}

static const char *const own_help[] = {
    "real/bogus score P(real); NaN: not scored", "score >= rb_threshold",
    "probability of the class", "most probable class", "stamp-quality bitmask (FLAGn cards)",
    "fraction of bad stamp values", "stamp centre x, 1-based FITS pixel",
    "stamp centre y, 1-based FITS pixel", "science stamp, raw", "reference stamp, raw",
    "difference stamp, raw"};

static int write_prov(fitsfile *fp, const sv_provenance *prov, int *status)
{
    for (int i = 0; prov && i < prov->n && !*status; i++) {
        const sv_prov_card *c = &prov->card[i];
        const char *cm = c->comment[0] ? c->comment : NULL;
        if (c->type == 'd') {
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

static int create_stamps_hdu(sv_catalog *cat, int *status)
{
    const sv_out_schema *o = &cat->out;
    int S = o->stamp_size;
    char fpix[32];
    snprintf(fpix, sizeof fpix, "%dE", S * S);
    char *ttype[] = {"ID", "SCI", "REF", "DIFF", "LABEL", "LABELNAM", "X", "Y", "FLAGS"};
    char *tform[] = {"1K", fpix, fpix, fpix, "1J", "16A", "1D", "1D", "1J"};
    char *tunit[] = {"", (char *)o->bunit, (char *)o->bunit, (char *)o->bunit, "", "",
                     "pix", "pix", ""};
    fits_create_tbl(cat->fp, BINARY_TBL, (LONGLONG)cat->nrows, 9, ttype, tform, tunit,
                    "STAMPS", status);
    long dims[2] = {S, S};
    for (int c = 2; c <= 4; c++)
        fits_write_tdim(cat->fp, c, 2, dims, status);
    fits_update_key_str(cat->fp, "SVFORMAT", "stampvet-stamps", "labelled-stamps table",
                        status);
    int v = 1;
    fits_update_key(cat->fp, TINT, "SVFMTVER", &v, "format version", status);
    fits_update_key(cat->fp, TINT, "STAMPSZ", &S, "stamp side, pixels", status);
    fits_update_key_str(cat->fp, "CHANNELS", "SCI,REF,DIFF", "stamp columns", status);
    v = 0;
    fits_update_key(cat->fp, TINT, "NCLASS", &v, "unlabelled", status);
    fits_update_key_str(cat->fp, "SURVEY", o->survey, NULL, status);
    fits_update_key_str(cat->fp, "BAND", o->band, NULL, status);
    double ps = o->pixscale;
    fits_update_key(cat->fp, TDOUBLE, "PIXSCALE", &ps, "arcsec/pixel of the stamps, 0 unknown",
                    status);
    fits_update_key_str(cat->fp, "BUNIT", o->bunit[0] ? o->bunit : "DN", NULL, status);
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

    /* DETECTIONS: input columns, then the stage's */
    int nown = sv_out_schema_ncols(out), ncols = in->ncols + nown;
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
    int S = out->stamp_size;
    for (int k = 0; k < nown; k++) {
        const char *name = sv_out_schema_colname(out, k);
        const char *unit = "";
        if (!strcmp(name, "REAL")) {
            strcpy(own_form[k], "1L");
            own_bytes += 1;
        } else if (!strcmp(name, "CLASS") && k > 1) {
            snprintf(own_form[k], sizeof own_form[k], "%dA", out->label_width);
            own_bytes += (size_t)out->label_width;
        } else if (!strcmp(name, "FLAGS") && k > 1) {
            strcpy(own_form[k], "1J");
            own_bytes += 4;
        } else if (!strcmp(name, "LC_CLASS") && k >= ncols_base(out)) {
            snprintf(own_form[k], sizeof own_form[k], "%dA", out->lc_label_width);
            own_bytes += (size_t)out->lc_label_width;
        } else if (!strcmp(name, "LC_FLAGS") && k >= ncols_base(out)) {
            strcpy(own_form[k], "1J");
            own_bytes += 4;
        } else if ((!strcmp(name, "XPIX") || !strcmp(name, "YPIX")) && k > 1) {
            strcpy(own_form[k], "1D");
            unit = "pix";
            own_bytes += 8;
        } else if ((!strcmp(name, "SCI") || !strcmp(name, "REF") || !strcmp(name, "DIFF")) &&
                   k > 1) {
            snprintf(own_form[k], sizeof own_form[k], "%dE", S * S);
            unit = out->bunit;
            own_bytes += (size_t)S * S * 4;
        } else {
            strcpy(own_form[k], "1E");
            own_bytes += 4;
        }
        ttype[in->ncols + k] = (char *)name;
        tform[in->ncols + k] = own_form[k];
        tunit[in->ncols + k] = (char *)unit;
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
    /* describe the stage's columns */
    for (int k = 0; k < nown && !status; k++) {
        char key[FLEN_KEYWORD];
        const char *name = sv_out_schema_colname(out, k);
        int hk;
        if (k == 0)
            hk = 0;
        else if (k == 1)
            hk = 1;
        else if (k - 2 < out->n_classes)
            hk = 2;
        else {
            int t = k - 2 - out->n_classes - (out->n_classes > 0 ? 1 : 0);
            hk = t < 0 ? 3 : 4 + t;
        }
        snprintf(key, sizeof key, "TTYPE%d", in->ncols + k + 1);
        char cm[FLEN_COMMENT];
        if (k >= ncols_base(out)) { /* light-curve columns (lc_stage.h) */
            int j = k - ncols_base(out);
            if (j < out->n_lc)
                snprintf(cm, sizeof cm, "light-curve P(%s)", out->lc_name[j]);
            else
                snprintf(cm, sizeof cm, "%s", j == out->n_lc
                                                  ? "most probable light-curve class"
                                                  : "light-curve flags: 1 NOHIST 2 NODET 4 "
                                                    "NOKEY 8 NOTABLE");
            fits_modify_comment(cat->fp, key, cm, &status);
            continue;
        }
        if (hk == 2)
            snprintf(cm, sizeof cm, "P(%s)", out->class_name[k - 2]);
        else
            snprintf(cm, sizeof cm, "%s", own_help[hk]);
        fits_modify_comment(cat->fp, key, cm, &status);
        if (!strcmp(name, "SCI") || !strcmp(name, "REF") || !strcmp(name, "DIFF")) {
            long dims[2] = {S, S};
            if (hk >= 8)
                fits_write_tdim(cat->fp, in->ncols + k + 1, 2, dims, &status);
        }
    }
    write_prov(cat->fp, prov, &status);
    for (int b = 0; b < SV_N_FLAGS && !status; b++) {
        char key[FLEN_KEYWORD];
        snprintf(key, sizeof key, "FLAG%u", sv_flag_docs[b].bit);
        fits_update_key_str(cat->fp, key, sv_flag_docs[b].name, sv_flag_docs[b].meaning,
                            &status);
    }
    fits_write_comment(cat->fp, "FLAGS bits: keyword FLAGn names the bit of value n.", &status);
    fits_write_date(cat->fp, &status);
    if (!status)
        fits_set_hdustruc(cat->fp, &status);
    if (!status && out->stamps == SV_SAVE_EXTENSION) {
        create_stamps_hdu(cat, &status);
        write_prov(cat->fp, prov, &status);
        if (!status)
            fits_movabs_hdu(cat->fp, 2, NULL, &status);
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
    int col = cat->in_ncols + 1;
    const sv_out_schema *o = &cat->out;
    float *tmp = malloc((size_t)n * sizeof *tmp);
    char *logic = malloc((size_t)n);
    char **names = malloc((size_t)n * sizeof *names);
    int32_t *lab = malloc((size_t)n * sizeof *lab);
    if (!tmp || !logic || !names || !lab) {
        free(lab);
        free(tmp);
        free(logic);
        free(names);
        cat->failed = 1;
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", cat->path);
    }
    fits_write_col(cat->fp, TFLOAT, col++, first, 1, n, r->rb, &status);
    for (int i = 0; i < n; i++)
        logic[i] = r->real[i] ? 1 : 0;
    fits_write_col(cat->fp, TLOGICAL, col++, first, 1, n, logic, &status);
    if (o->n_classes > 0) {
        for (int k = 0; k < o->n_classes; k++) {
            for (int i = 0; i < n; i++)
                tmp[i] = r->prob[(size_t)i * o->n_classes + k];
            fits_write_col(cat->fp, TFLOAT, col++, first, 1, n, tmp, &status);
        }
        static char empty[] = "";
        for (int i = 0; i < n; i++)
            names[i] = r->label[i] >= 0 && r->label[i] < o->n_classes
                           ? (char *)o->class_name[r->label[i]]
                           : empty;
        fits_write_col(cat->fp, TSTRING, col++, first, 1, n, names, &status);
    }
    fits_write_col(cat->fp, TINT, col++, first, 1, n, r->flags, &status);
    fits_write_col(cat->fp, TFLOAT, col++, first, 1, n, r->badfrac, &status);
    fits_write_col(cat->fp, TDOUBLE, col++, first, 1, n, r->xpix, &status);
    fits_write_col(cat->fp, TDOUBLE, col++, first, 1, n, r->ypix, &status);
    LONGLONG npix = (LONGLONG)n * o->stamp_size * o->stamp_size;
    if (o->stamps == SV_SAVE_COLUMNS)
        for (int c = 0; c < 3; c++)
            fits_write_col(cat->fp, TFLOAT, col++, first, 1, npix, r->stamp[c], &status);
    if (o->n_lc > 0 && r->lc_prob && r->lc_label && r->lc_flags) { /* lc_stage.h */
        for (int k = 0; k < o->n_lc; k++) {
            for (int i = 0; i < n; i++)
                tmp[i] = r->lc_prob[(size_t)i * o->n_lc + k];
            fits_write_col(cat->fp, TFLOAT, col++, first, 1, n, tmp, &status);
        }
        static char empty_lc[] = "";
        for (int i = 0; i < n; i++)
            names[i] = r->lc_label[i] >= 0 && r->lc_label[i] < o->n_lc
                           ? (char *)o->lc_name[r->lc_label[i]]
                           : empty_lc;
        fits_write_col(cat->fp, TSTRING, col++, first, 1, n, names, &status);
        fits_write_col(cat->fp, TINT, col++, first, 1, n, r->lc_flags, &status);
    }
    if (o->stamps == SV_SAVE_EXTENSION && !status) {
        fits_movabs_hdu(cat->fp, 3, NULL, &status);
        fits_write_col(cat->fp, TLONGLONG, 1, first, 1, n, r->id, &status);
        for (int c = 0; c < 3; c++)
            fits_write_col(cat->fp, TFLOAT, 2 + c, first, 1, npix, r->stamp[c], &status);
        for (int i = 0; i < n; i++)
            lab[i] = -1;
        fits_write_col(cat->fp, TINT, 5, first, 1, n, lab, &status);
        static char none[] = "";
        for (int i = 0; i < n; i++)
            names[i] = none;
        fits_write_col(cat->fp, TSTRING, 6, first, 1, n, names, &status);
        fits_write_col(cat->fp, TDOUBLE, 7, first, 1, n, r->xpix, &status);
        fits_write_col(cat->fp, TDOUBLE, 8, first, 1, n, r->ypix, &status);
        fits_write_col(cat->fp, TINT, 9, first, 1, n, r->flags, &status);
        fits_movabs_hdu(cat->fp, 2, NULL, &status);
    }
    free(lab);
    free(tmp);
    free(logic);
    free(names);
    if (status)
        return cat_fail(cat, err, "cannot write rows (disk full?)", status);
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
    fits_get_num_hdus(cat->fp, &nhdu, &status);
    for (int h = 1; h <= nhdu && !status; h++) {
        fits_movabs_hdu(cat->fp, h, NULL, &status);
        fits_write_chksum(cat->fp, &status);
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
    free(cat);
}
