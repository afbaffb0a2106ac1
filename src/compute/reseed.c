#include <config.h>
/* reseed.c: UpdateVM's cloudInit: a VM's cloud-init seed made again.
 *
 * Design decisions:
 * - Only a VM made with a seed (the CD-ROM aliased ua-lq-cidata) gets a
 *   new one: adding a drive to a stopped VM would move its other devices'
 *   addresses, and IDE/SATA drives cannot be hot-plugged at all.
 * - The ISO is written to a temporary name and renamed over the old one
 *   (cidata.c), so neither the guest nor a CloneVM reads half a seed.
 * - A running QEMU keeps the old file open, so its CD-ROM is ejected and
 *   loaded again (two media changes: libvirt skips an update whose source
 *   did not change), as `virsh change-media` does.  The guest sees a new
 *   medium; cloud-init applies it at its next boot.
 * - The default meta-data gets an instance-id of the content
 *   (lq_cidata_revise()), as Proxmox derives its own, so new users, keys
 *   or a hostname are applied and the same seed twice is one instance. */
#include "compute_impl.h"

#include <string.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_reseed);

#define X(s) ((const xmlChar *) (s))
#define SEED_ALIAS "ua-lq-cidata"

/* The seed CD-ROM of a parsed definition, or NULL. */
static xmlNodePtr
seed_drive(xmlDocPtr doc)
{
    xmlNodePtr devices = compute_xml_child(
        doc ? xmlDocGetRootElement(doc) : NULL, "devices");
    for (xmlNodePtr d = devices ? devices->children : NULL; d; d = d->next) {
        if (d->type == XML_ELEMENT_NODE && !xmlStrcmp(d->name, X("disk"))
            && compute_xml_prop_is(compute_xml_child(d, "alias"), "name",
                                   SEED_ALIAS)) {
            return d;
        }
    }
    return NULL;
}

static xmlDocPtr
read_definition(virDomainPtr dom, unsigned int flags)
{
    char *xml = virDomainGetXMLDesc(dom, flags);
    xmlDocPtr doc = xml ? xmlReadMemory(xml, strlen(xml), "domain.xml",
                                        NULL, XML_PARSE_NONET) : NULL;
    free(xml);
    return doc;
}

struct lq_error *
compute_has_seed_drive(virDomainPtr dom, const char *id, bool *hasp)
{
    xmlDocPtr doc = read_definition(dom, VIR_DOMAIN_XML_INACTIVE);
    if (!doc) {
        return compute_virt_error("reading the definition of VM", id);
    }
    *hasp = seed_drive(doc) != NULL;
    xmlFreeDoc(doc);
    return NULL;
}

struct lq_error *
compute_seed_drive_check(virDomainPtr dom, const char *id)
{
    bool has = false;
    struct lq_error *e = compute_has_seed_drive(dom, id, &has);
    return e || has ? e
               : lq_error_new(LQ_FAILED_PRECONDITION, "cloudInit: VM %s was "
                              "made without a seed (spec.cloudInit at "
                              "CreateVM gives it its drive)", id);
}

static char *
node_xml(xmlNodePtr n)
{
    xmlBufferPtr buf = xmlBufferCreate();
    char *s = NULL;
    if (buf && xmlNodeDump(buf, n->doc, n, 0, 0) >= 0) {
        s = xstrdup((const char *) xmlBufferContent(buf));
    }
    xmlBufferFree(buf);
    return s;
}

/* QEMU reopens the seed: the running VM's drive ejected, then loaded
 * with the same path (now the new file). */
static struct lq_error *
reload_seed(virDomainPtr dom, const char *id)
{
    xmlDocPtr doc = read_definition(dom, 0);
    xmlNodePtr drive = seed_drive(doc);
    if (!drive) {
        xmlFreeDoc(doc);
        return compute_virt_error("reading the seed drive of running VM", id);
    }
    char *loaded = node_xml(drive);
    xmlNodePtr source = compute_xml_child(drive, "source");
    if (source) {
        xmlUnlinkNode(source);
        xmlFreeNode(source);
    }
    char *ejected = node_xml(drive);
    xmlFreeDoc(doc);
    struct lq_error *e = NULL;
    /* FORCE: a guest that locked the tray cannot keep the old seed. */
    if (!loaded || !ejected
        || virDomainUpdateDeviceFlags(dom, ejected, VIR_DOMAIN_AFFECT_LIVE
                                      | VIR_DOMAIN_DEVICE_MODIFY_FORCE) < 0
        || virDomainUpdateDeviceFlags(dom, loaded,
                                      VIR_DOMAIN_AFFECT_LIVE) < 0) {
        e = compute_virt_error("loading the new seed into running VM", id);
    }
    free(loaded);
    free(ejected);
    return e;
}

struct lq_error *
compute_reseed(struct lq_compute *c, virDomainPtr dom, const char *id,
               const struct lq_cloud_init *ci)
{
    struct lq_vm_spec s;
    lq_vm_spec_init(&s);
    ovs_strlcpy(s.id, id, sizeof s.id);
    const char *name = virDomainGetName(dom);
    s.name = xstrdup(name ? name : id);
    s.cloud_init = (struct lq_cloud_init *) ci;
    struct lq_cidata_files files;
    lq_cidata_files_build(&s, &files);
    s.cloud_init = NULL;
    lq_vm_spec_clear(&s);
    lq_cidata_revise(&files, id);

    char *path = compute_cidata_path(c, id);
    struct lq_error *e = lq_cidata_write_iso(&files, path);
    lq_cidata_files_clear(&files);
    free(path);
    int active = e ? 0 : virDomainIsActive(dom);
    if (active < 0) {
        e = compute_virt_error("reading the state of VM", id);
    } else if (active) {
        e = reload_seed(dom, id);
    }
    if (!e) {
        VLOG_INFO("VM %s: seed written again%s", id,
                  active ? " and loaded into its drive" : "");
    }
    return e;
}
