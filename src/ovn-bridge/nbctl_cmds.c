/* nbctl_cmds.c: the commands of `lqctl nb`, read from the nbrec_ IDL.
 *
 * Each command prints exactly what ovn-nbctl 23.03 prints: same lines, same
 * padding, same order and the same error texts.  Where ovn-nbctl orders
 * rows by hashing them into an smap and sorting that, or by iterating the
 * IDL's tables, we do the same with the same OVS library calls, because
 * ties (two switches of the same name, two ACLs that differ only in their
 * action) are then broken the same way.  Each command also asks the IDL
 * for exactly the columns ovn-nbctl's asks for (its "prerequisites"), so
 * that the replica, and therefore every row pointer, looks the same.
 *
 * The table at the end lists every ovn-nbctl command, so that argument
 * counts and options are checked as ovn-nbctl checks them; the ones that
 * write (or that we do not offer) have no run function and are refused
 * before we connect, by nbctl_check_commands(). */
#include <config.h>
#include "nbctl_cmds.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lq-ovn-nb-idl.h"
#include "nbctl_util.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "smap.h"
#include "socket-util.h"
#include "svec.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(nbctl);

#define ADD_COLUMN(CTX, COLUMN) ovsdb_idl_add_column((CTX)->idl, &(COLUMN))

/* Finding rows by name or UUID. */

/* How one kind of row is named on the command line. */
struct nbctl_kind {
    const struct ovsdb_idl_table_class *table;
    const char *(*name_of)(const struct ovsdb_idl_row *);
    const char *what;           /* "switch": "sw0: switch name not found". */
    const char *several;        /* "logical switches": names must be unique.
                                 * NULL: the first row with the name wins. */
};

#define NBCTL_NAME_OF(TYPE)                                               \
    static const char *                                                   \
    TYPE##_name_of(const struct ovsdb_idl_row *row)                       \
    {                                                                     \
        return CONTAINER_OF(row, struct nbrec_##TYPE, header_)->name;     \
    }
NBCTL_NAME_OF(logical_switch)
NBCTL_NAME_OF(logical_switch_port)
NBCTL_NAME_OF(logical_router)
NBCTL_NAME_OF(logical_router_port)
NBCTL_NAME_OF(port_group)

static const struct nbctl_kind ls_kind = {
    &nbrec_table_logical_switch, logical_switch_name_of,
    "switch", "logical switches",
};
static const struct nbctl_kind lsp_kind = {
    &nbrec_table_logical_switch_port, logical_switch_port_name_of,
    "port", NULL,
};
static const struct nbctl_kind lr_kind = {
    &nbrec_table_logical_router, logical_router_name_of,
    "router", "logical routers",
};
static const struct nbctl_kind lrp_kind = {
    &nbrec_table_logical_router_port, logical_router_port_name_of,
    "port", NULL,
};
static const struct nbctl_kind pg_kind = {
    &nbrec_table_port_group, port_group_name_of,
    "port group", NULL,
};

/* Looks 'id' up as a UUID, then as a name.  Returns an error message, or
 * NULL with '*rowp' set (to NULL if nothing matched and !must_exist). */
static char * OVS_WARN_UNUSED_RESULT
nbctl_find(struct ctl_context *ctx, const struct nbctl_kind *kind,
           const char *id, bool must_exist, const struct ovsdb_idl_row **rowp)
{
    const struct ovsdb_idl_row *row = NULL;
    struct uuid uuid;
    bool is_uuid = uuid_from_string(&uuid, id);

    *rowp = NULL;
    if (is_uuid) {
        row = ovsdb_idl_get_row_for_uuid(ctx->idl, kind->table, &uuid);
    }
    if (!row) {
        const struct ovsdb_idl_row *r;
        for (r = ovsdb_idl_first_row(ctx->idl, kind->table); r;
             r = ovsdb_idl_next_row(r)) {
            if (strcmp(kind->name_of(r), id)) {
                continue;
            }
            if (!kind->several) {
                row = r;
                break;
            }
            if (row) {
                return xasprintf("Multiple %s named '%s'.  Use a UUID.",
                                 kind->several, id);
            }
            row = r;
        }
    }
    if (!row && must_exist) {
        return xasprintf("%s: %s %s not found", id, kind->what,
                         is_uuid ? "UUID" : "name");
    }
    *rowp = row;
    return NULL;
}

#define NBCTL_FINDER(FN, KIND, TYPE)                                       \
    static char * OVS_WARN_UNUSED_RESULT                                   \
    FN(struct ctl_context *ctx, const char *id, bool must_exist,           \
       const struct nbrec_##TYPE **p)                                      \
    {                                                                      \
        const struct ovsdb_idl_row *row;                                   \
        char *error = nbctl_find(ctx, &KIND, id, must_exist, &row);        \
        *p = row ? CONTAINER_OF(row, struct nbrec_##TYPE, header_) : NULL; \
        return error;                                                      \
    }
NBCTL_FINDER(find_ls, ls_kind, logical_switch)
NBCTL_FINDER(find_lsp, lsp_kind, logical_switch_port)
NBCTL_FINDER(find_lr, lr_kind, logical_router)
NBCTL_FINDER(find_lrp, lrp_kind, logical_router_port)
NBCTL_FINDER(find_pg, pg_kind, port_group)

/* Sets ctx->error from 'error' and returns true if there was one. */
static bool
failed(struct ctl_context *ctx, char *error)
{
    if (error) {
        ctx->error = error;
        return true;
    }
    return false;
}

/* A copy of the 'n' pointers at 'src' (which may be NULL if 'n' is 0). */
static void *
copy_rows(const void *src, size_t n)
{
    void **dst = xmalloc(n ? n * sizeof *dst : 1);
    if (n) {
        memcpy(dst, src, n * sizeof *dst);
    }
    return dst;
}

/* Appends the values of 'lines' (keyed for sorting), in key order, one per
 * line, then frees it. */
static void
put_sorted_values(struct ds *out, struct smap *lines)
{
    const struct smap_node **nodes = smap_sort(lines);
    for (size_t i = 0; i < smap_count(lines); i++) {
        ds_put_format(out, "%s\n", nodes[i]->value);
    }
    free(nodes);
    smap_destroy(lines);
}

/* Appends 'values' sorted, one per line. */
static void
put_sorted_strings(struct ds *out, char **values, size_t n)
{
    struct svec sorted = SVEC_EMPTY_INITIALIZER;
    for (size_t i = 0; i < n; i++) {
        svec_add(&sorted, values[i]);
    }
    svec_sort(&sorted);
    for (size_t i = 0; i < sorted.n; i++) {
        ds_put_format(out, "%s\n", sorted.names[i]);
    }
    svec_destroy(&sorted);
}

static void
put_smap_lines(struct ds *out, const struct smap *smap)
{
    const struct smap_node *node;
    SMAP_FOR_EACH (node, smap) {
        ds_put_format(out, "%s=%s\n", node->key, node->value);
    }
}

/* "UUID (name)" lines for rows listed by name. */
static void
add_uuid_line(struct smap *lines, const char *name, const struct uuid *uuid)
{
    smap_add_format(lines, name, UUID_FMT " (%s)", UUID_ARGS(uuid), name);
}

/* show. */

static void
put_alias(struct ds *s, const struct smap *external_ids, const char *key)
{
    const char *alias = smap_get(external_ids, key);
    if (alias && alias[0]) {
        ds_put_format(s, " (aka %s)", alias);
    }
}

static void
put_quoted_list(struct ds *s, const char *label, char **values, size_t n)
{
    ds_put_format(s, "        %s: [", label);
    for (size_t i = 0; i < n; i++) {
        ds_put_format(s, "%s\"%s\"", i ? ", " : "", values[i]);
    }
    ds_put_cstr(s, "]\n");
}

/* Gateway chassis, highest priority first, then by name, descending. */
static int
compare_gateway_chassis(const void *a_, const void *b_)
{
    const struct nbrec_gateway_chassis *const *a = a_;
    const struct nbrec_gateway_chassis *const *b = b_;

    if ((*a)->priority != (*b)->priority) {
        return (*a)->priority > (*b)->priority ? -1 : 1;
    }
    return strcmp((*b)->name, (*a)->name);
}

static const struct nbrec_gateway_chassis **
sorted_gateway_chassis(const struct nbrec_logical_router_port *lrp)
{
    const struct nbrec_gateway_chassis **gcs
        = copy_rows(lrp->gateway_chassis, lrp->n_gateway_chassis);
    qsort(gcs, lrp->n_gateway_chassis, sizeof *gcs, compare_gateway_chassis);
    return gcs;
}

static void
show_switch(const struct nbrec_logical_switch *ls, struct ds *s)
{
    ds_put_format(s, "switch " UUID_FMT " (%s)",
                  UUID_ARGS(&ls->header_.uuid), ls->name);
    put_alias(s, &ls->external_ids, "neutron:network_name");
    ds_put_char(s, '\n');

    for (size_t i = 0; i < ls->n_ports; i++) {
        const struct nbrec_logical_switch_port *lsp = ls->ports[i];

        ds_put_format(s, "    port %s", lsp->name);
        put_alias(s, &lsp->external_ids, "neutron:port_name");
        ds_put_char(s, '\n');
        if (lsp->type[0]) {
            ds_put_format(s, "        type: %s\n", lsp->type);
        }
        if (lsp->parent_name) {
            ds_put_format(s, "        parent: %s\n", lsp->parent_name);
        }
        if (lsp->n_tag) {
            ds_put_format(s, "        tag: %"PRIu64"\n", lsp->tag[0]);
        }
        /* A lone "router" address is left out as clutter. */
        if (lsp->n_addresses
            && !(lsp->n_addresses == 1
                 && !strcmp(lsp->addresses[0], "router"))) {
            put_quoted_list(s, "addresses", lsp->addresses,
                            lsp->n_addresses);
        }
        const char *router_port = smap_get(&lsp->options, "router-port");
        if (router_port) {
            ds_put_format(s, "        router-port: %s\n", router_port);
        }
    }
}

static void
show_router(const struct nbrec_logical_router *lr, struct ds *s)
{
    ds_put_format(s, "router " UUID_FMT " (%s)",
                  UUID_ARGS(&lr->header_.uuid), lr->name);
    put_alias(s, &lr->external_ids, "neutron:router_name");
    ds_put_char(s, '\n');

    for (size_t i = 0; i < lr->n_ports; i++) {
        const struct nbrec_logical_router_port *lrp = lr->ports[i];

        ds_put_format(s, "    port %s\n", lrp->name);
        if (lrp->mac) {
            ds_put_format(s, "        mac: \"%s\"\n", lrp->mac);
        }
        if (lrp->n_networks) {
            put_quoted_list(s, "networks", lrp->networks, lrp->n_networks);
        }
        const char *route_table = smap_get(&lrp->options, "route_table");
        if (route_table) {
            ds_put_format(s, "        route-table: %s\n", route_table);
        }
        if (lrp->n_gateway_chassis) {
            const struct nbrec_gateway_chassis **gcs
                = sorted_gateway_chassis(lrp);
            ds_put_cstr(s, "        gateway chassis: [");
            for (size_t j = 0; j < lrp->n_gateway_chassis; j++) {
                ds_put_format(s, "%s ", gcs[j]->chassis_name);
            }
            ds_chomp(s, ' ');
            ds_put_cstr(s, "]\n");
            free(gcs);
        }
    }

    for (size_t i = 0; i < lr->n_nat; i++) {
        const struct nbrec_nat *nat = lr->nat[i];

        ds_put_format(s, "    nat " UUID_FMT "\n",
                      UUID_ARGS(&nat->header_.uuid));
        ds_put_format(s, "        external ip: \"%s\"\n", nat->external_ip);
        if (nat->external_port_range[0]) {
            ds_put_format(s, "        external port(s): \"%s\"\n",
                          nat->external_port_range);
        }
        ds_put_format(s, "        logical ip: \"%s\"\n", nat->logical_ip);
        ds_put_format(s, "        type: \"%s\"\n", nat->type);
    }
}

static void
pre_show(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_col_external_ids);
    ADD_COLUMN(ctx, nbrec_logical_switch_col_ports);

    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_external_ids);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_type);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_parent_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_tag);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_addresses);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_options);

    ADD_COLUMN(ctx, nbrec_logical_router_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_col_external_ids);
    ADD_COLUMN(ctx, nbrec_logical_router_col_ports);
    ADD_COLUMN(ctx, nbrec_logical_router_col_nat);

    ADD_COLUMN(ctx, nbrec_logical_router_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_mac);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_networks);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_options);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_gateway_chassis);

    ADD_COLUMN(ctx, nbrec_gateway_chassis_col_chassis_name);

    ADD_COLUMN(ctx, nbrec_nat_col_external_ip);
    ADD_COLUMN(ctx, nbrec_nat_col_external_port_range);
    ADD_COLUMN(ctx, nbrec_nat_col_logical_ip);
    ADD_COLUMN(ctx, nbrec_nat_col_type);
}

