/* stage.c — see stage.h: creating and freeing a stage (stage_internal.h). */
#include "pipeline/stage_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/model_fits.h"

#ifndef SV_PKGDATADIR
#define SV_PKGDATADIR ""
#endif
#define DEFAULT_MODEL "braai-d6_m7.fits"

double stage_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void stage_log(const sv_stage *s, dia_log_level level, const char *fmt, ...)
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

void stage_progress(const sv_stage *s, int64_t rows_done, int64_t rows_total)
{
    /* s->host holds only the bytes the host passed (zero beyond them):
     * a host of ABI 1.1 has no progress member, so it is NULL here */
    if (s->host.progress)
        s->host.progress(s->host.user, rows_done, rows_total);
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
    if (!cfg->diff_positive[0] || !strcmp(cfg->diff_positive, "auto"))
        s->diff_positive = DIFFPOS_AUTO;
    else if (!strcmp(cfg->diff_positive, "yes"))
        s->diff_positive = DIFFPOS_YES;
    else if (!strcmp(cfg->diff_positive, "no"))
        s->diff_positive = DIFFPOS_NO;
    else {
        st = sv_error_set(err, SV_ERR_ARG, "diff_positive: '%s' is not auto, yes or no",
                          cfg->diff_positive);
        goto fail;
    }
    if (sv_kernel_from_name(cfg->resample_kernel, &s->kernel)) {
        st = sv_error_set(err, SV_ERR_ARG, "resample_kernel: unknown kernel '%s'",
                          cfg->resample_kernel);
        goto fail;
    }
    s->save = !strcmp(cfg->save_stamps, "columns")     ? SV_SAVE_COLUMNS
              : !strcmp(cfg->save_stamps, "extension") ? SV_SAVE_EXTENSION
                                                       : SV_SAVE_NONE;
    if (cfg->compress_stamps && s->save != SV_SAVE_EXTENSION) {
        st = sv_error_set(err, SV_ERR_ARG, "compress_stamps = true needs save_stamps = "
                          "extension (it compresses the STAMPS table; save_stamps is '%s')",
                          cfg->save_stamps);
        goto fail;
    }
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
        s->schema.compress_stamps = cfg->compress_stamps;
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
