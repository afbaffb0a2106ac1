/* lvm.c: the lvm-thin storage driver: thin LVs in one thin pool, through
 * the lvm2 command line (argv via lq_exec, never a shell).
 *
 * Design decisions:
 * - Names and tags: volume <id> is LV "lq-<id>" tagged "lq.vol=<id>";
 *   snapshot <sid> is the thin snapshot "lqs-<sid>" tagged
 *   "lq.snap_of=<vid>".  Display names and the create spec (for
 *   idempotency) cannot be tags as they are, so they are hex-encoded in
 *   numbered tags (lq_lvm_tags_put); "lq.ctime=" holds the creation time
 *   and "lq.pvol=", "lq.psnap=" a clone's parent.  The ids live in the
 *   tags, never only in the names: an LV named like ours without our tag
 *   is not ours (never listed or deleted).  The VG is the truth.
 * - Nothing half-made under the final name: creates build "lqtmp-<id>"
 *   (with every tag) and `lvrename` it last.  A rollback makes the new
 *   content as "lqtmp-<id>" (a thin snapshot of the snapshot), renames the
 *   volume to "lqold-<id>", the new one into place, and removes the old
 *   one; a crash in between is repaired by the next call on that id
 *   (restoring "lqold-" if the volume is missing).
 * - Thin snapshots and clones are independent LVs in the pool (a thin
 *   pool shares blocks, not LVs), so a volume with clones or snapshots of
 *   another can be deleted without flattening; clones keep their parent
 *   only as lineage, and "flatten" just forgets it.  Snapshots carry the
 *   activation-skip flag; volumes and clones do not.  LVs are left
 *   inactive; lq_volume_disk_source() activates one (`lvchange -ay -K`)
 *   for attaching.
 * - Over-commit guard: creates, clones and snapshots are refused
 *   (resource_exhausted) while the thin pool's data or metadata use is
 *   above max_data_percent / max_metadata_percent (default 90).
 * - Sizes round up to the VG's extent size (LVM's rule).
 * - "Attached" is lv_device_open. */
#include <config.h>
#include "lvm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "exec.h"
#include "image.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "sset.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(storage_lvm);

#define LVM_TIMEOUT_MS (2 * 60 * 1000)
#define TAG_CHUNK 100               /* Hex characters per numbered tag. */
#define COPY_CHUNK (1u << 20)
#define ZERO_BLOCK (64u << 10)

struct lvm_pool {
    char *id;
    char *vg;
    char *thin_pool;
    double max_data;
    double max_meta;
};

/* ---- Pure helpers (unit-tested) ------------------------------------------ */

struct lq_error *
lq_lvm_check_name(const char *field, const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (!len || len > 127 || name[0] == '-' || !strcmp(name, ".")
        || !strcmp(name, "..")) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not an LVM "
                            "name (1..127 of letters, digits, '+', '_', '.', "
                            "'-', not starting with '-')", field,
                            name ? name : "");
    }
    for (const char *c = name; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || (*c >= '0' && *c <= '9') || strchr("+_.-", *c))) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not an "
                                "LVM name (1..127 of letters, digits, '+', "
                                "'_', '.', '-', not starting with '-')",
                                field, name);
        }
    }
    return NULL;
}

void
lq_lvm_tags_put(const char *key, const char *value, struct sset *tags)
{
    static const char hex[] = "0123456789abcdef";
    struct ds h = DS_EMPTY_INITIALIZER;
    for (const unsigned char *c = (const unsigned char *) value; *c; c++) {
        ds_put_char(&h, hex[*c >> 4]);
        ds_put_char(&h, hex[*c & 15]);
    }
    size_t n = 0;
    for (size_t off = 0; off < h.length || !n; off += TAG_CHUNK, n++) {
        size_t len = MIN(TAG_CHUNK, h.length - off);
        sset_add_and_free(tags, xasprintf("lq.%s%02"PRIuSIZE"=%.*s", key, n,
                                          (int) len, h.string + off));
    }
    ds_destroy(&h);
}

static int
hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *
lq_lvm_tags_get(const char *lv_tags, const char *key)
{
    struct ds out = DS_EMPTY_INITIALIZER;
    bool found = false;
    for (int n = 0; n < 100; n++) {
        char *prefix = xasprintf("lq.%s%02d=", key, n);
        const char *hit = NULL;
        for (const char *t = lv_tags; t && *t; ) {
            if (!strncmp(t, prefix, strlen(prefix))) {
                hit = t + strlen(prefix);
                break;
            }
            t = strchr(t, ',');
            t = t ? t + 1 : NULL;
        }
        free(prefix);
        if (!hit) {
            break;
        }
        found = true;
        for (; *hit && *hit != ','; hit += 2) {
            int a = hexval(hit[0]), b = hit[1] ? hexval(hit[1]) : -1;
            if (a < 0 || b < 0) {
                ds_destroy(&out);
                return NULL;
            }
            ds_put_char(&out, a * 16 + b);
        }
    }
    if (!found) {
        ds_destroy(&out);
        return NULL;
    }
    return ds_steal_cstr(&out);
}

