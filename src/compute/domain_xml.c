#include <config.h>
/* domain_xml.c: VM specs as typed values, their validation, the libvirt
 * domain XML built from them, and our <metadata> element parsed back.
 *
 * Design decisions:
 * - The XML is written with libxml2's xmlTextWriter only: every name,
 *   path, command line and label goes through the writer's escaping, so no
 *   input can add an element or an attribute.  Names are still checked
 *   (no control characters, no '/', at most 64 bytes) because libvirt and
 *   the control plane show them; `a'"<b>&` is accepted and round-trips.
 * - Validation comes first and names the JSON field ("spec.memoryMib"), so
 *   a bad spec never reaches libvirt and leaves no domain behind.
 * - "Same spec" for CreateVM's idempotency is a SHA-1 fingerprint of a
 *   length-prefixed serialization of every field, stored in <metadata>:
 *   comparing libvirt's reformatted XML with ours would be fragile.
 * - Plain-path disks are raw (format probing is unsafe); a block device
 *   becomes <disk type='block'>, anything else type='file'. */
#include "limiquantix/compute.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#include "openvswitch/dynamic-string.h"
#include "sha1.h"
#include "hostdev.h"
#include "util.h"

#define MAX_NAME_LEN 64
#define MAX_PATH_LEN 4096
#define MAX_CMDLINE_LEN 4096
#define MAX_VCPUS LQ_MAX_VCPUS
#define MIN_MEMORY_MIB 16
#define MAX_MEMORY_MIB LQ_MAX_MEMORY_MIB
#define MAX_DISKS 26
#define MAX_NICS 16
#define MAX_LABELS 64
#define MAX_LABEL_KEY_LEN 128
#define MAX_LABEL_VALUE_LEN 1024

void
lq_vm_spec_init(struct lq_vm_spec *s)
{
    memset(s, 0, sizeof *s);
    s->cpu_sockets = s->cpu_cores = s->cpu_threads = 1;
}

static void
labels_free(struct lq_label *labels, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(labels[i].key);
        free(labels[i].value);
    }
    free(labels);
}

void
lq_vm_spec_clear(struct lq_vm_spec *s)
{
    if (!s) {
        return;
    }
    free(s->name);
    free(s->kernel_path);
    free(s->initrd_path);
    free(s->kernel_cmdline);
    free(s->serial_log_path);
    lq_cloud_init_free(s->cloud_init);
    free(s->cidata_path);
    for (size_t i = 0; i < s->n_disks; i++) {
        lq_disk_spec_clear(&s->disks[i]);
    }
    free(s->disks);
    for (size_t i = 0; i < s->n_nics; i++) {
        lq_nic_spec_clear(&s->nics[i]);
    }
    free(s->nics);
    for (size_t i = 0; i < s->n_cdroms; i++) {
        free(s->cdroms[i].id);
        free(s->cdroms[i].path);
    }
    free(s->cdroms);
    labels_free(s->labels, s->n_labels);
    lq_vm_spec_init(s);
}

void
lq_disk_spec_clear(struct lq_disk_spec *d)
{
    free(d->id);
    free(d->path);
    free(d->volume_id);
    free(d->image_volume_id);
    free(d->image_snapshot_id);
    lq_disk_source_free(d->source);
    memset(d, 0, sizeof *d);
}

void
lq_nic_spec_clear(struct lq_nic_spec *n)
{
    free(n->id);
    free(n->bridge);
    free(n->host_bridge);
    free(n->vhost_socket);
    memset(n, 0, sizeof *n);
}

const char *
lq_disk_target_prefix(enum lq_disk_bus bus)
{
    return bus == LQ_DISK_BUS_VIRTIO ? "vd"
           : bus == LQ_DISK_BUS_IDE ? "hd" : "sd";
}

void
lq_nic_tap_name(const char *port_id, char name[16])
{
    lq_vs_vm_tap_name(port_id, name);   /* One naming rule (hostdev.h). */
}

/* Our namespace for lq_vm_device_id() (a random UUID, fixed forever). */
static const uint8_t device_ns[16] = {
    0xbf, 0xe6, 0x6d, 0x90, 0xd9, 0x96, 0x4d, 0x58,
    0x83, 0xe8, 0x39, 0xae, 0xba, 0x98, 0x53, 0xb8,
};

void
lq_vm_device_id(const char *vm_id, const char *kind, const char *dev_id,
                char out[37])
{
    /* RFC 9562 UUIDv5: SHA-1 of the namespace and the name. */
    struct sha1_ctx ctx;
    uint8_t d[SHA1_DIGEST_SIZE];
    char *name = xasprintf("%s/%s/%s", vm_id, kind, dev_id);
    sha1_init(&ctx);
    sha1_update(&ctx, device_ns, sizeof device_ns);
    sha1_update(&ctx, name, strlen(name));
    sha1_final(&ctx, d);
    free(name);
    d[6] = (d[6] & 0x0f) | 0x50;
    d[8] = (d[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", d[0], d[1], d[2], d[3], d[4], d[5],
             d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14],
             d[15]);
}

void
lq_nic_bridge_tap_name(const char *vm_id, const char *nic_id, char name[16])
{
    char uuid[37];
    lq_vm_device_id(vm_id, "nic", nic_id, uuid);
    /* "lqb" + 12 hex digits, none of them a dash. */
    snprintf(name, 16, "lqb%.8s%.4s", uuid, uuid + 9);
}

static bool
labels_insert(struct lq_label **labelsp, size_t *np, const char *key,
              const char *value)
{
    size_t i = 0;
    while (i < *np && strcmp((*labelsp)[i].key, key) < 0) {
        i++;
    }
    if (i < *np && !strcmp((*labelsp)[i].key, key)) {
        return false;
    }
    *labelsp = xrealloc(*labelsp, (*np + 1) * sizeof **labelsp);
    memmove(&(*labelsp)[i + 1], &(*labelsp)[i], (*np - i) * sizeof **labelsp);
    (*labelsp)[i].key = xstrdup(key);
    (*labelsp)[i].value = xstrdup(value);
    (*np)++;
    return true;
}

bool
lq_vm_spec_add_label(struct lq_vm_spec *s, const char *key, const char *value)
{
    return labels_insert(&s->labels, &s->n_labels, key, value);
}

/* ---- Validation --------------------------------------------------------- */

static bool
has_control_chars(const char *s)
{
    for (; *s; s++) {
        unsigned char c = *s;
        if (c < 0x20 || c == 0x7f) {
            return true;
        }
    }
    return false;
}

static bool
is_uuid(const char *s)
{
    if (strlen(s) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
        } else if (!isxdigit((unsigned char) s[i])) {
            return false;
        }
    }
    return true;
}

static struct lq_error *
check_path(const char *field, const char *path, bool check_exists)
{
    if (path[0] != '/') {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: must be an absolute "
                            "path", field);
    }
    if (strlen(path) > MAX_PATH_LEN || has_control_chars(path)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: too long or contains "
                            "control characters", field);
    }
    struct stat st;
    if (check_exists && stat(path, &st)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\": %s", field,
                            path, strerror(errno));
    }
    return NULL;
}

