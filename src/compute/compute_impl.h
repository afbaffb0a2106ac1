/* compute_impl.h: what the parts of src/compute share (compute.c: the
 * connection, create and lifecycle; devices.c: hot-plug and the console;
 * snapshot.c: VM snapshots).  Internal. */
#ifndef LQ_COMPUTE_IMPL_H
#define LQ_COMPUTE_IMPL_H 1

#include <libvirt/libvirt.h>
#include <libxml/tree.h>
#include "limiquantix/compute.h"
#include "limiquantix/node.h"
#include "openvswitch/list.h"
#include "openvswitch/thread.h"
#include "openvswitch/shash.h"
#include "resolve.h"
#include "openvswitch/hmap.h"
#include "smap.h"
#include "sset.h"

struct lq_compute {
    char *uri;
    struct ovs_mutex mutex;     /* Guards 'conn'. */
    virConnectPtr conn;         /* NULL until first use or after a failure. */
    struct ovs_mutex create_mutex;
    struct lq_compute_backends backends;

    /* From node.yaml (lq_compute_configure(); files.c, migrate.c). */
    char **image_dirs;
    size_t n_image_dirs;
    char *state_dir;            /* NULL: no per-VM files (serial logs). */
    char *migration_scheme;     /* "qemu+tls", ... */
    bool migration_tls;
    struct smap migration_peers;    /* Node name -> host or libvirt URI. */
    struct sset bridges;        /* hypervisor.bridges: plain bridge NICs. */
    char *default_pool;         /* storage.default_pool; NULL: none. */
    /* hypervisor.virt_type, machine, cpu_mode, cpu_model (platform.c). */
    char *virt_type;
    char *machine;
    char *cpu_mode;
    char *cpu_model;
    /* "auto" resolved once (KVM does not come and go): -1 not yet. */
    int kvm_usable;             /* Guarded by 'mutex'. */
    /* console.c: GetConsole's one-time tokens. */
    struct ovs_mutex console_mutex;
    struct hmap console_tokens OVS_GUARDED_BY(console_mutex);
    int console_token_seconds;
    char *kvm_problem;          /* Why not, when it is not. */

    /* Lifecycle events (events.c). */
    struct ovs_mutex ev_mutex;
    pthread_cond_t ev_cond;
    struct lq_vm_event *ev_ring;    /* ev_ring[seq % size]. */
    uint64_t ev_next_seq;
    struct sset ev_ours;            /* VMs we recorded events of. */
    struct smap ev_forced;          /* VM id -> why StopVM is destroying
                                     * it (its next STOPPED event). */
    struct smap ev_started;         /* VM id -> when it started (Unix ms,
                                     * decimal), from its STARTED event or
                                     * StartVM; gone when it stops. */
    struct seq *ev_seq;             /* Changed with every event (wakes the
                                     * loop for server streams). */
    int ev_callback;                /* On 'conn'; -1 if none. */
    int ev_agent_callback;          /* Guest agent lifecycle; -1: none. */

    /* Migrations running on their own threads (migrate.c). */
    struct ovs_mutex migrations_mutex;
    pthread_cond_t migrations_cond;
    struct ovs_list migrations;     /* struct lq_migration */
};

/* platform.c: fills the platform fields of 'spec' (kvm, machine, CPU)
 * for a new domain, and checks what the platform refuses (IDE disks on
 * q35); failed_precondition if virt_type kvm is not usable here. */
struct lq_error *compute_apply_platform(struct lq_compute *, virConnectPtr,
                                        struct lq_vm_spec *);
/* The same platform for GetNodeInfo. */
void compute_platform_caps(struct lq_compute *, virConnectPtr,
                           struct lq_hypervisor_caps *);
void compute_platform_clear(struct lq_compute *);

/* A new reference to the connection, (re)opened if needed. */
struct lq_error *compute_get_conn(struct lq_compute *, virConnectPtr *);

/* events.c: set up with the compute object; told when a connection has
 * been opened and before one is closed. */
void compute_events_init(struct lq_compute *);
void compute_events_destroy(struct lq_compute *);
void compute_events_connected(struct lq_compute *, virConnectPtr);
void compute_events_disconnecting(struct lq_compute *, virConnectPtr);
/* The next STOPPED event of VM 'id' is StopVM's forced power-off for
 * 'reason' ("TIMEOUT", "PAUSED"); NULL: it is not after all. */
void compute_events_mark_forced(struct lq_compute *, const char *id,
                                const char *reason);

/* migrate.c: set up with the compute object; aborts and waits for the
 * migrations still running before it goes. */
