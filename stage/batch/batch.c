/* batch.c — see batch.h. */
#include "batch/batch.h"
#include "fits/fits_guard.h"
#include "core/params_hash.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "batch/batch_summary.h"
#include "data/det_table.h"
#include "core/sha256.h"

#define DEFAULT_HASH_CARD "SVCFGHSH"
#define CACHE_SLOTS 4

/* One distinct merged configuration. */
typedef struct batch_cfg {
    dia_kv *kv;             /* merged key=value (strings borrowed)          */
    size_t n;
    char hash[SV_SHA256_HEX];
    char **models;          /* primary CHECKSUM of each model file          */
    size_t n_models;
} batch_cfg;

typedef struct cache_slot {
    size_t cfg;
    dia_instance *inst;
    unsigned long used;
} cache_slot;

typedef struct batch_worker {
    struct sv_batch *b;
    int id;
    pthread_t thread;
    cache_slot slot[CACHE_SLOTS];
    unsigned long clock;
    const sv_manifest_entry *current;  /* for log messages                   */
    sv_batch_fetch_fn fetch;
    void *fetch_user;
} batch_worker;

struct sv_batch {
    const sv_manifest *m;
    sv_batch_options opt;
    const char *hash_card;
    dia_host_stage *stage;
    const dia_stage_descriptor *desc;
    batch_cfg *cfg;
    size_t n_cfg;
    size_t *entry_cfg;          /* manifest entry -> configuration            */
    batch_worker *workers;      /* options.workers of them                    */
    unsigned char *selected;
    size_t *order;              /* selected indices, manifest order           */
    size_t n_order, next_pos;
    sv_batch_result *res;
    sv_batch_tally tally;
    struct timespec t0;
    pthread_mutex_t lock;       /* pool state, results, progress              */
    pthread_mutex_t log_lock;   /* the log callback                           */
    size_t base_cfg;
    int warned_no_hash;
};

static const char *const no_error = "";

/* ---- small helpers ------------------------------------------------------ */