static void
cmd_show(struct ctl_context *ctx)
{
    if (ctx->argc == 2) {
        const struct nbrec_logical_switch *ls;
        const struct nbrec_logical_router *lr;

        if (failed(ctx, find_ls(ctx, ctx->argv[1], false, &ls))) {
            return;
        }
        if (ls) {
            show_switch(ls, &ctx->output);
        }
        if (failed(ctx, find_lr(ctx, ctx->argv[1], false, &lr))) {
            return;
        }
        if (lr) {
            show_router(lr, &ctx->output);
        }
    } else {
        const struct nbrec_logical_switch *ls;
        const struct nbrec_logical_router *lr;

        NBREC_LOGICAL_SWITCH_FOR_EACH (ls, ctx->idl) {
            show_switch(ls, &ctx->output);
        }
        NBREC_LOGICAL_ROUTER_FOR_EACH (lr, ctx->idl) {
            show_router(lr, &ctx->output);
        }
    }
}

static void
pre_sync(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_nb_global_col_nb_cfg);
}

/* "sync" only means something with --wait, which we refuse. */
static void
cmd_sync(struct ctl_context *ctx OVS_UNUSED)
{
}

/* Logical switches and their ports. */

static void
pre_ls_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_col_name);
}

static void
cmd_ls_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch *ls;
    struct smap lines = SMAP_INITIALIZER(&lines);

    NBREC_LOGICAL_SWITCH_FOR_EACH (ls, ctx->idl) {
        add_uuid_line(&lines, ls->name, &ls->header_.uuid);
    }
    put_sorted_values(&ctx->output, &lines);
}

static void
pre_lsp_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_col_ports);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
}

static void
cmd_lsp_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch *ls;
    if (failed(ctx, find_ls(ctx, ctx->argv[1], true, &ls))) {
        return;
    }

    struct smap lines = SMAP_INITIALIZER(&lines);
    for (size_t i = 0; i < ls->n_ports; i++) {
        add_uuid_line(&lines, ls->ports[i]->name,
                      &ls->ports[i]->header_.uuid);
    }
    put_sorted_values(&ctx->output, &lines);
}

/* The port named by argv[1], which must exist, or NULL with ctx->error. */
static const struct nbrec_logical_switch_port *
lsp_arg(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp;
    return failed(ctx, find_lsp(ctx, ctx->argv[1], true, &lsp)) ? NULL : lsp;
}

static void
pre_lsp_get_parent(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_parent_name);
}

static void
cmd_lsp_get_parent(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    if (lsp && lsp->parent_name) {
        ds_put_format(&ctx->output, "%s\n", lsp->parent_name);
    }
}

static void
pre_lsp_get_tag(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_tag);
}

static void
cmd_lsp_get_tag(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    if (lsp && lsp->n_tag) {
        ds_put_format(&ctx->output, "%"PRId64"\n", lsp->tag[0]);
    }
}

static void
pre_lsp_get_addresses(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_addresses);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_options);

    ADD_COLUMN(ctx, nbrec_logical_router_col_ports);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_mac);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_networks);
}

static void
cmd_lsp_get_addresses(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    if (!lsp) {
        return;
    }

    /* A "router" port shows the addresses of its router port. */
    const char *router_port = smap_get(&lsp->options, "router-port");
    if (lsp->n_addresses == 1 && !strcmp(lsp->addresses[0], "router")
        && router_port) {
        const struct nbrec_logical_router_port *lrp;
        free(find_lrp(ctx, router_port, false, &lrp));  /* Never fails. */
        if (lrp) {
            ds_put_cstr(&ctx->output, lrp->mac);
            for (size_t i = 0; i < lrp->n_networks; i++) {
                ds_put_format(&ctx->output, " %s", lrp->networks[i]);
            }
            ds_put_char(&ctx->output, '\n');
            return;
        }
    }
    put_sorted_strings(&ctx->output, lsp->addresses, lsp->n_addresses);
}

static void
pre_lsp_port_security(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_port_security);
}

static void
cmd_lsp_get_port_security(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    if (lsp) {
        put_sorted_strings(&ctx->output, lsp->port_security,
                           lsp->n_port_security);
    }
}

static void
pre_lsp_get_up(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_up);
}

static void
cmd_lsp_get_up(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    if (lsp) {
        ds_put_format(&ctx->output, "%s\n",
                      lsp->up && *lsp->up ? "up" : "down");
    }
}

static void
pre_lsp_enabled(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_enabled);
}

static void
cmd_lsp_get_enabled(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    if (lsp) {
        ds_put_format(&ctx->output, "%s\n",
                      !lsp->enabled || *lsp->enabled ? "enabled"
                                                     : "disabled");
    }
}

static void
pre_lsp_type(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_type);
}

static void
cmd_lsp_get_type(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    if (lsp) {
        ds_put_format(&ctx->output, "%s\n", lsp->type);
    }
}

static void
pre_lsp_options(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_options);
}

static void
cmd_lsp_get_options(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    if (lsp) {
        put_smap_lines(&ctx->output, &lsp->options);
    }
}

static void
pre_lsp_dhcpv4_options(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_dhcpv4_options);
    ADD_COLUMN(ctx, nbrec_dhcp_options_col_cidr);
}

static void
pre_lsp_dhcpv6_options(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_dhcpv6_options);
    ADD_COLUMN(ctx, nbrec_dhcp_options_col_cidr);
}

static void
put_dhcp_options_ref(struct ds *out, const struct nbrec_dhcp_options *opts)
{
    if (opts) {
        ds_put_format(out, UUID_FMT " (%s)\n",
                      UUID_ARGS(&opts->header_.uuid), opts->cidr);
    }
}

static void
cmd_lsp_get_dhcpv4_options(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    if (lsp) {
        put_dhcp_options_ref(&ctx->output, lsp->dhcpv4_options);
    }
}

