/* plot.c — figure primitives on cairo.  See plot.h. */
#include "train/plot.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fits/report_file.h"
#include "train/report_figures.h"

#define FONT "DejaVu Sans"
#define MAX_TICKS 8

struct sv_plot {
    double W, H;
    cairo_surface_t *rec;
    cairo_t *cr;
    /* current panel: frame in points, data limits */
    double px, py, pw, ph;
    double x0, x1, y0, y1;
    int log_y;
};

sv_rgb sv_plot_color(int i)
{
    static const sv_rgb tab10[] = {
        {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173},
        {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
        {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133},
        {0.090, 0.745, 0.812}};
    return tab10[(i % 10 + 10) % 10];
}

sv_rgb sv_viridis(double t)
{
    static const sv_rgb a[] = {{0.267, 0.005, 0.329}, {0.283, 0.141, 0.458},
                               {0.254, 0.265, 0.530}, {0.207, 0.372, 0.553},
                               {0.164, 0.471, 0.558}, {0.128, 0.567, 0.551},
                               {0.135, 0.659, 0.518}, {0.267, 0.749, 0.441},
                               {0.478, 0.821, 0.318}, {0.741, 0.873, 0.150},
                               {0.993, 0.906, 0.144}};
    const int n = sizeof a / sizeof a[0];
    if (!(t >= 0))
        t = 0;
    if (t > 1)
        t = 1;
    double u = t * (n - 1);
    int i = (int)floor(u);
    if (i >= n - 1)
        return a[n - 1];
    double f = u - i;
    sv_rgb c = {a[i].r + f * (a[i + 1].r - a[i].r), a[i].g + f * (a[i + 1].g - a[i].g),
                a[i].b + f * (a[i + 1].b - a[i].b)};
    return c;
}

sv_plot *sv_plot_new(double width, double height, sv_error *err)
{
    sv_plot *p = calloc(1, sizeof *p);
    if (!p) {
        sv_error_set(err, SV_ERR_NOMEM, "plot: out of memory");
        return NULL;
    }
    p->W = width;
    p->H = height;
    cairo_rectangle_t ext = {0, 0, width, height};
    p->rec = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &ext);
    p->cr = cairo_create(p->rec);
    if (cairo_status(p->cr)) {
        sv_error_set(err, SV_ERR_NOMEM, "plot: cairo: %s",
                     cairo_status_to_string(cairo_status(p->cr)));
        sv_plot_free(p);
        return NULL;
    }
    cairo_set_source_rgb(p->cr, 1, 1, 1);
    cairo_paint(p->cr);
    cairo_select_font_face(p->cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    return p;
}

void sv_plot_free(sv_plot *p)
{
    if (!p)
        return;
    if (p->cr)
        cairo_destroy(p->cr);
    if (p->rec)
        cairo_surface_destroy(p->rec);
    free(p);
}

static void set_rgb(cairo_t *cr, sv_rgb c, double alpha)
{
    cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

/* data -> points */
static double X(const sv_plot *p, double x)
{
    return p->px + (x - p->x0) / (p->x1 - p->x0) * p->pw;
}

static double Y(const sv_plot *p, double y)
{
    double a = p->y0, b = p->y1, v = y;
    if (p->log_y) {
        a = log10(a);
        b = log10(b);
        v = y > 0 ? log10(y) : a - 10 * (b - a);
    }
    return p->py + p->ph - (v - a) / (b - a) * p->ph;
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double size, double ax,
                    double ay, int bold, double angle)
{
    cairo_save(cr);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    /* anchor on the advance width and the ascent (cap height-ish) */
    cairo_move_to(cr, -ax * te.x_advance, ay * fe.ascent * 0.8);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

static void fmt_tick(double v, double step, char *buf, size_t cap)
{
    if (v == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    double a = fabs(v);
    if (a >= 1e5 || a < 1e-3) {
        snprintf(buf, cap, "%.0e", v);
        return;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, cap, "%.*f", dec, v);
}

void sv_plot_axes(sv_plot *p, double fx, double fy, double fw, double fh, const sv_axes *a)
{
    cairo_t *cr = p->cr;
    cairo_reset_clip(cr);
    double L = 58, R = 14, T = a->title ? 28 : 12, B = 44;
    p->px = fx * p->W + L;
    p->py = fy * p->H + T;
    p->pw = fw * p->W - L - R;
    p->ph = fh * p->H - T - B;
    p->x0 = a->x0;
    p->x1 = a->x1 > a->x0 ? a->x1 : a->x0 + 1;
    p->y0 = a->y0;
    p->y1 = a->y1 > a->y0 ? a->y1 : a->y0 + 1;
    p->log_y = a->log_y && p->y0 > 0;
    char buf[64];
    cairo_set_line_width(cr, 1);
    /* x ticks */
    double t[MAX_TICKS];
    int nt;
    if (a->xcat) {
        for (int i = 0; i < a->n_xcat; i++) {
            double x = X(p, i);
            set_rgb(cr, (sv_rgb){0, 0, 0}, 1);
            cairo_move_to(cr, x, p->py + p->ph);
            cairo_line_to(cr, x, p->py + p->ph + 4);
            cairo_stroke(cr);
            text_at(cr, x, p->py + p->ph + 16, a->xcat[i], a->n_xcat > 6 ? 8.5 : 10, 0.5, 0.5,
                    0, 0);
        }
    } else {
        nt = sv_fig_ticks(p->x0, p->x1, MAX_TICKS, t);
        double step = nt > 1 ? t[1] - t[0] : 1;
        for (int i = 0; i < nt; i++) {
            double x = X(p, t[i]);
            set_rgb(cr, (sv_rgb){0.9, 0.9, 0.9}, 1);
            cairo_move_to(cr, x, p->py);
            cairo_line_to(cr, x, p->py + p->ph);
            cairo_stroke(cr);
            set_rgb(cr, (sv_rgb){0, 0, 0}, 1);
            cairo_move_to(cr, x, p->py + p->ph);
            cairo_line_to(cr, x, p->py + p->ph + 4);
            cairo_stroke(cr);
            fmt_tick(t[i], step, buf, sizeof buf);
            text_at(cr, x, p->py + p->ph + 16, buf, 10, 0.5, 0.5, 0, 0);
        }
    }
    /* y ticks */
    if (p->log_y) {
        int e0 = (int)floor(log10(p->y0) + 1e-9), e1 = (int)floor(log10(p->y1) + 1e-9);
        int every = (e1 - e0) / MAX_TICKS + 1;
        nt = 0;
        for (int e = e0; e <= e1; e++) {
            double v = pow(10.0, e);
            if (v < p->y0 * (1 - 1e-9) || (e - e0) % every)
                continue;
            t[nt < MAX_TICKS ? nt : MAX_TICKS - 1] = v;
            nt = nt < MAX_TICKS ? nt + 1 : nt;
        }
    } else {
        nt = sv_fig_ticks(p->y0, p->y1, MAX_TICKS, t);
    }
    double ystep = nt > 1 ? t[1] - t[0] : 1;
    for (int i = 0; i < nt; i++) {
        double y = Y(p, t[i]);
        set_rgb(cr, (sv_rgb){0.9, 0.9, 0.9}, 1);
        cairo_move_to(cr, p->px, y);
        cairo_line_to(cr, p->px + p->pw, y);
        cairo_stroke(cr);
        set_rgb(cr, (sv_rgb){0, 0, 0}, 1);
        cairo_move_to(cr, p->px - 4, y);
        cairo_line_to(cr, p->px, y);
        cairo_stroke(cr);
        if (p->log_y)
            snprintf(buf, sizeof buf, "%g", t[i]);
        else
            fmt_tick(t[i], ystep, buf, sizeof buf);
        text_at(cr, p->px - 7, y, buf, 10, 1, 0.5, 0, 0);
    }
    set_rgb(cr, (sv_rgb){0, 0, 0}, 1);
    cairo_rectangle(cr, p->px, p->py, p->pw, p->ph);
    cairo_stroke(cr);
    if (a->xlabel)
        text_at(cr, p->px + p->pw / 2, p->py + p->ph + 34, a->xlabel, 11, 0.5, 0.5, 0, 0);
    if (a->ylabel)
        text_at(cr, fx * p->W + 13, p->py + p->ph / 2, a->ylabel, 11, 0.5, 0.5, 0, -M_PI / 2);
    if (a->title)
        text_at(cr, p->px + p->pw / 2, fy * p->H + 14, a->title, 12, 0.5, 0.5, 1, 0);
    cairo_rectangle(cr, p->px, p->py, p->pw, p->ph);
    cairo_clip(cr);
}

void sv_plot_line(sv_plot *p, const double *x, const double *y, int n, sv_rgb c, double width,
                  int dashed)
{
    cairo_t *cr = p->cr;
    cairo_save(cr);
    set_rgb(cr, c, 1);
    cairo_set_line_width(cr, width);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    if (dashed) {
        double d[] = {5, 3};
        cairo_set_dash(cr, d, 2, 0);
    }
    int open = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) {
            open = 0;
            continue;
        }
        if (open)
            cairo_line_to(cr, X(p, x[i]), Y(p, y[i]));
        else
            cairo_move_to(cr, X(p, x[i]), Y(p, y[i]));
        open = 1;
    }
    cairo_stroke(cr);
    cairo_restore(cr);
}

void sv_plot_markers(sv_plot *p, const double *x, const double *y, int n, const sv_rgb *colors,
                     sv_rgb c, double r)
{
    cairo_t *cr = p->cr;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            continue;
        set_rgb(cr, colors ? colors[i] : c, 0.9);
        cairo_new_sub_path(cr);
        cairo_arc(cr, X(p, x[i]), Y(p, y[i]), r, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

void sv_plot_errorbars(sv_plot *p, const double *x, const double *y, const double *e, int n,
                       sv_rgb c)
{
    cairo_t *cr = p->cr;
    cairo_save(cr);
    set_rgb(cr, c, 1);
    cairo_set_line_width(cr, 1.3);
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            continue;
        double ee = isfinite(e[i]) ? e[i] : 0;
        double xx = X(p, x[i]), ya = Y(p, y[i] - ee), yb = Y(p, y[i] + ee);
        cairo_move_to(cr, xx, ya);
        cairo_line_to(cr, xx, yb);
        cairo_move_to(cr, xx - 4, ya);
        cairo_line_to(cr, xx + 4, ya);
        cairo_move_to(cr, xx - 4, yb);
        cairo_line_to(cr, xx + 4, yb);
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    sv_plot_markers(p, x, y, n, NULL, c, 3.5);
}

void sv_plot_steps(sv_plot *p, double lo, double hi, int nbins, const double *v, sv_rgb c,
                   double fill_alpha)
{
    cairo_t *cr = p->cr;
    double w = (hi - lo) / nbins;
    double base = p->log_y ? p->y0 : 0;
    cairo_save(cr);
    cairo_move_to(cr, X(p, lo), Y(p, base));
    for (int b = 0; b < nbins; b++) {
        double h = p->log_y && !(v[b] > 0) ? base : v[b];
        cairo_line_to(cr, X(p, lo + b * w), Y(p, h));
        cairo_line_to(cr, X(p, lo + (b + 1) * w), Y(p, h));
    }
    cairo_line_to(cr, X(p, hi), Y(p, base));
    if (fill_alpha > 0) {
        set_rgb(cr, c, fill_alpha);
        cairo_fill_preserve(cr);
    }
    set_rgb(cr, c, 1);
    cairo_set_line_width(cr, 1.6);
    cairo_stroke(cr);
    cairo_restore(cr);
}

void sv_plot_bars(sv_plot *p, const double *x, const double *h, int n, double width, sv_rgb c)
{
    cairo_t *cr = p->cr;
    double base = p->log_y ? p->y0 : 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(h[i]) || (p->log_y && !(h[i] > 0)))
            continue;
        double xa = X(p, x[i] - width / 2), xb = X(p, x[i] + width / 2);
        double ya = Y(p, base), yb = Y(p, h[i]);
        set_rgb(cr, c, 0.85);
        cairo_rectangle(cr, xa, yb, xb - xa, ya - yb);
        cairo_fill(cr);
    }
}

void sv_plot_text(sv_plot *p, double x, double y, const char *text, double size, double ax,
                  double ay)
{
    set_rgb(p->cr, (sv_rgb){0, 0, 0}, 1);
    text_at(p->cr, X(p, x), Y(p, y), text, size, ax, ay, 0, 0);
}

void sv_plot_label(sv_plot *p, double fx, double fy, const char *text, double size, double ax,
                   double ay, int bold)
{
    cairo_save(p->cr);
    cairo_reset_clip(p->cr);
    set_rgb(p->cr, (sv_rgb){0, 0, 0}, 1);
    text_at(p->cr, fx * p->W, fy * p->H, text, size, ax, ay, bold, 0);
    cairo_restore(p->cr);
}

void sv_plot_legend(sv_plot *p, int n, const char *const *labels, const sv_rgb *colors,
                    int corner)
{
    cairo_t *cr = p->cr;
    cairo_save(cr);
    cairo_set_font_size(cr, 10);
    double wmax = 0;
    for (int i = 0; i < n; i++) {
        cairo_text_extents_t te;
        cairo_text_extents(cr, labels[i], &te);
        if (te.x_advance > wmax)
            wmax = te.x_advance;
    }
    double lh = 15, bw = wmax + 36, bh = n * lh + 8;
    double bx = corner == 1 || corner == 2 ? p->px + p->pw - bw - 8 : p->px + 8;
    double by = corner >= 2 ? p->py + p->ph - bh - 8 : p->py + 8;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 0.8);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        double y = by + 4 + lh * (i + 0.5);
        set_rgb(cr, colors[i], 1);
        cairo_set_line_width(cr, 2.5);
        cairo_move_to(cr, bx + 6, y);
        cairo_line_to(cr, bx + 24, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, bx + 30, y, labels[i], 10, 0, 0.5, 0, 0);
    }
    cairo_restore(cr);
}

