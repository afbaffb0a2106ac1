/* Unit tests: proto3 JSON helpers. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsonx.h"

static struct json *
parse(const char *s)
{
    struct json *j;
    struct lq_error *e = lq_json_parse_object(s, strlen(s), &j);
    if (e) {
        fail_msg("%s", e->message);
    }
    return j;
}

static void
test_parse_errors(void **state)
{
    (void) state;
    static const char *const bad[] = {
        "{", "{\"a\":}", "[1,2]", "\"str\"", "42", "nul", "{\"a\":1}x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct json *j = (void *) 1;
        struct lq_error *e = lq_json_parse_object(bad[i], strlen(bad[i]), &j);
        assert_non_null(e);
        assert_null(j);
        assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
        assert_non_null(strstr(e->message, "malformed JSON")
                        ? e->message : NULL);
        lq_error_free(e);
    }
    struct json *j = parse("");         /* Empty body: {} */
    assert_int_equal(j->type, JSON_OBJECT);
    json_destroy(j);

    struct lq_error *e = lq_json_parse_object("{\"a\":1}\0x", 9, &j);
    assert_non_null(e);
    lq_error_free(e);
}

static void
test_camel_and_snake(void **state)
{
    (void) state;
    char *s = lq_json_camel_to_snake("managementIpAddress");
    assert_string_equal(s, "management_ip_address");
    free(s);

    struct json *j = parse("{\"node_id\": \"a\", \"vmId\": \"b\", "
                           "\"gone\": null}");
    const char *v = NULL;
    assert_null(lq_json_get_string(j, "nodeId", &v));
    assert_string_equal(v, "a");
    assert_null(lq_json_get_string(j, "vmId", &v));
    assert_string_equal(v, "b");
    assert_null(lq_json_field(j, "gone"));      /* null == absent */
    json_destroy(j);
}

static void
test_integers(void **state)
{
    (void) state;
    struct json *j = parse("{\"a\": 5, \"b\": \"9007199254740993\", "
                           "\"c\": -1, \"d\": \"x\", \"e\": 2.0, \"f\": 2.5,"
                           " \"g\": true}");
    int64_t i64 = 0;
    uint32_t u32 = 0;
    assert_null(lq_json_get_int64(j, "a", &i64));
    assert_int_equal(i64, 5);
    assert_null(lq_json_get_int64(j, "b", &i64));
    assert_true(i64 == 9007199254740993LL);
    assert_null(lq_json_get_uint32(j, "e", &u32));
    assert_int_equal(u32, 2);

    struct lq_error *e = lq_json_get_uint32(j, "c", &u32);
    assert_non_null(e);
    assert_string_equal(e->message, "c: -1 is out of range 0..4294967295");
    lq_error_free(e);
    e = lq_json_get_int64(j, "d", &i64);
    assert_string_equal(e->message, "d: expected an integer, got \"x\"");
    lq_error_free(e);
    e = lq_json_get_int64(j, "f", &i64);
    assert_string_equal(e->message, "f: expected an integer, got number");
    lq_error_free(e);
    e = lq_json_get_string(j, "g", &(const char *) { NULL });
    assert_string_equal(e->message, "g: expected a string, got true");
    lq_error_free(e);

    /* Absent: unchanged, no error. */
    i64 = 77;
    assert_null(lq_json_get_int64(j, "missing", &i64));
    assert_int_equal(i64, 77);
    json_destroy(j);
}

static void
test_writers(void **state)
{
    (void) state;
    struct json *j = json_object_create();
    lq_json_put_uint64(j, "big", UINT64_MAX);
    lq_json_put_uint32(j, "small", 7);
    lq_json_put_bool(j, "ok", true);
    lq_json_put_string(j, "s", NULL);
    char *s = lq_json_to_string(j);
    /* proto3: 64-bit integers as strings, sorted keys. */
    assert_string_equal(s, "{\"big\":\"18446744073709551615\",\"ok\":true,"
                        "\"s\":\"\",\"small\":7}");
    free(s);
    json_destroy(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_camel_and_snake),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
