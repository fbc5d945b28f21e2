/* cmd_lc.c — light curves in the stampvet command: `simulate --lightcurves`,
 * the light-curve forms of `train`, `finetune` and `compare`, and the
 * light-curve data of `evaluate` (lc_cli.h).  Thin: the options, the runs
 * and their report lines are the stamp commands' (train_opts.h); the
 * library does the work (lightcurve.h, lc_prep.h, lc_sim.h, lc_source.h,
 * lc_arch.h, train.h, finetune.h, compare.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "train/compare.h"
#include "config.h"
#include "train/finetune.h"
#include "model/lc_arch.h"
#include "cli/lc_cli.h"
#include "sim/lc_sim.h"
#include "data/lc_source.h"
#include "data/lightcurve.h"
#include "model/model.h"
#include "model/model_fits.h"
#include "core/parallel.h"
#include "train/train.h"
#include "cli/train_opts.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* ---- small helpers ---------------------------------------------------------------- */

static int split_list(const char *text, char (*out)[SV_LABEL_MAX], int max)
{
    int n = 0;
    const char *s = text;
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || len >= SV_LABEL_MAX || n >= max)
            return -1;
        memcpy(out[n], s, len);
        out[n][len] = '\0';
        n++;
        s = e ? e + 1 : NULL;
    }
    return n;
}

static int parse_doubles(const char *text, double *v, int max)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        char *end = NULL;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || n >= max || (*end && *end != ','))
            return -1;
        v[n++] = x;
        p = *end ? end + 1 : end;
    }
    return n;
}

static int load_set(const char *cmd, const char *path, sv_lc_set *s)
{
    sv_error err;
    sv_error_clear(&err);
    if (sv_lc_read_fits(path, NULL, s, &err))
        return cli_fail(cmd, "%s", err.text);
    if (s->n_classes < 1) {
        sv_lc_set_free(s);
        return cli_fail(cmd, "%s: unlabelled light curves (no CANDIDATES classes)", path);
    }
    return 0;
}

/* open a source over `set` with the model's preprocessing and classes */
static int open_source(const char *cmd, const sv_lc_set *set, const sv_model *m,
                       int threads, sv_stamp_source *src, sv_lc_source_info *info)
{
    sv_error err;
    sv_error_clear(&err);
    sv_lc_source_options so;
    memset(&so, 0, sizeof so);
    so.threads = threads;
    if (m) {
        so.n_classes = m->n_classes;
        memcpy(so.classes, m->classes, sizeof so.classes);
    }
    if (sv_lc_source_open(src, set, &m->lc, &so, info, &err))
        return cli_fail(cmd, "%s", err.text);
    return 0;
}

static void print_source(const char *what, const char *path, const sv_stamp_source *src,
                         const sv_lc_source_info *inf)
{
    printf("%-7s: %s: %ld light curves", what, path, src->n);
    if (inf->n_unlabelled || inf->n_no_detection)
        printf(" (%ld unlabelled or of other classes, %ld without a detection left out)",
               inf->n_unlabelled, inf->n_no_detection);
    if (inf->n_dropped_bands)
        printf(" [%d band(s) unknown to the model dropped]", inf->n_dropped_bands);
    if (inf->n_missing_meta)
        printf(" [%d metadata column(s) missing: unknown]", inf->n_missing_meta);
    printf("\n");
    train_cli_print_labels(src);
}

int lc_cli_open_labelled(const char *cmd, const char *path, const sv_model *m, int threads,
                         sv_lc_set *set, sv_stamp_source *src)
{
    sv_error err;
    sv_error_clear(&err);
    if (sv_lc_model_check(m, &err))
        return cli_fail(cmd, "%s", err.text);
    sv_lc_source_info inf;
    if (load_set(cmd, path, set) || open_source(cmd, set, m, threads, src, &inf))
        return 1;
    print_source("data", path, src, &inf);
    return 0;
}

/* ---- simulate --lightcurves -------------------------------------------------------- */

/* option codes of the light-curve forms (the shared ones: train_opts.h) */
enum {
    LO_LIGHTCURVES = 2000,
    LO_SURVEY,
    LO_SEED,
    LO_DAYS,
    LO_FRACTIONS,
    LO_THREADS,
    LO_DEPTH,
    LO_MJD,
    LO_PREP,
    LO_BANDS,
    LO_META,
    LO_NO_META,
    LO_UNITS,
    LO_LAYERS,
    LO_META_UNITS,
    LO_DENSE_UNITS,
    LO_DROPOUT,
    LO_ARCH,
    LO_FRACS,
    LO_TABLE
};

