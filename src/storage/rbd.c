/* rbd.c: the Ceph RBD storage driver, through the librbd/librados C API.
 *
 * Design decisions:
 * - One long-lived cluster connection (rados_t + an ioctx on the RBD pool)
 *   per pool, made on first use, not at start-up, so the daemon starts
 *   while Ceph is down.  It is reference-counted: calls on worker threads
 *   share it; an error that means "the connection is gone" (timeout,
 *   blocklisted, shut down) retires it, and the next call reconnects while
 *   calls still holding the old one finish on it.  rados/ioctx handles are
 *   thread-safe; image handles are opened per call and never shared.
 * - Client timeouts (mount 10 s, mon/osd ops 30 s, unless ceph.conf sets
 *   its own) turn a dead cluster into
 *   a clean LQ_UNAVAILABLE instead of a thread blocked forever.  Every
 *   reason a pool cannot be used at all (unreadable ceph.conf, missing Ceph
 *   pool, no cluster) is LQ_UNAVAILABLE, so callers can tell "this pool is
 *   down" from "this volume refuses".
 * - Names: volume <id> is image "lq-<id>" and snapshot <sid> is RBD
 *   snapshot "lq-<sid>"; image metadata holds lq.volume_id, lq.name,
 *   lq.spec (the canonical create request, for idempotency) and
 *   lq.snap.<sid> (snapshot display names).  Listing and every lookup work
 *   from the cluster alone.
 * - Every create (empty, clone, import) builds the image under
 *   "lq-tmp~<id>", writes the data and metadata, and renames it last: a
 *   crash never leaves a half-made image under the final name.  A retry
 *   removes the leftover temporary image first.
 * - Images: format 2 with layering, exclusive-lock, object-map, fast-diff
 *   and deep-flatten.  Clones come from a protected snapshot (protection
 *   keeps clone v1 clusters working; with v2, the default when the cluster
 *   requires mimic clients, it also stops a snapshot with clones from
 *   silently going to the trash).
 * - Import writes only non-zero data with up to IMPORT_WINDOW aio writes in
 *   flight, each at most one 1 MiB chunk trimmed to its non-zero 64 KiB
 *   blocks, so the image stays thin.
 * - Errors name the pool and the volume; never the cephx key. */
#include <config.h>
#include "rbd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#include "driver.h"
#include "image.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(storage_rbd);

#define IMAGE_PREFIX "lq-"
#define TMP_PREFIX "lq-tmp~"
#define META_ID "lq.volume_id"
#define META_NAME "lq.name"
#define META_SPEC "lq.spec"
#define META_SNAP "lq.snap."

#define RBD_FEATURES (RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK \
                      | RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF \
                      | RBD_FEATURE_DEEP_FLATTEN)
#define RBD_ORDER 22                    /* 4 MiB objects. */

#define IMPORT_CHUNK (1u << 20)         /* Bytes per aio write (at most). */
#define ZERO_BLOCK (64u << 10)          /* Zero-detection granularity. */
#define IMPORT_WINDOW 32                /* aio writes in flight. */
#define IMPORT_CONVERT_SHARE 30         /* % of progress for qemu-img. */

#define DEFAULT_MAX_CLONE_DEPTH 5

struct rbd_conn {
    rados_t cluster;
    rados_ioctx_t io;
    int refs;                   /* Guarded by rbd_pool.mutex. */
    bool broken;                /* Guarded by rbd_pool.mutex. */
};

struct rbd_pool {
    char *id;                   /* Our pool id, for messages. */
    char *ceph_conf;            /* NULL: librados' default search. */
    char *ceph_user;            /* "admin" */
    char *ceph_keyring;         /* NULL: from ceph.conf. */
    char *rbd_pool;             /* "rbd" */
    uint32_t max_clone_depth;

    struct ovs_mutex mutex;
    struct rbd_conn *conn OVS_GUARDED;  /* Current connection, or NULL. */
};

/* ---- Names --------------------------------------------------------------- */

char *
lq_rbd_image_name(const char *id)
{
    return xasprintf(IMAGE_PREFIX "%s", id);
}

char *
lq_rbd_tmp_name(const char *id)
{
    return xasprintf(TMP_PREFIX "%s", id);
}

const char *
lq_rbd_volume_id(const char *name)
{
    if (strncmp(name, IMAGE_PREFIX, strlen(IMAGE_PREFIX))
        || !strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX))
        || !name[strlen(IMAGE_PREFIX)]) {
        return NULL;
    }
    return name + strlen(IMAGE_PREFIX);
}

static const char *
snap_id_of(const char *snap_name)
{
    return lq_rbd_volume_id(snap_name);     /* Same "lq-" scheme. */
}

/* ---- Errors -------------------------------------------------------------- */

static enum lq_code
errno_code(int err)
{
    switch (err) {
    case ENOENT: return LQ_NOT_FOUND;
    case EEXIST: return LQ_ALREADY_EXISTS;
    case EBUSY: case ENOTEMPTY: return LQ_FAILED_PRECONDITION;
    case ETIMEDOUT: case ENOTCONN: case ESHUTDOWN: case ECONNREFUSED:
    case EHOSTUNREACH: case ECONNRESET: case EIO:
        return LQ_UNAVAILABLE;
    case ENOSPC: case EDQUOT: return LQ_RESOURCE_EXHAUSTED;
    case EPERM: case EACCES: return LQ_PERMISSION_DENIED;
    case ECANCELED: return LQ_CANCELED;
    case EROFS: return LQ_FAILED_PRECONDITION;
    default: return LQ_INTERNAL;
    }
}

static bool
errno_breaks_connection(int err)
{
    return err == ETIMEDOUT || err == ENOTCONN || err == ESHUTDOWN
           || err == ECONNREFUSED || err == ECONNRESET;
}

static void conn_retire(struct rbd_pool *, struct rbd_conn *);
static struct lq_error *rbd_error(struct rbd_pool *, struct rbd_conn *,
                                  int r, const char *format, ...)
    OVS_PRINTF_FORMAT(4, 5);

/* An error for librados/librbd return value 'r' (< 0), prefixed with the
 * pool; retires the connection when 'r' says it is dead. */
static struct lq_error *
rbd_error(struct rbd_pool *p, struct rbd_conn *c, int r, const char *format,
          ...)
{
    int err = -r;
    va_list args;

    va_start(args, format);
    char *what = xvasprintf(format, args);
    va_end(args);

    if (c && errno_breaks_connection(err)) {
        conn_retire(p, c);
    }
    enum lq_code code = errno_code(err);
    struct lq_error *e = lq_error_new(code, "pool %s: %s: %s", p->id, what,
                                      ovs_strerror(err));
    if (code == LQ_INTERNAL || code == LQ_UNAVAILABLE) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
        VLOG_WARN_RL(&rl, "%s", e->message);
    }
    free(what);
    return e;
}

/* ---- Connections --------------------------------------------------------- */

static void
conn_destroy(struct rbd_conn *c)
{
    rados_ioctx_destroy(c->io);
    rados_shutdown(c->cluster);
    free(c);
}

/* Sets 'key' to 'ours' if it still has librados' built-in value. */
static void
conf_default(rados_t cluster, const char *key, const char *builtin,
             const char *ours)
{
    char buf[64];
    if (rados_conf_get(cluster, key, buf, sizeof buf) < 0
        || !strcmp(buf, builtin)) {
        rados_conf_set(cluster, key, ours);
    }
}

