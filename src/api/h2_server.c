/* h2_server.c: gRPC and Connect over HTTP/2 with nghttp2: cleartext (h2c,
 * prior knowledge) and under TLS (ALPN "h2") (see h2_server.h).
 *
 * Design decisions:
 * - One socket, two protocols: the listener accepts, then peeks (MSG_PEEK,
 *   nothing consumed) until it has the 24-byte HTTP/2 client preface or a
 *   byte that cannot start one; a non-HTTP/2 connection goes to
 *   libmicrohttpd as it arrived.  So grpc-go (prior knowledge), curl
 *   --http2-prior-knowledge and HTTP/1.1 clients share server.listen_address
 *   and server.unix_socket.
 * - Under TLS the ClientHello is peeked the same way (tls_hello.h): one
 *   that offers ALPN "h2" is ours, and GnuTLS does the handshake here with
 *   the same certificate, key and trust store as libmicrohttpd; any other
 *   goes to libmicrohttpd, which negotiates HTTP/1.1 itself.  A client
 *   without a trusted certificate gets every call answered
 *   unauthenticated, as on HTTP/1.1.
 * - nghttp2 does the framing, HPACK, flow control and SETTINGS; we only
 *   see complete requests (headers + body, END_STREAM) and submit complete
 *   answers.  Unary only for now: a request is one message.
 * - Protocol by Content-Type: application/grpc (+proto or +json) is gRPC
 *   (5-byte length-prefixed messages, status in trailers, grpc-timeout);
 *   application/proto and application/json are Connect unary (status as
 *   HTTP status, JSON errors, Connect-Timeout-Ms).  The gRPC status codes
 *   are the numbers of enum lq_code.
 * - A stream is freed when nghttp2 has closed it *and* no call for it runs
 *   on the worker pool; a connection when it is closed and none of its
 *   streams still runs.  A call whose stream or connection went away
 *   finishes into the void; one whose deadline passed is answered
 *   deadline_exceeded at once and its late result dropped. */
#include <config.h>
#include "h2_server.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <limits.h>
#include <nghttp2/nghttp2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gzip.h"
#include "jsonx.h"
#include "metrics.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "pbmsg.h"
#include "rpc.h"
#include "socket-util.h"
#include "timeval.h"
#include "tls_hello.h"
#include "util.h"
#include "worker_pool.h"

VLOG_DEFINE_THIS_MODULE(h2_server);

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24
#define SNIFF_TIMEOUT_MS 10000
#define MAX_STREAMS 100

struct lq_h2_listener {
    int fd;
    int epoll_fd;                   /* The listener and HTTP/2 conns. */
    struct lq_h2_env env;
    gnutls_certificate_credentials_t tls;   /* NULL: plaintext. */
    struct ovs_list sniffing;       /* struct sniff */
    struct ovs_list conns;          /* struct h2_conn, open */
    struct ovs_list closed;         /* struct h2_conn, calls still running */
};

struct sniff {
    struct ovs_list node;
    int fd;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    long long deadline;
};

struct h2_conn {
    struct ovs_list node;           /* In listener->conns, then ->closed. */
    struct lq_h2_listener *listener;
    int fd;                         /* -1 once closed. */
    gnutls_session_t tls;           /* NULL: plaintext. */
    long long handshake_deadline;   /* While the TLS handshake runs. */
    char *auth_error;               /* Why the client is not trusted. */
    nghttp2_session *session;       /* NULL until the handshake is done. */
    bool readable;                  /* epoll said so this pass. */
    /* Frames of one pass, sent with as few writes as the socket allows:
     * one send() per frame would leave the trailers to Nagle and the
     * client's delayed ACK. */
    struct ds out;
    size_t out_off;
    struct ovs_list streams;        /* struct h2_stream */
};

enum h2_proto { PROTO_GRPC, PROTO_CONNECT };
enum h2_encoding_header { ENC_GRPC, ENC_CONNECT_STREAM, ENC_HTTP };

struct h2_stream {
    struct lq_rpc_call call;        /* For async handlers; must be first. */
    struct ovs_list node;           /* In conn->streams. */
    struct h2_conn *conn;
    int32_t id;
    struct timespec start;

    char *path, *content_type;
    /* Content and accepted encodings by protocol: gRPC (grpc-encoding),
     * Connect streams (connect-content-encoding), Connect unary (HTTP's
     * content-encoding); index enum h2_encoding_header. */
    char *encoding[3], *accept_encoding[3];
    bool gzip_out;                  /* Compress answers the client took. */
    bool gzipped;                   /* The unary answer is compressed. */
    uint8_t *inflated;              /* The decompressed request. */
    long long deadline;             /* time_msec(); LLONG_MAX: none. */
    struct ds body;
    bool too_large;

    enum h2_proto proto;
    bool binary;                    /* Protobuf (else JSON). */
    const struct lq_rpc_method *method;
    struct lq_rpc_msg request, response;
    struct lq_error *error;
    /* What the call returned, written by the worker thread and taken over
     * by the loop in call_done() (the loop may have answered meanwhile). */
    struct lq_rpc_msg call_response;
    struct lq_error *call_error;

    bool in_flight;                 /* A call runs (worker or async). */
    bool answered;
    bool closed;                    /* nghttp2 closed the stream. */

    /* The answer's body and trailers. */
    uint8_t *out;
    size_t out_len, out_off;
    bool trailers;                  /* gRPC: status in trailers. */
    enum lq_code code;
    char *message;

    /* A server stream (method->stream): open on the worker pool, then
     * polled on the loop; messages go out as they come. */
    bool streaming;                 /* Opened, answering. */
    bool connect_stream;            /* application/connect+proto|json. */
    void *stream_state;
    bool stream_ended;              /* The last message is queued. */
    bool bidi;                      /* method->bidi, answering. */
    bool gzip_in;                   /* The request's messages may be. */
};

static void conn_flush(struct h2_conn *);
static void stream_answer(struct h2_stream *);

/* ---- Streams ------------------------------------------------------------ */

static void
stream_free(struct h2_stream *st)
{
    if (st->stream_state) {
        st->method->stream->close(st->stream_state);
    }
    ovs_list_remove(&st->node);
    free(st->path);
    free(st->content_type);
    for (int i = 0; i < 3; i++) {
        free(st->encoding[i]);
        free(st->accept_encoding[i]);
    }
    free(st->inflated);
    ds_destroy(&st->body);
    lq_rpc_msg_clear(&st->request);
    lq_rpc_msg_clear(&st->response);
    lq_rpc_msg_clear(&st->call_response);
    lq_error_free(st->error);
    free(st->out);
    free(st->message);
    free(st);
}

/* Frees 'st' if nothing needs it any more (never its connection: closed
 * connections are reaped by the listener, outside every callback). */
static void
stream_release(struct h2_stream *st)
{
    if (!st->in_flight && (st->closed || st->conn->fd < 0)) {
        stream_free(st);
    }
}

/* "10S", "250m" (grpc-timeout) -> milliseconds; -1 if malformed. */
static long long
parse_grpc_timeout(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0 || end - s > 8 || !end[0] || end[1]) {
        return -1;
    }
    switch (*end) {
    case 'H': return v * 3600 * 1000;
    case 'M': return v * 60 * 1000;
    case 'S': return v * 1000;
    case 'm': return v;
    case 'u': return (v + 999) / 1000;
    case 'n': return (v + 999999) / 1000000;
    default: return -1;
    }
}

