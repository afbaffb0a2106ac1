/* limiquantix/config.h: the node's configuration (node.yaml).
 *
 * The YAML file is parsed against a fixed schema: an unknown key, a value of
 * the wrong type or out of range is an error naming the file, line and key,
 * and nothing is half-loaded.  Every key and its default is documented in
 * docs/config.md.  All strings are owned by the lq_config. */
#ifndef LIMIQUANTIX_CONFIG_H
#define LIMIQUANTIX_CONFIG_H 1

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include "limiquantix/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LQ_CONFIG_DEFAULT_PATH "/etc/limiquantix/node.yaml"

/* An ordered list of key/value strings (labels, bridge mappings, ...). */
struct lq_kv {
    char *key;
    char *value;
};
struct lq_kv_list {
    struct lq_kv *items;
    size_t n;
};
const char *lq_kv_list_get(const struct lq_kv_list *, const char *key);

/* One entry of storage.pools: 'id' and 'backend' are common; the keys each
 * backend understands are validated at load time and kept in 'params'. */
struct lq_pool_config {
    char *id;
    char *backend;              /* "rbd", "lvm-thin", "nfs", "iscsi", "local" */
    struct lq_kv_list params;
    int line;                   /* Where it was declared, for later errors. */
};

/* One entry of dpdk.interfaces: exactly one of 'pci' and 'vdev' is set. */
struct lq_dpdk_interface_config {
    char *name;                 /* Unique, 1..15 of [A-Za-z0-9_.-]. */
    char *pci;                  /* Full form "0000:03:00.0", or NULL. */
    char *vdev;                 /* "net_af_xdp0,iface=eth1", or NULL. */
    char *bridge;               /* OVS bridge; NULL: the bridge of the first
                                 * network.bridge_mappings entry. */
    int line;
};

#define LQ_DPDK_DEFAULT_VHOST_DIR "/var/run/limiquantix/vhost"
#define LQ_DEFAULT_STATE_DIR "/var/lib/limiquantix/vms"

struct lq_config {
    char *source;               /* File it came from, or NULL for defaults. */

    struct {
        char *id;               /* NULL: derived from /etc/machine-id. */
        char *hostname;         /* NULL: gethostname(). */
        char *management_ip;    /* NULL: detected from the default route. */
        struct lq_kv_list labels;
    } node;

    struct {
        char *listen_address;   /* "0.0.0.0:9090"; "" disables TCP. */
        int metrics_port;       /* 9091; 0 disables metrics. */
        char *unix_socket;      /* "/run/limiquantix/node.sock"; "" disables. */
        int max_request_bytes;  /* 4 MiB. */
        int worker_threads;     /* 4. */
    } server;

    struct {
        char *backend;          /* "libvirt". */
        char *libvirt_uri;      /* "qemu:///system". */
        /* "auto" (default: KVM when /dev/kvm opens and libvirt reports
         * kvm domains), "kvm" (required: refused if unusable) or "qemu"
         * (TCG, emulated). */
        char *virt_type;
        /* Machine type; NULL: "q35" with KVM, "pc" under TCG. */
        char *machine;
        /* Guest CPU with KVM: "host-model" (default, Nova's), 
         * "host-passthrough" or "custom" (with cpu_model); NULL: the
         * default.  Under TCG QEMU's own model unless "custom". */
        char *cpu_mode;
        char *cpu_model;        /* Needed by (only with) cpu_mode custom. */
        /* How long a GetConsole token opens the console WebSocket (once);
         * default 60 s. */
        int console_token_seconds;
        /* The only directories whose files (kernels, initrds, ISOs, disk
         * images, import sources) the API may name; absolute.  Default
         * none; --sandbox DIR adds DIR/images. */
        char **image_dirs;
        size_t n_image_dirs;
        /* Per-VM files the node makes itself (serial logs): one directory
         * per VM below it.  LQ_DEFAULT_STATE_DIR; absolute. */
        char *state_dir;
        /* Host bridges a plain bridge NIC (NicSpec.bridge, no port) may
         * use; default none. */
        char **bridges;
        size_t n_bridges;
        struct {
            /* Libvirt URI scheme for a peer given by address:
             * SCHEME://ADDRESS/system.  "qemu+tls", "qemu+ssh" or
             * "qemu+tcp". */
            char *scheme;
            bool tls;           /* VIR_MIGRATE_TLS (QEMU's stream). */
            /* Migration targets by node name (or node id): a host name or
             * address, or a full libvirt URI written by the operator. */
            struct lq_kv_list peers;
        } migration;
    } hypervisor;

