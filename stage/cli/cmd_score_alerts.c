/* cmd_score_alerts.c — `stampvet score --alerts`: score survey alert
 * packets (Avro; alert_packet.h, alert_score.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "model/model_fits.h"
#include "fits/report_file.h"
#include "infer/score.h"
#ifdef HAVE_AVRO
#include "data/alert_sanitizer.h"
#include "pipeline/alert_score.h"
#endif

enum { A_MODEL = 256, A_ALERTS, A_SCHEMA, A_CUTOUTS, A_LCMODEL, A_BATCH, A_THREADS };

static const cli_opt alerts_opts[] = {
    {"model", A_MODEL, "FILE", "stampvet stamp model file; required"},
    {"alerts", A_ALERTS, "FILE", "Avro container files (codecs null, deflate, snappy);\n"
                                 "more files may follow as arguments"},
    {"schema", A_SCHEMA, "S.avsc", "the writer schema, for schemaless messages (Kafka's\n"
                                   "Avro binary, with or without the Confluent prefix),\n"
                                   "one message per file"},
    {"save-cutouts", A_CUTOUTS, "DIR", "also write each alert's cutouts as stored in the\n"
                                       "packet: DIR/<id>_{sci,ref,diff}.fits[.gz]"},
    {"lc-model", A_LCMODEL, "LC.fits", "also classify each alert's light curve: the\n"
                                       "packet's history (prv_candidates /\n"
                                       "prvDiaSources) plus the alert itself, up to its\n"
                                       "time: lc_p_<class>, lc_class, lc_flags (1 no\n"
                                       "history, 2 no detection)"},
    {"batch", A_BATCH, "N", "alerts per network call, in [1, 4096] (64)"},
    {"threads", A_THREADS, "N", "threads of each network call, in [1, 256] (1)"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd alerts_cmd = {
    "score",
    "stampvet score --model M.fits --alerts FILE.avro [FILE.avro ...]\n"
    "       [-o SCORES.csv|SCORES.fits] [--schema S.avsc] [--save-cutouts DIR]\n"
    "       [--lc-model LC.fits] [--batch N] [--threads N] [-q|-v]",
    "Score survey alert packets (Apache Avro) as brokers receive them: ZTF\n"
    "(schema 3.x: candidate, prv_candidates, gzipped-FITS cutouts) and LSST /\n"
    "Rubin (diaSource, prvDiaSources, FITS cutouts).  The science, template and\n"
    "difference cutouts of each alert are scored exactly as `score --sci --ref\n"
    "--diff` scores the same cutouts as files.  One row per alert, in input order:\n"
    "  ZTF:  candid, objectId, drb, drbversion, packet_drb, nprv, flags, ...\n"
    "  LSST: diaSourceId, diaObjectId, reliability, reliabilityVersion, ...\n"
    "(a class model gives p_<class> and class instead of drb / reliability).",
    alerts_opts,
    "write the table (CSV or FITS by the name, atomically;\n"
    "never one of the inputs); default: CSV on stdout",
    "An alert that cannot be decoded or lacks a cutout is a flagged row with its\n"
    "reason (flags, error) and a message on stderr naming the file and record\n"
    "(none with -q); the exit status is then 1.  A file that cannot be read at\n"
    "all is one flagged row.  Nothing is dropped."
#ifndef HAVE_AVRO
    "\n\nNOT AVAILABLE in this build: configure found no Avro C library\n"
    "(apt-get install -y libavro-dev, then configure --with-avro)."
#endif
};

typedef struct alerts_args {
    const char *model_path, *schema, *save_dir, *lc_path;
    long batch, threads;
    int n_files;
    char **files;
} alerts_args;

static int alerts_option(void *user, int key, const char *arg)
{
    alerts_args *a = user;
    switch (key) {
    case A_MODEL: a->model_path = arg; return 0;
    case A_ALERTS: a->files[a->n_files++] = (char *)arg; return 0;
    case A_SCHEMA: a->schema = arg; return 0;
    case A_CUTOUTS: a->save_dir = arg; return 0;
    case A_LCMODEL: a->lc_path = arg; return 0;
    case A_BATCH: return cli_parse_long("score", "batch", arg, 1, 4096, &a->batch);
    case A_THREADS: return cli_parse_long("score", "threads", arg, 1, 256, &a->threads);
    default: return CLI_USAGE;
    }
}

/* Parse the alerts form's command line into *a (a->files: argc + 1 slots).
 * Returns -1 to go on, else the exit status (0 after --help). */
static int alerts_parse(int argc, char **argv, alerts_args *a, cli_common *com)
{
    int first = 0;
    int st = cli_parse(&alerts_cmd, argc, argv, com, alerts_option, a, &first);
    if (st >= 0)
        return st;
    while (first < argc)
        a->files[a->n_files++] = argv[first++];
    if (!a->model_path || a->n_files == 0)
        return cli_usage_error("score", "--model and --alerts FILE are required");
    return -1;
}

#ifdef HAVE_AVRO

