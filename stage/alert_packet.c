/* alert_packet.c — see alert_packet.h.  The only file that includes Avro. */
#include "alert_packet.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <zlib.h>

#include "score.h"

#define ALERT_CUTOUT_MAX (64u << 20) /* largest inflated cutout, bytes     */
#define ALERT_RECORDS_MAX 10000000L  /* records of one source              */

const sv_alert_flag_doc sv_alert_flag_docs[SV_ALERT_N_FLAGS] = {
    {SV_ALERT_UNDECODABLE, "UNDECODABLE", "record could not be decoded; not scored"},
    {SV_ALERT_NO_CUTOUT, "NOCUTOUT", "a cutout is missing; not scored"},
    {SV_ALERT_BAD_CUTOUT, "BADCUTOUT", "a cutout is not a readable image; not scored"},
    {SV_ALERT_NO_ID, "NOID", "no candid / diaSourceId"},
    {SV_ALERT_NO_SURVEY, "NOSURVEY", "neither a ZTF nor an LSST alert; not scored"},
};

/* libavro's error text is one process-global buffer */
static pthread_mutex_t avro_lock = PTHREAD_MUTEX_INITIALIZER;

int sv_alert_available(void) { return 1; }

/* ---- storage: one arena per set ----------------------------------------- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
} arena_chunk;

static void *arena_alloc(sv_alert_set *set, size_t n)
{
    arena_chunk *c = set->arena_;
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        arena_chunk *nc = malloc(sizeof *nc + cap);
        if (!nc)
            return NULL;
        nc->next = c;
        nc->used = 0;
        nc->cap = cap;
        set->arena_ = c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return memset(p, 0, n);
}

static char *arena_strndup(sv_alert_set *set, const char *s, size_t n)
{
    char *p = arena_alloc(set, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

void sv_alert_set_free(sv_alert_set *set)
{
    if (!set)
        return;
    for (long i = 0; i < set->n; i++)
        for (int c = 0; c < 3; c++) {
            free(set->alerts[i].cutout[c].pix);
            free(set->alerts[i].cutout[c].header);
        }
    free(set->alerts);
    for (arena_chunk *c = set->arena_, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    memset(set, 0, sizeof *set);
}

/* A new alert at the end of the set, its fields unknown; NULL when out of
 * memory. */
static sv_alert *set_push(sv_alert_set *set, long *cap)
{
    if (set->n == *cap) {
        long nc = *cap ? 2 * *cap : 4;
        sv_alert *na = realloc(set->alerts, (size_t)nc * sizeof *na);
        if (!na)
            return NULL;
        set->alerts = na;
        *cap = nc;
    }
    sv_alert *a = &set->alerts[set->n];
    memset(a, 0, sizeof *a);
    a->record = set->n++;
    a->mjd = a->ra = a->dec = a->x = a->y = a->survey_score = NAN;
    return a;
}

static void alert_flag(sv_alert *a, uint32_t bit, const sv_alert_set *set, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void alert_flag(sv_alert *a, uint32_t bit, const sv_alert_set *set, const char *fmt, ...)
{
    a->flags |= bit;
    if (a->error[0])
        return; /* the first reason is kept */
    int k = snprintf(a->error, sizeof a->error, "%s: record %ld: ", set->source, a->record);
    if (k < 0 || (size_t)k >= sizeof a->error)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->error + k, sizeof a->error - (size_t)k, fmt, ap);
    va_end(ap);
}

/* ---- Avro values -------------------------------------------------------- */

/* v itself, or the current branch of a union; 0 on success. */
static int value_resolve(avro_value_t *v, avro_value_t *out)
{
    if (avro_value_get_type(v) == AVRO_UNION)
        return avro_value_get_current_branch(v, out);
    *out = *v;
    return 0;
}

/* The field `name` of record v, resolved through a union; 0 when found. */
static int value_child(avro_value_t *v, const char *name, avro_value_t *out)
{
    avro_value_t c;
    if (avro_value_get_type(v) != AVRO_RECORD || avro_value_get_by_name(v, name, &c, NULL))
        return -1;
    return value_resolve(&c, out);
}

