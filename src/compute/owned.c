#include <config.h>
/* owned.c: what the node makes for a VM itself, and the seed's ways of
 * naming a disk or a NIC (compute_impl.h).
 *
 * The seed's control plane names devices in its own way: a disk's volume
 * id in DiskSpec.path, a new disk by its sizeGib alone, a NIC by the
 * network it belongs on (NicSpec.network) or by a host bridge.  Before a
 * spec is validated those become what the rest of src/compute knows: a
 * volumeId disk, a port NIC, a plain bridge NIC.
 *
 * Design decisions:
 * - The ports and volumes the node makes get ids derived from (VM id,
 *   device id) (lq_vm_device_id(), a UUIDv5), so a retried CreateVM finds
 *   what an earlier one made (CreatePort and CreateVolume are idempotent
 *   by id and spec) and the spec fingerprint stays the same.  The VM's
 *   metadata marks them owned="yes": DeleteVM removes exactly those,
 *   never a port or volume the caller named.
 * - They are made inside CreateVM's create_mutex, after the checks that
 *   need nothing made (name, vCPUs, an existing VM), and removed again if
 *   anything after that fails: a failed CreateVM leaves nothing behind.
 *   Until the domain exists nothing else refers to them, so removing
 *   them is always safe.
 * - A bridge NIC may only use a bridge the operator listed in
 *   hypervisor.bridges: the caller never picks a host device freely. */
#include "compute_impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "limiquantix/network.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_owned);

/* ---- From the caller's fields (no side effects) ------------------------- */

struct lq_error *
compute_prepare_disk(const struct lq_compute *c, const char *vm_id,
                     struct lq_disk_spec *d, const char *field)
{
    if (d->path && d->path[0] != '/') {
        /* The seed's caller: "Path: disk.GetVolumeId()". */
        if (d->volume_id) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.path: a volume id "
                                "here and volumeId too: give one", field);
        }
        d->volume_id = d->path;
        d->path = NULL;
        d->volume_in_path = true;
        return NULL;
    }
    bool image = d->image_volume_id || d->image_snapshot_id;
    if (d->path || d->volume_id || (!d->size_gib && !image) || !d->id) {
        return NULL;            /* Or left to lq_disk_spec_validate(). */
    }
    if (image && (!d->image_volume_id || !d->image_snapshot_id)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.%s: required with %s",
                            field, d->image_volume_id ? "imageSnapshotId"
                            : "imageVolumeId", d->image_volume_id
                            ? "imageVolumeId" : "imageSnapshotId");
    }
    if (image && !c->backends.storage) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "%s.imageVolumeId: this "
                            "node has no storage", field);
    }
    if (!image && (!c->backends.storage || !c->default_pool)) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "%s.sizeGib: this node "
                            "has no storage.default_pool (node.yaml) to make "
                            "a new volume in; give path or volumeId", field);
    }
    char id[37];
    lq_vm_device_id(vm_id, "disk", d->id, id);
    d->volume_id = xstrdup(id);
    d->owned = true;
    return NULL;
}

struct lq_error *
compute_prepare_nic(const struct lq_compute *c, const char *vm_id,
                    struct lq_nic_spec *n, const char *field)
{
    if (n->network_id[0] && !n->port_id[0] && n->id) {
        lq_vm_device_id(vm_id, "nic", n->id, n->port_id);
        n->owned = true;
    }
    if (n->host_bridge && !n->port_id[0] && !n->network_id[0]) {
        if (!sset_contains(&c->bridges, n->host_bridge)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.bridge: not one of "
                                "this node's hypervisor.bridges (node.yaml)",
                                field);
        }
        if (n->id) {
            lq_nic_bridge_tap_name(vm_id, n->id, n->bridge_dev);
        }
        ovs_strlcpy(n->mac, n->req_mac, sizeof n->mac);
    }
    return NULL;
}

struct lq_error *
compute_prepare_devices(const struct lq_compute *c, struct lq_vm_spec *s)
{
    struct lq_error *e = NULL;
    for (size_t i = 0; !e && i < s->n_disks; i++) {
        char *field = xasprintf("spec.disks[%zu]", i);
        e = compute_prepare_disk(c, s->id, &s->disks[i], field);
        free(field);
    }
    for (size_t i = 0; !e && i < s->n_nics; i++) {
        char *field = xasprintf("spec.nics[%zu]", i);
        e = compute_prepare_nic(c, s->id, &s->nics[i], field);
        free(field);
    }
    return e;
}

