/* nbctl_net.c: `lqctl net show` and `lqctl sg explain` (see nbctl_net.h).
 *
 * Both read a full replica of the Northbound database once and print from
 * it; nothing is written.  Our rows are recognised by their external_ids
 * (nb.h) and decoded with the same model code the engine wrote them with
 * (lq_nb_network_spec(), lq_nb_port_to_json(), lq_sg_rule_from_json()), so
 * what is shown is what the API would answer.  `sg explain` also rebuilds
 * the match each rule implies (lq_acl_match()) and says where the ACL in
 * the database differs from it. */
#include <config.h>
#include "nbctl_net.h"
#include "nbctl_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"
#include "jsonx.h"
#include "lq-ovn-nb-idl.h"
#include "nb.h"
#include "nbctl_cmds.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "sset.h"
#include "timeval.h"
#include "util.h"

/* Command line: options, then positional arguments. */
struct view_args {
    const char *db;
    unsigned int timeout;       /* Seconds to wait for the database. */
    const char *arg;            /* The one positional argument, or NULL. */
};

/* Parses "[--db=REMOTE] [--timeout=SECS] [ARG]" after the subcommand word
 * (argv[1]).  Returns false after printing a usage error. */
static bool
parse_view_args(int argc, char *argv[], const char *usage, bool arg_needed,
                struct view_args *va)
{
    memset(va, 0, sizeof *va);
    va->timeout = 30;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--db=", 5)) {
            va->db = a + 5;
        } else if (!strncmp(a, "--timeout=", 10)) {
            if (!str_to_uint(a + 10, 10, &va->timeout) || !va->timeout) {
                fprintf(stderr, "lqctl %s: --timeout: expected seconds, got "
                        "\"%s\"\n", argv[0], a + 10);
                return false;
            }
        } else if (a[0] == '-' && a[1] == '-' && a[2]) {
            fprintf(stderr, "lqctl %s: unknown option %s\nusage: %s\n",
                    argv[0], a, usage);
            return false;
        } else if (!va->arg) {
            va->arg = a;
        } else {
            fprintf(stderr, "lqctl %s: too many arguments\nusage: %s\n",
                    argv[0], usage);
            return false;
        }
    }
    if (arg_needed && !va->arg) {
        fprintf(stderr, "usage: %s\n", usage);
        return false;
    }
    if (!va->db) {
        va->db = getenv("OVN_NB_DB");
    }
    return true;
}

/* A full replica of the database at 'remote' (NULL: the default), or NULL
 * after printing why not. */
struct ovsdb_idl *
nbctl_view_connect(const char *prog, const char *remote, unsigned int timeout)
{
    char *def = NULL;
    if (!remote) {
        const char *rundir = getenv("OVN_RUNDIR");
        def = xasprintf("unix:%s/ovnnb_db.sock",
                        rundir ? rundir : "/var/run/ovn");
        remote = def;
    }

    /* Our own messages say what went wrong; the library's would only
     * repeat it, with a time stamp. */
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_ERR);
    struct ovsdb_idl *idl = ovsdb_idl_create(remote, &nbrec_idl_class, true,
                                             false);
    unsigned int seqno = ovsdb_idl_get_seqno(idl);
    long long int deadline = time_msec() + timeout * 1000LL;
    for (;;) {
        ovsdb_idl_run(idl);
        if (!ovsdb_idl_is_alive(idl)) {
            fprintf(stderr, "lqctl %s: %s: database connection failed (%s)\n",
                    prog, remote,
                    ovs_retval_to_string(ovsdb_idl_get_last_error(idl)));
            break;
        }
        if (seqno != ovsdb_idl_get_seqno(idl)) {
            free(def);
            return idl;
        }
        if (time_msec() >= deadline) {
            fprintf(stderr, "lqctl %s: %s: no answer in %u s\n", prog, remote,
                    timeout);
            break;
        }
        ovsdb_idl_wait(idl);
        poll_timer_wait_until(deadline);
        poll_block();
    }
    ovsdb_idl_destroy(idl);
    free(def);
    return NULL;
}

