/* node-private.h: pieces of the node C API shared between its own files. */
#ifndef LQ_NODE_PRIVATE_H
#define LQ_NODE_PRIVATE_H 1

#include "limiquantix/node.h"

/* node_info.c: fills cpu, memory, filesystems, disks and NICs of 'info';
 * the management IP is 'management_ip' or detected when NULL. */
struct lq_error *lq_node_info_gather(struct lq_node_info *info,
                                     const char *management_ip);
/* The address of the default-route link (see node_info.c).  Caller frees. */
char *lq_node_detect_management_ip(void);

#endif