static struct lq_error *
conn_open(struct rbd_pool *p, struct rbd_conn **cp)
{
    rados_t cluster;
    int r = rados_create(&cluster, p->ceph_user);
    if (r < 0) {
        return rbd_error(p, NULL, r, "rados_create(user %s)", p->ceph_user);
    }

    r = rados_conf_read_file(cluster, p->ceph_conf);
    if (r < 0) {
        rados_shutdown(cluster);
        return lq_error_new(LQ_UNAVAILABLE, "pool %s: ceph_conf: "
                            "cannot read \"%s\": %s", p->id,
                            p->ceph_conf ? p->ceph_conf : "(default)",
                            ovs_strerror(-r));
    }
    if (p->ceph_keyring) {
        rados_conf_set(cluster, "keyring", p->ceph_keyring);
    }
    /* Fail instead of blocking forever when the cluster is down, unless
     * ceph.conf chose its own timeouts. */
    conf_default(cluster, "client_mount_timeout", "300", "10");
    conf_default(cluster, "rados_mon_op_timeout", "0", "30");
    conf_default(cluster, "rados_osd_op_timeout", "0", "30");

    r = rados_connect(cluster);
    if (r < 0) {
        rados_shutdown(cluster);
        struct lq_error *e = lq_error_new(
            LQ_UNAVAILABLE, "pool %s: cannot connect to the Ceph cluster "
            "(ceph_conf %s, user %s): %s", p->id,
            p->ceph_conf ? p->ceph_conf : "(default)", p->ceph_user,
            ovs_strerror(-r));
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "%s", e->message);
        return e;
    }

    rados_ioctx_t io;
    r = rados_ioctx_create(cluster, p->rbd_pool, &io);
    if (r < 0) {
        rados_shutdown(cluster);
        if (r == -ENOENT) {
            return lq_error_new(LQ_UNAVAILABLE, "pool %s: rbd_pool: "
                                "Ceph pool \"%s\" does not exist", p->id,
                                p->rbd_pool);
        }
        return rbd_error(p, NULL, r, "opening Ceph pool \"%s\"", p->rbd_pool);
    }

    struct rbd_conn *c = xzalloc(sizeof *c);
    c->cluster = cluster;
    c->io = io;
    *cp = c;
    VLOG_INFO("pool %s: connected to Ceph pool %s as client.%s", p->id,
              p->rbd_pool, p->ceph_user);
    return NULL;
}

static struct lq_error *
conn_get(struct rbd_pool *p, struct rbd_conn **cp)
{
    struct lq_error *error = NULL;

    ovs_mutex_lock(&p->mutex);
    if (!p->conn) {
        /* Connecting under the lock: concurrent callers wait for one
         * connection instead of each making their own. */
        struct rbd_conn *c = NULL;
        error = conn_open(p, &c);
        if (!error) {
            c->refs = 1;            /* The pool's reference. */
            p->conn = c;
        }
    }
    if (!error) {
        p->conn->refs++;
        *cp = p->conn;
    }
    ovs_mutex_unlock(&p->mutex);
    return error;
}

static void
conn_put(struct rbd_pool *p, struct rbd_conn *c)
{
    if (!c) {
        return;
    }
    ovs_mutex_lock(&p->mutex);
    bool last = !--c->refs;
    ovs_mutex_unlock(&p->mutex);
    if (last) {
        conn_destroy(c);
    }
}

/* Drops the pool's reference to 'c' so the next conn_get() reconnects. */
static void
conn_retire(struct rbd_pool *p, struct rbd_conn *c)
{
    bool last = false;

    ovs_mutex_lock(&p->mutex);
    if (p->conn == c && !c->broken) {
        c->broken = true;
        p->conn = NULL;
        last = !--c->refs;
        VLOG_WARN("pool %s: Ceph connection lost; reconnecting on next use",
                  p->id);
    }
    ovs_mutex_unlock(&p->mutex);
    if (last) {
        conn_destroy(c);
    }
}

/* ---- Open/close ----------------------------------------------------------- */

static const char *
param(const struct lq_pool_config *pc, const char *key)
{
    const char *v = lq_kv_list_get(&pc->params, key);
    return v && *v ? v : NULL;
}

static struct lq_error *
drv_open(const struct lq_pool_config *pc, void **implp)
{
    uint32_t depth = DEFAULT_MAX_CLONE_DEPTH;
    const char *d = param(pc, "max_clone_depth");
    if (d) {
        char *end;
        errno = 0;
        long v = strtol(d, &end, 10);
        if (errno || *end || end == d || v < 0 || v > 64) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s]."
                                "max_clone_depth: expected an integer in "
                                "0..64, got \"%s\"", pc->id, d);
        }
        depth = v;
    }

    struct rbd_pool *p = xzalloc(sizeof *p);
    p->id = xstrdup(pc->id);
    p->ceph_conf = nullable_xstrdup(param(pc, "ceph_conf"));
    p->ceph_user = xstrdup(param(pc, "ceph_user") ? param(pc, "ceph_user")
                           : "admin");
    p->ceph_keyring = nullable_xstrdup(param(pc, "ceph_keyring"));
    p->rbd_pool = xstrdup(param(pc, "rbd_pool") ? param(pc, "rbd_pool")
                          : "rbd");
    p->max_clone_depth = depth;
    ovs_mutex_init(&p->mutex);
    *implp = p;
    return NULL;
}

static void
drv_close(void *impl)
{
    struct rbd_pool *p = impl;
    if (!p) {
        return;
    }
    ovs_mutex_lock(&p->mutex);
    struct rbd_conn *c = p->conn;
    p->conn = NULL;
    bool last = c && !--c->refs;
    ovs_mutex_unlock(&p->mutex);
    if (last) {
        conn_destroy(c);
    }
    ovs_mutex_destroy(&p->mutex);
    free(p->id);
    free(p->ceph_conf);
    free(p->ceph_user);
    free(p->ceph_keyring);
    free(p->rbd_pool);
    free(p);
}

static uint32_t
drv_max_clone_depth(void *impl)
{
    return ((struct rbd_pool *) impl)->max_clone_depth;
}

/* ---- Small librbd helpers ------------------------------------------------ */

/* Image metadata value for 'key' (caller frees), or NULL if absent. */
static char *
meta_get(rbd_image_t img, const char *key)
{
    size_t len = 256;
    for (int i = 0; i < 4; i++) {
        char *buf = xmalloc(len);
        size_t n = len;
        int r = rbd_metadata_get(img, key, buf, &n);
        if (r >= 0) {
            buf[len - 1] = '\0';
            return buf;
        }
        free(buf);
        if (r != -ERANGE) {
            return NULL;
        }
        len = MAX(n, len * 2);
    }
    return NULL;
}

/* librbd calls the progress callback without checking it for NULL, so
 * every *_with_progress / *2 call passes this one (with a NULL 'pr_' when
 * nobody watches). */
static int
progress_cb(uint64_t offset, uint64_t total, void *pr_)
{
    struct lq_job_progress *pr = pr_;
    if (pr) {
        if (total) {
            atomic_store(&pr->percent, (unsigned int) (offset * 100 / total));
        }
        if (atomic_load(&pr->cancel)) {
            return -ECANCELED;
        }
    }
    return 0;
}

