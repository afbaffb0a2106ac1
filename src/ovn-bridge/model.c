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
#include "util.h"
#include "uuid.h"

#define MAX_NAME 255

struct lq_error *
lq_json_get_id(const struct json *obj, const char *field, bool required,
               char out[37])
{
    const char *s = NULL;
    struct lq_error *e = lq_json_get_string(obj, field, &s);
    if (e) {
        return e;
    }
    if (!s || !*s) {
        out[0] = '\0';
        return required ? lq_error_new(LQ_INVALID_ARGUMENT, "%s: required",
                                       field) : NULL;
    }
    return lq_uuid_check(field, s, out);
}

/* An optional string field checked as free text. */
static struct lq_error *
get_text(const struct json *obj, const char *field, size_t max, char **out)
{
    const char *s = NULL;
    struct lq_error *e = lq_json_get_string(obj, field, &s);
    if (!e && s) {
        e = lq_text_check(field, s, max);
    }
    if (!e) {
        *out = xstrdup(s ? s : "");
    }
    return e;
}

/* The array at 'field' (NULL if absent); error if not an array. */
static struct lq_error *
get_array(const struct json *obj, const char *field,
          const struct json_array **out)
{
    const struct json *v = lq_json_field(obj, field);
    *out = NULL;
    if (!v) {
        return NULL;
    }
    if (v->type != JSON_ARRAY) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected a list",
                            field);
    }
    *out = json_array(v);
    return NULL;
}

static struct lq_error *
get_ip(const struct json *obj, const char *field, const char *path,
       struct lq_ip *ip, bool *present)
{
    const char *s = NULL;
    struct lq_error *e = lq_json_get_string(obj, field, &s);
    *present = false;
    if (e) {
        return lq_error_prefix(e, "%s", path);
    }
    if (!s) {
        return NULL;
    }
    *present = true;
    if (!*s) {
        return NULL;            /* "" is present-but-empty. */
    }
    if (!lq_ip_parse(s, ip)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.%s: expected an IP "
                            "address, got \"%s\"", path, field, s);
    }
    return NULL;
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
parse_subnet(const struct json *j, const char *path, unsigned int index,
             struct lq_subnet *sn)
{
    char *p = xasprintf("%s[%u]", path, index);
    const char *cidr = NULL;
    struct lq_error *e = NULL;
    bool present;

