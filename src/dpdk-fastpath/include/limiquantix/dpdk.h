/* limiquantix/dpdk.h: host checks for the DPDK fast path.
 *
 * Everything here is pure with respect to the host paths it reads: every
 * function takes a 'root' directory that is prepended to /sys and /usr/...
 * (NULL or "" for the real host), so unit tests run against a fake
 * sysfs tree in a temporary directory.  The only functions that change
 * the host are lq_hugepages_reserve() and lq_hugepages_set_total().
 *
 * lq_dpdk_check_host() runs every check for node.yaml's `dpdk` section
 * and returns one error listing everything that is missing; on refusal
 * nothing has been changed.  The daemon and lq-dpdk-check both call it.
 *
 * Strings returned through pointers are owned by the caller. */
#ifndef LIMIQUANTIX_DPDK_H
#define LIMIQUANTIX_DPDK_H 1

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "limiquantix/config.h"
#include "limiquantix/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CPU lists as in /sys/devices/system/cpu/online and `taskset -c`:
 * "1", "2-3,5".  Surrounding whitespace is ignored; a CPU listed twice,
 * a backwards range or a CPU >= CPU_SETSIZE is an invalid_argument error
 * (the message is the reason only, callers add the key). */
struct lq_error *lq_cpu_list_parse(const char *text, cpu_set_t *);
/* "1-3,5"; "" for an empty set. */
char *lq_cpu_list_format(const cpu_set_t *);
/* "0x2e" (OVS's pmd-cpu-mask / dpdk-lcore-mask form); "0x0" when empty. */
char *lq_cpu_list_hex_mask(const cpu_set_t *);

/* PCI addresses: "0000:03:00.0" or the short "03:00.0".  Writes the full
 * lower-case form to 'out'; false if malformed. */
#define LQ_PCI_ADDR_LEN 12
bool lq_pci_addr_normalize(const char *, char out[LQ_PCI_ADDR_LEN + 1]);

/* Hugepages per page size, from ROOT/sys/kernel/mm/hugepages. */
struct lq_hugepage_pool {
    uint32_t size_kb;           /* 2048, 1048576 */
    uint64_t total;             /* nr_hugepages */
    uint64_t free;              /* free_hugepages */
};
struct lq_hugepages {
    struct lq_hugepage_pool *pools;     /* Ascending by size. */
    size_t n;
};
/* A kernel without hugetlb support gives an empty list, not an error. */
struct lq_error *lq_hugepages_read(const char *root, struct lq_hugepages *);
const struct lq_hugepage_pool *lq_hugepages_find(const struct lq_hugepages *,
                                                 uint32_t size_kb);
void lq_hugepages_clear(struct lq_hugepages *);
/* "2M", "1G", else "<N>kB".  Caller frees. */
char *lq_hugepage_size_name(uint32_t size_kb);

/* Makes sure at least 'count' pages of 'size_kb' exist: when there are
 * fewer, writes nr_hugepages, reads it back, and if the kernel gave fewer
 * puts the old value back and fails with "hugepages not reservable".
 * Never lowers the count.  '*prev_totalp' (if nonnull) gets the total
 * from before, for lq_hugepages_set_total() to give them back. */
struct lq_error *lq_hugepages_reserve(const char *root, uint32_t size_kb,
                                      uint64_t count, uint64_t *prev_totalp);
struct lq_error *lq_hugepages_set_total(const char *root, uint32_t size_kb,
                                        uint64_t total);

/* PMD cores and the lcore must be online CPUs
 * (ROOT/sys/devices/system/cpu/online); the PMD cores must not include the
 * lcore nor any CPU of 'daemon_cpus' (the daemon's sched_getaffinity(),
 * NULL to skip).  '*onlinep' (if nonnull) gets the online list. */
struct lq_error *lq_dpdk_check_cores(const char *root, const cpu_set_t *pmd,
                                     int lcore, const cpu_set_t *daemon_cpus,
                                     char **onlinep);

/* The driver a PCI device is bound to (ROOT/sys/bus/pci/devices/ADDR/driver)
 * must be one DPDK can use: vfio-pci, uio_pci_generic or igb_uio.
 * '*driverp' (if nonnull) gets the driver name, or NULL if unbound. */
struct lq_error *lq_dpdk_check_pci(const char *root, const char *pci,
                                   char **driverp);
bool lq_dpdk_driver_is_usable(const char *driver);

/* Debian's DPDK build of ovs-vswitchd (package openvswitch-switch-dpdk). */
#define LQ_OVS_VSWITCHD_DPDK \
    "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
/* ROOT/'binary' must exist and `binary --version` (run through lq_exec)
 * must mention DPDK.  '*versionp' (if nonnull) gets the first lines of
 * that output. */
struct lq_error *lq_dpdk_check_ovs(const char *root, const char *binary,
                                   char **versionp);

/* Everything, for one config. */
struct lq_dpdk_check_options {
    const char *root;                   /* NULL: the real host. */
    const cpu_set_t *daemon_cpus;       /* NULL: skip the affinity check. */
    const char *ovs_vswitchd;           /* NULL: skip the OVS check. */
    bool reserve_hugepages;             /* Raise nr_hugepages to
                                         * dpdk.hugepages.count if lower;
                                         * false: only check. */
};

struct lq_dpdk_report {
    char *online_cpus;                  /* "0-7" */
    uint32_t hugepage_size_kb;          /* The configured size. */
    struct lq_hugepages hugepages;      /* After any reservation. */
    bool reserved;                      /* We raised nr_hugepages ... */
    uint64_t prev_total;                /* ... from this many. */
    char **drivers;                     /* Per dpdk.interfaces entry: the
                                         * PCI driver, NULL for vdevs. */
    size_t n_drivers;
    char *ovs_version;                  /* NULL when not checked. */
};

/* Checks cores, PCI bindings, the OVS binary and hugepages (in that order;
 * the hugepage reservation, the only change, comes last and only when
 * everything else passed).  On failure, one failed_precondition error
 * lists every problem ("dpdk: A; B") and the host is unchanged; the
 * report is filled as far as it got either way and must be cleared. */
struct lq_error *lq_dpdk_check_host(const struct lq_config *,
                                    const struct lq_dpdk_check_options *,
                                    struct lq_dpdk_report *);
void lq_dpdk_report_clear(struct lq_dpdk_report *);

#ifdef __cplusplus
}
#endif

#endif /* limiquantix/dpdk.h */
