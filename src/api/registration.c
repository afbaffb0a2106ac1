/* registration.c: the control-plane client state machine (see the header).
 *
 * Only one call is ever in flight; its result is applied on the loop thread
 * in call_done(), which is the only place state changes. */
#include <config.h>
#include "registration.h"

#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "http_client.h"
#include "jsonx.h"
#include "limiquantix/node.h"
#include "metrics.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"
#include "worker_pool.h"

VLOG_DEFINE_THIS_MODULE(registration);

#define NODE_SERVICE "limiquantix.compute.v1.NodeService"
#define MAX_BACKOFF_S 60
#define MAX_HEARTBEAT_FAILURES 3

enum call_kind { CALL_REGISTER, CALL_HEARTBEAT };

struct lq_registration {
    struct lq_node *node;
    struct lq_worker_pool *pool;
    struct lq_metrics *metrics;
    int api_port;

    char *node_id;              /* Assigned by the control plane. */
    bool in_flight;
    long long next_at;          /* time_msec() of the next call. */
    int backoff_s;
    int failures;               /* Consecutive failed heartbeats. */
    int interval_s;
    unsigned long long n_registrations, n_heartbeats, n_failures;
};

struct call {
    struct lq_registration *reg;
    enum call_kind kind;
    char *node_id;              /* Copy for the worker thread. */
    struct json *response;
    struct lq_error *error;
};

static struct lq_http_client_options
client_options(const struct lq_config *c)
{
    struct lq_http_client_options o = { .timeout_ms = 10000 };
    if (c->tls.enabled) {
        /* The node's own certificate identifies it to the control plane. */
        o.cert_path = c->tls.cert_path;
        o.key_path = c->tls.key_path;
        o.ca_path = c->tls.ca_path;
    }
    return o;
}

static const char *
disk_type(const struct lq_disk_info *d)
{
    return !strncmp(d->name, "nvme", 4) ? "NVME"
           : d->rotational ? "HDD" : "SSD";
}

static struct json *
build_register_request(struct lq_node *node, int api_port,
                       struct lq_error **errorp)
{
    const struct lq_config *c = lq_node_config(node);
    struct lq_node_info *info;

    *errorp = lq_node_get_info(node, &info);
    if (*errorp) {
        return NULL;
    }

    struct json *r = json_object_create();
    char *endpoint = xasprintf("%s:%d", info->management_ip, api_port);
    lq_json_put_string(r, "hostname", info->hostname);
    /* The control plane expects host:port here (as the seed agent sent). */
    lq_json_put_string(r, "managementIp", endpoint);
    lq_json_put_string(r, "agentEndpoint", endpoint);
    free(endpoint);

    struct json *labels = json_object_create();
    for (size_t i = 0; i < c->node.labels.n; i++) {
        json_object_put_string(labels, c->node.labels.items[i].key,
                               c->node.labels.items[i].value);
    }
    json_object_put(r, "labels", labels);

    struct json *role = json_object_create();
    lq_json_put_bool(role, "compute", true);
    lq_json_put_bool(role, "storage", c->storage.n_pools > 0);
    json_object_put(r, "role", role);

    struct json *cpu = json_object_create();
    lq_json_put_string(cpu, "model", info->cpu.model);
    lq_json_put_uint32(cpu, "sockets", info->cpu.sockets);
    lq_json_put_uint32(cpu, "coresPerSocket", info->cpu.cores_per_socket);
    lq_json_put_uint32(cpu, "threadsPerCore", info->cpu.threads_per_core);
    lq_json_put_uint32(cpu, "totalThreads", info->cpu.total_threads);
    lq_json_put_uint64(cpu, "frequencyMhz", info->cpu.frequency_mhz);
    struct json *features = json_array_create_empty();
    for (size_t i = 0; i < info->cpu.n_features; i++) {
        json_array_add(features, json_string_create(info->cpu.features[i]));
    }
    json_object_put(cpu, "features", features);
    json_object_put(r, "cpuInfo", cpu);

    /* The seed's agent sends MiB (totalMib, allocatableMib); our bytes
     * stay for callers that read them. */
    struct json *mem = json_object_create();
    lq_json_put_uint64(mem, "totalMib", info->memory.total_bytes >> 20);
    lq_json_put_uint64(mem, "allocatableMib",
                       info->memory.available_bytes >> 20);
    lq_json_put_uint64(mem, "totalBytes", info->memory.total_bytes);
    lq_json_put_uint64(mem, "allocatableBytes", info->memory.available_bytes);
    json_object_put(r, "memoryInfo", mem);

