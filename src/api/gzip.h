/* gzip.h: message compression for gRPC and Connect (RFC 1952 gzip, the
 * one encoding both protocols name besides identity), with zlib.
 *
 * Decompression is bounded: a small body must not become gigabytes
 * (a "zip bomb"), so the caller gives the most it accepts. */
#ifndef LQ_GZIP_H
#define LQ_GZIP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lq_error;

/* Messages shorter than this are sent uncompressed even to a client that
 * accepts gzip: the header and CPU cost more than they save. */
#define LQ_GZIP_MIN_BYTES 1024

/* Compresses 'len' bytes of 'data' into '*outp' (caller frees). */
void lq_gzip_compress(const void *data, size_t len, uint8_t **outp,
                      size_t *outlenp);

/* Decompresses one gzip member that must be all of 'data'.  Errors:
 * invalid_argument (not gzip, truncated, trailing bytes), and
 * resource_exhausted past 'max' bytes.  'what' names the input in the
 * error ("request"). */
struct lq_error *lq_gzip_decompress(const char *what, const void *data,
                                    size_t len, size_t max, uint8_t **outp,
                                    size_t *outlenp);

/* Does a comma-separated header value ("gzip, br;q=0.5", "identity,gzip")
 * list 'token' (case-insensitive), not with q=0?  NULL lists nothing. */
bool lq_header_lists(const char *value, const char *token);

#endif
