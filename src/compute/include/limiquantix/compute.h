/* limiquantix/compute.h: VMs on libvirt as a C API.
 *
 * A `struct lq_compute` is one libvirt connection (hypervisor.libvirt_uri)
 * opened lazily on the first call and reopened after libvirtd went away, so
 * the daemon starts while libvirtd is down and recovers when it returns.
 * The RPC layer (NodeDaemonService/CreateVM ...) is a thin wrapper over
 * these calls.
 *
 * Identity: our VM id is the libvirt domain UUID; labels and a fingerprint
 * of the spec live in the domain's <metadata> under our own namespace
 * (LQ_COMPUTE_XMLNS), so every call works from libvirt alone: nothing is
 * kept on the node, and domains without our metadata are not ours (ListVMs
 * skips them, the other calls answer not_found).
 *
 * Idempotency: creating a VM that exists with the same spec returns it;
 * with another spec it is LQ_ALREADY_EXISTS.  Deleting a VM that does not
 * exist succeeds.  Starting a running VM and force-stopping a stopped one
 * succeed.
 *
 * Threads: every function may be called from any thread concurrently (a
 * libvirt connection is thread-safe; a mutex guards only opening it).  All
 * calls block on libvirtd: the daemon runs them on its worker pool.
 * The process must ignore SIGPIPE (the daemon does): libvirt writes to
 * the socket of a libvirtd that may have died.
 * Ownership: returned objects are new and freed by the caller with the
 * matching *_free(); errors follow limiquantix/error.h. */
#ifndef LIMIQUANTIX_COMPUTE_H
#define LIMIQUANTIX_COMPUTE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "limiquantix/config.h"
#include "limiquantix/error.h"
#include "limiquantix/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LQ_COMPUTE_XMLNS "https://limiquantix.io/xmlns/node/vm/1"
/* The virtio-serial ports every VM gets: qemu-guest-agent's, and one for
 * a limiquantix guest agent. */
#define LQ_QEMU_AGENT_CHANNEL "org.qemu.guest_agent.0"
#define LQ_NODE_AGENT_CHANNEL "org.limiquantix.agent.0"

struct lq_compute;

/* ---- Specs (typed values; the domain XML is built from these only) ---- */

/* New values go last: the spec fingerprint hashes the numbers. */
enum lq_disk_bus { LQ_DISK_BUS_VIRTIO, LQ_DISK_BUS_SATA, LQ_DISK_BUS_SCSI,
                   LQ_DISK_BUS_IDE /* hda, hdb: hdc, hdd are CD-ROMs; no
                                    * hot-plug. */ };
enum lq_disk_cache {
    LQ_DISK_CACHE_NONE,         /* Default. */
    LQ_DISK_CACHE_WRITEBACK,
    LQ_DISK_CACHE_WRITETHROUGH,
    LQ_DISK_CACHE_DIRECTSYNC,
    LQ_DISK_CACHE_UNSAFE,
};

enum lq_disk_io { LQ_DISK_IO_DEFAULT, LQ_DISK_IO_NATIVE, LQ_DISK_IO_URING,
                  LQ_DISK_IO_THREADS };

struct lq_disk_spec {
    char *id;                   /* Caller's disk id (kept as <serial>). */
    char *path;                 /* Plain path: a file or a block device;
                                 * one that is not absolute is a volume id
                                 * (the seed's caller puts it there):
                                 * lq_compute moves it to 'volume_id'. */
    char *volume_id;            /* Or a VolumeService volume. */
    /* Neither: a new volume of this size in storage.default_pool, made by
     * lq_compute for this VM (id lq_vm_device_id(vm, "disk", id)) and
     * deleted with it.  Ignored when 'path' or 'volume_id' is set. */
    uint64_t size_gib;
    /* Or, with neither: a copy-on-write clone of snapshot 'image_snapshot_id'
     * of volume 'image_volume_id' (a base image), made in that volume's
     * pool for this VM and deleted with it; 'size_gib' 0 is the
     * snapshot's size, larger grows it. */
    char *image_volume_id, *image_snapshot_id;
    enum lq_disk_bus bus;
    enum lq_disk_cache cache;
    bool readonly;
    enum lq_disk_io io;         /* native needs cache none or directsync. */
    bool discard;               /* Pass the guest's TRIM/UNMAP down. */
    uint64_t iops_limit;        /* 0: none (<iotune> total_iops_sec). */
    uint64_t throughput_bytes;  /* 0: none (<iotune> total_bytes_sec). */

