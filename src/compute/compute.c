#include <config.h>
/* compute.c: the VM lifecycle on libvirt's C API (no virsh subprocesses).
 *
 * Design decisions:
 * - One virConnect per lq_compute, opened lazily and reopened when
 *   virConnectIsAlive() says libvirtd went away.  A mutex guards only that;
 *   each call takes its own reference (virConnectRef), because libvirt
 *   connections are thread-safe and a StopVM waiting for a guest must not
 *   hold up every other call.
 * - A domain is ours when it carries our <metadata> element; any other
 *   domain is invisible (not_found, skipped by ListVMs), so the node never
 *   touches VMs it did not create.
 * - libvirt errors are mapped once, where they come back: no domain ->
 *   not_found, operation invalid (wrong state) -> failed_precondition,
 *   RPC/connection failures -> unavailable, the rest -> internal.  Its
 *   default handler, which prints every error on stderr, is silenced.
 * - StopVM: ACPI power button, then polling the state until the
 *   deadline, then a forced power-off (gracefulOnly: deadline_exceeded
 *   with the VM still running).
 * - CreateVM is serialized in the process (create_mutex) so two identical
 *   requests racing cannot redefine each other's domain. */
#include "limiquantix/compute.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "openvswitch/thread.h"
#include "openvswitch/vlog.h"
#include "compute_impl.h"
#include "limiquantix/node.h"
#include "resolve.h"
#include "util.h"

#include <sys/random.h>

VLOG_DEFINE_THIS_MODULE(compute);


static struct lq_compute *default_compute;

static void
quiet_virt_error(void *opaque OVS_UNUSED, virErrorPtr e OVS_UNUSED)
{
    /* Errors are reported through lq_error; no stderr noise. */
}

struct lq_error *
lq_compute_create(const char *uri, struct lq_compute **cp)
{
    if (virInitialize() < 0) {
        *cp = NULL;
        return lq_error_new(LQ_INTERNAL, "cannot initialize libvirt");
    }
    virSetErrorFunc(NULL, quiet_virt_error);

    struct lq_compute *c = xzalloc(sizeof *c);
    c->uri = xstrdup(uri && *uri ? uri : "qemu:///system");
    ovs_mutex_init(&c->mutex);
    ovs_mutex_init(&c->create_mutex);
    smap_init(&c->migration_peers);
    sset_init(&c->bridges);
    c->virt_type = xstrdup("auto");
    c->kvm_usable = -1;
    compute_events_init(c);
    compute_migrations_init(c);
    compute_console_init(c);
    *cp = c;
    return NULL;
}

void
lq_compute_destroy(struct lq_compute *c)
{
    if (!c) {
        return;
    }
    if (default_compute == c) {
        default_compute = NULL;
    }
    compute_migrations_destroy(c);
    compute_console_destroy(c);
    if (c->conn) {
        compute_events_disconnecting(c, c->conn);
        virConnectClose(c->conn);
    }
    compute_events_destroy(c);
    ovs_mutex_destroy(&c->mutex);
    ovs_mutex_destroy(&c->create_mutex);
    free(c->backends.bridge);
    compute_files_clear(c);
    compute_platform_clear(c);
    smap_destroy(&c->migration_peers);
    sset_destroy(&c->bridges);
    free(c->uri);
    free(c);
}

void
lq_compute_set_backends(struct lq_compute *c, struct lq_storage *storage,
                        struct lq_network *network, const char *bridge)
{
    c->backends.storage = storage;
    c->backends.network = network;
    free(c->backends.bridge);
    c->backends.bridge = nullable_xstrdup(bridge);
}

const char *
lq_compute_uri(const struct lq_compute *c)
{
    return c->uri;
}

void
lq_compute_set_default(struct lq_compute *c)
{
    default_compute = c;
}

struct lq_compute *
lq_compute_get_default(void)
{
    return default_compute;
}

/* ---- Errors and the connection ------------------------------------------ */

static enum lq_code
virt_code(const virError *e)
{
    if (!e) {
        return LQ_INTERNAL;
    }
    if (e->domain == VIR_FROM_RPC || e->domain == VIR_FROM_REMOTE) {
        return LQ_UNAVAILABLE;
    }
    switch (e->code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_METADATA:
        return LQ_NOT_FOUND;
    case VIR_ERR_OPERATION_INVALID:
        return LQ_FAILED_PRECONDITION;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
        return LQ_UNAVAILABLE;
    case VIR_ERR_OPERATION_TIMEOUT:
        return LQ_DEADLINE_EXCEEDED;
    case VIR_ERR_NO_SUPPORT:
        return LQ_UNIMPLEMENTED;
    default:
        return LQ_INTERNAL;
    }
}

/* An lq_error from libvirt's last error in this thread: "WHAT: message". */
struct lq_error *
compute_virt_error(const char *what, const char *id)
{
    const virError *e = virGetLastError();
    enum lq_code code = virt_code(e);
    const char *msg = e && e->message ? e->message : "unknown libvirt error";
    if (code == LQ_INTERNAL || code == LQ_UNAVAILABLE) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
        VLOG_WARN_RL(&rl, "%s %s: %s", what, id ? id : "", msg);
    }
    return id ? lq_error_new(code, "%s %s: %s", what, id, msg)
              : lq_error_new(code, "%s: %s", what, msg);
}

static int
virt_last_code(void)
{
    const virError *e = virGetLastError();
    return e ? e->code : VIR_ERR_OK;
}

/* A new reference to the connection, (re)opened if needed.  The caller
 * drops it with virConnectClose(). */
