/* cmd_score.c — `stampvet score`: score pre-cut stamp triplets (score.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "data/feature_table.h"
#include "model/model_fits.h"
#include "infer/score.h"
#include "infer/tensor_score.h"

enum {
    S_MODEL = 256, S_SCI, S_REF, S_DIFF, S_ID, S_FEATURES, S_LIST, S_FTABLE, S_BATCH, S_THREADS,
    S_TENSORS, S_ALLSTEPS, S_ALERTS
};

static const cli_opt score_opts[] = {
    {"model", S_MODEL, "FILE", "stampvet model file (see import-keras); required"},
    {"sci", S_SCI, "FILE", "science cutout of one triplet"},
    {"ref", S_REF, "FILE", "reference cutout of one triplet"},
    {"diff", S_DIFF, "FILE", "difference cutout of one triplet"},
    {"id", S_ID, "ID", "its identifier (default: the science file's name)"},
    {"features", S_FEATURES, "LIST", "name=value,... for a model with a feature input"},
    {"list", S_LIST, "FILE", "many triplets: one per line, 'ID SCI REF DIFF' (blank\n"
                             "and '#' lines skipped; relative paths are relative to\n"
                             "the list file's folder)"},
    {"features-table", S_FTABLE, "F", "features for --list: CSV with a header line, or a\n"
                                      "FITS table; rows matched by an id/candid column if\n"
                                      "present, else one row per triplet in list order"},
    {"batch", S_BATCH, "N", "triplets per network call, in [1, 4096] (64)"},
    {"threads", S_THREADS, "N", "threads of each network call, in [1, 256] (1)"},
    {"tensors", S_TENSORS, "FILE", "prepared tensors for a light-curve model: a float32\n"
                                   "FITS cube, NAXIS1 = features, NAXIS2 = time steps,\n"
                                   "NAXIS3 = samples (numpy [N, T, F]); any T when the\n"
                                   "network does not depend on it"},
    {"all-steps", S_ALLSTEPS, NULL, "--tensors: every step T (0-based): 'I T CLASS1=P1 ...'"},
    {"alerts", S_ALERTS, "FILE", "score Avro alert packets instead (see\n"
                                 "stampvet score --alerts - --help)"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd score_cmd = {
    "score",
    "stampvet score --model M.fits --sci S.fits --ref R.fits --diff D.fits\n"
    "       [--id ID] [--features name=value,...] [-o OUT]\n"
    "stampvet score --model M.fits --list LIST [--features-table F.csv|F.fits] [-o OUT]\n"
    "stampvet score --model LC.fits --tensors X.fits [--all-steps] [-o T.fits|T.csv]\n"
    "stampvet score --model M.fits --alerts FILE.avro ... [-o F.csv|F.fits]",
    "Score pre-cut stamp triplets (as brokers receive ZTF cutouts) with a model.\n"
    "Stamps are read as stored (no flip; gzipped FITS as cfitsio reads it) and\n"
    "preprocessed as the model says.  Prints one line per triplet:\n"
    "  ID SCORE                          (realbogus model)\n"
    "  ID CLASS1=P1 CLASS2=P2 ...        (class model, in the model's class order)\n"
    "With --tensors (light-curve models), per sample I (0-based), its last\n"
    "unpadded step (a step is padding when every feature equals the model's mask\n"
    "value, 0 without a Masking layer):\n"
    "  I CLASS1=P1 CLASS2=P2 ...",
    score_opts,
    "triplets: the score lines go to FILE instead of stdout;\n"
    "--tensors: write them as a table (.fits: BINTABLE\n"
    "SCORES; .csv) with columns sample, step and one per\n"
    "class",
    "A missing feature is an error that names it.  A triplet that cannot be read\n"
    "prints 'ID nan' and a message on stderr; the exit status is then 1.  A\n"
    "sample with NaN/inf values or no unpadded step gives nan and a message on\n"
    "stderr; the exit status is then 1.  -q leaves out warnings (the scores are\n"
    "still written)."};

typedef struct score_args {
    const char *model_path, *list_path, *feat_text, *table_path, *path[3], *id, *tensors;
    long batch, threads;
    int all_steps;
} score_args;

static int score_option(void *user, int key, const char *arg)
{
    score_args *a = user;
    switch (key) {
    case S_MODEL: a->model_path = arg; return 0;
    case S_TENSORS: a->tensors = arg; return 0;
    case S_ALLSTEPS: a->all_steps = 1; return 0;
    case S_SCI: a->path[SV_CH_SCI] = arg; return 0;
    case S_REF: a->path[SV_CH_REF] = arg; return 0;
    case S_DIFF: a->path[SV_CH_DIFF] = arg; return 0;
    case S_ID: a->id = arg; return 0;
    case S_FEATURES: a->feat_text = arg; return 0;
    case S_LIST: a->list_path = arg; return 0;
    case S_FTABLE: a->table_path = arg; return 0;
    case S_BATCH: return cli_parse_long("score", "batch", arg, 1, 4096, &a->batch);
    case S_THREADS: return cli_parse_long("score", "threads", arg, 1, 256, &a->threads);
    default: return CLI_USAGE;
    }
}

typedef struct score_item {
    char id[256];
    char path[3][1024]; /* by sv_channel */
} score_item;