char *
lq_lvm_tag_value(const char *lv_tags, const char *key)
{
    size_t klen = strlen(key);
    for (const char *t = lv_tags; t && *t; ) {
        const char *end = strchr(t, ',');
        size_t len = end ? (size_t) (end - t) : strlen(t);
        if (len > klen && !strncmp(t, key, klen) && t[klen] == '=') {
            return xmemdup0(t + klen + 1, len - klen - 1);
        }
        t = end ? end + 1 : NULL;
    }
    return NULL;
}

/* ---- Open/close ------------------------------------------------------------- */

static const char *
param(const struct lq_pool_config *pc, const char *key)
{
    const char *v = lq_kv_list_get(&pc->params, key);
    return v && *v ? v : NULL;
}

static struct lq_error *
parse_percent(const struct lq_pool_config *pc, const char *key, double *out)
{
    const char *v = param(pc, key);
    *out = 90;
    if (v) {
        char *end;
        double d = strtod(v, &end);
        if (*end || end == v || !(d > 0 && d <= 100)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s].%s: "
                                "expected a percentage in (0, 100], got "
                                "\"%s\"", pc->id, key, v);
        }
        *out = d;
    }
    return NULL;
}

static struct lq_error *
drv_open(const struct lq_pool_config *pc, void **implp)
{
    char *f = xasprintf("storage.pools[%s].vg", pc->id);
    struct lq_error *e = lq_lvm_check_name(f, param(pc, "vg"));
    free(f);
    if (!e) {
        f = xasprintf("storage.pools[%s].thin_pool", pc->id);
        e = lq_lvm_check_name(f, param(pc, "thin_pool"));
        free(f);
    }
    double md, mm;
    if (!e) {
        e = parse_percent(pc, "max_data_percent", &md);
    }
    if (!e) {
        e = parse_percent(pc, "max_metadata_percent", &mm);
    }
    if (e) {
        return e;
    }
    struct lvm_pool *p = xzalloc(sizeof *p);
    p->id = xstrdup(pc->id);
    p->vg = xstrdup(param(pc, "vg"));
    p->thin_pool = xstrdup(param(pc, "thin_pool"));
    p->max_data = md;
    p->max_meta = mm;
    *implp = p;
    return NULL;
}

static void
drv_close(void *impl)
{
    struct lvm_pool *p = impl;
    if (p) {
        free(p->id);
        free(p->vg);
        free(p->thin_pool);
        free(p);
    }
}

static uint32_t
drv_max_clone_depth(void *impl OVS_UNUSED)
{
    return UINT32_MAX;              /* Thin clones are independent LVs. */
}

/* ---- lvm2 commands ------------------------------------------------------------ */

/* An argv under construction; strings are owned by 'own'. */
struct cmd {
    const char **argv;
    size_t n;
    struct sset own;
};

static void
cmd_init(struct cmd *c, const char *prog)
{
    c->argv = NULL;
    c->n = 0;
    sset_init(&c->own);
    c->argv = xrealloc(c->argv, 2 * sizeof *c->argv);
    c->argv[c->n++] = prog;
    c->argv[c->n] = NULL;
}

static void
cmd_add(struct cmd *c, const char *arg)
{
    const char *s = sset_find(&c->own, arg)
                    ? sset_find(&c->own, arg)->name
                    : sset_add(&c->own, arg)->name;
    c->argv = xrealloc(c->argv, (c->n + 2) * sizeof *c->argv);
    c->argv[c->n++] = s;
    c->argv[c->n] = NULL;
}

static void
cmd_addf(struct cmd *c, const char *fmt, const char *a, const char *b)
{
    char *s = xasprintf(fmt, a, b);
    cmd_add(c, s);
    free(s);
}

static void
cmd_destroy(struct cmd *c)
{
    free(c->argv);
    sset_destroy(&c->own);
}

static struct lq_error *
lvm_run(const struct lvm_pool *p, const char *const argv[],
        struct lq_exec_result *r)
{
    static const char *const env[] = { "LVM_SUPPRESS_FD_WARNINGS=1", NULL };
    struct lq_exec_result local;
    struct lq_error *e = lq_exec(argv, env, LVM_TIMEOUT_MS, r ? r : &local);
    if (!r) {
        lq_exec_result_clear(&local);
    }
    if (e) {
        if (strstr(e->message, "insufficient free space")
            || strstr(e->message, "out of data space")) {
            e->code = LQ_RESOURCE_EXHAUSTED;
        } else if (strstr(e->message, "cannot run")
                   || (strstr(e->message, "Volume group \"")
                       && strstr(e->message, "not found"))
                   || strstr(e->message, "device-mapper")) {
            e->code = LQ_UNAVAILABLE;
        }
        e = lq_error_prefix(e, "pool %s (lvm-thin %s/%s)", p->id, p->vg,
                            p->thin_pool);
    }
    return e;
}

static struct lq_error *
cmd_run(const struct lvm_pool *p, struct cmd *c)
{
    struct lq_error *e = lvm_run(p, c->argv, NULL);
    cmd_destroy(c);
    return e;
}

