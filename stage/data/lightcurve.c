/* lightcurve.c — light-curve sets: readers (light-curve table, ZTF
 * prv_candidates form, in-memory history tables) and the writer.  See
 * lightcurve.h. */
#include "data/lightcurve.h"
#include "data/det_table.h"
#include "fits/fits_dates.h"
#include "fits/fits_guard.h"

#include "core/atomic_file.h"
#include "fits/fits_error.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

sv_lc_read_options sv_lc_read_defaults(void)
{
    sv_lc_read_options o;
    memset(&o, 0, sizeof o);
    o.zp_fallback = 26.3;
    o.zp_fixed = NAN;
    o.use_t_alert = 1;
    o.id_column = NULL;
    return o;
}

void sv_lc_mag_to_flux(double mag, double sigma, double zp, int sign, float *flux,
                       float *fluxerr)
{
    double f = pow(10.0, -0.4 * (mag - zp));
    if (flux)
        *flux = (float)(sign < 0 ? -f : f);
    if (fluxerr)
        *fluxerr = (float)(0.4 * log(10.0) * f * fabs(sigma));
}

/* ---- column access over a dia_table ------------------------------------------ */

static const dia_column *col_find(const dia_table *t, const char *const *names)
{
    const dia_column *c = NULL;
    for (int a = 0; names[a] && !c; a++)
        c = sv_table_column(t, names[a]);
    return c;
}

/* ---- building a set from rows ------------------------------------------------- */

typedef struct lc_row {
    char id[SV_LC_ID_LEN];
    long row;
    double t;
    int band;
    float flux, err;
    uint8_t ulim;
} lc_row;

static int row_cmp(const void *a, const void *b)
{
    const lc_row *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->row < y->row ? -1 : (x->row > y->row);
}

static const char *const band_order = "ugrizy";

static int band_rank(const char *b)
{
    if (strlen(b) == 1) {
        const char *p = strchr(band_order, b[0]);
        if (p)
            return (int)(p - band_order);
    }
    return 100;
}

typedef struct cand_first {
    long first_row;
    long start, count; /* in the sorted rows */
} cand_first;

static int cand_cmp(const void *a, const void *b)
{
    const cand_first *x = a, *y = b;
    return x->first_row < y->first_row ? -1 : (x->first_row > y->first_row);
}

static const char *const id_names[] = {"CANDID", "OBJECTID", "OBJECT_ID", "SNID", "ID", NULL};
static const char *const id_names_ztf[] = {"OBJECTID", "OBJECT_ID", "SNID", "ID", NULL};

