/* stage_run.c — the stage's one pipeline and its two entry points,
 * sv_stage_process and sv_stage_process_files (stage.h, result_sink.h). */
#include "pipeline/stage_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/parallel.h"
#include "pipeline/catalog_sink.h"

/* ---- the one pipeline --------------------------------------------------------- */

/* Where the detections come from: a column source (names and types, for
 * the column plan) and its readers (row0 .. row0+n-1 of column col as
 * doubles / integers; 0 or a status with err set). */
typedef struct det_input {
    sv_col_source src;
    int64_t nrows;
    int (*read_double)(void *ctx, int col, int64_t row0, int n, double *out, sv_error *err);
    int (*read_int64)(void *ctx, int col, int64_t row0, int n, int64_t *out, sv_error *err);
    /* a text or logical column, SIGN_TEXT bytes a row (det_table.h) */
    int (*read_text)(void *ctx, int col, int64_t row0, int n, char *out, sv_error *err);
    /* start the light-curve stage on this exposure (lc_stage.h) */
    int (*lc_begin)(void *ctx, sv_lc_stage *lc, const sv_out_schema *o, sv_error *err);
    void *ctx;
    const sv_provenance *prov; /* the entry point's cards, after the common ones */
} det_input;

/* Bytes of a sign column's text value kept (longer values are unreadable) */
#define SIGN_TEXT 16

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
    char *sign_text;             /* cap x SIGN_TEXT, with a sign column     */
    uint8_t *neg;                /* cap: invert DIFF, when inverting        */
} chunk_bufs;

