/* lc_prep.h — turning a light curve (a detection history) into the input
 * of a light-curve network.  Like a stamp model's sv_preproc, the
 * preprocessing is part of the model and stored in its file (cards LC*,
 * below), so a history gives the same input wherever it is classified.
 *
 * Common steps, for a light curve classified at time t_now (the alert; all
 * observations when t_now is not finite):
 *   1. observations after t_now are dropped; bands the model does not know
 *      are dropped (counted);
 *   2. t0 = the first detection (not an upper limit) at or before t_now.
 *      Without one there is nothing to classify (n_valid = 0: the caller
 *      flags the candidate, it does not guess);
 *   3. time is measured from t0 (days);
 *   4. per-band flux normalisation (norm):
 *        band    each band divided by the largest |flux| of its own
 *                detections (a band without detections uses the largest
 *                over all bands); colour survives in per-step "band scale"
 *                features log10(s_b / s_max) (0 for bands without
 *                detections);
 *        global  every band divided by the largest |flux| over all bands;
 *        none    fluxes as they are;
 *      normalised values are clipped to +-clip.
 *
 * Mode "irregular" (sequences of observations, time deltas, one-hot bands):
 *   the observations with t0 - pre_days <= t <= t_now (upper limits before
 *   the first detection included: they show the rise), the last n_steps of
 *   them; one step per observation with the features (layout full):
 *     trel   (t - t0) / 100 d
 *     dt     ln(1 + days since the previous kept observation) (0 first)
 *     flux   normalised flux (an upper limit: its normalised limit)
 *     err    normalised flux error
 *     ulim   1 for an upper limit
 *     band_<b>  one-hot band (n_bands values)
 *     scale_<b> band scale features (norm band only, n_bands values)
 *     valid  1 (0 on padding steps)
 * Mode "grid" (regular time grid with interpolation, RAPID-like):
 *   grid points t0 + i * step up to t_now (or the last observation), at
 *   most n_steps of them (the first n_steps when align = start, as RAPID
 *   cuts; the last n_steps when align = end).  Per band, the detections and
 *   the upper limits after t0 that lie below the band's preceding detection
 *   (taken as flux 0: the source faded below the limit) are linearly
 *   interpolated at the grid points inside the band's observed range;
 *   outside it the value is 0.  Features (layout full):
 *     flux_<b>   interpolated normalised flux (n_bands values)
 *     cov_<b>    1 inside the band's observed range, else 0
 *     scale_<b>  band scale features (norm band only)
 *     trel       (grid time - t0) / 100 d
 *     valid      1 on grid steps, 0 on padding
 *   Layout "flux": only flux_<b> (the input of RAPID's published models).
 * Alignment: end (default) places the steps at the end of the sequence and
 * pads at the start, so that the last step is the latest observation (what
 * a GRU that returns its last state wants); start places them first and
 * pads at the end (RAPID, whose per-step output is read at the last valid
 * step).  Padding steps are all zero.
 *
 * Metadata (the dense branch's input): for each of the model's n_meta
 * names, the candidate's value v (NaN when unknown or when the data has no
 * such column): (v - offset) / scale clipped to +-clip, 0 when unknown;
 * with meta_flags, n_meta more values follow, 1 when known, 0 when not.
 * offset and scale are the training set's mean and standard deviation
 * (sv_lcprep_fit_meta).
 *
 * Model-file cards (primary header of a lightcurve model, model_fits.h):
 *   LCMODE 'irregular'|'grid'|'none'   LCSTEPS int   LCSTEP real (days)
 *   LCPRE real (days)   LCBANDS 'g,r'   LCNORM 'band'|'global'|'none'
 *   LCALIGN 'end'|'start'   LCLAYOUT 'full'|'flux'   LCCLIP real
 *   LCMFLAG logical   LCNMETA int   LCMETAn string   LCMOFFn real
 *   LCMSCLn real
 * A light-curve model without LCMODE (or 'none') declares no preprocessing:
 * it can be run on prepared tensors but not on histories.
 *
 * Thread safety: all functions are reentrant.
 */
#ifndef SV_LC_PREP_H
#define SV_LC_PREP_H

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_LC_MAX_BANDS 8
#define SV_LC_BAND_LEN 8
#define SV_LC_MAX_META 24
#define SV_LC_NAME_LEN 32
#define SV_LC_MAX_STEPS 4096

struct sv_lc;
struct sv_lc_set;

typedef enum sv_lcmode {
    SV_LCMODE_NONE = 0,
    SV_LCMODE_IRREGULAR = 1,
    SV_LCMODE_GRID = 2
} sv_lcmode;

typedef enum sv_lcnorm {
    SV_LCNORM_BAND = 0,
    SV_LCNORM_GLOBAL = 1,
    SV_LCNORM_NONE = 2
} sv_lcnorm;

typedef enum sv_lcalign { SV_LCALIGN_END = 0, SV_LCALIGN_START = 1 } sv_lcalign;
typedef enum sv_lclayout { SV_LCLAYOUT_FULL = 0, SV_LCLAYOUT_FLUX = 1 } sv_lclayout;

typedef struct sv_lcprep {
    sv_lcmode mode;
    int n_steps;                 /* sequence length T                       */
    double step;                 /* grid spacing, days                      */
    double pre_days;             /* irregular: upper limits kept before t0  */
    int n_bands;
    char bands[SV_LC_MAX_BANDS][SV_LC_BAND_LEN];
    sv_lcnorm norm;
    sv_lcalign align;
    sv_lclayout layout;
    float clip;                  /* normalised values clipped to +-clip     */
    int meta_flags;              /* 1: known/unknown flags after the values */
    int n_meta;
    char meta[SV_LC_MAX_META][SV_LC_NAME_LEN];
    float meta_offset[SV_LC_MAX_META];
    float meta_scale[SV_LC_MAX_META];
} sv_lcprep;