void compute_migrations_init(struct lq_compute *);
void compute_migrations_destroy(struct lq_compute *);

/* VM 'id' was started at 'ms' (Unix ms) by StartVM; and when it started
 * as far as StartVM and the STARTED events say (0: unknown). */
void compute_events_note_started(struct lq_compute *, const char *id,
                                 int64_t ms);
int64_t compute_events_started_ms(struct lq_compute *, const char *id);

/* qemu_proc.c: the start times of the QEMU processes on this host, by the
 * UUID of their domain (libvirt passes "-uuid UUID"): VM id -> Unix ms
 * (decimal) into 'starts'.  A libvirtd on another host (or in another PID
 * namespace) gives none. */
void compute_qemu_start_times(struct smap *starts);
/* The parts, for unit tests: the domain UUID in a NUL-separated
 * /proc/PID/cmdline of a QEMU process (false if there is none), and the
 * start time in clock ticks after boot from /proc/PID/stat. */
bool lq_qemu_cmdline_uuid(const char *cmdline, size_t len, char uuid[37]);
bool lq_proc_stat_starttime(const char *stat, unsigned long long *ticks);

/* devices.c: the counters of a domain of ours (lq_compute_get_metrics()). */
struct lq_error *compute_domain_metrics(virDomainPtr, const char *id,
                                        struct lq_vm_metrics *);

/* An error for the libvirt call that just failed ("WHAT ID: message"). */
struct lq_error *compute_virt_error(const char *what, const char *id);
enum lq_vm_state compute_state_from_virt(int virt_state);

/* console.c: a token for the console of 'vm_id', for one connection or
 * ('reusable': SPICE's channels) any until it expires; '*ttl_sp' how long
 * it is valid. */
void compute_console_init(struct lq_compute *);
void compute_console_destroy(struct lq_compute *);
struct lq_error *compute_console_token(struct lq_compute *, const char *vm_id,
                                       bool reusable,
                                       char token[65], int *ttl_sp);

/* agent.c: qemu-guest-agent through libvirt.  A VM's agent is connected
 * when its org.qemu.guest_agent.0 port is open in the guest. */
bool compute_agent_connected(virDomainPtr);
/* Best effort: what the agent reports, or only agent_connected = false. */
void compute_guest_info(virDomainPtr, const char *id, struct lq_guest_info *);
/* failed_precondition naming 'quiesce' when not connected or it fails. */
struct lq_error *compute_agent_freeze(virDomainPtr, const char *id);
struct lq_error *compute_agent_thaw(virDomainPtr, const char *id);
/* After a resume: the guest clock from the host's, if an agent listens. */
void compute_agent_sync_time(virDomainPtr, const char *id);
/* domain_xml.c: the first element child of 'n' named 'name', or NULL
 * (also for a NULL 'n'). */
xmlNodePtr compute_xml_child(xmlNodePtr n, const char *name);
/* Attribute 'name' of 'n' (malloc'ed), NULL if none (or 'n' NULL); and
 * whether it is 'value'. */
char *compute_xml_prop(xmlNodePtr n, const char *name);
bool compute_xml_prop_is(xmlNodePtr n, const char *name, const char *value);
/* already_exists naming "name" if a domain other than ours is called
 * 'name'. */
struct lq_error *compute_check_name_free(virConnectPtr, const char *name);
/* devices.c: the attachment of disk or NIC 'id' in 'a', or NULL. */
const struct lq_vm_attachment *compute_find_attachment(
    const struct lq_vm_attachment *a, size_t n, const char *id);
/* Our metadata of 'dom'; not_found if the domain is not ours. */
struct lq_error *compute_get_metadata(virDomainPtr, const char *id,
                                      struct lq_vm_metadata *);
/* Runs 'op' on the domain of our VM 'id' with a connection held. */
struct lq_error *compute_with_vm(
    struct lq_compute *, const char *id,
    struct lq_error *(*op)(virDomainPtr, const char *id, void *aux),
    void *aux);
long long compute_now_ms(void);
/* reseed.c: failed_precondition naming cloudInit unless VM 'id' has a
 * seed drive; and its seed written again from 'ci' (and loaded into the
 * drive of a running VM). */
struct lq_error *compute_seed_drive_check(virDomainPtr, const char *id);
struct lq_error *compute_has_seed_drive(virDomainPtr, const char *id,
                                        bool *hasp);
/* seed_copy.c: a migrating VM's seed ISO put where the target's QEMU
 * opens it (nothing when it has no seed or the target sees the same
 * file); then, with whether the migration succeeded, this node's or the
 * target's copy removed. */
