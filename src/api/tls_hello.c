/* tls_hello.c: ALPN in a TLS ClientHello (RFC 8446 4.1.2, RFC 7301). */
#include <config.h>
#include "tls_hello.h"

#include <stdbool.h>
#include <string.h>

#define RECORD_HANDSHAKE 22
#define HANDSHAKE_CLIENT_HELLO 1
#define EXTENSION_ALPN 16

/* A bounded reader: every take fails once the data runs out. */
struct cursor {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static const uint8_t *
take(struct cursor *c, size_t n)
{
    if (c->bad || n > c->left) {
        c->bad = true;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

static size_t
take_uint(struct cursor *c, size_t bytes)
{
    const uint8_t *p = take(c, bytes);
    size_t v = 0;
    for (size_t i = 0; p && i < bytes; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* A cursor over a length-prefixed vector, skipped in 'c'. */
static struct cursor
take_vector(struct cursor *c, size_t length_bytes)
{
    size_t n = take_uint(c, length_bytes);
    struct cursor v = { take(c, n), n, c->bad };
    return v;
}

/* Gathers the handshake bytes of the records at the start of 'buf' into
 * 'hs' (a ClientHello may span records).  Returns false if they are not
 * TLS handshake records. */
static bool
gather_handshake(const uint8_t *buf, size_t len, uint8_t *hs,
                 size_t *hs_len, bool *complete)
{
    struct cursor in = { buf, len, false };
    *hs_len = 0;
    *complete = false;
    while (in.left >= 5) {
        if (in.p[0] != RECORD_HANDSHAKE || in.p[1] != 3) {
            return false;
        }
        size_t n = (size_t) in.p[3] << 8 | in.p[4];
        if (!n || *hs_len + n > LQ_TLS_HELLO_MAX) {
            return false;
        }
        if (in.left < 5 + n) {
            return true;                /* The record is still coming. */
        }
        take(&in, 5);
        memcpy(hs + *hs_len, take(&in, n), n);
        *hs_len += n;
        if (*hs_len >= 4) {
            size_t body = (size_t) hs[1] << 16 | (size_t) hs[2] << 8 | hs[3];
            if (hs[0] != HANDSHAKE_CLIENT_HELLO
                || body + 4 > LQ_TLS_HELLO_MAX) {
                return false;
            }
            if (*hs_len >= body + 4) {
                *hs_len = body + 4;
                *complete = true;
                return true;
            }
        }
    }
    return in.left == 0 || in.p[0] == RECORD_HANDSHAKE;
}

static bool
alpn_lists(struct cursor ext, const char *proto)
{
    struct cursor names = take_vector(&ext, 2);
    size_t proto_len = strlen(proto);
    while (!names.bad && names.left) {
        struct cursor name = take_vector(&names, 1);
        if (!name.bad && name.left == proto_len
            && !memcmp(name.p, proto, proto_len)) {
            return true;
        }
    }
    return false;
}

static bool
client_hello_offers(const uint8_t *hs, size_t hs_len, const char *proto)
{
    struct cursor c = { hs + 4, hs_len - 4, false };
    take(&c, 2 + 32);               /* legacy_version, random */
    take_vector(&c, 1);             /* legacy_session_id */
    take_vector(&c, 2);             /* cipher_suites */
    take_vector(&c, 1);             /* legacy_compression_methods */
    struct cursor exts = take_vector(&c, 2);
    while (!c.bad && !exts.bad && exts.left) {
        size_t type = take_uint(&exts, 2);
        struct cursor ext = take_vector(&exts, 2);
        if (!exts.bad && type == EXTENSION_ALPN) {
            return alpn_lists(ext, proto);
        }
    }
    return false;
}

enum lq_tls_hello
lq_tls_hello_offers_alpn(const uint8_t *buf, size_t len, const char *proto)
{
    static _Thread_local uint8_t hs[LQ_TLS_HELLO_MAX];
    size_t hs_len;
    bool complete;

    if (!gather_handshake(buf, len, hs, &hs_len, &complete)) {
        return LQ_TLS_HELLO_NOT_OFFERED;
    }
    if (!complete) {
        return LQ_TLS_HELLO_INCOMPLETE;
    }
    return client_hello_offers(hs, hs_len, proto) ? LQ_TLS_HELLO_OFFERS
                                                  : LQ_TLS_HELLO_NOT_OFFERED;
}
