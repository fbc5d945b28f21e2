/* cmd_run.c — `stampvet run`: one exposure from FITS files, through the
 * stage's ABI (the same calls a pipeline makes), to an annotated FITS
 * table.  The configuration is a key = value file (stage_config_file.h)
 * plus --set overrides. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "dia_host.h"
#include "stage_config_file.h"
#include "stage_plugin.h"

static const char run_usage[] =
    "usage: stampvet run [--config FILE] --sci SCI.fits --ref REF.fits --diff DIFF.fits\n"
    "                    --detections DET.fits [--mask MASK.fits] [--set key=value ...]\n"
    "                    [--exposure-id ID] [--overwrite] [-q] -o OUT.fits\n"
    "       stampvet run [--config FILE] [--set key=value ...] --dump-config\n"
    "\n"
    "Cut a science/reference/difference stamp triplet around every detection of\n"
    "one exposure, score it with the real/bogus model (and the class model, if\n"
    "configured) and write the detections annotated, one row per input row, in\n"
    "input order, to OUT.fits (written atomically).\n"
    "\n"
    "  -c, --config FILE     key = value configuration ('#' comments); unknown keys\n"
    "                        are errors naming FILE:LINE\n"
    "  -s, --set KEY=VALUE   set a parameter (after the file; may be repeated)\n"
    "      --sci FILE        science image (FITS, .fz, .gz; cfitsio extended syntax)\n"
    "      --ref FILE        reference (template) image on the same pixel grid\n"
    "      --diff FILE       difference image\n"
    "      --detections FILE detection table (FITS binary table)\n"
    "      --mask FILE       optional mask image (non-zero bits in mask_bits = bad)\n"
    "      --exposure-id ID  recorded in the output header (EXPID)\n"
    "      --history FILE    light-curve table of the detections' histories (with\n"
    "                        --set lc_model=MODEL.fits: light-curve class columns)\n"
    "  -o, --output FILE     the annotated table to write; never one of the inputs\n"
    "                        (same path or same file through links: refused)\n"
    "      --overwrite       replace OUT.fits if it exists (without: refused)\n"
    "  -q, --quiet           no summary line\n"
    "      --dump-config     print the effective configuration (--config FILE, then\n"
    "                        --set and --history, over the defaults) as a\n"
    "                        configuration file, every parameter with its help, and\n"
    "                        exit\n";

static volatile int run_cancel = 0;

static void on_signal(int sig)
{
    (void)sig;
    run_cancel = 1;
}

typedef struct run_log {
    int quiet;
} run_log;

static void run_log_cb(void *user, dia_log_level level, const char *msg)
{
    const run_log *l = user;
    if (level <= DIA_LOG_WARNING)
        fprintf(stderr, "stampvet run: %s: %s\n", level == DIA_LOG_ERROR ? "error" : "warning",
                msg);
    else if (level == DIA_LOG_INFO && !l->quiet)
        printf("%s\n", msg);
}

int cmd_run(int argc, char **argv)
{
    enum { O_SCI = 256, O_REF, O_DIFF, O_DET, O_MASK, O_EXPID, O_DUMP, O_HISTORY, O_OVERWRITE };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"set", required_argument, NULL, 's'},
        {"sci", required_argument, NULL, O_SCI},   {"ref", required_argument, NULL, O_REF},
        {"diff", required_argument, NULL, O_DIFF}, {"detections", required_argument, NULL, O_DET},
        {"mask", required_argument, NULL, O_MASK}, {"exposure-id", required_argument, NULL, O_EXPID},
        {"output", required_argument, NULL, 'o'},  {"quiet", no_argument, NULL, 'q'},
        {"dump-config", no_argument, NULL, O_DUMP}, {"help", no_argument, NULL, 'h'},
        {"history", required_argument, NULL, O_HISTORY},
        {"overwrite", no_argument, NULL, O_OVERWRITE},
        {0, 0, 0, 0}};
    const char *config = NULL, *sci = NULL, *ref = NULL, *diff = NULL, *det = NULL;
    const char *mask = NULL, *expid = NULL, *output = NULL, *history = NULL;
    int dump = 0, nset = 0, overwrite = 0, c;
    run_log log = {0};
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    if (!sets)
        return cli_fail("run", "out of memory");
    char cmdline[512]; /* provenance: SVCMD */
    cli_command_line(argc, argv, cmdline, sizeof cmdline);
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 's': sets[nset++] = optarg; break;
        case O_SCI: sci = optarg; break;
        case O_REF: ref = optarg; break;
        case O_DIFF: diff = optarg; break;
        case O_DET: det = optarg; break;
        case O_MASK: mask = optarg; break;
        case O_EXPID: expid = optarg; break;
        case 'o': output = optarg; break;
        case 'q': log.quiet = 1; break;
        case O_DUMP: dump = 1; break;
        case O_HISTORY: history = optarg; break;
        case O_OVERWRITE: overwrite = 1; break;
        case 'h':
            fputs(run_usage, stdout);
            free(sets);
            return 0;
        default:
            fputs(run_usage, stderr);
            free(sets);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stampvet run: unexpected argument '%s'\n%s", argv[optind], run_usage);
        free(sets);
        return 2;
    }
    const dia_stage_descriptor *d = sv_stage_descriptor();
    if (!dump && (!sci || !ref || !diff || !det || !output)) {
        fprintf(stderr, "stampvet run: --sci, --ref, --diff, --detections and -o are required\n%s",
                run_usage);
        free(sets);
        return 2;
    }
    sv_kvlist kv = {0};
    sv_error err;
    sv_error_clear(&err);
    int rc = 0;
    if (config && sv_config_file_read(config, &kv, &err))
        rc = cli_fail("run", "%s", err.text);
    for (int i = 0; i < nset && !rc; i++)
        if (sv_kvlist_set_text(&kv, sets[i], "--set", &err))
            rc = cli_fail("run", "%s", err.text);
    if (history && !rc) { /* light-curve histories (lc_stage.h): lc_history = FILE */
        char *kvtext = malloc(strlen(history) + 16);
        if (!kvtext)
            rc = cli_fail("run", "out of memory");
        else {
            sprintf(kvtext, "lc_history=%s", history);
            if (sv_kvlist_set_text(&kv, kvtext, "--history", &err))
                rc = cli_fail("run", "%s", err.text);
            free(kvtext);
        }
    }
    free(sets);
    if (rc) {
        sv_kvlist_free(&kv);
        return 2;
    }
    if (dump) { /* the configuration this run would use: file, --set, options */
        char why[1024];
        if (dia_params_check(d->params, d->n_params, kv.kv, kv.n, why, sizeof why) != DIA_OK) {
            sv_kvlist_free(&kv);
            cli_fail("run", "%s", why);
            return 2;
        }
        dia_host_print_config(stdout, d, kv.kv, kv.n, config);
        sv_kvlist_free(&kv);
        return 0;
    }

    dia_host_services services = {sizeof services, &log, run_log_cb, &run_cancel};
    dia_instance *inst = NULL;
    char why[2048];
    if (sv_kvlist_set(&kv, "host_command", cmdline, "the command line", &err)) {
        sv_kvlist_free(&kv);
        return cli_fail("run", "%s", err.text);
    }
    if (d->create(kv.kv, kv.n, &services, &inst, why, sizeof why) != DIA_OK) {
        sv_kvlist_free(&kv);
        return cli_fail("run", "%s", why);
    }
    sv_kvlist_free(&kv);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    dia_file_job job = {sizeof job, sci, ref, diff, det, mask, output, expid, overwrite};
    dia_status st = d->process_files(inst, &job);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (st != DIA_OK)
        rc = cli_fail("run", "%s (%s)", d->last_error(inst), dia_status_name(st));
    d->destroy(inst);
    return rc;
}
