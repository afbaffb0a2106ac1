/* iscsi.c: the iSCSI storage driver: LUNs of one target, through libiscsi
 * (no kernel initiator), and optionally exported from this node by tgtd.
 *
 * Design decisions:
 * - A pool is one target (portal + target_iqn) with optional one-way or
 *   mutual CHAP.  Volume <id> is the LUN whose standard INQUIRY says
 *   vendor "LQ", product "limiquantix" and whose unit serial number (VPD
 *   page 0x80) is <id>: the target itself carries our ids, so any node
 *   attached to the pool lists the same volumes.  tgt keeps at most 36
 *   bytes of serial, so ids in iscsi pools are at most 36 characters (a
 *   UUID fits).
 * - Consumer mode (no `export`): the node discovers and validates LUNs
 *   with libiscsi (REPORT LUNS, INQUIRY, READ CAPACITY(16)) and hands
 *   libvirt a network disk (protocol iscsi, CHAP through a libvirt
 *   secret).  Volumes are created and deleted on the exporting node:
 *   mutating calls are failed_precondition here.
 * - Export mode (`export.backing_pool`, the Cinder LVM+iSCSI pattern):
 *   this node runs the target with tgtd.  A volume is a sparse raw file
 *   "lq-lun~<id>.raw" with its metadata "lq-lun~<id>.meta" (name, spec,
 *   created_at, LUN number) in the backing `local` pool's directory, made
 *   under "lq-tmp~lun~<id>.*" and published by renaming the file last
 *   (as the local driver does, through pooldir.h: no path can escape
 *   that directory), and a LUN of the target backed by it.  tgtd keeps
 *   its configuration in memory only, so the files are the truth: every
 *   call first reconciles the target (created with the CHAP account(s)
 *   and ACL if missing) and adds a LUN for every published file that has
 *   none; a LUN whose file is gone is removed.  Deleting a volume removes
 *   its LUN first.  A new LUN is checked through libiscsi (serial and
 *   capacity) before the create succeeds.
 * - tgtd is driven with tgtadm through lq_exec (argv, timeout) on the
 *   configured control port; calls that change the target are serialized
 *   by a pool mutex.
 * - Secrets: CHAP secrets stay in memory and go only to libiscsi and to
 *   tgtadm's argv; no message, log line or API answer contains them.
 *   "Attached" is "the target has a logged-in session" (tgt does not say
 *   which LUN a session uses).
 * - No snapshots or clones: a LUN is a plain block device.  Those calls
 *   are `unimplemented`, with the reason. */
#include <config.h>
#include "iscsi.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "driver.h"
#include "exec.h"
#include "image.h"
#include "local.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "pooldir.h"
#include "sset.h"
#include "jsonx.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(storage_iscsi);

#define TGTADM "tgtadm"
#define TGTADM_TIMEOUT_MS 30000
#define ISCSI_TIMEOUT_S 10
#define LQ_VENDOR "LQ"
#define LQ_PRODUCT "limiquantix"
#define COPY_CHUNK (1u << 20)
#define ZERO_BLOCK (64u << 10)

struct iscsi_pool {
    char *id;
    char *portal;               /* As configured ("host:port"). */
    char *host;
    int port;
    char *target_iqn;
    char *chap_user, *chap_secret;
    char *mutual_user, *mutual_secret;
    char *initiator_iqn;        /* Ours, for libiscsi. */

    /* Export mode. */
    char *backing_pool_id;      /* NULL: consumer mode. */
    const char *backing_dir;    /* The backing local pool's directory. */
    char *control_port;         /* tgtadm -C */
    char **acl;                 /* Initiator addresses/names; "ALL". */
    size_t n_acl;
    struct ovs_mutex mutex;     /* Changes to the target. */
};

/* ---- Pure helpers (unit-tested) ------------------------------------------ */

struct lq_error *
lq_iscsi_parse_portal(const char *field, const char *portal, char **hostp,
                      int *portp)
{
    *hostp = NULL;
    *portp = 3260;
    if (!portal || !*portal) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: required", field);
    }
    const char *host = portal, *port = NULL;
    size_t hlen;
    if (portal[0] == '[') {
        const char *end = strchr(portal, ']');
        if (!end || end == portal + 1 || (end[1] && end[1] != ':')) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not "
                                "[ipv6]:port", field, portal);
        }
        host = portal + 1;
        hlen = end - host;
        port = end[1] ? end + 2 : NULL;
    } else {
        const char *colon = strchr(portal, ':');
        if (colon && strchr(colon + 1, ':')) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\": write IPv6 "
                                "addresses as [addr]:port", field, portal);
        }
        hlen = colon ? (size_t) (colon - portal) : strlen(portal);
        port = colon ? colon + 1 : NULL;
    }
    if (!hlen || hlen > 253) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" has no host",
                            field, portal);
    }
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = host[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != ':' && c != '_') {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\": invalid "
                                "character in host", field, portal);
        }
    }
    if (port) {
        char *end;
        errno = 0;
        long v = strtol(port, &end, 10);
        if (errno || *end || end == port || v < 1 || v > 65535) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\": port must "
                                "be 1..65535", field, portal);
        }
        *portp = v;
    }
    *hostp = xmemdup0(host, hlen);
    return NULL;
}

struct lq_error *
lq_iscsi_check_iqn(const char *field, const char *iqn)
{
    if (!iqn || !*iqn) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: required", field);
    }
    size_t len = strlen(iqn);
    if (len > 223) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: longer than 223 bytes",
                            field);
    }
    for (const char *p = iqn; *p; p++) {
        if (!islower((unsigned char) *p) && !isdigit((unsigned char) *p)
            && *p != '.' && *p != '-' && *p != ':') {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\": only lower "
                                "case letters, digits, '.', '-' and ':'",
                                field, iqn);
        }
    }
    bool ok;
    if (!strncmp(iqn, "iqn.", 4)) {
        /* iqn.YYYY-MM.<reversed domain>... */
        ok = len > 12 && isdigit((unsigned char) iqn[4])
             && isdigit((unsigned char) iqn[5])
             && isdigit((unsigned char) iqn[6])
             && isdigit((unsigned char) iqn[7]) && iqn[8] == '-'
             && isdigit((unsigned char) iqn[9])
             && isdigit((unsigned char) iqn[10]) && iqn[11] == '.'
             && iqn[12] != '.' && iqn[12] != ':';
    } else if (!strncmp(iqn, "eui.", 4) || !strncmp(iqn, "naa.", 4)) {
        size_t n = len - 4;
        ok = n == 16 || (n == 32 && iqn[0] == 'n');
        for (size_t i = 4; ok && i < len; i++) {
            ok = isxdigit((unsigned char) iqn[i]);
        }
    } else {
        ok = false;
    }
    return ok ? NULL
           : lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not an iSCSI "
                          "name (iqn.YYYY-MM.domain[:name], eui. or naa.)",
                          field, iqn);
}

struct lq_error *
lq_iscsi_check_chap(const char *field, const char *v, bool secret)
{
    size_t len = v ? strlen(v) : 0;
    size_t min = secret ? 12 : 1;
    if (len < min || len > 255) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: must be %"PRIuSIZE
                            "..255 bytes long", field, min);
    }
    for (const char *p = v; *p; p++) {
        if (*p <= ' ' || *p > '~' || *p == ',') {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: only printable "
                                "ASCII without spaces or ','", field);
        }
    }
    return NULL;
}