static bool
is_disk_id(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 64 || !isalnum((unsigned char) s[0])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

struct lq_error *
lq_disk_spec_validate(const struct lq_disk_spec *d, const char *field,
                      bool check_paths)
{
    if (!d->id || !is_disk_id(d->id)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.id: expected 1-64 of "
                            "[A-Za-z0-9_.-], starting with a letter or digit",
                            field);
    }
    if (d->io == LQ_DISK_IO_NATIVE && d->cache != LQ_DISK_CACHE_NONE
        && d->cache != LQ_DISK_CACHE_DIRECTSYNC) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.io: native needs cache "
                            "none or directsync", field);
    }
    if (!d->path && !d->volume_id) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: give path (a volume "
                            "id or an image file), volumeId, sizeGib or "
                            "imageVolumeId with imageSnapshotId", field);
    }
    if (d->path && d->volume_id) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: give either path or "
                            "volumeId", field);
    }
    if (d->owned && !d->image_volume_id
        && (!d->size_gib || d->size_gib > LQ_MAX_DISK_GIB)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.sizeGib: expected "
                            "1..%u", field, LQ_MAX_DISK_GIB);
    }
    if (d->volume_id) {
        return is_uuid(d->volume_id) || is_disk_id(d->volume_id) ? NULL
               : lq_error_new(LQ_INVALID_ARGUMENT, "%s.%s: not a volume id "
                              "(nor an absolute path)", field,
                              d->volume_in_path ? "path" : "volumeId");
    }
    char *f = xasprintf("%s.path", field);
    struct lq_error *e = check_path(f, d->path, check_paths);
    free(f);
    return e;
}

struct lq_error *
lq_nic_spec_validate(const struct lq_nic_spec *n, const char *field)
{
    if (!n->id || !is_disk_id(n->id)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.id: expected 1-64 of "
                            "[A-Za-z0-9_.-], starting with a letter or digit",
                            field);
    }
    bool port = n->port_id[0] && !n->owned, net = n->network_id[0];
    if (port && net) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.network: give either "
                            "portId (a port of yours) or network (the node "
                            "makes the port), not both", field);
    }
    if (n->host_bridge && (port || net)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.bridge: a bridge NIC "
                            "has no port: give one of portId, network and "
                            "bridge", field);
    }
    if (!port && !net && !n->host_bridge) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: give portId, network "
                            "or bridge", field);
    }
    if (port && !is_uuid(n->port_id)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.portId: expected a "
                            "port id (UUID)", field);
    }
    if (net && !is_uuid(n->network_id)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.network: expected a "
                            "network id (UUID)", field);
    }
    if (n->host_bridge) {
        size_t len = strlen(n->host_bridge);
        if (!len || len > 15 || n->host_bridge[0] == '.'
            || n->host_bridge[0] == '-'
            || strspn(n->host_bridge, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
                      "KLMNOPQRSTUVWXYZ0123456789_.-") != len) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s.bridge: not a "
                                "bridge name", field);
        }
    }
    return NULL;
}

static struct lq_error *
validate_disks(const struct lq_vm_spec *s, bool check_paths)
{
    if (s->n_disks > MAX_DISKS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.disks: at most %d "
                            "disks", MAX_DISKS);
    }
    size_t n_ide = 0;
    for (size_t i = 0; i < s->n_disks; i++) {
        const struct lq_disk_spec *d = &s->disks[i];
        if (d->bus == LQ_DISK_BUS_IDE && ++n_ide > LQ_MAX_IDE_DISKS) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "spec.disks[%zu].bus: "
                                "at most %d IDE disks (the other two IDE "
                                "units are the CD-ROMs)", i,
                                LQ_MAX_IDE_DISKS);
        }
        char *field = xasprintf("spec.disks[%zu]", i);
        struct lq_error *e = lq_disk_spec_validate(d, field, check_paths);
        free(field);
        if (e) {
            return e;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(s->disks[j].id, d->id)) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "spec.disks[%zu].id:"
                                    " \"%s\" is used twice", i, d->id);
            }
            if (d->volume_id && s->disks[j].volume_id
                && !strcmp(s->disks[j].volume_id, d->volume_id)) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "spec.disks[%zu]."
                                    "volumeId: volume %s is used twice", i,
                                    d->volume_id);
            }
        }
    }
    return NULL;
}

static struct lq_error *
validate_cdroms(const struct lq_vm_spec *s, bool check_paths)
{
    if (s->n_cdroms > LQ_MAX_CDROMS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cdroms: at most %d",
                            LQ_MAX_CDROMS);
    }
    for (size_t i = 0; i < s->n_cdroms; i++) {
        const struct lq_cdrom_spec *cd = &s->cdroms[i];
        if (!cd->id || !is_disk_id(cd->id)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cdroms[%zu].id: "
                                "expected 1-64 of [A-Za-z0-9_.-], starting "
                                "with a letter or digit", i);
        }
        for (size_t j = 0; j < s->n_disks; j++) {
            if (!strcmp(s->disks[j].id, cd->id)) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cdroms[%zu].id:"
                                    " \"%s\" is also a disk", i, cd->id);
            }
        }
        if (cd->path) {
            char *field = xasprintf("spec.cdroms[%zu].isoPath", i);
            struct lq_error *e = check_path(field, cd->path, check_paths);
            free(field);
            if (e) {
                return e;
            }
        }
    }
    return NULL;
}

static struct lq_error *
validate_nics(const struct lq_vm_spec *s)
{
    if (s->n_nics > MAX_NICS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.nics: at most %d NICs",
                            MAX_NICS);
    }
    for (size_t i = 0; i < s->n_nics; i++) {
        const struct lq_nic_spec *n = &s->nics[i];
        char *field = xasprintf("spec.nics[%zu]", i);
        struct lq_error *e = lq_nic_spec_validate(n, field);
        free(field);
        if (e) {
            return e;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(s->nics[j].id, n->id)
                || (n->port_id[0]
                    && !strcmp(s->nics[j].port_id, n->port_id))) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "spec.nics[%zu]: "
                                    "%s \"%s\" is used twice", i,
                                    strcmp(s->nics[j].id, n->id) ? "portId"
                                    : "id",
                                    strcmp(s->nics[j].id, n->id) ? n->port_id
                                    : n->id);
            }
        }
    }
    return NULL;
}

/* Memory hot-add grows in whole Linux memory blocks (128 MiB on x86-64):
 * a DIMM that is not is only partly usable by the guest. */
static struct lq_error *
validate_max_memory(const struct lq_vm_spec *s)
{
    if (!s->max_memory_mib || s->max_memory_mib == s->memory_mib) {
        return NULL;
    }
    if (s->max_memory_mib < s->memory_mib) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.maxMemoryMib: %"PRIu64
                            " is less than memoryMib %"PRIu64,
                            s->max_memory_mib, s->memory_mib);
    }
    if (s->max_memory_mib > MAX_MEMORY_MIB) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.maxMemoryMib: at most "
                            "%u", MAX_MEMORY_MIB);
    }
    if ((s->max_memory_mib - s->memory_mib) % LQ_MEMORY_BLOCK_MIB) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.maxMemoryMib: %"PRIu64
                            " is not memoryMib plus a multiple of %d MiB "
                            "(the guest's memory blocks)", s->max_memory_mib,
                            LQ_MEMORY_BLOCK_MIB);
    }
    return NULL;
}