static int value_is_null(avro_value_t *v) { return avro_value_get_type(v) == AVRO_NULL; }

/* v as a scalar field (0), or -1 for a type that is not a scalar. */
static int value_scalar(sv_alert_set *set, avro_value_t *v, sv_alert_field *f)
{
    avro_value_t r;
    if (value_resolve(v, &r))
        return -1;
    f->d = NAN;
    f->s = NULL;
    f->i = 0;
    switch (avro_value_get_type(&r)) {
    case AVRO_NULL: f->type = SV_AF_NULL; return 0;
    case AVRO_BOOLEAN: {
        int b = 0;
        avro_value_get_boolean(&r, &b);
        f->type = SV_AF_BOOL;
        f->i = b != 0;
        f->d = (double)f->i;
        return 0;
    }
    case AVRO_INT32: {
        int32_t x = 0;
        avro_value_get_int(&r, &x);
        f->type = SV_AF_INT;
        f->i = x;
        f->d = x;
        return 0;
    }
    case AVRO_INT64: {
        int64_t x = 0;
        avro_value_get_long(&r, &x);
        f->type = SV_AF_INT;
        f->i = x;
        f->d = (double)x;
        return 0;
    }
    case AVRO_FLOAT: {
        float x = 0;
        avro_value_get_float(&r, &x);
        f->type = SV_AF_REAL;
        f->d = x;
        return 0;
    }
    case AVRO_DOUBLE: {
        double x = 0;
        avro_value_get_double(&r, &x);
        f->type = SV_AF_REAL;
        f->d = x;
        return 0;
    }
    case AVRO_STRING: {
        const char *s = NULL;
        size_t n = 0; /* includes the terminating NUL */
        avro_value_get_string(&r, &s, &n);
        f->type = SV_AF_STRING;
        f->s = arena_strndup(set, s ? s : "", s && n ? n - 1 : 0);
        return f->s ? 0 : -2;
    }
    case AVRO_ENUM: {
        int k = 0;
        avro_value_get_enum(&r, &k);
        const char *sym = avro_schema_enum_get(avro_value_get_schema(&r), k);
        f->type = SV_AF_STRING;
        f->s = arena_strndup(set, sym ? sym : "", sym ? strlen(sym) : 0);
        return f->s ? 0 : -2;
    }
    default: return -1;
    }
}

/* The scalar fields of record v into *out; 0, or -2 when out of memory. */
static int record_fields(sv_alert_set *set, avro_value_t *v, sv_alert_fields *out)
{
    size_t n = 0;
    out->n = 0;
    out->f = NULL;
    if (avro_value_get_type(v) != AVRO_RECORD || avro_value_get_size(v, &n) || n == 0)
        return 0;
    out->f = arena_alloc(set, n * sizeof *out->f);
    if (!out->f)
        return -2;
    for (size_t k = 0; k < n; k++) {
        avro_value_t c;
        const char *name = NULL;
        if (avro_value_get_by_index(v, k, &c, &name))
            continue;
        sv_alert_field *f = &out->f[out->n];
        int st = value_scalar(set, &c, f);
        if (st == -2)
            return -2;
        if (st)
            continue;
        f->name = arena_strndup(set, name ? name : "", name ? strlen(name) : 0);
        if (!f->name)
            return -2;
        out->n++;
    }
    return 0;
}

const sv_alert_field *sv_alert_field_find(const sv_alert_fields *f, const char *name)
{
    for (int k = 0; f && k < f->n; k++)
        if (strcmp(f->f[k].name, name) == 0)
            return &f->f[k];
    return NULL;
}

double sv_alert_field_real(const sv_alert_fields *f, const char *name)
{
    const sv_alert_field *x = sv_alert_field_find(f, name);
    return x && (x->type == SV_AF_INT || x->type == SV_AF_REAL || x->type == SV_AF_BOOL) ? x->d
                                                                                         : NAN;
}

