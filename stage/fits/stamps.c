/* stamps.c — see stamps.h. */
#include "fits/stamps.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const sv_flag_doc sv_flag_docs[SV_N_FLAGS] = {
    {SV_FLAG_EDGE, "EDGE", "stamp reaches beyond the image; padded"},
    {SV_FLAG_BADFRAC, "BADFRAC", "bad-pixel fraction above nan_frac_max"},
    {SV_FLAG_MASKED, "MASKED", "the detection's own pixel is masked"},
    {SV_FLAG_OFF_IMAGE, "OFFIMAGE", "detection outside the image; not scored"},
    {SV_FLAG_BADCOORD, "BADCOORD", "NaN/inf or unplaceable position; not scored"},
    {SV_FLAG_FAILED, "FAILED", "non-finite network output; not scored"},
    {SV_FLAG_BADCENTRE, "BADCENTRE", "detection's own pixel NaN/inf in an image"},
    {SV_FLAG_BADSIGN, "BADSIGN", "sign unreadable; scored as positive"},
};

const char *sv_kernel_name(sv_kernel k)
{
    return k == SV_KERNEL_BILINEAR ? "bilinear" : "lanczos3";
}

int sv_kernel_from_name(const char *name, sv_kernel *k)
{
    if (name && !strcmp(name, "lanczos3")) {
        *k = SV_KERNEL_LANCZOS3;
        return SV_OK;
    }
    if (name && !strcmp(name, "bilinear")) {
        *k = SV_KERNEL_BILINEAR;
        return SV_OK;
    }
    return SV_ERR_ARG;
}

enum { BAD_NAN = 1, BAD_MASK = 2, BAD_OUT = 4 };

static int masked(const sv_frames *f, long x, long y)
{
    return f->mask && (f->mask[y * (f->mask_stride ? f->mask_stride : f->width) + x] &
                       f->mask_bits) != 0;
}

int sv_stamp_on_image(const sv_frames *f, double x, double y)
{
    double fx = floor(x + 0.5), fy = floor(y + 0.5);
    return fx >= 0 && fx < f->width && fy >= 0 && fy < f->height;
}

static void fill_off(int S, float *const out[3], uint8_t *bad, sv_cut_info *info)
{
    size_t n = (size_t)S * (size_t)S;
    for (int c = 0; c < 3; c++)
        for (size_t p = 0; p < n; p++)
            out[c][p] = NAN;
    if (bad)
        memset(bad, BAD_OUT, n);
    info->flags |= SV_FLAG_OFF_IMAGE;
    info->i0 = info->i1 = info->j0 = info->j1 = 0;
    info->n_in = 0;
    info->n_bad = 0;
    info->bad_frac = NAN;
}

/* MASKED and BADCENTRE of the detection's own pixel (cx, cy), in the image */
static uint32_t centre_flags(const sv_frames *f, long cx, long cy)
{
    uint32_t fl = masked(f, cx, cy) ? SV_FLAG_MASKED : 0;
    for (int c = 0; c < 3; c++)
        if (!isfinite(f->img[c][cy * f->stride[c] + cx]))
            fl |= SV_FLAG_BADCENTRE;
    return fl;
}

static void finish_info(const sv_frames *f, int S, double nan_frac_max, sv_cut_info *info)
{
    info->n_in = (info->i1 - info->i0) * (info->j1 - info->j0);
    if (info->i0 > 0 || info->j0 > 0 || info->i1 < S || info->j1 < S)
        info->flags |= SV_FLAG_EDGE;
    info->bad_frac = info->n_in > 0 ? (float)((double)info->n_bad / (3.0 * info->n_in)) : NAN;
    if (info->n_in > 0 && info->bad_frac > nan_frac_max)
        info->flags |= SV_FLAG_BADFRAC;
    (void)f;
}

/* 1 for a NaN or infinite float (exponent all ones), without a branch */
static inline int nonfinite(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}

typedef int32_t st_v4i __attribute__((vector_size(16)));

/* a[i], b[i], c[i] = src[0..2][i] for i < n; returns the number of NaN or
 * infinite values among them (the three channels counted separately). */
