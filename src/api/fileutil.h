/* fileutil.h: reading small whole files (configs, PEM files, procfs), and
 * the one check that a caller-named host file is one the operator allowed. */
#ifndef LQ_FILEUTIL_H
#define LQ_FILEUTIL_H 1

#include <stddef.h>
#include "limiquantix/error.h"

/* Reads all of 'path' into a new NUL-terminated string ('*lenp', if
 * nonnull, gets its length).  Returns 0 or an errno value; on error
 * '*textp' is NULL. */
int lq_read_file(const char *path, char **textp, size_t *lenp);

/* The pid in pidfile 'path' (as OVS daemons write it); 0 if the file is
 * missing or holds no pid above 1. */
long lq_read_pidfile(const char *path);

/* The API never names arbitrary host files: a kernel, initrd, ISO, disk
 * image or import source a caller names must be a regular file inside one
 * of 'dirs' (node.yaml's hypervisor.image_dirs, absolute paths).  The path
 * is resolved with every symlink followed (realpath) and must still lie
 * inside one of the (equally resolved) directories, so a symlink placed in
 * an image directory cannot lead out of it; device nodes, directories,
 * FIFOs and sockets are refused.  On success '*resolvedp' is the canonical
 * path (caller frees), which is what the node then uses.  On failure the
 * error is invalid_argument and names 'field'. */
struct lq_error *lq_allowed_file_resolve(const char *field, const char *path,
                                         char *const *dirs, size_t n_dirs,
                                         char **resolvedp);

#endif
