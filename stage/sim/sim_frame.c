/* sim_frame.c — one simulated image triple (see sim_frame.h). */
#include "sim/sim_frame.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

void sim_conditions_draw(const sv_sim_survey *s, int band, gsl_rng *r, sim_conditions *c)
{
    memset(c, 0, sizeof *c);
    c->band = band;
    double ls = sv_sim_survey_seeing_scale(s, band); /* Kolmogorov: FWHM ~ lambda^-1/5 */
    c->seeing_sci = clampd(ls * s->seeing_median * exp(gsl_ran_gaussian(r, s->seeing_sigma_ln)),
                           s->seeing_min, s->seeing_max);
    c->seeing_ref = clampd(ls * s->ref_seeing_median * exp(gsl_ran_gaussian(r, s->ref_seeing_sigma_ln)),
                           s->seeing_min, s->seeing_max);
    c->beta_sci = s->beta_min + (s->beta_max - s->beta_min) * gsl_rng_uniform(r);
    c->beta_ref = s->beta_min + (s->beta_max - s->beta_min) * gsl_rng_uniform(r);
    c->q_sci = s->q_min + (1.0 - s->q_min) * gsl_rng_uniform(r);
    c->q_ref = s->ref_q_min + (1.0 - s->ref_q_min) * gsl_rng_uniform(r);
    if (s->tdi) { /* drift scan: residual smear along the scan (y) */
        c->pa_sci = M_PI / 2 + gsl_ran_gaussian(r, 0.1);
        c->pa_ref = M_PI / 2 + gsl_ran_gaussian(r, 0.1);
    } else {
        c->pa_sci = M_PI * gsl_rng_uniform(r);
        c->pa_ref = M_PI * gsl_rng_uniform(r);
    }
    const sv_sim_band *b = &s->band[band];
    c->sky_mag = b->sky_mag + gsl_ran_gaussian(r, b->sky_sigma);
    c->sky_sci = sv_sim_survey_sky_dn(s, band, c->sky_mag);
    /* the co-add's own sky: the mean of its epochs, drawn around the median */
    c->ref_epochs = s->ref_epochs_min +
                    (int)gsl_rng_uniform_int(r, (unsigned long)(s->ref_epochs_max - s->ref_epochs_min + 1));
    double ref_sky_mag = b->sky_mag + gsl_ran_gaussian(r, b->sky_sigma / sqrt(c->ref_epochs));
    c->sky_ref_own = sv_sim_survey_sky_dn(s, band, ref_sky_mag);
    c->shift_x = gsl_ran_gaussian(r, s->astrom_rms);
    c->shift_y = gsl_ran_gaussian(r, s->astrom_rms);
    c->ref_flux_scale = 1.0 + gsl_ran_gaussian(r, s->photscale_rms);
    c->depth = sv_sim_survey_depth(s, band, s->seeing_median, 0.5 * (s->beta_min + s->beta_max), 5.0);
    c->sat_mag = sv_sim_survey_saturation_mag(s, band);
}

void sim_frame_free(sim_frame *fr)
{
    if (!fr)
        return;
    sim_kernel_free(&fr->K);
    sim_filter_free(&fr->filt);
    free(fr->sci_model);
    free(fr->ref_model);
    free(fr->sci);
    free(fr->ref);
    free(fr->diff);
    free(fr->work);
    free(fr->mask);
    free(fr->cr);
    free(fr->hot);
    free(fr->badcol);
    free(fr->peak);
    memset(fr, 0, sizeof *fr);
}

int sim_frame_init(sim_frame *fr, const sv_sim_survey *s, const sim_conditions *c, int w, int h,
                   int with_mask, int threads)
{
    memset(fr, 0, sizeof *fr);
    fr->s = s;
    fr->cond = *c;
    fr->w = w;
    fr->h = h;
    fr->threads = threads < 1 ? 1 : threads;
    fr->zp = s->band[c->band].zp;
    if (sim_psf_init(&fr->psf_sci, c->seeing_sci / s->pixscale, c->beta_sci, c->q_sci, c->pa_sci) ||
        sim_psf_init(&fr->psf_ref, c->seeing_ref / s->pixscale, c->beta_ref, c->q_ref, c->pa_ref))
        return -1;
    if (sim_kernel_match(&fr->psf_sci, &fr->psf_ref, &fr->K) ||
        sim_filter_make(&fr->psf_sci, &fr->K, &fr->filt)) {
        sim_frame_free(fr);
        return -1;
    }
    fr->nsci = (sim_noise){s->gain, s->read_noise, 1.0, 0.0};
    /* background-matched reference: displayed at the science sky level,
     * noise from its own sky */
    fr->nref = (sim_noise){s->gain, s->read_noise, (double)c->ref_epochs,
                           c->sky_ref_own - c->sky_sci};
    /* follow sources down to 2% of the science sky noise */
    fr->cut = 0.02 * sqrt(sim_noise_var(&fr->nsci, c->sky_sci));
    size_t n = (size_t)w * (size_t)h;
    fr->sci_model = malloc(n * sizeof(float));
    fr->ref_model = malloc(n * sizeof(float));
    fr->sci = malloc(n * sizeof(float));
    fr->ref = malloc(n * sizeof(float));
    fr->diff = malloc(n * sizeof(float));
    fr->work = malloc(n * sizeof(float));
    fr->mask = with_mask ? calloc(n, 1) : NULL;
    if (!fr->sci_model || !fr->ref_model || !fr->sci || !fr->ref || !fr->diff || !fr->work ||
        (with_mask && !fr->mask)) {
        sim_frame_free(fr);
        return -1;
    }
    float ss = (float)c->sky_sci;
    for (size_t i = 0; i < n; i++)
        fr->sci_model[i] = fr->ref_model[i] = ss;
    fr->vm = (sim_varmodel){fr->sci_model, fr->ref_model, fr->nsci, fr->nref, &fr->K};
    return 0;
}

