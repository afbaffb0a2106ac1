#include <config.h>
/* files.c: the host files a VM uses, and where they may come from.
 *
 * Design decisions (issue 13, host escape):
 * - The API names things the node manages, never arbitrary host files.  A
 *   kernel, initrd, CD-ROM ISO or path disk must be a regular file inside
 *   one of node.yaml's hypervisor.image_dirs (lq_allowed_file_resolve():
 *   symlinks resolved, no device nodes); the spec then carries the
 *   canonical path, so what was checked is what QEMU opens.
 * - The cloud-init seed is the node's file too:
 *   <state_dir>/<vm id>.cidata.iso (0600, cidata.c), written when the VM
 *   is defined and removed with it.
 * - The serial log is the node's own file: <state_dir>/<vm id>.serial.log
 *   (the directory 0700, the file 0600, made when the VM is defined and
 *   removed with it).  The caller only asks for one (serialLog: true).
 *   No per-VM directory: a migration target with the same state_dir (the
 *   default on every node) can open the log without preparing anything. */
#include "compute_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileutil.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_files);

void
lq_compute_configure(struct lq_compute *c, const struct lq_config *config)
{
    const typeof(config->hypervisor) *h = &config->hypervisor;
    compute_files_clear(c);
    c->image_dirs = xcalloc(h->n_image_dirs + 1, sizeof *c->image_dirs);
    for (size_t i = 0; i < h->n_image_dirs; i++) {
        c->image_dirs[i] = xstrdup(h->image_dirs[i]);
    }
    c->n_image_dirs = h->n_image_dirs;
    c->state_dir = xstrdup(h->state_dir);
    c->migration_scheme = xstrdup(h->migration.scheme);
    c->migration_tls = h->migration.tls;
    for (size_t i = 0; i < h->migration.peers.n; i++) {
        const struct lq_kv *kv = &h->migration.peers.items[i];
        smap_add(&c->migration_peers, kv->key, kv->value);
    }
    for (size_t i = 0; i < h->n_bridges; i++) {
        sset_add(&c->bridges, h->bridges[i]);
    }
    c->default_pool = nullable_xstrdup(config->storage.default_pool);
    compute_platform_clear(c);
    c->virt_type = xstrdup(h->virt_type);
    c->machine = nullable_xstrdup(h->machine);
    c->cpu_mode = nullable_xstrdup(h->cpu_mode);
    c->cpu_model = nullable_xstrdup(h->cpu_model);
    c->kvm_usable = -1;
    ovs_mutex_lock(&c->console_mutex);
    c->console_token_seconds = h->console_token_seconds;
    ovs_mutex_unlock(&c->console_mutex);
}

void
compute_files_clear(struct lq_compute *c)
{
    for (size_t i = 0; i < c->n_image_dirs; i++) {
        free(c->image_dirs[i]);
    }
    free(c->image_dirs);
    c->image_dirs = NULL;
    c->n_image_dirs = 0;
    free(c->state_dir);
    c->state_dir = NULL;
    free(c->migration_scheme);
    c->migration_scheme = NULL;
    smap_clear(&c->migration_peers);
    sset_clear(&c->bridges);
    free(c->default_pool);
    c->default_pool = NULL;
}

/* Replaces '*pathp' with its canonical form if it is an allowed file. */
static struct lq_error *
resolve_one(const struct lq_compute *c, const char *field, char **pathp)
{
    char *resolved;
    struct lq_error *e = lq_allowed_file_resolve(field, *pathp, c->image_dirs,
                                                 c->n_image_dirs, &resolved);
    if (!e) {
        free(*pathp);
        *pathp = resolved;
    }
    return e;
}

struct lq_error *
compute_resolve_disk_path(const struct lq_compute *c, struct lq_disk_spec *d,
                          const char *field)
{
    if (!d->path) {
        return NULL;
    }
    char *f = xasprintf("%s.path", field);
    struct lq_error *e = resolve_one(c, f, &d->path);
    free(f);
    return e;
}

char *
compute_serial_log_path(const struct lq_compute *c, const char *id)
{
    return c->state_dir ? xasprintf("%s/%s.serial.log", c->state_dir, id)
                        : NULL;
}

