/* pbmsg.h: building protobuf-c messages (replies of typed handlers).
 *
 * Every part is malloc'ed, exactly as protobuf-c's unpacker allocates, so
 * protobuf_c_message_free_unpacked(msg, NULL) frees a message built here
 * whole: strings are copies (or protobuf-c's shared empty string, which it
 * never frees), repeated fields malloc'ed arrays, sub-messages lq_pb_new(). */
#ifndef LQ_PBMSG_H
#define LQ_PBMSG_H 1

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* A new, initialized message of 'desc' (all defaults). */
void *lq_pb_new(const ProtobufCMessageDescriptor *desc);

/* A string field's value: a copy of 's', or the empty string for NULL. */
char *lq_pb_str(const char *s);

/* A repeated string field: copies of strings[0 .. n-1] (NULL when n = 0). */
char **lq_pb_strv(char *const *strings, size_t n);

/* An array for 'n' repeated values of 'size' bytes, zeroed (NULL when
 * n = 0, as protobuf-c leaves an empty repeated field). */
void *lq_pb_array(size_t n, size_t size);

/* A map<string, string> entry of the map field whose entry message is
 * 'entry' (protoc's XxxEntry {key = 1; value = 2}). */
ProtobufCMessage *lq_pb_map_entry(const ProtobufCMessageDescriptor *entry,
                                  const char *key, const char *value);

/* Messages a server stream has ready (rpc.h), owned by the list. */
struct lq_pb_list {
    ProtobufCMessage **msgs;
    size_t n, allocated;
};
#define LQ_PB_LIST_INITIALIZER { NULL, 0, 0 }
void lq_pb_list_add(struct lq_pb_list *, void *msg);
/* Frees every message and the array. */
void lq_pb_list_clear(struct lq_pb_list *);

/* A google.protobuf.Timestamp of 'ms' milliseconds since the epoch. */
struct ProtobufCMessage *lq_pb_timestamp_ms(int64_t ms);

#endif