struct lq_error *
compute_get_conn(struct lq_compute *c, virConnectPtr *connp)
{
    struct lq_error *error = NULL;

    ovs_mutex_lock(&c->mutex);
    if (c->conn && virConnectIsAlive(c->conn) != 1) {
        VLOG_INFO("libvirt connection to %s lost; reconnecting", c->uri);
        compute_events_disconnecting(c, c->conn);
        virConnectClose(c->conn);
        c->conn = NULL;
    }
    if (!c->conn) {
        c->conn = virConnectOpen(c->uri);
        if (!c->conn) {
            const virError *e = virGetLastError();
            error = lq_error_new(LQ_UNAVAILABLE, "cannot connect to libvirt "
                                 "at %s: %s", c->uri,
                                 e && e->message ? e->message : "unknown");
        } else {
            VLOG_INFO("connected to libvirt at %s", c->uri);
            compute_events_connected(c, c->conn);
        }
    }
    if (c->conn) {
        virConnectRef(c->conn);
        *connp = c->conn;
    }
    ovs_mutex_unlock(&c->mutex);
    return error;
}

/* Our metadata of 'dom', or not_found if the domain is not ours. */
struct lq_error *
compute_get_metadata(virDomainPtr dom, const char *id, struct lq_vm_metadata *m)
{
    memset(m, 0, sizeof *m);
    char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                     LQ_COMPUTE_XMLNS, 0);
    if (!xml) {
        if (virt_last_code() == VIR_ERR_NO_DOMAIN_METADATA) {
            return lq_error_new(LQ_NOT_FOUND, "vmId: no VM %s", id);
        }
        return compute_virt_error("reading the metadata of VM", id);
    }
    struct lq_error *error = lq_vm_metadata_parse(xml, m);
    free(xml);
    return error;
}

/* The domain of our VM 'id'.  The caller frees it with virDomainFree(). */
static struct lq_error *
lookup_vm(virConnectPtr conn, const char *id, virDomainPtr *domp)
{
    *domp = virDomainLookupByUUIDString(conn, id);
    if (!*domp) {
        return virt_last_code() == VIR_ERR_NO_DOMAIN
               ? lq_error_new(LQ_NOT_FOUND, "vmId: no VM %s", id)
               : compute_virt_error("looking up VM", id);
    }
    struct lq_vm_metadata m;
    struct lq_error *error = compute_get_metadata(*domp, id, &m);
    lq_vm_metadata_clear(&m);
    if (error) {
        virDomainFree(*domp);
        *domp = NULL;
    }
    return error;
}

/* ---- Status ------------------------------------------------------------- */

const char *
lq_vm_state_name(enum lq_vm_state s)
{
    switch (s) {
    case LQ_VM_RUNNING: return "POWER_STATE_RUNNING";
    case LQ_VM_STOPPED: return "POWER_STATE_STOPPED";
    case LQ_VM_PAUSED: return "POWER_STATE_PAUSED";
    case LQ_VM_SHUTTING_DOWN: return "POWER_STATE_SHUTTING_DOWN";
    case LQ_VM_CRASHED: return "POWER_STATE_CRASHED";
    case LQ_VM_SUSPENDED: return "POWER_STATE_SUSPENDED";
    case LQ_VM_UNKNOWN: default: return "POWER_STATE_UNKNOWN";
    }
}

enum lq_vm_state
compute_state_from_virt(int state)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
        return LQ_VM_RUNNING;
    case VIR_DOMAIN_PAUSED: return LQ_VM_PAUSED;
    case VIR_DOMAIN_SHUTDOWN: return LQ_VM_SHUTTING_DOWN;
    case VIR_DOMAIN_SHUTOFF: return LQ_VM_STOPPED;
    case VIR_DOMAIN_CRASHED: return LQ_VM_CRASHED;
    case VIR_DOMAIN_PMSUSPENDED: return LQ_VM_SUSPENDED;
    default: return LQ_VM_UNKNOWN;
    }
}

static struct lq_error *
get_state(virDomainPtr dom, const char *id, int *statep)
{
    int reason;
    return virDomainGetState(dom, statep, &reason, 0) < 0
           ? compute_virt_error("reading the state of VM", id) : NULL;
}

void
lq_vm_status_clear(struct lq_vm_status *s)
{
    if (s) {
        free(s->name);
        free(s->serial_log_path);
        for (size_t i = 0; i < s->n_labels; i++) {
            free(s->labels[i].key);
            free(s->labels[i].value);
        }
        free(s->labels);
        lq_guest_info_clear(&s->guest);
        memset(s, 0, sizeof *s);
    }
}

void
lq_vm_status_free_array(struct lq_vm_status *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lq_vm_status_clear(&a[i]);
    }
    free(a);
}

/* What a status says of a VM that runs (or is paused): since when, and
 * its counters.  'qemu_starts' holds compute_qemu_start_times() (read
 * here if NULL). */
static void
status_add_runtime(struct lq_compute *c, virDomainPtr dom,
                   struct lq_vm_status *s, const struct smap *qemu_starts)
{
    struct smap own = SMAP_INITIALIZER(&own);
    if (!qemu_starts) {
        compute_qemu_start_times(&own);
        qemu_starts = &own;
    }
    const char *ms = smap_get(qemu_starts, s->id);
    s->started_ms = ms ? strtoll(ms, NULL, 10)
                       : compute_events_started_ms(c, s->id);
    smap_destroy(&own);

