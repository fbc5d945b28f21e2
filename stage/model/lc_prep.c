/* lc_prep.c — light-curve preprocessing.  See lc_prep.h. */
#include "model/lc_prep.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/lc_set.h"

sv_lcprep sv_lcprep_defaults(sv_lcmode mode)
{
    sv_lcprep p;
    memset(&p, 0, sizeof p);
    p.mode = mode;
    if (mode == SV_LCMODE_NONE)
        return p;
    p.n_steps = 50;
    p.step = 3.0;
    p.pre_days = 30.0;
    p.norm = SV_LCNORM_BAND;
    p.align = SV_LCALIGN_END;
    p.layout = SV_LCLAYOUT_FULL;
    p.clip = 10.0f;
    p.meta_flags = 1;
    for (int i = 0; i < SV_LC_MAX_META; i++)
        p.meta_scale[i] = 1.0f;
    return p;
}

sv_lcprep sv_lcprep_rapid(void)
{
    sv_lcprep p = sv_lcprep_defaults(SV_LCMODE_GRID);
    p.n_steps = 50;
    p.step = 3.0;
    p.n_bands = 2;
    snprintf(p.bands[0], SV_LC_BAND_LEN, "g");
    snprintf(p.bands[1], SV_LC_BAND_LEN, "r");
    p.norm = SV_LCNORM_NONE;
    p.align = SV_LCALIGN_START;
    p.layout = SV_LCLAYOUT_FLUX;
    p.meta_flags = 0;
    p.clip = 1e30f; /* unnormalised fluxes: no clipping */
    return p;
}

static const char *const mode_names[] = {"none", "irregular", "grid"};
static const char *const norm_names[] = {"band", "global", "none"};

const char *sv_lcmode_name(sv_lcmode m)
{
    return (int)m >= 0 && (int)m <= 2 ? mode_names[m] : "unknown";
}

int sv_lcmode_from_name(const char *s, sv_lcmode *m)
{
    for (int i = 0; s && i <= 2; i++)
        if (!strcmp(s, mode_names[i])) {
            *m = (sv_lcmode)i;
            return 0;
        }
    return SV_ERR_FORMAT;
}

const char *sv_lcnorm_name(sv_lcnorm n)
{
    return (int)n >= 0 && (int)n <= 2 ? norm_names[n] : "unknown";
}

int sv_lcnorm_from_name(const char *s, sv_lcnorm *n)
{
    for (int i = 0; s && i <= 2; i++)
        if (!strcmp(s, norm_names[i])) {
            *n = (sv_lcnorm)i;
            return 0;
        }
    return SV_ERR_FORMAT;
}

int sv_lcprep_validate(const sv_lcprep *p, sv_error *err)
{
    if (!p)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: NULL");
    if (p->mode == SV_LCMODE_NONE)
        return 0;
    if (p->mode != SV_LCMODE_IRREGULAR && p->mode != SV_LCMODE_GRID)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: unknown mode %d",
                            (int)p->mode);
    if (p->n_steps < 1 || p->n_steps > SV_LC_MAX_STEPS)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: %d steps (1..%d)",
                            p->n_steps, SV_LC_MAX_STEPS);
    if (p->mode == SV_LCMODE_GRID && !(p->step > 0 && isfinite(p->step)))
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: grid step %g days "
                            "is not positive", p->step);
    if (!(p->pre_days >= 0 && isfinite(p->pre_days)))
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: pre_days %g",
                            p->pre_days);
    if (p->n_bands < 1 || p->n_bands > SV_LC_MAX_BANDS)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: %d bands (1..%d)",
                            p->n_bands, SV_LC_MAX_BANDS);
    for (int b = 0; b < p->n_bands; b++) {
        if (!p->bands[b][0] || memchr(p->bands[b], '\0', SV_LC_BAND_LEN) == NULL ||
            strpbrk(p->bands[b], ",: "))
            return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: band %d has "
                                "an empty or invalid name", b + 1);
        for (int c = 0; c < b; c++)
            if (!strcmp(p->bands[b], p->bands[c]))
                return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: band '%s' "
                                    "listed twice", p->bands[b]);
    }
    if ((int)p->norm < 0 || (int)p->norm > 2)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: unknown norm");
    if ((int)p->align < 0 || (int)p->align > 1)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: unknown align");
    if ((int)p->layout < 0 || (int)p->layout > 1)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: unknown layout");
    if (p->layout == SV_LCLAYOUT_FLUX && p->mode != SV_LCMODE_GRID)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: layout 'flux' "
                            "needs mode grid");
    if (!(p->clip > 0) || !isfinite(p->clip))
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: clip %g",
                            (double)p->clip);
    if (p->n_meta < 0 || p->n_meta > SV_LC_MAX_META)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: %d metadata "
                            "values (0..%d)", p->n_meta, SV_LC_MAX_META);
    for (int m = 0; m < p->n_meta; m++) {
        if (!p->meta[m][0] || memchr(p->meta[m], '\0', SV_LC_NAME_LEN) == NULL)
            return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: metadata %d "
                                "has no name", m + 1);
        for (int c = 0; c < m; c++)
            if (!strcmp(p->meta[m], p->meta[c]))
                return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: metadata "
                                    "'%s' listed twice", p->meta[m]);
        if (!isfinite(p->meta_offset[m]) || !(p->meta_scale[m] > 0) ||
            !isfinite(p->meta_scale[m]))
            return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: metadata '%s' "
                                "offset %g / scale %g", p->meta[m], (double)p->meta_offset[m],
                                (double)p->meta_scale[m]);
    }
    return 0;
}

