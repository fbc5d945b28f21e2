/* result_table.c — see result_table.h. */
#include "pipeline/result_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/det_table.h"
#include "fits/stamps.h"

void sv_result_table_free(sv_result_table *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->ncols; i++)
        free(t->bufs ? t->bufs[i] : NULL);
    for (int i = 0; i < t->nnames; i++)
        free(t->names[i]);
    free(t->bufs);
    free(t->names);
    free(t->cols);
    free(t->meta);
    free(t->metatext);
    memset(t, 0, sizeof *t);
}

static char *store_str(sv_result_table *t, const char *text)
{
    if (!text)
        return NULL;
    char *p = strdup(text);
    if (p)
        t->names[t->nnames++] = p;
    return p;
}

/* a NUL-padded string cell of `width` bytes */
static void put_str(char *dst, int width, const char *text)
{
    memset(dst, 0, (size_t)width);
    memcpy(dst, text, strnlen(text, (size_t)width));
}

static int table_begin(void *ctx, int64_t N, int cap, const sv_provenance *prov, sv_error *err)
{
    (void)cap;
    sv_result_table *t = ctx;
    const dia_table *in = t->in;
    const sv_out_schema *o = t->schema;
    const dia_table *keep_in = in;
    sv_result_table_free(t);
    t->in = keep_in;
    t->schema = o;
    t->prov = *prov;
    int nown = sv_out_schema_ncols(o);
    int ncols = in->ncols + nown;
    t->cols = calloc((size_t)ncols, sizeof *t->cols);
    t->bufs = calloc((size_t)ncols, sizeof *t->bufs);
    t->names = calloc((size_t)ncols * 3 + 8, sizeof *t->names);
    if (!t->cols || !t->bufs || !t->names)
        goto nomem;
    t->ncols = ncols;
    size_t rows = N > 0 ? (size_t)N : 1;
    for (int i = 0; i < in->ncols; i++) { /* the input columns, copied */
        const dia_column *ic = &in->cols[i];
        dia_column *c = &t->cols[i];
        *c = *ic;
        size_t bytes = (size_t)N * (size_t)ic->repeat * sv_col_type_size(ic->type);
        if (!(t->bufs[i] = malloc(bytes ? bytes : 1)))
            goto nomem;
        if (bytes)
            memcpy(t->bufs[i], ic->data, bytes);
        c->data = t->bufs[i];
        c->name = store_str(t, ic->name);
        c->unit = store_str(t, ic->unit);
        c->description = store_str(t, ic->description);
        if (!c->name || (ic->unit && !c->unit) || (ic->description && !c->description))
            goto nomem;
    }
    for (int k = 0; k < nown; k++) { /* the stage's own, as the schema lists them */
        const sv_out_col *oc = sv_out_schema_col(o, k);
        int i = in->ncols + k;
        dia_column *c = &t->cols[i];
        c->name = oc->name;
        c->type = oc->type;
        c->repeat = oc->repeat;
        c->unit = oc->unit[0] ? oc->unit : NULL;
        c->description = oc->description;
        if (oc->kind == SV_OUT_STAMP) {
            c->ndim = 2;
            c->dims[0] = c->dims[1] = o->stamp_size;
        }
        if (!(t->bufs[i] = malloc(rows * sv_col_type_size(c->type) * (size_t)c->repeat)))
            goto nomem;
        c->data = t->own[k] = t->bufs[i];
        if (oc->kind == SV_OUT_VERSION)
            for (int64_t r = 0; r < N; r++)
                put_str((char *)t->bufs[i] + r * c->repeat, c->repeat, o->model_version);
    }
    return SV_OK;
nomem:
    sv_result_table_free(t);
    return sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory for %lld result rows",
                        (long long)N);
}

