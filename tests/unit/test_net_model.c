/* Unit tests: request parsing for networks, ports and security groups:
 * defaults, and errors that name the field. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsonx.h"
#include "model.h"

#define ID "3f2a8c1e-0000-4000-8000-000000000001"
#define ID2 "3f2a8c1e-0000-4000-8000-000000000002"

static struct json *
parse(const char *s)
{
    struct json *j;
    struct lq_error *e = lq_json_parse_object(s, strlen(s), &j);
    if (e) {
        fail_msg("%s", e->message);
    }
    return j;
}

static void
test_network_defaults(void **state)
{
    (void) state;
    struct json *j = parse("{\"id\":\"" ID "\",\"subnets\":[{\"cidr\":"
                           "\"10.0.0.0/24\"}]}");
    struct lq_network_spec n;
    assert_null(lq_network_spec_from_json(j, &n));
    assert_int_equal(n.type, LQ_NET_OVERLAY);
    assert_int_equal(n.mtu, 1442);
    assert_string_equal(n.dns_domain, "internal");
    assert_true(n.subnets[0].dhcp_enabled);
    char buf[LQ_IP_STRLEN];
    lq_ip_format(&n.subnets[0].gateway, buf);
    assert_string_equal(buf, "10.0.0.1");
    assert_int_equal(n.subnets[0].n_pools, 1);
    lq_ip_format(&n.subnets[0].pools[0].start, buf);
    assert_string_equal(buf, "10.0.0.2");
    lq_ip_format(&n.subnets[0].pools[0].end, buf);
    assert_string_equal(buf, "10.0.0.254");

    /* Canonical JSON round-trips. */
    struct json *canon = lq_network_spec_to_json(&n);
    struct lq_network_spec n2;
    assert_null(lq_network_spec_from_json(canon, &n2));
    struct json *canon2 = lq_network_spec_to_json(&n2);
    assert_true(json_equal(canon, canon2));
    json_destroy(canon);
    json_destroy(canon2);
    lq_network_spec_destroy(&n2);
    lq_network_spec_destroy(&n);
    json_destroy(j);

    j = parse("{\"id\":\"" ID "\",\"type\":\"vlan\",\"vlan_id\":100,"
              "\"physical_network\":\"physnet1\"}");
    assert_null(lq_network_spec_from_json(j, &n));
    assert_int_equal(n.mtu, 1500);
    assert_int_equal(n.vlan_id, 100);
    lq_network_spec_destroy(&n);
    json_destroy(j);

    /* Gateway in the middle splits the default pool. */
    j = parse("{\"id\":\"" ID "\",\"subnets\":[{\"cidr\":\"10.0.0.0/24\","
              "\"gatewayIp\":\"10.0.0.100\"}]}");
    assert_null(lq_network_spec_from_json(j, &n));
    assert_int_equal(n.subnets[0].n_pools, 2);
    lq_ip_format(&n.subnets[0].pools[0].end, buf);
    assert_string_equal(buf, "10.0.0.99");
    lq_ip_format(&n.subnets[0].pools[1].start, buf);
    assert_string_equal(buf, "10.0.0.101");
    lq_network_spec_destroy(&n);
    json_destroy(j);
}

static void
expect_network_error(const char *body, const char *fragment)
{
    struct json *j = parse(body);
    struct lq_network_spec n;
    struct lq_error *e = lq_network_spec_from_json(j, &n);
    if (!e) {
        fail_msg("accepted: %s", body);
    }
    if (!strstr(e->message, fragment)) {
        fail_msg("%s: got \"%s\"", body, e->message);
    }
    assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
    lq_error_free(e);
    lq_network_spec_destroy(&n);
    json_destroy(j);
}

static void
test_network_errors(void **state)
{
    (void) state;
    expect_network_error("{}", "id: required");
    expect_network_error("{\"id\":\"x\"}", "id: expected a UUID");
    expect_network_error("{\"id\":\"" ID "\",\"type\":\"mesh\"}",
                         "type: unknown network type");
    expect_network_error("{\"id\":\"" ID "\",\"type\":\"vlan\","
                         "\"physicalNetwork\":\"p\",\"vlanId\":0}",
                         "vlanId: 0 is outside 1-4094");
    expect_network_error("{\"id\":\"" ID "\",\"type\":\"flat\"}",
                         "physicalNetwork: required");
    expect_network_error("{\"id\":\"" ID "\",\"type\":\"flat\","
                         "\"physicalNetwork\":\"a b\"}", "physicalNetwork");
    expect_network_error("{\"id\":\"" ID "\",\"vlanId\":5}", "vlanId: only");
    expect_network_error("{\"id\":\"" ID "\",\"mtu\":100}", "mtu");
    expect_network_error("{\"id\":\"" ID "\",\"subnets\":[{\"cidr\":"
                         "\"10.0.0.0/24\",\"gatewayIp\":\"10.0.0.255\"}]}",
                         "subnets[0].gatewayIp: 10.0.0.255 is not a usable");
    expect_network_error("{\"id\":\"" ID "\",\"subnets\":[{\"cidr\":"
                         "\"10.0.0.0/24\"},{\"cidr\":\"10.0.0.0/16\"}]}",
                         "subnets[1].cidr: overlaps subnets[0]");
    expect_network_error("{\"id\":\"" ID "\",\"subnets\":[{\"cidr\":"
                         "\"10.0.0.0/24\"},{\"cidr\":\"10.0.0.0/25\"}]}",
                         "subnets[1].cidr: overlaps subnets[0]");
    expect_network_error("{\"id\":\"" ID "\",\"subnets\":[{\"cidr\":"
                         "\"10.0.0.0/24\",\"allocationPools\":[{\"start\":"
                         "\"10.0.0.1\",\"end\":\"10.0.0.9\"}]}]}",
                         "contains the gateway");
    expect_network_error("{\"id\":\"" ID "\",\"subnets\":[{\"cidr\":"
                         "\"10.0.0.0/24\",\"dnsServers\":[\"8.8.8.8; x\"]}]}",
                         "subnets[0].dnsServers[0]");
    expect_network_error("{\"id\":\"" ID "\",\"dnsDomain\":\"a..b\"}",
                         "dnsDomain");
}

