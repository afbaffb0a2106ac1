"""A VM disk on an iSCSI volume with CHAP: the node exports the volume from
a local pool through a real tgtd (the iscsi storage backend), QEMU reaches
it through its libiscsi driver with the CHAP secret as a libvirt secret.

One guest writes a pattern to the volume given at CreateVM; the bytes are
read back from the LUN's backing file; the volume is then hot-plugged into
a second guest, which reads the same pattern.  The CHAP secret appears in
no log, API answer or domain XML."""
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
sys.path.insert(0, os.path.join(HERE, "..", "storage"))
import computetest  # noqa: E402
from netlib import Node  # noqa: E402
from test_iscsi_api import Tgtd  # noqa: E402

VM = "limiquantix.node.v1.NodeDaemonService/"
VOL = "limiquantix.storage.v1.VolumeService/"
IQN = "iqn.2026-11.io.limiquantix.test:vms"
USER = "lqvm"
SECRET = "Vm-Chap-Secret-90210q"



@unittest.skipIf(computetest.missing_prerequisites(),
                 computetest.missing_prerequisites())
class VmIscsiTest(computetest.SerialMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-vm-iscsi-")
        cls.kernel, _ = computetest.kernel()
        cls.initrd = os.path.join(cls.tmp, "initrd")
        computetest.build_initramfs(cls.initrd, net=True)
        cls.back = os.path.join(cls.tmp, "back")
        os.mkdir(cls.back, 0o700)
        port = computetest.lqtest.free_port()
        ctl = 1000 + (os.getpid() + 7) % 9000
        cls.tgtd = Tgtd("127.0.0.1:%d" % port, ctl)
        cls.tgtd_log = open(os.path.join(cls.tmp, "tgtd.log"), "w")
        cls.tgtd.start(cls.tgtd_log)
        config = ("storage:\n  pools:\n"
                  "    - {id: back, backend: local, path: %s}\n"
                  "    - id: san\n"
                  "      backend: iscsi\n"
                  "      portal: \"127.0.0.1:%d\"\n"
                  "      target_iqn: %s\n"
                  "      chap_user: %s\n"
                  "      chap_secret: %s\n"
                  "      export: {backing_pool: back, tgtd_control_port: %d,"
                  " acl: \"127.0.0.0/8\"}\n"
                  % (cls.back, port, IQN, USER, SECRET, ctl))
        cls.node = Node(config=config, args=["--sandbox-libvirt"],
                        image_dirs=["/boot", cls.tmp])
        try:
            cls.node.start(wait=False)
            cls.node.wait_ready(timeout=120)
        except Exception:
            cls.tgtd.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.node.stop()
            log = cls.node.read_log()
            assert rc == 0, log[-3000:]
            assert SECRET not in log, "CHAP secret in the daemon log"
        finally:
            cls.tgtd.stop()

    def ok(self, method, body):
        r = self.node.api(method, body)
        self.assertNotIn(SECRET, str(r))
        return r

    def vm(self, name, cmdline, disks=()):
        vm_id = str(uuid.uuid4())
        log = self.ok(VM + "CreateVM", {
            "vmId": vm_id, "name": name,
            "spec": {"memoryMib": 256, "kernelPath": self.kernel,
                     "initrdPath": self.initrd,
                     "kernelCmdline": "console=ttyS0 panic=-1 " + cmdline,
                     "serialLog": True, "disks": list(disks)}}
        )["status"]["serialLogPath"]
        self.addCleanup(self.node.api_status, VM + "DeleteVM",
                        {"vmId": vm_id})
        self.addCleanup(self.node.api_status, VM + "ForceStopVM",
                        {"vmId": vm_id})
        return vm_id, log

    def test_guest_disk_on_iscsi_with_chap(self):
        vol = self.ok(VOL + "CreateVolume", {
            "id": "vmlun", "poolId": "san", "name": "vmlun",
            "sizeBytes": str(16 << 20)})
        self.addCleanup(self.node.api_status, VOL + "DeleteVolume",
                        {"id": vol["id"]})
        a, log_a = self.vm("lq-ia", "lq.disk=write lq.pattern=isc",
                           [{"id": "data", "volumeId": vol["id"]}])
        self.ok(VM + "StartVM", {"vmId": a})
        self.wait_serial(log_a, "LQ-GUEST-DISK-WRITTEN")

        # The domain names a libvirt secret, never the CHAP secret.
        uri = "qemu:///system?socket=%s/libvirt/sock/libvirt-sock" \
            % self.node.sandbox
        xml = subprocess.run(["virsh", "-c", uri, "dumpxml", a],
                             capture_output=True, text=True).stdout
        self.assertIn("protocol='iscsi'", xml)
        self.assertIn("<secret type='iscsi' uuid=", xml)
        self.assertNotIn(SECRET, xml)

        self.ok(VM + "ForceStopVM", {"vmId": a})
        self.ok(VM + "DetachDisk", {"vmId": a, "diskId": "data"})
        with open(os.path.join(self.back, "lq-lun~vmlun.raw"), "rb") as f:
            self.assertEqual(f.read(15), b"LQ-PATTERN-isc\n")

        b, log_b = self.vm("lq-ib", "lq.disk=read")
        self.ok(VM + "StartVM", {"vmId": b})
        self.wait_serial(log_b, "LQ-GUEST-BOOTED")
        self.ok(VM + "AttachDisk", {"vmId": b, "disk": {
            "id": "data", "volumeId": vol["id"], "readonly": True}})
        self.wait_serial(log_b, "LQ-GUEST-DISK-READ LQ-PATTERN-isc")


if __name__ == "__main__":
    unittest.main(verbosity=2)