static struct lq_error *
validate_labels(const struct lq_label *labels, size_t n)
{
    if (n > MAX_LABELS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "labels: at most %d",
                            MAX_LABELS);
    }
    for (size_t i = 0; i < n; i++) {
        const char *k = labels[i].key, *v = labels[i].value;
        if (!*k || strlen(k) > MAX_LABEL_KEY_LEN || has_control_chars(k)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "labels: key \"%s\": "
                                "expected 1-%d bytes, no control characters",
                                k, MAX_LABEL_KEY_LEN);
        }
        if (strlen(v) > MAX_LABEL_VALUE_LEN || has_control_chars(v)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "labels.%s: at most %d "
                                "bytes, no control characters", k,
                                MAX_LABEL_VALUE_LEN);
        }
    }
    return NULL;
}

struct lq_error *
lq_vm_name_check(const char *name)
{
    if (!name || !*name) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "name: required");
    }
    if (strlen(name) > MAX_NAME_LEN || has_control_chars(name)
        || strchr(name, '/')) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "name: expected at most %d "
                            "bytes without '/' or control characters",
                            MAX_NAME_LEN);
    }
    return NULL;
}

struct lq_error *
lq_vm_spec_validate(const struct lq_vm_spec *s, bool check_paths)
{
    struct lq_error *e;

    if (!is_uuid(s->id)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "id: expected a UUID");
    }
    e = lq_vm_name_check(s->name);
    if (e) {
        return e;
    }
    if (!s->cpu_sockets || !s->cpu_cores || !s->cpu_threads) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.%s: must be at least 1",
                            !s->cpu_sockets ? "cpuSockets"
                            : !s->cpu_cores ? "cpuCores" : "cpuThreads");
    }
    uint64_t vcpus = (uint64_t) s->cpu_sockets * s->cpu_cores
                     * s->cpu_threads;
    if (vcpus > MAX_VCPUS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cpuCores: %"PRIu64
                            " vCPUs (sockets x cores x threads) is more than "
                            "%d", vcpus, MAX_VCPUS);
    }
    if (s->max_cpu_cores && s->max_cpu_cores < s->cpu_cores) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.maxCpuCores: %"PRIu32
                            " is less than cpuCores %"PRIu32,
                            s->max_cpu_cores, s->cpu_cores);
    }
    if ((uint64_t) s->cpu_sockets * s->max_cpu_cores * s->cpu_threads
        > MAX_VCPUS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.maxCpuCores: more "
                            "than %d vCPUs (sockets x cores x threads)",
                            MAX_VCPUS);
    }
    if (s->memory_mib < MIN_MEMORY_MIB || s->memory_mib > MAX_MEMORY_MIB) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.memoryMib: expected "
                            "%d..%u, got %"PRIu64, MIN_MEMORY_MIB,
                            MAX_MEMORY_MIB, s->memory_mib);
    }
    if ((e = validate_max_memory(s))) {
        return e;
    }
    if (s->kernel_path
        && (e = check_path("spec.kernelPath", s->kernel_path, check_paths))) {
        return e;
    }
    if (!s->kernel_path && (s->initrd_path || s->kernel_cmdline)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.%s: needs "
                            "spec.kernelPath", s->initrd_path ? "initrdPath"
                            : "kernelCmdline");
    }
    if (s->initrd_path
        && (e = check_path("spec.initrdPath", s->initrd_path, check_paths))) {
        return e;
    }
    if (s->kernel_cmdline && (strlen(s->kernel_cmdline) > MAX_CMDLINE_LEN
                              || has_control_chars(s->kernel_cmdline))) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.kernelCmdline: at most "
                            "%d bytes, no control characters",
                            MAX_CMDLINE_LEN);
    }
    if (s->serial_log_path
        && (e = check_path("spec.serialLogPath", s->serial_log_path,
                           false))) {
        return e;
    }
    if ((e = validate_disks(s, check_paths))
        || (e = validate_nics(s))
        || (e = validate_cdroms(s, check_paths))
        || (e = lq_cloud_init_validate(s))) {
        return e;
    }
    if (s->kernel_path && s->n_boot) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.bootOrder: not with "
                            "spec.kernelPath (direct kernel boot)");
    }
    for (size_t i = 0; i < s->n_boot; i++) {
        for (size_t j = 0; j < i; j++) {
            if (s->boot[i] == s->boot[j]) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "spec.bootOrder[%zu]:"
                                    " listed twice", i);
            }
        }
    }
    return validate_labels(s->labels, s->n_labels);
}

/* ---- Fingerprint -------------------------------------------------------- */

static void
fp_str(struct ds *ds, const char *tag, const char *s)
{
    if (s) {
        ds_put_format(ds, "%s:%zu:%s;", tag, strlen(s), s);
    } else {
        ds_put_format(ds, "%s:-;", tag);
    }
}

void
lq_vm_spec_fingerprint(const struct lq_vm_spec *s, char hex[41])
{
    struct ds ds = DS_EMPTY_INITIALIZER;

    ds_put_cstr(&ds, "lq-vm-1;");
    fp_str(&ds, "id", s->id);
    fp_str(&ds, "name", s->name);
    ds_put_format(&ds, "cpu:%"PRIu32",%"PRIu32",%"PRIu32";mem:%"PRIu64";",
                  s->cpu_sockets, s->cpu_cores, s->cpu_threads,
                  s->memory_mib);
    fp_str(&ds, "kernel", s->kernel_path);
    fp_str(&ds, "initrd", s->initrd_path);
    fp_str(&ds, "cmdline", s->kernel_cmdline);
    fp_str(&ds, "serial", s->serial_log_path);
    if (s->spice) {
        ds_put_cstr(&ds, "spice;");     /* Only when set, as maxcores. */
    }
    if (s->max_cpu_cores > s->cpu_cores) {
        /* Only when set: older VMs keep their fingerprints. */
        ds_put_format(&ds, "maxcores:%"PRIu32";", s->max_cpu_cores);
    }
    if (s->max_memory_mib > s->memory_mib) {
        ds_put_format(&ds, "maxmem:%"PRIu64";", s->max_memory_mib);
    }
    for (size_t i = 0; i < s->n_disks; i++) {
        const struct lq_disk_spec *d = &s->disks[i];
        fp_str(&ds, "disk", d->id);
        fp_str(&ds, "path", d->path);
        fp_str(&ds, "volume", d->volume_id);
        if (d->owned) {
            /* Only when set: older VMs keep their fingerprints. */
            ds_put_format(&ds, "size:%"PRIu64";", d->size_gib);
        }
        if (d->image_volume_id) {
            fp_str(&ds, "image", d->image_volume_id);
            fp_str(&ds, "imagesnap", d->image_snapshot_id);
        }
        ds_put_format(&ds, "bus:%d;cache:%d;ro:%d;io:%d;discard:%d;"
                      "iops:%"PRIu64";bps:%"PRIu64";", d->bus, d->cache,
                      d->readonly, d->io, d->discard, d->iops_limit,
                      d->throughput_bytes);
    }
    for (size_t i = 0; i < s->n_nics; i++) {
        const struct lq_nic_spec *n = &s->nics[i];
        fp_str(&ds, "nic", n->id);
        fp_str(&ds, "port", n->port_id);
        ds_put_format(&ds, "model:%d;", n->model);
        if (n->network_id[0]) {
            fp_str(&ds, "network", n->network_id);
        }
        if (n->host_bridge) {
            fp_str(&ds, "bridge", n->host_bridge);
        }
        if (n->req_mac[0]) {
            fp_str(&ds, "mac", n->req_mac);
        }
    }
    for (size_t i = 0; i < s->n_cdroms; i++) {
        fp_str(&ds, "cdrom", s->cdroms[i].id);
        fp_str(&ds, "iso", s->cdroms[i].path);
    }
    lq_cloud_init_fingerprint(s->cloud_init, &ds);
    ds_put_format(&ds, "fw:%d;boot:", s->firmware);
    for (size_t i = 0; i < s->n_boot; i++) {
        ds_put_format(&ds, "%d,", s->boot[i]);
    }
    for (size_t i = 0; i < s->n_labels; i++) {
        fp_str(&ds, "key", s->labels[i].key);
        fp_str(&ds, "value", s->labels[i].value);
    }

    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_bytes(ds.string, ds.length, digest);
    sha1_to_hex(digest, hex);
    ds_destroy(&ds);
}

