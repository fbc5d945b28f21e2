/* test_stamps.c — cutting stamp triplets: the centre convention, edges,
 * off-image detections, NaN and masked pixels, resampling kernels, and the
 * same-grid check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fits/fits_image.h"
#include "fits/stamps.h"

#define W 64
#define H 48

static float ramp[3][W * H];

/* pixel (x, y) of channel c holds c * 1e6 + x + 1000 y */
static void setup_ramp(sv_frames *f)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                ramp[c][y * W + x] = (float)(c * 1e6 + x + 1000 * y);
    memset(f, 0, sizeof *f);
    for (int c = 0; c < 3; c++) {
        f->img[c] = ramp[c];
        f->stride[c] = W;
    }
    f->width = W;
    f->height = H;
    f->mask_bits = 0xffffffffu;
}

static float st_sci[25], st_ref[25], st_diff[25];
static float *const out5[3] = {st_sci, st_ref, st_diff};

static void test_centre_convention(void **state)
{
    sv_frames f;
    setup_ramp(&f);
    sv_cut_info info;
    uint8_t bad[25];
    /* (10.4, 20.6) lies in pixel (10, 21): it is the stamp's centre */
    assert_int_equal(sv_stamp_cut(&f, 5, 10.4, 20.6, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad,
                                  NULL, &info),
                     0);
    assert_int_equal(info.flags, 0);
    assert_float_equal(st_sci[2 * 5 + 2], 10 + 21000, 0);
    assert_float_equal(st_sci[0], 8 + 19000, 0);            /* (cx-2, cy-2) */
    assert_float_equal(st_sci[4], 12 + 19000, 0);           /* NAXIS1 fastest */
    assert_float_equal(st_diff[2 * 5 + 2], 2e6 + 10 + 21000, 0);
    assert_int_equal(info.n_in, 25);
    assert_int_equal(info.n_bad, 0);
    assert_float_equal(info.bad_frac, 0, 0);
    /* a half pixel rounds up: (10.5, 20.5) is pixel (11, 21) */
    sv_stamp_cut(&f, 5, 10.5, 20.5, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad, NULL, &info);
    assert_float_equal(st_sci[12], 11 + 21000, 0);
    /* even sides: the centre pixel is index S/2 */
    float a[16], b[16], c[16];
    float *const o4[3] = {a, b, c};
    sv_stamp_cut(&f, 4, 30.0, 30.0, 1.0, SV_KERNEL_LANCZOS3, 0.25, o4, NULL, NULL, &info);
    assert_float_equal(a[2 * 4 + 2], 30 + 30000, 0);
    assert_float_equal(a[0], 28 + 28000, 0);
}

static void test_edges(void **state)
{
    sv_frames f;
    setup_ramp(&f);
    sv_cut_info info;
    uint8_t bad[25];
    assert_int_equal(sv_stamp_cut(&f, 5, 0.2, 0.0, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad,
                                  NULL, &info),
                     0);
    assert_true(info.flags & SV_FLAG_EDGE);
    assert_false(info.flags & SV_FLAG_OFF_IMAGE);
    assert_int_equal(info.i0, 2);
    assert_int_equal(info.j0, 2);
    assert_int_equal(info.i1, 5);
    assert_int_equal(info.j1, 5);
    assert_int_equal(info.n_in, 9);
    assert_true(isnan(st_sci[0]));
    assert_int_equal(bad[0], 4);
    assert_float_equal(st_sci[2 * 5 + 2], 0, 0); /* the detection stays at the centre */
    /* the in-image part for the model: 3 x 3 from (0, 0) */
    float r0[25], r1[25], r2[25];
    float *const rect[3] = {r0, r1, r2};
    int rw, rh;
    sv_stamp_rect(5, (const float *const *)out5, bad, &info, rect, &rw, &rh);
    assert_int_equal(rw, 3);
    assert_int_equal(rh, 3);
    assert_float_equal(r0[0], 0, 0);
    assert_float_equal(r0[1 * 3 + 2], 2 + 1000, 0);
    /* top-right corner */
    sv_stamp_cut(&f, 5, W - 1, H - 1.4, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad, NULL, &info);
    assert_true(info.flags & SV_FLAG_EDGE);
    assert_int_equal(info.i0, 0);
    assert_int_equal(info.i1, 3);
    assert_int_equal(info.j1, 3);
    assert_float_equal(st_sci[2 * 5 + 2], (W - 1) + 1000 * (H - 1), 0);
}

