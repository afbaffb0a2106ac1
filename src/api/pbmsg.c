/* pbmsg.c: building protobuf-c messages (see pbmsg.h). */
#include <config.h>
#include "pbmsg.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "google_protobuf_timestamp.pb-c.h"

void *
lq_pb_new(const ProtobufCMessageDescriptor *desc)
{
    void *msg = xmalloc(desc->sizeof_message);
    protobuf_c_message_init(desc, msg);
    return msg;
}

char *
lq_pb_str(const char *s)
{
    return s && *s ? xstrdup(s) : (char *) protobuf_c_empty_string;
}

char **
lq_pb_strv(char *const *strings, size_t n)
{
    char **v = lq_pb_array(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = lq_pb_str(strings[i]);
    }
    return v;
}

void *
lq_pb_array(size_t n, size_t size)
{
    return n ? xcalloc(n, size) : NULL;
}

ProtobufCMessage *
lq_pb_map_entry(const ProtobufCMessageDescriptor *entry, const char *key,
                const char *value)
{
    ovs_assert(entry->n_fields == 2
               && entry->fields[0].type == PROTOBUF_C_TYPE_STRING
               && entry->fields[1].type == PROTOBUF_C_TYPE_STRING);
    ProtobufCMessage *m = lq_pb_new(entry);
    *(char **) ((char *) m + entry->fields[0].offset) = lq_pb_str(key);
    *(char **) ((char *) m + entry->fields[1].offset) = lq_pb_str(value);
    return m;
}

void
lq_pb_list_add(struct lq_pb_list *l, void *msg)
{
    if (l->n == l->allocated) {
        l->msgs = x2nrealloc(l->msgs, &l->allocated, sizeof *l->msgs);
    }
    l->msgs[l->n++] = msg;
}

void
lq_pb_list_clear(struct lq_pb_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        protobuf_c_message_free_unpacked(l->msgs[i], NULL);
    }
    free(l->msgs);
    l->msgs = NULL;
    l->n = l->allocated = 0;
}

ProtobufCMessage *
lq_pb_timestamp_ms(int64_t ms)
{
    Google__Protobuf__Timestamp *t
        = lq_pb_new(&google__protobuf__timestamp__descriptor);
    int64_t s = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        s--;
        rem += 1000;
    }
    t->seconds = s;
    t->nanos = rem * 1000000;
    return &t->base;
}