    /* Set by lq_compute from the volume (NULL for a path). */
    struct lq_disk_source *source;
    char secret_uuid[37];       /* libvirt secret for source's auth. */
    bool volume_in_path;        /* 'volume_id' came from 'path': errors
                                 * name ".path". */
    bool owned;                 /* The node made the volume from
                                 * 'size_gib' or the image (and deletes
                                 * it). */
};

enum lq_nic_model { LQ_NIC_VIRTIO, LQ_NIC_E1000, LQ_NIC_RTL8139 };

/* A NIC on a QuantumNet port: an OVS virtualport on the integration bridge
 * with interfaceid = the port, the port's MAC.  Exactly one of:
 * - 'port_id': the caller's port;
 * - 'network_id': lq_compute makes a port on that network for this VM
 *   (id lq_vm_device_id(vm, "nic", id), MAC 'req_mac' or allocated),
 *   deleted with the VM ('owned');
 * - 'host_bridge': a plain <interface type='bridge'> on a bridge listed
 *   in hypervisor.bridges, no port (MAC 'req_mac' or libvirt's). */
struct lq_nic_spec {
    char *id;                   /* Caller's NIC id. */
    char port_id[37];
    char network_id[37];        /* "": none. */
    char *host_bridge;          /* NULL: none. */
    char bridge_dev[16];        /* Its host device, set by lq_compute
                                 * (lq_nic_bridge_tap_name()); "": the
                                 * XML names none (libvirt picks). */
    char req_mac[18];           /* Caller's macAddress, lower case; "". */
    bool owned;                 /* port_id is the node's, from network_id. */
    enum lq_nic_model model;

    /* Set by lq_compute from the port. */
    char mac[18];
    char *bridge;               /* Integration bridge. */
    /* Checksum and segmentation offloads off: OVS's userspace datapath
     * (datapath_type netdev without DPDK) reads the tap without the
     * virtio-net header, so a checksum left to the NIC would never be
     * filled in and TCP/UDP would be dropped while ICMP works. */
    bool no_offloads;
    /* The DPDK fast path: a vhost-user NIC on this socket (QEMU is the
     * server, OVS's dpdkvhostuserclient port connects to it).  NULL: a
     * tap on the bridge. */
    char *vhost_socket;
};
/* The target device prefix of a disk on 'bus': "vd", "sd" or "hd". */
const char *lq_disk_target_prefix(enum lq_disk_bus);
#define LQ_MAX_IDE_DISKS 2

/* The host device of a NIC: "lq" + the first 12 hex digits of the port id
 * (IFNAMSIZ allows 15). */
void lq_nic_tap_name(const char *port_id, char name[16]);
/* The host device of a plain bridge NIC (no port): "lqb" + 12 hex digits
 * of lq_vm_device_id(vm_id, "nic", nic_id). */
void lq_nic_bridge_tap_name(const char *vm_id, const char *nic_id,
                            char name[16]);

/* The id of what the node makes for device 'dev_id' of VM 'vm_id'
 * ('kind' "nic": its port; "disk": its volume): a UUID version 5 (SHA-1)
 * of "VM/KIND/DEV" in our namespace, so a retried CreateVM finds what the
 * first one made. */
void lq_vm_device_id(const char *vm_id, const char *kind,
                     const char *dev_id, char out[37]);
/* Largest DiskSpec.sizeGib (64 TiB). */
#define LQ_MAX_DISK_GIB (64u << 10)

struct lq_label {
    char *key;
    char *value;
};

enum lq_firmware { LQ_FIRMWARE_BIOS, LQ_FIRMWARE_UEFI };
enum lq_boot_dev { LQ_BOOT_HD, LQ_BOOT_CDROM, LQ_BOOT_NETWORK };
#define LQ_MAX_BOOT_DEVS 3
#define LQ_MAX_CDROMS 2

/* A CD-ROM: an ISO file, read-only, on the IDE bus. */
/* cloud-init NoCloud (proto CloudInitSpec): NULL or "" is left out. */
struct lq_cloud_init {
    char *user_data, *meta_data, *network_config;
    char **ssh_keys;
    size_t n_ssh_keys;
    char *hostname, *user;
    char *password, *password_hash;     /* Secrets: only in the ISO. */
};
void lq_cloud_init_free(struct lq_cloud_init *);
/* The checks of spec.cloudInit (part of lq_vm_spec_validate()), and what
 * of it the spec's fingerprint covers: not the secrets. */
struct lq_vm_spec;
struct ds;
struct lq_error *lq_cloud_init_validate(const struct lq_vm_spec *);
/* The same checks of a request's own cloudInit (CloneVM, UpdateVM): the
 * errors name "cloudInit.<field>". */
struct lq_error *lq_cloud_init_validate_request(const char *vm_id,
                                                const struct lq_cloud_init *);