static bool
content_type_starts(const char *ct, const char *type)
{
    size_t n = strlen(type);
    return ct && !strncasecmp(ct, type, n)
           && (!ct[n] || ct[n] == ';' || ct[n] == '+');
}

/* ---- Answers ------------------------------------------------------------ */

/* grpc-message is percent-encoded (the gRPC spec): printable ASCII except
 * '%' as is, every other byte as %XX. */
static char *
grpc_message_encode(const char *msg)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    for (const unsigned char *p = (const unsigned char *) msg; *p; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            ds_put_char(&s, *p);
        } else {
            ds_put_format(&s, "%%%02X", *p);
        }
    }
    return ds_steal_cstr(&s);
}


/* grpc-status's value: the code's decimal digits, without formatting
 * each time. */
static const char *
grpc_status_text(enum lq_code code)
{
    static const char *const texts[] = {
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
        "13", "14", "15", "16",
    };
    return (size_t) code < ARRAY_SIZE(texts) ? texts[code] : "2";
}

static ssize_t
body_read_cb(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
             size_t length, uint32_t *data_flags,
             nghttp2_data_source *source, void *user_data OVS_UNUSED)
{
    struct h2_stream *st = source->ptr;
    size_t n = MIN(length, st->out_len - st->out_off);
    if (!n && st->streaming && !st->stream_ended) {
        return NGHTTP2_ERR_DEFERRED;    /* Resumed when messages come. */
    }
    if (n) {
        memcpy(buf, st->out + st->out_off, n);     /* 'out' may be NULL. */
    }
    st->out_off += n;
    if (st->out_off == st->out_len && (!st->streaming || st->stream_ended)) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (st->trailers) {
            const char *status = grpc_status_text(st->code);
            /* grpc-message only with an error: it is optional, and an OK
             * call has nothing to say. */
            char *msg = st->code == LQ_OK ? NULL : grpc_message_encode(
                st->message ? st->message : "");
            nghttp2_nv nv[] = {
                { (uint8_t *) "grpc-status", (uint8_t *) status, 11,
                  strlen(status), NGHTTP2_NV_FLAG_NONE },
                { (uint8_t *) "grpc-message", (uint8_t *) msg, 12,
                  msg ? strlen(msg) : 0, NGHTTP2_NV_FLAG_NONE },
            };
            *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_submit_trailer(session, stream_id, nv, msg ? 2 : 1);
            free(msg);
        }
    }
    return n;
}

#define NV(NAME, VALUE) { (uint8_t *) (NAME), (uint8_t *) (VALUE), \
                          strlen(NAME), strlen(VALUE), NGHTTP2_NV_FLAG_NONE }

static void
submit_grpc(struct h2_stream *st, nghttp2_session *session)
{
    const char *ct = st->binary ? "application/grpc"
                                : "application/grpc+json";
    if (st->code != LQ_OK) {
        /* Trailers-only: the status in the one HEADERS frame. */
        const char *status = grpc_status_text(st->code);
        char *msg = grpc_message_encode(st->message ? st->message : "");
        nghttp2_nv nv[] = { NV(":status", "200"), NV("content-type", ct),
                            NV("grpc-accept-encoding", "gzip, identity"),
                            NV("grpc-status", status),
                            NV("grpc-message", msg) };
        nghttp2_submit_response(session, st->id, nv, ARRAY_SIZE(nv), NULL);
        free(msg);
        return;
    }
    /* identity is the default: said only when it is gzip. */
    nghttp2_nv nv[] = { NV(":status", "200"), NV("content-type", ct),
                        NV("grpc-accept-encoding", "gzip, identity"),
                        NV("grpc-encoding", "gzip") };
    nghttp2_data_provider dp = { .source.ptr = st, .read_callback =
                                 body_read_cb };
    st->trailers = true;
    nghttp2_submit_response(session, st->id, nv,
                            ARRAY_SIZE(nv) - !st->gzipped, &dp);
}

static void
submit_connect(struct h2_stream *st, nghttp2_session *session)
{
    char status[8];
    const char *ct = st->code != LQ_OK || !st->binary ? "application/json"
                                                      : "application/proto";
    snprintf(status, sizeof status, "%d",
             st->code == LQ_OK ? 200 : lq_code_http_status(st->code));
    nghttp2_nv nv[] = { NV(":status", status), NV("content-type", ct),
                        NV("accept-encoding", "gzip"),
                        NV("content-encoding", "gzip") };
    nghttp2_data_provider dp = { .source.ptr = st, .read_callback =
                                 body_read_cb };
    nghttp2_submit_response(session, st->id, nv,
                            ARRAY_SIZE(nv) - !st->gzipped, &dp);
}

/* Compresses a message for a client that accepts gzip, unless it is too
 * small to gain from it. */
static bool
maybe_gzip(const struct h2_stream *st, void **bytes, size_t *len)
{
    if (!st->gzip_out || *len < LQ_GZIP_MIN_BYTES) {
        return false;
    }
    uint8_t *z;
    lq_gzip_compress(*bytes, *len, &z, len);
    free(*bytes);
    *bytes = z;
    return true;
}

/* Sets the answer from st->error / st->response, then submits it. */
static void
stream_answer(struct h2_stream *st)
{
    struct h2_conn *c = st->conn;
    if (st->answered || st->closed || c->fd < 0) {
        return;
    }
    st->answered = true;
    void *payload = NULL;
    size_t len = 0;
    if (!st->error) {
        st->error = lq_rpc_encode(st->method, st->binary, &st->response,
                                  &payload, &len);
    }
    st->code = st->error ? st->error->code : LQ_OK;
    if (st->error) {
        free(payload);
        st->message = xstrdup(st->error->message);
        if (st->code == LQ_INTERNAL || st->code == LQ_UNKNOWN) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
            VLOG_WARN_RL(&rl, "%s: %s", st->path, st->message);
        }
        if (st->proto == PROTO_CONNECT) {
            struct json *e = json_object_create();
            json_object_put_string(e, "code", lq_code_name(st->code));
            json_object_put_string(e, "message", st->message);
            payload = lq_json_to_string(e);
            len = strlen(payload);
            json_destroy(e);
        }
    }
    if (st->code == LQ_OK) {
        st->gzipped = maybe_gzip(st, &payload, &len);
    }
    if (st->proto == PROTO_GRPC && st->code == LQ_OK) {
        /* One length-prefixed message. */
        st->out = xmalloc(len + 5);
        st->out[0] = st->gzipped;
        st->out[1] = len >> 24;
        st->out[2] = len >> 16;
        st->out[3] = len >> 8;
        st->out[4] = len;
        memcpy(st->out + 5, payload, len);
        st->out_len = len + 5;
        free(payload);
    } else {
        st->out = payload;
        st->out_len = len;
    }
    if (st->method) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        lq_metrics_observe_rpc(c->listener->env.metrics,
                               lq_rpc_full_name(c->listener->env.rpc,
                                                st->path),
                               st->code,
                               (now.tv_sec - st->start.tv_sec)
                               + (now.tv_nsec - st->start.tv_nsec) / 1e9);
    }
    if (st->proto == PROTO_GRPC) {
        submit_grpc(st, c->session);
    } else {
        submit_connect(st, c->session);
    }
}

