#include <config.h>
/* devices.c: hot-plug of disks and NICs, and the console (see
 * limiquantix/compute.h).
 *
 * Design decisions:
 * - Every device we add carries a user alias (ua-lqd-<disk id>,
 *   ua-lqn-<nic id>), so unplugging names it instead of re-deriving its
 *   XML, and our metadata lists what is attached (volume and port ids),
 *   rewritten with each change.
 * - Changes go to the live domain when it runs and always to the
 *   persistent definition.  A live unplug is a request the guest honours:
 *   we wait (20 s) until the device is gone before the port is unbound or
 *   the volume offered to another VM.
 * - The console is VNC on 127.0.0.1 with a per-VM password generated at
 *   CreateVM; GetConsole reads it back with VIR_DOMAIN_XML_SECURE. */
#include "compute_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_devices);

/* ---- Hot-plug ----------------------------------------------------------- */

/* The values of 'xpath' (attributes) in 'xml'.  Caller frees the array
 * and its strings. */
static char **
xml_values(const char *xml, const char *xpath, size_t *np)
{
    char **values = NULL;
    *np = 0;
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR
                                  | XML_PARSE_NOWARNING);
    xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
    xmlXPathObjectPtr r = ctx ? xmlXPathEvalExpression(
        (const xmlChar *) xpath, ctx) : NULL;
    if (r && r->nodesetval) {
        values = xcalloc(r->nodesetval->nodeNr + 1, sizeof *values);
        for (int i = 0; i < r->nodesetval->nodeNr; i++) {
            xmlChar *v = xmlNodeGetContent(r->nodesetval->nodeTab[i]);
            values[(*np)++] = xstrdup(v ? (const char *) v : "");
            xmlFree(v);
        }
    }
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return values;
}

static void
free_values(char **values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(values[i]);
    }
    free(values);
}

/* An IDE disk needs a machine type with IDE (not q35). */
static struct lq_error *
check_ide_machine(virDomainPtr dom, const char *id)
{
    char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    if (!xml) {
        return compute_virt_error("reading the definition of VM", id);
    }
    size_t n;
    char **machine = xml_values(xml, "/domain/os/type/@machine", &n);
    struct lq_error *e = n && lq_machine_is_q35(machine[0])
        ? lq_error_new(LQ_INVALID_ARGUMENT, "disk.bus: DISK_BUS_IDE, but VM "
                       "%s has machine type %s, which has no IDE controller "
                       "(use DISK_BUS_SATA)", id, machine[0])
        : NULL;
    free_values(machine, n);
    free(xml);
    return e;
}

/* The first free target ("vdb") for a new disk on 'bus', looking at both
 * the live and the persistent definition. */
static struct lq_error *
free_target(virDomainPtr dom, const char *id, enum lq_disk_bus bus,
            char dev[8])
{
    const char *prefix = lq_disk_target_prefix(bus);
    int slots = bus == LQ_DISK_BUS_IDE ? LQ_MAX_IDE_DISKS : 26;
    bool used[26] = { false };
    for (int pass = 0; pass < 2; pass++) {
        char *xml = virDomainGetXMLDesc(dom, pass ? VIR_DOMAIN_XML_INACTIVE
                                                  : 0);
        if (!xml) {
            return compute_virt_error("reading the definition of VM", id);
        }
        size_t n;
        char **devs = xml_values(xml, "/domain/devices/disk/target/@dev", &n);
        for (size_t i = 0; i < n; i++) {
            if (!strncmp(devs[i], prefix, 2) && strlen(devs[i]) == 3
                && devs[i][2] >= 'a' && devs[i][2] <= 'z') {
                used[devs[i][2] - 'a'] = true;
            }
        }
        free_values(devs, n);
        free(xml);
    }
    for (int i = 0; i < slots; i++) {
        if (!used[i]) {
            snprintf(dev, 8, "%s%c", prefix, 'a' + i);
            return NULL;
        }
    }
    return lq_error_new(LQ_RESOURCE_EXHAUSTED, "VM %s has no free %s disk "
                        "slot", id, prefix);
}

