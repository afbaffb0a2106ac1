#include <config.h>
/* rpc_vm.c: NodeDaemonService's VM methods as typed handlers (rpc.h):
 * CreateVM, the lifecycle calls, GetVMStatus, ListVMs, hot-plug, GetConsole
 * and the snapshot calls, over limiquantix/compute.h.
 *
 * Design decisions:
 * - The transport has decoded the request into its message of
 *   proto/limiquantix/node/v1/compute.proto, from binary protobuf or proto3
 *   JSON alike, so types, enum names and UTF-8 are already checked; what
 *   is left here is what the contract cannot say (UUIDs, ranges, a MAC,
 *   enum numbers a binary client may send that the enum lacks).  Every
 *   error is invalid_argument naming the field in its JSON form
 *   ("spec.disks[0].bus"), found before libvirt is asked anything.
 * - Every method is blocking (libvirt calls wait on libvirtd): they run on
 *   the worker pool.
 * - The seed's device fields are read as its caller fills them (a volume
 *   id in disks[].path, disks[].sizeGib, nics[].network, nics[].bridge,
 *   nics[].macAddress); what they become is decided in src/compute
 *   (owned.c), not here.  Seed fields still ignored are listed in
 *   docs/proto.md. */
#include "rpc_vm.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "limiquantix/compute.h"
#include "limiquantix/config.h"
#include "limiquantix/node.h"
#include "openvswitch/dynamic-string.h"
#include "pbjson.h"
#include "pbmsg.h"
#include "rpc.h"
#include "rpc_compute.h"
#include "util.h"
#include "uuid.h"

#include "limiquantix_node_v1_compute.pb-c.h"

#define NODE_SERVICE "limiquantix.node.v1.NodeDaemonService"
#define DEFAULT_STOP_TIMEOUT_S 60
#define MAX_STOP_TIMEOUT_S 3600
/* DiskSpec.throughput_mbps is MiB/s, as Proxmox's mbps. */
#define MIB 1048576ull

typedef Limiquantix__Node__V1__VMIdRequest VMIdRequest;
typedef Limiquantix__Node__V1__CreateVMOnNodeRequest CreateVMOnNodeRequest;
typedef Limiquantix__Node__V1__CreateVMOnNodeResponse CreateVMOnNodeResponse;
typedef Limiquantix__Node__V1__VMSpec VMSpec;
typedef Limiquantix__Node__V1__DiskSpec DiskSpec;
typedef Limiquantix__Node__V1__NicSpec NicSpec;
typedef Limiquantix__Node__V1__CdromSpec CdromSpec;
typedef Limiquantix__Node__V1__CloudInitSpec CloudInitSpec;
typedef Limiquantix__Node__V1__StopVMRequest StopVMRequest;
typedef Limiquantix__Node__V1__VMStatusResponse VMStatusResponse;
typedef Limiquantix__Node__V1__GuestInfo GuestInfo;
typedef Limiquantix__Node__V1__GuestInterface GuestInterface;
typedef Limiquantix__Node__V1__ResourceUsage ResourceUsage;
typedef Limiquantix__Node__V1__ListVMsOnNodeResponse ListVMsOnNodeResponse;
typedef Limiquantix__Node__V1__AttachDiskRequest AttachDiskRequest;
typedef Limiquantix__Node__V1__AttachNICRequest AttachNICRequest;
typedef Limiquantix__Node__V1__DetachDiskRequest DetachDiskRequest;
typedef Limiquantix__Node__V1__DetachNICRequest DetachNICRequest;
typedef Limiquantix__Node__V1__ConsoleInfoResponse ConsoleInfoResponse;
typedef Limiquantix__Node__V1__CreateSnapshotRequest CreateSnapshotRequest;
typedef Limiquantix__Node__V1__SnapshotResponse SnapshotResponse;
typedef Limiquantix__Node__V1__SnapshotDisk SnapshotDisk;
typedef Limiquantix__Node__V1__RevertSnapshotRequest RevertSnapshotRequest;
typedef Limiquantix__Node__V1__DeleteSnapshotRequest DeleteSnapshotRequest;
typedef Limiquantix__Node__V1__ListSnapshotsResponse ListSnapshotsResponse;

static struct lq_error *
field_error(const char *field, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);

static struct lq_error *
field_error(const char *field, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *why = xvasprintf(format, args);
    va_end(args);
    struct lq_error *e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: %s", field,
                                      why);
    free(why);
    return e;
}

static char *
opt_string(const char *s)
{
    return *s ? xstrdup(s) : NULL;
}

/* An enum value a binary client sent: protobuf enums are open, so a
 * number the contract does not define arrives as is; the same error as a
 * JSON client gets. */
static struct lq_error *
enum_error(const char *field, const ProtobufCEnumDescriptor *d, int v)
{
    char got[16];
    snprintf(got, sizeof got, "%d", v);
    return lq_pb_enum_error(d, field, got);
}

