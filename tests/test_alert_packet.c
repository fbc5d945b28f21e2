/* test_alert_packet.c — the alert-packet reader (alert_packet.h) on the real
 * ZTF and Rubin packets of $SV_FIXTURES/alert-packets, on the same packets
 * rewritten with each codec and as schemaless (Confluent-framed) messages,
 * and on packets damaged here: truncated, corrupted, cutouts missing or
 * unreadable, an unsupported codec, random byte damage.
 * Tests that need the fixtures skip with a message when they are absent.
 * (libavro is used here to make the damaged and re-encoded packets.) */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avro.h>
#include <cmocka.h>
#include <dirent.h>

#include "data/alert_packet.h"
#include "data/alert_sanitizer.h"
#include "infer/score.h"
#include "core/rng.h"

/* ---- helpers -------------------------------------------------------------- */

static char fixtures[1024];

static const char *packet_dir(const char *survey)
{
    static char dir[1200];
    const char *fx = getenv("SV_FIXTURES");
    snprintf(fixtures, sizeof fixtures, "%s", fx && *fx ? fx : "../shared/fixtures");
    snprintf(dir, sizeof dir, "%s/alert-packets/%s", fixtures, survey);
    return dir;
}

/* Up to max .avro files of a fixture folder (sorted); 0 when absent. */
static int packet_files(const char *survey, char (*out)[1400], int max)
{
    const char *dir = packet_dir(survey);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".avro"))
            snprintf(out[n++], sizeof out[0], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(out, (size_t)n, sizeof out[0], (int (*)(const void *, const void *))strcmp);
    return n;
}

#define NEED_FIXTURES(survey, files, max, n)                                          \
    int n = packet_files(survey, files, max);                                         \
    if (n == 0) {                                                                     \
        printf("# SKIP: no %s alert packets at %s\n", survey, packet_dir(survey));    \
        skip();                                                                       \
    }

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static char tmpdir[512];

