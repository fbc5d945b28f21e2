/* train_opts.h — what the training commands share: `train`, `finetune`,
 * `compare` (and `evaluate` in part), for stamps and for light curves
 * (cmd_lc.c): the options (training recipe, label selection, files, the
 * transfer experiment), the option loop, the recipe / progress / result
 * lines, and the runs of the library's train, finetune and compare.
 * Internal to the CLI. */
#ifndef SV_CLI_TRAIN_OPTS_H
#define SV_CLI_TRAIN_OPTS_H

#include <stdio.h>

#include "cli/cli_opts.h"

#include "train/compare.h"
#include "data/dataset.h"
#include "train/finetune.h"
#include "model/model.h"
#include "train/train.h"

/* Option keys (cli_opt.key) of the shared options.  A command's own keys
 * are in [256, 1000) or from 2000 on. */
enum {
    TOPT_EPOCHS = 1000,
    TOPT_BATCH,
    TOPT_LR,
    TOPT_OPTIMIZER,
    TOPT_MOMENTUM,
    TOPT_VAL_FRACTION,
    TOPT_PATIENCE,
    TOPT_MIN_DELTA,
    TOPT_NO_AUGMENT,
    TOPT_CLASS_WEIGHT,
    TOPT_SEED,
    TOPT_THREADS,
    TOPT_SLICES,
    TOPT_TASK,
    TOPT_CLASSES,
    TOPT_MAX_ROWS,
    TOPT_QUIET,
    TOPT_WEIGHT_DECAY,
    /* files (TRAIN_FILE_OPTIONS, FINETUNE_OPTIONS, COMPARE_OPTIONS) */
    TOPT_DATA,
    TOPT_VAL,
    TOPT_OUT,
    TOPT_NAME,
    TOPT_VERSION,
    TOPT_FROM,
    TOPT_BASE,
    TOPT_TRAIN,
    TOPT_TEST,
    TOPT_RUNS_OUT,
    /* the transfer experiment */
    TOPT_FREEZE,
    TOPT_BODY_LR,
    TOPT_RUNS,
    TOPT_SIZES,
    TOPT_SCRATCH_LR,
    TOPT_LIGHTCURVES,
    TOPT_RESAMPLE
};

/* The label and training-recipe options (cli_opts.h entries under their
 * headings), to end a command's table, before {NULL}.  -q (common) is
 * "no per-epoch lines". */
#define TRAIN_RECIPE_OPTS                                                                     \
    {"labels", 0, NULL, NULL},                                                                \
        {"task", TOPT_TASK, "realbogus|class",                                                \
         "real/bogus (the class 'bogus' against all\n"                                        \
         "others) or a class model; default: real/bogus when the\n"                           \
         "table has exactly two classes and one is 'bogus', else\n"                           \
         "classes"},                                                                          \
        {"classes", TOPT_CLASSES, "A,B,C", "class model over these classes, in this order\n"  \
                                           "(rows of other classes are left out)"},          \
        {"max-rows", TOPT_MAX_ROWS, "N", "read at most N rows of the table"},                 \
        {"training recipe", 0, NULL, NULL},                                                   \
        {"epochs", TOPT_EPOCHS, "N", "maximum epochs (30)"},                                  \
        {"batch", TOPT_BATCH, "N", "minibatch size, in [1, 65536] (64)"},                     \
        {"optimizer", TOPT_OPTIMIZER, "adam|sgd", "(adam; Keras betas 0.9/0.999, eps 1e-7)"}, \
        {"lr", TOPT_LR, "X", "learning rate, in [0, 10] (1e-3)"},                             \
        {"momentum", TOPT_MOMENTUM, "X", "SGD momentum, in [0, 1] (0)"},                      \
        {"weight-decay", TOPT_WEIGHT_DECAY, "X", "L2 added to the gradient, in [0, 1] (0)"},  \
        {"val-fraction", TOPT_VAL_FRACTION, "F", "stratified validation share, in [0, 0.9]\n" \
                                                 "(0.1); 0 = none"},                         \
        {"patience", TOPT_PATIENCE, "N", "early-stopping patience on validation loss (5);\n"  \
                                         "0 = off"},                                         \
        {"min-delta", TOPT_MIN_DELTA, "X", "smallest improvement that counts (0)"},           \
        {"no-augment", TOPT_NO_AUGMENT, NULL, "no flip/rot90 augmentation"},                  \
        {"class-weight", TOPT_CLASS_WEIGHT, "balanced|none", "(balanced: n / (k n_c))"},      \
        {"seed", TOPT_SEED, "N", "seed of everything random (1)"},                            \
        {"slices", TOPT_SLICES, "N", "fixed gradient slices per minibatch, in [1, 64] (4);\n" \
                                     "part of the recipe: results are bit-identical for\n"  \
                                     "any --threads"},                                       \
        {"threads", TOPT_THREADS, "N", "worker threads, in [1, 64] (min(CPUs, slices))"}