void
lq_tgt_target_clear(struct lq_tgt_target *t)
{
    for (size_t i = 0; i < t->n_luns; i++) {
        free(t->luns[i].serial);
        free(t->luns[i].path);
    }
    free(t->luns);
    for (size_t i = 0; i < t->n_accounts; i++) {
        free(t->accounts[i]);
    }
    free(t->accounts);
    for (size_t i = 0; i < t->n_acls; i++) {
        free(t->acls[i]);
    }
    free(t->acls);
    memset(t, 0, sizeof *t);
}

static size_t
indent_of(const char *line)
{
    return strspn(line, " ");
}

static void
add_str(char ***arrp, size_t *np, const char *s, size_t len)
{
    *arrp = xrealloc(*arrp, (*np + 1) * sizeof **arrp);
    (*arrp)[(*np)++] = xmemdup0(s, len);
}

void
lq_tgt_parse_show(const char *text, const char *iqn, struct lq_tgt_target *t,
                  int *max_tidp)
{
    enum { S_NONE, S_NEXUS, S_LUNS, S_ACCOUNTS, S_ACLS } section = S_NONE;
    bool mine = false;
    struct lq_tgt_lun *lun = NULL;

    memset(t, 0, sizeof *t);
    *max_tidp = 0;
    for (const char *line = text; line && *line; ) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t) (nl - line) : strlen(line);
        char *l = xmemdup0(line, len);
        size_t ind = indent_of(l);
        const char *s = l + ind;
        int tid, n;
        unsigned long long size;

        if (ind == 0 && sscanf(l, "Target %d: %n", &tid, &n) == 1) {
            *max_tidp = MAX(*max_tidp, tid);
            mine = !strcmp(l + n, iqn);
            if (mine) {
                t->tid = tid;
            }
            section = S_NONE;
        } else if (!mine) {
            /* Another target's lines. */
        } else if (ind == 4) {
            section = !strcmp(s, "I_T nexus information:") ? S_NEXUS
                      : !strcmp(s, "LUN information:") ? S_LUNS
                      : !strcmp(s, "Account information:") ? S_ACCOUNTS
                      : !strcmp(s, "ACL information:") ? S_ACLS : S_NONE;
        } else if (section == S_NEXUS && ind == 8
                   && !strncmp(s, "I_T nexus:", 10)) {
            t->n_nexus++;
        } else if (section == S_LUNS && ind == 8
                   && sscanf(s, "LUN: %d", &tid) == 1) {
            t->luns = xrealloc(t->luns, (t->n_luns + 1) * sizeof *t->luns);
            lun = &t->luns[t->n_luns++];
            memset(lun, 0, sizeof *lun);
            lun->lun = tid;
        } else if (section == S_LUNS && lun && ind == 12) {
            if (!strncmp(s, "SCSI SN: ", 9)) {
                free(lun->serial);
                lun->serial = xstrdup(s + 9);
            } else if (!strncmp(s, "Backing store path: ", 20)) {
                free(lun->path);
                lun->path = xstrdup(s + 20);
            } else if (sscanf(s, "Size: %llu MB", &size) == 1) {
                lun->size_mb = size;
            }
        } else if (section == S_ACCOUNTS && ind == 8 && *s) {
            add_str(&t->accounts, &t->n_accounts, s, strlen(s));
        } else if (section == S_ACLS && ind == 8 && *s) {
            add_str(&t->acls, &t->n_acls, s, strlen(s));
        }
        free(l);
        line = nl ? nl + 1 : NULL;
    }
}

/* ---- Open/close/link --------------------------------------------------------- */

static const char *
param(const struct lq_pool_config *pc, const char *key)
{
    const char *v = lq_kv_list_get(&pc->params, key);
    return v && *v ? v : NULL;
}

static struct lq_error *
check_pair(const struct lq_pool_config *pc, const char *ukey,
           const char *skey)
{
    const char *u = param(pc, ukey), *s = param(pc, skey);
    struct lq_error *e = NULL;
    char *f;
    if (!u != !s) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s].%s: set "
                            "both %s and %s, or neither", pc->id,
                            u ? skey : ukey, ukey, skey);
    }
    if (u) {
        f = xasprintf("storage.pools[%s].%s", pc->id, ukey);
        e = lq_iscsi_check_chap(f, u, false);
        free(f);
    }
    if (!e && s) {
        f = xasprintf("storage.pools[%s].%s", pc->id, skey);
        e = lq_iscsi_check_chap(f, s, true);
        free(f);
    }
    return e;
}

static void
drv_close(void *impl)
{
    struct iscsi_pool *p = impl;
    if (!p) {
        return;
    }
    free(p->id);
    free(p->portal);
    free(p->host);
    free(p->target_iqn);
    free(p->chap_user);
    free(p->chap_secret);
    free(p->mutual_user);
    free(p->mutual_secret);
    free(p->initiator_iqn);
    free(p->backing_pool_id);
    free(p->control_port);
    for (size_t i = 0; i < p->n_acl; i++) {
        free(p->acl[i]);
    }
    free(p->acl);
    ovs_mutex_destroy(&p->mutex);
    free(p);
}

static char *
make_initiator_iqn(void)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&s, "iqn.2026-11.io.limiquantix:node.");
    for (const char *c = host; *c && s.length < 200; c++) {
        unsigned char ch = tolower((unsigned char) *c);
        ds_put_char(&s, isalnum(ch) || ch == '-' || ch == '.' ? ch : '-');
    }
    return ds_steal_cstr(&s);
}

static struct lq_error *
drv_open(const struct lq_pool_config *pc, void **implp)
{
    struct lq_error *e;
    char *f = xasprintf("storage.pools[%s].portal", pc->id);
    char *host;
    int port;
    e = lq_iscsi_parse_portal(f, param(pc, "portal"), &host, &port);
    free(f);
    if (e) {
        return e;
    }
    f = xasprintf("storage.pools[%s].target_iqn", pc->id);
    e = lq_iscsi_check_iqn(f, param(pc, "target_iqn"));
    free(f);
    if (!e) {
        e = check_pair(pc, "chap_user", "chap_secret");
    }
    if (!e) {
        e = check_pair(pc, "mutual_chap_user", "mutual_chap_secret");
    }
    if (!e && param(pc, "mutual_chap_user") && !param(pc, "chap_user")) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s].mutual_chap_"
                         "user: mutual CHAP needs chap_user and chap_secret "
                         "too", pc->id);
    }
    const char *backing = param(pc, "export.backing_pool");
    const char *cport = param(pc, "export.tgtd_control_port");
    const char *acl = param(pc, "export.acl");
    if (!e && !backing && (cport || acl)) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s].export: "
                         "tgtd_control_port and acl need backing_pool",
                         pc->id);
    }
    if (!e && backing && !param(pc, "chap_user")) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s].chap_user: "
                         "required when the pool is exported (a target "
                         "without CHAP would serve any initiator the ACL "
                         "admits)", pc->id);
    }
    if (!e && cport) {
        char *end;
        long v = strtol(cport, &end, 10);
        if (*end || end == cport || v < 0 || v > 65535) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s].export."
                             "tgtd_control_port: expected 0..65535, got "
                             "\"%s\"", pc->id, cport);
        }
    }
    if (e) {
        free(host);
        return e;
    }

    struct iscsi_pool *p = xzalloc(sizeof *p);
    p->id = xstrdup(pc->id);
    p->portal = xstrdup(param(pc, "portal"));
    p->host = host;
    p->port = port;
    p->target_iqn = xstrdup(param(pc, "target_iqn"));
    p->chap_user = nullable_xstrdup(param(pc, "chap_user"));
    p->chap_secret = nullable_xstrdup(param(pc, "chap_secret"));
    p->mutual_user = nullable_xstrdup(param(pc, "mutual_chap_user"));
    p->mutual_secret = nullable_xstrdup(param(pc, "mutual_chap_secret"));
    p->initiator_iqn = make_initiator_iqn();
    p->backing_pool_id = nullable_xstrdup(backing);
    p->control_port = xstrdup(cport ? cport : "0");
    char *list = xstrdup(acl ? acl : "ALL");
    char *save = NULL;
    for (char *tok = strtok_r(list, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        add_str(&p->acl, &p->n_acl, tok, strlen(tok));
    }
    free(list);
    ovs_mutex_init(&p->mutex);
    for (size_t i = 0; i < p->n_acl; i++) {
        const char *a = p->acl[i];
        bool ok = *a != '-';
        for (const char *c = a; *c && ok; c++) {
            ok = isalnum((unsigned char) *c) || strchr(".:-/_[]", *c);
        }
        if (!ok) {
            e = lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s].export."
                             "acl: \"%s\" is not an initiator address, "
                             "network or name", pc->id, a);
            drv_close(p);
            return e;
        }
    }
    *implp = p;
    return NULL;
}

