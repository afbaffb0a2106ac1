/* http_server.c: Connect unary RPCs over HTTP/1.1 with libmicrohttpd.
 *
 * Codecs: application/json (proto3 JSON) and application/proto (binary
 * protobuf), both decoded into the method's input message by
 * lq_rpc_decode() and the answer encoded by lq_rpc_encode().  Errors are
 * JSON whatever the codec (the Connect spec).
 *
 * Design decisions:
 * - Framing errors are decided before the body is read, in the order a
 *   client would want to learn them: authentication (mTLS), HTTP method,
 *   unknown RPC, content type, declared size.  The body is then buffered up
 *   to server.max_request_bytes; beyond that the request is refused without
 *   storing more.
 * - Methods marked blocking suspend the connection and run on the worker
 *   pool; the completion resumes it on the loop thread, where the response
 *   is queued.  Non-blocking methods answer inline.
 * - Errors are {"code": "...", "message": "..."} with the Connect HTTP
 *   status. */
#include <config.h>
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fileutil.h"
#include "gzip.h"
#include "jsonx.h"
#include "h2_server.h"
#include "metrics.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "rpc.h"
#include "util.h"
#include "websocket.h"
#include "worker_pool.h"

VLOG_DEFINE_THIS_MODULE(http_server);

enum listener_kind { LISTENER_API, LISTENER_METRICS };

struct listener {
    struct lq_http_server *server;
    struct MHD_Daemon *mhd;
    /* Plaintext API listeners: our own socket, HTTP/2 served by h2_server,
     * HTTP/1.1 connections handed to 'mhd' (MHD_USE_NO_LISTEN_SOCKET). */
    struct lq_h2_listener *h2;
    enum listener_kind kind;
    bool tls;
    char *unix_path;            /* Unlinked on destroy. */
    int port;
};

struct lq_http_server {
    struct lq_node *node;
    const struct lq_rpc_registry *rpc;
    struct lq_metrics *metrics;
    struct lq_worker_pool *pool;
    size_t max_body;
    char *tls_cert, *tls_key, *tls_ca;  /* PEM; must outlive the daemons. */
    struct listener listeners[3];
    size_t n_listeners;
};

enum request_state { REQ_READING, REQ_RUNNING, REQ_DONE };

struct request {
    struct lq_rpc_call call;    /* For async handlers; must be first. */
    struct listener *listener;
    struct MHD_Connection *conn;
    enum request_state state;
    const struct lq_rpc_method *method;
    struct ds body;
    bool too_large;
    struct timespec start;
    struct lq_rpc_msg request;
    const char *method_name;    /* "service/Name", the registry's. */
    struct lq_rpc_msg response; /* Result: response or error. */
    struct lq_error *error;
    unsigned int status;        /* Overrides the code's HTTP status if set. */
    bool binary;                /* application/proto. */
    bool gzip_in;               /* Content-Encoding: gzip. */
    bool gzip_out;              /* Accept-Encoding lists gzip. */
    /* A WebSocket's peer socket until the upgrade hands it to the relay
     * (closed with the request if the upgrade never happens). */
    bool ws_pending;
    int ws_peer_fd;
};

static double
seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

