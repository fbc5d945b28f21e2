/* cmd_finetune.c — `stampvet finetune --from BASE.fits`: transfer learning
 * on a small labelled stamp table (finetune.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/lc_cli.h"
#include "data/dataset.h"
#include "train/finetune.h"
#include "model/model.h"
#include "model/model_fits.h"
#include "cli/train_opts.h"

static const cli_opt finetune_opts[] = {
    {"files and transfer", 0, NULL, NULL},
    {"from", TOPT_FROM, "FILE", "base model (FITS model file); required"},
    {"data", TOPT_DATA, "FILE", "labelled-stamps table to fine-tune on; required"},
    {"val", TOPT_VAL, "FILE", "explicit validation table (instead of a split)"},
    {"out", TOPT_OUT, "FILE", "model file to write; the same as -o"},
    {"freeze", TOPT_FREEZE, "POLICY", "conv (default: freeze all convolutional layers),\n"
                                      "all-but-head, none"},
    {"body-lr-scale", TOPT_BODY_LR, "X", "learning-rate multiplier of the trainable layers\n"
                                         "other than the head, in [0, 100] (default 0.1\n"
                                         "with --freeze none, else 1)"},
    {"resample", TOPT_RESAMPLE, NULL, "resample the stamps to the base model's pixel scale\n"
                                      "(from the table's PIXSCALE; Lanczos-3) and stamp\n"
                                      "size, as the stage's resample = true: give wide\n"
                                      "stamps (simulate --stamp-size 193 for ILMT at ZTF's\n"
                                      "scale)"},
    {"name", TOPT_NAME, "NAME", "model name (default: the output file's base name)"},
    {"version", TOPT_VERSION, "V", "model version, the MODVERS card (default:\n"
                                   "NAME_<first 8 hex digits of the weights' WTSUM>)"},
    {"lightcurves", TOPT_LIGHTCURVES, NULL, "the light-curve form (stampvet finetune\n"
                                            "--lightcurves --help)"},
    TRAIN_RECIPE_OPTS,
    {NULL, 0, NULL, NULL},
};

static const cli_cmd finetune_cmd = {
    "finetune",
    "stampvet finetune --from BASE.fits --data TABLE.fits -o MODEL.fits [options]",
    "Fine-tune a base model (e.g. a ZTF real/bogus model) on a small labelled-stamps\n"
    "table.  When the table's classes differ from the base model's (real/bogus to a\n"
    "3- or 4-class scheme), the head (the final Dense layer) is replaced by a new\n"
    "one.  The parent model, its checksum and the fine-tuning data are recorded in\n"
    "the new model's provenance.",
    finetune_opts,
    "the model file to write (FITS, atomically); required",
    TRAIN_QUIET_NOTE};

int cmd_finetune(int argc, char **argv)
{
    if (lc_cli_wants(argc, argv)) /* light curves: cmd_lc.c */
        return cmd_lc_finetune(argc, argv);
    train_cli t;
    train_cli_init(&t, "finetune");
    int st = train_cli_parse(&t, argc, argv, &finetune_cmd, NULL, NULL,
                             TF_FROM | TF_DATA | TF_OUT);
    if (st >= 0)
        return st;

    sv_model *base = train_cli_read_model(&t, t.from), *m = NULL;
    if (!base)
        return 1;
    if (train_cli_resample_to(&t, base)) {
        sv_model_free(base);
        return 1;
    }
    sv_source_options so;
    sv_stamp_source src, vsrc;
    memset(&vsrc, 0, sizeof vsrc);
    if (train_cli_open_data(&t, t.data, &so, &src)) {
        sv_model_free(base);
        return 1;
    }
    int rc = 1;
    sv_train_result *res = calloc(1, sizeof *res);
    if (!res) {
        cli_fail("finetune", "out of memory");
        goto done;
    }
    if (train_cli_open_val(&t, &so, &src, &vsrc))
        goto done;
    printf("base   : %s (%s, %s, %zu parameters)\n", base->name, t.from,
           sv_task_name(base->task), nn_net_count_params(base->net, 0));
    train_cli_print_data(t.data, &src);
    train_cli_print_recipe(&t, TR_FREEZE | TR_OPT | TR_BATCH | TR_EPOCHS | TR_PATIENCE |
                                   TR_SEED | TR_THREADS);
    if (train_cli_finetune(&t, base, &src, &m, res) || train_cli_write_model(&t, m))
        goto done;
    printf("head   : %s; trainable parameters %zu of %zu\n",
           !strcmp(sv_model_get_prov(m, "FTHEAD") ? sv_model_get_prov(m, "FTHEAD") : "", "new")
               ? "replaced"
               : "kept",
           nn_net_count_params(m->net, 1), nn_net_count_params(m->net, 0));
    train_cli_print_best(&t, res, NULL);
    rc = 0;
done:
    free(res);
    sv_model_free(m);
    sv_model_free(base);
    sv_source_close(&src);
    sv_source_close(&vsrc);
    return rc;
}
