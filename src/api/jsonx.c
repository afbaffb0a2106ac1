/* jsonx.c: proto3-JSON field access on top of OVS's json (see jsonx.h). */
#include <config.h>
#include "jsonx.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "util.h"

struct lq_error *
lq_json_parse_object(const char *text, size_t len, struct json **objp)
{
    *objp = NULL;
    if (!len) {
        *objp = json_object_create();
        return NULL;
    }
    if (memchr(text, '\0', len)) {
        return lq_error_new(LQ_INVALID_ARGUMENT,
                            "malformed JSON: body contains a NUL byte");
    }

    /* json_from_string() reports a syntax error as a JSON string, which is
     * ambiguous for a body that is itself a string: so refuse anything that
     * does not start like an object first. */
    size_t skip = 0;
    while (skip < len && strchr(" \t\r\n", text[skip])) {
        skip++;
    }
    if (skip == len || text[skip] != '{') {
        return lq_error_new(LQ_INVALID_ARGUMENT,
                            "malformed JSON: request body must be a JSON "
                            "object");
    }

    char *copy = xmemdup0(text, len);
    struct json *json = json_from_string(copy);
    free(copy);

    if (json->type == JSON_STRING) {
        struct lq_error *error = lq_error_new(
            LQ_INVALID_ARGUMENT, "malformed JSON: %s", json_string(json));
        json_destroy(json);
        return error;
    }
    if (json->type != JSON_OBJECT) {
        struct lq_error *error = lq_error_new(
            LQ_INVALID_ARGUMENT, "request body must be a JSON object, got %s",
            json_type_to_string(json->type));
        json_destroy(json);
        return error;
    }
    *objp = json;
    return NULL;
}

char *
lq_json_camel_to_snake(const char *camel)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    for (const char *p = camel; *p; p++) {
        if (isupper((unsigned char) *p)) {
            ds_put_char(&s, '_');
            ds_put_char(&s, tolower((unsigned char) *p));
        } else {
            ds_put_char(&s, *p);
        }
    }
    return ds_steal_cstr(&s);
}

const struct json *
lq_json_field(const struct json *obj, const char *camel)
{
    if (!obj || obj->type != JSON_OBJECT) {
        return NULL;
    }
    const struct json *v = shash_find_data(json_object(obj), camel);
    if (!v) {
        char *snake = lq_json_camel_to_snake(camel);
        v = shash_find_data(json_object(obj), snake);
        free(snake);
    }
    return v && v->type != JSON_NULL ? v : NULL;
}

const struct json *
lq_json_member(const struct json *obj, const char *name)
{
    return obj && obj->type == JSON_OBJECT
           ? shash_find_data(json_object(obj), name) : NULL;
}

const char *
lq_json_member_string(const struct json *obj, const char *name)
{
    const struct json *m = lq_json_member(obj, name);
    return m && m->type == JSON_STRING ? json_string(m) : NULL;
}

int64_t
lq_json_member_int(const struct json *obj, const char *name)
{
    const struct json *m = lq_json_member(obj, name);
    return m && m->type == JSON_INTEGER ? json_integer(m) : 0;
}

static struct lq_error *
type_error(const char *camel, const char *expected, const struct json *v)
{
    return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected %s, got %s",
                        camel, expected, json_type_to_string(v->type));
}

struct lq_error *
lq_json_get_string(const struct json *obj, const char *camel,
                   const char **out)
{
    const struct json *v = lq_json_field(obj, camel);
    if (!v) {
        return NULL;
    }
    if (v->type != JSON_STRING) {
        return type_error(camel, "a string", v);
    }
    *out = json_string(v);
    return NULL;
}

struct lq_error *
lq_json_get_bool(const struct json *obj, const char *camel, bool *out)
{
    const struct json *v = lq_json_field(obj, camel);
    if (!v) {
        return NULL;
    }
    if (v->type != JSON_TRUE && v->type != JSON_FALSE) {
        return type_error(camel, "true or false", v);
    }
    *out = v->type == JSON_TRUE;
    return NULL;
}

/* proto3 accepts integers as JSON numbers or decimal strings. */
static struct lq_error *
get_integer(const struct json *obj, const char *camel, long long min,
            long long max, long long *out, bool *present)
{
    const struct json *v = lq_json_field(obj, camel);
    long long value;

    *present = v != NULL;
    if (!v) {
        return NULL;
    }
    if (v->type == JSON_INTEGER) {
        value = json_integer(v);
    } else if (v->type == JSON_REAL && json_real(v) == floor(json_real(v))
               && fabs(json_real(v)) < 9.2e18) {
        value = json_real(v);
    } else if (v->type == JSON_STRING) {
        const char *s = json_string(v);
        char *end;
        errno = 0;
        value = strtoll(s, &end, 10);
        if (errno || end == s || *end) {
            return lq_error_new(LQ_INVALID_ARGUMENT,
                                "%s: expected an integer, got \"%s\"",
                                camel, s);
        }
    } else {
        return type_error(camel, "an integer", v);
    }
    if (value < min || value > max) {
        return lq_error_new(LQ_INVALID_ARGUMENT,
                            "%s: %lld is out of range %lld..%lld",
                            camel, value, min, max);
    }
    *out = value;
    return NULL;
}

struct lq_error *
lq_json_get_int64(const struct json *obj, const char *camel, int64_t *out)
{
    long long v;
    bool present;
    struct lq_error *e = get_integer(obj, camel, INT64_MIN, INT64_MAX, &v,
                                     &present);
    if (!e && present) {
        *out = v;
    }
    return e;
}

struct lq_error *
lq_json_get_uint32(const struct json *obj, const char *camel, uint32_t *out)
{
    long long v;
    bool present;
    struct lq_error *e = get_integer(obj, camel, 0, UINT32_MAX, &v, &present);
    if (!e && present) {
        *out = v;
    }
    return e;
}

struct lq_error *
lq_json_get_double(const struct json *obj, const char *camel, double *out)
{
    const struct json *v = lq_json_field(obj, camel);
    if (!v) {
        return NULL;
    }
    if (v->type == JSON_INTEGER) {
        *out = json_integer(v);
    } else if (v->type == JSON_REAL) {
        *out = json_real(v);
    } else {
        return type_error(camel, "a number", v);
    }
    return NULL;
}

void
lq_json_put_string(struct json *obj, const char *camel, const char *s)
{
    json_object_put_string(obj, camel, s ? s : "");
}

void
lq_json_put_bool(struct json *obj, const char *camel, bool b)
{
    json_object_put(obj, camel, json_boolean_create(b));
}

void
lq_json_put_uint32(struct json *obj, const char *camel, uint32_t v)
{
    json_object_put(obj, camel, json_integer_create(v));
}

void
lq_json_put_int64(struct json *obj, const char *camel, int64_t v)
{
    json_object_put_format(obj, camel, "%"PRId64, v);
}

void
lq_json_put_uint64(struct json *obj, const char *camel, uint64_t v)
{
    json_object_put_format(obj, camel, "%"PRIu64, v);
}

void
lq_json_put_double(struct json *obj, const char *camel, double v)
{
    json_object_put(obj, camel, json_real_create(v));
}

void
lq_json_put_timestamp_ms(struct json *obj, const char *camel, int64_t ms)
{
    time_t secs = ms / 1000;
    struct tm tm;
    char ts[64];
    gmtime_r(&secs, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int) (ms % 1000));
    json_object_put_string(obj, camel, ts);
}

char *
lq_json_to_string(const struct json *json)
{
    return json_to_string(json, JSSF_SORT);
}
