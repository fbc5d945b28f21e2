/* cmd_inspect.c — `stampvet inspect FILE...`: summarise any FITS file. */
#include <fitsio.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "fits/fits_guard.h"
#include "model/model.h"
#include "model/model_describe.h"
#include "model/model_fits.h"

/* observation and WCS cards, then the cards stampvet writes: a model file's
 * (model_fits.h), a labelled-stamps table's (stamp_table.h) and the stage
 * output's provenance (stage.c, catalog.c) */
static const char *const key_cards[] = {
    "OBJECT", "TELESCOP", "INSTRUME", "FILTER", "DATE-OBS", "MJD-OBS", "EXPTIME",
    "CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD2_2",
    "CDELT1", "CDELT2",
    /* model files and labelled-stamps tables */
    "SVFORMAT", "SVFMTVER", "TASK", "MODNAME", "MODVERS", "STAMPSZ", "NCLASS", "SURVEY",
    /* stage output */
    "SVVERS", "DIAABI", "RBMODEL", "RBMVERS", "RBMCKSUM", "RBMFILE", "CLMODEL", "CLMVERS",
    "CLMCKSUM", "CLMFILE", "SVCFGHSH", "SVCONFIG", "PRESET", "POSITION", "RBTHRESH",
    "VETOFLAG", "RESAMPLE", "IMGSCALE", "PSCALWRN", "PSCALRAT", "EXPID", "SCIFILE", "SCISHA",
    "REFFILE", "REFSHA", "DIFFFILE", "DIFFSHA", "DETFILE", "DETSHA", "MASKFILE", "MASKSHA",
    "NSCORED", "NFLAGGED", NULL,
};

static void print_key_cards(fitsfile *f)
{
    for (int i = 0; key_cards[i]; i++) {
        char card[FLEN_CARD];
        int st = 0;
        if (fits_read_card(f, key_cards[i], card, &st) == 0)
            printf("    %s\n", card);
    }
}

static void print_checksum(fitsfile *f)
{
    int st = 0, data_ok = 0, hdu_ok = 0;
    char card[FLEN_CARD];
    if (fits_read_card(f, "CHECKSUM", card, &st) != 0)
        return;
    st = 0;
    if (fits_verify_chksum(f, &data_ok, &hdu_ok, &st) == 0)
        printf("    checksum: HDU %s, data %s\n",
               hdu_ok == 1 ? "ok" : hdu_ok == 0 ? "absent" : "BAD",
               data_ok == 1 ? "ok" : data_ok == 0 ? "absent" : "BAD");
}

static int inspect_image(fitsfile *f)
{
    int st = 0, bitpix = 0, naxis = 0;
    long naxes[9] = {0};
    fits_get_img_param(f, 9, &bitpix, &naxis, naxes, &st);
    if (st)
        return st;
    printf("  image  BITPIX %d  ", bitpix);
    if (naxis == 0)
        printf("no data");
    for (int i = 0; i < naxis && i < 9; i++)
        printf("%s%ld", i ? " x " : "", naxes[i]);
    printf("%s\n", fits_is_compressed_image(f, &st) ? "  (tile-compressed)" : "");
    return 0;
}

static int inspect_table(fitsfile *f, int hdutype)
{
    int st = 0, ncols = 0;
    long nrows = 0;
    fits_get_num_rows(f, &nrows, &st);
    fits_get_num_cols(f, &ncols, &st);
    if (st)
        return st;
    printf("  %s table  %ld rows x %d columns\n",
           hdutype == BINARY_TBL ? "binary" : "ASCII", nrows, ncols);
    for (int c = 1; c <= ncols; c++) {
        char key[FLEN_KEYWORD], name[FLEN_VALUE] = "", form[FLEN_VALUE] = "",
             unit[FLEN_VALUE] = "", tdim[FLEN_VALUE] = "";
        int s2 = 0;
        fits_make_keyn("TTYPE", c, key, &s2);
        fits_read_key(f, TSTRING, key, name, NULL, &s2);
        s2 = 0;
        fits_make_keyn("TFORM", c, key, &s2);
        fits_read_key(f, TSTRING, key, form, NULL, &s2);
        s2 = 0;
        fits_make_keyn("TUNIT", c, key, &s2);
        fits_read_key(f, TSTRING, key, unit, NULL, &s2);
        s2 = 0;
        fits_make_keyn("TDIM", c, key, &s2);
        fits_read_key(f, TSTRING, key, tdim, NULL, &s2);
        printf("    %3d %-20s %-8s%s%s%s%s\n", c, name, form, *tdim ? " TDIM " : "",
               tdim, *unit ? " unit " : "", unit);
    }
    return 0;
}

