/* lc_infer.c — the inference fast path of light-curve networks.  See
 * lc_infer.h. */
#include "nn/fast/lc_infer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "nn/nn_layers.h" /* nn_act_forward */

/* ---- vectorised gate kernels ------------------------------------------------ */

typedef float v16sf __attribute__((vector_size(64)));
typedef int32_t v16si __attribute__((vector_size(64)));

/* The vector helpers are macros (GNU statement expressions), so that no
 * function takes or returns a 64-byte vector (an ABI that differs between
 * the clones). */
#define vsplat(x) ((v16sf){0} + (float)(x))
#define vload(p)                                                                                \
    ({                                                                                          \
        v16sf v_;                                                                               \
        memcpy(&v_, (p), sizeof v_);                                                            \
        v_;                                                                                     \
    })
#define vstore(p, v)                                                                            \
    do {                                                                                        \
        v16sf s_ = (v);                                                                         \
        memcpy((p), &s_, sizeof s_);                                                            \
    } while (0)
/* mask ? a : b */
#define vsel(mask, a, b) ((v16sf)(((mask) & (v16si)(a)) | (~(mask) & (v16si)(b))))

/* exp, Cephes' single-precision polynomial (|rel. error| < 2e-7) */
/* the arguments must lie within +-88 (callers clamp) */
#define vexp(xin)                                                                               \
    ({                                                                                          \
        v16sf x_ = (xin);                                                                       \
        v16sf fx_ = x_ * vsplat(1.44269504088896341f) + vsplat(0.5f);                           \
        v16si n_ = __builtin_convertvector(fx_, v16si);                                         \
        v16sf nf_ = __builtin_convertvector(n_, v16sf);                                         \
        n_ = n_ + (v16si)(nf_ > fx_); /* truncation went up: floor */                           \
        nf_ = __builtin_convertvector(n_, v16sf);                                               \
        x_ = x_ - nf_ * vsplat(0.693359375f) - nf_ * vsplat(-2.12194440e-4f);                   \
        v16sf z_ = x_ * x_;                                                                     \
        v16sf p_ = vsplat(1.9875691500E-4f);                                                    \
        p_ = p_ * x_ + vsplat(1.3981999507E-3f);                                                \
        p_ = p_ * x_ + vsplat(8.3334519073E-3f);                                                \
        p_ = p_ * x_ + vsplat(4.1665795894E-2f);                                                \
        p_ = p_ * x_ + vsplat(1.6666665459E-1f);                                                \
        p_ = p_ * x_ + vsplat(5.0000001201E-1f);                                                \
        p_ = p_ * z_ + x_ + vsplat(1.0f);                                                       \
        v16si e_ = (n_ + 127) << 23;                                                            \
        p_ * (v16sf)e_;                                                                         \
    })
/* Arguments are clamped to +-30 (sigmoid) and +-15 (tanh): beyond, the
 * results differ from the exact ones by less than 1e-13 and never become
 * subnormal (subnormals slow some FMA units down by an order of magnitude). */
#define vclamp(x, c)                                                                            \
    ({                                                                                          \
        v16sf k_ = (x);                                                                         \
        k_ = vsel(k_ > vsplat(c), vsplat(c), k_);                                               \
        vsel(k_ < vsplat(-(c)), vsplat(-(c)), k_);                                              \
    })
#define vsigmoid(x) (vsplat(1.0f) / (vsplat(1.0f) + vexp(-vclamp((x), 30.0f))))
#define vtanh(x)                                                                                \
    ({                                                                                          \
        v16sf t_ = vclamp((x), 15.0f);                                                          \
        vsplat(1.0f) - vsplat(2.0f) / (vsplat(1.0f) + vexp(t_ + t_));                           \
    })
#define vhsig(x)                                                                                \
    ({                                                                                          \
        v16sf h_ = vsplat(0.2f) * (x) + vsplat(0.5f);                                           \
        h_ = vsel(h_ < vsplat(0.0f), vsplat(0.0f), h_);                                         \
        vsel(h_ > vsplat(1.0f), vsplat(1.0f), h_);                                              \
    })


/* ---- products with packed, padded right-hand sides ------------------------------
 * C (N x Mp, row stride ldc) = A (N x K, row stride lda) . B (K x Mp), with
 * Mp a multiple of 32 and B packed row-major with row stride Mp (zero
 * columns beyond the real ones).  Register-blocked kernels for AVX-512
 * (4 rows x 32 columns), AVX2 + FMA (4 x 16) and portable C (4 x 8),
 * chosen at plan time from what the CPU has.  No BLAS: OpenBLAS would
 * start its own threads on the large products (a batch's every step at
 * once), and at the small ones (K = units, Mp = 3 units) its packing costs
 * more than the product: the AVX-512 kernel ran them about twice as fast. */

typedef void (*gemm_fn)(int N, int K, int Mp, const float *A, int lda, const float *B,
                        float *C, int ldc);

