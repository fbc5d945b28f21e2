/* compare.c — transfer learning against training from scratch.  See
 * compare.h. */
#include "train/compare.h"
#include "core/rng.h"
#include "fits/fits_dates.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

sv_compare_config sv_compare_defaults(void)
{
    sv_compare_config c;
    memset(&c, 0, sizeof c);
    c.runs = 5;
    c.seed = 1;
    c.n_sizes = 0;
    c.transfer = sv_finetune_defaults();
    c.scratch = sv_train_defaults();
    c.eval = sv_eval_defaults();
    return c;
}

void sv_compare_result_free(sv_compare_result *res)
{
    if (!res)
        return;
    free(res->runs);
    res->runs = NULL;
    res->n_runs = 0;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The scratch model: the transfer model's architecture with fresh weights. */
static int make_scratch(const sv_model *base, const sv_stamp_source *src, uint64_t seed,
                        sv_model **out, sv_error *err)
{
    sv_model *m = NULL;
    int st = sv_finetune_prepare(base, src->realbogus, src->n_classes,
                                 (const char(*)[SV_LABEL_MAX])src->classes, seed, &m, NULL, err);
    if (st)
        return st;
    for (int i = 0; i < m->net->n_layers; i++)
        m->net->layers[i].trainable = 1;
    nn_net_init_weights(m->net, sv_seed_mix(seed, 0x5c7a7c4ULL, 0, 0));
    snprintf(m->name, sizeof m->name, "%.55s-scratch", base->name);
    m->n_history = 0;
    *out = m;
    return 0;
}

static const char *const stats_binary[] = {"accuracy", "auc", "macro_f1", "log_loss", "fpr",
                                           "fnr",      "eer", "epochs",   "epochs_run", NULL};
static const char *const stats_class[] = {"accuracy", "macro_f1", "auc", "log_loss",
                                          "epochs",   "epochs_run", NULL};

static double run_value(const sv_compare_run *r, const char *name)
{
    if (!strcmp(name, "epochs"))
        return r->best_epoch;
    if (!strcmp(name, "epochs_run"))
        return r->epochs_run;
    return sv_metrics_get(&r->met, name);
}

/* R (size, n_labels, arm, run, seed set) from the scratch runs read back. */
static int reuse_scratch(const sv_compare_config *cfg, sv_compare_run *R, sv_error *err)
{
    for (int i = 0; i < cfg->n_scratch_runs; i++) {
        const sv_compare_run *S = &cfg->scratch_runs[i];
        if (S->size != R->size || S->run != R->run)
            continue;
        if (S->seed != R->seed || S->n_labels != R->n_labels)
            return sv_error_set(err, SV_ERR_ARG,
                                "compare: the reused scratch run %d of size %ld has seed %llu "
                                "and %ld labels, this one seed %llu and %ld labels",
                                R->run + 1, R->size, (unsigned long long)S->seed, S->n_labels,
                                (unsigned long long)R->seed, R->n_labels);
        *R = *S;
        R->arm = SV_ARM_SCRATCH;
        R->reused = 1;
        return 0;
    }
    return sv_error_set(err, SV_ERR_ARG, "compare: no scratch run %d of size %ld to reuse",
                        R->run + 1, R->size);
}

int sv_compare(const sv_model *base, const sv_stamp_source *train, const char *train_path,
               const sv_stamp_source *test, const sv_compare_config *cfg_in,
               sv_compare_result *res, sv_error *err)
{
    if (!base || !train || !test || !res)
        return sv_error_set(err, SV_ERR_ARG, "compare: NULL argument");
    memset(res, 0, sizeof *res);
    sv_compare_config cfg = cfg_in ? *cfg_in : sv_compare_defaults();
    if (cfg.runs < 2 || cfg.runs > 1000)
        return sv_error_set(err, SV_ERR_ARG, "compare: %d runs (a t-test needs 2..1000)",
                            cfg.runs);
    if (cfg.n_sizes < 0 || cfg.n_sizes > SV_COMPARE_MAX_SIZES)
        return sv_error_set(err, SV_ERR_ARG, "compare: %d sizes (at most %d)", cfg.n_sizes,
                            SV_COMPARE_MAX_SIZES);
    if (train->realbogus != test->realbogus || train->n_classes != test->n_classes)
        return sv_error_set(err, SV_ERR_ARG, "compare: training data %s and test data %s have "
                            "different labels",
                            train->origin, test->origin);
    for (int c = 0; c < train->n_classes; c++)
        if (strcmp(train->classes[c], test->classes[c]))
            return sv_error_set(err, SV_ERR_ARG,
                                "compare: class %d is '%s' in %s but '%s' in %s", c,
                                train->classes[c], train->origin, test->classes[c],
                                test->origin);
    int n_sizes = cfg.n_sizes ? cfg.n_sizes : 1;
    res->binary = train->realbogus;
    res->n_rows = n_sizes;
    res->n_runs = n_sizes * 2 * cfg.runs;
    res->runs = calloc((size_t)res->n_runs, sizeof *res->runs);
    long *idx = malloc((size_t)train->n * sizeof *idx);
    double *va = malloc((size_t)cfg.runs * sizeof *va), *vb = malloc((size_t)cfg.runs * sizeof *vb);
    if (!res->runs || !idx || !va || !vb) {
        free(idx);
        free(va);
        free(vb);
        sv_compare_result_free(res);
        return sv_error_set(err, SV_ERR_NOMEM, "compare: out of memory");
    }
    int st = 0;
    for (int si = 0; si < n_sizes && !st; si++) {
        long size = cfg.n_sizes ? cfg.sizes[si] : 0;
        if (cfg.n_sizes && size < 2) {
            st = sv_error_set(err, SV_ERR_ARG, "compare: training-set size %ld", size);
            break;
        }
        long n = size > 0 ? sv_subsample_stratified(train->labels, train->n, train->n_classes,
                                                    size, cfg.seed, idx)
                          : train->n;
        if (size <= 0)
            for (long i = 0; i < n; i++)
                idx[i] = i;
        sv_stamp_source sub;
        if ((st = sv_source_subset(&sub, train, idx, n, err)))
            break;
        sv_compare_row *row = &res->rows[si];
        row->size = size;
        row->n_labels = n;
        for (int r = 0; r < cfg.runs && !st; r++) {
            uint64_t seed = cfg.seed + (uint64_t)r;
            for (int arm = 0; arm < 2 && !st; arm++) {
                sv_compare_run *R = &res->runs[(si * 2 + arm) * cfg.runs + r];
                R->size = size;
                R->n_labels = n;
                R->arm = arm;
                R->run = r;
                R->seed = seed;
                sv_model *m = NULL;
                sv_train_result *tr = calloc(1, sizeof *tr);
                if (!tr) {
                    st = sv_error_set(err, SV_ERR_NOMEM, "compare: out of memory");
                    break;
                }
                if (arm == SV_ARM_SCRATCH && cfg.n_scratch_runs) {
                    st = reuse_scratch(&cfg, R, err);
                    free(tr);
                    if (st)
                        break;
                    if (cfg.progress)
                        cfg.progress(R, cfg.progress_user);
                    continue;
                }
                double t0 = wall();
                if (arm == SV_ARM_TRANSFER) {
                    sv_finetune_config fc = cfg.transfer;
                    fc.train.seed = seed;
                    st = sv_finetune(base, &sub, train_path, &fc, &m, tr, err);
                } else {
                    sv_train_config tc = cfg.scratch;
                    tc.seed = seed;
                    tc.layer_lr_scale = NULL;
                    st = make_scratch(base, &sub, seed, &m, err);
                    if (!st)
                        st = sv_train(m, &sub, &tc, tr, err);
                }
                R->seconds = wall() - t0;
                if (!st) {
                    R->best_epoch = tr->best_epoch;
                    R->epochs_run = tr->epochs_run;
                    st = sv_evaluate(m, test, &cfg.eval, &R->met, NULL, err);
                }
                free(tr);
                sv_model_free(m);
                if (st) {
                    sv_error_prefix(err, "compare (size %ld, %s run %d): ", size,
                                    arm ? "scratch" : "transfer", r + 1);
                    break;
                }
                if (cfg.progress)
                    cfg.progress(R, cfg.progress_user);
            }
        }
        sv_source_close(&sub);
        if (st)
            break;
        const char *const *names = res->binary ? stats_binary : stats_class;
        for (int q = 0; names[q] && row->n_stats < SV_COMPARE_MAX_STATS; q++) {
            sv_compare_stat *S = &row->stat[row->n_stats++];
            snprintf(S->metric, sizeof S->metric, "%s", names[q]);
            for (int r = 0; r < cfg.runs; r++) {
                va[r] = run_value(&res->runs[(si * 2 + 0) * cfg.runs + r], names[q]);
                vb[r] = run_value(&res->runs[(si * 2 + 1) * cfg.runs + r], names[q]);
            }
            sv_mean_std(va, cfg.runs, &S->mean[0], &S->std[0]);
            sv_mean_std(vb, cfg.runs, &S->mean[1], &S->std[1]);
            sv_ttest_student(va, cfg.runs, vb, cfg.runs, &S->student);
            sv_ttest_welch(va, cfg.runs, vb, cfg.runs, &S->welch);
        }
    }
    free(idx);
    free(va);
    free(vb);
    if (st)
        sv_compare_result_free(res);
    return st;
}

/* ---- reports ---------------------------------------------------------------- */

static void fmt_p(char *buf, size_t cap, double p)
{
    if (isnan(p)) /* no spread in either arm (metrics.h) */
        snprintf(buf, cap, "NaN");
    else if (p < 1e-4)
        snprintf(buf, cap, "%.1e", p);
    else
        snprintf(buf, cap, "%.4f", p);
}

int sv_compare_print(FILE *out, const sv_compare_result *res)
{
    if (!out || !res)
        return SV_ERR_ARG;
    fprintf(out, "%-8s %-11s %-19s %-19s %-10s %-10s\n", "labels", "figure",
            "transfer (mean+-sd)", "scratch (mean+-sd)", "p Student", "p Welch");
    for (int i = 0; i < res->n_rows; i++) {
        const sv_compare_row *R = &res->rows[i];
        for (int q = 0; q < R->n_stats; q++) {
            const sv_compare_stat *S = &R->stat[q];
            char a[40], b[40], ps[16], pw[16], lab[24];
            int ep = !strncmp(S->metric, "epochs", 6);
            snprintf(a, sizeof a, ep ? "%.1f +- %.1f" : "%.4f +- %.4f", S->mean[0], S->std[0]);
            snprintf(b, sizeof b, ep ? "%.1f +- %.1f" : "%.4f +- %.4f", S->mean[1], S->std[1]);
            fmt_p(ps, sizeof ps, S->student.p);
            fmt_p(pw, sizeof pw, S->welch.p);
            if (q == 0)
                snprintf(lab, sizeof lab, "%ld", R->n_labels);
            else
                lab[0] = '\0';
            fprintf(out, "%-8s %-11s %-19s %-19s %-10s %-10s\n", lab, S->metric, a, b, ps, pw);
        }
    }
    return ferror(out) ? SV_ERR_IO : 0;
}

static int write_summary_csv(const char *tmp, const sv_compare_result *res, const char *prov,
                             sv_error *err)
{
    FILE *f = sv_report_csv_create(tmp, err);
    if (!f)
        return SV_ERR_IO;
    if (prov)
        fprintf(f, "# %s\n", prov);
    fprintf(f, "size,n_labels,metric,transfer_mean,transfer_std,scratch_mean,scratch_std,"
               "t_student,p_student,t_welch,dof_welch,p_welch,n_runs\n");
    for (int i = 0; i < res->n_rows; i++) {
        const sv_compare_row *R = &res->rows[i];
        for (int q = 0; q < R->n_stats; q++) {
            const sv_compare_stat *S = &R->stat[q];
            fprintf(f, "%ld,%ld,%s,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%d\n",
                    R->size, R->n_labels, S->metric, S->mean[0], S->std[0], S->mean[1],
                    S->std[1], S->student.t, S->student.p, S->welch.t, S->welch.dof,
                    S->welch.p, S->student.n1);
        }
    }
    return sv_report_csv_close(f, tmp, err);
}

#define SCRATCH_LINE "# scratch arm: "

static int write_runs_csv(const char *tmp, const sv_compare_result *res, const char *key,
                          sv_error *err)
{
    FILE *f = sv_report_csv_create(tmp, err);
    if (!f)
        return SV_ERR_IO;
    if (key)
        fprintf(f, SCRATCH_LINE "%s\n", key);
    fprintf(f, "size,n_labels,arm,run,seed,metric,value\n");
    const char *const *names = res->binary ? stats_binary : stats_class;
    for (int i = 0; i < res->n_runs; i++) {
        const sv_compare_run *R = &res->runs[i];
        for (int q = 0; names[q]; q++)
            fprintf(f, "%ld,%ld,%s,%d,%llu,%s,%.17g\n", R->size, R->n_labels,
                    R->arm ? "scratch" : "transfer", R->run, (unsigned long long)R->seed,
                    names[q], run_value(R, names[q]));
    }
    return sv_report_csv_close(f, tmp, err);
}

static int write_fits(const char *tmp, const sv_compare_result *res, const char *prov,
                      sv_error *err)
{
    int s;
    fitsfile *f = sv_report_fits_create(tmp, &s, err);
    if (!f)
        return SV_ERR_IO;
    fits_write_key_longwarn(f, &s);
    if (prov)
        fits_write_key_longstr(f, "PROVEN", (char *)prov, "how this table was made", &s);
    fits_update_key_str(f, "TASK", res->binary ? "realbogus" : "class", NULL, &s);
    char *tt[] = {"SIZE",   "NTRAIN", "METRIC",  "TR_MEAN",   "TR_STD",  "SC_MEAN", "SC_STD",
                  "T_STUD", "P_STUD", "T_WELCH", "DOF_WELCH", "P_WELCH", "NRUNS"};
    char *tf[] = {"1K", "1K", "24A", "1D", "1D", "1D", "1D", "1D", "1D", "1D", "1D", "1D", "1J"};
    fits_create_tbl(f, BINARY_TBL, 0, 13, tt, tf, NULL, "SUMMARY", &s);
    long row = 0;
    for (int i = 0; i < res->n_rows && !s; i++) {
        const sv_compare_row *R = &res->rows[i];
        for (int q = 0; q < R->n_stats && !s; q++) {
            const sv_compare_stat *S = &R->stat[q];
            row++;
            long long sz = R->size, nl = R->n_labels;
            char *m = (char *)S->metric;
            int nr = S->student.n1;
            fits_write_col(f, TLONGLONG, 1, row, 1, 1, &sz, &s);
            fits_write_col(f, TLONGLONG, 2, row, 1, 1, &nl, &s);
            fits_write_col(f, TSTRING, 3, row, 1, 1, &m, &s);
            double v[9] = {S->mean[0], S->std[0], S->mean[1],  S->std[1], S->student.t,
                           S->student.p, S->welch.t, S->welch.dof, S->welch.p};
            for (int c = 0; c < 9; c++)
                sv_report_fits_put_double(f, 4 + c, row, v[c], &s);
            fits_write_col(f, TINT, 13, row, 1, 1, &nr, &s);
        }
    }
    sv_fits_write_chksum(f, &s);
    char *rt[] = {"SIZE", "ARM", "RUN", "SEED", "METRIC", "VALUE"};
    char *rf[] = {"1K", "8A", "1J", "1K", "24A", "1D"};
    fits_create_tbl(f, BINARY_TBL, 0, 6, rt, rf, NULL, "RUNS", &s);
    const char *const *names = res->binary ? stats_binary : stats_class;
    row = 0;
    for (int i = 0; i < res->n_runs && !s; i++) {
        const sv_compare_run *R = &res->runs[i];
        for (int q = 0; names[q] && !s; q++) {
            row++;
            long long sz = R->size, sd = (long long)R->seed;
            char *arm = R->arm ? "scratch" : "transfer", *m = (char *)names[q];
            int rn = R->run;
            fits_write_col(f, TLONGLONG, 1, row, 1, 1, &sz, &s);
            fits_write_col(f, TSTRING, 2, row, 1, 1, &arm, &s);
            fits_write_col(f, TINT, 3, row, 1, 1, &rn, &s);
            fits_write_col(f, TLONGLONG, 4, row, 1, 1, &sd, &s);
            fits_write_col(f, TSTRING, 5, row, 1, 1, &m, &s);
            sv_report_fits_put_double(f, 6, row, run_value(R, names[q]), &s);
        }
    }
    return sv_report_fits_close(f, s, tmp, err);
}

typedef struct report {
    int kind; /* sv_report_kind; 0: the per-run CSV */
    const sv_compare_result *res;
    const char *prov, *key;
} report;

static int write_report(const char *tmp, void *user, sv_error *err)
{
    const report *p = user;
    return p->kind == 0   ? write_runs_csv(tmp, p->res, p->key, err)
           : p->kind == 1 ? write_fits(tmp, p->res, p->prov, err)
                          : write_summary_csv(tmp, p->res, p->prov, err);
}

int sv_compare_write(const char *path, const char *runs_csv, const sv_compare_result *res,
                     const char *provenance, const char *scratch_key, sv_error *err)
{
    if (!res)
        return sv_error_set(err, SV_ERR_ARG, "compare: no result");
    if (path) {
        int kind = sv_report_kind(path);
        if (!kind)
            return sv_error_set(err, SV_ERR_ARG,
                                "%s: unknown report format (use .fits, .fit, .fts or .csv)",
                                path);
        report rep = {kind, res, provenance, NULL};
        int st = sv_report_write_atomic(path, write_report, &rep, err);
        if (st)
            return st;
    }
    if (runs_csv) {
        if (sv_report_kind(runs_csv) != 2)
            return sv_error_set(err, SV_ERR_ARG, "%s: the per-run table is written as .csv",
                                runs_csv);
        report rep = {0, res, provenance, scratch_key};
        return sv_report_write_atomic(runs_csv, write_report, &rep, err);
    }
    return 0;
}

/* ---- reading scratch runs back ------------------------------------------------ */

static sv_compare_run *find_or_add(sv_compare_run **runs, int *n, int *cap, long size, int run)
{
    for (int i = 0; i < *n; i++)
        if ((*runs)[i].size == size && (*runs)[i].run == run)
            return &(*runs)[i];
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        sv_compare_run *g = realloc(*runs, (size_t)nc * sizeof *g);
        if (!g)
            return NULL;
        *runs = g;
        *cap = nc;
    }
    sv_compare_run *R = &(*runs)[(*n)++];
    memset(R, 0, sizeof *R);
    R->size = size;
    R->run = run;
    R->arm = SV_ARM_SCRATCH;
    R->reused = 1;
    R->best_epoch = R->epochs_run = -1;
    R->met.threshold = R->met.fpr = R->met.fnr = R->met.eer = R->met.eer_threshold = NAN;
    return R;
}

