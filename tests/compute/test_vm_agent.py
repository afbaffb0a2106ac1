"""The guest agent: a TCG guest running Debian's qemu-guest-agent on the
org.qemu.guest_agent.0 port every VM gets, driven through the real daemon
in embedded mode (--sandbox --sandbox-ceph --sandbox-libvirt: its NIC is
a QuantumNet port, its disk an RBD volume, so it can be snapshotted while
it runs).

Asserted on what the agent itself does in the guest (markers its helper
programs print on the serial console, and its own log) and on what the
node reports:
- GetVMStatus has the OS (from the guest's /etc/os-release), kernel
  release, hostname and each interface's addresses (the one OVN's DHCP
  gave), matched to our NIC by MAC; an event says when the agent
  connected;
- CreateSnapshot with quiesce: refused (failed_precondition, nothing
  made) before the agent runs, while paused, and when the guest refuses
  to freeze; otherwise the guest's freeze hook runs, the volume snapshot
  is taken, then thaw;
- ResumeVM sets the guest clock through the agent (guest-set-time runs
  hwclock);
- SetGuestPassword: the guest's chpasswd gets user:password (plain or
  crypted); bad users and passwords are refused naming the field; the
  password is in no log;
- StopVM of a guest that ignores ACPI powers it off through the agent
  (guest-shutdown runs /sbin/shutdown), not by force.
Run with /usr/bin/python3 as the other compute suites.
"""
import os
import shutil
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
import computetest  # noqa: E402
from netlib import NET, PORT, Node, new_id  # noqa: E402

VM = "limiquantix.node.v1.NodeDaemonService/"
VOL = "limiquantix.storage.v1.VolumeService/"


def why_not():
    why = computetest.missing_prerequisites()
    if why:
        return why
    if not os.path.exists(computetest.QGA):
        return "no %s (qemu-guest-agent)" % computetest.QGA
    return None


