/* nn_plan.c — compile an nn_net into an inference plan and run it over
 * worker threads.  See nn_plan.h; the kernels are in nn_kernels_*.c. */
#include "nn/fast/nn_plan.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pool.h"
#include "nn/nn_engine.h"
#include "nn/fast/nn_kernels.h"
#include "nn/fast/nn_plan_graph.h"
#include "nn/nn_layers.h"

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

#define CHUNK_MAX 16 /* stamps whose Dense part runs together */
#define SPLIT_MAX 8  /* threads sharing one stamp */
/* Work (FLOPs) that one more thread must get to be worth using: about
 * 0.1 ms of one core's work on this engine, several times what waking a
 * sleeping pool worker (about 20 us) or starting its thread (about 50 us,
 * the first time) costs.  braai (38 MFLOP a stamp) splits even
 * one stamp; a small branch of a graph (ACAI's feature Dense layers) runs in
 * the calling thread. */
#define FLOP_PER_THREAD 8e6

typedef enum step_kind {
    ST_PAD,   /* image -> zero-bordered image                            */
    ST_CONV,  /* image -> image (valid convolution, fused bias/ReLU)     */
    ST_POOL,  /* image -> image                                          */
    ST_ACT,   /* in place, logical values only (an activation, or with w
                 set the per-value affine map of a BatchNormalization)    */
    ST_DENSE, /* vector rows -> vector rows (fused bias/ReLU)            */
    ST_WINO,  /* image -> image (Winograd F(2x2,3x3), fused bias/ReLU)   */
    ST_DW     /* image -> image (valid depthwise convolution)            */
} step_kind;

/* A tensor as the plan stores it: an image h x w with channel pitch cp
 * (c logical), or a vector of n groups of c logical values at pitch cp
 * (a Flatten of an image keeps its pixels as groups; h = 1, w = groups). */
typedef struct ptensor {
    int h, w, c, cp;
} ptensor;

static size_t pt_phys(const ptensor *t) { return (size_t)t->h * t->w * t->cp; }
static size_t pt_logical(const ptensor *t) { return (size_t)t->h * t->w * t->c; }

typedef struct step {
    step_kind kind;
    ptensor in, out;
    nn_kconv kc;       /* CONV, DENSE (pointers filled at run time for DENSE) */
    nn_kpool kp;       /* POOL                                          */
    nn_kwino kwi;      /* WINO                                          */
    nn_kdw kd;         /* DW                                            */
    float *zero;       /* WINO: coutp zeros                             */
    int pt, pl;        /* PAD: border before                            */
    int src, dst;      /* image phase buffers: -1 the sample, 0/1 ping-pong,
                          2 the padded copy (ACT: dst = where it works)  */
    nn_act act;        /* ACT                                           */
    float alpha;
    int layer;         /* the net's layer it comes from                 */
    float *w, *b;      /* owned, repacked (ACT: BN scale and shift of
                          alen values, cycled over the tensor)          */
    size_t alen;
} step;

typedef struct worker {
    float *img[3];     /* ping, pong, padded copy                       */
    float *vec[2];     /* CHUNK rows of the vector phase                */
    float *vt;         /* transposed rows for Dense                     */
    float *wv, *wm;    /* Winograd scratch of this thread               */
    nn_workspace *ws;  /* reference fallback                            */
} worker;

struct nn_plan {
    const nn_net *net;
    int max_batch;
    int chunk;
    int reference;              /* run nn_forward                       */
    double flops;               /* of one sample (nn_net_flops)         */
    nn_graph *graph;            /* several branches: run as chains      */
    const nn_kernels *k;
    const char *isa;
    size_t in_size;             /* floats of one sample of input 0      */
    size_t out_size;
    int n_steps;
    step *steps;
    int n_img;                  /* steps [0, n_img) are the image phase */
    int img_result;             /* buffer id of its result (-1: input)  */
    int has_img;                /* the input is an image                */
    ptensor in_t, img_out_t, out_t; /* input, end of image phase, output */
    size_t img_max, pad_max, vec_max;
    size_t wino_v, wino_m;      /* Winograd scratch floats per thread   */
    unsigned flags;
    int n_workers;
    worker *workers;
    sv_pool *pool;              /* threads 1.. of a run, kept between runs */
    int cur_layer;              /* compiling: the layer steps come from */
    double *prof;               /* nn_plan_profile: seconds per step    */
};

/* ---- ISA selection --------------------------------------------------------- */

static const nn_kernels *isa_kernels(nn_isa isa)
{
    switch (isa) {
    case NN_ISA_GENERIC:
        return nn_kernels_generic();
    case NN_ISA_AVX2:
        return nn_kernels_avx2();
    case NN_ISA_AVX512:
        return nn_kernels_avx512();
    default:
        return NULL;
    }
}

int nn_isa_supported(nn_isa isa)
{
    switch (isa) {
    case NN_ISA_AUTO:
    case NN_ISA_GENERIC:
    case NN_ISA_REFERENCE:
        return 1;
    case NN_ISA_AVX2:
    case NN_ISA_AVX512:
        return isa_kernels(isa) != NULL && sv_cpu_can_run(isa);
    default:
        return 0;
    }
}

nn_isa nn_isa_best(void)
{
    if (nn_isa_supported(NN_ISA_AVX512))
        return NN_ISA_AVX512;
    if (nn_isa_supported(NN_ISA_AVX2))
        return NN_ISA_AVX2;
    return NN_ISA_GENERIC;
}

double nn_isa_peak_gflops(nn_isa isa, double seconds)
{
    if (isa == NN_ISA_AUTO)
        isa = nn_isa_best();
    if (!nn_isa_supported(isa))
        return 0.0;
    const nn_kernels *k = isa_kernels(isa);
    return k ? k->peak_gflops(seconds > 0 ? seconds : 0.2) : 0.0;
}

/* ---- FLOPs ------------------------------------------------------------------ */

double nn_layer_flops(const nn_net *net, int i)
{
    if (!net || !net->finalized || i < 0 || i >= net->n_layers)
        return 0;
    const nn_layer *L = &net->layers[i];
    const nn_layer *I = L->n_in > 0 ? &net->layers[L->in[0]] : NULL;
    switch (L->kind) {
    case NN_CONV2D:
        return 2.0 * L->shape[0] * L->shape[1] * L->shape[2] * L->kh * L->kw * I->shape[2];
    case NN_DEPTHWISE_CONV2D:
        return 2.0 * L->shape[0] * L->shape[1] * L->shape[2] * L->kh * L->kw;
    case NN_SEPARABLE_CONV2D: {
        double cd = (double)I->shape[2] * L->depth_multiplier;
        return 2.0 * L->shape[0] * L->shape[1] * (cd * L->kh * L->kw + cd * L->shape[2]);
    }
    case NN_DENSE:
        return 2.0 * (double)(L->out_size / L->units) * L->units * I->shape[I->rank - 1];
    default:
        return 0;
    }
}

