/* nbctl_trace.c: `lqctl net trace` (see nbctl_net.h).
 *
 * The packet is built from the ports' own addresses as stored in the
 * Northbound database, traced by the real ovn-trace against the real
 * Southbound database (the logical flows ovn-northd made, which is what
 * ovn-controller installs), and each ACL flow the packet met is mapped
 * back to the Northbound ACL it came from, and from there to the security
 * group rule (or the default drop) that we wrote it for.  ovn-trace is run
 * with an argv array; nothing typed by the user reaches its expression
 * parser except through typed values (trace.h). */
#include <config.h>
#include "nbctl_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"
#include "exec.h"
#include "jsonx.h"
#include "nb.h"
#include "openvswitch/dynamic-string.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "trace.h"
#include "util.h"

#define TRACE_TIMEOUT_MS 30000

struct trace_args {
    const char *db, *sb_db;
    const char *from, *to, *proto;
    unsigned int timeout;
    bool ip6, detail;
};

/* "--opt=VALUE" or "--opt VALUE"; advances *ip past what it used. */
static bool
option_value(int argc, char *argv[], int *ip, const char *name,
             const char **value)
{
    const char *a = argv[*ip];
    size_t n = strlen(name);
    if (strncmp(a, name, n)) {
        return false;
    }
    if (a[n] == '=') {
        *value = a + n + 1;
        return true;
    }
    if (!a[n] && *ip + 1 < argc) {
        *value = argv[++*ip];
        return true;
    }
    return false;
}

static bool
parse_trace_args(int argc, char *argv[], struct trace_args *ta)
{
    memset(ta, 0, sizeof *ta);
    ta->timeout = 30;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        if (option_value(argc, argv, &i, "--db", &v)) {
            ta->db = v;
        } else if (option_value(argc, argv, &i, "--sb-db", &v)) {
            ta->sb_db = v;
        } else if (option_value(argc, argv, &i, "--from", &v)) {
            ta->from = v;
        } else if (option_value(argc, argv, &i, "--to", &v)) {
            ta->to = v;
        } else if (!strcmp(a, "--ip6")) {
            ta->ip6 = true;
        } else if (!strcmp(a, "--detail")) {
            ta->detail = true;
        } else if (a[0] == '-' && a[1] == '-' && a[2]) {
            fprintf(stderr, "lqctl net trace: unknown option %s\nusage: %s\n",
                    a, NBCTL_TRACE_USAGE);
            return false;
        } else if (!ta->proto) {
            ta->proto = a;
        } else {
            fprintf(stderr, "lqctl net trace: too many arguments\nusage: "
                    "%s\n", NBCTL_TRACE_USAGE);
            return false;
        }
    }
    if (!ta->from || !ta->to || !ta->proto) {
        fprintf(stderr, "lqctl net trace: --from, --to and PROTO are "
                "required\nusage: %s\n", NBCTL_TRACE_USAGE);
        return false;
    }
    if (!ta->db) {
        ta->db = getenv("OVN_NB_DB");
    }
    if (!ta->sb_db) {
        ta->sb_db = getenv("OVN_SB_DB");
    }
    return true;
}

/* A port as the trace needs it, from the JSON the API would answer. */
struct trace_port {
    const struct nbrec_logical_switch_port *lsp;
    struct json *json;          /* lq_nb_port_to_json() */
    const char *label;          /* Its name, else its id. */
    struct lq_mac mac;
};

static struct lq_error *
trace_port_load(const struct nbrec_logical_switch_port *lsp,
                struct trace_port *tp)
{
    memset(tp, 0, sizeof *tp);
    tp->lsp = lsp;
    tp->json = lq_nb_port_to_json(lsp, NULL);
    const struct json *name = lq_json_field(tp->json, "name");
    tp->label = (name && name->type == JSON_STRING && json_string(name)[0]
                 ? json_string(name) : lsp->name);
    const struct json *mac = lq_json_field(tp->json, "macAddress");
    return lq_mac_parse("macAddress", mac && mac->type == JSON_STRING
                        ? json_string(mac) : "", &tp->mac);
}

