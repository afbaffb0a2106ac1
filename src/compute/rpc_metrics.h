/* rpc_metrics.h: the metrics of NodeDaemonService: VMMetrics as JSON (for
 * GetVMMetrics) and the StreamMetrics server stream (the node, its disks
 * and interfaces, and every VM of ours, each intervalSeconds). */
#ifndef LQ_RPC_METRICS_H
#define LQ_RPC_METRICS_H 1

struct json;
struct lq_rpc_registry;
struct lq_vm_metrics;

void lq_rpc_metrics_register(struct lq_rpc_registry *);

/* A VMMetrics message: the seed's fields (totals over the VM's disks and
 * NICs; 'name' if nonnull; 'cpu_percent' if >= 0: it needs two samples)
 * and ours (numbered from 100: libvirt's counters, per device). */
struct json *lq_vm_metrics_to_json(const char *vm_id, const char *name,
                                   const struct lq_vm_metrics *,
                                   double cpu_percent);

#endif
