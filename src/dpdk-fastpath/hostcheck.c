/* hostcheck.c: can this host run the DPDK fast path as node.yaml says?
 *
 * Reads sysfs (CPUs, hugepages, PCI drivers) under an injectable root so
 * the unit tests use a fake tree, and runs `ovs-vswitchd-dpdk --version`
 * through lq_exec.  lq_dpdk_check_host() gathers every problem into one
 * error, so an operator fixes them in one go; the hugepage reservation,
 * the only change it makes, runs last and is undone if anything after it
 * fails. */
#include <config.h>
#include "limiquantix/dpdk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "fileutil.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

#define HUGEPAGES_DIR "/sys/kernel/mm/hugepages"

static char * __attribute__((format(printf, 2, 3)))
host_path(const char *root, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *path = xvasprintf(format, args);
    va_end(args);

    char *full = xasprintf("%s%s", root ? root : "", path);
    free(path);
    return full;
}

/* Reads one unsigned decimal number (sysfs style, trailing newline). */
static int
read_u64(const char *path, uint64_t *value)
{
    char *text, *end;
    int err = lq_read_file(path, &text, NULL);
    if (err) {
        return err;
    }
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    bool ok = !errno && end != text && (!*end || !strcmp(end, "\n"));
    free(text);
    if (!ok) {
        return EINVAL;
    }
    *value = v;
    return 0;
}

static int
write_u64(const char *path, uint64_t value)
{
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%"PRIu64"\n", value);
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    int err = write(fd, buf, len) == len ? 0 : errno ? errno : EIO;
    if (close(fd) && !err) {
        err = errno;
    }
    return err;
}

char *
lq_hugepage_size_name(uint32_t size_kb)
{
    if (size_kb == 2048) {
        return xstrdup("2M");
    } else if (size_kb == 1024 * 1024) {
        return xstrdup("1G");
    }
    return xasprintf("%"PRIu32"kB", size_kb);
}

static int
compare_pools(const void *a_, const void *b_)
{
    const struct lq_hugepage_pool *a = a_, *b = b_;
    return a->size_kb < b->size_kb ? -1 : a->size_kb > b->size_kb;
}

struct lq_error *
lq_hugepages_read(const char *root, struct lq_hugepages *hp)
{
    char *dir_path = host_path(root, HUGEPAGES_DIR);
    DIR *dir = opendir(dir_path);
    struct lq_error *error = NULL;
    struct dirent *de;

    memset(hp, 0, sizeof *hp);
    if (!dir) {
        if (errno != ENOENT) {
            error = lq_error_new(LQ_INTERNAL, "%s: %s", dir_path,
                                 strerror(errno));
        }
        free(dir_path);
        return error;       /* No hugetlb in this kernel: nothing. */
    }
    while (!error && (de = readdir(dir))) {
        uint32_t size_kb;
        char tail;
        if (sscanf(de->d_name, "hugepages-%"SCNu32"k%c", &size_kb, &tail) != 2
            || tail != 'B') {
            continue;
        }
        struct lq_hugepage_pool pool = { .size_kb = size_kb };
        char *total = xasprintf("%s/%s/nr_hugepages", dir_path, de->d_name);
        char *free_ = xasprintf("%s/%s/free_hugepages", dir_path, de->d_name);
        int err = read_u64(total, &pool.total);
        const char *bad = total;
        if (!err) {
            err = read_u64(free_, &pool.free);
            bad = free_;
        }
        if (err) {
            error = lq_error_new(LQ_INTERNAL, "%s: %s", bad,
                                 err == EINVAL ? "not a number"
                                 : strerror(err));
        } else {
            hp->pools = xrealloc(hp->pools, (hp->n + 1) * sizeof *hp->pools);
            hp->pools[hp->n++] = pool;
        }
        free(total);
        free(free_);
    }
    closedir(dir);
    free(dir_path);
    if (error) {
        lq_hugepages_clear(hp);
    } else if (hp->n) {
        qsort(hp->pools, hp->n, sizeof *hp->pools, compare_pools);
    }
    return error;
}

const struct lq_hugepage_pool *
lq_hugepages_find(const struct lq_hugepages *hp, uint32_t size_kb)
{
    for (size_t i = 0; i < hp->n; i++) {
        if (hp->pools[i].size_kb == size_kb) {
            return &hp->pools[i];
        }
    }
    return NULL;
}

void
lq_hugepages_clear(struct lq_hugepages *hp)
{
    free(hp->pools);
    hp->pools = NULL;
    hp->n = 0;
}