typedef float v4sf __attribute__((vector_size(16)));
#define KERNEL_BODY(VT, W)                                                                     \
    int n = 0;                                                                                 \
    for (; n + 4 <= N; n += 4) {                                                               \
        const float *a0 = A + (size_t)n * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda; \
        for (int j = 0; j < Mp; j += 2 * W) {                                                  \
            VT c00 = {0}, c10 = {0}, c20 = {0}, c30 = {0};                                     \
            VT c01 = {0}, c11 = {0}, c21 = {0}, c31 = {0};                                     \
            const float *b = B + j;                                                            \
            for (int k = 0; k < K; k++, b += Mp) {                                             \
                VT b0, b1;                                                                     \
                memcpy(&b0, b, sizeof b0);                                                     \
                memcpy(&b1, b + W, sizeof b1);                                                 \
                c00 += a0[k] * b0;                                                             \
                c10 += a1[k] * b0;                                                             \
                c20 += a2[k] * b0;                                                             \
                c30 += a3[k] * b0;                                                             \
                c01 += a0[k] * b1;                                                             \
                c11 += a1[k] * b1;                                                             \
                c21 += a2[k] * b1;                                                             \
                c31 += a3[k] * b1;                                                             \
            }                                                                                  \
            float *c = C + (size_t)n * ldc + j;                                                \
            memcpy(c, &c00, sizeof c00);                                                       \
            memcpy(c + W, &c01, sizeof c01);                                                   \
            memcpy(c + ldc, &c10, sizeof c10);                                                 \
            memcpy(c + ldc + W, &c11, sizeof c11);                                             \
            memcpy(c + 2 * (size_t)ldc, &c20, sizeof c20);                                     \
            memcpy(c + 2 * (size_t)ldc + W, &c21, sizeof c21);                                 \
            memcpy(c + 3 * (size_t)ldc, &c30, sizeof c30);                                     \
            memcpy(c + 3 * (size_t)ldc + W, &c31, sizeof c31);                                 \
        }                                                                                      \
    }                                                                                          \
    for (; n < N; n++) {                                                                       \
        const float *a = A + (size_t)n * lda;                                                  \
        for (int j = 0; j < Mp; j += W) {                                                      \
            VT c0 = {0}, bv;                                                                   \
            const float *b = B + j;                                                            \
            for (int k = 0; k < K; k++, b += Mp) {                                             \
                memcpy(&bv, b, sizeof bv);                                                     \
                c0 += a[k] * bv;                                                               \
            }                                                                                  \
            memcpy(C + (size_t)n * ldc + j, &c0, sizeof c0);                                   \
        }                                                                                      \
    }

/* portable C (GCC vector extensions) */
static void gemm_generic(int N, int K, int Mp, const float *A, int lda, const float *B, float *C,
                         int ldc)
{
    KERNEL_BODY(v4sf, 4)
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LC_HAVE_KERNELS 1
typedef float v8sf __attribute__((vector_size(32)));
/* 4 rows x 2 vectors of W floats per step of j; VT is the vector type */
__attribute__((target("avx512f,fma"))) static void gemm_avx512(int N, int K, int Mp,
                                                              const float *A, int lda,
                                                              const float *B, float *C, int ldc)
{
    KERNEL_BODY(v16sf, 16)
}

__attribute__((target("avx2,fma"))) static void gemm_avx2(int N, int K, int Mp, const float *A,
                                                         int lda, const float *B, float *C,
                                                         int ldc)
{
    KERNEL_BODY(v8sf, 8)
}
#endif
#undef KERNEL_BODY

/* ---- the kernels of one instruction set ----------------------------------------- */

typedef void (*gates_ra_fn)(int N, int u, int hard, const float *xp, size_t xs,
                            const float *b_in, const float *hp, size_t hs, const float *b_rec,
                            float *h);
typedef void (*gates_first_fn)(int N, int u, int hard, const float *xp, size_t xs,
                               const float *b_in, const float *hp, size_t hs, const float *h,
                               float *zbuf, float *rh);
typedef void (*gates_second_fn)(int N, int u, const float *xp, size_t xs, const float *b_in,
                                const float *hhp, size_t hhs, const float *zbuf, float *h);

typedef void (*gates_lstm_fn)(int N, int u, int hard, const float *xp, size_t xs,
                              const float *b, const float *hp, size_t hs, float *h, float *c);
typedef void (*bias_act_fn)(size_t rows, int cols, const float *src, size_t lds,
                            const float *bias, int act, float *dst, size_t ldd);

typedef struct lc_kernels {
    gemm_fn gemm;
    gates_ra_fn reset_after;
    gates_first_fn first;
    gates_second_fn second;
    gates_lstm_fn lstm;
    bias_act_fn bias_act;
} lc_kernels;

#define LC_TARGET
#define LC_NAME(f) f##_generic
#include "nn/fast/lc_gates_tmpl.h"
#ifdef LC_HAVE_KERNELS
#define LC_TARGET __attribute__((target("avx2")))
#define LC_NAME(f) f##_avx2
#include "nn/fast/lc_gates_tmpl.h"
#define LC_TARGET __attribute__((target("avx512f")))
#define LC_NAME(f) f##_avx512
#include "nn/fast/lc_gates_tmpl.h"
#endif

/* The kernels for isa (cpu.h; AUTO: the best the CPU has): the products
 * and the gates on the ISA's copies (never BLAS, whose threads a host
 * controls, not us).  0, or SV_ERR_UNSUPPORTED when the CPU or this build
 * cannot run isa. */
static int pick_kernels(nn_isa isa, lc_kernels *k, sv_error *err)
{
    if (isa == NN_ISA_AUTO)
        isa = sv_cpu_best();
    if (!sv_cpu_can_run(isa))
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "light-curve fast path: this CPU cannot run %s", nn_isa_name(isa));
    *k = (lc_kernels){gemm_generic,        gates_reset_after_generic, gates_first_generic,
                      gates_second_generic, gates_lstm_generic,        bias_act_generic};
    if (isa == NN_ISA_GENERIC)
        return SV_OK;
#ifdef LC_HAVE_KERNELS
    if (isa == NN_ISA_AVX2) {
        *k = (lc_kernels){gemm_avx2,        gates_reset_after_avx2, gates_first_avx2,
                          gates_second_avx2, gates_lstm_avx2,        bias_act_avx2};
        return SV_OK;
    }
    if (isa == NN_ISA_AVX512) {
        *k = (lc_kernels){gemm_avx512,         gates_reset_after_avx512, gates_first_avx512,
                          gates_second_avx512, gates_lstm_avx512,        bias_act_avx512};
        return SV_OK;
    }
#endif
    return sv_error_set(err, SV_ERR_UNSUPPORTED,
                        "light-curve fast path: this build has no %s kernels", nn_isa_name(isa));
}

