/* Unit tests: procfs parsers behind GetNodeInfo, and a live read. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "limiquantix/node.h"
#include "jsonx.h"
#include "util.h"
#include "rpc.h"
#include "pbjson.h"

/* Two sockets, two cores each, hyper-threaded: 8 logical CPUs. */
static const char cpuinfo_2s2c2t[] =
    "processor\t: 0\nmodel name\t: Test CPU @ 2.00GHz\nphysical id\t: 0\n"
    "core id\t\t: 0\ncpu MHz\t\t: 2000.123\nflags\t\t: fpu vmx sse2\n\n"
    "processor\t: 1\nphysical id\t: 0\ncore id\t\t: 0\n\n"
    "processor\t: 2\nphysical id\t: 0\ncore id\t\t: 1\n\n"
    "processor\t: 3\nphysical id\t: 0\ncore id\t\t: 1\n\n"
    "processor\t: 4\nphysical id\t: 1\ncore id\t\t: 0\n\n"
    "processor\t: 5\nphysical id\t: 1\ncore id\t\t: 0\n\n"
    "processor\t: 6\nphysical id\t: 1\ncore id\t\t: 1\n\n"
    "processor\t: 7\nphysical id\t: 1\ncore id\t\t: 1\n\n";

static void
test_cpuinfo_topology(void **state)
{
    (void) state;
    struct lq_cpu_info cpu;
    assert_null(lq_cpuinfo_parse(cpuinfo_2s2c2t, &cpu));
    assert_string_equal(cpu.model, "Test CPU @ 2.00GHz");
    assert_int_equal(cpu.total_threads, 8);
    assert_int_equal(cpu.sockets, 2);
    assert_int_equal(cpu.cores_per_socket, 2);
    assert_int_equal(cpu.threads_per_core, 2);
    assert_int_equal(cpu.frequency_mhz, 2000);
    assert_int_equal(cpu.n_features, 3);
    assert_string_equal(cpu.features[1], "vmx");
    lq_cpu_info_clear(&cpu);
}

static void
test_cpuinfo_without_topology(void **state)
{
    (void) state;
    struct lq_cpu_info cpu;
    assert_null(lq_cpuinfo_parse("processor : 0\nprocessor : 1\n", &cpu));
    assert_int_equal(cpu.sockets, 1);
    assert_int_equal(cpu.cores_per_socket, 2);
    assert_int_equal(cpu.threads_per_core, 1);
    assert_string_equal(cpu.model, "unknown");
    lq_cpu_info_clear(&cpu);

    struct lq_error *e = lq_cpuinfo_parse("garbage\n", &cpu);
    assert_non_null(e);
    lq_error_free(e);
}

static void
test_meminfo(void **state)
{
    (void) state;
    struct lq_memory_info m;
    assert_null(lq_meminfo_parse("MemTotal:       2048 kB\n"
                                 "MemFree:         100 kB\n"
                                 "MemAvailable:    512 kB\n", &m));
    assert_int_equal(m.total_bytes, 2048 * 1024);
    assert_int_equal(m.available_bytes, 512 * 1024);
    assert_int_equal(m.used_bytes, 1536 * 1024);
    struct lq_error *e = lq_meminfo_parse("MemTotal: 1 kB\n", &m);
    assert_non_null(e);
    lq_error_free(e);
}

static void
test_machine_id(void **state)
{
    (void) state;
    char uuid[37];
    assert_true(lq_machine_id_to_uuid("3D1219C7C4C5404AAA1F6D2A48ADFDA4",
                                      uuid));
    assert_string_equal(uuid, "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4");
    assert_false(lq_machine_id_to_uuid("3d1219c7", uuid));
    assert_false(lq_machine_id_to_uuid("zd1219c7c4c5404aaa1f6d2a48adfda4",
                                       uuid));
}

/* Reads this very host and checks it against what the kernel says. */
static void
test_live_host(void **state)
{
    (void) state;
    struct lq_config *c = lq_config_new_default();
    struct lq_node *node;
    struct lq_node_info *info;

    assert_null(lq_node_create(c, &node));
    assert_null(lq_node_get_info(node, &info));
    assert_true(info->cpu.total_threads >= 1);
    assert_true(info->memory.total_bytes > 0);
    assert_true(info->memory.available_bytes <= info->memory.total_bytes);

    bool saw_lo = false;
    for (size_t i = 0; i < info->n_nics; i++) {
        if (!strcmp(info->nics[i].name, "lo")) {
            saw_lo = true;
            bool has_127 = false;
            for (size_t j = 0; j < info->nics[i].n_ip_addresses; j++) {
                has_127 |= !strcmp(info->nics[i].ip_addresses[j],
                                   "127.0.0.1");
            }
            assert_true(has_127);
        }
    }
    assert_true(saw_lo);
    assert_non_null(info->management_ip);
    assert_int_equal(strlen(info->node_id), 36);
    lq_node_info_free(info);

    struct lq_node_usage u;
    assert_null(lq_node_get_usage(node, &u));
    assert_true(u.memory_total_mib > 0);
    assert_true(u.load_1m >= 0);

    struct lq_health h;
    /* Not checked yet: not healthy, and says why. */
    assert_null(lq_node_health_check(node, &h));
    assert_false(h.healthy);
    assert_int_equal(h.n_problems, 1);
    assert_non_null(strstr(h.problems[0], "not been checked"));
    assert_int_equal(h.checked_unix, 0);
    assert_string_equal(h.hypervisor, "libvirt");
    lq_health_clear(&h);

    /* A check that found a problem, then one that found none; the running
     * VM count goes to the heartbeat's usage. */
    char **problems = xcalloc(1, sizeof *problems);
    problems[0] = xstrdup("libvirt: cannot connect");
    lq_node_set_health(node, problems, 1, 3);
    assert_null(lq_node_health_check(node, &h));
    assert_false(h.healthy);
    assert_string_equal(h.problems[0], "libvirt: cannot connect");
    assert_true(h.checked_unix > 0);
    lq_health_clear(&h);
    assert_null(lq_node_get_usage(node, &u));
    assert_int_equal(u.running_vm_count, 3);
    lq_node_set_health(node, NULL, 0, 0);
    assert_null(lq_node_health_check(node, &h));
    assert_true(h.healthy);
    assert_int_equal(h.n_problems, 0);
    lq_health_clear(&h);

    lq_node_destroy(node);
    lq_config_free(c);
}

