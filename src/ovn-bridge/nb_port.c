/* nb_port.c: ports as OVN logical switch ports, and binding them to
 * devices on this host.
 *
 * Addresses are allocated here, like Neutron's IPAM, and written as static
 * "MAC IP..." entries, so the port's IPs are known in the same transaction
 * (DNS records, port security).  Two nodes can never hand out the same
 * address: the transaction verifies the switch's port list, so if another
 * node added a port meanwhile the commit fails with "try again" and the
 * engine re-runs the allocation on the fresher replica. */
#include <config.h>
#include "nb.h"

#include <ctype.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"
#include "jsonx.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "../vswitchd-ctl/dpdk.h"
#include "../vswitchd-ctl/vswitchd.h"
#include "sset.h"
#include "hostdev.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(nb_port);

/* Every address in use on 'ls' (ports and the gateways). */
static void
used_addresses(const struct nbrec_logical_switch *ls,
               const struct lq_network_spec *net, struct sset *used,
               struct sset *used_macs)
{
    char buf[LQ_IP_STRLEN];
    for (size_t i = 0; i < net->n_subnets; i++) {
        if (net->subnets[i].has_gateway) {
            lq_ip_format(&net->subnets[i].gateway, buf);
            sset_add(used, buf);
        }
    }
    for (size_t i = 0; i < ls->n_ports; i++) {
        const struct nbrec_logical_switch_port *lsp = ls->ports[i];
        for (size_t k = 0; k <= lsp->n_addresses; k++) {
            const char *entry = k < lsp->n_addresses ? lsp->addresses[k]
                                : lsp->dynamic_addresses;
            struct lq_port_addrs a;
            if (!entry) {
                continue;
            }
            lq_nb_parse_addresses(entry, &a);
            for (size_t j = 0; j < a.n_ips; j++) {
                lq_ip_format(&a.ips[j], buf);
                sset_add(used, buf);
            }
            if (a.has_mac && used_macs) {
                char mac[LQ_MAC_STRLEN];
                lq_mac_format(&a.mac, mac);
                sset_add(used_macs, mac);
            }
        }
    }
}

static bool
allocate(const struct lq_subnet *sn, const struct sset *used,
         struct lq_ip *ip)
{
    char buf[LQ_IP_STRLEN];
    for (size_t p = 0; p < sn->n_pools; p++) {
        struct lq_ip cur = sn->pools[p].start;
        uint64_t span = lq_ip_distance(&sn->pools[p].start, &sn->pools[p].end);
        /* Bounded scan: a pool with 64k addresses taken is full enough. */
        for (uint64_t i = 0; i <= MIN(span, 65535); i++) {
            lq_ip_format(&cur, buf);
            if (!sset_contains(used, buf)) {
                *ip = cur;
                return true;
            }
            cur = lq_ip_add(&cur, 1);
        }
    }
    return false;
}

static const struct lq_subnet *
subnet_for(const struct lq_network_spec *net, const struct lq_ip *ip)
{
    for (size_t i = 0; i < net->n_subnets; i++) {
        if (lq_cidr_contains(&net->subnets[i].cidr, ip)) {
            return &net->subnets[i];
        }
    }
    return NULL;
}

static struct lq_error *
check_sgs_exist(struct ovsdb_idl *nb, char (*ids)[37], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!lq_nb_find_sg(nb, ids[i])) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "securityGroupIds[%zu]: "
                                "security group %s not found", i, ids[i]);
        }
    }
    return NULL;
}

