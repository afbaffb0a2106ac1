/* node.c: the lq_node handle and the node-level C API (health, info, usage).
 *
 * The node's identity (id, hostname, management IP) is resolved once at
 * creation so every caller sees the same values for the process lifetime. */
#include <config.h>
#include "limiquantix/node.h"
#include "node-private.h"
#include "fileutil.h"
#include "host_stats.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "openvswitch/thread.h"
#include "util.h"
#include "uuid.h"

struct lq_node {
    const struct lq_config *config;
    char *id;
    char *hostname;
    char *management_ip;
    struct timespec started;        /* CLOCK_MONOTONIC */

    struct lq_storage *storage;     /* Attached subsystems, not owned. */
    struct lq_network *network;
    lq_hypervisor_caps_fn *caps_fn; /* GetNodeInfo's capabilities. */
    void *caps_aux;

    struct ovs_mutex mutex;         /* Guards the CPU sample and health. */
    unsigned long long prev_busy, prev_total;
    char **problems;                /* lq_node_set_health(). */
    size_t n_problems;
    int64_t checked_unix;           /* 0: never checked. */
    uint32_t running_vms;
};

static char *
resolve_node_id(const struct lq_config *config)
{
    if (config->node.id && *config->node.id) {
        return xstrdup(config->node.id);
    }

    /* The machine id is stable across reboots and unique per host. */
    FILE *f = fopen("/etc/machine-id", "r");
    char line[64] = "", uuid[37];
    if (f) {
        if (!fgets(line, sizeof line, f)) {
            line[0] = '\0';
        }
        fclose(f);
        line[strcspn(line, "\n")] = '\0';
        if (lq_machine_id_to_uuid(line, uuid)) {
            return xstrdup(uuid);
        }
    }
    struct uuid u;
    uuid_generate(&u);
    return xasprintf(UUID_FMT, UUID_ARGS(&u));
}

static char *
resolve_hostname(const struct lq_config *config)
{
    if (config->node.hostname && *config->node.hostname) {
        return xstrdup(config->node.hostname);
    }
    char name[256];
    if (gethostname(name, sizeof name)) {
        return xstrdup("localhost");
    }
    name[sizeof name - 1] = '\0';
    return xstrdup(name);
}

struct lq_error *
lq_node_create(const struct lq_config *config, struct lq_node **nodep)
{
    struct lq_node *node = xzalloc(sizeof *node);

    node->config = config;
    node->id = resolve_node_id(config);
    node->hostname = resolve_hostname(config);
    node->management_ip = config->node.management_ip
                          ? xstrdup(config->node.management_ip)
                          : lq_node_detect_management_ip();
    clock_gettime(CLOCK_MONOTONIC, &node->started);
    ovs_mutex_init(&node->mutex);
    *nodep = node;
    return NULL;
}

void
lq_node_destroy(struct lq_node *node)
{
    if (node) {
        free(node->id);
        free(node->hostname);
        free(node->management_ip);
        for (size_t i = 0; i < node->n_problems; i++) {
            free(node->problems[i]);
        }
        free(node->problems);
        ovs_mutex_destroy(&node->mutex);
        free(node);
    }
}

const struct lq_config *
lq_node_config(const struct lq_node *node)
{
    return node->config;
}

const char *
lq_node_id(const struct lq_node *node)
{
    return node->id;
}

void
lq_node_set_storage(struct lq_node *node, struct lq_storage *storage)
{
    node->storage = storage;
}

struct lq_storage *
lq_node_storage(const struct lq_node *node)
{
    return node->storage;
}

void
lq_node_set_network(struct lq_node *node, struct lq_network *network)
{
    node->network = network;
}

struct lq_network *
lq_node_network(const struct lq_node *node)
{
    return node->network;
}

const char *
lq_node_hostname(const struct lq_node *node)
{
    return node->hostname;
}

const char *
lq_node_management_ip(const struct lq_node *node)
{
    return node->management_ip;
}

static char *
libvirt_version(void)
{
    unsigned long version = 0;

    /* Library version only: needs no connection to libvirtd. */
    if (virGetVersion(&version, NULL, NULL) < 0) {
        return xstrdup("unknown");
    }
    return xasprintf("%lu.%lu.%lu", version / 1000000,
                     version / 1000 % 1000, version % 1000);
}

struct lq_error *
lq_node_health_check(struct lq_node *node, struct lq_health *health)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    memset(health, 0, sizeof *health);
    ovs_mutex_lock(&node->mutex);
    health->checked_unix = node->checked_unix;
    health->n_problems = node->checked_unix ? node->n_problems : 1;
    health->problems = xcalloc(health->n_problems + 1,
                               sizeof *health->problems);
    if (!node->checked_unix) {
        health->problems[0] = xstrdup("starting: the dependencies have not "
                                      "been checked yet");
    }
    for (size_t i = 0; node->checked_unix && i < node->n_problems; i++) {
        health->problems[i] = xstrdup(node->problems[i]);
    }
    ovs_mutex_unlock(&node->mutex);
    health->healthy = !health->n_problems;
    health->version = xstrdup(LQ_VERSION);
    health->hypervisor = xstrdup(node->config->hypervisor.backend);
    health->hypervisor_version = libvirt_version();
    health->uptime_seconds = now.tv_sec - node->started.tv_sec;
    return NULL;
}