static struct lq_error *
drv_link(void *impl, struct lq_storage_pool *pools, size_t n)
{
    struct iscsi_pool *p = impl;
    if (!p->backing_pool_id) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(pools[i].id, p->backing_pool_id)) {
            if (pools[i].driver != &lq_local_driver) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s]."
                                    "export.backing_pool: pool %s is a %s "
                                    "pool; an export is backed by a local "
                                    "pool", p->id, pools[i].id,
                                    pools[i].backend);
            }
            p->backing_dir = lq_local_pool_path(pools[i].impl);
            return NULL;
        }
    }
    return lq_error_new(LQ_INVALID_ARGUMENT, "storage.pools[%s].export."
                        "backing_pool: no pool \"%s\"", p->id,
                        p->backing_pool_id);
}

static uint32_t
drv_max_clone_depth(void *impl OVS_UNUSED)
{
    return 0;
}

/* ---- libiscsi --------------------------------------------------------------- */

struct lun_info {
    int lun;
    char *serial;
    uint64_t size;
};

static void
lun_infos_free(struct lun_info *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i].serial);
    }
    free(l);
}

static struct lq_error *
iscsi_err(const struct iscsi_pool *p, struct iscsi_context *c,
          enum lq_code code, const char *what)
{
    /* libiscsi's messages carry no secrets (it never prints them). */
    return lq_error_new(code, "pool %s: iSCSI target %s at %s: %s: %s", p->id,
                        p->target_iqn, p->portal, what,
                        c ? iscsi_get_error(c) : "out of memory");
}

static struct lq_error *
session_open(const struct iscsi_pool *p, struct iscsi_context **cp)
{
    *cp = NULL;
    struct iscsi_context *c = iscsi_create_context(p->initiator_iqn);
    if (!c) {
        return iscsi_err(p, NULL, LQ_INTERNAL, "creating a context");
    }
    char *portal = strchr(p->host, ':')
        ? xasprintf("[%s]:%d", p->host, p->port)
        : xasprintf("%s:%d", p->host, p->port);
    iscsi_set_targetname(c, p->target_iqn);
    iscsi_set_session_type(c, ISCSI_SESSION_NORMAL);
    iscsi_set_header_digest(c, ISCSI_HEADER_DIGEST_NONE_CRC32C);
    iscsi_set_timeout(c, ISCSI_TIMEOUT_S);
    if (p->chap_user) {
        iscsi_set_initiator_username_pwd(c, p->chap_user, p->chap_secret);
    }
    if (p->mutual_user) {
        iscsi_set_target_username_pwd(c, p->mutual_user, p->mutual_secret);
    }
    int r = iscsi_full_connect_sync(c, portal, 0);
    free(portal);
    if (r) {
        struct lq_error *e = iscsi_err(p, c, LQ_UNAVAILABLE, "login");
        iscsi_destroy_context(c);
        return e;
    }
    *cp = c;
    return NULL;
}

static void
session_close(struct iscsi_context *c)
{
    if (c) {
        iscsi_logout_sync(c);
        iscsi_destroy_context(c);
    }
}

/* True if the space-padded INQUIRY field 'f' is 's'. */
static bool
field_is(const char *f, const char *s)
{
    size_t n = strlen(s);
    return !strncmp(f, s, n) && f[n + strspn(f + n, " ")] == '\0';
}

/* Our volume on 'lun': its id (serial) if the LUN is ours, its size. */
static struct lq_error *
probe_lun(const struct iscsi_pool *p, struct iscsi_context *c, int lun,
          char **serialp, uint64_t *sizep)
{
    *serialp = NULL;
    *sizep = 0;
    struct scsi_task *t = iscsi_inquiry_sync(c, lun, 0, 0, 64);
    if (!t || t->status != SCSI_STATUS_GOOD) {
        if (t) {
            scsi_free_scsi_task(t);
        }
        return iscsi_err(p, c, LQ_UNAVAILABLE, "INQUIRY");
    }
    struct scsi_inquiry_standard *std = scsi_datain_unmarshall(t);
    bool ours = std && field_is(std->vendor_identification, LQ_VENDOR)
                && field_is(std->product_identification, LQ_PRODUCT);
    scsi_free_scsi_task(t);
    if (!ours) {
        return NULL;
    }

    t = iscsi_inquiry_sync(c, lun, 1, SCSI_INQUIRY_PAGECODE_UNIT_SERIAL_NUMBER,
                           255);
    if (!t || t->status != SCSI_STATUS_GOOD) {
        if (t) {
            scsi_free_scsi_task(t);
        }
        return iscsi_err(p, c, LQ_UNAVAILABLE, "INQUIRY (serial number)");
    }
    struct scsi_inquiry_unit_serial_number *usn = scsi_datain_unmarshall(t);
    char *serial = NULL;
    if (usn && usn->usn) {
        /* Padded with spaces, possibly on both sides. */
        const char *b = usn->usn + strspn(usn->usn, " ");
        size_t n = strlen(b);
        while (n && b[n - 1] == ' ') {
            n--;
        }
        serial = xmemdup0(b, n);
    }
    scsi_free_scsi_task(t);

    /* A new session first gets a UNIT ATTENTION (bus reset) per LUN,
     * which INQUIRY ignores but other commands report: consume it. */
    for (int i = 0; i < 3; i++) {
        t = iscsi_testunitready_sync(c, lun);
        bool good = t && t->status == SCSI_STATUS_GOOD;
        if (t) {
            scsi_free_scsi_task(t);
        }
        if (good) {
            break;
        }
    }
    t = iscsi_readcapacity16_sync(c, lun);
    if (!t || t->status != SCSI_STATUS_GOOD) {
        if (t) {
            scsi_free_scsi_task(t);
        }
        free(serial);
        return iscsi_err(p, c, LQ_UNAVAILABLE, "READ CAPACITY(16)");
    }
    struct scsi_readcapacity16 *rc = scsi_datain_unmarshall(t);
    if (rc) {
        *sizep = (rc->returned_lba + 1) * rc->block_length;
    }
    scsi_free_scsi_task(t);

    struct lq_error *bad = serial ? lq_storage_check_id("serial", serial)
                                  : NULL;
    if (serial && !bad) {
        *serialp = serial;
    } else {
        lq_error_free(bad);
        free(serial);
    }
    return NULL;
}

