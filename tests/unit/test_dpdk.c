/* Unit tests: the DPDK host checks against a fake sysfs tree.
 *
 * Each test builds ROOT/sys/... (and a fake ovs-vswitchd-dpdk script) in a
 * temporary directory and points the checks at it, so CPU presence,
 * hugepage reservation and restore, PCI bindings and the OVS build are
 * exercised without touching the machine. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "limiquantix/config.h"
#include "limiquantix/dpdk.h"
#include "exec.h"
#include "util.h"

#define HP2M "/sys/kernel/mm/hugepages/hugepages-2048kB"
#define HP1G "/sys/kernel/mm/hugepages/hugepages-1048576kB"

/* Creates ROOT/REL with 'text' (parents too); mode 0755 if 'exec'. */
static void
put(const char *root, const char *rel, const char *text, bool exec)
{
    char *path = xasprintf("%s%s", root, rel);
    char *cmd_argv[] = { "mkdir", "-p", NULL, NULL };
    char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    cmd_argv[2] = dir;
    assert_null(lq_exec((const char *const *) cmd_argv, NULL, 5000, NULL));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    if (exec) {
        chmod(path, 0755);
    }
    free(dir);
    free(path);
}

static void
link_to(const char *root, const char *rel, const char *target)
{
    char *path = xasprintf("%s%s", root, rel);
    char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    const char *mk[] = { "mkdir", "-p", dir, NULL };
    assert_null(lq_exec(mk, NULL, 5000, NULL));
    unlink(path);
    assert_int_equal(symlink(target, path), 0);
    free(dir);
    free(path);
}

static char *
get(const char *root, const char *rel)
{
    char *path = xasprintf("%s%s", root, rel);
    FILE *f = fopen(path, "r");
    char buf[64] = "";
    assert_non_null(f);
    if (!fgets(buf, sizeof buf, f)) {
        buf[0] = '\0';
    }
    fclose(f);
    free(path);
    buf[strcspn(buf, "\n")] = '\0';
    return xstrdup(buf);
}

/* A host with CPUs 0-3, 8 of 8 free 2M pages, no 1G pages, three PCI
 * devices (vfio-pci, ixgbe, unbound) and OVS's DPDK build. */
static int
setup_root(void **state)
{
    char tmpl[] = "/tmp/lq-test-dpdk-XXXXXX";
    char *root = xstrdup(mkdtemp(tmpl));

    put(root, "/sys/devices/system/cpu/online", "0-3\n", false);
    put(root, HP2M "/nr_hugepages", "8\n", false);
    put(root, HP2M "/free_hugepages", "8\n", false);
    put(root, HP1G "/nr_hugepages", "0\n", false);
    put(root, HP1G "/free_hugepages", "0\n", false);
    put(root, "/sys/bus/pci/drivers/vfio-pci/bind", "", false);
    link_to(root, "/sys/bus/pci/devices/0000:03:00.0/driver",
            "../../../bus/pci/drivers/vfio-pci");
    link_to(root, "/sys/bus/pci/devices/0000:04:00.0/driver",
            "../../../bus/pci/drivers/ixgbe");
    put(root, "/sys/bus/pci/devices/0000:05:00.0/vendor", "0x8086\n", false);
    put(root, LQ_OVS_VSWITCHD_DPDK,
        "#!/bin/sh\necho 'ovs-vswitchd (Open vSwitch) 3.1.0'\n"
        "echo 'DPDK 22.11.1'\n", true);
    *state = root;
    return 0;
}

static int
teardown_root(void **state)
{
    const char *rm[] = { "rm", "-rf", *state, NULL };
    assert_null(lq_exec(rm, NULL, 5000, NULL));
    free(*state);
    return 0;
}

static void
assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle)) {
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
    }
}

static void
expect_cpu_list_error(const char *text, const char *reason)
{
    cpu_set_t set;
    struct lq_error *e = lq_cpu_list_parse(text, &set);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
    assert_string_equal(e->message, reason);
    lq_error_free(e);
}

