#include <config.h>
/* test_compute_unit.c: the compute subsystem without libvirtd.
 *
 * The domain XML builder (required elements, escaping: hostile names,
 * paths and labels come back byte for byte when the XML is parsed and add
 * no element), spec validation (each error names its field), the
 * fingerprint, our <metadata> parsed back, and the CreateVM request
 * parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "limiquantix/compute.h"
#include "compute_impl.h"
#include "exec.h"
#include "openvswitch/json.h"
#include "rpc_compute.h"
#include "util.h"

#define ID "6f1c9a52-0000-4000-8000-000000000001"
#define ID2 "6f1c9a52-0000-4000-8000-000000000002"

static void
base_spec(struct lq_vm_spec *s)
{
    lq_vm_spec_init(s);
    ovs_strlcpy(s->id, ID, sizeof s->id);
    s->name = xstrdup("vm1");
    s->memory_mib = 256;
}

/* The text of the one node 'xpath' selects in 'xml' (caller frees), or
 * NULL if it selects none or several. */
static char *
xpath_text(const char *xml, const char *xpath)
{
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), "t.xml", NULL,
                                  XML_PARSE_NONET);
    assert_non_null(doc);
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, (const xmlChar *) "lq",
                       (const xmlChar *) LQ_COMPUTE_XMLNS);
    xmlXPathObjectPtr r = xmlXPathEvalExpression((const xmlChar *) xpath,
                                                 ctx);
    char *text = NULL;
    if (r && r->nodesetval && r->nodesetval->nodeNr == 1) {
        xmlChar *t = xmlNodeGetContent(r->nodesetval->nodeTab[0]);
        text = xstrdup((const char *) t);
        xmlFree(t);
    }
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return text;
}

static int
xpath_count(const char *xml, const char *xpath)
{
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), "t.xml", NULL,
                                  XML_PARSE_NONET);
    assert_non_null(doc);
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr r = xmlXPathEvalExpression((const xmlChar *) xpath,
                                                 ctx);
    int n = r && r->nodesetval ? r->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return n;
}

static void
assert_xpath(const char *xml, const char *xpath, const char *expected)
{
    char *text = xpath_text(xml, xpath);
    if (!text || strcmp(text, expected)) {
        fail_msg("%s: expected \"%s\", got \"%s\" in\n%s", xpath, expected,
                 text ? text : "(none)", xml);
    }
    free(text);
}

static void
test_xml_required_elements(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;
    base_spec(&s);
    s.cpu_sockets = 2;
    s.cpu_cores = 3;
    s.kernel_path = xstrdup("/boot/vmlinuz");
    s.initrd_path = xstrdup("/boot/initrd");
    s.kernel_cmdline = xstrdup("console=ttyS0");
    s.serial_log_path = xstrdup("/var/log/vm1.log");

    char *xml = lq_domain_xml(&s, NULL);
    assert_non_null(xml);
    assert_xpath(xml, "/domain/@type", "qemu");
    assert_xpath(xml, "/domain/name", "vm1");
    assert_xpath(xml, "/domain/uuid", ID);
    assert_xpath(xml, "/domain/memory", "256");
    assert_xpath(xml, "/domain/memory/@unit", "MiB");
    assert_xpath(xml, "/domain/vcpu", "6");
    assert_xpath(xml, "/domain/cpu/topology/@sockets", "2");
    assert_xpath(xml, "/domain/cpu/topology/@cores", "3");
    assert_xpath(xml, "/domain/os/type/@machine", "pc");
    assert_xpath(xml, "/domain/os/kernel", "/boot/vmlinuz");
    assert_xpath(xml, "/domain/os/initrd", "/boot/initrd");
    assert_xpath(xml, "/domain/os/cmdline", "console=ttyS0");
    assert_int_equal(xpath_count(xml, "/domain/os/boot"), 0);
    assert_int_equal(xpath_count(xml, "/domain/features/acpi"), 1);
    assert_xpath(xml, "/domain/devices/serial[@type='file']/source/@path",
                 "/var/log/vm1.log");
    assert_xpath(xml, "/domain/on_poweroff", "destroy");
    free(xml);
    lq_vm_spec_clear(&s);
}

/* The console: VNC, or SPICE when the seed's ConsoleSpec asks; either
 * listens nowhere (the node's WebSocket gets a connection from libvirt)
 * and only SPICE changes the fingerprint. */
static void
test_xml_console(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;
    base_spec(&s);
    char before[41], after[41];
    lq_vm_spec_fingerprint(&s, before);
    char *xml = lq_domain_xml(&s, "pw123456");
    assert_xpath(xml, "/domain/devices/graphics/@type", "vnc");
    assert_xpath(xml, "/domain/devices/graphics/@passwd", "pw123456");
    assert_xpath(xml, "/domain/devices/graphics/listen/@type", "none");
    free(xml);
    s.spice = true;
    lq_vm_spec_fingerprint(&s, after);
    assert_string_not_equal(before, after);
    xml = lq_domain_xml(&s, "pw123456");
    assert_int_equal(xpath_count(xml, "/domain/devices/graphics"), 1);
    assert_xpath(xml, "/domain/devices/graphics/@type", "spice");
    assert_xpath(xml, "/domain/devices/graphics/@passwd", "pw123456");
    assert_xpath(xml, "/domain/devices/graphics/listen/@type", "none");
    free(xml);
    lq_vm_spec_clear(&s);
}

/* vCPU hot-add: the topology and <vcpu> are the maximum, 'current' what
 * the guest boots with; the fingerprint changes only when it is set. */
static void
test_xml_vcpu_hot_add(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;
    base_spec(&s);
    char before[41], after[41];
    lq_vm_spec_fingerprint(&s, before);
    s.max_cpu_cores = 1;                /* = cpuCores: no hot-add */
    lq_vm_spec_fingerprint(&s, after);
    assert_string_equal(before, after);
    s.cpu_sockets = 2;
    s.max_cpu_cores = 4;
    assert_null(lq_vm_spec_validate(&s, false));
    lq_vm_spec_fingerprint(&s, after);
    assert_string_not_equal(before, after);
    char *xml = lq_domain_xml(&s, NULL);
    assert_xpath(xml, "/domain/vcpu", "8");
    assert_xpath(xml, "/domain/vcpu/@current", "2");
    assert_xpath(xml, "/domain/cpu/topology/@cores", "4");
    free(xml);

    s.cpu_cores = 5;
    struct lq_error *e = lq_vm_spec_validate(&s, false);
    assert_non_null(e);
    assert_string_equal(e->message, "spec.maxCpuCores: 4 is less than "
                        "cpuCores 5");
    lq_error_free(e);
    s.cpu_cores = 1;
    s.max_cpu_cores = 1000;
    e = lq_vm_spec_validate(&s, false);
    assert_non_null(e);
    assert_true(!strncmp(e->message, "spec.maxCpuCores: more than", 27));
    lq_error_free(e);
    lq_vm_spec_clear(&s);
}

/* Memory hot-add: <maxMemory slots> and one NUMA cell with every vCPU
 * (QEMU writes ACPI's SRAT, which names hot-pluggable memory, only for
 * NUMA guests); the maximum is the boot memory plus whole 128 MiB
 * blocks. */
