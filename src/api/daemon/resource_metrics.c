/* resource_metrics.c: the host's and the VMs' resources on /metrics (see
 * resource_metrics.h).
 *
 * Design decisions:
 * - Reading them blocks (procfs is quick, libvirt is not), so a scrape
 *   renders the text of the last reading and, when that is older than
 *   LQ_RESOURCE_METRICS_MAX_AGE_MS, starts the next one on the worker
 *   pool: a scrape never waits, and values are at most one scrape
 *   interval old.  One reading is in flight at a time.
 * - Counters are the kernel's and libvirt's cumulative ones (seconds,
 *   bytes), as node_exporter and libvirt exporters give them: rates are
 *   the monitoring system's job (rate()), so no state is kept here.
 * - VMs are labelled by vm_id and name; a name may hold any printable
 *   character, so label values are escaped (lq_metrics_put_label_value). */
#include <config.h>
#include "resource_metrics.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileutil.h"
#include "host_stats.h"
#include "limiquantix/compute.h"
#include "limiquantix/node.h"
#include "metrics.h"
#include "openvswitch/dynamic-string.h"
#include "timeval.h"
#include "util.h"
#include "worker_pool.h"

struct lq_resource_metrics {
    struct lq_metrics *metrics;
    struct lq_worker_pool *pool;
    struct lq_compute *compute;         /* NULL: host only. */
    char *text;                         /* The last reading, rendered. */
    long long read_ms;                  /* When; 0: never. */
    bool busy;                          /* A reading is in flight. */
};

struct reading {
    struct lq_resource_metrics *rm;
    char *text;
};

static void
family(struct ds *out, const char *name, const char *type, const char *help)
{
    ds_put_format(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                  type);
}

static void
sample_u64(struct ds *out, const char *name, const char *labels,
           uint64_t value)
{
    ds_put_format(out, "%s%s %"PRIu64"\n", name, labels, value);
}

static void
put_host_cpu(struct ds *out)
{
    unsigned long long busy, total;
    if (!lq_host_read_cpu_times(&busy, &total)) {
        return;
    }
    double hz = sysconf(_SC_CLK_TCK);
    family(out, "limiquantix_host_cpu_seconds_total", "counter",
           "CPU time of the host summed over its CPUs, busy (all but idle "
           "and iowait) and in total.");
    ds_put_format(out, "limiquantix_host_cpu_seconds_total{mode=\"busy\"} "
                  "%.2f\n", busy / hz);
    ds_put_format(out, "limiquantix_host_cpu_seconds_total{mode=\"all\"} "
                  "%.2f\n", total / hz);
}

static void
put_host_memory(struct ds *out)
{
    char *text;
    struct lq_memory_info mem;
    if (lq_read_file("/proc/meminfo", &text, NULL)) {
        return;
    }
    struct lq_error *e = lq_meminfo_parse(text, &mem);
    free(text);
    if (e) {
        lq_error_free(e);
        return;
    }
    family(out, "limiquantix_host_memory_bytes", "gauge",
           "The host's memory: total, available (MemAvailable) and used.");
    ds_put_format(out, "limiquantix_host_memory_bytes{kind=\"total\"} "
                  "%"PRIu64"\n", mem.total_bytes);
    ds_put_format(out, "limiquantix_host_memory_bytes{kind=\"available\"} "
                  "%"PRIu64"\n", mem.available_bytes);
    ds_put_format(out, "limiquantix_host_memory_bytes{kind=\"used\"} "
                  "%"PRIu64"\n", mem.used_bytes);
}

static void
put_host_load(struct ds *out)
{
    double load[3];
    if (getloadavg(load, 3) != 3) {
        return;
    }
    family(out, "limiquantix_host_load", "gauge",
           "The host's load average over 1, 5 and 15 minutes.");
    static const char *const windows[] = { "1m", "5m", "15m" };
    for (int i = 0; i < 3; i++) {
        ds_put_format(out, "limiquantix_host_load{window=\"%s\"} %.2f\n",
                      windows[i], load[i]);
    }
}