static void tmp_path(char *out, size_t cap, const char *name)
{
    if (!tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/sv-alert-XXXXXX", t && *t ? t : "/tmp");
        assert_non_null(mkdtemp(tmpdir));
    }
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void write_all(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static sv_alert_reader *reader(const char *schema)
{
    sv_alert_reader *r = NULL;
    sv_error err;
    sv_error_clear(&err);
    int st = sv_alert_reader_new(schema, &r, &err);
    if (st)
        printf("# %s\n", err.text);
    assert_int_equal(st, 0);
    return r;
}

/* Same identifiers and bit-identical cutouts. */
static void assert_same_alert(const sv_alert *a, const sv_alert *b)
{
    assert_int_equal(a->survey, b->survey);
    assert_int_equal(a->has_id, b->has_id);
    assert_true(a->id == b->id);
    assert_string_equal(a->object_id, b->object_id);
    assert_int_equal(a->n_history, b->n_history);
    assert_int_equal(a->candidate.n, b->candidate.n);
    for (int c = 0; c < 3; c++) {
        assert_int_equal(a->cutout[c].h, b->cutout[c].h);
        assert_int_equal(a->cutout[c].w, b->cutout[c].w);
        assert_memory_equal(a->cutout[c].pix, b->cutout[c].pix,
                            (size_t)a->cutout[c].h * a->cutout[c].w * sizeof(float));
    }
}

/* The first record of a container file, as libavro decodes it. */
typedef struct avro_rec {
    avro_file_reader_t fr;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t v;
} avro_rec;

static void avro_rec_open(avro_rec *r, const char *path)
{
    assert_int_equal(avro_file_reader(path, &r->fr), 0);
    r->schema = avro_file_reader_get_writer_schema(r->fr);
    r->iface = avro_generic_class_from_schema(r->schema);
    assert_non_null(r->iface);
    assert_int_equal(avro_generic_value_new(r->iface, &r->v), 0);
    assert_int_equal(avro_file_reader_read_value(r->fr, &r->v), 0);
}

static void avro_rec_close(avro_rec *r)
{
    avro_value_decref(&r->v);
    avro_value_iface_decref(r->iface);
    avro_schema_decref(r->schema);
    avro_file_reader_close(r->fr);
}

/* Write n copies of value v into a container file with codec; 0 or -1
 * when libavro has no such codec. */
static int write_container(const char *path, avro_schema_t s, avro_value_t *v, int n,
                           const char *codec)
{
    avro_file_writer_t w;
    remove(path);
    if (avro_file_writer_create_with_codec(path, s, &w, codec, 1 << 20))
        return -1;
    for (int i = 0; i < n; i++)
        assert_int_equal(avro_file_writer_append_value(w, v), 0);
    assert_int_equal(avro_file_writer_close(w), 0);
    return 0;
}

/* ---- the real packets ----------------------------------------------------- */

static void test_ztf_packets(void **state)
{
    (void)state;
    static char files[200][1400];
    NEED_FIXTURES("ztf", files, 200, n);
    sv_alert_reader *r = reader(NULL);
    int matched = 0, with_history = 0;
    for (int i = 0; i < n; i++) {
        sv_alert_set set;
        sv_error err;
        sv_error_clear(&err);
        assert_int_equal(sv_alert_read_file(r, files[i], &set, &err), 0);
        assert_int_equal(set.n, 1);
        assert_string_equal(set.codec, "null");
        const sv_alert *a = &set.alerts[0];
        assert_int_equal(a->flags, 0);
        assert_int_equal(a->survey, SV_ALERT_SURVEY_ZTF);
        assert_true(a->has_id);
        /* the file is named <objectId>.<candid>.<...>.avro */
        const char *base = strrchr(files[i], '/') + 1;
        char name[256];
        snprintf(name, sizeof name, "%s.%lld.", a->object_id, (long long)a->id);
        assert_true(strncmp(base, name, strlen(name)) == 0);
        const sv_alert_field *cf = sv_alert_field_find(&a->candidate, "candid");
        assert_non_null(cf);
        assert_true(cf->i == a->id);
        assert_string_equal(a->survey_score_version, "d6_m7");
        assert_true(a->survey_score >= 0 && a->survey_score <= 1);
        assert_true(a->mjd > 58000 && a->mjd < 61000);
        assert_true(a->band[0] == 'g' || a->band[0] == 'r' || a->band[0] == 'i');
        assert_true(!strncmp(a->schema_version, "3.", 2));
        if (a->n_history > 0) {
            with_history++;
            assert_true(sv_alert_field_real(&a->history[0], "jd") > 2458000);
        }
        for (int c = 0; c < 3; c++) {
            const sv_alert_cutout *cu = &a->cutout[c];
            assert_true(cu->present && cu->pix && cu->h > 0 && cu->w > 0);
            assert_true(cu->h <= 63 && cu->w <= 63);
            assert_non_null(cu->header);
            assert_non_null(strstr(cu->header, "NAXIS1  ="));
            assert_non_null(cu->file_name);
        }
        /* the same cutouts as files (ztf-alerts-dev) decode to the same
         * pixels, bit for bit */
        static const char *const tag[3] = {"sci", "ref", "diff"};
        char path[1400];
        snprintf(path, sizeof path, "%s/ztf-alerts-dev/%lld_sci.fits.gz", fixtures,
                 (long long)a->id);
        if (access(path, R_OK) == 0) {
            for (int c = 0; c < 3; c++) {
                float *pix;
                int h, w;
                snprintf(path, sizeof path, "%s/ztf-alerts-dev/%lld_%s.fits.gz", fixtures,
                         (long long)a->id, tag[c]);
                assert_int_equal(sv_stamp_read(path, &pix, &h, &w, &err), 0);
                assert_int_equal(h, a->cutout[c].h);
                assert_int_equal(w, a->cutout[c].w);
                assert_memory_equal(pix, a->cutout[c].pix, (size_t)h * w * sizeof *pix);
                free(pix);
            }
            matched++;
        }
        sv_alert_set_free(&set);
    }
    printf("# %d ZTF packets, %d with history, %d matched to ztf-alerts-dev files\n", n,
           with_history, matched);
    assert_true(with_history > n / 2);
    assert_true(matched >= n / 2);
    sv_alert_reader_free(r);
}

static void test_rubin_packets(void **state)
{
    (void)state;
    static char files[100][1400];
    NEED_FIXTURES("rubin", files, 100, n);
    sv_alert_reader *r = reader(NULL);
    for (int i = 0; i < n; i++) {
        sv_alert_set set;
        sv_error err;
        sv_error_clear(&err);
        assert_int_equal(sv_alert_read_file(r, files[i], &set, &err), 0);
        assert_int_equal(set.n, 1);
        const sv_alert *a = &set.alerts[0];
        assert_int_equal(a->flags, 0);
        assert_int_equal(a->survey, SV_ALERT_SURVEY_LSST);
        assert_true(a->has_id);
        /* the file is named <diaSourceId>_<...>.avro */
        char name[64];
        snprintf(name, sizeof name, "%lld_", (long long)a->id);
        assert_true(!strncmp(strrchr(files[i], '/') + 1, name, strlen(name)));
        assert_true(a->object_id[0] != '\0');
        assert_true(a->survey_score >= 0 && a->survey_score <= 1); /* reliability */
        assert_true(a->mjd > 60000);
        assert_true(a->band[0] != '\0');
        assert_true(isfinite(a->ra) && isfinite(a->dec));
        for (int c = 0; c < 3; c++) {
            assert_non_null(a->cutout[c].pix);
            assert_int_equal(a->cutout[c].h, a->cutout[0].h);
            assert_int_equal(a->cutout[c].w, a->cutout[0].w);
            assert_non_null(a->cutout[c].header);
        }
        sv_alert_set_free(&set);
    }
    sv_alert_reader_free(r);
}

/* ---- codecs ----------------------------------------------------------------- */

static void test_codecs(void **state)
{
    (void)state;
    static char files[1][1400];
    NEED_FIXTURES("ztf", files, 1, n);
    (void)n;
    sv_alert_reader *r = reader(NULL);
    sv_alert_set orig;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_alert_read_file(r, files[0], &orig, &err), 0);
    avro_rec rec;
    avro_rec_open(&rec, files[0]);
    static const char *const codecs[] = {"null", "deflate", "snappy", "lzma"};
    for (int k = 0; k < 4; k++) {
        char path[600];
        tmp_path(path, sizeof path, "codec.avro");
        int have = write_container(path, rec.schema, &rec.v, 3, codecs[k]) == 0;
        printf("# codec %s: %s\n", codecs[k], have ? "supported" : "not in this libavro");
        assert_int_equal(sv_alert_codec_supported(codecs[k]), have);
        if (!have) {
            assert_true(k == 3); /* null, deflate and snappy must be there */
            continue;
        }
        sv_alert_set set;
        assert_int_equal(sv_alert_read_file(r, path, &set, &err), 0);
        assert_string_equal(set.codec, codecs[k]);
        assert_int_equal(set.n, 3);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(set.alerts[i].record, i);
            assert_int_equal(set.alerts[i].flags, 0);
            assert_same_alert(&set.alerts[i], &orig.alerts[0]);
        }
        sv_alert_set_free(&set);
        /* the same bytes from memory */
        size_t len;
        unsigned char *b = read_all(path, &len);
        assert_int_equal(sv_alert_read_buffer(r, b, len, "msg", &set, &err), 0);
        assert_int_equal(set.n, 3);
        assert_string_equal(set.source, "msg");
        assert_same_alert(&set.alerts[2], &orig.alerts[0]);
        sv_alert_set_free(&set);
        free(b);
    }
    avro_rec_close(&rec);
    sv_alert_set_free(&orig);
    sv_alert_reader_free(r);
}