static int pad32(int n) { return (n + 31) / 32 * 32; }

/* B (K x M, row stride ldb) -> packed (K x pad32(M)), zero padded */
static float *pack(const float *B, int K, int M, int ldb)
{
    int Mp = pad32(M);
    float *P = calloc((size_t)K * Mp, sizeof(float));
    if (P)
        for (int k = 0; k < K; k++)
            memcpy(P + (size_t)k * Mp, B + (size_t)k * ldb, (size_t)M * sizeof(float));
    return P;
}

/* ---- the plan ----------------------------------------------------------------- */

typedef struct op {
    const nn_layer *L;
    int kind;
    int in[NN_MAX_INPUTS];
    float *out;           /* owned buffer, or NULL when aliased / input     */
    const float *y;       /* this run's output                             */
    float *bn_scale, *bn_shift; /* BatchNormalization, folded             */
    float *Wp, *Up, *Uh;  /* GRU: packed input kernel (F x pad(3u)), recurrent
                             kernel (u x pad(3u), or the z r part u x pad(2u)
                             and the h part u x pad(u) when not reset_after);
                             LSTM: F x pad(4u) and u x pad(4u);
                             Conv1D: the kernel (K*C x pad(filters))      */
    int To, pb;           /* Conv1D: output steps, leading padding         */
    double *acc;          /* GlobalAveragePooling1D: the channel sums      */
} op;

struct sv_lc_infer {
    const nn_net *net;
    int max_batch;
    int chunk;            /* samples per pass through the layers (below)   */
    float *yout;          /* the batch's output when it takes several passes */
    op *ops;
    float *xp, *hp, *h, *zb, *rh, *hh; /* GRU and LSTM scratch             */
    float *c, *hsave, *csave;          /* LSTM cell state; masked rows'
                                          state kept across a step         */
    int *keep;                         /* step mask, N x T (1 = kept)      */
    float *col, *cy;                   /* Conv1D: im2col rows, padded out  */
    lc_kernels k;
};

void sv_lc_infer_free(sv_lc_infer *p)
{
    if (!p)
        return;
    if (p->ops)
        for (int i = 0; i < p->net->n_layers; i++) {
            free(p->ops[i].out);
            free(p->ops[i].bn_scale);
            free(p->ops[i].bn_shift);
            free(p->ops[i].Wp);
            free(p->ops[i].Up);
            free(p->ops[i].Uh);
            free(p->ops[i].acc);
        }
    free(p->ops);
    free(p->xp);
    free(p->hp);
    free(p->h);
    free(p->zb);
    free(p->rh);
    free(p->hh);
    free(p->c);
    free(p->hsave);
    free(p->csave);
    free(p->keep);
    free(p->col);
    free(p->cy);
    free(p->yout);
    free(p);
}

sv_lc_infer *sv_lc_infer_new(const nn_net *net, int max_batch, sv_error *err)
{
    const char *text = NULL;
    int isa = sv_isa_requested(&text);
    if (isa < 0) {
        sv_error_set(err, SV_ERR_ARG,
                     "light-curve fast path: STAMPVET_ISA='%s' is not one of auto, generic, "
                     "avx2, avx512, reference", text);
        return NULL;
    }
    return sv_lc_infer_new_isa(net, max_batch, (nn_isa)isa, err);
}