double nn_net_flops(const nn_net *net)
{
    double f = 0;
    for (int i = 0; net && net->finalized && i < net->n_layers; i++)
        f += nn_layer_flops(net, i);
    return f;
}

/* ---- compiling ---------------------------------------------------------------- */

static int round16(int c) { return (c + NN_KCHAN - 1) / NN_KCHAN * NN_KCHAN; }

static void *amalloc(size_t nfloats)
{
    size_t bytes = (nfloats ? nfloats : 1) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

static step *add_step(nn_plan *p, step_kind kind, int *cap)
{
    if (p->n_steps == *cap) {
        int nc = *cap ? 2 * *cap : 16;
        step *s = realloc(p->steps, (size_t)nc * sizeof *s);
        if (!s)
            return NULL;
        p->steps = s;
        *cap = nc;
    }
    step *s = &p->steps[p->n_steps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->layer = p->cur_layer;
    return s;
}

/* Is the network a chain the fast path covers?  Returns 1, or 0 with *why. */
static int plan_covers(const nn_net *net, const char **why)
{
    if (net->n_inputs != 1) {
        *why = "several inputs";
        return 0;
    }
    const nn_layer *in = &net->layers[net->inputs[0]];
    if (net->inputs[0] != 0 || !(in->rank == 3 || in->rank == 1)) {
        *why = "input not an image or vector";
        return 0;
    }
    int vec = in->rank == 1;
    if (net->output != net->n_layers - 1) {
        *why = "output not the last layer";
        return 0;
    }
    for (int i = 1; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        if (L->n_in != 1 || L->in[0] != i - 1) {
            *why = "not a chain";
            return 0;
        }
        switch (L->kind) {
        case NN_CONV2D:
        case NN_DEPTHWISE_CONV2D:
        case NN_SEPARABLE_CONV2D:
        case NN_MAXPOOL2D:
        case NN_AVGPOOL2D:
            if (vec) {
                *why = "image layer after a vector";
                return 0;
            }
            break;
        case NN_GLOBAL_AVGPOOL2D:
            if (vec) {
                *why = "image layer after a vector";
                return 0;
            }
            vec = 1;
            break;
        case NN_FLATTEN:
            vec = 1;
            break;
        case NN_DROPOUT:
        case NN_ACTIVATION:
        case NN_BATCHNORM:
            break;
        case NN_DENSE:
            if (!vec) {
                *why = "Dense on an image";
                return 0;
            }
            break;
        default:
            *why = nn_kind_name(L->kind);
            return 0;
        }
    }
    return 1;
}

/* an activation step over the current tensor, unless linear or fused */
static int add_act(nn_plan *p, int *cap, nn_act act, float alpha, const ptensor *t)
{
    if (act == NN_ACT_LINEAR)
        return 0;
    step *s = add_step(p, ST_ACT, cap);
    if (!s)
        return -1;
    s->in = s->out = *t;
    s->act = act;
    s->alpha = alpha;
    return 0;
}

/* BatchNormalization (inference: y = (x - mean) s + beta, s = gamma /
 * sqrt(var + eps), per value of the last axis) on tensor t after layer li-1.
 * Folded into the step before when that is the Conv2D or Dense of layer
 * li-1 with a linear activation and every folded value stays finite and
 * clear of the float range's low end (so that it is exact to float
 * rounding, ~6e-8 relative per weight); otherwise applied as an affine ACT
 * step.  Returns 0 or -1 (memory). */
static int add_bn(nn_plan *p, int *cap, const nn_net *net, int li, const ptensor *t, int vec)
{
    const nn_layer *L = &net->layers[li], *P = &net->layers[li - 1];
    const float *gamma = L->p[0].w, *beta = L->p[1].w, *mean = L->p[2].w, *var = L->p[3].w;
    int C = L->shape[L->rank - 1];
    step *last = p->n_steps > 0 ? &p->steps[p->n_steps - 1] : NULL;
    if (last && (P->kind == NN_CONV2D || P->kind == NN_DENSE) && P->act == NN_ACT_LINEAR &&
        (last->kind == ST_CONV || last->kind == ST_WINO || last->kind == ST_DENSE) &&
        last->out.c == C) {
        int cop = last->out.cp;
        size_t rows = last->kind == ST_WINO    ? (size_t)16 * last->in.cp
                      : last->kind == ST_CONV ? (size_t)last->kc.kh * last->kc.kk
                                              : pt_phys(&last->in);
        int ok = 1;
        for (size_t r = 0; r < rows && ok; r++)
            for (int c = 0; c < C && ok; c++) {
                double sc = gamma[c] / sqrt((double)var[c] + (double)L->epsilon);
                double v = last->w[r * cop + c] * sc;
                ok = isfinite(v) && (v == 0 || fabs(v) >= 1e6 * FLT_MIN) && fabs(v) < FLT_MAX;
            }
        if (ok) {
            for (int c = 0; c < C; c++) {
                double sc = gamma[c] / sqrt((double)var[c] + (double)L->epsilon);
                for (size_t r = 0; r < rows; r++)
                    last->w[r * cop + c] = (float)(last->w[r * cop + c] * sc);
                last->b[c] = (float)(((double)last->b[c] - mean[c]) * sc + beta[c]);
            }
            return 0;
        }
    }
    step *s = add_step(p, ST_ACT, cap);
    if (!s)
        return -1;
    s->in = s->out = *t;
    s->act = NN_ACT_LINEAR;
    s->alen = vec ? pt_phys(t) : (size_t)t->cp;
    s->w = amalloc(s->alen);
    s->b = amalloc(s->alen);
    if (!s->w || !s->b)
        return -1;
    for (size_t e = 0; e < (vec ? pt_logical(t) : (size_t)t->c); e++) {
        size_t c = e % (size_t)C, ph = vec ? (e / t->c) * t->cp + e % t->c : e;
        float sc = (float)(gamma[c] / sqrt((double)var[c] + (double)L->epsilon));
        s->w[ph] = sc;
        s->b[ph] = beta[c] - mean[c] * sc;
    }
    return 0;
}

/* A 3x3 stride-1 valid convolution as Winograd F(2x2,3x3): the weights
 * transformed once, U = G g G' (in double), laid out 16 x cin pitch x
 * cout pitch.  *t becomes the output tensor.  Returns 0 or -1 (memory). */
static int add_wino(nn_plan *p, int *cap, const nn_layer *L, ptensor *t, int ho, int wo)
{
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    step *s = add_step(p, ST_WINO, cap);
    if (!s)
        return -1;
    int cout = L->filters, cop = round16(cout), cin = t->c, cpi = t->cp;
    s->in = *t;
    s->out = (ptensor){ho, wo, cout, cop};
    s->w = amalloc((size_t)16 * cpi * cop);
    s->b = amalloc((size_t)cop);
    s->zero = amalloc((size_t)cop);
    if (!s->w || !s->b || !s->zero)
        return -1;
    const float *K = L->p[0].w; /* (3, 3, cin, cout) */
    for (int ci = 0; ci < cin; ci++)
        for (int co = 0; co < cout; co++) {
            double g[3][3], gg[4][3];
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    g[a][b] = K[(((size_t)a * 3 + b) * cin + ci) * cout + co];
            for (int i = 0; i < 4; i++)
                for (int b = 0; b < 3; b++)
                    gg[i][b] = G[i][0] * g[0][b] + G[i][1] * g[1][b] + G[i][2] * g[2][b];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    double u = gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2];
                    s->w[(((size_t)i * 4 + j) * cpi + ci) * cop + co] = (float)u;
                }
        }
    if (L->use_bias && L->n_params > 1)
        memcpy(s->b, L->p[1].w, (size_t)cout * sizeof(float));
    s->kwi = (nn_kwino){.h = t->h, .w = t->w, .cp = cpi, .ho = ho, .wo = wo, .coutp = cop,
                        .u = s->w, .b = s->b, .zero = s->zero, .relu = L->act == NN_ACT_RELU};
    size_t tw = (size_t)(wo + 1) / 2;
    if (16 * tw * cpi > p->wino_v)
        p->wino_v = 16 * tw * cpi;
    if (16 * tw * cop > p->wino_m)
        p->wino_m = 16 * tw * cop;
    *t = s->out;
    return 0;
}

