"""GetNodeInfo's datapath, hugepages and pmdCores from the real daemon.

The daemon runs without --sandbox and without networking (no
network.ovn_nb_db), so no OVS or OVN is started: only its Unix socket in a
temporary directory.  Also: the refusals at start (host checks) with
nothing changed, and a sandbox without DPDK refusing vhost-user ports.  Needs root to reserve (and give back) a few 2M
hugepages so the counts are not all zero.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "api"))
from lqtest import (NODE, LQCTL, SERVICE, Daemon,  # noqa: E402
                    UnixHTTPConnection)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "netns"))
from netlib import Node  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import hostlock  # noqa: E402

NET_SERVICE = "limiquantix.network.v1.VirtualNetworkService"
PORT_SERVICE = "limiquantix.network.v1.PortService"

HP = "/sys/kernel/mm/hugepages"
HP2M = HP + "/hugepages-2048kB/nr_hugepages"


def sysfs_hugepages():
    pages = []
    for name in os.listdir(HP):
        size = int(name[len("hugepages-"):-len("kB")])
        with open(os.path.join(HP, name, "nr_hugepages")) as f:
            total = int(f.read())
        with open(os.path.join(HP, name, "free_hugepages")) as f:
            free = int(f.read())
        pages.append({"pageSizeKib": size, "total": total, "free": free})
    return sorted(pages, key=lambda p: p["pageSizeKib"])


class PlainDaemon:
    """limiquantix-node with a config, a private socket, no TCP."""

    def __init__(self, config, pin=True):
        self.dir = tempfile.mkdtemp(prefix="lq-test-dpdk-node-")
        self.socket = os.path.join(self.dir, "node.sock")
        self.log_path = os.path.join(self.dir, "daemon.log")
        path = os.path.join(self.dir, "node.yaml")
        with open(path, "w") as f:
            f.write("hypervisor: {libvirt_uri: \"test:///default\"}\n"
                    + config.replace("@VHOST@", self.dir + "/vhost"))
        self.log = open(self.log_path, "w")
        # The PMD core (1) must not be among the daemon's CPUs.
        self.proc = subprocess.Popen(
            (["taskset", "-c", "0"] if pin else [])
            + [NODE, "-c", path, "--listen", "", "--metrics-port", "0",
               "--unix-socket", self.socket],
            stdout=self.log, stderr=subprocess.STDOUT)
        if config.startswith("#refused"):
            return
        deadline = time.time() + 20
        while "ready: node" not in self.read_log():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("daemon not ready:\n" + self.read_log())
            time.sleep(0.05)

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def node_info(self):
        conn = UnixHTTPConnection(self.socket)
        conn.request("POST", "/%s/GetNodeInfo" % SERVICE, body=b"{}",
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        body = json.loads(r.read())
        conn.close()
        assert r.status == 200, body
        return body

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.log.close()
        subprocess.run(["rm", "-rf", self.dir], check=True)
        return rc


def setUpModule():
    # Alone on the host (hugepages, /var/run/dpdk); the hugepage counts
    # are put back at exit whatever happens.
    if os.geteuid() == 0:
        hostlock.hold("dpdk")
        hostlock.keep_hugepages()


def write_hp2m(n):
    with open(HP2M, "w") as f:
        f.write("%d\n" % n)


class NodeInfoDpdkTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root (hugepages)")
        with open(HP2M) as f:
            self.orig = int(f.read())
        # Cleanups run after tearDown, even when its checks fail.
        self.addCleanup(write_hp2m, self.orig)
        write_hp2m(self.orig + 4)
        self.daemons = []

    def tearDown(self):
        rcs = []
        for d in self.daemons:      # every daemon stopped, then checked
            log = d.read_log()
            rcs.append((d.stop(), log))
        for rc, log in rcs:
            self.assertEqual(rc, 0, log)

    def start(self, config):
        d = PlainDaemon(config)
        self.daemons.append(d)
        return d

    def test_dpdk_node(self):
        d = self.start("dpdk:\n  enabled: true\n  pmd_cores: \"1\"\n"
                       "  socket_mem_mb: 8\n  vhost_socket_dir: @VHOST@\n")
        self.assertTrue(os.path.isdir(d.dir + "/vhost"))
        r = d.node_info()
        self.assertEqual(r["datapath"], "dpdk")
        self.assertEqual(r["pmdCores"], [1])
        self.assertEqual(r["hugepages"], sysfs_hugepages())
        two_m = [p for p in r["hugepages"] if p["pageSizeKib"] == 2048][0]
        self.assertGreaterEqual(two_m["total"], 4)

        out = subprocess.run([LQCTL, "--socket", d.socket, "node", "info"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Datapath:            dpdk (PMD cores 1)\n", out.stdout)
        self.assertRegex(out.stdout, r"Hugepages: +2M %d/%d free"
                         % (two_m["free"], two_m["total"]))

    def refused(self, config, pin=True):
        """Starts a daemon that must refuse; returns its output."""
        d = PlainDaemon("#refused\n" + config, pin=pin)
        try:
            rc = d.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            raise
        log = d.read_log()
        d.log.close()
        subprocess.run(["rm", "-rf", d.dir], check=True)
        self.assertEqual(rc, 1, log)
        self.assertNotIn("ready: node", log)
        return log

    def test_refusals_at_start(self):
        with open(HP2M) as f:
            before = int(f.read())
        base = "dpdk:\n  enabled: true\n  socket_mem_mb: 8\n"
        # The PMD core among the daemon's own CPUs (not pinned: 0-1).
        log = self.refused(base + "  pmd_cores: \"1\"\n", pin=False)
        self.assertIn("dpdk.pmd_cores: CPU 1 overlaps the daemon's CPU "
                      "affinity (0-1)", log)
        # A PMD core that does not exist, and more pages than memory.
        log = self.refused("dpdk:\n  enabled: true\n  pmd_cores: \"1,63\"\n"
                           "  socket_mem_mb: 1048576\n")
        self.assertIn("dpdk.pmd_cores: CPU 63 not present", log)
        # No hugepages for what EAL would take at start.
        log = self.refused("dpdk:\n  enabled: true\n  pmd_cores: \"1\"\n"
                           "  socket_mem_mb: 1048576\n")
        self.assertIn("dpdk.socket_mem_mb", log)
        # A bad core list is a config error.
        log = self.refused(base + "  pmd_cores: \"3-1\"\n")
        self.assertIn("dpdk.pmd_cores: backwards range 3-1", log)
        log = self.refused(base + "  pmd_cores: \"0\"\n")
        self.assertIn("dpdk.pmd_cores: CPU 0 is also dpdk.lcore", log)
        # Nothing changed: the hugepage count is what it was.
        with open(HP2M) as f:
            self.assertEqual(int(f.read()), before)

    def test_refused_sandbox_starts_nothing(self):
        d = Daemon(config="dpdk: {enabled: true, pmd_cores: \"1\", "
                   "socket_mem_mb: 1048576}\n")
        d.args = ["taskset", "-c", "0"] + d.args
        d.start(wait=False)
        rc = d.proc.wait(timeout=30)
        log = d.read_log()
        self.assertEqual(d.stop(), 1, log)
        self.assertIn("dpdk.socket_mem_mb", log)
        # No Open_vSwitch database, no OVS or OVN started.
        self.assertFalse(os.path.exists(d.sandbox + "/ovs/conf.db"), log)
        self.assertEqual(rc, 1)

    def test_unopenable_dpdk_interface_stops_the_daemon(self):
        # Past the host checks: OVS-DPDK starts, but cannot open the port.
        d = Daemon(config="dpdk:\n  enabled: true\n  pmd_cores: \"1\"\n"
                   "  socket_mem_mb: 64\n  hugepages: {count: 64}\n"
                   "  extra_eal_args: [--no-pci]\n  interfaces:\n"
                   "    - {name: bad0, vdev: \"net_af_packet0,iface="
                   "lqnosuchdev0\", bridge: br-phys}\n")
        d.args = ["taskset", "-c", "0"] + d.args
        d.start(wait=False)
        rc = d.proc.wait(timeout=150)
        log = d.read_log()
        self.assertEqual(d.stop(), 1, log)
        self.assertEqual(rc, 1)
        self.assertIn("dpdk.interfaces: Open vSwitch cannot open bad0 "
                      "(net_af_packet0,iface=lqnosuchdev0)", log)
        self.assertIn("stopping: the DPDK fast path could not be set up", log)

    def test_turning_dpdk_off_removes_its_settings(self):
        on = Node(config="dpdk:\n  enabled: true\n  pmd_cores: \"1\"\n"
                    "  socket_mem_mb: 64\n  hugepages: {count: 64}\n"
                    "  extra_eal_args: [--no-pci]\n")
        on.args = ["taskset", "-c", "0"] + on.args
        on.start()
        deadline = time.time() + 60
        while "DPDK initialized" not in on.read_log():
            self.assertLess(time.time(), deadline, on.read_log())
            time.sleep(0.2)

        def ovs_row(column):
            return on.vsctl("get", "Open_vSwitch", ".", column)
        self.assertIn("dpdk-init=\"true\"", ovs_row("other_config"))
        self.assertIn("pmd-cpu-mask=\"0x2\"", ovs_row("other_config"))
        self.assertIn("limiquantix-dpdk=\"true\"", ovs_row("external_ids"))
        self.assertEqual(on.stop(), 0, on.read_log())

        # The same sandbox without the fast path: the keys the node wrote
        # are gone, the rest of the row stays.
        off = Node()
        off.args[off.args.index(off.sandbox)] = on.sandbox
        off.sandbox, off.socket = on.sandbox, on.socket
        off.start()
        try:
            deadline = time.time() + 30
            while "dpdk" in ovs_row("other_config"):
                self.assertLess(time.time(), deadline, off.read_log())
                time.sleep(0.2)
            self.assertNotIn("limiquantix-dpdk", ovs_row("external_ids"))
            self.assertIn("system-id", ovs_row("external_ids"))
            self.assertIn("removing the dpdk-* settings", off.read_log())
        finally:
            self.assertEqual(off.stop(), 0, off.read_log())

    def test_vhostuser_needs_dpdk(self):
        plain = Node()
        plain.start()
        try:
            net = {"id": str(uuid.uuid4()),
                   "subnets": [{"cidr": "10.78.0.0/24"}]}
            status, r = plain.call("CreateNetwork", net,
                                   service=NET_SERVICE)
            self.assertEqual(status, 200, r)
            port = {"id": str(uuid.uuid4()), "networkId": net["id"]}
            status, r = plain.call("CreatePort", port, service=PORT_SERVICE)
            self.assertEqual(status, 200, r)
            status, r = plain.call("BindPort", {
                "portId": port["id"], "deviceName": "vhu0",
                "deviceType": "vhostuser"}, service=PORT_SERVICE)
            self.assertEqual(status, 400, r)
            self.assertEqual(r["code"], "failed_precondition")
            self.assertIn("deviceType: vhostuser needs the DPDK fast path",
                          r["message"])
            # Nothing of the fast path in the Open_vSwitch database.
            self.assertNotIn("dpdk", plain.vsctl(
                "--columns=other_config,external_ids", "list",
                "Open_vSwitch"))
            self.assertNotIn("vhu0", plain.vsctl("--columns=name", "list",
                                                 "Interface"))
        finally:
            self.assertEqual(plain.stop(), 0, plain.read_log())

    def test_kernel_and_userspace_nodes(self):
        # A disabled dpdk section changes nothing.
        r = self.start("dpdk: {enabled: false, pmd_cores: \"1\"}\n"
                       ).node_info()
        self.assertEqual(r["datapath"], "kernel")
        self.assertEqual(r["pmdCores"], [])
        self.assertEqual(r["hugepages"], sysfs_hugepages())
        r = self.start("network: {datapath_type: netdev}\n").node_info()
        self.assertEqual(r["datapath"], "userspace")
        self.assertEqual(r["pmdCores"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