int sv_lc_from_table(const dia_table *t, const sv_lc_read_options *opt_in, const char *what,
                     sv_lc_set *s, sv_error *err)
{
    sv_lc_read_options opt = opt_in ? *opt_in : sv_lc_read_defaults();
    memset(s, 0, sizeof *s);
    if (!what)
        what = "history table";
    if (!t || t->nrows < 0 || (t->ncols > 0 && !t->cols))
        return sv_error_set(err, SV_ERR_ARG, "%s: no table", what);
    for (int c = 0; c < t->ncols; c++)
        if (!t->cols[c].data && t->nrows > 0)
            return sv_error_set(err, SV_ERR_ARG, "%s: column '%s' has no data", what,
                                t->cols[c].name ? t->cols[c].name : "?");
    long n = (long)t->nrows;
    static const char *const jd_n[] = {"JD", NULL}, *const mjd_n[] = {"MJD", NULL},
                             *const time_n[] = {"TIME", "MJD_OBS", NULL};
    static const char *const band_n[] = {"BAND", "FILTER", "PASSBAND", NULL},
                             *const fid_n[] = {"FID", NULL};
    static const char *const flux_n[] = {"FLUX", "FLUXCAL", NULL},
                             *const ferr_n[] = {"FLUXERR", "FLUX_ERR", "FLUXCALERR",
                                                "SIGMAFLUX", NULL};
    static const char *const ul_n[] = {"ULIM", "UPPERLIM", "UPPER_LIMIT", "ISUL", NULL};

    const dia_column *cmag = sv_table_column(t, "magpsf"), *cdml = sv_table_column(t, "diffmaglim");
    int ztf = cmag && cdml && !col_find(t, flux_n);
    const dia_column *cid = NULL;
    if (opt.id_column && opt.id_column[0]) {
        cid = sv_table_column(t, opt.id_column);
        if (!cid)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: no identifier column '%s'", what,
                                opt.id_column);
    } else {
        /* in the ZTF form candid is null for upper limits: prefer objectId */
        cid = col_find(t, ztf ? id_names_ztf : id_names);
    }
    int time_jd = 0;
    const dia_column *ctime = col_find(t, mjd_n);
    if (!ctime && (ctime = col_find(t, jd_n)))
        time_jd = 1;
    if (!ctime)
        ctime = col_find(t, time_n);
    if (!ctime)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: no time column (MJD, JD or TIME)", what);
    const dia_column *cband = col_find(t, band_n), *cfid = col_find(t, fid_n);
    if (!cband && !cfid)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: no band column (BAND, FILTER or FID)",
                            what);
    const dia_column *cflux = NULL, *cerr = NULL, *cul = NULL, *csig = NULL, *cpos = NULL,
                     *czp = NULL;
    if (ztf) {
        csig = sv_table_column(t, "sigmapsf");
        cpos = sv_table_column(t, "isdiffpos");
        czp = sv_table_column(t, "magzpsci");
        if (!csig)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: ZTF form without a sigmapsf column",
                                what);
    } else {
        cflux = col_find(t, flux_n);
        cerr = col_find(t, ferr_n);
        cul = col_find(t, ul_n);
        if (!cflux || !cerr)
            return sv_error_set(err, SV_ERR_FORMAT,
                                "%s: neither a light-curve table (FLUX, FLUXERR columns) nor "
                                "the ZTF form (jd, fid, magpsf, sigmapsf, diffmaglim, "
                                "isdiffpos, magzpsci)",
                                what);
    }

    lc_row *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *rows);
    if (!rows)
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory for %ld rows", what, n);
    int st = 0;

    /* bands: collect names, then order u g r i z y first */
    char bnames[SV_LC_MAX_BANDS][SV_LC_BAND_LEN];
    int nb = 0;
    int *rband = malloc((size_t)(n > 0 ? n : 1) * sizeof *rband);
    if (!rband) {
        free(rows);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", what);
    }
    for (long r = 0; r < n && !st; r++) {
        char b[SV_LC_BAND_LEN + 8] = "";
        if (cband) {
            sv_column_cell_str(cband, r, b, sizeof b);
        } else {
            double f = sv_column_cell_num(cfid, r);
            static const char *const zb[] = {"?", "g", "r", "i"};
            if (!(f >= 1 && f <= 3) || f != floor(f)) {
                st = sv_error_set(err, SV_ERR_FORMAT, "%s: row %ld: fid %g is not a ZTF filter "
                                  "id (1 g, 2 r, 3 i)", what, r + 1, f);
                break;
            }
            snprintf(b, sizeof b, "%s", zb[(int)f]);
        }
        if (!b[0] || strlen(b) >= SV_LC_BAND_LEN) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: row %ld: band '%s' is empty or longer "
                              "than %d characters", what, r + 1, b, SV_LC_BAND_LEN - 1);
            break;
        }
        int k;
        for (k = 0; k < nb; k++)
            if (!strcmp(bnames[k], b))
                break;
        if (k == nb) {
            if (nb == SV_LC_MAX_BANDS) {
                st = sv_error_set(err, SV_ERR_FORMAT, "%s: more than %d bands", what,
                                  SV_LC_MAX_BANDS);
                break;
            }
            snprintf(bnames[nb++], SV_LC_BAND_LEN, "%s", b);
        }
        rband[r] = k;
    }
    int perm[SV_LC_MAX_BANDS], inv[SV_LC_MAX_BANDS];
    for (int k = 0; k < nb; k++)
        perm[k] = k;
    for (int a = 1; a < nb; a++) /* insertion sort by (rank, first appearance) */
        for (int b = a; b > 0 && band_rank(bnames[perm[b]]) < band_rank(bnames[perm[b - 1]]);
             b--) {
            int x = perm[b];
            perm[b] = perm[b - 1];
            perm[b - 1] = x;
        }
    for (int k = 0; k < nb; k++)
        inv[perm[k]] = k;

    /* ZTF: median zero point per band for rows without magzpsci */
    double zp_band[SV_LC_MAX_BANDS];
    for (int k = 0; k < nb; k++)
        zp_band[k] = opt.zp_fallback;
    if (!st && ztf && czp && isnan(opt.zp_fixed)) {
        double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
        if (!v) {
            st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", what);
        } else {
            for (int k = 0; k < nb; k++) {
                long m = 0;
                for (long r = 0; r < n; r++)
                    if (rband[r] == k && isfinite(sv_column_cell_num(czp, r)))
                        v[m++] = sv_column_cell_num(czp, r);
                if (m) {
                    /* median by partial insertion is fine for alert sizes;
                     * use qsort for generality */
                    for (long a = 1; a < m; a++)
                        for (long b = a; b > 0 && v[b] < v[b - 1]; b--) {
                            double x = v[b];
                            v[b] = v[b - 1];
                            v[b - 1] = x;
                        }
                    zp_band[k] = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
                }
            }
            free(v);
        }
    }

    for (long r = 0; r < n && !st; r++) {
        lc_row *R = &rows[r];
        R->row = r;
        if (cid) {
            sv_column_cell_str(cid, r, R->id, sizeof R->id);
            if (!R->id[0]) {
                st = sv_error_set(err, SV_ERR_FORMAT, "%s: row %ld: empty or null candidate "
                                  "identifier in column '%s'", what, r + 1, cid->name);
                break;
            }
        } else {
            snprintf(R->id, sizeof R->id, "%s", "1");
        }
        double tt = sv_column_cell_num(ctime, r);
        if (!isfinite(tt)) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: row %ld: time '%s' is not finite", what,
                              r + 1, ctime->name);
            break;
        }
        R->t = time_jd ? tt - 2400000.5 : tt;
        R->band = inv[rband[r]];
        if (ztf) {
            double mag = sv_column_cell_num(cmag, r), sig = sv_column_cell_num(csig, r), lim = sv_column_cell_num(cdml, r);
            double zp = isfinite(opt.zp_fixed) ? opt.zp_fixed
                                               : (czp && isfinite(sv_column_cell_num(czp, r))
                                                      ? sv_column_cell_num(czp, r)
                                                      : zp_band[rband[r]]);
            if (isfinite(mag)) {
                int sign = 1;
                if (cpos) {
                    char p[16];
                    sv_column_cell_str(cpos, r, p, sizeof p);
                    if (p[0] == 'f' || p[0] == 'F' || p[0] == '0' || p[0] == 'n' ||
                        p[0] == 'N' || p[0] == '-')
                        sign = -1;
                }
                if (!isfinite(sig) || sig < 0) {
                    st = sv_error_set(err, SV_ERR_FORMAT, "%s: row %ld: sigmapsf %g is not a "
                                      "valid error", what, r + 1, sig);
                    break;
                }
                sv_lc_mag_to_flux(mag, sig, zp, sign, &R->flux, &R->err);
                R->ulim = 0;
            } else if (isfinite(lim)) {
                R->flux = (float)pow(10.0, -0.4 * (lim - zp));
                R->err = R->flux / 5.0f;
                R->ulim = 1;
            } else {
                st = sv_error_set(err, SV_ERR_FORMAT, "%s: row %ld: neither magpsf nor "
                                  "diffmaglim is given", what, r + 1);
                break;
            }
        } else {
            double f = sv_column_cell_num(cflux, r), e = sv_column_cell_num(cerr, r);
            R->ulim = cul ? (sv_column_cell_num(cul, r) != 0 && !isnan(sv_column_cell_num(cul, r))) : 0;
            if (cul && cul->type == DIA_COL_STRING) {
                char p[8];
                sv_column_cell_str(cul, r, p, sizeof p);
                R->ulim = p[0] == 'T' || p[0] == 't' || p[0] == '1';
            }
            if (!isfinite(f) || !(e >= 0) || !isfinite(e)) {
                st = sv_error_set(err, SV_ERR_FORMAT, "%s: row %ld: flux %g +- %g is not "
                                  "valid", what, r + 1, f, e);
                break;
            }
            R->flux = (float)f;
            R->err = (float)e;
        }
        if (!isfinite(R->flux) || !isfinite(R->err)) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: row %ld: the flux overflows", what,
                              r + 1);
            break;
        }
    }
    free(rband);
    if (st) {
        free(rows);
        return st;
    }
    qsort(rows, (size_t)n, sizeof *rows, row_cmp);

    /* candidates */
    long nc = 0;
    for (long r = 0; r < n; r++)
        if (r == 0 || strcmp(rows[r].id, rows[r - 1].id))
            nc++;
    cand_first *cf = malloc((size_t)(nc > 0 ? nc : 1) * sizeof *cf);
    if (!cf) {
        free(rows);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", what);
    }
    long k = -1;
    for (long r = 0; r < n; r++) {
        if (r == 0 || strcmp(rows[r].id, rows[r - 1].id)) {
            k++;
            cf[k].start = r;
            cf[k].count = 0;
            cf[k].first_row = rows[r].row;
        }
        cf[k].count++;
        if (rows[r].row < cf[k].first_row)
            cf[k].first_row = rows[r].row;
        if (cf[k].count > SV_LC_MAX_OBS) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: candidate '%s' has more than %d "
                              "observations", what, rows[r].id, SV_LC_MAX_OBS);
            break;
        }
    }
    if (!st) {
        qsort(cf, (size_t)nc, sizeof *cf, cand_cmp);
        st = sv_lc_set_alloc(s, nc, n, 0, err);
    }
    if (!st) {
        long o = 0;
        for (long c = 0; c < nc; c++) {
            sv_lc *L = &s->lc[c];
            snprintf(L->id, sizeof L->id, "%s", rows[cf[c].start].id);
            L->n = (int)cf[c].count;
            L->obs = s->obs_pool + o;
            for (long j = 0; j < cf[c].count; j++) {
                const lc_row *R = &rows[cf[c].start + j];
                sv_lc_obs *O = &s->obs_pool[o++];
                O->t = R->t;
                O->flux = R->flux;
                O->fluxerr = R->err;
                O->band = (int16_t)R->band;
                O->ulim = R->ulim;
            }
        }
        s->n_bands = nb;
        for (int b = 0; b < nb; b++)
            snprintf(s->bands[b], SV_LC_BAND_LEN, "%s", bnames[perm[b]]);
        snprintf(s->origin, sizeof s->origin, "%s", what);
    }
    free(cf);
    free(rows);
    return st;
}