/* Live and persistent if the VM runs, else persistent only. */
struct lq_error *
compute_device_flags(virDomainPtr dom, const char *id, unsigned int *flagsp)
{
    int active = virDomainIsActive(dom);
    if (active < 0) {
        return compute_virt_error("reading the state of VM", id);
    }
    *flagsp = VIR_DOMAIN_AFFECT_CONFIG | (active ? VIR_DOMAIN_AFFECT_LIVE : 0);
    return NULL;
}

struct lq_error *
compute_save_metadata(virDomainPtr dom, const char *id,
              const struct lq_vm_metadata *m, unsigned int flags)
{
    char *xml = lq_vm_metadata_xml(m);
    int rc = xml ? virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml,
                                        "lq", LQ_COMPUTE_XMLNS, flags) : -1;
    free(xml);
    return rc < 0 ? compute_virt_error("updating the metadata of VM", id) : NULL;
}

/* Waits (live detach is a request the guest must honour) until no device
 * in the live definition has 'alias'. */
static struct lq_error *
wait_device_gone(virDomainPtr dom, const char *id, const char *alias)
{
    char *xpath = xasprintf("/domain/devices/*/alias[@name='%s']/@name",
                            alias);
    long long deadline = compute_now_ms() + 20000;
    struct lq_error *e = NULL;
    for (;;) {
        char *xml = virDomainGetXMLDesc(dom, 0);
        if (!xml) {
            e = compute_virt_error("reading the definition of VM", id);
            break;
        }
        size_t n;
        char **found = xml_values(xml, xpath, &n);
        free_values(found, n);
        free(xml);
        if (!n || virDomainIsActive(dom) != 1) {
            break;
        }
        if (compute_now_ms() > deadline) {
            e = lq_error_new(LQ_DEADLINE_EXCEEDED, "VM %s: the guest did not "
                             "release device %s in 20 s (it is gone from the "
                             "persistent definition)", id, alias);
            break;
        }
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    free(xpath);
    return e;
}

struct attach_aux {
    struct lq_compute *c;
    struct lq_disk_spec *disk;
    struct lq_nic_spec *nic;
    const char *device_id;      /* Detach. */
};

static struct lq_error *
attach_disk_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct attach_aux *aux = aux_;
    struct lq_disk_spec *d = aux->disk;
    struct lq_vm_metadata m;
    unsigned int flags = 0;
    char dev[8];
    char *xml = NULL;

    struct lq_error *e = compute_get_metadata(dom, id, &m);
    if (e) {
        return e;
    }
    for (size_t i = 0; i < m.n_disks; i++) {
        if (!strcmp(m.disks[i].id, d->id)) {
            /* Idempotent: the same disk again is a no-op. */
            bool same = d->volume_id && !strcmp(m.disks[i].ref, d->volume_id);
            lq_vm_metadata_clear(&m);
            return same ? NULL
                   : lq_error_new(LQ_ALREADY_EXISTS, "disk.id: VM %s already "
                                  "has a disk %s", id, d->id);
        }
    }
    if ((e = compute_device_flags(dom, id, &flags))) {
        goto out;
    }
    if (d->bus == LQ_DISK_BUS_IDE && flags & VIR_DOMAIN_AFFECT_LIVE) {
        /* QEMU cannot hot-plug IDE. */
        e = lq_error_new(LQ_FAILED_PRECONDITION, "disk.bus: an IDE disk "
                         "cannot be attached to a running VM (VM %s)", id);
        goto out;
    }
    if (d->bus == LQ_DISK_BUS_IDE && (e = check_ide_machine(dom, id))) {
        goto out;
    }
    /* A disk by size: its volume first, removed again on failure. */
    if (d->owned && (e = compute_make_owned_disk(aux->c, id, d, "disk"))) {
        goto out;
    }
    if ((e = compute_check_disk(virDomainGetConnect(dom), aux->c, id, d, "disk"))
        || (e = free_target(dom, id, d->bus, dev))) {
        goto undo;
    }
    xml = lq_disk_xml(d, dev);
    if (!xml || virDomainAttachDeviceFlags(dom, xml, flags) < 0) {
        e = compute_virt_error("attaching a disk to VM", id);
        goto undo;
    }
    lq_vm_metadata_add_owned(&m.disks, &m.n_disks, d->id, d->volume_id,
                             d->readonly, d->owned);
    e = compute_save_metadata(dom, id, &m, flags);
    if (!e) {
        VLOG_INFO("attached disk %s (%s) to VM %s as %s", d->id,
                  d->volume_id ? d->volume_id : d->path, id, dev);
    }
    goto out;
undo:
    if (d->owned) {
        lq_error_free(compute_delete_owned_volume(aux->c, d->volume_id));
    }
out:
    free(xml);
    lq_vm_metadata_clear(&m);
    return e;
}