struct lv {
    char *name;
    uint64_t size;
    char *tags;
    double data, meta;          /* Percentages; <0: unknown. */
    bool open;
};

struct lvs {
    struct lv *lvs;
    size_t n;
};

static void
lvs_clear(struct lvs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->lvs[i].name);
        free(l->lvs[i].tags);
    }
    free(l->lvs);
    l->lvs = NULL;
    l->n = 0;
}

static const char *
jstr(const struct json *o, const char *key)
{
    const struct json *m = o && o->type == JSON_OBJECT
                           ? shash_find_data(json_object(o), key) : NULL;
    return m && m->type == JSON_STRING ? json_string(m) : "";
}

static double
pct(const char *s)
{
    char *end;
    double d = strtod(s, &end);
    return *s && !*end ? d : -1;
}

/* Every LV of the VG. */
static struct lq_error *
lvs_all(const struct lvm_pool *p, struct lvs *out)
{
    const char *argv[] = { "lvs", "--reportformat", "json", "--units", "b",
                           "--nosuffix", "-o", "lv_name,lv_size,lv_tags,"
                           "data_percent,metadata_percent,lv_device_open",
                           p->vg, NULL };
    struct lq_exec_result r;
    memset(out, 0, sizeof *out);
    struct lq_error *e = lvm_run(p, argv, &r);
    if (e) {
        lq_exec_result_clear(&r);
        return e;
    }
    struct json *j = json_from_string(r.out);
    lq_exec_result_clear(&r);
    const struct json *report = j->type == JSON_OBJECT
        ? shash_find_data(json_object(j), "report") : NULL;
    const struct json *first = report && report->type == JSON_ARRAY
                               && json_array(report)->n
                               ? json_array(report)->elems[0] : NULL;
    const struct json *lv = first && first->type == JSON_OBJECT
                            ? shash_find_data(json_object(first), "lv")
                            : NULL;
    if (!lv || lv->type != JSON_ARRAY) {
        json_destroy(j);
        return lq_error_new(LQ_INTERNAL, "pool %s: cannot parse the lvs "
                            "report", p->id);
    }
    const struct json_array *a = json_array(lv);
    out->lvs = xcalloc(MAX(a->n, 1), sizeof *out->lvs);
    for (size_t i = 0; i < a->n; i++) {
        struct lv *l = &out->lvs[out->n++];
        l->name = xstrdup(jstr(a->elems[i], "lv_name"));
        l->size = strtoull(jstr(a->elems[i], "lv_size"), NULL, 10);
        l->tags = xstrdup(jstr(a->elems[i], "lv_tags"));
        l->data = pct(jstr(a->elems[i], "data_percent"));
        l->meta = pct(jstr(a->elems[i], "metadata_percent"));
        l->open = !strcmp(jstr(a->elems[i], "lv_device_open"), "open");
    }
    json_destroy(j);
    return NULL;
}

static const struct lv *
lv_find(const struct lvs *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!strcmp(l->lvs[i].name, name)) {
            return &l->lvs[i];
        }
    }
    return NULL;
}

static bool
lv_tag_is(const struct lv *lv, const char *key, const char *value)
{
    char *v = lv ? lq_lvm_tag_value(lv->tags, key) : NULL;
    bool is = v && !strcmp(v, value);
    free(v);
    return is;
}

/* Volume 'id' (ours: named and tagged); NULL if absent or not ours. */
static const struct lv *
vol_find(const struct lvs *l, const char *id)
{
    char *name = xasprintf("lq-%s", id);
    const struct lv *lv = lv_find(l, name);
    free(name);
    return lv && lv_tag_is(lv, "lq.vol", id) ? lv : NULL;
}

static const struct lv *
snap_find(const struct lvs *l, const char *sid)
{
    char *name = xasprintf("lqs-%s", sid);
    const struct lv *lv = lv_find(l, name);
    free(name);
    char *of = lv ? lq_lvm_tag_value(lv->tags, "lq.snap_of") : NULL;
    bool ours = of != NULL;
    free(of);
    return ours ? lv : NULL;
}

static char *
lv_path(const struct lvm_pool *p, const char *prefix, const char *id)
{
    return xasprintf("%s/%s%s", p->vg, prefix, id);
}

/* Refuses new data while the thin pool is too full. */
static struct lq_error *
check_room(const struct lvm_pool *p, const struct lvs *l)
{
    const struct lv *tp = lv_find(l, p->thin_pool);
    if (!tp) {
        return lq_error_new(LQ_UNAVAILABLE, "pool %s: thin pool %s/%s not "
                            "found", p->id, p->vg, p->thin_pool);
    }
    if (tp->data > p->max_data || tp->meta > p->max_meta) {
        return lq_error_new(LQ_RESOURCE_EXHAUSTED, "pool %s: thin pool %s/%s "
                            "is too full (data %.1f%%, metadata %.1f%%; "
                            "limits %.1f%% and %.1f%%): extend it or free "
                            "space first", p->id, p->vg, p->thin_pool,
                            tp->data, tp->meta, p->max_data, p->max_meta);
    }
    return NULL;
}