sv_lc_infer *sv_lc_infer_new_isa(const nn_net *net, int max_batch, nn_isa isa, sv_error *err)
{
    lc_kernels k;
    if (isa == NN_ISA_REFERENCE) {
        sv_error_set(err, SV_ERR_UNSUPPORTED, "light-curve fast path: the reference engine "
                     "was asked for");
        return NULL;
    }
    if (pick_kernels(isa, &k, err))
        return NULL;
    if (!net || !net->finalized || max_batch < 1 || max_batch > (1 << 20)) {
        sv_error_set(err, SV_ERR_ARG, "light-curve fast path: no finalised net or bad batch");
        return NULL;
    }
    size_t xp = 0, hp = 0, hu = 0, keep = 0, col = 0, cy = 0, widest = 1;
    int lstm = 0, recurrent = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        switch (L->kind) {
        case NN_INPUT:
        case NN_DROPOUT:
        case NN_ACTIVATION:
        case NN_ADD:
            break;
        case NN_DENSE:
            if (L->units % 32 && L->out_size / L->units * pad32(L->units) > cy)
                cy = L->out_size / L->units * pad32(L->units);
            if (L->rank > 2) {
                sv_error_set(err, SV_ERR_UNSUPPORTED, "light-curve fast path: layer '%s' "
                             "(dense on images)", L->name);
                return NULL;
            }
            break;
        case NN_CONCAT:
            break;
        case NN_BATCHNORM:
            if (L->rank > 2) {
                sv_error_set(err, SV_ERR_UNSUPPORTED, "light-curve fast path: layer '%s' "
                             "(batch normalisation of images)", L->name);
                return NULL;
            }
            break;
        case NN_MASKING:
            break;
        case NN_GLOBAL_AVGPOOL1D:
            if (L->n_in == 2 && (size_t)net->layers[L->in[0]].shape[0] > keep)
                keep = (size_t)net->layers[L->in[0]].shape[0];
            break;
        case NN_CONV1D: {
            const nn_layer *In = &net->layers[L->in[0]];
            int To, pb;
            nn_conv1d_geometry(In->shape[0], L->kh, L->sh, L->dilation, L->padding, &To, &pb);
            size_t kc = (size_t)L->kh * In->shape[1];
            if (!(L->kh == 1 && L->sh == 1 && pb == 0) && (size_t)To * kc > col)
                col = (size_t)To * kc;
            if (L->filters % 32 && (size_t)To * pad32(L->filters) > cy)
                cy = (size_t)To * pad32(L->filters);
            break;
        }
        case NN_GRU:
        case NN_LSTM: {
            const nn_layer *In = &net->layers[L->in[0]];
            const int gates = L->kind == NN_GRU ? 3 : 4;
            const char *what = L->kind == NN_GRU ? "GRU" : "LSTM";
            if (L->act != NN_ACT_TANH ||
                (L->recurrent_act != NN_ACT_SIGMOID &&
                 L->recurrent_act != NN_ACT_HARD_SIGMOID)) {
                sv_error_set(err, SV_ERR_UNSUPPORTED, "light-curve fast path: %s '%s' with "
                             "activation %s / %s", what, L->name, nn_act_name(L->act),
                             nn_act_name(L->recurrent_act));
                return NULL;
            }
            size_t T = (size_t)In->shape[0], up = (size_t)pad32(L->units);
            size_t ugp = (size_t)pad32(gates * L->units);
            if (T * ugp > xp)
                xp = T * ugp;
            if (ugp > hp)
                hp = ugp;
            if (up > hu)
                hu = up;
            if (L->n_in == 2 && T > keep)
                keep = T;
            lstm |= L->kind == NN_LSTM;
            recurrent = 1;
            break;
        }
        default:
            sv_error_set(err, SV_ERR_UNSUPPORTED, "light-curve fast path: layer '%s' (%s)",
                         L->name, nn_kind_name(L->kind));
            return NULL;
        }
    }
    /* A network without recurrent layers runs a large batch in passes of
     * `chunk` samples, so that each layer's buffer (about 256 KB at most)
     * stays in cache between the layers that write and read it: every
     * sample is independent, and the products still have chunk * T rows.
     * Recurrent layers keep the whole batch (their per-step products are
     * over the batch's rows). */
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].out_size > widest)
            widest = net->layers[i].out_size;
    if (col > widest)
        widest = col;
    if (cy > widest)
        widest = cy;
    size_t chunk = recurrent ? (size_t)max_batch : 65536 / widest;
    if (chunk < 1)
        chunk = 1;
    if (chunk > (size_t)max_batch)
        chunk = (size_t)max_batch;
    sv_lc_infer *p = calloc(1, sizeof *p);
    if (!p) {
        sv_error_set(err, SV_ERR_NOMEM, "light-curve fast path: out of memory");
        return NULL;
    }
    p->net = net;
    p->max_batch = max_batch;
    p->chunk = (int)chunk;
    p->k = k;
    p->ops = calloc((size_t)(net->n_layers > 0 ? net->n_layers : 1), sizeof *p->ops);
    size_t N = chunk;
    int ok = p->ops != NULL;
    if (ok && chunk < (size_t)max_batch)
        ok = (p->yout = malloc((size_t)max_batch * net->layers[net->output].out_size *
                               sizeof(float))) != NULL;
    if (ok && xp) {
        p->xp = malloc(N * xp * sizeof(float));
        p->hp = malloc(N * hp * sizeof(float));
        p->h = malloc(N * hu * sizeof(float));
        p->zb = malloc(N * hu * sizeof(float));
        p->rh = malloc(N * hu * sizeof(float));
        p->hh = malloc(N * hu * sizeof(float));
        p->hsave = malloc(N * hu * sizeof(float));
        ok = p->xp && p->hp && p->h && p->zb && p->rh && p->hh && p->hsave;
        if (ok && lstm) {
            p->c = malloc(N * hu * sizeof(float));
            p->csave = malloc(N * hu * sizeof(float));
            ok = p->c && p->csave;
        }
    }
    if (ok && keep)
        ok = (p->keep = malloc(N * keep * sizeof(int))) != NULL;
    if (ok && col)
        ok = (p->col = malloc(N * col * sizeof(float))) != NULL;
    if (ok && cy)
        ok = (p->cy = malloc(N * cy * sizeof(float))) != NULL;
    for (int i = 0; ok && i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        op *o = &p->ops[i];
        o->L = L;
        if (L->kind == NN_INPUT || L->kind == NN_DROPOUT)
            continue;
        o->out = malloc(N * L->out_size * sizeof(float));
        ok = o->out != NULL;
        if (ok && L->kind == NN_GRU) {
            int u = L->units, F = net->layers[L->in[0]].shape[1];
            o->Wp = pack(L->p[0].w, F, 3 * u, 3 * u);
            if (L->reset_after) {
                o->Up = pack(L->p[1].w, u, 3 * u, 3 * u);
                ok = o->Wp && o->Up;
            } else {
                o->Up = pack(L->p[1].w, u, 2 * u, 3 * u);
                o->Uh = pack(L->p[1].w + 2 * u, u, u, 3 * u);
                ok = o->Wp && o->Up && o->Uh;
            }
        }
        if (ok && L->kind == NN_LSTM) {
            int u = L->units, F = net->layers[L->in[0]].shape[1];
            o->Wp = pack(L->p[0].w, F, 4 * u, 4 * u);
            o->Up = pack(L->p[1].w, u, 4 * u, 4 * u);
            ok = o->Wp && o->Up;
        }
        if (ok && L->kind == NN_CONV1D) {
            const nn_layer *In = &net->layers[L->in[0]];
            nn_conv1d_geometry(In->shape[0], L->kh, L->sh, L->dilation, L->padding, &o->To,
                               &o->pb);
            /* the Keras kernel (K, C, filters) is the (K*C) x filters matrix */
            o->Wp = pack(L->p[0].w, L->kh * In->shape[1], L->filters, L->filters);
            ok = o->Wp != NULL;
        }
        if (ok && L->kind == NN_DENSE) {
            int fin = net->layers[L->in[0]].shape[net->layers[L->in[0]].rank - 1];
            o->Wp = pack(L->p[0].w, fin, L->units, L->units);
            ok = o->Wp != NULL;
        }
        if (ok && L->kind == NN_GLOBAL_AVGPOOL1D)
            ok = (o->acc = malloc((size_t)L->shape[0] * sizeof(double))) != NULL;
        if (ok && L->kind == NN_BATCHNORM) {
            int C = L->shape[L->rank - 1];
            o->bn_scale = malloc((size_t)C * sizeof(float));
            o->bn_shift = malloc((size_t)C * sizeof(float));
            ok = o->bn_scale && o->bn_shift;
            /* parameters: gamma, beta, moving_mean, moving_variance (any of
             * gamma / beta may be absent: find them by name) */
            const float *g = NULL, *b = NULL, *mu = NULL, *var = NULL;
            for (int j = 0; j < L->n_params; j++) {
                const char *pn = L->p[j].name;
                if (!strcmp(pn, "gamma"))
                    g = L->p[j].w;
                else if (!strcmp(pn, "beta"))
                    b = L->p[j].w;
                else if (!strcmp(pn, "moving_mean"))
                    mu = L->p[j].w;
                else if (!strcmp(pn, "moving_variance"))
                    var = L->p[j].w;
            }
            if (ok && (!mu || !var)) {
                sv_error_set(err, SV_ERR_UNSUPPORTED, "light-curve fast path: layer '%s' "
                             "without moving statistics", L->name);
                sv_lc_infer_free(p);
                return NULL;
            }
            for (int c = 0; ok && c < C; c++) {
                float inv = 1.0f / sqrtf(var[c] + L->epsilon);
                float sc = (g ? g[c] : 1.0f) * inv;
                o->bn_scale[c] = sc;
                o->bn_shift[c] = (b ? b[c] : 0.0f) - mu[c] * sc;
            }
        }
    }
    if (!ok) {
        sv_error_set(err, SV_ERR_NOMEM, "light-curve fast path: out of memory");
        sv_lc_infer_free(p);
        return NULL;
    }
    return p;
}