static void
put_host_devices(struct ds *out)
{
    struct lq_host_disk_stat *d;
    size_t n;
    lq_host_read_disks(&d, &n);
    family(out, "limiquantix_host_disk_bytes_total", "counter",
           "Bytes read and written by the host's whole disks.");
    for (size_t i = 0; i < n; i++) {
        struct ds l = DS_EMPTY_INITIALIZER;
        ds_put_cstr(&l, "{device=\"");
        lq_metrics_put_label_value(&l, d[i].name);
        size_t base = l.length;
        ds_put_cstr(&l, "\",op=\"read\"}");
        sample_u64(out, "limiquantix_host_disk_bytes_total", ds_cstr(&l),
                   d[i].read_bytes);
        ds_truncate(&l, base);
        ds_put_cstr(&l, "\",op=\"write\"}");
        sample_u64(out, "limiquantix_host_disk_bytes_total", ds_cstr(&l),
                   d[i].write_bytes);
        ds_destroy(&l);
    }
    free(d);

    struct lq_host_net_stat *s;
    lq_host_read_net(&s, &n);
    family(out, "limiquantix_host_network_bytes_total", "counter",
           "Bytes received and transmitted by the host's interfaces "
           "(loopback left out).");
    for (size_t i = 0; i < n; i++) {
        struct ds l = DS_EMPTY_INITIALIZER;
        ds_put_cstr(&l, "{interface=\"");
        lq_metrics_put_label_value(&l, s[i].name);
        size_t base = l.length;
        ds_put_cstr(&l, "\",direction=\"rx\"}");
        sample_u64(out, "limiquantix_host_network_bytes_total", ds_cstr(&l),
                   s[i].rx_bytes);
        ds_truncate(&l, base);
        ds_put_cstr(&l, "\",direction=\"tx\"}");
        sample_u64(out, "limiquantix_host_network_bytes_total", ds_cstr(&l),
                   s[i].tx_bytes);
        ds_destroy(&l);
    }
    free(s);
}

/* '{vm_id="...",name="..."' without the closing brace. */
static void
vm_labels(struct ds *l, const struct lq_vm_status *vm)
{
    ds_put_format(l, "{vm_id=\"%s\",name=\"", vm->id);
    lq_metrics_put_label_value(l, vm->name ? vm->name : "");
    ds_put_char(l, '"');
}

struct vm_sample {
    const struct lq_vm_status *vm;
    struct lq_vm_metrics mt;            /* Zeroed unless 'active'. */
    bool active;                        /* QEMU runs (also paused). */
};

/* One family: a line per VM (running ones only when 'running_only'). */
static void
put_vm_family(struct ds *out, const char *name, const char *type,
              const char *help, const struct vm_sample *v, size_t n,
              bool running_only, double (*value)(const struct vm_sample *))
{
    family(out, name, type, help);
    for (size_t i = 0; i < n; i++) {
        if (running_only && !v[i].active) {
            continue;
        }
        struct ds l = DS_EMPTY_INITIALIZER;
        vm_labels(&l, v[i].vm);
        ds_put_format(out, "%s%s} %.17g\n", name, ds_cstr(&l), value(&v[i]));
        ds_destroy(&l);
    }
}

static double
vm_up(const struct vm_sample *v)
{
    return v->vm->state == LQ_VM_RUNNING;
}

static double
vm_cpu_seconds(const struct vm_sample *v)
{
    return v->mt.cpu_time_ns / 1e9;
}

static double
vm_vcpus(const struct vm_sample *v)
{
    return v->mt.vcpus;
}

static double
vm_memory(const struct vm_sample *v)
{
    return v->mt.memory_kib * 1024.0;
}

static double
vm_rss(const struct vm_sample *v)
{
    return v->mt.memory_rss_kib * 1024.0;
}

/* Per device of the running VMs: '{vm_id,name,<key>=id,<dir>}'. */
static void
put_vm_devices(struct ds *out, const struct vm_sample *v, size_t n, bool nic)
{
    const char *name = nic ? "limiquantix_vm_network_bytes_total"
                           : "limiquantix_vm_disk_bytes_total";
    family(out, name, "counter", nic
           ? "Bytes received and transmitted by each NIC of a running VM."
           : "Bytes read and written by each disk of a running VM.");
    for (size_t i = 0; i < n; i++) {
        if (!v[i].active) {
            continue;
        }
        const struct lq_vm_device_metrics *d = nic ? v[i].mt.nics
                                                   : v[i].mt.disks;
        size_t nd = nic ? v[i].mt.n_nics : v[i].mt.n_disks;
        for (size_t j = 0; j < nd; j++) {
            struct ds l = DS_EMPTY_INITIALIZER;
            vm_labels(&l, v[i].vm);
            ds_put_format(&l, ",%s=\"", nic ? "nic" : "disk");
            lq_metrics_put_label_value(&l, d[j].id);
            ds_put_format(out, "%s%s\",%s} %"PRIu64"\n", name, ds_cstr(&l),
                          nic ? "direction=\"rx\"" : "op=\"read\"",
                          d[j].rx_bytes);
            ds_put_format(out, "%s%s\",%s} %"PRIu64"\n", name, ds_cstr(&l),
                          nic ? "direction=\"tx\"" : "op=\"write\"",
                          d[j].tx_bytes);
            ds_destroy(&l);
        }
    }
}

