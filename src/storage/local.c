/* local.c: the local storage driver: qcow2 files in one directory.
 *
 * Design decisions:
 * - Files: volume <id> is "lq-<id>.qcow2" and its metadata "lq-<id>.meta"
 *   (JSON: volume_id, name, spec, created_at, parent, snapshot names and
 *   sizes).  The directory alone is the truth: listing reads it, nothing
 *   is kept elsewhere.  A file without our metadata is not ours: it is
 *   neither listed nor deleted.
 * - Nothing half-made under the final name: a create writes
 *   "lq-tmp~<id>.qcow2" and "lq-tmp~<id>.meta", then renames the metadata
 *   and last the image (renameat2 RENAME_NOREPLACE), so the image under
 *   its final name is the "published" mark.  A delete removes the image
 *   first.  Leftovers of a crash are removed by the retry or a delete.
 * - Paths cannot escape the pool directory.  The directory is opened once
 *   per call; every file is one entry name built from a validated id
 *   (lq_pooldir_name_ok) and reached with openat()/fstatat() relative to
 *   that descriptor with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW: a symbolic
 *   link, a directory or a hard-linked file under one of our names is
 *   refused, never followed.  qemu-img gets the same entries as
 *   "/proc/<our pid>/fd/<dirfd>/<entry>", so it too resolves them inside
 *   the directory we opened, whatever the configured path points to
 *   later.  The format is always given (-f qcow2 / driver=qcow2), never
 *   probed, and a backing file other than our own base is refused.
 * - Snapshots are qcow2 internal snapshots (`qemu-img snapshot`), tag
 *   "lq-<sid>": one file per volume, no chain to manage, rollback in
 *   place.
 * - Clones are backing-file overlays.  An internal snapshot cannot be a
 *   backing file, so the first clone of snapshot <sid> of volume <vid>
 *   copies that snapshot once into a read-only base
 *   "lq-base~<vid>~<sid>.qcow2" (`qemu-img convert -l`), and every clone
 *   of it is an overlay on that base with a relative backing name.  The
 *   chain is therefore always one deep (no clone-depth limit needed), the
 *   parent stays writable, and the base lives exactly as long as its
 *   snapshot.  Flattening is `qemu-img rebase -b ""` (crash-safe in
 *   place: the overlay keeps its backing until all data is copied).
 * - "Attached" means some process holds QEMU's image locks (OFD locks on
 *   bytes 100..299 of the file); offline operations on an attached
 *   volume are refused, as qemu-img would refuse them anyway.
 * - Every qemu-img run is an argv array through lq_exec or
 *   lq_qemu_img_run; errors name the pool and volume, with the pool
 *   directory's real path instead of the /proc alias. */
#include <config.h>
#include "local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "exec.h"
#include "image.h"
#include "openvswitch/dynamic-string.h"
#include "pooldir.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "sset.h"
#include "jsonx.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(storage_local);

#define QEMU_IMG "qemu-img"
#define QIMG_TIMEOUT_MS (10 * 60 * 1000)
#define IMPORT_CONVERT_SHARE 30     /* % of progress for the reader. */

struct local_pool {
    char *id;
    char *path;
    struct ovs_mutex base_mutex;    /* Making a clone base. */
};


/* ---- Names (pure, unit-tested) ------------------------------------------ */

struct lq_error *
lq_local_check_pool_path(const char *field, const char *path)
{
    if (!path || !*path) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: required", field);
    }
    if (path[0] != '/') {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not an "
                            "absolute path", field, path);
    }
    if (strlen(path) > 3000) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: too long", field);
    }
    for (const char *p = path; *p; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: must not contain "
                                "control characters", field);
        }
    }
    const char *c = path + 1;
    while (*c) {
        size_t len = strcspn(c, "/");
        if (!len && c[0] == '/') {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" has an "
                                "empty component (\"//\")", field, path);
        }
        if ((len == 1 && c[0] == '.') || (len == 2 && !strncmp(c, "..", 2))) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" must not "
                                "contain \".\" or \"..\" components", field,
                                path);
        }
        c += len;
        if (*c == '/') {
            c++;
        }
    }
    return NULL;
}

char *
lq_local_volume_file(const char *id)
{
    return xasprintf("lq-%s.qcow2", id);
}

char *
lq_local_meta_file(const char *id)
{
    return xasprintf("lq-%s.meta", id);
}

char *
lq_local_tmp_file(const char *id, const char *ext)
{
    return xasprintf("lq-tmp~%s.%s", id, ext);
}

char *
lq_local_base_file(const char *vid, const char *sid)
{
    return xasprintf("lq-base~%s~%s.qcow2", vid, sid);
}

char *
lq_local_volume_id(const char *name)
{
    size_t len = strlen(name);
    if (len <= strlen("lq-.qcow2") || strncmp(name, "lq-", 3)
        || strcmp(name + len - 6, ".qcow2")) {
        return NULL;
    }
    char *id = xmemdup0(name + 3, len - 3 - 6);
    struct lq_error *e = lq_storage_check_id("id", id);
    if (e) {
        lq_error_free(e);
        free(id);
        return NULL;
    }
    return id;
}

bool
lq_local_backing_ok(const char *backing, const char *vid, const char *sid)
{
    if (!backing || !vid || !sid) {
        return false;
    }
    char *want = lq_local_base_file(vid, sid);
    bool ok = !strcmp(backing, want);
    free(want);
    return ok;
}

/* ---- qemu-img ------------------------------------------------------------ */