/* Resolves the port's addresses: honours fixed IPs, allocates the rest. */
static struct lq_error *
resolve_ips(const struct lq_port_spec *p, const struct lq_network_spec *net,
            const struct sset *used, struct lq_ip *ips, size_t *n_ips)
{
    *n_ips = 0;
    if (!p->fixed_ips_given) {
        for (size_t i = 0; i < net->n_subnets; i++) {
            if (!allocate(&net->subnets[i], used, &ips[*n_ips])) {
                char cidr[LQ_CIDR_STRLEN];
                lq_cidr_format(&net->subnets[i].cidr, cidr);
                return lq_error_new(LQ_RESOURCE_EXHAUSTED, "subnet %s has no "
                                    "free address", cidr);
            }
            (*n_ips)++;
        }
        return NULL;
    }
    for (size_t i = 0; i < p->n_fixed_ips && i < 8; i++) {
        const struct lq_fixed_ip *f = &p->fixed_ips[i];
        const struct lq_subnet *sn = NULL;
        char cidr[LQ_CIDR_STRLEN], ip[LQ_IP_STRLEN];
        if (f->has_subnet) {
            for (size_t k = 0; k < net->n_subnets; k++) {
                if (!lq_ip_cmp(&net->subnets[k].cidr.ip, &f->subnet.ip)
                    && net->subnets[k].cidr.plen == f->subnet.plen) {
                    sn = &net->subnets[k];
                }
            }
            if (!sn) {
                lq_cidr_format(&f->subnet, cidr);
                return lq_error_new(LQ_INVALID_ARGUMENT, "fixedIps[%zu]."
                                    "subnetCidr: %s is not a subnet of "
                                    "network %s", i, cidr, net->id);
            }
        }
        if (!f->has_ip) {
            if (!allocate(sn, used, &ips[*n_ips])) {
                return lq_error_new(LQ_RESOURCE_EXHAUSTED, "fixedIps[%zu]: "
                                    "subnet has no free address", i);
            }
            (*n_ips)++;
            continue;
        }
        lq_ip_format(&f->ip, ip);
        if (!sn && !(sn = subnet_for(net, &f->ip))) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "fixedIps[%zu].ipAddress:"
                                " %s is in no subnet of network %s", i, ip,
                                net->id);
        }
        struct lq_ip first = lq_cidr_first(&sn->cidr);
        struct lq_ip last = lq_cidr_last(&sn->cidr);
        if (!lq_ip_cmp(&f->ip, &first)
            || (f->ip.family == AF_INET && !lq_ip_cmp(&f->ip, &last))) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "fixedIps[%zu].ipAddress:"
                                " %s is the network or broadcast address",
                                i, ip);
        }
        if (sset_contains(used, ip)) {
            return lq_error_new(LQ_ALREADY_EXISTS, "fixedIps[%zu].ipAddress: "
                                "%s is already in use on network %s", i, ip,
                                net->id);
        }
        ips[(*n_ips)++] = f->ip;
    }
    return NULL;
}

static char *
sg_list(char (*ids)[37], size_t n)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < n; i++) {
        ds_put_format(&s, "%s%s", i ? "," : "", ids[i]);
    }
    return ds_steal_cstr(&s);
}

static void
set_dhcp(const struct nbrec_logical_switch_port *lsp, struct ovsdb_idl *nb,
         const struct lq_network_spec *net, const struct lq_ip *ips,
         size_t n_ips)
{
    for (size_t i = 0; i < n_ips; i++) {
        const struct lq_subnet *sn = subnet_for(net, &ips[i]);
        char cidr[LQ_CIDR_STRLEN];
        if (!sn || !sn->dhcp_enabled) {
            continue;
        }
        lq_cidr_format(&sn->cidr, cidr);
        const struct nbrec_dhcp_options *d = lq_nb_find_dhcp(nb, net->id,
                                                             cidr);
        if (d && ips[i].family == AF_INET) {
            nbrec_logical_switch_port_set_dhcpv4_options(lsp, d);
        } else if (d) {
            nbrec_logical_switch_port_set_dhcpv6_options(lsp, d);
        }
    }
}

