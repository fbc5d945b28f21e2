/* result_table.h — the in-memory result table: the sink (result_sink.h)
 * of sv_stage_process, the dia_table a host gets back from process().
 *
 * The table holds every input column, copied, in input order, then the
 * stage's own columns as the output schema (catalog.h sv_out_schema) lists
 * them, each with the schema's name, type, unit and description (a stamp
 * column with ndim 2, dims S x S).  Its meta are the provenance cards in
 * the order the FITS catalog has them, then NDET, NSCORED, NFLAGGED (and
 * the light-curve counts), DATE (UTC of processing) and the FLAGn cards
 * (catalog.h).  Strings are NUL-padded to the column's width.
 *
 * Thread safety: a result table is used by one thread at a time.
 */
#ifndef SV_RESULT_TABLE_H
#define SV_RESULT_TABLE_H

#include "dia_stage.h"
#include "pipeline/catalog.h"
#include "pipeline/result_sink.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_result_table {
    dia_table table;     /* what process() returns: valid after finish    */
    dia_column *cols;
    int ncols;
    void **bufs;         /* one per column, owned                          */
    char **names;        /* copied names / units / descriptions            */
    int nnames;
    dia_kv *meta;
    char (*metatext)[2][SV_PROV_VALUE_MAX];
    int nmeta;
    /* while it is filled */
    const dia_table *in;
    const sv_out_schema *schema;
    sv_provenance prov;
    void *own[SV_OUT_MAX_COLS]; /* the own columns' buffers, schema order */
} sv_result_table;

/* A sink filling t from the detection table `in` (its columns are copied
 * at begin) with the columns of `schema`; in and schema must outlive the
 * sink.  t's earlier contents are freed at begin.  Given: t (zeroed, or a
 * table of an earlier call), in, schema.  Returns the sink. */
sv_result_sink sv_result_table_sink(sv_result_table *t, const dia_table *in,
                                    const sv_out_schema *schema);

/* Free the table's contents and zero it.  NULL is allowed. */
void sv_result_table_free(sv_result_table *t);

#ifdef __cplusplus
}
#endif
#endif
