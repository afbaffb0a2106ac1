/* Unit tests: the error model and Connect code table. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "limiquantix/error.h"

static void
test_code_names_round_trip(void **state)
{
    (void) state;
    for (int i = 0; i < LQ_N_CODES; i++) {
        enum lq_code code;
        assert_true(lq_code_from_name(lq_code_name(i), &code));
        assert_int_equal(code, i);
    }
    enum lq_code code;
    assert_false(lq_code_from_name("no_such_code", &code));
}

static void
test_http_statuses(void **state)
{
    (void) state;
    /* The Connect protocol's mapping, as the issue lists it. */
    assert_int_equal(lq_code_http_status(LQ_INVALID_ARGUMENT), 400);
    assert_int_equal(lq_code_http_status(LQ_NOT_FOUND), 404);
    assert_int_equal(lq_code_http_status(LQ_ALREADY_EXISTS), 409);
    assert_int_equal(lq_code_http_status(LQ_FAILED_PRECONDITION), 400);
    assert_int_equal(lq_code_http_status(LQ_UNIMPLEMENTED), 404);
    assert_int_equal(lq_code_http_status(LQ_UNAUTHENTICATED), 401);
    assert_int_equal(lq_code_http_status(LQ_INTERNAL), 500);
    assert_int_equal(lq_code_http_status(LQ_UNAVAILABLE), 503);
    assert_string_equal(lq_code_name(LQ_INVALID_ARGUMENT), "invalid_argument");
}

static void
test_new_and_prefix(void **state)
{
    (void) state;
    LQ_AUTO_ERROR struct lq_error *e = lq_error_new(LQ_NOT_FOUND,
                                                    "volume %s", "v1");
    assert_int_equal(e->code, LQ_NOT_FOUND);
    assert_string_equal(e->message, "volume v1");
    lq_error_prefix(e, "pool %d", 7);
    assert_string_equal(e->message, "pool 7: volume v1");
    assert_null(lq_error_prefix(NULL, "x"));

    /* LQ_OK is not an error code: it becomes "unknown". */
    LQ_AUTO_ERROR struct lq_error *ok = lq_error_new(LQ_OK, "x");
    assert_int_equal(ok->code, LQ_UNKNOWN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_names_round_trip),
        cmocka_unit_test(test_http_statuses),
        cmocka_unit_test(test_new_and_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