static void
cmd_lsp_get_dhcpv6_options(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    if (lsp) {
        put_dhcp_options_ref(&ctx->output, lsp->dhcpv6_options);
    }
}

static void
pre_lsp_get_ls(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_col_ports);
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
}

static void
cmd_lsp_get_ls(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch_port *lsp = lsp_arg(ctx);
    const struct nbrec_logical_switch *ls;

    if (!lsp) {
        return;
    }
    NBREC_LOGICAL_SWITCH_FOR_EACH (ls, ctx->idl) {
        for (size_t i = 0; i < ls->n_ports; i++) {
            if (ls->ports[i] == lsp) {
                ds_put_format(&ctx->output, UUID_FMT " (%s)\n",
                              UUID_ARGS(&ls->header_.uuid), ls->name);
                break;
            }
        }
    }
}

/* ACLs and QoS rules. */

static bool
is_from_lport(const char *direction)
{
    return !strcmp(direction, "from-lport");
}

/* from-lport first, then ACLs applied before load balancing, then the
 * highest priority, then by match. */
static int
compare_acls(const void *a_, const void *b_)
{
    const struct nbrec_acl *a = *(const struct nbrec_acl *const *) a_;
    const struct nbrec_acl *b = *(const struct nbrec_acl *const *) b_;
    bool a_from = is_from_lport(a->direction);
    bool b_from = is_from_lport(b->direction);
    bool a_after = smap_get_bool(&a->options, "apply-after-lb", false);
    bool b_after = smap_get_bool(&b->options, "apply-after-lb", false);

    if (a_from != b_from) {
        return a_from ? -1 : 1;
    } else if (a_after != b_after) {
        return b_after ? -1 : 1;
    } else if (a->priority != b->priority) {
        return a->priority > b->priority ? -1 : 1;
    }
    return strcmp(a->match, b->match);
}

/* The switch or port group acl-list is about ("--type" may say which). */
static char * OVS_WARN_UNUSED_RESULT
acl_owner(struct ctl_context *ctx, const struct nbrec_logical_switch **ls,
          const struct nbrec_port_group **pg)
{
    const char *type = shash_find_data(&ctx->options, "--type");
    const char *id = ctx->argv[1];
    char *error;

    *ls = NULL;
    *pg = NULL;
    if (!type) {
        error = find_pg(ctx, id, false, pg);
        if (!error) {
            error = find_ls(ctx, id, false, ls);
        }
        if (error) {
            return error;
        }
        if (*pg && *ls) {
            return xasprintf("Same name '%s' exists in both port-groups and "
                             "logical switches. Specify --type=port-group or "
                             "switch, or use a UUID.", id);
        }
        if (!*pg && !*ls) {
            return xasprintf("'%s' is not found for port-group or switch.",
                             id);
        }
        return NULL;
    } else if (!strcmp(type, "port-group")) {
        return find_pg(ctx, id, true, pg);
    } else if (!strcmp(type, "switch")) {
        return find_ls(ctx, id, true, ls);
    }
    return xasprintf("Invalid value '%s' for option --type", type);
}

static void
pre_acl_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_port_group_col_name);
    ADD_COLUMN(ctx, nbrec_port_group_col_acls);
    ADD_COLUMN(ctx, nbrec_logical_switch_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_col_acls);

    ADD_COLUMN(ctx, nbrec_acl_col_direction);
    ADD_COLUMN(ctx, nbrec_acl_col_priority);
    ADD_COLUMN(ctx, nbrec_acl_col_match);
    ADD_COLUMN(ctx, nbrec_acl_col_options);
    ADD_COLUMN(ctx, nbrec_acl_col_action);
    ADD_COLUMN(ctx, nbrec_acl_col_log);
    ADD_COLUMN(ctx, nbrec_acl_col_name);
    ADD_COLUMN(ctx, nbrec_acl_col_severity);
    ADD_COLUMN(ctx, nbrec_acl_col_meter);
    ADD_COLUMN(ctx, nbrec_acl_col_label);
}

void
nbctl_put_acl(struct ds *out, const struct nbrec_acl *acl)
{
    ds_put_format(out, "%10s %5"PRId64" (%s) %s", acl->direction,
                  acl->priority, acl->match, acl->action);
    if (acl->log) {
        ds_put_cstr(out, " log(");
        if (acl->name) {
            ds_put_format(out, "name=%s,", acl->name);
        }
        if (acl->severity) {
            ds_put_format(out, "severity=%s,", acl->severity);
        }
        if (acl->meter) {
            ds_put_format(out, "meter=\"%s\",", acl->meter);
        }
        ds_chomp(out, ',');
        ds_put_char(out, ')');
    }
    if (acl->label) {
        ds_put_format(out, " label=%"PRId64, acl->label);
    }
    if (smap_get_bool(&acl->options, "apply-after-lb", false)) {
        ds_put_cstr(out, " [after-lb]");
    }
    ds_put_char(out, '\n');
}

static void
cmd_acl_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch *ls;
    const struct nbrec_port_group *pg;

    if (failed(ctx, acl_owner(ctx, &ls, &pg))) {
        return;
    }

    size_t n = pg ? pg->n_acls : ls->n_acls;
    const struct nbrec_acl **acls = copy_rows(pg ? pg->acls : ls->acls, n);
    qsort(acls, n, sizeof *acls, compare_acls);
    for (size_t i = 0; i < n; i++) {
        nbctl_put_acl(&ctx->output, acls[i]);
    }
    free(acls);
}

static int
compare_qos(const void *a_, const void *b_)
{
    const struct nbrec_qos *a = *(const struct nbrec_qos *const *) a_;
    const struct nbrec_qos *b = *(const struct nbrec_qos *const *) b_;
    bool a_from = is_from_lport(a->direction);
    bool b_from = is_from_lport(b->direction);

    if (a_from != b_from) {
        return a_from ? -1 : 1;
    } else if (a->priority != b->priority) {
        return a->priority > b->priority ? -1 : 1;
    }
    return strcmp(a->match, b->match);
}

static void
pre_qos_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_col_qos_rules);
    ADD_COLUMN(ctx, nbrec_qos_col_direction);
    ADD_COLUMN(ctx, nbrec_qos_col_priority);
    ADD_COLUMN(ctx, nbrec_qos_col_match);
    ADD_COLUMN(ctx, nbrec_qos_col_bandwidth);
    ADD_COLUMN(ctx, nbrec_qos_col_action);
}

/* Appends " KEY=VALUE" for each entry of an integer map whose key is
 * 'key'. */
static void
put_int_map_entry(struct ds *out, const char *key, char **keys,
                  const int64_t *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(keys[i], key)) {
            ds_put_format(out, " %s=%"PRId64, key, values[i]);
        }
    }
}

static void
cmd_qos_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch *ls;
    if (failed(ctx, find_ls(ctx, ctx->argv[1], true, &ls))) {
        return;
    }

    const struct nbrec_qos **rules = copy_rows(ls->qos_rules,
                                               ls->n_qos_rules);
    qsort(rules, ls->n_qos_rules, sizeof *rules, compare_qos);
    for (size_t i = 0; i < ls->n_qos_rules; i++) {
        const struct nbrec_qos *q = rules[i];
        ds_put_format(&ctx->output, "%10s %5"PRId64" (%s)", q->direction,
                      q->priority, q->match);
        put_int_map_entry(&ctx->output, "rate", q->key_bandwidth,
                          q->value_bandwidth, q->n_bandwidth);
        put_int_map_entry(&ctx->output, "burst", q->key_bandwidth,
                          q->value_bandwidth, q->n_bandwidth);
        put_int_map_entry(&ctx->output, "dscp", q->key_action,
                          q->value_action, q->n_action);
        ds_put_char(&ctx->output, '\n');
    }
    free(rules);
}

/* Meters and mirrors. */

static int
compare_meters(const void *a_, const void *b_)
{
    const struct nbrec_meter *a = *(const struct nbrec_meter *const *) a_;
    const struct nbrec_meter *b = *(const struct nbrec_meter *const *) b_;
    return strcmp(a->name, b->name);
}

static void
pre_meter_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_meter_col_name);
    ADD_COLUMN(ctx, nbrec_meter_col_fair);
    ADD_COLUMN(ctx, nbrec_meter_col_bands);
    ADD_COLUMN(ctx, nbrec_meter_col_unit);
    ADD_COLUMN(ctx, nbrec_meter_band_col_action);
    ADD_COLUMN(ctx, nbrec_meter_band_col_rate);
    ADD_COLUMN(ctx, nbrec_meter_band_col_burst_size);
}

static void
cmd_meter_list(struct ctl_context *ctx)
{
    const struct nbrec_meter **meters = NULL;
    const struct nbrec_meter *meter;
    size_t n = 0, allocated = 0;

    NBREC_METER_FOR_EACH (meter, ctx->idl) {
        if (n == allocated) {
            meters = x2nrealloc(meters, &allocated, sizeof *meters);
        }
        meters[n++] = meter;
    }
    if (n) {
        qsort(meters, n, sizeof *meters, compare_meters);
    }

    for (size_t i = 0; i < n; i++) {
        meter = meters[i];
        ds_put_format(&ctx->output, "%s:", meter->name);
        if (meter->fair) {
            ds_put_format(&ctx->output, " (%s)",
                          *meter->fair ? "fair" : "shared");
        }
        ds_put_cstr(&ctx->output, " bands:\n");
        for (size_t j = 0; j < meter->n_bands; j++) {
            const struct nbrec_meter_band *band = meter->bands[j];
            ds_put_format(&ctx->output, "  %s: %"PRId64" %s", band->action,
                          band->rate, meter->unit);
            if (band->burst_size) {
                ds_put_format(&ctx->output, ", %"PRId64" %s burst",
                              band->burst_size,
                              !strcmp(meter->unit, "kbps") ? "kb" : "packet");
            }
        }
        ds_put_char(&ctx->output, '\n');
    }
    free(meters);
}