static struct lq_error *
create_port_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct lq_port_spec *p = &c->port;
    struct json *request = lq_port_spec_to_json(p);
    struct lq_error *e = NULL;

    const struct nbrec_logical_switch_port *old = lq_nb_find_port(ctx->nb,
                                                                  p->id);
    if (old) {
        bool same = lq_nb_same_json(request, smap_get(&old->external_ids,
                                                      EXT_REQUEST));
        json_destroy(request);
        if (!same) {
            return lq_error_new(LQ_ALREADY_EXISTS, "port %s already exists "
                                "with a different spec", p->id);
        }
        const struct nbrec_logical_switch *ls = lq_nb_find_network(
            ctx->nb, smap_get_def(&old->external_ids, EXT_NETWORK_ID, ""));
        struct lq_network_spec net;
        memset(&net, 0, sizeof net);
        if (ls) {
            lq_error_free(lq_nb_network_spec(ls, &net));
        }
        c->response = lq_nb_port_to_json(old, ls ? &net : NULL);
        lq_network_spec_destroy(&net);
        return NULL;
    }

    const struct nbrec_logical_switch *ls = lq_nb_find_network(ctx->nb,
                                                               p->network_id);
    if (!ls) {
        json_destroy(request);
        return lq_error_new(LQ_INVALID_ARGUMENT, "networkId: network %s not "
                            "found", p->network_id);
    }
    struct lq_network_spec net;
    struct sset used = SSET_INITIALIZER(&used);
    struct sset macs = SSET_INITIALIZER(&macs);
    struct lq_ip ips[8];
    size_t n_ips = 0;
    char mac[LQ_MAC_STRLEN];

    e = lq_nb_network_spec(ls, &net);
    if (e) {
        json_destroy(request);
        return e;
    }
    used_addresses(ls, &net, &used, &macs);
    e = check_sgs_exist(ctx->nb, p->security_group_ids, p->n_security_groups);
    if (!e) {
        e = resolve_ips(p, &net, &used, ips, &n_ips);
    }
    if (!e) {
        struct lq_mac m = p->mac;
        if (!p->has_mac) {
            do {
                lq_mac_random(&m);
                lq_mac_format(&m, mac);
            } while (sset_contains(&macs, mac));
        }
        lq_mac_format(&m, mac);
        if (p->has_mac && sset_contains(&macs, mac)) {
            e = lq_error_new(LQ_ALREADY_EXISTS, "macAddress: %s is already "
                             "in use on network %s", mac, net.id);
        }
    }
    if (e) {
        goto out;
    }

    struct ds addr = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&addr, mac);
    for (size_t i = 0; i < n_ips; i++) {
        char ip[LQ_IP_STRLEN];
        lq_ip_format(&ips[i], ip);
        ds_put_format(&addr, " %s", ip);
    }
    const char *addresses = ds_cstr(&addr);

    struct smap ext = SMAP_INITIALIZER(&ext);
    char *req_text = lq_json_to_string(request);
    char *sgs = sg_list(p->security_group_ids, p->n_security_groups);
    smap_add(&ext, EXT_PORT_ID, p->id);
    smap_add(&ext, EXT_NETWORK_ID, p->network_id);
    smap_add(&ext, EXT_NAME, p->name);
    smap_add(&ext, EXT_REQUEST, req_text);
    smap_add(&ext, EXT_SGS, sgs);
    if (p->dns_name) {
        smap_add(&ext, EXT_DNS_NAME, p->dns_name);
    }
    free(req_text);
    free(sgs);

    struct ovsdb_idl_txn *txn = lq_net_nb_txn(ctx);
    struct nbrec_logical_switch_port *lsp
        = nbrec_logical_switch_port_insert(txn);
    nbrec_logical_switch_port_set_name(lsp, p->id);
    nbrec_logical_switch_port_set_addresses(lsp, &addresses, 1);
    if (p->port_security_enabled) {
        nbrec_logical_switch_port_set_port_security(lsp, &addresses, 1);
    }
    nbrec_logical_switch_port_set_external_ids(lsp, &ext);
    smap_destroy(&ext);
    set_dhcp(lsp, ctx->nb, &net, ips, n_ips);

    /* Full write of the port list, verified: see the file comment. */
    nbrec_logical_switch_verify_ports(ls);
    struct nbrec_logical_switch_port **ports
        = xmalloc((ls->n_ports + 1) * sizeof *ports);
    if (ls->n_ports) {
        memcpy(ports, ls->ports, ls->n_ports * sizeof *ports);
    }
    ports[ls->n_ports] = lsp;
    nbrec_logical_switch_set_ports(ls, ports, ls->n_ports + 1);
    free(ports);

    if (p->port_security_enabled) {
        lq_nb_ensure_drop_group(ctx);
        nbrec_port_group_update_ports_addvalue(
            lq_nb_find_pg(ctx->nb, LQ_PG_DROP), lsp);
    }
    for (size_t i = 0; i < p->n_security_groups; i++) {
        nbrec_port_group_update_ports_addvalue(
            lq_nb_find_sg(ctx->nb, p->security_group_ids[i]), lsp);
    }
    if (p->dns_name) {
        lq_nb_sync_dns(ctx, ls, &net, NULL, lsp);
    }
    c->response = lq_nb_port_to_json(lsp, &net);
    ds_destroy(&addr);