/* "same" padding of a Conv2D-like layer L on *t as a zero-bordered copy
 * (an ST_PAD step; *t becomes the padded tensor); *ho, *wo: the output
 * size.  Returns 0 or -1 (memory). */
static int add_pad(nn_plan *p, int *cap, const nn_layer *L, ptensor *t, int *ho, int *wo)
{
    int pt, pl;
    nn_conv_geometry(t->h, L->kh, L->sh, L->padding, ho, &pt);
    nn_conv_geometry(t->w, L->kw, L->sw, L->padding, wo, &pl);
    if (L->padding != NN_PAD_SAME)
        return 0;
    step *s = add_step(p, ST_PAD, cap);
    if (!s)
        return -1;
    s->in = *t;
    s->pt = pt;
    s->pl = pl;
    s->out = (ptensor){(*ho - 1) * L->sh + L->kh, (*wo - 1) * L->sw + L->kw, t->c, t->cp};
    if (pt_phys(&s->out) > p->pad_max)
        p->pad_max = pt_phys(&s->out);
    *t = s->out;
    return 0;
}

/* A valid direct convolution of kernel K (Keras order kh, kw, cin, cout)
 * and bias (cout, or NULL) on *t, to ho x wo; *t becomes its output.
 * Returns 0 or -1 (memory). */
static int add_conv(nn_plan *p, int *cap, const float *K, const float *bias, int kh, int kw,
                    int sh, int sw, int cout, int relu, ptensor *t, int ho, int wo)
{
    step *s = add_step(p, ST_CONV, cap);
    if (!s)
        return -1;
    int cop = round16(cout), cin = t->c, cpi = t->cp;
    s->in = *t;
    s->out = (ptensor){ho, wo, cout, cop};
    size_t kk = (size_t)kw * cpi;
    s->w = amalloc((size_t)kh * kk * cop);
    s->b = amalloc((size_t)cop);
    if (!s->w || !s->b)
        return -1;
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++)
            for (int ci = 0; ci < cin; ci++)
                memcpy(s->w + (((size_t)ky * kw + kx) * cpi + ci) * cop,
                       K + (((size_t)ky * kw + kx) * cin + ci) * cout,
                       (size_t)cout * sizeof(float));
    if (bias)
        memcpy(s->b, bias, (size_t)cout * sizeof(float));
    s->kc = (nn_kconv){.ho = ho, .wo = wo, .kh = kh, .kk = (int)kk,
                       .x_orow = (ptrdiff_t)sh * t->w * cpi, .x_col = (ptrdiff_t)sw * cpi,
                       .x_row = (ptrdiff_t)t->w * cpi, .x_kk = 1, .coutp = cop,
                       .y_row = (ptrdiff_t)wo * cop, .y_col = cop, .w = s->w, .b = s->b,
                       .relu = relu};
    *t = s->out;
    return 0;
}

/* The depthwise part of a DepthwiseConv2D or SeparableConv2D layer L
 * (valid) on *t, to ho x wo, with bias (c * dm, or NULL); *t becomes its
 * output.  With one filter per channel and column stride 1 it runs in the
 * kernel's tiled form (output at the input's channel pitch, the kernel
 * and bias repeated over a row).  Returns 0 or -1 (memory). */
