/* nb_common.c: finding our rows in the Northbound replica, and the pieces
 * several writers share (port JSON, DNS records, the drop group). */
#include <config.h>
#include "nb.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"
#include "jsonx.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

void
lq_nb_switch_name(const char *network_id, char name[48])
{
    snprintf(name, 48, "lqnet-%s", network_id);
}

void
lq_nb_localnet_name(const char *network_id, char name[64])
{
    snprintf(name, 64, "lqnet-%s-localnet", network_id);
}

const struct nbrec_logical_switch *
lq_nb_find_network(struct ovsdb_idl *idl, const char *id)
{
    const struct nbrec_logical_switch *ls;
    NBREC_LOGICAL_SWITCH_FOR_EACH (ls, idl) {
        const char *v = smap_get(&ls->external_ids, EXT_NETWORK_ID);
        if (v && !strcmp(v, id)) {
            return ls;
        }
    }
    return NULL;
}

const struct nbrec_logical_switch_port *
lq_nb_find_port(struct ovsdb_idl *idl, const char *id)
{
    const struct nbrec_logical_switch_port *lsp;
    NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, idl) {
        if (!strcmp(lsp->name, id)
            && smap_get(&lsp->external_ids, EXT_PORT_ID)) {
            return lsp;
        }
    }
    return NULL;
}

const struct nbrec_port_group *
lq_nb_find_pg(struct ovsdb_idl *idl, const char *name)
{
    const struct nbrec_port_group *pg;
    NBREC_PORT_GROUP_FOR_EACH (pg, idl) {
        if (!strcmp(pg->name, name)) {
            return pg;
        }
    }
    return NULL;
}

const struct nbrec_port_group *
lq_nb_find_sg(struct ovsdb_idl *idl, const char *id)
{
    char name[40];
    lq_sg_port_group_name(id, name);
    const struct nbrec_port_group *pg = lq_nb_find_pg(idl, name);
    return pg && smap_get(&pg->external_ids, EXT_SG_ID) ? pg : NULL;
}

const struct nbrec_dns *
lq_nb_find_dns(struct ovsdb_idl *idl, const char *network_id)
{
    const struct nbrec_dns *dns;
    NBREC_DNS_FOR_EACH (dns, idl) {
        const char *v = smap_get(&dns->external_ids, EXT_NETWORK_ID);
        if (v && !strcmp(v, network_id)) {
            return dns;
        }
    }
    return NULL;
}

const struct nbrec_dhcp_options *
lq_nb_find_dhcp(struct ovsdb_idl *idl, const char *network_id,
                const char *cidr)
{
    const struct nbrec_dhcp_options *d;
    NBREC_DHCP_OPTIONS_FOR_EACH (d, idl) {
        const char *n = smap_get(&d->external_ids, EXT_NETWORK_ID);
        const char *c = smap_get(&d->external_ids, EXT_SUBNET);
        if (n && c && !strcmp(n, network_id) && !strcmp(c, cidr)) {
            return d;
        }
    }
    return NULL;
}

struct lq_error *
lq_nb_network_spec(const struct nbrec_logical_switch *ls,
                   struct lq_network_spec *spec)
{
    const char *text = smap_get(&ls->external_ids, EXT_SPEC);
    struct json *j = NULL;
    struct lq_error *e = text ? lq_json_parse_object(text, strlen(text), &j)
                              : lq_error_new(LQ_INTERNAL, "no spec");
    if (!e) {
        e = lq_network_spec_from_json(j, spec);
    }
    json_destroy(j);
    if (e) {
        lq_error_prefix(e, "logical switch %s: stored spec", ls->name);
        e->code = LQ_INTERNAL;
    }
    return e;
}

