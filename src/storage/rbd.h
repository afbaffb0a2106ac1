/* rbd.h: pieces of the RBD driver exposed for unit tests. */
#ifndef LQ_STORAGE_RBD_H
#define LQ_STORAGE_RBD_H 1

#include <stddef.h>
#include "limiquantix/storage.h"

/* Parses a Ceph mon_host value ("v2:10.0.0.1:3300,[v2:h:3300,v1:h:6789]",
 * "10.0.0.1 10.0.0.2:6789", "[::1]:3300") into libvirt <host> entries,
 * one per monitor address, in order. */
void lq_rbd_parse_mon_host(const char *mon_host, struct lq_disk_host **hostsp,
                           size_t *n_hostsp);

/* The RBD image (and snapshot) name for one of our ids: "lq-<id>"; and
 * the temporary name a volume is built under: "lq-tmp~<id>" ('~' is never
 * in an id, so the two can never collide). */
char *lq_rbd_image_name(const char *id);
char *lq_rbd_tmp_name(const char *id);

/* The volume id in an image name, or NULL if the image is not one of our
 * (published) volumes. */
const char *lq_rbd_volume_id(const char *image_name);

#endif
