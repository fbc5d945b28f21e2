/* report_gallery.c — stamp galleries and the options shared by the report
 * pages.  See report_pages.h. */
#include "train/report_pages.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "train/report_figures.h"
#include "data/stamp_table.h"

sv_report_opts sv_report_defaults(void)
{
    sv_report_opts o = {0};
    o.bins = 20;
    o.calib_bins = 10;
    o.stretch = SV_STRETCH_ZSCALE;
    o.gallery = 8;
    o.seed = 1;
    return o;
}

int sv_report_make_dir(const char *dir, sv_error *err)
{
    struct stat sb;
    if (!stat(dir, &sb))
        return S_ISDIR(sb.st_mode) ? 0
                                   : sv_error_set(err, SV_ERR_IO, "%s: exists and is not a folder",
                                                  dir);
    if (mkdir(dir, 0777) && errno != EEXIST)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot create the report folder", dir);
    return 0;
}

int sv_report_write_page(sv_html *h, const sv_report_opts *o, sv_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/index.html", o->outdir);
    return sv_html_write(h, path, err);
}

/* One plane to display values in [0, 1]. */
static void stretch_plane(const float *img, int S, int mode, double *out)
{
    long n = (long)S * S;
    double lo, hi;
    if (mode == SV_STRETCH_ASINH) {
        lo = sv_quantile_finite(img, n, 0.005);
        hi = sv_quantile_finite(img, n, 0.995);
    } else if (sv_zscale(img, n, &lo, &hi)) {
        lo = hi = 0;
    }
    for (long i = 0; i < n; i++) {
        if (!isfinite(img[i]))
            out[i] = NAN;
        else if (mode == SV_STRETCH_ASINH)
            out[i] = sv_stretch_asinh(img[i], lo, hi, 10);
        else
            out[i] = sv_stretch_asinh(img[i], lo, hi, 0);
    }
}

int sv_report_gallery(sv_html *h, const char *path, const sv_gallery_item *items, int n,
                      const char *name, const char *caption, const sv_report_opts *o,
                      sv_error *err)
{
    if (n < 1)
        return 0;
    sv_stamp_reader *r = sv_stamp_reader_open(path, 0, err);
    if (!r)
        return err && err->status ? err->status : SV_ERR_IO;
    int S = sv_stamp_reader_meta(r)->stamp_size;
    long nrows = sv_stamp_reader_nrows(r);
    sv_stamp_batch b;
    int st = sv_stamp_batch_init(&b, 1, S, err);
    double *disp = malloc((size_t)S * S * sizeof *disp);
    const int cols = 4;
    int rows = (n + cols - 1) / cols;
    const double cell_w = 200, img = 60, cell_h = 96, top = 22;
    sv_plot *p = NULL;
    if (!st && !disp)
        st = sv_error_set(err, SV_ERR_NOMEM, "gallery: out of memory");
    if (!st && !(p = sv_plot_new(cols * cell_w, top + rows * cell_h, err)))
        st = err->status;
    double W = cols * cell_w, H = top + rows * cell_h;
    static const char *chan[] = {"sci", "ref", "diff"};
    for (int c = 0; !st && c < cols && c < n; c++)
        for (int k = 0; k < 3; k++)
            sv_plot_label(p, (c * cell_w + 8 + k * (img + 4) + img / 2) / W, 14 / H, chan[k], 9,
                          0.5, 0.5, 0);
    for (int i = 0; !st && i < n; i++) {
        if (items[i].row < 0 || items[i].row >= nrows) {
            st = sv_error_set(err, SV_ERR_ARG, "%s: row %ld outside the table's %ld rows", path,
                              items[i].row + 1, nrows);
            break;
        }
        long got = sv_stamp_reader_read(r, items[i].row, 1, &b, err);
        if (got != 1) {
            st = got < 0 ? (int)-got
                         : sv_error_set(err, SV_ERR_IO, "%s: row %ld unreadable", path,
                                        items[i].row + 1);
            break;
        }
        double x0 = (i % cols) * cell_w + 8, y0 = top + (i / cols) * cell_h;
        const float *plane[3] = {b.sci, b.ref, b.diff};
        for (int k = 0; k < 3; k++) {
            stretch_plane(plane[k], S, o->stretch, disp);
            sv_plot_image(p, (x0 + k * (img + 4)) / W, y0 / H, img / W, img / H, disp, S, S);
        }
        sv_plot_label(p, x0 / W, (y0 + img + 12) / H, items[i].caption, 8.5, 0, 0.5, 0);
    }
    if (!st) {
        char cap[512];
        snprintf(cap, sizeof cap, "%s Each triplet: science, reference, difference, %s stretch.",
                 caption, o->stretch == SV_STRETCH_ASINH ? "asinh (0.5-99.5 %)" : "zscale");
        st = sv_html_figure(h, p, o->outdir, name, cap, err);
    }
    sv_plot_free(p);
    free(disp);
    sv_stamp_batch_free(&b);
    sv_stamp_reader_close(r);
    return st;
}
