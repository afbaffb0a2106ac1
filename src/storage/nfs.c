/* nfs.c: the NFS storage driver: raw files on an NFS export, reached in
 * userspace with libnfs (no kernel mount needed on the node).
 *
 * Design decisions:
 * - Files at the export's root: volume <id> is the sparse raw file
 *   "lq-<id>.raw" with its metadata "lq-<id>.meta" (JSON: volume_id, name,
 *   spec, created_at, snapshot names and sizes); snapshot <sid> is the
 *   read-only copy "lq-snap~<vid>~<sid>.raw".  The export is the truth:
 *   any node mounting it lists the same volumes.  A file without our
 *   metadata is not ours.
 * - Nothing half-made under the final name: creates write
 *   "lq-tmp~<id>.raw"/".meta" and rename the metadata, then the file
 *   (NFS RENAME is atomic on the server).  Leftovers are invisible and
 *   removed by the retry or a delete.
 * - Raw, not qcow2: every format operation (qemu-img snapshot, rebase,
 *   overlays) would need qemu-img to open files on the export, and QEMU's
 *   NFS driver speaks only NFSv3 (with rpcbind) while the agent works
 *   over NFSv3 or v4 through libnfs alone.  So snapshots are sparse full
 *   copies made by the agent, a rollback copies the snapshot back and
 *   renames it over the volume (atomic), and clones are full copies of a
 *   snapshot (no parent; max clone depth 0 makes every clone a background
 *   job with progress).  Thin, simple, and no file depends on another.
 * - Names: one entry under the export root, built from validated ids
 *   (lq_pooldir_name_ok); symbolic links and hard-linked files under our
 *   names are refused (lstat over NFS before every use).
 * - One libnfs context per call (contexts are not thread-safe), 10 s RPC
 *   timeout, no automatic reconnect: a dead server is LQ_UNAVAILABLE.
 *   Each context has its own NFSv4 client name (see conn_open()).
 * - "Attached" cannot be seen over NFS: always false; resizes and
 *   rollbacks of a disk in use are the caller's responsibility. */
#include <config.h>
#include "nfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <nfsc/libnfs.h>

#include "driver.h"
#include "image.h"
#include "local.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "pooldir.h"
#include "sset.h"
#include "jsonx.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(storage_nfs);

#define NFS_TIMEOUT_MS 10000
#define COPY_CHUNK (1u << 20)
#define ZERO_BLOCK (64u << 10)
#define META_MAX (1 << 20)

struct nfs_pool {
    char *id;
    char *server;
    char *export;
    int version;                /* 3 or 4 */
    int port;                   /* 0: default (portmapper / 2049). */
};

/* ---- Pure helpers (unit-tested) ------------------------------------------ */

struct lq_error *
lq_nfs_check_server(const char *field, const char *server)
{
    if (!server || !*server) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: required", field);
    }
    if (strlen(server) > 253) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: too long", field);
    }
    for (const char *c = server; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || (*c >= '0' && *c <= '9') || *c == '.' || *c == '-')) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not a "
                                "host name or IPv4 address", field, server);
        }
    }
    return NULL;
}

struct lq_error *
lq_nfs_check_export(const char *field, const char *export)
{
    struct lq_error *e = lq_local_check_pool_path(field, export);
    if (!e && strpbrk(export, "?&#%\\ ")) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" must not contain "
                         "'?', '&', '#', '%%', '\\\\' or spaces", field,
                         export);
    }
    return e;
}

char *
lq_nfs_url(const char *server, const char *export, int version, int port)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "nfs://%s%s?version=%d", server, export, version);
    if (port) {
        ds_put_format(&s, "&nfsport=%d", port);
    }
    return ds_steal_cstr(&s);
}

/* ---- Open/close ------------------------------------------------------------- */

static const char *
param(const struct lq_pool_config *pc, const char *key)
{
    const char *v = lq_kv_list_get(&pc->params, key);
    return v && *v ? v : NULL;
}

static struct lq_error *
drv_open(const struct lq_pool_config *pc, void **implp)
{
    char *f = xasprintf("storage.pools[%s].server", pc->id);
    struct lq_error *e = lq_nfs_check_server(f, param(pc, "server"));
    free(f);
    if (!e) {
        f = xasprintf("storage.pools[%s].export", pc->id);
        e = lq_nfs_check_export(f, param(pc, "export"));
        free(f);
    }
    const char *v = param(pc, "nfs_version");
    int version = 3;
    if (!e && v) {
        if (!strcmp(v, "3") || !strcmp(v, "4")) {
            version = atoi(v);
        } else {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s]."
                             "nfs_version: expected 3 or 4, got \"%s\"",
                             pc->id, v);
        }
    }
    const char *pt = param(pc, "port");
    int port = 0;
    if (!e && pt) {
        char *end;
        long n = strtol(pt, &end, 10);
        if (*end || end == pt || n < 1 || n > 65535) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s].port: "
                             "expected 1..65535, got \"%s\"", pc->id, pt);
        }
        port = n;
    }
    if (e) {
        return e;
    }
    struct nfs_pool *p = xzalloc(sizeof *p);
    p->id = xstrdup(pc->id);
    p->server = xstrdup(param(pc, "server"));
    p->export = xstrdup(param(pc, "export"));
    size_t len = strlen(p->export);
    while (len > 1 && p->export[len - 1] == '/') {
        p->export[--len] = '\0';
    }
    p->version = version;
    p->port = port;
    *implp = p;
    return NULL;
}

