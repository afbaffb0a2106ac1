#include <config.h>
/* test_libvirt_sandbox.c: the C API against a private libvirtd.
 *
 * Starts tests/libvirt/libvirtd-sandbox through lq_sandbox_libvirt_start()
 * (the --sandbox path), defines a VM with lq_compute_*, then restarts
 * libvirtd under the same directory: while it is down calls answer
 * "unavailable", and afterwards the same lq_compute reconnects by itself
 * and still finds the VM (its metadata lives in libvirt).  Needs root and
 * libvirtd; skipped otherwise. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec.h"
#include "limiquantix/compute.h"
#include "sandbox_libvirt.h"
#include "util.h"

#define ID "6f1c9a52-0000-4000-8000-0000000000aa"

static void
test_sandbox_and_reconnect(void **state OVS_UNUSED)
{
    if (geteuid() || access("/usr/sbin/libvirtd", X_OK)) {
        skip();
    }
    char dir[] = "/tmp/lq-libvirt-test-XXXXXX";
    assert_non_null(mkdtemp(dir));

    struct lq_sandbox_libvirt *sb;
    struct lq_error *e = lq_sandbox_libvirt_start(dir, NULL, &sb);
    if (e) {
        fail_msg("%s", e->message);
    }
    struct lq_compute *c;
    assert_null(lq_compute_create(lq_sandbox_libvirt_uri(sb), &c));
    /* The kernel must come from an image directory (node.yaml). */
    char *kernel = xasprintf("%s/vmlinuz", dir);
    FILE *f = fopen(kernel, "w");
    assert_non_null(f);
    fclose(f);
    struct lq_config *config = lq_config_new_default();
    lq_config_add_image_dir(config, dir);
    lq_compute_configure(c, config);
    lq_config_free(config);

    struct lq_vm_spec spec;
    lq_vm_spec_init(&spec);
    ovs_strlcpy(spec.id, ID, sizeof spec.id);
    spec.name = xstrdup("sandbox-vm");
    spec.memory_mib = 64;
    spec.kernel_path = kernel;                  /* Defined, never booted. */
    lq_vm_spec_add_label(&spec, "k", "v");
    struct lq_vm_status st;
    e = lq_compute_create_vm(c, &spec, &st, NULL);
    if (e) {
        fail_msg("%s", e->message);
    }
    assert_string_equal(st.id, ID);
    assert_int_equal(st.state, LQ_VM_STOPPED);
    lq_vm_status_clear(&st);

    /* libvirtd goes away: unavailable, not a crash or a hang. */
    lq_sandbox_libvirt_stop(sb);
    e = lq_compute_get_vm(c, ID, &st);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_UNAVAILABLE);
    lq_error_free(e);

    /* ...and comes back: the same handle reconnects, the VM is there. */
    e = lq_sandbox_libvirt_start(dir, NULL, &sb);
    if (e) {
        fail_msg("%s", e->message);
    }
    e = lq_compute_get_vm(c, ID, &st);
    if (e) {
        fail_msg("%s", e->message);
    }
    assert_string_equal(st.name, "sandbox-vm");
    assert_int_equal(st.n_labels, 1);
    lq_vm_status_clear(&st);
    assert_null(lq_compute_create_vm(c, &spec, NULL, NULL));      /* Idempotent. */
    assert_null(lq_compute_delete_vm(c, ID));
    e = lq_compute_get_vm(c, ID, &st);
    assert_non_null(e);
    assert_int_equal(e->code, LQ_NOT_FOUND);
    lq_error_free(e);

    struct lq_vm_status *vms;
    size_t n;
    assert_null(lq_compute_list_vms(c, &vms, &n));
    assert_int_equal(n, 0);
    lq_vm_status_free_array(vms, n);

    lq_vm_spec_clear(&spec);
    lq_compute_destroy(c);
    lq_sandbox_libvirt_stop(sb);
    const char *rm[] = { "rm", "-rf", dir, NULL };
    assert_null(lq_exec(rm, NULL, 30000, NULL));
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* As the daemon: a dead libvirtd's socket. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_and_reconnect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
