/* test_pmd_stats.c: parsing ovs-vswitchd's dpif-netdev/pmd-stats-show and
 * rendering it as Prometheus metrics (limiquantix/pmd_stats.h). */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "limiquantix/pmd_stats.h"
#include "openvswitch/dynamic-string.h"

/* As OVS 3.1 prints it: the main thread, then one PMD with traffic and
 * one that never polled (no cycle lines), and a line from a newer OVS. */
static const char sample_output[] =
    "main thread:\n"
    "  packets received: 7\n"
    "  packet recirculations: 0\n"
    "pmd thread numa_id 0 core_id 1:\n"
    "  packets received: 1234567\n"
    "  packet recirculations: 2469134\n"
    "  avg. datapath passes per packet: 3.00\n"
    "  phwol hits: 0\n"
    "  mfex opt hits: 0\n"
    "  simple match hits: 5\n"
    "  emc hits: 1000000\n"
    "  smc hits: 0\n"
    "  megaflow hits: 3703690\n"
    "  avg. subtable lookups per megaflow hit: 1.50\n"
    "  miss with success upcall: 11\n"
    "  miss with failed upcall: 2\n"
    "  avg. packets per output batch: 31.90\n"
    "  some future counter: 99\n"
    "  idle cycles: 3000 (25.00%)\n"
    "  processing cycles: 9000 (75.00%)\n"
    "  avg cycles per packet: 0.01 (12000/1234567)\n"
    "  avg processing cycles per packet: 0.01 (9000/1234567)\n"
    "pmd thread numa_id 0 core_id 3:\n"
    "  packets received: 0\n";

static void
test_parse(void **state OVS_UNUSED)
{
    struct lq_pmd_stats *s;
    size_t n;

    assert_null(lq_pmd_stats_parse(sample_output, &s, &n));
    assert_int_equal(n, 2);
    assert_int_equal(s[0].numa_id, 0);
    assert_int_equal(s[0].core_id, 1);
    assert_int_equal(s[0].packets, 1234567);
    assert_int_equal(s[0].recirculations, 2469134);
    assert_int_equal(s[0].simple_hits, 5);
    assert_int_equal(s[0].emc_hits, 1000000);
    assert_int_equal(s[0].megaflow_hits, 3703690);
    assert_int_equal(s[0].upcalls_ok, 11);
    assert_int_equal(s[0].upcalls_failed, 2);
    assert_int_equal(s[0].idle_cycles, 3000);
    assert_int_equal(s[0].busy_cycles, 9000);
    assert_int_equal(s[1].core_id, 3);
    assert_int_equal(s[1].packets, 0);
    assert_int_equal(s[1].busy_cycles, 0);
    free(s);

    /* Nothing polled yet: no PMD. */
    assert_null(lq_pmd_stats_parse("main thread:\n  packets received: 0\n",
                                   &s, &n));
    assert_int_equal(n, 0);
    free(s);
}

static void
test_parse_refuses_garbage_header(void **state OVS_UNUSED)
{
    struct lq_pmd_stats *s = NULL;
    size_t n = 5;
    struct lq_error *e = lq_pmd_stats_parse("pmd thread core one:\n", &s, &n);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
    assert_string_equal(e->message, "pmd-stats-show: cannot parse "
                        "\"pmd thread core one:\"");
    assert_int_equal(n, 0);
    lq_error_free(e);
}

static void
test_render(void **state OVS_UNUSED)
{
    struct lq_pmd_stats *s;
    size_t n;
    struct ds out = DS_EMPTY_INITIALIZER;

    assert_null(lq_pmd_stats_parse(sample_output, &s, &n));
    lq_pmd_stats_render(s, n, &out);
    const char *text = ds_cstr(&out);
    static const char *const expected[] = {
        "# TYPE limiquantix_dpdk_pmd_packets_received_total counter\n",
        "limiquantix_dpdk_pmd_packets_received_total{core=\"1\",numa=\"0\"} "
        "1234567\n",
        "limiquantix_dpdk_pmd_packets_received_total{core=\"3\",numa=\"0\"} "
        "0\n",
        "limiquantix_dpdk_pmd_lookups_total{core=\"1\",numa=\"0\","
        "result=\"megaflow\"} 3703690\n",
        "limiquantix_dpdk_pmd_lookups_total{core=\"1\",numa=\"0\","
        "result=\"upcall_failed\"} 2\n",
        "limiquantix_dpdk_pmd_cycles_total{core=\"1\",numa=\"0\","
        "state=\"processing\"} 9000\n",
        "# TYPE limiquantix_dpdk_pmd_busy_ratio gauge\n",
        "limiquantix_dpdk_pmd_busy_ratio{core=\"1\",numa=\"0\"} 0.75\n",
        "limiquantix_dpdk_pmd_busy_ratio{core=\"3\",numa=\"0\"} 0\n",
        "limiquantix_dpdk_pmd_cycles_per_packet{core=\"1\",numa=\"0\"} "
        "0.00729001\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
        if (!strstr(text, expected[i])) {
            fail_msg("missing: %s\nin:\n%s", expected[i], text);
        }
    }
    /* Every family has HELP and TYPE once. */
    const char *p = text;
    int types = 0;
    while ((p = strstr(p, "# TYPE "))) {
        types++;
        p++;
    }
    assert_int_equal(types, 6);
    ds_destroy(&out);
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_refuses_garbage_header),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