/* ---- masks --------------------------------------------------------------------- */

/* Does the step (F values) hold a value other than the mask value?  (NaN
 * differs from everything: kept, as Keras and nn_layer_mask.c.) */
static int step_kept(const float *v, int F, float mask_value)
{
    for (int f = 0; f < F; f++)
        if (v[f] != mask_value)
            return 1;
    return 0;
}

/* keep[n T + t] = step t of sample n kept, for the mask producer m (N x T x F) */
static void step_mask(const float *m, int N, int T, int F, float mask_value, int *keep)
{
    for (size_t s = 0; s < (size_t)N * T; s++)
        keep[s] = step_kept(m + s * (size_t)F, F, mask_value);
}

/* The rows kept at step t (all N without a mask). */
static int kept_rows(const int *keep, int N, int T, int t)
{
    if (!keep)
        return N;
    int k = 0;
    for (int n = 0; n < N; n++)
        k += keep[(size_t)n * T + t] != 0;
    return k;
}

/* Copy the state of the rows masked at step t from src to dst (rows of u). */
static void masked_copy(const int *keep, int N, int T, int t, int u, const float *src,
                        float *dst)
{
    for (int n = 0; n < N; n++)
        if (!keep[(size_t)n * T + t])
            memcpy(dst + (size_t)n * u, src + (size_t)n * u, (size_t)u * sizeof(float));
}

/* The step mask of a masked layer (two producers: in[1] is the mask's
 * source), in p->keep; NULL for one producer. */
