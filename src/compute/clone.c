#include <config.h>
/* clone.c: CloneVM, a new VM like a stopped or paused one (issue 15).
 *
 * Design decisions:
 * - As virt-clone works: the source's persistent definition is copied
 *   (VIR_DOMAIN_XML_INACTIVE | SECURE) and edited, walking the elements
 *   (never XPath with caller strings), so every setting the source has
 *   (bus, cache, iotune, PCI addresses, boot order, CPU model) carries
 *   over without a second description of it here.  What must differ is
 *   replaced: uuid, name, our metadata, each volume disk's source and
 *   auth (what lq_disk_xml() writes for the new volume), each port NIC
 *   (what lq_nic_xml() writes for the new port, the old PCI address
 *   kept), a bridge NIC's MAC and tap, the VNC password, the serial log,
 *   the seed ISO; the NVRAM path and channel socket paths are dropped
 *   for libvirt to make new ones.
 * - One snapshot per volume disk, taken while the source cannot write
 *   (stopped, or paused: librbd flushes its cache for a snapshot), so
 *   the disks are consistent with each other.  A full clone (the
 *   default, as Proxmox's for a VM that is not a template) is flattened
 *   and its snapshot removed; a linked one keeps the snapshot as its
 *   base, so the source's volume cannot be deleted before the clone.
 * - Writable image files (path disks) are host files the node did not
 *   make and cannot copy safely: refused.  Read-only ones and CD-ROMs
 *   are shared, as they are between VMs already.
 * - New ports on the source ports' networks with their security groups
 *   (new MACs and addresses from IPAM); the new ids derive from (clone,
 *   device) like CreateVM's, so a retry finds them.
 * - The seed: a cloudInit in the request, or else the source's own seed
 *   read back (libisofs) with a new instance-id and local-hostname, so
 *   cloud-init treats the clone as a new instance (host keys, hostname)
 *   while keeping its user-data (and passwords, which only the ISO
 *   holds).
 * - Everything made is undone if a later step fails; the fingerprint of
 *   the request makes a retry return the clone. */
#include "compute_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "jsonx.h"
#include "limiquantix/network.h"
#include "limiquantix/storage.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "sha1.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_clone);

#define X(s) ((const xmlChar *) (s))
/* A flatten copies the whole volume: generous, but not forever. */
#define FLATTEN_TIMEOUT_MS (2 * 60 * 60 * 1000)

struct clone_disk {
    const struct lq_vm_attachment *src;     /* In the source's metadata. */
    xmlNodePtr node;                        /* Its <disk>. */
    char snapshot[37];                      /* Of the source volume. */
    char volume[37];                        /* The clone's. */
    bool snapshot_made, volume_made;
};

struct clone_nic {
    const struct lq_vm_attachment *src;
    xmlNodePtr node;                        /* Its <interface>. */
    char port[37];                          /* The clone's; "": bridge. */
    bool port_made;
};

struct clone {
    struct lq_compute *c;
    const struct lq_clone_request *req;
    virConnectPtr conn;
    struct lq_vm_metadata src_meta;
    xmlDocPtr doc;
    struct clone_disk *disks;
    size_t n_disks;
    struct clone_nic *nics;
    size_t n_nics;
    xmlNodePtr seed_drive;                  /* The cidata CD-ROM, or NULL. */
    struct lq_cidata_files seed;
    bool files_made;
};

/* ---- XML helpers -------------------------------------------------------- */



/* The user alias of device 'n' ("ua-lqd-root"), or NULL. */
static char *
alias_of(xmlNodePtr n)
{
    return compute_xml_prop(compute_xml_child(n, "alias"), "name");
}

static void
remove_children(xmlNodePtr n, const char *name)
{
    xmlNodePtr child;
    while ((child = compute_xml_child(n, name))) {
        xmlUnlinkNode(child);
        xmlFreeNode(child);
    }
}