static int copy3_count(const float *const src[3], float *a, float *b, float *c, int n)
{
    const st_v4i expo = {0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000};
    st_v4i acc = {0, 0, 0, 0};
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        st_v4i x, y, z;
        memcpy(&x, src[0] + i, sizeof x);
        memcpy(&y, src[1] + i, sizeof y);
        memcpy(&z, src[2] + i, sizeof z);
        memcpy(a + i, &x, sizeof x);
        memcpy(b + i, &y, sizeof y);
        memcpy(c + i, &z, sizeof z);
        acc += ((x & expo) == expo) + ((y & expo) == expo) + ((z & expo) == expo);
    }
    int cnt = -(acc[0] + acc[1] + acc[2] + acc[3]);
    for (; i < n; i++) {
        a[i] = src[0][i];
        b[i] = src[1][i];
        c[i] = src[2][i];
        cnt += nonfinite(a[i]) + nonfinite(b[i]) + nonfinite(c[i]);
    }
    return cnt;
}

static void fill_nan(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
}

/* Row by row: the out-of-image parts are filled, the in-image run of each
 * channel copied with memcpy, then the bad map and count made in one
 * branch-free pass (vectorisable). */
static int cut_plain(const sv_frames *f, int S, double x, double y, double nan_frac_max,
                     float *const out[3], uint8_t *bad, sv_cut_info *info)
{
    if (!sv_stamp_on_image(f, x, y)) {
        fill_off(S, out, bad, info);
        return SV_OK;
    }
    double fx = floor(x + 0.5), fy = floor(y + 0.5);
    long cx = (long)fx, cy = (long)fy, half = S / 2;
    long ox = cx - half, oy = cy - half; /* image pixel of stamp pixel (0, 0) */
    info->i0 = ox < 0 ? (int)-ox : 0;
    info->j0 = oy < 0 ? (int)-oy : 0;
    info->i1 = ox + S > f->width ? (int)(f->width - ox) : S;
    info->j1 = oy + S > f->height ? (int)(f->height - oy) : S;
    const int i0 = info->i0, i1 = info->i1, nin = i1 - i0;
    const int64_t mstride = f->mask_stride ? f->mask_stride : f->width;
    const uint32_t mbits = f->mask_bits;
    long nb = 0;
    for (int j = 0; j < S; j++) {
        size_t p = (size_t)j * S;
        float *o0 = out[0] + p, *o1 = out[1] + p, *o2 = out[2] + p;
        uint8_t *bj = bad ? bad + p : NULL;
        if (j < info->j0 || j >= info->j1) {
            fill_nan(o0, (size_t)S);
            fill_nan(o1, (size_t)S);
            fill_nan(o2, (size_t)S);
            if (bj)
                memset(bj, BAD_OUT, (size_t)S);
            continue;
        }
        if (i0 > 0 || i1 < S) {
            for (int c = 0; c < 3; c++) {
                fill_nan(out[c] + p, (size_t)i0);
                fill_nan(out[c] + p + i1, (size_t)(S - i1));
            }
            if (bj) {
                memset(bj, BAD_OUT, (size_t)i0);
                memset(bj + i1, BAD_OUT, (size_t)(S - i1));
            }
        }
        long iy = oy + j;
        const float *src[3];
        for (int c = 0; c < 3; c++)
            src[c] = f->img[c] + iy * f->stride[c] + ox + i0;
        const float *a = o0 + i0, *b = o1 + i0, *c = o2 + i0;
        uint8_t *bb = bj ? bj + i0 : NULL;
        int cnt = 0;
        if (!f->mask) {
            /* copy and count the non-finite values in one pass, four
             * pixels at a time; the bad map only where the row has any */
            cnt = copy3_count(src, (float *)a, (float *)b, (float *)c, nin);
            if (bb) {
                if (!cnt)
                    memset(bb, 0, (size_t)nin);
                else
                    for (int i = 0; i < nin; i++)
                        bb[i] = (uint8_t)(nonfinite(a[i]) | nonfinite(b[i]) | nonfinite(c[i])
                                              ? BAD_NAN
                                              : 0);
            }
            nb += cnt;
            continue;
        }
        for (int ch = 0; ch < 3; ch++)
            memcpy(out[ch] + p + i0, src[ch], (size_t)nin * sizeof(float));
        {
            const uint32_t *mr = f->mask + iy * mstride + ox + i0;
            for (int i = 0; i < nin; i++) {
                int nf = nonfinite(a[i]) + nonfinite(b[i]) + nonfinite(c[i]);
                int m = (mr[i] & mbits) != 0;
                cnt += m ? 3 : nf;
                if (bb)
                    bb[i] = (uint8_t)((nf ? BAD_NAN : 0) | (m ? BAD_MASK : 0));
            }
        }
        nb += cnt;
    }
    info->n_bad = (int)nb;
    info->flags |= centre_flags(f, cx, cy);
    finish_info(f, S, nan_frac_max, info);
    return SV_OK;
}

