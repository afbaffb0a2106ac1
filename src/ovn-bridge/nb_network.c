/* nb_network.c: networks as OVN logical switches.
 *
 * A network is one Logical_Switch (lqnet-<id>) whose external_ids hold the
 * canonical spec, one DHCP_Options row per subnet with DHCP, one DNS row
 * (magic DNS), and for vlan/flat networks a localnet port.  Everything but
 * the switch itself can be derived from that spec, which is what lets the
 * reconciler restore rows deleted behind our back. */
#include <config.h>
#include "nb.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"
#include "jsonx.h"
#include "pbjson.h"
#include "rpc.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "util.h"
#include "vswitchd.h"

VLOG_DEFINE_THIS_MODULE(nb_network);

/* A stable MAC for the network's DHCP server, from its id. */
static void
server_mac(const char *network_id, char mac[LQ_MAC_STRLEN])
{
    char hex[16];
    size_t n = 0;
    for (const char *p = network_id; *p && n < 10; p++) {
        if (*p != '-') {
            hex[n++] = *p;
        }
    }
    snprintf(mac, LQ_MAC_STRLEN, "0a:%c%c:%c%c:%c%c:%c%c:%c%c", hex[0],
             hex[1], hex[2], hex[3], hex[4], hex[5], hex[6], hex[7], hex[8],
             hex[9]);
}

static void
put_ip_set(struct smap *options, const char *key, const struct lq_ip *ips,
           size_t n)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_char(&s, '{');
    for (size_t i = 0; i < n; i++) {
        char ip[LQ_IP_STRLEN];
        lq_ip_format(&ips[i], ip);
        ds_put_format(&s, "%s%s", i ? ", " : "", ip);
    }
    ds_put_char(&s, '}');
    smap_add(options, key, ds_cstr(&s));
    ds_destroy(&s);
}

/* The OVN DHCP options of one subnet. */
static void
dhcp_options(const struct lq_network_spec *net, const struct lq_subnet *sn,
             struct smap *o)
{
    char mac[LQ_MAC_STRLEN], ip[LQ_IP_STRLEN];
    struct lq_ip server = sn->has_gateway ? sn->gateway
                          : lq_ip_add(&sn->cidr.ip, 1);

    server_mac(net->id, mac);
    if (sn->cidr.ip.family == AF_INET) {
        lq_ip_format(&server, ip);
        smap_add(o, "server_id", ip);
        smap_add(o, "server_mac", mac);
        smap_add(o, "lease_time", "43200");
        smap_add_format(o, "mtu", "%u", net->mtu);
        if (sn->has_gateway) {
            smap_add(o, "router", ip);
        }
        smap_add_format(o, "domain_name", "\"%s\"", net->dns_domain);
    } else {
        smap_add(o, "server_id", mac);
        smap_add_format(o, "domain_search", "\"%s\"", net->dns_domain);
    }
    /* Guests need a resolver address for magic DNS: OVN answers our
     * records whatever address the query goes to. */
    if (sn->n_dns_servers) {
        put_ip_set(o, "dns_server", sn->dns_servers, sn->n_dns_servers);
    } else if (sn->has_gateway) {
        put_ip_set(o, "dns_server", &sn->gateway, 1);
    }
}

static void
insert_dhcp(struct lq_net_ctx *ctx, const struct lq_network_spec *net,
            const struct lq_subnet *sn)
{
    char cidr[LQ_CIDR_STRLEN];
    struct smap options = SMAP_INITIALIZER(&options);
    struct smap ext = SMAP_INITIALIZER(&ext);

    lq_cidr_format(&sn->cidr, cidr);
    dhcp_options(net, sn, &options);
    smap_add(&ext, EXT_NETWORK_ID, net->id);
    smap_add(&ext, EXT_SUBNET, cidr);

    struct nbrec_dhcp_options *d = nbrec_dhcp_options_insert(
        lq_net_nb_txn(ctx));
    nbrec_dhcp_options_set_cidr(d, cidr);
    nbrec_dhcp_options_set_options(d, &options);
    nbrec_dhcp_options_set_external_ids(d, &ext);
    smap_destroy(&options);
    smap_destroy(&ext);
}

