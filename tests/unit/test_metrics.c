/* Unit tests: Prometheus exposition of RPC counters and histograms. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static void
test_rpc_histogram(void **state)
{
    (void) state;
    struct lq_metrics m;
    struct ds out = DS_EMPTY_INITIALIZER;

    lq_metrics_init(&m);
    lq_metrics_observe_rpc(&m, "S/A", LQ_OK, 0.0007);
    lq_metrics_observe_rpc(&m, "S/A", LQ_OK, 0.3);
    lq_metrics_observe_rpc(&m, "S/A", LQ_INVALID_ARGUMENT, 20);
    lq_metrics_set(&m, "lq_test_gauge", "gauge", "A test.", 3);
    lq_metrics_render(&m, &out);

    const char *s = ds_cstr(&out);
    assert_non_null(strstr(s, "limiquantix_node_rpc_requests_total"
                           "{method=\"S/A\",code=\"ok\"} 2\n"));
    assert_non_null(strstr(s, "limiquantix_node_rpc_requests_total"
                           "{method=\"S/A\",code=\"invalid_argument\"} 1\n"));
    /* Buckets are cumulative. */
    assert_non_null(strstr(s, "{method=\"S/A\",le=\"0.0005\"} 0\n"));
    assert_non_null(strstr(s, "{method=\"S/A\",le=\"0.001\"} 1\n"));
    assert_non_null(strstr(s, "{method=\"S/A\",le=\"0.5\"} 2\n"));
    assert_non_null(strstr(s, "{method=\"S/A\",le=\"10\"} 2\n"));
    assert_non_null(strstr(s, "{method=\"S/A\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(s, "limiquantix_node_rpc_duration_seconds_count"
                           "{method=\"S/A\"} 3\n"));
    assert_non_null(strstr(s, "# TYPE lq_test_gauge gauge\nlq_test_gauge 3\n"));
    assert_non_null(strstr(s, "process_resident_memory_bytes "));
    assert_non_null(strstr(s, "process_open_fds "));

    ds_destroy(&out);
    lq_metrics_destroy(&m);
}

static void
put_a(void *aux, struct ds *out)
{
    ds_put_format(out, "a %s\n", (const char *) aux);
}

static void
put_b(void *aux, struct ds *out)
{
    ds_put_format(out, "b %s\n", (const char *) aux);
}

static void
test_collectors_and_labels(void **state)
{
    (void) state;
    struct lq_metrics m;
    struct ds out = DS_EMPTY_INITIALIZER;
    static char one[] = "1", two[] = "2";

    lq_metrics_init(&m);
    lq_metrics_add_collector(&m, put_a, one);
    lq_metrics_add_collector(&m, put_b, two);
    lq_metrics_render(&m, &out);
    const char *a = strstr(ds_cstr(&out), "a 1\n");
    const char *b = strstr(ds_cstr(&out), "b 2\n");
    assert_true(a && b && a < b);       /* In the order added. */
    lq_metrics_remove_collector(&m, one);
    ds_clear(&out);
    lq_metrics_render(&m, &out);
    assert_null(strstr(ds_cstr(&out), "a 1\n"));
    assert_non_null(strstr(ds_cstr(&out), "b 2\n"));
    lq_metrics_add_collector(&m, put_a, one);   /* Its slot again. */

    /* A VM name may hold anything printable; the exposition format
     * escapes backslash, double quote and newline in label values. */
    ds_clear(&out);
    lq_metrics_put_label_value(&out, "a\"b\\c\nd}e,f=");
    assert_string_equal(ds_cstr(&out), "a\\\"b\\\\c\\nd}e,f=");
    ds_destroy(&out);
    lq_metrics_destroy(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_histogram),
        cmocka_unit_test(test_collectors_and_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
