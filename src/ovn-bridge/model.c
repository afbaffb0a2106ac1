/* model.c: parsing and canonical JSON for networks, ports and security
 * groups (see model.h).  Validation follows Neutron's rules where the issue
 * is silent: gateway inside its subnet and outside the allocation pools,
 * port security off only without security groups, port ranges only for
 * tcp/udp/sctp, ICMP type/code in 0-255. */
#include <config.h>
#include "model.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "jsonx.h"
#include "openvswitch/dynamic-string.h"
#include "pbjson.h"
#include "util.h"
#include "uuid.h"

#define MAX_NAME 255

struct lq_error *
lq_net_id_parse(const char *field, const char *text, bool required,
                char out[37])
{
    if (!text || !*text) {
        out[0] = '\0';
        return required ? lq_error_new(LQ_INVALID_ARGUMENT, "%s: required",
                                       field) : NULL;
    }
    return lq_uuid_check(field, text, out);
}

/* Free text at 'field' ("" if the message left it out). */
static struct lq_error *
get_text(const char *field, const char *text, size_t max, char **out)
{
    struct lq_error *e = lq_text_check(field, text ? text : "", max);
    if (!e) {
        *out = xstrdup(text ? text : "");
    }
    return e;
}

/* An IP address at PATH.FIELD; "" leaves 'ip' unset (family 0). */
static struct lq_error *
get_ip(const char *path, const char *field, const char *text,
       struct lq_ip *ip)
{
    memset(ip, 0, sizeof *ip);
    if (!text || !*text || lq_ip_parse(text, ip)) {
        return NULL;
    }
    return lq_error_new(LQ_INVALID_ARGUMENT, "%s.%s: expected an IP "
                        "address, got \"%s\"", path, field, text);
}

/* JSON in, through the contract's message: one parser for both codecs. */
static struct lq_error *
message_from_json(const ProtobufCMessageDescriptor *d, const struct json *j,
                  void **msgp)
{
    ProtobufCMessage *m = NULL;
    struct lq_error *e = j && j->type == JSON_OBJECT
                         ? lq_pb_from_json(d, j, 0, &m)
                         : lq_error_new(LQ_INVALID_ARGUMENT,
                                        "expected an object");
    *msgp = m;
    return e;
}

const char *
lq_net_type_name(enum lq_net_type t)
{
    switch (t) {
    case LQ_NET_OVERLAY: return "overlay";
    case LQ_NET_VLAN: return "vlan";
    case LQ_NET_FLAT: return "flat";
    case LQ_NET_ISOLATED: return "isolated";
    }
    return "overlay";
}

/* physicalNetwork ends up in OVN options and ovn-bridge-mappings. */
static struct lq_error *
check_physnet(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "physicalNetwork: \"%s\" is "
                            "not a valid name (1-64 letters, digits, '_', "
                            "'-', '.')", s);
    }
    return NULL;
}

