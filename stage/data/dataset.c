/* dataset.c — labelled stamp sources.  See dataset.h. */
#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/stamp_table.h"
#include "fits/stamps.h"
#include "core/rng.h"

/* ---- splits -------------------------------------------------------------- */

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

void sv_split_stratified(const int *labels, long n, int k, double fraction, uint64_t seed,
                         long *a, long *na, long *b, long *nb)
{
    *na = *nb = 0;
    if (n <= 0)
        return;
    long *tmp = malloc((size_t)n * sizeof *tmp);
    if (!tmp) { /* degrade gracefully: everything to a */
        for (long i = 0; i < n; i++)
            a[i] = i;
        *na = n;
        return;
    }
    for (int c = 0; c < k; c++) {
        long nc = 0;
        for (long i = 0; i < n; i++)
            if (labels[i] == c)
                tmp[nc++] = i;
        if (nc == 0)
            continue;
        sv_rng r = {sv_seed_mix(seed, 0x5e1177ULL, (uint64_t)c, 0)};
        sv_shuffle(&r, tmp, nc);
        long take = fraction > 0 ? (long)floor(fraction * (double)nc + 0.5) : 0;
        if (fraction > 0 && nc >= 2 && take < 1)
            take = 1;
        if (nc >= 2 && take >= nc)
            take = nc - 1;
        if (nc == 1)
            take = 0;
        for (long i = 0; i < nc; i++) {
            if (i < take)
                b[(*nb)++] = tmp[i];
            else
                a[(*na)++] = tmp[i];
        }
    }
    /* samples with labels outside 0..k-1 go to a */
    for (long i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            a[(*na)++] = i;
    free(tmp);
    qsort(a, (size_t)*na, sizeof *a, cmp_long);
    qsort(b, (size_t)*nb, sizeof *b, cmp_long);
}

long sv_subsample_stratified(const int *labels, long n, int k, long size, uint64_t seed,
                             long *out)
{
    if (n <= 0 || size <= 0)
        return 0;
    if (size >= n) {
        for (long i = 0; i < n; i++)
            out[i] = i;
        return n;
    }
    if (k < 1 || k > 4096)
        return 0;
    long *cnt = calloc((size_t)k, sizeof *cnt), *quota = calloc((size_t)k, sizeof *quota);
    double *rem = calloc((size_t)k, sizeof *rem);
    long *tmp = malloc((size_t)n * sizeof *tmp);
    long got = 0;
    if (!cnt || !quota || !rem || !tmp)
        goto done;
    long inrange = 0;
    for (long i = 0; i < n; i++)
        if (labels[i] >= 0 && labels[i] < k) {
            cnt[labels[i]]++;
            inrange++;
        }
    if (inrange == 0)
        goto done;
    if (size > inrange)
        size = inrange;
    long assigned = 0;
    for (int c = 0; c < k; c++) {
        double q = (double)size * (double)cnt[c] / (double)inrange;
        quota[c] = (long)floor(q);
        rem[c] = q - (double)quota[c];
        assigned += quota[c];
    }
    while (assigned < size) { /* largest remainder, lowest class on ties */
        int best = -1;
        for (int c = 0; c < k; c++)
            if (quota[c] < cnt[c] && (best < 0 || rem[c] > rem[best]))
                best = c;
        if (best < 0)
            break;
        quota[best]++;
        rem[best] = -1.0;
        assigned++;
    }
    for (int c = 0; c < k; c++) {
        long nc = 0;
        for (long i = 0; i < n; i++)
            if (labels[i] == c)
                tmp[nc++] = i;
        sv_rng r = {sv_seed_mix(seed, 0x5ab5ULL, (uint64_t)c, 0)};
        sv_shuffle(&r, tmp, nc);
        for (long i = 0; i < quota[c] && i < nc; i++)
            out[got++] = tmp[i];
    }
    qsort(out, (size_t)got, sizeof *out, cmp_long);
done:
    free(cnt);
    free(quota);
    free(rem);
    free(tmp);
    return got;
}

/* ---- generic ----------------------------------------------------------------- */

int sv_source_fetch(const sv_stamp_source *src, const long *idx, int count, float *out,
                    sv_error *err)
{
    if (!src || !src->fetch || (!idx && count > 0) || (!out && count > 0) || count < 0)
        return sv_error_set(err, SV_ERR_ARG, "stamp source: bad fetch arguments");
    for (int i = 0; i < count; i++)
        if (idx[i] < 0 || idx[i] >= src->n)
            return sv_error_set(err, SV_ERR_ARG, "%s: sample %ld outside 0..%ld", src->origin,
                                idx[i], src->n - 1);
    return src->fetch(src->ctx, idx, count, out, err);
}

void sv_source_close(sv_stamp_source *src)
{
    if (!src)
        return;
    if (src->close)
        src->close(src->ctx);
    memset(src, 0, sizeof *src);
}

void sv_source_class_counts(const sv_stamp_source *src, long *counts)
{
    for (int c = 0; c < src->n_classes; c++)
        counts[c] = 0;
    for (long i = 0; i < src->n; i++)
        if (src->labels[i] >= 0 && src->labels[i] < src->n_classes)
            counts[src->labels[i]]++;
}

static void set_classes(sv_stamp_source *src, int realbogus, int k,
                        const char (*classes)[SV_LABEL_MAX])
{
    src->realbogus = realbogus;
    src->n_classes = realbogus ? 2 : k;
    for (int c = 0; c < src->n_classes; c++) {
        if (realbogus)
            snprintf(src->classes[c], SV_LABEL_MAX, "%s", c ? "real" : "bogus");
        else if (classes && classes[c][0])
            snprintf(src->classes[c], SV_LABEL_MAX, "%s", classes[c]);
        else
            snprintf(src->classes[c], SV_LABEL_MAX, "class%d", c);
    }
}

/* ---- memory --------------------------------------------------------------------- */

typedef struct mem_ctx {
    const float *stamps;
    size_t per;
} mem_ctx;

static int mem_fetch(void *ctx, const long *idx, int count, float *out, sv_error *err)
{
    (void)err;
    const mem_ctx *m = ctx;
    for (int i = 0; i < count; i++)
        memcpy(out + (size_t)i * m->per, m->stamps + (size_t)idx[i] * m->per,
               m->per * sizeof(float));
    return 0;
}

int sv_source_memory(sv_stamp_source *src, const float *stamps, const int *labels, long n,
                     int h, int w, int realbogus, int n_classes,
                     const char (*classes)[SV_LABEL_MAX], sv_error *err)
{
    if (!src || !stamps || !labels || n < 1 || h < 1 || w < 1)
        return sv_error_set(err, SV_ERR_ARG, "memory source: bad arguments");
    if (!realbogus && (n_classes < 2 || n_classes > SV_MAX_CLASSES))
        return sv_error_set(err, SV_ERR_ARG, "memory source: %d classes (2..%d)", n_classes,
                            SV_MAX_CLASSES);
    memset(src, 0, sizeof *src);
    set_classes(src, realbogus, n_classes, classes);
    for (long i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= src->n_classes)
            return sv_error_set(err, SV_ERR_ARG, "memory source: sample %ld has label %d", i,
                                labels[i]);
    mem_ctx *m = malloc(sizeof *m);
    if (!m)
        return sv_error_set(err, SV_ERR_NOMEM, "memory source: out of memory");
    m->stamps = stamps;
    m->per = (size_t)3 * h * w;
    src->n = n;
    src->h = h;
    src->w = w;
    src->labels = labels;
    src->fetch = mem_fetch;
    src->close = free;
    src->ctx = m;
    snprintf(src->origin, sizeof src->origin, "memory (%ld stamps)", n);
    return 0;
}

void sv_source_options_for_model(const sv_model *m, sv_source_options *opt)
{
    memset(opt, 0, sizeof *opt);
    if (!m)
        return;
    if (m->task == SV_TASK_REALBOGUS) {
        opt->realbogus = 1;
        return;
    }
    opt->n_classes = m->n_classes;
    for (int c = 0; c < m->n_classes && c < SV_MAX_CLASSES; c++)
        snprintf(opt->classes[c], SV_LABEL_MAX, "%s", m->classes[c]);
}

int sv_parse_class_list(const char *text, char (*names)[SV_LABEL_MAX], sv_error *err)
{
    if (!text || !names)
        return sv_error_set(err, SV_ERR_ARG, "class list: NULL");
    int n = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *q = e;
        while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
            q--;
        size_t len = (size_t)(q - p);
        if (len == 0)
            return sv_error_set(err, SV_ERR_ARG, "class list '%s': empty class name", text);
        if (len >= SV_LABEL_MAX)
            return sv_error_set(err, SV_ERR_ARG, "class list '%s': name longer than %d",
                                text, SV_LABEL_MAX - 1);
        if (n >= SV_MAX_CLASSES)
            return sv_error_set(err, SV_ERR_ARG, "class list '%s': more than %d classes", text,
                                SV_MAX_CLASSES);
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        for (int j = 0; j < n; j++)
            if (!strcmp(names[j], names[n]))
                return sv_error_set(err, SV_ERR_ARG, "class list '%s': '%s' twice", text,
                                    names[n]);
        n++;
        if (!*e)
            break;
        p = e + 1;
    }
    return n;
}

