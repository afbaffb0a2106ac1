/* pooldir.c: a pool's files in one directory, reached safely (see
 * pooldir.h).  Everything goes through one directory descriptor and
 * O_NOFOLLOW-style calls; names are checked before any system call sees
 * them. */
#include <config.h>
#include "pooldir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "util.h"

#define JSON_MAX (1 << 20)

bool
lq_pooldir_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (!len || len > 255 || !strcmp(name, ".") || !strcmp(name, "..")) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (*p == '/' || (unsigned char) *p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

struct lq_error *
lq_pooldir_open(struct lq_pooldir *d, const char *pool_id, const char *path)
{
    d->pool_id = pool_id;
    d->path = path;
    d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->fd < 0) {
        return lq_error_new(LQ_UNAVAILABLE, "pool %s: directory %s: %s",
                            pool_id, path, ovs_strerror(errno));
    }
    snprintf(d->proc, sizeof d->proc, "/proc/%ld/fd/%d", (long) getpid(),
             d->fd);
    return NULL;
}

void
lq_pooldir_close(struct lq_pooldir *d)
{
    if (d->fd >= 0) {
        close(d->fd);
        d->fd = -1;
    }
}

char *
lq_pooldir_path(const struct lq_pooldir *d, const char *name)
{
    ovs_assert(lq_pooldir_name_ok(name));
    return xasprintf("%s/%s", d->proc, name);
}

struct lq_error *
lq_pooldir_fix_paths(const struct lq_pooldir *d, struct lq_error *e)
{
    if (!e) {
        return NULL;
    }
    struct ds s = DS_EMPTY_INITIALIZER;
    const char *m = e->message;
    size_t plen = strlen(d->proc);
    const char *hit;
    while ((hit = strstr(m, d->proc)) != NULL) {
        ds_put_buffer(&s, m, hit - m);
        ds_put_cstr(&s, d->path);
        m = hit + plen;
    }
    ds_put_cstr(&s, m);
    free(e->message);
    e->message = ds_steal_cstr(&s);
    return e;
}

struct lq_error *
lq_pooldir_check(const struct lq_pooldir *d, const char *name, bool *existsp,
                 struct stat *stp)
{
    struct stat st;
    *existsp = false;
    ovs_assert(lq_pooldir_name_ok(name));
    if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW)) {
        if (errno == ENOENT) {
            return NULL;
        }
        return lq_error_new(LQ_UNAVAILABLE, "pool %s: %s/%s: %s", d->pool_id,
                            d->path, name, ovs_strerror(errno));
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: %s/%s is %s, "
                            "not a plain file; refusing to use it",
                            d->pool_id, d->path, name,
                            S_ISLNK(st.st_mode) ? "a symbolic link"
                            : S_ISREG(st.st_mode) ? "hard-linked"
                            : "not a regular file");
    }
    *existsp = true;
    if (stp) {
        *stp = st;
    }
    return NULL;
}

struct lq_error *
lq_pooldir_unlink(const struct lq_pooldir *d, const char *name)
{
    ovs_assert(lq_pooldir_name_ok(name));
    if (unlinkat(d->fd, name, 0) && errno != ENOENT) {
        return lq_error_new(LQ_INTERNAL, "pool %s: removing %s/%s: %s",
                            d->pool_id, d->path, name, ovs_strerror(errno));
    }
    return NULL;
}

struct lq_error *
lq_pooldir_rename(const struct lq_pooldir *d, const char *from,
                  const char *to, bool noreplace)
{
    ovs_assert(lq_pooldir_name_ok(from) && lq_pooldir_name_ok(to));
    int r = noreplace ? renameat2(d->fd, from, d->fd, to, RENAME_NOREPLACE)
                      : renameat(d->fd, from, d->fd, to);
    if (r && noreplace && errno == EINVAL) {
        r = renameat(d->fd, from, d->fd, to);   /* No RENAME_NOREPLACE. */
    }
    if (r) {
        return lq_error_new(errno == EEXIST ? LQ_ALREADY_EXISTS : LQ_INTERNAL,
                            "pool %s: renaming %s to %s: %s", d->pool_id,
                            from, to, ovs_strerror(errno));
    }
    return NULL;
}

struct lq_error *
lq_pooldir_create(const struct lq_pooldir *d, const char *name, int mode)
{
    ovs_assert(lq_pooldir_name_ok(name));
    int fd = openat(d->fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                    | O_CLOEXEC, mode);
    if (fd < 0) {
        return lq_error_new(LQ_INTERNAL, "pool %s: creating %s/%s: %s",
                            d->pool_id, d->path, name, ovs_strerror(errno));
    }
    close(fd);
    return NULL;
}

DIR *
lq_pooldir_opendir(const struct lq_pooldir *d)
{
    /* A dup shares the file offset, which an earlier stream may have
     * moved: rewind. */
    int fd = dup(d->fd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (dir) {
        rewinddir(dir);
    } else if (fd >= 0) {
        close(fd);
    }
    return dir;
}

bool
lq_pooldir_locked(const struct lq_pooldir *d, const char *name)
{
    int fd = openat(d->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    struct flock fl = {
        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 200,
    };
    bool busy = !fcntl(fd, F_OFD_GETLK, &fl) && fl.l_type != F_UNLCK;
    close(fd);
    return busy;
}

struct lq_error *
lq_pooldir_read_json(const struct lq_pooldir *d, const char *name,
                     struct json **jp)
{
    *jp = NULL;
    ovs_assert(lq_pooldir_name_ok(name));
    int fd = openat(d->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT
            ? lq_error_new(LQ_NOT_FOUND, "pool %s: %s/%s does not exist",
                           d->pool_id, d->path, name)
            : lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: %s/%s: %s",
                           d->pool_id, d->path, name, ovs_strerror(errno));
    }
    struct lq_error *e = NULL;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > JSON_MAX) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: %s/%s is not a "
                         "metadata file", d->pool_id, d->path, name);
    } else {
        char *buf = xmalloc(st.st_size + 1);
        ssize_t n = read(fd, buf, st.st_size);
        buf[n > 0 ? n : 0] = '\0';
        struct json *j = json_from_string(buf);
        free(buf);
        if (j->type != JSON_OBJECT) {
            json_destroy(j);
            e = lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: %s/%s is not "
                             "a JSON object", d->pool_id, d->path, name);
        } else {
            *jp = j;
        }
    }
    close(fd);
    return e;
}

struct lq_error *
lq_pooldir_write_json(const struct lq_pooldir *d, const char *tmp,
                      const char *final, const struct json *j)
{
    ovs_assert(lq_pooldir_name_ok(tmp));
    char *text = json_to_string(j, JSSF_SORT);
    struct lq_error *e = NULL;
    int fd = openat(d->fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW
                    | O_CLOEXEC, 0600);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t) len || fsync(fd)) {
        e = lq_error_new(LQ_INTERNAL, "pool %s: writing %s/%s: %s",
                         d->pool_id, d->path, tmp, ovs_strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
    if (!e && final) {
        e = lq_pooldir_rename(d, tmp, final, false);
    }
    free(text);
    return e;
}
