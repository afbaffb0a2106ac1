/* storage.c: the generic storage layer (limiquantix/storage.h).
 *
 * Owns the pools (one driver instance each), validates every argument
 * before a driver sees it, finds which pool holds a volume, implements
 * idempotency from what the drivers report, and runs long operations on
 * job threads.
 *
 * Design decisions:
 * - No state that matters lives here.  The job table only describes work
 *   in flight on this node (and the error of a create that failed, until
 *   it is retried or deleted); the snapshot table is only a hint (snapshot
 *   id -> volume id) that saves a scan and is checked on every use.
 * - Idempotency: a create compares the canonical spec ("name, size,
 *   source") the driver stored with the volume.  Same: success, nothing
 *   changes; different: LQ_ALREADY_EXISTS.  A retry after a failed or
 *   crashed create starts over (the driver removes any leftover first).
 * - Jobs run on their own threads (started with ovs_thread_create), not on
 *   the daemon's worker pool: an import can take minutes and must not
 *   starve short RPCs of workers.  lq_storage_destroy() cancels and joins
 *   them.  The RPC that starts a job returns at once.
 * - Calls that change one volume are serialized per volume id on this node
 *   (id_lock), so two identical creates racing on two worker threads end
 *   as one create and one "same spec" success, never as one undoing the
 *   other's temporary image.  Across nodes that is the control plane's
 *   job, as it is for any id it hands out. */
#include <config.h>
#include "limiquantix/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "download.h"
#include "image.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "sset.h"
#include "ovs-thread.h"
#include "timeval.h"
#include "fileutil.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(storage);

#define MAX_ID_LEN 64
#define MAX_NAME_LEN 255

enum job_kind {
    JOB_IMPORT,                 /* Create from a file. */
    JOB_CLONE,                  /* Create as a clone that gets flattened. */
    JOB_FLATTEN,                /* Flatten an existing volume. */
};

static const char *
job_kind_name(enum job_kind k)
{
    return k == JOB_IMPORT ? "import" : k == JOB_CLONE ? "clone" : "flatten";
}

struct storage_job {
    struct lq_storage *storage;
    struct lq_storage_pool *pool;
    enum job_kind kind;
    char *volume_id;
    char *name;
    char *spec;
    uint64_t size_bytes;
    char *image_path;           /* JOB_IMPORT; with 'url', the download. */
    struct lq_image_probe probe;
    char *url, *sha256;         /* JOB_IMPORT from a URL. */
    const char *phase;          /* "download", then "import"; NULL. */
    char *src_volume_id;        /* JOB_CLONE */
    char *src_snapshot_id;

    struct lq_job_progress progress;
    pthread_t thread;
    /* Guarded by storage->mutex: */
    bool finished;
    bool joined;
    struct lq_error *error;     /* Once finished. */
};

struct lq_storage {
    struct lq_storage_pool *pools;
    size_t n_pools;

    struct ovs_mutex mutex;
    struct shash jobs OVS_GUARDED;       /* volume id -> storage_job. */
    struct shash snap_hints OVS_GUARDED; /* snapshot id -> volume id. */
    struct sset busy OVS_GUARDED;        /* Volume ids being changed. */
    pthread_cond_t busy_cond;            /* Signalled when one is done. */

    /* hypervisor.image_dirs: where import sources may come from. */
    char **image_dirs;
    size_t n_image_dirs;
};

static const struct lq_storage_driver *const drivers[] = {
    &lq_rbd_driver,
    &lq_local_driver,
    &lq_iscsi_driver,
    &lq_nfs_driver,
    &lq_lvm_driver,
};

/* ---- Small object helpers ------------------------------------------------ */

const char *
lq_volume_state_name(enum lq_volume_state s)
{
    return s == LQ_VOLUME_CREATING ? "creating"
           : s == LQ_VOLUME_AVAILABLE ? "available" : "error";
}

struct lq_volume_info *
lq_volume_info_new(void)
{
    struct lq_volume_info *v = xzalloc(sizeof *v);
    v->operation = xstrdup("");
    v->error_message = xstrdup("");
    return v;
}

void
lq_snapshot_info_clear(struct lq_snapshot_info *s)
{
    if (s) {
        free(s->id);
        free(s->volume_id);
        free(s->name);
        memset(s, 0, sizeof *s);
    }
}

void
lq_snapshot_info_free(struct lq_snapshot_info *s)
{
    lq_snapshot_info_clear(s);
    free(s);
}

void
lq_snapshot_info_free_array(struct lq_snapshot_info *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lq_snapshot_info_clear(&s[i]);
    }
    free(s);
}

struct lq_snapshot_info *
lq_snapshot_info_dup(const struct lq_snapshot_info *s)
{
    struct lq_snapshot_info *d = xmemdup(s, sizeof *s);
    d->id = xstrdup(s->id);
    d->volume_id = xstrdup(s->volume_id);
    d->name = xstrdup(s->name);
    return d;
}

void
lq_volume_info_free(struct lq_volume_info *v)
{
    if (v) {
        free(v->id);
        free(v->pool_id);
        free(v->name);
        free(v->operation);
        free(v->error_message);
        free(v->parent_volume_id);
        free(v->parent_snapshot_id);
        free(v->backend_name);
        free(v->create_spec);
        lq_snapshot_info_free_array(v->snapshots, v->n_snapshots);
        free(v);
    }
}

void
lq_volume_list_add(struct lq_volume_list *l, struct lq_volume_info *v)
{
    l->volumes = xrealloc(l->volumes, (l->n + 1) * sizeof *l->volumes);
    l->volumes[l->n++] = v;
}

void
lq_volume_list_clear(struct lq_volume_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        lq_volume_info_free(l->volumes[i]);
    }
    free(l->volumes);
    l->volumes = NULL;
    l->n = 0;
}

void
lq_pool_status_clear(struct lq_pool_status *p)
{
    free(p->id);
    free(p->backend);
    free(p->health);
    free(p->message);
    memset(p, 0, sizeof *p);
}

void
lq_pool_status_free_array(struct lq_pool_status *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lq_pool_status_clear(&p[i]);
    }
    free(p);
}

void
lq_disk_source_free(struct lq_disk_source *s)
{
    if (s) {
        free(s->type);
        free(s->protocol);
        free(s->name);
        free(s->path);
        free(s->format);
        for (size_t i = 0; i < s->n_hosts; i++) {
            free(s->hosts[i].name);
            free(s->hosts[i].port);
            free(s->hosts[i].transport);
        }
        free(s->hosts);
        free(s->auth_username);
        free(s->secret_type);
        free(s->secret_usage);
        free(s->config_file);
        free(s->keyring);
        free(s);
    }
}

