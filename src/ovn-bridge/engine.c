/* engine.c: operation queue and transaction loop over the NB and
 * Open_vSwitch IDLs (see engine.h). */
#include <config.h>
#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lq-ovn-nb-idl.h"
#include "lq-vswitch-idl.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "ovsdb-idl.h"
#include "seq.h"
#include "svec.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ovn_engine);

struct op {
    struct ovs_list node;
    const struct lq_net_op_class *class;
    void *aux;
    long long deadline;
    struct ovsdb_idl_txn *nb_txn;
    struct ovsdb_idl_txn *ovs_txn;
    bool nb_done, ovs_done;         /* Committed (or nothing to commit). */
    /* What the commits said so far: the NB and Open_vSwitch transactions
     * may finish in different loop passes, and the outcome is decided only
     * when both have. */
    struct lq_error *commit_error;
    bool commit_retry;
};

struct lq_network {
    struct lq_network_options options;
    struct ovsdb_idl *nb;
    struct ovsdb_idl *ovs;
    struct ovs_list queue;          /* Waiting to build. */
    struct op *active;              /* Committing. */
    struct ovs_list waiting;        /* Committed, waiting for ready(). */
    unsigned int retry_seqno;       /* Rebuild after TRY_AGAIN once the
                                     * replica moved past this. */

    /* Operations from other threads (lq_network_execute_threaded()). */
    struct ovs_mutex inbox_mutex;
    pthread_cond_t inbox_cond;      /* Signalled when one of them ends. */
    struct ovs_list inbox OVS_GUARDED;
    struct seq *inbox_seq;          /* Wakes the loop. */
    uint64_t inbox_seqno;
    bool stopped OVS_GUARDED;       /* lq_network_stop_threaded(). */
};

static struct lq_net_ctx
make_ctx(struct lq_network *net)
{
    return (struct lq_net_ctx) { net, net->nb, net->ovs, &net->options };
}

static struct op *ctx_op;           /* The op whose build() is running. */

struct ovsdb_idl_txn *
lq_net_nb_txn(struct lq_net_ctx *ctx)
{
    if (!ctx_op->nb_txn) {
        ctx_op->nb_txn = ovsdb_idl_txn_create(ctx->nb);
        ovsdb_idl_txn_add_comment(ctx_op->nb_txn, "limiquantix: %s",
                                  ctx_op->class->name);
    }
    return ctx_op->nb_txn;
}

struct ovsdb_idl_txn *
lq_net_ovs_txn(struct lq_net_ctx *ctx)
{
    ovs_assert(ctx->ovs);
    if (!ctx_op->ovs_txn) {
        ctx_op->ovs_txn = ovsdb_idl_txn_create(ctx->ovs);
        ovsdb_idl_txn_add_comment(ctx_op->ovs_txn, "limiquantix: %s",
                                  ctx_op->class->name);
    }
    return ctx_op->ovs_txn;
}

static char *
dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

struct lq_error *
lq_network_create(const struct lq_network_options *o,
                  struct lq_network **netp)
{
    struct lq_network *net = xzalloc(sizeof *net);
    struct lq_network_options *copy = &net->options;

    copy->nb_remote = xstrdup(o->nb_remote);
    copy->ovs_remote = dup_or_null(o->ovs_remote);
    copy->sb_remote = dup_or_null(o->sb_remote);
    copy->chassis = xstrdup(o->chassis);
    copy->hostname = xstrdup(o->hostname);
    copy->integration_bridge = xstrdup(o->integration_bridge);
    copy->datapath_type = xstrdup(o->datapath_type);
    copy->encap_type = xstrdup(o->encap_type);
    copy->encap_ip = xstrdup(o->encap_ip);
    copy->bridge_mappings = o->bridge_mappings;
    copy->dpdk = o->dpdk;

    net->nb = ovsdb_idl_create(copy->nb_remote, &nbrec_idl_class, true, true);
    if (copy->ovs_remote) {
        net->ovs = ovsdb_idl_create(copy->ovs_remote, &vsrec_idl_class, true,
                                    true);
    }
    ovs_list_init(&net->queue);
    ovs_list_init(&net->waiting);
    ovs_mutex_init(&net->inbox_mutex);
    xpthread_cond_init(&net->inbox_cond, NULL);
    ovs_list_init(&net->inbox);
    net->inbox_seq = seq_create();
    net->inbox_seqno = seq_read(net->inbox_seq);
    *netp = net;
    return NULL;
}

static void take_inbox(struct lq_network *);