    struct lq_vm_metrics mt;
    struct lq_error *e = compute_domain_metrics(dom, s->id, &mt);
    if (e) {
        lq_error_free(e);       /* Only the usage is missing then. */
        return;
    }
    struct lq_vm_usage *u = &s->usage;
    s->has_usage = true;
    u->cpu_time_ns = mt.cpu_time_ns;
    u->memory_used_bytes = mt.memory_rss_kib * 1024;
    /* Without balloon statistics (the test driver): the definition's. */
    u->memory_total_bytes = (mt.memory_kib ? mt.memory_kib
                             : virDomainGetMaxMemory(dom)) * 1024;
    for (size_t i = 0; i < mt.n_disks; i++) {
        u->disk_read_bytes += mt.disks[i].rx_bytes;
        u->disk_write_bytes += mt.disks[i].tx_bytes;
    }
    for (size_t i = 0; i < mt.n_nics; i++) {
        u->network_rx_bytes += mt.nics[i].rx_bytes;
        u->network_tx_bytes += mt.nics[i].tx_bytes;
    }
    lq_vm_metrics_clear(&mt);
}

/* Fills 's' from 'dom'; not_found if the domain is not ours.  With
 * 'runtime', a running VM's start time and usage too. */
static struct lq_error *
status_from_domain(struct lq_compute *c, virDomainPtr dom,
                   struct lq_vm_status *s, bool runtime,
                   const struct smap *qemu_starts)
{
    char id[VIR_UUID_STRING_BUFLEN];
    int state;

    memset(s, 0, sizeof *s);
    if (virDomainGetUUIDString(dom, id) < 0) {
        return compute_virt_error("reading a domain UUID", NULL);
    }
    struct lq_vm_metadata m;
    struct lq_error *error = compute_get_metadata(dom, id, &m);
    if (!error) {
        error = get_state(dom, id, &state);
    }
    if (!error) {
        ovs_strlcpy(s->id, id, sizeof s->id);
        s->name = xstrdup(virDomainGetName(dom));
        s->state = compute_state_from_virt(state);
        s->serial_log_path = compute_existing_serial_log(c, id);
        s->labels = m.labels;
        s->n_labels = m.n_labels;
        m.labels = NULL;
        m.n_labels = 0;
        if (runtime && state != VIR_DOMAIN_SHUTOFF
            && state != VIR_DOMAIN_CRASHED) {
            status_add_runtime(c, dom, s, qemu_starts);
        }
    }
    lq_vm_metadata_clear(&m);
    return error;
}

struct lq_error *
lq_compute_get_vm(struct lq_compute *c, const char *id,
                  struct lq_vm_status *s)
{
    virConnectPtr conn;
    virDomainPtr dom;

    memset(s, 0, sizeof *s);
    struct lq_error *error = compute_get_conn(c, &conn);
    if (error) {
        return error;
    }
    error = lookup_vm(conn, id, &dom);
    if (!error) {
        error = status_from_domain(c, dom, s, true, NULL);
        if (!error && s->state == LQ_VM_RUNNING) {
            compute_guest_info(dom, s->id, &s->guest);
            s->has_guest = true;
        }
        virDomainFree(dom);
    }
    virConnectClose(conn);
    return error;
}

static int
compare_status(const void *a_, const void *b_)
{
    const struct lq_vm_status *a = a_, *b = b_;
    return strcmp(a->id, b->id);
}

/* Our VMs; with 'runtime' the running ones' start times and usage. */
static struct lq_error *
list_vms(struct lq_compute *c, struct lq_vm_status **vmsp, size_t *np,
         bool runtime)
{
    virConnectPtr conn;
    virDomainPtr *doms = NULL;

    *vmsp = NULL;
    *np = 0;
    struct lq_error *error = compute_get_conn(c, &conn);
    if (error) {
        return error;
    }
    int n = virConnectListAllDomains(conn, &doms, 0);
    if (n < 0) {
        error = compute_virt_error("listing domains", NULL);
    }
    struct lq_vm_status *vms = n > 0 ? xcalloc(n, sizeof *vms) : NULL;
    size_t n_vms = 0;
    struct smap qemu_starts = SMAP_INITIALIZER(&qemu_starts);
    if (runtime && n > 0) {
        compute_qemu_start_times(&qemu_starts);     /* One pass for all. */
    }
    for (int i = 0; i < n; i++) {
        struct lq_error *e = status_from_domain(c, doms[i], &vms[n_vms],
                                                runtime, &qemu_starts);
        if (!e) {
            n_vms++;
        } else if (e->code != LQ_NOT_FOUND) {
            /* A domain that vanished meanwhile is simply not listed. */
            if (!error) {
                error = e;
                e = NULL;
            }
        }
        lq_error_free(e);
        virDomainFree(doms[i]);
    }
    free(doms);
    smap_destroy(&qemu_starts);
    virConnectClose(conn);
    if (error) {
        lq_vm_status_free_array(vms, n_vms);
        return error;
    }
    if (n_vms) {
        qsort(vms, n_vms, sizeof *vms, compare_status);
    }
    *vmsp = vms;
    *np = n_vms;
    return NULL;
}

struct lq_error *
lq_compute_list_vms(struct lq_compute *c, struct lq_vm_status **vmsp,
                    size_t *np)
{
    return list_vms(c, vmsp, np, true);
}

struct lq_error *
lq_compute_list_vms_brief(struct lq_compute *c, struct lq_vm_status **vmsp,
                          size_t *np)
{
    return list_vms(c, vmsp, np, false);
}

/* ---- Attachments -------------------------------------------------------- */

/* 8 characters for the VNC password (the protocol's limit). */
void
compute_random_password(char out[9])
{
    static const char chars[] = "abcdefghijkmnpqrstuvwxyz"
                                "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint8_t r[8];
    if (getrandom(r, sizeof r, 0) != sizeof r) {
        ovs_fatal(errno, "getrandom");
    }
    for (int i = 0; i < 8; i++) {
        out[i] = chars[r[i] % (sizeof chars - 1)];
    }
    out[8] = '\0';
}

