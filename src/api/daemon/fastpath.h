/* fastpath.h: the daemon's start and stop of the DPDK fast path.
 *
 * Before any network set-up: the host checks of limiquantix/dpdk.h with
 * the daemon's own CPU affinity and hugepage reservation (a refusal stops
 * the daemon with every problem named and nothing changed), the
 * vhost-user socket directory, and the Open_vSwitch settings for the
 * network engine (vswitchd-ctl/dpdk.h). */
#ifndef LQ_DAEMON_FASTPATH_H
#define LQ_DAEMON_FASTPATH_H 1

#include <stdbool.h>
#include "limiquantix/error.h"

struct lq_config;
struct lq_metrics;
struct lq_vs_dpdk;
struct lq_worker_pool;
struct lq_fastpath;

/* For lq_network_options.dpdk. */
const struct lq_vs_dpdk *lq_fastpath_ovs(const struct lq_fastpath *);

/* 'sandbox_dir' (NULL outside --sandbox): its EAL file prefix, and the
 * hugepages reserved for it are given back at stop. */
struct lq_error *lq_fastpath_start(const struct lq_config *,
                                   const char *sandbox_dir,
                                   struct lq_fastpath **);
void lq_fastpath_stop(struct lq_fastpath *);

/* PMD statistics on /metrics (limiquantix/pmd_stats.h), from the
 * ovs-vswitchd whose unixctl socket is 'ctl_path' (NULL: the system one,
 * found through /var/run/openvswitch/ovs-vswitchd.pid at each refresh).
 * A scrape renders the last numbers and starts a refresh on 'pool' when
 * they are older than a second, so /metrics never waits for OVS. */
void lq_fastpath_export_pmd_stats(struct lq_fastpath *, struct lq_metrics *,
                                  struct lq_worker_pool *,
                                  const char *ctl_path);

#endif