/* ovsdb_idl_txn_destroy() does not accept NULL. */
static void
op_drop_txns(struct op *op)
{
    if (op->nb_txn) {
        ovsdb_idl_txn_destroy(op->nb_txn);
    }
    if (op->ovs_txn) {
        ovsdb_idl_txn_destroy(op->ovs_txn);
    }
    op->nb_txn = op->ovs_txn = NULL;
}

static void
op_finish(struct op *op, struct lq_error *error)
{
    op_drop_txns(op);
    if (op->commit_error && error != op->commit_error) {
        lq_error_free(op->commit_error);
    }
    op->commit_error = NULL;
    op->class->finish(error, op->aux);
    free(op);
}

void
lq_network_destroy(struct lq_network *net)
{
    if (!net) {
        return;
    }
    take_inbox(net);
    struct op *op;
    LIST_FOR_EACH_POP (op, node, &net->queue) {
        op_finish(op, lq_error_new(LQ_UNAVAILABLE, "shutting down"));
    }
    LIST_FOR_EACH_POP (op, node, &net->waiting) {
        op_finish(op, lq_error_new(LQ_UNAVAILABLE, "shutting down"));
    }
    if (net->active) {
        op_finish(net->active, lq_error_new(LQ_UNAVAILABLE, "shutting down"));
    }
    ovsdb_idl_destroy(net->nb);
    ovsdb_idl_destroy(net->ovs);
    struct lq_network_options *o = &net->options;
    free(CONST_CAST(char *, o->nb_remote));
    free(CONST_CAST(char *, o->ovs_remote));
    free(CONST_CAST(char *, o->sb_remote));
    free(CONST_CAST(char *, o->chassis));
    free(CONST_CAST(char *, o->hostname));
    free(CONST_CAST(char *, o->integration_bridge));
    free(CONST_CAST(char *, o->datapath_type));
    free(CONST_CAST(char *, o->encap_type));
    free(CONST_CAST(char *, o->encap_ip));
    seq_destroy(net->inbox_seq);
    xpthread_cond_destroy(&net->inbox_cond);
    ovs_mutex_destroy(&net->inbox_mutex);
    free(net);
}

const struct lq_network_options *
lq_network_options(const struct lq_network *net)
{
    return &net->options;
}

/* A replica is usable once it has been connected and filled. */
static bool
idl_ready(struct ovsdb_idl *idl)
{
    return !idl || (ovsdb_idl_has_ever_connected(idl)
                    && ovsdb_idl_is_connected(idl));
}

static bool
op_can_start(const struct lq_network *net, const struct op *op)
{
    return idl_ready(net->nb) && (!op->class->needs_ovs || (net->ovs
                                  && idl_ready(net->ovs)));
}

static struct lq_error *
timeout_error(const struct lq_network *net, const struct op *op)
{
    if (!idl_ready(net->nb)) {
        return lq_error_new(LQ_UNAVAILABLE, "%s: the OVN Northbound database "
                            "(%s) is not reachable", op->class->name,
                            net->options.nb_remote);
    }
    if (op->class->needs_ovs && !net->ovs) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "%s: this node has no "
                            "local Open_vSwitch database configured",
                            op->class->name);
    }
    if (op->class->needs_ovs && !idl_ready(net->ovs)) {
        return lq_error_new(LQ_UNAVAILABLE, "%s: the local Open_vSwitch "
                            "database (%s) is not reachable",
                            op->class->name, net->options.ovs_remote);
    }
    return lq_error_new(LQ_DEADLINE_EXCEEDED, "%s: timed out",
                        op->class->name);
}

/* Runs build() for 'op'; returns true if it is now committing. */
static bool
op_build(struct lq_network *net, struct op *op)
{
    struct lq_net_ctx ctx = make_ctx(net);

    ctx_op = op;
    struct lq_error *error = op->class->build(&ctx, op->aux);
    ctx_op = NULL;
    if (error) {
        if (op->nb_txn) {
            ovsdb_idl_txn_abort(op->nb_txn);
        }
        if (op->ovs_txn) {
            ovsdb_idl_txn_abort(op->ovs_txn);
        }
        op_finish(op, error);
        return false;
    }
    op->nb_done = !op->nb_txn;
    op->ovs_done = !op->ovs_txn;
    return true;
}

/* Keeps the first commit failure of 'op'; a second one (the other
 * database's) is added to its message rather than lost. */
static void
op_add_commit_error(struct op *op, struct lq_error *error)
{
    if (!op->commit_error) {
        op->commit_error = error;
    } else {
        char *msg = xasprintf("%s; and %s", op->commit_error->message,
                              error->message);
        free(op->commit_error->message);
        op->commit_error->message = msg;
        lq_error_free(error);
    }
}

