/* alert_score.c — see alert_score.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "pipeline/alert_score.h"

#include <ctype.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fits/report_file.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "?"
#endif

/* Reader flags that leave an alert without a score. */
#define ALERT_UNSCORABLE \
    (SV_ALERT_UNDECODABLE | SV_ALERT_BAD_CUTOUT | SV_ALERT_NO_SURVEY)

void sv_alert_table_init(sv_alert_table *t, const sv_model *m)
{
    memset(t, 0, sizeof *t);
    t->model = m;
    t->n_out = m->task == SV_TASK_REALBOGUS ? 1 : m->n_classes;
}

void sv_alert_table_set_lc(sv_alert_table *t, sv_lc_stage *lc)
{
    t->lc = lc;
    t->n_lc = lc ? sv_lc_stage_model(lc)->n_classes : 0;
}

void sv_alert_table_free(sv_alert_table *t)
{
    free(t->rows);
    free(t->out);
    free(t->lc_prob);
    free(t->lc_flags);
    memset(t, 0, sizeof *t);
}

static sv_alert_row *table_push(sv_alert_table *t, sv_error *err)
{
    if (t->n == t->cap) {
        long nc = t->cap ? 2 * t->cap : 64;
        sv_alert_row *nr = realloc(t->rows, (size_t)nc * sizeof *nr);
        if (!nr) {
            sv_error_set(err, SV_ERR_NOMEM, "out of memory");
            return NULL;
        }
        t->rows = nr;
        float *no = realloc(t->out, (size_t)nc * (size_t)t->n_out * sizeof *no);
        if (!no) {
            sv_error_set(err, SV_ERR_NOMEM, "out of memory");
            return NULL;
        }
        t->out = no;
        if (t->lc) {
            float *np = realloc(t->lc_prob, (size_t)nc * (size_t)t->n_lc * sizeof *np);
            if (np)
                t->lc_prob = np;
            int32_t *nf = np ? realloc(t->lc_flags, (size_t)nc * sizeof *nf) : NULL;
            if (!nf) {
                sv_error_set(err, SV_ERR_NOMEM, "out of memory");
                return NULL;
            }
            t->lc_flags = nf;
        }
        t->cap = nc;
    }
    sv_alert_row *r = &t->rows[t->n];
    memset(r, 0, sizeof *r);
    r->packet_score = NAN;
    for (int k = 0; k < t->n_out; k++)
        t->out[(size_t)t->n * t->n_out + k] = NAN;
    for (int k = 0; k < t->n_lc; k++)
        t->lc_prob[(size_t)t->n * t->n_lc + k] = NAN;
    if (t->lc)
        t->lc_flags[t->n] = SV_LCFLAG_NOHIST;
    t->n++;
    return r;
}

static void row_flag(sv_alert_row *r, uint32_t bit, const char *fmt, const char *what)
{
    r->flags |= bit;
    if (!r->error[0]) {
        int k = snprintf(r->error, sizeof r->error, "%s: record %ld: ", r->source, r->record);
        if (k > 0 && (size_t)k < sizeof r->error)
            snprintf(r->error + k, sizeof r->error - (size_t)k, fmt, what);
    }
}

int sv_alert_table_add_failure(sv_alert_table *t, const char *source, const char *error,
                               sv_error *err)
{
    sv_alert_row *r = table_push(t, err);
    if (!r)
        return SV_ERR_NOMEM;
    snprintf(r->source, sizeof r->source, "%s", source);
    r->record = 0;
    r->flags = SV_ALERT_UNDECODABLE;
    snprintf(r->error, sizeof r->error, "%s", error);
    return 0;
}

/* Fill row r from alert a; 1 when it can be scored. */
static int row_from_alert(const sv_model *m, const sv_alert *a, sv_alert_row *r, float *feat)
{
    r->survey = a->survey;
    r->has_id = a->has_id;
    r->id = a->id;
    snprintf(r->object_id, sizeof r->object_id, "%s", a->object_id);
    r->record = a->record;
    r->packet_score = a->survey_score;
    r->n_history = a->n_history;
    r->flags = a->flags;
    snprintf(r->error, sizeof r->error, "%s", a->error);
    if (a->flags & ALERT_UNSCORABLE)
        return 0;
    int ok = 1;
    for (int k = 0; k < m->pre.n_channels; k++)
        if (!a->cutout[m->pre.channel[k]].pix) {
            r->flags |= SV_ALERT_NO_CUTOUT; /* the reader has said which */
            ok = 0;
        }
    for (int k = 0; ok && k < m->n_features; k++) {
        feat[k] = (float)sv_alert_field_real(&a->candidate, m->features[k]);
        if (!isfinite(feat[k])) {
            row_flag(r, SV_ALERT_FAILED, "the model's feature '%s' is not a number in the "
                     "alert", m->features[k]);
            ok = 0;
        }
    }
    return ok;
}

