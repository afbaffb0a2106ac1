/* sandbox_ceph.h: a throw-away single-node Ceph for --sandbox-ceph.
 *
 * Runs the project's tests/ceph-vstart script (mon + memstore OSD + mgr on
 * 127.0.0.1, cephx on, an "rbd" pool) under DIR/ceph and adds an rbd pool
 * "sandbox-ceph" to the configuration, so the demo and a new user get real
 * volumes with one flag.  The script is found at $LQ_CEPH_VSTART or the
 * path compiled in from the source tree. */
#ifndef LQ_SANDBOX_CEPH_H
#define LQ_SANDBOX_CEPH_H 1

#include "limiquantix/config.h"
#include "limiquantix/error.h"

struct lq_sandbox_ceph;

struct lq_error *lq_sandbox_ceph_start(const char *sandbox_dir,
                                       struct lq_config *,
                                       struct lq_sandbox_ceph **);
void lq_sandbox_ceph_stop(struct lq_sandbox_ceph *);

#endif
