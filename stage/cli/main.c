/* main.c — the stampvet command: dispatch to subcommands (commands.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "config.h"
#include "dia_stage.h"

const sv_command sv_commands[] = {
    {"inspect", cmd_inspect, "summarise a FITS file: HDUs, sizes, key cards, columns, models"},
    {"demo", cmd_demo, "run the stage on a simulated exposure with the shipped models"},
    {"run", cmd_run, "one exposure from FITS files to an annotated detection table"},
    {"import-keras", cmd_import_keras, "import a Keras HDF5 model (braai, ACAI, ...) into a model file"},
    {"import-onnx", cmd_import_onnx, "import an ONNX model (a PyTorch export) into a model file"},
    {"score", cmd_score, "score pre-cut stamp triplets (FITS cutouts) with a model"},
    {"batch", cmd_batch, "run a night of exposures (manifest) on threads or MPI ranks, resumable"},
    {"train", cmd_train, "train a real/bogus or class CNN from scratch on a labelled stamp table"},
    {"finetune", cmd_finetune, "fine-tune a base model on a small labelled stamp table (transfer)"},
    {"evaluate", cmd_evaluate, "score a labelled stamp table: accuracy, ROC AUC, FPR/FNR, confusion"},
    {"compare", cmd_compare, "transfer vs from-scratch over N seeds, with t-tests"},
    {"simulate", cmd_simulate, "simulated survey data: labelled stamp sets or full exposures"},
    {"report", cmd_report, "HTML page + PNG/SVG/PDF figures: ROC, histograms, calibration, gallery"},
    {"bench", cmd_bench, "inference throughput (stamps/s, share of the measured FP32 peak)"},
    {"clean", cmd_clean, "remove the temporary files killed runs left in folders (.svtmp-*)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: stampvet COMMAND [OPTIONS] ...\n"
            "       stampvet COMMAND --help\n"
            "       stampvet --version\n\n"
            "Real/bogus scoring and transient classification of difference-image "
            "detections.\n\ncommands:\n");
    for (const sv_command *c = sv_commands; c->name; c++)
        fprintf(out, "  %-13s %s\n", c->name, c->summary);
}

int main(int argc, char **argv)
{
    /* A write beyond the file size limit (ulimit -f) should be an error
     * naming the file (write fails with EFBIG, the output is abandoned and
     * its temporary removed), not death by SIGXFSZ.  The library leaves
     * signals alone: this is the application's choice. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("stampvet %s (DIA stage ABI %d.%d)\n", PACKAGE_VERSION, DIA_ABI_MAJOR,
               DIA_ABI_MINOR);
        return 0;
    }
    for (const sv_command *c = sv_commands; c->name; c++)
        if (!strcmp(argv[1], c->name))
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "stampvet: unknown command '%s' (see stampvet --help)\n", argv[1]);
    return 2;
}
