/* stage_internal.h — the parts of the stage (stage.h) shared by its files;
 * not installed, not for other folders.
 *
 *   stage.c          create / free, the models and their checks, workers
 *   stage_view.c     an exposure's pixels, WCS, same-grid check, resampling
 *   stage_score.c    cutting, flagging, preprocessing and scoring a chunk
 *   stage_prov.c     the provenance cards and the summary line
 *   stage_run.c      the one pipeline (stage_run) and its two entry points,
 *                    sv_stage_process and sv_stage_process_files
 *
 * Thread safety: an sv_stage is used by one thread at a time; it runs its
 * own worker threads (core/parallel.h) inside stage_score_chunk.
 */
#ifndef SV_STAGE_INTERNAL_H
#define SV_STAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/stage.h"
#include "pipeline/catalog.h"
#include "pipeline/detections.h"
#include "pipeline/lc_stage.h"
#include "pipeline/result_table.h"
#include "fits/fits_image.h"
#include "fits/stamps.h"
#include "infer/score.h"

/* working-buffer budget for saved stamps per chunk */
#define STAMP_CHUNK_BYTES (64u << 20)

/* One per thread of the instance: the scratch of cutting and preprocessing
 * one stamp at a time. */
typedef struct worker {
    float *raw;          /* 3 * SS (rb geometry), when not saving stamps  */
    uint8_t *bad;        /* SS                                            */
    float *rect;         /* 3 * SS                                        */
    float *raw2, *rect2; /* class geometry, when it differs               */
    uint8_t *bad2;
    float *pre;          /* preprocessing scratch: max(SS, SS2) floats    */
    sv_cut_scratch scr;
    int status;          /* of its part of the last cut phase             */
    char msg[160];
} worker;

typedef struct row_key {
    int64_t pix;             /* strip of the centre pixel, then its column   */
    int row;
} row_key;

struct sv_stage {
    sv_stage_config cfg;
    dia_host_services host;
    sv_det_map map;
    sv_model *rb, *cls;
    int S, S2;               /* stamp sides: rb model, class model         */
    int same_geom;           /* the class model scores the rb cut          */
    sv_kernel kernel;
    int diff_positive;       /* DIFFPOS_AUTO / _YES / _NO (cfg.diff_positive) */
    sv_stamp_save save;
    sv_out_schema schema;
    int nworkers;            /* = cfg.threads                              */
    worker *workers;
    sv_scorer *sc_rb, *sc_cls; /* one plan per model, batch x threads      */
    float *o1, *o2;          /* network outputs of a batch                 */
    int *rows;               /* rows of a chunk that get a stamp, in the
                                order they are cut                          */
    row_key *keys;           /* sorting them                                */
    int rows_cap;
    sv_result_table res;     /* process()'s results (result_table.h)      */
    sv_provenance prov;      /* scratch of stage_run                       */
    sv_stage_stats stats;
    sv_lc_stage *lc;         /* light-curve model (lc_stage.h), or NULL    */
    sv_image img[3];         /* the file path's images, pixel buffers kept
                                for the next exposure (fits_image.h)       */
    size_t img_cap[3];
};


/* diff_positive: invert DIFF in a negative detection's stamp */
enum { DIFFPOS_AUTO = 0, DIFFPOS_YES = 1, DIFFPOS_NO = 2 };

/* Whether this run inverts the difference of negative detections: yes,
 * or auto with a sign column in use (plan->col_sign, detections.h). */
int stage_diff_inverts(const sv_stage *s, const sv_det_plan *plan);

/* An exposure as the stage sees it (stage_view.c). */
typedef struct exposure_view {
    sv_frames fr;
    sv_wcs *wcs[3];
    sv_wcs *pos;           /* WCS for sky positions and pixel scales     */
    double step_rb, step_cls; /* resampling steps at the image centre    */
    double model_scale_rb, model_scale_cls;
    double img_scale;      /* arcsec/pixel at the centre, 0 unknown      */
    double scale_ratio;    /* img_scale / a model's PIXSCALE beyond
                              pixscale_tolerance with resample off, or 0 */
    const sv_model *scale_model; /* that model                           */
} exposure_view;

/* Monotonic seconds. */
double stage_now(void);

/* A message to the host's log (dia_host_services.log), if it has one. */
void stage_log(const sv_stage *s, dia_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The host's progress callback (dia_host_services.progress, ABI 1.2), if
 * it has one: rows_done of rows_total rows of the current call are done. */
void stage_progress(const sv_stage *s, int64_t rows_done, int64_t rows_total);

/* Given v->fr (pixels, sizes, mask) and the three images' headers
 * (hdr, ncards; names: for messages), set v's WCS, pixel scale and
 * resampling steps, after the same-grid check (sv_grid_check).  Warns once
 * (stage_log) when the images' scale is not the models'.  Returns 0 or a
 * status with err set; stage_view_free releases v either way. */
int stage_view_prepare(sv_stage *s, exposure_view *v, const char *const hdr[3],
                       const int ncards[3], const char *const names[3], sv_error *err);
void stage_view_free(exposure_view *v);

/* Score n detections at pixel positions x0, y0 (0-based) of the exposure
 * v, with their features (feat1: rb model's, feat2: class model's, row
 * major, or NULL).  neg: n bytes, non-zero for a detection whose DIFF
 * stamp is inverted (x -1, NaN stays NaN, the bad-pixel map unchanged)
 * right after cutting, before preprocessing and in the kept stamps; NULL:
 * none.  Given res with res->flags holding BADCOORD from the
 * positions; returns res filled (rb, real, prob, label, flags, badfrac,
 * xpix/ypix in the output's origin, stamps when kept).  step_buf: 2n
 * doubles of scratch.  Returns 0 or a status with err set (the host's
 * cancel flag: SV_ERR_CANCELLED). */
int stage_score_chunk(sv_stage *s, const exposure_view *v, int n, const double *x0,
                      const double *y0, const float *feat1, const float *feat2,
                      const uint8_t *neg, sv_results *res, double *step_buf, sv_error *err);

/* Provenance (stage_prov.c): the cards of every output (models,
 * configuration, thresholds, plan->what as POSITION), the science image's
 * observation cards, the job's input files with their SHA-256, the counts;
 * and the summary line of an exposure (output: its file, or NULL). */
void stage_prov_common(const sv_stage *s, const sv_det_plan *plan, const exposure_view *v,
                       sv_provenance *p);
void stage_prov_observation(sv_provenance *p, const char *hdr, int nc);
void stage_prov_inputs(const sv_stage *s, const dia_file_job *job, sv_provenance *p);
void stage_prov_counts(const sv_stage *s, sv_provenance *p);
void stage_log_summary(const sv_stage *s, const char *output);

#endif