static void
test_cpu_lists(void **state)
{
    (void) state;
    cpu_set_t set;
    char *s;

    assert_null(lq_cpu_list_parse("1", &set));
    assert_int_equal(CPU_COUNT(&set), 1);
    assert_true(CPU_ISSET(1, &set));

    assert_null(lq_cpu_list_parse(" 5,2-3\n", &set));
    assert_int_equal(CPU_COUNT(&set), 3);
    s = lq_cpu_list_format(&set);
    assert_string_equal(s, "2-3,5");
    free(s);
    s = lq_cpu_list_hex_mask(&set);
    assert_string_equal(s, "0x2c");
    free(s);

    assert_null(lq_cpu_list_parse("0-7,64", &set));
    s = lq_cpu_list_hex_mask(&set);
    assert_string_equal(s, "0x100000000000000ff");
    free(s);
    s = lq_cpu_list_format(&set);
    assert_string_equal(s, "0-7,64");
    free(s);

    CPU_ZERO(&set);
    s = lq_cpu_list_format(&set);
    assert_string_equal(s, "");
    free(s);
    s = lq_cpu_list_hex_mask(&set);
    assert_string_equal(s, "0x0");
    free(s);

    expect_cpu_list_error("", "empty CPU list");
    expect_cpu_list_error(" \n", "empty CPU list");
    expect_cpu_list_error("-1", "expected a CPU number at \"-1\" in \"-1\"");
    expect_cpu_list_error("1,,2", "expected a CPU number at \",2\" in "
                          "\"1,,2\"");
    expect_cpu_list_error("1-", "expected a CPU number after \"-\" in "
                          "\"1-\"");
    expect_cpu_list_error("3-2", "backwards range 3-2 in \"3-2\"");
    expect_cpu_list_error("1,0-2", "CPU 1 is listed twice in \"1,0-2\"");
    expect_cpu_list_error("4096", "CPU 4096 is out of range (at most 1023) "
                          "in \"4096\"");
    expect_cpu_list_error("99999999999999999999", "CPU 1000000 is out of "
                          "range (at most 1023) in \"99999999999999999999\"");
    expect_cpu_list_error("1 2", "unexpected \" \" in \"1 2\" (expected a "
                          "list like \"2-3,5\")");
    expect_cpu_list_error("0x3", "unexpected \"x\" in \"0x3\" (expected a "
                          "list like \"2-3,5\")");
}

static void
test_pci_addresses(void **state)
{
    (void) state;
    char out[LQ_PCI_ADDR_LEN + 1];

    assert_true(lq_pci_addr_normalize("03:00.0", out));
    assert_string_equal(out, "0000:03:00.0");
    assert_true(lq_pci_addr_normalize("0001:AF:1f.7", out));
    assert_string_equal(out, "0001:af:1f.7");
    assert_false(lq_pci_addr_normalize("0000:03:20.0", out));  /* dev > 1f */
    assert_false(lq_pci_addr_normalize("0000:03:00.8", out));  /* fn > 7 */
    assert_false(lq_pci_addr_normalize("0000-03:00.0", out));
    assert_false(lq_pci_addr_normalize("3:00.0", out));
    assert_false(lq_pci_addr_normalize("", out));
    assert_false(lq_pci_addr_normalize("0000:0g:00.0", out));
}

