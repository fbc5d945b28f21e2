/* cmd_run.c — `stampvet run`: one exposure from FITS files, through the
 * stage's ABI (the same calls a pipeline makes), to an annotated FITS
 * table.  The configuration is a key = value file (stage_config_file.h)
 * plus --set overrides. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch/batch_progress.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "data/det_table.h"
#include "dia_host.h"
#include "model/model_fits.h"
#include "pipeline/stage.h"
#include "pipeline/stage_config_file.h"
#include "pipeline/stage_plugin.h"

/* save_stamps above this many bytes of stamps gets a warning in the log */
#define RUN_STAMP_WARN_BYTES (200.0 * 1000 * 1000)

enum { O_SCI = 256, O_REF, O_DIFF, O_DET, O_MASK, O_EXPID, O_DUMP, O_HISTORY, O_OVERWRITE };

static const cli_opt run_opts[] = {
    {"config", 'c', "FILE", "key = value configuration ('#' comments); unknown keys\n"
                            "are errors naming FILE:LINE"},
    {"set", 's', "KEY=VALUE", "set a parameter (after the file; may be repeated)"},
    {"sci", O_SCI, "FILE", "science image (FITS, .fz, .gz; cfitsio extended syntax)"},
    {"ref", O_REF, "FILE", "reference (template) image on the same pixel grid"},
    {"diff", O_DIFF, "FILE", "difference image"},
    {"detections", O_DET, "FILE", "detection table (FITS binary table)"},
    {"mask", O_MASK, "FILE", "optional mask image (non-zero bits in mask_bits = bad)"},
    {"exposure-id", O_EXPID, "ID", "recorded in the output header (EXPID)"},
    {"history", O_HISTORY, "FILE", "light-curve table of the detections' histories (with\n"
                                   "--set lc_model=MODEL.fits: light-curve class columns)"},
    {"overwrite", O_OVERWRITE, NULL, "replace OUT.fits if it exists (without: refused)"},
    {"dump-config", O_DUMP, NULL, "print the effective configuration (--config FILE, then\n"
                                  "--set and --history, over the defaults) as a\n"
                                  "configuration file, every parameter with its help, and\n"
                                  "exit"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd run_cmd = {
    "run",
    "stampvet run [--config FILE] --sci SCI.fits --ref REF.fits --diff DIFF.fits\n"
    "             --detections DET.fits [--mask MASK.fits] [--set key=value ...]\n"
    "             [--exposure-id ID] [--overwrite] [-q|-v] -o OUT.fits\n"
    "stampvet run [--config FILE] [--set key=value ...] --dump-config",
    "Cut a science/reference/difference stamp triplet around every detection of\n"
    "one exposure, score it with the real/bogus model (and the class model, if\n"
    "configured) and write the detections annotated, one row per input row, in\n"
    "input order, to OUT.fits (written atomically).  The stage's summary lines go\n"
    "to stdout (none with -q), its warnings and errors to stderr, and with -v\n"
    "its debug messages too.  Progress goes to stderr: a bar redrawn in place\n"
    "when stderr is a terminal and the exposure takes more than one chunk of\n"
    "detections, timestamped lines with -v otherwise (at most one a second),\n"
    "none with -q.",
    run_opts,
    "the annotated table to write; never one of the inputs\n"
    "(same path or same file through links: refused)",
    NULL};

typedef struct run_args {
    const char *config, *sci, *ref, *diff, *det, *mask, *expid, *history;
    int dump, overwrite, nset;
    char **sets;
} run_args;

static int run_option(void *user, int key, const char *arg)
{
    run_args *a = user;
    switch (key) {
    case 'c': a->config = arg; break;
    case 's': a->sets[a->nset++] = (char *)arg; break;
    case O_SCI: a->sci = arg; break;
    case O_REF: a->ref = arg; break;
    case O_DIFF: a->diff = arg; break;
    case O_DET: a->det = arg; break;
    case O_MASK: a->mask = arg; break;
    case O_EXPID: a->expid = arg; break;
    case O_DUMP: a->dump = 1; break;
    case O_HISTORY: a->history = arg; break;
    case O_OVERWRITE: a->overwrite = 1; break;
    default: return CLI_USAGE;
    }
    return 0;
}

static volatile int run_cancel = 0;

static void on_signal(int sig)
{
    (void)sig;
    __atomic_store_n(&run_cancel, 1, __ATOMIC_RELAXED); /* read atomically (dia_stage.h) */
}

typedef struct run_log {
    int quiet, verbose;
    sv_progress *progress; /* stderr, or NULL (run_progress_cb) */
} run_log;

/* The stage's messages: errors and warnings on stderr, information on
 * stdout unless -q, debug on stderr with -v; the progress bar erased
 * first. */
static void run_log_cb(void *user, dia_log_level level, const char *msg)
{
    const run_log *l = user;
    if (l->progress)
        sv_progress_clear(l->progress);
    if (level <= DIA_LOG_WARNING)
        fprintf(stderr, "stampvet run: %s: %s\n", level == DIA_LOG_ERROR ? "error" : "warning",
                msg);
    else if (level == DIA_LOG_INFO && !l->quiet)
        printf("%s\n", msg);
    else if (level == DIA_LOG_DEBUG && l->verbose)
        fprintf(stderr, "stampvet run: %s\n", msg);
}

/* The stage's progress (dia_host_services.progress): the batch command's
 * bar (batch_progress.h) on stderr. */
static void run_progress_cb(void *user, int64_t done, int64_t total)
{
    const run_log *l = user;
    if (l->progress)
        sv_progress_rows(l->progress, done, total);
}

/* save_stamps = columns | extension: the stamp bytes the output will hold,
 * rows x 3 x S x S x 4 (float32 SCI, REF, DIFF; S = stamp_size, else the
 * real/bogus model's STAMPCUT), logged as a warning through the stage's
 * log when above RUN_STAMP_WARN_BYTES.  Nothing when the estimate cannot
 * be made (the stage reports unreadable inputs itself). */
static void run_warn_stamp_bytes(const sv_kvlist *kv, const char *det, const char *output,
                                 run_log *log)
{
    const char *save = sv_kvlist_get(kv, "save_stamps");
    if (!save || (strcmp(save, "columns") && strcmp(save, "extension")))
        return;
    const char *ss = sv_kvlist_get(kv, "stamp_size");
    long side = ss ? strtol(ss, NULL, 10) : 0;
    if (side <= 0) {
        const char *model = sv_kvlist_get(kv, "rb_model");
        char path[4096];
        if ((!model || !*model) && !sv_stage_default_model(path, sizeof path))
            model = path;
        sv_model *m = NULL;
        if (model && *model && !sv_model_read_fits(model, &m, NULL))
            side = m->pre.stamp_size;
        sv_model_free(m);
    }
    sv_det_file *f = NULL;
    if (side <= 0 || sv_det_file_open(det, &f, NULL))
        return;
    int64_t rows = sv_det_file_nrows(f);
    sv_det_file_close(f);
    double bytes = (double)rows * 3.0 * (double)side * (double)side * 4.0;
    if (bytes <= RUN_STAMP_WARN_BYTES)
        return;
    char msg[1024];
    snprintf(msg, sizeof msg,
             "save_stamps = %s: %s gets about %.0f MB of stamps (%lld detections x 3 x %ld x "
             "%ld x 4 bytes); save_stamps = none leaves them out, compress_stamps = true "
             "shrinks them",
             save, output, bytes / 1e6, (long long)rows, side, side);
    run_log_cb(log, DIA_LOG_WARNING, msg);
}

int cmd_run(int argc, char **argv)
{
    run_args a = {0};
    cli_common com = {0};
    int first = 0;
    a.sets = calloc((size_t)argc + 1, sizeof *a.sets);
    if (!a.sets)
        return cli_fail("run", "out of memory");
    char cmdline[512]; /* provenance: SVCMD */
    cli_command_line(argc, argv, cmdline, sizeof cmdline);
    int pst = cli_parse(&run_cmd, argc, argv, &com, run_option, &a, &first);
    if (pst < 0 && first < argc)
        pst = cli_usage_error("run", "unexpected argument '%s'", argv[first]);
    if (pst < 0 && !a.dump && (!a.sci || !a.ref || !a.diff || !a.det || !com.output))
        pst = cli_usage_error("run", "--sci, --ref, --diff, --detections and -o are required");
    if (pst >= 0) {
        free(a.sets);
        return pst;
    }
    const char *config = a.config, *output = com.output, *history = a.history;
    char **sets = a.sets;
    int nset = a.nset, dump = a.dump;
    run_log log = {com.quiet, com.verbose, NULL};
    const dia_stage_descriptor *d = sv_stage_descriptor();
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

    /* progress on stderr: a live bar on a terminal, timestamped lines with
     * -v otherwise; none with -q */
    int tty = isatty(STDERR_FILENO);
    if (!com.quiet && (tty || com.verbose))
        log.progress = sv_progress_new(stderr, tty);
    dia_host_services services = {sizeof services, &log, run_log_cb, &run_cancel,
                                  run_progress_cb};
    dia_instance *inst = NULL;
    char why[2048];
    run_warn_stamp_bytes(&kv, a.det, output, &log);
    if (sv_kvlist_set(&kv, "host_command", cmdline, "the command line", &err)) {
        sv_kvlist_free(&kv);
        return cli_fail("run", "%s", err.text);
    }
    if (d->create(kv.kv, kv.n, &services, &inst, why, sizeof why) != DIA_OK) {
        sv_kvlist_free(&kv);
        sv_progress_free(log.progress);
        return cli_fail("run", "%s", why);
    }
    sv_kvlist_free(&kv);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    dia_file_job job = {sizeof job, a.sci, a.ref, a.diff, a.det, a.mask, output, a.expid,
                        a.overwrite};
    dia_status st = d->process_files(inst, &job);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (log.progress)
        sv_progress_clear(log.progress);
    if (st != DIA_OK)
        rc = cli_fail("run", "%s (%s)", d->last_error(inst), dia_status_name(st));
    d->destroy(inst);
    sv_progress_free(log.progress);
    return rc;
}
