/* nn_train.c — the training fast path: compile a chain network for
 * training, forward with caches, backward, packed gradients.  See
 * nn_train.h; the kernels are those of nn_kernels_*.c. */
#include "nn/fast/nn_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/parallel.h"
#include "nn/fast/nn_kernels.h"
#include "nn/nn_engine.h"
#include "nn/nn_layers.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#if defined(MAP_ANONYMOUS)
#define HAVE_MMAP_THP 1
#endif
#endif

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

typedef enum tkind { TS_CONV, TS_POOL, TS_DROP, TS_ACT, TS_DENSE } tkind;

/* a tensor as stored: h x w pixels (vector: 1 x groups) of c logical values
 * at pitch cp */
typedef struct tten {
    int h, w, c, cp;
} tten;

static size_t tt_phys(const tten *t) { return (size_t)t->h * t->w * t->cp; }
static size_t tt_logical(const tten *t) { return (size_t)t->h * t->w * t->c; }
static size_t tt_phys_of(const tten *t, size_t e) { return e / t->c * t->cp + e % t->c; }

typedef struct tstep {
    tkind kind;
    int layer;
    int img;               /* 1: image phase (per sample), 0: vector rows   */
    tten in, out;
    nn_act act;            /* output activation (CONV, DENSE, ACT)          */
    float alpha;
    size_t off;            /* image: offset of the output in a sample's
                              store; vector: in the rows store (x cap)      */
    size_t moff;           /* DROP: offset of the mask (same scheme)        */
    /* CONV */
    int kh, kw, sh, sw, pt, pl;
    int pad;               /* same padding: the input is bordered first     */
    tten xin;              /* what the kernel reads: bordered input or in   */
    int hs, wsp;           /* input rows / columns the output depends on    */
    int wino, wino_dx;
    nn_kconv kc;           /* forward, direct                               */
    nn_kwino kwi, kwd;     /* forward and data gradient, Winograd           */
    nn_kconv kd;           /* data gradient, direct, over the bordered D    */
    int dh, dw;            /* D: rows, columns (channel pitch out.cp)       */
    float *w, *b, *wd, *u, *ud;
    /* POOL */
    nn_kpool kp;
    /* DROP */
    float rate;
    /* DENSE */
    size_t K, Kp;          /* input floats per row, rounded up to 16        */
    float *wt;             /* up x Kp: the transposed weights               */
    /* gradients */
    int gw, gb;            /* compute the weight / bias gradient            */
    size_t gw_off, gb_off; /* in the packed gradient vector                 */
    int need_dx;           /* something before this step trains             */
} tstep;

struct nn_tplan {
    const nn_net *net;
    const nn_kernels *k;
    unsigned flags;
    int n_steps, n_img;
    tstep *steps;
    tten in_t, flat_t, out_t;
    size_t in_size, out_size;
    size_t img_store, img_mask; /* floats per sample                        */
    size_t vec_store, vec_mask; /* floats per row (x cap)                   */
    size_t img_max, pad_max, dpad_max, dxp_max, wino_v, wino_m, vec_max;
    size_t n_grad;
    int img_trains;        /* an image step has parameter gradients         */
    float *zero;
    size_t zero_n;
};

struct nn_tws {
    const nn_tplan *p;
    int cap, batch, trained;
    float *x;              /* cap x input: the last forward's samples       */
    float *store, *mask;   /* image phase: cap x img_store / img_mask       */
    float *vstore, *vmask; /* vector phase                                  */
    float *out;            /* cap x out_size, logical                       */
    float *g;              /* packed gradients                              */
    float *pad, *dpad, *dxp, *d0, *d1, *wv, *wm, *vt, *vd0, *vd1, *dflat;
    sv_xoshiro rng;
    double *prof;          /* nn_tws_profile: per-step seconds, or NULL     */
};

/* ---- profiling ---------------------------------------------------------------- */

static double prof_now(const nn_tws *ws)
{
    if (!ws->prof)
        return 0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* adds the time since *t0 to slot `slot` and restarts *t0 */
static void prof_add(const nn_tws *ws, int slot, double *t0)
{
    if (!ws->prof)
        return;
    double t = prof_now(ws);
    ws->prof[slot] += t - *t0;
    *t0 = t;
}

/* ---- helpers ------------------------------------------------------------------ */

static int r16(size_t c) { return (int)((c + NN_KCHAN - 1) / NN_KCHAN * NN_KCHAN); }

/* Zeroed, 64-byte aligned float buffers.  Large ones (the per-sample
 * activation stores of a minibatch slice are tens of MB) come straight from
 * mmap, already zero, with transparent huge pages asked for (madvise): no
 * clearing pass, and 2 MB page faults on first touch instead of 4 kB ones
 * (measured: clearing and faulting the workspaces was 9 to 13 % of a
 * `stampvet train` run of 2 epochs of 1024 stamps).  A 64-byte header in
 * front says how the buffer was obtained, for afree. */
#define AHDR 64
#define ABIG ((size_t)1 << 20)

static float *amalloc(size_t nfloats)
{
    size_t bytes = (nfloats ? nfloats : 1) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64 + AHDR;
    unsigned char *base = NULL;
#ifdef HAVE_MMAP_THP
    if (bytes >= ABIG) {
        void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(m, bytes, MADV_HUGEPAGE); /* a hint: refused is fine */
#endif
        base = m;
        ((size_t *)base)[0] = bytes;
        ((size_t *)base)[1] = 1;
        return (float *)(base + AHDR);
    }
#endif
    base = aligned_alloc(64, bytes);
    if (!base)
        return NULL;
    memset(base, 0, bytes);
    ((size_t *)base)[0] = bytes;
    return (float *)(base + AHDR);
}

static void afree(float *p)
{
    if (!p)
        return;
    unsigned char *base = (unsigned char *)p - AHDR;
#ifdef HAVE_MMAP_THP
    if (((size_t *)base)[1]) {
        munmap(base, ((size_t *)base)[0]);
        return;
    }
#endif
    free(base);
}

static void grow(size_t *m, size_t v)
{
    if (v > *m)
        *m = v;
}

/* activation on the logical values of n_rows tensors t at x (pitch phys) */
static void act_fwd(nn_act act, float alpha, float *x, const tten *t, int n_rows)
{
    if (act == NN_ACT_LINEAR)
        return;
    size_t groups = (size_t)n_rows * t->h * t->w;
    if (t->c == t->cp && act != NN_ACT_SOFTMAX) {
        nn_act_forward(act, alpha, x, groups, t->c);
        return;
    }
    for (size_t g = 0; g < groups; g++)
        nn_act_forward(act, alpha, x + g * t->cp, 1, t->c);
}

static void act_bwd(nn_act act, float alpha, const float *y, float *d, const tten *t,
                    int n_rows)
{
    if (act == NN_ACT_LINEAR)
        return;
    size_t groups = (size_t)n_rows * t->h * t->w;
    if (act == NN_ACT_RELU) { /* padded values are 0: masked too */
        size_t n = groups * t->cp;
        for (size_t i = 0; i < n; i++)
            d[i] = y[i] > 0.0f ? d[i] : 0.0f;
        return;
    }
    if (t->c == t->cp && act != NN_ACT_SOFTMAX) {
        nn_act_backward(act, alpha, y, d, groups, t->c);
        return;
    }
    for (size_t g = 0; g < groups; g++)
        nn_act_backward(act, alpha, y + g * t->cp, d + g * t->cp, 1, t->c);
}

/* Winograd U = G g G' (in double) of a 3x3 kernel whose element
 * (a, b, input ci, output co) is K[a*sa + b*sb + ci*sc + co*so], laid out
 * 16 x cpi x cop; input channels [ci0, ci1) and output channels [co0, co1)
 * only. */
static void wino_weights(const float *K, ptrdiff_t sa, ptrdiff_t sb, ptrdiff_t sc,
                         ptrdiff_t so, int ci0, int ci1, int co0, int co1, int cpi, int cop,
                         float *u)
{
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    for (int ci = ci0; ci < ci1; ci++)
        for (int co = co0; co < co1; co++) {
            double g[3][3], gg[4][3];
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    g[a][b] = K[a * sa + b * sb + ci * sc + co * so];
            for (int i = 0; i < 4; i++)
                for (int b = 0; b < 3; b++)
                    gg[i][b] = G[i][0] * g[0][b] + G[i][1] * g[1][b] + G[i][2] * g[2][b];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    u[(((size_t)i * 4 + j) * cpi + ci) * cop + co] =
                        (float)(gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2]);
        }
}

