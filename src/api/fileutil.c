/* fileutil.c: the one whole-file reader and the allowed-file check (see
 * fileutil.h). */
#include <config.h>
#include "fileutil.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "openvswitch/dynamic-string.h"

int
lq_read_file(const char *path, char **textp, size_t *lenp)
{
    *textp = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        return errno;
    }

    struct ds s = DS_EMPTY_INITIALIZER;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        ds_put_buffer(&s, buf, n);
    }
    int error = ferror(f) ? EIO : 0;
    fclose(f);
    if (error) {
        ds_destroy(&s);
        return error;
    }
    if (lenp) {
        *lenp = s.length;
    }
    *textp = ds_steal_cstr(&s);
    return 0;
}

long
lq_read_pidfile(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1) {
            pid = 0;
        }
        fclose(f);
    }
    return pid > 1 ? pid : 0;
}

/* True if canonical 'path' is strictly below directory 'dir' (itself
 * resolved here, so an image directory given through a symlink works). */
static bool
path_is_below(const char *path, const char *dir)
{
    char *real_dir = realpath(dir, NULL);
    if (!real_dir) {
        return false;
    }
    size_t n = strlen(real_dir);
    while (n > 1 && real_dir[n - 1] == '/') {
        n--;
    }
    bool below = (n == 1 && real_dir[0] == '/')
                 ? path[0] == '/' && path[1]
                 : !strncmp(path, real_dir, n) && path[n] == '/' && path[n + 1];
    free(real_dir);
    return below;
}

static bool
has_control_chars(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char) *s < 0x20 || *s == 0x7f) {
            return true;
        }
    }
    return false;
}

struct lq_error *
lq_allowed_file_resolve(const char *field, const char *path,
                        char *const *dirs, size_t n_dirs, char **resolvedp)
{
    *resolvedp = NULL;
    if (!path || !*path) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: required", field);
    }
    if (path[0] != '/') {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not an "
                            "absolute path", field, path);
    }
    if (strlen(path) >= PATH_MAX || has_control_chars(path)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: too long or contains "
                            "control characters", field);
    }
    if (!n_dirs) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\": this node "
                            "allows no local image files (node.yaml "
                            "hypervisor.image_dirs is empty)", field, path);
    }
    char *real = realpath(path, NULL);
    if (!real) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\": %s", field,
                            path, strerror(errno));
    }
    bool allowed = false;
    for (size_t i = 0; i < n_dirs && !allowed; i++) {
        allowed = path_is_below(real, dirs[i]);
    }
    struct stat st;
    struct lq_error *error = NULL;
    if (!allowed) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not inside "
                             "one of the node's image directories (node.yaml "
                             "hypervisor.image_dirs)", field, path);
    } else if (stat(real, &st)) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\": %s", field,
                             path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not a "
                             "regular file", field, path);
    }
    if (error) {
        free(real);
        return error;
    }
    *resolvedp = real;
    return NULL;
}