/* ---- Making and removing them ------------------------------------------- */

/* The display name of what the node makes for device 'dev' of VM 'vm':
 * "vm-VM-DEV" (both checked ids: no '/' or '@'). */
static char *
owned_name(const char *vm_id, const char *dev_id)
{
    return xasprintf("vm-%s-%s", vm_id, dev_id);
}

struct lq_error *
compute_make_owned_disk(struct lq_compute *c, const char *vm_id,
                        const struct lq_disk_spec *d, const char *field)
{
    char *name = owned_name(vm_id, d->id);
    struct lq_volume_spec vs = {
        .id = d->volume_id,
        .pool_id = c->default_pool,
        .name = name,
        .size_bytes = d->size_gib << 30,
    };
    struct lq_volume_info *base = NULL;
    struct lq_error *e = NULL;
    if (d->image_volume_id) {
        /* A linked clone, as Nova's image cache: in the image's pool. */
        e = lq_volume_get(c->backends.storage, d->image_volume_id, &base);
        if (e) {
            free(name);
            return lq_error_prefix(e, "%s.imageVolumeId", field);
        }
        vs.pool_id = base->pool_id;
        vs.source_volume_id = d->image_volume_id;
        vs.source_snapshot_id = d->image_snapshot_id;
    }
    e = lq_volume_create(c->backends.storage, &vs, NULL);
    free(name);
    if (e) {
        e = lq_error_prefix(e, "%s.%s: making volume %s in pool %s", field,
                            base ? "imageSnapshotId" : "sizeGib",
                            d->volume_id, vs.pool_id);
    } else if (base) {
        VLOG_INFO("VM %s: cloned volume %s from %s@%s in pool %s for disk "
                  "%s", vm_id, d->volume_id, d->image_volume_id,
                  d->image_snapshot_id, vs.pool_id, d->id);
    } else {
        VLOG_INFO("VM %s: made volume %s (%"PRIu64" GiB) in pool %s for "
                  "disk %s", vm_id, d->volume_id, d->size_gib, vs.pool_id,
                  d->id);
    }
    lq_volume_info_free(base);
    return e;
}

static struct json *
default_sg_rule(const char *id, const char *direction, const char *ethertype,
                bool from_group)
{
    struct json *r = json_object_create();
    json_object_put_string(r, "id", id);
    json_object_put_string(r, "direction", direction);
    json_object_put_string(r, "ethertype", ethertype);
    if (from_group) {
        json_object_put_string(r, "remoteGroupId", LQ_DEFAULT_SG_ID);
    }
    return r;
}

/* The "default" security group of the ports the node makes, as Neutron
 * gives a port without groups its project's default: all egress, ingress
 * only from ports in the same group.  Without a group, port security lets
 * only ARP, DHCP and ND through.  The same id and spec on every node
 * (CreateSecurityGroup is idempotent by them). */
static struct lq_error *
ensure_default_sg(struct lq_compute *c)
{
    struct json *rules = json_array_create_empty();
    json_array_add(rules, default_sg_rule(
        "0d1c6e58-5a43-5c2f-9a4e-3b1f2c7d0001", "egress", "IPv4", false));
    json_array_add(rules, default_sg_rule(
        "0d1c6e58-5a43-5c2f-9a4e-3b1f2c7d0002", "egress", "IPv6", false));
    json_array_add(rules, default_sg_rule(
        "0d1c6e58-5a43-5c2f-9a4e-3b1f2c7d0003", "ingress", "IPv4", true));
    json_array_add(rules, default_sg_rule(
        "0d1c6e58-5a43-5c2f-9a4e-3b1f2c7d0004", "ingress", "IPv6", true));
    struct json *req = json_object_create();
    json_object_put_string(req, "id", LQ_DEFAULT_SG_ID);
    json_object_put_string(req, "name", "default");
    json_object_put_string(req, "description", "ports limiquantix-node "
                           "makes for NICs given by network: all egress, "
                           "ingress from the same group");
    json_object_put(req, "rules", rules);
    struct json *sg = NULL;
    struct lq_error *e = lq_network_call_threaded(
        c->backends.network, "CreateSecurityGroup", req, &sg);
    json_destroy(req);
    json_destroy(sg);
    return e ? lq_error_prefix(e, "the default security group") : NULL;
}

