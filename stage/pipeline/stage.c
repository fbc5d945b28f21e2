/* stage.c — see stage.h. */
#include "pipeline/stage.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "pipeline/catalog.h"
#include "pipeline/catalog_sink.h"
#include "pipeline/result_table.h"
#include "config.h"
#include "pipeline/detections.h"
#include "fits/fits_image.h"
#include "pipeline/lc_stage.h"
#include "model/model_fits.h"
#include "core/parallel.h"
#include "infer/score.h"
#include "core/sha256.h"
#include "fits/stamps.h"

#ifndef SV_PKGDATADIR
#define SV_PKGDATADIR ""
#endif
#define DEFAULT_MODEL "braai-d6_m7.fits"
/* working-buffer budget for saved stamps per chunk */
#define STAMP_CHUNK_BYTES (64u << 20)

/* ---- workers ------------------------------------------------------------- */

/* One per thread of the instance: the scratch of cutting and preprocessing
 * one stamp at a time. */
typedef struct worker {
    float *raw;          /* 3 * SS (rb geometry), when not saving stamps  */
    uint8_t *bad;        /* SS                                            */
    float *rect;         /* 3 * SS                                        */
    float *raw2, *rect2; /* class geometry, when it differs               */
    uint8_t *bad2;
    float *pre;          /* preprocessing scratch: max(SS, SS2) floats    */
    sv_cut_scratch scr;
    int status;          /* of its part of the last cut phase             */
    char msg[160];
} worker;

typedef struct row_key {
    int64_t pix;             /* strip of the centre pixel, then its column   */
    int row;
} row_key;