/* ---- XML ---------------------------------------------------------------- */

/* The writer's calls return < 0 only on allocation failure or misuse; one
 * flag collects them so the builder reads as the XML it writes. */
struct writer {
    xmlTextWriterPtr w;
    bool failed;
};

#define X(s) ((const xmlChar *) (s))

static void
w_start(struct writer *w, const char *name)
{
    w->failed |= xmlTextWriterStartElement(w->w, X(name)) < 0;
}

static void
w_end(struct writer *w)
{
    w->failed |= xmlTextWriterEndElement(w->w) < 0;
}

static void
w_attr(struct writer *w, const char *name, const char *value)
{
    w->failed |= xmlTextWriterWriteAttribute(w->w, X(name), X(value)) < 0;
}

static void
w_text(struct writer *w, const char *text)
{
    w->failed |= xmlTextWriterWriteString(w->w, X(text)) < 0;
}

static void
w_text_element(struct writer *w, const char *name, const char *text)
{
    w->failed |= xmlTextWriterWriteElement(w->w, X(name), X(text)) < 0;
}

static void
w_empty(struct writer *w, const char *name, const char *attr,
        const char *value)
{
    w_start(w, name);
    if (attr) {
        w_attr(w, attr, value);
    }
    w_end(w);
}

static void
attachments_free(struct lq_vm_attachment *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].id);
        free(a[i].ref);
    }
    free(a);
}

/* An element of libvirt's QEMU namespace (declared on <domain>). */
#define QEMU_XMLNS "http://libvirt.org/schemas/domain/qemu/1.0"
static void
w_qemu_start(struct writer *w, const char *name)
{
    w->failed |= xmlTextWriterStartElementNS(w->w, X("qemu"), X(name),
                                             NULL) < 0;
}

/* Our <lq:vm> element.  Without 'ns' the elements carry no namespace:
 * virDomainSetMetadata() puts its own on the root and refuses one that is
 * already there. */
static void
w_lq_start(struct writer *w, bool ns, const char *name)
{
    if (ns) {
        w->failed |= xmlTextWriterStartElementNS(
            w->w, X("lq"), X(name), !strcmp(name, "vm")
            ? X(LQ_COMPUTE_XMLNS) : NULL) < 0;
    } else {
        w_start(w, name);
    }
}

static void
write_vm_element(struct writer *w, const struct lq_vm_metadata *m, bool ns)
{
    w_lq_start(w, ns, "vm");
    w_lq_start(w, ns, "fingerprint");
    w->failed |= xmlTextWriterWriteString(w->w, X(m->fingerprint)) < 0;
    w_end(w);
    for (size_t i = 0; i < m->n_labels; i++) {
        w_lq_start(w, ns, "label");
        w_attr(w, "key", m->labels[i].key);
        w->failed |= xmlTextWriterWriteString(w->w,
                                              X(m->labels[i].value)) < 0;
        w_end(w);
    }
    for (size_t i = 0; i < m->n_disks; i++) {
        w_lq_start(w, ns, "disk");
        w_attr(w, "id", m->disks[i].id);
        w_attr(w, "volume", m->disks[i].ref);
        w_attr(w, "readonly", m->disks[i].readonly ? "yes" : "no");
        if (m->disks[i].owned) {
            w_attr(w, "owned", "yes");
        }
        w_end(w);
    }
    for (size_t i = 0; i < m->n_nics; i++) {
        w_lq_start(w, ns, "nic");
        w_attr(w, "id", m->nics[i].id);
        w_attr(w, "port", m->nics[i].ref);
        if (m->nics[i].owned) {
            w_attr(w, "owned", "yes");
        }
        w_end(w);
    }
    for (size_t i = 0; i < m->n_snapshots; i++) {
        const struct lq_vm_snapshot *sn = &m->snapshots[i];
        char created[32];
        snprintf(created, sizeof created, "%"PRId64, sn->created);
        w_lq_start(w, ns, "snapshot");
        w_attr(w, "id", sn->id);
        w_attr(w, "name", sn->name ? sn->name : "");
        w_attr(w, "description", sn->description ? sn->description : "");
        w_attr(w, "created", created);
        if (sn->parent_id[0]) {
            w_attr(w, "parent", sn->parent_id);
        }
        char state[16];
        snprintf(state, sizeof state, "%d", sn->vm_state);
        w_attr(w, "state", state);
        if (sn->quiesced) {
            w_attr(w, "quiesced", "yes");
        }
        for (size_t k = 0; k < sn->n_disks; k++) {
            w_lq_start(w, ns, "disk");
            w_attr(w, "id", sn->disks[k].id);
            w_attr(w, "volume", sn->disks[k].ref);
            w_end(w);
        }
        w_end(w);
    }
    w_end(w);                   /* vm */
}

void
lq_vm_snapshot_clear(struct lq_vm_snapshot *sn)
{
    if (sn) {
        free(sn->name);
        free(sn->description);
        attachments_free(sn->disks, sn->n_disks);
        memset(sn, 0, sizeof *sn);
    }
}

void
lq_vm_snapshot_free_array(struct lq_vm_snapshot *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lq_vm_snapshot_clear(&a[i]);
    }
    free(a);
}

void
lq_vm_snapshot_volume_id(const char *snap_id, const char *volume_id,
                         char out[36])
{
    struct ds ds = DS_EMPTY_INITIALIZER;
    uint8_t digest[SHA1_DIGEST_SIZE];
    char hex[SHA1_HEX_DIGEST_LEN + 1];

    ds_put_format(&ds, "%s/%s", snap_id, volume_id);
    sha1_bytes(ds.string, ds.length, digest);
    sha1_to_hex(digest, hex);
    snprintf(out, 36, "vm-%.32s", hex);
    ds_destroy(&ds);
}

