/* lc_gates_tmpl.h — the GRU and LSTM gate kernels and the fused
 * bias + activation of lc_infer.c, compiled once per instruction set: lc_infer.c defines LC_TARGET (a target attribute, or
 * nothing) and LC_NAME(f) (f with the ISA's suffix) and includes this file
 * after its vector macros (vload, vsigmoid, ...).  Which copy runs is
 * chosen from cpu.h when a plan is made; no other dispatch.
 *
 * The kernels run a whole batch of N rows of u units.  xp: input
 * projections, row n at xp + n * xs (z, r, h blocks of u), without the
 * input bias b_in (added here); hp: recurrent products, row n at
 * hp + n * 3u, without b_rec (added here when non-NULL).
 * No include guard: included once per ISA. */

/* reset_after = 1 */
LC_TARGET static void LC_NAME(gates_reset_after)(int N, int u, int hard, const float *xp, size_t xs,
                                        const float *b_in, const float *hp, size_t hs,
                                        const float *b_rec, float *h)
{
    static const float zero16[16] = {0};
    for (int n = 0; n < N; n++) {
        const float *x = xp + (size_t)n * xs, *r_ = hp + (size_t)n * hs;
        float *hn = h + (size_t)n * u;
        int j = 0;
        for (; j + 16 <= u; j += 16) {
            const float *bi = b_in ? b_in : zero16, *br = b_rec ? b_rec : zero16;
            size_t o = b_in ? (size_t)j : 0, q = b_rec ? (size_t)j : 0;
            v16sf az = vload(x + j) + vload(bi + o) + vload(r_ + j) + vload(br + q);
            v16sf ar = vload(x + u + j) + vload(bi + (b_in ? o + u : 0)) + vload(r_ + u + j) +
                       vload(br + (b_rec ? q + u : 0));
            v16sf z = hard ? vhsig(az) : vsigmoid(az);
            v16sf r = hard ? vhsig(ar) : vsigmoid(ar);
            v16sf rh = vload(r_ + 2 * u + j) + vload(br + (b_rec ? q + 2 * u : 0));
            v16sf c = vtanh(vload(x + 2 * u + j) + vload(bi + (b_in ? o + 2 * u : 0)) + r * rh);
            v16sf hv = vload(hn + j);
            vstore(hn + j, z * hv + (vsplat(1.0f) - z) * c);
        }
        if (j < u) { /* the last u % 16 units, as one padded vector */
            float a0[16] = {0}, a1[16] = {0}, a2[16] = {0}, a3[16] = {0}, hv[16] = {0};
            for (int k = 0; j + k < u; k++) {
                int jj = j + k;
                a0[k] = x[jj] + (b_in ? b_in[jj] : 0) + r_[jj] + (b_rec ? b_rec[jj] : 0);
                a1[k] = x[u + jj] + (b_in ? b_in[u + jj] : 0) + r_[u + jj] +
                        (b_rec ? b_rec[u + jj] : 0);
                a2[k] = x[2 * u + jj] + (b_in ? b_in[2 * u + jj] : 0);
                a3[k] = r_[2 * u + jj] + (b_rec ? b_rec[2 * u + jj] : 0);
                hv[k] = hn[jj];
            }
            v16sf z = hard ? vhsig(vload(a0)) : vsigmoid(vload(a0));
            v16sf r = hard ? vhsig(vload(a1)) : vsigmoid(vload(a1));
            v16sf c = vtanh(vload(a2) + r * vload(a3));
            v16sf hh = vload(hv);
            vstore(hv, z * hh + (vsplat(1.0f) - z) * c);
            for (int k = 0; j + k < u; k++)
                hn[j + k] = hv[k];
        }
    }
}

