/* cmd_finetune.c — `stampvet finetune --from BASE.fits`: transfer learning
 * on a small labelled stamp table (finetune.h). */
#include <getopt.h>
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

static void help(void)
{
    printf("usage: stampvet finetune --from BASE.fits --data TABLE.fits --out MODEL.fits "
           "[options]\n\n"
           "Fine-tune a base model (e.g. a ZTF real/bogus model) on a small labelled-stamps\n"
           "table.  When the table's classes differ from the base model's (real/bogus to a\n"
           "3- or 4-class scheme), the head (the final Dense layer) is replaced by a new\n"
           "one.  The parent model, its checksum and the fine-tuning data are recorded in\n"
           "the new model's provenance.\n\n"
           "  --from FILE          base model (FITS model file)\n"
           "  --data FILE          labelled-stamps table to fine-tune on\n"
           "  --val FILE           explicit validation table (instead of a split)\n"
           "  --out FILE           model file to write\n"
           "  --freeze POLICY      conv (default: freeze all convolutional layers),\n"
           "                       all-but-head, none\n"
           "  --body-lr-scale X    learning-rate multiplier of the trainable layers other\n"
           "                       than the head (default 0.1 with --freeze none, else 1)\n"
           "  --resample           resample the stamps to the base model's pixel scale\n"
           "                       (from the table's PIXSCALE; Lanczos-3) and stamp size,\n"
           "                       as the stage's resample = true: give wide stamps\n"
           "                       (simulate --stamp-size 193 for ILMT at ZTF's scale)\n"
           "  --name NAME          model name (default: the output file's base name)\n");
    train_cli_help(stdout);
}

int cmd_finetune(int argc, char **argv)
{
    if (lc_cli_wants(argc, argv)) /* light curves: cmd_lc.c */
        return cmd_lc_finetune(argc, argv);
    static const struct option opts[] = {FINETUNE_OPTIONS, TRAIN_LONG_OPTIONS,
                                         {"help", no_argument, NULL, 'h'}, {0}};
    train_cli t;
    train_cli_init(&t, "finetune");
    int st = train_cli_parse(&t, argc, argv, opts, help, NULL, NULL,
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