static struct lq_error *
open_image(struct rbd_pool *p, struct rbd_conn *c, const char *id,
           bool read_only, rbd_image_t *imgp)
{
    char *name = lq_rbd_image_name(id);
    int r = read_only ? rbd_open_read_only(c->io, name, imgp, NULL)
                      : rbd_open(c->io, name, imgp, NULL);
    free(name);
    if (r == -ENOENT) {
        return lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", id);
    }
    return r < 0 ? rbd_error(p, c, r, "volume %s: open", id) : NULL;
}

/* Watchers of 'img' (opened read-only, so our own handle is not one). */
static struct lq_error *
list_watchers(struct rbd_pool *p, struct rbd_conn *c, rbd_image_t img,
              const char *id, rbd_image_watcher_t **wp, size_t *np)
{
    size_t max = 8;
    for (;;) {
        rbd_image_watcher_t *w = xcalloc(max, sizeof *w);
        size_t n = max;
        int r = rbd_watchers_list(img, w, &n);
        if (r >= 0) {
            *wp = w;
            *np = n;
            return NULL;
        }
        free(w);
        if (r != -ERANGE) {
            return rbd_error(p, c, r, "volume %s: listing watchers", id);
        }
        max = MAX(n, max * 2);
    }
}

static void
free_watchers(rbd_image_watcher_t *w, size_t n)
{
    if (w) {
        rbd_watchers_list_cleanup(w, n);
        free(w);
    }
}

/* Children (clones) of 'img' (of all its snapshots when opened at HEAD);
 * trashed children are not counted. */
static struct lq_error *
list_children(struct rbd_pool *p, struct rbd_conn *c, rbd_image_t img,
              const char *id, rbd_linked_image_spec_t **childrenp, size_t *np)
{
    size_t max = 8;
    for (;;) {
        rbd_linked_image_spec_t *ch = xcalloc(max, sizeof *ch);
        size_t n = max;
        int r = rbd_list_children3(img, ch, &n);
        if (r >= 0) {
            *childrenp = ch;
            *np = n;
            return NULL;
        }
        free(ch);
        if (r != -ERANGE) {
            return rbd_error(p, c, r, "volume %s: listing clones", id);
        }
        max = MAX(n, max * 2);
    }
}

static void
free_children(rbd_linked_image_spec_t *ch, size_t n)
{
    if (ch) {
        rbd_linked_image_spec_list_cleanup(ch, n);
        free(ch);
    }
}

static void
describe_children(struct ds *s, const rbd_linked_image_spec_t *ch, size_t n)
{
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        if (ch[i].trash) {
            continue;
        }
        const char *vid = lq_rbd_volume_id(ch[i].image_name);
        if (shown++ < 5) {
            ds_put_format(s, "%s%s%s", shown > 1 ? ", " : "",
                          vid ? vid : ch[i].image_name,
                          vid ? "" : " (not a limiquantix volume)");
        }
    }
    if (shown > 5) {
        ds_put_format(s, " and %"PRIuSIZE" more", shown - 5);
    }
}

static size_t
count_live_children(const rbd_linked_image_spec_t *ch, size_t n)
{
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        live += !ch[i].trash;
    }
    return live;
}

static struct lq_error *
list_snaps(struct rbd_pool *p, struct rbd_conn *c, rbd_image_t img,
           const char *id, rbd_snap_info_t **snapsp, int *np)
{
    int max = 16;
    for (;;) {
        rbd_snap_info_t *s = xcalloc(max, sizeof *s);
        int n = max;
        int r = rbd_snap_list(img, s, &n);
        if (r >= 0) {
            *snapsp = s;
            *np = r;
            return NULL;
        }
        free(s);
        if (r != -ERANGE) {
            return rbd_error(p, c, r, "volume %s: listing snapshots", id);
        }
        max = MAX(n, max * 2);
    }
}

static void
free_snaps(rbd_snap_info_t *s)
{
    if (s) {
        rbd_snap_list_end(s);
        free(s);
    }
}

/* Blocklists the clients that have 'img' open (force delete). */
static struct lq_error *
blocklist_watchers(struct rbd_pool *p, struct rbd_conn *c, const char *id,
                   const rbd_image_watcher_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct json *cmd = json_object_create();
        json_object_put_string(cmd, "prefix", "osd blocklist");
        json_object_put_string(cmd, "blocklistop", "add");
        json_object_put_string(cmd, "addr", w[i].addr);
        char *s = json_to_string(cmd, 0);
        json_destroy(cmd);
        const char *cmds[] = { s };
        char *outbuf = NULL, *outs = NULL;
        size_t outbuf_len = 0, outs_len = 0;
        int r = rados_mon_command(c->cluster, cmds, 1, "", 0, &outbuf,
                                  &outbuf_len, &outs, &outs_len);
        free(s);
        rados_buffer_free(outbuf);
        rados_buffer_free(outs);
        if (r < 0) {
            return rbd_error(p, c, r, "volume %s: blocklisting client %s",
                             id, w[i].addr);
        }
        VLOG_WARN("pool %s: volume %s: blocklisted client %s (forced "
                  "delete)", p->id, id, w[i].addr);
    }
    return NULL;
}

/* Removes a temporary image left by a crashed or failed create. */
static struct lq_error *
remove_tmp(struct rbd_pool *p, struct rbd_conn *c, const char *id)
{
    char *tmp = lq_rbd_tmp_name(id);
    rbd_image_t img;
    struct lq_error *error = NULL;

    int r = rbd_open(c->io, tmp, &img, NULL);
    if (r == -ENOENT) {
        goto out;
    } else if (r < 0) {
        error = rbd_error(p, c, r, "volume %s: opening leftover temporary "
                          "image %s", id, tmp);
        goto out;
    }
    rbd_snap_info_t *snaps;
    int n;
    if (!list_snaps(p, c, img, id, &snaps, &n)) {
        for (int i = 0; i < n; i++) {
            rbd_snap_remove2(img, snaps[i].name, RBD_SNAP_REMOVE_FORCE,
                             progress_cb, NULL);
        }
        free_snaps(snaps);
    }
    rbd_close(img);

    r = rbd_remove(c->io, tmp);
    if (r == -EBUSY) {
        /* A crashed client's watch lingers until the OSD times it out
         * (osd_client_watch_timeout, 30 s by default). */
        error = lq_error_new(LQ_UNAVAILABLE, "pool %s: volume %s: an earlier "
                             "attempt to create it still holds its temporary "
                             "image %s open (it may still be running, or "
                             "the OSD has not yet timed out a crashed "
                             "client); retry later", p->id, id, tmp);
    } else if (r < 0 && r != -ENOENT) {
        error = rbd_error(p, c, r, "volume %s: removing leftover temporary "
                          "image %s", id, tmp);
    } else {
        VLOG_INFO("pool %s: volume %s: removed leftover temporary image %s",
                  p->id, id, tmp);
    }
out:
    free(tmp);
    return error;
}

static void
image_options(rbd_image_options_t *opts)
{
    rbd_image_options_create(opts);
    rbd_image_options_set_uint64(*opts, RBD_IMAGE_OPTION_FORMAT, 2);
    rbd_image_options_set_uint64(*opts, RBD_IMAGE_OPTION_FEATURES,
                                 RBD_FEATURES);
    rbd_image_options_set_uint64(*opts, RBD_IMAGE_OPTION_ORDER, RBD_ORDER);
}

/* Creates the temporary image of volume 'id': empty with 'size' bytes, or
 * a clone of 'parent'@'snap'.  A leftover of an earlier, crashed attempt
 * is removed first (only looked for when the name is taken, to keep the
 * common path one round trip shorter). */
