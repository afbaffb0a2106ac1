/* limiquantix/storage.h: storage pools and volumes as a C API.
 *
 * A `struct lq_storage` holds every pool declared in node.yaml
 * (`storage.pools`), each served by one backend driver (today: rbd).  The
 * RPC layer (limiquantix.storage.v1) is a thin wrapper over these calls,
 * and so will be the compute subsystem, which attaches volumes to VMs with
 * lq_volume_disk_source().
 *
 * Identity: volumes and snapshots are named by ids the caller chooses
 * ([A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 bytes: a UUID fits).  The
 * backing system carries them (RBD: image "lq-<id>", snapshot "lq-<id>",
 * image metadata), so nothing is kept on the node: every call works from
 * the cluster alone, on any node.
 *
 * Idempotency: creating what exists with the same spec succeeds and changes
 * nothing; with another spec it is LQ_ALREADY_EXISTS.  Deleting what does
 * not exist succeeds.
 *
 * Long operations (an import from a file, a flatten, a clone that must be
 * flattened because its chain is too deep) run on a storage job thread:
 * the call returns at once with the volume in state LQ_VOLUME_CREATING (or
 * `operation` "flatten") and lq_volume_get() reports progress.
 *
 * Threads: every function may be called from any thread concurrently.
 * Ownership: every returned object is new and freed by the caller with the
 * matching *_free(); errors follow limiquantix/error.h. */
#ifndef LIMIQUANTIX_STORAGE_H
#define LIMIQUANTIX_STORAGE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "limiquantix/config.h"
#include "limiquantix/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lq_storage;

/* Builds the pools of config->storage.pools ('config' must outlive the
 * storage).  Does not contact any cluster: a pool whose cluster is down
 * still loads and reports itself unavailable.  Fails only on a pool whose
 * parameters are unusable (e.g. max_clone_depth not an integer). */
struct lq_error *lq_storage_create(const struct lq_config *,
                                   struct lq_storage **);
/* Cancels running jobs (an import being cancelled removes its temporary
 * image), waits for them, closes every cluster connection. */
void lq_storage_destroy(struct lq_storage *);

/* ---- Pools ----------------------------------------------------------- */

struct lq_pool_status {
    char *id;
    char *backend;              /* "rbd", ... */
    uint64_t capacity_bytes;    /* Raw capacity of the cluster/VG/... */
    uint64_t allocated_bytes;   /* Bytes stored in this pool. */
    uint64_t available_bytes;   /* What can still be written. */
    char *health;               /* "ok", "unavailable", "unimplemented". */
    char *message;              /* Why, when not "ok"; else "". */
};

/* One entry per configured pool, in config order.  A pool that cannot be
 * reached is listed with its health, not as an error. */
struct lq_error *lq_storage_list_pools(struct lq_storage *,
                                       struct lq_pool_status **poolsp,
                                       size_t *n_poolsp);
void lq_pool_status_clear(struct lq_pool_status *);
void lq_pool_status_free_array(struct lq_pool_status *, size_t n);

/* ---- Volumes ----------------------------------------------------------- */

enum lq_volume_state {
    LQ_VOLUME_CREATING,
    LQ_VOLUME_AVAILABLE,
    LQ_VOLUME_ERROR,
};
const char *lq_volume_state_name(enum lq_volume_state); /* "creating"... */

struct lq_snapshot_info {
    char *id;
    char *volume_id;
    char *name;
    uint64_t size_bytes;        /* Volume size when it was taken. */
    int64_t created_at;         /* Unix seconds. */
    bool protected_;            /* Protected for clones (RBD). */
};
void lq_snapshot_info_clear(struct lq_snapshot_info *);
void lq_snapshot_info_free(struct lq_snapshot_info *);
void lq_snapshot_info_free_array(struct lq_snapshot_info *, size_t n);

struct lq_volume_info {
    char *id;
    char *pool_id;
    char *name;
    enum lq_volume_state state;
    uint32_t progress_percent;  /* Of the running operation; 100 if none. */
    char *operation;            /* "import", "clone", "flatten" or "". */
    char *error_message;        /* Why state is error, or why the last
                                 * background operation failed; else "". */
    uint64_t size_bytes;
    uint64_t allocated_bytes;   /* Backend objects that exist (thin). */
    char *parent_volume_id;     /* A clone's parent, or NULL. */
    char *parent_snapshot_id;
    uint32_t clone_depth;       /* 0: not a clone; n: n ancestors. */
    bool attached;              /* Open by a client (RBD: has watchers). */
    int64_t created_at;         /* Unix seconds; 0 while creating. */
    char *backend_name;         /* "rbd/lq-<id>" (pool/image). */
    struct lq_snapshot_info *snapshots;
    size_t n_snapshots;
    char *create_spec;          /* Canonical create request (idempotency). */
};
void lq_volume_info_free(struct lq_volume_info *);

struct lq_volume_list {
    struct lq_volume_info **volumes;
    size_t n;
};
void lq_volume_list_clear(struct lq_volume_list *);

/* What to create.  At most one source: empty when both are NULL. */
struct lq_volume_spec {
    const char *id;             /* Required. */
    const char *pool_id;        /* Required. */
    const char *name;           /* Display name; NULL: the id.  No '/',
                                 * '@' or control characters, <= 255 B. */
    uint64_t size_bytes;        /* Multiple of 512.  Required for an empty
                                 * volume; with a source 0 means the
                                 * source's size, larger grows it. */
    const char *source_snapshot_id; /* Clone from this snapshot. */
    const char *source_volume_id;   /* Optional: the snapshot's volume
                                     * (else found by scanning the pools). */
    const char *source_image_path;  /* Import a local raw or qcow2 file. */
    const char *source_url;         /* Import from http(s) (download.h). */
    const char *source_sha256;      /* With source_url: 64 hex digits. */
};