/* A container whose header names a codec libavro does not have. */
static void test_unknown_codec(void **state)
{
    (void)state;
    static char files[1][1400];
    NEED_FIXTURES("ztf", files, 1, n);
    (void)n;
    size_t len;
    unsigned char *b = read_all(files[0], &len);
    unsigned char *p = memmem(b, len < 4096 ? len : 4096, "avro.codec\x08null", 15);
    assert_non_null(p);
    memcpy(p + 11, "zstd", 4);
    sv_alert_reader *r = reader(NULL);
    sv_alert_set set;
    sv_error err;
    sv_error_clear(&err);
    int st = sv_alert_read_buffer(r, b, len, "zstd.avro", &set, &err);
    printf("# %s\n", err.text);
    assert_int_equal(st, SV_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.text, "zstd.avro"));
    assert_non_null(strstr(err.text, "'zstd'"));
    sv_alert_set_free(&set);
    sv_alert_reader_free(r);
    free(b);
}

/* ---- damage ------------------------------------------------------------------ */

/* Every outcome of reading damaged input: a status with a message naming
 * it, or alerts each either clean (decoded cutouts) or flagged with a
 * message naming it and its record. */
static int check_outcome(int st, const sv_alert_set *set, const sv_error *err, const char *name)
{
    if (st) {
        assert_non_null(strstr(err->text, name));
        return -1;
    }
    int flagged = 0;
    for (long i = 0; i < set->n; i++) {
        const sv_alert *a = &set->alerts[i];
        assert_int_equal(a->record, i);
        if (a->flags) {
            char rec[64];
            snprintf(rec, sizeof rec, "record %ld", i);
            assert_non_null(strstr(a->error, name));
            assert_non_null(strstr(a->error, rec));
            flagged++;
        } else
            for (int c = 0; c < 3; c++)
                assert_non_null(a->cutout[c].pix);
    }
    return flagged;
}