int sv_lcprep_n_features(const sv_lcprep *p)
{
    int nb = p->n_bands, sc = p->norm == SV_LCNORM_BAND ? nb : 0;
    if (p->mode == SV_LCMODE_IRREGULAR)
        return 6 + nb + sc;
    if (p->mode == SV_LCMODE_GRID)
        return p->layout == SV_LCLAYOUT_FLUX ? nb : 2 * nb + sc + 2;
    return 0;
}

int sv_lcprep_meta_size(const sv_lcprep *p)
{
    return p->n_meta * (p->meta_flags ? 2 : 1);
}

/* ---- text form ------------------------------------------------------------------ */

int sv_lcprep_format(const sv_lcprep *p, char *buf, int cap)
{
    if (p->mode == SV_LCMODE_NONE)
        return snprintf(buf, (size_t)cap, "none");
    char bl[SV_LC_MAX_BANDS * SV_LC_BAND_LEN + 8] = "";
    for (int b = 0; b < p->n_bands; b++) {
        strcat(bl, b ? ":" : "");
        strcat(bl, p->bands[b]);
    }
    if (p->mode == SV_LCMODE_GRID)
        return snprintf(buf, (size_t)cap,
                        "grid,steps=%d,step=%g,bands=%s,norm=%s,align=%s,layout=%s,clip=%g",
                        p->n_steps, p->step, bl, sv_lcnorm_name(p->norm),
                        p->align == SV_LCALIGN_END ? "end" : "start",
                        p->layout == SV_LCLAYOUT_FULL ? "full" : "flux", (double)p->clip);
    return snprintf(buf, (size_t)cap, "irregular,steps=%d,pre=%g,bands=%s,norm=%s,align=%s,clip=%g",
                    p->n_steps, p->pre_days, bl, sv_lcnorm_name(p->norm),
                    p->align == SV_LCALIGN_END ? "end" : "start", (double)p->clip);
}

static int parse_bands(const char *v, sv_lcprep *p, sv_error *err)
{
    p->n_bands = 0;
    const char *s = v;
    while (*s) {
        const char *e = strchr(s, ':');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || len >= SV_LC_BAND_LEN || p->n_bands == SV_LC_MAX_BANDS)
            return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: bands '%s': "
                                "empty, too long or too many (at most %d of %d characters)",
                                v, SV_LC_MAX_BANDS, SV_LC_BAND_LEN - 1);
        memcpy(p->bands[p->n_bands], s, len);
        p->bands[p->n_bands][len] = '\0';
        p->n_bands++;
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

