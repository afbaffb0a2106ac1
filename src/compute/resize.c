#include <config.h>
/* resize.c: UpdateVM (a stopped VM's vCPUs and memory) and ResizeDisk
 * (a volume disk grown, also under a running guest).
 *
 * Design decisions:
 * - The persistent definition is edited (libxml2) and defined again, as
 *   `virsh edit` does: <vcpu>, <cpu><topology cores>, <memory>,
 *   <currentMemory>, the NUMA cell of a VM made for memory hot-add and
 *   the NIC queues that followed the vCPU count.  Nothing else of the
 *   domain changes; its metadata (and so CreateVM's fingerprint) stays,
 *   so the create that made the VM is still idempotent.  A stopped VM's
 *   hot-added DIMMs are folded into its boot memory (the cell), as
 *   Proxmox recomputes its DIMMs from the memory setting.
 * - A running VM gets vCPUs plugged within the maximum CreateVM reserved
 *   (maxCpuCores: <vcpu current>), as Proxmox's vCPU hotplug, and memory
 *   as one DIMM per UpdateVM within maxMemoryMib (<maxMemory slots>), in
 *   the live and the persistent definition.  Memory only grows while it
 *   runs, in whole Linux memory blocks: unplugging needs the guest to
 *   give the memory up, which Linux rarely can.
 * - ResizeDisk of a running VM, as Nova's extend of an attached volume:
 *   the pool grows the volume (RBD, LVM, iSCSI: a device or image QEMU
 *   only reads and writes), then virDomainBlockResize tells QEMU, which
 *   tells the guest (virtio-blk config change: "[vdb] new size").  A
 *   file volume (a qcow2 of a local pool) is QEMU's to grow: qemu-img
 *   cannot write an image QEMU holds, so block_resize alone does it.
 *   QEMU's capacity, not the pool's, decides whether there is work left,
 *   so a retry after a failed block_resize finishes it. */
#include "compute_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>
#include <libxml/xmlstring.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_resize);

#define X(s) ((const xmlChar *) (s))

struct resize_aux {
    struct lq_compute *c;
    uint32_t cores;             /* 0: unchanged. */
    uint64_t memory_mib;        /* 0: unchanged. */
    const struct lq_cloud_init *cloud_init;     /* NULL: unchanged. */
};

static unsigned long
uint_prop(xmlNodePtr n, const char *name, unsigned long dflt)
{
    xmlChar *v = n ? xmlGetProp(n, X(name)) : NULL;
    unsigned long u = v ? strtoul((const char *) v, NULL, 10) : dflt;
    xmlFree(v);
    return u;
}

static void
set_uint_prop(xmlNodePtr n, const char *name, uint64_t value)
{
    char num[32];
    snprintf(num, sizeof num, "%"PRIu64, value);
    xmlSetProp(n, X(name), X(num));
}

static void
set_text(xmlNodePtr n, uint64_t value)
{
    char num[32];
    snprintf(num, sizeof num, "%"PRIu64, value);
    xmlNodeSetContent(n, X(num));
}

/* Memory elements in KiB. */
static void
set_memory(xmlNodePtr n, uint64_t kib)
{
    if (n) {
        xmlSetProp(n, X("unit"), X("KiB"));
        set_text(n, kib);
    }
}

/* A memory element's size in KiB (libvirt writes them in KiB). */
static uint64_t
memory_kib(xmlNodePtr n)
{
    xmlChar *text = n ? xmlNodeGetContent(n) : NULL;
    uint64_t v = text ? strtoull((const char *) text, NULL, 10) : 0;
    xmlFree(text);
    char *unit = compute_xml_prop(n, "unit");
    if (unit && !strcmp(unit, "MiB")) {
        v *= 1024;
    } else if (unit && !strcmp(unit, "GiB")) {
        v <<= 20;
    }
    free(unit);
    return v;
}

/* <vcpu>'s text: the most vCPUs of the domain. */
static unsigned long
old_vcpus_max(xmlNodePtr vcpu)
{
    xmlChar *text = xmlNodeGetContent(vcpu);
    unsigned long max = text ? strtoul((const char *) text, NULL, 10) : 0;
    xmlFree(text);
    return max;
}