struct lq_error *
lq_hugepages_set_total(const char *root, uint32_t size_kb, uint64_t total)
{
    char *path = host_path(root, HUGEPAGES_DIR "/hugepages-%"PRIu32"kB/"
                           "nr_hugepages", size_kb);
    int err = write_u64(path, total);
    struct lq_error *error = NULL;
    if (err) {
        error = lq_error_new(LQ_INTERNAL, "cannot write %s: %s", path,
                             strerror(err));
    }
    free(path);
    return error;
}

struct lq_error *
lq_hugepages_reserve(const char *root, uint32_t size_kb, uint64_t count,
                     uint64_t *prev_totalp)
{
    char *size = lq_hugepage_size_name(size_kb);
    char *path = host_path(root, HUGEPAGES_DIR "/hugepages-%"PRIu32"kB/"
                           "nr_hugepages", size_kb);
    struct lq_error *error = NULL;
    uint64_t prev, got = 0;

    int err = read_u64(path, &prev);
    if (err) {
        if (err == ENOENT) {
            error = lq_error_new(LQ_FAILED_PRECONDITION, "hugepages not "
                                 "reservable: this kernel has no %s "
                                 "hugepages", size);
        } else {
            error = lq_error_new(LQ_FAILED_PRECONDITION, "hugepages not "
                                 "reservable: %s: %s", path,
                                 err == EINVAL ? "not a number"
                                 : strerror(err));
        }
        goto out;
    }
    if (prev_totalp) {
        *prev_totalp = prev;
    }
    if (prev >= count) {
        goto out;
    }
    err = write_u64(path, count);
    if (err) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "hugepages not "
                             "reservable: cannot write %s: %s", path,
                             strerror(err));
        write_u64(path, prev);
        goto out;
    }
    err = read_u64(path, &got);
    if (err || got < count) {
        /* The kernel reserves what it can find; give that back. */
        write_u64(path, prev);
        error = lq_error_new(LQ_FAILED_PRECONDITION, "hugepages not "
                             "reservable: asked for %"PRIu64" %s pages, the "
                             "kernel has %"PRIu64" (not enough free "
                             "memory; reserve them at boot with "
                             "hugepages= on the kernel command line)",
                             count, size, err ? 0 : got);
    }
out:
    free(size);
    free(path);
    return error;
}

struct lq_error *
lq_dpdk_check_cores(const char *root, const cpu_set_t *pmd, int lcore,
                    const cpu_set_t *daemon_cpus, char **onlinep)
{
    char *path = host_path(root, "/sys/devices/system/cpu/online");
    char *text;
    cpu_set_t online, both;

    if (onlinep) {
        *onlinep = NULL;
    }
    int err = lq_read_file(path, &text, NULL);
    if (err) {
        struct lq_error *error = lq_error_new(LQ_INTERNAL, "cannot read %s: "
                                              "%s", path, strerror(err));
        free(path);
        return error;
    }
    struct lq_error *error = lq_cpu_list_parse(text, &online);
    free(text);
    if (error) {
        error = lq_error_prefix(error, "%s", path);
    }
    free(path);
    if (error) {
        return error;
    }

    char *online_s = lq_cpu_list_format(&online);
    struct ds problems = DS_EMPTY_INITIALIZER;
    CPU_ZERO(&both);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, pmd) && !CPU_ISSET(cpu, &online)) {
            CPU_SET(cpu, &both);
        }
    }
    if (CPU_COUNT(&both)) {
        char *s = lq_cpu_list_format(&both);
        ds_put_format(&problems, "; dpdk.pmd_cores: CPU %s not present "
                      "(online CPUs: %s)", s, online_s);
        free(s);
    }
    if (lcore < 0 || lcore >= CPU_SETSIZE || !CPU_ISSET(lcore, &online)) {
        ds_put_format(&problems, "; dpdk.lcore: CPU %d not present (online "
                      "CPUs: %s)", lcore, online_s);
    } else if (CPU_ISSET(lcore, pmd)) {
        ds_put_format(&problems, "; dpdk.pmd_cores: CPU %d is also "
                      "dpdk.lcore (a PMD core must be its own)", lcore);
    }
    if (daemon_cpus) {
        CPU_AND(&both, pmd, daemon_cpus);
        CPU_AND(&both, &both, &online);
        if (CPU_COUNT(&both)) {
            char *s = lq_cpu_list_format(&both);
            char *d = lq_cpu_list_format(daemon_cpus);
            ds_put_format(&problems, "; dpdk.pmd_cores: CPU %s overlaps the "
                          "daemon's CPU affinity (%s): a PMD thread spins on "
                          "its core; isolate the PMD cores (isolcpus=, or pin "
                          "the daemon elsewhere with taskset/CPUAffinity=)",
                          s, d);
            free(s);
            free(d);
        }
    }

    if (onlinep) {
        *onlinep = online_s;
    } else {
        free(online_s);
    }
    if (problems.length) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "%s",
                             ds_cstr(&problems) + 2);
    }
    ds_destroy(&problems);
    return error;
}

