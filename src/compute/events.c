#include <config.h>
/* events.c: libvirt lifecycle events of our VMs, kept for WatchEvents (see
 * limiquantix/compute.h).
 *
 * Design decisions:
 * - libvirt delivers events through an event loop it drives itself
 *   (virEventRegisterDefaultImpl + virEventRunDefaultImpl).  It runs in
 *   one thread of ours, next to the daemon's OVS poll loop rather than
 *   inside it: libvirt's loop owns its own file descriptors and timers,
 *   and the callbacks only append to a ring under a mutex.
 * - The callback is registered on every (re)opened connection, so events
 *   keep coming after libvirtd restarts.  Events while no connection was
 *   open are not seen; WatchEvents opens the connection first, and a
 *   watcher that falls behind the ring (1024 events) is told to resync
 *   with ListVMs ("truncated").
 * - Only our VMs (domains with our metadata) are recorded; an UNDEFINED
 *   event, after which the metadata is gone, is recorded for VMs we have
 *   recorded before.
 * - WatchEvents is a long poll (the Connect server-streaming StreamEvents
 *   would need streaming responses in our HTTP server): it answers at once
 *   when there are events after 'since', else waits for one or the
 *   timeout. */
#include "compute_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <libvirt/virterror.h>

#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "timeval.h"
#include "seq.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_events);

#define RING_SIZE 1024

/* libvirt's event loop, one per process. */
static void *
event_loop_main(void *arg OVS_UNUSED)
{
    for (;;) {
        if (virEventRunDefaultImpl() < 0) {
            VLOG_WARN("libvirt event loop: %s", virGetLastErrorMessage());
            xsleep(1);
        }
    }
    return NULL;
}

static void
keepalive_timer(int timer OVS_UNUSED, void *opaque OVS_UNUSED)
{
    /* Wakes the loop now and then; nothing to do. */
}

void
compute_events_init(struct lq_compute *c)
{
    static struct ovsthread_once once = OVSTHREAD_ONCE_INITIALIZER;
    if (ovsthread_once_start(&once)) {
        /* Must come before any connection is opened. */
        if (virEventRegisterDefaultImpl() < 0) {
            VLOG_WARN("no libvirt event loop: %s", virGetLastErrorMessage());
        } else {
            virEventAddTimeout(10000, keepalive_timer, NULL, NULL);
            ovs_thread_create("libvirt-events", event_loop_main, NULL);
        }
        ovsthread_once_done(&once);
    }
    ovs_mutex_init(&c->ev_mutex);
    xpthread_cond_init(&c->ev_cond, NULL);
    c->ev_ring = xcalloc(RING_SIZE, sizeof *c->ev_ring);
    c->ev_next_seq = 1;
    sset_init(&c->ev_ours);
    smap_init(&c->ev_forced);
    smap_init(&c->ev_started);
    c->ev_seq = seq_create();
    c->ev_callback = -1;
    c->ev_agent_callback = -1;
}

void
compute_events_destroy(struct lq_compute *c)
{
    for (size_t i = 0; i < RING_SIZE; i++) {
        free(c->ev_ring[i].name);
    }
    free(c->ev_ring);
    sset_destroy(&c->ev_ours);
    smap_destroy(&c->ev_forced);
    smap_destroy(&c->ev_started);
    seq_destroy(c->ev_seq);
    xpthread_cond_destroy(&c->ev_cond);
    ovs_mutex_destroy(&c->ev_mutex);
}

static const char *
event_name(int event)
{
    switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED: return "DEFINED";
    case VIR_DOMAIN_EVENT_UNDEFINED: return "DELETED";
    case VIR_DOMAIN_EVENT_STARTED: return "STARTED";
    case VIR_DOMAIN_EVENT_SUSPENDED: return "PAUSED";
    case VIR_DOMAIN_EVENT_RESUMED: return "RESUMED";
    case VIR_DOMAIN_EVENT_STOPPED: return "STOPPED";
    case VIR_DOMAIN_EVENT_SHUTDOWN: return "SHUTDOWN";
    case VIR_DOMAIN_EVENT_PMSUSPENDED: return "SUSPENDED";
    case VIR_DOMAIN_EVENT_CRASHED: return "CRASHED";
    default: return "UNKNOWN";
    }
}

