/* platform.c: the hardware a new domain gets (hypervisor.virt_type,
 * machine, cpu_mode, cpu_model), as Nova's libvirt driver decides it.
 *
 * Design decisions:
 * - virt_type "auto" is KVM when /dev/kvm opens read-write *and* libvirt's
 *   domain capabilities for virttype kvm answer (QEMU built with KVM, the
 *   module loaded); resolved once per daemon, since KVM does not come and
 *   go.  "kvm" insists: a host without it refuses new VMs with
 *   failed_precondition saying why (and GetNodeInfo says "qemu" is not in
 *   use), rather than running them 10-50x slower unnoticed.
 * - With KVM: machine q35 (modern PCIe, what Nova and Proxmox default to)
 *   and CPU host-model (Nova's default: the host's CPU as a named model,
 *   migratable between like hosts).  Under TCG: machine pc and QEMU's own
 *   CPU model (host-model/passthrough need KVM), so emulated guests keep
 *   IDE CD-ROMs and boot as before.
 * - q35 has no IDE controller: CD-ROMs go on SATA and an IDE disk is
 *   invalid_argument naming the field. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "compute_impl.h"
#include "limiquantix/config.h"
#include "util.h"

/* Where KVM lives ($LQ_KVM_DEVICE for tests). */
static const char *
kvm_device(void)
{
    const char *dev = getenv("LQ_KVM_DEVICE");
    return dev && *dev ? dev : "/dev/kvm";
}

/* Sets c->kvm_usable (and why not); 'c->mutex' held. */
static void
probe_kvm(struct lq_compute *c, virConnectPtr conn)
{
    const char *dev = kvm_device();
    int fd = open(dev, O_RDWR | O_CLOEXEC);
    free(c->kvm_problem);
    c->kvm_problem = NULL;
    if (fd < 0) {
        c->kvm_problem = xasprintf("%s: %s", dev, ovs_strerror(errno));
        c->kvm_usable = 0;
        return;
    }
    close(fd);
    char *caps = virConnectGetDomainCapabilities(conn, NULL, NULL, NULL,
                                                 "kvm", 0);
    if (!caps) {
        virErrorPtr e = virGetLastError();
        c->kvm_problem = xasprintf("libvirt has no kvm domains: %s",
                                   e && e->message ? e->message : "unknown");
        c->kvm_usable = 0;
        return;
    }
    free(caps);
    c->kvm_usable = 1;
}

/* Whether new domains are KVM; '*problem' (borrowed) says why not when
 * virt_type is kvm and KVM is not usable (NULL otherwise). */
static bool
platform_kvm(struct lq_compute *c, virConnectPtr conn, const char **problem)
{
    *problem = NULL;
    if (!strcmp(c->virt_type, "qemu")) {
        return false;
    }
    ovs_mutex_lock(&c->mutex);
    if (c->kvm_usable < 0) {
        probe_kvm(c, conn);
    }
    bool kvm = c->kvm_usable > 0;
    if (!kvm && !strcmp(c->virt_type, "kvm")) {
        *problem = c->kvm_problem;
    }
    ovs_mutex_unlock(&c->mutex);
    return kvm;
}

bool
lq_machine_is_q35(const char *machine)
{
    return machine && (!strcmp(machine, "q35") || strstr(machine, "-q35"));
}

static const char *
platform_machine(const struct lq_compute *c, bool kvm)
{
    return c->machine ? c->machine : kvm ? "q35" : "pc";
}

static const char *
platform_cpu_mode(const struct lq_compute *c, bool kvm)
{
    return c->cpu_mode ? c->cpu_mode : kvm ? "host-model" : NULL;
}

struct lq_error *
compute_apply_platform(struct lq_compute *c, virConnectPtr conn,
                       struct lq_vm_spec *spec)
{
    const char *problem;
    bool kvm = platform_kvm(c, conn, &problem);
    if (problem) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "hypervisor.virt_type "
                            "is kvm, but KVM is not usable on this host "
                            "(%s)", problem);
    }
    spec->kvm = kvm;
    spec->machine = platform_machine(c, kvm);
    spec->cpu_mode = platform_cpu_mode(c, kvm);
    spec->cpu_model = c->cpu_model;
    if (lq_machine_is_q35(spec->machine)) {
        for (size_t i = 0; i < spec->n_disks; i++) {
            if (spec->disks[i].bus == LQ_DISK_BUS_IDE) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "spec.disks[%zu]."
                                    "bus: DISK_BUS_IDE, but this node's "
                                    "machine type %s has no IDE controller "
                                    "(use DISK_BUS_SATA, or hypervisor."
                                    "machine pc)", i, spec->machine);
            }
        }
    }
    return NULL;
}

void
compute_platform_caps(struct lq_compute *c, virConnectPtr conn,
                      struct lq_hypervisor_caps *caps)
{
    const char *problem;
    bool kvm = platform_kvm(c, conn, &problem);
    ovs_strlcpy(caps->virt_type, problem ? "" : kvm ? "kvm" : "qemu",
                sizeof caps->virt_type);
    ovs_strlcpy(caps->machine, platform_machine(c, kvm),
                sizeof caps->machine);
    const char *mode = platform_cpu_mode(c, kvm);
    ovs_strlcpy(caps->cpu_mode, mode ? mode : "", sizeof caps->cpu_mode);
}

void
compute_platform_clear(struct lq_compute *c)
{
    free(c->virt_type);
    free(c->machine);
    free(c->cpu_mode);
    free(c->cpu_model);
    free(c->kvm_problem);
    c->virt_type = c->machine = c->cpu_mode = c->cpu_model = NULL;
    c->kvm_problem = NULL;
}