static void
set_child_text(xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr n = compute_xml_child(parent, name);
    if (n) {
        xmlNodeSetContent(n, NULL);
        xmlNodeAddContent(n, X(text));
    }
}

/* The root element of 'xml' (from our own writers) copied into 'doc'. */
static xmlNodePtr
import_element(xmlDocPtr doc, const char *xml)
{
    xmlDocPtr d = xml ? xmlReadMemory(xml, strlen(xml), NULL, NULL,
                                      XML_PARSE_NONET) : NULL;
    xmlNodePtr copy = d ? xmlDocCopyNode(xmlDocGetRootElement(d), doc, 1)
                        : NULL;
    xmlFreeDoc(d);
    return copy;
}

/* ---- The request -------------------------------------------------------- */

void
lq_clone_request_fingerprint(const struct lq_clone_request *r, char hex[41])
{
    struct ds ds = DS_EMPTY_INITIALIZER;
    ds_put_format(&ds, "lq-clone-1;%s;%s;%zu:%s;%d;", r->source_id, r->id,
                  strlen(r->name), r->name, r->linked);
    lq_cloud_init_fingerprint(r->cloud_init, &ds);
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_bytes(ds.string, ds.length, digest);
    sha1_to_hex(digest, hex);
    ds_destroy(&ds);
}

static struct lq_error *
check_request(const struct lq_clone_request *r)
{
    if (!strcmp(r->source_id, r->id)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "vmId: the clone needs an "
                            "id of its own, not sourceVmId's");
    }
    struct lq_error *e = lq_vm_name_check(r->name);
    if (e || !r->cloud_init) {
        return e;
    }
    return lq_cloud_init_validate_request(r->id, r->cloud_init);
}

/* ---- Reading the source ------------------------------------------------- */

/* The clone already exists (a retry) or its name is taken. */
static struct lq_error *
check_clone_absent(struct clone *cl, bool *existsp)
{
    const struct lq_clone_request *r = cl->req;
    virDomainPtr dom = virDomainLookupByUUIDString(cl->conn, r->id);
    *existsp = false;
    if (dom) {
        struct lq_vm_metadata m;
        char fp[41];
        struct lq_error *e = compute_get_metadata(dom, r->id, &m);
        virDomainFree(dom);
        if (e && e->code == LQ_NOT_FOUND) {
            lq_error_free(e);
            return lq_error_new(LQ_ALREADY_EXISTS, "vmId: domain %s exists "
                                "and is not managed by limiquantix", r->id);
        }
        lq_clone_request_fingerprint(r, fp);
        if (!e && strcmp(fp, m.fingerprint)) {
            e = lq_error_new(LQ_ALREADY_EXISTS, "vmId: VM %s exists and is "
                             "not this clone of %s", r->id, r->source_id);
        }
        lq_vm_metadata_clear(&m);
        *existsp = !e;
        return e;
    }
    return compute_check_name_free(cl->conn, r->name);
}

/* The source's metadata and persistent XML, if it is ours and cannot
 * write to its disks. */
static struct lq_error *
read_source(struct clone *cl)
{
    const char *id = cl->req->source_id;
    virDomainPtr dom = virDomainLookupByUUIDString(cl->conn, id);
    if (!dom) {
        return lq_error_new(LQ_NOT_FOUND, "sourceVmId: no VM %s", id);
    }
    struct lq_error *e = compute_get_metadata(dom, id, &cl->src_meta);
    if (e && e->code == LQ_NOT_FOUND) {
        lq_error_free(e);
        e = lq_error_new(LQ_NOT_FOUND, "sourceVmId: VM %s is not managed "
                         "by limiquantix", id);
    }
    int state = VIR_DOMAIN_NOSTATE;
    if (!e && virDomainGetState(dom, &state, NULL, 0) < 0) {
        e = compute_virt_error("reading the state of VM", id);
    }
    if (!e && state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_PAUSED) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "sourceVmId: VM %s is "
                         "running: stop or pause it first (its disks must "
                         "not change while they are cloned)", id);
    }
    char *xml = NULL;
    if (!e) {
        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE
                                       | VIR_DOMAIN_XML_SECURE);
        if (!xml) {
            e = compute_virt_error("reading the definition of VM", id);
        }
    }
    if (!e) {
        cl->doc = xmlReadMemory(xml, strlen(xml), NULL, NULL,
                                XML_PARSE_NONET);
        if (!cl->doc) {
            e = lq_error_new(LQ_INTERNAL, "cannot parse the definition of "
                             "VM %s", id);
        }
    }
    free(xml);
    virDomainFree(dom);
    return e;
}

