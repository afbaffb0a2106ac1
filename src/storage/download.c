/* download.c: an image from an http(s) URL into a file (see download.h).
 *
 * Design decisions:
 * - libcurl's easy interface on the job's own thread: a download is
 *   blocking work of minutes, like the import that follows it.
 * - Resume is by Range from the bytes already written (and hashed): the
 *   hash state is kept across attempts, so it covers exactly the file.
 * - The URL's query may hold a signature (S3/Swift temp URLs): logs and
 *   errors name the URL without it. */
#include <config.h>
#include "download.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "driver.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(download);

#define MAX_URL_LEN 2048
#define MAX_ATTEMPTS 5
#define MAX_REDIRECTS 5

struct lq_error *
lq_download_check_url(const char *field, const char *url)
{
    size_t n = url ? strlen(url) : 0;
    const char *rest = !url ? NULL
                       : !strncasecmp(url, "https://", 8) ? url + 8
                       : !strncasecmp(url, "http://", 7) ? url + 7 : NULL;
    if (!rest) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected an http:// or "
                            "https:// URL", field);
    }
    if (n > MAX_URL_LEN) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: longer than %d bytes",
                            field, MAX_URL_LEN);
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char) *p <= ' ' || *p == 0x7f) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: spaces and control "
                                "characters must be percent-encoded", field);
        }
    }
    size_t authority = strcspn(rest, "/?#");
    if (!authority) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: no host", field);
    }
    if (memchr(rest, '@', authority)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: credentials in the URL "
                            "are not accepted", field);
    }
    return NULL;
}

char *
lq_download_url_for_log(const char *url)
{
    return xmemdup0(url, strcspn(url, "?#"));
}

struct transfer {
    int fd;
    uint64_t written;           /* Bytes in the file (all attempts). */
    uint64_t total;             /* Announced length; 0: unknown. */
    gnutls_hash_hd_t sha;
    struct lq_job_progress *progress;
    int write_errno;
};

static size_t
write_cb(char *data, size_t size, size_t n, void *t_)
{
    struct transfer *t = t_;
    size_t len = size * n, done = 0;
    while (done < len) {
        ssize_t w = write(t->fd, data + done, len - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            t->write_errno = w < 0 ? errno : ENOSPC;
            return 0;                   /* curl: CURLE_WRITE_ERROR */
        }
        done += w;
    }
    gnutls_hash(t->sha, data, len);
    t->written += len;
    return len;
}

static int
progress_cb(void *t_, curl_off_t dltotal, curl_off_t dlnow OVS_UNUSED,
            curl_off_t ultotal OVS_UNUSED, curl_off_t ulnow OVS_UNUSED)
{
    struct transfer *t = t_;
    if (!t->progress) {
        return 0;
    }
    if (atomic_load(&t->progress->cancel)) {
        return 1;                       /* curl: CURLE_ABORTED_BY_CALLBACK */
    }
    /* dltotal counts this attempt's bytes: what remains after a resume. */
    uint64_t start = t->written - MIN(t->written, (uint64_t) dlnow);
    if (dltotal > 0) {
        t->total = start + dltotal;
        atomic_store(&t->progress->percent,
                     MIN(99, t->written * 100 / t->total));
    }
    return 0;
}

/* Back to an empty file and a fresh hash (the server cannot resume). */
static bool
restart(struct transfer *t)
{
    gnutls_hash_deinit(t->sha, NULL);
    gnutls_hash_init(&t->sha, GNUTLS_DIG_SHA256);
    t->written = 0;
    return !ftruncate(t->fd, 0) && lseek(t->fd, 0, SEEK_SET) == 0;
}

