/* lc_sim.c — simulated alert-stream light curves.  See lc_sim.h; every
 * number below is explained, with its source, in doc/lightcurves.md. */
#include "sim/lc_sim.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/parallel.h"

static const char *const class_names[SV_LCSIM_N_CLASSES] = {"SNIa", "SNII", "SNIbc", "SLSN",
                                                           "TDE",  "AGN",  "VAR"};

const char sv_lcsim_truth_names[SV_LCSIM_N_TRUTH][SV_LABEL_MAX] = {"z", "peakmag", "tpeak",
                                                                   "subtype", "ndet"};

static const char *const meta_names[SV_LCSIM_N_META] = {"gal_b", "host_sep", "host_photoz",
                                                        "rb",    "p_transient", "p_variable"};

sv_lcsim_config sv_lcsim_defaults(sv_lcsim_survey survey)
{
    sv_lcsim_config c;
    memset(&c, 0, sizeof c);
    c.survey = survey;
    c.n = 1000;
    c.seed = 1;
    static const double fr[SV_LCSIM_N_CLASSES] = {0.25, 0.17, 0.10, 0.08, 0.07, 0.15, 0.18};
    memcpy(c.fraction, fr, sizeof fr);
    c.days = 400;
    c.mjd_start = 59000;
    c.threads = 1;
    return c;
}

const char *sv_lcsim_class_name(int c)
{
    return c >= 0 && c < SV_LCSIM_N_CLASSES ? class_names[c] : NULL;
}

const char *sv_lcsim_survey_name(sv_lcsim_survey s)
{
    return s == SV_LCSIM_LSST ? "lsst" : "ztf";
}

int sv_lcsim_survey_from_name(const char *name, sv_lcsim_survey *s)
{
    if (name && !strcmp(name, "ztf")) {
        *s = SV_LCSIM_ZTF;
        return 0;
    }
    if (name && !strcmp(name, "lsst")) {
        *s = SV_LCSIM_LSST;
        return 0;
    }
    return SV_ERR_ARG;
}

/* ---- physics helpers --------------------------------------------------------- */

double sv_lcsim_villar(double t, double t0, double gamma, double beta, double tau_rise,
                       double tau_fall)
{
    double x = -(t - t0) / tau_rise;
    double sig = x > 700 ? 0.0 : 1.0 / (1.0 + exp(x));
    if (t < t0 + gamma)
        return (1.0 + beta * (t - t0)) * sig;
    return (1.0 + beta * gamma) * exp(-(t - t0 - gamma) / tau_fall) * sig;
}

#define DM_NZ 5001
#define DM_ZMAX 5.0
static double dm_table[DM_NZ];
static double dc_table[DM_NZ]; /* comoving distance, Mpc */
static pthread_once_t dm_once = PTHREAD_ONCE_INIT;

static void dm_init(void)
{
    const double c_km = 299792.458, H0 = 70.0, om = 0.3, ol = 0.7;
    double dz = DM_ZMAX / (DM_NZ - 1), dc = 0;
    dc_table[0] = 0;
    dm_table[0] = -INFINITY;
    for (int i = 1; i < DM_NZ; i++) {
        double z0 = (i - 1) * dz, z1 = i * dz, zm = 0.5 * (z0 + z1);
        double e0 = sqrt(om * pow(1 + z0, 3) + ol), e1 = sqrt(om * pow(1 + z1, 3) + ol),
               em = sqrt(om * pow(1 + zm, 3) + ol);
        dc += c_km / H0 * dz / 6.0 * (1 / e0 + 4 / em + 1 / e1); /* Simpson */
        dc_table[i] = dc;
        double dl = (1 + z1) * dc; /* Mpc */
        dm_table[i] = 5.0 * log10(dl * 1e6 / 10.0);
    }
}

static double table_interp(const double *tab, double z)
{
    pthread_once(&dm_once, dm_init);
    if (z <= 0)
        return tab[0];
    if (z >= DM_ZMAX)
        return tab[DM_NZ - 1];
    double x = z / DM_ZMAX * (DM_NZ - 1);
    int i = (int)x;
    double w = x - i;
    if (i == 0) { /* dm diverges at 0: use the first interval's Hubble law */
        if (tab == dm_table)
            return 5.0 * log10((1 + z) * dc_table[1] * (z / (DM_ZMAX / (DM_NZ - 1))) * 1e5);
    }
    return tab[i] + w * (tab[i + 1] - tab[i]);
}

double sv_lcsim_distmod(double z)
{
    return table_interp(dm_table, z);
}

static double comoving_mpc(double z)
{
    return table_interp(dc_table, z);
}

/* angular-diameter distance in kpc per arcsec */
static double kpc_per_arcsec(double z)
{
    double da = comoving_mpc(z) / (1 + z) * 1000.0; /* kpc */
    return da / 206264.806;
}

