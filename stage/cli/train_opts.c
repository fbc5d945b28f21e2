/* train_opts.c — what the training commands share.  See train_opts.h. */
#include "cli/train_opts.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "train/evaluate.h"
#include "data/lc_source.h"
#include "model/model_fits.h"
#include "core/parallel.h"
#include "data/stamp_table.h"
#include "nn/nn_engine.h"

void train_cli_init(train_cli *t, const char *cmd)
{
    memset(t, 0, sizeof *t);
    t->cfg = sv_train_defaults();
    int cpus = sv_cpu_count();
    t->cfg.threads = cpus < t->cfg.slices ? cpus : t->cfg.slices;
    t->cmd = cmd;
    t->per_s = "stamps";
    sv_finetune_config fc = sv_finetune_defaults();
    t->freeze = fc.freeze;
    t->body_lr_scale = fc.body_lr_scale;
    t->freeze_choices = "conv, all-but-head or none";
    t->runs = sv_compare_defaults().runs;
    t->scratch_lr = -1;
}

void train_cli_lightcurves(train_cli *t)
{
    t->lightcurves = 1;
    t->cfg.augment = 0;
    t->per_s = "seq";
    t->freeze = SV_FREEZE_NONE;
    t->body_lr_scale = 1.0f;
    t->freeze_choices = "none, recurrent, all-but-head";
}

