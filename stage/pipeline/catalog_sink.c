/* catalog_sink.c — see catalog_sink.h. */
#include "pipeline/catalog_sink.h"

#include <stdlib.h>
#include <string.h>

static void buffers_free(sv_catalog_sink *c)
{
    sv_results *r = &c->r;
    free(c->raw);
    free(r->rb);
    free(r->real);
    free(r->flags);
    free(r->badfrac);
    free(r->xpix);
    free(r->ypix);
    free(r->id);
    for (int k = 0; k < 3; k++)
        free(r->stamp[k]);
    c->raw = NULL;
    memset(r, 0, sizeof *r);
}

static int sink_begin(void *ctx, int64_t N, int cap, const sv_provenance *prov, sv_error *err)
{
    sv_catalog_sink *c = ctx;
    const sv_det_schema *in = sv_det_file_schema(c->det);
    size_t n = (size_t)cap, rowbytes = in->rowbytes ? in->rowbytes : 1;
    size_t SS = (size_t)c->schema->stamp_size * c->schema->stamp_size;
    sv_results *r = &c->r;
    int ok = (c->raw = malloc(n * rowbytes)) && (r->rb = malloc(n * sizeof(float))) &&
             (r->real = malloc(n)) && (r->flags = malloc(n * sizeof(int32_t))) &&
             (r->badfrac = malloc(n * sizeof(float))) && (r->xpix = malloc(n * sizeof(double))) &&
             (r->ypix = malloc(n * sizeof(double))) && (r->id = malloc(n * sizeof(int64_t)));
    for (int k = 0; k < 3 && ok && c->schema->stamps != SV_SAVE_NONE; k++)
        ok = (r->stamp[k] = malloc(n * SS * sizeof(float))) != NULL;
    if (!ok)
        return sv_error_set(err, SV_ERR_NOMEM, "stampvet: out of memory for %d rows", cap);
    return sv_catalog_open(c->path, in, c->schema, N, prov, &c->cat, err);
}

static void sink_rows(void *ctx, int64_t row0, int n, sv_results *r)
{
    (void)row0, (void)n;
    const sv_results *own = &((sv_catalog_sink *)ctx)->r;
    r->rb = own->rb;
    r->real = own->real;
    r->flags = own->flags;
    r->badfrac = own->badfrac;
    r->xpix = own->xpix;
    r->ypix = own->ypix;
    r->id = own->id;
    for (int k = 0; k < 3; k++)
        r->stamp[k] = own->stamp[k];
}

static int sink_write(void *ctx, int64_t row0, const sv_results *r, sv_error *err)
{
    sv_catalog_sink *c = ctx;
    int st = sv_det_file_read_raw(c->det, row0, r->n, c->raw, err);
    return st ? st : sv_catalog_write(c->cat, row0, c->raw, r, err);
}

static int sink_finish(void *ctx, const sv_provenance *counts, sv_error *err)
{
    sv_catalog_sink *c = ctx;
    int st = sv_catalog_add_prov(c->cat, counts, err);
    if (st)
        sv_catalog_abort(c->cat);
    else
        st = sv_catalog_commit(c->cat, err);
    c->cat = NULL;
    buffers_free(c);
    return st;
}

static void sink_abort(void *ctx)
{
    sv_catalog_sink *c = ctx;
    sv_catalog_abort(c->cat);
    c->cat = NULL;
    buffers_free(c);
}

sv_result_sink sv_catalog_sink_make(sv_catalog_sink *c, const char *path, sv_det_file *det,
                                    const sv_out_schema *schema)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->det = det;
    c->schema = schema;
    sv_result_sink k = {c, sink_begin, sink_rows, sink_write, sink_finish, sink_abort};
    return k;
}