double sv_lcsim_flux_error(double f_tot, double f5, double gamma)
{
    if (f_tot < 0)
        f_tot = 0;
    /* sigma_m^2 = (0.04 - g) x + g x^2, x = 10^(0.4 (m - m5)) = f5 / f;
     * sigma_f = f sigma_m / 1.0857 -> sigma_f^2 = ((0.04-g) f f5 + g f5^2) / 1.0857^2 */
    double v = ((0.04 - gamma) * f_tot * f5 + gamma * f5 * f5) / (1.0857 * 1.0857);
    double floor_ = 0.01 * f_tot;
    return sqrt(v + floor_ * floor_);
}

static double mag_to_ujy(double m)
{
    return pow(10.0, -0.4 * (m - 23.9));
}

/* Planck B_nu ratio at wavelengths l1, l2 (Angstrom) for temperature T. */
static double bb_ratio(double l1, double l2, double T)
{
    const double hck = 1.438777e8; /* hc/k in Angstrom K */
    double x1 = hck / (l1 * T), x2 = hck / (l2 * T);
    if (x1 > 700)
        return 0.0;
    double e1 = expm1(x1), e2 = x2 > 700 ? INFINITY : expm1(x2);
    return pow(l2 / l1, 3.0) * e2 / e1;
}

/* ---- surveys ------------------------------------------------------------------- */

typedef struct survey_def {
    int n_bands;
    const char *band[6];
    double lambda[6];   /* effective wavelength, Angstrom */
    double m5[6];       /* median single-visit 5-sigma depth (AB) */
    double gamma[6];    /* Ivezic et al. 2019 eq. 5 */
    double m5_sd;       /* visit-to-visit scatter of the depth */
} survey_def;

static const survey_def ZTF = {
    2, {"g", "r"}, {4804, 6436}, {20.6, 20.5}, {0.039, 0.039}, 0.35};
static const survey_def LSST = {6,
                                {"u", "g", "r", "i", "z", "y"},
                                {3671, 4827, 6223, 7546, 8691, 9712},
                                {23.9, 25.0, 24.7, 24.0, 23.3, 22.1},
                                {0.038, 0.039, 0.039, 0.039, 0.039, 0.039},
                                0.25};

typedef struct visit {
    double t;
    int band;
    double m5;
} visit;

/* The visits of one field over the window. */
static int make_cadence(const sv_lcsim_config *cfg, const survey_def *S, gsl_rng *r,
                        visit *v, int cap)
{
    int n = 0;
    double year = 365.25;
    double season_len = cfg->survey == SV_LCSIM_ZTF ? 200 + 70 * gsl_rng_uniform(r)
                                                    : 150 + 70 * gsl_rng_uniform(r);
    double phase = year * gsl_rng_uniform(r);
    int field_parity = (int)gsl_rng_uniform_int(r, 2);
    double d = floor(3 * gsl_rng_uniform(r));
    while (d < cfg->days && n + 2 < cap) {
        double sp = fmod(d + phase, year);
        int in_season = sp < season_len;
        int season_idx = (int)floor((d + phase) / year);
        double gap;
        if (cfg->survey == SV_LCSIM_ZTF) {
            double u = gsl_rng_uniform(r);
            gap = u < 0.15 ? 1 : (u < 0.6 ? 2 : 3);
        } else {
            int active = ((season_idx + field_parity) % 2) == 0;
            double u = gsl_rng_uniform(r);
            if (active)
                gap = u < 0.2 ? 1 : (u < 0.55 ? 2 : (u < 0.85 ? 3 : 4));
            else
                gap = 4 + (double)gsl_rng_uniform_int(r, 7);
        }
        int lost = gsl_rng_uniform(r) < (cfg->survey == SV_LCSIM_ZTF ? 0.2 : 0.25);
        if (in_season && !lost) {
            double night = cfg->mjd_start + d + 0.1 + 0.25 * gsl_rng_uniform(r);
            double m5_night = gsl_ran_gaussian(r, S->m5_sd * 0.6); /* shared by the night */
            if (cfg->survey == SV_LCSIM_ZTF) {
                int g = gsl_rng_uniform(r) < 0.9, rr = gsl_rng_uniform(r) < 0.9;
                if (!g && !rr)
                    rr = 1;
                double t = night;
                if (g) {
                    v[n].t = t;
                    v[n].band = 0;
                    v[n].m5 = S->m5[0] + m5_night + gsl_ran_gaussian(r, S->m5_sd * 0.8) +
                              cfg->depth_offset;
                    n++;
                    t += 0.03 + 0.05 * gsl_rng_uniform(r);
                }
                if (rr) {
                    v[n].t = t;
                    v[n].band = 1;
                    v[n].m5 = S->m5[1] + m5_night + gsl_ran_gaussian(r, S->m5_sd * 0.8) +
                              cfg->depth_offset;
                    n++;
                }
            } else {
                /* a pair of visits ~33 min apart in two filters (Ivezic et
                 * al. 2019 visit shares u 6%, g 9%, r 22%, i 22%, z 20%,
                 * y 21%, as pairs of neighbouring filters) */
                static const int pair[5][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}};
                static const double pw[5] = {0.10, 0.14, 0.30, 0.26, 0.20};
                double u = gsl_rng_uniform(r), acc = 0;
                int k = 4;
                for (int i = 0; i < 5; i++) {
                    acc += pw[i];
                    if (u < acc) {
                        k = i;
                        break;
                    }
                }
                int b0 = pair[k][0], b1 = pair[k][1];
                if (gsl_rng_uniform(r) < 0.5) {
                    int x = b0;
                    b0 = b1;
                    b1 = x;
                }
                v[n].t = night;
                v[n].band = b0;
                v[n].m5 = S->m5[b0] + m5_night + gsl_ran_gaussian(r, S->m5_sd * 0.8) +
                          cfg->depth_offset;
                n++;
                v[n].t = night + 0.023;
                v[n].band = b1;
                v[n].m5 = S->m5[b1] + m5_night + gsl_ran_gaussian(r, S->m5_sd * 0.8) +
                          cfg->depth_offset;
                n++;
            }
        }
        d += gap;
    }
    return n;
}

