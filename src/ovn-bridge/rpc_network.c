/* rpc_network.c: limiquantix.network.v1 VirtualNetworkService, PortService
 * and SecurityGroupService.
 *
 * Each handler reads the request message (decoded by the transport from
 * either codec) into typed specs (any error names the field in its JSON
 * spelling, and nothing reaches OVN), then submits one engine operation;
 * the RPC is answered when the operation finishes on the event loop, with
 * the object decoded into the method's output message.
 *
 * The in-process C API (lq_network_call(), for compute) takes the same
 * requests as proto3 JSON objects: they are decoded into the same input
 * messages by the one mapping (pbjson) and checked by the same code. */
#include <config.h>
#include "rpc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "limiquantix/node.h"
#include "limiquantix/network.h"
#include "limiquantix_network_v1_network.pb-c.h"
#include "nb.h"
#include "pbjson.h"
#include "util.h"

#define NET_SERVICE "limiquantix.network.v1.VirtualNetworkService"
#define PORT_SERVICE "limiquantix.network.v1.PortService"
#define SG_SERVICE "limiquantix.network.v1.SecurityGroupService"

#define OP_TIMEOUT_MS 30000
#define BIND_TIMEOUT_MS 60000

/* Reads a request message into the call. */
typedef struct lq_error *parse_fn(const ProtobufCMessage *,
                                  struct lq_net_call *);

static struct lq_error *
parse_network(const ProtobufCMessage *m, struct lq_net_call *c)
{
    return lq_network_spec_from_pb((const void *) m, &c->net);
}

static struct lq_error *
parse_port(const ProtobufCMessage *m, struct lq_net_call *c)
{
    return lq_port_spec_from_pb((const void *) m, &c->port);
}

static struct lq_error *
parse_sg(const ProtobufCMessage *m, struct lq_net_call *c)
{
    return lq_sg_spec_from_pb((const void *) m, &c->sg);
}

static struct lq_error *
parse_id(const ProtobufCMessage *m, struct lq_net_call *c)
{
    const Limiquantix__Network__V1__IdRequest *r = (const void *) m;
    return lq_net_id_parse("id", r->id, true, c->id);
}

static struct lq_error *
parse_unbind(const ProtobufCMessage *m, struct lq_net_call *c)
{
    const Limiquantix__Network__V1__UnbindPortRequest *r = (const void *) m;
    return lq_net_id_parse("portId", r->port_id, true, c->id);
}

static struct lq_error *
parse_list_ports(const ProtobufCMessage *m, struct lq_net_call *c)
{
    const Limiquantix__Network__V1__ListPortsRequest *r = (const void *) m;
    return lq_net_id_parse("networkId", r->network_id, false,
                           c->network_filter);
}

static struct lq_error *
parse_nothing(const ProtobufCMessage *m OVS_UNUSED,
              struct lq_net_call *c OVS_UNUSED)
{
    return NULL;
}

/* The fields UpdatePort may change, by their proto names. */
enum update_field { UPD_NAME, UPD_DNS_NAME, UPD_SGS, UPD_PORT_SECURITY };
static const char *const update_fields[] = {
    "name", "dns_name", "security_group_ids", "port_security_enabled",
};

/* The fields an UpdatePortRequest changes: those of its mask ("*": all of
 * them), or without a mask those the port message sets (AIP-134). */
static struct lq_error *
update_mask_read(const Limiquantix__Network__V1__UpdatePortRequest *r,
                 bool set[ARRAY_SIZE(update_fields)])
{
    const Limiquantix__Network__V1__Port *p = r->port;
    memset(set, 0, ARRAY_SIZE(update_fields) * sizeof *set);
    if (!r->update_mask || !r->update_mask->n_paths) {
        set[UPD_NAME] = *p->name;
        set[UPD_DNS_NAME] = *p->dns_name;
        set[UPD_SGS] = p->n_security_group_ids > 0;
        set[UPD_PORT_SECURITY] = p->port_security_enabled != NULL;
        return NULL;
    }
    for (size_t i = 0; i < r->update_mask->n_paths; i++) {
        const char *path = r->update_mask->paths[i];
        bool known = false;
        for (size_t k = 0; k < ARRAY_SIZE(update_fields); k++) {
            if (!strcmp(path, "*") || !strcmp(path, update_fields[k])) {
                set[k] = known = true;
            }
        }
        if (!known) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "updateMask: \"%s\" is "
                                "not a field UpdatePort changes (name, "
                                "dns_name, security_group_ids, "
                                "port_security_enabled or *)", path);
        }
    }
    return NULL;
}

