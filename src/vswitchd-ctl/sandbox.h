/* sandbox.h: the embedded default — a private OVS and OVN under one
 * directory, for `limiquantix-node --sandbox DIR`.
 *
 * Three ovsdb-servers (Open_vSwitch, OVN NB, OVN SB), ovs-vswitchd with the
 * userspace datapath, ovn-northd and ovn-controller, all with their
 * databases, sockets, pidfiles and logs under DIR/ovs and DIR/ovn (absolute
 * paths, never /var/run).  The databases persist between runs with the same
 * DIR, so a restarted daemon finds (and reconciles) its previous state. */
#ifndef LQ_SANDBOX_H
#define LQ_SANDBOX_H 1

#include "limiquantix/error.h"

struct lq_sandbox {
    char *dir;
    char *ovs_dir;
    char *ovn_dir;
    char *ovs_remote;       /* unix:DIR/ovs/db.sock */
    char *nb_remote;        /* unix:DIR/ovn/nb.sock */
    char *sb_remote;        /* unix:DIR/ovn/sb.sock */
    char *vswitchd;         /* The ovs-vswitchd binary. */
};

/* 'vswitchd': the ovs-vswitchd binary (NULL: "ovs-vswitchd" from PATH;
 * LQ_OVS_VSWITCHD_DPDK for the DPDK fast path). */
struct lq_error *lq_sandbox_start(const char *dir, const char *vswitchd,
                                  struct lq_sandbox **);
/* ovn-controller exits if it starts before the chassis settings exist, so
 * it is started separately, once they are written.  Blocks briefly. */
struct lq_error *lq_sandbox_start_controller(const struct lq_sandbox *);

/* Stops every daemon by pid (SIGTERM, then SIGKILL) and frees. */
void lq_sandbox_stop(struct lq_sandbox *);

#endif
