/* Unit tests: the worker pool runs work off-loop and completions on it. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <cmocka.h>

#include "openvswitch/poll-loop.h"
#include "worker_pool.h"

struct job_arg {
    pthread_t loop_thread;
    pthread_t work_thread;
    int value;
    int result;
    int *n_done;
};

static void
work(void *arg_)
{
    struct job_arg *a = arg_;
    a->work_thread = pthread_self();
    a->result = a->value * 2;
}

static void
done(void *arg_)
{
    struct job_arg *a = arg_;
    /* Completions run on the thread that calls run(). */
    assert_true(pthread_equal(pthread_self(), a->loop_thread));
    (*a->n_done)++;
}

static void
test_jobs_complete_on_loop(void **state)
{
    (void) state;
    enum { N = 50 };
    struct lq_worker_pool *pool = lq_worker_pool_create(3);
    struct job_arg args[N];
    int n_done = 0;

    for (int i = 0; i < N; i++) {
        args[i] = (struct job_arg) { pthread_self(), 0, i, -1, &n_done };
        lq_worker_pool_submit(pool, work, done, &args[i]);
    }
    assert_int_equal(lq_worker_pool_in_flight(pool), N);
    while (n_done < N) {
        lq_worker_pool_run(pool);
        if (n_done < N) {
            lq_worker_pool_wait(pool);
            poll_block();       /* Sleeps until a worker sets the latch. */
        }
    }
    assert_int_equal(lq_worker_pool_in_flight(pool), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(args[i].result, 2 * i);
        assert_false(pthread_equal(args[i].work_thread, pthread_self()));
    }
    lq_worker_pool_destroy(pool);
}

static void
test_destroy_runs_pending_completions(void **state)
{
    (void) state;
    struct lq_worker_pool *pool = lq_worker_pool_create(1);
    struct job_arg args[5];
    int n_done = 0;
    for (int i = 0; i < 5; i++) {
        args[i] = (struct job_arg) { pthread_self(), 0, i, -1, &n_done };
        lq_worker_pool_submit(pool, work, done, &args[i]);
    }
    lq_worker_pool_destroy(pool);
    assert_int_equal(n_done, 5);    /* Owners always get their arg back. */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_complete_on_loop),
        cmocka_unit_test(test_destroy_runs_pending_completions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
