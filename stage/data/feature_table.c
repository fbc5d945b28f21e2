/* feature_table.c — see feature_table.h.
 *
 * Every cell is kept as text (FITS numbers formatted losslessly with %.17g
 * or %lld) and converted when a feature is looked up, so CSV and FITS tables
 * behave the same.
 */
#include "data/feature_table.h"
#include "fits/fits_guard.h"
#include "fits/fits_error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fitsio.h>

struct sv_feature_table {
    char path[512];
    long n_rows;
    int n_cols;
    char **names;   /* n_cols                              */
    char **cells;   /* n_rows * n_cols, row-major; NULL = not a scalar */
    int id_col;     /* -1 when none                        */
};

static const char *const ft_id_names[] = {"id", "candid", "ID", "CANDID"};

/* ---- values ------------------------------------------------------------ */

/* Parse a whole-string number.  Returns 0 or -1. */
static int ft_number(const char *s, float *v)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    errno = 0;
    double d = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (*end || errno == ERANGE || !isfinite(d) || fabs(d) > 3.0e38)
        return -1;
    *v = (float)d;
    return 0;
}

int sv_features_parse(const sv_model *m, const char *text, float *vec, sv_error *err)
{
    int given[SV_MAX_FEATURES] = {0};
    const char *p = text ? text : "";
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        char name[SV_LABEL_MAX], val[64];
        if (!eq)
            return sv_error_set(err, SV_ERR_ARG, "features: '%.*s' is not name=value", (int)len, p);
        size_t nl = (size_t)(eq - p), vl = len - nl - 1;
        while (nl > 0 && isspace((unsigned char)*p)) {
            p++;
            nl--;
        }
        while (nl > 0 && isspace((unsigned char)p[nl - 1]))
            nl--;
        if (nl == 0 || nl >= sizeof name)
            return sv_error_set(err, SV_ERR_ARG, "features: bad feature name in '%.*s'", (int)len,
                                p);
        if (vl >= sizeof val)
            return sv_error_set(err, SV_ERR_ARG, "features: value of '%.*s' too long", (int)nl, p);
        memcpy(name, p, nl);
        name[nl] = '\0';
        memcpy(val, eq + 1, vl);
        val[vl] = '\0';
        int j;
        for (j = 0; j < m->n_features; j++)
            if (!strcmp(m->features[j], name))
                break;
        if (j == m->n_features)
            return sv_error_set(err, SV_ERR_ARG, "features: model '%s' has no feature '%s'",
                                m->name, name);
        if (given[j])
            return sv_error_set(err, SV_ERR_ARG, "features: '%s' given twice", name);
        if (ft_number(val, &vec[j]))
            return sv_error_set(err, SV_ERR_ARG, "features: value of '%s' is not a finite "
                                "number: '%s'", name, val);
        given[j] = 1;
        if (!e)
            break;
        p = e + 1;
    }
    for (int j = 0; j < m->n_features; j++)
        if (!given[j])
            return sv_error_set(err, SV_ERR_ARG, "features: missing feature '%s' (model '%s' "
                                "needs %d features)", m->features[j], m->name, m->n_features);
    return 0;
}

/* ---- table ------------------------------------------------------------- */

void sv_feature_table_free(sv_feature_table *t)
{
    if (!t)
        return;
    for (int c = 0; c < t->n_cols; c++)
        free(t->names[c]);
    if (t->cells)
        for (long i = 0; i < t->n_rows * (long)t->n_cols; i++)
            free(t->cells[i]);
    free(t->names);
    free(t->cells);
    free(t);
}

long sv_feature_table_rows(const sv_feature_table *t) { return t->n_rows; }

const char *sv_feature_table_id_column(const sv_feature_table *t)
{
    return t->id_col >= 0 ? t->names[t->id_col] : NULL;
}

static void ft_find_id(sv_feature_table *t)
{
    t->id_col = -1;
    for (size_t k = 0; k < sizeof ft_id_names / sizeof *ft_id_names && t->id_col < 0; k++)
        for (int c = 0; c < t->n_cols; c++)
            if (!strcmp(t->names[c], ft_id_names[k])) {
                t->id_col = c;
                break;
            }
}

/* CSV: split one record starting at *pp (may span lines inside quotes).
 * Returns the number of fields (>= 1), 0 at end of input, -1 on a bad
 * quote, -2 out of memory.  Fields are appended to *f (grown as needed). */
/* Free the n fields csv_record stored before it failed; returns rc. */
static int csv_record_fail(char **f, int n, int rc)
{
    for (int i = 0; i < n; i++)
        free(f[i]);
    return rc;
}

/* One CSV record from *pp into (*f)[0..n-1] (each malloc'ed, *f grown as
 * needed).  Returns n, 0 at the end of the text, -1 on an unterminated
 * quote, -2 out of memory; on failure no field is left allocated. */