/* Every LUN of ours on the target, as the target reports it. */
static struct lq_error *
discover(const struct iscsi_pool *p, struct lun_info **lunsp, size_t *np)
{
    *lunsp = NULL;
    *np = 0;
    struct iscsi_context *c;
    struct lq_error *e = session_open(p, &c);
    if (e) {
        return e;
    }
    struct scsi_task *t = iscsi_reportluns_sync(c, 0, 16384);
    struct scsi_reportluns_list *list = t && t->status == SCSI_STATUS_GOOD
                                        ? scsi_datain_unmarshall(t) : NULL;
    if (!list) {
        e = iscsi_err(p, c, LQ_UNAVAILABLE, "REPORT LUNS");
    }
    struct lun_info *luns = NULL;
    size_t n = 0;
    for (uint32_t i = 0; !e && i < list->num; i++) {
        char *serial;
        uint64_t size;
        e = probe_lun(p, c, list->luns[i], &serial, &size);
        if (!e && serial) {
            luns = xrealloc(luns, (n + 1) * sizeof *luns);
            luns[n].lun = list->luns[i];
            luns[n].serial = serial;
            luns[n].size = size;
            n++;
        }
    }
    if (t) {
        scsi_free_scsi_task(t);
    }
    session_close(c);
    if (e) {
        lun_infos_free(luns, n);
        return e;
    }
    *lunsp = luns;
    *np = n;
    return NULL;
}

/* ---- tgtadm (export mode) --------------------------------------------------- */

static struct lq_error *
tgtadm(const struct iscsi_pool *p, const char *const args[],
       struct lq_exec_result *r)
{
    const char *argv[32] = { TGTADM, "-C", p->control_port, "--lld", "iscsi" };
    size_t n = 5;
    for (size_t i = 0; args[i]; i++) {
        ovs_assert(n < ARRAY_SIZE(argv) - 1);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    struct lq_exec_result local;
    struct lq_error *e = lq_exec(argv, NULL, TGTADM_TIMEOUT_MS,
                                 r ? r : &local);
    if (!r) {
        lq_exec_result_clear(&local);
    }
    if (e) {
        if (strstr(e->message, "not connected")
            || strstr(e->message, "can't send")
            || strstr(e->message, "failed to send")
            || strstr(e->message, "cannot run")) {
            e->code = LQ_UNAVAILABLE;
        }
        e = lq_error_prefix(e, "pool %s: tgtd (control port %s)", p->id,
                            p->control_port);
    }
    return e;
}

static struct lq_error *
tgt_show(const struct iscsi_pool *p, struct lq_tgt_target *t, int *max_tidp)
{
    const char *args[] = { "--mode", "target", "--op", "show", NULL };
    struct lq_exec_result r;
    struct lq_error *e = tgtadm(p, args, &r);
    if (!e) {
        lq_tgt_parse_show(r.out, p->target_iqn, t, max_tidp);
    }
    lq_exec_result_clear(&r);
    return e;
}

static bool
has_account(const char *show_out, const char *user)
{
    /* "Account list:\n    user\n..." */
    for (const char *l = show_out; l && *l; ) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t) (nl - l) : strlen(l);
        size_t ind = strspn(l, " ");
        if (ind == 4 && len - ind == strlen(user)
            && !strncmp(l + ind, user, len - ind)) {
            return true;
        }
        l = nl ? nl + 1 : NULL;
    }
    return false;
}

/* Makes the CHAP account 'user' exist with 'secret' and binds it. */
static struct lq_error *
tgt_account(const struct iscsi_pool *p, const char *tid, const char *user,
            const char *secret, bool outgoing)
{
    const char *show[] = { "--mode", "account", "--op", "show", NULL };
    struct lq_exec_result r;
    struct lq_error *e = tgtadm(p, show, &r);
    if (!e && !has_account(r.out, user)) {
        const char *add[] = { "--mode", "account", "--op", "new", "--user",
                              user, "--password", secret, NULL };
        e = tgtadm(p, add, NULL);
    }
    lq_exec_result_clear(&r);
    if (!e) {
        const char *bind[] = { "--mode", "account", "--op", "bind", "--tid",
                               tid, "--user", user,
                               outgoing ? "--outgoing" : NULL, NULL };
        e = tgtadm(p, bind, NULL);
    }
    return e;
}

/* The target, created with its accounts and ACL if tgtd lacks it. */
static struct lq_error *
tgt_ensure_target(const struct iscsi_pool *p, struct lq_tgt_target *t)
{
    int max_tid;
    struct lq_error *e = tgt_show(p, t, &max_tid);
    if (e || t->tid) {
        return e;
    }
    char *tid = xasprintf("%d", max_tid + 1);
    const char *add[] = { "--mode", "target", "--op", "new", "--tid", tid,
                          "--targetname", p->target_iqn, NULL };
    e = tgtadm(p, add, NULL);
    if (!e) {
        e = tgt_account(p, tid, p->chap_user, p->chap_secret, false);
    }
    if (!e && p->mutual_user) {
        e = tgt_account(p, tid, p->mutual_user, p->mutual_secret, true);
    }
    for (size_t i = 0; !e && i < p->n_acl; i++) {
        bool name = !strncmp(p->acl[i], "iqn.", 4)
                    || !strncmp(p->acl[i], "eui.", 4)
                    || !strncmp(p->acl[i], "naa.", 4);
        const char *bind[] = { "--mode", "target", "--op", "bind", "--tid",
                               tid, name ? "--initiator-name"
                               : "--initiator-address", p->acl[i], NULL };
        e = tgtadm(p, bind, NULL);
    }
    if (!e) {
        VLOG_INFO("pool %s: created target %s (tid %s) on tgtd", p->id,
                  p->target_iqn, tid);
        lq_tgt_target_clear(t);
        e = tgt_show(p, t, &max_tid);
    }
    free(tid);
    return e;
}

static const struct lq_tgt_lun *
tgt_find_lun(const struct lq_tgt_target *t, const char *serial)
{
    for (size_t i = 0; i < t->n_luns; i++) {
        if (t->luns[i].serial && !strcmp(t->luns[i].serial, serial)) {
            return &t->luns[i];
        }
    }
    return NULL;
}

static struct lq_error *
tgt_lun_delete(const struct iscsi_pool *p, const struct lq_tgt_target *t,
               int lun)
{
    char *tid = xasprintf("%d", t->tid);
    char *l = xasprintf("%d", lun);
    const char *args[] = { "--mode", "logicalunit", "--op", "delete",
                           "--tid", tid, "--lun", l, NULL };
    struct lq_error *e = tgtadm(p, args, NULL);
    free(tid);
    free(l);
    return e;
}