static void __attribute__((format(printf, 3, 4)))
stream_fail(struct h2_stream *st, enum lq_code code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *msg = xvasprintf(format, args);
    va_end(args);
    lq_error_free(st->error);
    st->error = lq_error_new(code, "%s", msg);
    free(msg);
    stream_answer(st);
}

/* ---- Server streams ------------------------------------------------------- */

#define MAX_STREAM_BACKLOG (8u << 20)   /* Unsent bytes per stream. */

/* Appends one 5-byte-prefixed envelope (gRPC message or Connect frame). */
static void
stream_append(struct h2_stream *st, uint8_t flags, const void *data,
              size_t len)
{
    if (st->out_off == st->out_len) {
        st->out_off = st->out_len = 0;
    }
    st->out = xrealloc(st->out, st->out_len + len + 5);
    uint8_t *p = st->out + st->out_len;
    p[0] = flags;
    p[1] = len >> 24;
    p[2] = len >> 16;
    p[3] = len >> 8;
    p[4] = len;
    memcpy(p + 5, data, len);
    st->out_len += len + 5;
}

/* Ends the stream with 'error' (NULL: OK): gRPC in the trailers, Connect
 * in its end-of-stream frame. */
static void
stream_end(struct h2_stream *st, struct lq_error *error)
{
    st->stream_ended = true;
    st->code = error ? error->code : LQ_OK;
    free(st->message);
    st->message = error ? xstrdup(error->message) : NULL;
    if (st->connect_stream) {
        struct json *end = json_object_create();
        if (error) {
            struct json *e = json_object_create();
            json_object_put_string(e, "code", lq_code_name(error->code));
            json_object_put_string(e, "message", error->message);
            json_object_put(end, "error", e);
        }
        char *text = lq_json_to_string(end);
        stream_append(st, 0x02, text, strlen(text));
        free(text);
        json_destroy(end);
    }
    lq_error_free(error);
    nghttp2_session_resume_data(st->conn->session, st->id);
}

/* Sends what the stream has ready; ends it when it is over. */
static void
stream_poll(struct h2_stream *st)
{
    struct lq_pb_list out = LQ_PB_LIST_INITIALIZER;
    bool done = false;
    /* An error from poll() ends the stream after the messages it gave. */
    struct lq_error *end = st->method->stream->poll(st->stream_state, &out,
                                                    &done);
    struct lq_error *e = NULL;
    size_t n_messages = out.n;
    for (size_t i = 0; !e && i < out.n; i++) {
        void *bytes = NULL;
        size_t len = 0;
        struct lq_rpc_msg m = { .pb = out.msgs[i] };
        e = lq_rpc_encode(st->method, st->binary, &m, &bytes, &len);
        if (!e) {
            bool gzipped = maybe_gzip(st, &bytes, &len);
            stream_append(st, gzipped, bytes, len);
        }
        free(bytes);
    }
    lq_pb_list_clear(&out);
    if (e) {
        lq_error_free(end);     /* A message that does not encode wins. */
    } else {
        e = end;
    }
    if (!e && st->out_len - st->out_off > MAX_STREAM_BACKLOG) {
        /* A client that does not read: drop what it has not taken. */
        st->out_off = st->out_len = 0;
        e = lq_error_new(LQ_RESOURCE_EXHAUSTED, "the client reads this "
                         "stream too slowly (more than %u bytes waiting)",
                         MAX_STREAM_BACKLOG);
    }
    if (e || done) {
        stream_end(st, e);
    } else if (n_messages) {
        nghttp2_session_resume_data(st->conn->session, st->id);
    }
}

/* A stream's answer: headers now, messages as they come (body_read_cb()
 * defers while there are none), the status at the end. */
static void
stream_submit_headers(struct h2_stream *st)
{
    st->streaming = true;
    st->answered = true;
    st->trailers = st->proto == PROTO_GRPC;
    const char *ct = st->connect_stream
        ? (st->binary ? "application/connect+proto"
                      : "application/connect+json")
        : (st->binary ? "application/grpc" : "application/grpc+json");
    const char *gz = st->gzip_out ? "gzip" : "identity";
    const char *accept = st->connect_stream ? "gzip" : "gzip, identity";
    nghttp2_nv nv[] = {
        NV(":status", "200"), NV("content-type", ct),
        NV(st->connect_stream ? "connect-accept-encoding"
                              : "grpc-accept-encoding", accept),
        NV(st->connect_stream ? "connect-content-encoding" : "grpc-encoding",
           gz),
    };
    nghttp2_data_provider dp = { .source.ptr = st, .read_callback =
                                 body_read_cb };
    nghttp2_submit_response(st->conn->session, st->id, nv, ARRAY_SIZE(nv),
                            &dp);
}

static void
stream_refresh_work(void *st_)
{
    struct h2_stream *st = st_;
    st->method->stream->refresh(st->stream_state);
}

static void
stream_refresh_done(void *st_)
{
    struct h2_stream *st = st_;
    st->in_flight = false;
    if (!st->closed && st->conn->fd >= 0 && !st->stream_ended) {
        /* Sent by the connection's next run: a flush here could close
         * and free 'st' under us. */
        stream_poll(st);
    }
    stream_release(st);
    poll_immediate_wake();
}

/* Polls a live stream, or first runs its blocking refresh if it is due. */
static void
stream_run(struct h2_stream *st)
{
    const struct lq_rpc_stream_class *class = st->method->stream;
    if (st->in_flight) {
        return;
    }
    if (class->refresh && class->due(st->stream_state)) {
        st->in_flight = true;
        lq_worker_pool_submit(st->conn->listener->env.pool,
                              stream_refresh_work, stream_refresh_done, st);
        return;
    }
    stream_poll(st);
}

static void
stream_open_work(void *st_)
{
    struct h2_stream *st = st_;
    st->call_error = st->method->stream->open(
        st->conn->listener->env.node, st->request.pb, &st->stream_state);
}

static void
stream_open_done(void *st_)
{
    struct h2_stream *st = st_;
    st->in_flight = false;
    struct h2_conn *c = st->conn;
    /* A Connect stream reports a refusal in its end frame (below). */
    if ((st->call_error && !st->connect_stream) || st->closed || c->fd < 0) {
        /* Refused, or the client left meanwhile. */
        lq_error_free(st->error);
        st->error = st->call_error;
        st->call_error = NULL;
        if (!st->error) {
            st->error = lq_error_new(LQ_CANCELED, "the client went away");
        }
        if (c->fd >= 0) {
            stream_answer(st);
        }
    } else {
        stream_submit_headers(st);
        if (st->call_error) {
            stream_end(st, st->call_error);
            st->call_error = NULL;
        } else {
            stream_run(st);
        }
    }
    stream_release(st);
    poll_immediate_wake();
}

/* ---- Calls ---------------------------------------------------------------- */

