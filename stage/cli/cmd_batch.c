/* cmd_batch.c — `stampvet batch`: a night of exposures through a DIA stage.
 *
 * The work is in stage/batch/batch.c (engine), stage/batch/manifest.c (the list),
 * stage/batch/batch_summary.c (the table) and stage/batch/batch_progress.c (progress);
 * this file parses options, installs the signal handlers (SIGINT/SIGTERM set
 * a flag, SIGXFSZ is ignored so that a full file-size limit becomes a write
 * error), with --mpi initialises MPI, and sets OpenBLAS to one thread per
 * process: the workers (and the stage's own `threads`) are the parallelism,
 * BLAS threads would only compete with them, and results then do not depend
 * on how many cores a process sees (mpirun binds each rank to a core; a
 * different BLAS thread count changes the summation order and the last bits
 * of the scores).  All three are process-wide choices made by the program,
 * never by the library.
 */
#include "config.h"
#include "nn/nn_engine.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_MPI
#include <mpi.h>
#endif

#include "batch/batch.h"
#include "batch/batch_progress.h"
#include "batch/batch_summary.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "dia_host.h"
#include "batch/manifest.h"
#include "pipeline/stage_config_file.h"
#include "pipeline/stage_plugin.h"

/* ---- signals ------------------------------------------------------------- */

