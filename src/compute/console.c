#include <config.h>
/* console.c: a VM's VNC console, reached through the node's WebSocket
 * endpoint with one-time tokens (see limiquantix/compute.h).
 *
 * Design decisions:
 * - QEMU's VNC server listens nowhere (<listen type='none'/>,
 *   domain_xml.c): the node asks libvirt for a socket connected to it
 *   (virDomainOpenGraphicsFD, the call virt-viewer uses), so no TCP port
 *   and no socket path exists, and the only way in from another host is
 *   the API listener, with its TLS and client authentication, and then a
 *   token.  VNC authentication still runs over it (the password GetConsole
 *   answers).
 * - GetConsole mints the token: 32 random bytes (getrandom), valid for
 *   hypervisor.console_token_seconds and for one connection, as Nova's
 *   console tokens.  A VM defined with a TCP listener on 127.0.0.1
 *   (before this) is reached the same way.
 * - A SPICE console (the seed's ConsoleSpec.spice_enabled) is one
 *   connection per channel (main, display, inputs...), which spice-html5
 *   opens to the same URL one after the other: its token opens any number
 *   of connections until it expires, as Nova's console tokens do.  The
 *   SPICE ticket (the password) is still asked on each channel.
 * - Tokens live in memory: a restarted daemon forgets them (GetConsole
 *   again). */
#include "compute_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "hash.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_console);

struct console_token {
    struct hmap_node node;      /* In c->console_tokens, by 'token'. */
    char token[65];
    char vm_id[37];
    long long expires_ms;       /* time_msec() */
    bool reusable;              /* SPICE: every channel until it expires. */
};

void
compute_console_init(struct lq_compute *c)
{
    ovs_mutex_init(&c->console_mutex);
    hmap_init(&c->console_tokens);
    c->console_token_seconds = 60;
}

static void
token_free(struct console_token *t)
{
    free(t);
}

void
compute_console_destroy(struct lq_compute *c)
{
    struct console_token *t;
    HMAP_FOR_EACH_POP (t, node, &c->console_tokens) {
        token_free(t);
    }
    hmap_destroy(&c->console_tokens);
    ovs_mutex_destroy(&c->console_mutex);
}

static void
purge_expired(struct lq_compute *c, long long now)
    OVS_REQUIRES(c->console_mutex)
{
    struct console_token *t;
    HMAP_FOR_EACH_SAFE (t, node, &c->console_tokens) {
        if (t->expires_ms <= now) {
            hmap_remove(&c->console_tokens, &t->node);
            token_free(t);
        }
    }
}

static struct console_token *
find_token(struct lq_compute *c, const char *token)
    OVS_REQUIRES(c->console_mutex)
{
    struct console_token *t;
    HMAP_FOR_EACH_WITH_HASH (t, node, hash_string(token, 0),
                             &c->console_tokens) {
        if (!strcmp(t->token, token)) {
            return t;
        }
    }
    return NULL;
}

struct lq_error *
compute_console_token(struct lq_compute *c, const char *vm_id,
                      bool reusable, char token[65], int *ttl_sp)
{
    uint8_t raw[32];
    if (getrandom(raw, sizeof raw, 0) != sizeof raw) {
        return lq_error_new(LQ_INTERNAL, "no random bytes for a console "
                            "token: %s", ovs_strerror(errno));
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        snprintf(&token[2 * i], 3, "%02x", raw[i]);
    }
    struct console_token *t = xzalloc(sizeof *t);
    ovs_strlcpy(t->token, token, sizeof t->token);
    ovs_strlcpy(t->vm_id, vm_id, sizeof t->vm_id);
    t->reusable = reusable;

    ovs_mutex_lock(&c->console_mutex);
    long long now = time_msec();
    purge_expired(c, now);
    *ttl_sp = c->console_token_seconds;
    t->expires_ms = now + *ttl_sp * 1000LL;
    hmap_insert(&c->console_tokens, &t->node, hash_string(t->token, 0));
    ovs_mutex_unlock(&c->console_mutex);
    return NULL;
}

static struct lq_error *
open_graphics_op(virDomainPtr dom, const char *id, void *fdp_)
{
    int *fdp = fdp_;
    if (virDomainIsActive(dom) != 1) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "VM %s is not running "
                            "(it stopped since GetConsole)", id);
    }
    /* Flags 0: the client still authenticates to the VNC server. */
    int fd = virDomainOpenGraphicsFD(dom, 0, 0);
    if (fd < 0) {
        return compute_virt_error("opening the console of VM", id);
    }
    *fdp = fd;
    return NULL;
}

struct lq_error *
lq_compute_console_open(struct lq_compute *c, const char *token, int *fdp)
{
    *fdp = -1;
    if (!token || !*token) {
        return lq_error_new(LQ_UNAUTHENTICATED, "token: missing (the "
                            "websocketPath GetConsole returned has it)");
    }
    ovs_mutex_lock(&c->console_mutex);
    struct console_token *t = strlen(token) == 64 ? find_token(c, token)
                                                  : NULL;
    bool expired = t && t->expires_ms <= time_msec();
    struct console_token kept;
    if (t && t->reusable && !expired) {
        kept = *t;              /* Stays for the VM's other channels. */
        t = &kept;
    } else if (t) {
        hmap_remove(&c->console_tokens, &t->node);      /* One use. */
    }
    ovs_mutex_unlock(&c->console_mutex);

    struct lq_error *e;
    if (!t) {
        /* Unknown, used already or forgotten by a restart: alike. */
        e = lq_error_new(LQ_UNAUTHENTICATED, "token: not a valid console "
                         "token (each opens one connection; GetConsole "
                         "makes a new one)");
    } else if (expired) {
        e = lq_error_new(LQ_UNAUTHENTICATED, "token: expired (valid %d s "
                         "after GetConsole)", c->console_token_seconds);
    } else {
        e = compute_with_vm(c, t->vm_id, open_graphics_op, fdp);
        if (!e) {
            VLOG_INFO("VM %s: console opened through the WebSocket proxy",
                      t->vm_id);
        }
    }
    if (t && t != &kept) {
        token_free(t);
    }
    return e;
}