/* Adds LUN 'lun' backed by entry 'name' of the backing directory. */
static struct lq_error *
tgt_lun_add(const struct iscsi_pool *p, const struct lq_tgt_target *t,
            const struct lq_pooldir *d, const char *name, int lun,
            const char *id)
{
    char *tid = xasprintf("%d", t->tid);
    char *l = xasprintf("%d", lun);
    /* tgtd opens the file through our checked directory descriptor. */
    char *path = lq_pooldir_path(d, name);
    const char *add[] = { "--mode", "logicalunit", "--op", "new", "--tid",
                          tid, "--lun", l, "--bstype", "rdwr",
                          "--backing-store", path, NULL };
    struct lq_error *e = tgtadm(p, add, NULL);
    if (!e) {
        char *params = xasprintf("vendor_id=%s,product_id=%s,scsi_sn=%s,"
                                 "thin_provisioning=1", LQ_VENDOR,
                                 LQ_PRODUCT, id);
        const char *upd[] = { "--mode", "logicalunit", "--op", "update",
                              "--tid", tid, "--lun", l, "--params", params,
                              NULL };
        e = tgtadm(p, upd, NULL);
        free(params);
        if (e) {
            lq_error_free(tgt_lun_delete(p, t, lun));
        }
    }
    free(path);
    free(tid);
    free(l);
    return lq_pooldir_fix_paths(d, e);
}

/* ---- Export-mode files -------------------------------------------------- */

static char *
lun_file(const char *id, const char *ext)
{
    return xasprintf("lq-lun~%s.%s", id, ext);
}

static char *
lun_tmp(const char *id, const char *ext)
{
    return xasprintf("lq-tmp~lun~%s.%s", id, ext);
}

/* The id in "lq-lun~<id>.raw", or NULL. */
static char *
lun_file_id(const char *name)
{
    size_t len = strlen(name);
    if (len <= 11 || strncmp(name, "lq-lun~", 7)
        || strcmp(name + len - 4, ".raw")) {
        return NULL;
    }
    char *id = xmemdup0(name + 7, len - 11);
    struct lq_error *e = lq_storage_check_id("id", id);
    if (e) {
        lq_error_free(e);
        free(id);
        return NULL;
    }
    return id;
}

static struct lq_error *
export_dir(const struct iscsi_pool *p, struct lq_pooldir *d)
{
    return lq_pooldir_open(d, p->id, p->backing_dir);
}

/* The metadata of published volume 'id'; LQ_NOT_FOUND if there is none. */
static struct lq_error *
export_meta(const struct iscsi_pool *p, const struct lq_pooldir *d,
            const char *id, struct json **mp, struct stat *stp)
{
    char *raw = lun_file(id, "raw");
    char *meta = lun_file(id, "meta");
    bool exists;
    *mp = NULL;
    struct lq_error *e = lq_pooldir_check(d, raw, &exists, stp);
    if (!e && !exists) {
        e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", id);
    }
    if (!e) {
        e = lq_pooldir_read_json(d, meta, mp);
        if (!e && strcmp(lq_json_member_string(*mp, "volume_id") ?: "", id)) {
            json_destroy(*mp);
            *mp = NULL;
            e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found (%s is "
                             "not its metadata)", id, meta);
        } else if (e && e->code == LQ_NOT_FOUND) {
            lq_error_free(e);
            e = lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found (pool "
                             "%s: %s has no metadata)", id, p->id, raw);
        }
    }
    free(raw);
    free(meta);
    return e;
}

static struct lq_error *
export_ids(const struct iscsi_pool *p, const struct lq_pooldir *d,
           struct sset *ids)
{
    DIR *dir = lq_pooldir_opendir(d);
    if (!dir) {
        return lq_error_new(LQ_UNAVAILABLE, "pool %s: reading %s: %s", p->id,
                            d->path, ovs_strerror(errno));
    }
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        char *id = lun_file_id(de->d_name);
        if (id) {
            sset_add_and_free(ids, id);
        }
    }
    closedir(dir);
    return NULL;
}

/* Reconciles tgtd with the files (see the top of the file).  Requires
 * p->mutex.  '*t' is the target afterwards. */
static struct lq_error *
export_sync(struct iscsi_pool *p, const struct lq_pooldir *d,
            struct lq_tgt_target *t)
    OVS_REQUIRES(p->mutex)
{
    struct lq_error *e = tgt_ensure_target(p, t);
    struct sset ids = SSET_INITIALIZER(&ids);
    bool changed = false;
    if (!e) {
        e = export_ids(p, d, &ids);
    }
    /* LUNs of ours whose file is gone. */
    for (size_t i = 0; !e && i < t->n_luns; i++) {
        const struct lq_tgt_lun *l = &t->luns[i];
        if (l->lun && l->serial && !sset_contains(&ids, l->serial)
            && l->path && strstr(l->path, "/lq-")) {
            e = tgt_lun_delete(p, t, l->lun);
            changed = true;
        }
    }
    const char *id;
    SSET_FOR_EACH (id, &ids) {
        struct json *m;
        if (e || tgt_find_lun(t, id) || export_meta(p, d, id, &m, NULL)) {
            continue;   /* Exported, or not (yet) a volume. */
        }
        int lun = lq_json_member_int(m, "lun");
        char *raw = lun_file(id, "raw");
        if (lun > 0) {
            e = tgt_lun_add(p, t, d, raw, lun, id);
            changed = true;
            VLOG_INFO("pool %s: re-exported volume %s as LUN %d", p->id, id,
                      lun);
        }
        free(raw);
        json_destroy(m);
    }
    sset_destroy(&ids);
    if (!e && changed) {
        int max_tid;
        lq_tgt_target_clear(t);
        e = tgt_show(p, t, &max_tid);
    }
    return e;
}

/* ---- Driver: status/info/list ------------------------------------------------- */

static struct lq_error *
consumer_refuse(const struct iscsi_pool *p, const char *what)
{
    return lq_error_new(LQ_FAILED_PRECONDITION, "pool %s only attaches "
                        "target %s: %s happens on the node that exports it",
                        p->id, p->target_iqn, what);
}

static struct lq_volume_info *
volume_new(const struct iscsi_pool *p, const char *id, int lun)
{
    struct lq_volume_info *v = lq_volume_info_new();
    v->id = xstrdup(id);
    v->pool_id = xstrdup(p->id);
    v->state = LQ_VOLUME_AVAILABLE;
    v->progress_percent = 100;
    v->backend_name = xasprintf("%s/%d", p->target_iqn, lun);
    return v;
}

static struct lq_volume_info *
export_info(const struct iscsi_pool *p, const char *id, const struct json *m,
            const struct stat *st, const struct lq_tgt_target *t)
{
    struct lq_volume_info *v = volume_new(p, id, lq_json_member_int(m, "lun"));
    const char *name = lq_json_member_string(m, "name");
    v->name = xstrdup(name ? name : id);
    v->create_spec = nullable_xstrdup(lq_json_member_string(m, "spec"));
    v->created_at = lq_json_member_int(m, "created_at");
    v->size_bytes = st->st_size;
    v->allocated_bytes = (uint64_t) st->st_blocks * 512;
    v->attached = t->n_nexus > 0;
    if (!tgt_find_lun(t, id)) {
        free(v->error_message);
        v->error_message = xstrdup("not exported by tgtd");
    }
    return v;
}

