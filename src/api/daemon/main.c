/* main.c: the limiquantix-node daemon.
 *
 * Parses flags and node.yaml, builds the in-process node service, and runs
 * the one event loop: the HTTP listeners, the worker pool's completions, the
 * control-plane registration timers and the exit latch all wake a single
 * poll_block().  SIGTERM/SIGINT stop the loop cleanly (sockets removed,
 * in-flight calls finished). */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastpath.h"
#include "health.h"
#include "resource_metrics.h"
#include "fatal-signal.h"
#include "http_server.h"
#include "latch.h"
#include "limiquantix/config.h"
#include "limiquantix/node.h"
#include "limiquantix/storage.h"
#include "limiquantix/compute.h"
#include "metrics.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "registration.h"
#include "dpdk.h"
#include "engine.h"
#include "nb.h"
#include "sandbox.h"
#include "sandbox_ceph.h"
#include "sandbox_libvirt.h"
#include "rpc.h"
#include "rpc_storage.h"
#include "rpc_compute.h"
#include "util.h"
#include "reflection.h"
#include "worker_pool.h"

VLOG_DEFINE_THIS_MODULE(main);

struct options {
    const char *config_path;    /* -c; NULL: default path if present. */
    const char *log_level;
    const char *listen;
    const char *control_plane;
    const char *node_id;
    const char *sandbox_dir;
    bool sandbox_ceph;
    bool sandbox_libvirt;
    const char *unix_socket;
    int metrics_port;           /* -1: from config. */
};

static struct latch exit_latch;
/* Set on the loop when start-up failed after the loop began (the DPDK
 * fast path not initialized): the daemon exits with status 1. */
static bool startup_failed;

static void
exit_signal(int sig OVS_UNUSED)
{
    latch_set(&exit_latch);     /* write(2): async-signal-safe. */
}

static void
usage(FILE *out)
{
    fprintf(out,
"usage: limiquantix-node [OPTIONS]\n"
"The limiquantix node daemon: networks, storage and VMs on this host.\n\n"
"  -c, --config FILE        node.yaml (default " LQ_CONFIG_DEFAULT_PATH
" if it exists)\n"
"  -l, --log-level LEVEL    emer, err, warn, info or dbg (default info)\n"
"      --listen ADDR        API listen address, IP:PORT (\"\" disables TCP)\n"
"      --metrics-port PORT  Prometheus port (0 disables)\n"
"      --unix-socket PATH   local API socket for lqctl\n"
"      --control-plane URL  register with and heartbeat to this URL\n"
"      --node-id ID         this node's id\n"
"      --sandbox DIR        embedded mode: private state under DIR, API on\n"
"                           127.0.0.1 and DIR/node.sock, private OVS/OVN\n"
"      --sandbox-ceph       with --sandbox: also a throw-away Ceph and an\n"
"                           rbd pool \"sandbox-ceph\"\n"
"      --sandbox-libvirt    with --sandbox: also a private libvirtd for VMs\n"
"                           (their NICs on the sandbox's OVS)\n"
"  -V, --version            print the version and exit\n"
"  -h, --help               print this help and exit\n");
}