struct lq_error *
lq_compute_attach_disk(struct lq_compute *c, const char *id,
                       struct lq_disk_spec *d)
{
    struct lq_error *e = compute_prepare_disk(c, id, d, "disk");
    if (!e) {
        e = lq_disk_spec_validate(d, "disk", false);
    }
    if (!e) {
        e = compute_resolve_disk_path(c, d, "disk");
    }
    if (e) {
        return e;
    }
    struct attach_aux aux = { .c = c, .disk = d };
    ovs_mutex_lock(&c->create_mutex);   /* Serializes the in-use checks. */
    e = compute_with_vm(c, id, attach_disk_op, &aux);
    ovs_mutex_unlock(&c->create_mutex);
    return e;
}

/* Detaches the device with our alias PREFIX-ID; removes it from 'list'. */
static struct lq_error *
detach_device(virDomainPtr dom, const char *id, const char *prefix,
              const char *device_id, struct lq_vm_metadata *m, bool disk)
{
    unsigned int flags = 0;
    struct lq_error *e = compute_device_flags(dom, id, &flags);
    if (e) {
        return e;
    }
    char *alias = xasprintf("%s-%s", prefix, device_id);
    if (virDomainDetachDeviceAlias(dom, alias, flags) < 0) {
        e = compute_virt_error("detaching a device from VM", id);
    } else if (flags & VIR_DOMAIN_AFFECT_LIVE) {
        e = wait_device_gone(dom, id, alias);
    }
    free(alias);
    if (!e) {
        lq_vm_metadata_remove(disk ? &m->disks : &m->nics,
                              disk ? &m->n_disks : &m->n_nics, device_id);
        e = compute_save_metadata(dom, id, m, flags);
    }
    return e;
}

const struct lq_vm_attachment *
compute_find_attachment(const struct lq_vm_attachment *a, size_t n,
                        const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(a[i].id, id)) {
            return &a[i];
        }
    }
    return NULL;
}

static struct lq_error *
detach_disk_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct attach_aux *aux = aux_;
    struct lq_vm_metadata m;
    struct lq_error *e = compute_get_metadata(dom, id, &m);
    if (!e && !compute_find_attachment(m.disks, m.n_disks, aux->device_id)) {
        e = lq_error_new(LQ_NOT_FOUND, "diskId: VM %s has no disk %s", id,
                         aux->device_id);
    }
    if (!e) {
        e = detach_device(dom, id, "ua-lqd", aux->device_id, &m, true);
    }
    if (!e) {
        VLOG_INFO("detached disk %s from VM %s", aux->device_id, id);
    }
    lq_vm_metadata_clear(&m);
    return e;
}

struct lq_error *
lq_compute_detach_disk(struct lq_compute *c, const char *id,
                       const char *disk_id)
{
    struct attach_aux aux = { .c = c, .device_id = disk_id };
    return compute_with_vm(c, id, detach_disk_op, &aux);
}