static void field_text(const sv_alert_fields *f, const char *name, char *out, size_t cap)
{
    const sv_alert_field *x = sv_alert_field_find(f, name);
    if (x && x->type == SV_AF_STRING)
        snprintf(out, cap, "%s", x->s);
    else if (x && x->type == SV_AF_INT)
        snprintf(out, cap, "%lld", (long long)x->i);
}

/* The history array `name` of record v (absent or null: none). */
static int record_history(sv_alert_set *set, avro_value_t *v, const char *name, sv_alert *a)
{
    avro_value_t arr;
    size_t n = 0;
    if (value_child(v, name, &arr) || avro_value_get_type(&arr) != AVRO_ARRAY ||
        avro_value_get_size(&arr, &n) || n == 0)
        return 0;
    a->history = arena_alloc(set, n * sizeof *a->history);
    if (!a->history)
        return -2;
    for (size_t k = 0; k < n; k++) {
        avro_value_t e, r;
        if (avro_value_get_by_index(&arr, k, &e, NULL) || value_resolve(&e, &r))
            continue;
        if (record_fields(set, &r, &a->history[a->n_history]))
            return -2;
        a->n_history++;
    }
    return 0;
}

/* The raw bytes of cutout `name`: ZTF's { fileName, stampData } record or
 * LSST's bytes.  Copies them into the set's arena (decoded later, outside
 * the Avro lock): c->present, n_bytes, file_name; *bytes. */
static int record_cutout(sv_alert_set *set, avro_value_t *v, const char *name,
                         sv_alert_cutout *c, const void **bytes)
{
    avro_value_t cv, data;
    const void *p = NULL;
    size_t n = 0;
    *bytes = NULL;
    if (value_child(v, name, &cv) || value_is_null(&cv))
        return 0;
    if (avro_value_get_type(&cv) == AVRO_RECORD) {
        avro_value_t fn;
        if (!value_child(&cv, "fileName", &fn) && avro_value_get_type(&fn) == AVRO_STRING) {
            const char *s = NULL;
            size_t sn = 0;
            avro_value_get_string(&fn, &s, &sn);
            c->file_name = arena_strndup(set, s ? s : "", s && sn ? sn - 1 : 0);
            if (!c->file_name)
                return -2;
        }
        if (value_child(&cv, "stampData", &data) || value_is_null(&data))
            return 0;
    } else
        data = cv;
    if (avro_value_get_type(&data) != AVRO_BYTES || avro_value_get_bytes(&data, &p, &n) ||
        n == 0)
        return 0;
    void *copy = arena_alloc(set, n);
    if (!copy)
        return -2;
    memcpy(copy, p, n);
    *bytes = c->bytes = copy;
    c->present = 1;
    c->n_bytes = n;
    return 0;
}

/* Pending cutout bytes of one alert, decoded after the Avro part. */
typedef struct pending_cutouts {
    const void *bytes[3];
} pending_cutouts;

static const char *const cutout_names[3] = {"cutoutScience", "cutoutTemplate",
                                            "cutoutDifference"};

/* Fill alert a from the decoded top-level record v.  Returns 0, or -2 when
 * out of memory. */
