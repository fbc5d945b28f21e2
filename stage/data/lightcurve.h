/* lightcurve.h — light curves (detection histories) per candidate: the
 * in-memory set, the light-curve FITS table, the ZTF prv_candidates form,
 * and the host's history table (dia_exposure.history).
 *
 * ======================================================================
 * THE LIGHT-CURVE TABLE (what `stampvet simulate --lightcurves` writes and
 * what training, evaluation and `stampvet run --history` read)
 * ======================================================================
 * One FITS file, an empty primary HDU, then:
 *
 * BINTABLE EXTNAME = 'LIGHTCURVE', one row per observation, any order:
 *   CANDID   string or integer  candidate identifier
 *   MJD      D   time, Modified Julian Date (or JD: Julian Date, converted
 *                with MJD = JD - 2400000.5; or TIME, taken as MJD)
 *   BAND     string band name ('g', 'r', 'u' ...), or FID integer (ZTF
 *                filter id: 1 = g, 2 = r, 3 = i)
 *   FLUX     E   difference flux (any linear unit; the simulator writes
 *                microjansky, AB zero point 23.9); for an upper limit the
 *                limiting flux (> 0)
 *   FLUXERR  E   1-sigma flux error (an upper limit: its limit / 5)
 *   ULIM     L   (or integer) T: a non-detection, FLUX is an upper limit.
 *                Absent: every row is a detection.
 * Column names are matched case-insensitively; aliases: CANDID | OBJECTID |
 * OBJECT_ID | SNID | ID, FLUXERR | FLUX_ERR | FLUXCALERR | SIGMAFLUX,
 * BAND | FILTER | PASSBAND, ULIM | UPPERLIM | UPPER_LIMIT | ISUL.
 *
 * BINTABLE EXTNAME = 'CANDIDATES' (optional), one row per candidate:
 *   CANDID   as above (candidates without a row have no label/metadata)
 *   CLASS    string class name ('' unlabelled); or LABEL integer into the
 *            CLASSn list of the header (-1 unlabelled)
 *   T_ALERT  D   MJD of the detection the candidate is classified at (the
 *            alert); observations after it are not used.  NaN or absent:
 *            all observations are used.
 *   metadata columns: the header cards NMETA and META1..n name them (in
 *            order); without NMETA every other numeric column is metadata
 *            except CANDID, LABEL, T_ALERT and TRUE_* columns (truth of a
 *            simulation).  NaN = unknown (e.g. no host photo-z).
 *   Header: NCLASS and CLASS1..CLASSn (class order), SURVEY.
 *
 * ZTF prv_candidates form (one alert's history, or many stacked): columns
 * jd, fid, magpsf, sigmapsf, diffmaglim, isdiffpos, magzpsci (and
 * optionally objectId: the candidate key; candid is not used as one, being
 * per detection and null for non-detections).  Converted per row:
 *   zp       = magzpsci of the row; when it is null, the median magzpsci of
 *              the table's other rows of the same band, else the option's
 *              fallback zero point;
 *   detection (magpsf finite): flux = s * 10^(-0.4 (magpsf - zp)), s = +1
 *              when isdiffpos is 't' / '1' / 'true', -1 when 'f' / '0';
 *              fluxerr = 0.4 ln(10) |flux| sigmapsf;
 *   non-detection (magpsf null): ULIM, flux = 10^(-0.4 (diffmaglim - zp)),
 *              fluxerr = flux / 5 (diffmaglim is ZTF's 5-sigma limit).
 *   A table without an identifier column is one candidate.
 *
 * Observations with a non-finite time or band are errors; a detection with
 * a non-finite flux or a negative error is an error naming the row.
 *
 * Thread safety: functions are reentrant; a set is used by one thread at a
 * time when written, by any number when only read.
 */
#ifndef SV_LIGHTCURVE_H
#define SV_LIGHTCURVE_H

#include <stdint.h>

#include "dia_stage.h"
#include "model/model.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SV_LC_MAX_BANDS, SV_LC_BAND_LEN, SV_LC_MAX_META come from lc_prep.h
 * (through model.h) */
#define SV_LC_ID_LEN 40
#define SV_LC_MAX_OBS 100000   /* observations of one candidate            */

/* One observation. */
typedef struct sv_lc_obs {
    double t;          /* MJD                                               */
    float flux;        /* difference flux, or the limit (ulim)              */
    float fluxerr;     /* 1 sigma                                           */
    int16_t band;      /* index into the set's band list                    */
    uint8_t ulim;      /* 1: non-detection, flux is an upper limit          */
    uint8_t pad_;
} sv_lc_obs;

/* One candidate's light curve. */
typedef struct sv_lc {
    char id[SV_LC_ID_LEN];
    int n;             /* observations, in time order                       */
    sv_lc_obs *obs;    /* points into the set's pool                        */
    int label;         /* class index into the set's classes, -1 unknown    */
    double t_alert;    /* classify at this MJD (NaN: use all observations)  */
    float *meta;       /* set->n_meta values (NaN unknown), into the pool   */
} sv_lc;

