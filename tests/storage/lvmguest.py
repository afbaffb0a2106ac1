"""lvmguest: run a command inside a throw-away QEMU/TCG guest that has
device-mapper (this host's kernel has none), or that writes to a network
disk through QEMU's own driver.

The guest boots Debian's kernel (linux-image-amd64) with a tiny busybox
initramfs that loads virtio, 9p and dm-thin-pool modules, mounts the
host's root file system over virtio-9p READ-ONLY, and runs the command
chrooted into it (so the build tree, python and lvm2 are the host's),
with a fresh tmpfs on /tmp, /run and /var/tmp.  What the command needs of
the host under those three (the source and build trees wherever the
checkout is, Python, absolute paths in its argv and environment, the
caller's 'expose' paths: needed_paths()) is bind-mounted back at its own
path, read-only, so the suite works from a clone in /tmp too.  The only
disk it can write is a sparse file the caller passes, which the guest
sees as /dev/vda.  The command's output goes to the serial console (a
file on the host); the guest then powers off.  Nothing in the guest can
touch the host's disks: the root is read-only and no host block device is
passed through.

tmpfs_keeping() does the same on the host, in a private mount namespace
(test_nfs3_guest.py's tmpfs on /run).
"""
import ctypes
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

TREE = os.path.realpath(os.path.join(HERE, "..", ".."))
# Where the guest mounts a fresh tmpfs (the host's copies are hidden).
GUEST_TMPFS = ("/tmp", "/run", "/var/tmp")

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
# The host's own /tmp, /run and /var/tmp stay reachable under /orig...
$B mkdir -p /orig
$B mount -o bind /host /orig
for d in tmp run var/tmp; do $B mount -t tmpfs tmpfs /host/$d; done
# ...for what the command needs of them, bound back at the same paths.
while IFS= read -r p; do
    [ -n "$p" ] || continue
    $B mkdir -p "/host$p" && $B mount -o bind "/orig$p" "/host$p" || echo "LQ-GUEST expose $p failed"
done < /expose
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


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _outermost(paths):
    """Real, existing directories (a file counts as its directory), none
    inside another."""
    dirs = set()
    for p in paths:
        p = os.path.realpath(p)
        if not os.path.exists(p):
            continue
        dirs.add(p if os.path.isdir(p) else os.path.dirname(p))
    out = []
    for p in sorted(dirs):
        if not any(_under(p, q) for q in out):
            out.append(p)
    return out


def needed_paths(argv=(), env=None, extra=()):
    """What a command needs to see of the host: the source tree, the build
    tree (the LQ_* binaries meson passes), Python's installation, the
    absolute paths among 'argv' and 'env' values, and 'extra'."""
    paths = [TREE, sys.prefix, sys.base_prefix, sys.executable]
    paths += [v for k, v in os.environ.items() if k.startswith("LQ_")]
    paths += list(argv) + list((env or {}).values()) + list(extra)
    return _outermost(p for p in paths if os.path.isabs(p))


def hidden_by(mountpoints, paths):
    """The paths that a fresh tmpfs on any of 'mountpoints' would hide
    (not the mountpoints themselves, which must stay writable)."""
    roots = [os.path.realpath(m) for m in mountpoints]
    return [p for p in paths
            if any(_under(p, r) and p != r for r in roots)]


MS_BIND, MS_REC = 4096, 16384


def _mount(src, target, fstype, flags, data):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(src.encode(), target.encode(),
                  fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                  data.encode() if data else None):
        e = ctypes.get_errno()
        raise OSError(e, "mount %s on %s: %s" % (src, target,
                                                os.strerror(e)))


def tmpfs_keeping(mountpoint, keep):
    """Mounts a fresh tmpfs on 'mountpoint' in this process's (private)
    mount namespace, with each of 'keep' that it would hide bind-mounted
    back from the original at its own path."""
    mp = os.path.realpath(mountpoint)
    # Each original stays reachable through a descriptor opened before the
    # tmpfs covers it (one on 'mountpoint' would lead into the tmpfs).
    fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY)
           for p in hidden_by([mp], _outermost(keep))}
    try:
        _mount("tmpfs", mp, "tmpfs", 0, "mode=755")
        for p, fd in fds.items():
            os.makedirs(p, exist_ok=True)
            _mount("/proc/self/fd/%d" % fd, p, None, MS_BIND | MS_REC, None)
    finally:
        for fd in fds.values():
            os.close(fd)


def build_initramfs(path, script, expose=()):
    """The initramfs; 'script' (sh) runs in the chroot as /tmp/lq-run, and
    'expose' (host directories under the guest's tmpfs mounts) are bound
    back into the chroot."""
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
        ("expose", stat.S_IFREG | 0o644,
         "".join(p + "\n" for p in expose).encode()),
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


def run(argv, env, disk, workdir, timeout=600, memory=1024, expose=()):
    """Runs 'argv' (with 'env', a dict) in the guest; returns (rc, console
    text).  'disk' is what the guest sees as /dev/vda: a raw file, or an
    nfs:// URL (QEMU's own NFS driver, as a VM's network disk).  The guest
    sees needed_paths(argv, env, expose) even if they are under /tmp,
    /run or /var/tmp."""
    lines = ["cd /"]
    lines.append("exec /usr/bin/env -i %s %s" % (
        " ".join(shlex.quote("%s=%s" % kv) for kv in sorted(env.items())),
        " ".join(shlex.quote(a) for a in argv)))
    initrd = os.path.join(workdir, "initramfs")
    # The script is read by the guest's /bin/sh from the initramfs.
    build_initramfs(initrd, "\n".join(lines) + "\n", hidden_by(
        GUEST_TMPFS, needed_paths(argv, env, expose)))
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
