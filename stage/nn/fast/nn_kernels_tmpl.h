/* nn_kernels_tmpl.h — the inference kernels, written once for every ISA.
 *
 * Included by nn_kernels_{generic,avx2,avx512}.c after they define:
 *   V, VW                      vector type and its float lanes (VW divides 16)
 *   VLOAD(p) VSTORE(p,v)       unaligned load / store
 *   VSET1(x) VZERO()           broadcast, zero
 *   VFMA(a,b,c)                a*b + c
 *   VMAX(a,b) VADD(a,b) VSUB(a,b) VMUL(a,b)   lane-wise
 *   VM, VCMPGT(a,b), VCMPEQ(a,b)  lane mask type and comparisons
 *   VMAND(m,n) VMANDNOT(m,n) (m & ~n) VMSEL(m,a) (a where m, else 0) VMALL()
 *   KFN(name)                  name with the ISA suffix
 *   NB1_TMAX, NB2_TMAX         register tile widths (output pixels) for one
 *                              and two output vectors per pixel
 *   KATTR                      attributes of every function (target ISA)
 *   PEAK_CHAINS                independent FMA chains for the peak loop
 *   WINO_MIN_CC                see nn_kernels.h
 * See nn_kernels.h for what the kernels compute.
 *
 * Direct convolution with register tiling: a tile is T consecutive output
 * pixels of one output row times NB vectors of output channels; its T*NB
 * accumulators stay in registers over the whole reduction (kernel rows x
 * kernel columns x input channels), each step loading NB weight vectors once
 * and broadcasting one input value per pixel.  Bias and ReLU are applied in
 * the epilogue.  The tile width T and the input step between pixels are
 * compile-time constants in the hot cases so that every broadcast is one
 * FMA with a memory operand at a constant displacement.
 */

#include <float.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define REP28(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) \
    M(13) M(14) M(15) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) M(24) M(25) M(26) M(27)
#define REP14(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13)

/* The register tiles are exempt from UndefinedBehaviorSanitizer (not from
 * AddressSanitizer): its checks on every unrolled address multiply the
 * compile time of this file by ten in sanitizer builds, and the tiles do
 * only pointer arithmetic within the buffers that ASan watches. */
#if defined(__has_attribute)
#if __has_attribute(no_sanitize)
#define KNOUBSAN __attribute__((no_sanitize("undefined")))
#endif
#endif
#ifndef KNOUBSAN
#define KNOUBSAN
#endif
#define KINLINE static inline __attribute__((always_inline)) KATTR KNOUBSAN

/* ---- one tile, one output vector per pixel ------------------------------ */
KINLINE void KFN(tile1)(const float *x, ptrdiff_t xc_rt, ptrdiff_t x_row, ptrdiff_t x_kk,
                        int kh, int kk, const float *w, ptrdiff_t ws, const float *b,
                        float *y, ptrdiff_t y_col, int relu, int acc, const int T,
                        const ptrdiff_t XC)
{
    const ptrdiff_t xc = XC ? XC : xc_rt;
    const V bias = acc ? VZERO() : VLOAD(b);
#define T1_DECL(i) V a##i = (i < T && acc) ? VLOAD(y + i * y_col) : bias;
    REP28(T1_DECL)
    for (int ky = 0; ky < kh; ky++) {
        const float *xp = x + ky * x_row;
        const float *wp = w + (ptrdiff_t)ky * kk * ws;
        for (int q = 0; q < kk; q++) {
            const V w0 = VLOAD(wp);
#define T1_FMA(i)                                        \
    if (i < T)                                           \
        a##i = VFMA(VSET1(xp[i * xc]), w0, a##i);
            REP28(T1_FMA)
            xp += x_kk;
            wp += ws;
        }
    }
    const V z = VZERO();
#define T1_ST(i)                                          \
    if (i < T) {                                          \
        V r = a##i;                                       \
        if (relu)                                         \
            r = VMAX(r, z);                               \
        VSTORE(y + i * y_col, r);                         \
    }
    REP28(T1_ST)
}

