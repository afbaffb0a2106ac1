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
#include "util.h"

#define MAX_NAME_LEN 64
#define MAX_PATH_LEN 4096
#define MAX_CMDLINE_LEN 4096
#define MAX_VCPUS 255
#define MIN_MEMORY_MIB 16
#define MAX_MEMORY_MIB (4u << 20)       /* 4 TiB */
#define MAX_DISKS 26
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
    for (size_t i = 0; i < s->n_disks; i++) {
        free(s->disks[i].id);
        free(s->disks[i].path);
    }
    free(s->disks);
    labels_free(s->labels, s->n_labels);
    lq_vm_spec_init(s);
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

static struct lq_error *
validate_disks(const struct lq_vm_spec *s, bool check_paths)
{
    if (s->n_disks > MAX_DISKS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.disks: at most %d "
                            "disks", MAX_DISKS);
    }
    for (size_t i = 0; i < s->n_disks; i++) {
        const struct lq_disk_spec *d = &s->disks[i];
        if (!d->id || !is_disk_id(d->id)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "spec.disks[%zu].id: "
                                "expected 1-64 of [A-Za-z0-9_.-], starting "
                                "with a letter or digit", i);
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(s->disks[j].id, d->id)) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "spec.disks[%zu].id:"
                                    " \"%s\" is used twice", i, d->id);
            }
        }
        if (!d->path) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "spec.disks[%zu].path: "
                                "required", i);
        }
        char *field = xasprintf("spec.disks[%zu].path", i);
        struct lq_error *e = check_path(field, d->path, check_paths);
        free(field);
        if (e) {
            return e;
        }
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
lq_vm_spec_validate(const struct lq_vm_spec *s, bool check_paths)
{
    struct lq_error *e;

    if (!is_uuid(s->id)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "id: expected a UUID");
    }
    if (!s->name || !*s->name) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "name: required");
    }
    if (strlen(s->name) > MAX_NAME_LEN || has_control_chars(s->name)
        || strchr(s->name, '/')) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "name: expected at most %d "
                            "bytes without '/' or control characters",
                            MAX_NAME_LEN);
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
    if (s->memory_mib < MIN_MEMORY_MIB || s->memory_mib > MAX_MEMORY_MIB) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.memoryMib: expected "
                            "%d..%u, got %"PRIu64, MIN_MEMORY_MIB,
                            MAX_MEMORY_MIB, s->memory_mib);
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
    if ((e = validate_disks(s, check_paths))) {
        return e;
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
    for (size_t i = 0; i < s->n_disks; i++) {
        const struct lq_disk_spec *d = &s->disks[i];
        fp_str(&ds, "disk", d->id);
        fp_str(&ds, "path", d->path);
        ds_put_format(&ds, "bus:%d;cache:%d;ro:%d;", d->bus, d->cache,
                      d->readonly);
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
write_metadata(struct writer *w, const struct lq_vm_spec *s)
{
    char fp[41];
    lq_vm_spec_fingerprint(s, fp);

    w_start(w, "metadata");
    w->failed |= xmlTextWriterStartElementNS(w->w, X("lq"), X("vm"),
                                             X(LQ_COMPUTE_XMLNS)) < 0;
    w->failed |= xmlTextWriterWriteElementNS(w->w, X("lq"), X("fingerprint"),
                                             NULL, X(fp)) < 0;
    for (size_t i = 0; i < s->n_labels; i++) {
        w->failed |= xmlTextWriterStartElementNS(w->w, X("lq"), X("label"),
                                                 NULL) < 0;
        w_attr(w, "key", s->labels[i].key);
        w->failed |= xmlTextWriterWriteString(w->w,
                                              X(s->labels[i].value)) < 0;
        w_end(w);
    }
    w_end(w);                   /* lq:vm */
    w_end(w);                   /* metadata */
}

static void
write_os(struct writer *w, const struct lq_vm_spec *s)
{
    w_start(w, "os");
    w_start(w, "type");
    w_attr(w, "arch", "x86_64");
    w_attr(w, "machine", "pc");
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
    } else {
        w_empty(w, "boot", "dev", "hd");
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
write_disks(struct writer *w, const struct lq_vm_spec *s)
{
    int n_virtio = 0, n_sd = 0;

    for (size_t i = 0; i < s->n_disks; i++) {
        const struct lq_disk_spec *d = &s->disks[i];
        struct stat st;
        bool block = !stat(d->path, &st) && S_ISBLK(st.st_mode);
        bool virtio = d->bus == LQ_DISK_BUS_VIRTIO;
        char dev[8];

        snprintf(dev, sizeof dev, "%s%c", virtio ? "vd" : "sd",
                 'a' + (virtio ? n_virtio++ : n_sd++));
        w_start(w, "disk");
        w_attr(w, "type", block ? "block" : "file");
        w_attr(w, "device", "disk");
        w_start(w, "driver");
        w_attr(w, "name", "qemu");
        w_attr(w, "type", "raw");
        w_attr(w, "cache", cache_name(d->cache));
        w_end(w);
        w_empty(w, "source", block ? "dev" : "file", d->path);
        w_start(w, "target");
        w_attr(w, "dev", dev);
        w_attr(w, "bus", virtio ? "virtio"
               : d->bus == LQ_DISK_BUS_SATA ? "sata" : "scsi");
        w_end(w);
        w_text_element(w, "serial", d->id);
        if (d->readonly) {
            w_empty(w, "readonly", NULL, NULL);
        }
        w_end(w);
    }
}

char *
lq_domain_xml(const struct lq_vm_spec *s)
{
    xmlBufferPtr buf = xmlBufferCreate();
    struct writer w = { .w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL };
    char *xml = NULL;

    if (!w.w) {
        goto out;
    }
    xmlTextWriterSetIndent(w.w, 1);
    xmlTextWriterSetIndentString(w.w, X("  "));

    w_start(&w, "domain");
    w_attr(&w, "type", "qemu");
    w_text_element(&w, "name", s->name);
    w_text_element(&w, "uuid", s->id);
    write_metadata(&w, s);

    char num[32];
    w_start(&w, "memory");
    w_attr(&w, "unit", "MiB");
    snprintf(num, sizeof num, "%"PRIu64, s->memory_mib);
    w.failed |= xmlTextWriterWriteString(w.w, X(num)) < 0;
    w_end(&w);
    snprintf(num, sizeof num, "%"PRIu32,
             s->cpu_sockets * s->cpu_cores * s->cpu_threads);
    w_text_element(&w, "vcpu", num);
    w_start(&w, "cpu");
    w_start(&w, "topology");
    snprintf(num, sizeof num, "%"PRIu32, s->cpu_sockets);
    w_attr(&w, "sockets", num);
    w_attr(&w, "dies", "1");
    snprintf(num, sizeof num, "%"PRIu32, s->cpu_cores);
    w_attr(&w, "cores", num);
    snprintf(num, sizeof num, "%"PRIu32, s->cpu_threads);
    w_attr(&w, "threads", num);
    w_end(&w);
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
    if (s->serial_log_path) {
        w_start(&w, "serial");
        w_attr(&w, "type", "file");
        w_empty(&w, "source", "path", s->serial_log_path);
        w_empty(&w, "target", "port", "0");
        w_end(&w);
    }
    w_empty(&w, "memballoon", "model", "none");
    w_end(&w);                  /* devices */
    w_end(&w);                  /* domain */
    w.failed |= xmlTextWriterEndDocument(w.w) < 0;
    xmlFreeTextWriter(w.w);     /* Flushes into 'buf'. */
    if (!w.failed) {
        xml = xstrdup((const char *) xmlBufferContent(buf));
    }
out:
    if (buf) {
        xmlBufferFree(buf);
    }
    return xml;
}

/* ---- Metadata ----------------------------------------------------------- */

void
lq_vm_metadata_clear(struct lq_vm_metadata *m)
{
    if (m) {
        labels_free(m->labels, m->n_labels);
        memset(m, 0, sizeof *m);
    }
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
        }
    }
    xmlFreeDoc(doc);
    return NULL;
}