static void
test_xml_memory_hot_add(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;
    base_spec(&s);
    char before[41], after[41];
    lq_vm_spec_fingerprint(&s, before);
    s.max_memory_mib = 256;             /* = memoryMib: no hot-add */
    lq_vm_spec_fingerprint(&s, after);
    assert_string_equal(before, after);
    char *xml = lq_domain_xml(&s, NULL);
    assert_int_equal(xpath_count(xml, "/domain/maxMemory"), 0);
    assert_int_equal(xpath_count(xml, "/domain/cpu/numa"), 0);
    free(xml);

    s.max_memory_mib = 256 + 3 * 128;
    s.max_cpu_cores = 2;
    assert_null(lq_vm_spec_validate(&s, false));
    lq_vm_spec_fingerprint(&s, after);
    assert_string_not_equal(before, after);
    xml = lq_domain_xml(&s, NULL);
    assert_xpath(xml, "/domain/maxMemory", "640");
    assert_xpath(xml, "/domain/maxMemory/@slots", "16");
    assert_xpath(xml, "/domain/maxMemory/@unit", "MiB");
    assert_xpath(xml, "/domain/memory", "256");
    assert_xpath(xml, "/domain/cpu/numa/cell/@cpus", "0-1");
    assert_xpath(xml, "/domain/cpu/numa/cell/@memory", "256");
    free(xml);

    static const struct { uint64_t max; const char *why; } bad[] = {
        { 128, "spec.maxMemoryMib: 128 is less than memoryMib 256" },
        { 300, "spec.maxMemoryMib: 300 is not memoryMib plus a multiple "
               "of 128 MiB (the guest's memory blocks)" },
        { 5u << 20, "spec.maxMemoryMib: at most 4194304" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        s.max_memory_mib = bad[i].max;
        struct lq_error *e = lq_vm_spec_validate(&s, false);
        assert_non_null(e);
        assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
        assert_string_equal(e->message, bad[i].why);
        lq_error_free(e);
    }
    lq_vm_spec_clear(&s);
}

static void
test_xml_disks(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;
    base_spec(&s);
    s.n_disks = 3;
    s.disks = xcalloc(3, sizeof *s.disks);
    s.disks[0] = (struct lq_disk_spec) { xstrdup("root"),
                                         xstrdup("/nonexistent/root.img") };
    s.disks[1] = (struct lq_disk_spec) { xstrdup("data"),
                                         xstrdup("/nonexistent/data.img"),
                                         .cache = LQ_DISK_CACHE_WRITEBACK,
                                         .readonly = true };
    s.disks[2] = (struct lq_disk_spec) { xstrdup("sata0"),
                                         xstrdup("/nonexistent/s.img"),
                                         .bus = LQ_DISK_BUS_SATA };
    char *xml = lq_domain_xml(&s, NULL);
    assert_non_null(xml);
    assert_int_equal(xpath_count(xml, "/domain/devices/disk"), 3);
    assert_xpath(xml, "/domain/devices/disk[1]/source/@file",
                 "/nonexistent/root.img");
    assert_xpath(xml, "/domain/devices/disk[1]/target/@dev", "vda");
    assert_xpath(xml, "/domain/devices/disk[1]/target/@bus", "virtio");
    assert_xpath(xml, "/domain/devices/disk[1]/driver/@cache", "none");
    assert_xpath(xml, "/domain/devices/disk[1]/serial", "root");
    assert_int_equal(xpath_count(xml, "/domain/devices/disk[1]/readonly"), 0);
    assert_xpath(xml, "/domain/devices/disk[2]/target/@dev", "vdb");
    assert_xpath(xml, "/domain/devices/disk[2]/driver/@cache", "writeback");
    assert_int_equal(xpath_count(xml, "/domain/devices/disk[2]/readonly"), 1);
    assert_xpath(xml, "/domain/devices/disk[3]/target/@dev", "sda");
    assert_xpath(xml, "/domain/devices/disk[3]/target/@bus", "sata");
    assert_int_equal(xpath_count(xml, "/domain/os/boot[@dev='hd']"), 1);
    free(xml);
    lq_vm_spec_clear(&s);
}

/* libvirt's own schema (virt-xml-validate, libvirt-clients) accepts it. */
static void
assert_schema_valid(const char *xml)
{
    char path[] = "/tmp/lq-domain-XXXXXX.xml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t) strlen(xml));
    close(fd);
    const char *argv[] = { "virt-xml-validate", path, "domain", NULL };
    struct lq_exec_result r;
    struct lq_error *e = lq_exec(argv, NULL, 30000, &r);
    if (e) {
        fail_msg("%s\n%s", e->message, xml);
    }
    lq_exec_result_clear(&r);
    unlink(path);
}

/* The node's platform: KVM with q35 and a CPU model, TCG with pc. */
static void
test_xml_platform(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;
    base_spec(&s);
    s.n_disks = 1;
    s.disks = xcalloc(1, sizeof *s.disks);
    s.disks[0] = (struct lq_disk_spec) { xstrdup("root"),
                                         xstrdup("/nonexistent/root.img"),
                                         .bus = LQ_DISK_BUS_SATA };
    s.n_cdroms = 1;
    s.cdroms = xcalloc(1, sizeof *s.cdroms);
    s.cdroms[0] = (struct lq_cdrom_spec) { xstrdup("cd"),
                                           xstrdup("/nonexistent/a.iso") };
    s.shared_hugepages = true;

    /* TCG: machine pc, IDE CD-ROM, QEMU's CPU, the vhost-user MSI-X
     * workaround. */
    char *xml = lq_domain_xml(&s, NULL);
    assert_xpath(xml, "/domain/@type", "qemu");
    assert_xpath(xml, "/domain/os/type/@machine", "pc");
    assert_int_equal(xpath_count(xml, "/domain/cpu/@mode"), 0);
    assert_xpath(xml, "/domain/devices/disk[@device='cdrom']/target/@dev",
                 "hdc");
    assert_xpath(xml, "/domain/devices/disk[@device='cdrom']/target/@bus",
                 "ide");
    assert_int_equal(xpath_count(xml, "//*[local-name()='commandline']"), 1);
    assert_schema_valid(xml);
    free(xml);

    /* KVM: q35 (SATA CD-ROM at the far end of sd*), host-model, no
     * TCG workaround. */
    s.kvm = true;
    s.machine = "q35";
    s.cpu_mode = "host-model";
    xml = lq_domain_xml(&s, NULL);
    assert_xpath(xml, "/domain/@type", "kvm");
    assert_xpath(xml, "/domain/os/type/@machine", "q35");
    assert_xpath(xml, "/domain/cpu/@mode", "host-model");
    assert_xpath(xml, "/domain/cpu/topology/@sockets", "1");
    assert_xpath(xml, "/domain/devices/disk[@device='cdrom']/target/@dev",
                 "sdz");
    assert_xpath(xml, "/domain/devices/disk[@device='cdrom']/target/@bus",
                 "sata");
    assert_xpath(xml, "/domain/devices/disk[@device='disk']/target/@dev",
                 "sda");
    assert_int_equal(xpath_count(xml, "//*[local-name()='commandline']"), 0);
    assert_schema_valid(xml);
    free(xml);

    s.cpu_mode = "host-passthrough";
    xml = lq_domain_xml(&s, NULL);
    assert_xpath(xml, "/domain/cpu/@mode", "host-passthrough");
    assert_schema_valid(xml);
    free(xml);

    s.cpu_mode = "custom";
    s.cpu_model = "EPYC-Rome";
    s.machine = "pc-q35-7.2";
    xml = lq_domain_xml(&s, NULL);
    assert_xpath(xml, "/domain/cpu/@mode", "custom");
    assert_xpath(xml, "/domain/cpu/@match", "exact");
    assert_xpath(xml, "/domain/cpu/model", "EPYC-Rome");
    assert_xpath(xml, "/domain/cpu/model/@fallback", "forbid");
    assert_xpath(xml, "/domain/devices/disk[@device='cdrom']/target/@bus",
                 "sata");
    assert_schema_valid(xml);
    free(xml);

    assert_true(lq_machine_is_q35("q35"));
    assert_true(lq_machine_is_q35("pc-q35-7.2"));
    assert_false(lq_machine_is_q35("pc"));
    assert_false(lq_machine_is_q35("pc-i440fx-7.2"));
    assert_false(lq_machine_is_q35(NULL));
    s.machine = s.cpu_mode = s.cpu_model = NULL;
    lq_vm_spec_clear(&s);
}

static void
test_xml_escaping(void **state OVS_UNUSED)
{
    static const char *const hostile[] = {
        "a'\"<b>&",
        "</name><devices><disk/></devices><name>",
        "]]><!-- x -->&amp;",
    };
    for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
        struct lq_vm_spec s;
        base_spec(&s);
        free(s.name);
        s.name = xstrdup(hostile[i]);
        s.kernel_path = xstrdup("/k'\"<&>");
        s.kernel_cmdline = xstrdup(hostile[i]);
        lq_vm_spec_add_label(&s, hostile[i], hostile[i]);
        /* The first name is valid; the others ('/') validation refuses,
         * but the builder escapes them all the same. */
        if (i == 0) {
            assert_null(lq_vm_spec_validate(&s, false));
        }

        char *xml = lq_domain_xml(&s, NULL);
        assert_non_null(xml);
        assert_xpath(xml, "/domain/name", hostile[i]);
        assert_xpath(xml, "/domain/os/kernel", "/k'\"<&>");
        assert_xpath(xml, "/domain/os/cmdline", hostile[i]);
        assert_xpath(xml, "/domain/metadata/lq:vm/lq:label/@key", hostile[i]);
        assert_xpath(xml, "/domain/metadata/lq:vm/lq:label", hostile[i]);
        /* Nothing was injected. */
        assert_int_equal(xpath_count(xml, "//disk"), 0);
        assert_int_equal(xpath_count(xml, "/domain/name"), 1);
        assert_int_equal(xpath_count(xml, "//comment()"), 0);
        free(xml);
        lq_vm_spec_clear(&s);
    }
}

