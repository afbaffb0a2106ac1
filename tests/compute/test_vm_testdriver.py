"""Fast lifecycle rules on libvirt's test:///default driver (in-process in
the daemon: no libvirtd, no QEMU), through the real daemon's RPCs.

test:///default starts with one running domain, "test", which is not ours:
it must stay invisible and untouched.
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
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import computetest  # noqa: E402
from test_registration import FakeControlPlane  # noqa: E402

TEST_DOMAIN_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"
# Any file in the node's image directory: the driver never boots.
IMAGES = tempfile.mkdtemp(prefix="lq-testdriver-")
KERNEL = os.path.join(IMAGES, "vmlinuz")
with open(KERNEL, "wb") as f:
    f.write(b"not a kernel")


def wait_for(pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


class TestDriverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = computetest.ComputeDaemon(
            "test:///default", image_dirs=[IMAGES]).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.daemon.stop()
        assert rc == 0, "daemon exit status %d:\n%s" % (
            rc, cls.daemon.read_log())

    def call(self, method, request):
        return self.daemon.call(method, request)

    def ok(self, method, request):
        status, body = self.call(method, request)
        self.assertEqual(status, 200, "%s: %s" % (method, body))
        return body

    def error(self, method, request, code):
        status, body = self.call(method, request)
        self.assertEqual(body.get("code"), code, (method, request, body))
        return body["message"]

    def spec(self, **kw):
        s = {"cpuCores": 2, "memoryMib": 128, "kernelPath": KERNEL}
        s.update(kw)
        return s

    def test_watch_events(self):
        """Lifecycle events of our VMs, in order, through the long poll;
        the driver's own domain is not reported."""
        import time
        last = int(self.ok("WatchEvents", {"timeoutSeconds": 0})["lastSeq"])
        vm = str(uuid.uuid4())
        self.ok("CreateVM", {"vmId": vm, "name": "ev-" + vm[:8],
                             "spec": self.spec()})
        self.ok("StartVM", {"vmId": vm})
        self.ok("PauseVM", {"vmId": vm})
        self.ok("ResumeVM", {"vmId": vm})
        self.ok("ForceStopVM", {"vmId": vm})
        self.ok("DeleteVM", {"vmId": vm})
        seen = []
        since = last
        deadline = time.time() + 10
        while ("DELETED", "") not in seen and time.time() < deadline:
            r = self.ok("WatchEvents", {"sinceSeq": str(since),
                                        "vmId": vm, "timeoutSeconds": 2})
            self.assertFalse(r["truncated"])
            for ev in r["events"]:
                self.assertEqual(ev["vmId"], vm)
                self.assertGreater(int(ev["seq"]), since)
                seen.append((ev["event"], ev["detail"]))
            since = int(r["lastSeq"])
        self.assertEqual(seen, [("DEFINED", ""), ("STARTED", ""),
                                ("PAUSED", ""), ("RESUMED", ""),
                                ("STOPPED", "DESTROYED"), ("DELETED", "")])
        # Nothing new: the poll waits for the timeout, then answers empty.
        t = time.time()
        r = self.ok("WatchEvents", {"sinceSeq": str(since),
                                    "timeoutSeconds": 1})
        self.assertEqual(r["events"], [])
        self.assertGreaterEqual(time.time() - t, 0.9)
        # A position from the future (a restarted daemon): resync.
        r = self.ok("WatchEvents", {"sinceSeq": str(since + 1000)})
        self.assertTrue(r["truncated"])
        self.error("WatchEvents", {"timeoutSeconds": 301}, "invalid_argument")
        self.error("WatchEvents", {"sinceSeq": "-1"}, "invalid_argument")

    def test_lifecycle(self):
        vm = str(uuid.uuid4())
        req = {"vmId": vm, "name": "tvm-" + vm[:8], "spec": self.spec(),
               "labels": {"team": "a"}}
        body = self.ok("CreateVM", req)
        self.assertEqual(body, {
            "vmId": vm, "created": True, "message": "VM %s defined" % vm,
            "status": {"vmId": vm, "name": req["name"],
                       "state": "POWER_STATE_STOPPED",
                       "labels": {"team": "a"}, "serialLogPath": ""}})
        # Idempotent by vmId: the same VM, not created by this call.
        again = self.ok("CreateVM", req)
        self.assertEqual(again["vmId"], vm)
        self.assertIs(again["created"], False)
        self.assertEqual(again["status"], body["status"])
        self.error("CreateVM", dict(req, labels={"team": "b"}),
                   "already_exists")
        self.error("CreateVM", dict(req, spec=self.spec(cpuCores=4)),
                   "already_exists")

        def state(method, **extra):
            # Lifecycle calls answer google.protobuf.Empty, as the
            # contract says; the state is GetVMStatus's.
            self.assertEqual(self.ok(method, dict({"vmId": vm}, **extra)),
                             {})
            return self.ok("GetVMStatus", {"vmId": vm})["state"]

        self.error("PauseVM", {"vmId": vm}, "failed_precondition")
        self.assertEqual(state("StartVM"), "POWER_STATE_RUNNING")
        self.assertEqual(state("StartVM"), "POWER_STATE_RUNNING")
        self.assertEqual(state("PauseVM"), "POWER_STATE_PAUSED")
        self.assertEqual(state("PauseVM"), "POWER_STATE_PAUSED")
        self.assertEqual(state("ResumeVM"), "POWER_STATE_RUNNING")
        self.assertEqual(state("RebootVM"), "POWER_STATE_RUNNING")
        self.error("DeleteVM", {"vmId": vm}, "failed_precondition")
        self.assertEqual(state("StopVM", timeoutSeconds=5), "POWER_STATE_STOPPED")
        self.assertEqual(state("StopVM"), "POWER_STATE_STOPPED")
        self.assertEqual(state("StartVM"), "POWER_STATE_RUNNING")
        self.assertEqual(state("ForceStopVM"), "POWER_STATE_STOPPED")
        self.assertIn(vm, [v["vmId"] for v in self.ok("ListVMs", {})["vms"]])
        self.assertEqual(self.ok("DeleteVM", {"vmId": vm}), {})
        self.assertEqual(self.ok("DeleteVM", {"vmId": vm}), {})
        self.error("GetVMStatus", {"vmId": vm}, "not_found")
        self.error("StartVM", {"vmId": vm}, "not_found")

    def test_started_at_and_usage(self):
        """A running VM's status says since when (the STARTED event or
        StartVM: the test driver has no QEMU process) and its
        resourceUsage; a stopped one neither."""
        import datetime
        vm = str(uuid.uuid4())
        self.ok("CreateVM", {"vmId": vm, "name": "st-" + vm[:8],
                             "spec": self.spec(memoryMib=96)})
        self.addCleanup(self.call, "DeleteVM", {"vmId": vm})
        self.addCleanup(self.call, "ForceStopVM", {"vmId": vm})
        st = self.ok("GetVMStatus", {"vmId": vm})
        self.assertNotIn("startedAt", st)
        self.assertNotIn("resourceUsage", st)
        t0 = time.time()
        self.ok("StartVM", {"vmId": vm})
        t1 = time.time()

        def started(status):
            self.assertRegex(status["startedAt"],
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            return datetime.datetime.strptime(
                status["startedAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()

        st = self.ok("GetVMStatus", {"vmId": vm})
        at = started(st)
        self.assertTrue(t0 - 0.01 <= at <= t1 + 0.01, (t0, at, t1))
        usage = st["resourceUsage"]
        self.assertEqual(int(usage["memoryTotalBytes"]), 96 << 20)
        # One reading has no rate (StreamMetrics has it): 0, written out as
        # every default of a JSON reply is.
        self.assertEqual(usage["cpuUsagePercent"], 0)
        # The same in ListVMs; a pause keeps it; a restart moves it.
        listed = {v["vmId"]: v for v in self.ok("ListVMs", {})["vms"]}
        self.assertEqual(listed[vm]["startedAt"], st["startedAt"])
        self.ok("PauseVM", {"vmId": vm})
        self.assertEqual(self.ok("GetVMStatus", {"vmId": vm})["startedAt"],
                         st["startedAt"])
        self.ok("ForceStopVM", {"vmId": vm})
        st = self.ok("GetVMStatus", {"vmId": vm})
        self.assertNotIn("startedAt", st)
        self.assertNotIn("resourceUsage", st)
        time.sleep(0.05)
        self.ok("StartVM", {"vmId": vm})
        self.assertGreater(started(self.ok("GetVMStatus", {"vmId": vm})),
                           at)

    def test_seed_devices_need_node_config(self):
        """Without storage.default_pool a disk by size alone cannot be
        made; without hypervisor.bridges no bridge NIC is allowed."""
        vm = str(uuid.uuid4())
        msg = self.error("CreateVM", {"vmId": vm, "name": "nd", "spec": self.spec(
            disks=[{"id": "data", "sizeGib": "1"}])}, "failed_precondition")
        self.assertTrue(msg.startswith("spec.disks[0].sizeGib: this node has "
                                       "no storage.default_pool"), msg)
        msg = self.error("CreateVM", {"vmId": vm, "name": "nd", "spec": self.spec(
            nics=[{"id": "eth0", "bridge": "virbr0"}])}, "invalid_argument")
        self.assertTrue(msg.startswith("spec.nics[0].bridge: not one of"), msg)
        # A network without a network service on the node.
        msg = self.error("CreateVM", {"vmId": vm, "name": "nd", "spec": self.spec(
            nics=[{"id": "eth0", "network": str(uuid.uuid4())}])},
            "failed_precondition")
        self.assertTrue(msg.startswith("spec.nics[0].network: this node runs "
                                       "no network service"), msg)
        self.error("GetVMStatus", {"vmId": vm}, "not_found")

    def test_stop_forces_off(self):
        """StopVM leaves the VM off, as the seed's caller expects: a paused
        guest cannot act on ACPI, so it is powered off at once, and the
        STOPPED event says it was forced.  gracefulOnly keeps the refusal
        and the VM as it was."""
        vm = str(uuid.uuid4())
        self.ok("CreateVM", {"vmId": vm, "name": "stop-" + vm[:8],
                             "spec": self.spec()})
        self.addCleanup(self.call, "DeleteVM", {"vmId": vm})
        self.addCleanup(self.call, "ForceStopVM", {"vmId": vm})
        self.ok("StartVM", {"vmId": vm})
        self.ok("PauseVM", {"vmId": vm})
        since = self.ok("WatchEvents", {"timeoutSeconds": 0})["lastSeq"]
        msg = self.error("StopVM", {"vmId": vm, "timeoutSeconds": 1,
                                    "gracefulOnly": True},
                         "failed_precondition")
        self.assertIn("paused", msg)
        self.assertEqual(self.ok("GetVMStatus", {"vmId": vm})["state"],
                         "POWER_STATE_PAUSED")
        self.error("StopVM", {"vmId": vm, "gracefulOnly": "yes"},
                   "invalid_argument")
        self.ok("StopVM", {"vmId": vm, "timeoutSeconds": 30})
        self.assertEqual(self.ok("GetVMStatus", {"vmId": vm})["state"],
                         "POWER_STATE_STOPPED")
        events = wait_for(lambda: [e for e in self.ok("WatchEvents", {
            "sinceSeq": since, "vmId": vm, "timeoutSeconds": 2})["events"]
            if e["event"] == "STOPPED"])
        self.assertEqual(events[0]["detail"], "DESTROYED")
        self.assertEqual(events[0]["forced"], "PAUSED")
        # A guest that powers off on ACPI (the test driver's do at once)
        # is not forced.
        self.ok("StartVM", {"vmId": vm})
        since = self.ok("WatchEvents", {"timeoutSeconds": 0})["lastSeq"]
        self.ok("StopVM", {"vmId": vm, "timeoutSeconds": 5})
        events = wait_for(lambda: [e for e in self.ok("WatchEvents", {
            "sinceSeq": since, "vmId": vm, "timeoutSeconds": 2})["events"]
            if e["event"] == "STOPPED"])
        self.assertEqual(events[0]["detail"], "SHUTDOWN")
        self.assertEqual(events[0]["forced"], "")

    def test_contract_enums_and_field_names(self):
        """The contract's enum names and numbers (proto3 JSON) and its
        field names in either spelling (lowerCamelCase or the proto name)
        define the same VM: the second CreateVM finds the same spec
        (created false), not another one.  The words this API took before
        the contract are refused, naming the field."""
        iso = os.path.join(IMAGES, "boot.iso")
        open(iso, "wb").close()
        by_name = {"cpu_threads_per_core": 1, "memory_mib": 128,
                   "firmware": "FIRMWARE_UEFI",
                   "boot_order": ["BOOT_DEVICE_CDROM", "BOOT_DEVICE_DISK",
                                  "BOOT_DEVICE_NETWORK"],
                   "cdroms": [{"id": "cd", "iso_path": iso}],
                   "disks": [{"id": "a", "path": KERNEL,
                              "bus": "DISK_BUS_SATA"},
                             {"id": "b", "path": KERNEL, "bus": 1,
                              "readonly": True}]}
        contract = {"cpuThreadsPerCore": 1, "memoryMib": 128,
                    "firmware": "FIRMWARE_UEFI",
                    "bootOrder": ["BOOT_DEVICE_CDROM", 0,
                                  "BOOT_DEVICE_NETWORK"],
                    "cdroms": [{"id": "cd", "isoPath": iso}],
                    "disks": [{"id": "a", "path": KERNEL, "bus": 2},
                              {"id": "b", "path": KERNEL,
                               "bus": "DISK_BUS_SCSI", "readonly": True}]}
        vm = str(uuid.uuid4())
        req = {"vmId": vm, "name": "enum-" + vm[:8], "spec": by_name}
        self.assertIs(self.ok("CreateVM", req)["created"], True)
        self.assertIs(self.ok("CreateVM", dict(req, spec=contract))
                      ["created"], False)
        # A value that differs is another spec.
        self.error("CreateVM", dict(req, spec=dict(
            contract, firmware="FIRMWARE_BIOS")), "already_exists")
        self.ok("DeleteVM", {"vmId": vm})
        for legacy, field in (({"firmware": "uefi"}, "spec.firmware"),
                              ({"bootOrder": ["hd"]}, "spec.bootOrder[0]"),
                              ({"cpuThreads": 1}, "spec.cpuThreads"),
                              ({"cdroms": [{"id": "cd", "path": iso}]},
                               "spec.cdroms[0].path")):
            msg = self.error("CreateVM", dict(req, spec=dict(contract,
                                                             **legacy)),
                             "invalid_argument")
            self.assertTrue(msg.startswith(field + ": "), msg)
        self.error("CreateVM", dict(contract, id=vm), "invalid_argument")
        # IDE (hda, hdb; the CD-ROMs are hdc, hdd): at most two.
        ide = {"id": "i", "path": KERNEL, "bus": "DISK_BUS_IDE"}
        vm = str(uuid.uuid4())
        self.ok("CreateVM", {"vmId": vm, "name": "ide-" + vm[:8],
                             "spec": self.spec(disks=[
                                 dict(ide, id="i1"), dict(ide, id="i2")])})
        self.ok("DeleteVM", {"vmId": vm})

    def test_bad_enum_values(self):
        """A value the contract does not define is invalid_argument naming
        the field, and nothing is defined."""
        before = self.ok("ListVMs", {})
        disk = {"id": "d", "path": KERNEL}
        port = str(uuid.uuid4())
        cases = [
            (self.spec(firmware="FIRMWARE_COREBOOT"), "spec.firmware: "
             "expected FIRMWARE_BIOS or FIRMWARE_UEFI (a Firmware name or "
             "number), not \"FIRMWARE_COREBOOT\""),
            (self.spec(firmware=7), "spec.firmware: expected"),
            (self.spec(firmware=True), "spec.firmware: expected"),
            (self.spec(kernelPath=None, bootOrder=["BOOT_DEVICE_FLOPPY"]),
             "spec.bootOrder[0]: expected BOOT_DEVICE_DISK"),
            (self.spec(kernelPath=None, bootOrder=[3]),
             "spec.bootOrder[0]: expected"),
            (self.spec(disks=[dict(disk, bus="DISK_BUS_NVME")]),
             "spec.disks[0].bus: expected DISK_BUS_VIRTIO, DISK_BUS_SCSI, "
             "DISK_BUS_SATA or DISK_BUS_IDE"),
            (self.spec(disks=[dict(disk, bus=4)]), "spec.disks[0].bus"),
            (self.spec(disks=[dict(disk, id="i%d" % i, bus="DISK_BUS_IDE")
                              for i in range(3)]),
             "spec.disks[2].bus: at most 2 IDE disks"),
            (self.spec(nics=[{"id": "n", "portId": port,
                              "model": "NIC_MODEL_NE2K"}]),
             "spec.nics[0].model: expected NIC_MODEL_VIRTIO, "
             "NIC_MODEL_E1000 or NIC_MODEL_RTL8139"),
            (self.spec(nics=[{"id": "n", "portId": port, "model": 3}]),
             "spec.nics[0].model"),
            (self.spec(cpuThreadsPerCore=-1), "spec.cpuThreadsPerCore: "),
            (self.spec(cpuThreads=1), "spec.cpuThreads: unknown field"),
            (self.spec(cdroms=[{"id": "c", "isoPath": "/etc/passwd"}]),
             "spec.cdroms[0].isoPath: \"/etc/passwd\" is not inside"),
            (self.spec(cdroms=[{"id": "c", "isoPath": KERNEL,
                                "path": "/etc/passwd"}]),
             "spec.cdroms[0].path: unknown field"),
        ]
        for spec, prefix in cases:
            spec = {k: v for k, v in spec.items() if v is not None}
            msg = self.error("CreateVM", {"name": "bad-enum", "spec": spec},
                             "invalid_argument")
            self.assertTrue(msg.startswith(prefix), (spec, msg))
        self.assertEqual(self.ok("ListVMs", {}), before)

    def test_foreign_domain_is_invisible(self):
        self.assertNotIn("test", [v["name"] for v in
                                  self.ok("ListVMs", {})["vms"]])
        self.error("GetVMStatus", {"vmId": TEST_DOMAIN_UUID}, "not_found")
        self.error("ForceStopVM", {"vmId": TEST_DOMAIN_UUID}, "not_found")
        msg = self.error("CreateVM", {"vmId": TEST_DOMAIN_UUID, "name": "x",
                                      "spec": self.spec()}, "already_exists")
        self.assertIn("not managed", msg)
        msg = self.error("CreateVM", {"vmId": str(uuid.uuid4()), "name": "test",
                                      "spec": self.spec()}, "already_exists")
        self.assertTrue(msg.startswith("name"), msg)
        # DeleteVM of a domain that is not ours succeeds without touching it.
        self.assertEqual(self.ok("DeleteVM", {"vmId": TEST_DOMAIN_UUID}), {})

    def test_node_capabilities(self):
        """GetNodeInfo's capabilities say what VMs here can really have:
        no migration peer and no storage pool configured, so neither live
        migration nor snapshots; no GPU passthrough; nested virtualization
        as KVM's module says; the vCPU and memory limits of libvirt's host
        (the test driver's: 16 CPUs), which CreateVM applies."""
        caps = self.ok("GetNodeInfo", {})["capabilities"]
        nested = False
        for vendor in ("intel", "amd"):
            try:
                with open("/sys/module/kvm_%s/parameters/nested"
                          % vendor) as f:
                    nested = nested or f.read().strip() in ("Y", "1")
            except OSError:
                pass
        self.assertIs(caps["supportsNestedVirtualization"], nested)
        self.assertIs(caps["supportsHotplug"], True)
        for flag in ("supportsLiveMigration", "supportsSnapshots",
                     "supportsGpuPassthrough"):
            self.assertIs(caps[flag], False, flag)
        self.assertEqual(caps["maxVcpus"], 16)
        self.assertGreater(int(caps["maxMemoryBytes"]), 0)
        self.assertLessEqual(int(caps["maxMemoryBytes"]), 4 << 40)
        # One vCPU more than maxVcpus is refused.
        msg = self.error("CreateVM", {"name": "caps", "spec": self.spec(
            cpuCores=caps["maxVcpus"] + 1)}, "invalid_argument")
        self.assertIn("CPUs of this host", msg)

    def test_bad_requests(self):
        self.error("GetVMStatus", {}, "invalid_argument")
        self.error("GetVMStatus", {"vmId": "nope"}, "invalid_argument")
        self.error("GetVMStatus", {"vmId": 5}, "invalid_argument")
        self.error("StopVM", {"vmId": str(uuid.uuid4()),
                              "timeoutSeconds": 999999}, "invalid_argument")
        self.error("GetVMStatus", {"vmId": str(uuid.uuid4())}, "not_found")
        before = self.ok("ListVMs", {})
        for spec in (self.spec(memoryMib=0), self.spec(cpuThreads=0),
                     self.spec(kernelPath="/nonexistent"),
                     self.spec(kernelPath=sys.executable),
                     self.spec(serialLogPath="/etc/lq-evil.log")):
            self.error("CreateVM", {"name": "bad", "spec": spec},
                       "invalid_argument")
        # 200 vCPUs pass the static limit (255) but not the test driver's
        # host (16 CPUs).
        msg = self.error("CreateVM", {"name": "big",
                                      "spec": self.spec(cpuCores=200)},
                         "invalid_argument")
        self.assertTrue(msg.startswith("spec.cpuCores"), msg)
        self.assertIn("CPUs of this host", msg)
        self.assertEqual(self.ok("ListVMs", {}), before)


class PlatformTest(unittest.TestCase):
    """hypervisor.virt_type / machine / cpu_mode as new VMs get them.  This
    machine has no usable KVM, so "auto" is TCG and "kvm" refuses."""

    def node(self, env=None, **hypervisor):
        d = computetest.ComputeDaemon("test:///default", image_dirs=[IMAGES],
                                      hypervisor=hypervisor, env=env)
        self.addCleanup(lambda: self.assertEqual(d.stop(), 0))
        return d.start()

    def caps(self, d):
        status, body = d.call("GetNodeInfo")
        self.assertEqual(status, 200, body)
        c = body["capabilities"]
        return c["virtType"], c["machineType"], c["cpuMode"]

    def create(self, d, **spec):
        vm = str(uuid.uuid4())
        return vm, d.call("CreateVM", {"vmId": vm, "name": "pf-" + vm[:8],
                                       "spec": dict({"memoryMib": 64,
                                                     "kernelPath": KERNEL},
                                                    **spec)})

    def test_auto_is_tcg_without_kvm(self):
        d = self.node()
        self.assertEqual(self.caps(d), ("qemu", "pc", ""))
        vm, (status, body) = self.create(d)
        self.assertEqual(status, 200, body)
        # An openable device is not enough: libvirt must offer kvm domains.
        d = self.node(env={"LQ_KVM_DEVICE": "/dev/null"})
        self.assertEqual(self.caps(d), ("qemu", "pc", ""))

    def test_kvm_required_refuses_new_vms(self):
        for env, why in ((None, "/dev/kvm: No such file or directory"),
                         ({"LQ_KVM_DEVICE": "/dev/null"},
                          "libvirt has no kvm domains")):
            d = self.node(env=env, virt_type="kvm")
            self.assertEqual(self.caps(d)[0], "")
            vm, (status, body) = self.create(d)
            self.assertEqual(body.get("code"), "failed_precondition", body)
            self.assertIn("hypervisor.virt_type is kvm, but KVM is not "
                          "usable on this host", body["message"])
            self.assertIn(why, body["message"])
            self.assertEqual(d.call("GetVMStatus", {"vmId": vm})[1]
                             .get("code"), "not_found")

    def test_q35_has_no_ide(self):
        d = self.node(virt_type="qemu", machine="q35")
        self.assertEqual(self.caps(d), ("qemu", "q35", ""))
        vm, (status, body) = self.create(d, disks=[
            {"id": "a", "path": KERNEL},
            {"id": "b", "path": KERNEL, "bus": "DISK_BUS_IDE"}])
        self.assertEqual(body.get("code"), "invalid_argument", body)
        self.assertTrue(body["message"].startswith(
            "spec.disks[1].bus: DISK_BUS_IDE, but this node's machine type "
            "q35 has no IDE controller"), body)
        self.assertEqual(d.call("GetVMStatus", {"vmId": vm})[1]
                         .get("code"), "not_found")
        vm, (status, body) = self.create(d, disks=[
            {"id": "a", "path": KERNEL, "bus": "DISK_BUS_SATA"}])
        self.assertEqual(status, 200, body)
        status, body = d.call("AttachDisk", {"vmId": vm, "disk": {
            "id": "c", "path": KERNEL, "bus": "DISK_BUS_IDE"}})
        self.assertEqual(body.get("code"), "invalid_argument", body)
        self.assertIn("machine type q35, which has no IDE", body["message"])


class HealthTest(unittest.TestCase):
    def health(self, d):
        """HealthCheck once the node has checked its dependencies."""
        def checked():
            status, body = d.call("HealthCheck", {})
            self.assertEqual(status, 200, body)
            return body if not any("not been checked" in p for p in
                                   body.get("problems", [])) else None
        return wait_for(checked)

    def test_libvirtd_down(self):
        d = computetest.ComputeDaemon(
            "qemu:///system?socket=/nonexistent/libvirt-sock").start()
        try:
            status, body = d.call("ListVMs", {})
            self.assertEqual(body["code"], "unavailable", body)
            body = self.health(d)
            self.assertIs(body["healthy"], False, body)
            self.assertEqual(len(body["problems"]), 1, body)
            self.assertTrue(body["problems"][0].startswith("libvirt: "),
                            body)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_healthy_and_running_vms_in_heartbeats(self):
        """A node whose libvirt answers is healthy; the heartbeat counts
        the VMs of ours that run (not the driver's own domain)."""
        cp = FakeControlPlane()
        d = computetest.ComputeDaemon("test:///default", image_dirs=[IMAGES])
        d.args += ["--control-plane", "http://127.0.0.1:%d" % cp.port]
        d.start()
        try:
            body = self.health(d)
            self.assertIs(body["healthy"], True, body)
            self.assertEqual(body["problems"], [])

            def beats(calls):
                return [c[1] for c in calls if c[0] == "UpdateHeartbeat"]
            cp.wait_for(lambda calls: beats(calls))
            vm = str(uuid.uuid4())
            status, body = d.call("CreateVM", {
                "vmId": vm, "name": "hb-" + vm[:8],
                "spec": {"memoryMib": 128, "kernelPath": KERNEL}})
            self.assertEqual(status, 200, body)
            status, body = d.call("StartVM", {"vmId": vm})
            self.assertEqual(status, 200, body)
            cp.wait_for(lambda calls: any(
                b.get("resources", b).get("runningVmCount") == 1
                for b in beats(calls)), timeout=30)
        finally:
            cp.stop()
            self.assertEqual(d.stop(), 0)


def tearDownModule():
    shutil.rmtree(IMAGES, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