static struct lq_error *
create_tmp(struct rbd_pool *p, struct rbd_conn *c, const char *id,
           uint64_t size, const char *parent, const char *snap)
{
    char *tmp = lq_rbd_tmp_name(id);
    struct lq_error *error = NULL;

    for (int attempt = 0; ; attempt++) {
        rbd_image_options_t opts;
        image_options(&opts);
        int r = parent ? rbd_clone3(c->io, parent, snap, c->io, tmp, opts)
                       : rbd_create4(c->io, tmp, size, opts);
        rbd_image_options_destroy(opts);
        if (r == -EEXIST && !attempt) {
            error = remove_tmp(p, c, id);
            if (!error) {
                continue;
            }
        } else if (r < 0 && parent) {
            error = rbd_error(p, c, r, "volume %s: cloning %s@%s", id,
                              parent, snap);
        } else if (r < 0) {
            error = rbd_error(p, c, r, "volume %s: creating image", id);
        }
        break;
    }
    free(tmp);
    return error;
}

static struct lq_error *
set_volume_metadata(struct rbd_pool *p, struct rbd_conn *c, rbd_image_t img,
                    const struct lq_volume_create_args *a)
{
    const char *kv[][2] = {
        { META_ID, a->id }, { META_NAME, a->name }, { META_SPEC, a->spec },
    };
    for (size_t i = 0; i < ARRAY_SIZE(kv); i++) {
        int r = rbd_metadata_set(img, kv[i][0], kv[i][1]);
        if (r < 0) {
            return rbd_error(p, c, r, "volume %s: setting metadata %s",
                             a->id, kv[i][0]);
        }
    }
    return NULL;
}

/* Renames the finished temporary image to its final name; on failure
 * removes it.  EEXIST: another create of the same id won the race. */
static struct lq_error *
publish(struct rbd_pool *p, struct rbd_conn *c, const char *id)
{
    char *tmp = lq_rbd_tmp_name(id);
    char *name = lq_rbd_image_name(id);
    struct lq_error *error = NULL;

    int r = rbd_rename(c->io, tmp, name);
    if (r < 0) {
        error = r == -EEXIST
            ? lq_error_new(LQ_ALREADY_EXISTS, "pool %s: volume %s was "
                           "created concurrently", p->id, id)
            : rbd_error(p, c, r, "volume %s: renaming %s to %s", id, tmp,
                        name);
        rbd_remove(c->io, tmp);
    }
    free(tmp);
    free(name);
    return error;
}

/* Undoes a failed create: the temporary image goes (best effort; a retry
 * removes it otherwise). */
static void
abandon_tmp(struct rbd_conn *c, const char *id)
{
    char *tmp = lq_rbd_tmp_name(id);
    int r = rbd_remove(c->io, tmp);
    if (r < 0 && r != -ENOENT) {
        VLOG_WARN("volume %s: temporary image %s not removed (%s); the "
                  "next attempt removes it", id, tmp, ovs_strerror(-r));
    }
    free(tmp);
}

/* ---- Create -------------------------------------------------------------- */

static struct lq_error *
drv_create(void *impl, const struct lq_volume_create_args *a)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    error = create_tmp(p, c, a->id, a->size_bytes, NULL, NULL);
    if (error) {
        goto out;
    }

    char *tmp = lq_rbd_tmp_name(a->id);
    rbd_image_t img;
    int r = rbd_open(c->io, tmp, &img, NULL);
    free(tmp);
    if (r < 0) {
        error = rbd_error(p, c, r, "volume %s: opening new image", a->id);
    } else {
        error = set_volume_metadata(p, c, img, a);
        rbd_close(img);
    }
    error = error ? error : publish(p, c, a->id);
    if (error) {
        abandon_tmp(c, a->id);
    }
out:
    conn_put(p, c);
    return error;
}

/* ---- Clone --------------------------------------------------------------- */

static struct lq_error *
drv_clone(void *impl, const struct lq_volume_create_args *a,
          const char *src_id, const char *src_snap_id, bool flatten,
          struct lq_job_progress *pr)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }

    char *parent = lq_rbd_image_name(src_id);
    char *snap = lq_rbd_image_name(src_snap_id);
    char *tmp = lq_rbd_tmp_name(a->id);
    rbd_image_t img;

    /* Protect the snapshot (idempotent; usually done by an earlier clone,
     * so look read-only first: a read-write open costs a watch). */
    error = open_image(p, c, src_id, true, &img);
    if (error) {
        goto out;
    }
    bool exists = false;
    int r = rbd_snap_exists(img, snap, &exists);
    int is_protected = 0;
    if (r >= 0 && exists) {
        r = rbd_snap_is_protected(img, snap, &is_protected);
    }
    rbd_close(img);
    if (r >= 0 && exists && !is_protected) {
        error = open_image(p, c, src_id, false, &img);
        if (error) {
            goto out;
        }
        r = rbd_snap_protect(img, snap);
        r = r == -EBUSY ? 0 : r;        /* Protected concurrently. */
        rbd_close(img);
    }
    if (r >= 0 && !exists) {
        error = lq_error_new(LQ_NOT_FOUND, "snapshot \"%s\" of volume \"%s\" "
                             "not found", src_snap_id, src_id);
        goto out;
    } else if (r < 0) {
        error = rbd_error(p, c, r, "volume %s: protecting snapshot %s",
                          src_id, src_snap_id);
        goto out;
    }

    error = create_tmp(p, c, a->id, 0, parent, snap);
    if (error) {
        goto out;
    }

    r = rbd_open(c->io, tmp, &img, NULL);
    if (r < 0) {
        error = rbd_error(p, c, r, "volume %s: opening new clone", a->id);
        abandon_tmp(c, a->id);
        goto out;
    }
    uint64_t size;
    r = rbd_get_size(img, &size);
    if (r >= 0 && a->size_bytes > size) {
        r = rbd_resize2(img, a->size_bytes, false, progress_cb, NULL);
    }
    if (r < 0) {
        error = rbd_error(p, c, r, "volume %s: growing the clone", a->id);
    }
    if (!error && flatten) {
        VLOG_INFO("pool %s: volume %s: clone chain longer than "
                  "max_clone_depth %"PRIu32": flattening", p->id, a->id,
                  p->max_clone_depth);
        r = rbd_flatten_with_progress(img, progress_cb, pr);
        if (r < 0) {
            error = pr && atomic_load(&pr->cancel)
                ? lq_error_new(LQ_CANCELED, "volume %s: cancelled", a->id)
                : rbd_error(p, c, r, "volume %s: flattening", a->id);
        }
    }
    if (!error) {
        error = set_volume_metadata(p, c, img, a);
    }
    rbd_close(img);
    error = error ? error : publish(p, c, a->id);
    if (error) {
        abandon_tmp(c, a->id);
    }

out:
    free(parent);
    free(snap);
    free(tmp);
    conn_put(p, c);
    return error;
}

/* ---- Import -------------------------------------------------------------- */

struct import_slot {
    char *buf;
    rbd_completion_t comp;      /* NULL when idle. */
    uint64_t offset;
};

/* Waits for 'slot' and returns its error, if any. */
static int
slot_wait(struct import_slot *slot)
{
    int r = 0;
    if (slot->comp) {
        rbd_aio_wait_for_complete(slot->comp);
        r = rbd_aio_get_return_value(slot->comp);
        rbd_aio_release(slot->comp);
        slot->comp = NULL;
    }
    return r < 0 ? r : 0;
}