static struct nbrec_logical_switch_port *
insert_localnet(struct lq_net_ctx *ctx, const struct lq_network_spec *net)
{
    char name[64];
    struct smap options = SMAP_INITIALIZER(&options);
    struct smap ext = SMAP_INITIALIZER(&ext);
    const char *unknown = "unknown";

    lq_nb_localnet_name(net->id, name);
    struct nbrec_logical_switch_port *lsp
        = nbrec_logical_switch_port_insert(lq_net_nb_txn(ctx));
    nbrec_logical_switch_port_set_name(lsp, name);
    nbrec_logical_switch_port_set_type(lsp, "localnet");
    nbrec_logical_switch_port_set_addresses(lsp, &unknown, 1);
    smap_add(&options, "network_name", net->physical_network);
    nbrec_logical_switch_port_set_options(lsp, &options);
    if (net->type == LQ_NET_VLAN) {
        int64_t tag = net->vlan_id;
        nbrec_logical_switch_port_set_tag(lsp, &tag, 1);
    }
    smap_add(&ext, EXT_NETWORK_ID, net->id);
    smap_add(&ext, EXT_OWNER, "localnet");
    nbrec_logical_switch_port_set_external_ids(lsp, &ext);
    smap_destroy(&options);
    smap_destroy(&ext);
    return lsp;
}

static struct lq_error *
create_network_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct lq_network_spec *net = &c->net;
    struct json *spec = lq_network_spec_to_json(net);

    const struct nbrec_logical_switch *ls = lq_nb_find_network(ctx->nb,
                                                               net->id);
    if (ls) {
        /* Idempotent by id: the same spec again is a no-op. */
        bool same = lq_nb_same_json(spec, smap_get(&ls->external_ids,
                                                   EXT_SPEC));
        if (!same) {
            json_destroy(spec);
            return lq_error_new(LQ_ALREADY_EXISTS, "network %s already "
                                "exists with a different spec", net->id);
        }
        c->response = spec;
        return NULL;
    }

    lq_nb_ensure_drop_group(ctx);

    char name[48];
    char *spec_text = lq_json_to_string(spec);
    struct smap ext = SMAP_INITIALIZER(&ext);
    lq_nb_switch_name(net->id, name);
    smap_add(&ext, EXT_NETWORK_ID, net->id);
    smap_add(&ext, EXT_NAME, net->name);
    smap_add(&ext, EXT_SPEC, spec_text);
    if (net->type == LQ_NET_ISOLATED) {
        smap_add(&ext, "limiquantix:isolated", "true");
    }
    free(spec_text);

    struct ovsdb_idl_txn *txn = lq_net_nb_txn(ctx);
    struct nbrec_logical_switch *new = nbrec_logical_switch_insert(txn);
    nbrec_logical_switch_set_name(new, name);
    nbrec_logical_switch_set_external_ids(new, &ext);
    smap_destroy(&ext);

    for (size_t i = 0; i < net->n_subnets; i++) {
        if (net->subnets[i].dhcp_enabled) {
            insert_dhcp(ctx, net, &net->subnets[i]);
        }
    }
    if (net->type == LQ_NET_VLAN || net->type == LQ_NET_FLAT) {
        struct nbrec_logical_switch_port *ln = insert_localnet(ctx, net);
        nbrec_logical_switch_set_ports(new, &ln, 1);
    }
    struct nbrec_dns *dns = nbrec_dns_insert(txn);
    struct smap dns_ext = SMAP_INITIALIZER(&dns_ext);
    smap_add(&dns_ext, EXT_NETWORK_ID, net->id);
    nbrec_dns_set_external_ids(dns, &dns_ext);
    smap_destroy(&dns_ext);
    nbrec_logical_switch_set_dns_records(new, &dns, 1);

    c->response = spec;
    return NULL;
}

