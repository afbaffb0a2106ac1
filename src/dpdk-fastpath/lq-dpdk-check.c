/* lq-dpdk-check: can this host run the DPDK fast path of node.yaml?
 *
 * An operator's tool, run before turning dpdk.enabled on.  It runs the same
 * host checks as the daemon (lq_dpdk_check_host(): cores, PCI bindings,
 * the OVS-DPDK binary, hugepages, reserving them if dpdk.hugepages.count
 * asks for more), then initialises DPDK's EAL with the arguments
 * ovs-vswitchd would get, probes every dpdk.interfaces port, starts it
 * with one queue pair and reports driver, MAC and link.  Anything missing
 * is one line on stderr and a non-zero exit.
 *
 * It leaves nothing behind: EAL runs --in-memory with a private file
 * prefix, ports are stopped and closed, and hugepages it reserved are
 * given back at exit (unless --keep-hugepages).  No PMD thread is started:
 * the tool never polls a port. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "limiquantix/config.h"
#include "limiquantix/dpdk.h"
#include "openvswitch/dynamic-string.h"
#include "svec.h"
#include "util.h"

struct options {
    const char *config_path;
    const char *ovs_vswitchd;       /* NULL: --no-ovs. */
    const char *daemon_cpus;        /* NULL: our own affinity. */
    bool keep_hugepages;
    bool no_eal;
    bool no_start;
    char **eal_extra;               /* After "--". */
    int n_eal_extra;
};

static void
usage(FILE *stream)
{
    fprintf(stream,
"usage: lq-dpdk-check [OPTIONS] [-- EAL-ARGS...]\n"
"Checks that this host can run the DPDK fast path configured in node.yaml:\n"
"PMD cores, hugepages, PCI bindings, the OVS-DPDK build, then DPDK's EAL\n"
"and every dpdk.interfaces port.  Exits 0 if everything works.\n"
"\n"
"  -c, --config FILE       node.yaml (default " LQ_CONFIG_DEFAULT_PATH ")\n"
"      --no-ovs            do not check for the DPDK build of ovs-vswitchd\n"
"      --ovs-vswitchd PATH check this binary instead of\n"
"                          " LQ_OVS_VSWITCHD_DPDK "\n"
"      --daemon-cpus LIST  the CPUs limiquantix-node will run on (default:\n"
"                          this process's affinity, as the daemon checks)\n"
"      --keep-hugepages    keep hugepages reserved for dpdk.hugepages.count\n"
"                          (default: give them back at exit)\n"
"      --no-eal            host checks only, no EAL\n"
"      --no-start          probe ports without starting them\n"
"  -h, --help\n"
"EAL-ARGS are appended to the EAL arguments after dpdk.extra_eal_args.\n");
}

static int
parse_options(int argc, char *argv[], struct options *o)
{
    enum { OPT_NO_OVS = 256, OPT_OVS, OPT_DAEMON_CPUS, OPT_KEEP, OPT_NO_EAL,
           OPT_NO_START };
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "no-ovs", no_argument, NULL, OPT_NO_OVS },
        { "ovs-vswitchd", required_argument, NULL, OPT_OVS },
        { "daemon-cpus", required_argument, NULL, OPT_DAEMON_CPUS },
        { "keep-hugepages", no_argument, NULL, OPT_KEEP },
        { "no-eal", no_argument, NULL, OPT_NO_EAL },
        { "no-start", no_argument, NULL, OPT_NO_START },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    memset(o, 0, sizeof *o);
    o->config_path = LQ_CONFIG_DEFAULT_PATH;
    o->ovs_vswitchd = LQ_OVS_VSWITCHD_DPDK;
    while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case OPT_NO_OVS: o->ovs_vswitchd = NULL; break;
        case OPT_OVS: o->ovs_vswitchd = optarg; break;
        case OPT_DAEMON_CPUS: o->daemon_cpus = optarg; break;
        case OPT_KEEP: o->keep_hugepages = true; break;
        case OPT_NO_EAL: o->no_eal = true; break;
        case OPT_NO_START: o->no_start = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
    }
    /* getopt stops at "--" and leaves what follows for EAL. */
    o->eal_extra = argv + optind;
    o->n_eal_extra = argc - optind;
    if (optind > 0 && strcmp(argv[optind - 1], "--") && o->n_eal_extra) {
        fprintf(stderr, "lq-dpdk-check: unexpected argument \"%s\" (EAL "
                "arguments go after \"--\")\n", argv[optind]);
        return 2;
    }
    return 0;
}

