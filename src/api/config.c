/* config.c: node.yaml, parsed with libyaml against a fixed schema.
 *
 * Why a schema table instead of ad-hoc lookups: every key the daemon knows is
 * listed once below with its type, range and place in struct lq_config, so an
 * unknown key, a wrong type or a duplicate is caught uniformly and reported
 * with the file, line and full dotted key ("node.yaml:7: server.metrics_port:
 * expected an integer in 0..65535, got \"x\"").  Loading is all-or-nothing:
 * on any error the partially filled config is freed. */
#include <config.h>
#include "limiquantix/config.h"
#include "limiquantix/dpdk.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fileutil.h"
#include "util.h"

enum cfg_type {
    CT_STRING,          /* char *, never NULL after load. */
    CT_OPT_STRING,      /* char *, NULL when absent or null. */
    CT_INT,             /* int within [min, max]. */
    CT_BOOL,
    CT_KV_MAP,          /* struct lq_kv_list of scalar strings. */
    CT_SECTION,         /* nested mapping described by 'children'. */
    CT_POOLS,           /* storage.pools: list of pool mappings. */
    CT_CUSTOM,          /* Parsed by 'parse' into a typed field. */
};

struct loader;
typedef struct lq_error *cfg_parse_fn(struct loader *, yaml_node_t *value,
                                      const char *path, void *field);

struct cfg_key {
    const char *name;
    enum cfg_type type;
    size_t offset;      /* Into struct lq_config. */
    int min, max;
    const struct cfg_key *children;
    cfg_parse_fn *parse;        /* CT_CUSTOM only. */
};