static void test_off_image(void **state)
{
    sv_frames f;
    setup_ramp(&f);
    sv_cut_info info;
    uint8_t bad[25];
    const double pos[][2] = {{-0.51, 10}, {W - 0.5, 10}, {10, H + 3}, {1e30, 1e30}, {-1e300, 0}};
    for (size_t k = 0; k < sizeof pos / sizeof pos[0]; k++) {
        assert_int_equal(sv_stamp_cut(&f, 5, pos[k][0], pos[k][1], 1.0, SV_KERNEL_LANCZOS3,
                                      0.25, out5, bad, NULL, &info),
                         0);
        assert_true(info.flags & SV_FLAG_OFF_IMAGE);
        assert_int_equal(info.n_in, 0);
        assert_true(isnan(info.bad_frac));
        assert_true(isnan(st_ref[12]));
    }
    /* -0.5 is still the first pixel */
    sv_stamp_cut(&f, 5, -0.5, 10, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad, NULL, &info);
    assert_false(info.flags & SV_FLAG_OFF_IMAGE);
    /* non-finite coordinates are refused (the caller flags BADCOORD) */
    assert_int_equal(sv_stamp_cut(&f, 5, NAN, 10, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad,
                                  NULL, &info),
                     SV_ERR_ARG);
    assert_int_equal(sv_stamp_cut(&f, 5, 3, INFINITY, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad,
                                  NULL, &info),
                     SV_ERR_ARG);
}

static void test_nan_and_mask(void **state)
{
    sv_frames f;
    setup_ramp(&f);
    static uint32_t mask[W * H];
    memset(mask, 0, sizeof mask);
    /* 10 NaN values in the science stamp around (20, 20) */
    for (int k = 0; k < 10; k++)
        ramp[0][(18 + k / 5) * W + 18 + k % 5] = NAN;
    ramp[2][22 * W + 22] = INFINITY;
    sv_cut_info info;
    uint8_t bad[25];
    sv_stamp_cut(&f, 5, 20, 20, 1.0, SV_KERNEL_LANCZOS3, 0.1, out5, bad, NULL, &info);
    assert_int_equal(info.n_bad, 11);
    assert_float_equal(info.bad_frac, 11.0 / 75.0, 1e-6);
    assert_true(info.flags & SV_FLAG_BADFRAC);
    assert_int_equal(bad[0], 1);
    sv_stamp_cut(&f, 5, 20, 20, 1.0, SV_KERNEL_LANCZOS3, 0.2, out5, bad, NULL, &info);
    assert_false(info.flags & SV_FLAG_BADFRAC);
    /* masked pixels: the centre (bit 4) and one more (bit 1) */
    f.mask = mask;
    f.mask_stride = W;
    mask[20 * W + 20] = 4;
    mask[21 * W + 21] = 1;
    sv_stamp_cut(&f, 5, 20, 20, 1.0, SV_KERNEL_LANCZOS3, 0.5, out5, bad, NULL, &info);
    assert_true(info.flags & SV_FLAG_MASKED);
    assert_int_equal(info.n_bad, 11 + 6);
    assert_int_equal(bad[12], 2);
    /* masked pixels keep their raw values in the stamp, and are NaN for the model */
    assert_float_equal(st_ref[12], 1e6 + 20 + 20000, 0);
    float r0[25], r1[25], r2[25];
    float *const rect[3] = {r0, r1, r2};
    int rw, rh;
    sv_stamp_rect(5, (const float *const *)out5, bad, &info, rect, &rw, &rh);
    assert_true(isnan(r1[12]));
    assert_true(isnan(r1[18]));
    assert_float_equal(r1[13], 1e6 + 21 + 20000, 0);
    /* mask_bits selects which bits count */
    f.mask_bits = 1;
    sv_stamp_cut(&f, 5, 20, 20, 1.0, SV_KERNEL_LANCZOS3, 0.5, out5, bad, NULL, &info);
    assert_false(info.flags & SV_FLAG_MASKED);
    assert_int_equal(info.n_bad, 11 + 3);
    /* a stamp entirely bad is still cut (and flagged), not refused */
    f.mask_bits = 0xffffffffu;
    for (int y = 15; y < 26; y++)
        for (int x = 15; x < 26; x++)
            mask[y * W + x] = 8;
    sv_stamp_cut(&f, 5, 20, 20, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad, NULL, &info);
    assert_float_equal(info.bad_frac, 1.0, 0);
    assert_true(info.flags & SV_FLAG_BADFRAC);
}