void sv_plot_matrix(sv_plot *p, double fx, double fy, double fw, double fh, int k,
                    const double *val, const char *const *cell_text,
                    const char *const *labels, const char *xlabel, const char *ylabel,
                    const char *title)
{
    cairo_t *cr = p->cr;
    cairo_reset_clip(cr);
    double L = 92, T = title ? 30 : 10, B = 48, R = 10;
    double aw = fw * p->W - L - R, ah = fh * p->H - T - B;
    double side = aw < ah ? aw : ah, cs = side / k;
    double x0 = fx * p->W + L + (aw - side) / 2, y0 = fy * p->H + T;
    for (int t = 0; t < k; t++)
        for (int q = 0; q < k; q++) {
            double v = val[t * k + q];
            sv_rgb c = isnan(v) ? (sv_rgb){0.8, 0.8, 0.8} : sv_viridis(v);
            set_rgb(cr, c, 1);
            cairo_rectangle(cr, x0 + q * cs, y0 + t * cs, cs, cs);
            cairo_fill(cr);
            if (cell_text && cell_text[t * k + q]) {
                double lum = 0.299 * c.r + 0.587 * c.g + 0.114 * c.b;
                cairo_set_source_rgb(cr, lum < 0.5 ? 1 : 0, lum < 0.5 ? 1 : 0,
                                     lum < 0.5 ? 1 : 0);
                text_at(cr, x0 + (q + 0.5) * cs, y0 + (t + 0.5) * cs, cell_text[t * k + q],
                        k > 4 ? 9 : 11, 0.5, 0.5, 0, 0);
            }
        }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, y0, side, side);
    cairo_stroke(cr);
    for (int i = 0; i < k; i++) {
        text_at(cr, x0 - 6, y0 + (i + 0.5) * cs, labels[i], 10, 1, 0.5, 0, 0);
        text_at(cr, x0 + (i + 0.5) * cs, y0 + side + 14, labels[i], 10, 0.5, 0.5, 0, 0);
    }
    if (xlabel)
        text_at(cr, x0 + side / 2, y0 + side + 34, xlabel, 11, 0.5, 0.5, 0, 0);
    if (ylabel)
        text_at(cr, fx * p->W + 12, y0 + side / 2, ylabel, 11, 0.5, 0.5, 0, -M_PI / 2);
    if (title)
        text_at(cr, x0 + side / 2, fy * p->H + 15, title, 12, 0.5, 0.5, 1, 0);
}