/* sig_atomic_t is int on every platform this builds on; the stage's cancel
 * flag is a const volatile int *, read by the workers with atomic loads
 * (dia_stage.h), so it is written with an atomic store (lock-free: safe in
 * a signal handler). */
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "sig_atomic_t must be an int");
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    if (__atomic_load_n(&stop_signal, __ATOMIC_RELAXED)) { /* a second signal: stop now
                                                               (outputs are atomic) */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    __atomic_store_n(&stop_signal, sig, __ATOMIC_RELAXED);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

/* ---- logging -------------------------------------------------------------- */

typedef struct log_ctx {
    sv_progress *progress;
    int verbosity; /* highest dia_log_level shown: 0 errors ... 3 debug */
    int rank;
} log_ctx;

static void cli_log(void *user, dia_log_level level, const char *message)
{
    log_ctx *c = user;
    if ((int)level > c->verbosity)
        return;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char text[2300];
    if (c->rank >= 0)
        snprintf(text, sizeof text, "rank %d: %s: %s", c->rank, names[level], message);
    else
        snprintf(text, sizeof text, "%s: %s", names[level], message);
    if (c->progress)
        sv_progress_message(c->progress, text);
    else
        fprintf(stderr, "%s\n", text);
}

/* ---- merge ------------------------------------------------------------------ */

static int merge_summaries(const char *out, int n, char **in)
{
    sv_summary s = {0};
    sv_error err;
    sv_error_clear(&err);
    for (int i = 0; i < n; i++)
        if (sv_summary_read_append(&s, in[i], &err)) {
            sv_summary_clear(&s);
            return cli_fail("batch", "%s", err.text);
        }
    /* an exposure twice (overlapping shards, a rerun listed with its first
     * run): keep the rows, but say so */
    for (size_t i = 0; i < s.n; i++)
        for (size_t k = i + 1; k < s.n && s.n <= 100000; k++)
            if (strcmp(s.rows[i].output, s.rows[k].output) == 0 &&
                strcmp(s.rows[i].exposure, s.rows[k].exposure) == 0) {
                fprintf(stderr, "stampvet batch: warning: %s appears more than once\n",
                        s.rows[i].exposure);
                break;
            }
    if (sv_summary_write(&s, out, &err)) {
        sv_summary_clear(&s);
        return cli_fail("batch", "%s", err.text);
    }
    sv_summary_totals t = sv_summary_get_totals(&s);
    printf("merged %d summaries into %s: %zu exposures: %zu ok, %zu failed, %zu skipped, "
           "%zu cancelled; %lld detections\n",
           n, out, t.rows, t.ok, t.failed, t.skipped, t.cancelled, (long long)t.detections);
    sv_summary_clear(&s);
    return t.failed || t.cancelled || t.other ? 1 : 0;
}

/* ---- the command -------------------------------------------------------------- */

enum { O_CONFIG = 1000, O_SET, O_THREADS, O_FORCE, O_SUMMARY, O_SHARD, O_MPI, O_STAGE,
       O_MERGE, O_PROGRESS, O_HASHCARD };

static const cli_opt batch_opts[] = {
    {"config", O_CONFIG, "FILE", "stage configuration, `key = value` lines, '#' comments"},
    {"set", O_SET, "KEY=VALUE", "one parameter (after --config; repeatable)"},
    {"threads", O_THREADS, "N", "worker threads [1, 1024] (default 1); each stage instance\n"
                                "gets threads=1 unless the configuration sets it"},
    {"force", O_FORCE, NULL, "redo exposures whose output is complete"},
    {"summary", O_SUMMARY, "FILE", "the same as -o"},
    {"shard", O_SHARD, "I/N", "only exposures whose 0-based manifest index i has\n"
                              "i % N == I-1 (for job arrays: I = 1..N)"},
    {"mpi", O_MPI, NULL, "spread the exposures over the MPI ranks (mpirun); rank 0\n"
                         "hands them out as ranks free up and writes the summary"
#ifndef HAVE_MPI
                         "\n(not in this build: configure --with-mpi)"
#endif
    },
    {"stage", O_STAGE, "WHERE", "the DIA stage: a registered name (default stampvet) or\n"
                                "the path of a stage module (.so)"},
    {"hash-card", O_HASHCARD, "NAME", "header card with the stage's configuration hash\n"
                                      "(default SVCFGHSH)"},
    {"progress", O_PROGRESS, "MODE", "bar (live, for a terminal), lines (timestamped), none;\n"
                                     "auto (default): bar when stderr is a terminal"},
    {"merge-summaries", O_MERGE, "OUT", "concatenate the SUMMARY files (of shards) into OUT"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd batch_cmd = {
    "batch",
    "stampvet batch MANIFEST [--config FILE] [--set KEY=VALUE]...\n"
    "               [--threads N] [--force] [-o SUMMARY]\n"
    "               [--shard I/N] [--mpi] [--stage NAME|PATH]\n"
    "               [--progress auto|bar|lines|none] [-q|-v]\n"
    "stampvet batch --merge-summaries OUT SUMMARY...",
    "Run every exposure of MANIFEST through the stage (process_files), on N\n"
    "worker threads, each with its own stage instance.  A failed exposure is\n"
    "reported and the others go on.  An output that is already complete (FITS\n"
    "checksums verify) with the same provenance (configuration hash card\n"
    "SVCFGHSH, model checksums) is skipped, so a rerun finishes what an\n"
    "interrupted night left; --force redoes everything.  SIGINT or SIGTERM\n"
    "stops between exposures (the stage writes atomically: no partial file)\n"
    "and the summary so far is written.\n"
    "\n"
    "MANIFEST: one exposure per line `SCI REF DIFF DETECTIONS [MASK] OUTPUT\n"
    "[key=value ...]`, '#' comments; or CSV (header science,reference,\n"
    "difference,detections,mask,output,id,<overrides>); or a FITS table with\n"
    "those columns.  Relative paths are relative to the manifest's folder.\n"
    "key=value overrides are stage parameters for that exposure (preset=,\n"
    "rb_model=, ...); id= names the exposure.\n"
    "\n"
    "-q: only errors from the stage and the engine (default: warnings too);\n"
    "-v: also info and debug messages.",
    batch_opts,
    "summary table, FITS if FILE ends in .fits, else CSV\n"
    "(default: MANIFEST without extension + .summary.csv,\n"
    ".summary.I-of-N.csv with --shard)",
    "The summary has one row per exposure: exposure, status, detections,\n"
    "n_real (rows with REAL true), n_flagged (rows with FLAGS != 0),\n"
    "median_score (median real/bogus score), read from each output table (empty\n"
    "when unknown), seconds, error, output, rank.\n"
    "Exit status 128+N when stopped by signal N; exit status 1 also when some\n"
    "exposures failed."};

typedef struct batch_args {
    sv_kvlist cfg; /* for whichever stage --stage names, which checks it */
    const char *summary, *stage, *merge, *progress, *hash_card;
    long threads;
    int force, use_mpi, shard_i, shard_n;
} batch_args;

static int batch_option(void *user, int key, const char *arg)
{
    batch_args *a = user;
    sv_error err;
    sv_error_clear(&err);
    switch (key) {
    case O_CONFIG:
        if (sv_config_file_read(arg, &a->cfg, &err))
            return cli_usage_error("batch", "%s", err.text);
        return 0;
    case O_SET: {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg)
            return cli_usage_error("batch", "--set %s: expected KEY=VALUE", arg);
        if (sv_kvlist_set_text(&a->cfg, arg, "--set", &err))
            return cli_usage_error("batch", "%s", err.text);
        return 0;
    }
    case O_THREADS: return cli_parse_long("batch", "threads", arg, 1, 1024, &a->threads);
    case O_FORCE: a->force = 1; return 0;
    case O_SUMMARY: a->summary = arg; return 0;
    case O_SHARD:
        if (sscanf(arg, "%d/%d", &a->shard_i, &a->shard_n) != 2 || a->shard_n < 1 ||
            a->shard_i < 1 || a->shard_i > a->shard_n)
            return cli_usage_error("batch", "--shard %s: expected I/N with 1 <= I <= N", arg);
        return 0;
    case O_MPI: a->use_mpi = 1; return 0;
    case O_STAGE: a->stage = arg; return 0;
    case O_MERGE: a->merge = arg; return 0;
    case O_PROGRESS:
        if (strcmp(arg, "auto") && strcmp(arg, "bar") && strcmp(arg, "lines") &&
            strcmp(arg, "none"))
            return cli_usage_error("batch", "--progress %s: expected auto, bar, lines or none",
                                   arg);
        a->progress = arg;
        return 0;
    case O_HASHCARD: a->hash_card = arg; return 0;
    }
    return CLI_USAGE;
}

static char *default_summary(const char *manifest, int shard_i, int shard_n)
{
    size_t n = strlen(manifest);
    const char *slash = strrchr(manifest, '/');
    const char *dot = strrchr(manifest, '.');
    size_t stem = dot && (!slash || dot > slash) && dot != manifest ? (size_t)(dot - manifest)
                                                                   : n;
    char *r = malloc(stem + 64);
    if (!r)
        return NULL;
    memcpy(r, manifest, stem);
    if (shard_n > 1)
        snprintf(r + stem, 64, ".summary.%d-of-%d.csv", shard_i, shard_n);
    else
        snprintf(r + stem, 64, ".summary.csv");
    return r;
}

int cmd_batch(int argc, char **argv)
{
    batch_args a = {.cfg = {.unchecked = 1}, .stage = "stampvet", .progress = "auto",
                    .threads = 1, .shard_i = 1, .shard_n = 1};
    cli_common com = {0};
    char cmdline[512]; /* provenance: SVCMD of every output (before getopt permutes argv) */
    cli_command_line(argc, argv, cmdline, sizeof cmdline);
    int optind = 0, rc = cli_parse(&batch_cmd, argc, argv, &com, batch_option, &a, &optind);
    if (rc >= 0) {
        sv_kvlist_free(&a.cfg);
        return rc;
    }
    rc = 0;
    sv_kvlist cfg = a.cfg;
    sv_error err;
    sv_error_clear(&err);
    const char *summary = com.output ? com.output : a.summary, *stage = a.stage;
    const char *merge = a.merge, *progress = a.progress, *hash_card = a.hash_card;
    int threads = (int)a.threads, force = a.force, use_mpi = a.use_mpi;
    int shard_i = a.shard_i, shard_n = a.shard_n;
    int verbosity = com.quiet ? DIA_LOG_ERROR : com.verbose ? DIA_LOG_DEBUG : DIA_LOG_WARNING;
    if (merge) {
        sv_kvlist_free(&cfg);
        if (optind >= argc) {
            cli_fail("batch", "--merge-summaries OUT needs at least one summary to merge");
            return 2;
        }
        return merge_summaries(merge, argc - optind, argv + optind);
    }
    if (optind != argc - 1) {
        sv_kvlist_free(&cfg);
        return optind < argc ? cli_usage_error("batch", "one MANIFEST, not %d", argc - optind)
                             : cli_usage_error("batch", "no MANIFEST given");
    }
    const char *manifest_path = argv[optind];
#ifndef HAVE_MPI
    if (use_mpi) {
        sv_kvlist_free(&cfg);
        cli_fail("batch", "--mpi: this stampvet was built without MPI (configure --with-mpi)");
        return 2;
    }
#endif
    int rank = 0;
#ifdef HAVE_MPI
    if (use_mpi) {
        int provided = 0;
        if (MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
            sv_kvlist_free(&cfg);
            return cli_fail("batch", "--mpi: MPI_Init_thread failed");
        }
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    }
#endif
    install_signals();
    nn_blas_single_thread();
    dia_host_register_static("stampvet", sv_stage_descriptor);

    sv_manifest *m = NULL;
    sv_batch *b = NULL;
    sv_progress *prog = NULL;
    char *summary_alloc = NULL;
    int live = strcmp(progress, "bar") == 0 ||
               (strcmp(progress, "auto") == 0 && isatty(STDERR_FILENO));
    if (rank == 0 && strcmp(progress, "none") != 0)
        prog = sv_progress_new(stderr, live);
    log_ctx lc = {.progress = prog, .verbosity = verbosity, .rank = use_mpi ? rank : -1};

    int setup = sv_manifest_read(manifest_path, &m, &err);
    if (!setup) {
        sv_batch_options o = {
            .stage = stage,
            .config = cfg.kv,
            .n_config = cfg.n,
            .workers = threads,
            .force = force,
            .hash_card = hash_card,
            .host_command = cmdline,
            .cancel = (const volatile int *)&stop_signal,
            .progress = prog ? sv_progress_update : NULL,
            .progress_user = prog,
            .log = cli_log,
            .log_user = &lc,
        };
        setup = sv_batch_open(m, &o, &b, &err);
        if (!setup)
            setup = sv_batch_select_shard(b, shard_i, shard_n, &err);
    }
    int setup_failed = setup != 0, any_failed = setup_failed;
#ifdef HAVE_MPI
    if (use_mpi) /* a rank that cannot start stops them all, before any work */
        MPI_Allreduce(&setup_failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
#endif
    if (setup_failed) {
        rc = cli_fail("batch", "%s", err.text);
        goto out;
    }
    if (any_failed) {
        rc = 1; /* another rank said why */
        goto out;
    }
    if (!summary)
        summary = summary_alloc = default_summary(manifest_path, shard_i, shard_n);

#ifdef HAVE_MPI
    if (use_mpi)
        rc = sv_batch_run_mpi(b, MPI_COMM_WORLD, &err);
    else
#endif
        rc = sv_batch_run(b, &err);
    if (prog)
        sv_progress_finish(prog);
    if (rc) {
        rc = cli_fail("batch", "%s", err.text);
        /* still write what is known */
    }
    if (rank == 0) {
        sv_batch_tally t = sv_batch_get_tally(b);
        for (size_t i = 0; i < sv_batch_count(b); i++) {
            const sv_batch_result *r = sv_batch_get(b, i);
            if (sv_batch_selected(b, i) && r->status == SV_BATCH_FAILED)
                fprintf(stderr, "stampvet batch: %s failed: %s\n", sv_batch_entry(b, i)->id,
                        r->error);
        }
        sv_error serr;
        sv_error_clear(&serr);
        int sris = summary_alloc || summary ? sv_batch_write_summary(b, summary, &serr) : 0;
        printf("batch: %zu exposures: %zu ok, %zu failed, %zu skipped, %zu cancelled; "
               "%lld detections in %.2f s (%.0f detections/s)\n",
               t.total, t.ok, t.failed, t.skipped, t.cancelled, (long long)t.detections,
               t.elapsed, t.elapsed > 0 ? (double)t.detections / t.elapsed : 0.0);
        if (sris) {
            cli_fail("batch", "%s", serr.text);
            rc = 1;
        } else {
            printf("summary: %s\n", summary);
        }
        fflush(stdout);
        if (t.failed)
            rc = 1;
    }
    if (stop_signal)
        rc = 128 + stop_signal;
out:
    sv_batch_close(b);
    sv_manifest_free(m);
    sv_progress_free(prog);
    free(summary_alloc);
    sv_kvlist_free(&cfg);
#ifdef HAVE_MPI
    if (use_mpi)
        MPI_Finalize();
#endif
    return rc;
}
