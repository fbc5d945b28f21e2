/* det_text.c — see det_text.h. */
#include "data/det_text.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/csv.h"

#define MAX_LINE (1L << 20)   /* bytes of one line                          */
#define MAX_COLS 999           /* FITS TFIELDS                               */
#define MAX_NAME 68            /* a TTYPEn value                             */
#define MAX_TEXT 1024          /* bytes of one text value                    */
#define CHUNK 4096             /* rows per write                             */

/* ---- what a file is ------------------------------------------------------ */

sv_det_format sv_det_text_sniff(const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) || !S_ISREG(st.st_mode))
        return SV_DET_FITS;
    FILE *f = fopen(path, "rb");
    if (!f)
        return SV_DET_FITS;
    unsigned char b[4096];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if ((n >= 9 && !memcmp(b, "SIMPLE  =", 9)) || (n >= 2 && b[0] == 0x1f && b[1] == 0x8b))
        return SV_DET_FITS;
    if (n == 0)
        return SV_DET_UNKNOWN;
    for (size_t i = 0; i < n; i++)
        if (b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r')
            return SV_DET_UNKNOWN;
    if (n >= 7 && !memcmp(b, "# %ECSV", 7))
        return SV_DET_ECSV;
    for (size_t i = 0; i < n;) { /* the first line not blank or a comment */
        size_t e = i;
        while (e < n && b[e] != '\n')
            e++;
        size_t k = i;
        while (k < e && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r'))
            k++;
        if (k < e && b[k] != '#')
            return memchr(b + k, ',', e - k) ? SV_DET_CSV : SV_DET_UNKNOWN;
        i = e + 1;
    }
    return SV_DET_UNKNOWN;
}

/* ---- the reader ------------------------------------------------------------ */

typedef enum kind { K_BOOL, K_INT, K_REAL, K_TEXT } kind;

typedef struct column {
    char name[MAX_NAME + 1];
    char unit[MAX_NAME + 1];
    kind k;
    char code;                 /* FITS TFORM letter                        */
    long long lo, hi;          /* range of an ECSV integer type            */
    int width;                 /* K_TEXT: longest value, >= 1              */
    int csv_int, csv_real;     /* CSV: every value so far parses as one    */
    int empty;                 /* CSV: an empty cell seen                  */
    void *buf;                 /* CHUNK values of the column's type        */
    char **text;               /* K_TEXT: CHUNK pointers into buf          */
} column;

typedef struct reader {
    const char *path;
    sv_det_format format;
    sv_error *err;
    FILE *f;
    char *line;
    size_t cap;
    long lineno;
    char delim;                /* ',' or ' '                               */
    int ncols;
    column *col;
    sv_csv_field *fld;
    long data_line;            /* line number of the first data row - 1   */
    long data_at;              /* file offset of the first data row        */
    long long nrows;
} reader;

static int fail(reader *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(reader *r, int code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->lineno > 0)
        return sv_error_set(r->err, code, "%s: line %ld: %s", r->path, r->lineno, msg);
    return sv_error_set(r->err, code, "%s: %s", r->path, msg);
}

/* The next line without its line end: 1, 0 at the end of the file, or an
 * error status. */
static int next_line(reader *r)
{
    errno = 0;
    ssize_t n = getline(&r->line, &r->cap, r->f);
    if (n < 0) {
        if (ferror(r->f))
            return fail(r, SV_ERR_IO, "cannot read: %s", strerror(errno ? errno : EIO));
        return 0;
    }
    r->lineno++;
    if (n > MAX_LINE)
        return fail(r, SV_ERR_FORMAT, "a line of %zd bytes (at most %ld)", n, MAX_LINE);
    if ((size_t)n != strlen(r->line))
        return fail(r, SV_ERR_FORMAT, "a NUL byte in the text");
    while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
        r->line[--n] = '\0';
    return 1;
}

static int blank_or_comment(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return !*s || *s == '#';
}

/* Split the current line into r->fld. */
static int split(reader *r, int *nf)
{
    char why[128];
    int n = r->delim == ' ' ? sv_csv_split_blanks(r->line, r->fld, MAX_COLS + 1, why, sizeof why)
                            : sv_csv_split(r->line, r->fld, MAX_COLS + 1, 1, why, sizeof why);
    if (n < 0)
        return fail(r, SV_ERR_FORMAT, "%s", why);
    *nf = n;
    return SV_OK;
}

/* ---- values ----------------------------------------------------------------- */

static int parse_int(const char *s, long long *v)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return errno || *end ? -1 : 0;
}

