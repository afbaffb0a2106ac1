/* rpc_migrate.c: see rpc_migrate.h.
 *
 * MigrateVM's stream starts the migration (its own thread, migrate.c),
 * then reads libvirt's job statistics every PROGRESS_MS on the worker
 * pool (the stream class's refresh) and sends a MigrationProgress when
 * they change: PREPARING first, TRANSFERRING with bytes, SWITCHING once
 * the memory is copied, then COMPLETE, or FAILED with the error, which
 * also ends the stream with its status.  A client that cancels leaves the
 * migration running (as libvirt's own clients do); only the daemon
 * stopping aborts it.
 *
 * PrepareMigration / ReceiveMigration: with peer-to-peer libvirt
 * migration the target needs no set-up, but the seed's caller asks the
 * target first.  PrepareMigration checks that this node can take the VM
 * (the source is one of its migration peers, the VM is not here yet, the
 * hypervisor answers) and hands out a single-use token for 5 minutes;
 * ReceiveMigration accepts that token once. */
#include <config.h>
#include "rpc_migrate.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "limiquantix/compute.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/thread.h"
#include "pbmsg.h"
#include "rpc.h"
#include "rpc_compute.h"
#include "seq.h"
#include "timeval.h"
#include "util.h"

#include "limiquantix_node_v1_compute.pb-c.h"

#define NODE_SERVICE "limiquantix.node.v1.NodeDaemonService"
#define PROGRESS_MS 500
#define TOKEN_TTL_MS (5 * 60 * 1000)

typedef Limiquantix__Node__V1__MigrateVMRequest MigrateVMRequest;
typedef Limiquantix__Node__V1__MigrationProgress MigrationProgress;
typedef Limiquantix__Node__V1__PrepareMigrationRequest PrepareMigrationRequest;
typedef Limiquantix__Node__V1__MigrationToken MigrationToken;

static const Limiquantix__Node__V1__MigrationPhase phases[] = {
    [LQ_MIGRATION_PREPARING]
        = LIMIQUANTIX__NODE__V1__MIGRATION_PHASE__MIGRATION_PHASE_PREPARING,
    [LQ_MIGRATION_TRANSFERRING]
        = LIMIQUANTIX__NODE__V1__MIGRATION_PHASE__MIGRATION_PHASE_TRANSFERRING,
    [LQ_MIGRATION_SWITCHING]
        = LIMIQUANTIX__NODE__V1__MIGRATION_PHASE__MIGRATION_PHASE_SWITCHING,
    [LQ_MIGRATION_COMPLETE]
        = LIMIQUANTIX__NODE__V1__MIGRATION_PHASE__MIGRATION_PHASE_COMPLETE,
    [LQ_MIGRATION_FAILED]
        = LIMIQUANTIX__NODE__V1__MIGRATION_PHASE__MIGRATION_PHASE_FAILED,
};

struct lq_error *
rpc_migrate_check(const Limiquantix__Node__V1__MigrateVMRequest *req)
{
    return req->storage
           ? lq_error_new(LQ_INVALID_ARGUMENT, "storage: this node migrates "
                          "VMs on shared storage only (no block copy)")
           : NULL;
}

/* ---- MigrateVM -------------------------------------------------------------- */

struct migrate_stream {
    char vm_id[37];
    struct lq_migration *m;
    uint64_t seqno;
    long long next_refresh_ms;  /* On the loop. */
    bool sent;                  /* 'last' was sent. */
    struct lq_migration_progress last;
};