static void
drv_close(void *impl)
{
    struct nfs_pool *p = impl;
    if (p) {
        free(p->id);
        free(p->server);
        free(p->export);
        free(p);
    }
}

static uint32_t
drv_max_clone_depth(void *impl OVS_UNUSED)
{
    return 0;                       /* Clones are copies (jobs). */
}

/* ---- libnfs ----------------------------------------------------------------- */

static struct lq_error *
nerr(const struct nfs_pool *p, struct nfs_context *n, enum lq_code code,
     const char *fmt, const char *arg)
{
    char *what = xasprintf(fmt, arg);
    struct lq_error *e = lq_error_new(code, "pool %s: NFS %s:%s: %s: %s",
                                      p->id, p->server, p->export, what,
                                      n ? nfs_get_error(n) : "no context");
    free(what);
    return e;
}

static struct lq_error *
conn_open(const struct nfs_pool *p, struct nfs_context **np)
{
    *np = NULL;
    struct nfs_context *n = nfs_init_context();
    if (!n) {
        return nerr(p, NULL, LQ_INTERNAL, "%s", "init");
    }
    char *url = lq_nfs_url(p->server, p->export, p->version, p->port);
    struct nfs_url *u = nfs_parse_url_dir(n, url);
    free(url);
    if (!u) {
        struct lq_error *e = nerr(p, n, LQ_INVALID_ARGUMENT, "%s", "url");
        nfs_destroy_context(n);
        return e;
    }
    nfs_set_timeout(n, NFS_TIMEOUT_MS);
    nfs_set_autoreconnect(n, 0);
    /* Each context is its own NFSv4 client: with libnfs's default name,
     * every new context of this process would look like the same client
     * rebooted, and the server would expire the opens of the calls still
     * running on the others (NFS4ERR_EXPIRED). */
    static atomic_uint serial;
    char name[128];
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(name, sizeof name, "limiquantix-node/%s/%ld/%u", host,
             (long) getpid(), atomic_fetch_add(&serial, 1));
    nfs4_set_client_name(n, name);
    int r = nfs_mount(n, u->server, u->path);
    nfs_destroy_url(u);
    if (r) {
        struct lq_error *e = nerr(p, n, LQ_UNAVAILABLE, "%s", "mount");
        nfs_destroy_context(n);
        return e;
    }
    *np = n;
    return NULL;
}

static void
conn_close(struct nfs_context *n)
{
    if (n) {
        nfs_destroy_context(n);
    }
}

static char *
npath(const char *name)
{
    ovs_assert(lq_pooldir_name_ok(name));
    return xasprintf("/%s", name);
}

/* Like lq_pooldir_check() over NFS. */
static struct lq_error *
ncheck(const struct nfs_pool *p, struct nfs_context *n, const char *name,
       bool *existsp, struct nfs_stat_64 *stp)
{
    struct nfs_stat_64 st;
    char *path = npath(name);
    int r = nfs_lstat64(n, path, &st);
    free(path);
    *existsp = false;
    if (r == -ENOENT) {
        return NULL;
    } else if (r) {
        return nerr(p, n, LQ_UNAVAILABLE, "lstat %s", name);
    }
    if (!S_ISREG(st.nfs_mode) || st.nfs_nlink != 1) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: %s on %s:%s "
                            "is %s, not a plain file; refusing to use it",
                            p->id, name, p->server, p->export,
                            S_ISLNK(st.nfs_mode) ? "a symbolic link"
                            : S_ISREG(st.nfs_mode) ? "hard-linked"
                            : "not a regular file");
    }
    *existsp = true;
    if (stp) {
        *stp = st;
    }
    return NULL;
}

static struct lq_error *
nunlink(const struct nfs_pool *p, struct nfs_context *n, const char *name)
{
    char *path = npath(name);
    int r = nfs_unlink(n, path);
    free(path);
    return r && r != -ENOENT ? nerr(p, n, LQ_INTERNAL, "removing %s", name)
                             : NULL;
}

static struct lq_error *
nrename(const struct nfs_pool *p, struct nfs_context *n, const char *from,
        const char *to)
{
    char *a = npath(from), *b = npath(to);
    int r = nfs_rename(n, a, b);
    free(a);
    free(b);
    return r ? nerr(p, n, LQ_INTERNAL, "renaming %s", from) : NULL;
}

static struct lq_error *nunlink(const struct nfs_pool *, struct nfs_context *,
                                const char *name);