void lq_cloud_init_fingerprint(const struct lq_cloud_init *, struct ds *);

/* The seed's files for 'spec' (which has a cloud_init): meta-data and
 * user-data always, network-config when given; each malloc'ed.  Built
 * parts are JSON (valid YAML, nothing the caller wrote is spliced into
 * YAML text). */
struct lq_cidata_files {
    char *meta_data, *user_data, *network_config;
};
void lq_cidata_files_build(const struct lq_vm_spec *, struct lq_cidata_files *);
void lq_cidata_files_clear(struct lq_cidata_files *);
/* Writes the seed ISO (volume id "cidata", Rock Ridge and Joliet, the
 * files at the root) to 'path' (created 0600, never through a symlink,
 * replaced atomically). */
struct lq_error *lq_cidata_write_iso(const struct lq_cidata_files *,
                                     const char *path);
/* The files of the seed ISO at 'path' (meta-data and user-data required,
 * network-config if there), as lq_cidata_write_iso() wrote them. */
struct lq_error *lq_cidata_read_iso(const char *path,
                                    struct lq_cidata_files *);
/* A seed's meta-data made another instance's (CloneVM): instance-id 'id',
 * local-hostname 'hostname'.  failed_precondition naming cloudInit when
 * the meta-data is not a JSON object (a caller's own YAML). */
struct lq_error *lq_cidata_reinstance(struct lq_cidata_files *,
                                      const char *id, const char *hostname);
/* A seed made again for VM 'id' (UpdateVM): when the meta-data is the
 * node's, its instance-id becomes "<id>-<8 hex digits of the seed's
 * content>", so cloud-init in the guest runs its per-instance modules
 * (users, keys, hostname) again for new content and not for the same. */
void lq_cidata_revise(struct lq_cidata_files *, const char *id);

struct lq_cdrom_spec {
    char *id;
    char *path;                 /* NULL: an empty drive. */
};

/* Static limits of a spec (the host may allow less). */
#define LQ_MAX_VCPUS 255
#define LQ_MAX_MEMORY_MIB (4u << 20)    /* 4 TiB */
/* Memory hot-add: DIMM slots reserved at create, and the step a running
 * VM grows by (a Linux memory block on x86-64). */
#define LQ_MEMORY_SLOTS 16
#define LQ_MEMORY_BLOCK_MIB 128

struct lq_vm_spec {
    char id[37];                /* Domain UUID, lower-case. */
    char *name;                 /* Domain name. */
    uint32_t cpu_sockets, cpu_cores, cpu_threads;   /* Each >= 1. */
    uint32_t max_cpu_cores;     /* Hot-add up to this; 0: cpu_cores. */
    uint64_t memory_mib;
    uint64_t max_memory_mib;    /* Hot-add up to this; 0: memory_mib. */
    char *kernel_path;          /* Direct kernel boot; NULL: boot from disk. */
    char *initrd_path;          /* NULL: none. */
    char *kernel_cmdline;       /* NULL: none. */
    bool serial_log;            /* Log serial port 0 to a file. */
    bool spice;                 /* A SPICE console instead of VNC. */
    /* Set by lq_compute from 'serial_log': the node's own file for it
     * (<hypervisor.state_dir>/<id>.serial.log); NULL: none. */
    char *serial_log_path;
    /* A cloud-init NoCloud seed (NULL: none) and, set by lq_compute, the
     * node's ISO of it (<hypervisor.state_dir>/<id>.cidata.iso). */
    struct lq_cloud_init *cloud_init;
    char *cidata_path;
    struct lq_disk_spec *disks;
    size_t n_disks;
    struct lq_nic_spec *nics;
    size_t n_nics;
    struct lq_cdrom_spec *cdroms;
    size_t n_cdroms;
    enum lq_firmware firmware;  /* UEFI: OVMF, chosen by libvirt. */
    enum lq_boot_dev boot[LQ_MAX_BOOT_DEVS];    /* Without a kernel. */
    size_t n_boot;              /* 0: hd. */
    struct lq_label *labels;    /* Sorted by key, unique. */
    size_t n_labels;
    /* Guest memory in shared hugepages (the DPDK fast path: vhost-user
     * needs it, for every VM of the node so NICs can be hot-plugged).
     * Set by lq_compute. */
    bool shared_hugepages;
    /* The node's platform (hypervisor.virt_type, machine, cpu_mode), set
     * by lq_compute; not part of the spec's fingerprint.  'kvm': domain
     * type kvm, else qemu (TCG).  'machine' NULL: "pc".  'cpu_mode' NULL:
     * QEMU's default CPU model; "custom" with 'cpu_model'. */
    bool kvm;
    const char *machine;
    const char *cpu_mode;
    const char *cpu_model;
};