/* A detection on a bad column: its own pixel NaN in one image, the stamp's
 * bad fraction small, is flagged BADCENTRE (issue 11, item 3), with and
 * without resampling; a NaN elsewhere in the stamp is not. */
static void test_bad_centre(void **state)
{
    (void)state;
    for (int c = 0; c < 3; c++) {
        sv_frames f;
        setup_ramp(&f);
        sv_cut_info info;
        uint8_t bad[25];
        sv_cut_scratch scr = {NULL, 0};
        ramp[c][30 * W + 21] = NAN; /* beside the centre: not the centre */
        sv_stamp_cut(&f, 5, 20, 30, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad, NULL, &info);
        assert_false(info.flags & SV_FLAG_BADCENTRE);
        for (int y = 0; y < H; y++) /* a bad column through the centre */
            ramp[c][y * W + 20] = c == 1 ? INFINITY : NAN;
        sv_stamp_cut(&f, 5, 20.3, 29.8, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad, NULL, &info);
        assert_true(info.flags & SV_FLAG_BADCENTRE);
        assert_false(info.flags & SV_FLAG_BADFRAC); /* 6 of 75 values */
        assert_false(info.flags & SV_FLAG_MASKED);
        sv_stamp_cut(&f, 5, 20.3, 29.8, 0.5, SV_KERNEL_BILINEAR, 0.25, out5, bad, &scr, &info);
        assert_true(info.flags & SV_FLAG_BADCENTRE);
        free(scr.buf);
        /* the flag's FLAGn documentation exists */
        int documented = 0;
        for (int b = 0; b < SV_N_FLAGS; b++)
            documented |= sv_flag_docs[b].bit == SV_FLAG_BADCENTRE &&
                          !strcmp(sv_flag_docs[b].name, "BADCENTRE");
        assert_true(documented);
    }
}

static void test_stride(void **state)
{
    enum { SW = 80 };
    static float big[SW * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < SW; x++)
            big[y * SW + x] = x < W ? (float)(x + 1000 * y) : -1.0f;
    sv_frames f;
    setup_ramp(&f);
    f.img[1] = big;
    f.stride[1] = SW;
    sv_cut_info info;
    sv_stamp_cut(&f, 5, W - 1, 5, 1.0, SV_KERNEL_LANCZOS3, 0.25, out5, NULL, NULL, &info);
    assert_true(info.flags & SV_FLAG_EDGE);
    assert_float_equal(st_ref[12], W - 1 + 5000, 0);
    assert_true(isnan(st_ref[13])); /* beyond the width, not the padding of the stride */
}

static void test_resample_linear_exact(void **state)
{
    /* a linear ramp is reproduced exactly by bilinear when enlarging, and
     * by the widened triangle at an integer step when shrinking */
    enum { RW = 200, RH = 200 };
    static float lin[RW * RH];
    for (int y = 0; y < RH; y++)
        for (int x = 0; x < RW; x++)
            lin[y * RW + x] = (float)(2 * x + 3 * y);
    sv_frames f;
    memset(&f, 0, sizeof f);
    for (int c = 0; c < 3; c++) {
        f.img[c] = lin;
        f.stride[c] = RW;
    }
    f.width = RW;
    f.height = RH;
    sv_cut_scratch scr = {NULL, 0};
    sv_cut_info info;
    float a[81], b[81], c[81];
    float *const o9[3] = {a, b, c};
    const double steps[] = {0.5, 3.0, 2.0};
    for (int s = 0; s < 3; s++) {
        double x = 100.3, y = 90.7;
        assert_int_equal(sv_stamp_cut(&f, 9, x, y, steps[s], SV_KERNEL_BILINEAR, 0.25, o9, NULL,
                                      &scr, &info),
                         0);
        assert_int_equal(info.flags, 0);
        for (int j = 0; j < 9; j++)
            for (int i = 0; i < 9; i++) {
                double want = 2 * (x + (i - 4) * steps[s]) + 3 * (y + (j - 4) * steps[s]);
                assert_float_equal(a[j * 9 + i], want, 2e-3 * fabs(want) + 1e-3);
            }
    }
    /* Lanczos-3 keeps a constant, shrinking or enlarging */
    for (size_t p = 0; p < RW * RH; p++)
        lin[p] = 7.0f;
    for (int s = 0; s < 3; s++) {
        sv_stamp_cut(&f, 9, 50.5, 60.2, steps[s], SV_KERNEL_LANCZOS3, 0.25, o9, NULL, &scr,
                     &info);
        for (int p = 0; p < 81; p++)
            assert_float_equal(b[p], 7.0, 1e-5);
    }
    free(scr.buf);
}