static struct lq_error *
disk_bus(int v, const char *field, enum lq_disk_bus *out)
{
    switch (v) {
    case LIMIQUANTIX__NODE__V1__DISK_BUS__DISK_BUS_VIRTIO:
        *out = LQ_DISK_BUS_VIRTIO; return NULL;
    case LIMIQUANTIX__NODE__V1__DISK_BUS__DISK_BUS_SCSI:
        *out = LQ_DISK_BUS_SCSI; return NULL;
    case LIMIQUANTIX__NODE__V1__DISK_BUS__DISK_BUS_SATA:
        *out = LQ_DISK_BUS_SATA; return NULL;
    case LIMIQUANTIX__NODE__V1__DISK_BUS__DISK_BUS_IDE:
        *out = LQ_DISK_BUS_IDE; return NULL;
    }
    return enum_error(field, &limiquantix__node__v1__disk_bus__descriptor, v);
}

static struct lq_error *
nic_model(int v, const char *field, enum lq_nic_model *out)
{
    switch (v) {
    case LIMIQUANTIX__NODE__V1__NIC_MODEL__NIC_MODEL_VIRTIO:
        *out = LQ_NIC_VIRTIO; return NULL;
    case LIMIQUANTIX__NODE__V1__NIC_MODEL__NIC_MODEL_E1000:
        *out = LQ_NIC_E1000; return NULL;
    case LIMIQUANTIX__NODE__V1__NIC_MODEL__NIC_MODEL_RTL8139:
        *out = LQ_NIC_RTL8139; return NULL;
    }
    return enum_error(field, &limiquantix__node__v1__nic_model__descriptor, v);
}

static struct lq_error *
boot_device(int v, const char *field, enum lq_boot_dev *out)
{
    switch (v) {
    case LIMIQUANTIX__NODE__V1__BOOT_DEVICE__BOOT_DEVICE_DISK:
        *out = LQ_BOOT_HD; return NULL;
    case LIMIQUANTIX__NODE__V1__BOOT_DEVICE__BOOT_DEVICE_CDROM:
        *out = LQ_BOOT_CDROM; return NULL;
    case LIMIQUANTIX__NODE__V1__BOOT_DEVICE__BOOT_DEVICE_NETWORK:
        *out = LQ_BOOT_NETWORK; return NULL;
    }
    return enum_error(field, &limiquantix__node__v1__boot_device__descriptor, v);
}

/* One of our string-valued options ("" is the default, index 0). */
static bool
parse_word(const char *s, const char *const words[], size_t n, int *out)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcasecmp(s, words[i])) {
            *out = i;
            return true;
        }
    }
    return false;
}

static struct lq_error *
parse_disk_io(const DiskSpec *m, const char *field, struct lq_disk_spec *d)
{
    static const char *const caches[] = { "none", "writeback", "writethrough",
                                          "directsync", "unsafe" };
    static const char *const ios[] = { "", "native", "io_uring", "threads" };
    int v = LQ_DISK_CACHE_NONE;
    if (*m->cache && !parse_word(m->cache, caches, ARRAY_SIZE(caches), &v)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.cache: expected none, "
                            "writeback, writethrough, directsync or unsafe",
                            field);
    }
    d->cache = v;
    v = LQ_DISK_IO_DEFAULT;
    if (*m->io && (!parse_word(m->io, ios, ARRAY_SIZE(ios), &v)
                   || v == LQ_DISK_IO_DEFAULT)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.io: expected native, "
                            "io_uring or threads", field);
    }
    d->io = v;
    d->discard = m->discard;
    d->iops_limit = m->iops_limit;
    /* The seed's throughputMbps and our throughputBytes say the same. */
    if (m->throughput_mbps > UINT64_MAX / MIB) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.throughputMbps: too "
                            "large", field);
    }
    uint64_t from_mbps = m->throughput_mbps * MIB;
    if (from_mbps && m->throughput_bytes
        && from_mbps != m->throughput_bytes) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.throughputMbps: "
                            "differs from throughputBytes (give one)", field);
    }
    d->throughput_bytes = from_mbps ? from_mbps : m->throughput_bytes;
    return NULL;
}