void sim_frame_add_point(sim_frame *fr, double x, double y, double flux_sci, double flux_ref)
{
    if (flux_sci != 0)
        sim_psf_add(&fr->psf_sci, fr->sci_model, fr->w, fr->h, x, y, flux_sci, fr->cut);
    if (flux_ref != 0)
        sim_psf_add(&fr->psf_ref, fr->ref_model, fr->w, fr->h, x + fr->cond.shift_x,
                    y + fr->cond.shift_y, flux_ref * fr->cond.ref_flux_scale, fr->cut);
}

void sim_frame_add_point_psf(sim_frame *fr, const sim_psf *psf, double x, double y,
                             double flux_sci)
{
    sim_psf_add(psf, fr->sci_model, fr->w, fr->h, x, y, flux_sci, fr->cut);
}

void sim_frame_add_trail(sim_frame *fr, double x0, double y0, double x1, double y1,
                         double flux_sci)
{
    sim_psf_add_trail(&fr->psf_sci, fr->sci_model, fr->w, fr->h, x0, y0, x1, y1, flux_sci,
                      fr->cut);
}

int sim_frame_add_galaxy(sim_frame *fr, const sim_sersic *g, double scale_sci, double scale_ref)
{
    if (scale_sci != 0 &&
        sim_sersic_add(g, &fr->psf_sci, scale_sci, 0, 0, fr->sci_model, fr->w, fr->h, fr->cut))
        return -1;
    if (scale_ref != 0 &&
        sim_sersic_add(g, &fr->psf_ref, scale_ref * fr->cond.ref_flux_scale, fr->cond.shift_x,
                       fr->cond.shift_y, fr->ref_model, fr->w, fr->h, fr->cut))
        return -1;
    return 0;
}

long sim_frame_add_field(sim_frame *fr, gsl_rng *r, double pad)
{
    const sv_sim_survey *s = fr->s;
    int b = fr->cond.band;
    double sat = fr->cond.sat_mag, depth = fr->cond.depth;
    sim_source *src = NULL;
    long n = sim_scene_field(s, b, -pad, -pad, fr->w + pad, fr->h + pad, sat - 2.0, depth + 1.5,
                             r, &src);
    if (n < 0)
        return -1;
    int rc = 0;
    for (long k = 0; k < n && !rc; k++) {
        sim_source *p = src + k;
        if (p->is_galaxy)
            rc = sim_frame_add_galaxy(fr, &p->g, 1.0, 1.0);
        else
            sim_frame_add_point(fr, p->g.x, p->g.y, p->g.flux, p->g.flux);
    }
    free(src);
    return rc ? -1 : n;
}

#define PUSH(arr, n, cap, item)                                                  \
    do {                                                                         \
        if ((n) == (cap)) {                                                      \
            long nc = (cap) ? 2 * (cap) : 16;                                    \
            void *p = realloc((arr), (size_t)nc * sizeof *(arr));                \
            if (!p)                                                              \
                return -1;                                                       \
            (arr) = p;                                                           \
            (cap) = nc;                                                          \
        }                                                                        \
        (arr)[(n)++] = (item);                                                   \
    } while (0)

int sim_frame_add_cosmic(sim_frame *fr, const sim_cosmic *cr)
{
    PUSH(fr->cr, fr->ncr, fr->cap_cr, *cr);
    return 0;
}
int sim_frame_add_hot(sim_frame *fr, const sim_hot *hp)
{
    PUSH(fr->hot, fr->nhot, fr->cap_hot, *hp);
    return 0;
}
int sim_frame_add_badcol(sim_frame *fr, const sim_badcol *bc)
{
    PUSH(fr->badcol, fr->nbadcol, fr->cap_badcol, *bc);
    return 0;
}
int sim_frame_add_peak(sim_frame *fr, int i, int j, double nu)
{
    sim_peak p = {i, j, nu};
    PUSH(fr->peak, fr->npeak, fr->cap_peak, p);
    return 0;
}