static struct lq_error *
parse_subnet(const Limiquantix__Network__V1__Subnet *m, const char *path,
             unsigned int index, struct lq_subnet *sn)
{
    char *p = xasprintf("%s[%u]", path, index);
    struct lq_error *e = NULL;

    memset(sn, 0, sizeof *sn);
    sn->dhcp_enabled = m->dhcp_enabled ? m->dhcp_enabled->value : true;
    const char *cidr = m->cidr;
    if (!*cidr) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.cidr: required", p);
        goto out;
    }
    char *f = xasprintf("%s.cidr", p);
    e = lq_cidr_parse(f, cidr, &sn->cidr);
    free(f);
    if (e) {
        goto out;
    }
    bool v4 = sn->cidr.ip.family == AF_INET;
    if ((v4 && sn->cidr.plen > 30) || (!v4 && sn->cidr.plen > 126)) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.cidr: /%u leaves no room "
                         "for ports", p, sn->cidr.plen);
        goto out;
    }

    struct lq_ip first = lq_cidr_first(&sn->cidr);
    struct lq_ip last = lq_cidr_last(&sn->cidr);
    struct lq_ip lo = lq_ip_add(&first, 1);
    struct lq_ip hi = v4 ? lq_ip_add(&last, UINT64_MAX) : last;   /* -1 */

    if (!m->gateway_ip) {
        sn->gateway = lo;       /* Neutron's default: the first host. */
        sn->has_gateway = true;
    } else if ((e = get_ip(p, "gatewayIp", m->gateway_ip->value,
                           &sn->gateway))) {
        goto out;
    } else if (sn->gateway.family) {
        sn->has_gateway = true;
        if (!lq_cidr_contains(&sn->cidr, &sn->gateway)
            || lq_ip_cmp(&sn->gateway, &lo) < 0
            || lq_ip_cmp(&sn->gateway, &hi) > 0) {
            char g[LQ_IP_STRLEN];
            lq_ip_format(&sn->gateway, g);
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.gatewayIp: %s is not a "
                             "usable address of %s", p, g, cidr);
            goto out;
        }
    }

    for (size_t i = 0; i < m->n_dns_servers; i++) {
        struct lq_ip ip;
        if (!lq_ip_parse(m->dns_servers[i], &ip)) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.dnsServers[%zu]: "
                             "expected an IP address", p, i);
            goto out;
        }
        sn->dns_servers = xrealloc(sn->dns_servers, (sn->n_dns_servers + 1)
                                   * sizeof *sn->dns_servers);
        sn->dns_servers[sn->n_dns_servers++] = ip;
    }

    for (size_t i = 0; !e && i < m->n_allocation_pools; i++) {
        const Limiquantix__Network__V1__AllocationPool *ap
            = m->allocation_pools[i];
        char *pp = xasprintf("%s.allocationPools[%zu]", p, i);
        struct lq_ip_range r;
        e = get_ip(pp, "start", ap->start, &r.start);
        if (!e) {
            e = get_ip(pp, "end", ap->end, &r.end);
        }
        if (!e && (!r.start.family || !r.end.family)) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: start and end are "
                             "required", pp);
        }
        if (!e && (!lq_cidr_contains(&sn->cidr, &r.start)
                   || !lq_cidr_contains(&sn->cidr, &r.end)
                   || lq_ip_cmp(&r.start, &lo) < 0
                   || lq_ip_cmp(&r.end, &hi) > 0)) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: outside the usable "
                             "addresses of %s", pp, cidr);
        }
        if (!e && lq_ip_cmp(&r.start, &r.end) > 0) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: start is after end",
                             pp);
        }
        if (!e && sn->has_gateway && lq_ip_cmp(&r.start, &sn->gateway) <= 0
            && lq_ip_cmp(&sn->gateway, &r.end) <= 0) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: contains the gateway "
                             "address", pp);
        }
        for (size_t k = 0; !e && k < sn->n_pools; k++) {
            if (lq_ip_cmp(&r.start, &sn->pools[k].end) <= 0
                && lq_ip_cmp(&sn->pools[k].start, &r.end) <= 0) {
                e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: overlaps "
                                 "allocationPools[%zu]", pp, k);
            }
        }
        free(pp);
        if (!e) {
            sn->pools = xrealloc(sn->pools, (sn->n_pools + 1)
                                 * sizeof *sn->pools);
            sn->pools[sn->n_pools++] = r;
        }
    }
    if (!e && !sn->n_pools) {
        /* Default: every usable address but the gateway. */
        struct lq_ip_range whole = { lo, hi };
        if (sn->has_gateway && !lq_ip_cmp(&sn->gateway, &lo)) {
            whole.start = lq_ip_add(&lo, 1);
        }
        sn->pools = xmalloc(sizeof *sn->pools);
        sn->pools[0] = whole;
        sn->n_pools = 1;
        if (sn->has_gateway && lq_ip_cmp(&sn->gateway, &whole.start) > 0
            && lq_ip_cmp(&sn->gateway, &whole.end) <= 0) {
            /* Gateway in the middle: split around it. */
            sn->pools = xrealloc(sn->pools, 2 * sizeof *sn->pools);
            sn->pools[1].start = lq_ip_add(&sn->gateway, 1);
            sn->pools[1].end = whole.end;
            sn->pools[0].end = lq_ip_add(&sn->gateway, UINT64_MAX);
            sn->n_pools = lq_ip_cmp(&sn->pools[1].start,
                                    &sn->pools[1].end) <= 0 ? 2 : 1;
        }
    }
