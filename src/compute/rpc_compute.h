/* rpc_compute.h: NodeDaemonService's compute methods (rpc_compute.c,
 * rpc_vm.c, rpc_metrics.c, rpc_migrate.c).
 *
 * The handlers are thin wrappers over limiquantix/compute.h; they use the
 * handle given to lq_compute_set_default() and answer "unavailable" while
 * there is none.  Every unary method is blocking (runs on the worker
 * pool). */
#ifndef LQ_RPC_COMPUTE_H
#define LQ_RPC_COMPUTE_H 1

#include <stdbool.h>
#include "limiquantix/error.h"

struct lq_rpc_registry;
struct json;
struct lq_vm_spec;

void lq_rpc_compute_register(struct lq_rpc_registry *);

/* Exposed for tests: a CreateVM request in proto3 JSON into a spec
 * (initialized by the caller with lq_vm_spec_init(), cleared by the
 * caller), through the contract's message as the transports decode it. */
struct lq_error *lq_rpc_compute_parse_create(const struct json *request,
                                             struct lq_vm_spec *);

/* Shared by the compute RPC files: the compute handle (unavailable while
 * there is none); a UUID string field 's' ("" is unset, as in proto3),
 * normalized to lower case into 'out' (invalid_argument naming 'field');
 * and both for a request's required vmId. */
struct lq_compute;
struct lq_error *rpc_compute_get(struct lq_compute **);
struct lq_error *rpc_check_uuid(const char *s, const char *field,
                                bool required, char out[37]);
struct lq_error *rpc_vm_target(const char *vm_id, struct lq_compute **,
                               char id[37]);

#endif