int sv_lcprep_parse(const char *text, sv_lcprep *p, sv_error *err)
{
    if (!text || !p)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: no text");
    char buf[512];
    if (strlen(text) >= sizeof buf)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: text too long");
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL, *tok = strtok_r(buf, ",", &save);
    if (!tok)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing: empty text");
    sv_lcprep q;
    if (!strcmp(tok, "rapid"))
        q = sv_lcprep_rapid();
    else if (!strcmp(tok, "irregular"))
        q = sv_lcprep_defaults(SV_LCMODE_IRREGULAR);
    else if (!strcmp(tok, "grid"))
        q = sv_lcprep_defaults(SV_LCMODE_GRID);
    else if (!strcmp(tok, "none"))
        q = sv_lcprep_defaults(SV_LCMODE_NONE);
    else
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing '%s': starts with "
                            "'%s', not irregular, grid, rapid or none", text, tok);
    int st = 0;
    while (!st && (tok = strtok_r(NULL, ",", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq)
            return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing '%s': '%s' is "
                                "not key=value", text, tok);
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        char *end = NULL;
        if (!strcmp(k, "steps")) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > SV_LC_MAX_STEPS)
                st = SV_ERR_FORMAT;
            q.n_steps = (int)n;
        } else if (!strcmp(k, "step") || !strcmp(k, "pre") || !strcmp(k, "clip")) {
            double d = strtod(v, &end);
            if (*end || !isfinite(d))
                st = SV_ERR_FORMAT;
            if (k[0] == 's')
                q.step = d;
            else if (k[0] == 'p')
                q.pre_days = d;
            else
                q.clip = (float)d;
        } else if (!strcmp(k, "bands")) {
            if ((st = parse_bands(v, &q, err)))
                return st;
        } else if (!strcmp(k, "norm")) {
            st = sv_lcnorm_from_name(v, &q.norm);
        } else if (!strcmp(k, "align")) {
            if (!strcmp(v, "end"))
                q.align = SV_LCALIGN_END;
            else if (!strcmp(v, "start"))
                q.align = SV_LCALIGN_START;
            else
                st = SV_ERR_FORMAT;
        } else if (!strcmp(k, "layout")) {
            if (!strcmp(v, "full"))
                q.layout = SV_LCLAYOUT_FULL;
            else if (!strcmp(v, "flux"))
                q.layout = SV_LCLAYOUT_FLUX;
            else
                st = SV_ERR_FORMAT;
        } else if (!strcmp(k, "mflags")) {
            q.meta_flags = atoi(v) != 0;
        } else {
            return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing '%s': unknown "
                                "key '%s' (steps, step, pre, bands, norm, align, layout, "
                                "clip, mflags)", text, k);
        }
        if (st)
            return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing '%s': bad value "
                                "'%s' for %s", text, v, k);
    }
    q.n_meta = p->n_meta; /* metadata is not part of the text */
    memcpy(q.meta, p->meta, sizeof q.meta);
    memcpy(q.meta_offset, p->meta_offset, sizeof q.meta_offset);
    memcpy(q.meta_scale, p->meta_scale, sizeof q.meta_scale);
    if (q.mode != SV_LCMODE_NONE && q.n_bands == 0)
        return sv_error_set(err, SV_ERR_FORMAT, "light-curve preprocessing '%s': no bands "
                            "(bands=g:r)", text);
    if ((st = sv_lcprep_validate(&q, err)))
        return st;
    *p = q;
    return 0;
}

/* ---- model-file cards ------------------------------------------------------------ */

const char *const sv_lcprep_card_names[] = {"LCMODE",  "LCSTEPS", "LCSTEP",   "LCPRE",
                                            "LCBANDS", "LCNORM",  "LCALIGN",  "LCLAYOUT",
                                            "LCCLIP",  "LCMFLAG", "LCNMETA",  NULL};
const char *const sv_lcprep_card_prefixes[] = {"LCMETA", "LCMOFF", "LCMSCL", NULL};