void
lq_vm_metadata_add_owned(struct lq_vm_attachment **ap, size_t *np,
                         const char *id, const char *ref, bool readonly,
                         bool owned)
{
    *ap = xrealloc(*ap, (*np + 1) * sizeof **ap);
    (*ap)[(*np)++] = (struct lq_vm_attachment) {
        xstrdup(id), xstrdup(ref ? ref : ""), readonly, owned };
}

void
lq_vm_metadata_add(struct lq_vm_attachment **ap, size_t *np, const char *id,
                   const char *ref, bool readonly)
{
    lq_vm_metadata_add_owned(ap, np, id, ref, readonly, false);
}

bool
lq_vm_metadata_remove(struct lq_vm_attachment **ap, size_t *np,
                      const char *id)
{
    for (size_t i = 0; i < *np; i++) {
        if (!strcmp((*ap)[i].id, id)) {
            free((*ap)[i].id);
            free((*ap)[i].ref);
            memmove(&(*ap)[i], &(*ap)[i + 1], (*np - i - 1) * sizeof **ap);
            (*np)--;
            return true;
        }
    }
    return false;
}

/* What the metadata of a new VM holds. */
static void
metadata_from_spec(const struct lq_vm_spec *s, struct lq_vm_metadata *m)
{
    memset(m, 0, sizeof *m);
    lq_vm_spec_fingerprint(s, m->fingerprint);
    m->labels = CONST_CAST(struct lq_label *, s->labels);
    m->n_labels = s->n_labels;
    for (size_t i = 0; i < s->n_disks; i++) {
        lq_vm_metadata_add_owned(&m->disks, &m->n_disks, s->disks[i].id,
                                 s->disks[i].volume_id, s->disks[i].readonly,
                                 s->disks[i].owned);
    }
    for (size_t i = 0; i < s->n_nics; i++) {
        lq_vm_metadata_add_owned(&m->nics, &m->n_nics, s->nics[i].id,
                                 s->nics[i].port_id, false,
                                 s->nics[i].owned);
    }
}

static void
write_metadata(struct writer *w, const struct lq_vm_spec *s)
{
    struct lq_vm_metadata m;
    metadata_from_spec(s, &m);
    w_start(w, "metadata");
    write_vm_element(w, &m, true);
    w_end(w);
    attachments_free(m.disks, m.n_disks);
    attachments_free(m.nics, m.n_nics);
}

/* <cpu mode=...> (open: the caller adds the topology and closes it).
 * host-model and host-passthrough need KVM; custom names a model QEMU
 * must provide exactly (no silent fallback to another). */
static void
write_cpu_model(struct writer *w, const struct lq_vm_spec *s)
{
    w_start(w, "cpu");
    if (!s->cpu_mode) {
        return;
    }
    w_attr(w, "mode", s->cpu_mode);
    if (!strcmp(s->cpu_mode, "custom") && s->cpu_model) {
        w_attr(w, "match", "exact");
        w_start(w, "model");
        w_attr(w, "fallback", "forbid");
        w->failed |= xmlTextWriterWriteString(w->w, X(s->cpu_model)) < 0;
        w_end(w);
    } else if (!strcmp(s->cpu_mode, "host-passthrough")) {
        /* The host's exact CPU: guests see every feature; migration only
         * to identical hosts (Nova's caveat). */
        w_attr(w, "check", "none");
    }
}

static void
write_os(struct writer *w, const struct lq_vm_spec *s)
{
    w_start(w, "os");
    if (s->firmware == LQ_FIRMWARE_UEFI) {
        /* libvirt picks OVMF from the firmware descriptors QEMU ships. */
        w_attr(w, "firmware", "efi");
    }
    w_start(w, "type");
    w_attr(w, "arch", "x86_64");
    w_attr(w, "machine", s->machine ? s->machine : "pc");
    w->failed |= xmlTextWriterWriteString(w->w, X("hvm")) < 0;
    w_end(w);
    if (s->kernel_path) {
        w_text_element(w, "kernel", s->kernel_path);
        if (s->initrd_path) {
            w_text_element(w, "initrd", s->initrd_path);
        }
        if (s->kernel_cmdline) {
            w_text_element(w, "cmdline", s->kernel_cmdline);
        }
    } else if (!s->n_boot) {
        w_empty(w, "boot", "dev", "hd");
    } else {
        static const char *const devs[] = { "hd", "cdrom", "network" };
        for (size_t i = 0; i < s->n_boot; i++) {
            w_empty(w, "boot", "dev", devs[s->boot[i]]);
        }
    }
    w_end(w);
}

static const char *
cache_name(enum lq_disk_cache c)
{
    switch (c) {
    case LQ_DISK_CACHE_NONE: return "none";
    case LQ_DISK_CACHE_WRITEBACK: return "writeback";
    case LQ_DISK_CACHE_WRITETHROUGH: return "writethrough";
    case LQ_DISK_CACHE_DIRECTSYNC: return "directsync";
    case LQ_DISK_CACHE_UNSAFE: return "unsafe";
    }
    OVS_NOT_REACHED();
}

static void
write_disk_source(struct writer *w, const struct lq_disk_spec *d,
                  const char *type)
{
    const struct lq_disk_source *src = d->source;
    if (!src) {
        w_empty(w, "source", !strcmp(type, "block") ? "dev" : "file",
                d->path);
    } else if (!strcmp(type, "network")) {
        w_start(w, "source");
        w_attr(w, "protocol", src->protocol);
        w_attr(w, "name", src->name);
        for (size_t i = 0; i < src->n_hosts; i++) {
            w_start(w, "host");
            /* libvirt wants a bare IPv6 address, without brackets. */
            const char *h = src->hosts[i].name;
            size_t len = strlen(h);
            char *bare = (h[0] == '[' && len > 2 && h[len - 1] == ']')
                         ? xmemdup0(h + 1, len - 2) : xstrdup(h);
            w_attr(w, "name", bare);
            free(bare);
            if (src->hosts[i].port && src->hosts[i].port[0]) {
                w_attr(w, "port", src->hosts[i].port);
            }
            w_end(w);
        }
        if (src->config_file && !strcmp(src->protocol, "rbd")) {
            w_empty(w, "config", "file", src->config_file);
        }
        w_end(w);
        if (src->auth_username && d->secret_uuid[0]) {
            w_start(w, "auth");
            w_attr(w, "username", src->auth_username);
            w_start(w, "secret");
            w_attr(w, "type", src->secret_type);
            w_attr(w, "uuid", d->secret_uuid);
            w_end(w);
            w_end(w);
        }
    } else {
        w_empty(w, "source", !strcmp(type, "block") ? "dev" : "file",
                src->path);
    }
}

