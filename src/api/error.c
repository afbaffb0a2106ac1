/* error.c: the lq_error type and the Connect code table.
 *
 * The table is the single place that knows the wire names and HTTP statuses
 * (https://connectrpc.com/docs/protocol#error-codes). */
#include <config.h>
#include "limiquantix/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const struct {
    const char *name;
    int http_status;
} codes[LQ_N_CODES] = {
    [LQ_OK]                  = { "ok", 200 },
    [LQ_CANCELED]            = { "canceled", 499 },
    [LQ_UNKNOWN]             = { "unknown", 500 },
    [LQ_INVALID_ARGUMENT]    = { "invalid_argument", 400 },
    [LQ_DEADLINE_EXCEEDED]   = { "deadline_exceeded", 504 },
    [LQ_NOT_FOUND]           = { "not_found", 404 },
    [LQ_ALREADY_EXISTS]      = { "already_exists", 409 },
    [LQ_PERMISSION_DENIED]   = { "permission_denied", 403 },
    [LQ_RESOURCE_EXHAUSTED]  = { "resource_exhausted", 429 },
    [LQ_FAILED_PRECONDITION] = { "failed_precondition", 400 },
    [LQ_ABORTED]             = { "aborted", 409 },
    [LQ_OUT_OF_RANGE]        = { "out_of_range", 400 },
    [LQ_UNIMPLEMENTED]       = { "unimplemented", 404 },
    [LQ_INTERNAL]            = { "internal", 500 },
    [LQ_UNAVAILABLE]         = { "unavailable", 503 },
    [LQ_DATA_LOSS]           = { "data_loss", 500 },
    [LQ_UNAUTHENTICATED]     = { "unauthenticated", 401 },
};

struct lq_error *
lq_error_new(enum lq_code code, const char *format, ...)
{
    struct lq_error *error = xmalloc(sizeof *error);
    va_list args;

    va_start(args, format);
    error->code = code < LQ_N_CODES && code != LQ_OK ? code : LQ_UNKNOWN;
    error->message = xvasprintf(format, args);
    va_end(args);
    return error;
}

void
lq_error_free(struct lq_error *error)
{
    if (error) {
        free(error->message);
        free(error);
    }
}

void
lq_error_freep(struct lq_error **errorp)
{
    lq_error_free(*errorp);
}

struct lq_error *
lq_error_prefix(struct lq_error *error, const char *format, ...)
{
    if (error) {
        va_list args;
        char *prefix;

        va_start(args, format);
        prefix = xvasprintf(format, args);
        va_end(args);

        char *message = xasprintf("%s: %s", prefix, error->message);
        free(prefix);
        free(error->message);
        error->message = message;
    }
    return error;
}

const char *
lq_code_name(enum lq_code code)
{
    return code < LQ_N_CODES ? codes[code].name : "unknown";
}

bool
lq_code_from_name(const char *name, enum lq_code *code)
{
    for (int i = 0; i < LQ_N_CODES; i++) {
        if (!strcmp(codes[i].name, name)) {
            *code = i;
            return true;
        }
    }
    return false;
}

int
lq_code_http_status(enum lq_code code)
{
    return code < LQ_N_CODES ? codes[code].http_status : 500;
}