/* Reads [off, off+len) from the reader into 'buf' (zero-padding past EOF). */
static int
read_full(int fd, char *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, off + done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        } else if (n == 0) {
            memset(buf + done, 0, len - done);
            break;
        }
        done += n;
    }
    return 0;
}

static struct lq_error *
import_data(struct rbd_pool *p, struct rbd_conn *c, rbd_image_t img,
            const char *id, struct lq_image_reader *reader,
            struct lq_job_progress *pr, unsigned int base)
{
    struct import_slot slots[IMPORT_WINDOW];
    size_t next = 0;
    int r = 0;
    struct lq_error *error = NULL;
    uint64_t pos = 0, start, end;

    memset(slots, 0, sizeof slots);
    while (!r && !error && lq_image_next_data(reader, pos, &start, &end)) {
        for (pos = start; pos < end && !r; ) {
            if (atomic_load(&pr->cancel)) {
                error = lq_error_new(LQ_CANCELED, "volume %s: import "
                                     "cancelled", id);
                break;
            }
            /* Chunks stay inside IMPORT_CHUNK-aligned windows, so writes
             * never straddle more objects than needed. */
            uint64_t len = MIN(end - pos, IMPORT_CHUNK - pos % IMPORT_CHUNK);
            struct import_slot *slot = &slots[next];
            r = slot_wait(slot);
            if (r) {
                break;
            }
            if (!slot->buf) {
                slot->buf = xmalloc(IMPORT_CHUNK);
            }
            r = read_full(reader->fd, slot->buf, len, pos);
            if (r) {
                error = lq_error_new(LQ_INTERNAL, "volume %s: reading the "
                                     "source: %s", id, ovs_strerror(-r));
                r = 0;
                break;
            }

            /* Trim to the non-zero ZERO_BLOCKs. */
            uint64_t lo = 0, hi = len;
            while (lo < hi && lq_buffer_is_zero(slot->buf + lo,
                                                MIN(ZERO_BLOCK, hi - lo))) {
                lo += MIN(ZERO_BLOCK, hi - lo);
            }
            while (hi > lo) {
                uint64_t blk = (hi - lo) % ZERO_BLOCK ? (hi - lo) % ZERO_BLOCK
                                                      : ZERO_BLOCK;
                if (!lq_buffer_is_zero(slot->buf + hi - blk, blk)) {
                    break;
                }
                hi -= blk;
            }
            if (hi > lo) {
                rbd_aio_create_completion(NULL, NULL, &slot->comp);
                slot->offset = pos + lo;
                r = rbd_aio_write(img, pos + lo, hi - lo, slot->buf + lo,
                                  slot->comp);
                if (r < 0) {
                    rbd_aio_release(slot->comp);
                    slot->comp = NULL;
                    break;
                }
                r = 0;
                next = (next + 1) % IMPORT_WINDOW;
            }
            pos += len;
            atomic_store(&pr->percent, base + (unsigned int)
                         ((100 - base - 1) * (double) pos / reader->size));
        }
    }
    for (size_t i = 0; i < IMPORT_WINDOW; i++) {
        int r2 = slot_wait(&slots[i]);
        r = r ? r : r2;
        free(slots[i].buf);
    }
    if (!error && r < 0) {
        error = rbd_error(p, c, r, "volume %s: writing", id);
    }
    if (!error) {
        r = rbd_flush(img);
        if (r < 0) {
            error = rbd_error(p, c, r, "volume %s: flushing", id);
        }
    }
    return error;
}

static struct lq_error *
drv_import(void *impl, const struct lq_volume_create_args *a,
           struct lq_image_reader *reader, struct lq_job_progress *pr)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    error = create_tmp(p, c, a->id, MAX(a->size_bytes, reader->size), NULL,
                       NULL);
    if (error) {
        goto out;
    }

    char *tmp = lq_rbd_tmp_name(a->id);
    rbd_image_t img;
    int r = rbd_open(c->io, tmp, &img, NULL);
    free(tmp);
    if (r < 0) {
        error = rbd_error(p, c, r, "volume %s: opening new image", a->id);
    } else {
        error = import_data(p, c, img, a->id, reader, pr,
                            atomic_load(&pr->percent));
        if (!error) {
            error = set_volume_metadata(p, c, img, a);
        }
        rbd_close(img);
    }
    error = error ? error : publish(p, c, a->id);
    if (error) {
        abandon_tmp(c, a->id);
    }
out:
    conn_put(p, c);
    return error;
}

/* ---- Info and list ------------------------------------------------------- */

static int
allocated_cb(uint64_t off, size_t len, int exists, void *sum_)
{
    uint64_t *sum = sum_;
    if (exists) {
        *sum += len;
    }
    return 0;
}

/* Number of ancestors of 'img' (its clone chain length). */
static uint32_t
chain_depth(struct rbd_conn *c, rbd_image_t img)
{
    uint32_t depth = 0;
    rbd_image_t cur = img;

    while (depth < 256) {
        rbd_linked_image_spec_t parent;
        rbd_snap_spec_t psnap;
        if (rbd_get_parent(cur, &parent, &psnap) < 0) {
            break;
        }
        depth++;
        rbd_image_t next = NULL;
        rados_ioctx_t pio;
        int r = rados_ioctx_create2(c->cluster, parent.pool_id, &pio);
        if (r >= 0) {
            rados_ioctx_set_namespace(pio, parent.pool_namespace);
            r = rbd_open_by_id_read_only(pio, parent.image_id, &next, NULL);
            rados_ioctx_destroy(pio);   /* The image keeps its own. */
        }
        rbd_linked_image_spec_cleanup(&parent);
        rbd_snap_spec_cleanup(&psnap);
        if (cur != img) {
            rbd_close(cur);
        }
        if (r < 0) {
            return depth;
        }
        cur = next;
    }
    if (cur != img) {
        rbd_close(cur);
    }
    return depth;
}

static struct lq_error *
fill_snapshots(struct rbd_pool *p, struct rbd_conn *c, rbd_image_t img,
               struct lq_volume_info *v)
{
    rbd_snap_info_t *snaps;
    int n;
    struct lq_error *error = list_snaps(p, c, img, v->id, &snaps, &n);
    if (error) {
        return error;
    }
    v->snapshots = xcalloc(MAX(n, 1), sizeof *v->snapshots);
    for (int i = 0; i < n; i++) {
        const char *sid = snap_id_of(snaps[i].name);
        if (!sid) {
            continue;               /* Not ours (e.g. made with `rbd`). */
        }
        struct lq_snapshot_info *s = &v->snapshots[v->n_snapshots++];
        s->id = xstrdup(sid);
        s->volume_id = xstrdup(v->id);
        char *key = xasprintf(META_SNAP "%s", sid);
        s->name = meta_get(img, key);
        free(key);
        if (!s->name) {
            s->name = xstrdup(sid);
        }
        s->size_bytes = snaps[i].size;
        int prot = 0;
        rbd_snap_is_protected(img, snaps[i].name, &prot);
        s->protected_ = prot;
        struct timespec ts;
        if (rbd_snap_get_timestamp(img, snaps[i].id, &ts) >= 0) {
            s->created_at = ts.tv_sec;
        }
    }
    free_snaps(snaps);
    return NULL;
}

