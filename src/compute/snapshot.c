#include <config.h>
/* snapshot.c: VM snapshots (see limiquantix/compute.h).
 *
 * Design decisions:
 * - A VM snapshot is a storage snapshot of every volume disk, taken
 *   together, plus a record in our domain metadata.  libvirt's own
 *   snapshots would not do: internal snapshots need qcow2 and external
 *   ones files, while our disks are RBD images (and later LVs and LUNs)
 *   that their storage backends snapshot natively (as Proxmox VE and
 *   Cinder do).  A VM with a plain-path disk cannot be snapshotted.
 * - A running VM is paused for the few storage calls, so every volume is
 *   captured at the same instant: crash-consistent, like pulling the plug.
 *   Guest memory is not saved.
 * - The storage snapshot ids are derived from the VM snapshot id and the
 *   volume id (lq_vm_snapshot_volume_id()), so a create that failed
 *   half-way is undone, and a retried delete finds what is left.
 * - Revert needs the VM stopped (the volumes must not be open) and every
 *   volume of the snapshot still attached; disks attached since keep
 *   their data. */
#include "compute_impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/virterror.h>

#include "openvswitch/vlog.h"
#include "util.h"
#include "uuid.h"

VLOG_DEFINE_THIS_MODULE(compute_snapshot);

#define MAX_SNAPSHOTS 64
#define MAX_NAME_LEN 128
#define MAX_DESCRIPTION_LEN 1024

struct snap_aux {
    struct lq_compute *c;
    const char *snap_id;
    const char *name;
    const char *description;
    bool quiesce;                       /* Create. */
    struct lq_vm_snapshot *out;         /* Create. */
    struct lq_vm_snapshot **list;       /* List. */
    size_t *n;
};

static void
snapshot_copy(const struct lq_vm_snapshot *from, struct lq_vm_snapshot *to)
{
    memset(to, 0, sizeof *to);
    ovs_strlcpy(to->id, from->id, sizeof to->id);
    to->name = nullable_xstrdup(from->name);
    to->description = nullable_xstrdup(from->description);
    to->created = from->created;
    ovs_strlcpy(to->parent_id, from->parent_id, sizeof to->parent_id);
    to->vm_state = from->vm_state;
    to->quiesced = from->quiesced;
    for (size_t i = 0; i < from->n_disks; i++) {
        lq_vm_metadata_add(&to->disks, &to->n_disks, from->disks[i].id,
                           from->disks[i].ref, false);
    }
}

static const struct lq_vm_snapshot *
find_snapshot(const struct lq_vm_metadata *m, const char *id)
{
    for (size_t i = 0; i < m->n_snapshots; i++) {
        if (!strcmp(m->snapshots[i].id, id)) {
            return &m->snapshots[i];
        }
    }
    return NULL;
}

static struct lq_error *
need_storage(struct lq_compute *c)
{
    return c->backends.storage ? NULL
           : lq_error_new(LQ_FAILED_PRECONDITION, "this node has no storage "
                          "pools: VM snapshots are volume snapshots");
}

/* Removes the storage snapshots of 'sn' (those that exist). */
static struct lq_error *
delete_volume_snapshots(struct lq_compute *c, const struct lq_vm_snapshot *sn,
                        size_t n_disks)
{
    for (size_t i = 0; i < n_disks; i++) {
        char sid[36];
        lq_vm_snapshot_volume_id(sn->id, sn->disks[i].ref, sid);
        struct lq_error *e = lq_snapshot_delete(c->backends.storage,
                                                sn->disks[i].ref, sid, false);
        if (e && e->code != LQ_NOT_FOUND) {
            return e;
        }
        lq_error_free(e);
    }
    return NULL;
}