/* What the other VMs of ours hold: read once per CreateVM or hot-plug,
 * then every disk and NIC of the request is checked against it. */
struct other_vms {
    char (*ids)[VIR_UUID_STRING_BUFLEN];
    struct lq_vm_metadata *meta;
    size_t n;
};

static struct lq_error *
other_vms_load(virConnectPtr conn, const char *self, struct other_vms *o)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);
    memset(o, 0, sizeof *o);
    if (n < 0) {
        return compute_virt_error("listing VMs", NULL);
    }
    o->ids = xcalloc(n + 1, sizeof *o->ids);
    o->meta = xcalloc(n + 1, sizeof *o->meta);
    for (int i = 0; i < n; i++) {
        char *id = o->ids[o->n];
        if (virDomainGetUUIDString(doms[i], id) == 0 && strcmp(id, self)) {
            /* Not ours (no metadata): nothing of ours is attached. */
            struct lq_error *e = compute_get_metadata(doms[i], id,
                                                      &o->meta[o->n]);
            if (!e) {
                o->n++;
            } else {
                lq_vm_metadata_clear(&o->meta[o->n]);
                lq_error_free(e);
            }
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    return NULL;
}

static void
other_vms_clear(struct other_vms *o)
{
    for (size_t i = 0; i < o->n; i++) {
        lq_vm_metadata_clear(&o->meta[i]);
    }
    free(o->meta);
    free(o->ids);
}

/* The first other VM that has volume 'volume_id' (read-write if
 * 'rw_only'), or port 'port_id' (either may be NULL); NULL if none. */
static const char *
other_vms_user(const struct other_vms *o, const char *volume_id,
               bool rw_only, const char *port_id)
{
    for (size_t i = 0; i < o->n; i++) {
        const struct lq_vm_metadata *m = &o->meta[i];
        for (size_t k = 0; volume_id && k < m->n_disks; k++) {
            if (!strcmp(m->disks[k].ref, volume_id)
                && (!rw_only || !m->disks[k].readonly)) {
                return o->ids[i];
            }
        }
        for (size_t k = 0; port_id && k < m->n_nics; k++) {
            if (!strcmp(m->nics[k].ref, port_id)) {
                return o->ids[i];
            }
        }
    }
    return NULL;
}

/* A volume disk's source and secret; refused if another VM has the volume
 * and either of them writes to it. */
static struct lq_error *
check_disk(const struct other_vms *o, virConnectPtr conn,
           struct lq_compute *c, struct lq_disk_spec *d, const char *field)
{
    if (!d->volume_id) {
        return NULL;
    }
    const char *user = other_vms_user(o, d->volume_id, d->readonly, NULL);
    if (user) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "%s.%s: volume %s "
                            "is attached to VM %s%s", field,
                            d->volume_in_path ? "path" : "volumeId",
                            d->volume_id, user,
                            d->readonly ? " read-write" : "");
    }
    return lq_resolve_disk(&c->backends, conn, d, field);
}

static struct lq_error *
check_nic(const struct other_vms *o, struct lq_compute *c, const char *vm_id,
          struct lq_nic_spec *n, const char *field)
{
    if (!n->port_id[0]) {
        return NULL;            /* A plain bridge NIC: nothing to share. */
    }
    const char *user = other_vms_user(o, NULL, false, n->port_id);
    if (user) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "%s.portId: port %s is "
                            "used by VM %s", field, n->port_id, user);
    }
    return lq_resolve_nic(&c->backends, n, vm_id, field);
}

/* Checks and resolves the disks and NICs of VM 'vm_id': a new spec
 * ('indexed': errors name "spec.disks[i]"), or one device being
 * hot-plugged (errors name 'disk_field' / 'nic_field' as given). */
static struct lq_error *
check_devices(virConnectPtr conn, struct lq_compute *c, const char *vm_id,
              struct lq_disk_spec *disks, size_t n_disks,
              const char *disk_field, struct lq_nic_spec *nics,
              size_t n_nics, const char *nic_field, bool indexed)
{
    struct other_vms o;
    struct lq_error *e = other_vms_load(conn, vm_id, &o);
    for (size_t i = 0; !e && i < n_disks; i++) {
        char *field = indexed ? xasprintf("%s[%zu]", disk_field, i)
                              : xstrdup(disk_field);
        e = check_disk(&o, conn, c, &disks[i], field);
        free(field);
    }
    for (size_t i = 0; !e && i < n_nics; i++) {
        char *field = indexed ? xasprintf("%s[%zu]", nic_field, i)
                              : xstrdup(nic_field);
        e = check_nic(&o, c, vm_id, &nics[i], field);
        free(field);
    }
    other_vms_clear(&o);
    return e;
}

struct lq_error *
compute_check_disk(virConnectPtr conn, struct lq_compute *c, const char *vm_id,
                   struct lq_disk_spec *d, const char *field)
{
    return check_devices(conn, c, vm_id, d, 1, field, NULL, 0, NULL, false);
}

struct lq_error *
compute_check_nic(virConnectPtr conn, struct lq_compute *c, const char *vm_id,
                  struct lq_nic_spec *n, const char *field)
{
    return check_devices(conn, c, vm_id, NULL, 0, NULL, n, 1, field, false);
}

static struct lq_error *
check_attachments(virConnectPtr conn, struct lq_compute *c,
                  struct lq_vm_spec *spec)
{
    return check_devices(conn, c, spec->id, spec->disks, spec->n_disks,
                         "spec.disks", spec->nics, spec->n_nics,
                         "spec.nics", true);
}

/* Binds the ports of a VM's NICs (BindPort waits for OVN).  'memory_mib'
 * (0: none) is checked against free hugepages on the fast path.  With
 * 'undo', a failure unbinds the ports this call bound (and only those). */
