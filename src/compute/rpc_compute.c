#include <config.h>
/* rpc_compute.c: NodeDaemonService's VM methods (CreateVM, StartVM, StopVM,
 * ForceStopVM, RebootVM, PauseVM, ResumeVM, DeleteVM, GetVMStatus,
 * ListVMs), thin wrappers over limiquantix/compute.h.
 *
 * Design decisions:
 * - JSON follows proto/limiquantix/node/v1/compute.proto (proto3 mapping);
 *   every type or value error is invalid_argument naming the field, and is
 *   found before libvirt is asked anything.
 * - Every method is blocking (libvirt calls wait on libvirtd): they run on
 *   the worker pool.  The compute handle is the one lq_compute_create()
 *   made and the daemon registered with lq_compute_set_default(); without
 *   one the methods answer "unavailable".
 * - The seed's device fields are read as its caller fills them (a volume
 *   id in disks[].path, disks[].sizeGib, nics[].network, nics[].bridge,
 *   nics[].macAddress); what they become is decided in src/compute
 *   (owned.c), not here.  Seed fields still ignored are listed in
 *   docs/proto.md. */
#include "rpc_compute.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonx.h"
#include "limiquantix/compute.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "rpc.h"
#include "rpc_metrics.h"
#include "rpc_migrate.h"
#include "seq.h"
#include "util.h"
#include "uuid.h"

#define NODE_SERVICE "limiquantix.node.v1.NodeDaemonService"
#define DEFAULT_STOP_TIMEOUT_S 60
#define MAX_STOP_TIMEOUT_S 3600

/* Qualifies the field an error from jsonx names: "cpuCores: ..." becomes
 * "spec.cpuCores: ...", so every message starts with the full field. */
static struct lq_error *
in_object(struct lq_error *error, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);

static struct lq_error *
in_object(struct lq_error *error, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *prefix = xvasprintf(format, args);
    va_end(args);
    char *message = xasprintf("%s.%s", prefix, error->message);
    free(error->message);
    error->message = message;
    free(prefix);
    return error;
}

struct lq_error *
rpc_compute_get(struct lq_compute **cp)
{
    *cp = lq_compute_get_default();
    return *cp ? NULL : lq_error_new(LQ_UNAVAILABLE, "compute is not "
                                     "configured on this node");
}

struct lq_error *
rpc_get_uuid(const struct json *obj, const char *field, bool required,
         char out[37])
{
    const char *s = NULL;
    struct lq_error *error = lq_json_get_string(obj, field, &s);
    if (error) {
        return error;
    }
    if (!s || !*s) {
        if (required) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: required", field);
        }
        out[0] = '\0';
        return NULL;
    }
    struct uuid u;
    if (strlen(s) != 36 || !uuid_from_string(&u, s)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected a UUID", field);
    }
    snprintf(out, 37, UUID_FMT, UUID_ARGS(&u));
    return NULL;
}

/* An optional string; "" means unset (proto3).  Copies into '*out'. */
static struct lq_error *
get_opt_string(const struct json *obj, const char *field, char **out)
{
    const char *s = NULL;
    struct lq_error *error = lq_json_get_string(obj, field, &s);
    if (!error && s && *s) {
        *out = xstrdup(s);
    }
    return error;
}

static struct lq_error *
get_u32_min1(const struct json *obj, const char *field, const char *name,
             uint32_t *out)
{
    struct lq_error *error = lq_json_get_uint32(obj, field, out);
    if (error) {
        return in_object(error, "spec");
    }
    if (!lq_json_field(obj, field)) {
        *out = 1;
    } else if (!*out) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.%s: must be at least "
                            "1", name);
    }
    return NULL;
}

struct lq_error *
rpc_vm_request(const struct json *req, struct lq_compute **c, char id[37])
{
    struct lq_error *error = rpc_compute_get(c);
    return error ? error : rpc_get_uuid(req, "vmId", true, id);
}

static bool
parse_enum(const char *s, const char *const names[], size_t n, int *out)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcasecmp(s, names[i])) {
            *out = i;
            return true;
        }
    }
    return false;
}

/* One value of a contract enum as a request may spell it: the proto3 JSON
 * name or number (what a client generated from the contract sends), or the
 * lower-case word this API took before the contract (still read, any
 * case). */
struct enum_value {
    const char *name;           /* "DISK_BUS_SATA" */
    int number;                 /* Its number in proto/. */
    const char *legacy;         /* "sata" */
    int value;                  /* Ours: LQ_DISK_BUS_SATA. */
};

static bool
enum_lookup(const struct json *v, const struct enum_value *vals, size_t n,
            int *out)
{
    for (size_t i = 0; i < n; i++) {
        if ((v->type == JSON_STRING
             && (!strcmp(json_string(v), vals[i].name)
                 || !strcasecmp(json_string(v), vals[i].legacy)))
            || (v->type == JSON_INTEGER
                && json_integer(v) == vals[i].number)) {
            *out = vals[i].value;
            return true;
        }
    }
    return false;
}

static struct lq_error *
enum_error(const char *field, const struct enum_value *vals, size_t n)
{
    struct ds names = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < n; i++) {
        ds_put_format(&names, "%s%s", i ? (i + 1 < n ? ", " : " or ") : "",
                      vals[i].name);
    }
    struct lq_error *e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected %s",
                                      field, ds_cstr(&names));
    ds_destroy(&names);
    return e;
}

