/* report_catalog.c — the stage-output page of `stampvet report`: the
 * annotated detection tables of `run` / `batch` (catalog.h).  See
 * report_pages.h. */
#include "train/report_pages.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/report_figures.h"
#include "data/stamp_table.h"

#define MAX_FLAGS 31
#define MAX_SCATTER 4

typedef struct cat {
    long n;
    double *rb, *x, *y;
    long *flags;
    char flag_name[MAX_FLAGS][24]; /* by bit number; "" unnamed */
    int has_stamps;
} cat;

static void cat_free(cat *c)
{
    free(c->rb);
    free(c->x);
    free(c->y);
    free(c->flags);
    memset(c, 0, sizeof *c);
}

static int read_cat(const char *path, cat *c, sv_error *err)
{
    memset(c, 0, sizeof *c);
    fitsfile *f = NULL;
    int st = 0;
    if (fits_open_file(&f, path, READONLY, &st))
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open (cfitsio %d)", path, st);
    if (fits_movnam_hdu(f, BINARY_TBL, "DETECTIONS", 0, &st)) {
        fits_close_file(f, &(int){0});
        return sv_error_set(err, SV_ERR_ARG,
                            "%s: no DETECTIONS table (not a stampvet run/batch output?)", path);
    }
    int ncol = 0, creal = 0, crb = 0, cfl = 0, cx = 0, cy = 0;
    fits_get_num_rows(f, &c->n, &st);
    fits_get_num_cols(f, &ncol, &st);
    fits_get_colnum(f, CASESEN, "REAL", &creal, &st);
    char flagcol[FLEN_VALUE] = "FLAGS"; /* catalog.h: FLAGCOL (sextractor: SV_FLAGS) */
    fits_read_key_str(f, "FLAGCOL", flagcol, NULL, &(int){0});
    fits_get_colnum(f, CASESEN, flagcol, &cfl, &st);
    fits_get_colnum(f, CASESEN, "XPIX", &cx, &st);
    fits_get_colnum(f, CASESEN, "YPIX", &cy, &st);
    char rbcol[FLEN_VALUE] = ""; /* the score column (catalog.h: RBCOL) */
    int s2 = 0;
    if (fits_read_key_str(f, "RBCOL", rbcol, NULL, &s2) ||
        fits_get_colnum(f, CASESEN, rbcol, &crb, &s2))
        crb = creal - 1; /* older outputs: the score came right before REAL */
    if (st || crb < 1) {
        fits_close_file(f, &(int){0});
        return sv_error_set(err, SV_ERR_ARG,
                            "%s: DETECTIONS lacks the stage's columns (score, REAL, FLAGS, "
                            "XPIX, YPIX)",
                            path);
    }
    for (int b = 0; b < MAX_FLAGS; b++) {
        char key[16], val[FLEN_VALUE];
        int s2 = 0;
        snprintf(key, sizeof key, "FLAG%lu", 1ul << b);
        if (!fits_read_key(f, TSTRING, key, val, NULL, &s2))
            snprintf(c->flag_name[b], sizeof c->flag_name[b], "%.23s", val);
    }
    size_t m = (size_t)(c->n > 0 ? c->n : 1);
    c->rb = malloc(m * sizeof *c->rb);
    c->x = malloc(m * sizeof *c->x);
    c->y = malloc(m * sizeof *c->y);
    c->flags = malloc(m * sizeof *c->flags);
    if (!c->rb || !c->x || !c->y || !c->flags)
        st = MEMORY_ALLOCATION;
    double dnull = NAN;
    if (!st && c->n > 0) {
        fits_read_col(f, TDOUBLE, crb, 1, 1, c->n, &dnull, c->rb, NULL, &st);
        fits_read_col(f, TLONG, cfl, 1, 1, c->n, NULL, c->flags, NULL, &st);
        fits_read_col(f, TDOUBLE, cx, 1, 1, c->n, &dnull, c->x, NULL, &st);
        fits_read_col(f, TDOUBLE, cy, 1, 1, c->n, &dnull, c->y, NULL, &st);
    }
    int s3 = 0;
    c->has_stamps = !fits_movnam_hdu(f, BINARY_TBL, "STAMPS", 0, &s3);
    fits_close_file(f, &(int){0});
    if (st) {
        cat_free(c);
        return sv_error_set(err, SV_ERR_IO, "%s: cannot read DETECTIONS (cfitsio %d)", path, st);
    }
    return 0;
}

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