static void
print_report(const struct lq_config *c, const struct lq_dpdk_report *r,
             const cpu_set_t *daemon_cpus)
{
    char *pmd = lq_cpu_list_format(&c->dpdk.pmd_cores);
    char *daemon = lq_cpu_list_format(daemon_cpus);
    printf("cpus: online %s, pmd %s, lcore %d, daemon %s\n",
           r->online_cpus ? r->online_cpus : "?", pmd, c->dpdk.lcore, daemon);
    free(pmd);
    free(daemon);

    for (size_t i = 0; i < r->hugepages.n; i++) {
        const struct lq_hugepage_pool *p = &r->hugepages.pools[i];
        char *size = lq_hugepage_size_name(p->size_kb);
        printf("hugepages %s: %"PRIu64" free of %"PRIu64"%s", size, p->free,
               p->total, p->size_kb == r->hugepage_size_kb ? " (configured)"
               : "");
        if (p->size_kb == r->hugepage_size_kb && r->reserved) {
            printf(", raised from %"PRIu64, r->prev_total);
        }
        printf("\n");
        free(size);
    }
    for (size_t i = 0; i < c->dpdk.n_interfaces; i++) {
        const struct lq_dpdk_interface_config *iface = &c->dpdk.interfaces[i];
        if (iface->pci) {
            printf("interface %s: pci %s, driver %s\n", iface->name,
                   iface->pci, r->drivers[i] ? r->drivers[i] : "(none)");
        } else {
            printf("interface %s: vdev %s\n", iface->name, iface->vdev);
        }
    }
}

static bool
has_arg(char **args, size_t n, const char *arg)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(args[i], arg)) {
            return true;
        }
    }
    return false;
}

/* The EAL arguments ovs-vswitchd would get from the dpdk section, plus a
 * private file prefix, --no-telemetry and --in-memory (which ovs-vswitchd
 * adds itself) so that nothing is left in /dev/hugepages or /var/run/dpdk. */
static void
build_eal_args(const struct lq_config *c, const struct options *o,
               struct svec *args)
{
    const char *extra_mem[] = { "--in-memory", "--legacy-mem", "--no-huge" };
    bool mem_mode = false;

    for (size_t i = 0; i < ARRAY_SIZE(extra_mem); i++) {
        mem_mode |= has_arg(c->dpdk.extra_eal_args, c->dpdk.n_extra_eal_args,
                            extra_mem[i])
                    || has_arg(o->eal_extra, o->n_eal_extra, extra_mem[i]);
    }
    svec_add(args, "lq-dpdk-check");
    svec_add(args, "-l");
    svec_add_nocopy(args, xasprintf("%d", c->dpdk.lcore));
    if (c->dpdk.socket_mem_mb) {
        svec_add(args, "--socket-mem");
        svec_add_nocopy(args, xasprintf("%d", c->dpdk.socket_mem_mb));
    }
    if (!mem_mode) {
        svec_add(args, "--in-memory");
    }
    svec_add(args, "--file-prefix");
    svec_add_nocopy(args, xasprintf("lq-dpdk-check-%ld", (long) getpid()));
    svec_add(args, "--no-telemetry");   /* Its socket outlives cleanup. */
    for (size_t i = 0; i < c->dpdk.n_interfaces; i++) {
        const struct lq_dpdk_interface_config *iface = &c->dpdk.interfaces[i];
        svec_add(args, iface->pci ? "-a" : "--vdev");
        svec_add(args, iface->pci ? iface->pci : iface->vdev);
    }
    for (size_t i = 0; i < c->dpdk.n_extra_eal_args; i++) {
        svec_add(args, c->dpdk.extra_eal_args[i]);
    }
    for (int i = 0; i < o->n_eal_extra; i++) {
        svec_add(args, o->eal_extra[i]);
    }
}

/* The ethdev name DPDK gives an interface: the PCI address, or the vdev
 * name before its first comma. */
static char *
port_name(const struct lq_dpdk_interface_config *iface)
{
    if (iface->pci) {
        return xstrdup(iface->pci);
    }
    return xmemdup0(iface->vdev, strcspn(iface->vdev, ","));
}

/* Starts 'port' with one queue pair from 'mp' and waits up to 3 s for the
 * link.  Returns an error message (caller frees) or NULL. */