static int
compare_mirrors(const void *a_, const void *b_)
{
    const struct nbrec_mirror *a = *(const struct nbrec_mirror *const *) a_;
    const struct nbrec_mirror *b = *(const struct nbrec_mirror *const *) b_;
    return strcmp(a->name, b->name);
}

static void
pre_mirror_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_port_col_name);
    ADD_COLUMN(ctx, nbrec_mirror_col_name);
    ADD_COLUMN(ctx, nbrec_mirror_col_filter);
    ADD_COLUMN(ctx, nbrec_mirror_col_index);
    ADD_COLUMN(ctx, nbrec_mirror_col_sink);
    ADD_COLUMN(ctx, nbrec_mirror_col_type);
}

static void
cmd_mirror_list(struct ctl_context *ctx)
{
    const struct nbrec_mirror **mirrors = NULL;
    const struct nbrec_mirror *mirror;
    size_t n = 0, allocated = 0;

    NBREC_MIRROR_FOR_EACH (mirror, ctx->idl) {
        if (n == allocated) {
            mirrors = x2nrealloc(mirrors, &allocated, sizeof *mirrors);
        }
        mirrors[n++] = mirror;
    }
    if (n) {
        qsort(mirrors, n, sizeof *mirrors, compare_mirrors);
    }

    for (size_t i = 0; i < n; i++) {
        mirror = mirrors[i];
        ds_put_format(&ctx->output, "%s:\n", mirror->name);
        ds_put_format(&ctx->output, "  Type     :  %s\n", mirror->type);
        ds_put_format(&ctx->output, "  Sink     :  %s\n", mirror->sink);
        ds_put_format(&ctx->output, "  Filter   :  %s\n", mirror->filter);
        ds_put_format(&ctx->output, "  Index/Key:  %ld\n",
                      (long int) mirror->index);
        ds_put_char(&ctx->output, '\n');
    }
    free(mirrors);
}

/* Load balancers. */

static void
pre_lb_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_load_balancer_col_name);
    ADD_COLUMN(ctx, nbrec_load_balancer_col_options);
    ADD_COLUMN(ctx, nbrec_load_balancer_col_protocol);
    ADD_COLUMN(ctx, nbrec_load_balancer_col_vips);
}

/* The longest VIP of 'lb', or 'width' if that is longer. */
static int
lb_vip_width(const struct nbrec_load_balancer *lb, int width)
{
    const struct smap_node *node;
    SMAP_FOR_EACH (node, &lb->vips) {
        int len = strlen(node->key);
        width = MAX(width, len);
    }
    return width;
}

/* Adds the lines of 'lb' (one per VIP, sorted) to 'lbs', keyed by its
 * padded name so that the table sorts by name. */
static void
lb_add_lines(const struct nbrec_load_balancer *lb, struct smap *lbs,
             int width)
{
    bool template = smap_get_bool(&lb->options, "template", false);
    const struct smap_node **vips = smap_sort(&lb->vips);
    if (!vips) {
        return;
    }

    struct ds lines = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < smap_count(&lb->vips); i++) {
        const struct smap_node *vip = vips[i];
        const char *protocol = lb->protocol;

        if (template) {
            if (!lb->protocol) {
                VLOG_WARN("Load Balancer "UUID_FMT" (%s) is a template and "
                          "misses protocol", UUID_ARGS(&lb->header_.uuid),
                          lb->name);
                continue;
            }
        } else {
            /* A VIP without a port applies to every protocol. */
            struct sockaddr_storage ss;
            if (!inet_parse_active(vip->key, 0, &ss, false, NULL)) {
                continue;
            }
            protocol = ss_get_port(&ss) ? lb->protocol : "";
        }

        if (i == 0) {
            ds_put_format(&lines, UUID_FMT "    %-20.16s%-11.7s%-*.*s%s",
                          UUID_ARGS(&lb->header_.uuid), lb->name, protocol,
                          width + 4, width, vip->key, vip->value);
        } else {
            ds_put_format(&lines, "\n%60s%-11.7s%-*.*s%s", "", protocol,
                          width + 4, width, vip->key, vip->value);
        }
    }
    smap_add_nocopy(lbs, xasprintf("%-20.16s", lb->name),
                    ds_steal_cstr(&lines));
    free(vips);
}

static void
lb_put_table(struct ds *out, struct smap *lbs, int width)
{
    const struct smap_node **nodes = smap_sort(lbs);
    if (nodes) {
        ds_put_format(out, "%-40.36s%-20.16s%-11.7s%-*.*s%s\n", "UUID", "LB",
                      "PROTO", width + 4, width, "VIP", "IPs");
        for (size_t i = 0; i < smap_count(lbs); i++) {
            ds_put_format(out, "%s\n", nodes[i]->value);
        }
        free(nodes);
    }
    smap_destroy(lbs);
}

static void
cmd_lb_list(struct ctl_context *ctx)
{
    const char *name = ctx->argc == 2 ? ctx->argv[1] : NULL;
    const struct nbrec_load_balancer *lb;
    struct smap lbs = SMAP_INITIALIZER(&lbs);
    int width = 0;

    NBREC_LOAD_BALANCER_FOR_EACH (lb, ctx->idl) {
        if (!name || !strcmp(lb->name, name)) {
            width = lb_vip_width(lb, width);
        }
    }
    NBREC_LOAD_BALANCER_FOR_EACH (lb, ctx->idl) {
        if (!name || !strcmp(lb->name, name)) {
            lb_add_lines(lb, &lbs, width);
        }
    }
    lb_put_table(&ctx->output, &lbs, width);
}

/* The table of the load balancers of a switch or router: its own, then
 * those of its load balancer groups. */
static void
lb_put_datapath_table(struct ds *out,
                      struct nbrec_load_balancer **lbs, size_t n_lbs,
                      struct nbrec_load_balancer_group **groups,
                      size_t n_groups)
{
    struct smap lines = SMAP_INITIALIZER(&lines);
    int width = 0;

    for (size_t i = 0; i < n_lbs; i++) {
        width = lb_vip_width(lbs[i], width);
    }
    for (size_t i = 0; i < n_groups; i++) {
        for (size_t j = 0; j < groups[i]->n_load_balancer; j++) {
            width = lb_vip_width(groups[i]->load_balancer[j], width);
        }
    }

    for (size_t i = 0; i < n_lbs; i++) {
        lb_add_lines(lbs[i], &lines, width);
    }
    for (size_t i = 0; i < n_groups; i++) {
        for (size_t j = 0; j < groups[i]->n_load_balancer; j++) {
            lb_add_lines(groups[i]->load_balancer[j], &lines, width);
        }
    }
    lb_put_table(out, &lines, width);
}

static void
pre_ls_lb_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_switch_col_name);
    ADD_COLUMN(ctx, nbrec_logical_switch_col_load_balancer);
    ADD_COLUMN(ctx, nbrec_logical_switch_col_load_balancer_group);
    pre_lb_list(ctx);
    ADD_COLUMN(ctx, nbrec_load_balancer_group_col_name);
    ADD_COLUMN(ctx, nbrec_load_balancer_group_col_load_balancer);
}

static void
cmd_ls_lb_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_switch *ls;
    if (!failed(ctx, find_ls(ctx, ctx->argv[1], true, &ls))) {
        lb_put_datapath_table(&ctx->output, ls->load_balancer,
                              ls->n_load_balancer, ls->load_balancer_group,
                              ls->n_load_balancer_group);
    }
}

static void
pre_lr_lb_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_router_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_col_load_balancer);
    ADD_COLUMN(ctx, nbrec_logical_router_col_load_balancer_group);
    pre_lb_list(ctx);
    ADD_COLUMN(ctx, nbrec_load_balancer_group_col_name);
    ADD_COLUMN(ctx, nbrec_load_balancer_group_col_load_balancer);
}

static void
cmd_lr_lb_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_router *lr;
    if (!failed(ctx, find_lr(ctx, ctx->argv[1], true, &lr))) {
        lb_put_datapath_table(&ctx->output, lr->load_balancer,
                              lr->n_load_balancer, lr->load_balancer_group,
                              lr->n_load_balancer_group);
    }
}

/* Logical routers and their ports. */

static void
pre_lr_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_router_col_name);
}

static void
cmd_lr_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_router *lr;
    struct smap lines = SMAP_INITIALIZER(&lines);

    NBREC_LOGICAL_ROUTER_FOR_EACH (lr, ctx->idl) {
        add_uuid_line(&lines, lr->name, &lr->header_.uuid);
    }
    put_sorted_values(&ctx->output, &lines);
}

static void
pre_lrp_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_router_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_col_ports);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_name);
}

static void
cmd_lrp_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_router *lr;
    if (failed(ctx, find_lr(ctx, ctx->argv[1], true, &lr))) {
        return;
    }

    struct smap lines = SMAP_INITIALIZER(&lines);
    for (size_t i = 0; i < lr->n_ports; i++) {
        add_uuid_line(&lines, lr->ports[i]->name,
                      &lr->ports[i]->header_.uuid);
    }
    put_sorted_values(&ctx->output, &lines);
}

