/* alert_bench.c — alert packets per second, packet to row, one thread, and
 * where the time goes: decoding (Avro, gunzip, FITS: alert_packet.h),
 * preprocessing (sv_scorer_prepare) and the network (sv_scorer_infer).
 *
 *   bench/alert_bench MODEL.fits [--batch N] [--repeat R] PACKET.avro ...
 *
 * The packets are read into memory first (no disk in the figures), then
 * each repeat runs them all: (1) end to end, bytes to table rows
 * (sv_alert_read_buffer + sv_alert_table_add_set), (2) the same phases
 * timed apart, with the cutouts' share of decoding (gunzip with zlib,
 * FITS with cfitsio, as alert_packet.c does) timed again on their own, (3) decoding again with a new reader for each packet, so
 * that every packet's writer schema is parsed anew (one reader parses each
 * distinct schema once: alert_packet.h).  Prints medians over the repeats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "pipeline/alert_score.h"
#include "model/model_fits.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct packet {
    unsigned char *b;
    size_t n;
    const char *name;
} packet;

/* Inflate the gzip data at in into *buf (grown as needed); its size, or 0. */
static size_t gunzip_into(const void *in, size_t n, unsigned char **buf, size_t *cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return 0;
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    size_t used = 0;
    int st = Z_OK;
    while (st == Z_OK) {
        if (used == *cap) {
            unsigned char *nb = realloc(*buf, *cap = *cap * 2 + 65536);
            if (!nb)
                break;
            *buf = nb;
        }
        z.next_out = *buf + used;
        z.avail_out = (uInt)(*cap - used);
        st = inflate(&z, Z_NO_FLUSH);
        used = *cap - z.avail_out;
    }
    inflateEnd(&z);
    return st == Z_STREAM_END ? used : 0;
}

static int load(const char *path, packet *p)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    p->b = malloc((size_t)n);
    p->n = p->b ? fread(p->b, 1, (size_t)n, f) : 0;
    p->name = path;
    fclose(f);
    return p->b && p->n == (size_t)n ? 0 : -1;
}