/* Creates 'name' anew (removing an old one) for writing; mode 0600. */
static struct lq_error *
ncreate(const struct nfs_pool *p, struct nfs_context *n, const char *name,
        struct nfsfh **fhp)
{
    /* Over NFSv4 libnfs 4.0 creates exclusively (an existing file is
     * EEXIST even with O_TRUNC), and nfs_creat() opens read-only: unlink
     * first and use nfs_create(O_RDWR). */
    struct lq_error *e = nunlink(p, n, name);
    if (e) {
        return e;
    }
    char *path = npath(name);
    int r = nfs_create(n, path, O_RDWR | O_TRUNC, 0600, fhp);
    free(path);
    return r ? nerr(p, n, LQ_INTERNAL, "creating %s", name) : NULL;
}

static struct lq_error *
nwrite_all(const struct nfs_pool *p, struct nfs_context *n, struct nfsfh *fh,
           uint64_t off, const char *buf, size_t len, const char *name)
{
    /* libnfs 4.0 over NFSv4 cannot encode a WRITE of 4 KiB or more (its
     * request buffer is fixed) and reports no maximum: stay below. */
    uint64_t max = nfs_get_writemax(n);
    max = max ? MIN(max, 1u << 20) : p->version == 4 ? 2048 : 32768;
    while (len) {
        int r = nfs_pwrite(n, fh, off, MIN(len, max), buf);
        if (r <= 0) {
            return nerr(p, n, LQ_INTERNAL, "writing %s", name);
        }
        off += r;
        buf += r;
        len -= r;
    }
    return NULL;
}

static struct lq_error *
nread_full(const struct nfs_pool *p, struct nfs_context *n, struct nfsfh *fh,
           uint64_t off, char *buf, size_t len, size_t *gotp,
           const char *name)
{
    size_t got = 0;
    uint64_t max = nfs_get_readmax(n);
    max = max ? MIN(max, 1u << 20) : 32768;
    while (got < len) {
        int r = nfs_pread(n, fh, off + got, MIN(len - got, max), buf + got);
        if (r < 0) {
            return nerr(p, n, LQ_INTERNAL, "reading %s", name);
        } else if (!r) {
            break;
        }
        got += r;
    }
    *gotp = got;
    return NULL;
}

static struct lq_error *
read_json(const struct nfs_pool *p, struct nfs_context *n, const char *name,
          struct json **jp)
{
    *jp = NULL;
    bool exists;
    struct nfs_stat_64 st;
    struct lq_error *e = ncheck(p, n, name, &exists, &st);
    if (!e && !exists) {
        return lq_error_new(LQ_NOT_FOUND, "pool %s: %s does not exist",
                            p->id, name);
    }
    if (!e && st.nfs_size > META_MAX) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: %s is not a "
                         "metadata file", p->id, name);
    }
    if (e) {
        return e;
    }
    char *path = npath(name);
    struct nfsfh *fh;
    int r = nfs_open(n, path, O_RDONLY, &fh);
    free(path);
    if (r) {
        return nerr(p, n, LQ_UNAVAILABLE, "opening %s", name);
    }
    char *buf = xmalloc(st.nfs_size + 1);
    size_t got;
    e = nread_full(p, n, fh, 0, buf, st.nfs_size, &got, name);
    nfs_close(n, fh);
    if (!e) {
        buf[got] = '\0';
        struct json *j = json_from_string(buf);
        if (j->type != JSON_OBJECT) {
            json_destroy(j);
            e = lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: %s is not a "
                             "JSON object", p->id, name);
        } else {
            *jp = j;
        }
    }
    free(buf);
    return e;
}

static struct lq_error *
write_json(const struct nfs_pool *p, struct nfs_context *n, const char *tmp,
           const char *final, const struct json *j)
{
    struct nfsfh *fh;
    struct lq_error *e = ncreate(p, n, tmp, &fh);
    if (e) {
        return e;
    }
    char *text = json_to_string(j, JSSF_SORT);
    e = nwrite_all(p, n, fh, 0, text, strlen(text), tmp);
    if (!e && nfs_fsync(n, fh)) {
        e = nerr(p, n, LQ_INTERNAL, "fsync %s", tmp);
    }
    nfs_close(n, fh);
    free(text);
    if (!e && final) {
        e = nrename(p, n, tmp, final);
    }
    return e;
}

/* Copies 'src' into 'dst' (created) with holes for zero blocks, then sets
 * 'dst' to 'size' bytes. */