/* ---- light curves ------------------------------------------------------ */

/* Column storage of the one-alert tables given to the light-curve stage. */
typedef struct lc_tables {
    dia_column hcol[8], dcol[1 + 256];
    dia_table hist, det;
    double *num;    /* history numbers, column-major                     */
    char *str;      /* history strings: objectId, then isdiffpos / band   */
    double *meta;   /* the candidate's numeric fields (det row)           */
} lc_tables;

static void lc_tables_free(lc_tables *L)
{
    free(L->num);
    free(L->str);
    free(L->meta);
}

/* The history of alert a in the ZTF form or the LIGHTCURVE form, and a
 * one-row detection table: objectId and the candidate's numeric fields. */
static int lc_tables_build(const sv_alert *a, lc_tables *L)
{
    enum { ID_W = 32, S_W = 8 };
    memset(L, 0, sizeof *L);
    int ztf = a->survey == SV_ALERT_SURVEY_ZTF;
    static const char *const ztf_num[] = {"jd", "fid", "magpsf", "sigmapsf", "diffmaglim",
                                          "magzpsci"};
    static const char *const lsst_num[] = {"midpointMjdTai", "psfFlux", "psfFluxErr"};
    static const char *const lsst_out[] = {"MJD", "FLUX", "FLUXERR"};
    int nnum = ztf ? 6 : 3;
    long nmax = a->n_history + 1;
    L->num = malloc((size_t)(nmax * nnum) * sizeof *L->num);
    L->str = calloc((size_t)nmax, ID_W + S_W);
    L->meta = malloc((size_t)(a->candidate.n + 1) * sizeof *L->meta);
    if (!L->num || !L->str || !L->meta)
        return SV_ERR_NOMEM;
    char *ids = L->str, *tags = L->str + (size_t)nmax * ID_W;
    long n = 0;
    for (long r = 0; r < nmax; r++) {
        const sv_alert_fields *f = r < a->n_history ? &a->history[r] : &a->candidate;
        double v[6];
        for (int k = 0; k < nnum; k++)
            v[k] = sv_alert_field_real(f, ztf ? ztf_num[k] : lsst_num[k]);
        if (!isfinite(v[0]) || (!ztf && !(isfinite(v[1]) && isfinite(v[2]))))
            continue;
        const sv_alert_field *tag = sv_alert_field_find(f, ztf ? "isdiffpos" : "band");
        if (!ztf && !(tag && tag->type == SV_AF_STRING))
            continue;
        for (int k = 0; k < nnum; k++)
            L->num[(size_t)k * nmax + n] = v[k];
        snprintf(ids + n * ID_W, ID_W, "%s", a->object_id);
        if (tag && tag->type == SV_AF_STRING)
            snprintf(tags + n * S_W, S_W, "%s", tag->s);
        n++;
    }
    int c = 0;
    L->hcol[c++] = (dia_column){.name = "objectId", .type = DIA_COL_STRING, .repeat = ID_W,
                                .data = ids};
    for (int k = 0; k < nnum; k++)
        L->hcol[c++] = (dia_column){.name = ztf ? ztf_num[k] : lsst_out[k],
                                    .type = DIA_COL_FLOAT64, .repeat = 1,
                                    .data = L->num + (size_t)k * nmax};
    L->hcol[c++] = (dia_column){.name = ztf ? "isdiffpos" : "BAND", .type = DIA_COL_STRING,
                                .repeat = S_W, .data = tags};
    L->hist = (dia_table){.nrows = n, .ncols = c, .cols = L->hcol};
    c = 0;
    L->dcol[c++] = (dia_column){.name = "objectId", .type = DIA_COL_STRING, .repeat = ID_W,
                                .data = ids};
    for (int k = 0; k < a->candidate.n && c < (int)(sizeof L->dcol / sizeof L->dcol[0]); k++) {
        const sv_alert_field *f = &a->candidate.f[k];
        if (f->type != SV_AF_INT && f->type != SV_AF_REAL && f->type != SV_AF_BOOL)
            continue;
        if (!strcasecmp(f->name, "objectId") || !strcasecmp(f->name, "rb"))
            continue; /* the key; 'rb' is stampvet's own score */
        L->meta[c - 1] = f->d;
        L->dcol[c] = (dia_column){.name = f->name, .type = DIA_COL_FLOAT64, .repeat = 1,
                                  .data = &L->meta[c - 1]};
        c++;
    }
    if (n == 0) /* the key must still be there for a NOHIST verdict */
        snprintf(ids, ID_W, "%s", a->object_id);
    L->det = (dia_table){.nrows = 1, .ncols = c, .cols = L->dcol};
    return 0;
}

