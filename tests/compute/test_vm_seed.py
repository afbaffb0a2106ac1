"""CreateVM as the seed's control plane fills it (issue 14): NICs named by
their network (the node makes the port) or by a host bridge, disks named
by a volume id in "path" or by their size alone (the node makes the
volume), against the sandbox's real OVN and a real local storage pool.

SeedDevicesTest: libvirt's test:///default driver (in the daemon: nothing
boots); what is checked is what the node makes, finds and removes: OVN
ports, volumes, domains.  SeedGuestTest: one QEMU guest under the
sandbox's libvirtd, whose NIC by network gets its DHCP address from OVN
and whose disk by size it writes.

Starts a --sandbox daemon (OVS/OVN): run it under
flock /tmp/lq-sandbox.lock like every sandbox test.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
import computetest  # noqa: E402
from netlib import NET, PORT, Node, new_id  # noqa: E402

# The node's default security group (LQ_DEFAULT_SG_ID in compute.h).
DEFAULT_SG = "0d1c6e58-5a43-5c2f-9a4e-3b1f2c7d0000"

VM = "limiquantix.node.v1.NodeDaemonService/"
VOL = "limiquantix.storage.v1.VolumeService/"
# lq_vm_device_id()'s namespace (src/compute/domain_xml.c).
DEVICE_NS = uuid.UUID("bfe66d90-d996-4d58-83e8-39aeba9853b8")
BRIDGE = "br-lqseed"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIClonedKeyForTheCloneTest lq@clone"


def device_id(vm, kind, dev):
    return str(uuid.uuid5(DEVICE_NS, "%s/%s/%s" % (vm, kind, dev)))


@unittest.skipIf(os.geteuid() != 0, "needs root (the sandbox's OVS)")
class SeedDevicesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-vm-seed-")
        cls.pool_dir = os.path.join(cls.tmp, "pool")
        os.mkdir(cls.pool_dir, 0o700)
        cls.image = os.path.join(cls.tmp, "disk.raw")
        with open(cls.image, "wb") as f:
            f.truncate(1 << 20)
        config = ("storage:\n"
                  "  default_pool: local\n"
                  "  pools:\n"
                  "    - {id: local, backend: local, path: %s}\n"
                  "    - {id: other, backend: local, path: %s/other}\n"
                  "hypervisor:\n"
                  "  libvirt_uri: \"test:///default\"\n"
                  "  image_dirs: [\"%s\"]\n"
                  "  bridges: [%s]\n"
                  % (cls.pool_dir, cls.tmp, cls.tmp, BRIDGE))
        os.mkdir(os.path.join(cls.tmp, "other"), 0o700)
        cls.node = Node(config=config)
        cls.node.start(wait=False)
        cls.node.wait_ready(timeout=60)
        cls.net = cls.node.api(NET + "CreateNetwork", {
            "id": new_id(), "name": "seednet",
            "subnets": [{"cidr": "10.78.0.0/24"}]})

    @classmethod
    def tearDownClass(cls):
        try:
            cls.node.api_status(NET + "DeleteNetwork", {"id": cls.net["id"]})
        finally:
            rc = cls.node.stop()    # also when the daemon died
        assert rc == 0, cls.node.read_log()[-3000:]

    # ---- helpers --------------------------------------------------------

    def ok(self, method, body):
        return self.node.api(method, body)

    def refused(self, method, body, code, prefix):
        status, r = self.node.api_status(method, body)
        self.assertEqual(r.get("code"), code, (method, body, r))
        self.assertTrue(r["message"].startswith(prefix),
                        "expected %r..., got %r" % (prefix, r["message"]))
        return r["message"]

    def create(self, vm, nics=(), disks=(), expect_created=True):
        r = self.ok(VM + "CreateVM", {
            "vmId": vm, "name": "seed-" + vm[:8],
            "spec": {"cpuCores": 1, "memoryMib": 64,
                     "nics": list(nics), "disks": list(disks)}})
        self.assertEqual(r.get("created", False), expect_created, r)
        return r

    def new_vm(self):
        vm = str(uuid.uuid4())
        self.addCleanup(self.node.api_status, VM + "DeleteVM", {"vmId": vm})
        return vm

    def ports(self):
        return self.ok(PORT + "ListPorts",
                       {"networkId": self.net["id"]}).get("ports", [])

    def volumes(self, pool="local"):
        return {v["id"]: v for v in self.ok(VOL + "ListVolumes", {
            "poolId": pool}).get("volumes", [])}

    def vm_exists(self, vm):
        status, r = self.node.api_status(VM + "GetVMStatus", {"vmId": vm})
        if status == 200:
            return True
        self.assertEqual(r.get("code"), "not_found", r)
        return False

    def assert_nothing_left(self, vm, n_ports=0, volumes=()):
        self.assertFalse(self.vm_exists(vm))
        self.assertEqual(len(self.ports()), n_ports, self.ports())
        for v in volumes:
            self.assertNotIn(v, self.volumes())

    # ---- NICs -----------------------------------------------------------

    def test_nic_by_network(self):
        """The node makes a port per NIC (the caller's MAC or an allocated
        one), finds the same ports on a repeated CreateVM, and deletes
        them with the VM."""
        vm = self.new_vm()
        nics = [{"id": "eth0", "network": self.net["id"],
                 "macAddress": "0A:11:22:33:44:55", "model": "NIC_MODEL_VIRTIO"},
                {"id": "eth1", "network": self.net["id"]}]
        self.create(vm, nics)
        ports = {p["id"]: p for p in self.ports()}
        p0, p1 = device_id(vm, "nic", "eth0"), device_id(vm, "nic", "eth1")
        self.assertEqual(set(ports), {p0, p1})
        self.assertEqual(ports[p0]["macAddress"], "0a:11:22:33:44:55")
        self.assertRegex(ports[p1]["macAddress"],
                         r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
        self.assertEqual(ports[p0]["name"], "vm-%s-eth0" % vm)
        # Allocated like CreatePort: an address of the subnet.
        self.assertTrue(ports[p1]["fixedIps"][0]["ipAddress"]
                        .startswith("10.78.0."))
        # The OVN rows are real.
        self.assertIn(p0, self.node.nbctl("--bare", "--columns=name", "list",
                                          "Logical_Switch_Port"))
        # In the node's default security group (as Neutron's default): all
        # egress, ingress from the same group, so the VMs' traffic passes
        # port security.
        for p in (p0, p1):
            self.assertEqual(ports[p]["securityGroupIds"], [DEFAULT_SG])
        sg = self.ok("limiquantix.network.v1.SecurityGroupService/"
                     "GetSecurityGroup", {"id": DEFAULT_SG})
        self.assertEqual(sg["name"], "default")
        self.assertEqual(sorted((r["direction"], r["ethertype"],
                                 r.get("remoteGroupId", ""))
                                for r in sg["rules"]),
                         [("egress", "IPv4", ""), ("egress", "IPv6", ""),
                          ("ingress", "IPv4", DEFAULT_SG),
                          ("ingress", "IPv6", DEFAULT_SG)])
        acls = self.node.nbctl("--bare", "--columns=match", "list", "ACL")
        self.assertIn("outport == @", acls)

        # Retried as the seed's caller would: no second port.
        self.create(vm, nics, expect_created=False)
        self.assertEqual({p["id"] for p in self.ports()}, {p0, p1})
        self.assertEqual({p["macAddress"] for p in self.ports()
                          if p["id"] == p1}, {ports[p1]["macAddress"]})

        self.ok(VM + "DeleteVM", {"vmId": vm})
        self.assertEqual(self.ports(), [])
        self.assertNotIn(p0, self.node.nbctl(
            "--bare", "--columns=name", "list", "Logical_Switch_Port"))

    def test_nic_errors_leave_nothing(self):
        vm = self.new_vm()
        unknown = new_id()
        self.refused(VM + "CreateVM", {
            "vmId": vm, "name": "bad", "spec": {
                "memoryMib": 64,
                "nics": [{"id": "eth0", "network": unknown}]}},
            "invalid_argument", "spec.nics[0].network: no network " + unknown)
        self.assert_nothing_left(vm)

        # The port of eth0 is made, then eth1 fails: it is removed again.
        self.refused(VM + "CreateVM", {
            "vmId": vm, "name": "bad", "spec": {
                "memoryMib": 64,
                "nics": [{"id": "eth0", "network": self.net["id"]},
                         {"id": "eth1", "portId": new_id()}]}},
            "invalid_argument", "spec.nics[1].portId: no port")
        self.assert_nothing_left(vm)

        # A MAC another port has.
        self.create(vm, [{"id": "eth0", "network": self.net["id"],
                          "macAddress": "0a:00:00:00:aa:01"}])
        other = self.new_vm()
        self.refused(VM + "CreateVM", {
            "vmId": other, "name": "bad2", "spec": {
                "memoryMib": 64,
                "nics": [{"id": "eth0", "network": self.net["id"],
                          "macAddress": "0a:00:00:00:aa:01"}]}},
            "already_exists", "spec.nics[0].macAddress: 0a:00:00:00:aa:01 is "
            "already in use")
        self.assertEqual(len(self.ports()), 1)
        self.ok(VM + "DeleteVM", {"vmId": vm})

        for nic, prefix in [
                ({"id": "eth0", "network": self.net["id"],
                  "portId": new_id()}, "spec.nics[0].network: give either"),
                ({"id": "eth0", "network": "net-1"},
                 "spec.nics[0].network: expected a UUID"),
                ({"id": "eth0", "network": self.net["id"],
                  "macAddress": "01:00:5e:00:00:01"},
                 "spec.nics[0].macAddress"),
                ({"id": "eth0"}, "spec.nics[0]: give portId, network or "
                 "bridge"),
                ({"id": "eth0", "bridge": "br-other"},
                 "spec.nics[0].bridge: not one of this node's "
                 "hypervisor.bridges"),
                ({"id": "eth0", "bridge": BRIDGE,
                  "network": self.net["id"]},
                 "spec.nics[0].bridge: a bridge NIC has no port")]:
            self.refused(VM + "CreateVM", {
                "vmId": vm, "name": "bad", "spec": {
                    "memoryMib": 64, "nics": [nic]}},
                "invalid_argument", prefix)
            self.assert_nothing_left(vm)

    def test_bridge_nic(self):
        """A bridge of hypervisor.bridges: a plain bridge NIC, no port."""
        vm = self.new_vm()
        nics = [{"id": "eth0", "bridge": BRIDGE,
                 "macAddress": "0a:00:00:00:bb:01"},
                {"id": "eth1", "bridge": BRIDGE}]
        self.create(vm, nics)
        self.create(vm, nics, expect_created=False)
        self.assertEqual(self.ports(), [])
        # Hot-plug by network: the test driver cannot attach devices, so
        # the port made for it is deleted again.
        self.refused(VM + "AttachNIC", {"vmId": vm, "nic": {
            "id": "eth2", "network": self.net["id"]}}, "unimplemented",
            "attaching a NIC to VM")
        self.assertEqual(self.ports(), [])
        self.ok(VM + "DeleteVM", {"vmId": vm})
        self.assertFalse(self.vm_exists(vm))

    # ---- Disks ----------------------------------------------------------

    def test_disk_by_volume_id_in_path(self):
        """The seed's caller puts the volume id into "path": attached as
        that volume (so another VM cannot write it too), never deleted."""
        vol = self.ok(VOL + "CreateVolume", {
            "id": "seedvol-1", "poolId": "local", "sizeBytes": str(1 << 20)})
        self.addCleanup(self.node.api_status, VOL + "DeleteVolume",
                        {"id": vol["id"]})
        vm = self.new_vm()
        disk = {"id": "root", "path": "seedvol-1", "sizeGib": "1",
                "format": "DISK_FORMAT_QCOW2", "bootable": True}
        self.create(vm, disks=[disk])
        self.create(vm, disks=[disk], expect_created=False)
        # The same volume by volumeId is the same spec.
        self.create(vm, disks=[{"id": "root", "volumeId": "seedvol-1",
                                "sizeGib": "1", "bootable": True}],
                    expect_created=False)
        other = self.new_vm()
        self.refused(VM + "CreateVM", {
            "vmId": other, "name": "other", "spec": {
                "memoryMib": 64, "disks": [dict(disk)]}},
            "failed_precondition", "spec.disks[0].path: volume seedvol-1 is "
            "attached to VM " + vm)
        self.ok(VM + "DeleteVM", {"vmId": vm})
        self.assertIn("seedvol-1", self.volumes())      # The caller's.

        # A bare id that names no volume; a path that is neither.
        self.refused(VM + "CreateVM", {
            "vmId": other, "name": "other", "spec": {
                "memoryMib": 64, "disks": [{"id": "root",
                                            "path": "nosuch-vol"}]}},
            "invalid_argument", "spec.disks[0].path: no volume nosuch-vol")
        self.refused(VM + "CreateVM", {
            "vmId": other, "name": "other", "spec": {
                "memoryMib": 64, "disks": [{"id": "root",
                                            "path": "../etc/passwd"}]}},
            "invalid_argument", "spec.disks[0].path: not a volume id")
        self.assertFalse(self.vm_exists(other))
        # An absolute path is still a file in hypervisor.image_dirs.
        self.create(other, disks=[{"id": "root", "path": self.image}])
        self.ok(VM + "DeleteVM", {"vmId": other})
        self.assertTrue(os.path.exists(self.image))
        self.refused(VM + "CreateVM", {
            "vmId": other, "name": "other", "spec": {
                "memoryMib": 64, "disks": [{"id": "root",
                                            "path": "/etc/passwd"}]}},
            "invalid_argument", "spec.disks[0].path")

    def test_disk_by_size(self):
        """sizeGib alone: a volume in storage.default_pool, made once,
        deleted with the VM; the caller's volumes stay."""
        vol = self.ok(VOL + "CreateVolume", {
            "id": "seedvol-2", "poolId": "other", "sizeBytes": str(1 << 20)})
        self.addCleanup(self.node.api_status, VOL + "DeleteVolume",
                        {"id": vol["id"]})
        vm = self.new_vm()
        disks = [{"id": "data", "sizeGib": "2"},
                 {"id": "named", "volumeId": "seedvol-2"}]
        self.create(vm, disks=disks)
        made = device_id(vm, "disk", "data")
        vols = self.volumes()
        self.assertIn(made, vols)
        self.assertEqual(int(vols[made]["sizeBytes"]), 2 << 30)
        self.assertEqual(vols[made]["name"], "vm-%s-data" % vm)
        self.assertTrue(any(f.startswith("lq-" + made) or made in f
                            for f in os.listdir(self.pool_dir)),
                        os.listdir(self.pool_dir))

        self.create(vm, disks=disks, expect_created=False)
        self.assertEqual([v for v in self.volumes() if v == made], [made])
        # Another size is another spec.
        self.refused(VM + "CreateVM", {
            "vmId": vm, "name": "seed-" + vm[:8], "spec": {
                "cpuCores": 1, "memoryMib": 64,
                "disks": [{"id": "data", "sizeGib": "3"}, disks[1]]}},
            "already_exists", "id: VM %s exists with another spec" % vm)

        self.ok(VM + "DeleteVM", {"vmId": vm})
        self.assertNotIn(made, self.volumes())
        self.assertIn("seedvol-2", self.volumes("other"))
        self.assertEqual([f for f in os.listdir(self.pool_dir)
                          if made in f], [])

        # A later failure removes the volume again (and the port).
        self.refused(VM + "CreateVM", {
            "vmId": vm, "name": "bad", "spec": {
                "memoryMib": 64,
                "disks": [{"id": "data", "sizeGib": "1"},
                          {"id": "d2", "volumeId": "nosuch-vol"}],
                "nics": [{"id": "eth0", "network": self.net["id"]}]}},
            "invalid_argument", "spec.disks[1].volumeId: no volume")
        self.assert_nothing_left(vm, volumes=[made])
        self.assertEqual([f for f in os.listdir(self.pool_dir)
                          if made in f], [])

        # Hot-plug by size: the test driver cannot attach devices, so the
        # volume made for it is deleted again.
        self.create(vm)
        self.refused(VM + "AttachDisk", {"vmId": vm, "disk": {
            "id": "data", "sizeGib": "1"}}, "unimplemented",
            "attaching a disk to VM")
        self.assertNotIn(made, self.volumes())
        self.ok(VM + "DeleteVM", {"vmId": vm})

    def test_disk_size_bounds(self):
        vm = self.new_vm()
        for size, prefix in [("0", "spec.disks[0]: give path"),
                             ("65537", "spec.disks[0].sizeGib: expected")]:
            self.refused(VM + "CreateVM", {
                "vmId": vm, "name": "bad", "spec": {
                    "memoryMib": 64,
                    "disks": [{"id": "data", "sizeGib": size}]}},
                "invalid_argument", prefix)
            self.assert_nothing_left(vm)


