"""The lvm-thin backend with real device-mapper thin pools.

This host's kernel has no device-mapper, so the test boots a throw-away
QEMU/TCG guest (tests/storage/lvmguest.py: Debian's kernel, the host's
root read-only over 9p) and runs itself inside it with --in-guest.  In the
guest, LVM uses a private LVM_SYSTEM_DIR whose filter accepts only
/dev/vda, the guest's one virtual disk (a sparse file on the host); the
daemon and the test talk to lvm2 with that environment.  Data is written
to and read from the activated LVs themselves."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MiB = 1 << 20
VG, TP = "lqvg", "tp"

LVM_CONF = """
devices {
    global_filter = [ "a|^/dev/vda$|", "r|.*|" ]
    use_devicesfile = 0
    obtain_device_list_from_udev = 0
}
global {
    locking_dir = "%(dir)s/lock"
}
activation {
    udev_sync = 0
    udev_rules = 0
    monitoring = 0
}
backup {
    backup = 0
    archive = 0
}
"""


def lvm(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True,
                       timeout=120)
    if check and r.returncode:
        raise AssertionError("%s: %s" % (" ".join(args), r.stderr))
    return r


def lvs():
    out = lvm("lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
              "-o", "lv_name,lv_size,lv_tags,data_percent", VG).stdout
    return {lv["lv_name"]: lv for lv in json.loads(out)["report"][0]["lv"]}


class LvmGuestTest(unittest.TestCase):
    """Runs inside the guest."""

    @classmethod
    def setUpClass(cls):
        from storagetest import StorageDaemon
        cls.tmp = tempfile.mkdtemp(prefix="lq-lvm-")
        lvm_dir = os.path.join(cls.tmp, "lvm")
        os.makedirs(os.path.join(lvm_dir, "lock"))
        with open(os.path.join(lvm_dir, "lvm.conf"), "w") as f:
            f.write(LVM_CONF % {"dir": lvm_dir})
        os.environ["LVM_SYSTEM_DIR"] = lvm_dir
        os.environ["LVM_SUPPRESS_FD_WARNINGS"] = "1"
        lvm("pvcreate", "-q", "/dev/vda")
        lvm("vgcreate", "-q", VG, "/dev/vda")
        lvm("lvcreate", "-q", "-T", "%s/%s" % (VG, TP), "-L", "160m")
        cls.daemon = StorageDaemon(
            "storage:\n  pools:\n"
            "    - {id: thin, backend: lvm-thin, vg: %s, thin_pool: %s}\n"
            "    - {id: tight, backend: lvm-thin, vg: %s, thin_pool: %s, "
            "max_data_percent: 0.5}\n" % (VG, TP, VG, TP),
            image_dirs=[cls.tmp]).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.daemon.stop()
        if rc != 0:
            raise AssertionError("daemon exited %d:\n%s"
                                 % (rc, cls.daemon.read_log()))
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def ok(self, method, request, service=None):
        from storagetest import VOLUMES
        st, body = self.daemon.call(method, request,
                                    service=service or VOLUMES)
        self.assertEqual(st, 200, "%s %s -> %s" % (method, request, body))
        return body

    def refused(self, method, request, code, contains=None):
        st, body = self.daemon.vcall(method, request)
        self.assertEqual(body.get("code"), code, "%s %s -> %s"
                         % (method, request, body))
        if contains:
            self.assertIn(contains, body["message"])

    def create(self, vid, size=8 * MiB, **kw):
        req = {"id": vid, "poolId": "thin", "sizeBytes": str(size)}
        req.update(kw)
        return self.ok("CreateVolume", req)

    def dev(self, lv):
        lvm("lvchange", "-q", "-ay", "-K", "%s/%s" % (VG, lv))
        return "/dev/%s/%s" % (VG, lv)

    def write(self, lv, data, offset):
        with open(self.dev(lv), "r+b") as f:
            f.seek(offset)
            f.write(data)
            os.fsync(f.fileno())

    def read(self, lv, offset, length):
        with open(self.dev(lv), "rb") as f:
            f.seek(offset)
            return f.read(length)

    def test_create_idempotency_delete(self):
        v = self.create("t1", 8 * MiB, name="thin one")
        self.assertEqual(v["state"], "available")
        self.assertEqual(v["sizeBytes"], str(8 * MiB))
        self.assertEqual(v["name"], "thin one")
        self.assertEqual(v["backendName"], "lqvg/lq-t1")
        lv = lvs()["lq-t1"]
        self.assertIn("lq.vol=t1", lv["lv_tags"].split(","))
        self.assertNotIn("lqtmp-t1", lvs())
        data = os.urandom(256 * 1024)
        self.write("lq-t1", data, 3 * MiB)
        self.assertEqual(self.read("lq-t1", 3 * MiB, len(data)), data)
        v2 = self.ok("GetVolume", {"id": "t1"})
        self.assertGreater(int(v2["allocatedBytes"]), 0)
        self.assertLess(int(v2["allocatedBytes"]), 8 * MiB)   # thin
        again = self.create("t1", 8 * MiB, name="thin one")
        self.assertEqual(again["createdAt"], v["createdAt"])
        self.refused("CreateVolume", {"id": "t1", "poolId": "thin",
                                      "sizeBytes": str(16 * MiB)},
                     "already_exists")
        lvm("lvchange", "-q", "-an", "%s/lq-t1" % VG)
        # Attaching activates the LV and hands libvirt the block device.
        from storagetest import disk_source
        self.assertEqual(disk_source(self.daemon, "t1"), {
            "type": "block", "path": "/dev/lqvg/lq-t1", "format": "raw",
            "hosts": []})
        self.assertTrue(os.path.exists("/dev/lqvg/lq-t1"))
        lvm("lvchange", "-q", "-an", "%s/lq-t1" % VG)
        self.ok("DeleteVolume", {"id": "t1"})
        self.assertNotIn("lq-t1", lvs())
        self.ok("DeleteVolume", {"id": "t1"})
        self.refused("GetVolume", {"id": "t1"}, "not_found")

    def test_snapshot_clone_rollback(self):
        a, b = os.urandom(128 * 1024), os.urandom(128 * 1024)
        self.create("t2", 8 * MiB)
        self.write("lq-t2", a, MiB)
        s = self.ok("CreateSnapshot", {"volumeId": "t2", "id": "t2s",
                                       "name": "before"})
        self.assertEqual(s["name"], "before")
        self.assertIn("lq.snap_of=t2", lvs()["lqs-t2s"]["lv_tags"])
        self.refused("CreateSnapshot", {"volumeId": "t2", "id": "t2s",
                                        "name": "other"}, "already_exists")
        self.write("lq-t2", b, MiB)
        c = self.create("t2c", 12 * MiB, source={"snapshotId": "t2s"})
        self.assertEqual(c["parent"], {"volumeId": "t2",
                                       "snapshotId": "t2s"})
        self.assertEqual(c["sizeBytes"], str(12 * MiB))
        self.assertEqual(self.read("lq-t2c", MiB, len(a)), a)
        self.write("lq-t2c", b, 0)
        lvm("lvchange", "-q", "-an", "%s/lq-t2" % VG)
        self.ok("RollbackSnapshot", {"volumeId": "t2", "id": "t2s"})
        self.assertEqual(self.read("lq-t2", MiB, len(a)), a)
        self.assertEqual(self.ok("GetVolume", {"id": "t2"})["name"], "t2")
        self.assertNotIn("lqold-t2", lvs())
        # Thin clones are independent: the parent goes, the clone stays.
        for lv in ("lq-t2", "lq-t2c"):
            lvm("lvchange", "-q", "-an", "%s/%s" % (VG, lv))
        self.ok("DeleteVolume", {"id": "t2"})
        self.assertFalse([n for n in lvs() if "t2s" in n])
        self.assertEqual(self.read("lq-t2c", MiB, len(a)), a)
        self.ok("FlattenVolume", {"id": "t2c"})       # a job: wait
        deadline = time.time() + 60
        while "parent" in self.ok("GetVolume", {"id": "t2c"}):
            self.assertLess(time.time(), deadline)
            time.sleep(0.2)
        self.assertNotIn("lq.pvol=t2", lvs()["lq-t2c"]["lv_tags"])
        lvm("lvchange", "-q", "-an", "%s/lq-t2c" % VG)
        self.ok("DeleteVolume", {"id": "t2c"})

    def test_resize_import_and_foreign_lvs(self):
        self.create("t3", 8 * MiB)
        self.refused("ResizeVolume", {"id": "t3", "sizeBytes": str(4 * MiB)},
                     "failed_precondition", "allowShrink")
        v = self.ok("ResizeVolume", {"id": "t3", "sizeBytes": str(16 * MiB)})
        self.assertEqual(v["sizeBytes"], str(16 * MiB))
        self.assertEqual(int(lvs()["lq-t3"]["lv_size"]), 16 * MiB)
        self.ok("ResizeVolume", {"id": "t3", "sizeBytes": str(4 * MiB),
                                 "allowShrink": True})
        self.assertEqual(int(lvs()["lq-t3"]["lv_size"]), 4 * MiB)
        self.ok("DeleteVolume", {"id": "t3"})

        raw = os.path.join(self.tmp, "src.raw")
        data = os.urandom(MiB)
        with open(raw, "wb") as f:
            f.truncate(8 * MiB)
            f.seek(2 * MiB)
            f.write(data)
        self.ok("CreateVolume", {"id": "t4", "poolId": "thin",
                                 "source": {"imagePath": raw}})
        deadline = time.time() + 120
        while True:
            v = self.ok("GetVolume", {"id": "t4"})
            if v["state"] != "creating" or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(v["state"], "available", v)
        self.assertEqual(self.read("lq-t4", 2 * MiB, MiB), data)
        self.assertEqual(self.read("lq-t4", 0, MiB), bytes(MiB))
        lvm("lvchange", "-q", "-an", "%s/lq-t4" % VG)
        self.ok("DeleteVolume", {"id": "t4"})

        # An LV named like ours but without our tag is not ours.
        lvm("lvcreate", "-q", "--type", "thin", "--thinpool", TP, "-V", "4m",
            "-n", "lq-foreign", "-an", VG)
        self.assertNotIn("foreign", [v["id"] for v in self.ok(
            "ListVolumes", {}).get("volumes", [])])
        self.refused("DeleteVolume", {"id": "foreign"}, "failed_precondition",
                     "not a limiquantix volume")
        self.assertIn("lq-foreign", lvs())
        lvm("lvremove", "-q", "-f", "%s/lq-foreign" % VG)

    def test_pools_and_overcommit_guard(self):
        from storagetest import POOLS
        pools = {p["id"]: p for p in self.ok("ListPools", {},
                                             service=POOLS)["pools"]}
        self.assertEqual(pools["thin"]["health"], "ok")
        self.assertEqual(int(pools["thin"]["capacityBytes"]),
                         int(lvs()[TP]["lv_size"]))
        # Data in the pool puts it over "tight"'s 0.5% limit.
        self.create("t5", 8 * MiB)
        self.write("lq-t5", os.urandom(2 * MiB), 0)
        lvm("lvchange", "-q", "-an", "%s/lq-t5" % VG)
        st, body = self.daemon.vcall("CreateVolume", {
            "id": "t6", "poolId": "tight", "sizeBytes": str(4 * MiB)})
        self.assertEqual(body.get("code"), "resource_exhausted", body)
        self.assertIn("too full", body["message"])
        self.assertNotIn("lq-t6", lvs())
        self.assertNotIn("lqtmp-t6", lvs())
        self.ok("DeleteVolume", {"id": "t5"})


class LvmTest(unittest.TestCase):
    """Runs on the host: boots the guest that runs LvmGuestTest."""

    def test_in_guest(self):
        import lvmguest
        why = lvmguest.missing_prerequisites()
        if why:
            self.skipTest(why)
        d = tempfile.mkdtemp(prefix="lq-lvm-guest-")
        try:
            disk = os.path.join(d, "disk.raw")
            with open(disk, "wb") as f:
                f.truncate(256 * MiB)
            env = {k: os.environ[k] for k in ("LQ_NODE", "LQ_CTL",
                                              "LQ_DISK_SOURCE")
                   if k in os.environ}
            env.update(PATH="/usr/sbin:/usr/bin:/sbin:/bin", HOME="/root",
                       PYTHONDONTWRITEBYTECODE="1")
            t = time.time()
            rc, out = lvmguest.run([sys.executable, os.path.abspath(__file__),
                                    "--in-guest"], env, disk, d, timeout=600)
            sys.stderr.write(out[out.find("LQ-GUEST-READY"):])
            sys.stderr.write("guest run: %.1f s\n" % (time.time() - t))
            self.assertEqual(rc, 0, "tests in the guest failed")
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if "--in-guest" in sys.argv:
        sys.argv.remove("--in-guest")
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(LvmGuestTest)
    else:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(LvmTest)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
