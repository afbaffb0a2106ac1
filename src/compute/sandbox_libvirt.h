/* sandbox_libvirt.h: a private libvirtd for --sandbox.
 *
 * Runs the project's tests/libvirt/libvirtd-sandbox script (a monolithic
 * libvirtd in a private mount namespace, state under DIR/libvirt) and
 * hands back its connection URI for lq_compute_create().  The script is
 * found at $LQ_LIBVIRTD_SANDBOX or the path compiled in from the source
 * tree.  Needs root, libvirt-daemon, libvirt-daemon-driver-qemu and
 * qemu-system-x86. */
#ifndef LQ_SANDBOX_LIBVIRT_H
#define LQ_SANDBOX_LIBVIRT_H 1

#include "limiquantix/error.h"

struct lq_sandbox_libvirt;

/* Stops a previous run's libvirtd under the same directory first.
 * 'ovs_rundir' (may be NULL) is the OVS_RUNDIR libvirtd gets, so the
 * virtualports of VM NICs go to the sandbox's Open vSwitch. */
struct lq_error *lq_sandbox_libvirt_start(const char *sandbox_dir,
                                          const char *ovs_rundir,
                                          struct lq_sandbox_libvirt **);
/* "qemu:///system?socket=DIR/libvirt/sock/libvirt-sock". */
const char *lq_sandbox_libvirt_uri(const struct lq_sandbox_libvirt *);
/* Kills its guests and libvirtd (by pid); NULL is a no-op. */
void lq_sandbox_libvirt_stop(struct lq_sandbox_libvirt *);

#endif
