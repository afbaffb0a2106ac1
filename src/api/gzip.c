/* gzip.c: see gzip.h. */
#include <config.h>
#include "gzip.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "limiquantix/error.h"
#include "util.h"

#define GZIP_WINDOW (15 + 16)       /* zlib: gzip wrapper, not zlib's. */

void
lq_gzip_compress(const void *data, size_t len, uint8_t **outp,
                 size_t *outlenp)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* Level 6 (zlib's default): most of the gain for a message. */
    if (deflateInit2(&z, 6, Z_DEFLATED, GZIP_WINDOW, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        out_of_memory();
    }
    size_t cap = deflateBound(&z, len);
    uint8_t *out = xmalloc(cap);
    z.next_in = (Bytef *) data;
    z.avail_in = len;
    z.next_out = out;
    z.avail_out = cap;
    /* deflateBound() is enough for one Z_FINISH. */
    ovs_assert(deflate(&z, Z_FINISH) == Z_STREAM_END);
    *outlenp = z.total_out;
    *outp = out;
    deflateEnd(&z);
}

struct lq_error *
lq_gzip_decompress(const char *what, const void *data, size_t len,
                   size_t max, uint8_t **outp, size_t *outlenp)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, GZIP_WINDOW) != Z_OK) {
        out_of_memory();
    }
    size_t cap = MIN(MAX(len * 4, 4096), max + 1);
    uint8_t *out = xmalloc(cap);
    z.next_in = (Bytef *) data;
    z.avail_in = len;
    struct lq_error *e = NULL;
    int r;
    do {
        if (z.total_out == cap) {
            if (cap > max) {
                e = lq_error_new(LQ_RESOURCE_EXHAUSTED, "%s: more than %zu "
                                 "bytes once decompressed", what, max);
                break;
            }
            cap = MIN(cap * 2, max + 1);
            out = xrealloc(out, cap);
        }
        z.next_out = out + z.total_out;
        z.avail_out = cap - z.total_out;
        r = inflate(&z, Z_NO_FLUSH);
        if (r == Z_BUF_ERROR && z.avail_out) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: the gzip data is "
                             "truncated", what);
        } else if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: not valid gzip (%s)",
                             what, z.msg ? z.msg : "corrupt data");
        }
    } while (!e && r != Z_STREAM_END);
    if (!e && z.total_out > max) {
        e = lq_error_new(LQ_RESOURCE_EXHAUSTED, "%s: more than %zu bytes "
                         "once decompressed", what, max);
    }
    if (!e && z.avail_in) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: %u bytes after the gzip "
                         "data", what, z.avail_in);
    }
    size_t total = z.total_out;
    inflateEnd(&z);
    if (e) {
        free(out);
        return e;
    }
    *outp = out;
    *outlenp = total;
    return NULL;
}

bool
lq_header_lists(const char *value, const char *token)
{
    size_t tlen = strlen(token);
    for (const char *p = value; p && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,;");
        const char *params = p + n;
        const char *end = p + strcspn(p, ",");
        if (n == tlen && !strncasecmp(p, token, n)) {
            /* "gzip;q=0" refuses it (RFC 9110 12.4.2). */
            const char *q = strstr(params, "q=");
            bool refused = q && q < end && strtod(q + 2, NULL) == 0;
            return !refused;
        }
        p = end;
    }
    return false;
}