/* The first fixed IP of 'tp' that 'match' accepts, in '*ip'. */
static bool
trace_port_find_ip(const struct trace_port *tp,
                   bool (*match)(const struct lq_ip *, const void *aux),
                   const void *aux, struct lq_ip *ip)
{
    const struct json *ips = lq_json_field(tp->json, "fixedIps");
    for (size_t i = 0; ips && i < json_array(ips)->n; i++) {
        const struct json *a = lq_json_field(json_array(ips)->elems[i],
                                             "ipAddress");
        if (a && a->type == JSON_STRING && lq_ip_parse(json_string(a), ip)
            && match(ip, aux)) {
            return true;
        }
    }
    return false;
}

static bool
ip_in_family(const struct lq_ip *ip, const void *family)
{
    return ip->family == *(const int *) family;
}

static bool
ip_equals(const struct lq_ip *ip, const void *want)
{
    return !lq_ip_cmp(ip, want);
}

/* The port's first fixed IP of 'family'; false if it has none. */
static bool
trace_port_ip(const struct trace_port *tp, int family, struct lq_ip *ip)
{
    return trace_port_find_ip(tp, ip_in_family, &family, ip);
}

static bool
trace_port_has_ip(const struct trace_port *tp, const struct lq_ip *want)
{
    struct lq_ip ip;
    return trace_port_find_ip(tp, ip_equals, want, &ip);
}

/* "port NAME (ID)", or "port ID" for a port without a name. */
static void
put_port_label(struct ds *s, const struct trace_port *tp)
{
    if (strcmp(tp->label, tp->lsp->name)) {
        ds_put_format(s, "port %s (%s)", tp->label, tp->lsp->name);
    } else {
        ds_put_format(s, "port %s", tp->lsp->name);
    }
}

/* The port of logical switch 'ls' holding 'ip', or NULL. */
static const struct nbrec_logical_switch_port *
port_with_ip(const struct nbrec_logical_switch *ls, const struct lq_ip *ip)
{
    for (size_t i = 0; i < ls->n_ports; i++) {
        const struct nbrec_logical_switch_port *lsp = ls->ports[i];
        if (!smap_get(&lsp->external_ids, EXT_PORT_ID)) {
            continue;
        }
        struct trace_port tp;
        struct lq_error *e = trace_port_load(lsp, &tp);
        bool found = !e && trace_port_has_ip(&tp, ip);
        lq_error_free(e);
        json_destroy(tp.json);
        if (found) {
            return lsp;
        }
    }
    return NULL;
}

/* The Northbound ACL a flow was made from, and the port group holding
 * it. */
static const struct nbrec_acl *
find_acl(struct ovsdb_idl *idl, const char *direction, int priority,
         const char *match, const struct nbrec_port_group **pgp)
{
    const struct nbrec_port_group *pg;
    *pgp = NULL;
    NBREC_PORT_GROUP_FOR_EACH (pg, idl) {
        for (size_t i = 0; i < pg->n_acls; i++) {
            const struct nbrec_acl *acl = pg->acls[i];
            if (acl->priority == priority && !strcmp(acl->match, match)
                && !strcmp(acl->direction, direction)) {
                *pgp = pg;
                return acl;
            }
        }
    }
    const struct nbrec_acl *acl;
    NBREC_ACL_FOR_EACH (acl, idl) {
        if (acl->priority == priority && !strcmp(acl->match, match)
            && !strcmp(acl->direction, direction)) {
            return acl;
        }
    }
    return NULL;
}

static void
put_acl_row(struct ds *s, const struct nbrec_acl *acl)
{
    ds_put_format(s, "%s %"PRId64" (%s) %s", acl->direction, acl->priority,
                  acl->match, acl->action);
}

