/* nn_kernels.h — internal to the inference fast path (nn_plan.c): the
 * per-ISA compute kernels and their runtime selection.
 *
 * Not installed.  Every kernel is written once (nn_kernels_tmpl.h) and
 * compiled three times: portable C with GCC vector extensions
 * (nn_kernels_generic.c), AVX2+FMA (nn_kernels_avx2.c) and AVX-512
 * (nn_kernels_avx512.c), the latter two with the target set in the file, so
 * that the library is built for plain x86-64 and picks the widest kernels the
 * CPU it runs on supports (__builtin_cpu_supports).
 *
 * Data layout seen by the kernels: channels-last images whose channel pitch
 * (floats between two pixels) may exceed the logical channel count; output
 * channel pitches are multiples of 16 (NN_KCHAN), padded channels hold 0.
 *
 * Thread safety: kernels are reentrant; they write only their output.
 */
#ifndef SV_NN_KERNELS_H
#define SV_NN_KERNELS_H

#include <stddef.h>

#define NN_KCHAN 16 /* output channel pitch granularity (one AVX-512 vector) */

/* A convolution-like product, the shared shape of Conv2D (valid, on an
 * already padded input), Dense (rows of a matrix) and, in training
 * (nn_train.c), of their data and weight gradients:
 *   y[oy][ox][0:coutp] = act(s + sum_{ky<kh} sum_{q<kk}
 *       x[oy*x_orow + ox*x_col + ky*x_row + q*x_kk] * w[(ky*kk + q)*coutp + :])
 * written at y + oy*y_row + ox*y_col, where s is the bias b, or (acc = 1)
 * what y held before (b must still point to coutp readable floats). */
typedef struct nn_kconv {
    int ho, wo;          /* output rows and columns                          */
    int kh;              /* kernel rows                                      */
    int kk;              /* reduction length of one kernel row (kw * cin pitch) */
    ptrdiff_t x_orow;    /* input floats between output rows (sh * row pitch) */
    ptrdiff_t x_col;     /* input floats between output columns (sw * pitch) */
    ptrdiff_t x_row;     /* input floats between kernel rows (row pitch)     */
    ptrdiff_t x_kk;      /* input floats between reduction steps (1 for conv) */
    int coutp;           /* output channels, a multiple of NN_KCHAN          */
    ptrdiff_t y_row, y_col;
    const float *w;      /* (kh * kk) x coutp                                */
    const float *b;      /* coutp                                            */
    int relu;            /* fuse max(0, .)                                   */
    int acc;             /* add to y instead of starting from the bias       */
} nn_kconv;

/* MaxPool2D / AveragePool2D on a channels-last image of pitch cp (TF "same":
 * padded cells ignored by max, not counted by the average).  Pools channels
 * 0..c-1; y has pitch cp too and its channels c..cp-1 are set to 0. */
typedef struct nn_kpool {
    int h, w, c, cp;
    int ho, wo, kh, kw, sh, sw, pt, pl;
    int is_max;
    int oy0, oy1;        /* the output rows computed: [oy0, oy1)             */
} nn_kpool;

/* Winograd F(2x2, 3x3): a 3x3 stride-1 valid convolution computed on 2x2
 * output tiles, each from a 4x4 input patch: V = B'dB per input channel
 * vector, then for each of the 16 positions M = V U (a product over input
 * channels with the transformed weights U = G g G'), then Y = A'MA plus bias
 * (and ReLU).  2.25 times fewer multiplications than direct convolution.
 * Input rows and columns beyond h, w read as zero; outputs beyond ho, wo
 * are not written.  Tile rows [ty0, ty1) are computed, tw = (wo + 1) / 2
 * tiles each, through the caller's scratch v (16 * tw * cp floats) and
 * m (16 * tw * coutp floats). */
typedef struct nn_kwino {
    int h, w, cp;        /* input size and channel pitch (a multiple of 16) */
    int ho, wo, coutp;
    const float *u;      /* 16 x cp x coutp                                  */
    const float *b;      /* coutp                                            */
    const float *zero;   /* coutp zeros                                      */
    int relu;
} nn_kwino;

/* DepthwiseConv2D, valid, on a channels-last image: output pixel (oy, ox),
 * channel ci*dm + m = b[ci*dm + m] (0 without b) + sum over ky < kh, kx < kw
 * of x[oy*sh + ky][ox*sw + kx][ci] * k[ky][kx][ci][m] (Keras' kernel order,
 * (kh, kw, c, dm)), then max(0, .) when relu; output channels c*dm..coutp-1
 * are set to 0.  Only output rows [oy0, oy1) are computed.
 * Tiled form (dm 1, column stride 1, coutp = cp): a whole output row is one
 * run of wo*cp values, each tap adding the input row shifted by kx pixels
 * times k and b given as tiles of wo*cp values (the kernel's values
 * repeated per pixel, 0 at padded channels): k holds kh*kw such tiles. */
typedef struct nn_kdw {
    int w, c, cp;        /* input columns, channels and channel pitch        */
    int ho, wo, kh, kw, sh, sw, dm;
    int coutp;           /* output channel pitch (>= c * dm)                 */
    int tiled;
    const float *k;      /* kh * kw * c * dm, or tiled: kh * kw * wo * cp    */
    const float *b;      /* c * dm (tiled: wo * cp), or NULL                 */
    int relu;
    int oy0, oy1;
} nn_kdw;

typedef struct nn_kernels {
    const char *isa;                 /* "generic", "avx2", "avx512"          */
    void (*conv)(const nn_kconv *k, const float *x, float *y);
    void (*pool)(const nn_kpool *p, const float *x, float *y);
    void (*wino)(const nn_kwino *k, const float *x, float *y, int ty0, int ty1, float *v,
                 float *m);
    void (*dw)(const nn_kdw *k, const float *x, float *y);
    /* Winograd pays off on this ISA when (input channel pitch) x (output
     * channel pitch) reaches this (measured on braai's layers: with 32
     * registers of 16 floats the direct kernel already runs near peak on
     * 16 -> 16 channels) */
    int wino_min_cc;
    /* Sustained FP32 FMA throughput of one core in GFLOP/s, measured by a
     * register-resident FMA loop of about `seconds`. */
    double (*peak_gflops)(double seconds);
    /* training (nn_train.c), the element-wise parts of backward: see
     * nn_kernels_tmpl.h */
    void (*bias_bwd)(const float *y, float *d, size_t npix, int cp, float *gb, int relu);
    void (*pool_bwd)(const nn_kpool *p, const float *x, const float *y, const float *d,
                     float *dx);
    void (*mul)(const float *a, const float *b, float *y, size_t n);
} nn_kernels;

/* The kernel sets compiled into this build (NULL when the file was compiled
 * for a target without that ISA).  They do not check the CPU: see
 * nn_plan_isa_supported(). */
const nn_kernels *nn_kernels_generic(void);
const nn_kernels *nn_kernels_avx2(void);
const nn_kernels *nn_kernels_avx512(void);

#endif