out:
    free(p);
    return e;
}

static void
subnet_destroy(struct lq_subnet *sn)
{
    free(sn->dns_servers);
    free(sn->pools);
}

struct lq_error *
lq_network_spec_from_pb(const Limiquantix__Network__V1__Network *m,
                        struct lq_network_spec *n)
{
    const char *type = m->type, *physnet = m->physical_network;
    const char *domain = m->dns_domain;
    uint32_t vlan = m->vlan_id, mtu = m->mtu;
    struct lq_error *e;

    memset(n, 0, sizeof *n);
    if ((e = lq_net_id_parse("id", m->id, true, n->id))
        || (e = get_text("name", m->name, MAX_NAME, &n->name))) {
        return e;
    }
    if (!type || !*type || !strcmp(type, "overlay")) {
        n->type = LQ_NET_OVERLAY;
    } else if (!strcmp(type, "vlan")) {
        n->type = LQ_NET_VLAN;
    } else if (!strcmp(type, "flat")) {
        n->type = LQ_NET_FLAT;
    } else if (!strcmp(type, "isolated")) {
        n->type = LQ_NET_ISOLATED;
    } else {
        return lq_error_new(LQ_INVALID_ARGUMENT, "type: unknown network type "
                            "\"%s\" (expected overlay, vlan, flat or "
                            "isolated)", type);
    }

    bool provider = n->type == LQ_NET_VLAN || n->type == LQ_NET_FLAT;
    if (n->type == LQ_NET_VLAN) {
        if (vlan < 1 || vlan > 4094) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "vlanId: %u is outside "
                                "1-4094", vlan);
        }
        n->vlan_id = vlan;
    } else if (vlan) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "vlanId: only a vlan "
                            "network has one");
    }
    if (provider) {
        if (!physnet || !*physnet) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "physicalNetwork: "
                                "required for a %s network",
                                lq_net_type_name(n->type));
        }
        if ((e = check_physnet(physnet))) {
            return e;
        }
        n->physical_network = xstrdup(physnet);
    } else if (physnet && *physnet) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "physicalNetwork: only vlan "
                            "and flat networks have one");
    }

    n->mtu = mtu ? mtu : provider ? 1500 : 1442;
    if (n->mtu < 576 || n->mtu > 9000) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "mtu: %u is outside "
                            "576-9000", n->mtu);
    }

    n->dns_domain = xstrdup(domain && *domain ? domain : "internal");
    if ((e = lq_dns_name_check("dnsDomain", n->dns_domain, true))) {
        return e;
    }

    bool have_v4 = false, have_v6 = false;
    for (size_t i = 0; i < m->n_subnets; i++) {
        n->subnets = xrealloc(n->subnets, (n->n_subnets + 1)
                              * sizeof *n->subnets);
        struct lq_subnet *sn = &n->subnets[n->n_subnets++];
        if ((e = parse_subnet(m->subnets[i], "subnets", i, sn))) {
            return e;
        }
        for (size_t k = 0; k + 1 < n->n_subnets; k++) {
            if (lq_cidr_overlaps(&n->subnets[k].cidr, &sn->cidr)) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "subnets[%zu].cidr: "
                                    "overlaps subnets[%zu]", i, k);
            }
        }
        bool *have = sn->cidr.ip.family == AF_INET ? &have_v4 : &have_v6;
        if (*have) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "subnets[%zu]: a network"
                                " has at most one IPv4 and one IPv6 subnet "
                                "(OVN serves one DHCP scope per family on a "
                                "port)", i);
        }
        *have = true;
    }
    return NULL;
}

