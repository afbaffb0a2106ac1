/* hostdev.c: the host-device check of BindPort (see hostdev.h).
 *
 * Why an allow-list of link kinds rather than a deny-list: a node has many
 * kinds of devices an API caller must never capture (its uplinks, VLAN and
 * VXLAN devices, macvlans, dummies that hold addresses, other VMs'
 * taps...).  What VMs bring is small: tap devices (link kind "tun") made
 * by libvirt/QEMU, and veth pairs used as VM stand-ins.  The kind comes
 * from rtnetlink (IFLA_INFO_KIND, through libnl-route); a device with a
 * /sys/class/net/X/device link is hardware whatever it says. */
#include <config.h>
#include "hostdev.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "util.h"

void
lq_vs_vm_tap_name(const char *port_id, char name[16])
{
    size_t k = 0;
    memcpy(name, "lq", 2);
    for (const char *p = port_id; *p && k < 12; p++) {
        if (*p != '-') {
            name[2 + k++] = *p;
        }
    }
    name[2 + k] = '\0';
}

/* "lq" + 12 lower-case hex digits: the name of some port's VM tap. */
static bool
is_vm_tap_name(const char *name)
{
    if (strncmp(name, "lq", 2) || strlen(name) != 14) {
        return false;
    }
    return strspn(name + 2, "0123456789abcdef") == 12;
}

static bool
sysfs_exists(const char *device, const char *leaf)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/class/net/%s/%s", device, leaf);
    return !access(path, F_OK);
}

static struct lq_error *
refuse(const char *device, const char *why)
{
    return lq_error_new(LQ_INVALID_ARGUMENT, "deviceName: %s %s; BindPort "
                        "takes only the tap or veth device of a VM",
                        device, why);
}

/* The link's kind ("veth", "tun", "bridge", ...; "" for none), flags and
 * master from rtnetlink. */
static struct lq_error *
read_link(const char *device, char *kind, size_t kind_size,
          unsigned int *flags, int *master)
{
    struct nl_sock *sock = nl_socket_alloc();
    struct rtnl_link *link = NULL;
    int err = sock ? nl_connect(sock, NETLINK_ROUTE) : -NLE_NOMEM;
    if (!err) {
        err = rtnl_link_get_kernel(sock, 0, device, &link);
    }
    if (!err) {
        const char *type = rtnl_link_get_type(link);
        snprintf(kind, kind_size, "%s", type ? type : "");
        *flags = rtnl_link_get_flags(link);
        *master = rtnl_link_get_master(link);
        rtnl_link_put(link);
    }
    if (sock) {
        nl_socket_free(sock);
    }
    return err ? lq_error_new(LQ_INVALID_ARGUMENT, "deviceName: no network "
                              "device \"%s\" on this host (%s)", device,
                              nl_geterror(err))
               : NULL;
}

struct lq_error *
lq_vs_check_vm_device(const char *device, const char *port_id, bool plugged)
{
    char kind[32] = "";
    unsigned int flags = 0;
    int master = 0;
    struct lq_error *e = read_link(device, kind, sizeof kind, &flags,
                                   &master);
    if (e) {
        return e;
    }
    char own_tap[16];
    lq_vs_vm_tap_name(port_id, own_tap);
    if (flags & IFF_LOOPBACK) {
        return refuse(device, "is the loopback device");
    }
    if (sysfs_exists(device, "device")) {
        return refuse(device, "is a physical network interface");
    }
    if (sysfs_exists(device, "bridge") || !strcmp(kind, "bridge")) {
        return refuse(device, "is a bridge");
    }
    if (sysfs_exists(device, "bonding") || !strcmp(kind, "bond")) {
        return refuse(device, "is a bond");
    }
    if (strcmp(kind, "veth") && strcmp(kind, "tun")) {
        char *why = xasprintf("is a device of kind \"%s\"",
                              *kind ? kind : "none");
        e = refuse(device, why);
        free(why);
        return e;
    }
    if (is_vm_tap_name(device) && strcmp(device, own_tap)) {
        return refuse(device, "is the tap of another port's VM");
    }
    if (master && !plugged) {
        char name[IF_NAMESIZE] = "";
        if (!if_indextoname(master, name)) {
            snprintf(name, sizeof name, "#%d", master);
        }
        char *why = xasprintf("is already attached to %s", name);
        e = refuse(device, why);
        free(why);
        return e;
    }
    return NULL;
}
