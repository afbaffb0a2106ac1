#include <config.h>
/* resolve.c: volume disks, port NICs and cephx secrets for VMs (see
 * resolve.h).
 *
 * Design decisions:
 * - The cephx key is read from the pool's keyring file only here, decoded
 *   and handed to libvirt with virSecretSetValue(); an iSCSI pool's CHAP
 *   secret comes from the storage subsystem (lq_volume_disk_secret()).
 *   Neither is ever logged or put in an error.  The secret is private (libvirt will not give the
 *   value back) and persistent, and its usage name is derived from the
 *   cluster config and user, so every VM of one pool shares one secret
 *   and a restarted daemon finds it again.  Its value is set on every use,
 *   so a rotated key takes effect for the next attach.
 * - Ports are read and bound through lq_network_call_threaded(): the
 *   compute calls run on worker threads, the network engine on the loop. */
#include "resolve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <libvirt/virterror.h>

#include "fileutil.h"
#include "dpdk.h"
#include "engine.h"
#include "jsonx.h"
#include "limiquantix/network.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "sha1.h"
#include "util.h"

/* ---- cephx keys --------------------------------------------------------- */

static char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

struct lq_error *
lq_ceph_keyring_key(const char *path, const char *user, char **keyp)
{
    char *text;
    *keyp = NULL;
    int err = lq_read_file(path, &text, NULL);
    if (err) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "cannot read the keyring "
                            "%s: %s", path, ovs_strerror(err));
    }
    char *section = xasprintf("[client.%s]", user);
    bool in_section = false;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && !*keyp;
         line = strtok_r(NULL, "\n", &save)) {
        char *l = trim(line);
        if (l[0] == '[') {
            in_section = !strcmp(l, section);
        } else if (in_section && !strncmp(l, "key", 3)) {
            char *eq = strchr(l, '=');
            bool is_key = eq != NULL;       /* Not "keyring = ...". */
            for (const char *p = l + 3; is_key && p < eq; p++) {
                is_key = *p == ' ' || *p == '\t';
            }
            if (is_key) {
                char *v = trim(eq + 1);
                if (*v) {
                    *keyp = xstrdup(v);
                }
            }
        }
    }
    free(section);
    free(text);
    /* Never say anything about the key itself. */
    return *keyp ? NULL
           : lq_error_new(LQ_FAILED_PRECONDITION, "the keyring %s has no key "
                          "for client.%s", path, user);
}

/* A private, persistent libvirt secret of 'usage_type' named 'usage' (the
 * <usage> child 'usage_tag': "name" for ceph, "target" for iscsi), with a
 * UUID derived from the usage name, so every node defines the same secret
 * and a domain XML naming it is valid on any of them (live migration
 * carries the XML to the target).  Its value is set every time: a rotated
 * key takes effect at the next attach.  'usage' holds only characters we
 * checked; the value never leaves this function except to libvirt. */
static struct lq_error *
define_secret(virConnectPtr conn, int usage_type, const char *type_name,
              const char *usage_tag, const char *usage,
              const unsigned char *value, size_t len, char uuid[37])
{
    uint8_t digest[SHA1_DIGEST_SIZE];
    char hex[SHA1_HEX_DIGEST_LEN + 1];
    sha1_bytes(usage, strlen(usage), digest);
    sha1_to_hex(digest, hex);
    char sec_uuid[37];
    snprintf(sec_uuid, sizeof sec_uuid, "%.8s-%.4s-%.4s-%.4s-%.12s", hex,
             hex + 8, hex + 12, hex + 16, hex + 20);

    virSecretPtr sec = virSecretLookupByUsage(conn, usage_type, usage);
    if (!sec) {
        struct ds xml = DS_EMPTY_INITIALIZER;
        ds_put_format(&xml, "<secret ephemeral='no' private='yes'><uuid>%s"
                      "</uuid><usage type='%s'><%s>%s</%s></usage>"
                      "</secret>", sec_uuid, type_name, usage_tag, usage,
                      usage_tag);
        sec = virSecretDefineXML(conn, ds_cstr(&xml), 0);
        ds_destroy(&xml);
    }
    struct lq_error *e = NULL;
    if (!sec || virSecretSetValue(sec, value, len, 0) < 0
        || virSecretGetUUIDString(sec, uuid) < 0) {
        const virError *ve = virGetLastError();
        e = lq_error_new(LQ_INTERNAL, "cannot store the %s secret \"%s\" in "
                         "libvirt: %s", type_name, usage,
                         ve && ve->message ? ve->message : "unknown error");
    }
    if (sec) {
        virSecretFree(sec);
    }
    return e;
}

