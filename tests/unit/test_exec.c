/* Unit tests: running commands from argv arrays. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exec.h"

static void
test_exec(void **state)
{
    (void) state;
    struct lq_exec_result r;

    /* Arguments are never re-parsed by a shell. */
    const char *echo[] = { "printf", "%s|", "a b", "$(id)", ";ls", NULL };
    assert_null(lq_exec(echo, NULL, 5000, &r));
    assert_string_equal(r.out, "a b|$(id)|;ls|");
    lq_exec_result_clear(&r);

    const char *env[] = { "LQ_TEST_VAR=hello", NULL };
    const char *printenv[] = { "printenv", "LQ_TEST_VAR", NULL };
    assert_null(lq_exec(printenv, env, 5000, &r));
    assert_string_equal(r.out, "hello\n");
    lq_exec_result_clear(&r);

    const char *fail[] = { "sh", "-c", "echo oops >&2; exit 3", NULL };
    struct lq_error *e = lq_exec(fail, NULL, 5000, &r);
    assert_non_null(e);
    assert_int_equal(r.status, 3);
    assert_string_equal(e->message, "sh exited with status 3: oops");
    lq_error_free(e);
    lq_exec_result_clear(&r);

    const char *slow[] = { "sleep", "10", NULL };
    e = lq_exec(slow, NULL, 200, NULL);
    assert_int_equal(e->code, LQ_DEADLINE_EXCEEDED);
    lq_error_free(e);

    const char *missing[] = { "no-such-program-lq", NULL };
    e = lq_exec(missing, NULL, 1000, NULL);
    assert_non_null(e);
    lq_error_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