struct lq_error *
lq_network_spec_from_json(const struct json *j, struct lq_network_spec *n)
{
    Limiquantix__Network__V1__Network *m;
    struct lq_error *e = message_from_json(
        &limiquantix__network__v1__network__descriptor, j, (void **) &m);
    memset(n, 0, sizeof *n);
    if (!e) {
        e = lq_network_spec_from_pb(m, n);
    }
    if (m) {
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    return e;
}

static struct json *
ip_json(const struct lq_ip *ip)
{
    char buf[LQ_IP_STRLEN];
    lq_ip_format(ip, buf);
    return json_string_create(buf);
}

struct json *
lq_network_spec_to_json(const struct lq_network_spec *n)
{
    struct json *j = json_object_create();
    lq_json_put_string(j, "id", n->id);
    lq_json_put_string(j, "name", n->name);
    lq_json_put_string(j, "type", lq_net_type_name(n->type));
    if (n->type == LQ_NET_VLAN) {
        lq_json_put_uint32(j, "vlanId", n->vlan_id);
    }
    if (n->physical_network) {
        lq_json_put_string(j, "physicalNetwork", n->physical_network);
    }
    lq_json_put_uint32(j, "mtu", n->mtu);
    lq_json_put_string(j, "dnsDomain", n->dns_domain);

    struct json *subnets = json_array_create_empty();
    for (size_t i = 0; i < n->n_subnets; i++) {
        const struct lq_subnet *sn = &n->subnets[i];
        struct json *s = json_object_create();
        char cidr[LQ_CIDR_STRLEN];
        lq_cidr_format(&sn->cidr, cidr);
        lq_json_put_string(s, "cidr", cidr);
        if (sn->has_gateway) {
            json_object_put(s, "gatewayIp", ip_json(&sn->gateway));
        } else {
            lq_json_put_string(s, "gatewayIp", "");
        }
        lq_json_put_bool(s, "dhcpEnabled", sn->dhcp_enabled);
        struct json *dns = json_array_create_empty();
        for (size_t k = 0; k < sn->n_dns_servers; k++) {
            json_array_add(dns, ip_json(&sn->dns_servers[k]));
        }
        json_object_put(s, "dnsServers", dns);
        struct json *pools = json_array_create_empty();
        for (size_t k = 0; k < sn->n_pools; k++) {
            struct json *p = json_object_create();
            json_object_put(p, "start", ip_json(&sn->pools[k].start));
            json_object_put(p, "end", ip_json(&sn->pools[k].end));
            json_array_add(pools, p);
        }
        json_object_put(s, "allocationPools", pools);
        json_array_add(subnets, s);
    }
    json_object_put(j, "subnets", subnets);
    return j;
}

void
lq_network_spec_destroy(struct lq_network_spec *n)
{
    free(n->name);
    free(n->physical_network);
    free(n->dns_domain);
    for (size_t i = 0; i < n->n_subnets; i++) {
        subnet_destroy(&n->subnets[i]);
    }
    free(n->subnets);
    memset(n, 0, sizeof *n);
}

/* Ports. */
struct lq_error *
lq_port_sg_ids_parse(const char *field, char *const *ids, size_t n,
                     char (**outp)[37], size_t *n_outp)
{
    char (*out)[37] = n ? xmalloc(n * sizeof *out) : NULL;
    struct lq_error *e = NULL;
    size_t k = 0;
    for (; !e && k < n; k++) {
        char *path = xasprintf("%s[%zu]", field, k);
        e = lq_uuid_check(path, ids[k], out[k]);
        for (size_t i = 0; !e && i < k; i++) {
            if (!strcmp(out[i], out[k])) {
                e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: listed twice",
                                 path);
            }
        }
        free(path);
    }
    if (e) {
        free(out);
        out = NULL;
        n = 0;
    }
    *outp = out;
    *n_outp = n;
    return e;
}