struct sv_stage {
    sv_stage_config cfg;
    dia_host_services host;
    sv_det_map map;
    sv_model *rb, *cls;
    int S, S2;               /* stamp sides: rb model, class model         */
    int same_geom;           /* the class model scores the rb cut          */
    sv_kernel kernel;
    sv_stamp_save save;
    sv_out_schema schema;
    int nworkers;            /* = cfg.threads                              */
    worker *workers;
    sv_scorer *sc_rb, *sc_cls; /* one plan per model, batch x threads      */
    float *o1, *o2;          /* network outputs of a batch                 */
    int *rows;               /* rows of a chunk that get a stamp, in the
                                order they are cut                          */
    row_key *keys;           /* sorting them                                */
    int rows_cap;
    sv_result_table res;     /* process()'s results (result_table.h)      */
    sv_provenance prov;      /* scratch of stage_run                       */
    sv_stage_stats stats;
    sv_lc_stage *lc;         /* light-curve model (lc_stage.h), or NULL    */
    sv_image img[3];         /* the file path's images, pixel buffers kept
                                for the next exposure (fits_image.h)       */
    size_t img_cap[3];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void stage_log(const sv_stage *s, dia_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void stage_log(const sv_stage *s, dia_log_level level, const char *fmt, ...)
{
    if (!s->host.log)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->host.log(s->host.user, level, msg);
}

static void worker_free(worker *w)
{
    free(w->raw);
    free(w->bad);
    free(w->rect);
    free(w->raw2);
    free(w->rect2);
    free(w->bad2);
    free(w->pre);
    free(w->scr.buf);
    memset(w, 0, sizeof *w);
}

static int worker_init(sv_stage *s, worker *w, sv_error *err)
{
    size_t SS = (size_t)s->S * s->S, SS2 = (size_t)s->S2 * s->S2;
    int ok = (w->raw = malloc(3 * SS * sizeof(float))) && (w->bad = malloc(SS)) &&
             (w->rect = malloc(3 * SS * sizeof(float))) &&
             (w->pre = malloc((SS > SS2 ? SS : SS2) * sizeof(float)));
    if (ok && s->cls && !s->same_geom)
        ok = (w->raw2 = malloc(3 * SS2 * sizeof(float))) && (w->bad2 = malloc(SS2)) &&
             (w->rect2 = malloc(3 * SS2 * sizeof(float)));
    if (!ok)
        return sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory for worker buffers");
    return SV_OK;
}

/* ---- creation -------------------------------------------------------------- */

int sv_stage_default_model(char *buf, size_t len)
{
    const char *dir = getenv(SV_MODELS_ENV);
    if (!dir || !dir[0])
        dir = SV_PKGDATADIR "/models";
    snprintf(buf, len, "%s/%s", dir, DEFAULT_MODEL);
    return access(buf, R_OK) == 0 ? SV_OK : SV_ERR_IO;
}

static int check_model(const sv_stage_config *cfg, const sv_model *m, const char *key,
                       const char *path, sv_task want, sv_error *err)
{
    if (m->task != want)
        return sv_error_set(err, SV_ERR_ARG, "%s = %s: model '%s' is a %s model, not a %s one",
                            key, path, m->name, sv_task_name(m->task), sv_task_name(want));
    if (m->pre.out_h < 1 || m->pre.stamp_size < 1 || m->pre.stamp_size > SV_STAMP_SIDE_MAX)
        return sv_error_set(err, SV_ERR_ARG, "%s = %s: model '%s' takes no stamps of a usable size",
                            key, path, m->name);
    if (want == SV_TASK_REALBOGUS && m->n_classes != 1)
        return sv_error_set(err, SV_ERR_ARG, "%s = %s: a real/bogus model has one output, "
                            "model '%s' has %d",
                            key, path, m->name, m->n_classes);
    if (cfg->stamp_size && cfg->stamp_size != m->pre.stamp_size)
        return sv_error_set(err, SV_ERR_ARG,
                            "%s = %s: model '%s' cuts %d x %d stamps (STAMPCUT = %d) but "
                            "stamp_size = %d",
                            key, path, m->name, m->pre.stamp_size, m->pre.stamp_size,
                            m->pre.stamp_size, cfg->stamp_size);
    if (cfg->channels[0]) {
        sv_preproc want_ch;
        memset(&want_ch, 0, sizeof want_ch);
        sv_error e;
        sv_error_clear(&e);
        if (sv_channels_parse(cfg->channels, &want_ch, &e))
            return sv_error_set(err, SV_ERR_ARG, "channels: '%s': %s", cfg->channels, e.text);
        int same = want_ch.n_channels == m->pre.n_channels;
        for (int c = 0; same && c < want_ch.n_channels; c++)
            same = want_ch.channel[c] == m->pre.channel[c];
        if (!same) {
            char have[64] = "";
            sv_channels_format(&m->pre, have, sizeof have);
            return sv_error_set(err, SV_ERR_ARG,
                                "%s = %s: model '%s' takes %d channels %s (NCHAN, CHANNELS) but "
                                "channels = %s",
                                key, path, m->name, m->pre.n_channels, have, cfg->channels);
        }
    }
    if (cfg->resample && !(m->pre.pixel_scale > 0))
        return sv_error_set(err, SV_ERR_ARG,
                            "resample = true but model '%s' (%s) has no pixel scale (PIXSCALE = "
                            "0): set resample = false or use a model that records its scale",
                            m->name, path);
    return SV_OK;
}

int sv_stage_create(const sv_stage_config *cfg, const dia_host_services *host,
                    sv_stage **out, sv_error *err)
{
    *out = NULL;
    if (!cfg)
        return sv_error_set(err, SV_ERR_ARG, "stampvet: no configuration");
    sv_stage *s = calloc(1, sizeof *s);
    if (!s)
        return sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory");
    s->cfg = *cfg;
    if (host) {
        size_t n = host->struct_size < sizeof s->host ? host->struct_size : sizeof s->host;
        memcpy(&s->host, host, n);
    }
    int st = sv_det_map_from_config(cfg, &s->map, err);
    if (st)
        goto fail;
    if (sv_kernel_from_name(cfg->resample_kernel, &s->kernel)) {
        st = sv_error_set(err, SV_ERR_ARG, "resample_kernel: unknown kernel '%s'",
                          cfg->resample_kernel);
        goto fail;
    }
    s->save = !strcmp(cfg->save_stamps, "columns")     ? SV_SAVE_COLUMNS
              : !strcmp(cfg->save_stamps, "extension") ? SV_SAVE_EXTENSION
                                                       : SV_SAVE_NONE;
    if (s->cfg.batch < 1)
        s->cfg.batch = 1;
    if (s->cfg.threads < 1)
        s->cfg.threads = 1;
    if (s->cfg.threads > SV_STAGE_THREADS_MAX) {
        st = sv_error_set(err, SV_ERR_ARG, "threads = %d: at most %d", s->cfg.threads,
                          SV_STAGE_THREADS_MAX);
        goto fail;
    }

    char path[1100];
    if (cfg->rb_model[0]) {
        snprintf(path, sizeof path, "%s", cfg->rb_model);
    } else if (sv_stage_default_model(path, sizeof path)) {
        st = sv_error_set(err, SV_ERR_ARG,
                          "rb_model is not set and no default real/bogus model is installed "
                          "(looked for %s): give rb_model = MODEL.fits",
                          path);
        goto fail;
    }
    if ((st = sv_model_read_fits(path, &s->rb, err)))
        goto fail;
    if ((st = check_model(cfg, s->rb, "rb_model", path, SV_TASK_REALBOGUS, err)))
        goto fail;
    if (cfg->class_model[0]) {
        if ((st = sv_model_read_fits(cfg->class_model, &s->cls, err)))
            goto fail;
        if ((st = check_model(cfg, s->cls, "class_model", cfg->class_model, SV_TASK_CLASS, err)))
            goto fail;
    }
    s->S = s->rb->pre.stamp_size;
    s->S2 = s->cls ? s->cls->pre.stamp_size : s->S;
    s->same_geom = !s->cls || (s->S2 == s->S && (!cfg->resample || s->cls->pre.pixel_scale ==
                                                                      s->rb->pre.pixel_scale));
    {
        char version[64];
        sv_model_label(s->rb, version, sizeof version);
        sv_out_names nm = {s->map.score, s->map.score_version, version, s->map.origin,
                           s->map.flags};
        if ((st = sv_out_schema_make(&nm, s->cls, s->save, s->S, &s->schema, err)))
            goto fail;
    }
    if (cfg->lc_model[0] && /* light-curve classification of histories (lc_stage.h) */
        ((st = sv_lc_stage_new(cfg->lc_model, cfg->lc_history, cfg->lc_key, s->cfg.batch,
                               &s->lc, err)) ||
         (st = sv_out_schema_add_lc(&s->schema, sv_lc_stage_model(s->lc), err))))
        goto fail;
    s->nworkers = s->cfg.threads;
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    s->o1 = malloc((size_t)s->cfg.batch * sizeof(float));
    s->o2 = s->cls ? malloc((size_t)s->cfg.batch * s->cls->n_classes * sizeof(float)) : NULL;
    if (!s->workers || !s->o1 || (s->cls && !s->o2)) {
        st = sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory");
        goto fail;
    }
    /* one plan per model for the instance: batches of `batch`, `threads`
     * threads each (score.h, nn_plan.h) */
    if (!(s->sc_rb = sv_scorer_new_threads(s->rb, s->cfg.batch, s->cfg.threads, err)) ||
        (s->cls &&
         !(s->sc_cls = sv_scorer_new_threads(s->cls, s->cfg.batch, s->cfg.threads, err)))) {
        st = err && err->status ? err->status : SV_ERR_NOMEM;
        goto fail;
    }
    for (int i = 0; i < s->nworkers; i++)
        if ((st = worker_init(s, &s->workers[i], err)))
            goto fail;
    *out = s;
    return SV_OK;
fail:
    sv_stage_free(s);
    return st ? st : SV_ERR_INTERNAL;
}

void sv_stage_free(sv_stage *s)
{
    if (!s)
        return;
    for (int i = 0; s->workers && i < s->nworkers; i++)
        worker_free(&s->workers[i]);
    free(s->workers);
    sv_scorer_free(s->sc_rb);
    sv_scorer_free(s->sc_cls);
    free(s->o1);
    free(s->o2);
    free(s->rows);
    free(s->keys);
    sv_model_free(s->rb);
    sv_model_free(s->cls);
    sv_lc_stage_free(s->lc);
    for (int c = 0; c < 3; c++)
        sv_image_free(&s->img[c]);
    sv_result_table_free(&s->res);
    free(s);
}

const sv_stage_stats *sv_stage_last_stats(const sv_stage *s) { return &s->stats; }
const sv_model *sv_stage_rb_model(const sv_stage *s) { return s->rb; }
const sv_model *sv_stage_class_model(const sv_stage *s) { return s->cls; }

/* ---- the exposure ---------------------------------------------------------- */

typedef struct exposure_view {
    sv_frames fr;
    sv_wcs *wcs[3];
    sv_wcs *pos;           /* WCS for sky positions and pixel scales     */
    double step_rb, step_cls; /* resampling steps at the image centre    */
    double model_scale_rb, model_scale_cls;
    double img_scale;      /* arcsec/pixel at the centre, 0 unknown      */
    double scale_ratio;    /* img_scale / a model's PIXSCALE beyond
                              pixscale_tolerance with resample off, or 0 */
    const sv_model *scale_model; /* that model                           */
} exposure_view;

static void view_free(exposure_view *v)
{
    for (int c = 0; c < 3; c++)
        sv_wcs_free(v->wcs[c]);
    memset(v, 0, sizeof *v);
}

/* WCS, same-grid check, resampling steps.  names: for messages. */
static int view_prepare(sv_stage *s, exposure_view *v, const char *const hdr[3],
                        const int ncards[3], const char *const names[3], sv_error *err)
{
    static const char *const role[3] = {"science", "reference", "difference"};
    char why[3][SV_ERROR_TEXT_MAX];
    for (int c = 0; c < 3; c++) {
        sv_error e;
        sv_error_clear(&e);
        why[c][0] = '\0';
        if (sv_wcs_from_header(hdr[c], ncards[c], names[c], &v->wcs[c], &e))
            snprintf(why[c], sizeof why[c], "%s", e.text);
    }
    int32_t w[3] = {v->fr.width, v->fr.width, v->fr.width};
    int32_t h[3] = {v->fr.height, v->fr.height, v->fr.height};
    int compared = 0;
    int st = sv_grid_check(w, h, v->wcs, s->cfg.grid_tolerance, names, &compared, err);
    if (st)
        return st;
    for (int c = 0; c < 3; c++)
        if (!v->wcs[c])
            stage_log(s, strstr(why[c], "broken") ? DIA_LOG_WARNING : DIA_LOG_INFO,
                      "%s image: %s%s", role[c], why[c],
                      compared < 2 ? "; the same-grid check used the image sizes only" : "");
    v->pos = v->wcs[SV_CH_DIFF] ? v->wcs[SV_CH_DIFF]
             : v->wcs[SV_CH_SCI] ? v->wcs[SV_CH_SCI]
                                 : v->wcs[SV_CH_REF];
    v->step_rb = v->step_cls = 1.0;
    v->img_scale = 0;
    if (v->pos) {
        double sc = sv_wcs_pixel_scale(v->pos, (v->fr.width - 1) / 2.0,
                                       (v->fr.height - 1) / 2.0);
        if (isfinite(sc))
            v->img_scale = sc;
    }
    /* the model sees this exposure's pixels at their own scale: warn once
     * per exposure when that is not the scale it was trained at */
    const sv_model *ms[2] = {s->rb, s->cls};
    for (int i = 0; i < 2 && !s->cfg.resample && v->img_scale > 0 && !v->scale_model; i++) {
        double ps = ms[i] ? ms[i]->pre.pixel_scale : 0;
        if (ps > 0 && fabs(v->img_scale / ps - 1.0) > s->cfg.pixscale_tolerance) {
            v->scale_ratio = v->img_scale / ps;
            v->scale_model = ms[i];
            stage_log(s, DIA_LOG_WARNING,
                      "%s: the images are at %.4g\"/pixel but model '%s' was trained at "
                      "%.4g\"/pixel (PIXSCALE), a factor %.3g beyond pixscale_tolerance = %g: "
                      "its scores are not calibrated here; set resample = true (run --set "
                      "resample=true) to cut the stamps at the model's scale",
                      names[SV_CH_DIFF], v->img_scale, ms[i]->name, ps, v->scale_ratio,
                      s->cfg.pixscale_tolerance);
        }
    }
    if (s->cfg.resample) {
        if (!v->pos)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "resample = true needs the images' WCS for their pixel scale, "
                                "but none has a usable one (%s)",
                                why[SV_CH_DIFF]);
        if (!(v->img_scale > 0))
            return sv_error_set(err, SV_ERR_SHAPE,
                                "%s: the WCS gives no pixel scale at the image centre",
                                names[SV_CH_DIFF]);
        v->model_scale_rb = s->rb->pre.pixel_scale;
        v->step_rb = v->model_scale_rb / v->img_scale;
        v->model_scale_cls = s->cls ? s->cls->pre.pixel_scale : v->model_scale_rb;
        v->step_cls = v->model_scale_cls / v->img_scale;
        double lo = v->step_rb < v->step_cls ? v->step_rb : v->step_cls;
        double hi = v->step_rb > v->step_cls ? v->step_rb : v->step_cls;
        if (lo < SV_RESAMPLE_STEP_MIN || hi > SV_RESAMPLE_STEP_MAX)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "resampling from %.4g\"/pixel (%s) to the model's %.4g\"/pixel "
                                "is a factor %.3g, outside %.4g..%g",
                                v->img_scale, names[SV_CH_DIFF],
                                v->step_rb == hi ? v->model_scale_rb : v->model_scale_cls,
                                v->step_rb == hi ? v->step_rb : v->step_cls,
                                SV_RESAMPLE_STEP_MIN, SV_RESAMPLE_STEP_MAX);
    }
    return SV_OK;
}

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
    sv_results *res;
    const int *rows;
    int n, parts;
    atomic_int next;             /* the next slot to take              */
    atomic_int failed;
} batch_job;

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
static int score_chunk(sv_stage *s, const exposure_view *v, int n, const double *x0,
                       const double *y0, const float *feat1, const float *feat2,
                       sv_results *res, double *step_buf, sv_error *err)
{
    const int K = s->cls ? s->cls->n_classes : 0;
    const size_t SS = (size_t)s->S * s->S;
    double t0 = now_s();
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
    s->stats.t_cut += now_s() - t0;

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
    J.res = res;
    const int B = s->cfg.batch;
    for (int b0 = 0; b0 < nv; b0 += B) {
        if (s->host.cancel && __atomic_load_n(s->host.cancel, __ATOMIC_RELAXED))
            return sv_error_set(err, SV_ERR_CANCELLED, "cancelled by the host");
        double t1 = now_s();
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
        double t2 = now_s();
        s->stats.t_cut += t2 - t1;
        for (int p = 0; p < J.parts; p++)
            if (s->workers[p].status)
                return sv_error_set(err, s->workers[p].status, "%s", s->workers[p].msg);
        int st = sv_scorer_infer(s->sc_rb, J.n, s->o1, err);
        if (st)
            return sv_error_prefix(err, "model '%s': ", s->rb->name);
        if (s->cls && (st = sv_scorer_infer(s->sc_cls, J.n, s->o2, err)))
            return sv_error_prefix(err, "model '%s': ", s->cls->name);
        s->stats.t_infer += now_s() - t2;
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
    }
    return SV_OK;
}

