/* Unit tests: node.yaml parsing, defaults and error messages. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "limiquantix/config.h"

static struct lq_config *
parse_ok(const char *yaml)
{
    struct lq_config *c;
    struct lq_error *e = lq_config_parse("node.yaml", yaml, strlen(yaml), &c);
    if (e) {
        fail_msg("unexpected error: %s", e->message);
    }
    return c;
}

/* Parses 'yaml', expects an error whose message equals 'expected'. */
static void
expect_error(const char *yaml, const char *expected)
{
    struct lq_config *c = (void *) 1;
    struct lq_error *e = lq_config_parse("node.yaml", yaml, strlen(yaml), &c);
    assert_non_null(e);
    assert_null(c);
    assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
    assert_string_equal(e->message, expected);
    lq_error_free(e);
}

static void
test_defaults(void **state)
{
    (void) state;
    struct lq_config *c = parse_ok("");
    assert_string_equal(c->server.listen_address, "0.0.0.0:9090");
    assert_int_equal(c->server.metrics_port, 9091);
    assert_string_equal(c->server.unix_socket, "/run/limiquantix/node.sock");
    assert_int_equal(c->server.max_request_bytes, 4 * 1024 * 1024);
    assert_int_equal(c->control_plane.heartbeat_interval_secs, 30);
    assert_string_equal(c->control_plane.address, "");
    assert_false(c->tls.enabled);
    assert_null(c->node.id);
    assert_int_equal(c->storage.n_pools, 0);
    assert_null(lq_config_validate(c));
    lq_config_free(c);
}

static void
test_full_file(void **state)
{
    (void) state;
    struct lq_config *c = parse_ok(
        "node:\n"
        "  id: 6f1c9a52-0000-4000-8000-000000000001\n"
        "  labels: {rack: r1, zone: \"eu-1\"}\n"
        "server:\n"
        "  listen_address: \"[::1]:9443\"\n"
        "  metrics_port: 0\n"
        "control_plane:\n"
        "  address: https://cp.example:8080\n"
        "  heartbeat_interval_secs: 5\n"
        "tls:\n"
        "  enabled: yes\n"
        "  cert_path: /c.pem\n"
        "  key_path: /k.pem\n"
        "  ca_path: /ca.pem\n"
        "storage:\n"
        "  pools:\n"
        "    - {id: ceph, backend: rbd, ceph_conf: /etc/ceph/ceph.conf,\n"
        "       ceph_user: admin, rbd_pool: rbd}\n"
        "    - id: exports\n"
        "      backend: iscsi\n"
        "      portal: 127.0.0.1:3260\n"
        "      target_iqn: iqn.2026-11.io.limiquantix:t1\n"
        "      export: {backing_pool: ceph}\n"
        "network:\n"
        "  bridge_mappings: {physnet1: br-ex}\n");
    assert_string_equal(c->node.id, "6f1c9a52-0000-4000-8000-000000000001");
    assert_string_equal(lq_kv_list_get(&c->node.labels, "zone"), "eu-1");
    assert_string_equal(c->server.listen_address, "[::1]:9443");
    assert_int_equal(c->server.metrics_port, 0);
    assert_int_equal(c->control_plane.heartbeat_interval_secs, 5);
    assert_true(c->tls.enabled);
    assert_int_equal(c->storage.n_pools, 2);
    assert_string_equal(c->storage.pools[0].backend, "rbd");
    assert_string_equal(lq_kv_list_get(&c->storage.pools[0].params,
                                       "rbd_pool"), "rbd");
    assert_string_equal(lq_kv_list_get(&c->storage.pools[1].params,
                                       "export.backing_pool"), "ceph");
    assert_int_equal(c->storage.pools[1].line, 19);
    assert_string_equal(lq_kv_list_get(&c->network.bridge_mappings,
                                       "physnet1"), "br-ex");
    assert_null(lq_config_validate(c));
    lq_config_free(c);
}

static void
test_errors_name_file_line_key(void **state)
{
    (void) state;
    expect_error("server:\n  listen_adress: 1.2.3.4:1\n",
                 "node.yaml:2: server.listen_adress: unknown key");
    expect_error("nodes:\n  id: x\n", "node.yaml:1: nodes: unknown key");
    expect_error("server:\n  metrics_port: lots\n",
                 "node.yaml:2: server.metrics_port: expected an integer in "
                 "0..65535, got \"lots\"");
    expect_error("server:\n  metrics_port: 70000\n",
                 "node.yaml:2: server.metrics_port: expected an integer in "
                 "0..65535, got \"70000\"");
    expect_error("tls:\n  enabled: maybe\n",
                 "node.yaml:2: tls.enabled: expected true or false, got "
                 "\"maybe\"");
    expect_error("server: [1, 2]\n",
                 "node.yaml:1: server: expected a mapping, got a list");
    expect_error("node:\n  labels:\n    a: [x]\n",
                 "node.yaml:3: node.labels.a: expected a scalar value, got "
                 "a list");
    expect_error("server:\n  metrics_port: 1\n  metrics_port: 2\n",
                 "node.yaml:3: server: duplicate key \"metrics_port\"");
    expect_error("server: {listen_address: [\n",
                 "node.yaml:2: invalid YAML: did not find expected node "
                 "content");
}

static void
test_pool_errors(void **state)
{
    (void) state;
    expect_error("storage:\n  pools:\n    - id: a\n      backend: zfs\n",
                 "node.yaml:3: storage.pools[0]: backend: unknown backend "
                 "\"zfs\" (expected rbd, lvm-thin, nfs, iscsi or local)");
    expect_error("storage:\n  pools:\n    - id: a\n      backend: local\n",
                 "node.yaml:3: storage.pools[0]: missing required key "
                 "\"path\" for a local pool");
    expect_error("storage:\n  pools:\n    - {id: a, backend: local, path: /x,"
                 " pth: /y}\n",
                 "node.yaml:3: storage.pools[0]: pth: unknown key for a "
                 "local pool");
    expect_error("storage:\n  pools:\n    - {id: a, backend: local, path: /x}"
                 "\n    - {id: a, backend: local, path: /y}\n",
                 "node.yaml:4: storage.pools[1]: id: duplicate pool id "
                 "\"a\"");
    expect_error("storage:\n  pools:\n    - {backend: local, path: /x}\n",
                 "node.yaml:3: storage.pools[0]: missing required key "
                 "\"id\"");
}

static void
test_validate(void **state)
{
    (void) state;
    struct lq_config *c = parse_ok("tls: {enabled: true, cert_path: /c}\n");
    struct lq_error *e = lq_config_validate(c);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "tls: enabled needs cert_path, "
                           "key_path and ca_path"));
    lq_error_free(e);
    lq_config_free(c);

    c = parse_ok("control_plane: {address: \"cp:8080\"}\n");
    e = lq_config_validate(c);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "control_plane.address: expected an "
                           "http:// or https:// URL"));
    lq_error_free(e);
    lq_config_free(c);
}

static void
test_missing_file(void **state)
{
    (void) state;
    struct lq_config *c;
    struct lq_error *e = lq_config_load("/nonexistent/node.yaml", &c);
    assert_non_null(e);
    assert_null(c);
    assert_string_equal(e->message, "/nonexistent/node.yaml: cannot open "
                        "config file: No such file or directory");
    lq_error_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_errors_name_file_line_key),
        cmocka_unit_test(test_pool_errors),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
