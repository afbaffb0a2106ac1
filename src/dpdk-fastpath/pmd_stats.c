/* pmd_stats.c: PMD statistics from ovs-vswitchd as Prometheus metrics
 * (limiquantix/pmd_stats.h). */
#include <config.h>
#include "limiquantix/pmd_stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "openvswitch/dynamic-string.h"
#include "unixctl.h"
#include "util.h"

/* "  key: 123 ..." lines of one thread, by key. */
static const struct {
    const char *key;
    size_t offset;
} counters[] = {
#define C(KEY, FIELD) { KEY, offsetof(struct lq_pmd_stats, FIELD) }
    C("packets received", packets),
    C("packet recirculations", recirculations),
    C("phwol hits", phwol_hits),
    C("mfex opt hits", mfex_hits),
    C("simple match hits", simple_hits),
    C("emc hits", emc_hits),
    C("smc hits", smc_hits),
    C("megaflow hits", megaflow_hits),
    C("miss with success upcall", upcalls_ok),
    C("miss with failed upcall", upcalls_failed),
    C("idle cycles", idle_cycles),
    C("processing cycles", busy_cycles),
#undef C
};

static void
parse_counter(struct lq_pmd_stats *s, const char *line)
{
    while (*line == ' ') {
        line++;
    }
    const char *colon = strchr(line, ':');
    if (!colon) {
        return;
    }
    size_t len = colon - line;
    for (size_t i = 0; i < ARRAY_SIZE(counters); i++) {
        if (strlen(counters[i].key) == len
            && !memcmp(counters[i].key, line, len)) {
            char *end;
            uint64_t v = strtoull(colon + 1, &end, 10);
            if (end != colon + 1) {
                *(uint64_t *) ((char *) s + counters[i].offset) = v;
            }
            return;
        }
    }
}

struct lq_error *
lq_pmd_stats_parse(const char *text, struct lq_pmd_stats **statsp, size_t *n)
{
    struct lq_pmd_stats *stats = NULL, *cur = NULL;
    size_t allocated = 0;

    *n = 0;
    for (const char *line = text; *line; ) {
        size_t len = strcspn(line, "\n");
        char *l = xmemdup0(line, len);
        line += len + (line[len] == '\n');

        if (!strncmp(l, "pmd thread", 10)) {
            int numa = -1, pos = 0;
            unsigned int core;
            if (sscanf(l, "pmd thread numa_id %d core_id %u:%n", &numa,
                       &core, &pos) != 2 || !pos) {
                struct lq_error *e = lq_error_new(
                    LQ_INVALID_ARGUMENT, "pmd-stats-show: cannot parse "
                    "\"%s\"", l);
                free(l);
                free(stats);
                *n = 0;
                return e;
            }
            if (*n == allocated) {
                stats = x2nrealloc(stats, &allocated, sizeof *stats);
            }
            cur = &stats[(*n)++];
            memset(cur, 0, sizeof *cur);
            cur->numa_id = numa;
            cur->core_id = core;
        } else if (l[0] != ' ') {
            cur = NULL;         /* "main thread:" and anything else. */
        } else if (cur) {
            parse_counter(cur, l);
        }
        free(l);
    }
    *statsp = stats;
    return NULL;
}

static void
family(struct ds *out, const char *name, const char *type, const char *help)
{
    ds_put_format(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                  type);
}

static void
labels(struct ds *out, const struct lq_pmd_stats *s)
{
    ds_put_format(out, "{core=\"%u\",numa=\"%d\"", s->core_id, s->numa_id);
}

static void
sample(struct ds *out, const char *name, const struct lq_pmd_stats *s,
       const char *extra, uint64_t value)
{
    ds_put_cstr(out, name);
    labels(out, s);
    ds_put_format(out, "%s} %"PRIu64"\n", extra ? extra : "", value);
}

static void
sample_double(struct ds *out, const char *name, const struct lq_pmd_stats *s,
              double value)
{
    ds_put_cstr(out, name);
    labels(out, s);
    ds_put_format(out, "} %.6g\n", value);
}

