/* cli.c: lqctl's shared plumbing (see cli.h). */
#include <config.h>
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "openvswitch/shash.h"
#include "util.h"

/* Calls 'method' of the node service; prints the error and returns NULL on
 * failure. */
struct json *
cli_call(struct cli *cli, const char *path, const struct json *request)
{
    struct json *response;
    const char *base = cli->server ? cli->server : "http://localhost";
    cli->http.unix_socket = cli->server ? NULL : cli->socket;

    struct lq_error *error = lq_connect_call(&cli->http, base, path, request,
                                             &response);
    if (error) {
        fprintf(stderr, "lqctl: %s: %s\n", lq_code_name(error->code),
                error->message);
        lq_error_free(error);
        return NULL;
    }
    return response;
}

void
print_json(const struct json *j)
{
    char *s = json_to_string(j, JSSF_PRETTY | JSSF_SORT);
    puts(s);
    free(s);
}

const char *
cli_str(const struct json *obj, const char *field)
{
    const struct json *v = lq_json_field(obj, field);
    return v && v->type == JSON_STRING ? json_string(v) : "";
}

long long
cli_num(const struct json *obj, const char *field)
{
    int64_t v = 0;
    lq_error_free(lq_json_get_int64(obj, field, &v));
    return v;
}

bool
cli_bool(const struct json *obj, const char *field)
{
    bool b = false;
    lq_error_free(lq_json_get_bool(obj, field, &b));
    return b;
}

const struct json_array *
cli_array(const struct json *obj, const char *field)
{
    static const struct json_array empty = { 0, 0, NULL };
    const struct json *v = lq_json_field(obj, field);
    return v && v->type == JSON_ARRAY ? json_array(v) : &empty;
}

char *
human_bytes(unsigned long long bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
        v /= 1024;
        u++;
    }
    return u ? xasprintf("%.1f %s", v, units[u]) : xasprintf("%llu B", bytes);
}

char *
human_duration(long long s)
{
    if (s >= 86400) {
        return xasprintf("%lldd%lldh", s / 86400, s % 86400 / 3600);
    } else if (s >= 3600) {
        return xasprintf("%lldh%lldm", s / 3600, s % 3600 / 60);
    } else if (s >= 60) {
        return xasprintf("%lldm%llds", s / 60, s % 60);
    }
    return xasprintf("%llds", s);
}