static int
parse_options(int argc, char *argv[], struct options *o)
{
    enum { OPT_LISTEN = 256, OPT_CONTROL_PLANE, OPT_NODE_ID, OPT_SANDBOX,
           OPT_UNIX_SOCKET, OPT_METRICS_PORT, OPT_SANDBOX_CEPH,
           OPT_SANDBOX_LIBVIRT };
    static const struct option long_options[] = {
        { "config", required_argument, NULL, 'c' },
        { "log-level", required_argument, NULL, 'l' },
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "metrics-port", required_argument, NULL, OPT_METRICS_PORT },
        { "unix-socket", required_argument, NULL, OPT_UNIX_SOCKET },
        { "control-plane", required_argument, NULL, OPT_CONTROL_PLANE },
        { "node-id", required_argument, NULL, OPT_NODE_ID },
        { "sandbox", required_argument, NULL, OPT_SANDBOX },
        { "sandbox-ceph", no_argument, NULL, OPT_SANDBOX_CEPH },
        { "sandbox-libvirt", no_argument, NULL, OPT_SANDBOX_LIBVIRT },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    memset(o, 0, sizeof *o);
    o->metrics_port = -1;
    while ((c = getopt_long(argc, argv, "c:l:Vh", long_options, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case 'l': o->log_level = optarg; break;
        case OPT_LISTEN: o->listen = optarg; break;
        case OPT_CONTROL_PLANE: o->control_plane = optarg; break;
        case OPT_NODE_ID: o->node_id = optarg; break;
        case OPT_SANDBOX: o->sandbox_dir = optarg; break;
        case OPT_SANDBOX_CEPH: o->sandbox_ceph = true; break;
        case OPT_SANDBOX_LIBVIRT: o->sandbox_libvirt = true; break;
        case OPT_UNIX_SOCKET: o->unix_socket = optarg; break;
        case OPT_METRICS_PORT: {
            char *end;
            long port = strtol(optarg, &end, 10);
            if (!*optarg || *end || port < 0 || port > 65535) {
                fprintf(stderr, "limiquantix-node: --metrics-port: expected "
                        "0..65535, got \"%s\"\n", optarg);
                return 2;
            }
            o->metrics_port = port;
            break;
        }
        case 'V':
            printf("limiquantix-node %s\n", LQ_VERSION);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if ((o->sandbox_ceph || o->sandbox_libvirt) && !o->sandbox_dir) {
        fprintf(stderr, "limiquantix-node: --sandbox-%s needs --sandbox\n",
                o->sandbox_ceph ? "ceph" : "libvirt");
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "limiquantix-node: unexpected argument \"%s\"\n",
                argv[optind]);
        return 2;
    }
    return 0;
}

static struct lq_error *
load_config(const struct options *o, struct lq_config **cp)
{
    struct lq_error *error;

    if (o->config_path) {
        error = lq_config_load(o->config_path, cp);
    } else if (!access(LQ_CONFIG_DEFAULT_PATH, F_OK) && !o->sandbox_dir) {
        error = lq_config_load(LQ_CONFIG_DEFAULT_PATH, cp);
    } else {
        *cp = lq_config_new_default();
        error = NULL;
    }
    if (error) {
        return error;
    }

    struct lq_config *c = *cp;
    if (o->sandbox_dir) {
        /* Embedded mode: everything private to DIR, nothing on 0.0.0.0. */
        if (mkdir(o->sandbox_dir, 0700) && errno != EEXIST) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "--sandbox: cannot "
                                "create \"%s\": %s", o->sandbox_dir,
                                strerror(errno));
        }
        char *sock = xasprintf("%s/node.sock", o->sandbox_dir);
        lq_config_set_string(&c->server.unix_socket, sock);
        free(sock);
        if (!o->config_path) {
            lq_config_set_string(&c->server.listen_address, "127.0.0.1:9090");
        }
        /* The private OVS has no kernel datapath (see network_start()). */
        lq_config_set_string(&c->network.datapath_type, "netdev");
        char *abs = realpath(o->sandbox_dir, NULL);
        const char *base = abs ? abs : o->sandbox_dir;
        if (!strcmp(c->dpdk.vhost_socket_dir, LQ_DPDK_DEFAULT_VHOST_DIR)) {
            char *dir = xasprintf("%s/vhost", base);
            lq_config_set_string(&c->dpdk.vhost_socket_dir, dir);
            free(dir);
        }
        if (!strcmp(c->hypervisor.state_dir, LQ_DEFAULT_STATE_DIR)) {
            char *dir = xasprintf("%s/vms", base);
            lq_config_set_string(&c->hypervisor.state_dir, dir);
            free(dir);
        }
        /* The sandbox's own image directory: files copied there may be
         * named by CreateVM and CreateVolume. */
        char *images = xasprintf("%s/images", base);
        if (mkdir(images, 0700) && errno != EEXIST) {
            struct lq_error *e = lq_error_new(LQ_INVALID_ARGUMENT,
                                              "--sandbox: cannot create "
                                              "\"%s\": %s", images,
                                              strerror(errno));
            free(images);
            free(abs);
            return e;
        }
        lq_config_add_image_dir(c, images);
        free(images);
        free(abs);
    }
    if (o->listen) {
        lq_config_set_string(&c->server.listen_address, o->listen);
    }
    if (o->metrics_port >= 0) {
        c->server.metrics_port = o->metrics_port;
    }
    if (o->unix_socket) {
        lq_config_set_string(&c->server.unix_socket, o->unix_socket);
    }
    if (o->control_plane) {
        lq_config_set_string(&c->control_plane.address, o->control_plane);
    }
    if (o->node_id) {
        lq_config_set_string(&c->node.id, o->node_id);
    }
    return lq_config_validate(c);
}

