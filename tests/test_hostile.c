/* test_hostile.c — hostile files end in a clear error naming the file and
 * the problem, never an abort, a hang, a leak or a runaway allocation.
 *
 * 1. Every file of ../shared/fixtures/hostile/ (found by fuzzing and by
 *    hand; see its README) through every reader (tests/fuzz/readers.c, the
 *    drivers the fuzz harnesses use): the reader its folder names refuses
 *    it, naming the file; no reader crashes on any of them (the
 *    sanitizer build of make check also catches leaks and overflows).
 * 2. The same defects made here, card by card, so that they are tested
 *    without the fixtures too: the guard refuses each with its reason.
 * 3. The guard accepts every real FITS file of the fixtures (ZTF and
 *    Rubin cutouts, braai, exposures ...): no false alarm.
 * 4. Header text handed over in memory (the ABI path to WCSLIB): NUL,
 *    unbalanced quotes, a singular CD matrix (WCSLIB's linset leak path).
 * 5. The fuzzers' seeds (tests/fuzz/<reader>/) through their readers: the
 *    detection tables' all read; any refusal names the file.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/detections.h"
#include "data/feature_table.h"
#include "fits/fits_guard.h"
#include "fits/fits_image.h"
#include "fuzz/readers.h"
#ifdef HAVE_AVRO
#include "data/alert_sanitizer.h" /* the avro reader: libavro's own leaks */
#endif

static char dir[256];

static const char *fixtures(void)
{
    const char *fx = getenv("SV_FIXTURES");
    return fx && *fx ? fx : "../shared/fixtures";
}

/* ---- 1. the hostile fixtures --------------------------------------------- */

static void test_hostile_fixtures(void **state)
{
    (void)state;
    char root[1024];
    snprintf(root, sizeof root, "%s/hostile", fixtures());
    DIR *top = opendir(root);
    if (!top) {
        printf("# SKIP: no hostile fixtures at %s\n", root);
        skip();
    }
    int nfiles = 0;
    struct dirent *de;
    while ((de = readdir(top))) {
        if (de->d_name[0] == '.')
            continue;
        char sub[1300];
        snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
        DIR *d = opendir(sub);
        if (!d)
            continue;
        const sv_fuzz_reader *own = sv_fuzz_reader_find(de->d_name);
        assert_non_null(own); /* every folder names a reader */
        struct dirent *fe;
        while ((fe = readdir(d))) {
            if (fe->d_name[0] == '.')
                continue;
            char path[1700];
            snprintf(path, sizeof path, "%s/%s", sub, fe->d_name);
            nfiles++;
            for (const sv_fuzz_reader *r = sv_fuzz_readers; r->name; r++) {
                sv_error err;
                sv_error_clear(&err);
                int st = r->read(path, &err);
                if (r == own) {
                    printf("# %s: %s -> %s\n", r->name, fe->d_name, st ? err.text : "read");
                    assert_int_not_equal(st, 0);
                }
                if (st && !strstr(err.text, fe->d_name)) {
                    printf("# %s reader on %s: error without the file name: %s\n", r->name,
                           path, err.text);
                    fail();
                }
            }
        }
        closedir(d);
    }
    closedir(top);
    assert_true(nfiles >= 13);
}

/* ---- 1b. the fuzzers' findings, kept in the source tree ------------------ */

/* Every file of tests/fuzz/regress/<reader>/ (what make fuzz found, each
 * named after its defect) through its reader and every other: nothing
 * crashes or leaks (the sanitizer build checks that), and a refusal names
 * the file.  A reader folder this build lacks (no ONNX, no Avro) is skipped
 * visibly. */