/* ---- FITS ------------------------------------------------------------------------ */

typedef struct fits_cols {
    int n;
    dia_column *c;
    char (*names)[72];
    void **data;
} fits_cols;

static void fits_cols_free(fits_cols *fc)
{
    for (int i = 0; i < fc->n; i++)
        free(fc->data[i]);
    free(fc->c);
    free(fc->names);
    free(fc->data);
    memset(fc, 0, sizeof *fc);
}

/* Read every scalar column of the current HDU into dia_columns. */
static int read_columns(fitsfile *f, const char *path, const char *hdu, long *nrows,
                        fits_cols *fc, sv_error *err)
{
    int st = 0, ncol = 0;
    long nr = 0;
    memset(fc, 0, sizeof *fc);
    fits_get_num_rows(f, &nr, &st);
    fits_get_num_cols(f, &ncol, &st);
    if (st)
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot read the table size", st);
    if (nr < 0 || nr > 200000000L)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: HDU %s: absurd row count %ld", path, hdu,
                            nr);
    fc->c = calloc((size_t)(ncol > 0 ? ncol : 1), sizeof *fc->c);
    fc->names = calloc((size_t)(ncol > 0 ? ncol : 1), sizeof *fc->names);
    fc->data = calloc((size_t)(ncol > 0 ? ncol : 1), sizeof *fc->data);
    if (!fc->c || !fc->names || !fc->data) {
        fits_cols_free(fc);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t N = (size_t)(nr > 0 ? nr : 1);
    for (int c = 1; c <= ncol; c++) {
        char key[FLEN_KEYWORD], name[FLEN_VALUE] = "";
        int typecode = 0;
        long repeat = 0, width = 0;
        snprintf(key, sizeof key, "TTYPE%d", c);
        st = 0;
        fits_read_key(f, TSTRING, key, name, NULL, &st);
        if (st) {
            st = 0;
            continue;
        }
        fits_get_eqcoltype(f, c, &typecode, &repeat, &width, &st);
        if (st) {
            fits_cols_free(fc);
            return sv_fits_fail(err, SV_ERR_IO, path, "cannot read a column type", st);
        }
        dia_column *D = &fc->c[fc->n];
        void *buf = NULL;
        int anynul = 0;
        if (typecode == TSTRING) {
            if (width < 1 || width > 256)
                continue;
            char **ptrs = malloc(N * sizeof *ptrs);
            buf = calloc(N, (size_t)width + 1);
            if (!ptrs || !buf) {
                free(ptrs);
                free(buf);
                fits_cols_free(fc);
                return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
            }
            for (size_t r = 0; r < (size_t)nr; r++)
                ptrs[r] = (char *)buf + r * ((size_t)width + 1);
            if (nr > 0)
                fits_read_col(f, TSTRING, c, 1, 1, nr, "", ptrs, &anynul, &st);
            free(ptrs);
            D->type = DIA_COL_STRING;
            D->repeat = (int32_t)width + 1;
        } else if (repeat != 1) {
            continue; /* vector columns are not light-curve fields */
        } else if (typecode == TLOGICAL) {
            buf = calloc(N, 1);
            if (!buf) {
                fits_cols_free(fc);
                return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
            }
            char nul = 0;
            if (nr > 0)
                fits_read_col(f, TLOGICAL, c, 1, 1, nr, &nul, buf, &anynul, &st);
            D->type = DIA_COL_UINT8;
            D->repeat = 1;
        } else if (typecode == TLONGLONG || typecode == TLONG || typecode == TINT) {
            /* integers: keep 64-bit identifiers exact; nulls become NaN in a
             * parallel double read below only when needed */
            int64_t *v = malloc(N * sizeof *v);
            double *dv = malloc(N * sizeof *dv);
            if (!v || !dv) {
                free(v);
                free(dv);
                fits_cols_free(fc);
                return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
            }
            double dnul = NAN;
            int anyd = 0;
            if (nr > 0) {
                LONGLONG lnul = 0;
                fits_read_col(f, TLONGLONG, c, 1, 1, nr, &lnul, v, &anynul, &st);
                if (!st)
                    fits_read_col(f, TDOUBLE, c, 1, 1, nr, &dnul, dv, &anyd, &st);
            }
            if (anyd) { /* nulls: use the double version (NaN marks them) */
                free(v);
                buf = dv;
                D->type = DIA_COL_FLOAT64;
            } else {
                free(dv);
                buf = v;
                D->type = DIA_COL_INT64;
            }
            D->repeat = 1;
        } else {
            buf = malloc(N * sizeof(double));
            if (!buf) {
                fits_cols_free(fc);
                return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
            }
            double dnul = NAN;
            if (nr > 0)
                fits_read_col(f, TDOUBLE, c, 1, 1, nr, &dnul, buf, &anynul, &st);
            D->type = DIA_COL_FLOAT64;
            D->repeat = 1;
        }
        if (st) {
            free(buf);
            fits_cols_free(fc);
            char what[160];
            snprintf(what, sizeof what, "HDU %s: cannot read column '%s'", hdu, name);
            return sv_fits_fail(err, SV_ERR_IO, path, what, st);
        }
        snprintf(fc->names[fc->n], sizeof fc->names[0], "%s", name);
        D->name = fc->names[fc->n];
        D->data = buf;
        fc->data[fc->n] = buf;
        fc->n++;
    }
    *nrows = nr;
    return 0;
}