static struct lq_error *
parse_update_port(const ProtobufCMessage *m, struct lq_net_call *c)
{
    const Limiquantix__Network__V1__UpdatePortRequest *r = (const void *) m;
    const Limiquantix__Network__V1__Port *p = r->port;
    struct lq_port_update *u = &c->update;
    if (!p) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "port: required");
    }
    bool set[ARRAY_SIZE(update_fields)];
    struct lq_error *e = lq_net_id_parse("port.id", p->id, true, c->id);
    if (!e) {
        e = update_mask_read(r, set);
    }
    if (!e && set[UPD_NAME]) {
        e = lq_text_check("port.name", p->name, 255);
        u->set_name = true;
        u->name = xstrdup(p->name);
    }
    if (!e && set[UPD_DNS_NAME]) {
        if (*p->dns_name) {
            e = lq_dns_name_check("port.dnsName", p->dns_name, false);
        }
        u->set_dns_name = true;
        u->dns_name = xstrdup(p->dns_name);
    }
    if (!e && set[UPD_SGS]) {
        e = lq_port_sg_ids_parse("port.securityGroupIds",
                                 p->security_group_ids,
                                 p->n_security_group_ids,
                                 &u->security_group_ids,
                                 &u->n_security_groups);
        u->set_security_groups = true;
    }
    if (!e && set[UPD_PORT_SECURITY]) {
        /* In the mask but left out: the default, as on create. */
        u->set_port_security = true;
        u->port_security = p->port_security_enabled
                           ? p->port_security_enabled->value : true;
    }
    return e;
}

static struct lq_error *
parse_bind(const ProtobufCMessage *m, struct lq_net_call *c)
{
    const Limiquantix__Network__V1__BindPortRequest *r = (const void *) m;
    struct lq_error *e = lq_net_id_parse("portId", r->port_id, true, c->id);
    if (!e && !*r->device_name) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "deviceName: required");
    }
    if (!e && *r->vm_id) {
        e = lq_text_check("vmId", r->vm_id, 64);
    }
    const char *type = r->device_type;
    if (!e && *type && strcmp(type, "netdev") && strcmp(type, "vhostuser")) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "deviceType: expected netdev "
                         "or vhostuser, got \"%s\"", type);
    }
    if (!e) {
        c->device_name = xstrdup(r->device_name);
        c->vm_id = xstrdup(r->vm_id);
        c->vhost_user = !strcmp(type, "vhostuser");
        c->memory_mib = r->memory_mib;
    }
    return e;
}

static struct lq_error *
parse_add_rule(const ProtobufCMessage *m, struct lq_net_call *c)
{
    const Limiquantix__Network__V1__AddRuleRequest *r = (const void *) m;
    struct lq_error *e = lq_net_id_parse("securityGroupId",
                                         r->security_group_id, true, c->id);
    if (!e) {
        e = r->rule ? lq_sg_rule_from_pb(r->rule, "rule", &c->rule)
                    : lq_error_new(LQ_INVALID_ARGUMENT, "rule: required");
    }
    return e;
}

static struct lq_error *
parse_remove_rule(const ProtobufCMessage *m, struct lq_net_call *c)
{
    const Limiquantix__Network__V1__RemoveRuleRequest *r = (const void *) m;
    struct lq_error *e = lq_net_id_parse("securityGroupId",
                                         r->security_group_id, true, c->id);
    if (!e) {
        e = lq_net_id_parse("ruleId", r->rule_id, true, c->rule.id);
    }
    return e;
}

/* Every network method: its service, how to read its request and which
 * operation runs it.  Both the RPC handlers and the in-process C API use
 * this table. */
struct net_method {
    const char *service;
    const char *name;
    parse_fn *parse;
    const struct lq_net_op_class *class;
    long long timeout_ms;
};

