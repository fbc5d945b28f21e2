/* detections.h — the detection table: column presets and mapping, reading
 * FITS binary tables (also FITS_LDAC; CSV and ECSV through det_text.h) in
 * chunks (data/det_table.h), and pixel positions.
 *
 * Column presets (column names are matched case-insensitively, as FITS
 * does):
 *
 *   preset      id            x, y               origin  ra, dec         sign       score out
 *   ztf         candid        xpos, ypos         1       ra, dec         isdiffpos  drb, drbversion
 *   sextractor  NUMBER        X_IMAGE, Y_IMAGE   1       ALPHA_J2000,    -          rb, SV_FLAGS
 *                                                        DELTA_J2000
 *   lsst        diaSourceId   x, y               0       ra, dec         -          reliability
 *   generic     id            x, y               1       ra, dec         -          rb
 *
 * `origin` is the pixel coordinate of the centre of the first pixel: 1 for
 * FITS/SExtractor/ZTF conventions, 0 for LSST's; the output's positions
 * (XPIX, YPIX) are in the same origin.  `score out` is the survey's name of
 * the real/bogus score column the stage adds (catalog.h: the output
 * schema), with ZTF's version column beside it; the stage's stamp flags
 * are FLAGS, or SV_FLAGS beside SExtractor's own FLAGS.  Each name and the origin
 * can be overridden (col_id, col_x, col_y, col_ra, col_dec, pixel_origin;
 * rb_column renames the score, and the version column to
 * <rb_column>version).
 *
 * Where positions come from (`coords`):
 *   auto   the x/y columns when the table has both, else ra/dec through the
 *          image WCS (WCSLIB wcss2p), else an error naming the columns
 *          looked for and the table;
 *   pixel  the x/y columns (an error names the missing one);
 *   sky    the ra/dec columns (degrees) through the WCS.
 * Positions from the sky need a WCS: without one that is an error.
 *
 * The detection's sign (`sign`, parameter col_sign): whether it is a
 * positive (sci > ref) or a negative (sci < ref) detection, so that the
 * stage can show a negative one to the model as ZTF's alert cutouts do,
 * with its difference inverted (diff_positive, stage_params.h).  A preset's
 * sign column is used when the table has it (ZTF candidates have
 * isdiffpos); a column named by col_sign must exist (else an error naming
 * the table and the column); col_sign = none uses none.  What its values
 * mean depends on its type:
 *   text      t, true, 1: positive; f, false, 0: negative (ASCII case
 *             ignored, blanks around ignored: ZTF's 't'/'f', 'T'/'F',
 *             '1'/'0', 'true'/'false');
 *   logical   T positive, F negative (a FITS 'L' column; ECSV bool);
 *   numeric   > 0 positive, <= 0 negative (an integer 1/0 flag, or a
 *             signed flux or S/N);
 * anything else (other text, an empty cell, a null logical, NaN) is
 * unreadable: the row gets SV_FLAG_BADSIGN and is treated as positive; it
 * is never dropped.  A vector column is an error.
 *
 * The id column is optional: when present and of an integer type its value
 * identifies a detection in messages and in the STAMPS extension; otherwise
 * the 0-based row number does.
 *
 * A multi-input model (stamp + features, sv_model.features) takes its
 * feature vector from the detection columns of the same names.
 *
 * Positions handed on are 0-BASED pixels; a NaN or infinite coordinate, or
 * a sky position the WCS cannot place, gives NaN and SV_FLAG_BADCOORD (the
 * row stays, it is only not scored).
 *
 * Thread safety: all functions are reentrant; an sv_det_file is used by
 * one thread at a time.
 */
#ifndef SV_DETECTIONS_H
#define SV_DETECTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "dia_stage.h"
#include "fits/fits_image.h"
#include "model/model.h"
#include "pipeline/stage_params.h"
#include "core/sv_error.h"
#include "data/det_table.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef enum sv_coords { SV_COORDS_AUTO = 0, SV_COORDS_PIXEL = 1, SV_COORDS_SKY = 2 } sv_coords;

typedef struct sv_det_map {
    char preset[16];
    char id[SV_COLNAME_MAX], x[SV_COLNAME_MAX], y[SV_COLNAME_MAX];
    char ra[SV_COLNAME_MAX], dec[SV_COLNAME_MAX];
    int origin;               /* 0 or 1 */
    sv_coords coords;
    char score[SV_COLNAME_MAX];          /* output score column          */
    char score_version[SV_COLNAME_MAX];  /* its version column, or ""    */
    char flags[SV_COLNAME_MAX];          /* output stamp-flags column    */
    char sign[SV_COLNAME_MAX];           /* sign column, "" = none       */
    int sign_named;                      /* 1: named by col_sign (must
                                            exist); 0: the preset's (used
                                            when present)               */
} sv_det_map;

/* Fill *map with a preset's names and origin ("ztf", "sextractor", "lsst",
 * "generic"); coords auto.  Returns 0 or SV_ERR_ARG for an unknown preset. */
int sv_det_map_preset(const char *preset, sv_det_map *map);

/* The preset of cfg->preset with cfg's explicit names, origin and coords
 * applied (col_sign: "" the preset's, "none" none, else that column).
 * Returns 0 or SV_ERR_ARG. */
int sv_det_map_from_config(const sv_stage_config *cfg, sv_det_map *map, sv_error *err);

/* What to read: column indices (0-based) in the source. */
typedef struct sv_det_plan {
    int use_sky;              /* 1: col_a/col_b are ra/dec; 0: x/y          */
    int col_a, col_b;
    int col_id;               /* -1: none usable (row numbers identify)     */
    int n_feat;
    int col_feat[SV_MAX_FEATURES];
    int col_sign;             /* -1: no sign column in use                  */
    int sign_kind;            /* of col_sign: SV_COL_TEXT, SV_COL_LOGICAL
                                 (read as text), or 0: numeric              */
    char what[160];           /* e.g. "x/y from 'xpos','ypos' (origin 1)"  */
} sv_det_plan;

/* Decide where positions (and features of `feature_model`, may be NULL)
 * come from.  have_wcs: whether a usable WCS exists for sky positions.
 * Returns 0, or SV_ERR_SHAPE with err naming the table and the missing or
 * non-numeric column (and what to configure), for sky positions without
 * a WCS, or for a sign column named by col_sign that is missing or neither
 * a scalar numeric, text nor logical column. */
int sv_det_plan_make(const sv_det_map *map, const sv_col_source *src, int have_wcs,
                     const sv_model *feature_model, sv_det_plan *plan, sv_error *err);

/* The sign of one detection from its sign column's value (see above):
 * +1 positive, -1 negative, 0 unreadable.  text: a text or logical cell
 * as text (det_table.h); v: a numeric cell.  Reentrant. */
int sv_det_sign_text(const char *text);
int sv_det_sign_number(double v);

/* Convert n coordinate pairs (a, b: x/y in the map's origin, or ra/dec in
 * degrees) into 0-based pixels x0, y0; bad ones get NaN and
 * SV_FLAG_BADCOORD is ORed into flags[i].  wcs is needed for sky positions
 * only.  Returns the number of bad positions. */
int sv_det_positions(const sv_det_plan *plan, const sv_det_map *map, sv_wcs *wcs, int n,
                     const double *a, const double *b, double *x0, double *y0,
                     uint32_t *flags);

#ifdef __cplusplus
}
#endif
#endif
