"""computetest: helpers for the compute tests.

- ComputeDaemon: limiquantix-node without --sandbox (no private OVS/OVN),
  with hypervisor.libvirt_uri set in its node.yaml.
- LibvirtSandbox: tests/libvirt/libvirtd-sandbox, a private libvirtd in a
  temporary directory, stopped by pid.
- build_initramfs(): a tiny busybox initramfs written in pure Python (cpio
  "newc"), whose /init prints markers on the serial console and powers off
  on the ACPI power button, read from its evdev device (unless the kernel command line says
  lq.ignore_acpi); with lq.poweroff_after=N it powers itself off N seconds
  after boot.
"""
import glob
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import lqtest  # noqa: E402

SANDBOX = os.path.join(HERE, "..", "libvirt", "libvirtd-sandbox")
BUSYBOX = "/bin/busybox"

# With lq.cidata on the kernel command line: mount the cloud-init seed (a
# CD-ROM on IDE (pc) whose iso9660 volume is labelled cidata) and print
# what cloud-init would read from it.
CIDATA = r"""if $B grep -q lq.cidata /proc/cmdline; then
    for m in scsi_common scsi_mod libata ata_piix cdrom sr_mod isofs; do
        $B insmod /lib/$m.ko
    done
    $B mkdir -p /cidata
    n=0
    while [ $n -lt 100 ]; do
        for d in /dev/sr*; do
            [ -b $d ] && $B mount -t iso9660 -o ro $d /cidata 2>/dev/null \
                && [ -f /cidata/meta-data ] && break 2
        done
        n=$((n + 1)); $B sleep 0.2
    done
    if [ -f /cidata/meta-data ]; then
        echo "LQ-CIDATA-FILES $($B ls /cidata | $B tr '\n' ' ')"
        echo "LQ-CIDATA-MODE $($B stat -c %a /cidata/user-data)"
        echo "LQ-CIDATA-USERDATA $($B grep -o 'LQ-MARK-[A-Za-z0-9]*' /cidata/user-data)"
        echo "LQ-CIDATA-KEY $($B grep -o 'ssh-ed25519 [A-Za-z0-9+/=]* [a-z0-9@.-]*' /cidata/meta-data)"
        echo "LQ-CIDATA-ID $($B grep -o '"instance-id":"[^"]*"' /cidata/meta-data)"
        echo "LQ-CIDATA-HOST $($B grep -o '"local-hostname":"[^"]*"' /cidata/meta-data)"
        if $B grep -q lq.cidata_watch /proc/cmdline; then
            # A seed loaded again into the running drive (UpdateVM): read
            # it afresh every second, print what changed.
            ( last=; while :; do
                $B umount /cidata 2>/dev/null
                if $B mount -t iso9660 -o ro $d /cidata 2>/dev/null; then
                    now="$($B grep -o 'LQ-MARK-[A-Za-z0-9]*' /cidata/user-data) $($B grep -o '"instance-id":"[^"]*"' /cidata/meta-data)"
                    [ "$now" != "$last" ] && echo "LQ-CIDATA-NOW $now" && last=$now
                fi
                $B sleep 1
              done ) &
        fi
    else
        echo "LQ-CIDATA-NONE"
    fi
fi
"""