struct compute_seed_copy {
    virStoragePoolPtr pool;     /* Transient, on the target's state_dir. */
    virStorageVolPtr vol;       /* The copy we made there, or NULL. */
    char *local;
};
struct lq_error *compute_seed_copy_start(struct lq_compute *, virDomainPtr,
                                         const char *id, virConnectPtr target,
                                         struct compute_seed_copy *);
void compute_seed_copy_end(struct compute_seed_copy *, bool migrated);
struct lq_error *compute_reseed(struct lq_compute *, virDomainPtr,
                                const char *id,
                                const struct lq_cloud_init *);
/* A new VNC password (8 characters, the protocol's limit). */
void compute_random_password(char out[9]);
/* A disk / NIC about to be added to VM 'vm_id': refused if another VM
 * holds the volume (and one of them writes) or the port; then resolved
 * (resolve.h). */
struct lq_error *compute_check_disk(virConnectPtr, struct lq_compute *,
                                    const char *vm_id, struct lq_disk_spec *,
                                    const char *field);
struct lq_error *compute_check_nic(virConnectPtr, struct lq_compute *,
                                   const char *vm_id, struct lq_nic_spec *,
                                   const char *field);
/* Live and persistent if the VM runs, else persistent only. */
struct lq_error *compute_device_flags(virDomainPtr, const char *id,
                                      unsigned int *flagsp);
/* Rewrites our metadata element. */
struct lq_error *compute_save_metadata(virDomainPtr, const char *id,
                                       const struct lq_vm_metadata *,
                                       unsigned int flags);

/* owned.c: the ports and volumes the node makes for a VM (NICs by
 * network, disks by size) and what they resolve to (see there). */
/* Fills what a spec's devices derive from the caller's fields: volume
 * ids given in 'path', the ids of the node's own ports and volumes, and
 * checks bridge NICs against hypervisor.bridges.  No side effects. */
struct lq_error *compute_prepare_devices(const struct lq_compute *,
                                         struct lq_vm_spec *);
struct lq_error *compute_prepare_disk(const struct lq_compute *,
                                      const char *vm_id,
                                      struct lq_disk_spec *,
                                      const char *field);
struct lq_error *compute_prepare_nic(const struct lq_compute *,
                                     const char *vm_id,
                                     struct lq_nic_spec *,
                                     const char *field);
/* Makes the owned ports and volumes of 'spec' (idempotent: a retry finds
 * them); on failure removes what it made. */
struct lq_error *compute_make_owned(struct lq_compute *,
                                    const struct lq_vm_spec *);
/* Removes the owned ports and volumes of 'spec' (a CreateVM that failed
 * after compute_make_owned()).  Logs what it cannot remove. */
void compute_remove_owned(struct lq_compute *, const struct lq_vm_spec *);
struct lq_error *compute_make_owned_disk(struct lq_compute *,
                                         const char *vm_id,
                                         const struct lq_disk_spec *,
                                         const char *field);
struct lq_error *compute_make_owned_nic(struct lq_compute *,
                                        const char *vm_id,
                                        const struct lq_nic_spec *,
                                        const char *field);
/* Deletes the owned port / volume 'ref'; not_found is success. */
struct lq_error *compute_delete_owned_port(struct lq_compute *,
                                           const char *port_id);
struct lq_error *compute_delete_owned_volume(struct lq_compute *,
                                             const char *volume_id);

/* files.c: the host files of a VM (see there). */
void compute_files_clear(struct lq_compute *);
/* Kernel, initrd, CD-ROM and path-disk paths replaced by their canonical
 * form, each inside an image directory; the serial log path set from
 * 'serial_log'.  invalid_argument naming the field. */
struct lq_error *compute_resolve_files(const struct lq_compute *,
                                       struct lq_vm_spec *);
struct lq_error *compute_resolve_disk_path(const struct lq_compute *,
                                           struct lq_disk_spec *,
                                           const char *field);
char *compute_serial_log_path(const struct lq_compute *, const char *id);
char *compute_cidata_path(const struct lq_compute *, const char *id);
/* The serial log path of VM 'id' if it has one, else NULL. */
char *compute_existing_serial_log(const struct lq_compute *, const char *id);
/* The node's own files of a VM being defined (its serial log), and their
 * removal with the VM. */
struct lq_error *compute_make_vm_files(const struct lq_compute *,
                                       const struct lq_vm_spec *);
void compute_remove_vm_files(const struct lq_compute *, const char *id);

#endif