/* Classify the light curve of alert a into row i. */
static int lc_classify(sv_alert_table *t, long i, const sv_alert *a, sv_error *err)
{
    sv_alert_row *r = &t->rows[i];
    if (a->survey == SV_ALERT_SURVEY_UNKNOWN || !a->object_id[0]) {
        t->lc_flags[i] = a->object_id[0] ? SV_LCFLAG_NOHIST : SV_LCFLAG_NOKEY;
        return 0;
    }
    lc_tables L;
    int st = lc_tables_build(a, &L);
    if (st) {
        lc_tables_free(&L);
        return sv_error_set(err, SV_ERR_NOMEM, "out of memory");
    }
    sv_error e;
    sv_error_clear(&e);
    float rb = t->out[(size_t)i * t->n_out];
    int16_t label;
    int32_t fl = 0;
    st = sv_lc_stage_begin_table(t->lc, &L.det, &L.hist, a->mjd, 0, NULL, &e);
    if (!st)
        st = sv_lc_stage_classify(t->lc, 0, 1, &rb, NULL, t->lc_prob + (size_t)i * t->n_lc,
                                  &label, &fl, &e);
    lc_tables_free(&L);
    if (st == SV_ERR_NOMEM)
        return sv_error_set(err, st, "%s", e.text);
    if (st) {
        fl = SV_LCFLAG_NOHIST;
        if (!r->error[0])
            snprintf(r->error, sizeof r->error, "%.60s: record %ld: light curve: %.160s",
                     r->source, r->record, e.text);
    }
    t->lc_flags[i] = fl;
    return 0;
}