/* Commits 'txn'; returns true when it is finished, recording a failure or
 * a TRY_AGAIN in 'op'. */
static bool
commit_one(struct ovsdb_idl_txn *txn, const char *db, struct op *op)
{
    enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit(txn);
    switch (status) {
    case TXN_UNCOMMITTED:
    case TXN_INCOMPLETE:
        return false;
    case TXN_SUCCESS:
    case TXN_UNCHANGED:
        return true;
    case TXN_TRY_AGAIN:
        op->commit_retry = true;
        return true;
    case TXN_ABORTED:
    case TXN_NOT_LOCKED:
    case TXN_ERROR:
    default:
        op_add_commit_error(op, lq_error_new(
            LQ_INTERNAL, "%s: %s transaction failed: %s", op->class->name,
            db, ovsdb_idl_txn_get_error(txn)));
        return true;
    }
}

static void
run_active(struct lq_network *net)
{
    struct op *op = net->active;

    if (!op->nb_done) {
        op->nb_done = commit_one(op->nb_txn, "Northbound", op);
    }
    if (!op->ovs_done) {
        op->ovs_done = commit_one(op->ovs_txn, "Open_vSwitch", op);
    }
    if (!op->nb_done || !op->ovs_done) {
        return;
    }
    net->active = NULL;
    bool retry = op->commit_retry;
    op->commit_retry = false;
    if (op->commit_error) {
        /* A failure wins over a retry: the other half may have committed,
         * and the caller must hear that the operation did not succeed. */
        op_finish(op, op->commit_error);
    } else if (retry) {
        /* Someone changed what we verified: rebuild on a fresh replica. */
        op_drop_txns(op);
        ovs_list_push_front(&net->queue, &op->node);
        net->retry_seqno = ovsdb_idl_get_seqno(net->nb)
                           + (net->ovs ? ovsdb_idl_get_seqno(net->ovs) : 0);
    } else if (op->class->ready) {
        op_drop_txns(op);
        ovs_list_push_back(&net->waiting, &op->node);
    } else {
        op_finish(op, NULL);
    }
}

static void
run_waiting(struct lq_network *net)
{
    struct lq_net_ctx ctx = make_ctx(net);
    struct op *op;

    LIST_FOR_EACH_SAFE (op, node, &net->waiting) {
        bool done = false;
        struct lq_error *error = op->class->ready(&ctx, op->aux, &done);
        if (!error && !done && time_msec() >= op->deadline) {
            error = lq_error_new(LQ_DEADLINE_EXCEEDED, "%s: timed out "
                                 "waiting for OVN", op->class->name);
        }
        if (error || done) {
            ovs_list_remove(&op->node);
            op_finish(op, error);
        }
    }
}

static unsigned int
seqno_sum(const struct lq_network *net)
{
    return ovsdb_idl_get_seqno(net->nb)
           + (net->ovs ? ovsdb_idl_get_seqno(net->ovs) : 0);
}

void
lq_network_run(struct lq_network *net)
{
    take_inbox(net);
    ovsdb_idl_run(net->nb);
    if (net->ovs) {
        ovsdb_idl_run(net->ovs);
    }

    if (net->active) {
        run_active(net);
    }
    while (!net->active && !ovs_list_is_empty(&net->queue)) {
        struct op *op = CONTAINER_OF(ovs_list_front(&net->queue), struct op,
                                     node);
        if (!op_can_start(net, op) || (net->retry_seqno
                                       && seqno_sum(net) == net->retry_seqno)) {
            if (time_msec() >= op->deadline) {
                ovs_list_remove(&op->node);
                op_finish(op, timeout_error(net, op));
                continue;
            }
            break;
        }
        net->retry_seqno = 0;
        ovs_list_remove(&op->node);
        if (op_build(net, op)) {
            net->active = op;
            run_active(net);
        }
    }
    run_waiting(net);
}

void
lq_network_wait(struct lq_network *net)
{
    seq_wait(net->inbox_seq, net->inbox_seqno);
    ovsdb_idl_wait(net->nb);
    if (net->ovs) {
        ovsdb_idl_wait(net->ovs);
    }
    if (net->active) {
        if (net->active->nb_txn && !net->active->nb_done) {
            ovsdb_idl_txn_wait(net->active->nb_txn);
        }
        if (net->active->ovs_txn && !net->active->ovs_done) {
            ovsdb_idl_txn_wait(net->active->ovs_txn);
        }
    } else if (!ovs_list_is_empty(&net->queue)) {
        struct op *op = CONTAINER_OF(ovs_list_front(&net->queue), struct op,
                                     node);
        if (op_can_start(net, op) && !net->retry_seqno) {
            poll_immediate_wake();
        } else {
            poll_timer_wait_until(op->deadline);
        }
    }
    struct op *op;
    LIST_FOR_EACH (op, node, &net->waiting) {
        poll_timer_wait_until(op->deadline);
    }
}