static int add_dw(nn_plan *p, int *cap, const nn_layer *L, const float *bias, int relu,
                  ptensor *t, int ho, int wo)
{
    step *s = add_step(p, ST_DW, cap);
    if (!s)
        return -1;
    int dm = L->depth_multiplier, n = t->c * dm, tiled = dm == 1 && L->sw == 1;
    const float *K = L->p[0].w;
    s->in = *t;
    s->out = tiled ? (ptensor){ho, wo, t->c, t->cp} : (ptensor){ho, wo, n, round16(n)};
    size_t taps = (size_t)L->kh * L->kw, row = (size_t)wo * t->cp;
    s->w = amalloc(tiled ? taps * row : taps * n);
    s->b = bias ? amalloc(tiled ? row : (size_t)n) : NULL;
    if (!s->w || (bias && !s->b))
        return -1;
    if (tiled) { /* amalloc zeroed the padded channels */
        for (size_t r = 0; r < taps; r++)
            for (int x = 0; x < wo; x++)
                memcpy(s->w + r * row + (size_t)x * t->cp, K + r * n, (size_t)n * sizeof(float));
        for (int x = 0; bias && x < wo; x++)
            memcpy(s->b + (size_t)x * t->cp, bias, (size_t)n * sizeof(float));
    } else {
        memcpy(s->w, K, taps * n * sizeof(float));
        if (bias)
            memcpy(s->b, bias, (size_t)n * sizeof(float));
    }
    s->kd = (nn_kdw){.w = t->w, .c = t->c, .cp = t->cp, .ho = ho, .wo = wo, .kh = L->kh,
                     .kw = L->kw, .sh = L->sh, .sw = L->sw, .dm = dm, .coutp = s->out.cp,
                     .tiled = tiled, .k = s->w, .b = s->b, .relu = relu, .oy0 = 0, .oy1 = ho};
    *t = s->out;
    return 0;
}

static int compile_fast(nn_plan *p, const nn_net *net, sv_error *err)
{
    int cap = 0;
    const nn_layer *in = &net->layers[net->inputs[0]];
    ptensor t;
    int vec = in->rank == 1;
    if (vec) {
        t = (ptensor){1, 1, in->shape[0], in->shape[0]};
    } else {
        t = (ptensor){in->shape[0], in->shape[1], in->shape[2], in->shape[2]};
    }
    p->in_t = t;
    p->has_img = !vec;
    p->n_img = 0;
    p->img_max = vec ? 0 : pt_phys(&t);
    p->img_out_t = t;
    p->vec_max = vec ? pt_phys(&t) : 0;
    for (int li = 1; li < net->n_layers; li++) {
        const nn_layer *L = &net->layers[li];
        step *s;
        p->cur_layer = li;
        switch (L->kind) {
        case NN_CONV2D: {
            int ho, wo;
            if (add_pad(p, &cap, L, &t, &ho, &wo))
                goto nomem;
            int relu = L->act == NN_ACT_RELU;
            const float *bias = L->use_bias && L->n_params > 1 ? L->p[1].w : NULL;
            if (L->kh == 3 && L->kw == 3 && L->sh == 1 && L->sw == 1 &&
                t.cp % NN_KCHAN == 0 && 2 * t.c > t.cp && !(p->flags & NN_PLAN_NO_WINOGRAD) &&
                t.cp * round16(L->filters) >= p->k->wino_min_cc) {
                if (add_wino(p, &cap, L, &t, ho, wo))
                    goto nomem;
            } else if (add_conv(p, &cap, L->p[0].w, bias, L->kh, L->kw, L->sh, L->sw,
                                L->filters, relu, &t, ho, wo)) {
                goto nomem;
            }
            if (pt_phys(&t) > p->img_max)
                p->img_max = pt_phys(&t);
            if (!relu && add_act(p, &cap, L->act, L->alpha, &t))
                goto nomem;
            break;
        }
        case NN_DEPTHWISE_CONV2D:
        case NN_SEPARABLE_CONV2D: {
            /* SeparableConv2D = depthwise (no bias) + pointwise 1x1 Conv2D */
            int ho, wo, sep = L->kind == NN_SEPARABLE_CONV2D;
            if (add_pad(p, &cap, L, &t, &ho, &wo))
                goto nomem;
            int relu = L->act == NN_ACT_RELU;
            const float *bias = !L->use_bias ? NULL : L->p[sep ? 2 : 1].w;
            if (add_dw(p, &cap, L, sep ? NULL : bias, !sep && relu, &t, ho, wo))
                goto nomem;
            if (pt_phys(&t) > p->img_max)
                p->img_max = pt_phys(&t);
            if (sep && add_conv(p, &cap, L->p[1].w, bias, 1, 1, 1, 1, L->filters, relu, &t,
                                ho, wo))
                goto nomem;
            if (pt_phys(&t) > p->img_max)
                p->img_max = pt_phys(&t);
            if (!relu && add_act(p, &cap, L->act, L->alpha, &t))
                goto nomem;
            break;
        }
        case NN_GLOBAL_AVGPOOL2D: /* an average pool over the whole image, then a vector */
            s = add_step(p, ST_POOL, &cap);
            if (!s)
                goto nomem;
            s->in = t;
            s->out = (ptensor){1, 1, t.c, t.cp};
            s->kp = (nn_kpool){.h = t.h, .w = t.w, .c = t.c, .cp = t.cp, .ho = 1, .wo = 1,
                               .kh = t.h, .kw = t.w, .sh = 1, .sw = 1, .is_max = 0,
                               .oy0 = 0, .oy1 = 1};
            t = s->out;
            p->n_img = p->n_steps;
            p->img_out_t = t;
            vec = 1;
            if (pt_phys(&t) > p->vec_max)
                p->vec_max = pt_phys(&t);
            break;
        case NN_MAXPOOL2D:
        case NN_AVGPOOL2D: {
            s = add_step(p, ST_POOL, &cap);
            if (!s)
                goto nomem;
            int ho, wo, pt, pl;
            nn_conv_geometry(t.h, L->kh, L->sh, L->padding, &ho, &pt);
            nn_conv_geometry(t.w, L->kw, L->sw, L->padding, &wo, &pl);
            s->in = t;
            s->out = (ptensor){ho, wo, t.c, t.cp};
            s->kp = (nn_kpool){.h = t.h, .w = t.w, .c = t.c, .cp = t.cp, .ho = ho, .wo = wo,
                               .kh = L->kh, .kw = L->kw, .sh = L->sh, .sw = L->sw, .pt = pt,
                               .pl = pl, .is_max = L->kind == NN_MAXPOOL2D, .oy0 = 0,
                               .oy1 = ho};
            t = s->out;
            if (pt_phys(&t) > p->img_max)
                p->img_max = pt_phys(&t);
            break;
        }
        case NN_FLATTEN:
            if (!vec) {
                p->n_img = p->n_steps;
                p->img_out_t = t;
                if (t.c == t.cp) /* contiguous: one group */
                    t = (ptensor){1, 1, t.h * t.w * t.c, t.h * t.w * t.c};
                else
                    t = (ptensor){1, t.h * t.w, t.c, t.cp};
                vec = 1;
                if (pt_phys(&t) > p->vec_max)
                    p->vec_max = pt_phys(&t);
            }
            break;
        case NN_DROPOUT:
            break;
        case NN_BATCHNORM:
            if (add_bn(p, &cap, net, li, &t, vec))
                goto nomem;
            break;
        case NN_ACTIVATION:
            /* softmax over a vector whose logical values are not contiguous
             * (a Flatten of padded channels): left to the reference engine */
            if (L->act == NN_ACT_SOFTMAX && vec && t.h * t.w > 1)
                return 1;
            if (add_act(p, &cap, L->act, L->alpha, &t))
                goto nomem;
            break;
        case NN_DENSE: {
            s = add_step(p, ST_DENSE, &cap);
            if (!s)
                goto nomem;
            int units = L->units, up = round16(units);
            size_t kp = pt_phys(&t);
            s->in = t;
            s->out = (ptensor){1, 1, units, up};
            s->w = amalloc(kp * up);
            s->b = amalloc((size_t)up);
            if (!s->w || !s->b)
                goto nomem;
            const float *K = L->p[0].w;
            size_t nlog = pt_logical(&t);
            for (size_t i = 0; i < nlog; i++) {
                size_t phys = (i / t.c) * t.cp + i % t.c;
                memcpy(s->w + phys * up, K + i * units, (size_t)units * sizeof(float));
            }
            if (L->use_bias && L->n_params > 1)
                memcpy(s->b, L->p[1].w, (size_t)units * sizeof(float));
            s->kc = (nn_kconv){.ho = 1, .kh = 1, .kk = (int)kp, .x_orow = 0, .x_col = 1,
                               .x_row = 0, .coutp = up, .y_row = 0, .y_col = up, .w = s->w,
                               .b = s->b, .relu = L->act == NN_ACT_RELU};
            t = s->out;
            if (pt_phys(&t) > p->vec_max)
                p->vec_max = pt_phys(&t);
            if (L->act != NN_ACT_RELU && add_act(p, &cap, L->act, L->alpha, &t))
                goto nomem;
            break;
        }
        default:
            return sv_error_set(err, SV_ERR_INTERNAL, "nn_plan: layer '%s' not covered",
                                L->name);
        }
    }
    if (!vec) {
        p->n_img = p->n_steps;
        p->img_out_t = t;
    }
    p->out_t = t;
    /* buffers of the image phase, the same for every thread */
    int cur = -1, pp = 0;
    for (int i = 0; i < p->n_img; i++) {
        step *s = &p->steps[i];
        s->src = cur;
        switch (s->kind) {
        case ST_PAD:
            s->dst = 2;
            break;
        case ST_ACT: /* in place, but never on the caller's input */
            if (cur != -1) {
                s->dst = cur;
            } else {
                s->dst = pp;
                pp ^= 1;
            }
            break;
        default:
            s->dst = pp;
            pp ^= 1;
            break;
        }
        cur = s->dst;
    }
    p->img_result = cur;
    return 0;
nomem:
    return sv_error_set(err, SV_ERR_NOMEM, "nn_plan_new: out of memory");
}