static void
call_work(void *st_)
{
    struct h2_stream *st = st_;
    st->call_error = lq_rpc_call(st->method, st->conn->listener->env.node,
                                 &st->request, &st->call_response);
}

/* Never sends here: this may run inside an nghttp2 callback (an async
 * handler that completes at once); the loop's next pass flushes. */
static void
call_done(void *st_)
{
    struct h2_stream *st = st_;
    st->in_flight = false;
    if (st->answered) {
        /* Answered deadline_exceeded already: the late result is dropped. */
        lq_error_free(st->call_error);
        lq_rpc_msg_clear(&st->call_response);
    } else {
        lq_error_free(st->error);
        st->error = st->call_error;
        lq_rpc_msg_move(&st->response, &st->call_response);
    }
    st->call_error = NULL;
    if (st->conn->fd >= 0) {
        stream_answer(st);
    }
    stream_release(st);
    poll_immediate_wake();
}

static void
async_complete(struct lq_rpc_call *call, struct lq_error *error,
               ProtobufCMessage *response)
{
    struct h2_stream *st = CONTAINER_OF(call, struct h2_stream, call);
    st->call_error = error;
    st->call_response.pb = response;
    call_done(st);
}

/* The request of a gRPC call: exactly one uncompressed message. */
/* Replaces the request's bytes by their gzip-decompressed form. */
static bool
request_inflate(struct h2_stream *st, const uint8_t **datap, size_t *lenp)
{
    struct lq_error *e = lq_gzip_decompress(
        "request", *datap, *lenp, st->conn->listener->env.max_body,
        &st->inflated, lenp);
    if (e) {
        lq_error_free(st->error);
        st->error = e;
        stream_answer(st);
        return false;
    }
    *datap = st->inflated;
    return true;
}

static enum h2_encoding_header
encoding_index(const struct h2_stream *st)
{
    return st->proto == PROTO_GRPC ? ENC_GRPC
           : st->connect_stream ? ENC_CONNECT_STREAM : ENC_HTTP;
}

/* The request's encoding: gzip ('*gzip_in') or identity; anything else
 * is refused. */
static bool
request_encoding(struct h2_stream *st, bool *gzip_in)
{
    static const char *const names[] = {
        [ENC_GRPC] = "grpc-encoding",
        [ENC_CONNECT_STREAM] = "connect-content-encoding",
        [ENC_HTTP] = "content-encoding",
    };
    enum h2_encoding_header i = encoding_index(st);
    const char *enc = st->encoding[i];
    *gzip_in = enc && !strcasecmp(enc, "gzip");
    st->gzip_out = lq_header_lists(st->accept_encoding[i], "gzip");
    if (enc && !*gzip_in && strcasecmp(enc, "identity")) {
        stream_fail(st, LQ_UNIMPLEMENTED, "%s: \"%s\" is not supported "
                    "(gzip or identity)", names[i], enc);
        return false;
    }
    return true;
}

static bool
grpc_unframe(struct h2_stream *st, bool gzip_in, const uint8_t **datap,
             size_t *lenp)
{
    const uint8_t *p = (const uint8_t *) (st->body.string ? st->body.string
                                          : "");
    size_t n = st->body.length;
    if (n < 5) {
        stream_fail(st, LQ_INVALID_ARGUMENT, "request: a gRPC message needs "
                    "a 5-byte prefix, got %zu bytes", n);
        return false;
    }
    uint32_t len = (uint32_t) p[1] << 24 | p[2] << 16 | p[3] << 8 | p[4];
    if (len != n - 5) {
        stream_fail(st, LQ_INVALID_ARGUMENT, "request: the message prefix "
                    "says %"PRIu32" bytes, %zu follow (a unary call sends "
                    "exactly one message)", len, n - 5);
        return false;
    }
    *datap = p + 5;
    *lenp = len;
    if (p[0] & 1) {
        if (!gzip_in) {
            stream_fail(st, LQ_INVALID_ARGUMENT, "request: the message is "
                        "marked compressed but the stream names no "
                        "encoding (grpc-encoding)");
            return false;
        }
        return request_inflate(st, datap, lenp);
    }
    return true;
}

/* Protocol and codec from the headers, the client's right to call, the
 * method; false if the stream was answered with an error. */
static bool
stream_classify(struct h2_stream *st)
{
    struct lq_h2_env *env = &st->conn->listener->env;
    const char *ct = st->content_type;

    st->proto = content_type_starts(ct, "application/grpc") ? PROTO_GRPC
                                                            : PROTO_CONNECT;
    st->connect_stream = content_type_starts(ct, "application/connect");
    st->binary = st->proto == PROTO_GRPC
                 ? !content_type_starts(ct, "application/grpc+json")
                 : st->connect_stream
                 ? !content_type_starts(ct, "application/connect+json")
                 : content_type_starts(ct, "application/proto");
    if (st->proto == PROTO_CONNECT && ct && !st->connect_stream
        && !content_type_starts(ct, "application/proto")
        && !content_type_starts(ct, "application/json")) {
        stream_fail(st, LQ_INVALID_ARGUMENT, "Content-Type: unsupported "
                    "\"%s\" (expected application/grpc, application/proto "
                    "or application/json)", ct);
        return false;
    }
    if (st->conn->auth_error) {
        stream_fail(st, LQ_UNAUTHENTICATED, "%s", st->conn->auth_error);
        return false;
    }
    st->method = st->path ? lq_rpc_find(env->rpc, st->path) : NULL;
    if (!st->method) {
        stream_fail(st, LQ_UNIMPLEMENTED, "unknown method \"%s\"",
                    st->path ? st->path : "");
        return false;
    }
    return true;
}

/* ---- Bidirectional streams ------------------------------------------------ */

/* Answers the headers of a bidirectional stream; its messages are then
 * answered one by one as they arrive (bidi_feed()). */
static void
bidi_open(struct h2_stream *st)
{
    if (!st->binary || (st->proto == PROTO_CONNECT && !st->connect_stream)) {
        stream_fail(st, LQ_INVALID_ARGUMENT, "Content-Type: %s/%s is a "
                    "bidirectional stream of binary messages (use "
                    "application/grpc or application/connect+proto)",
                    st->method->service, st->method->name);
        return;
    }
    if (!request_encoding(st, &st->gzip_in)) {
        return;
    }
    st->bidi = true;
    stream_submit_headers(st);
}

