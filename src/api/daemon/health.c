/* health.c: HealthCheck's answer, kept fresh (see health.h).
 *
 * Why a periodic check and not one per HealthCheck: HealthCheck is called
 * often (load balancers, the control plane, benchmarks) and must answer
 * from the loop at once; libvirt and storage pools can take seconds to
 * answer when they are down.  So the loop starts a check every few
 * seconds: the OVSDB replicas' state is read on the loop (it owns them),
 * then libvirt and the pools on a worker, and the result goes to the node
 * object that HealthCheck and the heartbeat read.  At most one check is in
 * flight. */
#include <config.h>
#include "health.h"

#include <stdlib.h>
#include <string.h>

#include "limiquantix/compute.h"
#include "limiquantix/node.h"
#include "limiquantix/storage.h"
#include "engine.h"
#include "openvswitch/poll-loop.h"
#include "svec.h"
#include "timeval.h"
#include "util.h"
#include "worker_pool.h"

struct lq_health_monitor {
    struct lq_node *node;
    struct lq_worker_pool *pool;
    struct lq_network *network;
    struct lq_storage *storage;
    struct lq_compute *compute;
    long long next_ms;          /* When the next check starts. */
    long long grace_end_ms;     /* Until then the first check waits for
                                 * the OVSDB replicas to connect. */
    bool in_flight_flag;
    bool *in_flight;            /* &in_flight_flag, for the check. */
};

struct health_check {
    struct lq_node *node;
    struct lq_storage *storage;
    struct lq_compute *compute;
    struct svec problems;
    uint32_t running_vms;
    bool *in_flight;            /* The monitor's flag. */
};

struct lq_health_monitor *
lq_health_monitor_create(struct lq_node *node, struct lq_worker_pool *pool,
                         struct lq_network *network,
                         struct lq_storage *storage,
                         struct lq_compute *compute)
{
    struct lq_health_monitor *m = xzalloc(sizeof *m);
    m->node = node;
    m->pool = pool;
    m->network = network;
    m->storage = storage;
    m->compute = compute;
    m->in_flight = &m->in_flight_flag;
    m->next_ms = time_msec();
    m->grace_end_ms = m->next_ms + LQ_HEALTH_STARTUP_GRACE_MS;
    return m;
}

static void
add_error(struct svec *problems, const char *what, struct lq_error *e)
{
    svec_add_nocopy(problems, xasprintf("%s: %s", what, e->message));
    lq_error_free(e);
}

/* On a worker: the checks that may block. */
static void
check_work(void *arg)
{
    struct health_check *c = arg;
    if (c->compute) {
        unsigned int n = 0;
        struct lq_error *e = lq_compute_count_running(c->compute, &n);
        if (e) {
            add_error(&c->problems, "libvirt", e);
        }
        c->running_vms = n;
    }
    if (c->storage) {
        struct lq_pool_status *pools;
        size_t n;
        struct lq_error *e = lq_storage_list_pools(c->storage, &pools, &n);
        if (e) {
            add_error(&c->problems, "storage", e);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            if (strcmp(pools[i].health, "ok")) {
                svec_add_nocopy(&c->problems, xasprintf(
                    "pool %s: %s%s%s", pools[i].id, pools[i].health,
                    *pools[i].message ? ": " : "", pools[i].message));
            }
        }
        lq_pool_status_free_array(pools, n);
    }
}

/* On the loop (or in lq_worker_pool_destroy()). */
static void
check_done(void *arg)
{
    struct health_check *c = arg;
    lq_node_set_health(c->node, c->problems.names, c->problems.n,
                       c->running_vms);
    *c->in_flight = false;
    free(c);
}

void
lq_health_monitor_run(struct lq_health_monitor *m)
{
    long long now = time_msec();
    if (*m->in_flight || now < m->next_ms) {
        return;
    }
    if (m->network && !lq_network_has_connected(m->network)
        && now < m->grace_end_ms) {
        /* Just started: a database not connected yet is not down. */
        m->next_ms = MIN(now + 100, m->grace_end_ms);
        return;
    }
    m->next_ms = time_msec() + LQ_HEALTH_INTERVAL_MS;
    struct health_check *c = xzalloc(sizeof *c);
    c->node = m->node;
    c->storage = m->storage;
    c->compute = m->compute;
    svec_init(&c->problems);
    if (m->network) {
        lq_network_check_health(m->network, &c->problems);
    }
    c->in_flight = m->in_flight;
    *m->in_flight = true;
    lq_worker_pool_submit(m->pool, check_work, check_done, c);
}

void
lq_health_monitor_wait(struct lq_health_monitor *m)
{
    if (!*m->in_flight) {
        poll_timer_wait_until(m->next_ms);
    }
}

void
lq_health_monitor_destroy(struct lq_health_monitor *m)
{
    if (m) {
        /* After the worker pool: no check is in flight any more. */
        free(m);
    }
}