INIT = r"""#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
echo "LQ-GUEST-BOOTED uptime=$($B cut -d' ' -f1 /proc/uptime)"
if $B grep -q lq.ignore_acpi /proc/cmdline; then
    echo "LQ-GUEST-IGNORING-ACPI"
else
    $B insmod /lib/button.ko
    $B insmod /lib/evdev.ko
    PB=
    for e in /sys/class/input/event*; do
        [ "$($B cat $e/device/name)" = "Power Button" ] && PB=/dev/input/${e##*/}
    done
    # Any event from the power button (the ACPI shutdown request) powers off.
    ( $B dd if=$PB of=/dev/null bs=24 count=1 2>/dev/null
      echo "LQ-GUEST-POWER-BUTTON"
      $B poweroff -f ) &
    echo "LQ-GUEST-ACPI-READY $PB"
fi
if $B grep -q lq.memwatch /proc/cmdline; then
    # Memory hot-add: the kernel says nothing when a DIMM comes online
    # (memhp_default_state=online), so print MemTotal whenever it moves.
    ( last=; while :; do
        m=$($B grep MemTotal /proc/meminfo)
        [ "$m" != "$last" ] && echo "LQ-MEM $m" && last=$m
        $B sleep 1
      done ) &
fi
""" + CIDATA + r"""for arg in $($B cat /proc/cmdline); do
    case $arg in lq.poweroff_after=*)
        $B sleep ${arg#*=}
        echo "LQ-GUEST-POWERING-OFF"
        $B poweroff -f ;;
    esac
done
while :; do $B sleep 3600; done
"""



def kernel():
    """Debian's kernel (linux-image-amd64) and its module directory."""
    found = sorted(glob.glob("/boot/vmlinuz-*"))
    if not found:
        return None, None
    k = found[-1]
    version = os.path.basename(k)[len("vmlinuz-"):]
    return k, "/lib/modules/" + version


def missing_prerequisites():
    """Why a real-guest test cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root"
    for prog in ("libvirtd", "virsh", "qemu-system-x86_64", "unshare"):
        if not shutil.which(prog):
            return "%s not installed" % prog
    k, mods = kernel()
    if not k or not os.path.isdir(mods or ""):
        return "no /boot/vmlinuz-* with modules (linux-image-amd64)"
    if not os.path.exists(BUSYBOX):
        return "no %s (busybox-static)" % BUSYBOX
    return None


def _cpio_entry(out, ino, name, mode, data=b"", target=None):
    if target is not None:
        data = target.encode()
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
    out.write(hdr.encode() + name_b)
    out.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
    out.write(data)
    out.write(b"\0" * ((4 - len(data) % 4) % 4))


# A guest with virtio NICs and disks (test_vm_attach.py): DHCP on eth0
# from OVN, TCP listeners on 80 and 22 answering "ok-PORT", probes of the
# peer given by lq.peer=IP (ping, then each port), and a watcher for the
# first hot-plugged virtio disk: lq.disk=write writes "LQ-PATTERN-<lq.pattern>"
# to it, lq.disk=read prints what it holds; lq.heartbeat prints its uptime
# every second.
INIT_NET = r"""#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev /tmp
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
echo "LQ-GUEST-BOOTED"
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
         virtio_pci failover net_failover virtio_net virtio_blk; do
    $B insmod /lib/$m.ko