static enum MHD_Result
queue_bytes(struct MHD_Connection *conn, unsigned int status,
            const char *content_type, void *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A successful answer, gzip-compressed for a client that accepts it
 * (unless too small to gain from it). */
static enum MHD_Result
queue_answer(struct MHD_Connection *conn, const struct request *req,
             const char *content_type, void *body, size_t len)
{
    bool gzipped = req->gzip_out && len >= LQ_GZIP_MIN_BYTES;
    if (gzipped) {
        uint8_t *z;
        lq_gzip_compress(body, len, &z, &len);
        free(body);
        body = z;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (gzipped) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY,
                            MHD_HTTP_HEADER_ACCEPT_ENCODING);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
queue_body(struct MHD_Connection *conn, unsigned int status,
           const char *content_type, char *body)
{
    return queue_bytes(conn, status, content_type, body, strlen(body));
}

/* Queues the request's result (response or error) and records metrics. */
static enum MHD_Result
queue_result(struct MHD_Connection *conn, struct request *req)
{
    struct lq_http_server *s = req->listener->server;
    const char *method_name = req->method_name ? req->method_name
                                               : "unknown";
    enum lq_code code = req->error ? req->error->code : LQ_OK;
    unsigned int status;
    char *body;

    if (req->error) {
        struct json *e = json_object_create();
        json_object_put_string(e, "code", lq_code_name(code));
        json_object_put_string(e, "message", req->error->message);
        body = lq_json_to_string(e);
        json_destroy(e);
        status = req->status ? req->status : lq_code_http_status(code);
        if (code == LQ_INTERNAL || code == LQ_UNKNOWN) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
            VLOG_WARN_RL(&rl, "%s: %s", method_name, req->error->message);
        }
    } else {
        void *bytes = NULL;
        size_t len = 0;
        req->error = lq_rpc_encode(req->method, req->binary, &req->response,
                                   &bytes, &len);
        if (req->error) {
            return queue_result(conn, req);
        }
        lq_metrics_observe_rpc(s->metrics, method_name, code,
                               seconds_since(&req->start));
        req->state = REQ_DONE;
        return queue_answer(conn, req, req->binary ? "application/proto"
                            : "application/json", bytes, len);
    }
    lq_metrics_observe_rpc(s->metrics, method_name, code,
                           seconds_since(&req->start));
    req->state = REQ_DONE;
    return queue_body(conn, status, "application/json", body);
}

/* Answers with an error now. */
static enum MHD_Result __attribute__((format(printf, 4, 5)))
reply_error(struct MHD_Connection *conn, struct request *req,
            enum lq_code code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *message = xvasprintf(format, args);
    va_end(args);

    req->error = lq_error_new(code, "%s", message);
    free(message);
    return queue_result(conn, req);
}

/* Decides the error now but answers only once the client has sent its
 * (discarded) body: answering early makes libmicrohttpd close the
 * connection, and a client still sending gets a broken pipe instead of the
 * error.  'status' 0 means the code's own HTTP status. */
static enum MHD_Result __attribute__((format(printf, 4, 5)))
reject(struct request *req, unsigned int status, enum lq_code code,
       const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *message = xvasprintf(format, args);
    va_end(args);

    req->error = lq_error_new(code, "%s", message);
    req->status = status;
    free(message);
    return MHD_YES;
}

/* mTLS: the TLS listener asks every client for a certificate (libmicrohttpd
 * does so when given a trust store); here we require that one was sent and
 * that it verifies against tls.ca_path. */
static bool
client_cert_ok(struct MHD_Connection *conn, const char **why)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session = ci ? ci->tls_session : NULL;
    unsigned int n_certs = 0, status = 0;

    if (!session || !gnutls_certificate_get_peers(session, &n_certs)
        || !n_certs) {
        *why = "a client certificate is required";
        return false;
    }
    if (gnutls_certificate_verify_peers2(session, &status) < 0 || status) {
        *why = "the client certificate is not trusted";
        return false;
    }
    return true;
}

static bool
content_type_is(const char *ct, const char *type)
{
    size_t n = strcspn(ct, ";");
    while (n && ct[n - 1] == ' ') {
        n--;
    }
    return n == strlen(type) && !strncasecmp(ct, type, n);
}

/* Connect unary codecs: 1 JSON, 2 binary protobuf, 0 neither. */
static int
content_type_codec(const char *ct)
{
    if (!ct || content_type_is(ct, "application/json")) {
        return 1;               /* Lenient: curl -d without -H. */
    }
    return content_type_is(ct, "application/proto") ? 2 : 0;
}

/* First call for a request: everything decidable from the headers. */
/* ---- WebSocket endpoints --------------------------------------------- */

