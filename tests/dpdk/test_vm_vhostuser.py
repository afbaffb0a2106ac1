"""A QEMU/TCG guest on a vhost-user NIC, created through CreateVM on a node
with the DPDK fast path.

One daemon: --sandbox (ovs-vswitchd-dpdk) --sandbox-libvirt.  The guest
boots Debian's kernel with the busybox initramfs of tests/compute, gets
its address from OVN's DHCP over the DPDK datapath and pings a DPDK
testpmd in icmpecho mode on a second vhost-user port; the security group
of both ports allows ICMP.  What is asserted: the guest's serial console,
the domain XML libvirt keeps, the Open_vSwitch rows, and that StartVM
without hugepages for the guest fails before QEMU with nothing bound.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "compute"))
sys.path.insert(0, os.path.join(HERE, ".."))
import computetest  # noqa: E402
import hostlock  # noqa: E402
from dpdklib import (DpdkNode, TestPmd, hugepages, new_id,  # noqa: E402
                     set_hugepages)
from netlib import NET, PORT, SG  # noqa: E402

VM = "limiquantix.node.v1.NodeDaemonService/"


@unittest.skipIf(computetest.missing_prerequisites(),
                 computetest.missing_prerequisites())
class VhostUserVmTest(computetest.SerialMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-vm-vhost-")
        cls.kernel, _ = computetest.kernel()
        cls.initrd = os.path.join(cls.tmp, "initrd")
        computetest.build_initramfs(cls.initrd, net=True)
        # Alone on the host (hugepages, /var/run/dpdk); the hugepage
        # counts are put back at exit whatever happens.
        hostlock.hold("dpdk")
        hostlock.keep_hugepages()
        cls.orig_pages = hugepages()[0]
        # Runs even when setUpClass fails (tearDownClass does not).
        cls.addClassCleanup(set_hugepages, cls.orig_pages)
        cls.node = DpdkNode(args=["--sandbox-libvirt"],
                            image_dirs=["/boot", cls.tmp])
        cls.node.start(wait=False)
        try:
            cls.node.wait_ready(timeout=120)
            computetest.wait_for(lambda: "DPDK initialized"
                                 in cls.node.read_log(), 60, "DPDK")
        except BaseException:
            cls.node.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.node.stop()
        assert rc == 0, cls.node.read_log()[-3000:]
        assert hugepages()[0] == cls.orig_pages, hugepages()

    def setUp(self):
        self.net = self.node.api(NET + "CreateNetwork", {
            "id": new_id(), "name": "fast",
            "subnets": [{"cidr": "10.79.0.0/24"}]})
        self.addCleanup(self.node.api_status, NET + "DeleteNetwork",
                        {"id": self.net["id"]})
        self.sg = self.node.api(SG + "CreateSecurityGroup", {
            "id": new_id(), "name": "icmp", "rules": [
                {"id": new_id(), "direction": "ingress", "protocol": "icmp"},
                {"id": new_id(), "direction": "egress"}]})
        self.addCleanup(self.node.api_status, SG + "DeleteSecurityGroup",
                        {"id": self.sg["id"]})

    def port(self):
        p = self.node.api(PORT + "CreatePort", {
            "id": new_id(), "networkId": self.net["id"],
            "securityGroupIds": [self.sg["id"]]})
        self.addCleanup(self.node.api_status, PORT + "DeletePort",
                        {"id": p["id"]})
        return p

    def create_vm(self, name, port, memory_mib=256, cmdline=""):
        vm_id = str(uuid.uuid4())
        log = self.node.api(VM + "CreateVM", {
            "vmId": vm_id, "name": name,
            "spec": {"cpuCores": 1, "memoryMib": memory_mib,
                     "kernelPath": self.kernel, "initrdPath": self.initrd,
                     "kernelCmdline": "console=ttyS0 panic=-1 " + cmdline,
                     "serialLog": True,
                     "nics": [{"id": "eth0", "portId": port["id"]}]}}
        )["status"]["serialLogPath"]
        self.addCleanup(self.delete_vm, vm_id)
        return vm_id, log

    def delete_vm(self, vm_id):
        self.node.api_status(VM + "ForceStopVM", {"vmId": vm_id})
        self.node.api_status(VM + "DeleteVM", {"vmId": vm_id})

    def domain_xml(self, vm_id):
        uri = ("qemu:///system?socket=%s/libvirt/sock/libvirt-sock"
               % self.node.sandbox)
        r = subprocess.run(["virsh", "-c", uri, "dumpxml", vm_id],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_guest_on_vhost_user_pings_a_dpdk_peer(self):
        peer_port = self.port()
        status, r = self.node.api_status(PORT + "BindPort", {
            "portId": peer_port["id"], "deviceName": "vhupeer",
            "deviceType": "vhostuser"})
        self.assertEqual(status, 200, r)
        peer = TestPmd("peer", os.path.join(self.node.vhost_dir(),
                                            "vhupeer"),
                       peer_port["macAddress"], "icmpecho")
        self.addCleanup(peer.kill)
        peer_ip = peer_port["fixedIps"][0]["ipAddress"]

        port = self.port()
        vm_id, log = self.create_vm("fast", port,
                                    cmdline="lq.peer=" + peer_ip)
        xml = self.domain_xml(vm_id)
        sock = os.path.join(self.node.vhost_dir(),
                            "lq" + port["id"].replace("-", "")[:12])
        self.assertIn("<interface type='vhostuser'>", xml)
        self.assertRegex(xml, r"<source type='unix' path='%s' "
                         r"mode='server'/>" % re.escape(sock))
        self.assertRegex(xml, r"<memoryBacking>\s*<hugepages/>\s*"
                         r"<source type='memfd'/>\s*"
                         r"<access mode='shared'/>")
        self.assertIn("<qemu:arg value='virtio-net-pci.vectors=0'/>", xml)

        self.node.api(VM + "StartVM", {"vmId": vm_id})
        # Bound before QEMU started: a vhost-user client port in OVS.
        self.assertEqual(self.node.vsctl(
            "get", "Interface", os.path.basename(sock), "type").strip(),
            "dpdkvhostuserclient")
        self.assertEqual(self.node.api(PORT + "GetPort", {"id": port["id"]})
                         ["status"], "UP")
        self.wait_serial(log, "LQ-GUEST-DHCP ", timeout=120)
        self.assertIn("LQ-GUEST-DHCP %s/24"
                      % port["fixedIps"][0]["ipAddress"], self.serial(log))
        self.wait_serial(log, "LQ-GUEST-PING-", timeout=120)
        self.assertIn("LQ-GUEST-PING-OK", self.serial(log))
        rx, tx = peer.stop()
        self.assertGreater(rx, 0)
        self.assertGreater(tx, 0)
        self.assertEqual(self.node.vsctl("get", "Interface",
                                         os.path.basename(sock),
                                         "link_state").strip(), "up")

        # A second vhost-user NIC hot-plugged into the running guest: bound
        # first, then QEMU opens its socket and OVS connects.
        pc = self.port()
        self.node.api(VM + "AttachNIC", {"vmId": vm_id, "nic": {
            "id": "eth1", "portId": pc["id"]}})
        dev_c = "lq" + pc["id"].replace("-", "")[:12]
        got = self.node.api(PORT + "GetPort", {"id": pc["id"]})
        self.assertEqual((got["status"], got["vmId"]), ("UP", vm_id))
        self.assertEqual(self.node.vsctl("get", "Interface", dev_c,
                                         "type").strip(),
                         "dpdkvhostuserclient")
        computetest.wait_for(lambda: self.node.vsctl(
            "get", "Interface", dev_c, "link_state").strip() == "up", 30,
            "the hot-plugged NIC's vhost-user link")
        self.assertIn("<alias name='ua-lqn-eth1'/>", self.domain_xml(vm_id))
        self.node.api(VM + "DetachNIC", {"vmId": vm_id, "nicId": "eth1"})
        self.assertEqual(self.node.api(PORT + "GetPort", {"id": pc["id"]})
                         ["vmId"], "")
        self.assertNotIn(dev_c, self.node.vsctl("--columns=name", "list",
                                                "Interface"))
        self.assertFalse(os.path.exists(os.path.join(self.node.vhost_dir(),
                                                     dev_c)))

        # DeleteVM unbinds: the OVS port and the socket are gone.
        self.delete_vm(vm_id)
        self.assertNotIn(os.path.basename(sock), self.node.vsctl(
            "--columns=name", "list", "Interface"))
        self.assertFalse(os.path.exists(sock))
        self.assertEqual(self.node.api(PORT + "GetPort", {"id": port["id"]})
                         ["vmId"], "")

    def test_start_without_hugepages_binds_nothing(self):
        port = self.port()
        free_mib = hugepages()[1] * 2
        too_big = (free_mib // 2 + 2) * 2 + 2
        vm_id, _ = self.create_vm("big", port, memory_mib=too_big)
        status, r = self.node.api_status(VM + "StartVM", {"vmId": vm_id})
        self.assertEqual(status, 400, r)
        self.assertEqual(r["code"], "failed_precondition", r)
        self.assertIn("memoryMib: a vhost-user NIC needs the VM's %d MiB in "
                      "2M hugepages" % too_big, r["message"])
        status, r = self.node.api_status(VM + "GetVMStatus",
                                         {"vmId": vm_id})
        self.assertEqual(r.get("state"), "POWER_STATE_STOPPED", r)
        self.assertNotIn("lq" + port["id"].replace("-", "")[:12],
                         self.node.vsctl("--columns=name", "list",
                                         "Interface"))
        self.assertEqual(self.node.api(PORT + "GetPort", {"id": port["id"]})
                         ["deviceName"], "")

    def test_memory_not_a_hugepage_multiple_is_refused(self):
        port = self.port()
        status, r = self.node.api_status(VM + "CreateVM", {
            "vmId": str(uuid.uuid4()), "name": "odd",
            "spec": {"cpuCores": 1, "memoryMib": 255,
                     "kernelPath": self.kernel,
                     "nics": [{"id": "eth0", "portId": port["id"]}]}})
        self.assertEqual(status, 400, r)
        self.assertEqual(r["code"], "invalid_argument")
        self.assertIn("spec.memoryMib: 255 is not a multiple of 2 MiB",
                      r["message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