/* Why a VM stopped, in the words of libvirt's detail. */
static const char *
stopped_detail(int detail)
{
    switch (detail) {
    case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: return "SHUTDOWN";
    case VIR_DOMAIN_EVENT_STOPPED_DESTROYED: return "DESTROYED";
    case VIR_DOMAIN_EVENT_STOPPED_CRASHED: return "CRASHED";
    case VIR_DOMAIN_EVENT_STOPPED_MIGRATED: return "MIGRATED";
    case VIR_DOMAIN_EVENT_STOPPED_SAVED: return "SAVED";
    case VIR_DOMAIN_EVENT_STOPPED_FAILED: return "FAILED";
    case VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT: return "FROM_SNAPSHOT";
    default: return "";
    }
}

/* Records 'event' of 'dom' if it is ours; 'event' is one of
 * event_name()'s names, or GUEST_AGENT. */
static void
record_event(struct lq_compute *c, virDomainPtr dom, int event,
             const char *name, const char *detail_name, int detail);

static int
lifecycle_cb(virConnectPtr conn OVS_UNUSED, virDomainPtr dom, int event,
             int detail, void *opaque)
{
    record_event(opaque, dom, event, event_name(event),
                 event == VIR_DOMAIN_EVENT_STOPPED
                 ? stopped_detail(detail) : "", detail);
    return 0;
}

/* The guest agent opened or closed its port.  No agent call here: this
 * runs in libvirt's event loop, which the agent's answer would need. */
static void
agent_cb(virConnectPtr conn OVS_UNUSED, virDomainPtr dom, int state,
         int reason OVS_UNUSED, void *opaque)
{
    record_event(opaque, dom, -1, "GUEST_AGENT",
                 state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED
                 ? "CONNECTED" : "DISCONNECTED", 0);
}

static void
record_event(struct lq_compute *c, virDomainPtr dom, int event,
             const char *name, const char *detail_name, int detail OVS_UNUSED)
{
    char id[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(dom, id) < 0) {
        return;
    }
    bool ours = false;
    if (event != VIR_DOMAIN_EVENT_UNDEFINED) {
        char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                         LQ_COMPUTE_XMLNS, 0);
        ours = xml != NULL;
        free(xml);
    }

    ovs_mutex_lock(&c->ev_mutex);
    if (ours) {
        sset_add(&c->ev_ours, id);
    } else if (event == VIR_DOMAIN_EVENT_UNDEFINED) {
        ours = sset_find_and_delete(&c->ev_ours, id);
    }
    if (ours) {
        struct lq_vm_event *ev = &c->ev_ring[c->ev_next_seq % RING_SIZE];
        free(ev->name);
        memset(ev, 0, sizeof *ev);
        ev->seq = c->ev_next_seq++;
        ovs_strlcpy(ev->vm_id, id, sizeof ev->vm_id);
        ev->name = xstrdup(virDomainGetName(dom));
        ovs_strlcpy(ev->event, name, sizeof ev->event);
        ovs_strlcpy(ev->detail, detail_name, sizeof ev->detail);
        struct smap_node *forced = event == VIR_DOMAIN_EVENT_STOPPED
                                   ? smap_get_node(&c->ev_forced, id) : NULL;
        if (forced) {
            ovs_strlcpy(ev->forced, forced->value, sizeof ev->forced);
            smap_remove_node(&c->ev_forced, forced);
        }
        struct timeval tv;
        gettimeofday(&tv, NULL);
        ev->time_ms = tv.tv_sec * 1000LL + tv.tv_usec / 1000;
        if (event == VIR_DOMAIN_EVENT_STARTED) {
            /* StartVM's own time, if it wrote one, is as good. */
            if (!smap_get(&c->ev_started, id)) {
                smap_add_format(&c->ev_started, id, "%"PRId64, ev->time_ms);
            }
        } else if (event == VIR_DOMAIN_EVENT_STOPPED
                   || event == VIR_DOMAIN_EVENT_UNDEFINED) {
            smap_remove(&c->ev_started, id);
        }
        xpthread_cond_broadcast(&c->ev_cond);
    }
    ovs_mutex_unlock(&c->ev_mutex);
    if (ours) {
        seq_change(c->ev_seq);
    }
}

void
compute_events_connected(struct lq_compute *c, virConnectPtr conn)
{
    c->ev_callback = virConnectDomainEventRegisterAny(
        conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), c, NULL);
    if (c->ev_callback < 0) {
        VLOG_WARN("cannot subscribe to libvirt events at %s: %s", c->uri,
                  virGetLastErrorMessage());
    }
    /* Drivers without agents (the test driver) refuse: no such events. */
    c->ev_agent_callback = virConnectDomainEventRegisterAny(
        conn, NULL, VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(agent_cb), c, NULL);
}

void
compute_events_note_started(struct lq_compute *c, const char *id, int64_t ms)
{
    ovs_mutex_lock(&c->ev_mutex);
    smap_replace_nocopy(&c->ev_started, id, xasprintf("%"PRId64, ms));
    ovs_mutex_unlock(&c->ev_mutex);
}