/* ---- one tile, two output vectors per pixel ----------------------------- */
KINLINE void KFN(tile2)(const float *x, ptrdiff_t xc_rt, ptrdiff_t x_row, ptrdiff_t x_kk,
                        int kh, int kk, const float *w, ptrdiff_t ws, const float *b,
                        float *y, ptrdiff_t y_col, int relu, int acc, const int T,
                        const ptrdiff_t XC)
{
    const ptrdiff_t xc = XC ? XC : xc_rt;
    const V bias0 = acc ? VZERO() : VLOAD(b), bias1 = acc ? VZERO() : VLOAD(b + VW);
#define T2_DECL(i)                                                     \
    V a##i = (i < T && acc) ? VLOAD(y + i * y_col) : bias0;            \
    V c##i = (i < T && acc) ? VLOAD(y + i * y_col + VW) : bias1;
    REP14(T2_DECL)
    for (int ky = 0; ky < kh; ky++) {
        const float *xp = x + ky * x_row;
        const float *wp = w + (ptrdiff_t)ky * kk * ws;
        for (int q = 0; q < kk; q++) {
            const V w0 = VLOAD(wp), w1 = VLOAD(wp + VW);
#define T2_FMA(i)                                        \
    if (i < T) {                                         \
        const V xb = VSET1(xp[i * xc]);                  \
        a##i = VFMA(xb, w0, a##i);                       \
        c##i = VFMA(xb, w1, c##i);                       \
    }
            REP14(T2_FMA)
            xp += x_kk;
            wp += ws;
        }
    }
    const V z = VZERO();
#define T2_ST(i)                                          \
    if (i < T) {                                          \
        V r = a##i, s = c##i;                             \
        if (relu) {                                       \
            r = VMAX(r, z);                               \
            s = VMAX(s, z);                               \
        }                                                 \
        VSTORE(y + i * y_col, r);                         \
        VSTORE(y + i * y_col + VW, s);                    \
    }
    REP14(T2_ST)
}

/* ---- dispatch on the compile-time tile width and input step ------------- */
#define TILE_ARGS x, xc, x_row, x_kk, kh, kk, w, ws, b, y, y_col, relu, acc
#define CASE1(t, XCV)                           \
    case t:                                     \
        if (t <= NB1_TMAX)                      \
            KFN(tile1)(TILE_ARGS, t, XCV);      \
        break;
#define CASE2(t, XCV)                           \
    case t:                                     \
        if (t <= NB2_TMAX)                      \
            KFN(tile2)(TILE_ARGS, t, XCV);      \
        break;
#define SWITCH1(XCV)                                                                      \
    switch (T) {                                                                          \
        CASE1(1, XCV) CASE1(2, XCV) CASE1(3, XCV) CASE1(4, XCV) CASE1(5, XCV)             \
        CASE1(6, XCV) CASE1(7, XCV) CASE1(8, XCV) CASE1(9, XCV) CASE1(10, XCV)            \
        CASE1(11, XCV) CASE1(12, XCV) CASE1(13, XCV) CASE1(14, XCV) CASE1(15, XCV)        \
        CASE1(16, XCV) CASE1(17, XCV) CASE1(18, XCV) CASE1(19, XCV) CASE1(20, XCV)        \
        CASE1(21, XCV) CASE1(22, XCV) CASE1(23, XCV) CASE1(24, XCV) CASE1(25, XCV)        \
        CASE1(26, XCV) CASE1(27, XCV) CASE1(28, XCV)                                      \
    default:                                                                              \
        break;                                                                            \
    }
#define SWITCH2(XCV)                                                                      \
    switch (T) {                                                                          \
        CASE2(1, XCV) CASE2(2, XCV) CASE2(3, XCV) CASE2(4, XCV) CASE2(5, XCV)             \
        CASE2(6, XCV) CASE2(7, XCV) CASE2(8, XCV) CASE2(9, XCV) CASE2(10, XCV)            \
        CASE2(11, XCV) CASE2(12, XCV) CASE2(13, XCV) CASE2(14, XCV)                       \
    default:                                                                              \
        break;                                                                            \
    }

/* One noinline function per (vector count, input step) family; only the
 * one-vector tile (the widest, where runtime offsets would exhaust the
 * general registers) gets constant input steps, for the common cases of a
 * 3-channel stamp and a 16-channel image at stride 1. */
