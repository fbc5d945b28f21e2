/* alert_packet.c — see alert_packet.h.  The only file that includes Avro. */
#include "data/alert_packet.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <zlib.h>

#include "fits/stamp_file.h"

#define ALERT_CUTOUT_MAX (64u << 20) /* largest inflated cutout, bytes     */
#define ALERT_RECORDS_MAX 10000000L  /* records of one source              */
#define ALERT_BLOCK_MAX (1u << 30)   /* largest inflated container block   */
#define SCHEMA_CACHE_MAX 8           /* writer schemas a reader keeps       */

const sv_alert_flag_doc sv_alert_flag_docs[SV_ALERT_N_FLAGS] = {
    {SV_ALERT_UNDECODABLE, "UNDECODABLE", "record could not be decoded; not scored"},
    {SV_ALERT_NO_CUTOUT, "NOCUTOUT", "a cutout is missing; not scored"},
    {SV_ALERT_BAD_CUTOUT, "BADCUTOUT", "a cutout is not a readable image; not scored"},
    {SV_ALERT_NO_ID, "NOID", "no candid / diaSourceId"},
    {SV_ALERT_NO_SURVEY, "NOSURVEY", "neither a ZTF nor an LSST alert; not scored"},
};

/* libavro's error text is one process-global buffer */
static pthread_mutex_t avro_lock = PTHREAD_MUTEX_INITIALIZER;

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

/* Inflate n bytes at in into a new buffer of at most max bytes: gzip data
 * (every member) when raw is 0, a raw deflate stream (RFC 1951, an Avro
 * "deflate" block) when 1.  0, or a status with why set. */