/* Is 'machine' (NULL: pc) a Q35 machine type ("q35", "pc-q35-7.2")? It
 * has no IDE controller: CD-ROMs are SATA, IDE disks are refused. */
bool lq_machine_is_q35(const char *machine);

/* An empty spec with the defaults (1 socket, 1 core, 1 thread). */
void lq_vm_spec_init(struct lq_vm_spec *);
void lq_vm_spec_clear(struct lq_vm_spec *);
/* Adds a label (copies); keeps them sorted; false if the key exists. */
bool lq_vm_spec_add_label(struct lq_vm_spec *, const char *key,
                          const char *value);

/* Checks every field; the error is invalid_argument and names the field
 * ("spec.memoryMib: ...").  Touches nothing on the host except stat()ing
 * the kernel, initrd and disk paths when 'check_paths'. */
struct lq_error *lq_vm_spec_validate(const struct lq_vm_spec *,
                                     bool check_paths);
/* A VM name's check alone (invalid_argument naming "name"). */
struct lq_error *lq_vm_name_check(const char *name);

/* The domain XML for a valid spec, built with libxml2's xmlTextWriter.
 * Caller frees.  Exposed for unit tests.  'vnc_password' (8 characters,
 * may be NULL: no console) is put on a VNC console on 127.0.0.1. */
char *lq_domain_xml(const struct lq_vm_spec *, const char *vnc_password);
/* One <disk> or <interface> element, for hot-plug.  'dev' is the target
 * device ("vdb").  Caller frees. */
char *lq_disk_xml(const struct lq_disk_spec *, const char *dev);
char *lq_nic_xml(const struct lq_nic_spec *, unsigned int queues);
void lq_disk_spec_clear(struct lq_disk_spec *);
void lq_nic_spec_clear(struct lq_nic_spec *);
/* Checks one disk / NIC as spec.disks[i] / spec.nics[i] would be. */
struct lq_error *lq_disk_spec_validate(const struct lq_disk_spec *,
                                       const char *field, bool check_paths);
struct lq_error *lq_nic_spec_validate(const struct lq_nic_spec *,
                                      const char *field);
/* The fingerprint kept in <metadata>: SHA-1 (hex) of everything in the
 * spec, so "same spec" survives libvirt's reformatting of the XML. */
void lq_vm_spec_fingerprint(const struct lq_vm_spec *, char hex[41]);

/* What we keep in <metadata>, parsed back from the element libvirt
 * returns for our namespace.  Exposed for unit tests. */
struct lq_vm_attachment {
    char *id;                   /* Disk or NIC id. */
    char *ref;                  /* Volume id ("" for a path) or port id
                                 * ("" for a plain bridge NIC). */
    bool readonly;              /* Disks. */
    bool owned;                 /* The node made the volume or port for
                                 * this VM: deleted with it. */
};
/* A VM snapshot: one storage snapshot of each of its volume disks, taken
 * together (the VM paused meanwhile if it runs). */
struct lq_vm_snapshot {
    char id[37];
    char *name;
    char *description;
    int64_t created;            /* Unix seconds. */
    char parent_id[37];         /* The VM's newest snapshot before; "". */
    int vm_state;               /* enum lq_vm_state when it was taken. */
    bool quiesced;              /* The guest's file systems were frozen. */
    struct lq_vm_attachment *disks;   /* id: disk id; ref: volume id. */
    size_t n_disks;
};
void lq_vm_snapshot_clear(struct lq_vm_snapshot *);
void lq_vm_snapshot_free_array(struct lq_vm_snapshot *, size_t n);
/* The storage snapshot id of volume 'volume_id' in VM snapshot 'snap_id':
 * "vm-" + 32 hex digits of SHA-1(snap_id "/" volume_id). */
void lq_vm_snapshot_volume_id(const char *snap_id, const char *volume_id,
                              char out[36]);

struct lq_vm_metadata {
    char fingerprint[41];       /* "" if absent. */
    struct lq_label *labels;
    size_t n_labels;
    struct lq_vm_attachment *disks, *nics;
    size_t n_disks, n_nics;
    struct lq_vm_snapshot *snapshots;   /* Oldest first. */
    size_t n_snapshots;
};
/* Our <lq:vm> element for 'm' (hot-plug rewrites it).  Caller frees. */
char *lq_vm_metadata_xml(const struct lq_vm_metadata *);
/* The same in its namespace (lq:vm), as a domain's <metadata> holds it. */
char *lq_vm_metadata_element_xml(const struct lq_vm_metadata *);
void lq_vm_metadata_add(struct lq_vm_attachment **, size_t *n,
                        const char *id, const char *ref, bool readonly);