#define RUN_FN(name, SW, XCV)                                                               \
    static KATTR KNOUBSAN __attribute__((noinline)) void KFN(name)(                         \
        const float *x, ptrdiff_t xc, ptrdiff_t x_row, ptrdiff_t x_kk, int kh, int kk,      \
        const float *w, ptrdiff_t ws, const float *b, float *y, ptrdiff_t y_col, int relu,  \
        int acc, int T)                                                                     \
    {                                                                                       \
        SW(XCV)                                                                             \
    }
RUN_FN(run1_x1, SWITCH1, 1)
RUN_FN(run1_x3, SWITCH1, 3)
RUN_FN(run1_x16, SWITCH1, 16)
RUN_FN(run1_rt, SWITCH1, 0)
RUN_FN(run2_x1, SWITCH2, 1)
RUN_FN(run2_rt, SWITCH2, 0)

static KATTR void KFN(run1)(const float *x, ptrdiff_t xc, ptrdiff_t x_row, ptrdiff_t x_kk,
                            int kh, int kk, const float *w, ptrdiff_t ws, const float *b,
                            float *y, ptrdiff_t y_col, int relu, int acc, int T)
{
    if (xc == 1)
        KFN(run1_x1)(TILE_ARGS, T);
    else if (xc == 3)
        KFN(run1_x3)(TILE_ARGS, T);
    else if (xc == 16)
        KFN(run1_x16)(TILE_ARGS, T);
    else
        KFN(run1_rt)(TILE_ARGS, T);
}

static KATTR void KFN(run2)(const float *x, ptrdiff_t xc, ptrdiff_t x_row, ptrdiff_t x_kk,
                            int kh, int kk, const float *w, ptrdiff_t ws, const float *b,
                            float *y, ptrdiff_t y_col, int relu, int acc, int T)
{
    if (xc == 1)
        KFN(run2_x1)(TILE_ARGS, T);
    else
        KFN(run2_rt)(TILE_ARGS, T);
}

static KATTR void KFN(conv)(const nn_kconv *k, const float *x, float *y)
{
    const int nv = k->coutp / VW;
    for (int oy = 0; oy < k->ho; oy++) {
        const float *xr = x + oy * k->x_orow;
        float *yr = y + oy * k->y_row;
        for (int g = 0; g < nv;) {
            const int nb = nv - g >= 2 ? 2 : 1;
            const int tmax = nb == 2 ? NB2_TMAX : NB1_TMAX;
            const int nseg = (k->wo + tmax - 1) / tmax;
            for (int s = 0; s < nseg; s++) {
                int o0 = (int)((long)s * k->wo / nseg), o1 = (int)((long)(s + 1) * k->wo / nseg);
                const float *xs = xr + o0 * k->x_col;
                float *ys = yr + o0 * k->y_col + g * VW;
                if (nb == 2)
                    KFN(run2)(xs, k->x_col, k->x_row, k->x_kk, k->kh, k->kk, k->w + g * VW,
                              k->coutp, k->b + g * VW, ys, k->y_col, k->relu, k->acc, o1 - o0);
                else
                    KFN(run1)(xs, k->x_col, k->x_row, k->x_kk, k->kh, k->kk, k->w + g * VW,
                              k->coutp, k->b + g * VW, ys, k->y_col, k->relu, k->acc, o1 - o0);
            }
            g += nb;
        }
    }
}