static int inspect_file(const char *path)
{
    fitsfile *f = NULL;
    int st = 0, nhdu = 0;
    sv_error gerr = {0};
    if (sv_fits_guard_file(path, &gerr))
        return cli_fail("inspect", "%s", gerr.text);
    if (fits_open_file(&f, path, READONLY, &st)) {
        char text[FLEN_STATUS];
        fits_get_errstatus(st, text);
        return cli_fail("inspect", "%s: cannot open as FITS: %s", path, text);
    }
    fits_get_num_hdus(f, &nhdu, &st);
    printf("%s: %d HDU%s\n", path, nhdu, nhdu == 1 ? "" : "s");
    for (int h = 1; h <= nhdu && !st; h++) {
        int type = 0;
        if (fits_movabs_hdu(f, h, &type, &st))
            break;
        char extname[FLEN_VALUE] = "";
        int s2 = 0;
        fits_read_key(f, TSTRING, "EXTNAME", extname, NULL, &s2);
        printf("HDU %d%s%s\n", h, *extname ? " " : "", extname);
        st = type == IMAGE_HDU ? inspect_image(f) : inspect_table(f, type);
        print_key_cards(f);
        print_checksum(f);
    }
    int closing = 0;
    fits_close_file(f, &closing);
    if (st) {
        char text[FLEN_STATUS];
        fits_get_errstatus(st, text);
        return cli_fail("inspect", "%s: damaged FITS file: %s", path, text);
    }
    return 0;
}

/* 1 for a stampvet labelled-stamps table (SVFORMAT = 'stampvet-stamps') */
static int is_stamp_table(const char *path)
{
    fitsfile *f = NULL;
    int st = 0;
    char value[FLEN_VALUE] = "";
    if (fits_open_diskfile(&f, path, READONLY, &st))
        return 0;
    fits_read_key(f, TSTRING, "SVFORMAT", value, NULL, &st);
    int s2 = 0;
    fits_close_file(f, &s2);
    return st == 0 && !strcmp(value, "stampvet-stamps");
}

/* A stampvet model file: the network and its provenance, read through the
 * same checks the stage applies (checksums, shapes). */
static int inspect_model(const char *path)
{
    sv_model *m = NULL;
    sv_error err;
    sv_error_clear(&err);
    if (sv_model_read_fits(path, &m, &err) != SV_OK)
        return cli_fail("inspect", "damaged model: %s", err.text);
    printf("\nstampvet model\n");
    sv_model_describe(stdout, m);
    sv_model_free(m);
    return 0;
}

static const cli_cmd inspect_cmd = {
    "inspect", "stampvet inspect [-o REPORT.txt] FILE...",
    "Summarise FITS files: every HDU with its size, key header cards\n"
    "(WCS, filter, date, stampvet provenance), checksums, and table\n"
    "columns with their formats and units.  A stampvet model file\n"
    "is also read and verified, and its network and provenance\n"
    "printed.  A file that is not sound FITS is refused with the HDU,\n"
    "card and problem named.",
    NULL, "write the summary to FILE instead of stdout", NULL};

static int no_own_option(void *user, int key, const char *arg)
{
    (void)user, (void)key, (void)arg;
    return CLI_USAGE;
}

int cmd_inspect(int argc, char **argv)
{
    cli_common com = {0};
    int optind_ = 0, st = cli_parse(&inspect_cmd, argc, argv, &com, no_own_option, NULL, &optind_);
    if (st >= 0)
        return st;
    if (optind_ >= argc)
        return cli_usage_error("inspect", "no FILE given");
    if (cli_redirect_stdout("inspect", &com))
        return CLI_FAILED;
    optind = optind_;
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        int file_rc = inspect_file(argv[i]);
        if (file_rc == 0 && is_stamp_table(argv[i]))
            printf("\nstampvet labelled-stamps table (training data: stamp_table.h)\n");
        if (file_rc == 0 && sv_model_fits_is_model(argv[i]) == 1)
            file_rc = inspect_model(argv[i]);
        rc |= file_rc;
    }
    return rc ? 1 : 0;
}
