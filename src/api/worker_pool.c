/* worker_pool.c: see worker_pool.h.
 *
 * Two lists under one mutex: 'queue' (submitted, not started) and 'done'
 * (finished, 'done' callback not yet run).  Workers sleep on a condition
 * variable; the loop thread sleeps in poll() on the latch. */
#include <config.h>
#include "worker_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "latch.h"
#include "openvswitch/list.h"
#include "openvswitch/thread.h"
#include "ovs-thread.h"
#include "util.h"

struct job {
    struct ovs_list node;
    lq_work_fn *work;
    lq_done_fn *done;
    void *arg;
};

struct lq_worker_pool {
    struct ovs_mutex mutex;
    pthread_cond_t cond;
    struct ovs_list queue OVS_GUARDED;
    struct ovs_list done OVS_GUARDED;
    bool stopping OVS_GUARDED;
    struct latch latch;         /* Set when 'done' becomes non-empty. */
    pthread_t *threads;
    int n_threads;
    size_t in_flight;           /* Loop thread only. */
};

static void *
worker_main(void *pool_)
{
    struct lq_worker_pool *pool = pool_;

    ovs_mutex_lock(&pool->mutex);
    for (;;) {
        while (!pool->stopping && ovs_list_is_empty(&pool->queue)) {
            ovs_mutex_cond_wait(&pool->cond, &pool->mutex);
        }
        if (pool->stopping) {
            break;
        }
        struct job *job = CONTAINER_OF(ovs_list_pop_front(&pool->queue),
                                       struct job, node);
        ovs_mutex_unlock(&pool->mutex);

        job->work(job->arg);

        ovs_mutex_lock(&pool->mutex);
        ovs_list_push_back(&pool->done, &job->node);
        latch_set(&pool->latch);
    }
    ovs_mutex_unlock(&pool->mutex);
    return NULL;
}

struct lq_worker_pool *
lq_worker_pool_create(int n_threads)
{
    struct lq_worker_pool *pool = xzalloc(sizeof *pool);

    ovs_mutex_init(&pool->mutex);
    xpthread_cond_init(&pool->cond, NULL);
    ovs_list_init(&pool->queue);
    ovs_list_init(&pool->done);
    latch_init(&pool->latch);
    pool->n_threads = n_threads;
    pool->threads = xcalloc(n_threads, sizeof *pool->threads);
    for (int i = 0; i < n_threads; i++) {
        pool->threads[i] = ovs_thread_create("lq-worker", worker_main, pool);
    }
    return pool;
}

void
lq_worker_pool_destroy(struct lq_worker_pool *pool)
{
    if (!pool) {
        return;
    }
    ovs_mutex_lock(&pool->mutex);
    pool->stopping = true;
    xpthread_cond_broadcast(&pool->cond);
    ovs_mutex_unlock(&pool->mutex);
    for (int i = 0; i < pool->n_threads; i++) {
        xpthread_join(pool->threads[i], NULL);
    }

    /* Let owners release their arguments: finished jobs first, then those
     * that never ran. */
    lq_worker_pool_run(pool);
    struct job *job;
    LIST_FOR_EACH_POP (job, node, &pool->queue) {
        job->done(job->arg);
        free(job);
    }

    latch_destroy(&pool->latch);
    xpthread_cond_destroy(&pool->cond);
    ovs_mutex_destroy(&pool->mutex);
    free(pool->threads);
    free(pool);
}

void
lq_worker_pool_submit(struct lq_worker_pool *pool, lq_work_fn *work,
                      lq_done_fn *done, void *arg)
{
    struct job *job = xmalloc(sizeof *job);

    job->work = work;
    job->done = done;
    job->arg = arg;
    pool->in_flight++;

    ovs_mutex_lock(&pool->mutex);
    ovs_list_push_back(&pool->queue, &job->node);
    xpthread_cond_signal(&pool->cond);
    ovs_mutex_unlock(&pool->mutex);
}

void
lq_worker_pool_run(struct lq_worker_pool *pool)
{
    struct ovs_list finished;

    latch_poll(&pool->latch);
    ovs_mutex_lock(&pool->mutex);
    ovs_list_move(&finished, &pool->done);
    ovs_list_init(&pool->done);
    ovs_mutex_unlock(&pool->mutex);

    struct job *job;
    LIST_FOR_EACH_POP (job, node, &finished) {
        pool->in_flight--;
        job->done(job->arg);
        free(job);
    }
}

void
lq_worker_pool_wait(struct lq_worker_pool *pool)
{
    latch_wait(&pool->latch);
}

size_t
lq_worker_pool_in_flight(const struct lq_worker_pool *pool)
{
    return pool->in_flight;
}
