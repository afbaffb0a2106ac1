/* fileutil.h: reading small whole files (configs, PEM files, procfs). */
#ifndef LQ_FILEUTIL_H
#define LQ_FILEUTIL_H 1

#include <stddef.h>

/* Reads all of 'path' into a new NUL-terminated string ('*lenp', if
 * nonnull, gets its length).  Returns 0 or an errno value; on error
 * '*textp' is NULL. */
int lq_read_file(const char *path, char **textp, size_t *lenp);

/* The pid in pidfile 'path' (as OVS daemons write it); 0 if the file is
 * missing or holds no pid above 1. */
long lq_read_pidfile(const char *path);

#endif