static struct lq_error *
bind_ports(struct lq_compute *c, virDomainPtr dom, const char *id,
           uint64_t memory_mib, bool undo)
{
    struct lq_vm_metadata m;
    struct lq_error *e = compute_get_metadata(dom, id, &m);
    size_t bound = 0;
    while (!e && bound < m.n_nics) {
        if (m.nics[bound].ref[0]) {     /* Not a plain bridge NIC. */
            e = lq_port_bind(&c->backends, m.nics[bound].ref, id,
                             memory_mib);
        }
        bound += !e;
    }
    if (e && undo) {
        /* A refused binding wrote nothing (and its port may be another
         * VM's); one that timed out waiting for OVN was written. */
        if (e->code == LQ_DEADLINE_EXCEEDED) {
            bound++;
        }
        for (size_t i = 0; i < bound && i < m.n_nics; i++) {
            if (m.nics[i].ref[0]) {
                lq_error_free(lq_port_unbind(&c->backends, m.nics[i].ref));
            }
        }
    }
    lq_vm_metadata_clear(&m);
    return e;
}

static void
unbind_ports(struct lq_compute *c, virDomainPtr dom, const char *id)
{
    struct lq_vm_metadata m;
    if (compute_get_metadata(dom, id, &m)) {
        return;
    }
    for (size_t i = 0; i < m.n_nics; i++) {
        if (m.nics[i].ref[0]) {
            lq_error_free(lq_port_unbind(&c->backends, m.nics[i].ref));
        }
    }
    lq_vm_metadata_clear(&m);
}

/* ---- Create ------------------------------------------------------------- */

struct lq_error *
compute_check_name_free(virConnectPtr conn, const char *name)
{
    virDomainPtr dom = virDomainLookupByName(conn, name);
    if (dom) {
        char other[VIR_UUID_STRING_BUFLEN] = "";
        virDomainGetUUIDString(dom, other);
        virDomainFree(dom);
        return lq_error_new(LQ_ALREADY_EXISTS, "name: \"%s\" is used by VM "
                            "%s", name, other);
    }
    return NULL;
}

static struct lq_error *
create_locked(struct lq_compute *c, virConnectPtr conn,
              struct lq_vm_spec *spec, struct lq_vm_status *status,
              bool *createdp)
{
    struct lq_error *error;
    virDomainPtr dom = virDomainLookupByUUIDString(conn, spec->id);

    *createdp = false;
    if (dom) {
        /* Idempotent by id: the same spec returns the VM. */
        struct lq_vm_metadata m;
        char fp[41];
        error = compute_get_metadata(dom, spec->id, &m);
        if (error && error->code == LQ_NOT_FOUND) {
            lq_error_free(error);
            error = lq_error_new(LQ_ALREADY_EXISTS, "id: domain %s exists "
                                 "and is not managed by limiquantix",
                                 spec->id);
        }
        if (!error) {
            lq_vm_spec_fingerprint(spec, fp);
            if (strcmp(fp, m.fingerprint)) {
                error = lq_error_new(LQ_ALREADY_EXISTS, "id: VM %s exists "
                                     "with another spec", spec->id);
            }
        }
        lq_vm_metadata_clear(&m);
        if (!error && status) {
            error = status_from_domain(c, dom, status, true, NULL);
        }
        virDomainFree(dom);
        return error;
    } else if (virt_last_code() != VIR_ERR_NO_DOMAIN) {
        return compute_virt_error("looking up VM", spec->id);
    }

    /* More vCPUs than the host has threads: refused up front (QEMU would
     * only fail at start). */
    virNodeInfo node;
    uint64_t vcpus = (uint64_t) spec->cpu_sockets * spec->cpu_cores
                     * spec->cpu_threads;
    if (virNodeGetInfo(conn, &node) < 0) {
        return compute_virt_error("reading the host's CPUs", NULL);
    }
    if (vcpus > node.cpus) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cpuCores: %"PRIu64" "
                            "vCPUs (sockets x cores x threads) is more than "
                            "the %u CPUs of this host", vcpus, node.cpus);
    }

    error = compute_check_name_free(conn, spec->name);
    if (error) {
        return error;
    }

    error = compute_apply_platform(c, conn, spec);
    if (error) {
        return error;
    }
    uint64_t page_mib = lq_compute_hugepage_mib(&c->backends);
    spec->shared_hugepages = page_mib > 0;
    if (page_mib && spec->memory_mib % page_mib) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.memoryMib: %"PRIu64
                            " is not a multiple of %"PRIu64" MiB, the "
                            "hugepage size of this node's DPDK fast path",
                            spec->memory_mib, page_mib);
    }
    if (page_mib && spec->max_memory_mib > spec->memory_mib) {
        /* DIMMs would need their own shared hugepage backing, which
         * vhost-user's OVS mapping has not been tested with. */
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.maxMemoryMib: memory "
                            "hot-add is not offered on a node with the DPDK "
                            "fast path (hugepage-backed guests)");
    }

    /* From here on a failure removes the ports and volumes made for the
     * VM (compute_remove_owned()): nothing is left behind. */
    error = compute_make_owned(c, spec);
    if (error) {
        return error;
    }
    error = check_attachments(conn, c, spec);
    if (error) {
        compute_remove_owned(c, spec);
        return error;
    }
    char password[9];
    compute_random_password(password);
    char *xml = lq_domain_xml(spec, password);
    if (!xml) {
        compute_remove_owned(c, spec);
        return lq_error_new(LQ_INTERNAL, "cannot build the domain XML of VM "
                            "%s", spec->id);
    }
    error = compute_make_vm_files(c, spec);
    if (error) {
        free(xml);
        compute_remove_owned(c, spec);
        return error;
    }
    dom = virDomainDefineXMLFlags(conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
    if (!dom && virt_last_code() == VIR_ERR_INVALID_ARG) {
        dom = virDomainDefineXML(conn, xml);    /* Drivers without VALIDATE. */
    }
    free(xml);
    if (!dom) {
        error = compute_virt_error("defining VM", spec->id);
        compute_remove_vm_files(c, spec->id);
        compute_remove_owned(c, spec);
        return error;
    }
    VLOG_INFO("defined VM %s (%s)", spec->id, spec->name);
    *createdp = true;
    error = status ? status_from_domain(c, dom, status, false, NULL) : NULL;
    virDomainFree(dom);
    return error;
}