int sv_compare_read_scratch(const char *path, const char *key, sv_compare_run **runs_out,
                            int *n_out, sv_error *err)
{
    if (!path || !key || !runs_out || !n_out)
        return sv_error_set(err, SV_ERR_ARG, "compare: NULL argument");
    *runs_out = NULL;
    *n_out = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    char line[4096];
    int st = 0, n = 0, cap = 0;
    long lineno = 0;
    sv_compare_run *runs = NULL;
    size_t kl = strlen(SCRATCH_LINE);
    if (!fgets(line, sizeof line, f) || strncmp(line, SCRATCH_LINE, kl)) {
        st = sv_error_set(err, SV_ERR_FORMAT,
                          "%s: not a compare --runs-out table with a \"%s\" line", path,
                          SCRATCH_LINE);
        goto done;
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line + kl, key)) {
        st = sv_error_set(err, SV_ERR_FORMAT,
                          "%s: made by another scratch arm; it has \"%s\", this run needs "
                          "\"%s\"",
                          path, line + kl, key);
        goto done;
    }
    lineno = 1;
    if (!fgets(line, sizeof line, f) ||
        strncmp(line, "size,n_labels,arm,run,seed,metric,value", 39)) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: line 2 is not the per-run header", path);
        goto done;
    }
    lineno = 2;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        long size, nl;
        int run;
        unsigned long long seed;
        char arm[16], metric[40], value[64];
        if (sscanf(line, "%ld,%ld,%15[^,],%d,%llu,%39[^,],%63[^\r\n]", &size, &nl, arm, &run,
                   &seed, metric, value) != 7 || run < 0) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s line %ld: not size,n_labels,arm,run,"
                              "seed,metric,value", path, lineno);
            goto done;
        }
        if (strcmp(arm, "scratch"))
            continue;
        char *end = NULL;
        double v = strtod(value, &end);
        if (end == value || *end) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s line %ld: value '%s' is not a number",
                              path, lineno, value);
            goto done;
        }
        sv_compare_run *R = find_or_add(&runs, &n, &cap, size, run);
        if (!R) {
            st = sv_error_set(err, SV_ERR_NOMEM, "compare: out of memory");
            goto done;
        }
        R->n_labels = nl;
        R->seed = seed;
        if (!strcmp(metric, "epochs"))
            R->best_epoch = (int)v;
        else if (!strcmp(metric, "epochs_run"))
            R->epochs_run = (int)v;
        else if (sv_metrics_set(&R->met, metric, v)) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s line %ld: unknown figure '%s'", path,
                              lineno, metric);
            goto done;
        }
    }
    if (ferror(f))
        st = sv_error_set(err, SV_ERR_IO, "%s: read error", path);
    else if (!n)
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: no scratch runs", path);
    for (int i = 0; i < n && !st; i++)
        if (runs[i].best_epoch < 0 || runs[i].epochs_run < 0)
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: scratch run %d of size %ld has no "
                              "epochs figures", path, runs[i].run + 1, runs[i].size);
done:
    fclose(f);
    if (st) {
        free(runs);
        return st;
    }
    *runs_out = runs;
    *n_out = n;
    return 0;
}