/* ---- Validation ---------------------------------------------------------- */

struct lq_error *
lq_storage_check_id(const char *field, const char *id)
{
    if (!id || !*id) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: required", field);
    }
    size_t len = strlen(id);
    if (len > MAX_ID_LEN) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: longer than %d "
                            "characters", field, MAX_ID_LEN);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = id[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                  || (ch >= '0' && ch <= '9')
                  || (i && (ch == '-' || ch == '_' || ch == '.'));
        if (!ok) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not a "
                                "valid id (letters, digits, '-', '_' and '.'"
                                ", starting with a letter or digit)", field,
                                id);
        }
    }
    return NULL;
}

struct lq_error *
lq_storage_check_name(const char *field, const char *name)
{
    if (!name || !*name) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: must not be empty",
                            field);
    }
    if (strlen(name) > MAX_NAME_LEN) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: longer than %d bytes",
                            field, MAX_NAME_LEN);
    }
    for (const char *p = name; *p; p++) {
        if (*p == '/' || *p == '@') {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: must not contain "
                                "'%c'", field, *p);
        }
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: must not contain "
                                "control characters", field);
        }
    }
    return NULL;
}

struct lq_error *
lq_storage_check_size(const char *field, uint64_t size, bool zero_ok)
{
    if (!size && !zero_ok) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: must be greater than "
                            "0", field);
    }
    if (size % 512) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: %"PRIu64" is not a "
                            "multiple of 512", field, size);
    }
    if (size > (UINT64_C(1) << 60)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: %"PRIu64" is too "
                            "large", field, size);
    }
    return NULL;
}

/* ---- Create/destroy -------------------------------------------------------- */

static const struct lq_storage_driver *
driver_find(const char *backend)
{
    for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
        if (!strcmp(drivers[i]->backend, backend)) {
            return drivers[i];
        }
    }
    return NULL;
}

struct lq_error *
lq_storage_create(const struct lq_config *config, struct lq_storage **sp)
{
    struct lq_storage *s = xzalloc(sizeof *s);
    ovs_mutex_init(&s->mutex);
    shash_init(&s->jobs);
    shash_init(&s->snap_hints);
    sset_init(&s->busy);
    xpthread_cond_init(&s->busy_cond, NULL);
    s->pools = xcalloc(MAX(config->storage.n_pools, 1), sizeof *s->pools);
    s->image_dirs = xcalloc(config->hypervisor.n_image_dirs + 1,
                            sizeof *s->image_dirs);
    for (size_t i = 0; i < config->hypervisor.n_image_dirs; i++) {
        s->image_dirs[s->n_image_dirs++]
            = xstrdup(config->hypervisor.image_dirs[i]);
    }

    for (size_t i = 0; i < config->storage.n_pools; i++) {
        const struct lq_pool_config *pc = &config->storage.pools[i];
        struct lq_storage_pool *pool = &s->pools[s->n_pools];
        pool->id = xstrdup(pc->id);
        pool->backend = xstrdup(pc->backend);
        pool->driver = driver_find(pc->backend);
        s->n_pools++;
        if (!pool->driver) {
            VLOG_WARN("storage pool %s: backend %s is not implemented yet; "
                      "the pool is listed but refuses every call", pc->id,
                      pc->backend);
            continue;
        }
        struct lq_error *error = pool->driver->open(pc, &pool->impl);
        if (error) {
            lq_storage_destroy(s);
            *sp = NULL;
            return error;
        }
        VLOG_INFO("storage pool %s: backend %s", pc->id, pc->backend);
    }
    for (size_t i = 0; i < s->n_pools; i++) {
        struct lq_storage_pool *pool = &s->pools[i];
        struct lq_error *error = pool->driver && pool->driver->link
            ? pool->driver->link(pool->impl, s->pools, s->n_pools) : NULL;
        if (error) {
            lq_storage_destroy(s);
            *sp = NULL;
            return error;
        }
    }
    *sp = s;
    return NULL;
}

static void
job_free(struct storage_job *job)
{
    free(job->volume_id);
    free(job->name);
    free(job->spec);
    free(job->image_path);
    free(job->url);
    free(job->sha256);
    lq_image_probe_clear(&job->probe);
    free(job->src_volume_id);
    free(job->src_snapshot_id);
    lq_error_free(job->error);
    free(job);
}

void
lq_storage_destroy(struct lq_storage *s)
{
    if (!s) {
        return;
    }

    /* Cancel, then join outside the lock (jobs take it to finish). */
    struct storage_job **jobs;
    size_t n_jobs = 0;
    ovs_mutex_lock(&s->mutex);
    jobs = xcalloc(MAX(shash_count(&s->jobs), 1), sizeof *jobs);
    struct shash_node *node;
    SHASH_FOR_EACH (node, &s->jobs) {
        struct storage_job *job = node->data;
        atomic_store(&job->progress.cancel, true);
        jobs[n_jobs++] = job;
    }
    ovs_mutex_unlock(&s->mutex);
    for (size_t i = 0; i < n_jobs; i++) {
        if (!jobs[i]->joined) {
            xpthread_join(jobs[i]->thread, NULL);
        }
        job_free(jobs[i]);
    }
    free(jobs);
    for (size_t i = 0; i < s->n_image_dirs; i++) {
        free(s->image_dirs[i]);
    }
    free(s->image_dirs);
    shash_destroy(&s->jobs);
    shash_destroy_free_data(&s->snap_hints);
    sset_destroy(&s->busy);
    xpthread_cond_destroy(&s->busy_cond);

    for (size_t i = 0; i < s->n_pools; i++) {
        if (s->pools[i].driver && s->pools[i].impl) {
            s->pools[i].driver->close(s->pools[i].impl);
        }
        free(s->pools[i].id);
        free(s->pools[i].backend);
    }
    free(s->pools);
    ovs_mutex_destroy(&s->mutex);
    free(s);
}

/* ---- Pools ------------------------------------------------------------------ */

static struct lq_storage_pool *
pool_find(struct lq_storage *s, const char *id)
{
    for (size_t i = 0; i < s->n_pools; i++) {
        if (!strcmp(s->pools[i].id, id)) {
            return &s->pools[i];
        }
    }
    return NULL;
}