static struct lq_error *
info_from_image(struct rbd_pool *p, struct rbd_conn *c, rbd_image_t img,
                const char *id, struct lq_volume_info **infop)
{
    char *vid = meta_get(img, META_ID);
    if (!vid || strcmp(vid, id)) {
        free(vid);
        return lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found (image "
                            "lq-%s is not a limiquantix volume)", id, id);
    }

    struct lq_volume_info *v = lq_volume_info_new();
    v->id = vid;
    v->pool_id = xstrdup(p->id);
    v->name = meta_get(img, META_NAME);
    v->name = v->name ? v->name : xstrdup(id);
    v->create_spec = meta_get(img, META_SPEC);
    v->state = LQ_VOLUME_AVAILABLE;
    v->progress_percent = 100;
    v->backend_name = xasprintf("%s/" IMAGE_PREFIX "%s", p->rbd_pool, id);

    struct lq_error *error = NULL;
    int r = rbd_get_size(img, &v->size_bytes);
    if (r < 0) {
        error = rbd_error(p, c, r, "volume %s: size", id);
        goto out;
    }

    rbd_linked_image_spec_t parent;
    rbd_snap_spec_t psnap;
    if (rbd_get_parent(img, &parent, &psnap) >= 0) {
        const char *pv = lq_rbd_volume_id(parent.image_name);
        const char *ps = psnap.name ? snap_id_of(psnap.name) : NULL;
        v->parent_volume_id = xstrdup(pv ? pv : parent.image_name);
        v->parent_snapshot_id = xstrdup(ps ? ps : psnap.name ? psnap.name
                                        : "");
        rbd_linked_image_spec_cleanup(&parent);
        rbd_snap_spec_cleanup(&psnap);
        v->clone_depth = chain_depth(c, img);
    }

    uint64_t allocated = 0;
    r = rbd_diff_iterate2(img, NULL, 0, v->size_bytes, 0, 1, allocated_cb,
                          &allocated);
    if (r < 0) {
        error = rbd_error(p, c, r, "volume %s: allocation", id);
        goto out;
    }
    v->allocated_bytes = allocated;

    rbd_image_watcher_t *w;
    size_t n_w;
    error = list_watchers(p, c, img, id, &w, &n_w);
    if (error) {
        goto out;
    }
    v->attached = n_w > 0;
    free_watchers(w, n_w);

    struct timespec ts;
    if (rbd_get_create_timestamp(img, &ts) >= 0) {
        v->created_at = ts.tv_sec;
    }
    error = fill_snapshots(p, c, img, v);

out:
    if (error) {
        lq_volume_info_free(v);
    } else {
        *infop = v;
    }
    return error;
}

static struct lq_error *
drv_info(void *impl, const char *id, struct lq_volume_info **infop)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    rbd_image_t img;
    error = open_image(p, c, id, true, &img);
    if (!error) {
        error = info_from_image(p, c, img, id, infop);
        rbd_close(img);
    }
    conn_put(p, c);
    return error;
}

static struct lq_error *
list_images(struct rbd_pool *p, struct rbd_conn *c, rbd_image_spec_t **imgsp,
            size_t *np)
{
    size_t max = 64;
    for (;;) {
        rbd_image_spec_t *imgs = xcalloc(max, sizeof *imgs);
        size_t n = max;
        int r = rbd_list2(c->io, imgs, &n);
        if (r >= 0) {
            *imgsp = imgs;
            *np = n;
            return NULL;
        }
        free(imgs);
        if (r != -ERANGE) {
            return rbd_error(p, c, r, "listing images");
        }
        max = MAX(n, max * 2);
    }
}

static void
free_images(rbd_image_spec_t *imgs, size_t n)
{
    rbd_image_spec_list_cleanup(imgs, n);
    free(imgs);
}

static struct lq_error *
drv_list(void *impl, struct lq_volume_list *list)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    rbd_image_spec_t *imgs = NULL;
    size_t n = 0;
    error = list_images(p, c, &imgs, &n);
    for (size_t i = 0; !error && i < n; i++) {
        const char *id = lq_rbd_volume_id(imgs[i].name);
        if (!id) {
            continue;
        }
        rbd_image_t img;
        int r = rbd_open_read_only(c->io, imgs[i].name, &img, NULL);
        if (r == -ENOENT) {
            continue;               /* Deleted meanwhile. */
        } else if (r < 0) {
            error = rbd_error(p, c, r, "volume %s: open", id);
            break;
        }
        struct lq_volume_info *v;
        error = info_from_image(p, c, img, id, &v);
        rbd_close(img);
        if (error && error->code == LQ_NOT_FOUND) {
            lq_error_free(error);   /* Not one of ours. */
            error = NULL;
        } else if (!error) {
            lq_volume_list_add(list, v);
        }
    }
    if (imgs) {
        free_images(imgs, n);
    }
    conn_put(p, c);
    return error;
}

/* ---- Delete, resize, flatten ---------------------------------------------- */

/* Flattens every clone of 'img' (force delete). */
static struct lq_error *
flatten_children(struct rbd_pool *p, struct rbd_conn *c, const char *id,
                 const rbd_linked_image_spec_t *ch, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ch[i].trash) {
            continue;
        }
        rados_ioctx_t cio;
        int r = rados_ioctx_create2(c->cluster, ch[i].pool_id, &cio);
        if (r < 0) {
            return rbd_error(p, c, r, "volume %s: opening pool of clone %s",
                             id, ch[i].image_name);
        }
        rados_ioctx_set_namespace(cio, ch[i].pool_namespace);
        rbd_image_t child;
        r = rbd_open(cio, ch[i].image_name, &child, NULL);
        if (r >= 0) {
            VLOG_INFO("pool %s: volume %s: flattening clone %s before "
                      "deleting its parent", p->id, id, ch[i].image_name);
            r = rbd_flatten(child);
            r = r == -EINVAL ? 0 : r;   /* Already flat. */
            rbd_close(child);
        }
        rados_ioctx_destroy(cio);
        if (r < 0 && r != -ENOENT) {
            return rbd_error(p, c, r, "volume %s: flattening clone %s", id,
                             ch[i].image_name);
        }
    }
    return NULL;
}

