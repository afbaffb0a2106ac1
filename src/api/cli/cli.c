/* cli.c: lqctl's shared plumbing (see cli.h). */
#include <config.h>
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "pbjson.h"
#include "openvswitch/shash.h"
#include "util.h"

/* Calls 'path' with JSON; prints the error and returns NULL on failure. */
struct json *
cli_call_json(struct cli *cli, const char *path, const struct json *request)
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

ProtobufCMessage *
cli_call(struct cli *cli, const char *service, const char *method,
         const ProtobufCMessage *request)
{
    const ProtobufCMethodDescriptor *pm = lq_pb_find_method(service, method);
    ovs_assert(pm && request->descriptor == pm->input);
    /* Connect's JSON codec on the wire: what a user sees with -o json and
     * in the daemon's logs, from the same message either way. */
    struct json *req = lq_pb_to_json(request);
    char *path = xasprintf("%s/%s", service, method);
    struct json *r = cli_call_json(cli, path, req);
    json_destroy(req);
    ProtobufCMessage *reply = NULL;
    if (r) {
        struct lq_error *error = lq_pb_from_json(pm->output, r, 0, &reply);
        if (error) {
            fprintf(stderr, "lqctl: the reply of %s does not fit %s: %s\n",
                    path, pm->output->name, error->message);
            lq_error_free(error);
        }
        json_destroy(r);
    }
    free(path);
    return reply;
}

void
print_json(const struct json *j)
{
    char *s = json_to_string(j, JSSF_PRETTY | JSSF_SORT);
    puts(s);
    free(s);
}

void
print_message(const ProtobufCMessage *m)
{
    struct json *j = lq_pb_to_json_flags(m, LQ_PB_EMIT_DEFAULTS);
    print_json(j);
    json_destroy(j);
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

