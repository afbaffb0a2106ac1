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
 * - A cloud-init seed ISO is copied to the target first (seed_copy.c).
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
#include "ovs-thread.h"
#include "seq.h"
#include "timeval.h"
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
    struct compute_seed_copy seed = { 0 };
    if (!e) {
        e = compute_seed_copy_start(aux->c, dom, id, target, &seed);
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
        compute_seed_copy_end(&seed, !e);
    }
    if (target) {
        virConnectClose(target);
    }
    lq_vm_metadata_clear(&m);
    return e;
}

/* The libvirt URI of MigrateVM's target: a peer, never this node. */
static struct lq_error *
target_uri(const struct lq_compute *c, const char *target, char **urip)
{
    struct lq_error *e = lq_compute_migration_uri(c, "targetNodeUri", target,
                                                  urip);
    if (!e && !strcmp(*urip, c->uri)) {
        free(*urip);
        *urip = NULL;
        e = lq_error_new(LQ_INVALID_ARGUMENT, "targetNodeUri: that is this "
                         "node's own libvirt");
    }
    return e;
}

struct lq_error *
lq_compute_migrate_vm(struct lq_compute *c, const char *id,
                      const char *target, bool live)
{
    char *uri = NULL;
    struct lq_error *e = target_uri(c, target, &uri);
    if (!e) {
        struct migrate_aux aux = { c, uri, live };
        e = compute_with_vm(c, id, migrate_op, &aux);
    }
    free(uri);
    return e;
}

/* ---- A migration on a thread of its own (MigrateVM's stream) ---------------
 *
 * virDomainMigrateToURI3() blocks for the whole migration, so it runs on a
 * thread of the migration's own rather than on the worker pool (whose
 * threads answer calls); progress is libvirt's job statistics of the
 * domain, read by whoever calls lq_migration_refresh() meanwhile.  The
 * migration and its caller each hold a reference; the caller going away
 * does not stop the migration.  lq_compute_destroy() aborts the ones
 * still running and waits for their threads. */
struct lq_migration {
    struct lq_compute *c;
    char id[37];
    char *uri;
    bool live;
    struct seq *seq;            /* Changed when it ends. */

    struct ovs_mutex mutex;
    int refs;                   /* Guarded by 'mutex', as are: */
    bool done;
    struct lq_error *error;
    struct lq_migration_progress progress;
    struct ovs_list node;       /* In c->migrations (c->migrations_mutex). */
};

static void
migration_unref(struct lq_migration *m)
{
    ovs_mutex_lock(&m->mutex);
    bool last = !--m->refs;
    ovs_mutex_unlock(&m->mutex);
    if (last) {
        lq_error_free(m->error);
        seq_destroy(m->seq);
        ovs_mutex_destroy(&m->mutex);
        free(m->uri);
        free(m);
    }
}

static void *
migration_thread(void *m_)
{
    struct lq_migration *m = m_;
    struct migrate_aux aux = { m->c, m->uri, m->live };
    struct lq_error *e = compute_with_vm(m->c, m->id, migrate_op, &aux);

    ovs_mutex_lock(&m->mutex);
    m->done = true;
    m->error = e;
    m->progress.phase = e ? LQ_MIGRATION_FAILED : LQ_MIGRATION_COMPLETE;
    if (!e && m->progress.total) {
        m->progress.processed = m->progress.total;
        m->progress.remaining = 0;
    }
    ovs_mutex_unlock(&m->mutex);
    seq_change(m->seq);

    struct lq_compute *c = m->c;
    ovs_mutex_lock(&c->migrations_mutex);
    ovs_list_remove(&m->node);
    xpthread_cond_broadcast(&c->migrations_cond);
    ovs_mutex_unlock(&c->migrations_mutex);
    migration_unref(m);
    return NULL;
}

static struct lq_error *
exists_op(virDomainPtr dom OVS_UNUSED, const char *id OVS_UNUSED,
          void *aux OVS_UNUSED)
{
    return NULL;
}

struct lq_error *
lq_compute_migration_start(struct lq_compute *c, const char *id,
                           const char *target, bool live,
                           struct lq_migration **mp)
{
    char *uri = NULL;
    struct lq_error *e = target_uri(c, target, &uri);
    if (!e) {
        e = compute_with_vm(c, id, exists_op, NULL);
    }
    if (e) {
        free(uri);
        return e;
    }
    struct lq_migration *m = xzalloc(sizeof *m);
    m->c = c;
    ovs_strlcpy(m->id, id, sizeof m->id);
    m->uri = uri;
    m->live = live;
    m->seq = seq_create();
    ovs_mutex_init(&m->mutex);
    m->refs = 2;                /* The caller's and the thread's. */
    m->progress.phase = LQ_MIGRATION_PREPARING;
    ovs_mutex_lock(&c->migrations_mutex);
    ovs_list_push_back(&c->migrations, &m->node);
    ovs_mutex_unlock(&c->migrations_mutex);
    pthread_detach(ovs_thread_create("migration", migration_thread, m));
    *mp = m;
    return NULL;
}