static void test_fuzz_regressions(void **state)
{
    (void)state;
    const char *src = getenv("SV_SRCDIR");
    char root[1024];
    snprintf(root, sizeof root, "%s/tests/fuzz/regress", src && *src ? src : ".");
    DIR *top = opendir(root);
    assert_non_null(top);
    int nfiles = 0;
    struct dirent *de;
    while ((de = readdir(top))) {
        if (de->d_name[0] == '.')
            continue;
        const sv_fuzz_reader *own = sv_fuzz_reader_find(de->d_name);
        if (!own) {
            printf("# SKIP: regress/%s: no such reader in this build\n", de->d_name);
            continue;
        }
        char sub[1300];
        snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
        DIR *d = opendir(sub);
        assert_non_null(d);
        struct dirent *fe;
        while ((fe = readdir(d))) {
            if (fe->d_name[0] == '.')
                continue;
            char path[1700];
            snprintf(path, sizeof path, "%s/%s", sub, fe->d_name);
            nfiles++;
            for (const sv_fuzz_reader *r = sv_fuzz_readers; r->name; r++) {
                sv_error err;
                sv_error_clear(&err);
                int st = r->read(path, &err);
                if (r == own)
                    printf("# %s: %s -> %s\n", r->name, fe->d_name, st ? err.text : "read");
                if (st && !strstr(err.text, fe->d_name)) {
                    printf("# %s reader on %s: error without the file name: %s\n", r->name,
                           path, err.text);
                    fail();
                }
            }
        }
        closedir(d);
    }
    closedir(top);
    printf("# %d fuzz findings replayed\n", nfiles);
}

/* ---- 2. the same defects, made here -------------------------------------- */

/* Write a FITS file: primary header cards (NULL-terminated), then, if ext
 * is set, a BINTABLE header and `data` bytes of table data. */
static void write_fits(const char *path, const char *const *prim, const char *const *ext,
                       size_t data)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    const char *const *hdr[2] = {prim, ext};
    for (int h = 0; h < 2 && hdr[h]; h++) {
        size_t n = 0;
        for (const char *const *c = hdr[h]; *c; c++, n++)
            fprintf(fp, "%-80.80s", *c);
        fprintf(fp, "%-80s", "END");
        for (n++; n % 36; n++)
            fprintf(fp, "%80s", "");
        if (h == 1 || !ext) {
            for (size_t i = 0; i < data; i++)
                fputc(0, fp);
            for (size_t i = data; i % 2880; i++)
                fputc(0, fp);
        }
    }
    fclose(fp);
}

#define PRIM "SIMPLE  =                    T", "BITPIX  =                    8", \
             "NAXIS   =                    0", "EXTEND  =                    T"
#define TABLE(naxis2) "XTENSION= 'BINTABLE'", "BITPIX  =                    8", \
             "NAXIS   =                    2", "NAXIS1  =                   16", \
             "NAXIS2  = " naxis2, "PCOUNT  =                    0", \
             "GCOUNT  =                    1", "TFIELDS =                    2"

typedef struct bad_case {
    const char *what;
    const char *needle;    /* expected in the message */
    const char *const *prim, *const *ext;
    size_t data;
} bad_case;

static void expect_refused(const char *path, const char *needle)
{
    sv_error err;
    sv_error_clear(&err);
    assert_int_not_equal(sv_fits_guard_file(path, &err), 0);
    if (!strstr(err.text, needle) || !strstr(err.text, path)) {
        printf("# %s: wanted '%s' in: %s\n", path, needle, err.text);
        fail();
    }
}