static struct lq_error *
migrate_stream_open(struct lq_node *node OVS_UNUSED,
                    const ProtobufCMessage *req_, void **statep)
{
    const MigrateVMRequest *req = (const MigrateVMRequest *) req_;
    struct lq_compute *c;
    char id[37];
    struct lq_error *e = rpc_vm_target(req->vm_id, &c, id);
    if (!e) {
        e = rpc_migrate_check(req);
    }
    struct lq_migration *m = NULL;
    if (!e) {
        e = lq_compute_migration_start(c, id, req->target_node_uri,
                                       req->live, &m);
    }
    if (e) {
        return e;
    }
    struct migrate_stream *st = xzalloc(sizeof *st);
    memcpy(st->vm_id, id, sizeof st->vm_id);
    st->m = m;
    st->seqno = seq_read(lq_migration_seq(m));
    st->next_refresh_ms = time_msec() + PROGRESS_MS;
    *statep = st;
    return NULL;
}

static bool
migrate_stream_due(void *st_)
{
    struct migrate_stream *st = st_;
    long long now = time_msec();
    if (now < st->next_refresh_ms) {
        return false;
    }
    st->next_refresh_ms = now + PROGRESS_MS;
    return true;
}

static void
migrate_stream_refresh(void *st_)
{
    struct migrate_stream *st = st_;
    lq_migration_refresh(st->m);
}

static MigrationProgress *
progress_message(const char *vm_id, const struct lq_migration_progress *p,
                 const struct lq_error *error)
{
    MigrationProgress *m
        = lq_pb_new(&limiquantix__node__v1__migration_progress__descriptor);
    m->vm_id = lq_pb_str(vm_id);
    uint32_t percent = p->phase == LQ_MIGRATION_COMPLETE ? 100
                       : p->total ? p->processed * 100 / p->total : 0;
    m->percent_complete = MIN(percent, 100);
    m->data_transferred_bytes = p->processed;
    m->data_remaining_bytes = p->remaining;
    m->phase = phases[p->phase];
    m->error = lq_pb_str(error ? error->message : NULL);
    return m;
}

static bool
progress_equal(const struct lq_migration_progress *a,
               const struct lq_migration_progress *b)
{
    return a->phase == b->phase && a->total == b->total
           && a->processed == b->processed && a->remaining == b->remaining;
}

static struct lq_error *
migrate_stream_poll(void *st_, struct lq_pb_list *out, bool *done)
{
    struct migrate_stream *st = st_;
    st->seqno = seq_read(lq_migration_seq(st->m));
    struct lq_migration_progress p;
    struct lq_error *error;
    *done = lq_migration_get(st->m, &p, &error);
    if (!st->sent) {
        /* Always PREPARING first, even if it failed before this poll. */
        struct lq_migration_progress first = {
            .phase = LQ_MIGRATION_PREPARING };
        lq_pb_list_add(out, progress_message(st->vm_id, &first, NULL));
        st->last = first;
        st->sent = true;
    }
    if (!progress_equal(&p, &st->last)) {
        lq_pb_list_add(out, progress_message(st->vm_id, &p, error));
        st->last = p;
    }
    return error;           /* A failure ends the stream with its status. */
}

static void
migrate_stream_wait(void *st_)
{
    struct migrate_stream *st = st_;
    seq_wait(lq_migration_seq(st->m), st->seqno);
    poll_timer_wait_until(st->next_refresh_ms);
}

static void
migrate_stream_close(void *st_)
{
    struct migrate_stream *st = st_;
    lq_migration_release(st->m);    /* The migration goes on. */
    free(st);
}

const struct lq_rpc_stream_class lq_migrate_stream_class = {
    .open = migrate_stream_open, .poll = migrate_stream_poll,
    .wait = migrate_stream_wait, .close = migrate_stream_close,
    .due = migrate_stream_due, .refresh = migrate_stream_refresh,
};

/* ---- PrepareMigration / ReceiveMigration -------------------------------- */

struct token {
    char vm_id[37];
    long long expires_ms;       /* time_wall_msec() */
};

static struct ovs_mutex tokens_mutex = OVS_MUTEX_INITIALIZER;
static struct shash tokens OVS_GUARDED_BY(tokens_mutex)
    = SHASH_INITIALIZER(&tokens);

