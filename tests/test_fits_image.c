/* test_fits_image.c — reading exposure images: primary or first image
 * extension, gzipped and tile-compressed files, scaling and blanks, header
 * text for the WCS, masks with every bit, header cards, and damaged files
 * (errors naming the file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fits/fits_image.h"

static char dir[256];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/sv_test_img_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#define W 40
#define H 30

static void wcs_keys(fitsfile *fp, int *status)
{
    double crpix = 20.5, crval1 = 150.0, crval2 = 2.0, cd = 0.000280556;
    double mcd = -cd;
    fits_write_key_str(fp, "CTYPE1", "RA---TAN", NULL, status);
    fits_write_key_str(fp, "CTYPE2", "DEC--TAN", NULL, status);
    fits_write_key(fp, TDOUBLE, "CRPIX1", &crpix, NULL, status);
    fits_write_key(fp, TDOUBLE, "CRPIX2", &crpix, NULL, status);
    fits_write_key(fp, TDOUBLE, "CRVAL1", &crval1, NULL, status);
    fits_write_key(fp, TDOUBLE, "CRVAL2", &crval2, NULL, status);
    fits_write_key(fp, TDOUBLE, "CD1_1", &mcd, NULL, status);
    fits_write_key(fp, TDOUBLE, "CD2_2", &cd, NULL, status);
    fits_write_key_str(fp, "FILTER", "r'", "band", status);
}

/* layout: 0 primary float image; 1 empty primary + image extension;
 * 2 tile-compressed integer image; 3 short image with BSCALE/BZERO/BLANK */
static void write_image(const char *path, int layout)
{
    fitsfile *fp;
    int status = 0;
    char name[400];
    if (layout == 2)
        snprintf(name, sizeof name, "!%s[compress GZIP]", path);
    else
        snprintf(name, sizeof name, "!%s", path);
    long naxes[2] = {W, H};
    static float f[W * H];
    static int iv[W * H];
    static short sv[W * H];
    for (int p = 0; p < W * H; p++) {
        f[p] = (float)(p % W) + 1000.0f * (float)(p / W);
        iv[p] = p * 1000 + 7;
        sv[p] = (short)(p - 600);
    }
    f[5] = NAN;
    fits_create_file(&fp, name, &status);
    if (layout == 1) {
        fits_create_img(fp, BYTE_IMG, 0, NULL, &status);
        fits_create_img(fp, FLOAT_IMG, 2, naxes, &status);
    } else {
        fits_create_img(fp, layout == 2 ? LONG_IMG : layout == 3 ? SHORT_IMG : FLOAT_IMG, 2,
                        naxes, &status);
    }
    wcs_keys(fp, &status);
    if (layout == 3) {
        double bscale = 0.5, bzero = 100.0;
        long blank = -600;
        fits_write_key(fp, TDOUBLE, "BSCALE", &bscale, NULL, &status);
        fits_write_key(fp, TDOUBLE, "BZERO", &bzero, NULL, &status);
        fits_write_key(fp, TLONG, "BLANK", &blank, NULL, &status);
        fits_set_bscale(fp, 1.0, 0.0, &status);
        fits_set_imgnull(fp, -600, &status);
        fits_write_img(fp, TSHORT, 1, W * H, sv, &status);
    } else if (layout == 2) {
        fits_write_img(fp, TINT, 1, W * H, iv, &status);
    } else {
        fits_write_img(fp, TFLOAT, 1, W * H, f, &status);
    }
    fits_close_file(fp, &status);
    if (status) {
        char t[FLEN_STATUS];
        fits_get_errstatus(status, t);
        fail_msg("writing %s: %s", path, t);
    }
}

static void check_wcs(const sv_image *img)
{
    sv_wcs *w = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_wcs_from_header(img->header, img->ncards, "img", &w, &err), 0);
    assert_float_equal(sv_wcs_pixel_scale(w, 3, 3), 1.01, 1e-3);
    sv_wcs_free(w);
    char band[16];
    assert_int_equal(sv_header_string(img->header, img->ncards, "FILTER", band, sizeof band), 0);
    assert_string_equal(band, "r'");
    assert_int_equal(sv_header_string(img->header, img->ncards, "NOSUCH", band, sizeof band), -1);
}