static int inflate_all(const unsigned char *in, size_t n, int raw, size_t max,
                       unsigned char **out, size_t *out_n, char *why, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, raw ? -MAX_WBITS : 16 + MAX_WBITS) != Z_OK) {
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
            if (size >= max) {
                st = Z_BUF_ERROR;
                break;
            }
            size = size > max / 2 ? max : 2 * size;
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
        if (st == Z_STREAM_END && z.avail_in > 0 && !raw) /* another gzip member */
            st = inflateReset(&z);
        if (st == Z_BUF_ERROR && z.avail_in == 0) /* input ended early */
            break;
        if (st == Z_BUF_ERROR)
            st = Z_OK;
    }
    inflateEnd(&z);
    if (st != Z_STREAM_END) {
        free(buf);
        const char *kind = raw ? "deflate data" : "gzip data";
        if (st == Z_MEM_ERROR)
            snprintf(why, cap, "out of memory inflating");
        else if (st == Z_BUF_ERROR && size >= max)
            snprintf(why, cap, "%s inflates to more than %zu MiB", kind, max >> 20);
        else
            snprintf(why, cap, st == Z_BUF_ERROR ? "%s truncated" : "damaged %s", kind);
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
            int st = inflate_all(p, n, 0, ALERT_CUTOUT_MAX, &plain, &n, why, sizeof why);
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

/* ---- files ---------------------------------------------------------------- */

/* The whole of the file at path, at most max bytes, into a new buffer with
 * a NUL after the data (*n: its size).  0 or a status with err set. */
static int read_whole(const char *path, size_t max, char **out, size_t *n, sv_error *err)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int st = 0;
    for (;;) {
        if (cap - len < 65536) {
            if (cap > max) {
                st = sv_error_set(err, SV_ERR_FORMAT, "%s: larger than %zu MiB", path,
                                  max >> 20);
                break;
            }
            char *nb = realloc(buf, cap = cap * 2 + 65536);
            if (!nb) {
                st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
        }
        size_t k = fread(buf + len, 1, cap - len - 1, f);
        len += k;
        if (k == 0) {
            if (ferror(f))
                st = sv_error_set(err, SV_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    *out = buf;
    *n = len;
    return 0;
}

/* ---- readers ------------------------------------------------------------- */

/* A writer schema parsed once: container files carry their schema (tens
 * of kilobytes of JSON for ZTF and Rubin), and parsing it is a large part
 * of the cost of a one-alert file; files with the same schema text share
 * it. */
typedef struct schema_entry {
    char *json;                    /* the schema text as in the header     */
    size_t n_json;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t rec;              /* a value of it, reset for each record */
} schema_entry;

struct sv_alert_reader {
    avro_schema_t schema;       /* for schemaless messages, or NULL */
    avro_value_iface_t *iface;
    char schema_path[512];
    schema_entry cache[SCHEMA_CACHE_MAX];
    int n_cache, next_evict;    /* the oldest entry goes when full    */
};

static void schema_entry_clear(schema_entry *e)
{
    if (e->iface) {
        avro_value_decref(&e->rec);
        avro_value_iface_decref(e->iface);
    }
    if (e->schema)
        avro_schema_decref(e->schema);
    free(e->json);
    memset(e, 0, sizeof *e);
}

/* The cached writer schema of this JSON text (the same text, byte for
 * byte: comparing it costs microseconds, hashing it more), parsed on first
 * sight.  Called with the Avro lock held.  NULL with why set when the text
 * is not a usable schema or memory is short. */
static schema_entry *schema_lookup(sv_alert_reader *r, const unsigned char *json, size_t n,
                                   char *why, size_t cap)
{
    for (int i = 0; i < r->n_cache; i++)
        if (r->cache[i].iface && r->cache[i].n_json == n && !memcmp(r->cache[i].json, json, n))
            return &r->cache[i];
    schema_entry *e;
    int appended = r->n_cache < SCHEMA_CACHE_MAX;
    if (appended)
        e = &r->cache[r->n_cache++];
    else {
        e = &r->cache[r->next_evict];
        r->next_evict = (r->next_evict + 1) % SCHEMA_CACHE_MAX;
        schema_entry_clear(e);
    }
    e->json = malloc(n ? n : 1);
    if (!e->json) {
        snprintf(why, cap, "out of memory");
    } else {
        memcpy(e->json, json, n);
        e->n_json = n;
        if (avro_schema_from_json_length((const char *)json, n, &e->schema)) {
            snprintf(why, cap, "not an Avro schema: %s", avro_strerror());
            e->schema = NULL;
        } else if (!(e->iface = avro_generic_class_from_schema(e->schema)) ||
                   avro_generic_value_new(e->iface, &e->rec)) {
            snprintf(why, cap, "unusable writer schema: %s", avro_strerror());
            if (e->iface)
                avro_value_iface_decref(e->iface);
            e->iface = NULL;
        }
    }
    if (e->schema && e->iface)
        return e;
    schema_entry_clear(e); /* not kept: an empty slot (skipped above) */
    if (appended)
        r->n_cache--;
    return NULL;
}

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
    char *text;
    size_t n;
    int rs = read_whole(schema_path, 64u << 20, &text, &n, err);
    if (rs) {
        free(r);
        return rs;
    }
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
    for (int i = 0; i < r->n_cache; i++)
        schema_entry_clear(&r->cache[i]);
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

/* One record decoded by libavro from mr into rec: 0 or -1.  Every Avro
 * record is read here (libavro leaks on some damaged data: see
 * alert_sanitizer.h). */
__attribute__((noinline)) static int record_read(avro_reader_t mr, avro_value_t *rec)
{
    return avro_value_read(mr, rec) ? -1 : 0;
}

/* The next record's alert and its pending cutouts (*pc); NULL with err set
 * when memory is short or the source has too many records. */
static sv_alert *next_record(sv_alert_set *set, pending *pend, long *cap, pending_cutouts **pc,
                             sv_error *err)
{
    sv_alert *a = set->n < ALERT_RECORDS_MAX ? set_push(set, cap) : NULL;
    *pc = a ? pending_at(pend, a->record) : NULL;
    if (*pc) {
        memset(*pc, 0, sizeof **pc);
        return a;
    }
    if (set->n < ALERT_RECORDS_MAX)
        sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", set->source);
    else
        sv_error_set(err, SV_ERR_FORMAT, "%s: more than %ld records", set->source,
                     ALERT_RECORDS_MAX);
    return NULL;
}

/* ---- container files -------------------------------------------------------
 * The framing of an object container file (the Avro specification, "Object
 * Container Files") is read here: the header (magic, metadata map with
 * avro.schema and avro.codec, 16-byte sync marker), then blocks (object
 * count, byte size, the objects, the sync marker).  Schemas and objects are
 * libavro's to parse and decode.  Reading the framing here, rather than
 * through avro_file_reader, lets a reader parse each writer schema once
 * (schema_lookup) instead of once per file; the codecs null and deflate
 * (zlib) are read this way, any other through avro_file_reader. */

typedef struct container_header {
    const unsigned char *schema;  /* avro.schema: JSON, n_schema bytes     */
    size_t n_schema;
    char codec[16];               /* avro.codec ("null" when absent)       */
    unsigned char sync[16];
    size_t data;                  /* offset of the first block             */
} container_header;

/* The zigzag varint long at b[*pos] (before len), *pos moved past it; 0, or
 * -1 when it is truncated or longer than 10 bytes. */
static int varint_long(const unsigned char *b, size_t len, size_t *pos, int64_t *v)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*pos >= len)
            return -1;
        unsigned char c = b[(*pos)++];
        u |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return 0;
        }
    }
    return -1;
}

