/* sim_exposure.c — full simulated exposures (see sim_exposure.h). */
#include "sim/sim_exposure.h"
#include "fits/fits_dates.h"

#include <errno.h>
#include <fcntl.h>
#include <fitsio.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wcslib/wcs.h>
#include <wcslib/wcshdr.h>

#include "core/atomic_file.h"
#include "core/byte_order.h"
#include "sim/sim_noise.h"

void sv_sim_exposure_params_default(sv_sim_exposure_params *p)
{
    memset(p, 0, sizeof *p);
    sv_sim_config_default(&p->cfg);
    p->cfg.class_weight[SV_SIM_TRANSIENT] = 0.10;
    p->cfg.class_weight[SV_SIM_VARIABLE] = 0.25;
    p->cfg.class_weight[SV_SIM_ASTEROID] = 0.05;
    p->cfg.class_weight[SV_SIM_BOGUS] = 0.60;
    p->width = p->height = 3072;
    p->n_det = 10000;
    p->ra0 = p->dec0 = NAN;
    p->threads = 1;
    p->edge_margin = 8;
}

int sv_sim_exposure_params_check(const sv_sim_exposure_params *p, sv_error *err)
{
    if (sv_sim_config_check(&p->cfg, err))
        return SV_ERR_ARG;
    sv_sim_survey sv;
    if (sv_sim_survey_get(p->cfg.survey, &sv, err) ||
        sv_sim_survey_band_index(&sv, p->cfg.band) < 0)
        return sv_error_set(err, SV_ERR_ARG, "an exposure is in one band, not '%s'", p->cfg.band);
    if (p->width < 64 || p->height < 64 || p->width > 65536 || p->height > 65536)
        return sv_error_set(err, SV_ERR_ARG, "exposure size %dx%d outside 64..65536", p->width,
                            p->height);
    if (p->n_det < 0)
        return sv_error_set(err, SV_ERR_ARG, "negative number of detections");
    if (p->edge_margin < 0 || 2 * p->edge_margin >= p->width || 2 * p->edge_margin >= p->height)
        return sv_error_set(err, SV_ERR_ARG, "edge margin %d too large", p->edge_margin);
    if (isfinite(p->dec0) && fabs(p->dec0) > 89.0)
        return sv_error_set(err, SV_ERR_ARG, "field centre dec %g: within 1 deg of a pole", p->dec0);
    return 0;
}

void sv_sim_exposure_free(sv_sim_exposure *e)
{
    if (!e)
        return;
    free(e->sci);
    free(e->ref);
    free(e->diff);
    free(e->mask);
    free(e->header);
    free(e->det);
    memset(e, 0, sizeof *e);
}

/* ---- header cards ------------------------------------------------------- */

typedef struct cards {
    char *buf;
    int n, cap;
} cards;