static int has_col(fitsfile *f, const char *name)
{
    int st = 0, col = 0;
    fits_get_colnum(f, CASEINSEN, (char *)name, &col, &st);
    if (st)
        fits_clear_errmsg();
    return st == 0;
}

/* Move to the light-curve HDU: LIGHTCURVE, else the first BINTABLE. */
static int goto_lc_hdu(fitsfile *f, int *ztf_only)
{
    int st = 0;
    *ztf_only = 0;
    if (!fits_movnam_hdu(f, BINARY_TBL, "LIGHTCURVE", 0, &st))
        return 0;
    fits_clear_errmsg();
    st = 0;
    int nhdu = 0;
    fits_get_num_hdus(f, &nhdu, &st);
    for (int h = 2; h <= nhdu && !st; h++) {
        int type = 0;
        fits_movabs_hdu(f, h, &type, &st);
        if (!st && type == BINARY_TBL) {
            *ztf_only = 1;
            return 0;
        }
    }
    fits_clear_errmsg();
    return -1;
}

int sv_lc_fits_is_lightcurve(const char *path)
{
    fitsfile *f = NULL;
    int st = 0, z = 0, yes = 0;
    if (!path)
        return 0;
    char spec[1100];
    snprintf(spec, sizeof spec, "file://%s", path);
    if (sv_fits_guard_file(path, NULL))
        return 0;
    if (fits_open_file(&f, spec, READONLY, &st)) {
        fits_clear_errmsg();
        return 0;
    }
    if (!goto_lc_hdu(f, &z)) {
        if (!z)
            yes = 1;
        else
            yes = has_col(f, "magpsf") && has_col(f, "diffmaglim") &&
                  (has_col(f, "jd") || has_col(f, "mjd"));
    }
    st = 0;
    fits_close_file(f, &st);
    fits_clear_errmsg();
    return yes;
}