/* ---- per-class models ------------------------------------------------------------ */

typedef struct sn_params {
    double M;          /* peak absolute AB magnitude at 6200 A (rest)   */
    double tau_r, gamma, beta, tau_f;
    double T_peak, T_late, tau_T;
} sn_params;

/* draws for the supernova-like classes (rest-frame days) */
static void draw_sn(int cls, gsl_rng *r, sn_params *p)
{
    switch (cls) {
    case SV_LCSIM_SNIA:
        p->M = -19.3 + gsl_ran_gaussian(r, 0.3);
        p->tau_r = 2.0 + 2.5 * gsl_rng_uniform(r);
        p->gamma = 5.0 + 7.0 * gsl_rng_uniform(r);
        p->beta = -(0.01 + 0.01 * gsl_rng_uniform(r));
        p->tau_f = 25.0 + gsl_ran_gaussian(r, 5.0);
        p->T_peak = 10000 + gsl_ran_gaussian(r, 1000);
        p->T_late = 5500;
        p->tau_T = 20;
        break;
    case SV_LCSIM_SNII:
        p->M = -17.0 + gsl_ran_gaussian(r, 1.0);
        p->tau_r = 1.5 + 2.0 * gsl_rng_uniform(r);
        p->gamma = 90.0 + gsl_ran_gaussian(r, 20.0);
        p->beta = -(0.002 + 0.006 * gsl_rng_uniform(r));
        p->tau_f = 15.0 + gsl_ran_gaussian(r, 4.0);
        p->T_peak = 14000 + gsl_ran_gaussian(r, 2000);
        p->T_late = 6000;
        p->tau_T = 15;
        break;
    case SV_LCSIM_SNIBC:
        p->M = -17.6 + gsl_ran_gaussian(r, 0.8);
        p->tau_r = 2.0 + 2.0 * gsl_rng_uniform(r);
        p->gamma = 5.0 + 7.0 * gsl_rng_uniform(r);
        p->beta = -(0.015 + 0.01 * gsl_rng_uniform(r));
        p->tau_f = 18.0 + gsl_ran_gaussian(r, 4.0);
        p->T_peak = 8000 + gsl_ran_gaussian(r, 1000);
        p->T_late = 5000;
        p->tau_T = 20;
        break;
    default: /* SLSN */
        p->M = -21.5 + gsl_ran_gaussian(r, 0.6);
        p->tau_r = 6.0 + 9.0 * gsl_rng_uniform(r);
        p->gamma = 5.0 + 15.0 * gsl_rng_uniform(r);
        p->beta = -0.005 * gsl_rng_uniform(r);
        p->tau_f = 40.0 + 50.0 * gsl_rng_uniform(r);
        p->T_peak = 14000 + gsl_ran_gaussian(r, 2000);
        p->T_late = 8000;
        p->tau_T = 60;
        break;
    }
    if (p->tau_f < 5)
        p->tau_f = 5;
    if (p->gamma < 1)
        p->gamma = 1;
    if (p->T_peak < p->T_late + 500)
        p->T_peak = p->T_late + 500;
}

/* peak of the Villar shape (numerically, on a fine grid) */
static double villar_peak(const sn_params *p)
{
    double best = 0;
    for (double t = -10 * p->tau_r; t < p->gamma + 3 * p->tau_f; t += 0.25) {
        double f = sv_lcsim_villar(t, 0, p->gamma, p->beta, p->tau_r, p->tau_f);
        if (f > best)
            best = f;
    }
    return best > 0 ? best : 1;
}

