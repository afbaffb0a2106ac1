/* Unit tests: typed network values, and the ACL matches built from them. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "acl.h"
#include "net_types.h"

static void
expect_cidr_error(const char *text, const char *fragment)
{
    struct lq_cidr c;
    struct lq_error *e = lq_cidr_parse("f", text, &c);
    if (!e) {
        fail_msg("\"%s\" parsed", text);
    }
    assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
    if (!strstr(e->message, fragment)) {
        fail_msg("\"%s\": %s", text, e->message);
    }
    lq_error_free(e);
}

static void
test_cidr(void **state)
{
    (void) state;
    struct lq_cidr c;
    char buf[LQ_CIDR_STRLEN];

    assert_null(lq_cidr_parse("f", "10.1.0.0/16", &c));
    lq_cidr_format(&c, buf);
    assert_string_equal(buf, "10.1.0.0/16");
    assert_null(lq_cidr_parse("f", "fd00:1::/64", &c));
    lq_cidr_format(&c, buf);
    assert_string_equal(buf, "fd00:1::/64");
    assert_null(lq_cidr_parse("f", "0.0.0.0/0", &c));

    expect_cidr_error("10.1.0.1/24", "host bits set (did you mean 10.1.0.0/24");
    expect_cidr_error("10.0.0.0/33", "expected an IPv4 or IPv6 prefix");
    expect_cidr_error("10.0.0.0", "expected");
    expect_cidr_error("10.0.0.0/", "expected");
    expect_cidr_error("10.0.0.0/08", "expected");
    expect_cidr_error("0.0.0.0/0 || 1", "expected");
    expect_cidr_error("10.0.0.0/24 && ip4", "expected");
    expect_cidr_error("fd00::/129", "expected");
    expect_cidr_error("$pg_x_ip4", "expected");
}

static void
test_cidr_math(void **state)
{
    (void) state;
    struct lq_cidr a, b;
    struct lq_ip ip;
    char buf[LQ_IP_STRLEN];

    assert_null(lq_cidr_parse("a", "10.0.0.0/24", &a));
    assert_null(lq_cidr_parse("b", "10.0.0.128/25", &b));
    assert_true(lq_cidr_overlaps(&a, &b));
    assert_true(lq_cidr_overlaps(&b, &a));
    assert_null(lq_cidr_parse("b", "10.0.1.0/24", &b));
    assert_false(lq_cidr_overlaps(&a, &b));

    struct lq_ip last = lq_cidr_last(&a);
    lq_ip_format(&last, buf);
    assert_string_equal(buf, "10.0.0.255");
    assert_true(lq_ip_parse("10.0.0.255", &ip));
    ip = lq_ip_add(&ip, 1);
    lq_ip_format(&ip, buf);
    assert_string_equal(buf, "10.0.1.0");
    assert_true(lq_ip_parse("fd00::ffff", &ip));
    ip = lq_ip_add(&ip, 1);
    lq_ip_format(&ip, buf);
    assert_string_equal(buf, "fd00::1:0");
    assert_false(lq_ip_parse("10.0.0.1 ", &ip));
    assert_false(lq_ip_parse("10.0.0.256", &ip));
}

static void
test_mac(void **state)
{
    (void) state;
    struct lq_mac m;
    char buf[LQ_MAC_STRLEN];
    struct lq_error *e;

    assert_null(lq_mac_parse("m", "0A:00:00:00:00:01", &m));
    lq_mac_format(&m, buf);
    assert_string_equal(buf, "0a:00:00:00:00:01");
    e = lq_mac_parse("m", "01:00:5e:00:00:01", &m);
    assert_non_null(strstr(e->message, "multicast"));
    lq_error_free(e);
    e = lq_mac_parse("m", "0a:00:00:00:00:0g", &m);
    assert_non_null(e);
    lq_error_free(e);
    e = lq_mac_parse("m", "00:00:00:00:00:00", &m);
    assert_non_null(e);
    lq_error_free(e);
    for (int i = 0; i < 100; i++) {
        lq_mac_random(&m);
        assert_false(lq_mac_is_multicast(&m));
        assert_true(m.b[0] & 2);        /* locally administered */
    }
}

