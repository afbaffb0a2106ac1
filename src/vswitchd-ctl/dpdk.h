/* dpdk.h: the DPDK fast path in the local Open_vSwitch database.
 *
 * What node.yaml's `dpdk` section becomes in OVS: other_config:dpdk-* and
 * pmd-cpu-mask on the Open_vSwitch row (written at start, then we wait for
 * dpdk_initialized), `type=dpdk` ports for dpdk.interfaces on their
 * bridges, and `dpdkvhostuserclient` interfaces for VM ports, whose
 * sockets live in vhost_socket_dir (QEMU is the vhost-user server, OVS the
 * client that reconnects, so either side may restart).
 *
 * The host checks (hugepages, cores, the OVS build) are in
 * limiquantix/dpdk.h and run before any of this. */
#ifndef LQ_VSWITCHD_DPDK_H
#define LQ_VSWITCHD_DPDK_H 1

#include <stdint.h>
#include "engine.h"
#include "smap.h"
#include "lq-vswitch-idl.h"

struct lq_config;

struct lq_vs_dpdk_port {
    char *name;             /* OVS port and interface name. */
    char *devargs;          /* options:dpdk-devargs: PCI address or vdev. */
    char *bridge;
};

struct lq_vs_dpdk {
    struct smap other_config;       /* The keys we own, with our values. */
    char *vhost_socket_dir;
    uint32_t hugepage_size_kb;
    struct lq_vs_dpdk_port *ports;
    size_t n_ports;
};

/* From a validated config with dpdk.enabled.  'file_prefix' (NULL: none)
 * is added to dpdk-extra as --file-prefix unless extra_eal_args has one:
 * a sandbox gets its own, so two EAL instances never share a runtime
 * directory. */
struct lq_vs_dpdk *lq_vs_dpdk_create(const struct lq_config *,
                                     const char *file_prefix);
void lq_vs_dpdk_destroy(struct lq_vs_dpdk *);

/* Writes our other_config keys onto 'ovs' and adds the dpdk.interfaces
 * ports (creating their bridges with datapath netdev).  In the chassis
 * set-up transaction. */
void lq_vs_dpdk_setup(struct lq_net_ctx *,
                      const struct vsrec_open_vswitch *ovs);
/* external_ids key on the Open_vSwitch row: "true" while the node has
 * written our other_config keys, so that a start with dpdk.enabled false
 * knows to remove them (and never removes an operator's own). */
#define LQ_VS_DPDK_MARK "limiquantix-dpdk"

/* Removes the other_config keys lq_vs_dpdk_setup() writes (the fast path
 * was turned off).  DPDK ports and bridges are left to the operator. */
void lq_vs_dpdk_remove_settings(const struct vsrec_open_vswitch *);

/* After the set-up commit: done once ovs-vswitchd reports
 * dpdk_initialized; an error names a vswitchd that is not the DPDK build,
 * and a DPDK port OVS could not open. */
struct lq_error *lq_vs_dpdk_ready(struct lq_net_ctx *, bool *done);

/* The socket of VM port device 'device': vhost_socket_dir/device. */
char *lq_vs_dpdk_socket_path(const struct lq_vs_dpdk *, const char *device);

/* Adds a dpdkvhostuserclient interface 'device' for logical port
 * 'port_id' to 'br' (see lq_vs_plug()). */
void lq_vs_plug_vhost(struct lq_net_ctx *, const struct vsrec_bridge *br,
                      const char *device, const char *port_id,
                      const char *mac, const char *vm_id);

/* Free hugepages of the configured size can hold 'memory_mib' of guest
 * memory; otherwise a failed_precondition error naming 'field'. */
struct lq_error *lq_vs_dpdk_check_memory(const struct lq_vs_dpdk *,
                                         uint64_t memory_mib,
                                         const char *field);

#endif