static int alert_from_record(sv_alert_set *set, avro_value_t *v, sv_alert *a,
                             pending_cutouts *pc)
{
    avro_value_t cand, x;
    sv_alert_field f;
    memset(pc, 0, sizeof *pc);
    if (!value_child(v, "candidate", &cand) && avro_value_get_type(&cand) == AVRO_RECORD) {
        a->survey = SV_ALERT_SURVEY_ZTF;
        if (record_fields(set, &cand, &a->candidate))
            return -2;
        if (!value_child(v, "candid", &x) && !value_scalar(set, &x, &f) && f.type == SV_AF_INT) {
            a->has_id = 1;
            a->id = f.i;
        } else {
            const sv_alert_field *cf = sv_alert_field_find(&a->candidate, "candid");
            if (cf && cf->type == SV_AF_INT) {
                a->has_id = 1;
                a->id = cf->i;
            }
        }
        if (!value_child(v, "objectId", &x) && !value_scalar(set, &x, &f) && f.s)
            snprintf(a->object_id, sizeof a->object_id, "%s", f.s);
        if (!value_child(v, "schemavsn", &x) && !value_scalar(set, &x, &f) && f.s)
            snprintf(a->schema_version, sizeof a->schema_version, "%s", f.s);
        double jd = sv_alert_field_real(&a->candidate, "jd");
        a->mjd = jd - 2400000.5;
        double fid = sv_alert_field_real(&a->candidate, "fid");
        static const char *const ztf_bands[] = {"", "g", "r", "i"};
        if (fid >= 1 && fid <= 3)
            snprintf(a->band, sizeof a->band, "%s", ztf_bands[(int)fid]);
        a->x = sv_alert_field_real(&a->candidate, "xpos");
        a->y = sv_alert_field_real(&a->candidate, "ypos");
        a->survey_score = sv_alert_field_real(&a->candidate, "drb");
        field_text(&a->candidate, "drbversion", a->survey_score_version,
                   sizeof a->survey_score_version);
        if (record_history(set, v, "prv_candidates", a))
            return -2;
    } else if (!value_child(v, "diaSource", &cand) && avro_value_get_type(&cand) == AVRO_RECORD) {
        a->survey = SV_ALERT_SURVEY_LSST;
        if (record_fields(set, &cand, &a->candidate))
            return -2;
        const sv_alert_field *sf = sv_alert_field_find(&a->candidate, "diaSourceId");
        if (sf && sf->type == SV_AF_INT) {
            a->has_id = 1;
            a->id = sf->i;
        } else if (!value_child(v, "diaSourceId", &x) && !value_scalar(set, &x, &f) &&
                   f.type == SV_AF_INT) {
            a->has_id = 1;
            a->id = f.i;
        }
        field_text(&a->candidate, "diaObjectId", a->object_id, sizeof a->object_id);
        if (!value_child(v, "lsst_schema_version", &x) && !value_scalar(set, &x, &f) && f.s)
            snprintf(a->schema_version, sizeof a->schema_version, "%s", f.s);
        a->mjd = sv_alert_field_real(&a->candidate, "midpointMjdTai");
        field_text(&a->candidate, "band", a->band, sizeof a->band);
        a->x = sv_alert_field_real(&a->candidate, "x");
        a->y = sv_alert_field_real(&a->candidate, "y");
        a->survey_score = sv_alert_field_real(&a->candidate, "reliability");
        if (record_history(set, v, "prvDiaSources", a))
            return -2;
    } else {
        alert_flag(a, SV_ALERT_NO_SURVEY, set, "neither a ZTF alert (no 'candidate' record) nor "
                   "an LSST alert (no 'diaSource' record)");
        return 0;
    }
    a->ra = sv_alert_field_real(&a->candidate, "ra");
    a->dec = sv_alert_field_real(&a->candidate, "dec");
    if (!a->has_id)
        alert_flag(a, SV_ALERT_NO_ID, set, "no %s", a->survey == SV_ALERT_SURVEY_ZTF
                                                        ? "candid" : "diaSourceId");
    for (int c = 0; c < 3; c++)
        if (record_cutout(set, v, cutout_names[c], &a->cutout[c], &pc->bytes[c]))
            return -2;
    return 0;
}

/* ---- cutouts ------------------------------------------------------------- */

/* Inflate gzip data (every member) into a new buffer.  0, or a status with
 * why set. */