/* One <disk>; 'dev' is its target ("vda"). */
static void
write_disk(struct writer *w, const struct lq_disk_spec *d, const char *dev)
{
    const char *type, *format = "raw";
    if (d->source) {
        type = d->source->type;
        format = d->source->format ? d->source->format : "raw";
    } else {
        struct stat st;
        type = !stat(d->path, &st) && S_ISBLK(st.st_mode) ? "block" : "file";
    }

    w_start(w, "disk");
    w_attr(w, "type", type);
    w_attr(w, "device", "disk");
    w_start(w, "driver");
    w_attr(w, "name", "qemu");
    w_attr(w, "type", format);
    w_attr(w, "cache", cache_name(d->cache));
    if (d->io != LQ_DISK_IO_DEFAULT) {
        w_attr(w, "io", d->io == LQ_DISK_IO_NATIVE ? "native"
               : d->io == LQ_DISK_IO_URING ? "io_uring" : "threads");
    }
    if (d->discard) {
        w_attr(w, "discard", "unmap");
    }
    w_end(w);
    write_disk_source(w, d, type);
    w_start(w, "target");
    w_attr(w, "dev", dev);
    static const char *const buses[] = {
        [LQ_DISK_BUS_VIRTIO] = "virtio", [LQ_DISK_BUS_SATA] = "sata",
        [LQ_DISK_BUS_SCSI] = "scsi", [LQ_DISK_BUS_IDE] = "ide",
    };
    w_attr(w, "bus", buses[d->bus]);
    w_end(w);
    if (d->iops_limit || d->throughput_bytes) {
        char num[32];
        w_start(w, "iotune");
        if (d->throughput_bytes) {
            snprintf(num, sizeof num, "%"PRIu64, d->throughput_bytes);
            w_text_element(w, "total_bytes_sec", num);
        }
        if (d->iops_limit) {
            snprintf(num, sizeof num, "%"PRIu64, d->iops_limit);
            w_text_element(w, "total_iops_sec", num);
        }
        w_end(w);
    }
    w_text_element(w, "serial", d->id);
    if (d->readonly) {
        w_empty(w, "readonly", NULL, NULL);
    }
    /* A user alias, so hot-unplug can name the device. */
    char *alias = xasprintf("ua-lqd-%s", d->id);
    w_empty(w, "alias", "name", alias);
    free(alias);
    w_end(w);
}

/* CD-ROM drive 'i': IDE hdc, hdd; on q35 (no IDE) SATA from the last
 * letter down (sdz, sdy), out of the way of the disks, which count up
 * from sda.  'path' NULL: an empty drive. */
static void
write_cdrom(struct writer *w, bool sata, size_t i, const char *path,
            const char *alias)
{
    char dev[8];
    snprintf(dev, sizeof dev, sata ? "sd%c" : "hd%c",
             (int) (sata ? 'z' - i : 'c' + i));
    w_start(w, "disk");
    w_attr(w, "type", "file");
    w_attr(w, "device", "cdrom");
    w_start(w, "driver");
    w_attr(w, "name", "qemu");
    w_attr(w, "type", "raw");
    w_end(w);
    if (path) {
        w_empty(w, "source", "file", path);
    }
    w_start(w, "target");
    w_attr(w, "dev", dev);
    w_attr(w, "bus", sata ? "sata" : "ide");
    w_end(w);
    w_empty(w, "readonly", NULL, NULL);
    w_empty(w, "alias", "name", alias);
    w_end(w);
}

/* A virtio-serial port for a guest agent: QEMU's (qemu-guest-agent,
 * which the node talks to through libvirt) and ours, which the seeds plan.
 * libvirt binds the socket in its own channel directory when the source
 * has no path, so no host path comes from us. */
static void
write_agent_channel(struct writer *w, const char *name)
{
    w_start(w, "channel");
    w_attr(w, "type", "unix");
    w_empty(w, "source", "mode", "bind");
    w_start(w, "target");
    w_attr(w, "type", "virtio");
    w_attr(w, "name", name);
    w_end(w);
    w_end(w);
}

static void
write_cdroms(struct writer *w, const struct lq_vm_spec *s)
{
    bool sata = lq_machine_is_q35(s->machine);
    for (size_t i = 0; i < s->n_cdroms; i++) {
        char *alias = xasprintf("ua-lqc-%s", s->cdroms[i].id);
        write_cdrom(w, sata, i, s->cdroms[i].path, alias);
        free(alias);
    }
    if (s->cidata_path) {
        /* The cloud-init seed: the drive after the caller's CD-ROM (at
         * most one with a seed). */
        write_cdrom(w, sata, s->n_cdroms, s->cidata_path, "ua-lq-cidata");
    }
}

static void
write_disks(struct writer *w, const struct lq_vm_spec *s)
{
    int n_virtio = 0, n_sd = 0, n_hd = 0;

    for (size_t i = 0; i < s->n_disks; i++) {
        const struct lq_disk_spec *d = &s->disks[i];
        char dev[8];

        snprintf(dev, sizeof dev, "%s%c", lq_disk_target_prefix(d->bus),
                 'a' + (d->bus == LQ_DISK_BUS_VIRTIO ? n_virtio++
                        : d->bus == LQ_DISK_BUS_IDE ? n_hd++ : n_sd++));
        write_disk(w, d, dev);
    }
}

/* A NIC on the DPDK fast path: vhost-user with QEMU as the server (OVS
 * reconnects to it), no host device, no offload settings (the DPDK
 * datapath handles the virtio-net header). */
static void
write_vhost_nic(struct writer *w, const struct lq_nic_spec *n,
                unsigned int queues)
{
    char num[16];

    w_start(w, "interface");
    w_attr(w, "type", "vhostuser");
    w_empty(w, "mac", "address", n->mac);
    w_start(w, "source");
    w_attr(w, "type", "unix");
    w_attr(w, "path", n->vhost_socket);
    w_attr(w, "mode", "server");
    w_end(w);
    w_empty(w, "model", "type", "virtio");
    if (queues > 1) {
        snprintf(num, sizeof num, "%u", queues);
        w_empty(w, "driver", "queues", num);
    }
    char *alias = xasprintf("ua-lqn-%s", n->id);
    w_empty(w, "alias", "name", alias);
    free(alias);
    w_end(w);
}

static void
write_nic(struct writer *w, const struct lq_nic_spec *n, unsigned int queues)
{
    if (n->vhost_socket) {
        write_vhost_nic(w, n, queues);
        return;
    }
    char tap[16], num[16];
    if (n->host_bridge) {
        /* A plain bridge NIC: no port, no virtualport. */
        ovs_strlcpy(tap, n->bridge_dev, sizeof tap);
    } else {
        lq_nic_tap_name(n->port_id, tap);
    }

    w_start(w, "interface");
    w_attr(w, "type", "bridge");
    if (n->mac[0]) {
        w_empty(w, "mac", "address", n->mac);
    }
    if (n->host_bridge) {
        w_empty(w, "source", "bridge", n->host_bridge);
    } else {
        w_empty(w, "source", "bridge", n->bridge ? n->bridge : "br-int");
        w_start(w, "virtualport");
        w_attr(w, "type", "openvswitch");
        w_empty(w, "parameters", "interfaceid", n->port_id);
        w_end(w);
    }
    if (tap[0]) {
        w_empty(w, "target", "dev", tap);
    }
    w_empty(w, "model", "type", n->model == LQ_NIC_E1000 ? "e1000"
            : n->model == LQ_NIC_RTL8139 ? "rtl8139" : "virtio");
    if (n->model == LQ_NIC_VIRTIO && (queues > 1 || n->no_offloads)) {
        w_start(w, "driver");
        if (queues > 1) {
            snprintf(num, sizeof num, "%u", queues);
            w_attr(w, "queues", num);
        }
        if (n->no_offloads) {
            static const char *const host[] = {
                "csum", "gso", "tso4", "tso6", "ecn", "ufo", NULL };
            static const char *const guest[] = {
                "csum", "tso4", "tso6", "ecn", "ufo", NULL };
            w_start(w, "host");
            for (const char *const *f = host; *f; f++) {
                w_attr(w, *f, "off");
            }
            w_end(w);
            w_start(w, "guest");
            for (const char *const *f = guest; *f; f++) {
                w_attr(w, *f, "off");
            }
            w_end(w);
        }
        w_end(w);
    }
    char *alias = xasprintf("ua-lqn-%s", n->id);
    w_empty(w, "alias", "name", alias);
    free(alias);
    w_end(w);
}