static void
test_hugepages_read(void **state)
{
    const char *root = *state;
    struct lq_hugepages hp;

    put(root, HP2M "/free_hugepages", "6\n", false);
    assert_null(lq_hugepages_read(root, &hp));
    assert_int_equal(hp.n, 2);
    assert_int_equal(hp.pools[0].size_kb, 2048);     /* Sorted by size. */
    assert_int_equal(hp.pools[0].total, 8);
    assert_int_equal(hp.pools[0].free, 6);
    assert_int_equal(hp.pools[1].size_kb, 1048576);
    assert_int_equal(hp.pools[1].total, 0);
    assert_non_null(lq_hugepages_find(&hp, 1048576));
    assert_null(lq_hugepages_find(&hp, 16384));
    lq_hugepages_clear(&hp);

    /* A kernel without hugetlb: nothing, not an error. */
    char *none = xasprintf("%s/none", root);
    assert_null(lq_hugepages_read(none, &hp));
    assert_int_equal(hp.n, 0);
    free(none);

    put(root, HP2M "/free_hugepages", "lots\n", false);
    struct lq_error *e = lq_hugepages_read(root, &hp);
    assert_non_null(e);
    assert_contains(e->message, "free_hugepages: not a number");
    lq_error_free(e);
    assert_int_equal(hp.n, 0);

    char *name = lq_hugepage_size_name(2048);
    assert_string_equal(name, "2M");
    free(name);
    name = lq_hugepage_size_name(1048576);
    assert_string_equal(name, "1G");
    free(name);
    name = lq_hugepage_size_name(16384);
    assert_string_equal(name, "16384kB");
    free(name);
}

static void
test_hugepages_reserve(void **state)
{
    const char *root = *state;
    uint64_t prev = 99;
    char *s;

    /* Enough already: never lowered, nothing written. */
    assert_null(lq_hugepages_reserve(root, 2048, 4, &prev));
    assert_int_equal(prev, 8);
    s = get(root, HP2M "/nr_hugepages");
    assert_string_equal(s, "8");
    free(s);

    assert_null(lq_hugepages_reserve(root, 2048, 16, &prev));
    assert_int_equal(prev, 8);
    s = get(root, HP2M "/nr_hugepages");
    assert_string_equal(s, "16");
    free(s);

    assert_null(lq_hugepages_set_total(root, 2048, prev));
    s = get(root, HP2M "/nr_hugepages");
    assert_string_equal(s, "8");
    free(s);

    /* A size the kernel does not have. */
    struct lq_error *e = lq_hugepages_reserve(root, 16384, 1, NULL);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_FAILED_PRECONDITION);
    assert_string_equal(e->message, "hugepages not reservable: this kernel "
                        "has no 16384kB hugepages");
    lq_error_free(e);

    /* The kernel keeps fewer than asked (here: a file that reads back
     * nothing): the old value is written back and the error says so. */
    char *real = xasprintf("%s" HP1G "/nr_hugepages", root);
    unlink(real);
    assert_int_equal(symlink("/dev/null", real), 0);
    e = lq_hugepages_reserve(root, 1048576, 2, NULL);
    assert_non_null(e);
    assert_contains(e->message, "hugepages not reservable");
    lq_error_free(e);
    unlink(real);
    free(real);
    put(root, HP1G "/nr_hugepages", "0\n", false);
}