static void
expect_invalid(const struct lq_vm_spec *s, const char *field)
{
    struct lq_error *e = lq_vm_spec_validate(s, false);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
    if (strncmp(e->message, field, strlen(field))) {
        fail_msg("expected an error on %s, got \"%s\"", field, e->message);
    }
    lq_error_free(e);
}

static void
test_validation(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;

    base_spec(&s);
    assert_null(lq_vm_spec_validate(&s, false));
    s.memory_mib = 0;
    expect_invalid(&s, "spec.memoryMib");
    s.memory_mib = 256;
    s.cpu_cores = 0;
    expect_invalid(&s, "spec.cpuCores");
    s.cpu_cores = 16;
    s.cpu_sockets = 16;
    expect_invalid(&s, "spec.cpuCores");
    s.cpu_sockets = 1;
    strcpy(s.id, "nope");
    expect_invalid(&s, "id");
    ovs_strlcpy(s.id, ID, sizeof s.id);
    free(s.name);
    s.name = xstrdup("a/b");
    expect_invalid(&s, "name");
    free(s.name);
    s.name = xstrdup("tab\there");
    expect_invalid(&s, "name");
    free(s.name);
    s.name = NULL;
    expect_invalid(&s, "name");
    s.name = xstrdup("ok");
    s.initrd_path = xstrdup("/initrd");
    expect_invalid(&s, "spec.initrdPath");
    s.kernel_path = xstrdup("relative/kernel");
    expect_invalid(&s, "spec.kernelPath");
    free(s.kernel_path);
    s.kernel_path = xstrdup("/nonexistent/kernel");
    assert_null(lq_vm_spec_validate(&s, false));
    struct lq_error *e = lq_vm_spec_validate(&s, true);
    assert_non_null(e);
    assert_string_equal(e->message, "spec.kernelPath: \"/nonexistent/"
                        "kernel\": No such file or directory");
    lq_error_free(e);

    s.n_disks = 2;
    s.disks = xcalloc(2, sizeof *s.disks);
    s.disks[0] = (struct lq_disk_spec) { xstrdup("d"), xstrdup("/a") };
    s.disks[1] = (struct lq_disk_spec) { xstrdup("d"), xstrdup("/b") };
    expect_invalid(&s, "spec.disks[1].id");
    free(s.disks[1].id);
    s.disks[1].id = xstrdup("e");
    free(s.disks[1].path);
    s.disks[1].path = NULL;
    expect_invalid(&s, "spec.disks[1]: give path (a volume id or an image "
                   "file), volumeId, sizeGib or imageVolumeId with "
                   "imageSnapshotId");
    s.disks[1].path = xstrdup("/b");
    s.disks[1].volume_id = xstrdup("v1");
    expect_invalid(&s, "spec.disks[1]: give either path or volumeId");
    free(s.disks[1].path);
    s.disks[1].path = NULL;
    s.disks[0].volume_id = xstrdup("v1");
    free(s.disks[0].path);
    s.disks[0].path = NULL;
    expect_invalid(&s, "spec.disks[1].volumeId: volume v1 is used twice");
    free(s.disks[1].volume_id);
    s.disks[1].volume_id = NULL;
    s.disks[1].path = xstrdup("/b");

    s.n_nics = 2;
    s.nics = xcalloc(2, sizeof *s.nics);
    s.nics[0].id = xstrdup("n0");
    strcpy(s.nics[0].port_id, "nope");
    expect_invalid(&s, "spec.nics[0].portId");
    strcpy(s.nics[0].port_id, ID);
    s.nics[1].id = xstrdup("n1");
    strcpy(s.nics[1].port_id, ID);
    expect_invalid(&s, "spec.nics[1]: portId");
    s.nics[1].port_id[35] = '9';
    assert_null(lq_vm_spec_validate(&s, false));
    lq_vm_spec_add_label(&s, "", "x");
    expect_invalid(&s, "labels");
    lq_vm_spec_clear(&s);
}

/* A volume disk (RBD network source with a cephx secret) and a NIC on a
 * port, as the domain gets them; and the metadata naming both. */