/* A writer into memory, and the string it wrote (NULL on failure). */
static xmlBufferPtr
writer_open(struct writer *w)
{
    xmlBufferPtr buf = xmlBufferCreate();
    w->w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    w->failed = false;
    if (w->w) {
        xmlTextWriterSetIndent(w->w, 1);
        xmlTextWriterSetIndentString(w->w, X("  "));
    }
    return buf;
}

static char *
writer_close(struct writer *w, xmlBufferPtr buf)
{
    char *xml = NULL;
    if (w->w) {
        w->failed |= xmlTextWriterEndDocument(w->w) < 0;
        xmlFreeTextWriter(w->w);    /* Flushes into 'buf'. */
        if (!w->failed) {
            xml = xstrdup((const char *) xmlBufferContent(buf));
        }
    }
    if (buf) {
        xmlBufferFree(buf);
    }
    return xml;
}

char *
lq_disk_xml(const struct lq_disk_spec *d, const char *dev)
{
    struct writer w;
    xmlBufferPtr buf = writer_open(&w);
    if (w.w) {
        write_disk(&w, d, dev);
    }
    return writer_close(&w, buf);
}

char *
lq_nic_xml(const struct lq_nic_spec *n, unsigned int queues)
{
    struct writer w;
    xmlBufferPtr buf = writer_open(&w);
    if (w.w) {
        write_nic(&w, n, queues);
    }
    return writer_close(&w, buf);
}

static char *
metadata_xml(const struct lq_vm_metadata *m, bool ns)
{
    struct writer w;
    xmlBufferPtr buf = writer_open(&w);
    if (w.w) {
        write_vm_element(&w, m, ns);
    }
    return writer_close(&w, buf);
}

char *
lq_vm_metadata_xml(const struct lq_vm_metadata *m)
{
    return metadata_xml(m, false);
}

char *
lq_vm_metadata_element_xml(const struct lq_vm_metadata *m)
{
    return metadata_xml(m, true);
}

char *
lq_domain_xml(const struct lq_vm_spec *s, const char *vnc_password)
{
    struct writer w;
    xmlBufferPtr buf = writer_open(&w);

    if (!w.w) {
        return writer_close(&w, buf);
    }

    w_start(&w, "domain");
    w_attr(&w, "type", s->kvm ? "kvm" : "qemu");
    if (s->shared_hugepages && !s->kvm) {
        w_attr(&w, "xmlns:qemu", QEMU_XMLNS);
    }
    w_text_element(&w, "name", s->name);
    w_text_element(&w, "uuid", s->id);
    write_metadata(&w, s);

    char num[32];
    w_start(&w, "memory");
    w_attr(&w, "unit", "MiB");
    snprintf(num, sizeof num, "%"PRIu64, s->memory_mib);
    w.failed |= xmlTextWriterWriteString(w.w, X(num)) < 0;
    w_end(&w);
    bool hot_memory = s->max_memory_mib > s->memory_mib;
    if (hot_memory) {
        /* Hot-add: room for DIMMs up to the maximum. */
        w_start(&w, "maxMemory");
        snprintf(num, sizeof num, "%d", LQ_MEMORY_SLOTS);
        w_attr(&w, "slots", num);
        w_attr(&w, "unit", "MiB");
        snprintf(num, sizeof num, "%"PRIu64, s->max_memory_mib);
        w_text(&w, num);
        w_end(&w);
    }
    if (s->shared_hugepages) {
        /* vhost-user: OVS maps the guest's memory, so it must be shared;
         * hugepages keep it to a few regions and out of swap.  memfd needs
         * no hugetlbfs mount. */
        w_start(&w, "memoryBacking");
        w_empty(&w, "hugepages", NULL, NULL);
        w_empty(&w, "source", "type", "memfd");
        w_empty(&w, "access", "mode", "shared");
        w_end(&w);
    }
    /* Hot-add: the topology and <vcpu> are the maximum, 'current' the
     * vCPUs the guest boots with (libvirt plugs the rest later). */
    uint32_t max_cores = s->max_cpu_cores > s->cpu_cores ? s->max_cpu_cores
                                                         : s->cpu_cores;
    snprintf(num, sizeof num, "%"PRIu32,
             s->cpu_sockets * max_cores * s->cpu_threads);
    w_start(&w, "vcpu");
    if (max_cores > s->cpu_cores) {
        char cur[16];
        snprintf(cur, sizeof cur, "%"PRIu32,
                 s->cpu_sockets * s->cpu_cores * s->cpu_threads);
        w_attr(&w, "current", cur);
    }
    w_text(&w, num);
    w_end(&w);
    write_cpu_model(&w, s);
    w_start(&w, "topology");
    snprintf(num, sizeof num, "%"PRIu32, s->cpu_sockets);
    w_attr(&w, "sockets", num);
    w_attr(&w, "dies", "1");
    snprintf(num, sizeof num, "%"PRIu32, max_cores);
    w_attr(&w, "cores", num);
    snprintf(num, sizeof num, "%"PRIu32, s->cpu_threads);
    w_attr(&w, "threads", num);
    w_end(&w);
    if (hot_memory) {
        /* QEMU describes hot-pluggable memory in ACPI's SRAT, which it
         * writes only for a NUMA guest: one cell with every vCPU and the
         * boot memory (DIMMs name it). */
        w_start(&w, "numa");
        w_start(&w, "cell");
        w_attr(&w, "id", "0");
        snprintf(num, sizeof num, "0-%"PRIu32,
                 s->cpu_sockets * max_cores * s->cpu_threads - 1);
        w_attr(&w, "cpus", num);
        snprintf(num, sizeof num, "%"PRIu64, s->memory_mib);
        w_attr(&w, "memory", num);
        w_attr(&w, "unit", "MiB");
        w_end(&w);
        w_end(&w);
    }
    w_end(&w);

    write_os(&w, s);
    w_start(&w, "features");
    w_empty(&w, "acpi", NULL, NULL);
    w_end(&w);
    w_text_element(&w, "on_poweroff", "destroy");
    w_text_element(&w, "on_reboot", "restart");
    w_text_element(&w, "on_crash", "destroy");

    w_start(&w, "devices");
    write_disks(&w, s);
    write_cdroms(&w, s);
    uint32_t vcpus = s->cpu_sockets * s->cpu_cores * s->cpu_threads;
    for (size_t i = 0; i < s->n_nics; i++) {
        write_nic(&w, &s->nics[i], vcpus);
    }
    if (vnc_password) {
        /* QEMU listens nowhere: the node's console WebSocket (GetConsole's
         * one-time token) gets a connection from libvirt
         * (virDomainOpenGraphicsFD, console.c). */
        w_start(&w, "graphics");
        w_attr(&w, "type", s->spice ? "spice" : "vnc");
        w_attr(&w, "passwd", vnc_password);
        w_empty(&w, "listen", "type", "none");
        w_end(&w);
    }
    if (s->serial_log_path) {
        w_start(&w, "serial");
        w_attr(&w, "type", "file");
        w_empty(&w, "source", "path", s->serial_log_path);
        w_empty(&w, "target", "port", "0");
        w_end(&w);
    }
    write_agent_channel(&w, LQ_QEMU_AGENT_CHANNEL);
    write_agent_channel(&w, LQ_NODE_AGENT_CHANNEL);
    w_empty(&w, "memballoon", "model", "none");
    w_end(&w);                  /* devices */
    if (s->shared_hugepages && !s->kvm) {
        /* Under TCG (domain type qemu), QEMU 7.2 crashes when a vhost-user
         * virtio-net device uses MSI-X: every virtio-net device of the VM
         * gets vectors=0 (INTx).  A -global also covers NICs hot-plugged
         * later, which a per-device <qemu:override> would not.  Not needed
         * with KVM. */
        static const char *const args[] = { "-global",
                                            "virtio-net-pci.vectors=0" };
        w_qemu_start(&w, "commandline");
        for (size_t i = 0; i < ARRAY_SIZE(args); i++) {
            w_qemu_start(&w, "arg");
            w_attr(&w, "value", args[i]);
            w_end(&w);
        }
        w_end(&w);
    }
    w_end(&w);                  /* domain */
    return writer_close(&w, buf);
}