#define F(SECTION, NAME, TYPE) \
    { #NAME, TYPE, offsetof(struct lq_config, SECTION.NAME), 0, 0, NULL }
#define F_INT(SECTION, NAME, MIN, MAX) \
    { #NAME, CT_INT, offsetof(struct lq_config, SECTION.NAME), MIN, MAX, NULL }
#define F_CUSTOM(NAME, FIELD, PARSE) \
    { NAME, CT_CUSTOM, offsetof(struct lq_config, FIELD), 0, 0, NULL, PARSE }
#define SECTION(NAME, CHILDREN) { #NAME, CT_SECTION, 0, 0, 0, CHILDREN }
#define END { NULL, 0, 0, 0, 0, NULL }

static cfg_parse_fn parse_cpu_list, parse_hugepage_size, parse_abs_path,
                    parse_eal_args, parse_dpdk_interfaces, parse_image_dirs,
                    parse_bridges;

static const struct cfg_key node_keys[] = {
    F(node, id, CT_OPT_STRING),
    F(node, hostname, CT_OPT_STRING),
    F(node, management_ip, CT_OPT_STRING),
    F(node, labels, CT_KV_MAP),
    END
};

static const struct cfg_key server_keys[] = {
    F(server, listen_address, CT_STRING),
    F_INT(server, metrics_port, 0, 65535),
    F(server, unix_socket, CT_STRING),
    F_INT(server, max_request_bytes, 1024, 256 * 1024 * 1024),
    F_INT(server, worker_threads, 1, 64),
    END
};

static const struct cfg_key migration_keys[] = {
    F(hypervisor.migration, scheme, CT_STRING),
    F(hypervisor.migration, tls, CT_BOOL),
    F(hypervisor.migration, peers, CT_KV_MAP),
    END
};

static const struct cfg_key hypervisor_keys[] = {
    F(hypervisor, backend, CT_STRING),
    F(hypervisor, libvirt_uri, CT_STRING),
    F(hypervisor, virt_type, CT_STRING),
    F(hypervisor, machine, CT_OPT_STRING),
    F(hypervisor, cpu_mode, CT_OPT_STRING),
    F(hypervisor, cpu_model, CT_OPT_STRING),
    F_INT(hypervisor, console_token_seconds, 1, 3600),
    F_CUSTOM("image_dirs", hypervisor.image_dirs, parse_image_dirs),
    F_CUSTOM("state_dir", hypervisor.state_dir, parse_abs_path),
    F_CUSTOM("bridges", hypervisor.bridges, parse_bridges),
    SECTION(migration, migration_keys),
    END
};

static const struct cfg_key control_plane_keys[] = {
    F(control_plane, address, CT_STRING),
    F(control_plane, registration_enabled, CT_BOOL),
    F_INT(control_plane, heartbeat_interval_secs, 1, 3600),
    END
};

static const struct cfg_key tls_keys[] = {
    F(tls, enabled, CT_BOOL),
    F(tls, cert_path, CT_OPT_STRING),
    F(tls, key_path, CT_OPT_STRING),
    F(tls, ca_path, CT_OPT_STRING),
    END
};

static const struct cfg_key storage_keys[] = {
    { "pools", CT_POOLS, 0, 0, 0, NULL },
    F(storage, default_pool, CT_OPT_STRING),
    END
};

static const struct cfg_key network_keys[] = {
    F(network, ovn_nb_db, CT_OPT_STRING),
    F(network, ovs_db, CT_OPT_STRING),
    F(network, integration_bridge, CT_STRING),
    F(network, encap_type, CT_STRING),
    F(network, encap_ip, CT_OPT_STRING),
    F(network, bridge_mappings, CT_KV_MAP),
    F(network, datapath_type, CT_STRING),
    END
};

static const struct cfg_key dpdk_hugepages_keys[] = {
    F_INT(dpdk.hugepages, count, 0, 1000000),
    F_CUSTOM("size", dpdk.hugepages.size_kb, parse_hugepage_size),
    END
};

static const struct cfg_key dpdk_keys[] = {
    F(dpdk, enabled, CT_BOOL),
    F_CUSTOM("pmd_cores", dpdk.pmd_cores, parse_cpu_list),
    F_INT(dpdk, lcore, 0, CPU_SETSIZE - 1),
    F_INT(dpdk, socket_mem_mb, 0, 1024 * 1024),
    SECTION(hugepages, dpdk_hugepages_keys),
    F_CUSTOM("vhost_socket_dir", dpdk.vhost_socket_dir, parse_abs_path),
    F_CUSTOM("extra_eal_args", dpdk.extra_eal_args, parse_eal_args),
    F_CUSTOM("interfaces", dpdk.interfaces, parse_dpdk_interfaces),
    END
};

static const struct cfg_key root_keys[] = {
    SECTION(node, node_keys),
    SECTION(server, server_keys),
    SECTION(hypervisor, hypervisor_keys),
    SECTION(control_plane, control_plane_keys),
    SECTION(tls, tls_keys),
    SECTION(storage, storage_keys),
    SECTION(network, network_keys),
    SECTION(dpdk, dpdk_keys),
    END
};

/* Per-backend pool keys (besides 'id' and 'backend').  Nested mappings are
 * flattened with a dot ("export.backing_pool"). */
struct pool_backend {
    const char *name;
    const char *const *keys;
    const char *const *required;
};

static const char *const rbd_keys[] = {
    "ceph_conf", "ceph_user", "ceph_keyring", "rbd_pool", "max_clone_depth",
    NULL
};
static const char *const rbd_required[] = { NULL };
static const char *const lvm_keys[] = {
    "vg", "thin_pool", "max_data_percent", "max_metadata_percent", NULL
};
static const char *const lvm_required[] = { "vg", "thin_pool", NULL };
static const char *const nfs_keys[] = {
    "server", "export", "nfs_version", "port", NULL
};
static const char *const nfs_required[] = { "server", "export", NULL };
static const char *const iscsi_keys[] = {
    "portal", "target_iqn", "chap_user", "chap_secret", "mutual_chap_user",
    "mutual_chap_secret", "export.backing_pool", "export.tgtd_control_port",
    "export.acl", NULL
};
static const char *const iscsi_required[] = { "portal", "target_iqn", NULL };
static const char *const local_keys[] = { "path", NULL };
static const char *const local_required[] = { "path", NULL };

static const struct pool_backend pool_backends[] = {
    { "rbd", rbd_keys, rbd_required },
    { "lvm-thin", lvm_keys, lvm_required },
    { "nfs", nfs_keys, nfs_required },
    { "iscsi", iscsi_keys, iscsi_required },
    { "local", local_keys, local_required },
};

/* Parsing context. */
struct loader {
    const char *name;           /* File name for messages. */
    yaml_document_t *doc;
    struct lq_config *config;
};

static struct lq_error * __attribute__((format(printf, 4, 5)))
loader_error(const struct loader *l, const yaml_node_t *node,
             const char *key, const char *format, ...)
{
    va_list args;
    char *reason;

    va_start(args, format);
    reason = xvasprintf(format, args);
    va_end(args);

    struct lq_error *error = lq_error_new(
        LQ_INVALID_ARGUMENT, "%s:%zu: %s%s%s", l->name,
        node ? node->start_mark.line + 1 : 0, key ? key : "",
        key ? ": " : "", reason);
    free(reason);
    return error;
}

static const char *
scalar_text(const yaml_node_t *node)
{
    return (const char *) node->data.scalar.value;
}

static bool
scalar_is_null(const yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE
        || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    const char *s = scalar_text(node);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null")
           || !strcmp(s, "NULL");
}

static const char *
node_type_name(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_NO_NODE:
    default: return "nothing";
    }
}

static bool
parse_bool(const char *s, bool *b)
{
    static const char *const yes[] = { "true", "True", "TRUE", "yes", "on" };
    static const char *const no[] = { "false", "False", "FALSE", "no", "off" };

    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (!strcmp(s, yes[i])) {
            *b = true;
            return true;
        }
        if (!strcmp(s, no[i])) {
            *b = false;
            return true;
        }
    }
    return false;
}

static bool
parse_int(const char *s, int min, int max, int *value)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        return false;
    }
    *value = v;
    return true;
}

void
lq_config_set_string(char **fieldp, const char *value)
{
    free(*fieldp);
    *fieldp = value ? xstrdup(value) : NULL;
}

static void
kv_list_clear(struct lq_kv_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->items[i].key);
        free(list->items[i].value);
    }
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

static void
kv_list_add(struct lq_kv_list *list, const char *key, const char *value)
{
    list->items = xrealloc(list->items, (list->n + 1) * sizeof *list->items);
    list->items[list->n].key = xstrdup(key);
    list->items[list->n].value = xstrdup(value);
    list->n++;
}

const char *
lq_kv_list_get(const struct lq_kv_list *list, const char *key)
{
    for (size_t i = 0; i < list->n; i++) {
        if (!strcmp(list->items[i].key, key)) {
            return list->items[i].value;
        }
    }
    return NULL;
}

/* Calls 'cb' for every key/value pair of mapping 'map', after checking that
 * keys are scalars and unique. */
typedef struct lq_error *pair_cb(struct loader *, const char *path,
                                 const char *key, yaml_node_t *value,
                                 void *aux);