static const struct lq_vm_attachment *
find_by_alias(const struct lq_vm_attachment *a, size_t n, const char *alias,
              const char *prefix)
{
    size_t len = strlen(prefix);
    return alias && !strncmp(alias, prefix, len)
           ? compute_find_attachment(a, n, alias + len) : NULL;
}

static struct lq_error *
plan_disk(struct clone *cl, xmlNodePtr n)
{
    char *alias = alias_of(n);
    struct lq_error *e = NULL;
    if (alias && !strcmp(alias, "ua-lq-cidata")) {
        cl->seed_drive = n;
    } else if (compute_xml_prop_is(n, "device", "disk")) {
        const struct lq_vm_attachment *a = find_by_alias(
            cl->src_meta.disks, cl->src_meta.n_disks, alias, "ua-lqd-");
        if (a && a->ref[0]) {
            cl->disks = xrealloc(cl->disks,
                                 (cl->n_disks + 1) * sizeof *cl->disks);
            struct clone_disk *d = &cl->disks[cl->n_disks++];
            memset(d, 0, sizeof *d);
            d->src = a;
            d->node = n;
            lq_vm_device_id(cl->req->id, "clone-snapshot", a->id,
                            d->snapshot);
            lq_vm_device_id(cl->req->id, "disk", a->id, d->volume);
        } else if (!compute_xml_child(n, "readonly")) {
            e = lq_error_new(LQ_FAILED_PRECONDITION, "sourceVmId: disk %s "
                             "of VM %s is a writable image file, which a "
                             "clone cannot share and the node does not copy",
                             a ? a->id : alias ? alias : "?",
                             cl->req->source_id);
        }
    }
    free(alias);
    return e;
}

static void
plan_nic(struct clone *cl, xmlNodePtr n)
{
    char *alias = alias_of(n);
    const struct lq_vm_attachment *a = find_by_alias(
        cl->src_meta.nics, cl->src_meta.n_nics, alias, "ua-lqn-");
    free(alias);
    if (!a) {
        return;
    }
    cl->nics = xrealloc(cl->nics, (cl->n_nics + 1) * sizeof *cl->nics);
    struct clone_nic *c = &cl->nics[cl->n_nics++];
    memset(c, 0, sizeof *c);
    c->src = a;
    c->node = n;
    if (a->ref[0]) {
        lq_vm_device_id(cl->req->id, "nic", a->id, c->port);
    }
}

/* What is cloned, shared and refused, before anything is made. */
static struct lq_error *
plan(struct clone *cl)
{
    xmlNodePtr devices = compute_xml_child(xmlDocGetRootElement(cl->doc),
                                           "devices");
    struct lq_error *e = NULL;
    for (xmlNodePtr n = devices ? devices->children : NULL; n && !e;
         n = n->next) {
        if (n->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (!xmlStrcmp(n->name, X("disk"))) {
            e = plan_disk(cl, n);
        } else if (!xmlStrcmp(n->name, X("interface"))) {
            plan_nic(cl, n);
        }
    }
    if (!e && cl->req->cloud_init && !cl->seed_drive) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "cloudInit: VM %s has no "
                         "cloud-init drive for the clone's seed",
                         cl->req->source_id);
    }
    if (!e && cl->seed_drive && !cl->c->state_dir) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "sourceVmId: this node has "
                         "no hypervisor.state_dir for the clone's seed");
    }
    return e;
}