int train_cli_option(train_cli *t, int c, const char *arg)
{
    long l;
    double d;
    sv_train_config *g = &t->cfg;
    switch (c) {
    case TOPT_EPOCHS:
        if (cli_parse_long(t->cmd, "epochs", arg, 1, SV_TRAIN_MAX_EPOCHS, &l))
            return -1;
        g->epochs = (int)l;
        return 1;
    case TOPT_BATCH:
        if (cli_parse_long(t->cmd, "batch", arg, 1, 65536, &l))
            return -1;
        g->batch = (int)l;
        return 1;
    case TOPT_LR:
        if (cli_parse_double(t->cmd, "lr", arg, 0, 10, &d))
            return -1;
        g->opt.lr = (float)d;
        return 1;
    case TOPT_OPTIMIZER: {
        float lr = g->opt.lr;
        if (!strcmp(arg, "adam"))
            g->opt = nn_opt_defaults(NN_OPT_ADAM);
        else if (!strcmp(arg, "sgd"))
            g->opt = nn_opt_defaults(NN_OPT_SGD);
        else {
            cli_usage_error(t->cmd, "--optimizer: '%s' (adam or sgd)", arg);
            return -1;
        }
        g->opt.lr = lr;
        return 1;
    }
    case TOPT_MOMENTUM:
        if (cli_parse_double(t->cmd, "momentum", arg, 0, 1, &d))
            return -1;
        g->opt.momentum = (float)d;
        return 1;
    case TOPT_WEIGHT_DECAY:
        if (cli_parse_double(t->cmd, "weight-decay", arg, 0, 1, &d))
            return -1;
        g->opt.weight_decay = (float)d;
        return 1;
    case TOPT_VAL_FRACTION:
        if (cli_parse_double(t->cmd, "val-fraction", arg, 0, 0.9, &d))
            return -1;
        g->val_fraction = d;
        return 1;
    case TOPT_PATIENCE:
        if (cli_parse_long(t->cmd, "patience", arg, 0, SV_TRAIN_MAX_EPOCHS, &l))
            return -1;
        g->patience = (int)l;
        return 1;
    case TOPT_MIN_DELTA:
        if (cli_parse_double(t->cmd, "min-delta", arg, 0, 1e6, &d))
            return -1;
        g->min_delta = d;
        return 1;
    case TOPT_NO_AUGMENT:
        g->augment = 0;
        return 1;
    case TOPT_CLASS_WEIGHT:
        if (!strcmp(arg, "balanced"))
            g->class_weight = SV_CW_BALANCED;
        else if (!strcmp(arg, "none"))
            g->class_weight = SV_CW_NONE;
        else {
            cli_usage_error(t->cmd, "--class-weight: '%s' (balanced or none)", arg);
            return -1;
        }
        return 1;
    case TOPT_SEED:
        return cli_parse_seed(t->cmd, arg, &g->seed) ? -1 : 1;
    case TOPT_THREADS:
        if (cli_parse_long(t->cmd, "threads", arg, 1, 64, &l))
            return -1;
        g->threads = (int)l;
        t->threads_set = 1;
        return 1;
    case TOPT_SLICES:
        if (cli_parse_long(t->cmd, "slices", arg, 1, 64, &l))
            return -1;
        g->slices = (int)l;
        return 1;
    case TOPT_TASK:
        if (strcmp(arg, "realbogus") && strcmp(arg, "class")) {
            cli_usage_error(t->cmd, "--task: '%s' (realbogus or class)", arg);
            return -1;
        }
        snprintf(t->task, sizeof t->task, "%s", arg);
        return 1;
    case TOPT_CLASSES:
        if (strlen(arg) >= sizeof t->classes_text) {
            cli_usage_error(t->cmd, "--classes: list too long");
            return -1;
        }
        snprintf(t->classes_text, sizeof t->classes_text, "%s", arg);
        return 1;
    case TOPT_MAX_ROWS:
        if (cli_parse_long(t->cmd, "max-rows", arg, 1, 1L << 40, &l))
            return -1;
        t->max_rows = l;
        return 1;
    case TOPT_QUIET:
        t->quiet = 1;
        return 1;
    case TOPT_DATA:
        t->data = arg;
        return 1;
    case TOPT_VAL:
        t->val = arg;
        return 1;
    case TOPT_OUT:
        t->out = arg;
        return 1;
    case TOPT_NAME:
        t->name = arg;
        return 1;
    case TOPT_VERSION:
        t->version = arg;
        return 1;
    case TOPT_FROM:
        t->from = arg;
        return 1;
    case TOPT_BASE:
        t->base = arg;
        return 1;
    case TOPT_TRAIN:
        t->train = arg;
        return 1;
    case TOPT_TEST:
        t->test = arg;
        return 1;
    case TOPT_RUNS_OUT:
        t->runs_out = arg;
        return 1;
    case TOPT_LIGHTCURVES:
        return 1;
    case TOPT_RESAMPLE:
        t->resample = 1;
        return 1;
    case TOPT_FREEZE:
        if (sv_freeze_from_name(arg, &t->freeze)) {
            cli_usage_error(t->cmd, "--freeze: '%s' (%s)", arg, t->freeze_choices);
            return -1;
        }
        return 1;
    case TOPT_BODY_LR: {
        char *end = NULL;
        errno = 0;
        double v = strtod(arg, &end);
        if (errno || !end || *end || end == arg || !(v >= 0 && v <= 100)) {
            cli_usage_error(t->cmd, "--body-lr-scale: '%s' is not a number in [0, 100]", arg);
            return -1;
        }
        t->body_lr_scale = (float)v;
        return 1;
    }
    case TOPT_SCRATCH_LR: {
        char *end = NULL;
        errno = 0;
        double v = strtod(arg, &end);
        if (errno || !end || *end || !(v > 0 && v <= 10)) {
            cli_usage_error(t->cmd, "--scratch-lr: '%s' not in (0, 10]", arg);
            return -1;
        }
        t->scratch_lr = v;
        return 1;
    }
    case TOPT_RUNS: {
        char *end = NULL;
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (errno || !end || *end || v < 2 || v > 1000) {
            cli_usage_error(t->cmd, "--runs: '%s' not in 2..1000", arg);
            return -1;
        }
        t->runs = (int)v;
        return 1;
    }
    case TOPT_SIZES: {
        const char *p = arg;
        t->n_sizes = 0;
        while (*p) {
            char *end = NULL;
            errno = 0;
            long v = strtol(p, &end, 10);
            if (errno || end == p || v < 2 || t->n_sizes >= SV_COMPARE_MAX_SIZES ||
                (*end && *end != ',')) {
                t->n_sizes = 0;
                break;
            }
            t->sizes[t->n_sizes++] = v;
            p = *end ? end + 1 : end;
        }
        if (t->n_sizes == 0) {
            cli_usage_error(t->cmd, "--sizes: '%s' is not a list of up to %d sizes >= 2", arg,
                     SV_COMPARE_MAX_SIZES);
            return -1;
        }
        return 1;
    }
    default:
        return 0;
    }
}

