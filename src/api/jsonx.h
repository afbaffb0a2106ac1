/* jsonx.h: proto3-JSON helpers over OVS's JSON library.
 *
 * OVS's lib/json is already linked for the OVSDB IDL, so it is the project's
 * one JSON library.  These helpers add what proto3's JSON mapping needs:
 * fields are looked up by lowerCamelCase name and also by the original
 * snake_case name; 64-bit integers are written as strings and read from
 * either strings or numbers; every type error names the field. */
#ifndef LQ_JSONX_H
#define LQ_JSONX_H 1

#include <stdbool.h>
#include <stdint.h>
#include "limiquantix/error.h"
#include "openvswitch/json.h"

/* Parses 'len' bytes of 'text' as a JSON object; an empty body is {}. */
struct lq_error *lq_json_parse_object(const char *text, size_t len,
                                      struct json **objp);

/* The value of field 'camel' (or its snake_case twin) in 'obj', or NULL if
 * absent or JSON null (proto3: null means "default"). */
const struct json *lq_json_field(const struct json *obj, const char *camel);

/* For JSON we wrote ourselves or a tool printed (metadata files, qemu-img
 * output): member 'name' exactly, and its string or integer value, NULL /
 * 0 if absent or of another type. */
const struct json *lq_json_member(const struct json *obj, const char *name);
const char *lq_json_member_string(const struct json *obj, const char *name);
int64_t lq_json_member_int(const struct json *obj, const char *name);

/* Typed getters: leave '*out' unchanged when the field is absent, and return
 * an invalid_argument error naming the field when the type is wrong. */
struct lq_error *lq_json_get_string(const struct json *obj, const char *camel,
                                    const char **out);
struct lq_error *lq_json_get_bool(const struct json *obj, const char *camel,
                                  bool *out);
struct lq_error *lq_json_get_int64(const struct json *obj, const char *camel,
                                   int64_t *out);
struct lq_error *lq_json_get_uint32(const struct json *obj, const char *camel,
                                    uint32_t *out);
struct lq_error *lq_json_get_double(const struct json *obj, const char *camel,
                                    double *out);

/* Writers (proto3 mapping: 64-bit integers as decimal strings). */
void lq_json_put_string(struct json *obj, const char *camel, const char *);
void lq_json_put_bool(struct json *obj, const char *camel, bool);
void lq_json_put_uint32(struct json *obj, const char *camel, uint32_t);
void lq_json_put_int64(struct json *obj, const char *camel, int64_t);
void lq_json_put_uint64(struct json *obj, const char *camel, uint64_t);
void lq_json_put_double(struct json *obj, const char *camel, double);
/* A google.protobuf.Timestamp from Unix milliseconds (RFC 3339, UTC). */
void lq_json_put_timestamp_ms(struct json *obj, const char *camel,
                              int64_t ms);

/* "managementIp" -> "management_ip".  Caller frees. */
char *lq_json_camel_to_snake(const char *camel);

/* Serializes compactly with keys sorted (stable output).  Caller frees. */
char *lq_json_to_string(const struct json *);

#endif /* jsonx.h */