/* the summary line of an exposure (output: its file, or NULL) */
static void log_summary(const sv_stage *s, const char *output)
{
    const sv_stage_stats *t = &s->stats;
    stage_log(s, DIA_LOG_INFO,
              "%s%s%lld detections: %lld scored, %lld flagged (edge %lld, bad pixels %lld, "
              "masked %lld, bad centre %lld, off image %lld, bad position %lld, failed %lld), "
              "%lld kept from REAL by veto_flags, in %.3f s",
              output ? output : "", output ? ": " : "", (long long)t->rows,
              (long long)t->scored, (long long)t->flagged, (long long)t->edge,
              (long long)t->badfrac, (long long)t->masked, (long long)t->badcentre,
              (long long)t->off_image, (long long)t->bad_coord, (long long)t->failed,
              (long long)t->vetoed, t->t_total);
}

/* ---- provenance ------------------------------------------------------------- */

/* The science image's observation cards, carried over. */
static void prov_observation(sv_provenance *p, const char *hdr, int nc)
{
    char v[72];
    double d;
    if (!sv_header_string(hdr, nc, "DATE-OBS", v, sizeof v))
        sv_prov_str(p, "DATE-OBS", v, "from the science image");
    if (!sv_header_double(hdr, nc, "MJD-OBS", &d))
        sv_prov_dbl(p, "MJD-OBS", d, "from the science image");
    if (!sv_header_double(hdr, nc, "EXPTIME", &d))
        sv_prov_dbl(p, "EXPTIME", d, "[s] from the science image");
    if (!sv_header_string(hdr, nc, "FILTER", v, sizeof v))
        sv_prov_str(p, "FILTER", v, "from the science image");
}

