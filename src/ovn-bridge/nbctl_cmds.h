/* nbctl_cmds.h: the command and table descriptions behind `lqctl nb`
 * (private to the nbctl*.c files).
 *
 * nbctl_commands lists every command ovn-nbctl 23.03 knows, with its exact
 * argument counts and options, so that the command line parses and fails
 * exactly as ovn-nbctl's does; the read-only ones we implement have a run
 * function, the others are refused by nbctl_check_commands(). */
#ifndef LQ_NBCTL_CMDS_H
#define LQ_NBCTL_CMDS_H 1

#include "db-ctl-base.h"
#include "openvswitch/dynamic-string.h"

struct nbrec_acl;

extern const struct ctl_command_syntax nbctl_commands[];
extern const struct ctl_table_class nbctl_tables[];

/* Appends one line for 'acl', as "ovn-nbctl acl-list" prints it (also used
 * by "lqctl sg explain"). */
void nbctl_put_acl(struct ds *, const struct nbrec_acl *);

#endif /* nbctl_cmds.h */