/* The clone's seed files: from the request, or the source's re-made. */
static struct lq_error *
plan_seed(struct clone *cl)
{
    if (!cl->seed_drive) {
        return NULL;
    }
    const struct lq_clone_request *r = cl->req;
    if (r->cloud_init) {
        struct lq_vm_spec s;
        lq_vm_spec_init(&s);
        ovs_strlcpy(s.id, r->id, sizeof s.id);
        s.name = CONST_CAST(char *, r->name);
        s.cloud_init = r->cloud_init;
        lq_cidata_files_build(&s, &cl->seed);
        return NULL;
    }
    /* Our own file of the source, never the path its XML names. */
    char *path = compute_cidata_path(cl->c, r->source_id);
    struct lq_error *e = lq_cidata_read_iso(path, &cl->seed);
    free(path);
    return e ? e : lq_cidata_reinstance(&cl->seed, r->id, r->name);
}

/* ---- Making the clone's volumes and ports ------------------------------- */

static struct lq_error *
clone_volume(struct clone *cl, struct clone_disk *d)
{
    struct lq_storage *st = cl->c->backends.storage;
    const char *src = d->src->ref;
    if (!st) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "sourceVmId: this node "
                            "has no storage to clone volume %s in", src);
    }
    struct lq_volume_info *base = NULL;
    struct lq_error *e = lq_volume_get(st, src, &base);
    char *snap_name = xasprintf("clone-%s", cl->req->id);
    if (!e) {
        e = lq_snapshot_create(st, src, d->snapshot, snap_name, NULL);
        if (e && e->code == LQ_ALREADY_EXISTS) {
            /* A retry of a clone that stopped half-way: its snapshot. */
            lq_error_free(e);
            e = NULL;
        }
        d->snapshot_made = !e;
    }
    free(snap_name);
    char *name = xasprintf("vm-%s-%s", cl->req->id, d->src->id);
    struct lq_volume_spec vs = {
        .id = d->volume, .pool_id = base ? base->pool_id : NULL,
        .name = name, .source_volume_id = src,
        .source_snapshot_id = d->snapshot,
    };
    if (!e) {
        e = lq_volume_create(st, &vs, NULL);
        d->volume_made = !e;
    }
    free(name);
    if (!e) {
        e = lq_volume_wait(st, d->volume, FLATTEN_TIMEOUT_MS);
    }
    if (!e && !cl->req->linked) {
        e = lq_volume_flatten(st, d->volume, NULL);
        if (!e) {
            e = lq_volume_wait(st, d->volume, FLATTEN_TIMEOUT_MS);
        }
        if (!e) {
            e = lq_snapshot_delete(st, src, d->snapshot, false);
            d->snapshot_made = !!e;
        }
    }
    lq_volume_info_free(base);
    if (e) {
        return lq_error_prefix(e, "sourceVmId: cloning disk %s (volume %s)",
                               d->src->id, src);
    }
    VLOG_INFO("VM %s: %s clone %s of volume %s for disk %s", cl->req->id,
              cl->req->linked ? "linked" : "full", d->volume, src,
              d->src->id);
    return NULL;
}

/* A new port on the network of the source's port, with its groups. */
static struct lq_error *
clone_port(struct clone *cl, struct clone_nic *n)
{
    struct lq_network *net = cl->c->backends.network;
    if (!net) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "sourceVmId: this node "
                            "runs no network service");
    }
    struct json *req = json_object_create();
    json_object_put_string(req, "id", n->src->ref);
    struct json *port = NULL;
    struct lq_error *e = lq_network_call_threaded(net, "GetPort", req, &port);
    json_destroy(req);
    if (e) {
        return lq_error_prefix(e, "sourceVmId: port %s of NIC %s",
                               n->src->ref, n->src->id);
    }
    req = json_object_create();
    char *name = xasprintf("vm-%s-%s", cl->req->id, n->src->id);
    json_object_put_string(req, "id", n->port);
    json_object_put_string(req, "name", name);
    free(name);
    const char *network = lq_json_member_string(port, "networkId");
    json_object_put_string(req, "networkId", network ? network : "");
    const struct json *groups = lq_json_member(port, "securityGroupIds");
    if (groups && groups->type == JSON_ARRAY) {
        json_object_put(req, "securityGroupIds", json_clone(groups));
    }
    json_destroy(port);
    port = NULL;
    e = lq_network_call_threaded(net, "CreatePort", req, &port);
    json_destroy(req);
    json_destroy(port);
    if (e) {
        return lq_error_prefix(e, "sourceVmId: a port for NIC %s on the "
                               "network of port %s", n->src->id,
                               n->src->ref);
    }
    n->port_made = true;
    return NULL;
}

