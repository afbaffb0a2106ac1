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
 *   VM's definition is moved (VIR_MIGRATE_OFFLINE).
 * - The caller names the target node, never a libvirt URI: a URI can make
 *   libvirt run a program (qemu+ext://...?command=), open any socket or
 *   skip certificate checks, and the disks' secrets are defined on
 *   whatever it reaches.  The URI comes from node.yaml's
 *   hypervisor.migration (scheme + peer address, or the peer's own URI);
 *   VIR_MIGRATE_TLS encrypts QEMU's stream when migration.tls is set. */
#include "compute_impl.h"

#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_migrate);

#define MAX_TARGET_LEN 1024

struct migrate_aux {
    struct lq_compute *c;
    const char *target;         /* The libvirt URI we built. */
    bool live;
};

/* The host part of "scheme://[user@]host[:port]/path?query", or NULL. */
static char *
uri_host(const char *uri)
{
    const char *p = strstr(uri, "://");
    if (!p) {
        return NULL;
    }
    p += 3;
    const char *end = p + strcspn(p, "/?#");
    const char *at = memchr(p, '@', end - p);
    if (at) {
        p = at + 1;
    }
    const char *colon = *p == '[' ? NULL : memchr(p, ':', end - p);
    if (*p == '[') {
        const char *close = memchr(p, ']', end - p);
        if (!close) {
            return NULL;
        }
        return xmemdup0(p + 1, close - p - 1);
    }
    return xmemdup0(p, (colon ? colon : end) - p);
}

/* A peer's address without brackets or port, for comparing with a host. */
static bool
peer_matches_host(const char *name, const char *value, const char *host)
{
    if (!strcmp(name, host)) {
        return true;
    }
    char *vhost = strstr(value, "://") ? uri_host(value) : NULL;
    bool match;
    if (vhost) {
        match = !strcmp(vhost, host);
    } else {
        char *v = xstrdup(value);
        if (v[0] == '[') {
            char *close = strchr(v, ']');
            if (close) {
                *close = '\0';
            }
            match = !strcmp(v + 1, host);
        } else {
            v[strcspn(v, ":")] = '\0';
            match = !strcmp(v, host);
        }
        free(v);
    }
    free(vhost);
    return match;
}

struct lq_error *
lq_compute_migration_uri(const struct lq_compute *c, const char *field,
                         const char *target, char **urip)
{
    *urip = NULL;
    if (!target || !*target) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: required (a node "
                            "name of hypervisor.migration.peers)", field);
    }
    if (strlen(target) > MAX_TARGET_LEN) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: too long", field);
    }
    for (const char *p = target; *p; p++) {
        if ((unsigned char) *p <= ' ' || *p == 0x7f) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: no spaces or "
                                "control characters", field);
        }
    }
    /* A URI from the caller only names a host; the rest of it (scheme,
     * ?socket=, ?command=, no_verify, ...) never reaches libvirt. */
    char *host = strstr(target, "://") ? uri_host(target) : xstrdup(target);
    const struct smap_node *peer = NULL;
    if (host && *host) {
        peer = smap_get_node(&c->migration_peers, host);
        const struct smap_node *n;
        SMAP_FOR_EACH (n, &c->migration_peers) {
            if (!peer && peer_matches_host(n->key, n->value, host)) {
                peer = n;
            }
        }
    }
    struct lq_error *e = NULL;
    if (!peer) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not a node "
                         "this node migrates to (%zu known in node.yaml "
                         "hypervisor.migration.peers)", field,
                         host && *host ? host : target,
                         smap_count(&c->migration_peers));
    } else if (strstr(peer->value, "://")) {
        *urip = xstrdup(peer->value);   /* The operator's own URI. */
    } else {
        *urip = xasprintf("%s://%s/system", c->migration_scheme
                          ? c->migration_scheme : "qemu+tls", peer->value);
    }
    free(host);
    return e;
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
                              | VIR_MIGRATE_UNDEFINE_SOURCE
                              | (aux->c->migration_tls ? VIR_MIGRATE_TLS : 0);
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
                      const char *target, bool live)
{
    char *uri;
    struct lq_error *e = lq_compute_migration_uri(c, "targetNodeUri", target,
                                                  &uri);
    if (!e && !strcmp(uri, c->uri)) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "targetNodeUri: that is this "
                         "node's own libvirt");
    }
    if (!e) {
        struct migrate_aux aux = { c, uri, live };
        e = compute_with_vm(c, id, migrate_op, &aux);
    }
    free(uri);
    return e;
}