struct lq_error *
lq_compute_create_vm(struct lq_compute *c, struct lq_vm_spec *spec,
                     struct lq_vm_status *status, bool *createdp)
{
    virConnectPtr conn;
    bool created;

    if (status) {
        memset(status, 0, sizeof *status);
    }
    struct lq_error *error = compute_prepare_devices(c, spec);
    if (!error) {
        error = lq_vm_spec_validate(spec, false);
    }
    if (!error) {
        error = compute_resolve_files(c, spec);
    }
    if (!error) {
        error = compute_get_conn(c, &conn);
    }
    if (error) {
        return error;
    }
    ovs_mutex_lock(&c->create_mutex);
    error = create_locked(c, conn, spec, status, &created);
    ovs_mutex_unlock(&c->create_mutex);
    if (createdp) {
        *createdp = created;
    }
    virConnectClose(conn);
    return error;
}

/* ---- Lifecycle ---------------------------------------------------------- */

/* Runs 'op' on the domain of our VM 'id' with a connection held. */
struct lq_error *
compute_with_vm(struct lq_compute *c, const char *id,
        struct lq_error *(*op)(virDomainPtr, const char *id, void *aux),
        void *aux)
{
    virConnectPtr conn;
    virDomainPtr dom;
    struct lq_error *error = compute_get_conn(c, &conn);
    if (error) {
        return error;
    }
    error = lookup_vm(conn, id, &dom);
    if (!error) {
        error = op(dom, id, aux);
        virDomainFree(dom);
    }
    virConnectClose(conn);
    return error;
}

static struct lq_error *
start_op(virDomainPtr dom, const char *id, void *c_)
{
    struct lq_compute *c = c_;
    int active = virDomainIsActive(dom);
    if (active < 0) {
        return compute_virt_error("starting VM", id);
    }
    if (!active) {
        /* On the fast path the vhost-user ports come first: QEMU, their
         * server, waits for OVS to connect before it runs the guest, and
         * BindPort checks the hugepages before QEMU would fail on them. */
        bool fast = lq_compute_fast_path(&c->backends);
        if (fast) {
            struct lq_error *e = bind_ports(
                c, dom, id, virDomainGetMaxMemory(dom) / 1024, true);
            if (e) {
                return e;
            }
        }
        struct timespec t0;
        clock_gettime(CLOCK_REALTIME, &t0);
        if (virDomainCreate(dom) < 0) {
            struct lq_error *e = compute_virt_error("starting VM", id);
            if (fast) {
                unbind_ports(c, dom, id);
            }
            return e;
        }
        compute_events_note_started(c, id, t0.tv_sec * 1000LL
                                           + t0.tv_nsec / 1000000);
        VLOG_INFO("started VM %s", id);
    }
    /* Also when it was running: a retried StartVM finishes the binding. */
    return bind_ports(c, dom, id, 0, false);
}

struct lq_error *
lq_compute_start_vm(struct lq_compute *c, const char *id)
{
    return compute_with_vm(c, id, start_op, c);
}

long long
compute_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

struct stop_args {
    struct lq_compute *c;
    unsigned int timeout_s;
    bool graceful_only;
    bool forced;                /* Out: destroyed after all. */
};

/* StopVM's power-off of a guest that did not (or cannot) act on ACPI;
 * its STOPPED event says why. */
static struct lq_error *
stop_forced(virDomainPtr dom, const char *id, struct stop_args *a,
            const char *reason)
{
    compute_events_mark_forced(a->c, id, reason);
    if (virDomainDestroy(dom) < 0) {
        /* Already off: the guest powered off by itself meanwhile. */
        struct lq_error *error = virt_last_code() == VIR_ERR_OPERATION_INVALID
                                 ? NULL
                                 : compute_virt_error("force-stopping VM", id);
        compute_events_mark_forced(a->c, id, NULL);
        return error;
    }
    VLOG_WARN("VM %s forced off by StopVM (%s)", id,
              !strcmp(reason, "PAUSED") ? "it is paused"
              : "it did not power off in time");
    a->forced = true;
    return NULL;
}

/* Asks the guest to power off: through its guest agent when one listens
 * (it works for guests that ignore ACPI), else the ACPI power button
 * (libvirt falls back to it when the agent's request fails). */
static struct lq_error *
request_shutdown(virDomainPtr dom, const char *id, const char **howp)
{
    bool agent = compute_agent_connected(dom);
    unsigned int flags = VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN
                         | (agent ? VIR_DOMAIN_SHUTDOWN_GUEST_AGENT : 0);
    *howp = agent ? "guest agent" : "ACPI";
    if (virDomainShutdownFlags(dom, flags) < 0) {
        if (virt_last_code() != VIR_ERR_INVALID_ARG
            || virDomainShutdown(dom) < 0) {
            return compute_virt_error("shutting down VM", id);
        }
    }
    return NULL;
}

/* How often StopVM asks again while it waits, as Nova does: a guest can
 * miss a power-button press made before its ACPI driver loaded, and an
 * agent can start after the first request. */
