/* rpc_metrics.c: VMMetrics and StreamMetrics (see rpc_metrics.h).
 *
 * StreamMetrics reads libvirt and procfs, which may block: the stream
 * class's refresh() does it on the worker pool when due() says a sample
 * is due, and poll() hands the sample over on the loop, so a stream holds
 * no thread between samples.  Rates (CPU %, IOPS, utilization) are the
 * difference to the previous sample of the same stream; the first sample
 * comes after min(interval, 1 s) so that it has a baseline. */
#include <config.h>
#include "rpc_metrics.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "host_stats.h"
#include "limiquantix/compute.h"
#include "limiquantix/node.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "pbmsg.h"
#include "rpc.h"
#include "timeval.h"
#include "util.h"

#include "limiquantix_node_v1_compute.pb-c.h"
#include "limiquantix_node_v1_node_daemon.pb-c.h"

#define NODE_SERVICE "limiquantix.node.v1.NodeDaemonService"
#define DEFAULT_INTERVAL_S 5
#define MAX_INTERVAL_S 3600
#define FIRST_SAMPLE_MS 1000

typedef Limiquantix__Node__V1__VMMetrics VMMetrics;
typedef Limiquantix__Node__V1__VMDiskMetrics VMDiskMetrics;
typedef Limiquantix__Node__V1__VMNicMetrics VMNicMetrics;
typedef Limiquantix__Node__V1__NodeMetrics NodeMetrics;
typedef Limiquantix__Node__V1__DiskMetrics DiskMetrics;
typedef Limiquantix__Node__V1__NetworkMetrics NetworkMetrics;
typedef Limiquantix__Node__V1__StreamMetricsRequest StreamMetricsRequest;

static void
put_devices(VMMetrics *r, const struct lq_vm_metrics *mt)
{
    r->disks = lq_pb_array(mt->n_disks, sizeof *r->disks);
    for (size_t i = 0; i < mt->n_disks; i++) {
        const struct lq_vm_device_metrics *d = &mt->disks[i];
        VMDiskMetrics *m
            = lq_pb_new(&limiquantix__node__v1__vmdisk_metrics__descriptor);
        m->disk_id = lq_pb_str(d->id);
        m->read_bytes = d->rx_bytes;
        m->read_ops = d->rx_ops;
        m->write_bytes = d->tx_bytes;
        m->write_ops = d->tx_ops;
        r->disks[r->n_disks++] = m;
    }
    r->nics = lq_pb_array(mt->n_nics, sizeof *r->nics);
    for (size_t i = 0; i < mt->n_nics; i++) {
        const struct lq_vm_device_metrics *d = &mt->nics[i];
        VMNicMetrics *m
            = lq_pb_new(&limiquantix__node__v1__vmnic_metrics__descriptor);
        m->nic_id = lq_pb_str(d->id);
        m->rx_bytes = d->rx_bytes;
        m->rx_packets = d->rx_ops;
        m->tx_bytes = d->tx_bytes;
        m->tx_packets = d->tx_ops;
        m->rx_dropped = d->drops;
        r->nics[r->n_nics++] = m;
    }
}

ProtobufCMessage *
lq_vm_metrics_message(const char *vm_id, const char *name,
                      const struct lq_vm_metrics *mt, double cpu_percent)
{
    VMMetrics *r = lq_pb_new(&limiquantix__node__v1__vmmetrics__descriptor);
    r->vm_id = lq_pb_str(vm_id);
    r->name = lq_pb_str(name);
    r->cpu_usage_percent = cpu_percent >= 0 ? cpu_percent : 0;
    r->memory_used_bytes = mt->memory_rss_kib * 1024;
    for (size_t i = 0; i < mt->n_disks; i++) {
        r->disk_read_bytes += mt->disks[i].rx_bytes;
        r->disk_write_bytes += mt->disks[i].tx_bytes;
    }
    for (size_t i = 0; i < mt->n_nics; i++) {
        r->network_rx_bytes += mt->nics[i].rx_bytes;
        r->network_tx_bytes += mt->nics[i].tx_bytes;
    }
    r->cpu_time_ns = mt->cpu_time_ns;
    r->vcpus = mt->vcpus;
    r->memory_kib = mt->memory_kib;
    r->memory_rss_kib = mt->memory_rss_kib;
    put_devices(r, mt);
    return &r->base;
}

/* ---- StreamMetrics ---------------------------------------------------------- */

/* What a rate needs from the previous sample. */
struct baseline {
    long long ms;                       /* time_msec(); 0: none yet. */
    unsigned long long cpu_busy, cpu_total;
    struct lq_host_disk_stat *disks;
    size_t n_disks;
    struct shash vm_cpu_ns;             /* VM id -> uint64_t *. */
};