static struct lq_error *
drv_info(void *impl, const char *id, struct lq_volume_info **infop)
{
    struct iscsi_pool *p = impl;
    *infop = NULL;
    if (!p->backing_dir) {
        struct lun_info *luns;
        size_t n;
        struct lq_error *e = discover(p, &luns, &n);
        for (size_t i = 0; !e && i < n; i++) {
            if (!strcmp(luns[i].serial, id)) {
                struct lq_volume_info *v = volume_new(p, id, luns[i].lun);
                v->name = xstrdup(id);
                v->size_bytes = luns[i].size;
                v->allocated_bytes = luns[i].size;
                *infop = v;
            }
        }
        lun_infos_free(luns, e ? 0 : n);
        return e ? e : *infop ? NULL
               : lq_error_new(LQ_NOT_FOUND, "volume \"%s\" not found", id);
    }

    struct lq_pooldir d;
    struct lq_error *e = export_dir(p, &d);
    if (e) {
        return e;
    }
    struct json *m = NULL;
    struct stat st;
    struct lq_tgt_target t;
    memset(&t, 0, sizeof t);
    e = export_meta(p, &d, id, &m, &st);
    if (!e) {
        ovs_mutex_lock(&p->mutex);
        e = export_sync(p, &d, &t);
        ovs_mutex_unlock(&p->mutex);
    }
    if (!e) {
        *infop = export_info(p, id, m, &st, &t);
    }
    lq_tgt_target_clear(&t);
    json_destroy(m);
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
drv_list(void *impl, struct lq_volume_list *list)
{
    struct iscsi_pool *p = impl;
    if (!p->backing_dir) {
        struct lun_info *luns;
        size_t n;
        struct lq_error *e = discover(p, &luns, &n);
        for (size_t i = 0; !e && i < n; i++) {
            struct lq_volume_info *v = volume_new(p, luns[i].serial,
                                                  luns[i].lun);
            v->name = xstrdup(luns[i].serial);
            v->size_bytes = v->allocated_bytes = luns[i].size;
            lq_volume_list_add(list, v);
        }
        lun_infos_free(luns, e ? 0 : n);
        return e;
    }

    struct lq_pooldir d;
    struct lq_error *e = export_dir(p, &d);
    if (e) {
        return e;
    }
    struct lq_tgt_target t;
    memset(&t, 0, sizeof t);
    struct sset ids = SSET_INITIALIZER(&ids);
    ovs_mutex_lock(&p->mutex);
    e = export_sync(p, &d, &t);
    ovs_mutex_unlock(&p->mutex);
    if (!e) {
        e = export_ids(p, &d, &ids);
    }
    const char *id;
    SSET_FOR_EACH (id, &ids) {
        struct json *m;
        struct stat st;
        struct lq_error *e2 = e ? NULL : export_meta(p, &d, id, &m, &st);
        if (!e && !e2) {
            lq_volume_list_add(list, export_info(p, id, m, &st, &t));
            json_destroy(m);
        }
        lq_error_free(e2);          /* Not ours, or half-made: skip. */
    }
    sset_destroy(&ids);
    lq_tgt_target_clear(&t);
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
drv_status(void *impl, struct lq_pool_status *st)
{
    struct iscsi_pool *p = impl;
    struct lq_volume_list list = { NULL, 0 };
    struct lq_error *e = drv_list(impl, &list);
    if (e) {
        return e;
    }
    uint64_t alloc = 0, size = 0;
    for (size_t i = 0; i < list.n; i++) {
        alloc += list.volumes[i]->allocated_bytes;
        size += list.volumes[i]->size_bytes;
    }
    lq_volume_list_clear(&list);

    /* The target must answer our login too (CHAP, ACL). */
    struct iscsi_context *c;
    e = session_open(p, &c);
    session_close(c);
    if (e) {
        return e;
    }
    if (p->backing_dir) {
        struct statvfs vfs;
        if (statvfs(p->backing_dir, &vfs)) {
            return lq_error_new(LQ_UNAVAILABLE, "pool %s: statvfs %s: %s",
                                p->id, p->backing_dir, ovs_strerror(errno));
        }
        st->capacity_bytes = (uint64_t) vfs.f_blocks * vfs.f_frsize;
        st->available_bytes = (uint64_t) vfs.f_bavail * vfs.f_frsize;
        st->allocated_bytes = alloc;
    } else {
        st->capacity_bytes = size;      /* What the target offers us. */
        st->allocated_bytes = size;
        st->available_bytes = 0;
    }
    st->health = xstrdup("ok");
    st->message = xstrdup("");
    return NULL;
}

/* ---- Create/import/remove/resize (export mode) ---------------------------- */

static struct lq_error *
check_create(const struct iscsi_pool *p, const char *id)
{
    if (!p->backing_dir) {
        return consumer_refuse(p, "creating volumes");
    }
    if (strlen(id) > LQ_ISCSI_MAX_ID) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "id: at most %d characters "
                            "in iscsi pool %s (the LUN's SCSI serial number "
                            "carries it)", LQ_ISCSI_MAX_ID, p->id);
    }
    return NULL;
}

/* Removes what a failed create of 'id' left (files, and a LUN without a
 * published file).  Requires p->mutex. */
static struct lq_error *
clear_leftovers(struct iscsi_pool *p, const struct lq_pooldir *d,
                const char *id)
    OVS_REQUIRES(p->mutex)
{
    char *tr = lun_tmp(id, "raw"), *tm = lun_tmp(id, "meta");
    char *raw = lun_file(id, "raw"), *meta = lun_file(id, "meta");
    bool exists;
    struct lq_error *e = lq_pooldir_unlink(d, tr);
    if (!e) {
        e = lq_pooldir_unlink(d, tm);
    }
    if (!e) {
        e = lq_pooldir_check(d, raw, &exists, NULL);
    }
    if (!e && !exists) {
        e = lq_pooldir_unlink(d, meta);
        struct lq_tgt_target t;
        memset(&t, 0, sizeof t);
        int max_tid;
        if (!e) {
            e = tgt_show(p, &t, &max_tid);
        }
        const struct lq_tgt_lun *l = e ? NULL : tgt_find_lun(&t, id);
        if (l && l->lun) {
            e = tgt_lun_delete(p, &t, l->lun);
        }
        lq_tgt_target_clear(&t);
    }
    free(tr);
    free(tm);
    free(raw);
    free(meta);
    return e;
}

/* The lowest LUN number (>= 1) that neither tgtd nor any metadata uses. */
static int
free_lun(const struct iscsi_pool *p, const struct lq_pooldir *d,
         const struct lq_tgt_target *t)
{
    struct sset ids = SSET_INITIALIZER(&ids);
    lq_error_free(export_ids(p, d, &ids));
    for (int lun = 1; ; lun++) {
        bool used = false;
        for (size_t i = 0; !used && i < t->n_luns; i++) {
            used = t->luns[i].lun == lun;
        }
        const char *id;
        SSET_FOR_EACH (id, &ids) {
            struct json *m;
            if (!used && !export_meta(p, d, id, &m, NULL)) {
                used = lq_json_member_int(m, "lun") == lun;
                json_destroy(m);
            }
        }
        if (!used) {
            sset_destroy(&ids);
            return lun;
        }
    }
}

/* Checks through libiscsi that LUN 'lun' is volume 'id' of 'size' bytes. */
static struct lq_error *
validate_lun(const struct iscsi_pool *p, const char *id, int lun,
             uint64_t size)
{
    struct iscsi_context *c;
    struct lq_error *e = session_open(p, &c);
    char *serial = NULL;
    uint64_t got = 0;
    if (!e) {
        e = probe_lun(p, c, lun, &serial, &got);
    }
    session_close(c);
    if (!e && (!serial || strcmp(serial, id) || got != size)) {
        e = lq_error_new(LQ_INTERNAL, "pool %s: LUN %d of %s does not show "
                         "volume %s of %"PRIu64" bytes (serial \"%s\", %"
                         PRIu64" bytes)", p->id, lun, p->target_iqn, id,
                         size, serial ? serial : "", got);
    }
    free(serial);
    return e;
}

