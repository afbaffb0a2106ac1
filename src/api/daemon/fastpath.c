/* fastpath.c: the daemon's start and stop of the DPDK fast path
 * (fastpath.h). */
#include <config.h>
#include "fastpath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dpdk.h"
#include "fileutil.h"
#include "hash.h"
#include "limiquantix/config.h"
#include "limiquantix/dpdk.h"
#include "limiquantix/pmd_stats.h"
#include "metrics.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/thread.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"
#include "worker_pool.h"

VLOG_DEFINE_THIS_MODULE(fastpath);

#define SYSTEM_VSWITCHD_PIDFILE "/var/run/openvswitch/ovs-vswitchd.pid"
#define PMD_STATS_MAX_AGE_MS 1000

struct lq_fastpath {
    struct lq_vs_dpdk *ovs;
    bool give_back;             /* Restore nr_hugepages at stop. */
    uint32_t size_kb;
    uint64_t prev_total;

    /* PMD statistics; all on the loop thread except the fetch. */
    struct lq_worker_pool *pool;
    char *ctl_path;             /* NULL: the system ovs-vswitchd. */
    char *pmd_text;             /* Rendered families, "" before the first. */
    long long pmd_time;         /* time_msec() of the last refresh. */
    bool pmd_busy;              /* A fetch is on the worker pool. */
    bool stopping;              /* Freed by the fetch's done. */
    char *eal_prefix;           /* Sandbox: its EAL --file-prefix. */
};

struct pmd_fetch {
    struct lq_fastpath *fp;
    char *ctl_path;
    char *text;                 /* Rendered, or NULL. */
    struct lq_error *error;
};

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
    fp->pmd_text = xstrdup("");
    char *prefix = NULL;
    if (sandbox_dir) {
        /* Two sandboxes' EALs must not share /var/run/dpdk/PREFIX. */
        prefix = xasprintf("lq-%08x", hash_string(sandbox_dir, 0));
        fp->give_back = report.reserved;
        fp->size_kb = report.hugepage_size_kb;
        fp->prev_total = report.prev_total;
    }
    fp->ovs = lq_vs_dpdk_create(c, prefix);
    fp->eal_prefix = prefix;
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

const struct lq_vs_dpdk *
lq_fastpath_ovs(const struct lq_fastpath *fp)
{
    return fp ? fp->ovs : NULL;
}

/* The unixctl socket of the system ovs-vswitchd: RUNDIR/NAME.PID.ctl. */
static char *
system_ctl_path(void)
{
    long pid = lq_read_pidfile(SYSTEM_VSWITCHD_PIDFILE);
    return pid ? xasprintf("/var/run/openvswitch/ovs-vswitchd.%ld.ctl",
                               pid) : NULL;
}

static void
pmd_fetch_work(void *f_)
{
    struct pmd_fetch *f = f_;
    char *path = f->ctl_path ? xstrdup(f->ctl_path) : system_ctl_path();
    char *raw = NULL;
    if (!path) {
        f->error = lq_error_new(LQ_UNAVAILABLE, "no %s",
                                SYSTEM_VSWITCHD_PIDFILE);
    } else {
        f->error = lq_pmd_stats_fetch(path, &raw);
    }
    struct lq_pmd_stats *stats = NULL;
    size_t n = 0;
    if (!f->error) {
        f->error = lq_pmd_stats_parse(raw, &stats, &n);
    }
    if (!f->error) {
        struct ds out = DS_EMPTY_INITIALIZER;
        lq_pmd_stats_render(stats, n, &out);
        f->text = ds_steal_cstr(&out);
    }
    free(stats);
    free(raw);
    free(path);
}

static void fastpath_free(struct lq_fastpath *);

static void
pmd_fetch_done(void *f_)
{
    struct pmd_fetch *f = f_;
    struct lq_fastpath *fp = f->fp;

    fp->pmd_busy = false;
    fp->pmd_time = time_msec();
    if (f->error) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "PMD statistics: %s", f->error->message);
        lq_error_free(f->error);
        free(fp->pmd_text);
        fp->pmd_text = xstrdup("");     /* No stale numbers. */
    } else {
        free(fp->pmd_text);
        fp->pmd_text = f->text;
    }
    free(f->ctl_path);
    free(f);
    if (fp->stopping) {
        fastpath_free(fp);
    }
}

static void
render_pmd_stats(void *fp_, struct ds *out)
{
    struct lq_fastpath *fp = fp_;
    ds_put_cstr(out, fp->pmd_text);
    if (!fp->pmd_busy && time_msec() - fp->pmd_time > PMD_STATS_MAX_AGE_MS) {
        struct pmd_fetch *f = xzalloc(sizeof *f);
        f->fp = fp;
        f->ctl_path = nullable_xstrdup(fp->ctl_path);
        fp->pmd_busy = true;
        lq_worker_pool_submit(fp->pool, pmd_fetch_work, pmd_fetch_done, f);
    }
}

void
lq_fastpath_export_pmd_stats(struct lq_fastpath *fp, struct lq_metrics *m,
                             struct lq_worker_pool *pool,
                             const char *ctl_path)
{
    fp->pool = pool;
    fp->ctl_path = nullable_xstrdup(ctl_path);
    lq_metrics_add_collector(m, render_pmd_stats, fp);
}

/* EAL leaves /var/run/dpdk/PREFIX (its telemetry socket) even with
 * --in-memory: a sandbox removes its own once ovs-vswitchd is gone. */
static void
remove_eal_runtime_dir(const char *prefix)
{
    char *dir = xasprintf("/var/run/dpdk/%s", prefix);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                unlinkat(dirfd(d), de->d_name, 0);
            }
        }
        closedir(d);
        if (rmdir(dir) && errno != ENOENT) {
            VLOG_WARN("removing %s: %s", dir, ovs_strerror(errno));
        }
    }
    free(dir);
}

static void
fastpath_free(struct lq_fastpath *fp)
{
    if (fp->eal_prefix) {
        remove_eal_runtime_dir(fp->eal_prefix);
        free(fp->eal_prefix);
    }
    lq_vs_dpdk_destroy(fp->ovs);
    free(fp->ctl_path);
    free(fp->pmd_text);
    free(fp);
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
    if (fp->pmd_busy) {
        fp->stopping = true;    /* The fetch's done frees it. */
    } else {
        fastpath_free(fp);
    }
}