/* ---- Winograd F(2x2, 3x3) ----------------------------------------------- */
static KATTR void KFN(wino)(const nn_kwino *k, const float *x, float *y, int ty0, int ty1,
                            float *v, float *m)
{
    const int tw = (k->wo + 1) / 2, cp = k->cp, co = k->coutp;
    const ptrdiff_t xrow = (ptrdiff_t)k->w * cp, vpos = (ptrdiff_t)tw * cp,
                    mpos = (ptrdiff_t)tw * co;
    const V z = VZERO();
    for (int ty = ty0; ty < ty1; ty++) {
        /* input transform: V[pos][tile][ci] = (B' d B)[pos] */
        for (int tx = 0; tx < tw; tx++) {
            int y0 = 2 * ty, x0 = 2 * tx;
            for (int c = 0; c < cp; c += VW) {
                /* t = B' d, column by column, straight from the loads */
                V t[4][4];
                const float *xi = x + y0 * xrow + (ptrdiff_t)x0 * cp + c;
                const int inside = y0 + 3 < k->h && x0 + 3 < k->w;
                for (int q = 0; q < 4; q++) {
                    V d0, d1, d2, d3;
                    if (inside) {
                        d0 = VLOAD(xi + q * cp);
                        d1 = VLOAD(xi + xrow + q * cp);
                        d2 = VLOAD(xi + 2 * xrow + q * cp);
                        d3 = VLOAD(xi + 3 * xrow + q * cp);
                    } else {
                        int okq = x0 + q < k->w;
                        d0 = okq && y0 < k->h ? VLOAD(xi + q * cp) : z;
                        d1 = okq && y0 + 1 < k->h ? VLOAD(xi + xrow + q * cp) : z;
                        d2 = okq && y0 + 2 < k->h ? VLOAD(xi + 2 * xrow + q * cp) : z;
                        d3 = okq && y0 + 3 < k->h ? VLOAD(xi + 3 * xrow + q * cp) : z;
                    }
                    t[0][q] = VSUB(d0, d2);
                    t[1][q] = VADD(d1, d2);
                    t[2][q] = VSUB(d2, d1);
                    t[3][q] = VSUB(d1, d3);
                }
                float *vo = v + (ptrdiff_t)tx * cp + c;
                for (int r = 0; r < 4; r++) {
                    VSTORE(vo + (r * 4 + 0) * vpos, VSUB(t[r][0], t[r][2]));
                    VSTORE(vo + (r * 4 + 1) * vpos, VADD(t[r][1], t[r][2]));
                    VSTORE(vo + (r * 4 + 2) * vpos, VSUB(t[r][2], t[r][1]));
                    VSTORE(vo + (r * 4 + 3) * vpos, VSUB(t[r][1], t[r][3]));
                }
            }
        }
        /* 16 products over the input channels, through the tiled kernel */
        for (int pos = 0; pos < 16; pos++) {
            nn_kconv g = {.ho = 1, .wo = tw, .kh = 1, .kk = cp, .x_orow = 0, .x_col = cp,
                          .x_row = 0, .x_kk = 1, .coutp = co, .y_row = 0, .y_col = co,
                          .w = k->u + (ptrdiff_t)pos * cp * co, .b = k->zero, .relu = 0};
            KFN(conv)(&g, v + pos * vpos, m + pos * mpos);
        }
        /* output transform: Y = A' M A + bias */
        for (int tx = 0; tx < tw; tx++) {
            int oy = 2 * ty, ox = 2 * tx;
            for (int c = 0; c < co; c += VW) {
                const float *mi = m + (ptrdiff_t)tx * co + c;
                V s0[4], s1[4];
                for (int q = 0; q < 4; q++) {
                    V m0 = VLOAD(mi + (0 * 4 + q) * mpos), m1 = VLOAD(mi + (1 * 4 + q) * mpos);
                    V m2 = VLOAD(mi + (2 * 4 + q) * mpos), m3 = VLOAD(mi + (3 * 4 + q) * mpos);
                    s0[q] = VADD(VADD(m0, m1), m2);
                    s1[q] = VSUB(VSUB(m1, m2), m3);
                }
                const V bias = VLOAD(k->b + c);
                V o[2][2];
                o[0][0] = VADD(VADD(VADD(s0[0], s0[1]), s0[2]), bias);
                o[0][1] = VADD(VSUB(VSUB(s0[1], s0[2]), s0[3]), bias);
                o[1][0] = VADD(VADD(VADD(s1[0], s1[1]), s1[2]), bias);
                o[1][1] = VADD(VSUB(VSUB(s1[1], s1[2]), s1[3]), bias);
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++)
                        if (oy + i < k->ho && ox + j < k->wo) {
                            V r = k->relu ? VMAX(o[i][j], z) : o[i][j];
                            VSTORE(y + ((ptrdiff_t)(oy + i) * k->wo + ox + j) * co + c, r);
                        }
            }
        }
    }
}