static int gunzip(const unsigned char *in, size_t n, unsigned char **out, size_t *out_n,
                  char *why, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        snprintf(why, cap, "zlib cannot start");
        return SV_ERR_INTERNAL;
    }
    size_t size = n * 4 > 8192 ? n * 4 : 8192, used = 0;
    unsigned char *buf = malloc(size);
    int st = buf ? Z_OK : Z_MEM_ERROR;
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    while (st == Z_OK) {
        if (used == size) {
            if (size >= ALERT_CUTOUT_MAX) {
                st = Z_BUF_ERROR;
                break;
            }
            size *= 2;
            unsigned char *nb = realloc(buf, size);
            if (!nb) {
                st = Z_MEM_ERROR;
                break;
            }
            buf = nb;
        }
        z.next_out = buf + used;
        z.avail_out = (uInt)(size - used);
        st = inflate(&z, Z_NO_FLUSH);
        used = size - z.avail_out;
        if (st == Z_STREAM_END && z.avail_in > 0) /* another gzip member */
            st = inflateReset(&z);
        if (st == Z_BUF_ERROR && z.avail_in == 0) /* input ended early */
            break;
        if (st == Z_BUF_ERROR)
            st = Z_OK;
    }
    inflateEnd(&z);
    if (st != Z_STREAM_END) {
        free(buf);
        snprintf(why, cap, "%s", st == Z_MEM_ERROR ? "out of memory inflating"
                                 : st == Z_BUF_ERROR && size >= ALERT_CUTOUT_MAX
                                     ? "inflates to more than 64 MiB"
                                 : st == Z_BUF_ERROR ? "gzip data truncated"
                                                     : "damaged gzip data");
        return st == Z_MEM_ERROR ? SV_ERR_NOMEM : SV_ERR_FORMAT;
    }
    *out = buf;
    *out_n = used;
    return 0;
}

/* Decode the pending cutouts of alert a (when it has all three), flagging
 * missing or unreadable ones. */
static int alert_decode_cutouts(sv_alert_set *set, sv_alert *a, const pending_cutouts *pc)
{
    if (a->survey == SV_ALERT_SURVEY_UNKNOWN)
        return 0;
    static const char *const short_names[3] = {"science", "template", "difference"};
    for (int c = 0; c < 3; c++) {
        sv_alert_cutout *cu = &a->cutout[c];
        if (!pc->bytes[c]) {
            alert_flag(a, SV_ALERT_NO_CUTOUT, set, "no %s cutout (%s)", short_names[c],
                       cutout_names[c]);
            continue;
        }
        const unsigned char *p = pc->bytes[c];
        unsigned char *plain = NULL;
        size_t n = cu->n_bytes;
        char why[128], name[96];
        if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
            int st = gunzip(p, n, &plain, &n, why, sizeof why);
            if (st == SV_ERR_NOMEM)
                return st;
            if (st) {
                alert_flag(a, SV_ALERT_BAD_CUTOUT, set, "%s: %s", cutout_names[c], why);
                continue;
            }
            p = plain;
        }
        snprintf(name, sizeof name, "%s", cutout_names[c]);
        sv_error e;
        sv_error_clear(&e);
        int st = sv_stamp_read_memory(p, n, name, &cu->pix, &cu->h, &cu->w, &cu->header,
                                      &cu->n_cards, &e);
        free(plain);
        if (st == SV_ERR_NOMEM)
            return st;
        if (st)
            alert_flag(a, SV_ALERT_BAD_CUTOUT, set, "%s", e.text);
    }
    const sv_alert_cutout *s = &a->cutout[0];
    for (int c = 1; c < 3; c++) {
        const sv_alert_cutout *o = &a->cutout[c];
        if (s->pix && o->pix && (o->h != s->h || o->w != s->w))
            alert_flag(a, SV_ALERT_BAD_CUTOUT, set, "%s is %dx%d, %s %dx%d", cutout_names[c],
                       o->w, o->h, cutout_names[0], s->w, s->h);
    }
    return 0;
}

/* ---- codecs ------------------------------------------------------------- */

/* 1 if libavro can write (hence read) a container with codec; lock held. */
static int codec_supported_locked(const char *codec)
{
    char buf[4096];
    FILE *fp = fmemopen(buf, sizeof buf, "wb");
    avro_schema_t s = avro_schema_null();
    avro_file_writer_t w;
    int ok = fp && !avro_file_writer_create_with_codec_fp(fp, "codec-probe", 0, s, &w, codec, 0);
    if (ok)
        avro_file_writer_close(w);
    avro_schema_decref(s);
    if (fp)
        fclose(fp);
    return ok;
}