int main(int argc, char **argv)
{
    int batch = 64, repeat = 5, np = 0;
    const char *model_path = NULL;
    packet *pk = calloc((size_t)argc, sizeof *pk);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!model_path)
            model_path = argv[i];
        else if (load(argv[i], &pk[np++])) {
            fprintf(stderr, "alert_bench: cannot read %s\n", argv[i]);
            return 1;
        }
    }
    if (!model_path || np == 0 || batch < 1 || repeat < 1 || repeat > 1000) {
        fprintf(stderr, "usage: alert_bench MODEL.fits [--batch N] [--repeat R] PACKET.avro ...\n");
        return 2;
    }
    sv_error err;
    sv_error_clear(&err);
    sv_model *m = NULL;
    sv_scorer *sc = NULL;
    sv_alert_reader *rd = NULL;
    if (sv_model_read_fits(model_path, &m, &err) || !(sc = sv_scorer_new(m, batch, &err)) ||
        sv_alert_reader_new(NULL, &rd, &err)) {
        fprintf(stderr, "alert_bench: %s\n", err.text);
        return 1;
    }
    sv_alert_set *sets = calloc((size_t)np, sizeof *sets);
    double *t_e2e = calloc((size_t)repeat, sizeof(double)), *t_dec = calloc((size_t)repeat, sizeof(double));
    double *t_pre = calloc((size_t)repeat, sizeof(double)), *t_net = calloc((size_t)repeat, sizeof(double));
    double *t_fresh = calloc((size_t)repeat, sizeof(double));
    double *t_gz = calloc((size_t)repeat, sizeof(double)), *t_fits = calloc((size_t)repeat, sizeof(double));
    unsigned char *plain = NULL;
    size_t plain_cap = 0;
    float *out = malloc((size_t)batch * (size_t)sv_scorer_n_outputs(sc) * sizeof *out);
    float *scratch = malloc(256 * 256 * sizeof *scratch);
    long n_alerts = 0, bytes = 0;
    for (int i = 0; i < np; i++)
        bytes += (long)pk[i].n;
    for (int r = 0; r < repeat; r++) {
        /* (1) end to end: bytes to rows */
        sv_alert_table tab;
        sv_alert_table_init(&tab, m);
        double t0 = now();
        for (int i = 0; i < np; i++) {
            sv_alert_set set;
            if (sv_alert_read_buffer(rd, pk[i].b, pk[i].n, pk[i].name, &set, &err) ||
                sv_alert_table_add_set(&tab, sc, &set, &err)) {
                fprintf(stderr, "alert_bench: %s\n", err.text);
                return 1;
            }
            sv_alert_set_free(&set);
        }
        t_e2e[r] = now() - t0;
        n_alerts = tab.n;
        sv_alert_table_free(&tab);
        /* (2) the phases apart: decode all, prepare and infer per batch */
        t0 = now();
        for (int i = 0; i < np; i++)
            if (sv_alert_read_buffer(rd, pk[i].b, pk[i].n, pk[i].name, &sets[i], &err)) {
                fprintf(stderr, "alert_bench: %s\n", err.text);
                return 1;
            }
        t_dec[r] = now() - t0;
        double pre = 0, net = 0;
        int slot = 0;
        for (int i = 0; i <= np; i++) {
            for (long k = 0; i < np && k < sets[i].n; k++) {
                const sv_alert *a = &sets[i].alerts[k];
                if (a->flags || a->cutout[0].h * a->cutout[0].w > 256 * 256)
                    continue;
                sv_triplet t = {{a->cutout[0].pix, a->cutout[1].pix, a->cutout[2].pix},
                                a->cutout[0].h, a->cutout[0].w};
                double t1 = now();
                sv_scorer_prepare(sc, slot++, &t, NULL, scratch, NULL);
                pre += now() - t1;
                if (slot == batch) {
                    t1 = now();
                    sv_scorer_infer(sc, slot, out, &err);
                    net += now() - t1;
                    slot = 0;
                }
            }
            if (i == np && slot > 0) {
                double t1 = now();
                sv_scorer_infer(sc, slot, out, &err);
                net += now() - t1;
            }
        }
        t_pre[r] = pre;
        t_net[r] = net;
        /* the cutouts alone: gunzip, then FITS */
        double gz = 0, fi = 0;
        for (int i = 0; i < np; i++)
            for (long k = 0; k < sets[i].n; k++)
                for (int c = 0; c < 3; c++) {
                    const sv_alert_cutout *cu = &sets[i].alerts[k].cutout[c];
                    const unsigned char *b = cu->bytes;
                    size_t n = cu->n_bytes;
                    if (!b)
                        continue;
                    double t1 = now();
                    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
                        n = gunzip_into(b, n, &plain, &plain_cap);
                        b = plain;
                    }
                    double t2 = now();
                    float *pix;
                    char *hdr;
                    int h, w, nc;
                    if (n && !sv_stamp_read_memory(b, n, "cutout", &pix, &h, &w, &hdr, &nc, &err)) {
                        free(pix);
                        free(hdr);
                    }
                    fi += now() - t2;
                    gz += t2 - t1;
                }
        t_gz[r] = gz;
        t_fits[r] = fi;
        for (int i = 0; i < np; i++)
            sv_alert_set_free(&sets[i]);
        /* (3) decode, a new reader (no parsed schema) per packet */
        t0 = now();
        for (int i = 0; i < np; i++) {
            sv_alert_reader *fresh;
            sv_alert_set set;
            if (sv_alert_reader_new(NULL, &fresh, &err) ||
                sv_alert_read_buffer(fresh, pk[i].b, pk[i].n, pk[i].name, &set, &err)) {
                fprintf(stderr, "alert_bench: %s\n", err.text);
                return 1;
            }
            sv_alert_set_free(&set);
            sv_alert_reader_free(fresh);
        }
        t_fresh[r] = now() - t0;
    }
    double e2e = median(t_e2e, repeat), dec = median(t_dec, repeat);
    double pre = median(t_pre, repeat), net = median(t_net, repeat);
    double sum = dec + pre + net;
    printf("alert packets: %d files, %ld alerts, %.1f MB; model %s; batch %d; ISA %s; "
           "1 thread; median of %d repeats\n", np, n_alerts, bytes / 1e6, m->name, batch,
           sv_scorer_isa(sc), repeat);
    printf("packet to row (end to end): %.1f alerts/s (%.3f ms per alert)\n", n_alerts / e2e,
           1e3 * e2e / n_alerts);
    printf("  decode (Avro + gunzip + FITS): %7.3f ms/alert  %5.1f%%\n", 1e3 * dec / n_alerts,
           100 * dec / sum);
    double gz = median(t_gz, repeat), fi = median(t_fits, repeat);
    printf("    of which cutouts: gunzip %.3f ms/alert, FITS (cfitsio) %.3f ms/alert; "
           "Avro and the rest %.3f ms/alert\n", 1e3 * gz / n_alerts, 1e3 * fi / n_alerts,
           1e3 * (dec - gz - fi) / n_alerts);
    printf("  preprocess (normalise, pad):   %7.3f ms/alert  %5.1f%%\n", 1e3 * pre / n_alerts,
           100 * pre / sum);
    printf("  network:                       %7.3f ms/alert  %5.1f%%\n", 1e3 * net / n_alerts,
           100 * net / sum);
    printf("(decode + preprocess) / network = %.2f  (goal: < 1)\n", (dec + pre) / net);
    double fresh = median(t_fresh, repeat);
    printf("decode with a new reader per packet (every schema parsed): %.3f ms/alert, "
           "%.2f x the decode above\n", 1e3 * fresh / n_alerts, fresh / dec);
    sv_alert_reader_free(rd);
    sv_scorer_free(sc);
    sv_model_free(m);
    for (int i = 0; i < np; i++)
        free(pk[i].b);
    free(pk);
    free(sets);
    free(t_e2e);
    free(t_dec);
    free(t_pre);
    free(t_net);
    free(t_fresh);
    free(t_gz);
    free(t_fits);
    free(plain);
    free(out);
    free(scratch);
    return 0;
}
