/* report_pages.h — the pages of `stampvet report`: from an evaluation, a
 * compare run, stage output tables and a light-curve model.  Each writes
 * DIR/index.html (report_html.h: self-contained, figures embedded) and each
 * figure beside it as NAME.png and NAME.pdf; the numbers come
 * from report_figures.h and metrics.h, the drawing from plot.h.
 *
 * Thread safety: reentrant (cairo and cfitsio objects are per call).
 */
#ifndef SV_REPORT_PAGES_H
#define SV_REPORT_PAGES_H

#include <stdint.h>

#include "data/lightcurve.h"
#include "model/model.h"
#include "train/report_html.h"
#include "data/scores_table.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { SV_STRETCH_ZSCALE = 0, SV_STRETCH_ASINH = 1 };

typedef struct sv_report_opts {
    const char *outdir;     /* folder of index.html and the figures (made) */
    const char *title;      /* page title (NULL: a default)                */
    int log_hist;           /* 1: histograms on a log count axis           */
    int bins;               /* histogram bins (20)                         */
    int calib_bins;         /* reliability-diagram bins (10)               */
    int stretch;            /* gallery stamps: SV_STRETCH_*                */
    int gallery;            /* stamps per gallery row set (8)              */
    uint64_t seed;          /* random gallery samples (1)                  */
} sv_report_opts;

sv_report_opts sv_report_defaults(void);

/* Create opts->outdir when missing (one level).  Returns 0 or SV_ERR_IO. */
int sv_report_make_dir(const char *dir, sv_error *err);

/* The evaluation page from per-stamp scores: summary table, ROC with AUC and
 * the FPR = FNR point, precision-recall, score histograms per true class,
 * confusion matrix (counts and row-normalised), reliability diagram with
 * ECE, and — when stamps (a labelled-stamps table holding the scores' rows)
 * is given — the stamp gallery. */
int sv_report_eval(const sv_scores *s, const char *stamps, const sv_report_opts *o,
                   sv_error *err);

/* The compare page from one or more `compare --out` summary CSV files, or
 * tables of them with leading task, base, freeze, resample columns (models/
 * experiment.csv; one section per run of rows with the same arm): accuracy
 * and AUC against label count per arm (mean +- sample std over the runs)
 * and the t-test p-values. */
int sv_report_compare(int n, const char *const *paths, const sv_report_opts *o, sv_error *err);

/* The stage-output page from one or more `run` / `batch` output tables
 * (catalog.h): score histogram, flags breakdown, detections on the exposure
 * coloured by score, and a gallery when the stamps were saved. */
int sv_report_catalog(int n, const char *const *paths, const sv_report_opts *o, sv_error *err);

/* The light-curve page: a light-curve model (lc_source.h) on a labelled
 * light-curve table: the evaluation's figures at each candidate's alert
 * time (as above, without a gallery) and, for a few candidates (the one with
 * the most detections of each class), the light curve and every class's
 * probability against time, classified at each detection (RAPID's plot). */
int sv_report_lightcurves(const sv_model *m, const char *model_path, const sv_lc_set *set,
                          const sv_report_opts *o, sv_error *err);

/* ---- shared by the pages (report_eval.c, report_gallery.c) ------------ */

/* The evaluation's sections (table, curves, histograms, confusion,
 * reliability and, with gallery set, the gallery section) onto page h. */
int sv_report_eval_sections(sv_html *h, const sv_scores *s, const char *stamps, int gallery,
                            const sv_report_opts *o, sv_error *err);

/* Write h as o->outdir/index.html.  Returns 0 or a status. */
int sv_report_write_page(sv_html *h, const sv_report_opts *o, sv_error *err);

typedef struct sv_gallery_item {
    long row;              /* row of the stamps table (0-based)             */
    char caption[96];
} sv_gallery_item;

/* A figure of n stamp triplets (sci / ref / diff, each stretched on its
 * own) read from the labelled-stamps table at path, captioned, added to
 * the page.  Returns 0 or a status with err naming the file. */
int sv_report_gallery(sv_html *h, const char *path, const sv_gallery_item *items, int n,
                      const char *name, const char *caption, const sv_report_opts *o,
                      sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
