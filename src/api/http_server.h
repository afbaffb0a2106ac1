/* http_server.h: the API front end (Connect over HTTP/1.1; gRPC and
 * Connect over HTTP/2 through h2_server.h on plaintext listeners) and
 * /metrics.
 *
 * libmicrohttpd runs in external-poll (epoll) mode: each listener exposes
 * one epoll fd that the daemon's poll loop waits on, so HTTP shares the one
 * event loop with the IDLs and the worker pool.  Listeners:
 *   - TCP  server.listen_address, with TLS and required client certificates
 *          when tls.enabled (mTLS);
 *   - Unix server.unix_socket, mode 0600, for the local CLI;
 *   - TCP  server.metrics_port, plain HTTP, GET /metrics only. */
#ifndef LQ_HTTP_SERVER_H
#define LQ_HTTP_SERVER_H 1

#include <sys/socket.h>
#include "limiquantix/config.h"
#include "limiquantix/error.h"

struct lq_node;
struct lq_rpc_registry;
struct lq_metrics;
struct lq_worker_pool;

struct lq_http_server;

struct lq_error *lq_http_server_create(const struct lq_config *,
                                       struct lq_node *,
                                       const struct lq_rpc_registry *,
                                       struct lq_metrics *,
                                       struct lq_worker_pool *,
                                       struct lq_http_server **);
/* Call after the worker pool is destroyed (no RPC may be in flight). */
void lq_http_server_destroy(struct lq_http_server *);

void lq_http_server_run(struct lq_http_server *);
void lq_http_server_wait(struct lq_http_server *);

/* The bound TCP ports (useful with port 0); 0 if that listener is off. */
int lq_http_server_api_port(const struct lq_http_server *);
int lq_http_server_metrics_port(const struct lq_http_server *);

/* Parses "HOST:PORT" or "[V6]:PORT" (numeric host).  Exposed for tests. */
struct lq_error *lq_parse_listen_address(const char *field, const char *text,
                                         struct sockaddr_storage *ss,
                                         socklen_t *len);

#endif