static const cli_opt sim_opts[] = {
    {"lightcurves", LO_LIGHTCURVES, "N", "number of candidates, in [1, 10000000]; required"},
    {"survey", LO_SURVEY, "NAME", "ztf (g/r, 2-3 night cadence, depth ~20.5) or lsst\n"
                                  "(ugrizy, rolling cadence, deeper); default ztf"},
    {"seed", LO_SEED, "N", "(1)"},
    {"days", LO_DAYS, "D", "observing window, in [10, 4000] (400)"},
    {"fractions", LO_FRACTIONS, "LIST", "class shares SNIa,SNII,SNIbc,SLSN,TDE,AGN,VAR\n"
                                        "(default .25,.17,.10,.08,.07,.15,.18)"},
    {"depth-offset", LO_DEPTH, "MAG", "added to every 5-sigma depth, in [-5, 5] (0)"},
    {"mjd-start", LO_MJD, "MJD", "first night (59000)"},
    {"threads", LO_THREADS, "N", "in [1, 256] (number of CPUs); the result does not\n"
                                 "depend on it"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd sim_cmd = {
    "simulate",
    "stampvet simulate --lightcurves N --survey ztf|lsst -o OUT.fits [options]",
    "Simulated alert-stream light curves of SN Ia, SN II, SN Ibc, SLSN, TDE, AGN\n"
    "(damped random walk) and periodic variable stars, with the survey's cadence,\n"
    "depth and noise; non-detections are upper limits.  Written as the\n"
    "light-curve table (stage/data/lightcurve.h) with labels, alert times, metadata\n"
    "(gal_b, host_sep, host_photoz, rb, p_transient, p_variable) and truth.\n"
    "Physics and sources: doc/lightcurves.md.  Deterministic for a seed.",
    sim_opts,
    "output light-curve table (FITS, written atomically);\n"
    "required",
    "-q leaves out the summary lines."};

typedef struct lc_sim_args {
    sv_lcsim_config cfg;
    double fr[SV_LCSIM_N_CLASSES];
    int have_fr;
} lc_sim_args;

static int sim_option(void *user, int key, const char *arg)
{
    lc_sim_args *a = user;
    sv_lcsim_config *cfg = &a->cfg;
    long l;
    double d;
    switch (key) {
    case LO_LIGHTCURVES:
        if (cli_parse_long("simulate", "lightcurves", arg, 1, 10000000, &l))
            return CLI_USAGE;
        cfg->n = l;
        return 0;
    case LO_SURVEY: {
        sv_lcsim_survey s;
        if (sv_lcsim_survey_from_name(arg, &s))
            return cli_usage_error("simulate", "--survey: '%s' (ztf or lsst)", arg);
        cfg->survey = s;
        return 0;
    }
    case LO_SEED:
        return cli_parse_seed("simulate", arg, &cfg->seed) ? CLI_USAGE : 0;
    case LO_DAYS:
        if (cli_parse_double("simulate", "days", arg, 10, 4000, &d))
            return CLI_USAGE;
        cfg->days = d;
        return 0;
    case LO_DEPTH:
        if (cli_parse_double("simulate", "depth-offset", arg, -5, 5, &d))
            return CLI_USAGE;
        cfg->depth_offset = d;
        return 0;
    case LO_MJD:
        if (cli_parse_double("simulate", "mjd-start", arg, 1e-9, 999999, &d))
            return CLI_USAGE;
        cfg->mjd_start = d;
        return 0;
    case LO_FRACTIONS:
        if (parse_doubles(arg, a->fr, SV_LCSIM_N_CLASSES) != SV_LCSIM_N_CLASSES)
            return cli_usage_error("simulate", "--fractions: '%s' is not %d comma-separated "
                                   "numbers", arg, SV_LCSIM_N_CLASSES);
        a->have_fr = 1;
        return 0;
    case LO_THREADS:
        if (cli_parse_long("simulate", "threads", arg, 1, 256, &l))
            return CLI_USAGE;
        cfg->threads = (int)l;
        return 0;
    default:
        return CLI_USAGE;
    }
}

int cmd_lc_simulate(int argc, char **argv)
{
    lc_sim_args a;
    memset(&a, 0, sizeof a);
    a.cfg = sv_lcsim_defaults(SV_LCSIM_ZTF);
    a.cfg.threads = sv_cpu_count();
    cli_common com = {0};
    int first = 0;
    int pst = cli_parse(&sim_cmd, argc, argv, &com, sim_option, &a, &first);
    if (pst >= 0)
        return pst;
    if (first < argc)
        return cli_usage_error("simulate", "unexpected argument '%s'", argv[first]);
    if (!com.output)
        return cli_usage_error("simulate", "no output: -o OUT.fits");
    sv_lcsim_config cfg = a.cfg;
    const double *fr = a.fr;
    int have_fr = a.have_fr, quiet = com.quiet;
    const char *out = com.output;
    if (have_fr)
        memcpy(cfg.fraction, fr, sizeof a.fr);
    sv_error err;
    sv_error_clear(&err);
    sv_lc_set s;
    float *truth = NULL;
    double t0 = cli_seconds();
    if (sv_lcsim_run(&cfg, &s, &truth, &err))
        return cli_fail("simulate", "%s", err.text);
    char seedc[40], nc[80], ver[80];
    snprintf(seedc, sizeof seedc, "SEED=%llu", (unsigned long long)cfg.seed);
    snprintf(nc, sizeof nc, "SIMDAYS=%g", cfg.days);
    snprintf(ver, sizeof ver, "CREATOR=stampvet %s simulate --lightcurves", PACKAGE_VERSION);
    const char *cards[] = {seedc, nc, ver, NULL};
    int rc = sv_lc_write_fits(&s, out, cards, SV_LCSIM_N_TRUTH, sv_lcsim_truth_names, truth,
                              &err);
    double t1 = cli_seconds();
    if (rc) {
        free(truth);
        sv_lc_set_free(&s);
        return cli_fail("simulate", "%s", err.text);
    }
    if (!quiet) {
        long cnt[SV_LCSIM_N_CLASSES] = {0}, det = 0;
        for (long i = 0; i < s.n; i++) {
            cnt[s.lc[i].label]++;
            for (int j = 0; j < s.lc[i].n; j++)
                det += !s.lc[i].obs[j].ulim;
        }
        printf("simulated %ld %s light curves (%ld observations, %ld detections) in %.1f s:",
               s.n, sv_lcsim_survey_name(cfg.survey), s.n_obs, det, t1 - t0);
        for (int k = 0; k < SV_LCSIM_N_CLASSES; k++)
            printf(" %s %ld", sv_lcsim_class_name(k), cnt[k]);
        printf("\nwrote %s\n", out);
    }
    free(truth);
    sv_lc_set_free(&s);
    return 0;
}

/* ---- train ----------------------------------------------------------------------------- */

static const cli_opt train_opts[] = {
    {"files and network", 0, NULL, NULL},
    {"data", TOPT_DATA, "FILE", "light-curve table with labels (CANDIDATES HDU); required"},
    {"val", TOPT_VAL, "FILE", "explicit validation table"},
    {"out", TOPT_OUT, "FILE", "model file to write; the same as -o"},
    {"name", TOPT_NAME, "NAME", "model name (default: the output's base name)"},
    {"version", TOPT_VERSION, "V", "model version, the MODVERS card (default:\n"
                                   "NAME_<first 8 hex digits of the weights' WTSUM>)"},
    {"lc-prep", LO_PREP, "SPEC", "input preprocessing, stored in the model (lc_prep.h):\n"
                                 "irregular (default) or grid, with overrides, e.g.\n"
                                 "'irregular,steps=50,pre=30,norm=band' or\n"
                                 "'grid,steps=50,step=3'"},
    {"bands", LO_BANDS, "LIST", "bands of the input, in order (default: the data's);\n"
                                "list more bands than the data has to transfer later to\n"
                                "a survey with more (e.g. u,g,r,i,z,y for ZTF -> LSST)"},
    {"meta", LO_META, "LIST", "metadata columns for the dense branch (default: all of\n"
                              "the table's)"},
    {"no-meta", LO_NO_META, NULL, "no metadata branch"},
    {"units", LO_UNITS, "N", "GRU units, in [1, 4096] (64)"},
    {"gru-layers", LO_LAYERS, "N", "GRU layers, in [1, 4] (2)"},
    {"meta-units", LO_META_UNITS, "N", "metadata branch units, in [1, 4096] (32)"},
    {"dense-units", LO_DENSE_UNITS, "N", "dense units, in [1, 4096] (64)"},
    {"dropout", LO_DROPOUT, "X", "dropout rate, in [0, 1) (0.2)"},
    {"arch", LO_ARCH, "gru", "the network (gru, the only one for light curves)"},
    {"lightcurves", TOPT_LIGHTCURVES, NULL, "this form (chosen also by a light-curve --data)"},
    TRAIN_RECIPE_OPTS,
    {NULL, 0, NULL, NULL},
};

static const cli_cmd train_cmd = {
    "train",
    "stampvet train --lightcurves --data LC.fits -o MODEL.fits [options]",
    "Train a light-curve classifier from scratch on a light-curve table (GRU layers\n"
    "over the sequence, a dense branch over the metadata, concatenated, dense to a\n"
    "softmax; stage/model/lc_arch.h) with class-weighted cross-entropy, a stratified\n"
    "validation split and early stopping, on the shared training loop.",
    train_opts,
    "the model file to write; required",
    TRAIN_QUIET_NOTE};

typedef struct lc_train_opts {
    const char *prep, *bands, *meta;
    int no_meta;
    sv_lc_arch arch;
} lc_train_opts;

static int train_option(int c, const char *arg, void *ctx)
{
    lc_train_opts *o = ctx;
    char *end = NULL;
    errno = 0;
    long v;
    switch (c) {
    case LO_PREP:
        o->prep = arg;
        return 0;
    case LO_BANDS:
        o->bands = arg;
        return 0;
    case LO_META:
        o->meta = arg;
        return 0;
    case LO_NO_META:
        o->no_meta = 1;
        return 0;
    case LO_ARCH:
        if (strcmp(arg, "gru"))
            return cli_usage_error("train", "--arch: light curves use 'gru', not '%s'", arg);
        return 0;
    case LO_UNITS:
    case LO_LAYERS:
    case LO_META_UNITS:
    case LO_DENSE_UNITS:
        v = strtol(arg, &end, 10);
        if (errno || *end || v < 1 || v > (c == LO_LAYERS ? 4 : 4096))
            return cli_usage_error("train", "bad size '%s'", arg);
        if (c == LO_UNITS)
            o->arch.units = (int)v;
        else if (c == LO_LAYERS)
            o->arch.gru_layers = (int)v;
        else if (c == LO_META_UNITS)
            o->arch.meta_units = (int)v;
        else
            o->arch.dense_units = (int)v;
        return 0;
    case LO_DROPOUT:
        o->arch.dropout = (float)strtod(arg, &end);
        if (errno || *end || !(o->arch.dropout >= 0 && o->arch.dropout < 1))
            return cli_usage_error("train", "--dropout: '%s' is not a number in [0, 1)", arg);
        return 0;
    default:
        return -1;
    }
}

int cmd_lc_train(int argc, char **argv)
{
    lc_train_opts o = {.prep = "irregular", .arch = sv_lc_arch_defaults()};
    train_cli t;
    train_cli_init(&t, "train");
    train_cli_lightcurves(&t);
    int st = train_cli_parse(&t, argc, argv, &train_cmd, train_option, &o,
                             TF_DATA | TF_OUT);
    if (st >= 0)
        return st;
    const char *data = t.data, *val = t.val, *prep = o.prep, *bands = o.bands, *meta = o.meta;
    const sv_lc_arch arch = o.arch;
    sv_error err;
    sv_error_clear(&err);
    sv_lc_set set, vset;
    memset(&vset, 0, sizeof vset);
    if (load_set("train", data, &set))
        return 1;
    if (val && load_set("train", val, &vset)) {
        sv_lc_set_free(&set);
        return 1;
    }
    int rc = 1;
    sv_model *m = NULL;
    nn_net *net = NULL;
    sv_stamp_source src, vsrc;
    memset(&src, 0, sizeof src);
    memset(&vsrc, 0, sizeof vsrc);
    sv_train_result *res = calloc(1, sizeof *res);
    sv_lcprep p;
    memset(&p, 0, sizeof p);
    if (!res) {
        cli_fail("train", "out of memory");
        goto done;
    }
    /* preprocessing: the spec, the bands, the metadata fitted on the data */
    {
        char spec[600];
        char bl[SV_LC_MAX_BANDS * SV_LC_BAND_LEN + 8] = "";
        if (bands) {
            snprintf(bl, sizeof bl, "%s", bands);
            for (char *q = bl; *q; q++)
                if (*q == ',')
                    *q = ':';
        } else {
            for (int b = 0; b < set.n_bands; b++) {
                strcat(bl, b ? ":" : "");
                strcat(bl, set.bands[b]);
            }
        }
        snprintf(spec, sizeof spec, "%s,bands=%s", prep, bl);
        if (strstr(prep, "bands="))
            snprintf(spec, sizeof spec, "%s", prep);
        if (sv_lcprep_parse(spec, &p, &err)) {
            cli_fail("train", "--lc-prep: %s", err.text);
            goto done;
        }
        if (p.mode == SV_LCMODE_NONE) {
            cli_fail("train", "--lc-prep none: a model to train needs a preprocessing");
            goto done;
        }
        char mn[SV_LC_MAX_META][SV_LABEL_MAX];
        const char *names[SV_LC_MAX_META];
        int nm = 0;
        if (o.no_meta)
            nm = 0;
        else if (meta) {
            nm = split_list(meta, mn, SV_LC_MAX_META);
            if (nm < 0) {
                cli_fail("train", "--meta: '%s' is not a list of up to %d names", meta,
                         SV_LC_MAX_META);
                goto done;
            }
        } else {
            nm = set.n_meta < SV_LC_MAX_META ? set.n_meta : SV_LC_MAX_META;
            for (int i = 0; i < nm; i++)
                snprintf(mn[i], SV_LABEL_MAX, "%s", set.meta_names[i]);
        }
        for (int i = 0; i < nm; i++)
            names[i] = mn[i];
        if (sv_lcprep_fit_meta(&p, &set, names, nm, NULL, 0, &err)) {
            cli_fail("train", "%s", err.text);
            goto done;
        }
    }
    /* the classes: --classes, else the data's */
    char cl[SV_MAX_CLASSES][SV_LABEL_MAX];
    int k = set.n_classes;
    memcpy(cl, set.classes, sizeof cl);
    if (t.classes_text[0]) {
        k = sv_parse_class_list(t.classes_text, cl, &err);
        if (k < 2) {
            cli_fail("train", "--classes: %s", k < 0 ? err.text : "at least two classes");
            goto done;
        }
    }
    int built = sv_lc_arch_build(&arch, p.n_steps, sv_lcprep_n_features(&p),
                                 sv_lcprep_meta_size(&p), k, t.cfg.seed, &net, &err);
    if (!(m = train_cli_model_of(&t, built, net, &err)))
        goto done;
    for (int i = 0; i < k; i++)
        snprintf(m->classes[i], SV_LABEL_MAX, "%.31s", cl[i]);
    m->task = SV_TASK_LIGHTCURVE;
    m->n_classes = k;
    m->lc = p;
    train_cli_model_name(&t, m->name, sizeof m->name);
    if (sv_lc_model_check(m, &err)) {
        cli_fail("train", "%s", err.text);
        goto done;
    }
    sv_lc_source_info inf, vinf;
    if (open_source("train", &set, m, t.cfg.threads, &src, &inf))
        goto done;
    if (val) {
        if (open_source("train", &vset, m, t.cfg.threads, &vsrc, &vinf))
            goto done;
        t.cfg.val_source = &vsrc;
    }
    char pt[300];
    sv_lcprep_format(&p, pt, sizeof pt);
    print_source("data", data, &src, &inf);
    if (val)
        print_source("val", val, &vsrc, &vinf);
    printf("model  : %s, %d GRU(%d) + meta(%d) -> dense(%d), %zu parameters\n"
           "input  : %s; %d metadata: ",
           m->name, arch.gru_layers, arch.units, p.n_meta > 0 ? arch.meta_units : 0,
           arch.dense_units, nn_net_count_params(m->net, 0), pt, p.n_meta);
    for (int i = 0; i < p.n_meta; i++)
        printf("%s%s", i ? "," : "", p.meta[i]);
    printf("\n");
    train_cli_print_recipe(&t, TR_OPT | TR_BATCH | TR_EPOCHS | TR_PATIENCE | TR_CLASS_WEIGHT |
                                   TR_SEED | TR_SLICES | TR_THREADS);
    if (train_cli_train(&t, m, &src, res))
        goto done;
    sv_model_set_prov(m, "ARCH", "gru");
    {
        char a[72];
        snprintf(a, sizeof a, "%dxGRU(%d) meta %d dense %d dropout %g", arch.gru_layers,
                 arch.units, arch.meta_units, arch.dense_units, (double)arch.dropout);
        sv_model_set_prov(m, "ARCHCFG", a);
    }
    if (train_cli_write_model(&t, m))
        goto done;
    train_cli_print_best(&t, res, NULL);
    rc = 0;
done:
    free(res);
    sv_model_free(m);
    sv_source_close(&src);
    sv_source_close(&vsrc);
    sv_lc_set_free(&set);
    sv_lc_set_free(&vset);
    return rc;
}

/* ---- finetune ---------------------------------------------------------------------------- */

static const cli_opt finetune_opts[] = {
    {"files and transfer", 0, NULL, NULL},
    {"from", TOPT_FROM, "FILE", "base light-curve model; required"},
    {"data", TOPT_DATA, "FILE", "labelled light-curve table; required"},
    {"val", TOPT_VAL, "FILE", "explicit validation table"},
    {"out", TOPT_OUT, "FILE", "model to write; the same as -o"},
    {"name", TOPT_NAME, "NAME", "model name (default: the output's base name)"},
    {"version", TOPT_VERSION, "V", "model version, the MODVERS card (default:\n"
                                   "NAME_<first 8 hex digits of the weights' WTSUM>)"},
    {"freeze", TOPT_FREEZE, "POLICY", "none (default: every layer learns, the body at\n"
                                      "--body-lr-scale), recurrent (GRU layers frozen),\n"
                                      "all-but-head"},
    {"body-lr-scale", TOPT_BODY_LR, "X", "learning-rate multiplier of the layers other\n"
                                         "than the head, in [0, 100] (default 1; with\n"
                                         "--freeze none e.g. 0.1 lowers the recurrent\n"
                                         "layers' rate)"},
    {"resample", TOPT_RESAMPLE, NULL, "(for stamps; no effect on light curves)"},
    {"lightcurves", TOPT_LIGHTCURVES, NULL, "this form (chosen also by a light-curve\n"
                                            "--from or --data)"},
    TRAIN_RECIPE_OPTS,
    {NULL, 0, NULL, NULL},
};

static const cli_cmd finetune_cmd = {
    "finetune",
    "stampvet finetune --lightcurves --from BASE.fits --data LC.fits -o MODEL.fits\n"
    "       [options]",
    "Transfer learning for a light-curve model: the base model's network and input\n"
    "preprocessing are kept, the head is replaced when the class set changes, and\n"
    "the recurrent layers are frozen or learn at a lower rate.",
    finetune_opts,
    "the model to write; required",
    TRAIN_QUIET_NOTE};

int cmd_lc_finetune(int argc, char **argv)
{
    train_cli t;
    train_cli_init(&t, "finetune");
    train_cli_lightcurves(&t);
    int st = train_cli_parse(&t, argc, argv, &finetune_cmd, NULL, NULL,
                             TF_FROM | TF_DATA | TF_OUT);
    if (st >= 0)
        return st;
    sv_model *base = train_cli_read_model(&t, t.from), *m = NULL;
    if (!base)
        return 1;
    sv_error err;
    sv_error_clear(&err);
    sv_lc_set set, vset;
    memset(&set, 0, sizeof set);
    memset(&vset, 0, sizeof vset);
    sv_stamp_source src, vsrc;
    memset(&src, 0, sizeof src);
    memset(&vsrc, 0, sizeof vsrc);
    sv_train_result *res = calloc(1, sizeof *res);
    int rc = 1;
    if (!res || load_set("finetune", t.data, &set) ||
        (t.val && load_set("finetune", t.val, &vset)))
        goto done;
    /* the data's classes (or --classes) decide the class set */
    sv_model tmp = *base;
    tmp.n_classes = set.n_classes;
    memcpy(tmp.classes, set.classes, sizeof tmp.classes);
    if (t.classes_text[0]) {
        int n = sv_parse_class_list(t.classes_text, tmp.classes, &err);
        if (n < 2) {
            cli_fail("finetune", "--classes: %s", n < 0 ? err.text : "at least two classes");
            goto done;
        }
        tmp.n_classes = n;
    }
    sv_lc_source_info inf, vinf;
    if (open_source("finetune", &set, &tmp, t.cfg.threads, &src, &inf))
        goto done;
    if (t.val) {
        if (open_source("finetune", &vset, &tmp, t.cfg.threads, &vsrc, &vinf))
            goto done;
        t.cfg.val_source = &vsrc;
    }
    print_source("data", t.data, &src, &inf);
    printf("base   : %s (%s)\n", base->name, t.from);
    train_cli_print_recipe(&t, TR_FREEZE | TR_BODY_LR | TR_OPT | TR_BATCH | TR_EPOCHS |
                                   TR_PATIENCE | TR_SEED);
    if (train_cli_finetune(&t, base, &src, &m, res) || train_cli_write_model(&t, m))
        goto done;
    char head[48];
    const char *fthead = sv_model_get_prov(m, "FTHEAD");
    snprintf(head, sizeof head, ", head %s", fthead ? fthead : "?");
    train_cli_print_best(&t, res, head);
    rc = 0;
done:
    free(res);
    sv_model_free(m);
    sv_model_free(base);
    sv_source_close(&src);
    sv_source_close(&vsrc);
    sv_lc_set_free(&set);
    sv_lc_set_free(&vset);
    return rc;
}

/* ---- compare: the paper's experiment ------------------------------------------------------ */

static void compare_progress(const sv_compare_run *r, void *user)
{
    (void)user;
    printf("labels %-6ld %-8s run %2d seed %-5llu acc %.4f macroF1 %.4f  best epoch %3d of %3d"
           "  %6.1f s\n",
           r->n_labels, r->arm ? "scratch" : "transfer", r->run + 1,
           (unsigned long long)r->seed, r->met.accuracy, r->met.macro_f1, r->best_epoch,
           r->epochs_run, r->seconds);
    fflush(stdout);
}

static const sv_compare_stat *find_stat(const sv_compare_row *R, const char *name)
{
    for (int q = 0; q < R->n_stats; q++)
        if (!strcmp(R->stat[q].metric, name))
            return &R->stat[q];
    return NULL;
}

/* The paper-style table: one row per label fraction; macro-F1 and accuracy
 * of both arms, the fraction of the baseline (scratch on all labels),
 * epochs to converge, Welch's p for macro-F1. */
static void print_paper_table(FILE *f, const sv_compare_result *res, const double *fracs,
                              int markdown)
{
    int base_row = 0;
    for (int i = 1; i < res->n_rows; i++)
        if (res->rows[i].n_labels > res->rows[base_row].n_labels)
            base_row = i;
    const sv_compare_stat *bf = find_stat(&res->rows[base_row], "macro_f1");
    double base_f1 = bf ? bf->mean[1] : NAN;
    if (markdown) {
        fprintf(f, "| labels | n | macro-F1 transfer | macro-F1 scratch | accuracy transfer | "
                   "accuracy scratch | of baseline, transfer | of baseline, scratch | epochs "
                   "transfer | epochs scratch | p (Welch, F1) | p (Student, F1) |\n");
        fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    } else {
        fprintf(f, "%-7s %-6s %-17s %-17s %-17s %-17s %-9s %-9s %-11s %-11s %-9s\n", "labels",
                "n", "F1 transfer", "F1 scratch", "acc transfer", "acc scratch", "base tr",
                "base sc", "ep transfer", "ep scratch", "p Welch");
    }
    for (int i = 0; i < res->n_rows; i++) {
        const sv_compare_row *R = &res->rows[i];
        const sv_compare_stat *f1 = find_stat(R, "macro_f1"), *acc = find_stat(R, "accuracy"),
                              *ep = find_stat(R, "epochs");
        if (!f1 || !acc || !ep)
            continue;
        char lab[32];
        if (fracs)
            snprintf(lab, sizeof lab, "%g%%", 100 * fracs[i]);
        else
            snprintf(lab, sizeof lab, "%ld", R->size);
        char a[48], b[48], c2[48], d[48];
        const char *pm = markdown ? "±" : "+-";
        snprintf(a, sizeof a, "%.3f %s %.3f", f1->mean[0], pm, f1->std[0]);
        snprintf(b, sizeof b, "%.3f %s %.3f", f1->mean[1], pm, f1->std[1]);
        snprintf(c2, sizeof c2, "%.3f %s %.3f", acc->mean[0], pm, acc->std[0]);
        snprintf(d, sizeof d, "%.3f %s %.3f", acc->mean[1], pm, acc->std[1]);
        double ft = f1->mean[0] / base_f1, fs = f1->mean[1] / base_f1;
        if (markdown)
            fprintf(f, "| %s | %ld | %s | %s | %s | %s | %.0f%% | %.0f%% | %.1f ± %.1f | %.1f ± "
                       "%.1f | %.3g | %.3g |\n",
                    lab, R->n_labels, a, b, c2, d, 100 * ft, 100 * fs, ep->mean[0], ep->std[0],
                    ep->mean[1], ep->std[1], f1->welch.p, f1->student.p);
        else
            fprintf(f, "%-7s %-6ld %-17s %-17s %-17s %-17s %-9.0f %-9.0f %4.1f +- %-4.1f %4.1f +- "
                       "%-4.1f %-9.3g\n",
                    lab, R->n_labels, a, b, c2, d, 100 * ft, 100 * fs, ep->mean[0], ep->std[0],
                    ep->mean[1], ep->std[1], f1->welch.p);
    }
    if (!markdown)
        fprintf(f, "baseline: scratch on all %ld labels, macro-F1 %.3f ('base' columns: %% of "
                   "it)\n",
                res->rows[base_row].n_labels, base_f1);
}

static const cli_opt compare_opts[] = {
    {"the experiment", 0, NULL, NULL},
    {"base", TOPT_BASE, "FILE", "base light-curve model (e.g. trained on simulated ZTF);\n"
                                "required"},
    {"train", TOPT_TRAIN, "FILE", "target training light curves (e.g. simulated LSST);\n"
                                  "required"},
    {"test", TOPT_TEST, "FILE", "target test light curves; required"},
    {"runs", TOPT_RUNS, "N", "seeds per arm, in [2, 1000] (5)"},
    {"fractions", LO_FRACS, "LIST", "label fractions (default 0.05,0.1,0.3,1)"},
    {"sizes", TOPT_SIZES, "LIST", "absolute training-set sizes instead"},
    {"freeze", TOPT_FREEZE, "POLICY", "transfer arm: none (default), recurrent,\n"
                                      "all-but-head"},
    {"body-lr-scale", TOPT_BODY_LR, "X", "transfer arm body learning-rate multiplier (1)"},
    {"resample", TOPT_RESAMPLE, NULL, "(for stamps; no effect on light curves)"},
    {"scratch-lr", TOPT_SCRATCH_LR, "X", "scratch arm learning rate (default: --lr)"},
    {"out", TOPT_OUT, "FILE", "summary (.fits or .csv); the same as -o"},
    {"runs-out", TOPT_RUNS_OUT, "FILE.csv", "per-run figures"},
    {"table", LO_TABLE, "FILE.md", "the paper-style table as Markdown"},
    {"lightcurves", TOPT_LIGHTCURVES, NULL, "this form (chosen also by light-curve files)"},
    TRAIN_RECIPE_OPTS,
    {NULL, 0, NULL, NULL},
};

static const cli_cmd compare_cmd = {
    "compare",
    "stampvet compare --lightcurves --base BASE.fits --train LC.fits --test LC.fits\n"
    "       [--fractions 0.05,0.1,0.3,1 | --sizes N1,...] [options]",
    "The light-curve transfer experiment (Muthukrishna & Gupta 2025): for each\n"
    "label fraction of the target training set and each of N seeds, fine-tune the\n"
    "base model (transfer) and train the same network from fresh weights\n"
    "(scratch); score both on the test set.  Reports macro-F1 and accuracy (mean\n"
    "± sd), the fraction of the baseline (scratch on all labels), the epochs to\n"
    "converge (best validation epoch) and the t-tests over seeds.",
    compare_opts,
    "the summary table (.fits or .csv), as --out",
    TRAIN_QUIET_NOTE};

typedef struct lc_compare_opts {
    train_cli *t;
    double fr[SV_COMPARE_MAX_SIZES];
    int n_fr;
    const char *table;
} lc_compare_opts;

static int compare_option(int c, const char *arg, void *ctx)
{
    lc_compare_opts *o = ctx;
    switch (c) {
    case LO_FRACS:
        o->n_fr = parse_doubles(arg, o->fr, SV_COMPARE_MAX_SIZES);
        if (o->n_fr < 1)
            return cli_usage_error("compare", "--fractions: '%s' is not a list of numbers", arg);
        for (int i = 0; i < o->n_fr; i++)
            if (!(o->fr[i] > 0 && o->fr[i] <= 1))
                return cli_usage_error("compare", "--fractions: %g is not in (0, 1]", o->fr[i]);
        o->t->n_sizes = 0; /* the later of --sizes and --fractions counts */
        return 0;
    case LO_TABLE:
        o->table = arg;
        return 0;
    default:
        return -1;
    }
}

int cmd_lc_compare(int argc, char **argv)
{
    train_cli t;
    train_cli_init(&t, "compare");
    train_cli_lightcurves(&t);
    lc_compare_opts o = {&t, {0.05, 0.1, 0.3, 1.0}, 4, NULL};
    int st = train_cli_parse(&t, argc, argv, &compare_cmd, compare_option, &o,
                             TF_BASE | TF_TRAIN | TF_TEST | TF_REPORTS);
    if (st >= 0)
        return st;
    const double *fr = t.n_sizes ? NULL : o.fr; /* label fractions, or --sizes */
    sv_model *base = train_cli_read_model(&t, t.base);
    if (!base)
        return 1;
    int rc = 1;
    sv_lc_set trs, tes;
    memset(&trs, 0, sizeof trs);
    memset(&tes, 0, sizeof tes);
    sv_stamp_source tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    sv_compare_result res;
    memset(&res, 0, sizeof res);
    if (load_set("compare", t.train, &trs) || load_set("compare", t.test, &tes))
        goto done;
    sv_model tmp = *base;
    tmp.n_classes = trs.n_classes;
    memcpy(tmp.classes, trs.classes, sizeof tmp.classes);
    sv_lc_source_info ti, si;
    if (open_source("compare", &trs, &tmp, t.cfg.threads, &tr, &ti) ||
        open_source("compare", &tes, &tmp, t.cfg.threads, &te, &si))
        goto done;
    sv_compare_config cc;
    train_cli_compare_config(&t, &cc);
    if (fr) {
        cc.n_sizes = o.n_fr;
        for (int i = 0; i < o.n_fr; i++) {
            long s = (long)floor(fr[i] * (double)tr.n + 0.5);
            cc.sizes[i] = s < 2 ? 2 : s;
        }
    }
    cc.progress = compare_progress;
    printf("base   : %s (%s)\n", base->name, t.base);
    print_source("train", t.train, &tr, &ti);
    print_source("test", t.test, &te, &si);
    char transfer[200], recipe[400];
    train_cli_recipe(&t, TR_FREEZE | TR_BODY_LR, transfer, sizeof transfer);
    train_cli_recipe(&t, TR_OPT | TR_SCRATCH | TR_BATCH | TR_EPOCHS | TR_PATIENCE | TR_THREADS,
                     recipe, sizeof recipe);
    printf("runs   : %d seeds from %llu per arm, transfer: %s; %s\n", cc.runs,
           (unsigned long long)cc.seed, transfer, recipe);
    if (train_cli_compare_run(&t, base, &tr, &te, &cc, &res))
        goto done;
    printf("\n");
    print_paper_table(stdout, &res, fr, 0);
    if (o.table) {
        FILE *f = fopen(o.table, "w");
        if (!f) {
            cli_fail("compare", "%s: cannot write", o.table);
            goto done;
        }
        print_paper_table(f, &res, fr, 1);
        fclose(f);
    }
    if (train_cli_compare_write(&t, base, &cc, &res, " (light curves)", o.table, NULL))
        goto done;
    rc = 0;
done:
    sv_compare_result_free(&res);
    sv_source_close(&tr);
    sv_source_close(&te);
    sv_lc_set_free(&trs);
    sv_lc_set_free(&tes);
    sv_model_free(base);
    return rc;
}
