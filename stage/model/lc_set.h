/* lc_set.h — the in-memory light-curve set: candidates, their observations
 * and metadata, in pools the set owns.  The table readers and writer are in
 * data/lightcurve.h; light-curve preparation for a model (model/lc_prep.h)
 * reads sets.
 *
 * Thread safety: a set is plain data; the functions below are reentrant on
 * distinct sets (sv_lc_find builds an index on first use: see there). */
#ifndef SV_LC_SET_H
#define SV_LC_SET_H

#include <stdint.h>

#include "core/sv_error.h"
#include "model/model.h"

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

/* Free what a set owns (it may be zeroed or partially built). */
void sv_lc_set_free(sv_lc_set *s);

/* Allocate an empty set for n candidates with n_obs observations in total
 * and n_meta metadata values each (pools zeroed, meta NaN, labels -1,
 * t_alert NaN); the caller fills lc[i].obs by pointing into obs_pool.
 * Returns 0 or SV_ERR_NOMEM. */
int sv_lc_set_alloc(sv_lc_set *s, long n, long n_obs, int n_meta, sv_error *err);

/* Index of the candidate with identifier id, or -1 (binary search over a
 * sorted index built on first use: not thread-safe on the first call; call
 * sv_lc_set_index once before sharing the set between threads, and again
 * after changing identifiers: it is built once, rebuilt only when
 * s->id_order is freed and set to NULL). */
long sv_lc_find(sv_lc_set *s, const char *id);
int sv_lc_set_index(sv_lc_set *s, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
