/* stage_view.c — an exposure as the stage sees it (stage_internal.h). */
#include "pipeline/stage_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void stage_view_free(exposure_view *v)
{
    for (int c = 0; c < 3; c++)
        sv_wcs_free(v->wcs[c]);
    memset(v, 0, sizeof *v);
}

/* WCS, same-grid check, resampling steps.  names: for messages. */
int stage_view_prepare(sv_stage *s, exposure_view *v, const char *const hdr[3],
                        const int ncards[3], const char *const names[3], sv_error *err)
{
    static const char *const role[3] = {"science", "reference", "difference"};
    char why[3][SV_ERROR_TEXT_MAX];
    for (int c = 0; c < 3; c++) {
        sv_error e;
        sv_error_clear(&e);
        why[c][0] = '\0';
        if (sv_wcs_from_header(hdr[c], ncards[c], names[c], &v->wcs[c], &e))
            snprintf(why[c], sizeof why[c], "%s", e.text);
    }
    int32_t w[3] = {v->fr.width, v->fr.width, v->fr.width};
    int32_t h[3] = {v->fr.height, v->fr.height, v->fr.height};
    int compared = 0;
    int st = sv_grid_check(w, h, v->wcs, s->cfg.grid_tolerance, names, &compared, err);
    if (st)
        return st;
    for (int c = 0; c < 3; c++)
        if (!v->wcs[c])
            stage_log(s, strstr(why[c], "broken") ? DIA_LOG_WARNING : DIA_LOG_INFO,
                      "%s image: %s%s", role[c], why[c],
                      compared < 2 ? "; the same-grid check used the image sizes only" : "");
    v->pos = v->wcs[SV_CH_DIFF] ? v->wcs[SV_CH_DIFF]
             : v->wcs[SV_CH_SCI] ? v->wcs[SV_CH_SCI]
                                 : v->wcs[SV_CH_REF];
    v->step_rb = v->step_cls = 1.0;
    v->img_scale = 0;
    if (v->pos) {
        double sc = sv_wcs_pixel_scale(v->pos, (v->fr.width - 1) / 2.0,
                                       (v->fr.height - 1) / 2.0);
        if (isfinite(sc))
            v->img_scale = sc;
    }
    /* the model sees this exposure's pixels at their own scale: warn once
     * per exposure when that is not the scale it was trained at */
    const sv_model *ms[2] = {s->rb, s->cls};
    for (int i = 0; i < 2 && !s->cfg.resample && v->img_scale > 0 && !v->scale_model; i++) {
        double ps = ms[i] ? ms[i]->pre.pixel_scale : 0;
        if (ps > 0 && fabs(v->img_scale / ps - 1.0) > s->cfg.pixscale_tolerance) {
            v->scale_ratio = v->img_scale / ps;
            v->scale_model = ms[i];
            stage_log(s, DIA_LOG_WARNING,
                      "%s: the images are at %.4g\"/pixel but model '%s' was trained at "
                      "%.4g\"/pixel (PIXSCALE), a factor %.3g beyond pixscale_tolerance = %g: "
                      "its scores are not calibrated here; set resample = true (run --set "
                      "resample=true) to cut the stamps at the model's scale",
                      names[SV_CH_DIFF], v->img_scale, ms[i]->name, ps, v->scale_ratio,
                      s->cfg.pixscale_tolerance);
        }
    }
    if (s->cfg.resample) {
        if (!v->pos)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "resample = true needs the images' WCS for their pixel scale, "
                                "but none has a usable one (%s)",
                                why[SV_CH_DIFF]);
        if (!(v->img_scale > 0))
            return sv_error_set(err, SV_ERR_SHAPE,
                                "%s: the WCS gives no pixel scale at the image centre",
                                names[SV_CH_DIFF]);
        v->model_scale_rb = s->rb->pre.pixel_scale;
        v->step_rb = v->model_scale_rb / v->img_scale;
        v->model_scale_cls = s->cls ? s->cls->pre.pixel_scale : v->model_scale_rb;
        v->step_cls = v->model_scale_cls / v->img_scale;
        double lo = v->step_rb < v->step_cls ? v->step_rb : v->step_cls;
        double hi = v->step_rb > v->step_cls ? v->step_rb : v->step_cls;
        if (lo < SV_RESAMPLE_STEP_MIN || hi > SV_RESAMPLE_STEP_MAX)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "resampling from %.4g\"/pixel (%s) to the model's %.4g\"/pixel "
                                "is a factor %.3g, outside %.4g..%g",
                                v->img_scale, names[SV_CH_DIFF],
                                v->step_rb == hi ? v->model_scale_rb : v->model_scale_cls,
                                v->step_rb == hi ? v->step_rb : v->step_cls,
                                SV_RESAMPLE_STEP_MIN, SV_RESAMPLE_STEP_MAX);
    }
    return SV_OK;
}
