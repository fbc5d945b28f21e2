/* preprocess.c — raw stamp triplets to network input.  See preprocess.h. */
#include "model/preprocess.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PRE_DIM_MAX 65536

sv_preproc sv_preproc_braai(sv_norm norm)
{
    sv_preproc p;
    memset(&p, 0, sizeof p);
    p.out_h = p.out_w = 63;
    p.n_channels = 3;
    p.channel[0] = SV_CH_SCI;
    p.channel[1] = SV_CH_REF;
    p.channel[2] = SV_CH_DIFF;
    p.stamp_size = 63;
    p.nan_fill = 0.0f;
    p.norm = norm;
    p.pad_value = 1e-9f;
    p.pixel_scale = 1.01;
    return p;
}

/* ---- names -------------------------------------------------------------- */

static const char *const norm_names[] = {
    [SV_NORM_NONE] = "none",     [SV_NORM_L2] = "l2",         [SV_NORM_L2_ROWS] = "l2-rows",
    [SV_NORM_MINMAX] = "minmax", [SV_NORM_ZSCORE] = "zscore",
};
#define N_NORMS ((int)(sizeof norm_names / sizeof norm_names[0]))

const char *sv_norm_name(sv_norm norm)
{
    if ((int)norm < 0 || (int)norm >= N_NORMS)
        return "unknown";
    return norm_names[norm];
}

int sv_norm_from_name(const char *name, sv_norm *norm)
{
    if (!name || !norm)
        return SV_ERR_FORMAT;
    for (int i = 0; i < N_NORMS; i++)
        if (!strcasecmp(name, norm_names[i])) {
            *norm = (sv_norm)i;
            return 0;
        }
    /* accepted spellings */
    if (!strcasecmp(name, "l2_rows") || !strcasecmp(name, "l2rows")) {
        *norm = SV_NORM_L2_ROWS;
        return 0;
    }
    return SV_ERR_FORMAT;
}

static const char *const channel_names[] = {"SCI", "REF", "DIFF"};

int sv_channels_format(const sv_preproc *p, char *buf, int len)
{
    if (!p || !buf || len <= 0 || p->n_channels < 0 || p->n_channels > SV_MAX_CHANNELS)
        return SV_ERR_ARG;
    int k = 0;
    buf[0] = '\0';
    for (int c = 0; c < p->n_channels; c++) {
        int id = (int)p->channel[c];
        if (id < 0 || id > 2)
            return SV_ERR_ARG;
        int n = snprintf(buf + k, (size_t)(len - k), "%s%s", c ? "," : "", channel_names[id]);
        if (n < 0 || n >= len - k)
            return SV_ERR_ARG;
        k += n;
    }
    return 0;
}

int sv_channels_parse(const char *text, sv_preproc *p, sv_error *err)
{
    if (!text || !p)
        return sv_error_set(err, SV_ERR_ARG, "channel list: NULL argument");
    sv_channel ch[SV_MAX_CHANNELS];
    int n = 0;
    const char *s = text;
    for (;;) {
        while (*s == ' ')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && t[-1] == ' ')
            t--;
        size_t len = (size_t)(t - s);
        char tok[16];
        if (len == 0 || len >= sizeof tok)
            return sv_error_set(err, SV_ERR_FORMAT,
                                "channel list '%s': empty or overlong channel name "
                                "(expected names like SCI,REF,DIFF)",
                                text);
        memcpy(tok, s, len);
        tok[len] = '\0';
        int id = -1;
        if (!strcasecmp(tok, "SCI") || !strcasecmp(tok, "SCIENCE"))
            id = SV_CH_SCI;
        else if (!strcasecmp(tok, "REF") || !strcasecmp(tok, "REFERENCE") ||
                 !strcasecmp(tok, "TEMPLATE") || !strcasecmp(tok, "TMPL"))
            id = SV_CH_REF;
        else if (!strcasecmp(tok, "DIFF") || !strcasecmp(tok, "DIFFERENCE"))
            id = SV_CH_DIFF;
        if (id < 0)
            return sv_error_set(err, SV_ERR_FORMAT,
                                "channel list '%s': unknown channel '%s' (SCI, REF or DIFF)", text,
                                tok);
        if (n >= SV_MAX_CHANNELS)
            return sv_error_set(err, SV_ERR_FORMAT, "channel list '%s': more than %d channels",
                                text, SV_MAX_CHANNELS);
        ch[n++] = (sv_channel)id;
        if (!*e)
            break;
        s = e + 1;
    }
    p->n_channels = n;
    for (int c = 0; c < n; c++)
        p->channel[c] = ch[c];
    return 0;
}