static struct lq_error *
pool_usable(const struct lq_storage_pool *pool)
{
    return pool->driver ? NULL
           : lq_error_new(LQ_UNIMPLEMENTED, "pool %s: its backend is not "
                          "implemented yet", pool->id);
}

struct lq_error *
lq_storage_list_pools(struct lq_storage *s, struct lq_pool_status **poolsp,
                      size_t *np)
{
    struct lq_pool_status *out = xcalloc(MAX(s->n_pools, 1), sizeof *out);
    for (size_t i = 0; i < s->n_pools; i++) {
        struct lq_storage_pool *pool = &s->pools[i];
        struct lq_pool_status *st = &out[i];
        struct lq_error *error = pool_usable(pool);
        if (!error) {
            error = pool->driver->status(pool->impl, st);
        }
        if (error) {
            memset(st, 0, sizeof *st);
            st->health = xstrdup(error->code == LQ_UNIMPLEMENTED
                                 ? "unimplemented" : "unavailable");
            st->message = xstrdup(error->message);
            lq_error_free(error);
        }
        st->id = xstrdup(pool->id);
        st->backend = xstrdup(pool->backend);
    }
    *poolsp = out;
    *np = s->n_pools;
    return NULL;
}

/* ---- Per-volume serialization --------------------------------------------- */

static void
id_lock(struct lq_storage *s, const char *id)
{
    ovs_mutex_lock(&s->mutex);
    while (sset_contains(&s->busy, id)) {
        ovs_mutex_cond_wait(&s->busy_cond, &s->mutex);
    }
    sset_add(&s->busy, id);
    ovs_mutex_unlock(&s->mutex);
}

static void
id_unlock(struct lq_storage *s, const char *id)
{
    ovs_mutex_lock(&s->mutex);
    sset_find_and_delete(&s->busy, id);
    xpthread_cond_broadcast(&s->busy_cond);
    ovs_mutex_unlock(&s->mutex);
}

/* ---- Jobs --------------------------------------------------------------- */

/* Joins a finished job's thread; returns true if it is also done with (a
 * success, or a flatten whose error nobody needs any more). */
static void
job_reap_locked(struct storage_job *job)
    OVS_REQUIRES(job->storage->mutex)
{
    if (job->finished && !job->joined) {
        xpthread_join(job->thread, NULL);
        job->joined = true;
    }
}

static struct storage_job *
job_find_locked(struct lq_storage *s, const char *volume_id)
    OVS_REQUIRES(s->mutex)
{
    struct storage_job *job = shash_find_data(&s->jobs, volume_id);
    if (job) {
        job_reap_locked(job);
    }
    return job;
}

static void
job_remove_locked(struct lq_storage *s, struct storage_job *job)
    OVS_REQUIRES(s->mutex)
{
    job_reap_locked(job);
    shash_find_and_delete(&s->jobs, job->volume_id);
    job_free(job);
}

static uint64_t
round_up_512(uint64_t n)
{
    return (n + 511) / 512 * 512;
}

/* A URL import's first phase: the image into a temporary file under
 * $TMPDIR (removed when the job ends), probed as a local import is, and
 * the volume's size settled. */
static struct lq_error *
job_download(struct storage_job *job, struct lq_volume_create_args *a)
{
    char *tmp = xasprintf("%s/lq-download-XXXXXX", lq_image_tmp_dir());
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        struct lq_error *e = lq_error_new(LQ_RESOURCE_EXHAUSTED, "cannot "
                                          "create a temporary file in %s: "
                                          "%s", lq_image_tmp_dir(),
                                          ovs_strerror(errno));
        free(tmp);
        return e;
    }
    struct lq_storage *s = job->storage;
    ovs_mutex_lock(&s->mutex);
    job->image_path = tmp;
    job->phase = "download";
    ovs_mutex_unlock(&s->mutex);

    uint64_t got;
    struct lq_error *e = lq_download(job->url, job->sha256, fd,
                                     &job->progress, &got);
    close(fd);
    struct lq_image_probe probe = { NULL, 0 };
    if (!e) {
        e = lq_image_probe("source.url", tmp, &probe);
    }
    uint64_t need = round_up_512(probe.virtual_size);
    if (!e && !need) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "source.url: the image is "
                         "empty");
    } else if (!e && job->size_bytes && job->size_bytes < need) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "sizeBytes: %"PRIu64" is "
                         "smaller than the image's virtual size %"PRIu64,
                         job->size_bytes, probe.virtual_size);
    }
    ovs_mutex_lock(&s->mutex);
    if (!e) {
        job->probe = probe;
        if (!job->size_bytes) {
            job->size_bytes = need;
        }
        a->size_bytes = job->size_bytes;
        job->phase = "import";
        atomic_store(&job->progress.percent, 0);
    } else {
        lq_image_probe_clear(&probe);
    }
    ovs_mutex_unlock(&s->mutex);
    return e;
}

static void *
job_main(void *job_)
{
    struct storage_job *job = job_;
    struct lq_storage_pool *pool = job->pool;
    struct lq_volume_create_args a = {
        .id = job->volume_id, .name = job->name,
        .size_bytes = job->size_bytes, .spec = job->spec,
    };
    struct lq_error *error = NULL;
    long long start = time_msec();

    if (job->kind == JOB_IMPORT && job->url) {
        error = job_download(job, &a);
    }
    if (error) {
        /* The download failed: nothing was made. */
    } else if (job->kind == JOB_IMPORT) {
        struct lq_image_reader *reader;
        error = lq_image_reader_open(job->image_path, &job->probe,
                                     &job->progress, 30, &reader);
        if (!error) {
            error = pool->driver->import(pool->impl, &a, reader,
                                         &job->progress);
            lq_image_reader_close(reader);
        }
    } else if (job->kind == JOB_CLONE) {
        error = pool->driver->clone(pool->impl, &a, job->src_volume_id,
                                    job->src_snapshot_id, true,
                                    &job->progress);
    } else {
        error = pool->driver->flatten(pool->impl, job->volume_id,
                                      &job->progress);
    }

    if (error) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
        VLOG_WARN_RL(&rl, "volume %s: %s failed: %s", job->volume_id,
                     job_kind_name(job->kind), error->message);
    } else {
        VLOG_INFO("volume %s: %s done in %lld ms", job->volume_id,
                  job_kind_name(job->kind), time_msec() - start);
    }

    if (job->url && job->image_path) {
        unlink(job->image_path);        /* The downloaded copy. */
    }
    struct lq_storage *s = job->storage;
    ovs_mutex_lock(&s->mutex);
    atomic_store(&job->progress.percent, 100);
    job->error = error;
    job->finished = true;
    ovs_mutex_unlock(&s->mutex);
    return NULL;
}