const char *sv_batch_status_name(sv_batch_status s)
{
    switch (s) {
    case SV_BATCH_PENDING: return "pending";
    case SV_BATCH_OK: return "ok";
    case SV_BATCH_FAILED: return "failed";
    case SV_BATCH_SKIPPED: return "skipped";
    case SV_BATCH_CANCELLED: return "cancelled";
    }
    return "unknown";
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void batch_log(sv_batch *b, dia_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void batch_log(sv_batch *b, dia_log_level level, const char *fmt, ...)
{
    if (!b->opt.log)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&b->log_lock);
    b->opt.log(b->opt.log_user, level, msg);
    pthread_mutex_unlock(&b->log_lock);
}

/* The stage's log callback: prefix the exposure being processed. */
static void worker_stage_log(void *user, dia_log_level level, const char *message)
{
    batch_worker *w = user;
    if (w->current)
        batch_log(w->b, level, "%s: %s", w->current->id, message);
    else
        batch_log(w->b, level, "%s", message);
}

int sv_batch_cancelled(const sv_batch *b)
{
    return b->opt.cancel ? __atomic_load_n(b->opt.cancel, __ATOMIC_RELAXED) != 0 : 0;
}

/* ---- output verification ------------------------------------------------ */

/* A card value without quotes and trailing blanks. */
static void card_value_text(const char *value, char *out, size_t len)
{
    const char *v = value;
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '\'') {
        v++;
        n -= 2;
        while (n > 0 && v[n - 1] == ' ')
            n--;
    } else {
        while (n > 0 && v[n - 1] == ' ')
            n--;
    }
    if (n >= len)
        n = len - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

int sv_batch_output_complete(const char *path, const char *hash_card,
                             const char *expected_hash, const char *const *models,
                             size_t n_models, int64_t *rows, char *why, size_t whylen)
{
    if (rows)
        *rows = -1;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, whylen, "no output yet");
        return 0;
    }
    fitsfile *f = NULL;
    int status = 0, nhdu = 0, hdutype = 0;
    char msg[FLEN_ERRMSG];
    sv_error gerr = {0};
    if (sv_fits_guard_file(path, &gerr)) {
        snprintf(why, whylen, "output is damaged: %s", gerr.text);
        return 0;
    }
    if (fits_open_diskfile(&f, path, READONLY, &status)) {
        fits_get_errstatus(status, msg);
        snprintf(why, whylen, "output does not open as FITS: %s", msg);
        return 0;
    }
    int ok = 1, hash_found = 0;
    unsigned char model_found[64] = {0};
    if (n_models > 64)
        n_models = 64;
    int64_t nrows = -1;
    fits_get_num_hdus(f, &nhdu, &status);
    for (int h = 1; h <= nhdu && ok && !status; h++) {
        if (fits_movabs_hdu(f, h, &hdutype, &status))
            break;
        int dataok = 0, hduok = 0;
        if (fits_verify_chksum(f, &dataok, &hduok, &status))
            break;
        if (dataok != 1 || hduok != 1) {
            snprintf(why, whylen, "HDU %d: %s", h,
                     dataok == 0 || hduok == 0 ? "no CHECKSUM/DATASUM (incomplete output)"
                                               : "checksum does not verify (damaged output)");
            ok = 0;
            break;
        }
        if (hdutype == BINARY_TBL && nrows < 0) {
            LONGLONG n = 0;
            if (fits_get_num_rowsll(f, &n, &status))
                break;
            nrows = n;
        }
        int nkeys = 0;
        fits_get_hdrspace(f, &nkeys, NULL, &status);
        for (int k = 1; k <= nkeys && !status; k++) {
            char name[FLEN_KEYWORD], value[FLEN_VALUE], text[FLEN_VALUE];
            if (fits_read_keyn(f, k, name, value, NULL, &status))
                break;
            if (!value[0])
                continue;
            card_value_text(value, text, sizeof text);
            if (hash_card && strcmp(name, hash_card) == 0) {
                if (hash_found == 0)
                    hash_found = strcmp(text, expected_hash ? expected_hash : "") == 0 ? 1
                                                                                        : -1;
            }
            for (size_t i = 0; i < n_models; i++)
                if (!model_found[i] && strcmp(text, models[i]) == 0)
                    model_found[i] = 1;
        }
    }
    if (status && ok) {
        fits_get_errstatus(status, msg);
        snprintf(why, whylen, "output unreadable: %s", msg);
        ok = 0;
    }
    status = 0;
    fits_close_file(f, &status);
    if (!ok)
        return 0;
    if (nrows < 0) {
        snprintf(why, whylen, "output has no table");
        return 0;
    }
    if (rows)
        *rows = nrows;
    if (hash_card && hash_found != 1) {
        snprintf(why, whylen,
                 hash_found == 0 ? "output has no %s card (provenance unknown)"
                                 : "output was made with another configuration (%s differs)",
                 hash_card);
        return -1;
    }
    for (size_t i = 0; i < n_models; i++)
        if (!model_found[i]) {
            snprintf(why, whylen, "output was made with another model (CHECKSUM %s not "
                                  "recorded)",
                     models[i]);
            return -1;
        }
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int sv_batch_output_scores(const char *path, int64_t *n_real, int64_t *n_flagged,
                           double *median)
{
    *n_real = *n_flagged = -1;
    *median = NAN;
    fitsfile *f = NULL;
    int status = 0, nhdu = 0, hdutype = 0, rc = -1;
    double *score = NULL;
    char *real = NULL;
    int *flags = NULL;
    if (sv_fits_guard_file(path, NULL) || fits_open_diskfile(&f, path, READONLY, &status))
        return -1;
    char rbcol[FLEN_VALUE] = "", flagcol[FLEN_VALUE] = "FLAGS", value[FLEN_VALUE];
    fits_get_num_hdus(f, &nhdu, &status);
    int found = 0;
    for (int h = 2; h <= nhdu && !status && !found; h++) {
        if (fits_movabs_hdu(f, h, &hdutype, &status) || hdutype != BINARY_TBL)
            continue;
        if (fits_read_key(f, TSTRING, "RBCOL", value, NULL, &status) == 0) {
            card_value_text(value, rbcol, sizeof rbcol);
            found = rbcol[0] != '\0';
        } else
            status = 0;
    }
    int c_score = 0, c_real = 0, c_flags = 0;
    LONGLONG nrows = 0;
    if (!found || status)
        goto done;
    if (fits_read_key(f, TSTRING, "FLAGCOL", value, NULL, &status) == 0)
        card_value_text(value, flagcol, sizeof flagcol);
    status = 0;
    if (fits_get_colnum(f, CASESEN, rbcol, &c_score, &status) ||
        fits_get_colnum(f, CASESEN, "REAL", &c_real, &status) ||
        fits_get_colnum(f, CASESEN, flagcol, &c_flags, &status) ||
        fits_get_num_rowsll(f, &nrows, &status))
        goto done;
    const LONGLONG chunk = 65536;
    score = malloc((size_t)(nrows > 0 ? nrows : 1) * sizeof *score);
    real = malloc((size_t)chunk);
    flags = malloc((size_t)chunk * sizeof *flags);
    if (!score || !real || !flags)
        goto done;
    int64_t nr = 0, nf = 0, nfinite = 0;
    for (LONGLONG r0 = 0; r0 < nrows && !status; r0 += chunk) {
        LONGLONG n = nrows - r0 < chunk ? nrows - r0 : chunk;
        int anynul = 0;
        double dnull = NAN;
        char lnull = 0;
        int inull = 0;
        fits_read_col(f, TDOUBLE, c_score, r0 + 1, 1, n, &dnull, score + nfinite, &anynul,
                      &status);
        fits_read_col(f, TLOGICAL, c_real, r0 + 1, 1, n, &lnull, real, &anynul, &status);
        fits_read_col(f, TINT, c_flags, r0 + 1, 1, n, &inull, flags, &anynul, &status);
        if (status)
            break;
        for (LONGLONG i = 0; i < n; i++) {
            nr += real[i] == 1;
            nf += flags[i] != 0;
        }
        int64_t k = nfinite; /* keep the finite scores, in place */
        for (LONGLONG i = 0; i < n; i++)
            if (isfinite(score[nfinite + i]))
                score[k++] = score[nfinite + i];
        nfinite = k;
    }
    if (status)
        goto done;
    *n_real = nr;
    *n_flagged = nf;
    if (nfinite > 0) {
        qsort(score, (size_t)nfinite, sizeof *score, cmp_double);
        *median = nfinite % 2 ? score[nfinite / 2]
                              : 0.5 * (score[nfinite / 2 - 1] + score[nfinite / 2]);
    }
    rc = 0;
done:
    free(score);
    free(real);
    free(flags);
    status = 0;
    fits_close_file(f, &status);
    return rc;
}

