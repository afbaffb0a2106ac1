/* rpc.c: the method registry (see rpc.h). */
#include <config.h>
#include "rpc.h"

#include "jsonx.h"
#include "pbjson.h"
#include "pbmsg.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void
lq_rpc_registry_init(struct lq_rpc_registry *r)
{
    shash_init(&r->methods);
}

void
lq_rpc_registry_destroy(struct lq_rpc_registry *r)
{
    shash_destroy(&r->methods);     /* The method tables are static. */
}

void
lq_rpc_register(struct lq_rpc_registry *r, const struct lq_rpc_method *m,
                size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *path = xasprintf("/%s/%s", m[i].service, m[i].name);
        if (!shash_add_once(&r->methods, path, &m[i])) {
            OVS_NOT_REACHED();      /* Registered twice: a programming bug. */
        }
        free(path);
    }
}

const struct lq_rpc_method *
lq_rpc_find(const struct lq_rpc_registry *r, const char *path)
{
    return shash_find_data(&r->methods, path);
}

static struct lq_error *lq_rpc_decode_binary(const struct lq_rpc_method *,
                                             const void *data, size_t len,
                                             struct json **requestp);
static struct lq_error *lq_rpc_encode_binary(const struct lq_rpc_method *,
                                             const struct json *response,
                                             void **bodyp, size_t *lenp);

void
lq_rpc_msg_clear(struct lq_rpc_msg *m)
{
    if (m->pb) {
        protobuf_c_message_free_unpacked(m->pb, NULL);
        m->pb = NULL;
    }
    json_destroy(m->json);
    m->json = NULL;
}

void
lq_rpc_msg_move(struct lq_rpc_msg *to, struct lq_rpc_msg *from)
{
    lq_rpc_msg_clear(to);
    *to = *from;
    from->pb = NULL;
    from->json = NULL;
}

static const ProtobufCMethodDescriptor *
method_schema(const struct lq_rpc_method *m)
{
    return lq_pb_find_method(m->service, m->name);
}

static struct lq_error *
unpack_checked(const ProtobufCMessageDescriptor *desc, const void *data,
               size_t len, ProtobufCMessage **msgp)
{
    *msgp = protobuf_c_message_unpack(desc, NULL, len, data ? data : "");
    if (!*msgp) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "request: not a valid %s "
                            "message", desc->name);
    }
    struct lq_error *e = lq_pb_check_utf8(*msgp);
    if (e) {
        protobuf_c_message_free_unpacked(*msgp, NULL);
        *msgp = NULL;
    }
    return e;
}

struct lq_error *
lq_rpc_decode(const struct lq_rpc_method *method, bool binary,
              const void *data, size_t len, struct lq_rpc_msg *request)
{
    if (!method->pb_handler && !method->stream) {
        return binary
               ? lq_rpc_decode_binary(method, data, len, &request->json)
               : lq_json_parse_object(data ? data : "", len, &request->json);
    }
    const ProtobufCMethodDescriptor *pm = method_schema(method);
    ovs_assert(pm);             /* A typed method without schema: a bug. */
    if (binary) {
        return unpack_checked(pm->input, data, len, &request->pb);
    }
    struct json *j;
    struct lq_error *e = lq_json_parse_object(data ? data : "", len, &j);
    if (!e) {
        /* Strict, as proto3 JSON parsers are by default: a name the
         * contract lacks is a mistake the caller should hear about (a
         * newer control plane speaks binary, where unknown fields are
         * skipped by protobuf's own rules). */
        e = lq_pb_from_json(pm->input, j, 0, &request->pb);
        json_destroy(j);
    }
    return e;
}

struct lq_error *
lq_rpc_encode(const struct lq_rpc_method *method, bool binary,
              const struct lq_rpc_msg *response, void **bodyp, size_t *lenp)
{
    if (!response->pb) {
        if (binary) {
            return lq_rpc_encode_binary(method, response->json, bodyp, lenp);
        }
        *bodyp = lq_json_to_string(response->json);
        *lenp = strlen(*bodyp);
        return NULL;
    }
    if (binary) {
        *lenp = protobuf_c_message_get_packed_size(response->pb);
        *bodyp = xmalloc(*lenp ? *lenp : 1);
        protobuf_c_message_pack(response->pb, *bodyp);
    } else {
        /* Every field, defaults too: what JSON readers of this API got
         * before the typed layer (grpc-gateway's EmitDefaults). */
        struct json *j = lq_pb_to_json_flags(response->pb,
                                             LQ_PB_EMIT_DEFAULTS);
        *bodyp = lq_json_to_string(j);
        *lenp = strlen(*bodyp);
        json_destroy(j);
    }
    return NULL;
}