static void
job_start_locked(struct lq_storage *s, struct storage_job *job)
    OVS_REQUIRES(s->mutex)
{
    job->storage = s;
    atomic_init(&job->progress.percent, 0);
    atomic_init(&job->progress.cancel, false);
    shash_add(&s->jobs, job->volume_id, job);
    job->thread = ovs_thread_create("storage-job", job_main, job);
}

/* The volume a create job is making, as GetVolume shows it. */
static struct lq_volume_info *
job_volume_info(const struct storage_job *job)
{
    struct lq_volume_info *v = lq_volume_info_new();
    v->id = xstrdup(job->volume_id);
    v->pool_id = xstrdup(job->pool->id);
    v->name = xstrdup(job->name);
    v->size_bytes = job->size_bytes;
    v->create_spec = xstrdup(job->spec);
    free(v->operation);
    v->operation = xstrdup(job->phase ? job->phase : job_kind_name(job->kind));
    if (job->finished && job->error) {
        v->state = LQ_VOLUME_ERROR;
        free(v->error_message);
        v->error_message = xstrdup(job->error->message);
        v->progress_percent = 0;
    } else {
        v->state = LQ_VOLUME_CREATING;
        v->progress_percent = MIN(atomic_load(
            &CONST_CAST(struct storage_job *, job)->progress.percent), 99);
    }
    if (job->src_volume_id) {
        v->parent_volume_id = xstrdup(job->src_volume_id);
        v->parent_snapshot_id = xstrdup(job->src_snapshot_id);
    }
    return v;
}

/* Adds what a job on this node knows to a volume read from its pool. */
static void
overlay_job(struct lq_storage *s, struct lq_volume_info *v)
{
    ovs_mutex_lock(&s->mutex);
    struct storage_job *job = job_find_locked(s, v->id);
    if (job && job->kind == JOB_FLATTEN) {
        free(v->operation);
        v->operation = xstrdup("flatten");
        if (!job->finished) {
            v->progress_percent = MIN(atomic_load(&job->progress.percent),
                                      99);
        } else if (job->error) {
            free(v->error_message);
            v->error_message = xasprintf("flatten failed: %s",
                                         job->error->message);
        }
    } else if (job && job->finished && !job->error) {
        job_remove_locked(s, job);  /* A finished create: done with it. */
    }
    ovs_mutex_unlock(&s->mutex);
}

struct lq_error *
lq_volume_wait(struct lq_storage *s, const char *id, int timeout_ms)
{
    long long deadline = timeout_ms < 0 ? LLONG_MAX
                         : time_msec() + timeout_ms;
    for (;;) {
        ovs_mutex_lock(&s->mutex);
        struct storage_job *job = job_find_locked(s, id);
        bool done = !job || job->finished;
        struct lq_error *error = job && job->finished && job->error
            ? lq_error_new(job->error->code, "%s", job->error->message)
            : NULL;
        ovs_mutex_unlock(&s->mutex);
        if (done) {
            return error;
        }
        if (time_msec() >= deadline) {
            return lq_error_new(LQ_DEADLINE_EXCEEDED, "volume %s: still "
                                "busy after %d ms", id, timeout_ms);
        }
        xnanosleep(10 * 1000 * 1000);
    }
}

/* ---- Finding volumes and snapshots --------------------------------------- */

/* The pool that holds volume 'id', and its info if 'infop'; 'skip' (may be
 * NULL) is a pool already asked. */
static struct lq_error *
volume_locate__(struct lq_storage *s, const char *id,
                const struct lq_storage_pool *skip,
                struct lq_storage_pool **poolp, struct lq_volume_info **infop)
{
    struct lq_error *unreachable = NULL;

    for (size_t i = 0; i < s->n_pools; i++) {
        struct lq_storage_pool *pool = &s->pools[i];
        if (!pool->driver || pool == skip) {
            continue;
        }
        struct lq_volume_info *v;
        struct lq_error *error = pool->driver->info(pool->impl, id, &v);
        if (!error) {
            *poolp = pool;
            if (infop) {
                *infop = v;
            } else {
                lq_volume_info_free(v);
            }
            lq_error_free(unreachable);
            return NULL;
        } else if (error->code == LQ_NOT_FOUND) {
            lq_error_free(error);
        } else if (!unreachable) {
            unreachable = error;
        } else {
            lq_error_free(error);
        }
    }
    /* Not found anywhere we could look: if a pool could not be asked, the
     * answer is "unavailable", not "not found". */
    return unreachable ? unreachable
           : lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", id);
}

static struct lq_error *
volume_locate(struct lq_storage *s, const char *id,
              struct lq_storage_pool **poolp, struct lq_volume_info **infop)
{
    return volume_locate__(s, id, NULL, poolp, infop);
}

static void
hint_snapshot(struct lq_storage *s, const char *sid, const char *vid)
{
    ovs_mutex_lock(&s->mutex);
    free(shash_replace(&s->snap_hints, sid, xstrdup(vid)));
    ovs_mutex_unlock(&s->mutex);
}

static void
forget_snapshot(struct lq_storage *s, const char *sid)
{
    ovs_mutex_lock(&s->mutex);
    free(shash_find_and_delete(&s->snap_hints, sid));
    ovs_mutex_unlock(&s->mutex);
}

static void
hint_volume_snapshots(struct lq_storage *s, const struct lq_volume_info *v)
{
    for (size_t i = 0; i < v->n_snapshots; i++) {
        hint_snapshot(s, v->snapshots[i].id, v->id);
    }
}

static const struct lq_snapshot_info *
volume_snapshot(const struct lq_volume_info *v, const char *sid)
{
    for (size_t i = 0; i < v->n_snapshots; i++) {
        if (!strcmp(v->snapshots[i].id, sid)) {
            return &v->snapshots[i];
        }
    }
    return NULL;
}

/* Finds snapshot 'sid': the volume that holds it (in '*infop') and its pool.
 * 'vid' (may be NULL) is where the caller says it is; else the hint table,
 * else a scan of every pool. */
