/* stage_params.c — see stage_params.h. */
#include "pipeline/stage_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dia_host.h"
#include "core/params_hash.h"

const dia_param_desc sv_stage_params[SV_STAGE_N_PARAMS] = {
    {"rb_model", DIA_PARAM_PATH, "", 0, 0, NULL,
     "real/bogus model file (FITS); empty: the shipped default model"},
    {"class_model", DIA_PARAM_PATH, "", 0, 0, NULL,
     "transient class model file (FITS); empty: no classification"},
    {"preset", DIA_PARAM_CHOICE, "ztf", 0, 0, "ztf|sextractor|lsst|generic",
     "detection column-name preset"},
    {"col_id", DIA_PARAM_STRING, "", 0, 0, NULL,
     "identifier column of the detection table (empty: the preset's)"},
    {"col_x", DIA_PARAM_STRING, "", 0, 0, NULL,
     "x pixel column (empty: the preset's)"},
    {"col_y", DIA_PARAM_STRING, "", 0, 0, NULL,
     "y pixel column (empty: the preset's)"},
    {"col_ra", DIA_PARAM_STRING, "", 0, 0, NULL,
     "right ascension column, degrees (empty: the preset's)"},
    {"col_dec", DIA_PARAM_STRING, "", 0, 0, NULL,
     "declination column, degrees (empty: the preset's)"},
    {"col_sign", DIA_PARAM_STRING, "", 0, 0, NULL,
     "the detections' sign column: text t/f, true/false, 1/0, a logical, or a number "
     "(> 0 positive); empty: the preset's (ztf isdiffpos, when present; others none); "
     "none: no sign column"},
    {"pixel_origin", DIA_PARAM_CHOICE, "preset", 0, 0, "preset|0|1",
     "pixel coordinate of the first pixel's centre in the x/y columns"},
    {"coords", DIA_PARAM_CHOICE, "auto", 0, 0, "auto|pixel|sky",
     "positions from x/y, from ra/dec through the WCS, or auto: x/y when present"},
    {"diff_positive", DIA_PARAM_CHOICE, "auto", 0, 0, "auto|yes|no",
     "invert the difference (x -1) in the stamp of a negative detection, as ZTF's alert "
     "cutouts show it; auto: yes when a sign column is in use (ztf isdiffpos), else no"},
    {"rb_column", DIA_PARAM_STRING, "", 0, 0, NULL,
     "name of the real/bogus score column in the output; empty: the preset's (ztf drb "
     "with drbversion, lsst reliability, sextractor and generic rb)"},
    {"rb_threshold", DIA_PARAM_REAL, "0.5", 0, 1, NULL,
     "score at or above which a detection is labelled real"},
    {"nan_frac_max", DIA_PARAM_REAL, "0.25", 0, 1, NULL,
     "flag a stamp whose fraction of NaN or masked pixels exceeds this"},
    {"mask_bits", DIA_PARAM_INT, "4294967295", 0, 4294967295.0, NULL,
     "mask bits that make a pixel bad (decimal; default: any bit)"},
    {"veto_flags", DIA_PARAM_INT, "68", 0, 4294967295.0, NULL,
     "FLAGS bits that keep a detection from REAL whatever its score (decimal; "
     "default 68 = MASKED 4 + BADCENTRE 64: its own pixel masked or NaN)"},
    {"pixscale_tolerance", DIA_PARAM_REAL, "0.1", 0, 100, NULL,
     "warn when the images' and the model's pixel scales differ by more than this "
     "fraction and resample is false"},
    {"stamp_size", DIA_PARAM_INT, "0", 0, 1024, NULL,
     "stamp side in pixels; 0: the model's; else it must equal the model's"},
    {"channels", DIA_PARAM_STRING, "", 0, 0, NULL,
     "stamp channel order, e.g. SCI,REF,DIFF; empty: the model's; else it must match"},
    {"save_stamps", DIA_PARAM_CHOICE, "none", 0, 0, "none|columns|extension",
     "also write the stamp triplets: as array columns or a STAMPS extension"},
    {"compress_stamps", DIA_PARAM_BOOL, "false", 0, 0, NULL,
     "with save_stamps = extension: write the STAMPS table tile-compressed (lossless; "
     "stampvet reads it back as it is)"},
    {"resample", DIA_PARAM_BOOL, "false", 0, 0, NULL,
     "resample stamps through the WCS to the model's pixel scale"},
    {"resample_kernel", DIA_PARAM_CHOICE, "lanczos3", 0, 0, "lanczos3|bilinear",
     "interpolation kernel of resampling (widened when shrinking)"},
    {"grid_tolerance", DIA_PARAM_REAL, "0.1", 0, 100, NULL,
     "largest allowed WCS disagreement between sci, ref and diff, pixels"},
    {"threads", DIA_PARAM_INT, "1", 1, 256, NULL,
     "worker threads of this instance"},
    {"batch", DIA_PARAM_INT, "64", 1, 4096, NULL,
     "stamps per inference batch"},
    {"lc_model", DIA_PARAM_PATH, "", 0, 0, NULL,
     "light-curve model file (FITS); empty: no light-curve classification"},
    {"lc_history", DIA_PARAM_PATH, "", 0, 0, NULL,
     "light-curve table of the detections' histories, used when the host gives none"},
    {"lc_key", DIA_PARAM_STRING, "", 0, 0, NULL,
     "detection column naming a history (empty: objectId, candid or id)"},
    {"host_command", DIA_PARAM_STRING, "", 0, 0, NULL,
     "the host's command line or job, recorded as SVCMD in every output (provenance only: "
     "not part of SVCFGHSH)"},
};
const int sv_stage_n_params = SV_STAGE_N_PARAMS;

