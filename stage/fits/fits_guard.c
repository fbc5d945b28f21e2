/* fits_guard.c — see fits_guard.h. */
#include "fits/fits_guard.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define BLOCK 2880
#define CARD 80
#define MAXCOL 999
#define VAL_MAX 72

/* ---- one card ---------------------------------------------------------- */

enum vkind { V_NONE, V_STR, V_LOG, V_INT, V_REAL, V_CPLX };

typedef struct cval {
    enum vkind kind;
    long long i;       /* V_INT; V_LOG: 1 for T               */
    double d;          /* V_INT, V_REAL                       */
    char s[VAL_MAX];   /* V_STR: unquoted, trailing blanks cut */
} cval;

/* Is text[0..n) a FITS integer (kind V_INT) or real (V_REAL)?  Returns the
 * kind, V_NONE when it is neither. */
static enum vkind number_kind(const char *t, size_t n)
{
    size_t i = 0, digits = 0;
    int real = 0;
    if (i < n && (t[i] == '+' || t[i] == '-'))
        i++;
    while (i < n && isdigit((unsigned char)t[i]))
        i++, digits++;
    if (i < n && t[i] == '.') {
        real = 1;
        i++;
        while (i < n && isdigit((unsigned char)t[i]))
            i++, digits++;
    }
    if (!digits)
        return V_NONE;
    if (i < n && strchr("EeDd", t[i])) {
        real = 1;
        i++;
        if (i < n && (t[i] == '+' || t[i] == '-'))
            i++;
        size_t e = 0;
        while (i < n && isdigit((unsigned char)t[i]))
            i++, e++;
        if (!e)
            return V_NONE;
    }
    return i == n ? (real ? V_REAL : V_INT) : V_NONE;
}

/* Parse the number t[0..n) of the given kind into v. */
static int number_value(const char *t, size_t n, enum vkind kind, cval *v)
{
    char tmp[VAL_MAX];
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, t, n);
    tmp[n] = '\0';
    for (char *c = tmp; *c; c++)
        if (*c == 'D' || *c == 'd')
            *c = 'E';
    errno = 0;
    if (kind == V_INT) {
        v->i = strtoll(tmp, NULL, 10);
        if (errno == ERANGE)
            return -1;
        v->d = (double)v->i;
    } else {
        v->d = strtod(tmp, NULL);
        if (errno == ERANGE && (v->d > 1.0 || v->d < -1.0))
            return -1;
    }
    v->kind = kind;
    return 0;
}

static size_t skip_blank(const char *t, size_t i, size_t n)
{
    while (i < n && t[i] == ' ')
        i++;
    return i;
}

/* A complex value "(re, im)" in t[0..n), blanks allowed inside. */
static int complex_ok(const char *t, size_t n)
{
    if (n < 2 || t[0] != '(' || t[n - 1] != ')')
        return 0;
    const char *comma = memchr(t, ',', n);
    if (!comma)
        return 0;
    size_t a = skip_blank(t, 1, n), ae = (size_t)(comma - t);
    while (ae > a && t[ae - 1] == ' ')
        ae--;
    size_t b = skip_blank(t, (size_t)(comma - t) + 1, n), be = n - 1;
    while (be > b && t[be - 1] == ' ')
        be--;
    return number_kind(t + a, ae - a) != V_NONE && number_kind(t + b, be - b) != V_NONE;
}