static const int *layer_mask(sv_lc_infer *p, const nn_layer *L, int N)
{
    if (L->n_in != 2)
        return NULL;
    const nn_layer *M = &p->net->layers[L->in[1]];
    step_mask(p->ops[L->in[1]].y, N, M->shape[0], M->shape[1], L->mask_value, p->keep);
    return p->keep;
}

/* ---- activations ------------------------------------------------------------------ */

static int vector_act(nn_act a)
{
    return a == NN_ACT_LINEAR || a == NN_ACT_RELU || a == NN_ACT_SIGMOID || a == NN_ACT_TANH ||
           a == NN_ACT_HARD_SIGMOID;
}

/* dst (rows x cols, dense) = act(src (row stride lds) + bias) with L's
 * fused activation: the ISA's vector kernel where it has the function,
 * else nn_act_forward.  bias may be NULL, src may be dst (lds == cols). */
static void bias_act(const sv_lc_infer *p, const nn_layer *L, size_t rows, int cols,
                     const float *src, size_t lds, const float *bias, float *dst)
{
    if (L->act == NN_ACT_LINEAR && !bias && src == dst)
        return;
    if (vector_act(L->act)) {
        p->k.bias_act(rows, cols, src, lds, bias, L->act, dst, (size_t)cols);
        return;
    }
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            dst[r * cols + j] = src[r * lds + j] + (bias ? bias[j] : 0.0f);
    nn_act_forward(L->act, L->alpha, dst, rows, cols);
}

/* ---- layers ------------------------------------------------------------------------ */

/* GRU; keep: the step mask (NULL: none).  At a masked step a row keeps its
 * state and its output repeats it (nn_layer_gru.c). */
static void run_gru(sv_lc_infer *p, const op *o, const nn_layer *In, int N, const float *x,
                    const int *keep, float *y)
{
    const nn_layer *L = o->L;
    const int T = In->shape[0], F = In->shape[1], u = L->units, u3 = 3 * u;
    const float *b_in = L->use_bias ? L->p[2].w : NULL;
    const float *b_rec = (L->use_bias && L->reset_after) ? L->p[2].w + u3 : NULL;
    const int ra = L->reset_after, hard = L->recurrent_act == NN_ACT_HARD_SIGMOID;
    const int u3p = pad32(u3), zrp = pad32(2 * u), up = pad32(u);
    const size_t xs = (size_t)T * u3p; /* row (n, t) of the projections at (n T + t) u3p */
    /* input projections of every step at once (biases added in the gates) */
    p->k.gemm(N * T, F, u3p, x, F, o->Wp, p->xp, u3p);
    memset(p->h, 0, (size_t)N * u * sizeof(float));
    for (int t = 0; t < T; t++) {
        const float *xt = p->xp + (size_t)t * u3p;
        const int nk = kept_rows(keep, N, T, t);
        if (nk && nk < N)
            masked_copy(keep, N, T, t, u, p->h, p->hsave);
        if (nk && ra) {
            if (t == 0)
                memset(p->hp, 0, (size_t)N * u3p * sizeof(float));
            else
                p->k.gemm(N, u, u3p, p->h, u, o->Up, p->hp, u3p);
            p->k.reset_after(N, u, hard, xt, xs, b_in, p->hp, (size_t)u3p, b_rec, p->h);
        } else if (nk) {
            if (t == 0)
                memset(p->hp, 0, (size_t)N * zrp * sizeof(float));
            else
                p->k.gemm(N, u, zrp, p->h, u, o->Up, p->hp, zrp);
            p->k.first(N, u, hard, xt, xs, b_in, p->hp, (size_t)zrp, p->h, p->zb, p->rh);
            if (t == 0)
                memset(p->hh, 0, (size_t)N * up * sizeof(float));
            else
                p->k.gemm(N, u, up, p->rh, u, o->Uh, p->hh, up);
            p->k.second(N, u, xt, xs, b_in, p->hh, (size_t)up, p->zb, p->h);
        }
        if (nk && nk < N)
            masked_copy(keep, N, T, t, u, p->hsave, p->h);
        if (L->return_sequences)
            for (int n = 0; n < N; n++)
                memcpy(y + ((size_t)n * T + t) * u, p->h + (size_t)n * u,
                       (size_t)u * sizeof(float));
    }
    if (!L->return_sequences)
        memcpy(y, p->h, (size_t)N * u * sizeof(float));
}

/* LSTM (Keras gate order i, f, c, o); keep as run_gru's: a masked step
 * keeps h and c (nn_layer_lstm.c). */
