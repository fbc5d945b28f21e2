/* cmd_score_alerts.c — `stampvet score --alerts`: score survey alert
 * packets (Avro; alert_packet.h, alert_score.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "model/model_fits.h"
#include "fits/report_file.h"
#include "infer/score.h"
#ifdef HAVE_AVRO
#include "data/alert_sanitizer.h"
#include "pipeline/alert_score.h"
#endif

static const char alerts_usage[] =
    "usage: stampvet score --model M.fits --alerts FILE.avro [FILE.avro ...]\n"
    "                      [-o SCORES.csv|SCORES.fits] [--schema S.avsc]\n"
    "                      [--save-cutouts DIR] [--lc-model LC.fits]\n"
    "                      [--batch N] [--threads N]\n"
    "\n"
    "Score survey alert packets (Apache Avro) as brokers receive them: ZTF\n"
    "(schema 3.x: candidate, prv_candidates, gzipped-FITS cutouts) and LSST /\n"
    "Rubin (diaSource, prvDiaSources, FITS cutouts).  The science, template and\n"
    "difference cutouts of each alert are scored exactly as `score --sci --ref\n"
    "--diff` scores the same cutouts as files.  One row per alert, in input order:\n"
    "  ZTF:  candid, objectId, drb, drbversion, packet_drb, nprv, flags, ...\n"
    "  LSST: diaSourceId, diaObjectId, reliability, reliabilityVersion, ...\n"
    "(a class model gives p_<class> and class instead of drb / reliability).\n"
    "\n"
    "  --alerts FILE ...     Avro container files (codecs null, deflate, snappy);\n"
    "                        more files may follow as arguments\n"
    "  -o FILE               write the table (CSV or FITS by the name, atomically);\n"
    "                        default: CSV on standard output\n"
    "  --schema S.avsc       the writer schema, for schemaless messages (Kafka's\n"
    "                        Avro binary, with or without the Confluent prefix),\n"
    "                        one message per file\n"
    "  --save-cutouts DIR    also write each alert's cutouts as stored in the\n"
    "                        packet: DIR/<id>_{sci,ref,diff}.fits[.gz]\n"
    "  --lc-model LC.fits    also classify each alert's light curve: the packet's\n"
    "                        history (prv_candidates / prvDiaSources) plus the\n"
    "                        alert itself, up to its time: lc_p_<class>,\n"
    "                        lc_class, lc_flags (1 no history, 2 no detection)\n"
    "  --batch N             alerts per network call (64)\n"
    "  --threads N           threads of each network call (1)\n"
    "\n"
    "An alert that cannot be decoded or lacks a cutout is a flagged row with its\n"
    "reason (flags, error) and a message on stderr naming the file and record;\n"
    "the exit status is then 1.  A file that cannot be read at all is one flagged\n"
    "row.  Nothing is dropped.\n";

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

static int parse_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) {
        cli_fail(cmd, "%s '%s': %d..%d", opt, s, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cmd_score_alerts(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"alerts", required_argument, NULL, 'a'},
        {"schema", required_argument, NULL, 'S'},
        {"save-cutouts", required_argument, NULL, 'C'},
        {"lc-model", required_argument, NULL, 'L'},
        {"batch", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "score";
    const char *model_path = NULL, *out_path = NULL, *schema = NULL, *save_dir = NULL;
    const char *lc_path = NULL;
    int batch = 64, threads = 1, c, n_files = 0;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files)
        return cli_fail(cmd, "out of memory");
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'a': files[n_files++] = optarg; break;
        case 'o': out_path = optarg; break;
        case 'S': schema = optarg; break;
        case 'C': save_dir = optarg; break;
        case 'L': lc_path = optarg; break;
        case 'b':
            if (parse_int(cmd, "--batch", optarg, 1, 4096, &batch))
                goto usage;
            break;
        case 't':
            if (parse_int(cmd, "--threads", optarg, 1, 256, &threads))
                goto usage;
            break;
        case 'h':
            fputs(alerts_usage, stdout);
            free(files);
            return 0;
        default:
            cli_fail(cmd, "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
            goto usage;
        }
    }
    while (optind < argc)
        files[n_files++] = argv[optind++];
    if (!model_path || n_files == 0) {
        cli_fail(cmd, "--model and --alerts FILE are required (see --help)");
        goto usage;
    }
    if (out_path && !sv_report_kind(out_path)) {
        cli_fail(cmd, "-o %s: the name must end in .csv or .fits", out_path);
        goto usage;
    }
    for (int i = 0; out_path && i < n_files; i++)
        if (same_file(out_path, files[i]) || strcmp(out_path, files[i]) == 0) {
            cli_fail(cmd, "-o %s is one of the inputs: not overwritten", out_path);
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
                fprintf(stderr, "stampvet score: %s\n", tab.rows[k].error[0]
                        ? tab.rows[k].error : "flagged alert");
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
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(alerts_usage, stdout);
            puts("\nNOT AVAILABLE in this build: configure found no Avro C library "
                 "(apt-get install -y libavro-dev, then configure --with-avro).");
            return 0;
        }
    cli_fail("score", "--alerts: this stampvet was built without Avro (install libavro-dev "
             "and configure --with-avro)");
    return 2;
}

#endif
