/* stage_test_util.h — helpers shared by the stage tests (header only,
 * static functions): small real models built through the engine API, and
 * simulated exposures (Gaussian sources on noise with a TAN WCS) in memory
 * and as FITS files.  Every helper returns 0 on success and prints what
 * failed to stderr otherwise. */
#ifndef SV_STAGE_TEST_UTIL_H
#define SV_STAGE_TEST_UTIL_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>

#include "model/model.h"
#include "model/model_fits.h"
#include "nn/nn.h"
#include "nn/nn_engine.h"
#include "model/preprocess.h"

/* ---- models ----------------------------------------------------------- */

/* A small real CNN on S x S x 3 stamps: conv 3x3 (4 filters, ReLU) ->
 * max-pool 4 -> flatten -> dense (1 sigmoid for realbogus, ncls softmax for
 * class), Glorot weights from `seed`, braai-like preprocessing with `norm`,
 * pixel scale `pixscale`; written to path.  features: NULL or a list of
 * nfeat names for a second (feature) input concatenated after flatten. */
static int st_write_model(const char *path, int S, sv_task task, int ncls,
                          const char *const *class_names, double pixscale, sv_norm norm,
                          uint64_t seed, int nfeat, const char *const *features)
{
    sv_error err;
    sv_error_clear(&err);
    nn_net *net = nn_net_new();
    nn_layer L = nn_layer_defaults(NN_INPUT, "stamp");
    L.rank = 3;
    L.shape[0] = S;
    L.shape[1] = S;
    L.shape[2] = 3;
    int in = nn_net_add(net, &L, &err), fin = -1;
    if (nfeat > 0) {
        L = nn_layer_defaults(NN_INPUT, "feats");
        L.rank = 1;
        L.shape[0] = nfeat;
        fin = nn_net_add(net, &L, &err);
    }
    L = nn_layer_defaults(NN_CONV2D, "conv");
    L.filters = 4;
    L.kh = L.kw = 3;
    L.act = NN_ACT_RELU;
    L.n_in = 1;
    L.in[0] = in;
    int c = nn_net_add(net, &L, &err);
    L = nn_layer_defaults(NN_MAXPOOL2D, "pool");
    L.kh = L.kw = S >= 12 ? 4 : 1;
    L.n_in = 1;
    L.in[0] = c;
    int p = nn_net_add(net, &L, &err);
    L = nn_layer_defaults(NN_FLATTEN, "flat");
    L.n_in = 1;
    L.in[0] = p;
    int f = nn_net_add(net, &L, &err);
    if (nfeat > 0) {
        L = nn_layer_defaults(NN_CONCAT, "cat");
        L.n_in = 2;
        L.in[0] = f;
        L.in[1] = fin;
        f = nn_net_add(net, &L, &err);
    }
    L = nn_layer_defaults(NN_DENSE, "out");
    L.units = task == SV_TASK_REALBOGUS ? 1 : ncls;
    L.act = task == SV_TASK_REALBOGUS ? NN_ACT_SIGMOID : NN_ACT_SOFTMAX;
    L.n_in = 1;
    L.in[0] = f;
    if (in < 0 || c < 0 || p < 0 || f < 0 || nn_net_add(net, &L, &err) < 0 ||
        nn_net_finalize(net, &err)) {
        fprintf(stderr, "st_write_model: %s\n", err.text);
        nn_net_free(net);
        return -1;
    }
    nn_net_init_weights(net, seed);
    /* a non-zero bias so that scores are not all near 0.5 */
    nn_param *b = nn_net_param(net, "out", "bias");
    for (size_t i = 0; b && i < b->size; i++)
        b->w[i] = 0.1f * (float)(i + 1);
    sv_model *m = sv_model_new(net);
    m->task = task;
    snprintf(m->name, sizeof m->name, "test-%s-%d", sv_task_name(task), S);
    snprintf(m->version, sizeof m->version, "1");
    m->n_classes = task == SV_TASK_REALBOGUS ? 1 : ncls;
    for (int k = 0; k < m->n_classes; k++)
        snprintf(m->classes[k], SV_LABEL_MAX, "%s",
                 task == SV_TASK_REALBOGUS ? "real" : class_names[k]);
    m->pre = sv_preproc_braai(norm);
    m->pre.out_h = m->pre.out_w = m->pre.stamp_size = S;
    m->pre.pixel_scale = pixscale;
    m->n_features = nfeat;
    for (int k = 0; k < nfeat; k++)
        snprintf(m->features[k], SV_LABEL_MAX, "%s", features[k]);
    int st = sv_model_write_fits(m, path, &err);
    if (st)
        fprintf(stderr, "st_write_model: %s\n", err.text);
    sv_model_free(m);
    return st;
}