int sv_lcprep_write_cards(void *fptr, const sv_lcprep *p, int *status)
{
    fitsfile *f = fptr;
    int *st = status;
    fits_update_key(f, TSTRING, "LCMODE", (void *)sv_lcmode_name(p->mode),
                    "light-curve input: irregular, grid or none", st);
    if (p->mode == SV_LCMODE_NONE)
        return *st;
    int T = p->n_steps, mf = p->meta_flags, nm = p->n_meta;
    double step = p->step, pre = p->pre_days, clip = p->clip;
    char bl[SV_LC_MAX_BANDS * SV_LC_BAND_LEN + 8] = "";
    for (int b = 0; b < p->n_bands; b++) {
        strcat(bl, b ? "," : "");
        strcat(bl, p->bands[b]);
    }
    fits_update_key(f, TINT, "LCSTEPS", &T, "sequence length (time steps)", st);
    fits_update_key(f, TDOUBLE, "LCSTEP", &step, "[d] grid spacing", st);
    fits_update_key(f, TDOUBLE, "LCPRE", &pre, "[d] upper limits kept before 1st detection",
                    st);
    fits_update_key(f, TSTRING, "LCBANDS", bl, "bands in input order", st);
    fits_update_key(f, TSTRING, "LCNORM", (void *)sv_lcnorm_name(p->norm),
                    "flux normalisation: band, global or none", st);
    fits_update_key(f, TSTRING, "LCALIGN", p->align == SV_LCALIGN_END ? "end" : "start",
                    "steps at the end (pad first) or start", st);
    fits_update_key(f, TSTRING, "LCLAYOUT", p->layout == SV_LCLAYOUT_FULL ? "full" : "flux",
                    "per-step features: full or flux only", st);
    fits_update_key(f, TDOUBLE, "LCCLIP", &clip, "normalised values clipped to +-LCCLIP", st);
    fits_update_key(f, TLOGICAL, "LCMFLAG", &mf, "metadata known-flags follow the values", st);
    fits_update_key(f, TINT, "LCNMETA", &nm, "metadata values (dense branch input)", st);
    for (int m = 0; m < nm; m++) {
        char key[32];
        double off = p->meta_offset[m], sc = p->meta_scale[m];
        snprintf(key, sizeof key, "LCMETA%d", m + 1);
        fits_update_key(f, TSTRING, key, (void *)p->meta[m], "metadata name", st);
        snprintf(key, sizeof key, "LCMOFF%d", m + 1);
        fits_update_key(f, TDOUBLE, key, &off, "metadata offset (training mean)", st);
        snprintf(key, sizeof key, "LCMSCL%d", m + 1);
        fits_update_key(f, TDOUBLE, key, &sc, "metadata scale (training std)", st);
    }
    return *st;
}

static int rd_str(fitsfile *f, const char *key, char *v, int req, char *msg, int cap)
{
    int st = 0;
    char buf[FLEN_VALUE] = "";
    fits_read_key(f, TSTRING, key, buf, NULL, &st);
    if (st) {
        fits_clear_errmsg();
        if (req) {
            snprintf(msg, (size_t)cap, "card %s is missing", key);
            return SV_ERR_FORMAT;
        }
        return 1;
    }
    snprintf(v, FLEN_VALUE, "%s", buf);
    return 0;
}

static int rd_dbl(fitsfile *f, const char *key, double *v, char *msg, int cap)
{
    int st = 0;
    fits_read_key(f, TDOUBLE, key, v, NULL, &st);
    if (st || !isfinite(*v)) {
        fits_clear_errmsg();
        snprintf(msg, (size_t)cap, "card %s is missing or not a number", key);
        return SV_ERR_FORMAT;
    }
    return 0;
}