typedef struct obj {
    int cls, sub;
    double z;
    double t_ref;           /* observer-frame reference time (MJD)      */
    /* supernova-like */
    sn_params sn;
    double sn_norm;
    /* TDE */
    double tde_sigma, tde_tau, tde_T, tde_M;
    /* AGN / VAR */
    double m_mean_r;        /* mean magnitude in the survey's r band     */
    double agn_tau, agn_sf, agn_alpha;
    double var_P, var_amp, var_phase, var_T, var_depth2, var_width;
} obj;

/* true flux (uJy) of a transient at observer time t in band of wavelength l */
static double transient_flux(const obj *o, double t, double lambda)
{
    double z = o->z, tr = (t - o->t_ref) / (1 + z);
    double dm = sv_lcsim_distmod(z) - 2.5 * log10(1 + z);
    double lrest = lambda / (1 + z);
    if (o->cls == SV_LCSIM_TDE) {
        double shape = tr < 0 ? exp(-0.5 * tr * tr / (o->tde_sigma * o->tde_sigma))
                              : exp(-tr / o->tde_tau);
        double fref = mag_to_ujy(o->tde_M + dm);
        return fref * shape * bb_ratio(lrest, 6200, o->tde_T);
    }
    const sn_params *p = &o->sn;
    double shape = sv_lcsim_villar(tr, 0, p->gamma, p->beta, p->tau_r, p->tau_f) / o->sn_norm;
    if (shape <= 0)
        return 0;
    double T = tr <= 0 ? p->T_peak : p->T_late + (p->T_peak - p->T_late) * exp(-tr / p->tau_T);
    double fref = mag_to_ujy(p->M + dm);
    return fref * shape * bb_ratio(lrest, 6200, T);
}

/* variable-star template in magnitudes (positive = fainter), band scale a */
static double var_dmag(const obj *o, double t, double lambda)
{
    double ph = fmod((t - o->t_ref) / o->var_P + o->var_phase, 1.0);
    if (ph < 0)
        ph += 1;
    if (o->sub == 0) { /* RR Lyrae ab: fast rise (15% of the cycle), slow decline */
        double a = o->var_amp * pow(4804.0 / lambda, 1.2);
        double s = ph < 0.15 ? 1.0 - ph / 0.15 : (ph - 0.15) / 0.85; /* 0 at max */
        return a * (s - 0.5);
    }
    if (o->sub == 1) { /* eclipsing binary: two gaussian dips, grey */
        double w = o->var_width;
        double d1 = ph < 0.5 ? ph : 1 - ph;
        double d2 = fabs(ph - 0.5);
        return o->var_amp * exp(-0.5 * d1 * d1 / (w * w)) +
               o->var_amp * o->var_depth2 * exp(-0.5 * d2 * d2 / (w * w));
    }
    /* Mira: sinusoid, amplitude smaller in the red */
    double a = o->var_amp * pow(4804.0 / lambda, 1.5);
    return 0.5 * a * sin(2 * M_PI * ph);
}

/* ---- one candidate ---------------------------------------------------------------- */

typedef struct cand_out {
    int n;
    sv_lc_obs *obs;     /* malloc'ed */
    double t_alert;
    float meta[SV_LCSIM_N_META];
    float truth[SV_LCSIM_N_TRUTH];
    int label;
    int status;
} cand_out;

typedef struct sim_job {
    const sv_lcsim_config *cfg;
    const survey_def *S;
    const int *labels;
    cand_out *out;
} sim_job;

/* z from p(z) ~ dV/dz / (1+z) in [0.005, zmax] (inverse CDF on a grid) */
static double draw_z(gsl_rng *r, double zmax)
{
    enum { NZ = 400 };
    double cdf[NZ + 1];
    double zmin = 0.005;
    cdf[0] = 0;
    for (int i = 1; i <= NZ; i++) {
        double z = zmin + (zmax - zmin) * (i - 0.5) / NZ;
        double dc = comoving_mpc(z);
        double E = sqrt(0.3 * pow(1 + z, 3) + 0.7);
        cdf[i] = cdf[i - 1] + dc * dc / E / (1 + z);
    }
    double u = gsl_rng_uniform(r) * cdf[NZ];
    int i = 1;
    while (i < NZ && cdf[i] < u)
        i++;
    double w = (u - cdf[i - 1]) / (cdf[i] - cdf[i - 1] + 1e-300);
    return zmin + (zmax - zmin) * (i - 1 + w) / NZ;
}