/* The one NUMA cell of a VM made for memory hot-add, or NULL. */
static xmlNodePtr
numa_cell(xmlNodePtr dom)
{
    return compute_xml_child(compute_xml_child(compute_xml_child(dom, "cpu"),
                                               "numa"), "cell");
}

static void
set_cell_cpus(xmlNodePtr cell, unsigned long vcpus)
{
    if (cell) {
        char cpus[32];
        snprintf(cpus, sizeof cpus, "0-%lu", vcpus - 1);
        xmlSetProp(cell, X("cpus"), X(cpus));
    }
}

static bool
is_dimm(xmlNodePtr d)
{
    return d->type == XML_ELEMENT_NODE && !xmlStrcmp(d->name, X("memory"))
           && compute_xml_prop_is(d, "model", "dimm");
}

/* A stopped VM made for hot-add: its DIMMs go and the cell holds all of
 * 'kib'.  At or beyond the maximum no room is left to hot-add (QEMU
 * refuses slots without it), so <maxMemory> goes too. */
static void
fold_dimms(xmlNodePtr dom, uint64_t kib)
{
    xmlNodePtr cell = numa_cell(dom);
    xmlNodePtr max = compute_xml_child(dom, "maxMemory");
    if (!cell) {
        return;
    }
    xmlNodePtr devices = compute_xml_child(dom, "devices");
    xmlNodePtr next;
    for (xmlNodePtr d = devices ? devices->children : NULL; d; d = next) {
        next = d->next;
        if (is_dimm(d)) {
            xmlUnlinkNode(d);
            xmlFreeNode(d);
        }
    }
    set_uint_prop(cell, "memory", kib);
    xmlSetProp(cell, X("unit"), X("KiB"));
    if (max && memory_kib(max) <= kib) {
        xmlUnlinkNode(max);
        xmlFreeNode(max);
    }
}

static struct lq_error *
edit(xmlDocPtr doc, const char *id, const struct resize_aux *a)
{
    xmlNodePtr dom = xmlDocGetRootElement(doc);
    xmlNodePtr vcpu = compute_xml_child(dom, "vcpu");
    xmlNodePtr topo = compute_xml_child(compute_xml_child(dom, "cpu"),
                                        "topology");
    if (!vcpu) {
        return lq_error_new(LQ_INTERNAL, "VM %s: its definition has no "
                            "<vcpu>", id);
    }
    xmlChar *text = xmlNodeGetContent(vcpu);
    unsigned long old_vcpus = strtoul((const char *) text, NULL, 10);
    xmlFree(text);
    unsigned long vcpus = old_vcpus;
    if (a->cores) {
        unsigned long sockets = uint_prop(topo, "sockets", 1);
        unsigned long threads = uint_prop(topo, "threads", 1);
        vcpus = sockets * a->cores * threads;
        if (vcpus > LQ_MAX_VCPUS) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "cpuCores: %lu sockets "
                                "x %"PRIu32" cores x %lu threads is %lu "
                                "vCPUs, more than %d", sockets, a->cores,
                                threads, vcpus, LQ_MAX_VCPUS);
        }
        xmlChar *cur = xmlGetProp(vcpu, X("current"));
        if (cur) {
            /* Made for hot-add: the topology is the maximum.  Within it
             * only 'current' moves; beyond it the maximum grows. */
            old_vcpus = strtoul((const char *) cur, NULL, 10);
            xmlFree(cur);
            if (vcpus < old_vcpus_max(vcpu)) {
                set_uint_prop(vcpu, "current", vcpus);
            } else {
                xmlUnsetProp(vcpu, X("current"));
            }
        }
        if (!xmlHasProp(vcpu, X("current"))) {
            set_text(vcpu, vcpus);
            if (topo) {
                set_uint_prop(topo, "cores", a->cores);
            }
            set_cell_cpus(numa_cell(dom), vcpus);
        }
        /* Multiqueue NICs had one queue per vCPU. */
        xmlNodePtr devices = compute_xml_child(dom, "devices");
        for (xmlNodePtr d = devices ? devices->children : NULL; d;
             d = d->next) {
            xmlNodePtr drv = d->type == XML_ELEMENT_NODE
                             && !xmlStrcmp(d->name, X("interface"))
                             ? compute_xml_child(d, "driver") : NULL;
            unsigned long q = uint_prop(drv, "queues", 0);
            if (q && (q == old_vcpus || q > vcpus)) {
                set_uint_prop(drv, "queues", vcpus);
            }
        }
    }
    if (a->memory_mib) {
        uint64_t kib = a->memory_mib * 1024;
        set_memory(compute_xml_child(dom, "memory"), kib);
        set_memory(compute_xml_child(dom, "currentMemory"), kib);
        fold_dimms(dom, kib);
    }
    return NULL;
}