/* Characters allowed in the parts of a secret's usage name (it is put
 * into XML). */
static bool
is_plain_name(const char *s)
{
    return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                        "VWXYZ0123456789_.-") == strlen(s);
}

/* The libvirt secret holding the cephx key that the disk source's keyring
 * has for its user; its UUID into 'uuid'. */
static struct lq_error *
ensure_ceph_secret(virConnectPtr conn, const struct lq_disk_source *src,
                   char uuid[37])
{
    if (!src->keyring) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "the pool names no "
                            "ceph_keyring: VMs need the key as a libvirt "
                            "secret");
    }
    if (!is_plain_name(src->auth_username)) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "ceph_user: \"%s\" is not"
                            " a plain cephx user name", src->auth_username);
    }
    char *b64;
    struct lq_error *e = lq_ceph_keyring_key(src->keyring,
                                             src->auth_username, &b64);
    if (e) {
        return e;
    }
    gnutls_datum_t in = { (unsigned char *) b64, strlen(b64) }, raw;
    int rc = gnutls_base64_decode2(&in, &raw);
    free(b64);
    if (rc < 0) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "the key for client.%s in "
                            "%s is not base64", src->auth_username,
                            src->keyring);
    }

    /* One secret per (cluster config, keyring, user). */
    struct ds id = DS_EMPTY_INITIALIZER;
    ds_put_format(&id, "%s\n%s\n%s", src->config_file ? src->config_file : "",
                  src->keyring, src->auth_username);
    uint8_t digest[SHA1_DIGEST_SIZE];
    char hex[SHA1_HEX_DIGEST_LEN + 1];
    sha1_bytes(id.string, id.length, digest);
    sha1_to_hex(digest, hex);
    ds_destroy(&id);
    char *usage = xasprintf("limiquantix ceph client.%s %.16s",
                            src->auth_username, hex);
    e = define_secret(conn, VIR_SECRET_USAGE_TYPE_CEPH, "ceph", "name",
                      usage, raw.data, raw.size, uuid);
    memset(raw.data, 0, raw.size);
    gnutls_free(raw.data);
    free(usage);
    return e;
}

/* The libvirt secret holding the CHAP secret of an iSCSI volume's pool. */
static struct lq_error *
ensure_iscsi_secret(const struct lq_compute_backends *b, virConnectPtr conn,
                    const char *volume_id, const struct lq_disk_source *src,
                    char uuid[37])
{
    if (!src->secret_usage || !is_plain_name(src->secret_usage)) {
        return lq_error_new(LQ_INTERNAL, "the iSCSI disk source names no "
                            "usable secret");
    }
    char *secret;
    struct lq_error *e = lq_volume_disk_secret(b->storage, volume_id,
                                               &secret);
    if (!e && !secret) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "the pool gives no CHAP "
                         "secret for its chap_user");
    }
    if (!e) {
        e = define_secret(conn, VIR_SECRET_USAGE_TYPE_ISCSI, "iscsi",
                          "target", src->secret_usage,
                          (const unsigned char *) secret, strlen(secret),
                          uuid);
        memset(secret, 0, strlen(secret));
    }
    free(secret);
    return e;
}

/* ---- Disks -------------------------------------------------------------- */

struct lq_error *
lq_resolve_disk(const struct lq_compute_backends *b, virConnectPtr conn,
                struct lq_disk_spec *d, const char *field)
{
    if (!d->volume_id) {
        return NULL;
    }
    /* The seed's caller gives the volume id in "path". */
    const char *vf = d->volume_in_path ? "path" : "volumeId";
    if (!b->storage) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "%s.%s: this node "
                            "has no storage pools", field, vf);
    }
    lq_disk_source_free(d->source);
    d->source = NULL;
    d->secret_uuid[0] = '\0';
    struct lq_error *e = lq_volume_disk_source(b->storage, d->volume_id,
                                               &d->source);
    if (e) {
        if (e->code == LQ_NOT_FOUND) {
            lq_error_free(e);
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.%s: no volume "
                                "%s%s", field, vf, d->volume_id,
                                d->volume_in_path ? " (a path must be "
                                "absolute)" : "");
        }
        return lq_error_prefix(e, "%s.%s", field, vf);
    }
    const char *type = d->source->secret_type;
    if (type && !strcmp(type, "ceph")) {
        e = ensure_ceph_secret(conn, d->source, d->secret_uuid);
    } else if (type && !strcmp(type, "iscsi")) {
        e = ensure_iscsi_secret(b, conn, d->volume_id, d->source,
                                d->secret_uuid);
    }
    if (e) {
        return lq_error_prefix(e, "%s.%s", field, vf);
    }
    return NULL;
}