/* ---- compiling -------------------------------------------------------------------- */

static int covers(const nn_net *net, const char **why)
{
    if (net->n_inputs != 1 || net->inputs[0] != 0) {
        *why = "several inputs";
        return 0;
    }
    const nn_layer *in = &net->layers[0];
    if (!(in->rank == 3 || in->rank == 1)) {
        *why = "input not an image or vector";
        return 0;
    }
    if (net->output != net->n_layers - 1) {
        *why = "output not the last layer";
        return 0;
    }
    int vec = in->rank == 1;
    for (int i = 1; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        if (L->n_in != 1 || L->in[0] != i - 1) {
            *why = "not a chain";
            return 0;
        }
        switch (L->kind) {
        case NN_CONV2D:
        case NN_MAXPOOL2D:
        case NN_AVGPOOL2D:
            if (vec) {
                *why = "image layer after a vector";
                return 0;
            }
            break;
        case NN_FLATTEN:
            vec = 1;
            break;
        case NN_DROPOUT:
        case NN_ACTIVATION:
            break;
        case NN_DENSE:
            if (!vec) {
                *why = "Dense on an image or sequence";
                return 0;
            }
            break;
        default:
            *why = nn_kind_name(L->kind);
            return 0;
        }
    }
    if (!vec) {
        *why = "output not a vector";
        return 0;
    }
    return 1;
}