static struct lq_error *
for_each_pair(struct loader *l, yaml_node_t *map, const char *path,
              pair_cb *cb, void *aux)
{
    if (map->type != YAML_MAPPING_NODE) {
        if (scalar_is_null(map)) {
            return NULL;        /* "section:" with nothing under it. */
        }
        return loader_error(l, map, path, "expected a mapping, got %s",
                            node_type_name(map));
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);

        if (k->type != YAML_SCALAR_NODE) {
            return loader_error(l, k, path, "keys must be scalars");
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = yaml_document_get_node(l->doc, q->key);
            if (k2->type == YAML_SCALAR_NODE
                && !strcmp(scalar_text(k2), scalar_text(k))) {
                return loader_error(l, k, path, "duplicate key \"%s\"",
                                    scalar_text(k));
            }
        }
        struct lq_error *error = cb(l, path, scalar_text(k), v, aux);
        if (error) {
            return error;
        }
    }
    return NULL;
}

static char *
join_path(const char *path, const char *key)
{
    return *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
}

static struct lq_error *
kv_map_pair(struct loader *l, const char *path, const char *key,
            yaml_node_t *value, void *list_)
{
    struct lq_kv_list *list = list_;

    if (value->type != YAML_SCALAR_NODE) {
        char *full = join_path(path, key);
        struct lq_error *error = loader_error(
            l, value, full, "expected a scalar value, got %s",
            node_type_name(value));
        free(full);
        return error;
    }
    kv_list_add(list, key, scalar_text(value));
    return NULL;
}

/* Pools. */
static const struct pool_backend *
pool_backend_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(pool_backends); i++) {
        if (!strcmp(pool_backends[i].name, name)) {
            return &pool_backends[i];
        }
    }
    return NULL;
}

static bool
str_in_list(const char *s, const char *const *list)
{
    for (; *list; list++) {
        if (!strcmp(s, *list)) {
            return true;
        }
    }
    return false;
}

static struct lq_error *
pool_pair(struct loader *l, const char *path, const char *key,
          yaml_node_t *value, void *pool_)
{
    struct lq_pool_config *pool = pool_;
    char *full = join_path(path, key);
    struct lq_error *error = NULL;

    if (value->type == YAML_MAPPING_NODE) {
        /* One level of nesting, flattened: "export.backing_pool". */
        struct lq_kv_list nested = { NULL, 0 };
        error = for_each_pair(l, value, full, kv_map_pair, &nested);
        for (size_t i = 0; !error && i < nested.n; i++) {
            char *flat = xasprintf("%s.%s", key, nested.items[i].key);
            kv_list_add(&pool->params, flat, nested.items[i].value);
            free(flat);
        }
        kv_list_clear(&nested);
    } else if (value->type != YAML_SCALAR_NODE) {
        error = loader_error(l, value, full, "expected a scalar, got %s",
                             node_type_name(value));
    } else if (!strcmp(key, "id")) {
        lq_config_set_string(&pool->id, scalar_text(value));
    } else if (!strcmp(key, "backend")) {
        lq_config_set_string(&pool->backend, scalar_text(value));
    } else {
        kv_list_add(&pool->params, key, scalar_text(value));
    }
    free(full);
    return error;
}

static struct lq_error *
pool_check(struct loader *l, yaml_node_t *node, const char *path,
           const struct lq_pool_config *pool)
{
    if (!pool->id || !*pool->id) {
        return loader_error(l, node, path, "missing required key \"id\"");
    }
    if (!pool->backend) {
        return loader_error(l, node, path, "missing required key \"backend\"");
    }
    const struct pool_backend *backend = pool_backend_find(pool->backend);
    if (!backend) {
        return loader_error(l, node, path, "backend: unknown backend \"%s\" "
                            "(expected rbd, lvm-thin, nfs, iscsi or local)",
                            pool->backend);
    }
    for (size_t i = 0; i < pool->params.n; i++) {
        if (!str_in_list(pool->params.items[i].key, backend->keys)) {
            return loader_error(l, node, path,
                                "%s: unknown key for a %s pool",
                                pool->params.items[i].key, backend->name);
        }
    }
    for (const char *const *r = backend->required; *r; r++) {
        if (!lq_kv_list_get(&pool->params, *r)) {
            return loader_error(l, node, path, "missing required key \"%s\" "
                                "for a %s pool", *r, backend->name);
        }
    }
    return NULL;
}

static struct lq_error *
load_pools(struct loader *l, yaml_node_t *seq, const char *path)
{
    struct lq_config *c = l->config;

    if (scalar_is_null(seq)) {
        return NULL;
    }
    if (seq->type != YAML_SEQUENCE_NODE) {
        return loader_error(l, seq, path, "expected a list, got %s",
                            node_type_name(seq));
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start;
         it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(l->doc, *it);
        char *item_path = xasprintf("%s[%zu]", path,
                                    (size_t) (it - seq->data.sequence.items.start));
        c->storage.pools = xrealloc(c->storage.pools,
                                    (c->storage.n_pools + 1)
                                    * sizeof *c->storage.pools);
        struct lq_pool_config *pool = &c->storage.pools[c->storage.n_pools++];
        memset(pool, 0, sizeof *pool);
        pool->line = item->start_mark.line + 1;

        struct lq_error *error = NULL;
        if (item->type != YAML_MAPPING_NODE) {
            error = loader_error(l, item, item_path,
                                 "expected a mapping, got %s",
                                 node_type_name(item));
        }
        if (!error) {
            error = for_each_pair(l, item, item_path, pool_pair, pool);
        }
        if (!error) {
            error = pool_check(l, item, item_path, pool);
        }
        for (size_t i = 0; !error && i + 1 < c->storage.n_pools; i++) {
            if (!strcmp(c->storage.pools[i].id, pool->id)) {
                error = loader_error(l, item, item_path,
                                     "id: duplicate pool id \"%s\"", pool->id);
            }
        }
        free(item_path);
        if (error) {
            return error;
        }
    }
    return NULL;
}

