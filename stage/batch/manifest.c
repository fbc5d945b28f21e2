/* manifest.c — see manifest.h. */
#include "batch/manifest.h"
#include "fits/fits_guard.h"

#include <ctype.h>
#include <errno.h>
#include <fitsio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "fits/fits_error.h"

/* ---- roles of fields -------------------------------------------------- */

enum role { R_SCI, R_REF, R_DIFF, R_DET, R_MASK, R_OUT, R_ID, R_N, R_OVERRIDE = -1 };

static const char *const role_names[R_N] = {"science", "reference", "difference",
                                            "detections", "mask", "output", "id"};

static enum role role_of_name(const char *name)
{
    static const struct {
        const char *name;
        enum role role;
    } names[] = {
        {"science", R_SCI},    {"sci", R_SCI},        {"reference", R_REF},
        {"ref", R_REF},        {"difference", R_DIFF}, {"diff", R_DIFF},
        {"detections", R_DET}, {"det", R_DET},         {"mask", R_MASK},
        {"output", R_OUT},     {"out", R_OUT},         {"id", R_ID},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0)
            return names[i].role;
    return R_OVERRIDE;
}

/* ---- small string helpers --------------------------------------------- */

static int valid_key(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

static char *dup_lower(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        d[i] = (char)tolower((unsigned char)s[i]);
    d[n] = '\0';
    return d;
}

static char *join_path(const char *basedir, const char *path)
{
    if (!basedir || !*basedir || path[0] == '/') {
        return strdup(path);
    }
    size_t nb = strlen(basedir), np = strlen(path);
    char *r = malloc(nb + np + 2);
    if (!r)
        return NULL;
    memcpy(r, basedir, nb);
    size_t k = nb;
    if (basedir[nb - 1] != '/')
        r[k++] = '/';
    memcpy(r + k, path, np + 1);
    return r;
}

/* ---- the manifest under construction ---------------------------------- */

typedef struct builder {
    sv_manifest *m;
    size_t cap;
    const char *name;     /* for messages */
    const char *basedir;
} builder;

static void entry_free(sv_manifest_entry *e)
{
    free((char *)e->science);
    free((char *)e->reference);
    free((char *)e->difference);
    free((char *)e->detections);
    free((char *)e->mask);
    free((char *)e->output);
    free((char *)e->id);
    for (size_t i = 0; i < e->n_overrides; i++) {
        free((char *)e->overrides[i].key);
        free((char *)e->overrides[i].value);
    }
    free((dia_kv *)e->overrides);
}

void sv_manifest_free(sv_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        entry_free(&m->entries[i]);
    free(m->entries);
    free(m->path);
    free(m);
}

const char *sv_manifest_override(const sv_manifest_entry *e, const char *key)
{
    for (size_t i = 0; i < e->n_overrides; i++)
        if (strcmp(e->overrides[i].key, key) == 0)
            return e->overrides[i].value;
    return NULL;
}

/* The exposure name from an output path: the file name without the
 * directory and without .fits/.fit/.fts (and .gz/.fz after them). */
static char *id_from_output(const char *out)
{
    const char *base = strrchr(out, '/');
    base = base ? base + 1 : out;
    size_t n = strlen(base);
    static const char *const sfx[] = {".gz", ".fz"};
    for (size_t i = 0; i < 2; i++) {
        size_t k = strlen(sfx[i]);
        if (n > k && strcasecmp(base + n - k, sfx[i]) == 0) {
            n -= k;
            break;
        }
    }
    static const char *const ext[] = {".fits", ".fit", ".fts"};
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(ext[i]);
        if (n > k && strncasecmp(base + n - k, ext[i], k) == 0) {
            n -= k;
            break;
        }
    }
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, base, n);
        r[n] = '\0';
    }
    return r;
}

/* A pending key=value pair: key already lower-cased and validated. */
typedef struct kvbuf {
    dia_kv *kv;
    size_t n, cap;
} kvbuf;

