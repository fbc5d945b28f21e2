/* fill_modvers.c — fill the MODVERS card of a model file written before
 * every writer filled it (issue 11: provenance needs each model's version),
 * by patching the primary header only: MODVERS, one HISTORY line, PARENTCK
 * when the parent is given, and the primary CHECKSUM that follows from
 * them.  Every other HDU (the LAYERS table, the weights) stays byte for
 * byte.  models/fill_modvers.sh runs it on the shipped models.
 *
 *   fill_modvers IN.fits OUT.fits [PARENT.fits]
 *
 * IN is read with every checksum verified (model_fits.h).  An empty MODVERS
 * becomes what the writer derives, '<MODNAME>_<first 8 hex digits of
 * WTSUM>' (a set one is kept).  PARENT: the model IN was fine-tuned from,
 * after its own patch; its name must be IN's PARENT card and its CHECKSUM
 * becomes IN's PARENTCK.  OUT (not IN) is written under OUT.tmp, read back
 * with every checksum verified, then renamed.  Exit status 0, 1 after a
 * message on stderr naming the file, 2 for a usage error. */
#include <fitsio.h>
#include <stdio.h>
#include <string.h>

#include "core/sv_error.h"
#include "model/model.h"
#include "model/model_fits.h"

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, n, b) == n;
    ok = ok && !ferror(a);
    if (a)
        fclose(a);
    if (b && fclose(b))
        ok = 0;
    return ok ? 0 : -1;
}

/* the primary HDU's checksums again, the cards' comments kept (as the
 * writer's put_checksum computes them) */
static void primary_checksum(fitsfile *f, int *st)
{
    unsigned long datasum = 0, hdusum = 0;
    char ds[24], ck[FLEN_VALUE];
    fits_modify_key_str(f, "CHECKSUM", "0000000000000000", "&", st);
    fits_modify_key_str(f, "DATASUM", "0", "&", st);
    fits_flush_file(f, st);
    fits_get_chksum(f, &datasum, &hdusum, st);
    snprintf(ds, sizeof ds, "%lu", datasum);
    fits_modify_key_str(f, "DATASUM", ds, "&", st);
    fits_get_chksum(f, &datasum, &hdusum, st);
    fits_encode_chksum(hdusum, 1, ck);
    fits_modify_key_str(f, "CHECKSUM", ck, "&", st);
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: fill_modvers IN.fits OUT.fits [PARENT.fits]\n");
        return 2;
    }
    const char *in = argv[1], *out = argv[2], *par = argc == 4 ? argv[3] : NULL;
    if (!strcmp(in, out)) {
        fprintf(stderr, "fill_modvers: OUT is IN (%s): give another file\n", in);
        return 2;
    }
    sv_error err;
    sv_error_clear(&err);
    sv_model *m = NULL, *parent = NULL;
    fitsfile *f = NULL;
    int rc = 1, st = 0;
    char tmp[4200], wtsum[FLEN_VALUE] = "";
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    if (sv_model_read_fits(in, &m, &err) || (par && sv_model_read_fits(par, &parent, &err))) {
        fprintf(stderr, "fill_modvers: %s\n", err.text);
        goto done;
    }
    if (parent) {
        const char *p = sv_model_get_prov(m, "PARENT");
        if (!p || strcmp(p, parent->name)) {
            fprintf(stderr, "fill_modvers: %s: PARENT is '%s', not %s's name '%s'\n", in,
                    p ? p : "", par, parent->name);
            goto done;
        }
    }
    if (copy_file(in, tmp)) {
        fprintf(stderr, "fill_modvers: cannot copy %s to %s\n", in, tmp);
        goto done;
    }
    fits_open_diskfile(&f, tmp, READWRITE, &st);
    fits_read_key_str(f, "WTSUM", wtsum, NULL, &st);
    if (!m->version[0]) {
        char vers[sizeof m->version];
        snprintf(vers, sizeof vers, "%.54s_%.8s", m->name[0] ? m->name : "model", wtsum);
        fits_modify_key_str(f, "MODVERS", vers, "&", &st);
        fits_write_history(f, "MODVERS filled by models/fill_modvers.sh (header only)", &st);
    }
    if (parent)
        fits_modify_key_str(f, "PARENTCK", parent->checksum, "&", &st);
    primary_checksum(f, &st);
    fits_close_file(f, &st);
    f = NULL;
    if (st) {
        char text[FLEN_STATUS];
        fits_get_errstatus(st, text);
        fprintf(stderr, "fill_modvers: %s: %s\n", tmp, text);
        goto done;
    }
    sv_model_free(m);
    m = NULL;
    if (sv_model_read_fits(tmp, &m, &err)) { /* checksums, WTSUM, every card */
        fprintf(stderr, "fill_modvers: the patched file does not read back: %s\n", err.text);
        goto done;
    }
    if (rename(tmp, out)) {
        perror(out);
        goto done;
    }
    printf("%s: MODVERS = '%s', CHECKSUM %s\n", out, m->version, m->checksum);
    rc = 0;
done:
    if (f) {
        int s2 = 0;
        fits_close_file(f, &s2);
    }
    if (rc)
        remove(tmp);
    sv_model_free(m);
    sv_model_free(parent);
    return rc;
}
