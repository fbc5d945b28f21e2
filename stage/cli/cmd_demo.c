/* cmd_demo.c — `stampvet demo`: the stage's main job, end to end, in memory.
 *
 * A simulated survey exposure (the survey simulator, sim_exposure.h) is
 * handed to the stage exactly as a pipeline hands one over: the stage is
 * opened through the DIA stage ABI, an instance is created, and the images
 * and the detection table go in as memory (dia_exposure, dia_table).  The
 * annotated table that comes back is summarised: scores per true class,
 * flags, the highest-scoring detections, and the time taken.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "dia_host.h"
#include "sim/sim_exposure.h"
#include "pipeline/stage.h"
#include "pipeline/stage_plugin.h"
#include "fits/stamps.h"
#include "data/det_table.h"

static const cli_opt demo_opts[] = {
    {"model", 'm', "FILE", "real/bogus model (default: ZTF's braai d6_m7, the installed\n"
                           "models/braai-d6_m7.fits, or $STAMPVET_MODELS/braai-d6_m7.fits)"},
    {"class-model", 'c', "FILE", "also classify with this class model"},
    {"survey", 'S', "NAME", "ztf (default) or ilmt; an ILMT exposure (0.33\"/pixel) is\n"
                            "resampled to the model's pixel scale"},
    {"size", 'z', "N", "image side in pixels [64, 65536] (1024)"},
    {"detections", 'n', "N", "injected detections [0, 10000000] (300)"},
    {"seed", 's', "S", "simulation seed (1)"},
    {"threads", 't', "N", "stage worker threads [1, 1024] (2)"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd demo_cmd = {
    "demo",
    "stampvet demo [--model RB.fits] [--class-model CLS.fits] [--survey ztf|ilmt]\n"
    "              [--size N] [--detections N] [--seed S] [--threads N] [-o FILE]",
    "Simulate one survey exposure (science, reference and difference images with\n"
    "a WCS, and its difference-image detections with their true classes), hand it\n"
    "to the stampvet stage in memory through the DIA stage ABI, and summarise the\n"
    "annotated detections it returns.",
    demo_opts, "write the summary to FILE instead of stdout", NULL};

typedef struct demo_args {
    const char *model, *cls_model, *survey;
    long size, threads, ndet;
    uint64_t seed;
} demo_args;

static int demo_option(void *user, int key, const char *arg)
{
    demo_args *a = user;
    switch (key) {
    case 'm': a->model = arg; return 0;
    case 'c': a->cls_model = arg; return 0;
    case 'S':
        if (strcmp(arg, "ztf") && strcmp(arg, "ilmt"))
            return cli_usage_error("demo", "--survey: '%s' is not ztf or ilmt", arg);
        a->survey = arg;
        return 0;
    case 'z': return cli_parse_long("demo", "size", arg, 64, 65536, &a->size);
    case 'n': return cli_parse_long("demo", "detections", arg, 0, 10000000, &a->ndet);
    case 's': return cli_parse_seed("demo", arg, &a->seed) ? CLI_USAGE : 0;
    case 't': return cli_parse_long("demo", "threads", arg, 1, 1024, &a->threads);
    }
    return CLI_USAGE;
}

static void demo_log(void *user, dia_log_level level, const char *msg)
{
    (void)user;
    if (level <= DIA_LOG_WARNING)
        fprintf(stderr, "  [stage %s] %s\n", level == DIA_LOG_ERROR ? "error" : "warning", msg);
}

int cmd_demo(int argc, char **argv)
{
    demo_args a = {NULL, NULL, "ztf", 1024, 2, 300, 1};
    cli_common com = {0};
    int first = 0, pst = cli_parse(&demo_cmd, argc, argv, &com, demo_option, &a, &first);
    if (pst < 0 && first < argc)
        pst = cli_usage_error("demo", "unexpected argument '%s'", argv[first]);
    if (pst >= 0)
        return pst;
    if (cli_redirect_stdout("demo", &com))
        return CLI_FAILED;
    const char *model = a.model, *cls_model = a.cls_model, *survey = a.survey;
    int size = (int)a.size, threads = (int)a.threads;
    long ndet = a.ndet;
    uint64_t seed = a.seed;
    char err[2048] = "";
    dia_host_stage *stage = NULL;
    dia_host_register_static("stampvet", sv_stage_descriptor);
    if (dia_host_open("stampvet", &stage, err, sizeof err) != DIA_OK)
        return cli_fail("demo", "%s", err);
    const dia_stage_descriptor *d = dia_host_descriptor(stage);
    printf("stage      : %s %s (DIA stage ABI %u.%u, %d parameters, from %s)\n", d->name,
           d->version, d->abi_major, d->abi_minor, d->n_params, dia_host_origin(stage));

    char where[1200];
    if (!model && sv_stage_default_model(where, sizeof where)) {
        printf("\nThe default real/bogus model, ZTF's braai d6_m7, is not installed (looked for\n"
               "%s; `make install` installs it, STAMPVET_MODELS names another folder).\n"
               "Give one with --model: `stampvet import-keras` imports ZTF's braai, and\n"
               "`stampvet simulate --stamps` + `stampvet train` make one from simulated "
               "stamps.\n",
               where);
        dia_host_close(stage);
        return 0;
    }

    /* 1. a simulated exposure */
    sv_sim_exposure_params p;
    sv_sim_exposure_params_default(&p);
    snprintf(p.cfg.survey, sizeof p.cfg.survey, "%s", survey);
    p.cfg.seed = seed;
    p.width = p.height = size;
    p.n_det = ndet;
    p.threads = threads;
    p.with_mask = 1;
    sv_error e;
    sv_error_clear(&e);
    sv_sim_exposure x;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (sv_sim_exposure_params_check(&p, &e) || sv_sim_exposure_make(&p, &x, &e)) {
        dia_host_close(stage);
        return cli_fail("demo", "simulation: %s", e.text);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("exposure   : simulated %s %s, %d x %d pixels at %.2f\"/pixel, %ld detections, "
           "seeing %.2f\" (%.1f s)\n",
           x.survey, x.band, x.w, x.h, x.pixscale, x.n_det, x.cond.seeing_sci,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));

    /* 2. the stage, created from key = value pairs as a host does */
    char th[16];
    snprintf(th, sizeof th, "%d", threads);
    dia_kv kv[5];
    int nkv = 0;
    kv[nkv++] = (dia_kv){"threads", th};
    if (model)
        kv[nkv++] = (dia_kv){"rb_model", model};
    if (cls_model)
        kv[nkv++] = (dia_kv){"class_model", cls_model};
    if (strcmp(survey, "ztf"))
        kv[nkv++] = (dia_kv){"resample", "true"};
    dia_host_services services = {sizeof services, NULL, demo_log, NULL, NULL};
    dia_instance *inst = NULL;
    if (d->create(kv, (size_t)nkv, &services, &inst, err, sizeof err) != DIA_OK) {
        sv_sim_exposure_free(&x);
        dia_host_close(stage);
        return cli_fail("demo", "%s", err);
    }

    /* 3. the exposure and its detections, in memory */
    size_t n = (size_t)x.n_det;
    char *hdr = malloc((size_t)(x.ncards + 1) * 80 + 1);
    int64_t *id = malloc((n ? n : 1) * sizeof *id);
    double *xp = malloc((n ? n : 1) * sizeof *xp), *yp = malloc((n ? n : 1) * sizeof *yp);
    float *mag = malloc((n ? n : 1) * sizeof *mag);
    char *truth = calloc(n ? n : 1, 16);
    int rc = 0;
    if (!hdr || !id || !xp || !yp || !mag || !truth) {
        rc = cli_fail("demo", "out of memory");
        goto done;
    }
    memcpy(hdr, x.header, (size_t)x.ncards * 80);
    snprintf(hdr + (size_t)x.ncards * 80, 81, "%-80s", "END");
    for (size_t i = 0; i < n; i++) {
        id[i] = x.det[i].candid;
        xp[i] = x.det[i].xpos;
        yp[i] = x.det[i].ypos;
        mag[i] = x.det[i].magpsf;
        snprintf(truth + 16 * i, 16, "%s", sv_sim_class_name(x.det[i].cls));
    }
    dia_column cols[5] = {
        {.name = "candid", .type = DIA_COL_INT64, .repeat = 1, .data = id},
        {.name = "xpos", .type = DIA_COL_FLOAT64, .repeat = 1, .unit = "pix", .data = xp},
        {.name = "ypos", .type = DIA_COL_FLOAT64, .repeat = 1, .unit = "pix", .data = yp},
        {.name = "magpsf", .type = DIA_COL_FLOAT32, .repeat = 1, .unit = "mag", .data = mag},
        {.name = "TRUECLS", .type = DIA_COL_STRING, .repeat = 16, .data = truth},
    };
    dia_table det = {.nrows = (int64_t)n, .ncols = 5, .cols = cols};
    dia_exposure ex = {.struct_size = sizeof ex, .exposure_id = "demo", .band = x.band,
                       .mjd = NAN, .survey = x.survey};
    ex.science = (dia_image){x.sci, x.w, x.h, 0, hdr, x.ncards + 1};
    ex.reference = (dia_image){x.ref, x.w, x.h, 0, hdr, x.ncards + 1};
    ex.difference = (dia_image){x.diff, x.w, x.h, 0, hdr, x.ncards + 1};
    uint32_t *mask = NULL;
    if (x.mask && (mask = malloc((size_t)x.w * x.h * sizeof *mask))) {
        for (size_t q = 0; q < (size_t)x.w * x.h; q++)
            mask[q] = x.mask[q];
        ex.mask = mask;
    }
    const dia_table *res = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dia_status st = d->process(inst, &ex, &det, &res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(mask);
    if (st != DIA_OK) {
        rc = cli_fail("demo", "process: %s: %s", dia_status_name(st), d->last_error(inst));
        goto done;
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    const char *rbname = "rb"; /* the preset's score column: the RBCOL card */
    for (int m = 0; m < res->nmeta; m++)
        if (!strcmp(res->meta[m].key, "RBCOL"))
            rbname = res->meta[m].value;
    for (int m = 0; m < res->nmeta; m++)
        if (!strcmp(res->meta[m].key, "RBMODEL"))
            printf("model      : %s", res->meta[m].value);
    for (int m = 0; m < res->nmeta; m++)
        if (!strcmp(res->meta[m].key, "RBMCKSUM"))
            printf(" (CHECKSUM %s)", res->meta[m].value);
    for (int m = 0; m < res->nmeta; m++)
        if (!strcmp(res->meta[m].key, "RSSTEP"))
            printf(", stamps resampled %.2f image pixels per stamp pixel",
                   strtod(res->meta[m].value, NULL));
    printf("\nresult     : %lld rows, %d columns, in %.2f s (%.0f detections/s, %d threads)\n\n",
           (long long)res->nrows, res->ncols, secs, res->nrows / (secs > 0 ? secs : 1), threads);

    const float *rb = sv_table_column(res, rbname)->data;
    const int32_t *fl = sv_table_column(res, "FLAGS")->data;
    const char *truecls = sv_table_column(res, "TRUECLS")->data;
    const dia_column *clscol = sv_table_column(res, "CLASS");
    /* per true class */
    printf("%-10s %6s %8s %9s %9s\n", "true class", "rows", "mean rb", "rb>=0.5", "flagged");
    for (int k = 0; k < SV_SIM_NCLASS; k++) {
        const char *name = sv_sim_class_name((sv_sim_class)k);
        long cnt = 0, sc = 0, hi = 0, fg = 0;
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            if (strncmp(truecls + 16 * i, name, 16))
                continue;
            cnt++;
            fg += fl[i] != 0;
            if (isfinite(rb[i])) {
                sc++;
                sum += rb[i];
                hi += rb[i] >= 0.5f;
            }
        }
        if (cnt)
            printf("%-10s %6ld %8.3f %8.1f%% %9ld\n", name, cnt, sc ? sum / sc : NAN,
                   sc ? 100.0 * hi / sc : 0.0, fg);
    }
    printf("\nflags      :");
    for (int b = 0; b < SV_N_FLAGS; b++) {
        long cnt = 0;
        for (size_t i = 0; i < n; i++)
            cnt += (fl[i] & (int32_t)sv_flag_docs[b].bit) != 0;
        printf(" %s %ld", sv_flag_docs[b].name, cnt);
    }
    printf("\n\nhighest scores:\n  %-12s %9s %9s %7s %8s %-10s %s\n", "candid", "xpos", "ypos",
           "magpsf", "rb", "truth", clscol ? "CLASS" : "");
    int shown[10];
    int ns = 0;
    for (; ns < 10 && ns < (int)n; ns++) {
        int best = -1;
        for (size_t i = 0; i < n; i++) {
            int used = 0;
            for (int k = 0; k < ns; k++)
                used |= shown[k] == (int)i;
            if (!used && isfinite(rb[i]) && (best < 0 || rb[i] > rb[best]))
                best = (int)i;
        }
        if (best < 0)
            break;
        shown[ns] = best;
        printf("  %-12lld %9.2f %9.2f %7.2f %8.4f %-10.16s %.*s\n", (long long)id[best],
               xp[best], yp[best], mag[best], rb[best], truecls + 16 * best,
               clscol ? clscol->repeat : 0,
               clscol ? (const char *)clscol->data + (size_t)best * clscol->repeat : "");
    }
done:
    free(hdr);
    free(id);
    free(xp);
    free(yp);
    free(mag);
    free(truth);
    d->destroy(inst);
    sv_sim_exposure_free(&x);
    dia_host_close(stage);
    return rc;
}