static void
expect_rule_error(const char *body, const char *fragment)
{
    struct json *j = parse(body);
    struct lq_sg_rule r;
    struct lq_error *e = lq_sg_rule_from_json(j, "rule", &r);
    if (!e) {
        fail_msg("accepted: %s", body);
    }
    if (!strstr(e->message, fragment)) {
        fail_msg("%s: got \"%s\"", body, e->message);
    }
    lq_error_free(e);
    lq_sg_rule_destroy(&r);
    json_destroy(j);
}

static void
test_rules(void **state)
{
    (void) state;
    struct json *j = parse("{\"id\":\"" ID "\",\"direction\":\"ingress\","
                           "\"protocol\":\"tcp\",\"portRangeMin\":22}");
    struct lq_sg_rule r;
    assert_null(lq_sg_rule_from_json(j, "rule", &r));
    assert_int_equal(r.port_min, 22);
    assert_int_equal(r.port_max, 22);       /* max defaults to min */
    lq_sg_rule_destroy(&r);
    json_destroy(j);

    expect_rule_error("{\"id\":\"" ID "\",\"direction\":\"in\"}",
                      "rule.direction: expected ingress or egress");
    expect_rule_error("{\"id\":\"" ID "\",\"direction\":\"ingress\","
                      "\"protocol\":\"tcp\",\"portRangeMin\":9,"
                      "\"portRangeMax\":8}", "rule.portRangeMin: 9 is greater");
    expect_rule_error("{\"id\":\"" ID "\",\"direction\":\"ingress\","
                      "\"protocol\":\"udp\",\"portRangeMax\":65536,"
                      "\"portRangeMin\":1}", "outside 0-65535");
    expect_rule_error("{\"id\":\"" ID "\",\"direction\":\"ingress\","
                      "\"portRangeMin\":80}", "port ranges need protocol");
    expect_rule_error("{\"id\":\"" ID "\",\"direction\":\"ingress\","
                      "\"protocol\":\"icmp\",\"portRangeMin\":300}",
                      "outside 0-255");
    expect_rule_error("{\"id\":\"" ID "\",\"direction\":\"ingress\","
                      "\"remoteIpPrefix\":\"0.0.0.0/0 || 1\"}",
                      "rule.remoteIpPrefix");
    expect_rule_error("{\"id\":\"" ID "\",\"direction\":\"ingress\","
                      "\"ethertype\":\"IPv6\",\"remoteIpPrefix\":"
                      "\"10.0.0.0/8\"}", "does not match ethertype");
    expect_rule_error("{\"id\":\"" ID "\",\"direction\":\"ingress\","
                      "\"remoteIpPrefix\":\"10.0.0.0/8\",\"remoteGroupId\":"
                      "\"" ID2 "\"}", "not both");
    expect_rule_error("{\"id\":\"" ID "\",\"direction\":\"ingress\","
                      "\"ethertype\":\"IPX\"}", "rule.ethertype");
}

static void
test_sg_defaults_and_port(void **state)
{
    (void) state;
    struct json *j = parse("{\"id\":\"" ID "\",\"name\":\"web\"}");
    struct lq_sg_spec sg;
    assert_null(lq_sg_spec_from_json(j, &sg));
    assert_int_equal(sg.n_rules, 2);        /* Neutron: egress v4 + v6 */
    assert_int_equal(sg.rules[0].direction, LQ_EGRESS);
    assert_int_equal(sg.rules[1].direction, LQ_EGRESS);
    assert_int_not_equal(sg.rules[0].family, sg.rules[1].family);
    lq_sg_spec_destroy(&sg);
    json_destroy(j);

    struct lq_port_spec p;
    j = parse("{\"id\":\"" ID "\",\"networkId\":\"" ID2 "\","
              "\"portSecurityEnabled\":false,\"securityGroupIds\":[\""
              ID "\"]}");
    struct lq_error *e = lq_port_spec_from_json(j, &p);
    assert_non_null(strstr(e->message, "portSecurityEnabled"));
    lq_error_free(e);
    lq_port_spec_destroy(&p);
    json_destroy(j);

    j = parse("{\"id\":\"" ID "\",\"networkId\":\"" ID2 "\","
              "\"fixedIps\":[{\"ipAddress\":\"10.0.0.5\"},"
              "{\"ipAddress\":\"10.0.0.5\"}]}");
    e = lq_port_spec_from_json(j, &p);
    assert_non_null(strstr(e->message, "fixedIps[1].ipAddress: duplicate"));
    lq_error_free(e);
    lq_port_spec_destroy(&p);
    json_destroy(j);

    j = parse("{\"id\":\"" ID "\",\"networkId\":\"" ID2 "\","
              "\"dnsName\":\"Web-1\"}");
    assert_null(lq_port_spec_from_json(j, &p));
    assert_string_equal(p.dns_name, "web-1");
    assert_true(p.port_security_enabled);
    lq_port_spec_destroy(&p);
    json_destroy(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_defaults),
        cmocka_unit_test(test_network_errors),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_sg_defaults_and_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
