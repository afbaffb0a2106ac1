/* metrics.h: Prometheus metrics of the node daemon.
 *
 * Everything is recorded on the loop thread (RPC completions come back to
 * it), so no locking.  Rendered in the Prometheus text exposition format
 * (version 0.0.4) by the /metrics endpoint. */
#ifndef LQ_METRICS_H
#define LQ_METRICS_H 1

#include <stdint.h>
#include "limiquantix/error.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"

#define LQ_METRICS_MAX_COLLECTORS 4

struct lq_metrics {
    struct shash methods;       /* method name -> struct lq_method_stats. */
    struct shash gauges;        /* metric name -> struct lq_gauge. */
    double start_time;          /* Unix time the process started. */
    struct {
        void (*fn)(void *aux, struct ds *out);
        void *aux;
    } collectors[LQ_METRICS_MAX_COLLECTORS];
};

void lq_metrics_init(struct lq_metrics *);
void lq_metrics_destroy(struct lq_metrics *);

/* Records one finished RPC. 'method' is "Service/Method" or "unknown". */
void lq_metrics_observe_rpc(struct lq_metrics *, const char *method,
                            enum lq_code, double seconds);

/* Sets a gauge or counter (by 'type': "gauge" or "counter"). */
void lq_metrics_set(struct lq_metrics *, const char *name, const char *type,
                    const char *help, double value);

/* A subsystem that renders its own (labelled) families: called on the
 * loop thread at every rendering, in the order added (the fast path's
 * PMD counters, the host's and the VMs' resources).  Removed by 'aux'. */
typedef void lq_metrics_collector_fn(void *aux, struct ds *out);
void lq_metrics_add_collector(struct lq_metrics *, lq_metrics_collector_fn *,
                              void *aux);
void lq_metrics_remove_collector(struct lq_metrics *, void *aux);

/* A label value in the exposition format: backslash, double quote and
 * newline escaped (VM names may hold any printable character). */
void lq_metrics_put_label_value(struct ds *out, const char *value);

/* Appends the whole exposition to 'out'. */
void lq_metrics_render(const struct lq_metrics *, struct ds *out);

#endif