void
lq_network_submit(struct lq_network *net, const struct lq_net_op_class *class,
                  void *aux, long long timeout_ms)
{
    struct op *op = xzalloc(sizeof *op);
    op->class = class;
    op->aux = aux;
    op->deadline = time_msec() + timeout_ms;
    ovs_list_push_back(&net->queue, &op->node);
    poll_immediate_wake();
}

/* lq_network_execute(): wraps the caller's finish() to notice completion. */
struct sync_aux {
    const struct lq_net_op_class *inner;
    void *inner_aux;
    struct lq_error *error;
    bool done;
};

static struct lq_error *
sync_build(struct lq_net_ctx *ctx, void *aux_)
{
    struct sync_aux *aux = aux_;
    return aux->inner->build(ctx, aux->inner_aux);
}

static struct lq_error *
sync_ready(struct lq_net_ctx *ctx, void *aux_, bool *done)
{
    struct sync_aux *aux = aux_;
    return aux->inner->ready(ctx, aux->inner_aux, done);
}

static void
sync_finish(struct lq_error *error, void *aux_)
{
    struct sync_aux *aux = aux_;
    aux->error = error;
    aux->done = true;
}

struct lq_error *
lq_network_execute(struct lq_network *net, const struct lq_net_op_class *c,
                   void *inner_aux, long long timeout_ms)
{
    struct lq_net_op_class wrapper = {
        c->name, c->needs_ovs, sync_build, c->ready ? sync_ready : NULL,
        sync_finish,
    };
    struct sync_aux aux = { c, inner_aux, NULL, false };

    lq_network_submit(net, &wrapper, &aux, timeout_ms);
    while (!aux.done) {
        lq_network_run(net);
        if (!aux.done) {
            lq_network_wait(net);
            poll_block();
        }
    }
    return aux.error;
}

/* lq_network_execute_threaded(): an operation handed over from another
 * thread.  'sync' comes first so the sync_* wrappers work on it.
 *
 * Ownership: the xcall belongs to the waiting thread until it gives up,
 * then to the loop.  The inner aux always belongs to the caller, who frees
 * it once we return, so the loop may only touch it (in build() and
 * ready()) while the waiter still waits: each such call is bracketed by
 * 'in_inner', and a waiter that gives up first marks the call abandoned
 * and waits for a running build()/ready() to end. */
struct xcall {
    struct sync_aux sync;
    struct ovs_list node;           /* In net->inbox until submitted. */
    struct lq_network *net;
    struct lq_net_op_class wrapper;
    long long timeout_ms;
    bool queued;                    /* In net->inbox. */
    bool in_inner;                  /* The loop runs build() or ready(). */
    bool abandoned;                 /* The caller gave up: no more calls
                                     * into its code. */
    bool orphaned;                  /* The waiter left: free on finish. */
};

/* Marks the start of a call into the caller's code; false if the caller
 * is gone. */
static bool
xcall_enter(struct xcall *x)
{
    ovs_mutex_lock(&x->net->inbox_mutex);
    bool ok = !x->abandoned;
    x->in_inner = ok;
    ovs_mutex_unlock(&x->net->inbox_mutex);
    return ok;
}

static void
xcall_leave(struct xcall *x)
{
    ovs_mutex_lock(&x->net->inbox_mutex);
    x->in_inner = false;
    xpthread_cond_broadcast(&x->net->inbox_cond);
    ovs_mutex_unlock(&x->net->inbox_mutex);
}

static struct lq_error *
abandoned_error(const struct xcall *x)
{
    return lq_error_new(LQ_ABORTED, "%s: the caller gave up waiting",
                        x->sync.inner->name);
}

static struct lq_error *
xcall_build(struct lq_net_ctx *ctx, void *aux)
{
    struct xcall *x = aux;
    if (!xcall_enter(x)) {
        return abandoned_error(x);
    }
    struct lq_error *error = sync_build(ctx, &x->sync);
    xcall_leave(x);
    return error;
}

static struct lq_error *
xcall_ready(struct lq_net_ctx *ctx, void *aux, bool *done)
{
    struct xcall *x = aux;
    if (!xcall_enter(x)) {
        return abandoned_error(x);
    }
    struct lq_error *error = sync_ready(ctx, &x->sync, done);
    xcall_leave(x);
    return error;
}