static void worker_free(worker *w)
{
    for (int i = 0; i < 3; i++)
        free(w->img[i]);
    free(w->vec[0]);
    free(w->vec[1]);
    free(w->vt);
    free(w->wv);
    free(w->wm);
    nn_workspace_free(w->ws);
    memset(w, 0, sizeof *w);
}

void nn_plan_release_threads(nn_plan *p)
{
    if (!p)
        return;
    sv_pool_free(p->pool);
    p->pool = NULL;
    nn_graph_release_threads(p->graph);
}

void nn_plan_free(nn_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_steps; i++) {
        free(p->steps[i].w);
        free(p->steps[i].b);
        free(p->steps[i].zero);
    }
    free(p->steps);
    nn_graph_free(p->graph);
    sv_pool_free(p->pool);
    for (int i = 0; i < p->n_workers; i++)
        worker_free(&p->workers[i]);
    free(p->workers);
    free(p);
}

nn_plan *nn_plan_new_isa(const nn_net *net, int max_batch, nn_isa isa, sv_error *err)
{
    return nn_plan_new_flags(net, max_batch, isa, 0, err);
}

nn_plan *nn_plan_new_flags(const nn_net *net, int max_batch, nn_isa isa, unsigned flags,
                           sv_error *err)
{
    if (!net || !net->finalized) {
        sv_error_set(err, SV_ERR_ARG, "nn_plan_new: network missing or not finalised");
        return NULL;
    }
    if (max_batch < 1 || max_batch > (1 << 20)) {
        sv_error_set(err, SV_ERR_ARG, "nn_plan_new: max_batch %d not in 1..%d", max_batch,
                     1 << 20);
        return NULL;
    }
    if (isa < 0 || isa >= NN_ISA_COUNT) {
        sv_error_set(err, SV_ERR_ARG, "nn_plan_new: unknown instruction set %d", (int)isa);
        return NULL;
    }
    if (isa == NN_ISA_AUTO)
        isa = nn_isa_best();
    if (!nn_isa_supported(isa)) {
        sv_error_set(err, SV_ERR_UNSUPPORTED,
                     "nn_plan_new: instruction set %s not supported by this CPU or build",
                     nn_isa_name(isa));
        return NULL;
    }
    nn_plan *p = calloc(1, sizeof *p);
    if (!p) {
        sv_error_set(err, SV_ERR_NOMEM, "nn_plan_new: out of memory");
        return NULL;
    }
    p->net = net;
    p->flags = flags;
    p->max_batch = max_batch;
    p->chunk = max_batch < CHUNK_MAX ? max_batch : CHUNK_MAX;
    p->out_size = net->layers[net->output].out_size;
    p->in_size = net->layers[net->inputs[0]].out_size;
    p->flops = nn_net_flops(net);
    const char *why = NULL;
    int covered = isa != NN_ISA_REFERENCE && plan_covers(net, &why);
    if (!covered && isa != NN_ISA_REFERENCE) { /* several branches? */
        int st = nn_graph_new(net, max_batch, isa, flags, &p->graph, &why, err);
        if (st < 0) {
            nn_plan_free(p);
            return NULL;
        }
        if (st == 1) {
            p->isa = nn_graph_isa(p->graph);
            return p;
        }
    }
    if (!covered) {
        p->reference = 1;
        p->isa = "reference";
        return p;
    }
    p->k = isa_kernels(isa);
    p->isa = p->k->isa;
    int st = compile_fast(p, net, err);
    if (st < 0) {
        nn_plan_free(p);
        return NULL;
    }
    if (st > 0) { /* not covered after all: drop the steps, run the reference */
        for (int i = 0; i < p->n_steps; i++) {
            free(p->steps[i].w);
            free(p->steps[i].b);
            free(p->steps[i].zero);
        }
        free(p->steps);
        p->steps = NULL;
        p->n_steps = 0;
        p->k = NULL;
        p->reference = 1;
        p->isa = "reference";
    }
    return p;
}