static struct lq_error *
parse_disk(const DiskSpec *m, const char *field, struct lq_disk_spec *d)
{
    d->id = opt_string(m->id);
    d->path = opt_string(m->path);
    d->volume_id = opt_string(m->volume_id);
    d->readonly = m->readonly;
    if (m->size_gib > LQ_MAX_DISK_GIB) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.sizeGib: expected "
                            "0..%u", field, LQ_MAX_DISK_GIB);
    }
    d->size_gib = m->size_gib;
    d->image_volume_id = opt_string(m->image_volume_id);
    d->image_snapshot_id = opt_string(m->image_snapshot_id);
    char *bus_field = xasprintf("%s.bus", field);
    struct lq_error *error = disk_bus(m->bus, bus_field, &d->bus);
    free(bus_field);
    return error ? error : parse_disk_io(m, field, d);
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
parse_nic(const NicSpec *m, const char *field, struct lq_nic_spec *n)
{
    struct lq_error *error;
    char *sub = xasprintf("%s.portId", field);
    error = rpc_check_uuid(m->port_id, sub, false, n->port_id);
    free(sub);
    if (!error) {
        sub = xasprintf("%s.network", field);
        error = rpc_check_uuid(m->network, sub, false, n->network_id);
        free(sub);
    }
    if (error) {
        return error;
    }
    n->id = opt_string(m->id);
    n->host_bridge = opt_string(m->bridge);
    if (*m->mac_address && !parse_mac(m->mac_address, n->req_mac)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.macAddress: expected a "
                            "unicast MAC, six hex pairs separated by colons",
                            field);
    }
    sub = xasprintf("%s.model", field);
    error = nic_model(m->model, sub, &n->model);
    free(sub);
    return error;
}

static struct lq_error *
parse_cpu(const VMSpec *m, struct lq_vm_spec *s)
{
    /* 0 is proto3's "not set": the default of 1. */
    s->cpu_sockets = m->cpu_sockets ? m->cpu_sockets : 1;
    s->cpu_cores = m->cpu_cores ? m->cpu_cores : 1;
    s->cpu_threads = m->cpu_threads_per_core ? m->cpu_threads_per_core : 1;
    s->max_cpu_cores = m->max_cpu_cores;
    if (!m->memory_mib) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.memoryMib: required, "
                            "a positive number of MiB");
    }
    if (m->memory_mib > INT64_MAX) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.memoryMib: too large");
    }
    s->memory_mib = m->memory_mib;
    s->max_memory_mib = m->max_memory_mib;  /* Range checked with the spec. */
    return NULL;
}

static struct lq_error *
parse_boot(const VMSpec *m, struct lq_vm_spec *s)
{
    switch (m->firmware) {
    case LIMIQUANTIX__NODE__V1__FIRMWARE__FIRMWARE_BIOS:
        s->firmware = LQ_FIRMWARE_BIOS;
        break;
    case LIMIQUANTIX__NODE__V1__FIRMWARE__FIRMWARE_UEFI:
        s->firmware = LQ_FIRMWARE_UEFI;
        break;
    default:
        return enum_error("spec.firmware",
                          &limiquantix__node__v1__firmware__descriptor,
                          m->firmware);
    }
    if (m->n_boot_order > LQ_MAX_BOOT_DEVS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.bootOrder: expected "
                            "up to %d of BOOT_DEVICE_DISK, BOOT_DEVICE_CDROM, "
                            "BOOT_DEVICE_NETWORK", LQ_MAX_BOOT_DEVS);
    }
    for (size_t i = 0; i < m->n_boot_order; i++) {
        char *field = xasprintf("spec.bootOrder[%zu]", i);
        struct lq_error *error = boot_device(m->boot_order[i], field,
                                             &s->boot[s->n_boot]);
        free(field);
        if (error) {
            return error;
        }
        s->n_boot++;
    }
    return NULL;
}

static struct lq_error *
parse_devices(const VMSpec *m, struct lq_vm_spec *s)
{
    s->cdroms = xcalloc(m->n_cdroms ? m->n_cdroms : 1, sizeof *s->cdroms);
    for (size_t i = 0; i < m->n_cdroms; i++) {
        struct lq_cdrom_spec *cd = &s->cdroms[s->n_cdroms++];
        cd->id = opt_string(m->cdroms[i]->id);
        cd->path = opt_string(m->cdroms[i]->iso_path);
    }
    s->nics = xcalloc(m->n_nics ? m->n_nics : 1, sizeof *s->nics);
    for (size_t i = 0; i < m->n_nics; i++) {
        s->n_nics++;
        char *field = xasprintf("spec.nics[%zu]", i);
        struct lq_error *error = parse_nic(m->nics[i], field, &s->nics[i]);
        free(field);
        if (error) {
            return error;
        }
    }
    s->disks = xcalloc(m->n_disks ? m->n_disks : 1, sizeof *s->disks);
    for (size_t i = 0; i < m->n_disks; i++) {
        s->n_disks++;
        char *field = xasprintf("spec.disks[%zu]", i);
        struct lq_error *error = parse_disk(m->disks[i], field, &s->disks[i]);
        free(field);
        if (error) {
            return error;
        }
    }
    return NULL;
}

/* The seed's parts as given ("" left out); lq_vm_spec_validate() checks
 * them. */
