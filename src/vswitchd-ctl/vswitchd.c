/* vswitchd.c: chassis settings and VM port plugging (see vswitchd.h). */
#include <config.h>
#include "vswitchd.h"
#include "dpdk.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "smap.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(vswitchd_ctl);

void
lq_vs_setup_chassis(struct lq_net_ctx *ctx)
{
    const struct lq_network_options *o = ctx->options;
    const struct vsrec_open_vswitch *ovs = vsrec_open_vswitch_first(ctx->ovs);
    struct ovsdb_idl_txn *txn = lq_net_ovs_txn(ctx);

    if (!ovs) {
        ovs = vsrec_open_vswitch_insert(txn);
    }
    /* Whether an earlier start with the fast path wrote its settings. */
    bool had_dpdk = smap_get_bool(&ovs->external_ids, LQ_VS_DPDK_MARK,
                                  false);
    struct smap ext;
    smap_clone(&ext, &ovs->external_ids);
    if (o->dpdk) {
        smap_replace(&ext, LQ_VS_DPDK_MARK, "true");
    } else {
        smap_remove(&ext, LQ_VS_DPDK_MARK);
    }
    smap_replace(&ext, "system-id", o->chassis);
    smap_replace(&ext, "hostname", o->hostname);
    smap_replace(&ext, "ovn-encap-type", o->encap_type);
    smap_replace(&ext, "ovn-encap-ip", o->encap_ip);
    smap_replace(&ext, "ovn-bridge", o->integration_bridge);
    smap_replace(&ext, "ovn-bridge-datapath-type", o->datapath_type);
    if (o->sb_remote) {
        smap_replace(&ext, "ovn-remote", o->sb_remote);
    }
    struct ds mappings = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; o->bridge_mappings && i < o->bridge_mappings->n; i++) {
        ds_put_format(&mappings, "%s%s:%s", i ? "," : "",
                      o->bridge_mappings->items[i].key,
                      o->bridge_mappings->items[i].value);
    }
    if (mappings.length) {
        smap_replace(&ext, "ovn-bridge-mappings", ds_cstr(&mappings));
    }
    ds_destroy(&mappings);
    if (!smap_equal(&ext, &ovs->external_ids)) {
        vsrec_open_vswitch_set_external_ids(ovs, &ext);
    }
    smap_destroy(&ext);

    if (!lq_vs_find_bridge(ctx->ovs, o->integration_bridge)) {
        VLOG_INFO("creating integration bridge %s (datapath %s)",
                  o->integration_bridge, o->datapath_type);
        lq_vs_create_bridge(ctx, ovs, o->integration_bridge,
                            o->datapath_type, true);
    }
    if (o->dpdk) {
        lq_vs_dpdk_setup(ctx, ovs);
    } else if (had_dpdk) {
        lq_vs_dpdk_remove_settings(ovs);
    }
}

const struct vsrec_bridge *
lq_vs_create_bridge(struct lq_net_ctx *ctx,
                    const struct vsrec_open_vswitch *ovs, const char *name,
                    const char *datapath_type, bool secure)
{
    struct ovsdb_idl_txn *txn = lq_net_ovs_txn(ctx);
    struct vsrec_interface *iface = vsrec_interface_insert(txn);
    vsrec_interface_set_name(iface, name);
    vsrec_interface_set_type(iface, "internal");
    struct vsrec_port *port = vsrec_port_insert(txn);
    vsrec_port_set_name(port, name);
    vsrec_port_set_interfaces(port, &iface, 1);
    struct vsrec_bridge *br = vsrec_bridge_insert(txn);
    vsrec_bridge_set_name(br, name);
    if (secure) {
        /* No NORMAL flows before OVN's: nothing leaks between ports. */
        vsrec_bridge_set_fail_mode(br, "secure");
    }
    vsrec_bridge_set_datapath_type(br, datapath_type);
    vsrec_bridge_set_ports(br, &port, 1);
    struct smap oc = SMAP_INITIALIZER(&oc);
    smap_add(&oc, "disable-in-band", "true");
    vsrec_bridge_set_other_config(br, &oc);
    smap_destroy(&oc);
    vsrec_open_vswitch_update_bridges_addvalue(ovs, br);
    return br;
}