/* Rows of a detection table as the stage reads it (detections.h: FITS
 * BINTABLE or FITS_LDAC, CSV, ECSV; cfitsio name syntax allowed), or -1. */
static int64_t detection_rows(const char *path)
{
    sv_det_file *f = NULL;
    if (sv_det_file_open(path, &f, NULL))
        return -1;
    int64_t n = sv_det_file_nrows(f);
    sv_det_file_close(f);
    return n;
}

/* The primary CHECKSUM of a FITS file, or 0 when it has none. */
static int primary_checksum(const char *path, char out[FLEN_VALUE])
{
    fitsfile *f = NULL;
    int status = 0;
    if (sv_fits_guard_file(path, NULL) || fits_open_diskfile(&f, path, READONLY, &status))
        return 0;
    char value[FLEN_VALUE];
    int got = fits_read_key(f, TSTRING, "CHECKSUM", value, NULL, &status) == 0;
    status = 0;
    fits_close_file(f, &status);
    if (!got)
        return 0;
    card_value_text(value, out, FLEN_VALUE);
    return out[0] != '\0';
}

/* ---- opening -------------------------------------------------------------- */

static int kv_find(const dia_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return (int)i;
    return -1;
}

static int stage_has_param(const dia_stage_descriptor *d, const char *key)
{
    for (int i = 0; i < d->n_params; i++)
        if (strcmp(d->params[i].key, key) == 0)
            return 1;
    return 0;
}

/* Merge base + overrides (later wins), add threads=1 and the host's
 * host_command when the stage has the key and nobody set it.  *out is
 * malloc'ed (strings borrowed). */
static int merge_config(const sv_batch *b, const sv_manifest_entry *e, dia_kv **out,
                        size_t *nout)
{
    size_t cap = b->opt.n_config + (e ? e->n_overrides : 0) + 2;
    dia_kv *kv = malloc(cap * sizeof *kv);
    if (!kv)
        return SV_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < b->opt.n_config; i++) {
        int j = kv_find(kv, n, b->opt.config[i].key);
        if (j >= 0)
            kv[j].value = b->opt.config[i].value;
        else
            kv[n++] = b->opt.config[i];
    }
    for (size_t i = 0; e && i < e->n_overrides; i++) {
        int j = kv_find(kv, n, e->overrides[i].key);
        if (j >= 0)
            kv[j].value = e->overrides[i].value;
        else
            kv[n++] = e->overrides[i];
    }
    if (stage_has_param(b->desc, "threads") && kv_find(kv, n, "threads") < 0) {
        kv[n].key = "threads";
        kv[n].value = "1";
        n++;
    }
    if (b->opt.host_command && stage_has_param(b->desc, "host_command") &&
        kv_find(kv, n, "host_command") < 0) {
        kv[n].key = "host_command";
        kv[n].value = b->opt.host_command;
        n++;
    }
    *out = kv;
    *nout = n;
    return SV_OK;
}