void
lq_nb_parse_addresses(const char *entry, struct lq_port_addrs *a)
{
    char *copy = xstrdup(entry), *save = NULL;
    memset(a, 0, sizeof *a);
    for (char *tok = strtok_r(copy, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        if (!a->has_mac && !a->n_ips) {
            /* The first token is the MAC (or "router", "unknown", ...). */
            struct lq_error *e = lq_mac_parse("", tok, &a->mac);
            a->has_mac = !e;
            lq_error_free(e);
            if (a->has_mac) {
                continue;
            }
        }
        char *slash = strchr(tok, '/');
        if (slash) {
            *slash = '\0';
        }
        if (a->n_ips < ARRAY_SIZE(a->ips) && lq_ip_parse(tok, &a->ips[a->n_ips])) {
            a->n_ips++;
        }
    }
    free(copy);
}

static int
compare_json_id(const void *a_, const void *b_)
{
    const struct json *const *a = a_, *const *b = b_;
    const struct json *ia = shash_find_data(json_object(*a), "id");
    const struct json *ib = shash_find_data(json_object(*b), "id");
    return strcmp(ia ? json_string(ia) : "", ib ? json_string(ib) : "");
}

void
lq_nb_sort_by_id(struct json *array)
{
    struct json_array *a = json_array(array);
    if (a->n > 1) {             /* An empty array has no elems at all. */
        qsort(a->elems, a->n, sizeof *a->elems, compare_json_id);
    }
}

bool
lq_nb_same_json(const struct json *j, const char *stored)
{
    char *s = lq_json_to_string(j);
    bool same = stored && !strcmp(s, stored);
    free(s);
    return same;
}

struct json *
lq_nb_port_to_json(const struct nbrec_logical_switch_port *lsp,
                   const struct lq_network_spec *net)
{
    struct json *j = json_object_create();
    const struct smap *x = &lsp->external_ids;
    struct lq_port_addrs a;

    lq_json_put_string(j, "id", lsp->name);
    lq_json_put_string(j, "networkId", smap_get_def(x, EXT_NETWORK_ID, ""));
    lq_json_put_string(j, "name", smap_get_def(x, EXT_NAME, ""));
    lq_nb_parse_addresses(lsp->n_addresses ? lsp->addresses[0] : "", &a);
    char mac[LQ_MAC_STRLEN] = "";
    if (a.has_mac) {
        lq_mac_format(&a.mac, mac);
    }
    lq_json_put_string(j, "macAddress", mac);

    struct json *ips = json_array_create_empty();
    for (size_t i = 0; i < a.n_ips; i++) {
        struct json *f = json_object_create();
        char ip[LQ_IP_STRLEN], cidr[LQ_CIDR_STRLEN];
        lq_ip_format(&a.ips[i], ip);
        for (size_t k = 0; net && k < net->n_subnets; k++) {
            if (lq_cidr_contains(&net->subnets[k].cidr, &a.ips[i])) {
                lq_cidr_format(&net->subnets[k].cidr, cidr);
                lq_json_put_string(f, "subnetCidr", cidr);
            }
        }
        lq_json_put_string(f, "ipAddress", ip);
        json_array_add(ips, f);
    }
    json_object_put(j, "fixedIps", ips);

    struct json *sgs = json_array_create_empty();
    const char *list = smap_get_def(x, EXT_SGS, "");
    char *copy = xstrdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        json_array_add(sgs, json_string_create(t));
    }
    free(copy);
    json_object_put(j, "securityGroupIds", sgs);
    lq_json_put_bool(j, "portSecurityEnabled", lsp->n_port_security > 0);
    lq_json_put_string(j, "dnsName", smap_get_def(x, EXT_DNS_NAME, ""));
    lq_json_put_string(j, "status", lsp->up && *lsp->up ? "UP" : "DOWN");
    lq_json_put_string(j, "bindingHost", smap_get_def(x, EXT_HOST, ""));
    lq_json_put_string(j, "deviceName", smap_get_def(x, EXT_DEVICE, ""));
    lq_json_put_string(j, "vmId", smap_get_def(x, EXT_VM_ID, ""));
    return j;
}

