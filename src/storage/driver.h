/* driver.h: the storage backend vtable.
 *
 * Every backend (rbd today; lvm-thin, nfs, iscsi and local next) implements
 * one `struct lq_storage_driver`.  The generic layer (storage.c) validates
 * every argument, resolves which pool holds a volume, runs long operations
 * on job threads and implements idempotency from what the driver reports;
 * a driver only talks to its backing system, addressing volumes and
 * snapshots by our ids.
 *
 * Driver rules:
 * - Thread-safe: any op may run on several threads at once.
 * - Never leave a half-made volume under its final name: build under a
 *   temporary name (or equivalent) and publish atomically.
 * - Report "does not exist" as LQ_NOT_FOUND, a backing system that cannot
 *   be reached as LQ_UNAVAILABLE, and name the pool and volume in messages.
 * - Long ops take a `struct lq_job_progress`, update 'percent' and stop
 *   with LQ_CANCELED when 'cancel' is set. */
#ifndef LQ_STORAGE_DRIVER_H
#define LQ_STORAGE_DRIVER_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "limiquantix/config.h"
#include "limiquantix/storage.h"
#include "ovs-atomic.h"

struct lq_image_reader;

struct lq_job_progress {
    atomic_uint percent;        /* 0..100 */
    atomic_bool cancel;         /* Set by lq_storage_destroy(). */
};

/* One configured pool as the generic layer sees it. */
struct lq_storage_pool {
    char *id;
    char *backend;              /* From the config, even if unimplemented. */
    const struct lq_storage_driver *driver;
    void *impl;                 /* Driver-private. */
};

/* What the driver needs to create a volume: the validated spec, plus the
 * canonical spec string it must store for idempotency checks. */
struct lq_volume_create_args {
    const char *id;
    const char *name;
    uint64_t size_bytes;        /* Final size (>= the source's size). */
    const char *spec;           /* Store it; lq_volume_info.create_spec. */
};

struct lq_storage_driver {
    const char *backend;        /* "rbd" */

    /* Parses the pool's params; must not block on the network. */
    struct lq_error *(*open)(const struct lq_pool_config *, void **implp);
    /* Optional: called once every pool is open, for a pool that uses
     * another one (an iscsi export's backing pool). */
    struct lq_error *(*link)(void *impl, struct lq_storage_pool *pools,
                             size_t n_pools);
    void (*close)(void *impl);

    /* Capacity and health; fills every field but id/backend. */
    struct lq_error *(*status)(void *impl, struct lq_pool_status *);

    /* An empty volume. */
    struct lq_error *(*create)(void *impl,
                               const struct lq_volume_create_args *);
    /* A copy-on-write clone of a snapshot in the same pool; 'flatten'
     * copies the parent's data so the result stands alone. */
    struct lq_error *(*clone)(void *impl,
                              const struct lq_volume_create_args *,
                              const char *src_volume_id,
                              const char *src_snapshot_id, bool flatten,
                              struct lq_job_progress *);
    /* A volume from raw data (see image.h). */
    struct lq_error *(*import)(void *impl,
                               const struct lq_volume_create_args *,
                               struct lq_image_reader *,
                               struct lq_job_progress *);
    /* LQ_NOT_FOUND if absent. */
    struct lq_error *(*info)(void *impl, const char *id,
                             struct lq_volume_info **);
    struct lq_error *(*list)(void *impl, struct lq_volume_list *);
    /* Succeeds if absent.  Also removes what a crashed create left. */
    struct lq_error *(*remove)(void *impl, const char *id, bool force);
    struct lq_error *(*resize)(void *impl, const char *id, uint64_t size,
                               bool allow_shrink);
    struct lq_error *(*flatten)(void *impl, const char *id,
                                struct lq_job_progress *);
    /* Clone chain length of a volume (0: not a clone). */
    struct lq_error *(*clone_depth)(void *impl, const char *id,
                                    uint32_t *depthp);
    /* Max clone depth before a new clone is flattened. */
    uint32_t (*max_clone_depth)(void *impl);

    struct lq_error *(*snapshot_create)(void *impl, const char *volume_id,
                                        const char *snapshot_id,
                                        const char *name);
    struct lq_error *(*snapshot_delete)(void *impl, const char *volume_id,
                                        const char *snapshot_id, bool force);
    struct lq_error *(*snapshot_rollback)(void *impl, const char *volume_id,
                                          const char *snapshot_id);
    /* Which volume holds 'snapshot_id' (LQ_NOT_FOUND if none). */
    struct lq_error *(*snapshot_find)(void *impl, const char *snapshot_id,
                                      char **volume_idp);

    struct lq_error *(*disk_source)(void *impl, const char *id,
                                    struct lq_disk_source **);
    /* Optional: the secret value the disk source's <auth> needs (iSCSI
     * CHAP), '*secretp' NULL if none.  Never logged. */
    struct lq_error *(*disk_secret)(void *impl, const char *id,
                                    char **secretp);
};

extern const struct lq_storage_driver lq_rbd_driver;
extern const struct lq_storage_driver lq_local_driver;
extern const struct lq_storage_driver lq_iscsi_driver;
extern const struct lq_storage_driver lq_nfs_driver;
extern const struct lq_storage_driver lq_lvm_driver;

/* Helpers for drivers (storage.c). */
struct lq_volume_info *lq_volume_info_new(void);
struct lq_snapshot_info *lq_snapshot_info_dup(const struct lq_snapshot_info *);
void lq_volume_list_add(struct lq_volume_list *, struct lq_volume_info *);

#endif