static const struct net_method net_methods[] = {
    { NET_SERVICE, "CreateNetwork", parse_network, &lq_op_create_network,
      OP_TIMEOUT_MS },
    { NET_SERVICE, "GetNetwork", parse_id, &lq_op_get_network,
      OP_TIMEOUT_MS },
    { NET_SERVICE, "ListNetworks", parse_nothing, &lq_op_list_networks,
      OP_TIMEOUT_MS },
    { NET_SERVICE, "DeleteNetwork", parse_id, &lq_op_delete_network,
      OP_TIMEOUT_MS },
    { PORT_SERVICE, "CreatePort", parse_port, &lq_op_create_port,
      OP_TIMEOUT_MS },
    { PORT_SERVICE, "GetPort", parse_id, &lq_op_get_port, OP_TIMEOUT_MS },
    { PORT_SERVICE, "ListPorts", parse_list_ports, &lq_op_list_ports,
      OP_TIMEOUT_MS },
    { PORT_SERVICE, "UpdatePort", parse_update_port, &lq_op_update_port,
      OP_TIMEOUT_MS },
    { PORT_SERVICE, "DeletePort", parse_id, &lq_op_delete_port,
      OP_TIMEOUT_MS },
    { PORT_SERVICE, "BindPort", parse_bind, &lq_op_bind_port,
      BIND_TIMEOUT_MS },
    { PORT_SERVICE, "UnbindPort", parse_unbind, &lq_op_unbind_port,
      OP_TIMEOUT_MS },
    { SG_SERVICE, "CreateSecurityGroup", parse_sg, &lq_op_create_sg,
      OP_TIMEOUT_MS },
    { SG_SERVICE, "GetSecurityGroup", parse_id, &lq_op_get_sg,
      OP_TIMEOUT_MS },
    { SG_SERVICE, "ListSecurityGroups", parse_nothing, &lq_op_list_sgs,
      OP_TIMEOUT_MS },
    { SG_SERVICE, "DeleteSecurityGroup", parse_id, &lq_op_delete_sg,
      OP_TIMEOUT_MS },
    { SG_SERVICE, "AddRule", parse_add_rule, &lq_op_add_rule,
      OP_TIMEOUT_MS },
    { SG_SERVICE, "RemoveRule", parse_remove_rule, &lq_op_remove_rule,
      OP_TIMEOUT_MS },
};

static const struct net_method *
find_method(const char *service, const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(net_methods); i++) {
        if ((!service || !strcmp(net_methods[i].service, service))
            && !strcmp(net_methods[i].name, name)) {
            return &net_methods[i];
        }
    }
    return NULL;
}

/* A new call for 'm' with 'request' read into it, or NULL and '*errorp'. */
static struct lq_net_call *
call_create(const struct net_method *m, const ProtobufCMessage *request,
            struct lq_error **errorp)
{
    struct lq_net_call *c = xzalloc(sizeof *c);
    *errorp = m->parse(request, c);
    if (*errorp) {
        lq_net_call_destroy(c);
        return NULL;
    }
    return c;
}

