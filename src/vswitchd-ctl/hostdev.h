/* hostdev.h: which host network devices may be plugged into br-int.
 *
 * BindPort names a host device; it must be one a VM brought (libvirt's tap,
 * a test's veth stand-in), never the host's own: not the loopback, not a
 * physical NIC, bridge or bond, and not a device already enslaved to
 * another bridge or bond or named as another port's VM tap. */
#ifndef LQ_HOSTDEV_H
#define LQ_HOSTDEV_H 1

#include <stdbool.h>
#include "limiquantix/error.h"

/* The tap device of a VM NIC on port 'port_id': "lq" + the first 12 hex
 * digits of the id (IFNAMSIZ allows 15). */
void lq_vs_vm_tap_name(const char *port_id, char name[16]);

/* NULL if 'device' may be plugged for port 'port_id', else
 * invalid_argument naming field "deviceName".  'plugged': it is already
 * this port's interface in Open_vSwitch (a repeated BindPort; then its
 * master is OVS itself).  Reads rtnetlink and sysfs only. */
struct lq_error *lq_vs_check_vm_device(const char *device,
                                       const char *port_id, bool plugged);

#endif