typedef struct sv_lc_set {
    long n;                                     /* candidates               */
    sv_lc *lc;
    int n_bands;
    char bands[SV_LC_MAX_BANDS][SV_LC_BAND_LEN];
    int n_classes;                              /* 0: unlabelled            */
    char classes[SV_MAX_CLASSES][SV_LABEL_MAX];
    int n_meta;
    char meta_names[SV_LC_MAX_META][SV_LABEL_MAX];
    char survey[32];
    char origin[512];                           /* file or description      */
    /* storage (owned) */
    long n_obs;
    sv_lc_obs *obs_pool;
    float *meta_pool;
    long *id_order;     /* candidate indices sorted by id (sv_lc_set_index) */
} sv_lc_set;

/* Options of the readers. */
typedef struct sv_lc_read_options {
    double zp_fallback;   /* ZTF form: zero point when magzpsci is absent or
                             null for a band (26.3, ZTF's typical magzpsci) */
    double zp_fixed;      /* ZTF form: NaN (default) uses magzpsci per row;
                             a number converts every row with it instead
                             (23.9 gives microjansky)                      */
    int use_t_alert;      /* 1 (default): honour T_ALERT of CANDIDATES     */
    const char *id_column; /* identifier column, NULL: the aliases above    */
} sv_lc_read_options;

sv_lc_read_options sv_lc_read_defaults(void);

/* Free what a set owns (it may be zeroed or partially built). */
void sv_lc_set_free(sv_lc_set *s);

/* Read a light-curve table or a ZTF prv_candidates-form table from path
 * (the HDU 'LIGHTCURVE' if present, else the first BINTABLE; 'CANDIDATES'
 * when present).  Returns 0 and fills *s (free with sv_lc_set_free), or a
 * status with err naming the file, HDU, column or row. */
int sv_lc_read_fits(const char *path, const sv_lc_read_options *opt, sv_lc_set *s,
                    sv_error *err);

/* 1 when path is a FITS file with a light-curve table (an HDU named
 * LIGHTCURVE, or a first BINTABLE with ZTF prv_candidates columns), else 0.
 * Cheap (headers only). */
int sv_lc_fits_is_lightcurve(const char *path);

/* Build a set from an in-memory observation table (the ABI's history table
 * or a FITS table read into columns): the same columns as the LIGHTCURVE
 * HDU or the ZTF form.  `what` names the table in messages.  Labels and
 * metadata are left empty (n_classes = n_meta = 0).  Returns 0 or a status
 * with err set. */
int sv_lc_from_table(const dia_table *t, const sv_lc_read_options *opt, const char *what,
                     sv_lc_set *s, sv_error *err);

/* Index of the candidate with identifier id, or -1 (binary search over a
 * sorted index built on first use: not thread-safe on the first call; call
 * sv_lc_set_index once before sharing the set between threads, and again
 * after changing identifiers: it is built once, rebuilt only when
 * s->id_order is freed and set to NULL). */
long sv_lc_find(sv_lc_set *s, const char *id);
int sv_lc_set_index(sv_lc_set *s, sv_error *err);

/* Index of band `name` in the set (exact match after trimming blanks), or
 * -1. */
int sv_lc_band_index(const sv_lc_set *s, const char *name);

/* Write a set as the light-curve table above (atomically: a temporary file
 * renamed over path).  extra_cards: optional "KEY=value" strings written to
 * the CANDIDATES header as string cards (provenance), NULL-terminated.
 * truth (may be NULL): n_truth extra per-candidate float columns named
 * truth_names (written as TRUE_<name>), row-major n x n_truth.  Returns 0
 * or a status with err naming the file. */
int sv_lc_write_fits(const sv_lc_set *s, const char *path, const char *const *extra_cards,
                     int n_truth, const char (*truth_names)[SV_LABEL_MAX], const float *truth,
                     sv_error *err);

/* Allocate an empty set for n candidates with n_obs observations in total
 * and n_meta metadata values each (pools zeroed, meta NaN, labels -1,
 * t_alert NaN); the caller fills lc[i].obs by pointing into obs_pool.
 * Returns 0 or SV_ERR_NOMEM. */
int sv_lc_set_alloc(sv_lc_set *s, long n, long n_obs, int n_meta, sv_error *err);

/* Convert a ZTF-style magnitude pair to flux as the reader does (exposed
 * for tests and hosts): detection (isdiffpos sign s = +1/-1):
 * flux = s 10^(-0.4 (mag - zp)), err = 0.4 ln10 |flux| sigma. */
void sv_lc_mag_to_flux(double mag, double sigma, double zp, int sign, float *flux,
                       float *fluxerr);

#ifdef __cplusplus
}
#endif
#endif
