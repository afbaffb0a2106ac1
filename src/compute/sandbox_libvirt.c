#include <config.h>
/* sandbox_libvirt.c: a private libvirtd for --sandbox, through the
 * tests/libvirt/libvirtd-sandbox script.
 *
 * Design decisions: the script is the one place that knows how to run
 * libvirtd privately on Debian 12 (mount namespace, accounts, qemu.conf),
 * shared by the tests and the daemon; this file only runs it with
 * lq_exec() (argv, timeout, stderr in the error) and keeps the URI it
 * prints.  Stopping a previous run first makes a crashed daemon's libvirtd
 * harmless. */
#include "sandbox_libvirt.h"

#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(sandbox_libvirt);

struct lq_sandbox_libvirt {
    char *script;
    char *dir;
    char *uri;
};

static const char *
script_path(void)
{
    const char *env = getenv("LQ_LIBVIRTD_SANDBOX");
    return env && *env ? env : LQ_LIBVIRTD_SANDBOX;
}

struct lq_error *
lq_sandbox_libvirt_start(const char *sandbox_dir, const char *ovs_rundir,
                         struct lq_sandbox_libvirt **sp)
{
    struct lq_sandbox_libvirt *s = xzalloc(sizeof *s);
    s->script = xstrdup(script_path());
    s->dir = xasprintf("%s/libvirt", sandbox_dir);
    *sp = NULL;

    const char *stop[] = { s->script, "stop", s->dir, NULL };
    lq_error_free(lq_exec(stop, NULL, 60000, NULL));

    /* libvirtd plugs OVS virtualports with ovs-vsctl, which finds the
     * database through OVS_RUNDIR: the sandbox's, not the system's. */
    char *rundir = ovs_rundir ? xasprintf("OVS_RUNDIR=%s", ovs_rundir) : NULL;
    const char *env[] = { rundir, NULL };
    const char *start[] = { s->script, "start", s->dir, NULL };
    struct lq_exec_result r;
    struct lq_error *e = lq_exec(start, env, 120000, &r);
    free(rundir);
    if (!e) {
        size_t n = strcspn(r.out, "\n");
        if (strncmp(r.out, "qemu:///", 8)) {
            e = lq_error_new(LQ_INTERNAL, "%s printed no libvirt URI",
                             s->script);
        } else {
            s->uri = xmemdup0(r.out, n);
        }
    }
    lq_exec_result_clear(&r);
    if (e) {
        lq_error_prefix(e, "sandbox libvirtd");
        lq_sandbox_libvirt_stop(s);
        return e;
    }
    VLOG_INFO("sandbox libvirtd running under %s: %s", s->dir, s->uri);
    *sp = s;
    return NULL;
}

const char *
lq_sandbox_libvirt_uri(const struct lq_sandbox_libvirt *s)
{
    return s->uri;
}

void
lq_sandbox_libvirt_stop(struct lq_sandbox_libvirt *s)
{
    if (s) {
        const char *stop[] = { s->script, "stop", s->dir, NULL };
        struct lq_error *e = lq_exec(stop, NULL, 60000, NULL);
        if (e) {
            VLOG_WARN("%s", e->message);
            lq_error_free(e);
        }
        free(s->script);
        free(s->dir);
        free(s->uri);
        free(s);
    }
}
