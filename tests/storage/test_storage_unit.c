/* Unit tests of the storage subsystem's pure logic (no Ceph cluster):
 * argument validation, qemu-img output parsing, zero detection, mon_host
 * parsing, RBD naming, local pool paths and file names, iSCSI portals,
 * names, CHAP values and tgtadm output, NFS servers, exports and file
 * names, LVM names and tag encoding, pool set-up from node.yaml, and the
 * JSON shapes. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "download.h"
#include "image.h"
#include "jsonx.h"
#include "limiquantix/config.h"
#include "limiquantix/storage.h"
#include "iscsi.h"
#include "local.h"
#include "lvm.h"
#include "nfs.h"
#include "rbd.h"
#include "pbjson.h"
#include "rpc_storage.h"
#include "openvswitch/dynamic-string.h"
#include "sset.h"
#include "util.h"

static void
assert_error(struct lq_error *e, enum lq_code code, const char *substring)
{
    assert_non_null(e);
    if (e->code != code || !strstr(e->message, substring)) {
        fail_msg("got %s \"%s\", expected %s containing \"%s\"",
                 lq_code_name(e->code), e->message, lq_code_name(code),
                 substring);
    }
    lq_error_free(e);
}

static void
test_check_id(void **state)
{
    (void) state;
    assert_null(lq_storage_check_id("id", "a"));
    assert_null(lq_storage_check_id("id", "vol-1.x_y"));
    assert_null(lq_storage_check_id("id",
                                    "0b9a3e8e-6a43-4c3a-9f7c-1d2e3f4a5b6c"));
    assert_error(lq_storage_check_id("id", ""), LQ_INVALID_ARGUMENT,
                 "id: required");
    assert_error(lq_storage_check_id("id", NULL), LQ_INVALID_ARGUMENT,
                 "id: required");
    assert_error(lq_storage_check_id("volumeId", "-a"), LQ_INVALID_ARGUMENT,
                 "volumeId: \"-a\" is not a valid id");
    assert_error(lq_storage_check_id("id", "a/b"), LQ_INVALID_ARGUMENT,
                 "not a valid id");
    assert_error(lq_storage_check_id("id", "a~b"), LQ_INVALID_ARGUMENT,
                 "not a valid id");
    assert_error(lq_storage_check_id("id", "a b"), LQ_INVALID_ARGUMENT,
                 "not a valid id");
    char long_id[66];
    memset(long_id, 'x', 65);
    long_id[65] = '\0';
    assert_error(lq_storage_check_id("id", long_id), LQ_INVALID_ARGUMENT,
                 "longer than 64");
}

static void
test_check_name_and_size(void **state)
{
    (void) state;
    assert_null(lq_storage_check_name("name", "disk one (boot)"));
    assert_error(lq_storage_check_name("name", "a/b"), LQ_INVALID_ARGUMENT,
                 "name: must not contain '/'");
    assert_error(lq_storage_check_name("name", "a@b"), LQ_INVALID_ARGUMENT,
                 "must not contain '@'");
    assert_error(lq_storage_check_name("name", "a\nb"), LQ_INVALID_ARGUMENT,
                 "control characters");
    assert_error(lq_storage_check_name("name", ""), LQ_INVALID_ARGUMENT,
                 "must not be empty");
    char long_name[300];
    memset(long_name, 'n', 299);
    long_name[299] = '\0';
    assert_error(lq_storage_check_name("name", long_name),
                 LQ_INVALID_ARGUMENT, "longer than 255");

    assert_null(lq_storage_check_size("sizeBytes", 512, false));
    assert_null(lq_storage_check_size("sizeBytes", 0, true));
    assert_error(lq_storage_check_size("sizeBytes", 0, false),
                 LQ_INVALID_ARGUMENT, "sizeBytes: must be greater than 0");
    assert_error(lq_storage_check_size("sizeBytes", 1000, false),
                 LQ_INVALID_ARGUMENT, "1000 is not a multiple of 512");
}

static void
test_parse_qemu_img_info(void **state)
{
    (void) state;
    struct lq_image_probe p;

    assert_null(lq_image_parse_info("f", "{\"virtual-size\": 1048576, "
                                    "\"format\": \"raw\"}", &p));
    assert_string_equal(p.format, "raw");
    assert_int_equal(p.virtual_size, 1048576);
    lq_image_probe_clear(&p);

    assert_null(lq_image_parse_info(
        "f", "{\"virtual-size\": 67108864, \"format\": \"qcow2\", "
        "\"format-specific\": {\"type\": \"qcow2\", \"data\": "
        "{\"compat\": \"1.1\"}}}", &p));
    assert_string_equal(p.format, "qcow2");
    assert_int_equal(p.virtual_size, 67108864);
    lq_image_probe_clear(&p);

    assert_error(lq_image_parse_info(
                     "source.imagePath", "{\"virtual-size\": 1, \"format\": "
                     "\"qcow2\", \"backing-filename\": \"/etc/shadow\"}", &p),
                 LQ_INVALID_ARGUMENT, "source.imagePath: qcow2 images with a "
                 "backing file are not accepted");
    assert_error(lq_image_parse_info(
                     "f", "{\"virtual-size\": 1, \"format\": \"qcow2\", "
                     "\"format-specific\": {\"data\": {\"data-file\": "
                     "\"/x\"}}}", &p),
                 LQ_INVALID_ARGUMENT, "external data file");
    assert_error(lq_image_parse_info(
                     "f", "{\"virtual-size\": 1, \"format\": \"qcow2\", "
                     "\"encrypted\": true}", &p),
                 LQ_INVALID_ARGUMENT, "encrypted");
    assert_error(lq_image_parse_info(
                     "f", "{\"virtual-size\": 1, \"format\": \"vmdk\"}", &p),
                 LQ_INVALID_ARGUMENT, "image format \"vmdk\" is not "
                 "supported");
    assert_error(lq_image_parse_info("f", "not json", &p), LQ_INTERNAL,
                 "cannot parse");
    assert_error(lq_image_parse_info("f", "{\"format\": \"raw\"}", &p),
                 LQ_INTERNAL, "lacks");
}

static void
test_image_probe_files(void **state)
{
    (void) state;
    struct lq_image_probe p;
    char dir[] = "/tmp/lq-storage-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));

    assert_error(lq_image_probe("source.imagePath", "rel.raw", &p),
                 LQ_INVALID_ARGUMENT, "is not an absolute path");
    assert_error(lq_image_probe("source.imagePath", dir, &p),
                 LQ_INVALID_ARGUMENT, "is not a regular file");
    char *missing = xasprintf("%s/missing", dir);
    assert_error(lq_image_probe("source.imagePath", missing, &p),
                 LQ_INVALID_ARGUMENT, "No such file or directory");

    char *raw = xasprintf("%s/disk.raw", dir);
    FILE *f = fopen(raw, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 3 << 20), 0);
    fclose(f);
    assert_null(lq_image_probe("source.imagePath", raw, &p));
    assert_string_equal(p.format, "raw");
    assert_int_equal(p.virtual_size, 3 << 20);
    lq_image_probe_clear(&p);

    unlink(raw);
    rmdir(dir);
    free(raw);
    free(missing);
}

static void
test_qemu_img_progress(void **state)
{
    (void) state;
    const char *t = "    (0.00/100%)\r    (45.50/100%)\r";
    assert_int_equal(lq_qemu_img_progress(t, strlen(t)), 45);
    t = "    (100.00/100%)\r\n";
    assert_int_equal(lq_qemu_img_progress(t, strlen(t)), 100);
    t = "nothing (here)";
    assert_int_equal(lq_qemu_img_progress(t, strlen(t)), -1);
    /* A chunk cut in the middle of the last report: the last whole one. */
    t = "(12.00/100%)\r    (13.";
    assert_int_equal(lq_qemu_img_progress(t, strlen(t)), 12);
}

