/* pbjson.c: proto3 JSON <-> protobuf-c messages (see pbjson.h).
 *
 * Design decisions:
 * - Reflection over ProtobufCFieldDescriptor (offset, quantifier_offset,
 *   label, type) rather than generated per-message code: one mapping,
 *   identical for every message, and a new .proto field needs no C.
 * - protobuf-c has no notion of map fields or json_name: a map is a
 *   repeated "XxxEntry" message with fields key = 1 and value = 2 (what
 *   protoc emits for map<>), and the JSON name is the proto3 default
 *   (lowerCamelCase of the field name).
 * - Everything allocated here uses malloc, so that
 *   protobuf_c_message_free_unpacked(msg, NULL) frees a message we built
 *   exactly as one protobuf-c unpacked. */
#include <config.h>
#include "pbjson.h"

#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/shash.h"
#include "util.h"

#include "google_protobuf_field_mask.pb-c.h"
#include "limiquantix_compute_v1_node_service.pb-c.h"
#include "limiquantix_network_v1_network.pb-c.h"
#include "limiquantix_node_v1_node_daemon.pb-c.h"
#include "limiquantix_storage_v1_storage.pb-c.h"

#define MEMBER(type, msg, offset) (*(type *) ((char *) (msg) + (offset)))

/* ---- Names and kinds ------------------------------------------------------ */

static char *
json_name(const char *field)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    bool upper = false;
    for (const char *p = field; *p; p++) {
        if (*p == '_') {
            upper = true;
        } else {
            ds_put_char(&s, upper ? toupper((unsigned char) *p) : *p);
            upper = false;
        }
    }
    return ds_steal_cstr(&s);
}

static bool
is_map_entry(const ProtobufCFieldDescriptor *f)
{
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t n = d ? strlen(d->name) : 0;
    return f->type == PROTOBUF_C_TYPE_MESSAGE
           && f->label == PROTOBUF_C_LABEL_REPEATED
           && n > 5 && !strcmp(d->name + n - 5, "Entry")
           && d->n_fields == 2 && d->fields[0].id == 1
           && d->fields[1].id == 2 && !strcmp(d->fields[0].name, "key")
           && !strcmp(d->fields[1].name, "value");
}

static bool
is_wkt(const ProtobufCMessageDescriptor *d, const char *name)
{
    return d && !strcmp(d->name, name);
}

/* google.protobuf.BoolValue, StringValue, Int32Value, ...: in JSON the
 * wrapped value itself (and null for "not set"). */
static bool
is_wrapper(const ProtobufCMessageDescriptor *d)
{
    size_t n = d ? strlen(d->name) : 0;
    return d && !strcmp(d->package_name, "google.protobuf")
           && n > 5 && !strcmp(d->name + n - 5, "Value")
           && d->n_fields == 1 && d->fields[0].id == 1
           && !strcmp(d->fields[0].name, "value");
}

static size_t
value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
    default:
        return sizeof(void *);
    }
}

/* ---- Message -> JSON -------------------------------------------------------- */

static struct json *message_to_json(const ProtobufCMessage *, unsigned int);

static struct json *
timestamp_to_json(const ProtobufCMessage *m)
{
    const Google__Protobuf__Timestamp *t = (const void *) m;
    time_t secs = t->seconds;
    struct tm tm;
    char buf[64];
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    /* 0, 3, 6 or 9 fractional digits, as protojson writes them. */
    if (t->nanos % 1000000 == 0 && t->nanos) {
        snprintf(buf + n, sizeof buf - n, ".%03"PRId32"Z", t->nanos / 1000000);
    } else if (t->nanos % 1000 == 0 && t->nanos) {
        snprintf(buf + n, sizeof buf - n, ".%06"PRId32"Z", t->nanos / 1000);
    } else if (t->nanos) {
        snprintf(buf + n, sizeof buf - n, ".%09"PRId32"Z", t->nanos);
    } else {
        snprintf(buf + n, sizeof buf - n, "Z");
    }
    return json_string_create(buf);
}

