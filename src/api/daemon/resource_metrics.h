/* resource_metrics.h: the host's and the VMs' resources on /metrics.
 *
 * Host: CPU seconds (busy, all), memory (total, available, used), load
 * averages, bytes per whole disk and per interface.  VMs (with compute):
 * running or not, and for running ones CPU seconds, vCPUs, guest memory,
 * QEMU's RSS, bytes per disk and per NIC.  Read on the worker pool at most
 * every LQ_RESOURCE_METRICS_MAX_AGE_MS, triggered by scrapes. */
#ifndef LQ_DAEMON_RESOURCE_METRICS_H
#define LQ_DAEMON_RESOURCE_METRICS_H 1

#define LQ_RESOURCE_METRICS_MAX_AGE_MS 5000

struct lq_metrics;
struct lq_worker_pool;
struct lq_compute;

struct lq_resource_metrics;
/* 'compute' may be NULL (host metrics only).  Destroy it after the worker
 * pool. */
struct lq_resource_metrics *lq_resource_metrics_create(
    struct lq_metrics *, struct lq_worker_pool *, struct lq_compute *);
void lq_resource_metrics_destroy(struct lq_resource_metrics *);

#endif