static void
test_xml_volume_disk_and_nic(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;
    base_spec(&s);
    s.n_disks = 1;
    s.disks = xcalloc(1, sizeof *s.disks);
    struct lq_disk_spec *d = &s.disks[0];
    d->id = xstrdup("root");
    d->volume_id = xstrdup("v-1");
    d->source = xzalloc(sizeof *d->source);
    d->source->type = xstrdup("network");
    d->source->protocol = xstrdup("rbd");
    d->source->name = xstrdup("rbd/lq-v-1");
    d->source->format = xstrdup("raw");
    d->source->n_hosts = 2;
    d->source->hosts = xcalloc(2, sizeof *d->source->hosts);
    d->source->hosts[0] = (struct lq_disk_host) {
        xstrdup("127.0.0.1"), xstrdup("3300"), xstrdup("v2") };
    d->source->hosts[1] = (struct lq_disk_host) {
        xstrdup("[::1]"), xstrdup(""), xstrdup("") };
    d->source->auth_username = xstrdup("admin");
    d->source->secret_type = xstrdup("ceph");
    strcpy(d->secret_uuid, "11111111-2222-4333-8444-555555555555");
    s.n_nics = 1;
    s.nics = xcalloc(1, sizeof *s.nics);
    s.nics[0].id = xstrdup("eth0");
    strcpy(s.nics[0].port_id, "8f4caea0-71d4-40df-8680-001d79842b7b");
    strcpy(s.nics[0].mac, "0a:00:00:00:00:01");
    s.nics[0].bridge = xstrdup("br-int");
    s.cpu_cores = 2;
    assert_null(lq_vm_spec_validate(&s, false));

    char *xml = lq_domain_xml(&s, "pw345678");
    assert_int_equal(xpath_count(xml, "/domain/devices/disk[@type='network']"
                                 "/source[@protocol='rbd'][@name="
                                 "'rbd/lq-v-1']"), 1);
    assert_int_equal(xpath_count(xml, "//disk/source/host[@name='127.0.0.1']"
                                 "[@port='3300']"), 1);
    /* libvirt wants IPv6 hosts without brackets. */
    assert_int_equal(xpath_count(xml, "//disk/source/host[@name='::1']"), 1);
    assert_int_equal(xpath_count(xml, "//disk/auth[@username='admin']/secret"
                                 "[@type='ceph'][@uuid='11111111-2222-4333-"
                                 "8444-555555555555']"), 1);
    assert_int_equal(xpath_count(xml, "//disk/alias[@name='ua-lqd-root']"),
                     1);
    assert_int_equal(xpath_count(xml, "/domain/devices/interface"
                                 "[@type='bridge']/virtualport[@type="
                                 "'openvswitch']/parameters[@interfaceid="
                                 "'8f4caea0-71d4-40df-8680-001d79842b7b']"),
                     1);
    assert_int_equal(xpath_count(xml, "//interface/target[@dev="
                                 "'lq8f4caea071d4']"), 1);
    assert_int_equal(xpath_count(xml, "//interface/mac[@address="
                                 "'0a:00:00:00:00:01']"), 1);
    /* Multiqueue = vCPUs. */
    assert_int_equal(xpath_count(xml, "//interface/driver[@queues='2']"), 1);
    assert_int_equal(xpath_count(xml, "//graphics[@type='vnc'][not(@port)]"
                                 "[@passwd='pw345678']/listen[@type="
                                 "'none']"), 1);
    assert_int_equal(xpath_count(xml, "//graphics[@listen]"), 0);
    /* The guest agents' ports, sockets placed by libvirt (no path). */
    assert_int_equal(xpath_count(xml, "/domain/devices/channel[@type='unix']"
                                 "[source[@mode='bind'][not(@path)]]/target"
                                 "[@type='virtio'][@name="
                                 "'org.qemu.guest_agent.0']"), 1);
    assert_int_equal(xpath_count(xml, "/domain/devices/channel/target[@name="
                                 "'org.limiquantix.agent.0']"), 1);
    free(xml);

    /* The metadata names the volume and the port, and parses back. */
    xml = lq_domain_xml(&s, NULL);
    assert_int_equal(xpath_count(xml, "//graphics"), 0);
    const char *start = strstr(xml, "<lq:vm");
    const char *end = strstr(xml, "</lq:vm>");
    assert_non_null(start);
    char *meta = xmemdup0(start, end + strlen("</lq:vm>") - start);
    struct lq_vm_metadata m;
    assert_null(lq_vm_metadata_parse(meta, &m));
    assert_int_equal(m.n_disks, 1);
    assert_string_equal(m.disks[0].id, "root");
    assert_string_equal(m.disks[0].ref, "v-1");
    assert_false(m.disks[0].readonly);
    assert_int_equal(m.n_nics, 1);
    assert_string_equal(m.nics[0].ref, "8f4caea0-71d4-40df-8680-001d79842b7b");
    /* Rewritten for hot-plug: the same content comes back. */
    assert_true(lq_vm_metadata_remove(&m.disks, &m.n_disks, "root"));
    lq_vm_metadata_add(&m.disks, &m.n_disks, "data", "v-2", true);
    char *again = lq_vm_metadata_xml(&m);
    struct lq_vm_metadata m2;
    assert_null(lq_vm_metadata_parse(again, &m2));
    assert_string_equal(m2.fingerprint, m.fingerprint);
    assert_int_equal(m2.n_disks, 1);
    assert_string_equal(m2.disks[0].ref, "v-2");
    assert_true(m2.disks[0].readonly);
    lq_vm_metadata_clear(&m);
    lq_vm_metadata_clear(&m2);
    free(again);
    free(meta);
    free(xml);

    /* One device for hot-plug. */
    xml = lq_disk_xml(d, "vdc");
    assert_int_equal(xpath_count(xml, "/disk/target[@dev='vdc']"), 1);
    free(xml);
    xml = lq_nic_xml(&s.nics[0], 1);
    assert_int_equal(xpath_count(xml, "/interface/driver"), 0);
    free(xml);
    /* On OVS's userspace datapath the offloads are off. */
    s.nics[0].no_offloads = true;
    xml = lq_nic_xml(&s.nics[0], 1);
    assert_int_equal(xpath_count(xml, "/interface/driver/host[@csum='off']"
                                 "[@tso4='off']"), 1);
    assert_int_equal(xpath_count(xml, "/interface/driver/guest[@csum='off']"),
                     1);
    free(xml);

    /* The DPDK fast path: a vhost-user NIC with QEMU as the server, no
     * tap, no offload settings; the guest's memory in shared hugepages and
     * MSI-X off for virtio-net under TCG. */
    s.nics[0].no_offloads = false;
    s.nics[0].vhost_socket = xstrdup("/run/lq/vhost/lq8f4caea071d4");
    s.shared_hugepages = true;
    xml = lq_nic_xml(&s.nics[0], 2);
    assert_int_equal(xpath_count(xml, "/interface[@type='vhostuser']/source"
                                 "[@type='unix'][@mode='server'][@path="
                                 "'/run/lq/vhost/lq8f4caea071d4']"), 1);
    assert_int_equal(xpath_count(xml, "/interface/driver[@queues='2']"), 1);
    assert_int_equal(xpath_count(xml, "/interface/target"), 0);
    assert_int_equal(xpath_count(xml, "/interface/virtualport"), 0);
    assert_int_equal(xpath_count(xml, "/interface/alias[@name='ua-lqn-eth0']"),
                     1);
    free(xml);
    xml = lq_domain_xml(&s, NULL);
    assert_int_equal(xpath_count(xml, "/domain/memoryBacking[hugepages]"
                                 "[source/@type='memfd']"
                                 "[access/@mode='shared']"), 1);
    assert_non_null(strstr(xml, "xmlns:qemu=\"http://libvirt.org/schemas/"
                            "domain/qemu/1.0\""));
    const char *cl = strstr(xml, "<qemu:commandline>");
    assert_non_null(cl);
    const char *g = strstr(cl, "<qemu:arg value=\"-global\"/>");
    assert_non_null(g);
    assert_non_null(strstr(g, "<qemu:arg value=\"virtio-net-pci.vectors=0"
                           "\"/>"));
    free(xml);
    lq_vm_spec_clear(&s);
}

/* Firmware, boot order, CD-ROMs and disk I/O tuning. */
static void
test_xml_boot_cdrom_iotune(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;
    base_spec(&s);
    free(s.kernel_path);
    s.kernel_path = NULL;
    s.firmware = LQ_FIRMWARE_UEFI;
    s.boot[0] = LQ_BOOT_CDROM;
    s.boot[1] = LQ_BOOT_HD;
    s.n_boot = 2;
    s.n_cdroms = 1;
    s.cdroms = xcalloc(1, sizeof *s.cdroms);
    s.cdroms[0].id = xstrdup("install");
    s.cdroms[0].path = xstrdup("/srv/debian.iso");
    s.n_disks = 1;
    s.disks = xcalloc(1, sizeof *s.disks);
    s.disks[0].id = xstrdup("root");
    s.disks[0].path = xstrdup("/dev/null");
    s.disks[0].io = LQ_DISK_IO_NATIVE;
    s.disks[0].discard = true;
    s.disks[0].iops_limit = 500;
    s.disks[0].throughput_bytes = 1 << 20;
    assert_null(lq_vm_spec_validate(&s, false));

    char *xml = lq_domain_xml(&s, NULL);
    assert_int_equal(xpath_count(xml, "/domain/os[@firmware='efi']"), 1);
    assert_int_equal(xpath_count(xml, "/domain/os/boot"), 2);
    assert_int_equal(xpath_count(xml, "/domain/os/boot[1][@dev='cdrom']"), 1);
    assert_int_equal(xpath_count(xml, "//disk[@device='cdrom']/source"
                                 "[@file='/srv/debian.iso']"), 1);
    assert_int_equal(xpath_count(xml, "//disk[@device='cdrom']/target"
                                 "[@dev='hdc'][@bus='ide']"), 1);
    assert_int_equal(xpath_count(xml, "//disk[@device='cdrom']/readonly"), 1);
    assert_int_equal(xpath_count(xml, "//disk[@device='disk']/driver"
                                 "[@io='native'][@discard='unmap']"), 1);
    assert_int_equal(xpath_count(xml, "//disk/iotune[total_iops_sec='500']"
                                 "[total_bytes_sec='1048576']"), 1);
    free(xml);

    s.disks[0].cache = LQ_DISK_CACHE_WRITEBACK;
    expect_invalid(&s, "spec.disks[0].io: native needs cache none");
    s.disks[0].cache = LQ_DISK_CACHE_NONE;
    s.boot[1] = LQ_BOOT_CDROM;
    expect_invalid(&s, "spec.bootOrder[1]: listed twice");
    s.boot[1] = LQ_BOOT_HD;
    s.kernel_path = xstrdup("/k");
    expect_invalid(&s, "spec.bootOrder: not with spec.kernelPath");
    lq_vm_spec_clear(&s);
}