/* The dpdk section's typed values. */
static struct lq_error *
expect_scalar(struct loader *l, yaml_node_t *value, const char *path)
{
    if (value->type != YAML_SCALAR_NODE) {
        return loader_error(l, value, path, "expected a scalar, got %s",
                            node_type_name(value));
    }
    return NULL;
}

static struct lq_error *
parse_cpu_list(struct loader *l, yaml_node_t *value, const char *path,
               void *set_)
{
    cpu_set_t *set = set_;
    struct lq_error *error = expect_scalar(l, value, path);
    if (error) {
        return error;
    }
    if (scalar_is_null(value)) {
        CPU_ZERO(set);
        return NULL;
    }
    error = lq_cpu_list_parse(scalar_text(value), set);
    if (error) {
        struct lq_error *e = loader_error(l, value, path, "%s",
                                          error->message);
        lq_error_free(error);
        return e;
    }
    return NULL;
}

static struct lq_error *
parse_hugepage_size(struct loader *l, yaml_node_t *value, const char *path,
                    void *size_kb_)
{
    int *size_kb = size_kb_;
    struct lq_error *error = expect_scalar(l, value, path);
    if (error || scalar_is_null(value)) {
        return error;
    }
    const char *s = scalar_text(value);
    if (!strcmp(s, "2M")) {
        *size_kb = 2048;
    } else if (!strcmp(s, "1G")) {
        *size_kb = 1024 * 1024;
    } else {
        return loader_error(l, value, path, "expected 2M or 1G, got \"%s\"",
                            s);
    }
    return NULL;
}

static struct lq_error *
parse_abs_path(struct loader *l, yaml_node_t *value, const char *path,
               void *field)
{
    struct lq_error *error = expect_scalar(l, value, path);
    if (error || scalar_is_null(value)) {
        return error;
    }
    const char *s = scalar_text(value);
    if (s[0] != '/') {
        return loader_error(l, value, path, "expected an absolute path, got "
                            "\"%s\"", s);
    }
    lq_config_set_string(field, s);
    return NULL;
}

/* A list of strings kept as a (char **, size_t) pair in lq_config. */
static void
string_list_clear(char ***itemsp, size_t *np)
{
    for (size_t i = 0; i < *np; i++) {
        free((*itemsp)[i]);
    }
    free(*itemsp);
    *itemsp = NULL;
    *np = 0;
}

static void
string_list_add(char ***itemsp, size_t *np, const char *s)
{
    *itemsp = xrealloc(*itemsp, (*np + 1) * sizeof **itemsp);
    (*itemsp)[(*np)++] = xstrdup(s);
}

/* Replaces the list with the YAML sequence 'seq' of scalars, each checked
 * by 'check' (which reports "PATH[i]: ..."). */
typedef struct lq_error *string_check_fn(struct loader *, yaml_node_t *item,
                                         const char *item_path);
static struct lq_error *
load_string_list(struct loader *l, yaml_node_t *seq, const char *path,
                 string_check_fn *check, char ***itemsp, size_t *np)
{
    string_list_clear(itemsp, np);
    if (scalar_is_null(seq)) {
        return NULL;
    }
    if (seq->type != YAML_SEQUENCE_NODE) {
        return loader_error(l, seq, path, "expected a list, got %s",
                            node_type_name(seq));
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start;
         it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(l->doc, *it);
        char *item_path = xasprintf("%s[%zu]", path,
                                    (size_t) (it - seq->data.sequence.items
                                              .start));
        struct lq_error *error = expect_scalar(l, item, item_path);
        if (!error) {
            error = check(l, item, item_path);
        }
        free(item_path);
        if (error) {
            return error;
        }
        string_list_add(itemsp, np, scalar_text(item));
    }
    return NULL;
}

void
lq_config_add_image_dir(struct lq_config *c, const char *dir)
{
    string_list_add(&c->hypervisor.image_dirs, &c->hypervisor.n_image_dirs,
                    dir);
}

/* hypervisor.image_dirs: a list of absolute directories.  "/" alone is
 * refused: it would allow every file of the host. */
static struct lq_error *
check_image_dir(struct loader *l, yaml_node_t *item, const char *path)
{
    const char *s = scalar_text(item);
    return s[0] != '/' || !s[strspn(s, "/")]
           ? loader_error(l, item, path, "expected an absolute directory "
                          "other than /, got \"%s\"", s)
           : NULL;
}

static struct lq_error *
parse_image_dirs(struct loader *l, yaml_node_t *seq, const char *path,
                 void *field OVS_UNUSED)
{
    struct lq_config *c = l->config;
    return load_string_list(l, seq, path, check_image_dir,
                            &c->hypervisor.image_dirs,
                            &c->hypervisor.n_image_dirs);
}

/* hypervisor.bridges: host bridge names (what a NIC's <source bridge=>
 * may name): 1-15 of [A-Za-z0-9_.-]. */
static struct lq_error *
check_bridge(struct loader *l, yaml_node_t *item, const char *path)
{
    const char *s = scalar_text(item);
    size_t n = strlen(s);
    bool ok = n && n < 16 && s[0] != '.' && s[0] != '-'
              && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
                        "XYZ0123456789_.-") == n;
    return ok ? NULL
           : loader_error(l, item, path, "expected a bridge name (1-15 of "
                          "[A-Za-z0-9_.-], not starting with . or -), got "
                          "\"%s\"", s);
}