out:
    json_destroy(request);
    sset_destroy(&used);
    sset_destroy(&macs);
    lq_network_spec_destroy(&net);
    return e;
}

/* Finds the port and its network spec; 'net' must be destroyed. */
static struct lq_error *
find_port(struct lq_net_ctx *ctx, const char *id,
          const struct nbrec_logical_switch_port **lspp,
          const struct nbrec_logical_switch **lsp_ls,
          struct lq_network_spec *net)
{
    memset(net, 0, sizeof *net);
    *lspp = lq_nb_find_port(ctx->nb, id);
    if (!*lspp) {
        return lq_error_new(LQ_NOT_FOUND, "port %s not found", id);
    }
    *lsp_ls = lq_nb_find_network(ctx->nb, smap_get_def(
                                     &(*lspp)->external_ids, EXT_NETWORK_ID,
                                     ""));
    if (!*lsp_ls) {
        return lq_error_new(LQ_INTERNAL, "port %s: its network is gone", id);
    }
    return lq_nb_network_spec(*lsp_ls, net);
}

static struct lq_error *
get_port_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_logical_switch_port *lsp;
    const struct nbrec_logical_switch *ls;
    struct lq_network_spec net;
    struct lq_error *e = find_port(ctx, c->id, &lsp, &ls, &net);
    if (!e) {
        c->response = lq_nb_port_to_json(lsp, &net);
    }
    lq_network_spec_destroy(&net);
    return e;
}

static struct lq_error *
list_ports_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    struct json *list = json_array_create_empty();
    const struct nbrec_logical_switch *ls;

    if (c->network_filter[0]
        && !lq_nb_find_network(ctx->nb, c->network_filter)) {
        json_destroy(list);
        return lq_error_new(LQ_NOT_FOUND, "network %s not found",
                            c->network_filter);
    }
    NBREC_LOGICAL_SWITCH_FOR_EACH (ls, ctx->nb) {
        const char *id = smap_get(&ls->external_ids, EXT_NETWORK_ID);
        struct lq_network_spec net;
        if (!id || (c->network_filter[0] && strcmp(id, c->network_filter))) {
            continue;
        }
        struct lq_error *e = lq_nb_network_spec(ls, &net);
        if (e) {
            lq_error_free(e);
            continue;
        }
        for (size_t i = 0; i < ls->n_ports; i++) {
            if (smap_get(&ls->ports[i]->external_ids, EXT_PORT_ID)) {
                json_array_add(list, lq_nb_port_to_json(ls->ports[i], &net));
            }
        }
        lq_network_spec_destroy(&net);
    }
    lq_nb_sort_by_id(list);
    c->response = json_object_create();
    json_object_put(c->response, "ports", list);
    return NULL;
}