/* reset_after = 0, first half: z into zbuf, r * h into rh */
LC_TARGET static void LC_NAME(gates_first)(int N, int u, int hard, const float *xp, size_t xs,
                                  const float *b_in, const float *hp, size_t hs,
                                  const float *h, float *zbuf, float *rh)
{
    static const float zero16[16] = {0};
    for (int n = 0; n < N; n++) {
        const float *x = xp + (size_t)n * xs, *r_ = hp + (size_t)n * hs;
        const float *hn = h + (size_t)n * u;
        float *zn = zbuf + (size_t)n * u, *rn = rh + (size_t)n * u;
        int j = 0;
        for (; j + 16 <= u; j += 16) {
            const float *bi = b_in ? b_in : zero16;
            size_t o = b_in ? (size_t)j : 0;
            v16sf az = vload(x + j) + vload(bi + o) + vload(r_ + j);
            v16sf ar = vload(x + u + j) + vload(bi + (b_in ? o + u : 0)) + vload(r_ + u + j);
            v16sf z = hard ? vhsig(az) : vsigmoid(az);
            v16sf r = hard ? vhsig(ar) : vsigmoid(ar);
            vstore(zn + j, z);
            vstore(rn + j, r * vload(hn + j));
        }
        if (j < u) {
            float a0[16] = {0}, a1[16] = {0}, hv[16] = {0}, zo[16], ro[16];
            for (int k = 0; j + k < u; k++) {
                int jj = j + k;
                a0[k] = x[jj] + (b_in ? b_in[jj] : 0) + r_[jj];
                a1[k] = x[u + jj] + (b_in ? b_in[u + jj] : 0) + r_[u + jj];
                hv[k] = hn[jj];
            }
            v16sf z = hard ? vhsig(vload(a0)) : vsigmoid(vload(a0));
            v16sf r = hard ? vhsig(vload(a1)) : vsigmoid(vload(a1));
            vstore(zo, z);
            vstore(ro, r * vload(hv));
            for (int k = 0; j + k < u; k++) {
                zn[j + k] = zo[k];
                rn[j + k] = ro[k];
            }
        }
    }
}

/* reset_after = 0, second half: hh = (r h) U_h in hhp (row n at n * u) */
LC_TARGET static void LC_NAME(gates_second)(int N, int u, const float *xp, size_t xs,
                                   const float *b_in, const float *hhp, size_t hhs,
                                   const float *zbuf, float *h)
{
    static const float zero16[16] = {0};
    for (int n = 0; n < N; n++) {
        const float *x = xp + (size_t)n * xs + 2 * u, *hh = hhp + (size_t)n * hhs;
        const float *zn = zbuf + (size_t)n * u;
        const float *bh = b_in ? b_in + 2 * u : NULL;
        float *hn = h + (size_t)n * u;
        int j = 0;
        for (; j + 16 <= u; j += 16) {
            v16sf c = vtanh(vload(x + j) + vload(bh ? bh + j : zero16) + vload(hh + j));
            v16sf z = vload(zn + j);
            vstore(hn + j, z * vload(hn + j) + (vsplat(1.0f) - z) * c);
        }
        if (j < u) {
            float a0[16] = {0}, zv[16] = {0}, hv[16] = {0};
            for (int k = 0; j + k < u; k++) {
                a0[k] = x[j + k] + (bh ? bh[j + k] : 0) + hh[j + k];
                zv[k] = zn[j + k];
                hv[k] = hn[j + k];
            }
            v16sf c = vtanh(vload(a0));
            v16sf z = vload(zv);
            vstore(hv, z * vload(hv) + (vsplat(1.0f) - z) * c);
            for (int k = 0; j + k < u; k++)
                hn[j + k] = hv[k];
        }
    }
}

/* LSTM (Keras gate order i, f, c, o), one step over N rows: xp row n at
 * xp + n * xs (the input projections, blocks i f c o of u, without the
 * bias b, added here when non-NULL), hp row n at hp + n * hs (h U);
 *   i, f, o = ra(.), g = tanh(.), c' = f c + i g, h' = o tanh(c')
 * into h and c (rows of u), in place. */