static const struct nbrec_logical_router_port *
lrp_arg(struct ctl_context *ctx)
{
    const struct nbrec_logical_router_port *lrp;
    return failed(ctx, find_lrp(ctx, ctx->argv[1], true, &lrp)) ? NULL : lrp;
}

static void
pre_lrp_enabled(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_enabled);
}

static void
cmd_lrp_get_enabled(struct ctl_context *ctx)
{
    const struct nbrec_logical_router_port *lrp = lrp_arg(ctx);
    if (lrp) {
        ds_put_format(&ctx->output, "%s\n",
                      !lrp->enabled || *lrp->enabled ? "enabled"
                                                     : "disabled");
    }
}

static void
pre_lrp_redirect_type(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_options);
}

static void
cmd_lrp_get_redirect_type(struct ctl_context *ctx)
{
    const struct nbrec_logical_router_port *lrp = lrp_arg(ctx);
    if (lrp) {
        const char *type = smap_get(&lrp->options, "redirect-type");
        ds_put_format(&ctx->output, "%s\n", type ? type : "overlay");
    }
}

static void
pre_lrp_get_gateway_chassis(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_gateway_chassis);
    ADD_COLUMN(ctx, nbrec_gateway_chassis_col_name);
    ADD_COLUMN(ctx, nbrec_gateway_chassis_col_priority);
}

static void
cmd_lrp_get_gateway_chassis(struct ctl_context *ctx)
{
    const struct nbrec_logical_router_port *lrp = lrp_arg(ctx);
    if (!lrp) {
        return;
    }

    const struct nbrec_gateway_chassis **gcs = sorted_gateway_chassis(lrp);
    for (size_t i = 0; i < lrp->n_gateway_chassis; i++) {
        ds_put_format(&ctx->output, "%s %5"PRId64"\n", gcs[i]->name,
                      gcs[i]->priority);
    }
    free(gcs);
}

/* Static routes. */

struct route {
    int rank;                   /* nbctl_route_rank(). */
    struct in6_addr addr;       /* IPv4 mapped for IPv4 routes. */
    const struct nbrec_logical_router_static_route *nb;
};

/* Whether two routes are equal cost: the same table, rank and prefix. */
static int
compare_route_keys(const struct route *a, const struct route *b, bool ipv4)
{
    int cmp = strcmp(a->nb->route_table, b->nb->route_table);
    if (cmp) {
        return cmp;
    }
    if (a->rank != b->rank) {
        return a->rank > b->rank ? -1 : 1;
    }
    if (ipv4) {
        uint32_t ia = ntohl(in6_addr_get_mapped_ipv4(&a->addr));
        uint32_t ib = ntohl(in6_addr_get_mapped_ipv4(&b->addr));
        return ia == ib ? 0 : ia < ib ? -1 : 1;
    }
    return memcmp(&a->addr, &b->addr, sizeof a->addr);
}

/* Equal-cost routes by next hop, then output port (routes without one
 * first). */
static int
compare_route_details(const struct nbrec_logical_router_static_route *a,
                      const struct nbrec_logical_router_static_route *b)
{
    int cmp = strcmp(a->nexthop, b->nexthop);
    if (cmp) {
        return cmp;
    }
    if (a->output_port && b->output_port) {
        return strcmp(a->output_port, b->output_port);
    }
    if (!a->output_port && !b->output_port) {
        return 0;
    }
    return a->output_port ? 1 : -1;
}

static int
compare_ipv4_routes(const void *a_, const void *b_)
{
    const struct route *a = a_, *b = b_;
    int cmp = compare_route_keys(a, b, true);
    return cmp ? cmp : compare_route_details(a->nb, b->nb);
}

static int
compare_ipv6_routes(const void *a_, const void *b_)
{
    const struct route *a = a_, *b = b_;
    int cmp = compare_route_keys(a, b, false);
    return cmp ? cmp : compare_route_details(a->nb, b->nb);
}

static void
put_route(struct ds *s, const struct nbrec_logical_router_static_route *r,
          bool ecmp)
{
    char *prefix = nbctl_normalize_prefix(r->ip_prefix);
    char *nexthop = (!strcmp(r->nexthop, "discard") ? xstrdup("discard")
                     : r->nexthop[0] ? nbctl_normalize_prefix(r->nexthop)
                     : NULL);

    ds_put_format(s, "%25s %25s", prefix ? prefix : "",
                  nexthop ? nexthop : "");
    free(prefix);
    free(nexthop);

    ds_put_format(s, " %s", r->policy ? r->policy : "dst-ip");
    if (r->output_port) {
        ds_put_format(s, " %s", r->output_port);
    }
    if (smap_get(&r->external_ids, "ic-learned-route")) {
        ds_put_cstr(s, " (learned)");
    }
    if (ecmp) {
        ds_put_cstr(s, " ecmp");
    }
    if (smap_get_bool(&r->options, "ecmp_symmetric_reply", false)) {
        ds_put_cstr(s, " ecmp-symmetric-reply");
    }
    if (r->bfd) {
        ds_put_cstr(s, " bfd");
    }
    ds_put_char(s, '\n');
}

/* Prints the sorted 'routes' of one family under 'title', with a
 * "Route Table" heading wherever the table changes. */
static void
put_routes(struct ds *s, const char *title, struct route *routes, size_t n,
           bool ipv4)
{
    if (!n) {
        return;
    }
    ds_put_format(s, "%s\n", title);
    for (size_t i = 0; i < n; i++) {
        const char *table = routes[i].nb->route_table;
        bool ecmp = ((i + 1 < n
                      && !compare_route_keys(&routes[i], &routes[i + 1],
                                             ipv4))
                     || (i > 0
                         && !compare_route_keys(&routes[i], &routes[i - 1],
                                                ipv4)));

        if (!i || strcmp(table, routes[i - 1].nb->route_table)) {
            ds_put_format(s, "%sRoute Table %s:\n", i ? "\n" : "",
                          table[0] ? table : "<main>");
        }
        put_route(s, routes[i].nb, ecmp);
    }
}

static void
pre_lr_route_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_router_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_col_static_routes);
    ADD_COLUMN(ctx, nbrec_logical_router_static_route_col_policy);
    ADD_COLUMN(ctx, nbrec_logical_router_static_route_col_ip_prefix);
    ADD_COLUMN(ctx, nbrec_logical_router_static_route_col_nexthop);
    ADD_COLUMN(ctx, nbrec_logical_router_static_route_col_output_port);
    ADD_COLUMN(ctx, nbrec_logical_router_static_route_col_external_ids);
    ADD_COLUMN(ctx, nbrec_logical_router_static_route_col_options);
    ADD_COLUMN(ctx, nbrec_logical_router_static_route_col_bfd);
    ADD_COLUMN(ctx, nbrec_logical_router_static_route_col_route_table);
}

static void
cmd_lr_route_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_router *lr;
    if (failed(ctx, find_lr(ctx, ctx->argv[1], true, &lr))) {
        return;
    }

    const char *route_table = shash_find_data(&ctx->options,
                                              "--route-table");
    size_t n = lr->n_static_routes;
    struct route *v4 = xmalloc(n * sizeof *v4);
    struct route *v6 = xmalloc(n * sizeof *v6);
    size_t n4 = 0, n6 = 0;

    for (size_t i = 0; i < n; i++) {
        const struct nbrec_logical_router_static_route *r
            = lr->static_routes[i];
        unsigned int plen;
        ovs_be32 ip4;
        struct in6_addr ip6;
        char *error;

        if (route_table && strcmp(r->route_table, route_table)) {
            continue;
        }
        error = ip_parse_cidr(r->ip_prefix, &ip4, &plen);
        if (!error) {
            in6_addr_set_mapped_ipv4(&v4[n4].addr, ip4);
            v4[n4].rank = nbctl_route_rank(plen, r->policy);
            v4[n4++].nb = r;
            continue;
        }
        free(error);

        error = ipv6_parse_cidr(r->ip_prefix, &ip6, &plen);
        if (!error) {
            v6[n6].addr = ip6;
            v6[n6].rank = nbctl_route_rank(plen, r->policy);
            v6[n6++].nb = r;
            continue;
        }
        free(error);
        VLOG_WARN("router "UUID_FMT" (%s) has invalid prefix: %s",
                  UUID_ARGS(&lr->header_.uuid), lr->name, r->ip_prefix);
    }

    qsort(v4, n4, sizeof *v4, compare_ipv4_routes);
    qsort(v6, n6, sizeof *v6, compare_ipv6_routes);
    put_routes(&ctx->output, "IPv4 Routes", v4, n4, true);
    if (n6 && n4) {
        ds_put_char(&ctx->output, '\n');
    }
    put_routes(&ctx->output, "IPv6 Routes", v6, n6, false);
    free(v4);
    free(v6);
}

/* Routing policies. */

static int
compare_policies(const void *a_, const void *b_)
{
    const struct nbrec_logical_router_policy *a
        = *(const struct nbrec_logical_router_policy *const *) a_;
    const struct nbrec_logical_router_policy *b
        = *(const struct nbrec_logical_router_policy *const *) b_;

    /* ovn-nbctl compares priorities as "int" (the schema keeps them in
     * 0...32767). */
    int pa = a->priority, pb = b->priority;
    if (pa != pb) {
        return pa > pb ? -1 : 1;
    }
    return strcmp(a->match, b->match);
}