int sv_alert_codec_supported(const char *codec)
{
    pthread_mutex_lock(&avro_lock);
    int ok = codec_supported_locked(codec);
    pthread_mutex_unlock(&avro_lock);
    return ok;
}

/* ---- readers ------------------------------------------------------------- */

struct sv_alert_reader {
    avro_schema_t schema;       /* for schemaless messages, or NULL */
    avro_value_iface_t *iface;
    char schema_path[512];
};

int sv_alert_reader_new(const char *schema_path, sv_alert_reader **out, sv_error *err)
{
    *out = NULL;
    sv_alert_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sv_error_set(err, SV_ERR_NOMEM, "out of memory");
    if (!schema_path || !schema_path[0]) {
        *out = r;
        return 0;
    }
    snprintf(r->schema_path, sizeof r->schema_path, "%s", schema_path);
    FILE *f = fopen(schema_path, "rb");
    if (!f) {
        free(r);
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open: %s", schema_path, strerror(errno));
    }
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            if (cap > (64u << 20)) {
                free(text);
                fclose(f);
                free(r);
                return sv_error_set(err, SV_ERR_FORMAT, "%s: larger than 64 MiB: not a schema",
                                    schema_path);
            }
            char *nt = realloc(text, cap = cap * 2 + 65536);
            if (!nt) {
                free(text);
                fclose(f);
                free(r);
                return sv_error_set(err, SV_ERR_NOMEM, "out of memory");
            }
            text = nt;
        }
        size_t k = fread(text + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    text[n] = '\0';
    pthread_mutex_lock(&avro_lock);
    int st = avro_schema_from_json_length(text, n, &r->schema);
    if (st)
        sv_error_set(err, SV_ERR_FORMAT, "%s: not an Avro schema: %s", schema_path,
                     avro_strerror());
    else if (!(r->iface = avro_generic_class_from_schema(r->schema)))
        st = sv_error_set(err, SV_ERR_FORMAT, "%s: unusable Avro schema: %s", schema_path,
                          avro_strerror());
    pthread_mutex_unlock(&avro_lock);
    free(text);
    if (st) {
        sv_alert_reader_free(r);
        return SV_ERR_FORMAT;
    }
    *out = r;
    return 0;
}

void sv_alert_reader_free(sv_alert_reader *r)
{
    if (!r)
        return;
    if (r->iface)
        avro_value_iface_decref(r->iface);
    if (r->schema)
        avro_schema_decref(r->schema);
    free(r);
}

/* Pending cutouts of the whole set, grown with it. */
typedef struct pending {
    pending_cutouts *pc;
    long cap;
} pending;

static pending_cutouts *pending_at(pending *p, long i)
{
    if (i >= p->cap) {
        long nc = p->cap ? 2 * p->cap : 4;
        while (nc <= i)
            nc *= 2;
        pending_cutouts *np = realloc(p->pc, (size_t)nc * sizeof *np);
        if (!np)
            return NULL;
        p->pc = np;
        p->cap = nc;
    }
    return &p->pc[i];
}

/* Read the container file open as fp: every record into set.  Called with
 * the Avro lock held.  Returns 0 or a status (whole-file failure). */