static void
ws_relay_done(void *urh)
{
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static void
ws_upgraded(void *cls OVS_UNUSED, struct MHD_Connection *conn OVS_UNUSED,
            void *req_cls, const char *extra_in, size_t extra_in_size,
            MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct request *req = req_cls;     /* The value left in *con_cls. */
    req->ws_pending = false;
    lq_ws_relay_start(sock, req->ws_peer_fd, extra_in, extra_in_size,
                      ws_relay_done, urh);
}

static bool
header_has_token(struct MHD_Connection *conn, const char *header,
                 const char *token)
{
    return lq_header_lists(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       header), token);
}

/* GET on a registered WebSocket path: the RFC 6455 handshake, then the
 * endpoint's socket is relayed (websocket.c).  Refusals are plain text
 * with the error's HTTP status: a WebSocket client sees only the status. */
static enum MHD_Result
websocket_start(struct MHD_Connection *conn, struct request *req,
                lq_ws_open_fn *open)
{
    req->state = REQ_RUNNING;   /* Answered here; nothing else to read. */
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                  "Sec-WebSocket-Key");
    const char *version = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    char *accept = lq_ws_accept_key(key);
    const char *bad = !header_has_token(conn, "Upgrade", "websocket")
                      ? "Upgrade: expected websocket"
                      : !header_has_token(conn, "Connection", "upgrade")
                      ? "Connection: expected upgrade"
                      : !version || strcmp(version, "13")
                      ? "Sec-WebSocket-Version: expected 13"
                      : !accept ? "Sec-WebSocket-Key: expected 16 bytes in "
                                  "base64" : NULL;
    if (bad) {
        free(accept);
        return queue_body(conn, MHD_HTTP_BAD_REQUEST, "text/plain",
                          xasprintf("%s\n", bad));
    }
    int fd = -1;
    struct lq_error *e = open(MHD_lookup_connection_value(
                                  conn, MHD_GET_ARGUMENT_KIND, "token"), &fd);
    if (e) {
        free(accept);
        enum MHD_Result r = queue_body(conn, lq_code_http_status(e->code),
                                       "text/plain",
                                       xasprintf("%s\n", e->message));
        lq_error_free(e);
        return r;
    }
    req->ws_pending = true;
    req->ws_peer_fd = fd;
    struct MHD_Response *resp = MHD_create_response_for_upgrade(ws_upgraded,
                                                                NULL);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
    /* noVNC and websockify ask for "binary": our frames are. */
    if (header_has_token(conn, "Sec-WebSocket-Protocol", "binary")) {
        MHD_add_response_header(resp, "Sec-WebSocket-Protocol", "binary");
    }
    free(accept);
    enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS,
                                           resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result
request_start(struct listener *l, struct MHD_Connection *conn,
              struct request *req, const char *url, const char *http_method)
{
    const char *why;

    if (l->tls && !client_cert_ok(conn, &why)) {
        return reject(req, 0, LQ_UNAUTHENTICATED, "%s", why);
    }
    lq_ws_open_fn *ws = !strcmp(http_method, MHD_HTTP_METHOD_GET)
                        ? lq_rpc_find_websocket(l->server->rpc, url) : NULL;
    if (ws) {
        return websocket_start(conn, req, ws);
    }
    if (strcmp(http_method, MHD_HTTP_METHOD_POST)) {
        return reject(req, MHD_HTTP_METHOD_NOT_ALLOWED, LQ_UNIMPLEMENTED, "HTTP method %s is not "
                                  "supported: Connect unary calls use POST",
                                  http_method);
    }
    struct lq_http_server *s = l->server;
    req->method = lq_rpc_find(s->rpc, url);
    req->method_name = req->method ? lq_rpc_full_name(s->rpc, url) : NULL;
    if (!req->method) {
        return reject(req, 0, LQ_UNIMPLEMENTED, "unknown method \"%s\"", url);
    }

