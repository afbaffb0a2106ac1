/* rpc_storage.c: limiquantix.storage.v1 StoragePoolService and
 * VolumeService, thin wrappers over limiquantix/storage.h.
 *
 * JSON shapes follow proto/limiquantix/storage/v1/storage.proto (proto3
 * JSON mapping: lowerCamelCase, 64-bit integers as strings).  Every method
 * is blocking: it may talk to the cluster, so it runs on the worker pool;
 * the storage C API is thread-safe. */
#include <config.h>
#include "rpc_storage.h"

#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "limiquantix/node.h"
#include "limiquantix/storage.h"
#include "rpc.h"
#include "util.h"

#define POOL_SERVICE "limiquantix.storage.v1.StoragePoolService"
#define VOLUME_SERVICE "limiquantix.storage.v1.VolumeService"

static struct lq_error *
get_storage(struct lq_node *node, struct lq_storage **sp)
{
    *sp = lq_node_storage(node);
    return *sp ? NULL : lq_error_new(LQ_UNAVAILABLE, "storage is not "
                                     "configured on this node");
}

/* A uint64 request field (proto uint64: string or number, not negative). */
static struct lq_error *
get_uint64(const struct json *obj, const char *field, uint64_t *out)
{
    int64_t v = 0;
    struct lq_error *error = lq_json_get_int64(obj, field, &v);
    if (!error && v < 0) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "%s: must not be negative",
                             field);
    }
    if (!error) {
        *out = v;
    }
    return error;
}

/* An empty string means "not set", as in proto3. */
static struct lq_error *
get_opt_string(const struct json *obj, const char *field, const char **out)
{
    const char *s = NULL;
    struct lq_error *error = lq_json_get_string(obj, field, &s);
    *out = s && *s ? s : NULL;
    return error;
}

struct json *
lq_snapshot_to_json(const struct lq_snapshot_info *s)
{
    struct json *j = json_object_create();
    lq_json_put_string(j, "id", s->id);
    lq_json_put_string(j, "volumeId", s->volume_id);
    lq_json_put_string(j, "name", s->name);
    lq_json_put_uint64(j, "sizeBytes", s->size_bytes);
    lq_json_put_int64(j, "createdAt", s->created_at);
    lq_json_put_bool(j, "protected", s->protected_);
    return j;
}

struct json *
lq_volume_to_json(const struct lq_volume_info *v)
{
    struct json *j = json_object_create();
    lq_json_put_string(j, "id", v->id);
    lq_json_put_string(j, "poolId", v->pool_id);
    lq_json_put_string(j, "name", v->name);
    lq_json_put_string(j, "state", lq_volume_state_name(v->state));
    lq_json_put_uint32(j, "progressPercent", v->progress_percent);
    lq_json_put_string(j, "operation", v->operation ? v->operation : "");
    lq_json_put_string(j, "errorMessage",
                       v->error_message ? v->error_message : "");
    lq_json_put_uint64(j, "sizeBytes", v->size_bytes);
    lq_json_put_uint64(j, "allocatedBytes", v->allocated_bytes);
    if (v->parent_volume_id) {
        struct json *p = json_object_create();
        lq_json_put_string(p, "volumeId", v->parent_volume_id);
        lq_json_put_string(p, "snapshotId", v->parent_snapshot_id
                           ? v->parent_snapshot_id : "");
        json_object_put(j, "parent", p);
    }
    lq_json_put_uint32(j, "cloneDepth", v->clone_depth);
    lq_json_put_bool(j, "attached", v->attached);
    lq_json_put_int64(j, "createdAt", v->created_at);
    lq_json_put_string(j, "backendName",
                       v->backend_name ? v->backend_name : "");
    struct json *snaps = json_array_create_empty();
    for (size_t i = 0; i < v->n_snapshots; i++) {
        json_array_add(snaps, lq_snapshot_to_json(&v->snapshots[i]));
    }
    json_object_put(j, "snapshots", snaps);
    return j;
}

static struct lq_error *
volume_reply(struct lq_error *error, struct lq_volume_info *v,
             struct json **responsep)
{
    if (!error) {
        *responsep = lq_volume_to_json(v);
    }
    lq_volume_info_free(v);
    return error;
}

/* ---- StoragePoolService ---------------------------------------------------- */