static struct lq_error *
drv_remove(void *impl, const char *id, bool force)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    rbd_image_t img = NULL;
    rbd_image_watcher_t *w = NULL;
    size_t n_w = 0;
    rbd_linked_image_spec_t *ch = NULL;
    size_t n_ch = 0;
    char *name = lq_rbd_image_name(id);

    error = remove_tmp(p, c, id);
    if (error) {
        goto out;
    }

    /* Read-only first: our own handle must not count as a watcher. */
    error = open_image(p, c, id, true, &img);
    if (error && error->code == LQ_NOT_FOUND) {
        lq_error_free(error);
        error = NULL;               /* Already gone: success. */
        goto out;
    } else if (error) {
        goto out;
    }
    char *vid = meta_get(img, META_ID);
    bool ours = vid && !strcmp(vid, id);
    free(vid);
    if (!ours) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: image %s is "
                             "not a limiquantix volume; not deleting it",
                             p->id, name);
        goto out;
    }
    error = list_children(p, c, img, id, &ch, &n_ch);
    if (!error) {
        error = list_watchers(p, c, img, id, &w, &n_w);
    }
    rbd_close(img);
    img = NULL;
    if (error) {
        goto out;
    }

    if (count_live_children(ch, n_ch) && !force) {
        struct ds s = DS_EMPTY_INITIALIZER;
        describe_children(&s, ch, n_ch);
        error = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s has clones "
                             "(%s): delete or flatten them first, or delete "
                             "with force to flatten them", id, ds_cstr(&s));
        ds_destroy(&s);
        goto out;
    }
    if (n_w && !force) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached "
                             "(%"PRIuSIZE" client%s, e.g. %s): detach it "
                             "first, or delete with force to cut the "
                             "client%s off", id, n_w, n_w > 1 ? "s" : "",
                             w[0].addr, n_w > 1 ? "s" : "");
        goto out;
    }
    if (force) {
        error = flatten_children(p, c, id, ch, n_ch);
        if (!error) {
            error = blocklist_watchers(p, c, id, w, n_w);
        }
        if (error) {
            goto out;
        }
    }

    /* Snapshots go with the volume. */
    int r = rbd_open(c->io, name, &img, NULL);
    if (r >= 0) {
        rbd_snap_info_t *snaps = NULL;
        int n = 0;
        error = list_snaps(p, c, img, id, &snaps, &n);
        for (int i = 0; !error && i < n; i++) {
            r = rbd_snap_remove2(img, snaps[i].name, RBD_SNAP_REMOVE_FORCE,
                                 progress_cb, NULL);
            if (r < 0 && r != -ENOENT) {
                error = rbd_error(p, c, r, "volume %s: deleting snapshot %s",
                                  id, snaps[i].name);
            }
        }
        free_snaps(snaps);
        rbd_close(img);
        img = NULL;
    } else if (r != -ENOENT) {
        error = rbd_error(p, c, r, "volume %s: open", id);
    }
    if (error) {
        goto out;
    }

    /* Blocklisted watches can take a moment to disappear. */
    for (int attempt = 0; ; attempt++) {
        r = rbd_remove(c->io, name);
        if (r != -EBUSY || !force || attempt >= 50) {
            break;
        }
        xnanosleep(100 * 1000 * 1000);
    }
    if (r == -EBUSY) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached "
                             "(it still has watchers)", id);
    } else if (r == -ENOTEMPTY) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s has "
                             "snapshots (taken concurrently?); retry", id);
    } else if (r < 0 && r != -ENOENT) {
        error = rbd_error(p, c, r, "volume %s: deleting", id);
    } else {
        VLOG_INFO("pool %s: deleted volume %s", p->id, id);
    }

out:
    if (img) {
        rbd_close(img);
    }
    free_watchers(w, n_w);
    free_children(ch, n_ch);
    free(name);
    conn_put(p, c);
    return error;
}

static struct lq_error *
drv_resize(void *impl, const char *id, uint64_t size, bool allow_shrink)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    rbd_image_t img;
    error = open_image(p, c, id, false, &img);
    if (!error) {
        uint64_t cur;
        int r = rbd_get_size(img, &cur);
        if (r >= 0 && size < cur && !allow_shrink) {
            error = lq_error_new(LQ_FAILED_PRECONDITION, "sizeBytes: %"PRIu64
                                 " is smaller than the current size %"PRIu64
                                 " of volume %s; set allowShrink to shrink "
                                 "it (data past the new end is lost)", size,
                                 cur, id);
        } else if (r >= 0 && size != cur) {
            r = rbd_resize2(img, size, allow_shrink, progress_cb, NULL);
        }
        if (!error && r < 0) {
            error = rbd_error(p, c, r, "volume %s: resizing to %"PRIu64, id,
                              size);
        }
        rbd_close(img);
    }
    conn_put(p, c);
    return error;
}

static struct lq_error *
drv_flatten(void *impl, const char *id, struct lq_job_progress *pr)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    rbd_image_t img;
    error = open_image(p, c, id, false, &img);
    if (!error) {
        int r = rbd_flatten_with_progress(img, progress_cb, pr);
        if (r < 0 && r != -EINVAL) {        /* EINVAL: has no parent. */
            error = pr && atomic_load(&pr->cancel)
                ? lq_error_new(LQ_CANCELED, "volume %s: flatten cancelled",
                               id)
                : rbd_error(p, c, r, "volume %s: flattening", id);
        }
        rbd_close(img);
    }
    conn_put(p, c);
    return error;
}

static struct lq_error *
drv_clone_depth(void *impl, const char *id, uint32_t *depthp)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    rbd_image_t img;
    error = open_image(p, c, id, true, &img);
    if (!error) {
        *depthp = chain_depth(c, img);
        rbd_close(img);
    }
    conn_put(p, c);
    return error;
}

/* ---- Snapshots ------------------------------------------------------------ */

static struct lq_error *
drv_snapshot_create(void *impl, const char *vid, const char *sid,
                    const char *name)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    char *snap = lq_rbd_image_name(sid);
    char *key = xasprintf(META_SNAP "%s", sid);
    rbd_image_t img;
    error = open_image(p, c, vid, false, &img);
    if (error) {
        goto out;
    }
    bool exists = false;
    int r = rbd_snap_exists(img, snap, &exists);
    char *old = meta_get(img, key);
    if (r >= 0 && exists && old && strcmp(old, name)) {
        error = lq_error_new(LQ_ALREADY_EXISTS, "snapshot %s of volume %s "
                             "exists with name \"%s\"", sid, vid, old);
    } else if (r >= 0) {
        /* Name first: a crash then leaves a name without a snapshot, which
         * nothing shows, rather than a snapshot without its name. */
        r = old && !strcmp(old, name) ? 0 : rbd_metadata_set(img, key, name);
        if (r >= 0 && !exists) {
            r = rbd_snap_create2(img, snap, 0, progress_cb, NULL);
            r = r == -EEXIST ? 0 : r;
        }
    }
    free(old);
    if (!error && r < 0) {
        error = rbd_error(p, c, r, "volume %s: creating snapshot %s", vid,
                          sid);
    }
    rbd_close(img);
out:
    free(snap);
    free(key);
    conn_put(p, c);
    return error;
}

static struct lq_error *
drv_snapshot_delete(void *impl, const char *vid, const char *sid, bool force)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    char *name = lq_rbd_image_name(vid);
    char *snap = lq_rbd_image_name(sid);
    char *key = xasprintf(META_SNAP "%s", sid);
    rbd_image_t img;
    rbd_linked_image_spec_t *ch = NULL;
    size_t n_ch = 0;

    /* Clones of this snapshot only: open the image at the snapshot. */
    int r = rbd_open_read_only(c->io, name, &img, snap);
    if (r == -ENOENT) {
        goto out;                   /* Volume or snapshot gone: done. */
    } else if (r < 0) {
        error = rbd_error(p, c, r, "volume %s: opening snapshot %s", vid,
                          sid);
        goto out;
    }
    error = list_children(p, c, img, vid, &ch, &n_ch);
    rbd_close(img);
    if (error) {
        goto out;
    }
    if (count_live_children(ch, n_ch) && !force) {
        struct ds s = DS_EMPTY_INITIALIZER;
        describe_children(&s, ch, n_ch);
        error = lq_error_new(LQ_FAILED_PRECONDITION, "snapshot %s of volume "
                             "%s has clones (%s): delete or flatten them "
                             "first, or delete with force to flatten them",
                             sid, vid, ds_cstr(&s));
        ds_destroy(&s);
        goto out;
    }

    error = open_image(p, c, vid, false, &img);
    if (error) {
        goto out;
    }
    r = rbd_snap_remove2(img, snap, RBD_SNAP_REMOVE_UNPROTECT
                         | (force ? RBD_SNAP_REMOVE_FLATTEN : 0), progress_cb,
                         NULL);
    if (r < 0 && r != -ENOENT) {
        error = rbd_error(p, c, r, "volume %s: deleting snapshot %s", vid,
                          sid);
    } else {
        rbd_metadata_remove(img, key);
    }
    rbd_close(img);
