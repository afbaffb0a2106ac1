/* sandbox.c: start and stop the private OVS/OVN of --sandbox (sandbox.h).
 *
 * Every daemon is started with --detach (it returns once it is ready) and
 * absolute --pidfile/--unixctl/--log-file paths, through lq_exec (argv, no
 * shell).  A daemon left running by a crashed predecessor is found through
 * its pidfile and stopped first. */
#include <config.h>
#include "sandbox.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "fileutil.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(sandbox);

#define VSWITCH_SCHEMA "/usr/share/openvswitch/vswitch.ovsschema"
#define NB_SCHEMA "/usr/share/ovn/ovn-nb.ovsschema"
#define SB_SCHEMA "/usr/share/ovn/ovn-sb.ovsschema"
#define START_TIMEOUT_MS 30000

/* Daemons in start order; stopped in reverse. */
static const char *const daemons[][2] = {
    { "ovs", "ovsdb-server" },
    { "ovn", "ovnnb_db" },
    { "ovn", "ovnsb_db" },
    { "ovs", "ovs-vswitchd" },
    { "ovn", "ovn-northd" },
    { "ovn", "ovn-controller" },
};

static char *
pidfile(const struct lq_sandbox *sb, size_t i)
{
    return xasprintf("%s/%s.pid", !strcmp(daemons[i][0], "ovs")
                     ? sb->ovs_dir : sb->ovn_dir, daemons[i][1]);
}

/* A detached daemon is reparented to pid 1, which may be slow to reap it:
 * a zombie counts as gone. */
static bool
process_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long) pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return false;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static void
stop_pid(pid_t pid, const char *name)
{
    if (!pid || !process_alive(pid)) {
        return;
    }
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        if (!process_alive(pid)) {
            return;
        }
        nanosleep(&ts, NULL);
    }
    VLOG_WARN("%s (pid %ld) ignored SIGTERM: killing it", name, (long) pid);
    kill(pid, SIGKILL);
}

static void
stop_all(const struct lq_sandbox *sb)
{
    for (size_t i = ARRAY_SIZE(daemons); i-- > 0; ) {
        char *path = pidfile(sb, i);
        stop_pid(lq_read_pidfile(path), daemons[i][1]);
        unlink(path);
        free(path);
    }
}

static struct lq_error *
run(const struct lq_sandbox *sb, const char *const argv[])
{
    char *env[9];
    env[0] = xasprintf("OVS_RUNDIR=%s", sb->ovs_dir);
    env[1] = xasprintf("OVS_LOGDIR=%s", sb->ovs_dir);
    env[2] = xasprintf("OVS_DBDIR=%s", sb->ovs_dir);
    env[3] = xasprintf("OVS_SYSCONFDIR=%s", sb->ovs_dir);
    env[4] = xasprintf("OVN_RUNDIR=%s", sb->ovn_dir);
    env[5] = xasprintf("OVN_LOGDIR=%s", sb->ovn_dir);
    env[6] = xasprintf("OVN_DBDIR=%s", sb->ovn_dir);
    env[7] = xasprintf("OVN_SYSCONFDIR=%s", sb->ovn_dir);
    env[8] = NULL;
    struct lq_error *e = lq_exec(argv, (const char *const *) env,
                                 START_TIMEOUT_MS, NULL);
    for (int i = 0; i < 8; i++) {
        free(env[i]);
    }
    return e;
}

static struct lq_error *
create_db(const struct lq_sandbox *sb, const char *dir, const char *file,
          const char *schema)
{
    char *path = xasprintf("%s/%s", dir, file);
    struct lq_error *e = NULL;
    if (access(path, F_OK)) {
        const char *argv[] = { "ovsdb-tool", "create", path, schema, NULL };
        e = run(sb, argv);
    }
    free(path);
    return e;
}

static struct lq_error *
start_ovsdb(const struct lq_sandbox *sb, const char *dir, const char *name,
            const char *db, const char *sock)
{
    char *db_path = xasprintf("%s/%s", dir, db);
    char *remote = xasprintf("--remote=punix:%s/%s", dir, sock);
    char *pid = xasprintf("--pidfile=%s/%s.pid", dir, name);
    char *ctl = xasprintf("--unixctl=%s/%s.ctl", dir, name);
    char *log = xasprintf("--log-file=%s/%s.log", dir, name);
    const char *argv[] = { "ovsdb-server", db_path, remote, pid, ctl, log,
                           "--detach", "--no-chdir", NULL };
    struct lq_error *e = run(sb, argv);
    free(db_path);
    free(remote);
    free(pid);
    free(ctl);
    free(log);
    return e;
}