static void
xcall_finish(struct lq_error *error, void *aux)
{
    struct xcall *x = aux;
    struct lq_network *net = x->net;

    ovs_mutex_lock(&net->inbox_mutex);
    bool orphaned = x->orphaned;
    x->sync.error = error;
    x->sync.done = true;
    xpthread_cond_broadcast(&net->inbox_cond);
    ovs_mutex_unlock(&net->inbox_mutex);
    if (orphaned) {
        lq_error_free(error);
        free(x);
    }
}

/* On the loop: queue what other threads handed over. */
static void
take_inbox(struct lq_network *net)
{
    struct ovs_list taken;

    net->inbox_seqno = seq_read(net->inbox_seq);
    ovs_mutex_lock(&net->inbox_mutex);
    ovs_list_move(&taken, &net->inbox);
    ovs_list_init(&net->inbox);
    struct xcall *x;
    LIST_FOR_EACH (x, node, &taken) {
        x->queued = false;
    }
    ovs_mutex_unlock(&net->inbox_mutex);

    LIST_FOR_EACH_POP (x, node, &taken) {
        lq_network_submit(net, &x->wrapper, x, x->timeout_ms);
    }
}

struct lq_error *
lq_network_execute_threaded(struct lq_network *net,
                            const struct lq_net_op_class *c, void *inner_aux,
                            long long timeout_ms)
{
    struct xcall *x = xzalloc(sizeof *x);
    x->sync.inner = c;
    x->sync.inner_aux = inner_aux;
    x->net = net;
    x->wrapper = (struct lq_net_op_class) {
        c->name, c->needs_ovs, xcall_build, c->ready ? xcall_ready : NULL,
        xcall_finish,
    };
    x->timeout_ms = timeout_ms;

    ovs_mutex_lock(&net->inbox_mutex);
    ovs_list_push_back(&net->inbox, &x->node);
    x->queued = true;
    ovs_mutex_unlock(&net->inbox_mutex);
    seq_change(net->inbox_seq);

    /* The operation has its own deadline; this one only guards against a
     * loop that stopped running (shutdown). */
    struct timespec deadline;
    long long until = time_wall_msec() + timeout_ms + 10000;
    deadline.tv_sec = until / 1000;
    deadline.tv_nsec = (until % 1000) * 1000000;
    struct lq_error *error;
    ovs_mutex_lock(&net->inbox_mutex);
    while (!x->sync.done && !net->stopped) {
        if (pthread_cond_timedwait(&net->inbox_cond, &net->inbox_mutex.lock,
                                   &deadline) == ETIMEDOUT) {
            break;
        }
    }
    if (!x->sync.done) {
        /* Cancel: never again touch 'inner_aux', and wait out a build() or
         * ready() that is using it right now. */
        x->abandoned = true;
        while (x->in_inner && !x->sync.done) {
            ovs_mutex_cond_wait(&net->inbox_cond, &net->inbox_mutex);
        }
    }
    if (x->sync.done) {
        error = x->sync.error;
    } else {
        if (x->queued) {
            ovs_list_remove(&x->node);  /* Never reached the loop. */
        } else {
            x->orphaned = true;         /* The loop frees it on finish. */
            x = NULL;
        }
        error = lq_error_new(LQ_UNAVAILABLE, "%s: the network engine did not "
                             "answer", c->name);
    }
    ovs_mutex_unlock(&net->inbox_mutex);
    free(x);
    return error;
}

void
lq_network_stop_threaded(struct lq_network *net)
{
    if (net) {
        ovs_mutex_lock(&net->inbox_mutex);
        net->stopped = true;
        xpthread_cond_broadcast(&net->inbox_cond);
        ovs_mutex_unlock(&net->inbox_mutex);
    }
}

bool
lq_network_has_connected(const struct lq_network *net)
{
    return ovsdb_idl_has_ever_connected(net->nb)
           && (!net->ovs || ovsdb_idl_has_ever_connected(net->ovs));
}

void
lq_network_check_health(const struct lq_network *net, struct svec *problems)
{
    if (!idl_ready(net->nb)) {
        svec_add_nocopy(problems, xasprintf(
            "the OVN Northbound database (%s) is not reachable",
            net->options.nb_remote));
    }
    if (net->ovs && !idl_ready(net->ovs)) {
        svec_add_nocopy(problems, xasprintf(
            "the local Open_vSwitch database (%s) is not reachable",
            net->options.ovs_remote));
    }
}