/* Enum field 'camel' of 'obj' into '*out' (left alone when absent or "",
 * the default); 'field' is its full name for the error. */
static struct lq_error *
get_enum(const struct json *obj, const char *camel, const char *field,
         const struct enum_value *vals, size_t n, int *out)
{
    const struct json *v = lq_json_field(obj, camel);
    if (!v || (v->type == JSON_STRING && !*json_string(v))
        || enum_lookup(v, vals, n, out)) {
        return NULL;
    }
    return enum_error(field, vals, n);
}

static const struct enum_value disk_buses[] = {
    { "DISK_BUS_VIRTIO", 0, "virtio", LQ_DISK_BUS_VIRTIO },
    { "DISK_BUS_SCSI", 1, "scsi", LQ_DISK_BUS_SCSI },
    { "DISK_BUS_SATA", 2, "sata", LQ_DISK_BUS_SATA },
    { "DISK_BUS_IDE", 3, "ide", LQ_DISK_BUS_IDE },
};
static const struct enum_value nic_models[] = {
    { "NIC_MODEL_VIRTIO", 0, "virtio", LQ_NIC_VIRTIO },
    { "NIC_MODEL_E1000", 1, "e1000", LQ_NIC_E1000 },
    { "NIC_MODEL_RTL8139", 2, "rtl8139", LQ_NIC_RTL8139 },
};
static const struct enum_value firmwares[] = {
    { "FIRMWARE_BIOS", 0, "bios", LQ_FIRMWARE_BIOS },
    { "FIRMWARE_UEFI", 1, "uefi", LQ_FIRMWARE_UEFI },
};
static const struct enum_value boot_devices[] = {
    { "BOOT_DEVICE_DISK", 0, "hd", LQ_BOOT_HD },
    { "BOOT_DEVICE_CDROM", 1, "cdrom", LQ_BOOT_CDROM },
    { "BOOT_DEVICE_NETWORK", 2, "network", LQ_BOOT_NETWORK },
};

/* A field the contract renamed: 'camel' (the contract's) or 'old' (what
 * this API read before); both given and different is an error. */
static const char *
renamed_field(const struct json *obj, const char *camel, const char *old,
              bool *conflict)
{
    const struct json *a = lq_json_field(obj, camel);
    const struct json *b = lq_json_field(obj, old);
    *conflict = a && b && !json_equal(a, b);
    return a || !b ? camel : old;
}

static struct lq_error *
parse_disk(const struct json *j, const char *field, struct lq_disk_spec *d)
{
    static const char *const caches[] = { "none", "writeback", "writethrough",
                                          "directsync", "unsafe" };
    struct lq_error *error;
    const char *s;

    if (j->type != JSON_OBJECT) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected "
                            "an object", field);
    }
    if ((error = get_opt_string(j, "id", &d->id))
        || (error = get_opt_string(j, "path", &d->path))
        || (error = lq_json_get_bool(j, "readonly", &d->readonly))) {
        return in_object(error, "%s", field);
    }
    if ((error = get_opt_string(j, "volumeId", &d->volume_id))) {
        return in_object(error, "%s", field);
    }
    int64_t size = 0;
    if ((error = lq_json_get_int64(j, "sizeGib", &size))) {
        return in_object(error, "%s", field);
    }
    if (size < 0 || size > LQ_MAX_DISK_GIB) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.sizeGib: expected "
                            "0..%u", field, LQ_MAX_DISK_GIB);
    }
    d->size_gib = size;
    int v = LQ_DISK_BUS_VIRTIO;
    char *bus_field = xasprintf("%s.bus", field);
    error = get_enum(j, "bus", bus_field, disk_buses, ARRAY_SIZE(disk_buses),
                     &v);
    free(bus_field);
    if (error) {
        return error;
    }
    d->bus = v;
    v = LQ_DISK_CACHE_NONE;
    s = NULL;
    if ((error = lq_json_get_string(j, "cache", &s))) {
        return in_object(error, "%s", field);
    }
    if (s && *s && !parse_enum(s, caches, ARRAY_SIZE(caches), &v)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.cache: "
                            "expected none, writeback, writethrough, "
                            "directsync or unsafe", field);
    }
    d->cache = v;

    static const char *const ios[] = { "", "native", "io_uring", "threads" };
    v = LQ_DISK_IO_DEFAULT;
    s = NULL;
    if ((error = lq_json_get_string(j, "io", &s))
        || (error = lq_json_get_bool(j, "discard", &d->discard))) {
        return in_object(error, "%s", field);
    }
    if (s && *s && (!parse_enum(s, ios, ARRAY_SIZE(ios), &v)
                    || v == LQ_DISK_IO_DEFAULT)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.io: "
                            "expected native, io_uring or threads", field);
    }
    d->io = v;
    static const char *const limits[] = { "iopsLimit", "throughputBytes" };
    for (size_t k = 0; k < 2; k++) {
        int64_t n = 0;
        if ((error = lq_json_get_int64(j, limits[k], &n))) {
            return in_object(error, "%s", field);
        }
        if (n < 0) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.%s: "
                                "must not be negative", field, limits[k]);
        }
        *(k ? &d->throughput_bytes : &d->iops_limit) = n;
    }
    return NULL;
}