static struct lq_error *
snapshot_locate(struct lq_storage *s, const char *field, const char *vid,
                const char *sid, struct lq_storage_pool **poolp,
                struct lq_volume_info **infop)
{
    char *hint = NULL;
    *infop = NULL;
    if (!vid) {
        ovs_mutex_lock(&s->mutex);
        hint = nullable_xstrdup(shash_find_data(&s->snap_hints, sid));
        ovs_mutex_unlock(&s->mutex);
    }

    const char *try = vid ? vid : hint;
    if (try) {
        struct lq_error *error = volume_locate(s, try, poolp, infop);
        if (!error && volume_snapshot(*infop, sid)) {
            free(hint);
            return NULL;
        }
        if (!error) {
            lq_volume_info_free(*infop);
            *infop = NULL;
        }
        if (vid) {
            if (error && error->code != LQ_NOT_FOUND) {
                return error;
            }
            lq_error_free(error);
            return lq_error_new(LQ_NOT_FOUND, "%s: snapshot \"%s\" of "
                                "volume \"%s\" not found", field, sid, vid);
        }
        lq_error_free(error);
        forget_snapshot(s, sid);        /* A stale hint. */
    }
    free(hint);

    struct lq_error *unreachable = NULL;
    for (size_t i = 0; i < s->n_pools; i++) {
        struct lq_storage_pool *pool = &s->pools[i];
        if (!pool->driver) {
            continue;
        }
        char *found;
        struct lq_error *error = pool->driver->snapshot_find(pool->impl, sid,
                                                             &found);
        if (!error) {
            error = volume_locate(s, found, poolp, infop);
            free(found);
            if (!error && volume_snapshot(*infop, sid)) {
                hint_volume_snapshots(s, *infop);
                lq_error_free(unreachable);
                return NULL;
            }
            if (!error) {
                lq_volume_info_free(*infop);
                *infop = NULL;
            }
        }
        if (error && error->code != LQ_NOT_FOUND && !unreachable) {
            unreachable = error;
        } else {
            lq_error_free(error);
        }
    }
    return unreachable ? unreachable
           : lq_error_new(LQ_NOT_FOUND, "%s: snapshot \"%s\" not found",
                          field, sid);
}

/* ---- Volumes ---------------------------------------------------------------- */

/* "name=..\nsize=..\nsnapshot=..\nimage=..": what makes two creates "the
 * same".  Names cannot hold control characters, so '\n' separates. */
static char *
canonical_spec(const char *name, uint64_t size, const char *snap_vol,
               const char *snap, const char *image)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "v1\nname=%s\nsize=%"PRIu64"\n", name, size);
    if (snap) {
        ds_put_format(&s, "snapshot=%s@%s\n", snap_vol, snap);
    }
    if (image) {
        ds_put_format(&s, "image=%s\n", image);
    }
    return ds_steal_cstr(&s);
}

/* The same with a URL source. */
static char *
canonical_url_spec(const char *name, uint64_t size, const char *url,
                   const char *sha256)
{
    char *base = canonical_spec(name, size, NULL, NULL, NULL);
    char *s = xasprintf("%surl=%s\nsha256=%s\n", base, url,
                        sha256 ? sha256 : "");
    free(base);
    return s;
}

static struct lq_error *
check_sha256_hex(const char *hex)
{
    return strlen(hex) == 64 && strspn(hex, "0123456789abcdefABCDEF") == 64
           ? NULL
           : lq_error_new(LQ_INVALID_ARGUMENT, "source.sha256: expected 64 "
                          "hex digits");
}

static struct lq_error *
check_spec(const struct lq_volume_spec *spec)
{
    struct lq_error *error = lq_storage_check_id("id", spec->id);
    if (!error && (!spec->pool_id || !*spec->pool_id)) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "poolId: required");
    }
    if (!error && spec->name) {
        error = lq_storage_check_name("name", spec->name);
    }
    int n_sources = !!spec->source_snapshot_id + !!spec->source_image_path
                    + !!spec->source_url;
    bool has_source = n_sources > 0;
    if (!error && n_sources > 1) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "source: set one of "
                             "snapshotId, imagePath and url");
    }
    if (!error && spec->source_url) {
        error = lq_download_check_url("source.url", spec->source_url);
    }
    if (!error && spec->source_sha256) {
        error = !spec->source_url
                ? lq_error_new(LQ_INVALID_ARGUMENT, "source.sha256: only "
                               "with source.url")
                : check_sha256_hex(spec->source_sha256);
    }
    if (!error) {
        error = lq_storage_check_size("sizeBytes", spec->size_bytes,
                                      has_source);
    }
    if (!error && spec->source_snapshot_id) {
        error = lq_storage_check_id("source.snapshotId",
                                    spec->source_snapshot_id);
    }
    if (!error && spec->source_volume_id) {
        error = lq_storage_check_id("source.volumeId",
                                    spec->source_volume_id);
    }
    if (!error && spec->source_volume_id && !spec->source_snapshot_id) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "source.volumeId: only "
                             "with source.snapshotId");
    }
    return error;
}

/* Existing volume 'v' against the requested 'spec': the retry of the same
 * create succeeds, anything else is already_exists. */
static struct lq_error *
compare_existing(const struct lq_volume_info *v, const char *pool_id,
                 const char *spec)
{
    if (strcmp(v->pool_id, pool_id)) {
        /* The same id asked for in another pool is another volume. */
        return lq_error_new(LQ_ALREADY_EXISTS, "volume %s already exists in "
                            "pool %s, not in pool %s", v->id, v->pool_id,
                            pool_id);
    }
    if (v->create_spec && !strcmp(v->create_spec, spec)) {
        return NULL;
    }
    return lq_error_new(LQ_ALREADY_EXISTS, "volume %s already exists in pool "
                        "%s with a different spec (name \"%s\", %"PRIu64
                        " bytes%s%s)", v->id, v->pool_id, v->name,
                        v->size_bytes, v->parent_volume_id
                        ? ", cloned from " : "",
                        v->parent_volume_id ? v->parent_volume_id : "");
}

static struct lq_error *volume_create__(struct lq_storage *,
                                        const struct lq_volume_spec *,
                                        struct lq_volume_info **);

struct lq_error *
lq_volume_create(struct lq_storage *s, const struct lq_volume_spec *spec,
                 struct lq_volume_info **infop)
{
    struct lq_error *error = lq_storage_check_id("id", spec->id);
    if (error) {
        return error;
    }
    id_lock(s, spec->id);
    error = volume_create__(s, spec, infop);
    id_unlock(s, spec->id);
    return error;
}