/* Parse a value field t[0..n) (after "= "). */
static int parse_value(const char *t, size_t n, cval *v, char *why, size_t cap)
{
    memset(v, 0, sizeof *v);
    size_t i = skip_blank(t, 0, n);
    if (i == n || t[i] == '/')
        return 0;
    if (t[i] == '\'') {
        size_t k = 0;
        for (i++;; i++) {
            if (i >= n) {
                snprintf(why, cap, "a string value without its closing quote");
                return -1;
            }
            if (t[i] == '\'') {
                if (i + 1 < n && t[i + 1] == '\'')
                    i++;
                else
                    break;
            }
            if (k + 1 < sizeof v->s)
                v->s[k++] = t[i];
        }
        while (k > 0 && v->s[k - 1] == ' ')
            k--;
        v->s[k] = '\0';
        v->kind = V_STR;
        return 0;
    }
    /* an unquoted value: up to the comment */
    size_t e = i;
    if (t[i] == '(') {
        while (e < n && t[e] != ')')
            e++;
        if (e < n)
            e++;
    } else {
        while (e < n && t[e] != '/' && t[e] != ' ')
            e++;
    }
    size_t after = skip_blank(t, e, n);
    const char *tok = t + i;
    size_t len = e - i;
    enum vkind k = V_NONE;
    if (len == 1 && (tok[0] == 'T' || tok[0] == 'F')) {
        v->kind = V_LOG;
        v->i = tok[0] == 'T';
        k = V_LOG;
    } else if (tok[0] == '(') {
        if (complex_ok(tok, len)) {
            v->kind = V_CPLX;
            k = V_CPLX;
        }
    } else {
        k = number_kind(tok, len);
        if (k != V_NONE && number_value(tok, len, k, v)) {
            snprintf(why, cap, "the number %.*s is out of range", (int)len, tok);
            return -1;
        }
    }
    if (k == V_NONE || (after < n && t[after] != '/')) {
        const char *slash = memchr(t + i, '/', n - i);
        size_t show = slash ? (size_t)(slash - (t + i)) : n - i;
        while (show > 0 && t[i + show - 1] == ' ')
            show--;
        snprintf(why, cap, "the value %.*s is not a FITS string, logical, number or complex",
                 (int)(show > 40 ? 40 : show), t + i);
        return -1;
    }
    return 0;
}

/* The keyword of a card (cols 1-8, trailing blanks cut) into key[9]. */
static void card_key(const char *card, char key[9])
{
    memcpy(key, card, 8);
    key[8] = '\0';
    for (int i = 7; i >= 0 && key[i] == ' '; i--)
        key[i] = '\0';
}

/* Check a card and parse its value (V_NONE for commentary cards). */
static int check_card(const char *card, cval *v, char *why, size_t cap)
{
    memset(v, 0, sizeof *v);
    for (int i = 0; i < CARD; i++) {
        unsigned char c = (unsigned char)card[i];
        if (c < 0x20 || c > 0x7e) {
            snprintf(why, cap, "byte 0x%02x at column %d (a header holds printable ASCII only)",
                     c, i + 1);
            return -1;
        }
    }
    char key[9];
    card_key(card, key);
    if (!strcmp(key, "HIERARCH")) {
        const char *eq = memchr(card + 8, '=', CARD - 8);
        if (!eq)
            return 0;
        size_t at = (size_t)(eq - card) + 1;
        return parse_value(card + at, CARD - at, v, why, cap);
    }
    if (!strcmp(key, "CONTINUE")) {
        if (parse_value(card + 8, CARD - 8, v, why, cap))
            return -1;
        if (v->kind != V_NONE && v->kind != V_STR) {
            snprintf(why, cap, "a CONTINUE card holds a string");
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "COMMENT") || !strcmp(key, "HISTORY") || !key[0] ||
        memcmp(card + 8, "= ", 2))
        return 0;
    return parse_value(card + 10, CARD - 10, v, why, cap);
}

int sv_fits_guard_card(const char *card, char *why, size_t cap)
{
    cval v;
    return check_card(card, &v, why, cap);
}

int sv_fits_guard_header(const char *header, int ncards, const char *origin, int *nvalid,
                         sv_error *err)
{
    if (nvalid)
        *nvalid = 0;
    if (!origin)
        origin = "header";
    if (!header || ncards <= 0)
        return SV_OK;
    size_t have = strnlen(header, (size_t)ncards * CARD);
    char card[CARD], why[160];
    int n = (int)((have + CARD - 1) / CARD);
    for (int c = 0; c < n; c++) {
        size_t off = (size_t)c * CARD, k = have - off < CARD ? have - off : CARD;
        memcpy(card, header + off, k);
        memset(card + k, ' ', CARD - k);
        if (sv_fits_guard_card(card, why, sizeof why)) {
            char key[9];
            card_key(card, key);
            return sv_error_set(err, SV_ERR_FORMAT, "%s: header card %d (%s): %s%s", origin,
                                c + 1, key, why,
                                k < CARD ? " (the header text ends inside this card)" : "");
        }
    }
    if (nvalid)
        *nvalid = n;
    return SV_OK;
}