out:
    free_children(ch, n_ch);
    free(name);
    free(snap);
    free(key);
    conn_put(p, c);
    return error;
}

static struct lq_error *
drv_snapshot_rollback(void *impl, const char *vid, const char *sid)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    char *snap = lq_rbd_image_name(sid);
    rbd_image_t img;
    error = open_image(p, c, vid, true, &img);
    if (error) {
        goto out;
    }
    bool exists = false;
    int r = rbd_snap_exists(img, snap, &exists);
    rbd_image_watcher_t *w = NULL;
    size_t n_w = 0;
    if (r >= 0 && exists) {
        error = list_watchers(p, c, img, vid, &w, &n_w);
    }
    rbd_close(img);
    if (error) {
        goto out;
    }
    if (r < 0) {
        error = rbd_error(p, c, r, "volume %s: snapshot %s", vid, sid);
    } else if (!exists) {
        error = lq_error_new(LQ_NOT_FOUND, "snapshot \"%s\" of volume \"%s\" "
                             "not found", sid, vid);
    } else if (n_w) {
        error = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached "
                             "(%"PRIuSIZE" client%s): detach it before "
                             "rolling back", vid, n_w, n_w > 1 ? "s" : "");
    }
    free_watchers(w, n_w);
    if (error) {
        goto out;
    }

    error = open_image(p, c, vid, false, &img);
    if (!error) {
        r = rbd_snap_rollback_with_progress(img, snap, progress_cb, NULL);
        if (r < 0) {
            error = rbd_error(p, c, r, "volume %s: rolling back to %s", vid,
                              sid);
        }
        rbd_close(img);
    }
out:
    free(snap);
    conn_put(p, c);
    return error;
}

static struct lq_error *
drv_snapshot_find(void *impl, const char *sid, char **vidp)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    char *snap = lq_rbd_image_name(sid);
    rbd_image_spec_t *imgs = NULL;
    size_t n = 0;
    *vidp = NULL;
    error = list_images(p, c, &imgs, &n);
    for (size_t i = 0; !error && !*vidp && i < n; i++) {
        const char *id = lq_rbd_volume_id(imgs[i].name);
        rbd_image_t img;
        if (!id || rbd_open_read_only(c->io, imgs[i].name, &img, NULL) < 0) {
            continue;
        }
        bool exists = false;
        if (rbd_snap_exists(img, snap, &exists) >= 0 && exists) {
            *vidp = xstrdup(id);
        }
        rbd_close(img);
    }
    if (imgs) {
        free_images(imgs, n);
    }
    if (!error) {
        if (!*vidp) {
            error = lq_error_new(LQ_NOT_FOUND, "snapshot \"%s\" not found",
                                 sid);
        }
    }
    free(snap);
    conn_put(p, c);
    return error;
}

/* ---- Pool status and attach ----------------------------------------------- */

static struct lq_error *
drv_status(void *impl, struct lq_pool_status *st)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    struct rados_cluster_stat_t cs;
    struct rados_pool_stat_t ps;
    int r = rados_cluster_stat(c->cluster, &cs);
    if (r >= 0) {
        r = rados_ioctx_pool_stat(c->io, &ps);
    }
    if (r < 0) {
        error = rbd_error(p, c, r, "reading cluster statistics");
    } else {
        st->capacity_bytes = cs.kb * 1024;
        st->available_bytes = cs.kb_avail * 1024;
        st->allocated_bytes = ps.num_bytes;
        st->health = xstrdup("ok");
        st->message = xstrdup(cs.kb ? "" : "the cluster reports no "
                              "capacity (no ceph-mgr running?)");
    }
    conn_put(p, c);
    return error;
}

void
lq_rbd_parse_mon_host(const char *mon_host, struct lq_disk_host **hostsp,
                      size_t *np)
{
    struct lq_disk_host *hosts = NULL;
    size_t n = 0, allocated = 0;
    char *copy = xstrdup(mon_host ? mon_host : "");

    /* Blank out the brackets of address vectors ("[v2:h:p,v1:h:p]"), keeping
     * those of IPv6 literals ("[::1]"), so that every address becomes one
     * token. */
    bool in_vector = false;
    int literal_depth = 0;
    for (char *q = copy; *q; q++) {
        if (*q == '[' && !in_vector
            && (!strncmp(q + 1, "v1:", 3) || !strncmp(q + 1, "v2:", 3))) {
            in_vector = true;
            *q = ' ';
        } else if (*q == '[') {
            literal_depth++;
        } else if (*q == ']' && literal_depth) {
            literal_depth--;
        } else if (*q == ']' && in_vector) {
            in_vector = false;
            *q = ' ';
        }
    }

    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ;\t", &save); tok;
         tok = strtok_r(NULL, ", ;\t", &save)) {
        const char *transport = "";
        if (!strncmp(tok, "v1:", 3) || !strncmp(tok, "v2:", 3)) {
            transport = tok[1] == '1' ? "v1" : "v2";
            tok += 3;
        }
        char *host, *port = "";
        if (tok[0] == '[') {
            char *end = strchr(tok, ']');
            if (!end) {
                continue;
            }
            *end = '\0';
            host = tok + 1;
            if (end[1] == ':') {
                port = end + 2;
            }
        } else {
            host = tok;
            char *colon = strchr(tok, ':');
            if (colon && !strchr(colon + 1, ':')) {
                *colon = '\0';
                port = colon + 1;
            }
        }
        char *slash = strchr(port, '/');    /* Entity address nonce. */
        if (slash) {
            *slash = '\0';
        }
        if (!*host) {
            continue;
        }
        if (n >= allocated) {
            hosts = x2nrealloc(hosts, &allocated, sizeof *hosts);
        }
        hosts[n].name = strchr(host, ':') ? xasprintf("[%s]", host)
                                          : xstrdup(host);
        hosts[n].port = xstrdup(port);
        hosts[n].transport = xstrdup(transport);
        n++;
    }
    free(copy);
    *hostsp = hosts;
    *np = n;
}

static struct lq_error *
drv_disk_source(void *impl, const char *id, struct lq_disk_source **sp)
{
    struct rbd_pool *p = impl;
    struct rbd_conn *c;
    struct lq_error *error = conn_get(p, &c);
    if (error) {
        return error;
    }
    rbd_image_t img;
    error = open_image(p, c, id, true, &img);
    if (error) {
        conn_put(p, c);
        return error;
    }
    rbd_close(img);

    struct lq_disk_source *s = xzalloc(sizeof *s);
    s->type = xstrdup("network");
    s->protocol = xstrdup("rbd");
    s->name = xasprintf("%s/" IMAGE_PREFIX "%s", p->rbd_pool, id);
    s->format = xstrdup("raw");
    char buf[4096];
    if (rados_conf_get(c->cluster, "mon_host", buf, sizeof buf) >= 0) {
        lq_rbd_parse_mon_host(buf, &s->hosts, &s->n_hosts);
    }
    s->auth_username = xstrdup(p->ceph_user);
    s->secret_type = xstrdup("ceph");
    s->config_file = nullable_xstrdup(p->ceph_conf);
    s->keyring = nullable_xstrdup(p->ceph_keyring);
    *sp = s;
    conn_put(p, c);
    return NULL;
}

const struct lq_storage_driver lq_rbd_driver = {
    .backend = "rbd",
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