/* Same effective configuration, threads included. */
static int same_config(const sv_batch *b, const dia_kv *a, size_t na, const dia_kv *c,
                       size_t nc)
{
    const dia_stage_descriptor *d = b->desc;
    for (int i = 0; i < d->n_params; i++) {
        const char *x = dia_params_lookup(d->params, d->n_params, a, na, d->params[i].key);
        const char *y = dia_params_lookup(d->params, d->n_params, c, nc, d->params[i].key);
        if (strcmp(x ? x : "", y ? y : "") != 0)
            return 0;
    }
    return 1;
}

/* Model checksums of a configuration: every PATH parameter naming a FITS
 * file with a primary CHECKSUM. */
static int config_models(const sv_batch *b, batch_cfg *c)
{
    const dia_stage_descriptor *d = b->desc;
    for (int i = 0; i < d->n_params; i++) {
        if (d->params[i].type != DIA_PARAM_PATH)
            continue;
        const char *v = dia_params_lookup(d->params, d->n_params, c->kv, c->n, d->params[i].key);
        char sum[FLEN_VALUE];
        if (!v || !*v || !primary_checksum(v, sum))
            continue;
        char **nm = realloc(c->models, (c->n_models + 1) * sizeof *nm);
        if (!nm)
            return SV_ERR_NOMEM;
        c->models = nm;
        if (!(c->models[c->n_models] = strdup(sum)))
            return SV_ERR_NOMEM;
        c->n_models++;
    }
    return SV_OK;
}

/* Find or add the configuration of an entry (NULL: the base). */
static int add_config(sv_batch *b, const sv_manifest_entry *e, size_t *index, sv_error *err)
{
    dia_kv *kv;
    size_t n;
    if (merge_config(b, e, &kv, &n))
        return sv_error_set(err, SV_ERR_NOMEM, "batch: out of memory");
    char why[1024];
    if (dia_params_check(b->desc->params, b->desc->n_params, kv, n, why, sizeof why) !=
        DIA_OK) {
        free(kv);
        if (e)
            return sv_error_set(err, SV_ERR_ARG, "%s:%d: %s", b->m->path, e->line, why);
        return sv_error_set(err, SV_ERR_ARG, "configuration: %s", why);
    }
    for (size_t i = 0; i < b->n_cfg; i++)
        if (same_config(b, b->cfg[i].kv, b->cfg[i].n, kv, n)) {
            free(kv);
            *index = i;
            return SV_OK;
        }
    batch_cfg *nc = realloc(b->cfg, (b->n_cfg + 1) * sizeof *nc);
    if (!nc) {
        free(kv);
        return sv_error_set(err, SV_ERR_NOMEM, "batch: out of memory");
    }
    b->cfg = nc;
    batch_cfg *c = &b->cfg[b->n_cfg];
    memset(c, 0, sizeof *c);
    c->kv = kv;
    c->n = n;
    sv_params_hash(b->desc->params, b->desc->n_params, kv, n, c->hash);
    b->n_cfg++;
    if (config_models(b, c))
        return sv_error_set(err, SV_ERR_NOMEM, "batch: out of memory");
    *index = b->n_cfg - 1;
    return SV_OK;
}

static dia_status create_instance(sv_batch *b, batch_worker *w, size_t cfg,
                                  dia_instance **out, char *why, size_t whylen)
{
    dia_host_services services = {
        .struct_size = sizeof services,
        .user = w,
        .log = b->opt.log ? worker_stage_log : NULL,
        .cancel = b->opt.cancel,
    };
    return b->desc->create(b->cfg[cfg].kv, b->cfg[cfg].n, &services, out, why, whylen);
}

