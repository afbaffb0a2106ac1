/* engine.h: the network subsystem's engine (struct lq_network).
 *
 * It owns two OVSDB IDLs, the OVN Northbound database and the local
 * Open_vSwitch database, and runs on the daemon's one event loop
 * (lq_network_run/wait next to the HTTP server and the worker pool).
 *
 * Work arrives as operations.  An operation's build() runs on the loop with
 * both replicas current, validates against them and writes at most one
 * transaction per database; the engine commits, and if the database says
 * "try again" (someone else changed what we verified) it re-runs build()
 * on the fresher replica: the IDL pattern.  Operations are committed one at
 * a time, so builds never see each other's uncommitted writes.  An optional
 * ready() then lets an operation wait for a later database state (a port
 * installed by ovn-controller) without holding up the others. */
#ifndef LQ_OVN_ENGINE_H
#define LQ_OVN_ENGINE_H 1

#include <stdbool.h>
#include "limiquantix/config.h"
#include "limiquantix/error.h"

struct lq_network;
struct ovsdb_idl;
struct ovsdb_idl_txn;

struct lq_vs_dpdk;

struct lq_network_options {
    const char *nb_remote;          /* Required. */
    const char *ovs_remote;         /* NULL: no local switch (no binding). */
    const char *sb_remote;          /* Non-NULL: set as ovn-remote. */
    const char *chassis;            /* system-id: the node id. */
    const char *hostname;
    const char *integration_bridge;
    const char *datapath_type;      /* "system" or "netdev". */
    const char *encap_type;
    const char *encap_ip;
    const struct lq_kv_list *bridge_mappings;
    /* The DPDK fast path (vswitchd-ctl/dpdk.h), NULL without it.  Not
     * copied: it must outlive the network. */
    const struct lq_vs_dpdk *dpdk;
};

struct lq_net_ctx {
    struct lq_network *net;
    struct ovsdb_idl *nb;
    struct ovsdb_idl *ovs;          /* NULL without a local switch. */
    const struct lq_network_options *options;
};

/* Transactions are created on first use in a build(). */
struct ovsdb_idl_txn *lq_net_nb_txn(struct lq_net_ctx *);
struct ovsdb_idl_txn *lq_net_ovs_txn(struct lq_net_ctx *);

struct lq_net_op_class {
    const char *name;               /* For logs and txn comments. */
    bool needs_ovs;                 /* Wait for the local switch too. */
    /* Validates and writes; an error aborts (nothing is committed). */
    struct lq_error *(*build)(struct lq_net_ctx *, void *aux);
    /* After a successful commit: sets '*done' when the wait is over. */
    struct lq_error *(*ready)(struct lq_net_ctx *, void *aux, bool *done);
    /* Always called once, on the loop, with the outcome (NULL = success).
     * Takes ownership of 'error'. */
    void (*finish)(struct lq_error *error, void *aux);
};

struct lq_error *lq_network_create(const struct lq_network_options *,
                                   struct lq_network **);
/* Operations still queued or waiting finish with "unavailable". */
void lq_network_destroy(struct lq_network *);
/* The loop has stopped for good: threads waiting in
 * lq_network_execute_threaded() give up at once (unavailable) instead of
 * waiting out their timeout, and new ones are refused. */
void lq_network_stop_threaded(struct lq_network *);

void lq_network_run(struct lq_network *);
void lq_network_wait(struct lq_network *);

/* Queues an operation; 'timeout_ms' bounds the whole of it, waiting for the
 * database included. */
void lq_network_submit(struct lq_network *, const struct lq_net_op_class *,
                       void *aux, long long timeout_ms);

/* Runs one operation to completion, driving the loop itself: for in-process
 * C API users that do not run the daemon's loop (tests, tools).  Must not
 * be called from inside the loop. */
struct lq_error *lq_network_execute(struct lq_network *,
                                    const struct lq_net_op_class *,
                                    void *aux, long long timeout_ms);

/* The same from any thread other than the loop's (the daemon's worker
 * threads): the operation is handed to the loop, which must be running,
 * and the caller blocks until it has finished. */
struct lq_error *lq_network_execute_threaded(struct lq_network *,
                                             const struct lq_net_op_class *,
                                             void *aux, long long timeout_ms);
const struct lq_network_options *lq_network_options(const struct lq_network *);

/* On the loop: a line for each database this node cannot use now (the OVN
 * Northbound, the local Open_vSwitch), appended to 'problems'. */
struct svec;
void lq_network_check_health(const struct lq_network *, struct svec *problems);
/* True once both replicas have connected at least once. */
bool lq_network_has_connected(const struct lq_network *);

#endif
