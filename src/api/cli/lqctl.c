/* lqctl.c: the node CLI.
 *
 * Talks Connect/JSON to limiquantix-node over its Unix socket (default) or
 * over HTTPS with a client certificate (--server/--cert/--key/--ca), and
 * prints human tables by default or the raw reply with -o json.
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
"  volume list [POOL] | get ID | create --pool P [--size S] [--import FILE |\n"
"         --from-snapshot SNAP] | delete ID [--force] | resize ID SIZE\n"
"         [--allow-shrink] | flatten ID | snapshot {list|create|delete|\n"
"         rollback} VOLUME [...]\n"
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

static int
cmd_health(struct cli *cli, int argc, char *argv[] OVS_UNUSED)
{
    if (argc) {
        fprintf(stderr, "lqctl: health takes no arguments\n");
        return 2;
    }
    struct json *req = json_object_create();
    struct json *r = cli_call(cli, NODE_SERVICE "/HealthCheck", req);
    json_destroy(req);
    if (!r) {
        return 1;
    }
    if (cli->json_output) {
        print_json(r);
    } else {
        char *up = human_duration(cli_num(r, "uptimeSeconds"));
        printf("Healthy:             %s\n"
               "Version:             %s\n"
               "Hypervisor:          %s %s\n"
               "Uptime:              %s\n",
               cli_bool(r, "healthy") ? "yes" : "NO", cli_str(r, "version"),
               cli_str(r, "hypervisor"), cli_str(r, "hypervisorVersion"), up);
        free(up);
        const struct json_array *problems = cli_array(r, "problems");
        for (size_t i = 0; i < problems->n; i++) {
            if (problems->elems[i]->type == JSON_STRING) {
                printf("Problem:             %s\n",
                       json_string(problems->elems[i]));
            }
        }
    }
    json_destroy(r);
    return 0;
}

/* "Datapath: dpdk (PMD cores 1-3)" and "Hugepages: 2M 16/16 free, ...". */
static void
print_datapath(const struct json *r)
{
    const struct json_array *cores = cli_array(r, "pmdCores");
    printf("Datapath:            %s", cli_str(r, "datapath"));
    if (cores->n) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (size_t i = 0; i < cores->n; i++) {
            if (cores->elems[i]->type == JSON_INTEGER
                && json_integer(cores->elems[i]) >= 0
                && json_integer(cores->elems[i]) < CPU_SETSIZE) {
                CPU_SET(json_integer(cores->elems[i]), &set);
            }
        }
        char *list = lq_cpu_list_format(&set);
        printf(" (PMD cores %s)", list);
        free(list);
    }

    const struct json_array *pages = cli_array(r, "hugepages");
    printf("\nHugepages:           %s", pages->n ? "" : "none");
    for (size_t i = 0; i < pages->n; i++) {
        const struct json *p = pages->elems[i];
        char *size = lq_hugepage_size_name(cli_num(p, "pageSizeKib"));
        printf("%s%s %lld/%lld free", i ? ", " : "", size,
               cli_num(p, "free"), cli_num(p, "total"));
        free(size);
    }
    printf("\n");
}

static void
print_node_info(const struct json *r)
{
    const struct json *cpu = lq_json_field(r, "cpu");
    const struct json *mem = lq_json_field(r, "memory");
    char *total = human_bytes(cli_num(mem, "totalBytes"));
    char *avail = human_bytes(cli_num(mem, "availableBytes"));

    printf("Node ID:             %s\n"
           "Hostname:            %s\n"
           "Management IP:       %s\n"
           "CPU:                 %s\n"
           "                     %lld socket(s) x %lld core(s) x %lld "
           "thread(s) = %lld, %lld MHz, %zu flags\n"
           "Memory:              %s total, %s available\n",
           cli_str(r, "nodeId"), cli_str(r, "hostname"), cli_str(r, "managementIp"),
           cli_str(cpu, "model"), cli_num(cpu, "sockets"), cli_num(cpu, "coresPerSocket"),
           cli_num(cpu, "threadsPerCore"), cli_num(cpu, "totalThreads"),
           cli_num(cpu, "frequencyMhz"), cli_array(cpu, "features")->n, total, avail);
    free(total);
    free(avail);
    print_datapath(r);

    printf("\n%-16s %-18s %-5s %6s %10s  %s\n", "NIC", "MAC", "UP", "MTU",
           "SPEED", "ADDRESSES");
    const struct json_array *nics = cli_array(r, "network");
    for (size_t i = 0; i < nics->n; i++) {
        const struct json *n = nics->elems[i];
        struct ds addrs = DS_EMPTY_INITIALIZER;
        const struct json_array *ips = cli_array(n, "ipAddresses");
        for (size_t j = 0; j < ips->n; j++) {
            ds_put_format(&addrs, "%s%s", j ? "," : "",
                          json_string(ips->elems[j]));
        }
        char *speed = cli_num(n, "speedMbps")
                      ? xasprintf("%lldMb/s", cli_num(n, "speedMbps"))
                      : xstrdup("-");
        printf("%-16s %-18s %-5s %6lld %10s  %s\n", cli_str(n, "name"),
               *cli_str(n, "macAddress") ? cli_str(n, "macAddress") : "-",
               cli_bool(n, "up") ? "yes" : "no", cli_num(n, "mtu"), speed,
               ds_cstr(&addrs));
        free(speed);
        ds_destroy(&addrs);
    }

    printf("\n%-20s %-24s %-8s %10s %10s\n", "FILESYSTEM", "MOUNTED ON",
           "TYPE", "SIZE", "AVAIL");
    const struct json_array *fss = cli_array(r, "storage");
    for (size_t i = 0; i < fss->n; i++) {
        const struct json *fs = fss->elems[i];
        char *size = human_bytes(cli_num(fs, "totalBytes"));
        char *av = human_bytes(cli_num(fs, "availableBytes"));
        printf("%-20s %-24s %-8s %10s %10s\n", cli_str(fs, "device"),
               cli_str(fs, "mountPoint"), cli_str(fs, "filesystem"), size, av);
        free(size);
        free(av);
    }

    printf("\n%-12s %10s  %-10s %s\n", "DISK", "SIZE", "KIND", "MODEL");
    const struct json_array *disks = cli_array(r, "disks");
    for (size_t i = 0; i < disks->n; i++) {
        const struct json *d = disks->elems[i];
        char *size = human_bytes(cli_num(d, "sizeBytes"));
        printf("%-12s %10s  %-10s %s\n", cli_str(d, "name"), size,
               cli_bool(d, "rotational") ? "rotational" : "solid",
               cli_str(d, "model"));
        free(size);
    }
}

static int
cmd_node(struct cli *cli, int argc, char *argv[])
{
    if (argc != 1 || strcmp(argv[0], "info")) {
        fprintf(stderr, "lqctl: usage: lqctl node info\n");
        return 2;
    }
    struct json *req = json_object_create();
    struct json *r = cli_call(cli, NODE_SERVICE "/GetNodeInfo", req);
    json_destroy(req);
    if (!r) {
        return 1;
    }
    if (cli->json_output) {
        print_json(r);
    } else {
        print_node_info(r);
    }
    json_destroy(r);
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
    struct json *r = cli_call(cli, argv[0][0] == '/' ? argv[0] + 1 : argv[0],
                              req);
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