static int parse_real(const char *s, double *v)
{
    if (!*s)
        return -1;
    char *end;
    *v = strtod(s, &end);
    return *end ? -1 : 0;
}

static int parse_bool(const char *s, char *v)
{
    if (!strcasecmp(s, "true") || !strcmp(s, "1"))
        *v = 1;
    else if (!strcasecmp(s, "false") || !strcmp(s, "0") || !*s)
        *v = 0;
    else
        return -1;
    return 0;
}

static int check_name(reader *r, const char *name)
{
    if (!*name)
        return fail(r, SV_ERR_FORMAT, "an empty column name");
    if (strlen(name) > MAX_NAME)
        return fail(r, SV_ERR_FORMAT, "column name '%.40s...' longer than %d characters", name,
                    MAX_NAME);
    for (const char *p = name; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return fail(r, SV_ERR_FORMAT, "column name '%.40s' is not printable ASCII", name);
    return SV_OK;
}

/* ---- the ECSV header ---------------------------------------------------------- */

/* A YAML scalar without its quotes and surrounding blanks, in place. */
static char *yaml_scalar(char *s)
{
    s = sv_csv_trim(s);
    size_t n = strlen(s);
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
        char q = s[0], *w = s;
        for (size_t i = 1; i + 1 < n; i++) {
            if (s[i] == q && q == '\'' && s[i + 1] == '\'')
                i++;
            *w++ = s[i];
        }
        *w = '\0';
    }
    return s;
}

static const struct {
    const char *name;
    kind k;
    char code;
    long long lo, hi;
} ecsv_types[] = {
    {"bool", K_BOOL, 'L', 0, 1},
    {"int8", K_INT, 'I', INT8_MIN, INT8_MAX},
    {"int16", K_INT, 'I', INT16_MIN, INT16_MAX},
    {"int32", K_INT, 'J', INT32_MIN, INT32_MAX},
    {"int64", K_INT, 'K', LLONG_MIN, LLONG_MAX},
    {"uint8", K_INT, 'B', 0, UINT8_MAX},
    {"uint16", K_INT, 'J', 0, UINT16_MAX},
    {"uint32", K_INT, 'K', 0, UINT32_MAX},
    {"uint64", K_INT, 'K', 0, LLONG_MAX},
    {"float16", K_REAL, 'E', 0, 0},
    {"float32", K_REAL, 'E', 0, 0},
    {"float64", K_REAL, 'D', 0, 0},
    {"float128", K_REAL, 'D', 0, 0},
    {"string", K_TEXT, 'A', 0, 0},
};

/* key: value of column c (an ECSV datatype entry). */
static int ecsv_column_key(reader *r, column *c, char *item)
{
    char *colon = strchr(item, ':');
    if (!colon)
        return fail(r, SV_ERR_FORMAT, "ECSV header: '%.40s' is not 'key: value'", item);
    *colon = '\0';
    char *key = yaml_scalar(item), *val = yaml_scalar(colon + 1);
    if (!strcmp(key, "name")) {
        int st = check_name(r, val);
        if (st)
            return st;
        snprintf(c->name, sizeof c->name, "%s", val);
    } else if (!strcmp(key, "unit")) {
        size_t k = 0;
        for (const char *p = val; *p && k < MAX_NAME; p++)
            c->unit[k++] = (*p >= 0x20 && *p <= 0x7e) ? *p : '?';
        c->unit[k] = '\0';
    } else if (!strcmp(key, "datatype")) {
        size_t i;
        for (i = 0; i < sizeof ecsv_types / sizeof ecsv_types[0]; i++)
            if (!strcmp(val, ecsv_types[i].name))
                break;
        if (i == sizeof ecsv_types / sizeof ecsv_types[0])
            return fail(r, SV_ERR_FORMAT, "ECSV column '%s': datatype '%.20s' is not one a "
                        "detection table holds (bool, int8..uint64, float16..float64, string)",
                        c->name, val);
        c->k = ecsv_types[i].k;
        c->code = ecsv_types[i].code;
        c->lo = ecsv_types[i].lo;
        c->hi = ecsv_types[i].hi;
    } else if (!strcmp(key, "subtype")) {
        return fail(r, SV_ERR_FORMAT, "ECSV column '%s' is an array (subtype %.30s); a "
                    "detection table holds one value per cell", c->name, val);
    }
    return SV_OK; /* description, format, meta: not needed */
}