void
lq_pmd_stats_render(const struct lq_pmd_stats *stats, size_t n,
                    struct ds *out)
{
#define FOR_EACH_PMD for (size_t i = 0; i < n; i++)
    const char *name = "limiquantix_dpdk_pmd_packets_received_total";
    family(out, name, "counter", "Packets received by the PMD thread.");
    FOR_EACH_PMD { sample(out, name, &stats[i], NULL, stats[i].packets); }

    name = "limiquantix_dpdk_pmd_recirculations_total";
    family(out, name, "counter", "Packets passed through the datapath "
           "again (conntrack, tunnels).");
    FOR_EACH_PMD {
        sample(out, name, &stats[i], NULL, stats[i].recirculations);
    }

    name = "limiquantix_dpdk_pmd_lookups_total";
    family(out, name, "counter", "Datapath flow lookups by the cache that "
           "answered them; upcall_* went to ovs-vswitchd's slow path.");
    FOR_EACH_PMD {
        const struct lq_pmd_stats *s = &stats[i];
        sample(out, name, s, ",result=\"phwol\"", s->phwol_hits);
        sample(out, name, s, ",result=\"mfex\"", s->mfex_hits);
        sample(out, name, s, ",result=\"simple\"", s->simple_hits);
        sample(out, name, s, ",result=\"emc\"", s->emc_hits);
        sample(out, name, s, ",result=\"smc\"", s->smc_hits);
        sample(out, name, s, ",result=\"megaflow\"", s->megaflow_hits);
        sample(out, name, s, ",result=\"upcall_ok\"", s->upcalls_ok);
        sample(out, name, s, ",result=\"upcall_failed\"", s->upcalls_failed);
    }

    name = "limiquantix_dpdk_pmd_cycles_total";
    family(out, name, "counter", "TSC cycles of the PMD thread's polling "
           "iterations, idle or processing packets.");
    FOR_EACH_PMD {
        sample(out, name, &stats[i], ",state=\"idle\"", stats[i].idle_cycles);
        sample(out, name, &stats[i], ",state=\"processing\"",
               stats[i].busy_cycles);
    }

    name = "limiquantix_dpdk_pmd_busy_ratio";
    family(out, name, "gauge", "Processing cycles / all cycles since the "
           "statistics were cleared (0..1).");
    FOR_EACH_PMD {
        uint64_t total = stats[i].idle_cycles + stats[i].busy_cycles;
        sample_double(out, name, &stats[i],
                      total ? (double) stats[i].busy_cycles / total : 0);
    }

    name = "limiquantix_dpdk_pmd_cycles_per_packet";
    family(out, name, "gauge", "Processing cycles per received packet.");
    FOR_EACH_PMD {
        sample_double(out, name, &stats[i], stats[i].packets
                      ? (double) stats[i].busy_cycles / stats[i].packets : 0);
    }
#undef FOR_EACH_PMD
}

struct lq_error *
lq_pmd_stats_fetch(const char *ctl_path, char **textp)
{
    struct jsonrpc *client;
    char *result = NULL, *err = NULL;

    *textp = NULL;
    int error = unixctl_client_create(ctl_path, &client);
    if (error) {
        return lq_error_new(LQ_UNAVAILABLE, "ovs-vswitchd (%s): %s",
                            ctl_path, ovs_strerror(error));
    }
    error = unixctl_client_transact(client, "dpif-netdev/pmd-stats-show",
                                    0, NULL, &result, &err);
    jsonrpc_close(client);
    if (error || err) {
        struct lq_error *e = lq_error_new(
            LQ_UNAVAILABLE, "ovs-vswitchd (%s): dpif-netdev/pmd-stats-show: "
            "%s", ctl_path, err ? err : ovs_strerror(error));
        free(err);
        free(result);
        return e;
    }
    *textp = result;
    return NULL;
}
