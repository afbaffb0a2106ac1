#include <config.h>
/* rpc_compute.c: NodeDaemonService's compute methods that still take JSON
 * (GetVMMetrics, WatchEvents, MigrateVM's unary form, the StreamEvents
 * stream), the registration of every compute method (rpc_vm.c has the typed
 * VM methods, rpc_metrics.c StreamMetrics, rpc_migrate.c the migration
 * stream and handshake), and the helpers they share.
 *
 * Design decisions:
 * - JSON follows proto/limiquantix/node/v1/compute.proto (proto3 mapping);
 *   every type or value error is invalid_argument naming the field.
 * - Every unary method is blocking (libvirt calls wait on libvirtd): they
 *   run on the worker pool.  The compute handle is the one
 *   lq_compute_create() made and the daemon registered with
 *   lq_compute_set_default(); without one the methods answer
 *   "unavailable". */
#include "rpc_compute.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonx.h"
#include "limiquantix/compute.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "rpc.h"
#include "rpc_metrics.h"
#include "rpc_migrate.h"
#include "rpc_vm.h"
#include "seq.h"
#include "util.h"
#include "uuid.h"

#define NODE_SERVICE "limiquantix.node.v1.NodeDaemonService"
#define DEFAULT_STOP_TIMEOUT_S 60
#define MAX_STOP_TIMEOUT_S 3600

struct lq_error *
rpc_compute_get(struct lq_compute **cp)
{
    *cp = lq_compute_get_default();
    return *cp ? NULL : lq_error_new(LQ_UNAVAILABLE, "compute is not "
                                     "configured on this node");
}

struct lq_error *
rpc_get_uuid(const struct json *obj, const char *field, bool required,
         char out[37])
{
    const char *s = NULL;
    struct lq_error *error = lq_json_get_string(obj, field, &s);
    if (error) {
        return error;
    }
    if (!s || !*s) {
        if (required) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: required", field);
        }
        out[0] = '\0';
        return NULL;
    }
    struct uuid u;
    if (strlen(s) != 36 || !uuid_from_string(&u, s)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected a UUID", field);
    }
    snprintf(out, 37, UUID_FMT, UUID_ARGS(&u));
    return NULL;
}

/* An optional string; "" means unset (proto3).  Copies into '*out'. */
static struct lq_error *
get_opt_string(const struct json *obj, const char *field, char **out)
{
    const char *s = NULL;
    struct lq_error *error = lq_json_get_string(obj, field, &s);
    if (!error && s && *s) {
        *out = xstrdup(s);
    }
    return error;
}

struct lq_error *
rpc_vm_request(const struct json *req, struct lq_compute **c, char id[37])
{
    struct lq_error *error = rpc_compute_get(c);
    return error ? error : rpc_get_uuid(req, "vmId", true, id);
}

static struct lq_error *
get_vm_metrics(struct lq_node *node OVS_UNUSED, const struct json *req,
               struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    struct lq_vm_metrics mt;
    memset(&mt, 0, sizeof mt);
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error) {
        error = lq_compute_get_metrics(c, id, &mt);
    }
    if (!error) {
        /* One sample: no CPU percentage (StreamMetrics has it). */
        *responsep = lq_vm_metrics_to_json(id, NULL, &mt, -1);
    }
    lq_vm_metrics_clear(&mt);
    return error;
}

#define MAX_WATCH_TIMEOUT_S 300

/* WatchEvents {sinceSeq, vmId?, timeoutSeconds} -> {events, lastSeq,
 * truncated}: a long poll (see events.c). */
static struct lq_error *
watch_events(struct lq_node *node OVS_UNUSED, const struct json *req,
             struct json **responsep)
{
    struct lq_compute *c;
    char vm_id[37] = "";
    uint64_t since = 0;
    uint32_t timeout = 30;
    struct lq_vm_event *events = NULL;
    size_t n = 0;
    uint64_t last = 0;
    bool truncated = false;
    struct lq_error *error = rpc_compute_get(&c);
    if (!error) {
        error = rpc_get_uuid(req, "vmId", false, vm_id);
    }
    int64_t since_signed = 0;
    if (!error) {
        error = lq_json_get_int64(req, "sinceSeq", &since_signed);
    }
    if (!error && since_signed < 0) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "sinceSeq: must not be "
                             "negative");
    }
    since = since_signed;
    if (!error && lq_json_field(req, "timeoutSeconds")) {
        error = lq_json_get_uint32(req, "timeoutSeconds", &timeout);
    }
    if (!error && timeout > MAX_WATCH_TIMEOUT_S) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "timeoutSeconds: at most "
                             "%d", MAX_WATCH_TIMEOUT_S);
    }
    if (!error) {
        error = lq_compute_watch_events(c, since, vm_id[0] ? vm_id : NULL,
                                        timeout * 1000, &events, &n, &last,
                                        &truncated);
    }
    if (!error) {
        struct json *a = json_array_create_empty();
        for (size_t i = 0; i < n; i++) {
            struct json *j = json_object_create();
            lq_json_put_uint64(j, "seq", events[i].seq);
            lq_json_put_string(j, "vmId", events[i].vm_id);
            lq_json_put_string(j, "name", events[i].name);
            lq_json_put_string(j, "event", events[i].event);
            lq_json_put_string(j, "detail", events[i].detail);
            if (events[i].forced[0]) {
                lq_json_put_string(j, "forced", events[i].forced);
            }
            lq_json_put_int64(j, "timeMs", events[i].time_ms);
            json_array_add(a, j);
        }
        struct json *r = json_object_create();
        json_object_put(r, "events", a);
        lq_json_put_uint64(r, "lastSeq", last);
        json_object_put(r, "truncated", json_boolean_create(truncated));
        *responsep = r;
    }
    lq_vm_events_free(events, n);
    return error;
}