static void
test_fingerprint_and_metadata(void **state OVS_UNUSED)
{
    struct lq_vm_spec a, b;
    char fa[41], fb[41];

    base_spec(&a);
    base_spec(&b);
    lq_vm_spec_add_label(&a, "x", "1");
    lq_vm_spec_add_label(&a, "a", "2");
    assert_false(lq_vm_spec_add_label(&a, "a", "3"));
    lq_vm_spec_add_label(&b, "a", "2");
    lq_vm_spec_add_label(&b, "x", "1");
    lq_vm_spec_fingerprint(&a, fa);
    lq_vm_spec_fingerprint(&b, fb);
    assert_string_equal(fa, fb);        /* Label order does not matter. */
    b.memory_mib++;
    lq_vm_spec_fingerprint(&b, fb);
    assert_string_not_equal(fa, fb);

    /* Our element as it is in the domain XML (with its namespace)... */
    char *xml = lq_domain_xml(&a, NULL);
    char *start = strstr(xml, "<lq:vm");
    char *end = strstr(xml, "</lq:vm>");
    assert_non_null(start);
    assert_non_null(end);
    end[strlen("</lq:vm>")] = '\0';
    struct lq_vm_metadata m;
    assert_null(lq_vm_metadata_parse(start, &m));
    assert_string_equal(m.fingerprint, fa);
    assert_int_equal(m.n_labels, 2);
    assert_string_equal(m.labels[0].key, "a");
    assert_string_equal(m.labels[1].value, "1");
    lq_vm_metadata_clear(&m);
    free(xml);

    /* ...and as virDomainGetMetadata() returns it (no namespace). */
    assert_null(lq_vm_metadata_parse(
        "<vm><fingerprint>abc</fingerprint><label key='k&amp;'>v&lt;</label>"
        "</vm>", &m));
    assert_string_equal(m.fingerprint, "abc");
    assert_int_equal(m.n_labels, 1);
    assert_string_equal(m.labels[0].key, "k&");
    assert_string_equal(m.labels[0].value, "v<");
    lq_vm_metadata_clear(&m);

    struct lq_error *e = lq_vm_metadata_parse("<other/>", &m);
    assert_non_null(e);
    lq_error_free(e);
    e = lq_vm_metadata_parse("not xml", &m);
    assert_non_null(e);
    lq_error_free(e);

    lq_vm_spec_clear(&a);
    lq_vm_spec_clear(&b);
}

static struct lq_error *
parse(const char *text, struct lq_vm_spec *s)
{
    struct json *j = json_from_string(text);
    assert_int_equal(j->type, JSON_OBJECT);
    lq_vm_spec_init(s);
    struct lq_error *e = lq_rpc_compute_parse_create(j, s);
    json_destroy(j);
    return e;
}

static void
expect_parse_error(const char *text, enum lq_code code, const char *prefix)
{
    struct lq_vm_spec s;
    struct lq_error *e = parse(text, &s);
    assert_non_null(e);
    assert_int_equal(e->code, code);
    if (strncmp(e->message, prefix, strlen(prefix))) {
        fail_msg("%s: expected \"%s...\", got \"%s\"", text, prefix,
                 e->message);
    }
    lq_error_free(e);
    lq_vm_spec_clear(&s);
}

static void
test_parse_create(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;
    assert_null(parse(
        "{\"vm_id\": \"6F1C9A52-0000-4000-8000-000000000001\", \"name\": \"n\","
        " \"spec\": {\"cpuCores\": 2, \"memory_mib\": \"512\","
        " \"kernelPath\": \"/k\", \"kernelCmdline\": \"\","
        " \"disks\": [{\"id\": \"d0\", \"path\": \"/d\", \"bus\": \"DISK_BUS_SATA\","
        " \"readonly\": true}], \"nics\": []},"
        " \"labels\": {\"b\": \"2\", \"a\": \"1\"}}", &s));
    assert_string_equal(s.id, ID);
    assert_int_equal(s.cpu_cores, 2);
    assert_int_equal(s.cpu_sockets, 1);
    assert_int_equal(s.memory_mib, 512);
    assert_string_equal(s.kernel_path, "/k");
    assert_null(s.kernel_cmdline);      /* "" is unset. */
    assert_int_equal(s.n_disks, 1);
    assert_int_equal(s.disks[0].bus, LQ_DISK_BUS_SATA);
    assert_true(s.disks[0].readonly);
    assert_int_equal(s.n_labels, 2);
    assert_string_equal(s.labels[0].key, "a");
    lq_vm_spec_clear(&s);

    /* The contract's enum names and numbers, and its field names. */
    assert_null(parse(
        "{\"spec\": {\"memoryMib\": 64, \"cpuThreadsPerCore\": 2,"
        " \"firmware\": \"FIRMWARE_UEFI\", \"bootOrder\": "
        "[\"BOOT_DEVICE_CDROM\", 2, 0], \"cdroms\": [{\"id\": \"c\","
        " \"isoPath\": \"/i.iso\"}], \"disks\": [{\"id\": \"a\", \"path\":"
        " \"/a\", \"bus\": \"DISK_BUS_IDE\"}, {\"id\": \"b\", \"path\": "
        "\"/b\", \"bus\": 1}], \"nics\": [{\"portId\": \"" ID "\", "
        "\"model\": \"NIC_MODEL_RTL8139\"}, {\"portId\": \"" ID "\", "
        "\"model\": 1}]}}", &s));
    assert_int_equal(s.cpu_threads, 2);
    assert_int_equal(s.firmware, LQ_FIRMWARE_UEFI);
    assert_int_equal(s.n_boot, 3);
    assert_int_equal(s.boot[0], LQ_BOOT_CDROM);
    assert_int_equal(s.boot[1], LQ_BOOT_NETWORK);
    assert_int_equal(s.boot[2], LQ_BOOT_HD);
    assert_string_equal(s.cdroms[0].path, "/i.iso");
    assert_int_equal(s.disks[0].bus, LQ_DISK_BUS_IDE);
    assert_int_equal(s.disks[1].bus, LQ_DISK_BUS_SCSI);
    assert_int_equal(s.nics[0].model, LQ_NIC_RTL8139);
    assert_int_equal(s.nics[1].model, LQ_NIC_E1000);
    lq_vm_spec_clear(&s);

    /* proto3: 0 is "not set" in both codecs (the default of 1); the
     * seed's throughputMbps (MiB/s) is our throughputBytes. */
    assert_null(parse("{\"spec\": {\"memoryMib\": 64, \"cpuCores\": 0, "
                      "\"disks\": [{\"id\": \"a\", \"path\": \"/a\", "
                      "\"throughputMbps\": \"2\"}]}}", &s));
    assert_int_equal(s.cpu_cores, 1);
    assert_int_equal(s.disks[0].throughput_bytes, 2 * 1048576);
    lq_vm_spec_clear(&s);

    /* No id: one is generated. */
    assert_null(parse("{\"name\": \"n\", \"spec\": {\"memoryMib\": 64}}",
                      &s));
    assert_int_equal(strlen(s.id), 36);
    lq_vm_spec_clear(&s);

    expect_parse_error("{\"name\": \"n\"}", LQ_INVALID_ARGUMENT, "spec");
    expect_parse_error("{\"spec\": {\"memoryMib\": 0}}", LQ_INVALID_ARGUMENT,
                       "spec.memoryMib");
    expect_parse_error("{\"spec\": {\"memoryMib\": -5}}", LQ_INVALID_ARGUMENT,
                       "spec.memoryMib");
    expect_parse_error("{\"vmId\": \"x\", \"spec\": {}}", LQ_INVALID_ARGUMENT,
                       "vmId: expected a UUID");
    /* What the contract does not have is refused, naming it: the words
     * this API took before the contract among them. */
    expect_parse_error("{\"id\": \"" ID "\", \"spec\": {}}",
                       LQ_INVALID_ARGUMENT, "id: unknown field");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"cpuThreads\": 2}}",
                       LQ_INVALID_ARGUMENT, "spec.cpuThreads: unknown field");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"serialLogPath\": "
                       "\"/tmp/x\"}}", LQ_INVALID_ARGUMENT,
                       "spec.serialLogPath: unknown field");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"cpuCores\": \"x\"}}",
                       LQ_INVALID_ARGUMENT, "spec.cpuCores: ");
    expect_parse_error("{\"spec\": {\"memoryMib\": true}}",
                       LQ_INVALID_ARGUMENT, "spec.memoryMib: ");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"disks\": "
                       "[{\"id\": 5}]}}", LQ_INVALID_ARGUMENT,
                       "spec.disks[0].id: ");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"disks\": {}}}",
                       LQ_INVALID_ARGUMENT, "spec.disks");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"disks\": "
                       "[{\"id\": \"d\", \"path\": \"/p\", "
                       "\"cache\": \"x\"}]}}",
                       LQ_INVALID_ARGUMENT, "spec.disks[0].cache");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"firmware\": "
                       "\"coreboot\"}}", LQ_INVALID_ARGUMENT,
                       "spec.firmware: expected FIRMWARE_BIOS or "
                       "FIRMWARE_UEFI (a Firmware name or number), not "
                       "\"coreboot\"");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"firmware\": 2}}",
                       LQ_INVALID_ARGUMENT, "spec.firmware: expected");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"disks\": "
                       "[{\"id\": \"d\", \"path\": \"/p\", "
                       "\"bus\": \"DISK_BUS_NVME\"}]}}", LQ_INVALID_ARGUMENT,
                       "spec.disks[0].bus: expected DISK_BUS_VIRTIO, "
                       "DISK_BUS_SCSI, DISK_BUS_SATA or DISK_BUS_IDE");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"bootOrder\": "
                       "[\"BOOT_DEVICE_DISK\", \"floppy\"]}}", LQ_INVALID_ARGUMENT,
                       "spec.bootOrder[1]");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"disks\": "
                       "[{\"id\": \"d\", \"path\": \"/p\", "
                       "\"io\": \"aio\"}]}}", LQ_INVALID_ARGUMENT,
                       "spec.disks[0].io");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"disks\": "
                       "[{\"id\": \"d\", \"path\": \"/p\", "
                       "\"iopsLimit\": -1}]}}", LQ_INVALID_ARGUMENT,
                       "spec.disks[0].iopsLimit");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"disks\": "
                       "[{\"id\": \"d\", \"path\": \"/p\", "
                       "\"throughputMbps\": 1, \"throughputBytes\": 5}]}}",
                       LQ_INVALID_ARGUMENT,
                       "spec.disks[0].throughputMbps: differs");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"cdroms\": "
                       "[1]}}", LQ_INVALID_ARGUMENT, "spec.cdroms[0]");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"nics\": "
                       "[{\"portId\": \"p\"}]}}", LQ_INVALID_ARGUMENT,
                       "spec.nics[0].portId: expected a UUID");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"nics\": "
                       "[{\"network\": \"net1\"}]}}", LQ_INVALID_ARGUMENT,
                       "spec.nics[0].network: expected a UUID");
    static const char *const bad_macs[] = {
        "0a:00:00:00:00", "0a-00-00-00-00-01", "01:00:5e:00:00:01",
        "00:00:00:00:00:00", "0a:00:00:00:00:0g", "0a:00:00:00:00:01x",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad_macs); i++) {
        char *text = xasprintf("{\"spec\": {\"memoryMib\": 1, \"nics\": "
                               "[{\"network\": \"" ID "\", \"macAddress\": "
                               "\"%s\"}]}}", bad_macs[i]);
        expect_parse_error(text, LQ_INVALID_ARGUMENT,
                           "spec.nics[0].macAddress");
        free(text);
    }
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"disks\": "
                       "[{\"id\": \"d\", \"sizeGib\": -1}]}}",
                       LQ_INVALID_ARGUMENT, "spec.disks[0].sizeGib");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1, \"nics\": [{\"portId\":"
                       " \"" ID "\", \"model\": \"rtl\"}]}}",
                       LQ_INVALID_ARGUMENT, "spec.nics[0].model");
    expect_parse_error("{\"spec\": {\"memoryMib\": 1}, \"labels\": "
                       "{\"a\": 1}}", LQ_INVALID_ARGUMENT, "labels.a");
}