static struct lq_error *
attach_nic_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct attach_aux *aux = aux_;
    struct lq_nic_spec *n = aux->nic;
    struct lq_vm_metadata m;
    unsigned int flags = 0;
    char *xml = NULL;

    struct lq_error *e = compute_get_metadata(dom, id, &m);
    if (e) {
        return e;
    }
    const struct lq_vm_attachment *a = compute_find_attachment(
        m.nics, m.n_nics, n->id);
    if (a) {
        bool same = !strcmp(a->ref, n->port_id);
        lq_vm_metadata_clear(&m);
        if (!same) {
            return lq_error_new(LQ_ALREADY_EXISTS, "nic.id: VM %s already "
                                "has a NIC %s", id, n->id);
        }
        return virDomainIsActive(dom) == 1 && n->port_id[0]
               ? lq_port_bind(&aux->c->backends, n->port_id, id, 0) : NULL;
    }
    if ((e = compute_device_flags(dom, id, &flags))) {
        goto out;
    }
    /* A NIC by network: its port first, deleted again on failure. */
    if (n->owned && (e = compute_make_owned_nic(aux->c, id, n, "nic"))) {
        goto out;
    }
    if ((e = compute_check_nic(virDomainGetConnect(dom), aux->c, id, n,
                               "nic"))) {
        goto undo;
    }
    virDomainInfo info;
    unsigned int vcpus = virDomainGetInfo(dom, &info) == 0 ? info.nrVirtCpu
                                                           : 1;
    /* A vhost-user NIC's port first: QEMU waits for OVS to connect. */
    bool bind_first = n->vhost_socket && (flags & VIR_DOMAIN_AFFECT_LIVE);
    if (bind_first
        && (e = lq_port_bind(&aux->c->backends, n->port_id, id, 0))) {
        /* Refused: nothing was written (and the port may be bound to
         * someone else).  Timed out waiting for OVN: it was. */
        if (e->code == LQ_DEADLINE_EXCEEDED) {
            lq_error_free(lq_port_unbind(&aux->c->backends, n->port_id));
        }
        goto undo;
    }
    xml = lq_nic_xml(n, vcpus);
    if (!xml || virDomainAttachDeviceFlags(dom, xml, flags) < 0) {
        e = compute_virt_error("attaching a NIC to VM", id);
        if (bind_first) {
            lq_error_free(lq_port_unbind(&aux->c->backends, n->port_id));
        }
        goto undo;
    }
    lq_vm_metadata_add_owned(&m.nics, &m.n_nics, n->id, n->port_id, false,
                             n->owned);
    e = compute_save_metadata(dom, id, &m, flags);
    if (!e && (flags & VIR_DOMAIN_AFFECT_LIVE) && !bind_first
        && n->port_id[0]) {
        e = lq_port_bind(&aux->c->backends, n->port_id, id, 0);
    }
    if (!e) {
        VLOG_INFO("attached NIC %s (%s %s) to VM %s", n->id,
                  n->host_bridge ? "bridge" : "port",
                  n->host_bridge ? n->host_bridge : n->port_id, id);
    }
    goto out;
undo:
    if (n->owned) {
        lq_error_free(compute_delete_owned_port(aux->c, n->port_id));
    }
out:
    free(xml);
    lq_vm_metadata_clear(&m);
    return e;
}

struct lq_error *
lq_compute_attach_nic(struct lq_compute *c, const char *id,
                      struct lq_nic_spec *n)
{
    struct lq_error *e = compute_prepare_nic(c, id, n, "nic");
    if (!e) {
        e = lq_nic_spec_validate(n, "nic");
    }
    if (e) {
        return e;
    }
    struct attach_aux aux = { .c = c, .nic = n };
    ovs_mutex_lock(&c->create_mutex);
    e = compute_with_vm(c, id, attach_nic_op, &aux);
    ovs_mutex_unlock(&c->create_mutex);
    return e;
}

static struct lq_error *
detach_nic_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct attach_aux *aux = aux_;
    struct lq_vm_metadata m;
    char *port = NULL;
    bool owned = false;
    struct lq_error *e = compute_get_metadata(dom, id, &m);
    const struct lq_vm_attachment *a = e ? NULL
        : compute_find_attachment(m.nics, m.n_nics, aux->device_id);
    if (!e && !a) {
        e = lq_error_new(LQ_NOT_FOUND, "nicId: VM %s has no NIC %s", id,
                         aux->device_id);
    }
    if (!e) {
        port = xstrdup(a->ref);
        owned = a->owned;
        e = detach_device(dom, id, "ua-lqn", aux->device_id, &m, false);
    }
    if (!e && port[0]) {
        /* The node's own port (made from the NIC's network) goes with the
         * NIC; the caller's is only unbound. */
        e = owned ? compute_delete_owned_port(aux->c, port)
                  : lq_port_unbind(&aux->c->backends, port);
    }
    if (!e) {
        VLOG_INFO("detached NIC %s (port %s) from VM %s", aux->device_id,
                  port, id);
    }
    free(port);
    lq_vm_metadata_clear(&m);
    return e;
}

