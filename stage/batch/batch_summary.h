/* batch_summary.h — the summary table of a batch run.
 *
 * One row per exposure: exposure (its id), status (ok, failed, skipped,
 * cancelled), detections (rows written or found; -1 = unknown), n_real
 * (rows with REAL true), n_flagged (rows with FLAGS != 0), median_score
 * (median finite real/bogus score) of the output table (-1 / NaN =
 * unknown: not ok or skipped, or not the stage's catalog;
 * sv_batch_output_scores), seconds (wall time), error (the error text, ""
 * when none), output (the output path) and rank (the MPI rank that ran it,
 * 0 without MPI), in this order.  Written as a FITS BINTABLE (EXTNAME =
 * 'SUMMARY', DETECTIONS, N_REAL and N_FLAGGED with TNULL = -1,
 * MEDIAN_SCORE NaN when unknown) when the file name ends in .fits, .fit or
 * .fts, otherwise as CSV with a header line (RFC 4180 quoting; an unknown
 * count or median is an empty cell).  Files are written atomically: a
 * temporary file in the same folder, renamed over the target when
 * complete.  Summaries without the n_real, n_flagged and median_score
 * columns (written before they existed) read as unknown.
 *
 * Summaries of several runs (the shards of a job array) can be read back
 * and merged: rows are appended in the order of the files.
 *
 * Thread safety: a summary belongs to one thread at a time; the functions
 * are reentrant.
 */
#ifndef SV_BATCH_SUMMARY_H
#define SV_BATCH_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_summary_row {
    char *exposure;
    char *status;        /* "ok", "failed", "skipped", "cancelled"          */
    int64_t detections;  /* -1 when unknown                                 */
    int64_t n_real;      /* -1 when unknown                                 */
    int64_t n_flagged;   /* -1 when unknown                                 */
    double median_score; /* NaN when unknown                                */
    double seconds;
    char *error;         /* never NULL ("" when none)                       */
    char *output;        /* never NULL                                      */
    int rank;            /* MPI rank (0 without MPI)                         */
} sv_summary_row;

typedef struct sv_summary {
    size_t n, cap;
    sv_summary_row *rows;
} sv_summary;

/* Totals of a summary, by status. */
typedef struct sv_summary_totals {
    size_t rows, ok, failed, skipped, cancelled, other;
    int64_t detections;  /* sum over rows with a known count                */
    double seconds;      /* sum of seconds                                  */
} sv_summary_totals;

/* Append a row (strings copied; error/output may be NULL; line breaks and
 * tabs in them become blanks).  Returns 0 or SV_ERR_NOMEM. */
int sv_summary_add(sv_summary *s, const char *exposure, const char *status,
                   int64_t detections, double seconds, const char *error,
                   const char *output, int rank, sv_error *err);

/* The scores of the last row added (sv_summary_add leaves them unknown:
 * n_real = n_flagged = -1, median_score = NaN).  Nothing when s is empty. */
void sv_summary_set_scores(sv_summary *s, int64_t n_real, int64_t n_flagged,
                           double median_score);

/* Write a summary to `path` (FITS or CSV by extension, atomically). */
int sv_summary_write(const sv_summary *s, const char *path, sv_error *err);

/* Read a summary written by sv_summary_write (FITS or CSV, by content) and
 * append its rows to *s.  Returns 0, or SV_ERR_IO / SV_ERR_FORMAT naming
 * the file (and the line of a bad CSV row). */
int sv_summary_read_append(sv_summary *s, const char *path, sv_error *err);

sv_summary_totals sv_summary_get_totals(const sv_summary *s);

/* Free the rows (the struct itself is the caller's); NULL is fine. */
void sv_summary_clear(sv_summary *s);

#ifdef __cplusplus
}
#endif
#endif
