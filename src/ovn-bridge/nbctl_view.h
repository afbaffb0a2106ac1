/* nbctl_view.h: helpers shared by the platform views of the Northbound
 * database (`lqctl net show`, `sg explain`, `net trace`; nbctl_net.c and
 * nbctl_trace.c).  Internal to lqctl. */
#ifndef LQ_NBCTL_VIEW_H
#define LQ_NBCTL_VIEW_H 1

#include "limiquantix/error.h"
#include "lq-ovn-nb-idl.h"
#include "model.h"

struct ds;
struct ovsdb_idl;

/* A full replica of the Northbound database at 'remote' (NULL: the
 * default), or NULL after printing why not (as "lqctl PROG: ..."). */
struct ovsdb_idl *nbctl_view_connect(const char *prog, const char *remote,
                                     unsigned int timeout);

/* Our port whose id (its logical port name) or name is 'want'; NULL with
 * '*error' (caller frees) if none or the name is ambiguous. */
const struct nbrec_logical_switch_port *nbctl_find_port(
    struct ovsdb_idl *, const char *want, char **error);

/* "name (id)" of security group 'id'. */
void nbctl_put_sg_label(struct ds *, struct ovsdb_idl *, const char *id);

/* A rule in words: "in IPv4 tcp port 22 from 10.0.0.0/8". */
void nbctl_put_rule_words(struct ds *, struct ovsdb_idl *,
                          const struct lq_sg_rule *);

/* The rule an ACL of ours carries (external_ids), decoded. */
struct lq_error *nbctl_acl_rule(const struct nbrec_acl *, struct lq_sg_rule *);

/* "net trace ...": see nbctl_net.h. */
#define NBCTL_TRACE_USAGE \
    "lqctl net trace [--db=NB] [--sb-db=SB] [--ip6] [--detail] " \
    "--from PORT --to PORT|IP PROTO[/DSTPORT]"
int nbctl_net_trace_main(int argc, char *argv[]);

#endif /* nbctl_view.h */
