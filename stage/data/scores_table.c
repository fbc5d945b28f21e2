/* scores_table.c — per-stamp scores files.  See scores_table.h. */
#include "data/scores_table.h"

#include <ctype.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "core/csv.h"
#include "fits/report_file.h"
#include "data/stamp_table.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

int sv_scores_alloc(sv_scores *s, long n, int n_out, sv_error *err)
{
    size_t m = (size_t)(n > 0 ? n : 1);
    s->n = n;
    s->n_out = n_out;
    s->id = calloc(m, sizeof *s->id);
    s->row = calloc(m, sizeof *s->row);
    s->label = calloc(m, sizeof *s->label);
    s->score = calloc(m * (size_t)n_out, sizeof *s->score);
    if (!s->id || !s->row || !s->label || !s->score) {
        sv_scores_free(s);
        return sv_error_set(err, SV_ERR_NOMEM, "scores: out of memory for %ld samples", n);
    }
    return 0;
}

void sv_scores_free(sv_scores *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->row);
    free(s->label);
    free(s->score);
    s->id = NULL;
    s->row = NULL;
    s->label = NULL;
    s->score = NULL;
    s->n = 0;
}

int sv_scores_pred(const sv_scores *s, long i)
{
    const float *p = s->score + (size_t)i * s->n_out;
    if (s->binary)
        return p[0] >= s->threshold ? 1 : 0;
    int best = 0;
    for (int c = 1; c < s->n_out; c++)
        if (p[c] > p[best])
            best = c;
    return best;
}

int sv_scores_ids_from_table(const char *path, const long *rows, long n, int64_t *ids,
                             sv_error *err)
{
    sv_stamp_reader *r = sv_stamp_reader_open(path, 0, err);
    if (!r)
        return err && err->status ? err->status : SV_ERR_IO;
    long nrows = sv_stamp_reader_nrows(r);
    sv_stamp_batch b;
    int st = sv_stamp_batch_init(&b, 256, sv_stamp_reader_meta(r)->stamp_size, err);
    /* rows are usually ascending: read chunk by chunk, re-reading when not */
    long first = -1;
    for (long i = 0; !st && i < n; i++) {
        long want = rows[i];
        if (want < 0 || want >= nrows) {
            st = sv_error_set(err, SV_ERR_ARG, "%s: row %ld outside the table's %ld rows", path,
                              want + 1, nrows);
            break;
        }
        if (first < 0 || want < first || want >= first + b.n) {
            long got = sv_stamp_reader_read(r, want, b.capacity, &b, err);
            if (got <= 0) {
                st = got < 0 ? (int)-got : sv_error_set(err, SV_ERR_IO, "%s: row %ld unreadable",
                                                        path, want + 1);
                break;
            }
            first = want;
        }
        ids[i] = b.id[want - first];
    }
    sv_stamp_batch_free(&b);
    sv_stamp_reader_close(r);
    return st;
}

/* ---- writing ------------------------------------------------------------------- */

static void upper_name(const char *cls, char *out, size_t cap)
{
    size_t j = snprintf(out, cap, "P_");
    for (const char *c = cls; *c && j + 1 < cap; c++)
        out[j++] = (char)toupper((unsigned char)*c);
    out[j] = 0;
}

static int write_csv(const char *tmp, const sv_scores *s, sv_error *err)
{
    FILE *f = sv_report_csv_create(tmp, err);
    if (!f)
        return SV_ERR_IO;
    char date[32];
    sv_report_utc_now(date, sizeof date);
    fprintf(f, "# creator: stampvet %s evaluate --scores-out\n# date: %s\n", PACKAGE_VERSION,
            date);
    fprintf(f, "# task: %s\n# classes: ", s->binary ? "realbogus" : "class");
    for (int c = 0; c < s->k; c++)
        fprintf(f, "%s%s", c ? "," : "", s->classes[c]);
    fprintf(f, "\n");
    if (s->binary)
        fprintf(f, "# threshold: %.10g\n", s->threshold);
    fprintf(f, "# model: %s\n# model_file: %s\n# data: %s\n", s->model, s->model_file, s->data);
    fprintf(f, "id,row,label,label_name,");
    if (s->binary)
        fprintf(f, "score,");
    else
        for (int c = 0; c < s->k; c++)
            fprintf(f, "p_%s,", s->classes[c]);
    fprintf(f, "predicted,predicted_name\n");
    for (long i = 0; i < s->n; i++) {
        fprintf(f, "%lld,%ld,%d,%s,", (long long)s->id[i], s->row[i], s->label[i],
                s->classes[s->label[i]]);
        for (int c = 0; c < s->n_out; c++)
            fprintf(f, "%.9g,", s->score[(size_t)i * s->n_out + c]);
        int p = sv_scores_pred(s, i);
        fprintf(f, "%d,%s\n", p, s->classes[p]);
    }
    return sv_report_csv_close(f, tmp, err);
}