/* The common options' meaning in the training commands (cli_cmd.notes). */
#define TRAIN_QUIET_NOTE "-q leaves out the per-epoch lines; -o FILE is the same as --out FILE."

typedef struct train_cli {
    sv_train_config cfg;
    int threads_set;
    char task[16];          /* "", "realbogus", "class"                       */
    char classes_text[512]; /* "" or the --classes list                       */
    long max_rows;
    int quiet, verbose;     /* -q, -v                                         */
    const char *cmd;        /* for messages                                   */
    int lightcurves;        /* the light-curve form (train_cli_lightcurves)   */
    const char *per_s;      /* what the progress line counts: "stamps", "seq" */
    /* files */
    const char *data, *val, *out, *name, *from, *base, *train, *test, *runs_out;
    const char *version;    /* --version: MODVERS (train_cli_write_model)     */
    /* transfer: finetune and compare */
    sv_freeze freeze;       /* --freeze (sv_finetune_defaults)                */
    float body_lr_scale;    /* --body-lr-scale (sv_finetune_defaults)         */
    const char *freeze_choices; /* named in the --freeze message              */
    int resample;           /* --resample: stamps to the base's scale         */
    double resample_to;     /* set by train_cli_resample_to                   */
    int resample_size;
    /* the compare experiment */
    int runs;               /* --runs (sv_compare_defaults)                   */
    int n_sizes;            /* --sizes (0: none given)                        */
    long sizes[SV_COMPARE_MAX_SIZES];
    double scratch_lr;      /* --scratch-lr, or -1: --lr                      */
} train_cli;

/* With --resample: every table opened from now on is resampled to the
 * base model's pixel scale and stamp size (sv_source_resample; a table's
 * stamps should then be wide enough, e.g. `simulate --stamp-size 193` for
 * ILMT stamps at ZTF's scale).  Returns 0, or 1 after a message when the
 * base records no pixel scale.  Without --resample: 0, nothing done. */
int train_cli_resample_to(train_cli *t, const sv_model *base);

/* Defaults (sv_train_defaults, threads = min(CPUs, slices),
 * sv_finetune_defaults, sv_compare_defaults). */
void train_cli_init(train_cli *t, const char *cmd);

/* The light-curve form's defaults: no augmentation, progress in seq/s,
 * --freeze none (choices none, recurrent, all-but-head), body learning-rate
 * scale 1, hints naming --lightcurves. */
void train_cli_lightcurves(train_cli *t);

/* Handle option key c with its argument.  Returns 1 when handled, 0 when
 * c is not a shared option, -1 after printing a usage message for a bad
 * value (cli_usage_error). */
int train_cli_option(train_cli *t, int c, const char *arg);

/* A command's own options: return 0 when c was taken, -1 when c is not
 * one of them, or the exit status after printing a message. */
typedef int (*train_cli_own_fn)(int c, const char *arg, void *ctx);

/* What train_cli_parse requires after the options. */
enum {
    TF_FROM = 1 << 0,   /* --from                                            */
    TF_BASE = 1 << 1,   /* --base                                            */
    TF_TRAIN = 1 << 2,  /* --train                                           */
    TF_TEST = 1 << 3,   /* --test                                            */
    TF_DATA = 1 << 4,   /* --data                                            */
    TF_OUT = 1 << 5,    /* --out                                             */
    TF_REPORTS = 1 << 6 /* --out / --runs-out are compare's report formats   */
};

/* The option loop: cli_parse over argv with c's table; the shared
 * options fill t (-o is --out, -q t->quiet, -v t->verbose), the others go
 * to own(key, arg, ctx) (own may be NULL); a positional argument, a
 * missing `required` file option or a report name of the wrong kind is a
 * usage error.  Returns -1 when the command should go on, else the exit
 * status (0 after --help, 2 for a usage error). */
int train_cli_parse(train_cli *t, int argc, char **argv, const cli_cmd *c, train_cli_own_fn own,
                    void *ctx, unsigned required);

/* Source options for a table given --task/--classes: explicit choices win;
 * otherwise, a table whose class list is exactly two classes, one of them
 * 'bogus', is real/bogus and any other table gives a class model over all
 * its classes.  `path` is opened (header only) to decide.  Returns 0, or 1
 * after printing a message. */
int train_cli_source_options(train_cli *t, const char *path, sv_source_options *opt);

/* train_cli_source_options for path, then open it as src.  Returns 0, or 1
 * after printing a message (src is then closed). */
int train_cli_open_data(train_cli *t, const char *path, sv_source_options *so,
                        sv_stamp_source *src);

/* Options for a second table (validation, test) read like `src` was read
 * with `so`: the same label kind, and the classes found in src. */