static struct json *
bytes_to_json(const ProtobufCBinaryData *b)
{
    gnutls_datum_t in = { b->data, b->len }, out = { NULL, 0 };
    if (!b->len || gnutls_base64_encode2(&in, &out) < 0) {
        return json_string_create("");
    }
    char *s = xmemdup0((char *) out.data, out.size);
    gnutls_free(out.data);
    return json_string_create_nocopy(s);
}

/* "paths": ["dns_name", "port_security_enabled"] is "dnsName,
 * portSecurityEnabled" in JSON. */
static struct json *
field_mask_to_json(const ProtobufCMessage *m)
{
    const Google__Protobuf__FieldMask *fm = (const void *) m;
    struct ds s = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < fm->n_paths; i++) {
        char *name = json_name(fm->paths[i]);
        ds_put_format(&s, "%s%s", i ? "," : "", name);
        free(name);
    }
    return json_string_create_nocopy(ds_steal_cstr(&s));
}

static struct json *value_to_json(const ProtobufCFieldDescriptor *,
                                  const void *, unsigned int);

/* One value at 'p' of field 'f'. */
static struct json *
value_to_json(const ProtobufCFieldDescriptor *f, const void *p,
              unsigned int flags)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer_create(*(const int32_t *) p);
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        return json_integer_create(*(const uint32_t *) p);
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_string_create_nocopy(xasprintf("%"PRId64,
                                                   *(const int64_t *) p));
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return json_string_create_nocopy(xasprintf("%"PRIu64,
                                                   *(const uint64_t *) p));
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double d = f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *) p
                                                    : *(const double *) p;
        return isnan(d) ? json_string_create("NaN")
               : isinf(d) ? json_string_create(d > 0 ? "Infinity"
                                                     : "-Infinity")
               : json_real_create(d);
    }
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean_create(*(const protobuf_c_boolean *) p);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *) p;
        const ProtobufCEnumValue *ev
            = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        return ev ? json_string_create(ev->name) : json_integer_create(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) p;
        return json_string_create(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES:
        return bytes_to_json(p);
    case PROTOBUF_C_TYPE_MESSAGE:
    default: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *) p;
        const ProtobufCMessageDescriptor *d = f->descriptor;
        if (is_wkt(d, "google.protobuf.Timestamp")) {
            return timestamp_to_json(m);
        }
        if (is_wkt(d, "google.protobuf.FieldMask")) {
            return field_mask_to_json(m);
        }
        if (is_wrapper(d)) {
            return value_to_json(&d->fields[0],
                                 (const char *) m + d->fields[0].offset,
                                 flags);
        }
        return message_to_json(m, flags);
    }
    }
}

/* Is the singular field at 'p' at its proto3 default (left out)? */
static bool
is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return !((const ProtobufCBinaryData *) p)->len;
    case PROTOBUF_C_TYPE_MESSAGE:
        return !*(void *const *) p;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *) p == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *) p == 0;
    default: {
        static const char zero[8];
        return !memcmp(p, zero, value_size(f));
    }
    }
}

/* Is field 'f' present in 'm' (what a JSON encoder writes)? */
static bool
field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const void *p = (const char *) m + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        return MEMBER(uint32_t, m, f->quantifier_offset) == f->id;
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (f->type == PROTOBUF_C_TYPE_STRING
            || f->type == PROTOBUF_C_TYPE_MESSAGE) {
            return *(void *const *) p != NULL;
        }
        return MEMBER(protobuf_c_boolean, m, f->quantifier_offset);
    }
    return !is_default(f, p);
}

static struct json *
map_to_json(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m,
            unsigned int flags)
{
    struct json *obj = json_object_create();
    size_t n = MEMBER(size_t, m, f->quantifier_offset);
    ProtobufCMessage **entries = MEMBER(ProtobufCMessage **, m, f->offset);
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    for (size_t i = 0; i < n; i++) {
        const ProtobufCFieldDescriptor *kf = &ed->fields[0];
        const ProtobufCFieldDescriptor *vf = &ed->fields[1];
        struct json *k = value_to_json(kf, (char *) entries[i] + kf->offset,
                                       flags);
        char *key = k->type == JSON_STRING ? xstrdup(json_string(k))
                    : json_to_string(k, 0);
        json_destroy(k);
        json_object_put(obj, key,
                        value_to_json(vf, (char *) entries[i] + vf->offset,
                                      flags));
        free(key);
    }
    return obj;
}