static void
undo(struct clone *cl)
{
    struct lq_compute *c = cl->c;
    for (size_t i = 0; i < cl->n_nics; i++) {
        if (cl->nics[i].port_made) {
            lq_error_free(compute_delete_owned_port(c, cl->nics[i].port));
        }
    }
    for (size_t i = 0; i < cl->n_disks; i++) {
        struct clone_disk *d = &cl->disks[i];
        if (d->volume_made) {
            struct lq_error *e = compute_delete_owned_volume(c, d->volume);
            if (e) {
                VLOG_WARN("VM %s not cloned, and %s", cl->req->id,
                          e->message);
                lq_error_free(e);
            }
        }
        if (d->snapshot_made) {
            struct lq_error *e = lq_snapshot_delete(
                c->backends.storage, d->src->ref, d->snapshot, false);
            if (e && e->code != LQ_NOT_FOUND) {
                VLOG_WARN("VM %s not cloned, and deleting snapshot %s of "
                          "volume %s: %s", cl->req->id, d->snapshot,
                          d->src->ref, e->message);
            }
            lq_error_free(e);
        }
    }
    if (cl->files_made) {
        compute_remove_vm_files(c, cl->req->id);
    }
}

/* ---- Editing the copy --------------------------------------------------- */

/* The cloned volume's <source> and <auth> (and disk and driver type) in
 * place of the source's. */
static struct lq_error *
edit_disk(struct clone *cl, struct clone_disk *cd)
{
    struct lq_disk_spec d;
    memset(&d, 0, sizeof d);
    d.id = CONST_CAST(char *, cd->src->id);
    d.volume_id = cd->volume;
    d.readonly = cd->src->readonly;
    char *field = xasprintf("sourceVmId: disk %s", cd->src->id);
    struct lq_error *e = compute_check_disk(cl->conn, cl->c, cl->req->id, &d,
                                            field);
    free(field);
    char *xml = e ? NULL : lq_disk_xml(&d, "vda");
    xmlNodePtr fresh = xml ? import_element(cl->doc, xml) : NULL;
    free(xml);
    lq_disk_source_free(d.source);
    if (e) {
        return e;
    }
    if (!fresh) {
        return lq_error_new(LQ_INTERNAL, "cannot build the XML of disk %s",
                            cd->src->id);
    }
    xmlNodePtr old = cd->node;
    char *type = compute_xml_prop(fresh, "type");
    char *format = compute_xml_prop(compute_xml_child(fresh, "driver"),
                                    "type");
    xmlSetProp(old, X("type"), X(type));
    xmlNodePtr driver = compute_xml_child(old, "driver");
    if (driver && format) {
        xmlSetProp(driver, X("type"), X(format));
    }
    free(type);
    free(format);
    remove_children(old, "source");
    remove_children(old, "auth");
    remove_children(old, "backingStore");
    static const char *const moved[] = { "auth", "source" };
    for (size_t i = 0; i < ARRAY_SIZE(moved); i++) {
        xmlNodePtr n = compute_xml_child(fresh, moved[i]);
        if (n) {
            xmlUnlinkNode(n);
            if (driver) {
                xmlAddNextSibling(driver, n);
            } else {
                xmlAddChild(old, n);
            }
        }
    }
    xmlFreeNode(fresh);
    return NULL;
}

