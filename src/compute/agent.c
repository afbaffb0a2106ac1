#include <config.h>
/* agent.c: the QEMU guest agent (qemu-guest-agent, QGA) of our VMs.
 *
 * Design decisions:
 * - Every VM has the agent's virtio-serial port (domain_xml.c); the node
 *   talks to the agent only through libvirt's typed agent APIs
 *   (virDomainGetGuestInfo, virDomainInterfaceAddresses, virDomainFSFreeze,
 *   virDomainSetTime), never raw QGA JSON: libvirt owns the socket, the
 *   guest-sync handshake and the timeouts (5 s by default).
 * - Whether an agent listens is read from the live domain XML (libvirt
 *   sets <target state='connected'/> from QEMU's VSERPORT_CHANGE), so a
 *   guest without an agent costs GetVMStatus no timeout.
 * - Everything the guest says is untrusted: copied as strings, never
 *   spliced into XML or XPath; its MACs are matched to our NICs by
 *   comparing with the domain's own interfaces. */
#include "compute_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "openvswitch/vlog.h"
#include "smap.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_agent);

#define X(s) ((const xmlChar *) (s))

void
lq_guest_info_clear(struct lq_guest_info *g)
{
    if (!g) {
        return;
    }
    free(g->hostname);
    free(g->os_id);
    free(g->os_name);
    free(g->os_version);
    free(g->kernel_release);
    free(g->timezone);
    for (size_t i = 0; i < g->n_nics; i++) {
        struct lq_guest_nic *n = &g->nics[i];
        free(n->name);
        free(n->mac);
        free(n->nic_id);
        for (size_t k = 0; k < n->n_addresses; k++) {
            free(n->addresses[k]);
        }
        free(n->addresses);
    }
    free(g->nics);
    memset(g, 0, sizeof *g);
}



/* Calls 'fn' on each element of /domain/devices named 'name'. */
static void
for_each_device(virDomainPtr dom, const char *name,
                void (*fn)(xmlNodePtr, void *), void *aux)
{
    char *xml = virDomainGetXMLDesc(dom, 0);
    xmlDocPtr doc = xml ? xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
                                        XML_PARSE_NONET) : NULL;
    free(xml);
    xmlNodePtr devices = compute_xml_child(
        doc ? xmlDocGetRootElement(doc) : NULL, "devices");
    for (xmlNodePtr d = devices ? devices->children : NULL; d; d = d->next) {
        if (d->type == XML_ELEMENT_NODE && !xmlStrcmp(d->name, X(name))) {
            fn(d, aux);
        }
    }
    xmlFreeDoc(doc);
}

static void
channel_connected(xmlNodePtr channel, void *connectedp)
{
    xmlNodePtr target = compute_xml_child(channel, "target");
    if (compute_xml_prop_is(target, "name", LQ_QEMU_AGENT_CHANNEL)
        && compute_xml_prop_is(target, "state", "connected")) {
        *(bool *) connectedp = true;
    }
}

bool
compute_agent_connected(virDomainPtr dom)
{
    bool connected = false;
    for_each_device(dom, "channel", channel_connected, &connected);
    return connected;
}

/* Our NIC id of each MAC: the alias ua-lqn-<id> of the domain's
 * interfaces. */
struct nic_macs {
    struct smap map;            /* Lower-case MAC -> NIC id. */
};

static void
interface_mac(xmlNodePtr iface, void *nm_)
{
    struct nic_macs *nm = nm_;
    char *mac = compute_xml_prop(compute_xml_child(iface, "mac"), "address");
    char *alias = compute_xml_prop(compute_xml_child(iface, "alias"), "name");
    if (mac && alias && !strncmp(alias, "ua-lqn-", 7)) {
        for (char *p = mac; *p; p++) {
            *p = tolower((unsigned char) *p);
        }
        smap_replace(&nm->map, mac, alias + 7);
    }
    free(mac);
    free(alias);
}

static const char *
param_string(virTypedParameterPtr p, int n, const char *name)
{
    const char *v = NULL;
    return virTypedParamsGetString(p, n, name, &v) == 1 ? v : NULL;
}

static char *
dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

static void
read_interfaces(virDomainPtr dom, const char *id, struct lq_guest_info *g)
{
    virDomainInterfacePtr *ifaces = NULL;
    int n = virDomainInterfaceAddresses(
        dom, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0);
    if (n < 0) {
        VLOG_DBG("VM %s: no interfaces from its guest agent: %s", id,
                 virGetLastErrorMessage());
        return;
    }
    struct nic_macs nm = { SMAP_INITIALIZER(&nm.map) };
    for_each_device(dom, "interface", interface_mac, &nm);
    g->nics = n ? xcalloc(n, sizeof *g->nics) : NULL;
    for (int i = 0; i < n; i++) {
        struct lq_guest_nic *nic = &g->nics[g->n_nics++];
        nic->name = xstrdup(ifaces[i]->name ? ifaces[i]->name : "");
        nic->mac = xstrdup(ifaces[i]->hwaddr ? ifaces[i]->hwaddr : "");
        for (char *p = nic->mac; *p; p++) {
            *p = tolower((unsigned char) *p);
        }
        nic->nic_id = dup_or_null(smap_get(&nm.map, nic->mac));
        nic->addresses = ifaces[i]->naddrs
                         ? xcalloc(ifaces[i]->naddrs, sizeof *nic->addresses)
                         : NULL;
        for (unsigned int k = 0; k < ifaces[i]->naddrs; k++) {
            const virDomainIPAddress *a = &ifaces[i]->addrs[k];
            if (a->addr) {
                nic->addresses[nic->n_addresses++]
                    = xasprintf("%s/%u", a->addr, a->prefix);
            }
        }
        virDomainInterfaceFree(ifaces[i]);
    }
    free(ifaces);
    smap_destroy(&nm.map);
}