static void
test_cores(void **state)
{
    const char *root = *state;
    cpu_set_t pmd, daemon;
    char *online;
    struct lq_error *e;

    lq_error_free(lq_cpu_list_parse("2-3", &pmd));
    lq_error_free(lq_cpu_list_parse("0-1", &daemon));
    assert_null(lq_dpdk_check_cores(root, &pmd, 0, &daemon, &online));
    assert_string_equal(online, "0-3");
    free(online);
    assert_null(lq_dpdk_check_cores(root, &pmd, 1, NULL, NULL));

    lq_error_free(lq_cpu_list_parse("3,6-7", &pmd));
    e = lq_dpdk_check_cores(root, &pmd, 9, &daemon, NULL);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_FAILED_PRECONDITION);
    assert_string_equal(e->message, "dpdk.pmd_cores: CPU 6-7 not present "
                        "(online CPUs: 0-3); dpdk.lcore: CPU 9 not present "
                        "(online CPUs: 0-3)");
    lq_error_free(e);

    lq_error_free(lq_cpu_list_parse("1-2", &pmd));
    e = lq_dpdk_check_cores(root, &pmd, 2, &daemon, NULL);
    assert_non_null(e);
    assert_string_equal(e->message, "dpdk.pmd_cores: CPU 2 is also "
                        "dpdk.lcore (a PMD core must be its own); "
                        "dpdk.pmd_cores: CPU 1 overlaps the daemon's CPU "
                        "affinity (0-1): a PMD thread spins on its core; "
                        "isolate the PMD cores (isolcpus=, or pin the daemon "
                        "elsewhere with taskset/CPUAffinity=)");
    lq_error_free(e);

    char *none = xasprintf("%s/none", root);
    e = lq_dpdk_check_cores(none, &pmd, 0, NULL, NULL);
    assert_non_null(e);
    assert_contains(e->message, "cannot read");
    lq_error_free(e);
    free(none);

    put(root, "/sys/devices/system/cpu/online", "garbage\n", false);
    e = lq_dpdk_check_cores(root, &pmd, 0, NULL, NULL);
    assert_non_null(e);
    assert_contains(e->message, "/sys/devices/system/cpu/online: expected a "
                    "CPU number");
    lq_error_free(e);
}

static void
test_pci(void **state)
{
    const char *root = *state;
    char *driver;
    struct lq_error *e;

    assert_null(lq_dpdk_check_pci(root, "03:00.0", &driver));
    assert_string_equal(driver, "vfio-pci");
    free(driver);

    e = lq_dpdk_check_pci(root, "0000:04:00.0", &driver);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_FAILED_PRECONDITION);
    assert_string_equal(e->message, "PCI device 0000:04:00.0 is bound to "
                        "ixgbe, not to vfio-pci, uio_pci_generic or igb_uio "
                        "(rebind it with dpdk-devbind.py --bind=vfio-pci "
                        "0000:04:00.0)");
    assert_string_equal(driver, "ixgbe");
    free(driver);
    lq_error_free(e);

    e = lq_dpdk_check_pci(root, "0000:05:00.0", &driver);
    assert_non_null(e);
    assert_string_equal(e->message, "PCI device 0000:05:00.0 is not bound "
                        "to any driver (bind it with dpdk-devbind.py "
                        "--bind=vfio-pci 0000:05:00.0)");
    assert_null(driver);
    lq_error_free(e);

    e = lq_dpdk_check_pci(root, "0000:06:00.0", NULL);
    assert_non_null(e);
    assert_string_equal(e->message, "PCI device 0000:06:00.0 not found");
    lq_error_free(e);

    e = lq_dpdk_check_pci(root, "bogus", NULL);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
    lq_error_free(e);

    assert_true(lq_dpdk_driver_is_usable("uio_pci_generic"));
    assert_true(lq_dpdk_driver_is_usable("igb_uio"));
    assert_false(lq_dpdk_driver_is_usable("virtio-pci"));
    assert_false(lq_dpdk_driver_is_usable(NULL));
}

static void
test_ovs(void **state)
{
    const char *root = *state;
    char *version;
    struct lq_error *e;

    assert_null(lq_dpdk_check_ovs(root, LQ_OVS_VSWITCHD_DPDK, &version));
    assert_string_equal(version, "ovs-vswitchd (Open vSwitch) 3.1.0; "
                        "DPDK 22.11.1");
    free(version);

    /* The plain build answers without DPDK. */
    put(root, "/usr/sbin/ovs-vswitchd",
        "#!/bin/sh\necho 'ovs-vswitchd (Open vSwitch) 3.1.0'\n", true);
    e = lq_dpdk_check_ovs(root, "/usr/sbin/ovs-vswitchd", &version);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_FAILED_PRECONDITION);
    assert_contains(e->message, "ovs-vswitchd is not the DPDK build: \"");
    assert_contains(e->message, "/usr/sbin/ovs-vswitchd --version\" does not "
                    "mention DPDK");
    assert_null(version);
    lq_error_free(e);

    e = lq_dpdk_check_ovs(root, "/usr/lib/nothing/ovs-vswitchd-dpdk", NULL);
    assert_non_null(e);
    assert_contains(e->message, "ovs-vswitchd is not the DPDK build: ");
    assert_contains(e->message, "/usr/lib/nothing/ovs-vswitchd-dpdk not "
                    "found (install openvswitch-switch-dpdk)");
    lq_error_free(e);

    /* A binary that fails. */
    put(root, "/usr/sbin/broken", "#!/bin/sh\necho boom >&2\nexit 3\n", true);
    e = lq_dpdk_check_ovs(root, "/usr/sbin/broken", NULL);
    assert_non_null(e);
    assert_contains(e->message, "ovs-vswitchd: ");
    assert_contains(e->message, "exited with status 3: boom");
    lq_error_free(e);
}