int sv_alert_table_add_set(sv_alert_table *t, sv_scorer *sc, const sv_alert_set *set,
                           sv_error *err)
{
    const sv_model *m = t->model;
    int max_batch = sv_scorer_max_batch(sc), n_slot = 0, st = 0;
    long *slot_row = calloc((size_t)max_batch, sizeof *slot_row);
    float *out = calloc((size_t)max_batch * (size_t)t->n_out, sizeof *out);
    float *feat = calloc((size_t)(m->n_features ? m->n_features : 1), sizeof *feat);
    float *scratch = NULL;
    size_t scratch_n = 0;
    long first = t->n;
    if (!slot_row || !out || !feat)
        st = sv_error_set(err, SV_ERR_NOMEM, "out of memory");
    for (long i = 0; !st && i <= set->n; i++) {
        if (i < set->n) {
            const sv_alert *a = &set->alerts[i];
            sv_alert_row *r = table_push(t, err);
            if (!r) {
                st = SV_ERR_NOMEM;
                break;
            }
            snprintf(r->source, sizeof r->source, "%s", set->source);
            if (!row_from_alert(m, a, r, feat))
                continue;
            const sv_alert_cutout *c0 = &a->cutout[m->pre.channel[0]];
            size_t need = (size_t)c0->h * (size_t)c0->w;
            if (need > scratch_n) {
                float *ns = realloc(scratch, need * sizeof *ns);
                if (!ns) {
                    st = sv_error_set(err, SV_ERR_NOMEM, "out of memory");
                    break;
                }
                scratch = ns;
                scratch_n = need;
            }
            sv_triplet tr = {{NULL, NULL, NULL}, c0->h, c0->w};
            for (int c = 0; c < 3; c++)
                tr.chan[c] = a->cutout[c].pix;
            int ps = sv_scorer_prepare(sc, n_slot, &tr, m->n_features ? feat : NULL, scratch,
                                       NULL);
            if (ps) {
                row_flag(r, SV_ALERT_BAD_CUTOUT, "%s", ps == SV_ERR_SHAPE
                         ? "the cutouts do not fit the model's input" : "cannot prepare");
                continue;
            }
            slot_row[n_slot++] = t->n - 1;
            if (n_slot < max_batch)
                continue;
        }
        if (n_slot == 0)
            continue;
        if (sv_scorer_infer(sc, n_slot, out, err)) {
            st = err ? err->status : SV_ERR_INTERNAL;
            for (int k = 0; k < n_slot; k++)
                row_flag(&t->rows[slot_row[k]], SV_ALERT_FAILED, "%s", "the network failed");
            break;
        }
        for (int k = 0; k < n_slot; k++) {
            const float *o = out + (size_t)k * t->n_out;
            int finite = 1;
            for (int j = 0; j < t->n_out; j++)
                finite &= isfinite(o[j]) != 0;
            if (finite)
                memcpy(t->out + (size_t)slot_row[k] * t->n_out, o, (size_t)t->n_out * sizeof *o);
            else
                row_flag(&t->rows[slot_row[k]], SV_ALERT_FAILED, "%s",
                         "non-finite network output");
        }
        n_slot = 0;
    }
    for (long i = 0; !st && t->lc && i < set->n; i++)
        st = lc_classify(t, first + i, &set->alerts[i], err);
    free(scratch);
    free(slot_row);
    free(out);
    free(feat);
    return st;
}

long sv_alert_table_flagged(const sv_alert_table *t)
{
    long n = 0;
    for (long i = 0; i < t->n; i++)
        n += t->rows[i].flags != 0;
    return n;
}

long sv_alert_table_scored(const sv_alert_table *t)
{
    long n = 0;
    for (long i = 0; i < t->n; i++)
        n += isfinite(t->out[(size_t)i * t->n_out]) != 0;
    return n;
}

/* ---- column names ------------------------------------------------------ */

/* The survey's names for the table's columns. */
typedef struct alert_names {
    const char *id, *object, *score, *version, *packet, *history;
} alert_names;

static const alert_names names_ztf = {"candid", "objectId", "drb", "drbversion", "packet_drb",
                                      "nprv"};
static const alert_names names_lsst = {"diaSourceId", "diaObjectId", "reliability",
                                       "reliabilityVersion", "packet_reliability",
                                       "nPrvDiaSources"};
static const alert_names names_mixed = {"id", "objectId", "score", "model", "packet_score",
                                        "nhist"};

static const alert_names *table_names(const sv_alert_table *t)
{
    int seen = 0;
    for (long i = 0; i < t->n; i++)
        if (t->rows[i].survey != SV_ALERT_SURVEY_UNKNOWN)
            seen |= 1 << t->rows[i].survey;
    return seen == 1 << SV_ALERT_SURVEY_LSST ? &names_lsst
           : seen == 1 << SV_ALERT_SURVEY_ZTF ? &names_ztf
           : seen == 0                        ? &names_ztf
                                              : &names_mixed;
}

static const char *survey_name(sv_alert_survey s)
{
    return s == SV_ALERT_SURVEY_ZTF ? "ztf" : s == SV_ALERT_SURVEY_LSST ? "lsst" : "";
}

