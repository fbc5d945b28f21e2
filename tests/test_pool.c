/* test_pool.c — the persistent worker pool (core/pool.h): every index runs
 * exactly once per call and on its own thread, over many back-to-back calls
 * of varying sizes (workers spinning) and calls after idle pauses (workers
 * asleep); tasks that share work through a counter finish it all; a NULL
 * pool runs everything on the caller; free joins spinning and sleeping
 * workers; a forked child's copy runs on the child's thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/pool.h"

typedef struct job {
    atomic_int runs[SV_POOL_MAX];
    pthread_t who[SV_POOL_MAX];
    atomic_long next;  /* shared work: items taken */
    atomic_long sum;   /* of the items' values */
    long items;
} job;

static void task(int i, void *v)
{
    job *j = v;
    atomic_fetch_add(&j->runs[i], 1);
    j->who[i] = pthread_self();
    for (;;) { /* dynamic share of the items, as nn_plan's chunks */
        long k = atomic_fetch_add(&j->next, 1);
        if (k >= j->items)
            break;
        atomic_fetch_add(&j->sum, k + 1);
    }
}

/* strict: every worker must start (small calls; a big one may meet a
 * thread limit, and then its indices run on the caller) */
static void check_call(sv_pool *p, int n, long items, int strict)
{
    job j;
    memset(&j, 0, sizeof j);
    j.items = items;
    int m = sv_pool_run(p, n, task, &j);
    int want = n > SV_POOL_MAX ? SV_POOL_MAX : n;
    for (int i = 0; i < want; i++)
        assert_int_equal(atomic_load(&j.runs[i]), 1);
    for (int i = want; i < SV_POOL_MAX; i++)
        assert_int_equal(atomic_load(&j.runs[i]), 0);
    assert_int_equal(atomic_load(&j.sum), items * (items + 1) / 2);
    if (p) {
        if (strict)
            assert_int_equal(m, want - 1);
        for (int a = 0; a <= m; a++)
            for (int b = a + 1; b <= m; b++)
                assert_false(pthread_equal(j.who[a], j.who[b]));
    } else {
        assert_int_equal(m, 0);
    }
}

static void test_back_to_back(void **state)
{
    (void)state;
    sv_pool *p = sv_pool_new();
    assert_non_null(p);
    static const int sizes[] = {2, 3, 1, 4, 2, 2, 5, 3};
    for (int r = 0; r < 20000; r++)
        check_call(p, sizes[r % 8], r % 7 == 0 ? 5000 : 3, 1);
    assert_int_equal(sv_pool_threads(p), 4);
    sv_pool_free(p); /* workers still spinning */
}

static void test_after_idle(void **state)
{
    (void)state;
    sv_pool *p = sv_pool_new();
    assert_non_null(p);
    struct timespec pause = {0, 3 * SV_POOL_SPIN_US * 1000};
    for (int r = 0; r < 40; r++) {
        nanosleep(&pause, NULL); /* the workers have gone to sleep */
        check_call(p, 2 + r % 3, 1000, 1);
    }
    nanosleep(&pause, NULL);
    sv_pool_free(p); /* workers asleep */
}

static void test_edges(void **state)
{
    (void)state;
    check_call(NULL, 3, 100, 1); /* no pool: all on the caller */
    sv_pool *p = sv_pool_new();
    assert_non_null(p);
    check_call(p, 1, 10, 1);  /* one index: no worker */
    assert_int_equal(sv_pool_threads(p), 0);
    job j;
    memset(&j, 0, sizeof j);
    assert_int_equal(sv_pool_run(p, 0, task, &j), 0);
    assert_int_equal(atomic_load(&j.runs[0]), 0);
    check_call(p, SV_POOL_MAX + 5, 10000, 0); /* cut to SV_POOL_MAX */
    sv_pool_free(p);
    sv_pool_free(NULL);
    p = sv_pool_new(); /* never run */
    sv_pool_free(p);
}

/* a child forked while the parent's workers spin (or hold the lock) runs
 * its calls on its own thread and frees the copy without hanging */
static void test_fork(void **state)
{
    (void)state;
    sv_pool *p = sv_pool_new();
    assert_non_null(p);
    check_call(p, 3, 1000, 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        job j;
        memset(&j, 0, sizeof j);
        j.items = 500;
        int m = sv_pool_run(p, 3, task, &j);
        int ok = m == 0 && atomic_load(&j.sum) == 500L * 501 / 2;
        for (int i = 0; i < 3; i++)
            ok = ok && atomic_load(&j.runs[i]) == 1 && pthread_equal(j.who[i], pthread_self());
        sv_pool_free(p);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    check_call(p, 3, 1000, 1); /* the parent's pool still works */
    sv_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_back_to_back),
        cmocka_unit_test(test_after_idle),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
