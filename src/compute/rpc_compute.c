#include <config.h>
/* rpc_compute.c: NodeDaemonService's compute methods GetVMMetrics,
 * WatchEvents, MigrateVM's unary form and the StreamEvents stream, the
 * registration of every compute method (rpc_vm.c has the VM methods,
 * rpc_metrics.c StreamMetrics, rpc_migrate.c the migration stream and
 * handshake), and the helpers they share.
 *
 * Design decisions:
 * - Typed handlers (rpc.h): the transport has decoded the request into
 *   its message of proto/limiquantix/node/v1/, from either codec; every
 *   error the contract cannot express (a UUID, a range) is
 *   invalid_argument naming the field.
 * - Every unary method is blocking (libvirt calls wait on libvirtd): they
 *   run on the worker pool.  The compute handle is the one
 *   lq_compute_create() made and the daemon registered with
 *   lq_compute_set_default(); without one the methods answer
 *   "unavailable". */
#include "rpc_compute.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "limiquantix/compute.h"
#include "openvswitch/dynamic-string.h"
#include "pbmsg.h"
#include "rpc.h"
#include "rpc_metrics.h"
#include "rpc_migrate.h"
#include "rpc_vm.h"
#include "seq.h"
#include "util.h"
#include "uuid.h"

#include "limiquantix_node_v1_compute.pb-c.h"
#include "limiquantix_node_v1_node_daemon.pb-c.h"

#define NODE_SERVICE "limiquantix.node.v1.NodeDaemonService"
#define MAX_WATCH_TIMEOUT_S 300

typedef Limiquantix__Node__V1__VMIdRequest VMIdRequest;
typedef Limiquantix__Node__V1__WatchEventsRequest WatchEventsRequest;
typedef Limiquantix__Node__V1__WatchEventsResponse WatchEventsResponse;
typedef Limiquantix__Node__V1__VMEvent VMEvent;
typedef Limiquantix__Node__V1__NodeEvent NodeEvent;
typedef Limiquantix__Node__V1__MigrateVMRequest MigrateVMRequest;

struct lq_error *
rpc_compute_get(struct lq_compute **cp)
{
    *cp = lq_compute_get_default();
    return *cp ? NULL : lq_error_new(LQ_UNAVAILABLE, "compute is not "
                                     "configured on this node");
}

struct lq_error *
rpc_check_uuid(const char *s, const char *field, bool required,
               char out[37])
{
    struct uuid u;
    out[0] = '\0';
    if (!*s) {
        return required ? lq_error_new(LQ_INVALID_ARGUMENT, "%s: required",
                                       field)
                        : NULL;
    }
    if (strlen(s) != 36 || !uuid_from_string(&u, s)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected a UUID", field);
    }
    snprintf(out, 37, UUID_FMT, UUID_ARGS(&u));
    return NULL;
}

struct lq_error *
rpc_vm_target(const char *vm_id, struct lq_compute **c, char id[37])
{
    struct lq_error *error = rpc_compute_get(c);
    return error ? error : rpc_check_uuid(vm_id, "vmId", true, id);
}

static struct lq_error *
get_vm_metrics(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req,
               ProtobufCMessage **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_vm_metrics mt;
    memset(&mt, 0, sizeof mt);
    struct lq_error *error = rpc_vm_target(((const VMIdRequest *) req)->vm_id,
                                           &c, id);
    if (!error) {
        error = lq_compute_get_metrics(c, id, &mt);
    }
    if (!error) {
        /* One sample: no CPU percentage (StreamMetrics has it). */
        *responsep = lq_vm_metrics_message(id, NULL, &mt, -1);
    }
    lq_vm_metrics_clear(&mt);
    return error;
}

static VMEvent *
vm_event_message(const struct lq_vm_event *ev)
{
    VMEvent *m = lq_pb_new(&limiquantix__node__v1__vmevent__descriptor);
    m->seq = ev->seq;
    m->vm_id = lq_pb_str(ev->vm_id);
    m->name = lq_pb_str(ev->name);
    m->event = lq_pb_str(ev->event);
    m->detail = lq_pb_str(ev->detail);
    m->forced = lq_pb_str(ev->forced);
    m->time_ms = ev->time_ms;
    return m;
}

/* WatchEvents {sinceSeq, vmId?, timeoutSeconds} -> {events, lastSeq,
 * truncated}: a long poll of up to timeoutSeconds (0: at once; see
 * events.c). */