static struct lq_error *
parse_fixed_ip(const Limiquantix__Network__V1__FixedIp *m, const char *path,
               struct lq_fixed_ip *f)
{
    struct lq_error *e = NULL;
    memset(f, 0, sizeof *f);
    if (*m->subnet_cidr) {
        char *fld = xasprintf("%s.subnetCidr", path);
        e = lq_cidr_parse(fld, m->subnet_cidr, &f->subnet);
        free(fld);
        f->has_subnet = true;
    }
    if (!e) {
        e = get_ip(path, "ipAddress", m->ip_address, &f->ip);
        f->has_ip = f->ip.family != 0;
    }
    if (!e && !f->has_ip && !f->has_subnet) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: give ipAddress, "
                         "subnetCidr or both", path);
    }
    if (!e && f->has_ip && f->has_subnet
        && !lq_cidr_contains(&f->subnet, &f->ip)) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.ipAddress: not in "
                         "subnetCidr", path);
    }
    return e;
}

struct lq_error *
lq_port_spec_from_pb(const Limiquantix__Network__V1__Port *m,
                     struct lq_port_spec *p)
{
    struct lq_error *e;

    memset(p, 0, sizeof *p);
    p->port_security_enabled = m->port_security_enabled
                               ? m->port_security_enabled->value : true;
    if ((e = lq_net_id_parse("id", m->id, true, p->id))
        || (e = lq_net_id_parse("networkId", m->network_id, true,
                                p->network_id))
        || (e = get_text("name", m->name, MAX_NAME, &p->name))) {
        return e;
    }
    if (*m->mac_address) {
        if ((e = lq_mac_parse("macAddress", m->mac_address, &p->mac))) {
            return e;
        }
        p->has_mac = true;
    }
    if (*m->dns_name) {
        if ((e = lq_dns_name_check("dnsName", m->dns_name, false))) {
            return e;
        }
        p->dns_name = xstrdup(m->dns_name);
        for (char *c = p->dns_name; *c; c++) {
            *c = tolower((unsigned char) *c);
        }
    }

    if (m->no_fixed_ips && m->n_fixed_ips) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "noFixedIps: true, but "
                            "fixedIps lists addresses");
    }
    p->fixed_ips_given = m->n_fixed_ips || m->no_fixed_ips;
    for (size_t i = 0; i < m->n_fixed_ips; i++) {
        char *path = xasprintf("fixedIps[%zu]", i);
        struct lq_fixed_ip f;
        e = parse_fixed_ip(m->fixed_ips[i], path, &f);
        for (size_t k = 0; !e && f.has_ip && k < p->n_fixed_ips; k++) {
            if (p->fixed_ips[k].has_ip
                && !lq_ip_cmp(&p->fixed_ips[k].ip, &f.ip)) {
                e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.ipAddress: "
                                 "duplicate of fixedIps[%zu]", path, k);
            }
        }
        free(path);
        if (e) {
            return e;
        }
        p->fixed_ips = xrealloc(p->fixed_ips, (p->n_fixed_ips + 1)
                                * sizeof *p->fixed_ips);
        p->fixed_ips[p->n_fixed_ips++] = f;
    }

    if ((e = lq_port_sg_ids_parse("securityGroupIds", m->security_group_ids,
                                  m->n_security_group_ids,
                                  &p->security_group_ids,
                                  &p->n_security_groups))) {
        return e;
    }
    if (!p->port_security_enabled && p->n_security_groups) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "portSecurityEnabled: a "
                            "port with security groups needs port security");
    }
    return NULL;
}