/* What a running VM's live definition allows. */
struct live_limits {
    unsigned long sockets, threads, max_vcpus;
    uint64_t memory_kib;        /* Now, boot memory and DIMMs. */
    uint64_t max_memory_kib;    /* 0: made without maxMemoryMib. */
    unsigned long slots, dimms;
};

static struct lq_error *
read_live_limits(virDomainPtr dom, const char *id, struct live_limits *l)
{
    char *xml = virDomainGetXMLDesc(dom, 0);
    xmlDocPtr doc = xml ? xmlReadMemory(xml, strlen(xml), "domain.xml",
                                        NULL, XML_PARSE_NONET) : NULL;
    free(xml);
    if (!doc) {
        return compute_virt_error("reading the definition of VM", id);
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr topo = compute_xml_child(compute_xml_child(root, "cpu"),
                                        "topology");
    xmlNodePtr max = compute_xml_child(root, "maxMemory");
    l->sockets = uint_prop(topo, "sockets", 1);
    l->threads = uint_prop(topo, "threads", 1);
    l->max_vcpus = old_vcpus_max(compute_xml_child(root, "vcpu"));
    l->memory_kib = memory_kib(compute_xml_child(root, "memory"));
    l->max_memory_kib = numa_cell(root) ? memory_kib(max) : 0;
    l->slots = uint_prop(max, "slots", 0);
    l->dimms = 0;
    xmlNodePtr devices = compute_xml_child(root, "devices");
    for (xmlNodePtr d = devices ? devices->children : NULL; d; d = d->next) {
        l->dimms += is_dimm(d);
    }
    xmlFreeDoc(doc);
    return NULL;
}

/* The DIMM that grows running VM 'id' to 'memory_mib', or 0 MiB when it
 * has that already; an error when the VM was not made for it. */
static struct lq_error *
dimm_needed(const struct live_limits *l, const char *id, uint64_t memory_mib,
            uint64_t *dimm_mibp)
{
    uint64_t now = l->memory_kib / 1024;
    *dimm_mibp = 0;
    if (!memory_mib || memory_mib == now) {
        return NULL;
    }
    if (!l->max_memory_kib) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "memoryMib: VM %s is "
                            "running without room for more memory "
                            "(spec.maxMemoryMib): memory changes need a "
                            "stopped VM", id);
    }
    if (memory_mib < now) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "memoryMib: VM %s is "
                            "running with %"PRIu64" MiB: memory only grows "
                            "while it runs; stop it to shrink", id, now);
    }
    if (memory_mib > l->max_memory_kib / 1024) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "memoryMib: VM %s is "
                            "running with at most %"PRIu64" MiB "
                            "(spec.maxMemoryMib): stop it to go beyond", id,
                            l->max_memory_kib / 1024);
    }
    if ((memory_mib - now) % LQ_MEMORY_BLOCK_MIB) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "memoryMib: running VM %s "
                            "has %"PRIu64" MiB and grows by multiples of %d "
                            "MiB (the guest's memory blocks), not by %"PRIu64,
                            id, now, LQ_MEMORY_BLOCK_MIB, memory_mib - now);
    }
    if (l->dimms >= l->slots) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "memoryMib: VM %s has "
                            "used its %lu memory slots: stop it to grow "
                            "(its DIMMs become boot memory)", id, l->slots);
    }
    *dimm_mibp = memory_mib - now;
    return NULL;
}

