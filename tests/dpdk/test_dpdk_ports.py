"""VM ports on the DPDK fast path, through the API, with real traffic.

One daemon in sandbox mode with dpdk.enabled runs ovs-vswitchd-dpdk; OVN
programs it as usual.  Ports bound with deviceType "vhostuser" become
dpdkvhostuserclient interfaces whose sockets are served by DPDK testpmd
processes standing in for VMs.  Packets counted by the receiving testpmd
prove what a security group lets through and what it drops.  Every
PMD-spinning process is short-lived and stopped by the test.
"""
import json
import os
import re
import sys
import time
import urllib.request
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import hostlock  # noqa: E402
from dpdklib import (DpdkNode, TestPmd, hugepages, new_id, set_hugepages,
                     sh)
from netlib import NET, PORT, SG

node = None
orig_pages = 0


UPLINK = "lqdpdkup0"     # A veth whose end OVS-DPDK owns via af_packet.

UPLINK_CONFIG = """  interfaces:
    - {name: phy0, vdev: "net_af_packet0,iface=%s", bridge: br-phys}
""" % UPLINK


def eal_dirs():
    d = "/var/run/dpdk"
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def setUpModule():
    global node, orig_pages, orig_eal_dirs
    # Alone on the host (hugepages, /var/run/dpdk, the UPLINK veth), and
    # the hugepage counts put back at exit whatever happens.
    hostlock.hold("dpdk")
    hostlock.keep_hugepages()
    orig_pages = hugepages()[0]
    orig_eal_dirs = eal_dirs()
    sh("ip", "link", "del", UPLINK, check=False)
    sh("ip", "link", "add", UPLINK, "type", "veth", "peer", "name",
       UPLINK + "p")
    try:
        sh("ip", "link", "set", UPLINK, "up")
        sh("ip", "link", "set", UPLINK + "p", "up")
        node = DpdkNode(extra_config=UPLINK_CONFIG)
        node.start()
        deadline = time.time() + 60
        while "DPDK initialized" not in node.read_log():
            if time.time() > deadline or node.proc.poll() is not None:
                raise RuntimeError("DPDK not initialized:\n"
                                   + node.read_log())
            time.sleep(0.2)
    except BaseException:
        # tearDownModule does not run when setUpModule fails.
        if node is not None and node.proc is not None:
            node.stop()
        sh("ip", "link", "del", UPLINK, check=False)
        set_hugepages(orig_pages)
        raise


def tearDownModule():
    try:
        rc = node.stop()
    finally:
        sh("ip", "link", "del", UPLINK, check=False)
    try:
        assert rc == 0, "daemon exited %d:\n%s" % (rc, node.read_log())
        # The sandbox gave back the hugepages it reserved, and neither it
        # nor the testpmds left an EAL runtime directory behind.
        assert hugepages()[0] == orig_pages, hugepages()
        assert eal_dirs() == orig_eal_dirs, eal_dirs() - orig_eal_dirs
    finally:
        set_hugepages(orig_pages)