/* Answers every complete message received so far. */
static void
bidi_feed(struct h2_stream *st)
{
    size_t max = st->conn->listener->env.max_body;
    size_t off = 0;
    const uint8_t *p = (const uint8_t *) st->body.string;
    while (!st->stream_ended && st->body.length - off >= 5) {
        const uint8_t *m = p + off;
        size_t len = (size_t) m[1] << 24 | m[2] << 16 | m[3] << 8 | m[4];
        if (len > max) {
            stream_end(st, lq_error_new(LQ_RESOURCE_EXHAUSTED, "request: a "
                                        "message of %zu bytes exceeds the "
                                        "limit of %zu", len, max));
            break;
        }
        if (st->body.length - off - 5 < len) {
            break;                      /* The rest is still coming. */
        }
        off += 5 + len;
        uint8_t *plain = NULL, *answer = NULL;
        size_t answer_len = 0;
        struct lq_error *e = NULL;
        const uint8_t *data = m + 5;
        if (m[0] & 1) {
            e = !st->gzip_in
                ? lq_error_new(LQ_INVALID_ARGUMENT, "request: a message is "
                               "marked compressed but the stream names no "
                               "encoding")
                : lq_gzip_decompress("request", data, len, max, &plain, &len);
            data = plain;
        }
        if (!e) {
            e = st->method->bidi(st->conn->listener->env.rpc, data, len,
                                 &answer, &answer_len);
        }
        if (e) {
            stream_end(st, e);
        } else {
            void *bytes = answer;
            bool gzipped = maybe_gzip(st, &bytes, &answer_len);
            stream_append(st, gzipped, bytes, answer_len);
            answer = bytes;
        }
        free(plain);
        free(answer);
    }
    /* Keep only the incomplete message. */
    memmove(st->body.string, st->body.string + off, st->body.length - off);
    st->body.length -= off;
    nghttp2_session_resume_data(st->conn->session, st->id);
}

/* The client ended its side. */
static void
bidi_close(struct h2_stream *st)
{
    bidi_feed(st);
    if (!st->stream_ended) {
        stream_end(st, st->body.length
                   ? lq_error_new(LQ_INVALID_ARGUMENT, "request: the stream "
                                  "ended inside a message")
                   : NULL);
    }
}

/* The request is complete (END_STREAM): decode and call. */
static void
stream_dispatch(struct h2_stream *st)
{
    struct lq_h2_env *env = &st->conn->listener->env;
    const char *ct = st->content_type;

    if (!stream_classify(st)) {
        return;
    }
    if (st->method->bidi) {
        /* A bidirectional stream whose client sent all at once. */
        bidi_open(st);
        if (st->bidi) {
            bidi_close(st);
        }
        return;
    }
    if (st->too_large) {
        stream_fail(st, LQ_RESOURCE_EXHAUSTED, "request body exceeds the "
                    "limit of %zu bytes", env->max_body);
        return;
    }
    const uint8_t *data = (const uint8_t *) (st->body.string
                                             ? st->body.string : "");
    size_t len = st->body.length;
    /* A stream method with a unary handler too (MigrateVM) also answers
     * Connect unary calls, once, when it is done. */
    bool unary_ok = !st->method->stream || st->method->pb_handler;
    if (st->proto == PROTO_CONNECT
        && (st->connect_stream ? !st->method->stream : !unary_ok)) {
        stream_fail(st, LQ_INVALID_ARGUMENT, "Content-Type: %s is %s; this "
                    "method is %s", ct, st->connect_stream
                    ? "for streams" : "for unary calls",
                    st->method->stream ? "a server stream (use "
                    "application/connect+proto or +json)" : "unary");
        return;
    }
    bool gzip_in;
    if (!request_encoding(st, &gzip_in)) {
        return;
    }
    /* gRPC and Connect streams both frame the request as one envelope. */
    if (st->proto == PROTO_GRPC || st->connect_stream) {
        if (!grpc_unframe(st, gzip_in, &data, &len)) {
            return;
        }
    } else if (gzip_in && !request_inflate(st, &data, &len)) {
        return;
    }
    struct lq_error *e = lq_rpc_decode(st->method, st->binary, data, len,
                                       &st->request);
    if (e) {
        st->error = e;
        stream_answer(st);
        return;
    }
    if (st->method->stream
        && (st->proto == PROTO_GRPC || st->connect_stream)) {
        st->in_flight = true;
        lq_worker_pool_submit(env->pool, stream_open_work, stream_open_done,
                              st);
    } else if (st->method->async_handler) {
        st->in_flight = true;
        st->call.complete = async_complete;
        st->method->async_handler(env->node, st->request.pb, &st->call);
    } else if (st->method->blocking) {
        st->in_flight = true;
        lq_worker_pool_submit(env->pool, call_work, call_done, st);
    } else {
        st->error = lq_rpc_call(st->method, env->node, &st->request,
                                &st->response);
        stream_answer(st);
    }
}

/* ---- nghttp2 callbacks ------------------------------------------------------ */

/* Reads from the connection: > 0 bytes read, 0 closed or failed, -1
 * nothing there now. */
static ssize_t
conn_recv(struct h2_conn *c, uint8_t *buf, size_t size)
{
    if (c->tls) {
        ssize_t n = gnutls_record_recv(c->tls, buf, size);
        return n > 0 ? n
               : n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED ? -1 : 0;
    }
    ssize_t n = recv(c->fd, buf, size, 0);
    return n >= 0 ? n : errno == EAGAIN || errno == EWOULDBLOCK ? -1 : 0;
}

static int
begin_headers_cb(nghttp2_session *session, const nghttp2_frame *frame,
                 void *user_data)
{
    struct h2_conn *c = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS
        || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    struct h2_stream *st = xzalloc(sizeof *st);
    st->conn = c;
    st->id = frame->hd.stream_id;
    st->deadline = LLONG_MAX;
    ds_init(&st->body);
    clock_gettime(CLOCK_MONOTONIC, &st->start);
    ovs_list_push_back(&c->streams, &st->node);
    nghttp2_session_set_stream_user_data(session, st->id, st);
    return 0;
}