/* libvirt's statistics of the running job of 'dom', if any. */
static void
read_job_stats(virDomainPtr dom, struct lq_migration_progress *p)
{
    virTypedParameterPtr params = NULL;
    int n = 0, type;
    if (virDomainGetJobStats(dom, &type, &params, &n, 0) < 0) {
        return;
    }
    if (type != VIR_DOMAIN_JOB_NONE) {
        unsigned long long v;
        if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_TOTAL,
                                    &v) == 1) {
            p->total = v;
        }
        if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED,
                                    &v) == 1) {
            p->processed = v;
        }
        if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_REMAINING,
                                    &v) == 1) {
            p->remaining = v;
        }
        /* Memory copied, the rest is the switch-over. */
        p->phase = p->total && !p->remaining ? LQ_MIGRATION_SWITCHING
                                             : LQ_MIGRATION_TRANSFERRING;
    }
    virTypedParamsFree(params, n);
}

static struct lq_error *
progress_op(virDomainPtr dom, const char *id OVS_UNUSED, void *p)
{
    read_job_stats(dom, p);
    return NULL;
}

void
lq_migration_refresh(struct lq_migration *m)
{
    ovs_mutex_lock(&m->mutex);
    struct lq_migration_progress p = m->progress;
    bool done = m->done;
    ovs_mutex_unlock(&m->mutex);
    if (done) {
        return;
    }
    /* The domain is gone from this node once the migration is over. */
    lq_error_free(compute_with_vm(m->c, m->id, progress_op, &p));
    ovs_mutex_lock(&m->mutex);
    if (!m->done) {
        m->progress = p;
    }
    ovs_mutex_unlock(&m->mutex);
}

bool
lq_migration_get(struct lq_migration *m, struct lq_migration_progress *p,
                 struct lq_error **errorp)
{
    ovs_mutex_lock(&m->mutex);
    *p = m->progress;
    bool done = m->done;
    *errorp = done && m->error
              ? lq_error_new(m->error->code, "%s", m->error->message) : NULL;
    ovs_mutex_unlock(&m->mutex);
    return done;
}

struct seq *
lq_migration_seq(const struct lq_migration *m)
{
    return m->seq;
}

void
lq_migration_release(struct lq_migration *m)
{
    if (m) {
        migration_unref(m);
    }
}

static struct lq_error *
abort_op(virDomainPtr dom, const char *id, void *aux OVS_UNUSED)
{
    if (virDomainAbortJob(dom) < 0) {
        return compute_virt_error("aborting the migration of VM", id);
    }
    return NULL;
}

#define MIGRATION_ABORT_WAIT_MS 30000

void
compute_migrations_init(struct lq_compute *c)
{
    ovs_mutex_init(&c->migrations_mutex);
    xpthread_cond_init(&c->migrations_cond, NULL);
    ovs_list_init(&c->migrations);
}

/* The daemon is stopping: abort what still migrates (the VMs stay here)
 * and wait, a bounded time, for the threads to let go of 'c'. */
void
compute_migrations_destroy(struct lq_compute *c)
{
    ovs_mutex_lock(&c->migrations_mutex);
    struct lq_migration *m;
    LIST_FOR_EACH (m, node, &c->migrations) {
        VLOG_WARN("stopping: aborting the migration of VM %s", m->id);
        lq_error_free(compute_with_vm(c, m->id, abort_op, NULL));
    }
    long long deadline = time_msec() + MIGRATION_ABORT_WAIT_MS;
    while (!ovs_list_is_empty(&c->migrations) && time_msec() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&c->migrations_cond,
                               &c->migrations_mutex.lock, &ts);
    }
    bool left = !ovs_list_is_empty(&c->migrations);
    ovs_mutex_unlock(&c->migrations_mutex);
    if (left) {
        VLOG_ERR("a migration did not stop within %d ms",
                 MIGRATION_ABORT_WAIT_MS);
    } else {
        ovs_mutex_destroy(&c->migrations_mutex);
        xpthread_cond_destroy(&c->migrations_cond);
    }
}