    memset(sn, 0, sizeof *sn);
    sn->dhcp_enabled = true;
    if (j->type != JSON_OBJECT) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected an object", p);
        goto out;
    }
    e = lq_json_get_string(j, "cidr", &cidr);
    if (!e && !cidr) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.cidr: required", p);
    }
    if (!e) {
        char *f = xasprintf("%s.cidr", p);
        e = lq_cidr_parse(f, cidr, &sn->cidr);
        free(f);
    }
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

    e = get_ip(j, "gatewayIp", p, &sn->gateway, &present);
    if (e) {
        goto out;
    }
    if (!present) {
        sn->gateway = lo;       /* Neutron's default: the first host. */
        sn->has_gateway = true;
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
    e = lq_json_get_bool(j, "dhcpEnabled", &sn->dhcp_enabled);
    if (e) {
        e = lq_error_prefix(e, "%s", p);
        goto out;
    }

    const struct json_array *a;
    e = get_array(j, "dnsServers", &a);
    for (size_t i = 0; !e && a && i < a->n; i++) {
        struct lq_ip ip;
        if (a->elems[i]->type != JSON_STRING
            || !lq_ip_parse(json_string(a->elems[i]), &ip)) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.dnsServers[%zu]: "
                             "expected an IP address", p, i);
            break;
        }
        sn->dns_servers = xrealloc(sn->dns_servers, (sn->n_dns_servers + 1)
                                   * sizeof *sn->dns_servers);
        sn->dns_servers[sn->n_dns_servers++] = ip;
    }
    if (e) {
        goto out;
    }

    e = get_array(j, "allocationPools", &a);
    for (size_t i = 0; !e && a && i < a->n; i++) {
        char *pp = xasprintf("%s.allocationPools[%zu]", p, i);
        struct lq_ip_range r;
        bool has_start, has_end;
        e = get_ip(a->elems[i], "start", pp, &r.start, &has_start);
        if (!e) {
            e = get_ip(a->elems[i], "end", pp, &r.end, &has_end);
        }
        if (!e && (!has_start || !has_end || !r.start.family
                   || !r.end.family)) {
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
lq_network_spec_from_json(const struct json *j, struct lq_network_spec *n)
{
    const char *type = NULL, *physnet = NULL, *domain = NULL;
    uint32_t vlan = 0, mtu = 0;
    struct lq_error *e;

    memset(n, 0, sizeof *n);
    if ((e = lq_json_get_id(j, "id", true, n->id))
        || (e = get_text(j, "name", MAX_NAME, &n->name))
        || (e = lq_json_get_string(j, "type", &type))
        || (e = lq_json_get_uint32(j, "vlanId", &vlan))
        || (e = lq_json_get_string(j, "physicalNetwork", &physnet))
        || (e = lq_json_get_uint32(j, "mtu", &mtu))
        || (e = lq_json_get_string(j, "dnsDomain", &domain))) {
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

    const struct json_array *a;
    if ((e = get_array(j, "subnets", &a))) {
        return e;
    }
    bool have_v4 = false, have_v6 = false;
    for (size_t i = 0; a && i < a->n; i++) {
        n->subnets = xrealloc(n->subnets, (n->n_subnets + 1)
                              * sizeof *n->subnets);
        struct lq_subnet *sn = &n->subnets[n->n_subnets++];
        if ((e = parse_subnet(a->elems[i], "subnets", i, sn))) {
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
lq_port_spec_from_json(const struct json *j, struct lq_port_spec *p)
{
    const char *mac = NULL, *dns = NULL;
    struct lq_error *e;

    memset(p, 0, sizeof *p);
    p->port_security_enabled = true;
    if ((e = lq_json_get_id(j, "id", true, p->id))
        || (e = lq_json_get_id(j, "networkId", true, p->network_id))
        || (e = get_text(j, "name", MAX_NAME, &p->name))
        || (e = lq_json_get_string(j, "macAddress", &mac))
        || (e = lq_json_get_bool(j, "portSecurityEnabled",
                                 &p->port_security_enabled))
        || (e = lq_json_get_string(j, "dnsName", &dns))) {
        return e;
    }
    if (mac && *mac) {
        if ((e = lq_mac_parse("macAddress", mac, &p->mac))) {
            return e;
        }
        p->has_mac = true;
    }
    if (dns && *dns) {
        if ((e = lq_dns_name_check("dnsName", dns, false))) {
            return e;
        }
        p->dns_name = xasprintf("%s", dns);
        for (char *c = p->dns_name; *c; c++) {
            *c = tolower((unsigned char) *c);
        }
    }

    const struct json_array *a;
    if ((e = get_array(j, "fixedIps", &a))) {
        return e;
    }
    p->fixed_ips_given = a != NULL;
    for (size_t i = 0; a && i < a->n; i++) {
        char *path = xasprintf("fixedIps[%zu]", i);
        struct lq_fixed_ip f;
        const char *cidr = NULL;
        bool has_ip;
        memset(&f, 0, sizeof f);
        e = lq_json_get_string(a->elems[i], "subnetCidr", &cidr);
        if (!e && cidr && *cidr) {
            char *fld = xasprintf("%s.subnetCidr", path);
            e = lq_cidr_parse(fld, cidr, &f.subnet);
            free(fld);
            f.has_subnet = true;
        }
        if (!e) {
            e = get_ip(a->elems[i], "ipAddress", path, &f.ip, &has_ip);
            f.has_ip = has_ip && f.ip.family;
        }
        if (!e && !f.has_ip && !f.has_subnet) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: give ipAddress, "
                             "subnetCidr or both", path);
        }
        if (!e && f.has_ip && f.has_subnet
            && !lq_cidr_contains(&f.subnet, &f.ip)) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.ipAddress: not in "
                             "subnetCidr", path);
        }
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

    if ((e = get_array(j, "securityGroupIds", &a))) {
        return e;
    }
    for (size_t i = 0; a && i < a->n; i++) {
        char *path = xasprintf("securityGroupIds[%zu]", i);
        char id[37];
        e = a->elems[i]->type != JSON_STRING
            ? lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected a string", path)
            : lq_uuid_check(path, json_string(a->elems[i]), id);
        for (size_t k = 0; !e && k < p->n_security_groups; k++) {
            if (!strcmp(p->security_group_ids[k], id)) {
                e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: listed twice",
                                 path);
            }
        }
        free(path);
        if (e) {
            return e;
        }
        p->security_group_ids = xrealloc(p->security_group_ids,
                                         (p->n_security_groups + 1)
                                         * sizeof *p->security_group_ids);
        strcpy(p->security_group_ids[p->n_security_groups++], id);
    }
    if (!p->port_security_enabled && p->n_security_groups) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "portSecurityEnabled: a "
                            "port with security groups needs port security");
    }
    return NULL;
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
    if (p->fixed_ips_given) {
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
lq_sg_rule_from_json(const struct json *j, const char *path,
                     struct lq_sg_rule *r)
{
    const char *dir = NULL, *eth = NULL, *proto = NULL, *prefix = NULL;
    int64_t pmin = -1, pmax = -1;
    struct lq_error *e;

    memset(r, 0, sizeof *r);
    r->port_min = r->port_max = -1;
    if (!j || j->type != JSON_OBJECT) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected an object",
                            path);
    }
    if ((e = lq_json_get_id(j, "id", true, r->id))
        || (e = lq_json_get_string(j, "direction", &dir))
        || (e = lq_json_get_string(j, "ethertype", &eth))
        || (e = lq_json_get_string(j, "protocol", &proto))
        || (e = lq_json_get_int64(j, "portRangeMin", &pmin))
        || (e = lq_json_get_int64(j, "portRangeMax", &pmax))
        || (e = lq_json_get_string(j, "remoteIpPrefix", &prefix))
        || (e = lq_json_get_id(j, "remoteGroupId", false,
                               r->remote_group_id))
        || (e = get_text(j, "description", MAX_NAME, &r->description))) {
        return lq_error_prefix(e, "%s", path);
    }

    if (dir && !strcmp(dir, "ingress")) {
        r->direction = LQ_INGRESS;
    } else if (dir && !strcmp(dir, "egress")) {
        r->direction = LQ_EGRESS;
    } else {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.direction: expected "
                            "ingress or egress, got \"%s\"", path,
                            dir ? dir : "");
    }
    if (!eth || !*eth || !strcmp(eth, "IPv4")) {
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

    if (prefix && *prefix) {
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
lq_sg_spec_from_json(const struct json *j, struct lq_sg_spec *sg)
{
    struct lq_error *e;
    const struct json_array *a;

    memset(sg, 0, sizeof *sg);
    if ((e = lq_json_get_id(j, "id", true, sg->id))
        || (e = get_text(j, "name", MAX_NAME, &sg->name))
        || (e = get_text(j, "description", MAX_NAME, &sg->description))
        || (e = get_array(j, "rules", &a))) {
        return e;
    }
    sg->rules_given = a != NULL;
    for (size_t i = 0; a && i < a->n; i++) {
        char *path = xasprintf("rules[%zu]", i);
        sg->rules = xrealloc(sg->rules, (sg->n_rules + 1) * sizeof *sg->rules);
        e = lq_sg_rule_from_json(a->elems[i], path, &sg->rules[sg->n_rules++]);
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