static struct lq_error *
volume_create__(struct lq_storage *s, const struct lq_volume_spec *spec,
                struct lq_volume_info **infop)
{
    struct lq_volume_info *dummy;
    infop = infop ? infop : &dummy;
    *infop = NULL;

    struct lq_error *error = check_spec(spec);
    if (error) {
        return error;
    }
    struct lq_storage_pool *pool = pool_find(s, spec->pool_id);
    if (!pool) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "poolId: unknown pool "
                            "\"%s\"", spec->pool_id);
    }
    error = pool_usable(pool);
    if (error) {
        return error;
    }
    const char *name = spec->name ? spec->name : spec->id;
    uint64_t size = spec->size_bytes;

    /* Everything about the source that can be checked before creating. */
    struct lq_image_probe probe = { NULL, 0 };
    struct lq_volume_info *src = NULL;
    struct lq_storage_pool *src_pool = NULL;
    char *spec_str = NULL;
    char *image = NULL;         /* Canonical source.imagePath. */
    if (spec->source_image_path) {
        /* Only files the operator allowed: never /etc/shadow, a keyring
         * or a device node. */
        error = lq_allowed_file_resolve("source.imagePath",
                                        spec->source_image_path,
                                        s->image_dirs, s->n_image_dirs,
                                        &image);
        if (!error) {
            error = lq_image_probe("source.imagePath", image, &probe);
        }
        if (error) {
            free(image);
            return error;
        }
        uint64_t need = round_up_512(probe.virtual_size);
        if (!size) {
            size = need;
        } else if (size < need) {
            error = lq_error_new(LQ_INVALID_ARGUMENT, "sizeBytes: %"PRIu64
                                 " is smaller than the image's virtual size "
                                 "%"PRIu64, size, probe.virtual_size);
            goto out;
        }
        if (!size) {
            error = lq_error_new(LQ_INVALID_ARGUMENT, "source.imagePath: the "
                                 "image is empty");
            goto out;
        }
        spec_str = canonical_spec(name, spec->size_bytes, NULL, NULL, image);
    } else if (spec->source_url) {
        /* Size and format are known once downloaded (the job). */
        spec_str = canonical_url_spec(name, spec->size_bytes,
                                      spec->source_url, spec->source_sha256);
    } else if (spec->source_snapshot_id) {
        error = snapshot_locate(s, "source.snapshotId",
                                spec->source_volume_id,
                                spec->source_snapshot_id, &src_pool, &src);
        if (error) {
            goto out;
        }
        if (src_pool != pool) {
            error = lq_error_new(LQ_INVALID_ARGUMENT, "source.snapshotId: "
                                 "snapshot %s is in pool %s; a clone stays "
                                 "in its parent's pool, not %s",
                                 spec->source_snapshot_id, src_pool->id,
                                 pool->id);
            goto out;
        }
        uint64_t need = volume_snapshot(src, spec->source_snapshot_id)
                        ->size_bytes;
        if (!size) {
            size = need;
        } else if (size < need) {
            error = lq_error_new(LQ_INVALID_ARGUMENT, "sizeBytes: %"PRIu64
                                 " is smaller than the snapshot's size %"
                                 PRIu64, size, need);
            goto out;
        }
        spec_str = canonical_spec(name, spec->size_bytes, src->id,
                                  spec->source_snapshot_id, NULL);
    } else {
        spec_str = canonical_spec(name, size, NULL, NULL, NULL);
    }

    /* Idempotency: a job for this id on this node, or the volume itself. */
    ovs_mutex_lock(&s->mutex);
    struct storage_job *job = job_find_locked(s, spec->id);
    if (job && !job->finished) {
        error = job->pool != pool || strcmp(job->spec, spec_str)
            ? lq_error_new(LQ_ALREADY_EXISTS, "volume %s is being created "
                           "with a different spec", spec->id)
            : NULL;
        if (!error) {
            *infop = job_volume_info(job);
        }
        ovs_mutex_unlock(&s->mutex);
        goto out;
    } else if (job && job->kind != JOB_FLATTEN) {
        job_remove_locked(s, job);  /* Finished (or failed): start over. */
    }
    ovs_mutex_unlock(&s->mutex);

    /* The target pool must answer; other pools are only checked for the
     * same id as far as they can be reached, so that one cluster being down
     * does not stop creates on another. */
    struct lq_volume_info *existing;
    error = pool->driver->info(pool->impl, spec->id, &existing);
    if (error && error->code == LQ_NOT_FOUND) {
        struct lq_storage_pool *where;
        lq_error_free(error);
        error = volume_locate__(s, spec->id, pool, &where, &existing);
        if (error) {
            lq_error_free(error);
            error = lq_error_new(LQ_NOT_FOUND, "not found");
        }
    }
    if (!error) {
        error = compare_existing(existing, pool->id, spec_str);
        if (!error) {
            *infop = existing;
        } else {
            lq_volume_info_free(existing);
        }
        goto out;
    } else if (error->code != LQ_NOT_FOUND) {
        goto out;
    }
    lq_error_free(error);
    error = NULL;

    bool needs_job = spec->source_image_path || spec->source_url;
    if (spec->source_snapshot_id) {
        uint32_t depth = src->clone_depth + 1;
        needs_job = depth > pool->driver->max_clone_depth(pool->impl);
    }
    if (needs_job) {
        job = xzalloc(sizeof *job);
        job->pool = pool;
        job->kind = spec->source_image_path || spec->source_url
                    ? JOB_IMPORT : JOB_CLONE;
        job->volume_id = xstrdup(spec->id);
        job->name = xstrdup(name);
        job->spec = xstrdup(spec_str);
        job->size_bytes = size;
        if (spec->source_image_path) {
            job->image_path = xstrdup(image);
            job->probe = probe;
            memset(&probe, 0, sizeof probe);
        } else if (spec->source_url) {
            job->url = xstrdup(spec->source_url);
            job->sha256 = nullable_xstrdup(spec->source_sha256);
        } else {
            job->src_volume_id = xstrdup(src->id);
            job->src_snapshot_id = xstrdup(spec->source_snapshot_id);
        }
        ovs_mutex_lock(&s->mutex);
        if (shash_find(&s->jobs, spec->id)) {
            /* Lost a race with an identical request: report that one. */
            job_free(job);
            job = job_find_locked(s, spec->id);
            error = job->pool != pool || strcmp(job->spec, spec_str)
                ? lq_error_new(LQ_ALREADY_EXISTS, "volume %s is being "
                               "created with a different spec", spec->id)
                : NULL;
        } else {
            job_start_locked(s, job);
        }
        if (!error) {
            *infop = job_volume_info(job);
        }
        ovs_mutex_unlock(&s->mutex);
        goto out;
    }

    struct lq_volume_create_args a = {
        .id = spec->id, .name = name, .size_bytes = size, .spec = spec_str,
    };
    error = spec->source_snapshot_id
        ? pool->driver->clone(pool->impl, &a, src->id,
                              spec->source_snapshot_id, false, NULL)
        : pool->driver->create(pool->impl, &a);
    if (error && error->code == LQ_ALREADY_EXISTS) {
        /* A concurrent create of the same id won: same spec is fine. */
        struct lq_volume_info *v;
        struct lq_error *e2 = pool->driver->info(pool->impl, spec->id, &v);
        if (!e2) {
            lq_error_free(error);
            error = compare_existing(v, pool->id, spec_str);
            if (!error) {
                *infop = v;
            } else {
                lq_volume_info_free(v);
            }
        }
        lq_error_free(e2);
    } else if (!error) {
        VLOG_INFO("pool %s: created volume %s (%"PRIu64" bytes%s%s)",
                  pool->id, spec->id, size, src ? ", clone of " : "",
                  src ? src->id : "");
        error = pool->driver->info(pool->impl, spec->id, infop);
    }

