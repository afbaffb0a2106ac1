/* lqctl_storage.c: `lqctl pool …` and `lqctl volume …`.
 *
 * Thin clients of limiquantix.storage.v1: each command builds a request,
 * calls the daemon and prints a table (or the reply with -o json).  An
 * import polls GetVolume and draws a progress bar on a terminal. */
#include <config.h>
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonx.h"
#include "util.h"
#include "uuid.h"

#define POOLS "limiquantix.storage.v1.StoragePoolService/"
#define VOLUMES "limiquantix.storage.v1.VolumeService/"

/* "10G", "512M", "4096" -> bytes; false if malformed. */
static bool
parse_size(const char *s, unsigned long long *bytes)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-') {
        return false;
    }
    int shift = 0;
    switch (*end) {
    case '\0': break;
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    case 'T': case 't': shift = 40; end++; break;
    default: return false;
    }
    if (*end == 'i') {
        end++;
    }
    if (*end == 'B' || *end == 'b') {
        end++;
    }
    if (*end || (shift && v > (~0ULL >> shift))) {
        return false;
    }
    *bytes = v << shift;
    return true;
}

static char *
new_uuid(void)
{
    struct uuid u;
    uuid_generate(&u);
    return xasprintf(UUID_FMT, UUID_ARGS(&u));
}

/* Calls, prints JSON or hands the reply to 'print'. */
static int
run(struct cli *cli, const char *path, struct json *request,
    void (*print)(const struct json *))
{
    struct json *r = cli_call(cli, path, request);
    json_destroy(request);
    if (!r) {
        return 1;
    }
    if (cli->json_output || !print) {
        print_json(r);
    } else {
        print(r);
    }
    json_destroy(r);
    return 0;
}

static void
print_pools(const struct json *r)
{
    const struct json_array *pools = cli_array(r, "pools");
    printf("%-16s %-9s %-12s %10s %10s %10s\n", "POOL", "BACKEND", "HEALTH",
           "CAPACITY", "ALLOCATED", "AVAILABLE");
    for (size_t i = 0; i < pools->n; i++) {
        const struct json *p = pools->elems[i];
        char *c = human_bytes(cli_num(p, "capacityBytes"));
        char *a = human_bytes(cli_num(p, "allocatedBytes"));
        char *v = human_bytes(cli_num(p, "availableBytes"));
        printf("%-16s %-9s %-12s %10s %10s %10s%s%s\n", cli_str(p, "id"),
               cli_str(p, "backend"), cli_str(p, "health"), c, a, v,
               *cli_str(p, "message") ? "  " : "", cli_str(p, "message"));
        free(c);
        free(a);
        free(v);
    }
}

int
cmd_pool(struct cli *cli, int argc, char *argv[])
{
    if (argc != 1 || strcmp(argv[0], "list")) {
        fprintf(stderr, "lqctl: usage: lqctl pool list\n");
        return 2;
    }
    return run(cli, POOLS "ListPools", json_object_create(), print_pools);
}

static void
print_volume_row(const struct json *v)
{
    char *size = human_bytes(cli_num(v, "sizeBytes"));
    char *alloc = human_bytes(cli_num(v, "allocatedBytes"));
    printf("%-36s %-12s %-20s %-10s %10s %10s\n", cli_str(v, "id"),
           cli_str(v, "poolId"), cli_str(v, "name"), cli_str(v, "state"),
           size, alloc);
    free(size);
    free(alloc);
}

static void
print_volumes(const struct json *r)
{
    const struct json_array *vols = cli_array(r, "volumes");
    printf("%-36s %-12s %-20s %-10s %10s %10s\n", "VOLUME", "POOL", "NAME",
           "STATE", "SIZE", "ALLOCATED");
    for (size_t i = 0; i < vols->n; i++) {
        print_volume_row(vols->elems[i]);
    }
}

static void
print_volume(const struct json *v)
{
    char *size = human_bytes(cli_num(v, "sizeBytes"));
    char *alloc = human_bytes(cli_num(v, "allocatedBytes"));
    const struct json *parent = lq_json_field(v, "parent");
    printf("ID:          %s\nPool:        %s\nName:        %s\n"
           "State:       %s%s%s\nSize:        %s (%s allocated)\n"
           "Attached:    %s\nBackend:     %s\n",
           cli_str(v, "id"), cli_str(v, "poolId"), cli_str(v, "name"),
           cli_str(v, "state"), *cli_str(v, "errorMessage") ? ": " : "",
           cli_str(v, "errorMessage"), size, alloc,
           cli_bool(v, "attached") ? "yes" : "no", cli_str(v, "backendName"));
    if (parent) {
        printf("Parent:      %s@%s (clone depth %lld)\n",
               cli_str(parent, "volumeId"), cli_str(parent, "snapshotId"),
               cli_num(v, "cloneDepth"));
    }
    const struct json_array *snaps = cli_array(v, "snapshots");
    for (size_t i = 0; i < snaps->n; i++) {
        printf("Snapshot:    %s  %s%s\n", cli_str(snaps->elems[i], "id"),
               cli_str(snaps->elems[i], "name"),
               cli_bool(snaps->elems[i], "protected") ? " (protected)" : "");
    }
    free(size);
    free(alloc);
}