/* ---- pooling ------------------------------------------------------------ */
static KATTR void KFN(pool)(const nn_kpool *p, const float *x, float *y)
{
    /* padded channels hold zeros, and pool to zeros: with a pitch of whole
     * vectors they are pooled with the rest */
    const int cv = p->cp % VW == 0 ? p->cp : (p->c / VW) * VW;
    for (int oy = p->oy0; oy < p->oy1; oy++) {
        int a = oy * p->sh - p->pt;
        int y0 = a < 0 ? 0 : a, y1 = a + p->kh > p->h ? p->h : a + p->kh;
        for (int ox = 0; ox < p->wo; ox++) {
            int bx = ox * p->sw - p->pl;
            int x0 = bx < 0 ? 0 : bx, x1 = bx + p->kw > p->w ? p->w : bx + p->kw;
            float *yo = y + ((ptrdiff_t)oy * p->wo + ox) * p->cp;
            const float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
            for (int c = 0; c < cv; c += VW) {
                V m = p->is_max ? VSET1(-FLT_MAX) : VZERO();
                for (int iy = y0; iy < y1; iy++) {
                    const float *xr = x + ((ptrdiff_t)iy * p->w) * p->cp + c;
                    for (int ix = x0; ix < x1; ix++) {
                        V v = VLOAD(xr + (ptrdiff_t)ix * p->cp);
                        m = p->is_max ? VMAX(m, v) : VADD(m, v);
                    }
                }
                if (!p->is_max)
                    m = VMUL(m, VSET1(inv));
                VSTORE(yo + c, m);
            }
            for (int c = cv; c < p->c; c++) {
                float m = p->is_max ? -FLT_MAX : 0.0f;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        float v = x[((ptrdiff_t)iy * p->w + ix) * p->cp + c];
                        m = p->is_max ? (v > m ? v : m) : m + v;
                    }
                yo[c] = p->is_max ? m : m * inv;
            }
            for (int c = cv > p->c ? cv : p->c; c < p->cp; c++)
                yo[c] = 0.0f;
        }
    }
}

/* ---- depthwise convolution ---------------------------------------------- */
/* Few channels and few multiply-adds per value (ACAI's separable layers):
 * plain loops over the channels, vectorised by the compiler for the ISA. */
static KATTR void KFN(dw)(const nn_kdw *k, const float *x, float *y)
{
    const int n = k->c * k->dm, dm = k->dm;
    if (k->tiled) {
        const size_t L = (size_t)k->wo * k->cp;
        for (int oy = k->oy0; oy < k->oy1; oy++) {
            float *restrict yr = y + (ptrdiff_t)oy * L;
            if (k->b)
                memcpy(yr, k->b, L * sizeof(float));
            else
                memset(yr, 0, L * sizeof(float));
            for (int ky = 0; ky < k->kh; ky++)
                for (int kx = 0; kx < k->kw; kx++) {
                    const float *restrict xr =
                        x + ((ptrdiff_t)(oy * k->sh + ky) * k->w + kx) * k->cp;
                    const float *restrict kt = k->k + ((size_t)ky * k->kw + kx) * L;
                    size_t e = 0;
                    for (; e + VW <= L; e += VW)
                        VSTORE(yr + e, VFMA(VLOAD(xr + e), VLOAD(kt + e), VLOAD(yr + e)));
                    for (; e < L; e++)
                        yr[e] += xr[e] * kt[e];
                }
            if (k->relu)
                for (size_t e = 0; e < L; e++)
                    yr[e] = yr[e] > 0.0f ? yr[e] : 0.0f;
        }
        return;
    }
    for (int oy = k->oy0; oy < k->oy1; oy++)
        for (int ox = 0; ox < k->wo; ox++) {
            float *restrict yo = y + ((ptrdiff_t)oy * k->wo + ox) * k->coutp;
            for (int j = 0; j < n; j++)
                yo[j] = k->b ? k->b[j] : 0.0f;
            for (int ky = 0; ky < k->kh; ky++)
                for (int kx = 0; kx < k->kw; kx++) {
                    const float *restrict xi =
                        x + ((ptrdiff_t)(oy * k->sh + ky) * k->w + ox * k->sw + kx) * k->cp;
                    const float *restrict kv = k->k + ((ptrdiff_t)ky * k->kw + kx) * n;
                    if (dm == 1)
                        for (int j = 0; j < n; j++)
                            yo[j] += xi[j] * kv[j];
                    else
                        for (int ci = 0; ci < k->c; ci++)
                            for (int m = 0; m < dm; m++)
                                yo[ci * dm + m] += xi[ci] * kv[ci * dm + m];
                }
            if (k->relu)
                for (int j = 0; j < n; j++)
                    yo[j] = yo[j] > 0.0f ? yo[j] : 0.0f;
            for (int j = n; j < k->coutp; j++)
                yo[j] = 0.0f;
        }
}