void
compute_guest_info(virDomainPtr dom, const char *id, struct lq_guest_info *g)
{
    memset(g, 0, sizeof *g);
    if (!(g->agent_connected = compute_agent_connected(dom))) {
        return;
    }
    virTypedParameterPtr params = NULL;
    int n = 0;
    unsigned int types = VIR_DOMAIN_GUEST_INFO_OS
                         | VIR_DOMAIN_GUEST_INFO_HOSTNAME
                         | VIR_DOMAIN_GUEST_INFO_TIMEZONE;
    if (virDomainGetGuestInfo(dom, types, &params, &n, 0) < 0) {
        VLOG_DBG("VM %s: no guest info from its agent: %s", id,
                 virGetLastErrorMessage());
    } else {
        g->hostname = dup_or_null(param_string(params, n, "hostname"));
        g->os_id = dup_or_null(param_string(params, n, "os.id"));
        g->os_name = dup_or_null(param_string(params, n, "os.name"));
        g->os_version = dup_or_null(param_string(params, n, "os.version-id"));
        g->kernel_release = dup_or_null(param_string(params, n,
                                                     "os.kernel-release"));
        g->timezone = dup_or_null(param_string(params, n, "timezone.name"));
        virTypedParamsFree(params, n);
    }
    read_interfaces(dom, id, g);
}

static struct lq_error *
need_agent(virDomainPtr dom, const char *id)
{
    return compute_agent_connected(dom)
           ? NULL
           : lq_error_new(LQ_FAILED_PRECONDITION, "quiesce: the guest agent "
                          "of VM %s is not connected (qemu-guest-agent must "
                          "run in the guest; or snapshot without quiesce)",
                          id);
}

struct lq_error *
compute_agent_freeze(virDomainPtr dom, const char *id)
{
    struct lq_error *e = need_agent(dom, id);
    if (e) {
        return e;
    }
    int n = virDomainFSFreeze(dom, NULL, 0, 0);
    if (n < 0) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "quiesce: the guest "
                            "agent of VM %s could not freeze its file "
                            "systems: %s", id, virGetLastErrorMessage());
    }
    VLOG_INFO("VM %s: guest agent froze %d file systems", id, n);
    return NULL;
}

struct lq_error *
compute_agent_thaw(virDomainPtr dom, const char *id)
{
    int n = virDomainFSThaw(dom, NULL, 0, 0);
    if (n < 0) {
        return lq_error_new(LQ_INTERNAL, "quiesce: the guest agent of VM %s "
                            "did not thaw its file systems after the "
                            "snapshot: %s", id, virGetLastErrorMessage());
    }
    VLOG_INFO("VM %s: guest agent thawed %d file systems", id, n);
    return NULL;
}

void
compute_agent_sync_time(virDomainPtr dom, const char *id)
{
    if (!compute_agent_connected(dom)) {
        return;
    }
    if (virDomainSetTime(dom, 0, 0, VIR_DOMAIN_TIME_SYNC) < 0) {
        VLOG_INFO("VM %s: its guest agent did not set the clock after "
                  "resume: %s", id, virGetLastErrorMessage());
    } else {
        VLOG_DBG("VM %s: guest clock set after resume", id);
    }
}

static bool
valid_user(const char *u)
{
    size_t n = strlen(u);
    if (!n || n > 32 || u[0] == '-') {
        return false;
    }
    return strspn(u, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-") == n;
}

struct password_aux {
    const char *user, *password;
    bool crypted;
};

static struct lq_error *
set_password_op(virDomainPtr dom, const char *id, void *aux_)
{
    const struct password_aux *aux = aux_;
    if (virDomainIsActive(dom) != 1) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "vmId: VM %s is not "
                            "running", id);
    }
    if (!compute_agent_connected(dom)) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "vmId: the guest agent "
                            "of VM %s is not connected (qemu-guest-agent "
                            "must run in the guest)", id);
    }
    if (virDomainSetUserPassword(dom, aux->user, aux->password,
                                 aux->crypted
                                 ? VIR_DOMAIN_PASSWORD_ENCRYPTED : 0) < 0) {
        /* libvirt's message names the agent's failure, not the password. */
        return lq_error_new(LQ_FAILED_PRECONDITION, "user: the guest agent "
                            "of VM %s did not set the password of \"%s\": "
                            "%s", id, aux->user, virGetLastErrorMessage());
    }
    VLOG_INFO("VM %s: password of guest user %s set through its agent", id,
              aux->user);
    return NULL;
}

struct lq_error *
lq_compute_set_guest_password(struct lq_compute *c, const char *id,
                              const char *user, const char *password,
                              bool crypted)
{
    if (!user || !valid_user(user)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "user: expected 1-32 of "
                            "[A-Za-z0-9._-], not starting with '-'");
    }
    size_t n = password ? strlen(password) : 0;
    if (!n || n > 256 || strpbrk(password, "\n\r")) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "password: expected 1-256 "
                            "bytes without line breaks");
    }
    struct password_aux aux = { user, password, crypted };
    return compute_with_vm(c, id, set_password_op, &aux);
}