struct lq_error *
lq_compute_detach_nic(struct lq_compute *c, const char *id,
                      const char *nic_id)
{
    struct attach_aux aux = { .c = c, .device_id = nic_id };
    return compute_with_vm(c, id, detach_nic_op, &aux);
}

/* ---- Console ------------------------------------------------------------ */

struct console_aux {
    struct lq_compute *c;
    struct lq_vm_console *con;
};

static struct lq_error *
console_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct console_aux *aux = aux_;
    struct lq_vm_console *con = aux->con;
    if (virDomainIsActive(dom) != 1) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "vmId: VM %s is not "
                            "running: it has no console", id);
    }
    /* SECURE: the password is part of what GetConsole answers. */
    char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE);
    if (!xml) {
        return compute_virt_error("reading the console of VM", id);
    }
    size_t ng, npw;
    /* The first graphics device: the one virDomainOpenGraphicsFD(0)
     * connects to. */
    char **type = xml_values(xml, "/domain/devices/graphics[1]/@type", &ng);
    char **pw = xml_values(xml, "/domain/devices/graphics[1]/@passwd", &npw);
    struct lq_error *e = NULL;
    if (!ng || (strcmp(type[0], "vnc") && strcmp(type[0], "spice"))) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "vmId: VM %s has no VNC "
                         "or SPICE console", id);
    } else {
        memset(con, 0, sizeof *con);
        ovs_strlcpy(con->type, type[0], sizeof con->type);
        ovs_strlcpy(con->password, npw ? pw[0] : "", sizeof con->password);
        e = compute_console_token(aux->c, id, !strcmp(con->type, "spice"),
                                  con->token,
                                  &con->token_seconds);
    }
    free_values(type, ng);
    free_values(pw, npw);
    free(xml);
    return e;
}

struct lq_error *
lq_compute_get_console(struct lq_compute *c, const char *id,
                       struct lq_vm_console *con)
{
    struct console_aux aux = { c, con };
    return compute_with_vm(c, id, console_op, &aux);
}

/* ---- Metrics ------------------------------------------------------------ */

static unsigned long long
param_ull(const virTypedParameter *params, int n, const char *name)
{
    /* Counts are "uint", counters "ullong": take either. */
    unsigned long long v = 0;
    unsigned int u = 0;
    if (virTypedParamsGetULLong((virTypedParameterPtr) params, n, name, &v)
        == 1) {
        return v;
    }
    virTypedParamsGetUInt((virTypedParameterPtr) params, n, name, &u);
    return u;
}

static const char *
param_str(const virTypedParameter *params, int n, const char *name)
{
    const char *v = NULL;
    virTypedParamsGetString((virTypedParameterPtr) params, n, name, &v);
    return v ? v : "";
}