static struct lq_error *
list_pools(struct lq_node *node, const struct json *request OVS_UNUSED,
           struct json **responsep)
{
    struct lq_storage *s;
    struct lq_pool_status *pools;
    size_t n;
    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = lq_storage_list_pools(s, &pools, &n);
    }
    if (error) {
        return error;
    }
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < n; i++) {
        struct json *j = json_object_create();
        lq_json_put_string(j, "id", pools[i].id);
        lq_json_put_string(j, "backend", pools[i].backend);
        lq_json_put_uint64(j, "capacityBytes", pools[i].capacity_bytes);
        lq_json_put_uint64(j, "allocatedBytes", pools[i].allocated_bytes);
        lq_json_put_uint64(j, "availableBytes", pools[i].available_bytes);
        lq_json_put_string(j, "health", pools[i].health);
        lq_json_put_string(j, "message", pools[i].message);
        json_array_add(a, j);
    }
    lq_pool_status_free_array(pools, n);
    *responsep = json_object_create();
    json_object_put(*responsep, "pools", a);
    return NULL;
}

/* ---- VolumeService ------------------------------------------------------- */

static struct lq_error *
create_volume(struct lq_node *node, const struct json *req,
              struct json **responsep)
{
    struct lq_storage *s;
    struct lq_volume_spec spec;
    memset(&spec, 0, sizeof spec);

    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = get_opt_string(req, "id", &spec.id);
    }
    if (!error) {
        error = get_opt_string(req, "poolId", &spec.pool_id);
    }
    if (!error) {
        error = get_opt_string(req, "name", &spec.name);
    }
    if (!error) {
        error = get_uint64(req, "sizeBytes", &spec.size_bytes);
    }
    const struct json *source = lq_json_field(req, "source");
    if (!error && source && source->type != JSON_OBJECT) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "source: expected an "
                             "object, got %s",
                             json_type_to_string(source->type));
    }
    if (!error && source) {
        error = get_opt_string(source, "snapshotId",
                               &spec.source_snapshot_id);
        if (!error) {
            error = get_opt_string(source, "volumeId",
                                   &spec.source_volume_id);
        }
        if (!error) {
            error = get_opt_string(source, "imagePath",
                                   &spec.source_image_path);
        }
        if (error) {
            error = lq_error_prefix(error, "source");
        }
    }
    if (error) {
        return error;
    }
    struct lq_volume_info *v = NULL;
    error = lq_volume_create(s, &spec, &v);
    return volume_reply(error, v, responsep);
}

static struct lq_error *
get_volume(struct lq_node *node, const struct json *req,
           struct json **responsep)
{
    struct lq_storage *s;
    const char *id = NULL;
    struct lq_volume_info *v = NULL;
    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = get_opt_string(req, "id", &id);
    }
    if (!error) {
        error = lq_volume_get(s, id, &v);
    }
    return volume_reply(error, v, responsep);
}

static struct lq_error *
list_volumes(struct lq_node *node, const struct json *req,
             struct json **responsep)
{
    struct lq_storage *s;
    const char *pool_id = NULL;
    struct lq_volume_list list;
    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = get_opt_string(req, "poolId", &pool_id);
    }
    if (!error) {
        error = lq_volume_list(s, pool_id, &list);
    }
    if (error) {
        return error;
    }
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < list.n; i++) {
        json_array_add(a, lq_volume_to_json(list.volumes[i]));
    }
    lq_volume_list_clear(&list);
    *responsep = json_object_create();
    json_object_put(*responsep, "volumes", a);
    return NULL;
}

static struct lq_error *
resize_volume(struct lq_node *node, const struct json *req,
              struct json **responsep)
{
    struct lq_storage *s;
    const char *id = NULL;
    uint64_t size = 0;
    bool allow_shrink = false;
    struct lq_volume_info *v = NULL;
    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = get_opt_string(req, "id", &id);
    }
    if (!error) {
        error = get_uint64(req, "sizeBytes", &size);
    }
    if (!error) {
        error = lq_json_get_bool(req, "allowShrink", &allow_shrink);
    }
    if (!error) {
        error = lq_volume_resize(s, id, size, allow_shrink, &v);
    }
    return volume_reply(error, v, responsep);
}

static struct lq_error *
delete_volume(struct lq_node *node, const struct json *req,
              struct json **responsep)
{
    struct lq_storage *s;
    const char *id = NULL;
    bool force = false;
    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = get_opt_string(req, "id", &id);
    }
    if (!error) {
        error = lq_json_get_bool(req, "force", &force);
    }
    if (!error) {
        error = lq_volume_delete(s, id, force);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    return error;
}