static void run_lstm(sv_lc_infer *p, const op *o, const nn_layer *In, int N, const float *x,
                     const int *keep, float *y)
{
    const nn_layer *L = o->L;
    const int T = In->shape[0], F = In->shape[1], u = L->units;
    const float *bias = L->use_bias ? L->p[2].w : NULL;
    const int hard = L->recurrent_act == NN_ACT_HARD_SIGMOID, u4p = pad32(4 * u);
    const size_t xs = (size_t)T * u4p;
    p->k.gemm(N * T, F, u4p, x, F, o->Wp, p->xp, u4p);
    memset(p->h, 0, (size_t)N * u * sizeof(float));
    memset(p->c, 0, (size_t)N * u * sizeof(float));
    for (int t = 0; t < T; t++) {
        const int nk = kept_rows(keep, N, T, t);
        if (nk && nk < N) {
            masked_copy(keep, N, T, t, u, p->h, p->hsave);
            masked_copy(keep, N, T, t, u, p->c, p->csave);
        }
        if (nk) {
            if (t == 0)
                memset(p->hp, 0, (size_t)N * u4p * sizeof(float));
            else
                p->k.gemm(N, u, u4p, p->h, u, o->Up, p->hp, u4p);
            p->k.lstm(N, u, hard, p->xp + (size_t)t * u4p, xs, bias, p->hp, (size_t)u4p, p->h,
                      p->c);
        }
        if (nk && nk < N) {
            masked_copy(keep, N, T, t, u, p->hsave, p->h);
            masked_copy(keep, N, T, t, u, p->csave, p->c);
        }
        if (L->return_sequences)
            for (int n = 0; n < N; n++)
                memcpy(y + ((size_t)n * T + t) * u, p->h + (size_t)n * u,
                       (size_t)u * sizeof(float));
    }
    if (!L->return_sequences)
        memcpy(y, p->h, (size_t)N * u * sizeof(float));
}

/* Conv1D: the rows of every output step of every sample (im2col: K taps
 * of C channels, zeros outside the sequence) times the kernel as one
 * (K*C) x filters product; bias and activation fused after it.  A 1-wide,
 * unstrided, unpadded kernel reads the input itself. */
static void run_conv1d(sv_lc_infer *p, const op *o, const nn_layer *In, int N, const float *x,
                       float *y)
{
    const nn_layer *L = o->L;
    const int T = In->shape[0], C = In->shape[1], K = L->kh, s = L->sh, d = L->dilation;
    const int To = o->To, pb = o->pb, Fo = L->filters, KC = K * C, Fp = pad32(Fo);
    const float *A = x;
    int lda = C;
    if (!(K == 1 && s == 1 && pb == 0)) {
        for (int n = 0; n < N; n++) {
            const float *xn = x + (size_t)n * T * C;
            for (int t = 0; t < To; t++) {
                float *row = p->col + ((size_t)n * To + t) * KC;
                for (int k = 0; k < K; k++) {
                    long ti = (long)t * s - pb + (long)k * d;
                    if (ti >= 0 && ti < T)
                        memcpy(row + (size_t)k * C, xn + (size_t)ti * C,
                               (size_t)C * sizeof(float));
                    else
                        memset(row + (size_t)k * C, 0, (size_t)C * sizeof(float));
                }
            }
        }
        A = p->col;
        lda = KC;
    }
    float *dst = Fp == Fo ? y : p->cy;
    p->k.gemm(N * To, KC, Fp, A, lda, o->Wp, dst, Fp);
    bias_act(p, L, (size_t)N * To, Fo, dst, (size_t)Fp, L->use_bias ? L->p[1].w : NULL, y);
}

/* GlobalAveragePooling1D: the mean over the (kept) steps, in double as
 * nn_layer_gap1d.c; a sample with every step masked gives zeros. */
static void run_gap1d(sv_lc_infer *p, const op *o, const nn_layer *In, int N, const float *x,
                      const int *keep, float *y)
{
    const int T = In->shape[0], C = In->shape[1];
    double *acc = o->acc;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * T * C;
        int cnt = 0;
        for (int c = 0; c < C; c++)
            acc[c] = 0.0;
        for (int t = 0; t < T; t++) {
            if (keep && !keep[(size_t)n * T + t])
                continue;
            cnt++;
            for (int c = 0; c < C; c++)
                acc[c] += xn[(size_t)t * C + c];
        }
        for (int c = 0; c < C; c++)
            y[(size_t)n * C + c] = cnt ? (float)(acc[c] / cnt) : 0.0f;
    }
    (void)p;
}

static const float *infer_run(sv_lc_infer *p, int batch, const float *const *inputs,
                              sv_error *err);

/* The batch in passes of p->chunk samples, the outputs gathered in p->yout. */
static const float *run_passes(sv_lc_infer *p, int batch, const float *const *inputs,
                               sv_error *err)
{
    if (!p || batch < 1 || batch > p->max_batch || !inputs) {
        sv_error_set(err, SV_ERR_ARG, "light-curve fast path: batch %d not in 1..%d", batch,
                     p ? p->max_batch : 0);
        return NULL;
    }
    if (batch <= p->chunk)
        return infer_run(p, batch, inputs, err);
    const nn_net *net = p->net;
    const size_t out = net->layers[net->output].out_size;
    const float *in[NN_MAX_NET_INPUTS];
    for (int a = 0; a < batch; a += p->chunk) {
        int b = batch - a < p->chunk ? batch - a : p->chunk;
        for (int k = 0; k < net->n_inputs; k++) {
            if (!inputs[k]) {
                sv_error_set(err, SV_ERR_ARG, "light-curve fast path: input %d missing", k);
                return NULL;
            }
            in[k] = inputs[k] + (size_t)a * net->layers[net->inputs[k]].out_size;
        }
        const float *y = infer_run(p, b, in, err);
        if (!y)
            return NULL;
        memcpy(p->yout + (size_t)a * out, y, (size_t)b * out * sizeof(float));
    }
    return p->yout;
}

/* Subnormal numbers are flushed to zero while the plan runs (MXCSR FTZ and
 * DAZ: the calling thread's own floating-point state, restored on return):
 * values below 1.2e-38 do not matter here, and some CPUs take microcode
 * assists on them in vector FMAs. */
