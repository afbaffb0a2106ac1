/* The network engine's commit outcome (engine.c) against real
 * ovsdb-servers: a Northbound and an Open_vSwitch database started by the
 * test in a private directory, stopped by pid.
 *
 * An operation writes one transaction to each database.  When one of them
 * fails, the operation must fail, also when the two commits finish in
 * different loop passes (here: the Open_vSwitch server is stopped with
 * SIGSTOP until the Northbound answer has been read) and when both fail
 * (both messages kept).  The failure is a real one, the server's
 * "constraint violation" for a second row with a name that is an index
 * (Logical_Switch_Port and Bridge names are unique). */
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
#include "fileutil.h"
#include "lq-ovn-nb-idl.h"
#include "lq-vswitch-idl.h"
#include "ovs-thread.h"
#include "openvswitch/poll-loop.h"
#include "timeval.h"
#include "util.h"

static char dir[] = "/tmp/lq-engine-XXXXXX";
static char *nb_remote, *ovs_remote;
static struct lq_network *net;

static void
start_server(const char *name, const char *schema)
{
    char *db = xasprintf("%s/%s.db", dir, name);
    char *rem = xasprintf("--remote=punix:%s/%s.sock", dir, name);
    char *pid = xasprintf("--pidfile=%s/%s.pid", dir, name);
    char *ctl = xasprintf("--unixctl=%s/%s.ctl", dir, name);
    char *log = xasprintf("--log-file=%s/%s.log", dir, name);
    const char *create[] = { "ovsdb-tool", "create", db, schema, NULL };
    const char *server[] = { "ovsdb-server", db, rem, pid, ctl, log,
                             "--detach", "--no-chdir", NULL };
    assert_null(lq_exec(create, NULL, 10000, NULL));
    assert_null(lq_exec(server, NULL, 10000, NULL));
    free(db);
    free(rem);
    free(pid);
    free(ctl);
    free(log);
}

static long
server_pid(const char *name)
{
    char *path = xasprintf("%s/%s.pid", dir, name);
    long pid = lq_read_pidfile(path);
    free(path);
    assert_true(pid > 1);
    return pid;
}

/* ---- Operations ---------------------------------------------------------- */

/* Setup: a switch holding a port; a root row holding a bridge. */
static struct lq_error *
setup_build(struct lq_net_ctx *ctx, void *aux OVS_UNUSED)
{
    struct ovsdb_idl_txn *nb = lq_net_nb_txn(ctx);
    struct nbrec_logical_switch_port *lsp
        = nbrec_logical_switch_port_insert(nb);
    nbrec_logical_switch_port_set_name(lsp, "p1");
    struct nbrec_logical_switch *ls = nbrec_logical_switch_insert(nb);
    nbrec_logical_switch_set_name(ls, "s1");
    nbrec_logical_switch_set_ports(ls, &lsp, 1);

    struct ovsdb_idl_txn *ovs = lq_net_ovs_txn(ctx);
    struct vsrec_bridge *br = vsrec_bridge_insert(ovs);
    vsrec_bridge_set_name(br, "b1");
    struct vsrec_open_vswitch *root = vsrec_open_vswitch_insert(ovs);
    vsrec_open_vswitch_set_bridges(root, &br, 1);
    return NULL;
}

struct bad_aux {
    bool nb_fails;              /* Delete the port its switch still holds. */
    bool ovs_fails;             /* Delete the bridge the root still holds. */
    bool done;                  /* Set by finish(). */
    struct lq_error *error;
};

static struct lq_error *
bad_build(struct lq_net_ctx *ctx, void *aux_)
{
    struct bad_aux *aux = aux_;
    struct ovsdb_idl_txn *nb = lq_net_nb_txn(ctx);
    const struct nbrec_logical_switch *ls = nbrec_logical_switch_first(ctx->nb);
    assert_non_null(ls);
    struct nbrec_logical_switch_port *lsp
        = nbrec_logical_switch_port_insert(nb);
    nbrec_logical_switch_port_set_name(lsp, aux->nb_fails ? "p1" : "p-ok");
    nbrec_logical_switch_update_ports_addvalue(ls, lsp);

    struct ovsdb_idl_txn *ovs = lq_net_ovs_txn(ctx);
    const struct vsrec_open_vswitch *root = vsrec_open_vswitch_first(ctx->ovs);
    assert_non_null(root);
    struct vsrec_bridge *br = vsrec_bridge_insert(ovs);
    vsrec_bridge_set_name(br, aux->ovs_fails ? "b1" : "b-ok");
    vsrec_open_vswitch_update_bridges_addvalue(root, br);
    return NULL;
}