static struct lq_error *
call_typed(const struct lq_rpc_method *m, struct lq_node *node,
           const struct lq_rpc_msg *request, struct lq_rpc_msg *response)
{
    const ProtobufCMethodDescriptor *pm = method_schema(m);
    ovs_assert(pm && request->pb && request->pb->descriptor == pm->input);
    struct lq_error *error = m->pb_handler(node, request->pb, &response->pb);
    if (error) {
        lq_rpc_msg_clear(response);
    } else if (!response->pb) {
        response->pb = lq_pb_new(pm->output);
    } else {
        /* A handler answering another type would be encoded as it. */
        ovs_assert(response->pb->descriptor == pm->output);
    }
    return error;
}

struct lq_error *
lq_rpc_call(const struct lq_rpc_method *m, struct lq_node *node,
            const struct lq_rpc_msg *request, struct lq_rpc_msg *response)
{
    if (m->pb_handler) {
        return call_typed(m, node, request, response);
    }
    if (!m->handler) {
        return lq_error_new(LQ_UNIMPLEMENTED, "%s/%s is a server stream: "
                            "call it with gRPC or Connect over HTTP/2",
                            m->service, m->name);
    }
    struct json *reply = NULL;
    struct lq_error *error = m->handler(node, request->json, &reply);
    if (!error && !reply) {
        reply = json_object_create();
    }
    if (error) {
        json_destroy(reply);
        reply = NULL;
    }
    response->json = reply;
    return error;
}

void
lq_rpc_call_complete(struct lq_rpc_call *call, struct lq_error *error,
                     struct json *response)
{
    if (error) {
        json_destroy(response);
        response = NULL;
    } else if (!response) {
        response = json_object_create();
    }
    call->complete(call, error, response);
}

/* A JSON handler's request from binary: through the method's input
 * message to its proto3 JSON object. */
static struct lq_error *
lq_rpc_decode_binary(const struct lq_rpc_method *method, const void *data,
                     size_t len, struct json **requestp)
{
    *requestp = NULL;
    const ProtobufCMethodDescriptor *pm = lq_pb_find_method(method->service,
                                                            method->name);
    if (!pm) {
        return lq_error_new(LQ_UNIMPLEMENTED, "%s/%s has no protobuf schema "
                            "in proto/: use JSON", method->service,
                            method->name);
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(pm->input, NULL, len,
                                                    data ? data : "");
    if (!m) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "request: not a valid %s "
                            "message", pm->input->name);
    }
    struct lq_error *e = lq_pb_check_utf8(m);
    if (!e) {
        *requestp = lq_pb_to_json(m);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return e;
}

/* A JSON handler's reply to binary, through the output message (a reply
 * that does not fit the contract is internal). */
static struct lq_error *
lq_rpc_encode_binary(const struct lq_rpc_method *method,
                     const struct json *response, void **bodyp, size_t *lenp)
{
    *bodyp = NULL;
    *lenp = 0;
    const ProtobufCMethodDescriptor *pm = lq_pb_find_method(method->service,
                                                            method->name);
    ProtobufCMessage *m = NULL;
    struct lq_error *e = pm ? lq_pb_from_json(pm->output, response,
                                              LQ_PB_IGNORE_UNKNOWN, &m)
                            : lq_error_new(LQ_UNIMPLEMENTED, "no schema");
    if (e) {
        e->code = LQ_INTERNAL;
        return lq_error_prefix(e, "the reply of %s/%s does not fit its "
                               "contract message", method->service,
                               method->name);
    }
    *lenp = protobuf_c_message_get_packed_size(m);
    *bodyp = xmalloc(*lenp ? *lenp : 1);
    protobuf_c_message_pack(m, *bodyp);
    protobuf_c_message_free_unpacked(m, NULL);
    return NULL;
}