int sv_batch_open(const sv_manifest *m, const sv_batch_options *opt, sv_batch **out,
                  sv_error *err)
{
    *out = NULL;
    if (!m || !opt || !opt->stage || opt->workers < 1)
        return sv_error_set(err, SV_ERR_ARG, "batch: a manifest, a stage and >= 1 worker "
                                             "are needed");
    sv_batch *b = calloc(1, sizeof *b);
    if (!b)
        return sv_error_set(err, SV_ERR_NOMEM, "batch: out of memory");
    b->m = m;
    b->opt = *opt;
    b->hash_card = opt->hash_card ? opt->hash_card : DEFAULT_HASH_CARD;
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_init(&b->log_lock, NULL);
    int rc = SV_OK;
    char why[1024] = "";
    b->entry_cfg = calloc(m->n ? m->n : 1, sizeof *b->entry_cfg);
    b->selected = calloc(m->n ? m->n : 1, 1);
    b->order = calloc(m->n ? m->n : 1, sizeof *b->order);
    b->res = calloc(m->n ? m->n : 1, sizeof *b->res);
    if (!b->entry_cfg || !b->selected || !b->order || !b->res) {
        rc = sv_error_set(err, SV_ERR_NOMEM, "batch: out of memory");
        goto fail;
    }
    if (dia_host_open(opt->stage, &b->stage, why, sizeof why) != DIA_OK) {
        rc = sv_error_set(err, SV_ERR_IO, "%s", why);
        goto fail;
    }
    b->desc = dia_host_descriptor(b->stage);
    if ((rc = add_config(b, NULL, &b->base_cfg, err)))
        goto fail;
    for (size_t i = 0; i < m->n; i++) {
        if ((rc = add_config(b, &m->entries[i], &b->entry_cfg[i], err)))
            goto fail;
        b->selected[i] = 1;
        b->order[i] = i;
        b->res[i].detections = -1;
        b->res[i].n_real = b->res[i].n_flagged = -1;
        b->res[i].median_score = NAN;
        b->res[i].error = no_error;
    }
    b->n_order = m->n;
    b->workers = calloc((size_t)opt->workers, sizeof *b->workers);
    if (!b->workers) {
        rc = sv_error_set(err, SV_ERR_NOMEM, "batch: out of memory");
        goto fail;
    }
    for (int i = 0; i < opt->workers; i++) {
        b->workers[i].b = b;
        b->workers[i].id = i;
    }
    /* worker 0's instance with the base configuration, now: a configuration
     * the stage refuses (a model that does not load) stops the run here */
    dia_instance *inst = NULL;
    if (create_instance(b, &b->workers[0], b->base_cfg, &inst, why, sizeof why) != DIA_OK) {
        rc = sv_error_set(err, SV_ERR_ARG, "%s", why);
        goto fail;
    }
    b->workers[0].slot[0].inst = inst;
    b->workers[0].slot[0].cfg = b->base_cfg;
    *out = b;
    return SV_OK;
fail:
    sv_batch_close(b);
    return rc;
}

int sv_batch_select_shard(sv_batch *b, int index, int count, sv_error *err)
{
    if (count <= 1) {
        if (count == 1 && index != 1)
            return sv_error_set(err, SV_ERR_ARG, "shard %d/%d: the index must be 1..%d",
                                index, count, count);
        count = 1;
        index = 1;
    }
    if (index < 1 || index > count)
        return sv_error_set(err, SV_ERR_ARG, "shard %d/%d: the index must be 1..%d", index,
                            count, count);
    b->n_order = 0;
    for (size_t i = 0; i < b->m->n; i++) {
        b->selected[i] = (int)(i % (size_t)count) == index - 1;
        if (b->selected[i])
            b->order[b->n_order++] = i;
    }
    return SV_OK;
}

void sv_batch_close(sv_batch *b)
{
    if (!b)
        return;
    for (int i = 0; b->workers && i < b->opt.workers; i++)
        for (int k = 0; k < CACHE_SLOTS; k++)
            if (b->workers[i].slot[k].inst)
                b->desc->destroy(b->workers[i].slot[k].inst);
    free(b->workers);
    for (size_t i = 0; i < b->n_cfg; i++) {
        free(b->cfg[i].kv);
        for (size_t k = 0; k < b->cfg[i].n_models; k++)
            free(b->cfg[i].models[k]);
        free(b->cfg[i].models);
    }
    free(b->cfg);
    for (size_t i = 0; b->res && i < b->m->n; i++)
        if (b->res[i].error != no_error)
            free((char *)b->res[i].error);
    free(b->entry_cfg);
    free(b->selected);
    free(b->order);
    free(b->res);
    dia_host_close(b->stage);
    pthread_mutex_destroy(&b->lock);
    pthread_mutex_destroy(&b->log_lock);
    free(b);
}