static struct lq_error *
ncopy(const struct nfs_pool *p, struct nfs_context *n, const char *src,
      const char *dst, uint64_t size, struct lq_job_progress *pr,
      unsigned int base, unsigned int share)
{
    char *path = npath(src);
    struct nfsfh *in, *out;
    int r = nfs_open(n, path, O_RDONLY, &in);
    free(path);
    if (r) {
        return nerr(p, n, LQ_INTERNAL, "opening %s", src);
    }
    struct lq_error *e = ncreate(p, n, dst, &out);
    if (e) {
        nfs_close(n, in);
        return e;
    }
    struct nfs_stat_64 st;
    if (nfs_fstat64(n, in, &st)) {
        e = nerr(p, n, LQ_INTERNAL, "stat %s", src);
    }
    char *buf = xmalloc(COPY_CHUNK);
    uint64_t end = e ? 0 : MIN(st.nfs_size, size);
    for (uint64_t off = 0; !e && off < end; ) {
        if (pr && atomic_load(&pr->cancel)) {
            e = lq_error_new(LQ_CANCELED, "copy cancelled");
            break;
        }
        size_t got;
        e = nread_full(p, n, in, off, buf, MIN(COPY_CHUNK, end - off), &got,
                       src);
        if (!e && !got) {
            break;
        }
        for (size_t b = 0; !e && b < got; b += ZERO_BLOCK) {
            size_t len = MIN(ZERO_BLOCK, got - b);
            if (!lq_buffer_is_zero(buf + b, len)) {
                e = nwrite_all(p, n, out, off + b, buf + b, len, dst);
            }
        }
        off += got;
        if (pr && end) {
            atomic_store(&pr->percent, base + off * share / end);
        }
    }
    free(buf);
    if (!e && nfs_ftruncate(n, out, size)) {
        e = nerr(p, n, LQ_INTERNAL, "sizing %s", dst);
    }
    if (!e && nfs_fsync(n, out)) {
        e = nerr(p, n, LQ_INTERNAL, "fsync %s", dst);
    }
    nfs_close(n, out);
    nfs_close(n, in);
    return e;
}

/* ---- Names and metadata ----------------------------------------------------- */

static char *
vol_file(const char *id, const char *ext)
{
    return xasprintf("lq-%s.%s", id, ext);
}

static char *
tmp_file(const char *id, const char *ext)
{
    return xasprintf("lq-tmp~%s.%s", id, ext);
}

static char *
snap_file(const char *vid, const char *sid)
{
    return xasprintf("lq-snap~%s~%s.raw", vid, sid);
}

char *
lq_nfs_volume_id(const char *name)
{
    size_t len = strlen(name);
    if (len <= strlen("lq-.raw") || strncmp(name, "lq-", 3)
        || strcmp(name + len - 4, ".raw")) {
        return NULL;
    }
    char *id = xmemdup0(name + 3, len - 3 - 4);
    struct lq_error *e = lq_storage_check_id("id", id);
    if (e) {
        lq_error_free(e);
        free(id);
        return NULL;
    }
    return id;
}

/* Volume 'id': its metadata and the file's attributes; LQ_NOT_FOUND if
 * it is not a published volume of ours. */
static struct lq_error *
vol_read(const struct nfs_pool *p, struct nfs_context *n, const char *id,
         struct json **mp, struct nfs_stat_64 *stp)
{
    char *raw = vol_file(id, "raw"), *meta = vol_file(id, "meta");
    bool exists;
    *mp = NULL;
    struct lq_error *e = ncheck(p, n, raw, &exists, stp);
    if (!e && !exists) {
        e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", id);
    }
    if (!e) {
        e = read_json(p, n, meta, mp);
        if (e && e->code == LQ_NOT_FOUND) {
            lq_error_free(e);
            e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found (%s has "
                             "no metadata: not a limiquantix volume)", id,
                             raw);
        } else if (!e && strcmp(lq_json_member_string(*mp, "volume_id") ?: "", id)) {
            json_destroy(*mp);
            *mp = NULL;
            e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found (%s is "
                             "not its metadata)", id, meta);
        }
    }
    free(raw);
    free(meta);
    return e;
}

static struct json *
meta_snaps(struct json *m)
{
    struct json *s = shash_find_data(json_object(m), "snapshots");
    if (!s || s->type != JSON_OBJECT) {
        s = json_object_create();
        json_object_put(m, "snapshots", s);
    }
    return s;
}

static struct lq_error *
meta_update(const struct nfs_pool *p, struct nfs_context *n, const char *id,
            const struct json *m)
{
    char *tmp = tmp_file(id, "meta"), *final = vol_file(id, "meta");
    struct lq_error *e = write_json(p, n, tmp, final, m);
    free(tmp);
    free(final);
    return e;
}

static struct lq_error *
info_build(const struct nfs_pool *p, struct nfs_context *n, const char *id,
           struct lq_volume_info **vp)
{
    struct json *m;
    struct nfs_stat_64 st;
    *vp = NULL;
    struct lq_error *e = vol_read(p, n, id, &m, &st);
    if (e) {
        return e;
    }
    struct lq_volume_info *v = lq_volume_info_new();
    v->id = xstrdup(id);
    v->pool_id = xstrdup(p->id);
    const char *name = lq_json_member_string(m, "name");
    v->name = xstrdup(name ? name : id);
    v->create_spec = nullable_xstrdup(lq_json_member_string(m, "spec"));
    v->state = LQ_VOLUME_AVAILABLE;
    v->progress_percent = 100;
    v->size_bytes = st.nfs_size;
    v->allocated_bytes = st.nfs_used ? st.nfs_used : st.nfs_blocks * 512;
    v->created_at = lq_json_member_int(m, "created_at");
    v->backend_name = xasprintf("%s:%s/lq-%s.raw", p->server, p->export, id);