static int read_container(FILE *fp, sv_alert_set *set, pending *pend, sv_error *err)
{
    avro_file_reader_t fr;
    if (avro_file_reader_fp(fp, set->source, 0, &fr)) {
        const char *why = avro_strerror();
        if (strstr(why, "nknown codec") && !codec_supported_locked(set->codec))
            return sv_error_set(err, SV_ERR_UNSUPPORTED, "%s: Avro codec '%s' is not supported "
                                "by this libavro (it reads null, deflate, snappy%s)",
                                set->source, set->codec,
                                codec_supported_locked("lzma") ? ", lzma" : "");
        return sv_error_set(err, SV_ERR_FORMAT, "%s: not a readable Avro container file: %s",
                            set->source, why);
    }
    avro_schema_t ws = avro_file_reader_get_writer_schema(fr); /* a new reference */
    const char *sname = ws ? avro_schema_name(ws) : NULL;
    snprintf(set->schema_name, sizeof set->schema_name, "%s", sname ? sname : "");
    avro_value_iface_t *iface = ws ? avro_generic_class_from_schema(ws) : NULL;
    avro_value_t rec;
    if (!iface || avro_generic_value_new(iface, &rec)) {
        int st = sv_error_set(err, SV_ERR_FORMAT, "%s: unusable writer schema: %s", set->source,
                              avro_strerror());
        if (iface)
            avro_value_iface_decref(iface);
        if (ws)
            avro_schema_decref(ws);
        avro_file_reader_close(fr);
        return st;
    }
    long cap = 0;
    int st = 0;
    for (;;) {
        avro_value_reset(&rec);
        int rv = avro_file_reader_read_value(fr, &rec);
        if (rv == EOF)
            break;
        sv_alert *a = set->n < ALERT_RECORDS_MAX ? set_push(set, &cap) : NULL;
        pending_cutouts *pc = a ? pending_at(pend, a->record) : NULL;
        if (!pc) {
            st = set->n < ALERT_RECORDS_MAX
                     ? sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", set->source)
                     : sv_error_set(err, SV_ERR_FORMAT, "%s: more than %ld records",
                                    set->source, ALERT_RECORDS_MAX);
            break;
        }
        memset(pc, 0, sizeof *pc);
        if (rv) {
            alert_flag(a, SV_ALERT_UNDECODABLE, set, "cannot decode (this and any later "
                       "record of the file are lost): %s", avro_strerror());
            break;
        }
        if (alert_from_record(set, &rec, a, pc)) {
            st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", set->source);
            break;
        }
    }
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(ws); /* get_writer_schema gave a reference */
    avro_file_reader_close(fr);
    return st;
}

/* Decode len bytes at buf as one whole datum into rec: 0 when it decodes
 * and uses every byte, -1 when not, -2 when out of memory. */
static int decode_datum(const unsigned char *buf, size_t len, avro_value_t *rec)
{
    avro_reader_t mr = avro_reader_memory((const char *)buf, (int64_t)len);
    if (!mr)
        return -2;
    avro_value_reset(rec);
    size_t used = 0; /* (a memory reader does not tell where it stopped) */
    int st = avro_value_read(mr, rec) || avro_value_sizeof(rec, &used) || used != len ? -1 : 0;
    avro_reader_free(mr);
    return st;
}

/* One schemaless message with r's schema: with the Confluent prefix (byte
 * 0 and a 4-byte schema id) or bare.  A bare datum may start with byte 0
 * too (a union's first branch), so a message starting with 0 is tried
 * framed first, then bare; the one that decodes to its end is taken. */
static int read_message(sv_alert_reader *r, const unsigned char *buf, size_t len,
                        sv_alert_set *set, pending *pend, sv_error *err)
{
    avro_value_t rec;
    snprintf(set->codec, sizeof set->codec, "none");
    const char *sname = avro_schema_name(r->schema);
    snprintf(set->schema_name, sizeof set->schema_name, "%s", sname ? sname : "");
    if (avro_generic_value_new(r->iface, &rec))
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", set->source);
    long cap = 0;
    sv_alert *a = set_push(set, &cap);
    pending_cutouts *pc = a ? pending_at(pend, 0) : NULL;
    int st = pc ? -1 : -2;
    if (pc) {
        memset(pc, 0, sizeof *pc);
        if (len >= 5 && buf[0] == 0)
            st = decode_datum(buf + 5, len - 5, &rec);
        if (st == -1)
            st = decode_datum(buf, len, &rec);
        if (st == -1)
            alert_flag(a, SV_ALERT_UNDECODABLE, set, "cannot decode with the schema of %s "
                       "(as a Confluent-framed or a bare Avro datum): %s", r->schema_path,
                       avro_strerror());
        else if (st == 0 && alert_from_record(set, &rec, a, pc))
            st = -2;
    }
    avro_value_decref(&rec);
    return st == -2 ? sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", set->source) : 0;
}