static tstep *add_step(nn_tplan *p, tkind kind, int layer, int *cap)
{
    if (p->n_steps == *cap) {
        int nc = *cap ? 2 * *cap : 16;
        tstep *s = realloc(p->steps, (size_t)nc * sizeof *s);
        if (!s)
            return NULL;
        p->steps = s;
        *cap = nc;
    }
    tstep *s = &p->steps[p->n_steps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->layer = layer;
    return s;
}

static int layer_grads(const nn_layer *L, int *gw, int *gb)
{
    *gw = L->trainable && L->n_params > 0 && L->p[0].trainable;
    *gb = L->trainable && L->use_bias && L->n_params > 1 && L->p[1].trainable;
    return *gw || *gb;
}

/* a Conv2D step from tensor *t; *t becomes its output */
static int add_conv(nn_tplan *p, int *cap, int li, tten *t)
{
    const nn_layer *L = &p->net->layers[li];
    tstep *s = add_step(p, TS_CONV, li, cap);
    if (!s)
        return -1;
    int ho, wo;
    nn_conv_geometry(t->h, L->kh, L->sh, L->padding, &ho, &s->pt);
    nn_conv_geometry(t->w, L->kw, L->sw, L->padding, &wo, &s->pl);
    if (ho < 1 || wo < 1)
        return 1;
    s->img = 1;
    s->kh = L->kh;
    s->kw = L->kw;
    s->sh = L->sh;
    s->sw = L->sw;
    s->act = L->act;
    s->alpha = L->alpha;
    s->in = *t;
    int cout = L->filters, cop = r16((size_t)cout), cpi = t->cp;
    s->out = (tten){ho, wo, cout, cop};
    s->hs = (ho - 1) * s->sh + s->kh;
    s->wsp = (wo - 1) * s->sw + s->kw;
    s->pad = L->padding == NN_PAD_SAME;
    s->xin = s->pad ? (tten){s->hs, s->wsp, t->c, cpi} : *t;
    if (s->pad)
        grow(&p->pad_max, tt_phys(&s->xin));
    size_t kk = (size_t)s->kw * cpi;
    s->w = amalloc((size_t)s->kh * kk * cop);
    s->b = amalloc((size_t)cop);
    s->wd = amalloc((size_t)s->kh * s->kw * cop * cpi);
    if (!s->w || !s->b || !s->wd)
        return -1;
    s->kc = (nn_kconv){.ho = ho, .wo = wo, .kh = s->kh, .kk = (int)kk,
                       .x_orow = (ptrdiff_t)s->sh * s->xin.w * cpi,
                       .x_col = (ptrdiff_t)s->sw * cpi, .x_row = (ptrdiff_t)s->xin.w * cpi,
                       .x_kk = 1, .coutp = cop, .y_row = (ptrdiff_t)wo * cop, .y_col = cop,
                       .w = s->w, .b = s->b, .relu = L->act == NN_ACT_RELU};
    int wino_ok = s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1 &&
                  !(p->flags & NN_PLAN_NO_WINOGRAD);
    if (wino_ok && cpi % NN_KCHAN == 0 && 2 * t->c > cpi && cpi * cop >= p->k->wino_min_cc) {
        s->wino = 1;
        s->u = amalloc((size_t)16 * cpi * cop);
        if (!s->u)
            return -1;
        s->kwi = (nn_kwino){.h = s->xin.h, .w = s->xin.w, .cp = cpi, .ho = ho, .wo = wo,
                            .coutp = cop, .u = s->u, .b = s->b, .relu = s->kc.relu};
        size_t tw = (size_t)(wo + 1) / 2;
        grow(&p->wino_v, 16 * tw * cpi);
        grow(&p->wino_m, 16 * tw * cop);
    }
    /* data gradient: D is the output gradient dilated by the strides and
     * bordered by kernel-1 zeros; a valid convolution of D with the
     * flipped, transposed kernel gives the gradient of the hs x wsp input
     * span */
    s->dh = s->hs + s->kh - 1;
    s->dw = s->wsp + s->kw - 1;
    s->kd = (nn_kconv){.ho = s->hs, .wo = s->wsp, .kh = s->kh, .kk = s->kw * cop,
                       .x_orow = (ptrdiff_t)s->dw * cop, .x_col = cop,
                       .x_row = (ptrdiff_t)s->dw * cop, .x_kk = 1, .coutp = cpi,
                       .y_row = (ptrdiff_t)s->wsp * cpi, .y_col = cpi, .w = s->wd};
    if (wino_ok && cpi % NN_KCHAN == 0 && cop * cpi >= p->k->wino_min_cc) {
        s->wino_dx = 1;
        s->ud = amalloc((size_t)16 * cop * cpi);
        if (!s->ud)
            return -1;
        s->kwd = (nn_kwino){.h = s->dh, .w = s->dw, .cp = cop, .ho = s->hs, .wo = s->wsp,
                            .coutp = cpi, .u = s->ud};
        size_t tw = (size_t)(s->wsp + 1) / 2;
        grow(&p->wino_v, 16 * tw * cop);
        grow(&p->wino_m, 16 * tw * cpi);
    }
    grow(&p->dpad_max, (size_t)s->dh * s->dw * cop);
    grow(&p->dxp_max, (size_t)s->hs * s->wsp * cpi);
    grow(&p->zero_n, (size_t)cop > (size_t)cpi ? (size_t)cop : (size_t)cpi);
    *t = s->out;
    return 0;
}

static int compile(nn_tplan *p, sv_error *err)
{
    const nn_net *net = p->net;
    int cap = 0;
    const nn_layer *in = &net->layers[0];
    tten t = in->rank == 1 ? (tten){1, 1, in->shape[0], in->shape[0]}
                           : (tten){in->shape[0], in->shape[1], in->shape[2], in->shape[2]};
    int vec = in->rank == 1;
    p->in_t = t;
    p->n_img = 0;
    p->flat_t = t;
    if (!vec)
        grow(&p->img_max, tt_phys(&t));
    for (int li = 1; li < net->n_layers; li++) {
        const nn_layer *L = &net->layers[li];
        tstep *s = NULL;
        int st;
        switch (L->kind) {
        case NN_CONV2D:
            if ((st = add_conv(p, &cap, li, &t)))
                return st < 0 ? -1 : 1;
            grow(&p->img_max, tt_phys(&t));
            continue;
        case NN_MAXPOOL2D:
        case NN_AVGPOOL2D: {
            s = add_step(p, TS_POOL, li, &cap);
            if (!s)
                return -1;
            int ho, wo, pt, pl;
            nn_conv_geometry(t.h, L->kh, L->sh, L->padding, &ho, &pt);
            nn_conv_geometry(t.w, L->kw, L->sw, L->padding, &wo, &pl);
            if (ho < 1 || wo < 1)
                return 1;
            s->in = t;
            s->out = (tten){ho, wo, t.c, t.cp};
            s->kp = (nn_kpool){.h = t.h, .w = t.w, .c = t.c, .cp = t.cp, .ho = ho, .wo = wo,
                               .kh = L->kh, .kw = L->kw, .sh = L->sh, .sw = L->sw, .pt = pt,
                               .pl = pl, .is_max = L->kind == NN_MAXPOOL2D, .oy0 = 0,
                               .oy1 = ho};
            t = s->out;
            grow(&p->img_max, tt_phys(&t));
            break;
        }
        case NN_FLATTEN:
            if (!vec) {
                p->n_img = p->n_steps;
                p->flat_t = t;
                t = t.c == t.cp ? (tten){1, 1, t.h * t.w * t.c, t.h * t.w * t.c}
                                : (tten){1, t.h * t.w, t.c, t.cp};
                vec = 1;
            }
            continue;
        case NN_DROPOUT:
            s = add_step(p, TS_DROP, li, &cap);
            if (!s)
                return -1;
            s->in = s->out = t;
            s->rate = L->rate;
            break;
        case NN_ACTIVATION:
            if (L->act == NN_ACT_SOFTMAX && (!vec || t.h * t.w > 1))
                return 1; /* softmax over non-contiguous values */
            s = add_step(p, TS_ACT, li, &cap);
            if (!s)
                return -1;
            s->in = s->out = t;
            s->act = L->act;
            s->alpha = L->alpha;
            break;
        case NN_DENSE: {
            s = add_step(p, TS_DENSE, li, &cap);
            if (!s)
                return -1;
            int up = r16((size_t)L->units);
            s->in = t;
            s->out = (tten){1, 1, L->units, up};
            s->act = L->act;
            s->alpha = L->alpha;
            s->K = tt_phys(&t);
            s->Kp = (size_t)r16(s->K);
            s->w = amalloc(s->K * up);
            s->b = amalloc((size_t)up);
            s->wt = amalloc((size_t)up * s->Kp);
            if (!s->w || !s->b || !s->wt)
                return -1;
            s->kc = (nn_kconv){.ho = 1, .kh = 1, .kk = (int)s->K, .x_col = 1, .coutp = up,
                               .y_col = up, .w = s->w, .b = s->b,
                               .relu = L->act == NN_ACT_RELU};
            grow(&p->zero_n, s->Kp > (size_t)up ? s->Kp : (size_t)up);
            t = s->out;
            break;
        }
        default:
            return sv_error_set(err, SV_ERR_INTERNAL, "nn_train: layer '%s' not covered",
                                L->name);
        }
        s->img = !vec;
        if (s->img)
            grow(&p->img_max, tt_phys(&s->out));
    }
    if (!vec)
        return 1;
    if (p->n_img == 0 && in->rank == 3)
        return 1; /* cannot happen: an image input reaches a vector by Flatten */
    p->out_t = t;
    /* storage offsets, gradient slots, which steps need a data gradient */
    size_t so = 0, mo = 0, vo = tt_phys(&p->flat_t), vmo = 0, go = 0;
    int trains_before = 0;
    for (int i = 0; i < p->n_steps; i++) {
        tstep *s = &p->steps[i];
        size_t ph = tt_phys(&s->out);
        if (s->img) {
            s->off = so;
            so += ph;
            if (s->kind == TS_DROP) {
                s->moff = mo;
                mo += ph;
            }
        } else {
            s->off = vo;
            vo += ph;
            grow(&p->vec_max, ph);
            grow(&p->vec_max, tt_phys(&s->in));
            if (s->kind == TS_DROP) {
                s->moff = vmo;
                vmo += ph;
            }
        }
        s->need_dx = trains_before;
        if (s->kind == TS_CONV || s->kind == TS_DENSE) {
            if (layer_grads(&net->layers[s->layer], &s->gw, &s->gb)) {
                trains_before = 1;
                p->img_trains |= s->img;
            }
            s->gw_off = go;
            if (s->gw)
                go += s->kind == TS_CONV
                          ? (size_t)s->kh * s->kw * s->in.cp * s->out.cp
                          : s->K * (size_t)s->out.cp;
            s->gb_off = go;
            if (s->gb)
                go += (size_t)s->out.cp;
            if (s->kind == TS_CONV && s->need_dx && s->in.cp % NN_KCHAN)
                return 1; /* data gradient into an unpadded image: not covered */
        }
        if (s->kind == TS_DENSE && s->need_dx)
            grow(&p->vec_max, s->Kp);
    }
    grow(&p->vec_max, tt_phys(&p->flat_t));
    p->img_store = so;
    p->img_mask = mo;
    p->vec_store = vo;
    p->vec_mask = vmo;
    p->n_grad = go;
    p->zero = amalloc(p->zero_n);
    if (!p->zero)
        return -1;
    for (int i = 0; i < p->n_steps; i++) {
        tstep *s = &p->steps[i];
        s->kc.b = s->kc.b ? s->kc.b : p->zero;
        s->kd.b = p->zero;
        s->kwi.zero = p->zero;
        s->kwd.b = s->kwd.zero = p->zero;
    }
    return 0;
}

/* ---- weights into the plan ------------------------------------------------------ */

/* Repack input channels [c0, c1) of convolution step s from the kernel of
 * its layer L (Keras (kh, kw, cin, cout)): the direct kernel, its flipped
 * transpose, and the Winograd transforms of both. */
static void sync_conv_rows(tstep *s, const nn_layer *L, int c0, int c1)
{
    int cin = s->in.c, cpi = s->in.cp, cout = s->out.c, cop = s->out.cp;
    const float *K = L->p[0].w;
    for (int ky = 0; ky < s->kh; ky++)
        for (int kx = 0; kx < s->kw; kx++)
            for (int ci = c0; ci < c1; ci++) {
                const float *src = K + (((size_t)ky * s->kw + kx) * cin + ci) * cout;
                memcpy(s->w + (((size_t)ky * s->kw + kx) * cpi + ci) * cop, src,
                       (size_t)cout * sizeof(float));
                /* flipped, transposed: (kh-1-ky, kw-1-kx, co, ci) */
                float *d = s->wd + (((size_t)(s->kh - 1 - ky) * s->kw + (s->kw - 1 - kx)) * cop) *
                                       cpi + ci;
                for (int co = 0; co < cout; co++)
                    d[(size_t)co * cpi] = src[co];
            }
    ptrdiff_t sa = (ptrdiff_t)3 * cin * cout, sb = (ptrdiff_t)cin * cout;
    if (s->wino)
        wino_weights(K, sa, sb, cout, 1, c0, c1, 0, cout, cpi, cop, s->u);
    if (s->wino_dx) /* element (a, b, co, ci) = K[2-a][2-b][ci][co] */
        wino_weights(K + 2 * sa + 2 * sb, -sa, -sb, 1, cout, 0, cout, c0, c1, cop, cpi, s->ud);
}

/* Repack inputs [e0, e1) (logical) of Dense step s from its layer's kernel
 * (in, units): rows of the kernel and columns of its transpose. */
static void sync_dense_rows(tstep *s, const nn_layer *L, size_t e0, size_t e1)
{
    int units = s->out.c, up = s->out.cp;
    const float *K = L->p[0].w;
    for (size_t e = e0; e < e1; e++) {
        size_t ph = tt_phys_of(&s->in, e);
        memcpy(s->w + ph * up, K + e * units, (size_t)units * sizeof(float));
        for (int u = 0; u < units; u++)
            s->wt[(size_t)u * s->Kp + ph] = K[e * units + u];
    }
}

static void sync_bias(tstep *s, const nn_layer *L)
{
    if (L->use_bias && L->n_params > 1)
        memcpy(s->b, L->p[1].w, (size_t)s->out.c * sizeof(float));
}

void nn_tplan_sync(nn_tplan *p, const nn_net *net)
{
    if (!p || !net)
        return;
    for (int i = 0; i < p->n_steps; i++) {
        tstep *s = &p->steps[i];
        const nn_layer *L = &net->layers[s->layer];
        if (s->kind == TS_CONV)
            sync_conv_rows(s, L, 0, s->in.c);
        else if (s->kind == TS_DENSE)
            sync_dense_rows(s, L, 0, tt_logical(&s->in));
        if (s->kind == TS_CONV || s->kind == TS_DENSE)
            sync_bias(s, L);
    }
}

/* ---- one optimiser step, over threads ------------------------------------------ */

typedef struct update_ctx {
    nn_tplan *p;
    nn_tws *const *ws;
    int n_ws, parts;
    nn_optimizer *opt;
    nn_net *net;
} update_ctx;

/* n*part/parts */
static size_t part_at(size_t n, int part, int parts)
{
    return n * (size_t)part / (size_t)parts;
}

/* One piece of a parameter: its packed gradients at offset po, n of them,
 * summed over the slices into ws[0] in slice order (per element the
 * additions one slice after another), then the optimiser on elements
 * lo .. lo+n-1 of parameter j. */
static void update_piece(const update_ctx *u, int layer, int j, size_t po, size_t lo, size_t n)
{
    float *g = u->ws[0]->g + po;
    for (int k = 1; k < u->n_ws; k++) {
        const float *src = u->ws[k]->g + po;
        for (size_t e = 0; e < n; e++)
            g[e] += src[e];
    }
    nn_optimizer_apply_range(u->opt, u->net, layer, j, lo, n, g, 1.0f);
}

/* Part `part` of the step: for every layer with weights, its input
 * channels (Conv2D) or inputs (Dense) [part/parts, (part+1)/parts) of the
 * whole, gradient sum, update and repacking (and the biases in part 0).
 * Distinct parts touch distinct memory. */
static void update_task(int part, void *v)
{
    const update_ctx *u = v;
    for (int i = 0; i < u->p->n_steps; i++) {
        tstep *s = &u->p->steps[i];
        const nn_layer *L = &u->net->layers[s->layer];
        int cout = s->out.c, cop = s->out.cp;
        if (s->kind == TS_CONV) {
            int cin = s->in.c, cpi = s->in.cp, taps = s->kh * s->kw;
            int c0 = (int)part_at((size_t)cin, part, u->parts);
            int c1 = (int)part_at((size_t)cin, part + 1, u->parts);
            for (int ci = c0; ci < c1 && s->gw; ci++)
                for (int r = 0; r < taps; r++)
                    update_piece(u, s->layer, 0, s->gw_off + ((size_t)r * cpi + ci) * cop,
                                 ((size_t)r * cin + ci) * cout, (size_t)cout);
            sync_conv_rows(s, L, c0, c1);
        } else if (s->kind == TS_DENSE) {
            size_t nlog = tt_logical(&s->in);
            size_t e0 = part_at(nlog, part, u->parts), e1 = part_at(nlog, part + 1, u->parts);
            for (size_t e = e0; e < e1 && s->gw; e++)
                update_piece(u, s->layer, 0, s->gw_off + tt_phys_of(&s->in, e) * cop,
                             e * cout, (size_t)cout);
            sync_dense_rows(s, L, e0, e1);
        } else {
            continue;
        }
        if (part == 0) {
            if (s->gb)
                update_piece(u, s->layer, 1, s->gb_off, 0, (size_t)cout);
            sync_bias(s, L);
        }
    }
}

void nn_tplan_update(nn_tplan *p, nn_tws *const *ws, int n_ws, nn_optimizer *opt, nn_net *net,
                     int threads)
{
    if (!p || !ws || n_ws < 1 || !opt || !net)
        return;
    update_ctx u = {p, ws, n_ws, threads < 1 ? 1 : threads, opt, net};
    nn_optimizer_begin(opt);
    sv_parallel_for(u.parts, u.parts, update_task, &u);
}

void nn_tplan_free(nn_tplan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_steps; i++) {
        tstep *s = &p->steps[i];
        afree(s->w);
        afree(s->b);
        afree(s->wd);
        afree(s->u);
        afree(s->ud);
        afree(s->wt);
    }
    free(p->steps);
    afree(p->zero);
    free(p);
}