/* ---- resampling ------------------------------------------------------- */

static double kernel_value(sv_kernel k, double t)
{
    t = fabs(t);
    if (k == SV_KERNEL_BILINEAR)
        return t < 1.0 ? 1.0 - t : 0.0;
    if (t >= 3.0)
        return 0.0;
    if (t < 1e-12)
        return 1.0;
    double a = M_PI * t, b = a / 3.0;
    return (sin(a) / a) * (sin(b) / b);
}

/* Taps of one axis: for sample u, image pixels [k0, k0 + ntap) clipped to
 * [0, n), weights w[0..ntap); returns the sum of |w| over the UNclipped
 * support (the normalisation reference). */
static double axis_taps(sv_kernel k, double u, double scale, double radius, long n, long *k0,
                        int *nt, double *w, int ntap_max)
{
    long lo = (long)ceil(u - radius), hi = (long)floor(u + radius);
    double abs_sum = 0;
    for (long q = lo; q <= hi; q++)
        abs_sum += fabs(kernel_value(k, (q - u) / scale));
    if (lo < 0)
        lo = 0;
    if (hi > n - 1)
        hi = n - 1;
    int cnt = 0;
    for (long q = lo; q <= hi && cnt < ntap_max; q++)
        w[cnt++] = kernel_value(k, (q - u) / scale);
    *k0 = lo;
    *nt = cnt;
    return abs_sum;
}