/* ---- subset --------------------------------------------------------------------- */

typedef struct sub_ctx {
    const sv_stamp_source *parent;
    long *idx;     /* into parent */
    int *labels;
    long *rows;
    long *tmp;     /* fetch scratch */
    int tmp_cap;
} sub_ctx;

static void sub_close(void *ctx)
{
    sub_ctx *s = ctx;
    if (!s)
        return;
    free(s->idx);
    free(s->labels);
    free(s->rows);
    free(s->tmp);
    free(s);
}

static int sub_fetch(void *ctx, const long *idx, int count, float *out, sv_error *err)
{
    sub_ctx *s = ctx;
    if (count > s->tmp_cap) {
        long *t = realloc(s->tmp, (size_t)count * sizeof *t);
        if (!t)
            return sv_error_set(err, SV_ERR_NOMEM, "subset source: out of memory");
        s->tmp = t;
        s->tmp_cap = count;
    }
    for (int i = 0; i < count; i++)
        s->tmp[i] = s->idx[idx[i]];
    return s->parent->fetch(s->parent->ctx, s->tmp, count, out, err);
}

int sv_source_subset(sv_stamp_source *dst, const sv_stamp_source *parent, const long *idx,
                     long n, sv_error *err)
{
    if (!dst || !parent || (!idx && n > 0) || n < 0)
        return sv_error_set(err, SV_ERR_ARG, "subset source: bad arguments");
    for (long i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= parent->n)
            return sv_error_set(err, SV_ERR_ARG, "subset source: index %ld outside 0..%ld",
                                idx[i], parent->n - 1);
    sub_ctx *s = calloc(1, sizeof *s);
    if (!s)
        return sv_error_set(err, SV_ERR_NOMEM, "subset source: out of memory");
    size_t cnt = (size_t)(n > 0 ? n : 1);
    s->parent = parent;
    s->idx = malloc(cnt * sizeof *s->idx);
    s->labels = malloc(cnt * sizeof *s->labels);
    if (parent->rows)
        s->rows = malloc(cnt * sizeof *s->rows);
    if (!s->idx || !s->labels || (parent->rows && !s->rows)) {
        sub_close(s);
        return sv_error_set(err, SV_ERR_NOMEM, "subset source: out of memory");
    }
    for (long i = 0; i < n; i++) {
        s->idx[i] = idx[i];
        s->labels[i] = parent->labels[idx[i]];
        if (s->rows)
            s->rows[i] = parent->rows[idx[i]];
    }
    *dst = *parent;
    dst->n = n;
    dst->labels = s->labels;
    dst->rows = s->rows;
    dst->fetch = sub_fetch;
    dst->close = sub_close;
    dst->ctx = s;
    return 0;
}