/* The same, with 'owned' set as given. */
void lq_vm_metadata_add_owned(struct lq_vm_attachment **, size_t *n,
                              const char *id, const char *ref,
                              bool readonly, bool owned);
bool lq_vm_metadata_remove(struct lq_vm_attachment **, size_t *n,
                           const char *id);
struct lq_error *lq_vm_metadata_parse(const char *xml,
                                      struct lq_vm_metadata *);
void lq_vm_metadata_clear(struct lq_vm_metadata *);

/* ---- The service ------------------------------------------------------- */

/* Does not connect. */
struct lq_error *lq_compute_create(const char *libvirt_uri,
                                   struct lq_compute **);
void lq_compute_destroy(struct lq_compute *);
const char *lq_compute_uri(const struct lq_compute *);

/* The handle the compute RPC handlers use (the node has no slot for it). */
void lq_compute_set_default(struct lq_compute *);
struct lq_compute *lq_compute_get_default(void);

enum lq_vm_state {
    LQ_VM_UNKNOWN,
    LQ_VM_RUNNING,
    LQ_VM_STOPPED,
    LQ_VM_PAUSED,
    LQ_VM_SHUTTING_DOWN,
    LQ_VM_CRASHED,
    LQ_VM_SUSPENDED,            /* Guest power management (S3/S4). */
};
/* The contract's PowerState names: "POWER_STATE_RUNNING", ... */
const char *lq_vm_state_name(enum lq_vm_state);

/* The contract's ResourceUsage of a running VM (no CPU percentage: one
 * reading has no rate). */
struct lq_vm_usage {
    uint64_t cpu_time_ns;
    uint64_t memory_used_bytes;     /* QEMU's RSS. */
    uint64_t memory_total_bytes;    /* Guest memory. */
    uint64_t disk_read_bytes, disk_write_bytes;
    uint64_t network_rx_bytes, network_tx_bytes;
};

/* What the guest agent (qemu-guest-agent) says of a running guest. */
struct lq_guest_nic {
    char *name;                 /* The guest's name for it ("eth0"). */
    char *mac;                  /* "52:54:00:..." as the guest reports. */
    char *nic_id;               /* Our NIC of that MAC; NULL: none. */
    char **addresses;           /* "10.0.0.5/24", "fe80::1/64". */
    size_t n_addresses;
};
struct lq_guest_info {
    bool agent_connected;       /* Its channel is open: the rest is read. */
    char *hostname, *os_id, *os_name, *os_version, *kernel_release;
    char *timezone;
    struct lq_guest_nic *nics;
    size_t n_nics;
};
void lq_guest_info_clear(struct lq_guest_info *);
/* A guest user's password through its agent (chpasswd in the guest);
 * 'crypted': 'password' is a crypt(3) hash.  Never logged. */
struct lq_error *lq_compute_set_guest_password(struct lq_compute *,
                                               const char *id,
                                               const char *user,
                                               const char *password,
                                               bool crypted);

struct lq_vm_status {
    char id[37];
    char *name;
    char *serial_log_path;      /* NULL: the VM logs no serial port. */
    enum lq_vm_state state;
    struct lq_label *labels;
    size_t n_labels;
    /* When it last started (Unix ms), for a VM that runs or is paused and
     * whose start we know (the QEMU process, else the STARTED event or
     * StartVM); 0: unknown or stopped. */
    int64_t started_ms;
    bool has_usage;             /* 'usage' read (the VM is active). */
    struct lq_vm_usage usage;
    /* GetVMStatus of a running VM only (ListVMs does not ask the agents):
     * 'has_guest' says 'guest' was read. */
    bool has_guest;
    struct lq_guest_info guest;
};
void lq_vm_status_clear(struct lq_vm_status *);
void lq_vm_status_free_array(struct lq_vm_status *, size_t n);

/* Defines the domain (does not start it).  Validates first: nothing is
 * defined for an invalid spec, an unknown volume or port, a volume another
 * VM writes to (or that this one would write while others have it) or a
 * port another VM uses.  Fills the disks' sources and the NICs' MACs in
 * 'spec'.  Makes the ports of NICs given by network and the volumes of
 * disks given by size (removed again if the call fails later).  'status' (optional) gets the result; '*createdp' (optional) is
 * false when the VM existed with this spec already. */
struct lq_error *lq_compute_create_vm(struct lq_compute *,
                                      struct lq_vm_spec *,
                                      struct lq_vm_status *status,
                                      bool *createdp);
/* CloneVM: a new VM 'id' like the stopped or paused VM 'source_id' (see
 * clone.c).  Idempotent by id and request; '*createdp' false for a retry
 * that found the clone. */