static void score_print(const sv_model *m, const char *id, const float *v, int n_out)
{
    printf("%s", id);
    if (m->task == SV_TASK_REALBOGUS) {
        printf(" %.9g\n", (double)v[0]);
        return;
    }
    for (int k = 0; k < n_out; k++)
        printf(" %s=%.9g", k < m->n_classes ? m->classes[k] : "?", (double)v[k]);
    printf("\n");
}

static void score_print_nan(const sv_model *m, const char *id)
{
    printf("%s", id);
    if (m->task == SV_TASK_REALBOGUS)
        printf(" nan\n");
    else {
        for (int k = 0; k < m->n_classes; k++)
            printf(" %s=nan", m->classes[k]);
        printf("\n");
    }
}

/* Score items[0..n): read their stamps, look up features, run, print. */
static int score_chunk(const char *cmd, const sv_model *m, sv_scorer *sc, score_item *items,
                       int n, long first_row, const sv_feature_table *ft, const char *feat_text)
{
    int failed = 0, n_ok = 0, n_out = sv_scorer_n_outputs(sc);
    sv_triplet *t = calloc((size_t)n, sizeof *t);
    float **pix = calloc((size_t)n * 3, sizeof *pix);
    int *ok = calloc((size_t)n, sizeof *ok);
    float *feat = m->n_features ? calloc((size_t)n * m->n_features, sizeof *feat) : NULL;
    float *out = calloc((size_t)n * n_out, sizeof *out);
    int *map = calloc((size_t)n, sizeof *map);
    if (!t || !pix || !ok || !out || !map || (m->n_features && !feat)) {
        cli_fail(cmd, "out of memory");
        failed = n;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        sv_error err;
        sv_error_clear(&err);
        int good = 1, h0 = 0, w0 = 0;
        for (int c = 0; c < 3 && good; c++) {
            int used = 0;
            for (int k = 0; k < m->pre.n_channels; k++)
                used |= (int)m->pre.channel[k] == c;
            if (!used)
                continue;
            int h, w;
            if (sv_stamp_read(items[i].path[c], &pix[3 * i + c], &h, &w, &err)) {
                cli_fail(cmd, "%s: %s", items[i].id, err.text);
                good = 0;
            } else if (h0 && (h != h0 || w != w0)) {
                cli_fail(cmd, "%s: %s is %dx%d, the other cutouts %dx%d", items[i].id,
                         items[i].path[c], w, h, w0, h0);
                good = 0;
            } else {
                h0 = h;
                w0 = w;
            }
        }
        if (good && m->n_features) {
            float *fv = feat + (size_t)n_ok * m->n_features;
            int st = ft ? sv_feature_table_get(ft, m, first_row + i, items[i].id, fv, &err)
                        : sv_features_parse(m, feat_text, fv, &err);
            if (st) {
                cli_fail(cmd, "%s: %s", items[i].id, err.text);
                good = 0;
            }
        }
        if (!good) {
            failed++;
            continue;
        }
        sv_triplet *tr = &t[n_ok];
        for (int c = 0; c < 3; c++)
            tr->chan[c] = pix[3 * i + c];
        tr->h = h0;
        tr->w = w0;
        map[n_ok++] = i;
        ok[i] = 1;
    }
    if (n_ok > 0) {
        sv_error err;
        sv_error_clear(&err);
        if (sv_scorer_run(sc, n_ok, t, feat, out, NULL, &err)) {
            cli_fail(cmd, "%s", err.text);
            for (int j = 0; j < n_ok; j++)
                ok[map[j]] = 0;
            failed += n_ok;
            n_ok = 0;
        }
    }
    for (int i = 0, j = 0; i < n; i++) {
        if (ok[i] && j < n_ok && map[j] == i)
            score_print(m, items[i].id, out + (size_t)j++ * n_out, n_out);
        else
            score_print_nan(m, items[i].id);
    }
done:
    if (pix)
        for (int i = 0; i < 3 * n; i++)
            free(pix[i]);
    free(pix);
    free(t);
    free(ok);
    free(feat);
    free(out);
    free(map);
    return failed;
}