/* A varint length at b[*pos] that fits in what is left; 0 or -1. */
static int varint_span(const unsigned char *b, size_t len, size_t *pos, size_t *n)
{
    int64_t v;
    if (varint_long(b, len, pos, &v) || v < 0 || (uint64_t)v > len - *pos)
        return -1;
    *n = (size_t)v;
    return 0;
}

/* The header of the container file in b[0..len) (magic checked by the
 * caller).  0, or -1 with why set. */
static int container_header_read(const unsigned char *b, size_t len, container_header *h,
                                 char *why, size_t cap)
{
    memset(h, 0, sizeof *h);
    snprintf(h->codec, sizeof h->codec, "null");
    size_t pos = 4;
    for (;;) { /* the metadata map: blocks of entries, then a 0 count */
        int64_t count, bytes;
        if (varint_long(b, len, &pos, &count))
            goto damaged;
        if (count == 0)
            break;
        if (count < 0 && (count == INT64_MIN || varint_long(b, len, &pos, &bytes)))
            goto damaged;
        for (int64_t k = 0; k < (count < 0 ? -count : count); k++) {
            size_t kn, vn;
            if (varint_span(b, len, &pos, &kn))
                goto damaged;
            const unsigned char *key = b + pos;
            pos += kn;
            if (varint_span(b, len, &pos, &vn))
                goto damaged;
            const unsigned char *val = b + pos;
            pos += vn;
            if (kn == 11 && !memcmp(key, "avro.schema", 11)) {
                h->schema = val;
                h->n_schema = vn;
            } else if (kn == 10 && !memcmp(key, "avro.codec", 10))
                snprintf(h->codec, sizeof h->codec, "%.*s", (int)(vn < 15 ? vn : 15), val);
        }
    }
    if (len - pos < sizeof h->sync)
        goto damaged;
    memcpy(h->sync, b + pos, sizeof h->sync);
    h->data = pos + sizeof h->sync;
    if (!h->schema) {
        snprintf(why, cap, "no avro.schema in the header");
        return -1;
    }
    return 0;
damaged:
    snprintf(why, cap, "the header is truncated or damaged");
    return -1;
}

/* Read the blocks of the container file b[0..len) with header h (codec
 * null or deflate): every record into set.  Called with the Avro lock
 * held.  Returns 0 or a status (whole-file failure). */
