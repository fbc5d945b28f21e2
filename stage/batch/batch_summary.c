/* batch_summary.c — see batch_summary.h. */
#include "batch/batch_summary.h"
#include "fits/fits_dates.h"
#include "fits/fits_guard.h"

#include <ctype.h>
#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "fits/fits_error.h"

static char *dup_clean(const char *s)
{
    if (!s)
        s = "";
    char *d = strdup(s);
    if (d)
        for (char *p = d; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
    return d;
}

int sv_summary_add(sv_summary *s, const char *exposure, const char *status,
                   int64_t detections, double seconds, const char *error,
                   const char *output, int rank, sv_error *err)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        sv_summary_row *r = realloc(s->rows, cap * sizeof *r);
        if (!r)
            return sv_error_set(err, SV_ERR_NOMEM, "summary: out of memory");
        s->rows = r;
        s->cap = cap;
    }
    sv_summary_row *r = &s->rows[s->n];
    r->exposure = dup_clean(exposure);
    r->status = dup_clean(status);
    r->error = dup_clean(error);
    r->output = dup_clean(output);
    r->detections = detections;
    r->n_real = r->n_flagged = -1;
    r->median_score = NAN;
    r->seconds = seconds;
    r->rank = rank;
    if (!r->exposure || !r->status || !r->error || !r->output) {
        free(r->exposure);
        free(r->status);
        free(r->error);
        free(r->output);
        return sv_error_set(err, SV_ERR_NOMEM, "summary: out of memory");
    }
    s->n++;
    return SV_OK;
}

void sv_summary_set_scores(sv_summary *s, int64_t n_real, int64_t n_flagged,
                           double median_score)
{
    if (!s->n)
        return;
    sv_summary_row *r = &s->rows[s->n - 1];
    r->n_real = n_real >= 0 ? n_real : -1;
    r->n_flagged = n_flagged >= 0 ? n_flagged : -1;
    r->median_score = isfinite(median_score) ? median_score : NAN;
}

void sv_summary_clear(sv_summary *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->rows[i].exposure);
        free(s->rows[i].status);
        free(s->rows[i].error);
        free(s->rows[i].output);
    }
    free(s->rows);
    s->rows = NULL;
    s->n = s->cap = 0;
}

sv_summary_totals sv_summary_get_totals(const sv_summary *s)
{
    sv_summary_totals t = {0};
    for (size_t i = 0; i < s->n; i++) {
        const sv_summary_row *r = &s->rows[i];
        t.rows++;
        if (strcmp(r->status, "ok") == 0)
            t.ok++;
        else if (strcmp(r->status, "failed") == 0)
            t.failed++;
        else if (strcmp(r->status, "skipped") == 0)
            t.skipped++;
        else if (strcmp(r->status, "cancelled") == 0)
            t.cancelled++;
        else
            t.other++;
        if (r->detections >= 0)
            t.detections += r->detections;
        t.seconds += r->seconds;
    }
    return t;
}

static int is_fits_name(const char *path)
{
    static const char *const ext[] = {".fits", ".fit", ".fts"};
    size_t n = strlen(path);
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(ext[i]);
        if (n > k && strcasecmp(path + n - k, ext[i]) == 0)
            return 1;
    }
    return 0;
}

