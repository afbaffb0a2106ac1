/* worker_pool.h: a small pool of threads for blocking calls.
 *
 * The daemon has one event loop (OVS's poll loop).  Anything that may block
 * (reading the host for GetNodeInfo, HTTP calls to the control plane, and
 * later librbd, lvm, qemu-img and libvirt calls) is submitted here: 'work'
 * runs on a worker thread, then 'done' runs back on the loop thread, woken
 * through a latch, so handlers never need locks for loop-owned state. */
#ifndef LQ_WORKER_POOL_H
#define LQ_WORKER_POOL_H 1

#include <stddef.h>

struct lq_worker_pool;

typedef void lq_work_fn(void *arg);     /* On a worker thread. */
typedef void lq_done_fn(void *arg);     /* On the loop thread. */

struct lq_worker_pool *lq_worker_pool_create(int n_threads);
/* Stops the threads after their current job; queued jobs that never ran
 * and finished jobs whose 'done' has not run get 'done' called now, so
 * their owners can free 'arg'. */
void lq_worker_pool_destroy(struct lq_worker_pool *);

void lq_worker_pool_submit(struct lq_worker_pool *, lq_work_fn *work,
                           lq_done_fn *done, void *arg);

/* Loop integration: run() calls 'done' for finished jobs; wait() arranges
 * for poll_block() to wake when more finish. */
void lq_worker_pool_run(struct lq_worker_pool *);
void lq_worker_pool_wait(struct lq_worker_pool *);

/* Jobs submitted whose 'done' has not yet run. */
size_t lq_worker_pool_in_flight(const struct lq_worker_pool *);

#endif