    struct json *disks = json_array_create_empty();
    for (size_t i = 0; i < info->n_disks; i++) {
        struct json *d = json_object_create();
        char *path = xasprintf("/dev/%s", info->disks[i].name);
        lq_json_put_string(d, "path", path);
        free(path);
        lq_json_put_string(d, "model", info->disks[i].model);
        lq_json_put_uint64(d, "sizeBytes", info->disks[i].size_bytes);
        lq_json_put_string(d, "type", disk_type(&info->disks[i]));
        lq_json_put_bool(d, "available", true);
        json_array_add(disks, d);
    }
    json_object_put(r, "storageDevices", disks);

    struct json *nics = json_array_create_empty();
    for (size_t i = 0; i < info->n_nics; i++) {
        const struct lq_nic_info *n = &info->nics[i];
        if (!strcmp(n->name, "lo")) {
            continue;
        }
        struct json *d = json_object_create();
        lq_json_put_string(d, "name", n->name);
        lq_json_put_string(d, "macAddress", n->mac_address);
        lq_json_put_uint64(d, "speedMbps", n->speed_mbps);
        lq_json_put_uint32(d, "mtu", n->mtu);
        json_array_add(nics, d);
    }
    json_object_put(r, "networkDevices", nics);

    lq_node_info_free(info);
    return r;
}

static struct json *
build_heartbeat_request(struct lq_node *node, const char *node_id,
                        struct lq_error **errorp)
{
    struct lq_node_usage u;

    *errorp = lq_node_get_usage(node, &u);
    if (*errorp) {
        return NULL;
    }
    struct json *r = json_object_create();
    lq_json_put_string(r, "nodeId", node_id);
    lq_json_put_double(r, "cpuUsagePercent", u.cpu_usage_percent);
    lq_json_put_uint64(r, "memoryUsedMib", u.memory_used_mib);
    lq_json_put_uint64(r, "memoryTotalMib", u.memory_total_mib);
    lq_json_put_uint32(r, "runningVmCount", u.running_vm_count);
    lq_json_put_double(r, "load1m", u.load_1m);
    lq_json_put_double(r, "load5m", u.load_5m);
    lq_json_put_double(r, "load15m", u.load_15m);

    struct statvfs st;
    if (!statvfs("/", &st)) {
        lq_json_put_uint64(r, "diskTotalBytes",
                           (uint64_t) st.f_blocks * st.f_frsize);
        lq_json_put_uint64(r, "diskUsedBytes",
                           (uint64_t) (st.f_blocks - st.f_bfree)
                           * st.f_frsize);
    }
    return r;
}

/* Worker thread: build the request (reads the host) and send it. */
static void
call_work(void *call_)
{
    struct call *call = call_;
    struct lq_node *node = call->reg->node;
    const struct lq_config *c = lq_node_config(node);
    struct json *request;

    if (call->kind == CALL_REGISTER) {
        request = build_register_request(node, call->reg->api_port,
                                         &call->error);
    } else {
        request = build_heartbeat_request(node, call->node_id, &call->error);
    }
    if (!call->error) {
        struct lq_http_client_options o = client_options(c);
        call->error = lq_connect_call(
            &o, c->control_plane.address,
            call->kind == CALL_REGISTER ? NODE_SERVICE "/RegisterNode"
                                        : NODE_SERVICE "/UpdateHeartbeat",
            request, &call->response);
    }
    json_destroy(request);
}

static void
schedule_retry(struct lq_registration *reg)
{
    reg->next_at = time_msec() + reg->backoff_s * 1000LL;
    reg->backoff_s = MIN(reg->backoff_s * 2, MAX_BACKOFF_S);
}

static void
register_done(struct lq_registration *reg, struct call *call)
{
    const char *id = NULL;

    if (!call->error) {
        call->error = lq_json_get_string(call->response, "id", &id);
        if (!call->error && (!id || !*id)) {
            call->error = lq_error_new(LQ_INTERNAL, "RegisterNode reply has "
                                       "no \"id\"");
        }
    }
    if (call->error) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "registration failed (retry in %d s): %s",
                     reg->backoff_s, call->error->message);
        schedule_retry(reg);
        return;
    }

    free(reg->node_id);
    reg->node_id = xstrdup(id);
    reg->n_registrations++;
    reg->failures = 0;
    reg->backoff_s = 1;
    VLOG_INFO("registered with the control plane as node %s", id);
    /* First heartbeat right away: the control plane learns usage at once. */
    reg->next_at = time_msec();
}