void sv_plot_image(sv_plot *p, double fx, double fy, double fw, double fh, const double *val,
                   int w, int h)
{
    cairo_t *cr = p->cr;
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(img)) {
        cairo_surface_destroy(img);
        return;
    }
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    for (int r = 0; r < h; r++) {
        uint32_t *row = (uint32_t *)(data + (size_t)(h - 1 - r) * stride); /* FITS row 0 at bottom */
        for (int c = 0; c < w; c++) {
            double v = val[(size_t)r * w + c];
            uint32_t px;
            if (isnan(v)) {
                px = 0x800000u;
            } else {
                unsigned g = (unsigned)lround((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
                px = g << 16 | g << 8 | g;
            }
            row[c] = px;
        }
    }
    cairo_surface_mark_dirty(img);
    double bw = fw * p->W, bh = fh * p->H;
    double s = bw / w < bh / h ? bw / w : bh / h;
    double ox = fx * p->W + (bw - s * w) / 2, oy = fy * p->H + (bh - s * h) / 2;
    cairo_save(cr);
    cairo_reset_clip(cr);
    cairo_translate(cr, ox, oy);
    cairo_scale(cr, s, s);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, w, h);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
}

void sv_plot_colorbar(sv_plot *p, double fx, double fy, double fw, double fh, double lo,
                      double hi, const char *label)
{
    cairo_t *cr = p->cr;
    cairo_save(cr);
    cairo_reset_clip(cr);
    double x = fx * p->W, y = fy * p->H + 12, w = fw * p->W * 0.3, h = fh * p->H - 56;
    const int steps = 64;
    for (int i = 0; i < steps; i++) {
        set_rgb(cr, sv_viridis((i + 0.5) / steps), 1);
        cairo_rectangle(cr, x, y + h - (i + 1) * h / steps, w, h / steps + 0.5);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x, y, w, h);
    cairo_stroke(cr);
    double t[MAX_TICKS];
    int nt = sv_fig_ticks(lo, hi, 6, t);
    char buf[32];
    for (int i = 0; i < nt; i++) {
        double yy = y + h - (t[i] - lo) / (hi - lo) * h;
        cairo_move_to(cr, x + w, yy);
        cairo_line_to(cr, x + w + 3, yy);
        cairo_stroke(cr);
        fmt_tick(t[i], nt > 1 ? t[1] - t[0] : 1, buf, sizeof buf);
        text_at(cr, x + w + 5, yy, buf, 9, 0, 0.5, 0, 0);
    }
    if (label)
        text_at(cr, x + w / 2, y + h + 18, label, 10, 0.5, 0.5, 0, 0);
    cairo_restore(cr);
}