static struct lq_error *
watch_events(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
             ProtobufCMessage **responsep)
{
    const WatchEventsRequest *req = (const WatchEventsRequest *) req_;
    struct lq_compute *c;
    char vm_id[37] = "";
    struct lq_vm_event *events = NULL;
    size_t n = 0;
    uint64_t last = 0;
    bool truncated = false;
    uint32_t timeout = req->timeout_seconds;
    struct lq_error *error = rpc_compute_get(&c);
    if (!error) {
        error = rpc_check_uuid(req->vm_id, "vmId", false, vm_id);
    }
    if (!error && req->since_seq > INT64_MAX) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "sinceSeq: too large");
    }
    if (!error && timeout > MAX_WATCH_TIMEOUT_S) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "timeoutSeconds: at most "
                             "%d", MAX_WATCH_TIMEOUT_S);
    }
    if (!error) {
        error = lq_compute_watch_events(c, req->since_seq,
                                        vm_id[0] ? vm_id : NULL,
                                        timeout * 1000, &events, &n, &last,
                                        &truncated);
    }
    if (!error) {
        WatchEventsResponse *r = lq_pb_new(
            &limiquantix__node__v1__watch_events_response__descriptor);
        r->events = lq_pb_array(n, sizeof *r->events);
        for (size_t i = 0; i < n; i++) {
            r->events[r->n_events++] = vm_event_message(&events[i]);
        }
        r->last_seq = last;
        r->truncated = truncated;
        *responsep = &r->base;
    }
    lq_vm_events_free(events, n);
    return error;
}

/* MigrateVM over HTTP/1.1 or Connect unary: one answer when the VM is
 * gone from this node, the stream's last MigrationProgress (COMPLETE,
 * 100 %); the stream form is rpc_migrate.c's. */
static struct lq_error *
migrate_vm(struct lq_node *node OVS_UNUSED, const ProtobufCMessage *req_,
           ProtobufCMessage **responsep)
{
    const MigrateVMRequest *req = (const MigrateVMRequest *) req_;
    struct lq_compute *c;
    char id[37];
    struct lq_error *error = rpc_vm_target(req->vm_id, &c, id);
    if (!error) {
        error = rpc_migrate_check(req);
    }
    if (!error) {
        error = lq_compute_migrate_vm(c, id, req->target_node_uri, req->live);
    }
    if (!error) {
        Limiquantix__Node__V1__MigrationProgress *p = lq_pb_new(
            &limiquantix__node__v1__migration_progress__descriptor);
        p->vm_id = lq_pb_str(id);
        p->percent_complete = 100;
        p->phase
            = LIMIQUANTIX__NODE__V1__MIGRATION_PHASE__MIGRATION_PHASE_COMPLETE;
        *responsep = &p->base;
    }
    return error;
}

/* StreamEvents (Empty) -> stream NodeEvent: the seed's event stream, fed
 * from the same ring as WatchEvents.  Every event recorded after the
 * stream opened, in order; the ring (1024 events) is the per-client
 * buffer: a client that falls further behind is ended with
 * resource_exhausted (resync with ListVMs and open a new stream). */
struct event_stream {
    struct lq_compute *c;
    uint64_t since;             /* Last event sent. */
    uint64_t seqno;             /* Of the compute's event seq, last read. */
};

static struct lq_error *
event_stream_open(struct lq_node *node OVS_UNUSED,
                  const ProtobufCMessage *req OVS_UNUSED, void **statep)
{
    struct lq_compute *c;
    struct lq_error *e = rpc_compute_get(&c);
    if (!e) {
        e = lq_compute_ping(c);     /* Events flow while connected. */
    }
    if (e) {
        return e;
    }
    struct event_stream *st = xzalloc(sizeof *st);
    st->c = c;
    st->seqno = seq_read(lq_compute_event_seq(c));
    struct lq_vm_event *events;
    size_t n;
    bool truncated;
    /* 'since' becomes the newest event: only later ones are sent. */
    lq_compute_read_events(c, 0, &events, &n, &st->since, &truncated);
    lq_vm_events_free(events, n);
    *statep = st;
    return NULL;
}

/* The contract's EventType of one of our lifecycle events. */
static Limiquantix__Node__V1__EventType
event_type(const struct lq_vm_event *ev)
{
    static const struct {
        const char *event, *detail;
        Limiquantix__Node__V1__EventType type;
    } map[] = {
        { "STARTED", NULL,
          LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_VM_STARTED },
        { "RESUMED", NULL,
          LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_VM_RESUMED },
        { "PAUSED", NULL,
          LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_VM_PAUSED },
        { "CRASHED", NULL,
          LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_VM_CRASHED },
        { "STOPPED", "CRASHED",
          LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_VM_CRASHED },
        { "STOPPED", "MIGRATED",
          LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_VM_MIGRATED_OUT },
        { "STOPPED", NULL,
          LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_VM_STOPPED },
        { "SHUTDOWN", NULL,
          LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_VM_STOPPED },
        { "GUEST_AGENT", "CONNECTED",
          LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_GUEST_AGENT_CONNECTED },
        { "GUEST_AGENT", "DISCONNECTED",
          LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_GUEST_AGENT_DISCONNECTED },
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
        if (!strcmp(ev->event, map[i].event)
            && (!map[i].detail || !strcmp(ev->detail, map[i].detail))) {
            return map[i].type;
        }
    }
    /* DEFINED, DELETED, SUSPENDED: see metadata.event. */
    return LIMIQUANTIX__NODE__V1__EVENT_TYPE__EVENT_TYPE_UNKNOWN;
}

