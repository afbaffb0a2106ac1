/* rpc_network.c: limiquantix.network.v1 VirtualNetworkService, PortService
 * and SecurityGroupService.
 *
 * Each handler parses the request into typed specs (any error names the
 * field and nothing reaches OVN), then submits one engine operation; the
 * RPC is answered when the operation finishes on the event loop. */
#include <config.h>
#include "rpc.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "jsonx.h"
#include "limiquantix/node.h"
#include "limiquantix/network.h"
#include "nb.h"
#include "util.h"

#define NET_SERVICE "limiquantix.network.v1.VirtualNetworkService"
#define PORT_SERVICE "limiquantix.network.v1.PortService"
#define SG_SERVICE "limiquantix.network.v1.SecurityGroupService"

#define OP_TIMEOUT_MS 30000
#define BIND_TIMEOUT_MS 60000

/* Parses with 'parse' into a new call and submits 'class', or answers the
 * RPC with the error. */
typedef struct lq_error *parse_fn(const struct json *, struct lq_net_call *);

static void
submit(struct lq_node *node, const struct json *request,
       struct lq_rpc_call *rpc, parse_fn *parse,
       const struct lq_net_op_class *class, long long timeout_ms)
{
    struct lq_network *net = lq_node_network(node);
    if (!net) {
        lq_rpc_call_complete(rpc, lq_error_new(
                                 LQ_FAILED_PRECONDITION, "networking is not "
                                 "configured on this node (set "
                                 "network.ovn_nb_db or run with --sandbox)"),
                             NULL);
        return;
    }
    struct lq_net_call *c = xzalloc(sizeof *c);
    c->rpc = rpc;
    struct lq_error *e = parse(request, c);
    if (e) {
        lq_net_call_destroy(c);
        lq_rpc_call_complete(rpc, e, NULL);
        return;
    }
    lq_network_submit(net, class, c, timeout_ms);
}

static struct lq_error *
parse_network(const struct json *j, struct lq_net_call *c)
{
    return lq_network_spec_from_json(j, &c->net);
}

static struct lq_error *
parse_port(const struct json *j, struct lq_net_call *c)
{
    return lq_port_spec_from_json(j, &c->port);
}

static struct lq_error *
parse_sg(const struct json *j, struct lq_net_call *c)
{
    return lq_sg_spec_from_json(j, &c->sg);
}

static struct lq_error *
parse_id(const struct json *j, struct lq_net_call *c)
{
    return lq_json_get_id(j, "id", true, c->id);
}

static struct lq_error *
parse_port_id(const struct json *j, struct lq_net_call *c)
{
    return lq_json_get_id(j, "portId", true, c->id);
}

static struct lq_error *
parse_list_ports(const struct json *j, struct lq_net_call *c)
{
    return lq_json_get_id(j, "networkId", false, c->network_filter);
}

static struct lq_error *
parse_nothing(const struct json *j OVS_UNUSED, struct lq_net_call *c OVS_UNUSED)
{
    return NULL;
}

static struct lq_error *
parse_update_port(const struct json *j, struct lq_net_call *c)
{
    c->request = json_clone(j);
    return lq_json_get_id(j, "id", true, c->id);
}

static struct lq_error *
parse_bind(const struct json *j, struct lq_net_call *c)
{
    const char *device = NULL, *vm = NULL;
    struct lq_error *e = lq_json_get_id(j, "portId", true, c->id);
    if (!e) {
        e = lq_json_get_string(j, "deviceName", &device);
    }
    if (!e && (!device || !*device)) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "deviceName: required");
    }
    if (!e) {
        e = lq_json_get_string(j, "vmId", &vm);
    }
    if (!e && vm && *vm) {
        e = lq_text_check("vmId", vm, 64);
    }
    const char *type = NULL;
    if (!e) {
        e = lq_json_get_string(j, "deviceType", &type);
    }
    if (!e && type && *type && strcmp(type, "netdev")
        && strcmp(type, "vhostuser")) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "deviceType: expected netdev "
                         "or vhostuser, got \"%s\"", type);
    }
    uint32_t memory_mib = 0;
    if (!e) {
        e = lq_json_get_uint32(j, "memoryMib", &memory_mib);
    }
    if (!e) {
        c->device_name = xstrdup(device);
        c->vm_id = xstrdup(vm ? vm : "");
        c->vhost_user = type && !strcmp(type, "vhostuser");
        c->memory_mib = memory_mib;
    }
    return e;
}

static struct lq_error *
parse_add_rule(const struct json *j, struct lq_net_call *c)
{
    struct lq_error *e = lq_json_get_id(j, "securityGroupId", true, c->id);
    if (!e) {
        const struct json *rule = lq_json_field(j, "rule");
        e = rule ? lq_sg_rule_from_json(rule, "rule", &c->rule)
                 : lq_error_new(LQ_INVALID_ARGUMENT, "rule: required");
    }
    return e;
}