static const char *
json_str(const struct json *obj, const char *field)
{
    const struct json *v = lq_json_field(obj, field);
    return v && v->type == JSON_STRING ? json_string(v) : "";
}

/* "name (id)" of security group 'id', or just the id if we do not know
 * the group. */
void
nbctl_put_sg_label(struct ds *s, struct ovsdb_idl *idl, const char *id)
{
    const struct nbrec_port_group *pg = lq_nb_find_sg(idl, id);
    const char *name = pg ? smap_get_def(&pg->external_ids, EXT_NAME, "")
                          : "";
    if (name[0]) {
        ds_put_format(s, "%s (%s)", name, id);
    } else {
        ds_put_format(s, "%s%s", id, pg ? "" : " (no such group)");
    }
}

/* net show */

static void
put_subnets(struct ds *s, const struct lq_network_spec *net)
{
    for (size_t i = 0; i < net->n_subnets; i++) {
        const struct lq_subnet *sn = &net->subnets[i];
        char cidr[LQ_CIDR_STRLEN], ip[LQ_IP_STRLEN];

        lq_cidr_format(&sn->cidr, cidr);
        ds_put_format(s, "    subnet %s", cidr);
        if (sn->has_gateway) {
            lq_ip_format(&sn->gateway, ip);
            ds_put_format(s, ", gateway %s", ip);
        } else {
            ds_put_cstr(s, ", no gateway");
        }
        ds_put_format(s, ", DHCP %s", sn->dhcp_enabled ? "on" : "off");
        for (size_t k = 0; k < sn->n_dns_servers; k++) {
            lq_ip_format(&sn->dns_servers[k], ip);
            ds_put_format(s, "%s%s", k ? ", " : ", DNS servers ", ip);
        }
        ds_put_char(s, '\n');
    }
}

static void
put_port(struct ds *s, struct ovsdb_idl *idl,
         const struct nbrec_logical_switch_port *lsp,
         const struct lq_network_spec *net)
{
    struct json *p = lq_nb_port_to_json(lsp, net);
    const char *name = json_str(p, "name");

    ds_put_format(s, "    port %s", json_str(p, "id"));
    if (name[0]) {
        ds_put_format(s, " (%s)", name);
    }
    ds_put_format(s, ": %s\n", json_str(p, "status"));

    const char *mac = json_str(p, "macAddress");
    ds_put_format(s, "        MAC %s, IPs ", mac[0] ? mac : "none");
    const struct json *ips = lq_json_field(p, "fixedIps");
    size_t n_ips = ips ? json_array(ips)->n : 0;
    for (size_t i = 0; i < n_ips; i++) {
        ds_put_format(s, "%s%s", i ? ", " : "",
                      json_str(json_array(ips)->elems[i], "ipAddress"));
    }
    ds_put_cstr(s, n_ips ? "" : "none");
    const char *dns = json_str(p, "dnsName");
    if (dns[0]) {
        ds_put_format(s, ", DNS %s%s%s", dns, net ? "." : "",
                      net ? net->dns_domain : "");
    }
    ds_put_char(s, '\n');

    const char *vm = json_str(p, "vmId");
    const char *host = json_str(p, "bindingHost");
    const char *dev = json_str(p, "deviceName");
    if (host[0] || dev[0]) {
        ds_put_format(s, "        VM %s, bound on %s to %s\n",
                      vm[0] ? vm : "(none)", host[0] ? host : "?",
                      dev[0] ? dev : "?");
    } else {
        ds_put_cstr(s, "        not bound\n");
    }

    const struct json *sgs = lq_json_field(p, "securityGroupIds");
    size_t n_sgs = sgs ? json_array(sgs)->n : 0;
    if (!lsp->n_port_security) {
        ds_put_cstr(s, "        port security off: no filtering\n");
    } else if (!n_sgs) {
        ds_put_cstr(s, "        no security groups: all IP traffic "
                    "dropped\n");
    } else {
        ds_put_cstr(s, "        security groups: ");
        for (size_t i = 0; i < n_sgs; i++) {
            if (i) {
                ds_put_cstr(s, ", ");
            }
            nbctl_put_sg_label(s, idl, json_string(json_array(sgs)->elems[i]));
        }
        ds_put_char(s, '\n');
    }
    json_destroy(p);
}

