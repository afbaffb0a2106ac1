/* rpc_metrics.h: the metrics of NodeDaemonService: the VMMetrics message
 * (for GetVMMetrics) and the StreamMetrics server stream (the node, its
 * disks and interfaces, and every VM of ours, each intervalSeconds). */
#ifndef LQ_RPC_METRICS_H
#define LQ_RPC_METRICS_H 1

#include <protobuf-c/protobuf-c.h>

struct lq_rpc_registry;
struct lq_vm_metrics;

void lq_rpc_metrics_register(struct lq_rpc_registry *);

/* A VMMetrics message: the seed's fields (totals over the VM's disks and
 * NICs; 'name' if nonnull; 'cpu_percent' if >= 0: it needs two samples,
 * else 0) and ours (numbered from 100: libvirt's counters, per device). */
ProtobufCMessage *lq_vm_metrics_message(const char *vm_id, const char *name,
                                        const struct lq_vm_metrics *,
                                        double cpu_percent);

#endif
