/* batch_progress.c — see batch_progress.h. */
#include "batch/batch_progress.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BAR_WIDTH 24

struct sv_progress {
    FILE *out;
    int live;
    pthread_mutex_t lock;
    int bar_shown;              /* a bar is on the current line            */
    struct timespec last_draw;
    sv_batch_tally last;        /* the most recent totals                  */
    int have_tally;
    struct timespec start;      /* sv_progress_new                         */
    int64_t rows_done, rows_total; /* sv_progress_rows: the latest counts  */
    int have_rows;
};

sv_progress *sv_progress_new(FILE *out, int live)
{
    sv_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->out = out;
    p->live = live;
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void sv_progress_free(sv_progress *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void sv_progress_format_eta(double s, char *buf, size_t len)
{
    if (!(s >= 0) || !isfinite(s) || s > 359999999.0) {
        snprintf(buf, len, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
}

static double eta_of(const sv_batch_tally *t)
{
    size_t left = t->total > t->done ? t->total - t->done : 0;
    if (left == 0)
        return 0;
    if (t->processed == 0)
        return -1;
    return (double)left * t->elapsed / (double)t->processed;
}

static double rate_of(const sv_batch_tally *t)
{
    return t->elapsed > 0 ? (double)t->detections / t->elapsed : 0;
}

/* The live line: the bar for done of total, "done/total pct", the counts
 * text (may be ""), the rate and the ETA; erases the rest of the line. */
static void draw_line(sv_progress *p, double done, double total, const char *unit,
                      const char *counts, double rate, double eta_s)
{
    char bar[BAR_WIDTH + 1];
    size_t fill = total > 0 ? (size_t)((double)BAR_WIDTH * done / total) : BAR_WIDTH;
    for (size_t i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[BAR_WIDTH] = '\0';
    char eta[32];
    sv_progress_format_eta(eta_s, eta, sizeof eta);
    int pct = total > 0 ? (int)(100.0 * done / total) : 100;
    fprintf(p->out, "\r[%s] %.0f/%.0f%s %3d%%%s  %.0f det/s  ETA %s\033[K", bar, done, total,
            unit, pct, counts, rate, eta);
    fflush(p->out);
    p->bar_shown = 1;
    clock_gettime(CLOCK_MONOTONIC, &p->last_draw);
}

static void draw_bar(sv_progress *p, const sv_batch_tally *t)
{
    char counts[128] = "";
    size_t n = 0;
    if (t->failed)
        n += (size_t)snprintf(counts + n, sizeof counts - n, "  %zu failed", t->failed);
    if (t->skipped && n < sizeof counts)
        n += (size_t)snprintf(counts + n, sizeof counts - n, "  %zu skipped", t->skipped);
    if (t->cancelled && n < sizeof counts)
        snprintf(counts + n, sizeof counts - n, "  %zu cancelled", t->cancelled);
    draw_line(p, (double)t->done, (double)t->total, "", counts, rate_of(t), eta_of(t));
}

static void clear_bar(sv_progress *p)
{
    if (p->live && p->bar_shown) {
        fputs("\r\033[K", p->out);
        p->bar_shown = 0;
    }
}

static double since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + 1e-9 * (double)(now.tv_nsec - t0->tv_nsec);
}

static void stamp(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sv_progress_update(void *reporter, const sv_manifest_entry *e,
                        const sv_batch_result *r, const sv_batch_tally *t)
{
    sv_progress *p = reporter;
    pthread_mutex_lock(&p->lock);
    p->last = *t;
    p->have_tally = 1;
    if (p->live) {
        if (r->status == SV_BATCH_FAILED) {
            clear_bar(p);
            fprintf(p->out, "%s: failed: %s\n", e->id, r->error);
        }
        if (!p->bar_shown || since(&p->last_draw) >= 0.1 || t->done == t->total)
            draw_bar(p, t);
    } else {
        char ts[32], eta[32];
        stamp(ts, sizeof ts);
        sv_progress_format_eta(eta_of(t), eta, sizeof eta);
        fprintf(p->out, "%s [%zu/%zu] %s %s", ts, t->done, t->total, e->id,
                sv_batch_status_name(r->status));
        if (r->detections >= 0)
            fprintf(p->out, " %lld detections", (long long)r->detections);
        fprintf(p->out, " %.2f s", r->seconds);
        if (r->error[0])
            fprintf(p->out, ": %s", r->error);
        fprintf(p->out, " (%.0f det/s, ETA %s)\n", rate_of(t), eta);
        fflush(p->out);
    }
    pthread_mutex_unlock(&p->lock);
}

/* rows: the rate over the time since sv_progress_new, the ETA from it */
static void draw_rows(sv_progress *p)
{
    double el = since(&p->start), done = (double)p->rows_done, total = (double)p->rows_total;
    double rate = el > 0 ? done / el : 0;
    double eta = done >= total ? 0 : done > 0 ? (total - done) * el / done : -1;
    if (p->live) {
        draw_line(p, done, total, " detections", "", rate, eta);
        return;
    }
    char ts[32], e[32];
    stamp(ts, sizeof ts);
    sv_progress_format_eta(eta, e, sizeof e);
    fprintf(p->out, "%s %lld/%lld detections %3d%% (%.0f det/s, ETA %s)\n", ts,
            (long long)p->rows_done, (long long)p->rows_total,
            total > 0 ? (int)(100.0 * done / total) : 100, rate, e);
    fflush(p->out);
    clock_gettime(CLOCK_MONOTONIC, &p->last_draw);
}

void sv_progress_rows(sv_progress *p, int64_t done, int64_t total)
{
    pthread_mutex_lock(&p->lock);
    int first = !p->have_rows, last = done >= total;
    p->rows_done = done;
    p->rows_total = total;
    p->have_rows = 1;
    if (p->live) {
        /* nothing to watch when the first call is already the last */
        if (!(first && last) && (!p->bar_shown || since(&p->last_draw) >= 0.1 || last))
            draw_rows(p);
        if (last && p->bar_shown) { /* the final bar stays, what follows goes below */
            fputc('\n', p->out);
            fflush(p->out);
            p->bar_shown = 0;
        }
    } else if (last || since(&p->last_draw) >= 1.0) { /* at most one line a second */
        draw_rows(p);
    }
    pthread_mutex_unlock(&p->lock);
}

void sv_progress_clear(sv_progress *p)
{
    pthread_mutex_lock(&p->lock);
    clear_bar(p);
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

void sv_progress_message(sv_progress *p, const char *text)
{
    pthread_mutex_lock(&p->lock);
    clear_bar(p);
    if (p->live) {
        fprintf(p->out, "%s\n", text);
        if (p->have_tally)
            draw_bar(p, &p->last);
    } else {
        char ts[32];
        stamp(ts, sizeof ts);
        fprintf(p->out, "%s %s\n", ts, text);
    }
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

void sv_progress_finish(sv_progress *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->live && p->have_tally) {
        draw_bar(p, &p->last);
        fputc('\n', p->out);
        p->bar_shown = 0;
        fflush(p->out);
    }
    pthread_mutex_unlock(&p->lock);
}
