/* The QuantumNet C API (limiquantix/network.h) in-process against a real
 * OVN Northbound ovsdb-server started by the test in a private directory
 * and stopped by pid.  Rows are read back with ovn-nbctl, not through our
 * own client. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine.h"
#include "exec.h"
#include "jsonx.h"
#include "limiquantix/network.h"
#include "openvswitch/shash.h"
#include "util.h"

#define NET_ID "6f1c9a52-0000-4000-8000-0000000000a1"
#define SG_ID "6f1c9a52-0000-4000-8000-0000000000a2"
#define PORT_ID "6f1c9a52-0000-4000-8000-0000000000a3"

static char dir[] = "/tmp/lq-capi-XXXXXX";
static char *remote;
static struct lq_network *net;

static char *
nbctl(const char *a, const char *b)
{
    char *db = xasprintf("--db=%s", remote);
    const char *argv[] = { "ovn-nbctl", db, a, b, NULL };
    struct lq_exec_result r;
    struct lq_error *e = lq_exec(argv, NULL, 10000, &r);
    free(db);
    if (e) {
        fail_msg("%s", e->message);
    }
    free(r.err);
    return r.out;
}

static int
setup(void **state)
{
    (void) state;
    assert_non_null(mkdtemp(dir));
    char *db = xasprintf("%s/nb.db", dir);
    char *rem = xasprintf("--remote=punix:%s/nb.sock", dir);
    char *pid = xasprintf("--pidfile=%s/nb.pid", dir);
    char *ctl = xasprintf("--unixctl=%s/nb.ctl", dir);
    char *log = xasprintf("--log-file=%s/nb.log", dir);
    const char *create[] = { "ovsdb-tool", "create", db,
                             "/usr/share/ovn/ovn-nb.ovsschema", NULL };
    const char *server[] = { "ovsdb-server", db, rem, pid, ctl, log,
                             "--detach", "--no-chdir", NULL };
    assert_null(lq_exec(create, NULL, 10000, NULL));
    assert_null(lq_exec(server, NULL, 10000, NULL));
    free(db);
    free(rem);
    free(pid);
    free(ctl);
    free(log);

    remote = xasprintf("unix:%s/nb.sock", dir);
    struct lq_network_options o = {
        .nb_remote = remote, .chassis = "capi-test", .hostname = "capi",
        .integration_bridge = "br-int", .datapath_type = "netdev",
        .encap_type = "geneve", .encap_ip = "127.0.0.1",
    };
    assert_null(lq_network_create(&o, &net));
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    lq_network_destroy(net);
    char *path = xasprintf("%s/nb.pid", dir);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f && fscanf(f, "%ld", &pid) == 1 && pid > 1) {
        kill(pid, SIGTERM);
    }
    if (f) {
        fclose(f);
    }
    free(path);
    const char *rm[] = { "rm", "-rf", dir, NULL };
    lq_error_free(lq_exec(rm, NULL, 10000, NULL));
    free(remote);
    return 0;
}

/* Calls 'method' with a JSON text; returns the reply (or NULL + error). */
static struct json *
call(const char *method, const char *text, enum lq_code expected)
{
    struct json *req, *resp = NULL;
    assert_null(lq_json_parse_object(text, strlen(text), &req));
    struct lq_error *e = lq_network_call(net, method, req, &resp);
    json_destroy(req);
    if (expected == LQ_OK) {
        if (e) {
            fail_msg("%s: %s", method, e->message);
        }
        assert_non_null(resp);
    } else {
        assert_non_null(e);
        assert_int_equal(e->code, expected);
        assert_null(resp);
        lq_error_free(e);
    }
    return resp;
}

static void
test_c_api_round_trip(void **state)
{
    (void) state;
    struct json *r;

    r = call("CreateNetwork", "{\"id\":\"" NET_ID "\",\"name\":\"capi\","
             "\"subnets\":[{\"cidr\":\"10.90.0.0/24\"}]}", LQ_OK);
    assert_string_equal(json_string(shash_find_data(json_object(r), "id")),
                        NET_ID);
    json_destroy(r);

    char *out = nbctl("ls-list", NULL);
    assert_non_null(strstr(out, "(lqnet-" NET_ID ")"));
    free(out);

    json_destroy(call("CreateSecurityGroup", "{\"id\":\"" SG_ID "\"}",
                      LQ_OK));
    r = call("CreatePort", "{\"id\":\"" PORT_ID "\",\"networkId\":\""
             NET_ID "\",\"securityGroupIds\":[\"" SG_ID "\"],"
             "\"dnsName\":\"capi\"}", LQ_OK);
    const struct json *ips = shash_find_data(json_object(r), "fixedIps");
    const struct json *ip = shash_find_data(
        json_object(json_array(ips)->elems[0]), "ipAddress");
    assert_string_equal(json_string(ip), "10.90.0.2");
    json_destroy(r);

    out = nbctl("lsp-get-port-security", PORT_ID);
    assert_non_null(strstr(out, "10.90.0.2"));
    free(out);
    out = nbctl("acl-list", "pg_6f1c9a52_0000_4000_8000_0000000000a2");
    assert_non_null(strstr(out, "from-lport  1002"));
    free(out);

    /* Bad input: a clear error, nothing written. */
    char *before = nbctl("lsp-list", "lqnet-" NET_ID);
    call("CreatePort", "{\"id\":\"6f1c9a52-0000-4000-8000-0000000000a4\","
         "\"networkId\":\"" NET_ID "\",\"macAddress\":\"01:00:00:00:00:01\"}",
         LQ_INVALID_ARGUMENT);
    char *after = nbctl("lsp-list", "lqnet-" NET_ID);
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* No local switch in this engine: binding is refused. */
    call("BindPort", "{\"portId\":\"" PORT_ID "\",\"deviceName\":\"lo\"}",
         LQ_FAILED_PRECONDITION);
    call("NoSuchMethod", "{}", LQ_UNIMPLEMENTED);

    json_destroy(call("DeletePort", "{\"id\":\"" PORT_ID "\"}", LQ_OK));
    json_destroy(call("DeleteSecurityGroup", "{\"id\":\"" SG_ID "\"}",
                      LQ_OK));
    json_destroy(call("DeleteNetwork", "{\"id\":\"" NET_ID "\"}", LQ_OK));
    out = nbctl("ls-list", NULL);
    assert_null(strstr(out, NET_ID));
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_api_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