static struct lq_config *
config(const char *yaml)
{
    struct lq_config *c;
    struct lq_error *e = lq_config_parse("node.yaml", yaml, strlen(yaml), &c);
    if (e) {
        fail_msg("config: %s", e->message);
    }
    return c;
}

static void
test_check_host(void **state)
{
    const char *root = *state;
    cpu_set_t daemon;
    struct lq_dpdk_report r;
    struct lq_error *e;
    char *s;

    lq_error_free(lq_cpu_list_parse("0", &daemon));
    struct lq_dpdk_check_options o = {
        .root = root,
        .daemon_cpus = &daemon,
        .ovs_vswitchd = LQ_OVS_VSWITCHD_DPDK,
        .reserve_hugepages = true,
    };

    /* Everything there; 12 pages asked for, 8 reserved: raised to 12. */
    struct lq_config *c = config(
        "dpdk:\n  enabled: true\n  pmd_cores: 2-3\n  lcore: 1\n"
        "  socket_mem_mb: 16\n  hugepages: {count: 12, size: 2M}\n"
        "  interfaces:\n    - {name: p0, pci: 03:00.0}\n"
        "    - {name: v0, vdev: net_null0}\n");
    assert_null(lq_dpdk_check_host(c, &o, &r));
    assert_string_equal(r.online_cpus, "0-3");
    assert_true(r.reserved);
    assert_int_equal(r.prev_total, 8);
    assert_int_equal(r.n_drivers, 2);
    assert_string_equal(r.drivers[0], "vfio-pci");
    assert_null(r.drivers[1]);
    assert_contains(r.ovs_version, "DPDK 22.11.1");
    assert_int_equal(lq_hugepages_find(&r.hugepages, 2048)->total, 12);
    s = get(root, HP2M "/nr_hugepages");
    assert_string_equal(s, "12");
    free(s);
    lq_dpdk_report_clear(&r);
    assert_null(lq_hugepages_set_total(root, 2048, 8));
    lq_config_free(c);

    /* Refusal: every problem in one message, and nothing changed (the
     * reservation of 12 pages is not even tried). */
    c = config(
        "dpdk:\n  enabled: true\n  pmd_cores: 0,5\n  lcore: 1\n"
        "  hugepages: {count: 12}\n"
        "  interfaces:\n    - {name: p0, pci: 04:00.0}\n");
    o.ovs_vswitchd = "/usr/sbin/ovs-vswitchd";
    e = lq_dpdk_check_host(c, &o, &r);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_FAILED_PRECONDITION);
    assert_contains(e->message, "dpdk: dpdk.pmd_cores: CPU 5 not present "
                    "(online CPUs: 0-3); dpdk.pmd_cores: CPU 0 overlaps the "
                    "daemon's CPU affinity (0)");
    assert_contains(e->message, "; dpdk.interfaces[0] (p0): PCI device "
                    "0000:04:00.0 is bound to ixgbe");
    assert_contains(e->message, "; ovs-vswitchd is not the DPDK build");
    assert_false(r.reserved);
    s = get(root, HP2M "/nr_hugepages");
    assert_string_equal(s, "8");
    free(s);
    lq_error_free(e);
    lq_dpdk_report_clear(&r);
    lq_config_free(c);
    o.ovs_vswitchd = NULL;

    /* Reserved, but socket_mem_mb does not fit in what is free (the fake
     * kernel does not raise free_hugepages): given back. */
    c = config("dpdk:\n  pmd_cores: 2\n  socket_mem_mb: 1024\n"
               "  hugepages: {count: 10}\n");
    e = lq_dpdk_check_host(c, &o, &r);
    assert_non_null(e);
    assert_string_equal(e->message, "dpdk: hugepages: dpdk.socket_mem_mb is "
                        "1024 MB but only 16 MB of 2M hugepages are free");
    assert_false(r.reserved);
    s = get(root, HP2M "/nr_hugepages");
    assert_string_equal(s, "8");
    free(s);
    lq_error_free(e);
    lq_dpdk_report_clear(&r);
    lq_config_free(c);

    /* No hugepages of the configured size, count 0: use what is there. */
    c = config("dpdk:\n  pmd_cores: 2\n  hugepages: {size: 1G}\n");
    e = lq_dpdk_check_host(c, &o, &r);
    assert_non_null(e);
    assert_string_equal(e->message, "dpdk: hugepages: no 1G hugepages "
                        "reserved (dpdk.hugepages.count is 0, which uses what "
                        "is there: set a count, or write /sys/kernel/mm/"
                        "hugepages/hugepages-1048576kB/nr_hugepages)");
    lq_error_free(e);
    lq_dpdk_report_clear(&r);
    lq_config_free(c);

    /* Check only (no reservation allowed). */
    c = config("dpdk:\n  pmd_cores: 2\n  socket_mem_mb: 8\n"
               "  hugepages: {count: 10}\n");
    o.reserve_hugepages = false;
    e = lq_dpdk_check_host(c, &o, &r);
    assert_non_null(e);
    assert_string_equal(e->message, "dpdk: hugepages: dpdk.hugepages.count "
                        "is 10 but only 8 2M pages are reserved");
    lq_error_free(e);
    lq_dpdk_report_clear(&r);
    lq_config_free(c);

    /* A kernel without the configured size. */
    char *dir = xasprintf("%s" HP1G, root);
    const char *rm[] = { "rm", "-rf", dir, NULL };
    assert_null(lq_exec(rm, NULL, 5000, NULL));
    free(dir);
    c = config("dpdk:\n  pmd_cores: 2\n  hugepages: {size: 1G, count: 1}\n");
    o.reserve_hugepages = true;
    e = lq_dpdk_check_host(c, &o, &r);
    assert_non_null(e);
    assert_string_equal(e->message, "dpdk: hugepages: this kernel has no 1G "
                        "hugepages");
    lq_error_free(e);
    lq_dpdk_report_clear(&r);
    lq_config_free(c);

    /* No PMD cores at all. */
    c = config("dpdk:\n  socket_mem_mb: 8\n");
    e = lq_dpdk_check_host(c, &o, &r);
    assert_non_null(e);
    assert_string_equal(e->message, "dpdk: dpdk.pmd_cores: not set (the fast "
                        "path needs at least one PMD core)");
    lq_error_free(e);
    lq_dpdk_report_clear(&r);
    lq_config_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_lists),
        cmocka_unit_test(test_pci_addresses),
        cmocka_unit_test_setup_teardown(test_hugepages_read, setup_root,
                                        teardown_root),
        cmocka_unit_test_setup_teardown(test_hugepages_reserve, setup_root,
                                        teardown_root),
        cmocka_unit_test_setup_teardown(test_cores, setup_root,
                                        teardown_root),
        cmocka_unit_test_setup_teardown(test_pci, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_ovs, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_check_host, setup_root,
                                        teardown_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