    const char *version = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, "Connect-Protocol-Version");
    if (version && strcmp(version, "1")) {
        return reject(req, 0, LQ_INVALID_ARGUMENT, "Connect-Protocol-Version: "
                      "unsupported \"%s\" (expected 1)", version);
    }
    const char *ct = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int codec = content_type_codec(ct);
    if (!codec) {
        return reject(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                  LQ_INVALID_ARGUMENT, "Content-Type: "
                                  "unsupported \"%s\" (expected "
                                  "application/json or application/proto)",
                                  ct);
    }
    req->binary = codec == 2;
    const char *enc = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    req->gzip_in = enc && !strcasecmp(enc, "gzip");
    if (enc && !req->gzip_in && strcasecmp(enc, "identity")) {
        return reject(req, 0, LQ_UNIMPLEMENTED, "Content-Encoding: \"%s\" is "
                      "not supported (gzip or identity)", enc);
    }
    req->gzip_out = lq_header_lists(MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING), "gzip");
    const char *cl = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->max_body) {
        /* Not worth reading: answer now and let the connection close. */
        return reply_error(conn, req, LQ_RESOURCE_EXHAUSTED,
                           "request body of %s bytes exceeds the limit of "
                           "%zu bytes", cl, s->max_body);
    }
    return MHD_YES;
}

static void
rpc_work(void *req_)
{
    struct request *req = req_;
    struct lq_http_server *s = req->listener->server;

    req->error = lq_rpc_call(req->method, s->node, &req->request,
                             &req->response);
}

static void
rpc_done(void *req_)
{
    struct request *req = req_;

    req->state = REQ_DONE;
    MHD_resume_connection(req->conn);
    poll_immediate_wake();      /* MHD_run() must see the resumed conn. */
}

static void
async_complete(struct lq_rpc_call *call, struct lq_error *error,
               ProtobufCMessage *response)
{
    struct request *req = CONTAINER_OF(call, struct request, call);

    req->error = error;
    req->response.pb = response;
    req->state = REQ_DONE;
    MHD_resume_connection(req->conn);
    poll_immediate_wake();
}

/* The body is complete: parse and dispatch. */
static enum MHD_Result
request_dispatch(struct MHD_Connection *conn, struct request *req)
{
    struct lq_http_server *s = req->listener->server;

    if (req->error) {
        return queue_result(conn, req);     /* Rejected in request_start(). */
    }
    if (req->too_large) {
        return reply_error(conn, req, LQ_RESOURCE_EXHAUSTED, "request body "
                           "exceeds the limit of %zu bytes", s->max_body);
    }
    if (req->gzip_in) {
        uint8_t *plain;
        size_t len;
        req->error = lq_gzip_decompress("request", req->body.string,
                                        req->body.length, s->max_body,
                                        &plain, &len);
        if (req->error) {
            return queue_result(conn, req);
        }
        ds_clear(&req->body);
        ds_put_buffer(&req->body, (const char *) plain, len);
        free(plain);
    }
    if ((req->method->stream && !req->method->pb_handler)
        || req->method->bidi) {
        return reply_error(conn, req, LQ_UNIMPLEMENTED, "%s/%s is a %s "
                           "stream: call it with gRPC or Connect over HTTP/2",
                           req->method->service, req->method->name,
                           req->method->bidi ? "bidirectional" : "server");
    }
    req->error = lq_rpc_decode(req->method, req->binary, req->body.string,
                               req->body.length, &req->request);
    if (req->error) {
        return queue_result(conn, req);
    }
    if (req->method->async_handler) {
        req->state = REQ_RUNNING;
        req->conn = conn;
        req->call.complete = async_complete;
        MHD_suspend_connection(conn);
        req->method->async_handler(s->node, req->request.pb, &req->call);
        return MHD_YES;
    }
    if (req->method->blocking) {
        req->state = REQ_RUNNING;
        req->conn = conn;
        MHD_suspend_connection(conn);
        lq_worker_pool_submit(s->pool, rpc_work, rpc_done, req);
        return MHD_YES;
    }
    req->error = lq_rpc_call(req->method, s->node, &req->request,
                             &req->response);
    return queue_result(conn, req);
}