static struct lq_error *
parse_cdroms(const struct json *cdroms, struct lq_vm_spec *s)
{
    if (!cdroms) {
        return NULL;
    }
    if (cdroms->type != JSON_ARRAY) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cdroms: expected an "
                            "array");
    }
    const struct json_array *a = json_array(cdroms);
    s->cdroms = xcalloc(a->n ? a->n : 1, sizeof *s->cdroms);
    for (size_t i = 0; i < a->n; i++) {
        struct lq_cdrom_spec *cd = &s->cdroms[s->n_cdroms++];
        struct lq_error *error;
        if (a->elems[i]->type != JSON_OBJECT) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cdroms[%zu]: "
                                "expected an object", i);
        }
        bool conflict;
        const char *path = renamed_field(a->elems[i], "isoPath", "path",
                                         &conflict);
        if (conflict) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cdroms[%zu]."
                                "isoPath: differs from path (give one)", i);
        }
        if ((error = get_opt_string(a->elems[i], "id", &cd->id))
            || (error = get_opt_string(a->elems[i], path, &cd->path))) {
            return in_object(error, "spec.cdroms[%zu]", i);
        }
    }
    return NULL;
}

static struct lq_error *
parse_boot(const struct json *spec, struct lq_vm_spec *s)
{
    int v = LQ_FIRMWARE_BIOS;
    struct lq_error *error = get_enum(spec, "firmware", "spec.firmware",
                                      firmwares, ARRAY_SIZE(firmwares), &v);
    if (error) {
        return error;
    }
    s->firmware = v;

    const struct json *order = lq_json_field(spec, "bootOrder");
    if (!order) {
        return NULL;
    }
    if (order->type != JSON_ARRAY
        || json_array(order)->n > LQ_MAX_BOOT_DEVS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.bootOrder: expected "
                            "up to %d of BOOT_DEVICE_DISK, BOOT_DEVICE_CDROM, "
                            "BOOT_DEVICE_NETWORK", LQ_MAX_BOOT_DEVS);
    }
    for (size_t i = 0; i < json_array(order)->n; i++) {
        if (!enum_lookup(json_array(order)->elems[i], boot_devices,
                         ARRAY_SIZE(boot_devices), &v)) {
            char *field = xasprintf("spec.bootOrder[%zu]", i);
            error = enum_error(field, boot_devices, ARRAY_SIZE(boot_devices));
            free(field);
            return error;
        }
        s->boot[s->n_boot++] = v;
    }
    return NULL;
}

/* A unicast MAC "52:54:00:AB:cd:ef" into lower case 'out'. */
static bool
parse_mac(const char *s, char out[18])
{
    if (strlen(s) != 17) {
        return false;
    }
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char) s[i])) {
            return false;
        }
        out[i] = tolower((unsigned char) s[i]);
    }
    out[17] = '\0';
    unsigned int first = strtoul(out, NULL, 16);
    return !(first & 1) && strcmp(out, "00:00:00:00:00:00");
}

static struct lq_error *
parse_nic(const struct json *j, const char *field, struct lq_nic_spec *n)
{
    struct lq_error *error;

    if (!j || j->type != JSON_OBJECT) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected an object",
                            field);
    }
    const char *mac = NULL;
    if ((error = get_opt_string(j, "id", &n->id))
        || (error = rpc_get_uuid(j, "portId", false, n->port_id))
        || (error = rpc_get_uuid(j, "network", false, n->network_id))
        || (error = get_opt_string(j, "bridge", &n->host_bridge))
        || (error = lq_json_get_string(j, "macAddress", &mac))) {
        return in_object(error, "%s", field);
    }
    if (mac && *mac && !parse_mac(mac, n->req_mac)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.macAddress: expected a "
                            "unicast MAC, six hex pairs separated by colons",
                            field);
    }
    int v = LQ_NIC_VIRTIO;
    char *model_field = xasprintf("%s.model", field);
    error = get_enum(j, "model", model_field, nic_models,
                     ARRAY_SIZE(nic_models), &v);
    free(model_field);
    n->model = v;
    return error;
}

