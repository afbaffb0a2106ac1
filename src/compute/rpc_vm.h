/* rpc_vm.h: NodeDaemonService's VM methods as typed handlers (CreateVM,
 * the lifecycle calls, GetVMStatus, ListVMs, hot-plug, GetConsole,
 * snapshots). */
#ifndef LQ_RPC_VM_H
#define LQ_RPC_VM_H 1

#include <protobuf-c/protobuf-c.h>
#include "limiquantix/error.h"

struct lq_rpc_registry;
struct lq_vm_spec;

void lq_rpc_vm_register(struct lq_rpc_registry *);

/* A CreateVMOnNodeRequest into 's' (initialized by the caller with
 * lq_vm_spec_init(), cleared by the caller). */
struct lq_error *lq_rpc_vm_parse_create(const ProtobufCMessage *,
                                        struct lq_vm_spec *);

#endif