static enum MHD_Result
serve_metrics(struct listener *l, struct MHD_Connection *conn,
              const char *url, const char *http_method)
{
    if (strcmp(url, "/metrics")) {
        return queue_body(conn, MHD_HTTP_NOT_FOUND, "text/plain",
                          xstrdup("not found; try /metrics\n"));
    }
    if (strcmp(http_method, MHD_HTTP_METHOD_GET)
        && strcmp(http_method, MHD_HTTP_METHOD_HEAD)) {
        return queue_body(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                          xstrdup("use GET\n"));
    }
    struct ds out = DS_EMPTY_INITIALIZER;
    lq_metrics_render(l->server->metrics, &out);
    return queue_body(conn, MHD_HTTP_OK, "text/plain; version=0.0.4",
                      ds_steal_cstr(&out));
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url,
          const char *http_method, const char *version OVS_UNUSED,
          const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct listener *l = cls;
    struct request *req = *con_cls;

    if (l->kind == LISTENER_METRICS) {
        if (!req) {
            /* Wait for the (empty) body before answering. */
            *con_cls = xzalloc(sizeof *req);
            ((struct request *) *con_cls)->listener = l;
            return MHD_YES;
        }
        *upload_data_size = 0;
        return serve_metrics(l, conn, url, http_method);
    }

    if (!req) {
        req = xzalloc(sizeof *req);
        req->listener = l;
        ds_init(&req->body);
        clock_gettime(CLOCK_MONOTONIC, &req->start);
        *con_cls = req;
        return request_start(l, conn, req, url, http_method);
    }
    if (req->state == REQ_DONE && req->conn) {
        req->conn = NULL;       /* Resumed after a worker-pool call. */
        return queue_result(conn, req);
    }
    if (req->state != REQ_READING) {
        *upload_data_size = 0;  /* Already answered: discard the rest. */
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (req->error) {
            /* Rejected: drain without storing. */
        } else if (!req->too_large
                   && req->body.length + n > l->server->max_body) {
            req->too_large = true;
            ds_destroy(&req->body);
            ds_init(&req->body);
        }
        if (!req->too_large && !req->error) {
            ds_put_buffer(&req->body, upload_data, n);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return request_dispatch(conn, req);
}

static void
completed_cb(void *cls OVS_UNUSED, struct MHD_Connection *conn OVS_UNUSED,
             void **con_cls, enum MHD_RequestTerminationCode toe OVS_UNUSED)
{
    struct request *req = *con_cls;
    if (req) {
        if (req->ws_pending) {
            close(req->ws_peer_fd);     /* The upgrade never happened. */
        }
        ds_destroy(&req->body);
        lq_rpc_msg_clear(&req->request);
        lq_rpc_msg_clear(&req->response);
        lq_error_free(req->error);
        free(req);
        *con_cls = NULL;
    }
}

/* libmicrohttpd tunes TCP options (TCP_NODELAY, TCP_CORK) on every
 * connection; on a Unix-socket connection handed over by h2_server they
 * fail harmlessly (the data is sent without them), so those messages are
 * not warnings. */
static bool
mhd_message_is_noise(const char *msg)
{
    return strstr(msg, "TCP_NODELAY") || strstr(msg, "TCP_CORK")
           || strstr(msg, "Failed to push the data from buffers");
}

static void
mhd_log(void *cls OVS_UNUSED, const char *fmt, va_list ap)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
    char *msg = xvasprintf(fmt, ap);
    if (!mhd_message_is_noise(msg)
        && !vlog_should_drop(&this_module, VLL_WARN, &rl)) {
        size_t n = strlen(msg);
        if (n && msg[n - 1] == '\n') {
            msg[n - 1] = '\0';
        }
        VLOG_WARN("libmicrohttpd: %s", msg);
    }
    free(msg);
}

struct lq_error *
lq_parse_listen_address(const char *field, const char *text,
                        struct sockaddr_storage *ss, socklen_t *len)
{
    char *copy = xstrdup(text), *host = copy, *port_s;
    struct lq_error *error = NULL;

    memset(ss, 0, sizeof *ss);
    if (*host == '[') {
        char *close = strchr(host, ']');
        if (!close || close[1] != ':') {
            goto bad;
        }
        *close = '\0';
        host++;
        port_s = close + 2;
    } else {
        port_s = strrchr(host, ':');
        if (!port_s) {
            goto bad;
        }
        *port_s++ = '\0';
    }

    char *end;
    long port = strtol(port_s, &end, 10);
    if (!*port_s || *end || port < 0 || port > 65535) {
        goto bad;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *len = sizeof *sin;
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *len = sizeof *sin6;
    } else {
        goto bad;
    }
    free(copy);
    return NULL;

bad:
    error = lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected IP:PORT or "
                         "[IPv6]:PORT, got \"%s\"", field, text);
    free(copy);
    return error;
}