struct metrics_stream {
    long long interval_ms;
    long long next_ms;                  /* On the loop only. */
    struct baseline prev;               /* refresh() only. */
    NodeMetrics *ready;                 /* For poll(). */
};

static void
baseline_clear(struct baseline *b)
{
    free(b->disks);
    shash_destroy_free_data(&b->vm_cpu_ns);
}

/* 'now' becomes 'b' (an shash cannot be copied by value). */
static void
baseline_replace(struct baseline *b, struct baseline *now)
{
    free(b->disks);
    b->disks = now->disks;
    b->n_disks = now->n_disks;
    b->ms = now->ms;
    b->cpu_busy = now->cpu_busy;
    b->cpu_total = now->cpu_total;
    shash_swap(&b->vm_cpu_ns, &now->vm_cpu_ns);
    shash_destroy_free_data(&now->vm_cpu_ns);
}

static double
percent(double part, double whole)
{
    double p = whole > 0 ? 100.0 * part / whole : 0;
    return p < 0 ? 0 : p > 100 ? 100 : p;
}

static const struct lq_host_disk_stat *
find_disk(const struct baseline *b, const char *name)
{
    for (size_t i = 0; i < b->n_disks; i++) {
        if (!strcmp(b->disks[i].name, name)) {
            return &b->disks[i];
        }
    }
    return NULL;
}

static void
put_disks(NodeMetrics *m, const struct lq_host_disk_stat *d, size_t n,
          const struct baseline *prev, double secs)
{
    m->disks = lq_pb_array(n, sizeof *m->disks);
    for (size_t i = 0; i < n; i++) {
        const struct lq_host_disk_stat *p = find_disk(prev, d[i].name);
        DiskMetrics *j
            = lq_pb_new(&limiquantix__node__v1__disk_metrics__descriptor);
        j->device = lq_pb_str(d[i].name);
        j->read_bytes = d[i].read_bytes;
        j->write_bytes = d[i].write_bytes;
        if (p && secs > 0) {
            j->read_iops = (d[i].reads - p->reads) / secs;
            j->write_iops = (d[i].writes - p->writes) / secs;
            j->utilization_percent = percent(d[i].io_ms - p->io_ms,
                                             secs * 1000);
        }
        m->disks[m->n_disks++] = j;
    }
}

static void
put_networks(NodeMetrics *m)
{
    struct lq_host_net_stat *s;
    size_t n;
    lq_host_read_net(&s, &n);
    m->networks = lq_pb_array(n, sizeof *m->networks);
    for (size_t i = 0; i < n; i++) {
        NetworkMetrics *j
            = lq_pb_new(&limiquantix__node__v1__network_metrics__descriptor);
        j->interface = lq_pb_str(s[i].name);
        j->rx_bytes = s[i].rx_bytes;
        j->tx_bytes = s[i].tx_bytes;
        j->rx_packets = s[i].rx_packets;
        j->tx_packets = s[i].tx_packets;
        j->rx_errors = s[i].rx_errors;
        j->tx_errors = s[i].tx_errors;
        m->networks[m->n_networks++] = j;
    }
    free(s);
}

/* Every VM of ours; their CPU times go to 'now' for the next sample. */
static void
put_vms(NodeMetrics *m, const struct baseline *prev, struct baseline *now,
        double secs)
{
    struct lq_compute *c = lq_compute_get_default();
    struct lq_vm_status *vms = NULL;
    size_t n = 0;
    if (!c || lq_compute_list_vms_brief(c, &vms, &n)) {
        return;             /* No compute here, or libvirt is away. */
    }
    m->vms = lq_pb_array(n, sizeof *m->vms);
    for (size_t i = 0; i < n; i++) {
        struct lq_vm_metrics mt;
        memset(&mt, 0, sizeof mt);
        struct lq_error *e = lq_compute_get_metrics(c, vms[i].id, &mt);
        if (e) {
            lq_error_free(e);   /* Deleted meanwhile. */
            continue;
        }
        const uint64_t *p = shash_find_data(&prev->vm_cpu_ns, vms[i].id);
        double cpu = -1;
        if (p && secs > 0 && mt.vcpus && mt.cpu_time_ns >= *p) {
            cpu = percent((mt.cpu_time_ns - *p) / 1e9, secs * mt.vcpus);
        }
        shash_add(&now->vm_cpu_ns, vms[i].id,
                  xmemdup(&mt.cpu_time_ns, sizeof mt.cpu_time_ns));
        m->vms[m->n_vms++] = (VMMetrics *) lq_vm_metrics_message(
            vms[i].id, vms[i].name, &mt, cpu);
        lq_vm_metrics_clear(&mt);
    }
    for (size_t i = 0; i < n; i++) {
        lq_vm_status_clear(&vms[i]);
    }
    free(vms);
}