static void
print_snapshots(const struct json *r)
{
    const struct json_array *snaps = cli_array(r, "snapshots");
    printf("%-36s %-20s %10s %s\n", "SNAPSHOT", "NAME", "SIZE", "PROTECTED");
    for (size_t i = 0; i < snaps->n; i++) {
        const struct json *s = snaps->elems[i];
        char *size = human_bytes(cli_num(s, "sizeBytes"));
        printf("%-36s %-20s %10s %s\n", cli_str(s, "id"), cli_str(s, "name"),
               size, cli_bool(s, "protected") ? "yes" : "no");
        free(size);
    }
}

/* Polls GetVolume until the volume leaves "creating"; a bar on a tty. */
static int
wait_for_volume(struct cli *cli, const char *id)
{
    bool tty = isatty(STDERR_FILENO);
    for (;;) {
        struct json *req = json_object_create();
        json_object_put_string(req, "id", id);
        struct json *v = cli_call(cli, VOLUMES "GetVolume", req);
        json_destroy(req);
        if (!v) {
            return 1;
        }
        const char *state = cli_str(v, "state");
        long long pct = cli_num(v, "progressPercent");
        if (tty) {
            int filled = pct * 40 / 100;
            fprintf(stderr, "\r%-8s [%.*s%*s] %3lld%%", cli_str(v, "operation"),
                    filled, "########################################",
                    40 - filled, "", pct);
        }
        if (strcmp(state, "creating")) {
            if (tty) {
                fputc('\n', stderr);
            }
            int rc = !strcmp(state, "available") ? 0 : 1;
            if (rc) {
                fprintf(stderr, "lqctl: volume %s: %s\n", id,
                        cli_str(v, "errorMessage"));
            } else if (cli->json_output) {
                print_json(v);
            } else {
                print_volume(v);
            }
            json_destroy(v);
            return rc;
        }
        json_destroy(v);
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

static int
volume_create(struct cli *cli, int argc, char *argv[])
{
    static const struct option opts[] = {
        { "pool", required_argument, NULL, 'p' },
        { "size", required_argument, NULL, 's' },
        { "name", required_argument, NULL, 'n' },
        { "id", required_argument, NULL, 'i' },
        { "import", required_argument, NULL, 'f' },
        { "from-snapshot", required_argument, NULL, 'S' },
        { "no-wait", no_argument, NULL, 'W' },
        { NULL, 0, NULL, 0 },
    };
    const char *pool = NULL, *name = NULL, *image = NULL, *snap = NULL;
    unsigned long long size = 0;
    char *id = NULL;
    bool wait = true;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+p:s:n:i:f:S:W", opts, NULL)) != -1) {
        switch (c) {
        case 'p': pool = optarg; break;
        case 'n': name = optarg; break;
        case 'f': image = optarg; break;
        case 'S': snap = optarg; break;
        case 'W': wait = false; break;
        case 'i': free(id); id = xstrdup(optarg); break;
        case 's':
            if (!parse_size(optarg, &size)) {
                fprintf(stderr, "lqctl: --size: expected a size such as 10G, "
                        "got \"%s\"\n", optarg);
                free(id);
                return 2;
            }
            break;
        default:
            free(id);
            return 2;
        }
    }
    if (!pool || optind != argc) {
        fprintf(stderr, "lqctl: usage: lqctl volume create --pool POOL "
                "[--size SIZE] [--name NAME] [--id UUID] [--import FILE | "
                "--from-snapshot SNAPSHOT] [--no-wait]\n");
        free(id);
        return 2;
    }
    if (!id) {
        id = new_uuid();
    }

    struct json *req = json_object_create();
    json_object_put_string(req, "id", id);
    json_object_put_string(req, "poolId", pool);
    if (name) {
        json_object_put_string(req, "name", name);
    }
    if (size) {
        lq_json_put_uint64(req, "sizeBytes", size);
    }
    if (image || snap) {
        struct json *src = json_object_create();
        if (image) {
            /* The daemon opens the file: give it an absolute path. */
            char *cwd = image[0] == '/' ? NULL : getcwd(NULL, 0);
            char *abs = cwd ? xasprintf("%s/%s", cwd, image)
                            : xstrdup(image);
            free(cwd);
            json_object_put_string(src, "imagePath", abs);
            free(abs);
        } else {
            json_object_put_string(src, "snapshotId", snap);
        }
        json_object_put(req, "source", src);
    }
    struct json *r = cli_call(cli, VOLUMES "CreateVolume", req);
    json_destroy(req);
    int rc;
    if (!r) {
        rc = 1;
    } else if (wait && !strcmp(cli_str(r, "state"), "creating")) {
        rc = wait_for_volume(cli, id);
    } else {
        cli->json_output ? print_json(r) : print_volume(r);
        rc = 0;
    }
    json_destroy(r);
    free(id);
    return rc;
}

static struct json *
id_request(const char *key, const char *id)
{
    struct json *req = json_object_create();
    json_object_put_string(req, key, id);
    return req;
}

static int
volume_snapshot(struct cli *cli, int argc, char *argv[])
{
    if (argc >= 2 && !strcmp(argv[0], "list") && argc == 2) {
        return run(cli, VOLUMES "ListSnapshots", id_request("volumeId",
                                                            argv[1]),
                   print_snapshots);
    }
    if (argc >= 2 && !strcmp(argv[0], "create") && argc <= 3) {
        struct json *req = id_request("volumeId", argv[1]);
        char *id = new_uuid();
        json_object_put_string(req, "id", id);
        if (argc == 3) {
            json_object_put_string(req, "name", argv[2]);
        }
        free(id);
        return run(cli, VOLUMES "CreateSnapshot", req, print_snapshots);
    }
    if (argc == 3 && (!strcmp(argv[0], "delete")
                      || !strcmp(argv[0], "rollback"))) {
        struct json *req = id_request("volumeId", argv[1]);
        json_object_put_string(req, "id", argv[2]);
        return run(cli, !strcmp(argv[0], "delete")
                   ? VOLUMES "DeleteSnapshot" : VOLUMES "RollbackSnapshot",
                   req, NULL);
    }
    fprintf(stderr, "lqctl: usage: lqctl volume snapshot {list VOLUME | "
            "create VOLUME [NAME] | delete VOLUME SNAPSHOT | rollback VOLUME "
            "SNAPSHOT}\n");
    return 2;
}

int
cmd_volume(struct cli *cli, int argc, char *argv[])
{
    const char *sub = argc ? argv[0] : "";

    if (!strcmp(sub, "list") && argc <= 2) {
        struct json *req = json_object_create();
        if (argc == 2) {
            json_object_put_string(req, "poolId", argv[1]);
        }
        return run(cli, VOLUMES "ListVolumes", req, print_volumes);
    } else if (!strcmp(sub, "get") && argc == 2) {
        return run(cli, VOLUMES "GetVolume", id_request("id", argv[1]),
                   print_volume);
    } else if (!strcmp(sub, "create")) {
        return volume_create(cli, argc, argv);
    } else if (!strcmp(sub, "delete") && (argc == 2 || argc == 3)) {
        struct json *req = id_request("id", argv[1]);
        if (argc == 3) {
            if (strcmp(argv[2], "--force")) {
                json_destroy(req);
                goto usage;
            }
            json_object_put(req, "force", json_boolean_create(true));
        }
        return run(cli, VOLUMES "DeleteVolume", req, NULL);
    } else if (!strcmp(sub, "resize") && (argc == 3 || argc == 4)) {
        unsigned long long size;
        if (!parse_size(argv[2], &size)) {
            fprintf(stderr, "lqctl: SIZE: expected a size such as 10G, got "
                    "\"%s\"\n", argv[2]);
            return 2;
        }
        struct json *req = id_request("id", argv[1]);
        lq_json_put_uint64(req, "sizeBytes", size);
        if (argc == 4) {
            if (strcmp(argv[3], "--allow-shrink")) {
                json_destroy(req);
                goto usage;
            }
            json_object_put(req, "allowShrink", json_boolean_create(true));
        }
        return run(cli, VOLUMES "ResizeVolume", req, print_volume);
    } else if (!strcmp(sub, "flatten") && argc == 2) {
        struct json *r = cli_call(cli, VOLUMES "FlattenVolume",
                                  id_request("id", argv[1]));
        if (!r) {
            return 1;
        }
        json_destroy(r);
        return wait_for_volume(cli, argv[1]);
    } else if (!strcmp(sub, "snapshot")) {
        return volume_snapshot(cli, argc - 1, argv + 1);
    }
usage:
    fprintf(stderr, "lqctl: usage: lqctl volume {list [POOL] | get ID | "
            "create --pool POOL ... | delete ID [--force] | resize ID SIZE "
            "[--allow-shrink] | flatten ID | snapshot ...}\n");
    return 2;
}
