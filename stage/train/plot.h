/* plot.h — the drawing primitives of `stampvet report`'s figures, on cairo
 * (configure --with-cairo; Debian libcairo2-dev): axes with nice ticks,
 * tick labels, axis labels and a title; lines, markers, error bars,
 * histograms as steps, bars, legends, a heatmap with numbers in its cells,
 * greyscale stamps and a colour bar.  Fonts: "DejaVu Sans" through
 * fontconfig (Debian fonts-dejavu-core), cairo's fallback otherwise.
 *
 * A figure is drawn once into a cairo recording surface, in points, and
 * replayed into each file: PNG (1 px per point) and PDF (vector).  (No
 * SVG: cairo 1.16's SVG surface keeps a reference to a recording-surface
 * source, so every figure would leak.)
 * Positions:
 *   - figure fractions (fx, fy, fw, fh): a rectangle of the figure, origin
 *     top left, for panels, labels and images;
 *   - data coordinates: inside the panel set by the last sv_plot_axes
 *     (y up; log10 when the axes are logarithmic).
 * Drawing is clipped to the current panel's frame.
 *
 * Errors: drawing never fails visibly (cairo records its own error state);
 * sv_plot_write / sv_plot_png report cairo's status with the file name.
 *
 * Thread safety: a figure is used by one thread at a time; distinct
 * figures may be drawn concurrently (cairo is thread-safe for distinct
 * contexts; fontconfig is initialised by cairo under its own lock).
 */
#ifndef SV_PLOT_H
#define SV_PLOT_H

#include <stddef.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_plot sv_plot;

typedef struct sv_rgb {
    double r, g, b;
} sv_rgb;

/* A categorical colour (matplotlib's tab10, cycled). */
sv_rgb sv_plot_color(int i);

/* viridis at t in [0, 1] (clipped; interpolated between 9 anchors). */
sv_rgb sv_viridis(double t);

/* A new empty figure of width x height points (white background).
 * Returns NULL with err set when cairo cannot make it. */
sv_plot *sv_plot_new(double width, double height, sv_error *err);

void sv_plot_free(sv_plot *p);

typedef struct sv_axes {
    double x0, x1, y0, y1;  /* data limits (for log_y: y0 > 0)            */
    int log_y;              /* 1: logarithmic y axis                       */
    const char *xlabel, *ylabel, *title; /* NULL: none                    */
    const char *const *xcat; /* non-NULL: n_xcat category names as x tick
                                labels at x = 0, 1, ... (bar charts)       */
    int n_xcat;
} sv_axes;

/* Set up and draw a panel in the figure rectangle (fractions; the frame
 * sits inside it, leaving room for tick labels, axis labels and title):
 * grid, frame, ticks and labels.  Later data drawing goes to this panel. */
void sv_plot_axes(sv_plot *p, double fx, double fy, double fw, double fh, const sv_axes *a);

/* Polyline through n points (NaN points break it). dashed: 1 = dashes. */
void sv_plot_line(sv_plot *p, const double *x, const double *y, int n, sv_rgb c, double width,
                  int dashed);

/* Filled circles of radius r points; colors (n) or, when NULL, c. */
void sv_plot_markers(sv_plot *p, const double *x, const double *y, int n, const sv_rgb *colors,
                     sv_rgb c, double r);

/* Vertical error bars y +- e with caps, and a marker at (x, y). */
void sv_plot_errorbars(sv_plot *p, const double *x, const double *y, const double *e, int n,
                       sv_rgb c);

/* A histogram of nbins equal bins over [lo, hi] with heights v: outline
 * steps and a translucent fill (fill_alpha 0: none). */
void sv_plot_steps(sv_plot *p, double lo, double hi, int nbins, const double *v, sv_rgb c,
                   double fill_alpha);

/* Bars centred at x[i] of the given width and heights h[i] from y = 0
 * (from the axis bottom on a log axis). */
void sv_plot_bars(sv_plot *p, const double *x, const double *h, int n, double width, sv_rgb c);

/* Text at data (x, y) of size points, anchored at fractions (ax, ay) of its
 * box (0,0 = left baseline-ish bottom; 0.5,0.5 = centre). */
void sv_plot_text(sv_plot *p, double x, double y, const char *text, double size, double ax,
                  double ay);

/* Text at figure fractions (fx, fy), anchored as sv_plot_text; bold 1. */
void sv_plot_label(sv_plot *p, double fx, double fy, const char *text, double size, double ax,
                   double ay, int bold);

/* Legend in a corner of the current panel: 0 upper left, 1 upper right,
 * 2 lower right, 3 lower left.  Each entry a line of its colour. */
void sv_plot_legend(sv_plot *p, int n, const char *const *labels, const sv_rgb *colors,
                    int corner);

/* A k x k heatmap (row-major val[t * k + p], colour by val in [0, 1] with
 * viridis; NaN grey) in the figure rectangle, with cell texts (k * k, may
 * be NULL), row/column labels and a title. */
void sv_plot_matrix(sv_plot *p, double fx, double fy, double fw, double fh, int k,
                    const double *val, const char *const *cell_text,
                    const char *const *labels, const char *xlabel, const char *ylabel,
                    const char *title);

/* A w x h image (row-major, row 0 at the BOTTOM as in FITS) of values in
 * [0, 1] as grey levels (NaN: dark red), nearest-neighbour, fitted into
 * the figure rectangle keeping square pixels. */
void sv_plot_image(sv_plot *p, double fx, double fy, double fw, double fh, const double *val,
                   int w, int h);

/* A vertical viridis colour bar for [lo, hi] with ticks and a label. */
void sv_plot_colorbar(sv_plot *p, double fx, double fy, double fw, double fh, double lo,
                      double hi, const char *label);

/* Write stem.png and stem.pdf, each atomically (report.h).
 * Returns 0 or SV_ERR_IO with err naming the file. */
int sv_plot_write(sv_plot *p, const char *stem, sv_error *err);

/* The figure as PNG in memory (*buf malloc'ed, caller frees).  Returns 0,
 * SV_ERR_NOMEM or SV_ERR_IO. */
int sv_plot_png(sv_plot *p, unsigned char **buf, size_t *len, sv_error *err);

/* Free cairo's and fontconfig's process-wide caches (font maps, the
 * fontconfig configuration), so that leak checkers see a clean exit.  Call
 * once, at the end of the program, when no figure is alive and no other
 * thread uses cairo or fontconfig.  Not thread-safe. */
void sv_plot_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif
