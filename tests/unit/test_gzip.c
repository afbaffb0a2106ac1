/* gzip for gRPC/Connect messages: round trips, bombs, corrupt and
 * truncated input, trailing bytes; Accept-Encoding style lists. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gzip.h"
#include "limiquantix/error.h"

static void
test_round_trip(void **state)
{
    (void) state;
    size_t sizes[] = { 0, 1, 100, 70000, 1 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        char *data = malloc(n + 1);
        for (size_t j = 0; j < n; j++) {
            data[j] = "limiquantix"[j % 11] + (j / 4096 % 3);
        }
        uint8_t *z, *back;
        size_t zlen, blen;
        lq_gzip_compress(data, n, &z, &zlen);
        assert_true(zlen >= 18);            /* header + trailer */
        assert_int_equal(z[0], 0x1f);       /* gzip magic */
        assert_int_equal(z[1], 0x8b);
        assert_null(lq_gzip_decompress("request", z, zlen, n, &back, &blen));
        assert_int_equal(blen, n);
        assert_memory_equal(back, data, n);
        free(back);
        if (n) {
            /* One byte over the limit. */
            struct lq_error *e = lq_gzip_decompress("request", z, zlen,
                                                    n - 1, &back, &blen);
            assert_non_null(e);
            assert_int_equal(e->code, LQ_RESOURCE_EXHAUSTED);
            lq_error_free(e);
        }
        free(z);
        free(data);
    }
}

static void
test_bomb(void **state)
{
    (void) state;
    size_t n = 64 << 20;                    /* 64 MiB of zeros... */
    char *zeros = calloc(n, 1);
    uint8_t *z, *back;
    size_t zlen, blen;
    lq_gzip_compress(zeros, n, &z, &zlen);
    free(zeros);
    assert_true(zlen < 200 << 10);          /* ...in a few tens of KiB */
    struct lq_error *e = lq_gzip_decompress("request", z, zlen, 4 << 20,
                                            &back, &blen);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_RESOURCE_EXHAUSTED);
    assert_string_equal(e->message, "request: more than 4194304 bytes once "
                        "decompressed");
    lq_error_free(e);
    free(z);
}

static void
test_bad_input(void **state)
{
    (void) state;
    const char *msg = "hello, hello, hello, hello";
    uint8_t *z, *back;
    size_t zlen, blen;
    lq_gzip_compress(msg, strlen(msg), &z, &zlen);
    for (size_t cut = 0; cut < zlen; cut++) {
        struct lq_error *e = lq_gzip_decompress("request", z, cut, 1000,
                                                &back, &blen);
        assert_non_null(e);
        assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
        lq_error_free(e);
    }
    uint8_t *longer = malloc(zlen + 3);
    memcpy(longer, z, zlen);
    memcpy(longer + zlen, "xyz", 3);
    struct lq_error *e = lq_gzip_decompress("request", longer, zlen + 3, 1000,
                                            &back, &blen);
    assert_non_null(e);
    assert_string_equal(e->message, "request: 3 bytes after the gzip data");
    lq_error_free(e);
    free(longer);
    z[zlen - 1] ^= 0xff;                    /* The length in the trailer. */
    e = lq_gzip_decompress("request", z, zlen, 1000, &back, &blen);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
    lq_error_free(e);
    free(z);
    e = lq_gzip_decompress("request", "plain text", 10, 1000, &back, &blen);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
    lq_error_free(e);
}

static void
test_header_lists(void **state)
{
    (void) state;
    assert_true(lq_header_lists("gzip", "gzip"));
    assert_true(lq_header_lists("identity, deflate, gzip", "gzip"));
    assert_true(lq_header_lists("br;q=1.0, GZIP;q=0.5", "gzip"));
    assert_true(lq_header_lists(" ,gzip ", "gzip"));
    assert_false(lq_header_lists("gzip;q=0", "gzip"));
    assert_false(lq_header_lists("gzip ; q=0.0, br", "gzip"));
    assert_false(lq_header_lists("x-gzip, gzipped", "gzip"));
    assert_false(lq_header_lists("", "gzip"));
    assert_false(lq_header_lists(NULL, "gzip"));
    assert_true(lq_header_lists("br;q=0, gzip", "gzip"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bomb),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_header_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