static struct lq_error *
read_pem(const char *field, const char *path, char **pem)
{
    int err = lq_read_file(path, pem, NULL);
    if (err) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: cannot open \"%s\": %s",
                            field, path, strerror(err));
    }
    if (!strstr(*pem, "-----BEGIN")) {
        free(*pem);
        *pem = NULL;
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not a PEM "
                            "file", field, path);
    }
    return NULL;
}

/* Binds the Unix socket with mode 0600 from the start (umask), after
 * removing a stale socket left by a crashed daemon, but never one that a
 * live daemon still answers on. */
static struct lq_error *
unix_listen(const char *path, int *fdp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sun.sun_path) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "server.unix_socket: path "
                            "longer than %zu bytes", sizeof sun.sun_path - 1);
    }
    strcpy(sun.sun_path, path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return lq_error_new(LQ_INTERNAL, "socket: %s", strerror(errno));
    }
    struct stat st;
    if (!lstat(path, &st)) {
        if (!S_ISSOCK(st.st_mode)) {
            close(fd);
            return lq_error_new(LQ_FAILED_PRECONDITION, "server.unix_socket: "
                                "\"%s\" exists and is not a socket", path);
        }
        if (!connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
            close(fd);
            return lq_error_new(LQ_FAILED_PRECONDITION, "server.unix_socket: "
                                "another daemon is listening on \"%s\"",
                                path);
        }
        close(fd);
        unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return lq_error_new(LQ_INTERNAL, "socket: %s", strerror(errno));
        }
    }

    mode_t old_umask = umask(0177);
    int bind_error = bind(fd, (struct sockaddr *) &sun, sizeof sun)
                     ? errno : 0;
    umask(old_umask);
    if (bind_error || listen(fd, 64)) {
        int e = bind_error ? bind_error : errno;
        close(fd);
        return lq_error_new(LQ_UNAVAILABLE, "server.unix_socket: cannot "
                            "listen on \"%s\": %s", path, strerror(e));
    }
    *fdp = fd;
    return NULL;
}

/* A TCP listening socket of our own (for the HTTP/2 sniffer). */
static struct lq_error *
tcp_listen(const char *field, const char *address,
           const struct sockaddr_storage *ss, socklen_t len, int *fdp)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)
        || bind(fd, (const struct sockaddr *) ss, len) || listen(fd, 128)) {
        struct lq_error *e = lq_error_new(LQ_UNAVAILABLE, "%s: cannot listen "
                                          "on %s: %s", field, address,
                                          strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return e;
    }
    *fdp = fd;
    return NULL;
}

static int
bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *) &ss, &len)) {
        return 0;
    }
    return ntohs(ss.ss_family == AF_INET6
                 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                 : ((struct sockaddr_in *) &ss)->sin_port);
}