static void
free_strings(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i]);
    }
    free(s);
}

void
lq_node_set_health(struct lq_node *node, char **problems, size_t n,
                   uint32_t running_vms)
{
    ovs_mutex_lock(&node->mutex);
    free_strings(node->problems, node->n_problems);
    node->problems = problems;
    node->n_problems = n;
    node->checked_unix = time(NULL);
    node->running_vms = running_vms;
    ovs_mutex_unlock(&node->mutex);
}

void
lq_health_clear(struct lq_health *health)
{
    free(health->version);
    free(health->hypervisor);
    free(health->hypervisor_version);
    free_strings(health->problems, health->n_problems);
    memset(health, 0, sizeof *health);
}

void
lq_node_set_hypervisor_caps(struct lq_node *node, lq_hypervisor_caps_fn *fn,
                            void *aux)
{
    node->caps_fn = fn;
    node->caps_aux = aux;
}

/* KVM's "nested" module parameter: "Y" or "1" when guests may run
 * hypervisors of their own. */
static bool
nested_virt_enabled(void)
{
    static const char *const params[] = {
        "/sys/module/kvm_intel/parameters/nested",
        "/sys/module/kvm_amd/parameters/nested",
    };
    for (size_t i = 0; i < ARRAY_SIZE(params); i++) {
        char buf[8] = "";
        FILE *f = fopen(params[i], "r");
        if (f) {
            bool ok = fgets(buf, sizeof buf, f) != NULL;
            fclose(f);
            if (ok && (buf[0] == 'Y' || buf[0] == '1')) {
                return true;
            }
        }
    }
    return false;
}

struct lq_error *
lq_node_get_info(struct lq_node *node, struct lq_node_info **infop)
{
    struct lq_node_info *info = xzalloc(sizeof *info);
    struct lq_error *error = lq_node_info_gather(info, node->management_ip);

    if (error) {
        lq_node_info_free(info);
        *infop = NULL;
        return error;
    }
    info->node_id = xstrdup(node->id);
    info->hostname = xstrdup(node->hostname);
    info->hypervisor = xstrdup(node->config->hypervisor.backend);
    info->hypervisor_version = libvirt_version();
    if (node->caps_fn) {
        node->caps_fn(node->caps_aux, &info->caps);
    }
    info->caps.nested_virt = nested_virt_enabled();
    info->datapath = lq_node_datapath(node);
    /* Hugepages are informative: a host without hugetlb has none, and an
     * unreadable sysfs file must not fail the whole call. */
    lq_error_free(lq_hugepages_read(NULL, &info->hugepages));
    CPU_ZERO(&info->pmd_cores);
    if (node->config->dpdk.enabled) {
        info->pmd_cores = node->config->dpdk.pmd_cores;
    }
    *infop = info;
    return NULL;
}

const char *
lq_node_datapath(const struct lq_node *node)
{
    const struct lq_config *c = node->config;
    if (c->dpdk.enabled) {
        return "dpdk";
    }
    return !strcmp(c->network.datapath_type, "netdev") ? "userspace"
                                                       : "kernel";
}

struct lq_error *
lq_node_get_usage(struct lq_node *node, struct lq_node_usage *usage)
{
    unsigned long long busy, total;
    struct lq_memory_info mem;
    FILE *f;

    memset(usage, 0, sizeof *usage);
    if (!lq_host_read_cpu_times(&busy, &total)) {
        return lq_error_new(LQ_INTERNAL, "cannot read /proc/stat");
    }
    ovs_mutex_lock(&node->mutex);
    if (node->prev_total && total > node->prev_total) {
        usage->cpu_usage_percent = 100.0 * (busy - node->prev_busy)
                                   / (total - node->prev_total);
    }
    node->prev_busy = busy;
    node->prev_total = total;
    ovs_mutex_unlock(&node->mutex);

    char *meminfo;
    if (lq_read_file("/proc/meminfo", &meminfo, NULL)) {
        return lq_error_new(LQ_INTERNAL, "cannot read /proc/meminfo");
    }
    struct lq_error *error = lq_meminfo_parse(meminfo, &mem);
    free(meminfo);
    if (error) {
        return error;
    }
    usage->memory_total_mib = mem.total_bytes >> 20;
    usage->memory_used_mib = mem.used_bytes >> 20;

    f = fopen("/proc/loadavg", "r");
    if (!f || fscanf(f, "%lf %lf %lf", &usage->load_1m, &usage->load_5m,
                     &usage->load_15m) != 3) {
        error = lq_error_new(LQ_INTERNAL, "cannot read /proc/loadavg");
    }
    if (f) {
        fclose(f);
    }
    ovs_mutex_lock(&node->mutex);
    usage->running_vm_count = node->running_vms;
    ovs_mutex_unlock(&node->mutex);
    return error;
}
