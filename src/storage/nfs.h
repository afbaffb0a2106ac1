/* nfs.h: pieces of the NFS driver that are pure logic, exposed for unit
 * tests. */
#ifndef LQ_STORAGE_NFS_H
#define LQ_STORAGE_NFS_H 1

#include "limiquantix/error.h"

/* A host name or IPv4 address ('field' names it in errors). */
struct lq_error *lq_nfs_check_server(const char *field, const char *server);
/* The export path: absolute, no "."/".."/empty components, nothing that
 * would change the meaning of an nfs:// URL. */
struct lq_error *lq_nfs_check_export(const char *field, const char *export);
/* "nfs://server/export?version=V[&nfsport=P]" (caller frees). */
char *lq_nfs_url(const char *server, const char *export, int version,
                 int port);
/* The volume id in "lq-<id>.raw", or NULL (caller frees). */
char *lq_nfs_volume_id(const char *file_name);

#endif
