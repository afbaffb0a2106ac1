"""Import of local raw and qcow2 files into RBD volumes, against a real Ceph:
thin result, bytes equal to the source (qemu-img compare), refused formats,
progress, cancel by delete, and kill -9 of the daemon in the middle."""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storagetest import MiB, CephTestCase, StorageDaemon  # noqa: E402


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ImportTest(CephTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = cls.images    # the daemon's image directory

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def big_raw(self, name, size):
        """A raw file of non-zero data (slow enough to import to watch)."""
        p = self.path(name)
        block = os.urandom(MiB)
        with open(p, "wb") as f:
            for i in range(size // MiB):
                f.write(bytes([i % 251 + 1]) + block[1:])
        return p

    def test_sparse_qcow2_stays_thin_and_equal(self):
        src = self.path("sparse.qcow2")
        run("qemu-img", "create", "-q", "-f", "qcow2", src, "64M")
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1M 1M",
            "-c", "write -P 0xcd 40M 64k", "-c", "write -P 0 50M 1M", src)

        v = self.ok("CreateVolume", {"id": "imp-q", "poolId": "ceph",
                                     "name": "from qcow2",
                                     "source": {"imagePath": src}})
        self.assertEqual(v["operation"], "import")
        self.assertIn(v["state"], ("creating", "available"))
        v, _ = self.wait_available("imp-q")
        self.assertEqual(v["state"], "available", v)
        self.assertEqual(v["sizeBytes"], str(64 * MiB))
        self.assertEqual(v["name"], "from qcow2")

        out = self.path("imp-q.raw")
        self.rbd_export("imp-q", out)
        r = subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F", "raw",
                            src, out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        os.unlink(out)
        # Thin: data only in 4 MiB objects 0 and 10 (the zeros written at
        # 50M are data in qcow2 but skipped).
        self.assertEqual(self.object_count("imp-q"), 2)
        self.assertEqual(v["allocatedBytes"], str(8 * MiB))
        self.assertNotIn("lq-tmp~imp-q", self.image_names())
        # The temporary raw conversion was removed.
        self.assertEqual([f for f in os.listdir(os.environ.get(
            "TMPDIR", "/var/tmp")) if f.startswith("lq-import-") and
            os.path.getmtime(os.path.join(os.environ.get("TMPDIR",
                                                         "/var/tmp"), f))
            > time.time() - 60], [])

        # A retry is a no-op; another spec for the id is refused.
        again = self.ok("CreateVolume", {"id": "imp-q", "poolId": "ceph",
                                         "name": "from qcow2",
                                         "source": {"imagePath": src}})
        self.assertEqual(again["state"], "available")
        self.assertEqual(again["createdAt"], v["createdAt"])
        self.refused("CreateVolume", {"id": "imp-q", "poolId": "ceph",
                                      "sizeBytes": str(128 * MiB),
                                      "source": {"imagePath": src}},
                     "already_exists")
        self.ok("DeleteVolume", {"id": "imp-q"})

    def test_raw_with_zero_blocks_and_larger_size(self):
        src = self.path("zeros.raw")
        data1 = os.urandom(100 * 1024)
        data2 = os.urandom(512)
        with open(src, "wb") as f:
            f.write(bytes(32 * MiB))        # real zeros, not holes
            f.seek(8 * MiB)
            f.write(data1)
            f.seek(32 * MiB - 512)
            f.write(data2)
        v = self.ok("CreateVolume", {"id": "imp-r", "poolId": "ceph",
                                     "sizeBytes": str(48 * MiB),
                                     "source": {"imagePath": src}})
        v, _ = self.wait_available("imp-r")
        self.assertEqual(v["sizeBytes"], str(48 * MiB))
        self.assertEqual(self.read("imp-r", 8 * MiB, len(data1)), data1)
        self.assertEqual(self.read("imp-r", 32 * MiB - 512, 512), data2)
        self.assertEqual(self.read("imp-r", 40 * MiB, 4096), bytes(4096))
        self.assertEqual(self.object_count("imp-r"), 2)
        self.refused("CreateVolume", {"id": "imp-r2", "poolId": "ceph",
                                      "sizeBytes": str(16 * MiB),
                                      "source": {"imagePath": src}},
                     "invalid_argument",
                     contains="smaller than the image's virtual size")
        self.ok("DeleteVolume", {"id": "imp-r"})

    def test_refused_images(self):
        base = self.path("base.qcow2")
        overlay = self.path("overlay.qcow2")
        vmdk = self.path("disk.vmdk")
        run("qemu-img", "create", "-q", "-f", "qcow2", base, "4M")
        run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base,
            "-F", "qcow2", overlay)
        run("qemu-img", "create", "-q", "-f", "vmdk", vmdk, "4M")
        before = self.image_names()
        self.refused("CreateVolume", {"id": "bad", "poolId": "ceph",
                                      "source": {"imagePath": overlay}},
                     "invalid_argument", contains="backing file")
        self.refused("CreateVolume", {"id": "bad", "poolId": "ceph",
                                      "source": {"imagePath": vmdk}},
                     "invalid_argument", contains="\"vmdk\" is not supported")
        self.assertEqual(self.image_names(), before)
        self.refused("GetVolume", {"id": "bad"}, "not_found")

    def test_progress_and_cancel_by_delete(self):
        src = self.big_raw("cancel.raw", 256 * MiB)
        self.ok("CreateVolume", {"id": "imp-c", "poolId": "ceph",
                                 "source": {"imagePath": src}})
        time.sleep(0.2)
        self.ok("DeleteVolume", {"id": "imp-c"})
        self.refused("GetVolume", {"id": "imp-c"}, "not_found")
        names = self.image_names()
        self.assertNotIn("lq-imp-c", names)
        self.assertNotIn("lq-tmp~imp-c", names)

    def test_kill_9_mid_import_then_retry(self):
        src = self.big_raw("kill.raw", 384 * MiB)
        req = {"id": "imp-k", "poolId": "ceph", "source": {"imagePath": src}}
        self.ok("CreateVolume", req)
        # Watch it progress.
        deadline = time.time() + 60
        seen = []
        while time.time() < deadline:
            v = self.ok("GetVolume", {"id": "imp-k"})
            seen.append((v["state"], v["progressPercent"]))
            if v["state"] == "creating" and 30 < v["progressPercent"] < 90:
                break
            self.assertEqual(v["state"], "creating", seen)
            time.sleep(0.02)
        else:
            self.fail("no progress: %s" % seen[-5:])
        percents = [p for s, p in seen]
        self.assertEqual(percents, sorted(percents))    # monotonic

        # Crash in the middle: no half-written volume under the final name.
        self.daemon.kill9()
        names = self.image_names()
        self.assertIn("lq-tmp~imp-k", names)    # the half-written copy...
        self.assertNotIn("lq-imp-k", names)     # ...is not the volume
        self.__class__.daemon = self.start_daemon()
        self.refused("GetVolume", {"id": "imp-k"}, "not_found")
        vols = self.ok("ListVolumes", {"poolId": "ceph"})["volumes"]
        self.assertNotIn("imp-k", [v["id"] for v in vols])

        # Retry: unavailable while the dead client's watch lingers on the
        # temporary image (osd_client_watch_timeout), then it goes through.
        deadline = time.time() + 60
        while True:
            st, body = self.daemon.vcall("CreateVolume", req)
            if st == 200:
                break
            self.assertEqual(body["code"], "unavailable", body)
            self.assertIn("temporary image", body["message"])
            self.assertLess(time.time(), deadline)
            time.sleep(0.5)
        v, _ = self.wait_available("imp-k")
        self.assertEqual(v["state"], "available", v)
        self.assertNotIn("lq-tmp~imp-k", self.image_names())
        out = self.path("imp-k.raw")
        self.rbd_export("imp-k", out)
        self.assertEqual(sha256_file(out), sha256_file(src))
        os.unlink(out)
        self.ok("DeleteVolume", {"id": "imp-k"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
