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

#include "http_client.h"
#include "jsonx.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "util.h"

#define NODE_SERVICE "limiquantix.node.v1.NodeDaemonService"
#define DEFAULT_SOCKET "/run/limiquantix/node.sock"

struct cli {
    const char *server;         /* https://host:port, or NULL: Unix socket. */
    char *socket;
    struct lq_http_client_options http;
    bool json_output;
};

static void
usage(FILE *out)
{
    fprintf(out,
"usage: lqctl [OPTIONS] COMMAND [ARGS]\n"
"Inspect and drive a limiquantix-node daemon.\n\n"
"Commands:\n"
"  health                   daemon health and versions\n"
"  node info                this host: CPU, memory, NICs, disks\n"
"  call SERVICE/METHOD [JSON]  any RPC, raw JSON in and out\n\n"
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

/* Calls 'method' of the node service; prints the error and returns NULL on
 * failure. */
static struct json *
cli_call(struct cli *cli, const char *path, const struct json *request)
{
    struct json *response;
    const char *base = cli->server ? cli->server : "http://localhost";
    cli->http.unix_socket = cli->server ? NULL : cli->socket;

    struct lq_error *error = lq_connect_call(&cli->http, base, path, request,
                                             &response);
    if (error) {
        fprintf(stderr, "lqctl: %s: %s\n", lq_code_name(error->code),
                error->message);
        lq_error_free(error);
        return NULL;
    }
    return response;
}

static void
print_json(const struct json *j)
{
    char *s = json_to_string(j, JSSF_PRETTY | JSSF_SORT);
    puts(s);
    free(s);
}

static const char *
str(const struct json *obj, const char *field)
{
    const struct json *v = lq_json_field(obj, field);
    return v && v->type == JSON_STRING ? json_string(v) : "";
}

static long long
num(const struct json *obj, const char *field)
{
    int64_t v = 0;
    lq_error_free(lq_json_get_int64(obj, field, &v));
    return v;
}

static bool
boolean(const struct json *obj, const char *field)
{
    bool b = false;
    lq_error_free(lq_json_get_bool(obj, field, &b));
    return b;
}

static const struct json_array *
array(const struct json *obj, const char *field)
{
    static const struct json_array empty = { 0, 0, NULL };
    const struct json *v = lq_json_field(obj, field);
    return v && v->type == JSON_ARRAY ? json_array(v) : &empty;
}

static char *
human_bytes(unsigned long long bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
        v /= 1024;
        u++;
    }
    return u ? xasprintf("%.1f %s", v, units[u]) : xasprintf("%llu B", bytes);
}

static char *
human_duration(long long s)
{
    if (s >= 86400) {
        return xasprintf("%lldd%lldh", s / 86400, s % 86400 / 3600);
    } else if (s >= 3600) {
        return xasprintf("%lldh%lldm", s / 3600, s % 3600 / 60);
    } else if (s >= 60) {
        return xasprintf("%lldm%llds", s / 60, s % 60);
    }
    return xasprintf("%llds", s);
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
        char *up = human_duration(num(r, "uptimeSeconds"));
        printf("Healthy:             %s\n"
               "Version:             %s\n"
               "Hypervisor:          %s %s\n"
               "Uptime:              %s\n",
               boolean(r, "healthy") ? "yes" : "NO", str(r, "version"),
               str(r, "hypervisor"), str(r, "hypervisorVersion"), up);
        free(up);
    }
    json_destroy(r);
    return 0;
}

static void
print_node_info(const struct json *r)
{
    const struct json *cpu = lq_json_field(r, "cpu");
    const struct json *mem = lq_json_field(r, "memory");
    char *total = human_bytes(num(mem, "totalBytes"));
    char *avail = human_bytes(num(mem, "availableBytes"));

    printf("Node ID:             %s\n"
           "Hostname:            %s\n"
           "Management IP:       %s\n"
           "CPU:                 %s\n"
           "                     %lld socket(s) x %lld core(s) x %lld "
           "thread(s) = %lld, %lld MHz, %zu flags\n"
           "Memory:              %s total, %s available\n",
           str(r, "nodeId"), str(r, "hostname"), str(r, "managementIp"),
           str(cpu, "model"), num(cpu, "sockets"), num(cpu, "coresPerSocket"),
           num(cpu, "threadsPerCore"), num(cpu, "totalThreads"),
           num(cpu, "frequencyMhz"), array(cpu, "features")->n, total, avail);
    free(total);
    free(avail);

    printf("\n%-16s %-18s %-5s %6s %10s  %s\n", "NIC", "MAC", "UP", "MTU",
           "SPEED", "ADDRESSES");
    const struct json_array *nics = array(r, "network");
    for (size_t i = 0; i < nics->n; i++) {
        const struct json *n = nics->elems[i];
        struct ds addrs = DS_EMPTY_INITIALIZER;
        const struct json_array *ips = array(n, "ipAddresses");
        for (size_t j = 0; j < ips->n; j++) {
            ds_put_format(&addrs, "%s%s", j ? "," : "",
                          json_string(ips->elems[j]));
        }
        char *speed = num(n, "speedMbps")
                      ? xasprintf("%lldMb/s", num(n, "speedMbps"))
                      : xstrdup("-");
        printf("%-16s %-18s %-5s %6lld %10s  %s\n", str(n, "name"),
               *str(n, "macAddress") ? str(n, "macAddress") : "-",
               boolean(n, "up") ? "yes" : "no", num(n, "mtu"), speed,
               ds_cstr(&addrs));
        free(speed);
        ds_destroy(&addrs);
    }

    printf("\n%-20s %-24s %-8s %10s %10s\n", "FILESYSTEM", "MOUNTED ON",
           "TYPE", "SIZE", "AVAIL");
    const struct json_array *fss = array(r, "storage");
    for (size_t i = 0; i < fss->n; i++) {
        const struct json *fs = fss->elems[i];
        char *size = human_bytes(num(fs, "totalBytes"));
        char *av = human_bytes(num(fs, "availableBytes"));
        printf("%-20s %-24s %-8s %10s %10s\n", str(fs, "device"),
               str(fs, "mountPoint"), str(fs, "filesystem"), size, av);
        free(size);
        free(av);
    }

    printf("\n%-12s %10s  %-10s %s\n", "DISK", "SIZE", "KIND", "MODEL");
    const struct json_array *disks = array(r, "disks");
    for (size_t i = 0; i < disks->n; i++) {
        const struct json *d = disks->elems[i];
        char *size = human_bytes(num(d, "sizeBytes"));
        printf("%-12s %10s  %-10s %s\n", str(d, "name"), size,
               boolean(d, "rotational") ? "rotational" : "solid",
               str(d, "model"));
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
    } else if (!strcmp(argv[0], "call")) {
        rc = cmd_call(&cli, argc - 1, argv + 1);
    } else {
        fprintf(stderr, "lqctl: unknown command \"%s\" (try lqctl --help)\n",
                argv[0]);
        rc = 2;
    }
    free(cli.socket);
    return rc;
}