/* "p_<class>" in lower case. */
static void class_column(const char *cls, char *out, size_t cap)
{
    snprintf(out, cap, "p_%s", cls);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* Index of the largest finite value of p[0..n), or -1 when none. */
static int best_of(const float *p, int n)
{
    int b = -1;
    for (int k = 0; k < n; k++)
        if (isfinite(p[k]) && (b < 0 || p[k] > p[b]))
            b = k;
    return b;
}

static void csv_text(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* ---- the table as columns ---------------------------------------------- */

static void *cols_keep(sv_alert_columns *c, void *p)
{
    if (!p)
        return NULL;
    if (c->n_blocks_ == c->cap_blocks_) {
        int nc = c->cap_blocks_ ? 2 * c->cap_blocks_ : 64;
        void **nb = realloc(c->blocks_, (size_t)nc * sizeof *nb);
        if (!nb) {
            free(p);
            return NULL;
        }
        c->blocks_ = nb;
        c->cap_blocks_ = nc;
    }
    return c->blocks_[c->n_blocks_++] = p;
}

static char *cols_strdup(sv_alert_columns *c, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cols_keep(c, malloc(n));
    return d ? memcpy(d, s, n) : NULL;
}

/* The builder: the columns so far and the table they are for. */
typedef struct cols_builder {
    sv_alert_columns *c;
    dia_column *col;
    int n, cap;
    long rows;
    int failed;
} cols_builder;

/* A new column of the given type and repeat, its data zeroed; NULL when
 * out of memory (the builder then fails). */
static void *cols_add(cols_builder *b, const char *name, dia_col_type type, int repeat,
                      const char *desc)
{
    static const size_t size[] = {[DIA_COL_INT16] = 2, [DIA_COL_INT32] = 4,
                                  [DIA_COL_INT64] = 8, [DIA_COL_FLOAT32] = 4,
                                  [DIA_COL_FLOAT64] = 8, [DIA_COL_UINT8] = 1,
                                  [DIA_COL_STRING] = 1};
    if (b->failed || b->n == b->cap) {
        b->failed = 1;
        return NULL;
    }
    char *nm = cols_strdup(b->c, name);
    void *data = cols_keep(b->c, calloc((size_t)(b->rows ? b->rows : 1),
                                        (size_t)repeat * size[type]));
    if (!nm || !data) {
        b->failed = 1;
        return NULL;
    }
    b->col[b->n++] = (dia_column){.name = nm, .type = type, .repeat = repeat,
                                  .description = desc, .data = data};
    return data;
}

/* A string column of one value per row, as wide as the longest. */
static void cols_add_text(cols_builder *b, const char *name, const char *desc,
                          const char *(*text)(const sv_alert_table *, long, void *),
                          const sv_alert_table *t, void *user)
{
    size_t w = 1;
    for (long i = 0; i < t->n; i++) {
        size_t k = strlen(text(t, i, user));
        if (k > w)
            w = k;
    }
    char *d = cols_add(b, name, DIA_COL_STRING, (int)w, desc);
    for (long i = 0; d && i < t->n; i++)
        memcpy(d + (size_t)i * w, text(t, i, user), strlen(text(t, i, user)));
}

static const char *text_object(const sv_alert_table *t, long i, void *u)
{
    return t->rows[i].object_id;
}
static const char *text_survey(const sv_alert_table *t, long i, void *u)
{
    return survey_name(t->rows[i].survey);
}
static const char *text_source(const sv_alert_table *t, long i, void *u)
{
    return t->rows[i].source;
}
static const char *text_error(const sv_alert_table *t, long i, void *u)
{
    return t->rows[i].error;
}
static const char *text_label(const sv_alert_table *t, long i, void *u)
{
    return u;
}

/* The most probable of n values per row of p under classes. */
typedef struct best_class {
    const float *p;
    int n;
    const sv_model *m;
} best_class;

static const char *text_best(const sv_alert_table *t, long i, void *u)
{
    const best_class *bc = u;
    int b = best_of(bc->p + (size_t)i * bc->n, bc->n);
    return b >= 0 ? bc->m->classes[b] : "";
}

static void cols_meta(sv_alert_columns *c, dia_kv *kv, int *n, const char *key,
                      const char *value)
{
    kv[*n].key = cols_strdup(c, key);
    kv[*n].value = cols_strdup(c, value);
    (*n)++;
}

int sv_alert_table_columns(const sv_alert_table *t, sv_alert_columns *c, sv_error *err)
{
    memset(c, 0, sizeof *c);
    const sv_model *m = t->model;
    const sv_model *lm = t->lc ? sv_lc_stage_model(t->lc) : NULL;
    const alert_names *nm = table_names(t);
    int rb = m->task == SV_TASK_REALBOGUS;
    char label[128], name[96];
    sv_model_label(m, label, sizeof label);
    cols_builder b = {c, NULL, 0, 12 + t->n_out + t->n_lc, t->n, 0};
    b.col = cols_keep(c, calloc((size_t)b.cap, sizeof *b.col));
    dia_kv *meta = cols_keep(c, calloc(16 + SV_ALERT_N_FLAGS, sizeof *meta));
    b.failed = !b.col || !meta;

    int64_t *id = cols_add(&b, nm->id, DIA_COL_INT64, 1, "alert identifier (-1: unknown)");
    for (long i = 0; id && i < t->n; i++)
        id[i] = t->rows[i].has_id ? t->rows[i].id : -1;
    cols_add_text(&b, nm->object, "object identifier", text_object, t, NULL);
    for (int k = 0; k < t->n_out; k++) {
        if (rb)
            snprintf(name, sizeof name, "%s", nm->score);
        else
            class_column(m->classes[k], name, sizeof name);
        float *v = cols_add(&b, name, DIA_COL_FLOAT32, 1,
                            rb ? "stampvet's P(real)" : "class probability");
        for (long i = 0; v && i < t->n; i++)
            v[i] = t->out[(size_t)i * t->n_out + k];
    }
    best_class bc = {t->out, t->n_out, m};
    if (!rb)
        cols_add_text(&b, "class", "the most probable class", text_best, t, &bc);
    for (int k = 0; k < t->n_lc; k++) {
        char cc[64];
        class_column(lm->classes[k], cc, sizeof cc);
        snprintf(name, sizeof name, "lc_%s", cc);
        float *v = cols_add(&b, name, DIA_COL_FLOAT32, 1, "light-curve class probability");
        for (long i = 0; v && i < t->n; i++)
            v[i] = t->lc_prob[(size_t)i * t->n_lc + k];
    }
    best_class lbc = {t->lc_prob, t->n_lc, lm};
    if (lm) {
        cols_add_text(&b, "lc_class", "the most probable light-curve class", text_best, t,
                      &lbc);
        int32_t *f = cols_add(&b, "lc_flags", DIA_COL_INT32, 1, "light-curve flags");
        for (long i = 0; f && i < t->n; i++)
            f[i] = t->lc_flags[i];
    }
    cols_add_text(&b, nm->version, "the model that gave the score", text_label, t, label);
    double *ps = cols_add(&b, nm->packet, DIA_COL_FLOAT64, 1, "the survey's own score");
    int32_t *nh = cols_add(&b, nm->history, DIA_COL_INT32, 1, "history length in the packet");
    int32_t *fl = cols_add(&b, "flags", DIA_COL_INT32, 1, "why not scored (SV_ALERT_*)");
    for (long i = 0; ps && nh && fl && i < t->n; i++) {
        ps[i] = t->rows[i].packet_score;
        nh[i] = t->rows[i].n_history;
        fl[i] = (int32_t)t->rows[i].flags;
    }
    cols_add_text(&b, "survey", "'ztf', 'lsst' or ''", text_survey, t, NULL);
    cols_add_text(&b, "source", "the file or buffer", text_source, t, NULL);
    int64_t *rec = cols_add(&b, "record", DIA_COL_INT64, 1, "0-based record in the source");
    for (long i = 0; rec && i < t->n; i++)
        rec[i] = t->rows[i].record;
    cols_add_text(&b, "error", "why flagged", text_error, t, NULL);

    int nmeta = 0;
    if (!b.failed) {
        char num[32];
        cols_meta(c, meta, &nmeta, "SVVERS", PACKAGE_VERSION);
        cols_meta(c, meta, &nmeta, "MODEL", m->name);
        cols_meta(c, meta, &nmeta, "MODELVER", m->version);
        cols_meta(c, meta, &nmeta, "MODELCK", m->checksum);
        if (lm) {
            cols_meta(c, meta, &nmeta, "LCMODEL", lm->name);
            cols_meta(c, meta, &nmeta, "LCMCK", lm->checksum);
        }
        snprintf(num, sizeof num, "%ld", t->n);
        cols_meta(c, meta, &nmeta, "NALERTS", num);
        snprintf(num, sizeof num, "%ld", sv_alert_table_flagged(t));
        cols_meta(c, meta, &nmeta, "NFLAGGED", num);
        snprintf(num, sizeof num, "%ld", sv_alert_table_scored(t));
        cols_meta(c, meta, &nmeta, "NSCORED", num);
        for (int k = 0; k <= SV_ALERT_N_FLAGS; k++) {
            int last = k == SV_ALERT_N_FLAGS;
            snprintf(num, sizeof num, "FLAG%u", last ? (unsigned)SV_ALERT_FAILED
                                                     : (unsigned)sv_alert_flag_docs[k].bit);
            cols_meta(c, meta, &nmeta, num, last ? "FAILED" : sv_alert_flag_docs[k].name);
        }
        for (int k = 0; k < nmeta; k++)
            b.failed |= !meta[k].key || !meta[k].value;
    }
    if (b.failed) {
        sv_alert_columns_free(c);
        return sv_error_set(err, SV_ERR_NOMEM, "out of memory");
    }
    c->table = (dia_table){.nrows = t->n, .ncols = b.n, .cols = b.col, .nmeta = nmeta,
                           .meta = meta};
    return 0;
}

void sv_alert_columns_free(sv_alert_columns *c)
{
    for (int i = 0; i < c->n_blocks_; i++)
        free(c->blocks_[i]);
    free(c->blocks_);
    memset(c, 0, sizeof *c);
}

/* ---- writing ----------------------------------------------------------- */

int sv_alert_table_print_csv(const sv_alert_table *t, FILE *f, sv_error *err)
{
    sv_alert_columns c;
    int st = sv_alert_table_columns(t, &c, err);
    if (st)
        return st;
    const dia_table *d = &c.table;
    char text[1024];
    for (int k = 0; k < d->ncols; k++)
        fprintf(f, "%s%s", k ? "," : "", d->cols[k].name);
    fputc('\n', f);
    for (int64_t i = 0; i < d->nrows; i++) {
        for (int k = 0; k < d->ncols; k++) {
            const dia_column *col = &d->cols[k];
            if (k)
                fputc(',', f);
            switch (col->type) {
            case DIA_COL_INT64: {
                int64_t v = ((const int64_t *)col->data)[i];
                if (k > 0 || v >= 0) /* the identifier: -1 is unknown */
                    fprintf(f, "%lld", (long long)v);
                break;
            }
            case DIA_COL_INT32: fprintf(f, "%d", (int)((const int32_t *)col->data)[i]); break;
            case DIA_COL_FLOAT32: {
                double v = ((const float *)col->data)[i];
                if (isfinite(v))
                    fprintf(f, "%.9g", v);
                break;
            }
            case DIA_COL_FLOAT64: {
                double v = ((const double *)col->data)[i];
                if (isfinite(v))
                    fprintf(f, "%.9g", v);
                break;
            }
            default: /* DIA_COL_STRING */
                snprintf(text, sizeof text, "%.*s", (int)col->repeat,
                         (const char *)col->data + (size_t)i * (size_t)col->repeat);
                csv_text(f, text);
            }
        }
        fputc('\n', f);
    }
    sv_alert_columns_free(&c);
    return ferror(f) ? sv_error_set(err, SV_ERR_IO, "cannot write the table") : 0;
}

static int write_csv(const char *tmp, void *user, sv_error *err)
{
    FILE *f = sv_report_csv_create(tmp, err);
    if (!f)
        return err ? err->status : SV_ERR_IO;
    int st = sv_alert_table_print_csv(user, f, err);
    int st2 = sv_report_csv_close(f, tmp, err);
    return st ? st : st2;
}

/* The comment of a provenance card of the table. */
static const char *meta_comment(const char *key)
{
    static const char *const doc[][2] = {
        {"SVVERS", "stampvet version"},     {"MODEL", "model name"},
        {"MODELVER", "model version"},      {"MODELCK", "model file CHECKSUM"},
        {"LCMODEL", "light-curve model"},   {"LCMCK", "its CHECKSUM"},
        {"NALERTS", "alerts (rows)"},       {"NFLAGGED", "rows with a flag"},
        {"NSCORED", "rows with a score"},   {"FLAG32", "no score from the network or features"}};
    for (size_t k = 0; k < sizeof doc / sizeof doc[0]; k++)
        if (!strcmp(key, doc[k][0]))
            return doc[k][1];
    for (int k = 0; k < SV_ALERT_N_FLAGS; k++) {
        char name[16];
        snprintf(name, sizeof name, "FLAG%u", (unsigned)sv_alert_flag_docs[k].bit);
        if (!strcmp(key, name))
            return sv_alert_flag_docs[k].meaning;
    }
    return NULL;
}

/* The table's columns as a FITS BINTABLE 'ALERTS', whole columns at a
 * time; the identifier's -1 is its TNULL. */
static int write_fits(const char *tmp, void *user, sv_error *err)
{
    sv_alert_columns c;
    int st = sv_alert_table_columns(user, &c, err);
    if (st)
        return st;
    const dia_table *d = &c.table;
    int s = 0;
    fitsfile *f = sv_report_fits_create(tmp, &s, err);
    if (!f) {
        sv_alert_columns_free(&c);
        return err ? err->status : SV_ERR_IO;
    }
    char forms[64][16], *ttype[64], *tform[64];
    int nc = d->ncols < 64 ? d->ncols : 64;
    for (int k = 0; k < nc; k++) {
        const dia_column *col = &d->cols[k];
        if (col->type == DIA_COL_STRING)
            snprintf(forms[k], sizeof forms[k], "%dA", (int)col->repeat);
        else
            snprintf(forms[k], sizeof forms[k], "%s", col->type == DIA_COL_INT64 ? "K"
                                                  : col->type == DIA_COL_INT32 ? "J"
                                                  : col->type == DIA_COL_FLOAT32 ? "E" : "D");
        ttype[k] = (char *)col->name;
        tform[k] = forms[k];
    }
    fits_create_tbl(f, BINARY_TBL, 0, nc, ttype, tform, NULL, "ALERTS", &s);
    long long knull = -1;
    fits_write_key(f, TLONGLONG, "TNULL1", &knull, "identifier unknown", &s);
    for (int k = 0; k < d->nmeta && !s; k++) {
        const char *v = d->meta[k].value;
        char *end;
        long long num = strtoll(v, &end, 10);
        if (d->meta[k].key[0] == 'N' && *v && !*end) /* the counts */
            fits_write_key(f, TLONGLONG, d->meta[k].key, &num, meta_comment(d->meta[k].key), &s);
        else
            fits_write_key(f, TSTRING, d->meta[k].key, (char *)v, meta_comment(d->meta[k].key),
                           &s);
    }
    char *text = NULL, **rows = NULL;
    long n = (long)d->nrows;
    for (int k = 0; k < nc && n > 0 && !s; k++) {
        const dia_column *col = &d->cols[k];
        void *data = (void *)col->data;
        switch (col->type) {
        case DIA_COL_INT64: fits_write_col(f, TLONGLONG, k + 1, 1, 1, n, data, &s); break;
        case DIA_COL_INT32: fits_write_col(f, TINT, k + 1, 1, 1, n, data, &s); break;
        case DIA_COL_FLOAT32: fits_write_col(f, TFLOAT, k + 1, 1, 1, n, data, &s); break;
        case DIA_COL_FLOAT64: fits_write_col(f, TDOUBLE, k + 1, 1, 1, n, data, &s); break;
        default: { /* strings: NUL-terminated copies */
            size_t w = (size_t)col->repeat;
            char *nt = realloc(text, (size_t)n * (w + 1));
            char **nr = nt ? realloc(rows, (size_t)n * sizeof *rows) : NULL;
            if (nt)
                text = nt;
            if (!nr) {
                s = MEMORY_ALLOCATION;
                break;
            }
            rows = nr;
            for (long i = 0; i < n; i++) {
                rows[i] = text + (size_t)i * (w + 1);
                memcpy(rows[i], (const char *)data + (size_t)i * w, w);
                rows[i][w] = '\0';
            }
            fits_write_col(f, TSTRING, k + 1, 1, 1, n, rows, &s);
        }
        }
    }
    free(text);
    free(rows);
    sv_alert_columns_free(&c);
    return sv_report_fits_close(f, s, tmp, err);
}

int sv_alert_table_write(const sv_alert_table *t, const char *path, sv_error *err)
{
    int kind = sv_report_kind(path);
    if (!kind)
        return sv_error_set(err, SV_ERR_ARG, "%s: the output must end in .csv or .fits", path);
    return sv_report_write_atomic(path, kind == 2 ? write_csv : write_fits, (void *)t, err);
}