static void
put_vms(struct ds *out, struct lq_compute *c)
{
    struct lq_vm_status *vms = NULL;
    size_t n = 0;
    struct lq_error *e = lq_compute_list_vms_brief(c, &vms, &n);
    if (e) {
        lq_error_free(e);       /* libvirt is away: health says so. */
        return;
    }
    struct vm_sample *v = xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        enum lq_vm_state st = vms[i].state;
        v[i].vm = &vms[i];
        if (st == LQ_VM_RUNNING || st == LQ_VM_PAUSED
            || st == LQ_VM_SHUTTING_DOWN) {
            /* Stopped VMs have no counters. */
            e = lq_compute_get_metrics(c, vms[i].id, &v[i].mt);
            v[i].active = !e;   /* Unless it stopped meanwhile. */
            lq_error_free(e);
        }
    }
    put_vm_family(out, "limiquantix_vm_running", "gauge",
                  "1 if the VM runs (not paused), else 0; every VM of this "
                  "node.", v, n, false, vm_up);
    put_vm_family(out, "limiquantix_vm_cpu_seconds_total", "counter",
                  "CPU time the VM's vCPUs used.", v, n, true,
                  vm_cpu_seconds);
    put_vm_family(out, "limiquantix_vm_vcpus", "gauge", "The VM's vCPUs.",
                  v, n, true, vm_vcpus);
    put_vm_family(out, "limiquantix_vm_memory_bytes", "gauge",
                  "The VM's guest memory.", v, n, true, vm_memory);
    put_vm_family(out, "limiquantix_vm_memory_rss_bytes", "gauge",
                  "Host memory the VM's QEMU process holds (RSS).", v, n,
                  true, vm_rss);
    put_vm_devices(out, v, n, false);
    put_vm_devices(out, v, n, true);
    for (size_t i = 0; i < n; i++) {
        lq_vm_metrics_clear(&v[i].mt);
    }
    free(v);
    lq_vm_status_free_array(vms, n);
}

static void
reading_work(void *r_)
{
    struct reading *r = r_;
    struct ds out = DS_EMPTY_INITIALIZER;
    put_host_cpu(&out);
    put_host_memory(&out);
    put_host_load(&out);
    put_host_devices(&out);
    if (r->rm->compute) {
        put_vms(&out, r->rm->compute);
    }
    r->text = ds_steal_cstr(&out);
}

static void
reading_done(void *r_)
{
    struct reading *r = r_;
    struct lq_resource_metrics *rm = r->rm;
    free(rm->text);
    rm->text = r->text;
    rm->read_ms = time_msec();
    rm->busy = false;
    free(r);
}

static void
start_reading(struct lq_resource_metrics *rm)
{
    struct reading *r = xzalloc(sizeof *r);
    r->rm = rm;
    rm->busy = true;
    lq_worker_pool_submit(rm->pool, reading_work, reading_done, r);
}

static void
render(void *rm_, struct ds *out)
{
    struct lq_resource_metrics *rm = rm_;
    if (rm->text) {
        ds_put_cstr(out, rm->text);
    }
    if (!rm->busy && time_msec() - rm->read_ms
                     > LQ_RESOURCE_METRICS_MAX_AGE_MS) {
        start_reading(rm);
    }
}

struct lq_resource_metrics *
lq_resource_metrics_create(struct lq_metrics *metrics,
                           struct lq_worker_pool *pool,
                           struct lq_compute *compute)
{
    struct lq_resource_metrics *rm = xzalloc(sizeof *rm);
    rm->metrics = metrics;
    rm->pool = pool;
    rm->compute = compute;
    lq_metrics_add_collector(metrics, render, rm);
    start_reading(rm);          /* The first scrape finds numbers. */
    return rm;
}

void
lq_resource_metrics_destroy(struct lq_resource_metrics *rm)
{
    if (rm) {
        /* After the worker pool: no reading is in flight any more. */
        lq_metrics_remove_collector(rm->metrics, rm);
        free(rm->text);
        free(rm);
    }
}