struct json *
lq_nb_sg_to_json(const struct nbrec_port_group *pg)
{
    struct json *j = json_object_create();
    lq_json_put_string(j, "id", smap_get_def(&pg->external_ids, EXT_SG_ID,
                                             ""));
    lq_json_put_string(j, "name", smap_get_def(&pg->external_ids, EXT_NAME,
                                               ""));
    lq_json_put_string(j, "description",
                       smap_get_def(&pg->external_ids,
                                    "limiquantix:description", ""));

    /* Rules in a stable order: by rule id. */
    struct json *rules = json_array_create_empty();
    const struct nbrec_acl **acls = xmalloc((pg->n_acls + 1) * sizeof *acls);
    size_t n = 0;
    for (size_t i = 0; i < pg->n_acls; i++) {
        if (smap_get(&pg->acls[i]->external_ids, EXT_RULE)) {
            acls[n++] = pg->acls[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = i + 1; k < n; k++) {
            if (strcmp(smap_get(&acls[k]->external_ids, EXT_RULE_ID),
                       smap_get(&acls[i]->external_ids, EXT_RULE_ID)) < 0) {
                const struct nbrec_acl *t = acls[i];
                acls[i] = acls[k];
                acls[k] = t;
            }
        }
        const char *text = smap_get(&acls[i]->external_ids, EXT_RULE);
        struct json *r = NULL;
        struct lq_error *e = lq_json_parse_object(text, strlen(text), &r);
        if (e) {
            lq_error_free(e);
        } else {
            json_array_add(rules, r);
        }
    }
    free(acls);
    json_object_put(j, "rules", rules);
    return j;
}

void
lq_nb_ensure_drop_group(struct lq_net_ctx *ctx)
{
    const struct nbrec_port_group *pg = lq_nb_find_pg(ctx->nb, LQ_PG_DROP);
    bool complete = pg && pg->n_acls == lq_n_drop_acls;
    for (size_t i = 0; complete && i < lq_n_drop_acls; i++) {
        bool found = false;
        for (size_t k = 0; k < pg->n_acls; k++) {
            found |= !strcmp(pg->acls[k]->match, lq_drop_acls[i].match)
                     && !strcmp(pg->acls[k]->action, lq_drop_acls[i].action);
        }
        complete = found;
    }
    if (complete) {
        return;
    }

    struct ovsdb_idl_txn *txn = lq_net_nb_txn(ctx);
    if (!pg) {
        struct nbrec_port_group *new = nbrec_port_group_insert(txn);
        nbrec_port_group_set_name(new, LQ_PG_DROP);
        struct smap ext = SMAP_INITIALIZER(&ext);
        smap_add(&ext, EXT_OWNER, "drop");
        nbrec_port_group_set_external_ids(new, &ext);
        smap_destroy(&ext);
        pg = new;
    }
    struct nbrec_acl **acls = xmalloc(lq_n_drop_acls * sizeof *acls);
    for (size_t i = 0; i < lq_n_drop_acls; i++) {
        const struct lq_default_acl *d = &lq_drop_acls[i];
        acls[i] = nbrec_acl_insert(txn);
        nbrec_acl_set_direction(acls[i], d->direction);
        nbrec_acl_set_priority(acls[i], d->priority);
        nbrec_acl_set_match(acls[i], d->match);
        nbrec_acl_set_action(acls[i], d->action);
        struct smap ext = SMAP_INITIALIZER(&ext);
        smap_add(&ext, EXT_OWNER, "drop");
        nbrec_acl_set_external_ids(acls[i], &ext);
        smap_destroy(&ext);
    }
    nbrec_port_group_set_acls(pg, acls, lq_n_drop_acls);
    free(acls);
}

/* DNS: one row per network, records "<dnsName>.<domain>" -> "ip ip". */
void
lq_nb_sync_dns(struct lq_net_ctx *ctx, const struct nbrec_logical_switch *ls,
               const struct lq_network_spec *net,
               const struct nbrec_logical_switch_port *removed,
               const struct nbrec_logical_switch_port *added)
{
    struct smap records = SMAP_INITIALIZER(&records);
    const struct nbrec_logical_switch_port **ports
        = xmalloc((ls->n_ports + 1) * sizeof *ports);
    size_t n = 0;

    for (size_t i = 0; i < ls->n_ports; i++) {
        if (ls->ports[i] != removed && ls->ports[i] != added) {
            ports[n++] = ls->ports[i];
        }
    }
    if (added) {
        ports[n++] = added;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = smap_get(&ports[i]->external_ids, EXT_DNS_NAME);
        if (!name || !*name || !ports[i]->n_addresses) {
            continue;
        }
        struct lq_port_addrs a;
        struct ds ips = DS_EMPTY_INITIALIZER;
        lq_nb_parse_addresses(ports[i]->addresses[0], &a);
        for (size_t k = 0; k < a.n_ips; k++) {
            char ip[LQ_IP_STRLEN];
            lq_ip_format(&a.ips[k], ip);
            ds_put_format(&ips, "%s%s", k ? " " : "", ip);
        }
        if (ips.length) {
            char *fqdn = xasprintf("%s.%s", name, net->dns_domain);
            smap_replace(&records, fqdn, ds_cstr(&ips));
            free(fqdn);
        }
        ds_destroy(&ips);
    }
    free(ports);

    const struct nbrec_dns *dns = lq_nb_find_dns(ctx->nb, net->id);
    if (dns && smap_equal(&dns->records, &records)) {
        bool attached = false;
        for (size_t i = 0; i < ls->n_dns_records; i++) {
            attached |= ls->dns_records[i] == dns;
        }
        if (attached) {
            smap_destroy(&records);
            return;
        }
    }
    struct ovsdb_idl_txn *txn = lq_net_nb_txn(ctx);
    if (!dns) {
        struct nbrec_dns *new = nbrec_dns_insert(txn);
        struct smap ext = SMAP_INITIALIZER(&ext);
        smap_add(&ext, EXT_NETWORK_ID, net->id);
        nbrec_dns_set_external_ids(new, &ext);
        smap_destroy(&ext);
        dns = new;
    }
    nbrec_dns_set_records(dns, &records);
    struct nbrec_dns *dns_row = CONST_CAST(struct nbrec_dns *, dns);
    nbrec_logical_switch_set_dns_records(ls, &dns_row, 1);
    smap_destroy(&records);
}

void
lq_net_call_destroy(struct lq_net_call *c)
{
    lq_network_spec_destroy(&c->net);
    lq_port_spec_destroy(&c->port);
    lq_sg_spec_destroy(&c->sg);
    lq_sg_rule_destroy(&c->rule);
    free(c->update.name);
    free(c->update.dns_name);
    free(c->update.security_group_ids);
    json_destroy(c->response);
    free(c->device_name);
    free(c->vm_id);
    free(c);
}
