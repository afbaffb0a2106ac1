/* procfs counters: /proc/diskstats and /proc/net/dev samples as this
 * kernel writes them, plus lines that must be skipped. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host_stats.h"

static bool
not_loop(const char *name)
{
    return strncmp(name, "loop", 4);
}

static void
test_diskstats(void **state)
{
    (void) state;
    const char *text =
        "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        " 254       0 vda 48735 20195 3467406 21977 118373 93581 5342538 "
        "117542 0 97108 143618 0 0 0 0 10331 4098\n"
        " 254       1 vda1 48600 20195 3462050 21925 118325 93581 5342538 "
        "117517 0 97052 139443 0 0 0 0 0 0\n"
        "   8       0 sda 1 2 3 4 5 6 7\n"                  /* too short */
        "garbage\n"
        " 259       0 nvme0n1 10 0 80 1 20 0 160 2 0 3 3";  /* no newline */
    struct lq_host_disk_stat *d;
    size_t n;
    lq_diskstats_parse(text, not_loop, &d, &n);
    assert_int_equal(n, 3);
    assert_string_equal(d[0].name, "vda");
    assert_int_equal(d[0].reads, 48735);
    assert_int_equal(d[0].read_bytes, 3467406ULL * 512);
    assert_int_equal(d[0].writes, 118373);
    assert_int_equal(d[0].write_bytes, 5342538ULL * 512);
    assert_int_equal(d[0].io_ms, 97108);
    assert_string_equal(d[1].name, "vda1");
    assert_string_equal(d[2].name, "nvme0n1");
    assert_int_equal(d[2].write_bytes, 160 * 512);
    assert_int_equal(d[2].io_ms, 3);
    free(d);

    lq_diskstats_parse("", NULL, &d, &n);
    assert_int_equal(n, 0);
    free(d);
}

static void
test_net_dev(void **state)
{
    (void) state;
    const char *text =
        "Inter-|   Receive                                                |"
        "  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|"
        "bytes    packets errs drop fifo colls carrier compressed\n"
        "    lo: 2118623929 10674012    0    0    0     0          0      "
        "   0 2118623929 10674012    0    0    0     0       0          0\n"
        "  eth0: 1000 10 1 0 0 0 0 0 2000 20 2 0 0 0 0 0\n"
        "tap-a_b:5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20\n"
        "  bad: 1 2 3\n"
        "  :1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
    struct lq_host_net_stat *s;
    size_t n;
    lq_net_dev_parse(text, &s, &n);
    assert_int_equal(n, 2);
    assert_string_equal(s[0].name, "eth0");
    assert_int_equal(s[0].rx_bytes, 1000);
    assert_int_equal(s[0].rx_packets, 10);
    assert_int_equal(s[0].rx_errors, 1);
    assert_int_equal(s[0].tx_bytes, 2000);
    assert_int_equal(s[0].tx_packets, 20);
    assert_int_equal(s[0].tx_errors, 2);
    assert_string_equal(s[1].name, "tap-a_b");
    assert_int_equal(s[1].rx_bytes, 5);
    assert_int_equal(s[1].tx_bytes, 13);
    assert_int_equal(s[1].tx_errors, 15);
    free(s);
}

/* The live files parse and agree with themselves. */
static void
test_live(void **state)
{
    (void) state;
    unsigned long long busy, total;
    assert_true(lq_host_read_cpu_times(&busy, &total));
    assert_true(busy <= total && total > 0);
    struct lq_host_net_stat *s;
    size_t n;
    lq_host_read_net(&s, &n);
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(s[i].name, "lo");
    }
    free(s);
    struct lq_host_disk_stat *d;
    lq_host_read_disks(&d, &n);
    for (size_t i = 0; i < n; i++) {
        assert_true(strncmp(d[i].name, "loop", 4));
    }
    free(d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diskstats),
        cmocka_unit_test(test_net_dev),
        cmocka_unit_test(test_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