static void csv_field(FILE *fp, const char *s)
{
    int quote = strpbrk(s, ",\"\n\r") != NULL || (s[0] == ' ') ||
                (*s && s[strlen(s) - 1] == ' ');
    if (!quote) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

static int write_csv(const sv_summary *s, const char *tmp, const char *path, sv_error *err)
{
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot create the summary: %s", path,
                            strerror(errno));
    fputs("exposure,status,detections,n_real,n_flagged,median_score,seconds,error,output,rank\n",
          fp);
    for (size_t i = 0; i < s->n; i++) {
        const sv_summary_row *r = &s->rows[i];
        csv_field(fp, r->exposure);
        fprintf(fp, ",%s,", r->status);
        if (r->detections >= 0)
            fprintf(fp, "%lld", (long long)r->detections);
        fputc(',', fp);
        if (r->n_real >= 0)
            fprintf(fp, "%lld", (long long)r->n_real);
        fputc(',', fp);
        if (r->n_flagged >= 0)
            fprintf(fp, "%lld", (long long)r->n_flagged);
        fputc(',', fp);
        if (isfinite(r->median_score))
            fprintf(fp, "%.9g", r->median_score);
        fprintf(fp, ",%.3f,", r->seconds);
        csv_field(fp, r->error);
        fputc(',', fp);
        csv_field(fp, r->output);
        fprintf(fp, ",%d\n", r->rank);
    }
    int bad = fflush(fp) != 0 || ferror(fp); /* the commit syncs (atomic_file.h) */
    int e = errno;
    if (fclose(fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(tmp);
        return sv_error_set(err, SV_ERR_IO, "%s: cannot write the summary: %s", path,
                            strerror(e));
    }
    return SV_OK;
}

static int write_fits(const sv_summary *s, const char *tmp, const char *path, sv_error *err)
{
    long wexp = 1, werr = 1, wout = 1;
    for (size_t i = 0; i < s->n; i++) {
        long a = (long)strlen(s->rows[i].exposure), b = (long)strlen(s->rows[i].error),
             c = (long)strlen(s->rows[i].output);
        if (a > wexp)
            wexp = a;
        if (b > werr)
            werr = b;
        if (c > wout)
            wout = c;
    }
    char f_exp[32], f_err[32], f_out[32];
    snprintf(f_exp, sizeof f_exp, "%ldA", wexp);
    snprintf(f_err, sizeof f_err, "%ldA", werr);
    snprintf(f_out, sizeof f_out, "%ldA", wout);
    char *ttype[] = {"EXPOSURE", "STATUS", "DETECTIONS", "N_REAL", "N_FLAGGED", "MEDIAN_SCORE",
                     "SECONDS",  "ERROR",  "OUTPUT",     "RANK"};
    char *tform[] = {f_exp, "9A", "1K", "1K", "1K", "1D", "1D", f_err, f_out, "1J"};
    char *tunit[] = {"", "", "", "", "", "", "s", "", "", ""};
    fitsfile *f = NULL;
    int status = 0;
    fits_create_diskfile(&f, tmp, &status);
    fits_create_tbl(f, BINARY_TBL, (LONGLONG)s->n, 10, ttype, tform, tunit, "SUMMARY",
                    &status);
    long long tnull = -1;
    fits_write_key(f, TLONGLONG, "TNULL3", &tnull, "unknown detection count", &status);
    fits_write_key(f, TLONGLONG, "TNULL4", &tnull, "unknown", &status);
    fits_write_key(f, TLONGLONG, "TNULL5", &tnull, "unknown", &status);
    fits_write_key_str(f, "TCOMM4", "rows of the output with REAL true", NULL, &status);
    fits_write_key_str(f, "TCOMM5", "rows of the output with FLAGS != 0", NULL, &status);
    fits_write_key_str(f, "TCOMM6", "median real/bogus score of the output (NaN: unknown)",
                       NULL, &status);
    fits_write_key_str(f, "ORIGIN", "stampvet batch", "summary of a batch run", &status);
    for (size_t i = 0; i < s->n && !status; i++) {
        const sv_summary_row *r = &s->rows[i];
        LONGLONG row = (LONGLONG)i + 1;
        char *v;
        v = r->exposure;
        fits_write_col_str(f, 1, row, 1, 1, &v, &status);
        v = r->status;
        fits_write_col_str(f, 2, row, 1, 1, &v, &status);
        long long d = r->detections, nr = r->n_real, nf = r->n_flagged;
        fits_write_col(f, TLONGLONG, 3, row, 1, 1, &d, &status);
        fits_write_col(f, TLONGLONG, 4, row, 1, 1, &nr, &status);
        fits_write_col(f, TLONGLONG, 5, row, 1, 1, &nf, &status);
        double med = r->median_score;
        fits_write_col(f, TDOUBLE, 6, row, 1, 1, &med, &status);
        double sec = r->seconds;
        fits_write_col(f, TDOUBLE, 7, row, 1, 1, &sec, &status);
        v = r->error;
        fits_write_col_str(f, 8, row, 1, 1, &v, &status);
        v = r->output;
        fits_write_col_str(f, 9, row, 1, 1, &v, &status);
        int rank = r->rank;
        fits_write_col(f, TINT, 10, row, 1, 1, &rank, &status);
    }
    sv_fits_write_chksum(f, &status);
    int cstatus = 0;
    if (f)
        fits_close_file(f, &cstatus);
    if (status || cstatus) {
        unlink(tmp);
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot write the summary", status ? status : cstatus);
    }
    return SV_OK;
}

int sv_summary_write(const sv_summary *s, const char *path, sv_error *err)
{
    sv_atomic_file af; /* atomic_file.h */
    int rc = sv_atomic_begin_name(&af, path, err);
    if (rc)
        return rc;
    rc = is_fits_name(path) ? write_fits(s, af.tmp, path, err)
                            : write_csv(s, af.tmp, path, err);
    if (rc) {
        sv_atomic_abort(&af);
        return rc;
    }
    return sv_atomic_commit(&af, err);
}

/* ---- reading --------------------------------------------------------- */

static int read_csv(sv_summary *s, FILE *fp, const char *path, sv_error *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, col[10] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1}, ncols = 0, rc = SV_OK;
    static const char *const names[10] = {"exposure", "status", "detections", "seconds",
                                          "error",    "output", "rank",       "n_real",
                                          "n_flagged", "median_score"};
    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        sv_csv_field cell[64];
        char *f[64], why[64];
        int n = sv_csv_split(line, cell, 64, 0, why, sizeof why);
        if (n < 0) {
            rc = sv_error_set(err, SV_ERR_FORMAT, "%s:%d: not a CSV row: %s", path, lineno,
                              why);
            break;
        }
        for (int i = 0; i < n; i++)
            f[i] = cell[i].text;
        if (ncols == 0) {
            ncols = n;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < 10; k++)
                    if (strcasecmp(f[i], names[k]) == 0)
                        col[k] = i;
            if (col[0] < 0 || col[1] < 0) {
                rc = sv_error_set(err, SV_ERR_FORMAT,
                                  "%s:%d: not a batch summary (no exposure and status "
                                  "columns)",
                                  path, lineno);
                break;
            }
            continue;
        }
        if (n != ncols) {
            rc = sv_error_set(err, SV_ERR_FORMAT, "%s:%d: %d fields, the header has %d",
                              path, lineno, n, ncols);
            break;
        }
        const char *det = col[2] >= 0 ? f[col[2]] : "";
        char *end;
        long long d = -1;
        if (*det) {
            errno = 0;
            d = strtoll(det, &end, 10);
            if (errno || *end || d < -1) {
                rc = sv_error_set(err, SV_ERR_FORMAT, "%s:%d: detections '%s' is not a count",
                                  path, lineno, det);
                break;
            }
        }
        double sec = 0;
        if (col[3] >= 0 && *f[col[3]]) {
            sec = strtod(f[col[3]], &end);
            if (*end) {
                rc = sv_error_set(err, SV_ERR_FORMAT, "%s:%d: seconds '%s' is not a number",
                                  path, lineno, f[col[3]]);
                break;
            }
        }
        int rank = col[6] >= 0 && *f[col[6]] ? atoi(f[col[6]]) : 0;
        long long cnt[2] = {-1, -1};
        for (int k = 0; k < 2 && !rc; k++) {
            const char *t = col[7 + k] >= 0 ? f[col[7 + k]] : "";
            if (!*t)
                continue;
            errno = 0;
            cnt[k] = strtoll(t, &end, 10);
            if (errno || *end || cnt[k] < -1)
                rc = sv_error_set(err, SV_ERR_FORMAT, "%s:%d: %s '%s' is not a count", path,
                                  lineno, names[7 + k], t);
        }
        double med = NAN;
        if (!rc && col[9] >= 0 && *f[col[9]]) {
            med = strtod(f[col[9]], &end);
            if (*end)
                rc = sv_error_set(err, SV_ERR_FORMAT, "%s:%d: median_score '%s' is not a "
                                  "number", path, lineno, f[col[9]]);
        }
        if (rc)
            break;
        rc = sv_summary_add(s, f[col[0]], f[col[1]], d, sec, col[4] >= 0 ? f[col[4]] : "",
                            col[5] >= 0 ? f[col[5]] : "", rank, err);
        if (rc)
            break;
        sv_summary_set_scores(s, cnt[0], cnt[1], med);
    }
    free(line);
    if (!rc && ncols == 0)
        rc = sv_error_set(err, SV_ERR_FORMAT, "%s: empty summary", path);
    return rc;
}

