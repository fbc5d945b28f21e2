/* stage_score.c — cutting and scoring a chunk of detections
 * (stage_internal.h). */
#include "pipeline/stage_internal.h"

#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"

/* ---- scoring a chunk -------------------------------------------------------- */

/* One batch of stamps: slots 0..n-1 hold rows[0..n-1].  Cut and preprocessed
 * by `parts` tasks (task p uses worker p), then run through the networks by
 * the calling thread with the instance's threads. */
typedef struct batch_job {
    sv_stage *s;
    const exposure_view *v;
    const double *x0, *y0;
    const double *step, *step2;  /* per row, NULL: no resampling       */
    const float *feat1, *feat2;  /* per row, or NULL                   */
    const uint8_t *neg;          /* per row: invert DIFF, or NULL      */
    sv_results *res;
    const int *rows;
    int n, parts;
    atomic_int next;             /* the next slot to take              */
    atomic_int failed;
} batch_job;

/* DIFF of a negative detection, shown positive: x -1, NaN kept as it is */
static void invert_diff(float *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (d[i] == d[i])
            d[i] = -d[i];
}

int stage_diff_inverts(const sv_stage *s, const sv_det_plan *plan)
{
    return s->diff_positive == DIFFPOS_YES ||
           (s->diff_positive == DIFFPOS_AUTO && plan && plan->col_sign >= 0);
}

static int cut_fail(batch_job *J, int p, int st, const char *what, int r)
{
    worker *w = &J->s->workers[p];
    w->status = st;
    snprintf(w->msg, sizeof w->msg, "%s of row %d failed (%s)", what, r, sv_status_name(st));
    return st;
}

/* cut, flag and preprocess one stamp into scorer slot k */
static int cut_one(batch_job *J, int p, int k)
{
    sv_stage *s = J->s;
    worker *w = &s->workers[p];
    const sv_frames *fr = &J->v->fr;
    sv_results *res = J->res;
    const int S = s->S, S2 = s->S2;
    const size_t SS = (size_t)S * S;
    const int nf1 = s->rb->n_features, nf2 = s->cls ? s->cls->n_features : 0;
    int r = J->rows[k];
    float *out[3];
    for (int ch = 0; ch < 3; ch++)
        out[ch] = res->stamp[ch] ? res->stamp[ch] + (size_t)r * SS : w->raw + (size_t)ch * SS;
    sv_cut_info info;
    int st = sv_stamp_cut(fr, S, J->x0[r], J->y0[r], J->step ? J->step[r] : 1.0, s->kernel,
                          s->cfg.nan_frac_max, out, w->bad, &w->scr, &info);
    if (st)
        return cut_fail(J, p, st, "cutting the stamp", r);
    const int inv = J->neg && J->neg[r];
    if (inv)
        invert_diff(out[SV_CH_DIFF], SS);
    res->flags[r] |= (int32_t)info.flags;
    res->badfrac[r] = info.bad_frac;
    if (info.flags & SV_FLAG_OFF_IMAGE) /* sv_stamp_on_image said otherwise */
        return cut_fail(J, p, SV_ERR_INTERNAL, "placing the stamp", r);
    sv_triplet t;
    if (!fr->mask && !(info.flags & SV_FLAG_EDGE)) {
        /* the whole stamp is in the image and nothing is masked: the
         * rectangle sv_stamp_rect would copy is the stamp itself */
        for (int ch = 0; ch < 3; ch++)
            t.chan[ch] = out[ch];
        t.w = t.h = S;
    } else {
        float *rect[3] = {w->rect, w->rect + SS, w->rect + 2 * SS};
        sv_stamp_rect(S, (const float *const *)out, w->bad, &info, rect, &t.w, &t.h);
        for (int ch = 0; ch < 3; ch++)
            t.chan[ch] = rect[ch];
    }
    if ((st = sv_scorer_prepare(s->sc_rb, k, &t, nf1 ? J->feat1 + (size_t)r * nf1 : NULL,
                                w->pre, NULL)))
        return cut_fail(J, p, st, "preprocessing the stamp", r);
    if (!s->cls)
        return SV_OK;
    if (!s->same_geom) {
        const size_t SS2 = (size_t)S2 * S2;
        float *o2[3] = {w->raw2, w->raw2 + SS2, w->raw2 + 2 * SS2};
        float *q2[3] = {w->rect2, w->rect2 + SS2, w->rect2 + 2 * SS2};
        sv_cut_info info2;
        st = sv_stamp_cut(fr, S2, J->x0[r], J->y0[r], J->step2 ? J->step2[r] : 1.0, s->kernel,
                          s->cfg.nan_frac_max, o2, w->bad2, &w->scr, &info2);
        if (st)
            return cut_fail(J, p, st, "cutting the class-model stamp", r);
        if (inv)
            invert_diff(o2[SV_CH_DIFF], SS2);
        sv_stamp_rect(S2, (const float *const *)o2, w->bad2, &info2, q2, &t.w, &t.h);
        for (int ch = 0; ch < 3; ch++)
            t.chan[ch] = q2[ch];
    }
    if ((st = sv_scorer_prepare(s->sc_cls, k, &t, nf2 ? J->feat2 + (size_t)r * nf2 : NULL,
                                w->pre, NULL)))
        return cut_fail(J, p, st, "preprocessing the class-model stamp", r);
    return SV_OK;
}