/* sum(w^2 / v) for a point source of flux F at the pixel nearest (x, y) */
static double snr_den(const sim_frame *fr, int ci, int cj, double flux)
{
    const sim_filter *f = &fr->filt;
    int r = f->r, n = 2 * r + 1;
    double den = 0;
    for (int b = -r; b <= r; b++) {
        int y = cj + b;
        if (y < 0 || y >= fr->h)
            continue;
        for (int a = -r; a <= r; a++) {
            int x = ci + a;
            if (x < 0 || x >= fr->w)
                continue;
            long idx = (long)y * fr->w + x;
            double wt = f->w[(b + r) * n + a + r];
            double v = sim_var_diff(&fr->vm, idx) + fabs(flux) * wt / fr->s->gain;
            den += wt * wt / v;
        }
    }
    return den;
}

double sim_frame_expected_snr(const sim_frame *fr, double x, double y, double flux)
{
    int ci = (int)lround(x), cj = (int)lround(y);
    double den = snr_den(fr, ci, cj, flux);
    return den > 0 ? flux * sqrt(den) : 0;
}

double sim_frame_flux_for_snr(const sim_frame *fr, double x, double y, double snr)
{
    int ci = (int)lround(x), cj = (int)lround(y);
    double den = snr_den(fr, ci, cj, 0);
    if (den <= 0)
        return 0;
    double f = fabs(snr) / sqrt(den);
    for (int it = 0; it < 30; it++) {
        double nf = fabs(snr) / sqrt(snr_den(fr, ci, cj, f));
        if (fabs(nf - f) < 1e-6 * f) {
            f = nf;
            break;
        }
        f = nf;
    }
    return snr < 0 ? -f : f;
}

int sim_frame_realize(sim_frame *fr, gsl_rng *r, uint64_t seed)
{
    int w = fr->w, h = fr->h;
    long n = (long)w * h;
    gsl_rng *rd = r;
    if (r) {
        sim_noise_add(&fr->nsci, fr->sci_model, fr->sci, n, r);
        sim_noise_add(&fr->nref, fr->ref_model, fr->ref, n, r);
    } else {
        if (sim_noise_add_blocks(&fr->nsci, fr->sci_model, fr->sci, w, h, seed,
                                 SIM_STREAM_NOISE_SCI, 64, fr->threads) ||
            sim_noise_add_blocks(&fr->nref, fr->ref_model, fr->ref, w, h, seed,
                                 SIM_STREAM_NOISE_REF, 64, fr->threads))
            return -1;
        rd = sim_rng_new(seed, SIM_STREAM_DETECTOR, 0);
        if (!rd)
            return -1;
    }
    double gain = fr->s->gain;
    for (long k = 0; k < fr->ncr; k++)
        sim_det_cosmic_add(&fr->cr[k], gain, fr->sci, fr->mask, w, h);
    for (long k = 0; k < fr->nhot; k++) {
        const sim_hot *hp = &fr->hot[k];
        sim_det_hot_pixel(fr->sci, fr->mask, w, h, hp->i, hp->j, hp->amp, hp->cti, gain, rd);
        if (hp->ref_frac > 0) /* the same defect, seen in the co-add */
            sim_det_hot_pixel(fr->ref, NULL, w, h, hp->i, hp->j, hp->amp * hp->ref_frac,
                              hp->cti, gain * fr->cond.ref_epochs, rd);
    }
    for (long k = 0; k < fr->nbadcol; k++) {
        const sim_badcol *bc = &fr->badcol[k];
        sim_det_bad_column(fr->sci, fr->mask, w, h, bc->i, bc->j0, bc->j1, bc->amp, gain, rd);
    }
    if (!r)
        gsl_rng_free(rd);
    double sat = fr->s->saturation;
    sim_det_saturate(fr->sci, fr->mask, w, h, sat, 0, w);
    sim_det_saturate(fr->ref, NULL, w, h, sat, 0, w);
    sim_diff_make(fr->sci, fr->ref, w, h, fr->cond.sky_sci, fr->cond.sky_sci, &fr->K, fr->diff,
                  fr->work, fr->threads);
    for (long k = 0; k < fr->npeak; k++)
        sim_constrain_peak(&fr->filt, &fr->vm, fr->sci, fr->ref, fr->diff, w, h,
                           fr->cond.sky_sci, fr->cond.sky_sci, fr->peak[k].i, fr->peak[k].j,
                           fr->peak[k].nu);
    return 0;
}

void sim_frame_detect(const sim_frame *fr, double x, double y, int rb, int sign, sim_det *d)
{
    int i0 = (int)lround(x), j0 = (int)lround(y);
    if (sign == 0) {
        sim_det a, b;
        sim_frame_detect(fr, x, y, rb, 1, &a);
        sim_frame_detect(fr, x, y, rb, -1, &b);
        *d = fabs(a.snr) >= fabs(b.snr) ? a : b;
        return;
    }
    sim_filter_peak(&fr->filt, fr->diff, &fr->vm, fr->w, fr->h, i0, j0, rb, sign, &d->i, &d->j,
                    &d->snr, &d->flux, &d->xc, &d->yc);
}