char *
compute_cidata_path(const struct lq_compute *c, const char *id)
{
    return c->state_dir ? xasprintf("%s/%s.cidata.iso", c->state_dir, id)
                        : NULL;
}

struct lq_error *
compute_resolve_files(const struct lq_compute *c, struct lq_vm_spec *s)
{
    struct lq_error *e = NULL;
    if (s->kernel_path) {
        e = resolve_one(c, "spec.kernelPath", &s->kernel_path);
    }
    if (!e && s->initrd_path) {
        e = resolve_one(c, "spec.initrdPath", &s->initrd_path);
    }
    for (size_t i = 0; !e && i < s->n_cdroms; i++) {
        if (s->cdroms[i].path) {
            char *f = xasprintf("spec.cdroms[%zu].isoPath", i);
            e = resolve_one(c, f, &s->cdroms[i].path);
            free(f);
        }
    }
    for (size_t i = 0; !e && i < s->n_disks; i++) {
        char *f = xasprintf("spec.disks[%zu]", i);
        e = compute_resolve_disk_path(c, &s->disks[i], f);
        free(f);
    }
    free(s->serial_log_path);
    s->serial_log_path = NULL;
    if (!e && s->serial_log) {
        if (!c->state_dir) {
            return lq_error_new(LQ_FAILED_PRECONDITION, "spec.serialLog: this "
                                "node has no hypervisor.state_dir");
        }
        s->serial_log_path = compute_serial_log_path(c, s->id);
    }
    free(s->cidata_path);
    s->cidata_path = NULL;
    if (!e && s->cloud_init) {
        if (!c->state_dir) {
            return lq_error_new(LQ_FAILED_PRECONDITION, "spec.cloudInit: this "
                                "node has no hypervisor.state_dir");
        }
        s->cidata_path = compute_cidata_path(c, s->id);
    }
    return e;
}

/* The state directory, made 0700 if missing; an existing one must be a
 * directory (not a symlink to one). */
static int
make_state_dir(const char *path)
{
    struct stat st;
    if (!mkdir(path, 0700)) {
        return 0;
    }
    if (errno != EEXIST) {
        return errno;
    }
    return lstat(path, &st) ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

/* The cloud-init seed ISO of 's'. */
static struct lq_error *
make_cidata(const struct lq_vm_spec *s)
{
    struct lq_cidata_files files;
    lq_cidata_files_build(s, &files);
    struct lq_error *e = lq_cidata_write_iso(&files, s->cidata_path);
    lq_cidata_files_clear(&files);
    return e;
}

struct lq_error *
compute_make_vm_files(const struct lq_compute *c, const struct lq_vm_spec *s)
{
    if (!s->serial_log_path && !s->cidata_path) {
        return NULL;
    }
    int err = make_state_dir(c->state_dir);
    if (!err && s->cidata_path) {
        struct lq_error *e = make_cidata(s);
        if (e) {
            return e;
        }
    }
    /* The log exists from the start (empty, 0600, never through a
     * symlink): its presence says the VM has one, and QEMU appends. */
    if (!err && s->serial_log_path) {
        int fd = open(s->serial_log_path, O_WRONLY | O_CREAT | O_NOFOLLOW
                      | O_CLOEXEC, 0600);
        if (fd < 0) {
            err = errno;
        } else {
            close(fd);
        }
    }
    if (err && s->cidata_path) {
        unlink(s->cidata_path);
    }
    return err ? lq_error_new(LQ_INTERNAL, "cannot create the files of VM "
                              "%s in %s: %s", s->id, c->state_dir,
                              strerror(err))
               : NULL;
}

void
compute_remove_vm_files(const struct lq_compute *c, const char *id)
{
    char *files[] = { compute_serial_log_path(c, id),
                      compute_cidata_path(c, id) };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        if (files[i] && unlink(files[i]) && errno != ENOENT) {
            VLOG_WARN("cannot remove %s: %s", files[i], strerror(errno));
        }
        free(files[i]);
    }
}

char *
compute_existing_serial_log(const struct lq_compute *c, const char *id)
{
    char *log = compute_serial_log_path(c, id);
    struct stat st;
    if (log && (lstat(log, &st) || !S_ISREG(st.st_mode))) {
        free(log);
        log = NULL;
    }
    return log;
}