struct lq_clone_request {
    char source_id[37], id[37];
    const char *name;
    bool linked;                    /* Keep the snapshot as the base. */
    struct lq_cloud_init *cloud_init;   /* NULL: the source's, re-made. */
};
struct lq_error *lq_compute_clone_vm(struct lq_compute *,
                                     const struct lq_clone_request *,
                                     struct lq_vm_status *status,
                                     bool *createdp);
void lq_clone_request_fingerprint(const struct lq_clone_request *,
                                  char hex[41]);
struct lq_error *lq_compute_start_vm(struct lq_compute *, const char *id);
/* UpdateVM: what changes; 0 or NULL leaves it as it is. */
struct lq_vm_update {
    uint32_t cores;             /* vCPUs per socket (sockets, threads kept). */
    uint64_t memory_mib;
    const struct lq_cloud_init *cloud_init;     /* A new seed. */
};
/* A running VM: within the maxima it was made with (max_cpu_cores,
 * max_memory_mib; memory only grows, by whole LQ_MEMORY_BLOCK_MIB, as a
 * DIMM); else failed_precondition.  A new seed needs a VM made with one;
 * a running VM's QEMU is given the new ISO (its CD-ROM ejected and
 * loaded again). */
struct lq_error *lq_compute_update_vm(struct lq_compute *, const char *id,
                                      const struct lq_vm_update *);
/* Grows the volume of disk 'disk_id' of VM 'id' to 'size_bytes'; when
 * the VM runs QEMU is told (block_resize) so the guest sees it.  Answers
 * the size the disk has now in '*sizep'. */
struct lq_error *lq_compute_resize_disk(struct lq_compute *, const char *id,
                                        const char *disk_id,
                                        uint64_t size_bytes,
                                        uint64_t *sizep);
/* ACPI shutdown, then waits up to 'timeout_s' seconds for the guest to
 * power off; if it did not, destroys it and sets '*forcedp' (a paused VM,
 * which cannot act on ACPI, at once).  'graceful_only': never destroys;
 * deadline_exceeded if the guest did not power off (it keeps running),
 * failed_precondition if paused.  A forced stop's STOPPED event has
 * 'forced' set. */
struct lq_error *lq_compute_stop_vm(struct lq_compute *, const char *id,
                                    unsigned int timeout_s,
                                    bool graceful_only, bool *forcedp);
struct lq_error *lq_compute_force_stop_vm(struct lq_compute *,
                                          const char *id);
struct lq_error *lq_compute_reboot_vm(struct lq_compute *, const char *id);
struct lq_error *lq_compute_pause_vm(struct lq_compute *, const char *id);
struct lq_error *lq_compute_resume_vm(struct lq_compute *, const char *id);
/* Refused (failed_precondition) unless stopped.  First deletes the ports
 * and volumes the node made for the VM (owned; on failure the VM stays
 * for a retry), then removes the domain, its NVRAM and managed-save
 * image; never a volume or port the caller named. */
struct lq_error *lq_compute_delete_vm(struct lq_compute *, const char *id);
struct lq_error *lq_compute_get_vm(struct lq_compute *, const char *id,
                                   struct lq_vm_status *);
/* Our VMs (domains with our metadata), sorted by id. */
struct lq_error *lq_compute_list_vms(struct lq_compute *,
                                     struct lq_vm_status **, size_t *n);
/* The same without startedAt and resourceUsage (no metrics read), for a
 * caller that reads each VM's metrics itself. */
struct lq_error *lq_compute_list_vms_brief(struct lq_compute *,
                                           struct lq_vm_status **, size_t *n);

/* Where VM disks and NICs come from: volumes are resolved through
 * 'storage' (their libvirt disk source; cephx keys become libvirt
 * secrets), ports through 'network' (lq_network_call_threaded(): the
 * network loop must be running), plugged into 'bridge'.  Without them,
 * volumeId disks and NICs are refused with failed_precondition. */
struct lq_network;
void lq_compute_set_backends(struct lq_compute *, struct lq_storage *,
                             struct lq_network *, const char *bridge);

/* Takes from node.yaml's hypervisor section what decides which host files
 * a VM may use (image_dirs: kernels, initrds, ISOs, path disks; nothing
 * outside them), where the node keeps per-VM files (state_dir: serial
 * logs) and the migration peers.  Without it no local file is allowed,
 * serialLog is refused and no migration target is known. */
void lq_compute_configure(struct lq_compute *, const struct lq_config *);