int sv_lcprep_read_cards(void *fptr, sv_lcprep *p, char *msg, int cap)
{
    fitsfile *f = fptr;
    char v[FLEN_VALUE];
    memset(p, 0, sizeof *p);
    int r = rd_str(f, "LCMODE", v, 0, msg, cap);
    if (r == 1)
        return 0;
    sv_lcmode mode;
    if (sv_lcmode_from_name(v, &mode)) {
        snprintf(msg, (size_t)cap, "card LCMODE = '%s' is not irregular, grid or none", v);
        return SV_ERR_FORMAT;
    }
    *p = sv_lcprep_defaults(mode);
    if (mode == SV_LCMODE_NONE)
        return 0;
    double d;
    int st;
    if ((st = rd_dbl(f, "LCSTEPS", &d, msg, cap)))
        return st;
    if (d < 1 || d > SV_LC_MAX_STEPS || d != floor(d)) {
        snprintf(msg, (size_t)cap, "card LCSTEPS = %g not in 1..%d", d, SV_LC_MAX_STEPS);
        return SV_ERR_FORMAT;
    }
    p->n_steps = (int)d;
    if ((st = rd_dbl(f, "LCSTEP", &p->step, msg, cap)) ||
        (st = rd_dbl(f, "LCPRE", &p->pre_days, msg, cap)))
        return st;
    if ((st = rd_str(f, "LCBANDS", v, 1, msg, cap)))
        return st;
    for (char *c = v; *c; c++)
        if (*c == ',')
            *c = ':';
    sv_error e;
    sv_error_clear(&e);
    if (!v[0] || parse_bands(v, p, &e)) {
        snprintf(msg, (size_t)cap, "card LCBANDS = '%s' is not a band list", v);
        return SV_ERR_FORMAT;
    }
    if ((st = rd_str(f, "LCNORM", v, 1, msg, cap)))
        return st;
    if (sv_lcnorm_from_name(v, &p->norm)) {
        snprintf(msg, (size_t)cap, "card LCNORM = '%s' is not band, global or none", v);
        return SV_ERR_FORMAT;
    }
    if ((st = rd_str(f, "LCALIGN", v, 1, msg, cap)))
        return st;
    if (strcmp(v, "end") && strcmp(v, "start")) {
        snprintf(msg, (size_t)cap, "card LCALIGN = '%s' is not end or start", v);
        return SV_ERR_FORMAT;
    }
    p->align = !strcmp(v, "end") ? SV_LCALIGN_END : SV_LCALIGN_START;
    if ((st = rd_str(f, "LCLAYOUT", v, 1, msg, cap)))
        return st;
    if (strcmp(v, "full") && strcmp(v, "flux")) {
        snprintf(msg, (size_t)cap, "card LCLAYOUT = '%s' is not full or flux", v);
        return SV_ERR_FORMAT;
    }
    p->layout = !strcmp(v, "full") ? SV_LCLAYOUT_FULL : SV_LCLAYOUT_FLUX;
    if ((st = rd_dbl(f, "LCCLIP", &d, msg, cap)))
        return st;
    p->clip = (float)d;
    int mf = 0;
    int fst = 0;
    fits_read_key(f, TLOGICAL, "LCMFLAG", &mf, NULL, &fst);
    if (fst) {
        fits_clear_errmsg();
        snprintf(msg, (size_t)cap, "card LCMFLAG is missing or not logical");
        return SV_ERR_FORMAT;
    }
    p->meta_flags = mf != 0;
    if ((st = rd_dbl(f, "LCNMETA", &d, msg, cap)))
        return st;
    if (d < 0 || d > SV_LC_MAX_META || d != floor(d)) {
        snprintf(msg, (size_t)cap, "card LCNMETA = %g not in 0..%d", d, SV_LC_MAX_META);
        return SV_ERR_FORMAT;
    }
    p->n_meta = (int)d;
    for (int m = 0; m < p->n_meta; m++) {
        char key[32];
        snprintf(key, sizeof key, "LCMETA%d", m + 1);
        if ((st = rd_str(f, key, v, 1, msg, cap)))
            return st;
        if (!v[0] || strlen(v) >= SV_LC_NAME_LEN) {
            snprintf(msg, (size_t)cap, "card %s is empty or longer than %d characters", key,
                     SV_LC_NAME_LEN - 1);
            return SV_ERR_FORMAT;
        }
        snprintf(p->meta[m], SV_LC_NAME_LEN, "%s", v);
        snprintf(key, sizeof key, "LCMOFF%d", m + 1);
        if ((st = rd_dbl(f, key, &d, msg, cap)))
            return st;
        p->meta_offset[m] = (float)d;
        snprintf(key, sizeof key, "LCMSCL%d", m + 1);
        if ((st = rd_dbl(f, key, &d, msg, cap)))
            return st;
        p->meta_scale[m] = (float)d;
    }
    sv_error ve;
    sv_error_clear(&ve);
    if (sv_lcprep_validate(p, &ve)) {
        snprintf(msg, (size_t)cap, "%s", ve.text);
        return SV_ERR_FORMAT;
    }
    return 0;
}