static void table_rows(void *ctx, int64_t row0, int n, sv_results *r)
{
    (void)n;
    sv_result_table *t = ctx;
    const sv_out_schema *o = t->schema;
    const size_t SS = (size_t)o->stamp_size * o->stamp_size;
    r->id = NULL;
    for (int c = 0; c < 3; c++)
        r->stamp[c] = NULL;
    for (int k = 0; k < sv_out_schema_ncols(o); k++) {
        void *b = t->own[k];
        const sv_out_col *oc = sv_out_schema_col(o, k);
        switch (oc->kind) {
        case SV_OUT_SCORE: r->rb = (float *)b + row0; break;
        case SV_OUT_REAL: r->real = (uint8_t *)b + row0; break;
        case SV_OUT_FLAGS: r->flags = (int32_t *)b + row0; break;
        case SV_OUT_BADFRAC: r->badfrac = (float *)b + row0; break;
        case SV_OUT_XPIX: r->xpix = (double *)b + row0; break;
        case SV_OUT_YPIX: r->ypix = (double *)b + row0; break;
        case SV_OUT_STAMP: r->stamp[oc->index] = (float *)b + (size_t)row0 * SS; break;
        default: break; /* filled at write */
        }
    }
}

static int table_write(void *ctx, int64_t row0, const sv_results *r, sv_error *err)
{
    (void)err;
    sv_result_table *t = ctx;
    const sv_out_schema *o = t->schema;
    const int n = r->n, K = o->n_classes, L = o->n_lc;
    for (int k = 0; k < sv_out_schema_ncols(o); k++) {
        const sv_out_col *oc = sv_out_schema_col(o, k);
        float *f = t->own[k];
        char *s = t->own[k];
        int32_t *j = t->own[k];
        switch (oc->kind) {
        case SV_OUT_PROB:
            for (int i = 0; i < n; i++)
                f[row0 + i] = r->prob[(size_t)i * K + oc->index];
            break;
        case SV_OUT_CLASS:
            for (int i = 0; i < n; i++)
                put_str(s + (size_t)(row0 + i) * oc->repeat, oc->repeat,
                        r->label[i] >= 0 ? o->class_name[r->label[i]] : "");
            break;
        case SV_OUT_LC_PROB:
            for (int i = 0; i < n; i++)
                f[row0 + i] = r->lc_prob[(size_t)i * L + oc->index];
            break;
        case SV_OUT_LC_CLASS:
            for (int i = 0; i < n; i++)
                put_str(s + (size_t)(row0 + i) * oc->repeat, oc->repeat,
                        r->lc_label[i] >= 0 ? o->lc_name[r->lc_label[i]] : "");
            break;
        case SV_OUT_LC_FLAGS: memcpy(j + row0, r->lc_flags, (size_t)n * sizeof *j); break;
        default: break; /* written in place (table_rows) */
        }
    }
    return SV_OK;
}

static void iso_date(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
}

static int table_finish(void *ctx, const sv_provenance *counts, sv_error *err)
{
    sv_result_table *t = ctx;
    sv_provenance *p = &t->prov;
    sv_prov_merge(p, counts);
    char date[32];
    iso_date(date, sizeof date);
    sv_prov_str(p, "DATE", date, "UTC of processing");
    for (int b = 0; b < SV_N_FLAGS; b++) {
        char k[9];
        snprintf(k, sizeof k, "FLAG%u", sv_flag_docs[b].bit);
        sv_prov_str(p, k, sv_flag_docs[b].name, sv_flag_docs[b].meaning);
    }
    t->meta = calloc((size_t)p->n + 1, sizeof *t->meta);
    t->metatext = calloc((size_t)p->n + 1, sizeof *t->metatext);
    if (!t->meta || !t->metatext) {
        sv_result_table_free(t);
        return sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory");
    }
    for (int i = 0; i < p->n; i++) {
        snprintf(t->metatext[i][0], SV_PROV_VALUE_MAX, "%s", p->card[i].key);
        snprintf(t->metatext[i][1], SV_PROV_VALUE_MAX, "%s", p->card[i].value);
        t->meta[i].key = t->metatext[i][0];
        t->meta[i].value = t->metatext[i][1];
    }
    t->nmeta = p->n;
    t->table.nrows = t->in->nrows;
    t->table.ncols = t->ncols;
    t->table.cols = t->cols;
    t->table.nmeta = t->nmeta;
    t->table.meta = t->meta;
    return SV_OK;
}

static void table_abort(void *ctx) { sv_result_table_free(ctx); }

sv_result_sink sv_result_table_sink(sv_result_table *t, const dia_table *in,
                                    const sv_out_schema *schema)
{
    t->in = in;
    t->schema = schema;
    sv_result_sink k = {t, table_begin, table_rows, table_write, table_finish, table_abort};
    return k;
}
