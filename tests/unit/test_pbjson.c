/* The proto3 JSON mapping over protobuf-c (src/api/pbjson.c), on messages
 * of the contract itself: names, enums, 64-bit integers, maps, repeated
 * and nested messages, Timestamp, field-path errors, and agreement with
 * protobuf-c's own binary codec. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsonx.h"
#include "openvswitch/json.h"
#include "pbjson.h"
#include "util.h"

#include "limiquantix_network_v1_network.pb-c.h"
#include "limiquantix_node_v1_compute.pb-c.h"
#include "limiquantix_node_v1_node_daemon.pb-c.h"

static struct json *
parse(const char *text)
{
    struct json *j;
    struct lq_error *e = lq_json_parse_object(text, strlen(text), &j);
    if (e) {
        fail_msg("%s: %s", text, e->message);
    }
    return j;
}

/* JSON -> message -> JSON, compared as canonical text. */
static void
round_trip(const ProtobufCMessageDescriptor *d, const char *in,
           const char *expected)
{
    struct json *j = parse(in);
    ProtobufCMessage *m;
    struct lq_error *e = lq_pb_from_json(d, j, 0, &m);
    if (e) {
        fail_msg("%s: %s", in, e->message);
    }
    /* Through the binary codec too: what protobuf-c packs, it unpacks to
     * the same JSON. */
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = xmalloc(n + 1);
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *m2 = protobuf_c_message_unpack(d, NULL, n, buf);
    assert_non_null(m2);
    struct json *out = lq_pb_to_json(m), *out2 = lq_pb_to_json(m2);
    char *s = json_to_string(out, JSSF_SORT);
    char *s2 = json_to_string(out2, JSSF_SORT);
    struct json *want = parse(expected);
    char *w = json_to_string(want, JSSF_SORT);
    assert_string_equal(s, w);
    assert_string_equal(s2, w);
    free(s);
    free(s2);
    free(w);
    free(buf);
    json_destroy(j);
    json_destroy(out);
    json_destroy(out2);
    json_destroy(want);
    protobuf_c_message_free_unpacked(m, NULL);
    protobuf_c_message_free_unpacked(m2, NULL);
}

static void
expect_error(const ProtobufCMessageDescriptor *d, const char *in,
             unsigned int flags, const char *message)
{
    struct json *j = parse(in);
    ProtobufCMessage *m = (void *) 1;
    struct lq_error *e = lq_pb_from_json(d, j, flags, &m);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
    assert_null(m);
    /* A message ending in "..." is a prefix. */
    size_t n = strlen(message);
    bool prefix = n > 3 && !strcmp(message + n - 3, "...");
    if (prefix ? strncmp(e->message, message, n - 3)
               : strcmp(e->message, message)) {
        fail_msg("%s: expected \"%s\", got \"%s\"", in, message,
                 e->message);
    }
    lq_error_free(e);
    json_destroy(j);
}

static void
test_scalars_names_and_defaults(void **state)
{
    (void) state;
    const ProtobufCMessageDescriptor *d
        = &limiquantix__node__v1__health_check_response__descriptor;
    /* uint64 out as a string; false/""/0 left out; snake_case accepted. */
    round_trip(d, "{\"healthy\": true, \"version\": \"0.1\", "
               "\"hypervisor_version\": \"9.0.0\", \"uptimeSeconds\": 42, "
               "\"problems\": [\"a\", \"b\"]}",
               "{\"healthy\": true, \"version\": \"0.1\", "
               "\"hypervisorVersion\": \"9.0.0\", \"uptimeSeconds\": \"42\", "
               "\"problems\": [\"a\", \"b\"]}");
    round_trip(d, "{\"healthy\": false, \"version\": \"\", "
               "\"uptimeSeconds\": \"0\", \"hypervisor\": null}", "{}");
    round_trip(d, "{\"uptimeSeconds\": \"18446744073709551615\"}",
               "{\"uptimeSeconds\": \"18446744073709551615\"}");

    expect_error(d, "{\"uptimeSeconds\": -1}", 0,
                 "uptimeSeconds: -1 is out of range");
    expect_error(d, "{\"uptimeSeconds\": \"18446744073709551616\"}", 0,
                 "uptimeSeconds: \"18446744073709551616\" is not an unsigned "
                 "integer in range");
    expect_error(d, "{\"healthy\": 1}", 0, "healthy: expected true or false");
    expect_error(d, "{\"problems\": \"x\"}", 0, "problems: expected an array");
    expect_error(d, "{\"problems\": [1]}", 0,
                 "problems[0]: expected a string");
    expect_error(d, "{\"healty\": true}", 0,
                 "healty: unknown field of "
                 "limiquantix.node.v1.HealthCheckResponse");

    /* Our own replies may carry more than the contract: skipped. */
    struct json *j = parse("{\"healthy\": true, \"extra\": {\"x\": 1}}");
    ProtobufCMessage *m;
    assert_null(lq_pb_from_json(d, j, LQ_PB_IGNORE_UNKNOWN, &m));
    assert_true(((Limiquantix__Node__V1__HealthCheckResponse *) m)->healthy);
    protobuf_c_message_free_unpacked(m, NULL);
    json_destroy(j);
}

