"""VMs with QuantumNet ports and Ceph volumes: one daemon in embedded mode
(--sandbox --sandbox-ceph --sandbox-libvirt: private OVS/OVN, Ceph and
libvirtd), two QEMU/TCG guests booting Debian's kernel with a busybox
initramfs (computetest.INIT_NET).  What is asserted is what the guests
print on their serial consoles, the bytes in the RBD image, and the rows
in the OVN and Open vSwitch databases.

- Each guest's NIC is a port: it gets its address from OVN's DHCP, pings
  the other, reaches TCP 80 and not TCP 22 (the security group).
- An RBD volume hot-plugged into guest A is written by A, refused for B
  while A has it read-write, detached, read back from Ceph, then
  hot-plugged into B, which reads the same pattern.
- NIC hot-plug binds and unbinds a third port; GetConsole's WebSocket
  carries an RFB handshake with VNC authentication; bad references define nothing.
- Live migration to a second libvirtd, over HTTP/1.1 (one answer) and as
  the seed's control plane calls it: MigrateVM over gRPC with stubs
  generated from the seed, a stream of MigrationProgress phases ending
  COMPLETE; a target that goes away mid-way is FAILED and UNAVAILABLE.

Run with /usr/bin/python3 (Debian's python3-grpcio for the gRPC client).
"""
import glob
import json
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
sys.path.insert(0, os.path.join(HERE, "..", "proto"))
import computetest  # noqa: E402
import protoenv  # noqa: E402
from netlib import NET, PORT, SG, Node, new_id  # noqa: E402

VM = "limiquantix.node.v1.NodeDaemonService/"
VOL = "limiquantix.storage.v1.VolumeService/"
# lq_vm_device_id()'s namespace (src/compute/domain_xml.c).
DEVICE_NS = uuid.UUID("bfe66d90-d996-4d58-83e8-39aeba9853b8")



@unittest.skipIf(computetest.missing_prerequisites(),
                 computetest.missing_prerequisites())