static struct lq_error *
plug_dimm(virDomainPtr dom, const char *id, uint64_t mib)
{
    char *xml = xasprintf("<memory model='dimm'><target><size unit='MiB'>"
                          "%"PRIu64"</size><node>0</node></target></memory>",
                          mib);
    int r = virDomainAttachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE
                                       | VIR_DOMAIN_AFFECT_CONFIG);
    free(xml);
    if (r < 0) {
        return compute_virt_error("adding memory to running VM", id);
    }
    VLOG_INFO("VM %s: a %"PRIu64" MiB DIMM plugged, live", id, mib);
    return NULL;
}

static struct lq_error *
set_live_vcpus(virDomainPtr dom, const char *id, unsigned long vcpus)
{
    if (virDomainSetVcpusFlags(dom, vcpus, VIR_DOMAIN_AFFECT_LIVE
                               | VIR_DOMAIN_AFFECT_CONFIG) < 0) {
        return compute_virt_error("changing the vCPUs of running VM", id);
    }
    VLOG_INFO("VM %s: %lu vCPUs, live", id, vcpus);
    if (compute_agent_connected(dom)
        && virDomainSetVcpusFlags(dom, vcpus, VIR_DOMAIN_VCPU_GUEST) < 0) {
        /* The vCPUs are there; a guest that does not online them itself
         * (udev) can do it later. */
        VLOG_WARN("VM %s: the guest agent did not online %lu vCPUs: %s",
                  id, vcpus, virGetLastErrorMessage());
    }
    return NULL;
}

/* A running VM: vCPUs plugged or unplugged within the maximum it was made
 * with (maxCpuCores), then, if its agent listens, onlined in the guest
 * (guest-set-vcpus); memory grown by a DIMM within maxMemoryMib (a Linux
 * guest onlines it itself: udev, or memhp_default_state=online).  Both
 * are checked before either changes. */
static struct lq_error *
resize_running(virDomainPtr dom, const char *id, const struct resize_aux *a)
{
    struct live_limits l = { 0 };
    struct lq_error *e = read_live_limits(dom, id, &l);
    if (e) {
        return e;
    }
    unsigned long vcpus = l.sockets * a->cores * l.threads;
    if (a->cores && vcpus > l.max_vcpus) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "cpuCores: VM %s is "
                            "running with at most %lu vCPUs (%lu cores per "
                            "socket, spec.maxCpuCores): stop it to go beyond",
                            id, l.max_vcpus,
                            l.max_vcpus / l.sockets / l.threads);
    }
    uint64_t dimm_mib;
    e = dimm_needed(&l, id, a->memory_mib, &dimm_mib);
    if (!e && dimm_mib) {
        e = plug_dimm(dom, id, dimm_mib);
    }
    if (!e && a->cores) {
        e = set_live_vcpus(dom, id, vcpus);
    }
    return e;
}

static struct lq_error *
resize_definition(virDomainPtr dom, const char *id,
                  const struct resize_aux *a)
{
    int active = virDomainIsActive(dom);
    if (active < 0) {
        return compute_virt_error("reading the state of VM", id);
    }
    if (active) {
        return resize_running(dom, id, a);
    }
    /* SECURE: the VNC password must survive the redefinition. */
    char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE
                                    | VIR_DOMAIN_XML_SECURE);
    if (!xml) {
        return compute_virt_error("reading the definition of VM", id);
    }
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
                                  XML_PARSE_NONET);
    free(xml);
    if (!doc) {
        return lq_error_new(LQ_INTERNAL, "VM %s: cannot parse its "
                            "definition", id);
    }
    struct lq_error *e = edit(doc, id, a);
    xmlChar *out = NULL;
    int len = 0;
    if (!e) {
        xmlDocDumpMemory(doc, &out, &len);
    }
    xmlFreeDoc(doc);
    if (!e && !out) {
        e = lq_error_new(LQ_INTERNAL, "VM %s: cannot write its definition",
                         id);
    }
    if (!e) {
        virConnectPtr conn = virDomainGetConnect(dom);
        virDomainPtr again = virDomainDefineXMLFlags(
            conn, (const char *) out, VIR_DOMAIN_DEFINE_VALIDATE);
        if (!again && virGetLastErrorCode() == VIR_ERR_INVALID_ARG) {
            /* Drivers without VALIDATE. */
            again = virDomainDefineXML(conn, (const char *) out);
        }
        if (!again) {
            e = compute_virt_error("redefining VM", id);
        } else {
            virDomainFree(again);
            VLOG_INFO("VM %s resized:%s%s", id,
                      a->cores ? " vCPUs changed" : "",
                      a->memory_mib ? " memory changed" : "");
        }
    }
    xmlFree(out);
    return e;
}