static void
put_metadata(NodeEvent *m, const char *key, const char *value)
{
    m->metadata[m->n_metadata++] = (void *) lq_pb_map_entry(
        &limiquantix__node__v1__node_event__metadata_entry__descriptor, key,
        value);
}

static NodeEvent *
node_event_message(const struct lq_vm_event *ev)
{
    NodeEvent *m
        = lq_pb_new(&limiquantix__node__v1__node_event__descriptor);
    m->id = xasprintf("%"PRIu64, ev->seq);
    m->timestamp = (Google__Protobuf__Timestamp *)
                   lq_pb_timestamp_ms(ev->time_ms);
    m->type = event_type(ev);
    m->vm_id = lq_pb_str(ev->vm_id);
    m->message = xasprintf("VM %s %s%s%s%s", ev->name, ev->event,
                           *ev->detail ? " " : "", ev->detail,
                           !*ev->forced ? ""
                           : !strcmp(ev->forced, "PAUSED")
                           ? " (forced off by StopVM: it was paused)"
                           : " (forced off by StopVM after its timeout)");
    m->metadata = lq_pb_array(4, sizeof *m->metadata);
    put_metadata(m, "event", ev->event);
    put_metadata(m, "detail", ev->detail);
    put_metadata(m, "name", ev->name);
    if (*ev->forced) {
        put_metadata(m, "forced", ev->forced);
    }
    return m;
}

static struct lq_error *
event_stream_poll(void *st_, struct lq_pb_list *out, bool *done)
{
    struct event_stream *st = st_;
    st->seqno = seq_read(lq_compute_event_seq(st->c));
    struct lq_vm_event *events;
    size_t n;
    bool truncated;
    uint64_t last;
    lq_compute_read_events(st->c, st->since, &events, &n, &last, &truncated);
    struct lq_error *e = NULL;
    if (truncated) {
        e = lq_error_new(LQ_RESOURCE_EXHAUSTED, "the event stream fell more "
                         "than 1024 events behind (or the node restarted): "
                         "resync with ListVMs and open a new stream");
    } else {
        for (size_t i = 0; i < n; i++) {
            lq_pb_list_add(out, node_event_message(&events[i]));
        }
        st->since = last;
    }
    lq_vm_events_free(events, n);
    *done = e != NULL;
    return e;
}

static void
event_stream_wait(void *st_)
{
    struct event_stream *st = st_;
    seq_wait(lq_compute_event_seq(st->c), st->seqno);
}

static void
event_stream_close(void *st)
{
    free(st);
}

static const struct lq_rpc_stream_class event_stream_class = {
    event_stream_open, event_stream_poll, event_stream_wait,
    event_stream_close,
};

static const struct lq_rpc_method compute_methods[] = {
    { .service = NODE_SERVICE, .name = "StreamEvents",
      .stream = &event_stream_class },
    /* A stream over HTTP/2; over HTTP/1.1 (and Connect unary) one
     * answer when it is done. */
    { .service = NODE_SERVICE, .name = "MigrateVM", .pb_handler = migrate_vm,
      .blocking = true, .stream = &lq_migrate_stream_class },
    LQ_RPC_PB_METHOD(NODE_SERVICE, "WatchEvents", watch_events, true),
    LQ_RPC_PB_METHOD(NODE_SERVICE, "GetVMMetrics", get_vm_metrics, true),
};

/* The console WebSocket (LQ_CONSOLE_WS_PATH): GetConsole's token. */
static struct lq_error *
console_ws_open(const char *token, int *fdp)
{
    struct lq_compute *c;
    struct lq_error *e = rpc_compute_get(&c);
    return e ? e : lq_compute_console_open(c, token, fdp);
}

void
lq_rpc_compute_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, compute_methods, ARRAY_SIZE(compute_methods));
    lq_rpc_register_websocket(r, LQ_CONSOLE_WS_PATH, console_ws_open);
    lq_rpc_vm_register(r);
    lq_rpc_metrics_register(r);
    lq_rpc_migrate_register(r);
}