struct lq_error *
lq_port_spec_from_json(const struct json *j, struct lq_port_spec *p)
{
    Limiquantix__Network__V1__Port *m;
    struct lq_error *e = message_from_json(
        &limiquantix__network__v1__port__descriptor, j, (void **) &m);
    memset(p, 0, sizeof *p);
    if (!e) {
        e = lq_port_spec_from_pb(m, p);
    }
    if (m) {
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    return e;
}

struct json *
lq_port_spec_to_json(const struct lq_port_spec *p)
{
    struct json *j = json_object_create();
    char buf[LQ_CIDR_STRLEN];

    lq_json_put_string(j, "id", p->id);
    lq_json_put_string(j, "networkId", p->network_id);
    lq_json_put_string(j, "name", p->name);
    if (p->has_mac) {
        char mac[LQ_MAC_STRLEN];
        lq_mac_format(&p->mac, mac);
        lq_json_put_string(j, "macAddress", mac);
    }
    if (p->fixed_ips_given && !p->n_fixed_ips) {
        lq_json_put_bool(j, "noFixedIps", true);
    } else if (p->fixed_ips_given) {
        struct json *a = json_array_create_empty();
        for (size_t i = 0; i < p->n_fixed_ips; i++) {
            struct json *f = json_object_create();
            if (p->fixed_ips[i].has_subnet) {
                lq_cidr_format(&p->fixed_ips[i].subnet, buf);
                lq_json_put_string(f, "subnetCidr", buf);
            }
            if (p->fixed_ips[i].has_ip) {
                json_object_put(f, "ipAddress", ip_json(&p->fixed_ips[i].ip));
            }
            json_array_add(a, f);
        }
        json_object_put(j, "fixedIps", a);
    }
    struct json *sgs = json_array_create_empty();
    for (size_t i = 0; i < p->n_security_groups; i++) {
        json_array_add(sgs, json_string_create(p->security_group_ids[i]));
    }
    json_object_put(j, "securityGroupIds", sgs);
    lq_json_put_bool(j, "portSecurityEnabled", p->port_security_enabled);
    if (p->dns_name) {
        lq_json_put_string(j, "dnsName", p->dns_name);
    }
    return j;
}

void
lq_port_spec_destroy(struct lq_port_spec *p)
{
    free(p->name);
    free(p->fixed_ips);
    free(p->security_group_ids);
    free(p->dns_name);
    memset(p, 0, sizeof *p);
}

/* Security groups. */
struct lq_error *
lq_sg_rule_from_pb(const Limiquantix__Network__V1__Rule *m, const char *path,
                   struct lq_sg_rule *r)
{
    const char *dir = m->direction, *eth = m->ethertype;
    const char *proto = m->protocol, *prefix = m->remote_ip_prefix;
    int64_t pmin = m->port_range_min ? m->port_range_min->value : -1;
    int64_t pmax = m->port_range_max ? m->port_range_max->value : -1;
    struct lq_error *e;

    memset(r, 0, sizeof *r);
    r->port_min = r->port_max = -1;
    char *f_id = xasprintf("%s.id", path);
    char *f_group = xasprintf("%s.remoteGroupId", path);
    char *f_desc = xasprintf("%s.description", path);
    e = lq_net_id_parse(f_id, m->id, true, r->id);
    if (!e) {
        e = lq_net_id_parse(f_group, m->remote_group_id, false,
                            r->remote_group_id);
    }
    if (!e) {
        e = get_text(f_desc, m->description, MAX_NAME, &r->description);
    }
    free(f_id);
    free(f_group);
    free(f_desc);
    if (e) {
        return e;
    }
    if ((m->port_range_min && pmin < 0) || (m->port_range_max && pmax < 0)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.portRange%s: %"PRId64
                            " is negative", path, pmin < 0 ? "Min" : "Max",
                            pmin < 0 ? pmin : pmax);
    }

    if (!strcmp(dir, "ingress")) {
        r->direction = LQ_INGRESS;
    } else if (!strcmp(dir, "egress")) {
        r->direction = LQ_EGRESS;
    } else {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.direction: expected "
                            "ingress or egress, got \"%s\"", path,
                            dir);
    }
    if (!*eth || !strcmp(eth, "IPv4")) {
        r->family = AF_INET;
    } else if (!strcmp(eth, "IPv6")) {
        r->family = AF_INET6;
    } else {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.ethertype: expected IPv4 "
                            "or IPv6, got \"%s\"", path, eth);
    }

    char *field = xasprintf("%s.protocol", path);
    e = lq_protocol_parse(field, proto, r->family, &r->protocol);
    free(field);
    if (e) {
        return e;
    }

    int n = r->protocol.number;
    bool ported = n == LQ_PROTO_TCP || n == LQ_PROTO_UDP
                  || n == LQ_PROTO_SCTP;
    bool icmp = n == LQ_PROTO_ICMP || n == LQ_PROTO_ICMPV6;
    if (pmin >= 0 || pmax >= 0) {
        if (!ported && !icmp) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.portRangeMin: port "
                                "ranges need protocol tcp, udp, sctp (or "
                                "icmp type/code)", path);
        }
        int64_t limit = icmp ? 255 : 65535;
        if (pmin < 0 && icmp) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.portRangeMax: an "
                                "ICMP code needs a type (portRangeMin)", path);
        }
        if (pmin < 0) {
            pmin = ported ? 0 : pmin;
        }
        if (pmax < 0 && ported) {
            pmax = pmin;
        }
        if (pmin > limit || (pmax > limit)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.portRange%s: outside "
                                "0-%"PRId64, path, pmin > limit ? "Min"
                                : "Max", limit);
        }
        if (ported && pmin > pmax) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.portRangeMin: %"
                                PRId64" is greater than portRangeMax %"PRId64,
                                path, pmin, pmax);
        }
        r->port_min = pmin;
        r->port_max = pmax;
    }

    if (*prefix) {
        char *f = xasprintf("%s.remoteIpPrefix", path);
        e = lq_cidr_parse(f, prefix, &r->remote_prefix);
        free(f);
        if (e) {
            return e;
        }
        if (r->remote_prefix.ip.family != r->family) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.remoteIpPrefix: %s "
                                "does not match ethertype %s", path, prefix,
                                r->family == AF_INET ? "IPv4" : "IPv6");
        }
        r->has_remote_prefix = true;
    }
    if (r->has_remote_prefix && r->remote_group_id[0]) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: give remoteIpPrefix or "
                            "remoteGroupId, not both", path);
    }
    return NULL;
}

