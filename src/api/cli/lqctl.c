/* lqctl.c: the node CLI.
 *
 * Talks Connect/JSON to limiquantix-node over its Unix socket (default) or
 * over HTTPS with a client certificate (--server/--cert/--key/--ca), with
 * the contract's generated messages (cli.h), and prints human tables by
 * default or the reply as JSON with -o json.
 * Exit codes: 0 ok, 1 error from the server or transport, 2 usage. */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http_client.h"
#include "jsonx.h"
#include "limiquantix/dpdk.h"
#include "lqctl_nb.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "util.h"

#include "limiquantix_node_v1_node_daemon.pb-c.h"
#include "pbjson.h"
#include "pbmsg.h"

#define NODE_SERVICE "limiquantix.node.v1.NodeDaemonService"
#define DEFAULT_SOCKET "/run/limiquantix/node.sock"

static void
usage(FILE *out)
{
    fprintf(out,
"usage: lqctl [OPTIONS] COMMAND [ARGS]\n"
"Inspect and drive a limiquantix-node daemon.\n\n"
"Commands:\n"
"  health                   daemon health and versions\n"
"  node info                this host: CPU, memory, NICs, disks\n"
"  pool list                storage pools with capacity and health\n"
"  volume list [POOL] | images [POOL] | get ID | create --pool P [--size S]\n"
"         [--import FILE | --from-snapshot SNAP] | delete ID [--force] |\n"
"         resize ID SIZE [--allow-shrink] | flatten ID | snapshot {list|\n"
"         create|delete|rollback} VOLUME [...]\n"
"  call SERVICE/METHOD [JSON]  any RPC, raw JSON in and out\n"
"  nb [OPTIONS] COMMAND...  ovn-nbctl's read-only commands, same output\n"
"                           (database: --db= or $OVN_NB_DB; nb --help)\n"
"  net show [NETWORK]       networks, subnets and ports, from OVN NB\n"
"  net trace --from PORT --to PORT|IP PROTO[/PORT]\n"
"                           ovn-trace a packet; which rule allows or drops it\n"
"  sg explain PORT          effective security group rules of a port\n\n"
"Options:\n"
"  -s, --socket PATH        daemon Unix socket (default $LQ_SOCKET or\n"
"                           " DEFAULT_SOCKET ")\n"
"      --sandbox DIR        use the socket of a --sandbox DIR daemon\n"
"      --server URL         talk HTTPS to URL instead (https://host:9090)\n"
"      --cert FILE --key FILE  client certificate for --server (mTLS)\n"
"      --ca FILE            CA that signed the server's certificate\n"
"  -o, --output FORMAT      table (default) or json\n"
"  -h, --help               this help\n");
}

typedef Limiquantix__Node__V1__HealthCheckResponse HealthCheckResponse;
typedef Limiquantix__Node__V1__NodeInfoResponse NodeInfoResponse;

/* A node-level method whose request has nothing to set (HealthCheckRequest,
 * google.protobuf.Empty). */
static ProtobufCMessage *
call_empty(struct cli *cli, const char *method)
{
    ProtobufCMessage *req
        = lq_pb_new(lq_pb_find_method(NODE_SERVICE, method)->input);
    ProtobufCMessage *r = cli_call(cli, NODE_SERVICE, method, req);
    protobuf_c_message_free_unpacked(req, NULL);
    return r;
}

static void
print_health(const HealthCheckResponse *r)
{
    char *up = human_duration(r->uptime_seconds);
    printf("Healthy:             %s\n"
           "Version:             %s\n"
           "Hypervisor:          %s %s\n"
           "Uptime:              %s\n",
           r->healthy ? "yes" : "NO", r->version, r->hypervisor,
           r->hypervisor_version, up);
    free(up);
    for (size_t i = 0; i < r->n_problems; i++) {
        printf("Problem:             %s\n", r->problems[i]);
    }
}

static int
cmd_health(struct cli *cli, int argc, char *argv[] OVS_UNUSED)
{
    if (argc) {
        fprintf(stderr, "lqctl: health takes no arguments\n");
        return 2;
    }
    ProtobufCMessage *r = call_empty(cli, "HealthCheck");
    if (!r) {
        return 1;
    }
    if (cli->json_output) {
        print_message(r);
    } else {
        print_health((const HealthCheckResponse *) r);
    }
    protobuf_c_message_free_unpacked(r, NULL);
    return 0;
}

