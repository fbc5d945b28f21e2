/* fits_guard.h — FITS files and header text checked before cfitsio or
 * WCSLIB read them.
 *
 * cfitsio and WCSLIB are not hardened against hostile headers: a 70-
 * character unquoted TTYPE overflows a buffer inside cfitsio when it merely
 * moves to the HDU, a card with an unbalanced quote or a NUL overflows
 * WCSLIB's header parser, `NCLASS = ( 1` overflows cfitsio's number
 * parser, and a table that claims 10^12 rows makes a copy of it write
 * terabytes.  Every stampvet reader therefore hands a file to cfitsio only
 * after sv_fits_guard_file() has walked all its headers itself:
 *
 *   - every header byte is printable ASCII (0x20-0x7e): no NUL, no control
 *     or 8-bit bytes;
 *   - the first card is SIMPLE = T (primary) or XTENSION = '...';
 *   - every value field (KEY = value, HIERARCH, CONTINUE) is one of the
 *     FITS forms: a string with balanced quotes, T/F, an integer, a real,
 *     a complex "(re, im)", or empty.  Numbers are parsed here, not by
 *     cfitsio; integers must fit in 64 bits;
 *   - the structural keywords have the type and range FITS gives them:
 *     BITPIX in {8,16,32,64,-32,-64}, NAXIS 0..999, NAXISn >= 0, PCOUNT
 *     >= 0, GCOUNT >= 1; TFIELDS 0..999, each TFORMn parses and their
 *     widths add up to NAXIS1; TTYPEn/TFORMn/TUNITn/TDIMn/EXTNAME are
 *     strings; TDIMn is "(n,m,...)" within the repeat count; TNULLn of an
 *     integer column is an integer; column names are unique (case-
 *     insensitive); BSCALE and TSCALn are not 0;
 *   - the data every header claims (|BITPIX|/8 x GCOUNT x (PCOUNT +
 *     NAXIS1 x ... x NAXISn), computed without overflow) is in the file,
 *     so nothing sized from a header can exceed what the file holds.
 * A gzipped file (cfitsio reads those) is checked on its decompressed
 * bytes, and its stream must decompress to the end to the size its trailer
 * claims (cfitsio allocates that size before it reads a byte).  Bytes after the last complete HDU that do not start another
 * XTENSION are left alone, as cfitsio leaves them.
 *
 * Thread safety: everything here is reentrant.
 */
#ifndef SV_FITS_GUARD_H
#define SV_FITS_GUARD_H

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Check the FITS file named by spec, a path or a cfitsio file name with
 * extended syntax ("exp.fits[SCI]", "exp.fits+1"; the file part is
 * checked; cfitsio's fallback to "spec.gz" is followed).  Returns 0 when
 * the file is safe to give to cfitsio, or when spec names no file at all
 * (cfitsio then reports that itself); else SV_ERR_FORMAT (or SV_ERR_IO for
 * a file that cannot be read, or that is not a regular file) with err
 * saying "SPEC: HDU n, card k (KEY): problem". */
int sv_fits_guard_file(const char *spec, sv_error *err);

/* Check one 80-character card as above (bytes, value syntax).  Returns 0,
 * or -1 with why (cap bytes) saying what is wrong. */
int sv_fits_guard_card(const char *card, char *why, size_t cap);

/* Check header text of ncards 80-character cards (as a dia_image or
 * fits_hdr2str gives it; it may end early at a NUL, which is then the end
 * of the text) card by card with sv_fits_guard_card.  *nvalid gets the
 * number of whole cards before the NUL or the end.  Returns 0, or
 * SV_ERR_FORMAT with err naming origin and the card. */
int sv_fits_guard_header(const char *header, int ncards, const char *origin, int *nvalid,
                         sv_error *err);

/* The integer value of card `key` in header text, parsed by this module
 * (not cfitsio): 0 and *v set, -1 when the card is absent, -2 when its
 * value is not an integer that fits in 64 bits. */
int sv_fits_card_int(const char *header, int ncards, const char *key, long long *v);

#ifdef __cplusplus
}
#endif
#endif