static struct lq_error *
qimg(const struct local_pool *p, const struct lq_pooldir *d, const char *vid,
     const char *const argv[], struct lq_exec_result *r)
{
    struct lq_error *e = lq_exec(argv, NULL, QIMG_TIMEOUT_MS, r);
    if (e) {
        e = lq_error_prefix(lq_pooldir_fix_paths(d, e), "pool %s: volume %s", p->id,
                            vid);
    }
    return e;
}

static struct lq_error *
qimg_long(const struct local_pool *p, const struct lq_pooldir *d, const char *vid,
          const char *const argv[], struct lq_job_progress *pr,
          unsigned int base, unsigned int share)
{
    struct lq_error *e = lq_qemu_img_run(argv, pr, base, share);
    if (e && e->code != LQ_CANCELED) {
        e = lq_error_prefix(lq_pooldir_fix_paths(d, e), "pool %s: volume %s", p->id,
                            vid);
    }
    return e;
}

struct qsnap {
    char *sid;                  /* From the tag "lq-<sid>". */
    int64_t date;
};

struct qinfo {
    uint64_t virtual_size;
    uint64_t actual_size;
    char *backing;              /* Backing file name as stored, or NULL. */
    struct qsnap *snaps;
    size_t n_snaps;
};

static void
qinfo_clear(struct qinfo *q)
{
    free(q->backing);
    for (size_t i = 0; i < q->n_snaps; i++) {
        free(q->snaps[i].sid);
    }
    free(q->snaps);
    memset(q, 0, sizeof *q);
}

static struct lq_error *
qinfo_get(const struct local_pool *p, const struct lq_pooldir *d, const char *vid,
          const char *name, struct qinfo *q)
{
    memset(q, 0, sizeof *q);
    char *path = lq_pooldir_path(d, name);
    const char *argv[] = { QEMU_IMG, "info", "-U", "-f", "qcow2",
                           "--output=json", path, NULL };
    struct lq_exec_result r;
    struct lq_error *e = qimg(p, d, vid, argv, &r);
    free(path);
    if (e) {
        lq_exec_result_clear(&r);
        return e;
    }
    struct json *j = json_from_string(r.out);
    lq_exec_result_clear(&r);
    const struct json *vs = lq_json_member(j, "virtual-size");
    if (!vs || vs->type != JSON_INTEGER) {
        json_destroy(j);
        return lq_error_new(LQ_INTERNAL, "pool %s: volume %s: cannot parse "
                            "qemu-img info", p->id, vid);
    }
    q->virtual_size = json_integer(vs);
    q->actual_size = MAX(lq_json_member_int(j, "actual-size"), 0);
    q->backing = nullable_xstrdup(lq_json_member_string(j, "backing-filename"));
    const struct json *snaps = lq_json_member(j, "snapshots");
    if (snaps && snaps->type == JSON_ARRAY) {
        const struct json_array *arr = json_array(snaps);
        size_t n = arr->n;
        q->snaps = xcalloc(MAX(n, 1), sizeof *q->snaps);
        for (size_t i = 0; i < n; i++) {
            const struct json *s = arr->elems[i];
            const char *tag = lq_json_member_string(s, "name");
            struct lq_error *bad = tag && !strncmp(tag, "lq-", 3)
                ? lq_storage_check_id("tag", tag + 3) : NULL;
            if (!tag || strncmp(tag, "lq-", 3) || bad) {
                lq_error_free(bad);
                continue;           /* Not one of ours. */
            }
            q->snaps[q->n_snaps].sid = xstrdup(tag + 3);
            q->snaps[q->n_snaps].date = lq_json_member_int(s, "date-sec");
            q->n_snaps++;
        }
    }
    json_destroy(j);
    return NULL;
}

/* ---- Metadata -------------------------------------------------------------- */

/* Reads "lq-<id>.meta"; LQ_NOT_FOUND if absent or not about 'id'. */
static struct lq_error *
meta_read(const struct local_pool *p, const struct lq_pooldir *d,
          const char *id, struct json **jp)
{
    char *name = lq_local_meta_file(id);
    struct lq_error *e = lq_pooldir_read_json(d, name, jp);
    if (e && e->code == LQ_NOT_FOUND) {
        lq_error_free(e);
        e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found (%s/lq-%s."
                         "qcow2 has no metadata: not a limiquantix volume)",
                         id, p->path, id);
    } else if (!e) {
        const char *vid = lq_json_member_string(*jp, "volume_id");
        if (!vid || strcmp(vid, id)) {
            json_destroy(*jp);
            *jp = NULL;
            e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found (%s/%s "
                             "is not its metadata)", id, p->path, name);
        }
    }
    free(name);
    return e;
}

/* Writes 'j' as "lq-tmp~<id>.meta", then, if 'publish', renames it over
 * "lq-<id>.meta" (an atomic update). */
static struct lq_error *
meta_write(const struct local_pool *p OVS_UNUSED, const struct lq_pooldir *d,
           const char *id, const struct json *j, bool publish)
{
    char *tmp = lq_local_tmp_file(id, "meta");
    char *final = publish ? lq_local_meta_file(id) : NULL;
    struct lq_error *e = lq_pooldir_write_json(d, tmp, final, j);
    free(tmp);
    free(final);
    return e;
}

static struct json *
meta_new(const struct lq_volume_create_args *a, const char *pvid,
         const char *psid)
{
    struct json *j = json_object_create();
    json_object_put_string(j, "volume_id", a->id);
    json_object_put_string(j, "name", a->name);
    json_object_put_string(j, "spec", a->spec);
    json_object_put(j, "created_at", json_integer_create(time(NULL)));
    if (pvid) {
        struct json *parent = json_object_create();
        json_object_put_string(parent, "volume_id", pvid);
        json_object_put_string(parent, "snapshot_id", psid);
        json_object_put(j, "parent", parent);
    }
    json_object_put(j, "snapshots", json_object_create());
    return j;
}