/* ---- binding and applying ---------------------------------------------------------- */

int sv_lcprep_bind(const sv_lcprep *p, const sv_lc_set *s, sv_lcprep_map *map, sv_error *err)
{
    memset(map, 0, sizeof *map);
    int known = 0;
    for (int b = 0; b < SV_LC_MAX_BANDS; b++)
        map->band[b] = -1;
    for (int b = 0; b < s->n_bands; b++) {
        for (int k = 0; k < p->n_bands; k++)
            if (!strcmp(s->bands[b], p->bands[k]))
                map->band[b] = k;
        if (map->band[b] < 0)
            map->n_dropped_bands++;
        else
            known++;
    }
    for (int m = 0; m < SV_LC_MAX_META; m++)
        map->meta[m] = -1;
    for (int m = 0; m < p->n_meta; m++) {
        for (int c = 0; c < s->n_meta; c++)
            if (!strcmp(p->meta[m], s->meta_names[c]))
                map->meta[m] = c;
        if (map->meta[m] < 0)
            map->n_missing_meta++;
    }
    if (p->mode != SV_LCMODE_NONE && s->n_bands > 0 && known == 0) {
        char bl[SV_LC_MAX_BANDS * SV_LC_BAND_LEN + 8] = "";
        for (int b = 0; b < s->n_bands; b++) {
            strcat(bl, b ? "," : "");
            strcat(bl, s->bands[b]);
        }
        return sv_error_set(err, SV_ERR_ARG, "%s: none of its bands (%s) is one of the model's",
                            s->origin, bl);
    }
    return 0;
}

static float clipf(double v, float c)
{
    if (!(v == v))
        return 0.0f;
    return (float)(v > c ? c : (v < -c ? -c : v));
}

/* Gather the usable observations: model band known, t <= t_now. */
typedef struct pobs {
    double t;
    float flux, err;
    int band;
    int ulim;
} pobs;

