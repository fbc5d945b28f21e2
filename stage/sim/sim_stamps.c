/* sim_stamps.c — labelled stamp sets (see sim_stamps.h). */
#include "sim/sim_stamps.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_frame.h"
#include "sim/sim_noise.h"

void sv_sim_stamp_params_default(sv_sim_stamp_params *p)
{
    memset(p, 0, sizeof *p);
    sv_sim_config_default(&p->cfg);
    p->scheme = SV_SIM_SCHEME_RB;
    p->n = 1000;
    p->stamp_size = 63;
    p->real_mix[0] = p->real_mix[1] = p->real_mix[2] = 1.0;
    p->first_id = 1;
    p->threads = 1;
}

int sv_sim_stamp_params_check(const sv_sim_stamp_params *p, sv_error *err)
{
    if (sv_sim_config_check(&p->cfg, err))
        return SV_ERR_ARG;
    if (p->n < 1)
        return sv_error_set(err, SV_ERR_ARG, "number of stamps %ld: need at least 1", p->n);
    if (p->stamp_size < 8 || p->stamp_size > SV_STAMP_MAX_SIZE)
        return sv_error_set(err, SV_ERR_ARG, "stamp size %d outside 8..%d", p->stamp_size,
                            SV_STAMP_MAX_SIZE);
    for (int i = 0; i < SV_SIM_NCLASS; i++)
        if (!(p->balance[i] >= 0))
            return sv_error_set(err, SV_ERR_ARG, "negative class balance");
    for (int i = 0; i < 3; i++)
        if (!(p->real_mix[i] >= 0))
            return sv_error_set(err, SV_ERR_ARG, "negative real mix");
    if (p->scheme == SV_SIM_SCHEME_RB && p->real_mix[0] + p->real_mix[1] + p->real_mix[2] <= 0)
        return sv_error_set(err, SV_ERR_ARG, "real mix is all zero");
    return 0;
}

/* probability of each physical class */
static void class_probs(const sv_sim_stamp_params *p, double prob[SV_SIM_NCLASS])
{
    const char *names[SV_SIM_NCLASS];
    int nc = sv_sim_scheme_classes(p->scheme, names);
    double bal[SV_SIM_NCLASS], sum = 0;
    for (int i = 0; i < nc; i++)
        sum += p->balance[i];
    for (int i = 0; i < nc; i++)
        bal[i] = sum > 0 ? p->balance[i] / sum : 1.0 / nc;
    memset(prob, 0, SV_SIM_NCLASS * sizeof *prob);
    if (p->scheme == SV_SIM_SCHEME_RB) {
        double m = p->real_mix[0] + p->real_mix[1] + p->real_mix[2];
        for (int i = 0; i < 3; i++)
            prob[i] = bal[1] * p->real_mix[i] / m;
        prob[SV_SIM_BOGUS] = bal[0];
    } else
        for (int i = 0; i < nc; i++)
            prob[i] = bal[i];
}

int sv_sim_stamps_classes(const sv_sim_stamp_params *p, sv_sim_class *cls, sv_error *err)
{
    double prob[SV_SIM_NCLASS];
    class_probs(p, prob);
    long count[SV_SIM_NCLASS], total = 0;
    double rem[SV_SIM_NCLASS];
    for (int i = 0; i < SV_SIM_NCLASS; i++) {
        double q = prob[i] * p->n;
        count[i] = (long)floor(q);
        rem[i] = q - count[i];
        total += count[i];
    }
    while (total < p->n) { /* largest remainder */
        int best = 0;
        for (int i = 1; i < SV_SIM_NCLASS; i++)
            if (rem[i] > rem[best])
                best = i;
        count[best]++;
        rem[best] = -1;
        total++;
    }
    long k = 0;
    for (int i = 0; i < SV_SIM_NCLASS; i++)
        for (long j = 0; j < count[i]; j++)
            cls[k++] = (sv_sim_class)i;
    gsl_rng *r = sim_rng_new(p->cfg.seed, SIM_STREAM_CLASSES, 0);
    if (!r)
        return sv_error_set(err, SV_ERR_NOMEM, "no memory for a random generator");
    gsl_ran_shuffle(r, cls, (size_t)p->n, sizeof *cls);
    gsl_rng_free(r);
    return 0;
}

static void copy_name(sv_stamp_name dst, const char *src)
{
    snprintf(dst, sizeof(sv_stamp_name), "%s", src);
}