static int csv_record(const char **pp, char ***f, int *cap)
{
    const char *p = *pp;
    int n = 0;
    if (!*p)
        return 0;
    for (;;) {
        size_t cap_s = 64, len = 0;
        char *s = malloc(cap_s);
        if (!s)
            return csv_record_fail(*f, n, -2);
        int quoted = 0;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '"') {
            quoted = 1;
            p++;
        }
        for (;;) {
            char c = *p;
            if (quoted) {
                if (!c) {
                    free(s);
                    return csv_record_fail(*f, n, -1);
                }
                if (c == '"') {
                    if (p[1] == '"') {
                        p += 2;
                        c = '"';
                    } else {
                        p++;
                        quoted = 0;
                        continue;
                    }
                } else {
                    p++;
                }
            } else {
                if (!c || c == ',' || c == '\n' || c == '\r')
                    break;
                p++;
            }
            if (len + 2 > cap_s) {
                char *ns = realloc(s, cap_s *= 2);
                if (!ns) {
                    free(s);
                    return csv_record_fail(*f, n, -2);
                }
                s = ns;
            }
            s[len++] = c;
        }
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        s[len] = '\0';
        if (n >= *cap) {
            int nc = *cap ? *cap * 2 : 16;
            char **nf = realloc(*f, (size_t)nc * sizeof *nf);
            if (!nf) {
                free(s);
                return csv_record_fail(*f, n, -2);
            }
            *f = nf;
            *cap = nc;
        }
        (*f)[n++] = s;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '\r')
            p++;
        if (*p == '\n')
            p++;
        break;
    }
    *pp = p;
    return n;
}

static int ft_read_csv(sv_feature_table *t, const char *path, sv_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
        len += n;
        if (len + 1 >= cap) {
            if (cap > (1u << 30)) {
                free(buf);
                fclose(fp);
                return sv_error_set(err, SV_ERR_FORMAT, "%s: too large for a feature table", path);
            }
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(fp);
    if (!buf)
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return sv_error_set(err, SV_ERR_FORMAT, "%s: not a text (CSV) file", path);
    }

    const char *p = buf;
    char **f = NULL;
    int fcap = 0, nf, st = 0;
    long rcap = 0;
    /* skip leading blank and '#' comment lines */
    while (*p == '#' || *p == '\n' || *p == '\r') {
        while (*p && *p != '\n')
            p++;
        if (*p)
            p++;
    }
    nf = csv_record(&p, &f, &fcap);
    if (nf <= 0) {
        st = nf == -2 ? sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path)
                      : sv_error_set(err, SV_ERR_FORMAT, "%s: no header line", path);
        goto done;
    }
    t->n_cols = nf;
    t->names = f;
    f = NULL;
    fcap = 0;
    for (int c = 0; c < t->n_cols; c++)
        for (int d = 0; d < c; d++)
            if (!strcmp(t->names[c], t->names[d])) {
                st = sv_error_set(err, SV_ERR_FORMAT, "%s: column '%s' appears twice", path,
                                  t->names[c]);
                goto done;
            }
    for (;;) {
        while (*p == '\n' || *p == '\r')
            p++;
        nf = csv_record(&p, &f, &fcap);
        if (nf == 0)
            break;
        if (nf < 0) {
            st = nf == -2 ? sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path)
                          : sv_error_set(err, SV_ERR_FORMAT, "%s: record %ld: unterminated "
                                         "quote", path, t->n_rows + 1);
            goto done;
        }
        if (nf != t->n_cols) {
            for (int i = 0; i < nf; i++)
                free(f[i]);
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: record %ld has %d fields, the header %d",
                              path, t->n_rows + 1, nf, t->n_cols);
            goto done;
        }
        if (t->n_rows >= rcap) {
            long nc = rcap ? rcap * 2 : 64;
            char **ncells = realloc(t->cells, (size_t)nc * (size_t)t->n_cols * sizeof *ncells);
            if (!ncells) {
                for (int i = 0; i < nf; i++)
                    free(f[i]);
                st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
            t->cells = ncells;
            rcap = nc;
        }
        memcpy(t->cells + t->n_rows * t->n_cols, f, (size_t)nf * sizeof *f);
        t->n_rows++;
    }
done:
    free(f);
    free(buf);
    return st;
}