/* ---- Ports -------------------------------------------------------------- */

/* A string member of a port as the network API answers it, "" if none. */
static const char *
port_str(const struct json *port, const char *name)
{
    const char *v = lq_json_member_string(port, name);
    return v ? v : "";
}

struct lq_error *
lq_resolve_nic(const struct lq_compute_backends *b, struct lq_nic_spec *n,
               const char *vm_id, const char *field)
{
    if (!b->network) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "%s.portId: this node "
                            "runs no network service", field);
    }
    struct json *req = json_object_create();
    json_object_put_string(req, "id", n->port_id);
    struct json *port = NULL;
    struct lq_error *e = lq_network_call_threaded(b->network, "GetPort", req,
                                                  &port);
    json_destroy(req);
    if (e) {
        if (e->code == LQ_NOT_FOUND) {
            lq_error_free(e);
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.portId: no port %s",
                                field, n->port_id);
        }
        return lq_error_prefix(e, "%s.portId", field);
    }
    const char *bound_vm = port_str(port, "vmId");
    if (bound_vm[0] && strcmp(bound_vm, vm_id)) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "%s.portId: port %s is "
                         "bound to VM %s", field, n->port_id, bound_vm);
    } else if (!port_str(port, "macAddress")[0]) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "%s.portId: port %s has no "
                         "MAC address", field, n->port_id);
    } else if (n->req_mac[0]
               && strcasecmp(n->req_mac, port_str(port, "macAddress"))) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s.macAddress: port %s has "
                         "MAC %s (UpdatePort changes it)", field, n->port_id,
                         port_str(port, "macAddress"));
    } else {
        ovs_strlcpy(n->mac, port_str(port, "macAddress"), sizeof n->mac);
        free(n->bridge);
        n->bridge = xstrdup(b->bridge ? b->bridge : "br-int");
        const char *dp = lq_network_options(b->network)->datapath_type;
        const struct lq_vs_dpdk *dpdk = lq_network_options(b->network)->dpdk;
        free(n->vhost_socket);
        n->vhost_socket = NULL;
        if (dpdk) {
            char dev[16];
            lq_nic_tap_name(n->port_id, dev);
            n->vhost_socket = lq_vs_dpdk_socket_path(dpdk, dev);
        }
        n->no_offloads = !dpdk && dp && !strcmp(dp, "netdev");
    }
    json_destroy(port);
    return e;
}

bool
lq_compute_fast_path(const struct lq_compute_backends *b)
{
    return b->network && lq_network_options(b->network)->dpdk;
}

uint64_t
lq_compute_hugepage_mib(const struct lq_compute_backends *b)
{
    return lq_compute_fast_path(b)
           ? lq_network_options(b->network)->dpdk->hugepage_size_kb / 1024
           : 0;
}

struct lq_error *
lq_port_bind(const struct lq_compute_backends *b, const char *port_id,
             const char *vm_id, uint64_t memory_mib)
{
    char tap[16];
    lq_nic_tap_name(port_id, tap);
    struct json *req = json_object_create();
    json_object_put_string(req, "portId", port_id);
    json_object_put_string(req, "deviceName", tap);
    json_object_put_string(req, "vmId", vm_id);
    if (lq_compute_fast_path(b)) {
        json_object_put_string(req, "deviceType", "vhostuser");
        if (memory_mib) {
            json_object_put(req, "memoryMib",
                            json_integer_create(memory_mib));
        }
    }
    struct json *resp = NULL;
    struct lq_error *e = lq_network_call_threaded(b->network, "BindPort", req,
                                                  &resp);
    json_destroy(req);
    json_destroy(resp);
    return e ? lq_error_prefix(e, "binding port %s", port_id) : NULL;
}

struct lq_error *
lq_port_unbind(const struct lq_compute_backends *b, const char *port_id)
{
    if (!b->network) {
        return NULL;
    }
    struct json *req = json_object_create();
    json_object_put_string(req, "portId", port_id);
    struct json *resp = NULL;
    struct lq_error *e = lq_network_call_threaded(b->network, "UnbindPort",
                                                  req, &resp);
    json_destroy(req);
    json_destroy(resp);
    if (e && e->code == LQ_NOT_FOUND) {
        lq_error_free(e);       /* The port is gone: nothing to unbind. */
        e = NULL;
    }
    return e;
}
