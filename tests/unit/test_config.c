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
#include "util.h"

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
test_dpdk_section(void **state)
{
    (void) state;
    struct lq_config *c = parse_ok("");
    assert_false(c->dpdk.enabled);
    assert_int_equal(CPU_COUNT(&c->dpdk.pmd_cores), 0);
    assert_int_equal(c->dpdk.lcore, 0);
    assert_int_equal(c->dpdk.socket_mem_mb, 1024);
    assert_int_equal(c->dpdk.hugepages.count, 0);
    assert_int_equal(c->dpdk.hugepages.size_kb, 2048);
    assert_string_equal(c->dpdk.vhost_socket_dir,
                        "/var/run/limiquantix/vhost");
    assert_int_equal(c->dpdk.n_extra_eal_args, 0);
    assert_int_equal(c->dpdk.n_interfaces, 0);
    lq_config_free(c);

    c = parse_ok(
        "dpdk:\n"
        "  enabled: true\n"
        "  pmd_cores: \"2-3,5\"\n"
        "  lcore: 1\n"
        "  socket_mem_mb: 2048\n"
        "  hugepages: {count: 4, size: 1G}\n"
        "  vhost_socket_dir: /run/lq/vhost\n"
        "  extra_eal_args: [--no-pci, \"--log-level=pmd.net.*:debug\"]\n"
        "  interfaces:\n"
        "    - {name: phy0, pci: \"03:00.0\"}\n"
        "    - name: xdp1\n"
        "      vdev: net_af_xdp0,iface=eth1\n");
    assert_true(c->dpdk.enabled);
    assert_int_equal(CPU_COUNT(&c->dpdk.pmd_cores), 3);
    assert_true(CPU_ISSET(5, &c->dpdk.pmd_cores));
    assert_int_equal(c->dpdk.lcore, 1);
    assert_int_equal(c->dpdk.socket_mem_mb, 2048);
    assert_int_equal(c->dpdk.hugepages.count, 4);
    assert_int_equal(c->dpdk.hugepages.size_kb, 1024 * 1024);
    assert_string_equal(c->dpdk.vhost_socket_dir, "/run/lq/vhost");
    assert_int_equal(c->dpdk.n_extra_eal_args, 2);
    assert_string_equal(c->dpdk.extra_eal_args[1], "--log-level=pmd.net.*:debug");
    assert_int_equal(c->dpdk.n_interfaces, 2);
    assert_string_equal(c->dpdk.interfaces[0].name, "phy0");
    assert_string_equal(c->dpdk.interfaces[0].pci, "0000:03:00.0");
    assert_null(c->dpdk.interfaces[0].vdev);
    assert_int_equal(c->dpdk.interfaces[0].line, 10);
    assert_string_equal(c->dpdk.interfaces[1].vdev, "net_af_xdp0,iface=eth1");
    assert_null(c->dpdk.interfaces[1].pci);
    assert_int_equal(c->dpdk.interfaces[1].line, 11);
    assert_null(lq_config_validate(c));
    lq_config_free(c);
}