void train_cli_same_labels(const sv_source_options *so, const sv_stamp_source *src,
                           sv_source_options *out);

/* Open the --val table (when given) like src and make it the validation
 * set.  Returns 0, or 1 after printing a message. */
int train_cli_open_val(train_cli *t, const sv_source_options *so, const sv_stamp_source *src,
                       sv_stamp_source *vsrc);

/* The model name: --name, or the --out file's base name without its
 * extension. */
void train_cli_model_name(const train_cli *t, char *name, size_t cap);

/* Items of the recipe text, in the order they are written. */
enum {
    TR_FREEZE = 1 << 0,       /* freeze conv                                 */
    TR_BODY_LR = 1 << 1,      /* body lr x0.1                                */
    TR_OPT = 1 << 2,          /* adam lr 0.001                               */
    TR_SCRATCH = 1 << 3,      /* (scratch 0.001), right after TR_OPT         */
    TR_BATCH = 1 << 4,        /* batch 64                                    */
    TR_EPOCHS = 1 << 5,       /* <= 30 epochs                                */
    TR_PATIENCE = 1 << 6,     /* patience 5                                  */
    TR_AUGMENT = 1 << 7,      /* flip/rot90 | no augmentation                */
    TR_CLASS_WEIGHT = 1 << 8, /* class weights balanced                      */
    TR_SEED = 1 << 9,         /* seed 1                                      */
    TR_SLICES = 1 << 10,      /* 4 slices                                    */
    TR_THREADS = 1 << 11      /* 2 threads                                   */
};

/* The recipe items in `items`, joined by ", ", into buf. */
void train_cli_recipe(const train_cli *t, unsigned items, char *buf, size_t cap);
/* "recipe : " and those items, on stdout. */
void train_cli_print_recipe(const train_cli *t, unsigned items);

/* "data   : PATH: N stamps HxW (...)" and the labels line of a stamp
 * source. */
void train_cli_print_data(const char *path, const sv_stamp_source *src);

/* "labels : NAME COUNT ..." of a source. */
void train_cli_print_labels(const sv_stamp_source *src);

/* Progress callback printing one line per epoch on stdout (user: train_cli). */
int train_cli_progress(const sv_epoch_stats *e, void *user);

/* Read the base model at path (for the light-curve form: a light-curve
 * model).  Returns it (free with sv_model_free), or NULL after a message. */
sv_model *train_cli_read_model(const train_cli *t, const char *path);

/* The model holding a freshly built network: build is the builder's status
 * and err its message.  Returns the model, or NULL after a message (net
 * freed). */
sv_model *train_cli_model_of(const train_cli *t, int build, nn_net *net, const sv_error *err);

/* Train m on src with t's recipe (progress lines unless --quiet) and
 * record it in the model's provenance (data: t->data).  Returns 0, or 1
 * after printing a message. */
int train_cli_train(train_cli *t, sv_model *m, const sv_stamp_source *src,
                    sv_train_result *res);

/* Fine-tune base on src with t's recipe, freeze policy and body
 * learning-rate scale into *out.  Returns 0, or 1 after a message. */
int train_cli_finetune(train_cli *t, const sv_model *base, const sv_stamp_source *src,
                       sv_model **out, sv_train_result *res);

/* Write m to t->out, its version (MODVERS) --version when given, else the
 * one the writer derives (model_fits.h).  Returns 0, or 1 after a message. */
int train_cli_write_model(const train_cli *t, sv_model *m);

/* "best   : epoch E of N, val_loss ... (n train + n validation[ stamps]),
 * S s" followed by `extra`, then "wrote  : OUT". */
void train_cli_print_best(const train_cli *t, const sv_train_result *res, const char *extra);

/* The compare recipe from t: runs, seed, sizes (when --sizes), the
 * transfer arm (freeze, body lr scale, recipe), the scratch arm (recipe,
 * --scratch-lr), scoring threads.  The caller sets the progress. */
void train_cli_compare_config(const train_cli *t, sv_compare_config *cc);

/* Run the experiment and print its summary.  Returns 0, or 1 after a
 * message. */
int train_cli_compare_run(const train_cli *t, const sv_model *base, const sv_stamp_source *tr,
                          const sv_stamp_source *te, const sv_compare_config *cc,
                          sv_compare_result *res);

/* Write --out / --runs-out (their provenance: "stampvet compare`what`:
 * base ..., train ..., test ...", and the --runs-out file's scratch-arm key
 * when scratch_key is non-NULL: sv_compare_write) and say what was
 * written: `also` (a file the command wrote, or NULL), --out, --runs-out.
 * Returns 0, or 1 after a message. */
int train_cli_compare_write(const train_cli *t, const sv_model *base,
                            const sv_compare_config *cc, const sv_compare_result *res,
                            const char *what, const char *also, const char *scratch_key);

#endif