/* UpdatePort: security groups, port security, name, dnsName. */
static struct lq_error *
update_port_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_logical_switch_port *lsp;
    const struct nbrec_logical_switch *ls;
    struct lq_network_spec net;
    struct lq_error *e = find_port(ctx, c->id, &lsp, &ls, &net);
    if (e) {
        lq_network_spec_destroy(&net);
        return e;
    }

    /* Start from the current state; apply the fields of the mask (checked
     * by the RPC layer). */
    const struct lq_port_update *u = &c->update;
    bool port_security = u->set_port_security ? u->port_security
                                              : lsp->n_port_security > 0;
    const char *name = u->set_name ? u->name : NULL;
    const char *dns = u->set_dns_name ? u->dns_name : NULL;
    bool sgs_given = u->set_security_groups;
    if (sgs_given) {
        e = check_sgs_exist(ctx->nb, u->security_group_ids,
                            u->n_security_groups);
    }
    if (!e) {
        size_t n_sgs = sgs_given ? u->n_security_groups
                       : strlen(smap_get_def(&lsp->external_ids, EXT_SGS,
                                             "")) > 0;
        if (!port_security && n_sgs) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "portSecurityEnabled: a port"
                             " with security groups needs port security");
        }
    }
    if (e) {
        lq_network_spec_destroy(&net);
        return e;
    }

    lq_net_nb_txn(ctx);
    struct smap ext;
    smap_clone(&ext, &lsp->external_ids);
    if (name) {
        smap_replace(&ext, EXT_NAME, name);
    }
    bool dns_changed = false;
    if (dns) {
        dns_changed = strcmp(dns, smap_get_def(&ext, EXT_DNS_NAME, ""));
        if (*dns) {
            char *lower = xstrdup(dns);
            for (char *p = lower; *p; p++) {
                *p = tolower((unsigned char) *p);
            }
            smap_replace(&ext, EXT_DNS_NAME, lower);
            free(lower);
        } else {
            smap_remove(&ext, EXT_DNS_NAME);
        }
    }
    if (sgs_given) {
        char *list = sg_list(u->security_group_ids, u->n_security_groups);
        smap_replace(&ext, EXT_SGS, list);
        free(list);

        /* Membership diff over every group of ours. */
        const struct nbrec_port_group *pg;
        NBREC_PORT_GROUP_FOR_EACH (pg, ctx->nb) {
            const char *sg_id = smap_get(&pg->external_ids, EXT_SG_ID);
            if (!sg_id) {
                continue;
            }
            bool want = false, have = false;
            for (size_t i = 0; i < u->n_security_groups; i++) {
                want |= !strcmp(u->security_group_ids[i], sg_id);
            }
            for (size_t i = 0; i < pg->n_ports; i++) {
                have |= pg->ports[i] == lsp;
            }
            if (want && !have) {
                nbrec_port_group_update_ports_addvalue(pg, lsp);
            } else if (!want && have) {
                nbrec_port_group_update_ports_delvalue(pg, lsp);
            }
        }
    }
    nbrec_logical_switch_port_set_external_ids(lsp, &ext);
    smap_destroy(&ext);

    if (port_security != (lsp->n_port_security > 0)) {
        lq_nb_ensure_drop_group(ctx);
        const struct nbrec_port_group *drop = lq_nb_find_pg(ctx->nb,
                                                            LQ_PG_DROP);
        if (port_security) {
            nbrec_logical_switch_port_set_port_security(
                lsp, (const char **) lsp->addresses, lsp->n_addresses);
            nbrec_port_group_update_ports_addvalue(drop, lsp);
        } else {
            nbrec_logical_switch_port_set_port_security(lsp, NULL, 0);
            nbrec_port_group_update_ports_delvalue(drop, lsp);
        }
    }
    if (dns_changed) {
        lq_nb_sync_dns(ctx, ls, &net, lsp, lsp);
    }
    c->response = lq_nb_port_to_json(lsp, &net);
    lq_network_spec_destroy(&net);
    return NULL;
}