struct lq_error *
lq_sg_rule_from_json(const struct json *j, const char *path,
                     struct lq_sg_rule *r)
{
    Limiquantix__Network__V1__Rule *m;
    struct lq_error *e = message_from_json(
        &limiquantix__network__v1__rule__descriptor, j, (void **) &m);
    memset(r, 0, sizeof *r);
    if (!e) {
        e = lq_sg_rule_from_pb(m, path, r);
    } else {
        e = lq_error_prefix(e, "%s", path);
    }
    if (m) {
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    return e;
}

struct json *
lq_sg_rule_to_json(const struct lq_sg_rule *r)
{
    struct json *j = json_object_create();
    char buf[LQ_CIDR_STRLEN];

    lq_json_put_string(j, "id", r->id);
    lq_json_put_string(j, "direction", r->direction == LQ_INGRESS
                                       ? "ingress" : "egress");
    lq_json_put_string(j, "ethertype", r->family == AF_INET ? "IPv4"
                                                            : "IPv6");
    lq_json_put_string(j, "protocol", lq_protocol_name(&r->protocol, buf));
    if (r->port_min >= 0) {
        lq_json_put_uint32(j, "portRangeMin", r->port_min);
    }
    if (r->port_max >= 0) {
        lq_json_put_uint32(j, "portRangeMax", r->port_max);
    }
    if (r->has_remote_prefix) {
        lq_cidr_format(&r->remote_prefix, buf);
        lq_json_put_string(j, "remoteIpPrefix", buf);
    }
    if (r->remote_group_id[0]) {
        lq_json_put_string(j, "remoteGroupId", r->remote_group_id);
    }
    lq_json_put_string(j, "description", r->description);
    return j;
}

void
lq_sg_rule_destroy(struct lq_sg_rule *r)
{
    free(r->description);
    r->description = NULL;
}

struct lq_error *
lq_sg_spec_from_pb(const Limiquantix__Network__V1__SecurityGroup *m,
                   struct lq_sg_spec *sg)
{
    struct lq_error *e;