static size_t
count_user_ports(const struct nbrec_logical_switch *ls)
{
    size_t n = 0;
    for (size_t i = 0; i < ls->n_ports; i++) {
        n += smap_get(&ls->ports[i]->external_ids, EXT_PORT_ID) != NULL;
    }
    return n;
}

static void
delete_network_rows(struct lq_net_ctx *ctx, const char *network_id)
{
    const struct nbrec_dhcp_options *d, *next_d;
    NBREC_DHCP_OPTIONS_FOR_EACH_SAFE (d, next_d, ctx->nb) {
        const char *n = smap_get(&d->external_ids, EXT_NETWORK_ID);
        if (n && !strcmp(n, network_id)) {
            nbrec_dhcp_options_delete(d);
        }
    }
    const struct nbrec_dns *dns, *next_dns;
    NBREC_DNS_FOR_EACH_SAFE (dns, next_dns, ctx->nb) {
        const char *n = smap_get(&dns->external_ids, EXT_NETWORK_ID);
        if (n && !strcmp(n, network_id)) {
            nbrec_dns_delete(dns);
        }
    }
}

static struct lq_error *
delete_network_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_logical_switch *ls = lq_nb_find_network(ctx->nb,
                                                               c->id);
    if (!ls) {
        return lq_error_new(LQ_NOT_FOUND, "network %s not found", c->id);
    }
    size_t n = count_user_ports(ls);
    if (n) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "network %s still has "
                            "%zu port(s); delete them first", c->id, n);
    }
    lq_net_nb_txn(ctx);
    delete_network_rows(ctx, c->id);
    nbrec_logical_switch_delete(ls);
    return NULL;
}

static struct lq_error *
get_network_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_logical_switch *ls = lq_nb_find_network(ctx->nb,
                                                               c->id);
    if (!ls) {
        return lq_error_new(LQ_NOT_FOUND, "network %s not found", c->id);
    }
    const char *spec = smap_get(&ls->external_ids, EXT_SPEC);
    return lq_json_parse_object(spec, strlen(spec), &c->response);
}

static struct lq_error *
list_networks_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    struct json *list = json_array_create_empty();
    const struct nbrec_logical_switch *ls;

    NBREC_LOGICAL_SWITCH_FOR_EACH (ls, ctx->nb) {
        const char *spec = smap_get(&ls->external_ids, EXT_SPEC);
        struct json *j;
        if (!smap_get(&ls->external_ids, EXT_NETWORK_ID) || !spec) {
            continue;
        }
        struct lq_error *e = lq_json_parse_object(spec, strlen(spec), &j);
        if (e) {
            lq_error_free(e);
            continue;
        }
        json_array_add(list, j);
    }
    lq_nb_sort_by_id(list);
    c->response = json_object_create();
    json_object_put(c->response, "networks", list);
    return NULL;
}