/* Orders our ports (or networks) by their name, then id. */
struct named_row {
    const char *name;
    const char *id;
    const void *row;
};

static int
compare_named_rows(const void *a_, const void *b_)
{
    const struct named_row *a = a_, *b = b_;
    int cmp = strcmp(a->name, b->name);
    return cmp ? cmp : strcmp(a->id, b->id);
}

static void
put_network(struct ds *s, struct ovsdb_idl *idl,
            const struct nbrec_logical_switch *ls)
{
    const char *id = smap_get(&ls->external_ids, EXT_NETWORK_ID);
    struct lq_network_spec net;
    struct lq_error *e = lq_nb_network_spec(ls, &net);
    bool have_net = !e;

    ds_put_format(s, "network %s", id);
    if (e) {
        ds_put_format(s, ": stored spec unreadable (%s)\n", e->message);
        lq_error_free(e);
        lq_network_spec_destroy(&net);      /* Whatever it had parsed. */
    } else {
        ds_put_format(s, " (%s): %s", net.name, lq_net_type_name(net.type));
        if (net.type == LQ_NET_VLAN) {
            ds_put_format(s, " %u", net.vlan_id);
        }
        if (net.physical_network) {
            ds_put_format(s, " on %s", net.physical_network);
        }
        ds_put_format(s, ", MTU %u", net.mtu);
        if (net.dns_domain && net.dns_domain[0]) {
            ds_put_format(s, ", DNS domain %s", net.dns_domain);
        }
        ds_put_char(s, '\n');
    }
    ds_put_format(s, "    logical switch %s (" UUID_FMT ")\n", ls->name,
                  UUID_ARGS(&ls->header_.uuid));
    put_subnets(s, &net);

    struct named_row *ports = xmalloc((ls->n_ports + 1) * sizeof *ports);
    size_t n = 0;
    for (size_t i = 0; i < ls->n_ports; i++) {
        const struct nbrec_logical_switch_port *lsp = ls->ports[i];
        if (smap_get(&lsp->external_ids, EXT_PORT_ID)) {
            ports[n++] = (struct named_row) {
                smap_get_def(&lsp->external_ids, EXT_NAME, ""), lsp->name,
                lsp };
        }
    }
    qsort(ports, n, sizeof *ports, compare_named_rows);
    if (!n) {
        ds_put_cstr(s, "    no ports\n");
    }
    for (size_t i = 0; i < n; i++) {
        put_port(s, idl, ports[i].row, have_net ? &net : NULL);
    }
    free(ports);
    lq_network_spec_destroy(&net);
}

static bool
network_matches(const struct nbrec_logical_switch *ls, const char *id,
                const char *want)
{
    return !want || !strcmp(id, want) || !strcmp(ls->name, want)
           || !strcmp(smap_get_def(&ls->external_ids, EXT_NAME, ""), want);
}