/* Copies the reader's data into 'fd', skipping holes and zero blocks. */
static struct lq_error *
copy_data(const struct iscsi_pool *p, const char *id,
          struct lq_image_reader *reader, int fd, struct lq_job_progress *pr)
{
    char *buf = xmalloc(COPY_CHUNK);
    struct lq_error *e = NULL;
    uint64_t off = 0, start, end;
    while (!e && lq_image_next_data(reader, off, &start, &end)) {
        for (off = start; !e && off < end; ) {
            if (pr && atomic_load(&pr->cancel)) {
                e = lq_error_new(LQ_CANCELED, "import cancelled");
                break;
            }
            size_t n = MIN(COPY_CHUNK, end - off);
            ssize_t r = pread(reader->fd, buf, n, off);
            if (r <= 0) {
                e = lq_error_new(LQ_INTERNAL, "pool %s: volume %s: reading "
                                 "the image: %s", p->id, id,
                                 r ? ovs_strerror(errno) : "short file");
                break;
            }
            for (size_t b = 0; !e && b < (size_t) r; b += ZERO_BLOCK) {
                size_t len = MIN(ZERO_BLOCK, (size_t) r - b);
                if (!lq_buffer_is_zero(buf + b, len)
                    && pwrite(fd, buf + b, len, off + b) != (ssize_t) len) {
                    e = lq_error_new(LQ_INTERNAL, "pool %s: volume %s: "
                                     "writing: %s", p->id, id,
                                     ovs_strerror(errno));
                }
            }
            off += r;
            if (pr && reader->size) {
                atomic_store(&pr->percent, 30 + off * 70 / reader->size);
            }
        }
    }
    if (!e && fsync(fd)) {
        e = lq_error_new(LQ_INTERNAL, "pool %s: volume %s: fsync: %s", p->id,
                         id, ovs_strerror(errno));
    }
    free(buf);
    return e;
}

static struct lq_error *
export_create(struct iscsi_pool *p, const struct lq_volume_create_args *a,
              struct lq_image_reader *reader, struct lq_job_progress *pr)
{
    struct lq_error *e = check_create(p, a->id);
    if (e) {
        return e;
    }
    struct lq_pooldir d;
    e = export_dir(p, &d);
    if (e) {
        return e;
    }
    char *tr = lun_tmp(a->id, "raw"), *tm = lun_tmp(a->id, "meta");
    char *raw = lun_file(a->id, "raw"), *meta = lun_file(a->id, "meta");
    struct lq_tgt_target t;
    memset(&t, 0, sizeof t);
    struct json *m = NULL;
    int lun = 0;
    bool exists;

    ovs_mutex_lock(&p->mutex);
    e = clear_leftovers(p, &d, a->id);
    if (!e) {
        e = lq_pooldir_check(&d, raw, &exists, NULL);
        if (!e && exists) {
            e = lq_error_new(LQ_ALREADY_EXISTS, "volume %s already exists in "
                             "pool %s", a->id, p->id);
        }
    }
    if (!e) {
        e = export_sync(p, &d, &t);
    }
    if (!e) {
        e = lq_pooldir_create(&d, tr, 0600);
    }
    if (!e) {
        int fd = openat(d.fd, tr, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, a->size_bytes)) {
            e = lq_error_new(LQ_RESOURCE_EXHAUSTED, "pool %s: volume %s: "
                             "sizing %s: %s", p->id, a->id, tr,
                             ovs_strerror(errno));
        } else if (reader) {
            e = copy_data(p, a->id, reader, fd, pr);
        }
        if (fd >= 0) {
            close(fd);
        }
    }
    if (!e) {
        lun = free_lun(p, &d, &t);
        m = json_object_create();
        json_object_put_string(m, "volume_id", a->id);
        json_object_put_string(m, "name", a->name);
        json_object_put_string(m, "spec", a->spec);
        json_object_put(m, "created_at", json_integer_create(time(NULL)));
        json_object_put(m, "lun", json_integer_create(lun));
        e = lq_pooldir_write_json(&d, tm, NULL, m);
    }
    /* Export before publishing: a crash in between leaves a LUN without a
     * published file, which the retry or a delete removes. */
    if (!e) {
        e = tgt_lun_add(p, &t, &d, tr, lun, a->id);
    }
    if (!e) {
        e = validate_lun(p, a->id, lun, a->size_bytes);
        if (e) {
            lq_error_free(tgt_lun_delete(p, &t, lun));
        }
    }
    if (!e) {
        e = lq_pooldir_rename(&d, tm, meta, false);
    }
    if (!e) {
        e = lq_pooldir_rename(&d, tr, raw, true);
    }
    if (e && e->code != LQ_ALREADY_EXISTS) {
        lq_error_free(lq_pooldir_unlink(&d, tr));
        lq_error_free(lq_pooldir_unlink(&d, tm));
        lq_error_free(lq_pooldir_unlink(&d, meta));
    } else if (!e) {
        fsync(d.fd);
        VLOG_INFO("pool %s: volume %s exported as LUN %d of %s", p->id,
                  a->id, lun, p->target_iqn);
    }
    ovs_mutex_unlock(&p->mutex);
    json_destroy(m);
    lq_tgt_target_clear(&t);
    free(tr);
    free(tm);
    free(raw);
    free(meta);
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
drv_create(void *impl, const struct lq_volume_create_args *a)
{
    return export_create(impl, a, NULL, NULL);
}

static struct lq_error *
drv_import(void *impl, const struct lq_volume_create_args *a,
           struct lq_image_reader *reader, struct lq_job_progress *pr)
{
    return export_create(impl, a, reader, pr);
}

static struct lq_error *
drv_remove(void *impl, const char *id, bool force)
{
    struct iscsi_pool *p = impl;
    if (!p->backing_dir) {
        /* Nothing of ours to clean; a volume that exists is not ours to
         * delete. */
        struct lq_volume_info *v;
        struct lq_error *e = drv_info(impl, id, &v);
        if (!e) {
            lq_volume_info_free(v);
            return consumer_refuse(p, "deleting volumes");
        }
        if (e->code == LQ_NOT_FOUND) {
            lq_error_free(e);
            return NULL;
        }
        return e;
    }

    struct lq_pooldir d;
    struct lq_error *e = export_dir(p, &d);
    if (e) {
        return e;
    }
    char *raw = lun_file(id, "raw"), *meta = lun_file(id, "meta");
    struct lq_tgt_target t;
    memset(&t, 0, sizeof t);
    struct json *m = NULL;
    bool exists;

    ovs_mutex_lock(&p->mutex);
    e = clear_leftovers(p, &d, id);
    if (!e) {
        e = lq_pooldir_check(&d, raw, &exists, NULL);
    }
    if (e || !exists) {
        goto out;
    }
    e = export_meta(p, &d, id, &m, NULL);
    if (e && e->code == LQ_NOT_FOUND) {
        lq_error_free(e);
        e = lq_error_new(LQ_FAILED_PRECONDITION, "pool %s: %s/%s is not a "
                         "limiquantix volume; not deleting it", p->id,
                         d.path, raw);
    }
    int max_tid;
    if (!e) {
        e = tgt_show(p, &t, &max_tid);
    }
    if (e) {
        goto out;
    }
    const struct lq_tgt_lun *l = tgt_find_lun(&t, id);
    if (l && t.n_nexus && !force) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached "
                         "(target %s has %"PRIuSIZE" session%s): detach it "
                         "first, or delete with force", id, p->target_iqn,
                         t.n_nexus, t.n_nexus > 1 ? "s" : "");
        goto out;
    }
    /* The export goes first. */
    if (l && l->lun) {
        e = tgt_lun_delete(p, &t, l->lun);
    }
    if (!e) {
        e = lq_pooldir_unlink(&d, raw);
    }
    if (!e) {
        e = lq_pooldir_unlink(&d, meta);
    }
    if (!e) {
        VLOG_INFO("pool %s: deleted volume %s (LUN %d)", p->id, id,
                  l ? l->lun : 0);
    }