/* ---- training: the element-wise parts of backward ---------------------- */

/* d[p][:] = y[p][:] > 0 ? d[p][:] : 0 when relu (the ReLU derivative from
 * its output); gb[:] += sum over the npix pixels of d (gb may be NULL);
 * cp a multiple of VW. */
static KATTR void KFN(bias_bwd)(const float *y, float *d, size_t npix, int cp, float *gb,
                                int relu)
{
    const V z = VZERO();
    for (int c = 0; c < cp; c += VW) {
        V acc = z;
        for (size_t q = 0; q < npix; q++) {
            V v = VLOAD(d + q * cp + c);
            if (relu) {
                v = VMSEL(VCMPGT(VLOAD(y + q * cp + c), z), v);
                VSTORE(d + q * cp + c, v);
            }
            acc = VADD(acc, v);
        }
        if (gb)
            VSTORE(gb + c, VADD(VLOAD(gb + c), acc));
    }
}

/* Pooling backward: dx (the input's gradient, h x w x cp) = the gradient
 * of d (ho x wo x cp) through the pool whose input was x and output y.
 * Max: each output's gradient goes to the first window position holding
 * the maximum (as the reference engine's argmax); average: spread evenly
 * over the valid cells. */
static KATTR void KFN(pool_bwd_tiled)(const nn_kpool *p, const float *x, const float *y,
                                      const float *d, float *dx);

static KATTR void KFN(pool_bwd)(const nn_kpool *p, const float *x, const float *y,
                                const float *d, float *dx)
{
    if (p->kh == p->sh && p->kw == p->sw) {
        KFN(pool_bwd_tiled)(p, x, y, d, dx);
        return;
    }
    const int cv = (p->cp / VW) * VW;
    memset(dx, 0, (size_t)p->h * p->w * p->cp * sizeof(float));
    for (int oy = 0; oy < p->ho; oy++) {
        int a = oy * p->sh - p->pt;
        int y0 = a < 0 ? 0 : a, y1 = a + p->kh > p->h ? p->h : a + p->kh;
        for (int ox = 0; ox < p->wo; ox++) {
            int bx = ox * p->sw - p->pl;
            int x0 = bx < 0 ? 0 : bx, x1 = bx + p->kw > p->w ? p->w : bx + p->kw;
            const size_t o = ((size_t)oy * p->wo + ox) * p->cp;
            const float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
            for (int c = 0; c < cv; c += VW) {
                const V dv = VLOAD(d + o + c), yv = VLOAD(y + o + c), di = VMUL(dv, VSET1(inv));
                VM todo = VMALL();
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        size_t q = ((size_t)iy * p->w + ix) * p->cp + c;
                        V add = di;
                        if (p->is_max) {
                            VM hit = VMAND(VCMPEQ(VLOAD(x + q), yv), todo);
                            todo = VMANDNOT(todo, hit);
                            add = VMSEL(hit, dv);
                        }
                        VSTORE(dx + q, VADD(VLOAD(dx + q), add));
                    }
            }
            for (int c = cv; c < p->cp; c++) {
                int todo = 1;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        size_t q = ((size_t)iy * p->w + ix) * p->cp + c;
                        if (!p->is_max)
                            dx[q] += d[o + c] * inv;
                        else if (todo && x[q] == y[o + c]) {
                            dx[q] += d[o + c];
                            todo = 0;
                        }
                    }
            }
        }
    }
}

/* Pooling backward when the windows tile the input (stride = size, the
 * usual case): every input cell is in at most one window, so each is
 * written once, without clearing dx first and without read-modify-write;
 * the cells no window covers (beyond the last row / column of windows) are
 * set to 0.  The same values as the general loop (the first cell holding
 * the maximum gets the gradient). */