int
nbctl_net_main(int argc, char *argv[])
{
    static const char usage[] = "lqctl net show [--db=REMOTE] [NETWORK]";
    struct view_args va;

    if (argc >= 2 && !strcmp(argv[1], "trace")) {
        return nbctl_net_trace_main(argc, argv);
    }
    if (argc < 2 || strcmp(argv[1], "show")) {
        fprintf(stderr, "usage: %s\n       %s\n", usage, NBCTL_TRACE_USAGE);
        return 2;
    }
    if (!parse_view_args(argc, argv, usage, false, &va)) {
        return 2;
    }
    struct ovsdb_idl *idl = nbctl_view_connect("net", va.db, va.timeout);
    if (!idl) {
        return 1;
    }

    const struct nbrec_logical_switch *ls;
    struct named_row *nets = NULL;
    size_t n = 0, allocated = 0;
    NBREC_LOGICAL_SWITCH_FOR_EACH (ls, idl) {
        const char *id = smap_get(&ls->external_ids, EXT_NETWORK_ID);
        if (id && network_matches(ls, id, va.arg)) {
            if (n == allocated) {
                nets = x2nrealloc(nets, &allocated, sizeof *nets);
            }
            nets[n++] = (struct named_row) {
                smap_get_def(&ls->external_ids, EXT_NAME, ""), id, ls };
        }
    }

    int status = 0;
    if (n) {
        struct ds s = DS_EMPTY_INITIALIZER;
        qsort(nets, n, sizeof *nets, compare_named_rows);
        for (size_t i = 0; i < n; i++) {
            if (i) {
                ds_put_char(&s, '\n');
            }
            put_network(&s, idl, nets[i].row);
        }
        fputs(ds_cstr(&s), stdout);
        ds_destroy(&s);
    } else if (va.arg) {
        fprintf(stderr, "lqctl net: %s: no such network\n", va.arg);
        status = 1;
    } else {
        puts("no networks");
    }
    free(nets);
    ovsdb_idl_destroy(idl);
    return status;
}

/* sg explain */

/* The rule in words: "in: IPv4 tcp port 22 from 10.0.0.0/8". */
void
nbctl_put_rule_words(struct ds *s, struct ovsdb_idl *idl,
               const struct lq_sg_rule *r)
{
    bool in = r->direction == LQ_INGRESS;
    char buf[LQ_CIDR_STRLEN];
    const char *proto = lq_protocol_name(&r->protocol, buf);

    ds_put_format(s, "%s %s ", in ? "in" : "out",
                  r->family == AF_INET ? "IPv4" : "IPv6");
    if (!proto[0]) {
        ds_put_cstr(s, "any protocol");
    } else if (r->protocol.number == LQ_PROTO_ICMP
               || r->protocol.number == LQ_PROTO_ICMPV6) {
        ds_put_cstr(s, proto);
        if (r->port_min >= 0) {
            ds_put_format(s, " type %d", r->port_min);
        }
        if (r->port_max >= 0) {
            ds_put_format(s, " code %d", r->port_max);
        }
    } else {
        ds_put_cstr(s, proto);
        if (r->port_min >= 0 && r->port_min == r->port_max) {
            ds_put_format(s, " port %d", r->port_min);
        } else if (r->port_min >= 0) {
            ds_put_format(s, " ports %d-%d", r->port_min, r->port_max);
        } else if (r->protocol.number == 6 || r->protocol.number == 17
                   || r->protocol.number == 132) {
            ds_put_cstr(s, " any port");
        }
    }

    ds_put_cstr(s, in ? " from " : " to ");
    if (r->has_remote_prefix && r->remote_prefix.plen) {
        lq_cidr_format(&r->remote_prefix, buf);
        ds_put_cstr(s, buf);
    } else if (r->remote_group_id[0]) {
        ds_put_cstr(s, "members of ");
        nbctl_put_sg_label(s, idl, r->remote_group_id);
    } else {
        ds_put_cstr(s, "anywhere");
    }
}

struct lq_error *
nbctl_acl_rule(const struct nbrec_acl *acl, struct lq_sg_rule *rule)
{
    const char *text = smap_get(&acl->external_ids, EXT_RULE);
    if (!text) {
        return lq_error_new(LQ_NOT_FOUND, "the ACL carries no rule");
    }
    struct json *j = NULL;
    struct lq_error *e = lq_json_parse_object(text, strlen(text), &j);
    if (!e) {
        e = lq_sg_rule_from_json(j, "rule", rule);
    }
    json_destroy(j);
    return e;
}