/* Reconcile: restore what can be derived, remove our orphans. */
static struct lq_error *
reconcile_build(struct lq_net_ctx *ctx, void *aux OVS_UNUSED)
{
    const struct nbrec_logical_switch *ls;
    int restored = 0, removed = 0;

    lq_nb_ensure_drop_group(ctx);
    NBREC_LOGICAL_SWITCH_FOR_EACH (ls, ctx->nb) {
        const char *id = smap_get(&ls->external_ids, EXT_NETWORK_ID);
        struct lq_network_spec net;
        if (!id) {
            continue;
        }
        struct lq_error *e = lq_nb_network_spec(ls, &net);
        if (e) {
            VLOG_WARN("reconcile: %s", e->message);
            lq_error_free(e);
            continue;
        }
        for (size_t i = 0; i < net.n_subnets; i++) {
            char cidr[LQ_CIDR_STRLEN];
            lq_cidr_format(&net.subnets[i].cidr, cidr);
            if (net.subnets[i].dhcp_enabled
                && !lq_nb_find_dhcp(ctx->nb, net.id, cidr)) {
                VLOG_INFO("reconcile: restoring DHCP options of %s on "
                          "network %s", cidr, net.id);
                insert_dhcp(ctx, &net, &net.subnets[i]);
                restored++;
            }
        }
        bool has_localnet = false;
        for (size_t i = 0; i < ls->n_ports; i++) {
            has_localnet |= !strcmp(ls->ports[i]->type, "localnet");
        }
        if ((net.type == LQ_NET_VLAN || net.type == LQ_NET_FLAT)
            && !has_localnet) {
            VLOG_INFO("reconcile: restoring the localnet port of network %s",
                      net.id);
            nbrec_logical_switch_update_ports_addvalue(
                ls, insert_localnet(ctx, &net));
            restored++;
        }
        lq_nb_sync_dns(ctx, ls, &net, NULL, NULL);
        lq_network_spec_destroy(&net);
    }

    const struct nbrec_dhcp_options *d, *next_d;
    NBREC_DHCP_OPTIONS_FOR_EACH_SAFE (d, next_d, ctx->nb) {
        const char *n = smap_get(&d->external_ids, EXT_NETWORK_ID);
        if (n && !lq_nb_find_network(ctx->nb, n)) {
            VLOG_INFO("reconcile: removing orphan DHCP options %s of "
                      "network %s", d->cidr, n);
            lq_net_nb_txn(ctx);
            nbrec_dhcp_options_delete(d);
            removed++;
        }
    }
    const struct nbrec_dns *dns, *next_dns;
    NBREC_DNS_FOR_EACH_SAFE (dns, next_dns, ctx->nb) {
        const char *n = smap_get(&dns->external_ids, EXT_NETWORK_ID);
        if (n && !lq_nb_find_network(ctx->nb, n)) {
            VLOG_INFO("reconcile: removing orphan DNS row of network %s", n);
            lq_net_nb_txn(ctx);
            nbrec_dns_delete(dns);
            removed++;
        }
    }
    if (restored || removed) {
        VLOG_INFO("reconcile: %d row(s) restored, %d orphan(s) removed",
                  restored, removed);
    }
    return NULL;
}

void
lq_nb_call_finish(struct lq_error *error, void *aux)
{
    struct lq_net_call *c = aux;
    if (c->rpc) {
        ProtobufCMessage *response = NULL;
        if (!error && c->response && c->output) {
            /* Strictly: a stored record the contract cannot say is a bug
             * to hear about, not something to drop silently. */
            error = lq_pb_from_json(c->output, c->response, 0, &response);
            if (error) {
                error->code = LQ_INTERNAL;
                error = lq_error_prefix(error, "the answer does not fit %s",
                                        c->output->name);
            }
        }
        lq_rpc_call_complete(c->rpc, error, response);
    } else if (error) {
        VLOG_WARN("%s", error->message);
        lq_error_free(error);
    }
    lq_net_call_destroy(c);
}

const struct lq_net_op_class lq_op_create_network = {
    "CreateNetwork", false, create_network_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_get_network = {
    "GetNetwork", false, get_network_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_list_networks = {
    "ListNetworks", false, list_networks_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_delete_network = {
    "DeleteNetwork", false, delete_network_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_reconcile = {
    "Reconcile", false, reconcile_build, NULL, lq_nb_call_finish,
};

void
lq_network_start(struct lq_network *net,
                 void (*chassis_ready)(void *, bool ok),
                 void *aux)
{
    if (lq_network_options(net)->ovs_remote) {
        struct lq_chassis_hook *hook = xmalloc(sizeof *hook);
        hook->ready = chassis_ready;
        hook->aux = aux;
        lq_network_submit(net, &lq_op_setup_chassis, hook, 120000);
    }
    lq_network_submit(net, &lq_op_reconcile, xzalloc(sizeof(struct lq_net_call)),
                      120000);
}