bool
lq_dpdk_driver_is_usable(const char *driver)
{
    return driver && (!strcmp(driver, "vfio-pci")
                      || !strcmp(driver, "uio_pci_generic")
                      || !strcmp(driver, "igb_uio"));
}

struct lq_error *
lq_dpdk_check_pci(const char *root, const char *pci, char **driverp)
{
    char addr[LQ_PCI_ADDR_LEN + 1];
    struct lq_error *error = NULL;
    struct stat st;

    if (driverp) {
        *driverp = NULL;
    }
    if (!lq_pci_addr_normalize(pci, addr)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "\"%s\" is not a PCI address "
                            "(expected DDDD:BB:DD.F)", pci);
    }
    char *dev = host_path(root, "/sys/bus/pci/devices/%s", addr);
    char *link = xasprintf("%s/driver", dev);
    char target[4096];
    ssize_t n;

    if (stat(dev, &st)) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "PCI device %s not "
                             "found", addr);
    } else if ((n = readlink(link, target, sizeof target - 1)) < 0) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "PCI device %s is not "
                             "bound to any driver (bind it with "
                             "dpdk-devbind.py --bind=vfio-pci %s)",
                             addr, addr);
    } else {
        target[n] = '\0';
        const char *slash = strrchr(target, '/');
        const char *driver = slash ? slash + 1 : target;
        if (!lq_dpdk_driver_is_usable(driver)) {
            error = lq_error_new(LQ_FAILED_PRECONDITION, "PCI device %s is "
                                 "bound to %s, not to vfio-pci, "
                                 "uio_pci_generic or igb_uio (rebind it with "
                                 "dpdk-devbind.py --bind=vfio-pci %s)",
                                 addr, driver, addr);
        }
        if (driverp) {
            *driverp = xstrdup(driver);
        }
    }
    free(dev);
    free(link);
    return error;
}

struct lq_error *
lq_dpdk_check_ovs(const char *root, const char *binary, char **versionp)
{
    char *path = host_path(root, "%s", binary);
    struct lq_error *error = NULL;
    struct lq_exec_result r;

    if (versionp) {
        *versionp = NULL;
    }
    if (access(path, X_OK)) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "ovs-vswitchd is not the "
                             "DPDK build: %s %s (install "
                             "openvswitch-switch-dpdk)", path,
                             errno == ENOENT ? "not found"
                             : "not executable");
        free(path);
        return error;
    }
    const char *argv[] = { path, "--version", NULL };
    error = lq_exec(argv, NULL, 10000, &r);
    if (error) {
        error = lq_error_prefix(error, "ovs-vswitchd");
    } else if (!strstr(r.out, "DPDK")) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "ovs-vswitchd is not the "
                             "DPDK build: \"%s --version\" does not mention "
                             "DPDK", path);
    } else if (versionp) {
        /* "ovs-vswitchd (Open vSwitch) 3.1.0; DPDK 22.11.1" */
        struct ds v = DS_EMPTY_INITIALIZER;
        char *save = NULL;
        for (char *line = strtok_r(r.out, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            ds_put_format(&v, "%s%s", v.length ? "; " : "", line);
        }
        *versionp = ds_steal_cstr(&v);
    }
    lq_exec_result_clear(&r);
    free(path);
    return error;
}

/* Appends "; MESSAGE" (with an optional prefix) and frees 'error'. */
static void __attribute__((format(printf, 3, 4)))
add_problem(struct ds *problems, struct lq_error *error,
            const char *prefix_format, ...)
{
    if (!error) {
        return;
    }
    ds_put_cstr(problems, "; ");
    if (prefix_format) {
        va_list args;
        va_start(args, prefix_format);
        ds_put_format_valist(problems, prefix_format, args);
        va_end(args);
        ds_put_cstr(problems, ": ");
    }
    ds_put_cstr(problems, error->message);
    lq_error_free(error);
}

/* Hugepages: raise the count if asked (only when 'may_change'), then make
 * sure dpdk.socket_mem_mb fits in what is free. */
static void
check_hugepages(const struct lq_config *c,
                const struct lq_dpdk_check_options *o, bool may_change,
                struct lq_dpdk_report *report, struct ds *problems)
{
    uint32_t size_kb = c->dpdk.hugepages.size_kb;
    uint64_t count = c->dpdk.hugepages.count;
    char *size = lq_hugepage_size_name(size_kb);
    const struct lq_hugepage_pool *pool;

