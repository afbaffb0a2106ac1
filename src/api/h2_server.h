/* h2_server.h: HTTP/2 on the API listeners: gRPC and Connect, next to
 * HTTP/1.1 on the same socket; with prior knowledge (h2c) on plaintext
 * ones, by ALPN under TLS.
 *
 * The listener accepts connections itself and looks at their first bytes:
 * the HTTP/2 connection preface (plaintext) or a ClientHello offering "h2"
 * (TLS) makes it an HTTP/2 connection served here (nghttp2, GnuTLS),
 * anything else is handed to the HTTP/1.1 server (libmicrohttpd, through
 * 'http1') untouched.  Everything runs on the daemon's loop;
 * blocking methods go to the worker pool as on HTTP/1.1. */
#ifndef LQ_H2_SERVER_H
#define LQ_H2_SERVER_H 1

#include <stddef.h>
#include <sys/socket.h>

struct lq_node;
struct lq_rpc_registry;
struct lq_worker_pool;
struct lq_metrics;

struct lq_h2_env {
    struct lq_node *node;
    const struct lq_rpc_registry *rpc;
    struct lq_worker_pool *pool;
    struct lq_metrics *metrics;
    size_t max_body;            /* server.max_request_bytes. */
    /* Takes over a connection that is not HTTP/2 (nothing read from it). */
    void (*http1)(void *aux, int fd, const struct sockaddr *, socklen_t);
    void *http1_aux;
    /* TLS (all three, PEM) or plaintext (NULL): what libmicrohttpd is
     * given too.  Must outlive the listener. */
    const char *tls_cert, *tls_key, *tls_ca;
};

struct lq_h2_listener;

/* Takes ownership of the listening socket 'fd' (also on error: bad TLS
 * material). */
struct lq_error *lq_h2_listener_create(int fd, const struct lq_h2_env *,
                                       struct lq_h2_listener **);
/* Closes the listener and every HTTP/2 connection; calls still running on
 * the worker pool are answered into the void when they end.  Destroy the
 * worker pool first. */
void lq_h2_listener_destroy(struct lq_h2_listener *);
void lq_h2_listener_run(struct lq_h2_listener *);
void lq_h2_listener_wait(struct lq_h2_listener *);

#endif
