/* http_client.h: a Connect (unary, JSON) client over libcurl.
 *
 * Used by the daemon to talk to the control plane and by lqctl to talk to
 * the daemon, over TCP (optionally TLS with a client certificate) or over a
 * Unix socket.  Calls block: the daemon makes them on its worker pool. */
#ifndef LQ_HTTP_CLIENT_H
#define LQ_HTTP_CLIENT_H 1

#include "limiquantix/error.h"
#include "openvswitch/json.h"

struct lq_http_client_options {
    const char *unix_socket;    /* Connect here instead of the URL's host. */
    const char *cert_path;      /* Client certificate (mTLS), or NULL. */
    const char *key_path;
    const char *ca_path;        /* CA to verify the server, or NULL. */
    long timeout_ms;            /* 0: 10 s. */
};

/* POSTs 'request' to BASE_URL/PATH ("limiquantix.x.v1.Service/Method").
 * A Connect error reply becomes an lq_error with the server's code and
 * message; a transport failure becomes "unavailable". */
struct lq_error *lq_connect_call(const struct lq_http_client_options *,
                                 const char *base_url, const char *path,
                                 const struct json *request,
                                 struct json **responsep);

#endif