static void test_layouts(void **state)
{
    char path[400];
    sv_image img;
    sv_error err;
    sv_error_clear(&err);
    /* primary, then gzipped (cfitsio writes .gz compressed) */
    const char *names[2] = {"plain.fits", "plain.fits.gz"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        write_image(path, 0);
        assert_int_equal(sv_image_read(path, &img, &err), 0);
        assert_int_equal(img.width, W);
        assert_int_equal(img.height, H);
        assert_int_equal(img.hdu, 1);
        assert_float_equal(img.data[3 * W + 7], 3007.0f, 0);
        assert_true(isnan(img.data[5]));
        check_wcs(&img);
        sv_image_free(&img);
    }
    FILE *fp = fopen(path, "rb");
    unsigned char magic[2];
    assert_int_equal(fread(magic, 1, 2, fp), 2);
    fclose(fp);
    assert_true(magic[0] == 0x1f && magic[1] == 0x8b); /* really gzipped */
    /* empty primary + image extension */
    snprintf(path, sizeof path, "%s/ext.fits", dir);
    write_image(path, 1);
    assert_int_equal(sv_image_read(path, &img, &err), 0);
    assert_int_equal(img.hdu, 2);
    assert_float_equal(img.data[W * H - 1], (W - 1) + 1000.0f * (H - 1), 0);
    check_wcs(&img);
    sv_image_free(&img);
    /* tile-compressed (.fz style): the header converted back to an image's */
    snprintf(path, sizeof path, "%s/tile.fits.fz", dir);
    write_image(path, 2);
    assert_int_equal(sv_image_read(path, &img, &err), 0);
    assert_int_equal(img.hdu, 2);
    assert_float_equal(img.data[100], 100007.0f, 0);
    check_wcs(&img);
    assert_non_null(strstr(img.header, "NAXIS1  =                   40"));
    sv_image_free(&img);
    /* scaled integers with a BLANK value */
    snprintf(path, sizeof path, "%s/scaled.fits", dir);
    write_image(path, 3);
    assert_int_equal(sv_image_read(path, &img, &err), 0);
    assert_true(isnan(img.data[0]));
    assert_float_equal(img.data[1], 100.0 + 0.5 * (1 - 600), 0);
    sv_image_free(&img);
    /* an extension chosen with extended syntax */
    char sel[420];
    snprintf(sel, sizeof sel, "%s/ext.fits[1]", dir);
    assert_int_equal(sv_image_read(sel, &img, &err), 0);
    assert_int_equal(img.hdu, 2);
    sv_image_free(&img);
}

/* The plain-float fast path (pread + byte swap) gives cfitsio's pixels bit
 * for bit, and sv_image_read_reuse keeps a large enough buffer. */
static void test_fast_path_and_reuse(void **state)
{
    (void)state;
    char plain[400], gz[400], ext[400];
    sv_image a, b;
    sv_error err;
    sv_error_clear(&err);
    snprintf(plain, sizeof plain, "%s/fp_plain.fits", dir);
    snprintf(gz, sizeof gz, "%s/fp_plain.fits.gz", dir);
    snprintf(ext, sizeof ext, "%s/fp_ext.fits", dir);
    write_image(plain, 0);
    write_image(gz, 0);
    write_image(ext, 1);
    assert_int_equal(sv_image_read(plain, &a, &err), 0); /* fast path */
    assert_int_equal(sv_image_read(gz, &b, &err), 0);    /* cfitsio */
    assert_memory_equal(a.data, b.data, sizeof(float) * W * H);
    assert_int_equal(a.ncards, b.ncards);
    sv_image_free(&b);
    /* reuse: same size keeps the buffer, with the new pixels */
    size_t cap = W * H;
    float *buf = a.data;
    memset(a.data, 0, sizeof(float) * W * H);
    assert_int_equal(sv_image_read_reuse(ext, &a, &cap, &err), 0);
    assert_ptr_equal(a.data, buf);
    assert_int_equal(cap, (size_t)W * H);
    assert_int_equal(a.hdu, 2);
    assert_float_equal(a.data[W * H - 1], (W - 1) + 1000.0f * (H - 1), 0);
    /* a smaller capacity than needed: a new buffer */
    cap = 10;
    assert_int_equal(sv_image_read_reuse(plain, &a, &cap, &err), 0);
    assert_int_equal(cap, (size_t)W * H);
    assert_true(isnan(a.data[5]));
    /* failure: freed and zeroed */
    char none[420];
    snprintf(none, sizeof none, "%s/no_such.fits", dir);
    assert_int_not_equal(sv_image_read_reuse(none, &a, &cap, &err), 0);
    assert_null(a.data);
    assert_int_equal(cap, 0);
    sv_image_free(&a);
}

