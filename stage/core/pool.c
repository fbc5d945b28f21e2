/* pool.c — persistent worker threads.  See pool.h.
 *
 * Each worker has a mailbox (a counter only the calling thread writes): a
 * run raises the mailboxes of the workers it needs, after writing the task,
 * and counts them in `pending`; a worker that sees its mailbox move runs
 * its index and counts itself out.  Workers wait by spinning for
 * SV_POOL_SPIN_US, then on the `wake` condition; the caller waits for
 * `pending` the same way, on `done`. */
#include "core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct pool_worker {
    struct sv_pool *pool;
    int index;
    atomic_uint mail;   /* raised by the caller for each run this worker joins */
    unsigned seen;      /* the last value acted on (the worker's own)          */
} pool_worker;

struct sv_pool {
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    int sleepers;       /* workers waiting on `wake` (under mu)               */
    atomic_int pending; /* workers still running the current task             */
    atomic_int quit;
    sv_task_fn fn;
    void *ctx;
    pid_t pid;          /* the process the workers live in                   */
    int n_threads;
    pthread_t tid[SV_POOL_MAX];
    pool_worker wk[SV_POOL_MAX];
};

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *arg)
{
    pool_worker *w = arg;
    sv_pool *p = w->pool;
    for (;;) {
        unsigned m = atomic_load_explicit(&w->mail, memory_order_acquire);
        if (m == w->seen) {
            double until = now_us() + SV_POOL_SPIN_US;
            for (long k = 1; m == w->seen; k++) {
                cpu_relax();
                m = atomic_load_explicit(&w->mail, memory_order_acquire);
                if (m == w->seen && k % 64 == 0 && now_us() > until)
                    break;
            }
        }
        if (m == w->seen) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while ((m = atomic_load_explicit(&w->mail, memory_order_acquire)) == w->seen)
                pthread_cond_wait(&p->wake, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
        }
        w->seen = m;
        if (atomic_load_explicit(&p->quit, memory_order_acquire))
            break;
        p->fn(w->index, p->ctx);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

sv_pool *sv_pool_new(void)
{
    sv_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (pthread_mutex_init(&p->mu, NULL)) {
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->wake, NULL)) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->done, NULL)) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, 0);
    p->pid = getpid();
    return p;
}

/* raise the mailboxes of workers 1..n and wake the sleeping ones */
static void post(sv_pool *p, int n)
{
    for (int i = 1; i <= n; i++)
        atomic_store_explicit(&p->wk[i].mail,
                              atomic_load_explicit(&p->wk[i].mail, memory_order_relaxed) + 1,
                              memory_order_release);
    pthread_mutex_lock(&p->mu);
    if (p->sleepers)
        pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

void sv_pool_free(sv_pool *p)
{
    if (!p)
        return;
    if (p->pid != getpid()) { /* a fork's copy: its workers, and maybe the state of its
                                 mutex, stayed in the parent; nothing to join */
        free(p);
        return;
    }
    atomic_store_explicit(&p->quit, 1, memory_order_release);
    post(p, p->n_threads);
    for (int i = 1; i <= p->n_threads; i++)
        pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int sv_pool_threads(const sv_pool *p) { return p ? p->n_threads : 0; }

int sv_pool_run(sv_pool *p, int n, sv_task_fn fn, void *ctx)
{
    if (n < 1 || !fn)
        return 0;
    if (n > SV_POOL_MAX)
        n = SV_POOL_MAX;
    int m = 0; /* workers taking part: 1..m */
    if (p && p->pid != getpid()) /* a fork's copy: everything on the caller */
        p = NULL;
    if (p) {
        while (p->n_threads < n - 1) {
            int i = p->n_threads + 1;
            pool_worker *w = &p->wk[i];
            w->pool = p;
            w->index = i;
            w->seen = 0;
            atomic_init(&w->mail, 0);
            if (pthread_create(&p->tid[i], NULL, worker_main, w) != 0)
                break;
            p->n_threads = i;
        }
        m = p->n_threads < n - 1 ? p->n_threads : n - 1;
    }
    if (m > 0) {
        p->fn = fn;
        p->ctx = ctx;
        atomic_store_explicit(&p->pending, m, memory_order_relaxed);
        post(p, m);
    }
    fn(0, ctx);
    for (int i = m + 1; i < n; i++) /* workers that could not be started */
        fn(i, ctx);
    if (m > 0 && atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        double until = now_us() + SV_POOL_SPIN_US;
        for (long k = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; k++) {
            cpu_relax();
            if (k % 64 == 0 && now_us() > until)
                break;
        }
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    return m;
}