static struct json *
message_to_json(const ProtobufCMessage *m, unsigned int flags)
{
    bool all = flags & LQ_PB_EMIT_DEFAULTS;
    struct json *obj = json_object_create();
    if (!m) {
        return obj;
    }
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        struct json *v = NULL;
        if (is_map_entry(f)) {
            v = MEMBER(size_t, m, f->quantifier_offset) || all
                ? map_to_json(f, m, flags) : NULL;
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = MEMBER(size_t, m, f->quantifier_offset);
            if (n || all) {
                const char *arr = MEMBER(const char *, m, f->offset);
                v = json_array_create_empty();
                for (size_t j = 0; j < n; j++) {
                    json_array_add(v, value_to_json(f, arr
                                                    + j * value_size(f),
                                                    flags));
                }
            }
        } else if (field_present(m, f)
                   || (all && f->type != PROTOBUF_C_TYPE_MESSAGE
                       && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                       && f->label != PROTOBUF_C_LABEL_OPTIONAL)) {
            v = value_to_json(f, (const char *) m + f->offset, flags);
        }
        if (v) {
            char *name = json_name(f->name);
            json_object_put(obj, name, v);
            free(name);
        }
    }
    return obj;
}

struct json *
lq_pb_to_json(const ProtobufCMessage *msg)
{
    return message_to_json(msg, 0);
}

struct json *
lq_pb_to_json_flags(const ProtobufCMessage *msg, unsigned int flags)
{
    return message_to_json(msg, flags);
}

/* ---- JSON -> message -------------------------------------------------------- */

static struct lq_error * __attribute__((format(printf, 2, 3)))
bad(const char *path, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *msg = xvasprintf(format, args);
    va_end(args);
    struct lq_error *e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: %s", path,
                                      msg);
    free(msg);
    return e;
}

static struct lq_error *message_from_json(const ProtobufCMessageDescriptor *,
                                          const struct json *,
                                          unsigned int flags,
                                          const char *path,
                                          ProtobufCMessage **);

/* An integer from a JSON number or decimal string, within [min, max]
 * (signed) or [0, umax] (unsigned). */
static struct lq_error *
parse_integer(const struct json *j, const char *path, bool is_signed,
              int64_t min, int64_t max, uint64_t umax, int64_t *sv,
              uint64_t *uv)
{
    if (j->type == JSON_INTEGER) {
        long long v = j->integer;
        if (is_signed ? v < min || v > max : v < 0 || (uint64_t) v > umax) {
            return bad(path, "%lld is out of range", v);
        }
        *sv = v;
        *uv = v;
        return NULL;
    }
    if (j->type == JSON_REAL && j->real == floor(j->real)
        && fabs(j->real) < 9e15) {
        struct json tmp = { .type = JSON_INTEGER,
                            .integer = (long long) j->real };
        return parse_integer(&tmp, path, is_signed, min, max, umax, sv, uv);
    }
    if (j->type != JSON_STRING) {
        return bad(path, "expected an integer");
    }
    const char *s = json_string(j);
    char *end;
    errno = 0;
    if (is_signed) {
        long long v = strtoll(s, &end, 10);
        if (!*s || *end || errno || v < min || v > max) {
            return bad(path, "\"%s\" is not an integer in range", s);
        }
        *sv = v;
        *uv = v;
    } else {
        unsigned long long v = strtoull(s, &end, 10);
        if (!*s || *end || errno || *s == '-' || v > umax) {
            return bad(path, "\"%s\" is not an unsigned integer in range",
                       s);
        }
        *sv = v;
        *uv = v;
    }
    return NULL;
}

struct lq_error *
lq_pb_enum_error(const ProtobufCEnumDescriptor *ed, const char *path,
                 const char *got)
{
    struct ds names = DS_EMPTY_INITIALIZER;
    for (unsigned i = 0; i < ed->n_values; i++) {
        ds_put_format(&names, "%s%s", !i ? "" : i + 1 < ed->n_values
                      ? ", " : " or ", ed->values[i].name);
    }
    struct lq_error *e = bad(path, "expected %s (a %s name or number), not "
                             "%s", ds_cstr(&names), ed->short_name, got);
    ds_destroy(&names);
    return e;
}