nn_tplan *nn_tplan_new(const nn_net *net, nn_isa isa, unsigned flags, sv_error *err)
{
    if (!net || !net->finalized) {
        sv_error_set(err, SV_ERR_ARG, "nn_tplan_new: network missing or not finalised");
        return NULL;
    }
    if (isa == NN_ISA_AUTO) {
        const char *env = NULL;
        int i = sv_isa_requested(&env); /* read once per process (cpu.h) */
        if (i < 0) {
            sv_error_set(err, SV_ERR_ARG,
                         "nn_tplan_new: STAMPVET_ISA='%s' is not one of auto, generic, avx2, "
                         "avx512, reference",
                         env);
            return NULL;
        }
        isa = (nn_isa)i;
    }
    if (isa == NN_ISA_AUTO)
        isa = nn_isa_best();
    if (isa == NN_ISA_REFERENCE) {
        sv_error_set(err, SV_ERR_UNSUPPORTED, "nn_tplan_new: the reference engine was asked");
        return NULL;
    }
    if (isa < 0 || isa >= NN_ISA_COUNT || !nn_isa_supported(isa)) {
        sv_error_set(err, SV_ERR_ARG,
                     "nn_tplan_new: instruction set %s not supported by this CPU or build",
                     nn_isa_name(isa));
        return NULL;
    }
    const char *why = NULL;
    if (!covers(net, &why)) {
        sv_error_set(err, SV_ERR_UNSUPPORTED, "nn_tplan_new: not covered (%s)", why);
        return NULL;
    }
    nn_tplan *p = calloc(1, sizeof *p);
    if (!p) {
        sv_error_set(err, SV_ERR_NOMEM, "nn_tplan_new: out of memory");
        return NULL;
    }
    p->net = net;
    p->flags = flags;
    p->k = isa == NN_ISA_AVX512 ? nn_kernels_avx512()
           : isa == NN_ISA_AVX2 ? nn_kernels_avx2()
                                : nn_kernels_generic();
    p->in_size = net->layers[0].out_size;
    p->out_size = net->layers[net->output].out_size;
    int st = compile(p, err);
    if (st) {
        nn_tplan_free(p);
        if (st > 0)
            sv_error_set(err, SV_ERR_UNSUPPORTED,
                         "nn_tplan_new: not covered (shapes or softmax layout)");
        else if (!err || !err->status)
            sv_error_set(err, SV_ERR_NOMEM, "nn_tplan_new: out of memory");
        return NULL;
    }
    nn_tplan_sync(p, net);
    return p;
}