int sv_lcprep_apply(const sv_lcprep *p, const sv_lcprep_map *map, const sv_lc *lc, double t_now,
                    float *seq, float *meta, int *n_valid_out, sv_error *err)
{
    if (!p || !map || !lc || !seq)
        return sv_error_set(err, SV_ERR_ARG, "light-curve preprocessing: NULL argument");
    if (p->mode == SV_LCMODE_NONE)
        return sv_error_set(err, SV_ERR_ARG, "light-curve preprocessing: the model declares "
                            "none (LCMODE); it cannot classify histories");
    int T = p->n_steps, F = sv_lcprep_n_features(p), nb = p->n_bands;
    memset(seq, 0, (size_t)T * F * sizeof(float));
    if (n_valid_out)
        *n_valid_out = 0;

    /* metadata first (independent of the light curve) */
    if (meta) {
        for (int m = 0; m < p->n_meta; m++) {
            int c = map->meta[m];
            double v = c >= 0 && lc->meta ? lc->meta[c] : NAN;
            int known = isfinite(v);
            meta[m] = known ? clipf((v - p->meta_offset[m]) / p->meta_scale[m], p->clip) : 0.0f;
            if (p->meta_flags)
                meta[p->n_meta + m] = known ? 1.0f : 0.0f;
        }
    }

    if (!(t_now == t_now))
        t_now = INFINITY;
    /* first detection and the per-band scales */
    double t0 = INFINITY;
    double s_band[SV_LC_MAX_BANDS] = {0};
    int n = lc->n;
    for (int i = 0; i < n; i++) {
        const sv_lc_obs *o = &lc->obs[i];
        if (o->t > t_now || o->band < 0 || o->band >= SV_LC_MAX_BANDS || map->band[o->band] < 0)
            continue;
        if (!o->ulim && o->t < t0)
            t0 = o->t;
    }
    if (!isfinite(t0))
        return 0; /* no detection: nothing to classify */
    double s_max = 0;
    for (int i = 0; i < n; i++) {
        const sv_lc_obs *o = &lc->obs[i];
        if (o->t > t_now || o->t < t0 - p->pre_days || o->band < 0 ||
            o->band >= SV_LC_MAX_BANDS || map->band[o->band] < 0 || o->ulim)
            continue;
        int b = map->band[o->band];
        double a = fabs(o->flux);
        if (a > s_band[b])
            s_band[b] = a;
        if (a > s_max)
            s_max = a;
    }
    if (!(s_max > 0))
        s_max = 1.0;
    double scale[SV_LC_MAX_BANDS], scale_feat[SV_LC_MAX_BANDS];
    for (int b = 0; b < nb; b++) {
        if (p->norm == SV_LCNORM_NONE)
            scale[b] = 1.0;
        else if (p->norm == SV_LCNORM_GLOBAL || !(s_band[b] > 0))
            scale[b] = s_max;
        else
            scale[b] = s_band[b];
        scale_feat[b] = s_band[b] > 0 ? log10(s_band[b] / s_max) : 0.0;
    }

    /* the usable observations, in time order (lc->obs is sorted) */
    pobs *ob = malloc((size_t)(n > 0 ? n : 1) * sizeof *ob);
    if (!ob)
        return sv_error_set(err, SV_ERR_NOMEM, "light-curve preprocessing: out of memory");
    int m = 0;
    for (int i = 0; i < n; i++) {
        const sv_lc_obs *o = &lc->obs[i];
        if (o->t > t_now || o->t < t0 - p->pre_days || o->band < 0 ||
            o->band >= SV_LC_MAX_BANDS || map->band[o->band] < 0)
            continue;
        ob[m].t = o->t;
        ob[m].flux = o->flux;
        ob[m].err = o->fluxerr;
        ob[m].band = map->band[o->band];
        ob[m].ulim = o->ulim;
        m++;
    }

    int n_valid = 0;
    if (p->mode == SV_LCMODE_IRREGULAR) {
        int first = m > T ? m - T : 0;
        n_valid = m - first;
        int pad = p->align == SV_LCALIGN_END ? T - n_valid : 0;
        for (int i = first; i < m; i++) {
            float *x = seq + (size_t)(pad + i - first) * F;
            const pobs *o = &ob[i];
            double dt = i > first ? o->t - ob[i - 1].t : 0.0;
            double sc = scale[o->band];
            int k = 0;
            x[k++] = clipf((o->t - t0) / 100.0, p->clip);
            x[k++] = clipf(log1p(dt > 0 ? dt : 0), p->clip);
            x[k++] = clipf(o->flux / sc, p->clip);
            x[k++] = clipf(o->err / sc, p->clip);
            x[k++] = o->ulim ? 1.0f : 0.0f;
            for (int b = 0; b < nb; b++)
                x[k++] = b == o->band ? 1.0f : 0.0f;
            if (p->norm == SV_LCNORM_BAND)
                for (int b = 0; b < nb; b++)
                    x[k++] = clipf(scale_feat[b], p->clip);
            x[k++] = 1.0f;
        }
    } else {
        /* grid: per band, the interpolation points */
        double t_end = t_now;
        if (!isfinite(t_end)) {
            t_end = t0;
            for (int i = 0; i < m; i++)
                if (ob[i].t > t_end)
                    t_end = ob[i].t;
        }
        long n_all = (long)floor((t_end - t0) / p->step + 1e-9) + 1;
        if (n_all < 1)
            n_all = 1;
        long g_first = 0;
        n_valid = (int)(n_all < T ? n_all : T);
        if (n_all > T && p->align == SV_LCALIGN_END)
            g_first = n_all - T;
        int pad = p->align == SV_LCALIGN_END ? T - n_valid : 0;
        double *pt = malloc((size_t)(m > 0 ? m : 1) * sizeof *pt);
        double *pv = malloc((size_t)(m > 0 ? m : 1) * sizeof *pv);
        if (!pt || !pv) {
            free(pt);
            free(pv);
            free(ob);
            return sv_error_set(err, SV_ERR_NOMEM, "light-curve preprocessing: out of memory");
        }
        for (int b = 0; b < nb; b++) {
            int np = 0;
            double last_det = NAN;
            for (int i = 0; i < m; i++) {
                if (ob[i].band != b)
                    continue;
                if (!ob[i].ulim) {
                    pt[np] = ob[i].t;
                    pv[np++] = ob[i].flux / scale[b];
                    last_det = fabs(ob[i].flux);
                } else if (ob[i].t > t0 && isfinite(last_det) && ob[i].flux < last_det) {
                    pt[np] = ob[i].t;
                    pv[np++] = 0.0; /* faded below a limit deeper than the last detection */
                }
            }
            for (int j = 0; j < n_valid; j++) {
                double g = t0 + (double)(g_first + j) * p->step;
                float *x = seq + (size_t)(pad + j) * F;
                double val = 0;
                int cov = 0;
                if (np > 0 && g >= pt[0] - 1e-9 && g <= pt[np - 1] + 1e-9) {
                    cov = 1;
                    int a = 0;
                    while (a + 1 < np && pt[a + 1] < g)
                        a++;
                    if (a + 1 < np && pt[a + 1] > pt[a]) {
                        double w = (g - pt[a]) / (pt[a + 1] - pt[a]);
                        if (w < 0)
                            w = 0;
                        if (w > 1)
                            w = 1;
                        val = pv[a] + w * (pv[a + 1] - pv[a]);
                    } else {
                        val = pv[a];
                    }
                }
                x[b] = clipf(val, p->clip);
                if (p->layout == SV_LCLAYOUT_FULL)
                    x[nb + b] = (float)cov;
            }
        }
        if (p->layout == SV_LCLAYOUT_FULL) {
            int base = 2 * nb;
            for (int j = 0; j < n_valid; j++) {
                float *x = seq + (size_t)(pad + j) * F;
                int k = base;
                if (p->norm == SV_LCNORM_BAND)
                    for (int b = 0; b < nb; b++)
                        x[k++] = clipf(scale_feat[b], p->clip);
                x[k++] = clipf((double)(g_first + j) * p->step / 100.0, p->clip);
                x[k++] = 1.0f;
            }
        }
        free(pt);
        free(pv);
    }
    free(ob);
    if (n_valid_out)
        *n_valid_out = n_valid;
    return 0;
}