static struct lq_error *
parse_enum(const ProtobufCFieldDescriptor *f, const struct json *j,
           const char *path, int *out)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    const ProtobufCEnumValue *v = NULL;
    if (j->type == JSON_STRING) {
        v = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string(j));
    } else if (j->type == JSON_INTEGER && j->integer >= INT32_MIN
               && j->integer <= INT32_MAX) {
        v = protobuf_c_enum_descriptor_get_value(ed, j->integer);
    }
    if (v) {
        *out = v->value;
        return NULL;
    }
    char *got = json_to_string(j, 0);
    struct lq_error *e = lq_pb_enum_error(ed, path, got);
    free(got);
    return e;
}

static struct lq_error *
parse_double(const struct json *j, const char *path, double *out)
{
    if (j->type == JSON_INTEGER) {
        *out = j->integer;
    } else if (j->type == JSON_REAL) {
        *out = j->real;
    } else if (j->type == JSON_STRING && !strcmp(json_string(j), "NaN")) {
        *out = NAN;
    } else if (j->type == JSON_STRING
               && !strcmp(json_string(j), "Infinity")) {
        *out = INFINITY;
    } else if (j->type == JSON_STRING
               && !strcmp(json_string(j), "-Infinity")) {
        *out = -INFINITY;
    } else {
        return bad(path, "expected a number");
    }
    return NULL;
}

static struct lq_error *
parse_timestamp(const struct json *j, const char *path,
                ProtobufCMessage **out)
{
    if (j->type != JSON_STRING) {
        return bad(path, "expected an RFC 3339 timestamp");
    }
    const char *s = json_string(j);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    int32_t nanos = 0;
    if (rest && *rest == '.') {
        rest++;
        int digits = 0;
        while (isdigit((unsigned char) *rest) && digits < 9) {
            nanos = nanos * 10 + (*rest++ - '0');
            digits++;
        }
        if (!digits || isdigit((unsigned char) *rest)) {
            rest = NULL;
        }
        while (rest && digits++ < 9) {
            nanos *= 10;
        }
    }
    if (!rest || strcmp(rest, "Z")) {
        return bad(path, "\"%s\" is not an RFC 3339 UTC timestamp "
                   "(YYYY-MM-DDTHH:MM:SS[.fffffffff]Z)", s);
    }
    Google__Protobuf__Timestamp *t = xmalloc(sizeof *t);
    google__protobuf__timestamp__init(t);
    t->seconds = timegm(&tm);
    t->nanos = nanos;
    *out = &t->base;
    return NULL;
}

static struct lq_error *
parse_bytes(const struct json *j, const char *path, ProtobufCBinaryData *out)
{
    if (j->type != JSON_STRING) {
        return bad(path, "expected base64 text");
    }
    /* Accept the URL-safe alphabet too, as proto3 JSON parsers do. */
    char *s = xstrdup(json_string(j));
    for (char *p = s; *p; p++) {
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    }
    gnutls_datum_t in = { (unsigned char *) s, strlen(s) }, dec = { 0, 0 };
    int r = in.size ? gnutls_base64_decode2(&in, &dec) : 0;
    free(s);
    if (r < 0) {
        return bad(path, "not base64");
    }
    out->len = dec.size;
    out->data = dec.size ? xmemdup(dec.data, dec.size) : NULL;
    gnutls_free(dec.data);
    return NULL;
}

/* "dnsName,portSecurityEnabled" as the paths "dns_name" and
 * "port_security_enabled". */
