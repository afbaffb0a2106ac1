/* fileutil.c: the one whole-file reader (see fileutil.h). */
#include <config.h>
#include "fileutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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