static struct lq_error *
parse_spec(const struct json *spec, struct lq_vm_spec *s)
{
    struct lq_error *error;
    int64_t memory = 0;

    bool conflict;
    const char *threads = renamed_field(spec, "cpuThreadsPerCore",
                                        "cpuThreads", &conflict);
    if (conflict) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cpuThreadsPerCore: "
                            "differs from spec.cpuThreads (give one)");
    }
    if ((error = get_u32_min1(spec, "cpuSockets", "cpuSockets",
                              &s->cpu_sockets))
        || (error = get_u32_min1(spec, "cpuCores", "cpuCores", &s->cpu_cores))
        || (error = get_u32_min1(spec, threads, threads, &s->cpu_threads))) {
        return error;
    }
    if ((error = lq_json_get_int64(spec, "memoryMib", &memory))) {
        return in_object(error, "spec");
    }
    if (memory <= 0) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.memoryMib: required, "
                            "a positive number of MiB");
    }
    s->memory_mib = memory;
    if ((error = get_opt_string(spec, "kernelPath", &s->kernel_path))
        || (error = get_opt_string(spec, "initrdPath", &s->initrd_path))
        || (error = get_opt_string(spec, "kernelCmdline", &s->kernel_cmdline))
        || (error = lq_json_get_bool(spec, "serialLog", &s->serial_log))) {
        return in_object(error, "spec");
    }
    if (lq_json_field(spec, "serialLogPath")) {
        /* The node decides where its files go (issue 13). */
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.serialLogPath: not "
                            "accepted; set spec.serialLog to true and read "
                            "serialLogPath from the VM");
    }

    if ((error = parse_boot(spec, s))
        || (error = parse_cdroms(lq_json_field(spec, "cdroms"), s))) {
        return error;
    }
    const struct json *nics = lq_json_field(spec, "nics");
    if (nics) {
        if (nics->type != JSON_ARRAY) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "spec.nics: expected "
                                "an array");
        }
        const struct json_array *a = json_array(nics);
        s->nics = xcalloc(a->n ? a->n : 1, sizeof *s->nics);
        for (size_t i = 0; i < a->n; i++) {
            s->n_nics++;
            char *field = xasprintf("spec.nics[%zu]", i);
            error = parse_nic(a->elems[i], field, &s->nics[i]);
            free(field);
            if (error) {
                return error;
            }
        }
    }
    const struct json *disks = lq_json_field(spec, "disks");
    if (disks) {
        if (disks->type != JSON_ARRAY) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "spec.disks: expected "
                                "an array");
        }
        const struct json_array *a = json_array(disks);
        s->disks = xcalloc(a->n ? a->n : 1, sizeof *s->disks);
        for (size_t i = 0; i < a->n; i++) {
            s->n_disks++;
            char *field = xasprintf("spec.disks[%zu]", i);
            error = parse_disk(a->elems[i], field, &s->disks[i]);
            free(field);
            if (error) {
                return error;
            }
        }
    }
    return NULL;
}

static struct lq_error *
parse_labels(const struct json *labels, struct lq_vm_spec *s)
{
    if (!labels) {
        return NULL;
    }
    if (labels->type != JSON_OBJECT) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "labels: expected an object "
                            "of strings");
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, json_object(labels)) {
        const struct json *v = node->data;
        if (v->type != JSON_STRING) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "labels.%s: expected a "
                                "string", node->name);
        }
        lq_vm_spec_add_label(s, node->name, v->string);
    }
    return NULL;
}

/* Parses a CreateVM request into 's' (the caller clears it). */
struct lq_error *
lq_rpc_compute_parse_create(const struct json *req, struct lq_vm_spec *s)
{
    /* The contract's vmId (the control plane's id: CreateVM is idempotent
     * by it); "id" is the name this API used before, still read. */
    struct lq_error *error = rpc_get_uuid(req, "vmId", false, s->id);
    if (!error && !s->id[0]) {
        error = rpc_get_uuid(req, "id", false, s->id);
    }
    if (error) {
        return error;
    }
    if (!s->id[0]) {
        /* No id at all: one is made up, and a retry makes another VM. */
        struct uuid u;
        uuid_generate(&u);
        snprintf(s->id, sizeof s->id, UUID_FMT, UUID_ARGS(&u));
    }
    if ((error = get_opt_string(req, "name", &s->name))) {
        return error;
    }
    const struct json *spec = lq_json_field(req, "spec");
    if (!spec || spec->type != JSON_OBJECT) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec: %s",
                            spec ? "expected an object" : "required");
    }
    if ((error = parse_spec(spec, s))) {
        return error;
    }
    return parse_labels(lq_json_field(req, "labels"), s);
}

struct json *
lq_vm_status_to_json(const struct lq_vm_status *st)
{
    struct json *j = json_object_create();
    lq_json_put_string(j, "vmId", st->id);
    lq_json_put_string(j, "name", st->name ? st->name : "");
    lq_json_put_string(j, "state", lq_vm_state_name(st->state));
    if (st->has_usage) {
        /* The contract's ResourceUsage; no cpuUsagePercent (one reading
         * has no rate: StreamMetrics has it). */
        const struct lq_vm_usage *u = &st->usage;
        struct json *r = json_object_create();
        lq_json_put_uint64(r, "cpuTimeNs", u->cpu_time_ns);
        lq_json_put_uint64(r, "memoryUsedBytes", u->memory_used_bytes);
        lq_json_put_uint64(r, "memoryTotalBytes", u->memory_total_bytes);
        lq_json_put_uint64(r, "diskReadBytes", u->disk_read_bytes);
        lq_json_put_uint64(r, "diskWriteBytes", u->disk_write_bytes);
        lq_json_put_uint64(r, "networkRxBytes", u->network_rx_bytes);
        lq_json_put_uint64(r, "networkTxBytes", u->network_tx_bytes);
        json_object_put(j, "resourceUsage", r);
    }
    if (st->started_ms > 0) {
        lq_json_put_timestamp_ms(j, "startedAt", st->started_ms);
    }
    if (st->serial_log_path) {
        lq_json_put_string(j, "serialLogPath", st->serial_log_path);
    }
    struct json *labels = json_object_create();
    for (size_t i = 0; i < st->n_labels; i++) {
        json_object_put_string(labels, st->labels[i].key,
                               st->labels[i].value);
    }
    json_object_put(j, "labels", labels);
    return j;
}

static struct lq_error *
status_reply(struct lq_compute *c, const char *id, struct json **responsep)
{
    struct lq_vm_status st;
    struct lq_error *error = lq_compute_get_vm(c, id, &st);
    if (!error) {
        *responsep = lq_vm_status_to_json(&st);
    }
    lq_vm_status_clear(&st);
    return error;
}