static void
test_buffer_is_zero(void **state)
{
    (void) state;
    enum { N = 1 << 16 };
    char *buf = xzalloc(N);
    assert_true(lq_buffer_is_zero(buf, N));
    assert_true(lq_buffer_is_zero(buf, 0));
    assert_true(lq_buffer_is_zero(buf, 3));
    buf[N - 1] = 1;
    assert_false(lq_buffer_is_zero(buf, N));
    assert_true(lq_buffer_is_zero(buf, N - 1));
    buf[N - 1] = 0;
    buf[0] = 1;
    assert_false(lq_buffer_is_zero(buf, N));
    assert_false(lq_buffer_is_zero(buf, 1));
    buf[0] = 0;
    buf[17] = 1;
    assert_false(lq_buffer_is_zero(buf, 20));
    free(buf);
}

static void
check_hosts(const char *mon_host, size_t n, const char *expected[][3])
{
    struct lq_disk_host *h;
    size_t got;
    lq_rbd_parse_mon_host(mon_host, &h, &got);
    if (got != n) {
        fail_msg("\"%s\": %zu hosts, expected %zu", mon_host, got, n);
    }
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(h[i].name, expected[i][0]);
        assert_string_equal(h[i].port, expected[i][1]);
        assert_string_equal(h[i].transport, expected[i][2]);
        free(h[i].name);
        free(h[i].port);
        free(h[i].transport);
    }
    free(h);
}

static void
test_mon_host(void **state)
{
    (void) state;
    check_hosts("v2:127.0.0.1:3300", 1,
                (const char *[][3]) { { "127.0.0.1", "3300", "v2" } });
    check_hosts("[v2:10.0.0.1:3300,v1:10.0.0.1:6789],"
                "[v2:10.0.0.2:3300,v1:10.0.0.2:6789]", 4,
                (const char *[][3]) { { "10.0.0.1", "3300", "v2" },
                                      { "10.0.0.1", "6789", "v1" },
                                      { "10.0.0.2", "3300", "v2" },
                                      { "10.0.0.2", "6789", "v1" } });
    check_hosts("10.0.0.1 10.0.0.2:6789", 2,
                (const char *[][3]) { { "10.0.0.1", "", "" },
                                      { "10.0.0.2", "6789", "" } });
    check_hosts("[::1]:3300", 1,
                (const char *[][3]) { { "[::1]", "3300", "" } });
    check_hosts("[v2:[::1]:3300,v1:[::1]:6789]", 2,
                (const char *[][3]) { { "[::1]", "3300", "v2" },
                                      { "[::1]", "6789", "v1" } });
    check_hosts("mon.example.com;v1:10.1.1.1:6789/0", 2,
                (const char *[][3]) { { "mon.example.com", "", "" },
                                      { "10.1.1.1", "6789", "v1" } });
    check_hosts("", 0, NULL);
}