static char *
start_port(uint16_t port, struct rte_mempool *mp)
{
    struct rte_eth_conf conf;
    uint16_t n_rx = 256, n_tx = 256;
    int socket = rte_eth_dev_socket_id(port);
    int err;

    memset(&conf, 0, sizeof conf);
    if ((err = rte_eth_dev_configure(port, 1, 1, &conf))) {
        return xasprintf("configure: %s", rte_strerror(-err));
    }
    if ((err = rte_eth_dev_adjust_nb_rx_tx_desc(port, &n_rx, &n_tx))) {
        return xasprintf("descriptors: %s", rte_strerror(-err));
    }
    if ((err = rte_eth_rx_queue_setup(port, 0, n_rx, socket, NULL, mp))) {
        return xasprintf("rx queue: %s", rte_strerror(-err));
    }
    if ((err = rte_eth_tx_queue_setup(port, 0, n_tx, socket, NULL))) {
        return xasprintf("tx queue: %s", rte_strerror(-err));
    }
    if ((err = rte_eth_dev_start(port))) {
        return xasprintf("start: %s", rte_strerror(-err));
    }
    for (int i = 0; i < 30; i++) {
        struct rte_eth_link link;
        if (!rte_eth_link_get_nowait(port, &link)
            && link.link_status == RTE_ETH_LINK_UP) {
            break;
        }
        usleep(100 * 1000);
    }
    return NULL;
}

/* "link up, 10000 Mbps full-duplex" (rte_eth_link_to_str() is still
 * experimental in DPDK 22.11). */
static void
format_link(char *buf, size_t size, const struct rte_eth_link *link)
{
    if (link->link_status != RTE_ETH_LINK_UP) {
        snprintf(buf, size, "link down");
    } else if (link->link_speed == RTE_ETH_SPEED_NUM_UNKNOWN
               || link->link_speed == RTE_ETH_SPEED_NUM_NONE) {
        snprintf(buf, size, "link up, speed unknown");
    } else {
        snprintf(buf, size, "link up, %"PRIu32" Mbps %s-duplex",
                 link->link_speed,
                 link->link_duplex == RTE_ETH_LINK_FULL_DUPLEX ? "full"
                 : "half");
    }
}

/* Reports every port EAL probed; fails if a dpdk.interfaces entry has no
 * port or cannot start. */
static bool
probe_ports(const struct lq_config *c, const struct options *o)
{
    struct rte_mempool *mp = NULL;
    bool ok = true;

    if (!rte_eth_dev_count_avail()) {
        printf("ports: none\n");
    }

    if (!o->no_start && rte_eth_dev_count_avail()) {
        mp = rte_pktmbuf_pool_create("lq_check_pool", 1023, 0, 0,
                                     RTE_MBUF_DEFAULT_BUF_SIZE,
                                     SOCKET_ID_ANY);
        if (!mp) {
            fprintf(stderr, "lq-dpdk-check: cannot create an mbuf pool: %s\n",
                    rte_strerror(rte_errno));
            return false;
        }
    }

    for (size_t i = 0; i < c->dpdk.n_interfaces; i++) {
        char *name = port_name(&c->dpdk.interfaces[i]);
        uint16_t port;
        if (rte_eth_dev_get_port_by_name(name, &port)) {
            fprintf(stderr, "lq-dpdk-check: dpdk.interfaces[%zu] (%s): no "
                    "DPDK port \"%s\" after probing (see the EAL messages "
                    "above)\n", i, c->dpdk.interfaces[i].name, name);
            ok = false;
        }
        free(name);
    }

    uint16_t port;
    RTE_ETH_FOREACH_DEV(port) {
        char name[RTE_ETH_NAME_MAX_LEN] = "";
        const char *iface = "not in dpdk.interfaces";
        struct rte_eth_dev_info info;
        struct rte_ether_addr mac;
        struct rte_eth_link link;
        char mac_s[RTE_ETHER_ADDR_FMT_SIZE] = "?";
        char link_s[RTE_ETH_LINK_MAX_STR_LEN] = "?";
        char *start_error = NULL;

        rte_eth_dev_get_name_by_port(port, name);
        for (size_t i = 0; i < c->dpdk.n_interfaces; i++) {
            char *n = port_name(&c->dpdk.interfaces[i]);
            if (!strcmp(n, name)) {
                iface = c->dpdk.interfaces[i].name;
            }
            free(n);
        }
        if (rte_eth_dev_info_get(port, &info)) {
            info.driver_name = "?";
        }
        if (!rte_eth_macaddr_get(port, &mac)) {
            rte_ether_format_addr(mac_s, sizeof mac_s, &mac);
        }
        if (mp) {
            start_error = start_port(port, mp);
        }
        if (!rte_eth_link_get_nowait(port, &link)) {
            format_link(link_s, sizeof link_s, &link);
        }
        printf("port %u %s (%s): driver %s, mac %s, %s%s\n", port, name,
               iface, info.driver_name, mac_s, link_s,
               mp ? "" : " (not started)");
        if (start_error) {
            fprintf(stderr, "lq-dpdk-check: port %u %s: %s\n", port, name,
                    start_error);
            free(start_error);
            ok = false;
        }
        rte_eth_dev_stop(port);
        rte_eth_dev_close(port);
    }
    rte_mempool_free(mp);
    return ok;
}