static void test_truncated(void **state)
{
    (void)state;
    static char files[1][1400];
    NEED_FIXTURES("ztf", files, 1, n);
    (void)n;
    char path[600];
    tmp_path(path, sizeof path, "three.avro");
    avro_rec rec;
    avro_rec_open(&rec, files[0]);
    /* three records in three blocks */
    avro_file_writer_t w;
    remove(path);
    assert_int_equal(avro_file_writer_create_with_codec(path, rec.schema, &w, "null", 1 << 20), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(avro_file_writer_append_value(w, &rec.v), 0);
        assert_int_equal(avro_file_writer_flush(w), 0);
    }
    assert_int_equal(avro_file_writer_close(w), 0);
    avro_rec_close(&rec);
    size_t len;
    unsigned char *b = read_all(path, &len);
    sv_alert_reader *r = reader(NULL);
    sv_error err;
    sv_error_clear(&err);
    sv_alert_set set;
    /* cut in the header: the file as a whole is unreadable */
    static const size_t cuts_header[] = {0, 3, 4, 100, 5000};
    for (size_t k = 0; k < sizeof cuts_header / sizeof cuts_header[0]; k++) {
        int st = sv_alert_read_buffer(r, b, cuts_header[k], "cut.avro", &set, &err);
        assert_int_equal(check_outcome(st, &set, &err, "cut.avro"), -1);
        sv_alert_set_free(&set);
    }
    /* cut in the second record: one good alert, then one flagged row for
     * what was lost */
    size_t cut = len / 2;
    int st = sv_alert_read_buffer(r, b, cut, "half.avro", &set, &err);
    printf("# cut at %zu of %zu: status %d, %ld alerts; %s\n", cut, len, st, set.n,
           set.n > 1 ? set.alerts[set.n - 1].error : err.text);
    assert_int_equal(st, 0);
    assert_int_equal(check_outcome(st, &set, &err, "half.avro"), 1);
    assert_int_equal(set.n, 2);
    assert_int_equal(set.alerts[0].flags, 0);
    assert_int_equal(set.alerts[1].flags, SV_ALERT_UNDECODABLE);
    assert_false(set.alerts[1].has_id);
    sv_alert_set_free(&set);
    /* every cut point in the data: never a crash, always an outcome */
    for (size_t c = len - 1; c > 5000; c -= 997) {
        st = sv_alert_read_buffer(r, b, c, "cut.avro", &set, &err);
        check_outcome(st, &set, &err, "cut.avro");
        sv_alert_set_free(&set);
    }
    free(b);
    sv_alert_reader_free(r);
}

/* One reader keeps the writer schemas it has parsed (by their text):
 * reading ZTF, then more distinct schemas than it keeps, then
 * ZTF again gives the same alerts; a deflate file of several blocks reads
 * record for record; a damaged sync marker loses only the blocks after it. */