/* CreateVMOnNodeResponse: the contract's {vmId, created, message}, and
 * ours: the VM's status. */
static struct json *
create_reply(const struct lq_vm_status *st, bool created)
{
    struct json *r = json_object_create();
    lq_json_put_string(r, "vmId", st->id);
    lq_json_put_bool(r, "created", created);
    char *msg = xasprintf(created ? "VM %s defined"
                          : "VM %s already exists with this spec", st->id);
    lq_json_put_string(r, "message", msg);
    free(msg);
    json_object_put(r, "status", lq_vm_status_to_json(st));
    return r;
}

static struct lq_error *
create_vm(struct lq_node *node OVS_UNUSED, const struct json *req,
          struct json **responsep)
{
    struct lq_compute *c;
    struct lq_vm_spec spec;
    struct lq_vm_status st;

    lq_vm_spec_init(&spec);
    struct lq_error *error = rpc_compute_get(&c);
    if (!error) {
        error = lq_rpc_compute_parse_create(req, &spec);
    }
    if (!error) {
        bool created;
        error = lq_compute_create_vm(c, &spec, &st, &created);
        if (!error) {
            *responsep = create_reply(&st, created);
        }
        lq_vm_status_clear(&st);
    }
    lq_vm_spec_clear(&spec);
    return error;
}

/* The common shape {vmId} -> op -> {} (google.protobuf.Empty: the
 * contract's answer; GetVMStatus tells the state). */
static struct lq_error *
vm_op(const struct json *req, struct json **responsep,
      struct lq_error *(*op)(struct lq_compute *, const char *))
{
    struct lq_compute *c;
    char id[37];
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error) {
        error = op(c, id);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    return error;
}

#define VM_OP_HANDLER(NAME, FUNC)                                       \
    static struct lq_error *                                            \
    NAME(struct lq_node *node OVS_UNUSED, const struct json *req,       \
         struct json **responsep)                                       \
    {                                                                   \
        return vm_op(req, responsep, FUNC);                             \
    }

VM_OP_HANDLER(start_vm, lq_compute_start_vm)
VM_OP_HANDLER(force_stop_vm, lq_compute_force_stop_vm)
VM_OP_HANDLER(reboot_vm, lq_compute_reboot_vm)
VM_OP_HANDLER(pause_vm, lq_compute_pause_vm)
VM_OP_HANDLER(resume_vm, lq_compute_resume_vm)

static struct lq_error *
get_vm_status(struct lq_node *node OVS_UNUSED, const struct json *req,
              struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_error *error = rpc_vm_request(req, &c, id);
    return error ? error : status_reply(c, id, responsep);
}

static struct lq_error *
stop_vm(struct lq_node *node OVS_UNUSED, const struct json *req,
        struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    uint32_t timeout = 0;
    bool graceful_only = false;
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error) {
        error = lq_json_get_uint32(req, "timeoutSeconds", &timeout);
    }
    if (!error) {
        error = lq_json_get_bool(req, "gracefulOnly", &graceful_only);
    }
    if (!error && timeout > MAX_STOP_TIMEOUT_S) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "timeoutSeconds: at most "
                             "%d", MAX_STOP_TIMEOUT_S);
    }
    if (!error) {
        error = lq_compute_stop_vm(c, id, timeout ? timeout
                                   : DEFAULT_STOP_TIMEOUT_S, graceful_only,
                                   NULL);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    return error;
}

static struct lq_error *
delete_vm(struct lq_node *node OVS_UNUSED, const struct json *req,
          struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error) {
        error = lq_compute_delete_vm(c, id);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    return error;
}

static struct lq_error *
list_vms(struct lq_node *node OVS_UNUSED, const struct json *req OVS_UNUSED,
         struct json **responsep)
{
    struct lq_compute *c;
    struct lq_vm_status *vms;
    size_t n;
    struct lq_error *error = rpc_compute_get(&c);
    if (!error) {
        error = lq_compute_list_vms(c, &vms, &n);
    }
    if (!error) {
        struct json *a = json_array_create_empty();
        for (size_t i = 0; i < n; i++) {
            json_array_add(a, lq_vm_status_to_json(&vms[i]));
        }
        lq_vm_status_free_array(vms, n);
        struct json *r = json_object_create();
        json_object_put(r, "vms", a);
        *responsep = r;
    }
    return error;
}

/* AttachDisk {vmId, disk: {...}} and AttachNIC {vmId, nic: {...}}. */
static struct lq_error *
attach_disk(struct lq_node *node OVS_UNUSED, const struct json *req,
            struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_disk_spec d;
    memset(&d, 0, sizeof d);
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error) {
        const struct json *disk = lq_json_field(req, "disk");
        error = disk ? parse_disk(disk, "disk", &d)
                     : lq_error_new(LQ_INVALID_ARGUMENT, "disk: required");
    }
    if (!error) {
        error = lq_compute_attach_disk(c, id, &d);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    lq_disk_spec_clear(&d);
    return error;
}

