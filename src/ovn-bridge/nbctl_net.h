/* nbctl_net.h: `lqctl net show` and `lqctl sg explain`: the platform's view
 * of the OVN Northbound database, read (only) through the nbrec_ IDL from
 * the external_ids QuantumNet writes (nb.h), next to the OVN rows that
 * implement it.  See docs/lqctl-nb.md.
 *
 * The database is chosen as for `lqctl nb`: --db=REMOTE, $OVN_NB_DB, or
 * unix:$OVN_RUNDIR/ovnnb_db.sock.  Exit status: 0 ok, 1 not found or no
 * database, 2 usage. */
#ifndef LQ_NBCTL_NET_H
#define LQ_NBCTL_NET_H 1

/* "net show [--db=REMOTE] [NETWORK]": networks (all, or the one whose id,
 * name or logical switch name is NETWORK) with their subnets and ports
 * (VM, MAC, IPs, status, security groups).  'argv[0]' is "net". */
int nbctl_net_main(int argc, char *argv[]);

/* "sg explain [--db=REMOTE] PORT": the effective security of one port
 * (by id or name): every group and rule it gets, in words, each next to
 * the ACLs that implement it, then the default drop.  'argv[0]' is
 * "sg". */
int nbctl_sg_main(int argc, char *argv[]);

#endif /* nbctl_net.h */
