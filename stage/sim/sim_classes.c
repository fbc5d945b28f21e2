/* sim_classes.c — classes, schemes, configuration and injection (see
 * sim_classes.h and doc/simulation.md). */
#include "sim/sim_classes.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const class_names[SV_SIM_NCLASS] = {"transient", "variable", "asteroid",
                                                        "bogus"};
static const char *const sub_names[SV_SIM_NSUB] = {
    "sn_host",   "sn_nuclear", "sn_hostless", "var_star",   "agn",
    "asteroid",  "ast_trail",  "dipole",      "psf_resid",  "cosmic_ray",
    "hot_pixel", "bad_column", "saturated",   "noise_peak",
};

const char *sv_sim_class_name(sv_sim_class c)
{
    return c >= 0 && c < SV_SIM_NCLASS ? class_names[c] : "unknown";
}

const char *sv_sim_subtype_name(sv_sim_subtype t)
{
    return t >= 0 && t < SV_SIM_NSUB ? sub_names[t] : "unknown";
}

sv_sim_class sv_sim_subtype_class(sv_sim_subtype t)
{
    if (t <= SV_SIM_SN_HOSTLESS)
        return SV_SIM_TRANSIENT;
    if (t <= SV_SIM_AGN)
        return SV_SIM_VARIABLE;
    if (t <= SV_SIM_ASTEROID_TRAIL)
        return SV_SIM_ASTEROID;
    return SV_SIM_BOGUS;
}

int sv_sim_scheme_parse(const char *text, sv_sim_scheme *scheme, sv_error *err)
{
    if (text && (!strcasecmp(text, "rb") || !strcasecmp(text, "real-bogus") ||
                 !strcasecmp(text, "realbogus")))
        *scheme = SV_SIM_SCHEME_RB;
    else if (text && (!strcasecmp(text, "3class") || !strcmp(text, "3")))
        *scheme = SV_SIM_SCHEME_3CLASS;
    else if (text && (!strcasecmp(text, "4class") || !strcmp(text, "4")))
        *scheme = SV_SIM_SCHEME_4CLASS;
    else
        return sv_error_set(err, SV_ERR_ARG, "unknown scheme '%s' (rb, 3class, 4class)",
                            text ? text : "");
    return 0;
}

const char *sv_sim_scheme_name(sv_sim_scheme scheme)
{
    return scheme == SV_SIM_SCHEME_RB ? "rb" : scheme == SV_SIM_SCHEME_3CLASS ? "3class" : "4class";
}

int sv_sim_scheme_classes(sv_sim_scheme scheme, const char *names[SV_SIM_NCLASS])
{
    switch (scheme) {
    case SV_SIM_SCHEME_RB:
        names[0] = "bogus";
        names[1] = "real";
        return 2;
    case SV_SIM_SCHEME_3CLASS:
        for (int i = 0; i < 3; i++)
            names[i] = class_names[i];
        return 3;
    default:
        for (int i = 0; i < 4; i++)
            names[i] = class_names[i];
        return 4;
    }
}

int sv_sim_scheme_label(sv_sim_scheme scheme, sv_sim_class c)
{
    switch (scheme) {
    case SV_SIM_SCHEME_RB:
        return c == SV_SIM_BOGUS ? 0 : 1;
    case SV_SIM_SCHEME_3CLASS:
        return c == SV_SIM_BOGUS ? -1 : (int)c;
    default:
        return (int)c;
    }
}

void sv_sim_config_default(sv_sim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->survey, "ztf");
    cfg->seed = 1;
    cfg->snr_min = 5.0;
    cfg->snr_max = 100.0;
    cfg->snr_slope = 1.5;
    cfg->mag_min = cfg->mag_max = NAN;
    for (int i = 0; i < SV_SIM_NCLASS; i++)
        cfg->class_weight[i] = 1.0;
    /* noise_peak 2: the rate of pure-noise 5-sigma peaks (doc/simulation.md) */
    static const double bw[SV_SIM_NBOGUS] = {20, 20, 15, 10, 5, 10, 2};
    memcpy(cfg->bogus_weight, bw, sizeof bw);
}