int sv_preproc_validate(const sv_preproc *p, sv_error *err)
{
    if (!p)
        return sv_error_set(err, SV_ERR_ARG, "preprocessing: NULL description");
    if (p->out_h < 1 || p->out_h > PRE_DIM_MAX || p->out_w < 1 || p->out_w > PRE_DIM_MAX)
        return sv_error_set(err, SV_ERR_FORMAT,
                            "preprocessing: network input size %dx%d not in 1..%d", p->out_h,
                            p->out_w, PRE_DIM_MAX);
    if (p->stamp_size < p->out_h || p->stamp_size < p->out_w || p->stamp_size > PRE_DIM_MAX)
        return sv_error_set(err, SV_ERR_FORMAT,
                            "preprocessing: stamp size %d must be at least the network input "
                            "%dx%d and at most %d",
                            p->stamp_size, p->out_h, p->out_w, PRE_DIM_MAX);
    if (p->n_channels < 1 || p->n_channels > SV_MAX_CHANNELS)
        return sv_error_set(err, SV_ERR_FORMAT, "preprocessing: %d channels (1..%d)",
                            p->n_channels, SV_MAX_CHANNELS);
    for (int c = 0; c < p->n_channels; c++)
        if ((int)p->channel[c] < 0 || (int)p->channel[c] > SV_CH_DIFF)
            return sv_error_set(err, SV_ERR_FORMAT, "preprocessing: channel %d has identity %d",
                                c, (int)p->channel[c]);
    if ((int)p->norm < 0 || (int)p->norm >= N_NORMS)
        return sv_error_set(err, SV_ERR_FORMAT, "preprocessing: unknown normalisation %d",
                            (int)p->norm);
    if (!isfinite(p->nan_fill))
        return sv_error_set(err, SV_ERR_FORMAT, "preprocessing: NaN fill value is not finite");
    if (!isfinite(p->pad_value))
        return sv_error_set(err, SV_ERR_FORMAT, "preprocessing: padding value is not finite");
    if (!isfinite(p->pixel_scale) || p->pixel_scale < 0)
        return sv_error_set(err, SV_ERR_FORMAT, "preprocessing: pixel scale %g is not >= 0",
                            p->pixel_scale);
    return 0;
}

/* ---- normalisation ------------------------------------------------------ */

#define PW_BLOCK 128

/* The sums below must not be contracted into fused multiply-adds (a build
 * with -march=haswell would otherwise change the last bit of l2-rows). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#define NO_FMA
#elif defined(__GNUC__)
#define NO_FMA __attribute__((optimize("fp-contract=off")))
#else
#define NO_FMA
#endif

/* Four floats as one value (GCC/clang vector extension: one SSE register
 * on every x86-64).  Lane-wise IEEE operations, so a loop over vectors
 * gives bit for bit the results of the scalar loop doing the same
 * operations per element.  Loads and stores go through memcpy (no
 * alignment assumed). */
typedef float pp_v4f __attribute__((vector_size(16)));
typedef int32_t pp_v4i __attribute__((vector_size(16)));
#define PP_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define PP_STORE(p, v) memcpy((p), &(v), sizeof(v))

/* img[i] / d for i < n: a float32 division per element */
static void div_all(float *img, size_t n, float d)
{
    size_t i = 0;
    const pp_v4f dv = {d, d, d, d};
    for (; i + 4 <= n; i += 4) {
        pp_v4f v;
        PP_LOAD(v, img + i);
        v = v / dv;
        PP_STORE(img + i, v);
    }
    for (; i < n; i++)
        img[i] = img[i] / d;
}

/* numpy's pairwise sum (npy pairwise_sum for float32) of the squares of
 * a[0..n-1].  The squares are stored before they are added, as numpy stores
 * the product array: this also keeps a compiler from fusing multiply and
 * add, which would change the result. */