static int kv_push(kvbuf *b, const char *key, size_t nkey, const char *value,
                   const builder *bl, int line, sv_error *err)
{
    char *k = dup_lower(key, nkey);
    if (!k)
        return sv_error_set(err, SV_ERR_NOMEM, "%s:%d: out of memory", bl->name, line);
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->kv[i].key, k) == 0) {
            sv_error_set(err, SV_ERR_FORMAT, "%s:%d: override '%s' given twice",
                         bl->name, line, k);
            free(k);
            return SV_ERR_FORMAT;
        }
    if (role_of_name(k) != R_OVERRIDE && strcmp(k, "id") != 0) {
        sv_error_set(err, SV_ERR_FORMAT,
                     "%s:%d: '%s' names a manifest column and cannot be an override",
                     bl->name, line, k);
        free(k);
        return SV_ERR_FORMAT;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4;
        dia_kv *nk = realloc(b->kv, cap * sizeof *nk);
        if (!nk) {
            free(k);
            return sv_error_set(err, SV_ERR_NOMEM, "%s:%d: out of memory", bl->name, line);
        }
        b->kv = nk;
        b->cap = cap;
    }
    char *v = strdup(value);
    if (!v) {
        free(k);
        return sv_error_set(err, SV_ERR_NOMEM, "%s:%d: out of memory", bl->name, line);
    }
    b->kv[b->n].key = k;
    b->kv[b->n].value = v;
    b->n++;
    return SV_OK;
}

static void kv_free(kvbuf *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free((char *)b->kv[i].key);
        free((char *)b->kv[i].value);
    }
    free(b->kv);
    b->kv = NULL;
    b->n = b->cap = 0;
}

static int is_none(const char *s)
{
    return !s || !*s || strcmp(s, "-") == 0;
}

/* Add one exposure from its fields (indexed by role; NULL = absent) and its
 * overrides (taken over, emptied). */
static int builder_add(builder *bl, const char *f[R_N], kvbuf *ov, int line, sv_error *err)
{
    static const enum role required[] = {R_SCI, R_REF, R_DIFF, R_DET, R_OUT};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!f[required[i]] || !*f[required[i]])
            return sv_error_set(err, SV_ERR_FORMAT, "%s:%d: no %s file given", bl->name,
                                line, role_names[required[i]]);
    sv_manifest *m = bl->m;
    if (m->n == bl->cap) {
        size_t cap = bl->cap ? 2 * bl->cap : 16;
        sv_manifest_entry *ne = realloc(m->entries, cap * sizeof *ne);
        if (!ne)
            return sv_error_set(err, SV_ERR_NOMEM, "%s:%d: out of memory", bl->name, line);
        m->entries = ne;
        bl->cap = cap;
    }
    sv_manifest_entry *e = &m->entries[m->n];
    memset(e, 0, sizeof *e);
    e->line = line;
    e->science = join_path(bl->basedir, f[R_SCI]);
    e->reference = join_path(bl->basedir, f[R_REF]);
    e->difference = join_path(bl->basedir, f[R_DIFF]);
    e->detections = join_path(bl->basedir, f[R_DET]);
    e->mask = is_none(f[R_MASK]) ? NULL : join_path(bl->basedir, f[R_MASK]);
    e->output = join_path(bl->basedir, f[R_OUT]);
    /* `id` may come as a column or as an override; it is not a stage key */
    const char *id = f[R_ID] && *f[R_ID] ? f[R_ID] : NULL;
    dia_kv id_kv = {NULL, NULL};
    size_t keep = 0;
    for (size_t i = 0; i < ov->n; i++) {
        if (strcmp(ov->kv[i].key, "id") == 0) {
            if (id) {
                entry_free(e);
                return sv_error_set(err, SV_ERR_FORMAT, "%s:%d: id given twice",
                                    bl->name, line);
            }
            id = ov->kv[i].value;
            id_kv = ov->kv[i];
            continue;
        }
        ov->kv[keep++] = ov->kv[i];
    }
    e->id = id && *id ? strdup(id) : id_from_output(f[R_OUT]);
    free((char *)id_kv.key);
    free((char *)id_kv.value);
    ov->n = keep;
    if (!e->science || !e->reference || !e->difference || !e->detections ||
        (!is_none(f[R_MASK]) && !e->mask) || !e->output || !e->id) {
        entry_free(e);
        return sv_error_set(err, SV_ERR_NOMEM, "%s:%d: out of memory", bl->name, line);
    }
    e->overrides = ov->kv;
    e->n_overrides = keep;
    ov->kv = NULL;
    ov->n = ov->cap = 0;
    m->n++;
    return SV_OK;
}

/* ---- plain text and CSV tokenising -------------------------------------- */

#define MAX_FIELDS 256

typedef struct token {
    char *text;        /* unquoted text, in the line buffer or a copy       */
    int quoted_at;     /* index in text where the first quoted part starts, -1 */
} token;