/* ---- resampled view ------------------------------------------------------- */

typedef struct resample_ctx {
    sv_stamp_source parent;
    int S;
    double step;
} resample_ctx;

static void resample_close(void *ctx)
{
    resample_ctx *r = ctx;
    if (!r)
        return;
    sv_source_close(&r->parent);
    free(r);
}

static int resample_fetch(void *ctx, const long *idx, int count, float *out, sv_error *err)
{
    resample_ctx *r = ctx;
    size_t hw = (size_t)r->parent.h * r->parent.w, SS = (size_t)r->S * r->S;
    float *raw = malloc((size_t)count * 3 * hw * sizeof *raw);
    sv_cut_scratch scr = {NULL, 0};
    if (!raw)
        return sv_error_set(err, SV_ERR_NOMEM, "resampled source: out of memory");
    int st = r->parent.fetch(r->parent.ctx, idx, count, raw, err);
    for (int i = 0; i < count && !st; i++) {
        sv_frames f;
        memset(&f, 0, sizeof f);
        for (int c = 0; c < 3; c++) {
            f.img[c] = raw + ((size_t)i * 3 + c) * hw;
            f.stride[c] = r->parent.w;
        }
        f.width = r->parent.w;
        f.height = r->parent.h;
        float *o[3] = {out + (size_t)i * 3 * SS, out + ((size_t)i * 3 + 1) * SS,
                       out + ((size_t)i * 3 + 2) * SS};
        sv_cut_info info;
        if (sv_stamp_cut(&f, r->S, r->parent.w / 2, r->parent.h / 2, r->step,
                         SV_KERNEL_LANCZOS3, 1.0, o, NULL, &scr, &info))
            st = sv_error_set(err, SV_ERR_NOMEM, "resampled source: cannot resample");
    }
    free(scr.buf);
    free(raw);
    return st;
}