/* --tensors: score prepared sequences, print or write them. */
static int score_tensors(const char *cmd, const sv_model *m, const char *path, int all_steps,
                         const char *out_path, int batch)
{
    sv_error err;
    sv_error_clear(&err);
    sv_tensor_scores s;
    if (sv_tensor_score_file(m, path, batch, &s, &err))
        return cli_fail(cmd, "%s", err.text);
    int failed = 0;
    for (int i = 0; i < s.n; i++) {
        if (s.bad[i])
            cli_fail(cmd, "%s: sample %d holds NaN or infinite values", path, i);
        else if (s.last[i] < 0 && !all_steps)
            cli_fail(cmd, "%s: sample %d has no unpadded step", path, i);
        failed += s.bad[i] || (s.last[i] < 0 && !all_steps);
    }
    if (all_steps && !s.per_step) {
        cli_fail(cmd, "model '%s' gives one output per sample, not one per step", m->name);
        sv_tensor_scores_free(&s);
        return 2;
    }
    if (out_path) {
        if (sv_tensor_scores_write(m, &s, all_steps, out_path, &err)) {
            cli_fail(cmd, "%s", err.text);
            sv_tensor_scores_free(&s);
            return 1;
        }
    } else {
        int per = s.per_step ? s.t : 1;
        for (int i = 0; i < s.n; i++)
            for (int t = all_steps ? 0 : s.last[i], n = 0; all_steps ? t < s.t : n < 1; t++, n++) {
                const float *p = t < 0 ? NULL
                                       : s.probs + ((size_t)i * per + (s.per_step ? t : 0)) * s.k;
                if (all_steps)
                    printf("%d %d", i, t);
                else
                    printf("%d", i);
                for (int k = 0; k < s.k; k++)
                    printf(" %s=%.9g", k < m->n_classes ? m->classes[k] : "?",
                           p ? (double)p[k] : NAN);
                printf("\n");
            }
    }
    sv_tensor_scores_free(&s);
    return failed ? 1 : 0;
}

