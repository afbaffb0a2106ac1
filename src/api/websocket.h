/* websocket.h: RFC 6455 WebSocket framing and a byte relay, for endpoints
 * that tunnel a stream (the VM console) to a browser or a tool.
 *
 * The HTTP/1.1 server does the handshake (lq_ws_accept_key) and hands the
 * upgraded connection to lq_ws_relay_start(), which moves binary frames'
 * payloads to a peer socket and the peer's bytes back as binary frames,
 * in a thread of its own, until either side closes. */
#ifndef LQ_WEBSOCKET_H
#define LQ_WEBSOCKET_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limiquantix/error.h"

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (base64 of the
 * SHA-1 of key + the RFC's GUID).  Caller frees; NULL if 'key' is not 16
 * bytes in base64. */
char *lq_ws_accept_key(const char *key);

enum lq_ws_opcode {
    LQ_WS_CONTINUATION = 0x0,
    LQ_WS_TEXT = 0x1,
    LQ_WS_BINARY = 0x2,
    LQ_WS_CLOSE = 0x8,
    LQ_WS_PING = 0x9,
    LQ_WS_PONG = 0xa,
};

/* Largest frame payload accepted from a client. */
#define LQ_WS_MAX_PAYLOAD (1 << 20)

struct lq_ws_frame {
    bool fin;
    int opcode;
    uint8_t *payload;           /* Into the parsed buffer, unmasked. */
    size_t len;
};

/* Parses one client frame at the start of buf[0..n-1], unmasking its
 * payload in place.  Returns the frame's length in bytes, 0 if more bytes
 * are needed, or -1 if it is not a valid client frame (unmasked, reserved
 * bits, an unknown opcode, a control frame over 125 bytes or fragmented,
 * a payload over LQ_WS_MAX_PAYLOAD), with '*why' saying which. */
long lq_ws_parse_client_frame(uint8_t *buf, size_t n, struct lq_ws_frame *,
                              const char **why);

/* Writes the header of an unmasked server frame with 'len' bytes of
 * payload into 'out' (at least 10 bytes); returns its length. */
size_t lq_ws_server_header(uint8_t *out, int opcode, size_t len);

/* Relays between the upgraded client connection 'ws_fd' (WebSocket
 * frames; 'early' holds bytes already read from it) and 'peer_fd' (raw
 * bytes) in a new thread.  Takes ownership of 'peer_fd' (closed at the
 * end); 'done' is called from that thread when the relay ends, so the
 * owner of 'ws_fd' can close it. */
void lq_ws_relay_start(int ws_fd, int peer_fd, const void *early,
                       size_t n_early, void (*done)(void *aux), void *aux);

/* Ends every relay (shuts their sockets) and waits for their threads. */
void lq_ws_relays_stop(void);
/* Relays running now. */
size_t lq_ws_relays_active(void);

#endif /* websocket.h */