static struct lq_error *
parse_field_mask(const struct json *j, const char *path,
                 ProtobufCMessage **out)
{
    if (j->type != JSON_STRING) {
        return bad(path, "expected field paths separated by commas");
    }
    Google__Protobuf__FieldMask *fm = xmalloc(sizeof *fm);
    google__protobuf__field_mask__init(fm);
    *out = &fm->base;
    char *copy = xstrdup(json_string(j)), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        struct ds snake = DS_EMPTY_INITIALIZER;
        for (const char *c = t; *c; c++) {
            if (isupper((unsigned char) *c)) {
                ds_put_format(&snake, "_%c", tolower((unsigned char) *c));
            } else {
                ds_put_char(&snake, *c);
            }
        }
        fm->paths = xrealloc(fm->paths, (fm->n_paths + 1)
                             * sizeof *fm->paths);
        fm->paths[fm->n_paths++] = ds_steal_cstr(&snake);
    }
    free(copy);
    return NULL;
}

static struct lq_error *value_from_json(const ProtobufCFieldDescriptor *,
                                        const struct json *, unsigned int,
                                        const char *, void *);

static struct lq_error *
parse_wrapper(const ProtobufCMessageDescriptor *d, const struct json *j,
              const char *path, ProtobufCMessage **out)
{
    ProtobufCMessage *m = xmalloc(d->sizeof_message);
    d->message_init(m);
    *out = m;
    const ProtobufCFieldDescriptor *f = &d->fields[0];
    void *p = (char *) m + f->offset;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        *(char **) p = NULL;        /* Not the static default. */
    }
    return value_from_json(f, j, 0, path, p);
}

/* Parses one value of field 'f' into 'p'. */
static struct lq_error *
value_from_json(const ProtobufCFieldDescriptor *f, const struct json *j,
                unsigned int flags, const char *path, void *p)
{
    int64_t sv;
    uint64_t uv;
    struct lq_error *e = NULL;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        e = parse_integer(j, path, true, INT32_MIN, INT32_MAX, 0, &sv, &uv);
        if (!e) {
            *(int32_t *) p = sv;
        }
        return e;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        e = parse_integer(j, path, false, 0, 0, UINT32_MAX, &sv, &uv);
        if (!e) {
            *(uint32_t *) p = uv;
        }
        return e;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        e = parse_integer(j, path, true, INT64_MIN, INT64_MAX, 0, &sv, &uv);
        if (!e) {
            *(int64_t *) p = sv;
        }
        return e;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        e = parse_integer(j, path, false, 0, 0, UINT64_MAX, &sv, &uv);
        if (!e) {
            *(uint64_t *) p = uv;
        }
        return e;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double d = 0;
        e = parse_double(j, path, &d);
        if (!e && f->type == PROTOBUF_C_TYPE_FLOAT) {
            *(float *) p = d;
        } else if (!e) {
            *(double *) p = d;
        }
        return e;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (j->type != JSON_TRUE && j->type != JSON_FALSE) {
            return bad(path, "expected true or false");
        }
        *(protobuf_c_boolean *) p = j->type == JSON_TRUE;
        return NULL;
    case PROTOBUF_C_TYPE_ENUM:
        return parse_enum(f, j, path, p);
    case PROTOBUF_C_TYPE_STRING:
        if (j->type != JSON_STRING) {
            return bad(path, "expected a string");
        }
        *(char **) p = xstrdup(json_string(j));
        return NULL;
    case PROTOBUF_C_TYPE_BYTES:
        return parse_bytes(j, path, p);
    case PROTOBUF_C_TYPE_MESSAGE:
    default:
        if (is_wkt(f->descriptor, "google.protobuf.Timestamp")) {
            return parse_timestamp(j, path, p);
        }
        if (is_wkt(f->descriptor, "google.protobuf.FieldMask")) {
            return parse_field_mask(j, path, p);
        }
        if (is_wrapper(f->descriptor)) {
            return parse_wrapper(f->descriptor, j, path, p);
        }
        return message_from_json(f->descriptor, j, flags, path, p);
    }
}

/* A map key (always a JSON string) as the key field's value. */
static struct lq_error *
map_key_from_text(const ProtobufCFieldDescriptor *kf, const char *key,
                  const char *path, void *p)
{
    if (kf->type == PROTOBUF_C_TYPE_STRING) {
        *(char **) p = xstrdup(key);
        return NULL;
    }
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") && strcmp(key, "false")) {
            return bad(path, "map key \"%s\" is not a bool", key);
        }
        *(protobuf_c_boolean *) p = !strcmp(key, "true");
        return NULL;
    }
    struct json *k = json_string_create(key);
    struct lq_error *e = value_from_json(kf, k, 0, path, p);
    json_destroy(k);
    return e;
}

