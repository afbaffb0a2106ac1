/* reflection.c: gRPC server reflection (see reflection.h). */
#include <config.h>
#include "reflection.h"

#include <stdlib.h>
#include <string.h>

#include "google_protobuf_descriptor.pb-c.h"
#include "grpc_reflection_v1_reflection.pb-c.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "rpc.h"
#include "sset.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(reflection);

/* From scripts/gen-descriptor-set (build time). */
extern const unsigned char lq_descriptor_set[];
extern const size_t lq_descriptor_set_size;

#define V1 "grpc.reflection.v1.ServerReflection"
#define V1ALPHA "grpc.reflection.v1alpha.ServerReflection"

/* One .proto file of the set. */
struct proto_file {
    const Google__Protobuf__FileDescriptorProto *fd;
    uint8_t *bytes;             /* Its FileDescriptorProto, serialized. */
    size_t len;
};

/* Built once, read-only after: files by name and by the symbols they
 * define ("pkg.Message", "pkg.Message.Nested", "pkg.Enum", "pkg.Service",
 * "pkg.Service.Method"). */
struct index {
    Google__Protobuf__FileDescriptorSet *set;
    struct proto_file *files;
    struct shash by_name;       /* -> struct proto_file * */
    struct shash by_symbol;     /* -> struct proto_file * */
};

static void
add_symbol(struct index *ix, const char *scope, const char *name,
           struct proto_file *f)
{
    char *full = *scope ? xasprintf("%s.%s", scope, name) : xstrdup(name);
    shash_replace_nocopy(&ix->by_symbol, full, f);
}

static void
add_messages(struct index *ix, const char *scope,
             Google__Protobuf__DescriptorProto **msgs, size_t n,
             struct proto_file *f)
{
    for (size_t i = 0; i < n; i++) {
        add_symbol(ix, scope, msgs[i]->name, f);
        char *inner = *scope ? xasprintf("%s.%s", scope, msgs[i]->name)
                             : xstrdup(msgs[i]->name);
        add_messages(ix, inner, msgs[i]->nested_type, msgs[i]->n_nested_type,
                     f);
        for (size_t j = 0; j < msgs[i]->n_enum_type; j++) {
            add_symbol(ix, inner, msgs[i]->enum_type[j]->name, f);
        }
        free(inner);
    }
}

static void
index_file(struct index *ix, struct proto_file *f)
{
    const Google__Protobuf__FileDescriptorProto *fd = f->fd;
    const char *pkg = fd->package ? fd->package : "";
    shash_replace(&ix->by_name, fd->name, f);
    add_messages(ix, pkg, fd->message_type, fd->n_message_type, f);
    for (size_t i = 0; i < fd->n_enum_type; i++) {
        add_symbol(ix, pkg, fd->enum_type[i]->name, f);
    }
    for (size_t i = 0; i < fd->n_service; i++) {
        const Google__Protobuf__ServiceDescriptorProto *svc = fd->service[i];
        add_symbol(ix, pkg, svc->name, f);
        char *scope = *pkg ? xasprintf("%s.%s", pkg, svc->name)
                           : xstrdup(svc->name);
        for (size_t j = 0; j < svc->n_method; j++) {
            add_symbol(ix, scope, svc->method[j]->name, f);
        }
        free(scope);
    }
}

static const struct index *
get_index(void)
{
    static struct index ix;
    static bool done;
    if (done) {
        return ix.set ? &ix : NULL;
    }
    done = true;
    shash_init(&ix.by_name);
    shash_init(&ix.by_symbol);
    ix.set = google__protobuf__file_descriptor_set__unpack(
        NULL, lq_descriptor_set_size, lq_descriptor_set);
    if (!ix.set) {
        VLOG_ERR("the built-in descriptor set does not parse: reflection "
                 "is off");
        return NULL;
    }
    ix.files = xcalloc(ix.set->n_file, sizeof *ix.files);
    for (size_t i = 0; i < ix.set->n_file; i++) {
        struct proto_file *f = &ix.files[i];
        f->fd = ix.set->file[i];
        f->len = google__protobuf__file_descriptor_proto__get_packed_size(
            f->fd);
        f->bytes = xmalloc(f->len);
        google__protobuf__file_descriptor_proto__pack(f->fd, f->bytes);
        index_file(&ix, f);
    }
    return &ix;
}

/* 'f' and, after it, every file it needs (transitively), each once. */
static void
collect_file(const struct index *ix, const struct proto_file *f,
             struct sset *seen, ProtobufCBinaryData **out, size_t *n,
             size_t *allocated)
{
    if (!sset_add(seen, f->fd->name)) {
        return;
    }
    if (*n >= *allocated) {
        *out = x2nrealloc(*out, allocated, sizeof **out);
    }
    (*out)[(*n)++] = (ProtobufCBinaryData) { f->len, f->bytes };
    for (size_t i = 0; i < f->fd->n_dependency; i++) {
        const struct proto_file *dep = shash_find_data(&ix->by_name,
                                                       f->fd->dependency[i]);
        if (dep) {
            collect_file(ix, dep, seen, out, n, allocated);
        }
    }
}

/* The services the daemon serves and the set describes (and this one). */
static void
list_services(const struct lq_rpc_registry *rpc, const struct index *ix,
              struct sset *names)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, &rpc->methods) {
        const struct lq_rpc_method *m = node->data;
        if (!strcmp(m->service, V1ALPHA)
            || shash_find(&ix->by_symbol, m->service)) {
            sset_add(names, !strcmp(m->service, V1ALPHA) ? V1 : m->service);
        }
    }
}

