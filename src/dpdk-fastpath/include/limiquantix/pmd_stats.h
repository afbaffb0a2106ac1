/* limiquantix/pmd_stats.h: OVS-DPDK PMD thread statistics as Prometheus
 * metrics.
 *
 * The numbers are those of `ovs-appctl dpif-netdev/pmd-stats-show`, asked
 * of ovs-vswitchd over its unixctl socket (JSON-RPC, no ovs-appctl
 * process), parsed per PMD thread and rendered in the Prometheus text
 * format.  Parsing and rendering are pure, for unit tests. */
#ifndef LIMIQUANTIX_PMD_STATS_H
#define LIMIQUANTIX_PMD_STATS_H 1

#include <stddef.h>
#include <stdint.h>
#include "limiquantix/error.h"

struct ds;

struct lq_pmd_stats {
    int numa_id;                /* -1 if not reported. */
    unsigned int core_id;
    uint64_t packets;           /* "packets received" */
    uint64_t recirculations;
    uint64_t phwol_hits, mfex_hits, simple_hits;
    uint64_t emc_hits, smc_hits, megaflow_hits;
    uint64_t upcalls_ok, upcalls_failed;
    uint64_t idle_cycles, busy_cycles;
};

/* Parses pmd-stats-show output; the main (non-PMD) thread is skipped.
 * Unknown lines are ignored (newer OVS versions add some); a PMD header
 * that does not parse is an invalid_argument error. */
struct lq_error *lq_pmd_stats_parse(const char *text,
                                    struct lq_pmd_stats **statsp, size_t *n);

/* Appends limiquantix_dpdk_pmd_* metric families for 'stats'. */
void lq_pmd_stats_render(const struct lq_pmd_stats *, size_t n,
                         struct ds *out);

/* Runs dpif-netdev/pmd-stats-show on the ovs-vswitchd whose unixctl socket
 * is 'ctl_path'.  Blocks until it answers: call it off the loop. */
struct lq_error *lq_pmd_stats_fetch(const char *ctl_path, char **textp);

#endif