/* Reads everything; a NodeMetrics unless this is the baseline. */
static NodeMetrics *
sample(struct baseline *prev)
{
    struct baseline now = { .ms = time_msec() };
    shash_init(&now.vm_cpu_ns);
    double secs = prev->ms ? (now.ms - prev->ms) / 1000.0 : 0;
    NodeMetrics *m
        = lq_pb_new(&limiquantix__node__v1__node_metrics__descriptor);
    m->timestamp = (Google__Protobuf__Timestamp *)
                   lq_pb_timestamp_ms(time_wall_msec());
    if (lq_host_read_cpu_times(&now.cpu_busy, &now.cpu_total)
        && prev->cpu_total && now.cpu_total > prev->cpu_total) {
        m->cpu_usage_percent = percent(now.cpu_busy - prev->cpu_busy,
                                       now.cpu_total - prev->cpu_total);
    }
    char *meminfo;
    struct lq_memory_info mem;
    if (!lq_read_file("/proc/meminfo", &meminfo, NULL)) {
        struct lq_error *e = lq_meminfo_parse(meminfo, &mem);
        if (!e) {
            m->memory_used_bytes = mem.used_bytes;
            m->memory_total_bytes = mem.total_bytes;
        }
        lq_error_free(e);
        free(meminfo);
    }
    lq_host_read_disks(&now.disks, &now.n_disks);
    put_disks(m, now.disks, now.n_disks, prev, secs);
    put_networks(m);
    put_vms(m, prev, &now, secs);
    bool first = !prev->ms;
    baseline_replace(prev, &now);
    if (first) {
        protobuf_c_message_free_unpacked(&m->base, NULL);
        return NULL;
    }
    return m;
}

static struct lq_error *
metrics_stream_open(struct lq_node *node OVS_UNUSED,
                    const ProtobufCMessage *req, void **statep)
{
    uint32_t interval = ((const StreamMetricsRequest *) req)->interval_seconds;
    if (interval > MAX_INTERVAL_S) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "intervalSeconds: at most "
                            "%d, not %"PRIu32, MAX_INTERVAL_S, interval);
    }
    struct metrics_stream *st = xzalloc(sizeof *st);
    st->interval_ms = 1000LL * (interval ? interval : DEFAULT_INTERVAL_S);
    shash_init(&st->prev.vm_cpu_ns);
    ovs_assert(!sample(&st->prev));         /* The baseline. */
    st->next_ms = time_msec() + MIN(st->interval_ms, FIRST_SAMPLE_MS);
    *statep = st;
    return NULL;
}

static bool
metrics_stream_due(void *st_)
{
    struct metrics_stream *st = st_;
    long long now = time_msec();
    if (st->ready || now < st->next_ms) {
        return false;
    }
    /* The next one an interval after this one was due, unless we fell
     * behind by more than that. */
    st->next_ms = MAX(st->next_ms + st->interval_ms, now + 1);
    return true;
}

static void
metrics_stream_refresh(void *st_)
{
    struct metrics_stream *st = st_;
    st->ready = sample(&st->prev);
}

static struct lq_error *
metrics_stream_poll(void *st_, struct lq_pb_list *out, bool *done)
{
    struct metrics_stream *st = st_;
    if (st->ready) {
        lq_pb_list_add(out, st->ready);
        st->ready = NULL;
    }
    *done = false;
    return NULL;
}

static void
metrics_stream_wait(void *st_)
{
    struct metrics_stream *st = st_;
    poll_timer_wait_until(st->next_ms);
}

static void
metrics_stream_close(void *st_)
{
    struct metrics_stream *st = st_;
    baseline_clear(&st->prev);
    if (st->ready) {
        protobuf_c_message_free_unpacked(&st->ready->base, NULL);
    }
    free(st);
}

static const struct lq_rpc_stream_class metrics_stream_class = {
    .open = metrics_stream_open, .poll = metrics_stream_poll,
    .wait = metrics_stream_wait, .close = metrics_stream_close,
    .due = metrics_stream_due, .refresh = metrics_stream_refresh,
};

static const struct lq_rpc_method metrics_methods[] = {
    { .service = NODE_SERVICE, .name = "StreamMetrics",
      .stream = &metrics_stream_class },
};

void
lq_rpc_metrics_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, metrics_methods, ARRAY_SIZE(metrics_methods));
}