/* ---- Metadata ----------------------------------------------------------- */

void
lq_vm_metadata_clear(struct lq_vm_metadata *m)
{
    if (m) {
        labels_free(m->labels, m->n_labels);
        attachments_free(m->disks, m->n_disks);
        attachments_free(m->nics, m->n_nics);
        lq_vm_snapshot_free_array(m->snapshots, m->n_snapshots);
        memset(m, 0, sizeof *m);
    }
}

char *
compute_xml_prop(xmlNodePtr n, const char *name)
{
    xmlChar *v = n ? xmlGetProp(n, X(name)) : NULL;
    char *s = v ? xstrdup((const char *) v) : NULL;
    xmlFree(v);
    return s;
}

bool
compute_xml_prop_is(xmlNodePtr n, const char *name, const char *value)
{
    xmlChar *v = n ? xmlGetProp(n, X(name)) : NULL;
    bool is = v && !xmlStrcmp(v, X(value));
    xmlFree(v);
    return is;
}

xmlNodePtr
compute_xml_child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && !xmlStrcmp(c->name, X(name))) {
            return c;
        }
    }
    return NULL;
}

/* virDomainGetMetadata() returns our element without its namespace (it
 * was selected by namespace already); the domain XML has it with one. */
static bool
is_ours(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE
           && (!n->ns || (n->ns->href && !strcmp((const char *) n->ns->href,
                                                 LQ_COMPUTE_XMLNS)))
           && !strcmp((const char *) n->name, name);
}

static char *
prop(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, X(name));
    char *s = xstrdup(v ? (const char *) v : "");
    xmlFree(v);
    return s;
}

static void
parse_snapshot(xmlNodePtr n, struct lq_vm_metadata *m)
{
    struct lq_vm_snapshot sn;
    memset(&sn, 0, sizeof sn);
    char *id = prop(n, "id");
    char *created = prop(n, "created");
    ovs_strlcpy(sn.id, id, sizeof sn.id);
    sn.name = prop(n, "name");
    sn.description = prop(n, "description");
    sn.created = strtoll(created, NULL, 10);
    char *parent = prop(n, "parent"), *state = prop(n, "state");
    char *quiesced = prop(n, "quiesced");
    ovs_strlcpy(sn.parent_id, parent, sizeof sn.parent_id);
    sn.vm_state = atoi(state);
    sn.quiesced = !strcmp(quiesced, "yes");
    free(parent);
    free(state);
    free(quiesced);
    free(id);
    free(created);
    for (xmlNodePtr d = n->children; d; d = d->next) {
        if (is_ours(d, "disk")) {
            char *did = prop(d, "id"), *vol = prop(d, "volume");
            lq_vm_metadata_add(&sn.disks, &sn.n_disks, did, vol, false);
            free(did);
            free(vol);
        }
    }
    m->snapshots = xrealloc(m->snapshots,
                            (m->n_snapshots + 1) * sizeof *m->snapshots);
    m->snapshots[m->n_snapshots++] = sn;
}

struct lq_error *
lq_vm_metadata_parse(const char *xml, struct lq_vm_metadata *m)
{
    memset(m, 0, sizeof *m);
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), "metadata.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR
                                  | XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || !is_ours(root, "vm")) {
        xmlFreeDoc(doc);
        return lq_error_new(LQ_INTERNAL, "domain metadata is not ours");
    }
    for (xmlNodePtr n = root->children; n; n = n->next) {
        if (is_ours(n, "fingerprint")) {
            xmlChar *t = xmlNodeGetContent(n);
            ovs_strlcpy(m->fingerprint, t ? (const char *) t : "",
                        sizeof m->fingerprint);
            xmlFree(t);
        } else if (is_ours(n, "label")) {
            xmlChar *k = xmlGetProp(n, X("key"));
            xmlChar *v = xmlNodeGetContent(n);
            if (k) {
                labels_insert(&m->labels, &m->n_labels, (const char *) k,
                              v ? (const char *) v : "");
            }
            xmlFree(k);
            xmlFree(v);
        } else if (is_ours(n, "disk") || is_ours(n, "nic")) {
            bool disk = is_ours(n, "disk");
            xmlChar *id = xmlGetProp(n, X("id"));
            xmlChar *ref = xmlGetProp(n, X(disk ? "volume" : "port"));
            xmlChar *ro = xmlGetProp(n, X("readonly"));
            xmlChar *owned = xmlGetProp(n, X("owned"));
            if (id) {
                lq_vm_metadata_add_owned(
                    disk ? &m->disks : &m->nics,
                    disk ? &m->n_disks : &m->n_nics, (const char *) id,
                    (const char *) ref,
                    ro && !strcmp((const char *) ro, "yes"),
                    owned && !strcmp((const char *) owned, "yes"));
            }
            xmlFree(id);
            xmlFree(ref);
            xmlFree(ro);
            xmlFree(owned);
        } else if (is_ours(n, "snapshot")) {
            parse_snapshot(n, m);
        }
    }
    xmlFreeDoc(doc);
    return NULL;
}