static void
pre_lr_policy_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_router_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_col_policies);
    ADD_COLUMN(ctx, nbrec_logical_router_policy_col_priority);
    ADD_COLUMN(ctx, nbrec_logical_router_policy_col_match);
    ADD_COLUMN(ctx, nbrec_logical_router_policy_col_nexthops);
    ADD_COLUMN(ctx, nbrec_logical_router_policy_col_action);
    ADD_COLUMN(ctx, nbrec_logical_router_policy_col_options);
}

static void
put_policy(struct ds *s, const struct nbrec_logical_router_policy *p)
{
    ds_put_format(s, "%10"PRId64" %50s %15s", p->priority, p->match,
                  p->action);
    for (size_t i = 0; i < p->n_nexthops; i++) {
        char *nexthop = nbctl_normalize_prefix(p->nexthops[i]);
        ds_put_format(s, i ? ", %s" : " %25s", nexthop ? nexthop : "");
        free(nexthop);
    }
    if (!smap_is_empty(&p->options)) {
        const struct smap_node *node;
        ds_put_format(s, "%15s", "");
        SMAP_FOR_EACH (node, &p->options) {
            ds_put_format(s, "%s=%s,", node->key, node->value);
        }
        ds_chomp(s, ',');
    }
    ds_put_char(s, '\n');
}

static void
cmd_lr_policy_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_router *lr;
    if (failed(ctx, find_lr(ctx, ctx->argv[1], true, &lr))) {
        return;
    }

    const struct nbrec_logical_router_policy **policies
        = copy_rows(lr->policies, lr->n_policies);
    qsort(policies, lr->n_policies, sizeof *policies, compare_policies);
    if (lr->n_policies) {
        ds_put_cstr(&ctx->output, "Routing Policies\n");
    }
    for (size_t i = 0; i < lr->n_policies; i++) {
        put_policy(&ctx->output, policies[i]);
    }
    free(policies);
}

/* NAT. */

static void
pre_lr_nat_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_router_col_name);
    ADD_COLUMN(ctx, nbrec_logical_router_col_nat);
    ADD_COLUMN(ctx, nbrec_nat_col_type);
    ADD_COLUMN(ctx, nbrec_nat_col_external_ip);
    ADD_COLUMN(ctx, nbrec_nat_col_external_port_range);
    ADD_COLUMN(ctx, nbrec_nat_col_logical_ip);
    ADD_COLUMN(ctx, nbrec_nat_col_external_mac);
    ADD_COLUMN(ctx, nbrec_nat_col_logical_port);
    ADD_COLUMN(ctx, nbrec_nat_col_gateway_port);
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_name);
}

static void
cmd_lr_nat_list(struct ctl_context *ctx)
{
    const struct nbrec_logical_router *lr;
    if (failed(ctx, find_lr(ctx, ctx->argv[1], true, &lr))) {
        return;
    }

    /* Keyed by type, gateway port and external IP, so sorted by them. */
    struct smap nats = SMAP_INITIALIZER(&nats);
    for (size_t i = 0; i < lr->n_nat; i++) {
        const struct nbrec_nat *nat = lr->nat[i];
        char *key = xasprintf("%-17.13s%-22.18s%s", nat->type,
                              nat->gateway_port ? nat->gateway_port->name
                                                : "",
                              nat->external_ip);
        if (nat->external_mac && nat->logical_port) {
            smap_add_format(&nats, key, "%-17.13s%-20.16s%-21.17s%s",
                            nat->external_port_range, nat->logical_ip,
                            nat->external_mac, nat->logical_port);
        } else {
            smap_add_format(&nats, key, "%-17.13s%s",
                            nat->external_port_range, nat->logical_ip);
        }
        free(key);
    }

    const struct smap_node **nodes = smap_sort(&nats);
    if (nodes) {
        ds_put_format(&ctx->output,
                      "%-17.13s%-22.18s%-19.15s%-17.13s%-20.16s%-21.17s%s\n",
                      "TYPE", "GATEWAY_PORT", "EXTERNAL_IP", "EXTERNAL_PORT",
                      "LOGICAL_IP", "EXTERNAL_MAC", "LOGICAL_PORT");
        for (size_t i = 0; i < smap_count(&nats); i++) {
            ds_put_format(&ctx->output, "%-58.54s%s\n", nodes[i]->key,
                          nodes[i]->value);
        }
        free(nodes);
    }
    smap_destroy(&nats);
}

/* DHCP options. */

static void
pre_dhcp_options_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_dhcp_options_col_cidr);
}

static void
cmd_dhcp_options_list(struct ctl_context *ctx)
{
    const struct nbrec_dhcp_options *opts;
    struct smap lines = SMAP_INITIALIZER(&lines);

    NBREC_DHCP_OPTIONS_FOR_EACH (opts, ctx->idl) {
        smap_add_format(&lines, opts->cidr, UUID_FMT,
                        UUID_ARGS(&opts->header_.uuid));
    }
    put_sorted_values(&ctx->output, &lines);
}

static void
pre_dhcp_options_options(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_dhcp_options_col_options);
}

static void
cmd_dhcp_options_get_options(struct ctl_context *ctx)
{
    const char *id = ctx->argv[1];
    const struct nbrec_dhcp_options *opts = NULL;
    struct uuid uuid;

    if (uuid_from_string(&uuid, id)) {
        opts = nbrec_dhcp_options_get_for_uuid(ctx->idl, &uuid);
    }
    if (!opts) {
        ctx->error = xasprintf("%s: dhcp options UUID not found", id);
        return;
    }
    put_smap_lines(&ctx->output, &opts->options);
}

/* Static MAC bindings, HA chassis groups, connections, SSL. */

static void
pre_static_mac_binding(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_logical_router_port_col_name);
    ADD_COLUMN(ctx, nbrec_static_mac_binding_col_logical_port);
    ADD_COLUMN(ctx, nbrec_static_mac_binding_col_ip);
    ADD_COLUMN(ctx, nbrec_static_mac_binding_col_mac);
}

static void
cmd_static_mac_binding_list(struct ctl_context *ctx)
{
    const struct nbrec_static_mac_binding *smb;
    struct smap lines = SMAP_INITIALIZER(&lines);

    NBREC_STATIC_MAC_BINDING_FOR_EACH (smb, ctx->idl) {
        char *key = xasprintf("%-25s%-25s", smb->logical_port, smb->ip);
        smap_add(&lines, key, smb->mac);
        free(key);
    }

    const struct smap_node **nodes = smap_sort(&lines);
    if (nodes) {
        ds_put_format(&ctx->output, "%-25s%-25s%s\n", "LOGICAL_PORT", "IP",
                      "MAC");
        for (size_t i = 0; i < smap_count(&lines); i++) {
            ds_put_format(&ctx->output, "%-25s%s\n", nodes[i]->key,
                          nodes[i]->value);
        }
    }
    smap_destroy(&lines);
    free(nodes);
}

static void
pre_ha_chassis_group_list(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_ha_chassis_group_col_name);
    ADD_COLUMN(ctx, nbrec_ha_chassis_group_col_ha_chassis);
    ADD_COLUMN(ctx, nbrec_ha_chassis_col_chassis_name);
    ADD_COLUMN(ctx, nbrec_ha_chassis_col_priority);
}

static void
cmd_ha_chassis_group_list(struct ctl_context *ctx)
{
    const struct nbrec_ha_chassis_group *group;

    NBREC_HA_CHASSIS_GROUP_FOR_EACH (group, ctx->idl) {
        ds_put_format(&ctx->output, UUID_FMT " (%s)\n",
                      UUID_ARGS(&group->header_.uuid), group->name);
        for (size_t i = 0; i < group->n_ha_chassis; i++) {
            const struct nbrec_ha_chassis *ch = group->ha_chassis[i];
            ds_put_format(&ctx->output,
                          "    " UUID_FMT " (%s)\n"
                          "    priority %"PRId64"\n\n",
                          UUID_ARGS(&ch->header_.uuid), ch->chassis_name,
                          ch->priority);
        }
        ds_put_char(&ctx->output, '\n');
    }
}

static void
pre_connection(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_nb_global_col_connections);
    ADD_COLUMN(ctx, nbrec_connection_col_target);
    ADD_COLUMN(ctx, nbrec_connection_col_inactivity_probe);
}

static void
cmd_get_connection(struct ctl_context *ctx)
{
    const struct nbrec_connection *conn;
    struct svec targets = SVEC_EMPTY_INITIALIZER;

    NBREC_CONNECTION_FOR_EACH (conn, ctx->idl) {
        svec_add(&targets, conn->target);
    }
    svec_sort_unique(&targets);
    for (size_t i = 0; i < targets.n; i++) {
        ds_put_format(&ctx->output, "%s\n", targets.names[i]);
    }
    svec_destroy(&targets);
}

static void
pre_get_ssl(struct ctl_context *ctx)
{
    ADD_COLUMN(ctx, nbrec_nb_global_col_ssl);
    ADD_COLUMN(ctx, nbrec_ssl_col_private_key);
    ADD_COLUMN(ctx, nbrec_ssl_col_certificate);
    ADD_COLUMN(ctx, nbrec_ssl_col_ca_cert);
    ADD_COLUMN(ctx, nbrec_ssl_col_bootstrap_ca_cert);
}