/* Creates (or, for a retry, finds) a volume; '*infop' may be NULL.  An
 * import or a clone that needs flattening returns with state creating. */
struct lq_error *lq_volume_create(struct lq_storage *,
                                  const struct lq_volume_spec *,
                                  struct lq_volume_info **infop);
struct lq_error *lq_volume_get(struct lq_storage *, const char *id,
                               struct lq_volume_info **infop);
/* 'pool_id' NULL or "": every pool. */
struct lq_error *lq_volume_list(struct lq_storage *, const char *pool_id,
                                struct lq_volume_list *);
/* Refuses (failed_precondition) while the volume has clones or is attached
 * unless 'force': then clones are flattened first and attached clients are
 * blocklisted.  Snapshots are deleted with the volume. */
struct lq_error *lq_volume_delete(struct lq_storage *, const char *id,
                                  bool force);
/* Grows; a smaller size needs 'allow_shrink' (data past it is lost). */
struct lq_error *lq_volume_resize(struct lq_storage *, const char *id,
                                  uint64_t size_bytes, bool allow_shrink,
                                  struct lq_volume_info **infop);
/* Starts copying the parent's data into a clone; returns at once (operation
 * "flatten").  A volume without a parent is left as is. */
struct lq_error *lq_volume_flatten(struct lq_storage *, const char *id,
                                   struct lq_volume_info **infop);
/* Waits until no job runs for 'id' (at most 'timeout_ms'; <0: forever).
 * Returns the job's error if it failed. */
struct lq_error *lq_volume_wait(struct lq_storage *, const char *id,
                                int timeout_ms);

/* ---- The image library (library.c) ------------------------------------- */

/* A base image: a volume imported from a file or a URL. */
struct lq_image_info {
    struct lq_volume_info *volume;
    char *source;               /* "url" or "file". */
    char *url;                  /* Without query or fragment; NULL for a
                                 * file. */
    char *sha256;               /* As the import was given it, or NULL. */
    uint32_t clones;            /* Volumes whose parent it is. */
};
/* The images of pool 'pool_id' (NULL or "": every pool). */
struct lq_error *lq_image_list(struct lq_storage *, const char *pool_id,
                               struct lq_image_info **imagesp, size_t *np);
void lq_image_info_free_array(struct lq_image_info *, size_t n);
/* 'url' as an image listing shows it: without query or fragment. */
char *lq_image_public_url(const char *url);

/* ---- Snapshots --------------------------------------------------------- */

struct lq_error *lq_snapshot_create(struct lq_storage *, const char *volume_id,
                                    const char *snapshot_id, const char *name,
                                    struct lq_snapshot_info **infop);
/* 'volume_id' may be NULL (found by scanning).  A snapshot with clones is
 * refused unless 'force' (the clones are then flattened). */
struct lq_error *lq_snapshot_delete(struct lq_storage *, const char *volume_id,
                                    const char *snapshot_id, bool force);
struct lq_error *lq_snapshot_list(struct lq_storage *, const char *volume_id,
                                  struct lq_snapshot_info **snapsp,
                                  size_t *n_snapsp);
/* Refused while the volume is attached. */
struct lq_error *lq_snapshot_rollback(struct lq_storage *,
                                      const char *volume_id,
                                      const char *snapshot_id);

/* ---- Attaching ----------------------------------------------------------- */

/* Everything libvirt's <disk> needs to attach the volume; no secrets: the
 * cephx key stays in 'keyring', the iSCSI CHAP secret in node.yaml; the
 * compute subsystem turns them into libvirt secrets. */
struct lq_disk_host {
    char *name;                 /* "127.0.0.1", "[::1]" */
    char *port;                 /* "3300"; may be "" */
    char *transport;            /* "v2", "v1" or "" as in mon_host. */
};
struct lq_disk_source {
    char *type;                 /* <disk type=>: "network", "file", "block" */
    char *protocol;             /* <source protocol=>: "rbd" */
    char *name;                 /* <source name=>: "rbd/lq-<id>" */
    char *path;                 /* <source file|dev=> for file/block. */
    char *format;               /* <driver type=>: "raw" or "qcow2" */
    struct lq_disk_host *hosts; /* <host name= port=/> */
    size_t n_hosts;
    char *auth_username;        /* <auth username=>: "admin" */
    char *secret_type;          /* <secret type=>: "ceph", "iscsi" */
    char *secret_usage;         /* <secret usage=> (iscsi): the libvirt
                                 * secret the compute side defines with
                                 * the pool's CHAP secret. */
    char *config_file;          /* ceph.conf path (QEMU rbd conf=) */
    char *keyring;              /* Path holding the key, not the key. */
};
struct lq_error *lq_volume_disk_source(struct lq_storage *, const char *id,
                                       struct lq_disk_source **sourcep);
void lq_disk_source_free(struct lq_disk_source *);
/* The secret value a disk source's <auth> needs where it is not in a file
 * (iSCSI CHAP: from node.yaml), for the compute subsystem to store in a
 * libvirt secret; '*secretp' is NULL when there is none.  The caller
 * clears and frees it.  Never logged, never in an error. */
struct lq_error *lq_volume_disk_secret(struct lq_storage *, const char *id,
                                       char **secretp);

/* ---- Validation (exposed for tests and other callers) ------------------- */

/* invalid_argument naming 'field' when wrong. */
struct lq_error *lq_storage_check_id(const char *field, const char *id);
struct lq_error *lq_storage_check_name(const char *field, const char *name);
struct lq_error *lq_storage_check_size(const char *field, uint64_t size,
                                       bool zero_ok);

#ifdef __cplusplus
}
#endif

#endif /* limiquantix/storage.h */