static struct lq_error *
create_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct snap_aux *aux = aux_;
    struct lq_compute *c = aux->c;
    struct lq_vm_metadata m;
    struct lq_error *e = compute_get_metadata(dom, id, &m);
    if (e) {
        return e;
    }

    const struct lq_vm_snapshot *old = find_snapshot(&m, aux->snap_id);
    if (old) {
        /* Idempotent: the same request returns the snapshot. */
        if (strcmp(old->name, aux->name)) {
            e = lq_error_new(LQ_ALREADY_EXISTS, "snapshotId: VM %s has a "
                             "snapshot %s named \"%s\"", id, aux->snap_id,
                             old->name);
        } else {
            snapshot_copy(old, aux->out);
        }
        lq_vm_metadata_clear(&m);
        return e;
    }
    if (m.n_snapshots >= MAX_SNAPSHOTS) {
        e = lq_error_new(LQ_RESOURCE_EXHAUSTED, "VM %s has %d snapshots, the "
                         "most it may have", id, MAX_SNAPSHOTS);
    } else if (!m.n_disks) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "vmId: VM %s has no disks "
                         "to snapshot", id);
    }
    for (size_t i = 0; !e && i < m.n_disks; i++) {
        if (!m.disks[i].ref[0]) {
            e = lq_error_new(LQ_FAILED_PRECONDITION, "vmId: disk %s of VM %s "
                             "is a path, not a volume: only volume disks "
                             "can be snapshotted", m.disks[i].id, id);
        }
    }
    if (e) {
        lq_vm_metadata_clear(&m);
        return e;
    }

    struct lq_vm_snapshot sn;
    memset(&sn, 0, sizeof sn);
    ovs_strlcpy(sn.id, aux->snap_id, sizeof sn.id);
    sn.name = xstrdup(aux->name);
    sn.description = xstrdup(aux->description);
    sn.created = time(NULL);
    if (m.n_snapshots) {
        ovs_strlcpy(sn.parent_id, m.snapshots[m.n_snapshots - 1].id,
                    sizeof sn.parent_id);
    }
    for (size_t i = 0; i < m.n_disks; i++) {
        lq_vm_metadata_add(&sn.disks, &sn.n_disks, m.disks[i].id,
                           m.disks[i].ref, false);
    }

    /* Pause a running VM so every volume is taken at the same instant.
     * Quiesced: its agent first flushes and freezes the guest's file
     * systems (an agent cannot answer while paused), thawed after it
     * resumes.  A stopped VM's disks are consistent as they are. */
    virDomainInfo info;
    bool paused_here = false, frozen = false;
    if (virDomainGetInfo(dom, &info) < 0) {
        e = compute_virt_error("reading the state of VM", id);
    } else {
        sn.vm_state = compute_state_from_virt(info.state);
        if (aux->quiesce && info.state == VIR_DOMAIN_PAUSED) {
            e = lq_error_new(LQ_FAILED_PRECONDITION, "quiesce: VM %s is "
                             "paused: its guest agent cannot freeze file "
                             "systems (ResumeVM, or snapshot without "
                             "quiesce)", id);
        } else if (aux->quiesce && info.state == VIR_DOMAIN_RUNNING) {
            e = compute_agent_freeze(dom, id);
            frozen = sn.quiesced = !e;
        }
    }
    if (!e && info.state == VIR_DOMAIN_RUNNING) {
        if (virDomainSuspend(dom) < 0) {
            e = compute_virt_error("pausing VM", id);
        } else {
            paused_here = true;
        }
    }
    size_t done = 0;
    for (; !e && done < sn.n_disks; done++) {
        char sid[36];
        lq_vm_snapshot_volume_id(sn.id, sn.disks[done].ref, sid);
        e = lq_snapshot_create(c->backends.storage, sn.disks[done].ref, sid,
                               sn.name, NULL);
        if (e) {
            lq_error_prefix(e, "snapshot of disk %s", sn.disks[done].id);
        }
    }
    if (paused_here && virDomainResume(dom) < 0) {
        VLOG_WARN("VM %s: cannot resume after its snapshot: %s", id,
                  virGetLastErrorMessage());
    }
    if (frozen) {
        struct lq_error *thaw = compute_agent_thaw(dom, id);
        if (thaw && !e) {
            /* The volumes are consistent, but the guest stays frozen:
             * the caller must hear of it. */
            e = thaw;
        } else {
            lq_error_free(thaw);
        }
    }

    unsigned int flags = 0;
    if (!e) {
        e = compute_device_flags(dom, id, &flags);
    }
    if (!e) {
        m.snapshots = xrealloc(m.snapshots,
                               (m.n_snapshots + 1) * sizeof *m.snapshots);
        snapshot_copy(&sn, &m.snapshots[m.n_snapshots++]);
        e = compute_save_metadata(dom, id, &m, flags);
    }
    if (e) {
        /* Nothing half-made: remove the storage snapshots taken. */
        struct lq_error *e2 = delete_volume_snapshots(c, &sn, done);
        if (e2) {
            VLOG_WARN("VM %s: snapshot %s failed and cleaning up failed too:"
                      " %s", id, sn.id, e2->message);
            lq_error_free(e2);
        }
    } else {
        VLOG_INFO("VM %s: snapshot %s (\"%s\") of %zu volumes", id, sn.id,
                  sn.name, sn.n_disks);
        *aux->out = sn;
        memset(&sn, 0, sizeof sn);
    }
    lq_vm_snapshot_clear(&sn);
    lq_vm_metadata_clear(&m);
    return e;
}