/* The seed's ways of naming devices (docs/proto.md): a NIC by network
 * or by host bridge, a disk by size or by a volume id in "path". */
static void
test_seed_devices(void **state OVS_UNUSED)
{
    /* Derived ids are RFC 9562 UUIDv5s (checked against Python's
     * uuid.uuid5() with our namespace). */
    char id[37];
    lq_vm_device_id(ID, "nic", "eth0", id);
    assert_string_equal(id, "b7079a45-5e49-5bf7-bf9f-aafa52610791");
    lq_vm_device_id(ID, "disk", "root", id);
    assert_string_equal(id, "99538871-d6ed-5bc0-8247-13cc5135909b");
    char tap[16];
    lq_nic_bridge_tap_name(ID, "eth0", tap);
    assert_string_equal(tap, "lqbb7079a455e49");

    struct lq_vm_spec s;
    assert_null(parse(
        "{\"vmId\": \"" ID "\", \"name\": \"n\", \"spec\": "
        "{\"memoryMib\": 64, \"disks\": [{\"id\": \"root\", \"path\": "
        "\"vol-1\", \"sizeGib\": \"10\"}, {\"id\": \"data\", "
        "\"sizeGib\": \"20\"}], \"nics\": [{\"id\": \"eth0\", "
        "\"network\": \"" ID "\", \"macAddress\": \"0A:00:00:00:00:01\"},"
        " {\"id\": \"eth1\", \"bridge\": \"br0\"}]}}", &s));
    assert_string_equal(s.disks[0].path, "vol-1");
    assert_int_equal(s.disks[1].size_gib, 20);
    assert_string_equal(s.nics[0].network_id, ID);
    assert_string_equal(s.nics[0].req_mac, "0a:00:00:00:00:01");
    assert_string_equal(s.nics[1].host_bridge, "br0");
    /* What lq_compute makes of them (compute_prepare_devices()). */
    s.disks[0].volume_id = s.disks[0].path;
    s.disks[0].path = NULL;
    s.disks[0].volume_in_path = true;
    lq_vm_device_id(ID, "disk", "data", id);
    s.disks[1].volume_id = xstrdup(id);
    s.disks[1].owned = true;
    lq_vm_device_id(ID, "nic", "eth0", s.nics[0].port_id);
    s.nics[0].owned = true;
    lq_nic_bridge_tap_name(ID, "eth1", s.nics[1].bridge_dev);
    assert_null(lq_vm_spec_validate(&s, false));
    for (size_t i = 0; i < 2; i++) {    /* As lq_resolve_disk() sets it. */
        struct lq_disk_source *src = xzalloc(sizeof *src);
        src->type = xstrdup("file");
        src->path = xasprintf("/pool/%s.qcow2", s.disks[i].volume_id);
        src->format = xstrdup("qcow2");
        s.disks[i].source = src;
    }

    /* A plain bridge NIC: no virtualport, the operator's bridge, no MAC
     * unless asked (libvirt makes one). */
    char *xml = lq_domain_xml(&s, NULL);
    assert_int_equal(xpath_count(xml, "/domain/devices/interface[@type="
                                 "'bridge'][source/@bridge='br0']"), 1);
    assert_int_equal(xpath_count(xml, "/domain/devices/interface[source/"
                                 "@bridge='br0']/virtualport"), 0);
    assert_int_equal(xpath_count(xml, "/domain/devices/interface[source/"
                                 "@bridge='br0']/mac"), 0);
    lq_nic_bridge_tap_name(ID, "eth1", tap);
    char *xp = xasprintf("//interface[source/@bridge='br0']/target[@dev="
                         "'%s']", tap);
    assert_int_equal(xpath_count(xml, xp), 1);
    free(xp);
    /* The owned port and volume are marked so in the metadata, the
     * caller's volume is not; the bridge NIC has no port. */
    const char *start = strstr(xml, "<lq:vm");
    const char *end = strstr(xml, "</lq:vm>");
    char *meta = xmemdup0(start, end + strlen("</lq:vm>") - start);
    struct lq_vm_metadata m;
    assert_null(lq_vm_metadata_parse(meta, &m));
    assert_int_equal(m.n_disks, 2);
    assert_string_equal(m.disks[0].ref, "vol-1");
    assert_false(m.disks[0].owned);
    assert_string_equal(m.disks[1].ref, id);
    assert_true(m.disks[1].owned);
    assert_int_equal(m.n_nics, 2);
    assert_string_equal(m.nics[0].ref, "b7079a45-5e49-5bf7-bf9f-aafa52610791");
    assert_true(m.nics[0].owned);
    assert_string_equal(m.nics[1].ref, "");
    assert_false(m.nics[1].owned);
    lq_vm_metadata_clear(&m);
    free(meta);
    free(xml);

    /* The fingerprint sees the seed's fields. */
    char fa[41], fb[41];
    lq_vm_spec_fingerprint(&s, fa);
    s.disks[1].size_gib = 21;
    lq_vm_spec_fingerprint(&s, fb);
    assert_string_not_equal(fa, fb);
    s.disks[1].size_gib = 20;
    s.nics[0].req_mac[0] = '\0';
    lq_vm_spec_fingerprint(&s, fb);
    assert_string_not_equal(fa, fb);

    /* Exactly one of portId, network and bridge. */
    s.nics[0].owned = false;        /* portId as the caller's. */
    expect_invalid(&s, "spec.nics[0].network: give either portId");
    s.nics[0].network_id[0] = '\0';
    strcpy(s.nics[1].port_id, "8f4caea0-71d4-40df-8680-001d79842b7b");
    expect_invalid(&s, "spec.nics[1].bridge: a bridge NIC has no port");
    s.nics[1].port_id[0] = '\0';
    free(s.nics[1].host_bridge);
    s.nics[1].host_bridge = NULL;
    expect_invalid(&s, "spec.nics[1]: give portId, network or bridge");
    s.nics[1].host_bridge = xstrdup("br0/../x");
    expect_invalid(&s, "spec.nics[1].bridge: not a bridge name");
    free(s.nics[1].host_bridge);
    s.nics[1].host_bridge = xstrdup("br0");
    /* A volume id in "path" that is not one: the error names path. */
    free(s.disks[0].volume_id);
    s.disks[0].volume_id = xstrdup("a/b");
    expect_invalid(&s, "spec.disks[0].path: not a volume id");
    lq_vm_spec_clear(&s);
}