    struct {
        char *address;          /* "" (off) or "http(s)://host:port". */
        bool registration_enabled; /* true: register when address set. */
        int heartbeat_interval_secs; /* 30. */
    } control_plane;

    struct {
        bool enabled;           /* TLS + required client certs on TCP. */
        char *cert_path;
        char *key_path;
        char *ca_path;          /* CA that signs accepted client certs. */
    } tls;

    struct {
        struct lq_pool_config *pools;
        size_t n_pools;
        /* Where CreateVM makes the volume of a DiskSpec with only sizeGib;
         * one of 'pools' by id.  NULL: such disks are refused. */
        char *default_pool;
    } storage;

    struct {
        char *ovn_nb_db;        /* OVN Northbound remote. */
        char *ovs_db;           /* Local Open_vSwitch database remote. */
        char *integration_bridge; /* "br-int". */
        char *encap_type;       /* "geneve". */
        char *encap_ip;         /* NULL: management IP. */
        struct lq_kv_list bridge_mappings; /* physnet -> OVS bridge. */
        char *datapath_type;    /* "system" or "netdev". */
    } network;

    /* The DPDK fast path (docs/dpdk.md). */
    struct {
        bool enabled;           /* false. */
        cpu_set_t pmd_cores;    /* Empty when not set. */
        int lcore;              /* 0: EAL main lcore (OVS's non-PMD work). */
        int socket_mem_mb;      /* 1024; 0: DPDK allocates on demand. */
        struct {
            int count;          /* 0: use what is reserved already. */
            int size_kb;        /* 2048 ("2M") or 1048576 ("1G"). */
        } hugepages;
        char *vhost_socket_dir; /* LQ_DPDK_DEFAULT_VHOST_DIR; absolute. */
        char **extra_eal_args;  /* No whitespace inside an argument. */
        size_t n_extra_eal_args;
        struct lq_dpdk_interface_config *interfaces;
        size_t n_interfaces;
    } dpdk;
};

/* Returns a config holding every default. */
struct lq_config *lq_config_new_default(void);

/* Loads 'path' over the defaults into '*configp'.  On error '*configp' is
 * NULL and the error names "FILE:LINE: KEY: reason". */
struct lq_error *lq_config_load(const char *path, struct lq_config **configp);

/* Parses YAML text (for tests); 'name' is used in error messages. */
struct lq_error *lq_config_parse(const char *name, const char *text,
                                 size_t len, struct lq_config **configp);

/* Checks cross-field rules (TLS files present when enabled, ...). */
struct lq_error *lq_config_validate(const struct lq_config *);

void lq_config_free(struct lq_config *);

/* Appends a directory to hypervisor.image_dirs (--sandbox adds its own). */
void lq_config_add_image_dir(struct lq_config *, const char *dir);

/* hypervisor.migration.peers: a node name, and its value (a host name,
 * an address or a full qemu libvirt URI). */
bool lq_migration_peer_name_valid(const char *name);
bool lq_migration_peer_target_valid(const char *target);

/* Replaces the string at '*fieldp' with a copy of 'value'. */
void lq_config_set_string(char **fieldp, const char *value);

#ifdef __cplusplus
}
#endif

#endif /* limiquantix/config.h */