/* append sep (when buf is not empty) and the formatted text */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t cap, const char *sep, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "%s", sep);
    if (n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

/* "--a, --b and --c are required (see --help)" when one of them is missing */
static int check_required(const train_cli *t, unsigned required)
{
    const struct {
        unsigned flag;
        const char *name, *value;
    } f[] = {{TF_FROM, "--from", t->from}, {TF_BASE, "--base", t->base},
             {TF_TRAIN, "--train", t->train}, {TF_TEST, "--test", t->test},
             {TF_DATA, "--data", t->data}, {TF_OUT, "-o/--out", t->out}};
    const int nf = (int)(sizeof f / sizeof f[0]);
    int n = 0, missing = 0;
    for (int i = 0; i < nf; i++)
        if (required & f[i].flag) {
            n++;
            missing |= !f[i].value;
        }
    if (!missing)
        return 0;
    char text[128] = "";
    for (int i = 0, k = 0; i < nf; i++)
        if (required & f[i].flag) {
            k++;
            append(text, sizeof text, k == n ? " and " : ", ", "%s", f[i].name);
        }
    return cli_usage_error(t->cmd, "%s %s required", text, n == 1 ? "is" : "are");
}

typedef struct train_parse {
    train_cli *t;
    train_cli_own_fn own;
    void *ctx;
} train_parse;

static int train_parse_option(void *user, int key, const char *arg)
{
    train_parse *p = user;
    int h = train_cli_option(p->t, key, arg);
    if (h)
        return h < 0 ? CLI_USAGE : 0;
    int st = p->own ? p->own(key, arg, p->ctx) : -1;
    if (st < 0) /* a table entry nobody handles: a bug in the table */
        return cli_usage_error(p->t->cmd, "option %d is not handled", key);
    return st ? CLI_USAGE : 0;
}

int train_cli_parse(train_cli *t, int argc, char **argv, const cli_cmd *c, train_cli_own_fn own,
                    void *ctx, unsigned required)
{
    cli_common com = {0};
    train_parse p = {t, own, ctx};
    int first = 0;
    int st = cli_parse(c, argc, argv, &com, train_parse_option, &p, &first);
    if (st >= 0)
        return st;
    if (com.output) {
        if (t->out && strcmp(t->out, com.output))
            return cli_usage_error(t->cmd, "-o %s and --out %s: give one of them", com.output,
                                   t->out);
        t->out = com.output;
    }
    t->quiet = com.quiet;
    t->verbose = com.verbose;
    if (first < argc)
        return cli_usage_error(t->cmd, "unexpected argument '%s'", argv[first]);
    st = check_required(t, required);
    if (st)
        return st;
    if (required & TF_REPORTS) {
        if (t->out && !sv_report_kind(t->out))
            return cli_usage_error(t->cmd, "--out %s: use a .fits or .csv name", t->out);
        if (t->runs_out && sv_report_kind(t->runs_out) != 2)
            return cli_usage_error(t->cmd, "--runs-out %s: use a .csv name", t->runs_out);
    }
    return -1;
}

int train_cli_source_options(train_cli *t, const char *path, sv_source_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->max_rows = t->max_rows;
    opt->resample_to = t->resample_to;
    opt->resample_size = t->resample_size;
    sv_error err;
    sv_error_clear(&err);
    if (t->classes_text[0]) {
        if (!strcmp(t->task, "realbogus")) {
            cli_fail(t->cmd, "--classes and --task realbogus exclude each other");
            return 1;
        }
        int n = sv_parse_class_list(t->classes_text, opt->classes, &err);
        if (n < 0) {
            cli_fail(t->cmd, "%s", err.text);
            return 1;
        }
        if (n < 2) {
            cli_fail(t->cmd, "--classes: a class model needs two classes or more");
            return 1;
        }
        opt->n_classes = n;
        return 0;
    }
    if (!strcmp(t->task, "realbogus")) {
        opt->realbogus = 1;
        return 0;
    }
    if (!strcmp(t->task, "class"))
        return 0;
    sv_stamp_reader *r = sv_stamp_reader_open(path, 0, &err);
    if (!r) {
        cli_fail(t->cmd, "%s", err.text);
        return 1;
    }
    const sv_stamp_meta *meta = sv_stamp_reader_meta(r);
    opt->realbogus = meta->n_class == 2 && sv_stamp_meta_class_index(meta, "bogus") >= 0;
    sv_stamp_reader_close(r);
    return 0;
}

int train_cli_open_data(train_cli *t, const char *path, sv_source_options *so,
                        sv_stamp_source *src)
{
    memset(src, 0, sizeof *src);
    if (train_cli_source_options(t, path, so))
        return 1;
    sv_error err;
    sv_error_clear(&err);
    if (sv_source_open_table(src, path, so, &err))
        return cli_fail(t->cmd, "%s", err.text);
    return 0;
}

void train_cli_same_labels(const sv_source_options *so, const sv_stamp_source *src,
                           sv_source_options *out)
{
    *out = *so;
    if (!so->realbogus) {
        out->n_classes = src->n_classes;
        memcpy(out->classes, src->classes, sizeof out->classes);
    }
}

int train_cli_open_val(train_cli *t, const sv_source_options *so, const sv_stamp_source *src,
                       sv_stamp_source *vsrc)
{
    if (!t->val)
        return 0;
    sv_source_options vo;
    train_cli_same_labels(so, src, &vo);
    sv_error err;
    sv_error_clear(&err);
    if (sv_source_open_table(vsrc, t->val, &vo, &err))
        return cli_fail(t->cmd, "%s", err.text);
    t->cfg.val_source = vsrc;
    return 0;
}

void train_cli_model_name(const train_cli *t, char *name, size_t cap)
{
    if (t->name) {
        snprintf(name, cap, "%s", t->name);
        return;
    }
    const char *b = strrchr(t->out, '/');
    snprintf(name, cap, "%s", b ? b + 1 : t->out);
    char *dot = strstr(name, ".fits");
    if (!dot)
        dot = strrchr(name, '.');
    if (dot && dot != name)
        *dot = '\0';
}

void train_cli_recipe(const train_cli *t, unsigned items, char *buf, size_t cap)
{
    const sv_train_config *g = &t->cfg;
    if (!cap)
        return;
    buf[0] = '\0';
    if (items & TR_FREEZE)
        append(buf, cap, ", ", "freeze %s", sv_freeze_name(t->freeze));
    if (items & TR_BODY_LR)
        append(buf, cap, ", ", "body lr x%g", (double)t->body_lr_scale);
    if (items & TR_OPT)
        append(buf, cap, ", ", "%s lr %g", g->opt.kind == NN_OPT_ADAM ? "adam" : "sgd",
               (double)g->opt.lr);
    if (items & TR_SCRATCH)
        append(buf, cap, " ", "(scratch %g)",
               t->scratch_lr > 0 ? (double)(float)t->scratch_lr : (double)g->opt.lr);
    if (items & TR_BATCH)
        append(buf, cap, ", ", "batch %d", g->batch);
    if (items & TR_EPOCHS)
        append(buf, cap, ", ", "<= %d epochs", g->epochs);
    if (items & TR_PATIENCE)
        append(buf, cap, ", ", "patience %d", g->patience);
    if (items & TR_AUGMENT)
        append(buf, cap, ", ", "%s", g->augment ? "flip/rot90" : "no augmentation");
    if (items & TR_CLASS_WEIGHT)
        append(buf, cap, ", ", "class weights %s",
               g->class_weight == SV_CW_BALANCED ? "balanced" : "none");
    if (items & TR_SEED)
        append(buf, cap, ", ", "seed %llu", (unsigned long long)g->seed);
    if (items & TR_SLICES)
        append(buf, cap, ", ", "%d slices", g->slices);
    if (items & TR_THREADS)
        append(buf, cap, ", ", "%d threads", g->threads);
}

void train_cli_print_recipe(const train_cli *t, unsigned items)
{
    char buf[512];
    train_cli_recipe(t, items, buf, sizeof buf);
    printf("recipe : %s\n", buf);
}

void train_cli_print_labels(const sv_stamp_source *src)
{
    long counts[SV_MAX_CLASSES];
    sv_source_class_counts(src, counts);
    printf("labels :");
    for (int k = 0; k < src->n_classes; k++)
        printf(" %s %ld", src->classes[k], counts[k]);
    printf("\n");
}

void train_cli_print_data(const char *path, const sv_stamp_source *src)
{
    printf("data   : %s: %ld stamps %dx%d", path, src->n, src->w, src->h);
    if (src->n_skipped)
        printf(" (%ld rows of other classes or unlabelled left out)", src->n_skipped);
    printf("\n");
    train_cli_print_labels(src);
}

int train_cli_progress(const sv_epoch_stats *e, void *user)
{
    train_cli *t = user;
    if (t && t->quiet)
        return 0;
    printf("epoch %3d/%-3d loss %.4f acc %.4f", e->epoch, t ? t->cfg.epochs : 0, e->loss,
           e->accuracy);
    if (!isnan(e->val_loss))
        printf("  val_loss %.4f val_acc %.4f", e->val_loss, e->val_accuracy);
    printf("  %6.1f s %6.0f %s/s%s\n", e->seconds, e->stamps_per_s, t ? t->per_s : "stamps",
           e->best ? "  *" : "");
    fflush(stdout);
    return 0;
}

int train_cli_resample_to(train_cli *t, const sv_model *base)
{
    if (!t->resample)
        return 0;
    if (!(base->pre.pixel_scale > 0))
        return cli_fail(t->cmd, "--resample: the base model '%s' records no pixel scale "
                        "(PIXSCALE)", base->name);
    t->resample_to = base->pre.pixel_scale;
    t->resample_size = base->pre.stamp_size;
    return 0;
}

sv_model *train_cli_read_model(const train_cli *t, const char *path)
{
    sv_error err;
    sv_error_clear(&err);
    sv_model *m = NULL;
    if (sv_model_read_fits(path, &m, &err) || (t->lightcurves && sv_lc_model_check(m, &err))) {
        sv_model_free(m);
        cli_fail(t->cmd, "%s", err.text);
        return NULL;
    }
    return m;
}

sv_model *train_cli_model_of(const train_cli *t, int build, nn_net *net, const sv_error *err)
{
    if (build) {
        cli_fail(t->cmd, "%s", err->text);
        return NULL;
    }
    sv_model *m = sv_model_new(net);
    if (!m) {
        nn_net_free(net);
        cli_fail(t->cmd, "out of memory");
    }
    return m;
}

int train_cli_train(train_cli *t, sv_model *m, const sv_stamp_source *src,
                    sv_train_result *res)
{
    fflush(stdout);
    nn_blas_single_thread();
    t->cfg.progress = train_cli_progress;
    t->cfg.progress_user = t;
    sv_error err;
    sv_error_clear(&err);
    if (sv_train(m, src, &t->cfg, res, &err))
        return cli_fail(t->cmd, "%s", err.text);
    if (sv_train_record(m, "train", t->data, &t->cfg, res))
        return cli_fail(t->cmd, "the model's provenance table is full");
    return 0;
}

int train_cli_finetune(train_cli *t, const sv_model *base, const sv_stamp_source *src,
                       sv_model **out, sv_train_result *res)
{
    char name[64];
    train_cli_model_name(t, name, sizeof name);
    sv_finetune_config fc = sv_finetune_defaults();
    fc.freeze = t->freeze;
    fc.body_lr_scale = t->body_lr_scale;
    fc.name = name;
    fc.train = t->cfg;
    fc.train.progress = train_cli_progress;
    fc.train.progress_user = t;
    fflush(stdout);
    nn_blas_single_thread();
    sv_error err;
    sv_error_clear(&err);
    if (sv_finetune(base, src, t->data, &fc, out, res, &err))
        return cli_fail(t->cmd, "%s", err.text);
    return 0;
}

int train_cli_write_model(const train_cli *t, sv_model *m)
{
    sv_error err;
    sv_error_clear(&err);
    if (t->version) /* else the writer derives one (model_fits.h: MODVERS) */
        snprintf(m->version, sizeof m->version, "%s", t->version);
    if (sv_model_write_fits(m, t->out, &err))
        return cli_fail(t->cmd, "%s", err.text);
    return 0;
}

void train_cli_print_best(const train_cli *t, const sv_train_result *res, const char *extra)
{
    printf("best   : epoch %d of %d%s, val_loss %.4f val_acc %.4f (%ld train + %ld "
           "validation%s), %.1f s%s\nwrote  : %s\n",
           res->best_epoch, res->epochs_run, res->stopped_early ? " (stopped early)" : "",
           res->best_val_loss, res->best_val_accuracy, res->n_train, res->n_val,
           t->lightcurves ? "" : " stamps", res->seconds, extra ? extra : "", t->out);
}

void train_cli_compare_config(const train_cli *t, sv_compare_config *cc)
{
    *cc = sv_compare_defaults();
    cc->runs = t->runs;
    cc->seed = t->cfg.seed;
    cc->n_sizes = t->n_sizes;
    memcpy(cc->sizes, t->sizes, sizeof cc->sizes);
    cc->transfer.freeze = t->freeze;
    cc->transfer.body_lr_scale = t->body_lr_scale;
    cc->transfer.train = t->cfg;
    cc->transfer.train.progress = NULL;
    cc->scratch = cc->transfer.train;
    if (t->scratch_lr > 0)
        cc->scratch.opt.lr = (float)t->scratch_lr;
    cc->eval.threads = t->cfg.threads;
}

int train_cli_compare_run(const train_cli *t, const sv_model *base, const sv_stamp_source *tr,
                          const sv_stamp_source *te, const sv_compare_config *cc,
                          sv_compare_result *res)
{
    fflush(stdout);
    nn_blas_single_thread();
    sv_error err;
    sv_error_clear(&err);
    if (sv_compare(base, tr, t->train, te, cc, res, &err))
        return cli_fail(t->cmd, "%s", err.text);
    printf("\n");
    sv_compare_print(stdout, res);
    return 0;
}

int train_cli_compare_write(const train_cli *t, const sv_model *base,
                            const sv_compare_config *cc, const sv_compare_result *res,
                            const char *what, const char *also, const char *scratch_key)
{
    char prov[700];
    snprintf(prov, sizeof prov,
             "stampvet compare%s: base %s (%s), train %s, test %s, %d runs, seed %llu, "
             "freeze %s",
             what, base->name, base->checksum, t->train, t->test, cc->runs,
             (unsigned long long)cc->seed, sv_freeze_name(cc->transfer.freeze));
    sv_error err;
    sv_error_clear(&err);
    if ((t->out || t->runs_out) && sv_compare_write(t->out, t->runs_out, res, prov, scratch_key, &err))
        return cli_fail(t->cmd, "%s", err.text);
    const char *wrote[] = {also, t->out, t->runs_out};
    for (int i = 0, first = 1; i < 3; i++)
        if (wrote[i]) {
            printf("%swrote  : %s\n", first ? "\n" : "", wrote[i]);
            first = 0;
        }
    return 0;
}