static int ft_read_fits(sv_feature_table *t, const char *path, sv_error *err)
{
    fitsfile *fp = NULL;
    int status = 0, ncols = 0, st = 0;
    long nrows = 0;
    if (sv_fits_guard_file(path, err))
        return err ? err->status : SV_ERR_FORMAT;
    if (fits_open_table(&fp, path, READONLY, &status))
        return sv_fits_fail(err, SV_ERR_FORMAT, path, "cannot open a table HDU", status);
    if (fits_get_num_rows(fp, &nrows, &status) || fits_get_num_cols(fp, &ncols, &status)) {
        st = sv_fits_fail(err, SV_ERR_FORMAT, path, "cannot read the table size", status);
        goto done;
    }
    if (ncols <= 0 || nrows < 0 || nrows > 100000000L) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: table with %d columns and %ld rows", path,
                          ncols, nrows);
        goto done;
    }
    t->n_cols = ncols;
    t->n_rows = nrows;
    t->names = calloc((size_t)ncols, sizeof *t->names);
    t->cells = calloc((size_t)nrows * (size_t)ncols + 1, sizeof *t->cells);
    if (!t->names || !t->cells) {
        st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int c = 0; c < ncols; c++) {
        char key[FLEN_KEYWORD], name[FLEN_VALUE] = "";
        int typecode;
        long repeat, width;
        snprintf(key, sizeof key, "TTYPE%d", c + 1);
        if (fits_read_key(fp, TSTRING, key, name, NULL, &status)) {
            status = 0;
            snprintf(name, sizeof name, "col%d", c + 1);
        }
        if (!(t->names[c] = strdup(name)) ||
            fits_get_eqcoltype(fp, c + 1, &typecode, &repeat, &width, &status)) {
            st = status ? sv_fits_fail(err, SV_ERR_FORMAT, path, "cannot read a column type", status)
                        : sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        int is_str = typecode == TSTRING;
        if (!is_str && repeat != 1)
            continue; /* vector column: not a scalar feature (cells stay NULL) */
        for (long r = 0; r < nrows; r++) {
            char buf[128];
            int anynul = 0;
            if (is_str) {
                char sval[1024] = "";
                char *sp = sval;
                if (width >= (long)sizeof sval)
                    break;
                if (fits_read_col_str(fp, c + 1, r + 1, 1, 1, "", &sp, &anynul, &status)) {
                    st = sv_fits_fail(err, SV_ERR_FORMAT, path, "cannot read a string column", status);
                    goto done;
                }
                t->cells[r * ncols + c] = strdup(sval);
            } else if (typecode == TFLOAT || typecode == TDOUBLE || typecode == TCOMPLEX ||
                       typecode == TDBLCOMPLEX) {
                double d = 0;
                if (fits_read_col(fp, TDOUBLE, c + 1, r + 1, 1, 1, NULL, &d, &anynul, &status)) {
                    st = sv_fits_fail(err, SV_ERR_FORMAT, path, "cannot read a column", status);
                    goto done;
                }
                snprintf(buf, sizeof buf, "%.17g", d);
                t->cells[r * ncols + c] = strdup(isfinite(d) ? buf : "");
            } else {
                LONGLONG v = 0;
                if (fits_read_col(fp, TLONGLONG, c + 1, r + 1, 1, 1, NULL, &v, &anynul, &status)) {
                    st = sv_fits_fail(err, SV_ERR_FORMAT, path, "cannot read a column", status);
                    goto done;
                }
                snprintf(buf, sizeof buf, "%lld", (long long)v);
                t->cells[r * ncols + c] = strdup(buf);
            }
            if (!t->cells[r * ncols + c]) {
                st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
        }
    }
done:
    status = 0;
    fits_close_file(fp, &status);
    return st;
}

static int ft_is_fits_name(const char *path)
{
    static const char *const ext[] = {".fits", ".fit", ".fts", ".fits.gz", ".fit.gz",
                                      ".fts.gz", ".fits.fz", ".FITS", ".FIT", ".FTS"};
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && !strcmp(path + n - e, ext[i]))
            return 1;
    }
    return 0;
}

int sv_feature_table_read(const char *path, sv_feature_table **out, sv_error *err)
{
    *out = NULL;
    sv_feature_table *t = calloc(1, sizeof *t);
    if (!t)
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    snprintf(t->path, sizeof t->path, "%s", path);
    int st = ft_is_fits_name(path) ? ft_read_fits(t, path, err) : ft_read_csv(t, path, err);
    if (st) {
        sv_feature_table_free(t);
        return st;
    }
    ft_find_id(t);
    *out = t;
    return 0;
}

int sv_feature_table_get(const sv_feature_table *t, const sv_model *m, long row, const char *id,
                         float *vec, sv_error *err)
{
    long r = row;
    if (t->id_col >= 0 && id) {
        for (r = 0; r < t->n_rows; r++) {
            const char *c = t->cells[r * t->n_cols + t->id_col];
            if (c && !strcmp(c, id))
                break;
        }
        if (r == t->n_rows)
            return sv_error_set(err, SV_ERR_ARG, "%s: no row with %s = '%s'", t->path,
                                t->names[t->id_col], id);
    } else if (r < 0 || r >= t->n_rows) {
        return sv_error_set(err, SV_ERR_ARG, "%s: no row %ld (the table has %ld rows and no id "
                            "or candid column)", t->path, r + 1, t->n_rows);
    }
    for (int j = 0; j < m->n_features; j++) {
        int c;
        for (c = 0; c < t->n_cols; c++)
            if (!strcmp(t->names[c], m->features[j]))
                break;
        if (c == t->n_cols)
            return sv_error_set(err, SV_ERR_ARG, "%s: missing feature '%s' (no such column; "
                                "model '%s' needs it)", t->path, m->features[j], m->name);
        const char *cell = t->cells[r * t->n_cols + c];
        if (!cell)
            return sv_error_set(err, SV_ERR_ARG, "%s: feature column '%s' is not a scalar",
                                t->path, m->features[j]);
        if (ft_number(cell, &vec[j]))
            return sv_error_set(err, SV_ERR_ARG, "%s: row %ld: feature '%s' is not a finite "
                                "number: '%s'", t->path, r + 1, m->features[j], cell);
    }
    return 0;
}
