/* rpc_storage.h: limiquantix.storage.v1 (StoragePoolService, VolumeService).
 *
 * The handlers are thin wrappers over limiquantix/storage.h; they find the
 * storage through lq_node_storage() and answer "unavailable" while none is
 * attached.  Every method is blocking (runs on the worker pool). */
#ifndef LQ_RPC_STORAGE_H
#define LQ_RPC_STORAGE_H 1

struct lq_rpc_registry;
struct json;
struct lq_volume_info;
struct lq_snapshot_info;

void lq_rpc_storage_register(struct lq_rpc_registry *);

/* Proto3-JSON encodings (exposed for tests). */
struct json *lq_volume_to_json(const struct lq_volume_info *);
struct json *lq_snapshot_to_json(const struct lq_snapshot_info *);

#endif
