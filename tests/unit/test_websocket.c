/* RFC 6455 pieces of the console WebSocket: the accept key (the RFC's own
 * example), client frame parsing (masked, lengths, fragments, refusals)
 * and server frame headers, and a relay over socketpairs. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "websocket.h"

static void
test_accept_key(void **state)
{
    (void) state;
    char *a = lq_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==");   /* RFC 6455 */
    assert_string_equal(a, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    free(a);
    assert_null(lq_ws_accept_key(NULL));
    assert_null(lq_ws_accept_key("c2hvcnQ="));       /* 5 bytes, not 16 */
    assert_null(lq_ws_accept_key("not base64 at all!"));
}

/* A masked client frame of 'opcode' carrying 'payload'. */
static size_t
client_frame(uint8_t *out, int opcode, bool fin, const uint8_t *payload,
             size_t len)
{
    static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t h = 0;
    out[h++] = (fin ? 0x80 : 0) | opcode;
    if (len < 126) {
        out[h++] = 0x80 | len;
    } else if (len <= 0xffff) {
        out[h++] = 0x80 | 126;
        out[h++] = len >> 8;
        out[h++] = len;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 0; i < 8; i++) {
            out[h++] = (uint64_t) len >> (56 - 8 * i);
        }
    }
    memcpy(&out[h], mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++) {
        out[h + i] = payload[i] ^ mask[i % 4];
    }
    return h + len;
}

static void
test_parse_rfc_example(void **state)
{
    (void) state;
    /* RFC 6455 5.7: a masked "Hello". */
    uint8_t f[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d,
                    0x51, 0x58 };
    struct lq_ws_frame fr;
    const char *why;
    for (size_t n = 0; n < sizeof f; n++) {
        assert_int_equal(lq_ws_parse_client_frame(f, n, &fr, &why), 0);
    }
    assert_int_equal(lq_ws_parse_client_frame(f, sizeof f, &fr, &why),
                     sizeof f);
    assert_true(fr.fin);
    assert_int_equal(fr.opcode, LQ_WS_TEXT);
    assert_int_equal(fr.len, 5);
    assert_memory_equal(fr.payload, "Hello", 5);
}

static void
test_parse_lengths(void **state)
{
    (void) state;
    size_t sizes[] = { 0, 125, 126, 65535, 65536, LQ_WS_MAX_PAYLOAD };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t len = sizes[i];
        uint8_t *payload = malloc(len + 1), *buf = malloc(len + 14);
        for (size_t k = 0; k < len; k++) {
            payload[k] = k * 7;
        }
        size_t n = client_frame(buf, LQ_WS_BINARY, true, payload, len);
        struct lq_ws_frame fr;
        const char *why;
        assert_int_equal(lq_ws_parse_client_frame(buf, n - 1, &fr, &why), 0);
        assert_int_equal(lq_ws_parse_client_frame(buf, n, &fr, &why), n);
        assert_int_equal(fr.len, len);
        assert_memory_equal(fr.payload, payload, len);
        free(payload);
        free(buf);
    }
}

static void
test_parse_refusals(void **state)
{
    (void) state;
    struct lq_ws_frame fr;
    const char *why;
    uint8_t unmasked[] = { 0x82, 0x01, 'x' };
    assert_int_equal(lq_ws_parse_client_frame(unmasked, 3, &fr, &why), -1);
    assert_string_equal(why, "client frames must be masked");

    uint8_t buf[300], data[200] = { 0 };
    size_t n = client_frame(buf, LQ_WS_PING, true, data, 126);
    assert_int_equal(lq_ws_parse_client_frame(buf, n, &fr, &why), -1);
    n = client_frame(buf, LQ_WS_CLOSE, false, data, 2);
    assert_int_equal(lq_ws_parse_client_frame(buf, n, &fr, &why), -1);
    n = client_frame(buf, 0x3, true, data, 1);          /* reserved opcode */
    assert_int_equal(lq_ws_parse_client_frame(buf, n, &fr, &why), -1);
    assert_string_equal(why, "unknown opcode");
    n = client_frame(buf, LQ_WS_BINARY, true, data, 1);
    buf[0] |= 0x40;                                     /* RSV1 */
    assert_int_equal(lq_ws_parse_client_frame(buf, n, &fr, &why), -1);

    /* A declared length over the limit is refused before it arrives. */
    uint8_t big[14] = { 0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 1 };
    assert_int_equal(lq_ws_parse_client_frame(big, sizeof big, &fr, &why),
                     -1);
    assert_string_equal(why, "frame payload too large");
}