#define SHUTDOWN_RETRY_MS 10000

static struct lq_error *
stop_op(virDomainPtr dom, const char *id, void *a_)
{
    struct stop_args *a = a_;
    int state;
    struct lq_error *error = get_state(dom, id, &state);
    if (error || state == VIR_DOMAIN_SHUTOFF) {
        return error;
    }
    if (state == VIR_DOMAIN_PAUSED) {
        return a->graceful_only
               ? lq_error_new(LQ_FAILED_PRECONDITION, "vmId: VM %s is "
                              "paused: a paused guest cannot act on an ACPI "
                              "shutdown (ResumeVM or ForceStopVM)", id)
               : stop_forced(dom, id, a, "PAUSED");
    }
    const char *how;
    if ((error = request_shutdown(dom, id, &how))) {
        return error;
    }
    VLOG_INFO("shutdown of VM %s requested through %s (timeout %u s)", id,
              how, a->timeout_s);

    long long deadline = compute_now_ms() + a->timeout_s * 1000LL;
    long long retry = compute_now_ms() + SHUTDOWN_RETRY_MS;
    for (;;) {
        if ((error = get_state(dom, id, &state))) {
            return error;
        }
        if (state == VIR_DOMAIN_SHUTOFF) {
            VLOG_INFO("VM %s powered off", id);
            return NULL;
        }
        if (compute_now_ms() >= deadline) {
            break;
        }
        if (compute_now_ms() >= retry) {
            const char *again;
            struct lq_error *e2 = request_shutdown(dom, id, &again);
            if (e2) {
                lq_error_free(e2);  /* Powered off meanwhile, probably. */
            } else if (strcmp(again, how)) {
                VLOG_INFO("shutdown of VM %s requested again, through %s",
                          id, again);
                how = again;
            }
            retry = compute_now_ms() + SHUTDOWN_RETRY_MS;
        }
        xnanosleep(100 * 1000 * 1000);
    }
    if (!a->graceful_only) {
        return stop_forced(dom, id, a, "TIMEOUT");
    }
    return lq_error_new(LQ_DEADLINE_EXCEEDED, "VM %s did not power off "
                        "within %u s of the shutdown request; it is "
                        "still %s (ForceStopVM stops it)", id, a->timeout_s,
                        lq_vm_state_name(compute_state_from_virt(state)));
}

struct lq_error *
lq_compute_stop_vm(struct lq_compute *c, const char *id,
                   unsigned int timeout_s, bool graceful_only, bool *forcedp)
{
    struct stop_args a = { c, timeout_s, graceful_only, false };
    struct lq_error *error = compute_with_vm(c, id, stop_op, &a);
    if (forcedp) {
        *forcedp = a.forced;
    }
    return error;
}

static struct lq_error *
force_stop_op(virDomainPtr dom, const char *id, void *aux OVS_UNUSED)
{
    int active = virDomainIsActive(dom);
    if (active < 0 || (active && virDomainDestroy(dom) < 0)) {
        /* Stopped meanwhile: the goal is reached. */
        return virt_last_code() == VIR_ERR_OPERATION_INVALID
               ? NULL : compute_virt_error("force-stopping VM", id);
    }
    if (active) {
        VLOG_INFO("force-stopped VM %s", id);
    }
    return NULL;
}

struct lq_error *
lq_compute_force_stop_vm(struct lq_compute *c, const char *id)
{
    return compute_with_vm(c, id, force_stop_op, NULL);
}

/* Drivers differ in how they refuse an operation on a stopped domain (the
 * test driver says "internal error"): check first. */
static struct lq_error *
require_active(virDomainPtr dom, const char *id, const char *what,
               int *statep)
{
    struct lq_error *error = get_state(dom, id, statep);
    if (!error && (*statep == VIR_DOMAIN_SHUTOFF
                   || *statep == VIR_DOMAIN_CRASHED)) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "vmId: VM %s is not "
                             "running; cannot %s it", id, what);
    }
    return error;
}

static struct lq_error *
reboot_op(virDomainPtr dom, const char *id, void *aux OVS_UNUSED)
{
    int state;
    struct lq_error *error = require_active(dom, id, "reboot", &state);
    if (error) {
        return error;
    }
    if (virDomainReboot(dom, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN) < 0) {
        if (virt_last_code() != VIR_ERR_INVALID_ARG
            || virDomainReboot(dom, 0) < 0) {
            return compute_virt_error("rebooting VM", id);
        }
    }
    return NULL;
}

struct lq_error *
lq_compute_reboot_vm(struct lq_compute *c, const char *id)
{
    return compute_with_vm(c, id, reboot_op, NULL);
}

static struct lq_error *
pause_op(virDomainPtr dom, const char *id, void *aux OVS_UNUSED)
{
    int state;
    struct lq_error *error = require_active(dom, id, "pause", &state);
    if (error || state == VIR_DOMAIN_PAUSED) {
        return error;
    }
    return virDomainSuspend(dom) < 0 ? compute_virt_error("pausing VM", id) : NULL;
}

struct lq_error *
lq_compute_pause_vm(struct lq_compute *c, const char *id)
{
    return compute_with_vm(c, id, pause_op, NULL);
}

static struct lq_error *
resume_op(virDomainPtr dom, const char *id, void *aux OVS_UNUSED)
{
    int state;
    struct lq_error *error = require_active(dom, id, "resume", &state);
    if (error || state == VIR_DOMAIN_RUNNING) {
        return error;
    }
    if (virDomainResume(dom) < 0) {
        return compute_virt_error("resuming VM", id);
    }
    /* The guest's clock stood still while it was paused. */
    compute_agent_sync_time(dom, id);
    return NULL;
}