/* An integer field of a proto3 JSON object: absent means 0. */
static long long int
int_field(const struct json *obj, const char *name)
{
    const struct json *v = lq_json_field(obj, name);
    return v ? json_integer(v) : 0;
}

/* GetNodeInfo through the RPC table, in-process, for a node.yaml: its
 * typed reply as proto3 JSON. */
static struct json *
node_info_json(const char *yaml)
{
    struct lq_config *c;
    struct lq_node *node;
    struct lq_rpc_registry rpc;
    struct lq_rpc_msg request = LQ_RPC_MSG_INIT, response = LQ_RPC_MSG_INIT;

    assert_null(lq_config_parse("node.yaml", yaml, strlen(yaml), &c));
    assert_null(lq_node_create(c, &node));
    lq_rpc_registry_init(&rpc);
    lq_rpc_node_register(&rpc);
    const struct lq_rpc_method *m = lq_rpc_find(
        &rpc, "/limiquantix.node.v1.NodeDaemonService/GetNodeInfo");
    assert_non_null(m);
    assert_null(lq_rpc_decode(m, false, "{}", 2, &request));
    assert_non_null(request.pb);
    assert_null(lq_rpc_call(m, node, &request, &response));
    assert_non_null(response.pb);
    struct json *j = lq_pb_to_json(response.pb);
    lq_rpc_msg_clear(&request);
    lq_rpc_msg_clear(&response);
    lq_rpc_registry_destroy(&rpc);
    lq_node_destroy(node);
    lq_config_free(c);
    return j;
}

static void
test_datapath_and_hugepages(void **state)
{
    (void) state;
    struct lq_hugepages hp;
    struct json *r;

    /* Every page size of this host, as sysfs says.  The counts can only be
     * compared if nobody changes them meanwhile (a DPDK test of another
     * `meson test` run may): read before and after, retry until equal. */
    for (int try = 0; ; try++) {
        struct lq_hugepages before;
        bool same;

        assert_null(lq_hugepages_read(NULL, &before));
        r = node_info_json("");
        assert_null(lq_hugepages_read(NULL, &hp));
        same = before.n == hp.n;
        for (size_t i = 0; same && i < hp.n; i++) {
            same = before.pools[i].total == hp.pools[i].total;
        }
        lq_hugepages_clear(&before);
        if (same || try == 20) {
            break;
        }
        lq_hugepages_clear(&hp);
        json_destroy(r);
        usleep(100 * 1000);
    }
    assert_string_equal(json_string(lq_json_field(r, "datapath")), "kernel");
    assert_null(lq_json_field(r, "pmdCores"));
    const struct json *pages = lq_json_field(r, "hugepages");
    assert_non_null(pages);
    assert_int_equal(json_array(pages)->n, hp.n);
    for (size_t i = 0; i < hp.n; i++) {
        const struct json *p = json_array(pages)->elems[i];
        assert_int_equal(int_field(p, "pageSizeKib"), hp.pools[i].size_kb);
        assert_int_equal(int_field(p, "total"), hp.pools[i].total);
        assert_true(int_field(p, "free") <= int_field(p, "total"));
    }
    lq_hugepages_clear(&hp);
    json_destroy(r);

    r = node_info_json("network: {datapath_type: netdev}\n");
    assert_string_equal(json_string(lq_json_field(r, "datapath")),
                        "userspace");
    json_destroy(r);

    /* Configured but disabled: not reported. */
    r = node_info_json("dpdk: {enabled: false, pmd_cores: 1}\n");
    assert_string_equal(json_string(lq_json_field(r, "datapath")), "kernel");
    assert_null(lq_json_field(r, "pmdCores"));
    json_destroy(r);

    r = node_info_json("network: {datapath_type: netdev}\n"
                       "dpdk: {enabled: true, pmd_cores: \"2-3,5\"}\n");
    assert_string_equal(json_string(lq_json_field(r, "datapath")), "dpdk");
    const struct json *cores = lq_json_field(r, "pmdCores");
    assert_non_null(cores);
    assert_int_equal(json_array(cores)->n, 3);
    assert_int_equal(json_integer(json_array(cores)->elems[0]), 2);
    assert_int_equal(json_integer(json_array(cores)->elems[2]), 5);
    json_destroy(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpuinfo_topology),
        cmocka_unit_test(test_datapath_and_hugepages),
        cmocka_unit_test(test_cpuinfo_without_topology),
        cmocka_unit_test(test_meminfo),
        cmocka_unit_test(test_machine_id),
        cmocka_unit_test(test_live_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