static int
header_cb(nghttp2_session *session, const nghttp2_frame *frame,
          const uint8_t *name, size_t namelen, const uint8_t *value,
          size_t valuelen, uint8_t flags OVS_UNUSED, void *user_data OVS_UNUSED)
{
    struct h2_stream *st = nghttp2_session_get_stream_user_data(
        session, frame->hd.stream_id);
    if (!st || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
#define IS(N) (namelen == strlen(N) && !memcmp(name, N, namelen))
    /* Only the headers we keep are copied (this runs for every header of
     * every call: :method, :scheme, te, user-agent... are not needed). */
    bool kept = IS(":path") || IS("content-type") || IS("grpc-encoding")
                || IS("connect-content-encoding") || IS("content-encoding")
                || IS("grpc-accept-encoding")
                || IS("connect-accept-encoding") || IS("accept-encoding")
                || IS("grpc-timeout") || IS("connect-timeout-ms");
    if (!kept) {
        return 0;
    }
    char *v = xmemdup0((const char *) value, valuelen);
    if (IS(":path")) {
        free(st->path);
        st->path = v;
        v = NULL;
    } else if (IS("content-type")) {
        free(st->content_type);
        st->content_type = v;
        v = NULL;
    } else if (IS("grpc-encoding") || IS("connect-content-encoding")
               || IS("content-encoding")) {
        int i = IS("grpc-encoding") ? ENC_GRPC
                : IS("content-encoding") ? ENC_HTTP : ENC_CONNECT_STREAM;
        free(st->encoding[i]);
        st->encoding[i] = v;
        v = NULL;
    } else if (IS("grpc-accept-encoding") || IS("connect-accept-encoding")
               || IS("accept-encoding")) {
        int i = IS("grpc-accept-encoding") ? ENC_GRPC
                : IS("accept-encoding") ? ENC_HTTP : ENC_CONNECT_STREAM;
        free(st->accept_encoding[i]);
        st->accept_encoding[i] = v;
        v = NULL;
    } else if (IS("grpc-timeout") || IS("connect-timeout-ms")) {
        long long ms = IS("grpc-timeout") ? parse_grpc_timeout(v)
                                          : strtoll(v, NULL, 10);
        if (ms >= 0) {
            st->deadline = time_msec() + ms;
        }
    }
#undef IS
    free(v);
    return 0;
}

static int
data_chunk_cb(nghttp2_session *session, uint8_t flags OVS_UNUSED,
              int32_t stream_id, const uint8_t *data, size_t len,
              void *user_data)
{
    struct h2_conn *c = user_data;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(session,
                                                                stream_id);
    if (st && st->bidi) {
        if (!st->stream_ended) {
            ds_put_buffer(&st->body, (const char *) data, len);
            bidi_feed(st);
        }
        return 0;
    }
    if (!st || st->too_large) {
        return 0;
    }
    /* The gRPC prefix does not count against the limit. */
    if (st->body.length + len > c->listener->env.max_body + 5) {
        st->too_large = true;
        ds_destroy(&st->body);
        ds_init(&st->body);
        return 0;
    }
    ds_put_buffer(&st->body, (const char *) data, len);
    return 0;
}

/* Is the stream, whose request headers are complete, for a bidirectional
 * method? */
static bool
is_bidi(const struct h2_stream *st)
{
    const struct lq_rpc_method *m = st->path
        ? lq_rpc_find(st->conn->listener->env.rpc, st->path) : NULL;
    return m && m->bidi;
}

static int
frame_recv_cb(nghttp2_session *session, const nghttp2_frame *frame,
              void *user_data OVS_UNUSED)
{
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
        return 0;
    }
    struct h2_stream *st = nghttp2_session_get_stream_user_data(
        session, frame->hd.stream_id);
    if (!st) {
        return 0;
    }
    bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (st->bidi) {
        if (end && !st->stream_ended) {
            bidi_close(st);
        }
    } else if (end) {
        if (!st->in_flight && !st->answered) {
            stream_dispatch(st);
        }
    } else if (frame->hd.type == NGHTTP2_HEADERS
               && frame->headers.cat == NGHTTP2_HCAT_REQUEST
               && is_bidi(st) && stream_classify(st)) {
        bidi_open(st);          /* Messages follow as the client sends. */
    }
    return 0;
}

static int
stream_close_cb(nghttp2_session *session, int32_t stream_id,
                uint32_t error_code OVS_UNUSED, void *user_data OVS_UNUSED)
{
    struct h2_stream *st = nghttp2_session_get_stream_user_data(session,
                                                                stream_id);
    if (st) {
        nghttp2_session_set_stream_user_data(session, stream_id, NULL);
        st->closed = true;      /* A running call finishes into the void. */
        stream_release(st);
    }
    return 0;
}

static nghttp2_session_callbacks *
callbacks(void)
{
    static nghttp2_session_callbacks *cbs;
    if (!cbs) {
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_on_begin_headers_callback(
            cbs, begin_headers_cb);
        nghttp2_session_callbacks_set_on_header_callback(cbs, header_cb);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
            cbs, data_chunk_cb);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
                                                             frame_recv_cb);
        nghttp2_session_callbacks_set_on_stream_close_callback(
            cbs, stream_close_cb);
    }
    return cbs;
}

/* Closed streams are not kept for RFC 7540 priorities (which RFC 9113
 * deprecated and gRPC clients do not send): less work per call. */
static nghttp2_option *
options(void)
{
    static nghttp2_option *opt;
    if (!opt) {
        nghttp2_option_new(&opt);
        nghttp2_option_set_no_closed_streams(opt, 1);
    }
    return opt;
}

/* ---- Connections ------------------------------------------------------------ */

/* Closes the socket; the connection and its streams are freed by
 * reap_closed() once no call of theirs runs. */
static void
conn_close(struct h2_conn *c)
{
    if (c->fd < 0) {
        return;
    }
    ovs_list_remove(&c->node);
    ovs_list_push_back(&c->listener->closed, &c->node);
    nghttp2_session_del(c->session);
    c->session = NULL;
    if (c->tls) {
        gnutls_deinit(c->tls);
        c->tls = NULL;
    }
    free(c->auth_error);
    c->auth_error = NULL;
    ds_destroy(&c->out);
    close(c->fd);               /* Leaves the epoll set too. */
    c->fd = -1;
}

static void
reap_closed(struct lq_h2_listener *l)
{
    struct h2_conn *c;
    LIST_FOR_EACH_SAFE (c, node, &l->closed) {
        struct h2_stream *st;
        LIST_FOR_EACH_SAFE (st, node, &c->streams) {
            if (!st->in_flight) {
                stream_free(st);
            }
        }
        if (ovs_list_is_empty(&c->streams)) {
            ovs_list_remove(&c->node);
            free(c);
        }
    }
}

/* Writes 'len' bytes: how many went, 0 if none could now, -1 on error. */
static ssize_t
conn_send(struct h2_conn *c, const void *data, size_t len)
{
    if (c->tls) {
        /* After GNUTLS_E_AGAIN the same bytes are offered again, as GnuTLS
         * wants. */
        ssize_t n = gnutls_record_send(c->tls, data, len);
        return n >= 0 ? n
               : n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED ? 0 : -1;
    }
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    return n >= 0 ? n : errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
}

#define OUT_CHUNK (64 * 1024)

/* Sends what nghttp2 has queued, coalesced into as few writes as it
 * takes; what the socket does not take now waits for POLLOUT. */
static void
conn_flush(struct h2_conn *c)
{
    while (c->fd >= 0 && c->session) {
        if (c->out_off == c->out.length) {
            ds_clear(&c->out);
            c->out_off = 0;
            while (c->out.length < OUT_CHUNK) {
                const uint8_t *data;
                ssize_t n = nghttp2_session_mem_send(c->session, &data);
                if (n < 0) {
                    conn_close(c);
                    return;
                }
                if (!n) {
                    break;
                }
                ds_put_buffer(&c->out, (const char *) data, n);
            }
            if (!c->out.length) {
                return;
            }
        }
        ssize_t n = conn_send(c, c->out.string + c->out_off,
                              c->out.length - c->out_off);
        if (n < 0) {
            conn_close(c);
            return;
        }
        if (!n) {
            return;
        }
        c->out_off += n;
    }
}

static bool
conn_out_pending(const struct h2_conn *c)
{
    return c->out_off < c->out.length;
}

/* The HTTP/2 session, once the connection is ready for it. */
static void
conn_start_h2(struct h2_conn *c)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(c->listener->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev);
    nghttp2_session_server_new2(&c->session, callbacks(), c, options());
    nghttp2_settings_entry iv[] = {
        { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS },
    };
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv,
                            ARRAY_SIZE(iv));
    conn_flush(c);
}

