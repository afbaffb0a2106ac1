/* lvm.h: pieces of the lvm-thin driver that are pure logic, exposed for
 * unit tests. */
#ifndef LQ_STORAGE_LVM_H
#define LQ_STORAGE_LVM_H 1

#include <stddef.h>
#include "limiquantix/error.h"

struct sset;

/* A VG or LV name: 1..127 of [A-Za-z0-9+_.-], not starting with '-', not
 * "." or "..". */
struct lq_error *lq_lvm_check_name(const char *field, const char *name);

/* Strings that LV tags cannot hold (names, create specs) are stored hex-
 * encoded in numbered tags "lq.<key><NN>=<hex>" of at most 1000 bytes
 * each.  lq_lvm_tags_put() appends them to 'tags' (an array of "--addtag",
 * value pairs is built by the caller); lq_lvm_tags_get() reassembles the
 * value of 'key' from a comma-separated lv_tags report (NULL if absent or
 * malformed).  Both are exposed for tests. */
void lq_lvm_tags_put(const char *key, const char *value, struct sset *tags);
char *lq_lvm_tags_get(const char *lv_tags, const char *key);

/* The value of a plain tag "<key>=<value>" in 'lv_tags', or NULL. */
char *lq_lvm_tag_value(const char *lv_tags, const char *key);

#endif