NO_FMA static float pairwise_sumsq(const float *a, ptrdiff_t n)
{
    if (n <= PW_BLOCK) {
        float sq[PW_BLOCK];
        ptrdiff_t k = 0;
        for (; k + 4 <= n; k += 4) {
            pp_v4f v;
            PP_LOAD(v, a + k);
            v = v * v;
            PP_STORE(sq + k, v);
        }
        for (; k < n; k++)
            sq[k] = a[k] * a[k];
        if (n < 8) {
            float res = 0.0f;
            for (ptrdiff_t i = 0; i < n; i++)
                res += sq[i];
            return res;
        }
        /* eight accumulators, r[j] += sq[i + j]: lanes of two vectors */
        pp_v4f ra, rb, ta, tb;
        PP_LOAD(ra, sq);
        PP_LOAD(rb, sq + 4);
        ptrdiff_t i;
        for (i = 8; i < n - (n % 8); i += 8) {
            PP_LOAD(ta, sq + i);
            PP_LOAD(tb, sq + i + 4);
            ra += ta;
            rb += tb;
        }
        float r[8];
        PP_STORE(r, ra);
        PP_STORE(r + 4, rb);
        float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += sq[i];
        return res;
    }
    ptrdiff_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sumsq(a, n2) + pairwise_sumsq(a + n2, n - n2);
}

int sv_preprocess_normalize(sv_norm norm, float *img, int h, int w)
{
    if (!img || h < 1 || w < 1)
        return SV_ERR_ARG;
    size_t n = (size_t)h * (size_t)w;
    switch (norm) {
    case SV_NORM_NONE:
        return 0;
    case SV_NORM_L2: {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += (double)img[i] * (double)img[i];
        float nrm = sqrtf((float)s);
        if (nrm == 0.0f)
            return 0;
        div_all(img, n, nrm);
        return 0;
    }
    case SV_NORM_L2_ROWS:
        for (int y = 0; y < h; y++) {
            float *row = img + (size_t)y * (size_t)w;
            float nrm = sqrtf(pairwise_sumsq(row, w));
            if (nrm == 0.0f)
                nrm = 1.0f;
            div_all(row, (size_t)w, nrm);
        }
        return 0;
    case SV_NORM_MINMAX: {
        float mn = img[0], mx = img[0];
        for (size_t i = 1; i < n; i++) {
            if (img[i] < mn)
                mn = img[i];
            if (img[i] > mx)
                mx = img[i];
        }
        float rg = mx - mn;
        if (!(rg > 0.0f) || !isfinite(rg)) {
            if (rg == 0.0f) {
                memset(img, 0, n * sizeof *img);
                return 0;
            }
            /* overflowing range: compute in double */
            double drg = (double)mx - (double)mn;
            for (size_t i = 0; i < n; i++)
                img[i] = (float)(((double)img[i] - (double)mn) / drg);
            return 0;
        }
        for (size_t i = 0; i < n; i++)
            img[i] = (img[i] - mn) / rg;
        return 0;
    }
    case SV_NORM_ZSCORE: {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += img[i];
        double mean = s / (double)n;
        double v = 0.0;
        for (size_t i = 0; i < n; i++) {
            double d = (double)img[i] - mean;
            v += d * d;
        }
        double sd = sqrt(v / (double)n);
        if (!(sd > 0.0)) {
            memset(img, 0, n * sizeof *img);
            return 0;
        }
        for (size_t i = 0; i < n; i++)
            img[i] = (float)(((double)img[i] - mean) / sd);
        return 0;
    }
    default:
        return SV_ERR_ARG;
    }
}

/* ---- the triplet --------------------------------------------------------- */

/* dst[i] = src[i], or fill where src[i] is NaN or infinite (exponent all
 * ones); returns the number filled.  Branch-free, eight at a time. */
static long fill_copy(const float *src, float *dst, size_t n, float fill)
{
    const pp_v4i expo = {0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000};
    int32_t fb;
    memcpy(&fb, &fill, sizeof fb);
    const pp_v4i fv = {fb, fb, fb, fb};
    pp_v4i cnt = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        pp_v4i v;
        PP_LOAD(v, src + i);
        pp_v4i m = (v & expo) == expo; /* -1 where not finite */
        v = (v & ~m) | (fv & m);
        PP_STORE(dst + i, v);
        cnt -= m;
    }
    long bad = 0;
    for (int j = 0; j < 4; j++)
        bad += cnt[j];
    for (; i < n; i++) {
        float v = src[i];
        if (!isfinite(v)) {
            v = fill;
            bad++;
        }
        dst[i] = v;
    }
    return bad;
}

/* The per-row layout of the triplet for the normalisations that need at
 * most one whole-image number per channel (none, l2, l2-rows): each output
 * row is made from the channels' source rows in small buffers that stay in
 * the L1 cache, normalised and interleaved in one pass (four pixels of
 * three channels with vector shuffles).  Every value is computed by the
 * same operations, in the same order, as the general path (fill_copy, then
 * sv_preprocess_normalize on the whole image, then the crop/pad copy), so
 * the results are bit for bit the same. */