out:
    ovs_mutex_unlock(&p->mutex);
    json_destroy(m);
    lq_tgt_target_clear(&t);
    free(raw);
    free(meta);
    lq_pooldir_close(&d);
    return e;
}

static struct lq_error *
drv_resize(void *impl, const char *id, uint64_t size, bool allow_shrink)
{
    struct iscsi_pool *p = impl;
    if (!p->backing_dir) {
        return consumer_refuse(p, "resizing volumes");
    }
    struct lq_pooldir d;
    struct lq_error *e = export_dir(p, &d);
    if (e) {
        return e;
    }
    char *raw = lun_file(id, "raw");
    struct lq_tgt_target t;
    memset(&t, 0, sizeof t);
    struct json *m = NULL;
    struct stat st;

    ovs_mutex_lock(&p->mutex);
    e = export_meta(p, &d, id, &m, &st);
    if (!e) {
        e = export_sync(p, &d, &t);
    }
    if (e || size == (uint64_t) st.st_size) {
        goto out;
    }
    if (size < (uint64_t) st.st_size && !allow_shrink) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s: %"PRIu64" is "
                         "smaller than its size %"PRIu64": shrinking loses "
                         "data past the new end; set allowShrink", id, size,
                         (uint64_t) st.st_size);
        goto out;
    }
    if (t.n_nexus) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "volume %s is attached "
                         "(target %s has sessions): tgtd cannot resize a LUN "
                         "in use; detach it first", id, p->target_iqn);
        goto out;
    }
    int fd = openat(d.fd, raw, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, size)) {
        e = lq_error_new(LQ_INTERNAL, "pool %s: volume %s: resizing: %s",
                         p->id, id, ovs_strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
    /* tgtd reads the size when the LUN is added: export it again. */
    const struct lq_tgt_lun *l = tgt_find_lun(&t, id);
    int lun = lq_json_member_int(m, "lun");
    if (!e && l) {
        e = tgt_lun_delete(p, &t, l->lun);
    }
    if (!e) {
        e = tgt_lun_add(p, &t, &d, raw, lun, id);
    }
    if (!e) {
        e = validate_lun(p, id, lun, size);
    }
out:
    ovs_mutex_unlock(&p->mutex);
    json_destroy(m);
    lq_tgt_target_clear(&t);
    free(raw);
    lq_pooldir_close(&d);
    return e;
}

/* ---- What iSCSI pools do not do ------------------------------------------- */

static struct lq_error *
no_snapshots(const struct iscsi_pool *p)
{
    return lq_error_new(LQ_UNIMPLEMENTED, "pool %s (iscsi): snapshots and "
                        "clones are not supported (a LUN is a plain block "
                        "device)", p->id);
}

static struct lq_error *
drv_clone(void *impl, const struct lq_volume_create_args *a OVS_UNUSED,
          const char *svid OVS_UNUSED, const char *ssid OVS_UNUSED,
          bool flatten OVS_UNUSED, struct lq_job_progress *pr OVS_UNUSED)
{
    return no_snapshots(impl);
}

static struct lq_error *
drv_flatten(void *impl OVS_UNUSED, const char *id OVS_UNUSED,
            struct lq_job_progress *pr OVS_UNUSED)
{
    return NULL;                    /* Never a clone. */
}

static struct lq_error *
drv_clone_depth(void *impl OVS_UNUSED, const char *id OVS_UNUSED,
                uint32_t *depthp)
{
    *depthp = 0;
    return NULL;
}

static struct lq_error *
drv_snapshot_create(void *impl, const char *vid OVS_UNUSED,
                    const char *sid OVS_UNUSED, const char *name OVS_UNUSED)
{
    return no_snapshots(impl);
}

static struct lq_error *
drv_snapshot_delete(void *impl OVS_UNUSED, const char *vid OVS_UNUSED,
                    const char *sid OVS_UNUSED, bool force OVS_UNUSED)
{
    return NULL;                    /* There are none. */
}

static struct lq_error *
drv_snapshot_rollback(void *impl, const char *vid OVS_UNUSED,
                      const char *sid OVS_UNUSED)
{
    return no_snapshots(impl);
}

static struct lq_error *
drv_snapshot_find(void *impl OVS_UNUSED, const char *sid,
                  char **vidp)
{
    *vidp = NULL;
    return lq_error_new(LQ_NOT_FOUND, "snapshot \"%s\" not found", sid);
}

/* ---- Attach ----------------------------------------------------------------- */

static struct lq_error *
drv_disk_source(void *impl, const char *id, struct lq_disk_source **sp)
{
    struct iscsi_pool *p = impl;
    struct lq_volume_info *v;
    struct lq_error *e = drv_info(impl, id, &v);
    if (e) {
        return e;
    }
    struct lq_disk_source *s = xzalloc(sizeof *s);
    s->type = xstrdup("network");
    s->protocol = xstrdup("iscsi");
    s->name = xstrdup(v->backend_name);          /* "<iqn>/<lun>" */
    s->format = xstrdup("raw");
    s->hosts = xzalloc(sizeof *s->hosts);
    s->n_hosts = 1;
    s->hosts[0].name = xstrdup(p->host);
    s->hosts[0].port = xasprintf("%d", p->port);
    s->hosts[0].transport = xstrdup("tcp");
    if (p->chap_user) {
        s->auth_username = xstrdup(p->chap_user);
        s->secret_type = xstrdup("iscsi");
        s->secret_usage = xasprintf("lq-iscsi-%s", p->id);
    }
    lq_volume_info_free(v);
    *sp = s;
    return NULL;
}

static struct lq_error *
drv_disk_secret(void *impl, const char *id OVS_UNUSED, char **secretp)
{
    struct iscsi_pool *p = impl;
    *secretp = nullable_xstrdup(p->chap_user ? p->chap_secret : NULL);
    return NULL;
}

const struct lq_storage_driver lq_iscsi_driver = {
    .backend = "iscsi",
    .open = drv_open,
    .link = drv_link,
    .close = drv_close,
    .status = drv_status,
    .create = drv_create,
    .clone = drv_clone,
    .import = drv_import,
    .info = drv_info,
    .list = drv_list,
    .remove = drv_remove,
    .resize = drv_resize,
    .flatten = drv_flatten,
    .clone_depth = drv_clone_depth,
    .max_clone_depth = drv_max_clone_depth,
    .snapshot_create = drv_snapshot_create,
    .snapshot_delete = drv_snapshot_delete,
    .snapshot_rollback = drv_snapshot_rollback,
    .snapshot_find = drv_snapshot_find,
    .disk_source = drv_disk_source,
    .disk_secret = drv_disk_secret,
};
