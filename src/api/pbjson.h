/* pbjson.h: the proto3 JSON mapping, over protobuf-c's descriptors.
 *
 * One mapping for every message of the contract (proto/), driven by the
 * descriptors protoc-c generates at build time, so no message has a
 * hand-written JSON shape:
 * - out: lowerCamelCase names, fields at their default value left out
 *   (unless proto3 `optional` and set), enums by name, 64-bit integers as
 *   decimal strings, bytes as base64, maps as objects,
 *   google.protobuf.Timestamp as RFC 3339 text, google.protobuf.Empty {},
 *   FieldMask as "lowerCamel,paths", the wrappers (BoolValue, ...) as
 *   their plain value;
 * - in: both the lowerCamelCase and the proto field name, enums by name or
 *   number (a number the enum does not define is refused), integers as
 *   numbers or strings, null as the default; errors are invalid_argument
 *   and name the field path ("spec.disks[0].bus: ...").
 * Messages built here are freed with protobuf_c_message_free_unpacked(msg,
 * NULL).  docs/proto.md says how the mapping is tested. */
#ifndef LQ_PBJSON_H
#define LQ_PBJSON_H 1

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include "limiquantix/error.h"

struct json;

/* A new JSON object for 'msg'.  Caller frees with json_destroy(). */
struct json *lq_pb_to_json(const ProtobufCMessage *msg);

enum {
    /* In: fields the descriptor does not know are skipped instead of
     * refused (for our own replies, whose JSON may carry more than the
     * contract). */
    LQ_PB_IGNORE_UNKNOWN = 1 << 0,
    /* Out: fields at their default are written too (0, "", false, the
     * zero enum name, [] and {}), as protojson's EmitDefaultValues does;
     * unset sub-messages, oneofs and proto3 `optional` fields still are
     * not.  Our JSON replies: every field a reader looks for is there. */
    LQ_PB_EMIT_DEFAULTS = 1 << 1,
};

/* lq_pb_to_json() with LQ_PB_EMIT_DEFAULTS or 0. */
struct json *lq_pb_to_json_flags(const ProtobufCMessage *msg,
                                 unsigned int flags);

/* Parses 'json' (an object) as a 'desc' message into '*msgp'. */
struct lq_error *lq_pb_from_json(const ProtobufCMessageDescriptor *desc,
                                 const struct json *json, unsigned int flags,
                                 ProtobufCMessage **msgp);

/* "spec.firmware: expected FIRMWARE_BIOS or FIRMWARE_UEFI (a Firmware name
 * or number), not GOT": the one error for a value 'ed' lacks, from JSON
 * here and from binary in the handlers (proto3 enums are open, so the
 * binary decoder lets undefined numbers through). */
struct lq_error *lq_pb_enum_error(const ProtobufCEnumDescriptor *ed,
                                  const char *path, const char *got);

/* Checks what the binary decoder does not: every string of 'msg' (nested
 * ones included) is valid UTF-8, as proto3 requires. */
struct lq_error *lq_pb_check_utf8(const ProtobufCMessage *msg);

/* The contract's method SERVICE/METHOD ("limiquantix.node.v1.
 * NodeDaemonService", "HealthCheck"), or NULL if proto/ has none. */
const ProtobufCMethodDescriptor *lq_pb_find_method(const char *service,
                                                   const char *method);

#endif