/* Repairs what a crashed create or rollback of 'id' left. */
static struct lq_error *
clear_leftovers(const struct lvm_pool *p, const struct lvs *l,
                const char *id)
{
    char *tmp = xasprintf("lqtmp-%s", id), *old = xasprintf("lqold-%s", id);
    struct lq_error *e = NULL;
    struct cmd c;
    if (lv_find(l, tmp)) {
        cmd_init(&c, "lvremove");
        cmd_add(&c, "-q");
        cmd_add(&c, "-f");
        cmd_addf(&c, "%s/%s", p->vg, tmp);
        e = cmd_run(p, &c);
    }
    const struct lv *o = lv_find(l, old);
    if (!e && o && lv_tag_is(o, "lq.vol", id)) {
        if (!vol_find(l, id)) {
            /* A rollback stopped after moving the volume aside. */
            char *name = xasprintf("lq-%s", id);
            const char *argv[] = { "lvrename", "-q", p->vg, old, name, NULL };
            e = lvm_run(p, argv, NULL);
            free(name);
        } else {
            cmd_init(&c, "lvremove");
            cmd_add(&c, "-q");
            cmd_add(&c, "-f");
            cmd_addf(&c, "%s/%s", p->vg, old);
            e = cmd_run(p, &c);
        }
    }
    free(tmp);
    free(old);
    return e;
}

/* The tags of volume 'a' (and its parent, if any). */
static void
add_volume_tags(struct cmd *c, const char *id, const char *name,
                const char *spec, int64_t ctime, const char *pvid,
                const char *psid)
{
    struct sset tags = SSET_INITIALIZER(&tags);
    sset_add_and_free(&tags, xasprintf("lq.vol=%s", id));
    sset_add_and_free(&tags, xasprintf("lq.ctime=%"PRId64, ctime));
    lq_lvm_tags_put("n", name, &tags);
    if (spec) {
        lq_lvm_tags_put("s", spec, &tags);
    }
    if (pvid) {
        sset_add_and_free(&tags, xasprintf("lq.pvol=%s", pvid));
        sset_add_and_free(&tags, xasprintf("lq.psnap=%s", psid));
    }
    const char *t;
    SSET_FOR_EACH (t, &tags) {
        cmd_add(c, "--addtag");
        cmd_add(c, t);
    }
    sset_destroy(&tags);
}

static struct lq_error *
publish(const struct lvm_pool *p, const char *id)
{
    char *tmp = xasprintf("lqtmp-%s", id), *name = xasprintf("lq-%s", id);
    const char *argv[] = { "lvrename", "-q", p->vg, tmp, name, NULL };
    struct lq_error *e = lvm_run(p, argv, NULL);
    free(tmp);
    free(name);
    return e;
}

static void
abandon(const struct lvm_pool *p, const char *id)
{
    char *tmp = lv_path(p, "lqtmp-", id);
    const char *argv[] = { "lvremove", "-q", "-f", tmp, NULL };
    lq_error_free(lvm_run(p, argv, NULL));
    free(tmp);
}

/* Common start of every create: the VG answers, no leftovers, not there
 * yet, room in the thin pool. */
static struct lq_error *
create_prepare(const struct lvm_pool *p, const char *id, struct lvs *l)
{
    struct lq_error *e = lvs_all(p, l);
    if (!e) {
        e = clear_leftovers(p, l, id);
    }
    if (!e) {
        char *name = xasprintf("lq-%s", id);
        if (lv_find(l, name)) {
            e = lq_error_new(LQ_ALREADY_EXISTS, "volume %s already exists in "
                             "pool %s", id, p->id);
        }
        free(name);
    }
    if (!e) {
        e = check_room(p, l);
    }
    return e;
}

/* Writes the reader's data (skipping holes and zero blocks) into the
 * active LV 'vg/name'. */
static struct lq_error *
write_data(const struct lvm_pool *p, const char *id, const char *name,
           struct lq_image_reader *reader, struct lq_job_progress *pr)
{
    char *dev = xasprintf("/dev/%s/%s", p->vg, name);
    int fd = open(dev, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        struct lq_error *e = lq_error_new(LQ_INTERNAL, "pool %s: volume %s: "
                                          "%s: %s", p->id, id, dev,
                                          ovs_strerror(errno));
        free(dev);
        return e;
    }
    char *buf = xmalloc(COPY_CHUNK);
    struct lq_error *e = NULL;
    uint64_t off = 0, start, end;
    while (!e && lq_image_next_data(reader, off, &start, &end)) {
        for (off = start; !e && off < end; ) {
            if (pr && atomic_load(&pr->cancel)) {
                e = lq_error_new(LQ_CANCELED, "import cancelled");
                break;
            }
            ssize_t r = pread(reader->fd, buf, MIN(COPY_CHUNK, end - off),
                              off);
            if (r <= 0) {
                e = lq_error_new(LQ_INTERNAL, "pool %s: volume %s: reading "
                                 "the image: %s", p->id, id,
                                 r ? ovs_strerror(errno) : "short file");
                break;
            }
            for (size_t b = 0; !e && b < (size_t) r; b += ZERO_BLOCK) {
                size_t len = MIN(ZERO_BLOCK, (size_t) r - b);
                if (!lq_buffer_is_zero(buf + b, len)
                    && pwrite(fd, buf + b, len, off + b) != (ssize_t) len) {
                    e = lq_error_new(LQ_INTERNAL, "pool %s: volume %s: "
                                     "writing %s: %s", p->id, id, dev,
                                     ovs_strerror(errno));
                }
            }
            off += r;
            if (pr && reader->size) {
                atomic_store(&pr->percent, 30 + off * 70 / reader->size);
            }
        }
    }
    if (!e && fsync(fd)) {
        e = lq_error_new(LQ_INTERNAL, "pool %s: volume %s: fsync: %s", p->id,
                         id, ovs_strerror(errno));
    }
    close(fd);
    free(buf);
    free(dev);
    return e;
}