static KATTR void KFN(pool_bwd_tiled)(const nn_kpool *p, const float *x, const float *y,
                                      const float *d, float *dx)
{
    const int cv = (p->cp / VW) * VW;
    const size_t cp = (size_t)p->cp;
    int yc = p->ho * p->sh - p->pt, xc = p->wo * p->sw - p->pl; /* covered: [0, yc) x [0, xc) */
    yc = yc > p->h ? p->h : yc;
    xc = xc > p->w ? p->w : xc;
    for (int iy = 0; iy < yc; iy++)
        if (xc < p->w)
            memset(dx + ((size_t)iy * p->w + xc) * cp, 0, (size_t)(p->w - xc) * cp * sizeof(float));
    if (yc < p->h)
        memset(dx + (size_t)yc * p->w * cp, 0, (size_t)(p->h - yc) * p->w * cp * sizeof(float));
    for (int oy = 0; oy < p->ho; oy++) {
        int a = oy * p->sh - p->pt;
        int y0 = a < 0 ? 0 : a, y1 = a + p->kh > p->h ? p->h : a + p->kh;
        for (int ox = 0; ox < p->wo; ox++) {
            int bx = ox * p->sw - p->pl;
            int x0 = bx < 0 ? 0 : bx, x1 = bx + p->kw > p->w ? p->w : bx + p->kw;
            const size_t o = ((size_t)oy * p->wo + ox) * cp;
            const float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
            for (int c = 0; c < cv; c += VW) {
                const V dv = VLOAD(d + o + c), yv = VLOAD(y + o + c), di = VMUL(dv, VSET1(inv));
                VM todo = VMALL();
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        size_t q = ((size_t)iy * p->w + ix) * cp + c;
                        if (p->is_max) {
                            VM hit = VMAND(VCMPEQ(VLOAD(x + q), yv), todo);
                            todo = VMANDNOT(todo, hit);
                            VSTORE(dx + q, VMSEL(hit, dv));
                        } else {
                            VSTORE(dx + q, di);
                        }
                    }
            }
            for (int c = cv; c < p->cp; c++) {
                int todo = 1;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        size_t q = ((size_t)iy * p->w + ix) * cp + c;
                        if (!p->is_max) {
                            dx[q] = d[o + c] * inv;
                        } else if (todo && x[q] == y[o + c]) {
                            dx[q] = d[o + c];
                            todo = 0;
                        } else {
                            dx[q] = 0.0f;
                        }
                    }
            }
        }
    }
}

/* y[i] = a[i] * b[i], i < n (Dropout masks) */
static KATTR void KFN(mul)(const float *a, const float *b, float *y, size_t n)
{
    size_t i = 0;
    for (; i + VW <= n; i += VW)
        VSTORE(y + i, VMUL(VLOAD(a + i), VLOAD(b + i)));
    for (; i < n; i++)
        y[i] = a[i] * b[i];
}

/* ---- measured peak ------------------------------------------------------ */
static double KFN(now)(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static KATTR __attribute__((noinline)) V KFN(peak_loop)(long n, V m, V c)
{
#define P_DECL(i) V p##i = VADD(c, VSET1((float)(i) * 1e-3f));
    REP14(P_DECL)
    for (long it = 0; it < n; it++) {
#define P_FMA(i)                  \
    if (i < PEAK_CHAINS)          \
        p##i = VFMA(p##i, m, c);
        REP14(P_FMA)
#if defined(__GNUC__)
        __asm__ volatile("" : : : "memory");
#endif
    }
    V s = VZERO();
#define P_SUM(i)                  \
    if (i < PEAK_CHAINS)          \
        s = VADD(s, p##i);
    REP14(P_SUM)
    return s;
}

static KATTR double KFN(peak)(double seconds)
{
    const V m = VSET1(0.999f), c = VSET1(1e-4f);
    long n = 1 << 16;
    double best = 0, t0 = KFN(now)(), tend = t0 + seconds;
    volatile float sink = 0;
    for (;;) {
        double a = KFN(now)();
        V s = KFN(peak_loop)(n, m, c);
        double dt = KFN(now)() - a;
        float tmp[VW];
        VSTORE(tmp, s);
        sink += tmp[0];
        if (dt > 0) {
            double g = (double)n * PEAK_CHAINS * VW * 2.0 / dt * 1e-9;
            if (g > best)
                best = g;
        }
        if (dt < 0.01)
            n *= 2;
        if (KFN(now)() > tend)
            break;
    }
    (void)sink;
    return best;
}

static const nn_kernels KFN(table) = {KFN_ISA_NAME,  KFN(conv),     KFN(pool),
                                      KFN(wino),     KFN(dw),       WINO_MIN_CC,
                                      KFN(peak),     KFN(bias_bwd), KFN(pool_bwd),
                                      KFN(mul)};
