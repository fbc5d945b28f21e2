/* detections.c — see detections.h. */
#include "pipeline/detections.h"
#include "data/det_text.h"
#include "fits/fits_guard.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fitsio.h>

#include "fits/stamps.h"

/* ---- presets and mapping ---------------------------------------------- */

typedef struct preset_row {
    const char *name, *id, *x, *y, *ra, *dec;
    int origin;
    const char *score;    /* the survey's name of the real/bogus score     */
    int score_version;    /* 1: a <score>version column (ZTF drbversion)   */
    const char *flags;    /* the stamp-quality flags column                */
    const char *sign;     /* the detection's sign column, "" none          */
} preset_row;

/* SExtractor catalogues have a FLAGS column of their own (extraction
 * flags): the stage's are SV_FLAGS beside it. */
static const preset_row presets[] = {
    {"ztf", "candid", "xpos", "ypos", "ra", "dec", 1, "drb", 1, "FLAGS", "isdiffpos"},
    {"sextractor", "NUMBER", "X_IMAGE", "Y_IMAGE", "ALPHA_J2000", "DELTA_J2000", 1, "rb", 0,
     "SV_FLAGS", ""},
    {"lsst", "diaSourceId", "x", "y", "ra", "dec", 0, "reliability", 0, "FLAGS", ""},
    {"generic", "id", "x", "y", "ra", "dec", 1, "rb", 0, "FLAGS", ""},
};

/* The score column's name and, when the preset has one, its version
 * column's: <score>version. */
static void set_score(sv_det_map *map, const char *score, int version)
{
    snprintf(map->score, sizeof map->score, "%s", score);
    map->score_version[0] = '\0';
    if (version)
        snprintf(map->score_version, sizeof map->score_version, "%.60sversion", score);
}

int sv_det_map_preset(const char *preset, sv_det_map *map)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (preset && !strcmp(preset, presets[i].name)) {
            memset(map, 0, sizeof *map);
            snprintf(map->preset, sizeof map->preset, "%s", presets[i].name);
            snprintf(map->id, sizeof map->id, "%s", presets[i].id);
            snprintf(map->x, sizeof map->x, "%s", presets[i].x);
            snprintf(map->y, sizeof map->y, "%s", presets[i].y);
            snprintf(map->ra, sizeof map->ra, "%s", presets[i].ra);
            snprintf(map->dec, sizeof map->dec, "%s", presets[i].dec);
            map->origin = presets[i].origin;
            map->coords = SV_COORDS_AUTO;
            set_score(map, presets[i].score, presets[i].score_version);
            snprintf(map->flags, sizeof map->flags, "%s", presets[i].flags);
            snprintf(map->sign, sizeof map->sign, "%s", presets[i].sign);
            map->sign_named = 0;
            return SV_OK;
        }
    return SV_ERR_ARG;
}

int sv_det_map_from_config(const sv_stage_config *cfg, sv_det_map *map, sv_error *err)
{
    if (sv_det_map_preset(cfg->preset, map))
        return sv_error_set(err, SV_ERR_ARG, "unknown column preset '%s'", cfg->preset);
    if (cfg->col_id[0])
        snprintf(map->id, sizeof map->id, "%s", cfg->col_id);
    if (cfg->col_x[0])
        snprintf(map->x, sizeof map->x, "%s", cfg->col_x);
    if (cfg->col_y[0])
        snprintf(map->y, sizeof map->y, "%s", cfg->col_y);
    if (cfg->col_ra[0])
        snprintf(map->ra, sizeof map->ra, "%s", cfg->col_ra);
    if (cfg->col_dec[0])
        snprintf(map->dec, sizeof map->dec, "%s", cfg->col_dec);
    if (!strcasecmp(cfg->col_sign, "none")) {
        map->sign[0] = '\0';
        map->sign_named = 0;
    } else if (cfg->col_sign[0]) {
        snprintf(map->sign, sizeof map->sign, "%s", cfg->col_sign);
        map->sign_named = 1;
    }
    if (cfg->pixel_origin == 0 || cfg->pixel_origin == 1)
        map->origin = cfg->pixel_origin;
    if (cfg->rb_column[0])
        set_score(map, cfg->rb_column, map->score_version[0] != '\0');
    if (!strcmp(cfg->coords, "pixel"))
        map->coords = SV_COORDS_PIXEL;
    else if (!strcmp(cfg->coords, "sky"))
        map->coords = SV_COORDS_SKY;
    else if (!cfg->coords[0] || !strcmp(cfg->coords, "auto"))
        map->coords = SV_COORDS_AUTO;
    else
        return sv_error_set(err, SV_ERR_ARG, "coords: '%s' is not auto, pixel or sky",
                            cfg->coords);
    return SV_OK;
}

static int find_col(const sv_col_source *s, const char *name)
{
    if (!name || !*name)
        return -1;
    for (int i = 0; i < s->ncols; i++) {
        const char *n = s->name(s->src, i);
        if (n && !strcasecmp(n, name))
            return i;
    }
    return -1;
}

static int need_numeric(const sv_col_source *s, int col, const char *role, sv_error *err)
{
    if (s->numeric(s->src, col))
        return SV_OK;
    return sv_error_set(err, SV_ERR_SHAPE,
                        "%s: column '%s' (%s) is not a scalar numeric column", s->origin,
                        s->name(s->src, col), role);
}

