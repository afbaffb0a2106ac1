/* local.h: pieces of the local (qcow2 files in a directory) driver that
 * are pure logic, exposed for unit tests. */
#ifndef LQ_STORAGE_LOCAL_H
#define LQ_STORAGE_LOCAL_H 1

#include <stdbool.h>
#include "pooldir.h"
#include "limiquantix/error.h"

/* The pool directory from node.yaml ('field' names it in errors): an
 * absolute path with no "." or ".." components, no empty components
 * ("//") and no control characters. */
struct lq_error *lq_local_check_pool_path(const char *field,
                                          const char *path);

/* The directory of a local pool (its driver instance), for an iscsi
 * export that keeps its LUN files there. */
const char *lq_local_pool_path(const void *impl);

/* File names (caller frees): volume "lq-<id>.qcow2" with its metadata
 * "lq-<id>.meta", both built as "lq-tmp~<id>.qcow2"/".meta" first; a
 * snapshot's read-only clone base "lq-base~<vid>~<sid>.qcow2".  '~' is
 * never in an id, so no two kinds can collide. */
char *lq_local_volume_file(const char *id);
char *lq_local_meta_file(const char *id);
char *lq_local_tmp_file(const char *id, const char *ext);
char *lq_local_base_file(const char *vid, const char *sid);

/* The volume id in a directory entry name, or NULL if the entry is not a
 * published volume image ("lq-<valid id>.qcow2").  Caller frees. */
char *lq_local_volume_id(const char *file_name);

/* True if 'backing' (a qcow2 header's backing file name) is exactly the
 * base of snapshot 'sid' of volume 'vid' in the same directory: anything
 * else (a path, "..", another file) means the image was not made by us
 * and must not be followed. */
bool lq_local_backing_ok(const char *backing, const char *vid,
                         const char *sid);

#endif
