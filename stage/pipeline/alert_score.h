/* alert_score.h — scoring alert packets (alert_packet.h) with a stamp
 * model, and the alert score table: one row per alert, in input order,
 * nothing dropped.
 *
 * Each alert's cutouts (science, template, difference, as decoded) are
 * scored exactly as `stampvet score --sci/--ref/--diff` scores the same
 * cutouts as FITS files (score.h: as stored, the model's preprocessing),
 * in batches of the scorer's max_batch.  An alert is not scored (score
 * NaN, flagged) when it is flagged by the reader, lacks a cutout the model
 * uses, or the network gives a non-finite output (SV_ALERT_FAILED).  A
 * source that could not be read at all is one row too (id unknown,
 * SV_ALERT_UNDECODABLE, its message).
 *
 * THE TABLE (CSV with a header line, or a FITS BINTABLE EXTNAME = 'ALERTS'
 * with CHECKSUM/DATASUM), columns named as the survey names them:
 *
 *   ZTF          LSST           meaning
 *   candid       diaSourceId    K  the alert's identifier (null: unknown)
 *   objectId     diaObjectId    A  the object
 *   drb          reliability    E  stampvet's score P(real)  [realbogus model]
 *   p_<class>    p_<class>      E  class probabilities        [class model]
 *   class        class          A  the most probable class    [class model]
 *   drbversion   reliabilityVersion A  the model (name, or name_version)
 *   packet_drb   packet_reliability E  the survey's own score in the packet
 *   nprv         nPrvDiaSources J  history length in the packet
 *   flags        flags          J  SV_ALERT_* bitmask (FITS: FLAGn cards)
 *   lc_p_<class> lc_p_<class>  E  light-curve class probabilities [--lc-model]
 *   lc_class     lc_class       A  the most probable light-curve class
 *   lc_flags     lc_flags       J  lc_stage.h LC_FLAGS (0 classified)
 *   survey, source, record, error: the survey ('ztf', 'lsst', ''), the file
 *   (or buffer name), the 0-based record in it, and why flagged ('').
 * Alerts of both surveys in one table use the generic names id, objectId,
 * score, model, packet_score, nhist.
 * The FITS header carries provenance: SVVERS, MODEL, MODELVER, MODELCK
 * (the model's CHECKSUM), NALERTS, NFLAGGED, NSCORED.  Written atomically
 * (report.h): a failure leaves no file.
 *
 * With a light-curve model (sv_alert_table_set_lc), each alert's light
 * curve is its packet's history plus its own detection, up to its own
 * time: ZTF prv_candidates + candidate in the ZTF form of lightcurve.h
 * (jd, fid, magpsf, sigmapsf, diffmaglim, isdiffpos, magzpsci: fluxes
 * from magnitudes, non-detections as upper limits), LSST prvDiaSources +
 * diaSource as MJD = midpointMjdTai, BAND = band, FLUX = psfFlux, FLUXERR
 * = psfFluxErr (nJy; rows without a finite flux are left out).  The
 * model's metadata are looked up as lc_stage.h says: 'rb' is stampvet's
 * score of the alert, other names numeric fields of the candidate /
 * diaSource.
 *
 * Thread safety: a table is used by one thread at a time.
 */
#ifndef SV_ALERT_SCORE_H
#define SV_ALERT_SCORE_H

#include <stdint.h>
#include <stdio.h>

#include "data/alert_packet.h"
#include "pipeline/lc_stage.h"
#include "infer/score.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The network gave a non-finite output: no score (beyond the reader's
 * SV_ALERT_* flags). */
#define SV_ALERT_FAILED 0x20u

typedef struct sv_alert_row {
    sv_alert_survey survey;
    int has_id;
    int64_t id;
    char object_id[32];
    char source[512];
    long record;
    double packet_score;     /* the survey's own score (NaN)               */
    int n_history;
    uint32_t flags;
    char error[256];
} sv_alert_row;

typedef struct sv_alert_table {
    const sv_model *model;   /* the model the rows were scored with        */
    int n_out;               /* scores per row                             */
    long n, cap;
    sv_alert_row *rows;
    float *out;              /* n * n_out, NaN not scored                  */
    sv_lc_stage *lc;         /* light-curve model, or NULL (not owned)     */
    int n_lc;                /* its classes                                */
    float *lc_prob;          /* n * n_lc, NaN not classified               */
    int32_t *lc_flags;       /* n                                          */
} sv_alert_table;

/* An empty table for model m (which must outlive it). */
void sv_alert_table_init(sv_alert_table *t, const sv_model *m);
void sv_alert_table_free(sv_alert_table *t);

/* Classify the light curves of the alerts added from now on with lc
 * (which must outlive the table); call before adding rows. */
void sv_alert_table_set_lc(sv_alert_table *t, sv_lc_stage *lc);

/* Score every alert of set with sc (built for t->model) and append one row
 * per alert.  Returns 0, or a status with err set when memory is short or
 * the network fails as a whole (rows are appended, unscored, either way). */
int sv_alert_table_add_set(sv_alert_table *t, sv_scorer *sc, const sv_alert_set *set,
                           sv_error *err);

/* Append the row of a source that could not be read: error is its message. */
int sv_alert_table_add_failure(sv_alert_table *t, const char *source, const char *error,
                               sv_error *err);

/* Rows with any flag, and rows scored. */
long sv_alert_table_flagged(const sv_alert_table *t);
long sv_alert_table_scored(const sv_alert_table *t);

/* The table as columns (dia_stage.h's dia_table), in the order and with
 * the names above: the identifier (INT64, -1 when unknown: the FITS
 * TNULL), objectId, the scores (FLOAT32, NaN when not scored), class,
 * the light-curve columns, the model label, packet score (FLOAT64), the
 * history length, flags (INT32), survey, source, record (INT64), error
 * (strings as wide as their longest value); meta: the FITS header's
 * provenance cards (SVVERS, MODEL, MODELVER, MODELCK, [LCMODEL, LCMCK,]
 * NALERTS, NFLAGGED, NSCORED, FLAG<bit> = each flag's name).  c owns
 * every byte of it until sv_alert_columns_free; the table t may change or go afterwards.
 * Returns 0 or SV_ERR_NOMEM (c is then empty). */
typedef struct sv_alert_columns {
    dia_table table;
    void **blocks_;        /* owned allocations                            */
    int n_blocks_, cap_blocks_;
} sv_alert_columns;

int sv_alert_table_columns(const sv_alert_table *t, sv_alert_columns *c, sv_error *err);
void sv_alert_columns_free(sv_alert_columns *c);

/* Print the table as CSV to f (stdout, say).  Returns 0 or SV_ERR_IO. */
int sv_alert_table_print_csv(const sv_alert_table *t, FILE *f, sv_error *err);

/* Write the table to path: CSV (.csv) or FITS (.fits, .fit, .fts, .gz),
 * atomically.  Returns 0 or a status with err naming the file. */
int sv_alert_table_write(const sv_alert_table *t, const char *path, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
