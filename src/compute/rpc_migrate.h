/* rpc_migrate.h: migration in NodeDaemonService: MigrateVM as a server
 * stream of MigrationProgress, and the seed's PrepareMigration /
 * ReceiveMigration handshake. */
#ifndef LQ_RPC_MIGRATE_H
#define LQ_RPC_MIGRATE_H 1

#include "limiquantix/error.h"

struct lq_rpc_registry;
struct Limiquantix__Node__V1__MigrateVMRequest;

/* What both MigrateVM forms refuse before anything starts (storage). */
struct lq_error *rpc_migrate_check(
    const struct Limiquantix__Node__V1__MigrateVMRequest *);

/* MigrateVM's stream (its unary form, for HTTP/1.1, is in rpc_compute.c). */
extern const struct lq_rpc_stream_class lq_migrate_stream_class;

void lq_rpc_migrate_register(struct lq_rpc_registry *);

#endif