static void
test_rbd_names(void **state)
{
    (void) state;
    char *s = lq_rbd_image_name("vol-1");
    assert_string_equal(s, "lq-vol-1");
    free(s);
    s = lq_rbd_tmp_name("vol-1");
    assert_string_equal(s, "lq-tmp~vol-1");
    free(s);
    assert_string_equal(lq_rbd_volume_id("lq-vol-1"), "vol-1");
    /* An id may start with "tmp", but never hold '~'. */
    assert_string_equal(lq_rbd_volume_id("lq-tmp-1"), "tmp-1");
    assert_null(lq_rbd_volume_id("lq-tmp~vol-1"));
    assert_null(lq_rbd_volume_id("lq-"));
    assert_null(lq_rbd_volume_id("volume-1"));
}

static struct lq_config *
parse(const char *yaml)
{
    struct lq_config *c;
    struct lq_error *e = lq_config_parse("test.yaml", yaml, strlen(yaml), &c);
    if (e) {
        fail_msg("%s", e->message);
    }
    return c;
}

static void
test_storage_create_and_validation(void **state)
{
    (void) state;
    struct lq_config *c = parse(
        "storage:\n  pools:\n"
        "    - {id: ceph, backend: rbd, ceph_conf: /nonexistent/ceph.conf}\n");
    struct lq_storage *s;
    assert_null(lq_storage_create(c, &s));

    struct lq_pool_status *pools;
    size_t n;
    assert_null(lq_storage_list_pools(s, &pools, &n));
    assert_int_equal(n, 1);
    assert_string_equal(pools[0].id, "ceph");
    assert_string_equal(pools[0].backend, "rbd");
    assert_string_equal(pools[0].health, "unavailable");
    assert_non_null(strstr(pools[0].message, "/nonexistent/ceph.conf"));
    lq_pool_status_free_array(pools, n);

    /* Wrong input is refused before any cluster is contacted. */
    struct lq_volume_spec spec = { .id = "v1", .pool_id = "nope",
                                   .size_bytes = 4096 };
    assert_error(lq_volume_create(s, &spec, NULL), LQ_INVALID_ARGUMENT,
                 "poolId: unknown pool \"nope\"");
    spec.pool_id = "ceph";
    spec.size_bytes = 0;
    assert_error(lq_volume_create(s, &spec, NULL), LQ_INVALID_ARGUMENT,
                 "sizeBytes: must be greater than 0");
    spec.size_bytes = 4096;
    spec.name = "a@b";
    assert_error(lq_volume_create(s, &spec, NULL), LQ_INVALID_ARGUMENT,
                 "name: must not contain '@'");
    spec.name = NULL;
    spec.source_volume_id = "v0";
    assert_error(lq_volume_create(s, &spec, NULL), LQ_INVALID_ARGUMENT,
                 "source.volumeId: only with source.snapshotId");
    spec.source_volume_id = NULL;
    /* Valid, but the cluster cannot be reached. */
    spec.pool_id = "ceph";
    struct lq_volume_info *v = NULL;
    assert_error(lq_volume_create(s, &spec, &v), LQ_UNAVAILABLE,
                 "pool ceph: ceph_conf: cannot read");
    assert_null(v);
    assert_error(lq_volume_get(s, "a/b", &v), LQ_INVALID_ARGUMENT,
                 "id: \"a/b\" is not a valid id");
    assert_error(lq_volume_get(s, "v1", &v), LQ_UNAVAILABLE, "pool ceph");
    assert_error(lq_volume_resize(s, "v1", 1000, false, NULL),
                 LQ_INVALID_ARGUMENT, "not a multiple of 512");
    assert_error(lq_snapshot_create(s, "v1", "s/1", NULL, NULL),
                 LQ_INVALID_ARGUMENT, "id: \"s/1\"");
    struct lq_volume_list list;
    assert_error(lq_volume_list(s, "nope", &list), LQ_INVALID_ARGUMENT,
                 "poolId: unknown pool");

    lq_storage_destroy(s);
    lq_config_free(c);
}

static void
test_storage_create_bad_params(void **state)
{
    (void) state;
    struct lq_config *c = parse(
        "storage:\n  pools:\n"
        "    - {id: ceph, backend: rbd, max_clone_depth: deep}\n");
    struct lq_storage *s;
    assert_error(lq_storage_create(c, &s), LQ_INVALID_ARGUMENT,
                 "storage.pools[ceph].max_clone_depth: expected an integer");
    lq_config_free(c);
}