/* The snapshots object of 'j' (created if missing). */
static struct json *
meta_snaps(struct json *j)
{
    struct json *s = shash_find_data(json_object(j), "snapshots");
    if (!s || s->type != JSON_OBJECT) {
        s = json_object_create();
        json_object_put(j, "snapshots", s);
    }
    return s;
}

/* ---- Create helpers --------------------------------------------------------- */

/* Removes what a failed or crashed create of 'id' left. */
static struct lq_error *
clear_leftovers(const struct local_pool *p, const struct lq_pooldir *d,
                const char *id)
{
    char *tq = lq_local_tmp_file(id, "qcow2");
    char *tm = lq_local_tmp_file(id, "meta");
    char *vol = lq_local_volume_file(id);
    char *meta = lq_local_meta_file(id);
    struct lq_error *e = lq_pooldir_unlink(d, tq);
    if (!e) {
        e = lq_pooldir_unlink(d, tm);
    }
    bool exists;
    if (!e) {
        e = lq_pooldir_check(d, vol, &exists, NULL);
    }
    if (!e && !exists) {
        e = lq_pooldir_unlink(d, meta);   /* Metadata of an unpublished one. */
    }
    free(tq);
    free(tm);
    free(vol);
    free(meta);
    return e;
}

/* Fails with LQ_ALREADY_EXISTS if volume 'id' is published. */
static struct lq_error *
check_absent(const struct local_pool *p, const struct lq_pooldir *d, const char *id)
{
    char *vol = lq_local_volume_file(id);
    bool exists;
    struct lq_error *e = lq_pooldir_check(d, vol, &exists, NULL);
    if (!e && exists) {
        e = lq_error_new(LQ_ALREADY_EXISTS, "volume %s already exists in "
                         "pool %s", id, p->id);
    }
    free(vol);
    return e;
}

/* Writes the metadata and renames the temporary image to its final name. */
static struct lq_error *
publish(const struct local_pool *p, const struct lq_pooldir *d, const char *id,
        const struct json *meta)
{
    char *tq = lq_local_tmp_file(id, "qcow2");
    char *tm = lq_local_tmp_file(id, "meta");
    char *vol = lq_local_volume_file(id);
    char *mf = lq_local_meta_file(id);
    struct lq_error *e = meta_write(p, d, id, meta, false);
    if (!e) {
        e = lq_pooldir_rename(d, tm, mf, false);
    }
    if (!e) {
        e = lq_pooldir_rename(d, tq, vol, true);
    }
    if (!e) {
        fsync(d->fd);
    }
    free(tq);
    free(tm);
    free(vol);
    free(mf);
    return e;
}

static void
abandon(const struct local_pool *p, const struct lq_pooldir *d, const char *id)
{
    char *tq = lq_local_tmp_file(id, "qcow2");
    char *tm = lq_local_tmp_file(id, "meta");
    lq_error_free(lq_pooldir_unlink(d, tq));
    lq_error_free(lq_pooldir_unlink(d, tm));
    free(tq);
    free(tm);
}

static char *
size_arg(uint64_t size)
{
    return xasprintf("%"PRIu64, size);
}

/* ---- Driver: open/close/status -------------------------------------------- */

static struct lq_error *
drv_open(const struct lq_pool_config *pc, void **implp)
{
    const char *path = lq_kv_list_get(&pc->params, "path");
    char *field = xasprintf("storage.pools[%s].path", pc->id);
    struct lq_error *e = lq_local_check_pool_path(field, path);
    free(field);
    if (e) {
        return e;
    }
    struct local_pool *p = xzalloc(sizeof *p);
    p->id = xstrdup(pc->id);
    p->path = xstrdup(path);
    size_t len = strlen(p->path);
    while (len > 1 && p->path[len - 1] == '/') {
        p->path[--len] = '\0';
    }
    ovs_mutex_init(&p->base_mutex);
    *implp = p;
    return NULL;
}

const char *
lq_local_pool_path(const void *impl)
{
    return ((const struct local_pool *) impl)->path;
}

static void
drv_close(void *impl)
{
    struct local_pool *p = impl;
    if (p) {
        ovs_mutex_destroy(&p->base_mutex);
        free(p->id);
        free(p->path);
        free(p);
    }
}

static uint32_t
drv_max_clone_depth(void *impl OVS_UNUSED)
{
    return UINT32_MAX;              /* Chains are always one deep. */
}

static struct lq_error *
drv_status(void *impl, struct lq_pool_status *st)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    struct statvfs vfs;
    if (fstatvfs(d.fd, &vfs)) {
        e = lq_error_new(LQ_UNAVAILABLE, "pool %s: statvfs %s: %s", p->id,
                         p->path, ovs_strerror(errno));
        lq_pooldir_close(&d);
        return e;
    }
    st->capacity_bytes = (uint64_t) vfs.f_blocks * vfs.f_frsize;
    st->available_bytes = (uint64_t) vfs.f_bavail * vfs.f_frsize;

    uint64_t used = 0;
    DIR *dir = lq_pooldir_opendir(&d);
    if (dir) {
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            struct stat sb;
            if (!strncmp(de->d_name, "lq-", 3)
                && !fstatat(d.fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW)
                && S_ISREG(sb.st_mode)) {
                used += (uint64_t) sb.st_blocks * 512;
            }
        }
        closedir(dir);
    }
    st->allocated_bytes = used;
    st->health = xstrdup("ok");
    st->message = xstrdup("");
    lq_pooldir_close(&d);
    return NULL;
}