static void
conn_open(struct lq_h2_listener *l, int fd)
{
    struct h2_conn *c = xzalloc(sizeof *c);
    c->listener = l;
    c->fd = fd;
    ds_init(&c->out);
    /* Answers go out as soon as they are written (no-op on Unix sockets). */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int) { 1 }, sizeof(int));
    ovs_list_init(&c->streams);
    ovs_list_push_back(&l->conns, &c->node);
    if (!l->tls) {
        conn_start_h2(c);
        return;
    }
    static const gnutls_datum_t h2 = { (unsigned char *) "h2", 2 };
    if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0
        || gnutls_set_default_priority(c->tls) < 0
        || gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, l->tls) < 0
        || gnutls_alpn_set_protocols(c->tls, &h2, 1, 0) < 0) {
        conn_close(c);
        return;
    }
    /* Asked for, checked after the handshake (conn_handshake()). */
    gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_REQUEST);
    gnutls_transport_set_int(c->tls, fd);
    c->handshake_deadline = time_msec() + SNIFF_TIMEOUT_MS;
}

/* Why the TLS client is not to be served (NULL: it is), as on HTTP/1.1
 * (http_server.c). */
static const char *
client_cert_problem(gnutls_session_t tls)
{
    unsigned int n_certs = 0, status = 0;
    if (!gnutls_certificate_get_peers(tls, &n_certs) || !n_certs) {
        return "a client certificate is required";
    }
    if (gnutls_certificate_verify_peers2(tls, &status) < 0 || status) {
        return "the client certificate is not trusted";
    }
    return NULL;
}

/* Advances the TLS handshake; starts HTTP/2 when it is done.  Returns
 * false if the connection is not ready (or was closed). */
static bool
conn_handshake(struct h2_conn *c)
{
    int r = gnutls_handshake(c->tls);
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
        if (time_msec() >= c->handshake_deadline) {
            conn_close(c);
        }
        return false;
    }
    gnutls_datum_t alpn;
    if (r < 0 || gnutls_alpn_get_selected_protocol(c->tls, &alpn) < 0
        || alpn.size != 2 || memcmp(alpn.data, "h2", 2)) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
        VLOG_INFO_RL(&rl, "TLS handshake failed: %s",
                     r < 0 ? gnutls_strerror(r) : "ALPN h2 not selected");
        conn_close(c);
        return false;
    }
    const char *problem = client_cert_problem(c->tls);
    c->auth_error = problem ? xstrdup(problem) : NULL;
    c->handshake_deadline = 0;
    conn_start_h2(c);
    return c->fd >= 0;
}

/* Is there anything for conn_run() to do?  Idle keep-alive connections
 * (most of them, under load) are skipped. */
static bool
conn_has_work(const struct h2_conn *c)
{
    return c->readable || !c->session || !ovs_list_is_empty(&c->streams)
           || conn_out_pending(c) || nghttp2_session_want_write(c->session)
           || (c->tls && gnutls_record_check_pending(c->tls));
}

/* Reads what arrived, answers deadlines, sends what is queued. */
static void
conn_run(struct h2_conn *c)
{
    if (!c->session && !conn_handshake(c)) {
        return;
    }
    uint8_t buf[16384];
    bool readable = c->readable
                    || (c->tls && gnutls_record_check_pending(c->tls));
    c->readable = false;
    while (readable) {
        ssize_t n = conn_recv(c, buf, sizeof buf);
        if (n < 0) {
            break;
        }
        if (!n || nghttp2_session_mem_recv(c->session, buf, n) < 0) {
            conn_close(c);
            return;
        }
        /* A short read drained the socket (epoll is level-triggered:
         * more is seen next pass); GnuTLS may hold decrypted bytes. */
        readable = n == sizeof buf
                   || (c->tls && gnutls_record_check_pending(c->tls));
    }
    /* Deadlines passed: answer now, drop the late result. */
    long long now = time_msec();
    struct h2_stream *st;
    LIST_FOR_EACH (st, node, &c->streams) {
        if (c->fd >= 0 && st->streaming && !st->stream_ended && !st->closed) {
            if (now >= st->deadline) {
                stream_end(st, lq_error_new(LQ_DEADLINE_EXCEEDED,
                                            "deadline exceeded"));
            } else if (!st->bidi) {
                stream_run(st);
            }
            continue;
        }
        if (st->in_flight && !st->answered && !st->closed
            && now >= st->deadline) {
            stream_fail(st, LQ_DEADLINE_EXCEEDED, "deadline exceeded");
        }
    }
    conn_flush(c);
    if (c->fd >= 0 && !nghttp2_session_want_read(c->session)
        && !nghttp2_session_want_write(c->session) && !conn_out_pending(c)) {
        conn_close(c);
    }
}

static void
conn_wait(struct h2_conn *c)
{
    if (!c->session) {          /* In the TLS handshake. */
        poll_fd_wait(c->fd, gnutls_record_get_direction(c->tls) ? POLLOUT
                                                                : POLLIN);
        poll_timer_wait_until(c->handshake_deadline);
        return;
    }
    /* POLLIN through the listener's epoll set. */
    if (c->tls && gnutls_record_check_pending(c->tls)) {
        poll_immediate_wake();  /* Decrypted bytes wait in GnuTLS. */
    }
    if (conn_out_pending(c)) {
        poll_fd_wait(c->fd, POLLOUT);
    }
    const struct h2_stream *st;
    LIST_FOR_EACH (st, node, &c->streams) {
        bool live_stream = st->streaming && !st->stream_ended && !st->closed;
        if (live_stream && !st->in_flight && !st->bidi) {
            st->method->stream->wait(st->stream_state);
        }
        if (((st->in_flight && !st->answered) || live_stream) && !st->closed
            && st->deadline != LLONG_MAX) {
            poll_timer_wait_until(st->deadline);
        }
    }
}

/* Ends the connection's live streams with 'unavailable' and says GOAWAY,
 * as far as the socket takes it now (the daemon is stopping). */
static void
conn_shutdown(struct h2_conn *c)
{
    if (!c->session) {
        return;
    }
    struct h2_stream *st;
    LIST_FOR_EACH (st, node, &c->streams) {
        if (st->streaming && !st->stream_ended && !st->closed) {
            stream_end(st, lq_error_new(LQ_UNAVAILABLE,
                                        "the node is shutting down"));
        }
    }
    nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->session),
                          NGHTTP2_NO_ERROR, NULL, 0);
    conn_flush(c);
    if (c->fd >= 0) {
        shutdown(c->fd, SHUT_WR);   /* FIN after what was sent. */
    }
}

#define LINGER_MS 500

/* Reads and drops what the clients still send until each closes or
 * LINGER_MS pass: closing a socket with unread input resets the
 * connection, and a reset can make the client drop the answers it has not
 * read yet (the streams' final status). */
static void
linger_closing(struct lq_h2_listener *l)
{
    long long deadline = time_msec() + LINGER_MS;
    for (;;) {
        struct pollfd pfds[64];
        struct h2_conn *conns[64];
        nfds_t n = 0;
        struct h2_conn *c;
        LIST_FOR_EACH (c, node, &l->conns) {
            if (c->fd >= 0 && n < ARRAY_SIZE(pfds)) {
                conns[n] = c;
                pfds[n++] = (struct pollfd) { .fd = c->fd, .events = POLLIN };
            }
        }
        long long left = deadline - time_msec();
        if (!n || left <= 0 || poll(pfds, n, left) <= 0) {
            return;
        }
        for (nfds_t i = 0; i < n; i++) {
            uint8_t buf[4096];
            ssize_t got = pfds[i].revents
                          ? recv(pfds[i].fd, buf, sizeof buf, 0) : -1;
            if (!got || (got < 0 && pfds[i].revents && errno != EAGAIN)) {
                conn_close(conns[i]);   /* The client closed too. */
            }
        }
    }
}