const float *sv_lc_infer_run(sv_lc_infer *p, int batch, const float *const *inputs,
                             sv_error *err)
{
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned int csr = __builtin_ia32_stmxcsr();
    __builtin_ia32_ldmxcsr(csr | 0x8040u);
    const float *y = run_passes(p, batch, inputs, err);
    __builtin_ia32_ldmxcsr(csr);
    return y;
#else
    return run_passes(p, batch, inputs, err);
#endif
}

static const float *infer_run(sv_lc_infer *p, int batch, const float *const *inputs,
                              sv_error *err)
{
    const nn_net *net = p->net;
    int next_input = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        op *o = &p->ops[i];
        const float *x = L->n_in > 0 ? p->ops[L->in[0]].y : NULL;
        size_t rows;
        switch (L->kind) {
        case NN_INPUT: {
            int k;
            for (k = 0; k < net->n_inputs; k++)
                if (net->inputs[k] == i)
                    break;
            o->y = k < net->n_inputs ? inputs[k] : inputs[next_input];
            next_input++;
            if (!o->y) {
                sv_error_set(err, SV_ERR_ARG, "light-curve fast path: input '%s' missing",
                             L->name);
                return NULL;
            }
            break;
        }
        case NN_DROPOUT:
            o->y = x;
            break;
        case NN_ACTIVATION: {
            size_t n = (size_t)batch * L->out_size;
            int last = L->shape[L->rank - 1];
            if (L->act == NN_ACT_LINEAR)
                memcpy(o->out, x, n * sizeof(float));
            else
                bias_act(p, L, n / (size_t)last, last, x, (size_t)last, NULL, o->out);
            o->y = o->out;
            break;
        }
        case NN_ADD: {
            size_t n = (size_t)batch * L->out_size;
            int last = L->shape[L->rank - 1];
            const float *x1 = p->ops[L->in[1]].y;
            for (size_t e = 0; e < n; e++)
                o->out[e] = x[e] + x1[e];
            for (int k = 2; k < L->n_in; k++) {
                const float *xk = p->ops[L->in[k]].y;
                for (size_t e = 0; e < n; e++)
                    o->out[e] += xk[e];
            }
            bias_act(p, L, n / (size_t)last, last, o->out, (size_t)last, NULL, o->out);
            o->y = o->out;
            break;
        }
        case NN_MASKING: {
            const int T = L->shape[0], F = L->shape[1];
            for (size_t st = 0; st < (size_t)batch * T; st++) {
                const float *xs = x + st * F;
                if (step_kept(xs, F, L->mask_value))
                    memcpy(o->out + st * F, xs, (size_t)F * sizeof(float));
                else
                    memset(o->out + st * F, 0, (size_t)F * sizeof(float));
            }
            o->y = o->out;
            break;
        }
        case NN_GLOBAL_AVGPOOL1D:
            run_gap1d(p, o, &net->layers[L->in[0]], batch, x, layer_mask(p, L, batch), o->out);
            o->y = o->out;
            break;
        case NN_CONV1D:
            run_conv1d(p, o, &net->layers[L->in[0]], batch, x, o->out);
            o->y = o->out;
            break;
        case NN_LSTM:
            run_lstm(p, o, &net->layers[L->in[0]], batch, x, layer_mask(p, L, batch), o->out);
            o->y = o->out;
            break;
        case NN_DENSE: {
            const nn_layer *In = &net->layers[L->in[0]];
            int fin = In->shape[In->rank - 1], units = L->units;
            int up = pad32(units);
            rows = (size_t)batch * (In->out_size / (size_t)fin);
            float *dst = up == units ? o->out : p->cy;
            p->k.gemm((int)rows, fin, up, x, fin, o->Wp, dst, up);
            bias_act(p, L, rows, units, dst, (size_t)up, L->use_bias ? L->p[1].w : NULL, o->out);
            o->y = o->out;
            break;
        }
        case NN_BATCHNORM: {
            int C = L->shape[L->rank - 1];
            rows = (size_t)batch * (L->out_size / (size_t)C);
            for (size_t r = 0; r < rows; r++)
                for (int c = 0; c < C; c++)
                    o->out[r * C + c] = x[r * C + c] * o->bn_scale[c] + o->bn_shift[c];
            nn_act_forward(L->act, L->alpha, o->out, rows, C);
            o->y = o->out;
            break;
        }
        case NN_CONCAT: {
            int last = L->shape[L->rank - 1];
            rows = (size_t)batch * (L->out_size / (size_t)last);
            size_t off = 0;
            for (int k = 0; k < L->n_in; k++) {
                const nn_layer *In = &net->layers[L->in[k]];
                const float *xi = p->ops[L->in[k]].y;
                size_t w = (size_t)In->shape[In->rank - 1];
                for (size_t r = 0; r < rows; r++)
                    memcpy(o->out + r * last + off, xi + r * w, w * sizeof(float));
                off += w;
            }
            nn_act_forward(L->act, L->alpha, o->out, rows, last);
            o->y = o->out;
            break;
        }
        case NN_GRU:
            run_gru(p, o, &net->layers[L->in[0]], batch, x, layer_mask(p, L, batch), o->out);
            o->y = o->out;
            break;
        default:
            sv_error_set(err, SV_ERR_INTERNAL, "light-curve fast path: layer '%s'", L->name);
            return NULL;
        }
    }
    return p->ops[net->output].y;
}