/* ---- Info/list ------------------------------------------------------------ */

static struct lq_error *
info_build(const struct local_pool *p, const struct lq_pooldir *d, const char *id,
           struct lq_volume_info **infop)
{
    *infop = NULL;
    char *vol = lq_local_volume_file(id);
    bool exists;
    struct json *meta = NULL;
    struct qinfo q = { 0, 0, NULL, NULL, 0 };
    struct lq_error *e = lq_pooldir_check(d, vol, &exists, NULL);
    if (!e && !exists) {
        e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", id);
    }
    if (!e) {
        e = meta_read(p, d, id, &meta);
    }
    if (!e) {
        e = qinfo_get(p, d, id, vol, &q);
    }
    if (e) {
        goto out;
    }

    const struct json *parent = lq_json_member(meta, "parent");
    const char *pvid = lq_json_member_string(parent, "volume_id");
    const char *psid = lq_json_member_string(parent, "snapshot_id");
    if (q.backing && !lq_local_backing_ok(q.backing, pvid, psid)) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: volume %s has "
                         "backing file \"%s\", which is not its clone base; "
                         "not using it", p->id, id, q.backing);
        goto out;
    }

    struct lq_volume_info *v = lq_volume_info_new();
    v->id = xstrdup(id);
    v->pool_id = xstrdup(p->id);
    const char *name = lq_json_member_string(meta, "name");
    v->name = xstrdup(name ? name : id);
    v->create_spec = nullable_xstrdup(lq_json_member_string(meta, "spec"));
    v->state = LQ_VOLUME_AVAILABLE;
    v->progress_percent = 100;
    v->size_bytes = q.virtual_size;
    v->allocated_bytes = q.actual_size;
    if (q.backing) {                /* A flattened clone has no parent. */
        v->parent_volume_id = xstrdup(pvid);
        v->parent_snapshot_id = xstrdup(psid);
        v->clone_depth = 1;
    }
    v->attached = lq_pooldir_locked(d, vol);
    v->created_at = lq_json_member_int(meta, "created_at");
    v->backend_name = xasprintf("%s/%s", p->path, vol);

    const struct json *snames = lq_json_member(meta, "snapshots");
    v->snapshots = xcalloc(MAX(q.n_snaps, 1), sizeof *v->snapshots);
    for (size_t i = 0; i < q.n_snaps; i++) {
        struct lq_snapshot_info *s = &v->snapshots[v->n_snapshots++];
        const struct json *sm = lq_json_member(snames, q.snaps[i].sid);
        const char *sname = lq_json_member_string(sm, "name");
        int64_t ssize = lq_json_member_int(sm, "size");
        s->id = xstrdup(q.snaps[i].sid);
        s->volume_id = xstrdup(id);
        s->name = xstrdup(sname ? sname : q.snaps[i].sid);
        s->size_bytes = ssize > 0 ? ssize : q.virtual_size;
        s->created_at = q.snaps[i].date;
    }
    *infop = v;

out:
    qinfo_clear(&q);
    json_destroy(meta);
    free(vol);
    return e;
}

static struct lq_error *
drv_info(void *impl, const char *id, struct lq_volume_info **infop)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    *infop = NULL;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (!e) {
        e = info_build(p, &d, id, infop);
        lq_pooldir_close(&d);
    }
    return e;
}

/* The ids of the published volumes in the directory. */
static struct lq_error *
list_ids(const struct local_pool *p, const struct lq_pooldir *d, struct sset *ids)
{
    DIR *dir = lq_pooldir_opendir(d);
    if (!dir) {
        return lq_error_new(LQ_UNAVAILABLE, "pool %s: reading %s: %s",
                            p->id, p->path, ovs_strerror(errno));
    }
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        char *id = lq_local_volume_id(de->d_name);
        if (id) {
            sset_add_and_free(ids, id);
        }
    }
    closedir(dir);
    return NULL;
}

static struct lq_error *
drv_list(void *impl, struct lq_volume_list *list)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    struct sset ids = SSET_INITIALIZER(&ids);
    e = list_ids(p, &d, &ids);
    const char *id;
    SSET_FOR_EACH (id, &ids) {
        if (e) {
            break;
        }
        struct lq_volume_info *v;
        e = info_build(p, &d, id, &v);
        if (!e) {
            lq_volume_list_add(list, v);
        } else if (e->code == LQ_NOT_FOUND
                   || e->code == LQ_FAILED_PRECONDITION) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
            if (e->code == LQ_FAILED_PRECONDITION) {
                VLOG_WARN_RL(&rl, "%s", e->message);
            }
            lq_error_free(e);       /* Not ours, or not usable: skip. */
            e = NULL;
        }
    }
    sset_destroy(&ids);
    lq_pooldir_close(&d);
    return e;
}

/* Volumes whose metadata names 'vid' (and 'sid' if nonnull) as parent. */
static struct lq_error *
find_children(const struct local_pool *p, const struct lq_pooldir *d,
              const char *vid, const char *sid, struct sset *children)
{
    struct sset ids = SSET_INITIALIZER(&ids);
    struct lq_error *e = list_ids(p, d, &ids);
    const char *id;
    SSET_FOR_EACH (id, &ids) {
        struct json *m;
        if (e || meta_read(p, d, id, &m)) {
            continue;   /* Errors of others' metadata are theirs. */
        }
        const struct json *parent = lq_json_member(m, "parent");
        const char *pv = lq_json_member_string(parent, "volume_id");
        const char *ps = lq_json_member_string(parent, "snapshot_id");
        if (pv && !strcmp(pv, vid) && (!sid || (ps && !strcmp(ps, sid)))) {
            sset_add(children, id);
        }
        json_destroy(m);
    }
    sset_destroy(&ids);
    return e;
}