nn_plan *nn_plan_new(const nn_net *net, int max_batch, sv_error *err)
{
    const char *env = NULL;
    int isa = sv_isa_requested(&env);
    if (isa < 0) {
        sv_error_set(err, SV_ERR_ARG,
                     "nn_plan_new: STAMPVET_ISA='%s' is not one of auto, generic, avx2, "
                     "avx512, reference",
                     env);
        return NULL;
    }
    return nn_plan_new_isa(net, max_batch, (nn_isa)isa, err);
}

const char *nn_plan_isa(const nn_plan *p) { return p ? p->isa : "none"; }
size_t nn_plan_out_size(const nn_plan *p) { return p ? p->out_size : 0; }

/* ---- running ------------------------------------------------------------------ */

static int worker_ready(const nn_plan *p, worker *w, sv_error *err)
{
    if (p->reference) {
        if (!w->ws) {
            w->ws = nn_workspace_new(p->net, p->chunk, 0, err);
            if (!w->ws)
                return err ? err->status : SV_ERR_NOMEM;
        }
        return 0;
    }
    if (w->vec[0] || w->img[0])
        return 0;
    size_t vm = p->vec_max * (size_t)p->chunk;
    w->img[0] = amalloc(p->img_max);
    w->img[1] = amalloc(p->img_max);
    w->img[2] = amalloc(p->pad_max);
    w->vec[0] = amalloc(vm);
    w->vec[1] = amalloc(vm);
    w->vt = amalloc(vm);
    w->wv = amalloc(p->wino_v);
    w->wm = amalloc(p->wino_m);
    if (!w->img[0] || !w->img[1] || !w->img[2] || !w->vec[0] || !w->vec[1] || !w->vt ||
        !w->wv || !w->wm) {
        worker_free(w);
        return sv_error_set(err, SV_ERR_NOMEM, "nn_plan_run: out of memory for scratch");
    }
    return 0;
}

static void run_act(const step *s, float *x, int rows)
{
    const ptensor *t = &s->out;
    size_t groups = (size_t)rows * t->h * t->w;
    if (s->w) { /* BatchNormalization: x * scale + shift, padded values stay 0 */
        size_t n = groups * t->cp;
        for (size_t i = 0; i < n; i += s->alen)
            for (size_t j = 0; j < s->alen; j++)
                x[i + j] = x[i + j] * s->w[j] + s->b[j];
        return;
    }
    if (t->c == t->cp) {
        nn_act_forward(s->act, s->alpha, x, groups, t->c);
        return;
    }
    for (size_t g = 0; g < groups; g++)
        nn_act_forward(s->act, s->alpha, x + g * t->cp, 1, t->c);
}

/* copy the logical values of one sample's tensor t at x into out */
static void copy_logical(const ptensor *t, const float *x, float *out)
{
    size_t groups = (size_t)t->h * t->w;
    if (t->c == t->cp) {
        memcpy(out, x, groups * t->c * sizeof(float));
        return;
    }
    for (size_t g = 0; g < groups; g++)
        memcpy(out + g * t->c, x + g * t->cp, (size_t)t->c * sizeof(float));
}

/* ---- profiling ------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* adds the time since *t0 to step i's and restarts *t0 (profiling only) */
static void prof_add(const nn_plan *p, int i, double *t0)
{
    if (!p->prof)
        return;
    double t = now_s();
    p->prof[i] += t - *t0;
    *t0 = t;
}

int nn_plan_steps(const nn_plan *p) { return p && !p->reference && !p->graph ? p->n_steps : 0; }

int nn_plan_step_layer(const nn_plan *p, int i)
{
    return i >= 0 && i < nn_plan_steps(p) ? p->steps[i].layer : -1;
}

const char *nn_plan_step_kind(const nn_plan *p, int i)
{
    static const char *names[] = {"pad", "conv", "pool", "act", "dense", "winograd",
                                  "depthwise"};
    return i >= 0 && i < nn_plan_steps(p) ? names[p->steps[i].kind] : "none";
}

void nn_plan_profile(nn_plan *p, double *t)
{
    if (p)
        p->prof = nn_plan_steps(p) > 0 ? t : NULL;
}

/* Rows [r0, r1) of the output of image step i, from and to the worker's
 * buffers (x: the sample). */
static void run_step_rows(const nn_plan *p, worker *w, worker *own, const float *x, int i,
                          int r0, int r1)
{
    const step *s = &p->steps[i];
    const float *in = s->src < 0 ? x : w->img[s->src];
    float *o = w->img[s->dst];
    switch (s->kind) {
    case ST_PAD: {
        const ptensor *a = &s->in, *b = &s->out;
        size_t rowf = (size_t)b->w * b->cp;
        for (int y = r0; y < r1; y++) {
            float *orow = o + y * rowf;
            int sy = y - s->pt;
            if (sy < 0 || sy >= a->h) {
                memset(orow, 0, rowf * sizeof(float));
                continue;
            }
            int x0 = s->pl, x1 = s->pl + a->w;
            if (x1 > b->w)
                x1 = b->w;
            memset(orow, 0, (size_t)x0 * b->cp * sizeof(float));
            memcpy(orow + (size_t)x0 * b->cp, in + (size_t)sy * a->w * a->cp,
                   (size_t)(x1 - x0) * a->cp * sizeof(float));
            if (x1 < b->w)
                memset(orow + (size_t)x1 * b->cp, 0, (size_t)(b->w - x1) * b->cp * sizeof(float));
        }
        break;
    }
    case ST_CONV: {
        nn_kconv kc = s->kc;
        kc.ho = r1 - r0;
        p->k->conv(&kc, in + r0 * kc.x_orow, o + r0 * kc.y_row);
        break;
    }
    case ST_WINO: /* r0, r1: tile rows */
        p->k->wino(&s->kwi, in, o, r0, r1, own->wv, own->wm);
        break;
    case ST_DW: {
        nn_kdw kd = s->kd;
        kd.oy0 = r0;
        kd.oy1 = r1;
        p->k->dw(&kd, in, o);
        break;
    }
    case ST_POOL: {
        nn_kpool kp = s->kp;
        kp.oy0 = r0;
        kp.oy1 = r1;
        p->k->pool(&kp, in, o);
        break;
    }
    case ST_ACT: {
        size_t rowf = (size_t)s->in.w * s->in.cp;
        if (in != o)
            memcpy(o + r0 * rowf, in + r0 * rowf, (size_t)(r1 - r0) * rowf * sizeof(float));
        step part = *s;
        part.out.h = r1 - r0;
        run_act(&part, o + r0 * rowf, 1);
        break;
    }
    default:
        break;
    }
}

