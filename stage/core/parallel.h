/* parallel.h — a minimal deterministic parallel-for over pthreads.
 *
 * sv_parallel_for runs fn(task, ctx) for task = 0 .. n_tasks-1 on n_threads
 * threads (the calling thread included) with a STATIC assignment: thread t
 * runs tasks t, t + n_threads, t + 2 n_threads ... in ascending order.  The
 * work a task does must depend only on its index (never on the thread that
 * runs it); then results are identical for every thread count, which is how
 * training stays bit-reproducible.
 *
 * Threads are created for the call and joined before it returns (the cost,
 * tens of microseconds, is negligible next to a training step).
 *
 * Thread safety: reentrant; fn must be safe to run concurrently for
 * distinct tasks.
 */
#ifndef SV_PARALLEL_H
#define SV_PARALLEL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*sv_task_fn)(int task, void *ctx);

/* Run every task; n_threads < 1 means 1, and it is cut to n_tasks.  If a
 * thread cannot be created its tasks run on the calling thread (the result
 * is the same).  Returns 0. */
int sv_parallel_for(int n_threads, int n_tasks, sv_task_fn fn, void *ctx);

/* The number of online processors (at least 1). */
int sv_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
