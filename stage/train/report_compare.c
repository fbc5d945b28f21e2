/* report_compare.c — the compare page of `stampvet report`: transfer
 * against scratch from `compare --out` summary CSV files (compare.h), or
 * from models/experiment.sh's table of them (the same columns after task,
 * base, freeze and resample: one section per arm).  See report_pages.h. */
#include "train/report_pages.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/compare.h"
#include "core/csv.h"

/* the summary columns used here, by name */
enum { C_SIZE, C_NLAB, C_METRIC, C_TM, C_TS, C_SM, C_SS, C_PS, C_PW, C_NRUNS, C_N };
static const char *col_names[C_N] = {"size",         "n_labels",    "metric",
                                     "transfer_mean", "transfer_std", "scratch_mean",
                                     "scratch_std",  "p_student",   "p_welch", "n_runs"};

/* optional arm columns (experiment.sh's table) */
enum { A_TASK, A_BASE, A_FREEZE, A_RESAMPLE, A_N };
static const char *arm_names[A_N] = {"task", "base", "freeze", "resample"};

typedef struct cmp_row {
    double v[C_N];
    char metric[24];
    char arm[200]; /* "task TASK, base BASE, freeze POLICY, resample R" or empty */
} cmp_row;

static int read_summary(const char *path, cmp_row **rows, int *n, char *desc, size_t dcap,
                        sv_error *err)
{
    *rows = NULL;
    *n = 0;
    desc[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open the compare summary", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int col[C_N], acol[A_N], header = 0, st = 0, cap_rows = 0;
    long lineno = 0;
    sv_csv_field fld[32];
    while (!st && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (line[0] == '#') {
            if (!desc[0])
                snprintf(desc, dcap, "%s", sv_csv_trim(line + 1));
            continue;
        }
        if (!len)
            continue;
        char why[160];
        int nf = sv_csv_split(line, fld, 32, 1, why, sizeof why);
        if (nf < 0) {
            st = sv_error_set(err, SV_ERR_ARG, "%s: line %ld: %s", path, lineno, why);
            break;
        }
        if (!header) {
            header = 1;
            for (int a = 0; a < A_N; a++) {
                acol[a] = -1;
                for (int i = 0; i < nf; i++)
                    if (!strcmp(fld[i].text, arm_names[a]))
                        acol[a] = i;
            }
            for (int c = 0; c < C_N; c++) {
                col[c] = -1;
                for (int i = 0; i < nf; i++)
                    if (!strcmp(fld[i].text, col_names[c]))
                        col[c] = i;
                if (col[c] < 0)
                    st = sv_error_set(err, SV_ERR_ARG,
                                      "%s: no column '%s' (not a `stampvet compare --out` "
                                      "CSV summary?)",
                                      path, col_names[c]);
            }
            continue;
        }
        if (*n >= cap_rows) {
            cap_rows = cap_rows ? cap_rows * 2 : 64;
            cmp_row *r = realloc(*rows, (size_t)cap_rows * sizeof *r);
            if (!r) {
                st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            *rows = r;
        }
        cmp_row *r = &(*rows)[*n];
        r->arm[0] = 0;
        for (int a = 0, len = 0; a < A_N; a++)
            if (acol[a] >= 0 && acol[a] < nf && len < (int)sizeof r->arm)
                len += snprintf(r->arm + len, sizeof r->arm - (size_t)len, "%s%s %s",
                                len ? ", " : "", arm_names[a], fld[acol[a]].text);
        for (int c = 0; c < C_N && !st; c++) {
            if (col[c] >= nf) {
                st = sv_error_set(err, SV_ERR_ARG, "%s: line %ld: too few fields", path, lineno);
                break;
            }
            if (c == C_METRIC) {
                snprintf(r->metric, sizeof r->metric, "%s", fld[col[c]].text);
                continue;
            }
            char *end;
            r->v[c] = strtod(fld[col[c]].text, &end);
            if (end == fld[col[c]].text)
                r->v[c] = NAN; /* empty: an undefined figure */
        }
        (*n)++;
    }
    free(line);
    fclose(f);
    if (!st && *n == 0)
        st = sv_error_set(err, SV_ERR_ARG, "%s: no summary rows", path);
    if (st) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return st;
}

/* one panel: metric against label count, both arms */
static void panel(sv_plot *p, double fx, const cmp_row *r, int n, const char *metric,
                  const char *ylabel)
{
    double x[2][SV_COMPARE_MAX_SIZES * 4], y[2][SV_COMPARE_MAX_SIZES * 4],
        e[2][SV_COMPARE_MAX_SIZES * 4];
    int m = 0;
    double xmax = 1, ylo = 1, yhi = 0;
    for (int i = 0; i < n && m < SV_COMPARE_MAX_SIZES * 4; i++) {
        if (strcmp(r[i].metric, metric))
            continue;
        for (int a = 0; a < 2; a++) {
            x[a][m] = r[i].v[C_NLAB];
            y[a][m] = r[i].v[a ? C_SM : C_TM];
            e[a][m] = r[i].v[a ? C_SS : C_TS];
            if (isfinite(y[a][m])) {
                double ee = isfinite(e[a][m]) ? e[a][m] : 0;
                ylo = fmin(ylo, y[a][m] - ee);
                yhi = fmax(yhi, y[a][m] + ee);
            }
        }
        xmax = fmax(xmax, r[i].v[C_NLAB]);
        m++;
    }
    if (!(yhi > ylo)) {
        ylo = 0;
        yhi = 1;
    }
    double pad = 0.1 * (yhi - ylo) + 0.005;
    char title[64];
    snprintf(title, sizeof title, "%s against label count", ylabel);
    sv_axes ax = {0, xmax * 1.12, fmax(0, ylo - pad), fmin(1, yhi + pad) + (yhi + pad > 1 ? 0 : 0),
                  0, "labelled training stamps", ylabel, title, NULL, 0};
    if (!(ax.y1 > ax.y0))
        ax.y1 = ax.y0 + 0.01;
    sv_plot_axes(p, fx, 0, 0.5, 1, &ax);
    double off = xmax * 0.012; /* side by side so the bars do not hide each other */
    for (int a = 0; a < 2; a++) {
        double xs[SV_COMPARE_MAX_SIZES * 4];
        for (int i = 0; i < m; i++)
            xs[i] = x[a][i] + (a ? off : -off);
        sv_plot_line(p, xs, y[a], m, sv_plot_color(a), 1.5, a);
        sv_plot_errorbars(p, xs, y[a], e[a], m, sv_plot_color(a));
    }
    const char *labs[] = {"transfer (fine-tuned)", "scratch"};
    sv_rgb cols[] = {sv_plot_color(0), sv_plot_color(1)};
    sv_plot_legend(p, 2, labs, cols, 2);
}

static void fmt(char *buf, size_t cap, double m, double s)
{
    if (isfinite(s))
        snprintf(buf, cap, "%.4f +- %.4f", m, s);
    else
        snprintf(buf, cap, "%.4f", m);
}

/* one arm: its figure and its table */
static int arm_section(sv_html *h, const sv_report_opts *o, const char *file, const char *arm,
                       const char *desc, const cmp_row *r, int nr, int fig, sv_error *err)
{
    char head[400];
    snprintf(head, sizeof head, "%s%s%s", arm ? arm : file, arm ? " — " : "", arm ? file : "");
    sv_html_section(h, head);
    if (desc[0])
        sv_html_para(h, "%s", desc);
    sv_plot *p = sv_plot_new(1000, 400, err);
    if (!p)
        return err->status;
    panel(p, 0, r, nr, "accuracy", "accuracy");
    panel(p, 0.5, r, nr, "auc", "ROC AUC");
    char name[256], cap[1200];
    snprintf(name, sizeof name, "compare_%d", fig);
    snprintf(cap, sizeof cap,
             "%s: test accuracy and ROC AUC of each arm against the number of labelled "
             "training stamps (mean +- std over %.0f runs).",
             arm ? arm : file, nr ? r[0].v[C_NRUNS] : 0.0);
    int st = sv_html_figure(h, p, o->outdir, name, cap, err);
    sv_plot_free(p);
    /* the table: accuracy, AUC, macro-F1 and epochs rows */
    static const char *hdr[] = {"labels", "figure", "transfer", "scratch", "p (Student)",
                                "p (Welch)"};
    int cap_cells = 6 * (nr + 1);
    char(*cells)[48] = calloc((size_t)cap_cells, sizeof *cells);
    const char **cp = calloc((size_t)cap_cells, sizeof *cp);
    int rows = 1;
    if (!st && (!cells || !cp))
        st = sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
    for (int c = 0; !st && c < 6; c++)
        snprintf(cells[c], 48, "%s", hdr[c]);
    for (int i = 0; !st && i < nr; i++) {
        if (strcmp(r[i].metric, "accuracy") && strcmp(r[i].metric, "auc") &&
            strcmp(r[i].metric, "macro_f1") && strcmp(r[i].metric, "epochs"))
            continue;
        char(*c)[48] = cells + 6 * rows;
        snprintf(c[0], 48, "%.0f", r[i].v[C_NLAB]);
        snprintf(c[1], 48, "%s", r[i].metric);
        fmt(c[2], 48, r[i].v[C_TM], r[i].v[C_TS]);
        fmt(c[3], 48, r[i].v[C_SM], r[i].v[C_SS]);
        snprintf(c[4], 48, "%.3g", r[i].v[C_PS]);
        snprintf(c[5], 48, "%.3g", r[i].v[C_PW]);
        rows++;
    }
    for (int i = 0; !st && i < 6 * rows; i++)
        cp[i] = cells[i];
    if (!st)
        sv_html_table(h, rows, 6, cp);
    free(cells);
    free(cp);
    return st;
}

int sv_report_compare(int n, const char *const *paths, const sv_report_opts *o, sv_error *err)
{
    int st = sv_report_make_dir(o->outdir, err);
    if (st)
        return st;
    sv_html *h = sv_html_new(o->title ? o->title : "Transfer learning against training from "
                                                   "scratch");
    if (!h)
        return sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
    sv_html_para(h, "From `stampvet compare` summaries. Each point: the mean over the runs "
                    "(seeds) of an arm, error bar: the sample standard deviation; p: two-sided "
                    "unpaired two-sample t-tests, transfer against scratch.");
    int fig = 0;
    for (int f = 0; f < n && !st; f++) {
        cmp_row *all = NULL;
        int nall = 0;
        char desc[1024];
        if ((st = read_summary(paths[f], &all, &nall, desc, sizeof desc, err)))
            break;
        const char *base = strrchr(paths[f], '/');
        base = base ? base + 1 : paths[f];
        /* one section per arm, in the file's order (rows of an arm are contiguous) */
        for (int a0 = 0; a0 < nall && !st;) {
            int a1 = a0 + 1;
            while (a1 < nall && !strcmp(all[a1].arm, all[a0].arm))
                a1++;
            st = arm_section(h, o, base, all[a0].arm[0] ? all[a0].arm : NULL, desc, all + a0,
                             a1 - a0, ++fig, err);
            a0 = a1;
        }
        free(all);
    }
    if (!st) {
        st = sv_report_write_page(h, o, err);
    }
    sv_html_free(h);
    return st;
}