static struct lq_error *
network_call(struct lq_network *net, const char *method,
             const struct json *request, struct json **responsep,
             bool threaded)
{
    const struct net_method *m = find_method(NULL, method);
    *responsep = NULL;
    if (!m) {
        return lq_error_new(LQ_UNIMPLEMENTED, "unknown network method \"%s\"",
                            method);
    }
    const ProtobufCMethodDescriptor *pm = lq_pb_find_method(m->service,
                                                            m->name);
    ProtobufCMessage *msg = NULL;
    struct lq_error *e = lq_pb_from_json(pm->input, request, 0, &msg);
    struct lq_net_call *c = e ? NULL : call_create(m, msg, &e);
    if (msg) {
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    if (!c) {
        return e;
    }
    e = (threaded ? lq_network_execute_threaded : lq_network_execute)(
        net, m->class, c, m->timeout_ms);
    if (!e) {
        *responsep = c->response ? c->response : json_object_create();
        c->response = NULL;
    }
    lq_net_call_destroy(c);
    return e;
}

struct lq_error *
lq_network_call(struct lq_network *net, const char *method,
                const struct json *request, struct json **responsep)
{
    return network_call(net, method, request, responsep, false);
}

struct lq_error *
lq_network_call_threaded(struct lq_network *net, const char *method,
                         const struct json *request, struct json **responsep)
{
    return network_call(net, method, request, responsep, true);
}

/* RPC: reads the request and submits the operation, or answers with the
 * error. */
static void
rpc_submit(struct lq_node *node, const ProtobufCMessage *request,
           struct lq_rpc_call *rpc, const char *service, const char *name)
{
    const struct net_method *m = find_method(service, name);
    struct lq_network *net = lq_node_network(node);
    if (!net) {
        lq_rpc_call_complete(rpc, lq_error_new(
                                 LQ_FAILED_PRECONDITION, "networking is not "
                                 "configured on this node (set "
                                 "network.ovn_nb_db or run with --sandbox)"),
                             NULL);
        return;
    }
    struct lq_error *e;
    struct lq_net_call *c = call_create(m, request, &e);
    if (!c) {
        lq_rpc_call_complete(rpc, e, NULL);
        return;
    }
    c->rpc = rpc;
    c->output = lq_pb_find_method(service, name)->output;
    lq_network_submit(net, m->class, c, m->timeout_ms);
}

#define HANDLER(FN, SERVICE, METHOD)                                      \
    static void                                                           \
    FN(struct lq_node *node, const ProtobufCMessage *request,             \
       struct lq_rpc_call *rpc)                                           \
    {                                                                     \
        rpc_submit(node, request, rpc, SERVICE, METHOD);                  \
    }

HANDLER(create_network, NET_SERVICE, "CreateNetwork")
HANDLER(get_network, NET_SERVICE, "GetNetwork")
HANDLER(list_networks, NET_SERVICE, "ListNetworks")
HANDLER(delete_network, NET_SERVICE, "DeleteNetwork")
HANDLER(create_port, PORT_SERVICE, "CreatePort")
HANDLER(get_port, PORT_SERVICE, "GetPort")
HANDLER(list_ports, PORT_SERVICE, "ListPorts")
HANDLER(update_port, PORT_SERVICE, "UpdatePort")
HANDLER(delete_port, PORT_SERVICE, "DeletePort")
HANDLER(bind_port, PORT_SERVICE, "BindPort")
HANDLER(unbind_port, PORT_SERVICE, "UnbindPort")
HANDLER(create_sg, SG_SERVICE, "CreateSecurityGroup")
HANDLER(get_sg, SG_SERVICE, "GetSecurityGroup")
HANDLER(list_sgs, SG_SERVICE, "ListSecurityGroups")
HANDLER(delete_sg, SG_SERVICE, "DeleteSecurityGroup")
HANDLER(add_rule, SG_SERVICE, "AddRule")
HANDLER(remove_rule, SG_SERVICE, "RemoveRule")

#define ASYNC(SERVICE, NAME, FN) \
    { .service = SERVICE, .name = NAME, .async_handler = FN }

static const struct lq_rpc_method network_methods[] = {
    ASYNC(NET_SERVICE, "CreateNetwork", create_network),
    ASYNC(NET_SERVICE, "GetNetwork", get_network),
    ASYNC(NET_SERVICE, "ListNetworks", list_networks),
    ASYNC(NET_SERVICE, "DeleteNetwork", delete_network),
    ASYNC(PORT_SERVICE, "CreatePort", create_port),
    ASYNC(PORT_SERVICE, "GetPort", get_port),
    ASYNC(PORT_SERVICE, "ListPorts", list_ports),
    ASYNC(PORT_SERVICE, "UpdatePort", update_port),
    ASYNC(PORT_SERVICE, "DeletePort", delete_port),
    ASYNC(PORT_SERVICE, "BindPort", bind_port),
    ASYNC(PORT_SERVICE, "UnbindPort", unbind_port),
    ASYNC(SG_SERVICE, "CreateSecurityGroup", create_sg),
    ASYNC(SG_SERVICE, "GetSecurityGroup", get_sg),
    ASYNC(SG_SERVICE, "ListSecurityGroups", list_sgs),
    ASYNC(SG_SERVICE, "DeleteSecurityGroup", delete_sg),
    ASYNC(SG_SERVICE, "AddRule", add_rule),
    ASYNC(SG_SERVICE, "RemoveRule", remove_rule),
};

void
lq_rpc_network_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, network_methods, ARRAY_SIZE(network_methods));
}