static void
cmd_get_ssl(struct ctl_context *ctx)
{
    const struct nbrec_ssl *ssl = nbrec_ssl_first(ctx->idl);
    if (ssl) {
        ds_put_format(&ctx->output, "Private key: %s\n", ssl->private_key);
        ds_put_format(&ctx->output, "Certificate: %s\n", ssl->certificate);
        ds_put_format(&ctx->output, "CA Certificate: %s\n", ssl->ca_cert);
        ds_put_format(&ctx->output, "Bootstrap: %s\n",
                      ssl->bootstrap_ca_cert ? "true" : "false");
    }
}

/* Every command of ovn-nbctl 23.03, with its argument counts and options.
 * A NULL run function marks a command lqctl nb does not run. */
#define RO_CMD(NAME, MIN, MAX, ARGS, PRE, RUN, OPTIONS) \
    { NAME, MIN, MAX, ARGS, PRE, RUN, NULL, OPTIONS, RO }
#define RO_NOT_OFFERED(NAME, MIN, MAX, ARGS, OPTIONS) \
    { NAME, MIN, MAX, ARGS, NULL, NULL, NULL, OPTIONS, RO }
#define RW_CMD(NAME, MIN, MAX, ARGS, OPTIONS) \
    { NAME, MIN, MAX, ARGS, NULL, NULL, NULL, OPTIONS, RW }

const struct ctl_command_syntax nbctl_commands[] = {
    RW_CMD("init", 0, 0, "", ""),
    RO_CMD("sync", 0, 0, "", pre_sync, cmd_sync, ""),
    RO_CMD("show", 0, 1, "[SWITCH]", pre_show, cmd_show, ""),

    /* Logical switches. */
    RW_CMD("ls-add", 0, 1, "[SWITCH]", "--may-exist,--add-duplicate"),
    RW_CMD("ls-del", 1, 1, "SWITCH", "--if-exists"),
    RO_CMD("ls-list", 0, 0, "", pre_ls_list, cmd_ls_list, ""),

    /* ACLs. */
    RW_CMD("acl-add", 5, 6, "{SWITCH | PORTGROUP} DIRECTION PRIORITY MATCH "
           "ACTION", "--log,--may-exist,--type=,--name=,--severity=,"
           "--meter=,--label=,--apply-after-lb"),
    RW_CMD("acl-del", 1, 4, "{SWITCH | PORTGROUP} [DIRECTION [PRIORITY "
           "MATCH]]", "--type="),
    RO_CMD("acl-list", 1, 1, "{SWITCH | PORTGROUP}", pre_acl_list,
           cmd_acl_list, "--type="),

    /* QoS. */
    RW_CMD("qos-add", 5, 7, "SWITCH DIRECTION PRIORITY MATCH [rate=RATE "
           "[burst=BURST]] [dscp=DSCP]", "--may-exist"),
    RW_CMD("qos-del", 1, 4, "SWITCH [{DIRECTION | UUID} [PRIORITY MATCH]]",
           ""),
    RO_CMD("qos-list", 1, 1, "SWITCH", pre_qos_list, cmd_qos_list, ""),

    /* Mirrors. */
    RW_CMD("mirror-add", 5, 5, "NAME TYPE INDEX FILTER IP", "--may-exist"),
    RW_CMD("mirror-del", 0, 1, "[NAME]", ""),
    RO_CMD("mirror-list", 0, 0, "", pre_mirror_list, cmd_mirror_list, ""),

    /* Meters. */
    RW_CMD("meter-add", 4, 5, "NAME ACTION RATE UNIT [BURST]",
           "--fair,--may-exist"),
    RW_CMD("meter-del", 0, 1, "[NAME]", ""),
    RO_CMD("meter-list", 0, 0, "", pre_meter_list, cmd_meter_list, ""),

    /* Logical switch ports. */
    RW_CMD("lsp-add", 2, 4, "SWITCH PORT [PARENT] [TAG]", "--may-exist"),
    RW_CMD("lsp-del", 1, 1, "PORT", "--if-exists"),
    RO_CMD("lsp-list", 1, 1, "SWITCH", pre_lsp_list, cmd_lsp_list, ""),
    RO_CMD("lsp-get-parent", 1, 1, "PORT", pre_lsp_get_parent,
           cmd_lsp_get_parent, ""),
    RO_CMD("lsp-get-tag", 1, 1, "PORT", pre_lsp_get_tag, cmd_lsp_get_tag,
           ""),
    RW_CMD("lsp-set-addresses", 1, INT_MAX, "PORT [ADDRESS]...", ""),
    RO_CMD("lsp-get-addresses", 1, 1, "PORT", pre_lsp_get_addresses,
           cmd_lsp_get_addresses, ""),
    RW_CMD("lsp-set-port-security", 0, INT_MAX, "PORT [ADDRS]...", ""),
    RO_CMD("lsp-get-port-security", 1, 1, "PORT", pre_lsp_port_security,
           cmd_lsp_get_port_security, ""),
    RO_CMD("lsp-get-up", 1, 1, "PORT", pre_lsp_get_up, cmd_lsp_get_up, ""),
    RW_CMD("lsp-set-enabled", 2, 2, "PORT STATE", ""),
    RO_CMD("lsp-get-enabled", 1, 1, "PORT", pre_lsp_enabled,
           cmd_lsp_get_enabled, ""),
    RW_CMD("lsp-set-type", 2, 2, "PORT TYPE", ""),
    RO_CMD("lsp-get-type", 1, 1, "PORT", pre_lsp_type, cmd_lsp_get_type, ""),
    RW_CMD("lsp-set-options", 1, INT_MAX, "PORT KEY=VALUE [KEY=VALUE]...",
           ""),
    RO_CMD("lsp-get-options", 1, 1, "PORT", pre_lsp_options,
           cmd_lsp_get_options, ""),
    RW_CMD("lsp-set-dhcpv4-options", 1, 2, "PORT [DHCP_OPT_UUID]", ""),
    RO_CMD("lsp-get-dhcpv4-options", 1, 1, "PORT", pre_lsp_dhcpv4_options,
           cmd_lsp_get_dhcpv4_options, ""),
    RW_CMD("lsp-set-dhcpv6-options", 1, 2, "PORT [DHCP_OPT_UUID]", ""),
    RO_CMD("lsp-get-dhcpv6-options", 1, 1, "PORT", pre_lsp_dhcpv6_options,
           cmd_lsp_get_dhcpv6_options, ""),
    RO_CMD("lsp-get-ls", 1, 1, "PORT", pre_lsp_get_ls, cmd_lsp_get_ls, ""),
    RW_CMD("lsp-attach-mirror", 2, 2, "PORT MIRROR", "--may-exist"),
    RW_CMD("lsp-detach-mirror", 2, 2, "PORT MIRROR", ""),

    /* Forwarding groups. */
    RW_CMD("fwd-group-add", 4, INT_MAX, "SWITCH GROUP VIP VMAC PORT...",
           "--liveness"),
    RW_CMD("fwd-group-del", 1, 1, "GROUP", "--if-exists"),
    RO_NOT_OFFERED("fwd-group-list", 0, 1, "[GROUP]", ""),

    /* Logical routers. */
    RW_CMD("lr-add", 0, 1, "[ROUTER]", "--may-exist,--add-duplicate"),
    RW_CMD("lr-del", 1, 1, "ROUTER", "--if-exists"),
    RO_CMD("lr-list", 0, 0, "", pre_lr_list, cmd_lr_list, ""),

    /* Logical router ports. */
    RW_CMD("lrp-add", 4, INT_MAX,
           "ROUTER PORT MAC NETWORK... [COLUMN[:KEY]=VALUE]...",
           "--may-exist"),
    RW_CMD("lrp-set-gateway-chassis", 2, 3, "PORT CHASSIS [PRIORITY]",
           "--may-exist"),
    RW_CMD("lrp-set-options", 1, INT_MAX, "PORT KEY=VALUE [KEY=VALUE]...",
           ""),
    RW_CMD("lrp-del-gateway-chassis", 2, 2, "PORT CHASSIS", ""),
    RO_CMD("lrp-get-gateway-chassis", 1, 1, "PORT",
           pre_lrp_get_gateway_chassis, cmd_lrp_get_gateway_chassis, ""),
    RW_CMD("lrp-del", 1, 1, "PORT", "--if-exists"),
    RO_CMD("lrp-list", 1, 1, "ROUTER", pre_lrp_list, cmd_lrp_list, ""),
    RW_CMD("lrp-set-enabled", 2, 2, "PORT STATE", ""),
    RO_CMD("lrp-get-enabled", 1, 1, "PORT", pre_lrp_enabled,
           cmd_lrp_get_enabled, ""),
    RW_CMD("lrp-set-redirect-type", 2, 2, "PORT TYPE", ""),
    RO_CMD("lrp-get-redirect-type", 1, 1, "PORT", pre_lrp_redirect_type,
           cmd_lrp_get_redirect_type, ""),

    /* Static routes. */
    RW_CMD("lr-route-add", 3, 4, "ROUTER PREFIX NEXTHOP [PORT]",
           "--may-exist,--ecmp,--ecmp-symmetric-reply,--policy=,"
           "--route-table=,--bfd?"),
    RW_CMD("lr-route-del", 1, 4, "ROUTER [PREFIX [NEXTHOP [PORT]]]",
           "--if-exists,--policy=,--route-table="),
    RO_CMD("lr-route-list", 1, 1, "ROUTER", pre_lr_route_list,
           cmd_lr_route_list, "--route-table="),

    /* Policies. */
    RW_CMD("lr-policy-add", 4, INT_MAX, "ROUTER PRIORITY MATCH ACTION "
           "[NEXTHOP] [OPTIONS - KEY=VALUE ...]", "--may-exist"),
    RW_CMD("lr-policy-del", 1, 3, "ROUTER [{PRIORITY | UUID} [MATCH]]",
           "--if-exists"),
    RO_CMD("lr-policy-list", 1, 1, "ROUTER", pre_lr_policy_list,
           cmd_lr_policy_list, ""),

    /* NAT. */
    RW_CMD("lr-nat-add", 4, 7, "ROUTER TYPE EXTERNAL_IP LOGICAL_IP"
           "[LOGICAL_PORT EXTERNAL_MAC] [EXTERNAL_PORT_RANGE]",
           "--may-exist,--stateless,--portrange,--add-route,"
           "--gateway-port="),
    RW_CMD("lr-nat-del", 1, 4, "ROUTER [TYPE [IP] [GATEWAY_PORT]]",
           "--if-exists"),
    RO_CMD("lr-nat-list", 1, 1, "ROUTER", pre_lr_nat_list, cmd_lr_nat_list,
           ""),
    RW_CMD("lr-nat-update-ext-ip", 4, 4, "ROUTER TYPE IP ADDRESS_SET",
           "--is-exempted"),

    /* Load balancers. */
    RW_CMD("lb-add", 3, 5, "LB VIP[:PORT] IP[:PORT]... [PROTOCOL] "
           "[ADDRESS_FAMILY]", "--may-exist,--add-duplicate,--reject,"
           "--event,--add-route,--template"),
    RW_CMD("lb-del", 1, 2, "LB [VIP]", "--if-exists"),
    RO_CMD("lb-list", 0, 1, "[LB]", pre_lb_list, cmd_lb_list, ""),
    RW_CMD("lr-lb-add", 2, 2, "ROUTER LB", "--may-exist"),
    RW_CMD("lr-lb-del", 1, 2, "ROUTER [LB]", "--if-exists"),
    RO_CMD("lr-lb-list", 1, 1, "ROUTER", pre_lr_lb_list, cmd_lr_lb_list, ""),
    RW_CMD("ls-lb-add", 2, 2, "SWITCH LB", "--may-exist"),
    RW_CMD("ls-lb-del", 1, 2, "SWITCH [LB]", "--if-exists"),
    RO_CMD("ls-lb-list", 1, 1, "SWITCH", pre_ls_lb_list, cmd_ls_lb_list, ""),

    /* DHCP options. */
    RW_CMD("dhcp-options-create", 1, INT_MAX, "CIDR [EXTERNAL:IDS]", ""),
    RW_CMD("dhcp-options-del", 1, 1, "DHCP_OPT_UUID", ""),
    RO_CMD("dhcp-options-list", 0, 0, "", pre_dhcp_options_list,
           cmd_dhcp_options_list, ""),
    RW_CMD("dhcp-options-set-options", 1, INT_MAX,
           "DHCP_OPT_UUID KEY=VALUE [KEY=VALUE]...", ""),
    RO_CMD("dhcp-options-get-options", 1, 1, "DHCP_OPT_UUID",
           pre_dhcp_options_options, cmd_dhcp_options_get_options, ""),

    /* Control plane protection. */
    RW_CMD("copp-add", 3, 3, "NAME PROTO METER", ""),
    RW_CMD("copp-del", 1, 2, "NAME [PROTO]", ""),
    RO_NOT_OFFERED("copp-list", 1, 1, "NAME", ""),
    RW_CMD("ls-copp-add", 2, 2, "NAME SWITCH", ""),
    RW_CMD("lr-copp-add", 2, 2, "NAME ROUTER", ""),

    /* Connections and SSL. */
    RO_CMD("get-connection", 0, 0, "", pre_connection, cmd_get_connection,
           ""),
    RW_CMD("del-connection", 0, 0, "", ""),
    RW_CMD("set-connection", 1, INT_MAX, "TARGET...", "--inactivity-probe="),
    RO_CMD("get-ssl", 0, 0, "", pre_get_ssl, cmd_get_ssl, ""),
    RW_CMD("del-ssl", 0, 0, "", ""),
    RW_CMD("set-ssl", 3, 5,
           "PRIVATE-KEY CERTIFICATE CA-CERT [SSL-PROTOS [SSL-CIPHERS]]",
           "--bootstrap"),

    /* Port groups. */
    RW_CMD("pg-add", 1, INT_MAX, "", ""),
    RW_CMD("pg-set-ports", 2, INT_MAX, "", ""),
    RW_CMD("pg-del", 1, 1, "", ""),

    /* HA chassis groups. */
    RW_CMD("ha-chassis-group-add", 1, 1, "[CHASSIS GROUP]", ""),
    RW_CMD("ha-chassis-group-del", 1, 1, "[CHASSIS GROUP]", ""),
    RO_CMD("ha-chassis-group-list", 0, 0, "[CHASSIS GROUP]",
           pre_ha_chassis_group_list, cmd_ha_chassis_group_list, ""),
    RW_CMD("ha-chassis-group-add-chassis", 3, 3, "[CHASSIS GROUP]", ""),
    RW_CMD("ha-chassis-group-remove-chassis", 2, 2, "[CHASSIS GROUP]", ""),
    RW_CMD("ha-chassis-group-set-chassis-prio", 3, 3, "[CHASSIS GROUP]", ""),

    /* Static MAC bindings. */
    RW_CMD("static-mac-binding-add", 3, 3, "LOGICAL_PORT IP MAC",
           "--may-exist"),
    RW_CMD("static-mac-binding-del", 2, 2, "LOGICAL_PORT IP", "--if-exists"),
    RO_CMD("static-mac-binding-list", 0, 0, "", pre_static_mac_binding,
           cmd_static_mac_binding_list, ""),

    { NULL, 0, 0, NULL, NULL, NULL, NULL, "", RO },
};