/* largest z at which an object of peak magnitude M reaches magnitude m */
static double z_reach(double M, double m)
{
    double lo = 0.001, hi = DM_ZMAX;
    if (M + sv_lcsim_distmod(hi) - 2.5 * log10(1 + hi) < m)
        return hi;
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        if (M + sv_lcsim_distmod(mid) - 2.5 * log10(1 + mid) < m)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static double gal_lat_extragalactic(gsl_rng *r)
{
    for (;;) {
        double sb = 2 * gsl_rng_uniform(r) - 1;
        double b = asin(sb) * 180 / M_PI;
        if (fabs(b) > 7 && gsl_rng_uniform(r) < 1 - exp(-fabs(b) / 10))
            return b;
    }
}

static void simulate_one(const sim_job *J, long i, gsl_rng *r, visit *vis, int vcap)
{
    const sv_lcsim_config *cfg = J->cfg;
    const survey_def *S = J->S;
    cand_out *C = &J->out[i];
    int cls = J->labels[i];
    C->label = cls;
    int nv = make_cadence(cfg, S, r, vis, vcap);
    double depth_ref = S->m5[cfg->survey == SV_LCSIM_ZTF ? 1 : 2] + cfg->depth_offset;
    int ir = cfg->survey == SV_LCSIM_ZTF ? 1 : 2; /* the r band */
    obj o;
    double *ftrue = malloc((size_t)(nv > 0 ? nv : 1) * sizeof *ftrue);
    double *fref = malloc((size_t)(nv > 0 ? nv : 1) * sizeof *fref);
    sv_lc_obs *obs = calloc((size_t)(nv > 0 ? nv : 1), sizeof *obs); /* padding bytes 0 */
    if (!ftrue || !fref || !obs) {
        free(ftrue);
        free(fref);
        free(obs);
        C->status = SV_ERR_NOMEM;
        return;
    }
    int ndet = 0;
    double brightest = INFINITY;
    for (int attempt = 0; attempt < 200; attempt++) {
        memset(&o, 0, sizeof o);
        o.cls = cls;
        double shrink = pow(0.93, attempt); /* closer / brighter after failures */
        if (cls <= SV_LCSIM_SLSN) {
            draw_sn(cls, r, &o.sn);
            o.sn_norm = villar_peak(&o.sn);
            double zmax = z_reach(o.sn.M - 0.5, depth_ref + 0.3) * shrink;
            o.z = draw_z(r, zmax > 0.01 ? zmax : 0.01);
            o.t_ref = cfg->mjd_start - 20 + (cfg->days - 10) * gsl_rng_uniform(r);
        } else if (cls == SV_LCSIM_TDE) {
            o.tde_M = -19.5 + gsl_ran_gaussian(r, 0.7);
            o.tde_sigma = pow(10.0, 0.9 + 0.5 * gsl_rng_uniform(r));
            o.tde_tau = pow(10.0, 1.4 + 0.6 * gsl_rng_uniform(r));
            o.tde_T = pow(10.0, 4.3 + 0.3 * gsl_rng_uniform(r));
            double zmax = z_reach(o.tde_M - 0.5, depth_ref + 0.3) * shrink;
            o.z = draw_z(r, zmax > 0.01 ? zmax : 0.01);
            o.t_ref = cfg->mjd_start - 20 + (cfg->days - 10) * gsl_rng_uniform(r);
        } else if (cls == SV_LCSIM_AGN) {
            o.z = 0.1 + 2.4 * gsl_rng_uniform(r);
            o.m_mean_r = depth_ref - 3.5 * gsl_rng_uniform(r) - 0.3 * attempt / 20.0;
            o.agn_tau = pow(10.0, 2.4 + gsl_ran_gaussian(r, 0.3)) * (1 + o.z);
            o.agn_sf = pow(10.0, -0.7 + gsl_ran_gaussian(r, 0.2)) * (1 + 0.05 * attempt);
            o.agn_alpha = -0.5 + gsl_ran_gaussian(r, 0.3);
        } else {
            double u = gsl_rng_uniform(r);
            o.sub = u < 0.4 ? 0 : (u < 0.75 ? 1 : 2);
            o.z = 0;
            o.t_ref = cfg->mjd_start;
            o.var_phase = gsl_rng_uniform(r);
            if (o.sub == 0) {
                o.var_P = 0.45 + 0.3 * gsl_rng_uniform(r);
                o.var_amp = 0.5 + 0.7 * gsl_rng_uniform(r);
                o.var_T = 6500;
            } else if (o.sub == 1) {
                o.var_P = pow(10.0, -0.5 + 1.5 * gsl_rng_uniform(r));
                o.var_amp = 0.2 + 0.8 * gsl_rng_uniform(r);
                o.var_depth2 = 0.1 + 0.7 * gsl_rng_uniform(r);
                o.var_width = 0.02 + 0.04 * gsl_rng_uniform(r);
                o.var_T = 4000 + 5000 * gsl_rng_uniform(r);
            } else {
                o.var_P = 150 + 300 * gsl_rng_uniform(r);
                o.var_amp = 2.5 + 2.5 * gsl_rng_uniform(r);
                o.var_T = 2500 + 700 * gsl_rng_uniform(r);
            }
            o.m_mean_r = depth_ref - 0.5 - 4.0 * gsl_rng_uniform(r);
        }
        /* true fluxes at the visits */
        double drw = 0, t_prev = 0;
        double sig_s = o.agn_sf / sqrt(2.0);
        if (cls == SV_LCSIM_AGN)
            drw = gsl_ran_gaussian(r, sig_s);
        brightest = INFINITY;
        for (int k = 0; k < nv; k++) {
            double lam = S->lambda[vis[k].band];
            if (cls <= SV_LCSIM_TDE) {
                ftrue[k] = transient_flux(&o, vis[k].t, lam);
                fref[k] = 0;
            } else if (cls == SV_LCSIM_AGN) {
                if (k > 0) {
                    double e = exp(-(vis[k].t - t_prev) / o.agn_tau);
                    drw = drw * e + sig_s * sqrt(1 - e * e) * gsl_ran_gaussian(r, 1.0);
                }
                t_prev = vis[k].t;
                double lr = S->lambda[ir];
                double fmean = mag_to_ujy(o.m_mean_r) * pow(lam / lr, -o.agn_alpha);
                double dmb = drw * pow(lam / lr, -0.479);
                fref[k] = fmean;
                ftrue[k] = fmean * (pow(10.0, -0.4 * dmb) - 1.0);
            } else {
                double lr = S->lambda[ir];
                double fmean = mag_to_ujy(o.m_mean_r) * bb_ratio(lam, lr, o.var_T);
                fref[k] = fmean;
                ftrue[k] = fmean * (pow(10.0, -0.4 * var_dmag(&o, vis[k].t, lam)) - 1.0);
            }
            double mtrue = -2.5 * log10(fref[k] + ftrue[k] > 0 ? fref[k] + ftrue[k] : 1e-30) +
                           23.9;
            if (cls <= SV_LCSIM_TDE && ftrue[k] > 0 && mtrue < brightest)
                brightest = mtrue;
            if (cls > SV_LCSIM_TDE && mtrue < brightest)
                brightest = mtrue;
        }
        /* observe */
        ndet = 0;
        for (int k = 0; k < nv; k++) {
            double f5 = mag_to_ujy(vis[k].m5);
            double ftot = fref[k] + (ftrue[k] > 0 ? ftrue[k] : 0);
            double sig = sv_lcsim_flux_error(ftot, f5, S->gamma[vis[k].band]);
            double fo = ftrue[k] + gsl_ran_gaussian(r, sig);
            obs[k].t = vis[k].t;
            obs[k].band = (int16_t)vis[k].band;
            obs[k].pad_ = 0;
            if (fabs(fo) >= 5 * sig) {
                obs[k].flux = (float)fo;
                obs[k].fluxerr = (float)sig;
                obs[k].ulim = 0;
                ndet++;
            } else {
                obs[k].flux = (float)f5;
                obs[k].fluxerr = (float)(f5 / 5);
                obs[k].ulim = 1;
            }
        }
        if (ndet > 0)
            break;
    }
    /* alert: a random detection */
    C->t_alert = NAN;
    int nd_alert = 0;
    if (ndet > 0) {
        long pick = (long)gsl_rng_uniform_int(r, (unsigned long)ndet);
        for (int k = 0, d = 0; k < nv; k++)
            if (!obs[k].ulim) {
                if (d == pick) {
                    C->t_alert = obs[k].t;
                    nd_alert = d + 1;
                    break;
                }
                d++;
            }
    }
    /* metadata */
    int stamp_cls; /* 0 transient, 1 variable (the stamp classifier's view) */
    double gb, sep = NAN, pz = NAN;
    int photoz_known = 0;
    double pz_sd = cfg->survey == SV_LCSIM_ZTF ? 0.05 : 0.03;
    double p_pz = cfg->survey == SV_LCSIM_ZTF ? 0.75 : 0.9;
    if (cls == SV_LCSIM_VAR) {
        double scale = o.sub == 0 ? 30 : (o.sub == 1 ? 12 : 10);
        double b = gsl_ran_exponential(r, scale);
        if (b > 90)
            b = 90 * gsl_rng_uniform(r);
        gb = gsl_rng_uniform(r) < 0.5 ? -b : b;
        stamp_cls = 1;
        if (gsl_rng_uniform(r) < 0.15) { /* a chance-coincident galaxy */
            sep = 1.5 + 6.5 * gsl_rng_uniform(r);
            if (gsl_rng_uniform(r) < p_pz)
                pz = 0.05 + 0.55 * gsl_rng_uniform(r);
        }
    } else {
        gb = gal_lat_extragalactic(r);
        double p_host, kpc_scale = 0;
        int nuclear = 0;
        switch (cls) {
        case SV_LCSIM_SNIA:
            p_host = 0.95;
            kpc_scale = 2.0;
            break;
        case SV_LCSIM_SNII:
        case SV_LCSIM_SNIBC:
            p_host = 0.9;
            kpc_scale = 1.4;
            break;
        case SV_LCSIM_SLSN:
            p_host = 0.6;
            kpc_scale = 0.5;
            break;
        default:
            p_host = 1.0;
            nuclear = 1;
            break;
        }
        stamp_cls = cls == SV_LCSIM_AGN ? 1 : (cls == SV_LCSIM_TDE ? (gsl_rng_uniform(r) < 0.5)
                                                                   : 0);
        if (gsl_rng_uniform(r) < p_host) {
            if (nuclear)
                sep = fabs(gsl_ran_rayleigh(r, 0.12));
            else
                sep = gsl_ran_gamma(r, 2.0, kpc_scale) / kpc_per_arcsec(o.z) +
                      fabs(gsl_ran_gaussian(r, 0.1));
            photoz_known = gsl_rng_uniform(r) < p_pz;
            if (photoz_known) {
                pz = o.z + gsl_ran_gaussian(r, pz_sd * (1 + o.z));
                if (pz < 0.001)
                    pz = 0.001;
            }
        }
    }
    /* stamp-classifier outputs: a synthetic stand-in (doc) */
    double l0 = (stamp_cls == 0 ? 2.0 : 0.0) + gsl_ran_gaussian(r, 1.0);
    double l1 = (stamp_cls == 1 ? 2.0 : 0.0) + gsl_ran_gaussian(r, 1.0);
    double l2 = -1.0 + gsl_ran_gaussian(r, 1.0);
    double mx = fmax(l0, fmax(l1, l2));
    double e0 = exp(l0 - mx), e1 = exp(l1 - mx), e2 = exp(l2 - mx), es = e0 + e1 + e2;
    double rb = gsl_ran_beta(r, 8.0, 1.5);
    C->meta[0] = (float)gb;
    C->meta[1] = (float)sep;
    C->meta[2] = (float)pz;
    C->meta[3] = (float)rb;
    C->meta[4] = (float)(e0 / es);
    C->meta[5] = (float)(e1 / es);
    C->truth[0] = (float)o.z;
    C->truth[1] = (float)brightest;
    C->truth[2] = cls <= SV_LCSIM_TDE ? (float)o.t_ref : 0.0f;
    C->truth[3] = (float)o.sub;
    C->truth[4] = (float)nd_alert;
    C->n = nv;
    C->obs = obs;
    C->status = 0;
    free(ftrue);
    free(fref);
}

typedef struct sim_par {
    sim_job job;
    long n;
    int tasks;
} sim_par;

static void sim_chunk(int task, void *ctx)
{
    sim_par *P = ctx;
    long per = (P->n + P->tasks - 1) / P->tasks;
    long a = (long)task * per, b = a + per < P->n ? a + per : P->n;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    enum { VCAP = 4096 };
    visit *vis = malloc(VCAP * sizeof *vis);
    if (!r || !vis) {
        for (long i = a; i < b; i++)
            P->job.out[i].status = SV_ERR_NOMEM;
        if (r)
            gsl_rng_free(r);
        free(vis);
        return;
    }
    for (long i = a; i < b; i++) {
        gsl_rng_set(r, (unsigned long)(sv_seed_mix(P->job.cfg->seed, 0x1c51aULL, (uint64_t)i,
                                                   0) &
                                       0xffffffffUL));
        simulate_one(&P->job, i, r, vis, VCAP);
    }
    gsl_rng_free(r);
    free(vis);
}

int sv_lcsim_run(const sv_lcsim_config *cfg_in, sv_lc_set *out, float **truth_out,
                 sv_error *err)
{
    sv_lcsim_config cfg = cfg_in ? *cfg_in : sv_lcsim_defaults(SV_LCSIM_ZTF);
    memset(out, 0, sizeof *out);
    if (truth_out)
        *truth_out = NULL;
    if (cfg.n < 1 || cfg.n > 10000000)
        return sv_error_set(err, SV_ERR_ARG, "simulate: %ld light curves (1..10^7)", cfg.n);
    if (!(cfg.days >= 10 && cfg.days <= 4000))
        return sv_error_set(err, SV_ERR_ARG, "simulate: window of %g days (10..4000)",
                            cfg.days);
    double fsum = 0;
    for (int c = 0; c < SV_LCSIM_N_CLASSES; c++) {
        if (!(cfg.fraction[c] >= 0) || !isfinite(cfg.fraction[c]))
            return sv_error_set(err, SV_ERR_ARG, "simulate: class share %g for %s",
                                cfg.fraction[c], class_names[c]);
        fsum += cfg.fraction[c];
    }
    if (!(fsum > 0))
        return sv_error_set(err, SV_ERR_ARG, "simulate: all class shares are zero");
    const survey_def *S = cfg.survey == SV_LCSIM_LSST ? &LSST : &ZTF;
    long n = cfg.n;
    int *labels = malloc((size_t)n * sizeof *labels);
    cand_out *co = calloc((size_t)n, sizeof *co);
    if (!labels || !co) {
        free(labels);
        free(co);
        return sv_error_set(err, SV_ERR_NOMEM, "simulate: out of memory");
    }
    /* class of each candidate: the shares by largest remainder, shuffled */
    {
        long cnt[SV_LCSIM_N_CLASSES], tot = 0;
        double rem[SV_LCSIM_N_CLASSES];
        for (int c = 0; c < SV_LCSIM_N_CLASSES; c++) {
            double x = n * cfg.fraction[c] / fsum;
            cnt[c] = (long)floor(x);
            rem[c] = x - cnt[c];
            tot += cnt[c];
        }
        while (tot < n) {
            int best = 0;
            for (int c = 1; c < SV_LCSIM_N_CLASSES; c++)
                if (rem[c] > rem[best])
                    best = c;
            cnt[best]++;
            rem[best] = -1;
            tot++;
        }
        long k = 0;
        for (int c = 0; c < SV_LCSIM_N_CLASSES; c++)
            for (long j = 0; j < cnt[c]; j++)
                labels[k++] = c;
        sv_rng rs = {sv_seed_mix(cfg.seed, 0x1abe1ULL, 0, 0)};
        for (long i = n - 1; i > 0; i--) {
            long j = (long)sv_rng_below(&rs, (uint64_t)i + 1);
            int x = labels[i];
            labels[i] = labels[j];
            labels[j] = x;
        }
    }
    sim_par P;
    memset(&P, 0, sizeof P);
    P.job.cfg = &cfg;
    P.job.S = S;
    P.job.labels = labels;
    P.job.out = co;
    P.n = n;
    P.tasks = 64;
    if (P.tasks > n)
        P.tasks = (int)n;
    sv_parallel_for(cfg.threads, P.tasks, sim_chunk, &P);
    int st = 0;
    long n_obs = 0;
    for (long i = 0; i < n; i++) {
        if (co[i].status && !st)
            st = sv_error_set(err, co[i].status, "simulate: candidate %ld failed", i);
        n_obs += co[i].n;
    }
    float *truth = NULL;
    if (!st)
        st = sv_lc_set_alloc(out, n, n_obs, SV_LCSIM_N_META, err);
    if (!st && truth_out) {
        truth = malloc((size_t)n * SV_LCSIM_N_TRUTH * sizeof *truth);
        if (!truth)
            st = sv_error_set(err, SV_ERR_NOMEM, "simulate: out of memory");
    }
    if (!st) {
        out->n_bands = S->n_bands;
        for (int b = 0; b < S->n_bands; b++)
            snprintf(out->bands[b], SV_LC_BAND_LEN, "%s", S->band[b]);
        out->n_classes = SV_LCSIM_N_CLASSES;
        for (int c = 0; c < SV_LCSIM_N_CLASSES; c++)
            snprintf(out->classes[c], SV_LABEL_MAX, "%s", class_names[c]);
        for (int m = 0; m < SV_LCSIM_N_META; m++)
            snprintf(out->meta_names[m], SV_LABEL_MAX, "%s", meta_names[m]);
        snprintf(out->survey, sizeof out->survey, "%s",
                 cfg.survey == SV_LCSIM_LSST ? "LSST-sim" : "ZTF-sim");
        snprintf(out->origin, sizeof out->origin, "simulated %s light curves (seed %llu)",
                 sv_lcsim_survey_name(cfg.survey), (unsigned long long)cfg.seed);
        long o = 0;
        for (long i = 0; i < n; i++) {
            sv_lc *L = &out->lc[i];
            snprintf(L->id, sizeof L->id, "%s%07ld", cfg.survey == SV_LCSIM_LSST ? "LS" : "ZS",
                     i + 1);
            L->n = co[i].n;
            L->obs = out->obs_pool + o;
            memcpy(L->obs, co[i].obs, (size_t)co[i].n * sizeof *L->obs);
            o += co[i].n;
            L->label = co[i].label;
            L->t_alert = co[i].t_alert;
            memcpy(L->meta, co[i].meta, sizeof co[i].meta);
            if (truth)
                memcpy(truth + i * SV_LCSIM_N_TRUTH, co[i].truth, sizeof co[i].truth);
        }
    }
    for (long i = 0; i < n; i++)
        free(co[i].obs);
    free(co);
    free(labels);
    if (st) {
        sv_lc_set_free(out);
        free(truth);
        return st;
    }
    if (truth_out)
        *truth_out = truth;
    return 0;
}