done
""" + CIDATA + r"""arg() { for a in $($B cat /proc/cmdline); do
    case $a in $1=*) echo ${a#*=};; esac; done; }
MODE=$(arg lq.disk)
if [ -n "$MODE" ]; then
    ( while [ ! -b /dev/vda ]; do $B sleep 0.2; done
      if [ "$MODE" = write ]; then
          echo "LQ-PATTERN-$(arg lq.pattern)" | $B dd of=/dev/vda conv=fsync 2>/dev/null
          echo "LQ-GUEST-DISK-WRITTEN"
      else
          echo "LQ-GUEST-DISK-READ $($B head -c 64 /dev/vda | $B head -n 1)"
      fi ) &
fi
$B ip link set lo up
$B ip link set eth0 up
$B udhcpc -i eth0 -s /bin/dhcp-script -q -f -n -t 30 -T 1 || echo "LQ-GUEST-DHCP-FAILED"
for p in 80 22; do
    ( while :; do $B nc -l -p $p -e /bin/ok-$p; done ) &
done
P=$(arg lq.peer)
if [ -n "$P" ]; then
    n=0
    until $B ping -c 1 -W 1 $P >/dev/null 2>&1 || [ $n -ge 120 ]; do
        n=$((n + 1)); $B sleep 0.5
    done
    if $B ping -c 1 -W 2 $P >/dev/null 2>&1; then echo "LQ-GUEST-PING-OK"
    else echo "LQ-GUEST-PING-FAIL"; fi
    echo "LQ-GUEST-TCP80 [$(echo | $B nc -w 3 $P 80 2>/dev/null)]"
    echo "LQ-GUEST-TCP22 [$(echo | $B nc -w 3 $P 22 2>/dev/null)]"
fi
if $B grep -q lq.heartbeat /proc/cmdline; then
    while :; do
        echo "LQ-GUEST-ALIVE $($B cut -d' ' -f1 /proc/uptime)"; $B sleep 1
    done
fi
while :; do $B sleep 3600; done
"""

DHCP_SCRIPT = r"""#!/bin/busybox sh
if [ "$1" = bound ]; then
    /bin/busybox ip addr add $ip/$mask dev $interface
    echo "LQ-GUEST-DHCP $ip/$mask router=$router dns=$dns"
fi
"""

# An IDE CD-ROM with an iso9660 file system (the cloud-init seed).
CDROM_MODULES = ["kernel/drivers/scsi/scsi_common.ko",
                 "kernel/drivers/scsi/scsi_mod.ko",
                 "kernel/drivers/ata/libata.ko",
                 "kernel/drivers/ata/ata_piix.ko",
                 "kernel/drivers/cdrom/cdrom.ko",
                 "kernel/drivers/scsi/sr_mod.ko",
                 "kernel/fs/isofs/isofs.ko"]

NET_MODULES = ["kernel/drivers/virtio/virtio.ko",
               "kernel/drivers/virtio/virtio_ring.ko",
               "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
               "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
               "kernel/drivers/virtio/virtio_pci.ko",
               "kernel/net/core/failover.ko",
               "kernel/drivers/net/net_failover.ko",
               "kernel/drivers/net/virtio_net.ko",
               "kernel/drivers/block/virtio_blk.ko"]


# A guest running Debian's qemu-guest-agent on its org.qemu.guest_agent.0
# port (test_vm_agent.py).  It ignores ACPI; its hostname is
# lq-agent-guest, eth0 asks DHCP with lq.dhcp, and the programs the agent runs
# print markers on the console: /sbin/shutdown (then powers off),
# /sbin/hwclock (guest-set-time), the fsfreeze hook (LQ-QGA-HOOK freeze /
# thaw; with lq.freeze_fail_once it refuses the first freeze).  The
# agent logs (verbosely) to the console.
INIT_AGENT = r"""#!/bin/busybox sh
B=/bin/busybox
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
$B mkdir -p /proc /sys /dev /tmp /run /var/run
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
echo "LQ-GUEST-BOOTED"
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
         virtio_pci failover net_failover virtio_net virtio_blk \
         virtio_console; do
    $B insmod /lib/$m.ko
done
arg() { for a in $($B cat /proc/cmdline); do
    case $a in $1=*) echo ${a#*=};; esac; done; }
$B hostname lq-agent-guest
$B ip link set lo up
if $B grep -q lq.dhcp /proc/cmdline; then
    n=0
    while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do
        n=$((n + 1)); $B sleep 0.2
    done
    $B ip link set eth0 up
    ( $B udhcpc -i eth0 -s /bin/dhcp-script -q -f -n -t 60 -T 1 \
        || echo "LQ-GUEST-DHCP-FAILED" ) &
fi
$B grep -q lq.freeze_fail_once /proc/cmdline && $B touch /tmp/freeze-fail-once
PORT=
n=0
while [ -z "$PORT" ] && [ $n -lt 100 ]; do
    for p in /sys/class/virtio-ports/vport*; do
        [ "$($B cat $p/name 2>/dev/null)" = org.qemu.guest_agent.0 ] \
            && PORT=/dev/${p##*/}
    done
    n=$((n + 1)); [ -z "$PORT" ] && $B sleep 0.2
done
/usr/sbin/qemu-ga -m virtio-serial -p $PORT -v \
    --fsfreeze-hook=/etc/qemu/fsfreeze-hook -f /tmp/qga.pid -t /tmp &
echo "LQ-QGA-STARTED $PORT"
while :; do $B sleep 3600; done
"""

AGENT_FILES = {
    "etc/os-release": (0o644, 'ID=lqguest\nNAME="LQ Test Guest"\n'
                               'VERSION_ID=7\nPRETTY_NAME="LQ Test Guest 7"\n'),
    "etc/qemu/fsfreeze-hook": (0o755, r"""#!/bin/busybox sh
if [ "$1" = freeze ] && [ -f /tmp/freeze-fail-once ]; then
    /bin/busybox rm /tmp/freeze-fail-once
    echo "LQ-QGA-HOOK refuse" > /dev/console
    exit 1
fi
echo "LQ-QGA-HOOK $1" > /dev/console
"""),
    "sbin/shutdown": (0o755, r"""#!/bin/busybox sh
echo "LQ-QGA-SHUTDOWN $*" > /dev/console
( /bin/busybox sleep 0.5; /bin/busybox poweroff -f ) &
"""),
    "sbin/hwclock": (0o755, r"""#!/bin/busybox sh
echo "LQ-QGA-HWCLOCK $*" > /dev/console
"""),
    # guest-set-user-password: "user:password" on stdin.  Prints the user
    # and a digest of the password, never the password.
    "sbin/chpasswd": (0o755, r"""#!/bin/busybox sh
read -r line
d=$(printf %s "${line#*:}" | /bin/busybox sha256sum | /bin/busybox cut -c1-16)
echo "LQ-QGA-CHPASSWD [$*] user=${line%%:*} sha=$d" > /dev/console
"""),
}

QGA = "/usr/sbin/qemu-ga"


def _agent_binaries():
    """qemu-ga and the shared objects it loads (ldd), by the paths they
    are loaded from."""
    out = subprocess.run(["ldd", QGA], capture_output=True, text=True,
                         check=True).stdout
    paths = [QGA]
    for line in out.splitlines():
        parts = line.split()
        for p in parts:
            if p.startswith("/"):
                paths.append(p)
                break
    return paths


def build_initramfs(path, net=False, agent=False):
    """Writes an uncompressed newc initramfs to 'path': the ACPI test
    guest, with net=True the virtio NIC/disk guest (INIT_NET), with
    agent=True the guest agent's (INIT_AGENT)."""
    _, mods = kernel()

    def read(p):
        with open(p, "rb") as f:
            return f.read()

    files = [
        ("bin", stat.S_IFDIR | 0o755, b""),
        ("etc", stat.S_IFDIR | 0o755, b""),
        ("lib", stat.S_IFDIR | 0o755, b""),
        ("bin/busybox", stat.S_IFREG | 0o755, read(BUSYBOX)),
        ("init", stat.S_IFREG | 0o755,
         (INIT_AGENT if agent else INIT_NET if net else INIT).encode()),
        ("lib/button.ko", stat.S_IFREG | 0o644,
         read(mods + "/kernel/drivers/acpi/button.ko")),
        ("lib/evdev.ko", stat.S_IFREG | 0o644,
         read(mods + "/kernel/drivers/input/evdev.ko")),
    ]
    for m in CDROM_MODULES:
        files.append(("lib/" + os.path.basename(m), stat.S_IFREG | 0o644,
                      read(mods + "/" + m)))
    if agent:
        dirs = set()
        extra = [(p.lstrip("/"), 0o755, read(p)) for p in _agent_binaries()]
        extra += [(name, mode, data.encode())
                  for name, (mode, data) in AGENT_FILES.items()]
        for name, _, _ in extra:
            d = os.path.dirname(name)
            while d and d not in ("bin", "etc", "lib"):
                dirs.add(d)
                d = os.path.dirname(d)
        for d in sorted(dirs):
            files.append((d, stat.S_IFDIR | 0o755, b""))
        for name, mode, data in extra:
            files.append((name, stat.S_IFREG | mode, data))
        files.append(("lib/virtio_console.ko", stat.S_IFREG | 0o644,
                      read(mods + "/kernel/drivers/char/virtio_console.ko")))
    if net or agent:
        for m in NET_MODULES:
            files.append(("lib/" + os.path.basename(m),
                          stat.S_IFREG | 0o644, read(mods + "/" + m)))
        files.append(("bin/dhcp-script", stat.S_IFREG | 0o755,
                      DHCP_SCRIPT.encode()))
        for p in (80, 22):
            files.append(("bin/ok-%d" % p, stat.S_IFREG | 0o755,
                          ("#!/bin/busybox sh\necho ok-%d\n" % p).encode()))
    with open(path, "wb") as out:
        for ino, (name, mode, data) in enumerate(files, 1):
            _cpio_entry(out, ino, name, mode, data)
        _cpio_entry(out, len(files) + 1, "bin/sh", stat.S_IFLNK | 0o777,
                    target="busybox")
        _cpio_entry(out, 0, "TRAILER!!!", 0)


def wait_for(pred, timeout, what):
    """Polls 'pred' until true; fails the test after 'timeout' seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def read_serial(path):
    """A guest's serial log so far ("" before QEMU created it)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class SerialMixin:
    """For test cases with guests: wait for a marker on a serial log."""

    def serial(self, path):
        return read_serial(path)

    def wait_serial(self, path, marker, timeout=120):
        wait_for(lambda: marker in read_serial(path), timeout,
                 "%s in %s:\n%s" % (marker, path, read_serial(path)[-3000:]))


class LibvirtSandbox:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lq-libvirtd-")
        self.uri = None

    def start(self, tcp_port=None, own_dir=None):
        """With 'tcp_port', also on qemu+tcp://127.0.0.1:PORT (the URI
        printed, and self.uri): a migration target.  With 'own_dir', it
        and its guests see an empty directory of their own there
        (self.own), as another host would."""
        env = dict(os.environ)
        if tcp_port:
            env["LQ_LIBVIRTD_TCP_PORT"] = str(tcp_port)
        if own_dir:
            env["LQ_LIBVIRTD_OWN_DIR"] = own_dir
            self.own = os.path.join(self.dir, "own")
        r = subprocess.run([SANDBOX, "start", self.dir], capture_output=True,
                           text=True, timeout=90, env=env)
        if r.returncode:
            raise RuntimeError("libvirtd-sandbox: " + r.stderr)
        self.uri = r.stdout.strip()
        return self

    def stop(self):
        subprocess.run([SANDBOX, "stop", self.dir], timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)

    def virsh(self, *args):
        return subprocess.run(["virsh", "-c", self.uri] + list(args),
                              capture_output=True, text=True, timeout=60)


class ComputeDaemon(lqtest.Daemon):
    """limiquantix-node without --sandbox: hypervisor.libvirt_uri from the
    node.yaml, a Unix socket and a loopback port in a private directory."""

    def __init__(self, uri, image_dirs=(), peers=None, hypervisor=None,
                 env=None, metrics=False, config=""):
        """'image_dirs': the directories whose files CreateVM may name
        (Debian's kernel in /boot always, for the guests); 'peers':
        migration targets, node name -> libvirt URI; 'hypervisor': more
        keys of that section (virt_type, machine...); 'env': added to the
        daemon's environment; 'metrics': serve /metrics on
        self.metrics_port (else none); 'config': more node.yaml
        sections (storage...)."""
        super().__init__(config="")
        # The node's own per-VM files (serial logs) stay in the test's
        # directory.
        with open(self.config_path, "w") as f:
            f.write(lqtest.hypervisor_yaml(
                libvirt_uri=uri, image_dirs=["/boot"] + list(image_dirs),
                peers=peers, state_dir=os.path.join(self.dir, "vms"),
                extra=hypervisor) + config)
        self.env = dict(env or {})
        self.socket = os.path.join(self.dir, "node.sock")
        self.args = [lqtest.NODE, "-c", self.config_path,
                     "--unix-socket", self.socket,
                     "--listen", "127.0.0.1:%d" % self.port,
                     "--metrics-port",
                     str(self.metrics_port) if metrics else "0"]