static void
test_enums_maps_timestamps(void **state)
{
    (void) state;
    const ProtobufCMessageDescriptor *d
        = &limiquantix__node__v1__node_event__descriptor;
    round_trip(d, "{\"id\": \"e1\", \"type\": \"EVENT_TYPE_VM_STARTED\", "
               "\"timestamp\": \"2026-12-03T08:00:00.5Z\", "
               "\"metadata\": {\"a\": \"1\", \"b\": \"2\"}, \"vm_id\": \"v\"}",
               "{\"id\": \"e1\", \"type\": \"EVENT_TYPE_VM_STARTED\", "
               "\"timestamp\": \"2026-12-03T08:00:00.500Z\", "
               "\"metadata\": {\"a\": \"1\", \"b\": \"2\"}, \"vmId\": \"v\"}");
    /* Fractions as protojson writes them: 3, 6 or 9 digits. */
    round_trip(d, "{\"timestamp\": \"2026-12-03T08:00:00.000120Z\"}",
               "{\"timestamp\": \"2026-12-03T08:00:00.000120Z\"}");
    round_trip(d, "{\"timestamp\": \"2026-12-03T08:00:00.000000001Z\"}",
               "{\"timestamp\": \"2026-12-03T08:00:00.000000001Z\"}");
    /* An enum by number; the zero value is the default (left out). */
    round_trip(d, "{\"type\": 1}", "{\"type\": \"EVENT_TYPE_VM_STARTED\"}");
    round_trip(d, "{\"type\": \"EVENT_TYPE_UNKNOWN\", "
               "\"timestamp\": \"1970-01-01T00:00:00Z\"}",
               "{\"timestamp\": \"1970-01-01T00:00:00Z\"}");

    expect_error(d, "{\"type\": \"EVENT_TYPE_NOPE\"}", 0,
                 "type: expected EVENT_TYPE_UNKNOWN, EVENT_TYPE_VM_STARTED, "
                 "...");
    expect_error(d, "{\"type\": \"EVENT_TYPE_NOPE\"}", 0,
                 "type: expected EVENT_TYPE_UNKNOWN, EVENT_TYPE_VM_STARTED, ...");
    expect_error(d, "{\"type\": 9999}", 0,
                 "type: expected EVENT_TYPE_UNKNOWN...");
    expect_error(d, "{\"timestamp\": \"yesterday\"}", 0,
                 "timestamp: \"yesterday\" is not an RFC 3339 UTC timestamp "
                 "(YYYY-MM-DDTHH:MM:SS[.fffffffff]Z)");
    expect_error(d, "{\"metadata\": {\"a\": 5}}", 0,
                 "metadata.a: expected a string");
}

static void
test_nested_paths(void **state)
{
    (void) state;
    const ProtobufCMessageDescriptor *d
        = &limiquantix__node__v1__create_vmon_node_request__descriptor;
    round_trip(d, "{\"vmId\": \"v1\", \"labels\": {\"app\": \"web\"}, "
               "\"spec\": {\"cpuCores\": 2, \"memoryMib\": \"512\", "
               "\"firmware\": \"FIRMWARE_UEFI\", "
               "\"bootOrder\": [\"BOOT_DEVICE_CDROM\", \"BOOT_DEVICE_DISK\"], "
               "\"disks\": [{\"id\": \"root\", \"sizeGib\": 10, "
               "\"bus\": \"DISK_BUS_SCSI\"}]}}",
               "{\"vmId\": \"v1\", \"labels\": {\"app\": \"web\"}, "
               "\"spec\": {\"cpuCores\": 2, \"memoryMib\": \"512\", "
               "\"firmware\": \"FIRMWARE_UEFI\", "
               "\"bootOrder\": [\"BOOT_DEVICE_CDROM\", \"BOOT_DEVICE_DISK\"], "
               "\"disks\": [{\"id\": \"root\", \"sizeGib\": \"10\", "
               "\"bus\": \"DISK_BUS_SCSI\"}]}}");
    expect_error(d, "{\"spec\": {\"disks\": [{\"id\": \"a\"}, "
                 "{\"bus\": \"FLOPPY\"}]}}", 0,
                 "spec.disks[1].bus: expected DISK_BUS_VIRTIO, DISK_BUS_SCSI, "
                 "DISK_BUS_SATA or DISK_BUS_IDE (a DiskBus name or number), "
                 "not \"FLOPPY\"");
    expect_error(d, "{\"spec\": {\"disks\": [null]}}", 0,
                 "spec.disks[0]: null is not a value");
    expect_error(d, "{\"spec\": 7}", 0, "spec: expected an object");
    expect_error(d, "{\"spec\": {\"cpuCores\": 4294967296}}", 0,
                 "spec.cpuCores: 4294967296 is out of range");
}