static void
heartbeat_done(struct lq_registration *reg, struct call *call)
{
    if (call->error) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        reg->failures++;
        reg->n_failures++;
        VLOG_WARN_RL(&rl, "heartbeat %d failed: %s", reg->failures,
                     call->error->message);
        if (call->error->code == LQ_NOT_FOUND) {
            /* The control plane forgot us: register again now. */
            reg->failures = MAX_HEARTBEAT_FAILURES;
            reg->next_at = time_msec();
        } else {
            schedule_retry(reg);
        }
        if (reg->failures >= MAX_HEARTBEAT_FAILURES) {
            VLOG_WARN("%d heartbeats failed: registering again",
                      reg->failures);
            free(reg->node_id);
            reg->node_id = NULL;
        }
        return;
    }

    uint32_t interval = 0;
    struct lq_error *e = lq_json_get_uint32(call->response,
                                            "heartbeatIntervalSecs",
                                            &interval);
    lq_error_free(e);
    if (interval > 0 && (int) interval != reg->interval_s) {
        VLOG_INFO("control plane set the heartbeat interval to %u s",
                  interval);
        reg->interval_s = interval;
    }
    reg->n_heartbeats++;
    reg->failures = 0;
    reg->backoff_s = 1;
    reg->next_at = time_msec() + reg->interval_s * 1000LL;
}

static void
update_metrics(struct lq_registration *reg)
{
    lq_metrics_set(reg->metrics, "limiquantix_node_control_plane_registered",
                   "gauge", "1 while registered with the control plane.",
                   reg->node_id != NULL);
    lq_metrics_set(reg->metrics, "limiquantix_node_registrations_total",
                   "counter", "Successful RegisterNode calls.",
                   reg->n_registrations);
    lq_metrics_set(reg->metrics, "limiquantix_node_heartbeats_total",
                   "counter", "Successful UpdateHeartbeat calls.",
                   reg->n_heartbeats);
    lq_metrics_set(reg->metrics, "limiquantix_node_heartbeat_failures_total",
                   "counter", "Failed UpdateHeartbeat calls.",
                   reg->n_failures);
}

static void
call_done(void *call_)
{
    struct call *call = call_;
    struct lq_registration *reg = call->reg;

    reg->in_flight = false;
    if (call->kind == CALL_REGISTER) {
        register_done(reg, call);
    } else {
        heartbeat_done(reg, call);
    }
    update_metrics(reg);
    json_destroy(call->response);
    lq_error_free(call->error);
    free(call->node_id);
    free(call);
}

struct lq_registration *
lq_registration_create(struct lq_node *node, struct lq_worker_pool *pool,
                       struct lq_metrics *metrics, int api_port)
{
    const struct lq_config *c = lq_node_config(node);
    if (!*c->control_plane.address || !c->control_plane.registration_enabled) {
        return NULL;
    }

    struct lq_registration *reg = xzalloc(sizeof *reg);
    reg->node = node;
    reg->pool = pool;
    reg->metrics = metrics;
    reg->api_port = api_port;
    reg->backoff_s = 1;
    reg->interval_s = c->control_plane.heartbeat_interval_secs;
    reg->next_at = time_msec();
    update_metrics(reg);
    return reg;
}

void
lq_registration_destroy(struct lq_registration *reg)
{
    /* The worker pool is destroyed first, so no call is in flight. */
    if (reg) {
        free(reg->node_id);
        free(reg);
    }
}

void
lq_registration_run(struct lq_registration *reg)
{
    if (!reg || reg->in_flight || time_msec() < reg->next_at) {
        return;
    }
    struct call *call = xzalloc(sizeof *call);
    call->reg = reg;
    call->kind = reg->node_id ? CALL_HEARTBEAT : CALL_REGISTER;
    call->node_id = nullable_xstrdup(reg->node_id);
    reg->in_flight = true;
    lq_worker_pool_submit(reg->pool, call_work, call_done, call);
}

void
lq_registration_wait(struct lq_registration *reg)
{
    if (reg && !reg->in_flight) {
        poll_timer_wait_until(reg->next_at);
    }
}