static int write_fits(const char *tmp, const sv_scores *s, sv_error *err)
{
    int st;
    fitsfile *f = sv_report_fits_create(tmp, &st, err);
    if (!f)
        return SV_ERR_IO;
    int nc = 4 + s->n_out + 2;
    char names[SV_MAX_CLASSES + 6][40];
    char *ttype[SV_MAX_CLASSES + 6], *tform[SV_MAX_CLASSES + 6];
    static const char *head[] = {"ID", "ROW", "LABEL", "LABELNAM"};
    static const char *hform[] = {"K", "K", "J", "16A"};
    for (int c = 0; c < nc; c++) {
        if (c < 4)
            snprintf(names[c], sizeof names[c], "%s", head[c]);
        else if (c < 4 + s->n_out) {
            if (s->binary)
                snprintf(names[c], sizeof names[c], "SCORE");
            else
                upper_name(s->classes[c - 4], names[c], sizeof names[c]);
        } else
            snprintf(names[c], sizeof names[c], "%s", c == nc - 2 ? "PRED" : "PREDNAM");
        ttype[c] = names[c];
        tform[c] = (char *)(c < 4 ? hform[c] : c < 4 + s->n_out ? "E" : c == nc - 2 ? "J" : "16A");
    }
    fits_create_tbl(f, BINARY_TBL, 0, nc, ttype, tform, NULL, "SCORES", &st);
    char date[32], creator[64];
    sv_report_utc_now(date, sizeof date);
    snprintf(creator, sizeof creator, "stampvet %s evaluate --scores-out", PACKAGE_VERSION);
    fits_write_key_longwarn(f, &st);
    fits_update_key_str(f, "TASK", s->binary ? "realbogus" : "class", "model task", &st);
    int k = s->k;
    fits_update_key(f, TINT, "NCLASS", &k, "classes, label order", &st);
    for (int c = 0; c < s->k; c++) {
        char key[16];
        snprintf(key, sizeof key, "CLASS%d", c + 1);
        fits_update_key_str(f, key, (char *)s->classes[c], NULL, &st);
    }
    if (s->binary)
        fits_update_key_dbl(f, "THRESH", s->threshold, 8, "real/bogus decision threshold", &st);
    fits_write_key_longstr(f, "MODEL", (char *)s->model, "model name", &st);
    fits_write_key_longstr(f, "MODELFIL", (char *)s->model_file, "model file", &st);
    fits_write_key_longstr(f, "DATA", (char *)s->data, "labelled stamps", &st);
    fits_update_key_str(f, "CREATOR", creator, "software that wrote this file", &st);
    fits_update_key_str(f, "DATE", date, "UTC", &st);
    for (long i = 0; i < s->n && !st; i++) {
        long long id = s->id[i], row = s->row[i];
        int lab = s->label[i], pred = sv_scores_pred(s, i);
        char *ln = (char *)s->classes[lab], *pn = (char *)s->classes[pred];
        fits_write_col(f, TLONGLONG, 1, i + 1, 1, 1, &id, &st);
        fits_write_col(f, TLONGLONG, 2, i + 1, 1, 1, &row, &st);
        fits_write_col(f, TINT, 3, i + 1, 1, 1, &lab, &st);
        fits_write_col(f, TSTRING, 4, i + 1, 1, 1, &ln, &st);
        for (int c = 0; c < s->n_out && !st; c++)
            fits_write_col(f, TFLOAT, 5 + c, i + 1, 1, 1, s->score + (size_t)i * s->n_out + c,
                           &st);
        fits_write_col(f, TINT, nc - 1, i + 1, 1, 1, &pred, &st);
        fits_write_col(f, TSTRING, nc, i + 1, 1, 1, &pn, &st);
    }
    return sv_report_fits_close(f, st, tmp, err);
}

typedef struct wjob {
    int kind;
    const sv_scores *s;
} wjob;

