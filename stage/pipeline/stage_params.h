/* stage_params.h — stampvet's parameter table (the dia_stage.h contract).
 *
 * The table is static and shared by the plug-in descriptor, the CLI's
 * `run --dump-config` and configuration files.  sv_stage_config holds the
 * parsed values.  Thread safety: reentrant.
 */
#ifndef SV_STAGE_PARAMS_H
#define SV_STAGE_PARAMS_H

#include <stdint.h>

#include "dia_stage.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_STAGE_N_PARAMS 31
extern const dia_param_desc sv_stage_params[SV_STAGE_N_PARAMS];
extern const int sv_stage_n_params;

typedef struct sv_stage_config {
    char rb_model[1024];       /* real/bogus model file ("" = default)     */
    char class_model[1024];    /* class model file ("" = none)             */
    char preset[16];           /* ztf | sextractor | lsst | generic        */
    char col_id[72], col_x[72], col_y[72], col_ra[72], col_dec[72];
    int pixel_origin;          /* 0 or 1; -1 = the preset's                */
    char col_sign[72];         /* the detections' sign column ("" = the
                                  preset's, "none" = none: detections.h)    */
    char coords[8];            /* auto | pixel | sky                        */
    char diff_positive[8];     /* auto | yes | no: invert DIFF in the stamp
                                  of a negative detection (auto: yes when a
                                  sign column is in use)                    */
    char rb_column[72];        /* output column name of the score ("" = the
                                  preset's: detections.h)                  */
    double rb_threshold;       /* recorded in provenance; sets a label      */
    double nan_frac_max;       /* flag above this fraction of bad pixels   */
    uint32_t mask_bits;        /* mask bits that make a pixel bad          */
    uint32_t veto_flags;       /* FLAGS bits that force REAL = 0            */
    double pixscale_tolerance; /* relative image/model scale mismatch that
                                  warns when resample is off                */
    int stamp_size;            /* 0 = the model's                          */
    char channels[64];         /* "" = the model's                         */
    char save_stamps[16];      /* none | columns | extension               */
    int compress_stamps;       /* STAMPS extension tile-compressed         */
    int resample;              /* resample to the model's pixel scale      */
    char resample_kernel[16];  /* lanczos3 | bilinear                      */
    double grid_tolerance;     /* pixels: max WCS disagreement sci/ref/diff*/
    int threads;
    int batch;
    char config_hash[65];      /* sv_params_hash of the configuration,
                                  written as SVCFGHSH in every output     */
    char lc_model[1024];       /* light-curve model file ("" = none)        */
    char lc_history[1024];     /* light-curve table for file jobs / when the
                                  host gives no history ("" = none)         */
    char lc_key[72];           /* detection column naming a history ("" =
                                  objectId, candid or id)                   */
    char config_text[512];     /* the key=value pairs given, "; "-separated,
                                  host_command excepted (written as SVCONFIG;
                                  cut at 511 bytes)                         */
    char host_command[512];    /* the host's command line ("" = none given;
                                  written as SVCMD)                         */
} sv_stage_config;

/* Validate and parse n key=value pairs (unknown keys, bad values: errors
 * naming the key).  Returns 0 or SV_ERR_ARG with err set. */
int sv_stage_config_parse(const dia_kv *kv, size_t n, sv_stage_config *cfg,
                          sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