static void
test_volume_json(void **state)
{
    (void) state;
    struct lq_volume_info v = {
        .id = "c1", .pool_id = "ceph", .name = "clone", .operation = "",
        .error_message = "", .state = LQ_VOLUME_AVAILABLE,
        .progress_percent = 100, .size_bytes = UINT64_C(10737418240),
        .allocated_bytes = 4194304, .parent_volume_id = "v1",
        .parent_snapshot_id = "s1", .clone_depth = 1, .created_at = 1700000000,
        .backend_name = "rbd/lq-c1",
    };
    struct lq_snapshot_info snap = {
        .id = "s9", .volume_id = "c1", .name = "daily", .size_bytes = 512,
        .created_at = 1, .protected_ = true,
    };
    v.snapshots = &snap;
    v.n_snapshots = 1;
    /* The Volume message as a JSON reply writes it: every field. */
    ProtobufCMessage *m = lq_volume_message(&v);
    struct json *j = lq_pb_to_json_flags(m, LQ_PB_EMIT_DEFAULTS);
    protobuf_c_message_free_unpacked(m, NULL);
    char *s = lq_json_to_string(j);
    assert_string_equal(s,
        "{\"allocatedBytes\":\"4194304\",\"attached\":false,"
        "\"backendName\":\"rbd/lq-c1\",\"cloneDepth\":1,"
        "\"createdAt\":\"1700000000\",\"errorMessage\":\"\",\"id\":\"c1\","
        "\"name\":\"clone\",\"operation\":\"\",\"parent\":{\"snapshotId\":"
        "\"s1\",\"volumeId\":\"v1\"},\"poolId\":\"ceph\","
        "\"progressPercent\":100,\"sizeBytes\":\"10737418240\","
        "\"snapshots\":[{\"createdAt\":\"1\",\"id\":\"s9\",\"name\":\"daily\","
        "\"protected\":true,\"sizeBytes\":\"512\",\"volumeId\":\"c1\"}],"
        "\"state\":\"available\"}");
    free(s);
    json_destroy(j);
}

static void
test_local_pool_path(void **state)
{
    (void) state;
    assert_null(lq_local_check_pool_path("path", "/var/lib/lq"));
    assert_null(lq_local_check_pool_path("path", "/var/lib/lq/"));
    assert_null(lq_local_check_pool_path("path", "/"));
    assert_null(lq_local_check_pool_path("path", "/a/..b/c.d/.e"));
    assert_error(lq_local_check_pool_path("path", NULL), LQ_INVALID_ARGUMENT,
                 "path: required");
    assert_error(lq_local_check_pool_path("path", "var/lib"),
                 LQ_INVALID_ARGUMENT, "not an absolute path");
    assert_error(lq_local_check_pool_path("path", "/var/../etc"),
                 LQ_INVALID_ARGUMENT, "\"..\" components");
    assert_error(lq_local_check_pool_path("path", "/var/lib/.."),
                 LQ_INVALID_ARGUMENT, "\"..\" components");
    assert_error(lq_local_check_pool_path("path", "/var/./lib"),
                 LQ_INVALID_ARGUMENT, "\".\" or");
    assert_error(lq_local_check_pool_path("path", "/var//lib"),
                 LQ_INVALID_ARGUMENT, "empty component");
    assert_error(lq_local_check_pool_path("path", "/var/l\nib"),
                 LQ_INVALID_ARGUMENT, "control characters");
}

static void
test_local_names(void **state)
{
    (void) state;
    assert_true(lq_pooldir_name_ok("lq-a.qcow2"));
    assert_true(lq_pooldir_name_ok("lq-tmp~a.meta"));
    assert_false(lq_pooldir_name_ok(""));
    assert_false(lq_pooldir_name_ok("."));
    assert_false(lq_pooldir_name_ok(".."));
    assert_false(lq_pooldir_name_ok("a/b"));
    assert_false(lq_pooldir_name_ok("../etc/passwd"));
    assert_false(lq_pooldir_name_ok("a\nb"));
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_false(lq_pooldir_name_ok(long_name));

    char *n = lq_local_volume_file("vm1-root");
    assert_string_equal(n, "lq-vm1-root.qcow2");
    free(n);
    n = lq_local_meta_file("vm1-root");
    assert_string_equal(n, "lq-vm1-root.meta");
    free(n);
    n = lq_local_tmp_file("vm1-root", "qcow2");
    assert_string_equal(n, "lq-tmp~vm1-root.qcow2");
    free(n);
    n = lq_local_base_file("gold", "s1");
    assert_string_equal(n, "lq-base~gold~s1.qcow2");
    free(n);

    /* Only published volume images map back to ids. */
    char *id = lq_local_volume_id("lq-vm1-root.qcow2");
    assert_string_equal(id, "vm1-root");
    free(id);
    id = lq_local_volume_id("lq-a.b.qcow2");
    assert_string_equal(id, "a.b");
    free(id);
    assert_null(lq_local_volume_id("lq-tmp~vm1.qcow2"));
    assert_null(lq_local_volume_id("lq-base~gold~s1.qcow2"));
    assert_null(lq_local_volume_id("lq-vm1.meta"));
    assert_null(lq_local_volume_id("lq-.qcow2"));
    assert_null(lq_local_volume_id("lq-.x.qcow2"));
    assert_null(lq_local_volume_id("vm1.qcow2"));
    assert_null(lq_local_volume_id("lq-vm1.qcow2.bak"));

    /* A clone's backing file must be exactly its base, next to it. */
    assert_true(lq_local_backing_ok("lq-base~gold~s1.qcow2", "gold", "s1"));
    assert_false(lq_local_backing_ok("lq-base~gold~s2.qcow2", "gold", "s1"));
    assert_false(lq_local_backing_ok("/etc/shadow", "gold", "s1"));
    assert_false(lq_local_backing_ok("../lq-base~gold~s1.qcow2", "gold",
                                     "s1"));
    assert_false(lq_local_backing_ok("./lq-base~gold~s1.qcow2", "gold",
                                     "s1"));
    assert_false(lq_local_backing_ok("lq-base~gold~s1.qcow2", NULL, NULL));
}