/* Undoes what a successful BadOp added. */
static struct lq_error *
cleanup_build(struct lq_net_ctx *ctx, void *aux OVS_UNUSED)
{
    const struct nbrec_logical_switch_port *lsp;
    NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, ctx->nb) {
        if (!strcmp(lsp->name, "p-ok")) {
            lq_net_nb_txn(ctx);
            nbrec_logical_switch_update_ports_delvalue(
                nbrec_logical_switch_first(ctx->nb), lsp);
        }
    }
    const struct vsrec_bridge *br;
    VSREC_BRIDGE_FOR_EACH (br, ctx->ovs) {
        if (!strcmp(br->name, "b-ok")) {
            lq_net_ovs_txn(ctx);
            vsrec_open_vswitch_update_bridges_delvalue(
                vsrec_open_vswitch_first(ctx->ovs), br);
        }
    }
    return NULL;
}

static void
bad_finish(struct lq_error *error, void *aux_)
{
    struct bad_aux *aux = aux_;
    aux->error = error;
    aux->done = true;
}

static const struct lq_net_op_class bad_class = {
    "BadOp", true, bad_build, NULL, bad_finish,
};

/* Drives the loop until 'aux' is done or 'ms' passed. */
static void
run_for(struct bad_aux *aux, long long ms)
{
    long long until = time_msec() + ms;
    while (!aux->done && time_msec() < until) {
        lq_network_run(net);
        if (!aux->done) {
            lq_network_wait(net);
            poll_timer_wait_until(until);
            poll_block();
        }
    }
}

/* Runs BadOp; with 'ovs_late' the Open_vSwitch server answers only after
 * the Northbound one has been handled in an earlier loop pass. */
static struct lq_error *
run_bad(bool nb_fails, bool ovs_fails, bool ovs_late)
{
    struct bad_aux aux = { nb_fails, ovs_fails, false, NULL };
    long ovs_pid = server_pid("ovs");
    if (ovs_late) {
        assert_int_equal(kill(ovs_pid, SIGSTOP), 0);
    }
    lq_network_submit(net, &bad_class, &aux, 10000);
    if (ovs_late) {
        run_for(&aux, 500);
        assert_false(aux.done);
        assert_int_equal(kill(ovs_pid, SIGCONT), 0);
    }
    run_for(&aux, 10000);
    assert_true(aux.done);
    static const struct lq_net_op_class cleanup_class = {
        "Cleanup", true, cleanup_build, NULL, NULL,
    };
    assert_null(lq_network_execute(net, &cleanup_class, NULL, 10000));
    return aux.error;
}

/* ---- Tests ------------------------------------------------------------- */

static void
test_nb_failure_in_an_earlier_pass_is_not_lost(void **state OVS_UNUSED)
{
    struct lq_error *e = run_bad(true, false, true);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_INTERNAL);
    assert_non_null(strstr(e->message, "Northbound transaction failed"));
    assert_non_null(strstr(e->message, "constraint violation"));
    lq_error_free(e);
}

static void
test_ovs_failure_after_nb_success(void **state OVS_UNUSED)
{
    struct lq_error *e = run_bad(false, true, true);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "Open_vSwitch transaction failed"));
    lq_error_free(e);
}

static void
test_both_failures_are_reported(void **state OVS_UNUSED)
{
    struct lq_error *e = run_bad(true, true, false);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "Northbound transaction failed"));
    assert_non_null(strstr(e->message, "Open_vSwitch transaction failed"));
    lq_error_free(e);
}

static void
test_success_is_success(void **state OVS_UNUSED)
{
    assert_null(run_bad(false, false, true));
}

