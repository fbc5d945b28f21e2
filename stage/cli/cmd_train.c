/* cmd_train.c — `stampvet train`: train a model from scratch on a labelled
 * stamp table (train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "cli/commands.h"
#include "data/dataset.h"
#include "cli/lc_cli.h"
#include "model/model.h"
#include "model/model_fits.h"
#include "train/train.h"
#include "cli/train_opts.h"

enum { OPT_ARCH = 256, OPT_NORM };

static const cli_opt train_opts[] = {
    {"files", 0, NULL, NULL},
    {"data", TOPT_DATA, "FILE", "labelled-stamps table (training data); required"},
    {"val", TOPT_VAL, "FILE", "explicit validation table (instead of a split)"},
    {"out", TOPT_OUT, "FILE", "model file to write (FITS, atomically); the same as -o"},
    {"arch", OPT_ARCH, "NAME", "braai (ZTF's VGG6, default) or mini (small, fast)"},
    {"norm", OPT_NORM, "NAME", "stamp normalisation: l2 (default), l2-rows, minmax,\n"
                               "zscore, none"},
    {"name", TOPT_NAME, "NAME", "model name (default: the output file's base name)"},
    {"version", TOPT_VERSION, "V", "model version, the MODVERS card (default:\n"
                                   "NAME_<first 8 hex digits of the weights' WTSUM>)"},
    {"lightcurves", TOPT_LIGHTCURVES, NULL, "the light-curve form (stampvet train\n"
                                            "--lightcurves --help)"},
    TRAIN_RECIPE_OPTS,
    {NULL, 0, NULL, NULL},
};

static const cli_cmd train_cmd = {
    "train",
    "stampvet train --data TABLE.fits -o MODEL.fits [options]",
    "Train a stamp classifier from scratch on a labelled-stamps table (the table\n"
    "`stampvet simulate` writes, or a team's own labels in the same layout):\n"
    "minibatch Adam on class-weighted cross-entropy, flip/rot90 augmentation, a\n"
    "stratified validation split with early stopping (best weights kept), one\n"
    "progress line per epoch on stdout.  A fixed seed gives bit-identical models.",
    train_opts,
    "the model file to write (FITS, atomically); required",
    TRAIN_QUIET_NOTE};

typedef struct own_opts {
    const char *arch;
    sv_norm norm;
} own_opts;

static int own_option(int c, const char *arg, void *ctx)
{
    own_opts *o = ctx;
    switch (c) {
    case OPT_ARCH:
        o->arch = arg;
        return 0;
    case OPT_NORM:
        if (sv_norm_from_name(arg, &o->norm))
            return cli_usage_error("train", "--norm: unknown normalisation '%s'", arg);
        return 0;
    default:
        return -1;
    }
}

int cmd_train(int argc, char **argv)
{
    if (lc_cli_wants(argc, argv)) /* light curves: cmd_lc.c */
        return cmd_lc_train(argc, argv);
    own_opts o = {"braai", SV_NORM_L2};
    train_cli t;
    train_cli_init(&t, "train");
    int st = train_cli_parse(&t, argc, argv, &train_cmd, own_option, &o, TF_DATA | TF_OUT);
    if (st >= 0)
        return st;
    const char *data = t.data, *arch = o.arch;
    sv_norm norm = o.norm;
    int known = 0;
    for (const char *const *a = sv_arch_names(); *a; a++)
        known |= !strcmp(*a, arch);
    if (!known)
        return cli_usage_error("train", "--arch: unknown architecture '%s' (braai, mini)", arch);

    sv_error err;
    sv_error_clear(&err);
    sv_source_options so;
    sv_stamp_source src, vsrc;
    memset(&vsrc, 0, sizeof vsrc);
    if (train_cli_open_data(&t, data, &so, &src))
        return 1;
    if (train_cli_open_val(&t, &so, &src, &vsrc)) {
        sv_source_close(&src);
        return 1;
    }

    int rc = 1;
    nn_net *net = NULL;
    sv_model *m = NULL;
    sv_train_result *res = calloc(1, sizeof *res);
    int n_out = src.realbogus ? 1 : src.n_classes;
    if (!res) {
        cli_fail("train", "out of memory");
        goto done;
    }
    int built = sv_arch_build(arch, src.h, src.w, 3, n_out, t.cfg.seed, &net, &err);
    if (!(m = train_cli_model_of(&t, built, net, &err)))
        goto done;
    m->pre = sv_preproc_braai(norm);
    m->pre.out_h = src.h;
    m->pre.out_w = src.w;
    m->pre.stamp_size = src.h > src.w ? src.h : src.w;
    m->pre.pixel_scale = src.pixscale > 0 ? src.pixscale : 0;
    if (src.realbogus) {
        m->task = SV_TASK_REALBOGUS;
        m->n_classes = 1;
        snprintf(m->classes[0], SV_LABEL_MAX, "real");
    } else {
        m->task = SV_TASK_CLASS;
        m->n_classes = src.n_classes;
        for (int k = 0; k < src.n_classes; k++)
            snprintf(m->classes[k], SV_LABEL_MAX, "%s", src.classes[k]);
    }
    train_cli_model_name(&t, m->name, sizeof m->name);

    train_cli_print_data(data, &src);
    printf("model  : %s, %s, %s, %zu parameters, norm %s\n", m->name, arch,
           src.realbogus ? "real/bogus" : "classes", nn_net_count_params(net, 0),
           sv_norm_name(norm));
    train_cli_print_recipe(&t, TR_OPT | TR_BATCH | TR_EPOCHS | TR_PATIENCE | TR_AUGMENT |
                                   TR_CLASS_WEIGHT | TR_SEED | TR_SLICES | TR_THREADS);
    if (train_cli_train(&t, m, &src, res))
        goto done;
    sv_model_set_prov(m, "ARCH", arch);
    if (train_cli_write_model(&t, m))
        goto done;
    char speed[48];
    snprintf(speed, sizeof speed, ", %.0f stamps/s", res->stamps_per_s);
    train_cli_print_best(&t, res, speed);
    rc = 0;
done:
    free(res);
    sv_model_free(m);
    sv_source_close(&src);
    sv_source_close(&vsrc);
    return rc;
}