/* The ACLs of 'pg' that carry rule 'rule_id' (the rule itself is stored
 * on them, so there is at least one), flagging any whose match, direction,
 * priority or action is not what the rule implies ('expected'). */
static void
put_rule_acls(struct ds *s, const struct nbrec_port_group *pg,
              const char *rule_id, const char *expected,
              const char *direction)
{
    for (size_t i = 0; i < pg->n_acls; i++) {
        const struct nbrec_acl *acl = pg->acls[i];
        if (strcmp(smap_get_def(&acl->external_ids, EXT_RULE_ID, ""),
                   rule_id)) {
            continue;
        }
        ds_put_cstr(s, "        ACL ");
        nbctl_put_acl(s, acl);
        if (strcmp(acl->match, expected) || strcmp(acl->direction, direction)
            || strcmp(acl->action, "allow-related")
            || acl->priority != LQ_ACL_PRIORITY_RULE) {
            ds_put_format(s, "        ! differs from the rule, which "
                          "implies: %s %d (%s) allow-related\n", direction,
                          LQ_ACL_PRIORITY_RULE, expected);
        }
    }
}

/* Explains group 'sg_id' for 'lsp'; appends what it allows to 'allowed'
 * ("in ..." and "out ..." lines). */
static void
explain_group(struct ds *s, struct ovsdb_idl *idl,
              const struct nbrec_logical_switch_port *lsp, const char *sg_id,
              struct sset *allowed)
{
    const struct nbrec_port_group *pg = lq_nb_find_sg(idl, sg_id);
    char pg_name[40];

    lq_sg_port_group_name(sg_id, pg_name);
    ds_put_cstr(s, "\nsecurity group ");
    nbctl_put_sg_label(s, idl, sg_id);
    if (!pg) {
        ds_put_format(s, "\n    ! port group %s is missing: the group "
                      "allows nothing\n", pg_name);
        return;
    }
    bool member = false;
    for (size_t i = 0; i < pg->n_ports; i++) {
        member |= pg->ports[i] == lsp;
    }
    ds_put_format(s, ", port group %s%s\n", pg->name,
                  member ? "" : " (! the port is not a member: none of "
                  "these rules apply to it)");

    /* The rules, by id, from the ACLs that carry them. */
    struct sset rule_ids = SSET_INITIALIZER(&rule_ids);
    for (size_t i = 0; i < pg->n_acls; i++) {
        const char *rid = smap_get(&pg->acls[i]->external_ids, EXT_RULE_ID);
        if (rid && smap_get(&pg->acls[i]->external_ids, EXT_RULE)) {
            sset_add(&rule_ids, rid);
        }
    }
    const char **ids = sset_sort(&rule_ids);
    if (!sset_count(&rule_ids)) {
        ds_put_cstr(s, "    no rules: allows nothing\n");
    }
    for (size_t i = 0; i < sset_count(&rule_ids); i++) {
        const struct nbrec_acl *acl = NULL;
        for (size_t k = 0; k < pg->n_acls && !acl; k++) {
            const struct smap *x = &pg->acls[k]->external_ids;
            if (!strcmp(smap_get_def(x, EXT_RULE_ID, ""), ids[i])
                && smap_get(x, EXT_RULE)) {
                acl = pg->acls[k];
            }
        }
        struct lq_sg_rule rule;
        struct lq_error *e = nbctl_acl_rule(acl, &rule);
        if (e) {
            ds_put_format(s, "    rule %s: stored rule unreadable (%s)\n",
                          ids[i], e->message);
            lq_error_free(e);
            continue;
        }

        struct ds words = DS_EMPTY_INITIALIZER;
        struct ds match = DS_EMPTY_INITIALIZER;
        nbctl_put_rule_words(&words, idl, &rule);
        ds_put_format(s, "    rule %s: allows %s", ids[i], ds_cstr(&words));
        if (rule.description && rule.description[0]) {
            ds_put_format(s, " (\"%s\")", rule.description);
        }
        ds_put_char(s, '\n');
        lq_acl_match(&rule, sg_id, &match);
        put_rule_acls(s, pg, ids[i], ds_cstr(&match),
                      lq_acl_direction(&rule));
        if (member) {
            ds_put_format(&words, " (%s)",
                          smap_get_def(&pg->external_ids, EXT_NAME, sg_id));
            sset_add(allowed, ds_cstr(&words));
        }
        ds_destroy(&words);
        ds_destroy(&match);
        lq_sg_rule_destroy(&rule);
    }
    free(ids);
    sset_destroy(&rule_ids);
}

