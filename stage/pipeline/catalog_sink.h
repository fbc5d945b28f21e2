/* catalog_sink.h — the FITS catalog (catalog.h) as the sink
 * (result_sink.h) of sv_stage_process_files.
 *
 * Each chunk's input rows are read raw from the detection file and written
 * with the chunk's results; the file is opened at begin (catalog.h
 * sv_catalog_open: into a temporary file), gets the counts at finish and
 * is then renamed over the output (sv_catalog_commit).  abort leaves no
 * file.
 *
 * Thread safety: a catalog sink is used by one thread at a time.
 */
#ifndef SV_CATALOG_SINK_H
#define SV_CATALOG_SINK_H

#include "data/det_table.h"
#include "pipeline/catalog.h"
#include "pipeline/result_sink.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_catalog_sink {
    const char *path;            /* the output file                        */
    sv_det_file *det;            /* the detections, read raw per chunk     */
    const sv_out_schema *schema;
    sv_catalog *cat;
    unsigned char *raw;          /* cap input rows                         */
    sv_results r;                /* cap rows of results                    */
} sv_catalog_sink;

/* A sink writing `path` from the detection file det and the columns of
 * schema (det and schema must outlive the sink).  Given: c (any
 * contents: it is set here).  Returns the sink. */
sv_result_sink sv_catalog_sink_make(sv_catalog_sink *c, const char *path, sv_det_file *det,
                                    const sv_out_schema *schema);

#ifdef __cplusplus
}
#endif
#endif
