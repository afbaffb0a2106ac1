/* http_client.c: Connect unary calls with libcurl (see http_client.h). */
#include <config.h>
#include "http_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

static size_t
collect(char *data, size_t size, size_t n, void *ds_)
{
    ds_put_buffer(ds_, data, size * n);
    return size * n;
}

/* Turns a non-200 reply into an error, using the Connect error body when
 * the server sent one and the HTTP status otherwise. */
static struct lq_error *
error_from_reply(long status, const struct ds *body)
{
    struct json *j = NULL;
    struct lq_error *parse_error = lq_json_parse_object(
        body->string ? body->string : "", body->length, &j);
    const char *code_s = NULL, *message = NULL;
    enum lq_code code;

    if (!parse_error) {
        lq_error_free(lq_json_get_string(j, "code", &code_s));
        lq_error_free(lq_json_get_string(j, "message", &message));
    }
    lq_error_free(parse_error);

    struct lq_error *error;
    if (code_s && lq_code_from_name(code_s, &code)) {
        error = lq_error_new(code, "%s", message ? message : code_s);
    } else {
        code = status == 401 ? LQ_UNAUTHENTICATED
               : status == 403 ? LQ_PERMISSION_DENIED
               : status == 404 ? LQ_UNIMPLEMENTED
               : status == 503 || status == 502 || status == 504
                 ? LQ_UNAVAILABLE
               : status >= 400 && status < 500 ? LQ_INVALID_ARGUMENT
               : LQ_UNKNOWN;
        error = lq_error_new(code, "HTTP status %ld", status);
    }
    json_destroy(j);
    return error;
}

struct lq_error *
lq_connect_call(const struct lq_http_client_options *o, const char *base_url,
                const char *path, const struct json *request,
                struct json **responsep)
{
    *responsep = NULL;
    CURL *curl = curl_easy_init();
    if (!curl) {
        return lq_error_new(LQ_INTERNAL, "curl_easy_init failed");
    }

    size_t n = strlen(base_url);
    char *url = xasprintf("%.*s/%s", (int) (n && base_url[n - 1] == '/'
                                            ? n - 1 : n), base_url, path);
    char *body = lq_json_to_string(request);
    struct ds reply = DS_EMPTY_INITIALIZER;
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Connect-Protocol-Version: 1");

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);   /* Thread-safe. */
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     o && o->timeout_ms ? o->timeout_ms : 10000L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (o && o->unix_socket) {
        curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
    }
    if (o && o->cert_path) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, o->cert_path);
    }
    if (o && o->key_path) {
        curl_easy_setopt(curl, CURLOPT_SSLKEY, o->key_path);
    }
    if (o && o->ca_path) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, o->ca_path);
    }

    struct lq_error *error = NULL;
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc != CURLE_OK) {
        error = lq_error_new(LQ_UNAVAILABLE, "%s: %s", url,
                             *curl_err ? curl_err : curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) {
            error = error_from_reply(status, &reply);
        } else {
            error = lq_json_parse_object(reply.string ? reply.string : "",
                                         reply.length, responsep);
            if (error) {
                error->code = LQ_INTERNAL;
                lq_error_prefix(error, "%s: bad reply", url);
            }
        }
    }

    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    ds_destroy(&reply);
    free(body);
    free(url);
    return error;
}
