/* dpdk.c: the DPDK fast path in the Open_vSwitch database (dpdk.h). */
#include <config.h>
#include "dpdk.h"

#include <inttypes.h>
#include <string.h>

#include "limiquantix/config.h"
#include "limiquantix/dpdk.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "util.h"
#include "vswitchd.h"

VLOG_DEFINE_THIS_MODULE(vswitchd_dpdk);

/* The other_config keys the node owns; any other key is left alone. */
static const char *const owned_keys[] = {
    "dpdk-init", "dpdk-lcore-mask", "pmd-cpu-mask", "dpdk-socket-mem",
    "dpdk-socket-limit", "dpdk-extra",
};

static bool
has_file_prefix(const struct lq_config *c)
{
    for (size_t i = 0; i < c->dpdk.n_extra_eal_args; i++) {
        if (!strncmp(c->dpdk.extra_eal_args[i], "--file-prefix", 13)) {
            return true;
        }
    }
    return false;
}

struct lq_vs_dpdk *
lq_vs_dpdk_create(const struct lq_config *c, const char *file_prefix)
{
    struct lq_vs_dpdk *d = xzalloc(sizeof *d);
    cpu_set_t lcore;

    smap_init(&d->other_config);
    smap_add(&d->other_config, "dpdk-init", "true");
    CPU_ZERO(&lcore);
    CPU_SET(c->dpdk.lcore, &lcore);
    smap_add_nocopy(&d->other_config, xstrdup("dpdk-lcore-mask"),
                    lq_cpu_list_hex_mask(&lcore));
    smap_add_nocopy(&d->other_config, xstrdup("pmd-cpu-mask"),
                    lq_cpu_list_hex_mask(&c->dpdk.pmd_cores));
    if (c->dpdk.socket_mem_mb) {
        /* Also the limit: OVS sizes its shared mbuf pool for 256K buffers
         * (about 768 MB) and halves it only when memory runs out, which
         * would take the hugepages meant for VMs. */
        smap_add_format(&d->other_config, "dpdk-socket-mem", "%d",
                        c->dpdk.socket_mem_mb);
        smap_add_format(&d->other_config, "dpdk-socket-limit", "%d",
                        c->dpdk.socket_mem_mb);
    }
    /* ovs-vswitchd splits dpdk-extra at spaces; the loader refused
     * arguments with whitespace inside. */
    struct ds extra = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < c->dpdk.n_extra_eal_args; i++) {
        ds_put_format(&extra, "%s%s", i ? " " : "",
                      c->dpdk.extra_eal_args[i]);
    }
    if (file_prefix && !has_file_prefix(c)) {
        ds_put_format(&extra, "%s--file-prefix=%s", extra.length ? " " : "",
                      file_prefix);
    }
    if (extra.length) {
        smap_add(&d->other_config, "dpdk-extra", ds_cstr(&extra));
    }
    ds_destroy(&extra);

    d->vhost_socket_dir = xstrdup(c->dpdk.vhost_socket_dir);
    d->hugepage_size_kb = c->dpdk.hugepages.size_kb;
    d->n_ports = c->dpdk.n_interfaces;
    d->ports = xcalloc(d->n_ports ? d->n_ports : 1, sizeof *d->ports);
    for (size_t i = 0; i < d->n_ports; i++) {
        const struct lq_dpdk_interface_config *ic = &c->dpdk.interfaces[i];
        d->ports[i].name = xstrdup(ic->name);
        d->ports[i].devargs = xstrdup(ic->pci ? ic->pci : ic->vdev);
        d->ports[i].bridge = xstrdup(ic->bridge ? ic->bridge
                                     : c->network.bridge_mappings.items[0]
                                       .value);
    }
    return d;
}

void
lq_vs_dpdk_destroy(struct lq_vs_dpdk *d)
{
    if (!d) {
        return;
    }
    smap_destroy(&d->other_config);
    free(d->vhost_socket_dir);
    for (size_t i = 0; i < d->n_ports; i++) {
        free(d->ports[i].name);
        free(d->ports[i].devargs);
        free(d->ports[i].bridge);
    }
    free(d->ports);
    free(d);
}

