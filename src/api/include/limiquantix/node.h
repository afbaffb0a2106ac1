/* limiquantix/node.h: the node service as a C API.
 *
 * A `struct lq_node` is one in-process node service: the daemon creates one
 * and its RPC handlers are thin wrappers over these functions, so tests and
 * other programs can call exactly the same code without HTTP.
 *
 * Ownership: every `*_get_*` that fills a caller-provided pointer hands over
 * a new object that the caller frees with the matching `*_free`.  Errors
 * follow limiquantix/error.h. */
#ifndef LIMIQUANTIX_NODE_H
#define LIMIQUANTIX_NODE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "limiquantix/config.h"
#include "limiquantix/dpdk.h"
#include "limiquantix/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lq_node;

/* Creates a node service from 'config' (copied by reference: 'config' must
 * outlive the node).  Resolves the node id and hostname once. */
struct lq_error *lq_node_create(const struct lq_config *config,
                                struct lq_node **nodep);
void lq_node_destroy(struct lq_node *);

const struct lq_config *lq_node_config(const struct lq_node *);
const char *lq_node_id(const struct lq_node *);
const char *lq_node_hostname(const struct lq_node *);
const char *lq_node_management_ip(const struct lq_node *);

/* Subsystems the node owns once the daemon (or a test) attaches them; NULL
 * until then.  The node does not free them. */
struct lq_storage;
struct lq_network;
void lq_node_set_storage(struct lq_node *, struct lq_storage *);
struct lq_storage *lq_node_storage(const struct lq_node *);
void lq_node_set_network(struct lq_node *, struct lq_network *);
struct lq_network *lq_node_network(const struct lq_node *);

/* HealthCheck. */
struct lq_health {
    bool healthy;               /* Checked, and no problem found. */
    char *version;              /* limiquantix-node version. */
    char *hypervisor;           /* "libvirt". */
    char *hypervisor_version;   /* libvirt library version, "9.0.0". */
    uint64_t uptime_seconds;    /* Since lq_node_create(). */
    char **problems;            /* "libvirt: ...", "pool ceph: ...". */
    size_t n_problems;
    int64_t checked_unix;       /* When the dependencies were last checked;
                                 * 0: not yet (then unhealthy). */
};
struct lq_error *lq_node_health_check(struct lq_node *, struct lq_health *);
void lq_health_clear(struct lq_health *);

/* The result of the last check of the node's dependencies (libvirt, the
 * OVN and Open_vSwitch databases, every storage pool), made by the daemon
 * every few seconds (daemon/health.c): HealthCheck reports it and the
 * heartbeat its running VM count.  Takes ownership of 'problems' (n
 * strings, the array from malloc). */
void lq_node_set_health(struct lq_node *, char **problems, size_t n,
                        uint32_t running_vms);

/* GetNodeInfo. */
struct lq_cpu_info {
    char *model;
    uint32_t sockets;
    uint32_t cores_per_socket;
    uint32_t threads_per_core;
    uint32_t total_threads;
    uint64_t frequency_mhz;
    char **features;            /* CPU flags, in /proc/cpuinfo order. */
    size_t n_features;
};

struct lq_memory_info {
    uint64_t total_bytes;
    uint64_t available_bytes;
    uint64_t used_bytes;        /* total - available. */
};

struct lq_filesystem_info {
    char *device;
    char *mount_point;
    char *filesystem;
    uint64_t total_bytes;
    uint64_t used_bytes;
    uint64_t available_bytes;   /* For unprivileged users (f_bavail). */
};

struct lq_disk_info {
    char *name;                 /* "vda" */
    uint64_t size_bytes;
    bool rotational;
    char *model;                /* May be "". */
};

struct lq_nic_info {
    char *name;
    char *mac_address;          /* "" for links without one. */
    char **ip_addresses;        /* Plain addresses, IPv4 and IPv6. */
    size_t n_ip_addresses;
    uint64_t speed_mbps;        /* 0 when unknown (virtual links). */
    uint32_t mtu;
    bool up;                    /* Operationally up (carrier). */
};

/* What VMs on this node can have (GetNodeInfo's capabilities), all
 * false / 0 unless really supported or known. */
struct lq_hypervisor_caps {
    bool live_migration;        /* MigrateVM can name a peer. */
    bool snapshots;             /* CreateSnapshot (volume disks). */
    bool hotplug;               /* AttachDisk / AttachNIC on a running VM. */
    bool gpu_passthrough;
    bool nested_virt;           /* kvm_intel / kvm_amd "nested". */
    uint32_t max_vcpus;         /* Largest VM CreateVM accepts; 0: unknown. */
    uint64_t max_memory_bytes;  /* Likewise. */
    /* What new VMs get: "kvm" or "qemu" (TCG), "" unknown; the machine
     * type; the guest CPU mode ("" QEMU's default). */
    char virt_type[8];
    char machine[65];
    char cpu_mode[24];
};
/* Fills the hypervisor's part of 'caps' (everything but nested_virt,
 * which the node reads from sysfs).  May block. */
typedef void lq_hypervisor_caps_fn(void *aux, struct lq_hypervisor_caps *);
/* Where GetNodeInfo gets it (the daemon sets compute's); without one only
 * nested_virt is filled. */
void lq_node_set_hypervisor_caps(struct lq_node *, lq_hypervisor_caps_fn *,
                                 void *aux);

struct lq_node_info {
    char *node_id;
    char *hostname;
    char *management_ip;
    struct lq_cpu_info cpu;
    struct lq_memory_info memory;
    struct lq_filesystem_info *filesystems;
    size_t n_filesystems;
    struct lq_disk_info *disks;
    size_t n_disks;
    struct lq_nic_info *nics;
    size_t n_nics;
    char *hypervisor;
    char *hypervisor_version;
    struct lq_hypervisor_caps caps;
    const char *datapath;       /* lq_node_datapath(), static. */
    struct lq_hugepages hugepages;  /* Every page size, even unused. */
    cpu_set_t pmd_cores;        /* dpdk.pmd_cores; empty unless
                                 * dpdk.enabled. */
};

/* The packet datapath this node runs VM ports on, for the control plane:
 * "dpdk" with dpdk.enabled, "userspace" with network.datapath_type netdev
 * (always in --sandbox), else "kernel". */
const char *lq_node_datapath(const struct lq_node *);

/* Reads the host (procfs, sysfs, netlink).  Blocking: the daemon runs it on
 * its worker pool. */
struct lq_error *lq_node_get_info(struct lq_node *, struct lq_node_info **);
void lq_node_info_free(struct lq_node_info *);

/* Load and usage sampled for heartbeats. */
struct lq_node_usage {
    double cpu_usage_percent;   /* Since the previous call (0 the first). */
    uint64_t memory_used_mib;
    uint64_t memory_total_mib;
    uint32_t running_vm_count;
    double load_1m, load_5m, load_15m;
};
struct lq_error *lq_node_get_usage(struct lq_node *, struct lq_node_usage *);

/* Pure parsers, exposed for unit tests. */
struct lq_error *lq_cpuinfo_parse(const char *text, struct lq_cpu_info *);
struct lq_error *lq_meminfo_parse(const char *text, struct lq_memory_info *);
void lq_cpu_info_clear(struct lq_cpu_info *);
/* Formats a 32-hex-digit machine-id as a UUID; false if malformed. */
bool lq_machine_id_to_uuid(const char *machine_id, char uuid[37]);

#ifdef __cplusplus
}
#endif

#endif /* limiquantix/node.h */