static struct lq_error *
metrics_op(virDomainPtr dom, const char *id, void *aux)
{
    struct lq_vm_metrics *mt = aux;
    struct lq_vm_metadata m;
    struct lq_error *e = compute_get_metadata(dom, id, &m);
    if (e) {
        return e;
    }
    memset(mt, 0, sizeof *mt);
    virDomainStatsRecordPtr *records = NULL;
    virDomainPtr doms[] = { dom, NULL };
    unsigned int stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL
                         | VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU
                         | VIR_DOMAIN_STATS_INTERFACE
                         | VIR_DOMAIN_STATS_BLOCK;
    if (virDomainListGetStats(doms, stats, &records, 0) < 1) {
        lq_vm_metadata_clear(&m);
        return compute_virt_error("reading the statistics of VM", id);
    }
    const virTypedParameter *p = records[0]->params;
    int np = records[0]->nparams;
    mt->cpu_time_ns = param_ull(p, np, "cpu.time");
    mt->vcpus = param_ull(p, np, "vcpu.current");
    mt->memory_kib = param_ull(p, np, "balloon.current");
    mt->memory_rss_kib = param_ull(p, np, "balloon.rss");

    /* Disks: libvirt names them by target; our id is the <serial>. */
    char *xml = virDomainGetXMLDesc(dom, 0);
    size_t n_dev = 0, n_serial = 0;
    char **devs = xml ? xml_values(xml, "/domain/devices/disk/target/@dev",
                                   &n_dev) : NULL;
    char **serials = xml ? xml_values(xml, "/domain/devices/disk/serial",
                                      &n_serial) : NULL;
    free(xml);
    unsigned long long count = param_ull(p, np, "block.count");
    mt->disks = xcalloc(count + 1, sizeof *mt->disks);
    for (unsigned long long i = 0; i < count; i++) {
        char key[64];
        snprintf(key, sizeof key, "block.%llu.name", i);
        const char *dev = param_str(p, np, key);
        const char *disk_id = NULL;
        for (size_t k = 0; k < n_dev && k < n_serial; k++) {
            if (!strcmp(devs[k], dev)) {
                disk_id = serials[k];
            }
        }
        if (!disk_id) {
            continue;
        }
        struct lq_vm_device_metrics *d = &mt->disks[mt->n_disks++];
        d->id = xstrdup(disk_id);
#define BLOCK(FIELD, NAME)                                              \
        snprintf(key, sizeof key, "block.%llu." NAME, i);               \
        d->FIELD = param_ull(p, np, key);
        BLOCK(rx_bytes, "rd.bytes");
        BLOCK(rx_ops, "rd.reqs");
        BLOCK(tx_bytes, "wr.bytes");
        BLOCK(tx_ops, "wr.reqs");
#undef BLOCK
    }
    free_values(devs, n_dev);
    free_values(serials, n_serial);

    /* NICs: libvirt names them by tap, which is derived from the port. */
    count = param_ull(p, np, "net.count");
    mt->nics = xcalloc(count + 1, sizeof *mt->nics);
    for (unsigned long long i = 0; i < count; i++) {
        char key[64];
        snprintf(key, sizeof key, "net.%llu.name", i);
        const char *tap = param_str(p, np, key);
        const char *nic_id = NULL;
        for (size_t k = 0; k < m.n_nics; k++) {
            char name[16];
            if (m.nics[k].ref[0]) {
                lq_nic_tap_name(m.nics[k].ref, name);
            } else {
                lq_nic_bridge_tap_name(id, m.nics[k].id, name);
            }
            if (!strcmp(name, tap)) {
                nic_id = m.nics[k].id;
            }
        }
        if (!nic_id) {
            continue;
        }
        struct lq_vm_device_metrics *d = &mt->nics[mt->n_nics++];
        d->id = xstrdup(nic_id);
#define NET(FIELD, NAME)                                                \
        snprintf(key, sizeof key, "net.%llu." NAME, i);                 \
        d->FIELD = param_ull(p, np, key);
        NET(rx_bytes, "rx.bytes");
        NET(rx_ops, "rx.pkts");
        NET(tx_bytes, "tx.bytes");
        NET(tx_ops, "tx.pkts");
        NET(drops, "rx.drop");
#undef NET
    }
    virDomainStatsRecordListFree(records);
    lq_vm_metadata_clear(&m);
    return NULL;
}

struct lq_error *
compute_domain_metrics(virDomainPtr dom, const char *id,
                       struct lq_vm_metrics *mt)
{
    return metrics_op(dom, id, mt);
}

struct lq_error *
lq_compute_get_metrics(struct lq_compute *c, const char *id,
                       struct lq_vm_metrics *mt)
{
    memset(mt, 0, sizeof *mt);
    return compute_with_vm(c, id, metrics_op, mt);
}

void
lq_vm_metrics_clear(struct lq_vm_metrics *mt)
{
    for (size_t i = 0; i < mt->n_disks; i++) {
        free(mt->disks[i].id);
    }
    for (size_t i = 0; i < mt->n_nics; i++) {
        free(mt->nics[i].id);
    }
    free(mt->disks);
    free(mt->nics);
    memset(mt, 0, sizeof *mt);
}