/* "a, b, c" for messages. */
static char *
join_ids(const struct sset *ids)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    const char *id;
    SSET_FOR_EACH (id, ids) {
        ds_put_format(&s, "%s%s", s.length ? ", " : "", id);
    }
    return ds_steal_cstr(&s);
}

/* ---- Flatten -------------------------------------------------------------- */

/* Copies the base's data into clone 'id' and forgets its parent. */
static struct lq_error *
flatten_one(const struct local_pool *p, const struct lq_pooldir *d, const char *id,
            struct lq_job_progress *pr)
{
    char *vol = lq_local_volume_file(id);
    struct json *meta = NULL;
    bool exists;
    struct lq_error *e = lq_pooldir_check(d, vol, &exists, NULL);
    if (!e && !exists) {
        e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", id);
    }
    if (!e && lq_pooldir_locked(d, vol)) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached: "
                         "it cannot be flattened offline", id);
    }
    if (!e) {
        e = meta_read(p, d, id, &meta);
    }
    if (!e) {
        char *path = lq_pooldir_path(d, vol);
        const char *argv[] = { QEMU_IMG, "rebase", "-p", "-f", "qcow2",
                               "-b", "", path, NULL };
        e = qimg_long(p, d, id, argv, pr, 0, 100);
        free(path);
    }
    if (!e) {
        json_destroy(shash_find_and_delete(json_object(meta), "parent"));
        e = meta_write(p, d, id, meta, true);
    }
    if (!e) {
        VLOG_INFO("pool %s: flattened volume %s", p->id, id);
    }
    json_destroy(meta);
    free(vol);
    return e;
}

static struct lq_error *
drv_flatten(void *impl, const char *id, struct lq_job_progress *pr)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    struct lq_volume_info *v;
    e = info_build(p, &d, id, &v);
    if (!e) {
        if (v->parent_volume_id) {
            e = flatten_one(p, &d, id, pr);
        }
        lq_volume_info_free(v);
    }
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
flatten_all(const struct local_pool *p, const struct lq_pooldir *d,
            const struct sset *children)
{
    const char *cid;
    SSET_FOR_EACH (cid, children) {
        struct lq_error *e = flatten_one(p, d, cid, NULL);
        if (e && e->code != LQ_NOT_FOUND) {
            return lq_error_prefix(e, "flattening clone %s", cid);
        }
        lq_error_free(e);
    }
    return NULL;
}

/* ---- Create/clone/import ------------------------------------------------- */

static struct lq_error *
drv_create(void *impl, const struct lq_volume_create_args *a)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    char *tq = lq_local_tmp_file(a->id, "qcow2");
    char *path = lq_pooldir_path(&d, tq);
    char *size = size_arg(a->size_bytes);
    struct json *meta = NULL;

    e = clear_leftovers(p, &d, a->id);
    if (!e) {
        e = check_absent(p, &d, a->id);
    }
    if (!e) {
        e = lq_pooldir_create(&d, tq, 0600);
    }
    if (!e) {
        const char *argv[] = { QEMU_IMG, "create", "-q", "-f", "qcow2",
                               path, size, NULL };
        e = qimg(p, &d, a->id, argv, NULL);
    }
    if (!e) {
        meta = meta_new(a, NULL, NULL);
        e = publish(p, &d, a->id, meta);
    }
    if (e && e->code != LQ_ALREADY_EXISTS) {
        abandon(p, &d, a->id);
    }
    json_destroy(meta);
    free(size);
    free(path);
    free(tq);
    lq_pooldir_close(&d);
    return e;
}

/* Makes sure the read-only base of snapshot 'sid' of 'vid' exists. */
static struct lq_error *
ensure_base(struct local_pool *p, const struct lq_pooldir *d, const char *vid,
            const char *sid, struct lq_job_progress *pr)
{
    char *base = lq_local_base_file(vid, sid);
    char *tmp = xasprintf("lq-tmp~%s", base);
    char *vol = lq_local_volume_file(vid);
    bool exists;

    ovs_mutex_lock(&p->base_mutex);
    struct lq_error *e = lq_pooldir_check(d, base, &exists, NULL);
    if (e || exists) {
        goto out;
    }
    e = lq_pooldir_unlink(d, tmp);
    if (!e) {
        e = lq_pooldir_create(d, tmp, 0400);
    }
    if (!e) {
        char *src = lq_pooldir_path(d, vol);
        char *dst = lq_pooldir_path(d, tmp);
        char *snap = xasprintf("snapshot.name=lq-%s", sid);
        const char *argv[] = { QEMU_IMG, "convert", "-p", "-f", "qcow2",
                               "-O", "qcow2", "-l", snap, src, dst, NULL };
        e = qimg_long(p, d, vid, argv, pr, 0, 90);
        free(src);
        free(dst);
        free(snap);
    }
    if (!e && fchmodat(d->fd, tmp, 0400, 0)) {
        e = lq_error_new(LQ_INTERNAL, "pool %s: chmod %s: %s", p->id, tmp,
                         ovs_strerror(errno));
    }
    if (!e) {
        e = lq_pooldir_rename(d, tmp, base, true);
    }
    if (e) {
        lq_error_free(lq_pooldir_unlink(d, tmp));
    } else {
        VLOG_INFO("pool %s: made clone base %s", p->id, base);
    }
out:
    ovs_mutex_unlock(&p->base_mutex);
    free(base);
    free(tmp);
    free(vol);
    return e;
}