static struct lq_error *
map_from_json(const ProtobufCFieldDescriptor *f, const struct json *j,
              unsigned int flags, const char *path, ProtobufCMessage *m)
{
    if (j->type != JSON_OBJECT) {
        return bad(path, "expected an object");
    }
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    size_t n = shash_count(json_object(j)), i = 0;
    ProtobufCMessage **entries = xcalloc(n ? n : 1, sizeof *entries);
    MEMBER(ProtobufCMessage **, m, f->offset) = entries;
    struct shash_node *node;
    SHASH_FOR_EACH (node, json_object(j)) {
        ProtobufCMessage *entry = xmalloc(ed->sizeof_message);
        ed->message_init(entry);
        entries[i++] = entry;
        MEMBER(size_t, m, f->quantifier_offset) = i;
        char *epath = xasprintf("%s.%s", path, node->name);
        struct lq_error *e = map_key_from_text(&ed->fields[0], node->name,
                                               epath,
                                               (char *) entry
                                               + ed->fields[0].offset);
        if (!e) {
            e = value_from_json(&ed->fields[1], node->data, flags, epath,
                                (char *) entry + ed->fields[1].offset);
        }
        free(epath);
        if (e) {
            return e;
        }
    }
    return NULL;
}

static struct lq_error *
repeated_from_json(const ProtobufCFieldDescriptor *f, const struct json *j,
                   unsigned int flags, const char *path, ProtobufCMessage *m)
{
    if (j->type != JSON_ARRAY) {
        return bad(path, "expected an array");
    }
    const struct json_array *a = json_array(j);
    size_t size = value_size(f);
    char *arr = xcalloc(a->n ? a->n : 1, size);
    MEMBER(char *, m, f->offset) = arr;
    for (size_t i = 0; i < a->n; i++) {
        char *epath = xasprintf("%s[%zu]", path, i);
        /* Counted first: a half-parsed element is freed with the rest. */
        MEMBER(size_t, m, f->quantifier_offset) = i + 1;
        struct lq_error *e = a->elems[i]->type == JSON_NULL
            ? bad(epath, "null is not a value")
            : value_from_json(f, a->elems[i], flags, epath, arr + i * size);
        free(epath);
        if (e) {
            return e;
        }
    }
    return NULL;
}

static const ProtobufCFieldDescriptor *
find_field(const ProtobufCMessageDescriptor *d, const char *name)
{
    const ProtobufCFieldDescriptor *f
        = protobuf_c_message_descriptor_get_field_by_name(d, name);
    for (unsigned i = 0; !f && i < d->n_fields; i++) {
        char *jn = json_name(d->fields[i].name);
        if (!strcmp(jn, name)) {
            f = &d->fields[i];
        }
        free(jn);
    }
    return f;
}

static struct lq_error *
field_from_json(const ProtobufCFieldDescriptor *f, const struct json *j,
                unsigned int flags, const char *path, ProtobufCMessage *m)
{
    if (j->type == JSON_NULL) {
        return NULL;            /* The default. */
    }
    if (is_map_entry(f)) {
        return map_from_json(f, j, flags, path, m);
    }
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        return repeated_from_json(f, j, flags, path, m);
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = &MEMBER(uint32_t, m, f->quantifier_offset);
        if (*which && *which != f->id) {
            return bad(path, "another field of its oneof is set");
        }
        *which = f->id;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL
               && f->type != PROTOBUF_C_TYPE_STRING
               && f->type != PROTOBUF_C_TYPE_MESSAGE) {
        MEMBER(protobuf_c_boolean, m, f->quantifier_offset) = true;
    }
    void *p = (char *) m + f->offset;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        /* Replace the default ("" static) or a previous value. */
        char *old = *(char **) p;
        if (old && old != (const char *) f->default_value) {
            free(old);
        }
        *(char **) p = NULL;
    }
    return value_from_json(f, j, flags, path, p);
}