static struct lq_error *
attach_nic(struct lq_node *node OVS_UNUSED, const struct json *req,
           struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_nic_spec n;
    memset(&n, 0, sizeof n);
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error) {
        error = parse_nic(lq_json_field(req, "nic"), "nic", &n);
    }
    if (!error) {
        error = lq_compute_attach_nic(c, id, &n);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    lq_nic_spec_clear(&n);
    return error;
}

/* DetachDisk {vmId, diskId} and DetachNIC {vmId, nicId}. */
static struct lq_error *
detach(const struct json *req, struct json **responsep, const char *field,
       struct lq_error *(*op)(struct lq_compute *, const char *,
                              const char *))
{
    struct lq_compute *c;
    char id[37];
    char *device = NULL;
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error) {
        error = get_opt_string(req, field, &device);
    }
    if (!error && !device) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "%s: required", field);
    }
    if (!error) {
        error = op(c, id, device);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    free(device);
    return error;
}

static struct lq_error *
detach_disk(struct lq_node *node OVS_UNUSED, const struct json *req,
            struct json **responsep)
{
    return detach(req, responsep, "diskId", lq_compute_detach_disk);
}

static struct lq_error *
detach_nic(struct lq_node *node OVS_UNUSED, const struct json *req,
           struct json **responsep)
{
    return detach(req, responsep, "nicId", lq_compute_detach_nic);
}

static struct lq_error *
get_console(struct lq_node *node OVS_UNUSED, const struct json *req,
            struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_vm_console con;
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error) {
        error = lq_compute_get_console(c, id, &con);
    }
    if (!error) {
        struct json *r = json_object_create();
        lq_json_put_string(r, "vmId", id);
        lq_json_put_string(r, "type", con.type);
        lq_json_put_string(r, "host", con.host);
        json_object_put(r, "port", json_integer_create(con.port));
        lq_json_put_string(r, "password", con.password);
        *responsep = r;
    }
    return error;
}

static struct json *
snapshot_to_json(const char *vm_id, const struct lq_vm_snapshot *sn)
{
    struct json *j = json_object_create();
    lq_json_put_string(j, "snapshotId", sn->id);
    lq_json_put_string(j, "vmId", vm_id);
    lq_json_put_string(j, "name", sn->name ? sn->name : "");
    lq_json_put_string(j, "description",
                       sn->description ? sn->description : "");
    char when[32];
    time_t t = sn->created;
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    lq_json_put_string(j, "createdAt", when);
    struct json *disks = json_array_create_empty();
    for (size_t i = 0; i < sn->n_disks; i++) {
        struct json *d = json_object_create();
        lq_json_put_string(d, "diskId", sn->disks[i].id);
        lq_json_put_string(d, "volumeId", sn->disks[i].ref);
        json_array_add(disks, d);
    }
    json_object_put(j, "disks", disks);
    return j;
}

/* CreateSnapshot {vmId, snapshotId?, name, description}. */
static struct lq_error *
create_snapshot(struct lq_node *node OVS_UNUSED, const struct json *req,
                struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    char *snap_id = NULL, *name = NULL, *description = NULL;
    struct lq_vm_snapshot sn;
    memset(&sn, 0, sizeof sn);
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error && !(error = get_opt_string(req, "snapshotId", &snap_id))
        && !(error = get_opt_string(req, "name", &name))) {
        error = get_opt_string(req, "description", &description);
    }
    if (!error) {
        error = lq_compute_create_snapshot(c, id, snap_id, name, description,
                                           &sn);
    }
    if (!error) {
        *responsep = snapshot_to_json(id, &sn);
    }
    lq_vm_snapshot_clear(&sn);
    free(snap_id);
    free(name);
    free(description);
    return error;
}

/* {vmId, snapshotId} for RevertSnapshot and DeleteSnapshot. */
static struct lq_error *
snapshot_request(const struct json *req, struct lq_compute **c, char id[37],
                 char snap_id[37])
{
    struct lq_error *error = rpc_vm_request(req, c, id);
    if (!error) {
        error = rpc_get_uuid(req, "snapshotId", true, snap_id);
    }
    return error;
}

static struct lq_error *
revert_snapshot(struct lq_node *node OVS_UNUSED, const struct json *req,
                struct json **responsep)
{
    struct lq_compute *c;
    char id[37], snap_id[37];
    struct lq_error *error = snapshot_request(req, &c, id, snap_id);
    if (!error) {
        error = lq_compute_revert_snapshot(c, id, snap_id);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    return error;
}

static struct lq_error *
delete_snapshot(struct lq_node *node OVS_UNUSED, const struct json *req,
                struct json **responsep)
{
    struct lq_compute *c;
    char id[37], snap_id[37];
    struct lq_error *error = snapshot_request(req, &c, id, snap_id);
    if (!error) {
        error = lq_compute_delete_snapshot(c, id, snap_id);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    return error;
}

static struct lq_error *
list_snapshots(struct lq_node *node OVS_UNUSED, const struct json *req,
               struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_vm_snapshot *list = NULL;
    size_t n = 0;
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error) {
        error = lq_compute_list_snapshots(c, id, &list, &n);
    }
    if (!error) {
        struct json *a = json_array_create_empty();
        for (size_t i = 0; i < n; i++) {
            json_array_add(a, snapshot_to_json(id, &list[i]));
        }
        struct json *r = json_object_create();
        json_object_put(r, "snapshots", a);
        *responsep = r;
    }
    lq_vm_snapshot_free_array(list, n);
    return error;
}

static struct lq_error *
get_vm_metrics(struct lq_node *node OVS_UNUSED, const struct json *req,
               struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_vm_metrics mt;
    memset(&mt, 0, sizeof mt);
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error) {
        error = lq_compute_get_metrics(c, id, &mt);
    }
    if (!error) {
        /* One sample: no CPU percentage (StreamMetrics has it). */
        *responsep = lq_vm_metrics_to_json(id, NULL, &mt, -1);
    }
    lq_vm_metrics_clear(&mt);
    return error;
}

