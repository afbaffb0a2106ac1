/* lqctl_storage.c: `lqctl pool …` and `lqctl volume …`.
 *
 * Thin clients of limiquantix.storage.v1: each command builds the
 * contract's request message, calls the daemon and prints a table from the
 * reply message (or the reply as JSON with -o json).  An
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

#include "pbmsg.h"
#include "util.h"
#include "uuid.h"

#include "limiquantix_storage_v1_storage.pb-c.h"

#define POOLS "limiquantix.storage.v1.StoragePoolService"
#define VOLUMES "limiquantix.storage.v1.VolumeService"

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

typedef Limiquantix__Storage__V1__Pool Pool;
typedef Limiquantix__Storage__V1__ListPoolsResponse ListPoolsResponse;
typedef Limiquantix__Storage__V1__Volume Volume;
typedef Limiquantix__Storage__V1__VolumeSource VolumeSource;
typedef Limiquantix__Storage__V1__ListVolumesResponse ListVolumesResponse;
typedef Limiquantix__Storage__V1__ListImagesResponse ListImagesResponse;
typedef Limiquantix__Storage__V1__Snapshot Snapshot;
typedef Limiquantix__Storage__V1__ListSnapshotsResponse ListSnapshotsResponse;

typedef void print_fn(const ProtobufCMessage *);

/* Calls, prints JSON or hands the reply to 'print'; frees 'request'. */
static int
run(struct cli *cli, const char *service, const char *method,
    ProtobufCMessage *request, print_fn *print)
{
    ProtobufCMessage *r = cli_call(cli, service, method, request);
    protobuf_c_message_free_unpacked(request, NULL);
    if (!r) {
        return 1;
    }
    if (cli->json_output || !print) {
        print_message(r);
    } else {
        print(r);
    }
    protobuf_c_message_free_unpacked(r, NULL);
    return 0;
}