static void
test_local_pool_config(void **state)
{
    (void) state;
    struct lq_config *c = parse(
        "storage:\n  pools:\n"
        "    - {id: bad, backend: local, path: /srv/../etc}\n");
    struct lq_storage *s;
    assert_error(lq_storage_create(c, &s), LQ_INVALID_ARGUMENT,
                 "storage.pools[bad].path: \"/srv/../etc\" must not contain");
    lq_config_free(c);

    c = parse("storage:\n  pools:\n"
              "    - {id: disk, backend: local, path: /nonexistent/lq}\n");
    assert_null(lq_storage_create(c, &s));
    struct lq_pool_status *pools;
    size_t n;
    assert_null(lq_storage_list_pools(s, &pools, &n));
    assert_int_equal(n, 1);
    assert_string_equal(pools[0].backend, "local");
    assert_string_equal(pools[0].health, "unavailable");
    assert_non_null(strstr(pools[0].message, "/nonexistent/lq"));
    lq_pool_status_free_array(pools, n);
    lq_storage_destroy(s);
    lq_config_free(c);
}

static void
test_iscsi_portal_iqn_chap(void **state)
{
    (void) state;
    char *host;
    int port;
    assert_null(lq_iscsi_parse_portal("portal", "10.0.0.5", &host, &port));
    assert_string_equal(host, "10.0.0.5");
    assert_int_equal(port, 3260);
    free(host);
    assert_null(lq_iscsi_parse_portal("portal", "san.example:3261", &host,
                                      &port));
    assert_string_equal(host, "san.example");
    assert_int_equal(port, 3261);
    free(host);
    assert_null(lq_iscsi_parse_portal("portal", "[fd00::1]:860", &host,
                                      &port));
    assert_string_equal(host, "fd00::1");
    assert_int_equal(port, 860);
    free(host);
    assert_error(lq_iscsi_parse_portal("portal", "fd00::1", &host, &port),
                 LQ_INVALID_ARGUMENT, "[addr]:port");
    assert_error(lq_iscsi_parse_portal("portal", "h:0", &host, &port),
                 LQ_INVALID_ARGUMENT, "port must be 1..65535");
    assert_error(lq_iscsi_parse_portal("portal", "h:99999", &host, &port),
                 LQ_INVALID_ARGUMENT, "port must be 1..65535");
    assert_error(lq_iscsi_parse_portal("portal", ":3260", &host, &port),
                 LQ_INVALID_ARGUMENT, "has no host");
    assert_error(lq_iscsi_parse_portal("portal", "a b", &host, &port),
                 LQ_INVALID_ARGUMENT, "invalid character");
    assert_error(lq_iscsi_parse_portal("portal", "", &host, &port),
                 LQ_INVALID_ARGUMENT, "portal: required");

    assert_null(lq_iscsi_check_iqn("t", "iqn.2026-11.io.limiquantix:san"));
    assert_null(lq_iscsi_check_iqn("t", "eui.02004567a425678d"));
    assert_null(lq_iscsi_check_iqn("t", "naa.52004567ba64678d"));
    assert_error(lq_iscsi_check_iqn("t", "iqn.26-11.io.x"),
                 LQ_INVALID_ARGUMENT, "is not an iSCSI name");
    assert_error(lq_iscsi_check_iqn("t", "IQN.2026-11.io.x"),
                 LQ_INVALID_ARGUMENT, "only lower case");
    assert_error(lq_iscsi_check_iqn("t", "iqn.2026-11.io.x y"),
                 LQ_INVALID_ARGUMENT, "only lower case");
    assert_error(lq_iscsi_check_iqn("t", "eui.123"), LQ_INVALID_ARGUMENT,
                 "is not an iSCSI name");

    assert_null(lq_iscsi_check_chap("chap_user", "node1", false));
    assert_null(lq_iscsi_check_chap("chap_secret", "0123456789ab", true));
    struct lq_error *e = lq_iscsi_check_chap("chap_secret", "short-pw",
                                             true);
    assert_non_null(e);
    assert_null(strstr(e->message, "short-pw"));
    assert_error(e, LQ_INVALID_ARGUMENT, "chap_secret: must be 12..255");
    e = lq_iscsi_check_chap("chap_secret", "has,comma-secret", true);
    assert_non_null(e);
    assert_null(strstr(e->message, "comma"));
    assert_error(e, LQ_INVALID_ARGUMENT, "without spaces or ','");
    assert_error(lq_iscsi_check_chap("chap_user", "a b", false),
                 LQ_INVALID_ARGUMENT, "chap_user");
}