/* "Datapath: dpdk (PMD cores 1-3)" and "Hugepages: 2M 16/16 free, ...". */
static void
print_datapath(const NodeInfoResponse *r)
{
    printf("Datapath:            %s", r->datapath);
    if (r->n_pmd_cores) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (size_t i = 0; i < r->n_pmd_cores; i++) {
            if (r->pmd_cores[i] < CPU_SETSIZE) {
                CPU_SET(r->pmd_cores[i], &set);
            }
        }
        char *list = lq_cpu_list_format(&set);
        printf(" (PMD cores %s)", list);
        free(list);
    }

    printf("\nHugepages:           %s", r->n_hugepages ? "" : "none");
    for (size_t i = 0; i < r->n_hugepages; i++) {
        const Limiquantix__Node__V1__HugepageInfo *p = r->hugepages[i];
        char *size = lq_hugepage_size_name(p->page_size_kib);
        printf("%s%s %"PRIu32"/%"PRIu32" free", i ? ", " : "", size, p->free,
               p->total);
        free(size);
    }
    printf("\n");
}

static void
print_nics(const NodeInfoResponse *r)
{
    printf("\n%-16s %-18s %-5s %6s %10s  %s\n", "NIC", "MAC", "UP", "MTU",
           "SPEED", "ADDRESSES");
    for (size_t i = 0; i < r->n_network; i++) {
        const Limiquantix__Node__V1__NetworkInfo *n = r->network[i];
        struct ds addrs = DS_EMPTY_INITIALIZER;
        for (size_t j = 0; j < n->n_ip_addresses; j++) {
            ds_put_format(&addrs, "%s%s", j ? "," : "", n->ip_addresses[j]);
        }
        char *speed = n->speed_mbps
                      ? xasprintf("%"PRIu64"Mb/s", n->speed_mbps)
                      : xstrdup("-");
        printf("%-16s %-18s %-5s %6"PRIu32" %10s  %s\n", n->name,
               *n->mac_address ? n->mac_address : "-", n->up ? "yes" : "no",
               n->mtu, speed, ds_cstr(&addrs));
        free(speed);
        ds_destroy(&addrs);
    }
}

static void
print_storage(const NodeInfoResponse *r)
{
    printf("\n%-20s %-24s %-8s %10s %10s\n", "FILESYSTEM", "MOUNTED ON",
           "TYPE", "SIZE", "AVAIL");
    for (size_t i = 0; i < r->n_storage; i++) {
        const Limiquantix__Node__V1__StorageInfo *fs = r->storage[i];
        char *size = human_bytes(fs->total_bytes);
        char *av = human_bytes(fs->available_bytes);
        printf("%-20s %-24s %-8s %10s %10s\n", fs->device, fs->mount_point,
               fs->filesystem, size, av);
        free(size);
        free(av);
    }

    printf("\n%-12s %10s  %-10s %s\n", "DISK", "SIZE", "KIND", "MODEL");
    for (size_t i = 0; i < r->n_disks; i++) {
        const Limiquantix__Node__V1__DiskInfo *d = r->disks[i];
        char *size = human_bytes(d->size_bytes);
        printf("%-12s %10s  %-10s %s\n", d->name, size,
               d->rotational ? "rotational" : "solid", d->model);
        free(size);
    }
}

static void
print_node_info(const NodeInfoResponse *r)
{
    static const Limiquantix__Node__V1__CpuInfo no_cpu
        = LIMIQUANTIX__NODE__V1__CPU_INFO__INIT;
    static const Limiquantix__Node__V1__MemoryInfo no_memory
        = LIMIQUANTIX__NODE__V1__MEMORY_INFO__INIT;
    const Limiquantix__Node__V1__CpuInfo *cpu = r->cpu ? r->cpu : &no_cpu;
    const Limiquantix__Node__V1__MemoryInfo *mem
        = r->memory ? r->memory : &no_memory;
    char *total = human_bytes(mem->total_bytes);
    char *avail = human_bytes(mem->available_bytes);

    printf("Node ID:             %s\n"
           "Hostname:            %s\n"
           "Management IP:       %s\n"
           "CPU:                 %s\n"
           "                     %"PRIu32" socket(s) x %"PRIu32" core(s) x "
           "%"PRIu32" thread(s) = %"PRIu32", %"PRIu64" MHz, %zu flags\n"
           "Memory:              %s total, %s available\n",
           r->node_id, r->hostname, r->management_ip, cpu->model,
           cpu->sockets, cpu->cores_per_socket, cpu->threads_per_core,
           cpu->total_threads, cpu->frequency_mhz, cpu->n_features, total,
           avail);
    free(total);
    free(avail);
    print_datapath(r);
    print_nics(r);
    print_storage(r);
}

static int
cmd_node(struct cli *cli, int argc, char *argv[])
{
    if (argc != 1 || strcmp(argv[0], "info")) {
        fprintf(stderr, "lqctl: usage: lqctl node info\n");
        return 2;
    }
    ProtobufCMessage *r = call_empty(cli, "GetNodeInfo");
    if (!r) {
        return 1;
    }
    if (cli->json_output) {
        print_message(r);
    } else {
        print_node_info((const NodeInfoResponse *) r);
    }
    protobuf_c_message_free_unpacked(r, NULL);
    return 0;
}