static int read_fits(sv_summary *s, const char *path, sv_error *err)
{
    fitsfile *f = NULL;
    int status = 0, hdutype = 0;
    char msg[FLEN_ERRMSG];
    if (sv_fits_guard_file(path, err))
        return err ? err->status : SV_ERR_FORMAT;
    if (fits_open_diskfile(&f, path, READONLY, &status)) {
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot open as FITS", status);
    }
    fits_movabs_hdu(f, 2, &hdutype, &status);
    int col[6];
    static char *const names[6] = {"EXPOSURE", "STATUS", "DETECTIONS",
                                   "SECONDS",  "ERROR",  "OUTPUT"};
    for (int k = 0; k < 6 && !status; k++)
        fits_get_colnum(f, CASEINSEN, names[k], &col[k], &status);
    int rank_col = 0, rstatus = 0;
    if (fits_get_colnum(f, CASEINSEN, "RANK", &rank_col, &rstatus))
        rank_col = 0;
    int score_col[3] = {0, 0, 0}; /* N_REAL, N_FLAGGED, MEDIAN_SCORE: optional */
    static char *const score_names[3] = {"N_REAL", "N_FLAGGED", "MEDIAN_SCORE"};
    for (int k = 0; k < 3; k++) {
        rstatus = 0;
        if (fits_get_colnum(f, CASEINSEN, score_names[k], &score_col[k], &rstatus))
            score_col[k] = 0;
    }
    long nrows = 0;
    fits_get_num_rows(f, &nrows, &status);
    int rc = SV_OK;
    if (status) {
        rc = sv_fits_fail(err, SV_ERR_FORMAT, path, "not a batch summary", status);
    }
    char *buf[6] = {0};
    for (int k = 0; k < 6 && !rc; k++) {
        int w = 0;
        fits_get_col_display_width(f, col[k], &w, &status);
        buf[k] = malloc((size_t)w + 64);
        if (!buf[k])
            rc = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    for (long r = 1; r <= nrows && !rc; r++) {
        int anynul = 0;
        for (int k = 0; k < 6; k++)
            if (k != 2 && k != 3)
                fits_read_col_str(f, col[k], r, 1, 1, "", &buf[k], &anynul, &status);
        long long d = -1, nul = -1;
        double sec = 0;
        fits_read_col(f, TLONGLONG, col[2], r, 1, 1, &nul, &d, &anynul, &status);
        fits_read_col(f, TDOUBLE, col[3], r, 1, 1, NULL, &sec, &anynul, &status);
        int rank = 0;
        if (rank_col)
            fits_read_col(f, TINT, rank_col, r, 1, 1, NULL, &rank, &anynul, &status);
        long long cnt[2] = {-1, -1};
        double med = NAN, dnul = NAN;
        for (int k = 0; k < 2; k++)
            if (score_col[k])
                fits_read_col(f, TLONGLONG, score_col[k], r, 1, 1, &nul, &cnt[k], &anynul,
                              &status);
        if (score_col[2])
            fits_read_col(f, TDOUBLE, score_col[2], r, 1, 1, &dnul, &med, &anynul, &status);
        if (status) {
            fits_get_errstatus(status, msg);
            rc = sv_error_set(err, SV_ERR_FORMAT, "%s: row %ld: %s", path, r, msg);
            break;
        }
        for (int k = 0; k < 6; k++) /* FITS strings are blank-padded */
            if (buf[k] && k != 2 && k != 3) {
                size_t n = strlen(buf[k]);
                while (n && buf[k][n - 1] == ' ')
                    buf[k][--n] = '\0';
            }
        rc = sv_summary_add(s, buf[0], buf[1], d, sec, buf[4], buf[5], rank, err);
        if (!rc)
            sv_summary_set_scores(s, cnt[0], cnt[1], med);
    }
    for (int k = 0; k < 6; k++)
        free(buf[k]);
    status = 0;
    fits_close_file(f, &status);
    return rc;
}

int sv_summary_read_append(sv_summary *s, const char *path, sv_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open the summary: %s", path,
                            strerror(errno));
    char head[9] = {0};
    size_t k = fread(head, 1, 9, fp);
    if (k == 9 && memcmp(head, "SIMPLE  =", 9) == 0) {
        fclose(fp);
        return read_fits(s, path, err);
    }
    rewind(fp);
    int rc = read_csv(s, fp, path, err);
    fclose(fp);
    return rc;
}