static void
test_tgt_parse_show(void **state)
{
    (void) state;
    static const char text[] =
        "Target 1: iqn.2026-11.io.other:x\n"
        "    System information:\n"
        "        Driver: iscsi\n"
        "    LUN information:\n"
        "        LUN: 0\n"
        "            SCSI SN: beaf10\n"
        "        LUN: 1\n"
        "            SCSI SN: other-vol\n"
        "Target 4: iqn.2026-11.io.lq:san\n"
        "    System information:\n"
        "        Driver: iscsi\n"
        "        State: ready\n"
        "    I_T nexus information:\n"
        "        I_T nexus: 3\n"
        "            Initiator: iqn.1994-05.com.redhat:c alias: h\n"
        "            Connection: 0\n"
        "                IP Address: 10.0.0.2\n"
        "    LUN information:\n"
        "        LUN: 0\n"
        "            Type: controller\n"
        "            SCSI SN: beaf40\n"
        "            Size: 0 MB, Block size: 1\n"
        "            Backing store path: None\n"
        "        LUN: 2\n"
        "            Type: disk\n"
        "            SCSI SN: vm1-root\n"
        "            Size: 17 MB, Block size: 512\n"
        "            Backing store path: /proc/9/fd/7/lq-lun~vm1-root.raw\n"
        "    Account information:\n"
        "        lqnode\n"
        "        lqtarget (outgoing)\n"
        "    ACL information:\n"
        "        10.0.0.0/24\n"
        "        iqn.2026-11.io.lq:node.a\n"
        "Target 2: iqn.2026-11.io.other:y\n"
        "    LUN information:\n"
        "        LUN: 7\n";
    struct lq_tgt_target t;
    int max_tid;
    lq_tgt_parse_show(text, "iqn.2026-11.io.lq:san", &t, &max_tid);
    assert_int_equal(t.tid, 4);
    assert_int_equal(max_tid, 4);
    assert_int_equal(t.n_nexus, 1);
    assert_int_equal(t.n_luns, 2);
    assert_int_equal(t.luns[1].lun, 2);
    assert_string_equal(t.luns[1].serial, "vm1-root");
    assert_string_equal(t.luns[1].path, "/proc/9/fd/7/lq-lun~vm1-root.raw");
    assert_int_equal(t.luns[1].size_mb, 17);
    assert_int_equal(t.n_accounts, 2);
    assert_string_equal(t.accounts[1], "lqtarget (outgoing)");
    assert_int_equal(t.n_acls, 2);
    assert_string_equal(t.acls[0], "10.0.0.0/24");
    lq_tgt_target_clear(&t);

    lq_tgt_parse_show(text, "iqn.2026-11.io.lq:absent", &t, &max_tid);
    assert_int_equal(t.tid, 0);
    assert_int_equal(t.n_luns, 0);
    lq_tgt_parse_show("", "iqn.2026-11.io.lq:san", &t, &max_tid);
    assert_int_equal(t.tid, 0);
    assert_int_equal(max_tid, 0);
}