int sv_report_catalog(int n, const char *const *paths, const sv_report_opts *o, sv_error *err)
{
    int st = sv_report_make_dir(o->outdir, err);
    if (st)
        return st;
    cat *cats = calloc((size_t)n, sizeof *cats);
    sv_html *h = sv_html_new(o->title ? o->title : "Stage output");
    if (!cats || !h) {
        free(cats);
        sv_html_free(h);
        return sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
    }
    long total = 0, scored = 0, flag_count[MAX_FLAGS] = {0}, unflagged = 0;
    long hist[SV_FIG_MAX_BINS] = {0}, cnt[SV_FIG_MAX_BINS];
    for (int f = 0; f < n && !st; f++) {
        if ((st = read_cat(paths[f], &cats[f], err)))
            break;
        cat *c = &cats[f];
        total += c->n;
        for (long i = 0; i < c->n; i++) {
            scored += !isnan(c->rb[i]);
            unflagged += c->flags[i] == 0;
            for (int b = 0; b < MAX_FLAGS; b++)
                flag_count[b] += (c->flags[i] >> b) & 1;
        }
        sv_fig_histogram(c->rb, NULL, (int)c->n, o->bins, 0, 1, cnt, NULL);
        for (int b = 0; b < o->bins; b++)
            hist[b] += cnt[b];
    }
    if (st)
        goto done;
    sv_html_para(h, "%d output table%s, %ld detections, %ld scored (%ld not: flagged stamps "
                    "the stage did not score).",
                 n, n == 1 ? "" : "s", total, scored, total - scored);
    sv_html_section(h, "Scores and flags");
    /* score histogram */
    sv_plot *p = sv_plot_new(560, 400, err);
    if (!p) {
        st = err->status;
        goto done;
    }
    double v[SV_FIG_MAX_BINS], vmax = 1;
    for (int b = 0; b < o->bins; b++) {
        v[b] = (double)hist[b];
        vmax = fmax(vmax, v[b]);
    }
    sv_axes a = {0, 1, o->log_hist ? 0.5 : 0, o->log_hist ? vmax * 2 : vmax * 1.08,
                 o->log_hist, "P(real)", "detections", "Real/bogus score", NULL, 0};
    sv_plot_axes(p, 0, 0, 1, 1, &a);
    sv_plot_steps(p, 0, 1, o->bins, v, sv_plot_color(0), 0.3);
    char cap[512];
    snprintf(cap, sizeof cap, "Histogram of the real/bogus score of the %ld scored detections "
                              "(%d bins%s).", scored, o->bins, o->log_hist ? ", log counts" : "");
    st = sv_html_figure(h, p, o->outdir, "catalog_scores", cap, err);
    sv_plot_free(p);
    if (st)
        goto done;
    /* flags breakdown */
    const char *names[MAX_FLAGS + 1];
    double bx[MAX_FLAGS + 1], bh[MAX_FLAGS + 1], fmax_c = 1;
    char unnamed[MAX_FLAGS][24];
    int nbar = 0;
    names[nbar] = "none";
    bh[nbar++] = (double)unflagged;
    for (int b = 0; b < MAX_FLAGS; b++) {
        if (!flag_count[b] && !cats[0].flag_name[b][0])
            continue;
        snprintf(unnamed[b], sizeof unnamed[b], "bit %d", b);
        names[nbar] = cats[0].flag_name[b][0] ? cats[0].flag_name[b] : unnamed[b];
        bh[nbar++] = (double)flag_count[b];
    }
    for (int i = 0; i < nbar; i++) {
        bx[i] = i;
        fmax_c = fmax(fmax_c, bh[i]);
    }
    p = sv_plot_new(560, 400, err);
    if (!p) {
        st = err->status;
        goto done;
    }
    sv_axes fa = {-0.6, nbar - 0.4, 0, fmax_c * 1.12, 0, NULL, "detections",
                  "Stamp-quality flags", names, nbar};
    sv_plot_axes(p, 0, 0, 1, 1, &fa);
    sv_plot_bars(p, bx, bh, nbar, 0.7, sv_plot_color(1));
    for (int i = 0; i < nbar; i++) {
        char t[32];
        snprintf(t, sizeof t, "%.0f", bh[i]);
        sv_plot_text(p, bx[i], bh[i] + fmax_c * 0.02, t, 9, 0.5, 0);
    }
    st = sv_html_figure(h, p, o->outdir, "catalog_flags",
                        "Detections carrying each stamp-quality flag (a detection may carry "
                        "several); none = clean stamps.",
                        err);
    sv_plot_free(p);
    if (st)
        goto done;
    /* detections on the exposure */
    sv_html_section(h, "Detections on the exposure");
    for (int f = 0; f < n && f < MAX_SCATTER && !st; f++) {
        cat *c = &cats[f];
        double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
        sv_rgb *col = malloc((size_t)(c->n > 0 ? c->n : 1) * sizeof *col);
        if (!col) {
            st = sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
            break;
        }
        for (long i = 0; i < c->n; i++) {
            if (isfinite(c->x[i]) && isfinite(c->y[i])) {
                x0 = fmin(x0, c->x[i]);
                x1 = fmax(x1, c->x[i]);
                y0 = fmin(y0, c->y[i]);
                y1 = fmax(y1, c->y[i]);
            }
            col[i] = isnan(c->rb[i]) ? (sv_rgb){0.75, 0.75, 0.75} : sv_viridis(c->rb[i]);
        }
        if (!(x1 >= x0)) {
            x0 = y0 = 0;
            x1 = y1 = 1;
        }
        p = sv_plot_new(640, 560, err);
        if (!p) {
            free(col);
            st = err->status;
            break;
        }
        char title[300];
        snprintf(title, sizeof title, "%s: %ld detections", base_name(paths[f]), c->n);
        sv_axes sa = {floor(x0 - 0.02 * (x1 - x0 + 1)), ceil(x1 + 0.02 * (x1 - x0 + 1)),
                      floor(y0 - 0.02 * (y1 - y0 + 1)), ceil(y1 + 0.02 * (y1 - y0 + 1)), 0,
                      "x (pixels)", "y (pixels)", title, NULL, 0};
        sv_plot_axes(p, 0, 0, 0.86, 1, &sa);
        sv_plot_markers(p, c->x, c->y, (int)c->n, col, (sv_rgb){0, 0, 0}, 3);
        sv_plot_colorbar(p, 0.88, 0.05, 0.12, 0.9, 0, 1, "P(real)");
        free(col);
        char name[64];
        snprintf(name, sizeof name, "catalog_xy_%d", f + 1);
        snprintf(cap, sizeof cap, "Detections of %s at their stamp positions (XPIX, YPIX), "
                                  "coloured by P(real); grey: not scored.",
                 base_name(paths[f]));
        st = sv_html_figure(h, p, o->outdir, name, cap, err);
        sv_plot_free(p);
    }
    if (!st && n > MAX_SCATTER)
        sv_html_para(h, "Only the first %d of the %d tables are drawn.", MAX_SCATTER, n);
    /* gallery from the first table holding the stamps */
    sv_html_section(h, "Stamp gallery");
    int g = -1;
    for (int f = 0; f < n && g < 0; f++)
        if (cats[f].has_stamps && cats[f].n > 0)
            g = f;
    if (!st && (g < 0 || o->gallery == 0)) {
        sv_html_para(h, "No stamps were saved (save_stamps = extension), so no gallery.");
    } else if (!st) {
        cat *c = &cats[g];
        int G = o->gallery;
        int *idx = malloc((size_t)G * sizeof *idx);
        sv_gallery_item *it = malloc((size_t)G * sizeof *it);
        if (!idx || !it)
            st = sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
        for (int pass = 0; pass < 2 && !st; pass++) {
            int k = pass == 0 ? sv_fig_extremes(c->rb, NULL, (int)c->n, G, 1, idx)
                              : sv_fig_sample(NULL, (int)c->n, G, o->seed, idx);
            for (int j = 0; j < k; j++) {
                it[j].row = idx[j];
                snprintf(it[j].caption, sizeof it[j].caption, "row %d  P(real) %.3f  flags %ld",
                         idx[j] + 1, c->rb[idx[j]], c->flags[idx[j]]);
            }
            char title[400];
            snprintf(title, sizeof title, pass == 0 ? "%s: the %d highest-scoring detections."
                                                    : "%s: a random sample of %d detections.",
                     base_name(paths[g]), k);
            st = sv_report_gallery(h, paths[g], it, k, pass ? "catalog_random" : "catalog_top",
                                   title, o, err);
        }
        free(idx);
        free(it);
    }
    if (!st) {
        st = sv_report_write_page(h, o, err);
    }
done:
    for (int f = 0; f < n; f++)
        cat_free(&cats[f]);
    free(cats);
    sv_html_free(h);
    return st;
}
