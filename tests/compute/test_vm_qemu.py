"""Real guests: QEMU (TCG) under a private libvirtd, driven through the real
daemon's NodeDaemonService VM methods.

Three guests boot Debian's kernel directly with a busybox initramfs built
here; their first serial port is logged to a file and the assertions are on
what the guest kernel and /init print there.  One powers off on the ACPI
power button (StopVM succeeds); the other ignores it (StopVM times out,
the VM keeps running, ForceStopVM stops it); the third powers itself
off and shows STOPPED.  Afterwards the domains are
gone from libvirt itself (`virsh list --all`).

One more is driven the way the seed's control plane drives a node: gRPC
with stubs generated from the seed (grpcio), by its own vmId, StreamEvents
open meanwhile.  Run with /usr/bin/python3 (Debian's python3-grpcio).
"""
import re
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "proto"))
import computetest  # noqa: E402
import protoenv  # noqa: E402

WHY_NOT = computetest.missing_prerequisites()


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


@unittest.skipIf(WHY_NOT, WHY_NOT)
class QemuGuestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-compute-")
        cls.initrd = os.path.join(cls.tmp, "initrd.cpio")
        computetest.build_initramfs(cls.initrd)
        cls.kernel, _ = computetest.kernel()
        cls.libvirt = computetest.LibvirtSandbox().start()
        # Short console tokens: test_console_websocket waits one out.
        cls.daemon = computetest.ComputeDaemon(
            cls.libvirt.uri, image_dirs=[cls.tmp],
            hypervisor={"console_token_seconds": 5}).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.daemon.stop()
        cls.libvirt.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, "daemon exit status %d:\n%s" % (
            rc, cls.daemon.read_log())

    def call(self, method, request):
        return self.daemon.call(method, request)

    def ok(self, method, request):
        status, body = self.call(method, request)
        self.assertEqual(status, 200, "%s: %s" % (method, body))
        return body

    def create(self, name, cmdline_extra="", **spec):
        vm_id = str(uuid.uuid4())
        request = {
            "vmId": vm_id, "name": name,
            "spec": dict({"cpuCores": 1, "memoryMib": 256,
                          "kernelPath": self.kernel, "initrdPath": self.initrd,
                          "kernelCmdline": "console=ttyS0 panic=-1 "
                                           + cmdline_extra,
                          "serialLog": True}, **spec),
            "labels": {"test": "qemu", "role": name},
        }
        body = self.ok("CreateVM", request)
        self.assertEqual((body["vmId"], body["created"]), (vm_id, True))
        body = body["status"]
        # The node chose where the log goes: its own per-VM directory.
        log = body["serialLogPath"]
        self.assertEqual(log, os.path.join(self.daemon.dir, "vms",
                                           vm_id + ".serial.log"))
        self.assertEqual(os.stat(os.path.dirname(log)).st_mode & 0o777,
                         0o700)
        self.assertEqual(os.stat(log).st_mode & 0o777, 0o600)
        self.assertEqual(body["state"], "POWER_STATE_STOPPED")
        self.assertEqual(body["labels"], {"test": "qemu", "role": name})
        return vm_id, log, request

    def state(self, vm):
        return self.ok("GetVMStatus", {"vmId": vm})["state"]

    @staticmethod
    def serial(log):
        try:
            with open(log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def cleanup(self, vm):
        self.call("ForceStopVM", {"vmId": vm})
        self.call("DeleteVM", {"vmId": vm})

    @staticmethod
    def qemu_start(vm):
        """When the QEMU process of 'vm' started (Unix seconds), as /proc
        says (libvirt gives it "-uuid VM")."""
        hz = os.sysconf("SC_CLK_TCK")
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
                with open("/proc/%s/stat" % pid) as f:
                    stat = f.read()
            except OSError:
                continue
            if b"qemu" in argv[0] and vm.encode() in argv:
                ticks = int(stat.rsplit(")", 1)[1].split()[19])
                return time.time() - uptime + ticks / hz
        raise AssertionError("no QEMU process for " + vm)

    def check_started_at_and_usage(self, vm, t_start):
        """GetVMStatus of a running guest: startedAt is its QEMU process's
        start, also after the daemon restarted (no event to go by), and
        resourceUsage is filled from its metrics."""
        import datetime

        def started_at():
            st = self.ok("GetVMStatus", {"vmId": vm})
            return st, datetime.datetime.strptime(
                st["startedAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()

        st, at = started_at()
        self.assertLess(abs(at - self.qemu_start(vm)), 0.1, st)
        self.assertTrue(t_start - 1 <= at <= time.time(), (t_start, at))
        usage = st["resourceUsage"]
        self.assertGreater(int(usage["cpuTimeNs"]), 0)
        self.assertGreater(int(usage["memoryUsedBytes"]), 1 << 20)
        self.assertEqual(int(usage["memoryTotalBytes"]), 256 << 20)
        rc = self.daemon.stop()
        self.assertEqual(rc, 0, self.daemon.read_log())
        self.daemon.start()
        _, again = started_at()
        self.assertLess(abs(again - at), 0.01)

    def test_guest_lifecycle(self):
        t0 = time.time()
        good, good_log, good_req = self.create("lq-acpi")
        self.addCleanup(self.cleanup, good)
        deaf, deaf_log, _ = self.create("lq-deaf", "lq.ignore_acpi")
        self.addCleanup(self.cleanup, deaf)
        selfoff, selfoff_log, _ = self.create("lq-selfoff",
                                              "lq.poweroff_after=1")
        self.addCleanup(self.cleanup, selfoff)

        # Idempotent by id; another spec under the same id is refused.
        self.assertEqual(self.ok("CreateVM", good_req)["vmId"], good)
        other = dict(good_req, spec=dict(good_req["spec"], memoryMib=300))
        status, body = self.call("CreateVM", other)
        self.assertEqual(body["code"], "already_exists", body)

        since = int(self.ok("WatchEvents", {"timeoutSeconds": 0})["lastSeq"])
        t_start = time.time()
        for vm in (good, deaf, selfoff):
            self.assertEqual(self.ok("StartVM", {"vmId": vm}), {})
            self.assertEqual(self.state(vm), "POWER_STATE_RUNNING")
        self.ok("StartVM", {"vmId": good})      # Starting a running VM: no-op.
        self.assertEqual(self.state(good), "POWER_STATE_RUNNING")

        wait_for(lambda: "LQ-GUEST-ACPI-READY" in self.serial(good_log), 60,
                 "guest 1 to boot:\n" + self.serial(good_log)[-2000:])
        wait_for(lambda: "LQ-GUEST-IGNORING-ACPI" in self.serial(deaf_log),
                 60, "guest 2 to boot:\n" + self.serial(deaf_log)[-2000:])
        boot = time.time() - t0
        serial = self.serial(good_log)
        self.assertIn("Linux version", serial)        # The guest kernel...
        self.assertIn("LQ-GUEST-BOOTED", serial)      # ...and our /init.

        listed = self.ok("ListVMs", {})["vms"]
        self.assertTrue({good, deaf} <= {v["vmId"] for v in listed})

        # A guest that powers itself off is STOPPED (on_poweroff destroy),
        # and libvirt's event says so: no polling of the state.
        seen = []
        deadline = time.time() + 60
        while ("STOPPED", "SHUTDOWN") not in seen and time.time() < deadline:
            r = self.ok("WatchEvents", {"sinceSeq": str(since),
                                        "vmId": selfoff,
                                        "timeoutSeconds": 10})
            seen += [(e["event"], e["detail"]) for e in r["events"]]
            since = int(r["lastSeq"])
        # QEMU reports RESUMED then STARTED on start, and the guest's own
        # shutdown before the stop.
        self.assertIn(("STARTED", ""), seen)
        self.assertEqual(seen[-2:], [("SHUTDOWN", ""),
                                     ("STOPPED", "SHUTDOWN")],
                         (seen, self.serial(selfoff_log)[-2000:]))
        self.assertEqual(self.ok("GetVMStatus", {"vmId": selfoff})["state"],
                         "POWER_STATE_STOPPED")
        self.assertIn("LQ-GUEST-POWERING-OFF", self.serial(selfoff_log))

        # Pause and resume.
        self.ok("PauseVM", {"vmId": good})
        self.assertEqual(self.state(good), "POWER_STATE_PAUSED")
        status, body = self.call("StopVM", {"vmId": good,
                                            "gracefulOnly": True})
        self.assertEqual(body["code"], "failed_precondition", body)
        self.ok("ResumeVM", {"vmId": good})
        self.assertEqual(self.state(good), "POWER_STATE_RUNNING")

        # ACPI shutdown: the guest runs its power-button action.
        self.assertEqual(self.ok("StopVM", {"vmId": good,
                                            "timeoutSeconds": 30}), {})
        self.assertEqual(self.state(good), "POWER_STATE_STOPPED")
        self.assertIn("LQ-GUEST-POWER-BUTTON", self.serial(good_log))

        # A guest that ignores ACPI, gracefulOnly: timeout error, the VM
        # keeps running.
        t = time.time()
        status, body = self.call("StopVM", {"vmId": deaf,
                                            "timeoutSeconds": 2,
                                            "gracefulOnly": True})
        self.assertEqual(body["code"], "deadline_exceeded", body)
        self.assertGreaterEqual(time.time() - t, 2)
        self.assertEqual(self.ok("GetVMStatus", {"vmId": deaf})["state"],
                         "POWER_STATE_RUNNING")

        # DeleteVM is refused while running.
        status, body = self.call("DeleteVM", {"vmId": deaf})
        self.assertEqual(body["code"], "failed_precondition", body)
        self.check_started_at_and_usage(deaf, t_start)     # Restarts us.
        # As the seed's caller asks: after the timeout the node forces it
        # off, and the STOPPED event says so.
        since = int(self.ok("WatchEvents", {"timeoutSeconds": 0})["lastSeq"])
        t = time.time()
        self.ok("StopVM", {"vmId": deaf, "timeoutSeconds": 2})
        self.assertGreaterEqual(time.time() - t, 2)
        self.assertEqual(self.ok("GetVMStatus", {"vmId": deaf})["state"],
                         "POWER_STATE_STOPPED")
        stops = []
        deadline = time.time() + 20
        while not stops and time.time() < deadline:
            r = self.ok("WatchEvents", {"sinceSeq": str(since),
                                        "vmId": deaf, "timeoutSeconds": 5})
            stops += [e for e in r["events"] if e["event"] == "STOPPED"]
            since = int(r["lastSeq"])
        self.assertEqual([(e["detail"], e.get("forced")) for e in stops],
                         [("DESTROYED", "TIMEOUT")])
        self.ok("ForceStopVM", {"vmId": deaf})      # Stopped: a no-op.
        self.assertEqual(self.state(deaf), "POWER_STATE_STOPPED")

        for vm in (good, deaf, selfoff):
            self.assertEqual(self.ok("DeleteVM", {"vmId": vm}), {})
            status, body = self.call("GetVMStatus", {"vmId": vm})
            self.assertEqual(body["code"], "not_found", body)
        self.assertEqual(self.ok("DeleteVM", {"vmId": good}), {})
        r = self.libvirt.virsh("list", "--all", "--uuid")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(good, r.stdout)
        self.assertNotIn(deaf, r.stdout)
        self.assertNotIn(selfoff, r.stdout)
        self.assertNotIn(good, str(self.ok("ListVMs", {})))
        print("three guests booted to their markers in %.1f s" % boot)

    def test_seed_grpc_lifecycle(self):
        """The seed's calls over gRPC on a TCG guest: CreateVM by vmId
        (carrying our kernel fields, numbered from 100, as unknown fields
        of the seed's message) -> POWER_STATE_STOPPED -> StartVM -> the
        guest kernel prints -> POWER_STATE_RUNNING with StreamEvents
        showing EVENT_TYPE_VM_STARTED -> StopVM -> POWER_STATE_STOPPED ->
        DeleteVM -> NOT_FOUND."""
        import grpc
        from google.protobuf import descriptor_pool, empty_pb2
        from google.protobuf import message_factory
        pb, rpc = protoenv.seed_node_stubs(tempfile.mkdtemp(dir=self.tmp))
        pool = descriptor_pool.DescriptorPool()
        for fd in protoenv.ours_descriptor_set().file:
            pool.Add(fd)
        ours = message_factory.MessageFactory(pool).GetPrototype(
            pool.FindMessageTypeByName(
                "limiquantix.node.v1.CreateVMOnNodeRequest"))
        vm = str(uuid.uuid4())
        mine = ours(vm_id=vm, name="lq-grpc")
        mine.spec.cpu_cores = 1
        mine.spec.memory_mib = 256
        mine.spec.kernel_path = self.kernel
        mine.spec.initrd_path = self.initrd
        mine.spec.kernel_cmdline = "console=ttyS0 panic=-1"
        mine.spec.serial_log = True
        request = pb.CreateVMOnNodeRequest.FromString(
            mine.SerializeToString())
        self.assertEqual(request.vm_id, vm)

        channel = grpc.insecure_channel("127.0.0.1:%d" % self.daemon.port)
        self.addCleanup(channel.close)
        node = rpc.NodeDaemonServiceStub(channel)
        self.addCleanup(self.cleanup, vm)
        created = node.CreateVM(request, timeout=60)
        self.assertEqual((created.vm_id, created.created), (vm, True))
        ident = pb.VMIdRequest(vm_id=vm)
        self.assertEqual(node.GetVMStatus(ident, timeout=30).state,
                         pb.POWER_STATE_STOPPED)
        events = node.StreamEvents(empty_pb2.Empty(), timeout=180)
        time.sleep(0.5)                 # open before the VM starts
        node.StartVM(ident, timeout=60)
        log = self.ok("GetVMStatus", {"vmId": vm})["serialLogPath"]
        wait_for(lambda: "Linux version" in self.serial(log), 120,
                 "the guest kernel")
        self.assertEqual(node.GetVMStatus(ident, timeout=30).state,
                         pb.POWER_STATE_RUNNING)
        for ev in events:
            if ev.vm_id == vm and ev.type == pb.EVENT_TYPE_VM_STARTED:
                break
        events.cancel()
        node.StopVM(pb.StopVMRequest(vm_id=vm, timeout_seconds=30),
                    timeout=90)
        self.assertEqual(node.GetVMStatus(ident, timeout=30).state,
                         pb.POWER_STATE_STOPPED)
        node.DeleteVM(ident, timeout=60)
        with self.assertRaises(grpc.RpcError) as ctx:
            node.GetVMStatus(ident, timeout=30)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_uefi_guest(self):
        """firmware UEFI: OVMF boots the kernel; DeleteVM removes the VM's
        NVRAM file."""
        vm_id = str(uuid.uuid4())
        log = self.ok("CreateVM", {"vmId": vm_id, "name": "lq-uefi", "spec": {
            "memoryMib": 256, "firmware": "FIRMWARE_UEFI",
            "kernelPath": self.kernel,
            "initrdPath": self.initrd,
            "kernelCmdline": "console=ttyS0 panic=-1 lq.ignore_acpi",
            "serialLog": True}})["status"]["serialLogPath"]
        self.addCleanup(self.cleanup, vm_id)
        self.ok("StartVM", {"vmId": vm_id})
        wait_for(lambda: "LQ-GUEST-BOOTED" in self.serial(log), 120,
                 "the UEFI guest to boot:\n" + self.serial(log)[-2000:])
        self.assertRegex(self.serial(log), r"efi: EFI v[0-9.]+ by EDK II")
        xml = self.libvirt.virsh("dumpxml", vm_id).stdout
        nvram = xml.split("<nvram")[1].split(">")[1].split("<")[0]
        self.assertTrue(os.path.exists(os.path.join(
            self.libvirt.dir, "lib", os.path.relpath(nvram,
                                                     "/var/lib/libvirt"))),
                        nvram)
        self.ok("ForceStopVM", {"vmId": vm_id})
        self.assertEqual(self.ok("DeleteVM", {"vmId": vm_id}), {})
        self.assertFalse(os.path.exists(os.path.join(
            self.libvirt.dir, "lib", os.path.relpath(nvram,
                                                     "/var/lib/libvirt"))))
        # ...and the node's own files of the VM (its serial log).
        self.assertFalse(os.path.exists(log))

    def test_q35_guest(self):
        """hypervisor.machine q35 (the KVM default) on QEMU: the guest boots
        on the Q35 chipset (ICH9), with its CD-ROM on SATA."""
        node = computetest.ComputeDaemon(
            self.libvirt.uri, image_dirs=[self.tmp],
            hypervisor={"virt_type": "qemu", "machine": "q35"}).start()
        self.addCleanup(node.stop)
        iso = os.path.join(self.tmp, "empty.iso")
        with open(iso, "wb") as f:
            f.truncate(1 << 20)
        vm_id = str(uuid.uuid4())
        status, body = node.call("CreateVM", {
            "vmId": vm_id, "name": "lq-q35", "spec": {
                "memoryMib": 256, "kernelPath": self.kernel,
                "initrdPath": self.initrd, "serialLog": True,
                "kernelCmdline": "console=ttyS0 panic=-1",
                "cdroms": [{"id": "cd", "isoPath": iso}]}})
        self.assertEqual(status, 200, body)
        log = body["status"]["serialLogPath"]
        self.addCleanup(lambda: (node.call("ForceStopVM", {"vmId": vm_id}),
                                 node.call("DeleteVM", {"vmId": vm_id})))
        xml = self.libvirt.virsh("dumpxml", vm_id).stdout
        self.assertRegex(xml, r"machine='pc-q35-[0-9.]+'")
        self.assertIn("<target dev='sdz' bus='sata'/>", xml)
        status, body = node.call("StartVM", {"vmId": vm_id})
        self.assertEqual(status, 200, body)
        wait_for(lambda: "LQ-GUEST-BOOTED" in self.serial(log), 120,
                 "the q35 guest to boot:\n" + self.serial(log)[-2000:])
        # The Q35 chipset, as the guest kernel found it: its host bridge
        # and the ICH9 AHCI controller the CD-ROM hangs on.
        out = self.serial(log)
        self.assertIn("DMI: QEMU Standard PC (Q35 + ICH9, 2009)", out[:20000])
        self.assertRegex(out, r"pci 0000:00:00\.0: \[8086:29c0\]")
        self.assertRegex(out, r"pci 0000:00:1f\.2: \[8086:2922\]")
        self.assertEqual(node.call("ForceStopVM", {"vmId": vm_id})[0], 200)

    def test_cloud_init_seed(self):
        """spec.cloudInit: the guest kernel finds a CD-ROM labelled cidata
        holding meta-data (instance id, hostname, the SSH key) and the
        user-data as given; the ISO is the node's file (0600), its
        password nowhere in the domain XML or the log, and it goes with
        the VM.  A bad seed defines nothing and writes no ISO."""
        key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILqTest+Key/Only= ci@lq"
        vm_id = str(uuid.uuid4())
        request = {"vmId": vm_id, "name": "lq-cidata", "spec": {
            "memoryMib": 256, "kernelPath": self.kernel,
            "initrdPath": self.initrd, "serialLog": True,
            "kernelCmdline": "console=ttyS0 panic=-1 lq.cidata",
            "cloudInit": {
                "userData": "#cloud-config\nruncmd: [echo LQ-MARK-userdata1]\n",
                "sshAuthorizedKeys": [key], "hostname": "ci-host"}}}
        body = self.ok("CreateVM", request)
        self.addCleanup(self.cleanup, vm_id)
        iso = os.path.join(self.daemon.dir, "vms", vm_id + ".cidata.iso")
        self.assertEqual(os.stat(iso).st_mode & 0o777, 0o600)
        log = body["status"]["serialLogPath"]
        xml = self.libvirt.virsh("dumpxml", vm_id).stdout
        self.assertIn(iso, xml)
        self.ok("StartVM", {"vmId": vm_id})
        wait_for(lambda: "LQ-CIDATA-" in self.serial(log), 120,
                 "the guest to read its seed:\n" + self.serial(log)[-3000:])
        wait_for(lambda: "LQ-CIDATA-HOST" in self.serial(log), 30,
                 "the seed's hostname:\n" + self.serial(log)[-3000:])
        out = self.serial(log)
        self.assertIn("LQ-CIDATA-FILES meta-data user-data", out)
        self.assertIn("LQ-CIDATA-USERDATA LQ-MARK-userdata1", out)
        self.assertIn("LQ-CIDATA-KEY " + key, out)
        self.assertIn('LQ-CIDATA-HOST "local-hostname":"ci-host"', out)
        self.ok("ForceStopVM", {"vmId": vm_id})
        self.ok("DeleteVM", {"vmId": vm_id})
        self.assertFalse(os.path.exists(iso))

        # A password: only in the ISO.
        vm2 = str(uuid.uuid4())
        secret = "Pw-" + uuid.uuid4().hex
        self.ok("CreateVM", {"vmId": vm2, "name": "lq-cidata-pw", "spec": {
            "memoryMib": 64, "kernelPath": self.kernel,
            "cloudInit": {"password": secret}}})
        self.addCleanup(self.cleanup, vm2)
        iso2 = os.path.join(self.daemon.dir, "vms", vm2 + ".cidata.iso")
        with open(iso2, "rb") as f:
            self.assertIn(secret.encode(), f.read())
        self.assertNotIn(secret,
                         self.libvirt.virsh("dumpxml", vm2).stdout)
        self.assertNotIn(secret, self.daemon.read_log())

        # Refused before anything is made.
        vm3 = str(uuid.uuid4())
        status, body = self.call("CreateVM", {
            "vmId": vm3, "name": "lq-cidata-bad", "spec": {
                "memoryMib": 64, "kernelPath": self.kernel,
                "cloudInit": {"userData": "#cloud-config\n",
                              "password": secret}}})
        self.assertEqual(status, 400, body)
        self.assertIn("spec.cloudInit.password: not with userData",
                      body["message"])
        self.assertNotIn(secret, body["message"])
        self.assertFalse(os.path.exists(os.path.join(
            self.daemon.dir, "vms", vm3 + ".cidata.iso")))
        self.assertEqual(self.call("GetVMStatus", {"vmId": vm3})[0], 404)

    def test_cloud_init_seed_update(self):
        """UpdateVM cloudInit: the seed is written again with an instance-id
        of its content; a running guest reads the new seed from its drive
        (ejected and loaded again), a stopped one boots with it; a VM made
        without a seed and a bad seed are refused naming cloudInit, and
        change nothing."""
        plain, _, _ = self.create("lq-noseed")
        self.addCleanup(self.cleanup, plain)
        status, body = self.call("UpdateVM", {
            "vmId": plain, "cpuCores": 2,
            "cloudInit": {"userData": "#cloud-config\n"}})
        self.assertEqual(body.get("code"), "failed_precondition", body)
        self.assertTrue(body["message"].startswith(
            "cloudInit: VM %s was made without a seed" % plain), body)
        self.assertIn(">1</vcpu>", self.libvirt.virsh("dumpxml", plain).stdout)

        vm, log, req = self.create(
            "lq-reseed", "lq.cidata lq.cidata_watch",
            cloudInit={"userData": "#cloud-config\n# LQ-MARK-one\n"})
        self.addCleanup(self.cleanup, vm)
        iso = os.path.join(self.daemon.dir, "vms", vm + ".cidata.iso")
        with open(iso, "rb") as f:
            first = f.read()
        secret = "Pw-" + uuid.uuid4().hex
        status, body = self.call("UpdateVM", {"vmId": vm, "cloudInit": {
            "userData": "#cloud-config\n", "password": secret}})
        self.assertEqual(body.get("code"), "invalid_argument", body)
        self.assertTrue(body["message"].startswith(
            "cloudInit.password: not with userData"), body)
        self.assertNotIn(secret, body["message"])
        with open(iso, "rb") as f:
            self.assertEqual(f.read(), first)

        self.ok("StartVM", {"vmId": vm})

        def now():
            return re.findall(r'LQ-CIDATA-NOW (\S*) "instance-id":"([^"]*)"',
                              self.serial(log))
        wait_for(now, 120, "the guest's seed:\n" + self.serial(log)[-3000:])
        self.assertEqual(now()[0], ("LQ-MARK-one", vm))
        update = {"vmId": vm, "cloudInit": {
            "userData": "#cloud-config\n# LQ-MARK-two\n",
            "hostname": "re-seeded"}}
        self.assertEqual(self.ok("UpdateVM", update)["state"],
                         "POWER_STATE_RUNNING")
        wait_for(lambda: len(now()) > 1, 60,
                 "the new seed in the running guest:\n"
                 + self.serial(log)[-3000:])
        mark, instance = now()[-1]
        self.assertEqual(mark, "LQ-MARK-two")
        self.assertRegex(instance, "^%s-[0-9a-f]{8}$" % vm)
        self.assertEqual(os.stat(iso).st_mode & 0o777, 0o600)
        with open(iso, "rb") as f:
            seed = f.read()
        self.assertIn(b'"local-hostname":"re-seeded"', seed)
        self.ok("UpdateVM", update)                 # the same seed again
        with open(iso, "rb") as f:
            self.assertIn(('"instance-id":"%s"' % instance).encode(),
                          f.read())
        self.assertFalse(self.ok("CreateVM", req)["created"])

        # Stopped: the next boot reads the new seed (and a password is in
        # the ISO only).
        self.ok("ForceStopVM", {"vmId": vm})
        self.ok("UpdateVM", {"vmId": vm, "cloudInit": {"password": secret}})
        with open(iso, "rb") as f:
            self.assertIn(secret.encode(), f.read())
        self.assertNotIn(secret, self.libvirt.virsh(
            "dumpxml", "--security-info", vm).stdout)
        self.assertNotIn(secret, self.daemon.read_log())
        self.ok("StartVM", {"vmId": vm})
        wait_for(now, 120, "the guest's seed after a boot:\n"
                 + self.serial(log)[-3000:])
        mark, third = now()[0]
        self.assertEqual(mark, "")
        self.assertRegex(third, "^%s-[0-9a-f]{8}$" % vm)
        self.assertNotEqual(third, instance)

    def test_update_vm(self):
        """UpdateVM of a stopped VM: the guest kernel then brings up the new
        number of CPUs and sees the new memory; refused while it runs and
        for bad values (naming the field); the CreateVM that made it stays
        idempotent."""
        vm, log, req = self.create("lq-resize")
        self.addCleanup(self.cleanup, vm)
        for bad, why in (({}, "cpuCores, memoryMib, cloudInit: give at "
                          "least one"),
                         ({"memoryMib": 8}, "memoryMib: expected"),
                         ({"cpuCores": 1000}, "cpuCores: at most")):
            status, body = self.call("UpdateVM", dict(bad, vmId=vm))
            self.assertEqual(body.get("code"), "invalid_argument", body)
            self.assertTrue(body["message"].startswith(why), body)
        st = self.ok("UpdateVM", {"vmId": vm, "cpuCores": 2,
                                  "memoryMib": 320})
        self.assertEqual(st["state"], "POWER_STATE_STOPPED")
        xml = self.libvirt.virsh("dumpxml", vm).stdout
        self.assertIn(">2</vcpu>", xml)
        self.assertIn("cores='2'", xml)
        self.assertIn("<memory unit='KiB'>327680</memory>", xml)
        self.assertIn("passwd=", self.libvirt.virsh(
            "dumpxml", "--security-info", vm).stdout)   # kept
        self.assertFalse(self.ok("CreateVM", req)["created"])

        self.ok("StartVM", {"vmId": vm})
        wait_for(lambda: "LQ-GUEST-BOOTED" in self.serial(log), 120,
                 "the guest:\n" + self.serial(log)[-2000:])
        self.assertIn("smp: Brought up 1 node, 2 CPUs", self.serial(log))
        usage = self.ok("GetVMStatus", {"vmId": vm})["resourceUsage"]
        self.assertEqual(int(usage["memoryTotalBytes"]), 320 << 20)
        # Running: memory needs a stop; vCPUs beyond the maximum it was
        # made with too.
        status, body = self.call("UpdateVM", {"vmId": vm, "memoryMib": 256})
        self.assertEqual(body.get("code"), "failed_precondition", body)
        self.assertTrue(body["message"].startswith("memoryMib: VM"), body)
        status, body = self.call("UpdateVM", {"vmId": vm, "cpuCores": 3})
        self.assertEqual(body.get("code"), "failed_precondition", body)
        self.assertIn("running with at most 2 vCPUs", body["message"])

    def test_vcpu_hot_add(self):
        """A VM made with maxCpuCores boots with cpuCores; UpdateVM of the
        running VM plugs a vCPU the guest kernel sees arrive (ACPI CPU
        hotplug), in the live and the persistent definition."""
        status, body = self.call("CreateVM", {"name": "lq-bad", "spec": {
            "memoryMib": 64, "cpuCores": 2, "maxCpuCores": 1}})
        self.assertEqual(body.get("code"), "invalid_argument", body)
        self.assertTrue(body["message"].startswith(
            "spec.maxCpuCores: 1 is less than cpuCores 2"), body)
        vm, log, req = self.create("lq-hotcpu", maxCpuCores=2)
        self.addCleanup(self.cleanup, vm)
        xml = self.libvirt.virsh("dumpxml", vm).stdout
        self.assertRegex(xml, r"<vcpu [^>]*current='1'>2</vcpu>")
        self.ok("StartVM", {"vmId": vm})
        wait_for(lambda: "LQ-GUEST-BOOTED" in self.serial(log), 120,
                 "the guest:\n" + self.serial(log)[-2000:])
        self.assertIn("smp: Brought up 1 node, 1 CPU", self.serial(log))
        st = self.ok("UpdateVM", {"vmId": vm, "cpuCores": 2})
        self.assertEqual(st["state"], "POWER_STATE_RUNNING")
        wait_for(lambda: "CPU1 has been hot-added" in self.serial(log), 60,
                 "the hot-added CPU:\n" + self.serial(log)[-2000:])
        for scope in ("--live", "--config"):
            out = self.libvirt.virsh("vcpucount", vm, scope,
                                     "--active").stdout
            self.assertEqual(out.strip(), "2", scope)
        self.assertFalse(self.ok("CreateVM", req)["created"])

    def test_memory_hot_add(self):
        """A VM made with maxMemoryMib (<maxMemory slots>, one NUMA cell)
        grows while it runs: UpdateVM plugs a DIMM and the guest kernel's
        MemTotal grows by exactly its size; refusals name memoryMib and
        change nothing; stopped, the DIMM becomes boot memory."""
        status, body = self.call("CreateVM", {"name": "lq-bad", "spec": {
            "memoryMib": 256, "maxMemoryMib": 300}})
        self.assertEqual(body.get("code"), "invalid_argument", body)
        self.assertTrue(body["message"].startswith(
            "spec.maxMemoryMib: 300 is not memoryMib plus a multiple of "
            "128 MiB"), body)
        vm, log, req = self.create("lq-hotmem",
                                   "memhp_default_state=online lq.memwatch",
                                   maxMemoryMib=512)
        self.addCleanup(self.cleanup, vm)
        xml = self.libvirt.virsh("dumpxml", vm).stdout
        self.assertIn("<maxMemory slots='16' unit='KiB'>524288</maxMemory>",
                      xml)
        self.assertRegex(xml, r"<cell id='0' cpus='0' memory='262144' "
                              r"unit='KiB'")
        self.ok("StartVM", {"vmId": vm})

        def memtotal():
            found = re.findall(r"LQ-MEM MemTotal: +(\d+) kB",
                               self.serial(log))
            return [int(k) for k in found]
        wait_for(memtotal, 120, "the guest:\n" + self.serial(log)[-2000:])
        booted = memtotal()[0]
        for mib, code, why in (
                (300, "invalid_argument", "memoryMib: running VM %s has 256 "
                 "MiB and grows by multiples of 128 MiB" % vm),
                (1024, "failed_precondition", "memoryMib: VM %s is running "
                 "with at most 512 MiB (spec.maxMemoryMib)" % vm),
                (128, "failed_precondition", "memoryMib: VM %s is running "
                 "with 256 MiB: memory only grows while it runs" % vm)):
            status, body = self.call("UpdateVM", {"vmId": vm,
                                                  "memoryMib": mib})
            self.assertEqual(body.get("code"), code, body)
            self.assertTrue(body["message"].startswith(why), body)
        self.assertNotIn("model='dimm'", self.libvirt.virsh(
            "dumpxml", vm).stdout)

        st = self.ok("UpdateVM", {"vmId": vm, "memoryMib": 384})
        self.assertEqual(st["state"], "POWER_STATE_RUNNING")
        wait_for(lambda: len(memtotal()) > 1, 60,
                 "the hot-added memory:\n" + self.serial(log)[-2000:])
        self.assertEqual(memtotal()[-1] - booted, 128 << 10)
        usage = self.ok("GetVMStatus", {"vmId": vm})["resourceUsage"]
        self.assertEqual(int(usage["memoryTotalBytes"]), 384 << 20)
        for scope in ((), ("--inactive",)):
            self.assertEqual(self.libvirt.virsh(
                "dumpxml", *scope, vm).stdout.count("model='dimm'"), 1,
                scope)
        self.assertEqual(self.ok("UpdateVM", {"vmId": vm, "memoryMib": 384})
                         ["state"], "POWER_STATE_RUNNING")      # no-op
        self.assertEqual(self.libvirt.virsh(
            "dumpxml", vm).stdout.count("model='dimm'"), 1)
        self.assertFalse(self.ok("CreateVM", req)["created"])

        # Stopped: the DIMM folds into the cell, which then boots with it;
        # at the maximum no room is left to hot-add.
        self.ok("ForceStopVM", {"vmId": vm})
        self.ok("UpdateVM", {"vmId": vm, "memoryMib": 512})
        xml = self.libvirt.virsh("dumpxml", "--inactive", vm).stdout
        self.assertNotIn("model='dimm'", xml)
        self.assertNotIn("<maxMemory", xml)
        self.assertIn("<memory unit='KiB'>524288</memory>", xml)
        self.assertRegex(xml, r"<cell id='0' cpus='0' memory='524288'")
        self.ok("StartVM", {"vmId": vm})
        wait_for(lambda: memtotal() and memtotal()[0] > booted + (250 << 10),
                 120, "the guest with 512 MiB:\n" + self.serial(log)[-2000:])
        status, body = self.call("UpdateVM", {"vmId": vm, "memoryMib": 640})
        self.assertEqual(body.get("code"), "failed_precondition", body)
        self.assertTrue(body["message"].startswith(
            "memoryMib: VM %s is running without room for more memory"
            % vm), body)

    def test_spice_console(self):
        """console.spiceEnabled (the seed's ConsoleSpec): a SPICE console
        that listens nowhere; GetConsole says "spice", and through the
        same WebSocket a spice-html5-style client links the main channel
        with the ticket (and a wrong one is refused by QEMU)."""
        import vncws
        vm, _, _ = self.create("lq-spice", console={"spiceEnabled": True,
                                                    "spicePort": 5930})
        self.addCleanup(self.cleanup, vm)
        xml = self.libvirt.virsh("dumpxml", vm).stdout
        self.assertIn("<graphics type='spice'", xml)
        self.assertNotIn("5930", xml)
        self.ok("StartVM", {"vmId": vm})
        con = self.ok("GetConsole", {"vmId": vm})
        self.assertEqual(con["type"], "spice")
        self.assertEqual(len(con["password"]), 8)
        base = "ws://127.0.0.1:%d" % self.daemon.port
        self.assertEqual(vncws.spice_link(base + con["websocketPath"],
                                          con["password"]), 0)
        # The same token opens the other channels spice-html5 connects
        # (until it expires); the ticket is still checked on each.
        self.assertEqual(vncws.spice_link(base + con["websocketPath"],
                                          con["password"]), 0)
        again = self.ok("GetConsole", {"vmId": vm})
        self.assertNotEqual(vncws.spice_link(base + again["websocketPath"],
                                             "wrong-pw"), 0)
        time.sleep(con["tokenTtlSeconds"] + 0.5)
        self.assertEqual(vncws.refused_status(base + con["websocketPath"]),
                         401)                                   # expired
        # Nothing listens: the live definition has no port or socket.
        live = self.libvirt.virsh("dumpxml", vm).stdout
        self.assertIn("<listen type='none'/>", live)
        self.assertNotRegex(live, r"<graphics type='spice' [^>]*port=")

    def test_console_websocket(self):
        """GetConsole answers a one-time token for the WebSocket on the
        API listener; a noVNC-style client (WebSocket, binary frames)
        completes RFB 3.8 with VNC authentication through it to QEMU's
        VNC server and reads the desktop name.  QEMU listens nowhere; a
        used, expired, unknown or missing token is refused with 401, a
        token of a VM that stopped since with 400."""
        import re
        import vncws
        vm, _, _ = self.create("lq-console")
        self.addCleanup(self.cleanup, vm)
        status, body = self.call("GetConsole", {"vmId": vm})
        self.assertEqual(body["code"], "failed_precondition", body)
        self.ok("StartVM", {"vmId": vm})
        con = self.ok("GetConsole", {"vmId": vm})
        self.assertEqual((con["type"], con["host"], con["port"]),
                         ("vnc", "127.0.0.1", self.daemon.port))
        self.assertEqual(len(con["password"]), 8)
        self.assertEqual(con["tokenTtlSeconds"], 5)
        path = con["websocketPath"]
        self.assertRegex(path, r"^/console/websocket\?token=[0-9a-f]{64}$")
        base = "ws://127.0.0.1:%d/console/websocket" % self.daemon.port
        url = base + path[len("/console/websocket"):]
        width, height, name = vncws.rfb_handshake(url, con["password"])
        self.assertEqual(name, "QEMU (lq-console)")     # QEMU's desktop name
        self.assertGreater(width * height, 0)
        self.assertEqual(vncws.refused_status(url), 401)        # used
        self.assertEqual(vncws.refused_status(base + "?token=" + "0" * 64),
                         401)
        self.assertEqual(vncws.refused_status(base), 401)
        # A plain GET is not a WebSocket handshake.
        r = urllib.request.Request("http://127.0.0.1:%d/console/websocket"
                                   % self.daemon.port)
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(r, timeout=10)
        self.assertEqual(ctx.exception.code, 400)

        late = self.ok("GetConsole", {"vmId": vm})["websocketPath"]
        time.sleep(5.5)
        self.assertEqual(vncws.refused_status(
            base + late[len("/console/websocket"):]), 401)      # expired

        # QEMU listens on no port and no socket: libvirt hands the node
        # a connection.
        xml = self.libvirt.virsh("dumpxml", vm).stdout
        graphics = re.search(r"<graphics type='vnc'.*?</graphics>", xml,
                             re.S).group(0)
        self.assertNotIn("port=", graphics)
        self.assertNotIn("socket=", graphics)
        self.assertIn("<listen type='none'/>", graphics)

        self.check_console_over_mtls(vm)

        stale = self.ok("GetConsole", {"vmId": vm})["websocketPath"]
        self.ok("ForceStopVM", {"vmId": vm})
        self.assertEqual(vncws.refused_status(
            base + stale[len("/console/websocket"):]), 400)
        self.assertNotIn(con["password"], self.daemon.read_log())

    def check_console_over_mtls(self, vm):
        """The same console through a node whose API listener has mTLS:
        wss:// with a client certificate of the node's CA; without one the
        TLS handshake or the HTTP one is refused before any token is
        looked at."""
        import ssl
        import vncws
        from test_tls import make_ca, make_cert
        d = tempfile.mkdtemp(dir=self.tmp)
        make_ca(d, "ca")
        make_cert(d, "server", "ca", server=True)
        make_cert(d, "client", "ca")
        node = computetest.ComputeDaemon(
            self.libvirt.uri, image_dirs=[self.tmp],
            config="tls:\n  enabled: true\n  cert_path: %s/server.pem\n"
                   "  key_path: %s/server.key\n  ca_path: %s/ca.pem\n"
                   % (d, d, d)).start()
        try:
            st, con = node.call("GetConsole", {"vmId": vm})   # Unix socket
            self.assertEqual(st, 200, con)
            ctx = ssl.create_default_context(cafile=d + "/ca.pem")
            url = "wss://127.0.0.1:%d%s" % (node.port, con["websocketPath"])
            anonymous = ssl.create_default_context(cafile=d + "/ca.pem")
            try:
                self.assertEqual(vncws.refused_status(url, anonymous), 401)
            except (ssl.SSLError, ConnectionResetError, EOFError):
                pass            # Refused in the TLS handshake: also fine.
            ctx.load_cert_chain(d + "/client.pem", d + "/client.key")
            _, _, name = vncws.rfb_handshake(url, con["password"], ctx)
            self.assertEqual(name, "QEMU (lq-console)")
        finally:
            self.assertEqual(node.stop(), 0, node.read_log())

    def test_resource_metrics(self):
        """/metrics has the host's resources and every VM's, parsed by
        Prometheus's own client parser: a running guest's CPU seconds grow,
        its memory is the spec's, a name with quotes and backslashes is an
        escaped label; a stopped VM is running 0 with no counters."""
        from prometheus_client.parser import text_string_to_metric_families
        node = computetest.ComputeDaemon(
            self.libvirt.uri, image_dirs=[self.tmp], metrics=True).start()
        self.addCleanup(node.stop)

        def scrape():
            url = "http://127.0.0.1:%d/metrics" % node.metrics_port
            with urllib.request.urlopen(url, timeout=10) as r:
                text = r.read().decode()
            samples = {}
            for fam in text_string_to_metric_families(text):
                for s in fam.samples:
                    samples[(s.name, tuple(sorted(s.labels.items())))] = \
                        s.value
            return samples

        name = 'lq-"metrics\\'
        vm_id = str(uuid.uuid4())
        status, body = node.call("CreateVM", {
            "vmId": vm_id, "name": name, "spec": {
                "memoryMib": 128, "kernelPath": self.kernel,
                "initrdPath": self.initrd, "serialLog": True,
                "kernelCmdline": "console=ttyS0 panic=-1"}})
        self.assertEqual(status, 200, body)
        log = body["status"]["serialLogPath"]
        self.addCleanup(lambda: (node.call("ForceStopVM", {"vmId": vm_id}),
                                 node.call("DeleteVM", {"vmId": vm_id})))
        self.assertEqual(node.call("StartVM", {"vmId": vm_id})[0], 200)
        wait_for(lambda: "LQ-GUEST-BOOTED" in self.serial(log), 120,
                 "the guest to boot")
        vm = (("name", name), ("vm_id", vm_id))

        def vm_value(metric, samples, extra=()):
            return samples.get((metric, tuple(sorted(vm + tuple(extra)))))

        def scrape_until(predicate, what):
            deadline = time.time() + 30
            while time.time() < deadline:
                samples = scrape()
                if predicate(samples):
                    return samples
                time.sleep(0.5)
            raise AssertionError("timed out waiting for " + what)

        # The first scrape may find the reading made before the VM ran.
        first = scrape_until(lambda m: vm_value(
            "limiquantix_vm_cpu_seconds_total", m), "the VM on /metrics")
        self.assertEqual(vm_value("limiquantix_vm_running", first), 1)
        self.assertEqual(vm_value("limiquantix_vm_memory_bytes", first),
                         128 << 20)
        self.assertEqual(vm_value("limiquantix_vm_vcpus", first), 1)
        self.assertGreater(vm_value("limiquantix_vm_memory_rss_bytes",
                                    first), 1 << 20)
        cpu0 = vm_value("limiquantix_vm_cpu_seconds_total", first)
        self.assertGreater(cpu0, 0)
        host = {k[1]: v for k, v in first.items()
                if k[0] == "limiquantix_host_memory_bytes"}
        self.assertGreater(host[(("kind", "total"),)], 0)
        self.assertGreater(first[("limiquantix_host_cpu_seconds_total",
                                  (("mode", "busy"),))], 0)
        self.assertIn(("limiquantix_host_load", (("window", "1m"),)), first)
        # Later readings: the guest's CPU time grows.
        scrape_until(lambda m: (vm_value(
            "limiquantix_vm_cpu_seconds_total", m) or 0) > cpu0,
                     "the VM's CPU seconds to grow")
        self.assertEqual(node.call("ForceStopVM", {"vmId": vm_id})[0], 200)
        stopped = scrape_until(lambda m: vm_value(
            "limiquantix_vm_running", m) == 0, "the VM reported stopped")
        self.assertIsNone(vm_value("limiquantix_vm_cpu_seconds_total",
                                   stopped))

    def test_name_is_escaped_not_injected(self):
        vm_id = str(uuid.uuid4())
        name = "a'\"<b>&"
        body = self.ok("CreateVM", {"vmId": vm_id, "name": name,
                                    "spec": {"memoryMib": 64,
                                             "kernelPath": self.kernel},
                                    "labels": {"k<&>": "v'\"</lq:vm>"}})
        self.addCleanup(self.cleanup, vm_id)
        self.assertEqual(body["status"]["name"], name)
        self.assertEqual(body["status"]["labels"], {"k<&>": "v'\"</lq:vm>"})
        r = self.libvirt.virsh("domname", vm_id)
        self.assertEqual(r.stdout.strip(), name)
        r = self.libvirt.virsh("dumpxml", vm_id)
        self.assertNotIn("<b>", r.stdout)
        self.assertEqual(self.ok("DeleteVM", {"vmId": vm_id}), {})

    def test_invalid_specs_define_nothing(self):
        base = {"name": "lq-bad", "spec": {"memoryMib": 64,
                                           "kernelPath": self.kernel}}
        cases = [
            ({"spec": {"memoryMib": 0}}, "spec.memoryMib"),
            ({"spec": {"memoryMib": 64, "kernelPath": "/nonexistent/k"}},
             "spec.kernelPath"),
            ({"spec": {"memoryMib": 64, "cpuCores": 1000}}, "spec.cpuCores"),
            ({"name": "a/b"}, "name"),
            ({"vmId": "not-a-uuid"}, "vmId: expected a UUID"),
            ({"spec": {"memoryMib": 64, "disks": [{"id": "d0"}]}},
             "spec.disks[0]: give path (a volume id or an image file), "
             "volumeId, sizeGib or imageVolumeId with imageSnapshotId"),
            ({"spec": {"memoryMib": 64,
                       "disks": [{"id": "d0", "volumeId": "nosuch"}]}},
             "spec.disks[0].volumeId: no volume nosuch"),
            ({"spec": {"memoryMib": 64,
                       "disks": [{"id": "d0", "path": "/dev/null",
                                  "bus": "floppy"}]}},
             "spec.disks[0].bus"),
        ]
        # Host files and devices the API must never reach (issue 13): only
        # regular files inside hypervisor.image_dirs, symlinks resolved.
        escape = os.path.join(self.tmp, "escape-link")
        if not os.path.lexists(escape):
            os.symlink("/etc/shadow", escape)
        os.makedirs(os.path.join(self.tmp, "a-dir"), exist_ok=True)
        out = "not inside one of the node's image directories"
        kernel = {"memoryMib": 64, "kernelPath": self.kernel}
        cases += [
            ({"spec": {"memoryMib": 64, "kernelPath": "/etc/shadow"}},
             "spec.kernelPath: \"/etc/shadow\" is " + out),
            ({"spec": dict(kernel, initrdPath="/etc/passwd")},
             "spec.initrdPath: \"/etc/passwd\" is " + out),
            ({"spec": dict(kernel, initrdPath=escape)},
             "spec.initrdPath: \"%s\" is %s" % (escape, out)),
            ({"spec": dict(kernel, initrdPath=self.tmp + "/../../etc/passwd")},
             "spec.initrdPath"),
            ({"spec": dict(kernel, initrdPath=self.tmp + "/a-dir")},
             "spec.initrdPath: \"%s/a-dir\" is not a regular file"
             % self.tmp),
            ({"spec": dict(kernel, cdroms=[{"id": "cd",
                                            "isoPath": "/etc/hostname"}])},
             "spec.cdroms[0].isoPath"),
            ({"spec": dict(kernel, disks=[{"id": "d0",
                                           "path": "/etc/hostname"}])},
             "spec.disks[0].path: \"/etc/hostname\" is " + out),
            ({"spec": dict(kernel, disks=[{"id": "d0", "path": "/dev/null"}])},
             "spec.disks[0].path: \"/dev/null\" is " + out),
            ({"spec": dict(kernel, serialLogPath="/etc/lq-evil.log")},
             "spec.serialLogPath: unknown field"),
        ]
        for change, field in cases:
            request = dict(base, **change)
            status, body = self.call("CreateVM", request)
            self.assertEqual(body.get("code"), "invalid_argument",
                             (request, body))
            self.assertTrue(body["message"].startswith(field),
                            (field, body))
        r = self.libvirt.virsh("list", "--all", "--name")
        self.assertNotIn("lq-bad", r.stdout.split())
        self.assertFalse(os.path.exists("/etc/lq-evil.log"))
        # No serial log was made for any of them.
        vms = os.path.join(self.daemon.dir, "vms")
        listed = {v["vmId"] + ".serial.log"
                  for v in self.ok("ListVMs", {})["vms"]}
        self.assertTrue(set(os.listdir(vms) if os.path.isdir(vms) else [])
                        <= listed)
        self.assertNotIn("lq-bad", [v["name"] for v in
                                    self.ok("ListVMs", {})["vms"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