/* The seed drive is checked first: a VM without one changes nothing;
 * the ISO is written last, once the rest is done (a retry of the same
 * update writes the same seed). */
static struct lq_error *
update_op(virDomainPtr dom, const char *id, void *aux_)
{
    const struct resize_aux *a = aux_;
    struct lq_error *e = a->cloud_init ? compute_seed_drive_check(dom, id)
                                       : NULL;
    if (!e && (a->cores || a->memory_mib)) {
        e = resize_definition(dom, id, a);
    }
    if (!e && a->cloud_init) {
        e = compute_reseed(a->c, dom, id, a->cloud_init);
    }
    return e;
}

struct lq_error *
lq_compute_update_vm(struct lq_compute *c, const char *id,
                     const struct lq_vm_update *u)
{
    uint32_t cores = u->cores;
    uint64_t memory_mib = u->memory_mib;
    if (!cores && !memory_mib && !u->cloud_init) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "cpuCores, memoryMib, "
                            "cloudInit: give at least one");
    }
    if (cores > LQ_MAX_VCPUS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "cpuCores: at most %d",
                            LQ_MAX_VCPUS);
    }
    if (memory_mib && (memory_mib < 16 || memory_mib > LQ_MAX_MEMORY_MIB)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "memoryMib: expected "
                            "16..%u", LQ_MAX_MEMORY_MIB);
    }
    struct lq_error *e = u->cloud_init
                         ? lq_cloud_init_validate_request(id, u->cloud_init)
                         : NULL;
    if (e) {
        return e;
    }
    if (!c->state_dir && u->cloud_init) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "cloudInit: this node "
                            "has no hypervisor.state_dir for seeds");
    }
    struct resize_aux a = { c, cores, memory_mib, u->cloud_init };
    ovs_mutex_lock(&c->create_mutex);   /* One definition writer. */
    e = compute_with_vm(c, id, update_op, &a);
    ovs_mutex_unlock(&c->create_mutex);
    return e;
}

/* ---- ResizeDisk -------------------------------------------------------- */

struct disk_resize_aux {
    struct lq_compute *c;
    const char *disk_id;
    uint64_t size;
    uint64_t result;            /* The size the disk has now. */
};

/* The live <disk> of our disk 'disk_id' (alias ua-lqd-<id>): its target
 * and whether QEMU opens it as a file.  Walked, never an XPath with the
 * caller's string in it. */
static bool
live_disk(const char *xml, const char *disk_id, char **devp, bool *filep)
{
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
                                  XML_PARSE_NONET);
    char *alias = xasprintf("ua-lqd-%s", disk_id);
    bool found = false;
    xmlNodePtr devices = compute_xml_child(
        doc ? xmlDocGetRootElement(doc) : NULL, "devices");
    for (xmlNodePtr d = devices ? devices->children : NULL; d && !found;
         d = d->next) {
        if (d->type != XML_ELEMENT_NODE || xmlStrcmp(d->name, X("disk"))) {
            continue;
        }
        xmlChar *name = xmlGetProp(compute_xml_child(d, "alias"), X("name"));
        xmlChar *dev = xmlGetProp(compute_xml_child(d, "target"), X("dev"));
        xmlChar *type = xmlGetProp(d, X("type"));
        if (name && dev && !xmlStrcmp(name, X(alias))) {
            *devp = xstrdup((const char *) dev);
            *filep = type && !xmlStrcmp(type, X("file"));
            found = true;
        }
        xmlFree(name);
        xmlFree(dev);
        xmlFree(type);
    }
    free(alias);
    xmlFreeDoc(doc);
    return found;
}

