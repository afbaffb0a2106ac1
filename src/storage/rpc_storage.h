/* rpc_storage.h: limiquantix.storage.v1 (StoragePoolService, VolumeService).
 *
 * The handlers are thin wrappers over limiquantix/storage.h; they find the
 * storage through lq_node_storage() and answer "unavailable" while none is
 * attached.  Every method is blocking (runs on the worker pool). */
#ifndef LQ_RPC_STORAGE_H
#define LQ_RPC_STORAGE_H 1

#include <protobuf-c/protobuf-c.h>

struct lq_rpc_registry;
struct lq_volume_info;
struct lq_snapshot_info;

void lq_rpc_storage_register(struct lq_rpc_registry *);

/* The contract's Volume and Snapshot messages (exposed for tests); freed
 * with protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCMessage *lq_volume_message(const struct lq_volume_info *);
ProtobufCMessage *lq_snapshot_message(const struct lq_snapshot_info *);

#endif