/* A flow mapping "{k: v, k: v}" into column c. */
static int ecsv_flow(reader *r, column *c, char *s)
{
    size_t n = strlen(s);
    if (n < 2 || s[n - 1] != '}')
        return fail(r, SV_ERR_FORMAT, "ECSV header: an unterminated '{' mapping");
    s[n - 1] = '\0';
    char *item = s + 1, quote = 0;
    int depth = 0;
    for (char *p = item;; p++) {
        if (quote) {
            if (!*p)
                return fail(r, SV_ERR_FORMAT, "ECSV header: an unterminated quote");
            if (*p == quote)
                quote = 0;
            continue;
        }
        if (*p == '\'' || *p == '"')
            quote = *p;
        else if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && depth > 0)
            depth--;
        else if (!*p || (*p == ',' && depth == 0)) {
            int end = !*p;
            *p = '\0';
            if (*sv_csv_trim(item)) {
                int st = depth == 0 ? ecsv_column_key(r, c, item) : SV_OK;
                if (st)
                    return st;
            }
            if (end)
                return SV_OK;
            item = p + 1;
        }
    }
}

/* The '#' lines of an ECSV header (the current line is "# %ECSV ..."),
 * up to the first data line, which is left in r->line. */
static int ecsv_header(reader *r)
{
    int in_types = 0, nest = -1, st;
    column *cur = NULL;
    for (;;) {
        if ((st = next_line(r)) <= 0)
            return st < 0 ? st : fail(r, SV_ERR_FORMAT, "ECSV: no data header line");
        if (r->line[0] != '#')
            return SV_OK;
        char *y = r->line + 1;
        if (*y == ' ')
            y++;
        if (!strncmp(y, "---", 3) && !*sv_csv_trim(y + 3))
            continue;
        int indent = (int)strspn(y, " ");
        char *t = y + indent;
        if (!*t)
            continue;
        if (indent == 0 && *t != '-') { /* a top-level key */
            in_types = !strncmp(t, "datatype:", 9);
            cur = NULL;
            if (!strncmp(t, "delimiter:", 10)) {
                char *d = yaml_scalar(t + 10);
                if (strcmp(d, ",") && strcmp(d, " "))
                    return fail(r, SV_ERR_FORMAT, "ECSV delimiter '%.8s' (stampvet reads ' ' "
                                "and ',')", d);
                r->delim = d[0];
            }
            continue;
        }
        if (!in_types)
            continue;
        if (indent == 0 && *t == '-' && (t[1] == ' ' || !t[1])) { /* a new column */
            if (r->ncols == MAX_COLS)
                return fail(r, SV_ERR_FORMAT, "more than %d columns", MAX_COLS);
            cur = &r->col[r->ncols++];
            memset(cur, 0, sizeof *cur);
            cur->k = K_TEXT; /* ECSV's default datatype: string */
            cur->code = 'A';
            nest = -1;
            t = sv_csv_trim(t + 1);
            indent = 2;
            if (*t == '{') {
                if ((st = ecsv_flow(r, cur, t)))
                    return st;
                continue;
            }
            if (!*t)
                continue;
        }
        if (!cur)
            return fail(r, SV_ERR_FORMAT, "ECSV header: '%.40s' outside a column", t);
        if (nest >= 0 && indent > nest)
            continue; /* inside a nested block (a column's meta:) */
        nest = -1;
        size_t n = strlen(t);
        if (*t == '-' || !strncmp(t, "meta:", 5) || (n > 0 && t[n - 1] == ':')) {
            nest = indent; /* a nested block opens: not needed */
            continue;
        }
        if ((st = ecsv_column_key(r, cur, t)))
            return st;
    }
}