/* One attempt from t->written; the curl result and the HTTP status. */
static CURLcode
attempt(const char *url, struct transfer *t, long *statusp, char *errbuf)
{
    CURL *curl = curl_easy_init();
    if (!curl) {
        return CURLE_FAILED_INIT;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, (long) MAX_REDIRECTS);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    /* A server that sends nothing for a minute is a broken transfer. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "limiquantix-node/" LQ_VERSION);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    if (t->written) {
        curl_easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE,
                         (curl_off_t) t->written);
    }
    errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(curl);
    *statusp = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, statusp);
    curl_easy_cleanup(curl);
    return rc;
}

static bool
transient(CURLcode rc, long status)
{
    switch (rc) {
    case CURLE_PARTIAL_FILE: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR:
    case CURLE_OPERATION_TIMEDOUT: case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
        return true;
    case CURLE_HTTP_RETURNED_ERROR:
        return status >= 500;
    default:
        return false;
    }
}

static struct lq_error *
check_sha256(struct transfer *t, const char *want)
{
    unsigned char digest[32];
    gnutls_hash_output(t->sha, digest);
    char hex[65];
    for (int i = 0; i < 32; i++) {
        snprintf(&hex[2 * i], 3, "%02x", digest[i]);
    }
    if (want && strcasecmp(hex, want)) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "source.sha256: the "
                            "downloaded image's SHA-256 is %s, not %s", hex,
                            want);
    }
    return NULL;
}

struct lq_error *
lq_download(const char *url, const char *sha256_hex, int fd,
            struct lq_job_progress *progress, uint64_t *sizep)
{
    struct transfer t = { .fd = fd, .progress = progress };
    gnutls_hash_init(&t.sha, GNUTLS_DIG_SHA256);
    char *shown = lq_download_url_for_log(url);
    struct lq_error *error = NULL;
    char errbuf[CURL_ERROR_SIZE];

    for (int n = 1;; n++) {
        long status;
        uint64_t before = t.written;
        CURLcode rc = attempt(url, &t, &status, errbuf);
        if (rc == CURLE_OK) {
            break;
        }
        if (rc == CURLE_ABORTED_BY_CALLBACK) {
            error = lq_error_new(LQ_CANCELED, "download of %s cancelled",
                                 shown);
            break;
        }
        if (rc == CURLE_WRITE_ERROR) {
            error = lq_error_new(LQ_RESOURCE_EXHAUSTED, "download of %s: "
                                 "cannot write the temporary file: %s", shown,
                                 ovs_strerror(t.write_errno));
            break;
        }
        /* No byte ranges: start over (counts as an attempt). */
        bool no_ranges = rc == CURLE_RANGE_ERROR
                         || (rc == CURLE_HTTP_RETURNED_ERROR && status == 416);
        if ((!no_ranges && !transient(rc, status)) || n >= MAX_ATTEMPTS) {
            const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
            error = lq_error_new(rc == CURLE_HTTP_RETURNED_ERROR
                                 && status < 500 ? LQ_FAILED_PRECONDITION
                                 : LQ_UNAVAILABLE,
                                 "source.url: download of %s failed after "
                                 "%d attempt%s: %s", shown, n,
                                 n == 1 ? "" : "s", why);
            break;
        }
        if (no_ranges && !restart(&t)) {
            error = lq_error_new(LQ_INTERNAL, "download of %s: cannot "
                                 "truncate the temporary file", shown);
            break;
        }
        VLOG_INFO("download of %s broke off after %"PRIu64" bytes (%s); "
                  "%s (attempt %d of %d)", shown, t.written,
                  errbuf[0] ? errbuf : curl_easy_strerror(rc),
                  no_ranges ? "starting over" : "resuming", n + 1,
                  MAX_ATTEMPTS);
        if (t.written == before && !no_ranges) {
            sleep(1);               /* Nothing came: do not spin. */
        }
    }
    if (!error && t.total && t.written != t.total) {
        error = lq_error_new(LQ_UNAVAILABLE, "source.url: %s announced %"
                             PRIu64" bytes and sent %"PRIu64, shown, t.total,
                             t.written);
    }
    if (!error) {
        error = check_sha256(&t, sha256_hex);
    }
    gnutls_hash_deinit(t.sha, NULL);
    if (!error) {
        VLOG_INFO("downloaded %s: %"PRIu64" bytes", shown, t.written);
        *sizep = t.written;
    }
    free(shown);
    return error;
}