static bool
run_eal(const struct lq_config *c, const struct options *o)
{
    struct svec args = SVEC_EMPTY_INITIALIZER;
    build_eal_args(c, o, &args);

    char *joined = svec_join(&args, " ", "");
    printf("eal: %s\n", joined + strlen("lq-dpdk-check "));
    free(joined);
    fflush(stdout);

    /* EAL may permute and keep pointers into argv: give it a copy that
     * lives until the end. */
    char **argv = xcalloc(args.n + 1, sizeof *argv);
    for (size_t i = 0; i < args.n; i++) {
        argv[i] = args.names[i];
    }
    rte_openlog_stream(stderr);
    bool initialised = rte_eal_init(args.n, argv) >= 0;
    bool ok = initialised;
    if (!ok) {
        fprintf(stderr, "lq-dpdk-check: EAL initialisation failed: %s\n",
                rte_strerror(rte_errno));
    } else {
        printf("eal: initialised, %u lcore(s), %u port(s)\n",
               rte_lcore_count(), rte_eth_dev_count_avail());
        fflush(stdout);
        ok = probe_ports(c, o);
    }
    /* Even --in-memory makes a runtime directory; cleanup (or a failed
     * init) leaves it behind, empty. */
    char *runtime_dir = xstrdup(rte_eal_get_runtime_dir());
    if (initialised) {
        rte_eal_cleanup();
    }
    if (*runtime_dir && rmdir(runtime_dir) && errno != ENOENT) {
        fprintf(stderr, "lq-dpdk-check: warning: cannot remove %s: %s\n",
                runtime_dir, strerror(errno));
    }
    free(runtime_dir);
    free(argv);
    svec_destroy(&args);
    return ok;
}

int
main(int argc, char *argv[])
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc) {
        return rc;
    }
    set_program_name(argv[0]);

    struct lq_config *c;
    struct lq_error *error = lq_config_load(o.config_path, &c);
    if (!error) {
        error = lq_config_validate(c);
    }
    if (error) {
        fprintf(stderr, "lq-dpdk-check: %s\n", error->message);
        lq_error_free(error);
        lq_config_free(c);
        return 1;
    }
    printf("config: %s (dpdk.enabled: %s)\n", o.config_path,
           c->dpdk.enabled ? "true" : "false, checked anyway");

    cpu_set_t daemon_cpus;
    if (o.daemon_cpus) {
        error = lq_cpu_list_parse(o.daemon_cpus, &daemon_cpus);
        if (error) {
            fprintf(stderr, "lq-dpdk-check: --daemon-cpus: %s\n",
                    error->message);
            lq_error_free(error);
            lq_config_free(c);
            return 2;
        }
    } else if (sched_getaffinity(0, sizeof daemon_cpus, &daemon_cpus)) {
        fprintf(stderr, "lq-dpdk-check: sched_getaffinity: %s\n",
                strerror(errno));
        lq_config_free(c);
        return 1;
    }

    struct lq_dpdk_check_options co = {
        .root = NULL,
        .daemon_cpus = &daemon_cpus,
        .ovs_vswitchd = o.ovs_vswitchd,
        .reserve_hugepages = true,
    };
    struct lq_dpdk_report report;
    error = lq_dpdk_check_host(c, &co, &report);
    print_report(c, &report, &daemon_cpus);
    if (o.ovs_vswitchd) {
        printf("ovs-vswitchd: %s\n", report.ovs_version ? report.ovs_version
                                     : "not usable");
    } else {
        printf("ovs-vswitchd: not checked (--no-ovs)\n");
    }
    fflush(stdout);

    bool ok = !error;
    if (error) {
        fprintf(stderr, "lq-dpdk-check: %s\n", error->message);
        lq_error_free(error);
    } else if (!o.no_eal) {
        ok = run_eal(c, &o);
    }

    if (report.reserved) {
        if (o.keep_hugepages) {
            printf("hugepages: keeping the %d reserved (--keep-hugepages)\n",
                   c->dpdk.hugepages.count);
        } else {
            error = lq_hugepages_set_total(NULL, report.hugepage_size_kb,
                                           report.prev_total);
            if (error) {
                fprintf(stderr, "lq-dpdk-check: giving hugepages back: %s\n",
                        error->message);
                lq_error_free(error);
                ok = false;
            } else {
                printf("hugepages: given back (nr_hugepages %"PRIu64" "
                       "again)\n", report.prev_total);
            }
        }
    }
    printf("%s\n", ok ? "ok: this host can run the DPDK fast path"
                      : "FAILED");
    lq_dpdk_report_clear(&report);
    lq_config_free(c);
    return ok ? 0 : 1;
}