    struct lq_error *e = lq_hugepages_read(o->root, &report->hugepages);
    if (e) {
        add_problem(problems, e, "hugepages");
        goto out;
    }
    pool = lq_hugepages_find(&report->hugepages, size_kb);
    if (!pool) {
        ds_put_format(problems, "; hugepages: this kernel has no %s "
                      "hugepages", size);
        goto out;
    }
    if (count > pool->total) {
        if (!o->reserve_hugepages) {
            ds_put_format(problems, "; hugepages: dpdk.hugepages.count is "
                          "%"PRIu64" but only %"PRIu64" %s pages are "
                          "reserved", count, pool->total, size);
            goto out;
        }
        if (!may_change) {
            goto out;           /* Refused already: change nothing. */
        }
        e = lq_hugepages_reserve(o->root, size_kb, count,
                                 &report->prev_total);
        if (e) {
            add_problem(problems, e, NULL);
            goto out;
        }
        report->reserved = true;
        lq_hugepages_clear(&report->hugepages);
        add_problem(problems, lq_hugepages_read(o->root, &report->hugepages),
                    "hugepages");
        pool = lq_hugepages_find(&report->hugepages, size_kb);
        if (!pool) {
            goto out;
        }
    }

    uint64_t free_mb = pool->free * size_kb / 1024;
    if (!pool->total) {
        ds_put_format(problems, "; hugepages: no %s hugepages reserved "
                      "(dpdk.hugepages.count is 0, which uses what is there: "
                      "set a count, or write %s/hugepages-%"PRIu32"kB/"
                      "nr_hugepages)", size, HUGEPAGES_DIR, size_kb);
    } else if (!pool->free) {
        ds_put_format(problems, "; hugepages: all %"PRIu64" %s hugepages "
                      "are in use", pool->total, size);
    } else if ((uint64_t) c->dpdk.socket_mem_mb > free_mb) {
        ds_put_format(problems, "; hugepages: dpdk.socket_mem_mb is %d MB "
                      "but only %"PRIu64" MB of %s hugepages are free",
                      c->dpdk.socket_mem_mb, free_mb, size);
    }
out:
    free(size);
}

struct lq_error *
lq_dpdk_check_host(const struct lq_config *c,
                   const struct lq_dpdk_check_options *o,
                   struct lq_dpdk_report *report)
{
    struct ds problems = DS_EMPTY_INITIALIZER;

    memset(report, 0, sizeof *report);
    report->hugepage_size_kb = c->dpdk.hugepages.size_kb;

    if (!CPU_COUNT(&c->dpdk.pmd_cores)) {
        ds_put_cstr(&problems, "; dpdk.pmd_cores: not set (the fast path "
                    "needs at least one PMD core)");
    } else {
        add_problem(&problems,
                    lq_dpdk_check_cores(o->root, &c->dpdk.pmd_cores,
                                        c->dpdk.lcore, o->daemon_cpus,
                                        &report->online_cpus), NULL);
    }

    report->n_drivers = c->dpdk.n_interfaces;
    report->drivers = xcalloc(MAX(1, report->n_drivers),
                              sizeof *report->drivers);
    for (size_t i = 0; i < c->dpdk.n_interfaces; i++) {
        const struct lq_dpdk_interface_config *iface = &c->dpdk.interfaces[i];
        if (iface->pci) {
            add_problem(&problems,
                        lq_dpdk_check_pci(o->root, iface->pci,
                                          &report->drivers[i]),
                        "dpdk.interfaces[%zu] (%s)", i, iface->name);
        }
    }

    if (o->ovs_vswitchd) {
        add_problem(&problems, lq_dpdk_check_ovs(o->root, o->ovs_vswitchd,
                                                 &report->ovs_version), NULL);
    }

    bool refused = problems.length > 0;
    check_hugepages(c, o, !refused, report, &problems);
    if (problems.length && report->reserved) {
        /* Nothing changed on refusal. */
        struct lq_error *e = lq_hugepages_set_total(
            o->root, report->hugepage_size_kb, report->prev_total);
        if (e) {
            add_problem(&problems, e, "hugepages: giving back");
        } else {
            report->reserved = false;
        }
    }

    struct lq_error *error = NULL;
    if (problems.length) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "dpdk: %s",
                             ds_cstr(&problems) + 2);
    }
    ds_destroy(&problems);
    return error;
}

void
lq_dpdk_report_clear(struct lq_dpdk_report *report)
{
    free(report->online_cpus);
    lq_hugepages_clear(&report->hugepages);
    for (size_t i = 0; i < report->n_drivers; i++) {
        free(report->drivers[i]);
    }
    free(report->drivers);
    free(report->ovs_version);
    memset(report, 0, sizeof *report);
}