/* An absolute, normalised path for provenance (the text given when it
 * cannot be resolved, e.g. cfitsio extended syntax). */
static void abs_path(const char *path, char *out, size_t len)
{
    char *r = path && *path ? realpath(path, NULL) : NULL;
    snprintf(out, len, "%s", r ? r : path ? path : "");
    free(r);
}

typedef struct hash_job {
    const char *path[5];
    char hex[5][SV_SHA256_HEX];
    int status[5];
} hash_job;

static void hash_task(int i, void *ctx)
{
    hash_job *H = ctx;
    sv_error e;
    sv_error_clear(&e);
    H->status[i] = H->path[i] && *H->path[i] ? sv_sha256_file(H->path[i], H->hex[i], &e) : -1;
}

/* Each input file: its absolute path (KEYFILE) and SHA-256 (KEYSHA), the
 * files hashed on up to `threads` threads. */
static void prov_inputs(const sv_stage *s, const dia_file_job *job, sv_provenance *p)
{
    static const char *const file_key[5] = {"SCIFILE", "REFFILE", "DIFFFILE", "DETFILE",
                                            "MASKFILE"};
    static const char *const sha_key[5] = {"SCISHA", "REFSHA", "DIFFSHA", "DETSHA", "MASKSHA"};
    static const char *const what[5] = {"science image", "reference image", "difference image",
                                        "detection table", "mask image"};
    hash_job H;
    memset(&H, 0, sizeof H);
    const char *paths[5] = {job->science, job->reference, job->difference, job->detections,
                            job->mask};
    memcpy(H.path, paths, sizeof paths);
    sv_parallel_for(s->nworkers < 5 ? s->nworkers : 5, 5, hash_task, &H);
    for (int i = 0; i < 5; i++) {
        if (!paths[i] || !*paths[i])
            continue;
        char full[SV_PROV_VALUE_MAX], comment[48];
        abs_path(paths[i], full, sizeof full);
        sv_prov_str(p, file_key[i], full, what[i]);
        snprintf(comment, sizeof comment, "SHA-256 of the %s file", what[i]);
        if (!H.status[i])
            sv_prov_str(p, sha_key[i], H.hex[i], comment);
    }
}

static void prov_common(const sv_stage *s, const sv_det_plan *plan, const exposure_view *v,
                        sv_provenance *p)
{
    char abi[16];
    snprintf(abi, sizeof abi, "%d.%d", DIA_ABI_MAJOR, DIA_ABI_MINOR);
    sv_prov_str(p, "SVVERS", PACKAGE_VERSION, "stampvet version");
    sv_prov_str(p, "DIAABI", abi, "DIA stage ABI version");
    const sv_model *ms[2] = {s->rb, s->cls};
    const char *pre[2] = {"RB", "CL"};
    for (int i = 0; i < 2; i++) {
        if (!ms[i])
            continue;
        char k[9];
        snprintf(k, sizeof k, "%sMODEL", pre[i]);
        sv_prov_str(p, k, ms[i]->name, i ? "class model name" : "real/bogus model name");
        snprintf(k, sizeof k, "%sMVERS", pre[i]);
        char label[SV_PROV_VALUE_MAX];
        sv_model_label(ms[i], label, sizeof label);
        sv_prov_str(p, k, label, "model version (MODVERS, else the name)");
        snprintf(k, sizeof k, "%sMCKSUM", pre[i]);
        sv_prov_str(p, k, ms[i]->checksum, "model file primary CHECKSUM");
        snprintf(k, sizeof k, "%sMFILE", pre[i]);
        char full[SV_PROV_VALUE_MAX];
        abs_path(ms[i]->path, full, sizeof full);
        sv_prov_str(p, k, full, "model file (absolute path)");
    }
    sv_prov_str(p, "SVCFGHSH", s->cfg.config_hash, "SHA-256 of the configuration (params_hash.h)");
    sv_prov_str(p, "SVCONFIG", s->cfg.config_text[0] ? s->cfg.config_text : "(all defaults)",
                "the key=value configuration given");
    if (s->cfg.host_command[0])
        sv_prov_str(p, "SVCMD", s->cfg.host_command, "the host's command line");
    sv_prov_dbl(p, "RBTHRESH", s->cfg.rb_threshold, "REAL = score >= RBTHRESH");
    sv_prov_dbl(p, "NANFMAX", s->cfg.nan_frac_max, "BADFRAC flag above this fraction");
    sv_prov_int(p, "MASKBITS", (long long)s->cfg.mask_bits, "mask bits that make a pixel bad");
    sv_prov_int(p, "VETOFLAG", (long long)s->cfg.veto_flags, "FLAGS bits that keep a row from REAL");
    sv_prov_dbl(p, "GRIDTOL", s->cfg.grid_tolerance, "same-grid tolerance, pixels");
    sv_prov_int(p, "STAMPSZ", s->S, "stamp side, pixels");
    sv_prov_bool(p, "RESAMPLE", s->cfg.resample, "stamps resampled to the model scale");
    if (v->img_scale > 0)
        sv_prov_dbl(p, "IMGSCALE", v->img_scale, "images' arcsec/pixel (WCS, centre)");
    sv_prov_dbl(p, "PSCALTOL", s->cfg.pixscale_tolerance, "pixel-scale mismatch tolerance");
    if (v->scale_model) {
        sv_prov_bool(p, "PSCALWRN", 1, "image/model pixel scales differ; resample off");
        sv_prov_dbl(p, "PSCALRAT", v->scale_ratio, "image scale / model PIXSCALE");
    }
    if (s->cfg.resample) {
        sv_prov_str(p, "RSKERNEL", sv_kernel_name(s->kernel), "resampling kernel");
        sv_prov_dbl(p, "RSSTEP", v->step_rb, "image pixels per stamp pixel (centre)");
    }
    sv_prov_str(p, "PRESET", s->map.preset, "detection column preset");
    sv_out_schema_prov(&s->schema, p);
    if (s->lc)
        sv_lc_stage_prov(s->lc, p);
    if (plan)
        sv_prov_str(p, "POSITION", plan->what, "where positions come from");
}