out:
    if (src) {
        lq_volume_info_free(src);
    }
    lq_image_probe_clear(&probe);
    free(spec_str);
    free(image);
    if (infop == &dummy) {
        lq_volume_info_free(dummy);
    }
    return error;
}

struct lq_error *
lq_volume_get(struct lq_storage *s, const char *id,
              struct lq_volume_info **infop)
{
    *infop = NULL;
    struct lq_error *error = lq_storage_check_id("id", id);
    if (error) {
        return error;
    }

    /* A create in progress (or failed) on this node. */
    ovs_mutex_lock(&s->mutex);
    struct storage_job *job = job_find_locked(s, id);
    if (job && job->kind != JOB_FLATTEN && (!job->finished || job->error)) {
        *infop = job_volume_info(job);
        ovs_mutex_unlock(&s->mutex);
        return NULL;
    }
    ovs_mutex_unlock(&s->mutex);

    struct lq_storage_pool *pool;
    error = volume_locate(s, id, &pool, infop);
    if (!error) {
        overlay_job(s, *infop);
        hint_volume_snapshots(s, *infop);
    }
    return error;
}

/* True if 'list' has volume 'id' (a create that has just published). */
static bool
volume_list_has(const struct lq_volume_list *list, const char *id)
{
    for (size_t i = 0; i < list->n; i++) {
        if (!strcmp(list->volumes[i]->id, id)) {
            return true;
        }
    }
    return false;
}

struct lq_error *
lq_volume_list(struct lq_storage *s, const char *pool_id,
               struct lq_volume_list *list)
{
    memset(list, 0, sizeof *list);
    struct lq_storage_pool *only = NULL;
    if (pool_id && *pool_id) {
        only = pool_find(s, pool_id);
        if (!only) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "poolId: unknown pool "
                                "\"%s\"", pool_id);
        }
        struct lq_error *error = pool_usable(only);
        if (error) {
            return error;
        }
    }

    for (size_t i = 0; i < s->n_pools; i++) {
        struct lq_storage_pool *pool = &s->pools[i];
        if ((only && pool != only) || !pool->driver) {
            continue;
        }
        struct lq_error *error = pool->driver->list(pool->impl, list);
        if (error) {
            lq_volume_list_clear(list);
            return error;
        }
    }
    for (size_t i = 0; i < list->n; i++) {
        overlay_job(s, list->volumes[i]);
        hint_volume_snapshots(s, list->volumes[i]);
    }

    /* Creates in progress on this node. */
    ovs_mutex_lock(&s->mutex);
    struct shash_node *node;
    SHASH_FOR_EACH (node, &s->jobs) {
        struct storage_job *job = node->data;
        if (job->kind != JOB_FLATTEN && (!job->finished || job->error)
            && (!only || job->pool == only)
            && !volume_list_has(list, job->volume_id)) {
            lq_volume_list_add(list, job_volume_info(job));
        }
    }
    ovs_mutex_unlock(&s->mutex);
    return NULL;
}

static struct lq_error *volume_delete__(struct lq_storage *, const char *id,
                                        bool force);

struct lq_error *
lq_volume_delete(struct lq_storage *s, const char *id, bool force)
{
    struct lq_error *error = lq_storage_check_id("id", id);
    if (error) {
        return error;
    }
    id_lock(s, id);
    error = volume_delete__(s, id, force);
    id_unlock(s, id);
    return error;
}

static struct lq_error *
volume_delete__(struct lq_storage *s, const char *id, bool force)
{
    struct lq_error *error;

    /* A create running on this node: cancel it and wait (its temporary
     * image is removed by the job itself). */
    ovs_mutex_lock(&s->mutex);
    struct storage_job *job = job_find_locked(s, id);
    if (job && !job->finished) {
        atomic_store(&job->progress.cancel, true);
    }
    ovs_mutex_unlock(&s->mutex);
    if (job) {
        lq_error_free(lq_volume_wait(s, id, -1));
        ovs_mutex_lock(&s->mutex);
        job = job_find_locked(s, id);
        if (job) {
            job_remove_locked(s, job);
        }
        ovs_mutex_unlock(&s->mutex);
    }

    struct lq_storage_pool *pool;
    error = volume_locate(s, id, &pool, NULL);
    if (!error) {
        return pool->driver->remove(pool->impl, id, force);
    } else if (error->code != LQ_NOT_FOUND) {
        return error;               /* A pool that may hold it is down. */
    }
    lq_error_free(error);

    /* Not a volume anywhere: already deleted (success), but a failed or
     * crashed create may have left its temporary copy in any pool. */
    for (size_t i = 0; i < s->n_pools; i++) {
        pool = &s->pools[i];
        if (pool->driver) {
            error = pool->driver->remove(pool->impl, id, force);
            if (error && error->code != LQ_NOT_FOUND) {
                return error;
            }
            lq_error_free(error);
        }
    }
    return NULL;
}