/* A caller on another thread that gives up (the loop stopped) must get
 * its answer at once, and the loop must never touch its data afterwards
 * (the caller frees it): under ASan a use after free here fails. */
static int counting_builds;

static struct lq_error *
counting_build(struct lq_net_ctx *ctx OVS_UNUSED, void *aux)
{
    counting_builds++;
    (*(int *) aux)++;
    return NULL;
}

struct caller {
    struct lq_network *net;
    struct lq_error *error;
    long long took_ms;
};

static void *
caller_main(void *c_)
{
    static const struct lq_net_op_class counting_class = {
        "Counting", false, counting_build, NULL, NULL,
    };
    struct caller *c = c_;
    int *data = xzalloc(sizeof *data);
    long long t0 = time_msec();
    c->error = lq_network_execute_threaded(c->net, &counting_class, data,
                                           60000);
    c->took_ms = time_msec() - t0;
    free(data);
    return NULL;
}

static void
run_idle(struct lq_network *n, long long ms)
{
    long long until = time_msec() + ms;
    while (time_msec() < until) {
        lq_network_run(n);
        lq_network_wait(n);
        poll_timer_wait_until(until);
        poll_block();
    }
}

static void
test_abandoned_threaded_call(void **state OVS_UNUSED)
{
    /* A database that never answers: the operation waits in the queue. */
    struct lq_network_options o = {
        .nb_remote = "unix:/nonexistent/nb.sock", .chassis = "x",
        .hostname = "x", .integration_bridge = "br-int",
        .datapath_type = "netdev", .encap_type = "geneve",
        .encap_ip = "127.0.0.1",
    };
    for (int taken = 0; taken < 2; taken++) {
        struct lq_network *dead;
        assert_null(lq_network_create(&o, &dead));
        struct caller c = { dead, NULL, 0 };
        pthread_t t = ovs_thread_create("caller", caller_main, &c);
        usleep(100 * 1000);
        if (taken) {
            run_idle(dead, 100);    /* The loop takes it into its queue. */
        }
        lq_network_stop_threaded(dead);
        xpthread_join(t, NULL);
        assert_non_null(c.error);
        assert_int_equal(c.error->code, LQ_UNAVAILABLE);
        assert_true(c.took_ms < 5000);
        lq_error_free(c.error);
        run_idle(dead, 100);        /* Runs on: must not touch 'data'. */
        lq_network_destroy(dead);   /* Frees an orphaned call. */
    }
    assert_int_equal(counting_builds, 0);
}

/* ---- Fixture ----------------------------------------------------------- */

static int
setup(void **state OVS_UNUSED)
{
    assert_non_null(mkdtemp(dir));
    start_server("nb", "/usr/share/ovn/ovn-nb.ovsschema");
    start_server("ovs", "/usr/share/openvswitch/vswitch.ovsschema");
    nb_remote = xasprintf("unix:%s/nb.sock", dir);
    ovs_remote = xasprintf("unix:%s/ovs.sock", dir);
    struct lq_network_options o = {
        .nb_remote = nb_remote, .ovs_remote = ovs_remote,
        .chassis = "engine-test", .hostname = "engine",
        .integration_bridge = "br-int", .datapath_type = "netdev",
        .encap_type = "geneve", .encap_ip = "127.0.0.1",
    };
    assert_null(lq_network_create(&o, &net));
    static const struct lq_net_op_class setup_class = {
        "Setup", true, setup_build, NULL, NULL,
    };
    assert_null(lq_network_execute(net, &setup_class, NULL, 10000));
    return 0;
}

static int
teardown(void **state OVS_UNUSED)
{
    lq_network_destroy(net);
    kill(server_pid("nb"), SIGTERM);
    kill(server_pid("ovs"), SIGTERM);
    const char *rm[] = { "rm", "-rf", dir, NULL };
    lq_error_free(lq_exec(rm, NULL, 10000, NULL));
    free(nb_remote);
    free(ovs_remote);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nb_failure_in_an_earlier_pass_is_not_lost),
        cmocka_unit_test(test_ovs_failure_after_nb_success),
        cmocka_unit_test(test_both_failures_are_reported),
        cmocka_unit_test(test_success_is_success),
        cmocka_unit_test(test_abandoned_threaded_call),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
