/* sandbox_ceph.c: start/stop the sandbox's Ceph (see sandbox_ceph.h).
 *
 * The script prints shell assignments (CEPH_CONF=..., CEPH_KEYRING=...);
 * they are parsed here, never evaluated. */
#include <config.h>
#include "sandbox_ceph.h"

#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(sandbox_ceph);

#define POOL_ID "sandbox-ceph"

struct lq_sandbox_ceph {
    char *script;
    char *dir;
};

static const char *
script_path(void)
{
    const char *env = getenv("LQ_CEPH_VSTART");
    return env && *env ? env : LQ_CEPH_VSTART;
}

/* Value of KEY=VALUE in the script's output; single quotes removed. */
static char *
assignment(const char *out, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        if (!strncmp(p, key, klen) && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t n = strcspn(v, "\n");
            if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'') {
                v++;
                n -= 2;
            }
            return xmemdup0(v, n);
        }
    }
    return NULL;
}

static void
add_param(struct lq_kv_list *list, const char *key, const char *value)
{
    list->items = xrealloc(list->items, (list->n + 1) * sizeof *list->items);
    list->items[list->n].key = xstrdup(key);
    list->items[list->n].value = xstrdup(value);
    list->n++;
}

struct lq_error *
lq_sandbox_ceph_start(const char *sandbox_dir, struct lq_config *c,
                      struct lq_sandbox_ceph **cephp)
{
    struct lq_sandbox_ceph *ceph = xzalloc(sizeof *ceph);
    ceph->script = xstrdup(script_path());
    ceph->dir = xasprintf("%s/ceph", sandbox_dir);
    *cephp = NULL;

    /* A previous run's daemons (memstore: nothing to keep) go first. */
    const char *stop[] = { ceph->script, "stop", ceph->dir, NULL };
    lq_error_free(lq_exec(stop, NULL, 30000, NULL));

    const char *start[] = { ceph->script, "start", ceph->dir, "--mgr", NULL };
    struct lq_exec_result r;
    struct lq_error *e = lq_exec(start, NULL, 120000, &r);
    char *conf = e ? NULL : assignment(r.out, "CEPH_CONF");
    char *keyring = e ? NULL : assignment(r.out, "CEPH_KEYRING");
    char *user = e ? NULL : assignment(r.out, "CEPH_USER");
    char *pool = e ? NULL : assignment(r.out, "RBD_POOL");
    lq_exec_result_clear(&r);
    if (!e && (!conf || !keyring || !user || !pool)) {
        e = lq_error_new(LQ_INTERNAL, "%s printed no CEPH_CONF/CEPH_KEYRING",
                         ceph->script);
    }
    if (!e) {
        for (size_t i = 0; i < c->storage.n_pools; i++) {
            if (!strcmp(c->storage.pools[i].id, POOL_ID)) {
                e = lq_error_new(LQ_INVALID_ARGUMENT, "--sandbox-ceph: the "
                                 "configuration already has a pool \"%s\"",
                                 POOL_ID);
            }
        }
    }
    if (!e) {
        c->storage.pools = xrealloc(c->storage.pools, (c->storage.n_pools + 1)
                                    * sizeof *c->storage.pools);
        struct lq_pool_config *p = &c->storage.pools[c->storage.n_pools++];
        memset(p, 0, sizeof *p);
        p->id = xstrdup(POOL_ID);
        p->backend = xstrdup("rbd");
        add_param(&p->params, "ceph_conf", conf);
        add_param(&p->params, "ceph_keyring", keyring);
        add_param(&p->params, "ceph_user", user);
        add_param(&p->params, "rbd_pool", pool);
        VLOG_INFO("sandbox Ceph running under %s (pool \"%s\")", ceph->dir,
                  POOL_ID);
    }
    free(conf);
    free(keyring);
    free(user);
    free(pool);
    if (e) {
        lq_error_prefix(e, "--sandbox-ceph");
        lq_sandbox_ceph_stop(ceph);
        return e;
    }
    *cephp = ceph;
    return NULL;
}

void
lq_sandbox_ceph_stop(struct lq_sandbox_ceph *ceph)
{
    if (ceph) {
        const char *stop[] = { ceph->script, "stop", ceph->dir, NULL };
        struct lq_error *e = lq_exec(stop, NULL, 30000, NULL);
        if (e) {
            VLOG_WARN("%s", e->message);
            lq_error_free(e);
        }
        free(ceph->script);
        free(ceph->dir);
        free(ceph);
    }
}