static struct lq_cloud_init *
parse_cloud_init(const CloudInitSpec *m)
{
    struct lq_cloud_init *ci = xzalloc(sizeof *ci);
    ci->user_data = opt_string(m->user_data);
    ci->meta_data = opt_string(m->meta_data);
    ci->network_config = opt_string(m->network_config);
    ci->ssh_keys = xcalloc(m->n_ssh_authorized_keys + 1,
                           sizeof *ci->ssh_keys);
    for (size_t i = 0; i < m->n_ssh_authorized_keys; i++) {
        ci->ssh_keys[i] = xstrdup(m->ssh_authorized_keys[i]);
    }
    ci->n_ssh_keys = m->n_ssh_authorized_keys;
    ci->hostname = opt_string(m->hostname);
    ci->user = opt_string(m->user);
    ci->password = opt_string(m->password);
    ci->password_hash = opt_string(m->password_hash);
    return ci;
}

static struct lq_error *
parse_spec(const VMSpec *m, struct lq_vm_spec *s)
{
    struct lq_error *error = parse_cpu(m, s);
    if (error) {
        return error;
    }
    s->kernel_path = opt_string(m->kernel_path);
    s->initrd_path = opt_string(m->initrd_path);
    s->kernel_cmdline = opt_string(m->kernel_cmdline);
    s->serial_log = m->serial_log;
    /* The seed's ConsoleSpec: SPICE when asked for (it wins over VNC: a
     * VM has one console); the ports are not used, nothing listens. */
    s->spice = m->console && m->console->spice_enabled;
    if (m->cloud_init) {
        s->cloud_init = parse_cloud_init(m->cloud_init);
    }
    error = parse_boot(m, s);
    return error ? error : parse_devices(m, s);
}

struct lq_error *
lq_rpc_vm_parse_create(const ProtobufCMessage *msg, struct lq_vm_spec *s)
{
    const CreateVMOnNodeRequest *m = (const CreateVMOnNodeRequest *) msg;
    /* The contract's vmId: the control plane's id, by which CreateVM is
     * idempotent. */
    struct lq_error *error = rpc_check_uuid(m->vm_id, "vmId", false, s->id);
    if (error) {
        return error;
    }
    if (!s->id[0]) {
        /* No id at all: one is made up, and a retry makes another VM. */
        struct uuid u;
        uuid_generate(&u);
        snprintf(s->id, sizeof s->id, UUID_FMT, UUID_ARGS(&u));
    }
    s->name = opt_string(m->name);
    if (!m->spec) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec: required");
    }
    if ((error = parse_spec(m->spec, s))) {
        return error;
    }
    for (size_t i = 0; i < m->n_labels; i++) {
        lq_vm_spec_add_label(s, m->labels[i]->key, m->labels[i]->value);
    }
    return NULL;
}

struct lq_error *
lq_rpc_compute_parse_create(const struct json *request, struct lq_vm_spec *s)
{
    ProtobufCMessage *m;
    struct lq_error *error = lq_pb_from_json(
        &limiquantix__node__v1__create_vmon_node_request__descriptor,
        request, 0, &m);
    if (!error) {
        error = lq_rpc_vm_parse_create(m, s);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return error;
}

/* ---- Replies ---------------------------------------------------------- */

static int
power_state(enum lq_vm_state state)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(
        &limiquantix__node__v1__power_state__descriptor,
        lq_vm_state_name(state));
    return v ? v->value : LIMIQUANTIX__NODE__V1__POWER_STATE__POWER_STATE_UNKNOWN;
}

static ResourceUsage *
usage_message(const struct lq_vm_usage *u)
{
    /* No cpuUsagePercent: one reading has no rate (StreamMetrics has it). */
    ResourceUsage *r
        = lq_pb_new(&limiquantix__node__v1__resource_usage__descriptor);
    r->cpu_time_ns = u->cpu_time_ns;
    r->memory_used_bytes = u->memory_used_bytes;
    r->memory_total_bytes = u->memory_total_bytes;
    r->disk_read_bytes = u->disk_read_bytes;
    r->disk_write_bytes = u->disk_write_bytes;
    r->network_rx_bytes = u->network_rx_bytes;
    r->network_tx_bytes = u->network_tx_bytes;
    return r;
}

static GuestInfo *
guest_message(const struct lq_guest_info *g)
{
    GuestInfo *r = lq_pb_new(&limiquantix__node__v1__guest_info__descriptor);
    r->agent_connected = g->agent_connected;
    r->hostname = lq_pb_str(g->hostname);
    r->os_id = lq_pb_str(g->os_id);
    r->os_name = lq_pb_str(g->os_name);
    r->os_version = lq_pb_str(g->os_version);
    r->kernel_release = lq_pb_str(g->kernel_release);
    r->timezone = lq_pb_str(g->timezone);
    r->interfaces = lq_pb_array(g->n_nics, sizeof *r->interfaces);
    for (size_t i = 0; i < g->n_nics; i++) {
        const struct lq_guest_nic *n = &g->nics[i];
        GuestInterface *gi
            = lq_pb_new(&limiquantix__node__v1__guest_interface__descriptor);
        gi->name = lq_pb_str(n->name);
        gi->mac_address = lq_pb_str(n->mac);
        gi->nic_id = lq_pb_str(n->nic_id);
        gi->ip_addresses = lq_pb_array(n->n_addresses,
                                       sizeof *gi->ip_addresses);
        for (size_t k = 0; k < n->n_addresses; k++) {
            gi->ip_addresses[gi->n_ip_addresses++]
                = lq_pb_str(n->addresses[k]);
        }
        r->interfaces[r->n_interfaces++] = gi;
    }
    return r;
}