/* What VMs here can have, for GetNodeInfo (all but nested_virt): live
 * migration when a migration peer is configured, snapshots with a storage
 * pool, hot-plug always, no GPU passthrough; the vCPU and memory limits
 * CreateVM applies, from libvirt's host (0 when libvirtd is down).
 * Matches lq_hypervisor_caps_fn (aux: the compute). */
struct lq_hypervisor_caps;
void lq_compute_get_caps(void *compute, struct lq_hypervisor_caps *);

/* Running VMs (domains of ours that are active). */
struct lq_error *lq_compute_count_running(struct lq_compute *,
                                          unsigned int *np);
/* NULL if libvirtd answers, else why not (unavailable). */
struct lq_error *lq_compute_ping(struct lq_compute *);

/* Hot-plug.  Live if the VM runs, and always in its persistent config.
 * The disk is checked as in CreateVM (a volume attached read-write to
 * another VM is failed_precondition). */
struct lq_error *lq_compute_attach_disk(struct lq_compute *, const char *id,
                                        struct lq_disk_spec *);
struct lq_error *lq_compute_detach_disk(struct lq_compute *, const char *id,
                                        const char *disk_id);
/* Binds the port (waits until OVN has installed it when the VM runs).
 * StartVM binds the ports of every NIC the same way. */
struct lq_error *lq_compute_attach_nic(struct lq_compute *, const char *id,
                                       struct lq_nic_spec *);
/* Unplugs the NIC and unbinds its port. */
struct lq_error *lq_compute_detach_nic(struct lq_compute *, const char *id,
                                       const char *nic_id);

/* Snapshots of a VM's volume disks (every disk must be a volume).
 * Create: 'snap_id' "" makes a new id; the same id and name again return
 * it.  'quiesce' of a running VM: the guest agent freezes its file
 * systems around the snapshot; failed_precondition, and no snapshot, if
 * the agent is not connected or cannot freeze (never a silent
 * crash-consistent one).  Revert: the VM must be stopped; each volume is rolled back.
 * Delete: removes the storage snapshots, then the record.  Returned
 * objects are the caller's (lq_vm_snapshot_clear / _free_array). */
struct lq_error *lq_compute_create_snapshot(struct lq_compute *,
                                            const char *vm_id,
                                            const char *snap_id,
                                            const char *name,
                                            const char *description,
                                            bool quiesce,
                                            struct lq_vm_snapshot *);
struct lq_error *lq_compute_revert_snapshot(struct lq_compute *,
                                            const char *vm_id,
                                            const char *snap_id);
struct lq_error *lq_compute_delete_snapshot(struct lq_compute *,
                                            const char *vm_id,
                                            const char *snap_id);
struct lq_error *lq_compute_list_snapshots(struct lq_compute *,
                                           const char *vm_id,
                                           struct lq_vm_snapshot **,
                                           size_t *n);

/* Counters of a VM since it started (zero when stopped). */
struct lq_vm_device_metrics {
    char *id;                   /* Disk or NIC id. */
    uint64_t rx_bytes, rx_ops;  /* Disks: read; NICs: received (packets). */
    uint64_t tx_bytes, tx_ops;  /* Disks: written; NICs: sent. */
    uint64_t drops;             /* NICs: received packets dropped. */
};
struct lq_vm_metrics {
    uint64_t cpu_time_ns;
    uint64_t vcpus;
    uint64_t memory_kib;        /* Guest memory. */
    uint64_t memory_rss_kib;    /* What the QEMU process uses. */
    struct lq_vm_device_metrics *disks, *nics;
    size_t n_disks, n_nics;
};
struct lq_error *lq_compute_get_metrics(struct lq_compute *, const char *id,
                                        struct lq_vm_metrics *);
void lq_vm_metrics_clear(struct lq_vm_metrics *);

/* A lifecycle event of one of our VMs, numbered in the order they came. */
struct lq_vm_event {
    uint64_t seq;
    char vm_id[37];
    char *name;
    char event[16];             /* DEFINED, DELETED, STARTED, PAUSED,
                                 * RESUMED, STOPPED, SHUTDOWN, SUSPENDED,
                                 * CRASHED */
    char detail[16];            /* STOPPED: SHUTDOWN, DESTROYED, CRASHED,
                                 * MIGRATED, FAILED, ...; else "". */
    char forced[8];             /* STOPPED by StopVM's power-off: TIMEOUT
                                 * or PAUSED; else "". */
    int64_t time_ms;            /* Unix milliseconds. */
};
/* The events after 'since' (of 'vm_id' only, if nonnull), waiting up to
 * 'timeout_ms' for one if there is none yet.  '*last_seqp' is where the
 * next call continues.  '*truncatedp': events were missed ('since' fell out
 * of the last 1024, or the numbering restarted with the daemon): resync
 * with ListVMs. */