static int read_blocks(sv_alert_reader *r, const unsigned char *b, size_t len,
                       const container_header *h, sv_alert_set *set, pending *pend,
                       sv_error *err)
{
    char why[256];
    schema_entry *e = schema_lookup(r, h->schema, h->n_schema, why, sizeof why);
    if (!e)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: %s", set->source, why);
    const char *sname = avro_schema_name(e->schema);
    snprintf(set->schema_name, sizeof set->schema_name, "%s", sname ? sname : "");
    avro_reader_t mr = avro_reader_memory("", 0);
    if (!mr)
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", set->source);
    int deflate = !strcmp(h->codec, "deflate"), st = 0;
    const char *lost = NULL; /* why the rest of the file cannot be read */
    long cap = 0, block = 0;
    for (size_t pos = h->data; !st && !lost && pos < len; block++) {
        int64_t count;
        size_t n;
        if (varint_long(b, len, &pos, &count) || count < 0 || varint_span(b, len, &pos, &n) ||
            len - pos - n < sizeof h->sync) {
            lost = "the block is truncated or its header damaged";
            break;
        }
        if (memcmp(b + pos + n, h->sync, sizeof h->sync)) {
            lost = "the block does not end in the file's sync marker (damaged)";
            break;
        }
        const unsigned char *data = b + pos;
        unsigned char *plain = NULL;
        pos += n + sizeof h->sync;
        if (deflate) {
            int zs = inflate_all(data, n, 1, ALERT_BLOCK_MAX, &plain, &n, why, sizeof why);
            if (zs == SV_ERR_NOMEM)
                st = sv_error_set(err, zs, "%s: out of memory", set->source);
            if (zs) {
                lost = why;
                break;
            }
            data = plain;
        }
        avro_reader_memory_set_source(mr, (const char *)data, (int64_t)n);
        for (int64_t k = 0; k < count; k++) {
            pending_cutouts *pc;
            sv_alert *a = next_record(set, pend, &cap, &pc, err);
            if (!a) {
                st = err ? err->status : SV_ERR_NOMEM;
                break;
            }
            avro_value_reset(&e->rec);
            if (record_read(mr, &e->rec)) {
                alert_flag(a, SV_ALERT_UNDECODABLE, set, "cannot decode (this and any later "
                           "record of the file are lost): %s", avro_strerror());
                lost = "";
                break;
            }
            if (alert_from_record(set, &e->rec, a, pc)) {
                st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", set->source);
                break;
            }
        }
        free(plain);
    }
    if (!st && lost && lost[0]) { /* one row stands for what was lost */
        pending_cutouts *pc;
        sv_alert *a = next_record(set, pend, &cap, &pc, err);
        if (a)
            alert_flag(a, SV_ALERT_UNDECODABLE, set, "cannot decode (this and any later "
                       "record of the file are lost): block %ld: %s", block, lost);
        else
            st = err ? err->status : SV_ERR_NOMEM;
    }
    avro_reader_free(mr);
    return st;
}

/* Read the container file open as fp with avro_file_reader (the codecs
 * read_blocks leaves to libavro): every record into set.  Called with
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
        pending_cutouts *pc;
        sv_alert *a = next_record(set, pend, &cap, &pc, err);
        if (!a) {
            st = err ? err->status : SV_ERR_NOMEM;
            break;
        }
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
    int st = record_read(mr, rec) || avro_value_sizeof(rec, &used) || used != len ? -1 : 0;
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
    container_header h;
    int st;
    if (container) {
        char why[128];
        if (container_header_read(buf, len, &h, why, sizeof why))
            return sv_error_set(err, SV_ERR_FORMAT, "%s: not a readable Avro container file: "
                                "%s", name, why);
        snprintf(set->codec, sizeof set->codec, "%s", h.codec);
    }
    pthread_mutex_lock(&avro_lock);
    if (container && (!strcmp(h.codec, "null") || !strcmp(h.codec, "deflate")))
        st = read_blocks(r, buf, len, &h, set, &pend, err);
    else if (container) {
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
    char *buf;
    size_t n;
    int st = read_whole(path, (size_t)1 << 40, &buf, &n, err);
    if (!st)
        st = read_any(r, (const unsigned char *)buf, n, path, set, err);
    free(buf);
    return st;
}
