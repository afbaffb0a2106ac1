/* Unit tests: reading ovn-trace's output and building its microflow
 * (src/ovn-bridge/trace.c).  The sample is real ovn-trace 23.03 output
 * for a TCP packet that one port's security group lets out and the other
 * port's default drop stops. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "openvswitch/dynamic-string.h"
#include "trace.h"

static const char sample[] =
"# tcp,reg14=0x1,vlan_tci=0x0000,dl_src=3e:bd:1e:ff:22:45,nw_ttl=64\n"
"\n"
"ingress(dp=\"b8011d8d-095a-4fb2-a4fe-5b39419d39ef\", "
"inport=\"8f4caea0-71d4-40df-8680-001d79842b7b\")\n"
"-----------------------------------------------\n"
" 0. ls_in_check_port_sec (northd.c:8432): 1, priority 50, uuid 212d0cdb\n"
"    reg0[15] = check_in_port_sec();\n"
"    next;\n"
" 6. ls_in_pre_stateful (northd.c:6140): reg0[0] == 1, priority 100, "
"uuid 764a64e7\n"
"    ct_next;\n"
"\n"
"ct_next(ct_state=new|trk)\n"
"-------------------------\n"
" 8. ls_in_acl (northd.c:6445): reg0[7] == 1 && (inport == @pg_d8d3 && "
"ip4 && tcp.dst == {80, 443}), priority 2002, uuid 582626e8\n"
"    reg0[1] = 1;\n"
"    next;\n"
"25. ls_in_l2_lkup (northd.c:9122): eth.dst == 4a:ed:b9:c6:a3:e8, "
"priority 50, uuid 937b8f50\n"
"    outport = \"332ebf94-7229-4483-9139-3e3d346a33db\";\n"
"    output;\n"
"\n"
"egress(dp=\"b8011d8d-095a-4fb2-a4fe-5b39419d39ef\", "
"inport=\"8f4caea0-71d4-40df-8680-001d79842b7b\", "
"outport=\"332ebf94-7229-4483-9139-3e3d346a33db\")\n"
"------------------------------------------------\n"
" 4. ls_out_acl (northd.c:6543): reg0[9] == 1 && (outport == @lq_pg_drop "
"&& ip), priority 2001, uuid 254b0ca7\n"
"    drop;\n";

static void
test_parse_sample(void **state)
{
    (void) state;
    struct lq_trace t;
    assert_null(lq_trace_parse(sample, &t));
    assert_int_equal(t.n_steps, 5);
    assert_int_equal(t.n_outputs, 0);

    const struct lq_trace_step *s = &t.steps[2];
    assert_false(s->egress);
    assert_int_equal(s->table, 8);
    assert_string_equal(s->stage, "ls_in_acl");
    /* The match holds ", " itself: the suffix is found from the end. */
    assert_string_equal(s->match, "reg0[7] == 1 && (inport == @pg_d8d3 && "
                        "ip4 && tcp.dst == {80, 443})");
    assert_int_equal(s->priority, 2002);
    assert_string_equal(s->actions, "reg0[1] = 1;\nnext;");
    assert_false(s->drop);

    const char *dir;
    int prio;
    char *match;
    assert_true(lq_trace_step_acl(s, &dir, &prio, &match));
    assert_string_equal(dir, "from-lport");
    assert_int_equal(prio, 1002);
    assert_string_equal(match, "inport == @pg_d8d3 && ip4 && tcp.dst == "
                        "{80, 443}");
    free(match);

    s = &t.steps[4];
    assert_true(s->egress);
    assert_string_equal(s->outport, "332ebf94-7229-4483-9139-3e3d346a33db");
    assert_true(s->drop);
    assert_true(lq_trace_step_acl(s, &dir, &prio, &match));
    assert_string_equal(dir, "to-lport");
    assert_int_equal(prio, 1001);
    assert_string_equal(match, "outport == @lq_pg_drop && ip");
    free(match);

    /* Flows that are not ACLs. */
    assert_false(lq_trace_step_acl(&t.steps[0], &dir, &prio, &match));
    assert_false(lq_trace_step_acl(&t.steps[3], &dir, &prio, &match));
    lq_trace_destroy(&t);
}

