/* websocket.c: RFC 6455 framing and the relay thread (see websocket.h).
 *
 * Design decisions:
 * - Only what a byte tunnel needs: binary (and text) data frames and
 *   their continuations pass through as payload bytes, pings are answered,
 *   a close is echoed and ends the relay.  Clients must mask (the RFC);
 *   the server never does.
 * - One thread per relay with poll(): console sessions are few and long,
 *   and a blocking relay keeps the daemon's event loop out of it.
 * - SHA-1 and base64 from GnuTLS, which the TLS listeners use already. */
#include <config.h>
#include "websocket.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(websocket);

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

char *
lq_ws_accept_key(const char *key)
{
    gnutls_datum_t in = { (unsigned char *) key, key ? strlen(key) : 0 };
    gnutls_datum_t raw = { NULL, 0 };
    if (!key || gnutls_base64_decode2(&in, &raw) < 0 || raw.size != 16) {
        gnutls_free(raw.data);
        return NULL;
    }
    gnutls_free(raw.data);

    char *joined = xasprintf("%s" WS_GUID, key);
    unsigned char digest[20];
    gnutls_hash_fast(GNUTLS_DIG_SHA1, joined, strlen(joined), digest);
    free(joined);
    gnutls_datum_t d = { digest, sizeof digest }, b64 = { NULL, 0 };
    if (gnutls_base64_encode2(&d, &b64) < 0) {
        return NULL;
    }
    char *accept = xmemdup0((const char *) b64.data, b64.size);
    gnutls_free(b64.data);
    return accept;
}

long
lq_ws_parse_client_frame(uint8_t *buf, size_t n, struct lq_ws_frame *f,
                         const char **why)
{
    *why = NULL;
    if (n < 2) {
        return 0;
    }
    f->fin = buf[0] & 0x80;
    f->opcode = buf[0] & 0x0f;
    bool masked = buf[1] & 0x80;
    uint64_t len = buf[1] & 0x7f;
    size_t hdr = 2;
    if (buf[0] & 0x70) {
        *why = "reserved bits set (no extension was negotiated)";
        return -1;
    }
    if (!masked) {
        *why = "client frames must be masked";
        return -1;
    }
    switch (f->opcode) {
    case LQ_WS_CONTINUATION: case LQ_WS_TEXT: case LQ_WS_BINARY:
        break;
    case LQ_WS_CLOSE: case LQ_WS_PING: case LQ_WS_PONG:
        if (len > 125 || !f->fin) {
            *why = "control frames are unfragmented and at most 125 bytes";
            return -1;
        }
        break;
    default:
        *why = "unknown opcode";
        return -1;
    }
    if (len == 126) {
        if (n < 4) {
            return 0;
        }
        len = (uint64_t) buf[2] << 8 | buf[3];
        hdr = 4;
    } else if (len == 127) {
        if (n < 10) {
            return 0;
        }
        len = 0;
        for (int i = 0; i < 8; i++) {
            len = len << 8 | buf[2 + i];
        }
        hdr = 10;
    }
    if (len > LQ_WS_MAX_PAYLOAD) {
        *why = "frame payload too large";
        return -1;
    }
    if (n < hdr + 4 + len) {
        return 0;
    }
    const uint8_t *mask = &buf[hdr];
    f->payload = &buf[hdr + 4];
    f->len = len;
    for (size_t i = 0; i < len; i++) {
        f->payload[i] ^= mask[i % 4];
    }
    return hdr + 4 + len;
}

size_t
lq_ws_server_header(uint8_t *out, int opcode, size_t len)
{
    out[0] = 0x80 | (opcode & 0x0f);
    if (len < 126) {
        out[1] = len;
        return 2;
    } else if (len <= 0xffff) {
        out[1] = 126;
        out[2] = len >> 8;
        out[3] = len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++) {
        out[2 + i] = (uint64_t) len >> (56 - 8 * i);
    }
    return 10;
}

/* ---- Relay ---------------------------------------------------------------- */

struct relay {
    struct ovs_list node;       /* In 'relays'. */
    int ws_fd, peer_fd;
    uint8_t *in;                /* Client bytes not yet parsed. */
    size_t n_in, cap_in;
    void (*done)(void *);
    void *aux;
};

static struct ovs_mutex relays_mutex = OVS_MUTEX_INITIALIZER;
static pthread_cond_t relays_cond = PTHREAD_COND_INITIALIZER;
static struct ovs_list relays OVS_GUARDED_BY(relays_mutex)
    = OVS_LIST_INITIALIZER(&relays);
static size_t n_relays OVS_GUARDED_BY(relays_mutex);

/* Writes all of buf (the sockets may be non-blocking). */
static bool
write_all(int fd, const void *buf_, size_t n)
{
    const uint8_t *buf = buf_;
    while (n) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd p = { fd, POLLOUT, 0 };
            if (poll(&p, 1, 30000) <= 0) {
                return false;   /* A peer that takes nothing for 30 s. */
            }
            continue;
        }
        if (w <= 0) {
            return false;
        }
        buf += w;
        n -= w;
    }
    return true;
}