int sv_source_resample(sv_stamp_source *src, sv_stamp_source *parent, int S, double step,
                       sv_error *err)
{
    if (!src || !parent || parent->n_inputs || parent->h < 1 || S < 1 ||
        S > SV_STAMP_SIDE_MAX || !(step >= SV_RESAMPLE_STEP_MIN && step <= SV_RESAMPLE_STEP_MAX))
        return sv_error_set(err, SV_ERR_ARG, "resampled source: bad arguments (side %d, step "
                            "%g: at most %d and %g..%g)", S, step, SV_STAMP_SIDE_MAX,
                            SV_RESAMPLE_STEP_MIN, SV_RESAMPLE_STEP_MAX);
    resample_ctx *r = calloc(1, sizeof *r);
    if (!r)
        return sv_error_set(err, SV_ERR_NOMEM, "resampled source: out of memory");
    r->parent = *parent;
    r->S = S;
    r->step = step;
    *src = *parent;
    memset(parent, 0, sizeof *parent);
    src->h = src->w = S;
    src->pixscale = r->parent.pixscale * step;
    src->fetch = resample_fetch;
    src->close = resample_close;
    src->ctx = r;
    return 0;
}

/* ---- labelled-stamps table ------------------------------------------------------- */

typedef struct table_ctx {
    char path[512];
    int S;
    float *stamps;           /* in-memory mode: n * 3 * S * S               */
    int *labels;
    long *rows;
    sv_stamp_reader *reader; /* on-demand mode                              */
    sv_stamp_batch one;      /* one-row batch (on-demand)                   */
} table_ctx;

static void table_close(void *ctx)
{
    table_ctx *t = ctx;
    if (!t)
        return;
    free(t->stamps);
    free(t->labels);
    free(t->rows);
    if (t->reader)
        sv_stamp_reader_close(t->reader);
    sv_stamp_batch_free(&t->one);
    free(t);
}

static void copy_row(float *dst, const sv_stamp_batch *b, long i, size_t ss)
{
    memcpy(dst, b->sci + (size_t)i * ss, ss * sizeof(float));
    memcpy(dst + ss, b->ref + (size_t)i * ss, ss * sizeof(float));
    memcpy(dst + 2 * ss, b->diff + (size_t)i * ss, ss * sizeof(float));
}