static bool
set_log_level(const char *level)
{
    enum vlog_level l = vlog_get_level_val(level);
    if (l == VLL_N_LEVELS) {
        /* Accept the common spellings too. */
        l = !strcmp(level, "error") ? VLL_ERR
            : !strcmp(level, "debug") ? VLL_DBG
            : !strcmp(level, "warning") ? VLL_WARN : VLL_N_LEVELS;
    }
    if (l == VLL_N_LEVELS) {
        return false;
    }
    vlog_set_levels(NULL, VLF_CONSOLE, l);
    return true;
}

/* Sandbox: ovn-controller starts once the chassis settings exist; the exec
 * runs on the worker pool, off the loop. */
struct controller_start {
    struct lq_sandbox *sandbox;     /* NULL: nothing to start. */
    bool fatal;                     /* A failed set-up stops the daemon. */
    struct lq_worker_pool *pool;
    struct lq_error *error;
};

static void
controller_work(void *cs_)
{
    struct controller_start *cs = cs_;
    cs->error = lq_sandbox_start_controller(cs->sandbox);
}

static void
controller_done(void *cs_)
{
    struct controller_start *cs = cs_;
    if (cs->error) {
        VLOG_ERR("sandbox: %s", cs->error->message);
        lq_error_free(cs->error);
    } else {
        VLOG_INFO("sandbox: ovn-controller started");
    }
    free(cs);
}

static void
chassis_ready(void *cs_, bool ok)
{
    struct controller_start *cs = cs_;
    if (ok && cs->sandbox) {
        lq_worker_pool_submit(cs->pool, controller_work, controller_done, cs);
        return;
    }
    if (!ok && cs->fatal) {
        /* The DPDK fast path was asked for and is not there: serving
         * anyway would bind VMs to a datapath that does not work. */
        VLOG_ERR("stopping: the DPDK fast path could not be set up");
        startup_failed = true;
        latch_set(&exit_latch);
    }
    free(cs);
}

/* The network subsystem: a private OVS/OVN with --sandbox, otherwise the
 * databases named in node.yaml; none if neither is given. */
static struct lq_error *
network_start(const struct options *o, const struct lq_config *c,
              struct lq_node *node, struct lq_worker_pool *pool,
              const struct lq_fastpath *fastpath,
              struct lq_sandbox **sandboxp, struct lq_network **netp)
{
    struct lq_network_options no = {
        .chassis = lq_node_id(node),
        .hostname = lq_node_hostname(node),
        .integration_bridge = c->network.integration_bridge,
        .datapath_type = c->network.datapath_type,
        .encap_type = c->network.encap_type,
        .encap_ip = c->network.encap_ip ? c->network.encap_ip
                                        : lq_node_management_ip(node),
        .bridge_mappings = &c->network.bridge_mappings,
        .dpdk = lq_fastpath_ovs(fastpath),
    };
    if (fastpath) {
        no.datapath_type = "netdev";
    }