static void prov_counts(const sv_stage *s, sv_provenance *p)
{
    sv_prov_int(p, "NDET", s->stats.rows, "detections (rows)");
    sv_prov_int(p, "NSCORED", s->stats.scored, "rows with a real/bogus score");
    sv_prov_int(p, "NFLAGGED", s->stats.flagged, "rows with FLAGS != 0");
    if (s->lc)
        sv_lc_stage_prov_counts(s->lc, p);
}


/* ---- the one pipeline --------------------------------------------------------- */

/* Where the detections come from: a column source (names and types, for
 * the column plan) and its readers (row0 .. row0+n-1 of column col as
 * doubles / integers; 0 or a status with err set). */
typedef struct det_input {
    sv_col_source src;
    int64_t nrows;
    int (*read_double)(void *ctx, int col, int64_t row0, int n, double *out, sv_error *err);
    int (*read_int64)(void *ctx, int col, int64_t row0, int n, int64_t *out, sv_error *err);
    /* start the light-curve stage on this exposure (lc_stage.h) */
    int (*lc_begin)(void *ctx, sv_lc_stage *lc, const sv_out_schema *o, sv_error *err);
    void *ctx;
    const sv_provenance *prov; /* the entry point's cards, after the common ones */
} det_input;

/* The working buffers of a chunk of cap rows. */
typedef struct chunk_bufs {
    int cap;
    double *a, *b, *x0, *y0, *step, *tmp;
    float *feat1, *feat2;
    float *prob;                 /* cap x n_classes                        */
    int16_t *label;
    float *lc_prob, *cls_t;      /* cap x n_lc; the class columns, K x cap */
    int16_t *lc_label;
    int32_t *lc_flags;
} chunk_bufs;

static void chunk_bufs_free(chunk_bufs *cb)
{
    void *p[] = {cb->a, cb->b, cb->x0, cb->y0, cb->step, cb->tmp, cb->feat1, cb->feat2,
                 cb->prob, cb->label, cb->lc_prob, cb->cls_t, cb->lc_label, cb->lc_flags};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    memset(cb, 0, sizeof *cb);
}

/* The chunk size: SV_STAGE_CHUNK rows, fewer when the stamps are kept
 * (STAMP_CHUNK_BYTES), never below a batch. */
static int chunk_rows(const sv_stage *s)
{
    int cap = SV_STAGE_CHUNK;
    if (s->save != SV_SAVE_NONE) {
        size_t per = 3 * (size_t)s->S * s->S * sizeof(float);
        size_t lim = STAMP_CHUNK_BYTES / per;
        if (lim < (size_t)cap)
            cap = (int)lim;
    }
    int min = s->cfg.batch;
    if (cap < min)
        cap = min;
    if (cap < 1)
        cap = 1;
    return cap;
}

static int chunk_bufs_init(const sv_stage *s, chunk_bufs *cb, sv_error *err)
{
    memset(cb, 0, sizeof *cb);
    int cap = cb->cap = chunk_rows(s);
    size_t n = (size_t)cap;
    int K = s->schema.n_classes, L = s->schema.n_lc;
    int nf1 = s->rb->n_features, nf2 = s->cls ? s->cls->n_features : 0;
    int ok = (cb->a = malloc(n * sizeof(double))) && (cb->b = malloc(n * sizeof(double))) &&
             (cb->x0 = malloc(n * sizeof(double))) && (cb->y0 = malloc(n * sizeof(double))) &&
             (cb->step = malloc(2 * n * sizeof(double))) &&
             (cb->tmp = malloc(n * sizeof(double)));
    if (ok && nf1)
        ok = (cb->feat1 = malloc(n * nf1 * sizeof(float))) != NULL;
    if (ok && nf2)
        ok = (cb->feat2 = malloc(n * nf2 * sizeof(float))) != NULL;
    if (ok && K)
        ok = (cb->prob = malloc(n * K * sizeof(float))) && (cb->label = malloc(n * 2));
    if (ok && s->lc)
        ok = (cb->lc_prob = malloc(n * L * sizeof(float))) &&
             (cb->cls_t = malloc(n * (K ? K : 1) * sizeof(float))) &&
             (cb->lc_label = malloc(n * sizeof(int16_t))) &&
             (cb->lc_flags = malloc(n * sizeof(int32_t)));
    if (!ok) {
        chunk_bufs_free(cb);
        return sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory for %d rows", cap);
    }
    return SV_OK;
}