    memset(sg, 0, sizeof *sg);
    if ((e = lq_net_id_parse("id", m->id, true, sg->id))
        || (e = get_text("name", m->name, MAX_NAME, &sg->name))
        || (e = get_text("description", m->description, MAX_NAME,
                         &sg->description))) {
        return e;
    }
    if (m->no_default_rules && m->n_rules) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "noDefaultRules: true, but "
                            "rules lists rules");
    }
    sg->rules_given = m->n_rules || m->no_default_rules;
    for (size_t i = 0; i < m->n_rules; i++) {
        char *path = xasprintf("rules[%zu]", i);
        sg->rules = xrealloc(sg->rules, (sg->n_rules + 1) * sizeof *sg->rules);
        e = lq_sg_rule_from_pb(m->rules[i], path, &sg->rules[sg->n_rules++]);
        for (size_t k = 0; !e && k + 1 < sg->n_rules; k++) {
            if (!strcmp(sg->rules[k].id, sg->rules[sg->n_rules - 1].id)) {
                e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.id: duplicate rule "
                                 "id", path);
            }
        }
        free(path);
        if (e) {
            return e;
        }
    }
    if (!sg->rules_given) {
        lq_sg_spec_add_default_rules(sg);
    }
    return NULL;
}

struct lq_error *
lq_sg_spec_from_json(const struct json *j, struct lq_sg_spec *sg)
{
    Limiquantix__Network__V1__SecurityGroup *m;
    struct lq_error *e = message_from_json(
        &limiquantix__network__v1__security_group__descriptor, j,
        (void **) &m);
    memset(sg, 0, sizeof *sg);
    if (!e) {
        e = lq_sg_spec_from_pb(m, sg);
    }
    if (m) {
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    return e;
}

void
lq_sg_spec_add_default_rules(struct lq_sg_spec *sg)
{
    for (int i = 0; i < 2; i++) {
        struct uuid u;
        sg->rules = xrealloc(sg->rules, (sg->n_rules + 1) * sizeof *sg->rules);
        struct lq_sg_rule *r = &sg->rules[sg->n_rules++];
        memset(r, 0, sizeof *r);
        uuid_generate(&u);
        snprintf(r->id, sizeof r->id, UUID_FMT, UUID_ARGS(&u));
        r->direction = LQ_EGRESS;
        r->family = i ? AF_INET6 : AF_INET;
        r->protocol.number = -1;
        r->port_min = r->port_max = -1;
        r->description = xstrdup("default: allow all egress");
    }
}

struct json *
lq_sg_spec_to_json(const struct lq_sg_spec *sg)
{
    struct json *j = json_object_create();
    lq_json_put_string(j, "id", sg->id);
    lq_json_put_string(j, "name", sg->name);
    lq_json_put_string(j, "description", sg->description);
    struct json *rules = json_array_create_empty();
    for (size_t i = 0; i < sg->n_rules; i++) {
        json_array_add(rules, lq_sg_rule_to_json(&sg->rules[i]));
    }
    json_object_put(j, "rules", rules);
    if (sg->rules_given && !sg->n_rules) {
        lq_json_put_bool(j, "noDefaultRules", true);
    }
    return j;
}

void
lq_sg_spec_destroy(struct lq_sg_spec *sg)
{
    free(sg->name);
    free(sg->description);
    for (size_t i = 0; i < sg->n_rules; i++) {
        lq_sg_rule_destroy(&sg->rules[i]);
    }
    free(sg->rules);
    memset(sg, 0, sizeof *sg);
}