/* ---- exposures -------------------------------------------------------- */

typedef struct st_exposure {
    int W, H;
    float *img[3];          /* sci, ref, diff */
    char header[80 * 24 + 1];
    int ncards;
} st_exposure;

static uint64_t st_rng = 88172645463325252ULL;
static double st_uniform(void)
{
    st_rng ^= st_rng << 13;
    st_rng ^= st_rng >> 7;
    st_rng ^= st_rng << 17;
    return (double)(st_rng >> 11) * (1.0 / 9007199254740992.0);
}
static double st_gauss(void)
{
    double u = st_uniform(), v = st_uniform();
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static void st_card(st_exposure *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void st_card(st_exposure *x, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    snprintf(x->header + 80 * x->ncards, 81, "%-80.80s", buf);
    x->ncards++;
}

/* TAN WCS header text for a W x H image at `scale` arcsec/pixel around
 * (ra0, dec0), reference pixel at the centre. */
static void st_wcs_header(st_exposure *x, double scale, double ra0, double dec0)
{
    x->ncards = 0;
    st_card(x, "SIMPLE  =                    T");
    st_card(x, "BITPIX  =                  -32");
    st_card(x, "NAXIS   =                    2");
    st_card(x, "NAXIS1  = %20d", x->W);
    st_card(x, "NAXIS2  = %20d", x->H);
    st_card(x, "CTYPE1  = 'RA---TAN'");
    st_card(x, "CTYPE2  = 'DEC--TAN'");
    st_card(x, "CRPIX1  = %20.6f", x->W / 2.0 + 0.5);
    st_card(x, "CRPIX2  = %20.6f", x->H / 2.0 + 0.5);
    st_card(x, "CRVAL1  = %20.10f", ra0);
    st_card(x, "CRVAL2  = %20.10f", dec0);
    st_card(x, "CD1_1   = %20.12e", -scale / 3600.0);
    st_card(x, "CD1_2   = %20.12e", 0.0);
    st_card(x, "CD2_1   = %20.12e", 0.0);
    st_card(x, "CD2_2   = %20.12e", scale / 3600.0);
    st_card(x, "END");
    x->header[80 * x->ncards] = '\0';
}

/* W x H exposure: sky 100 + noise (sigma 3) in sci and ref; n sources at
 * (xs, ys) (0-based) of Gaussian FWHM 2.5 px, flux f: in sci with flux
 * f, in ref with flux f * ref_frac[i]; diff = sci - ref. */
static int st_exposure_make(st_exposure *x, int W, int H, uint64_t seed, int n,
                            const double *xs, const double *ys, const double *flux,
                            const double *ref_frac, double scale)
{
    memset(x, 0, sizeof *x);
    x->W = W;
    x->H = H;
    st_rng = seed ? seed : 1;
    for (int c = 0; c < 3; c++)
        if (!(x->img[c] = calloc((size_t)W * H, sizeof(float))))
            return -1;
    for (size_t p = 0; p < (size_t)W * H; p++) {
        x->img[0][p] = (float)(100 + 3 * st_gauss());
        x->img[1][p] = (float)(100 + 2 * st_gauss());
    }
    double sig = 2.5 / 2.3548;
    for (int i = 0; i < n; i++) {
        int x0 = (int)floor(xs[i]) - 8, y0 = (int)floor(ys[i]) - 8;
        for (int y = y0; y < y0 + 18; y++)
            for (int xx = x0; xx < x0 + 18; xx++) {
                if (xx < 0 || y < 0 || xx >= W || y >= H)
                    continue;
                double r2 = (xx - xs[i]) * (xx - xs[i]) + (y - ys[i]) * (y - ys[i]);
                double g = exp(-r2 / (2 * sig * sig)) / (2 * M_PI * sig * sig);
                x->img[0][(size_t)y * W + xx] += (float)(flux[i] * g);
                x->img[1][(size_t)y * W + xx] += (float)(flux[i] * (ref_frac ? ref_frac[i] : 0) * g);
            }
    }
    for (size_t p = 0; p < (size_t)W * H; p++)
        x->img[2][p] = x->img[0][p] - x->img[1][p];
    st_wcs_header(x, scale, 150.0, 2.0);
    return 0;
}

static void st_exposure_free(st_exposure *x)
{
    for (int c = 0; c < 3; c++)
        free(x->img[c]);
    memset(x, 0, sizeof *x);
}

/* Write image c of x to path (overwriting), with the WCS cards when wcs. */
static int st_write_image(const char *path, const float *data, int W, int H,
                          const st_exposure *x, int wcs)
{
    fitsfile *fp;
    int status = 0;
    char name[4200];
    snprintf(name, sizeof name, "!%s", path);
    long naxes[2] = {W, H};
    fits_create_file(&fp, name, &status);
    fits_create_img(fp, FLOAT_IMG, 2, naxes, &status);
    if (wcs && x)
        for (int k = 5; k < x->ncards - 1; k++) {
            char card[81];
            memcpy(card, x->header + 80 * k, 80);
            card[80] = '\0';
            fits_write_record(fp, card, &status);
        }
    fits_write_img(fp, TFLOAT, 1, (LONGLONG)W * H, (void *)data, &status);
    fits_close_file(fp, &status);
    if (status) {
        char t[FLEN_STATUS];
        fits_get_errstatus(status, t);
        fprintf(stderr, "st_write_image %s: %s\n", path, t);
    }
    return status;
}

/* A detection table: n rows, columns given by name, TFORM and double
 * values (ncol arrays of n), written as a BINTABLE to path. */
static int st_write_table(const char *path, int n, int ncol, const char *const *names,
                          const char *const *forms, const char *const *units,
                          const double *const *vals)
{
    fitsfile *fp;
    int status = 0;
    char name[4200];
    snprintf(name, sizeof name, "!%s", path);
    fits_create_file(&fp, name, &status);
    fits_create_img(fp, BYTE_IMG, 0, NULL, &status);
    fits_create_tbl(fp, BINARY_TBL, 0, ncol, (char **)names, (char **)forms, (char **)units,
                    "CANDS", &status);
    for (int c = 0; c < ncol && !status; c++) {
        if (forms[c][strlen(forms[c]) - 1] == 'A') {
            char **s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
            char (*buf)[32] = malloc((size_t)(n > 0 ? n : 1) * 32);
            for (int i = 0; i < n; i++) {
                snprintf(buf[i], 32, "s%.0f", vals[c][i]);
                s[i] = buf[i];
            }
            fits_write_col(fp, TSTRING, c + 1, 1, 1, n, s, &status);
            free(s);
            free(buf);
        } else if (!strcmp(forms[c], "1K")) {
            long long *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
            for (int i = 0; i < n; i++)
                v[i] = (long long)vals[c][i];
            fits_write_col(fp, TLONGLONG, c + 1, 1, 1, n, v, &status);
            free(v);
        } else {
            fits_write_col(fp, TDOUBLE, c + 1, 1, 1, n, (void *)vals[c], &status);
        }
    }
    fits_close_file(fp, &status);
    if (status) {
        char t[FLEN_STATUS];
        fits_get_errstatus(status, t);
        fprintf(stderr, "st_write_table %s: %s\n", path, t);
    }
    return status;
}

#endif