static void
test_parse_output_and_errors(void **state)
{
    (void) state;
    struct lq_trace t;
    assert_null(lq_trace_parse(
        "egress(dp=\"x\", inport=\"a\", outport=\"b\")\n"
        " 9. ls_out_apply_port_sec (northd.c:5777): 1, priority 0, uuid f0\n"
        "    output;\n"
        "    /* output to \"b\", type \"\" */\n", &t));
    assert_int_equal(t.n_steps, 1);
    assert_int_equal(t.n_outputs, 1);
    assert_string_equal(t.outputs[0], "b");
    lq_trace_destroy(&t);

    /* A flow line in a format we do not know is an error, not a guess. */
    struct lq_error *e = lq_trace_parse(
        "ingress(dp=\"x\", inport=\"a\")\n 3. ls_in_x: 1 prio 5\n", &t);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "cannot read the flow line"));
    lq_error_free(e);

    /* An ACL stage flow below 1000 is northd's own, not an ACL. */
    assert_null(lq_trace_parse(
        "ingress(dp=\"x\", inport=\"a\")\n"
        " 8. ls_in_acl (northd.c:1): reg0[7] == 1 && (ip), priority 1, "
        "uuid 1\n", &t));
    const char *dir;
    int prio;
    char *match;
    assert_false(lq_trace_step_acl(&t.steps[0], &dir, &prio, &match));
    lq_trace_destroy(&t);
}

static void
expect_proto(const char *text, int family, int number, int port)
{
    struct lq_protocol p;
    int dst;
    struct lq_error *e = lq_trace_parse_protocol("PROTO", text, family, &p,
                                                 &dst);
    if (e) {
        fail_msg("%s: %s", text, e->message);
    }
    assert_int_equal(p.number, number);
    assert_int_equal(dst, port);
}

static void
expect_proto_error(const char *text, const char *fragment)
{
    struct lq_protocol p;
    int dst;
    struct lq_error *e = lq_trace_parse_protocol("PROTO", text, AF_INET, &p,
                                                 &dst);
    if (!e || !strstr(e->message, fragment)
        || strncmp(e->message, "PROTO: ", 7)) {
        fail_msg("%s: %s", text, e ? e->message : "accepted");
    }
    lq_error_free(e);
}

static void
test_protocol(void **state)
{
    (void) state;
    expect_proto("tcp/80", AF_INET, 6, 80);
    expect_proto("UDP/53", AF_INET, 17, 53);
    expect_proto("sctp/9", AF_INET6, 132, 9);
    expect_proto("icmp", AF_INET, 1, 8);
    expect_proto("icmp", AF_INET6, 58, 128);
    expect_proto("icmp6/135", AF_INET6, 58, 135);
    expect_proto("icmp/0", AF_INET, 1, 0);
    expect_proto("ip", AF_INET, -1, -1);
    expect_proto("47", AF_INET, 47, -1);

    expect_proto_error("tcp", "tcp needs a destination port");
    expect_proto_error("tcp/0", "expected a port 1-65535");
    expect_proto_error("tcp/65536", "expected a port 1-65535");
    expect_proto_error("tcp/8x", "got \"8x\"");
    expect_proto_error("icmp/256", "expected an ICMP type 0-255");
    expect_proto_error("47/3", "only tcp, udp, sctp and icmp");
    expect_proto_error("tcp/80 || 1", "expected a port");
    expect_proto_error("bogus", "unknown protocol");
}

static void
test_microflow(void **state)
{
    (void) state;
    struct lq_trace_packet pk;
    struct ds s = DS_EMPTY_INITIALIZER;

    memset(&pk, 0, sizeof pk);
    strcpy(pk.inport, "8f4caea0-71d4-40df-8680-001d79842b7b");
    assert_null(lq_mac_parse("m", "0a:00:00:00:00:01", &pk.eth_src));
    assert_null(lq_mac_parse("m", "0a:00:00:00:00:02", &pk.eth_dst));
    assert_true(lq_ip_parse("10.0.0.2", &pk.ip_src));
    assert_true(lq_ip_parse("10.0.0.3", &pk.ip_dst));
    pk.protocol.number = 6;
    pk.dst_port = 22;
    lq_trace_microflow(&pk, &s);
    assert_string_equal(ds_cstr(&s),
        "inport == \"8f4caea0-71d4-40df-8680-001d79842b7b\" && "
        "eth.src == 0a:00:00:00:00:01 && eth.dst == 0a:00:00:00:00:02 && "
        "ip4.src == 10.0.0.2 && ip4.dst == 10.0.0.3 && ip.ttl == 64 && "
        "tcp.src == 40000 && tcp.dst == 22");

    ds_clear(&s);
    assert_true(lq_ip_parse("fd00::2", &pk.ip_src));
    assert_true(lq_ip_parse("fd00::3", &pk.ip_dst));
    pk.protocol.number = 58;
    pk.dst_port = 128;
    lq_trace_microflow(&pk, &s);
    assert_non_null(strstr(ds_cstr(&s), "ip6.src == fd00::2 && ip6.dst == "
                           "fd00::3 && ip.ttl == 64 && icmp6 && "
                           "icmp6.type == 128 && icmp6.code == 0"));
    ds_destroy(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_sample),
        cmocka_unit_test(test_parse_output_and_errors),
        cmocka_unit_test(test_protocol),
        cmocka_unit_test(test_microflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