/* Task p (worker p) takes groups of consecutive slots (neighbouring stamps,
 * which share image rows in its core's caches) until none is left: about
 * four groups per task, so that a preempted thread delays only a small
 * part of the batch.  A slot's work does not depend on the task doing it. */
static void cut_task(int p, void *ctx)
{
    batch_job *J = ctx;
    const int group = J->n / (4 * J->parts) > 2 ? J->n / (4 * J->parts) : 2;
    for (;;) {
        if (atomic_load(&J->failed))
            return;
        int k0 = atomic_fetch_add(&J->next, group);
        if (k0 >= J->n)
            return;
        int k1 = k0 + group < J->n ? k0 + group : J->n;
        for (int k = k0; k < k1; k++)
            if (cut_one(J, p, k)) {
                atomic_store(&J->failed, 1);
                return;
            }
    }
}

static int row_key_cmp(const void *a, const void *b)
{
    const row_key *p = a, *q = b;
    if (p->pix != q->pix)
        return p->pix < q->pix ? -1 : 1;
    return (p->row > q->row) - (p->row < q->row);
}

/* Initialise the result rows and score them.  res->flags holds BADCOORD
 * from the positions already; xpix/ypix are set here, in the output's
 * origin (the input's: catalog.h). */
int stage_score_chunk(sv_stage *s, const exposure_view *v, int n, const double *x0,
                       const double *y0, const float *feat1, const float *feat2,
                       const uint8_t *neg, sv_results *res, double *step_buf, sv_error *err)
{
    const int K = s->cls ? s->cls->n_classes : 0;
    const size_t SS = (size_t)s->S * s->S;
    double t0 = stage_now();
    for (int i = 0; i < n; i++) {
        res->rb[i] = NAN;
        res->real[i] = 0;
        res->badfrac[i] = NAN;
        res->xpix[i] = isfinite(x0[i]) ? x0[i] + s->schema.origin : NAN;
        res->ypix[i] = isfinite(y0[i]) ? y0[i] + s->schema.origin : NAN;
        if (K) {
            res->label[i] = -1;
            for (int k = 0; k < K; k++)
                res->prob[(size_t)i * K + k] = NAN;
        }
    }
    const double *step = NULL, *step2 = NULL;
    if (s->cfg.resample) {
        /* the local pixel scale at each detection (WCS: calling thread) */
        for (int i = 0; i < n; i++) {
            double sc = (res->flags[i] & SV_FLAG_BADCOORD) ? NAN
                                                             : sv_wcs_pixel_scale(v->pos, x0[i], y0[i]);
            double st1 = isfinite(sc) && sc > 0 ? v->model_scale_rb / sc : v->step_rb;
            double st2 = isfinite(sc) && sc > 0 ? v->model_scale_cls / sc : v->step_cls;
            if (!(st1 >= SV_RESAMPLE_STEP_MIN && st1 <= SV_RESAMPLE_STEP_MAX))
                st1 = v->step_rb;
            if (!(st2 >= SV_RESAMPLE_STEP_MIN && st2 <= SV_RESAMPLE_STEP_MAX))
                st2 = v->step_cls;
            step_buf[i] = st1;
            step_buf[n + i] = st2;
        }
        step = step_buf;
        step2 = step_buf + n;
    }
    if (n > s->rows_cap) {
        int *nr = realloc(s->rows, (size_t)n * sizeof *nr);
        row_key *nk = realloc(s->keys, (size_t)n * sizeof *nk);
        if (nr)
            s->rows = nr;
        if (nk)
            s->keys = nk;
        if (!nr || !nk)
            return sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory");
        s->rows_cap = n;
    }
    /* Rows without a stamp are done here.  The others are cut in strips
     * of S image rows, left to right in each strip (ties by row): then
     * consecutive stamps overlap and are read from the caches, not from
     * memory.  The order, and so the batches, depend on the positions
     * only, not on the thread count (and a stamp's scores do not depend
     * on its batch: score.h). */
    int nv = 0;
    for (int r = 0; r < n; r++) {
        if (res->flags[r] & SV_FLAG_BADCOORD) {
            for (int ch = 0; ch < 3; ch++)
                if (res->stamp[ch])
                    for (size_t p = 0; p < SS; p++)
                        res->stamp[ch][(size_t)r * SS + p] = NAN;
            continue;
        }
        if (sv_stamp_on_image(&v->fr, x0[r], y0[r])) {
            s->keys[nv].pix = (int64_t)floor(y0[r] + 0.5) / s->S * v->fr.width +
                              (int64_t)floor(x0[r] + 0.5);
            s->keys[nv++].row = r;
            continue;
        }
        worker *w = &s->workers[0];
        float *out[3];
        for (int ch = 0; ch < 3; ch++)
            out[ch] = res->stamp[ch] ? res->stamp[ch] + (size_t)r * SS : w->raw + ch * SS;
        sv_cut_info info;
        int st = sv_stamp_cut(&v->fr, s->S, x0[r], y0[r], step ? step[r] : 1.0, s->kernel,
                              s->cfg.nan_frac_max, out, w->bad, &w->scr, &info);
        if (st)
            return sv_error_set(err, st, "cutting the stamp of row %d failed (%s)", r,
                                sv_status_name(st));
        res->flags[r] |= (int32_t)info.flags;
        res->badfrac[r] = info.bad_frac;
    }
    qsort(s->keys, (size_t)nv, sizeof *s->keys, row_key_cmp);
    for (int k = 0; k < nv; k++)
        s->rows[k] = s->keys[k].row;
    s->stats.t_cut += stage_now() - t0;

    batch_job J;
    memset(&J, 0, sizeof J);
    J.s = s;
    J.v = v;
    J.x0 = x0;
    J.y0 = y0;
    J.step = step;
    J.step2 = step2;
    J.feat1 = feat1;
    J.feat2 = feat2;
    J.neg = neg;
    J.res = res;
    const int B = s->cfg.batch;
    for (int b0 = 0; b0 < nv; b0 += B) {
        if (s->host.cancel && __atomic_load_n(s->host.cancel, __ATOMIC_RELAXED))
            return sv_error_set(err, SV_ERR_CANCELLED, "cancelled by the host");
        double t1 = stage_now();
        J.rows = s->rows + b0;
        J.n = nv - b0 < B ? nv - b0 : B;
        J.parts = s->nworkers < J.n ? s->nworkers : J.n;
        for (int p = 0; p < J.parts; p++)
            s->workers[p].status = 0;
        atomic_store(&J.next, 0);
        atomic_store(&J.failed, 0);
        sv_parallel_for(J.parts, J.parts, cut_task, &J);
        if (J.parts > s->stats.threads)
            s->stats.threads = J.parts;
        double t2 = stage_now();
        s->stats.t_cut += t2 - t1;
        for (int p = 0; p < J.parts; p++)
            if (s->workers[p].status)
                return sv_error_set(err, s->workers[p].status, "%s", s->workers[p].msg);
        int st = sv_scorer_infer(s->sc_rb, J.n, s->o1, err);
        if (st)
            return sv_error_prefix(err, "model '%s': ", s->rb->name);
        if (s->cls && (st = sv_scorer_infer(s->sc_cls, J.n, s->o2, err)))
            return sv_error_prefix(err, "model '%s': ", s->cls->name);
        s->stats.t_infer += stage_now() - t2;
        for (int k = 0; k < J.n; k++) {
            int r = J.rows[k];
            float val = s->o1[k];
            if (isfinite(val)) {
                /* a detection on a masked or non-finite pixel of its own is
                 * never REAL by default (veto_flags; dia_stage.h) */
                int vetoed = ((uint32_t)res->flags[r] & s->cfg.veto_flags) != 0;
                res->rb[r] = val;
                res->real[r] = val >= s->cfg.rb_threshold && !vetoed;
                s->stats.vetoed += vetoed && val >= s->cfg.rb_threshold;
            } else {
                res->flags[r] |= (int32_t)SV_FLAG_FAILED;
            }
            if (K) {
                const float *pk = s->o2 + (size_t)k * K;
                int best = 0, finite = 1;
                for (int j = 0; j < K; j++) {
                    finite = finite && isfinite(pk[j]);
                    if (pk[j] > pk[best])
                        best = j;
                }
                if (finite) {
                    memcpy(res->prob + (size_t)r * K, pk, (size_t)K * sizeof(float));
                    res->label[r] = (int16_t)best;
                } else {
                    res->flags[r] |= (int32_t)SV_FLAG_FAILED;
                }
            }
        }
    }
    for (int i = 0; i < n; i++) {
        uint32_t f = (uint32_t)res->flags[i];
        s->stats.scored += isfinite(res->rb[i]);
        s->stats.flagged += f != 0;
        s->stats.edge += (f & SV_FLAG_EDGE) != 0;
        s->stats.badfrac += (f & SV_FLAG_BADFRAC) != 0;
        s->stats.masked += (f & SV_FLAG_MASKED) != 0;
        s->stats.off_image += (f & SV_FLAG_OFF_IMAGE) != 0;
        s->stats.bad_coord += (f & SV_FLAG_BADCOORD) != 0;
        s->stats.failed += (f & SV_FLAG_FAILED) != 0;
        s->stats.badcentre += (f & SV_FLAG_BADCENTRE) != 0;
        s->stats.badsign += (f & SV_FLAG_BADSIGN) != 0;
        s->stats.inverted += neg && neg[i] && !(f & (SV_FLAG_BADCOORD | SV_FLAG_OFF_IMAGE));
    }
    return SV_OK;
}
