/* rpc.h: the method table.
 *
 * An RPC handler is a thin wrapper: read the request, call one C API
 * function, build the result.  The transports own framing (paths, content
 * types, limits, status codes) and the codecs: a request is decoded once,
 * from binary protobuf or proto3 JSON alike, into the method's input
 * message of proto/ (protobuf-c), and every handler sees only that
 * message and answers with its output message. */
#ifndef LQ_RPC_H
#define LQ_RPC_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "limiquantix/error.h"
#include "openvswitch/json.h"
#include "openvswitch/shash.h"

struct lq_node;

/* A typed handler: 'request' is the method's input message, already
 * checked against the contract (types, enum values, UTF-8); on success it
 * may set '*responsep' to a new message of the method's output type, built
 * with pbmsg.h (malloc'ed throughout: protobuf_c_message_free_unpacked()
 * frees it); NULL answers the empty output message. */
typedef struct lq_error *lq_rpc_pb_handler(struct lq_node *,
                                           const ProtobufCMessage *request,
                                           ProtobufCMessage **responsep);

/* An RPC in flight, for typed handlers that answer later from the event
 * loop (network operations waiting on OVSDB).  The handler must
 * eventually call lq_rpc_call_complete() exactly once, possibly before it
 * returns; 'request' lives until then. */
struct lq_rpc_call {
    void (*complete)(struct lq_rpc_call *, struct lq_error *,
                     ProtobufCMessage *response);
};
typedef void lq_rpc_async_handler(struct lq_node *,
                                  const ProtobufCMessage *request,
                                  struct lq_rpc_call *);
/* Takes ownership of 'error' and 'response' (one of them is NULL; a
 * NULL response on success is the empty output message). */
void lq_rpc_call_complete(struct lq_rpc_call *, struct lq_error *,
                          ProtobufCMessage *response);

/* A server stream of typed messages, driven by the transport on the
 * loop: open() once with the request message (on the worker pool: it may
 * block), then poll() whenever wait()'s wakeups fire; poll() never blocks,
 * appends the messages that are ready to 'out' (of the method's output
 * type; the list owns them) and sets '*done' when the stream is over (an
 * error ends it with that status).  close() when it ends or the client
 * goes away.
 *
 * A stream whose messages need blocking work (reading libvirt) also has
 * due() and refresh(): when due() (on the loop) says so, the transport
 * runs refresh() on the worker pool and polls when it is done; while it
 * runs, neither poll() nor wait() is called, so the state needs no lock. */
struct lq_pb_list;
struct lq_rpc_stream_class {
    struct lq_error *(*open)(struct lq_node *,
                             const ProtobufCMessage *request, void **statep);
    struct lq_error *(*poll)(void *state, struct lq_pb_list *out,
                             bool *done);
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
    bool blocking;              /* pb_handler runs on the worker pool. */
    lq_rpc_async_handler *async_handler;    /* A handler answering later, */
    const struct lq_rpc_stream_class *stream;   /* ...or a server stream
                                                 * (HTTP/2 only)... */
    lq_rpc_bidi_handler *bidi;  /* ...or a binary bidirectional stream
                                 * (HTTP/2 only)... */
    lq_rpc_pb_handler *pb_handler;  /* ...or one answering at once (with
                                     * 'stream': the answer of HTTP/1.1
                                     * and Connect unary calls, once it is
                                     * done). */
};

/* A typed method's table entry. */
#define LQ_RPC_PB_METHOD(SERVICE, NAME, HANDLER, BLOCKING)              \
    { .service = (SERVICE), .name = (NAME), .pb_handler = (HANDLER),    \
      .blocking = (BLOCKING) }

/* A request or a response in flight (owned: lq_rpc_msg_clear() frees). */
struct lq_rpc_msg {
    ProtobufCMessage *pb;
};
#define LQ_RPC_MSG_INIT { NULL }
void lq_rpc_msg_clear(struct lq_rpc_msg *);
/* Moves 'from' into 'to' (cleared first); 'from' is left empty. */
void lq_rpc_msg_move(struct lq_rpc_msg *to, struct lq_rpc_msg *from);

struct lq_rpc_registry {
    struct shash methods;       /* "/service/Name" -> struct lq_rpc_method. */
    struct shash websockets;    /* HTTP path -> lq_ws_open_fn. */
};

/* A WebSocket endpoint on the HTTP/1.1 API listeners (GET 'path' with
 * Upgrade: websocket, after the listener's own authentication): 'open'
 * gets the request's "token" query argument (NULL if absent) and returns
 * a connected stream socket whose bytes the connection then carries, or
 * an error, which refuses the handshake with its HTTP status. */
typedef struct lq_error *lq_ws_open_fn(const char *token, int *fdp);
void lq_rpc_register_websocket(struct lq_rpc_registry *, const char *path,
                               lq_ws_open_fn *);
lq_ws_open_fn *lq_rpc_find_websocket(const struct lq_rpc_registry *,
                                     const char *path);

void lq_rpc_registry_init(struct lq_rpc_registry *);
void lq_rpc_registry_destroy(struct lq_rpc_registry *);
void lq_rpc_register(struct lq_rpc_registry *,
                     const struct lq_rpc_method *methods, size_t n);
/* 'path' is the HTTP path, "/limiquantix.node.v1.NodeDaemonService/X". */
const struct lq_rpc_method *lq_rpc_find(const struct lq_rpc_registry *,
                                        const char *path);
/* The method's "service/Name" (for metrics and logs), owned by the
 * registry: no formatting per call. */
const char *lq_rpc_full_name(const struct lq_rpc_registry *,
                             const char *path);

/* Decodes a request body, binary protobuf or JSON text, for 'method'
 * into 'request' (which must be empty): its input message (JSON parsed by
 * the contract: unknown fields, wrong types and undefined enum values are
 * invalid_argument naming the field). */
struct lq_error *lq_rpc_decode(const struct lq_rpc_method *, bool binary,
                               const void *data, size_t len,
                               struct lq_rpc_msg *request);
/* Encodes a response for the wire: binary protobuf or JSON text
 * ('*bodyp' malloc'd, not NUL-terminated for binary). */
struct lq_error *lq_rpc_encode(const struct lq_rpc_method *, bool binary,
                               const struct lq_rpc_msg *response,
                               void **bodyp, size_t *lenp);

/* Runs a method with a pb_handler in-process: on success 'response'
 * (empty on entry) holds the answer (used by the transports and by
 * tests). */
struct lq_error *lq_rpc_call(const struct lq_rpc_method *, struct lq_node *,
                             const struct lq_rpc_msg *request,
                             struct lq_rpc_msg *response);

/* Modules register their methods. */
void lq_rpc_node_register(struct lq_rpc_registry *);
void lq_rpc_network_register(struct lq_rpc_registry *);

#endif
