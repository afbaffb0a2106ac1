/* resolve.h: where a VM's volume disks and port NICs come from.
 *
 * Before a domain is defined (or a device hot-plugged), every volumeId
 * disk gets its libvirt source from the storage subsystem and every NIC
 * its MAC from QuantumNet; a cephx key becomes a libvirt secret.  After the
 * VM starts, its ports are bound (BindPort: the tap libvirt plugged into
 * the integration bridge, then wait until OVN installed it).  Internal to
 * src/compute. */
#ifndef LQ_COMPUTE_RESOLVE_H
#define LQ_COMPUTE_RESOLVE_H 1

#include <libvirt/libvirt.h>
#include "limiquantix/compute.h"

struct lq_network;

struct lq_compute_backends {
    struct lq_storage *storage;     /* NULL: no volumeId disks. */
    struct lq_network *network;     /* NULL: no NICs. */
    char *bridge;                   /* Integration bridge. */
};

/* Fills d->source (and d->secret_uuid, defining the libvirt secret) for a
 * volumeId disk; a path disk is left alone.  'field' names the disk in
 * errors ("spec.disks[0]").  An unknown volume is invalid_argument. */
struct lq_error *lq_resolve_disk(const struct lq_compute_backends *,
                                 virConnectPtr, struct lq_disk_spec *,
                                 const char *field);

/* Fills n->mac and n->bridge from the port; failed_precondition if the
 * port is bound to another VM. */
struct lq_error *lq_resolve_nic(const struct lq_compute_backends *,
                                struct lq_nic_spec *, const char *vm_id,
                                const char *field);

/* True when the node's network runs the DPDK fast path: NICs are
 * vhost-user and guests need shared hugepage memory. */
bool lq_compute_fast_path(const struct lq_compute_backends *);
/* The fast path's hugepage size in MiB; 0 without the fast path. */
uint64_t lq_compute_hugepage_mib(const struct lq_compute_backends *);

/* BindPort / UnbindPort for a VM NIC (its tap, lq_nic_tap_name(); on the
 * fast path the vhost-user port of that name, checked against the VM's
 * 'memory_mib' of hugepages unless 0). */
struct lq_error *lq_port_bind(const struct lq_compute_backends *,
                              const char *port_id, const char *vm_id,
                              uint64_t memory_mib);
struct lq_error *lq_port_unbind(const struct lq_compute_backends *,
                                const char *port_id);

/* The cephx key of 'user' in the keyring file 'path', base64 as written
 * there.  Caller frees.  Exposed for unit tests. */
struct lq_error *lq_ceph_keyring_key(const char *path, const char *user,
                                     char **keyp);

#endif