/* The port given by id (its logical port name) or by its name. */
const struct nbrec_logical_switch_port *
nbctl_find_port(struct ovsdb_idl *idl, const char *want, char **error)
{
    const struct nbrec_logical_switch_port *lsp, *found = NULL;

    *error = NULL;
    NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, idl) {
        if (smap_get(&lsp->external_ids, EXT_PORT_ID)
            && !strcmp(lsp->name, want)) {
            return lsp;
        }
    }
    NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, idl) {
        if (smap_get(&lsp->external_ids, EXT_PORT_ID)
            && !strcmp(smap_get_def(&lsp->external_ids, EXT_NAME, ""),
                       want)) {
            if (found) {
                *error = xasprintf("%s: several ports have this name; use "
                                   "the port id", want);
                return NULL;
            }
            found = lsp;
        }
    }
    if (!found) {
        *error = xasprintf("%s: no such port", want);
    }
    return found;
}

static void
put_summary(struct ds *s, const struct sset *allowed, const char *dir)
{
    const char **lines = sset_sort(allowed);
    size_t n = 0;

    ds_put_format(s, "    %s: ", !strcmp(dir, "in") ? "ingress" : "egress");
    for (size_t i = 0; i < sset_count(allowed); i++) {
        if (!strncmp(lines[i], dir, strlen(dir))
            && lines[i][strlen(dir)] == ' ') {
            ds_put_format(s, "%s%s", n++ ? "; " : "allowed ",
                          lines[i] + strlen(dir) + 1);
        }
    }
    ds_put_format(s, "%sall other IP traffic is dropped\n",
                  n ? "; " : "");
    free(lines);
}

/* As acl-list orders them: from-lport first, then by priority (highest
 * first) and match. */
static int
compare_acls(const void *a_, const void *b_)
{
    const struct nbrec_acl *a = *(const struct nbrec_acl *const *) a_;
    const struct nbrec_acl *b = *(const struct nbrec_acl *const *) b_;
    int cmp = strcmp(a->direction, b->direction);
    if (cmp) {
        return cmp;
    }
    if (a->priority != b->priority) {
        return a->priority > b->priority ? -1 : 1;
    }
    return strcmp(a->match, b->match);
}