/* Split a plain line into blank-separated fields (quotes, escapes,
 * comments).  Writes into `line` in place.  Returns the number of fields, or
 * -1 with err set. */
static int split_plain(char *line, token *tok, int max, const builder *bl, int lineno,
                       sv_error *err)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            break;
        if (n == max) {
            sv_error_set(err, SV_ERR_FORMAT, "%s:%d: more than %d fields", bl->name,
                         lineno, max);
            return -1;
        }
        char *w = p, *start = p;
        int quoted_at = -1;
        while (*p && *p != ' ' && *p != '\t') {
            if (*p == '"') {
                if (quoted_at < 0)
                    quoted_at = (int)(w - start);
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                        p++;
                    *w++ = *p++;
                }
                if (*p != '"') {
                    sv_error_set(err, SV_ERR_FORMAT, "%s:%d: unterminated quote",
                                 bl->name, lineno);
                    return -1;
                }
                p++;
            } else {
                *w++ = *p++;
            }
        }
        int end = *p != '\0';
        if (end)
            p++;
        *w = '\0';
        tok[n].text = start;
        tok[n].quoted_at = quoted_at;
        n++;
        if (!end)
            break;
    }
    return n;
}

/* Split a CSV line (csv.h; blanks around fields dropped). */
static int split_csv(char *line, token *tok, int max, const builder *bl, int lineno,
                     sv_error *err)
{
    sv_csv_field f[MAX_FIELDS];
    char why[64];
    int n = sv_csv_split(line, f, max < MAX_FIELDS ? max : MAX_FIELDS, 1, why, sizeof why);
    if (n < 0) {
        sv_error_set(err, SV_ERR_FORMAT, "%s:%d: %s", bl->name, lineno, why);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        tok[i].text = f[i].text;
        tok[i].quoted_at = f[i].quoted ? 0 : -1;
    }
    return n;
}

/* If the token is key=value with an unquoted valid key, return the key
 * length (the '=' position); otherwise 0. */
static size_t override_key_len(const token *t)
{
    const char *eq = strchr(t->text, '=');
    if (!eq)
        return 0;
    size_t k = (size_t)(eq - t->text);
    if (t->quoted_at >= 0 && (size_t)t->quoted_at <= k)
        return 0;
    return valid_key(t->text, k) ? k : 0;
}

/* One positional row (plain text, or CSV without header). */
static int add_positional(builder *bl, token *tok, int ntok, int lineno, int csv,
                          sv_error *err)
{
    const char *pos[8];
    int npos = 0;
    kvbuf ov = {0};
    for (int i = 0; i < ntok; i++) {
        size_t k = override_key_len(&tok[i]);
        if (k) {
            if (kv_push(&ov, tok[i].text, k, tok[i].text + k + 1, bl, lineno, err)) {
                kv_free(&ov);
                return err ? err->status : SV_ERR_FORMAT;
            }
            continue;
        }
        if (csv && !*tok[i].text && i == ntok - 1 && npos >= 5)
            continue; /* a trailing comma */
        if (npos == 8) {
            npos++;
            break;
        }
        pos[npos++] = tok[i].text;
    }
    if (npos != 5 && npos != 6) {
        kv_free(&ov);
        return sv_error_set(err, SV_ERR_FORMAT,
                            "%s:%d: %d positional fields, need 5 (sci ref diff "
                            "detections output) or 6 (sci ref diff detections mask "
                            "output)",
                            bl->name, lineno, npos);
    }
    const char *f[R_N] = {0};
    f[R_SCI] = pos[0];
    f[R_REF] = pos[1];
    f[R_DIFF] = pos[2];
    f[R_DET] = pos[3];
    f[R_MASK] = npos == 6 ? pos[4] : NULL;
    f[R_OUT] = pos[npos - 1];
    int rc = builder_add(bl, f, &ov, lineno, err);
    if (rc)
        kv_free(&ov);
    return rc;
}

/* A header-mapped row: col_role[i] gives the role of column i, col_key[i]
 * the override key when the role is R_OVERRIDE. */
static int add_mapped(builder *bl, const char *const *cells, int ncells,
                      const int *col_role, char *const *col_key, int lineno, sv_error *err)
{
    const char *f[R_N] = {0};
    kvbuf ov = {0};
    for (int i = 0; i < ncells; i++) {
        const char *v = cells[i];
        if (col_role[i] == R_OVERRIDE) {
            if (v && *v &&
                kv_push(&ov, col_key[i], strlen(col_key[i]), v, bl, lineno, err)) {
                kv_free(&ov);
                return err ? err->status : SV_ERR_FORMAT;
            }
        } else {
            f[col_role[i]] = v;
        }
    }
    int rc = builder_add(bl, f, &ov, lineno, err);
    if (rc)
        kv_free(&ov);
    return rc;
}