struct lq_error *
lq_compute_create_snapshot(struct lq_compute *c, const char *vm_id,
                           const char *snap_id, const char *name,
                           const char *description, bool quiesce,
                           struct lq_vm_snapshot *out)
{
    char id[37];
    memset(out, 0, sizeof *out);
    if (snap_id && *snap_id) {
        struct uuid u;
        if (!uuid_from_string(&u, snap_id)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "snapshotId: expected a "
                                "UUID");
        }
        snprintf(id, sizeof id, UUID_FMT, UUID_ARGS(&u));
    } else {
        struct uuid u;
        uuid_generate(&u);
        snprintf(id, sizeof id, UUID_FMT, UUID_ARGS(&u));
    }
    if (!name || !*name || strlen(name) > MAX_NAME_LEN) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "name: expected 1-%d bytes",
                            MAX_NAME_LEN);
    }
    if (description && strlen(description) > MAX_DESCRIPTION_LEN) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "description: at most %d "
                            "bytes", MAX_DESCRIPTION_LEN);
    }
    struct lq_error *e = need_storage(c);
    if (e) {
        return e;
    }
    struct snap_aux aux = { .c = c, .snap_id = id, .name = name,
                            .description = description ? description : "",
                            .quiesce = quiesce, .out = out };
    ovs_mutex_lock(&c->create_mutex);   /* One metadata writer at a time. */
    e = compute_with_vm(c, vm_id, create_op, &aux);
    ovs_mutex_unlock(&c->create_mutex);
    return e;
}

static struct lq_error *
revert_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct snap_aux *aux = aux_;
    struct lq_vm_metadata m;
    struct lq_error *e = compute_get_metadata(dom, id, &m);
    if (e) {
        return e;
    }
    const struct lq_vm_snapshot *sn = find_snapshot(&m, aux->snap_id);
    int active = virDomainIsActive(dom);
    if (!sn) {
        e = lq_error_new(LQ_NOT_FOUND, "snapshotId: VM %s has no snapshot %s",
                         id, aux->snap_id);
    } else if (active != 0) {
        e = active < 0 ? compute_virt_error("reading the state of VM", id)
            : lq_error_new(LQ_FAILED_PRECONDITION, "vmId: VM %s is running; "
                           "stop it before reverting it to a snapshot", id);
    }
    /* Every volume of the snapshot must still be one of the VM's disks. */
    for (size_t i = 0; !e && i < sn->n_disks; i++) {
        bool attached = false;
        for (size_t k = 0; k < m.n_disks; k++) {
            attached |= !strcmp(m.disks[k].ref, sn->disks[i].ref);
        }
        if (!attached) {
            e = lq_error_new(LQ_FAILED_PRECONDITION, "snapshotId: volume %s "
                             "of snapshot %s is no longer attached to VM %s",
                             sn->disks[i].ref, sn->id, id);
        }
    }
    for (size_t i = 0; !e && i < sn->n_disks; i++) {
        char sid[36];
        lq_vm_snapshot_volume_id(sn->id, sn->disks[i].ref, sid);
        e = lq_snapshot_rollback(aux->c->backends.storage, sn->disks[i].ref,
                                 sid);
        if (e) {
            lq_error_prefix(e, "reverting disk %s", sn->disks[i].id);
        }
    }
    if (!e) {
        VLOG_INFO("VM %s reverted to snapshot %s", id, sn->id);
    }
    lq_vm_metadata_clear(&m);
    return e;
}