const struct vsrec_bridge *
lq_vs_find_bridge(struct ovsdb_idl *idl, const char *name)
{
    const struct vsrec_bridge *br;
    VSREC_BRIDGE_FOR_EACH (br, idl) {
        if (!strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

const struct vsrec_interface *
lq_vs_find_iface(struct ovsdb_idl *idl, const char *name)
{
    const struct vsrec_interface *iface;
    VSREC_INTERFACE_FOR_EACH (iface, idl) {
        if (!strcmp(iface->name, name)) {
            return iface;
        }
    }
    return NULL;
}

const struct vsrec_interface *
lq_vs_find_iface_by_port(struct ovsdb_idl *idl, const char *port_id)
{
    const struct vsrec_interface *iface;
    VSREC_INTERFACE_FOR_EACH (iface, idl) {
        const char *id = smap_get(&iface->external_ids, "iface-id");
        if (id && !strcmp(id, port_id)) {
            return iface;
        }
    }
    return NULL;
}

void
lq_vs_plug(struct lq_net_ctx *ctx, const struct vsrec_bridge *br,
           const char *device, const char *port_id, const char *mac,
           const char *vm_id)
{
    lq_vs_plug_typed(ctx, br, device, port_id, mac, vm_id, NULL, NULL);
}

void
lq_vs_plug_typed(struct lq_net_ctx *ctx, const struct vsrec_bridge *br,
                 const char *device, const char *port_id, const char *mac,
                 const char *vm_id, const char *type,
                 const struct smap *options)
{
    struct ovsdb_idl_txn *txn = lq_net_ovs_txn(ctx);
    struct smap ext = SMAP_INITIALIZER(&ext);

    smap_add(&ext, "iface-id", port_id);
    smap_add(&ext, "iface-status", "active");
    smap_add(&ext, "attached-mac", mac);
    if (vm_id && *vm_id) {
        smap_add(&ext, "vm-id", vm_id);
    }
    struct vsrec_interface *iface = vsrec_interface_insert(txn);
    vsrec_interface_set_name(iface, device);
    if (type) {
        vsrec_interface_set_type(iface, type);
    }
    if (options) {
        vsrec_interface_set_options(iface, options);
    }
    vsrec_interface_set_external_ids(iface, &ext);
    smap_destroy(&ext);

    struct vsrec_port *port = vsrec_port_insert(txn);
    vsrec_port_set_name(port, device);
    vsrec_port_set_interfaces(port, &iface, 1);
    vsrec_bridge_update_ports_addvalue(br, port);
}

void
lq_vs_unplug(struct lq_net_ctx *ctx, const struct vsrec_interface *iface)
{
    const struct vsrec_bridge *br;

    if (ctx->options->dpdk && !strcmp(iface->type, "dpdkvhostuserclient")) {
        /* The socket QEMU listened on goes with the port.  Its path is ours
         * (vhost_socket_dir + the validated device name), never the one
         * read back from the database. */
        char *path = lq_vs_dpdk_socket_path(ctx->options->dpdk, iface->name);
        if (unlink(path) && errno != ENOENT) {
            VLOG_WARN("removing %s: %s", path, ovs_strerror(errno));
        }
        free(path);
    }
    lq_net_ovs_txn(ctx);
    VSREC_BRIDGE_FOR_EACH (br, ctx->ovs) {
        for (size_t i = 0; i < br->n_ports; i++) {
            const struct vsrec_port *port = br->ports[i];
            for (size_t k = 0; k < port->n_interfaces; k++) {
                if (port->interfaces[k] == iface) {
                    vsrec_bridge_update_ports_delvalue(br, port);
                }
            }
        }
    }
}

/* The start-up operation that applies the chassis settings. */
static struct lq_error *
setup_chassis_build(struct lq_net_ctx *ctx, void *aux OVS_UNUSED)
{
    lq_vs_setup_chassis(ctx);
    return NULL;
}

static void
setup_chassis_finish(struct lq_error *error, void *aux_)
{
    struct lq_chassis_hook *hook = aux_;
    if (error) {
        VLOG_ERR("chassis setup: %s", error->message);
        lq_error_free(error);
    } else {
        VLOG_INFO("chassis settings applied");
    }
    if (hook && hook->ready) {
        hook->ready(hook->aux, !error);
    }
    free(hook);
}

/* With the DPDK fast path, set-up ends when ovs-vswitchd has initialized
 * DPDK. */
static struct lq_error *
setup_chassis_ready(struct lq_net_ctx *ctx, void *aux OVS_UNUSED, bool *done)
{
    if (!ctx->options->dpdk) {
        *done = true;
        return NULL;
    }
    return lq_vs_dpdk_ready(ctx, done);
}

const struct lq_net_op_class lq_op_setup_chassis = {
    "SetupChassis", true, setup_chassis_build, setup_chassis_ready,
    setup_chassis_finish,
};