@unittest.skipIf(why_not(), why_not())
class GuestAgentTest(computetest.SerialMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-agent-")
        cls.initrd = os.path.join(cls.tmp, "initrd.cpio")
        computetest.build_initramfs(cls.initrd, agent=True)
        cls.kernel, _ = computetest.kernel()
        cls.node = Node(args=["--sandbox-ceph", "--sandbox-libvirt"],
                        image_dirs=["/boot", cls.tmp])
        cls.node.start(wait=False)
        cls.node.wait_ready(timeout=120)

    @classmethod
    def tearDownClass(cls):
        rc = cls.node.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, cls.node.read_log()[-3000:]

    def ok(self, method, body):
        if "/" not in method:
            method = VM + method
        return self.node.api(method, body)

    def refused(self, method, request):
        status, body = self.node.api_status(VM + method, request)
        self.assertNotEqual(status, 200, body)
        return body

    def wait_event(self, since, vm, event, detail, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.ok("WatchEvents", {"sinceSeq": str(since), "vmId": vm,
                                        "timeoutSeconds": 5})
            for e in r["events"]:
                if (e["event"], e.get("detail", "")) == (event, detail):
                    return e
            since = int(r["lastSeq"])
        raise AssertionError("no %s %s event of %s" % (event, detail, vm))

    def virsh_dumpxml(self, vm):
        import subprocess
        uri = ("qemu:///system?socket=%s/libvirt/sock/libvirt-sock"
               % self.node.sandbox)
        return subprocess.run(["virsh", "-c", uri, "dumpxml", vm],
                              capture_output=True, text=True).stdout

    def test_guest_agent(self):
        net = self.ok(NET + "CreateNetwork", {
            "id": new_id(), "name": "agentnet",
            "subnets": [{"cidr": "10.78.0.0/24"}]})
        self.addCleanup(self.node.api_status, NET + "DeleteNetwork",
                        {"id": net["id"]})
        port = self.ok(PORT + "CreatePort", {
            "id": new_id(), "networkId": net["id"], "name": "agentport"})
        self.addCleanup(self.node.api_status, PORT + "DeletePort",
                        {"id": port["id"]})
        guest_ip = port["fixedIps"][0]["ipAddress"] + "/24"
        mac = port["macAddress"]
        vol = self.ok(VOL + "CreateVolume", {
            "id": "agentdisk", "poolId": "sandbox-ceph", "name": "agentdisk",
            "sizeBytes": str(16 << 20)})["id"]
        self.addCleanup(self.node.api_status, VOL + "DeleteVolume",
                        {"id": vol})
        vm = str(uuid.uuid4())
        body = self.ok("CreateVM", {"vmId": vm, "name": "lq-agent", "spec": {
            "cpuCores": 1, "memoryMib": 256, "kernelPath": self.kernel,
            "initrdPath": self.initrd, "serialLog": True,
            "kernelCmdline": "console=ttyS0 panic=-1 lq.freeze_fail_once "
                             "lq.dhcp",
            "disks": [{"id": "data", "volumeId": vol}],
            "nics": [{"id": "nic0", "portId": port["id"]}]}})
        self.addCleanup(self.node.api_status, VM + "DeleteVM", {"vmId": vm})
        self.addCleanup(self.node.api_status, VM + "ForceStopVM",
                        {"vmId": vm})
        log = body["status"]["serialLogPath"]
        # Both agent ports; libvirt chose the sockets' paths.
        xml = self.virsh_dumpxml(vm)
        self.assertIn("name='org.qemu.guest_agent.0'", xml)
        self.assertIn("name='org.limiquantix.agent.0'", xml)
        self.assertNotIn("guest", self.ok("GetVMStatus", {"vmId": vm}))

        since = int(self.ok("WatchEvents", {"timeoutSeconds": 0})["lastSeq"])
        self.ok("StartVM", {"vmId": vm})
        # No agent yet (the guest is still booting): a quiesced snapshot
        # is refused, not silently taken crash-consistent.
        body = self.refused("CreateSnapshot", {"vmId": vm, "name": "early",
                                               "quiesce": True})
        self.assertEqual(body["code"], "failed_precondition", body)
        self.assertIn("quiesce: the guest agent of VM %s is not connected"
                      % vm, body["message"])
        st = self.ok("GetVMStatus", {"vmId": vm})
        self.assertFalse(st.get("guest", {}).get("agentConnected"), st)

        self.wait_event(since, vm, "GUEST_AGENT", "CONNECTED")
        self.wait_serial(log, "LQ-QGA-STARTED /dev/vport")

        # What the agent reports.  Addresses come once eth0 has its IP.
        def guest():
            return self.ok("GetVMStatus", {"vmId": vm}).get("guest", {})
        computetest.wait_for(
            lambda: any(guest_ip in i.get("ipAddresses", [])
                        for i in guest().get("interfaces", [])),
            60, "the guest's address: %s" % guest())
        g = guest()
        self.assertTrue(g["agentConnected"])
        self.assertEqual(g["hostname"], "lq-agent-guest")
        self.assertEqual((g["osId"], g["osName"], g["osVersion"]),
                         ("lqguest", "LQ Test Guest", "7"))
        self.assertEqual(g["kernelRelease"],
                         os.path.basename(computetest.kernel()[1]))
        by_mac = {i["macAddress"]: i for i in g["interfaces"]}
        self.assertEqual(by_mac[mac]["nicId"], "nic0")
        self.assertEqual(by_mac[mac]["name"], "eth0")
        self.assertEqual(by_mac[mac]["ipAddresses"][0], guest_ip)
        lo = [i for i in g["interfaces"] if i["name"] == "lo"]
        self.assertEqual(lo[0].get("nicId", ""), "")    # not ours
        self.assertIn("127.0.0.1/8", lo[0]["ipAddresses"])
        self.assertNotIn("guest", str(self.ok("ListVMs", {})))

        # The guest refuses the first freeze: the snapshot fails, clearly,
        # and nothing is left of it.
        body = self.refused("CreateSnapshot", {"vmId": vm, "name": "refused",
                                               "quiesce": True})
        self.assertEqual(body["code"], "failed_precondition", body)
        self.assertIn("could not freeze its file systems", body["message"])
        self.wait_serial(log, "LQ-QGA-HOOK refuse")
        self.assertEqual(self.ok("ListSnapshots", {"vmId": vm}).get(
            "snapshots", []), [])
        self.assertEqual(self.ok("GetVMStatus", {"vmId": vm})["state"],
                         "POWER_STATE_RUNNING")

        # Quiesced: freeze, the volumes, thaw.
        before = len(self.serial(log))
        snap = self.ok("CreateSnapshot", {"vmId": vm, "name": "quiet",
                                          "quiesce": True})
        self.assertTrue(snap["quiesced"], snap)
        self.assertEqual(snap["vmState"], "POWER_STATE_RUNNING")
        self.assertEqual(snap.get("parentId", ""), "")
        self.wait_serial(log, "LQ-QGA-HOOK thaw")
        out = self.serial(log)[before:]
        self.assertLess(out.index("LQ-QGA-HOOK freeze"),
                        out.index("LQ-QGA-HOOK thaw"), out)
        # The agent's own log: the freeze and the thaw commands.
        self.assertIn("guest-fsfreeze-freeze", out)
        self.assertIn("guest-fsfreeze-thaw", out)
        self.assertLess(out.index("guest-fsfreeze-freeze"),
                        out.index("guest-fsfreeze-thaw"))
        plain = self.ok("CreateSnapshot", {"vmId": vm, "name": "plain"})
        self.assertFalse(plain.get("quiesced", False))
        self.assertEqual(plain["parentId"], snap["snapshotId"])
        listed = self.ok("ListSnapshots", {"vmId": vm})["snapshots"]
        self.assertEqual([(s["name"], s.get("quiesced", False))
                          for s in listed],
                         [("quiet", True), ("plain", False)])

        # A password through the agent: chpasswd in the guest gets it (the
        # stub prints a digest); it is in no log or error.
        import hashlib
        secret = "Pw-" + uuid.uuid4().hex
        self.assertEqual(self.ok("SetGuestPassword", {
            "vmId": vm, "user": "debian", "password": secret}), {})
        self.wait_serial(log, "LQ-QGA-CHPASSWD [] user=debian sha=%s"
                         % hashlib.sha256(secret.encode()).hexdigest()[:16])
        self.ok("SetGuestPassword", {"vmId": vm, "user": "root",
                                     "password": "$6$salt$hash",
                                     "crypted": True})
        self.wait_serial(log, "LQ-QGA-CHPASSWD [-e] user=root")
        for bad, field in ((dict(user="-x"), "user:"),
                           (dict(user="a b"), "user:"),
                           (dict(password="a\nb"), "password:"),
                           (dict(password=""), "password:")):
            req = dict({"vmId": vm, "user": "debian", "password": secret},
                       **bad)
            body = self.refused("SetGuestPassword", req)
            self.assertEqual(body["code"], "invalid_argument", body)
            self.assertTrue(body["message"].startswith(field), body)
        self.assertNotIn(secret, self.node.read_log())
        self.assertNotIn(secret, self.serial(log))

        # Resume: the guest's clock is set again through the agent.
        self.ok("PauseVM", {"vmId": vm})
        body = self.refused("CreateSnapshot", {"vmId": vm, "name": "paused",
                                               "quiesce": True})
        self.assertEqual(body["code"], "failed_precondition", body)
        self.assertIn("is paused", body["message"])
        self.ok("ResumeVM", {"vmId": vm})
        self.wait_serial(log, "LQ-QGA-HWCLOCK -s", timeout=30)

        # The guest ignores ACPI; its agent powers it off.
        since = int(self.ok("WatchEvents", {"timeoutSeconds": 0})["lastSeq"])
        t = time.time()
        self.assertEqual(self.ok("StopVM", {"vmId": vm, "timeoutSeconds": 60,
                                            "gracefulOnly": True}), {})
        self.assertLess(time.time() - t, 60)
        self.assertIn("LQ-QGA-SHUTDOWN -h -P +0", self.serial(log))
        self.assertEqual(self.ok("GetVMStatus", {"vmId": vm})["state"],
                         "POWER_STATE_STOPPED")
        stop = self.wait_event(since, vm, "STOPPED", "SHUTDOWN", timeout=20)
        self.assertFalse(stop.get("forced"), stop)
        self.assertIn("through guest agent", self.node.read_log())
        body = self.refused("SetGuestPassword", {
            "vmId": vm, "user": "debian", "password": secret})
        self.assertEqual(body["code"], "failed_precondition", body)

        for s in listed:
            self.ok("DeleteSnapshot", {"vmId": vm,
                                       "snapshotId": s["snapshotId"]})


if __name__ == "__main__":
    unittest.main(verbosity=2)