static int cut_resampled(const sv_frames *f, int S, double x, double y, double step,
                         sv_kernel kernel, double nan_frac_max, float *const out[3], uint8_t *bad,
                         sv_cut_scratch *scr, sv_cut_info *info)
{
    double fx = floor(x + 0.5), fy = floor(y + 0.5);
    if (!sv_stamp_on_image(f, x, y)) {
        fill_off(S, out, bad, info);
        return SV_OK;
    }
    int half = S / 2;
    /* in-image rectangle: stamp pixels whose nearest image pixel is inside */
    info->i0 = S;
    info->i1 = 0;
    info->j0 = S;
    info->j1 = 0;
    for (int i = 0; i < S; i++) {
        double n = floor(x + (i - half) * step + 0.5);
        if (n >= 0 && n < f->width) {
            if (i < info->i0)
                info->i0 = i;
            info->i1 = i + 1;
        }
    }
    for (int j = 0; j < S; j++) {
        double n = floor(y + (j - half) * step + 0.5);
        if (n >= 0 && n < f->height) {
            if (j < info->j0)
                info->j0 = j;
            info->j1 = j + 1;
        }
    }
    double scale = step > 1.0 ? step : 1.0;
    double radius = (kernel == SV_KERNEL_BILINEAR ? 1.0 : 3.0) * scale;
    int ntap_max = (int)floor(2.0 * radius) + 2;
    long r_lo = (long)ceil(y + (info->j0 - half) * step - radius);
    long r_hi = (long)floor(y + (info->j1 - 1 - half) * step + radius);
    if (r_lo < 0)
        r_lo = 0;
    if (r_hi > f->height - 1)
        r_hi = f->height - 1;
    long nr = r_hi - r_lo + 1;
    /* scratch: wx (S*ntap), wy (S*ntap), absx, absy (S), num, den (nr*S) */
    size_t need = 2 * (size_t)S * ntap_max + 2 * (size_t)S + 2 * (size_t)nr * S;
    if (scr->len < need) {
        double *nb = realloc(scr->buf, need * sizeof *nb);
        if (!nb)
            return SV_ERR_NOMEM;
        scr->buf = nb;
        scr->len = need;
    }
    double *wx = scr->buf, *wy = wx + (size_t)S * ntap_max, *absx = wy + (size_t)S * ntap_max;
    double *absy = absx + S, *num = absy + S, *den = num + (size_t)nr * S;
    long kx0[SV_STAMP_SIDE_MAX], ky0[SV_STAMP_SIDE_MAX];
    int ntx[SV_STAMP_SIDE_MAX], nty[SV_STAMP_SIDE_MAX];
    for (int i = info->i0; i < info->i1; i++)
        absx[i] = axis_taps(kernel, x + (i - half) * step, scale, radius, f->width, &kx0[i],
                            &ntx[i], wx + (size_t)i * ntap_max, ntap_max);
    for (int j = info->j0; j < info->j1; j++)
        absy[j] = axis_taps(kernel, y + (j - half) * step, scale, radius, f->height, &ky0[j],
                            &nty[j], wy + (size_t)j * ntap_max, ntap_max);

    size_t SS = (size_t)S * S;
    for (int c = 0; c < 3; c++)
        for (size_t p = 0; p < SS; p++)
            out[c][p] = NAN;
    if (bad)
        memset(bad, BAD_OUT, SS);
    int nb = 0;
    /* nearest-pixel status first (identical for the three channels' mask) */
    for (int c = 0; c < 3; c++) {
        const float *im = f->img[c];
        int64_t st = f->stride[c];
        /* pass 1: along x, for every needed image row */
        for (long r = 0; r < nr; r++) {
            const float *row = im + (r + r_lo) * st;
            for (int i = info->i0; i < info->i1; i++) {
                double sn = 0, sd = 0;
                const double *w = wx + (size_t)i * ntap_max;
                for (int t = 0; t < ntx[i]; t++) {
                    long k = kx0[i] + t;
                    float v = row[k];
                    if (!isfinite(v) || masked(f, k, r + r_lo))
                        continue;
                    sn += w[t] * v;
                    sd += w[t];
                }
                num[(size_t)r * S + i] = sn;
                den[(size_t)r * S + i] = sd;
            }
        }
        /* pass 2: along y */
        for (int j = info->j0; j < info->j1; j++) {
            long ny = (long)floor(y + (j - half) * step + 0.5);
            const double *w = wy + (size_t)j * ntap_max;
            for (int i = info->i0; i < info->i1; i++) {
                long nx = (long)floor(x + (i - half) * step + 0.5);
                size_t p = (size_t)j * S + i;
                float near = im[ny * st + nx];
                int m = masked(f, nx, ny);
                uint8_t b = (bad && c > 0) ? bad[p] : 0;
                if (m) {
                    out[c][p] = near;
                    b |= BAD_MASK;
                    nb++;
                } else if (!isfinite(near)) {
                    out[c][p] = near;
                    b |= BAD_NAN;
                    nb++;
                } else {
                    double sn = 0, sd = 0;
                    for (int t = 0; t < nty[j]; t++) {
                        long r = ky0[j] + t - r_lo;
                        sn += w[t] * num[(size_t)r * S + i];
                        sd += w[t] * den[(size_t)r * S + i];
                    }
                    if (fabs(sd) > 1e-3 * absx[i] * absy[j]) {
                        out[c][p] = (float)(sn / sd);
                    } else {
                        out[c][p] = NAN;
                        b |= BAD_NAN;
                        nb++;
                    }
                }
                if (bad)
                    bad[p] = b;
            }
        }
    }
    info->n_bad = nb;
    info->flags |= centre_flags(f, (long)fx, (long)fy);
    finish_info(f, S, nan_frac_max, info);
    return SV_OK;
}