int sv_det_plan_make(const sv_det_map *map, const sv_col_source *src, int have_wcs,
                     const sv_model *feature_model, sv_det_plan *plan, sv_error *err)
{
    memset(plan, 0, sizeof *plan);
    int cx = find_col(src, map->x), cy = find_col(src, map->y);
    int cra = find_col(src, map->ra), cdec = find_col(src, map->dec);
    const char *o = src->origin ? src->origin : "detections";
    if (map->coords == SV_COORDS_PIXEL || (map->coords == SV_COORDS_AUTO && cx >= 0 && cy >= 0)) {
        if (cx < 0 || cy < 0)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "%s: no column '%s' for the %s pixel position (coords = pixel, "
                                "preset %s; set col_x/col_y)",
                                o, cx < 0 ? map->x : map->y, cx < 0 ? "x" : "y", map->preset);
        plan->use_sky = 0;
        plan->col_a = cx;
        plan->col_b = cy;
    } else if (map->coords == SV_COORDS_SKY || (cra >= 0 && cdec >= 0)) {
        if (cra < 0 || cdec < 0)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "%s: no column '%s' for the %s (coords = sky, preset %s; set "
                                "col_ra/col_dec)",
                                o, cra < 0 ? map->ra : map->dec,
                                cra < 0 ? "right ascension" : "declination", map->preset);
        if (!have_wcs)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "%s: positions must come from the sky columns '%s','%s' but "
                                "the images have no usable WCS (give x/y columns, or images "
                                "with a WCS)",
                                o, src->name(src->src, cra), src->name(src->src, cdec));
        plan->use_sky = 1;
        plan->col_a = cra;
        plan->col_b = cdec;
    } else {
        return sv_error_set(err, SV_ERR_SHAPE,
                            "%s: no position columns: neither '%s','%s' (pixels) nor "
                            "'%s','%s' (sky) %s (preset %s; set col_x/col_y or "
                            "col_ra/col_dec)",
                            o, map->x, map->y, map->ra, map->dec,
                            (cx >= 0 || cy >= 0 || cra >= 0 || cdec >= 0) ? "are both present"
                                                                           : "exist",
                            map->preset);
    }
    int st = need_numeric(src, plan->col_a, plan->use_sky ? "right ascension" : "x", err);
    if (!st)
        st = need_numeric(src, plan->col_b, plan->use_sky ? "declination" : "y", err);
    if (st)
        return st;
    plan->col_id = find_col(src, map->id);
    if (plan->col_id >= 0 && !src->integer(src->src, plan->col_id))
        plan->col_id = -1;
    plan->col_sign = find_col(src, map->sign);
    plan->sign_kind = 0;
    if (plan->col_sign < 0 && map->sign_named)
        return sv_error_set(err, SV_ERR_SHAPE,
                            "%s: no column '%s' for the detections' sign (col_sign; "
                            "col_sign = none uses none)",
                            o, map->sign);
    if (plan->col_sign >= 0) {
        int kind = src->text ? src->text(src->src, plan->col_sign) : 0;
        if (kind)
            plan->sign_kind = kind;
        else if (!src->numeric(src->src, plan->col_sign))
            return sv_error_set(err, SV_ERR_SHAPE,
                                "%s: column '%s' (the detections' sign, col_sign) is not a "
                                "scalar numeric, text or logical column",
                                o, src->name(src->src, plan->col_sign));
    }
    if (plan->use_sky)
        snprintf(plan->what, sizeof plan->what, "sky positions from '%s','%s' through the WCS",
                 src->name(src->src, cra), src->name(src->src, cdec));
    else
        snprintf(plan->what, sizeof plan->what, "pixel positions from '%s','%s' (origin %d)",
                 src->name(src->src, cx), src->name(src->src, cy), map->origin);
    if (feature_model) {
        plan->n_feat = feature_model->n_features;
        for (int k = 0; k < plan->n_feat; k++) {
            int c = find_col(src, feature_model->features[k]);
            if (c < 0)
                return sv_error_set(err, SV_ERR_SHAPE,
                                    "%s: no column '%s', a feature model '%s' needs", o,
                                    feature_model->features[k], feature_model->name);
            if ((st = need_numeric(src, c, "a model feature", err)))
                return st;
            plan->col_feat[k] = c;
        }
    }
    return SV_OK;
}

int sv_det_sign_text(const char *text)
{
    if (!text)
        return 0;
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    static const char *const pos[] = {"t", "true", "1"}, *const neg[] = {"f", "false", "0"};
    for (size_t k = 0; k < 3; k++) {
        if (strlen(pos[k]) == len && !strncasecmp(text, pos[k], len))
            return 1;
        if (strlen(neg[k]) == len && !strncasecmp(text, neg[k], len))
            return -1;
    }
    return 0;
}

int sv_det_sign_number(double v)
{
    if (isnan(v))
        return 0;
    return v > 0 ? 1 : -1;
}

int sv_det_positions(const sv_det_plan *plan, const sv_det_map *map, sv_wcs *wcs, int n,
                     const double *a, const double *b, double *x0, double *y0,
                     uint32_t *flags)
{
    int bad = 0;
    if (plan->use_sky) {
        if (!wcs) {
            for (int i = 0; i < n; i++) {
                x0[i] = y0[i] = NAN;
                flags[i] |= SV_FLAG_BADCOORD;
            }
            return n;
        }
        sv_wcs_sky2pix(wcs, n, a, b, x0, y0);
    } else {
        for (int i = 0; i < n; i++) {
            x0[i] = a[i] - map->origin;
            y0[i] = b[i] - map->origin;
        }
    }
    for (int i = 0; i < n; i++)
        if (!isfinite(x0[i]) || !isfinite(y0[i])) {
            x0[i] = y0[i] = NAN;
            flags[i] |= SV_FLAG_BADCOORD;
            bad++;
        }
    return bad;
}