#define PP_ROW_MAX 1024

/* The l2 sums of squares of C channels, NaN/inf counted as `fill`: for
 * each channel the same expression and order as sv_preprocess_normalize's
 * SV_NORM_L2 (a sequential sum in pixel order).  The channels' sums are
 * independent chains advanced in one loop, so that the processor overlaps
 * their additions (the same results, about C times sooner). */
static inline double filled_sq(float v, float fill)
{
    if (!isfinite(v))
        v = fill;
    return (double)v * (double)v;
}

static long fill_copy(const float *src, float *dst, size_t n, float fill);

static void l2_sums_filled(const float *const src[], int C, size_t n, float fill, double *sum)
{
    if (C == 3) {
        /* blocks of pixels NaN-filled by vector code, then the three sums */
        enum { BLK = 256 };
        float t[3][BLK];
        double s0 = 0.0, s1 = 0.0, s2 = 0.0;
        for (size_t i0 = 0; i0 < n; i0 += BLK) {
            size_t m = n - i0 < BLK ? n - i0 : BLK;
            for (int k = 0; k < 3; k++)
                fill_copy(src[k] + i0, t[k], m, fill);
            for (size_t i = 0; i < m; i++) {
                s0 += (double)t[0][i] * (double)t[0][i];
                s1 += (double)t[1][i] * (double)t[1][i];
                s2 += (double)t[2][i] * (double)t[2][i];
            }
        }
        sum[0] = s0;
        sum[1] = s1;
        sum[2] = s2;
        return;
    }
    for (int k = 0; k < C; k++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += filled_sq(src[k][i], fill);
        sum[k] = s;
    }
}

static long count_nonfinite(const float *src, size_t n)
{
    long k = 0;
    for (size_t i = 0; i < n; i++)
        k += !isfinite(src[i]);
    return k;
}

#if defined(__clang__)
#define PP_SHUF(a, b, i, j, k, l) __builtin_shufflevector((a), (b), i, j, k, l)
#else
#define PP_SHUF(a, b, i, j, k, l) __builtin_shuffle((a), (b), (pp_v4i){i, j, k, l})
#endif

/* out[3x + c] = r_c[x] for x < n: four pixels (three vectors) at a time */
static void interleave3(float *out, const float *r0, const float *r1, const float *r2, int n)
{
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        pp_v4f a, b, c;
        PP_LOAD(a, r0 + x);
        PP_LOAD(b, r1 + x);
        PP_LOAD(c, r2 + x);
        pp_v4f ab_lo = PP_SHUF(a, b, 0, 4, 1, 5); /* a0 b0 a1 b1 */
        pp_v4f ab_hi = PP_SHUF(a, b, 2, 6, 3, 7); /* a2 b2 a3 b3 */
        pp_v4f o0 = PP_SHUF(ab_lo, c, 0, 1, 4, 2); /* a0 b0 c0 a1 */
        pp_v4f t = PP_SHUF(ab_lo, c, 3, 5, 3, 5);  /* b1 c1 .. .. */
        pp_v4f o1 = PP_SHUF(t, ab_hi, 0, 1, 4, 5); /* b1 c1 a2 b2 */
        pp_v4f o2 = PP_SHUF(c, ab_hi, 2, 6, 7, 3); /* c2 a3 b3 c3 */
        PP_STORE(out + 3 * x, o0);
        PP_STORE(out + 3 * x + 4, o1);
        PP_STORE(out + 3 * x + 8, o2);
    }
    for (; x < n; x++) {
        out[3 * x] = r0[x];
        out[3 * x + 1] = r1[x];
        out[3 * x + 2] = r2[x];
    }
}