/* A cutout at detector pixel (i, j) of a w x h readout image, the stamp
 * S x S centred on it: the part off the image is cut away, what is left
 * starts at index 0 on each axis (as a survey packs a short cutout at an
 * edge, the detection then off centre) and the rest is padded with NaN
 * (the preprocessing's padding, DESIGN.md). */
static void stamp_clip_edge(float *img, int S, int i, int w, int j, int h)
{
    int c = S / 2;
    int x0 = i - c < 0 ? c - i : 0, y0 = j - c < 0 ? c - j : 0;    /* cut at the start */
    int x1 = i + (S - 1 - c) >= w ? S - (i + S - c - w) : S;       /* end, exclusive */
    int y1 = j + (S - 1 - c) >= h ? S - (j + S - c - h) : S;
    if (x0 == 0 && y0 == 0 && x1 == S && y1 == S)
        return;
    for (int v = 0; v < S; v++)
        for (int u = 0; u < S; u++) {
            int su = u + x0, sv = v + y0;
            img[(size_t)v * S + u] = su < x1 && sv < y1 ? img[(size_t)sv * S + su] : NAN;
        }
}

int sv_sim_stamp_make(const sv_sim_stamp_params *p, long index, sv_sim_class cls,
                      sv_stamp_batch *b, long row, sv_error *err)
{
    sv_sim_survey s;
    if (sv_sim_survey_get(p->cfg.survey, &s, err))
        return SV_ERR_ARG;
    int bands[SV_SIM_MAX_BANDS];
    int nband = sv_sim_survey_band_list(&s, p->cfg.band, bands);
    if (nband < 1 || b->stamp_size != p->stamp_size || row < 0 || row >= b->capacity)
        return sv_error_set(err, SV_ERR_ARG, "stamp %ld: bad band, batch or row", index);
    int S = p->stamp_size;
    gsl_rng *r = sim_rng_new(p->cfg.seed, SIM_STREAM_STAMP, (uint64_t)index);
    if (!r)
        return sv_error_set(err, SV_ERR_NOMEM, "stamp %ld: no memory", index);
    /* a band list: this stamp's band, drawn first (a single band draws
     * nothing, so its stamps are those of earlier versions) */
    int band = nband > 1 ? bands[gsl_rng_uniform_int(r, (unsigned long)nband)] : bands[0];
    sim_frame fr;
    sim_truth t;
    sim_det d;
    int ok = 0, have = 0;
    /* the sub-type is kept across attempts, so that sub-types that pass the
     * threshold less often keep their share of the set */
    sv_sim_subtype sub = sim_draw_subtype(&p->cfg, cls, r);
    for (int attempt = 0; attempt < 40 && !ok; attempt++) {
        if (have)
            sim_frame_free(&fr);
        have = 0;
        sim_conditions c;
        sim_conditions_draw(&s, band, r, &c);
        double fw = fmax(c.seeing_sci / sqrt(c.q_sci), c.seeing_ref / sqrt(c.q_ref)) / s.pixscale;
        int margin = 8 + (int)ceil(1.6 * fw);
        int P = S + 2 * margin;
        if (sim_frame_init(&fr, &s, &c, P, P, 0, 1)) {
            gsl_rng_free(r);
            return sv_error_set(err, SV_ERR_NOMEM, "stamp %ld: no memory", index);
        }
        have = 1;
        if (sim_frame_add_field(&fr, r, 3.0 * fw) < 0)
            break;
        double x = P / 2 + gsl_rng_uniform(r) - 0.5, y = P / 2 + gsl_rng_uniform(r) - 0.5;
        if (sim_inject(&fr, &p->cfg, sub, x, y, r, &t) || sim_frame_realize(&fr, r, 0))
            break;
        sim_frame_detect(&fr, t.nx, t.ny, t.rb, t.sign, &d);
        double s_eff = t.sign ? t.sign * d.snr : fabs(d.snr);
        ok = s_eff >= p->cfg.snr_min;
        /* the last attempt is kept whatever its S/N (never happens in
         * practice: each attempt passes with probability >= ~1/2) */
        if (attempt == 39)
            ok = 1;
    }
    /* where on the detector the detection lies (uniform over a readout
     * image of the survey): near an edge the cutout is cut short */
    double qx = s.quad_w > 0 ? s.quad_w * gsl_rng_uniform(r) : NAN;
    double qy = s.quad_h > 0 ? s.quad_h * gsl_rng_uniform(r) : NAN;
    gsl_rng_free(r);
    if (!ok) {
        if (have)
            sim_frame_free(&fr);
        return sv_error_set(err, SV_ERR_NOMEM, "stamp %ld: no memory", index);
    }
    size_t np = (size_t)S * S;
    int x0 = d.i - S / 2, y0 = d.j - S / 2;
    float *dst[3] = {b->sci + row * np, b->ref + row * np, b->diff + row * np};
    const float *src[3] = {fr.sci, fr.ref, fr.diff};
    for (int k = 0; k < 3; k++)
        for (int v = 0; v < S; v++) {
            int yy = y0 + v;
            for (int u = 0; u < S; u++) {
                int xx = x0 + u;
                dst[k][(size_t)v * S + u] = (xx >= 0 && xx < fr.w && yy >= 0 && yy < fr.h)
                                                ? src[k][(long)yy * fr.w + xx]
                                                : NAN;
            }
        }
    /* a negative detection's difference shown positive (ref - sci), as the
     * survey's cutouts show it: ZTF detects on the difference and on its
     * negative and cuts an isdiffpos = f candidate from the negative */
    if (s.diff_positive && d.snr < 0)
        for (size_t k = 0; k < np; k++)
            dst[2][k] = -dst[2][k];
    if (isfinite(qx) && isfinite(qy))
        for (int k = 0; k < 3; k++)
            stamp_clip_edge(dst[k], S, (int)floor(qx), s.quad_w, (int)floor(qy), s.quad_h);
    b->id[row] = p->first_id + index;
    int label = sv_sim_scheme_label(p->scheme, t.cls);
    const char *names[SV_SIM_NCLASS];
    int nc = sv_sim_scheme_classes(p->scheme, names);
    b->label[row] = label;
    copy_name(b->label_name[row], label >= 0 && label < nc ? names[label] : "");
    b->x[row] = b->y[row] = NAN;
    b->flags[row] = 0;
    copy_name(b->true_cls[row], sv_sim_class_name(t.cls));
    copy_name(b->subtype[row], sv_sim_subtype_name(t.sub));
    b->mag[row] = d.flux != 0 ? (float)sv_sim_mag(fr.zp, d.flux) : NAN;
    b->true_mag[row] = (float)t.true_mag;
    b->snr[row] = (float)d.snr;
    b->dx[row] = isfinite(t.x) ? (float)(t.x - d.i) : NAN;
    b->dy[row] = isfinite(t.y) ? (float)(t.y - d.j) : NAN;
    b->fwhm_sci[row] = (float)fr.cond.seeing_sci;
    b->fwhm_ref[row] = (float)fr.cond.seeing_ref;
    sim_frame_free(&fr);
    return 0;
}