static int table_fetch(void *ctx, const long *idx, int count, float *out, sv_error *err)
{
    table_ctx *t = ctx;
    size_t ss = (size_t)t->S * t->S, per = 3 * ss;
    if (t->stamps) {
        for (int i = 0; i < count; i++)
            memcpy(out + (size_t)i * per, t->stamps + (size_t)idx[i] * per, per * sizeof(float));
        return 0;
    }
    for (int i = 0; i < count; i++) {
        long got = sv_stamp_reader_read(t->reader, t->rows[idx[i]], 1, &t->one, err);
        if (got < 0)
            return (int)got;
        if (got != 1)
            return sv_error_set(err, SV_ERR_IO, "%s: row %ld could not be read", t->path,
                                t->rows[idx[i]] + 1);
        copy_row(out + (size_t)i * per, &t->one, 0, ss);
    }
    return 0;
}

/* Label of row i of batch b in the source's numbering, or -1 to skip. */
static int map_label(const sv_stamp_meta *meta, const sv_stamp_batch *b, long i,
                     const int *map)
{
    int lab = b->label[i];
    if (lab < 0 && b->label_name[i][0])
        lab = sv_stamp_meta_class_index(meta, b->label_name[i]);
    if (lab < 0 || lab >= meta->n_class)
        return -1;
    return map[lab];
}