int sv_sim_parse_weights(const char *text, double *w, int n, const char *what, sv_error *err)
{
    const char *p = text ? text : "";
    double sum = 0;
    for (int i = 0; i < n; i++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0)
            return sv_error_set(err, SV_ERR_ARG,
                                "%s '%s': expected %d non-negative numbers separated by commas",
                                what, text ? text : "", n);
        w[i] = v;
        sum += v;
        p = end;
        if (i < n - 1) {
            if (*p != ',')
                return sv_error_set(err, SV_ERR_ARG, "%s '%s': expected %d numbers, got %d",
                                    what, text ? text : "", n, i + 1);
            p++;
        }
    }
    if (*p)
        return sv_error_set(err, SV_ERR_ARG, "%s '%s': more than %d numbers", what,
                            text ? text : "", n);
    if (sum <= 0)
        return sv_error_set(err, SV_ERR_ARG, "%s '%s': all weights are zero", what,
                            text ? text : "");
    return 0;
}

int sv_sim_config_check(const sv_sim_config *cfg, sv_error *err)
{
    sv_sim_survey s;
    if (sv_sim_survey_get(cfg->survey, &s, err))
        return SV_ERR_ARG;
    int bl[SV_SIM_MAX_BANDS];
    if (sv_sim_survey_band_list(&s, cfg->band, bl) < 0) {
        char list[64] = "";
        for (int i = 0; i < s.nband; i++) {
            strncat(list, s.band[i].name, sizeof list - strlen(list) - 3);
            if (i < s.nband - 1)
                strcat(list, ", ");
        }
        return sv_error_set(err, SV_ERR_ARG, "survey %s has no band '%s' (bands: %s; a list: comma-separated, each once)", s.name,
                            cfg->band, list);
    }
    if (!(cfg->snr_min > 0) || !(cfg->snr_max > cfg->snr_min) || !isfinite(cfg->snr_max))
        return sv_error_set(err, SV_ERR_ARG, "S/N range %g..%g: need 0 < min < max",
                            cfg->snr_min, cfg->snr_max);
    if (!(cfg->snr_slope >= 0) || cfg->snr_slope > 10)
        return sv_error_set(err, SV_ERR_ARG, "S/N slope %g outside 0..10", cfg->snr_slope);
    int mag_mode = isfinite(cfg->mag_min) || isfinite(cfg->mag_max);
    if (mag_mode && !(isfinite(cfg->mag_min) && isfinite(cfg->mag_max) &&
                      cfg->mag_max > cfg->mag_min))
        return sv_error_set(err, SV_ERR_ARG, "magnitude range %g..%g: need min < max",
                            cfg->mag_min, cfg->mag_max);
    double sc = 0, sb = 0;
    for (int i = 0; i < SV_SIM_NCLASS; i++) {
        if (!(cfg->class_weight[i] >= 0))
            return sv_error_set(err, SV_ERR_ARG, "negative class weight");
        sc += cfg->class_weight[i];
    }
    for (int i = 0; i < SV_SIM_NBOGUS; i++) {
        if (!(cfg->bogus_weight[i] >= 0))
            return sv_error_set(err, SV_ERR_ARG, "negative bogus weight");
        sb += cfg->bogus_weight[i];
    }
    if (sc <= 0)
        return sv_error_set(err, SV_ERR_ARG, "all class weights are zero");
    if (cfg->class_weight[SV_SIM_BOGUS] > 0 && sb <= 0)
        return sv_error_set(err, SV_ERR_ARG, "bogus requested but all bogus weights are zero");
    return 0;
}

