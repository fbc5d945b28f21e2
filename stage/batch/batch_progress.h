/* batch_progress.h — progress of a batch run (and of one long `run`:
 * sv_progress_rows), for people and for logs.
 *
 * Two styles, chosen by the caller (the CLI uses isatty(stderr)):
 *  - live: one line redrawn in place (carriage return, erase to end of line)
 *    at most ten times a second and after the last exposure:
 *      [=========>          ]  45/200  22%  1 failed  3 skipped  812 det/s  ETA 0:02:13
 *    Messages (failures, warnings) are printed above the bar.
 *  - plain: one timestamped line per exposure, for log files and cluster
 *    jobs:
 *      2026-11-21T10:50:03Z [12/200] exp0012 ok 500 detections 0.84 s (523 det/s, ETA 0:01:23)
 *      2026-11-21T10:50:04Z [13/200] exp0013 failed 0.02 s: IO: sci.fits: ...
 *
 * Rates: detections/s is detections of the exposures processed in this run
 * (skipped ones excluded) over wall time; the ETA is the remaining
 * exposures times the mean wall time per exposure processed so far.
 *
 * Thread safety: every function may be called from any thread; output is
 * serialised by the reporter's own lock.
 */
#ifndef SV_BATCH_PROGRESS_H
#define SV_BATCH_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "batch/batch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_progress sv_progress;

/* A reporter writing to `out` (not closed by it); live != 0 for the
 * redrawn bar.  Returns NULL when out of memory. */
sv_progress *sv_progress_new(FILE *out, int live);

/* An sv_batch_progress_fn: pass the reporter as the user pointer. */
void sv_progress_update(void *reporter, const sv_manifest_entry *entry,
                        const sv_batch_result *result, const sv_batch_tally *tally);

/* Progress within one long job, counted in detections (`stampvet run` on
 * a large exposure, through dia_host_services.progress): the same bar with
 * "done/total detections", the rate since sv_progress_new and the ETA from
 * it.  live: redrawn at most ten times a second and at done >= total,
 * where it ends with a newline; nothing at all when the first call is
 * already the last (a small exposure).  plain: a timestamped line at most
 * once a second and at done >= total:
 *   2026-11-21T10:50:03Z 32768/100000 detections  32% (812 det/s, ETA 0:01:23) */
void sv_progress_rows(sv_progress *p, int64_t done, int64_t total);

/* Erase the live bar (no-op otherwise), so that the caller can print a
 * line of its own on any stream; the next update draws it again. */
void sv_progress_clear(sv_progress *p);

/* Print a message line (a warning, the stage's log), above the live bar. */
void sv_progress_message(sv_progress *p, const char *text);

/* Final line: draw the bar once more (live) and end it with a newline. */
void sv_progress_finish(sv_progress *p);

void sv_progress_free(sv_progress *p);

/* Format seconds as H:MM:SS into buf (>= 16 bytes); "--:--" when unknown
 * (negative or not finite).  Reentrant. */
void sv_progress_format_eta(double seconds, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
