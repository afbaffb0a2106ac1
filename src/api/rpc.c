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
    shash_init(&r->websockets);
}

void
lq_rpc_register_websocket(struct lq_rpc_registry *r, const char *path,
                          lq_ws_open_fn *open)
{
    shash_replace(&r->websockets, path, (void *) open);
}

lq_ws_open_fn *
lq_rpc_find_websocket(const struct lq_rpc_registry *r, const char *path)
{
    return (lq_ws_open_fn *) shash_find_data(&r->websockets, path);
}

void
lq_rpc_registry_destroy(struct lq_rpc_registry *r)
{
    shash_destroy(&r->methods);     /* The method tables are static. */
    shash_destroy(&r->websockets);
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

const char *
lq_rpc_full_name(const struct lq_rpc_registry *r, const char *path)
{
    const struct shash_node *node = shash_find(&r->methods, path);
    return node ? node->name + 1 : "unknown";
}

void
lq_rpc_msg_clear(struct lq_rpc_msg *m)
{
    if (m->pb) {
        protobuf_c_message_free_unpacked(m->pb, NULL);
        m->pb = NULL;
    }
}

void
lq_rpc_msg_move(struct lq_rpc_msg *to, struct lq_rpc_msg *from)
{
    lq_rpc_msg_clear(to);
    *to = *from;
    from->pb = NULL;
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
    const ProtobufCMethodDescriptor *pm = method_schema(method);
    if (!pm) {
        return lq_error_new(LQ_UNIMPLEMENTED, "%s/%s has no protobuf "
                            "schema in proto/", method->service,
                            method->name);
    }
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
    ProtobufCMessage *empty = NULL;
    const ProtobufCMessage *pb = response->pb;
    if (!pb) {
        /* An async handler's "nothing to say": the empty output. */
        const ProtobufCMethodDescriptor *pm = method_schema(method);
        ovs_assert(pm);
        pb = empty = lq_pb_new(pm->output);
    }
    if (binary) {
        *lenp = protobuf_c_message_get_packed_size(pb);
        *bodyp = xmalloc(*lenp ? *lenp : 1);
        protobuf_c_message_pack(pb, *bodyp);
    } else {
        /* Every field, defaults too: what JSON readers of this API got
         * before the typed layer (grpc-gateway's EmitDefaults). */
        struct json *j = lq_pb_to_json_flags(pb, LQ_PB_EMIT_DEFAULTS);
        *bodyp = lq_json_to_string(j);
        *lenp = strlen(*bodyp);
        json_destroy(j);
    }
    if (empty) {
        protobuf_c_message_free_unpacked(empty, NULL);
    }
    return NULL;
}

struct lq_error *
lq_rpc_call(const struct lq_rpc_method *m, struct lq_node *node,
            const struct lq_rpc_msg *request, struct lq_rpc_msg *response)
{
    if (!m->pb_handler) {
        return lq_error_new(LQ_UNIMPLEMENTED, "%s/%s is a server stream: "
                            "call it with gRPC or Connect over HTTP/2",
                            m->service, m->name);
    }
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

void
lq_rpc_call_complete(struct lq_rpc_call *call, struct lq_error *error,
                     ProtobufCMessage *response)
{
    if (error && response) {
        protobuf_c_message_free_unpacked(response, NULL);
        response = NULL;
    }
    call->complete(call, error, response);
}