/* ---- output --------------------------------------------------------------- */

static cairo_status_t replay(sv_plot *p, cairo_surface_t *target)
{
    cairo_t *cr = cairo_create(target);
    cairo_set_source_surface(cr, p->rec, 0, 0);
    cairo_paint(cr);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(target);
    return st ? st : cairo_surface_status(target);
}

typedef struct out_job {
    sv_plot *p;
    int kind; /* 0 png, 1 pdf */
} out_job;

static int write_one(const char *tmp, void *user, sv_error *err)
{
    out_job *j = user;
    cairo_surface_t *s;
    cairo_status_t st;
    if (j->kind == 0) {
        s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)ceil(j->p->W),
                                       (int)ceil(j->p->H));
        st = replay(j->p, s);
        if (!st)
            st = cairo_surface_write_to_png(s, tmp);
    } else {
        s = cairo_pdf_surface_create(tmp, j->p->W, j->p->H);
        st = replay(j->p, s);
        cairo_surface_finish(s);
        if (!st)
            st = cairo_surface_status(s);
    }
    cairo_surface_destroy(s);
    if (st)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot write the figure: %s", tmp,
                            cairo_status_to_string(st));
    return 0;
}

int sv_plot_write(sv_plot *p, const char *stem, sv_error *err)
{
    static const char *ext[] = {".png", ".pdf"};
    for (int k = 0; k < 2; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s%s", stem, ext[k]);
        out_job j = {p, k};
        int st = sv_report_write_atomic(path, write_one, &j, err);
        if (st)
            return st;
    }
    return 0;
}

void sv_plot_cleanup(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}

typedef struct membuf {
    unsigned char *d;
    size_t n, cap;
    int oom;
} membuf;

static cairo_status_t mem_write(void *closure, const unsigned char *data, unsigned int len)
{
    membuf *b = closure;
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->n + len)
            cap *= 2;
        unsigned char *d = realloc(b->d, cap);
        if (!d) {
            b->oom = 1;
            return CAIRO_STATUS_NO_MEMORY;
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->n, data, len);
    b->n += len;
    return CAIRO_STATUS_SUCCESS;
}

int sv_plot_png(sv_plot *p, unsigned char **buf, size_t *len, sv_error *err)
{
    *buf = NULL;
    *len = 0;
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)ceil(p->W), (int)ceil(p->H));
    membuf b = {0};
    cairo_status_t st = replay(p, s);
    if (!st)
        st = cairo_surface_write_to_png_stream(s, mem_write, &b);
    cairo_surface_destroy(s);
    if (st) {
        free(b.d);
        return sv_error_set(err, b.oom ? SV_ERR_NOMEM : SV_ERR_IO, "figure: PNG: %s",
                            cairo_status_to_string(st));
    }
    *buf = b.d;
    *len = b.n;
    return 0;
}