static struct lq_error *
delete_port_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_logical_switch_port *lsp;
    const struct nbrec_logical_switch *ls;
    struct lq_network_spec net;
    struct lq_error *e = find_port(ctx, c->id, &lsp, &ls, &net);
    if (!e) {
        lq_net_nb_txn(ctx);
        if (smap_get(&lsp->external_ids, EXT_DNS_NAME)) {
            lq_nb_sync_dns(ctx, ls, &net, lsp, NULL);
        }
        nbrec_logical_switch_update_ports_delvalue(ls, lsp);
        /* If it is plugged here, unplug it too. */
        const struct vsrec_interface *iface
            = ctx->ovs ? lq_vs_find_iface_by_port(ctx->ovs, c->id) : NULL;
        if (iface) {
            lq_vs_unplug(ctx, iface);
        }
    }
    lq_network_spec_destroy(&net);
    return e;
}

/* BindPort.  The name alone is checked first (it goes into OVSDB and
 * /sys paths); what the device is comes later (hostdev.h). */
static struct lq_error *
check_device_name(const char *device)
{
    size_t n = strlen(device);
    if (!n || n >= IF_NAMESIZE || strcspn(device, "/ \t\n:") != n
        || !strcmp(device, ".") || !strcmp(device, "..")) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "deviceName: \"%s\" is not a "
                            "valid network device name", device);
    }
    return NULL;
}

static void
set_binding(const struct nbrec_logical_switch_port *lsp, const char *device,
            const char *vm_id, const char *host)
{
    struct smap ext;
    smap_clone(&ext, &lsp->external_ids);
    if (device) {
        smap_replace(&ext, EXT_DEVICE, device);
        smap_replace(&ext, EXT_HOST, host);
        if (vm_id && *vm_id) {
            smap_replace(&ext, EXT_VM_ID, vm_id);
        } else {
            smap_remove(&ext, EXT_VM_ID);
        }
    } else {
        smap_remove(&ext, EXT_DEVICE);
        smap_remove(&ext, EXT_HOST);
        smap_remove(&ext, EXT_VM_ID);
    }
    if (!smap_equal(&ext, &lsp->external_ids)) {
        nbrec_logical_switch_port_set_external_ids(lsp, &ext);
    }
    smap_destroy(&ext);
}

static struct lq_error *
bind_port_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_logical_switch_port *lsp = lq_nb_find_port(ctx->nb,
                                                                  c->id);
    if (!lsp) {
        return lq_error_new(LQ_NOT_FOUND, "port %s not found", c->id);
    }
    struct lq_error *e = check_device_name(c->device_name);
    if (e) {
        return e;
    }
    if (c->vhost_user && !ctx->options->dpdk) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "deviceType: vhostuser "
                            "needs the DPDK fast path, and this node runs "
                            "without it (dpdk.enabled is false)");
    }
    const struct vsrec_bridge *br = lq_vs_find_bridge(
        ctx->ovs, ctx->options->integration_bridge);
    if (!br) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "integration bridge %s "
                            "does not exist yet",
                            ctx->options->integration_bridge);
    }

    const struct vsrec_interface *by_name = lq_vs_find_iface(ctx->ovs,
                                                             c->device_name);
    const struct vsrec_interface *by_port = lq_vs_find_iface_by_port(ctx->ovs,
                                                                     c->id);
    if (by_name && by_name != by_port) {
        return lq_error_new(LQ_ALREADY_EXISTS, "deviceName: %s is already "
                            "plugged in for port %s", c->device_name,
                            smap_get_def(&by_name->external_ids, "iface-id",
                                         "(none)"));
    }
    if (by_port && by_port != by_name) {
        return lq_error_new(LQ_ALREADY_EXISTS, "port %s is already bound to "
                            "device %s", c->id, by_port->name);
    }
    /* A vhost-user device is created by the binding itself; any other must
     * be a VM's own device, never one of the host's. */
    if (!c->vhost_user
        && (e = lq_vs_check_vm_device(c->device_name, c->id, by_name))) {
        return e;
    }
    if (!by_name) {
        struct lq_port_addrs a;
        char mac[LQ_MAC_STRLEN] = "";
        lq_nb_parse_addresses(lsp->n_addresses ? lsp->addresses[0] : "", &a);
        if (a.has_mac) {
            lq_mac_format(&a.mac, mac);
        }
        if (c->vhost_user) {
            /* Only for a new port: a repeated BindPort for a running VM
             * would count its own pages as missing. */
            if (c->memory_mib) {
                e = lq_vs_dpdk_check_memory(ctx->options->dpdk,
                                            c->memory_mib, "memoryMib");
                if (e) {
                    return e;
                }
            }
            lq_vs_plug_vhost(ctx, br, c->device_name, c->id, mac, c->vm_id);
        } else {
            lq_vs_plug(ctx, br, c->device_name, c->id, mac, c->vm_id);
        }
    } else if (c->vhost_user
               != !strcmp(by_name->type, "dpdkvhostuserclient")) {
        return lq_error_new(LQ_ALREADY_EXISTS, "deviceName: %s is already "
                            "plugged in as a device of type \"%s\"",
                            c->device_name, by_name->type);
    }
    lq_net_nb_txn(ctx);
    set_binding(lsp, c->device_name, c->vm_id, ctx->options->hostname);
    return NULL;
}