static void test_made_defects(void **state)
{
    (void)state;
    static const char *const prim[] = {PRIM, NULL};
    static const char *const ok_tab[] = {TABLE("                  10"), "TTYPE1  = 'xpos'",
                                         "TFORM1  = 'D'", "TTYPE2  = 'ypos'", "TFORM2  = 'D'",
                                         NULL};
    static const char *const unquoted[] = {TABLE("                  10"),
        "TTYPE1  = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "TFORM1  = 'D'", "TTYPE2  = 'ypos'", "TFORM2  = 'D'", NULL};
    static const char *const huge[] = {TABLE("       1000000000000"), "TTYPE1  = 'xpos'",
                                       "TFORM1  = 'D'", "TTYPE2  = 'ypos'", "TFORM2  = 'D'",
                                       NULL};
    static const char *const dup[] = {TABLE("                  10"), "TTYPE1  = 'xpos'",
                                      "TFORM1  = 'D'", "TTYPE2  = 'XPOS'", "TFORM2  = 'D'",
                                      NULL};
    static const char *const tnull[] = {TABLE("                  10"), "TTYPE1  = 'id'",
                                        "TFORM1  = 'K'", "TNULL1  = (-999", "TTYPE2  = 'ypos'",
                                        "TFORM2  = 'D'", NULL};
    static const char *const wide[] = {TABLE("                  10"), "TTYPE1  = 'xpos'",
                                       "TFORM1  = 'D'", "TTYPE2  = 'ypos'", "TFORM2  = '2D'",
                                       NULL};
    static const char *const tdim[] = {TABLE("                  10"), "TTYPE1  = 'xpos'",
                                       "TFORM1  = 'D'", "TTYPE2  = 'ypos'", "TFORM2  = 'D'",
                                       "TDIM2   = '(63,63)'", NULL};
    static const char *const bscale[] = {"SIMPLE  =                    T",
        "BITPIX  =                   16", "NAXIS   =                    2",
        "NAXIS1  =                    4", "NAXIS2  =                    4",
        "BSCALE  =                  0.0", NULL};
    static const char *const paren[] = {PRIM, "NCLASS  = ( 1 / number of classes", NULL};
    static const char *const quote[] = {PRIM, "RADESYS = 'ICRS", NULL};
    static const char *const simple[] = {"SIMPLE  = TUNI", "BITPIX  =                    8",
                                         "NAXIS   =                    0", NULL};
    static const char *const bigint[] = {PRIM, "NCLASS  =  99999999999999999999999", NULL};
    const bad_case cases[] = {
        {"unquoted TTYPE", "TTYPE1", prim, unquoted, 160},
        {"NAXIS2 = 1e12", "claims 16000000000000 bytes", prim, huge, 160},
        {"duplicated column", "both named", prim, dup, 160},
        {"malformed TNULL", "TNULL1", prim, tnull, 160},
        {"columns wider than a row", "wider than a row", prim, wide, 160},
        {"TDIM beyond the repeat", "TDIM2", prim, tdim, 160},
        {"BSCALE = 0", "BSCALE = 0", bscale, NULL, 32},
        {"unbalanced parenthesis", "NCLASS", paren, NULL, 0},
        {"unterminated quote", "closing quote", quote, NULL, 0},
        {"not SIMPLE = T", "card 1 (SIMPLE)", simple, NULL, 0},
        {"integer beyond 64 bits", "out of range", bigint, NULL, 0},
    };
    char path[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/case%zu.fits", dir, i);
        write_fits(path, cases[i].prim, cases[i].ext, cases[i].data);
        printf("# %s\n", cases[i].what);
        expect_refused(path, cases[i].needle);
    }
    /* the well-formed table passes, and the detection reader reads it */
    snprintf(path, sizeof path, "%s/ok.fits", dir);
    write_fits(path, prim, ok_tab, 160);
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_fits_guard_file(path, &err), 0);
    sv_det_file *f = NULL;
    assert_int_equal(sv_det_file_open(path, &f, &err), 0);
    assert_int_equal(sv_det_file_nrows(f), 10);
    sv_det_file_close(f);
    /* ... also through extended syntax and the cfitsio ".gz" fallback */
    char spec[600];
    snprintf(spec, sizeof spec, "%s[1]", path);
    assert_int_equal(sv_fits_guard_file(spec, &err), 0);
    snprintf(path, sizeof path, "%s/case1.fits", dir);
    snprintf(spec, sizeof spec, "%s[1]", path);
    expect_refused(spec, "claims");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "gzip -c %s/case1.fits > %s/gz.fits.gz", dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/gz.fits", dir); /* cfitsio tries gz.fits.gz */
    expect_refused(path, "claims");
    /* fuzzer finding (image reader): a gzip trailer claiming 4 GB made
     * cfitsio allocate 4 GB before reading; a damaged stream */
    snprintf(cmd, sizeof cmd, "gzip -c %s/ok.fits > %s/big.fits.gz && printf '\\377\\377\\377\\377' | "
             "dd of=%s/big.fits.gz bs=1 seek=$(( $(stat -c %%s %s/big.fits.gz) - 4 )) "
             "conv=notrunc 2>/dev/null", dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/big.fits.gz", dir);
    expect_refused(path, "gzip");
    snprintf(cmd, sizeof cmd, "gzip -c %s/ok.fits > %s/bad.fits.gz && printf 'XXXXXXXX' | "
             "dd of=%s/bad.fits.gz bs=1 seek=40 conv=notrunc 2>/dev/null", dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/bad.fits.gz", dir);
    sv_error_clear(&err);
    assert_int_not_equal(sv_fits_guard_file(path, &err), 0);
    printf("# damaged gzip: %s\n", err.text);
    snprintf(path, sizeof path, "%s/gz.fits.gz", dir);
    snprintf(cmd, sizeof cmd, "gzip -c %s/ok.fits > %s", dir, path);
    assert_int_equal(system(cmd), 0);
    sv_error_clear(&err);
    assert_int_equal(sv_fits_guard_file(path, &err), 0);
    /* a truncated header, a NUL inside a card, a FIFO */
    snprintf(path, sizeof path, "%s/trunc.fits", dir);
    FILE *fp = fopen(path, "wb");
    fprintf(fp, "%-80s%-80s", "SIMPLE  =                    T", "BITPIX  =                    8");
    fclose(fp);
    expect_refused(path, "ends inside the header");
    snprintf(path, sizeof path, "%s/nul.fits", dir);
    write_fits(path, prim, NULL, 0);
    fp = fopen(path, "r+b");
    fseek(fp, 80 * 2 + 20, SEEK_SET);
    fputc(0, fp);
    fclose(fp);
    expect_refused(path, "byte 0x00 at column 21");
    snprintf(path, sizeof path, "%s/fifo.fits", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    sv_error_clear(&err);
    assert_int_equal(sv_fits_guard_file(path, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, "not a regular file"));
}

/* ---- 3. no false alarm on real files ------------------------------------- */

static int guard_tree(const char *root, int *n)
{
    DIR *d = opendir(root);
    if (!d)
        return 0;
    struct dirent *de;
    int bad = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "hostile"))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", root, de->d_name);
        struct stat st;
        if (stat(path, &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            bad += guard_tree(path, n);
            continue;
        }
        if (!strstr(de->d_name, ".fits") && !strstr(de->d_name, ".fz"))
            continue;
        sv_error err;
        sv_error_clear(&err);
        ++*n;
        if (sv_fits_guard_file(path, &err)) {
            printf("# false alarm: %s\n", err.text);
            bad++;
        }
    }
    closedir(d);
    return bad;
}

static void test_real_files_pass(void **state)
{
    (void)state;
    int n = 0;
    if (access(fixtures(), R_OK)) {
        printf("# SKIP: no fixtures at %s\n", fixtures());
        skip();
    }
    int bad = guard_tree(fixtures(), &n);
    printf("# %d real FITS files checked, %d refused\n", n, bad);
    assert_true(n > 0);
    assert_int_equal(bad, 0);
}

/* ---- 4. header text in memory -------------------------------------------- */

static void card(char *h, int *n, const char *c)
{
    char t[81];
    snprintf(t, sizeof t, "%-80s", c);
    memcpy(h + (size_t)80 * (*n)++, t, 80);
    h[(size_t)80 * *n] = '\0';
}

static int wcs_of(const char *h, int n, sv_error *err)
{
    sv_wcs *w = NULL;
    sv_error_clear(err);
    int st = sv_wcs_from_header(h, n, "mem", &w, err);
    sv_wcs_free(w);
    return st;
}

static void test_header_text(void **state)
{
    (void)state;
    char h[80 * 40 + 1];
    int n = 0;
    sv_error err;
    const char *base[] = {"CTYPE1  = 'RA---TAN'", "CTYPE2  = 'DEC--TAN'",
                          "CRPIX1  =                 32.5", "CRPIX2  =                 32.5",
                          "CRVAL1  =                  180", "CD1_1   =   -0.000280555555556",
                          "CD1_2   =                    0", "CD2_1   =                    0",
                          "CD1_2   =    0.000280555555556"};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        card(h, &n, base[i]);
    /* the fuzzer's leak: CRVAL4 and no CD2_2 make the matrix singular */
    int n0 = n;
    card(h, &n, "CRVAL4  =                   45");
    card(h, &n, "END");
    assert_int_equal(wcs_of(h, n, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "singular"));
    /* a good header */
    n = n0;
    card(h, &n, "CRVAL2  =                   45");
    card(h, &n, "CD2_2   =    0.000280555555556");
    card(h, &n, "END");
    assert_int_equal(wcs_of(h, n, &err), 0);
    /* an unbalanced quote: refused before WCSLIB */
    n = n0;
    card(h, &n, "RADESYS = 'ICRS");
    card(h, &n, "END");
    assert_int_equal(wcs_of(h, n, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "card 10 (RADESYS)"));
    /* a NUL inside a card ends the text there: the card is cut short */
    n = n0;
    card(h, &n, "RADESYS = 'ICRS    '");
    card(h, &n, "END");
    h[80 * n0 + 14] = '\0';
    assert_int_equal(wcs_of(h, n, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "ends inside this card"));
    /* a control byte */
    n = n0;
    card(h, &n, "RADESYS = 'IC\001S    '");
    card(h, &n, "END");
    assert_int_equal(wcs_of(h, n, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "byte 0x01"));
    /* fuzzer finding (header reader): NAXIS = 555556 made WCSLIB's wcsinit
     * ask calloc for a 3e11-element matrix; an axis number beyond 9 too */
    n = n0;
    card(h, &n, "NAXIS   =                         555556");
    card(h, &n, "END");
    assert_int_equal(wcs_of(h, n, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "NAXIS) implies 555556 WCS axes"));
    n = n0;
    card(h, &n, "CRPIX999=                    1");
    card(h, &n, "END");
    assert_int_equal(wcs_of(h, n, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "CRPIX999"));
    n = n0;
    card(h, &n, "PV2_39  =                  0.1");
    card(h, &n, "PC2_1   =                  0.0");
    card(h, &n, "CRVAL2  =                   45");
    card(h, &n, "CD2_2   =    0.000280555555556");
    card(h, &n, "END");
    assert_int_equal(wcs_of(h, n, &err), 0); /* PVi_m: m is not an axis */
    /* numeric cards parsed here */
    long long v = 0;
    assert_int_equal(sv_fits_card_int(h, n, "CRPIX1", &v), -2);
    assert_int_equal(sv_fits_card_int(h, n, "NOPE", &v), -1);
    n = 0;
    card(h, &n, "NCLASS  =                    3 / classes");
    card(h, &n, "NBAD    = ( 1");
    assert_int_equal(sv_fits_card_int(h, n, "NCLASS", &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(sv_fits_card_int(h, n, "NBAD", &v), -2);
}

/* the CSV reader's leak: an unterminated quote after stored fields */
/* ---- 5. the seed corpora ------------------------------------------------- */

static void test_seeds_read(void **state)
{
    (void)state;
    const char *src = getenv("SV_SRCDIR");
    char root[1024];
    snprintf(root, sizeof root, "%s/tests/fuzz", src && *src ? src : "..");
    int nfiles = 0;
    for (const sv_fuzz_reader *r = sv_fuzz_readers; r->name; r++) {
        char sub[1300];
        snprintf(sub, sizeof sub, "%s/%s", root, r->name);
        DIR *d = opendir(sub);
        if (!d)
            continue;
        struct dirent *fe;
        while ((fe = readdir(d))) {
            if (fe->d_name[0] == '.')
                continue;
            char path[1700];
            snprintf(path, sizeof path, "%s/%s", sub, fe->d_name);
            sv_error err;
            sv_error_clear(&err);
            int st = r->read(path, &err);
            printf("# seed %s: %s -> %s\n", r->name, fe->d_name, st ? err.text : "read");
            /* the detection tables' seeds (FITS, FITS_LDAC, CSV, ECSV) are good
             * tables; other drivers may try options a seed does not fit (the
             * onnx one asks for features): those must name the file */
            if (!strcmp(r->name, "det"))
                assert_int_equal(st, 0);
            else if (st)
                assert_non_null(strstr(err.text, fe->d_name));
            nfiles++;
        }
        closedir(d);
    }
    assert_true(nfiles >= 10);
}

static void test_csv_unterminated(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/f.csv", dir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "id,a,b\n1,2,3\n4,5,\"6\n");
    fclose(fp);
    sv_feature_table *t = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_not_equal(sv_feature_table_read(path, &t, &err), 0);
    assert_non_null(strstr(err.text, "unterminated quote"));
    sv_feature_table_free(t);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sv_hostile.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_fixtures),
        cmocka_unit_test(test_fuzz_regressions),
        cmocka_unit_test(test_made_defects),
        cmocka_unit_test(test_real_files_pass),
        cmocka_unit_test(test_header_text),
        cmocka_unit_test(test_csv_unterminated),
        cmocka_unit_test(test_seeds_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