static struct lq_error *
drv_clone(void *impl, const struct lq_volume_create_args *a,
          const char *svid, const char *ssid, bool flatten,
          struct lq_job_progress *pr)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    char *tq = lq_local_tmp_file(a->id, "qcow2");
    char *path = lq_pooldir_path(&d, tq);
    char *base = lq_local_base_file(svid, ssid);
    char *size = size_arg(a->size_bytes);
    struct json *meta = NULL;
    struct lq_volume_info *src = NULL;

    e = clear_leftovers(p, &d, a->id);
    if (!e) {
        e = check_absent(p, &d, a->id);
    }
    if (!e) {
        e = info_build(p, &d, svid, &src);
    }
    if (!e) {
        bool found = false;
        for (size_t i = 0; i < src->n_snapshots; i++) {
            found = found || !strcmp(src->snapshots[i].id, ssid);
        }
        if (!found) {
            e = lq_error_new(LQ_NOT_FOUND, "source.snapshotId: snapshot "
                             "\"%s\" of volume \"%s\" not found", ssid, svid);
        }
    }
    if (!e && src->attached) {
        /* The first clone of a snapshot copies it with qemu-img, which
         * cannot open an image a VM holds. */
        char *base_name = lq_local_base_file(svid, ssid);
        bool exists;
        e = lq_pooldir_check(&d, base_name, &exists, NULL);
        if (!e && !exists) {
            e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached:"
                             " the first clone of its snapshot %s copies the "
                             "snapshot, which needs the volume detached",
                             svid, ssid);
        }
        free(base_name);
    }
    if (!e) {
        e = ensure_base(p, &d, svid, ssid, flatten ? pr : NULL);
    }
    if (!e) {
        e = lq_pooldir_create(&d, tq, 0600);
    }
    if (!e) {
        /* The backing name is relative: resolved next to the overlay. */
        const char *argv[] = { QEMU_IMG, "create", "-q", "-f", "qcow2",
                               "-F", "qcow2", "-b", base, path, size, NULL };
        e = qimg(p, &d, a->id, argv, NULL);
    }
    if (!e && flatten) {
        const char *argv[] = { QEMU_IMG, "rebase", "-p", "-f", "qcow2",
                               "-b", "", path, NULL };
        e = qimg_long(p, &d, a->id, argv, pr, 90, 10);
    }
    if (!e) {
        meta = meta_new(a, flatten ? NULL : svid, ssid);
        e = publish(p, &d, a->id, meta);
    }
    if (e && e->code != LQ_ALREADY_EXISTS) {
        abandon(p, &d, a->id);
    }
    lq_volume_info_free(src);
    json_destroy(meta);
    free(size);
    free(base);
    free(path);
    free(tq);
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
drv_import(void *impl, const struct lq_volume_create_args *a,
           struct lq_image_reader *reader, struct lq_job_progress *pr)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    char *tq = lq_local_tmp_file(a->id, "qcow2");
    char *path = lq_pooldir_path(&d, tq);
    char *src = xasprintf("/proc/%ld/fd/%d", (long) getpid(), reader->fd);
    char *size = size_arg(a->size_bytes);
    struct json *meta = NULL;
    struct qinfo q = { 0, 0, NULL, NULL, 0 };

    e = clear_leftovers(p, &d, a->id);
    if (!e) {
        e = check_absent(p, &d, a->id);
    }
    if (!e) {
        e = lq_pooldir_create(&d, tq, 0600);
    }
    if (!e) {
        /* Zero blocks and holes stay unallocated (convert's default). */
        const char *argv[] = { QEMU_IMG, "convert", "-p", "-f", "raw",
                               "-O", "qcow2", src, path, NULL };
        e = qimg_long(p, &d, a->id, argv, pr, IMPORT_CONVERT_SHARE,
                      100 - IMPORT_CONVERT_SHARE);
    }
    if (!e) {
        e = qinfo_get(p, &d, a->id, tq, &q);
    }
    if (!e && q.virtual_size != a->size_bytes) {
        const char *argv[] = { QEMU_IMG, "resize", "-q", "-f", "qcow2",
                               path, size, NULL };
        e = qimg(p, &d, a->id, argv, NULL);
    }
    if (!e && pr && atomic_load(&pr->cancel)) {
        e = lq_error_new(LQ_CANCELED, "import cancelled");
    }
    if (!e) {
        meta = meta_new(a, NULL, NULL);
        e = publish(p, &d, a->id, meta);
    }
    if (e && e->code != LQ_ALREADY_EXISTS) {
        abandon(p, &d, a->id);
    }
    qinfo_clear(&q);
    json_destroy(meta);
    free(size);
    free(src);
    free(path);
    free(tq);
    lq_pooldir_close(&d);
    return e;
}

/* ---- Remove/resize ----------------------------------------------------------- */

/* Removes every clone base of volume 'vid' ("lq-base~<vid>~*"). */
static struct lq_error *
remove_bases(const struct local_pool *p, const struct lq_pooldir *d,
             const char *vid)
{
    char *prefix = xasprintf("lq-base~%s~", vid);
    struct sset names = SSET_INITIALIZER(&names);
    DIR *dir = lq_pooldir_opendir(d);
    struct lq_error *e = NULL;
    if (dir) {
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            if (!strncmp(de->d_name, prefix, strlen(prefix))) {
                sset_add(&names, de->d_name);
            }
        }
        closedir(dir);
    }
    const char *name;
    SSET_FOR_EACH (name, &names) {
        if (!e) {
            e = lq_pooldir_unlink(d, name);
        }
    }
    sset_destroy(&names);
    free(prefix);
    return e;
}