static int read_candidates(fitsfile *f, const char *path, const sv_lc_read_options *opt,
                           sv_lc_set *s, sv_error *err)
{
    int st = 0;
    if (fits_movnam_hdu(f, BINARY_TBL, "CANDIDATES", 0, &st)) {
        fits_clear_errmsg();
        return 0; /* optional */
    }
    char v[FLEN_VALUE];
    st = 0;
    if (!fits_read_key(f, TSTRING, "SURVEY", v, NULL, &st))
        snprintf(s->survey, sizeof s->survey, "%.31s", v);
    st = 0;
    int ncl = 0;
    if (!fits_read_key(f, TINT, "NCLASS", &ncl, NULL, &st)) {
        if (ncl < 0 || ncl > SV_MAX_CLASSES)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: HDU CANDIDATES: NCLASS = %d not in "
                                "0..%d", path, ncl, SV_MAX_CLASSES);
        for (int c = 0; c < ncl; c++) {
            char key[32];
            snprintf(key, sizeof key, "CLASS%d", c + 1);
            st = 0;
            if (fits_read_key(f, TSTRING, key, v, NULL, &st) || !v[0] ||
                strlen(v) >= SV_LABEL_MAX)
                return sv_error_set(err, SV_ERR_FORMAT, "%s: HDU CANDIDATES: card %s missing "
                                    "or invalid", path, key);
            snprintf(s->classes[c], SV_LABEL_MAX, "%s", v);
        }
        s->n_classes = ncl;
    }
    fits_clear_errmsg();
    /* metadata names from NMETA / METAn */
    char mnames[SV_LC_MAX_META][SV_LABEL_MAX];
    int nm = -1;
    st = 0;
    if (!fits_read_key(f, TINT, "NMETA", &nm, NULL, &st)) {
        if (nm < 0 || nm > SV_LC_MAX_META)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: HDU CANDIDATES: NMETA = %d not in "
                                "0..%d", path, nm, SV_LC_MAX_META);
        for (int c = 0; c < nm; c++) {
            char key[32];
            snprintf(key, sizeof key, "META%d", c + 1);
            st = 0;
            if (fits_read_key(f, TSTRING, key, v, NULL, &st) || !v[0] ||
                strlen(v) >= SV_LABEL_MAX)
                return sv_error_set(err, SV_ERR_FORMAT, "%s: HDU CANDIDATES: card %s missing "
                                    "or invalid", path, key);
            snprintf(mnames[c], SV_LABEL_MAX, "%s", v);
        }
    } else {
        nm = -1;
    }
    fits_clear_errmsg();
    long nr = 0;
    fits_cols fc;
    if ((st = read_columns(f, path, "CANDIDATES", &nr, &fc, err)))
        return st;
    dia_table t = {nr, fc.n, fc.c, 0, NULL};
    const dia_column *cid = opt->id_column && opt->id_column[0] ? sv_table_column(&t, opt->id_column)
                                                                : col_find(&t, id_names);
    const dia_column *ccls = sv_table_column(&t, "CLASS"), *clab = sv_table_column(&t, "LABEL");
    const dia_column *cta = sv_table_column(&t, "T_ALERT");
    if (!cid) {
        fits_cols_free(&fc);
        return sv_error_set(err, SV_ERR_FORMAT, "%s: HDU CANDIDATES has no identifier column",
                            path);
    }
    const dia_column *cm[SV_LC_MAX_META];
    if (nm >= 0) {
        for (int c = 0; c < nm; c++) {
            cm[c] = sv_table_column(&t, mnames[c]);
            if (!cm[c] || cm[c]->type == DIA_COL_STRING) {
                fits_cols_free(&fc);
                return sv_error_set(err, SV_ERR_FORMAT, "%s: HDU CANDIDATES: metadata column "
                                    "'%s' (META%d) missing or not numeric", path, mnames[c],
                                    c + 1);
            }
        }
    } else {
        nm = 0;
        for (int c = 0; c < fc.n; c++) {
            const dia_column *D = &fc.c[c];
            if (D == cid || D == clab || D == cta || D->type == DIA_COL_STRING ||
                !strncasecmp(D->name, "TRUE_", 5))
                continue;
            if (nm == SV_LC_MAX_META) {
                fits_cols_free(&fc);
                return sv_error_set(err, SV_ERR_FORMAT, "%s: HDU CANDIDATES: more than %d "
                                    "metadata columns", path, SV_LC_MAX_META);
            }
            snprintf(mnames[nm], SV_LABEL_MAX, "%.31s", D->name);
            cm[nm++] = D;
        }
    }
    /* metadata storage */
    float *pool = malloc((size_t)(s->n * nm > 0 ? s->n * nm : 1) * sizeof(float));
    if (!pool) {
        fits_cols_free(&fc);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    for (long i = 0; i < s->n * nm; i++)
        pool[i] = NAN;
    free(s->meta_pool);
    s->meta_pool = pool;
    s->n_meta = nm;
    for (int c = 0; c < nm; c++)
        snprintf(s->meta_names[c], SV_LABEL_MAX, "%s", mnames[c]);
    for (long i = 0; i < s->n; i++)
        s->lc[i].meta = pool + i * nm;
    st = sv_lc_set_index(s, err);
    for (long r = 0; r < nr && !st; r++) {
        char id[SV_LC_ID_LEN];
        sv_column_cell_str(cid, r, id, sizeof id);
        long i = sv_lc_find(s, id);
        if (i < 0)
            continue; /* a candidate without observations */
        sv_lc *L = &s->lc[i];
        for (int c = 0; c < nm; c++)
            L->meta[c] = (float)sv_column_cell_num(cm[c], r);
        if (cta && opt->use_t_alert)
            L->t_alert = sv_column_cell_num(cta, r);
        int lab = -1;
        if (ccls) {
            char cn[64];
            sv_column_cell_str(ccls, r, cn, sizeof cn);
            if (cn[0]) {
                int k;
                for (k = 0; k < s->n_classes; k++)
                    if (!strcmp(s->classes[k], cn))
                        break;
                if (k == s->n_classes) {
                    if (s->n_classes == SV_MAX_CLASSES || strlen(cn) >= SV_LABEL_MAX) {
                        st = sv_error_set(err, SV_ERR_FORMAT, "%s: HDU CANDIDATES row %ld: "
                                          "class '%s' cannot be added", path, r + 1, cn);
                        break;
                    }
                    snprintf(s->classes[s->n_classes++], SV_LABEL_MAX, "%s", cn);
                }
                lab = k;
            }
        } else if (clab) {
            double lv = sv_column_cell_num(clab, r);
            if (isfinite(lv) && lv >= 0) {
                if (lv >= s->n_classes || lv != floor(lv)) {
                    st = sv_error_set(err, SV_ERR_FORMAT, "%s: HDU CANDIDATES row %ld: LABEL "
                                      "%g not in 0..%d", path, r + 1, lv, s->n_classes - 1);
                    break;
                }
                lab = (int)lv;
            }
        }
        if (clab && ccls && lab >= 0) {
            double lv = sv_column_cell_num(clab, r);
            if (isfinite(lv) && lv >= 0 && (int)lv != lab && s->n_classes > 0) {
                st = sv_error_set(err, SV_ERR_FORMAT, "%s: HDU CANDIDATES row %ld: LABEL %g "
                                  "contradicts CLASS '%s'", path, r + 1, lv, s->classes[lab]);
                break;
            }
        }
        L->label = lab;
    }
    fits_cols_free(&fc);
    return st;
}

