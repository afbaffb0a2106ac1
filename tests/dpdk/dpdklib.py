"""dpdklib: a limiquantix-node sandbox on the DPDK fast path, and DPDK
testpmd processes as its VMs.

The daemon runs pinned to CPU 0 (taskset) with its PMD thread on CPU 1, as
the host checks demand; it starts Debian's ovs-vswitchd-dpdk in its
sandbox.  A testpmd "VM" owns one virtio-user port that is the vhost-user
server on the socket the port was bound with, so OVS (the client) connects
to it; `--single-file-segments` is required or the vhost-user link never
comes up (too many memory regions, see shared ENVIRONMENT.md).
"""
import os
import re
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "netns"))
from netlib import Node, new_id, sh  # noqa: E402,F401

HP2M = "/sys/kernel/mm/hugepages/hugepages-2048kB"


def hugepages():
    with open(HP2M + "/nr_hugepages") as f:
        total = int(f.read())
    with open(HP2M + "/free_hugepages") as f:
        free = int(f.read())
    return total, free


def set_hugepages(n):
    with open(HP2M + "/nr_hugepages", "w") as f:
        f.write("%d\n" % n)


DPDK_CONFIG = """dpdk:
  enabled: true
  pmd_cores: "1"
  lcore: 0
  socket_mem_mb: 256
  hugepages: {count: %d, size: 2M}
  extra_eal_args: ["--no-pci"]
"""


class DpdkNode(Node):
    """The daemon in --sandbox mode with dpdk.enabled, pinned to CPU 0."""

    def __init__(self, pages=512, extra_config="", args=(), image_dirs=()):
        super().__init__(config=DPDK_CONFIG % pages + extra_config,
                         args=args, image_dirs=image_dirs)
        self.args = ["taskset", "-c", "0"] + self.args

    def openflows(self):
        """br-int's OpenFlow table without counters, sorted."""
        out = sh("ovs-ofctl", "--no-stats", "dump-flows",
                 "unix:%s/ovs/br-int.mgmt" % self.sandbox).stdout
        return "\n".join(sorted(out.strip().split("\n")))

    def metrics(self):
        return urllib.request.urlopen(
            "http://127.0.0.1:%d/metrics" % self.metrics_port,
            timeout=10).read().decode()

    def vhost_dir(self):
        return os.path.join(self.sandbox, "vhost")


class TestPmd:
    """dpdk-testpmd with one virtio-user port on 'socket' (the vhost-user
    server), in rxonly or txonly mode; stop() returns (rx, tx) packets."""

    def __init__(self, name, socket, mac, mode, extra=()):
        self.prefix = "lqtest-%s-%d" % (name, os.getpid())
        self.proc = subprocess.Popen(
            ["dpdk-testpmd", "-l", "0,1", "--no-pci", "--in-memory",
             "--single-file-segments", "-m", "64", "--no-telemetry",
             "--file-prefix=" + self.prefix,
             "--vdev=net_virtio_user0,path=%s,server=1,mac=%s"
             % (socket, mac),
             "--", "--no-mlockall", "--total-num-mbufs=8192",
             "--forward-mode=" + mode] + list(extra),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)

    def stop(self):
        out, _ = self.proc.communicate("\n", timeout=60)
        self.remove_runtime_dir()
        m = re.search(r"Accumulated forward statistics.*?RX-packets: +(\d+)"
                      r".*?TX-packets: +(\d+)", out, re.S)
        if not m:
            raise AssertionError("testpmd failed:\n" + out[-3000:])
        return int(m.group(1)), int(m.group(2))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.remove_runtime_dir()

    def remove_runtime_dir(self):
        """EAL leaves /var/run/dpdk/PREFIX even with --in-memory."""
        subprocess.run(["rm", "-rf", "/var/run/dpdk/" + self.prefix],
                       check=False)