static void
explain_port(struct ds *s, struct ovsdb_idl *idl,
             const struct nbrec_logical_switch_port *lsp)
{
    const struct nbrec_logical_switch *ls = lq_nb_find_network(
        idl, smap_get_def(&lsp->external_ids, EXT_NETWORK_ID, ""));
    struct lq_network_spec net;
    struct lq_error *e = ls ? lq_nb_network_spec(ls, &net) : NULL;
    bool have_net = ls && !e;
    if (e) {
        lq_error_free(e);
        lq_network_spec_destroy(&net);
    }
    struct json *p = lq_nb_port_to_json(lsp, have_net ? &net : NULL);

    ds_put_format(s, "port %s", lsp->name);
    if (json_str(p, "name")[0]) {
        ds_put_format(s, " (%s)", json_str(p, "name"));
    }
    ds_put_format(s, " on network %s", json_str(p, "networkId"));
    if (have_net) {
        ds_put_format(s, " (%s)", net.name);
    }
    ds_put_format(s, ", %s\n", json_str(p, "status"));

    const struct nbrec_port_group *drop = lq_nb_find_pg(idl, LQ_PG_DROP);
    bool in_drop = false;
    for (size_t i = 0; drop && i < drop->n_ports; i++) {
        in_drop |= drop->ports[i] == lsp;
    }
    bool secured = lsp->n_port_security > 0;
    if (!secured) {
        ds_put_format(s, "    port security off: the port is not filtered, "
                      "every packet passes%s\n",
                      in_drop ? " (! but it is in " LQ_PG_DROP ")" : "");
    } else {
        ds_put_cstr(s, "    port security on: sends only from");
        for (size_t i = 0; i < lsp->n_port_security; i++) {
            ds_put_format(s, " %s", lsp->port_security[i]);
        }
        ds_put_format(s, "; IP traffic no rule allows is dropped%s\n",
                      in_drop ? "" : " (! but the port is not in "
                      LQ_PG_DROP ", so nothing is dropped)");
    }

    struct sset allowed = SSET_INITIALIZER(&allowed);
    const struct json *sgs = lq_json_field(p, "securityGroupIds");
    size_t n_sgs = sgs ? json_array(sgs)->n : 0;
    for (size_t i = 0; i < n_sgs; i++) {
        explain_group(s, idl, lsp, json_string(json_array(sgs)->elems[i]),
                      &allowed);
    }
    if (!n_sgs) {
        ds_put_cstr(s, "\nno security groups\n");
    }

    if (drop) {
        ds_put_format(s, "\ndefault, port group %s%s\n", LQ_PG_DROP,
                      in_drop ? "" : " (the port is not a member)");
        const struct nbrec_acl **acls = xmalloc((drop->n_acls + 1)
                                                * sizeof *acls);
        for (size_t i = 0; i < drop->n_acls; i++) {
            acls[i] = drop->acls[i];
        }
        qsort(acls, drop->n_acls, sizeof *acls, compare_acls);
        for (size_t i = 0; i < drop->n_acls; i++) {
            ds_put_cstr(s, "        ACL ");
            nbctl_put_acl(s, acls[i]);
        }
        free(acls);
    } else if (secured) {
        ds_put_format(s, "\n! port group %s is missing: nothing is "
                      "dropped\n", LQ_PG_DROP);
    }

    ds_put_cstr(s, "\neffective:\n");
    if (!secured || !in_drop || !drop) {
        ds_put_cstr(s, "    everything passes, both ways\n");
    } else {
        put_summary(s, &allowed, "in");
        put_summary(s, &allowed, "out");
        ds_put_cstr(s, "    (replies to allowed traffic pass: the rules "
                    "are stateful; DHCP requests to OVN always pass)\n");
    }
    sset_destroy(&allowed);
    json_destroy(p);
    if (have_net) {
        lq_network_spec_destroy(&net);
    }
}

int
nbctl_sg_main(int argc, char *argv[])
{
    static const char usage[] = "lqctl sg explain [--db=REMOTE] PORT";
    struct view_args va;

    if (argc < 2 || strcmp(argv[1], "explain")) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    if (!parse_view_args(argc, argv, usage, true, &va)) {
        return 2;
    }
    struct ovsdb_idl *idl = nbctl_view_connect("sg", va.db, va.timeout);
    if (!idl) {
        return 1;
    }

    char *error;
    const struct nbrec_logical_switch_port *lsp = nbctl_find_port(idl, va.arg,
                                                            &error);
    int status = 0;
    if (lsp) {
        struct ds s = DS_EMPTY_INITIALIZER;
        explain_port(&s, idl, lsp);
        fputs(ds_cstr(&s), stdout);
        ds_destroy(&s);
    } else {
        fprintf(stderr, "lqctl sg: %s\n", error);
        free(error);
        status = 1;
    }
    ovsdb_idl_destroy(idl);
    return status;
}