static struct lq_error *
drv_remove(void *impl, const char *id, bool force)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    char *vol = lq_local_volume_file(id);
    char *mf = lq_local_meta_file(id);
    struct sset children = SSET_INITIALIZER(&children);
    struct json *meta = NULL;
    bool exists;

    e = clear_leftovers(p, &d, id);
    if (!e) {
        e = lq_pooldir_check(&d, vol, &exists, NULL);
    }
    if (!e && !exists) {
        e = remove_bases(p, &d, id);    /* Of a crashed delete. */
        goto out;
    }
    if (!e) {
        e = meta_read(p, &d, id, &meta);
        if (e && e->code == LQ_NOT_FOUND) {
            lq_error_free(e);
            e = lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: %s/%s is not "
                             "a limiquantix volume; not deleting it", p->id,
                             p->path, vol);
        }
    }
    if (!e) {
        e = find_children(p, &d, id, NULL, &children);
    }
    if (e) {
        goto out;
    }
    if (!sset_is_empty(&children) && !force) {
        char *list = join_ids(&children);
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s has clones (%s): "
                         "delete or flatten them first, or delete with force "
                         "to flatten them", id, list);
        free(list);
        goto out;
    }
    if (lq_pooldir_locked(&d, vol) && !force) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached (a "
                         "process holds its image lock): detach it first, or "
                         "delete with force", id);
        goto out;
    }
    e = flatten_all(p, &d, &children);
    if (!e) {
        e = lq_pooldir_unlink(&d, vol);   /* Unpublished from here on. */
    }
    if (!e) {
        e = lq_pooldir_unlink(&d, mf);
    }
    if (!e) {
        e = remove_bases(p, &d, id);
    }
    if (!e) {
        VLOG_INFO("pool %s: deleted volume %s", p->id, id);
    }
out:
    json_destroy(meta);
    sset_destroy(&children);
    free(vol);
    free(mf);
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
drv_resize(void *impl, const char *id, uint64_t size, bool allow_shrink)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    struct lq_volume_info *v = NULL;
    e = info_build(p, &d, id, &v);
    if (e || size == v->size_bytes) {
        goto out;
    }
    if (size < v->size_bytes && !allow_shrink) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s: %"PRIu64" is "
                         "smaller than its size %"PRIu64": shrinking loses "
                         "data past the new end; set allowShrink", id, size,
                         v->size_bytes);
        goto out;
    }
    if (v->attached) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached: "
                         "grow it with ResizeDisk of its VM", id);
        goto out;
    }
    char *vol = lq_local_volume_file(id);
    char *path = lq_pooldir_path(&d, vol);
    char *s = size_arg(size);
    const char *argv[9] = { QEMU_IMG, "resize", "-q", "-f", "qcow2" };
    size_t n = 5;
    if (size < v->size_bytes) {
        argv[n++] = "--shrink";
    }
    argv[n++] = path;
    argv[n++] = s;
    argv[n] = NULL;
    e = qimg(p, &d, id, argv, NULL);
    free(s);
    free(path);
    free(vol);
out:
    lq_volume_info_free(v);
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
drv_clone_depth(void *impl, const char *id, uint32_t *depthp)
{
    struct lq_volume_info *v;
    struct lq_error *e = drv_info(impl, id, &v);
    *depthp = 0;
    if (!e) {
        *depthp = v->clone_depth;
        lq_volume_info_free(v);
    }
    return e;
}

/* ---- Snapshots --------------------------------------------------------------- */

/* `qemu-img snapshot OP lq-<sid>` on volume 'vid' (format given). */
static struct lq_error *
qimg_snapshot(const struct local_pool *p, const struct lq_pooldir *d,
              const char *vid, const char *op, const char *sid)
{
    char *vol = lq_local_volume_file(vid);
    char *path = lq_pooldir_path(d, vol);
    char *opts = xasprintf("driver=qcow2,file.driver=file,file.filename=%s",
                           path);
    char *tag = xasprintf("lq-%s", sid);
    const char *argv[] = { QEMU_IMG, "snapshot", "-q", "--image-opts", op,
                           tag, opts, NULL };
    struct lq_error *e = qimg(p, d, vid, argv, NULL);
    free(tag);
    free(opts);
    free(path);
    free(vol);
    return e;
}

/* Looks up volume 'vid' for a snapshot operation; refuses an attached one
 * (qemu-img works offline; live snapshots go through the hypervisor). */
static struct lq_error *
snap_volume(const struct local_pool *p, const struct lq_pooldir *d, const char *vid,
            const char *what, struct lq_volume_info **vp)
{
    struct lq_error *e = info_build(p, d, vid, vp);
    if (!e && (*vp)->attached) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached: "
                         "detach it before %s", vid, what);
        lq_volume_info_free(*vp);
        *vp = NULL;
    }
    return e;
}

static const struct lq_snapshot_info *
find_snap(const struct lq_volume_info *v, const char *sid)
{
    for (size_t i = 0; i < v->n_snapshots; i++) {
        if (!strcmp(v->snapshots[i].id, sid)) {
            return &v->snapshots[i];
        }
    }
    return NULL;
}