static void
print_pools(const ProtobufCMessage *m)
{
    const ListPoolsResponse *r = (const ListPoolsResponse *) m;
    printf("%-16s %-9s %-12s %10s %10s %10s\n", "POOL", "BACKEND", "HEALTH",
           "CAPACITY", "ALLOCATED", "AVAILABLE");
    for (size_t i = 0; i < r->n_pools; i++) {
        const Pool *p = r->pools[i];
        char *c = human_bytes(p->capacity_bytes);
        char *a = human_bytes(p->allocated_bytes);
        char *v = human_bytes(p->available_bytes);
        printf("%-16s %-9s %-12s %10s %10s %10s%s%s\n", p->id, p->backend,
               p->health, c, a, v, *p->message ? "  " : "", p->message);
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
    return run(cli, POOLS, "ListPools",
               lq_pb_new(&limiquantix__storage__v1__list_pools_request__descriptor),
               print_pools);
}

static void
print_volume_row(const Volume *v)
{
    char *size = human_bytes(v->size_bytes);
    char *alloc = human_bytes(v->allocated_bytes);
    printf("%-36s %-12s %-20s %-10s %10s %10s\n", v->id, v->pool_id, v->name,
           v->state, size, alloc);
    free(size);
    free(alloc);
}

static void
print_volumes(const ProtobufCMessage *m)
{
    const ListVolumesResponse *r = (const ListVolumesResponse *) m;
    printf("%-36s %-12s %-20s %-10s %10s %10s\n", "VOLUME", "POOL", "NAME",
           "STATE", "SIZE", "ALLOCATED");
    for (size_t i = 0; i < r->n_volumes; i++) {
        print_volume_row(r->volumes[i]);
    }
}

/* The image library: base images, what they came from, their clones. */
static void
print_images(const ProtobufCMessage *m)
{
    const ListImagesResponse *r = (const ListImagesResponse *) m;
    printf("%-36s %-12s %-6s %6s %10s  %s\n", "IMAGE", "POOL", "SOURCE",
           "CLONES", "SIZE", "URL");
    for (size_t i = 0; i < r->n_images; i++) {
        const Limiquantix__Storage__V1__Image *img = r->images[i];
        const Volume *v = img->volume;
        char *size = human_bytes(v ? v->size_bytes : 0);
        printf("%-36s %-12s %-6s %6"PRIu32" %10s  %s\n", v ? v->id : "",
               v ? v->pool_id : "", img->source, img->clones, size,
               img->url);
        free(size);
    }
}

static void
print_volume(const ProtobufCMessage *m)
{
    const Volume *v = (const Volume *) m;
    char *size = human_bytes(v->size_bytes);
    char *alloc = human_bytes(v->allocated_bytes);
    printf("ID:          %s\nPool:        %s\nName:        %s\n"
           "State:       %s%s%s\nSize:        %s (%s allocated)\n"
           "Attached:    %s\nBackend:     %s\n",
           v->id, v->pool_id, v->name, v->state,
           *v->error_message ? ": " : "", v->error_message, size, alloc,
           v->attached ? "yes" : "no", v->backend_name);
    if (v->parent) {
        printf("Parent:      %s@%s (clone depth %"PRIu32")\n",
               v->parent->volume_id, v->parent->snapshot_id, v->clone_depth);
    }
    for (size_t i = 0; i < v->n_snapshots; i++) {
        const Snapshot *sn = v->snapshots[i];
        printf("Snapshot:    %s  %s%s\n", sn->id, sn->name,
               sn->protected_ ? " (protected)" : "");
    }
    free(size);
    free(alloc);
}

static void
print_snapshot_rows(Snapshot *const *snaps, size_t n)
{
    printf("%-36s %-20s %10s %s\n", "SNAPSHOT", "NAME", "SIZE", "PROTECTED");
    for (size_t i = 0; i < n; i++) {
        char *size = human_bytes(snaps[i]->size_bytes);
        printf("%-36s %-20s %10s %s\n", snaps[i]->id, snaps[i]->name, size,
               snaps[i]->protected_ ? "yes" : "no");
        free(size);
    }
}

static void
print_snapshots(const ProtobufCMessage *m)
{
    const ListSnapshotsResponse *r = (const ListSnapshotsResponse *) m;
    print_snapshot_rows(r->snapshots, r->n_snapshots);
}

static void
print_snapshot(const ProtobufCMessage *m)
{
    Snapshot *sn = (Snapshot *) m;
    print_snapshot_rows(&sn, 1);
}

static Volume *
get_volume(struct cli *cli, const char *id)
{
    Limiquantix__Storage__V1__GetVolumeRequest req
        = LIMIQUANTIX__STORAGE__V1__GET_VOLUME_REQUEST__INIT;
    req.id = (char *) id;
    return (Volume *) cli_call(cli, VOLUMES, "GetVolume", &req.base);
}

/* Polls GetVolume until the volume leaves "creating"; a bar on a tty. */
static int
wait_for_volume(struct cli *cli, const char *id)
{
    bool tty = isatty(STDERR_FILENO);
    for (;;) {
        Volume *v = get_volume(cli, id);
        if (!v) {
            return 1;
        }
        unsigned int pct = MIN(v->progress_percent, 100);
        if (tty) {
            int filled = pct * 40 / 100;
            fprintf(stderr, "\r%-8s [%.*s%*s] %3u%%", v->operation,
                    filled, "########################################",
                    40 - filled, "", pct);
        }
        if (strcmp(v->state, "creating")) {
            if (tty) {
                fputc('\n', stderr);
            }
            int rc = !strcmp(v->state, "available") ? 0 : 1;
            if (rc) {
                fprintf(stderr, "lqctl: volume %s: %s\n", id,
                        v->error_message);
            } else if (cli->json_output) {
                print_message(&v->base);
            } else {
                print_volume(&v->base);
            }
            protobuf_c_message_free_unpacked(&v->base, NULL);
            return rc;
        }
        protobuf_c_message_free_unpacked(&v->base, NULL);
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* The request of `volume create`; the daemon opens an image file itself,
 * so it gets an absolute path. */
static ProtobufCMessage *
create_volume_request(const char *id, const char *pool, const char *name,
                      unsigned long long size, const char *image,
                      const char *snap)
{
    Limiquantix__Storage__V1__CreateVolumeRequest *req = lq_pb_new(
        &limiquantix__storage__v1__create_volume_request__descriptor);
    req->id = lq_pb_str(id);
    req->pool_id = lq_pb_str(pool);
    req->name = lq_pb_str(name);
    req->size_bytes = size;
    if (image || snap) {
        VolumeSource *src
            = lq_pb_new(&limiquantix__storage__v1__volume_source__descriptor);
        if (image) {
            char *cwd = image[0] == '/' ? NULL : getcwd(NULL, 0);
            src->image_path = cwd ? xasprintf("%s/%s", cwd, image)
                                  : xstrdup(image);
            free(cwd);
        } else {
            src->snapshot_id = lq_pb_str(snap);
        }
        req->source = src;
    }
    return &req->base;
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

    ProtobufCMessage *req = create_volume_request(id, pool, name, size, image,
                                                  snap);
    Volume *v = (Volume *) cli_call(cli, VOLUMES, "CreateVolume", req);
    protobuf_c_message_free_unpacked(req, NULL);
    int rc;
    if (!v) {
        rc = 1;
    } else if (wait && !strcmp(v->state, "creating")) {
        rc = wait_for_volume(cli, id);
    } else {
        cli->json_output ? print_message(&v->base) : print_volume(&v->base);
        rc = 0;
    }
    if (v) {
        protobuf_c_message_free_unpacked(&v->base, NULL);
    }
    free(id);
    return rc;
}

/* A snapshot request {volumeId, id} (the create, delete and rollback
 * messages share these fields). */
static ProtobufCMessage *
snapshot_request(const ProtobufCMessageDescriptor *d, const char *volume,
                 const char *id)
{
    ProtobufCMessage *m = lq_pb_new(d);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const char *v = !strcmp(d->fields[i].name, "volume_id") ? volume
                        : !strcmp(d->fields[i].name, "id") ? id : NULL;
        if (v) {
            *(char **) ((char *) m + d->fields[i].offset) = lq_pb_str(v);
        }
    }
    return m;
}

static int
volume_snapshot(struct cli *cli, int argc, char *argv[])
{
    if (argc == 2 && !strcmp(argv[0], "list")) {
        return run(cli, VOLUMES, "ListSnapshots", snapshot_request(
            &limiquantix__storage__v1__list_snapshots_request__descriptor,
            argv[1], NULL), print_snapshots);
    }
    if (argc >= 2 && !strcmp(argv[0], "create") && argc <= 3) {
        char *id = new_uuid();
        Limiquantix__Storage__V1__CreateSnapshotRequest *req
            = (void *) snapshot_request(
                &limiquantix__storage__v1__create_snapshot_request__descriptor,
                argv[1], id);
        free(id);
        req->name = lq_pb_str(argc == 3 ? argv[2] : NULL);
        return run(cli, VOLUMES, "CreateSnapshot", &req->base,
                   print_snapshot);
    }
    if (argc == 3 && (!strcmp(argv[0], "delete")
                      || !strcmp(argv[0], "rollback"))) {
        bool delete = !strcmp(argv[0], "delete");
        return run(cli, VOLUMES, delete ? "DeleteSnapshot"
                   : "RollbackSnapshot", snapshot_request(delete
                   ? &limiquantix__storage__v1__delete_snapshot_request__descriptor
                   : &limiquantix__storage__v1__rollback_snapshot_request__descriptor,
                   argv[1], argv[2]), NULL);
    }
    fprintf(stderr, "lqctl: usage: lqctl volume snapshot {list VOLUME | "
            "create VOLUME [NAME] | delete VOLUME SNAPSHOT | rollback VOLUME "
            "SNAPSHOT}\n");
    return 2;
}

/* A request whose first field is the volume's id (GetVolume,
 * DeleteVolume, ResizeVolume, FlattenVolume). */
static void *
id_request(const ProtobufCMessageDescriptor *d, const char *id)
{
    ovs_assert(d->fields[0].type == PROTOBUF_C_TYPE_STRING
               && !strcmp(d->fields[0].name, "id"));
    ProtobufCMessage *m = lq_pb_new(d);
    *(char **) ((char *) m + d->fields[0].offset) = lq_pb_str(id);
    return m;
}

static int
volume_resize(struct cli *cli, int argc, char *argv[])
{
    unsigned long long size;
    if (!parse_size(argv[2], &size)) {
        fprintf(stderr, "lqctl: SIZE: expected a size such as 10G, got "
                "\"%s\"\n", argv[2]);
        return 2;
    }
    if (argc == 4 && strcmp(argv[3], "--allow-shrink")) {
        return -1;
    }
    Limiquantix__Storage__V1__ResizeVolumeRequest *req = id_request(
        &limiquantix__storage__v1__resize_volume_request__descriptor, argv[1]);
    req->size_bytes = size;
    req->allow_shrink = argc == 4;
    return run(cli, VOLUMES, "ResizeVolume", &req->base, print_volume);
}

int
cmd_volume(struct cli *cli, int argc, char *argv[])
{
    const char *sub = argc ? argv[0] : "";

    if (!strcmp(sub, "list") && argc <= 2) {
        Limiquantix__Storage__V1__ListVolumesRequest *req = lq_pb_new(
            &limiquantix__storage__v1__list_volumes_request__descriptor);
        req->pool_id = lq_pb_str(argc == 2 ? argv[1] : NULL);
        return run(cli, VOLUMES, "ListVolumes", &req->base, print_volumes);
    } else if (!strcmp(sub, "images") && argc <= 2) {
        Limiquantix__Storage__V1__ListImagesRequest *req = lq_pb_new(
            &limiquantix__storage__v1__list_images_request__descriptor);
        req->pool_id = lq_pb_str(argc == 2 ? argv[1] : NULL);
        return run(cli, VOLUMES, "ListImages", &req->base, print_images);
    } else if (!strcmp(sub, "get") && argc == 2) {
        return run(cli, VOLUMES, "GetVolume", id_request(
            &limiquantix__storage__v1__get_volume_request__descriptor,
            argv[1]), print_volume);
    } else if (!strcmp(sub, "create")) {
        return volume_create(cli, argc, argv);
    } else if (!strcmp(sub, "delete") && (argc == 2 || argc == 3)) {
        if (argc == 3 && strcmp(argv[2], "--force")) {
            goto usage;
        }
        Limiquantix__Storage__V1__DeleteVolumeRequest *req = id_request(
            &limiquantix__storage__v1__delete_volume_request__descriptor,
            argv[1]);
        req->force = argc == 3;
        return run(cli, VOLUMES, "DeleteVolume", &req->base, NULL);
    } else if (!strcmp(sub, "resize") && (argc == 3 || argc == 4)) {
        int rc = volume_resize(cli, argc, argv);
        if (rc >= 0) {
            return rc;
        }
    } else if (!strcmp(sub, "flatten") && argc == 2) {
        ProtobufCMessage *req = id_request(
            &limiquantix__storage__v1__flatten_volume_request__descriptor,
            argv[1]);
        ProtobufCMessage *r = cli_call(cli, VOLUMES, "FlattenVolume", req);
        protobuf_c_message_free_unpacked(req, NULL);
        if (!r) {
            return 1;
        }
        protobuf_c_message_free_unpacked(r, NULL);
        return wait_for_volume(cli, argv[1]);
    } else if (!strcmp(sub, "snapshot")) {
        return volume_snapshot(cli, argc - 1, argv + 1);
    }
usage:
    fprintf(stderr, "lqctl: usage: lqctl volume {list [POOL] | images "
            "[POOL] | get ID | "
            "create --pool POOL ... | delete ID [--force] | resize ID SIZE "
            "[--allow-shrink] | flatten ID | snapshot ...}\n");
    return 2;
}