/* n rows of the detections' features of a plan, row-major */
static int read_features(const det_input *in, const sv_det_plan *plan, int64_t row0, int n,
                         double *tmp, float *feat, sv_error *err)
{
    for (int k = 0; k < plan->n_feat; k++) {
        int st = in->read_double(in->ctx, plan->col_feat[k], row0, n, tmp, err);
        if (st)
            return st;
        for (int i = 0; i < n; i++)
            feat[(size_t)i * plan->n_feat + k] = (float)tmp[i];
    }
    return SV_OK;
}

/* The light curves of a scored chunk (lc_stage.h): r's lc_* arrays. */
static int classify_chunk(sv_stage *s, chunk_bufs *cb, int64_t row0, sv_results *r,
                          sv_error *err)
{
    const int K = s->schema.n_classes, n = r->n;
    const float *cp[SV_MAX_CLASSES];
    for (int k = 0; k < K; k++) { /* the class probabilities, by column */
        float *col = cb->cls_t + (size_t)k * cb->cap;
        for (int i = 0; i < n; i++)
            col[i] = r->prob[(size_t)i * K + k];
        cp[k] = col;
    }
    r->lc_prob = cb->lc_prob;
    r->lc_label = cb->lc_label;
    r->lc_flags = cb->lc_flags;
    return sv_lc_stage_classify(s->lc, row0, n, r->rb, K ? cp : NULL, r->lc_prob, r->lc_label,
                                r->lc_flags, err);
}

/* The stage's one pipeline, behind process() and process_files(): the
 * detections of `in` on the exposure `v` are planned (positions, features:
 * detections.h), checked against the output schema, cut and scored chunk
 * by chunk (score_chunk), their light curves classified, and handed to the
 * sink with the provenance (result_sink.h).  Returns 0 or a status with
 * err set; the sink has then been aborted (or never begun). */
static int stage_run(sv_stage *s, const exposure_view *v, const det_input *in,
                     const sv_result_sink *sink, sv_error *err)
{
    double t0 = now_s();
    sv_det_plan plan, plan2;
    memset(&plan2, 0, sizeof plan2);
    chunk_bufs cb;
    memset(&cb, 0, sizeof cb);
    int began = 0, st;
    if ((st = sv_det_plan_make(&s->map, &in->src, v->pos != NULL,
                               s->rb->n_features ? s->rb : NULL, &plan, err)) ||
        (s->cls && s->cls->n_features &&
         (st = sv_det_plan_make(&s->map, &in->src, v->pos != NULL, s->cls, &plan2, err))) ||
        (st = sv_out_schema_check_clash(&s->schema, &in->src, err)))
        goto fail;
    s->stats.t_read += now_s() - t0;
    if (s->lc && (st = in->lc_begin(in->ctx, s->lc, &s->schema, err)))
        goto fail;
    if ((st = chunk_bufs_init(s, &cb, err)))
        goto fail;
    sv_provenance *p = &s->prov;
    memset(p, 0, sizeof *p);
    prov_common(s, &plan, v, p);
    sv_prov_merge(p, in->prov);
    const int64_t N = in->nrows;
    double tw = now_s();
    began = 1;
    if ((st = sink->begin(sink->ctx, N, cb.cap, p, err)))
        goto fail;
    s->stats.t_write += now_s() - tw;
    for (int64_t row0 = 0; row0 < N; row0 += cb.cap) {
        int n = N - row0 < cb.cap ? (int)(N - row0) : cb.cap;
        double tr = now_s();
        sv_results r;
        memset(&r, 0, sizeof r);
        r.n = n;
        r.prob = cb.prob;
        r.label = cb.label;
        sink->rows(sink->ctx, row0, n, &r);
        if ((st = in->read_double(in->ctx, plan.col_a, row0, n, cb.a, err)) ||
            (st = in->read_double(in->ctx, plan.col_b, row0, n, cb.b, err)) ||
            (st = read_features(in, &plan, row0, n, cb.tmp, cb.feat1, err)) ||
            (st = read_features(in, &plan2, row0, n, cb.tmp, cb.feat2, err)))
            goto fail;
        if (r.id && plan.col_id >= 0) {
            if ((st = in->read_int64(in->ctx, plan.col_id, row0, n, r.id, err)))
                goto fail;
        } else if (r.id) {
            for (int i = 0; i < n; i++)
                r.id[i] = row0 + i;
        }
        memset(r.flags, 0, (size_t)n * sizeof *r.flags);
        sv_det_positions(&plan, &s->map, v->pos, n, cb.a, cb.b, cb.x0, cb.y0,
                         (uint32_t *)r.flags);
        s->stats.t_read += now_s() - tr;
        if ((st = score_chunk(s, v, n, cb.x0, cb.y0, cb.feat1, cb.feat2, &r, cb.step, err)) ||
            (s->lc && (st = classify_chunk(s, &cb, row0, &r, err))))
            goto fail;
        tw = now_s();
        if ((st = sink->write(sink->ctx, row0, &r, err)))
            goto fail;
        s->stats.t_write += now_s() - tw;
    }
    s->stats.rows = N;
    tw = now_s();
    memset(p, 0, sizeof *p);
    prov_counts(s, p);
    began = 0;
    st = sink->finish(sink->ctx, p, err);
    s->stats.t_write += now_s() - tw;
    chunk_bufs_free(&cb);
    return st;
fail:
    if (began)
        sink->abort(sink->ctx);
    chunk_bufs_free(&cb);
    return st;
}

/* ---- in memory -------------------------------------------------------------- */

static int check_image(const dia_image *im, const char *role, sv_error *err)
{
    if (!im->data)
        return sv_error_set(err, SV_ERR_ARG, "exposure: the %s image has no data", role);
    if (im->width < 1 || im->height < 1 || im->width > SV_IMAGE_MAX_SIDE ||
        im->height > SV_IMAGE_MAX_SIDE)
        return sv_error_set(err, SV_ERR_ARG, "exposure: the %s image is %d x %d pixels", role,
                            im->width, im->height);
    if (im->stride != 0 && im->stride < im->width)
        return sv_error_set(err, SV_ERR_ARG,
                            "exposure: the %s image has stride %lld < width %d", role,
                            (long long)im->stride, im->width);
    if (im->header_ncards < 0)
        return sv_error_set(err, SV_ERR_ARG, "exposure: the %s image has %d header cards", role,
                            im->header_ncards);
    return SV_OK;
}

static int header_cards(const dia_image *im)
{
    if (!im->header)
        return 0;
    if (im->header_ncards > 0)
        return im->header_ncards;
    return (int)(strlen(im->header) / 80);
}