static int write_any(const char *tmp, void *user, sv_error *err)
{
    const wjob *j = user;
    return j->kind == 1 ? write_fits(tmp, j->s, err) : write_csv(tmp, j->s, err);
}

int sv_scores_write(const char *path, const sv_scores *s, sv_error *err)
{
    int kind = sv_report_kind(path);
    if (!kind)
        return sv_error_set(err, SV_ERR_ARG,
                            "%s: unknown scores format (use .fits, .fit, .fts or .csv)", path);
    if (s->k < 2 || s->k > SV_MAX_CLASSES || s->n_out != (s->binary ? 1 : s->k))
        return sv_error_set(err, SV_ERR_ARG, "%s: inconsistent scores (%d classes, %d outputs)",
                            path, s->k, s->n_out);
    wjob j = {kind, s};
    return sv_report_write_atomic(path, write_any, &j, err);
}

/* ---- reading ------------------------------------------------------------------- */

static int set_classes(sv_scores *s, const char *list, const char *path, sv_error *err)
{
    char buf[SV_MAX_CLASSES * SV_LABEL_MAX];
    snprintf(buf, sizeof buf, "%s", list);
    s->k = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (s->k >= SV_MAX_CLASSES)
            return sv_error_set(err, SV_ERR_ARG, "%s: more than %d classes", path,
                                SV_MAX_CLASSES);
        snprintf(s->classes[s->k++], SV_LABEL_MAX, "%s", sv_csv_trim(tok));
    }
    if (s->k < 2)
        return sv_error_set(err, SV_ERR_ARG, "%s: fewer than two classes", path);
    return 0;
}

static int read_csv(const char *path, sv_scores *s, sv_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open the scores file", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, cap_rows = 0;
    int st = 0, header = 0, task = -1, col_label = -1, col_id = -1, col_row = -1;
    int col_score[SV_MAX_CLASSES];
    sv_csv_field fld[SV_MAX_CLASSES + 8];
    while ((len = getline(&line, &cap, f)) >= 0 && !st) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (!header && line[0] == '#') {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            *colon = 0;
            char *key = sv_csv_trim(line + 1), *val = sv_csv_trim(colon + 1);
            if (!strcmp(key, "task"))
                task = !strcmp(val, "realbogus") ? 1 : !strcmp(val, "class") ? 0 : -1;
            else if (!strcmp(key, "classes"))
                st = set_classes(s, val, path, err);
            else if (!strcmp(key, "threshold"))
                s->threshold = atof(val);
            else if (!strcmp(key, "model"))
                snprintf(s->model, sizeof s->model, "%s", val);
            else if (!strcmp(key, "model_file"))
                snprintf(s->model_file, sizeof s->model_file, "%s", val);
            else if (!strcmp(key, "data"))
                snprintf(s->data, sizeof s->data, "%s", val);
            continue;
        }
        if (!len)
            continue;
        char why[160];
        int nf = sv_csv_split(line, fld, SV_MAX_CLASSES + 8, 1, why, sizeof why);
        if (nf < 0) {
            st = sv_error_set(err, SV_ERR_ARG, "%s: line %ld: %s", path, lineno, why);
            break;
        }
        if (!header) {
            header = 1;
            if (task < 0 || s->k < 2) {
                st = sv_error_set(err, SV_ERR_ARG,
                                  "%s: no '# task:' and '# classes:' lines before the header "
                                  "(not a stampvet scores file?)", path);
                break;
            }
            s->binary = task;
            s->n_out = s->binary ? 1 : s->k;
            if (s->binary && s->k != 2) {
                st = sv_error_set(err, SV_ERR_ARG, "%s: real/bogus with %d classes", path, s->k);
                break;
            }
            for (int c = 0; c < s->n_out; c++)
                col_score[c] = -1;
            for (int i = 0; i < nf; i++) {
                const char *h = fld[i].text;
                if (!strcmp(h, "id"))
                    col_id = i;
                else if (!strcmp(h, "row"))
                    col_row = i;
                else if (!strcmp(h, "label"))
                    col_label = i;
                else if (s->binary && !strcmp(h, "score"))
                    col_score[0] = i;
                else if (!s->binary && !strncmp(h, "p_", 2))
                    for (int c = 0; c < s->k; c++)
                        if (!strcmp(h + 2, s->classes[c]))
                            col_score[c] = i;
            }
            int ok = col_id >= 0 && col_row >= 0 && col_label >= 0;
            for (int c = 0; c < s->n_out; c++)
                ok = ok && col_score[c] >= 0;
            if (!ok)
                st = sv_error_set(err, SV_ERR_ARG,
                                  "%s: the header lacks id, row, label or a score column", path);
            continue;
        }
        if (s->n >= cap_rows) {
            long nc = cap_rows ? cap_rows * 2 : 1024;
            int64_t *id = realloc(s->id, (size_t)nc * sizeof *id);
            if (id)
                s->id = id;
            long *row = realloc(s->row, (size_t)nc * sizeof *row);
            if (row)
                s->row = row;
            int *lab = realloc(s->label, (size_t)nc * sizeof *lab);
            if (lab)
                s->label = lab;
            float *sc = realloc(s->score, (size_t)nc * s->n_out * sizeof *sc);
            if (sc)
                s->score = sc;
            if (!id || !row || !lab || !sc) {
                st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            cap_rows = nc;
        }
        int maxc = col_id > col_row ? col_id : col_row;
        maxc = maxc > col_label ? maxc : col_label;
        for (int c = 0; c < s->n_out; c++)
            maxc = maxc > col_score[c] ? maxc : col_score[c];
        if (nf <= maxc) {
            st = sv_error_set(err, SV_ERR_ARG, "%s: line %ld: %d fields, expected %d", path,
                              lineno, nf, maxc + 1);
            break;
        }
        char *end;
        long i = s->n;
        s->id[i] = strtoll(fld[col_id].text, &end, 10);
        s->row[i] = strtol(fld[col_row].text, NULL, 10);
        s->label[i] = (int)strtol(fld[col_label].text, &end, 10);
        if (*end || s->label[i] < 0 || s->label[i] >= s->k) {
            st = sv_error_set(err, SV_ERR_ARG, "%s: line %ld: label '%s' outside 0..%d", path,
                              lineno, fld[col_label].text, s->k - 1);
            break;
        }
        for (int c = 0; c < s->n_out; c++) {
            double v = strtod(fld[col_score[c]].text, &end);
            if (*end || !(v >= 0 && v <= 1)) {
                st = sv_error_set(err, SV_ERR_ARG, "%s: line %ld: score '%s' is not in [0, 1]",
                                  path, lineno, fld[col_score[c]].text);
                break;
            }
            s->score[(size_t)i * s->n_out + c] = (float)v;
        }
        s->n++;
    }
    free(line);
    fclose(f);
    if (!st && !header)
        st = sv_error_set(err, SV_ERR_ARG, "%s: no header line", path);
    if (!st && s->n == 0)
        st = sv_error_set(err, SV_ERR_ARG, "%s: no scored samples", path);
    return st;
}