static enum lq_nic_model
nic_model(xmlNodePtr iface)
{
    xmlNodePtr m = compute_xml_child(iface, "model");
    return compute_xml_prop_is(m, "type", "e1000") ? LQ_NIC_E1000
           : compute_xml_prop_is(m, "type", "rtl8139") ? LQ_NIC_RTL8139
           : LQ_NIC_VIRTIO;
}

/* A port NIC: what lq_nic_xml() writes for the new port, at the old PCI
 * address (the guest's device names stay). */
static struct lq_error *
edit_port_nic(struct clone *cl, struct clone_nic *cn)
{
    struct lq_nic_spec n;
    memset(&n, 0, sizeof n);
    n.id = CONST_CAST(char *, cn->src->id);
    ovs_strlcpy(n.port_id, cn->port, sizeof n.port_id);
    n.model = nic_model(cn->node);
    char *queues_s = compute_xml_prop(compute_xml_child(cn->node, "driver"),
                              "queues");
    unsigned int queues = queues_s ? strtoul(queues_s, NULL, 10) : 1;
    free(queues_s);
    char *field = xasprintf("sourceVmId: NIC %s", cn->src->id);
    struct lq_error *e = compute_check_nic(cl->conn, cl->c, cl->req->id, &n,
                                           field);
    free(field);
    char *xml = e ? NULL : lq_nic_xml(&n, queues);
    xmlNodePtr fresh = xml ? import_element(cl->doc, xml) : NULL;
    free(xml);
    free(n.bridge);
    free(n.vhost_socket);
    if (e) {
        return e;
    }
    if (!fresh) {
        return lq_error_new(LQ_INTERNAL, "cannot build the XML of NIC %s",
                            cn->src->id);
    }
    xmlNodePtr address = compute_xml_child(cn->node, "address");
    if (address) {
        xmlUnlinkNode(address);
        xmlAddChild(fresh, address);
    }
    xmlReplaceNode(cn->node, fresh);
    xmlFreeNode(cn->node);
    cn->node = fresh;
    return NULL;
}

/* A plain bridge NIC: a new MAC (QEMU's prefix, random) and tap. */
static void
edit_bridge_nic(struct clone *cl, struct clone_nic *cn)
{
    uint8_t r[3];
    if (getrandom(r, sizeof r, 0) != sizeof r) {
        ovs_fatal(errno, "getrandom");
    }
    char mac[18], tap[16];
    snprintf(mac, sizeof mac, "52:54:00:%02x:%02x:%02x", r[0], r[1], r[2]);
    lq_nic_bridge_tap_name(cl->req->id, cn->src->id, tap);
    xmlNodePtr m = compute_xml_child(cn->node, "mac");
    if (m) {
        xmlSetProp(m, X("address"), X(mac));
    }
    xmlNodePtr t = compute_xml_child(cn->node, "target");
    if (t) {
        xmlSetProp(t, X("dev"), X(tap));
    }
}

/* Our metadata for the clone: the source's labels, the new volumes and
 * ports (owned: DeleteVM of the clone removes them). */
static char *
clone_metadata_xml(const struct clone *cl)
{
    struct lq_vm_metadata m;
    memset(&m, 0, sizeof m);
    lq_clone_request_fingerprint(cl->req, m.fingerprint);
    m.labels = cl->src_meta.labels;
    m.n_labels = cl->src_meta.n_labels;
    for (size_t i = 0; i < cl->src_meta.n_disks; i++) {
        const struct lq_vm_attachment *a = &cl->src_meta.disks[i];
        const char *volume = a->ref;
        for (size_t k = 0; k < cl->n_disks; k++) {
            if (cl->disks[k].src == a) {
                volume = cl->disks[k].volume;
            }
        }
        lq_vm_metadata_add_owned(&m.disks, &m.n_disks, a->id, volume,
                                 a->readonly, volume != a->ref);
    }
    for (size_t i = 0; i < cl->src_meta.n_nics; i++) {
        const struct lq_vm_attachment *a = &cl->src_meta.nics[i];
        const char *port = a->ref;
        for (size_t k = 0; k < cl->n_nics; k++) {
            if (cl->nics[k].src == a) {
                port = cl->nics[k].port;
            }
        }
        lq_vm_metadata_add_owned(&m.nics, &m.n_nics, a->id, port, false,
                                 port[0] && port != a->ref);
    }
    char *xml = lq_vm_metadata_element_xml(&m);
    m.labels = NULL;
    m.n_labels = 0;
    lq_vm_metadata_clear(&m);
    return xml;
}