    *sandboxp = NULL;
    *netp = NULL;
    if (o->sandbox_dir) {
        struct lq_error *e = lq_sandbox_start(
            o->sandbox_dir, fastpath ? LQ_OVS_VSWITCHD_DPDK : NULL, sandboxp);
        if (e) {
            return e;
        }
        no.nb_remote = (*sandboxp)->nb_remote;
        no.sb_remote = (*sandboxp)->sb_remote;
        no.ovs_remote = (*sandboxp)->ovs_remote;
        no.datapath_type = "netdev";    /* No kernel datapath needed. */
        no.encap_ip = "127.0.0.1";
    } else if (c->network.ovn_nb_db) {
        no.nb_remote = c->network.ovn_nb_db;
        no.ovs_remote = c->network.ovs_db ? c->network.ovs_db
                        : "unix:/var/run/openvswitch/db.sock";
    } else {
        VLOG_INFO("networking off: no network.ovn_nb_db in the config");
        return NULL;
    }
    struct lq_error *e = lq_network_create(&no, netp);
    if (!e) {
        struct controller_start *cs = NULL;
        if (*sandboxp || fastpath) {
            cs = xzalloc(sizeof *cs);
            cs->sandbox = *sandboxp;
            cs->pool = pool;
            cs->fatal = fastpath != NULL;
        }
        lq_node_set_network(node, *netp);
        lq_network_start(*netp, cs ? chassis_ready : NULL, cs);
    }
    return e;
}