/* How the generic commands (list, get, find) name records, as ovn-nbctl:
 * by name, or by the neutron alias in external_ids. */
const struct ctl_table_class nbctl_tables[NBREC_N_TABLES] = {
    [NBREC_TABLE_DHCP_OPTIONS].row_ids = {
        {&nbrec_logical_switch_port_col_name, NULL,
         &nbrec_logical_switch_port_col_dhcpv4_options},
        {&nbrec_logical_switch_port_col_external_ids, "neutron:port_name",
         &nbrec_logical_switch_port_col_dhcpv4_options},
        {&nbrec_logical_switch_port_col_name, NULL,
         &nbrec_logical_switch_port_col_dhcpv6_options},
        {&nbrec_logical_switch_port_col_external_ids, "neutron:port_name",
         &nbrec_logical_switch_port_col_dhcpv6_options},
    },
    [NBREC_TABLE_LOGICAL_SWITCH].row_ids = {
        {&nbrec_logical_switch_col_name, NULL, NULL},
        {&nbrec_logical_switch_col_external_ids, "neutron:network_name",
         NULL},
    },
    [NBREC_TABLE_LOGICAL_SWITCH_PORT].row_ids = {
        {&nbrec_logical_switch_port_col_name, NULL, NULL},
        {&nbrec_logical_switch_port_col_external_ids, "neutron:port_name",
         NULL},
    },
    [NBREC_TABLE_LOGICAL_ROUTER].row_ids = {
        {&nbrec_logical_router_col_name, NULL, NULL},
        {&nbrec_logical_router_col_external_ids, "neutron:router_name", NULL},
    },
    [NBREC_TABLE_LOGICAL_ROUTER_PORT].row_ids[0] =
        {&nbrec_logical_router_port_col_name, NULL, NULL},
    [NBREC_TABLE_ADDRESS_SET].row_ids[0] =
        {&nbrec_address_set_col_name, NULL, NULL},
    [NBREC_TABLE_PORT_GROUP].row_ids[0] =
        {&nbrec_port_group_col_name, NULL, NULL},
    [NBREC_TABLE_ACL].row_ids[0] = {&nbrec_acl_col_name, NULL, NULL},
    [NBREC_TABLE_HA_CHASSIS].row_ids[0] =
        {&nbrec_ha_chassis_col_chassis_name, NULL, NULL},
    [NBREC_TABLE_HA_CHASSIS_GROUP].row_ids[0] =
        {&nbrec_ha_chassis_group_col_name, NULL, NULL},
    [NBREC_TABLE_LOAD_BALANCER].row_ids[0] =
        {&nbrec_load_balancer_col_name, NULL, NULL},
    [NBREC_TABLE_LOAD_BALANCER_GROUP].row_ids[0] =
        {&nbrec_load_balancer_group_col_name, NULL, NULL},
    [NBREC_TABLE_LOAD_BALANCER_HEALTH_CHECK].row_ids[0] =
        {&nbrec_load_balancer_health_check_col_vip, NULL, NULL},
    [NBREC_TABLE_FORWARDING_GROUP].row_ids[0] =
        {&nbrec_forwarding_group_col_name, NULL, NULL},
    [NBREC_TABLE_METER].row_ids[0] = {&nbrec_meter_col_name, NULL, NULL},
    [NBREC_TABLE_NAT].row_ids[0] = {&nbrec_nat_col_external_ip, NULL, NULL},
    [NBREC_TABLE_CHASSIS_TEMPLATE_VAR].row_ids[0] =
        {&nbrec_chassis_template_var_col_chassis, NULL, NULL},
    [NBREC_TABLE_CONNECTION].row_ids[0] =
        {&nbrec_connection_col_target, NULL, NULL},
};