struct lq_error *
compute_make_owned_nic(struct lq_compute *c, const char *vm_id,
                       const struct lq_nic_spec *n, const char *field)
{
    if (!c->backends.network) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "%s.network: this node "
                            "runs no network service", field);
    }
    struct lq_error *sg_error = ensure_default_sg(c);
    if (sg_error) {
        return lq_error_prefix(sg_error, "%s.network", field);
    }
    char *name = owned_name(vm_id, n->id);
    struct json *req = json_object_create();
    json_object_put_string(req, "id", n->port_id);
    json_object_put_string(req, "networkId", n->network_id);
    json_object_put_string(req, "name", name);
    struct json *groups = json_array_create_empty();
    json_array_add(groups, json_string_create(LQ_DEFAULT_SG_ID));
    json_object_put(req, "securityGroupIds", groups);
    if (n->req_mac[0]) {
        json_object_put_string(req, "macAddress", n->req_mac);
    }
    free(name);
    struct json *port = NULL;
    struct lq_error *e = lq_network_call_threaded(c->backends.network,
                                                  "CreatePort", req, &port);
    json_destroy(req);
    json_destroy(port);
    if (!e) {
        VLOG_INFO("VM %s: made port %s on network %s for NIC %s", vm_id,
                  n->port_id, n->network_id, n->id);
        return NULL;
    }
    if (e->code == LQ_INVALID_ARGUMENT
        && !strncmp(e->message, "networkId:", 10)) {
        lq_error_free(e);
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.network: no network %s",
                            field, n->network_id);
    }
    if (!strncmp(e->message, "macAddress: ", 12)) {
        struct lq_error *m = lq_error_new(e->code, "%s.macAddress: %s",
                                          field, e->message + 12);
        lq_error_free(e);
        return m;
    }
    return lq_error_prefix(e, "%s.network", field);
}

struct lq_error *
compute_delete_owned_port(struct lq_compute *c, const char *port_id)
{
    if (!c->backends.network) {
        return NULL;
    }
    struct json *req = json_object_create();
    json_object_put_string(req, "id", port_id);
    struct json *resp = NULL;
    struct lq_error *e = lq_network_call_threaded(c->backends.network,
                                                  "DeletePort", req, &resp);
    json_destroy(req);
    json_destroy(resp);
    if (e && e->code == LQ_NOT_FOUND) {
        lq_error_free(e);
        e = NULL;
    }
    return e ? lq_error_prefix(e, "deleting port %s", port_id) : NULL;
}

struct lq_error *
compute_delete_owned_volume(struct lq_compute *c, const char *volume_id)
{
    if (!c->backends.storage) {
        return NULL;
    }
    struct lq_error *e = lq_volume_delete(c->backends.storage, volume_id,
                                          false);
    if (e && e->code == LQ_NOT_FOUND) {
        lq_error_free(e);
        e = NULL;
    }
    return e ? lq_error_prefix(e, "deleting volume %s", volume_id) : NULL;
}

struct lq_error *
compute_make_owned(struct lq_compute *c, const struct lq_vm_spec *s)
{
    struct lq_error *e = NULL;
    for (size_t i = 0; !e && i < s->n_disks; i++) {
        if (s->disks[i].owned) {
            char *field = xasprintf("spec.disks[%zu]", i);
            e = compute_make_owned_disk(c, s->id, &s->disks[i], field);
            free(field);
        }
    }
    for (size_t i = 0; !e && i < s->n_nics; i++) {
        if (s->nics[i].owned) {
            char *field = xasprintf("spec.nics[%zu]", i);
            e = compute_make_owned_nic(c, s->id, &s->nics[i], field);
            free(field);
        }
    }
    if (e) {
        compute_remove_owned(c, s);
    }
    return e;
}

void
compute_remove_owned(struct lq_compute *c, const struct lq_vm_spec *s)
{
    for (size_t i = 0; i < s->n_nics; i++) {
        if (s->nics[i].owned) {
            struct lq_error *e = compute_delete_owned_port(
                c, s->nics[i].port_id);
            if (e) {
                VLOG_WARN("VM %s not created, and %s", s->id, e->message);
                lq_error_free(e);
            }
        }
    }
    for (size_t i = 0; i < s->n_disks; i++) {
        if (s->disks[i].owned) {
            struct lq_error *e = compute_delete_owned_volume(
                c, s->disks[i].volume_id);
            if (e) {
                VLOG_WARN("VM %s not created, and %s", s->id, e->message);
                lq_error_free(e);
            }
        }
    }
}