static void
setup_other_config(const struct lq_vs_dpdk *d,
                   const struct vsrec_open_vswitch *ovs)
{
    struct smap oc;
    smap_clone(&oc, &ovs->other_config);
    for (size_t i = 0; i < ARRAY_SIZE(owned_keys); i++) {
        const char *value = smap_get(&d->other_config, owned_keys[i]);
        if (value) {
            smap_replace(&oc, owned_keys[i], value);
        } else {
            smap_remove(&oc, owned_keys[i]);
        }
    }
    if (!smap_equal(&oc, &ovs->other_config)) {
        VLOG_INFO("DPDK: other_config dpdk-lcore-mask=%s pmd-cpu-mask=%s "
                  "dpdk-socket-mem=%s dpdk-extra=\"%s\"",
                  smap_get_def(&d->other_config, "dpdk-lcore-mask", ""),
                  smap_get_def(&d->other_config, "pmd-cpu-mask", ""),
                  smap_get_def(&d->other_config, "dpdk-socket-mem", "(none)"),
                  smap_get_def(&d->other_config, "dpdk-extra", ""));
        vsrec_open_vswitch_set_other_config(ovs, &oc);
    }
    smap_destroy(&oc);
}

void
lq_vs_dpdk_remove_settings(const struct vsrec_open_vswitch *ovs)
{
    struct smap oc;
    smap_clone(&oc, &ovs->other_config);
    for (size_t i = 0; i < ARRAY_SIZE(owned_keys); i++) {
        smap_remove(&oc, owned_keys[i]);
    }
    if (!smap_equal(&oc, &ovs->other_config)) {
        VLOG_INFO("DPDK fast path off: removing the dpdk-* settings this "
                  "node wrote (ovs-vswitchd needs a restart to let go of "
                  "DPDK)");
        vsrec_open_vswitch_set_other_config(ovs, &oc);
    }
    smap_destroy(&oc);
}

/* A dpdk.interfaces port: created, or its type and devargs corrected. */
static void
setup_port(struct lq_net_ctx *ctx, const struct vsrec_open_vswitch *ovs,
           const struct lq_vs_dpdk_port *p)
{
    struct smap options = SMAP_INITIALIZER(&options);
    smap_add(&options, "dpdk-devargs", p->devargs);

    const struct vsrec_interface *old = lq_vs_find_iface(ctx->ovs, p->name);
    if (old) {
        if (strcmp(old->type, "dpdk")) {
            vsrec_interface_set_type(old, "dpdk");
        }
        if (!smap_equal(&old->options, &options)) {
            vsrec_interface_set_options(old, &options);
        }
        smap_destroy(&options);
        return;
    }
    const struct vsrec_bridge *br = lq_vs_find_bridge(ctx->ovs, p->bridge);
    if (!br) {
        VLOG_INFO("DPDK: creating bridge %s for %s", p->bridge, p->name);
        br = lq_vs_create_bridge(ctx, ovs, p->bridge, "netdev", false);
    } else if (strcmp(br->datapath_type, "netdev")) {
        vsrec_bridge_set_datapath_type(br, "netdev");
    }
    struct ovsdb_idl_txn *txn = lq_net_ovs_txn(ctx);
    struct vsrec_interface *iface = vsrec_interface_insert(txn);
    vsrec_interface_set_name(iface, p->name);
    vsrec_interface_set_type(iface, "dpdk");
    vsrec_interface_set_options(iface, &options);
    struct vsrec_port *port = vsrec_port_insert(txn);
    vsrec_port_set_name(port, p->name);
    vsrec_port_set_interfaces(port, &iface, 1);
    vsrec_bridge_update_ports_addvalue(br, port);
    smap_destroy(&options);
}

void
lq_vs_dpdk_setup(struct lq_net_ctx *ctx, const struct vsrec_open_vswitch *ovs)
{
    const struct lq_vs_dpdk *d = ctx->options->dpdk;

    setup_other_config(d, ovs);
    /* The integration bridge runs on the userspace (DPDK) datapath. */
    const struct vsrec_bridge *br_int = lq_vs_find_bridge(
        ctx->ovs, ctx->options->integration_bridge);
    if (br_int && strcmp(br_int->datapath_type, "netdev")) {
        vsrec_bridge_set_datapath_type(br_int, "netdev");
    }
    for (size_t i = 0; i < d->n_ports; i++) {
        setup_port(ctx, ovs, &d->ports[i]);
    }
}

