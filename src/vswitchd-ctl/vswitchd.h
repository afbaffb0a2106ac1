/* vswitchd.h: the local Open_vSwitch database, through the vsrec_ IDL.
 *
 * Chassis settings for ovn-controller, the integration bridge, and plugging
 * VM devices into it with external_ids:iface-id = the logical port, so
 * that ovn-controller binds them.  These run inside network operations
 * (engine.h) and write to the operation's Open_vSwitch transaction. */
#ifndef LQ_VSWITCHD_H
#define LQ_VSWITCHD_H 1

#include "engine.h"
#include "lq-vswitch-idl.h"

/* Writes system-id, ovn-encap-*, ovn-bridge-mappings (and ovn-remote for a
 * sandbox) and creates the integration bridge if missing. */
void lq_vs_setup_chassis(struct lq_net_ctx *);

/* Called (on the loop) when the start-up chassis settings are written
 * ('ok') or could not be. */
struct lq_chassis_hook {
    void (*ready)(void *aux, bool ok);
    void *aux;
};

struct smap;

/* Inserts bridge 'name' with its internal port into 'ovs'.  'secure':
 * fail_mode secure (the integration bridge). */
const struct vsrec_bridge *lq_vs_create_bridge(
    struct lq_net_ctx *, const struct vsrec_open_vswitch *,
    const char *name, const char *datapath_type, bool secure);

const struct vsrec_bridge *lq_vs_find_bridge(struct ovsdb_idl *,
                                             const char *name);
const struct vsrec_interface *lq_vs_find_iface(struct ovsdb_idl *,
                                               const char *name);
const struct vsrec_interface *lq_vs_find_iface_by_port(struct ovsdb_idl *,
                                                       const char *port_id);

/* Adds Port+Interface 'device' to 'bridge'. */
void lq_vs_plug(struct lq_net_ctx *, const struct vsrec_bridge *,
                const char *device, const char *port_id, const char *mac,
                const char *vm_id);
/* The same with an interface type and options (NULL: none). */
void lq_vs_plug_typed(struct lq_net_ctx *, const struct vsrec_bridge *,
                      const char *device, const char *port_id,
                      const char *mac, const char *vm_id, const char *type,
                      const struct smap *options);
/* Removes the Port that holds 'iface' from every bridge. */
void lq_vs_unplug(struct lq_net_ctx *, const struct vsrec_interface *);

#endif