static struct lq_error *
vol_create(void *impl, const struct lq_volume_create_args *a,
           struct lq_image_reader *reader, struct lq_job_progress *pr)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    struct lq_error *e = create_prepare(p, a->id, &l);
    lvs_clear(&l);
    if (e) {
        return e;
    }
    struct cmd c;
    char *size = xasprintf("%"PRIu64"b", a->size_bytes);
    char *name = xasprintf("lqtmp-%s", a->id);
    cmd_init(&c, "lvcreate");
    cmd_add(&c, "-q");
    cmd_add(&c, "--type");
    cmd_add(&c, "thin");
    cmd_add(&c, "--thinpool");
    cmd_add(&c, p->thin_pool);
    cmd_add(&c, "-V");
    cmd_add(&c, size);
    cmd_add(&c, "-n");
    cmd_add(&c, name);
    cmd_add(&c, reader ? "-ay" : "-an");
    add_volume_tags(&c, a->id, a->name, a->spec, time(NULL), NULL, NULL);
    cmd_add(&c, p->vg);
    e = cmd_run(p, &c);
    if (!e && reader) {
        e = write_data(p, a->id, name, reader, pr);
        char *path = lv_path(p, "lqtmp-", a->id);
        const char *argv[] = { "lvchange", "-q", "-an", path, NULL };
        struct lq_error *e2 = lvm_run(p, argv, NULL);
        e = e ? e : e2;
        if (e != e2) {
            lq_error_free(e2);
        }
        free(path);
    }
    if (!e) {
        e = publish(p, a->id);
    }
    if (e) {
        abandon(p, a->id);
    } else {
        VLOG_INFO("pool %s: created volume %s", p->id, a->id);
    }
    free(size);
    free(name);
    return e;
}

static struct lq_error *
drv_create(void *impl, const struct lq_volume_create_args *a)
{
    return vol_create(impl, a, NULL, NULL);
}

static struct lq_error *
drv_import(void *impl, const struct lq_volume_create_args *a,
           struct lq_image_reader *reader, struct lq_job_progress *pr)
{
    return vol_create(impl, a, reader, pr);
}

static struct lq_error *
drv_clone(void *impl, const struct lq_volume_create_args *a,
          const char *svid, const char *ssid, bool flatten,
          struct lq_job_progress *pr OVS_UNUSED)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    struct lq_error *e = create_prepare(p, a->id, &l);
    const struct lv *s = e ? NULL : snap_find(&l, ssid);
    if (!e && (!s || !lv_tag_is(s, "lq.snap_of", svid))) {
        e = lq_error_new(LQ_NOT_FOUND, "source.snapshotId: snapshot \"%s\" "
                         "of volume \"%s\" not found", ssid, svid);
    }
    uint64_t snap_size = s ? s->size : 0;
    lvs_clear(&l);
    if (e) {
        return e;
    }
    struct cmd c;
    cmd_init(&c, "lvcreate");
    cmd_add(&c, "-q");
    cmd_add(&c, "-s");
    cmd_add(&c, "-kn");             /* A volume, not a snapshot. */
    cmd_add(&c, "-an");
    cmd_add(&c, "-n");
    cmd_addf(&c, "lqtmp-%s%s", a->id, "");
    add_volume_tags(&c, a->id, a->name, a->spec, time(NULL),
                    flatten ? NULL : svid, ssid);
    cmd_addf(&c, "%s/lqs-%s", p->vg, ssid);
    e = cmd_run(p, &c);
    if (!e && a->size_bytes > snap_size) {
        char *path = lv_path(p, "lqtmp-", a->id);
        char *size = xasprintf("%"PRIu64"b", a->size_bytes);
        const char *argv[] = { "lvextend", "-q", "-L", size, path, NULL };
        e = lvm_run(p, argv, NULL);
        free(path);
        free(size);
    }
    if (!e) {
        e = publish(p, a->id);
    }
    if (e) {
        abandon(p, a->id);
    } else {
        VLOG_INFO("pool %s: volume %s cloned from snapshot %s", p->id, a->id,
                  ssid);
    }
    return e;
}