/* Done when ovn-controller has installed the flows for the port and the
 * Northbound database says it is up. */
static struct lq_error *
bind_port_ready(struct lq_net_ctx *ctx, void *aux, bool *done)
{
    struct lq_net_call *c = aux;
    const struct vsrec_interface *iface = lq_vs_find_iface(ctx->ovs,
                                                           c->device_name);
    const struct nbrec_logical_switch_port *lsp = lq_nb_find_port(ctx->nb,
                                                                  c->id);
    if (!iface || !lsp) {
        return lq_error_new(LQ_ABORTED, "port %s was unbound or deleted while "
                            "binding", c->id);
    }
    if (iface->error && iface->n_ofport && iface->ofport[0] < 0) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "deviceName: Open vSwitch "
                            "cannot use %s: %s", c->device_name, iface->error);
    }
    *done = smap_get_bool(&iface->external_ids, "ovn-installed", false)
            && lsp->up && *lsp->up;
    if (*done) {
        const struct nbrec_logical_switch *ls;
        struct lq_network_spec net;
        struct lq_error *e = find_port(ctx, c->id, &lsp, &ls, &net);
        if (!e) {
            c->response = lq_nb_port_to_json(lsp, &net);
        }
        lq_network_spec_destroy(&net);
        return e;
    }
    return NULL;
}

static struct lq_error *
unbind_port_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_logical_switch_port *lsp = lq_nb_find_port(ctx->nb,
                                                                  c->id);
    if (!lsp) {
        return lq_error_new(LQ_NOT_FOUND, "port %s not found", c->id);
    }
    const struct vsrec_interface *iface = lq_vs_find_iface_by_port(ctx->ovs,
                                                                   c->id);
    if (iface) {
        lq_vs_unplug(ctx, iface);
    }
    lq_net_nb_txn(ctx);
    set_binding(lsp, NULL, NULL, NULL);
    return NULL;
}

const struct lq_net_op_class lq_op_create_port = {
    "CreatePort", false, create_port_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_get_port = {
    "GetPort", false, get_port_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_list_ports = {
    "ListPorts", false, list_ports_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_update_port = {
    "UpdatePort", false, update_port_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_delete_port = {
    "DeletePort", false, delete_port_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_bind_port = {
    "BindPort", true, bind_port_build, bind_port_ready, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_unbind_port = {
    "UnbindPort", true, unbind_port_build, NULL, lq_nb_call_finish,
};