const char *nn_tplan_isa(const nn_tplan *p) { return p ? p->k->isa : "none"; }

int nn_tplan_steps(const nn_tplan *p) { return p ? p->n_steps : 0; }

int nn_tplan_step_layer(const nn_tplan *p, int i)
{
    return p && i >= 0 && i < p->n_steps ? p->steps[i].layer : -1;
}

void nn_tws_profile(nn_tws *ws, double *t)
{
    if (ws)
        ws->prof = t;
}

int nn_tplan_has_grad(const nn_tplan *p, int layer, int j)
{
    for (int i = 0; p && i < p->n_steps; i++)
        if (p->steps[i].layer == layer)
            return j == 0 ? p->steps[i].gw : (j == 1 ? p->steps[i].gb : 0);
    return 0;
}

/* ---- workspaces ---------------------------------------------------------------------- */

void nn_tws_free(nn_tws *ws)
{
    if (!ws)
        return;
    float *bufs[] = {ws->x, ws->store, ws->mask, ws->vstore, ws->vmask, ws->out, ws->g,
                     ws->pad,   ws->dpad, ws->dxp,    ws->d0,    ws->d1,  ws->wv,
                     ws->wm,    ws->vt,   ws->vd0,    ws->vd1,   ws->dflat};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        afree(bufs[i]);
    free(ws);
}

nn_tws *nn_tws_new(const nn_tplan *p, int max_batch, sv_error *err)
{
    if (!p || max_batch < 1 || max_batch > (1 << 20)) {
        sv_error_set(err, SV_ERR_ARG, "nn_tws_new: no plan or max_batch %d not in 1..%d",
                     max_batch, 1 << 20);
        return NULL;
    }
    nn_tws *ws = calloc(1, sizeof *ws);
    if (!ws) {
        sv_error_set(err, SV_ERR_NOMEM, "nn_tws_new: out of memory");
        return NULL;
    }
    size_t n = (size_t)max_batch;
    ws->p = p;
    ws->cap = max_batch;
    sv_xoshiro_seed(&ws->rng, 0x5eedULL);
    ws->x = amalloc(n * p->in_size);
    ws->store = amalloc(n * p->img_store);
    ws->mask = amalloc(n * p->img_mask);
    ws->vstore = amalloc(n * p->vec_store);
    ws->vmask = amalloc(n * p->vec_mask);
    ws->out = amalloc(n * p->out_size);
    ws->g = amalloc(p->n_grad);
    ws->pad = amalloc(p->pad_max);
    ws->dpad = amalloc(p->dpad_max);
    ws->dxp = amalloc(p->dxp_max);
    ws->d0 = amalloc(p->img_max);
    ws->d1 = amalloc(p->img_max);
    ws->wv = amalloc(p->wino_v);
    ws->wm = amalloc(p->wino_m);
    ws->vt = amalloc(n * p->vec_max);
    ws->vd0 = amalloc(n * p->vec_max);
    ws->vd1 = amalloc(n * p->vec_max);
    ws->dflat = amalloc(n * tt_phys(&p->flat_t));
    if (!ws->x || !ws->store || !ws->mask || !ws->vstore || !ws->vmask || !ws->out || !ws->g ||
        !ws->pad || !ws->dpad || !ws->dxp || !ws->d0 || !ws->d1 || !ws->wv || !ws->wm ||
        !ws->vt || !ws->vd0 || !ws->vd1 || !ws->dflat) {
        nn_tws_free(ws);
        sv_error_set(err, SV_ERR_NOMEM, "nn_tws_new: out of memory for a batch of %d",
                     max_batch);
        return NULL;
    }
    return ws;
}

void nn_tws_seed(nn_tws *ws, uint64_t seed)
{
    if (ws)
        sv_xoshiro_seed(&ws->rng, seed);
}

void nn_tws_zero_grads(nn_tws *ws)
{
    if (ws)
        memset(ws->g, 0, ws->p->n_grad * sizeof(float));
}