/* ---- pass 1: names, types, widths, rows -------------------------------------- */

static int header_names(reader *r)
{
    int nf, st;
    if ((st = split(r, &nf)))
        return st;
    if (r->format == SV_DET_ECSV) {
        if (nf != r->ncols)
            return fail(r, SV_ERR_FORMAT, "%d column names but the ECSV header declares %d", nf,
                        r->ncols);
        for (int i = 0; i < nf; i++)
            if (strcmp(r->fld[i].text, r->col[i].name))
                return fail(r, SV_ERR_FORMAT, "column %d is '%.40s' here but '%s' in the ECSV "
                            "header", i + 1, r->fld[i].text, r->col[i].name);
    } else {
        if (nf > MAX_COLS)
            return fail(r, SV_ERR_FORMAT, "more than %d columns", MAX_COLS);
        r->ncols = nf;
        for (int i = 0; i < nf; i++) {
            column *c = &r->col[i];
            memset(c, 0, sizeof *c);
            if ((st = check_name(r, r->fld[i].text)))
                return st;
            snprintf(c->name, sizeof c->name, "%s", r->fld[i].text);
            c->csv_int = c->csv_real = 1;
        }
    }
    for (int i = 0; i < r->ncols; i++)
        for (int j = 0; j < i; j++)
            if (!strcasecmp(r->col[i].name, r->col[j].name))
                return fail(r, SV_ERR_FORMAT, "two columns named '%s'", r->col[i].name);
    return SV_OK;
}

/* A value of an ECSV column, checked against its datatype. */
static int check_ecsv_value(reader *r, column *c, const char *s)
{
    long long v;
    double d;
    char b;
    if (c->k == K_INT && *s && (parse_int(s, &v) || v < c->lo || v > c->hi))
        return fail(r, SV_ERR_FORMAT, "column '%s': '%.30s' is not an integer in [%lld, %lld]",
                    c->name, s, c->lo, c->hi);
    if (c->k == K_REAL && *s && parse_real(s, &d))
        return fail(r, SV_ERR_FORMAT, "column '%s': '%.30s' is not a number", c->name, s);
    if (c->k == K_BOOL && parse_bool(s, &b))
        return fail(r, SV_ERR_FORMAT, "column '%s': '%.30s' is not True or False", c->name, s);
    return SV_OK;
}

static void infer_csv_value(column *c, const char *s)
{
    long long v;
    double d;
    if (!*s) {
        c->empty = 1;
        return;
    }
    if (c->csv_int && parse_int(s, &v))
        c->csv_int = 0;
    if (c->csv_real && parse_real(s, &d))
        c->csv_real = 0;
}

