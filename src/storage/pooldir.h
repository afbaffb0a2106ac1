/* pooldir.h: files of a storage pool in one directory, reached safely.
 *
 * Used by the drivers whose volumes are files in a directory (local, and
 * the files an iscsi export serves).  The directory is opened once per
 * call; every file is one entry name, checked by lq_pooldir_name_ok(), and
 * reached relative to that descriptor with O_NOFOLLOW /
 * AT_SYMLINK_NOFOLLOW: a symbolic link, a directory or a hard-linked file
 * under one of our names is refused, never followed.  Programs (qemu-img,
 * tgtd) get the same entries as "/proc/<our pid>/fd/<dirfd>/<entry>", so
 * they too resolve them inside the directory that was checked. */
#ifndef LQ_STORAGE_POOLDIR_H
#define LQ_STORAGE_POOLDIR_H 1

#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>
#include "limiquantix/error.h"

struct json;

struct lq_pooldir {
    int fd;
    char proc[64];              /* "/proc/<pid>/fd/<fd>" */
    const char *pool_id;        /* For messages (borrowed). */
    const char *path;           /* The configured path (borrowed). */
};

/* True if 'name' is one plain directory entry: not empty, not "." or
 * "..", no '/', no control characters, at most 255 bytes. */
bool lq_pooldir_name_ok(const char *name);

/* LQ_UNAVAILABLE if the directory cannot be opened. */
struct lq_error *lq_pooldir_open(struct lq_pooldir *, const char *pool_id,
                                 const char *path);
void lq_pooldir_close(struct lq_pooldir *);

/* What another program is given for entry 'name' (caller frees). */
char *lq_pooldir_path(const struct lq_pooldir *, const char *name);
/* Replaces the /proc alias in an error's message by the real path. */
struct lq_error *lq_pooldir_fix_paths(const struct lq_pooldir *,
                                      struct lq_error *);

/* Is entry 'name' there?  An error (LQ_FAILED_PRECONDITION) if it is but
 * is not a plain regular file. */
struct lq_error *lq_pooldir_check(const struct lq_pooldir *, const char *name,
                                  bool *existsp, struct stat *);
/* Succeeds if absent. */
struct lq_error *lq_pooldir_unlink(const struct lq_pooldir *,
                                   const char *name);
/* 'noreplace': LQ_ALREADY_EXISTS if 'to' exists (where the file system can
 * tell). */
struct lq_error *lq_pooldir_rename(const struct lq_pooldir *,
                                   const char *from, const char *to,
                                   bool noreplace);
/* Creates 'name' empty; it must not exist. */
struct lq_error *lq_pooldir_create(const struct lq_pooldir *,
                                   const char *name, int mode);
/* A stream over the directory from its start; NULL on error. */
DIR *lq_pooldir_opendir(const struct lq_pooldir *);
/* True if a process holds QEMU's image locks (OFD locks on bytes
 * 100..299) on 'name'. */
bool lq_pooldir_locked(const struct lq_pooldir *, const char *name);

/* Small JSON files (metadata): read 'name' (LQ_NOT_FOUND if absent;
 * at most 1 MiB; must be an object); write 'tmp' with fsync and, if
 * 'final' is nonnull, rename it over 'final'. */
struct lq_error *lq_pooldir_read_json(const struct lq_pooldir *,
                                      const char *name, struct json **);
struct lq_error *lq_pooldir_write_json(const struct lq_pooldir *,
                                       const char *tmp, const char *final,
                                       const struct json *);

#endif
