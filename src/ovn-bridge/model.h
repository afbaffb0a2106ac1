/* model.h: the QuantumNet object model as typed, validated specs.
 *
 * Requests arrive as the contract's messages (proto/limiquantix/network/
 * v1, decoded by the transport from either codec) and are checked into
 * these structs here (every error names the field in its JSON spelling),
 * with the defaults applied; the _from_json() forms take the same message
 * as proto3 JSON, through the one mapping (pbjson), for the in-process C
 * API and the records we stored.  The canonical JSON of a spec (to_json)
 * is what we store in the Northbound external_ids and compare for
 * idempotency.  Nothing here touches OVN. */
#ifndef LQ_OVN_MODEL_H
#define LQ_OVN_MODEL_H 1

#include <stdbool.h>
#include <stddef.h>
#include "limiquantix/error.h"
#include "net_types.h"
#include "openvswitch/json.h"
#include "limiquantix_network_v1_network.pb-c.h"

enum lq_net_type { LQ_NET_OVERLAY, LQ_NET_VLAN, LQ_NET_FLAT, LQ_NET_ISOLATED };

struct lq_ip_range {
    struct lq_ip start, end;
};

struct lq_subnet {
    struct lq_cidr cidr;
    struct lq_ip gateway;
    bool has_gateway;
    bool dhcp_enabled;
    struct lq_ip *dns_servers;
    size_t n_dns_servers;
    struct lq_ip_range *pools;      /* Defaulted to the whole usable range. */
    size_t n_pools;
};

struct lq_network_spec {
    char id[37];
    char *name;
    enum lq_net_type type;
    unsigned int vlan_id;           /* LQ_NET_VLAN only. */
    char *physical_network;         /* vlan and flat. */
    unsigned int mtu;
    struct lq_subnet *subnets;
    size_t n_subnets;
    char *dns_domain;
};

struct lq_error *lq_network_spec_from_pb(
    const Limiquantix__Network__V1__Network *, struct lq_network_spec *);
struct lq_error *lq_network_spec_from_json(const struct json *,
                                           struct lq_network_spec *);
struct json *lq_network_spec_to_json(const struct lq_network_spec *);
void lq_network_spec_destroy(struct lq_network_spec *);
const char *lq_net_type_name(enum lq_net_type);

struct lq_fixed_ip {
    struct lq_cidr subnet;          /* Filled from the network if omitted. */
    bool has_subnet;
    struct lq_ip ip;
    bool has_ip;                    /* false: allocate on that subnet. */
};

struct lq_port_spec {
    char id[37];
    char network_id[37];
    char *name;
    struct lq_mac mac;
    bool has_mac;                   /* false: generate. */
    struct lq_fixed_ip *fixed_ips;
    size_t n_fixed_ips;
    bool fixed_ips_given;           /* false: one address per subnet. */
    char (*security_group_ids)[37];
    size_t n_security_groups;
    bool port_security_enabled;
    char *dns_name;                 /* NULL: none. */
};

struct lq_error *lq_port_spec_from_pb(const Limiquantix__Network__V1__Port *,
                                      struct lq_port_spec *);
/* A securityGroupIds list at 'field': UUIDs, none twice ('*outp'
 * malloc'ed). */
struct lq_error *lq_port_sg_ids_parse(const char *field,
                                      char *const *ids, size_t n,
                                      char (**outp)[37], size_t *n_outp);
struct lq_error *lq_port_spec_from_json(const struct json *,
                                        struct lq_port_spec *);
/* The request as given (for idempotency comparison). */
struct json *lq_port_spec_to_json(const struct lq_port_spec *);
void lq_port_spec_destroy(struct lq_port_spec *);

enum lq_direction { LQ_INGRESS, LQ_EGRESS };

struct lq_sg_rule {
    char id[37];
    enum lq_direction direction;
    int family;                     /* AF_INET / AF_INET6 (ethertype) */
    struct lq_protocol protocol;
    int port_min, port_max;         /* -1: unset.  ICMP: type / code. */
    struct lq_cidr remote_prefix;
    bool has_remote_prefix;
    char remote_group_id[37];       /* "" if none. */
    char *description;
};

struct lq_error *lq_sg_rule_from_pb(const Limiquantix__Network__V1__Rule *,
                                    const char *path, struct lq_sg_rule *);
struct lq_error *lq_sg_rule_from_json(const struct json *, const char *field,
                                      struct lq_sg_rule *);
struct json *lq_sg_rule_to_json(const struct lq_sg_rule *);
void lq_sg_rule_destroy(struct lq_sg_rule *);

struct lq_sg_spec {
    char id[37];
    char *name;
    char *description;
    struct lq_sg_rule *rules;
    size_t n_rules;
    bool rules_given;               /* false: the two egress defaults. */
};

struct lq_error *lq_sg_spec_from_pb(
    const Limiquantix__Network__V1__SecurityGroup *, struct lq_sg_spec *);
struct lq_error *lq_sg_spec_from_json(const struct json *,
                                      struct lq_sg_spec *);
struct json *lq_sg_spec_to_json(const struct lq_sg_spec *);
void lq_sg_spec_destroy(struct lq_sg_spec *);
/* Adds the Neutron defaults: allow all egress, IPv4 and IPv6. */
void lq_sg_spec_add_default_rules(struct lq_sg_spec *);

/* A caller's id (a UUID) at 'field'; "" or NULL is an error if
 * 'required', else out = "". */
struct lq_error *lq_net_id_parse(const char *field, const char *text,
                                 bool required, char out[37]);

#endif