void nn_tws_grads(const nn_tws *ws, float *const *grads)
{
    const nn_tplan *p = ws->p;
    for (int i = 0; i < p->n_steps; i++) {
        const tstep *s = &p->steps[i];
        if (s->kind != TS_CONV && s->kind != TS_DENSE)
            continue;
        float *gw = grads[(size_t)s->layer * NN_MAX_PARAMS],
              *gb = grads[(size_t)s->layer * NN_MAX_PARAMS + 1];
        int cout = s->out.c, cop = s->out.cp;
        const float *g = ws->g + s->gw_off;
        if (s->gw && gw) {
            if (s->kind == TS_CONV) {
                int cin = s->in.c, cpi = s->in.cp;
                for (int r = 0; r < s->kh * s->kw; r++)
                    for (int ci = 0; ci < cin; ci++)
                        memcpy(gw + ((size_t)r * cin + ci) * cout,
                               g + ((size_t)r * cpi + ci) * cop, (size_t)cout * sizeof(float));
            } else {
                size_t nlog = tt_logical(&s->in);
                for (size_t e = 0; e < nlog; e++)
                    memcpy(gw + e * cout, g + tt_phys_of(&s->in, e) * cop,
                           (size_t)cout * sizeof(float));
            }
        }
        if (s->gb && gb)
            memcpy(gb, ws->g + s->gb_off, (size_t)cout * sizeof(float));
    }
}

/* ---- forward ------------------------------------------------------------------------- */

/* Dropout masks of every Dropout step, drawn in the reference engine's order
 * (layer by layer, sample-major, logical values), stored at physical
 * positions (padded positions 0).  The reference keeps a value when
 * u = (r >> 11) 2^-53 >= rate (u from sv_xoshiro_uniform); since r >> 11 is
 * an integer below 2^53 and rate 2^53 is exact, that is
 * (r >> 11) >= ceil(rate 2^53): the same decisions without the double. */
static void draw_masks(nn_tws *ws, int batch)
{
    const nn_tplan *p = ws->p;
    for (int i = 0; i < p->n_steps; i++) {
        const tstep *s = &p->steps[i];
        if (s->kind != TS_DROP)
            continue;
        const tten *t = &s->out;
        size_t ph = tt_phys(t), groups = (size_t)t->h * t->w;
        float keep = 1.0f - s->rate, scale = 1.0f / keep;
        uint64_t thr = (uint64_t)ceil((double)s->rate * 9007199254740992.0);
        sv_xoshiro rng = ws->rng; /* a local copy the compiler keeps in registers */
        for (int n = 0; n < batch; n++) {
            float *m = s->img ? ws->mask + (size_t)n * p->img_mask + s->moff
                              : ws->vmask + (size_t)ws->cap * s->moff + (size_t)n * ph;
            for (size_t g = 0; g < groups; g++) {
                float *mg = m + g * t->cp;
                if (s->rate <= 0.0f)
                    for (int c = 0; c < t->c; c++)
                        mg[c] = 1.0f;
                else
                    for (int c = 0; c < t->c; c++)
                        mg[c] = (sv_xoshiro_next(&rng) >> 11) >= thr ? scale : 0.0f;
                for (int c = t->c; c < t->cp; c++)
                    mg[c] = 0.0f;
            }
        }
        ws->rng = rng;
    }
}

/* the zero-bordered copy of x that a "same" convolution reads */
static void pad_input(const tstep *s, const float *x, float *o)
{
    const tten *a = &s->in, *b = &s->xin;
    size_t rowf = (size_t)b->w * b->cp;
    memset(o, 0, (size_t)b->h * rowf * sizeof(float));
    for (int y = 0; y < b->h; y++) {
        int sy = y - s->pt;
        if (sy < 0 || sy >= a->h)
            continue;
        int x1 = s->pl + a->w < b->w ? s->pl + a->w : b->w;
        memcpy(o + y * rowf + (size_t)s->pl * b->cp, x + (size_t)sy * a->w * a->cp,
               (size_t)(x1 - s->pl) * a->cp * sizeof(float));
    }
}

static void conv_forward(nn_tws *ws, const tstep *s, const float *x, float *y)
{
    const nn_kernels *k = ws->p->k;
    if (s->pad) {
        pad_input(s, x, ws->pad);
        x = ws->pad;
    }
    if (s->wino)
        k->wino(&s->kwi, x, y, 0, (s->out.h + 1) / 2, ws->wv, ws->wm);
    else
        k->conv(&s->kc, x, y);
    if (s->act != NN_ACT_RELU)
        act_fwd(s->act, s->alpha, y, &s->out, 1);
}

/* the input of image step i of sample n (x: the sample) */
static const float *img_in(const nn_tws *ws, int i, int n, const float *x)
{
    const nn_tplan *p = ws->p;
    return i == 0 ? x : ws->store + (size_t)n * p->img_store + p->steps[i - 1].off;
}

static const float *img_mask(const nn_tws *ws, const tstep *s, int n)
{
    return ws->mask + (size_t)n * ws->p->img_mask + s->moff;
}

static void forward_image(nn_tws *ws, int n, const float *x, int training)
{
    const nn_tplan *p = ws->p;
    double t0 = prof_now(ws);
    for (int i = 0; i < p->n_img; i++) {
        const tstep *s = &p->steps[i];
        const float *in = img_in(ws, i, n, x);
        float *o = ws->store + (size_t)n * p->img_store + s->off;
        size_t ph = tt_phys(&s->out);
        switch (s->kind) {
        case TS_CONV:
            conv_forward(ws, s, in, o);
            break;
        case TS_POOL:
            p->k->pool(&s->kp, in, o);
            break;
        case TS_DROP:
            if (training) {
                p->k->mul(in, img_mask(ws, s, n), o, ph);
            } else {
                memcpy(o, in, ph * sizeof(float));
            }
            break;
        case TS_ACT:
            memcpy(o, in, ph * sizeof(float));
            act_fwd(s->act, s->alpha, o, &s->out, 1);
            break;
        default:
            break;
        }
        prof_add(ws, 4 * i, &t0);
    }
}

/* rows of vector step i's input (pitch phys(in)) */
static const float *vec_in(const nn_tws *ws, int i)
{
    const nn_tplan *p = ws->p;
    return i == p->n_img ? ws->vstore : ws->vstore + (size_t)ws->cap * p->steps[i - 1].off;
}

static float *vec_out(const nn_tws *ws, const tstep *s)
{
    return ws->vstore + (size_t)ws->cap * s->off;
}