static VMStatusResponse *
status_message(const struct lq_vm_status *st)
{
    VMStatusResponse *r
        = lq_pb_new(&limiquantix__node__v1__vmstatus_response__descriptor);
    r->vm_id = lq_pb_str(st->id);
    r->name = lq_pb_str(st->name);
    r->state = power_state(st->state);
    if (st->has_usage) {
        r->resource_usage = usage_message(&st->usage);
    }
    if (st->started_ms > 0) {
        r->started_at = (Google__Protobuf__Timestamp *)
                        lq_pb_timestamp_ms(st->started_ms);
    }
    r->serial_log_path = lq_pb_str(st->serial_log_path);
    if (st->has_guest) {
        r->guest = guest_message(&st->guest);
    }
    r->labels = lq_pb_array(st->n_labels, sizeof *r->labels);
    for (size_t i = 0; i < st->n_labels; i++) {
        r->labels[r->n_labels++] = (void *) lq_pb_map_entry(
            &limiquantix__node__v1__vmstatus_response__labels_entry__descriptor,
            st->labels[i].key, st->labels[i].value);
    }
    return r;
}

/* ---- Handlers --------------------------------------------------------- */

static struct lq_error *
create_vm(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req,
          ProtobufCMessage **responsep)
{
    struct lq_compute *c;
    struct lq_vm_spec spec;
    lq_vm_spec_init(&spec);
    struct lq_error *error = rpc_compute_get(&c);
    if (!error) {
        error = lq_rpc_vm_parse_create(req, &spec);
    }
    if (!error) {
        struct lq_vm_status st;
        bool created;
        error = lq_compute_create_vm(c, &spec, &st, &created);
        if (!error) {
            /* The contract's {vmId, created, message}, and ours: the VM's
             * status. */
            CreateVMOnNodeResponse *r = lq_pb_new(
                &limiquantix__node__v1__create_vmon_node_response__descriptor);
            r->vm_id = lq_pb_str(st.id);
            r->created = created;
            r->message = xasprintf(created ? "VM %s defined"
                                   : "VM %s already exists with this spec",
                                   st.id);
            r->status = status_message(&st);
            *responsep = &r->base;
        }
        lq_vm_status_clear(&st);
    }
    lq_vm_spec_clear(&spec);
    return error;
}

/* {vmId} -> op -> google.protobuf.Empty (the contract's answer;
 * GetVMStatus tells the state). */
static struct lq_error *
vm_op(const ProtobufCMessage *req,
      struct lq_error *(*op)(struct lq_compute *, const char *))
{
    struct lq_compute *c;
    char id[37];
    struct lq_error *error = rpc_vm_target(((const VMIdRequest *) req)->vm_id, &c,
                                       id);
    return error ? error : op(c, id);
}

#define VM_OP_HANDLER(NAME, FUNC)                                       \
    static struct lq_error *                                            \
    NAME(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req,  \
         ProtobufCMessage **responsep OVS_UNUSED)                       \
    {                                                                   \
        return vm_op(req, FUNC);                                        \
    }

VM_OP_HANDLER(start_vm, lq_compute_start_vm)
VM_OP_HANDLER(force_stop_vm, lq_compute_force_stop_vm)
VM_OP_HANDLER(reboot_vm, lq_compute_reboot_vm)
VM_OP_HANDLER(pause_vm, lq_compute_pause_vm)
VM_OP_HANDLER(resume_vm, lq_compute_resume_vm)
VM_OP_HANDLER(delete_vm, lq_compute_delete_vm)

/* The VMStatusResponse of VM 'id' into '*responsep'. */
static struct lq_error *
answer_status(struct lq_compute *c, const char *id,
              ProtobufCMessage **responsep)
{
    struct lq_vm_status st;
    struct lq_error *error = lq_compute_get_vm(c, id, &st);
    if (!error) {
        *responsep = &status_message(&st)->base;
    }
    lq_vm_status_clear(&st);
    return error;
}

static struct lq_error *
get_vm_status(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req,
              ProtobufCMessage **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_error *error = rpc_vm_target(((const VMIdRequest *) req)->vm_id, &c,
                                       id);
    return error ? error : answer_status(c, id, responsep);
}