static void
test_protocol(void **state)
{
    (void) state;
    struct lq_protocol p;
    char buf[8];
    struct lq_error *e;

    assert_null(lq_protocol_parse("p", "TCP", AF_INET, &p));
    assert_int_equal(p.number, 6);
    assert_null(lq_protocol_parse("p", "icmp", AF_INET6, &p));
    assert_int_equal(p.number, 58);
    assert_null(lq_protocol_parse("p", "47", AF_INET, &p));
    assert_string_equal(lq_protocol_name(&p, buf), "47");
    assert_null(lq_protocol_parse("p", "", AF_INET, &p));
    assert_int_equal(p.number, -1);
    e = lq_protocol_parse("p", "256", AF_INET, &p);
    assert_non_null(strstr(e->message, "unknown protocol"));
    lq_error_free(e);
    e = lq_protocol_parse("p", "tcp || 1", AF_INET, &p);
    assert_non_null(e);
    lq_error_free(e);
    e = lq_protocol_parse("p", "icmpv6", AF_INET, &p);
    assert_non_null(strstr(e->message, "IPv6"));
    lq_error_free(e);
}

static void
test_names(void **state)
{
    (void) state;
    char id[37];
    struct lq_error *e;

    assert_null(lq_uuid_check("id", "3F2A8C1E-0000-4000-8000-000000000001",
                              id));
    assert_string_equal(id, "3f2a8c1e-0000-4000-8000-000000000001");
    e = lq_uuid_check("id", "3f2a8c1e-0000-4000-8000-00000000000\"", id);
    assert_non_null(e);
    lq_error_free(e);
    assert_null(lq_dns_name_check("d", "vm-1", false));
    assert_null(lq_dns_name_check("d", "lab.example", true));
    e = lq_dns_name_check("d", "a.b", false);
    assert_non_null(e);
    lq_error_free(e);
    e = lq_dns_name_check("d", "-a", false);
    assert_non_null(e);
    lq_error_free(e);
    assert_null(lq_text_check("n", "caf\xc3\xa9 \xe2\x98\x83", 255));
    e = lq_text_check("n", "a\nb", 255);
    assert_non_null(e);
    lq_error_free(e);
    e = lq_text_check("n", "\xff", 255);
    assert_non_null(e);
    lq_error_free(e);
}

static void
rule(struct lq_sg_rule *r, enum lq_direction dir, int family, int proto,
     int min, int max)
{
    memset(r, 0, sizeof *r);
    r->direction = dir;
    r->family = family;
    r->protocol.number = proto;
    r->port_min = min;
    r->port_max = max;
}

static void
expect_match(const struct lq_sg_rule *r, const char *expected)
{
    struct ds m = DS_EMPTY_INITIALIZER;
    lq_acl_match(r, "11111111-2222-3333-4444-555555555555", &m);
    assert_string_equal(ds_cstr(&m), expected);
    ds_destroy(&m);
}

static void
test_acl_matches(void **state)
{
    (void) state;
    struct lq_sg_rule r;
    const char *pg = "pg_11111111_2222_3333_4444_555555555555";
    char buf[256];

    rule(&r, LQ_EGRESS, AF_INET, -1, -1, -1);
    snprintf(buf, sizeof buf, "inport == @%s && ip4", pg);
    expect_match(&r, buf);

    rule(&r, LQ_INGRESS, AF_INET, LQ_PROTO_TCP, 8000, 8001);
    assert_null(lq_cidr_parse("p", "192.0.2.0/24", &r.remote_prefix));
    r.has_remote_prefix = true;
    snprintf(buf, sizeof buf, "outport == @%s && ip4 && ip4.src == "
             "192.0.2.0/24 && tcp && tcp.dst >= 8000 && tcp.dst <= 8001", pg);
    expect_match(&r, buf);

    rule(&r, LQ_INGRESS, AF_INET6, LQ_PROTO_UDP, 53, 53);
    strcpy(r.remote_group_id, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    snprintf(buf, sizeof buf, "outport == @%s && ip6 && ip6.src == "
             "$pg_aaaaaaaa_bbbb_cccc_dddd_eeeeeeeeeeee_ip6 && udp && "
             "udp.dst == 53", pg);
    expect_match(&r, buf);

    rule(&r, LQ_INGRESS, AF_INET, LQ_PROTO_ICMP, 8, 0);
    snprintf(buf, sizeof buf, "outport == @%s && ip4 && icmp4 && "
             "icmp4.type == 8 && icmp4.code == 0", pg);
    expect_match(&r, buf);

    rule(&r, LQ_EGRESS, AF_INET, 47, -1, -1);
    snprintf(buf, sizeof buf, "inport == @%s && ip4 && ip.proto == 47", pg);
    expect_match(&r, buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_cidr_math),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_protocol),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_acl_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