static void test_schema_cache(void **state)
{
    (void)state;
    static char files[1][1400];
    NEED_FIXTURES("ztf", files, 1, n);
    (void)n;
    sv_alert_reader *r = reader(NULL);
    sv_error err;
    sv_error_clear(&err);
    sv_alert_set first, set;
    assert_int_equal(sv_alert_read_file(r, files[0], &first, &err), 0);
    char path[600];
    tmp_path(path, sizeof path, "other_schema.avro");
    for (int k = 0; k < 12; k++) { /* 12 schemas: more than a reader keeps */
        char json[200];
        snprintf(json, sizeof json, "{\"type\": \"record\", \"name\": \"other%d\", \"fields\": "
                 "[{\"name\": \"candid\", \"type\": \"long\"}]}", k);
        avro_schema_t s;
        assert_int_equal(avro_schema_from_json_length(json, strlen(json), &s), 0);
        avro_value_iface_t *iface = avro_generic_class_from_schema(s);
        avro_value_t v, f;
        assert_int_equal(avro_generic_value_new(iface, &v), 0);
        assert_int_equal(avro_value_get_by_index(&v, 0, &f, NULL), 0);
        assert_int_equal(avro_value_set_long(&f, 1000 + k), 0);
        assert_int_equal(write_container(path, s, &v, 2, k % 2 ? "deflate" : "null"), 0);
        assert_int_equal(sv_alert_read_file(r, path, &set, &err), 0);
        assert_int_equal(set.n, 2);
        assert_int_equal(set.alerts[1].flags, SV_ALERT_NO_SURVEY);
        char name[32];
        snprintf(name, sizeof name, "other%d", k);
        assert_string_equal(set.schema_name, name);
        sv_alert_set_free(&set);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(s);
    }
    assert_int_equal(sv_alert_read_file(r, files[0], &set, &err), 0);
    assert_int_equal(set.n, 1);
    assert_same_alert(&set.alerts[0], &first.alerts[0]);
    sv_alert_set_free(&set);

    /* three blocks of two records each, deflated */
    avro_rec rec;
    avro_rec_open(&rec, files[0]);
    tmp_path(path, sizeof path, "blocks.avro");
    avro_file_writer_t w;
    remove(path);
    assert_int_equal(avro_file_writer_create_with_codec(path, rec.schema, &w, "deflate",
                                                        1 << 20), 0);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(avro_file_writer_append_value(w, &rec.v), 0);
        if (i % 2)
            assert_int_equal(avro_file_writer_flush(w), 0);
    }
    assert_int_equal(avro_file_writer_close(w), 0);
    avro_rec_close(&rec);
    size_t len;
    unsigned char *b = read_all(path, &len);
    assert_int_equal(sv_alert_read_buffer(r, b, len, "blocks.avro", &set, &err), 0);
    assert_int_equal(set.n, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(set.alerts[i].flags, 0);
        assert_same_alert(&set.alerts[i], &first.alerts[0]);
    }
    sv_alert_set_free(&set);
    /* the sync marker ending the second block damaged: the first block
     * reads, one flagged row stands for the rest */
    unsigned char sync[16];
    memcpy(sync, b + len - 16, 16); /* the last block's marker is the file's */
    unsigned char *marks[4];
    int nm = 0;
    for (unsigned char *p = b; p + 16 <= b + len && nm < 4; p++)
        if (!memcmp(p, sync, 16))
            marks[nm++] = p; /* after the header, then after each block */
    assert_int_equal(nm, 4);
    marks[2][3] ^= 0x55;
    assert_int_equal(sv_alert_read_buffer(r, b, len, "blocks.avro", &set, &err), 0);
    printf("# damaged sync marker: %ld alerts; %s\n", set.n, set.alerts[set.n - 1].error);
    assert_int_equal(set.n, 3);
    assert_int_equal(set.alerts[0].flags | set.alerts[1].flags, 0);
    assert_int_equal(set.alerts[2].flags, SV_ALERT_UNDECODABLE);
    assert_non_null(strstr(set.alerts[2].error, "sync marker"));
    sv_alert_set_free(&set);
    free(b);
    sv_alert_set_free(&first);
    sv_alert_reader_free(r);
}

/* The branch of union field `name` of record v set to null (0) or its
 * value (1); returns the branch value. */
static avro_value_t set_branch(avro_value_t *v, const char *name, int branch)
{
    avro_value_t f, br;
    assert_int_equal(avro_value_get_by_name(v, name, &f, NULL), 0);
    assert_int_equal(avro_value_set_branch(&f, branch, &br), 0);
    return br;
}