struct lq_error *
lq_compute_resume_vm(struct lq_compute *c, const char *id)
{
    return compute_with_vm(c, id, resume_op, NULL);
}

static struct lq_error *
delete_op(virDomainPtr dom, const char *id, void *c_)
{
    struct lq_compute *c = c_;
    int active = virDomainIsActive(dom);
    if (active < 0) {
        return compute_virt_error("deleting VM", id);
    }
    if (active) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "vmId: VM %s is running;"
                            " stop it before deleting it", id);
    }
    struct lq_vm_metadata m;
    struct lq_error *error = compute_get_metadata(dom, id, &m);
    if (error) {
        return error;
    }
    /* First what the node made for the VM (owned="yes"): if that fails the
     * VM is still there and a retried DeleteVM finishes.  The volumes and
     * ports the caller named stay. */
    for (size_t i = 0; !error && i < m.n_disks; i++) {
        if (m.disks[i].owned && m.disks[i].ref[0]) {
            error = compute_delete_owned_volume(c, m.disks[i].ref);
        }
    }
    for (size_t i = 0; !error && i < m.n_nics; i++) {
        if (m.nics[i].owned && m.nics[i].ref[0]) {
            error = compute_delete_owned_port(c, m.nics[i].ref);
        }
    }
    if (error) {
        lq_vm_metadata_clear(&m);
        return lq_error_prefix(error, "deleting VM %s", id);
    }
    /* The domain, its NVRAM, managed-save image and snapshot metadata; the
     * disks stay (they belong to the volumes). */
    unsigned int flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                         | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                         | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
                         | VIR_DOMAIN_UNDEFINE_NVRAM;
    if (virDomainUndefineFlags(dom, flags) < 0) {
        /* A driver without NVRAM/checkpoints (test:///) has none to keep. */
        if (virt_last_code() != VIR_ERR_INVALID_ARG
            || virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                                      | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
               < 0) {
            lq_vm_metadata_clear(&m);
            return compute_virt_error("deleting VM", id);
        }
    }
    VLOG_INFO("deleted VM %s", id);
    compute_remove_vm_files(c, id);
    for (size_t i = 0; i < m.n_nics; i++) {
        if (!m.nics[i].ref[0] || m.nics[i].owned) {
            continue;           /* A bridge NIC; a port deleted above. */
        }
        struct lq_error *e = lq_port_unbind(&c->backends, m.nics[i].ref);
        if (e) {
            VLOG_WARN("VM %s deleted, but %s", id, e->message);
            lq_error_free(e);
        }
    }
    lq_vm_metadata_clear(&m);
    return NULL;
}

struct lq_error *
lq_compute_delete_vm(struct lq_compute *c, const char *id)
{
    struct lq_error *error = compute_with_vm(c, id, delete_op, c);
    if (error && error->code == LQ_NOT_FOUND) {
        lq_error_free(error);   /* Deleting what does not exist succeeds. */
        error = NULL;
    }
    return error;
}


/* ---- Health ------------------------------------------------------------- */

struct lq_error *
lq_compute_ping(struct lq_compute *c)
{
    virConnectPtr conn;
    struct lq_error *error = compute_get_conn(c, &conn);
    if (!error) {
        virConnectClose(conn);
    }
    return error;
}

/* The most vCPUs libvirt gives a guest: KVM's limit where KVM is, else
 * TCG's ("qemu"; drivers without types ignore it). */
static int
max_guest_vcpus(virConnectPtr conn)
{
    int n = virConnectGetMaxVcpus(conn, access("/dev/kvm", R_OK | W_OK)
                                        ? "qemu" : "kvm");
    return n > 0 ? n : 0;
}

/* VM snapshots are of volume disks: they need a pool for the volumes. */
static bool
has_pools(struct lq_storage *storage)
{
    struct lq_pool_status *pools;
    size_t n = 0;
    struct lq_error *e = storage ? lq_storage_list_pools(storage, &pools, &n)
                                 : NULL;
    if (e) {
        lq_error_free(e);
        return false;
    }
    if (storage) {
        lq_pool_status_free_array(pools, n);
    }
    return n > 0;
}

void
lq_compute_get_caps(void *c_, struct lq_hypervisor_caps *caps)
{
    struct lq_compute *c = c_;
    caps->live_migration = !smap_is_empty(&c->migration_peers);
    caps->snapshots = has_pools(c->backends.storage);
    caps->hotplug = true;
    caps->gpu_passthrough = false;      /* No host devices in a spec. */

    virConnectPtr conn;
    virNodeInfo node;
    struct lq_error *e = compute_get_conn(c, &conn);
    if (e) {
        lq_error_free(e);
        return;
    }
    compute_platform_caps(c, conn, caps);
    if (!virNodeGetInfo(conn, &node)) {
        int libvirt_max = max_guest_vcpus(conn);
        caps->max_vcpus = MIN(MIN(node.cpus, LQ_MAX_VCPUS),
                              libvirt_max ? libvirt_max : LQ_MAX_VCPUS);
        caps->max_memory_bytes = MIN((uint64_t) node.memory * 1024,
                                     (uint64_t) LQ_MAX_MEMORY_MIB << 20);
    }
    virConnectClose(conn);
}

struct lq_error *
lq_compute_count_running(struct lq_compute *c, unsigned int *np)
{
    *np = 0;
    struct lq_vm_status *vms;
    size_t n;
    struct lq_error *error = list_vms(c, &vms, &n, false);
    if (error) {
        return error;
    }
    for (size_t i = 0; i < n; i++) {
        *np += vms[i].state == LQ_VM_RUNNING;
    }
    lq_vm_status_free_array(vms, n);
    return NULL;
}