static struct lq_error *
update_vm(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
          ProtobufCMessage **responsep)
{
    const Limiquantix__Node__V1__UpdateVMRequest *req = (const void *) req_;
    struct lq_compute *c;
    char id[37];
    struct lq_error *error = rpc_vm_target(req->vm_id, &c, id);
    if (!error) {
        struct lq_vm_update u = {
            .cores = req->cpu_cores, .memory_mib = req->memory_mib,
            .cloud_init = req->cloud_init ? parse_cloud_init(req->cloud_init)
                                          : NULL,
        };
        error = lq_compute_update_vm(c, id, &u);
        lq_cloud_init_free((struct lq_cloud_init *) u.cloud_init);
    }
    return error ? error : answer_status(c, id, responsep);
}

static struct lq_error *
resize_disk(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
            ProtobufCMessage **responsep)
{
    const Limiquantix__Node__V1__ResizeDiskRequest *req = (const void *) req_;
    struct lq_compute *c;
    char id[37];
    uint64_t size = 0;
    struct lq_error *error = rpc_vm_target(req->vm_id, &c, id);
    if (!error) {
        error = lq_compute_resize_disk(c, id, req->disk_id, req->size_bytes,
                                       &size);
    }
    if (!error) {
        Limiquantix__Node__V1__ResizeDiskResponse *r = lq_pb_new(
            &limiquantix__node__v1__resize_disk_response__descriptor);
        r->size_bytes = size;
        *responsep = &r->base;
    }
    return error;
}

static struct lq_error *
clone_vm(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
         ProtobufCMessage **responsep)
{
    const Limiquantix__Node__V1__CloneVMRequest *req = (const void *) req_;
    struct lq_compute *c;
    struct lq_clone_request r = { .name = req->name, .linked = req->linked };
    struct lq_error *error = rpc_compute_get(&c);
    if (!error) {
        error = rpc_check_uuid(req->source_vm_id, "sourceVmId", true,
                               r.source_id);
    }
    if (!error) {
        error = rpc_check_uuid(req->vm_id, "vmId", true, r.id);
    }
    if (!error && req->cloud_init) {
        r.cloud_init = parse_cloud_init(req->cloud_init);
    }
    struct lq_vm_status st;
    memset(&st, 0, sizeof st);
    bool created = false;
    if (!error) {
        error = lq_compute_clone_vm(c, &r, &st, &created);
    }
    if (!error) {
        CreateVMOnNodeResponse *resp = lq_pb_new(
            &limiquantix__node__v1__create_vmon_node_response__descriptor);
        resp->vm_id = lq_pb_str(st.id);
        resp->created = created;
        resp->message = xasprintf(created ? "VM %s cloned from %s"
                                  : "VM %s already is this clone of %s",
                                  st.id, r.source_id);
        resp->status = status_message(&st);
        *responsep = &resp->base;
    }
    lq_vm_status_clear(&st);
    lq_cloud_init_free(r.cloud_init);
    return error;
}

static struct lq_error *
set_guest_password(struct lq_node *node OVS_UNUSED,
                   const ProtobufCMessage *req_,
                   ProtobufCMessage **responsep OVS_UNUSED)
{
    const Limiquantix__Node__V1__SetGuestPasswordRequest *req = (const void *) req_;
    struct lq_compute *c;
    char id[37];
    struct lq_error *error = rpc_vm_target(req->vm_id, &c, id);
    return error ? error : lq_compute_set_guest_password(
        c, id, req->user, req->password, req->crypted);
}

static struct lq_error *
stop_vm(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
        ProtobufCMessage **responsep OVS_UNUSED)
{
    const StopVMRequest *req = (const StopVMRequest *) req_;
    struct lq_compute *c;
    char id[37];
    struct lq_error *error = rpc_vm_target(req->vm_id, &c, id);
    if (!error && req->timeout_seconds > MAX_STOP_TIMEOUT_S) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "timeoutSeconds: at most "
                             "%d", MAX_STOP_TIMEOUT_S);
    }
    if (!error) {
        error = lq_compute_stop_vm(c, id, req->timeout_seconds
                                   ? req->timeout_seconds
                                   : DEFAULT_STOP_TIMEOUT_S,
                                   req->graceful_only, NULL);
    }
    return error;
}

static struct lq_error *
list_vms(struct lq_node *node OVS_UNUSED,
         const ProtobufCMessage *req OVS_UNUSED, ProtobufCMessage **responsep)
{
    struct lq_compute *c;
    struct lq_vm_status *vms;
    size_t n;
    struct lq_error *error = rpc_compute_get(&c);
    if (!error) {
        error = lq_compute_list_vms(c, &vms, &n);
    }
    if (!error) {
        ListVMsOnNodeResponse *r = lq_pb_new(
            &limiquantix__node__v1__list_vms_on_node_response__descriptor);
        r->vms = lq_pb_array(n, sizeof *r->vms);
        for (size_t i = 0; i < n; i++) {
            r->vms[r->n_vms++] = status_message(&vms[i]);
        }
        lq_vm_status_free_array(vms, n);
        *responsep = &r->base;
    }
    return error;
}