/* What one ACL flow means, in security-group terms. */
static void
explain_acl_step(struct ds *s, struct ovsdb_idl *idl,
                 const struct lq_trace_step *step, const char *port_label)
{
    const char *direction;
    int priority;
    char *match;
    if (!lq_trace_step_acl(step, &direction, &priority, &match)) {
        return;
    }

    const struct nbrec_port_group *pg;
    const struct nbrec_acl *acl = find_acl(idl, direction, priority, match,
                                           &pg);
    struct lq_sg_rule rule;
    struct lq_error *e = NULL;
    if (!acl) {
        ds_put_format(s, "%s by an OVN flow with no matching Northbound ACL: "
                      "%s, priority %d (%s)\n", step->drop ? "dropped"
                      : "passed", step->stage, step->priority, step->match);
    } else if (smap_get(&acl->external_ids, EXT_RULE)
               && !(e = nbctl_acl_rule(acl, &rule))) {
        ds_put_cstr(s, "allowed by security group ");
        nbctl_put_sg_label(s, idl, smap_get_def(&acl->external_ids,
                                                EXT_SG_ID, "?"));
        ds_put_format(s, " rule %s: ", smap_get_def(&acl->external_ids,
                                                    EXT_RULE_ID, "?"));
        nbctl_put_rule_words(s, idl, &rule);
        ds_put_char(s, '\n');
        lq_sg_rule_destroy(&rule);
    } else if (pg && !strcmp(pg->name, LQ_PG_DROP)) {
        if (!strcmp(acl->action, "drop")) {
            ds_put_format(s, "dropped by the default drop: no rule of the "
                          "security groups of %s allows it\n", port_label);
        } else {
            ds_put_cstr(s, "allowed: a DHCP request, which always reaches "
                        "OVN\n");
        }
    } else {
        ds_put_format(s, "%s by an ACL limiquantix did not make%s%s: ",
                      strcmp(acl->action, "drop")
                      && strcmp(acl->action, "reject") ? "allowed"
                      : "dropped", pg ? " in port group " : "",
                      pg ? pg->name : "");
        put_acl_row(s, acl);
        ds_put_char(s, '\n');
    }
    if (e) {
        ds_put_format(s, "(the rule stored on the ACL is unreadable: %s)\n",
                      e->message);
        lq_error_free(e);
    }
    if (acl) {
        ds_put_cstr(s, "        ACL ");
        put_acl_row(s, acl);
        ds_put_char(s, '\n');
    }
    free(match);
}

/* One pipeline's verdict: "leaving a:" (ingress pipeline, from-lport ACLs:
 * the sender's egress rules) or "entering b:" (egress pipeline, to-lport
 * ACLs: the receiver's ingress rules). */
static void
explain_pipeline(struct ds *s, struct ovsdb_idl *idl,
                 const struct lq_trace *t, bool egress,
                 const struct trace_port *port, const char *outport)
{
    bool decided = false, any = false;
    char *lead = xasprintf("%s %s: ", egress ? "entering" : "leaving",
                           port ? port->label : outport);

    for (size_t i = 0; i < t->n_steps; i++) {
        const struct lq_trace_step *st = &t->steps[i];
        if (st->egress != egress
            || (egress && outport && strcmp(st->outport, outport))) {
            continue;
        }
        any = true;
        const char *direction;
        int priority;
        char *match;
        if (lq_trace_step_acl(st, &direction, &priority, &match)) {
            free(match);
            ds_put_cstr(s, lead);
            explain_acl_step(s, idl, st, port ? port->label : outport);
            decided = true;
        } else if (st->drop) {
            ds_put_format(s, "%sdropped by OVN in %s (not a security group): "
                          "%s\n", lead, st->stage, st->match);
            decided = true;
        }
    }
    if (any && !decided) {
        bool secured = port && port->lsp->n_port_security;
        ds_put_format(s, "%s%s\n", lead, secured
                      ? "no ACL applies (not IP?)"
                      : "not filtered: port security is off");
    }
    free(lead);
}