@unittest.skipIf(computetest.missing_prerequisites(),
                 computetest.missing_prerequisites())
class SeedGuestTest(computetest.SerialMixin, unittest.TestCase):
    """A real QEMU guest defined as the seed's caller defines it: its NIC
    by network gets its address from OVN's DHCP on the port the node made,
    its disk by size is a volume the node made, which the guest writes."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-vm-seed-guest-")
        cls.pool_dir = os.path.join(cls.tmp, "pool")
        os.mkdir(cls.pool_dir, 0o700)
        cls.kernel, _ = computetest.kernel()
        cls.initrd = os.path.join(cls.tmp, "initrd")
        computetest.build_initramfs(cls.initrd, net=True)
        config = ("storage:\n  default_pool: local\n  pools:\n"
                  "    - {id: local, backend: local, path: %s}\n"
                  "hypervisor:\n  bridges: [%s]\n"
                  "  image_dirs: [/boot, \"%s\"]\n"
                  % (cls.pool_dir, BRIDGE, cls.tmp))
        cls.node = Node(config=config, args=["--sandbox-libvirt"])
        cls.node.start(wait=False)
        cls.node.wait_ready(timeout=120)

    @classmethod
    def tearDownClass(cls):
        rc = cls.node.stop()
        assert rc == 0, cls.node.read_log()[-3000:]

    def test_guest(self):
        node = self.node
        net = node.api(NET + "CreateNetwork", {
            "id": new_id(), "name": "seedguest",
            "subnets": [{"cidr": "10.79.0.0/24"}]})
        self.addCleanup(node.api_status, NET + "DeleteNetwork",
                        {"id": net["id"]})
        vm = str(uuid.uuid4())
        self.addCleanup(node.api_status, VM + "DeleteVM", {"vmId": vm})
        self.addCleanup(node.api_status, VM + "ForceStopVM", {"vmId": vm})
        r = node.api(VM + "CreateVM", {
            "vmId": vm, "name": "seed-guest",
            "spec": {"cpuCores": 1, "memoryMib": 256,
                     "kernelPath": self.kernel, "initrdPath": self.initrd,
                     "kernelCmdline": "console=ttyS0 panic=-1 lq.disk=write "
                                      "lq.pattern=seed",
                     "serialLog": True,
                     "disks": [{"id": "data", "sizeGib": "1",
                                "format": "DISK_FORMAT_QCOW2"}],
                     "nics": [{"id": "eth0", "network": net["id"],
                               "macAddress": "0a:00:00:79:00:01"},
                              {"id": "eth1", "bridge": BRIDGE}]}})
        log = r["status"]["serialLogPath"]
        port = device_id(vm, "nic", "eth0")
        volume = device_id(vm, "disk", "data")

        # What libvirt holds: the port as an OVS virtualport, the bridge
        # NIC plain, the volume's file as the disk.
        uri = ("qemu:///system?socket=%s/libvirt/sock/libvirt-sock"
               % node.sandbox)
        xml = subprocess.run(["virsh", "-c", uri, "dumpxml", vm],
                             capture_output=True, text=True).stdout
        self.assertIn("<parameters interfaceid='%s'/>" % port, xml)
        self.assertIn("<mac address='0a:00:00:79:00:01'/>", xml)
        self.assertIn("<source bridge='%s'/>" % BRIDGE, xml)
        self.assertEqual(xml.count("<virtualport"), 1, xml)

        # The bridge does not exist on this host: detach that NIC (the
        # seed's caller would name a real one), then boot.
        node.api(VM + "DetachNIC", {"vmId": vm, "nicId": "eth1"})
        node.api(VM + "StartVM", {"vmId": vm})
        self.wait_serial(log, "LQ-GUEST-DHCP 10.79.0.")
        self.wait_serial(log, "LQ-GUEST-DISK-WRITTEN")
        p = node.api(PORT + "GetPort", {"id": port})
        self.assertEqual((p["status"], p["vmId"]), ("UP", vm))
        self.assertIn("LQ-GUEST-DHCP %s/" % p["fixedIps"][0]["ipAddress"],
                      self.serial(log))

        node.api(VM + "ForceStopVM", {"vmId": vm})
        image = os.path.join(self.pool_dir, "lq-%s.qcow2" % volume)
        raw = os.path.join(self.tmp, "data.raw")
        subprocess.run(["qemu-img", "convert", "-O", "raw", image, raw],
                       check=True, timeout=60)
        with open(raw, "rb") as f:
            self.assertEqual(f.read(16), b"LQ-PATTERN-seed\n")
        os.unlink(raw)

        node.api(VM + "DeleteVM", {"vmId": vm})
        self.assertEqual([f for f in os.listdir(self.pool_dir)
                          if volume in f], [])
        status, r = node.api_status(PORT + "GetPort", {"id": port})
        self.assertEqual(r.get("code"), "not_found", r)

    def test_linked_clone_of_an_image(self):
        """A disk as a linked clone of an image volume's snapshot (Nova's
        image cache): the guest reads the image's bytes from its own
        volume, a qcow2 overlay backed by the snapshot (no copy of the
        image), which DeleteVM removes; the image and its snapshot stay."""
        node = self.node
        node.api(VOL + "CreateVolume", {"id": "seed-image", "poolId": "local",
                                        "sizeBytes": str(16 << 20)})
        self.addCleanup(node.api_status, VOL + "DeleteVolume",
                        {"id": "seed-image"})
        base = os.path.join(self.pool_dir, "lq-seed-image.qcow2")
        pattern = os.path.join(self.tmp, "pattern")
        with open(pattern, "wb") as f:
            f.write(b"LQ-PATTERN-image\n")
        subprocess.run(["qemu-io", "-f", "qcow2", "-c",
                        "write -s %s 0 17" % pattern, base], check=True,
                       capture_output=True)
        node.api(VOL + "CreateSnapshot", {"volumeId": "seed-image",
                                          "id": "seed-image-v1"})
        self.addCleanup(node.api_status, VOL + "DeleteSnapshot",
                        {"volumeId": "seed-image", "id": "seed-image-v1"})
        # Half a reference: refused naming the missing field, nothing made.
        vm = str(uuid.uuid4())
        status, r = node.api_status(VM + "CreateVM", {
            "vmId": vm, "name": "seed-clone", "spec": {
                "memoryMib": 64, "disks": [{"id": "root",
                                            "imageVolumeId": "seed-image"}]}})
        self.assertEqual(r.get("code"), "invalid_argument", r)
        self.assertTrue(r["message"].startswith(
            "spec.disks[0].imageSnapshotId: required"), r)

        self.addCleanup(node.api_status, VM + "DeleteVM", {"vmId": vm})
        self.addCleanup(node.api_status, VM + "ForceStopVM", {"vmId": vm})
        r = node.api(VM + "CreateVM", {
            "vmId": vm, "name": "seed-clone",
            "spec": {"cpuCores": 1, "memoryMib": 256,
                     "kernelPath": self.kernel, "initrdPath": self.initrd,
                     "kernelCmdline": "console=ttyS0 panic=-1 lq.disk=read",
                     "serialLog": True,
                     "disks": [{"id": "root", "imageVolumeId": "seed-image",
                                "imageSnapshotId": "seed-image-v1"}]}})
        log = r["status"]["serialLogPath"]
        clone = device_id(vm, "disk", "root")
        v = node.api(VOL + "GetVolume", {"id": clone})
        self.assertEqual((v["parent"]["volumeId"], v["parent"]["snapshotId"]),
                         ("seed-image", "seed-image-v1"), v)
        self.assertEqual(v["sizeBytes"], str(16 << 20))
        info = json.loads(subprocess.run(
            ["qemu-img", "info", "-U", "--output=json",
             os.path.join(self.pool_dir, "lq-%s.qcow2" % clone)],
            check=True, capture_output=True, text=True).stdout)
        self.assertIn("backing-filename", info)         # an overlay...
        self.assertLess(info["actual-size"], 1 << 20)   # ...not a copy
        node.api(VM + "StartVM", {"vmId": vm})
        self.wait_serial(log, "LQ-GUEST-DISK-READ LQ-PATTERN-image")

        # ResizeDisk under the running guest: QEMU grows its qcow2 (no
        # qemu-img on an image QEMU holds) and the guest kernel sees it.
        r = node.api(VM + "ResizeDisk", {"vmId": vm, "diskId": "root",
                                         "sizeBytes": str(32 << 20)})
        self.assertEqual(r["sizeBytes"], str(32 << 20))
        self.wait_serial(log, "new size: 65536 512-byte logical blocks",
                         timeout=30)
        self.assertEqual(node.api(VOL + "GetVolume", {"id": clone})
                         ["sizeBytes"], str(32 << 20))

        node.api(VM + "ForceStopVM", {"vmId": vm})
        # Stopped: the pool grows it (qemu-img resize).
        node.api(VM + "ResizeDisk", {"vmId": vm, "diskId": "root",
                                     "sizeBytes": str(48 << 20)})
        info = json.loads(subprocess.run(
            ["qemu-img", "info", "--output=json",
             os.path.join(self.pool_dir, "lq-%s.qcow2" % clone)],
            check=True, capture_output=True, text=True).stdout)
        self.assertEqual(info["virtual-size"], 48 << 20)
        self.assertEqual(node.api(VOL + "GetVolume", {"id": "seed-image"})
                         ["sizeBytes"], str(16 << 20))     # the image stays
        node.api(VM + "DeleteVM", {"vmId": vm})
        status, r = node.api_status(VOL + "GetVolume", {"id": clone})
        self.assertEqual(r.get("code"), "not_found", r)
        node.api(VOL + "GetVolume", {"id": "seed-image"})

    # ---- CloneVM --------------------------------------------------------

    def clone_source(self, vm, net, name, cmdline="", user_data=None):
        """A stopped VM to clone: a 16 MiB volume disk whose first bytes
        are LQ-PATTERN-clone, a NIC by network, a seed, a serial log."""
        spec = {"cpuCores": 1, "memoryMib": 256,
                "kernelPath": self.kernel, "initrdPath": self.initrd,
                "kernelCmdline": "console=ttyS0 panic=-1 " + cmdline,
                "serialLog": True,
                "disks": [{"id": "root", "sizeGib": "1"}],
                "nics": [{"id": "eth0", "network": net}],
                "cloudInit": {"userData": user_data or
                              "#cloud-config\n# LQ-MARK-clonesrc\n",
                              "hostname": "clone-source",
                              "sshAuthorizedKeys": [SSH_KEY]}}
        self.addCleanup(self.node.api_status, VM + "DeleteVM", {"vmId": vm})
        self.addCleanup(self.node.api_status, VM + "ForceStopVM",
                        {"vmId": vm})
        r = self.node.api(VM + "CreateVM", {"vmId": vm, "name": name,
                                            "spec": spec})
        volume = device_id(vm, "disk", "root")
        pattern = os.path.join(self.tmp, "clone-pattern")
        with open(pattern, "wb") as f:
            f.write(b"LQ-PATTERN-clone\n")
        subprocess.run(["qemu-io", "-f", "qcow2", "-c",
                        "write -s %s 0 17" % pattern,
                        os.path.join(self.pool_dir, "lq-%s.qcow2" % volume)],
                       check=True, capture_output=True)
        return r["status"]["serialLogPath"], volume

    def clone(self, body, code=None, prefix=""):
        status, r = self.node.api_status(VM + "CloneVM", body)
        if code is None:
            self.assertEqual(status, 200, r)
            self.addCleanup(self.node.api_status, VM + "DeleteVM",
                            {"vmId": body["vmId"]})
            self.addCleanup(self.node.api_status, VM + "ForceStopVM",
                            {"vmId": body["vmId"]})
        else:
            self.assertEqual(r.get("code"), code, (body, r))
            self.assertTrue(r["message"].startswith(prefix),
                            "expected %r..., got %r" % (prefix, r["message"]))
        return r

    def pool_files(self):
        return sorted(os.listdir(self.pool_dir))

    def test_clone(self):
        """CloneVM (virt-clone, Proxmox's clone): a running source is
        refused; a full clone of the stopped one boots reading the
        source's bytes from its own flattened volume, gets a new port
        (MAC, address) on the same network with the same groups and a new
        cloud-init instance keeping the user-data; a linked clone is an
        overlay of a snapshot the source's volume keeps; bad requests
        leave nothing behind."""
        node = self.node
        net = node.api(NET + "CreateNetwork", {
            "id": new_id(), "name": "seedclone",
            "subnets": [{"cidr": "10.81.0.0/24"}]})
        self.addCleanup(node.api_status, NET + "DeleteNetwork",
                        {"id": net["id"]})
        src = str(uuid.uuid4())
        src_log, src_volume = self.clone_source(
            src, net["id"], "clone-src", "lq.disk=read lq.cidata")
        src_port = node.api(PORT + "GetPort",
                            {"id": device_id(src, "nic", "eth0")})

        node.api(VM + "StartVM", {"vmId": src})
        self.wait_serial(src_log, "LQ-GUEST-DISK-READ LQ-PATTERN-clone")
        self.wait_serial(src_log, '"instance-id":"%s"' % src)
        full = str(uuid.uuid4())
        self.clone({"sourceVmId": src, "vmId": full, "name": "clone-full"},
                   "failed_precondition", "sourceVmId: VM %s is running" % src)
        node.api(VM + "ForceStopVM", {"vmId": src})

        # Refused before anything is made.
        files = self.pool_files()
        n_ports = len(node.api(PORT + "ListPorts", {"networkId": net["id"]})
                      ["ports"])
        self.clone({"sourceVmId": src, "vmId": src, "name": "x"},
                   "invalid_argument", "vmId: the clone needs an id")
        self.clone({"sourceVmId": src, "vmId": full, "name": "clone-src"},
                   "already_exists", 'name: "clone-src" is used by VM')
        self.clone({"sourceVmId": str(uuid.uuid4()), "vmId": full,
                    "name": "clone-full"}, "not_found", "sourceVmId: no VM")
        self.clone({"sourceVmId": "nope", "vmId": full, "name": "c"},
                   "invalid_argument", "sourceVmId:")
        self.clone({"sourceVmId": src, "vmId": full, "name": "clone-full",
                    "cloudInit": {"userData": "#cloud-config\n",
                                  "password": "pw"}},
                   "invalid_argument", "cloudInit.")
        self.assertEqual(self.pool_files(), files)
        self.assertEqual(len(node.api(PORT + "ListPorts", {
            "networkId": net["id"]})["ports"]), n_ports)
        self.assertFalse(node.api(VOL + "GetVolume", {"id": src_volume})
                         .get("snapshots"))

        # A full clone: its own volume (no parent, the snapshot gone), a
        # new port, a new instance.  Again: the same clone.
        body = {"sourceVmId": src, "vmId": full, "name": "clone-full"}
        r = self.clone(body)
        self.assertTrue(r["created"], r)
        self.assertFalse(self.clone(body)["created"])
        self.clone(dict(body, name="clone-other"), "already_exists", "vmId:")
        volume = device_id(full, "disk", "root")
        v = node.api(VOL + "GetVolume", {"id": volume})
        self.assertNotIn("parent", v)
        self.assertFalse(node.api(VOL + "GetVolume", {"id": src_volume})
                         .get("snapshots"))
        info = json.loads(subprocess.run(
            ["qemu-img", "info", "--output=json",
             os.path.join(self.pool_dir, "lq-%s.qcow2" % volume)],
            check=True, capture_output=True, text=True).stdout)
        self.assertNotIn("backing-filename", info)
        port = node.api(PORT + "GetPort",
                        {"id": device_id(full, "nic", "eth0")})
        self.assertEqual(port["networkId"], net["id"])
        self.assertEqual(port["securityGroupIds"],
                         src_port["securityGroupIds"])
        self.assertNotEqual(port["macAddress"], src_port["macAddress"])
        self.assertNotEqual(port["fixedIps"], src_port["fixedIps"])
        uri = ("qemu:///system?socket=%s/libvirt/sock/libvirt-sock"
               % node.sandbox)
        xml = subprocess.run(["virsh", "-c", uri, "dumpxml", full],
                             capture_output=True, text=True).stdout
        self.assertIn("<mac address='%s'/>" % port["macAddress"], xml)
        self.assertIn("<parameters interfaceid='%s'/>" % port["id"], xml)
        self.assertNotIn(src_volume, xml)
        self.assertNotIn(src, xml)
        log = r["status"]["serialLogPath"]
        self.assertNotEqual(log, src_log)
        node.api(VM + "StartVM", {"vmId": full})
        self.wait_serial(log, "LQ-GUEST-DISK-READ LQ-PATTERN-clone")
        self.wait_serial(log, "LQ-CIDATA-USERDATA LQ-MARK-clonesrc")
        self.wait_serial(log, '"instance-id":"%s"' % full)
        self.wait_serial(log, '"local-hostname":"clone-full"')
        self.wait_serial(log, "LQ-CIDATA-KEY " + SSH_KEY)
        self.wait_serial(log, "LQ-GUEST-DHCP %s/"
                         % port["fixedIps"][0]["ipAddress"])
        node.api(VM + "ForceStopVM", {"vmId": full})
        node.api(VM + "DeleteVM", {"vmId": full})
        for kind, method, obj in (("disk", VOL + "GetVolume", volume),
                                  ("nic", PORT + "GetPort", port["id"])):
            status, r = node.api_status(method, {"id": obj})
            self.assertEqual(r.get("code"), "not_found", (kind, r))

        # A linked clone with a seed of its own: an overlay of the
        # snapshot, which stays with the source's volume.
        linked = str(uuid.uuid4())
        r = self.clone({"sourceVmId": src, "vmId": linked,
                        "name": "clone-linked", "linked": True,
                        "cloudInit": {"userData":
                                      "#cloud-config\n# LQ-MARK-linked\n"}})
        volume = device_id(linked, "disk", "root")
        snap = device_id(linked, "clone-snapshot", "root")
        self.addCleanup(node.api_status, VOL + "DeleteSnapshot",
                        {"volumeId": src_volume, "id": snap})
        v = node.api(VOL + "GetVolume", {"id": volume})
        self.assertEqual((v["parent"]["volumeId"], v["parent"]["snapshotId"]),
                         (src_volume, snap), v)
        log = r["status"]["serialLogPath"]
        node.api(VM + "StartVM", {"vmId": linked})
        self.wait_serial(log, "LQ-GUEST-DISK-READ LQ-PATTERN-clone")
        self.wait_serial(log, "LQ-CIDATA-USERDATA LQ-MARK-linked")
        self.wait_serial(log, '"instance-id":"%s"' % linked)
        node.api(VM + "ForceStopVM", {"vmId": linked})
        node.api(VM + "DeleteVM", {"vmId": linked})
        status, r = node.api_status(VOL + "GetVolume", {"id": volume})
        self.assertEqual(r.get("code"), "not_found", r)
        node.api(VOL + "DeleteSnapshot", {"volumeId": src_volume, "id": snap})
        node.api(VM + "GetVMStatus", {"vmId": src})     # the source stays

    def test_clone_failure_leaves_nothing(self):
        """A clone whose port cannot be made (its network has no free
        address) is undone: no domain, no volume, no snapshot, no port."""
        node = self.node
        net = node.api(NET + "CreateNetwork", {
            "id": new_id(), "name": "seedclonefull",
            "subnets": [{"cidr": "10.82.0.0/29"}]})
        self.addCleanup(node.api_status, NET + "DeleteNetwork",
                        {"id": net["id"]})
        src = str(uuid.uuid4())
        _, src_volume = self.clone_source(src, net["id"], "clone-src-full")
        for _ in range(8):      # the rest of the subnet taken
            status, r = node.api_status(PORT + "CreatePort", {
                "id": new_id(), "networkId": net["id"]})
            if status != 200:
                break
            self.addCleanup(node.api_status, PORT + "DeletePort",
                            {"id": r["id"]})
        self.assertIn("no free address", r.get("message", ""), r)
        full_code = r["code"]
        files = self.pool_files()
        clone = str(uuid.uuid4())
        self.clone({"sourceVmId": src, "vmId": clone,
                    "name": "clone-nowhere"}, full_code,
                   "sourceVmId: a port for NIC eth0")
        self.assertEqual(self.pool_files(), files)
        status, r = node.api_status(VM + "GetVMStatus", {"vmId": clone})
        self.assertEqual(r.get("code"), "not_found", r)
        self.assertFalse(node.api(VOL + "GetVolume", {"id": src_volume})
                         .get("snapshots"))
        status, r = node.api_status(PORT + "GetPort",
                                    {"id": device_id(clone, "nic", "eth0")})
        self.assertEqual(r.get("code"), "not_found", r)
        self.assertFalse(os.path.exists(os.path.join(
            node.sandbox, "vms", "%s.cidata.iso" % clone)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