int sv_lcprep_fit_meta(sv_lcprep *p, const sv_lc_set *s, const char *const *names, int n_names,
                       const long *idx, long n, sv_error *err)
{
    int nm = names ? n_names : s->n_meta;
    if (nm < 0 || nm > SV_LC_MAX_META)
        return sv_error_set(err, SV_ERR_ARG, "light-curve metadata: %d names (0..%d)", nm,
                            SV_LC_MAX_META);
    int col[SV_LC_MAX_META];
    for (int m = 0; m < nm; m++) {
        const char *nmn = names ? names[m] : s->meta_names[m];
        col[m] = -1;
        for (int c = 0; c < s->n_meta; c++)
            if (!strcmp(nmn, s->meta_names[c]))
                col[m] = c;
        if (col[m] < 0 || strlen(nmn) >= SV_LC_NAME_LEN)
            return sv_error_set(err, SV_ERR_ARG, "%s: no metadata column '%s'", s->origin, nmn);
        snprintf(p->meta[m], SV_LC_NAME_LEN, "%s", nmn);
    }
    p->n_meta = nm;
    long cnt = idx ? n : s->n;
    for (int m = 0; m < nm; m++) {
        double sum = 0, sq = 0;
        long k = 0;
        for (long j = 0; j < cnt; j++) {
            long i = idx ? idx[j] : j;
            double v = s->lc[i].meta[col[m]];
            if (!isfinite(v))
                continue;
            sum += v;
            sq += v * v;
            k++;
        }
        double mean = k ? sum / k : 0.0;
        double var = k > 1 ? (sq - k * mean * mean) / (k - 1) : 0.0;
        double sd = var > 0 ? sqrt(var) : 0.0;
        p->meta_offset[m] = (float)mean;
        p->meta_scale[m] = sd > 1e-12 ? (float)sd : 1.0f;
    }
    return 0;
}