static void
run_loop(struct lq_http_server *http, struct lq_worker_pool *pool,
         struct lq_registration *reg, struct lq_network *net,
         struct lq_health_monitor *health)
{
    while (!latch_is_set(&exit_latch)) {
        lq_http_server_run(http);
        lq_worker_pool_run(pool);
        lq_registration_run(reg);
        lq_health_monitor_run(health);
        if (net) {
            lq_network_run(net);
        }

        lq_http_server_wait(http);
        lq_worker_pool_wait(pool);
        lq_registration_wait(reg);
        lq_health_monitor_wait(health);
        if (net) {
            lq_network_wait(net);
        }
        latch_wait(&exit_latch);
        poll_block();
    }
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
    vlog_set_levels(NULL, VLF_SYSLOG, VLL_OFF);
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_INFO);
    if (o.log_level && !set_log_level(o.log_level)) {
        fprintf(stderr, "limiquantix-node: --log-level: unknown level \"%s\" "
                "(expected err, warn, info or dbg)\n", o.log_level);
        return 2;
    }

    /* Our handlers first: OVS's fatal-signal module then leaves SIGTERM and
     * SIGINT alone (it only takes over signals still at SIG_DFL). */
    latch_init(&exit_latch);
    signal(SIGTERM, exit_signal);
    signal(SIGINT, exit_signal);
    signal(SIGPIPE, SIG_IGN);
    fatal_signal_init();

    struct lq_config *config;
    struct lq_error *error = load_config(&o, &config);
    if (error) {
        fprintf(stderr, "limiquantix-node: %s\n", error->message);
        lq_error_free(error);
        lq_config_free(config);
        return 1;
    }

    struct lq_node *node = NULL;
    struct lq_worker_pool *pool = NULL;
    struct lq_http_server *http = NULL;
    struct lq_rpc_registry rpc;
    struct lq_metrics metrics;

    lq_rpc_registry_init(&rpc);
    lq_rpc_node_register(&rpc);
    lq_rpc_network_register(&rpc);
    lq_rpc_storage_register(&rpc);
    lq_rpc_compute_register(&rpc);
    lq_reflection_register(&rpc);
    lq_metrics_init(&metrics);
    struct lq_storage *storage = NULL;
    struct lq_sandbox_ceph *ceph = NULL;
    error = lq_node_create(config, &node);
    if (!error) {
        pool = lq_worker_pool_create(config->server.worker_threads);
        error = lq_http_server_create(config, node, &rpc, &metrics, pool,
                                      &http);
    }
    /* Everything below comes after the listeners: a second daemon on the
     * same socket stops there, before it could touch the first one's
     * sandbox.  Nothing is served before the loop runs, so the subsystems
     * are attached in time. */
    if (!error && o.sandbox_ceph) {
        error = lq_sandbox_ceph_start(o.sandbox_dir, config, &ceph);
    }
    if (!error) {
        /* Never contacts a cluster: the node starts while Ceph is down. */
        error = lq_storage_create(config, &storage);
        lq_node_set_storage(node, storage);
    }
    struct lq_fastpath *fastpath = NULL;
    if (!error && config->dpdk.enabled) {
        error = lq_fastpath_start(config, o.sandbox_dir, &fastpath);
    }
    struct lq_sandbox *sandbox = NULL;
    struct lq_network *net = NULL;
    if (!error) {
        error = network_start(&o, config, node, pool, fastpath, &sandbox,
                              &net);
    }
    if (!error && fastpath) {
        char *ctl = sandbox ? xasprintf("%s/ovs-vswitchd.ctl", sandbox->ovs_dir)
                            : NULL;
        lq_fastpath_export_pmd_stats(fastpath, &metrics, pool, ctl);
        free(ctl);
    }
    struct lq_sandbox_libvirt *libvirtd = NULL;
    if (!error && o.sandbox_libvirt) {
        error = lq_sandbox_libvirt_start(o.sandbox_dir, sandbox->ovs_dir,
                                         &libvirtd);
    }
    struct lq_compute *compute = NULL;
    if (!error) {
        /* Never contacts libvirtd: connects on the first VM call. */
        error = lq_compute_create(libvirtd ? lq_sandbox_libvirt_uri(libvirtd)
                                  : config->hypervisor.libvirt_uri, &compute);
        lq_compute_set_default(compute);
        lq_compute_configure(compute, config);
        lq_compute_set_backends(compute, storage, net,
                                config->network.integration_bridge);
        if (compute) {
            lq_node_set_hypervisor_caps(node, lq_compute_get_caps, compute);
        }
    }
    if (!error) {
        struct lq_registration *reg = lq_registration_create(
            node, pool, &metrics, lq_http_server_api_port(http));
        VLOG_INFO("limiquantix-node %s ready: node %s%s%s", LQ_VERSION,
                  lq_node_id(node), o.sandbox_dir ? ", sandbox " : "",
                  o.sandbox_dir ? o.sandbox_dir : "");
        struct lq_health_monitor *health = lq_health_monitor_create(
            node, pool, net, storage, compute);
        struct lq_resource_metrics *resources = lq_resource_metrics_create(
            &metrics, pool, compute);
        run_loop(http, pool, reg, net, health);
        VLOG_INFO("shutting down");
        rc = startup_failed;
        /* Workers waiting for the network loop give up now. */
        lq_network_stop_threaded(net);
        lq_worker_pool_destroy(pool);   /* Finishes in-flight calls. */
        lq_health_monitor_destroy(health);
        lq_resource_metrics_destroy(resources);
        lq_registration_destroy(reg);
    } else {
        fprintf(stderr, "limiquantix-node: %s\n", error->message);
        lq_worker_pool_destroy(pool);
        rc = 1;
    }
    lq_network_destroy(net);            /* Answers its pending RPCs... */
    lq_http_server_destroy(http);       /* ...before the listeners go. */
    lq_node_set_hypervisor_caps(node, NULL, NULL);
    lq_compute_destroy(compute);
    /* Its guests, by pid, while their OVS ports can still be removed. */
    lq_sandbox_libvirt_stop(libvirtd);
    lq_sandbox_stop(sandbox);
    lq_fastpath_stop(fastpath);         /* After ovs-vswitchd let go. */
    lq_storage_destroy(storage);        /* After the worker pool. */
    lq_sandbox_ceph_stop(ceph);

    lq_error_free(error);
    lq_node_destroy(node);
    lq_metrics_destroy(&metrics);
    lq_rpc_registry_destroy(&rpc);
    lq_config_free(config);
    latch_destroy(&exit_latch);
    return rc;
}