int sv_lc_read_fits(const char *path, const sv_lc_read_options *opt_in, sv_lc_set *s,
                    sv_error *err)
{
    sv_lc_read_options opt = opt_in ? *opt_in : sv_lc_read_defaults();
    memset(s, 0, sizeof *s);
    if (!path)
        return sv_error_set(err, SV_ERR_ARG, "light curves: no file");
    fitsfile *f = NULL;
    int st = 0, z = 0;
    char spec[1100];
    snprintf(spec, sizeof spec, "file://%s", path);
    if (sv_fits_guard_file(path, err))
        return err ? err->status : SV_ERR_FORMAT;
    if (fits_open_file(&f, spec, READONLY, &st))
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot open", st);
    if (goto_lc_hdu(f, &z)) {
        st = 0;
        fits_close_file(f, &st);
        return sv_error_set(err, SV_ERR_FORMAT, "%s: no LIGHTCURVE table and no binary table",
                            path);
    }
    char hduname[FLEN_VALUE] = "LIGHTCURVE";
    if (z) {
        int hn = 0;
        fits_get_hdu_num(f, &hn);
        snprintf(hduname, sizeof hduname, "%d", hn);
    }
    long nr = 0;
    fits_cols fc;
    int rst = read_columns(f, path, hduname, &nr, &fc, err);
    if (!rst) {
        dia_table t = {nr, fc.n, fc.c, 0, NULL};
        char what[700];
        snprintf(what, sizeof what, "%s: HDU %s", path, hduname);
        rst = sv_lc_from_table(&t, &opt, what, s, err);
        fits_cols_free(&fc);
    }
    if (!rst) {
        char v[FLEN_VALUE];
        st = 0;
        if (!fits_read_key(f, TSTRING, "SURVEY", v, NULL, &st))
            snprintf(s->survey, sizeof s->survey, "%.31s", v);
        fits_clear_errmsg();
        rst = read_candidates(f, path, &opt, s, err);
        snprintf(s->origin, sizeof s->origin, "%s", path);
    }
    st = 0;
    fits_close_file(f, &st);
    fits_clear_errmsg();
    if (rst)
        sv_lc_set_free(s);
    return rst;
}