/* Defaults for a mode: irregular T 50, pre_days 30; grid T 50, step 3 d
 * (RAPID's 50 steps of 3 days); bands none yet (the caller sets them), norm
 * band, align end, layout full, clip 10, meta_flags 1, no metadata.
 * SV_LCMODE_NONE gives an all-zero description. */
sv_lcprep sv_lcprep_defaults(sv_lcmode mode);

/* RAPID's published input (Muthukrishna et al. 2019): grid, 50 steps of
 * 3 days, bands g,r, no normalisation (clip 1e30), align start, layout flux. */
sv_lcprep sv_lcprep_rapid(void);

/* Check a description (mode, 1 <= n_steps <= SV_LC_MAX_STEPS, step > 0 for
 * grid, 1..SV_LC_MAX_BANDS distinct non-empty bands, known enums, layout
 * flux only with grid, clip > 0, metadata names non-empty and distinct,
 * scales > 0 and finite).  SV_LCMODE_NONE is valid.  Returns 0 or
 * SV_ERR_FORMAT naming the field.  Reentrant. */
int sv_lcprep_validate(const sv_lcprep *p, sv_error *err);

/* Per-step features F, and the metadata input size (n_meta, doubled with
 * meta_flags; 0 without metadata). */
int sv_lcprep_n_features(const sv_lcprep *p);
int sv_lcprep_meta_size(const sv_lcprep *p);

/* Names: "irregular"/"grid"/"none", "band"/"global"/"none",
 * "end"/"start", "full"/"flux"; parsers return 0 or SV_ERR_FORMAT. */
const char *sv_lcmode_name(sv_lcmode m);
int sv_lcmode_from_name(const char *s, sv_lcmode *m);
const char *sv_lcnorm_name(sv_lcnorm n);
int sv_lcnorm_from_name(const char *s, sv_lcnorm *n);

/* A one-line text form, e.g.
 *   "irregular,steps=50,pre=30,bands=g:r,norm=band,align=end,layout=full,clip=10"
 * (metadata is not part of it), and its parser: a mode ("irregular",
 * "grid", "rapid" = sv_lcprep_rapid(), "none") followed by key=value
 * overrides (steps, step, pre, bands (':'-separated), norm, align, layout,
 * clip, mflags).  Returns 0 or SV_ERR_FORMAT with err saying what. */
int sv_lcprep_format(const sv_lcprep *p, char *buf, int cap);
int sv_lcprep_parse(const char *text, sv_lcprep *p, sv_error *err);

/* ---- model-file cards ----------------------------------------------------
 * fptr is a cfitsio fitsfile * positioned on the primary HDU (void * to
 * keep cfitsio out of this header). */

/* Write the LC* cards.  Returns the cfitsio status (0 = fine), like cfitsio
 * functions (status in/out). */
int sv_lcprep_write_cards(void *fptr, const sv_lcprep *p, int *status);
/* Read them into p (all-zero, mode none, when LCMODE is absent).  Returns
 * 0, or SV_ERR_FORMAT with msg (cap bytes) naming the card and problem. */
int sv_lcprep_read_cards(void *fptr, sv_lcprep *p, char *msg, int cap);
/* The LC* card names, NULL-terminated: the fixed ones, and the prefixes of
 * the numbered ones (LCMETAn, LCMOFFn, LCMSCLn).  The model file reserves
 * them (sv_model_fits_key_reserved). */
extern const char *const sv_lcprep_card_names[];
extern const char *const sv_lcprep_card_prefixes[];

/* ---- applying it ---------------------------------------------------------- */

/* How a light-curve set's bands and metadata columns map onto a model's. */
typedef struct sv_lcprep_map {
    int band[SV_LC_MAX_BANDS];   /* set band -> model band, -1 dropped      */
    int meta[SV_LC_MAX_META];    /* model metadata -> set column, -1 none   */
    int n_dropped_bands;         /* set bands the model does not know       */
    int n_missing_meta;          /* model metadata the set does not have    */
} sv_lcprep_map;

/* Bind p to a set (bands by name, metadata by name, case-sensitive).
 * Returns 0, or SV_ERR_ARG when no band of the set is known to the model. */
int sv_lcprep_bind(const sv_lcprep *p, const struct sv_lc_set *s, sv_lcprep_map *map,
                   sv_error *err);

/* Prepare one light curve: seq gets n_steps * F floats (T, F) and meta (if
 * non-NULL) sv_lcprep_meta_size floats from lc->meta (mapped).  t_now: NaN
 * or +inf for all observations.  *n_valid (may be NULL) receives the number
 * of non-padding steps; 0 when the light curve has no detection up to
 * t_now (seq is then all zero).  Returns 0, or SV_ERR_ARG for an invalid
 * description (mode none included). */
int sv_lcprep_apply(const sv_lcprep *p, const sv_lcprep_map *map, const struct sv_lc *lc,
                    double t_now, float *seq, float *meta, int *n_valid, sv_error *err);

/* Set p's metadata names to the set's (all of them, or the first n_meta
 * names given in names when names is non-NULL) and offsets/scales to the
 * mean and standard deviation of the finite values of the candidates
 * idx[0..n-1] (all when idx is NULL; scale 1 when fewer than two values or
 * a zero spread).  Returns 0 or SV_ERR_ARG (a name not in the set). */
int sv_lcprep_fit_meta(sv_lcprep *p, const struct sv_lc_set *s, const char *const *names,
                       int n_names, const long *idx, long n, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
