"""lvmguest: run a command inside a throw-away QEMU/TCG guest that has
device-mapper (this host's kernel has none), or that writes to a network
disk through QEMU's own driver.

The guest boots Debian's kernel (linux-image-amd64) with a tiny busybox
initramfs that loads virtio, 9p and dm-thin-pool modules, mounts the
host's root file system over virtio-9p READ-ONLY, and runs the command
chrooted into it (so the build tree, python and lvm2 are the host's),
with tmpfs on /tmp, /run and /var/tmp.  The only disk it can write is a
sparse file the caller passes, which the guest sees as /dev/vda.  The
command's output goes to the serial console (a file on the host); the
guest then powers off.  Nothing in the guest can touch the host's disks:
the root is read-only and no host block device is passed through.
"""
import os
import re
import shlex
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "compute"))
import computetest  # noqa: E402

MODULES = ["virtio_pci", "virtio_blk", "9pnet_virtio", "9p", "crc32c_generic",
           "dm-thin-pool"]

INIT = r"""#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev /host
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in $($B cat /modules.order); do $B insmod /lib/$m.ko || echo "LQ-GUEST insmod $m failed"; done
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /host || echo "LQ-GUEST 9p mount failed"
for d in tmp run var/tmp; do $B mount -t tmpfs tmpfs /host/$d; done
$B mount -t proc proc /host/proc
$B mount -t sysfs sys /host/sys
$B mount -t devtmpfs dev /host/dev
echo "LQ-GUEST-READY uptime=$($B cut -d' ' -f1 /proc/uptime)"
$B cp /lq-run /host/tmp/lq-run
$B chroot /host /bin/sh /tmp/lq-run < /dev/null > /dev/ttyS0 2>&1
echo "LQ-GUEST-RC=$?"
$B sync
$B poweroff -f
"""


def _module_order(moddir, names):
    deps = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
    by_name = {}
    for path in deps:
        base = os.path.basename(path)
        base = re.sub(r"\.ko(\.[a-z]+)?$", "", base)
        by_name[base.replace("_", "-")] = path
    order = []

    def visit(path):
        if path in order:
            return
        for d in deps[path]:
            visit(d)
        order.append(path)

    for n in names:
        visit(by_name[n.replace("_", "-")])
    return order


def build_initramfs(path, script):
    """The initramfs; 'script' (sh) runs in the chroot as /tmp/lq-run."""
    _, moddir = computetest.kernel()
    order = _module_order(moddir, MODULES)

    def read(p):
        with open(p, "rb") as f:
            return f.read()

    files = [
        ("bin", stat.S_IFDIR | 0o755, b""),
        ("lib", stat.S_IFDIR | 0o755, b""),
        ("bin/busybox", stat.S_IFREG | 0o755, read(computetest.BUSYBOX)),
        ("init", stat.S_IFREG | 0o755,
         INIT.encode()),
        ("lq-run", stat.S_IFREG | 0o755, script.encode()),
    ]
    names = []
    for p in order:
        name = re.sub(r"\.ko(\.[a-z]+)?$", "", os.path.basename(p))
        names.append(name)
        files.append(("lib/%s.ko" % name, stat.S_IFREG | 0o644,
                      read(os.path.join(moddir, p))))
    files.append(("modules.order", stat.S_IFREG | 0o644,
                  "\n".join(names).encode()))
    with open(path, "wb") as out:
        for ino, (name, mode, data) in enumerate(files, 1):
            computetest._cpio_entry(out, ino, name, mode, data)
        computetest._cpio_entry(out, len(files) + 1, "bin/sh",
                                stat.S_IFLNK | 0o777, target="busybox")
        computetest._cpio_entry(out, 0, "TRAILER!!!", 0)


def missing_prerequisites():
    if os.geteuid() != 0:
        return "needs root"
    k, mods = computetest.kernel()
    if not k or not os.path.isdir(mods or ""):
        return "no /boot/vmlinuz-* with modules (linux-image-amd64)"
    for prog in ("qemu-system-x86_64", "lvm"):
        if not any(os.access(os.path.join(d, prog), os.X_OK)
                   for d in os.environ.get("PATH", "").split(":")
                   + ["/sbin", "/usr/sbin"]):
            return "%s not installed" % prog
    return None


def run(argv, env, disk, workdir, timeout=600, memory=1024):
    """Runs 'argv' (with 'env', a dict) in the guest; returns (rc, console
    text).  'disk' is what the guest sees as /dev/vda: a raw file, or an
    nfs:// URL (QEMU's own NFS driver, as a VM's network disk)."""
    lines = ["cd /"]
    lines.append("exec /usr/bin/env -i %s %s" % (
        " ".join(shlex.quote("%s=%s" % kv) for kv in sorted(env.items())),
        " ".join(shlex.quote(a) for a in argv)))
    initrd = os.path.join(workdir, "initramfs")
    # The script is read by the guest's /bin/sh from the initramfs.
    build_initramfs(initrd, "\n".join(lines) + "\n")
    console = os.path.join(workdir, "console.log")
    k, _ = computetest.kernel()
    cmd = ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m",
           str(memory), "-smp", "1", "-nographic", "-nodefaults",
           "-no-reboot", "-kernel", k, "-initrd", initrd, "-append",
           "console=ttyS0 panic=-1 quiet loglevel=3",
           "-serial", "file:" + console, "-monitor", "none",
           "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,"
           "readonly=on,multidevs=remap",
           "-drive", "file=%s,format=raw,if=virtio,cache=%s"
           % (disk, "none" if disk.startswith("nfs://") else "unsafe"),
           "-nic", "none"]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout)
    with open(console, errors="replace") as f:
        text = f.read()
    m = re.search(r"LQ-GUEST-RC=(\d+)", text)
    if proc.returncode or not m:
        return -1, text + proc.stderr
    return int(m.group(1)), text


if __name__ == "__main__":
    # A smoke run: lvm and python inside the guest.
    d = tempfile.mkdtemp(prefix="lq-lvmguest-")
    disk = os.path.join(d, "disk.raw")
    with open(disk, "wb") as f:
        f.truncate(256 << 20)
    rc, out = run(sys.argv[1:] or ["/bin/sh", "-c",
                                   "lvm version; ls /dev/mapper"],
                  {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, disk, d)
    print(out)
    print("rc", rc)
