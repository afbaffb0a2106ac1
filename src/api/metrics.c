/* metrics.c: request counters, latency histograms, process metrics.
 *
 * Histogram buckets follow the Prometheus client defaults shifted down a
 * decade: most node RPCs answer in well under 10 ms. */
#include <config.h>
#include "metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

static const double buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
    5, 10,
};
#define N_BUCKETS ARRAY_SIZE(buckets)

struct lq_method_stats {
    uint64_t by_code[LQ_N_CODES];
    uint64_t bucket_counts[N_BUCKETS];  /* Non-cumulative. */
    uint64_t count;
    double sum;
};

struct lq_gauge {
    char *type;
    char *help;
    double value;
};

static double
now_unix(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec / 1e6;
}

void
lq_metrics_init(struct lq_metrics *m)
{
    shash_init(&m->methods);
    shash_init(&m->gauges);
    m->start_time = now_unix();
    memset(m->collectors, 0, sizeof m->collectors);
}

void
lq_metrics_destroy(struct lq_metrics *m)
{
    shash_destroy_free_data(&m->methods);
    struct shash_node *node;
    SHASH_FOR_EACH (node, &m->gauges) {
        struct lq_gauge *g = node->data;
        free(g->type);
        free(g->help);
        free(g);
    }
    shash_destroy(&m->gauges);
}

void
lq_metrics_observe_rpc(struct lq_metrics *m, const char *method,
                       enum lq_code code, double seconds)
{
    struct lq_method_stats *s = shash_find_data(&m->methods, method);
    if (!s) {
        s = xzalloc(sizeof *s);
        shash_add(&m->methods, method, s);
    }
    s->by_code[code < LQ_N_CODES ? code : LQ_UNKNOWN]++;
    s->count++;
    s->sum += seconds;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        if (seconds <= buckets[i]) {
            s->bucket_counts[i]++;
            break;
        }
    }
}

void
lq_metrics_set(struct lq_metrics *m, const char *name, const char *type,
               const char *help, double value)
{
    struct lq_gauge *g = shash_find_data(&m->gauges, name);
    if (!g) {
        g = xzalloc(sizeof *g);
        g->type = xstrdup(type);
        g->help = xstrdup(help);
        shash_add(&m->gauges, name, g);
    }
    g->value = value;
}

static void
render_rpc(const struct lq_metrics *m, struct ds *out)
{
    const struct shash_node **nodes = shash_sort(&m->methods);
    size_t n = shash_count(&m->methods);

    ds_put_cstr(out, "# HELP limiquantix_node_rpc_requests_total RPCs "
                "handled, by method and Connect code.\n"
                "# TYPE limiquantix_node_rpc_requests_total counter\n");
    for (size_t i = 0; i < n; i++) {
        const struct lq_method_stats *s = nodes[i]->data;
        for (int c = 0; c < LQ_N_CODES; c++) {
            if (s->by_code[c]) {
                ds_put_format(out, "limiquantix_node_rpc_requests_total"
                              "{method=\"%s\",code=\"%s\"} %"PRIu64"\n",
                              nodes[i]->name, lq_code_name(c), s->by_code[c]);
            }
        }
    }

    ds_put_cstr(out, "# HELP limiquantix_node_rpc_duration_seconds RPC "
                "latency, from request complete to response queued.\n"
                "# TYPE limiquantix_node_rpc_duration_seconds histogram\n");
    for (size_t i = 0; i < n; i++) {
        const struct lq_method_stats *s = nodes[i]->data;
        const char *name = nodes[i]->name;
        uint64_t cumulative = 0;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cumulative += s->bucket_counts[b];
            ds_put_format(out, "limiquantix_node_rpc_duration_seconds_bucket"
                          "{method=\"%s\",le=\"%g\"} %"PRIu64"\n",
                          name, buckets[b], cumulative);
        }
        ds_put_format(out, "limiquantix_node_rpc_duration_seconds_bucket"
                      "{method=\"%s\",le=\"+Inf\"} %"PRIu64"\n"
                      "limiquantix_node_rpc_duration_seconds_sum"
                      "{method=\"%s\"} %.9f\n"
                      "limiquantix_node_rpc_duration_seconds_count"
                      "{method=\"%s\"} %"PRIu64"\n",
                      name, s->count, name, s->sum, name, s->count);
    }
    free(nodes);
}