static int pass_types(reader *r)
{
    int st;
    for (;;) { /* the first data line: the column names */
        if (r->format == SV_DET_CSV && (st = next_line(r)) <= 0)
            return st < 0 ? st : fail(r, SV_ERR_FORMAT, "no header line naming the columns");
        if (r->format == SV_DET_ECSV || !blank_or_comment(r->line))
            break;
    }
    if ((st = header_names(r)))
        return st;
    r->data_line = r->lineno;
    r->data_at = ftell(r->f);
    while ((st = next_line(r)) > 0) {
        if (blank_or_comment(r->line))
            continue;
        int nf;
        if ((st = split(r, &nf)))
            return st;
        if (nf != r->ncols)
            return fail(r, SV_ERR_FORMAT, "%d fields, the header names %d columns", nf, r->ncols);
        for (int i = 0; i < nf; i++) {
            column *c = &r->col[i];
            const char *s = r->fld[i].text;
            size_t len = strlen(s);
            if (len > MAX_TEXT)
                return fail(r, SV_ERR_FORMAT, "column '%s': a value of %zu bytes (at most %d)",
                            c->name, len, MAX_TEXT);
            if ((int)len > c->width)
                c->width = (int)len;
            if (r->format == SV_DET_ECSV ? (st = check_ecsv_value(r, c, s)) : 0)
                return st;
            if (r->format == SV_DET_CSV)
                infer_csv_value(c, s);
        }
        r->nrows++;
    }
    if (st < 0)
        return st;
    for (int i = 0; i < r->ncols && r->format == SV_DET_CSV; i++) {
        column *c = &r->col[i];
        int any = c->width > 0;
        c->k = any && c->csv_int && !c->empty ? K_INT : any && c->csv_real ? K_REAL : K_TEXT;
        c->code = c->k == K_INT ? 'K' : c->k == K_REAL ? 'D' : 'A';
        c->lo = LLONG_MIN;
        c->hi = LLONG_MAX;
    }
    for (int i = 0; i < r->ncols; i++)
        if (r->col[i].width < 1)
            r->col[i].width = 1;
    return SV_OK;
}

/* ---- pass 2: the values, into the FITS table ------------------------------------ */

static int alloc_buffers(reader *r)
{
    for (int i = 0; i < r->ncols; i++) {
        column *c = &r->col[i];
        size_t per = c->k == K_TEXT ? (size_t)c->width + 1 : c->k == K_BOOL ? 1 : 8;
        c->buf = malloc(CHUNK * per);
        if (c->k == K_TEXT)
            c->text = malloc(CHUNK * sizeof *c->text);
        if (!c->buf || (c->k == K_TEXT && !c->text))
            return fail(r, SV_ERR_NOMEM, "out of memory");
        for (int k = 0; c->k == K_TEXT && k < CHUNK; k++)
            c->text[k] = (char *)c->buf + (size_t)k * per;
    }
    return SV_OK;
}

static void store(column *c, int k, const char *s)
{
    switch (c->k) {
    case K_BOOL: parse_bool(s, (char *)c->buf + k); break;
    case K_INT: {
        long long v = 0;
        if (*s)
            parse_int(s, &v);
        ((long long *)c->buf)[k] = v;
        break;
    }
    case K_REAL: {
        double d = NAN;
        if (*s)
            parse_real(s, &d);
        ((double *)c->buf)[k] = d;
        break;
    }
    case K_TEXT: snprintf(c->text[k], (size_t)c->width + 1, "%s", s); break;
    }
}

static int write_chunk(reader *r, fitsfile *fp, long long row0, int n)
{
    int status = 0;
    for (int i = 0; i < r->ncols && !status; i++) {
        column *c = &r->col[i];
        int type = c->k == K_BOOL ? TLOGICAL : c->k == K_INT ? TLONGLONG
                   : c->k == K_REAL ? TDOUBLE : TSTRING;
        fits_write_col(fp, type, i + 1, row0 + 1, 1, n, c->k == K_TEXT ? (void *)c->text : c->buf,
                       &status);
    }
    if (status) {
        char txt[FLEN_STATUS] = "";
        fits_get_errstatus(status, txt);
        return fail(r, SV_ERR_NOMEM, "cannot hold the table in memory (cfitsio: %s)", txt);
    }
    return SV_OK;
}

static int pass_values(reader *r, fitsfile *fp)
{
    int st;
    if (fseek(r->f, r->data_at, SEEK_SET))
        return fail(r, SV_ERR_IO, "cannot read it again: %s", strerror(errno));
    r->lineno = r->data_line;
    if ((st = alloc_buffers(r)))
        return st;
    long long row = 0;
    int k = 0;
    while (row + k < r->nrows && (st = next_line(r)) > 0) {
        if (blank_or_comment(r->line))
            continue;
        int nf;
        if ((st = split(r, &nf)))
            return st;
        if (nf != r->ncols)
            return fail(r, SV_ERR_FORMAT, "the file changed while it was read");
        for (int i = 0; i < nf; i++)
            store(&r->col[i], k, r->fld[i].text);
        if (++k == CHUNK) {
            if ((st = write_chunk(r, fp, row, k)))
                return st;
            row += k;
            k = 0;
        }
    }
    if (st < 0)
        return st;
    if (row + k != r->nrows)
        return fail(r, SV_ERR_FORMAT, "the file changed while it was read");
    return k ? write_chunk(r, fp, row, k) : SV_OK;
}