static void forward_vector(nn_tws *ws, int m, int training)
{
    const nn_tplan *p = ws->p;
    double t0 = prof_now(ws);
    for (int i = p->n_img; i < p->n_steps; i++) {
        const tstep *s = &p->steps[i];
        const float *in = vec_in(ws, i);
        float *o = vec_out(ws, s);
        size_t ph = tt_phys(&s->out), n_all = (size_t)m * ph;
        switch (s->kind) {
        case TS_DENSE: {
            /* transpose the m x K rows to K x m: tiles of rows, input step 1 */
            const float *xin = in;
            if (m > 1) {
                for (int j = 0; j < m; j++)
                    for (size_t q = 0; q < s->K; q++)
                        ws->vt[q * m + j] = in[j * s->K + q];
                xin = ws->vt;
            }
            nn_kconv kc = s->kc;
            kc.wo = m;
            kc.x_kk = m;
            p->k->conv(&kc, xin, o);
            if (s->act != NN_ACT_RELU)
                act_fwd(s->act, s->alpha, o, &s->out, m);
            break;
        }
        case TS_DROP:
            if (training) {
                p->k->mul(in, ws->vmask + (size_t)ws->cap * s->moff, o, n_all);
            } else {
                memcpy(o, in, n_all * sizeof(float));
            }
            break;
        case TS_ACT:
            memcpy(o, in, n_all * sizeof(float));
            act_fwd(s->act, s->alpha, o, &s->out, m);
            break;
        default:
            break;
        }
        prof_add(ws, 4 * i, &t0);
    }
}

/* the rows of the output (pitch phys(out_t)) */
static const float *out_rows(const nn_tws *ws)
{
    const nn_tplan *p = ws->p;
    return p->n_steps > p->n_img ? vec_out(ws, &p->steps[p->n_steps - 1]) : ws->vstore;
}

#ifdef HAVE_MXCSR
#define FTZ_ON()                          \
    unsigned int csr_ = _mm_getcsr();     \
    _mm_setcsr(csr_ | 0x8040)
#define FTZ_OFF() _mm_setcsr(csr_)
#else
#define FTZ_ON() (void)0
#define FTZ_OFF() (void)0
#endif

int nn_tws_forward(nn_tws *ws, int batch, const float *x, int training, sv_error *err)
{
    if (!ws || !x)
        return sv_error_set(err, SV_ERR_ARG, "nn_tws_forward: no workspace or input");
    if (batch < 1 || batch > ws->cap)
        return sv_error_set(err, SV_ERR_ARG, "nn_tws_forward: batch %d not in 1..%d", batch,
                            ws->cap);
    const nn_tplan *p = ws->p;
    FTZ_ON();
    double t0 = prof_now(ws);
    int other = 4 * p->n_steps + 1;
    ws->batch = 0;
    memcpy(ws->x, x, (size_t)batch * p->in_size * sizeof(float));
    x = ws->x;
    prof_add(ws, other, &t0);
    if (training)
        draw_masks(ws, batch);
    prof_add(ws, 4 * p->n_steps, &t0);
    size_t K0 = tt_phys(&p->flat_t);
    for (int n = 0; n < batch; n++) {
        const float *xn = x + (size_t)n * p->in_size;
        const float *r = xn;
        if (p->n_img > 0) {
            forward_image(ws, n, xn, training);
            r = ws->store + (size_t)n * p->img_store + p->steps[p->n_img - 1].off;
        }
        t0 = prof_now(ws);
        memcpy(ws->vstore + (size_t)n * K0, r, K0 * sizeof(float));
        prof_add(ws, other, &t0);
    }
    forward_vector(ws, batch, training);
    t0 = prof_now(ws);
    const float *o = out_rows(ws);
    size_t ph = tt_phys(&p->out_t);
    for (int n = 0; n < batch; n++)
        for (size_t e = 0; e < p->out_size; e++)
            ws->out[(size_t)n * p->out_size + e] = o[(size_t)n * ph + tt_phys_of(&p->out_t, e)];
    ws->batch = batch;
    ws->trained = training ? 1 : 0;
    prof_add(ws, other, &t0);
    FTZ_OFF();
    return 0;
}

const float *nn_tws_output(const nn_tws *ws) { return ws ? ws->out : NULL; }

/* ---- backward ------------------------------------------------------------------------ */

/* d (the gradient of `rows` outputs y of CONV or DENSE step s) becomes the
 * pre-activation gradient, and the bias gradient is added, in one pass */
static void act_bias_bwd(nn_tws *ws, const tstep *s, const float *y, float *d, int rows)
{
    int relu = s->act == NN_ACT_RELU;
    float *gb = s->gb ? ws->g + s->gb_off : NULL;
    if (!relu)
        act_bwd(s->act, s->alpha, y, d, &s->out, rows);
    if (relu || gb)
        ws->p->k->bias_bwd(y, d, (size_t)rows * s->out.h * s->out.w, s->out.cp, gb, relu);
}

/* D: the output gradient d of conv step s dilated by the strides, bordered
 * by kernel-1 zeros */
static void dilate(const tstep *s, const float *d, float *D)
{
    const tten *o = &s->out;
    size_t cp = (size_t)o->cp, row = (size_t)s->dw * cp;
    int by = s->kh - 1, bx = s->kw - 1;
    if (s->sh == 1 && s->sw == 1) { /* zero the border only */
        memset(D, 0, by * row * sizeof(float));
        memset(D + (size_t)(by + o->h) * row, 0, by * row * sizeof(float));
        for (int oy = 0; oy < o->h; oy++) {
            float *r = D + (size_t)(by + oy) * row;
            memset(r, 0, bx * cp * sizeof(float));
            memcpy(r + bx * cp, d + (size_t)oy * o->w * cp, (size_t)o->w * cp * sizeof(float));
            memset(r + (bx + o->w) * cp, 0, bx * cp * sizeof(float));
        }
        return;
    }
    memset(D, 0, (size_t)s->dh * row * sizeof(float));
    for (int oy = 0; oy < o->h; oy++)
        for (int ox = 0; ox < o->w; ox++)
            memcpy(D + (size_t)(by + oy * s->sh) * row + (bx + (size_t)ox * s->sw) * cp,
                   d + ((size_t)oy * o->w + ox) * cp, cp * sizeof(float));
}

/* Conv2D of sample (input x, output y), output gradient d (overwritten
 * with the pre-activation gradient); data gradient into dx when non-NULL. */
