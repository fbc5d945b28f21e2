/* pool.h — a persistent pool of worker threads for short parallel calls.
 *
 * sv_parallel_for (parallel.h) starts its threads for each call, which
 * costs about 50 microseconds on a virtual machine: nothing next to a
 * training step, a quarter of one braai stamp's inference.  An sv_pool
 * keeps its threads between calls.  After a call a worker spins for a short
 * while (SV_POOL_SPIN_US, about 0.1 ms: back-to-back calls wake it in well
 * under a microsecond), then sleeps on a condition variable (a sleeping
 * worker costs nothing; waking it about 20 microseconds), so that an idle
 * pool never holds a core.
 *
 * sv_pool_run(pool, n, fn, ctx) runs fn(0, ctx) on the calling thread and
 * fn(1..n-1, ctx) on workers 1..n-1 (each index exactly once, on its own
 * thread), and returns when all have returned.  Workers are started when a
 * call first needs them; an index whose worker cannot be started runs on
 * the calling thread after fn(0) (so fn must not wait for another index to
 * start: callers that share work should take it dynamically, as nn_plan's
 * chunks and row pieces are).
 *
 * Thread safety: one sv_pool_run at a time per pool (a pool belongs to one
 * owner, e.g. one inference plan); distinct pools are independent.  fn runs
 * concurrently for distinct indices.  A pool's threads do not survive
 * fork(): in a child, a pool its parent made runs every index on the
 * calling thread (it never waits for the parent's workers nor touches their
 * lock), and sv_pool_free only releases its memory.
 */
#ifndef SV_POOL_H
#define SV_POOL_H

#include "core/parallel.h" /* sv_task_fn */

#ifdef __cplusplus
extern "C" {
#endif

#define SV_POOL_MAX 256   /* indices per call (the calling thread included) */
#define SV_POOL_SPIN_US 100

typedef struct sv_pool sv_pool;

/* An empty pool (no thread yet), or NULL when out of memory. */
sv_pool *sv_pool_new(void);
/* Stops and joins the workers; NULL is ignored.  Not during a run. */
void sv_pool_free(sv_pool *pool);

/* Run fn(i, ctx) for i = 0 .. n-1 as above (n < 1: nothing; n is cut to
 * SV_POOL_MAX).  Returns the number of indices that ran on workers (0 when
 * none could be started; the results are the same). */
int sv_pool_run(sv_pool *pool, int n, sv_task_fn fn, void *ctx);

/* Workers started so far. */
int sv_pool_threads(const sv_pool *pool);

#ifdef __cplusplus
}
#endif
#endif
