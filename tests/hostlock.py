"""hostlock: keep tests that change host-global state away from each other.

A few things on this machine exist once per host, whatever the checkout or
build directory: the hugepage pools (/sys/kernel/mm/hugepages/*/nr_hugepages,
/proc/sys/vm/nr_hugepages), DPDK's runtime directory /var/run/dpdk (and the
fixed-name veth of test_dpdk_ports), tgtd's control sockets in
/var/run/tgtd, rpcbind's port 111, and the tap devices OVS's userspace
datapath makes for a --sandbox (ovs-netdev, br-int: lqtest.Daemon holds
"ovs-netdev" while it starts one).  Within one `meson test` such tests
are `is_parallel : false`, so meson runs each alone; hold() keeps them apart
from the same tests in another `meson test` too (build/ and build-asan/,
two clones, two people on one machine): one flock(2) per resource in
LOCK_DIR, taken in a fixed order (no deadlock), held until the process
exits (the kernel drops it even on SIGKILL).

keep_hugepages() records every hugepage pool's count and puts it back when
the test process ends, however it ends: normally, with an exception in a
setUp, or by meson's SIGTERM at a timeout.
"""
import atexit
import fcntl
import glob
import os
import signal
import sys

LOCK_DIR = "/run/lock/limiquantix-node-tests"
RESOURCES = ("dpdk", "hugepages", "ovs-netdev", "rpcbind", "tgtd")

_held = {}


def hold(*resources):
    """Takes the lock of each resource (waiting, with a message, while
    another test process holds it); a no-op for what this process holds."""
    for r in sorted(set(resources)):
        if r not in RESOURCES:
            raise ValueError("unknown host resource %r" % r)
        if r in _held:
            continue
        path = os.path.join(LOCK_DIR, r + ".lock")
        try:
            os.makedirs(LOCK_DIR, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except PermissionError:
            # Not root: the tests that need these resources skip anyway.
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
            sys.stderr.write("hostlock: waiting for %s, held by %s\n"
                             % (r, holder or "another test"))
            sys.stderr.flush()
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, ("pid %d: %s\n" % (os.getpid(), " ".join(sys.argv)))
                  .encode(), 0)
        _held[r] = fd


HUGEPAGES = "/sys/kernel/mm/hugepages/hugepages-*kB/nr_hugepages"
_pages = {}


def _read(path):
    with open(path) as f:
        return int(f.read())


def restore_hugepages():
    """Puts every pool back to the count keep_hugepages() found."""
    for path, n in _pages.items():
        try:
            if _read(path) != n:
                with open(path, "w") as f:
                    f.write("%d\n" % n)
        except OSError as e:
            sys.stderr.write("hostlock: cannot restore %s to %d: %s\n"
                             % (path, n, e))


def _on_sigterm(signum, frame):
    restore_hugepages()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def keep_hugepages():
    """Takes the hugepages lock, records each pool's nr_hugepages (first
    call only) and restores them at exit, also on SIGTERM.  Returns the
    2M count found."""
    hold("hugepages")
    if not _pages:
        for path in glob.glob(HUGEPAGES):
            _pages[path] = _read(path)
        atexit.register(restore_hugepages)
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    return _pages.get(HUGEPAGES.replace("*", "2048"), 0)