int sv_fits_card_int(const char *header, int ncards, const char *key, long long *v)
{
    size_t have = header && ncards > 0 ? strnlen(header, (size_t)ncards * CARD) : 0;
    char k[9], why[160];
    for (size_t off = 0; off + CARD <= have; off += CARD) {
        card_key(header + off, k);
        if (strcmp(k, key) || memcmp(header + off + 8, "= ", 2))
            continue;
        cval cv;
        if (check_card(header + off, &cv, why, sizeof why) || cv.kind != V_INT)
            return -2;
        *v = cv.i;
        return 0;
    }
    return -1;
}

/* ---- one HDU ------------------------------------------------------------ */

typedef struct col_info {
    char ttype[VAL_MAX], tform[VAL_MAX], tdim[VAL_MAX];
    char zform[VAL_MAX];          /* a tile-compressed table's original TFORMn */
    unsigned char has_tform, has_tdim, has_zform;
    unsigned char has_tnull, tnull_int;
    int has_tscal;
    double tscal;
} col_info;

typedef struct hdu_info {
    int hdu, ext;
    char xtension[VAL_MAX];
    long long bitpix, naxis, pcount, gcount, tfields;
    int has_bitpix, has_naxis, has_pcount, has_gcount, has_tfields, groups;
    long long naxisn[MAXCOL];
    unsigned char has_naxisn[MAXCOL];
    int has_bscale;
    double bscale;
    col_info *col;       /* MAXCOL of them */
} hdu_info;

typedef struct guard {
    const char *spec;
    sv_error *err;
    hdu_info h;
} guard;

/* A truncated file is an I/O error (as the readers document), a wrong
 * header a format error. */