static void test_masks(void **state)
{
    char path[400];
    fitsfile *fp;
    int status = 0;
    snprintf(path, sizeof path, "!%s/mask.fits", dir);
    long naxes[2] = {4, 2};
    int v[8] = {0, 1, 2, 4, (int)0x80000000u, 0x7fffffff, 255, 256};
    fits_create_file(&fp, path, &status);
    fits_create_img(fp, LONG_IMG, 2, naxes, &status);
    fits_write_img(fp, TINT, 1, 8, v, &status);
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
    uint32_t *m = NULL;
    int32_t w, h;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_mask_read(path + 1, &m, &w, &h, &err), 0);
    assert_int_equal(w, 4);
    assert_int_equal(h, 2);
    assert_int_equal(m[3], 4);
    assert_true(m[4] == 0x80000000u); /* every bit, the sign bit too */
    assert_true(m[5] == 0x7fffffffu);
    free(m);
    /* an 8-bit mask (as the simulator writes) */
    snprintf(path, sizeof path, "!%s/mask8.fits", dir);
    unsigned char b[8] = {0, 1, 2, 4, 8, 16, 128, 255};
    fits_create_file(&fp, path, &status);
    fits_create_img(fp, BYTE_IMG, 2, naxes, &status);
    fits_write_img(fp, TBYTE, 1, 8, b, &status);
    fits_close_file(fp, &status);
    assert_int_equal(sv_mask_read(path + 1, &m, &w, &h, &err), 0);
    assert_int_equal(m[7], 255);
    free(m);
}

static void test_bad_files(void **state)
{
    char path[400];
    sv_image img;
    sv_error err;
    sv_error_clear(&err);
    snprintf(path, sizeof path, "%s/none.fits", dir);
    assert_int_equal(sv_image_read(path, &img, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, path));
    assert_null(img.data);
    /* not FITS */
    snprintf(path, sizeof path, "%s/text.fits", dir);
    FILE *fp = fopen(path, "w");
    fputs("SIMPLE = maybe\n", fp);
    fclose(fp);
    assert_int_equal(sv_image_read(path, &img, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, "text.fits"));
    /* truncated pixels */
    char full[400];
    snprintf(full, sizeof full, "%s/plain.fits", dir);
    write_image(full, 0);
    snprintf(path, sizeof path, "%s/cut.fits", dir);
    FILE *in = fopen(full, "rb"), *out = fopen(path, "wb");
    char block[2880];
    assert_int_equal(fread(block, 1, sizeof block, in), sizeof block);
    fwrite(block, 1, sizeof block, out);
    fwrite(block, 1, 100, out);
    fclose(in);
    fclose(out);
    assert_int_not_equal(sv_image_read(path, &img, &err), 0);
    assert_non_null(strstr(err.text, "cut.fits"));
    assert_null(img.data);
    /* a table, not an image */
    snprintf(path, sizeof path, "!%s/table.fits", dir);
    fitsfile *ff;
    int status = 0;
    char *tt[] = {"x"}, *tf[] = {"1E"};
    fits_create_file(&ff, path, &status);
    fits_create_img(ff, BYTE_IMG, 0, NULL, &status);
    fits_create_tbl(ff, BINARY_TBL, 0, 1, tt, tf, NULL, "T", &status);
    fits_close_file(ff, &status);
    assert_int_equal(sv_image_read(path + 1, &img, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "table.fits"));
    /* a cube */
    snprintf(path, sizeof path, "!%s/cube.fits", dir);
    long ax[3] = {4, 4, 2};
    float z[32] = {0};
    fits_create_file(&ff, path, &status);
    fits_create_img(ff, FLOAT_IMG, 3, ax, &status);
    fits_write_img(ff, TFLOAT, 1, 32, z, &status);
    fits_close_file(ff, &status);
    assert_int_equal(sv_image_read(path + 1, &img, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "NAXIS3"));
    assert_int_equal(sv_image_read(NULL, &img, &err), SV_ERR_ARG);
}

/* the real ZTF alert cutouts (gzipped, no WCS) read as cfitsio reads them */
static void test_ztf_cutouts(void **state)
{
    const char *fx = getenv("SV_FIXTURES");
    char path[1024];
    snprintf(path, sizeof path, "%s/ztf-alerts/1660293514215020000_diff.fits.gz",
             fx ? fx : "../shared/fixtures");
    if (access(path, R_OK)) {
        printf("# SKIP: no ZTF alert fixtures at %s\n", path);
        skip();
    }
    sv_image img;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_image_read(path, &img, &err), 0);
    assert_int_equal(img.width, 63);
    assert_int_equal(img.height, 63);
    sv_wcs *w = NULL;
    assert_int_equal(sv_wcs_from_header(img.header, img.ncards, path, &w, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "no WCS"));
    sv_image_free(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_fast_path_and_reuse),
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_ztf_cutouts),
    };
    return cmocka_run_group_tests_name("fits_image", tests, setup, teardown);
}