static int card_add(cards *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int card_add(cards *c, const char *fmt, ...)
{
    if (c->n == c->cap) {
        int nc = c->cap ? 2 * c->cap : 64;
        char *nb = realloc(c->buf, (size_t)nc * 80 + 1);
        if (!nb)
            return -1;
        c->buf = nb;
        c->cap = nc;
    }
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    char *dst = c->buf + (size_t)c->n * 80;
    size_t l = strlen(tmp);
    if (l > 80)
        l = 80;
    memcpy(dst, tmp, l);
    memset(dst + l, ' ', 80 - l);
    dst[80] = '\0';
    c->n++;
    return 0;
}

/* a string card, quotes doubled as FITS wants */
static int card_str(cards *c, const char *key, const char *val, const char *com)
{
    char q[80];
    size_t k = 0;
    for (const char *p = val; *p && k < 60; p++) {
        if (*p == '\'')
            q[k++] = '\'';
        q[k++] = *p;
    }
    q[k] = '\0';
    return card_add(c, "%-8.8s= '%-8s' / %s", key, q, com);
}

/* "KEYWORD = value / comment" cards */
#define CARD_STR(c, k, v, com) card_str(c, k, v, com)
#define CARD_DBL(c, k, v, com) card_add(c, "%-8.8s= %20.12G / %s", k, v, com)
#define CARD_INT(c, k, v, com) card_add(c, "%-8.8s= %20lld / %s", k, (long long)(v), com)

static int build_header(const sv_sim_exposure_params *p, const sv_sim_survey *s,
                        sv_sim_exposure *e)
{
    cards c = {0};
    double ra0 = isfinite(p->ra0) ? p->ra0 : s->ra0, dec0 = isfinite(p->dec0) ? p->dec0 : s->dec0;
    double sc = s->pixscale / 3600.0, th = p->rotation * M_PI / 180.0;
    int rc = 0;
    rc |= CARD_STR(&c, "CTYPE1", "RA---TAN", "gnomonic projection");
    rc |= CARD_STR(&c, "CTYPE2", "DEC--TAN", "gnomonic projection");
    rc |= CARD_DBL(&c, "CRPIX1", 0.5 * (e->w + 1), "reference pixel x (image centre)");
    rc |= CARD_DBL(&c, "CRPIX2", 0.5 * (e->h + 1), "reference pixel y");
    rc |= CARD_DBL(&c, "CRVAL1", ra0, "[deg] RA at the reference pixel");
    rc |= CARD_DBL(&c, "CRVAL2", dec0, "[deg] Dec at the reference pixel");
    rc |= CARD_DBL(&c, "CD1_1", -sc * cos(th), "[deg/pixel] east to the left");
    rc |= CARD_DBL(&c, "CD1_2", sc * sin(th), "[deg/pixel]");
    rc |= CARD_DBL(&c, "CD2_1", sc * sin(th), "[deg/pixel]");
    rc |= CARD_DBL(&c, "CD2_2", sc * cos(th), "[deg/pixel] north up");
    rc |= CARD_STR(&c, "CUNIT1", "deg", "");
    rc |= CARD_STR(&c, "CUNIT2", "deg", "");
    rc |= CARD_STR(&c, "RADESYS", "ICRS", "");
    rc |= CARD_STR(&c, "SURVEY", s->name, "simulated survey profile");
    rc |= CARD_STR(&c, "FILTER", s->band[e->cond.band].name, "band");
    rc |= CARD_DBL(&c, "PIXSCALE", s->pixscale, "[arcsec/pixel]");
    rc |= CARD_DBL(&c, "EXPTIME", s->exptime, "[s] science exposure");
    rc |= CARD_DBL(&c, "GAIN", s->gain, "[e-/adu]");
    rc |= CARD_DBL(&c, "RDNOISE", s->read_noise, "[e-]");
    rc |= CARD_DBL(&c, "SATURATE", s->saturation, "[adu] saturation level");
    rc |= CARD_DBL(&c, "MAGZP", e->zp, "mag of 1 adu in the science exposure");
    rc |= CARD_DBL(&c, "SEEING", e->cond.seeing_sci, "[arcsec] science FWHM");
    rc |= CARD_DBL(&c, "REFSEE", e->cond.seeing_ref, "[arcsec] reference FWHM");
    rc |= CARD_DBL(&c, "SKYLEV", e->cond.sky_sci, "[adu] science sky level");
    rc |= CARD_DBL(&c, "SKYMAG", e->cond.sky_mag, "[mag/arcsec2] science sky");
    rc |= CARD_INT(&c, "NCOADD", e->cond.ref_epochs, "epochs in the reference co-add");
    rc |= CARD_DBL(&c, "MAGLIM", e->cond.depth, "survey median 5-sigma depth");
    rc |= CARD_INT(&c, "SIMSEED", e->seed, "stampvet simulate seed");
    rc |= CARD_STR(&c, "CREATOR", "stampvet simulate", "");
    if (rc) {
        free(c.buf);
        return -1;
    }
    e->header = c.buf;
    e->ncards = c.n;
    return 0;
}

/* ---- object placement ---------------------------------------------------- */

typedef struct grid {
    int cw, ch;
    double cell;
    int *head, *next;
    double *x, *y;
    int n;
} grid;

static int grid_ok(const grid *g, double x, double y, double mind)
{
    int cx = (int)(x / g->cell), cy = (int)(y / g->cell);
    for (int j = cy - 1; j <= cy + 1; j++)
        for (int i = cx - 1; i <= cx + 1; i++) {
            if (i < 0 || j < 0 || i >= g->cw || j >= g->ch)
                continue;
            for (int k = g->head[j * g->cw + i]; k >= 0; k = g->next[k])
                if (hypot(g->x[k] - x, g->y[k] - y) < mind)
                    return 0;
        }
    return 1;
}

static void grid_add(grid *g, double x, double y)
{
    int cx = (int)(x / g->cell), cy = (int)(y / g->cell);
    cx = cx < 0 ? 0 : cx >= g->cw ? g->cw - 1 : cx;
    cy = cy < 0 ? 0 : cy >= g->ch ? g->ch - 1 : cy;
    int k = g->n++;
    g->x[k] = x;
    g->y[k] = y;
    g->next[k] = g->head[cy * g->cw + cx];
    g->head[cy * g->cw + cx] = k;
}

/* ---- making ------------------------------------------------------------- */

int sv_sim_exposure_make(const sv_sim_exposure_params *p, sv_sim_exposure *e, sv_error *err)
{
    memset(e, 0, sizeof *e);
    if (sv_sim_exposure_params_check(p, err))
        return SV_ERR_ARG;
    sv_sim_survey *s = malloc(sizeof *s);
    if (!s)
        return sv_error_set(err, SV_ERR_NOMEM, "no memory");
    sv_sim_survey_get(p->cfg.survey, s, NULL);
    int band = sv_sim_survey_band_index(s, p->cfg.band);
    uint64_t seed = p->cfg.seed;
    int W = p->width, H = p->height;
    e->w = W;
    e->h = H;
    e->seed = seed;
    snprintf(e->survey, sizeof e->survey, "%s", s->name);
    snprintf(e->band, sizeof e->band, "%s", s->band[band].name);
    e->zp = s->band[band].zp;
    e->pixscale = s->pixscale;

    gsl_rng *rc = sim_rng_new(seed, SIM_STREAM_CONDITIONS, 0);
    gsl_rng *rf = sim_rng_new(seed, SIM_STREAM_FIELD, 0);
    gsl_rng *ro = gsl_rng_alloc(gsl_rng_mt19937);
    sim_frame fr;
    memset(&fr, 0, sizeof fr);
    sim_truth *truth = NULL;
    sv_sim_class *cls = NULL;
    grid g = {0};
    int status = SV_ERR_NOMEM;
    if (!rc || !rf || !ro)
        goto fail;
    sim_conditions_draw(s, band, rc, &e->cond);
    if (sim_frame_init(&fr, s, &e->cond, W, H, p->with_mask, p->threads))
        goto fail;
    if (sim_frame_add_field(&fr, rf, 3.0 * fr.psf_sci.fwhm_maj) < 0)
        goto fail;

    /* classes in exact proportions, shuffled */
    long n = p->n_det;
    truth = calloc((size_t)(n ? n : 1), sizeof *truth);
    cls = malloc((size_t)(n ? n : 1) * sizeof *cls);
    e->det = calloc((size_t)(n ? n : 1), sizeof *e->det);
    if (!truth || !cls || !e->det)
        goto fail;
    {
        double sum = 0, rem[SV_SIM_NCLASS];
        long cnt[SV_SIM_NCLASS], tot = 0, k = 0;
        for (int i = 0; i < SV_SIM_NCLASS; i++)
            sum += p->cfg.class_weight[i];
        for (int i = 0; i < SV_SIM_NCLASS; i++) {
            double q = p->cfg.class_weight[i] / sum * n;
            cnt[i] = (long)floor(q);
            rem[i] = q - cnt[i];
            tot += cnt[i];
        }
        while (tot < n) {
            int b = 0;
            for (int i = 1; i < SV_SIM_NCLASS; i++)
                if (rem[i] > rem[b])
                    b = i;
            cnt[b]++;
            rem[b] = -1;
            tot++;
        }
        for (int i = 0; i < SV_SIM_NCLASS; i++)
            for (long j = 0; j < cnt[i]; j++)
                cls[k++] = (sv_sim_class)i;
        sim_rng_reseed(ro, seed, SIM_STREAM_CLASSES, 0);
        if (n > 0)
            gsl_ran_shuffle(ro, cls, (size_t)n, sizeof *cls);
    }
    /* positions: uniform, at least mind apart */
    double mind = fmax(10.0, 3.0 * fr.psf_sci.fwhm_maj);
    g.cell = mind;
    g.cw = (int)ceil(W / mind) + 1;
    g.ch = (int)ceil(H / mind) + 1;
    g.head = malloc((size_t)g.cw * g.ch * sizeof *g.head);
    g.next = malloc((size_t)(n ? n : 1) * sizeof *g.next);
    g.x = malloc((size_t)(n ? n : 1) * sizeof *g.x);
    g.y = malloc((size_t)(n ? n : 1) * sizeof *g.y);
    if (!g.head || !g.next || !g.x || !g.y)
        goto fail;
    for (long i = 0; i < (long)g.cw * g.ch; i++)
        g.head[i] = -1;
    double m = p->edge_margin;
    for (long d = 0; d < n; d++) {
        sim_rng_reseed(ro, seed, SIM_STREAM_OBJECT, (uint64_t)d);
        double x = 0, y = 0;
        for (int tries = 0; tries < 50; tries++) {
            x = m + (W - 2 * m - 1) * gsl_rng_uniform(ro);
            y = m + (H - 2 * m - 1) * gsl_rng_uniform(ro);
            if (grid_ok(&g, x, y, mind))
                break;
        }
        grid_add(&g, x, y);
        sv_sim_subtype sub = sim_draw_subtype(&p->cfg, cls[d], ro);
        if (sim_inject(&fr, &p->cfg, sub, x, y, ro, &truth[d]))
            goto fail;
    }
    if (sim_frame_realize(&fr, NULL, seed))
        goto fail;

    if (build_header(p, s, e))
        goto fail;
    /* world coordinates through WCSLIB, from the very header written */
    int nreject = 0, nwcs = 0;
    struct wcsprm *wcs = NULL;
    if (wcspih(e->header, e->ncards, WCSHDR_all, 0, &nreject, &nwcs, &wcs) || nwcs < 1 ||
        wcsset(wcs)) {
        if (wcs)
            wcsvfree(&nwcs, &wcs);
        status = sv_error_set(err, SV_ERR_INTERNAL, "simulated exposure: WCS header rejected");
        goto fail_set;
    }
    int64_t base = (int64_t)(seed % 1000000ull) * 100000000LL;
    for (long d = 0; d < n; d++) {
        const sim_truth *t = &truth[d];
        sim_det dd;
        sim_frame_detect(&fr, t->nx, t->ny, t->rb, t->sign, &dd);
        sv_sim_detection *o = &e->det[d];
        o->candid = base + d + 1;
        o->xpos = dd.xc + 1.0;
        o->ypos = dd.yc + 1.0;
        double pix[2] = {o->xpos, o->ypos}, img[2], phi, theta, world[2];
        int stat = 0;
        if (wcsp2s(wcs, 1, 2, pix, img, &phi, &theta, world, &stat) == 0) {
            o->ra = world[0];
            o->dec = world[1];
        } else
            o->ra = o->dec = NAN;
        o->snr = (float)dd.snr;
        o->magpsf = dd.flux != 0 ? (float)sv_sim_mag(e->zp, dd.flux) : NAN;
        o->sigmapsf = dd.snr != 0 ? (float)(2.5 / M_LN10 / fabs(dd.snr)) : NAN;
        o->isdiffpos = dd.snr >= 0 ? 't' : 'f';
        o->cls = t->cls;
        o->sub = t->sub;
        o->true_mag = (float)t->true_mag;
        o->true_x = isfinite(t->x) ? t->x + 1.0 : NAN;
        o->true_y = isfinite(t->y) ? t->y + 1.0 : NAN;
    }
    wcsvfree(&nwcs, &wcs);
    e->n_det = n;
    /* keep the realised images, drop the rest */
    e->sci = fr.sci;
    e->ref = fr.ref;
    e->diff = fr.diff;
    e->mask = fr.mask;
    fr.sci = fr.ref = fr.diff = NULL;
    fr.mask = NULL;
    sim_frame_free(&fr);
    free(truth);
    free(cls);
    free(g.head);
    free(g.next);
    free(g.x);
    free(g.y);
    gsl_rng_free(rc);
    gsl_rng_free(rf);
    gsl_rng_free(ro);
    free(s);
    return 0;

fail:
    sv_error_set(err, status, "simulated exposure %dx%d: out of memory", W, H);
fail_set:
    sim_frame_free(&fr);
    free(truth);
    free(cls);
    free(g.head);
    free(g.next);
    free(g.x);
    free(g.y);
    if (rc)
        gsl_rng_free(rc);
    if (rf)
        gsl_rng_free(rf);
    if (ro)
        gsl_rng_free(ro);
    free(s);
    sv_sim_exposure_free(e);
    return status;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct outfile {
    sv_atomic_file af; /* the final path and its temporary file (atomic_file.h) */
    fitsfile *f;
} outfile;

static int out_open(outfile *o, const char *prefix, const char *suffix, sv_error *err)
{
    memset(o, 0, sizeof *o);
    size_t np = strlen(prefix), ns = strlen(suffix);
    char path[sizeof o->af.path];
    if (np + ns >= sizeof path)
        return sv_error_set(err, SV_ERR_ARG, "%s%s: output file name too long", prefix, suffix);
    memcpy(path, prefix, np);
    memcpy(path + np, suffix, ns + 1);
    if (sv_atomic_begin_name(&o->af, path, err))
        return err && err->status ? err->status : SV_ERR_IO;
    int st = 0;
    fits_create_diskfile(&o->f, o->af.tmp, &st);
    if (st) {
        char t[FLEN_STATUS];
        fits_get_errstatus(st, t);
        sv_error_set(err, SV_ERR_IO, "%s: cannot create: %s", o->af.path, t);
        sv_atomic_abort(&o->af);
        return SV_ERR_IO;
    }
    return 0;
}

static void out_abort(outfile *o)
{
    int st = 0;
    if (o->f)
        fits_close_file(o->f, &st);
    sv_atomic_abort(&o->af);
    memset(o, 0, sizeof *o);
}

static int out_finish(outfile *o, int st, sv_error *err)
{
    if (!st)
        sv_fits_write_chksum(o->f, &st);
    if (st) {
        char t[FLEN_STATUS];
        fits_get_errstatus(st, t);
        sv_error_set(err, SV_ERR_IO, "%s: cannot write: %s", o->af.path, t);
        out_abort(o);
        return SV_ERR_IO;
    }
    fits_close_file(o->f, &st);
    o->f = NULL;
    if (st) {
        sv_error_set(err, SV_ERR_IO, "%s: cannot close", o->af.path);
        out_abort(o);
        return SV_ERR_IO;
    }
    return sv_atomic_commit(&o->af, err); /* fsync, rename */
}

static int write_image(const sv_sim_exposure *e, const char *prefix, const char *suffix,
                       const void *data, int bitpix, const char *what, sv_error *err)
{
    outfile o;
    if (out_open(&o, prefix, suffix, err))
        return err ? err->status : SV_ERR_IO;
    int st = 0;
    long naxes[2] = {e->w, e->h};
    fits_create_img(o.f, bitpix, 2, naxes, &st);
    for (int k = 0; k < e->ncards && !st; k++) {
        char card[81];
        memcpy(card, e->header + (size_t)k * 80, 80);
        card[80] = '\0';
        fits_write_record(o.f, card, &st);
    }
    fits_write_key_str(o.f, "IMAGETYP", what, "science, reference or difference", &st);
    if (bitpix == FLOAT_IMG)
        fits_write_key_str(o.f, "BUNIT", "adu", "", &st);
    else {
        fits_write_comment(o.f, "mask bits: 1 saturated or bleed trail, 2 bad column,", &st);
        fits_write_comment(o.f, "4 hot pixel, 8 cosmic ray (science image artefacts)", &st);
    }
    LONGLONG npix = (LONGLONG)e->w * e->h;
    fits_write_img(o.f, bitpix == FLOAT_IMG ? TFLOAT : TBYTE, 1, npix, (void *)data, &st);
    return out_finish(&o, st, err);
}

static int write_detections(const sv_sim_exposure *e, const char *prefix, sv_error *err)
{
    outfile o;
    if (out_open(&o, prefix, "_det.fits", err))
        return err ? err->status : SV_ERR_IO;
    int st = 0;
    char *tt[] = {"candid", "xpos", "ypos", "ra", "dec", "magpsf", "sigmapsf", "isdiffpos",
                  "fwhm", "TRUECLS", "SUBTYPE", "TRUEMAG", "SNR", "TRUEX", "TRUEY"};
    char *tf[] = {"K", "D", "D", "D", "D", "E", "E", "1A", "E", "16A", "16A", "E", "E", "D", "D"};
    char *tu[] = {"", "pix", "pix", "deg", "deg", "mag", "mag", "", "pix", "", "", "mag", "",
                  "pix", "pix"};
    fits_create_img(o.f, BYTE_IMG, 0, NULL, &st);
    fits_create_tbl(o.f, BINARY_TBL, 0, 15, tt, tf, tu, "DETECTIONS", &st);
    for (int k = 0; k < e->ncards && !st; k++) {
        char card[81];
        memcpy(card, e->header + (size_t)k * 80, 80);
        card[80] = '\0';
        /* the survey description, not the WCS, belongs in the table */
        static const char *const wcskeys[] = {"CTYPE", "CRPIX", "CRVAL", "CD1_", "CD2_",
                                              "CUNIT", "RADESYS"};
        int skip = 0;
        for (size_t w = 0; w < sizeof wcskeys / sizeof *wcskeys; w++)
            skip |= !strncmp(card, wcskeys[w], strlen(wcskeys[w]));
        if (skip)
            continue;
        fits_write_record(o.f, card, &st);
    }
    LONGLONG nd = e->n_det;
    fits_write_key(o.f, TLONGLONG, "NDET", &nd, "detections", &st);
    int one = 1;
    fits_write_key(o.f, TINT, "XYORIGIN", &one, "xpos/ypos are 1-based FITS pixels", &st);
    fits_write_comment(o.f, "candid..fwhm: ZTF-style detection columns; TRUECLS..TRUEY: truth", &st);
    fits_write_comment(o.f, "SNR: matched-filter S/N on the difference, negative for 'f'", &st);
    /* rows encoded here (big-endian), strings NUL-padded so that readers
     * (astropy's Table too) see no trailing blanks */
    long n = e->n_det;
    const int rowb = 5 * 8 + 4 + 4 + 1 + 4 + 16 + 16 + 4 + 4 + 8 + 8;
    unsigned char *buf = malloc((size_t)(n ? n : 1) * rowb);
    if (!buf) {
        out_abort(&o);
        return sv_error_set(err, SV_ERR_NOMEM, "%s_det.fits: no memory", prefix);
    }
    memset(buf, 0, (size_t)(n ? n : 1) * rowb);
    float fwhm = (float)(e->cond.seeing_sci / e->pixscale);
    for (long i = 0; i < n; i++) {
        const sv_sim_detection *d = &e->det[i];
        unsigned char *p = buf + (size_t)i * rowb;
        sv_be_put_u64(p, (uint64_t)d->candid);
        sv_be_put_f64(p + 8, d->xpos);
        sv_be_put_f64(p + 16, d->ypos);
        sv_be_put_f64(p + 24, d->ra);
        sv_be_put_f64(p + 32, d->dec);
        sv_be_put_f32(p + 40, d->magpsf);
        sv_be_put_f32(p + 44, d->sigmapsf);
        p[48] = (unsigned char)d->isdiffpos;
        sv_be_put_f32(p + 49, fwhm);
        strncpy((char *)p + 53, sv_sim_class_name(d->cls), 16);
        strncpy((char *)p + 69, sv_sim_subtype_name(d->sub), 16);
        sv_be_put_f32(p + 85, d->true_mag);
        sv_be_put_f32(p + 89, d->snr);
        sv_be_put_f64(p + 93, d->true_x);
        sv_be_put_f64(p + 101, d->true_y);
    }
    if (n > 0 && !st)
        fits_write_tblbytes(o.f, 1, 1, (LONGLONG)n * rowb, buf, &st);
    free(buf);
    return out_finish(&o, st, err);
}

int sv_sim_exposure_write(const sv_sim_exposure *e, const char *prefix, sv_error *err)
{
    if (!e || !e->sci || !prefix || !*prefix)
        return sv_error_set(err, SV_ERR_ARG, "simulated exposure: nothing to write");
    int rc;
    if ((rc = write_image(e, prefix, "_sci.fits", e->sci, FLOAT_IMG, "science", err)) ||
        (rc = write_image(e, prefix, "_ref.fits", e->ref, FLOAT_IMG, "reference", err)) ||
        (rc = write_image(e, prefix, "_diff.fits", e->diff, FLOAT_IMG, "difference", err)) ||
        (rc = write_detections(e, prefix, err)))
        return rc;
    if (e->mask)
        rc = write_image(e, prefix, "_mask.fits", e->mask, BYTE_IMG, "mask", err);
    return rc;
}