static int read_fits(const char *path, sv_scores *s, sv_error *err)
{
    fitsfile *f = NULL;
    int st = 0;
    if (fits_open_file(&f, path, READONLY, &st))
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open the scores file (cfitsio %d)", path,
                            st);
    char task[32] = "", key[16], val[FLEN_VALUE];
    long n = 0;
    int k = 0;
    fits_movnam_hdu(f, BINARY_TBL, "SCORES", 0, &st);
    if (st) {
        fits_close_file(f, &(int){0});
        return sv_error_set(err, SV_ERR_ARG, "%s: no SCORES table (not a stampvet scores file?)",
                            path);
    }
    fits_read_key(f, TSTRING, "TASK", task, NULL, &st);
    fits_read_key(f, TINT, "NCLASS", &k, NULL, &st);
    fits_get_num_rows(f, &n, &st);
    if (st || k < 2 || k > SV_MAX_CLASSES) {
        fits_close_file(f, &(int){0});
        return sv_error_set(err, SV_ERR_ARG, "%s: SCORES lacks TASK or a valid NCLASS", path);
    }
    s->k = k;
    s->binary = !strcmp(task, "realbogus");
    for (int c = 0; c < k && !st; c++) {
        snprintf(key, sizeof key, "CLASS%d", c + 1);
        fits_read_key(f, TSTRING, key, val, NULL, &st);
        snprintf(s->classes[c], SV_LABEL_MAX, "%.31s", val);
    }
    if (s->binary) {
        fits_read_key(f, TDOUBLE, "THRESH", &s->threshold, NULL, &st);
        if (k != 2)
            st = st ? st : BAD_C2D;
    }
    char *lstr = NULL;
    int s2 = 0;
    if (!fits_read_key_longstr(f, "MODEL", &lstr, NULL, &s2)) {
        snprintf(s->model, sizeof s->model, "%s", lstr);
        fits_free_memory(lstr, &s2);
    }
    s2 = 0;
    if (!fits_read_key_longstr(f, "MODELFIL", &lstr, NULL, &s2)) {
        snprintf(s->model_file, sizeof s->model_file, "%s", lstr);
        fits_free_memory(lstr, &s2);
    }
    s2 = 0;
    if (!fits_read_key_longstr(f, "DATA", &lstr, NULL, &s2)) {
        snprintf(s->data, sizeof s->data, "%s", lstr);
        fits_free_memory(lstr, &s2);
    }
    if (st) {
        fits_close_file(f, &(int){0});
        return sv_error_set(err, SV_ERR_ARG, "%s: bad SCORES header (cfitsio %d)", path, st);
    }
    int n_out = s->binary ? 1 : k;
    if (n < 1) {
        fits_close_file(f, &(int){0});
        return sv_error_set(err, SV_ERR_ARG, "%s: no scored samples", path);
    }
    if (sv_scores_alloc(s, n, n_out, err)) {
        fits_close_file(f, &(int){0});
        return SV_ERR_NOMEM;
    }
    int cid, crow, clab, csc[SV_MAX_CLASSES];
    fits_get_colnum(f, CASEINSEN, "ID", &cid, &st);
    fits_get_colnum(f, CASEINSEN, "ROW", &crow, &st);
    fits_get_colnum(f, CASEINSEN, "LABEL", &clab, &st);
    for (int c = 0; c < n_out && !st; c++) {
        char name[40];
        if (s->binary)
            snprintf(name, sizeof name, "SCORE");
        else
            upper_name(s->classes[c], name, sizeof name);
        fits_get_colnum(f, CASEINSEN, name, &csc[c], &st);
    }
    long long *tmp = malloc((size_t)n * sizeof *tmp);
    float *col = malloc((size_t)n * sizeof *col);
    if (!tmp || !col)
        st = MEMORY_ALLOCATION;
    if (!st) {
        fits_read_col(f, TLONGLONG, cid, 1, 1, n, NULL, tmp, NULL, &st);
        for (long i = 0; i < n; i++)
            s->id[i] = tmp[i];
        fits_read_col(f, TLONGLONG, crow, 1, 1, n, NULL, tmp, NULL, &st);
        for (long i = 0; i < n; i++)
            s->row[i] = (long)tmp[i];
        fits_read_col(f, TINT, clab, 1, 1, n, NULL, s->label, NULL, &st);
        for (int c = 0; c < n_out && !st; c++) {
            fits_read_col(f, TFLOAT, csc[c], 1, 1, n, NULL, col, NULL, &st);
            for (long i = 0; i < n; i++)
                s->score[(size_t)i * n_out + c] = col[i];
        }
    }
    free(tmp);
    free(col);
    int s3 = 0;
    fits_close_file(f, &s3);
    if (st)
        return sv_error_set(err, SV_ERR_ARG, "%s: cannot read the SCORES columns (cfitsio %d)",
                            path, st);
    for (long i = 0; i < n; i++) {
        if (s->label[i] < 0 || s->label[i] >= k)
            return sv_error_set(err, SV_ERR_ARG, "%s: row %ld: label %d outside 0..%d", path,
                                i + 1, s->label[i], k - 1);
        for (int c = 0; c < n_out; c++) {
            float v = s->score[(size_t)i * n_out + c];
            if (!(v >= 0 && v <= 1))
                return sv_error_set(err, SV_ERR_ARG, "%s: row %ld: score %g not in [0, 1]",
                                    path, i + 1, v);
        }
    }
    return 0;
}

int sv_scores_read(const char *path, sv_scores *s, sv_error *err)
{
    memset(s, 0, sizeof *s);
    s->threshold = 0.5;
    int kind = sv_report_kind(path);
    int st;
    if (kind == 1)
        st = read_fits(path, s, err);
    else if (kind == 2)
        st = read_csv(path, s, err);
    else
        st = sv_error_set(err, SV_ERR_ARG,
                          "%s: unknown scores format (use .fits, .fit, .fts or .csv)", path);
    if (st)
        sv_scores_free(s);
    return st;
}