static struct lq_error *
parse_remove_rule(const struct json *j, struct lq_net_call *c)
{
    struct lq_error *e = lq_json_get_id(j, "securityGroupId", true, c->id);
    if (!e) {
        e = lq_json_get_id(j, "ruleId", true, c->rule.id);
    }
    return e;
}

/* Every network method: how to parse its request and which operation runs
 * it.  Both the RPC handlers and the in-process C API use this table. */
struct net_method {
    const char *name;
    parse_fn *parse;
    const struct lq_net_op_class *class;
    long long timeout_ms;
};

static const struct net_method net_methods[] = {
    { "CreateNetwork", parse_network, &lq_op_create_network, OP_TIMEOUT_MS },
    { "GetNetwork", parse_id, &lq_op_get_network, OP_TIMEOUT_MS },
    { "ListNetworks", parse_nothing, &lq_op_list_networks, OP_TIMEOUT_MS },
    { "DeleteNetwork", parse_id, &lq_op_delete_network, OP_TIMEOUT_MS },
    { "CreatePort", parse_port, &lq_op_create_port, OP_TIMEOUT_MS },
    { "GetPort", parse_id, &lq_op_get_port, OP_TIMEOUT_MS },
    { "ListPorts", parse_list_ports, &lq_op_list_ports, OP_TIMEOUT_MS },
    { "UpdatePort", parse_update_port, &lq_op_update_port, OP_TIMEOUT_MS },
    { "DeletePort", parse_id, &lq_op_delete_port, OP_TIMEOUT_MS },
    { "BindPort", parse_bind, &lq_op_bind_port, BIND_TIMEOUT_MS },
    { "UnbindPort", parse_port_id, &lq_op_unbind_port, OP_TIMEOUT_MS },
    { "CreateSecurityGroup", parse_sg, &lq_op_create_sg, OP_TIMEOUT_MS },
    { "GetSecurityGroup", parse_id, &lq_op_get_sg, OP_TIMEOUT_MS },
    { "ListSecurityGroups", parse_nothing, &lq_op_list_sgs, OP_TIMEOUT_MS },
    { "DeleteSecurityGroup", parse_id, &lq_op_delete_sg, OP_TIMEOUT_MS },
    { "AddRule", parse_add_rule, &lq_op_add_rule, OP_TIMEOUT_MS },
    { "RemoveRule", parse_remove_rule, &lq_op_remove_rule, OP_TIMEOUT_MS },
};

static const struct net_method *
find_method(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(net_methods); i++) {
        if (!strcmp(net_methods[i].name, name)) {
            return &net_methods[i];
        }
    }
    return NULL;
}

static struct lq_error *
network_call(struct lq_network *net, const char *method,
             const struct json *request, struct json **responsep,
             bool threaded)
{
    const struct net_method *m = find_method(method);
    *responsep = NULL;
    if (!m) {
        return lq_error_new(LQ_UNIMPLEMENTED, "unknown network method \"%s\"",
                            method);
    }
    struct lq_net_call *c = xzalloc(sizeof *c);
    struct lq_error *e = m->parse(request, c);
    if (!e) {
        e = (threaded ? lq_network_execute_threaded : lq_network_execute)(
            net, m->class, c, m->timeout_ms);
    }
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

/* RPC: the method name is the last part of the path. */
static void
rpc_handler(struct lq_node *node, const struct json *request,
            struct lq_rpc_call *rpc, const char *name)
{
    const struct net_method *m = find_method(name);
    submit(node, request, rpc, m->parse, m->class, m->timeout_ms);
}

#define HANDLER(NAME, METHOD)                                             \
    static void                                                           \
    NAME(struct lq_node *node, const struct json *request,                \
         struct lq_rpc_call *rpc)                                         \
    {                                                                     \
        rpc_handler(node, request, rpc, METHOD);                          \
    }

HANDLER(create_network, "CreateNetwork")
HANDLER(get_network, "GetNetwork")
HANDLER(list_networks, "ListNetworks")
HANDLER(delete_network, "DeleteNetwork")
HANDLER(create_port, "CreatePort")
HANDLER(get_port, "GetPort")
HANDLER(list_ports, "ListPorts")
HANDLER(update_port, "UpdatePort")
HANDLER(delete_port, "DeletePort")
HANDLER(bind_port, "BindPort")
HANDLER(unbind_port, "UnbindPort")
HANDLER(create_sg, "CreateSecurityGroup")
HANDLER(get_sg, "GetSecurityGroup")
HANDLER(list_sgs, "ListSecurityGroups")
HANDLER(delete_sg, "DeleteSecurityGroup")
HANDLER(add_rule, "AddRule")
HANDLER(remove_rule, "RemoveRule")

#define ASYNC(SERVICE, NAME, FN) { SERVICE, NAME, NULL, false, FN }

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