static void test_resample_edges_and_bad(void **state)
{
    sv_frames f;
    setup_ramp(&f);
    sv_cut_scratch scr = {NULL, 0};
    sv_cut_info info;
    uint8_t bad[25];
    /* x = 3, step 2: stamp column 0 samples x = -1 (outside), column 1 x = 1 */
    sv_stamp_cut(&f, 5, 3.0, 20.0, 2.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad, &scr, &info);
    assert_true(info.flags & SV_FLAG_EDGE);
    assert_int_equal(info.i0, 1);
    assert_int_equal(info.i1, 5);
    assert_true(isnan(st_sci[2 * 5 + 0]));
    assert_int_equal(bad[2 * 5 + 0], 4);
    /* a NaN nearest pixel stays bad */
    ramp[0][20 * W + 30] = NAN;
    sv_stamp_cut(&f, 5, 30.1, 20.2, 0.5, SV_KERNEL_BILINEAR, 0.25, out5, bad, &scr, &info);
    assert_true(isnan(st_sci[12]));
    assert_int_equal(bad[12] & 1, 1);
    assert_true(info.n_bad >= 1);
    assert_true(isfinite(st_ref[12]));
    /* off the image */
    sv_stamp_cut(&f, 5, -3, 20, 2.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad, &scr, &info);
    assert_true(info.flags & SV_FLAG_OFF_IMAGE);
    /* steps outside the accepted range are refused */
    assert_int_equal(sv_stamp_cut(&f, 5, 10, 10, 100.0, SV_KERNEL_LANCZOS3, 0.25, out5, bad,
                                  &scr, &info),
                     SV_ERR_ARG);
    free(scr.buf);
}

/* ---- the same-grid check ------------------------------------------------ */

static char hdr[80 * 16 + 1];

static int make_header(double crpix1, const char *ctype1)
{
    const char *cards[] = {"CTYPE1  = '%s'", "CTYPE2  = 'DEC--TAN'", "CRPIX1  = %f",
                           "CRPIX2  = 24.5", "CRVAL1  = 150.0", "CRVAL2  = 2.0",
                           "CD1_1   = -0.000277777778", "CD2_2   = 0.000277777778", "END"};
    int n = 0;
    char buf[100];
    for (size_t k = 0; k < sizeof cards / sizeof *cards; k++) {
        if (k == 0)
            snprintf(buf, sizeof buf, cards[k], ctype1);
        else if (k == 2)
            snprintf(buf, sizeof buf, cards[k], crpix1);
        else
            snprintf(buf, sizeof buf, "%s", cards[k]);
        snprintf(hdr + 80 * n, 81, "%-80.80s", buf);
        n++;
    }
    return n;
}

static sv_wcs *wcs_of(double crpix1)
{
    int n = make_header(crpix1, "RA---TAN");
    sv_wcs *w = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_wcs_from_header(hdr, n, "test", &w, &err), 0);
    return w;
}