    const struct json *snaps = lq_json_member(m, "snapshots");
    size_t max = snaps && snaps->type == JSON_OBJECT
                 ? shash_count(json_object(snaps)) : 0;
    v->snapshots = xcalloc(MAX(max, 1), sizeof *v->snapshots);
    if (max) {
        const struct shash_node **nodes = shash_sort(json_object(snaps));
        for (size_t i = 0; !e && i < max; i++) {
            const char *sid = nodes[i]->name;
            const struct json *sm = nodes[i]->data;
            char *sf = snap_file(id, sid);
            bool exists;
            e = lq_storage_check_id("snapshot", sid);
            if (!e) {
                e = ncheck(p, n, sf, &exists, NULL);
            }
            if (!e && exists) {     /* Else a crashed create: not shown. */
                struct lq_snapshot_info *s = &v->snapshots[v->n_snapshots++];
                const char *sn = lq_json_member_string(sm, "name");
                s->id = xstrdup(sid);
                s->volume_id = xstrdup(id);
                s->name = xstrdup(sn ? sn : sid);
                s->size_bytes = lq_json_member_int(sm, "size");
                s->created_at = lq_json_member_int(sm, "created_at");
            }
            free(sf);
        }
        free(nodes);
    }
    json_destroy(m);
    if (e) {
        lq_volume_info_free(v);
        return e;
    }
    *vp = v;
    return NULL;
}

static struct lq_error *
list_names(const struct nfs_pool *p, struct nfs_context *n,
           struct sset *names)
{
    struct nfsdir *dir;
    if (nfs_opendir(n, "/", &dir)) {
        return nerr(p, n, LQ_UNAVAILABLE, "%s", "reading the export");
    }
    struct nfsdirent *de;
    while ((de = nfs_readdir(n, dir)) != NULL) {
        sset_add(names, de->name);
    }
    nfs_closedir(n, dir);
    return NULL;
}

/* ---- Driver ops ---------------------------------------------------------------- */

static struct lq_error *
drv_info(void *impl, const char *id, struct lq_volume_info **vp)
{
    struct nfs_context *n;
    struct lq_error *e = conn_open(impl, &n);
    *vp = NULL;
    if (!e) {
        e = info_build(impl, n, id, vp);
        conn_close(n);
    }
    return e;
}

static struct lq_error *
drv_list(void *impl, struct lq_volume_list *list)
{
    struct nfs_context *n;
    struct lq_error *e = conn_open(impl, &n);
    if (e) {
        return e;
    }
    struct sset names = SSET_INITIALIZER(&names);
    e = list_names(impl, n, &names);
    const char *name;
    SSET_FOR_EACH (name, &names) {
        char *id = lq_nfs_volume_id(name);
        struct lq_volume_info *v;
        struct lq_error *e2 = id && !e ? info_build(impl, n, id, &v) : NULL;
        if (id && !e && !e2) {
            lq_volume_list_add(list, v);
        } else if (e2 && e2->code != LQ_NOT_FOUND
                   && e2->code != LQ_FAILED_PRECONDITION) {
            e = e2;
            e2 = NULL;
        }
        lq_error_free(e2);
        free(id);
    }
    sset_destroy(&names);
    conn_close(n);
    return e;
}

static struct lq_error *
drv_status(void *impl, struct lq_pool_status *st)
{
    struct nfs_pool *p = impl;
    struct nfs_context *n;
    struct lq_error *e = conn_open(p, &n);
    if (e) {
        return e;
    }
    struct nfs_statvfs_64 vfs;
    if (nfs_statvfs64(n, "/", &vfs)) {
        e = nerr(p, n, LQ_UNAVAILABLE, "%s", "statvfs");
    } else {
        st->capacity_bytes = vfs.f_blocks * vfs.f_frsize;
        st->available_bytes = vfs.f_bavail * vfs.f_frsize;
        struct sset names = SSET_INITIALIZER(&names);
        e = list_names(p, n, &names);
        const char *name;
        SSET_FOR_EACH (name, &names) {
            struct nfs_stat_64 fs;
            char *path = lq_pooldir_name_ok(name) && !strncmp(name, "lq-", 3)
                         ? npath(name) : NULL;
            if (path && !nfs_lstat64(n, path, &fs) && S_ISREG(fs.nfs_mode)) {
                st->allocated_bytes += fs.nfs_used ? fs.nfs_used
                                       : fs.nfs_blocks * 512;
            }
            free(path);
        }
        sset_destroy(&names);
    }
    conn_close(n);
    if (!e) {
        st->health = xstrdup("ok");
        st->message = xstrdup("");
    }
    return e;
}