static struct lq_error *
flatten_volume(struct lq_node *node, const struct json *req,
               struct json **responsep)
{
    struct lq_storage *s;
    const char *id = NULL;
    struct lq_volume_info *v = NULL;
    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = get_opt_string(req, "id", &id);
    }
    if (!error) {
        error = lq_volume_flatten(s, id, &v);
    }
    return volume_reply(error, v, responsep);
}

static struct lq_error *
create_snapshot(struct lq_node *node, const struct json *req,
                struct json **responsep)
{
    struct lq_storage *s;
    const char *vid = NULL, *id = NULL, *name = NULL;
    struct lq_snapshot_info *snap = NULL;
    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = get_opt_string(req, "volumeId", &vid);
    }
    if (!error) {
        error = get_opt_string(req, "id", &id);
    }
    if (!error) {
        error = get_opt_string(req, "name", &name);
    }
    if (!error) {
        error = lq_snapshot_create(s, vid, id, name, &snap);
    }
    if (!error) {
        *responsep = lq_snapshot_to_json(snap);
    }
    lq_snapshot_info_free(snap);
    return error;
}

static struct lq_error *
delete_snapshot(struct lq_node *node, const struct json *req,
                struct json **responsep)
{
    struct lq_storage *s;
    const char *vid = NULL, *id = NULL;
    bool force = false;
    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = get_opt_string(req, "volumeId", &vid);
    }
    if (!error) {
        error = get_opt_string(req, "id", &id);
    }
    if (!error) {
        error = lq_json_get_bool(req, "force", &force);
    }
    if (!error) {
        error = lq_snapshot_delete(s, vid, id, force);
    }
    if (!error) {
        *responsep = json_object_create();
    }
    return error;
}

static struct lq_error *
list_snapshots(struct lq_node *node, const struct json *req,
               struct json **responsep)
{
    struct lq_storage *s;
    const char *vid = NULL;
    struct lq_snapshot_info *snaps;
    size_t n;
    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = get_opt_string(req, "volumeId", &vid);
    }
    if (!error) {
        error = lq_snapshot_list(s, vid, &snaps, &n);
    }
    if (error) {
        return error;
    }
    struct json *a = json_array_create_empty();
    for (size_t i = 0; i < n; i++) {
        json_array_add(a, lq_snapshot_to_json(&snaps[i]));
    }
    lq_snapshot_info_free_array(snaps, n);
    *responsep = json_object_create();
    json_object_put(*responsep, "snapshots", a);
    return NULL;
}

static struct lq_error *
rollback_snapshot(struct lq_node *node, const struct json *req,
                  struct json **responsep)
{
    struct lq_storage *s;
    const char *vid = NULL, *id = NULL;
    struct lq_volume_info *v = NULL;
    struct lq_error *error = get_storage(node, &s);
    if (!error) {
        error = get_opt_string(req, "volumeId", &vid);
    }
    if (!error) {
        error = get_opt_string(req, "id", &id);
    }
    if (!error) {
        error = lq_snapshot_rollback(s, vid, id);
    }
    if (!error) {
        error = lq_volume_get(s, vid, &v);
    }
    return volume_reply(error, v, responsep);
}

static const struct lq_rpc_method storage_methods[] = {
    { POOL_SERVICE, "ListPools", list_pools, true, NULL },
    { VOLUME_SERVICE, "CreateVolume", create_volume, true, NULL },
    { VOLUME_SERVICE, "GetVolume", get_volume, true, NULL },
    { VOLUME_SERVICE, "ListVolumes", list_volumes, true, NULL },
    { VOLUME_SERVICE, "ResizeVolume", resize_volume, true, NULL },
    { VOLUME_SERVICE, "DeleteVolume", delete_volume, true, NULL },
    { VOLUME_SERVICE, "FlattenVolume", flatten_volume, true, NULL },
    { VOLUME_SERVICE, "CreateSnapshot", create_snapshot, true, NULL },
    { VOLUME_SERVICE, "DeleteSnapshot", delete_snapshot, true, NULL },
    { VOLUME_SERVICE, "ListSnapshots", list_snapshots, true, NULL },
    { VOLUME_SERVICE, "RollbackSnapshot", rollback_snapshot, true, NULL },
};

void
lq_rpc_storage_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, storage_methods, ARRAY_SIZE(storage_methods));
}