static struct lq_error *
parse_bridges(struct loader *l, yaml_node_t *seq, const char *path,
              void *field OVS_UNUSED)
{
    struct lq_config *c = l->config;
    return load_string_list(l, seq, path, check_bridge,
                            &c->hypervisor.bridges, &c->hypervisor.n_bridges);
}

static void
dpdk_eal_args_clear(struct lq_config *c)
{
    string_list_clear(&c->dpdk.extra_eal_args, &c->dpdk.n_extra_eal_args);
}

static void
dpdk_interfaces_clear(struct lq_config *c)
{
    for (size_t i = 0; i < c->dpdk.n_interfaces; i++) {
        free(c->dpdk.interfaces[i].name);
        free(c->dpdk.interfaces[i].pci);
        free(c->dpdk.interfaces[i].vdev);
        free(c->dpdk.interfaces[i].bridge);
    }
    free(c->dpdk.interfaces);
    c->dpdk.interfaces = NULL;
    c->dpdk.n_interfaces = 0;
}

/* The key an EAL option belongs to when the dpdk section sets it itself
 * ("-l", "-l0", "--lcores=..."), else NULL. */
static const char *
eal_option_owner(const char *arg)
{
    static const struct { const char *option, *key; } owned[] = {
        { "--lcores", "dpdk.lcore" },
        { "--socket-mem", "dpdk.socket_mem_mb" },
        { "-l", "dpdk.lcore" },
        { "-c", "dpdk.lcore" },
        { "-m", "dpdk.socket_mem_mb" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(owned); i++) {
        size_t n = strlen(owned[i].option);
        if (!strncmp(arg, owned[i].option, n)
            && (!arg[n] || arg[n] == '='
                || (owned[i].option[1] != '-'
                    && isdigit((unsigned char) arg[n])))) {
            return owned[i].key;
        }
    }
    return NULL;
}

static struct lq_error *
check_eal_arg(struct loader *l, yaml_node_t *item, const char *path)
{
    const char *arg = scalar_text(item);
    const char *owner = eal_option_owner(arg);
    if (!*arg || arg[strcspn(arg, " \t\r\n")]) {
        return loader_error(l, item, path, "expected one argument without "
                            "whitespace (ovs-vswitchd splits dpdk-extra at "
                            "spaces), got \"%s\"", arg);
    } else if (owner) {
        return loader_error(l, item, path, "\"%s\" is set from %s, not here",
                            arg, owner);
    }
    return NULL;
}

static struct lq_error *
parse_eal_args(struct loader *l, yaml_node_t *seq, const char *path,
               void *field OVS_UNUSED)
{
    struct lq_config *c = l->config;
    return load_string_list(l, seq, path, check_eal_arg,
                            &c->dpdk.extra_eal_args,
                            &c->dpdk.n_extra_eal_args);
}

/* "net_af_xdp0,iface=eth1": a driver-and-instance name of [a-z0-9_], then
 * optional ",key=value" arguments, no whitespace. */
static bool
vdev_is_valid(const char *vdev)
{
    size_t name_len = strcspn(vdev, ",");
    if (!name_len || vdev[strcspn(vdev, " \t\r\n")]) {
        return false;
    }
    for (size_t i = 0; i < name_len; i++) {
        unsigned char ch = vdev[i];
        if (!islower(ch) && !isdigit(ch) && ch != '_') {
            return false;
        }
    }
    return true;
}

static bool
iface_name_is_valid(const char *name)
{
    size_t n = strlen(name);
    if (!n || n > 15) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char) name[i]) && !strchr("_.-", name[i])) {
            return false;
        }
    }
    return true;
}

/* Sets one key of a dpdk.interfaces entry ('path' names it). */
static struct lq_error *
dpdk_interface_set(struct loader *l, yaml_node_t *value, const char *path,
                   const char *key, struct lq_dpdk_interface_config *iface)
{
    struct lq_error *error = expect_scalar(l, value, path);
    if (error) {
        return error;
    }
    const char *s = scalar_text(value);
    char pci[LQ_PCI_ADDR_LEN + 1];

    if (!strcmp(key, "name")) {
        if (!iface_name_is_valid(s)) {
            return loader_error(l, value, path, "expected 1 to 15 letters, "
                                "digits, \"_\", \".\" or \"-\", got \"%s\"",
                                s);
        }
        lq_config_set_string(&iface->name, s);
    } else if (!strcmp(key, "pci")) {
        if (!lq_pci_addr_normalize(s, pci)) {
            return loader_error(l, value, path, "expected a PCI address like "
                                "0000:03:00.0, got \"%s\"", s);
        }
        lq_config_set_string(&iface->pci, pci);
    } else if (!strcmp(key, "vdev")) {
        if (!vdev_is_valid(s)) {
            return loader_error(l, value, path, "expected a DPDK virtual "
                                "device like net_af_xdp0,iface=eth1, got "
                                "\"%s\"", s);
        }
        lq_config_set_string(&iface->vdev, s);
    } else if (!strcmp(key, "bridge")) {
        if (!iface_name_is_valid(s)) {
            return loader_error(l, value, path, "expected an Open vSwitch "
                                "bridge name of 1 to 15 letters, digits, "
                                "\"_\", \".\" or \"-\", got \"%s\"", s);
        }
        lq_config_set_string(&iface->bridge, s);
    } else {
        return loader_error(l, value, path, "unknown key (expected name, pci, "
                            "vdev or bridge)");
    }
    return NULL;
}