static struct lq_error *
grow_volume(struct disk_resize_aux *a, const char *volume_id)
{
    struct lq_volume_info *v = NULL;
    struct lq_error *e = lq_volume_get(a->c->backends.storage, volume_id, &v);
    if (!e && v->size_bytes > a->size) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "sizeBytes: %"PRIu64" is "
                         "smaller than volume %s's %"PRIu64" (disks only "
                         "grow)", a->size, volume_id, v->size_bytes);
    }
    if (!e && v->size_bytes < a->size) {
        lq_volume_info_free(v);
        v = NULL;
        e = lq_volume_resize(a->c->backends.storage, volume_id, a->size,
                             false, &v);
    }
    if (!e) {
        a->result = v->size_bytes;
    }
    lq_volume_info_free(v);
    return e;
}

static struct lq_error *
resize_live(virDomainPtr dom, const char *id, struct disk_resize_aux *a,
            const char *volume_id)
{
    char *xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        return compute_virt_error("reading the devices of VM", id);
    }
    char *dev = NULL;
    bool file = false;
    bool found = live_disk(xml, a->disk_id, &dev, &file);
    free(xml);
    if (!found) {
        return lq_error_new(LQ_NOT_FOUND, "diskId: running VM %s has no "
                            "disk %s", id, a->disk_id);
    }
    struct lq_error *e = NULL;
    virDomainBlockInfo bi;
    if (virDomainGetBlockInfo(dom, dev, &bi, 0) < 0) {
        e = compute_virt_error("reading the disk size of VM", id);
    } else if (bi.capacity > a->size) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "sizeBytes: %"PRIu64" is "
                         "smaller than disk %s's %llu (disks only grow)",
                         a->size, a->disk_id, bi.capacity);
    } else if (bi.capacity == a->size) {
        a->result = a->size;
    } else if (!file && (e = grow_volume(a, volume_id))) {
        /* Nothing changed for the guest. */
    } else if (virDomainBlockResize(dom, dev, a->size,
                                    VIR_DOMAIN_BLOCK_RESIZE_BYTES) < 0) {
        e = compute_virt_error("resizing a disk of VM", id);
    } else {
        a->result = a->size;
        VLOG_INFO("disk %s (%s) of running VM %s grown to %"PRIu64" bytes",
                  a->disk_id, dev, id, a->size);
    }
    free(dev);
    return e;
}

static struct lq_error *
resize_disk_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct disk_resize_aux *a = aux_;
    struct lq_vm_metadata m;
    struct lq_error *e = compute_get_metadata(dom, id, &m);
    if (e) {
        return e;
    }
    const struct lq_vm_attachment *d = compute_find_attachment(
        m.disks, m.n_disks, a->disk_id);
    int active = virDomainIsActive(dom);
    if (!d) {
        e = lq_error_new(LQ_NOT_FOUND, "diskId: VM %s has no disk %s", id,
                         a->disk_id);
    } else if (!d->ref[0]) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "diskId: disk %s of VM %s "
                         "is a host file, not a volume: only volumes are "
                         "resized", a->disk_id, id);
    } else if (d->readonly) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "diskId: disk %s of VM %s "
                         "is read-only", a->disk_id, id);
    } else if (!a->c->backends.storage) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "diskId: this node has no "
                         "storage");
    } else if (active < 0) {
        e = compute_virt_error("reading the state of VM", id);
    } else if (active) {
        e = resize_live(dom, id, a, d->ref);
    } else {
        e = grow_volume(a, d->ref);
    }
    lq_vm_metadata_clear(&m);
    return e;
}

struct lq_error *
lq_compute_resize_disk(struct lq_compute *c, const char *id,
                       const char *disk_id, uint64_t size_bytes,
                       uint64_t *sizep)
{
    if (!disk_id || !disk_id[0]) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "diskId: required");
    }
    if (!size_bytes || size_bytes % 512) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "sizeBytes: expected a "
                            "positive multiple of 512, got %"PRIu64,
                            size_bytes);
    }
    struct disk_resize_aux a = { .c = c, .disk_id = disk_id,
                                 .size = size_bytes };
    /* One writer of the VM's disks at a time (AttachDisk, DetachDisk). */
    ovs_mutex_lock(&c->create_mutex);
    struct lq_error *e = compute_with_vm(c, id, resize_disk_op, &a);
    ovs_mutex_unlock(&c->create_mutex);
    if (!e) {
        *sizep = a.result;
    }
    return e;
}