/* Removes what a failed create of 'id' left. */
static struct lq_error *
clear_leftovers(const struct nfs_pool *p, struct nfs_context *n,
                const char *id)
{
    char *tr = tmp_file(id, "raw"), *tm = tmp_file(id, "meta");
    char *raw = vol_file(id, "raw"), *meta = vol_file(id, "meta");
    bool exists;
    struct lq_error *e = nunlink(p, n, tr);
    if (!e) {
        e = nunlink(p, n, tm);
    }
    if (!e) {
        e = ncheck(p, n, raw, &exists, NULL);
    }
    if (!e && !exists) {
        e = nunlink(p, n, meta);
    }
    free(tr);
    free(tm);
    free(raw);
    free(meta);
    return e;
}

/* Creates volume 'a' from 'reader', from file 'src_name' (a snapshot), or
 * empty. */
static struct lq_error *
vol_create(struct nfs_pool *p, const struct lq_volume_create_args *a,
           struct lq_image_reader *reader, const char *src_name,
           struct lq_job_progress *pr)
{
    struct nfs_context *n;
    struct lq_error *e = conn_open(p, &n);
    if (e) {
        return e;
    }
    char *tr = tmp_file(a->id, "raw"), *tm = tmp_file(a->id, "meta");
    char *raw = vol_file(a->id, "raw"), *meta = vol_file(a->id, "meta");
    struct json *m = NULL;
    bool exists;

    e = clear_leftovers(p, n, a->id);
    if (!e) {
        e = ncheck(p, n, raw, &exists, NULL);
        if (!e && exists) {
            e = lq_error_new(LQ_ALREADY_EXISTS, "volume %s already exists in "
                             "pool %s", a->id, p->id);
        }
    }
    if (!e && src_name) {
        e = ncopy(p, n, src_name, tr, a->size_bytes, pr, 0, 100);
    } else if (!e) {
        struct nfsfh *fh = NULL;
        e = ncreate(p, n, tr, &fh);
        if (!e && nfs_ftruncate(n, fh, a->size_bytes)) {
            e = nerr(p, n, LQ_RESOURCE_EXHAUSTED, "sizing %s", tr);
        }
        if (!e && reader) {
            char *buf = xmalloc(COPY_CHUNK);
            uint64_t off = 0, start, end;
            while (!e && lq_image_next_data(reader, off, &start, &end)) {
                for (off = start; !e && off < end; ) {
                    if (pr && atomic_load(&pr->cancel)) {
                        e = lq_error_new(LQ_CANCELED, "import cancelled");
                        break;
                    }
                    size_t len = MIN(COPY_CHUNK, end - off);
                    ssize_t r = pread(reader->fd, buf, len, off);
                    if (r <= 0) {
                        e = lq_error_new(LQ_INTERNAL, "pool %s: volume %s: "
                                         "reading the image: %s", p->id,
                                         a->id, r ? ovs_strerror(errno)
                                         : "short file");
                        break;
                    }
                    for (size_t b = 0; !e && b < (size_t) r; b += ZERO_BLOCK) {
                        size_t bl = MIN(ZERO_BLOCK, (size_t) r - b);
                        if (!lq_buffer_is_zero(buf + b, bl)) {
                            e = nwrite_all(p, n, fh, off + b, buf + b, bl, tr);
                        }
                    }
                    off += r;
                    if (pr && reader->size) {
                        atomic_store(&pr->percent,
                                     30 + off * 70 / reader->size);
                    }
                }
            }
            free(buf);
        }
        if (!e && nfs_fsync(n, fh)) {
            e = nerr(p, n, LQ_INTERNAL, "fsync %s", tr);
        }
        if (fh) {
            nfs_close(n, fh);
        }
    }
    if (!e) {
        m = json_object_create();
        json_object_put_string(m, "volume_id", a->id);
        json_object_put_string(m, "name", a->name);
        json_object_put_string(m, "spec", a->spec);
        json_object_put(m, "created_at", json_integer_create(time(NULL)));
        json_object_put(m, "snapshots", json_object_create());
        e = write_json(p, n, tm, meta, m);
    }
    if (!e) {
        e = nrename(p, n, tr, raw);     /* Published. */
    }
    if (e && e->code != LQ_ALREADY_EXISTS) {
        lq_error_free(clear_leftovers(p, n, a->id));
    } else if (!e) {
        VLOG_INFO("pool %s: created volume %s", p->id, a->id);
    }
    json_destroy(m);
    free(tr);
    free(tm);
    free(raw);
    free(meta);
    conn_close(n);
    return e;
}

static struct lq_error *
drv_create(void *impl, const struct lq_volume_create_args *a)
{
    return vol_create(impl, a, NULL, NULL, NULL);
}