static struct lq_error *
dpdk_interface_pair(struct loader *l, const char *path, const char *key,
                    yaml_node_t *value, void *iface)
{
    char *full = join_path(path, key);
    struct lq_error *error = dpdk_interface_set(l, value, full, key, iface);
    free(full);
    return error;
}

static struct lq_error *
dpdk_interface_check(struct loader *l, yaml_node_t *item, const char *path)
{
    struct lq_config *c = l->config;
    struct lq_dpdk_interface_config *iface
        = &c->dpdk.interfaces[c->dpdk.n_interfaces - 1];

    if (!iface->name) {
        return loader_error(l, item, path, "missing required key \"name\"");
    }
    if (!iface->pci == !iface->vdev) {
        return loader_error(l, item, path, "expected exactly one of \"pci\" "
                            "and \"vdev\"");
    }
    for (size_t i = 0; i + 1 < c->dpdk.n_interfaces; i++) {
        const struct lq_dpdk_interface_config *o = &c->dpdk.interfaces[i];
        if (!strcmp(o->name, iface->name)) {
            return loader_error(l, item, path, "name: duplicate interface "
                                "name \"%s\"", iface->name);
        }
        const char *dev = iface->pci ? iface->pci : iface->vdev;
        const char *odev = o->pci ? o->pci : o->vdev;
        if (!strcmp(dev, odev)) {
            return loader_error(l, item, path, "%s: \"%s\" is already "
                                "interface \"%s\"",
                                iface->pci ? "pci" : "vdev", dev, o->name);
        }
    }
    return NULL;
}

static struct lq_error *
parse_dpdk_interfaces(struct loader *l, yaml_node_t *seq, const char *path,
                      void *field OVS_UNUSED)
{
    struct lq_config *c = l->config;

    dpdk_interfaces_clear(c);
    if (scalar_is_null(seq)) {
        return NULL;
    }
    if (seq->type != YAML_SEQUENCE_NODE) {
        return loader_error(l, seq, path, "expected a list, got %s",
                            node_type_name(seq));
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start;
         it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(l->doc, *it);
        size_t i = it - seq->data.sequence.items.start;
        char *item_path = xasprintf("%s[%zu]", path, i);
        c->dpdk.interfaces = xrealloc(c->dpdk.interfaces,
                                      (c->dpdk.n_interfaces + 1)
                                      * sizeof *c->dpdk.interfaces);
        struct lq_dpdk_interface_config *iface
            = &c->dpdk.interfaces[c->dpdk.n_interfaces++];
        memset(iface, 0, sizeof *iface);
        iface->line = item->start_mark.line + 1;

        struct lq_error *error = NULL;
        if (item->type != YAML_MAPPING_NODE) {
            error = loader_error(l, item, item_path,
                                 "expected a mapping, got %s",
                                 node_type_name(item));
        }
        if (!error) {
            error = for_each_pair(l, item, item_path, dpdk_interface_pair,
                                  iface);
        }
        if (!error) {
            error = dpdk_interface_check(l, item, item_path);
        }
        free(item_path);
        if (error) {
            return error;
        }
    }
    return NULL;
}

static struct lq_error *load_section(struct loader *, yaml_node_t *,
                                     const char *path,
                                     const struct cfg_key *keys);

static struct lq_error *
load_value(struct loader *l, const struct cfg_key *key, yaml_node_t *value,
           const char *path)
{
    void *field = (char *) l->config + key->offset;

    switch (key->type) {
    case CT_SECTION:
        return load_section(l, value, path, key->children);
    case CT_POOLS:
        return load_pools(l, value, path);
    case CT_KV_MAP:
        kv_list_clear(field);
        return for_each_pair(l, value, path, kv_map_pair, field);
    case CT_CUSTOM:
        return key->parse(l, value, path, field);
    case CT_STRING:
    case CT_OPT_STRING:
    case CT_INT:
    case CT_BOOL:
        break;
    }

    if (value->type != YAML_SCALAR_NODE) {
        return loader_error(l, value, path, "expected a scalar, got %s",
                            node_type_name(value));
    }
    const char *s = scalar_text(value);
    if (key->type == CT_OPT_STRING) {
        lq_config_set_string(field, scalar_is_null(value) ? NULL : s);
    } else if (key->type == CT_STRING) {
        lq_config_set_string(field, scalar_is_null(value) ? "" : s);
    } else if (key->type == CT_INT) {
        if (!parse_int(s, key->min, key->max, field)) {
            return loader_error(l, value, path, "expected an integer in "
                                "%d..%d, got \"%s\"", key->min, key->max, s);
        }
    } else if (!parse_bool(s, field)) {
        return loader_error(l, value, path,
                            "expected true or false, got \"%s\"", s);
    }
    return NULL;
}

struct section_aux {
    const struct cfg_key *keys;
    yaml_node_t *map;
};

static struct lq_error *
section_pair(struct loader *l, const char *path, const char *name,
             yaml_node_t *value, void *aux_)
{
    const struct section_aux *aux = aux_;
    char *full = join_path(path, name);
    struct lq_error *error;
    const struct cfg_key *key;

    for (key = aux->keys; key->name; key++) {
        if (!strcmp(key->name, name)) {
            break;
        }
    }
    if (!key->name) {
        /* Point at the key itself, not the value. */
        yaml_node_t *at = value;
        for (yaml_node_pair_t *p = aux->map->data.mapping.pairs.start;
             p < aux->map->data.mapping.pairs.top; p++) {
            if (yaml_document_get_node(l->doc, p->value) == value) {
                at = yaml_document_get_node(l->doc, p->key);
            }
        }
        error = loader_error(l, at, full, "unknown key");
    } else {
        error = load_value(l, key, value, full);
    }
    free(full);
    return error;
}