/* output rows of image step i */
static int step_rows(const step *s)
{
    if (s->kind == ST_WINO)
        return (s->out.h + 1) / 2;
    return s->kind == ST_ACT ? s->in.h : s->out.h;
}

/* The image phase of one sample by one thread: returns where its result is. */
static const float *run_image(const nn_plan *p, worker *w, const float *x)
{
    double t0 = p->prof ? now_s() : 0;
    for (int i = 0; i < p->n_img; i++) {
        run_step_rows(p, w, w, x, i, 0, step_rows(&p->steps[i]));
        prof_add(p, i, &t0);
    }
    return p->img_result < 0 ? x : w->img[p->img_result];
}

/* Split mode: the image phase of one sample by a team of threads sharing
 * worker w's buffers.  The rows of each step are cut into pieces that the
 * threads take as they come; a step starts when every piece of the one
 * before is done.  A thread that the OS does not schedule only delays the
 * piece it holds: the others take the rest, so a busy machine degrades to
 * one thread's speed rather than stalling at a barrier. */
typedef struct team_sched {
    int n_steps;
    int *pieces, *rows_per;   /* per step                                   */
    atomic_int *taken, *done;
} team_sched;

static void wait_done(atomic_int *done, int n)
{
    for (long spins = 0; atomic_load_explicit(done, memory_order_acquire) < n; spins++) {
        if (spins > 2000)
            sched_yield();
#if defined(__x86_64__) || defined(__i386__)
        else
            __builtin_ia32_pause();
#endif
    }
}

static void run_image_team(const nn_plan *p, worker *w, worker *own, const float *x,
                           team_sched *ts)
{
    for (int i = 0; i < p->n_img; i++) {
        int R = step_rows(&p->steps[i]), np = ts->pieces[i], rp = ts->rows_per[i];
        for (;;) {
            int k = atomic_fetch_add_explicit(&ts->taken[i], 1, memory_order_relaxed);
            if (k >= np)
                break;
            int r0 = k * rp, r1 = r0 + rp < R ? r0 + rp : R;
            run_step_rows(p, w, own, x, i, r0, r1);
            atomic_fetch_add_explicit(&ts->done[i], 1, memory_order_release);
        }
        wait_done(&ts->done[i], np);
    }
}

/* The vector phase over the m rows in w->vec[0] (samples n0..n0+m-1), and
 * the output. */
static void run_vector(const nn_plan *p, worker *w, int n0, int m, float *out)
{
    float *cur = w->vec[0];
    int pp = 1;
    double t0 = p->prof ? now_s() : 0;
    for (int i = p->n_img; i < p->n_steps; i++) {
        const step *s = &p->steps[i];
        if (s->kind == ST_ACT) {
            run_act(s, cur, m);
            prof_add(p, i, &t0);
            continue;
        }
        /* ST_DENSE: transpose the m x K rows into K x m, then tiles of rows
         * with the input step 1 */
        size_t K = pt_phys(&s->in);
        nn_kconv kc = s->kc;
        const float *xin = cur;
        if (m > 1) {
            for (int j = 0; j < m; j++)
                for (size_t q = 0; q < K; q++)
                    w->vt[q * m + j] = cur[j * K + q];
            xin = w->vt;
        }
        kc.wo = m;
        kc.x_kk = m;
        float *o = w->vec[pp];
        p->k->conv(&kc, xin, o);
        cur = o;
        pp ^= 1;
        prof_add(p, i, &t0);
    }
    for (int j = 0; j < m; j++)
        copy_logical(&p->out_t, cur + (size_t)j * pt_phys(&p->out_t),
                     out + (size_t)(n0 + j) * p->out_size);
}

static int has_vector_phase(const nn_plan *p) { return p->n_img < p->n_steps || !p->has_img; }

/* One chunk of m samples starting at sample n0. */
static int run_chunk(const nn_plan *p, worker *w, int n0, int m, const float *const *inputs,
                     float *out, sv_error *err)
{
    if (p->reference) {
        const float *ins[NN_MAX_NET_INPUTS];
        for (int i = 0; i < p->net->n_inputs; i++)
            ins[i] = inputs[i] + (size_t)n0 * p->net->layers[p->net->inputs[i]].out_size;
        int st = nn_forward(w->ws, (nn_net *)p->net, m, ins, 0, err);
        if (st)
            return st;
        memcpy(out + (size_t)n0 * p->out_size, nn_workspace_output(w->ws),
               (size_t)m * p->out_size * sizeof(float));
        return 0;
    }
    const float *x0 = inputs[0] + (size_t)n0 * p->in_size;
    int has_vec = has_vector_phase(p);
    size_t vp = pt_phys(&p->img_out_t); /* row pitch entering the vector phase */
    if (!p->has_img) {
        memcpy(w->vec[0], x0, (size_t)m * p->in_size * sizeof(float));
    } else {
        for (int j = 0; j < m; j++) {
            const float *r = run_image(p, w, x0 + (size_t)j * p->in_size);
            if (has_vec)
                memcpy(w->vec[0] + (size_t)j * vp, r, vp * sizeof(float));
            else
                copy_logical(&p->out_t, r, out + (size_t)(n0 + j) * p->out_size);
        }
    }
    if (has_vec)
        run_vector(p, w, n0, m, out);
    return 0;
}

typedef struct run_ctx {
    const nn_plan *p;
    const float *const *inputs;
    float *out;
    int batch, chunk, n_chunks;
    int split;                 /* one stamp shared by a team of threads */
    team_sched ts;
    atomic_int next;
    atomic_int failed;
    pthread_mutex_t lock;
    sv_error first;
} run_ctx;

typedef struct run_arg {
    run_ctx *ctx;
    worker *w;
    int tid;
} run_arg;