/* Map header names to roles.  Returns 0 or an error (repeated column,
 * missing required column, bad override name). */
static int map_header(const builder *bl, int lineno, const char *const *names, int n,
                      int *col_role, char **col_key, sv_error *err)
{
    int seen[R_N] = {0};
    for (int i = 0; i < n; i++) {
        col_key[i] = NULL;
        enum role r = role_of_name(names[i]);
        col_role[i] = r;
        if (r != R_OVERRIDE) {
            if (seen[r])
                return sv_error_set(err, SV_ERR_FORMAT, "%s:%d: column %s given twice",
                                    bl->name, lineno, role_names[r]);
            seen[r] = 1;
            continue;
        }
        size_t k = strlen(names[i]);
        if (!valid_key(names[i], k))
            return sv_error_set(err, SV_ERR_FORMAT,
                                "%s:%d: column '%s' is not a valid override key",
                                bl->name, lineno, names[i]);
        col_key[i] = dup_lower(names[i], k);
        if (!col_key[i])
            return sv_error_set(err, SV_ERR_NOMEM, "%s:%d: out of memory", bl->name, lineno);
    }
    static const enum role required[] = {R_SCI, R_REF, R_DIFF, R_DET, R_OUT};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!seen[required[i]])
            return sv_error_set(err, SV_ERR_FORMAT, "%s:%d: no '%s' column", bl->name,
                                lineno, role_names[required[i]]);
    return SV_OK;
}

/* ---- duplicates ---------------------------------------------------------- */

static int cmp_by_output(const void *a, const void *b)
{
    const sv_manifest_entry *const *x = a, *const *y = b;
    int c = strcmp((*x)->output, (*y)->output);
    return c ? c : (*x)->line - (*y)->line;
}

static int check_duplicates(const builder *bl, sv_error *err)
{
    sv_manifest *m = bl->m;
    if (m->n < 2)
        return SV_OK;
    const sv_manifest_entry **v = malloc(m->n * sizeof *v);
    if (!v)
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", bl->name);
    for (size_t i = 0; i < m->n; i++)
        v[i] = &m->entries[i];
    qsort(v, m->n, sizeof *v, cmp_by_output);
    int rc = SV_OK;
    for (size_t i = 1; i < m->n; i++)
        if (strcmp(v[i]->output, v[i - 1]->output) == 0) {
            rc = sv_error_set(err, SV_ERR_FORMAT,
                              "%s:%d: output '%s' is also the output of line %d",
                              bl->name, v[i]->line, v[i]->output, v[i - 1]->line);
            break;
        }
    free(v);
    return rc;
}

/* ---- text --------------------------------------------------------------- */


static int has_unquoted_comma(const char *s)
{
    int q = 0;
    for (; *s; s++) {
        if (*s == '"')
            q = !q;
        else if (*s == ',' && !q)
            return 1;
    }
    return 0;
}

static int is_comment_or_blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0' || *s == '#';
}

