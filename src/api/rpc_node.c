/* rpc_node.c: limiquantix.node.v1.NodeDaemonService, node-level methods.
 *
 * Thin wrappers over limiquantix/node.h; the JSON shapes follow
 * proto/limiquantix/node/v1/node_daemon.proto (proto3 JSON mapping). */
#include <config.h>
#include "rpc.h"

#include "jsonx.h"
#include "limiquantix/node.h"
#include "util.h"

#define NODE_SERVICE "limiquantix.node.v1.NodeDaemonService"

static struct json *
string_array(char **strings, size_t n)
{
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < n; i++) {
        json_array_add(a, json_string_create(strings[i]));
    }
    return a;
}

static struct lq_error *
health_check(struct lq_node *node, const struct json *request OVS_UNUSED,
             struct json **responsep)
{
    struct lq_health h;
    struct lq_error *error = lq_node_health_check(node, &h);
    if (error) {
        return error;
    }
    struct json *r = json_object_create();
    lq_json_put_bool(r, "healthy", h.healthy);
    lq_json_put_string(r, "version", h.version);
    lq_json_put_string(r, "hypervisor", h.hypervisor);
    lq_json_put_string(r, "hypervisorVersion", h.hypervisor_version);
    lq_json_put_uint64(r, "uptimeSeconds", h.uptime_seconds);
    json_object_put(r, "problems", string_array(h.problems, h.n_problems));
    lq_health_clear(&h);
    *responsep = r;
    return NULL;
}

static struct json *
cpu_to_json(const struct lq_cpu_info *cpu)
{
    struct json *j = json_object_create();
    lq_json_put_string(j, "model", cpu->model);
    lq_json_put_uint32(j, "sockets", cpu->sockets);
    lq_json_put_uint32(j, "coresPerSocket", cpu->cores_per_socket);
    lq_json_put_uint32(j, "threadsPerCore", cpu->threads_per_core);
    lq_json_put_uint32(j, "totalThreads", cpu->total_threads);
    lq_json_put_uint64(j, "frequencyMhz", cpu->frequency_mhz);
    json_object_put(j, "features", string_array(cpu->features,
                                                cpu->n_features));
    return j;
}

static struct json *
memory_to_json(const struct lq_memory_info *mem)
{
    struct json *j = json_object_create();
    lq_json_put_uint64(j, "totalBytes", mem->total_bytes);
    lq_json_put_uint64(j, "availableBytes", mem->available_bytes);
    lq_json_put_uint64(j, "usedBytes", mem->used_bytes);
    return j;
}

static struct json *
storage_to_json(const struct lq_node_info *info)
{
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < info->n_filesystems; i++) {
        const struct lq_filesystem_info *fs = &info->filesystems[i];
        struct json *j = json_object_create();
        lq_json_put_string(j, "device", fs->device);
        lq_json_put_string(j, "mountPoint", fs->mount_point);
        lq_json_put_uint64(j, "totalBytes", fs->total_bytes);
        lq_json_put_uint64(j, "usedBytes", fs->used_bytes);
        lq_json_put_uint64(j, "availableBytes", fs->available_bytes);
        lq_json_put_string(j, "filesystem", fs->filesystem);
        json_array_add(a, j);
    }
    return a;
}

static struct json *
disks_to_json(const struct lq_node_info *info)
{
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < info->n_disks; i++) {
        const struct lq_disk_info *d = &info->disks[i];
        struct json *j = json_object_create();
        lq_json_put_string(j, "name", d->name);
        lq_json_put_uint64(j, "sizeBytes", d->size_bytes);
        lq_json_put_bool(j, "rotational", d->rotational);
        lq_json_put_string(j, "model", d->model);
        json_array_add(a, j);
    }
    return a;
}

static struct json *
nics_to_json(const struct lq_node_info *info)
{
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < info->n_nics; i++) {
        const struct lq_nic_info *n = &info->nics[i];
        struct json *j = json_object_create();
        lq_json_put_string(j, "name", n->name);
        lq_json_put_string(j, "macAddress", n->mac_address);
        json_object_put(j, "ipAddresses", string_array(n->ip_addresses,
                                                       n->n_ip_addresses));
        lq_json_put_uint64(j, "speedMbps", n->speed_mbps);
        lq_json_put_bool(j, "up", n->up);
        lq_json_put_uint32(j, "mtu", n->mtu);
        json_array_add(a, j);
    }
    return a;
}

static struct json *
hugepages_to_json(const struct lq_hugepages *hp)
{
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < hp->n; i++) {
        struct json *j = json_object_create();
        lq_json_put_uint32(j, "pageSizeKib", hp->pools[i].size_kb);
        lq_json_put_uint32(j, "total", MIN(hp->pools[i].total, UINT32_MAX));
        lq_json_put_uint32(j, "free", MIN(hp->pools[i].free, UINT32_MAX));
        json_array_add(a, j);
    }
    return a;
}

static struct json *
caps_to_json(const struct lq_node_info *info)
{
    const struct lq_hypervisor_caps *c = &info->caps;
    struct json *j = json_object_create();
    lq_json_put_string(j, "name", info->hypervisor);
    lq_json_put_string(j, "version", info->hypervisor_version);
    lq_json_put_bool(j, "supportsLiveMigration", c->live_migration);
    lq_json_put_bool(j, "supportsSnapshots", c->snapshots);
    lq_json_put_bool(j, "supportsHotplug", c->hotplug);
    lq_json_put_bool(j, "supportsGpuPassthrough", c->gpu_passthrough);
    lq_json_put_bool(j, "supportsNestedVirtualization", c->nested_virt);
    lq_json_put_uint32(j, "maxVcpus", c->max_vcpus);
    lq_json_put_uint64(j, "maxMemoryBytes", c->max_memory_bytes);
    return j;
}

static struct lq_error *
get_node_info(struct lq_node *node, const struct json *request OVS_UNUSED,
              struct json **responsep)
{
    struct lq_node_info *info;
    struct lq_error *error = lq_node_get_info(node, &info);
    if (error) {
        return error;
    }

    struct json *r = json_object_create();
    lq_json_put_string(r, "nodeId", info->node_id);
    lq_json_put_string(r, "hostname", info->hostname);
    lq_json_put_string(r, "managementIp", info->management_ip);
    json_object_put(r, "cpu", cpu_to_json(&info->cpu));
    json_object_put(r, "memory", memory_to_json(&info->memory));
    json_object_put(r, "storage", storage_to_json(info));
    json_object_put(r, "network", nics_to_json(info));
    json_object_put(r, "disks", disks_to_json(info));

    json_object_put(r, "capabilities", caps_to_json(info));

    lq_json_put_string(r, "datapath", info->datapath);
    json_object_put(r, "hugepages", hugepages_to_json(&info->hugepages));
    if (CPU_COUNT(&info->pmd_cores)) {
        struct json *cores = json_array_create_empty();
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
            if (CPU_ISSET(cpu, &info->pmd_cores)) {
                json_array_add(cores, json_integer_create(cpu));
            }
        }
        json_object_put(r, "pmdCores", cores);
    }

    lq_node_info_free(info);
    *responsep = r;
    return NULL;
}

static const struct lq_rpc_method node_methods[] = {
    { NODE_SERVICE, "HealthCheck", health_check, false },
    { NODE_SERVICE, "GetNodeInfo", get_node_info, true },
};

void
lq_rpc_node_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, node_methods, ARRAY_SIZE(node_methods));
}