static void
test_iscsi_pool_config(void **state)
{
    (void) state;
    static const struct {
        const char *pool;
        const char *error;
    } cases[] = {
        { "{id: s, backend: iscsi, portal: 'h:0', target_iqn: "
          "iqn.2026-11.io.x:t}", "storage.pools[s].portal: \"h:0\": port" },
        { "{id: s, backend: iscsi, portal: h, target_iqn: bad}",
          "storage.pools[s].target_iqn: \"bad\" is not an iSCSI name" },
        { "{id: s, backend: iscsi, portal: h, target_iqn: iqn.2026-11.io.x:t"
          ", chap_user: u}", "storage.pools[s].chap_secret: set both" },
        { "{id: s, backend: iscsi, portal: h, target_iqn: iqn.2026-11.io.x:t"
          ", chap_user: u, chap_secret: tooshort}",
          "storage.pools[s].chap_secret: must be 12..255" },
        { "{id: s, backend: iscsi, portal: h, target_iqn: iqn.2026-11.io.x:t"
          ", mutual_chap_user: m, mutual_chap_secret: 0123456789abc}",
          "mutual CHAP needs chap_user" },
        { "{id: s, backend: iscsi, portal: h, target_iqn: iqn.2026-11.io.x:t"
          ", export: {backing_pool: d}}",
          "storage.pools[s].chap_user: required when the pool is exported" },
        { "{id: s, backend: iscsi, portal: h, target_iqn: iqn.2026-11.io.x:t"
          ", chap_user: u, chap_secret: 0123456789abc, export: "
          "{backing_pool: nope}}",
          "storage.pools[s].export.backing_pool: no pool \"nope\"" },
        { "{id: s, backend: iscsi, portal: h, target_iqn: iqn.2026-11.io.x:t"
          ", chap_user: u, chap_secret: 0123456789abc, export: "
          "{backing_pool: s}}", "pool s is a iscsi pool" },
        { "{id: s, backend: iscsi, portal: h, target_iqn: iqn.2026-11.io.x:t"
          ", chap_user: u, chap_secret: 0123456789abc, export: "
          "{backing_pool: d, acl: '-x'}}", "export.acl: \"-x\"" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *yaml = xasprintf("storage:\n  pools:\n"
                               "    - {id: d, backend: local, path: /x}\n"
                               "    - %s\n", cases[i].pool);
        struct lq_config *c = parse(yaml);
        struct lq_storage *s;
        struct lq_error *e = lq_storage_create(c, &s);
        assert_non_null(e);
        assert_null(strstr(e->message, "0123456789abc"));
        assert_null(strstr(e->message, "tooshort"));
        assert_error(e, LQ_INVALID_ARGUMENT, cases[i].error);
        lq_config_free(c);
        free(yaml);
    }
}

static void
test_nfs_names(void **state)
{
    (void) state;
    assert_null(lq_nfs_check_server("server", "nas.example"));
    assert_null(lq_nfs_check_server("server", "10.0.0.5"));
    assert_error(lq_nfs_check_server("server", ""), LQ_INVALID_ARGUMENT,
                 "server: required");
    assert_error(lq_nfs_check_server("server", "a/b"), LQ_INVALID_ARGUMENT,
                 "not a host name");
    assert_error(lq_nfs_check_server("server", "h?x=1"),
                 LQ_INVALID_ARGUMENT, "not a host name");
    assert_null(lq_nfs_check_export("export", "/srv/vms"));
    assert_error(lq_nfs_check_export("export", "srv"), LQ_INVALID_ARGUMENT,
                 "not an absolute path");
    assert_error(lq_nfs_check_export("export", "/srv/../etc"),
                 LQ_INVALID_ARGUMENT, "\"..\" components");
    assert_error(lq_nfs_check_export("export", "/srv?version=3"),
                 LQ_INVALID_ARGUMENT, "must not contain '?'");
    assert_error(lq_nfs_check_export("export", "/a b"), LQ_INVALID_ARGUMENT,
                 "spaces");

    char *u = lq_nfs_url("10.0.0.5", "/srv/vms", 4, 2049);
    assert_string_equal(u, "nfs://10.0.0.5/srv/vms?version=4&nfsport=2049");
    free(u);
    u = lq_nfs_url("nas", "/x", 3, 0);
    assert_string_equal(u, "nfs://nas/x?version=3");
    free(u);

    char *id = lq_nfs_volume_id("lq-vm1.raw");
    assert_string_equal(id, "vm1");
    free(id);
    assert_null(lq_nfs_volume_id("lq-tmp~vm1.raw"));
    assert_null(lq_nfs_volume_id("lq-snap~vm1~s1.raw"));
    assert_null(lq_nfs_volume_id("lq-vm1.meta"));
    assert_null(lq_nfs_volume_id("lq-.raw"));
    assert_null(lq_nfs_volume_id("vm1.raw"));

    struct lq_config *c = parse(
        "storage:\n  pools:\n"
        "    - {id: n, backend: nfs, server: nas, export: /x, "
        "nfs_version: 2}\n");
    struct lq_storage *s;
    assert_error(lq_storage_create(c, &s), LQ_INVALID_ARGUMENT,
                 "storage.pools[n].nfs_version: expected 3 or 4");
    lq_config_free(c);
    c = parse("storage:\n  pools:\n"
              "    - {id: n, backend: nfs, server: nas, export: /x, "
              "port: 0}\n");
    assert_error(lq_storage_create(c, &s), LQ_INVALID_ARGUMENT,
                 "storage.pools[n].port: expected 1..65535");
    lq_config_free(c);
}

static void
test_lvm_names_and_tags(void **state)
{
    (void) state;
    assert_null(lq_lvm_check_name("vg", "vg0"));
    assert_null(lq_lvm_check_name("vg", "data_vg.1+x"));
    assert_error(lq_lvm_check_name("vg", "-vg"), LQ_INVALID_ARGUMENT,
                 "vg: \"-vg\" is not an LVM name");
    assert_error(lq_lvm_check_name("vg", "a/b"), LQ_INVALID_ARGUMENT,
                 "not an LVM name");
    assert_error(lq_lvm_check_name("vg", ".."), LQ_INVALID_ARGUMENT,
                 "not an LVM name");
    assert_error(lq_lvm_check_name("vg", NULL), LQ_INVALID_ARGUMENT,
                 "not an LVM name");

    /* Round trip of values no tag could hold, across several tags. */
    struct sset tags = SSET_INITIALIZER(&tags);
    const char *spec = "v1\nname=disk, \"one\" / two\nsize=4194304\n"
                       "image=/var/lib/images/a very long path name that "
                       "needs more than one tag because it is long.qcow2\n";
    lq_lvm_tags_put("s", spec, &tags);
    lq_lvm_tags_put("n", "", &tags);
    assert_true(sset_count(&tags) > 2);
    struct ds list = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&list, "lq.vol=v1");
    const char *t;
    SSET_FOR_EACH (t, &tags) {
        assert_true(strlen(t) <= 110);
        for (const char *c = t; *c; c++) {
            assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz0123456789.=",
                                   *c));
        }
        ds_put_format(&list, ",%s", t);
    }
    ds_put_cstr(&list, ",lq.ctime=17");
    char *back = lq_lvm_tags_get(ds_cstr(&list), "s");
    assert_string_equal(back, spec);
    free(back);
    back = lq_lvm_tags_get(ds_cstr(&list), "n");
    assert_string_equal(back, "");
    free(back);
    assert_null(lq_lvm_tags_get(ds_cstr(&list), "x"));
    assert_null(lq_lvm_tags_get("lq.s00=zz", "s"));
    char *v = lq_lvm_tag_value(ds_cstr(&list), "lq.vol");
    assert_string_equal(v, "v1");
    free(v);
    v = lq_lvm_tag_value(ds_cstr(&list), "lq.ctime");
    assert_string_equal(v, "17");
    free(v);
    assert_null(lq_lvm_tag_value(ds_cstr(&list), "lq.vo"));
    assert_null(lq_lvm_tag_value("", "lq.vol"));
    ds_destroy(&list);
    sset_destroy(&tags);

    struct lq_config *c = parse(
        "storage:\n  pools:\n"
        "    - {id: t, backend: lvm-thin, vg: vg0, thin_pool: tp, "
        "max_data_percent: 120}\n");
    struct lq_storage *s;
    assert_error(lq_storage_create(c, &s), LQ_INVALID_ARGUMENT,
                 "storage.pools[t].max_data_percent: expected a percentage");
    lq_config_free(c);
    c = parse("storage:\n  pools:\n"
              "    - {id: t, backend: lvm-thin, vg: 'vg/../x', "
              "thin_pool: tp}\n");
    assert_error(lq_storage_create(c, &s), LQ_INVALID_ARGUMENT,
                 "storage.pools[t].vg: \"vg/../x\" is not an LVM name");
    lq_config_free(c);
}