/* ---- The listener ------------------------------------------------------------ */

/* The server's certificate, key and trust store for the HTTP/2 side. */
static struct lq_error *
tls_credentials(const struct lq_h2_env *env,
                gnutls_certificate_credentials_t *credsp)
{
    gnutls_datum_t cert = { (unsigned char *) env->tls_cert,
                            strlen(env->tls_cert) };
    gnutls_datum_t key = { (unsigned char *) env->tls_key,
                           strlen(env->tls_key) };
    gnutls_datum_t ca = { (unsigned char *) env->tls_ca,
                          strlen(env->tls_ca) };
    gnutls_certificate_credentials_t creds;
    int r = gnutls_certificate_allocate_credentials(&creds);
    const char *what = "credentials";
    if (r >= 0) {
        what = "tls.cert_path/tls.key_path";
        r = gnutls_certificate_set_x509_key_mem(creds, &cert, &key,
                                                GNUTLS_X509_FMT_PEM);
    }
    if (r >= 0) {
        what = "tls.ca_path";
        r = gnutls_certificate_set_x509_trust_mem(creds, &ca,
                                                  GNUTLS_X509_FMT_PEM);
    }
    if (r < 0) {
        gnutls_certificate_free_credentials(creds);
        /* GnuTLS's message names no key material. */
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: %s", what,
                            gnutls_strerror(r));
    }
    *credsp = creds;
    return NULL;
}

struct lq_error *
lq_h2_listener_create(int fd, const struct lq_h2_env *env,
                      struct lq_h2_listener **lp)
{
    gnutls_certificate_credentials_t tls = NULL;
    if (env->tls_cert) {
        struct lq_error *e = tls_credentials(env, &tls);
        if (e) {
            close(fd);
            return e;
        }
    }
    struct lq_h2_listener *l = xzalloc(sizeof *l);
    l->fd = fd;
    l->env = *env;
    l->tls = tls;
    /* Which connections have input, without a recv() on each of them on
     * every pass of the loop. */
    l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epoll_fd < 0) {
        out_of_memory();
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    ovs_list_init(&l->sniffing);
    ovs_list_init(&l->conns);
    ovs_list_init(&l->closed);
    set_nonblocking(fd);
    *lp = l;
    return NULL;
}

void
lq_h2_listener_destroy(struct lq_h2_listener *l)
{
    if (!l) {
        return;
    }
    struct sniff *s;
    LIST_FOR_EACH_POP (s, node, &l->sniffing) {
        close(s->fd);
        free(s);
    }
    struct h2_conn *c;
    LIST_FOR_EACH_SAFE (c, node, &l->conns) {
        conn_shutdown(c);       /* May close it. */
    }
    linger_closing(l);
    LIST_FOR_EACH_SAFE (c, node, &l->conns) {
        conn_close(c);
    }
    reap_closed(l);     /* No call runs any more (see h2_server.h). */
    if (l->tls) {
        gnutls_certificate_free_credentials(l->tls);
    }
    close(l->epoll_fd);
    close(l->fd);
    free(l);
}

/* Is the connection whose first 'n' bytes are 'buf' for HTTP/2?  -1: it
 * cannot be told yet. */
static int
sniff_is_h2(const struct lq_h2_listener *l, const uint8_t *buf, size_t n,
            size_t size)
{
    if (l->tls) {
        enum lq_tls_hello r = lq_tls_hello_offers_alpn(buf, n, "h2");
        return r == LQ_TLS_HELLO_OFFERS ? 1
               : r == LQ_TLS_HELLO_INCOMPLETE && n < size ? -1 : 0;
    }
    if (memcmp(buf, PREFACE, MIN(n, PREFACE_LEN))) {
        return 0;
    }
    return n >= PREFACE_LEN ? 1 : -1;
}

/* Decides what a sniffed connection is, once it can. */
static void
sniff_run(struct lq_h2_listener *l, struct sniff *s)
{
    /* A ClientHello fills at most LQ_TLS_HELLO_MAX in records of at
     * least one byte each: headers are 5 bytes a record. */
    size_t size = l->tls ? LQ_TLS_HELLO_MAX + 1024 : PREFACE_LEN;
    uint8_t *buf = xmalloc(size);
    ssize_t n = recv(s->fd, buf, size, MSG_PEEK);
    if (n < 0) {
        bool later = errno == EAGAIN || errno == EWOULDBLOCK;
        n = later && time_msec() < s->deadline ? -1 : 0;
    }
    int h2 = n > 0 ? sniff_is_h2(l, buf, n, size) : -1;
    free(buf);
    if (n < 0 || (n > 0 && h2 < 0 && time_msec() < s->deadline)) {
        return;                 /* Maybe HTTP/2: wait for the rest. */
    }
    ovs_list_remove(&s->node);
    if (n <= 0) {
        close(s->fd);
    } else if (h2 > 0) {
        conn_open(l, s->fd);
    } else {
        l->env.http1(l->env.http1_aux, s->fd,
                     (struct sockaddr *) &s->addr, s->addr_len);
    }
    free(s);
}

/* Marks the connections with input; true if the listener has one to
 * accept. */
static bool
poll_readiness(struct lq_h2_listener *l)
{
    struct epoll_event evs[64];
    bool accept_ready = false;
    int n = epoll_wait(l->epoll_fd, evs, ARRAY_SIZE(evs), 0);
    for (int i = 0; i < n; i++) {
        struct h2_conn *c = evs[i].data.ptr;
        if (c) {
            c->readable = true;
        } else {
            accept_ready = true;
        }
    }
    return accept_ready;
}

void
lq_h2_listener_run(struct lq_h2_listener *l)
{
    bool accept_ready = poll_readiness(l);
    while (accept_ready) {
        struct sniff *s = xzalloc(sizeof *s);
        s->addr_len = sizeof s->addr;
        s->fd = accept4(l->fd, (struct sockaddr *) &s->addr, &s->addr_len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s->fd < 0) {
            free(s);
            break;
        }
        s->deadline = time_msec() + SNIFF_TIMEOUT_MS;
        ovs_list_push_back(&l->sniffing, &s->node);
    }
    struct sniff *s;
    LIST_FOR_EACH_SAFE (s, node, &l->sniffing) {
        sniff_run(l, s);
    }
    struct h2_conn *c;
    LIST_FOR_EACH_SAFE (c, node, &l->conns) {
        if (conn_has_work(c)) {
            conn_run(c);
        }
    }
    reap_closed(l);
}

void
lq_h2_listener_wait(struct lq_h2_listener *l)
{
    poll_fd_wait(l->epoll_fd, POLLIN);  /* The listener and conns. */
    const struct sniff *s;
    LIST_FOR_EACH (s, node, &l->sniffing) {
        poll_fd_wait(s->fd, POLLIN);
        poll_timer_wait_until(s->deadline);
    }
    struct h2_conn *c;
    LIST_FOR_EACH (c, node, &l->conns) {
        conn_wait(c);
    }
}
