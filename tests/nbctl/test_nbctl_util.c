/* Unit tests: the pure parts of `lqctl nb` (src/ovn-bridge/nbctl_util.c)
 * and the shape of its command table. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "db-ctl-base.h"
#include "nbctl_cmds.h"
#include "nbctl_util.h"
#include "util.h"

static void
expect_prefix(const char *in, const char *out)
{
    char *s = nbctl_normalize_prefix(in);
    if (!out) {
        if (s) {
            fail_msg("\"%s\" normalised to \"%s\"", in, s);
        }
        return;
    }
    if (!s || strcmp(s, out)) {
        fail_msg("\"%s\": expected \"%s\", got \"%s\"", in, out,
                 s ? s : "(null)");
    }
    free(s);
}

static void
test_normalize_prefix(void **state)
{
    (void) state;
    expect_prefix("10.0.0.0/24", "10.0.0.0/24");
    expect_prefix("10.0.0.1/24", "10.0.0.0/24");       /* Host bits go. */
    expect_prefix("10.1.2.3/8", "10.0.0.0/8");
    expect_prefix("192.168.1.1/32", "192.168.1.1");    /* /32: no length. */
    expect_prefix("192.168.1.1", "192.168.1.1");
    expect_prefix("0.0.0.0/0", "0.0.0.0/0");
    expect_prefix("fd00::1/64", "fd00::/64");
    expect_prefix("fd00:1::5/128", "fd00:1::5");
    expect_prefix("2001:db8::1", "2001:db8::1");
    expect_prefix("::/0", "::/0");
    expect_prefix("FD00::ABCD/120", "fd00::ab00/120");
    expect_prefix("10.0.0.0/33", NULL);
    expect_prefix("fd00::/129", NULL);
    expect_prefix("bogus", NULL);
    expect_prefix("", NULL);
    expect_prefix("discard", NULL);
}

static void
test_route_rank(void **state)
{
    (void) state;
    /* Longer prefixes first; at equal length dst-ip before src-ip. */
    assert_int_equal(nbctl_route_rank(24, NULL), 49);
    assert_int_equal(nbctl_route_rank(24, "dst-ip"), 49);
    assert_int_equal(nbctl_route_rank(24, "src-ip"), 48);
    assert_true(nbctl_route_rank(25, "src-ip") > nbctl_route_rank(24, NULL));
    assert_int_equal(nbctl_route_rank(0, "src-ip"), 0);
    assert_int_equal(nbctl_route_rank(128, NULL), 257);
}

static const struct ctl_command_syntax *
find_syntax(const char *name)
{
    for (const struct ctl_command_syntax *p = nbctl_commands; p->name; p++) {
        if (!strcmp(p->name, name)) {
            return p;
        }
    }
    return NULL;
}

static void
test_command_table(void **state)
{
    (void) state;
    static const char *const issue_commands[] = {
        "show", "ls-list", "lsp-list", "lsp-get-addresses",
        "lsp-get-port-security", "lsp-get-up", "lsp-get-type",
        "lsp-get-options", "lsp-get-dhcpv4-options", "acl-list", "lr-list",
        "lrp-list", "lr-route-list", "lr-nat-list", "lb-list", "ls-lb-list",
        "dhcp-options-list", "dhcp-options-get-options",
    };
    size_t n = 0;

    for (size_t i = 0; i < ARRAY_SIZE(issue_commands); i++) {
        const struct ctl_command_syntax *p = find_syntax(issue_commands[i]);
        if (!p || nbctl_command_support(p) != NBCTL_RUNS) {
            fail_msg("%s is not offered", issue_commands[i]);
        }
    }
    for (const struct ctl_command_syntax *p = nbctl_commands; p->name; p++) {
        n++;
        /* Every command that runs has its prerequisites, every writer is
         * refused, and nothing that writes has a run function. */
        if (p->run) {
            assert_int_equal(p->mode, RO);
            assert_non_null(p->prerequisites);
        }
        if (p->mode == RW) {
            assert_int_equal(nbctl_command_support(p), NBCTL_WRITES);
            assert_null(p->run);
        }
    }
    assert_int_equal(n, 105);   /* Every command of ovn-nbctl 23.03. */
    assert_int_equal(nbctl_command_support(find_syntax("fwd-group-list")),
                     NBCTL_NOT_IMPLEMENTED);
    assert_int_equal(nbctl_command_support(find_syntax("ls-add")),
                     NBCTL_WRITES);
    assert_int_equal(find_syntax("acl-list")->min_args, 1);
    assert_string_equal(find_syntax("lr-route-list")->options,
                        "--route-table=");
}

static void
expect_refusal(const char *const names[], size_t n, const char *wait,
               const char *fragment)
{
    struct ctl_command *commands = calloc(n, sizeof *commands);
    for (size_t i = 0; i < n; i++) {
        commands[i].syntax = find_syntax(names[i]);
        if (!commands[i].syntax) {
            static const struct ctl_command_syntax comment
                = { "comment", 0, 0, "", NULL, NULL, NULL, "", RO };
            static const struct ctl_command_syntax set
                = { "set", 3, 3, "", NULL, NULL, NULL, "", RW };
            commands[i].syntax = !strcmp(names[i], "set") ? &set : &comment;
        }
    }
    char *msg = nbctl_check_commands(commands, n, wait);
    if (!fragment) {
        if (msg) {
            fail_msg("refused: %s", msg);
        }
    } else if (!msg || !strstr(msg, fragment)) {
        fail_msg("expected \"%s\", got \"%s\"", fragment, msg ? msg : "");
    }
    free(msg);
    free(commands);
}

static void
test_check_commands(void **state)
{
    (void) state;
    static const char *const reads[] = { "ls-list", "comment", "show" };
    static const char *const write_second[] = { "ls-list", "ls-del" };
    static const char *const generic_write[] = { "set" };
    static const char *const absent[] = { "copp-list" };
    static const char *const sync[] = { "sync" };

    expect_refusal(reads, 3, NULL, NULL);
    expect_refusal(reads, 3, "sb", NULL);       /* Waits for nothing. */
    expect_refusal(write_second, 2, NULL, "\"ls-del\" would change");
    expect_refusal(generic_write, 1, NULL, "\"set\" would change");
    expect_refusal(absent, 1, NULL, "\"copp-list\" is not implemented");
    expect_refusal(sync, 1, NULL, NULL);
    expect_refusal(sync, 1, "none", NULL);
    expect_refusal(sync, 1, "hv", "\"sync\" with --wait=hv");
}

static void
test_check_option(void **state)
{
    (void) state;
    static const char *const refused[] = {
        "detach", "pidfile", "unixctl", "monitor", "user", "no-chdir",
        "overwrite-pidfile", "no-self-confinement",
    };
    for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
        char *msg = nbctl_check_option(refused[i]);
        assert_non_null(msg);
        assert_non_null(strstr(msg, "no daemon mode"));
        free(msg);
    }
    assert_null(nbctl_check_option("db"));
    assert_null(nbctl_check_option("wait"));
    assert_null(nbctl_check_option("format"));
    assert_null(nbctl_check_option("columns"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_prefix),
        cmocka_unit_test(test_route_rank),
        cmocka_unit_test(test_command_table),
        cmocka_unit_test(test_check_commands),
        cmocka_unit_test(test_check_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