sv_sim_subtype sim_draw_subtype(const sv_sim_config *cfg, sv_sim_class c, gsl_rng *r)
{
    double u = gsl_rng_uniform(r);
    switch (c) {
    case SV_SIM_TRANSIENT:
        return u < 0.65 ? SV_SIM_SN_HOST : u < 0.75 ? SV_SIM_SN_NUCLEAR : SV_SIM_SN_HOSTLESS;
    case SV_SIM_VARIABLE:
        return u < 0.6 ? SV_SIM_VAR_STAR : SV_SIM_AGN;
    case SV_SIM_ASTEROID:
        return SV_SIM_ASTEROID_POINT; /* trailed or not: decided by its rate */
    default: {
        double sum = 0, acc = 0;
        for (int i = 0; i < SV_SIM_NBOGUS; i++)
            sum += cfg->bogus_weight[i];
        u *= sum;
        for (int i = 0; i < SV_SIM_NBOGUS; i++) {
            acc += cfg->bogus_weight[i];
            if (u < acc && cfg->bogus_weight[i] > 0)
                return (sv_sim_subtype)(SV_SIM_DIPOLE + i);
        }
        for (int i = SV_SIM_NBOGUS - 1; i >= 0; i--)
            if (cfg->bogus_weight[i] > 0)
                return (sv_sim_subtype)(SV_SIM_DIPOLE + i);
        return SV_SIM_NOISE_PEAK;
    }
    }
}

double sim_draw_snr(const sv_sim_config *cfg, gsl_rng *r)
{
    double a = cfg->snr_min, b = cfg->snr_max, u = gsl_rng_uniform(r);
    if (cfg->snr_slope <= 0)
        return a * pow(b / a, u);
    double k = cfg->snr_slope, ak = pow(a, -k), bk = pow(b, -k);
    return pow(ak - u * (ak - bk), -1.0 / k);
}

static double uniform(gsl_rng *r, double a, double b) { return a + (b - a) * gsl_rng_uniform(r); }
static double loguniform(gsl_rng *r, double a, double b)
{
    return a * pow(b / a, gsl_rng_uniform(r));
}

/* Flux of a real detection at (x, y): from the magnitude range or from the
 * S/N distribution given what the frame already holds there. */
static double real_flux(sim_frame *fr, const sv_sim_config *cfg, double x, double y,
                        gsl_rng *r, double *snr_drawn)
{
    if (isfinite(cfg->mag_min) && isfinite(cfg->mag_max)) {
        *snr_drawn = NAN;
        return sv_sim_flux(fr->zp, uniform(r, cfg->mag_min, cfg->mag_max));
    }
    *snr_drawn = sim_draw_snr(cfg, r);
    return sim_frame_flux_for_snr(fr, x, y, *snr_drawn);
}

static int add_host(sim_frame *fr, gsl_rng *r, double gx, double gy, double mag_hi,
                    sim_sersic *g)
{
    double mag = uniform(r, 15.5, mag_hi);
    sim_scene_galaxy_shape(fr->s, mag, r, g);
    g->x = gx;
    g->y = gy;
    g->flux = sv_sim_flux(fr->zp, mag);
    return sim_frame_add_galaxy(fr, g, 1.0, 1.0);
}