static int truncated(guard *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int truncated(guard *g, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sv_error_set(g->err, SV_ERR_IO, "%s: cannot open as FITS: HDU %d: %s (truncated?)",
                        g->spec, g->h.hdu, what);
}

static int fail(guard *g, int card, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(guard *g, int card, const char *key, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (card > 0)
        return sv_error_set(g->err, SV_ERR_FORMAT, "%s: HDU %d, card %d (%s): %s", g->spec,
                            g->h.hdu, card, key, what);
    return sv_error_set(g->err, SV_ERR_FORMAT, "%s: HDU %d: %s", g->spec, g->h.hdu, what);
}

/* key is PREFIXn with n in 1..999 (no leading zero): returns n, else 0. */
static int indexed(const char *key, const char *prefix)
{
    size_t p = strlen(prefix);
    if (strncmp(key, prefix, p) || key[p] < '1' || key[p] > '9')
        return 0;
    int n = 0;
    for (const char *c = key + p; *c; c++) {
        if (!isdigit((unsigned char)*c) || n > 99)
            return 0;
        n = n * 10 + (*c - '0');
    }
    return n;
}

static int want(guard *g, int card, const char *key, const cval *v, enum vkind kind)
{
    static const char *const names[] = {"empty", "a string", "a logical", "an integer",
                                        "a real number", "a complex number"};
    if (v->kind == kind || (kind == V_REAL && v->kind == V_INT))
        return 0;
    return fail(g, card, key, "must be %s, not %s", names[kind], names[v->kind]);
}

/* Record what a structural card says. */
static int note_card(guard *g, int card, const char *key, const cval *v)
{
    hdu_info *h = &g->h;
    int n;
    if (!strcmp(key, "BITPIX") || !strcmp(key, "NAXIS") || !strcmp(key, "PCOUNT") ||
        !strcmp(key, "GCOUNT") || !strcmp(key, "TFIELDS") || !strcmp(key, "THEAP") ||
        !strcmp(key, "BLANK") || !strcmp(key, "ZBITPIX") || !strcmp(key, "ZNAXIS") ||
        indexed(key, "ZNAXIS") || indexed(key, "ZTILE")) {
        if (want(g, card, key, v, V_INT))
            return -1;
        if (!strcmp(key, "BITPIX") && !h->has_bitpix)
            h->bitpix = v->i, h->has_bitpix = 1;
        else if (!strcmp(key, "NAXIS") && !h->has_naxis)
            h->naxis = v->i, h->has_naxis = 1;
        else if (!strcmp(key, "PCOUNT") && !h->has_pcount)
            h->pcount = v->i, h->has_pcount = 1;
        else if (!strcmp(key, "GCOUNT") && !h->has_gcount)
            h->gcount = v->i, h->has_gcount = 1;
        else if (!strcmp(key, "TFIELDS") && !h->has_tfields)
            h->tfields = v->i, h->has_tfields = 1;
        return 0;
    }
    if ((n = indexed(key, "NAXIS")) > 0) {
        if (want(g, card, key, v, V_INT))
            return -1;
        if (!h->has_naxisn[n - 1])
            h->naxisn[n - 1] = v->i, h->has_naxisn[n - 1] = 1;
        return 0;
    }
    if (!strcmp(key, "SIMPLE") || !strcmp(key, "EXTEND") || !strcmp(key, "GROUPS") ||
        !strcmp(key, "ZIMAGE")) {
        if (want(g, card, key, v, V_LOG))
            return -1;
        if (!strcmp(key, "GROUPS"))
            h->groups = (int)v->i;
        return 0;
    }
    if (!strcmp(key, "XTENSION") || !strcmp(key, "EXTNAME") || !strcmp(key, "ZCMPTYPE") ||
        indexed(key, "TUNIT") || indexed(key, "TDISP")) {
        if (want(g, card, key, v, V_STR))
            return -1;
        if (!strcmp(key, "XTENSION"))
            snprintf(h->xtension, sizeof h->xtension, "%s", v->s);
        return 0;
    }
    if (!strcmp(key, "BSCALE") || !strcmp(key, "BZERO") || indexed(key, "TZERO")) {
        if (want(g, card, key, v, V_REAL))
            return -1;
        if (!strcmp(key, "BSCALE") && !h->has_bscale)
            h->bscale = v->d, h->has_bscale = 1;
        return 0;
    }
    col_info *c = NULL;
    if ((n = indexed(key, "TTYPE")) > 0) {
        if (want(g, card, key, v, V_STR))
            return -1;
        c = &h->col[n - 1];
        if (!c->ttype[0])
            snprintf(c->ttype, sizeof c->ttype, "%s", v->s);
    } else if ((n = indexed(key, "TFORM")) > 0) {
        if (want(g, card, key, v, V_STR))
            return -1;
        c = &h->col[n - 1];
        if (!c->has_tform)
            snprintf(c->tform, sizeof c->tform, "%s", v->s), c->has_tform = 1;
    } else if ((n = indexed(key, "ZFORM")) > 0) {
        if (want(g, card, key, v, V_STR))
            return -1;
        c = &h->col[n - 1];
        if (!c->has_zform)
            snprintf(c->zform, sizeof c->zform, "%s", v->s), c->has_zform = 1;
    } else if ((n = indexed(key, "TDIM")) > 0) {
        if (want(g, card, key, v, V_STR))
            return -1;
        c = &h->col[n - 1];
        if (!c->has_tdim)
            snprintf(c->tdim, sizeof c->tdim, "%s", v->s), c->has_tdim = 1;
    } else if ((n = indexed(key, "TSCAL")) > 0) {
        if (want(g, card, key, v, V_REAL))
            return -1;
        c = &h->col[n - 1];
        if (!c->has_tscal)
            c->tscal = v->d, c->has_tscal = 1;
    } else if ((n = indexed(key, "TNULL")) > 0) {
        c = &h->col[n - 1];
        if (!c->has_tnull)
            c->has_tnull = 1, c->tnull_int = v->kind == V_INT;
    }
    return 0;
}

/* Width in bytes of a BINTABLE TFORM; *code gets its type letter and
 * *repeat its repeat count.  -1 when it does not parse. */
static long long tform_width(const char *tf, char *code, long long *repeat)
{
    const char *p = tf;
    long long r = 1;
    while (*p == ' ')
        p++;
    if (isdigit((unsigned char)*p)) {
        r = 0;
        for (; isdigit((unsigned char)*p); p++) {
            if (r > 100000000000LL)
                return -1;
            r = r * 10 + (*p - '0');
        }
    }
    char t = (char)toupper((unsigned char)*p);
    static const char codes[] = "LXBIJKAEDCMPQ";
    static const int size[] = {1, 0, 1, 2, 4, 8, 1, 4, 8, 8, 16, 8, 16};
    const char *at = t ? strchr(codes, t) : NULL;
    if (!at)
        return -1;
    *code = t;
    *repeat = r;
    if (t == 'X')
        return (r + 7) / 8;
    return r * size[at - codes];
}

/* TDIM "(a,b,...)": the product of its sizes, -1 when it does not parse. */
static long long tdim_product(const char *s)
{
    const char *p = s;
    while (*p == ' ')
        p++;
    if (*p++ != '(')
        return -1;
    long long prod = 1;
    int ndim = 0;
    for (;;) {
        while (*p == ' ')
            p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        long long d = 0;
        for (; isdigit((unsigned char)*p); p++) {
            if (d > 100000000000LL)
                return -1;
            d = d * 10 + (*p - '0');
        }
        if (d < 1 || ++ndim > 99 || __builtin_mul_overflow(prod, d, &prod) ||
            prod > 100000000000LL)
            return -1;
        while (*p == ' ')
            p++;
        if (*p == ')')
            break;
        if (*p++ != ',')
            return -1;
    }
    p++;
    while (*p == ' ')
        p++;
    return *p ? -1 : prod;
}

/* The checks once a header is read; *data gets the data size it claims. */
static int check_hdu(guard *g, unsigned long long *data)
{
    hdu_info *h = &g->h;
    if (!h->has_bitpix || !h->has_naxis)
        return fail(g, 0, "", "no %s card", h->has_bitpix ? "NAXIS" : "BITPIX");
    if (h->bitpix != 8 && h->bitpix != 16 && h->bitpix != 32 && h->bitpix != 64 &&
        h->bitpix != -32 && h->bitpix != -64)
        return fail(g, 0, "", "BITPIX = %lld (FITS allows 8, 16, 32, 64, -32, -64)", h->bitpix);
    if (h->naxis < 0 || h->naxis > 999)
        return fail(g, 0, "", "NAXIS = %lld (0..999)", h->naxis);
    for (int a = 0; a < h->naxis; a++) {
        if (!h->has_naxisn[a])
            return fail(g, 0, "", "NAXIS = %lld but no NAXIS%d card", h->naxis, a + 1);
        if (h->naxisn[a] < 0)
            return fail(g, 0, "", "NAXIS%d = %lld is negative", a + 1, h->naxisn[a]);
    }
    if (h->ext && (!h->has_pcount || !h->has_gcount))
        return fail(g, 0, "", "an extension without its %s card",
                    h->has_pcount ? "GCOUNT" : "PCOUNT");
    long long pcount = h->has_pcount ? h->pcount : 0, gcount = h->has_gcount ? h->gcount : 1;
    if (pcount < 0 || gcount < 0)
        return fail(g, 0, "", "%s = %lld is negative", pcount < 0 ? "PCOUNT" : "GCOUNT",
                    pcount < 0 ? pcount : gcount);
    if (h->has_bscale && h->bscale == 0.0)
        return fail(g, 0, "", "BSCALE = 0 would make every pixel 0");

    int bintable = h->ext && !strcmp(h->xtension, "BINTABLE");
    if (bintable) {
        if (h->naxis != 2 || h->bitpix != 8)
            return fail(g, 0, "", "a BINTABLE needs BITPIX = 8 and NAXIS = 2 (has %lld and %lld)",
                        h->bitpix, h->naxis);
        if (!h->has_tfields || h->tfields < 0 || h->tfields > MAXCOL)
            return fail(g, 0, "", "TFIELDS missing or out of 0..999");
        long long width = 0;
        for (int i = 0; i < h->tfields; i++) {
            col_info *c = &h->col[i];
            char code = 0;
            long long repeat = 0, w;
            if (!c->has_tform)
                return fail(g, 0, "", "column %d has no TFORM%d card", i + 1, i + 1);
            if ((w = tform_width(c->tform, &code, &repeat)) < 0)
                return fail(g, 0, "", "TFORM%d = '%s' does not parse", i + 1, c->tform);
            if (__builtin_add_overflow(width, w, &width) || width > h->naxisn[0])
                return fail(g, 0, "", "the columns (TFORM1..%d) are wider than a row "
                            "(NAXIS1 = %lld)", i + 1, h->naxisn[0]);
            if (c->has_tdim) {
                /* in a tile-compressed table (FITS tiled table convention),
                 * TDIMn describes the original column, ZFORMn */
                char zcode = 0;
                long long zrepeat = 0;
                if (c->has_zform && tform_width(c->zform, &zcode, &zrepeat) < 0)
                    return fail(g, 0, "", "ZFORM%d = '%s' does not parse", i + 1, c->zform);
                long long p = tdim_product(c->tdim);
                if (p < 0 || p > (c->has_zform ? zrepeat : repeat))
                    return fail(g, 0, "", "TDIM%d = '%s' %s %s%d = '%s'", i + 1, c->tdim,
                                p < 0 ? "does not parse, with" : "holds more than",
                                c->has_zform ? "ZFORM" : "TFORM", i + 1,
                                c->has_zform ? c->zform : c->tform);
            }
            if (c->has_tnull && strchr("BIJK", code) && !c->tnull_int)
                return fail(g, 0, "", "TNULL%d of integer column %d is not an integer", i + 1,
                            i + 1);
            if (c->has_tscal && c->tscal == 0.0)
                return fail(g, 0, "", "TSCAL%d = 0 would make every value 0", i + 1);
            for (int j = 0; j < i && c->ttype[0]; j++)
                if (!strcasecmp(c->ttype, h->col[j].ttype))
                    return fail(g, 0, "", "columns %d and %d are both named '%s' (TTYPE%d, "
                                "TTYPE%d): which one is meant?", j + 1, i + 1, c->ttype,
                                j + 1, i + 1);
        }
        if (width != h->naxisn[0])
            return fail(g, 0, "", "the columns are %lld bytes wide but a row is %lld (NAXIS1)",
                        width, h->naxisn[0]);
    }

    /* the data size the header claims, without overflow */
    unsigned long long prod = h->naxis > 0 ? 1 : 0;
    int first = (!h->ext && h->groups && h->naxis > 0 && h->naxisn[0] == 0) ? 1 : 0;
    for (int a = first; a < h->naxis; a++)
        if (__builtin_mul_overflow(prod, (unsigned long long)h->naxisn[a], &prod))
            return fail(g, 0, "", "the axes (NAXISn) multiply beyond 2^64");
    unsigned long long bytes = 0;
    if (prod || pcount) {
        if (__builtin_add_overflow(prod, (unsigned long long)pcount, &bytes) ||
            __builtin_mul_overflow(bytes, (unsigned long long)gcount, &bytes) ||
            __builtin_mul_overflow(bytes, (unsigned long long)(h->bitpix < 0 ? -h->bitpix
                                                                             : h->bitpix) / 8,
                                   &bytes))
            return fail(g, 0, "", "the data size the header claims overflows 2^64 bytes");
    }
    *data = bytes;
    return 0;
}

/* ---- the file ------------------------------------------------------------ */

typedef struct src {
    gzFile gz;
    int direct;                /* not gzipped: sizes from stat */
    int damaged;               /* zlib found the stream corrupt */
    unsigned long long size, pos;
} src;

static size_t src_read(src *s, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int r = gzread(s->gz, buf + got, (unsigned)(n - got));
        if (r < 0)
            s->damaged = 1;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    s->pos += got;
    return got;
}

/* Skip n bytes; returns how many were there to skip. */
static unsigned long long src_skip(src *s, unsigned long long n)
{
    if (s->direct) {
        unsigned long long left = s->size > s->pos ? s->size - s->pos : 0;
        unsigned long long k = n < left ? n : left;
        if (k && gzseek(s->gz, (z_off_t)k, SEEK_CUR) < 0)
            return 0;
        s->pos += k;
        return k;
    }
    enum { CHUNK = 1 << 16 };
    char *buf = malloc(CHUNK);
    unsigned long long done = 0;
    while (buf && done < n) {
        size_t want = n - done < CHUNK ? (size_t)(n - done) : CHUNK;
        size_t got = src_read(s, buf, want);
        done += got;
        if (got < want)
            break;
    }
    free(buf);
    return done;
}

/* Walk the HDUs of an open file. */
static int walk(guard *g, src *s)
{
    char block[BLOCK];
    for (int hdu = 1;; hdu++) {
        hdu_info *h = &g->h;
        col_info *col = h->col;
        memset(h, 0, sizeof *h);
        memset(col, 0, MAXCOL * sizeof *col);
        h->col = col;
        h->hdu = hdu;
        h->ext = hdu > 1;
        int card_no = 0, end = 0;
        while (!end) {
            size_t got = src_read(s, block, BLOCK);
            if (hdu > 1 && card_no == 0 && (got < 8 || memcmp(block, "XTENSION", 8)))
                return SV_OK; /* trailing bytes, not an HDU: cfitsio stops here as well */
            if (got < BLOCK) {
                return got == 0 && card_no == 0
                           ? sv_error_set(g->err, SV_ERR_IO, "%s: cannot open as FITS: empty file", g->spec)
                           : truncated(g, "the file ends inside the header (no END card)");
            }
            for (int k = 0; k < BLOCK / CARD && !end; k++) {
                const char *card = block + k * CARD;
                char key[9], why[160];
                cval v;
                card_no++;
                card_key(card, key);
                if (card_no == 1 && hdu == 1 && memcmp(card, "SIMPLE  =", 9))
                    return sv_error_set(g->err, SV_ERR_IO,
                                        "%s: cannot open as FITS: not a FITS file (it does not "
                                        "begin with SIMPLE = T)", g->spec);
                if (check_card(card, &v, why, sizeof why))
                    return fail(g, card_no, key, "%s", why);
                if (card_no == 1 && hdu == 1 && (strcmp(key, "SIMPLE") || v.kind != V_LOG))
                    return sv_error_set(g->err, SV_ERR_IO,
                                        "%s: cannot open as FITS: not a FITS file (it does not begin with "
                                        "SIMPLE = T)", g->spec);
                if (!strcmp(key, "END")) {
                    end = 1;
                    break;
                }
                if (note_card(g, card_no, key, &v))
                    return g->err ? g->err->status : SV_ERR_FORMAT;
            }
        }
        unsigned long long data = 0;
        if (check_hdu(g, &data))
            return g->err ? g->err->status : SV_ERR_FORMAT;
        unsigned long long there = src_skip(s, data);
        if (there < data) {
            const hdu_info *hh = &g->h;
            return truncated(g, "the header claims %llu bytes of data (BITPIX = %lld, "
                        "NAXIS1 = %lld, NAXIS2 = %lld, PCOUNT = %lld) but the file holds "
                        "only %llu more", data, hh->bitpix, hh->naxis > 0 ? hh->naxisn[0] : 0,
                        hh->naxis > 1 ? hh->naxisn[1] : 0, hh->has_pcount ? hh->pcount : 0,
                        there);
        }
        unsigned long long pad = (BLOCK - data % BLOCK) % BLOCK;
        if (src_skip(s, pad) < pad)
            return SV_OK; /* missing final padding: cfitsio copes */
    }
}

/* Is the first len bytes of name, plus suffix, an existing file?  It is
 * copied into path (cap bytes).  1: a regular file, -1: something else,
 * 0: nothing there. */
static int try_file(const char *name, size_t len, const char *suffix, char *path, size_t cap)
{
    struct stat st;
    if (len + strlen(suffix) >= cap)
        return 0;
    memcpy(path, name, len);
    strcpy(path + len, suffix);
    if (stat(path, &st))
        return 0;
    return S_ISREG(st.st_mode) ? 1 : -1;
}

/* A gzipped file: the whole stream decompresses, and its trailer (ISIZE,
 * the size modulo 2^32 that cfitsio allocates for the file) tells the
 * truth. */
static int check_gzip(guard *g, src *s, const char *path)
{
    while (src_skip(s, 1ULL << 30) == 1ULL << 30)
        ;
    if (s->damaged)
        return sv_error_set(g->err, SV_ERR_FORMAT, "%s: a damaged gzip stream", g->spec);
    unsigned char t[4];
    FILE *fp = fopen(path, "rb");
    int ok = fp && fseek(fp, -4, SEEK_END) == 0 && fread(t, 1, 4, fp) == 4;
    if (fp)
        fclose(fp);
    if (!ok)
        return sv_error_set(g->err, SV_ERR_IO, "%s: cannot read the gzip trailer", g->spec);
    unsigned long isize = t[0] | (unsigned long)t[1] << 8 | (unsigned long)t[2] << 16 |
                          (unsigned long)t[3] << 24;
    if (isize != (s->pos & 0xffffffffUL))
        return sv_error_set(g->err, SV_ERR_FORMAT,
                            "%s: the gzip trailer claims %lu bytes but the stream holds %llu",
                            g->spec, isize, s->pos);
    return SV_OK;
}

/* The file a cfitsio name refers to, into path (cap bytes): the name
 * itself, else the name without its extended syntax ("[...]", "+n"), else
 * that with ".gz" (cfitsio's fallback).  1 when found, 0 when there is no
 * such file (or it is not a local file), -1 when it is there but not a
 * regular file. */
static int local_file(const char *spec, char *path, size_t cap)
{
    if (!strncmp(spec, "file://", 7))
        spec += 7;
    if (!strcmp(spec, "-") || !strncmp(spec, "stdin", 5) || strstr(spec, "://"))
        return 0;
    size_t n = strlen(spec), base = n;
    const char *br = strchr(spec, '['), *plus = strrchr(spec, '+');
    if (br)
        base = (size_t)(br - spec);
    else if (plus && plus[1] && strspn(plus + 1, "0123456789") == strlen(plus + 1))
        base = (size_t)(plus - spec);
    int r = try_file(spec, n, "", path, cap);
    if (!r && base < n)
        r = try_file(spec, base, "", path, cap);
    if (!r)
        r = try_file(spec, base, ".gz", path, cap);
    return r;
}

int sv_fits_guard_file(const char *spec, sv_error *err)
{
    char path[4096];
    if (!spec)
        return SV_OK;
    int found = local_file(spec, path, sizeof path);
    if (found == 0)
        return SV_OK;
    if (found < 0)
        return sv_error_set(err, SV_ERR_IO, "%s: not a regular file", spec);
    struct stat st;
    gzFile gz = gzopen(path, "rb");
    if (!gz || stat(path, &st)) {
        int e = errno;
        if (gz)
            gzclose(gz);
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open: %s", spec, strerror(e));
    }
    guard g = {spec, err, {0}};
    g.h.col = calloc(MAXCOL, sizeof *g.h.col);
    if (!g.h.col) {
        gzclose(gz);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", spec);
    }
    src s = {gz, 0, 0, (unsigned long long)st.st_size, 0};
    char first[2];
    size_t got = src_read(&s, first, 2);
    s.direct = gzdirect(gz);
    int rc;
    if (s.direct && got == 2 &&
        (((unsigned char)first[0] == 0x1f && (unsigned char)first[1] == 0x9d) ||
         !memcmp(first, "BZ", 2) || !memcmp(first, "PK", 2)))
        rc = sv_error_set(err, SV_ERR_FORMAT, "%s: compressed with compress, bzip2 or zip; "
                          "stampvet reads plain and gzipped FITS files", spec);
    else if (gzclose(gz), !(gz = s.gz = gzopen(path, "rb")))
        rc = sv_error_set(err, SV_ERR_IO, "%s: cannot read", spec);
    else {
        s.pos = 0;
        rc = walk(&g, &s);
        if (!s.direct && (!rc || s.damaged))
            rc = check_gzip(&g, &s, path);
    }
    free(g.h.col);
    if (gz)
        gzclose(gz);
    return rc;
}