static struct lq_error *
load_section(struct loader *l, yaml_node_t *map, const char *path,
             const struct cfg_key *keys)
{
    struct section_aux aux = { keys, map };
    return for_each_pair(l, map, path, section_pair, &aux);
}

struct lq_config *
lq_config_new_default(void)
{
    struct lq_config *c = xzalloc(sizeof *c);

    c->server.listen_address = xstrdup("0.0.0.0:9090");
    c->server.metrics_port = 9091;
    c->server.unix_socket = xstrdup("/run/limiquantix/node.sock");
    c->server.max_request_bytes = 4 * 1024 * 1024;
    c->server.worker_threads = 4;
    c->hypervisor.backend = xstrdup("libvirt");
    c->hypervisor.libvirt_uri = xstrdup("qemu:///system");
    c->hypervisor.virt_type = xstrdup("auto");
    c->hypervisor.console_token_seconds = 60;
    c->hypervisor.state_dir = xstrdup(LQ_DEFAULT_STATE_DIR);
    c->hypervisor.migration.scheme = xstrdup("qemu+tls");
    c->control_plane.address = xstrdup("");
    c->control_plane.registration_enabled = true;
    c->control_plane.heartbeat_interval_secs = 30;
    c->network.integration_bridge = xstrdup("br-int");
    c->network.encap_type = xstrdup("geneve");
    c->network.datapath_type = xstrdup("system");
    CPU_ZERO(&c->dpdk.pmd_cores);
    c->dpdk.socket_mem_mb = 1024;
    c->dpdk.hugepages.size_kb = 2048;
    c->dpdk.vhost_socket_dir = xstrdup(LQ_DPDK_DEFAULT_VHOST_DIR);
    return c;
}

static struct lq_error *
parse_document(struct loader *l, yaml_parser_t *parser)
{
    if (!yaml_parser_load(parser, l->doc)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s:%zu: invalid YAML: %s",
                            l->name, parser->problem_mark.line + 1,
                            parser->problem ? parser->problem : "parse error");
    }
    yaml_node_t *root = yaml_document_get_root_node(l->doc);
    if (!root) {
        return NULL;            /* Empty file: all defaults. */
    }
    return load_section(l, root, "", root_keys);
}

struct lq_error *
lq_config_parse(const char *name, const char *text, size_t len,
                struct lq_config **configp)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct loader l = { name, &doc, lq_config_new_default() };

    memset(&doc, 0, sizeof doc);
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    struct lq_error *error = parse_document(&l, &parser);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);

    if (error) {
        lq_config_free(l.config);
        *configp = NULL;
        return error;
    }
    l.config->source = xstrdup(name);
    *configp = l.config;
    return NULL;
}

struct lq_error *
lq_config_load(const char *path, struct lq_config **configp)
{
    *configp = NULL;
    char *text;
    size_t len;
    int err = lq_read_file(path, &text, &len);
    if (err) {
        return lq_error_new(err == EIO ? LQ_INTERNAL : LQ_NOT_FOUND,
                            "%s: cannot %s config file: %s", path,
                            err == EIO ? "read" : "open", strerror(err));
    }

    struct lq_error *error = lq_config_parse(path, text, len, configp);
    free(text);
    return error;
}

bool
lq_migration_peer_name_valid(const char *name)
{
    size_t n = strlen(name);
    return n && n <= 253 && strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz0123456789._-")
                            == n;
}

bool
lq_migration_peer_target_valid(const char *target)
{
    size_t n = strlen(target);
    if (!n || n > 1024) {
        return false;
    }
    for (const char *p = target; *p; p++) {
        if ((unsigned char) *p <= ' ' || *p == 0x7f) {
            return false;
        }
    }
    if (strstr(target, "://")) {
        return !strncmp(target, "qemu", 4);
    }
    /* A host: name, IPv4, or [IPv6], optionally :port. */
    return strspn(target, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789.-:[]") == n;
}

/* A libvirt machine type or CPU model name: what QEMU names them with
 * (pc-q35-7.2, EPYC-Rome, Skylake-Server-IBRS). */
static bool
platform_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char) s[i]) && !strchr("._-", s[i])) {
            return false;
        }
    }
    return true;
}

/* hypervisor.virt_type, machine, cpu_mode, cpu_model. */
static struct lq_error *
validate_platform(const struct lq_config *c, const char *src)
{
    const typeof(c->hypervisor) *h = &c->hypervisor;
    if (strcmp(h->virt_type, "auto") && strcmp(h->virt_type, "kvm")
        && strcmp(h->virt_type, "qemu")) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: hypervisor.virt_type: "
                            "expected auto, kvm or qemu, got \"%s\"", src,
                            h->virt_type);
    }
    if (h->machine && !platform_name_valid(h->machine)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: hypervisor.machine: "
                            "expected a machine type such as q35 or pc "
                            "(1-64 of [A-Za-z0-9._-])", src);
    }
    if (h->cpu_mode && strcmp(h->cpu_mode, "host-model")
        && strcmp(h->cpu_mode, "host-passthrough")
        && strcmp(h->cpu_mode, "custom")) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: hypervisor.cpu_mode: "
                            "expected host-model, host-passthrough or "
                            "custom, got \"%s\"", src, h->cpu_mode);
    }
    bool custom = h->cpu_mode && !strcmp(h->cpu_mode, "custom");
    if (custom != (h->cpu_model != NULL)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: hypervisor.cpu_model: "
                            "%s", src, custom ? "required with cpu_mode "
                            "custom" : "only with cpu_mode custom");
    }
    if (h->cpu_model && !platform_name_valid(h->cpu_model)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: hypervisor.cpu_model: "
                            "expected a CPU model such as EPYC-Rome "
                            "(1-64 of [A-Za-z0-9._-])", src);
    }
    if (!strcmp(h->virt_type, "qemu") && h->cpu_mode && !custom) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: hypervisor.cpu_mode: "
                            "%s needs KVM (virt_type qemu is emulated)", src,
                            h->cpu_mode);
    }
    return NULL;
}

