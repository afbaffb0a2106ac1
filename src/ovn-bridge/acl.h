/* acl.h: security groups as OVN port groups and ACLs, the way Neutron's
 * OVN driver maps them.
 *
 * - Each security group is a Port_Group named pg_<id with '_' for '-'>;
 *   OVN derives the address sets $pg_<id>_ip4 / _ip6 from its members, so
 *   a remote-group rule never changes when membership does.
 * - Every port with port security is also in lq_pg_drop, whose ACLs drop
 *   all IP traffic at priority 1001 (after allowing DHCP requests).
 * - Each rule is one ACL at priority 1002, allow-related (stateful):
 *   ingress = to-lport "outport == @pg && ...", egress = from-lport
 *   "inport == @pg && ...".
 * Matches are built only from typed values (net_types.h). */
#ifndef LQ_OVN_ACL_H
#define LQ_OVN_ACL_H 1

#include "model.h"
#include "openvswitch/dynamic-string.h"

#define LQ_PG_DROP "lq_pg_drop"
#define LQ_ACL_PRIORITY_RULE 1002
#define LQ_ACL_PRIORITY_DROP 1001

/* "pg_3f2a8c1e_0000_..." for a security group id. */
void lq_sg_port_group_name(const char *sg_id, char name[40]);

/* The ACL match for 'rule' of group 'sg_id'. */
void lq_acl_match(const struct lq_sg_rule *, const char *sg_id, struct ds *);
const char *lq_acl_direction(const struct lq_sg_rule *);

/* The fixed ACLs of lq_pg_drop. */
struct lq_default_acl {
    const char *direction;
    int priority;
    const char *match;
    const char *action;
};
extern const struct lq_default_acl lq_drop_acls[];
extern const size_t lq_n_drop_acls;

#endif
