/* tls_hello.h: what a TLS ClientHello offers, read before the handshake.
 *
 * The API's TLS listener serves HTTP/2 (gRPC) itself and leaves HTTP/1.1 to
 * libmicrohttpd, which does its own TLS.  Which one a connection is for is
 * decided by ALPN, whose answer is only known after a handshake; so the
 * listener peeks at the ClientHello (nothing consumed) and hands the
 * connection to whichever side will then negotiate what the client
 * offered.  The ClientHello is parsed here, strictly bounded. */
#ifndef LQ_TLS_HELLO_H
#define LQ_TLS_HELLO_H 1

#include <stddef.h>
#include <stdint.h>

/* The largest ClientHello looked at (several records); a longer one is
 * treated as not offering the protocol. */
#define LQ_TLS_HELLO_MAX 32768

enum lq_tls_hello {
    LQ_TLS_HELLO_INCOMPLETE,    /* Not all of the ClientHello is here yet. */
    LQ_TLS_HELLO_OFFERS,        /* It lists the protocol in its ALPN. */
    LQ_TLS_HELLO_NOT_OFFERED,   /* TLS without it, or not TLS at all. */
};

/* Does the ClientHello that 'buf' (the connection's first 'len' bytes)
 * starts with offer ALPN protocol 'proto' (e.g. "h2")? */
enum lq_tls_hello lq_tls_hello_offers_alpn(const uint8_t *buf, size_t len,
                                           const char *proto);

#endif
