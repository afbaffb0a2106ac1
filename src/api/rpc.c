/* rpc.c: the method registry (see rpc.h). */
#include <config.h>
#include "rpc.h"

#include "pbjson.h"

#include <stdlib.h>

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

struct lq_error *
lq_rpc_call(const struct lq_rpc_method *m, struct lq_node *node,
            const struct json *request, struct json **responsep)
{
    *responsep = NULL;
    if (!m->handler) {
        return lq_error_new(LQ_UNIMPLEMENTED, "%s/%s is a server stream: "
                            "call it with gRPC or Connect over HTTP/2",
                            m->service, m->name);
    }
    struct lq_error *error = m->handler(node, request, responsep);
    if (!error && !*responsep) {
        *responsep = json_object_create();
    }
    if (error && *responsep) {
        json_destroy(*responsep);
        *responsep = NULL;
    }
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

struct lq_error *
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

struct lq_error *
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