static struct lq_error *
drv_import(void *impl, const struct lq_volume_create_args *a,
           struct lq_image_reader *reader, struct lq_job_progress *pr)
{
    return vol_create(impl, a, reader, NULL, pr);
}

static struct lq_error *
drv_clone(void *impl, const struct lq_volume_create_args *a,
          const char *svid, const char *ssid, bool flatten OVS_UNUSED,
          struct lq_job_progress *pr)
{
    char *sf = snap_file(svid, ssid);
    struct lq_error *e = vol_create(impl, a, NULL, sf, pr);
    free(sf);
    return e;
}

static struct lq_error *
remove_snap_files(const struct nfs_pool *p, struct nfs_context *n,
                  const char *vid)
{
    char *prefix = xasprintf("lq-snap~%s~", vid);
    struct sset names = SSET_INITIALIZER(&names);
    struct lq_error *e = list_names(p, n, &names);
    const char *name;
    SSET_FOR_EACH (name, &names) {
        if (!e && !strncmp(name, prefix, strlen(prefix))
            && lq_pooldir_name_ok(name)) {
            e = nunlink(p, n, name);
        }
    }
    sset_destroy(&names);
    free(prefix);
    return e;
}

static struct lq_error *
drv_remove(void *impl, const char *id, bool force OVS_UNUSED)
{
    struct nfs_pool *p = impl;
    struct nfs_context *n;
    struct lq_error *e = conn_open(p, &n);
    if (e) {
        return e;
    }
    char *raw = vol_file(id, "raw"), *meta = vol_file(id, "meta");
    struct json *m = NULL;
    bool exists;
    e = clear_leftovers(p, n, id);
    if (!e) {
        e = ncheck(p, n, raw, &exists, NULL);
    }
    if (!e && exists) {
        e = vol_read(p, n, id, &m, NULL);
        if (e && e->code == LQ_NOT_FOUND) {
            lq_error_free(e);
            e = lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: %s is not a "
                             "limiquantix volume; not deleting it", p->id,
                             raw);
        }
        if (!e) {
            e = nunlink(p, n, raw);     /* Unpublished from here on. */
        }
        if (!e) {
            e = nunlink(p, n, meta);
        }
    }
    if (!e) {
        e = remove_snap_files(p, n, id);
    }
    if (!e && exists) {
        VLOG_INFO("pool %s: deleted volume %s", p->id, id);
    }
    json_destroy(m);
    free(raw);
    free(meta);
    conn_close(n);
    return e;
}

static struct lq_error *
drv_resize(void *impl, const char *id, uint64_t size, bool allow_shrink)
{
    struct nfs_pool *p = impl;
    struct nfs_context *n;
    struct lq_error *e = conn_open(p, &n);
    if (e) {
        return e;
    }
    struct json *m;
    struct nfs_stat_64 st;
    e = vol_read(p, n, id, &m, &st);
    if (!e && size < st.nfs_size && !allow_shrink) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s: %"PRIu64" is "
                         "smaller than its size %"PRIu64": shrinking loses "
                         "data past the new end; set allowShrink", id, size,
                         (uint64_t) st.nfs_size);
    }
    if (!e && size != st.nfs_size) {
        char *raw = vol_file(id, "raw");
        char *path = npath(raw);
        if (nfs_truncate(n, path, size)) {
            e = nerr(p, n, LQ_INTERNAL, "resizing %s", raw);
        }
        free(path);
        free(raw);
    }
    json_destroy(m);
    conn_close(n);
    return e;
}

static struct lq_error *
drv_flatten(void *impl OVS_UNUSED, const char *id OVS_UNUSED,
            struct lq_job_progress *pr OVS_UNUSED)
{
    return NULL;                    /* Clones are already full copies. */
}

static struct lq_error *
drv_clone_depth(void *impl OVS_UNUSED, const char *id OVS_UNUSED,
                uint32_t *depthp)
{
    *depthp = 0;
    return NULL;
}

static struct lq_error *
drv_snapshot_create(void *impl, const char *vid, const char *sid,
                    const char *name)
{
    struct nfs_pool *p = impl;
    struct nfs_context *n;
    struct lq_error *e = conn_open(p, &n);
    if (e) {
        return e;
    }
    struct json *m;
    struct nfs_stat_64 st;
    char *sf = snap_file(vid, sid);
    char *tmp = xasprintf("lq-tmp~%s", sf);
    char *raw = vol_file(vid, "raw");
    bool exists = false;
    e = vol_read(p, n, vid, &m, &st);
    if (e) {
        goto out_free;
    }
    const struct json *old = lq_json_member(lq_json_member(m, "snapshots"), sid);
    const char *old_name = lq_json_member_string(old, "name");
    e = ncheck(p, n, sf, &exists, NULL);
    if (!e && old_name && strcmp(old_name, name) && exists) {
        e = lq_error_new(LQ_ALREADY_EXISTS, "snapshot %s of volume %s exists "
                         "with name \"%s\"", sid, vid, old_name);
    }
    if (e || (exists && old_name)) {
        goto out;                   /* Error, or a retry that is done. */
    }
    /* Name first: a crash then leaves a name without a file (not shown). */
    struct json *sm = json_object_create();
    json_object_put_string(sm, "name", name);
    json_object_put(sm, "size", json_integer_create(st.nfs_size));
    json_object_put(sm, "created_at", json_integer_create(time(NULL)));
    json_object_put(meta_snaps(m), sid, sm);
    e = meta_update(p, n, vid, m);
    if (!e) {
        e = ncopy(p, n, raw, tmp, st.nfs_size, NULL, 0, 0);
    }
    if (!e) {
        e = nrename(p, n, tmp, sf);
    }
    if (e) {
        lq_error_free(nunlink(p, n, tmp));
    } else {
        VLOG_INFO("pool %s: volume %s: snapshot %s taken", p->id, vid, sid);
    }
out:
    json_destroy(m);
out_free:
    free(raw);
    free(tmp);
    free(sf);
    conn_close(n);
    return e;
}