/* Runs 'op' for snapshot 'snap_id' of VM 'vm_id', one metadata writer at
 * a time. */
static struct lq_error *
with_snapshot(struct lq_compute *c, const char *vm_id, const char *snap_id,
              struct lq_error *(*op)(virDomainPtr, const char *, void *))
{
    struct lq_error *e = need_storage(c);
    if (e) {
        return e;
    }
    struct snap_aux aux = { .c = c, .snap_id = snap_id };
    ovs_mutex_lock(&c->create_mutex);
    e = compute_with_vm(c, vm_id, op, &aux);
    ovs_mutex_unlock(&c->create_mutex);
    return e;
}

struct lq_error *
lq_compute_revert_snapshot(struct lq_compute *c, const char *vm_id,
                           const char *snap_id)
{
    return with_snapshot(c, vm_id, snap_id, revert_op);
}

static struct lq_error *
delete_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct snap_aux *aux = aux_;
    struct lq_vm_metadata m;
    unsigned int flags = 0;
    struct lq_error *e = compute_get_metadata(dom, id, &m);
    if (e) {
        return e;
    }
    size_t i;
    for (i = 0; i < m.n_snapshots; i++) {
        if (!strcmp(m.snapshots[i].id, aux->snap_id)) {
            break;
        }
    }
    if (i < m.n_snapshots) {
        struct lq_vm_snapshot *sn = &m.snapshots[i];
        e = delete_volume_snapshots(aux->c, sn, sn->n_disks);
        if (!e) {
            e = compute_device_flags(dom, id, &flags);
        }
        if (!e) {
            lq_vm_snapshot_clear(sn);
            memmove(sn, sn + 1, (m.n_snapshots - i - 1) * sizeof *sn);
            m.n_snapshots--;
            e = compute_save_metadata(dom, id, &m, flags);
        }
        if (!e) {
            VLOG_INFO("VM %s: deleted snapshot %s", id, aux->snap_id);
        }
    }
    /* Deleting a snapshot that does not exist succeeds. */
    lq_vm_metadata_clear(&m);
    return e;
}

struct lq_error *
lq_compute_delete_snapshot(struct lq_compute *c, const char *vm_id,
                           const char *snap_id)
{
    return with_snapshot(c, vm_id, snap_id, delete_op);
}

static struct lq_error *
list_op(virDomainPtr dom, const char *id, void *aux_)
{
    struct snap_aux *aux = aux_;
    struct lq_vm_metadata m;
    struct lq_error *e = compute_get_metadata(dom, id, &m);
    if (!e) {
        *aux->list = m.snapshots;
        *aux->n = m.n_snapshots;
        m.snapshots = NULL;
        m.n_snapshots = 0;
    }
    lq_vm_metadata_clear(&m);
    return e;
}

struct lq_error *
lq_compute_list_snapshots(struct lq_compute *c, const char *vm_id,
                          struct lq_vm_snapshot **list, size_t *n)
{
    *list = NULL;
    *n = 0;
    struct snap_aux aux = { .c = c, .list = list, .n = n };
    return compute_with_vm(c, vm_id, list_op, &aux);
}