class DpdkPortTest(unittest.TestCase):
    def setUp(self):
        self.cleanup = []

    def tearDown(self):
        for f in reversed(self.cleanup):
            f()

    def network(self):
        net = node.api(NET + "CreateNetwork", {
            "id": new_id(), "name": "fast",
            "subnets": [{"cidr": "10.77.0.0/24"}]})
        self.cleanup.append(lambda: node.api_status(
            NET + "DeleteNetwork", {"id": net["id"]}))
        return net

    def port(self, net, **kw):
        body = {"id": new_id(), "networkId": net["id"]}
        body.update(kw)
        p = node.api(PORT + "CreatePort", body)
        self.cleanup.append(lambda: node.api_status(
            PORT + "DeletePort", {"id": p["id"]}))
        return p

    def bind(self, port, device, **kw):
        body = {"portId": port["id"], "deviceName": device,
                "deviceType": "vhostuser", "memoryMib": 64}
        body.update(kw)
        return node.api_status(PORT + "BindPort", body)

    def start_testpmd(self, name, port, device, mode, extra=()):
        t = TestPmd(name, os.path.join(node.vhost_dir(), device),
                    port["macAddress"], mode, extra)
        self.cleanup.append(t.kill)
        deadline = time.time() + 30
        while node.vsctl("get", "Interface", device,
                         "link_state").strip() != "up":
            if time.time() > deadline or t.proc.poll() is not None:
                t.kill()
                raise AssertionError("vhost-user link of %s not up:\n%s"
                                     % (device, t.proc.stdout.read()))
            time.sleep(0.2)
        return t

    def udp_count(self, a, b, dst_port):
        """UDP from testpmd A to testpmd B for 2 s; what B received."""
        rx = self.start_testpmd("b", b, "vhub", "rxonly")
        ip = lambda p: p["fixedIps"][0]["ipAddress"]  # noqa: E731
        tx = self.start_testpmd("a", a, "vhua", "txonly", [
            "--tx-ip=%s,%s" % (ip(a), ip(b)),
            "--tx-udp=4000,%d" % dst_port,
            "--eth-peer=0,%s" % b["macAddress"]])
        time.sleep(2)
        sent = tx.stop()[1]
        time.sleep(0.3)
        received = rx.stop()[0]
        return sent, received

    def test_security_group_on_the_dpdk_datapath(self):
        net = self.network()
        sg = node.api(SG + "CreateSecurityGroup", {
            "id": new_id(), "name": "udp-5001", "rules": [
                {"id": new_id(), "direction": "ingress", "protocol": "udp",
                 "portRangeMin": 5001, "portRangeMax": 5001},
                {"id": new_id(), "direction": "egress"}]})
        self.cleanup.append(lambda: node.api_status(
            SG + "DeleteSecurityGroup", {"id": sg["id"]}))
        a = self.port(net, securityGroupIds=[sg["id"]])
        b = self.port(net, securityGroupIds=[sg["id"]])
        for p, dev in ((a, "vhua"), (b, "vhub")):
            status, r = self.bind(p, dev, vmId=new_id())
            self.assertEqual(status, 200, r)
            self.assertEqual(r["status"], "UP")
            self.assertEqual(r["deviceName"], dev)

        # The interfaces are vhost-user clients of sockets in vhost_dir,
        # on br-int of the DPDK (netdev) datapath, with iface-id = port.
        for p, dev in ((a, "vhua"), (b, "vhub")):
            row = json.loads(node.vsctl(
                "--format=json", "--columns=type,options,external_ids",
                "list", "Interface", dev))["data"][0]
            self.assertEqual(row[0], "dpdkvhostuserclient")
            self.assertEqual(dict(row[1][1]), {"vhost-server-path":
                             os.path.join(node.vhost_dir(), dev)})
            self.assertEqual(dict(row[2][1])["iface-id"], p["id"])
        self.assertEqual(node.vsctl("get", "Bridge", "br-int",
                                    "datapath_type").strip(), "netdev")
        flows_before = node.openflows()
        self.assertIn("tp_dst=5001", flows_before)

        sent, received = self.udp_count(a, b, 5001)
        self.assertGreater(sent, 1000)
        self.assertGreater(received, 1000, (sent, received))
        # Conntrack saw the allowed flow (the ACL is stateful).
        sent, dropped_rx = self.udp_count(a, b, 5002)
        self.assertGreater(sent, 1000)
        self.assertEqual(dropped_rx, 0)
        # The OVN flows are still exactly the ones ovn-controller
        # installed: the fast path changes the datapath, not the pipeline.
        self.assertEqual(node.openflows(), flows_before)
        self.assertIn("netdev@ovs-netdev", node.appctl("dpif/show"))

        # The PMD's work is on /metrics, as pmd-stats-show counts it.
        pattern = (r'limiquantix_dpdk_pmd_packets_received_total'
                   r'\{core="1",numa="0"\} (\d+)')
        deadline = time.time() + 10
        while True:
            m = re.search(pattern, node.metrics())
            if (m and int(m.group(1)) >= received) or time.time() > deadline:
                break
            time.sleep(0.3)
        self.assertIsNotNone(m, node.metrics())
        self.assertGreaterEqual(int(m.group(1)), received)
        text = node.metrics()
        self.assertRegex(text, r'limiquantix_dpdk_pmd_cycles_total\{core="1",'
                         r'numa="0",state="processing"\} [1-9]')
        self.assertRegex(text, r'limiquantix_dpdk_pmd_busy_ratio\{core="1",'
                         r'numa="0"\} 0?\.?[0-9e.-]+')
        self.assertIn("# TYPE limiquantix_dpdk_pmd_cycles_per_packet gauge",
                      text)

    def test_dpdk_interface_on_its_bridge(self):
        # dpdk.interfaces: a type=dpdk port with its devargs, opened by
        # OVS-DPDK (ofport assigned, no error) on a netdev bridge.
        row = json.loads(node.vsctl(
            "--format=json", "--columns=type,options,ofport,error,link_state",
            "list", "Interface", "phy0"))["data"][0]
        self.assertEqual(row[0], "dpdk")
        self.assertEqual(dict(row[1][1]), {"dpdk-devargs":
                         "net_af_packet0,iface=" + UPLINK})
        self.assertGreater(row[2], 0)
        self.assertEqual(row[3], ["set", []])
        self.assertEqual(row[4], "up")
        self.assertEqual(node.vsctl("port-to-br", "phy0").strip(), "br-phys")
        self.assertEqual(node.vsctl("get", "Bridge", "br-phys",
                                    "datapath_type").strip(), "netdev")

    def test_unbind_removes_port_and_socket(self):
        net = self.network()
        p = self.port(net)
        status, r = self.bind(p, "vhuq")
        self.assertEqual(status, 200, r)
        t = self.start_testpmd("q", p, "vhuq", "rxonly")
        sock = os.path.join(node.vhost_dir(), "vhuq")
        self.assertTrue(os.path.exists(sock))
        t.stop()
        status, r = node.api_status(PORT + "UnbindPort", {"portId": p["id"]})
        self.assertEqual(status, 200, r)
        self.assertFalse(os.path.exists(sock))
        self.assertNotIn("vhuq", node.vsctl("--columns=name", "list",
                                            "Interface"))
        self.assertEqual(node.api(PORT + "GetPort", {"id": p["id"]})
                         .get("deviceName", ""), "")

    def test_refusals_leave_nothing_behind(self):
        net = self.network()
        p = self.port(net)
        before = node.vsctl("--columns=name,type", "list", "Interface")
        free_mib = hugepages()[1] * 2
        cases = [
            ({"memoryMib": free_mib + 2}, "failed_precondition",
             "memoryMib: a vhost-user NIC needs the VM's %d MiB in 2M "
             "hugepages and this node has %d MiB free"
             % (free_mib + 2, free_mib)),
            ({"memoryMib": 3}, "invalid_argument",
             "memoryMib: 3 MiB is not a multiple of the 2M hugepage size"),
            ({"deviceType": "tap"}, "invalid_argument",
             'deviceType: expected netdev or vhostuser, got "tap"'),
            ({"deviceName": ".."}, "invalid_argument",
             'deviceName: ".." is not a valid network device name'),
            ({"deviceName": "a/b"}, "invalid_argument",
             'deviceName: "a/b" is not a valid network device name'),
        ]
        for kw, code, message in cases:
            status, r = self.bind(p, "vhux", **kw)
            self.assertEqual(status, 400, r)
            self.assertEqual(r["code"], code, r)
            self.assertTrue(r["message"].startswith(message), r)
        self.assertEqual(node.vsctl("--columns=name,type", "list",
                                    "Interface"), before)
        self.assertEqual(os.listdir(node.vhost_dir()), [])
        self.assertEqual(node.api(PORT + "GetPort", {"id": p["id"]})
                         ["deviceName"], "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