static void
set_error(Grpc__Reflection__V1__ServerReflectionResponse *r,
          Grpc__Reflection__V1__ErrorResponse *err, int code,
          char *message)
{
    err->error_code = code;
    err->error_message = message;
    r->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    r->error_response = err;
}

/* Fills the answer's file descriptors for the file named, or that defines
 * the symbol; an error response if there is none. */
static void
answer_files(Grpc__Reflection__V1__ServerReflectionResponse *r,
             const struct index *ix, const char *key, bool by_symbol,
             Grpc__Reflection__V1__FileDescriptorResponse *files,
             Grpc__Reflection__V1__ErrorResponse *err, struct sset *seen)
{
    const struct proto_file *f = shash_find_data(
        by_symbol ? &ix->by_symbol : &ix->by_name, key ? key : "");
    if (!f) {
        set_error(r, err, LQ_NOT_FOUND, xasprintf(
            "%s \"%s\" is not known to this server",
            by_symbol ? "symbol" : "file", key ? key : ""));
        return;
    }
    size_t allocated = 0;
    collect_file(ix, f, seen, &files->file_descriptor_proto,
                 &files->n_file_descriptor_proto, &allocated);
    r->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
    r->file_descriptor_response = files;
}

static struct lq_error *
reflection_info(const struct lq_rpc_registry *rpc, const uint8_t *request,
                size_t len, uint8_t **responsep, size_t *lenp)
{
    const struct index *ix = get_index();
    if (!ix) {
        return lq_error_new(LQ_UNAVAILABLE, "reflection is not available");
    }
    Grpc__Reflection__V1__ServerReflectionRequest *req =
        grpc__reflection__v1__server_reflection_request__unpack(NULL, len,
                                                                request);
    if (!req) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "request: not a "
                            "ServerReflectionRequest");
    }
    Grpc__Reflection__V1__ServerReflectionResponse r =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    Grpc__Reflection__V1__FileDescriptorResponse files =
        GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
    Grpc__Reflection__V1__ListServiceResponse list =
        GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
    Grpc__Reflection__V1__ExtensionNumberResponse ext =
        GRPC__REFLECTION__V1__EXTENSION_NUMBER_RESPONSE__INIT;
    Grpc__Reflection__V1__ErrorResponse err =
        GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
    struct sset seen = SSET_INITIALIZER(&seen);
    struct sset names = SSET_INITIALIZER(&names);
    Grpc__Reflection__V1__ServiceResponse *services = NULL;
    Grpc__Reflection__V1__ServiceResponse **service_ptrs = NULL;
    char *message = NULL;

    r.valid_host = req->host;
    r.original_request = req;
    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        answer_files(&r, ix, req->file_by_filename, false, &files, &err,
                     &seen);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        answer_files(&r, ix, req->file_containing_symbol, true, &files, &err,
                     &seen);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES: {
        list_services(rpc, ix, &names);
        size_t n = sset_count(&names), i = 0;
        services = xcalloc(n, sizeof *services);
        service_ptrs = xcalloc(n, sizeof *service_ptrs);
        const char *name;
        SSET_FOR_EACH (name, &names) {
            grpc__reflection__v1__service_response__init(&services[i]);
            services[i].name = (char *) name;
            service_ptrs[i] = &services[i];
            i++;
        }
        list.service = service_ptrs;
        list.n_service = n;
        r.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
        r.list_services_response = &list;
        break;
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
        /* proto3 has no extensions: none, for a type we know. */
        if (shash_find(&ix->by_symbol, req->all_extension_numbers_of_type)) {
            ext.base_type_name = req->all_extension_numbers_of_type;
            r.message_response_case =
                GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
            r.all_extension_numbers_response = &ext;
        } else {
            set_error(&r, &err, LQ_NOT_FOUND, xasprintf(
                "type \"%s\" is not known to this server",
                req->all_extension_numbers_of_type));
        }
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
        set_error(&r, &err, LQ_NOT_FOUND, xstrdup("this server defines no "
                                                  "extensions"));
        break;
    default:
        set_error(&r, &err, LQ_INVALID_ARGUMENT,
                  xstrdup("request: no message_request"));
        break;
    }
    if (err.error_message != protobuf_c_empty_string) {
        message = err.error_message;    /* Ours (set_error()). */
    }
    *lenp = grpc__reflection__v1__server_reflection_response__get_packed_size(
        &r);
    *responsep = xmalloc(*lenp ? *lenp : 1);
    grpc__reflection__v1__server_reflection_response__pack(&r, *responsep);

    free(message);
    free(files.file_descriptor_proto);
    free(services);
    free(service_ptrs);
    sset_destroy(&names);
    sset_destroy(&seen);
    grpc__reflection__v1__server_reflection_request__free_unpacked(req, NULL);
    return NULL;
}

static const struct lq_rpc_method reflection_methods[] = {
    { V1, "ServerReflectionInfo", .bidi = reflection_info },
    /* The same messages on the wire, for older clients. */
    { V1ALPHA, "ServerReflectionInfo", .bidi = reflection_info },
};

void
lq_reflection_register(struct lq_rpc_registry *r)
{
    lq_rpc_register(r, reflection_methods, ARRAY_SIZE(reflection_methods));
}