static void
expire_tokens(long long now) OVS_REQUIRES(tokens_mutex)
{
    struct shash_node *node, *next;
    SHASH_FOR_EACH_SAFE (node, next, &tokens) {
        struct token *t = node->data;
        if (t->expires_ms <= now) {
            free(t);
            shash_delete(&tokens, node);
        }
    }
}

static struct lq_error *
prepare_migration(struct lq_node *node OVS_UNUSED,
                  const ProtobufCMessage *req_, ProtobufCMessage **responsep)
{
    const PrepareMigrationRequest *req
        = (const PrepareMigrationRequest *) req_;
    struct lq_compute *c;
    char id[37];
    char *source_uri = NULL;
    struct lq_error *e = rpc_vm_target(req->vm_id, &c, id);
    if (!e) {
        /* Only a migration peer may send us VMs. */
        e = lq_compute_migration_uri(c, "sourceNodeUri",
                                     req->source_node_uri, &source_uri);
    }
    if (!e) {
        struct lq_vm_status status;
        memset(&status, 0, sizeof status);
        e = lq_compute_get_vm(c, id, &status);
        if (!e) {
            e = lq_error_new(LQ_ALREADY_EXISTS, "vmId: VM %s is already on "
                             "this node", id);
        } else if (e->code == LQ_NOT_FOUND) {
            lq_error_free(e);
            e = NULL;           /* Not here yet: as it should be. */
        }
        lq_vm_status_clear(&status);
    }
    free(source_uri);
    if (e) {
        return e;
    }
    uint8_t raw[16];
    if (getrandom(raw, sizeof raw, 0) != sizeof raw) {
        return lq_error_new(LQ_INTERNAL, "no randomness for a token");
    }
    char token[33];
    for (size_t i = 0; i < sizeof raw; i++) {
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    }
    struct token *t = xzalloc(sizeof *t);
    memcpy(t->vm_id, id, sizeof t->vm_id);
    long long now = time_wall_msec();
    t->expires_ms = now + TOKEN_TTL_MS;
    ovs_mutex_lock(&tokens_mutex);
    expire_tokens(now);
    shash_add(&tokens, token, t);
    ovs_mutex_unlock(&tokens_mutex);

    MigrationToken *r
        = lq_pb_new(&limiquantix__node__v1__migration_token__descriptor);
    r->token = lq_pb_str(token);
    r->vm_id = lq_pb_str(id);
    r->expires_at = (Google__Protobuf__Timestamp *)
                    lq_pb_timestamp_ms(t->expires_ms);
    *responsep = &r->base;
    return NULL;
}

static struct lq_error *
receive_migration(struct lq_node *node OVS_UNUSED,
                  const ProtobufCMessage *req_,
                  ProtobufCMessage **responsep OVS_UNUSED)
{
    const MigrationToken *req = (const MigrationToken *) req_;
    char id[37];
    struct lq_error *e = rpc_check_uuid(req->vm_id, "vmId", true, id);
    if (e) {
        return e;
    }
    ovs_mutex_lock(&tokens_mutex);
    expire_tokens(time_wall_msec());
    struct token *t = *req->token ? shash_find_and_delete(&tokens, req->token)
                                  : NULL;
    ovs_mutex_unlock(&tokens_mutex);
    if (!t) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "token: unknown, used "
                            "or expired (ask PrepareMigration for one)");
    }
    bool same = !strcmp(t->vm_id, id);
    free(t);
    if (!same) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "vmId: the token is for "
                            "another VM");
    }
    return NULL;
}

static const struct lq_rpc_method migrate_methods[] = {
    LQ_RPC_PB_METHOD(NODE_SERVICE, "PrepareMigration", prepare_migration,
                     true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "ReceiveMigration", receive_migration,
                     true),
};

void
lq_rpc_migrate_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, migrate_methods, ARRAY_SIZE(migrate_methods));
}