int sv_manifest_parse_text(const char *text, size_t len, const char *name,
                           const char *basedir, int csv, sv_manifest **out, sv_error *err)
{
    *out = NULL;
    sv_manifest *m = calloc(1, sizeof *m);
    char *buf = malloc(len + 1);
    token *tok = malloc(MAX_FIELDS * sizeof *tok);
    int *col_role = NULL;
    char **col_key = NULL;
    int ncols = 0, rc = SV_OK;
    if (!m || !buf || !tok) {
        rc = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", name);
        goto done;
    }
    m->path = strdup(name);
    if (!m->path) {
        rc = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", name);
        goto done;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    builder bl = {.m = m, .name = name, .basedir = basedir};
    int lineno = 0, first = 1;
    char *save = buf;
    while (save) {
        char *line = save;
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r')
            line[--ll] = '\0';
        if (strlen(line) != ll) {
            rc = sv_error_set(err, SV_ERR_FORMAT, "%s:%d: NUL byte in a text manifest",
                              name, lineno);
            goto done;
        }
        if (is_comment_or_blank(line))
            continue;
        if (first) {
            if (!csv && has_unquoted_comma(line))
                csv = 1;
        }
        int ntok = csv ? split_csv(line, tok, MAX_FIELDS, &bl, lineno, err)
                       : split_plain(line, tok, MAX_FIELDS, &bl, lineno, err);
        if (ntok < 0) {
            rc = err ? err->status : SV_ERR_FORMAT;
            goto done;
        }
        if (ntok == 0)
            continue;
        if (first) {
            first = 0;
            if (csv && (strcasecmp(tok[0].text, "science") == 0 ||
                        strcasecmp(tok[0].text, "sci") == 0)) {
                ncols = ntok;
                col_role = malloc(ncols * sizeof *col_role);
                col_key = calloc(ncols, sizeof *col_key);
                const char **names = malloc(ncols * sizeof *names);
                if (!col_role || !col_key || !names) {
                    free(names);
                    rc = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", name);
                    goto done;
                }
                for (int i = 0; i < ncols; i++)
                    names[i] = tok[i].text;
                rc = map_header(&bl, lineno, names, ncols, col_role, col_key, err);
                free(names);
                if (rc)
                    goto done;
                continue;
            }
        }
        if (col_role) {
            if (ntok != ncols) {
                rc = sv_error_set(err, SV_ERR_FORMAT,
                                  "%s:%d: %d fields, the header has %d columns", name,
                                  lineno, ntok, ncols);
                goto done;
            }
            const char *cells[MAX_FIELDS];
            for (int i = 0; i < ntok; i++)
                cells[i] = tok[i].text;
            rc = add_mapped(&bl, cells, ntok, col_role, col_key, lineno, err);
        } else {
            rc = add_positional(&bl, tok, ntok, lineno, csv, err);
        }
        if (rc)
            goto done;
    }
    if (m->n == 0) {
        rc = sv_error_set(err, SV_ERR_FORMAT, "%s: no exposure listed", name);
        goto done;
    }
    rc = check_duplicates(&bl, err);
done:
    if (col_key)
        for (int i = 0; i < ncols; i++)
            free(col_key[i]);
    free(col_key);
    free(col_role);
    free(tok);
    free(buf);
    if (rc) {
        sv_manifest_free(m);
        return rc;
    }
    *out = m;
    return SV_OK;
}

/* ---- FITS tables ------------------------------------------------------- */

static int read_fits(const char *path, const char *basedir, sv_manifest **out,
                     sv_error *err)
{
    *out = NULL;
    fitsfile *f = NULL;
    int status = 0, hdutype = 0, nhdu = 0;
    char msg[FLEN_ERRMSG];
    if (sv_fits_guard_file(path, err))
        return err ? err->status : SV_ERR_FORMAT;
    if (fits_open_diskfile(&f, path, READONLY, &status)) {
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot open as FITS", status);
    }
    fits_get_num_hdus(f, &nhdu, &status);
    int found = 0;
    for (int h = 2; h <= nhdu && !status; h++) {
        fits_movabs_hdu(f, h, &hdutype, &status);
        if (!status && (hdutype == BINARY_TBL || hdutype == ASCII_TBL)) {
            found = 1;
            break;
        }
    }
    if (status || !found) {
        if (status)
            fits_get_errstatus(status, msg);
        int rc = sv_error_set(err, SV_ERR_FORMAT, "%s: %s", path,
                              status ? msg : "no table HDU in the FITS manifest");
        status = 0;
        fits_close_file(f, &status);
        return rc;
    }
    long nrows = 0;
    int ncols = 0;
    fits_get_num_rows(f, &nrows, &status);
    fits_get_num_cols(f, &ncols, &status);
    sv_manifest *m = calloc(1, sizeof *m);
    int *col_role = calloc(ncols ? ncols : 1, sizeof *col_role);
    char **col_key = calloc(ncols ? ncols : 1, sizeof *col_key);
    char **names = calloc(ncols ? ncols : 1, sizeof *names);
    char **cells = calloc(ncols ? ncols : 1, sizeof *cells);
    int *width = calloc(ncols ? ncols : 1, sizeof *width);
    int rc = SV_OK;
    builder bl = {.m = m, .name = path, .basedir = basedir};
    if (!m || !col_role || !col_key || !names || !cells || !width ||
        !(m->path = strdup(path))) {
        rc = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (ncols > MAX_FIELDS) {
        rc = sv_error_set(err, SV_ERR_FORMAT, "%s: more than %d columns", path, MAX_FIELDS);
        goto done;
    }
    for (int c = 0; c < ncols && !status; c++) {
        char key[FLEN_KEYWORD], val[FLEN_VALUE];
        snprintf(key, sizeof key, "TTYPE%d", c + 1);
        if (fits_read_key(f, TSTRING, key, val, NULL, &status)) {
            rc = sv_error_set(err, SV_ERR_FORMAT, "%s: column %d has no name (TTYPE%d)",
                              path, c + 1, c + 1);
            goto done;
        }
        names[c] = strdup(sv_csv_trim(val));
        int typecode = 0;
        long repeat = 0, w = 0;
        fits_get_coltype(f, c + 1, &typecode, &repeat, &w, &status);
        if (!status && typecode != TSTRING && repeat != 1) {
            rc = sv_error_set(err, SV_ERR_FORMAT,
                              "%s: column '%s' is a vector; manifest columns are scalars",
                              path, names[c] ? names[c] : "?");
            goto done;
        }
        int dw = 0;
        fits_get_col_display_width(f, c + 1, &dw, &status);
        width[c] = (typecode == TSTRING ? (int)repeat : 0) + dw + 32;
        cells[c] = malloc((size_t)width[c] + 1);
        if (!names[c] || !cells[c]) {
            rc = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    if (status)
        goto fitserr;
    rc = map_header(&bl, 0, (const char *const *)names, ncols, col_role, col_key, err);
    if (rc) {
        /* "FILE:0:" reads oddly for a FITS header: say "header" */
        char why[SV_ERROR_TEXT_MAX];
        snprintf(why, sizeof why, "%s", err ? err->text : "");
        size_t np = strlen(path);
        const char *rest = strncmp(why, path, np) == 0 && strncmp(why + np, ":0: ", 4) == 0
                               ? why + np + 4
                               : why;
        sv_error_set(err, rc, "%s: table header: %s", path, rest);
        goto done;
    }
    for (long r = 1; r <= nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            int anynul = 0;
            char *p = cells[c];
            if (fits_read_col_str(f, c + 1, r, 1, 1, "", &p, &anynul, &status))
                goto fitserr;
            char *t = sv_csv_trim(cells[c]);
            memmove(cells[c], t, strlen(t) + 1);
        }
        rc = add_mapped(&bl, (const char *const *)cells, ncols, col_role, col_key, (int)r,
                        err);
        if (rc)
            goto done;
    }
    if (m->n == 0) {
        rc = sv_error_set(err, SV_ERR_FORMAT, "%s: no exposure listed", path);
        goto done;
    }
    rc = check_duplicates(&bl, err);
    goto done;
fitserr:
    fits_get_errstatus(status, msg);
    rc = sv_error_set(err, SV_ERR_FORMAT, "%s: %s", path, msg);
done:
    status = 0;
    fits_close_file(f, &status);
    for (int c = 0; c < ncols; c++) {
        if (col_key)
            free(col_key[c]);
        if (names)
            free(names[c]);
        if (cells)
            free(cells[c]);
    }
    free(col_key);
    free(col_role);
    free(names);
    free(cells);
    free(width);
    if (rc) {
        sv_manifest_free(m);
        return rc;
    }
    *out = m;
    return SV_OK;
}

/* ---- files --------------------------------------------------------------- */

static int ends_with(const char *s, const char *sfx)
{
    size_t n = strlen(s), k = strlen(sfx);
    return n >= k && strcasecmp(s + n - k, sfx) == 0;
}

int sv_manifest_read(const char *path, sv_manifest **out, sv_error *err)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open the manifest: %s", path,
                            strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    if (!text) {
        fclose(fp);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (len == cap) {
            char *t = realloc(text, cap * 2);
            if (!t) {
                free(text);
                fclose(fp);
                return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
            }
            text = t;
            cap *= 2;
        }
        size_t k = fread(text + len, 1, cap - len, fp);
        len += k;
        if (k == 0)
            break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(text);
        return sv_error_set(err, SV_ERR_IO, "%s: read error", path);
    }
    char *basedir = strdup(path);
    if (!basedir) {
        free(text);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    char *slash = strrchr(basedir, '/');
    if (slash)
        slash[slash == basedir ? 1 : 0] = '\0';
    else
        basedir[0] = '\0';
    int rc;
    if (len >= 9 && memcmp(text, "SIMPLE  =", 9) == 0)
        rc = read_fits(path, basedir, out, err);
    else
        rc = sv_manifest_parse_text(text, len, path, basedir, ends_with(path, ".csv"), out,
                                    err);
    free(text);
    free(basedir);
    return rc;
}
