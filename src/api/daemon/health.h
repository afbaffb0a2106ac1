/* health.h: the daemon's periodic check of what the node depends on. */
#ifndef LQ_DAEMON_HEALTH_H
#define LQ_DAEMON_HEALTH_H 1

struct lq_node;
struct lq_worker_pool;
struct lq_network;
struct lq_storage;
struct lq_compute;

/* Every LQ_HEALTH_INTERVAL_MS (and at once when created) checks libvirt
 * (and counts the running VMs), the OVN and Open_vSwitch databases and
 * every storage pool, and hands the result to lq_node_set_health().  Any
 * subsystem may be NULL (not running: not checked).  Destroy it after the
 * worker pool. */
#define LQ_HEALTH_INTERVAL_MS 5000
/* The first check waits up to this long for the OVSDB connections. */
#define LQ_HEALTH_STARTUP_GRACE_MS 3000

struct lq_health_monitor;
struct lq_health_monitor *lq_health_monitor_create(
    struct lq_node *, struct lq_worker_pool *, struct lq_network *,
    struct lq_storage *, struct lq_compute *);
void lq_health_monitor_run(struct lq_health_monitor *);
void lq_health_monitor_wait(struct lq_health_monitor *);
void lq_health_monitor_destroy(struct lq_health_monitor *);

#endif