int64_t
compute_events_started_ms(struct lq_compute *c, const char *id)
{
    ovs_mutex_lock(&c->ev_mutex);
    const char *v = smap_get(&c->ev_started, id);
    int64_t ms = v ? strtoll(v, NULL, 10) : 0;
    ovs_mutex_unlock(&c->ev_mutex);
    return ms;
}

void
compute_events_mark_forced(struct lq_compute *c, const char *id,
                           const char *reason)
{
    ovs_mutex_lock(&c->ev_mutex);
    if (reason) {
        smap_replace(&c->ev_forced, id, reason);
    } else {
        smap_remove(&c->ev_forced, id);
    }
    ovs_mutex_unlock(&c->ev_mutex);
}

void
compute_events_disconnecting(struct lq_compute *c, virConnectPtr conn)
{
    if (c->ev_callback >= 0) {
        virConnectDomainEventDeregisterAny(conn, c->ev_callback);
        c->ev_callback = -1;
    }
    if (c->ev_agent_callback >= 0) {
        virConnectDomainEventDeregisterAny(conn, c->ev_agent_callback);
        c->ev_agent_callback = -1;
    }
}

static bool
wanted(const struct lq_vm_event *ev, uint64_t since, const char *vm_id)
{
    return ev->seq > since && (!vm_id || !strcmp(ev->vm_id, vm_id));
}

/* The ring's events after 'since' (see lq_compute_watch_events()). */
static void
collect_locked(struct lq_compute *c, uint64_t since, const char *vm_id,
               struct lq_vm_event **eventsp, size_t *np,
               uint64_t *last_seqp, bool *truncatedp)
    OVS_REQUIRES(c->ev_mutex)
{
    uint64_t first = c->ev_next_seq > RING_SIZE
                     ? c->ev_next_seq - RING_SIZE : 1;
    /* Older than the ring, or newer than anything (a restarted daemon
     * numbers from 1 again): the watcher must resync. */
    *truncatedp = since + 1 < first || since >= c->ev_next_seq;
    for (uint64_t seq = MAX(since + 1, first); seq < c->ev_next_seq; seq++) {
        const struct lq_vm_event *ev = &c->ev_ring[seq % RING_SIZE];
        if (wanted(ev, since, vm_id)) {
            *eventsp = xrealloc(*eventsp, (*np + 1) * sizeof **eventsp);
            struct lq_vm_event *copy = &(*eventsp)[(*np)++];
            *copy = *ev;
            copy->name = xstrdup(ev->name);
        }
    }
    *last_seqp = c->ev_next_seq - 1;
}

void
lq_compute_read_events(struct lq_compute *c, uint64_t since,
                       struct lq_vm_event **eventsp, size_t *np,
                       uint64_t *last_seqp, bool *truncatedp)
{
    *eventsp = NULL;
    *np = 0;
    ovs_mutex_lock(&c->ev_mutex);
    collect_locked(c, since, NULL, eventsp, np, last_seqp, truncatedp);
    *last_seqp = MAX(*last_seqp, since);
    ovs_mutex_unlock(&c->ev_mutex);
}

struct seq *
lq_compute_event_seq(struct lq_compute *c)
{
    return c->ev_seq;
}

struct lq_error *
lq_compute_watch_events(struct lq_compute *c, uint64_t since,
                        const char *vm_id, unsigned int timeout_ms,
                        struct lq_vm_event **eventsp, size_t *np,
                        uint64_t *last_seqp, bool *truncatedp)
{
    *eventsp = NULL;
    *np = 0;
    /* Events come only while a connection is open: open it. */
    virConnectPtr conn;
    struct lq_error *e = compute_get_conn(c, &conn);
    if (e) {
        return e;
    }
    virConnectClose(conn);

    long long until = time_wall_msec() + timeout_ms;
    struct timespec deadline = { until / 1000, (until % 1000) * 1000000 };
    ovs_mutex_lock(&c->ev_mutex);
    for (;;) {
        collect_locked(c, since, vm_id, eventsp, np, last_seqp, truncatedp);
        if (*np || *truncatedp || !timeout_ms
            || pthread_cond_timedwait(&c->ev_cond, &c->ev_mutex.lock,
                                      &deadline) == ETIMEDOUT) {
            break;
        }
        since = MAX(since, *last_seqp);
    }
    *last_seqp = MAX(*last_seqp, since);
    ovs_mutex_unlock(&c->ev_mutex);
    return NULL;
}

void
lq_vm_events_free(struct lq_vm_event *events, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(events[i].name);
    }
    free(events);
}