static struct lq_error *
start_daemons(struct lq_sandbox *sb)
{
    struct lq_error *e;
    const char *ovs = sb->ovs_dir, *ovn = sb->ovn_dir;

    if ((e = create_db(sb, ovs, "conf.db", VSWITCH_SCHEMA))
        || (e = create_db(sb, ovn, "ovnnb_db.db", NB_SCHEMA))
        || (e = create_db(sb, ovn, "ovnsb_db.db", SB_SCHEMA))
        || (e = start_ovsdb(sb, ovs, "ovsdb-server", "conf.db", "db.sock"))
        || (e = start_ovsdb(sb, ovn, "ovnnb_db", "ovnnb_db.db", "nb.sock"))
        || (e = start_ovsdb(sb, ovn, "ovnsb_db", "ovnsb_db.db", "sb.sock"))) {
        return e;
    }

    char *db = xasprintf("unix:%s/db.sock", ovs);
    char *pid = xasprintf("--pidfile=%s/ovs-vswitchd.pid", ovs);
    char *ctl = xasprintf("--unixctl=%s/ovs-vswitchd.ctl", ovs);
    char *log = xasprintf("--log-file=%s/ovs-vswitchd.log", ovs);
    const char *vswitchd[] = { sb->vswitchd, db, pid, ctl, log,
                               "--detach", "--no-chdir", NULL };
    e = run(sb, vswitchd);
    free(pid);
    free(ctl);
    free(log);
    if (e) {
        free(db);
        return e;
    }

    char *nb = xasprintf("--ovnnb-db=%s", sb->nb_remote);
    char *sbdb = xasprintf("--ovnsb-db=%s", sb->sb_remote);
    pid = xasprintf("--pidfile=%s/ovn-northd.pid", ovn);
    ctl = xasprintf("--unixctl=%s/ovn-northd.ctl", ovn);
    log = xasprintf("--log-file=%s/ovn-northd.log", ovn);
    const char *northd[] = { "ovn-northd", nb, sbdb, pid, ctl, log,
                             "--detach", "--no-chdir", NULL };
    e = run(sb, northd);
    free(nb);
    free(sbdb);
    free(pid);
    free(ctl);
    free(log);
    if (e) {
        free(db);
        return e;
    }

    free(db);
    return NULL;
}

struct lq_error *
lq_sandbox_start_controller(const struct lq_sandbox *sb)
{
    /* ovn-controller has no --unixctl here: OVN_RUNDIR places it. */
    char *db = xasprintf("unix:%s/db.sock", sb->ovs_dir);
    char *pid = xasprintf("--pidfile=%s/ovn-controller.pid", sb->ovn_dir);
    char *log = xasprintf("--log-file=%s/ovn-controller.log", sb->ovn_dir);
    const char *controller[] = { "ovn-controller", db, pid, log, "--detach",
                                 "--no-chdir", NULL };
    struct lq_error *e = run(sb, controller);
    free(pid);
    free(log);
    free(db);
    return e;
}

static char *
absolute(const char *dir)
{
    if (dir[0] == '/') {
        return xstrdup(dir);
    }
    char *cwd = getcwd(NULL, 0);
    char *abs = xasprintf("%s/%s", cwd ? cwd : ".", dir);
    free(cwd);
    return abs;
}

struct lq_error *
lq_sandbox_start(const char *dir, const char *vswitchd,
                 struct lq_sandbox **sbp)
{
    struct lq_sandbox *sb = xzalloc(sizeof *sb);
    sb->vswitchd = xstrdup(vswitchd ? vswitchd : "ovs-vswitchd");
    sb->dir = absolute(dir);
    sb->ovs_dir = xasprintf("%s/ovs", sb->dir);
    sb->ovn_dir = xasprintf("%s/ovn", sb->dir);
    sb->ovs_remote = xasprintf("unix:%s/db.sock", sb->ovs_dir);
    sb->nb_remote = xasprintf("unix:%s/nb.sock", sb->ovn_dir);
    sb->sb_remote = xasprintf("unix:%s/sb.sock", sb->ovn_dir);

    struct lq_error *e = NULL;
    if ((mkdir(sb->ovs_dir, 0700) && errno != EEXIST)
        || (mkdir(sb->ovn_dir, 0700) && errno != EEXIST)) {
        e = lq_error_new(LQ_INTERNAL, "--sandbox: cannot create %s/ovs and "
                         "ovn: %s", sb->dir, strerror(errno));
    }
    if (!e) {
        stop_all(sb);           /* Leftovers of a crashed run. */
        e = start_daemons(sb);
    }
    if (e) {
        lq_error_prefix(e, "--sandbox: starting OVS/OVN (logs in %s)",
                        sb->dir);
        lq_sandbox_stop(sb);
        *sbp = NULL;
        return e;
    }
    VLOG_INFO("sandbox OVS and OVN running under %s", sb->dir);
    *sbp = sb;
    return NULL;
}

void
lq_sandbox_stop(struct lq_sandbox *sb)
{
    if (!sb) {
        return;
    }
    stop_all(sb);
    free(sb->dir);
    free(sb->ovs_dir);
    free(sb->ovn_dir);
    free(sb->ovs_remote);
    free(sb->nb_remote);
    free(sb->sb_remote);
    free(sb->vswitchd);
    free(sb);
}