/* ---- writer ------------------------------------------------------------------------ */


int sv_lc_write_fits(const sv_lc_set *s, const char *path, const char *const *extra_cards,
                     int n_truth, const char (*truth_names)[SV_LABEL_MAX], const float *truth,
                     sv_error *err)
{
    if (!s || !path)
        return sv_error_set(err, SV_ERR_ARG, "light curves: NULL argument");
    sv_atomic_file af; /* the temporary name (atomic_file.h) */
    if (sv_atomic_begin_name(&af, path, err))
        return err && err->status ? err->status : SV_ERR_IO;
    const char *tmp = af.tmp;
    char spec[sizeof af.tmp + 8];
    snprintf(spec, sizeof spec, "file://%s", tmp);
    fitsfile *f = NULL;
    int st = 0;
    unlink(tmp);
    if (fits_create_file(&f, spec, &st))
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot create", st);
    long naxes[1] = {0};
    fits_create_img(f, BYTE_IMG, 0, naxes, &st);
    fits_write_comment(f, "stampvet light-curve table: HDU LIGHTCURVE (one row per "
                          "observation) and CANDIDATES (one row per candidate); see "
                          "stage/lightcurve.h",
                       &st);
    sv_fits_write_chksum(f, &st);

    /* LIGHTCURVE */
    char *tt1[] = {"CANDID", "MJD", "BAND", "FLUX", "FLUXERR", "ULIM"};
    char idf[16], bf[16];
    snprintf(idf, sizeof idf, "%dA", SV_LC_ID_LEN - 1);
    snprintf(bf, sizeof bf, "%dA", SV_LC_BAND_LEN - 1);
    char *tf1[] = {idf, "D", bf, "E", "E", "L"};
    char *tu1[] = {"", "d", "", "uJy", "uJy", ""};
    fits_create_tbl(f, BINARY_TBL, 0, 6, tt1, tf1, tu1, "LIGHTCURVE", &st);
    if (s->survey[0])
        fits_update_key(f, TSTRING, "SURVEY", (void *)s->survey, "survey", &st);
    long row = 1;
    for (long i = 0; i < s->n && !st; i++) {
        const sv_lc *L = &s->lc[i];
        for (int j = 0; j < L->n && !st; j++, row++) {
            const sv_lc_obs *O = &L->obs[j];
            char *idp = (char *)L->id;
            char *bp = (char *)s->bands[O->band];
            char ul = O->ulim ? 1 : 0;
            double t = O->t;
            fits_write_col(f, TSTRING, 1, row, 1, 1, &idp, &st);
            fits_write_col(f, TDOUBLE, 2, row, 1, 1, &t, &st);
            fits_write_col(f, TSTRING, 3, row, 1, 1, &bp, &st);
            fits_write_col(f, TFLOAT, 4, row, 1, 1, (void *)&O->flux, &st);
            fits_write_col(f, TFLOAT, 5, row, 1, 1, (void *)&O->fluxerr, &st);
            fits_write_col(f, TLOGICAL, 6, row, 1, 1, &ul, &st);
        }
    }
    sv_fits_write_chksum(f, &st);

    /* CANDIDATES */
    int nm = s->n_meta, ncol = 4 + nm + n_truth;
    char **tt = calloc((size_t)ncol, sizeof *tt), **tf = calloc((size_t)ncol, sizeof *tf);
    char(*names)[72] = calloc((size_t)ncol, sizeof *names);
    if (!tt || !tf || !names) {
        free(tt);
        free(tf);
        free(names);
        st = 0;
        fits_close_file(f, &st);
        sv_atomic_abort(&af);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    char cf[16];
    snprintf(cf, sizeof cf, "%dA", SV_LABEL_MAX - 1);
    snprintf(names[0], 72, "CANDID");
    snprintf(names[1], 72, "CLASS");
    snprintf(names[2], 72, "LABEL");
    snprintf(names[3], 72, "T_ALERT");
    tf[0] = idf;
    tf[1] = cf;
    tf[2] = "J";
    tf[3] = "D";
    for (int c = 0; c < nm; c++) {
        snprintf(names[4 + c], 72, "%s", s->meta_names[c]);
        tf[4 + c] = "E";
    }
    for (int c = 0; c < n_truth; c++) {
        snprintf(names[4 + nm + c], 72, "TRUE_%s", truth_names[c]);
        tf[4 + nm + c] = "E";
    }
    for (int c = 0; c < ncol; c++)
        tt[c] = names[c];
    fits_create_tbl(f, BINARY_TBL, 0, ncol, tt, tf, NULL, "CANDIDATES", &st);
    int ncl = s->n_classes;
    fits_update_key(f, TINT, "NCLASS", &ncl, "number of classes", &st);
    for (int c = 0; c < ncl; c++) {
        char key[32];
        snprintf(key, sizeof key, "CLASS%d", c + 1);
        fits_update_key(f, TSTRING, key, (void *)s->classes[c], "class name (LABEL order)", &st);
    }
    fits_update_key(f, TINT, "NMETA", &nm, "number of metadata columns", &st);
    for (int c = 0; c < nm; c++) {
        char key[32];
        snprintf(key, sizeof key, "META%d", c + 1);
        fits_update_key(f, TSTRING, key, (void *)s->meta_names[c], "metadata column", &st);
    }
    int nb = s->n_bands;
    char bl[SV_LC_MAX_BANDS * SV_LC_BAND_LEN + 8] = "";
    for (int b = 0; b < nb; b++) {
        strcat(bl, b ? "," : "");
        strcat(bl, s->bands[b]);
    }
    fits_update_key(f, TSTRING, "BANDS", bl, "bands of the light curves", &st);
    if (s->survey[0])
        fits_update_key(f, TSTRING, "SURVEY", (void *)s->survey, "survey", &st);
    for (int e = 0; extra_cards && extra_cards[e] && !st; e++) {
        const char *eq = strchr(extra_cards[e], '=');
        if (!eq || eq == extra_cards[e] || eq - extra_cards[e] > 8)
            continue;
        char key[32];
        memcpy(key, extra_cards[e], (size_t)(eq - extra_cards[e]));
        key[eq - extra_cards[e]] = '\0';
        fits_update_key(f, TSTRING, key, (void *)(eq + 1), NULL, &st);
    }
    for (long i = 0; i < s->n && !st; i++) {
        const sv_lc *L = &s->lc[i];
        char *idp = (char *)L->id;
        char *cn = (char *)(L->label >= 0 && L->label < ncl ? s->classes[L->label] : "");
        int lab = L->label;
        double ta = L->t_alert;
        fits_write_col(f, TSTRING, 1, i + 1, 1, 1, &idp, &st);
        fits_write_col(f, TSTRING, 2, i + 1, 1, 1, &cn, &st);
        fits_write_col(f, TINT, 3, i + 1, 1, 1, &lab, &st);
        fits_write_col(f, TDOUBLE, 4, i + 1, 1, 1, &ta, &st);
        for (int c = 0; c < nm; c++)
            fits_write_col(f, TFLOAT, 5 + c, i + 1, 1, 1, &L->meta[c], &st);
        for (int c = 0; c < n_truth; c++)
            fits_write_col(f, TFLOAT, 5 + nm + c, i + 1, 1, 1, (void *)&truth[i * n_truth + c],
                           &st);
    }
    sv_fits_write_chksum(f, &st);
    free(tt);
    free(tf);
    free(names);
    int st2 = 0;
    fits_close_file(f, &st2);
    if (st || st2) {
        sv_atomic_abort(&af);
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot write", st ? st : st2);
    }
    return sv_atomic_commit(&af, err); /* fsync, rename */
}