static void test_grid_check(void **state)
{
    int32_t w[3] = {W, W, W}, h[3] = {H, H, H};
    const char *names[3] = {"sci.fits", "ref.fits", "diff.fits"};
    sv_wcs *a = wcs_of(32.5), *b = wcs_of(32.5), *c = wcs_of(33.0);
    sv_error err;
    sv_error_clear(&err);
    int n = -1;
    sv_wcs *same[3] = {a, b, a};
    assert_int_equal(sv_grid_check(w, h, same, 0.1, names, &n, &err), 0);
    assert_int_equal(n, 3);
    /* half a pixel apart */
    sv_wcs *shifted[3] = {a, b, c};
    assert_int_equal(sv_grid_check(w, h, shifted, 0.1, names, &n, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "diff.fits"));
    assert_non_null(strstr(err.text, "0.5"));
    assert_int_equal(sv_grid_check(w, h, shifted, 0.6, names, &n, &err), 0);
    /* a missing WCS: the others are compared; none: sizes only */
    sv_wcs *missing[3] = {NULL, b, c};
    assert_int_equal(sv_grid_check(w, h, missing, 0.1, names, &n, &err), SV_ERR_SHAPE);
    assert_int_equal(n, 2);
    sv_wcs *none[3] = {NULL, NULL, c};
    assert_int_equal(sv_grid_check(w, h, none, 0.1, names, &n, &err), 0);
    assert_int_equal(n, 1);
    /* different sizes */
    int32_t w2[3] = {W, W + 1, W};
    assert_int_equal(sv_grid_check(w2, h, same, 0.1, names, &n, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "ref.fits"));
    assert_non_null(strstr(err.text, "65"));
    sv_wcs_free(a);
    sv_wcs_free(b);
    sv_wcs_free(c);
}

static void test_wcs_from_header(void **state)
{
    sv_error err;
    sv_error_clear(&err);
    sv_wcs *w = NULL;
    int n = make_header(32.5, "RA---TAN");
    assert_int_equal(sv_wcs_from_header(hdr, n, "h", &w, &err), 0);
    assert_float_equal(sv_wcs_pixel_scale(w, 10, 10), 1.0, 1e-4);
    double x = 31.5, y = 23.5, ra, dec, x2, y2;
    sv_wcs_pix2sky(w, 1, &x, &y, &ra, &dec);
    assert_float_equal(ra, 150.0, 1e-9);
    assert_float_equal(dec, 2.0, 1e-9);
    double px = 3.25, py = 40.5;
    sv_wcs_pix2sky(w, 1, &px, &py, &ra, &dec);
    sv_wcs_sky2pix(w, 1, &ra, &dec, &x2, &y2);
    assert_float_equal(x2, px, 1e-7);
    assert_float_equal(y2, py, 1e-7);
    double bad = NAN;
    assert_int_equal(sv_wcs_sky2pix(w, 1, &bad, &dec, &x2, &y2), 1);
    assert_true(isnan(x2));
    sv_wcs_free(w);
    /* broken: an unknown projection */
    n = make_header(32.5, "RA---XYZ");
    assert_int_equal(sv_wcs_from_header(hdr, n, "broken.fits", &w, &err), SV_ERR_FORMAT);
    assert_null(w);
    assert_non_null(strstr(err.text, "broken.fits"));
    assert_non_null(strstr(err.text, "broken WCS"));
    /* no WCS at all */
    snprintf(hdr, sizeof hdr, "%-80s%-80s", "BUNIT   = 'DN'", "END");
    assert_int_equal(sv_wcs_from_header(hdr, 2, "plain.fits", &w, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "no WCS"));
    assert_int_equal(sv_wcs_from_header(NULL, 0, "nothing", &w, &err), SV_ERR_FORMAT);
    /* a header cut short by a NUL is read up to it */
    n = make_header(32.5, "RA---TAN");
    hdr[80 * 1] = '\0';
    assert_int_not_equal(sv_wcs_from_header(hdr, n, "short", &w, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_centre_convention),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_off_image),
        cmocka_unit_test(test_nan_and_mask),
        cmocka_unit_test(test_bad_centre),
        cmocka_unit_test(test_stride),
        cmocka_unit_test(test_resample_linear_exact),
        cmocka_unit_test(test_resample_edges_and_bad),
        cmocka_unit_test(test_grid_check),
        cmocka_unit_test(test_wcs_from_header),
    };
    return cmocka_run_group_tests_name("stamps", tests, NULL, NULL);
}