LC_TARGET static void LC_NAME(gates_lstm)(int N, int u, int hard, const float *xp, size_t xs,
                                          const float *b, const float *hp, size_t hs, float *h,
                                          float *c)
{
    static const float zero16[16] = {0};
    for (int n = 0; n < N; n++) {
        const float *x = xp + (size_t)n * xs, *r_ = hp + (size_t)n * hs;
        float *hn = h + (size_t)n * u, *cn = c + (size_t)n * u;
        int j = 0;
        for (; j + 16 <= u; j += 16) {
            const float *bb = b ? b + j : zero16;
            size_t bu = b ? (size_t)u : 0;
            v16sf ai = vload(x + j) + vload(bb) + vload(r_ + j);
            v16sf af = vload(x + u + j) + vload(bb + bu) + vload(r_ + u + j);
            v16sf ag = vload(x + 2 * u + j) + vload(bb + 2 * bu) + vload(r_ + 2 * u + j);
            v16sf ao = vload(x + 3 * u + j) + vload(bb + 3 * bu) + vload(r_ + 3 * u + j);
            v16sf i = hard ? vhsig(ai) : vsigmoid(ai);
            v16sf f = hard ? vhsig(af) : vsigmoid(af);
            v16sf o = hard ? vhsig(ao) : vsigmoid(ao);
            v16sf cv = f * vload(cn + j) + i * vtanh(ag);
            vstore(cn + j, cv);
            vstore(hn + j, o * vtanh(cv));
        }
        if (j < u) { /* the last u % 16 units, as one padded vector */
            float a0[16] = {0}, a1[16] = {0}, a2[16] = {0}, a3[16] = {0}, cv[16] = {0},
                  hv[16];
            for (int k = 0; j + k < u; k++) {
                int jj = j + k;
                a0[k] = x[jj] + (b ? b[jj] : 0) + r_[jj];
                a1[k] = x[u + jj] + (b ? b[u + jj] : 0) + r_[u + jj];
                a2[k] = x[2 * u + jj] + (b ? b[2 * u + jj] : 0) + r_[2 * u + jj];
                a3[k] = x[3 * u + jj] + (b ? b[3 * u + jj] : 0) + r_[3 * u + jj];
                cv[k] = cn[jj];
            }
            v16sf i = hard ? vhsig(vload(a0)) : vsigmoid(vload(a0));
            v16sf f = hard ? vhsig(vload(a1)) : vsigmoid(vload(a1));
            v16sf o = hard ? vhsig(vload(a3)) : vsigmoid(vload(a3));
            v16sf cc = f * vload(cv) + i * vtanh(vload(a2));
            vstore(cv, cc);
            vstore(hv, o * vtanh(cc));
            for (int k = 0; j + k < u; k++) {
                cn[j + k] = cv[k];
                hn[j + k] = hv[k];
            }
        }
    }
}

/* dst (rows x cols, row stride ldd) = act(src (row stride lds) + bias)
 * for act linear, relu, sigmoid, tanh or hard_sigmoid (Keras 2); bias
 * (cols) may be NULL; src may equal dst (with lds == ldd). */
LC_TARGET static void LC_NAME(bias_act)(size_t rows, int cols, const float *src, size_t lds,
                                        const float *bias, int act, float *dst, size_t ldd)
{
    static const float zero16[16] = {0};
#define LC_ACT(v)                                                                               \
    (act == NN_ACT_SIGMOID        ? vsigmoid(v)                                                 \
     : act == NN_ACT_TANH         ? vtanh(v)                                                    \
     : act == NN_ACT_HARD_SIGMOID ? vhsig(v)                                                    \
     : act == NN_ACT_RELU         ? vsel((v) > vsplat(0.0f), (v), vsplat(0.0f))                 \
                                  : (v))
    for (size_t r = 0; r < rows; r++) {
        const float *s = src + r * lds;
        float *d = dst + r * ldd;
        int j = 0;
        for (; j + 16 <= cols; j += 16) {
            v16sf v = vload(s + j) + vload(bias ? bias + j : zero16);
            vstore(d + j, LC_ACT(v));
        }
        if (j < cols) {
            float a[16] = {0};
            for (int k = 0; j + k < cols; k++)
                a[k] = s[j + k] + (bias ? bias[j + k] : 0.0f);
            v16sf v = vload(a);
            vstore(a, LC_ACT(v));
            for (int k = 0; j + k < cols; k++)
                d[j + k] = a[k];
        }
    }
#undef LC_ACT
}

#undef LC_TARGET
#undef LC_NAME