static void
put_metric(struct ds *out, const char *name, const char *type,
           const char *help, double value)
{
    ds_put_format(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n",
                  name, help, name, type, name, value);
}

/* The standard process_* metrics, read from procfs. */
static void
render_process(const struct lq_metrics *m, struct ds *out)
{
    struct rusage ru;
    if (!getrusage(RUSAGE_SELF, &ru)) {
        double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
                     + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        put_metric(out, "process_cpu_seconds_total", "counter",
                   "Total user and system CPU time spent in seconds.", cpu);
    }

    unsigned long long vsize = 0, rss_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &vsize, &rss_pages) == 2) {
            long page = sysconf(_SC_PAGESIZE);
            put_metric(out, "process_virtual_memory_bytes", "gauge",
                       "Virtual memory size in bytes.",
                       (double) vsize * page);
            put_metric(out, "process_resident_memory_bytes", "gauge",
                       "Resident memory size in bytes.",
                       (double) rss_pages * page);
        }
        fclose(f);
    }

    DIR *dir = opendir("/proc/self/fd");
    if (dir) {
        int n = -1;             /* Not counting the directory's own fd. */
        while (readdir(dir)) {
            n++;
        }
        closedir(dir);
        put_metric(out, "process_open_fds", "gauge",
                   "Number of open file descriptors.", n - 2);
    }

    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        put_metric(out, "process_max_fds", "gauge",
                   "Maximum number of open file descriptors.",
                   rl.rlim_cur == RLIM_INFINITY ? -1 : (double) rl.rlim_cur);
    }
    put_metric(out, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.",
               m->start_time);
}

void
lq_metrics_render(const struct lq_metrics *m, struct ds *out)
{
    render_rpc(m, out);

    const struct shash_node **nodes = shash_sort(&m->gauges);
    for (size_t i = 0; i < shash_count(&m->gauges); i++) {
        const struct lq_gauge *g = nodes[i]->data;
        put_metric(out, nodes[i]->name, g->type, g->help, g->value);
    }
    free(nodes);

    for (size_t i = 0; i < LQ_METRICS_MAX_COLLECTORS; i++) {
        if (m->collectors[i].fn) {
            m->collectors[i].fn(m->collectors[i].aux, out);
        }
    }
    render_process(m, out);
}

void
lq_metrics_add_collector(struct lq_metrics *m, lq_metrics_collector_fn *fn,
                         void *aux)
{
    for (size_t i = 0; i < LQ_METRICS_MAX_COLLECTORS; i++) {
        if (!m->collectors[i].fn) {
            m->collectors[i].fn = fn;
            m->collectors[i].aux = aux;
            return;
        }
    }
    OVS_NOT_REACHED();          /* More collectors than slots: a bug. */
}

void
lq_metrics_remove_collector(struct lq_metrics *m, void *aux)
{
    for (size_t i = 0; i < LQ_METRICS_MAX_COLLECTORS; i++) {
        if (m->collectors[i].fn && m->collectors[i].aux == aux) {
            m->collectors[i].fn = NULL;
            m->collectors[i].aux = NULL;
        }
    }
}

void
lq_metrics_put_label_value(struct ds *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        switch (*p) {
        case '\\': ds_put_cstr(out, "\\\\"); break;
        case '"': ds_put_cstr(out, "\\\""); break;
        case '\n': ds_put_cstr(out, "\\n"); break;
        default: ds_put_char(out, *p);
        }
    }
}