static struct lq_error *
attach_disk(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
            ProtobufCMessage **responsep OVS_UNUSED)
{
    const AttachDiskRequest *req = (const AttachDiskRequest *) req_;
    struct lq_compute *c;
    char id[37];
    struct lq_disk_spec d;
    memset(&d, 0, sizeof d);
    struct lq_error *error = rpc_vm_target(req->vm_id, &c, id);
    if (!error) {
        error = req->disk ? parse_disk(req->disk, "disk", &d)
                : lq_error_new(LQ_INVALID_ARGUMENT, "disk: required");
    }
    if (!error) {
        error = lq_compute_attach_disk(c, id, &d);
    }
    lq_disk_spec_clear(&d);
    return error;
}

static struct lq_error *
attach_nic(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
           ProtobufCMessage **responsep OVS_UNUSED)
{
    const AttachNICRequest *req = (const AttachNICRequest *) req_;
    struct lq_compute *c;
    char id[37];
    struct lq_nic_spec n;
    memset(&n, 0, sizeof n);
    struct lq_error *error = rpc_vm_target(req->vm_id, &c, id);
    if (!error) {
        error = req->nic ? parse_nic(req->nic, "nic", &n)
                : lq_error_new(LQ_INVALID_ARGUMENT, "nic: required");
    }
    if (!error) {
        error = lq_compute_attach_nic(c, id, &n);
    }
    lq_nic_spec_clear(&n);
    return error;
}

/* DetachDisk {vmId, diskId} and DetachNIC {vmId, nicId}. */
static struct lq_error *
detach(const char *vm_id, const char *device, const char *field,
       struct lq_error *(*op)(struct lq_compute *, const char *,
                              const char *))
{
    struct lq_compute *c;
    char id[37];
    struct lq_error *error = rpc_vm_target(vm_id, &c, id);
    if (!error && !*device) {
        error = field_error(field, "required");
    }
    return error ? error : op(c, id, device);
}

static struct lq_error *
detach_disk(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
            ProtobufCMessage **responsep OVS_UNUSED)
{
    const DetachDiskRequest *req = (const DetachDiskRequest *) req_;
    return detach(req->vm_id, req->disk_id, "diskId",
                  lq_compute_detach_disk);
}

static struct lq_error *
detach_nic(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
           ProtobufCMessage **responsep OVS_UNUSED)
{
    const DetachNICRequest *req = (const DetachNICRequest *) req_;
    return detach(req->vm_id, req->nic_id, "nicId", lq_compute_detach_nic);
}

/* Where a caller reaches the console WebSocket: the API listener's TCP
 * address (the management IP when it listens on every address), "" and 0
 * without a TCP listener (the Unix socket only). */