size_t sv_batch_count(const sv_batch *b) { return b->m->n; }
int sv_batch_selected(const sv_batch *b, size_t i) { return i < b->m->n && b->selected[i]; }
const sv_batch_result *sv_batch_get(const sv_batch *b, size_t i) { return &b->res[i]; }
const sv_manifest_entry *sv_batch_entry(const sv_batch *b, size_t i)
{
    return &b->m->entries[i];
}
sv_batch_tally sv_batch_get_tally(const sv_batch *b) { return b->tally; }
void sv_batch_lock(sv_batch *b) { pthread_mutex_lock(&b->lock); }
void sv_batch_unlock(sv_batch *b) { pthread_mutex_unlock(&b->lock); }

/* ---- one exposure ------------------------------------------------------- */

static dia_instance *worker_instance(batch_worker *w, size_t cfg, char *why, size_t whylen)
{
    sv_batch *b = w->b;
    w->clock++;
    cache_slot *victim = &w->slot[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        cache_slot *s = &w->slot[i];
        if (s->inst && s->cfg == cfg) {
            s->used = w->clock;
            return s->inst;
        }
        if (!s->inst || (victim->inst && s->used < victim->used))
            victim = s;
    }
    if (victim->inst) {
        b->desc->destroy(victim->inst);
        victim->inst = NULL;
    }
    dia_instance *inst = NULL;
    if (create_instance(b, w, cfg, &inst, why, whylen) != DIA_OK)
        return NULL;
    victim->inst = inst;
    victim->cfg = cfg;
    victim->used = w->clock;
    return inst;
}

/* Create the folders above `path` that do not exist (mkdir -p).  Returns 0,
 * or -1 with `why` naming the folder that could not be made. */