static struct lq_error *
drv_snapshot_delete(void *impl, const char *vid, const char *sid,
                    bool force OVS_UNUSED)
{
    struct nfs_pool *p = impl;
    struct nfs_context *n;
    struct lq_error *e = conn_open(p, &n);
    if (e) {
        return e;
    }
    struct json *m;
    char *sf = snap_file(vid, sid);
    e = vol_read(p, n, vid, &m, NULL);
    if (e && e->code == LQ_NOT_FOUND) {
        lq_error_free(e);
        e = NULL;
        m = NULL;
    } else if (!e) {
        e = nunlink(p, n, sf);
        if (!e) {
            json_destroy(shash_find_and_delete(json_object(meta_snaps(m)),
                                               sid));
            e = meta_update(p, n, vid, m);
        }
    }
    json_destroy(m);
    free(sf);
    conn_close(n);
    return e;
}

static struct lq_error *
drv_snapshot_rollback(void *impl, const char *vid, const char *sid)
{
    struct nfs_pool *p = impl;
    struct nfs_context *n;
    struct lq_error *e = conn_open(p, &n);
    if (e) {
        return e;
    }
    struct json *m;
    struct nfs_stat_64 st;
    char *sf = snap_file(vid, sid);
    char *tr = tmp_file(vid, "raw"), *raw = vol_file(vid, "raw");
    bool exists = false;
    e = vol_read(p, n, vid, &m, NULL);
    if (!e) {
        e = ncheck(p, n, sf, &exists, &st);
    }
    if (!e && !exists) {
        e = lq_error_new(LQ_NOT_FOUND, "snapshot \"%s\" of volume \"%s\" not "
                         "found", sid, vid);
    }
    if (!e) {
        e = ncopy(p, n, sf, tr, st.nfs_size, NULL, 0, 0);
    }
    if (!e) {
        e = nrename(p, n, tr, raw);     /* Atomic replace. */
    }
    if (e) {
        lq_error_free(nunlink(p, n, tr));
    }
    json_destroy(m);
    free(sf);
    free(tr);
    free(raw);
    conn_close(n);
    return e;
}

static struct lq_error *
drv_snapshot_find(void *impl, const char *sid, char **vidp)
{
    struct lq_volume_list list = { NULL, 0 };
    struct lq_error *e = drv_list(impl, &list);
    *vidp = NULL;
    for (size_t i = 0; !e && !*vidp && i < list.n; i++) {
        for (size_t j = 0; j < list.volumes[i]->n_snapshots; j++) {
            if (!strcmp(list.volumes[i]->snapshots[j].id, sid)) {
                *vidp = xstrdup(list.volumes[i]->id);
                break;
            }
        }
    }
    lq_volume_list_clear(&list);
    return e ? e : *vidp ? NULL
           : lq_error_new(LQ_NOT_FOUND, "snapshot \"%s\" not found", sid);
}

static struct lq_error *
drv_disk_source(void *impl, const char *id, struct lq_disk_source **sp)
{
    struct nfs_pool *p = impl;
    struct lq_volume_info *v;
    struct lq_error *e = drv_info(impl, id, &v);
    if (e) {
        return e;
    }
    lq_volume_info_free(v);
    struct lq_disk_source *s = xzalloc(sizeof *s);
    s->type = xstrdup("network");
    s->protocol = xstrdup("nfs");
    s->name = xasprintf("%s/lq-%s.raw", p->export, id);
    s->format = xstrdup("raw");
    s->hosts = xzalloc(sizeof *s->hosts);
    s->n_hosts = 1;
    s->hosts[0].name = xstrdup(p->server);
    s->hosts[0].port = p->port ? xasprintf("%d", p->port) : xstrdup("");
    s->hosts[0].transport = xstrdup("tcp");
    *sp = s;
    return NULL;
}

const struct lq_storage_driver lq_nfs_driver = {
    .backend = "nfs",
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
