/* sim_survey.c — survey profiles (see sim_survey.h and doc/simulation.md,
 * which gives the source of every number). */
#include "sim/sim_survey.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sim/sim_psf.h"

static const sv_sim_survey profiles[] = {
    {
        .name = "ztf",
        .description = "Zwicky Transient Facility, P48 Schmidt, 16 e2v 6k CCDs",
        .pixscale = 1.01,
        .exptime = 30.0,
        .gain = 3.3,        /* effective: the noise of ZTF's cutouts (doc/simulation.md) */
        .read_noise = 8.0,
        .saturation = 35000.0,
        .seeing_median = 2.0,
        .seeing_sigma_ln = 0.18,
        .seeing_min = 1.3,
        .seeing_max = 4.0,
        .ref_seeing_median = 1.9,
        .ref_seeing_sigma_ln = 0.08,
        .beta_min = 2.5,
        .beta_max = 4.0,
        .q_min = 0.85,
        .ref_q_min = 0.92,
        .tdi = 0,
        .ref_epochs_min = 15,
        .ref_epochs_max = 40,
        .astrom_rms = 0.06,
        .photscale_rms = 0.005,
        .star_dn20 = 1000.0,
        .star_slope = 0.20,
        .gal_dn20 = 1000.0,
        .gal_slope = 0.45,
        .cr_rate = 0.04,
        .pixel_um = 15.0,
        .thick_um = 16.0,
        .limiting_mag = 20.5,
        .ra0 = 180.0,
        .dec0 = 45.0,
        .nband = 2,
        .default_band = 1,
        /* effective wavelengths of ZTF's g and r filters (SVO filter service) */
        .band = {{"g", 25.857, 21.407, 0.45, 474.6}, {"r", 26.115, 20.365, 0.40, 636.6}},
        .quad_w = 3072, /* a CCD quadrant, the image ZTF processes and cuts from */
        .quad_h = 3080,
        .diff_positive = 1, /* cutouts of isdiffpos = f come from ref - sci */
    },
    {
        .name = "ilmt",
        .description = "International Liquid Mirror Telescope, 4-m, zenith TDI, 4k CCD",
        .pixscale = 0.33,
        .exptime = 102.0,
        .gain = 4.0,
        .read_noise = 5.0,
        .saturation = 60000.0,
        .seeing_median = 1.5,
        .seeing_sigma_ln = 0.20,
        .seeing_min = 0.9,
        .seeing_max = 3.2,
        .ref_seeing_median = 1.4,
        .ref_seeing_sigma_ln = 0.10,
        .beta_min = 2.5,
        .beta_max = 4.0,
        .q_min = 0.80,
        .ref_q_min = 0.88,
        .tdi = 1,
        .ref_epochs_min = 5,
        .ref_epochs_max = 15,
        .astrom_rms = 0.15,
        .photscale_rms = 0.01,
        .star_dn20 = 1000.0,
        .star_slope = 0.20,
        .gal_dn20 = 1000.0,
        .gal_slope = 0.45,
        .cr_rate = 0.04,
        .pixel_um = 15.0,
        .thick_um = 40.0,
        .limiting_mag = 22.5,
        .ra0 = 180.0,
        .dec0 = 29.36,
        .nband = 3,
        .default_band = 2,
        /* SDSS g' r' i' effective wavelengths */
        .band = {{"g'", 29.2, 21.9, 0.40, 477.0}, {"r'", 29.4, 21.0, 0.40, 623.1},
                 {"i'", 29.1, 20.2, 0.40, 762.5}},
        .diff_positive = 0, /* the difference as the host gives it */
    },
};

int sv_sim_survey_get(const char *name, sv_sim_survey *out, sv_error *err)
{
    for (size_t i = 0; i < sizeof profiles / sizeof *profiles; i++)
        if (name && !strcasecmp(name, profiles[i].name)) {
            *out = profiles[i];
            return 0;
        }
    return sv_error_set(err, SV_ERR_ARG, "unknown survey '%s' (known: %s)", name ? name : "",
                        sv_sim_survey_names());
}

const char *sv_sim_survey_names(void) { return "ztf, ilmt"; }

/* compare band names ignoring a trailing prime ("r" matches "r'") */
static int band_eq(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na && a[na - 1] == '\'')
        na--;
    if (nb && b[nb - 1] == '\'')
        nb--;
    return na == nb && !strncasecmp(a, b, na);
}

int sv_sim_survey_band_index(const sv_sim_survey *s, const char *name)
{
    if (!name || !*name)
        return s->default_band;
    for (int i = 0; i < s->nband; i++)
        if (band_eq(name, s->band[i].name))
            return i;
    return -1;
}

int sv_sim_survey_band_list(const sv_sim_survey *s, const char *text, int idx[SV_SIM_MAX_BANDS])
{
    if (!text || !*text) {
        idx[0] = s->default_band;
        return 1;
    }
    int n = 0;
    const char *p = text;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[16];
        if (len == 0 || len >= sizeof name || n == SV_SIM_MAX_BANDS)
            return -1;
        memcpy(name, p, len);
        name[len] = '\0';
        int b = sv_sim_survey_band_index(s, name);
        if (b < 0)
            return -1;
        for (int k = 0; k < n; k++)
            if (idx[k] == b)
                return -1;
        idx[n++] = b;
        if (!e)
            return n;
        p = e + 1;
    }
}

double sv_sim_survey_seeing_scale(const sv_sim_survey *s, int b)
{
    double l0 = s->band[s->default_band].lambda_nm, l = s->band[b].lambda_nm;
    return l0 > 0 && l > 0 ? pow(l / l0, -0.2) : 1.0;
}

double sv_sim_flux(double zp, double mag) { return pow(10.0, -0.4 * (mag - zp)); }

double sv_sim_mag(double zp, double flux) { return zp - 2.5 * log10(fabs(flux)); }

double sv_sim_survey_sky_dn(const sv_sim_survey *s, int b, double sky_mag)
{
    return sv_sim_flux(s->band[b].zp, sky_mag) * s->pixscale * s->pixscale;
}

double sv_sim_survey_var(const sv_sim_survey *s, double v)
{
    double rn = s->read_noise / s->gain;
    return (v > 0 ? v : 0) / s->gain + rn * rn;
}

double sv_sim_survey_depth(const sv_sim_survey *s, int b, double seeing, double beta,
                           double nsigma)
{
    sim_psf p;
    if (sim_psf_init(&p, seeing / s->pixscale, beta, 1.0, 0.0))
        return NAN;
    double sky = sv_sim_survey_sky_dn(s, b, s->band[b].sky_mag);
    double f = nsigma * sqrt(sv_sim_survey_var(s, sky) * sim_psf_neff(&p));
    return sv_sim_mag(s->band[b].zp, f);
}

double sv_sim_survey_saturation_mag(const sv_sim_survey *s, int b)
{
    sim_psf p;
    double beta = 0.5 * (s->beta_min + s->beta_max);
    if (sim_psf_init(&p, s->seeing_median / s->pixscale, beta, 1.0, 0.0))
        return NAN;
    double sky = sv_sim_survey_sky_dn(s, b, s->band[b].sky_mag);
    double peak = sim_psf_pixel(&p, 0, 0);
    return sv_sim_mag(s->band[b].zp, (s->saturation - sky) / peak);
}