static void triplet_rows(const sv_preproc *p, const float *const chan[3], int h, int w,
                         float *out, long *bad_out)
{
    const int C = p->n_channels, oh = p->out_h, ow = p->out_w;
    const size_t n = (size_t)h * (size_t)w;
    const int y0 = h > oh ? (h - oh) / 2 : 0;
    const int x0 = w > ow ? (w - ow) / 2 : 0;
    const int nx = w - x0 < ow ? w - x0 : ow; /* source columns used, then padding */
    const int ny = h - y0 < oh ? h - y0 : oh; /* source rows used, then padding */
    float rb[SV_MAX_CHANNELS][PP_ROW_MAX];
    float l2[SV_MAX_CHANNELS]; /* l2: the divisor, 0 for none */
    long bad = 0;
    if (p->norm == SV_NORM_L2) {
        const float *src[SV_MAX_CHANNELS];
        double sum[SV_MAX_CHANNELS];
        for (int c = 0; c < C; c++)
            src[c] = chan[p->channel[c]];
        l2_sums_filled(src, C, n, p->nan_fill, sum);
        for (int c = 0; c < C; c++)
            l2[c] = sqrtf((float)sum[c]);
    }
    for (int c = 0; c < C; c++) {
        const float *src = chan[p->channel[c]];
        /* bad pixels of the rows that are cropped away */
        bad += count_nonfinite(src, (size_t)y0 * (size_t)w);
        bad += count_nonfinite(src + (size_t)(y0 + ny) * (size_t)w,
                               (size_t)(h - y0 - ny) * (size_t)w);
    }
    for (int y = 0; y < oh; y++) {
        float *o = out + (size_t)y * (size_t)ow * (size_t)C;
        if (y >= ny) {
            for (size_t k = 0; k < (size_t)ow * (size_t)C; k++)
                o[k] = p->pad_value;
            continue;
        }
        const size_t off = (size_t)(y + y0) * (size_t)w;
        for (int c = 0; c < C; c++) {
            float *r = rb[c];
            bad += fill_copy(chan[p->channel[c]] + off, r, (size_t)w, p->nan_fill);
            if (p->norm == SV_NORM_L2_ROWS) {
                float nrm = sqrtf(pairwise_sumsq(r, w));
                if (nrm == 0.0f)
                    nrm = 1.0f;
                div_all(r, (size_t)w, nrm);
            } else if (p->norm == SV_NORM_L2 && l2[c] != 0.0f) {
                div_all(r, (size_t)w, l2[c]);
            }
        }
        if (C == 3) {
            interleave3(o, rb[0] + x0, rb[1] + x0, rb[2] + x0, nx);
        } else {
            for (int c = 0; c < C; c++)
                for (int x = 0; x < nx; x++)
                    o[(size_t)x * C + c] = rb[c][x0 + x];
        }
        for (size_t k = (size_t)nx * C; k < (size_t)ow * C; k++)
            o[k] = p->pad_value;
    }
    *bad_out = bad;
}

int sv_preprocess_triplet(const sv_preproc *p, const float *const chan[3], int h, int w,
                          float *out, float *scratch, int *n_bad)
{
    if (n_bad)
        *n_bad = 0;
    if (!p || !chan || !out || !scratch || h < 1 || w < 1)
        return SV_ERR_ARG;
    if (sv_preproc_validate(p, NULL))
        return SV_ERR_ARG;
    for (int c = 0; c < p->n_channels; c++)
        if (!chan[p->channel[c]])
            return SV_ERR_ARG;

    const int C = p->n_channels, oh = p->out_h, ow = p->out_w;
    const size_t n = (size_t)h * (size_t)w;
    /* per-axis source offsets: centre crop when larger, 0 (then pad) when
     * smaller */
    const int y0 = h > oh ? (h - oh) / 2 : 0;
    const int x0 = w > ow ? (w - ow) / 2 : 0;
    long bad = 0;

    if ((p->norm == SV_NORM_NONE || p->norm == SV_NORM_L2 || p->norm == SV_NORM_L2_ROWS) &&
        w <= PP_ROW_MAX) {
        triplet_rows(p, chan, h, w, out, &bad);
        if (n_bad)
            *n_bad = bad > 0x7fffffffL ? 0x7fffffff : (int)bad;
        return 0;
    }
    for (int c = 0; c < C; c++) {
        const float *src = chan[p->channel[c]];
        bad += fill_copy(src, scratch, n, p->nan_fill);
        sv_preprocess_normalize(p->norm, scratch, h, w);
        for (int y = 0; y < oh; y++) {
            int sy = y + y0;
            float *o = out + (size_t)y * (size_t)ow * (size_t)C + (size_t)c;
            if (sy >= h) {
                for (int x = 0; x < ow; x++)
                    o[(size_t)x * C] = p->pad_value;
                continue;
            }
            const float *row = scratch + (size_t)sy * (size_t)w + x0;
            const int nx = w - x0 < ow ? w - x0 : ow; /* then padding */
            int x = 0;
            if (C == 3)
                for (; x < nx; x++)
                    o[(size_t)x * 3] = row[x];
            else
                for (; x < nx; x++)
                    o[(size_t)x * C] = row[x];
            for (; x < ow; x++)
                o[(size_t)x * C] = p->pad_value;
        }
    }
    if (n_bad)
        *n_bad = bad > 0x7fffffffL ? 0x7fffffff : (int)bad;
    return 0;
}