/* h2_server's handoff of an HTTP/1.1 connection. */
static void
add_http1_connection(void *l_, int fd, const struct sockaddr *addr,
                     socklen_t len)
{
    struct listener *l = l_;
    if (MHD_add_connection(l->mhd, fd, addr, len) != MHD_YES) {
        /* libmicrohttpd closed it (over its connection limit). */
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
        VLOG_WARN_RL(&rl, "HTTP/1.1 connection refused");
    }
}

static struct lq_error *
listener_start(struct lq_http_server *s, enum listener_kind kind,
               const char *field, const char *address, const char *unix_path,
               bool tls)
{
    struct listener *l = &s->listeners[s->n_listeners];
    unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG
                         | MHD_ALLOW_SUSPEND_RESUME;
    struct sockaddr_storage ss;
    socklen_t ss_len = 0;
    int unix_fd = -1;
    struct lq_error *error;

    memset(l, 0, sizeof *l);
    l->server = s;
    l->kind = kind;
    l->tls = tls;

    /* HTTP/2 next to HTTP/1.1 on the API listeners (h2c by prior
     * knowledge, or ALPN under TLS): h2_server.c owns the socket and hands
     * libmicrohttpd the rest. */
    bool h2 = kind == LISTENER_API;
    if (unix_path) {
        error = unix_listen(unix_path, &unix_fd);
    } else {
        error = lq_parse_listen_address(field, address, &ss, &ss_len);
        if (!error && ss.ss_family == AF_INET6) {
            flags |= MHD_USE_IPv6;
        }
        if (!error && h2) {
            error = tcp_listen(field, address, &ss, ss_len, &unix_fd);
        }
    }
    if (error) {
        return error;
    }
    if (h2) {
        flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_UPGRADE;
    }
    if (tls) {
        flags |= MHD_USE_TLS;
    }

    struct MHD_OptionItem opts[] = {
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) mhd_log, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) completed_cb, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL },
        /* A restarted daemon must not wait out TIME_WAIT. */
        { MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL },
        /* With h2 the socket is ours: an empty option. */
        { h2 ? MHD_OPTION_CONNECTION_LIMIT
          : unix_path ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
          h2 ? 1024 : unix_fd, h2 || unix_path ? NULL : (void *) &ss },
        /* Without TLS this entry ends the array. */
        { tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->tls_key },
        { MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert },
        { MHD_OPTION_HTTPS_MEM_TRUST, 0, s->tls_ca },
        { MHD_OPTION_END, 0, NULL },
    };
    l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, l,
                              MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!l->mhd) {
        if (unix_fd >= 0) {
            close(unix_fd);
        }
        if (unix_path) {
            unlink(unix_path);
        }
        return lq_error_new(LQ_UNAVAILABLE, "%s: cannot listen on %s "
                            "(address in use or not local?)", field,
                            unix_path ? unix_path : address);
    }
    if (unix_path) {
        l->unix_path = xstrdup(unix_path);
    } else if (h2) {
        l->port = bound_port(unix_fd);
    } else {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(
            l->mhd, MHD_DAEMON_INFO_BIND_PORT);
        l->port = info ? info->port : 0;
    }
    if (h2) {
        struct lq_h2_env env = {
            .node = s->node, .rpc = s->rpc, .pool = s->pool,
            .metrics = s->metrics, .max_body = s->max_body,
            .http1 = add_http1_connection, .http1_aux = l,
            .tls_cert = tls ? s->tls_cert : NULL,
            .tls_key = tls ? s->tls_key : NULL,
            .tls_ca = tls ? s->tls_ca : NULL,
        };
        error = lq_h2_listener_create(unix_fd, &env, &l->h2);
        if (error) {
            MHD_stop_daemon(l->mhd);
            if (unix_path) {
                unlink(unix_path);
            }
            return error;
        }
    }
    s->n_listeners++;
    VLOG_INFO("listening on %s%s%s", unix_path ? unix_path : address,
              tls ? " (TLS, client certificates required)" : "",
              kind == LISTENER_METRICS ? " (metrics)" : "");
    return NULL;
}