static int
cmd_call(struct cli *cli, int argc, char *argv[])
{
    if (argc < 1 || argc > 2 || !strchr(argv[0], '/')) {
        fprintf(stderr, "lqctl: usage: lqctl call SERVICE/METHOD [JSON]\n");
        return 2;
    }
    struct json *req;
    const char *text = argc == 2 ? argv[1] : "{}";
    struct lq_error *error = lq_json_parse_object(text, strlen(text), &req);
    if (error) {
        fprintf(stderr, "lqctl: JSON argument: %s\n", error->message);
        lq_error_free(error);
        return 2;
    }
    struct json *r = cli_call_json(cli, argv[0][0] == '/' ? argv[0] + 1
                                   : argv[0], req);
    json_destroy(req);
    if (!r) {
        return 1;
    }
    print_json(r);
    json_destroy(r);
    return 0;
}

int
main(int argc, char *argv[])
{
    enum { OPT_SERVER = 256, OPT_CERT, OPT_KEY, OPT_CA, OPT_SANDBOX };
    static const struct option long_options[] = {
        { "socket", required_argument, NULL, 's' },
        { "sandbox", required_argument, NULL, OPT_SANDBOX },
        { "server", required_argument, NULL, OPT_SERVER },
        { "cert", required_argument, NULL, OPT_CERT },
        { "key", required_argument, NULL, OPT_KEY },
        { "ca", required_argument, NULL, OPT_CA },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct cli cli;
    int c;

    set_program_name(argv[0]);
    memset(&cli, 0, sizeof cli);
    cli.socket = xstrdup(getenv("LQ_SOCKET") ? getenv("LQ_SOCKET")
                                             : DEFAULT_SOCKET);
    cli.http.timeout_ms = 60000;
    while ((c = getopt_long(argc, argv, "+s:o:h", long_options, NULL)) != -1) {
        switch (c) {
        case 's':
            free(cli.socket);
            cli.socket = xstrdup(optarg);
            break;
        case OPT_SANDBOX:
            free(cli.socket);
            cli.socket = xasprintf("%s/node.sock", optarg);
            if (!getenv("OVN_NB_DB")) {
                /* lqctl nb/net/sg read the sandbox's Northbound DB. */
                char *db = xasprintf("unix:%s/ovn/nb.sock", optarg);
                setenv("OVN_NB_DB", db, 1);
                free(db);
            }
            if (!getenv("OVN_SB_DB")) {
                /* lqctl net trace runs ovn-trace on its Southbound DB. */
                char *db = xasprintf("unix:%s/ovn/sb.sock", optarg);
                setenv("OVN_SB_DB", db, 1);
                free(db);
            }
            break;
        case OPT_SERVER: cli.server = optarg; break;
        case OPT_CERT: cli.http.cert_path = optarg; break;
        case OPT_KEY: cli.http.key_path = optarg; break;
        case OPT_CA: cli.http.ca_path = optarg; break;
        case 'o':
            if (!strcmp(optarg, "json")) {
                cli.json_output = true;
            } else if (strcmp(optarg, "table")) {
                fprintf(stderr, "lqctl: --output: expected table or json, "
                        "got \"%s\"\n", optarg);
                free(cli.socket);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            free(cli.socket);
            return 0;
        default:
            usage(stderr);
            free(cli.socket);
            return 2;
        }
    }

    int rc;
    argc -= optind;
    argv += optind;
    if (!argc) {
        usage(stderr);
        rc = 2;
    } else if (!strcmp(argv[0], "health")) {
        rc = cmd_health(&cli, argc - 1, argv + 1);
    } else if (!strcmp(argv[0], "node")) {
        rc = cmd_node(&cli, argc - 1, argv + 1);
    } else if (!strcmp(argv[0], "pool")) {
        rc = cmd_pool(&cli, argc - 1, argv + 1);
    } else if (!strcmp(argv[0], "volume")) {
        rc = cmd_volume(&cli, argc - 1, argv + 1);
    } else if (!strcmp(argv[0], "call")) {
        rc = cmd_call(&cli, argc - 1, argv + 1);
    } else if (!strcmp(argv[0], "nb")) {
        rc = cmd_nb(argc, argv);
    } else if (!strcmp(argv[0], "net")) {
        rc = cmd_net(argc, argv);
    } else if (!strcmp(argv[0], "sg")) {
        rc = cmd_sg(argc, argv);
    } else {
        fprintf(stderr, "lqctl: unknown command \"%s\" (try lqctl --help)\n",
                argv[0]);
        rc = 2;
    }
    free(cli.socket);
    return rc;
}