static struct lq_error *
drv_snapshot_create(void *impl, const char *vid, const char *sid,
                    const char *name)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    struct lq_volume_info *v = NULL;
    struct json *meta = NULL;
    e = info_build(p, &d, vid, &v);
    if (e) {
        goto out;
    }
    const struct lq_snapshot_info *old = find_snap(v, sid);
    if (old && strcmp(old->name, name)) {
        e = lq_error_new(LQ_ALREADY_EXISTS, "snapshot %s of volume %s exists "
                         "with name \"%s\"", sid, vid, old->name);
        goto out;
    } else if (old) {
        goto out;                   /* A retry: done. */
    }
    if (v->attached) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached: "
                         "snapshots of a running disk are taken through the "
                         "hypervisor", vid);
        goto out;
    }
    /* Name and size first: a crash then leaves an entry without a snapshot,
     * which nothing shows, rather than a snapshot without its name. */
    e = meta_read(p, &d, vid, &meta);
    if (!e) {
        struct json *sm = json_object_create();
        json_object_put_string(sm, "name", name);
        json_object_put(sm, "size", json_integer_create(v->size_bytes));
        json_object_put(meta_snaps(meta), sid, sm);
        e = meta_write(p, &d, vid, meta, true);
    }
    if (!e) {
        e = qimg_snapshot(p, &d, vid, "-c", sid);
    }
    if (!e) {
        VLOG_INFO("pool %s: volume %s: snapshot %s taken", p->id, vid, sid);
    }
out:
    json_destroy(meta);
    lq_volume_info_free(v);
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
drv_snapshot_delete(void *impl, const char *vid, const char *sid, bool force)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    struct lq_volume_info *v = NULL;
    struct json *meta = NULL;
    struct sset children = SSET_INITIALIZER(&children);
    char *base = lq_local_base_file(vid, sid);

    e = info_build(p, &d, vid, &v);
    if (e && e->code == LQ_NOT_FOUND) {
        lq_error_free(e);
        e = NULL;                   /* Volume gone: so is the snapshot. */
        goto out;
    }
    if (e || !find_snap(v, sid)) {
        goto out;
    }
    e = find_children(p, &d, vid, sid, &children);
    if (!e && !sset_is_empty(&children) && !force) {
        char *list = join_ids(&children);
        e = lq_error_new(LQ_FAILED_PRECONDITION, "snapshot %s of volume %s "
                         "has clones (%s): delete or flatten them first, or "
                         "delete with force to flatten them", sid, vid, list);
        free(list);
    }
    if (!e && v->attached) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached: "
                         "detach it before deleting snapshot %s", vid, sid);
    }
    if (!e) {
        e = flatten_all(p, &d, &children);
    }
    if (!e) {
        e = lq_pooldir_unlink(&d, base);
    }
    if (!e) {
        e = qimg_snapshot(p, &d, vid, "-d", sid);
    }
    if (!e) {
        e = meta_read(p, &d, vid, &meta);
    }
    if (!e) {
        json_destroy(shash_find_and_delete(json_object(meta_snaps(meta)),
                                           sid));
        e = meta_write(p, &d, vid, meta, true);
    }
out:
    free(base);
    sset_destroy(&children);
    json_destroy(meta);
    lq_volume_info_free(v);
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
drv_snapshot_rollback(void *impl, const char *vid, const char *sid)
{
    struct local_pool *p = impl;
    struct lq_pooldir d;
    struct lq_error *e = lq_pooldir_open(&d, p->id, p->path);
    if (e) {
        return e;
    }
    struct lq_volume_info *v = NULL;
    e = snap_volume(p, &d, vid, "rolling back", &v);
    if (!e && !find_snap(v, sid)) {
        e = lq_error_new(LQ_NOT_FOUND, "snapshot \"%s\" of volume \"%s\" "
                         "not found", sid, vid);
    }
    if (!e) {
        e = qimg_snapshot(p, &d, vid, "-a", sid);
    }
    lq_volume_info_free(v);
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
drv_snapshot_find(void *impl, const char *sid, char **vidp)
{
    struct lq_volume_list list = { NULL, 0 };
    struct lq_error *e = drv_list(impl, &list);
    *vidp = NULL;
    for (size_t i = 0; !e && !*vidp && i < list.n; i++) {
        if (find_snap(list.volumes[i], sid)) {
            *vidp = xstrdup(list.volumes[i]->id);
        }
    }
    lq_volume_list_clear(&list);
    if (!e && !*vidp) {
        e = lq_error_new(LQ_NOT_FOUND, "snapshot \"%s\" not found", sid);
    }
    return e;
}

/* ---- Attach ------------------------------------------------------------------ */

static struct lq_error *
drv_disk_source(void *impl, const char *id, struct lq_disk_source **sp)
{
    struct local_pool *p = impl;
    struct lq_volume_info *v;
    struct lq_error *e = drv_info(impl, id, &v);
    if (e) {
        return e;
    }
    struct lq_disk_source *s = xzalloc(sizeof *s);
    s->type = xstrdup("file");
    s->path = xasprintf("%s/lq-%s.qcow2", p->path, id);
    s->format = xstrdup("qcow2");
    lq_volume_info_free(v);
    *sp = s;
    return NULL;
}

const struct lq_storage_driver lq_local_driver = {
    .backend = "local",
    .open = drv_open,
    .close = drv_close,
    .status = drv_status,
    .create = drv_create,
    .clone = drv_clone,
    .import = drv_import,
    .info = drv_info,
    .list = drv_list,
    .remove = drv_remove,
    .resize = drv_resize,
    .flatten = drv_flatten,
    .clone_depth = drv_clone_depth,
    .max_clone_depth = drv_max_clone_depth,
    .snapshot_create = drv_snapshot_create,
    .snapshot_delete = drv_snapshot_delete,
    .snapshot_rollback = drv_snapshot_rollback,
    .snapshot_find = drv_snapshot_find,
    .disk_source = drv_disk_source,
};