static void test_missing_and_bad_cutouts(void **state)
{
    (void)state;
    static char files[1][1400];
    NEED_FIXTURES("ztf", files, 1, n);
    (void)n;
    avro_rec rec;
    avro_rec_open(&rec, files[0]);
    /* science: null; template: bytes that are not gzip or FITS;
     * difference: gzip damaged in the middle */
    set_branch(&rec.v, "cutoutScience", 0);
    avro_value_t cf, data;
    assert_int_equal(avro_value_get_by_name(&rec.v, "cutoutTemplate", &cf, NULL), 0);
    assert_int_equal(avro_value_get_current_branch(&cf, &cf), 0);
    assert_int_equal(avro_value_get_by_name(&cf, "stampData", &data, NULL), 0);
    char junk[3000];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(avro_value_set_bytes(&data, junk, sizeof junk), 0);
    assert_int_equal(avro_value_get_by_name(&rec.v, "cutoutDifference", &cf, NULL), 0);
    assert_int_equal(avro_value_get_current_branch(&cf, &cf), 0);
    assert_int_equal(avro_value_get_by_name(&cf, "stampData", &data, NULL), 0);
    const void *p;
    size_t sz;
    assert_int_equal(avro_value_get_bytes(&data, &p, &sz), 0);
    unsigned char *bad = malloc(sz);
    memcpy(bad, p, sz);
    for (size_t i = sz / 2; i < sz / 2 + 16; i++)
        bad[i] ^= 0x5a;
    assert_int_equal(avro_value_set_bytes(&data, bad, sz), 0);
    free(bad);
    char path[600];
    tmp_path(path, sizeof path, "nocutout.avro");
    assert_int_equal(write_container(path, rec.schema, &rec.v, 1, "deflate"), 0);
    avro_rec_close(&rec);

    sv_alert_reader *r = reader(NULL);
    sv_alert_set set;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_alert_read_file(r, path, &set, &err), 0);
    assert_int_equal(set.n, 1);
    const sv_alert *a = &set.alerts[0];
    printf("# %s\n", a->error);
    assert_int_equal(a->flags, SV_ALERT_NO_CUTOUT | SV_ALERT_BAD_CUTOUT);
    assert_true(a->has_id); /* the rest of the alert is intact */
    assert_false(a->cutout[0].present);
    assert_true(a->cutout[1].present && !a->cutout[1].pix);
    assert_true(a->cutout[2].present && !a->cutout[2].pix);
    assert_non_null(strstr(a->error, "nocutout.avro: record 0: no science cutout"));
    sv_alert_set_free(&set);
    sv_alert_reader_free(r);
}

/* ---- schemaless messages -------------------------------------------------------- */

static void test_schemaless(void **state)
{
    (void)state;
    static char files[1][1400];
    NEED_FIXTURES("rubin", files, 1, n);
    (void)n;
    avro_rec rec;
    avro_rec_open(&rec, files[0]);
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    avro_writer_t w = avro_writer_memory(buf + 5, (int64_t)cap - 5);
    assert_int_equal(avro_value_write(w, &rec.v), 0);
    size_t len = (size_t)avro_writer_tell(w) + 5;
    avro_writer_free(w);
    memcpy(buf, "\0\0\0\0\x2a", 5); /* Confluent: magic 0, schema id 42 */
    char schema[600];
    tmp_path(schema, sizeof schema, "alert.avsc");
    char *json = malloc(cap);
    w = avro_writer_memory(json, (int64_t)cap);
    assert_int_equal(avro_schema_to_json(rec.schema, w), 0);
    write_all(schema, json, (size_t)avro_writer_tell(w));
    avro_writer_free(w);
    free(json);
    avro_rec_close(&rec);

    sv_alert_reader *plain = reader(NULL), *with = reader(schema);
    sv_alert_set set, ref;
    sv_error err;
    sv_error_clear(&err);
    int st = sv_alert_read_buffer(plain, buf, len, "kafka-msg", &set, &err);
    printf("# %s\n", err.text);
    assert_int_equal(st, SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "kafka-msg"));
    assert_non_null(strstr(err.text, "Confluent"));
    assert_non_null(strstr(err.text, "schema id 42"));
    sv_alert_set_free(&set);
    assert_int_equal(sv_alert_read_file(plain, files[0], &ref, &err), 0);
    /* framed and bare, with the schema */
    for (int framed = 1; framed >= 0; framed--) {
        const char *b = framed ? buf : buf + 5;
        assert_int_equal(sv_alert_read_buffer(with, b, len - (framed ? 0 : 5), "kafka-msg", &set,
                                              &err), 0);
        assert_int_equal(set.n, 1);
        assert_string_equal(set.codec, "none");
        assert_int_equal(set.alerts[0].flags, 0);
        assert_same_alert(&set.alerts[0], &ref.alerts[0]);
        sv_alert_set_free(&set);
    }
    /* a message cut short: a flagged alert, not a crash */
    assert_int_equal(sv_alert_read_buffer(with, buf, len / 3, "short-msg", &set, &err), 0);
    assert_int_equal(set.n, 1);
    assert_int_equal(set.alerts[0].flags, SV_ALERT_UNDECODABLE);
    assert_non_null(strstr(set.alerts[0].error, "short-msg: record 0"));
    sv_alert_set_free(&set);
    /* a schema file that is not a schema */
    sv_alert_reader *bad = NULL;
    assert_int_not_equal(sv_alert_reader_new(files[0], &bad, &err), 0);
    assert_null(bad);
    assert_non_null(strstr(err.text, files[0]));
    sv_alert_set_free(&ref);
    sv_alert_reader_free(plain);
    sv_alert_reader_free(with);
    free(buf);
}