static void
test_server_header(void **state)
{
    (void) state;
    uint8_t h[10];
    assert_int_equal(lq_ws_server_header(h, LQ_WS_BINARY, 125), 2);
    assert_int_equal(h[0], 0x82);
    assert_int_equal(h[1], 125);
    assert_int_equal(lq_ws_server_header(h, LQ_WS_BINARY, 126), 4);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2] << 8 | h[3], 126);
    assert_int_equal(lq_ws_server_header(h, LQ_WS_CLOSE, 70000), 10);
    assert_int_equal(h[0], 0x88);
    assert_int_equal(h[1], 127);
    assert_int_equal(h[7] << 16 | h[8] << 8 | h[9], 70000);
}

static int relay_done_calls;

static void
relay_done(void *aux)
{
    (void) aux;
    relay_done_calls++;
}

/* Reads exactly n bytes. */
static void
read_n(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        assert_true(r > 0);
        got += r;
    }
}

static void
test_relay(void **state)
{
    (void) state;
    int ws[2], peer[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ws), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, peer), 0);
    /* The client's first frame arrived with the handshake ("early"). */
    uint8_t f[64];
    size_t n = client_frame(f, LQ_WS_BINARY, true, (const uint8_t *) "RFB",
                            3);
    lq_ws_relay_start(ws[1], peer[1], f, n, relay_done, NULL);

    uint8_t buf[64];
    read_n(peer[0], buf, 3);
    assert_memory_equal(buf, "RFB", 3);
    /* A fragmented message: both parts' bytes, in order. */
    n = client_frame(f, LQ_WS_BINARY, false, (const uint8_t *) "ab", 2);
    n += client_frame(f + n, LQ_WS_CONTINUATION, true,
                      (const uint8_t *) "cd", 2);
    assert_int_equal(write(ws[0], f, n), n);
    read_n(peer[0], buf, 4);
    assert_memory_equal(buf, "abcd", 4);
    /* Peer bytes come back as one binary frame. */
    assert_int_equal(write(peer[0], "xyz", 3), 3);
    read_n(ws[0], buf, 5);
    assert_int_equal(buf[0], 0x82);
    assert_int_equal(buf[1], 3);
    assert_memory_equal(buf + 2, "xyz", 3);
    /* Ping: pong with the same payload. */
    n = client_frame(f, LQ_WS_PING, true, (const uint8_t *) "hi", 2);
    assert_int_equal(write(ws[0], f, n), n);
    read_n(ws[0], buf, 4);
    assert_int_equal(buf[0], 0x8a);
    assert_memory_equal(buf + 2, "hi", 2);
    /* Close: echoed, the relay ends, the peer sees EOF. */
    n = client_frame(f, LQ_WS_CLOSE, true, (const uint8_t *) "\x03\xe8", 2);
    assert_int_equal(write(ws[0], f, n), n);
    read_n(ws[0], buf, 4);
    assert_int_equal(buf[0], 0x88);
    assert_int_equal(read(peer[0], buf, sizeof buf), 0);
    lq_ws_relays_stop();                    /* Waits for the thread. */
    assert_int_equal(relay_done_calls, 1);
    assert_int_equal(lq_ws_relays_active(), 0);
    close(ws[0]);
    close(ws[1]);
    close(peer[0]);
}

static void
test_relays_stop(void **state)
{
    (void) state;
    int ws[2], peer[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ws), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, peer), 0);
    relay_done_calls = 0;
    lq_ws_relay_start(ws[1], peer[1], NULL, 0, relay_done, NULL);
    assert_int_equal(lq_ws_relays_active(), 1);
    lq_ws_relays_stop();            /* An idle session is ended too. */
    assert_int_equal(relay_done_calls, 1);
    assert_int_equal(lq_ws_relays_active(), 0);
    close(ws[0]);
    close(ws[1]);
    close(peer[0]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_parse_rfc_example),
        cmocka_unit_test(test_parse_lengths),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_server_header),
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_relays_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