int sv_source_open_table(sv_stamp_source *src, const char *path,
                         const sv_source_options *opt, sv_error *err)
{
    sv_source_options dflt;
    if (!src || !path)
        return sv_error_set(err, SV_ERR_ARG, "stamp table source: NULL argument");
    if (!opt) {
        memset(&dflt, 0, sizeof dflt);
        opt = &dflt;
    }
    memset(src, 0, sizeof *src);
    sv_stamp_reader *r = sv_stamp_reader_open(path, 0, err);
    if (!r)
        return err ? err->status : SV_ERR_IO;
    const sv_stamp_meta *meta = sv_stamp_reader_meta(r);
    long nrows = sv_stamp_reader_nrows(r);
    int S = meta->stamp_size;
    int st = 0;
    table_ctx *t = NULL;
    sv_stamp_batch b;
    memset(&b, 0, sizeof b);

    if (meta->n_class < 1) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: the table has no class list (unlabelled)",
                          path);
        goto fail;
    }
    /* table class index -> source label */
    int map[SV_STAMP_MAX_CLASSES];
    char names[SV_MAX_CLASSES][SV_LABEL_MAX];
    int k = 0;
    memset(names, 0, sizeof names);
    if (opt->realbogus) {
        int bog = sv_stamp_meta_class_index(meta, "bogus");
        if (bog < 0) {
            st = sv_error_set(err, SV_ERR_FORMAT,
                              "%s: a real/bogus source needs a class named 'bogus' in the "
                              "table's class list",
                              path);
            goto fail;
        }
        if (meta->n_class < 2) {
            st = sv_error_set(err, SV_ERR_FORMAT, "%s: only the class 'bogus' in the table",
                              path);
            goto fail;
        }
        for (int c = 0; c < meta->n_class; c++)
            map[c] = c == bog ? 0 : 1;
        k = 2;
    } else if (opt->n_classes > 0) {
        if (opt->n_classes > SV_MAX_CLASSES) {
            st = sv_error_set(err, SV_ERR_ARG, "%s: %d classes requested (at most %d)", path,
                              opt->n_classes, SV_MAX_CLASSES);
            goto fail;
        }
        for (int c = 0; c < meta->n_class; c++)
            map[c] = -1;
        for (int j = 0; j < opt->n_classes; j++) {
            int c = sv_stamp_meta_class_index(meta, opt->classes[j]);
            if (c < 0) {
                st = sv_error_set(err, SV_ERR_FORMAT,
                                  "%s: class '%s' is not in the table's class list", path,
                                  opt->classes[j]);
                goto fail;
            }
            map[c] = j;
            snprintf(names[j], SV_LABEL_MAX, "%s", opt->classes[j]);
        }
        k = opt->n_classes;
    } else {
        if (meta->n_class > SV_MAX_CLASSES) {
            st = sv_error_set(err, SV_ERR_FORMAT,
                              "%s: %d classes, more than a model holds (%d): choose some",
                              path, meta->n_class, SV_MAX_CLASSES);
            goto fail;
        }
        for (int c = 0; c < meta->n_class; c++) {
            map[c] = c;
            snprintf(names[c], SV_LABEL_MAX, "%s", meta->class_name[c]);
        }
        k = meta->n_class;
    }
    if (!opt->realbogus && k < 2) {
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: a class model needs two classes or more",
                          path);
        goto fail;
    }

    long limit = opt->max_rows > 0 && opt->max_rows < nrows ? opt->max_rows : nrows;
    size_t ss = (size_t)S * S, per = 3 * ss;
    size_t budget = opt->max_memory ? opt->max_memory : ((size_t)4 << 30);
    int in_memory = (double)limit * (double)per * sizeof(float) <= (double)budget;

    t = calloc(1, sizeof *t);
    if (!t) {
        st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    snprintf(t->path, sizeof t->path, "%s", path);
    t->S = S;
    size_t cap = (size_t)(limit > 0 ? limit : 1);
    t->labels = malloc(cap * sizeof *t->labels);
    t->rows = malloc(cap * sizeof *t->rows);
    if (in_memory)
        t->stamps = malloc(cap * per * sizeof(float));
    if (!t->labels || !t->rows || (in_memory && !t->stamps)) {
        st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory for %ld stamps", path, limit);
        goto fail;
    }
    st = sv_stamp_batch_init(&b, 512, S, err);
    if (st)
        goto fail;
    long n = 0, row = 0, skipped = 0;
    sv_stamp_reader_rewind(r, 0);
    while (row < limit) {
        long got = sv_stamp_reader_next(r, &b, err);
        if (got < 0) {
            st = (int)got;
            goto fail;
        }
        if (got == 0)
            break;
        for (long i = 0; i < got && row < limit; i++, row++) {
            int lab = map_label(meta, &b, i, map);
            if (lab < 0) {
                skipped++;
                continue;
            }
            t->labels[n] = lab;
            t->rows[n] = row;
            if (in_memory)
                copy_row(t->stamps + (size_t)n * per, &b, i, ss);
            n++;
        }
    }
    sv_stamp_batch_free(&b);
    if (n == 0) {
        st = sv_error_set(err, SV_ERR_FORMAT,
                          "%s: no labelled rows of the requested classes (%ld rows read)",
                          path, row);
        goto fail;
    }
    /* meta belongs to the reader: keep what is needed before closing it */
    char survey[sizeof src->survey];
    snprintf(survey, sizeof survey, "%s", meta->survey);
    double pixscale = meta->pixscale;
    meta = NULL;
    if (in_memory) {
        float *sh = realloc(t->stamps, (size_t)n * per * sizeof(float));
        if (sh)
            t->stamps = sh;
        sv_stamp_reader_close(r);
        r = NULL;
    } else {
        st = sv_stamp_batch_init(&t->one, 1, S, err);
        if (st)
            goto fail;
        t->reader = r;
        r = NULL;
    }
    set_classes(src, opt->realbogus, k, (const char(*)[SV_LABEL_MAX])names);
    src->n = n;
    src->h = src->w = S;
    src->labels = t->labels;
    src->rows = t->rows;
    src->n_skipped = skipped;
    snprintf(src->origin, sizeof src->origin, "%s", path);
    snprintf(src->survey, sizeof src->survey, "%s", survey);
    src->pixscale = pixscale;
    src->fetch = table_fetch;
    src->close = table_close;
    src->ctx = t;
    if (opt->resample_to > 0) { /* to the model's scale (sv_source_resample) */
        if (!(pixscale > 0)) {
            sv_source_close(src);
            return sv_error_set(err, SV_ERR_FORMAT, "%s: no PIXSCALE: cannot resample its "
                                "stamps to %g arcsec/pixel", path, opt->resample_to);
        }
        sv_stamp_source tab = *src;
        if ((st = sv_source_resample(src, &tab, opt->resample_size > 0 ? opt->resample_size : S,
                                     opt->resample_to / pixscale, err))) {
            sv_source_close(&tab);
            memset(src, 0, sizeof *src);
            return sv_error_prefix(err, "%s: ", path);
        }
    }
    return 0;

fail:
    sv_stamp_batch_free(&b);
    table_close(t);
    if (r)
        sv_stamp_reader_close(r);
    memset(src, 0, sizeof *src);
    return st ? st : SV_ERR_INTERNAL;
}