static void conv_backward(nn_tws *ws, const tstep *s, const float *x, const float *y, float *d,
                          float *dx)
{
    const nn_tplan *p = ws->p;
    const nn_kernels *k = p->k;
    const tten *o = &s->out, *xi = &s->xin;
    int cop = o->cp, cpi = s->in.cp;
    int slot = (int)(s - p->steps) * 4;
    act_bias_bwd(ws, s, y, d, 1);
    double t0 = prof_now(ws);
    if (s->gw) {
        const float *xp = x;
        if (s->pad) {
            pad_input(s, x, ws->pad);
            xp = ws->pad;
        }
        /* dW[ky][kx][ci][:] += sum_{oy,ox} x[oy*sh+ky][ox*sw+kx][ci] d[oy][ox][:]:
         * "pixels" are input channels (of all kernel columns at once when
         * the channels are dense), the reduction runs over output pixels */
        float *gw = ws->g + s->gw_off;
        nn_kconv kg = {.ho = 1, .kh = o->h, .kk = o->w, .x_col = 1,
                       .x_row = (ptrdiff_t)s->sh * xi->w * cpi, .x_kk = (ptrdiff_t)s->sw * cpi,
                       .coutp = cop, .y_col = cop, .w = d, .b = p->zero, .acc = 1};
        size_t xrow = (size_t)xi->w * cpi, wrow = (size_t)s->kw * cpi * cop;
        if (xi->c == cpi) {
            kg.wo = s->kw * cpi;
            for (int ky = 0; ky < s->kh; ky++)
                k->conv(&kg, xp + ky * xrow, gw + ky * wrow);
        } else {
            kg.wo = xi->c;
            for (int ky = 0; ky < s->kh; ky++)
                for (int kx = 0; kx < s->kw; kx++)
                    k->conv(&kg, xp + ky * xrow + (size_t)kx * cpi,
                            gw + ky * wrow + (size_t)kx * cpi * cop);
        }
    }
    prof_add(ws, slot + 2, &t0);
    if (!dx)
        return;
    float *D = ws->dpad;
    dilate(s, d, D);
    int direct = s->pt == 0 && s->pl == 0 && s->hs == s->in.h && s->wsp == s->in.w;
    float *dst = direct ? dx : ws->dxp;
    if (s->wino_dx)
        k->wino(&s->kwd, D, dst, 0, (s->hs + 1) / 2, ws->wv, ws->wm);
    else
        k->conv(&s->kd, D, dst);
    prof_add(ws, slot + 3, &t0);
    if (direct)
        return;
    /* the span's gradient, shifted by the padding, into the input's */
    memset(dx, 0, tt_phys(&s->in) * sizeof(float));
    for (int yy = 0; yy < s->in.h; yy++) {
        int sy = yy + s->pt;
        if (sy >= s->hs)
            break;
        int x1 = s->in.w < s->wsp - s->pl ? s->in.w : s->wsp - s->pl;
        if (x1 > 0)
            memcpy(dx + (size_t)yy * s->in.w * cpi,
                   ws->dxp + ((size_t)sy * s->wsp + s->pl) * cpi,
                   (size_t)x1 * cpi * sizeof(float));
    }
}

static void backward_image(nn_tws *ws, int n, const float *x)
{
    const nn_tplan *p = ws->p;
    float *d = ws->d0, *nd = ws->d1;
    double t0 = prof_now(ws);
    memcpy(d, ws->dflat + (size_t)n * tt_phys(&p->flat_t),
           tt_phys(&p->flat_t) * sizeof(float));
    prof_add(ws, 4 * p->n_steps + 1, &t0);
    const float *base = ws->store + (size_t)n * p->img_store;
    for (int i = p->n_img - 1; i >= 0; i--) {
        const tstep *s = &p->steps[i];
        const float *in = img_in(ws, i, n, x), *y = base + s->off;
        float *dx = s->need_dx ? nd : NULL;
        size_t ph = tt_phys(&s->out);
        switch (s->kind) {
        case TS_CONV:
            conv_backward(ws, s, in, y, d, dx);
            break;
        case TS_POOL:
            if (dx)
                p->k->pool_bwd(&s->kp, in, y, d, dx);
            break;
        case TS_DROP: {
            p->k->mul(d, img_mask(ws, s, n), d, ph);
            dx = d;
            break;
        }
        case TS_ACT:
            act_bwd(s->act, s->alpha, y, d, &s->out, 1);
            dx = d;
            break;
        default:
            break;
        }
        prof_add(ws, 4 * i + 1, &t0);
        if (!s->need_dx)
            return;
        if (dx == nd) {
            nd = d;
            d = dx;
        }
    }
}

/* the vector phase backward; leaves the gradient of the flat rows in
 * ws->dflat; returns 0 when nothing before needs it */
static int backward_vector(nn_tws *ws, int m)
{
    const nn_tplan *p = ws->p;
    const nn_kernels *k = p->k;
    float *d = ws->vd0, *nd = ws->vd1;
    double t0 = prof_now(ws);
    for (int i = p->n_steps - 1; i >= p->n_img; i--) {
        const tstep *s = &p->steps[i];
        const float *in = vec_in(ws, i), *y = vec_out(ws, s);
        size_t ph = tt_phys(&s->out), n_all = (size_t)m * ph;
        float *dx = i == p->n_img ? ws->dflat : nd;
        switch (s->kind) {
        case TS_DENSE: {
            act_bias_bwd(ws, s, y, d, m);
            int up = s->out.cp;
            if (s->gw) { /* dW[q][:] += sum_j in[j][q] d[j][:] */
                nn_kconv kg = {.ho = 1, .wo = (int)s->K, .kh = 1, .kk = m, .x_col = 1,
                               .x_kk = (ptrdiff_t)s->K, .coutp = up, .y_col = up, .w = d,
                               .b = p->zero, .acc = 1};
                k->conv(&kg, in, ws->g + s->gw_off);
            }
            if (s->need_dx) { /* dx[j][:] = sum_u d[j][u] W'[u][:] */
                float *dst = s->Kp == s->K ? dx : ws->vt;
                nn_kconv kx = {.ho = 1, .wo = m, .kh = 1, .kk = up, .x_col = up, .x_kk = 1,
                               .coutp = (int)s->Kp, .y_col = (ptrdiff_t)s->Kp, .w = s->wt,
                               .b = p->zero};
                k->conv(&kx, d, dst);
                if (dst != dx)
                    for (int j = 0; j < m; j++)
                        memcpy(dx + j * s->K, dst + j * s->Kp, s->K * sizeof(float));
            }
            break;
        }
        case TS_DROP: {
            k->mul(d, ws->vmask + (size_t)ws->cap * s->moff, dx, n_all);
            break;
        }
        case TS_ACT:
            act_bwd(s->act, s->alpha, y, d, &s->out, m);
            memcpy(dx, d, n_all * sizeof(float));
            break;
        default:
            break;
        }
        prof_add(ws, 4 * i + 1, &t0);
        if (!s->need_dx)
            return 0;
        if (dx == nd) {
            nd = d;
            d = dx;
        }
    }
    return 1;
}

int nn_tws_backward(nn_tws *ws, const float *d_output, sv_error *err)
{
    if (!ws || !d_output)
        return sv_error_set(err, SV_ERR_ARG, "nn_tws_backward: no workspace or gradient");
    if (!ws->trained || ws->batch < 1)
        return sv_error_set(err, SV_ERR_ARG, "nn_tws_backward: needs a training forward pass");
    const nn_tplan *p = ws->p;
    int m = ws->batch;
    FTZ_ON();
    double t0 = prof_now(ws);
    /* the output gradient at physical positions */
    size_t ph = tt_phys(&p->out_t);
    float *d = p->n_steps > p->n_img ? ws->vd0 : ws->dflat;
    memset(d, 0, (size_t)m * ph * sizeof(float));
    for (int n = 0; n < m; n++)
        for (size_t e = 0; e < p->out_size; e++)
            d[(size_t)n * ph + tt_phys_of(&p->out_t, e)] = d_output[(size_t)n * p->out_size + e];
    prof_add(ws, 4 * p->n_steps + 1, &t0);
    if (backward_vector(ws, m) && p->img_trains)
        for (int n = 0; n < m; n++)
            backward_image(ws, n, ws->x + (size_t)n * p->in_size);
    FTZ_OFF();
    return 0;
}