/* Split a list line into at most 4 whitespace-separated tokens. */
static int score_tokens(char *line, char **tok, int max)
{
    int n = 0;
    char *p = line;
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        if (n == max)
            return max + 1;
        tok[n++] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static int score_resolve(const char *dir, const char *p, char *out, size_t len)
{
    int n = (p[0] == '/' || !dir[0]) ? snprintf(out, len, "%s", p)
                                     : snprintf(out, len, "%s/%s", dir, p);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int cmd_score(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--alerts") || !strncmp(argv[i], "--alerts=", 9))
            return cmd_score_alerts(argc, argv);
    const char *cmd = "score";
    score_args a = {0};
    a.batch = 64;
    a.threads = 1;
    cli_common com = {0};
    int first = 0;
    int pst = cli_parse(&score_cmd, argc, argv, &com, score_option, &a, &first);
    if (pst >= 0)
        return pst;
    if (first != argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
    if (!a.model_path)
        return cli_usage_error(cmd, "--model is required");
    const char *model_path = a.model_path, *list_path = a.list_path, *feat_text = a.feat_text;
    const char *table_path = a.table_path, *id = a.id, *tensors = a.tensors;
    const char *out_path = com.output;
    const char *const *path = a.path;
    int batch = (int)a.batch, threads = (int)a.threads, all_steps = a.all_steps;
    int single = path[0] || path[1] || path[2];
    if (tensors && (single || list_path || feat_text || table_path))
        return cli_usage_error(cmd, "--tensors scores prepared sequences: not with stamps, "
                                    "--list or features");
    if (!tensors && all_steps)
        return cli_usage_error(cmd, "--all-steps goes with --tensors");
    if (tensors) {
        sv_error err;
        sv_error_clear(&err);
        sv_model *m = NULL;
        if (sv_model_read_fits(model_path, &m, &err))
            return cli_fail(cmd, "%s", err.text);
        int rc = score_tensors(cmd, m, tensors, all_steps, out_path, batch);
        sv_model_free(m);
        return rc;
    }
    if (single == !!list_path)
        return cli_usage_error(cmd, "give either --sci/--ref/--diff or --list");
    if (table_path && !list_path)
        return cli_usage_error(cmd, "--features-table goes with --list; use --features for "
                                    "one triplet");
    if (feat_text && list_path)
        return cli_usage_error(cmd, "--features is for one triplet; use --features-table "
                                    "with --list");
    cli_common to_file = {com.output, 0, 0}; /* -q leaves the scores on stdout */
    if (cli_redirect_stdout(cmd, &to_file))
        return CLI_FAILED;

    sv_error err;
    sv_error_clear(&err);
    sv_model *m = NULL;
    if (sv_model_read_fits(model_path, &m, &err))
        return cli_fail(cmd, "%s", err.text);
    if (m->n_features > 0 && !feat_text && !table_path) {
        cli_fail(cmd, "model '%s' needs %d features (%s%s): give --features name=value,... or "
                 "--features-table", m->name, m->n_features, m->features[0],
                 m->n_features > 1 ? ",..." : "");
        sv_model_free(m);
        return 1;
    }
    if (m->n_features == 0 && (feat_text || table_path)) {
        cli_fail(cmd, "model '%s' takes no features", m->name);
        sv_model_free(m);
        return 2;
    }
    for (int k = 0; single && k < m->pre.n_channels; k++) {
        static const char *const opt_names[3] = {"--sci", "--ref", "--diff"};
        if (!path[m->pre.channel[k]]) {
            cli_fail(cmd, "model '%s' needs %s", m->name, opt_names[m->pre.channel[k]]);
            sv_model_free(m);
            return 2;
        }
    }
    sv_scorer *sc = sv_scorer_new_threads(m, batch, threads, &err);
    if (!sc) {
        cli_fail(cmd, "%s: %s", model_path, err.text);
        sv_model_free(m);
        return 1;
    }

    int failed = 0;
    if (single) {
        score_item it;
        memset(&it, 0, sizeof it);
        const char *base = path[SV_CH_SCI] ? path[SV_CH_SCI] : path[SV_CH_DIFF] ? path[SV_CH_DIFF]
                                                                               : path[SV_CH_REF];
        const char *slash = strrchr(base, '/');
        snprintf(it.id, sizeof it.id, "%s", id ? id : slash ? slash + 1 : base);
        for (int k = 0; k < 3; k++)
            snprintf(it.path[k], sizeof it.path[k], "%s", path[k] ? path[k] : "");
        failed = score_chunk(cmd, m, sc, &it, 1, 0, NULL, feat_text);
    } else {
        sv_feature_table *ft = NULL;
        FILE *lf = fopen(list_path, "r");
        if (!lf) {
            cli_fail(cmd, "%s: cannot open: %s", list_path, strerror(errno));
            sv_scorer_free(sc);
            sv_model_free(m);
            return 1;
        }
        if (table_path && sv_feature_table_read(table_path, &ft, &err)) {
            cli_fail(cmd, "%s", err.text);
            fclose(lf);
            sv_scorer_free(sc);
            sv_model_free(m);
            return 1;
        }
        /* check the whole list first: nothing is scored from a malformed list */
        char line[4096];
        long lineno = 0;
        while (fgets(line, sizeof line, lf)) {
            char *tok[5];
            lineno++;
            if (!strchr(line, '\n') && !feof(lf)) {
                cli_fail(cmd, "%s:%ld: line too long", list_path, lineno);
                fclose(lf);
                sv_feature_table_free(ft);
                sv_scorer_free(sc);
                sv_model_free(m);
                return 2;
            }
            int nt = score_tokens(line, tok, 4);
            if (nt != 0 && tok[0][0] != '#' && nt != 4) {
                cli_fail(cmd, "%s:%ld: expected 'ID SCI REF DIFF', got %s fields", list_path,
                         lineno, nt > 4 ? "more" : nt == 1 ? "1" : nt == 2 ? "2" : "3");
                fclose(lf);
                sv_feature_table_free(ft);
                sv_scorer_free(sc);
                sv_model_free(m);
                return 2;
            }
        }
        rewind(lf);
        lineno = 0;
        char dir[1024] = "";
        const char *slash = strrchr(list_path, '/');
        if (slash)
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - list_path), list_path);
        score_item *items = calloc((size_t)batch, sizeof *items);
        long row = 0, chunk_first = 0;
        int n = 0, bad_list = 0;
        if (!items) {
            cli_fail(cmd, "out of memory");
            bad_list = 1;
        }
        while (!bad_list && fgets(line, sizeof line, lf)) {
            lineno++;
            if (!strchr(line, '\n') && !feof(lf)) {
                cli_fail(cmd, "%s:%ld: line too long", list_path, lineno);
                bad_list = 1;
                break;
            }
            char *tok[5];
            int nt = score_tokens(line, tok, 4);
            if (nt == 0 || tok[0][0] == '#')
                continue;
            if (nt != 4) { /* checked above: the file changed meanwhile */
                cli_fail(cmd, "%s:%ld: expected 'ID SCI REF DIFF'", list_path, lineno);
                bad_list = 1;
                break;
            }
            score_item *it = &items[n];
            snprintf(it->id, sizeof it->id, "%s", tok[0]);
            if (score_resolve(dir, tok[1], it->path[SV_CH_SCI], sizeof it->path[0]) ||
                score_resolve(dir, tok[2], it->path[SV_CH_REF], sizeof it->path[0]) ||
                score_resolve(dir, tok[3], it->path[SV_CH_DIFF], sizeof it->path[0])) {
                cli_fail(cmd, "%s:%ld: path too long", list_path, lineno);
                bad_list = 1;
                break;
            }
            row++;
            if (++n == batch) {
                failed += score_chunk(cmd, m, sc, items, n, chunk_first, ft, NULL);
                chunk_first = row;
                n = 0;
            }
        }
        if (!bad_list && n > 0)
            failed += score_chunk(cmd, m, sc, items, n, chunk_first, ft, NULL);
        if (!bad_list && row == 0 && !com.quiet)
            fprintf(stderr, "stampvet score: %s: no triplets\n", list_path);
        if (!bad_list && ft && !sv_feature_table_id_column(ft) &&
            sv_feature_table_rows(ft) != row && !com.quiet)
            fprintf(stderr, "stampvet score: warning: %s has %ld rows for %ld triplets (matched "
                    "by order: it has no id/candid column)\n", table_path,
                    sv_feature_table_rows(ft), row);
        failed += bad_list;
        free(items);
        sv_feature_table_free(ft);
        fclose(lf);
    }
    sv_scorer_free(sc);
    sv_model_free(m);
    if (fflush(stdout) != 0)
        return cli_fail(cmd, "cannot write the scores: %s", strerror(errno));
    return failed ? 1 : 0;
}