/* ---- Info/list -------------------------------------------------------------- */

static struct lq_volume_info *
info_from(const struct lvm_pool *p, const struct lvs *l, const struct lv *lv,
          const char *id)
{
    struct lq_volume_info *v = lq_volume_info_new();
    v->id = xstrdup(id);
    v->pool_id = xstrdup(p->id);
    v->name = lq_lvm_tags_get(lv->tags, "n");
    v->name = v->name ? v->name : xstrdup(id);
    v->create_spec = lq_lvm_tags_get(lv->tags, "s");
    v->state = LQ_VOLUME_AVAILABLE;
    v->progress_percent = 100;
    v->size_bytes = lv->size;
    v->allocated_bytes = lv->data > 0 ? lv->size * lv->data / 100 : 0;
    v->attached = lv->open;
    char *ct = lq_lvm_tag_value(lv->tags, "lq.ctime");
    v->created_at = ct ? strtoll(ct, NULL, 10) : 0;
    free(ct);
    v->parent_volume_id = lq_lvm_tag_value(lv->tags, "lq.pvol");
    if (v->parent_volume_id) {
        v->parent_snapshot_id = lq_lvm_tag_value(lv->tags, "lq.psnap");
        v->clone_depth = 1;
    }
    v->backend_name = xasprintf("%s/lq-%s", p->vg, id);

    v->snapshots = xcalloc(MAX(l->n, 1), sizeof *v->snapshots);
    for (size_t i = 0; i < l->n; i++) {
        const struct lv *s = &l->lvs[i];
        if (strncmp(s->name, "lqs-", 4) || !lv_tag_is(s, "lq.snap_of", id)) {
            continue;
        }
        struct lq_snapshot_info *si = &v->snapshots[v->n_snapshots++];
        si->id = xstrdup(s->name + 4);
        si->volume_id = xstrdup(id);
        si->name = lq_lvm_tags_get(s->tags, "n");
        si->name = si->name ? si->name : xstrdup(si->id);
        si->size_bytes = s->size;
        ct = lq_lvm_tag_value(s->tags, "lq.ctime");
        si->created_at = ct ? strtoll(ct, NULL, 10) : 0;
        free(ct);
    }
    return v;
}

static struct lq_error *
drv_info(void *impl, const char *id, struct lq_volume_info **vp)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    *vp = NULL;
    struct lq_error *e = lvs_all(p, &l);
    if (!e) {
        const struct lv *lv = vol_find(&l, id);
        if (lv) {
            *vp = info_from(p, &l, lv, id);
        } else {
            e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", id);
        }
    }
    lvs_clear(&l);
    return e;
}

static struct lq_error *
drv_list(void *impl, struct lq_volume_list *list)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    struct lq_error *e = lvs_all(p, &l);
    for (size_t i = 0; !e && i < l.n; i++) {
        const char *name = l.lvs[i].name;
        if (!strncmp(name, "lq-", 3) && vol_find(&l, name + 3)) {
            lq_volume_list_add(list, info_from(p, &l, &l.lvs[i], name + 3));
        }
    }
    lvs_clear(&l);
    return e;
}

static struct lq_error *
drv_status(void *impl, struct lq_pool_status *st)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    struct lq_error *e = lvs_all(p, &l);
    const struct lv *tp = e ? NULL : lv_find(&l, p->thin_pool);
    if (!e && !tp) {
        e = lq_error_new(LQ_UNAVAILABLE, "pool %s: thin pool %s/%s not "
                         "found", p->id, p->vg, p->thin_pool);
    }
    if (!e) {
        st->capacity_bytes = tp->size;
        st->allocated_bytes = tp->data > 0 ? tp->size * tp->data / 100 : 0;
        st->available_bytes = st->capacity_bytes - st->allocated_bytes;
        st->health = xstrdup("ok");
        struct lq_error *full = check_room(p, &l);
        st->message = xstrdup(full ? full->message : "");
        lq_error_free(full);
    }
    lvs_clear(&l);
    return e;
}

/* ---- Remove/resize/flatten ------------------------------------------------- */

static struct lq_error *
remove_lv(const struct lvm_pool *p, const char *name)
{
    struct cmd c;
    cmd_init(&c, "lvremove");
    cmd_add(&c, "-q");
    cmd_add(&c, "-f");
    cmd_addf(&c, "%s/%s", p->vg, name);
    return cmd_run(p, &c);
}

