/* disk_source_tool: prints what lq_volume_disk_source() returns for a
 * volume, as JSON, using the C API in-process on a node.yaml.
 *
 * The RPC API has no method for it (the compute subsystem calls the C API
 * directly), so the storage tests run this next to the daemon, on the
 * same pools, to check what libvirt would be given: e.g. that an iSCSI
 * source names a libvirt secret and never holds the CHAP secret.
 *
 * Usage: lq-disk-source NODE.YAML VOLUME-ID */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>

#include "limiquantix/config.h"
#include "limiquantix/storage.h"
#include "openvswitch/json.h"
#include "util.h"

static void
put(struct json *o, const char *key, const char *value)
{
    if (value) {
        json_object_put_string(o, key, value);
    }
}

int
main(int argc, char *argv[])
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s NODE.YAML VOLUME-ID\n", argv[0]);
        return 2;
    }
    struct lq_config *c;
    struct lq_storage *s = NULL;
    struct lq_disk_source *ds = NULL;
    struct lq_error *e = lq_config_load(argv[1], &c);
    if (!e) {
        e = lq_storage_create(c, &s);
    }
    if (!e) {
        e = lq_volume_disk_source(s, argv[2], &ds);
    }
    if (e) {
        fprintf(stderr, "%s: %s\n", lq_code_name(e->code), e->message);
        lq_error_free(e);
        return 1;
    }
    struct json *o = json_object_create();
    put(o, "type", ds->type);
    put(o, "protocol", ds->protocol);
    put(o, "name", ds->name);
    put(o, "path", ds->path);
    put(o, "format", ds->format);
    put(o, "authUsername", ds->auth_username);
    put(o, "secretType", ds->secret_type);
    put(o, "secretUsage", ds->secret_usage);
    put(o, "configFile", ds->config_file);
    put(o, "keyring", ds->keyring);
    struct json *hosts = json_array_create_empty();
    for (size_t i = 0; i < ds->n_hosts; i++) {
        struct json *h = json_object_create();
        put(h, "name", ds->hosts[i].name);
        put(h, "port", ds->hosts[i].port);
        put(h, "transport", ds->hosts[i].transport);
        json_array_add(hosts, h);
    }
    json_object_put(o, "hosts", hosts);
    char *text = json_to_string(o, JSSF_SORT);
    puts(text);
    free(text);
    json_destroy(o);
    lq_disk_source_free(ds);
    lq_storage_destroy(s);
    lq_config_free(c);
    return 0;
}