struct lq_error *
lq_config_validate(const struct lq_config *c)
{
    const char *src = c->source ? c->source : "(defaults)";

    if (c->tls.enabled) {
        if (!c->tls.cert_path || !c->tls.key_path || !c->tls.ca_path) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: tls: enabled needs "
                                "cert_path, key_path and ca_path (client "
                                "certificates are required)", src);
        }
    }
    if (strcmp(c->hypervisor.backend, "libvirt")) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: hypervisor.backend: "
                            "unsupported backend \"%s\" (expected libvirt)",
                            src, c->hypervisor.backend);
    }
    struct lq_error *e = validate_platform(c, src);
    if (e) {
        return e;
    }
    const char *scheme = c->hypervisor.migration.scheme;
    if (strcmp(scheme, "qemu+tls") && strcmp(scheme, "qemu+ssh")
        && strcmp(scheme, "qemu+tcp")) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: hypervisor.migration."
                            "scheme: expected qemu+tls, qemu+ssh or qemu+tcp, "
                            "got \"%s\"", src, scheme);
    }
    const struct lq_kv_list *peers = &c->hypervisor.migration.peers;
    for (size_t i = 0; i < peers->n; i++) {
        if (!lq_migration_peer_name_valid(peers->items[i].key)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: hypervisor."
                                "migration.peers: \"%s\" is not a node name "
                                "(1-253 of [A-Za-z0-9._-])", src,
                                peers->items[i].key);
        }
        if (!lq_migration_peer_target_valid(peers->items[i].value)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: hypervisor."
                                "migration.peers.%s: expected a host name, "
                                "an address or a qemu libvirt URI, got \"%s\"",
                                src, peers->items[i].key,
                                peers->items[i].value);
        }
    }
    if (strcmp(c->network.datapath_type, "system")
        && strcmp(c->network.datapath_type, "netdev")) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: network.datapath_type: "
                            "expected system or netdev, got \"%s\"", src,
                            c->network.datapath_type);
    }
    if (c->dpdk.enabled && !CPU_COUNT(&c->dpdk.pmd_cores)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: dpdk.pmd_cores: "
                            "required when dpdk.enabled is true", src);
    }
    if (c->dpdk.enabled && CPU_ISSET(c->dpdk.lcore, &c->dpdk.pmd_cores)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: dpdk.pmd_cores: CPU %d "
                            "is also dpdk.lcore", src, c->dpdk.lcore);
    }
    const char *pool = c->storage.default_pool;
    if (pool) {
        size_t i = 0;
        while (i < c->storage.n_pools && strcmp(c->storage.pools[i].id, pool)) {
            i++;
        }
        if (i == c->storage.n_pools) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: storage.default_pool:"
                                " \"%s\" is not the id of one of "
                                "storage.pools", src, pool);
        }
    }
    const char *cp = c->control_plane.address;
    if (*cp && strncmp(cp, "http://", 7) && strncmp(cp, "https://", 8)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: control_plane.address: "
                            "expected an http:// or https:// URL, got \"%s\"",
                            src, cp);
    }
    return NULL;
}

void
lq_config_free(struct lq_config *c)
{
    if (!c) {
        return;
    }
    free(c->source);
    free(c->node.id);
    free(c->node.hostname);
    free(c->node.management_ip);
    kv_list_clear(&c->node.labels);
    free(c->server.listen_address);
    free(c->server.unix_socket);
    free(c->hypervisor.backend);
    free(c->hypervisor.libvirt_uri);
    free(c->hypervisor.virt_type);
    free(c->hypervisor.machine);
    free(c->hypervisor.cpu_mode);
    free(c->hypervisor.cpu_model);
    string_list_clear(&c->hypervisor.image_dirs,
                      &c->hypervisor.n_image_dirs);
    free(c->hypervisor.state_dir);
    string_list_clear(&c->hypervisor.bridges, &c->hypervisor.n_bridges);
    free(c->hypervisor.migration.scheme);
    kv_list_clear(&c->hypervisor.migration.peers);
    free(c->control_plane.address);
    free(c->tls.cert_path);
    free(c->tls.key_path);
    free(c->tls.ca_path);
    for (size_t i = 0; i < c->storage.n_pools; i++) {
        free(c->storage.pools[i].id);
        free(c->storage.pools[i].backend);
        kv_list_clear(&c->storage.pools[i].params);
    }
    free(c->storage.default_pool);
    free(c->storage.pools);
    free(c->network.ovn_nb_db);
    free(c->network.ovs_db);
    free(c->network.integration_bridge);
    free(c->network.encap_type);
    free(c->network.encap_ip);
    free(c->network.datapath_type);
    kv_list_clear(&c->network.bridge_mappings);
    free(c->dpdk.vhost_socket_dir);
    dpdk_eal_args_clear(c);
    dpdk_interfaces_clear(c);
    free(c);
}