/* The container's codec, from its header metadata (for set->codec). */
static void container_codec(const unsigned char *buf, size_t len, char *out, size_t cap)
{
    static const char key[] = "avro.codec";
    snprintf(out, cap, "null"); /* the default when the header names none */
    size_t klen = sizeof key - 1, lim = len < 4096 ? len : 4096;
    for (size_t i = 4; i + klen + 2 <= lim; i++)
        if (memcmp(buf + i, key, klen) == 0) {
            /* the value follows: zigzag length (one byte for short names) */
            unsigned v = buf[i + klen];
            size_t n = (v & 0x80) ? 0 : (v >> 1);
            if (i + klen + 1 + n <= lim && n > 0 && n < cap)
                snprintf(out, cap, "%.*s", (int)n, (const char *)buf + i + klen + 1);
            return;
        }
}

/* Read the input (whole, in memory) into set. */
static int read_any(sv_alert_reader *r, const unsigned char *buf, size_t len, const char *name,
                    sv_alert_set *set, sv_error *err)
{
    memset(set, 0, sizeof *set);
    snprintf(set->source, sizeof set->source, "%s", name);
    if (!r)
        return sv_error_set(err, SV_ERR_ARG, "%s: no alert reader", name);
    int container = len >= 4 && memcmp(buf, "Obj\x01", 4) == 0;
    if (!container && !r->schema) {
        if (len >= 5 && buf[0] == 0)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: a schemaless Avro message in the "
                                "Confluent wire format (schema id %u), not an Avro container "
                                "file: give the writer's schema (.avsc) to decode it", name,
                                (unsigned)buf[1] << 24 | (unsigned)buf[2] << 16 |
                                    (unsigned)buf[3] << 8 | buf[4]);
        return sv_error_set(err, SV_ERR_FORMAT, "%s: not an Avro container file (no 'Obj\\1' "
                            "magic); a schemaless message needs the writer's schema (.avsc)",
                            name);
    }
    pending pend = {NULL, 0};
    int st;
    if (container)
        container_codec(buf, len, set->codec, sizeof set->codec);
    pthread_mutex_lock(&avro_lock);
    if (container) {
        FILE *fp = len ? fmemopen((void *)buf, len, "rb") : NULL;
        if (!fp)
            st = sv_error_set(err, SV_ERR_NOMEM, "%s: cannot open in memory", name);
        else {
            st = read_container(fp, set, &pend, err);
            fclose(fp);
        }
    } else
        st = read_message(r, buf, len, set, &pend, err);
    pthread_mutex_unlock(&avro_lock);
    for (long i = 0; !st && i < set->n; i++)
        if (alert_decode_cutouts(set, &set->alerts[i], &pend.pc[i]))
            st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", name);
    free(pend.pc);
    return st;
}

int sv_alert_read_buffer(sv_alert_reader *r, const void *buf, size_t len, const char *name,
                         sv_alert_set *set, sv_error *err)
{
    return read_any(r, buf, len, name ? name : "(buffer)", set, err);
}

int sv_alert_read_file(sv_alert_reader *r, const char *path, sv_alert_set *set, sv_error *err)
{
    memset(set, 0, sizeof *set);
    snprintf(set->source, sizeof set->source, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    int st = 0;
    for (;;) {
        if (cap - n < 65536) {
            unsigned char *nb = realloc(buf, cap = cap * 2 + 65536);
            if (!nb) {
                st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) {
            if (ferror(f))
                st = sv_error_set(err, SV_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!st)
        st = read_any(r, buf, n, path, set, err);
    free(buf);
    return st;
}