int sv_stamp_cut(const sv_frames *f, int S, double x, double y, double step, sv_kernel kernel,
                 double nan_frac_max, float *const out[3], uint8_t *bad, sv_cut_scratch *scratch,
                 sv_cut_info *info)
{
    if (!f || !out || !info || S < 1 || S > SV_STAMP_SIDE_MAX || !out[0] || !out[1] ||
        !out[2] || !f->img[0] || !f->img[1] || !f->img[2] || f->width < 1 || f->height < 1)
        return SV_ERR_ARG;
    memset(info, 0, sizeof *info);
    if (!isfinite(x) || !isfinite(y))
        return SV_ERR_ARG;
    if (step == 1.0)
        return cut_plain(f, S, x, y, nan_frac_max, out, bad, info);
    if (!(step >= SV_RESAMPLE_STEP_MIN && step <= SV_RESAMPLE_STEP_MAX) || !scratch)
        return SV_ERR_ARG;
    return cut_resampled(f, S, x, y, step, kernel, nan_frac_max, out, bad, scratch, info);
}

void sv_stamp_rect(int S, const float *const stamp[3], const uint8_t *bad,
                   const sv_cut_info *info, float *const rect[3], int *w, int *h)
{
    int rw = info->i1 - info->i0, rh = info->j1 - info->j0;
    if (rw <= 0 || rh <= 0) {
        *w = *h = 0;
        return;
    }
    for (int c = 0; c < 3; c++)
        for (int j = 0; j < rh; j++) {
            const float *src = stamp[c] + (size_t)(j + info->j0) * S + info->i0;
            float *dst = rect[c] + (size_t)j * rw;
            if (!bad) {
                memcpy(dst, src, (size_t)rw * sizeof(float));
                continue;
            }
            const uint8_t *b = bad + (size_t)(j + info->j0) * S + info->i0;
            for (int i = 0; i < rw; i++)
                dst[i] = (b[i] & BAD_MASK) ? NAN : src[i];
        }
    *w = rw;
    *h = rh;
}

/* ---- same grid -------------------------------------------------------- */

int sv_grid_check(const int32_t width[3], const int32_t height[3], sv_wcs *const wcs[3],
                  double tolerance, const char *const names[3], int *n_wcs_compared,
                  sv_error *err)
{
    static const char *const role[3] = {"science", "reference", "difference"};
    if (n_wcs_compared)
        *n_wcs_compared = 0;
    for (int c = 1; c < 3; c++)
        if (width[c] != width[0] || height[c] != height[0])
            return sv_error_set(err, SV_ERR_SHAPE,
                                "images not on one pixel grid: %s image %s is %d x %d pixels "
                                "but %s image %s is %d x %d",
                                role[0], names[0], width[0], height[0], role[c], names[c],
                                width[c], height[c]);
    int base = -1, n = 0;
    for (int c = 0; c < 3; c++)
        if (wcs[c]) {
            if (base < 0)
                base = c;
            n++;
        }
    if (n_wcs_compared)
        *n_wcs_compared = n;
    if (n < 2)
        return SV_OK;
    double W = width[0], H = height[0];
    double px[5] = {0, W - 1, 0, W - 1, (W - 1) / 2}, py[5] = {0, 0, H - 1, H - 1, (H - 1) / 2};
    double ra[5], dec[5], qx[5], qy[5];
    if (sv_wcs_pix2sky(wcs[base], 5, px, py, ra, dec))
        return sv_error_set(err, SV_ERR_SHAPE,
                            "%s image %s: its WCS cannot place its own corner pixels on the sky",
                            role[base], names[base]);
    for (int c = base + 1; c < 3; c++) {
        if (!wcs[c])
            continue;
        sv_wcs_sky2pix(wcs[c], 5, ra, dec, qx, qy);
        for (int k = 0; k < 5; k++) {
            double d = hypot(qx[k] - px[k], qy[k] - py[k]);
            if (!(d <= tolerance))
                return sv_error_set(
                    err, SV_ERR_SHAPE,
                    "images not on one pixel grid: FITS pixel (%.1f, %.1f) of the %s image %s "
                    "is pixel (%.2f, %.2f) of the %s image %s by their WCS, %.3g pixels apart "
                    "(grid_tolerance = %g)",
                    px[k] + 1, py[k] + 1, role[base], names[base], qx[k] + 1, qy[k] + 1,
                    role[c], names[c], d, tolerance);
        }
    }
    return SV_OK;
}