static bool
has_iface_type(const struct vsrec_open_vswitch *ovs, const char *type)
{
    for (size_t i = 0; i < ovs->n_iface_types; i++) {
        if (!strcmp(ovs->iface_types[i], type)) {
            return true;
        }
    }
    return false;
}

struct lq_error *
lq_vs_dpdk_ready(struct lq_net_ctx *ctx, bool *done)
{
    const struct lq_vs_dpdk *d = ctx->options->dpdk;
    const struct vsrec_open_vswitch *ovs = vsrec_open_vswitch_first(ctx->ovs);

    *done = false;
    if (!ovs) {
        return NULL;
    }
    /* ovs-vswitchd fills iface_types on its first pass; a build without
     * DPDK has no dpdk types (dpdk_version is set only once DPDK is
     * initialized, so it cannot tell). */
    if (ovs->n_iface_types && !has_iface_type(ovs, "dpdkvhostuserclient")) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "dpdk: the running "
                            "ovs-vswitchd (%s) is not the DPDK build: it "
                            "has no dpdkvhostuserclient interfaces (start "
                            "%s instead)",
                            ctx->options->ovs_remote, LQ_OVS_VSWITCHD_DPDK);
    }
    if (!ovs->dpdk_initialized) {
        return NULL;
    }
    for (size_t i = 0; i < d->n_ports; i++) {
        const struct vsrec_interface *iface
            = lq_vs_find_iface(ctx->ovs, d->ports[i].name);
        if (!iface || !iface->n_ofport) {
            return NULL;
        }
        if (iface->ofport[0] < 0) {
            return lq_error_new(LQ_FAILED_PRECONDITION, "dpdk.interfaces: "
                                "Open vSwitch cannot open %s (%s): %s",
                                d->ports[i].name, d->ports[i].devargs,
                                iface->error ? iface->error : "no reason "
                                "given (see ovs-vswitchd's log)");
        }
    }
    VLOG_INFO("DPDK initialized (%s), %zu DPDK port(s)", ovs->dpdk_version,
              d->n_ports);
    *done = true;
    return NULL;
}

char *
lq_vs_dpdk_socket_path(const struct lq_vs_dpdk *d, const char *device)
{
    return xasprintf("%s/%s", d->vhost_socket_dir, device);
}

void
lq_vs_plug_vhost(struct lq_net_ctx *ctx, const struct vsrec_bridge *br,
                 const char *device, const char *port_id, const char *mac,
                 const char *vm_id)
{
    struct smap options = SMAP_INITIALIZER(&options);
    smap_add_nocopy(&options, xstrdup("vhost-server-path"),
                    lq_vs_dpdk_socket_path(ctx->options->dpdk, device));
    lq_vs_plug_typed(ctx, br, device, port_id, mac, vm_id,
                     "dpdkvhostuserclient", &options);
    smap_destroy(&options);
}

struct lq_error *
lq_vs_dpdk_check_memory(const struct lq_vs_dpdk *d, uint64_t memory_mib,
                        const char *field)
{
    struct lq_hugepages hp;
    struct lq_error *e = lq_hugepages_read(NULL, &hp);
    if (e) {
        return e;
    }
    const struct lq_hugepage_pool *pool = lq_hugepages_find(
        &hp, d->hugepage_size_kb);
    uint64_t free_mib = pool ? pool->free * (d->hugepage_size_kb / 1024) : 0;
    uint64_t page_mib = d->hugepage_size_kb / 1024;
    char *size = lq_hugepage_size_name(d->hugepage_size_kb);
    if (memory_mib % page_mib) {
        e = lq_error_new(LQ_INVALID_ARGUMENT, "%s: %"PRIu64" MiB is not a "
                         "multiple of the %s hugepage size", field,
                         memory_mib, size);
    } else if (free_mib < memory_mib || !free_mib) {
        e = lq_error_new(LQ_FAILED_PRECONDITION, "%s: a vhost-user NIC needs "
                         "the VM's %"PRIu64" MiB in %s hugepages and this "
                         "node has %"PRIu64" MiB free (%"PRIu64" of %"PRIu64
                         " pages)", field, memory_mib, size, free_mib,
                         pool ? pool->free : 0, pool ? pool->total : 0);
    }
    free(size);
    lq_hugepages_clear(&hp);
    return e;
}