static void
test_dpdk_errors(void **state)
{
    (void) state;
    expect_error("dpdk:\n  pmd_cores: 3-1\n",
                 "node.yaml:2: dpdk.pmd_cores: backwards range 3-1 in "
                 "\"3-1\"");
    expect_error("dpdk:\n  pmd_cores: \"1,1\"\n",
                 "node.yaml:2: dpdk.pmd_cores: CPU 1 is listed twice in "
                 "\"1,1\"");
    expect_error("dpdk:\n  pmd_cores: one\n",
                 "node.yaml:2: dpdk.pmd_cores: expected a CPU number at "
                 "\"one\" in \"one\"");
    expect_error("dpdk:\n  pmd_cores: [1, 2]\n",
                 "node.yaml:2: dpdk.pmd_cores: expected a scalar, got a list");
    expect_error("dpdk:\n  lcore: 5000\n",
                 "node.yaml:2: dpdk.lcore: expected an integer in 0..1023, "
                 "got \"5000\"");
    expect_error("dpdk:\n  socket_mem_mb: -1\n",
                 "node.yaml:2: dpdk.socket_mem_mb: expected an integer in "
                 "0..1048576, got \"-1\"");
    expect_error("dpdk:\n  enabled: true\n  hugepages:\n    size: 4M\n",
                 "node.yaml:4: dpdk.hugepages.size: expected 2M or 1G, got "
                 "\"4M\"");
    expect_error("dpdk:\n  hugepages: {count: 1, sise: 2M}\n",
                 "node.yaml:2: dpdk.hugepages.sise: unknown key");
    expect_error("dpdk:\n  hugepages: 8\n",
                 "node.yaml:2: dpdk.hugepages: expected a mapping, got a "
                 "scalar");
    expect_error("dpdk:\n  vhost_socket_dir: run/vhost\n",
                 "node.yaml:2: dpdk.vhost_socket_dir: expected an absolute "
                 "path, got \"run/vhost\"");
    expect_error("dpdk:\n  extra_eal_args: --no-pci\n",
                 "node.yaml:2: dpdk.extra_eal_args: expected a list, got a "
                 "scalar");
    expect_error("dpdk:\n  extra_eal_args:\n    - --no-pci\n    - \"-a 0000:03:00.0\"\n",
                 "node.yaml:4: dpdk.extra_eal_args[1]: expected one argument "
                 "without whitespace (ovs-vswitchd splits dpdk-extra at "
                 "spaces), got \"-a 0000:03:00.0\"");
    expect_error("dpdk:\n  extra_eal_args: [-l0]\n",
                 "node.yaml:2: dpdk.extra_eal_args[0]: \"-l0\" is set from "
                 "dpdk.lcore, not here");
    expect_error("dpdk:\n  extra_eal_args: [\"--socket-mem=512\"]\n",
                 "node.yaml:2: dpdk.extra_eal_args[0]: \"--socket-mem=512\" is "
                 "set from dpdk.socket_mem_mb, not here");
    expect_error("dpdk:\n  interfaces: {name: a}\n",
                 "node.yaml:2: dpdk.interfaces: expected a list, got a "
                 "mapping");
    expect_error("dpdk:\n  interfaces:\n    - {pci: 03:00.0}\n",
                 "node.yaml:3: dpdk.interfaces[0]: missing required key "
                 "\"name\"");
    expect_error("dpdk:\n  interfaces:\n    - {name: a}\n",
                 "node.yaml:3: dpdk.interfaces[0]: expected exactly one of "
                 "\"pci\" and \"vdev\"");
    expect_error("dpdk:\n  interfaces:\n    - {name: a, pci: 03:00.0, "
                 "vdev: net_null0}\n",
                 "node.yaml:3: dpdk.interfaces[0]: expected exactly one of "
                 "\"pci\" and \"vdev\"");
    expect_error("dpdk:\n  interfaces:\n    - {name: a, pci: 03:00}\n",
                 "node.yaml:3: dpdk.interfaces[0].pci: expected a PCI address "
                 "like 0000:03:00.0, got \"03:00\"");
    expect_error("dpdk:\n  interfaces:\n    - {name: a, vdev: \"net null\"}\n",
                 "node.yaml:3: dpdk.interfaces[0].vdev: expected a DPDK "
                 "virtual device like net_af_xdp0,iface=eth1, got "
                 "\"net null\"");
    expect_error("dpdk:\n  interfaces:\n    - {name: this-name-is-too-long, "
                 "vdev: net_null0}\n",
                 "node.yaml:3: dpdk.interfaces[0].name: expected 1 to 15 "
                 "letters, digits, \"_\", \".\" or \"-\", got "
                 "\"this-name-is-too-long\"");
    expect_error("dpdk:\n  interfaces:\n    - {name: a, vdev: net_null0}\n"
                 "    - {name: a, vdev: net_null1}\n",
                 "node.yaml:4: dpdk.interfaces[1]: name: duplicate interface "
                 "name \"a\"");
    expect_error("dpdk:\n  interfaces:\n    - {name: a, pci: 0000:03:00.0}\n"
                 "    - {name: b, pci: 03:00.0}\n",
                 "node.yaml:4: dpdk.interfaces[1]: pci: \"0000:03:00.0\" is "
                 "already interface \"a\"");
    expect_error("dpdk:\n  interfaces:\n    - {name: a, mac: x}\n",
                 "node.yaml:3: dpdk.interfaces[0].mac: unknown key (expected "
                 "name, pci, vdev or bridge)");

    /* Cross-field rules. */
    struct lq_config *c = parse_ok("dpdk: {enabled: true}\n");
    struct lq_error *e = lq_config_validate(c);
    assert_non_null(e);
    assert_string_equal(e->message, "node.yaml: dpdk.pmd_cores: required "
                        "when dpdk.enabled is true");
    lq_error_free(e);
    lq_config_free(c);

    c = parse_ok("dpdk: {enabled: true, pmd_cores: 0-1}\n");
    e = lq_config_validate(c);
    assert_non_null(e);
    assert_string_equal(e->message, "node.yaml: dpdk.pmd_cores: CPU 0 is "
                        "also dpdk.lcore");
    lq_error_free(e);
    lq_config_free(c);

    /* Disabled: the section is only parsed. */
    c = parse_ok("dpdk: {enabled: false}\n");
    assert_null(lq_config_validate(c));
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

/* hypervisor: image_dirs, state_dir, migration (issue 13). */
static void
test_hypervisor_files_and_migration(void **state)
{
    (void) state;
    struct lq_config *c = parse_ok("");
    assert_int_equal(c->hypervisor.n_image_dirs, 0);
    assert_string_equal(c->hypervisor.state_dir, LQ_DEFAULT_STATE_DIR);
    assert_string_equal(c->hypervisor.migration.scheme, "qemu+tls");
    assert_false(c->hypervisor.migration.tls);
    lq_config_free(c);

    c = parse_ok("hypervisor:\n"
                 "  image_dirs: [/srv/images, /var/lib/iso]\n"
                 "  state_dir: /var/lib/lq\n"
                 "  migration:\n"
                 "    scheme: qemu+ssh\n"
                 "    tls: true\n"
                 "    peers: {node-b: 10.0.0.2, node-c: "
                 "\"qemu+tls://c.example/system\"}\n");
    assert_int_equal(c->hypervisor.n_image_dirs, 2);
    assert_string_equal(c->hypervisor.image_dirs[1], "/var/lib/iso");
    assert_string_equal(c->hypervisor.state_dir, "/var/lib/lq");
    assert_true(c->hypervisor.migration.tls);
    assert_string_equal(lq_kv_list_get(&c->hypervisor.migration.peers,
                                       "node-b"), "10.0.0.2");
    assert_null(lq_config_validate(c));
    lq_config_free(c);

    expect_error("hypervisor:\n  image_dirs: [images]\n",
                 "node.yaml:2: hypervisor.image_dirs[0]: expected an "
                 "absolute directory other than /, got \"images\"");
    expect_error("hypervisor:\n  image_dirs: [\"/\"]\n",
                 "node.yaml:2: hypervisor.image_dirs[0]: expected an "
                 "absolute directory other than /, got \"/\"");
    expect_error("hypervisor:\n  image_dirs: /srv\n",
                 "node.yaml:2: hypervisor.image_dirs: expected a list, got "
                 "a scalar");
    expect_error("hypervisor:\n  state_dir: vms\n",
                 "node.yaml:2: hypervisor.state_dir: expected an absolute "
                 "path, got \"vms\"");

    const char *bad[][2] = {
        { "hypervisor: {migration: {scheme: qemu+ext}}\n",
          "hypervisor.migration.scheme: expected qemu+tls, qemu+ssh or "
          "qemu+tcp" },
        { "hypervisor: {migration: {peers: {\"a b\": h}}}\n",
          "hypervisor.migration.peers: \"a b\" is not a node name" },
        { "hypervisor: {migration: {peers: {b: \"h x\"}}}\n",
          "hypervisor.migration.peers.b: expected a host name" },
        { "hypervisor: {migration: {peers: {b: \"ssh://h\"}}}\n",
          "hypervisor.migration.peers.b: expected a host name" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        c = parse_ok(bad[i][0]);
        struct lq_error *e = lq_config_validate(c);
        assert_non_null(e);
        if (!strstr(e->message, bad[i][1])) {
            fail_msg("%s: got %s", bad[i][1], e->message);
        }
        lq_error_free(e);
        lq_config_free(c);
    }
}

/* hypervisor.bridges and storage.default_pool (issue 14, the seed's
 * bridge NICs and disks by size). */
static void
test_bridges_and_default_pool(void **state)
{
    (void) state;
    struct lq_config *c = parse_ok("");
    assert_int_equal(c->hypervisor.n_bridges, 0);
    assert_null(c->storage.default_pool);
    lq_config_free(c);

    c = parse_ok("hypervisor:\n  bridges: [br0, virbr-1.2]\n"
                 "storage:\n  default_pool: p1\n  pools:\n"
                 "    - {id: p1, backend: local, path: /x}\n");
    assert_int_equal(c->hypervisor.n_bridges, 2);
    assert_string_equal(c->hypervisor.bridges[1], "virbr-1.2");
    assert_string_equal(c->storage.default_pool, "p1");
    assert_null(lq_config_validate(c));
    lq_config_free(c);

    expect_error("hypervisor:\n  bridges: [\"br0 x\"]\n",
                 "node.yaml:2: hypervisor.bridges[0]: expected a bridge name "
                 "(1-15 of [A-Za-z0-9_.-], not starting with . or -), got "
                 "\"br0 x\"");
    expect_error("hypervisor:\n  bridges: [a234567890123456]\n",
                 "node.yaml:2: hypervisor.bridges[0]: expected a bridge name "
                 "(1-15 of [A-Za-z0-9_.-], not starting with . or -), got "
                 "\"a234567890123456\"");
    expect_error("hypervisor:\n  bridges: br0\n",
                 "node.yaml:2: hypervisor.bridges: expected a list, got a "
                 "scalar");

    c = parse_ok("storage: {default_pool: nosuch}\n");
    struct lq_error *e = lq_config_validate(c);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "storage.default_pool: \"nosuch\" "
                           "is not the id of one of storage.pools"));
    lq_error_free(e);
    lq_config_free(c);
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
        cmocka_unit_test(test_bridges_and_default_pool),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_dpdk_section),
        cmocka_unit_test(test_dpdk_errors),
        cmocka_unit_test(test_hypervisor_files_and_migration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