/* The C API in-process on a local pool (qemu-img, a temporary directory):
 * what the compute side gets from lq_volume_disk_source(). */
static void
test_local_capi_disk_source(void **state)
{
    (void) state;
    char dir[] = "/tmp/lq-storage-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *yaml = xasprintf("storage:\n  pools:\n"
                           "    - {id: disk, backend: local, path: %s}\n",
                           dir);
    struct lq_config *c = parse(yaml);
    struct lq_storage *s;
    assert_null(lq_storage_create(c, &s));

    struct lq_volume_spec spec = { .id = "cv1", .pool_id = "disk",
                                   .size_bytes = 4 << 20 };
    struct lq_volume_info *v;
    assert_null(lq_volume_create(s, &spec, &v));
    assert_int_equal(v->size_bytes, 4 << 20);
    lq_volume_info_free(v);
    assert_null(lq_snapshot_create(s, "cv1", "cs1", NULL, NULL));
    struct lq_volume_spec clone = { .id = "cv2", .pool_id = "disk",
                                    .source_snapshot_id = "cs1" };
    assert_null(lq_volume_create(s, &clone, &v));
    assert_string_equal(v->parent_volume_id, "cv1");
    assert_int_equal(v->clone_depth, 1);
    lq_volume_info_free(v);

    struct lq_disk_source *ds;
    assert_null(lq_volume_disk_source(s, "cv2", &ds));
    char *path = xasprintf("%s/lq-cv2.qcow2", dir);
    assert_string_equal(ds->type, "file");
    assert_string_equal(ds->path, path);
    assert_string_equal(ds->format, "qcow2");
    assert_null(ds->protocol);
    assert_null(ds->secret_type);
    lq_disk_source_free(ds);
    free(path);
    assert_error(lq_volume_disk_source(s, "nope", &ds), LQ_NOT_FOUND,
                 "nope");

    assert_error(lq_volume_delete(s, "cv1", false), LQ_FAILED_PRECONDITION,
                 "has clones (cv2)");
    assert_null(lq_volume_delete(s, "cv2", false));
    assert_null(lq_volume_delete(s, "cv1", false));
    lq_storage_destroy(s);
    lq_config_free(c);
    free(yaml);
    assert_int_equal(rmdir(dir), 0);        /* Nothing left behind. */
}

static void
test_download_url_checks(void **state)
{
    (void) state;
    static const char *good[] = {
        "http://127.0.0.1:8080/a.qcow2", "https://images.example/x?sig=1",
        "HTTPS://h", "http://[::1]/img",
    };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        assert_null(lq_download_check_url("source.url", good[i]));
    }
    static const struct { const char *url, *why; } bad[] = {
        { NULL, "source.url: expected an http:// or https:// URL" },
        { "file:///etc/passwd", "source.url: expected an http" },
        { "gopher://h/", "source.url: expected an http" },
        { "http://", "source.url: no host" },
        { "http://u:p@h/x", "source.url: credentials" },
        { "http://h/a\tb", "source.url: spaces" },
        { "http://h/\x7f", "source.url: spaces" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct lq_error *e = lq_download_check_url("source.url", bad[i].url);
        assert_non_null(e);
        assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
        assert_non_null(strstr(e->message, bad[i].why));
        lq_error_free(e);
    }
    /* An '@' after the authority is no credential. */
    assert_null(lq_download_check_url("f", "http://h/a@b"));
    char *shown = lq_download_url_for_log("https://h/p/img.raw?X-Sig=abc#f");
    assert_string_equal(shown, "https://h/p/img.raw");
    free(shown);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_id),
        cmocka_unit_test(test_download_url_checks),
        cmocka_unit_test(test_check_name_and_size),
        cmocka_unit_test(test_parse_qemu_img_info),
        cmocka_unit_test(test_image_probe_files),
        cmocka_unit_test(test_qemu_img_progress),
        cmocka_unit_test(test_buffer_is_zero),
        cmocka_unit_test(test_mon_host),
        cmocka_unit_test(test_rbd_names),
        cmocka_unit_test(test_storage_create_and_validation),
        cmocka_unit_test(test_storage_create_bad_params),
        cmocka_unit_test(test_volume_json),
        cmocka_unit_test(test_local_pool_path),
        cmocka_unit_test(test_local_names),
        cmocka_unit_test(test_local_pool_config),
        cmocka_unit_test(test_iscsi_portal_iqn_chap),
        cmocka_unit_test(test_tgt_parse_show),
        cmocka_unit_test(test_iscsi_pool_config),
        cmocka_unit_test(test_nfs_names),
        cmocka_unit_test(test_lvm_names_and_tags),
        cmocka_unit_test(test_local_capi_disk_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
