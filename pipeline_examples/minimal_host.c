/* minimal_host.c — the smallest pipeline host of a DIA stage.
 *
 * usage: minimal_host STAGE.so [key=value ...]
 *
 * Loads a stage module through dia_host_open (dlopen, ABI check), prints its
 * descriptor and parameter table, creates an instance with the key=value
 * configuration given on the command line, hands it one exposure and
 * prints what comes back.  The exposure is made here in memory: a 64x64
 * science/reference/difference triplet with one point source, a TAN WCS in
 * the header text, and a one-row detection table, so the example depends on
 * nothing but the ABI.  Exit status 0 when the stage loaded and annotated
 * the exposure, 1 otherwise (with the stage's error text on stderr).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dia_host.h"

static void host_log(void *user, dia_log_level level, const char *msg)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "[%s] %s: %s\n", (const char *)user, names[level], msg);
}

#define N 64

static void add_card(char *hdr, int *ncards, const char *text)
{
    snprintf(hdr + 80 * *ncards, 81, "%-80s", text);
    (*ncards)++;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s STAGE.so [key=value ...]\n", argv[0]);
        return 1;
    }
    char err[1024];
    dia_host_stage *stage = NULL;
    if (dia_host_open(argv[1], &stage, err, sizeof err) != DIA_OK) {
        fprintf(stderr, "minimal_host: %s\n", err);
        return 1;
    }
    const dia_stage_descriptor *d = dia_host_descriptor(stage);
    printf("loaded %s %s, ABI %u.%u\n%s\n\nparameters:\n", d->name, d->version,
           d->abi_major, d->abi_minor, d->description);
    dia_host_print_params(stdout, d, 0);

    int nkv = argc - 2;
    dia_kv *kv = calloc(nkv > 0 ? nkv : 1, sizeof *kv);
    char **copies = calloc(nkv > 0 ? nkv : 1, sizeof *copies);
    for (int i = 0; i < nkv; i++) {
        copies[i] = strdup(argv[i + 2]);
        char *eq = strchr(copies[i], '=');
        if (!eq) {
            fprintf(stderr, "minimal_host: '%s' is not key=value\n", argv[i + 2]);
            return 1;
        }
        *eq = '\0';
        kv[i].key = copies[i];
        kv[i].value = eq + 1;
    }
    dia_host_services services = {sizeof services, (void *)"minimal_host", host_log, NULL, NULL};
    dia_instance *inst = NULL;
    int rc = 1;
    if (d->create(kv, (size_t)nkv, &services, &inst, err, sizeof err) != DIA_OK) {
        fprintf(stderr, "minimal_host: create: %s\n", err);
        goto done;
    }

    /* one exposure in memory */
    static float sci[N * N], ref[N * N], diff[N * N];
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) {
            double r2 = (x - 31.0) * (x - 31.0) + (y - 31.0) * (y - 31.0);
            float star = (float)(1000.0 * exp(-r2 / (2 * 1.5 * 1.5)));
            ref[y * N + x] = 100.0f;
            sci[y * N + x] = 100.0f + star;
            diff[y * N + x] = star;
        }
    char header[80 * 16 + 1];
    int ncards = 0;
    add_card(header, &ncards, "SIMPLE  =                    T");
    add_card(header, &ncards, "BITPIX  =                  -32");
    add_card(header, &ncards, "NAXIS   =                    2");
    add_card(header, &ncards, "NAXIS1  =                   64");
    add_card(header, &ncards, "NAXIS2  =                   64");
    add_card(header, &ncards, "CTYPE1  = 'RA---TAN'");
    add_card(header, &ncards, "CTYPE2  = 'DEC--TAN'");
    add_card(header, &ncards, "CRPIX1  =                 32.5");
    add_card(header, &ncards, "CRPIX2  =                 32.5");
    add_card(header, &ncards, "CRVAL1  =                150.0");
    add_card(header, &ncards, "CRVAL2  =                  2.0");
    add_card(header, &ncards, "CD1_1   =         -0.000280556");
    add_card(header, &ncards, "CD2_2   =          0.000280556");
    add_card(header, &ncards, "END");
    dia_image im = {sci, N, N, 0, header, ncards};
    dia_exposure x = {.struct_size = sizeof x, .exposure_id = "minimal-1", .band = "r",
                      .mjd = 60000.5, .survey = "ZTF", .science = im, .reference = im,
                      .difference = im};
    x.reference.data = ref;
    x.difference.data = diff;
    int64_t id = 1;
    double xpos = 32.0, ypos = 32.0; /* 1-based FITS pixel of the source */
    dia_column cols[3] = {
        {.name = "candid", .type = DIA_COL_INT64, .repeat = 1, .data = &id},
        {.name = "xpos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = &xpos},
        {.name = "ypos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = &ypos},
    };
    dia_table det = {.nrows = 1, .ncols = 3, .cols = cols};
    const dia_table *res = NULL;
    dia_status st = d->process(inst, &x, &det, &res);
    if (st == DIA_OK) {
        printf("\nresult: %lld rows, %d columns\n", (long long)res->nrows, res->ncols);
        for (int c = 0; c < res->ncols; c++) {
            const dia_column *col = &res->cols[c];
            printf("  %-16s ", col->name);
            if (col->type == DIA_COL_FLOAT32 && col->repeat == 1)
                printf("%.6g", ((const float *)col->data)[0]);
            else if (col->type == DIA_COL_FLOAT64 && col->repeat == 1)
                printf("%.6g", ((const double *)col->data)[0]);
            else if (col->type == DIA_COL_INT64 && col->repeat == 1)
                printf("%lld", (long long)((const int64_t *)col->data)[0]);
            else if (col->type == DIA_COL_INT32 && col->repeat == 1)
                printf("%d", ((const int32_t *)col->data)[0]);
            else if (col->type == DIA_COL_STRING)
                printf("%.*s", col->repeat, (const char *)col->data);
            else
                printf("(%d values)", col->repeat);
            printf("\n");
        }
        for (int m = 0; m < res->nmeta; m++)
            printf("  meta %s = %s\n", res->meta[m].key, res->meta[m].value);
        rc = 0;
    } else {
        fprintf(stderr, "minimal_host: process: %s: %s\n", dia_status_name(st),
                d->last_error(inst));
        rc = 1;
    }
    d->destroy(inst);
done:
    for (int i = 0; i < nkv; i++)
        free(copies[i]);
    free(copies);
    free(kv);
    dia_host_close(stage);
    return rc;
}
