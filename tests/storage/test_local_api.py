"""The local backend (qcow2 files in a directory) through the real daemon.

Every assertion also looks at the directory itself: the files, their
metadata, `qemu-img info`, and the guest-visible bytes (written with
qemu-io, read back with `qemu-img convert -O raw`)."""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storagetest import MiB, POOLS, StorageDaemon, disk_source  # noqa


def qemu_img_info(path):
    out = subprocess.run(["qemu-img", "info", "-U", "-f", "qcow2",
                          "--output=json", path], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


class LocalTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-local-")
        cls.pool = os.path.join(cls.tmp, "pool")
        os.mkdir(cls.pool, 0o700)
        cls.outside = os.path.join(cls.tmp, "outside")
        os.mkdir(cls.outside)
        cls.daemon = StorageDaemon(
            "storage:\n  pools:\n"
            "    - {id: disk, backend: local, path: %s}\n"
            % cls.pool, image_dirs=[cls.tmp]).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.daemon.stop()
            if rc != 0:
                raise AssertionError("daemon exited %d:\n%s"
                                     % (rc, cls.daemon.read_log()))
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------
    def ok(self, method, request, service=None):
        if service:
            status, body = self.daemon.call(method, request, service=service)
        else:
            status, body = self.daemon.vcall(method, request)
        self.assertEqual(status, 200, "%s %s -> %s" % (method, request, body))
        return body

    def refused(self, method, request, code, contains=None):
        st, body = self.daemon.vcall(method, request)
        self.assertEqual(body.get("code"), code, "%s %s -> %s"
                         % (method, request, body))
        if contains:
            self.assertIn(contains, body["message"])
        return body

    def create(self, vid, size=8 * MiB, **kw):
        req = {"id": vid, "poolId": "disk", "sizeBytes": str(size)}
        req.update(kw)
        return self.ok("CreateVolume", req)

    def path(self, vid):
        return os.path.join(self.pool, "lq-%s.qcow2" % vid)

    def files(self):
        return sorted(os.listdir(self.pool))

    def write(self, vid, data, offset):
        src = os.path.join(self.tmp, "chunk")
        with open(src, "wb") as f:
            f.write(data)
        r = subprocess.run(["qemu-io", "-f", "qcow2", "-c",
                            "write -s %s %d %d" % (src, offset, len(data)),
                            self.path(vid)], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("error", r.stdout + r.stderr)

    def read(self, vid, offset, length, path=None):
        raw = os.path.join(self.tmp, "read.raw")
        subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw",
                        path or self.path(vid), raw], check=True,
                       capture_output=True, timeout=60)
        with open(raw, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        os.unlink(raw)
        return data

    def wait_available(self, vid, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.ok("GetVolume", {"id": vid})
            if v["state"] != "creating":
                return v
            time.sleep(0.05)
        self.fail("volume %s still creating" % vid)


class LocalApiTest(LocalTestCase):
    def setUp(self):
        # Each test starts from an empty pool and must leave it empty.
        for name in os.listdir(self.pool):
            os.unlink(os.path.join(self.pool, name))

    def test_create_write_read_and_idempotency(self):
        v = self.create("vol-a", 16 * MiB, name="disk one")
        self.assertEqual(v["state"], "available")
        self.assertEqual(v["sizeBytes"], str(16 * MiB))
        self.assertEqual(v["name"], "disk one")
        self.assertEqual(v["backendName"], self.path("vol-a"))
        self.assertEqual(self.files(), ["lq-vol-a.meta", "lq-vol-a.qcow2"])
        st = os.lstat(self.path("vol-a"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        info = qemu_img_info(self.path("vol-a"))
        self.assertEqual(info["format"], "qcow2")
        self.assertEqual(info["virtual-size"], 16 * MiB)
        with open(os.path.join(self.pool, "lq-vol-a.meta")) as f:
            meta = json.load(f)
        self.assertEqual(meta["volume_id"], "vol-a")
        self.assertEqual(meta["name"], "disk one")

        data = os.urandom(256 * 1024)
        self.write("vol-a", data, 5 * MiB)
        self.assertEqual(self.read("vol-a", 5 * MiB, len(data)), data)
        v = self.ok("GetVolume", {"id": "vol-a"})
        self.assertGreater(int(v["allocatedBytes"]), len(data))
        self.assertLess(int(v["allocatedBytes"]), 16 * MiB)    # thin
        self.assertFalse(v.get("attached", False))

        again = self.create("vol-a", 16 * MiB, name="disk one")
        self.assertEqual(again["createdAt"], v["createdAt"])
        self.assertEqual(self.read("vol-a", 5 * MiB, len(data)), data)
        self.refused("CreateVolume", {"id": "vol-a", "poolId": "disk",
                                      "name": "disk one",
                                      "sizeBytes": str(32 * MiB)},
                     "already_exists")
        self.assertEqual(qemu_img_info(self.path("vol-a"))["virtual-size"],
                         16 * MiB)

        self.assertEqual(disk_source(self.daemon, "vol-a"), {
            "type": "file", "path": self.path("vol-a"), "format": "qcow2",
            "hosts": []})
        listed = self.ok("ListVolumes", {"poolId": "disk"})["volumes"]
        self.assertEqual([x["id"] for x in listed], ["vol-a"])

        self.ok("DeleteVolume", {"id": "vol-a"})
        self.assertEqual(self.files(), [])
        self.ok("DeleteVolume", {"id": "vol-a"})
        self.refused("GetVolume", {"id": "vol-a"}, "not_found")

    def test_invalid_requests_create_nothing(self):
        before = self.files()
        cases = [
            ({"id": "../x", "poolId": "disk", "sizeBytes": "1048576"},
             "id: "),
            ({"id": ".x", "poolId": "disk", "sizeBytes": "1048576"}, "id: "),
            ({"id": "x", "poolId": "disk", "sizeBytes": "1000"},
             "sizeBytes: 1000 is not a multiple of 512"),
            ({"id": "x", "poolId": "disk", "sizeBytes": "1048576",
              "name": "a/b"}, "name: must not contain '/'"),
            ({"id": "x", "poolId": "disk",
              "source": {"imagePath": "relative.qcow2"}},
             "source.imagePath"),
            ({"id": "x", "poolId": "disk",
              "source": {"snapshotId": "nosuch"}}, "not found"),
        ]
        for req, msg in cases:
            st, body = self.daemon.vcall("CreateVolume", req)
            self.assertNotEqual(st, 200, req)
            self.assertIn(msg, body["message"], req)
        self.assertEqual(self.files(), before)

    def test_snapshot_clone_rollback_flatten(self):
        a = os.urandom(128 * 1024)
        b = os.urandom(128 * 1024)
        self.create("gold", 8 * MiB)
        self.write("gold", a, 1 * MiB)
        snap = self.ok("CreateSnapshot", {"volumeId": "gold", "id": "s1",
                                          "name": "before"})
        self.assertEqual(snap["name"], "before")
        self.assertEqual(snap["sizeBytes"], str(8 * MiB))
        # The same snapshot again: success; another name: already_exists.
        self.ok("CreateSnapshot", {"volumeId": "gold", "id": "s1",
                                   "name": "before"})
        self.refused("CreateSnapshot", {"volumeId": "gold", "id": "s1",
                                        "name": "other"}, "already_exists")
        tags = [s["name"] for s in qemu_img_info(self.path("gold"))
                ["snapshots"]]
        self.assertEqual(tags, ["lq-s1"])
        self.write("gold", b, 1 * MiB)

        c = self.create("clone1", 12 * MiB, source={"snapshotId": "s1"})
        self.assertEqual(c["parent"], {"volumeId": "gold",
                                       "snapshotId": "s1"})
        self.assertEqual(c["cloneDepth"], 1)
        base = os.path.join(self.pool, "lq-base~gold~s1.qcow2")
        self.assertEqual(stat.S_IMODE(os.lstat(base).st_mode), 0o400)
        info = qemu_img_info(self.path("clone1"))
        self.assertEqual(info["backing-filename"], "lq-base~gold~s1.qcow2")
        self.assertEqual(info["virtual-size"], 12 * MiB)
        self.assertEqual(self.read("clone1", 1 * MiB, len(a)), a)
        # A second clone of the same snapshot shares the base.
        self.create("clone2", 0, source={"snapshotId": "s1",
                                         "volumeId": "gold"})
        # Writes to a clone leave the parent and the other clone alone.
        self.write("clone1", b, 1 * MiB)
        self.assertEqual(self.read("clone1", 1 * MiB, len(b)), b)
        self.assertEqual(self.read("clone2", 1 * MiB, len(a)), a)
        self.assertEqual(self.read("gold", 1 * MiB, len(b)), b)

        # Rollback brings the snapshot's bytes back.
        self.ok("RollbackSnapshot", {"volumeId": "gold", "id": "s1"})
        self.assertEqual(self.read("gold", 1 * MiB, len(a)), a)

        # Clones block deletes unless forced.
        self.refused("DeleteSnapshot", {"volumeId": "gold", "id": "s1"},
                     "failed_precondition", "clone")
        self.refused("DeleteVolume", {"id": "gold"}, "failed_precondition",
                     "clone")
        # Explicit flatten of one clone.
        self.ok("FlattenVolume", {"id": "clone2"})
        v = self.wait_flattened("clone2")
        self.assertNotIn("parent", v)
        self.assertNotIn("backing-filename",
                         qemu_img_info(self.path("clone2")))
        self.assertEqual(self.read("clone2", 1 * MiB, len(a)), a)
        # Forced snapshot delete flattens the remaining clone.
        self.ok("DeleteSnapshot", {"id": "s1", "force": True})
        self.assertFalse(os.path.exists(base))
        self.assertNotIn("backing-filename",
                         qemu_img_info(self.path("clone1")))
        self.assertEqual(self.read("clone1", 1 * MiB, len(b)), b)
        self.assertEqual(self.ok("ListSnapshots", {"volumeId": "gold"})
                         .get("snapshots", []), [])
        for vid in ("clone1", "clone2", "gold"):
            self.ok("DeleteVolume", {"id": vid})
        self.assertEqual(self.files(), [])

    def wait_flattened(self, vid, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.ok("GetVolume", {"id": vid})
            if "parent" not in v:
                return v
            time.sleep(0.05)
        self.fail("volume %s not flattened" % vid)

    def test_forced_volume_delete_flattens_clones(self):
        a = os.urandom(64 * 1024)
        self.create("p1", 4 * MiB)
        self.write("p1", a, 0)
        self.ok("CreateSnapshot", {"volumeId": "p1", "id": "p1-s"})
        self.create("p1-c", 0, source={"snapshotId": "p1-s"})
        self.ok("DeleteVolume", {"id": "p1", "force": True})
        self.assertFalse(os.path.exists(self.path("p1")))
        self.assertEqual(self.read("p1-c", 0, len(a)), a)
        self.assertEqual([f for f in self.files() if "base" in f], [])
        self.ok("DeleteVolume", {"id": "p1-c"})

    def test_resize(self):
        self.create("rs", 4 * MiB)
        v = self.ok("ResizeVolume", {"id": "rs", "sizeBytes": str(8 * MiB)})
        self.assertEqual(v["sizeBytes"], str(8 * MiB))
        self.assertEqual(qemu_img_info(self.path("rs"))["virtual-size"],
                         8 * MiB)
        self.refused("ResizeVolume", {"id": "rs", "sizeBytes": str(2 * MiB)},
                     "failed_precondition", "allowShrink")
        v = self.ok("ResizeVolume", {"id": "rs", "sizeBytes": str(2 * MiB),
                                     "allowShrink": True})
        self.assertEqual(qemu_img_info(self.path("rs"))["virtual-size"],
                         2 * MiB)
        self.ok("DeleteVolume", {"id": "rs"})

    def test_import_qcow2_and_raw(self):
        src = os.path.join(self.tmp, "src.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", src,
                        str(64 * MiB)], check=True)
        data = os.urandom(1 * MiB)
        chunk = os.path.join(self.tmp, "src-chunk")
        with open(chunk, "wb") as f:
            f.write(data)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c",
                        "write -s %s %d %d" % (chunk, 40 * MiB, len(data)),
                        src], check=True, capture_output=True)
        v = self.ok("CreateVolume", {"id": "imp", "poolId": "disk",
                                     "source": {"imagePath": src}})
        self.assertIn(v["state"], ("creating", "available"))
        v = self.wait_available("imp")
        self.assertEqual(v["state"], "available", v)
        self.assertEqual(v["sizeBytes"], str(64 * MiB))
        r = subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F",
                            "qcow2", src, self.path("imp")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertLess(int(v["allocatedBytes"]), 8 * MiB)     # stays thin

        raw = os.path.join(self.tmp, "src.raw")
        with open(raw, "wb") as f:
            f.truncate(3 * MiB)
            f.seek(MiB)
            f.write(data)
        self.ok("CreateVolume", {"id": "imp-raw", "poolId": "disk",
                                 "sizeBytes": str(4 * MiB),
                                 "source": {"imagePath": raw}})
        v = self.wait_available("imp-raw")
        self.assertEqual(v["sizeBytes"], str(4 * MiB))
        self.assertEqual(self.read("imp-raw", MiB, len(data)), data)
        self.assertEqual(self.read("imp-raw", 3 * MiB, MiB), bytes(MiB))
        self.assertFalse([f for f in self.files() if "tmp" in f])
        # Both are in the image library, named "file" (no host path).
        images = {i["volume"]["id"]: i for i in self.ok(
            "ListImages", {"poolId": "disk"})["images"]}
        self.assertEqual(sorted(images), ["imp", "imp-raw"])
        self.assertEqual(images["imp"]["source"], "file")
        self.assertEqual(images["imp"].get("url", ""), "")
        self.assertNotIn("src.qcow2", json.dumps(images))   # no host path
        self.ok("DeleteVolume", {"id": "imp"})
        self.ok("DeleteVolume", {"id": "imp-raw"})

    def test_symlinks_and_foreign_files_are_never_followed(self):
        secret = os.path.join(self.outside, "secret")
        with open(secret, "wb") as f:
            f.write(b"do not touch")
        # A symlink under a volume's final name: refused, target untouched.
        os.symlink(secret, self.path("evil"))
        with open(os.path.join(self.pool, "lq-evil.meta"), "w") as f:
            json.dump({"volume_id": "evil", "name": "evil"}, f)
        self.refused("GetVolume", {"id": "evil"}, "failed_precondition",
                     "symbolic link")
        self.refused("CreateVolume", {"id": "evil", "poolId": "disk",
                                      "sizeBytes": str(MiB)},
                     "failed_precondition", "symbolic link")
        self.refused("DeleteVolume", {"id": "evil"}, "failed_precondition")
        # A symlink where a temporary file goes is removed, not followed.
        os.unlink(self.path("evil"))
        os.symlink(secret, os.path.join(self.pool, "lq-tmp~evil.qcow2"))
        self.create("evil", MiB)
        with open(secret, "rb") as f:
            self.assertEqual(f.read(), b"do not touch")
        self.assertTrue(stat.S_ISREG(os.lstat(self.path("evil")).st_mode))
        self.ok("DeleteVolume", {"id": "evil"})
        # A hard link to an outside file under a volume name: refused.
        os.link(secret, self.path("hl"))
        self.refused("CreateVolume", {"id": "hl", "poolId": "disk",
                                      "sizeBytes": str(MiB)},
                     "failed_precondition", "hard-linked")
        os.unlink(self.path("hl"))
        # A qcow2 someone else put there, with no metadata: not listed,
        # not deleted.
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2",
                        self.path("foreign"), "1M"], check=True)
        ids = [v["id"] for v in self.ok("ListVolumes", {}).get("volumes", [])]
        self.assertNotIn("foreign", ids)
        self.refused("DeleteVolume", {"id": "foreign"},
                     "failed_precondition", "not a limiquantix volume")
        self.assertTrue(os.path.exists(self.path("foreign")))
        os.unlink(self.path("foreign"))
        # A clone whose backing file was changed to point outside: refused.
        self.create("bk", MiB)
        subprocess.run(["qemu-img", "rebase", "-u", "-f", "qcow2", "-F",
                        "raw", "-b", secret, self.path("bk")], check=True)
        self.refused("GetVolume", {"id": "bk"}, "failed_precondition",
                     "backing file")
        os.unlink(self.path("bk"))
        os.unlink(os.path.join(self.pool, "lq-bk.meta"))
        self.assertEqual(self.files(), [])

    def test_leftovers_of_a_crash_are_invisible_and_cleaned(self):
        # What a create killed between its steps leaves behind.
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2",
                        os.path.join(self.pool, "lq-tmp~crash.qcow2"), "1M"],
                       check=True)
        with open(os.path.join(self.pool, "lq-crash.meta"), "w") as f:
            json.dump({"volume_id": "crash", "name": "x", "spec": "?"}, f)
        self.refused("GetVolume", {"id": "crash"}, "not_found")
        ids = [v["id"] for v in self.ok("ListVolumes", {}).get("volumes", [])]
        self.assertNotIn("crash", ids)
        self.create("crash", 2 * MiB)
        self.assertEqual(self.files(), ["lq-crash.meta", "lq-crash.qcow2"])
        self.ok("DeleteVolume", {"id": "crash"})
        # A delete of the leftovers alone removes them too.
        open(os.path.join(self.pool, "lq-tmp~crash.qcow2"), "w").close()
        self.ok("DeleteVolume", {"id": "crash"})
        self.assertEqual(self.files(), [])

    def test_attached_volume(self):
        self.create("att", 2 * MiB)
        self.ok("CreateSnapshot", {"volumeId": "att", "id": "att-s"})
        # qemu-io holds QEMU's image locks while it runs, like a VM.
        holder = subprocess.Popen(["qemu-io", "-f", "qcow2", self.path("att")],
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 10
            while not self.ok("GetVolume", {"id": "att"}).get("attached"):
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            self.refused("DeleteVolume", {"id": "att"}, "failed_precondition",
                         "attached")
            self.refused("RollbackSnapshot", {"volumeId": "att",
                                              "id": "att-s"},
                         "failed_precondition", "attached")
            self.refused("ResizeVolume", {"id": "att",
                                          "sizeBytes": str(4 * MiB)},
                         "failed_precondition", "attached")
            self.refused("CreateVolume", {"id": "att-c", "poolId": "disk",
                                          "source": {"snapshotId": "att-s"}},
                         "failed_precondition", "needs the volume detached")
        finally:
            holder.stdin.close()
            holder.wait(10)
        self.assertFalse(self.ok("GetVolume", {"id": "att"}).get("attached"))
        self.ok("DeleteVolume", {"id": "att"})

    def test_pools(self):
        pools = {p["id"]: p for p in
                 self.ok("ListPools", {}, service=POOLS)["pools"]}
        self.assertEqual(pools["disk"]["health"], "ok")
        self.assertEqual(pools["disk"]["backend"], "local")
        st = os.statvfs(self.pool)
        self.assertEqual(int(pools["disk"]["capacityBytes"]),
                         st.f_blocks * st.f_frsize)
        self.assertGreater(int(pools["disk"]["availableBytes"]), 0)

    def test_missing_directory(self):
        # A pool whose directory is missing loads, reports itself and
        # refuses calls with unavailable (another daemon: a pool that
        # cannot be asked turns every lookup into unavailable).
        d = StorageDaemon("storage:\n  pools:\n"
                          "    - {id: gone, backend: local, path: %s/missing}\n"
                          % self.tmp).start()
        try:
            st, body = d.call("ListPools", {}, service=POOLS)
            pool = body["pools"][0]
            self.assertEqual(pool["health"], "unavailable")
            self.assertIn("missing: No such file or directory",
                          pool["message"])
            st, body = d.vcall("CreateVolume", {"id": "g1", "poolId": "gone",
                                                "sizeBytes": str(MiB)})
            self.assertEqual(body["code"], "unavailable", body)
        finally:
            self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "missing")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