static int
run_trace(struct ovsdb_idl *idl, const struct trace_args *ta)
{
    char *error = NULL;
    int status = 1;
    struct trace_port from = { 0 }, to = { 0 };
    bool have_to = false;
    struct lq_exec_result res = { 0 };
    struct lq_trace t = { 0 };
    struct ds out = DS_EMPTY_INITIALIZER;
    struct ds flow = DS_EMPTY_INITIALIZER;
    struct lq_error *e = NULL;

    const struct nbrec_logical_switch_port *lsp
        = nbctl_find_port(idl, ta->from, &error);
    if (!lsp) {
        goto done;
    }
    if ((e = trace_port_load(lsp, &from))) {
        goto done;
    }
    const char *net_id = smap_get_def(&lsp->external_ids, EXT_NETWORK_ID, "");
    const struct nbrec_logical_switch *ls = lq_nb_find_network(idl, net_id);
    if (!ls) {
        error = xasprintf("--from %s: its network %s is missing", ta->from,
                          net_id);
        goto done;
    }

    /* --to: an address (of a port on the network, or not) or a port. */
    struct lq_ip dst_ip;
    bool to_is_ip = lq_ip_parse(ta->to, &dst_ip);
    const struct nbrec_logical_switch_port *to_lsp
        = to_is_ip ? port_with_ip(ls, &dst_ip)
                   : nbctl_find_port(idl, ta->to, &error);
    if (!to_is_ip && !to_lsp) {
        goto done;
    }
    if (to_lsp) {
        if (strcmp(smap_get_def(&to_lsp->external_ids, EXT_NETWORK_ID, ""),
                   net_id)) {
            error = xasprintf("--to %s: the port is on another network than "
                              "%s; a trace between networks needs a router",
                              ta->to, from.label);
            goto done;
        }
        if ((e = trace_port_load(to_lsp, &to))) {
            goto done;
        }
        have_to = true;
    }

    int family = to_is_ip ? dst_ip.family : AF_INET;
    struct lq_trace_packet pk;
    memset(&pk, 0, sizeof pk);
    if (!to_is_ip) {
        struct lq_ip a, b;
        bool v4 = (trace_port_ip(&from, AF_INET, &a)
                   && trace_port_ip(&to, AF_INET, &b));
        family = ta->ip6 || !v4 ? AF_INET6 : AF_INET;
        if (!trace_port_ip(&to, family, &dst_ip)) {
            error = xasprintf("--to %s: the port has no %s address", ta->to,
                              family == AF_INET ? "IPv4" : "IPv6");
            goto done;
        }
    }
    if (!trace_port_ip(&from, family, &pk.ip_src)) {
        error = xasprintf("--from %s: the port has no %s address", ta->from,
                          family == AF_INET ? "IPv4" : "IPv6");
        goto done;
    }
    pk.ip_dst = dst_ip;
    if ((e = lq_trace_parse_protocol("PROTO", ta->proto, family,
                                     &pk.protocol, &pk.dst_port))) {
        goto done;
    }
    ovs_strlcpy(pk.inport, lsp->name, sizeof pk.inport);
    pk.eth_src = from.mac;
    if (have_to) {
        pk.eth_dst = to.mac;
    } else {
        /* No port has the address: a unicast MAC nothing on the switch
         * owns, so the trace shows what the sender's rules do with it. */
        pk.eth_dst = (struct lq_mac) { { 0x02, 0, 0, 0, 0, 0x01 } };
    }
    lq_trace_microflow(&pk, &flow);

    char *db_opt = ta->sb_db ? xasprintf("--db=%s", ta->sb_db) : NULL;
    const char *argv[10];
    size_t n = 0;
    argv[n++] = "ovn-trace";
    if (db_opt) {
        argv[n++] = db_opt;
    }
    argv[n++] = "--no-friendly-names";
    argv[n++] = "--ct=new";     /* The first packet of a connection, in */
    argv[n++] = "--ct=new";     /* both pipelines' conntrack. */
    argv[n++] = ls->name;
    argv[n++] = ds_cstr(&flow);
    argv[n] = NULL;
    e = lq_exec(argv, NULL, TRACE_TIMEOUT_MS, &res);
    free(db_opt);
    if (e) {
        goto done;
    }
    if ((e = lq_trace_parse(res.out, &t))) {
        goto done;
    }

    if (ta->detail) {
        ds_put_format(&out, "ovn-trace %s '%s'\n%s\n", ls->name,
                      ds_cstr(&flow), res.out);
    }
    char src[LQ_IP_STRLEN], dst[LQ_IP_STRLEN], pbuf[8];
    lq_ip_format(&pk.ip_src, src);
    lq_ip_format(&pk.ip_dst, dst);
    const char *pname = lq_protocol_name(&pk.protocol, pbuf);
    ds_put_format(&out, "packet: %s %s -> %s", pname[0] ? pname : "ip", src,
                  dst);
    if (pk.dst_port >= 0) {
        bool icmp = (pk.protocol.number == LQ_PROTO_ICMP
                     || pk.protocol.number == LQ_PROTO_ICMPV6);
        ds_put_format(&out, " %s %d", icmp ? "type" : "port", pk.dst_port);
    }
    ds_put_cstr(&out, "\nfrom:   ");
    put_port_label(&out, &from);
    ds_put_format(&out, ", network %s (%s)\n",
                  smap_get_def(&ls->external_ids, EXT_NAME, ""), net_id);
    if (have_to) {
        ds_put_cstr(&out, "to:     ");
        put_port_label(&out, &to);
        ds_put_char(&out, '\n');
    } else {
        ds_put_format(&out, "to:     %s (no port on this network has this "
                      "address)\n", dst);
    }

    explain_pipeline(&out, idl, &t, false, &from, NULL);
    for (size_t i = 0; i < t.n_steps; i++) {
        const struct lq_trace_step *st = &t.steps[i];
        bool first = true;
        for (size_t k = 0; k < i; k++) {
            first &= !(t.steps[k].egress && st->egress && st->outport
                       && !strcmp(t.steps[k].outport, st->outport));
        }
        if (st->egress && st->outport && first) {
            bool is_to = have_to && !strcmp(st->outport, to.lsp->name);
            explain_pipeline(&out, idl, &t, true, is_to ? &to : NULL,
                             st->outport);
        }
    }

    bool dropped = false;
    for (size_t i = 0; i < t.n_steps; i++) {
        dropped |= t.steps[i].drop;
    }
    bool delivered = false;
    for (size_t i = 0; i < t.n_outputs; i++) {
        delivered |= have_to && !strcmp(t.outputs[i], to.lsp->name);
    }
    if (delivered) {
        ds_put_format(&out, "verdict: allowed, delivered to %s\n", to.label);
    } else if (dropped) {
        ds_put_cstr(&out, "verdict: dropped\n");
    } else {
        ds_put_format(&out, "verdict: not delivered (%s)\n", have_to
                      ? "the packet did not reach the port"
                      : "no port on this network has the address, and the "
                        "switch has no router");
    }
    fputs(ds_cstr(&out), stdout);
    status = 0;

done:
    if (e) {
        fprintf(stderr, "lqctl net trace: %s\n", e->message);
        lq_error_free(e);
    } else if (error) {
        fprintf(stderr, "lqctl net trace: %s\n", error);
    }
    free(error);
    json_destroy(from.json);
    json_destroy(to.json);
    lq_trace_destroy(&t);
    lq_exec_result_clear(&res);
    ds_destroy(&out);
    ds_destroy(&flow);
    return status;
}

int
nbctl_net_trace_main(int argc, char *argv[])
{
    struct trace_args ta;
    if (!parse_trace_args(argc, argv, &ta)) {
        return 2;
    }
    struct ovsdb_idl *idl = nbctl_view_connect("net trace", ta.db,
                                               ta.timeout);
    if (!idl) {
        return 1;
    }
    int status = run_trace(idl, &ta);
    ovsdb_idl_destroy(idl);
    return status;
}