static const char *value(const dia_kv *kv, size_t n, const char *key)
{
    return dia_params_lookup(sv_stage_params, sv_stage_n_params, kv, n, key);
}

static void copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

int sv_stage_config_parse(const dia_kv *kv, size_t n, sv_stage_config *cfg,
                          sv_error *err)
{
    char why[512];
    if (dia_params_check(sv_stage_params, sv_stage_n_params, kv, n, why,
                         sizeof why) != DIA_OK)
        return sv_error_set(err, SV_ERR_ARG, "%s", why);
    memset(cfg, 0, sizeof *cfg);
    copy(cfg->rb_model, sizeof cfg->rb_model, value(kv, n, "rb_model"));
    copy(cfg->class_model, sizeof cfg->class_model, value(kv, n, "class_model"));
    copy(cfg->preset, sizeof cfg->preset, value(kv, n, "preset"));
    copy(cfg->col_id, sizeof cfg->col_id, value(kv, n, "col_id"));
    copy(cfg->col_x, sizeof cfg->col_x, value(kv, n, "col_x"));
    copy(cfg->col_y, sizeof cfg->col_y, value(kv, n, "col_y"));
    copy(cfg->col_ra, sizeof cfg->col_ra, value(kv, n, "col_ra"));
    copy(cfg->col_dec, sizeof cfg->col_dec, value(kv, n, "col_dec"));
    const char *origin = value(kv, n, "pixel_origin");
    cfg->pixel_origin = strcmp(origin, "preset") == 0 ? -1 : atoi(origin);
    copy(cfg->col_sign, sizeof cfg->col_sign, value(kv, n, "col_sign"));
    copy(cfg->coords, sizeof cfg->coords, value(kv, n, "coords"));
    copy(cfg->diff_positive, sizeof cfg->diff_positive, value(kv, n, "diff_positive"));
    copy(cfg->rb_column, sizeof cfg->rb_column, value(kv, n, "rb_column"));
    cfg->rb_threshold = strtod(value(kv, n, "rb_threshold"), NULL);
    cfg->nan_frac_max = strtod(value(kv, n, "nan_frac_max"), NULL);
    cfg->mask_bits = (uint32_t)strtoull(value(kv, n, "mask_bits"), NULL, 10);
    cfg->veto_flags = (uint32_t)strtoull(value(kv, n, "veto_flags"), NULL, 10);
    cfg->pixscale_tolerance = strtod(value(kv, n, "pixscale_tolerance"), NULL);
    cfg->stamp_size = atoi(value(kv, n, "stamp_size"));
    copy(cfg->channels, sizeof cfg->channels, value(kv, n, "channels"));
    copy(cfg->save_stamps, sizeof cfg->save_stamps, value(kv, n, "save_stamps"));
    cfg->resample = dia_params_parse_bool(value(kv, n, "resample"));
    cfg->compress_stamps = dia_params_parse_bool(value(kv, n, "compress_stamps"));
    copy(cfg->resample_kernel, sizeof cfg->resample_kernel, value(kv, n, "resample_kernel"));
    cfg->grid_tolerance = strtod(value(kv, n, "grid_tolerance"), NULL);
    cfg->threads = atoi(value(kv, n, "threads"));
    cfg->batch = atoi(value(kv, n, "batch"));
    sv_params_hash(sv_stage_params, sv_stage_n_params, kv, n, cfg->config_hash);
    copy(cfg->lc_model, sizeof cfg->lc_model, value(kv, n, "lc_model"));
    copy(cfg->lc_history, sizeof cfg->lc_history, value(kv, n, "lc_history"));
    copy(cfg->lc_key, sizeof cfg->lc_key, value(kv, n, "lc_key"));
    copy(cfg->host_command, sizeof cfg->host_command, value(kv, n, "host_command"));
    size_t used = 0;
    for (size_t i = 0; i < n && used + 1 < sizeof cfg->config_text; i++) {
        if (!strcmp(kv[i].key, "host_command"))
            continue; /* SVCMD */
        int w = snprintf(cfg->config_text + used, sizeof cfg->config_text - used, "%s%s=%s",
                         used ? "; " : "", kv[i].key, kv[i].value ? kv[i].value : "");
        used += w > 0 ? (size_t)w : 0;
    }
    return SV_OK;
}
