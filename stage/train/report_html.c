/* report_html.c — the report's HTML page.  See report_html.h. */
#include "train/report_html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fits/report_file.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

struct sv_html {
    char *d;
    size_t n, cap;
    int oom;
    int figures;
};

static void put(sv_html *h, const char *s, size_t len)
{
    if (h->oom)
        return;
    if (h->n + len + 1 > h->cap) {
        size_t cap = h->cap ? h->cap : 16384;
        while (cap < h->n + len + 1)
            cap *= 2;
        char *d = realloc(h->d, cap);
        if (!d) {
            h->oom = 1;
            return;
        }
        h->d = d;
        h->cap = cap;
    }
    memcpy(h->d + h->n, s, len);
    h->n += len;
    h->d[h->n] = 0;
}

static void puts_raw(sv_html *h, const char *s)
{
    put(h, s, strlen(s));
}

static void puts_esc(sv_html *h, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': puts_raw(h, "&lt;"); break;
        case '>': puts_raw(h, "&gt;"); break;
        case '&': puts_raw(h, "&amp;"); break;
        case '"': puts_raw(h, "&quot;"); break;
        default: put(h, s, 1);
        }
    }
}

static void put_base64(sv_html *h, const unsigned char *b, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)b[i] << 16 | (i + 1 < n ? (unsigned)b[i + 1] << 8 : 0) |
                     (i + 2 < n ? b[i + 2] : 0);
        q[0] = tab[v >> 18 & 63];
        q[1] = tab[v >> 12 & 63];
        q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        put(h, q, 4);
    }
}

sv_html *sv_html_new(const char *title)
{
    sv_html *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    puts_raw(h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"generator\" content=\"stampvet " PACKAGE_VERSION " report\">\n"
                "<title>");
    puts_esc(h, title);
    puts_raw(h, "</title>\n<style>\n"
                "body{font-family:'DejaVu Sans',sans-serif;max-width:1200px;margin:1em auto;"
                "padding:0 1em;color:#222}\n"
                "h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;"
                "margin-top:1.6em}\n"
                "figure{display:inline-table;margin:0.5em 0.8em 0.8em 0;vertical-align:top}\n"
                "figure img{max-width:100%;border:1px solid #ddd}\n"
                "figcaption{display:table-caption;caption-side:bottom;font-size:0.85em;"
                "color:#444}\n"
                "table{border-collapse:collapse;font-size:0.9em;margin:0.5em 0}\n"
                "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\n"
                "th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}\n"
                "</style>\n</head>\n<body>\n<h1>");
    puts_esc(h, title);
    puts_raw(h, "</h1>\n");
    return h;
}

void sv_html_free(sv_html *h)
{
    if (!h)
        return;
    free(h->d);
    free(h);
}

void sv_html_section(sv_html *h, const char *title)
{
    puts_raw(h, "<h2>");
    puts_esc(h, title);
    puts_raw(h, "</h2>\n");
}

void sv_html_para(sv_html *h, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    puts_raw(h, "<p>");
    puts_esc(h, buf);
    puts_raw(h, "</p>\n");
}

void sv_html_table(sv_html *h, int nrows, int ncols, const char *const *cells)
{
    puts_raw(h, "<table>\n");
    for (int r = 0; r < nrows; r++) {
        puts_raw(h, "<tr>");
        for (int c = 0; c < ncols; c++) {
            puts_raw(h, r ? "<td>" : "<th>");
            puts_esc(h, cells[r * ncols + c] ? cells[r * ncols + c] : "");
            puts_raw(h, r ? "</td>" : "</th>");
        }
        puts_raw(h, "</tr>\n");
    }
    puts_raw(h, "</table>\n");
}

int sv_html_figure(sv_html *h, sv_plot *p, const char *dir, const char *name,
                   const char *caption, sv_error *err)
{
    char stem[4096];
    snprintf(stem, sizeof stem, "%s/%s", dir, name);
    int st = sv_plot_write(p, stem, err);
    if (st)
        return st;
    unsigned char *png = NULL;
    size_t len = 0;
    if ((st = sv_plot_png(p, &png, &len, err)))
        return st;
    puts_raw(h, "<figure id=\"");
    puts_esc(h, name);
    puts_raw(h, "\"><img alt=\"");
    puts_esc(h, caption);
    puts_raw(h, "\" src=\"data:image/png;base64,");
    put_base64(h, png, len);
    free(png);
    puts_raw(h, "\"><figcaption>");
    puts_esc(h, caption);
    static const char *ext[] = {"png", "pdf"};
    for (int k = 0; k < 2; k++) {
        puts_raw(h, k ? " " : " [");
        puts_raw(h, "<a href=\"");
        puts_esc(h, name);
        puts_raw(h, ".");
        puts_raw(h, ext[k]);
        puts_raw(h, "\">");
        puts_raw(h, ext[k]);
        puts_raw(h, "</a>");
    }
    puts_raw(h, "]</figcaption></figure>\n");
    h->figures++;
    return 0;
}

static int write_page(const char *tmp, void *user, sv_error *err)
{
    sv_html *h = user;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot create the page", tmp);
    fwrite(h->d, 1, h->n, f);
    fputs("</body>\n</html>\n", f);
    int bad = ferror(f);
    if (fclose(f) || bad)
        return sv_error_set(err, SV_ERR_IO, "%s: write failed", tmp);
    return 0;
}

int sv_html_write(sv_html *h, const char *path, sv_error *err)
{
    if (!h || h->oom)
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory building the page", path);
    return sv_report_write_atomic(path, write_page, h, err);
}