#define MAX_WATCH_TIMEOUT_S 300

/* WatchEvents {sinceSeq, vmId?, timeoutSeconds} -> {events, lastSeq,
 * truncated}: a long poll (see events.c). */
static struct lq_error *
watch_events(struct lq_node *node OVS_UNUSED, const struct json *req,
             struct json **responsep)
{
    struct lq_compute *c;
    char vm_id[37] = "";
    uint64_t since = 0;
    uint32_t timeout = 30;
    struct lq_vm_event *events = NULL;
    size_t n = 0;
    uint64_t last = 0;
    bool truncated = false;
    struct lq_error *error = rpc_compute_get(&c);
    if (!error) {
        error = rpc_get_uuid(req, "vmId", false, vm_id);
    }
    int64_t since_signed = 0;
    if (!error) {
        error = lq_json_get_int64(req, "sinceSeq", &since_signed);
    }
    if (!error && since_signed < 0) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "sinceSeq: must not be "
                             "negative");
    }
    since = since_signed;
    if (!error && lq_json_field(req, "timeoutSeconds")) {
        error = lq_json_get_uint32(req, "timeoutSeconds", &timeout);
    }
    if (!error && timeout > MAX_WATCH_TIMEOUT_S) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "timeoutSeconds: at most "
                             "%d", MAX_WATCH_TIMEOUT_S);
    }
    if (!error) {
        error = lq_compute_watch_events(c, since, vm_id[0] ? vm_id : NULL,
                                        timeout * 1000, &events, &n, &last,
                                        &truncated);
    }
    if (!error) {
        struct json *a = json_array_create_empty();
        for (size_t i = 0; i < n; i++) {
            struct json *j = json_object_create();
            lq_json_put_uint64(j, "seq", events[i].seq);
            lq_json_put_string(j, "vmId", events[i].vm_id);
            lq_json_put_string(j, "name", events[i].name);
            lq_json_put_string(j, "event", events[i].event);
            lq_json_put_string(j, "detail", events[i].detail);
            if (events[i].forced[0]) {
                lq_json_put_string(j, "forced", events[i].forced);
            }
            lq_json_put_int64(j, "timeMs", events[i].time_ms);
            json_array_add(a, j);
        }
        struct json *r = json_object_create();
        json_object_put(r, "events", a);
        lq_json_put_uint64(r, "lastSeq", last);
        json_object_put(r, "truncated", json_boolean_create(truncated));
        *responsep = r;
    }
    lq_vm_events_free(events, n);
    return error;
}

/* MigrateVM {vmId, targetNodeUri, live} -> {} (the VM is gone from this
 * node). */
static struct lq_error *
migrate_vm(struct lq_node *node OVS_UNUSED, const struct json *req,
           struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    char *target = NULL;
    bool live = false;
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error && !(error = get_opt_string(req, "targetNodeUri", &target))) {
        error = lq_json_get_bool(req, "live", &live);
    }
    if (!error) {
        error = lq_compute_migrate_vm(c, id, target, live);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    free(target);
    return error;
}

/* StreamEvents (Empty) -> stream NodeEvent: the seed's event stream, fed
 * from the same ring as WatchEvents.  Every event recorded after the
 * stream opened, in order; the ring (1024 events) is the per-client
 * buffer: a client that falls further behind is ended with
 * resource_exhausted (resync with ListVMs and open a new stream). */
struct event_stream {
    struct lq_compute *c;
    uint64_t since;             /* Last event sent. */
    uint64_t seqno;             /* Of the compute's event seq, last read. */
};

static struct lq_error *
event_stream_open(struct lq_node *node OVS_UNUSED,
                  const struct json *req OVS_UNUSED, void **statep)
{
    struct lq_compute *c;
    struct lq_error *e = rpc_compute_get(&c);
    if (!e) {
        e = lq_compute_ping(c);     /* Events flow while connected. */
    }
    if (e) {
        return e;
    }
    struct event_stream *st = xzalloc(sizeof *st);
    st->c = c;
    st->seqno = seq_read(lq_compute_event_seq(c));
    struct lq_vm_event *events;
    size_t n;
    bool truncated;
    /* 'since' becomes the newest event: only later ones are sent. */
    lq_compute_read_events(c, 0, &events, &n, &st->since, &truncated);
    lq_vm_events_free(events, n);
    *statep = st;
    return NULL;
}

