/* acl.c: OVN match strings for security group rules (see acl.h). */
#include <config.h>
#include "acl.h"

#include <string.h>
#include <sys/socket.h>

#include "util.h"

void
lq_sg_port_group_name(const char *sg_id, char name[40])
{
    snprintf(name, 40, "pg_%s", sg_id);
    for (char *c = name; *c; c++) {
        if (*c == '-') {
            *c = '_';
        }
    }
}

const char *
lq_acl_direction(const struct lq_sg_rule *r)
{
    return r->direction == LQ_INGRESS ? "to-lport" : "from-lport";
}

static void
put_ports(struct ds *m, const char *proto, int min, int max)
{
    if (min < 0) {
        return;
    }
    if (min == max) {
        ds_put_format(m, " && %s.dst == %d", proto, min);
    } else {
        ds_put_format(m, " && %s.dst >= %d && %s.dst <= %d",
                      proto, min, proto, max);
    }
}

void
lq_acl_match(const struct lq_sg_rule *r, const char *sg_id, struct ds *m)
{
    char pg[40];
    bool v4 = r->family == AF_INET;
    const char *ip = v4 ? "ip4" : "ip6";
    /* Ingress filters on where traffic comes from, egress on where it
     * goes. */
    const char *remote = r->direction == LQ_INGRESS ? "src" : "dst";

    lq_sg_port_group_name(sg_id, pg);
    ds_put_format(m, "%s == @%s && %s",
                  r->direction == LQ_INGRESS ? "outport" : "inport", pg, ip);

    if (r->has_remote_prefix && r->remote_prefix.plen) {
        char cidr[LQ_CIDR_STRLEN];
        lq_cidr_format(&r->remote_prefix, cidr);
        ds_put_format(m, " && %s.%s == %s", ip, remote, cidr);
    } else if (r->remote_group_id[0]) {
        char rpg[40];
        lq_sg_port_group_name(r->remote_group_id, rpg);
        ds_put_format(m, " && %s.%s == $%s_%s", ip, remote, rpg, ip);
    }

    switch (r->protocol.number) {
    case -1:
        break;
    case LQ_PROTO_TCP:
        ds_put_cstr(m, " && tcp");
        put_ports(m, "tcp", r->port_min, r->port_max);
        break;
    case LQ_PROTO_UDP:
        ds_put_cstr(m, " && udp");
        put_ports(m, "udp", r->port_min, r->port_max);
        break;
    case LQ_PROTO_SCTP:
        ds_put_cstr(m, " && sctp");
        put_ports(m, "sctp", r->port_min, r->port_max);
        break;
    case LQ_PROTO_ICMP:
    case LQ_PROTO_ICMPV6: {
        const char *icmp = v4 ? "icmp4" : "icmp6";
        ds_put_format(m, " && %s", icmp);
        if (r->port_min >= 0) {
            ds_put_format(m, " && %s.type == %d", icmp, r->port_min);
        }
        if (r->port_max >= 0) {
            ds_put_format(m, " && %s.code == %d", icmp, r->port_max);
        }
        break;
    }
    default:
        ds_put_format(m, " && ip.proto == %d", r->protocol.number);
        break;
    }
}

/* DHCP requests must get through before the drop: OVN answers them in a
 * later ingress stage than the ACLs. */
const struct lq_default_acl lq_drop_acls[] = {
    { "from-lport", LQ_ACL_PRIORITY_RULE,
      "inport == @" LQ_PG_DROP " && ip4 && ip4.dst == {255.255.255.255, "
      "0.0.0.0/0} && udp && udp.src == 68 && udp.dst == 67",
      "allow" },
    { "from-lport", LQ_ACL_PRIORITY_RULE,
      "inport == @" LQ_PG_DROP " && ip6 && ip6.dst == ff02::1:2 && udp && "
      "udp.src == 546 && udp.dst == 547", "allow" },
    { "from-lport", LQ_ACL_PRIORITY_DROP, "inport == @" LQ_PG_DROP " && ip",
      "drop" },
    { "to-lport", LQ_ACL_PRIORITY_DROP, "outport == @" LQ_PG_DROP " && ip",
      "drop" },
};
const size_t lq_n_drop_acls = ARRAY_SIZE(lq_drop_acls);