/* 1 when a and b are the same existing file. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Write the cutouts of alert a as stored, refusing to overwrite. */
static int save_cutouts(const char *cmd, const char *dir, const sv_alert_set *set,
                        const sv_alert *a)
{
    static const char *const tag[3] = {"sci", "ref", "diff"};
    char stem[128];
    if (a->has_id)
        snprintf(stem, sizeof stem, "%lld", (long long)a->id);
    else {
        const char *b = strrchr(set->source, '/');
        snprintf(stem, sizeof stem, "%.100s_r%ld", b ? b + 1 : set->source, a->record);
    }
    int bad = 0;
    for (int c = 0; c < 3; c++) {
        const sv_alert_cutout *cu = &a->cutout[c];
        if (!cu->bytes)
            continue;
        const unsigned char *p = cu->bytes;
        int gz = cu->n_bytes >= 2 && p[0] == 0x1f && p[1] == 0x8b;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s_%s.fits%s", dir, stem, tag[c], gz ? ".gz" : "");
        FILE *f = fopen(path, "wbx");
        if (!f) {
            cli_fail(cmd, "%s: cannot create (%s)", path,
                     errno == EEXIST ? "exists: not overwritten" : strerror(errno));
            bad = 1;
            continue;
        }
        size_t k = fwrite(cu->bytes, 1, cu->n_bytes, f);
        if (fclose(f) || k != cu->n_bytes) {
            cli_fail(cmd, "%s: write failed", path);
            remove(path);
            bad = 1;
        }
    }
    return bad;
}

int cmd_score_alerts(int argc, char **argv)
{
    const char *cmd = "score";
    alerts_args a = {0};
    a.batch = 64;
    a.threads = 1;
    cli_common com = {0};
    a.files = calloc((size_t)argc + 1, sizeof *a.files);
    if (!a.files)
        return cli_fail(cmd, "out of memory");
    int pst = alerts_parse(argc, argv, &a, &com);
    if (pst >= 0) {
        free(a.files);
        return pst;
    }
    const char *model_path = a.model_path, *out_path = com.output, *schema = a.schema;
    const char *save_dir = a.save_dir, *lc_path = a.lc_path;
    int batch = (int)a.batch, threads = (int)a.threads, n_files = a.n_files;
    char **files = a.files;
    if (out_path && !sv_report_kind(out_path)) {
        cli_usage_error(cmd, "-o %s: the name must end in .csv or .fits", out_path);
        goto usage;
    }
    for (int i = 0; out_path && i < n_files; i++)
        if (same_file(out_path, files[i]) || strcmp(out_path, files[i]) == 0) {
            cli_usage_error(cmd, "-o %s is one of the inputs: not overwritten", out_path);
            goto usage;
        }

    sv_error err;
    sv_error_clear(&err);
    sv_model *m = NULL;
    sv_scorer *sc = NULL;
    sv_alert_reader *rd = NULL;
    sv_lc_stage *lc = NULL;
    sv_alert_table tab;
    memset(&tab, 0, sizeof tab);
    int status = 1, flagged = 0;
    if (sv_model_read_fits(model_path, &m, &err)) {
        cli_fail(cmd, "%s", err.text);
        goto done;
    }
    if (m->task == SV_TASK_LIGHTCURVE) {
        cli_fail(cmd, "%s is a light-curve model: --alerts scores stamp models", model_path);
        goto done;
    }
    if (!(sc = sv_scorer_new_threads(m, batch, threads, &err))) {
        cli_fail(cmd, "%s: %s", model_path, err.text);
        goto done;
    }
    if (sv_alert_reader_new(schema, &rd, &err)) {
        cli_fail(cmd, "%s", err.text);
        goto done;
    }
    if (lc_path && sv_lc_stage_new(lc_path, "", "objectId", batch, &lc, &err)) {
        cli_fail(cmd, "%s", err.text);
        goto done;
    }
    sv_alert_table_init(&tab, m);
    sv_alert_table_set_lc(&tab, lc);
    for (int i = 0; i < n_files; i++) {
        sv_alert_set set;
        long first = tab.n;
        int st = sv_alert_read_file(rd, files[i], &set, &err);
        if (st == SV_ERR_NOMEM || (!st && sv_alert_table_add_set(&tab, sc, &set, &err))) {
            cli_fail(cmd, "%s", err.text);
            sv_alert_set_free(&set);
            goto done;
        }
        if (st && sv_alert_table_add_failure(&tab, files[i], err.text, &err)) {
            cli_fail(cmd, "%s", err.text);
            sv_alert_set_free(&set);
            goto done;
        }
        for (long k = 0; save_dir && !st && k < set.n; k++)
            flagged |= save_cutouts(cmd, save_dir, &set, &set.alerts[k]);
        sv_alert_set_free(&set);
        for (long k = first; k < tab.n; k++)
            if (tab.rows[k].flags) {
                if (!com.quiet)
                    fprintf(stderr, "stampvet score: %s\n",
                            tab.rows[k].error[0] ? tab.rows[k].error : "flagged alert");
                flagged = 1;
            }
    }
    if (out_path ? sv_alert_table_write(&tab, out_path, &err)
                 : sv_alert_table_print_csv(&tab, stdout, &err)) {
        cli_fail(cmd, "%s", err.text);
        goto done;
    }
    if (fflush(stdout) != 0) {
        cli_fail(cmd, "cannot write the scores: %s", strerror(errno));
        goto done;
    }
    status = flagged ? 1 : 0;
done:
    sv_alert_table_free(&tab);
    sv_lc_stage_free(lc);
    sv_alert_reader_free(rd);
    sv_scorer_free(sc);
    sv_model_free(m);
    free(files);
    return status;
usage:
    free(files);
    return 2;
}

#else

int cmd_score_alerts(int argc, char **argv)
{
    alerts_args a = {0};
    cli_common com = {0};
    a.files = calloc((size_t)argc + 1, sizeof *a.files);
    if (!a.files)
        return cli_fail("score", "out of memory");
    int pst = alerts_parse(argc, argv, &a, &com);
    free(a.files);
    if (pst >= 0)
        return pst;
    cli_fail("score", "--alerts: this stampvet was built without Avro (install libavro-dev "
             "and configure --with-avro)");
    return 2;
}

#endif
