/* ALPN in a ClientHello: offered, not offered, split over records, every
 * truncation, lies in the lengths. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tls_hello.h"

struct buf {
    uint8_t b[LQ_TLS_HELLO_MAX * 2];
    size_t n;
};

static void
put(struct buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void
put_uint(struct buf *b, size_t v, size_t bytes)
{
    for (size_t i = bytes; i-- > 0;) {
        uint8_t byte = v >> (8 * i);
        put(b, &byte, 1);
    }
}

/* A ClientHello handshake message whose ALPN lists 'protos' (NULL: no
 * ALPN extension), after an unrelated extension. */
static void
client_hello(struct buf *hs, const char *const *protos)
{
    struct buf body = { .n = 0 };
    put_uint(&body, 0x0303, 2);
    uint8_t random[32] = { 7 };
    put(&body, random, sizeof random);
    put_uint(&body, 0, 1);                      /* session id */
    put_uint(&body, 4, 2);
    put_uint(&body, 0x1301, 2);
    put_uint(&body, 0x1302, 2);
    put_uint(&body, 1, 1);
    put_uint(&body, 0, 1);                      /* compression: null */

    struct buf exts = { .n = 0 };
    put_uint(&exts, 0, 2);                      /* server_name */
    put_uint(&exts, 14, 2);
    put_uint(&exts, 12, 2);
    put_uint(&exts, 0, 1);
    put_uint(&exts, 9, 2);
    put(&exts, "localhost", 9);
    if (protos) {
        struct buf names = { .n = 0 };
        for (size_t i = 0; protos[i]; i++) {
            put_uint(&names, strlen(protos[i]), 1);
            put(&names, protos[i], strlen(protos[i]));
        }
        put_uint(&exts, 16, 2);
        put_uint(&exts, names.n + 2, 2);
        put_uint(&exts, names.n, 2);
        put(&exts, names.b, names.n);
    }
    put_uint(&body, exts.n, 2);
    put(&body, exts.b, exts.n);

    hs->n = 0;
    put_uint(hs, 1, 1);
    put_uint(hs, body.n, 3);
    put(hs, body.b, body.n);
}

/* 'hs' in TLS records of at most 'max' bytes each. */
static void
records(struct buf *out, const struct buf *hs, size_t max)
{
    out->n = 0;
    for (size_t off = 0; off < hs->n; off += max) {
        size_t n = hs->n - off < max ? hs->n - off : max;
        put_uint(out, 22, 1);
        put_uint(out, 0x0301, 2);
        put_uint(out, n, 2);
        put(out, hs->b + off, n);
    }
}

static enum lq_tls_hello
offers(const struct buf *b, size_t len)
{
    return lq_tls_hello_offers_alpn(b->b, len, "h2");
}

static void
test_offered(void **state)
{
    (void) state;
    static struct buf hs, rec;
    const char *both[] = { "http/1.1", "h2", NULL };
    const char *h2[] = { "h2", NULL };
    client_hello(&hs, both);
    records(&rec, &hs, 16384);
    assert_int_equal(offers(&rec, rec.n), LQ_TLS_HELLO_OFFERS);
    client_hello(&hs, h2);
    records(&rec, &hs, 16384);
    assert_int_equal(offers(&rec, rec.n), LQ_TLS_HELLO_OFFERS);
    /* Bytes after the ClientHello (none are sent before the answer, but
     * they must not matter). */
    put_uint(&rec, 0x17, 1);
    assert_int_equal(offers(&rec, rec.n), LQ_TLS_HELLO_OFFERS);
}

static void
test_not_offered(void **state)
{
    (void) state;
    static struct buf hs, rec;
    const char *http1[] = { "http/1.1", NULL };
    const char *near[] = { "h2c", "h", "h3", NULL };
    client_hello(&hs, http1);
    records(&rec, &hs, 16384);
    assert_int_equal(offers(&rec, rec.n), LQ_TLS_HELLO_NOT_OFFERED);
    client_hello(&hs, near);
    records(&rec, &hs, 16384);
    assert_int_equal(offers(&rec, rec.n), LQ_TLS_HELLO_NOT_OFFERED);
    client_hello(&hs, NULL);
    records(&rec, &hs, 16384);
    assert_int_equal(offers(&rec, rec.n), LQ_TLS_HELLO_NOT_OFFERED);

    const char *plain = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    assert_int_equal(lq_tls_hello_offers_alpn((const uint8_t *) plain,
                                              strlen(plain), "h2"),
                     LQ_TLS_HELLO_NOT_OFFERED);
    const char *http = "POST /x HTTP/1.1\r\n";
    assert_int_equal(lq_tls_hello_offers_alpn((const uint8_t *) http,
                                              strlen(http), "h2"),
                     LQ_TLS_HELLO_NOT_OFFERED);
}

/* Split into tiny records, and every prefix of it. */
static void
test_split_and_truncated(void **state)
{
    (void) state;
    static struct buf hs, rec;
    const char *both[] = { "http/1.1", "h2", NULL };
    client_hello(&hs, both);
    for (size_t max = 1; max <= 64; max *= 2) {
        records(&rec, &hs, max);
        assert_int_equal(offers(&rec, rec.n), LQ_TLS_HELLO_OFFERS);
        for (size_t len = 0; len < rec.n; len++) {
            assert_int_equal(offers(&rec, len), LQ_TLS_HELLO_INCOMPLETE);
        }
    }
}

/* Length fields that lie: never read past the data, never "offers". */
static void
test_lies(void **state)
{
    (void) state;
    static struct buf hs, rec;
    const char *both[] = { "http/1.1", "h2", NULL };
    client_hello(&hs, both);
    records(&rec, &hs, 16384);
    for (size_t i = 5; i < rec.n; i++) {
        static struct buf bad;
        for (unsigned v = 0; v < 256; v += 51) {
            bad = rec;
            bad.b[i] = v;
            enum lq_tls_hello r = offers(&bad, bad.n);
            if (i == 5) {       /* Not a ClientHello. */
                assert_int_equal(r, LQ_TLS_HELLO_NOT_OFFERED);
            }
            /* Otherwise any answer, as long as ASan is quiet. */
        }
    }
    /* A ClientHello claiming more than LQ_TLS_HELLO_MAX bytes. */
    static struct buf big;
    big = rec;
    big.b[6] = 0x7f;
    assert_int_equal(offers(&big, big.n), LQ_TLS_HELLO_NOT_OFFERED);
    /* Not a handshake record, or not TLS 1.x. */
    big = rec;
    big.b[0] = 23;
    assert_int_equal(offers(&big, big.n), LQ_TLS_HELLO_NOT_OFFERED);
    big = rec;
    big.b[1] = 2;
    assert_int_equal(offers(&big, big.n), LQ_TLS_HELLO_NOT_OFFERED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offered),
        cmocka_unit_test(test_not_offered),
        cmocka_unit_test(test_split_and_truncated),
        cmocka_unit_test(test_lies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