typedef struct stamp_job {
    const sv_sim_stamp_params *p;
    const sv_sim_class *cls;
    sv_stamp_batch *b;
    long first, n;
    int t, nt;
    int status;
    sv_error err;
} stamp_job;

static void *stamp_worker(void *arg)
{
    stamp_job *j = arg;
    for (long k = j->t; k < j->n && !j->status; k += j->nt)
        j->status = sv_sim_stamp_make(j->p, j->first + k, j->cls[j->first + k], j->b, k, &j->err);
    return NULL;
}

static void fmt_weights(char *buf, size_t len, const double *w, int n)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%g", i ? "," : "", w[i]);
    }
}

int sv_sim_stamps_write(const sv_sim_stamp_params *p, const char *path, sv_error *err)
{
    if (sv_sim_stamp_params_check(p, err))
        return SV_ERR_ARG;
    sv_sim_survey s;
    sv_sim_survey_get(p->cfg.survey, &s, NULL);
    int bands[SV_SIM_MAX_BANDS];
    int nband = sv_sim_survey_band_list(&s, p->cfg.band, bands);
    sv_sim_class *cls = malloc((size_t)p->n * sizeof *cls);
    if (!cls)
        return sv_error_set(err, SV_ERR_NOMEM, "no memory for %ld stamps", p->n);
    if (sv_sim_stamps_classes(p, cls, err)) {
        free(cls);
        return SV_ERR_NOMEM;
    }
    sv_stamp_meta meta;
    sv_stamp_meta_init(&meta, p->stamp_size);
    const char *names[SV_SIM_NCLASS];
    int nc = sv_sim_scheme_classes(p->scheme, names);
    sv_stamp_meta_set_classes(&meta, names, nc, NULL);
    snprintf(meta.survey, sizeof meta.survey, "%s", s.name);
    meta.band[0] = '\0';
    for (int k = 0; k < nband; k++) {
        size_t l = strlen(meta.band);
        snprintf(meta.band + l, sizeof meta.band - l, "%s%s", k ? "," : "", s.band[bands[k]].name);
    }
    meta.pixscale = s.pixscale;
    meta.has_seed = 1;
    meta.seed = p->cfg.seed;
    meta.columns = SV_STAMP_COL_TRUTH;
    sv_stamp_writer *w = sv_stamp_writer_create(path, &meta, err);
    if (!w) {
        free(cls);
        return err ? err->status : SV_ERR_IO;
    }
    char buf[128];
    int rc = 0;
    rc |= sv_stamp_writer_key_str(w, "CREATOR", "stampvet simulate", "made by", err);
    rc |= sv_stamp_writer_key_str(w, "SIMSCHEM", sv_sim_scheme_name(p->scheme), "label scheme", err);
    rc |= sv_stamp_writer_key_dbl(w, "SNRMIN", p->cfg.snr_min, "detection threshold |S/N|", err);
    rc |= sv_stamp_writer_key_dbl(w, "SNRMAX", p->cfg.snr_max, "largest drawn S/N of reals", err);
    rc |= sv_stamp_writer_key_dbl(w, "SNRSLOPE", p->cfg.snr_slope, "N(>S/N) ~ (S/N)^-SNRSLOPE", err);
    if (isfinite(p->cfg.mag_min)) {
        rc |= sv_stamp_writer_key_dbl(w, "MAGMIN", p->cfg.mag_min, "reals: mag range", err);
        rc |= sv_stamp_writer_key_dbl(w, "MAGMAX", p->cfg.mag_max, "reals: mag range", err);
    }
    fmt_weights(buf, sizeof buf, p->balance, nc);
    rc |= sv_stamp_writer_key_str(w, "BALANCE", buf, "class balance (0s: equal)", err);
    if (p->scheme == SV_SIM_SCHEME_RB) {
        fmt_weights(buf, sizeof buf, p->real_mix, 3);
        rc |= sv_stamp_writer_key_str(w, "REALMIX", buf, "transient,variable,asteroid", err);
    }
    fmt_weights(buf, sizeof buf, p->cfg.bogus_weight, SV_SIM_NBOGUS);
    rc |= sv_stamp_writer_key_str(w, "BOGUSMIX", buf, "dipole,psf,cr,hot,badcol,sat,noise", err);
    for (int k = 0; k < nband; k++) {
        char key[9];
        snprintf(key, sizeof key, nband > 1 ? "ZP%d" : "ZP", k + 1);
        snprintf(buf, sizeof buf, "mag of 1 DN in %s (science exposure)", s.band[bands[k]].name);
        rc |= sv_stamp_writer_key_dbl(w, key, s.band[bands[k]].zp, buf, err);
    }
    rc |= sv_stamp_writer_key_str(w, "DIFFSIGN", s.diff_positive ? "detection" : "sci-ref",
                                  s.diff_positive ? "DIFF: a negative detection shown as ref-sci"
                                                  : "DIFF: sci - ref", err);
    if (rc) {
        sv_stamp_writer_abort(w);
        free(cls);
        return SV_ERR_IO;
    }
    const long chunk = 256;
    sv_stamp_batch b;
    if (sv_stamp_batch_init(&b, p->n < chunk ? p->n : chunk, p->stamp_size, err)) {
        sv_stamp_writer_abort(w);
        free(cls);
        return SV_ERR_NOMEM;
    }
    int nt = p->threads < 1 ? 1 : p->threads > 64 ? 64 : p->threads;
    stamp_job jobs[64];
    pthread_t tid[64];
    int status = 0;
    for (long first = 0; first < p->n && !status; first += chunk) {
        long n = p->n - first < chunk ? p->n - first : chunk;
        int started[64] = {0};
        for (int t = 0; t < nt; t++) {
            jobs[t] = (stamp_job){p, cls, &b, first, n, t, nt, 0, {0, ""}};
            if (t > 0)
                started[t] = pthread_create(&tid[t], NULL, stamp_worker, &jobs[t]) == 0;
        }
        stamp_worker(&jobs[0]);
        for (int t = 1; t < nt; t++) {
            if (started[t])
                pthread_join(tid[t], NULL);
            else
                stamp_worker(&jobs[t]);
        }
        for (int t = 0; t < nt && !status; t++)
            if (jobs[t].status) {
                status = jobs[t].status;
                if (err)
                    *err = jobs[t].err;
            }
        if (status)
            break;
        b.n = n;
        status = sv_stamp_writer_append(w, &b, err);
        if (!status && p->progress)
            p->progress(first + n, p->n, p->user);
    }
    sv_stamp_batch_free(&b);
    free(cls);
    if (status) {
        sv_stamp_writer_abort(w);
        return status;
    }
    return sv_stamp_writer_finish(w, err);
}