/* The contract's EventType of one of our lifecycle events. */
static const char *
event_type(const struct lq_vm_event *ev)
{
    static const struct { const char *event, *detail, *type; } map[] = {
        { "STARTED", NULL, "EVENT_TYPE_VM_STARTED" },
        { "RESUMED", NULL, "EVENT_TYPE_VM_RESUMED" },
        { "PAUSED", NULL, "EVENT_TYPE_VM_PAUSED" },
        { "CRASHED", NULL, "EVENT_TYPE_VM_CRASHED" },
        { "STOPPED", "CRASHED", "EVENT_TYPE_VM_CRASHED" },
        { "STOPPED", "MIGRATED", "EVENT_TYPE_VM_MIGRATED_OUT" },
        { "STOPPED", NULL, "EVENT_TYPE_VM_STOPPED" },
        { "SHUTDOWN", NULL, "EVENT_TYPE_VM_STOPPED" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
        if (!strcmp(ev->event, map[i].event)
            && (!map[i].detail || !strcmp(ev->detail, map[i].detail))) {
            return map[i].type;
        }
    }
    return "EVENT_TYPE_UNKNOWN";    /* DEFINED, DELETED, SUSPENDED: see
                                     * metadata.event. */
}

static struct json *
node_event_json(const struct lq_vm_event *ev)
{
    struct json *j = json_object_create();
    lq_json_put_uint64(j, "id", ev->seq);
    lq_json_put_timestamp_ms(j, "timestamp", ev->time_ms);
    lq_json_put_string(j, "type", event_type(ev));
    lq_json_put_string(j, "vmId", ev->vm_id);
    char *msg = xasprintf("VM %s %s%s%s%s", ev->name, ev->event,
                          *ev->detail ? " " : "", ev->detail,
                          !*ev->forced ? ""
                          : !strcmp(ev->forced, "PAUSED")
                          ? " (forced off by StopVM: it was paused)"
                          : " (forced off by StopVM after its timeout)");
    lq_json_put_string(j, "message", msg);
    free(msg);
    struct json *md = json_object_create();
    json_object_put_string(md, "event", ev->event);
    json_object_put_string(md, "detail", ev->detail);
    json_object_put_string(md, "name", ev->name);
    if (*ev->forced) {
        json_object_put_string(md, "forced", ev->forced);
    }
    json_object_put(j, "metadata", md);
    return j;
}

static struct lq_error *
event_stream_poll(void *st_, struct json *out, bool *done)
{
    struct event_stream *st = st_;
    st->seqno = seq_read(lq_compute_event_seq(st->c));
    struct lq_vm_event *events;
    size_t n;
    bool truncated;
    uint64_t last;
    lq_compute_read_events(st->c, st->since, &events, &n, &last, &truncated);
    struct lq_error *e = NULL;
    if (truncated) {
        e = lq_error_new(LQ_RESOURCE_EXHAUSTED, "the event stream fell more "
                         "than 1024 events behind (or the node restarted): "
                         "resync with ListVMs and open a new stream");
    } else {
        for (size_t i = 0; i < n; i++) {
            json_array_add(out, node_event_json(&events[i]));
        }
        st->since = last;
    }
    lq_vm_events_free(events, n);
    *done = e != NULL;
    return e;
}

static void
event_stream_wait(void *st_)
{
    struct event_stream *st = st_;
    seq_wait(lq_compute_event_seq(st->c), st->seqno);
}

static void
event_stream_close(void *st)
{
    free(st);
}

static const struct lq_rpc_stream_class event_stream_class = {
    event_stream_open, event_stream_poll, event_stream_wait,
    event_stream_close,
};

static const struct lq_rpc_method compute_methods[] = {
    { NODE_SERVICE, "StreamEvents", NULL, false, NULL, &event_stream_class },
    /* A stream over HTTP/2; over HTTP/1.1 (and Connect unary) one
     * answer when it is done. */
    { NODE_SERVICE, "MigrateVM", migrate_vm, true, NULL,
      &lq_migrate_stream_class },
    { NODE_SERVICE, "WatchEvents", watch_events, true },
    { NODE_SERVICE, "GetVMMetrics", get_vm_metrics, true },
    { NODE_SERVICE, "CreateSnapshot", create_snapshot, true },
    { NODE_SERVICE, "RevertSnapshot", revert_snapshot, true },
    { NODE_SERVICE, "DeleteSnapshot", delete_snapshot, true },
    { NODE_SERVICE, "ListSnapshots", list_snapshots, true },
    { NODE_SERVICE, "AttachDisk", attach_disk, true },
    { NODE_SERVICE, "DetachDisk", detach_disk, true },
    { NODE_SERVICE, "AttachNIC", attach_nic, true },
    { NODE_SERVICE, "DetachNIC", detach_nic, true },
    { NODE_SERVICE, "GetConsole", get_console, true },
    { NODE_SERVICE, "CreateVM", create_vm, true },
    { NODE_SERVICE, "StartVM", start_vm, true },
    { NODE_SERVICE, "StopVM", stop_vm, true },
    { NODE_SERVICE, "ForceStopVM", force_stop_vm, true },
    { NODE_SERVICE, "RebootVM", reboot_vm, true },
    { NODE_SERVICE, "PauseVM", pause_vm, true },
    { NODE_SERVICE, "ResumeVM", resume_vm, true },
    { NODE_SERVICE, "DeleteVM", delete_vm, true },
    { NODE_SERVICE, "GetVMStatus", get_vm_status, true },
    { NODE_SERVICE, "ListVMs", list_vms, true },
};

void
lq_rpc_compute_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, compute_methods, ARRAY_SIZE(compute_methods));
    lq_rpc_metrics_register(r);
    lq_rpc_migrate_register(r);
}