static int make_parent_dirs(const char *path, char *why, size_t whylen)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) {
        snprintf(why, whylen, "%s: path too long", path);
        return -1;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    struct stat st;
    if (stat(dir, &st) == 0)
        return 0; /* exists (a file there makes the stage fail, naming it) */
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                snprintf(why, whylen, "cannot create the output folder %.400s: %s", dir,
                         strerror(errno));
                return -1;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

static void set_error(sv_batch_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(sv_batch_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    for (char *p = r->error; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

static void process_one(batch_worker *w, size_t idx, sv_batch_report *r)
{
    sv_batch *b = w->b;
    const sv_manifest_entry *e = &b->m->entries[idx];
    const batch_cfg *c = &b->cfg[b->entry_cfg[idx]];
    const char *const *models = (const char *const *)c->models;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(r, 0, sizeof *r);
    r->index = idx;
    r->detections = -1;
    r->n_real = r->n_flagged = -1;
    r->median_score = NAN;
    w->current = e;
    char why[512];
    int64_t rows = -1;
    if (sv_batch_cancelled(b)) {
        r->status = SV_BATCH_CANCELLED;
        set_error(r, "not started: the run was stopped");
        goto done;
    }
    if (!b->opt.force) {
        int have = sv_batch_output_complete(e->output, b->hash_card, c->hash, models,
                                            c->n_models, &rows, why, sizeof why);
        if (have == 1) {
            r->status = SV_BATCH_SKIPPED;
            r->detections = rows;
            sv_batch_output_scores(e->output, &r->n_real, &r->n_flagged, &r->median_score);
            goto done;
        }
        if (strcmp(why, "no output yet") != 0)
            batch_log(b, DIA_LOG_INFO, "%s: redoing %s: %s", e->id, e->output, why);
    }
    if (make_parent_dirs(e->output, why, sizeof why)) {
        r->status = SV_BATCH_FAILED;
        set_error(r, "%s", why);
        goto done;
    }
    dia_instance *inst = worker_instance(w, b->entry_cfg[idx], why, sizeof why);
    if (!inst) {
        r->status = SV_BATCH_FAILED;
        set_error(r, "%s", why);
        goto done;
    }
    dia_file_job job = {
        .struct_size = sizeof job,
        .science = e->science,
        .reference = e->reference,
        .difference = e->difference,
        .detections = e->detections,
        .mask = e->mask,
        .output = e->output,
        .exposure_id = e->id,
        .overwrite = 1, /* the resume rules above decided to (re)do it */
    };
    dia_status st = b->desc->process_files(inst, &job);
    if (st == DIA_ERR_CANCELLED) {
        r->status = SV_BATCH_CANCELLED;
        set_error(r, "cancelled: %s", b->desc->last_error(inst));
        goto done;
    }
    if (st != DIA_OK) {
        r->status = SV_BATCH_FAILED;
        set_error(r, "%s: %s", dia_status_name(st), b->desc->last_error(inst));
        goto done;
    }
    /* the stage says it wrote the output: check that it is complete and
     * holds one row per input detection */
    int have = sv_batch_output_complete(e->output, b->hash_card, c->hash, models,
                                        c->n_models, &rows, why, sizeof why);
    if (have == 0) {
        r->status = SV_BATCH_FAILED;
        set_error(r, "%s: the stage reported success but %s", e->output, why);
        goto done;
    }
    int64_t want = detection_rows(e->detections);
    if (want >= 0 && rows != want) {
        r->status = SV_BATCH_FAILED;
        set_error(r, "%s: %lld rows written for %lld detections", e->output,
                  (long long)rows, (long long)want);
        goto done;
    }
    if (have < 0) {
        pthread_mutex_lock(&b->log_lock);
        int warn = !b->warned_no_hash;
        b->warned_no_hash = 1;
        pthread_mutex_unlock(&b->log_lock);
        if (warn)
            batch_log(b, DIA_LOG_WARNING,
                      "%s: %s: outputs of stage '%s' are not recognised as complete on a "
                      "rerun and will be redone",
                      e->id, why, b->desc->name);
    }
    r->status = SV_BATCH_OK;
    r->detections = rows;
    sv_batch_output_scores(e->output, &r->n_real, &r->n_flagged, &r->median_score);
done:
    w->current = NULL;
    r->seconds = since(&t0);
}

/* ---- the pool ------------------------------------------------------------ */

void sv_batch_record_locked(sv_batch *b, const sv_batch_report *rep)
{
    if (rep->index >= b->m->n || !b->selected[rep->index])
        return;
    sv_batch_result *r = &b->res[rep->index];
    if (r->status != SV_BATCH_PENDING)
        return; /* reported twice: keep the first */
    r->status = (sv_batch_status)rep->status;
    r->detections = rep->detections;
    r->n_real = rep->n_real;
    r->n_flagged = rep->n_flagged;
    r->median_score = rep->median_score;
    r->seconds = rep->seconds;
    r->rank = rep->rank;
    char text[SV_BATCH_ERROR_MAX];
    memcpy(text, rep->error, sizeof text);
    text[sizeof text - 1] = '\0';
    if (text[0]) {
        char *copy = strdup(text);
        r->error = copy ? copy : no_error;
    }
    sv_batch_tally *t = &b->tally;
    t->done++;
    switch (r->status) {
    case SV_BATCH_OK:
        t->ok++;
        t->processed++;
        t->detections += r->detections > 0 ? r->detections : 0;
        break;
    case SV_BATCH_FAILED:
        t->failed++;
        t->processed++;
        break;
    case SV_BATCH_SKIPPED: t->skipped++; break;
    case SV_BATCH_CANCELLED: t->cancelled++; break;
    default: break;
    }
    t->elapsed = since(&b->t0);
    if (b->opt.progress)
        b->opt.progress(b->opt.progress_user, &b->m->entries[rep->index], r, t);
}

int sv_batch_take_locked(sv_batch *b, size_t *next)
{
    if (sv_batch_cancelled(b) || b->next_pos >= b->n_order)
        return 0;
    *next = b->order[b->next_pos++];
    return 1;
}

void sv_batch_mark_pending_cancelled(sv_batch *b)
{
    for (size_t k = 0; k < b->n_order; k++) {
        size_t i = b->order[k];
        if (b->res[i].status == SV_BATCH_PENDING) {
            sv_batch_report rep;
            memset(&rep, 0, sizeof rep);
            rep.index = i;
            rep.status = SV_BATCH_CANCELLED;
            rep.detections = -1;
            rep.n_real = rep.n_flagged = -1;
            rep.median_score = NAN;
            snprintf(rep.error, sizeof rep.error, "not started: the run was stopped");
            sv_batch_record_locked(b, &rep);
        }
    }
}

static int local_fetch(void *user, sv_batch *b, const sv_batch_report *finished,
                       size_t *next)
{
    (void)user;
    if (finished)
        sv_batch_record_locked(b, finished);
    return sv_batch_take_locked(b, next);
}

static void *worker_main(void *arg)
{
    batch_worker *w = arg;
    sv_batch *b = w->b;
    sv_batch_report rep;
    int have = 0;
    for (;;) {
        size_t idx;
        pthread_mutex_lock(&b->lock);
        int got = w->fetch(w->fetch_user, b, have ? &rep : NULL, &idx);
        pthread_mutex_unlock(&b->lock);
        if (!got)
            break;
        process_one(w, idx, &rep);
        have = 1;
    }
    return NULL;
}

/* ---- stale temporary files ------------------------------------------------- */

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void log_removed(void *user, const char *path)
{
    batch_log(user, DIA_LOG_INFO, "removed the stale temporary file %s", path);
}

/* Remove the temporary files that killed writers left in the output
 * folders (atomic_file.h: same host, dead pid), once per folder. */
static void clean_output_dirs(sv_batch *b)
{
    size_t n = b->m->n;
    char **dirs = calloc(n ? n : 1, sizeof *dirs);
    if (!dirs)
        return;
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        const char *o = b->m->entries[i].output, *slash = strrchr(o, '/');
        if ((dirs[nd] = slash ? strndup(o, (size_t)(slash - o + (slash == o))) : strdup(".")))
            nd++;
    }
    qsort(dirs, nd, sizeof *dirs, str_cmp);
    for (size_t k = 0; k < nd; k++) {
        if (k == 0 || strcmp(dirs[k], dirs[k - 1])) {
            sv_error e;
            sv_error_clear(&e);
            sv_atomic_clean(dirs[k], 0, 0, log_removed, b, &e); /* a missing folder: none */
        }
    }
    for (size_t k = 0; k < nd; k++)
        free(dirs[k]);
    free(dirs);
}

int sv_batch_run_pool(sv_batch *b, sv_batch_fetch_fn fetch, void *fetch_user,
                      void (*on_start)(void *user, sv_batch *b), void *start_user,
                      sv_error *err)
{
    int n = b->opt.workers;
    batch_worker *w = b->workers;
    memset(&b->tally, 0, sizeof b->tally);
    b->tally.total = b->n_order;
    b->next_pos = 0;
    clean_output_dirs(b);
    clock_gettime(CLOCK_MONOTONIC, &b->t0);
    for (int i = 0; i < n; i++) {
        w[i].fetch = fetch;
        w[i].fetch_user = fetch_user;
    }
    /* cfitsio creates its global lock lazily, in the first fits_open_file,
     * unguarded: two workers opening their first files at once race on it
     * (ThreadSanitizer sees it).  Initialise it here, before any worker. */
    fits_init_cfitsio();
    int started = 0, rc = SV_OK;
    for (; started < n; started++) {
        int e = pthread_create(&w[started].thread, NULL, worker_main, &w[started]);
        if (e) {
            rc = sv_error_set(err, SV_ERR_INTERNAL, "batch: cannot start worker %d: %s",
                              started + 1, strerror(e));
            break;
        }
    }
    if (started > 0 && on_start)
        on_start(start_user, b);
    for (int i = 0; i < started; i++)
        pthread_join(w[i].thread, NULL);
    return rc;
}

int sv_batch_run(sv_batch *b, sv_error *err)
{
    int rc = sv_batch_run_pool(b, local_fetch, NULL, NULL, NULL, err);
    pthread_mutex_lock(&b->lock);
    sv_batch_mark_pending_cancelled(b);
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* ---- summary --------------------------------------------------------------- */

int sv_batch_write_summary(const sv_batch *b, const char *path, sv_error *err)
{
    sv_summary s = {0};
    int rc = SV_OK;
    for (size_t k = 0; k < b->n_order && !rc; k++) {
        size_t i = b->order[k];
        const sv_batch_result *r = &b->res[i];
        rc = sv_summary_add(&s, b->m->entries[i].id, sv_batch_status_name(r->status),
                            r->detections, r->seconds, r->error, b->m->entries[i].output,
                            r->rank, err);
        if (!rc)
            sv_summary_set_scores(&s, r->n_real, r->n_flagged, r->median_score);
    }
    if (!rc)
        rc = sv_summary_write(&s, path, err);
    sv_summary_clear(&s);
    return rc;
}