static void
console_endpoint(const struct lq_node *node, char **hostp, uint32_t *portp)
{
    const struct lq_config *cfg = node ? lq_node_config(node) : NULL;
    const char *listen = cfg ? cfg->server.listen_address : NULL;
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    *hostp = xstrdup("");
    *portp = 0;
    if (!colon) {
        return;
    }
    char *host = xmemdup0(listen, colon - listen);
    if (host[0] == '[') {                       /* "[::1]:9090" */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    if (!*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::")) {
        const char *ip = lq_node_management_ip(node);
        free(host);
        host = xstrdup(ip ? ip : "");
    }
    free(*hostp);
    *hostp = host;
    *portp = atoi(colon + 1);
}

static struct lq_error *
get_console(struct lq_node *node, const ProtobufCMessage *req,
            ProtobufCMessage **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_vm_console con;
    struct lq_error *error = rpc_vm_target(((const VMIdRequest *) req)->vm_id, &c,
                                       id);
    if (!error) {
        error = lq_compute_get_console(c, id, &con);
    }
    if (!error) {
        ConsoleInfoResponse *r = lq_pb_new(
            &limiquantix__node__v1__console_info_response__descriptor);
        r->vm_id = lq_pb_str(id);
        r->type = lq_pb_str(con.type);
        console_endpoint(node, &r->host, &r->port);
        r->password = lq_pb_str(con.password);
        r->websocket_path = xasprintf(LQ_CONSOLE_WS_PATH "?token=%s",
                                      con.token);
        r->token_ttl_seconds = con.token_seconds;
        *responsep = &r->base;
    }
    return error;
}

static SnapshotResponse *
snapshot_message(const char *vm_id, const struct lq_vm_snapshot *sn)
{
    SnapshotResponse *r
        = lq_pb_new(&limiquantix__node__v1__snapshot_response__descriptor);
    r->snapshot_id = lq_pb_str(sn->id);
    r->vm_id = lq_pb_str(vm_id);
    r->name = lq_pb_str(sn->name);
    r->description = lq_pb_str(sn->description);
    r->created_at = (Google__Protobuf__Timestamp *)
                    lq_pb_timestamp_ms(sn->created * 1000);
    r->vm_state = power_state(sn->vm_state);
    r->parent_id = lq_pb_str(sn->parent_id);
    r->quiesced = sn->quiesced;
    r->disks = lq_pb_array(sn->n_disks, sizeof *r->disks);
    for (size_t i = 0; i < sn->n_disks; i++) {
        SnapshotDisk *d
            = lq_pb_new(&limiquantix__node__v1__snapshot_disk__descriptor);
        d->disk_id = lq_pb_str(sn->disks[i].id);
        d->volume_id = lq_pb_str(sn->disks[i].ref);
        r->disks[r->n_disks++] = d;
    }
    return r;
}

static struct lq_error *
create_snapshot(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
                ProtobufCMessage **responsep)
{
    const CreateSnapshotRequest *req = (const CreateSnapshotRequest *) req_;
    struct lq_compute *c;
    char id[37], snap_id[37];
    struct lq_vm_snapshot sn;
    memset(&sn, 0, sizeof sn);
    struct lq_error *error = rpc_vm_target(req->vm_id, &c, id);
    if (!error) {
        error = rpc_check_uuid(req->snapshot_id, "snapshotId", false, snap_id);
    }
    if (!error) {
        error = lq_compute_create_snapshot(c, id, snap_id[0] ? snap_id : NULL,
                                           *req->name ? req->name : NULL,
                                           *req->description
                                           ? req->description : NULL,
                                           req->quiesce, &sn);
    }
    if (!error) {
        *responsep = &snapshot_message(id, &sn)->base;
    }
    lq_vm_snapshot_clear(&sn);
    return error;
}

/* {vmId, snapshotId} for RevertSnapshot and DeleteSnapshot (the two
 * messages have the same fields). */
static struct lq_error *
snapshot_op(const char *vm_id, const char *snapshot_id,
            struct lq_error *(*op)(struct lq_compute *, const char *,
                                   const char *))
{
    struct lq_compute *c;
    char id[37], snap_id[37];
    struct lq_error *error = rpc_vm_target(vm_id, &c, id);
    if (!error) {
        error = rpc_check_uuid(snapshot_id, "snapshotId", true, snap_id);
    }
    return error ? error : op(c, id, snap_id);
}

static struct lq_error *
revert_snapshot(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
                ProtobufCMessage **responsep OVS_UNUSED)
{
    const RevertSnapshotRequest *req = (const RevertSnapshotRequest *) req_;
    return snapshot_op(req->vm_id, req->snapshot_id,
                       lq_compute_revert_snapshot);
}

static struct lq_error *
delete_snapshot(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
                ProtobufCMessage **responsep OVS_UNUSED)
{
    const DeleteSnapshotRequest *req = (const DeleteSnapshotRequest *) req_;
    return snapshot_op(req->vm_id, req->snapshot_id,
                       lq_compute_delete_snapshot);
}

static struct lq_error *
list_snapshots(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req,
               ProtobufCMessage **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_vm_snapshot *list = NULL;
    size_t n = 0;
    struct lq_error *error = rpc_vm_target(((const VMIdRequest *) req)->vm_id, &c,
                                       id);
    if (!error) {
        error = lq_compute_list_snapshots(c, id, &list, &n);
    }
    if (!error) {
        ListSnapshotsResponse *r = lq_pb_new(
            &limiquantix__node__v1__list_snapshots_response__descriptor);
        r->snapshots = lq_pb_array(n, sizeof *r->snapshots);
        for (size_t i = 0; i < n; i++) {
            r->snapshots[r->n_snapshots++] = snapshot_message(id, &list[i]);
        }
        *responsep = &r->base;
    }
    lq_vm_snapshot_free_array(list, n);
    return error;
}

static const struct lq_rpc_method vm_methods[] = {
    LQ_RPC_PB_METHOD(NODE_SERVICE, "CreateVM", create_vm, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "StartVM", start_vm, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "StopVM", stop_vm, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "ForceStopVM", force_stop_vm, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "RebootVM", reboot_vm, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "PauseVM", pause_vm, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "ResumeVM", resume_vm, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "DeleteVM", delete_vm, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "GetVMStatus", get_vm_status, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "ListVMs", list_vms, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "AttachDisk", attach_disk, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "DetachDisk", detach_disk, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "AttachNIC", attach_nic, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "DetachNIC", detach_nic, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "GetConsole", get_console, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "SetGuestPassword", set_guest_password,
                     true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "UpdateVM", update_vm, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "ResizeDisk", resize_disk, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "CloneVM", clone_vm, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "CreateSnapshot", create_snapshot, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "RevertSnapshot", revert_snapshot, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "DeleteSnapshot", delete_snapshot, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "ListSnapshots", list_snapshots, true),
};

void
lq_rpc_vm_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, vm_methods, ARRAY_SIZE(vm_methods));
}