/* the host's detection table and exposure as a det_input */
typedef struct table_input {
    const dia_table *det;
    const dia_exposure *x;
} table_input;

static int table_read_double(void *ctx, int col, int64_t row0, int n, double *out,
                             sv_error *err)
{
    (void)err;
    sv_column_read_double(&((table_input *)ctx)->det->cols[col], row0, n, out);
    return SV_OK;
}

static int table_read_int64(void *ctx, int col, int64_t row0, int n, int64_t *out,
                            sv_error *err)
{
    (void)err;
    sv_column_read_int64(&((table_input *)ctx)->det->cols[col], row0, n, out);
    return SV_OK;
}

static int table_lc_begin(void *ctx, sv_lc_stage *lc, const sv_out_schema *o, sv_error *err)
{
    const table_input *t = ctx;
    return sv_lc_stage_begin_table(lc, t->det, t->x->history, t->x->mjd, o->n_classes,
                                   o->class_name, err);
}

int sv_stage_process(sv_stage *s, const dia_exposure *x, const dia_table *det,
                     const dia_table **results, sv_error *err)
{
    if (results)
        *results = NULL;
    if (!s || !results)
        return sv_error_set(err, SV_ERR_ARG, "stampvet: process() needs an instance and a "
                                             "results pointer");
    sv_result_table_free(&s->res);
    memset(&s->stats, 0, sizeof s->stats);
    double t_start = now_s();
    if (!x || x->struct_size < sizeof(dia_exposure))
        return sv_error_set(err, SV_ERR_ARG, "exposure: %s (struct_size %u, expected >= %zu)",
                            x ? "too small a dia_exposure" : "none given",
                            x ? x->struct_size : 0, sizeof(dia_exposure));
    const dia_image *ims[3] = {&x->science, &x->reference, &x->difference};
    static const char *const role[3] = {"science", "reference", "difference"};
    int st;
    for (int c = 0; c < 3; c++)
        if ((st = check_image(ims[c], role[c], err)))
            return st;
    if ((st = sv_table_validate(det, "detection table", err)))
        return st;
    for (int c = 1; c < 3; c++)
        if (ims[c]->width != ims[0]->width || ims[c]->height != ims[0]->height)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "images not on one pixel grid: the science image is %d x %d "
                                "pixels but the %s image is %d x %d",
                                ims[0]->width, ims[0]->height, role[c], ims[c]->width,
                                ims[c]->height);
    if (x->mask && x->mask_stride != 0 && x->mask_stride < ims[0]->width)
        return sv_error_set(err, SV_ERR_ARG, "exposure: mask stride %lld < width %d",
                            (long long)x->mask_stride, ims[0]->width);

    exposure_view v;
    memset(&v, 0, sizeof v);
    for (int c = 0; c < 3; c++) {
        v.fr.img[c] = ims[c]->data;
        v.fr.stride[c] = ims[c]->stride ? ims[c]->stride : ims[c]->width;
    }
    v.fr.width = ims[0]->width;
    v.fr.height = ims[0]->height;
    v.fr.mask = x->mask;
    v.fr.mask_stride = x->mask_stride ? x->mask_stride : ims[0]->width;
    v.fr.mask_bits = s->cfg.mask_bits;
    const char *hdr[3] = {ims[0]->header, ims[1]->header, ims[2]->header};
    int nc[3] = {header_cards(ims[0]), header_cards(ims[1]), header_cards(ims[2])};
    const char *names[3] = {"science image header", "reference image header",
                            "difference image header"};
    if ((st = view_prepare(s, &v, hdr, nc, names, err)))
        goto done;
    s->stats.t_read = now_s() - t_start;

    /* the host's cards: after the common ones (stage_run) */
    sv_provenance *p = malloc(sizeof *p);
    if (!p) {
        st = sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory");
        goto done;
    }
    memset(p, 0, sizeof *p);
    if (x->exposure_id)
        sv_prov_str(p, "EXPID", x->exposure_id, "exposure identifier");
    if (x->survey)
        sv_prov_str(p, "SURVEY", x->survey, NULL);
    if (x->band)
        sv_prov_str(p, "BAND", x->band, NULL);
    prov_observation(p, hdr[0], nc[0]);
    if (isfinite(x->mjd))
        sv_prov_dbl(p, "MJD-OBS", x->mjd, "from the host");
    table_input ti = {det, x};
    det_input in = {sv_table_source(det, "detection table"), det->nrows, table_read_double,
                    table_read_int64, table_lc_begin, &ti, p};
    sv_result_sink sink = sv_result_table_sink(&s->res, det, &s->schema);
    st = stage_run(s, &v, &in, &sink, err);
    free(p);
done:
    view_free(&v);
    s->stats.t_total = now_s() - t_start;
    if (st)
        return st;
    log_summary(s, NULL);
    *results = &s->res.table;
    return SV_OK;
}

/* ---- from files ------------------------------------------------------------- */

typedef struct image_job {
    const char *paths[3];
    sv_image *im[3];
    size_t *cap[3];
    int status[3];
    sv_error err[3];
} image_job;

static void image_task(int c, void *ctx)
{
    image_job *J = ctx;
    J->status[c] = sv_image_read_reuse(J->paths[c], J->im[c], J->cap[c], &J->err[c]);
}

/* a detection file and the job as a det_input */
typedef struct file_input {
    sv_det_file *det;
    const dia_file_job *job;
} file_input;

static int file_read_double(void *ctx, int col, int64_t row0, int n, double *out,
                            sv_error *err)
{
    return sv_det_file_read_double(((file_input *)ctx)->det, col, row0, n, out, err);
}

static int file_read_int64(void *ctx, int col, int64_t row0, int n, int64_t *out,
                           sv_error *err)
{
    return sv_det_file_read_int64(((file_input *)ctx)->det, col, row0, n, out, err);
}

static int file_lc_begin(void *ctx, sv_lc_stage *lc, const sv_out_schema *o, sv_error *err)
{
    const dia_file_job *job = ((file_input *)ctx)->job;
    return sv_lc_stage_begin_file(lc, job->detections, job->science, o->n_classes,
                                  o->class_name, err);
}

/* The job's files are all given, and the output is none of them nor of
 * the stage's models (atomic_file.h, dia_stage.h). */
