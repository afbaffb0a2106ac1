/* nb.h: shared vocabulary of the Northbound writers.
 *
 * Every row we write carries external_ids with our ids; these keys are how
 * we find, reconcile and garbage-collect our own rows and never touch
 * anyone else's.  Logical switches are named lqnet-<network id>, logical
 * switch ports are named by the port id (so iface-id = port id, as with
 * Neutron), port groups pg_<sg id>. */
#ifndef LQ_OVN_NB_H
#define LQ_OVN_NB_H 1

#include "engine.h"
#include "lq-ovn-nb-idl.h"
#include "model.h"
#include "openvswitch/json.h"
#include "smap.h"

#define EXT_NETWORK_ID "limiquantix:network_id"
#define EXT_PORT_ID "limiquantix:port_id"
#define EXT_SG_ID "limiquantix:sg_id"
#define EXT_RULE_ID "limiquantix:sg_rule_id"
#define EXT_SPEC "limiquantix:spec"          /* canonical JSON */
#define EXT_REQUEST "limiquantix:request"    /* create request, canonical */
#define EXT_RULE "limiquantix:rule"          /* one rule, canonical JSON */
#define EXT_NAME "limiquantix:name"
#define EXT_SUBNET "limiquantix:subnet_cidr"
#define EXT_DNS_NAME "limiquantix:dns_name"
#define EXT_SGS "limiquantix:security_group_ids"
#define EXT_DEVICE "limiquantix:device_name"
#define EXT_VM_ID "limiquantix:vm_id"
#define EXT_HOST "limiquantix:binding_host"
#define EXT_REMOTE_GROUP "limiquantix:remote_group_id"
#define EXT_OWNER "limiquantix:owner"        /* rows of our own making */

void lq_nb_switch_name(const char *network_id, char name[48]);
void lq_nb_localnet_name(const char *network_id, char name[64]);

const struct nbrec_logical_switch *lq_nb_find_network(struct ovsdb_idl *,
                                                      const char *id);
const struct nbrec_logical_switch_port *lq_nb_find_port(struct ovsdb_idl *,
                                                        const char *id);
const struct nbrec_port_group *lq_nb_find_sg(struct ovsdb_idl *,
                                             const char *id);
const struct nbrec_port_group *lq_nb_find_pg(struct ovsdb_idl *,
                                             const char *name);
const struct nbrec_dns *lq_nb_find_dns(struct ovsdb_idl *,
                                       const char *network_id);
const struct nbrec_dhcp_options *lq_nb_find_dhcp(struct ovsdb_idl *,
                                                 const char *network_id,
                                                 const char *cidr);

/* The network spec stored on a switch (NULL error on success). */
struct lq_error *lq_nb_network_spec(const struct nbrec_logical_switch *,
                                    struct lq_network_spec *);

/* Parses "MAC IP..." address entries of a port. */
struct lq_port_addrs {
    struct lq_mac mac;
    bool has_mac;
    struct lq_ip ips[8];
    size_t n_ips;
};
void lq_nb_parse_addresses(const char *entry, struct lq_port_addrs *);

/* The JSON of a port as the API returns it. */
struct json *lq_nb_port_to_json(const struct nbrec_logical_switch_port *,
                                const struct lq_network_spec *);
struct json *lq_nb_sg_to_json(const struct nbrec_port_group *);

/* Sorts an array of objects by their "id" member (stable List output). */
void lq_nb_sort_by_id(struct json *array);

/* Is 'json' (canonical) equal to the stored canonical string? */
bool lq_nb_same_json(const struct json *, const char *stored);

/* Ensures the shared drop port group and its ACLs exist. */
void lq_nb_ensure_drop_group(struct lq_net_ctx *);

/* Recomputes the DNS records of a network from its ports. */
void lq_nb_sync_dns(struct lq_net_ctx *, const struct nbrec_logical_switch *,
                    const struct lq_network_spec *,
                    const struct nbrec_logical_switch_port *removed,
                    const struct nbrec_logical_switch_port *added);

/* The state of one network API call, shared by every operation class:
 * the parsed request in, the response JSON out. */
struct lq_rpc_call;
/* What UpdatePort changes (the fields its mask names). */
struct lq_port_update {
    bool set_name, set_dns_name, set_security_groups, set_port_security;
    char *name;
    char *dns_name;                 /* "" clears it. */
    char (*security_group_ids)[37];
    size_t n_security_groups;
    bool port_security;
};

struct lq_net_call {
    struct lq_rpc_call *rpc;        /* NULL for internal operations. */
    char id[37];                    /* Target of Get/Delete/Bind/... */
    char network_filter[37];        /* ListPorts. */
    struct lq_network_spec net;
    struct lq_port_spec port;
    struct lq_sg_spec sg;
    struct lq_sg_rule rule;
    struct lq_port_update update;   /* UpdatePort */
    char *device_name;              /* BindPort */
    char *vm_id;
    bool vhost_user;                /* deviceType "vhostuser" (DPDK). */
    uint64_t memory_mib;            /* The VM's memory, for its hugepages. */
    /* Set by build(): the object's JSON as we store it, which
     * lq_nb_call_finish() decodes into 'output' (the method's output
     * message) for the RPC. */
    struct json *response;
    const ProtobufCMessageDescriptor *output;
};
void lq_net_call_destroy(struct lq_net_call *);
/* finish() of every API operation: answers the RPC, frees the call. */
void lq_nb_call_finish(struct lq_error *, void *call);

/* Operation classes, used by rpc_network.c. */
extern const struct lq_net_op_class lq_op_create_network;
extern const struct lq_net_op_class lq_op_get_network;
extern const struct lq_net_op_class lq_op_list_networks;
extern const struct lq_net_op_class lq_op_delete_network;
extern const struct lq_net_op_class lq_op_reconcile;
extern const struct lq_net_op_class lq_op_create_port;
extern const struct lq_net_op_class lq_op_get_port;
extern const struct lq_net_op_class lq_op_list_ports;
extern const struct lq_net_op_class lq_op_update_port;
extern const struct lq_net_op_class lq_op_delete_port;
extern const struct lq_net_op_class lq_op_bind_port;
extern const struct lq_net_op_class lq_op_unbind_port;
extern const struct lq_net_op_class lq_op_create_sg;
extern const struct lq_net_op_class lq_op_get_sg;
extern const struct lq_net_op_class lq_op_list_sgs;
extern const struct lq_net_op_class lq_op_delete_sg;
extern const struct lq_net_op_class lq_op_add_rule;
extern const struct lq_net_op_class lq_op_remove_rule;
extern const struct lq_net_op_class lq_op_setup_chassis;

/* Queues the start-up work: chassis settings (with a local switch) and the
 * Northbound reconcile. */
void lq_network_start(struct lq_network *,
                      void (*chassis_ready)(void *, bool ok),
                      void *aux);

#endif
