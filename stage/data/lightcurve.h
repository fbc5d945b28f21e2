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
#include "model/lc_set.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* Write a set as the light-curve table above (atomically: a temporary file
 * renamed over path).  extra_cards: optional "KEY=value" strings written to
 * the CANDIDATES header as string cards (provenance), NULL-terminated.
 * truth (may be NULL): n_truth extra per-candidate float columns named
 * truth_names (written as TRUE_<name>), row-major n x n_truth.  Returns 0
 * or a status with err naming the file. */
int sv_lc_write_fits(const sv_lc_set *s, const char *path, const char *const *extra_cards,
                     int n_truth, const char (*truth_names)[SV_LABEL_MAX], const float *truth,
                     sv_error *err);

/* Convert a ZTF-style magnitude pair to flux as the reader does (exposed
 * for tests and hosts): detection (isdiffpos sign s = +1/-1):
 * flux = s 10^(-0.4 (mag - zp)), err = 0.4 ln10 |flux| sigma. */
void sv_lc_mag_to_flux(double mag, double sigma, double zp, int sign, float *flux,
                       float *fluxerr);

#ifdef __cplusplus
}
#endif
#endif
