/* download.h: fetching a disk image from an http(s) URL into a local
 * file for import (CreateVolume source.url), with libcurl.
 *
 * - Only http and https, also after redirects (at most 5); TLS verified
 *   against the system's trust store; no credentials in the URL.
 * - Streamed into a file the caller made; a transfer that breaks off is
 *   resumed with a Range request (up to 5 attempts; from the start again
 *   if the server has no ranges); HTTP 4xx ends it at once.
 * - The SHA-256 of the bytes is computed on the way and compared when the
 *   caller gave one; progress is bytes received of the announced length;
 *   'cancel' stops it within a second. */
#ifndef LQ_STORAGE_DOWNLOAD_H
#define LQ_STORAGE_DOWNLOAD_H 1

#include <stdint.h>
#include "limiquantix/error.h"

struct lq_job_progress;

/* Checks a URL for 'field': http(s)://host..., at most 2048 bytes, no
 * spaces or control characters, no user:password@. */
struct lq_error *lq_download_check_url(const char *field, const char *url);

/* The URL without its query and fragment (signed URLs carry secrets
 * there), for logs and errors.  Caller frees. */
char *lq_download_url_for_log(const char *url);

/* Downloads 'url' into 'fd' (empty, seekable).  'sha256_hex': 64 hex
 * digits or NULL.  '*sizep': the bytes written. */
struct lq_error *lq_download(const char *url, const char *sha256_hex, int fd,
                             struct lq_job_progress *, uint64_t *sizep);

#endif /* download.h */
