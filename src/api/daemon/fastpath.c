/* fastpath.c: the daemon's start and stop of the DPDK fast path
 * (fastpath.h). */
#include <config.h>
#include "fastpath.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>

#include "dpdk.h"
#include "hash.h"
#include "limiquantix/config.h"
#include "limiquantix/dpdk.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(fastpath);

/* Every parent of 'dir' and 'dir' itself.  0755: QEMU, running as its
 * own user on a real host, creates its sockets there. */
static struct lq_error *
make_socket_dir(const char *dir)
{
    char *path = xstrdup(dir);
    for (char *p = path + 1; ; p++) {
        bool end = !*p;
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(path, 0755) && errno != EEXIST) {
                struct lq_error *e = lq_error_new(
                    LQ_FAILED_PRECONDITION, "dpdk.vhost_socket_dir: cannot "
                    "create %s: %s", path, strerror(errno));
                free(path);
                return e;
            }
            if (end) {
                break;
            }
            *p = '/';
        }
    }
    free(path);
    return NULL;
}

struct lq_error *
lq_fastpath_start(const struct lq_config *c, const char *sandbox_dir,
                  struct lq_fastpath **fpp)
{
    *fpp = NULL;

    /* DPDK ports are uplinks: they go on a provider bridge. */
    for (size_t i = 0; i < c->dpdk.n_interfaces; i++) {
        if (!c->dpdk.interfaces[i].bridge && !c->network.bridge_mappings.n) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "dpdk.interfaces[%zu]."
                                "bridge: required (no network."
                                "bridge_mappings to take the provider "
                                "bridge from)", i);
        }
    }

    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine)) {
        return lq_error_new(LQ_INTERNAL, "dpdk: sched_getaffinity: %s",
                            strerror(errno));
    }
    struct lq_dpdk_check_options opts = {
        .daemon_cpus = &mine,
        .ovs_vswitchd = LQ_OVS_VSWITCHD_DPDK,
        .reserve_hugepages = true,
    };
    struct lq_dpdk_report report;
    struct lq_error *e = lq_dpdk_check_host(c, &opts, &report);
    if (!e) {
        e = make_socket_dir(c->dpdk.vhost_socket_dir);
        if (e && report.reserved) {
            lq_error_free(lq_hugepages_set_total(NULL, report.hugepage_size_kb,
                                                 report.prev_total));
        }
    }
    if (e) {
        lq_dpdk_report_clear(&report);
        return e;
    }

    struct lq_fastpath *fp = xzalloc(sizeof *fp);
    char *prefix = NULL;
    if (sandbox_dir) {
        /* Two sandboxes' EALs must not share /var/run/dpdk/PREFIX. */
        prefix = xasprintf("lq-%08x", hash_string(sandbox_dir, 0));
        fp->give_back = report.reserved;
        fp->size_kb = report.hugepage_size_kb;
        fp->prev_total = report.prev_total;
    }
    fp->ovs = lq_vs_dpdk_create(c, prefix);
    free(prefix);
    const struct lq_hugepage_pool *pool = lq_hugepages_find(
        &report.hugepages, report.hugepage_size_kb);
    VLOG_INFO("DPDK fast path: host checks passed (online CPUs %s, "
              "%llu of %llu %u kB hugepages free%s)", report.online_cpus,
              pool ? (unsigned long long) pool->free : 0,
              pool ? (unsigned long long) pool->total : 0,
              report.hugepage_size_kb,
              report.reserved ? ", reserved now" : "");
    lq_dpdk_report_clear(&report);
    *fpp = fp;
    return NULL;
}

void
lq_fastpath_stop(struct lq_fastpath *fp)
{
    if (!fp) {
        return;
    }
    if (fp->give_back) {
        struct lq_error *e = lq_hugepages_set_total(NULL, fp->size_kb,
                                                    fp->prev_total);
        if (e) {
            VLOG_WARN("giving back hugepages: %s", e->message);
            lq_error_free(e);
        }
    }
    lq_vs_dpdk_destroy(fp->ovs);
    free(fp);
}