static struct lq_error *
edit_metadata(struct clone *cl, xmlNodePtr domain)
{
    xmlNodePtr meta = compute_xml_child(domain, "metadata");
    if (!meta) {
        return lq_error_new(LQ_INTERNAL, "VM %s has no metadata element",
                            cl->req->source_id);
    }
    for (xmlNodePtr n = meta->children, next; n; n = next) {
        next = n->next;
        if (n->type == XML_ELEMENT_NODE && n->ns
            && !xmlStrcmp(n->ns->href, X(LQ_COMPUTE_XMLNS))) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
    }
    char *xml = clone_metadata_xml(cl);
    xmlNodePtr vm = import_element(cl->doc, xml);
    free(xml);
    if (!vm) {
        return lq_error_new(LQ_INTERNAL, "cannot build the metadata of VM "
                            "%s", cl->req->id);
    }
    xmlAddChild(meta, vm);
    return NULL;
}

/* The devices that name host files of the source: the serial log (and
 * the <console> libvirt mirrors it in), the seed, agent sockets. */
static void
edit_host_files(struct clone *cl, xmlNodePtr devices)
{
    char *serial = compute_serial_log_path(cl->c, cl->req->id);
    char *seed = compute_cidata_path(cl->c, cl->req->id);
    for (xmlNodePtr n = devices->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) {
            continue;
        }
        xmlNodePtr src = compute_xml_child(n, "source");
        if ((!xmlStrcmp(n->name, X("serial"))
             || !xmlStrcmp(n->name, X("console")))
            && compute_xml_prop_is(n, "type", "file") && src && serial) {
            xmlSetProp(src, X("path"), X(serial));
        } else if (!xmlStrcmp(n->name, X("channel")) && src) {
            xmlUnsetProp(src, X("path"));
        } else if (!xmlStrcmp(n->name, X("graphics"))
                   && xmlHasProp(n, X("passwd"))) {
            /* VNC or SPICE: the clone's console has its own password. */
            char password[9];
            compute_random_password(password);
            xmlSetProp(n, X("passwd"), X(password));
            explicit_bzero(password, sizeof password);
        } else if (n == cl->seed_drive && src) {
            xmlSetProp(src, X("file"), X(seed));
        }
    }
    free(serial);
    free(seed);
}

static struct lq_error *
edit(struct clone *cl)
{
    xmlNodePtr domain = xmlDocGetRootElement(cl->doc);
    set_child_text(domain, "name", cl->req->name);
    set_child_text(domain, "uuid", cl->req->id);
    /* libvirt makes a new NVRAM file from the loader's template. */
    remove_children(compute_xml_child(domain, "os"), "nvram");
    struct lq_error *e = edit_metadata(cl, domain);
    for (size_t i = 0; !e && i < cl->n_disks; i++) {
        e = edit_disk(cl, &cl->disks[i]);
    }
    for (size_t i = 0; !e && i < cl->n_nics; i++) {
        if (cl->nics[i].port[0]) {
            e = edit_port_nic(cl, &cl->nics[i]);
        } else {
            edit_bridge_nic(cl, &cl->nics[i]);
        }
    }
    if (!e) {
        edit_host_files(cl, compute_xml_child(domain, "devices"));
    }
    return e;
}