/* startedAt from the QEMU process (qemu_proc.c): its domain UUID from
 * /proc/PID/cmdline, its start from /proc/PID/stat. */
/* cloud-init: the seed's files (JSON, nothing spliced into YAML), the
 * checks, the CD-ROM in the XML, and no secret in the XML or the
 * fingerprint. */
static void
test_cloud_init(void **state OVS_UNUSED)
{
    struct lq_vm_spec s;
    assert_null(parse(
        "{\"vmId\": \"" ID "\", \"name\": \"web1\", \"spec\": "
        "{\"memoryMib\": 64, \"cloudInit\": {\"sshAuthorizedKeys\": "
        "[\"ssh-ed25519 AAAA k1\\\"\\nx: y\"], \"password\": \"s3cret\"}}}",
        &s));
    /* A key with a newline is refused by the validation... */
    expect_invalid(&s, "spec.cloudInit.sshAuthorizedKeys[0]");
    free(s.cloud_init->ssh_keys[0]);
    s.cloud_init->ssh_keys[0] = xstrdup("ssh-ed25519 AAAA k1\" x: y");
    assert_null(lq_vm_spec_validate(&s, false));

    struct lq_cidata_files f;
    lq_cidata_files_build(&s, &f);
    struct json *meta = json_from_string(f.meta_data);
    assert_int_equal(meta->type, JSON_OBJECT);
    assert_string_equal(json_string(shash_find_data(json_object(meta),
                                                    "instance-id")), ID);
    assert_string_equal(json_string(shash_find_data(json_object(meta),
                                                    "local-hostname")),
                        "web1");
    /* ...the quote stays inside its JSON string. */
    const struct json *keys = shash_find_data(json_object(meta),
                                              "public-keys");
    assert_int_equal(json_array(keys)->n, 1);
    assert_string_equal(json_string(json_array(keys)->elems[0]),
                        "ssh-ed25519 AAAA k1\" x: y");
    json_destroy(meta);
    assert_true(!strncmp(f.user_data, "#cloud-config\n", 14));
    struct json *ud = json_from_string(f.user_data + 14);
    assert_string_equal(json_string(shash_find_data(json_object(ud),
                                                    "password")), "s3cret");
    assert_true(json_boolean(shash_find_data(json_object(ud),
                                             "ssh_pwauth")));
    json_destroy(ud);
    assert_null(f.network_config);
    /* The ISO: 0600, a volume labelled "cidata" (the primary volume
     * descriptor at 32 KiB: type 1, "CD001", the volume id at 40). */
    char dir[] = "/tmp/lq-cidata-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *iso = xasprintf("%s/seed.iso", dir);
    struct lq_error *we = lq_cidata_write_iso(&f, iso);
    if (we) {
        fail_msg("%s", we->message);
    }
    struct stat st;
    assert_int_equal(stat(iso, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *fp = fopen(iso, "rb");
    char pvd[2048];
    assert_int_equal(fseek(fp, 16 * 2048, SEEK_SET), 0);
    assert_int_equal(fread(pvd, 1, sizeof pvd, fp), sizeof pvd);
    fclose(fp);
    assert_int_equal(pvd[0], 1);
    assert_memory_equal(pvd + 1, "CD001", 5);
    assert_memory_equal(pvd + 40, "CIDATA ", 7);
    /* CloneVM reads it back (libisofs) and makes it another instance's:
     * the same user-data and keys, a new instance-id and hostname. */
    struct lq_cidata_files back;
    struct lq_error *re = lq_cidata_read_iso(iso, &back);
    if (re) {
        fail_msg("%s", re->message);
    }
    assert_string_equal(back.meta_data, f.meta_data);
    assert_string_equal(back.user_data, f.user_data);
    assert_null(back.network_config);
    assert_null(lq_cidata_reinstance(&back, ID2, "web2"));
    meta = json_from_string(back.meta_data);
    assert_string_equal(json_string(shash_find_data(json_object(meta),
                                                    "instance-id")), ID2);
    assert_string_equal(json_string(shash_find_data(json_object(meta),
                                                    "local-hostname")),
                        "web2");
    assert_int_equal(json_array(shash_find_data(json_object(meta),
                                                "public-keys"))->n, 1);
    json_destroy(meta);
    /* UpdateVM's seed: instance-id "<id>-<8 hex of the content>", the
     * same for the same content, another for other user-data. */
    struct lq_cidata_files again = {
        xstrdup(back.meta_data), xstrdup(back.user_data), NULL };
    lq_cidata_revise(&back, ID2);
    lq_cidata_revise(&again, ID2);
    assert_string_equal(back.meta_data, again.meta_data);
    meta = json_from_string(back.meta_data);
    const char *rev = json_string(shash_find_data(json_object(meta),
                                                  "instance-id"));
    assert_int_equal(strlen(rev), strlen(ID2) + 9);
    assert_true(!strncmp(rev, ID2 "-", strlen(ID2) + 1));
    assert_int_equal(strspn(rev + strlen(ID2) + 1, "0123456789abcdef"), 8);
    json_destroy(meta);
    free(again.user_data);
    again.user_data = xstrdup("#cloud-config\n{\"a\": 1}\n");
    lq_cidata_revise(&again, ID2);
    assert_string_not_equal(back.meta_data, again.meta_data);
    lq_cidata_files_clear(&again);
    /* A caller's own YAML meta-data is not rewritten, but refused. */
    free(back.meta_data);
    back.meta_data = xstrdup("instance-id: i-1\n");
    lq_cidata_revise(&back, ID2);       /* Theirs: kept as it is. */
    assert_string_equal(back.meta_data, "instance-id: i-1\n");
    re = lq_cidata_reinstance(&back, ID2, "web2");
    assert_non_null(re);
    assert_int_equal(re->code, LQ_FAILED_PRECONDITION);
    assert_true(!strncmp(re->message, "cloudInit: ", 11));
    lq_error_free(re);
    lq_cidata_files_clear(&back);
    /* Not a seed: an error, nothing read. */
    re = lq_cidata_read_iso("/proc/self/status", &back);
    assert_non_null(re);
    lq_error_free(re);
    assert_null(back.meta_data);
    unlink(iso);
    rmdir(dir);
    free(iso);
    lq_cidata_files_clear(&f);

    s.cidata_path = xstrdup("/var/lib/lq/" ID ".cidata.iso");
    char *xml = lq_domain_xml(&s, NULL);
    assert_non_null(xml);
    char *src = xpath_text(xml, "string(/domain/devices/disk[alias/@name="
                           "'ua-lq-cidata']/source/@file)");
    assert_null(strstr(xml, "s3cret"));
    assert_non_null(strstr(xml, "<alias name=\"ua-lq-cidata\"/>"));
    assert_non_null(strstr(xml, ID ".cidata.iso"));
    assert_non_null(strstr(xml, "dev=\"hdc\""));
    free(src);
    free(xml);

    /* The fingerprint changes with the seed but not with the password. */
    char fp1[41], fp2[41], fp3[41];
    lq_vm_spec_fingerprint(&s, fp1);
    free(s.cloud_init->password);
    s.cloud_init->password = xstrdup("other");
    lq_vm_spec_fingerprint(&s, fp2);
    assert_string_equal(fp1, fp2);
    s.cloud_init->hostname = xstrdup("web2");
    lq_vm_spec_fingerprint(&s, fp3);
    assert_string_not_equal(fp1, fp3);

    /* The checks, each naming its field and never quoting a secret. */
    s.cloud_init->password_hash = xstrdup("$6$x$y");
    expect_invalid(&s, "spec.cloudInit.password: give password or "
                   "passwordHash");
    free(s.cloud_init->password);
    s.cloud_init->password = NULL;
    s.cloud_init->user_data = xstrdup("#cloud-config\n{}\n");
    expect_invalid(&s, "spec.cloudInit.passwordHash: not with userData");
    free(s.cloud_init->password_hash);
    s.cloud_init->password_hash = NULL;
    assert_null(lq_vm_spec_validate(&s, false));
    s.cloud_init->meta_data = xstrdup("instance-id: x\n");
    expect_invalid(&s, "spec.cloudInit.metaData: not with hostname");
    free(s.cloud_init->meta_data);
    s.cloud_init->meta_data = NULL;
    free(s.cloud_init->hostname);
    s.cloud_init->hostname = xstrdup("bad_host");
    expect_invalid(&s, "spec.cloudInit.hostname");
    free(s.cloud_init->hostname);
    s.cloud_init->hostname = NULL;
    s.cloud_init->user = xstrdup("Root");
    expect_invalid(&s, "spec.cloudInit.user");
    free(s.cloud_init->user);
    s.cloud_init->user = NULL;
    s.cloud_init->password_hash = xstrdup("plain-not-a-hash");
    free(s.cloud_init->user_data);
    s.cloud_init->user_data = NULL;
    struct lq_error *e = lq_vm_spec_validate(&s, false);
    assert_non_null(e);
    assert_null(strstr(e->message, "plain-not-a-hash"));
    lq_error_free(e);
    lq_vm_spec_clear(&s);
}

static void
test_qemu_proc(void **state OVS_UNUSED)
{
    static const char cmd[] = "/usr/bin/qemu-system-x86_64\0-name\0"
        "guest=vm1,debug-threads=on\0-S\0-uuid\0"
        "6F1C9A52-0000-4000-8000-000000000001\0-smp\0" "1\0";
    char uuid[37];
    assert_true(lq_qemu_cmdline_uuid(cmd, sizeof cmd - 1, uuid));
    assert_string_equal(uuid, ID);
    /* Not QEMU; no -uuid; a truncated or malformed value. */
    static const char other[] = "/bin/sleep\0-uuid\0" ID "\0";
    assert_false(lq_qemu_cmdline_uuid(other, sizeof other - 1, uuid));
    static const char none[] = "qemu-kvm\0-m\0" "64\0";
    assert_false(lq_qemu_cmdline_uuid(none, sizeof none - 1, uuid));
    static const char cut[] = "qemu-kvm\0-uuid\0" "6f1c9a52-0000";
    assert_false(lq_qemu_cmdline_uuid(cut, sizeof cut - 1, uuid));
    static const char bad[] = "qemu-kvm\0-uuid\0"
        "6f1c9a52-0000-4000-8000-00000000000x\0";
    assert_false(lq_qemu_cmdline_uuid(bad, sizeof bad - 1, uuid));
    static const char last[] = "qemu-kvm\0-uuid";
    assert_false(lq_qemu_cmdline_uuid(last, sizeof last - 1, uuid));

    unsigned long long t;
    /* A COMM with spaces and parentheses; starttime is field 22. */
    assert_true(lq_proc_stat_starttime(
        "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 6 0 0 20 "
        "0 3 0 987654 123456789 100 18446744073709551615\n", &t));
    assert_int_equal(t, 987654);
    assert_false(lq_proc_stat_starttime("4242 (qemu) S 1 2 3", &t));
    assert_false(lq_proc_stat_starttime("no parenthesis", &t));
    assert_false(lq_proc_stat_starttime(
        "1 (q) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12x 5\n", &t));
}

/* MigrateVM's target (issue 13): a node name of node.yaml, or a URI
 * whose host is a peer; the libvirt URI is always the node's own. */
static void
expect_uri(struct lq_compute *c, const char *target, const char *want)
{
    char *uri = (void *) 1;
    struct lq_error *e = lq_compute_migration_uri(c, "targetNodeUri", target,
                                                  &uri);
    if (want) {
        if (e) {
            fail_msg("%s: %s", target, e->message);
        }
        assert_string_equal(uri, want);
        free(uri);
    } else {
        assert_non_null(e);
        assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
        assert_true(!strncmp(e->message, "targetNodeUri: ", 15));
        assert_null(uri);
        lq_error_free(e);
    }
}

static void
test_migration_targets(void **state)
{
    (void) state;
    static const char yaml[] =
        "hypervisor:\n"
        "  migration:\n"
        "    peers:\n"
        "      node-b: 10.0.0.2\n"
        "      node-c: \"[fd00::3]:16509\"\n"
        "      lab: \"qemu+unix:///system?socket=/run/lab/libvirt-sock\"\n";
    struct lq_config *cfg;
    assert_null(lq_config_parse("node.yaml", yaml, strlen(yaml), &cfg));
    assert_null(lq_config_validate(cfg));
    struct lq_compute *c;
    assert_null(lq_compute_create("test:///default", &c));
    lq_compute_configure(c, cfg);

    expect_uri(c, "node-b", "qemu+tls://10.0.0.2/system");
    expect_uri(c, "10.0.0.2", "qemu+tls://10.0.0.2/system");
    expect_uri(c, "qemu+tcp://10.0.0.2/system", "qemu+tls://10.0.0.2/system");
    /* Only the host of a caller's URI counts; its options never. */
    expect_uri(c, "qemu+ssh://root@node-b:22/system?no_verify=1",
               "qemu+tls://10.0.0.2/system");
    expect_uri(c, "node-c", "qemu+tls://[fd00::3]:16509/system");
    expect_uri(c, "qemu+tls://[fd00::3]/system",
               "qemu+tls://[fd00::3]:16509/system");
    /* The operator's own URI for a peer is used as written. */
    expect_uri(c, "lab", "qemu+unix:///system?socket=/run/lab/libvirt-sock");

    expect_uri(c, "", NULL);
    expect_uri(c, "x y", NULL);
    expect_uri(c, "node-d", NULL);
    expect_uri(c, "qemu+ext:///system?command=/bin/true", NULL);
    expect_uri(c, "qemu+unix:///system?socket=/tmp/evil", NULL);
    expect_uri(c, "qemu+tcp://10.9.9.9/system", NULL);
    lq_compute_destroy(c);
    lq_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_required_elements),
        cmocka_unit_test(test_xml_console),
        cmocka_unit_test(test_xml_vcpu_hot_add),
        cmocka_unit_test(test_xml_memory_hot_add),
        cmocka_unit_test(test_xml_disks),
        cmocka_unit_test(test_xml_platform),
        cmocka_unit_test(test_xml_escaping),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_xml_volume_disk_and_nic),
        cmocka_unit_test(test_xml_boot_cdrom_iotune),
        cmocka_unit_test(test_fingerprint_and_metadata),
        cmocka_unit_test(test_parse_create),
        cmocka_unit_test(test_seed_devices),
        cmocka_unit_test(test_cloud_init),
        cmocka_unit_test(test_qemu_proc),
        cmocka_unit_test(test_migration_targets),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xmlCleanupParser();
    return rc;
}
