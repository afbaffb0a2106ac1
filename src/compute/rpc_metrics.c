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
#include "jsonx.h"
#include "limiquantix/compute.h"
#include "limiquantix/node.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "rpc.h"
#include "timeval.h"
#include "util.h"

#define NODE_SERVICE "limiquantix.node.v1.NodeDaemonService"
#define DEFAULT_INTERVAL_S 5
#define MAX_INTERVAL_S 3600
#define FIRST_SAMPLE_MS 1000

static struct json *
device_metrics_json(const struct lq_vm_device_metrics *d, size_t n, bool nic)
{
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < n; i++) {
        struct json *j = json_object_create();
        lq_json_put_string(j, nic ? "nicId" : "diskId", d[i].id);
        lq_json_put_uint64(j, nic ? "rxBytes" : "readBytes", d[i].rx_bytes);
        lq_json_put_uint64(j, nic ? "rxPackets" : "readOps", d[i].rx_ops);
        lq_json_put_uint64(j, nic ? "txBytes" : "writeBytes", d[i].tx_bytes);
        lq_json_put_uint64(j, nic ? "txPackets" : "writeOps", d[i].tx_ops);
        if (nic) {
            lq_json_put_uint64(j, "rxDropped", d[i].drops);
        }
        json_array_add(a, j);
    }
    return a;
}

struct json *
lq_vm_metrics_to_json(const char *vm_id, const char *name,
                      const struct lq_vm_metrics *mt, double cpu_percent)
{
    uint64_t rd = 0, wr = 0, rx = 0, tx = 0;
    for (size_t i = 0; i < mt->n_disks; i++) {
        rd += mt->disks[i].rx_bytes;
        wr += mt->disks[i].tx_bytes;
    }
    for (size_t i = 0; i < mt->n_nics; i++) {
        rx += mt->nics[i].rx_bytes;
        tx += mt->nics[i].tx_bytes;
    }
    struct json *r = json_object_create();
    lq_json_put_string(r, "vmId", vm_id);
    if (name) {
        lq_json_put_string(r, "name", name);
    }
    if (cpu_percent >= 0) {
        lq_json_put_double(r, "cpuUsagePercent", cpu_percent);
    }
    lq_json_put_uint64(r, "memoryUsedBytes", mt->memory_rss_kib * 1024);
    lq_json_put_uint64(r, "diskReadBytes", rd);
    lq_json_put_uint64(r, "diskWriteBytes", wr);
    lq_json_put_uint64(r, "networkRxBytes", rx);
    lq_json_put_uint64(r, "networkTxBytes", tx);
    lq_json_put_uint64(r, "cpuTimeNs", mt->cpu_time_ns);
    lq_json_put_uint64(r, "vcpus", mt->vcpus);
    lq_json_put_uint64(r, "memoryKib", mt->memory_kib);
    lq_json_put_uint64(r, "memoryRssKib", mt->memory_rss_kib);
    json_object_put(r, "disks", device_metrics_json(mt->disks, mt->n_disks,
                                                    false));
    json_object_put(r, "nics", device_metrics_json(mt->nics, mt->n_nics,
                                                   true));
    return r;
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
    struct json *ready;                 /* A NodeMetrics for poll(). */
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

static struct json *
disks_json(const struct lq_host_disk_stat *d, size_t n,
           const struct baseline *prev, double secs)
{
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < n; i++) {
        const struct lq_host_disk_stat *p = find_disk(prev, d[i].name);
        struct json *j = json_object_create();
        lq_json_put_string(j, "device", d[i].name);
        lq_json_put_uint64(j, "readBytes", d[i].read_bytes);
        lq_json_put_uint64(j, "writeBytes", d[i].write_bytes);
        if (p && secs > 0) {
            lq_json_put_uint64(j, "readIops", (d[i].reads - p->reads) / secs);
            lq_json_put_uint64(j, "writeIops",
                               (d[i].writes - p->writes) / secs);
            lq_json_put_double(j, "utilizationPercent",
                               percent(d[i].io_ms - p->io_ms, secs * 1000));
        }
        json_array_add(a, j);
    }
    return a;
}