/* Random damage to real packets: bytes overwritten, files cut. */
static void test_random_damage(void **state)
{
    (void)state;
    static char zfiles[1][1400], rfiles[1][1400];
    NEED_FIXTURES("ztf", zfiles, 1, nz);
    NEED_FIXTURES("rubin", rfiles, 1, nr);
    (void)nz;
    (void)nr;
    sv_alert_reader *r = reader(NULL);
    uint64_t rng = 0x9e3779b97f4a7c15u;
    int outcomes[3] = {0, 0, 0}; /* whole-input error, clean, flagged */
    for (int f = 0; f < 2; f++) {
        size_t len;
        unsigned char *orig = read_all(f ? rfiles[0] : zfiles[0], &len);
        unsigned char *b = malloc(len);
        for (int trial = 0; trial < 150; trial++) {
            memcpy(b, orig, len);
            size_t n = len;
            int hits = 1 + (int)((rng >> 33) % 8);
            for (int h = 0; h < hits; h++) {
                sv_lcg64_next(&rng);
                b[(rng >> 20) % len] = (unsigned char)(rng >> 56);
            }
            if (trial % 3 == 0) {
                sv_lcg64_next(&rng);
                n = (size_t)((rng >> 24) % len);
            }
            sv_alert_set set;
            sv_error err;
            sv_error_clear(&err);
            int st = sv_alert_read_buffer(r, b, n, "damaged", &set, &err);
            int o = check_outcome(st, &set, &err, "damaged");
            outcomes[o < 0 ? 0 : o == 0 ? 1 : 2]++;
            sv_alert_set_free(&set);
        }
        free(b);
        free(orig);
    }
    printf("# 300 damaged packets: %d unreadable as a whole, %d read clean, %d flagged\n",
           outcomes[0], outcomes[1], outcomes[2]);
    assert_int_equal(outcomes[0] + outcomes[1] + outcomes[2], 300);
    sv_alert_reader_free(r);
}

static void test_not_avro(void **state)
{
    (void)state;
    sv_alert_reader *r = reader(NULL);
    sv_alert_set set;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_alert_read_file(r, "/nonexistent/x.avro", &set, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, "/nonexistent/x.avro"));
    sv_alert_set_free(&set);
    static const char text[] = "SIMPLE  =                    T";
    assert_int_equal(sv_alert_read_buffer(r, text, sizeof text, "a.fits", &set, &err),
                     SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "a.fits: not an Avro container file"));
    sv_alert_set_free(&set);
    sv_alert_set_free(NULL);
    sv_alert_reader_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ztf_packets),
        cmocka_unit_test(test_rubin_packets),
        cmocka_unit_test(test_codecs),
        cmocka_unit_test(test_unknown_codec),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_schema_cache),
        cmocka_unit_test(test_missing_and_bad_cutouts),
        cmocka_unit_test(test_schemaless),
        cmocka_unit_test(test_random_damage),
        cmocka_unit_test(test_not_avro),
    };
    int st = cmocka_run_group_tests(tests, NULL, NULL);
    if (tmpdir[0]) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", tmpdir);
    }
    return st;
}
