/* result_sink.h — where the stage's results go.
 *
 * The stage has one pipeline (stage.c, stage_run): it plans the detection
 * columns, cuts and scores the detections chunk by chunk, classifies their
 * light curves and counts what it did.  Its two entry points differ only
 * in where the exposure comes from and where the results go:
 *   sv_stage_process        images and detections in memory; results into
 *                           the in-memory result table (result_table.h)
 *   sv_stage_process_files  images and detections read from files; results
 *                           into the FITS catalog (catalog.h,
 *                           sv_catalog_sink)
 * Both sinks are built from the one output schema (catalog.h
 * sv_out_schema), so the two outputs have the same columns.
 *
 * The pipeline calls a sink's functions in this order:
 *   begin(ctx, nrows, cap, prov)  once.  nrows detections will come in
 *                                 chunks of at most cap rows; prov is the
 *                                 provenance known before scoring (models,
 *                                 configuration, inputs).  Returns 0 or a
 *                                 status with err set.
 *   rows(ctx, row0, n, r)         per chunk: point r's per-row arrays rb,
 *                                 real, flags, badfrac, xpix, ypix at n rows
 *                                 of the sink's storage, id too (or NULL:
 *                                 the sink needs no identifiers) and
 *                                 stamp[0..2] (NULL: stamps not kept).
 *                                 prob, label and lc_* are the pipeline's
 *                                 and are left alone.
 *   write(ctx, row0, r)           per chunk, once its rows are scored: keep
 *                                 rows row0 .. row0 + r->n - 1.  Returns 0
 *                                 or a status with err set.
 *   finish(ctx, counts)           once, after the last chunk: the counts'
 *                                 provenance (NDET, NSCORED ...); the
 *                                 output is complete.  Returns 0 or a
 *                                 status with err set.
 *   abort(ctx)                    instead of finish, after any failure.
 * Once begin has been called, exactly one of finish and abort follows;
 * each releases what begin took (a failing finish leaves nothing behind
 * either).  What a successful finish leaves (the result table, the file)
 * belongs to the sink's owner.
 *
 * Thread safety: a sink is driven by one thread at a time.
 */
#ifndef SV_RESULT_SINK_H
#define SV_RESULT_SINK_H

#include <stdint.h>

#include "pipeline/catalog.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_result_sink {
    void *ctx;
    int (*begin)(void *ctx, int64_t nrows, int cap, const sv_provenance *prov, sv_error *err);
    void (*rows)(void *ctx, int64_t row0, int n, sv_results *r);
    int (*write)(void *ctx, int64_t row0, const sv_results *r, sv_error *err);
    int (*finish)(void *ctx, const sv_provenance *counts, sv_error *err);
    void (*abort)(void *ctx);
} sv_result_sink;

#ifdef __cplusplus
}
#endif
#endif