struct lq_error *
lq_volume_resize(struct lq_storage *s, const char *id, uint64_t size,
                 bool allow_shrink, struct lq_volume_info **infop)
{
    if (infop) {
        *infop = NULL;
    }
    struct lq_error *error = lq_storage_check_id("id", id);
    if (!error) {
        error = lq_storage_check_size("sizeBytes", size, false);
    }
    if (error) {
        return error;
    }
    struct lq_storage_pool *pool;
    id_lock(s, id);
    error = volume_locate(s, id, &pool, NULL);
    if (!error) {
        error = pool->driver->resize(pool->impl, id, size, allow_shrink);
    }
    id_unlock(s, id);
    if (!error && infop) {
        error = lq_volume_get(s, id, infop);
    }
    return error;
}

struct lq_error *
lq_volume_flatten(struct lq_storage *s, const char *id,
                  struct lq_volume_info **infop)
{
    if (infop) {
        *infop = NULL;
    }
    struct lq_error *error = lq_storage_check_id("id", id);
    if (error) {
        return error;
    }
    struct lq_storage_pool *pool;
    struct lq_volume_info *v;
    error = volume_locate(s, id, &pool, &v);
    if (error) {
        return error;
    }

    ovs_mutex_lock(&s->mutex);
    struct storage_job *job = job_find_locked(s, id);
    if (job && job->finished) {
        job_remove_locked(s, job);
        job = NULL;
    }
    if (!job && v->parent_volume_id) {
        job = xzalloc(sizeof *job);
        job->pool = pool;
        job->kind = JOB_FLATTEN;
        job->volume_id = xstrdup(id);
        job->name = xstrdup(v->name);
        job->spec = xstrdup(v->create_spec ? v->create_spec : "");
        job->size_bytes = v->size_bytes;
        job_start_locked(s, job);
    }
    ovs_mutex_unlock(&s->mutex);

    if (infop) {
        overlay_job(s, v);
        *infop = v;
    } else {
        lq_volume_info_free(v);
    }
    return NULL;
}

/* ---- Snapshots ------------------------------------------------------------ */

struct lq_error *
lq_snapshot_create(struct lq_storage *s, const char *vid, const char *sid,
                   const char *name, struct lq_snapshot_info **infop)
{
    if (infop) {
        *infop = NULL;
    }
    struct lq_error *error = lq_storage_check_id("volumeId", vid);
    if (!error) {
        error = lq_storage_check_id("id", sid);
    }
    if (!error && name) {
        error = lq_storage_check_name("name", name);
    }
    if (error) {
        return error;
    }
    name = name ? name : sid;

    struct lq_storage_pool *pool;
    id_lock(s, vid);
    error = volume_locate(s, vid, &pool, NULL);
    if (!error) {
        error = pool->driver->snapshot_create(pool->impl, vid, sid, name);
    }
    id_unlock(s, vid);
    struct lq_volume_info *v = NULL;
    if (!error) {
        error = pool->driver->info(pool->impl, vid, &v);
    }
    if (!error) {
        hint_volume_snapshots(s, v);
        const struct lq_snapshot_info *snap = volume_snapshot(v, sid);
        if (!snap) {
            error = lq_error_new(LQ_INTERNAL, "snapshot %s of volume %s "
                                 "vanished after its creation", sid, vid);
        } else if (infop) {
            *infop = lq_snapshot_info_dup(snap);
        }
        lq_volume_info_free(v);
    }
    return error;
}

struct lq_error *
lq_snapshot_delete(struct lq_storage *s, const char *vid, const char *sid,
                   bool force)
{
    struct lq_error *error = vid ? lq_storage_check_id("volumeId", vid)
                                 : NULL;
    if (!error) {
        error = lq_storage_check_id("id", sid);
    }
    if (error) {
        return error;
    }
    struct lq_storage_pool *pool;
    struct lq_volume_info *v;
    error = snapshot_locate(s, "id", vid, sid, &pool, &v);
    if (error && error->code == LQ_NOT_FOUND) {
        lq_error_free(error);       /* Already gone: success. */
        forget_snapshot(s, sid);
        return NULL;
    } else if (error) {
        return error;
    }
    id_lock(s, v->id);
    error = pool->driver->snapshot_delete(pool->impl, v->id, sid, force);
    id_unlock(s, v->id);
    if (!error) {
        forget_snapshot(s, sid);
    }
    lq_volume_info_free(v);
    return error;
}

struct lq_error *
lq_snapshot_list(struct lq_storage *s, const char *vid,
                 struct lq_snapshot_info **snapsp, size_t *np)
{
    *snapsp = NULL;
    *np = 0;
    struct lq_volume_info *v;
    struct lq_error *error = lq_storage_check_id("volumeId", vid);
    if (!error) {
        error = lq_volume_get(s, vid, &v);
    }
    if (error) {
        return error;
    }
    *snapsp = v->snapshots;
    *np = v->n_snapshots;
    v->snapshots = NULL;
    v->n_snapshots = 0;
    lq_volume_info_free(v);
    return NULL;
}

struct lq_error *
lq_snapshot_rollback(struct lq_storage *s, const char *vid, const char *sid)
{
    struct lq_error *error = lq_storage_check_id("volumeId", vid);
    if (!error) {
        error = lq_storage_check_id("id", sid);
    }
    if (error) {
        return error;
    }
    struct lq_storage_pool *pool;
    id_lock(s, vid);
    error = volume_locate(s, vid, &pool, NULL);
    if (!error) {
        error = pool->driver->snapshot_rollback(pool->impl, vid, sid);
    }
    id_unlock(s, vid);
    return error;
}

/* ---- Attach ---------------------------------------------------------------- */

struct lq_error *
lq_volume_disk_source(struct lq_storage *s, const char *id,
                      struct lq_disk_source **sourcep)
{
    *sourcep = NULL;
    struct lq_error *error = lq_storage_check_id("id", id);
    if (error) {
        return error;
    }
    struct lq_storage_pool *pool;
    error = volume_locate(s, id, &pool, NULL);
    if (!error) {
        error = pool->driver->disk_source(pool->impl, id, sourcep);
    }
    return error;
}

struct lq_error *
lq_volume_disk_secret(struct lq_storage *s, const char *id, char **secretp)
{
    *secretp = NULL;
    struct lq_error *error = lq_storage_check_id("id", id);
    if (error) {
        return error;
    }
    struct lq_storage_pool *pool;
    error = volume_locate(s, id, &pool, NULL);
    if (!error && pool->driver->disk_secret) {
        error = pool->driver->disk_secret(pool->impl, id, secretp);
    }
    return error;
}