static int check_file_job(const sv_stage *s, const dia_file_job *job, sv_error *err)
{
    if (!job || job->struct_size < DIA_FILE_JOB_SIZE_1_0)
        return sv_error_set(err, SV_ERR_ARG, "file job: %s (struct_size %u, expected >= %zu)",
                            job ? "too small a dia_file_job" : "none given",
                            job ? job->struct_size : 0, (size_t)DIA_FILE_JOB_SIZE_1_0);
    const char *paths[3] = {job->science, job->reference, job->difference};
    static const char *const role[3] = {"science", "reference", "difference"};
    for (int c = 0; c < 3; c++)
        if (!paths[c] || !*paths[c])
            return sv_error_set(err, SV_ERR_ARG, "file job: no %s image file", role[c]);
    if (!job->detections || !*job->detections)
        return sv_error_set(err, SV_ERR_ARG, "file job: no detection table file");
    if (!job->output || !*job->output)
        return sv_error_set(err, SV_ERR_ARG, "file job: no output file");
    const char *in[] = {job->science, job->reference, job->difference, job->detections,
                        job->mask, s->rb->path, s->cls ? s->cls->path : NULL,
                        s->cfg.lc_model, s->cfg.lc_history};
    static const char *const in_role[] = {"science image", "reference image",
                                          "difference image", "detection table",
                                          "mask image", "real/bogus model", "class model",
                                          "light-curve model", "light-curve history table"};
    int overwrite = job->struct_size >= sizeof(dia_file_job) && job->overwrite;
    if (sv_output_check(job->output, in, in_role, (int)(sizeof in / sizeof in[0]), overwrite,
                        err))
        return sv_error_prefix(err, "file job: ");
    return SV_OK;
}

int sv_stage_process_files(sv_stage *s, const dia_file_job *job, sv_error *err)
{
    if (!s)
        return sv_error_set(err, SV_ERR_ARG, "stampvet: no instance");
    sv_result_table_free(&s->res);
    memset(&s->stats, 0, sizeof s->stats);
    double t_start = now_s();
    int st;
    if ((st = check_file_job(s, job, err)))
        return st;
    const char *paths[3] = {job->science, job->reference, job->difference};
    static const char *const role[3] = {"science", "reference", "difference"};
    const sv_image *im = s->img;
    uint32_t *mask = NULL;
    sv_det_file *det = NULL;
    sv_provenance *p = NULL;
    exposure_view v;
    memset(&v, 0, sizeof v);
    {
        /* the three images at once, on up to `threads` threads */
        image_job ij;
        memset(&ij, 0, sizeof ij);
        for (int c = 0; c < 3; c++) {
            ij.paths[c] = paths[c];
            ij.im[c] = &s->img[c];
            ij.cap[c] = &s->img_cap[c];
            sv_error_clear(&ij.err[c]);
        }
        sv_parallel_for(s->nworkers < 3 ? s->nworkers : 3, 3, image_task, &ij);
        for (int c = 0; c < 3; c++)
            if ((st = ij.status[c])) {
                sv_error_set(err, st, "%s", ij.err[c].text);
                goto done;
            }
    }
    for (int c = 1; c < 3; c++)
        if (im[c].width != im[0].width || im[c].height != im[0].height) {
            st = sv_error_set(err, SV_ERR_SHAPE,
                              "images not on one pixel grid: science image %s is %d x %d "
                              "pixels but %s image %s is %d x %d",
                              paths[0], im[0].width, im[0].height, role[c], paths[c],
                              im[c].width, im[c].height);
            goto done;
        }
    if (job->mask && *job->mask) {
        int32_t mw, mh;
        if ((st = sv_mask_read(job->mask, &mask, &mw, &mh, err)))
            goto done;
        if (mw != im[0].width || mh != im[0].height) {
            st = sv_error_set(err, SV_ERR_SHAPE,
                              "mask %s is %d x %d pixels but the images are %d x %d", job->mask,
                              mw, mh, im[0].width, im[0].height);
            goto done;
        }
    }
    for (int c = 0; c < 3; c++) {
        v.fr.img[c] = im[c].data;
        v.fr.stride[c] = im[c].width;
    }
    v.fr.width = im[0].width;
    v.fr.height = im[0].height;
    v.fr.mask = mask;
    v.fr.mask_stride = im[0].width;
    v.fr.mask_bits = s->cfg.mask_bits;
    {
        const char *hdr[3] = {im[0].header, im[1].header, im[2].header};
        int nc[3] = {im[0].ncards, im[1].ncards, im[2].ncards};
        if ((st = view_prepare(s, &v, hdr, nc, paths, err)))
            goto done;
    }
    if ((st = sv_det_file_open(job->detections, &det, err)))
        goto done;
    s->stats.t_read = now_s() - t_start;

    /* the files' cards: after the common ones (stage_run) */
    if (!(p = malloc(sizeof *p))) {
        st = sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory");
        goto done;
    }
    memset(p, 0, sizeof *p);
    prov_inputs(s, job, p);
    sv_prov_str(p, "DETFMT", sv_det_file_format(det), "detection table format");
    prov_observation(p, im[0].header, im[0].ncards);
    if (job->exposure_id)
        sv_prov_str(p, "EXPID", job->exposure_id, "exposure identifier");
    /* the STAMPS extension's header, from the science image */
    sv_out_schema schema = s->schema;
    if (sv_header_string(im[0].header, im[0].ncards, "SURVEY", schema.survey,
                         sizeof schema.survey))
        sv_header_string(im[0].header, im[0].ncards, "TELESCOP", schema.survey,
                         sizeof schema.survey);
    sv_header_string(im[0].header, im[0].ncards, "FILTER", schema.band, sizeof schema.band);
    sv_header_string(im[0].header, im[0].ncards, "BUNIT", schema.bunit, sizeof schema.bunit);
    schema.pixscale = s->cfg.resample ? s->rb->pre.pixel_scale : v.img_scale;

    file_input fin = {det, job};
    det_input in = {sv_det_file_source(det), sv_det_file_nrows(det), file_read_double,
                    file_read_int64, file_lc_begin, &fin, p};
    sv_catalog_sink cs;
    sv_result_sink sink = sv_catalog_sink_make(&cs, job->output, det, &schema);
    st = stage_run(s, &v, &in, &sink, err);
done:
    free(p);
    free(mask);
    sv_det_file_close(det);
    view_free(&v);
    s->stats.t_total = now_s() - t_start;
    if (!st)
        log_summary(s, job->output);
    return st;
}