struct lq_error *lq_compute_watch_events(struct lq_compute *, uint64_t since,
                                         const char *vm_id,
                                         unsigned int timeout_ms,
                                         struct lq_vm_event **, size_t *n,
                                         uint64_t *last_seqp,
                                         bool *truncatedp);
void lq_vm_events_free(struct lq_vm_event *, size_t n);
/* The same without connecting or waiting (for server streams on the
 * loop): what the ring holds after 'since'.  The events arrive only while
 * a connection to libvirtd is open (lq_compute_ping() opens one). */
void lq_compute_read_events(struct lq_compute *, uint64_t since,
                            struct lq_vm_event **, size_t *n,
                            uint64_t *last_seqp, bool *truncatedp);
/* Changed (OVS seq) whenever an event is recorded: seq_wait() on it wakes
 * a poll loop for new events. */
struct seq;
struct seq *lq_compute_event_seq(struct lq_compute *);

/* Moves the VM to node 'target' (peer-to-peer; its definition, our
 * metadata included, goes with it).  'target' names a node of
 * hypervisor.migration.peers, by name or as any URI whose host is such a
 * name or a peer's address; the libvirt URI is the node's own
 * (SCHEME://ADDRESS/system, or the peer's configured URI), never the
 * caller's.  Every disk must be a volume on shared storage
 * (failed_precondition otherwise); the target gets the libvirt secrets its
 * disks need.  A running VM moves live ('live') or paused; a stopped one
 * moves its definition. */
struct lq_error *lq_compute_migrate_vm(struct lq_compute *, const char *id,
                                       const char *target, bool live);

/* MigrateVM with progress: starts the migration of VM 'id' on a thread of
 * its own (errors in the request, such as an unknown VM or target, come
 * back at once).  lq_migration_refresh() reads libvirt's job statistics
 * (it blocks: call it on a worker); lq_migration_get() gives the progress
 * and, once over (true), the error if it failed (caller frees); the seq
 * changes when it ends.  Releasing does not stop the migration. */
enum lq_migration_phase {
    LQ_MIGRATION_PREPARING, LQ_MIGRATION_TRANSFERRING,
    LQ_MIGRATION_SWITCHING, LQ_MIGRATION_COMPLETE, LQ_MIGRATION_FAILED,
};
struct lq_migration_progress {
    enum lq_migration_phase phase;
    uint64_t total, processed, remaining;   /* Bytes (memory and disks). */
};
struct lq_migration;

/* The security group of the ports the node makes for NICs given by
 * network (owned.c): all egress, ingress from the same group. */
#define LQ_DEFAULT_SG_ID "0d1c6e58-5a43-5c2f-9a4e-3b1f2c7d0000"
struct seq;
struct lq_error *lq_compute_migration_start(struct lq_compute *,
                                            const char *id,
                                            const char *target, bool live,
                                            struct lq_migration **);
void lq_migration_refresh(struct lq_migration *);
bool lq_migration_get(struct lq_migration *, struct lq_migration_progress *,
                      struct lq_error **errorp);
struct seq *lq_migration_seq(const struct lq_migration *);
void lq_migration_release(struct lq_migration *);
/* The libvirt URI of migration peer 'target' (see above; caller frees), or
 * invalid_argument naming 'field'.  Exposed for unit tests. */
struct lq_error *lq_compute_migration_uri(const struct lq_compute *,
                                          const char *field,
                                          const char *target, char **urip);

struct lq_vm_console {
    char type[8];               /* "vnc" or "spice" */
    char password[9];           /* VNC authentication (RFB type 2), or
                                 * the SPICE ticket. */
    char token[65];             /* Opens LQ_CONSOLE_WS_PATH once. */
    int token_seconds;          /* ...within this many seconds. */
};
/* The console of a running VM (failed_precondition if stopped): a token
 * for the node's console WebSocket, which relays to QEMU's VNC or SPICE
 * server: one connection for VNC, every channel until it expires for
 * SPICE. */
struct lq_error *lq_compute_get_console(struct lq_compute *, const char *id,
                                        struct lq_vm_console *);
/* The WebSocket endpoint's path on the API listeners ("?token=..."). */
#define LQ_CONSOLE_WS_PATH "/console/websocket"
/* The WebSocket endpoint: a socket connected to the console 'token'
 * names; unauthenticated if the token is unknown, used or expired (a VNC
 * token is spent either way), failed_precondition if the VM stopped. */
struct lq_error *lq_compute_console_open(struct lq_compute *,
                                         const char *token, int *fdp);

#ifdef __cplusplus
}
#endif

#endif /* limiquantix/compute.h */