static struct json *
networks_json(void)
{
    struct lq_host_net_stat *s;
    size_t n;
    lq_host_read_net(&s, &n);
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < n; i++) {
        struct json *j = json_object_create();
        lq_json_put_string(j, "interface", s[i].name);
        lq_json_put_uint64(j, "rxBytes", s[i].rx_bytes);
        lq_json_put_uint64(j, "txBytes", s[i].tx_bytes);
        lq_json_put_uint64(j, "rxPackets", s[i].rx_packets);
        lq_json_put_uint64(j, "txPackets", s[i].tx_packets);
        lq_json_put_uint64(j, "rxErrors", s[i].rx_errors);
        lq_json_put_uint64(j, "txErrors", s[i].tx_errors);
        json_array_add(a, j);
    }
    free(s);
    return a;
}

/* Every VM of ours; their CPU times go to 'now' for the next sample. */
static struct json *
vms_json(const struct baseline *prev, struct baseline *now, double secs)
{
    struct json *a = json_array_create_empty();
    struct lq_compute *c = lq_compute_get_default();
    struct lq_vm_status *vms = NULL;
    size_t n = 0;
    if (!c || lq_compute_list_vms_brief(c, &vms, &n)) {
        return a;           /* No compute here, or libvirt is away. */
    }
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
        json_array_add(a, lq_vm_metrics_to_json(vms[i].id, vms[i].name, &mt,
                                                cpu));
        lq_vm_metrics_clear(&mt);
    }
    for (size_t i = 0; i < n; i++) {
        lq_vm_status_clear(&vms[i]);
    }
    free(vms);
    return a;
}

/* Reads everything; a NodeMetrics unless this is the baseline. */
static struct json *
sample(struct baseline *prev)
{
    struct baseline now = { .ms = time_msec() };
    shash_init(&now.vm_cpu_ns);
    double secs = prev->ms ? (now.ms - prev->ms) / 1000.0 : 0;
    struct json *m = json_object_create();
    lq_json_put_timestamp_ms(m, "timestamp", time_wall_msec());
    if (lq_host_read_cpu_times(&now.cpu_busy, &now.cpu_total)
        && prev->cpu_total && now.cpu_total > prev->cpu_total) {
        lq_json_put_double(m, "cpuUsagePercent",
                           percent(now.cpu_busy - prev->cpu_busy,
                                   now.cpu_total - prev->cpu_total));
    }
    char *meminfo;
    struct lq_memory_info mem;
    if (!lq_read_file("/proc/meminfo", &meminfo, NULL)) {
        struct lq_error *e = lq_meminfo_parse(meminfo, &mem);
        if (!e) {
            lq_json_put_uint64(m, "memoryUsedBytes", mem.used_bytes);
            lq_json_put_uint64(m, "memoryTotalBytes", mem.total_bytes);
        }
        lq_error_free(e);
        free(meminfo);
    }
    lq_host_read_disks(&now.disks, &now.n_disks);
    json_object_put(m, "disks", disks_json(now.disks, now.n_disks, prev,
                                           secs));
    json_object_put(m, "networks", networks_json());
    json_object_put(m, "vms", vms_json(prev, &now, secs));
    bool first = !prev->ms;
    baseline_replace(prev, &now);
    if (first) {
        json_destroy(m);
        return NULL;
    }
    return m;
}

static struct lq_error *
metrics_stream_open(struct lq_node *node OVS_UNUSED, const struct json *req,
                    void **statep)
{
    uint32_t interval = 0;
    struct lq_error *e = lq_json_get_uint32(req, "intervalSeconds",
                                            &interval);
    if (e) {
        return e;
    }
    if (interval > MAX_INTERVAL_S) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "intervalSeconds: at most "
                            "%d, not %"PRIu32, MAX_INTERVAL_S, interval);
    }
    struct metrics_stream *st = xzalloc(sizeof *st);
    st->interval_ms = 1000LL * (interval ? interval : DEFAULT_INTERVAL_S);
    shash_init(&st->prev.vm_cpu_ns);
    json_destroy(sample(&st->prev));        /* The baseline. */
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
metrics_stream_poll(void *st_, struct json *out, bool *done)
{
    struct metrics_stream *st = st_;
    if (st->ready) {
        json_array_add(out, st->ready);
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
    json_destroy(st->ready);
    free(st);
}

static const struct lq_rpc_stream_class metrics_stream_class = {
    .open = metrics_stream_open, .poll = metrics_stream_poll,
    .wait = metrics_stream_wait, .close = metrics_stream_close,
    .due = metrics_stream_due, .refresh = metrics_stream_refresh,
};

static const struct lq_rpc_method metrics_methods[] = {
    { NODE_SERVICE, "StreamMetrics", NULL, false, NULL,
      &metrics_stream_class },
};

void
lq_rpc_metrics_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, metrics_methods, ARRAY_SIZE(metrics_methods));
}