int sim_inject(sim_frame *fr, const sv_sim_config *cfg, sv_sim_subtype sub, double x, double y,
               gsl_rng *r, sim_truth *t)
{
    const sv_sim_survey *s = fr->s;
    double zp = fr->zp, depth = fr->cond.depth, sat = fr->cond.sat_mag;
    double sky_sd = sqrt(sim_noise_var(&fr->nsci, fr->cond.sky_sci));
    double fwhm = fr->psf_sci.fwhm;
    double snr;
    t->cls = sv_sim_subtype_class(sub);
    t->sub = sub;
    t->x = t->nx = x;
    t->y = t->ny = y;
    t->sign = 1;
    t->rb = 2;
    t->true_mag = NAN;
    switch (sub) {
    case SV_SIM_SN_HOST:
    case SV_SIM_SN_NUCLEAR: {
        sim_sersic g;
        double ox, oy;
        /* shape first (it sets where the supernova falls), then place the
         * host so that the supernova is at (x, y) */
        double mag = uniform(r, 15.5, depth + 1.0);
        sim_scene_galaxy_shape(s, mag, r, &g);
        g.x = g.y = 0;
        g.flux = sv_sim_flux(zp, mag);
        if (sub == SV_SIM_SN_HOST)
            sim_sersic_sample_point(&g, r, &ox, &oy);
        else {
            ox = gsl_ran_gaussian(r, 0.1);
            oy = gsl_ran_gaussian(r, 0.1);
        }
        g.x = x - ox;
        g.y = y - oy;
        if (sim_frame_add_galaxy(fr, &g, 1.0, 1.0))
            return -1;
    }
    /* fall through */
    case SV_SIM_SN_HOSTLESS: {
        double f = real_flux(fr, cfg, x, y, r, &snr);
        sim_frame_add_point(fr, x, y, f, 0);
        t->true_mag = sv_sim_mag(zp, f);
        break;
    }
    case SV_SIM_VAR_STAR:
    case SV_SIM_AGN: {
        t->sign = gsl_rng_uniform(r) < 0.5 ? 1 : -1;
        if (sub == SV_SIM_AGN) {
            sim_sersic g;
            if (add_host(fr, r, x + gsl_ran_gaussian(r, 0.05), y + gsl_ran_gaussian(r, 0.05),
                         depth, &g))
                return -1;
        }
        double ratio = t->sign > 0 ? loguniform(r, 0.05, 3.0) : loguniform(r, 0.05, 0.9);
        double df, fref;
        if (sub == SV_SIM_VAR_STAR && !(isfinite(cfg->mag_min) && isfinite(cfg->mag_max))) {
            /* a star of the field's counts (dN/dm ~ 10^(k m), from the
             * saturation limit to the depth + 1) changed by the drawn
             * amplitude: the S/N follows (bright variables reach S/N in
             * the thousands, as in the real stream); a change below the
             * threshold is redrawn by the caller */
            double k = s->star_slope, a = pow(10.0, k * sat), b = pow(10.0, k * (depth + 1.0));
            double mref = log10(a + (b - a) * gsl_rng_uniform(r)) / k;
            fref = sv_sim_flux(zp, mref);
            df = ratio * fref;
            snr = NAN;
            sim_frame_add_point(fr, x, y, fref, fref);
        } else {
            df = real_flux(fr, cfg, x, y, r, &snr);
            fref = df / ratio;
            sim_frame_add_point(fr, x, y, fref, fref);
        }
        if (isfinite(snr)) /* the star's own photon noise needs a little more */
            df = sim_frame_flux_for_snr(fr, x, y, snr);
        if (t->sign < 0 && df > 0.95 * fref)
            df = 0.95 * fref;
        sim_frame_add_point(fr, x, y, t->sign * df, 0);
        t->true_mag = sv_sim_mag(zp, df);
        break;
    }
    case SV_SIM_ASTEROID_POINT:
    case SV_SIM_ASTEROID_TRAIL: {
        /* main-belt-like 0.1-1 "/min (85%), near-Earth-like 1-60 "/min */
        double rate = gsl_rng_uniform(r) < 0.85 ? loguniform(r, 0.1, 1.0) : loguniform(r, 1.0, 60.0);
        double len = rate / 60.0 * s->exptime / s->pixscale;
        double ang = 2.0 * M_PI * gsl_rng_uniform(r);
        double f = real_flux(fr, cfg, x, y, r, &snr);
        if (len > fwhm) {
            /* spread over the trail: keep the matched-filter S/N roughly
             * at the drawn value */
            f *= len / (1.2 * fwhm);
            double dx = 0.5 * len * cos(ang), dy = 0.5 * len * sin(ang);
            sim_frame_add_trail(fr, x - dx, y - dy, x + dx, y + dy, f);
            t->sub = SV_SIM_ASTEROID_TRAIL;
            t->rb = 3;
        } else {
            double dx = 0.5 * len * cos(ang), dy = 0.5 * len * sin(ang);
            sim_frame_add_trail(fr, x - dx, y - dy, x + dx, y + dy, f);
            t->sub = SV_SIM_ASTEROID_POINT;
        }
        t->true_mag = sv_sim_mag(zp, f);
        break;
    }
    case SV_SIM_DIPOLE: {
        double m = uniform(r, sat + 0.5, depth - 1.5);
        double f = sv_sim_flux(zp, m), d = loguniform(r, 0.15, 1.2);
        double ang = 2.0 * M_PI * gsl_rng_uniform(r), ux = cos(ang), uy = sin(ang);
        sim_frame_add_point(fr, x, y, f, 0);
        sim_frame_add_point(fr, x - d * ux, y - d * uy, 0, f);
        t->sign = gsl_rng_uniform(r) < 0.5 ? 1 : -1;
        t->nx = x + t->sign * ux * 0.5 * fwhm;
        t->ny = y + t->sign * uy * 0.5 * fwhm;
        t->true_mag = m;
        break;
    }
    case SV_SIM_PSF_RESID: {
        double m = uniform(r, sat + 0.3, depth - 2.5);
        double f = sv_sim_flux(zp, m);
        double scale = 1.0 + gsl_ran_gaussian(r, 0.10);
        scale = scale < 0.7 ? 0.7 : scale > 1.3 ? 1.3 : scale;
        double beta = fr->psf_sci.beta + uniform(r, -0.7, 0.7);
        beta = beta < 1.8 ? 1.8 : beta > 6.0 ? 6.0 : beta;
        sim_psf local;
        sim_psf_init(&local, fr->psf_sci.fwhm * scale, beta, uniform(r, s->q_min, 1.0),
                     M_PI * gsl_rng_uniform(r));
        sim_frame_add_point_psf(fr, &local, x, y, f * (1.0 + gsl_ran_gaussian(r, 0.02)));
        sim_frame_add_point(fr, x, y, 0, f);
        t->sign = 0;
        t->rb = 3;
        t->true_mag = m;
        break;
    }
    case SV_SIM_COSMIC_RAY: {
        sim_cosmic cr;
        sim_det_cosmic_draw(s, r, x, y, &cr);
        cr.x = x - 0.5 * cr.len * cos(cr.angle);
        cr.y = y - 0.5 * cr.len * sin(cr.angle);
        if (sim_frame_add_cosmic(fr, &cr))
            return -1;
        break;
    }
    case SV_SIM_HOT_PIXEL: {
        sim_hot hp = {(int)lround(x), (int)lround(y), sky_sd * loguniform(r, 8.0, 300.0),
                      uniform(r, 0.0, 0.08), 0.0};
        if (gsl_rng_uniform(r) < 0.5)
            hp.ref_frac = uniform(r, 0.3, 1.0);
        if (sim_frame_add_hot(fr, &hp))
            return -1;
        t->x = hp.i;
        t->y = hp.j;
        break;
    }
    case SV_SIM_BAD_COLUMN: {
        int sign = gsl_rng_uniform(r) < 0.8 ? 1 : -1;
        sim_badcol bc = {(int)lround(x), (int)lround(y - uniform(r, 10, 400)),
                         (int)lround(y + uniform(r, 10, 400)), sign * sky_sd * uniform(r, 2.0, 12.0)};
        if (sim_frame_add_badcol(fr, &bc))
            return -1;
        t->x = bc.i;
        t->y = NAN;
        t->sign = sign;
        break;
    }
    case SV_SIM_SATURATED: {
        double m = uniform(r, sat - 3.5, sat - 0.2);
        double f = sv_sim_flux(zp, m);
        sim_frame_add_point(fr, x, y, f, f);
        t->sign = 0;
        t->rb = 3;
        t->true_mag = m;
        break;
    }
    case SV_SIM_NOISE_PEAK: {
        int i = (int)lround(x), j = (int)lround(y);
        double sd = sim_filter_snr_std(&fr->filt, &fr->vm, fr->w, fr->h, i, j);
        double nu = sd * gsl_ran_ugaussian_tail(r, cfg->snr_min / sd);
        t->sign = gsl_rng_uniform(r) < 0.75 ? 1 : -1;
        if (sim_frame_add_peak(fr, i, j, t->sign * nu))
            return -1;
        t->x = t->y = NAN;
        t->nx = i;
        t->ny = j;
        t->rb = 1;
        break;
    }
    default:
        return -1;
    }
    return 0;
}