/* The serial log and seed of the clone (the node's files). */
static struct lq_error *
make_files(struct clone *cl)
{
    struct lq_vm_spec s;
    lq_vm_spec_init(&s);
    ovs_strlcpy(s.id, cl->req->id, sizeof s.id);
    char *serial = compute_existing_serial_log(cl->c, cl->req->source_id);
    if (serial) {
        free(serial);
        s.serial_log_path = compute_serial_log_path(cl->c, cl->req->id);
    }
    struct lq_error *e = compute_make_vm_files(cl->c, &s);
    free(s.serial_log_path);
    cl->files_made = !e;
    if (!e && cl->seed_drive) {
        char *path = compute_cidata_path(cl->c, cl->req->id);
        e = lq_cidata_write_iso(&cl->seed, path);
        free(path);
    }
    return e;
}

static struct lq_error *
define(struct clone *cl)
{
    xmlChar *xml = NULL;
    int len = 0;
    xmlDocDumpMemory(cl->doc, &xml, &len);
    if (!xml) {
        return lq_error_new(LQ_INTERNAL, "cannot write the definition of "
                            "VM %s", cl->req->id);
    }
    virDomainPtr dom = virDomainDefineXMLFlags(cl->conn, (const char *) xml,
                                               VIR_DOMAIN_DEFINE_VALIDATE);
    if (!dom) {
        virErrorPtr err = virGetLastError();
        if (err && err->code == VIR_ERR_INVALID_ARG) {
            dom = virDomainDefineXML(cl->conn, (const char *) xml);
        }
    }
    /* The XML holds the VNC password: cleared before it is freed. */
    explicit_bzero(xml, len);
    xmlFree(xml);
    if (!dom) {
        return compute_virt_error("defining VM", cl->req->id);
    }
    virDomainFree(dom);
    return NULL;
}

static struct lq_error *
clone_locked(struct clone *cl, bool *createdp)
{
    bool exists;
    struct lq_error *e = check_clone_absent(cl, &exists);
    if (e || exists) {
        return e;
    }
    e = read_source(cl);
    if (!e) {
        e = plan(cl);
    }
    if (!e) {
        e = plan_seed(cl);
    }
    /* From here on a failure undoes what was made. */
    for (size_t i = 0; !e && i < cl->n_disks; i++) {
        e = clone_volume(cl, &cl->disks[i]);
    }
    for (size_t i = 0; !e && i < cl->n_nics; i++) {
        if (cl->nics[i].port[0]) {
            e = clone_port(cl, &cl->nics[i]);
        }
    }
    if (!e) {
        e = edit(cl);
    }
    if (!e) {
        e = make_files(cl);
    }
    if (!e) {
        e = define(cl);
    }
    if (e) {
        undo(cl);
        return e;
    }
    VLOG_INFO("defined VM %s (%s), a %s clone of VM %s", cl->req->id,
              cl->req->name, cl->req->linked ? "linked" : "full",
              cl->req->source_id);
    *createdp = true;
    return NULL;
}

struct lq_error *
lq_compute_clone_vm(struct lq_compute *c, const struct lq_clone_request *r,
                    struct lq_vm_status *status, bool *createdp)
{
    struct clone cl;
    memset(&cl, 0, sizeof cl);
    cl.c = c;
    cl.req = r;
    bool created = false;
    struct lq_error *e = check_request(r);
    if (!e) {
        e = compute_get_conn(c, &cl.conn);
    }
    if (!e) {
        ovs_mutex_lock(&c->create_mutex);
        e = clone_locked(&cl, &created);
        ovs_mutex_unlock(&c->create_mutex);
        virConnectClose(cl.conn);
    }
    if (!e && status) {
        e = lq_compute_get_vm(c, r->id, status);
    }
    if (createdp) {
        *createdp = created;
    }
    lq_cidata_files_clear(&cl.seed);
    lq_vm_metadata_clear(&cl.src_meta);
    free(cl.disks);
    free(cl.nics);
    xmlFreeDoc(cl.doc);
    return e;
}