static struct lq_error *
message_from_json(const ProtobufCMessageDescriptor *d, const struct json *j,
                  unsigned int flags, const char *path,
                  ProtobufCMessage **msgp)
{
    ProtobufCMessage *m = xmalloc(d->sizeof_message);
    d->message_init(m);
    *msgp = m;              /* The caller frees it, also on error. */
    if (is_wkt(d, "google.protobuf.Empty") && j->type == JSON_OBJECT) {
        return NULL;
    }
    if (j->type != JSON_OBJECT) {
        return bad(path, "expected an object");
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, json_object(j)) {
        const ProtobufCFieldDescriptor *f = find_field(d, node->name);
        char *fpath = *path ? xasprintf("%s.%s", path, node->name)
                            : xstrdup(node->name);
        struct lq_error *e = NULL;
        if (!f) {
            if (!(flags & LQ_PB_IGNORE_UNKNOWN)) {
                e = bad(fpath, "unknown field of %s", d->name);
            }
        } else {
            e = field_from_json(f, node->data, flags, fpath, m);
        }
        free(fpath);
        if (e) {
            return e;
        }
    }
    return NULL;
}

struct lq_error *
lq_pb_from_json(const ProtobufCMessageDescriptor *desc,
                const struct json *json, unsigned int flags,
                ProtobufCMessage **msgp)
{
    ProtobufCMessage *m = NULL;
    struct lq_error *e = message_from_json(desc, json, flags, "", &m);
    if (e && e->message[0] == ':') {
        /* Top-level errors have no path: drop the ": " prefix. */
        char *msg = xstrdup(e->message + 2);
        free(e->message);
        e->message = msg;
    }
    if (e) {
        protobuf_c_message_free_unpacked(m, NULL);
        m = NULL;
    }
    *msgp = m;
    return e;
}

/* ---- UTF-8 ---------------------------------------------------------------- */

static bool
utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    while (*p) {
        unsigned int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1
                         : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3
                         : 4;
        if (n == 4 || (n == 1 && *p < 0xc2) || (n == 3 && *p > 0xf4)) {
            return false;
        }
        uint32_t cp = n ? *p & (0x3f >> n) : *p;
        for (unsigned int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
            || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
            return false;
        }
        p += n + 1;
    }
    return true;
}

static struct lq_error *
check_utf8(const ProtobufCMessage *m, const char *path)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING
            && f->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
        size_t n = repeated ? MEMBER(size_t, m, f->quantifier_offset) : 1;
        void *const *vals = repeated ? MEMBER(void *const *, m, f->offset)
                                     : (void *const *) ((const char *) m
                                                        + f->offset);
        for (size_t j = 0; j < n; j++) {
            if (!vals[j]) {
                continue;
            }
            char *jn = json_name(f->name);
            char *fpath = *path ? xasprintf("%s.%s", path, jn) : xstrdup(jn);
            free(jn);
            struct lq_error *e = NULL;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                if (!utf8_valid(vals[j])) {
                    e = bad(fpath, "not valid UTF-8");
                }
            } else {
                e = check_utf8(vals[j], fpath);
            }
            free(fpath);
            if (e) {
                return e;
            }
        }
    }
    return NULL;
}

struct lq_error *
lq_pb_check_utf8(const ProtobufCMessage *msg)
{
    return check_utf8(msg, "");
}

/* ---- Methods of the contract ------------------------------------------------ */

static const ProtobufCServiceDescriptor *const services[] = {
    &limiquantix__node__v1__node_daemon_service__descriptor,
    &limiquantix__compute__v1__node_service__descriptor,
    &limiquantix__network__v1__virtual_network_service__descriptor,
    &limiquantix__network__v1__port_service__descriptor,
    &limiquantix__network__v1__security_group_service__descriptor,
    &limiquantix__storage__v1__storage_pool_service__descriptor,
    &limiquantix__storage__v1__volume_service__descriptor,
};

const ProtobufCMethodDescriptor *
lq_pb_find_method(const char *service, const char *method)
{
    for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
        if (!strcmp(services[i]->name, service)) {
            return protobuf_c_service_descriptor_get_method_by_name(
                services[i], method);
        }
    }
    return NULL;
}
