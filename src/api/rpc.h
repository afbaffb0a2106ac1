/* rpc.h: the Connect method table.
 *
 * An RPC handler is a thin wrapper: decode the request object, call one C
 * API function, encode the result.  The HTTP layer owns framing (paths,
 * content types, limits, status codes); handlers only see JSON. */
#ifndef LQ_RPC_H
#define LQ_RPC_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "limiquantix/error.h"
#include "openvswitch/json.h"
#include "openvswitch/shash.h"

struct lq_node;

/* On success sets '*responsep' to a new JSON object. */
typedef struct lq_error *lq_rpc_handler(struct lq_node *,
                                        const struct json *request,
                                        struct json **responsep);

/* An RPC in flight, for handlers that answer later from the event loop
 * (network operations waiting on OVSDB).  The handler must eventually call
 * lq_rpc_call_complete() exactly once, possibly before it returns. */
struct lq_rpc_call {
    void (*complete)(struct lq_rpc_call *, struct lq_error *,
                     struct json *response);
};
typedef void lq_rpc_async_handler(struct lq_node *,
                                  const struct json *request,
                                  struct lq_rpc_call *);
/* Takes ownership of 'error' and 'response' (one of them is NULL). */
void lq_rpc_call_complete(struct lq_rpc_call *, struct lq_error *,
                          struct json *response);

/* A server stream, driven by the transport on the loop: open() once
 * (on the worker pool: it may block), then poll() whenever wait()'s
 * wakeups fire; poll() never blocks, appends the messages that are ready
 * to 'out' (a JSON array) and sets '*done' when the stream is over (an
 * error ends it with that status).  close() when it ends or the client
 * goes away.
 *
 * A stream whose messages need blocking work (reading libvirt) also has
 * due() and refresh(): when due() (on the loop) says so, the transport
 * runs refresh() on the worker pool and polls when it is done; while it
 * runs, neither poll() nor wait() is called, so the state needs no lock. */
struct lq_rpc_stream_class {
    struct lq_error *(*open)(struct lq_node *, const struct json *request,
                             void **statep);
    struct lq_error *(*poll)(void *state, struct json *out, bool *done);
    void (*wait)(void *state);
    void (*close)(void *state);
    bool (*due)(void *state);           /* Optional, with refresh. */
    void (*refresh)(void *state);
};

struct lq_rpc_registry;

/* A bidirectional stream of binary protobuf messages, each answered at
 * once on the loop (gRPC server reflection): one request message in, one
 * response message out ('*responsep' malloc'ed, caller frees).  An error
 * ends the stream with its status. */
typedef struct lq_error *lq_rpc_bidi_handler(
    const struct lq_rpc_registry *, const uint8_t *request, size_t len,
    uint8_t **responsep, size_t *lenp);

struct lq_rpc_method {
    const char *service;        /* "limiquantix.node.v1.NodeDaemonService" */
    const char *name;           /* "HealthCheck" */
    lq_rpc_handler *handler;    /* Synchronous handler, or NULL... */
    bool blocking;              /* ...run on the worker pool, not the loop. */
    lq_rpc_async_handler *async_handler;    /* ...or this one... */
    const struct lq_rpc_stream_class *stream;   /* ...or a server stream
                                                 * (HTTP/2 only)... */
    lq_rpc_bidi_handler *bidi;  /* ...or a binary bidirectional stream
                                 * (HTTP/2 only). */
};

struct lq_rpc_registry {
    struct shash methods;       /* "/service/Name" -> struct lq_rpc_method. */
};

void lq_rpc_registry_init(struct lq_rpc_registry *);
void lq_rpc_registry_destroy(struct lq_rpc_registry *);
void lq_rpc_register(struct lq_rpc_registry *,
                     const struct lq_rpc_method *methods, size_t n);
/* 'path' is the HTTP path, "/limiquantix.node.v1.NodeDaemonService/X". */
const struct lq_rpc_method *lq_rpc_find(const struct lq_rpc_registry *,
                                        const char *path);

/* Runs a method in-process and returns the response or error (used by the
 * HTTP layer and by tests). */
struct lq_error *lq_rpc_call(const struct lq_rpc_method *, struct lq_node *,
                             const struct json *request,
                             struct json **responsep);

/* The binary protobuf codec of a method, through its messages in proto/
 * (pbjson.h): a request body to the proto3 JSON object handlers read
 * (invalid_argument for bytes that are not the message or not UTF-8;
 * unimplemented if proto/ lacks the method), and a handler's JSON reply
 * to bytes (a reply that does not fit the contract is internal).  '*bodyp'
 * is malloc'd. */
struct lq_error *lq_rpc_decode_binary(const struct lq_rpc_method *,
                                      const void *data, size_t len,
                                      struct json **requestp);
struct lq_error *lq_rpc_encode_binary(const struct lq_rpc_method *,
                                      const struct json *response,
                                      void **bodyp, size_t *lenp);

/* Modules register their methods. */
void lq_rpc_node_register(struct lq_rpc_registry *);
void lq_rpc_network_register(struct lq_rpc_registry *);

#endif