static bool
send_frame(int fd, int opcode, const void *payload, size_t len)
{
    uint8_t hdr[10];
    size_t h = lq_ws_server_header(hdr, opcode, len);
    return write_all(fd, hdr, h) && (!len || write_all(fd, payload, len));
}

/* Handles the complete frames in r->in; false when the relay must end. */
static bool
client_frames(struct relay *r)
{
    size_t off = 0;
    bool go_on = true;
    while (go_on) {
        struct lq_ws_frame f;
        const char *why;
        long used = lq_ws_parse_client_frame(r->in + off, r->n_in - off, &f,
                                             &why);
        if (used == 0) {
            break;
        }
        if (used < 0) {
            VLOG_INFO("websocket client: %s; closing", why);
            uint8_t code[2] = { 1002 >> 8, 1002 & 0xff };   /* protocol */
            send_frame(r->ws_fd, LQ_WS_CLOSE, code, sizeof code);
            return false;
        }
        off += used;
        switch (f.opcode) {
        case LQ_WS_CONTINUATION: case LQ_WS_TEXT: case LQ_WS_BINARY:
            go_on = write_all(r->peer_fd, f.payload, f.len);
            break;
        case LQ_WS_PING:
            go_on = send_frame(r->ws_fd, LQ_WS_PONG, f.payload, f.len);
            break;
        case LQ_WS_CLOSE:
            send_frame(r->ws_fd, LQ_WS_CLOSE, f.payload, MIN(f.len, 2));
            go_on = false;
            break;
        default:                /* PONG */
            break;
        }
    }
    if (off) {
        memmove(r->in, r->in + off, r->n_in - off);
        r->n_in -= off;
    }
    return go_on;
}

static void *
relay_main(void *r_)
{
    struct relay *r = r_;
    bool go_on = client_frames(r);
    uint8_t buf[65536];
    while (go_on) {
        struct pollfd p[2] = { { r->ws_fd, POLLIN, 0 },
                               { r->peer_fd, POLLIN, 0 } };
        if (poll(p, 2, -1) < 0) {
            go_on = errno == EINTR;
            continue;
        }
        if (p[0].revents) {
            if (r->cap_in - r->n_in < sizeof buf) {
                r->cap_in = r->n_in + sizeof buf;
                r->in = xrealloc(r->in, r->cap_in);
            }
            ssize_t n = recv(r->ws_fd, r->in + r->n_in, r->cap_in - r->n_in,
                             MSG_DONTWAIT);
            if (n > 0) {
                r->n_in += n;
                go_on = client_frames(r);
                /* A frame can be at most LQ_WS_MAX_PAYLOAD + 14 bytes. */
                go_on &= r->n_in <= LQ_WS_MAX_PAYLOAD + 14;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                go_on = false;
            }
        }
        if (go_on && p[1].revents) {
            ssize_t n = recv(r->peer_fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                go_on = send_frame(r->ws_fd, LQ_WS_BINARY, buf, n);
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                uint8_t code[2] = { 1000 >> 8, 1000 & 0xff };
                send_frame(r->ws_fd, LQ_WS_CLOSE, code, sizeof code);
                go_on = false;
            }
        }
    }
    free(r->in);
    /* Closed under the lock: lq_ws_relays_stop() never shuts a reused
     * descriptor. */
    ovs_mutex_lock(&relays_mutex);
    close(r->peer_fd);
    r->peer_fd = -1;
    ovs_mutex_unlock(&relays_mutex);
    r->done(r->aux);            /* Still counted: the server is up. */
    ovs_mutex_lock(&relays_mutex);
    ovs_list_remove(&r->node);
    n_relays--;
    xpthread_cond_broadcast(&relays_cond);
    ovs_mutex_unlock(&relays_mutex);
    free(r);
    return NULL;
}

void
lq_ws_relay_start(int ws_fd, int peer_fd, const void *early, size_t n_early,
                  void (*done)(void *aux), void *aux)
{
    struct relay *r = xzalloc(sizeof *r);
    r->ws_fd = ws_fd;
    r->peer_fd = peer_fd;
    r->done = done;
    r->aux = aux;
    if (n_early) {
        r->in = xmemdup(early, n_early);
        r->n_in = r->cap_in = n_early;
    }
    ovs_mutex_lock(&relays_mutex);
    ovs_list_push_back(&relays, &r->node);
    n_relays++;
    ovs_mutex_unlock(&relays_mutex);

    pthread_t t;
    int error = pthread_create(&t, NULL, relay_main, r);
    if (error) {
        ovs_abort(error, "pthread_create failed");
    }
    pthread_detach(t);
}

void
lq_ws_relays_stop(void)
{
    ovs_mutex_lock(&relays_mutex);
    struct relay *r;
    LIST_FOR_EACH (r, node, &relays) {
        if (r->peer_fd >= 0) {
            shutdown(r->peer_fd, SHUT_RDWR);
        }
    }
    while (n_relays) {
        ovs_mutex_cond_wait(&relays_cond, &relays_mutex);
    }
    ovs_mutex_unlock(&relays_mutex);
}

size_t
lq_ws_relays_active(void)
{
    ovs_mutex_lock(&relays_mutex);
    size_t n = n_relays;
    ovs_mutex_unlock(&relays_mutex);
    return n;
}