static struct lq_error *
drv_remove(void *impl, const char *id, bool force)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    struct lq_error *e = lvs_all(p, &l);
    if (!e) {
        e = clear_leftovers(p, &l, id);
    }
    if (!e) {
        lvs_clear(&l);
        e = lvs_all(p, &l);
    }
    char *name = xasprintf("lq-%s", id);
    const struct lv *lv = e ? NULL : lv_find(&l, name);
    if (!e && lv && !vol_find(&l, id)) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: LV %s/%s is not a "
                         "limiquantix volume; not deleting it", p->id, p->vg,
                         name);
    } else if (!e && lv && lv->open && !force) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached (its "
                         "LV is open): detach it first", id);
    }
    if (!e && lv) {
        e = remove_lv(p, name);             /* Unpublished from here. */
    }
    /* Snapshots go with the volume (also those a crash left behind). */
    for (size_t i = 0; !e && i < l.n; i++) {
        if (!strncmp(l.lvs[i].name, "lqs-", 4)
            && lv_tag_is(&l.lvs[i], "lq.snap_of", id)) {
            e = remove_lv(p, l.lvs[i].name);
        }
    }
    if (!e && lv) {
        VLOG_INFO("pool %s: deleted volume %s", p->id, id);
    }
    free(name);
    lvs_clear(&l);
    return e;
}

static struct lq_error *
drv_resize(void *impl, const char *id, uint64_t size, bool allow_shrink)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    struct lq_error *e = lvs_all(p, &l);
    const struct lv *lv = e ? NULL : vol_find(&l, id);
    if (!e && !lv) {
        e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", id);
    }
    if (!e && size < lv->size && !allow_shrink) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s: %"PRIu64" is "
                         "smaller than its size %"PRIu64": shrinking loses "
                         "data past the new end; set allowShrink", id, size,
                         lv->size);
    }
    if (!e && size != lv->size) {
        char *path = lv_path(p, "lq-", id);
        char *s = xasprintf("%"PRIu64"b", size);
        const char *grow[] = { "lvextend", "-q", "-L", s, path, NULL };
        const char *shrink[] = { "lvreduce", "-q", "-f", "-L", s, path,
                                 NULL };
        e = lvm_run(p, size > lv->size ? grow : shrink, NULL);
        free(s);
        free(path);
    }
    lvs_clear(&l);
    return e;
}

static struct lq_error *
drv_flatten(void *impl, const char *id, struct lq_job_progress *pr OVS_UNUSED)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    struct lq_error *e = lvs_all(p, &l);
    const struct lv *lv = e ? NULL : vol_find(&l, id);
    char *pv = lv ? lq_lvm_tag_value(lv->tags, "lq.pvol") : NULL;
    char *ps = lv ? lq_lvm_tag_value(lv->tags, "lq.psnap") : NULL;
    if (!e && pv) {
        /* Thin clones share blocks, not LVs: only the lineage goes. */
        struct cmd c;
        cmd_init(&c, "lvchange");
        cmd_add(&c, "-q");
        cmd_add(&c, "--deltag");
        cmd_addf(&c, "lq.pvol=%s%s", pv, "");
        if (ps) {
            cmd_add(&c, "--deltag");
            cmd_addf(&c, "lq.psnap=%s%s", ps, "");
        }
        cmd_addf(&c, "%s/lq-%s", p->vg, id);
        e = cmd_run(p, &c);
    }
    free(pv);
    free(ps);
    lvs_clear(&l);
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

/* ---- Snapshots -------------------------------------------------------------- */

static struct lq_error *
drv_snapshot_create(void *impl, const char *vid, const char *sid,
                    const char *name)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    struct lq_error *e = lvs_all(p, &l);
    const struct lv *lv = e ? NULL : vol_find(&l, vid);
    if (!e && !lv) {
        e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", vid);
    }
    char *sname = xasprintf("lqs-%s", sid);
    const struct lv *old = e ? NULL : lv_find(&l, sname);
    if (!e && old) {
        char *on = lq_lvm_tags_get(old->tags, "n");
        if (!lv_tag_is(old, "lq.snap_of", vid)) {
            e = lq_error_new(LQ_ALREADY_EXISTS, "snapshot %s exists in pool "
                             "%s for another volume (snapshot ids are "
                             "unique per thin pool)", sid, p->id);
        } else if (!on || strcmp(on, name)) {
            e = lq_error_new(LQ_ALREADY_EXISTS, "snapshot %s of volume %s "
                             "exists with name \"%s\"", sid, vid,
                             on ? on : "");
        }
        free(on);
        free(sname);
        lvs_clear(&l);
        return e;                   /* Or a retry: done. */
    }
    if (!e) {
        e = check_room(p, &l);
    }
    if (!e) {
        struct cmd c;
        struct sset tags = SSET_INITIALIZER(&tags);
        sset_add_and_free(&tags, xasprintf("lq.snap_of=%s", vid));
        sset_add_and_free(&tags, xasprintf("lq.ctime=%lld",
                                           (long long) time(NULL)));
        lq_lvm_tags_put("n", name, &tags);
        cmd_init(&c, "lvcreate");
        cmd_add(&c, "-q");
        cmd_add(&c, "-s");
        cmd_add(&c, "-n");
        cmd_add(&c, sname);
        const char *t;
        SSET_FOR_EACH (t, &tags) {
            cmd_add(&c, "--addtag");
            cmd_add(&c, t);
        }
        sset_destroy(&tags);
        cmd_addf(&c, "%s/lq-%s", p->vg, vid);
        e = cmd_run(p, &c);     /* Tags and all in one step. */
    }
    if (!e) {
        VLOG_INFO("pool %s: volume %s: snapshot %s taken", p->id, vid, sid);
    }
    free(sname);
    lvs_clear(&l);
    return e;
}

