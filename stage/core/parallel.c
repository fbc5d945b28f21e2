/* parallel.c — static parallel-for over pthreads.  See parallel.h. */
#include "core/parallel.h"

#include <pthread.h>
#include <unistd.h>

typedef struct worker {
    int first, stride, n_tasks;
    sv_task_fn fn;
    void *ctx;
} worker;

static void run_worker(const worker *w)
{
    for (int t = w->first; t < w->n_tasks; t += w->stride)
        w->fn(t, w->ctx);
}

static void *thread_main(void *arg)
{
    run_worker(arg);
    return NULL;
}

#define SV_PARALLEL_MAX 256

int sv_parallel_for(int n_threads, int n_tasks, sv_task_fn fn, void *ctx)
{
    if (n_tasks <= 0 || !fn)
        return 0;
    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > n_tasks)
        n_threads = n_tasks;
    if (n_threads > SV_PARALLEL_MAX)
        n_threads = SV_PARALLEL_MAX;
    worker w[SV_PARALLEL_MAX];
    pthread_t tid[SV_PARALLEL_MAX];
    int started[SV_PARALLEL_MAX];
    for (int t = 0; t < n_threads; t++) {
        w[t].first = t;
        w[t].stride = n_threads;
        w[t].n_tasks = n_tasks;
        w[t].fn = fn;
        w[t].ctx = ctx;
        started[t] = 0;
    }
    for (int t = 1; t < n_threads; t++)
        started[t] = pthread_create(&tid[t], NULL, thread_main, &w[t]) == 0;
    run_worker(&w[0]);
    for (int t = 1; t < n_threads; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            run_worker(&w[t]);
    }
    return 0;
}

int sv_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
