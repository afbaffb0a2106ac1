#include <config.h>
/* migrate.c: MigrateVM (see limiquantix/compute.h).
 *
 * Design decisions:
 * - Peer-to-peer libvirt migration (VIR_MIGRATE_PEER2PEER): this node's
 *   libvirtd talks to the target's directly, the domain definition moves
 *   with the VM (PERSIST_DEST, UNDEFINE_SOURCE), and our metadata moves
 *   inside it, so the target's daemon knows the VM at once.
 * - Shared storage only: every disk must be a volume whose source is a
 *   network disk (RBD, iSCSI, NFS) that the target reaches the same way.
 *   A path disk, or a volume on node-local storage, is refused up front
 *   rather than copied (that would be a block migration, not offered).
 * - Secrets: an RBD disk names its cephx secret by UUID, derived from the
 *   pool (resolve.c), so it is the same UUID on every node.  Before
 *   migrating, the secret is defined on the target's libvirtd too, with
 *   the key from this node's keyring, so the target can open the disk.
 * - NICs need nothing here: the OVS virtualport with the port's id is in
 *   the XML, the target's libvirtd plugs it into its integration bridge
 *   and ovn-controller there claims the port.
 * - A running VM is migrated live (or paused, if live is false); a stopped
 *   VM's definition is moved (VIR_MIGRATE_OFFLINE). */
#include "compute_impl.h"

#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_migrate);

#define MAX_URI_LEN 1024

struct migrate_aux {
    struct lq_compute *c;
    const char *target;
    bool live;
};

/* The target URI is handed to libvirt as a value, never spliced, but we
 * still only accept what a libvirt QEMU URI looks like. */
static struct lq_error *
check_target(const char *uri)
{
    if (!uri || !*uri) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "targetNodeUri: required");
    }
    if (strlen(uri) > MAX_URI_LEN || strncmp(uri, "qemu", 4)
        || !strstr(uri, "://")) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "targetNodeUri: expected a "
                            "libvirt QEMU URI (qemu+tls://host/system, ...)");
    }
    for (const char *p = uri; *p; p++) {
        if ((unsigned char) *p <= ' ' || *p == 0x7f) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "targetNodeUri: no "
                                "spaces or control characters");
        }
    }
    return NULL;
}

/* Every disk on shared storage; the target gets the secrets they need. */
static struct lq_error *
prepare_disks(struct lq_compute *c, const char *id,
              const struct lq_vm_metadata *m, virConnectPtr target)
{
    for (size_t i = 0; i < m->n_disks; i++) {
        const struct lq_vm_attachment *a = &m->disks[i];
        if (!a->ref[0]) {
            return lq_error_new(LQ_FAILED_PRECONDITION, "vmId: disk %s of VM "
                                "%s is a local path: migration needs shared "
                                "storage (volumes on rbd, iscsi or nfs)",
                                a->id, id);
        }
        struct lq_disk_spec d;
        memset(&d, 0, sizeof d);
        d.id = xstrdup(a->id);
        d.volume_id = xstrdup(a->ref);
        char *field = xasprintf("disk %s", a->id);
        struct lq_error *e = lq_resolve_disk(&c->backends, target, &d, field);
        free(field);
        if (!e && strcmp(d.source->type, "network")) {
            e = lq_error_new(LQ_FAILED_PRECONDITION, "vmId: disk %s of VM %s "
                             "is volume %s on storage local to this node: "
                             "migration needs shared storage", a->id, id,
                             a->ref);
        }
        lq_disk_spec_clear(&d);
        if (e) {
            return e;
        }
    }
    return NULL;
}

static struct lq_error *
migrate_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct migrate_aux *aux = aux_;
    struct lq_vm_metadata m;
    struct lq_error *e = compute_get_metadata(dom, id, &m);
    if (e) {
        return e;
    }
    int active = virDomainIsActive(dom);
    virConnectPtr target = NULL;
    if (active < 0) {
        e = compute_virt_error("reading the state of VM", id);
    } else if (!(target = virConnectOpen(aux->target))) {
        const virError *ve = virGetLastError();
        e = lq_error_new(LQ_UNAVAILABLE, "targetNodeUri: cannot connect to "
                         "libvirt at %s: %s", aux->target,
                         ve && ve->message ? ve->message : "unknown error");
    } else {
        e = prepare_disks(aux->c, id, &m, target);
    }
    if (!e) {
        unsigned long flags = VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST
                              | VIR_MIGRATE_UNDEFINE_SOURCE;
        if (!active) {
            flags |= VIR_MIGRATE_OFFLINE;
        } else {
            flags |= VIR_MIGRATE_ABORT_ON_ERROR
                     | (aux->live ? VIR_MIGRATE_LIVE : 0);
        }
        long long t0 = compute_now_ms();
        if (virDomainMigrateToURI3(dom, aux->target, NULL, 0, flags) < 0) {
            e = compute_virt_error("migrating VM", id);
        } else {
            VLOG_INFO("migrated VM %s to %s (%s) in %lld ms", id,
                      aux->target, !active ? "offline" : aux->live ? "live"
                      : "paused", compute_now_ms() - t0);
        }
    }
    if (target) {
        virConnectClose(target);
    }
    lq_vm_metadata_clear(&m);
    return e;
}

struct lq_error *
lq_compute_migrate_vm(struct lq_compute *c, const char *id,
                      const char *target_uri, bool live)
{
    struct lq_error *e = check_target(target_uri);
    if (!e && !strcmp(target_uri, c->uri)) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "targetNodeUri: that is this "
                         "node's own libvirt");
    }
    if (e) {
        return e;
    }
    struct migrate_aux aux = { c, target_uri, live };
    return compute_with_vm(c, id, migrate_op, &aux);
}
