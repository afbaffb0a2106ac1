/* rpc.c: the method registry (see rpc.h). */
#include <config.h>
#include "rpc.h"

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