/* MigrateVM {vmId, targetNodeUri, live} -> {} (the VM is gone from this
 * node). */
static struct lq_error *
migrate_vm(struct lq_node *node OVS_UNUSED, const struct json *req,
           struct json **responsep)
{
    struct lq_compute *c;
    char id[37];
    char *target = NULL;
    bool live = false;
    struct lq_error *error = rpc_vm_request(req, &c, id);
    if (!error && !(error = get_opt_string(req, "targetNodeUri", &target))) {
        error = lq_json_get_bool(req, "live", &live);
    }
    if (!error) {
        error = lq_compute_migrate_vm(c, id, target, live);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    free(target);
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
                  const struct json *req OVS_UNUSED, void **statep)
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
static const char *
event_type(const struct lq_vm_event *ev)
{
    static const struct { const char *event, *detail, *type; } map[] = {
        { "STARTED", NULL, "EVENT_TYPE_VM_STARTED" },
        { "RESUMED", NULL, "EVENT_TYPE_VM_RESUMED" },
        { "PAUSED", NULL, "EVENT_TYPE_VM_PAUSED" },
        { "CRASHED", NULL, "EVENT_TYPE_VM_CRASHED" },
        { "STOPPED", "CRASHED", "EVENT_TYPE_VM_CRASHED" },
        { "STOPPED", "MIGRATED", "EVENT_TYPE_VM_MIGRATED_OUT" },
        { "STOPPED", NULL, "EVENT_TYPE_VM_STOPPED" },
        { "SHUTDOWN", NULL, "EVENT_TYPE_VM_STOPPED" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
        if (!strcmp(ev->event, map[i].event)
            && (!map[i].detail || !strcmp(ev->detail, map[i].detail))) {
            return map[i].type;
        }
    }
    return "EVENT_TYPE_UNKNOWN";    /* DEFINED, DELETED, SUSPENDED: see
                                     * metadata.event. */
}

static struct json *
node_event_json(const struct lq_vm_event *ev)
{
    struct json *j = json_object_create();
    lq_json_put_uint64(j, "id", ev->seq);
    lq_json_put_timestamp_ms(j, "timestamp", ev->time_ms);
    lq_json_put_string(j, "type", event_type(ev));
    lq_json_put_string(j, "vmId", ev->vm_id);
    char *msg = xasprintf("VM %s %s%s%s%s", ev->name, ev->event,
                          *ev->detail ? " " : "", ev->detail,
                          !*ev->forced ? ""
                          : !strcmp(ev->forced, "PAUSED")
                          ? " (forced off by StopVM: it was paused)"
                          : " (forced off by StopVM after its timeout)");
    lq_json_put_string(j, "message", msg);
    free(msg);
    struct json *md = json_object_create();
    json_object_put_string(md, "event", ev->event);
    json_object_put_string(md, "detail", ev->detail);
    json_object_put_string(md, "name", ev->name);
    if (*ev->forced) {
        json_object_put_string(md, "forced", ev->forced);
    }
    json_object_put(j, "metadata", md);
    return j;
}

static struct lq_error *
event_stream_poll(void *st_, struct json *out, bool *done)
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
            json_array_add(out, node_event_json(&events[i]));
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
    { NODE_SERVICE, "StreamEvents", NULL, false, NULL, &event_stream_class },
    /* A stream over HTTP/2; over HTTP/1.1 (and Connect unary) one
     * answer when it is done. */
    { NODE_SERVICE, "MigrateVM", migrate_vm, true, NULL,
      &lq_migrate_stream_class },
    { NODE_SERVICE, "WatchEvents", watch_events, true },
    { NODE_SERVICE, "GetVMMetrics", get_vm_metrics, true },
};

void
lq_rpc_compute_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, compute_methods, ARRAY_SIZE(compute_methods));
    lq_rpc_vm_register(r);
    lq_rpc_metrics_register(r);
    lq_rpc_migrate_register(r);
}