static void worker_chunks(run_arg *a)
{
    run_ctx *c = a->ctx;
    sv_error e;
    sv_error_clear(&e);
    for (;;) {
        if (atomic_load(&c->failed))
            break;
        int k = atomic_fetch_add(&c->next, 1);
        if (k >= c->n_chunks)
            break;
        int n0 = k * c->chunk;
        int m = c->batch - n0 < c->chunk ? c->batch - n0 : c->chunk;
        if (run_chunk(c->p, a->w, n0, m, c->inputs, c->out, &e)) {
            pthread_mutex_lock(&c->lock);
            if (!atomic_load(&c->failed)) {
                c->first = e;
                atomic_store(&c->failed, 1);
            }
            pthread_mutex_unlock(&c->lock);
            break;
        }
    }
}

/* split mode: the team computes the image phase of sample 0 together in
 * worker 0's buffers; thread 0 then runs the (small) vector phase */
static void worker_split(run_arg *a)
{
    run_ctx *c = a->ctx;
    const nn_plan *p = c->p;
    worker *w0 = &p->workers[0]; /* the team's shared image buffers */
    run_image_team(p, w0, a->w, c->inputs[0], &c->ts);
    if (a->tid != 0)
        return;
    const float *r = p->img_result < 0 ? c->inputs[0] : w0->img[p->img_result];
    if (has_vector_phase(p)) {
        memcpy(w0->vec[0], r, pt_phys(&p->img_out_t) * sizeof(float));
        run_vector(p, w0, 0, 1, c->out);
    } else {
        copy_logical(&p->out_t, r, c->out);
    }
}

static void worker_main(run_arg *a)
{
#ifdef HAVE_MXCSR
    /* flush denormals to zero (FTZ) and read them as zero (DAZ) in this
     * thread while it runs the plan: denormal operands slow FMAs down, and
     * values below 1.2e-38 do not matter to the results */
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
#endif
    if (a->ctx->split)
        worker_split(a);
    else
        worker_chunks(a);
#ifdef HAVE_MXCSR
    _mm_setcsr(csr);
#endif
}

static void worker_task(int i, void *args) { worker_main((run_arg *)args + i); }

int nn_plan_run(nn_plan *p, int batch, const float *const *inputs, float *out, int threads,
                sv_error *err)
{
    if (!p || !inputs || !out)
        return sv_error_set(err, SV_ERR_ARG, "nn_plan_run: missing plan, inputs or output");
    if (batch < 1 || batch > p->max_batch)
        return sv_error_set(err, SV_ERR_ARG, "nn_plan_run: batch %d not in 1..%d", batch,
                            p->max_batch);
    if (threads < 1 || threads > 1024)
        return sv_error_set(err, SV_ERR_ARG, "nn_plan_run: threads %d not in 1..1024",
                            threads);
    for (int i = 0; i < p->net->n_inputs; i++)
        if (!inputs[i])
            return sv_error_set(err, SV_ERR_ARG, "nn_plan_run: input %d missing", i);
    if (p->graph)
        return nn_graph_run(p->graph, batch, inputs, out, threads, err);
    if (p->prof) /* profiled runs use the calling thread only */
        threads = 1;
    double useful = (double)batch * p->flops / FLOP_PER_THREAD;
    if (useful < threads && !(p->flags & NN_PLAN_ALL_THREADS))
        threads = useful < 1 ? 1 : (int)useful;
    /* chunks: at most CHUNK_MAX stamps, and enough chunks for every thread */
    int per = (batch + threads - 1) / threads;
    int chunk = per < p->chunk ? per : p->chunk;
    int n_chunks = (batch + chunk - 1) / chunk;
    int nw = threads < n_chunks ? threads : n_chunks;
    /* one stamp and several threads: split the stamp's rows over a team */
    int split = batch == 1 && threads > 1 && !p->reference && p->has_img && p->n_img > 0;
    int team = threads < SPLIT_MAX ? threads : SPLIT_MAX;
    int n_bufs = split ? team : nw; /* a team member's own Winograd scratch */
    if (n_bufs > p->n_workers) {
        worker *ws = realloc(p->workers, (size_t)n_bufs * sizeof *ws);
        if (!ws)
            return sv_error_set(err, SV_ERR_NOMEM, "nn_plan_run: out of memory");
        memset(ws + p->n_workers, 0, (size_t)(n_bufs - p->n_workers) * sizeof *ws);
        p->workers = ws;
        p->n_workers = n_bufs;
    }
    for (int i = 0; i < n_bufs; i++) {
        int st = worker_ready(p, &p->workers[i], err);
        if (st)
            return st;
    }
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.inputs = inputs;
    c.out = out;
    c.batch = batch;
    c.chunk = chunk;
    c.n_chunks = n_chunks;
    c.split = split;
    int ni = split ? p->n_img : 1;
    int pieces[ni], rows_per[ni];
    atomic_int taken[ni], done[ni];
    if (split) {
        nw = team;
        for (int i = 0; i < ni; i++) {
            int R = step_rows(&p->steps[i]);
            /* one piece a thread, taken as they come (a thread that is late
             * leaves its piece to the others): on braai at 2 threads more,
             * smaller pieces measured slower, busy machine or not */
            rows_per[i] = (R + team - 1) / team;
            pieces[i] = (R + rows_per[i] - 1) / rows_per[i];
            atomic_init(&taken[i], 0);
            atomic_init(&done[i], 0);
        }
        c.ts = (team_sched){ni, pieces, rows_per, taken, done};
    }
    atomic_init(&c.next, 0);
    atomic_init(&c.failed, 0);
    sv_error_clear(&c.first);
    pthread_mutex_init(&c.lock, NULL);
    run_arg args[nw];
    for (int i = 0; i < nw; i++)
        args[i] = (run_arg){&c, &p->workers[i], i};
    /* the plan's pool runs workers 1.. (started at the first run that needs
     * them; without a pool, or a worker that cannot be started, the calling
     * thread runs their share after its own: chunks and pieces of rows are
     * taken dynamically, so nobody waits for them) */
    if (nw > 1 && !p->pool)
        p->pool = sv_pool_new();
    sv_pool_run(p->pool, nw, worker_task, args);
    pthread_mutex_destroy(&c.lock);
    if (atomic_load(&c.failed)) {
        if (err)
            *err = c.first;
        return c.first.status ? c.first.status : SV_ERR_INTERNAL;
    }
    return 0;
}