/* Wrappers are their plain value (and say "set" even at zero); a
 * FieldMask is "lowerCamel,paths" holding the proto names. */
static void
test_wrappers_and_field_mask(void **state)
{
    (void) state;
    const ProtobufCMessageDescriptor *d
        = &limiquantix__network__v1__update_port_request__descriptor;
    round_trip(d, "{\"port\": {\"id\": \"p\", \"portSecurityEnabled\": "
               "false}, \"updateMask\": \"securityGroupIds,"
               "portSecurityEnabled\"}",
               "{\"port\": {\"id\": \"p\", \"portSecurityEnabled\": "
               "false}, \"updateMask\": \"securityGroupIds,"
               "portSecurityEnabled\"}");
    struct json *j = parse("{\"port\": {\"id\": \"p\"}, \"updateMask\": "
                           "\"dnsName,portSecurityEnabled\"}");
    ProtobufCMessage *m;
    assert_null(lq_pb_from_json(d, j, 0, &m));
    const Limiquantix__Network__V1__UpdatePortRequest *r = (void *) m;
    assert_int_equal(r->update_mask->n_paths, 2);
    assert_string_equal(r->update_mask->paths[0], "dns_name");
    assert_string_equal(r->update_mask->paths[1], "port_security_enabled");
    assert_null(r->port->port_security_enabled);
    protobuf_c_message_free_unpacked(m, NULL);
    json_destroy(j);

    d = &limiquantix__network__v1__network__descriptor;
    round_trip(d, "{\"subnets\": [{\"cidr\": \"10.0.0.0/24\", "
               "\"gatewayIp\": \"\", \"dhcpEnabled\": false}]}",
               "{\"subnets\": [{\"cidr\": \"10.0.0.0/24\", "
               "\"gatewayIp\": \"\", \"dhcpEnabled\": false}]}");
    round_trip(d, "{\"subnets\": [{\"cidr\": \"10.0.0.0/24\", "
               "\"gatewayIp\": null}]}",
               "{\"subnets\": [{\"cidr\": \"10.0.0.0/24\"}]}");
    d = &limiquantix__network__v1__rule__descriptor;
    round_trip(d, "{\"portRangeMin\": 0, \"portRangeMax\": \"8\"}",
               "{\"portRangeMin\": 0, \"portRangeMax\": 8}");
    expect_error(d, "{\"portRangeMin\": \"x\"}", 0,
                 "portRangeMin: \"x\" is not an integer in range");
    expect_error(d, "{\"portRangeMin\": {\"value\": 1}}", 0,
                 "portRangeMin: expected an integer");
    d = &limiquantix__network__v1__update_port_request__descriptor;
    expect_error(d, "{\"updateMask\": [\"name\"]}", 0,
                 "updateMask: expected field paths separated by commas");
}

static void
test_utf8_of_binary_input(void **state)
{
    (void) state;
    Limiquantix__Node__V1__NodeEvent ev = LIMIQUANTIX__NODE__V1__NODE_EVENT__INIT;
    ev.id = "ok \xc3\xa9";
    assert_null(lq_pb_check_utf8(&ev.base));
    ev.message = "bad \xc3\x28";
    struct lq_error *e = lq_pb_check_utf8(&ev.base);
    assert_non_null(e);
    assert_string_equal(e->message, "message: not valid UTF-8");
    lq_error_free(e);
    ev.message = "surrogate \xed\xa0\x80";
    e = lq_pb_check_utf8(&ev.base);
    assert_non_null(e);
    lq_error_free(e);
}

static void
test_methods_of_the_contract(void **state)
{
    (void) state;
    const ProtobufCMethodDescriptor *m = lq_pb_find_method(
        "limiquantix.node.v1.NodeDaemonService", "CreateVM");
    assert_non_null(m);
    assert_ptr_equal(m->input,
                     &limiquantix__node__v1__create_vmon_node_request__descriptor);
    assert_non_null(lq_pb_find_method("limiquantix.network.v1.PortService",
                                      "BindPort"));
    assert_null(lq_pb_find_method("limiquantix.node.v1.NodeDaemonService",
                                  "NoSuch"));
    assert_null(lq_pb_find_method("x.Y", "HealthCheck"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_names_and_defaults),
        cmocka_unit_test(test_enums_maps_timestamps),
        cmocka_unit_test(test_nested_paths),
        cmocka_unit_test(test_wrappers_and_field_mask),
        cmocka_unit_test(test_utf8_of_binary_input),
        cmocka_unit_test(test_methods_of_the_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