static int create_table(reader *r, fitsfile **fpp)
{
    int status = 0, nc = r->ncols;
    char **ttype = calloc((size_t)nc + 1, sizeof *ttype);
    char **tform = calloc((size_t)nc + 1, sizeof *tform);
    char **tunit = calloc((size_t)nc + 1, sizeof *tunit);
    char (*form)[16] = calloc((size_t)nc + 1, sizeof *form);
    if (!ttype || !tform || !tunit || !form) {
        free(ttype);
        free(tform);
        free(tunit);
        free(form);
        return fail(r, SV_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < nc; i++) {
        column *c = &r->col[i];
        if (c->k == K_TEXT)
            snprintf(form[i], sizeof form[i], "%dA", c->width);
        else
            snprintf(form[i], sizeof form[i], "1%c", c->code);
        ttype[i] = c->name;
        tform[i] = form[i];
        tunit[i] = c->unit;
    }
    fitsfile *fp = NULL;
    fits_create_file(&fp, "mem://", &status);
    fits_create_img(fp, BYTE_IMG, 0, NULL, &status);
    fits_create_tbl(fp, BINARY_TBL, (LONGLONG)r->nrows, nc, ttype, tform, tunit,
                    r->format == SV_DET_ECSV ? "ECSV" : "CSV", &status);
    free(ttype);
    free(tform);
    free(tunit);
    free(form);
    if (status) {
        char txt[FLEN_STATUS] = "";
        fits_get_errstatus(status, txt);
        if (fp)
            fits_close_file(fp, &(int){0});
        r->lineno = 0;
        return fail(r, SV_ERR_NOMEM, "cannot make the table in memory (cfitsio: %s)", txt);
    }
    *fpp = fp;
    return SV_OK;
}

int sv_det_text_read(const char *path, sv_det_format format, fitsfile **fpp, sv_error *err)
{
    *fpp = NULL;
    reader r;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.format = format;
    r.err = err;
    r.delim = format == SV_DET_ECSV ? ' ' : ',';
    if (format != SV_DET_CSV && format != SV_DET_ECSV)
        return fail(&r, SV_ERR_ARG, "not a CSV or ECSV table");
    r.f = fopen(path, "rb");
    if (!r.f)
        return fail(&r, SV_ERR_IO, "cannot open: %s", strerror(errno));
    r.col = calloc(MAX_COLS + 1, sizeof *r.col);
    r.fld = calloc(MAX_COLS + 2, sizeof *r.fld);
    fitsfile *fp = NULL;
    int st = r.col && r.fld ? SV_OK : fail(&r, SV_ERR_NOMEM, "out of memory");
    if (!st && format == SV_DET_ECSV) {
        st = next_line(&r); /* "# %ECSV 1.0" */
        st = st < 0 ? st : ecsv_header(&r);
    }
    if (!st)
        st = pass_types(&r);
    if (!st && r.ncols == 0)
        st = fail(&r, SV_ERR_FORMAT, "no columns");
    if (!st)
        st = create_table(&r, &fp);
    if (!st)
        st = pass_values(&r, fp);
    for (int i = 0; r.col && i < r.ncols; i++) {
        free(r.col[i].buf);
        free(r.col[i].text);
    }
    free(r.col);
    free(r.fld);
    free(r.line);
    fclose(r.f);
    if (st) {
        if (fp)
            fits_close_file(fp, &(int){0});
        return st;
    }
    *fpp = fp;
    return SV_OK;
}