static char *
metrics_address(const struct lq_config *c)
{
    /* Same host as the API, its own port. */
    const char *api = c->server.listen_address;
    const char *colon = strrchr(api, ':');
    if (!*api || !colon) {
        return xasprintf("0.0.0.0:%d", c->server.metrics_port);
    }
    return xasprintf("%.*s:%d", (int) (colon - api), api,
                     c->server.metrics_port);
}

struct lq_error *
lq_http_server_create(const struct lq_config *c, struct lq_node *node,
                      const struct lq_rpc_registry *rpc,
                      struct lq_metrics *metrics,
                      struct lq_worker_pool *pool,
                      struct lq_http_server **serverp)
{
    struct lq_http_server *s = xzalloc(sizeof *s);
    struct lq_error *error = NULL;

    s->node = node;
    s->rpc = rpc;
    s->metrics = metrics;
    s->pool = pool;
    s->max_body = c->server.max_request_bytes;

    if (c->tls.enabled) {
        error = read_pem("tls.cert_path", c->tls.cert_path, &s->tls_cert);
        if (!error) {
            error = read_pem("tls.key_path", c->tls.key_path, &s->tls_key);
        }
        if (!error) {
            error = read_pem("tls.ca_path", c->tls.ca_path, &s->tls_ca);
        }
    }
    if (!error && *c->server.listen_address) {
        error = listener_start(s, LISTENER_API, "server.listen_address",
                               c->server.listen_address, NULL,
                               c->tls.enabled);
    }
    if (!error && *c->server.unix_socket) {
        error = listener_start(s, LISTENER_API, "server.unix_socket", NULL,
                               c->server.unix_socket, false);
    }
    if (!error && c->server.metrics_port) {
        char *address = metrics_address(c);
        error = listener_start(s, LISTENER_METRICS, "server.metrics_port",
                               address, NULL, false);
        free(address);
    }
    if (error) {
        lq_http_server_destroy(s);
        *serverp = NULL;
        return error;
    }
    *serverp = s;
    return NULL;
}

void
lq_http_server_destroy(struct lq_http_server *s)
{
    if (!s) {
        return;
    }
    lq_ws_relays_stop();        /* Before the daemons that own them. */
    for (size_t i = 0; i < s->n_listeners; i++) {
        lq_h2_listener_destroy(s->listeners[i].h2);
        MHD_stop_daemon(s->listeners[i].mhd);
        if (s->listeners[i].unix_path) {
            unlink(s->listeners[i].unix_path);
            free(s->listeners[i].unix_path);
        }
    }
    free(s->tls_cert);
    if (s->tls_key) {
        memset(s->tls_key, 0, strlen(s->tls_key));  /* Key material. */
        free(s->tls_key);
    }
    free(s->tls_ca);
    free(s);
}

void
lq_http_server_run(struct lq_http_server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        if (s->listeners[i].h2) {
            lq_h2_listener_run(s->listeners[i].h2);
        }
        MHD_run(s->listeners[i].mhd);
    }
}

void
lq_http_server_wait(struct lq_http_server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        struct MHD_Daemon *mhd = s->listeners[i].mhd;
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(
            mhd, MHD_DAEMON_INFO_EPOLL_FD);
        MHD_UNSIGNED_LONG_LONG timeout;

        poll_fd_wait(info->epoll_fd, POLLIN);
        if (MHD_get_timeout(mhd, &timeout) == MHD_YES) {
            poll_timer_wait(timeout);
        }
        if (s->listeners[i].h2) {
            lq_h2_listener_wait(s->listeners[i].h2);
        }
    }
}

static int
find_port(const struct lq_http_server *s, enum listener_kind kind)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        if (s->listeners[i].kind == kind && !s->listeners[i].unix_path) {
            return s->listeners[i].port;
        }
    }
    return 0;
}

int
lq_http_server_api_port(const struct lq_http_server *s)
{
    return find_port(s, LISTENER_API);
}

int
lq_http_server_metrics_port(const struct lq_http_server *s)
{
    return find_port(s, LISTENER_METRICS);
}