class VmAttachTest(computetest.SerialMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-vm-attach-")
        cls.kernel, _ = computetest.kernel()
        cls.initrd = os.path.join(cls.tmp, "initrd")
        computetest.build_initramfs(cls.initrd, net=True)
        # The migration target of test_live_migration, known to the node
        # by name (node.yaml), started by the test.
        cls.mig_port = computetest.lqtest.free_port()
        cls.node = Node(args=["--sandbox-ceph", "--sandbox-libvirt"],
                        image_dirs=["/boot", cls.tmp],
                        peers={"node-b": "qemu+tcp://127.0.0.1:%d/system"
                               % cls.mig_port})
        cls.node.start(wait=False)
        cls.node.wait_ready(timeout=120)

    @classmethod
    def tearDownClass(cls):
        rc = cls.node.stop()
        assert rc == 0, cls.node.read_log()[-3000:]

    def ok(self, method, body):
        return self.node.api(method, body)

    def refused(self, method, body, code, fragment):
        status, r = self.node.api_status(method, body)
        self.assertEqual(r.get("code"), code, (method, body, r))
        self.assertIn(fragment, r["message"])

    def volume(self, vol_id):
        """A 16 MiB volume in the sandbox's Ceph, deleted afterwards."""
        vol = self.ok(VOL + "CreateVolume", {
            "id": vol_id, "poolId": "sandbox-ceph", "name": vol_id,
            "sizeBytes": str(16 << 20)})
        self.addCleanup(self.node.api_status, VOL + "DeleteVolume",
                        {"id": vol["id"]})
        return vol

    def create_vm(self, name, port, cmdline):
        vm_id = str(uuid.uuid4())
        log = self.ok(VM + "CreateVM", {
            "vmId": vm_id, "name": name,
            "spec": {"cpuCores": 1, "memoryMib": 256,
                     "kernelPath": self.kernel, "initrdPath": self.initrd,
                     "kernelCmdline": "console=ttyS0 panic=-1 " + cmdline,
                     "serialLog": True,
                     "nics": [{"id": "eth0", "portId": port["id"]}]}}
        )["status"]["serialLogPath"]
        self.addCleanup(self.delete_vm, vm_id)
        return vm_id, log

    def raw_file(self):
        """A small raw disk image in the node's image directory."""
        path = os.path.join(self.tmp, "disk.raw")
        with open(path, "wb") as f:
            f.truncate(1 << 20)
        return path

    def delete_vm(self, vm_id):
        self.node.api_status(VM + "ForceStopVM", {"vmId": vm_id})
        self.node.api_status(VM + "DeleteVM", {"vmId": vm_id})

    def rbd_read(self, volume_id, length):
        """Bytes of the volume, read from Ceph itself (rbd export)."""
        conf, keyring = self.ceph_paths()
        r = subprocess.run(["rbd", "-c", conf, "--keyring", keyring,
                            "export", "rbd/lq-" + volume_id, "-"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout[:length]

    def ovs_iface(self, name):
        r = subprocess.run(
            ["ovs-vsctl", "--db=unix:%s/ovs/db.sock" % self.node.sandbox,
             "--bare", "--columns=external_ids", "find", "Interface",
             "name=%s" % name], capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def test_guests_on_ports_and_a_volume_between_them(self):
        t0 = time.time()
        net = self.ok(NET + "CreateNetwork", {
            "id": new_id(), "name": "vmnet",
            "subnets": [{"cidr": "10.77.0.0/24"}]})
        self.addCleanup(self.node.api_status, NET + "DeleteNetwork",
                        {"id": net["id"]})
        sg = self.ok(SG + "CreateSecurityGroup", {
            "id": new_id(), "name": "web", "rules": [
                {"id": new_id(), "direction": "ingress", "protocol": "icmp"},
                {"id": new_id(), "direction": "ingress", "protocol": "tcp",
                 "portRangeMin": 80, "portRangeMax": 80},
                {"id": new_id(), "direction": "egress"}]})
        self.addCleanup(self.node.api_status, SG + "DeleteSecurityGroup",
                        {"id": sg["id"]})
        ports = []
        for name in ("pa", "pb", "pc"):
            p = self.ok(PORT + "CreatePort", {
                "id": new_id(), "networkId": net["id"], "name": name,
                "securityGroupIds": [sg["id"]]})
            self.addCleanup(self.node.api_status, PORT + "DeletePort",
                            {"id": p["id"]})
            ports.append(p)
        pa, pb, pc = ports
        ip_b = pb["fixedIps"][0]["ipAddress"]

        vol = self.volume("vm-data")
        pattern = uuid.uuid4().hex[:12]

        a, log_a = self.create_vm("lq-a", pa, "lq.peer=%s lq.disk=write "
                                  "lq.pattern=%s" % (ip_b, pattern))
        b, log_b = self.create_vm("lq-b", pb, "lq.disk=read")

        # Bad references define nothing.
        self.refused(VM + "CreateVM", {
            "name": "lq-bad", "spec": {"memoryMib": 64, "nics": [
                {"id": "n", "portId": str(uuid.uuid4())}]}},
            "invalid_argument", "spec.nics[0].portId: no port")
        self.refused(VM + "CreateVM", {
            "name": "lq-bad", "spec": {"memoryMib": 64, "nics": [
                {"id": "n", "portId": pa["id"]}]}},
            "failed_precondition", "spec.nics[0].portId: port %s is used "
            "by VM %s" % (pa["id"], a))
        self.assertNotIn("lq-bad", [v["name"] for v in
                                    self.ok(VM + "ListVMs", {})["vms"]])

        for vm in (a, b):
            self.ok(VM + "StartVM", {"vmId": vm})
            self.assertEqual(self.ok(VM + "GetVMStatus", {"vmId": vm})
                             ["state"], "POWER_STATE_RUNNING")
        # StartVM returned after OVN installed the ports: they are up and
        # bound to their VMs, plugged by libvirt with our port id.
        for port, vm in ((pa, a), (pb, b)):
            got = self.ok(PORT + "GetPort", {"id": port["id"]})
            self.assertEqual((got["status"], got["vmId"]), ("UP", vm))
            tap = "lq" + port["id"].replace("-", "")[:12]
            self.assertEqual(got["deviceName"], tap)
            self.assertIn("iface-id=%s" % port["id"], self.ovs_iface(tap))
            self.assertIn("attached-mac=%s" % port["macAddress"],
                          self.ovs_iface(tap))

        # The guests' view: DHCP from OVN, ping, TCP 80 yes, TCP 22 no.
        self.wait_serial(log_a, "LQ-GUEST-DHCP %s/24"
                         % pa["fixedIps"][0]["ipAddress"])
        self.wait_serial(log_b, "LQ-GUEST-DHCP %s/24" % ip_b)
        self.wait_serial(log_a, "LQ-GUEST-TCP22", timeout=150)
        serial = self.serial(log_a)
        self.assertIn("LQ-GUEST-PING-OK", serial)
        self.assertIn("LQ-GUEST-TCP80 [ok-80]", serial)
        self.assertIn("LQ-GUEST-TCP22 []", serial)
        boot = time.time() - t0

        # Console: RFB with VNC authentication through the node's
        # WebSocket, as noVNC would open it.
        import vncws
        con = self.ok(VM + "GetConsole", {"vmId": a})
        self.assertEqual((con["type"], con["host"], con["port"]),
                         ("vnc", "127.0.0.1", self.node.port))
        self.assertEqual(len(con["password"]), 8)
        _, _, desktop = vncws.rfb_handshake(
            "ws://127.0.0.1:%d%s" % (con["port"], con["websocketPath"]),
            con["password"])
        self.assertEqual(desktop, "QEMU (lq-a)")

        # The volume: hot-plugged into A, which writes the pattern...
        t = time.time()
        self.ok(VM + "AttachDisk", {"vmId": a, "disk": {
            "id": "data", "volumeId": vol["id"]}})
        self.wait_serial(log_a, "LQ-GUEST-DISK-WRITTEN", timeout=60)
        attach_to_write = time.time() - t
        # ...grown under the running guest: Ceph first, then QEMU, whose
        # virtio-blk config change the guest kernel reports...
        r = self.ok(VM + "ResizeDisk", {"vmId": a, "diskId": "data",
                                        "sizeBytes": str(32 << 20)})
        self.assertEqual(r["sizeBytes"], str(32 << 20))
        self.wait_serial(log_a, "new size: 65536 512-byte logical blocks",
                         timeout=30)
        self.assertEqual(self.ok(VOL + "GetVolume", {"id": vol["id"]})
                         ["sizeBytes"], str(32 << 20))
        self.assertEqual(self.ok(VM + "ResizeDisk", {   # again: a no-op
            "vmId": a, "diskId": "data", "sizeBytes": str(32 << 20)}),
            r)
        self.refused(VM + "ResizeDisk", {"vmId": a, "diskId": "data",
                                         "sizeBytes": str(16 << 20)},
                     "invalid_argument", "sizeBytes: 16777216 is smaller "
                     "than disk data's 33554432 (disks only grow)")
        self.refused(VM + "ResizeDisk", {"vmId": a, "diskId": "data",
                                         "sizeBytes": "1000"},
                     "invalid_argument", "sizeBytes: expected a positive "
                     "multiple of 512")
        self.refused(VM + "ResizeDisk", {"vmId": a, "diskId": "nosuch",
                                         "sizeBytes": str(64 << 20)},
                     "not_found", "diskId: VM %s has no disk nosuch" % a)
        # ...refused for B while A writes to it...
        self.refused(VM + "AttachDisk", {"vmId": b, "disk": {
            "id": "data", "volumeId": vol["id"]}}, "failed_precondition",
            "disk.volumeId: volume vm-data is attached to VM %s" % a)
        self.refused(VM + "AttachDisk", {"vmId": b, "disk": {
            "id": "data", "volumeId": "nosuch"}}, "invalid_argument",
            "disk.volumeId: no volume nosuch")
        # Metrics: per NIC and per disk, by our ids.
        mt = self.ok(VM + "GetVMMetrics", {"vmId": a})
        self.assertGreater(int(mt["cpuTimeNs"]), 0)
        self.assertEqual(int(mt["vcpus"]), 1)
        nic = mt["nics"][0]
        self.assertEqual(nic["nicId"], "eth0")
        self.assertGreater(int(nic["txPackets"]), 3)    # DHCP, ping, TCP
        self.assertGreater(int(nic["rxPackets"]), 3)
        disk = [d for d in mt["disks"] if d["diskId"] == "data"][0]
        self.assertGreaterEqual(int(disk["writeBytes"]), 512)
        # The seed's fields: totals over the devices, RSS in bytes.
        self.assertEqual(int(mt["diskWriteBytes"]),
                         sum(int(d["writeBytes"]) for d in mt["disks"]))
        self.assertEqual(int(mt["networkTxBytes"]),
                         sum(int(n["txBytes"]) for n in mt["nics"]))
        self.assertEqual(int(mt["memoryUsedBytes"]),
                         int(mt["memoryRssKib"]) * 1024)
        # ...detached, and the bytes are in Ceph...
        self.ok(VM + "DetachDisk", {"vmId": a, "diskId": "data"})
        self.assertEqual(self.rbd_read(vol["id"], 24),
                         ("LQ-PATTERN-%s\n" % pattern).encode())
        # ...and B reads them.
        self.ok(VM + "AttachDisk", {"vmId": b, "disk": {
            "id": "data", "volumeId": vol["id"], "readonly": True}})
        self.wait_serial(log_b, "LQ-GUEST-DISK-READ LQ-PATTERN-%s" % pattern,
                         timeout=60)
        self.refused(VM + "DetachDisk", {"vmId": a, "diskId": "data"},
                     "not_found", "diskId: VM %s has no disk data" % a)

        # NIC hot-plug: the third port is bound to B, then unbound.
        self.ok(VM + "AttachNIC", {"vmId": b, "nic": {
            "id": "eth1", "portId": pc["id"]}})
        got = self.ok(PORT + "GetPort", {"id": pc["id"]})
        self.assertEqual((got["status"], got["vmId"]), ("UP", b))
        self.ok(VM + "DetachNIC", {"vmId": b, "nicId": "eth1"})
        got = self.ok(PORT + "GetPort", {"id": pc["id"]})
        self.assertEqual(got["vmId"], "")
        tap_c = "lq" + pc["id"].replace("-", "")[:12]
        self.assertEqual(self.ovs_iface(tap_c), "")

        # Deleting a VM unbinds its port, never deletes its volume.
        self.ok(VM + "ForceStopVM", {"vmId": b})
        self.ok(VM + "DeleteVM", {"vmId": b})
        self.assertEqual(self.ok(PORT + "GetPort", {"id": pb["id"]})["vmId"],
                         "")
        self.assertEqual(self.ok(VOL + "GetVolume", {"id": vol["id"]})["id"],
                         vol["id"])
        print("two guests on ports: boot to DHCP, ping and TCP in %.1f s; "
              "AttachDisk to the guest's write in %.1f s"
              % (boot, attach_to_write))


    def ceph_paths(self):
        ceph = os.path.join(self.node.sandbox, "ceph")
        return (glob.glob(os.path.join(ceph, "*.conf"))[0],
                glob.glob(os.path.join(ceph, "*keyring*"))[0])

    def rbd_overwrite(self, volume_id, length):
        """Overwrites the start of the volume with "Z"s from the host
        (qemu-io through QEMU's rbd driver)."""
        conf, keyring = self.ceph_paths()
        r = subprocess.run(
            ["qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 %d" % length,
             "rbd:rbd/lq-%s:conf=%s:keyring=%s" % (volume_id, conf,
                                                   keyring)],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def writing_guest(self, name, vol, pattern):
        """A running guest that has written LQ-PATTERN-<pattern> to its
        disk "data", volume 'vol'."""
        vm = str(uuid.uuid4())
        log = self.ok(VM + "CreateVM", {
            "vmId": vm, "name": name,
            "spec": {"memoryMib": 256, "kernelPath": self.kernel,
                     "initrdPath": self.initrd,
                     "kernelCmdline": "console=ttyS0 panic=-1 lq.disk=write "
                                      "lq.pattern=" + pattern,
                     "serialLog": True,
                     "disks": [{"id": "data", "volumeId": vol["id"]}]}}
        )["status"]["serialLogPath"]
        self.addCleanup(self.delete_vm, vm)
        self.ok(VM + "StartVM", {"vmId": vm})
        self.wait_serial(log, "LQ-GUEST-DISK-WRITTEN")
        return vm

    def test_snapshot_and_revert(self):
        """A VM snapshot is a snapshot of each volume, taken with the VM
        paused; revert (VM stopped) brings back the bytes."""
        vol = self.volume("vm-snap")
        c = self.writing_guest("lq-c", vol, "one")

        snap = self.ok(VM + "CreateSnapshot", {"vmId": c, "name": "s1"})
        self.assertEqual([d["volumeId"] for d in snap["disks"]], [vol["id"]])
        self.assertEqual(self.ok(VM + "GetVMStatus", {"vmId": c})["state"],
                         "POWER_STATE_RUNNING")      # Paused only for the snapshot.
        # The same request again returns it; another name is refused.
        again = self.ok(VM + "CreateSnapshot", {
            "vmId": c, "snapshotId": snap["snapshotId"], "name": "s1"})
        self.assertEqual(again["createdAt"], snap["createdAt"])
        self.refused(VM + "CreateSnapshot", {
            "vmId": c, "snapshotId": snap["snapshotId"], "name": "x"},
            "already_exists", "snapshotId")
        self.refused(VM + "RevertSnapshot", {
            "vmId": c, "snapshotId": snap["snapshotId"]},
            "failed_precondition", "stop it before reverting")

        self.ok(VM + "ForceStopVM", {"vmId": c})
        self.rbd_overwrite(vol["id"], 512)
        self.assertEqual(self.rbd_read(vol["id"], 15), b"Z" * 15)
        self.ok(VM + "RevertSnapshot", {"vmId": c,
                                        "snapshotId": snap["snapshotId"]})
        self.assertEqual(self.rbd_read(vol["id"], 15), b"LQ-PATTERN-one\n")

        listed = self.ok(VM + "ListSnapshots", {"vmId": c})["snapshots"]
        self.assertEqual([s["snapshotId"] for s in listed],
                         [snap["snapshotId"]])
        self.assertEqual(len(self.ok(VOL + "ListSnapshots", {
            "volumeId": vol["id"]}).get("snapshots", [])), 1)
        self.ok(VM + "DeleteSnapshot", {"vmId": c,
                                        "snapshotId": snap["snapshotId"]})
        self.assertEqual(self.ok(VM + "ListSnapshots", {"vmId": c})
                         .get("snapshots", []), [])
        self.assertEqual(self.ok(VOL + "ListSnapshots", {
            "volumeId": vol["id"]}).get("snapshots", []), [])
        self.refused(VM + "RevertSnapshot", {
            "vmId": c, "snapshotId": snap["snapshotId"]}, "not_found",
            "snapshotId: VM %s has no snapshot" % c)

        # A VM with a plain-path disk cannot be snapshotted.
        d = str(uuid.uuid4())
        self.ok(VM + "CreateVM", {"vmId": d, "name": "lq-d", "spec": {
            "memoryMib": 64, "disks": [{"id": "p", "path": self.raw_file()}]}})
        self.addCleanup(self.delete_vm, d)
        self.refused(VM + "CreateSnapshot", {"vmId": d, "name": "s"},
                     "failed_precondition", "disk p of VM %s is a path" % d)

    def test_clone_of_a_paused_vm(self):
        """CloneVM of a paused VM on Ceph: the snapshot is taken while
        QEMU holds the image (librbd flushes for it), the full clone is a
        flattened RBD image with the guest's bytes; the source stays
        paused.  A VM with a writable image file cannot be cloned."""
        vol = self.volume("vm-clone-src")
        src = self.writing_guest("lq-clone-src", vol, "rbdclone")
        self.ok(VM + "PauseVM", {"vmId": src})

        clone = str(uuid.uuid4())
        self.addCleanup(self.delete_vm, clone)
        r = self.ok(VM + "CloneVM", {"sourceVmId": src, "vmId": clone,
                                     "name": "lq-clone"})
        self.assertTrue(r["created"], r)
        self.assertEqual(r["status"]["state"], "POWER_STATE_STOPPED")
        self.assertEqual(self.ok(VM + "GetVMStatus", {"vmId": src})["state"],
                         "POWER_STATE_PAUSED")
        volume = str(uuid.uuid5(DEVICE_NS, "%s/disk/data" % clone))
        v = self.ok(VOL + "GetVolume", {"id": volume})
        self.assertEqual(v["poolId"], "sandbox-ceph")
        self.assertNotIn("parent", v)
        self.assertEqual(self.ok(VOL + "ListSnapshots", {
            "volumeId": vol["id"]}).get("snapshots", []), [])
        self.assertEqual(self.rbd_read(volume, 20), b"LQ-PATTERN-rbdclone\n")
        self.delete_vm(clone)
        status, r = self.node.api_status(VOL + "GetVolume", {"id": volume})
        self.assertEqual(r.get("code"), "not_found", r)
        self.ok(VOL + "GetVolume", {"id": vol["id"]})   # the caller's stays

        d = str(uuid.uuid4())
        self.ok(VM + "CreateVM", {"vmId": d, "name": "lq-clone-path", "spec": {
            "memoryMib": 64, "disks": [{"id": "p", "path": self.raw_file()}]}})
        self.addCleanup(self.delete_vm, d)
        self.refused(VM + "CloneVM", {"sourceVmId": d, "vmId": clone,
                                      "name": "lq-clone"},
                     "failed_precondition", "disk p of VM %s is a writable "
                     "image file" % d)

    def test_live_migration(self):
        """A running VM with an RBD disk moves to another libvirtd (peer to
        peer): its definition, metadata and cephx secret go with it."""
        target = computetest.LibvirtSandbox().start(tcp_port=self.mig_port)
        self.addCleanup(target.stop)
        vol = self.volume("vm-mig")
        e = str(uuid.uuid4())
        log = self.ok(VM + "CreateVM", {
            "vmId": e, "name": "lq-e",
            "spec": {"memoryMib": 256, "kernelPath": self.kernel,
                     "initrdPath": self.initrd,
                     "kernelCmdline": "console=ttyS0 panic=-1 lq.disk=write "
                                      "lq.pattern=mig lq.heartbeat",
                     "serialLog": True,
                     "disks": [{"id": "data", "volumeId": vol["id"]}]},
            "labels": {"app": "mig"}})["status"]["serialLogPath"]
        self.addCleanup(self.delete_vm, e)
        self.ok(VM + "StartVM", {"vmId": e})
        self.wait_serial(log, "LQ-GUEST-DISK-WRITTEN")

        # Refusals: a bad name; URIs the caller makes up (a program to
        # run, another socket, no certificate check) never reach libvirt:
        # only the host part names a node, and those are unknown; the
        # node's own URI; a VM with a local disk.
        marker = os.path.join(self.tmp, "migration-ran-a-program")
        for bad in ("x y", "qemu+ext:///system?command=/usr/bin/touch%20"
                    + marker, "qemu+unix:///system?socket=/run/x.sock",
                    "qemu+tls://evil.example/system?no_verify=1",
                    "qemu+tcp://10.9.9.9/system", "node-c"):
            self.refused(VM + "MigrateVM", {"vmId": e, "targetNodeUri": bad},
                         "invalid_argument", "targetNodeUri")
        self.assertFalse(os.path.exists(marker))
        f = str(uuid.uuid4())
        self.ok(VM + "CreateVM", {"vmId": f, "name": "lq-f", "spec": {
            "memoryMib": 64, "disks": [{"id": "p", "path": self.raw_file()}]}})
        self.addCleanup(self.delete_vm, f)
        self.refused(VM + "MigrateVM", {"vmId": f, "targetNodeUri":
                                        "node-b"}, "failed_precondition",
                     "disk p of VM %s is a local path" % f)

        self.wait_serial(log, "LQ-GUEST-ALIVE")
        up_before = float(self.serial(log).rsplit("LQ-GUEST-ALIVE ", 1)[1]
                          .split()[0])
        t = time.time()
        # Named as the control plane may name it: by a URI whose host is
        # the peer's address (the URI itself is the node's own).
        done = self.ok(VM + "MigrateVM", {
            "vmId": e, "targetNodeUri": "qemu+ssh://root@127.0.0.1/system",
            "live": True})
        # Unary: the stream's last message.
        self.assertEqual((done["vmId"], done["phase"], done["percentComplete"],
                          done["error"]),
                         (e, "MIGRATION_PHASE_COMPLETE", 100, ""))
        took = time.time() - t
        self.refused(VM + "GetVMStatus", {"vmId": e}, "not_found", e)
        r = target.virsh("domstate", e)
        self.assertEqual(r.stdout.strip(), "running", r.stderr)
        xml = target.virsh("dumpxml", e).stdout
        self.assertIn("https://limiquantix.io/xmlns/node/vm/1", xml)
        self.assertIn('volume="vm-mig"', xml.replace("'", '"'))
        secret = xml.split("<secret type='ceph' uuid='")[1].split("'")[0]
        self.assertIn(secret, target.virsh("secret-list").stdout)
        # The same guest runs on there, not a rebooted one: the target's
        # QEMU starts the console log afresh and the uptime goes on.
        self.wait_serial(log, "LQ-GUEST-ALIVE", timeout=30)
        uptime = float(self.serial(log).split("LQ-GUEST-ALIVE ")[1].split()[0])
        self.assertGreater(uptime, up_before)
        target.virsh("destroy", e)
        print("live migration of a running guest with an RBD disk: %.1f s"
              % took)
        self.migrate_by_grpc_stream(target)

    def test_live_migration_carries_the_seed(self):
        """A VM with a cloud-init seed moves to a target that does not see
        this node's state directory (its libvirtd and QEMU have their own
        there, as another host): the node copies the ISO over the target's
        libvirtd (same bytes, 0600), the guest runs on, reads its seed
        again after a reset on the target, and this node's copy is gone."""
        vol = self.volume("vm-seed-mig")
        vm = str(uuid.uuid4())
        secret = "Pw-" + uuid.uuid4().hex
        log = self.ok(VM + "CreateVM", {
            "vmId": vm, "name": "lq-seed-mig",
            "spec": {"memoryMib": 256, "kernelPath": self.kernel,
                     "initrdPath": self.initrd,
                     "kernelCmdline": "console=ttyS0 panic=-1 lq.cidata "
                                      "lq.heartbeat",
                     "serialLog": True,
                     "disks": [{"id": "data", "volumeId": vol["id"]}],
                     "cloudInit": {"password": secret,
                                   "hostname": "seed-mig"}}}
        )["status"]["serialLogPath"]
        self.addCleanup(self.delete_vm, vm)
        state = os.path.dirname(log)
        iso = os.path.join(state, vm + ".cidata.iso")
        with open(iso, "rb") as f:
            seed = f.read()
        target = computetest.LibvirtSandbox().start(tcp_port=self.mig_port,
                                                    own_dir=state)
        self.addCleanup(target.stop)
        self.ok(VM + "StartVM", {"vmId": vm})
        self.wait_serial(log, 'LQ-CIDATA-HOST "local-hostname":"seed-mig"')

        done = self.ok(VM + "MigrateVM", {"vmId": vm, "targetNodeUri":
                                          "node-b", "live": True})
        self.assertEqual((done["phase"], done["error"]),
                         ("MIGRATION_PHASE_COMPLETE", ""))
        copy = os.path.join(target.own, vm + ".cidata.iso")
        with open(copy, "rb") as f:
            self.assertEqual(f.read(), seed)
        self.assertEqual(os.stat(copy).st_mode & 0o777, 0o600)
        self.assertFalse(os.path.exists(iso))
        self.assertNotIn("lq-seed-", target.virsh("pool-list", "--all").stdout)
        self.assertNotIn(secret, self.node.read_log())
        r = target.virsh("domstate", vm)
        self.assertEqual(r.stdout.strip(), "running", r.stderr)
        # The target's QEMU logs the console in its own state directory.
        there = os.path.join(target.own, vm + ".serial.log")
        self.wait_serial(there, "LQ-GUEST-ALIVE", timeout=30)
        self.assertNotIn("LQ-CIDATA-HOST", self.serial(there))
        target.virsh("reset", vm)
        self.wait_serial(there, 'LQ-CIDATA-HOST "local-hostname":"seed-mig"')
        target.virsh("destroy", vm)

    def migrate_by_grpc_stream(self, target):
        """MigrateVM as the seed's grpc-go client calls it: a server stream
        of MigrationProgress, PREPARING first, COMPLETE (100 %) last, the
        bytes never going back; then a target that is gone: FAILED and the
        stream's status UNAVAILABLE, the VM still here."""
        import grpc
        pb, rpc = protoenv.seed_node_stubs(tempfile.mkdtemp(dir=self.tmp))
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.node.port)
        self.addCleanup(channel.close)
        node = rpc.NodeDaemonServiceStub(channel)
        vol = self.volume("vm-mig-2")
        g = str(uuid.uuid4())
        self.ok(VM + "CreateVM", {
            "vmId": g, "name": "lq-g",
            "spec": {"memoryMib": 256, "kernelPath": self.kernel,
                     "initrdPath": self.initrd,
                     "kernelCmdline": "console=ttyS0 panic=-1",
                     "disks": [{"id": "data", "volumeId": vol["id"]}]}})
        self.addCleanup(self.delete_vm, g)
        self.ok(VM + "StartVM", {"vmId": g})
        progress = list(node.MigrateVM(pb.MigrateVMRequest(
            vm_id=g, target_node_uri="node-b", live=True), timeout=120))
        phases = [p.phase for p in progress]
        self.assertEqual(phases[0], pb.MIGRATION_PHASE_PREPARING, progress)
        self.assertEqual(phases[-1], pb.MIGRATION_PHASE_COMPLETE, progress)
        self.assertEqual(progress[-1].percent_complete, 100)
        done = [p.data_transferred_bytes for p in progress]
        self.assertEqual(done, sorted(done), progress)
        self.assertTrue(all(p.vm_id == g for p in progress))
        self.assertNotIn(pb.MIGRATION_PHASE_FAILED, phases)
        print("gRPC MigrateVM progress: %s" % [
            (pb.MigrationPhase.Name(p.phase), p.percent_complete)
            for p in progress])
        r = target.virsh("domstate", g)
        self.assertEqual(r.stdout.strip(), "running", r.stderr)
        target.virsh("destroy", g)
        # Refused before the stream starts: named in the status.
        with self.assertRaises(grpc.RpcError) as ctx:
            list(node.MigrateVM(pb.MigrateVMRequest(
                vm_id=g, target_node_uri="node-b", storage=True), timeout=30))
        self.assertEqual(ctx.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("storage", ctx.exception.details())
        # The target goes away: the migration fails, the VM stays.
        h = str(uuid.uuid4())
        self.ok(VM + "CreateVM", {
            "vmId": h, "name": "lq-h",
            "spec": {"memoryMib": 64, "kernelPath": self.kernel,
                     "initrdPath": self.initrd,
                     "kernelCmdline": "console=ttyS0 panic=-1"}})
        self.addCleanup(self.delete_vm, h)
        self.ok(VM + "StartVM", {"vmId": h})
        target.stop()
        stream = node.MigrateVM(pb.MigrateVMRequest(
            vm_id=h, target_node_uri="node-b", live=True), timeout=60)
        seen = []
        with self.assertRaises(grpc.RpcError) as ctx:
            for p in stream:
                seen.append(p)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(seen[-1].phase, pb.MIGRATION_PHASE_FAILED, seen)
        self.assertIn("cannot connect", seen[-1].error)
        self.assertEqual(self.ok(VM + "GetVMStatus", {"vmId": h})["state"],
                         "POWER_STATE_RUNNING")


if __name__ == "__main__":
    unittest.main(verbosity=2)