static void chunk_bufs_free(chunk_bufs *cb)
{
    void *p[] = {cb->a, cb->b, cb->x0, cb->y0, cb->step, cb->tmp, cb->feat1, cb->feat2,
                 cb->prob, cb->label, cb->lc_prob, cb->cls_t, cb->lc_label, cb->lc_flags,
                 cb->sign_text, cb->neg};
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

static int chunk_bufs_init(const sv_stage *s, chunk_bufs *cb, int signs, sv_error *err)
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
    if (ok && signs)
        ok = (cb->sign_text = malloc(n * SIGN_TEXT)) && (cb->neg = malloc(n));
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

/* n rows of the detections' signs (detections.h) into neg (1: negative,
 * its DIFF is inverted); an unreadable one is positive and flagged
 * SV_FLAG_BADSIGN. */
static int read_signs(const det_input *in, const sv_det_plan *plan, int64_t row0, int n,
                      chunk_bufs *cb, int32_t *flags, sv_error *err)
{
    int st;
    if (plan->sign_kind) {
        if ((st = in->read_text(in->ctx, plan->col_sign, row0, n, cb->sign_text, err)))
            return st;
    } else if ((st = in->read_double(in->ctx, plan->col_sign, row0, n, cb->tmp, err))) {
        return st;
    }
    for (int i = 0; i < n; i++) {
        int sg = plan->sign_kind ? sv_det_sign_text(cb->sign_text + (size_t)i * SIGN_TEXT)
                                 : sv_det_sign_number(cb->tmp[i]);
        if (!sg)
            flags[i] |= (int32_t)SV_FLAG_BADSIGN;
        cb->neg[i] = sg < 0;
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
 * by chunk (stage_score_chunk), their light curves classified, and handed to the
 * sink with the provenance (result_sink.h); the host's progress callback
 * after each chunk (stage_progress).  Returns 0 or a status with
 * err set; the sink has then been aborted (or never begun). */
static int stage_run(sv_stage *s, const exposure_view *v, const det_input *in,
                     const sv_result_sink *sink, sv_error *err)
{
    double t0 = stage_now();
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
    s->stats.t_read += stage_now() - t0;
    if (s->lc && (st = in->lc_begin(in->ctx, s->lc, &s->schema, err)))
        goto fail;
    /* the detections' signs: read when negative ones are inverted */
    const int inverts = stage_diff_inverts(s, &plan), signs = inverts && plan.col_sign >= 0;
    if (s->diff_positive == DIFFPOS_YES && plan.col_sign < 0)
        stage_log(s, DIA_LOG_WARNING,
                  "diff_positive = yes but the detections have no sign column (col_sign; "
                  "preset %s): every detection is taken as positive, no DIFF is inverted",
                  s->map.preset);
    if ((st = chunk_bufs_init(s, &cb, signs, err)))
        goto fail;
    sv_provenance *p = &s->prov;
    memset(p, 0, sizeof *p);
    stage_prov_common(s, &plan, v, p);
    sv_prov_merge(p, in->prov);
    const int64_t N = in->nrows;
    double tw = stage_now();
    began = 1;
    if ((st = sink->begin(sink->ctx, N, cb.cap, p, err)))
        goto fail;
    s->stats.t_write += stage_now() - tw;
    for (int64_t row0 = 0; row0 < N; row0 += cb.cap) {
        int n = N - row0 < cb.cap ? (int)(N - row0) : cb.cap;
        double tr = stage_now();
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
        if (signs && (st = read_signs(in, &plan, row0, n, &cb, r.flags, err)))
            goto fail;
        s->stats.t_read += stage_now() - tr;
        if ((st = stage_score_chunk(s, v, n, cb.x0, cb.y0, cb.feat1, cb.feat2,
                                    signs ? cb.neg : NULL, &r, cb.step, err)) ||
            (s->lc && (st = classify_chunk(s, &cb, row0, &r, err))))
            goto fail;
        tw = stage_now();
        if ((st = sink->write(sink->ctx, row0, &r, err)))
            goto fail;
        s->stats.t_write += stage_now() - tw;
        stage_progress(s, row0 + n, N);
    }
    if (N == 0)
        stage_progress(s, 0, 0);
    s->stats.rows = N;
    tw = stage_now();
    memset(p, 0, sizeof *p);
    stage_prov_counts(s, p);
    began = 0;
    st = sink->finish(sink->ctx, p, err);
    s->stats.t_write += stage_now() - tw;
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

static int table_read_text(void *ctx, int col, int64_t row0, int n, char *out, sv_error *err)
{
    (void)err;
    const dia_column *c = &((table_input *)ctx)->det->cols[col];
    char buf[64];
    for (int i = 0; i < n; i++) {
        sv_column_cell_str(c, row0 + i, buf, sizeof buf);
        size_t len = strlen(buf);
        if (len >= SIGN_TEXT) /* never a sign word: unreadable */
            buf[0] = '?', len = 1;
        memcpy(out + (size_t)i * SIGN_TEXT, buf, len);
        out[(size_t)i * SIGN_TEXT + len] = '\0';
    }
    return SV_OK;
}

static int table_lc_begin(void *ctx, sv_lc_stage *lc, const sv_out_schema *o, sv_error *err)
{
    const table_input *t = ctx;
    return sv_lc_stage_begin_table(lc, t->det, t->x->history, t->x->mjd, o->n_classes,
                                   o->class_name, err);
}

static int process_memory(sv_stage *s, const dia_exposure *x, const dia_table *det,
                          const dia_table **results, sv_error *err)
{
    if (results)
        *results = NULL;
    if (!s || !results)
        return sv_error_set(err, SV_ERR_ARG, "stampvet: process() needs an instance and a "
                                             "results pointer");
    sv_result_table_free(&s->res);
    memset(&s->stats, 0, sizeof s->stats);
    double t_start = stage_now();
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
    if ((st = stage_view_prepare(s, &v, hdr, nc, names, err)))
        goto done;
    s->stats.t_read = stage_now() - t_start;

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
    stage_prov_observation(p, hdr[0], nc[0]);
    if (isfinite(x->mjd))
        sv_prov_dbl(p, "MJD-OBS", x->mjd, "from the host");
    table_input ti = {det, x};
    det_input in = {sv_table_source(det, "detection table"), det->nrows, table_read_double,
                    table_read_int64, table_read_text, table_lc_begin, &ti, p};
    sv_result_sink sink = sv_result_table_sink(&s->res, det, &s->schema);
    st = stage_run(s, &v, &in, &sink, err);
    free(p);
done:
    stage_view_free(&v);
    s->stats.t_total = stage_now() - t_start;
    if (st)
        return st;
    stage_log_summary(s, NULL);
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

static int file_read_text(void *ctx, int col, int64_t row0, int n, char *out, sv_error *err)
{
    return sv_det_file_read_text(((file_input *)ctx)->det, col, row0, n, out, SIGN_TEXT, err);
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

static int process_files(sv_stage *s, const dia_file_job *job, sv_error *err)
{
    if (!s)
        return sv_error_set(err, SV_ERR_ARG, "stampvet: no instance");
    sv_result_table_free(&s->res);
    memset(&s->stats, 0, sizeof s->stats);
    double t_start = stage_now();
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
        if ((st = stage_view_prepare(s, &v, hdr, nc, paths, err)))
            goto done;
    }
    if ((st = sv_det_file_open(job->detections, &det, err)))
        goto done;
    s->stats.t_read = stage_now() - t_start;

    /* the files' cards: after the common ones (stage_run) */
    if (!(p = malloc(sizeof *p))) {
        st = sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory");
        goto done;
    }
    memset(p, 0, sizeof *p);
    stage_prov_inputs(s, job, p);
    sv_prov_str(p, "DETFMT", sv_det_file_format(det), "detection table format");
    stage_prov_observation(p, im[0].header, im[0].ncards);
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
                    file_read_int64, file_read_text, file_lc_begin, &fin, p};
    sv_catalog_sink cs;
    sv_result_sink sink = sv_catalog_sink_make(&cs, job->output, det, &schema);
    st = stage_run(s, &v, &in, &sink, err);
done:
    free(p);
    free(mask);
    sv_det_file_close(det);
    stage_view_free(&v);
    s->stats.t_total = stage_now() - t_start;
    if (!st)
        stage_log_summary(s, job->output);
    return st;
}

/* No thread of the stage outlives a call (dia_stage.h): the scorers'
 * network workers, kept across the batches of a call, are joined here. */
static void release_threads(sv_stage *s)
{
    if (!s)
        return;
    sv_scorer_release_threads(s->sc_rb);
    sv_scorer_release_threads(s->sc_cls);
}

int sv_stage_process(sv_stage *s, const dia_exposure *x, const dia_table *det,
                     const dia_table **results, sv_error *err)
{
    int st = process_memory(s, x, det, results, err);
    release_threads(s);
    return st;
}

int sv_stage_process_files(sv_stage *s, const dia_file_job *job, sv_error *err)
{
    int st = process_files(s, job, err);
    release_threads(s);
    return st;
}