static struct lq_error *
drv_snapshot_delete(void *impl, const char *vid, const char *sid,
                    bool force OVS_UNUSED)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    struct lq_error *e = lvs_all(p, &l);
    const struct lv *s = e ? NULL : snap_find(&l, sid);
    if (!e && s && lv_tag_is(s, "lq.snap_of", vid)) {
        /* Clones of it are independent thin LVs: nothing to flatten. */
        e = remove_lv(p, s->name);
    }
    lvs_clear(&l);
    return e;
}

static struct lq_error *
drv_snapshot_rollback(void *impl, const char *vid, const char *sid)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    struct lq_error *e = lvs_all(p, &l);
    if (!e) {
        e = clear_leftovers(p, &l, vid);
        lvs_clear(&l);
        e = e ? e : lvs_all(p, &l);
    }
    const struct lv *lv = e ? NULL : vol_find(&l, vid);
    const struct lv *s = e ? NULL : snap_find(&l, sid);
    if (!e && !lv) {
        e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", vid);
    } else if (!e && (!s || !lv_tag_is(s, "lq.snap_of", vid))) {
        e = lq_error_new(LQ_NOT_FOUND, "snapshot \"%s\" of volume \"%s\" not "
                         "found", sid, vid);
    } else if (!e && lv->open) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached: "
                         "detach it before rolling back", vid);
    }
    if (e) {
        lvs_clear(&l);
        return e;
    }

    /* The new content as lqtmp-<vid>, carrying the volume's tags. */
    char *name = lq_lvm_tags_get(lv->tags, "n");
    char *spec = lq_lvm_tags_get(lv->tags, "s");
    char *ct = lq_lvm_tag_value(lv->tags, "lq.ctime");
    char *pv = lq_lvm_tag_value(lv->tags, "lq.pvol");
    char *ps = lq_lvm_tag_value(lv->tags, "lq.psnap");
    struct cmd c;
    cmd_init(&c, "lvcreate");
    cmd_add(&c, "-q");
    cmd_add(&c, "-s");
    cmd_add(&c, "-kn");
    cmd_add(&c, "-an");
    cmd_add(&c, "-n");
    cmd_addf(&c, "lqtmp-%s%s", vid, "");
    add_volume_tags(&c, vid, name ? name : vid, spec,
                    ct ? strtoll(ct, NULL, 10) : 0, pv, ps ? ps : "");
    cmd_addf(&c, "%s/lqs-%s", p->vg, sid);
    e = cmd_run(p, &c);
    free(name);
    free(spec);
    free(ct);
    free(pv);
    free(ps);
    char *vol = xasprintf("lq-%s", vid), *old = xasprintf("lqold-%s", vid);
    if (!e) {
        const char *argv[] = { "lvrename", "-q", p->vg, vol, old, NULL };
        e = lvm_run(p, argv, NULL);
        if (e) {
            abandon(p, vid);
        }
    }
    if (!e) {
        e = publish(p, vid);
        if (e) {
            /* Put the volume back; the next call repairs otherwise. */
            const char *argv[] = { "lvrename", "-q", p->vg, old, vol, NULL };
            lq_error_free(lvm_run(p, argv, NULL));
        }
    }
    if (!e) {
        e = remove_lv(p, old);
    }
    free(vol);
    free(old);
    lvs_clear(&l);
    return e;
}

static struct lq_error *
drv_snapshot_find(void *impl, const char *sid, char **vidp)
{
    struct lvm_pool *p = impl;
    struct lvs l;
    *vidp = NULL;
    struct lq_error *e = lvs_all(p, &l);
    const struct lv *s = e ? NULL : snap_find(&l, sid);
    if (s) {
        *vidp = lq_lvm_tag_value(s->tags, "lq.snap_of");
    } else if (!e) {
        e = lq_error_new(LQ_NOT_FOUND, "snapshot \"%s\" not found", sid);
    }
    lvs_clear(&l);
    return e;
}

/* ---- Attach ---------------------------------------------------------------- */

static struct lq_error *
drv_disk_source(void *impl, const char *id, struct lq_disk_source **sp)
{
    struct lvm_pool *p = impl;
    struct lq_volume_info *v;
    struct lq_error *e = drv_info(impl, id, &v);
    if (e) {
        return e;
    }
    lq_volume_info_free(v);
    char *path = lv_path(p, "lq-", id);
    const char *argv[] = { "lvchange", "-q", "-ay", "-K", path, NULL };
    e = lvm_run(p, argv, NULL);
    free(path);
    if (e) {
        return e;
    }
    struct lq_disk_source *s = xzalloc(sizeof *s);
    s->type = xstrdup("block");
    s->path = xasprintf("/dev/%s/lq-%s", p->vg, id);
    s->format = xstrdup("raw");
    *sp = s;
    return NULL;
}

const struct lq_storage_driver lq_lvm_driver = {
    .backend = "lvm-thin",
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
