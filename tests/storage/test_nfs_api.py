"""The nfs backend against a real nfs-ganesha started by the test.

ganesha serves a temporary directory over NFSv4 only (no rpcbind needed)
on 127.0.0.1 with the VFS FSAL, and is stopped by pid.  The daemon reaches
it only through libnfs; the test checks the bytes in the exported
directory itself (what any NFS client would read)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storagetest import MiB, POOLS, StorageDaemon, disk_source  # noqa
import lqtest  # noqa: E402

GANESHA_CONF = """
NFS_CORE_PARAM {{
    Protocols = 4;
    NFS_Port = {port};
    Bind_addr = 127.0.0.1;
    Enable_NLM = false;
    Enable_RQUOTA = false;
}}
NFSv4 {{
    Graceless = true;
    RecoveryRoot = {dir}/recovery;
}}
EXPORT {{
    Export_Id = 1;
    Path = {dir}/export;
    Pseudo = /lq;
    Access_Type = RW;
    Squash = No_Root_Squash;
    Protocols = 4;
    Transports = TCP;
    SecType = sys;
    FSAL {{ Name = VFS; }}
}}
LOG {{ Default_Log_Level = WARN; }}
"""


class Ganesha:
    def __init__(self, directory, port):
        self.dir = directory
        self.port = port
        self.proc = None
        os.makedirs(os.path.join(directory, "export"), exist_ok=True)
        os.makedirs(os.path.join(directory, "recovery"), exist_ok=True)
        self.conf = os.path.join(directory, "ganesha.conf")
        with open(self.conf, "w") as f:
            f.write(GANESHA_CONF.format(port=port, dir=directory))

    def start(self):
        self.log = open(os.path.join(self.dir, "ganesha.out"), "a")
        self.proc = subprocess.Popen(
            ["ganesha.nfsd", "-F", "-f", self.conf, "-L",
             os.path.join(self.dir, "ganesha.log"), "-p",
             os.path.join(self.dir, "ganesha.pid")],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while True:
            r = subprocess.run(["nfs-ls", self.url()], capture_output=True)
            if r.returncode == 0:
                return
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("ganesha did not start")
            time.sleep(0.1)

    def url(self, path=""):
        return "nfs://127.0.0.1/lq%s?version=4&nfsport=%d" % (path,
                                                              self.port)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()


class NfsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-nfs-")
        cls.ganesha = Ganesha(os.path.join(cls.tmp, "ganesha"),
                              lqtest.free_port())
        cls.export = os.path.join(cls.tmp, "ganesha", "export")
        try:
            cls.ganesha.start()
            cls.daemon = StorageDaemon(
                "storage:\n  pools:\n"
                "    - {id: nas, backend: nfs, server: 127.0.0.1, "
                "export: /lq, nfs_version: 4, port: %d}\n"
                % cls.ganesha.port, image_dirs=[cls.tmp]).start()
        except Exception:
            cls.ganesha.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.daemon.stop()
            if rc != 0:
                raise AssertionError("daemon exited %d:\n%s"
                                     % (rc, cls.daemon.read_log()))
        finally:
            cls.ganesha.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        for name in os.listdir(self.export):
            os.unlink(os.path.join(self.export, name))

    # -- helpers ---------------------------------------------------------
    def ok(self, method, request, service=None):
        if service:
            st, body = self.daemon.call(method, request, service=service)
        else:
            st, body = self.daemon.vcall(method, request)
        self.assertEqual(st, 200, "%s %s -> %s" % (method, request, body))
        return body

    def refused(self, method, request, code, contains=None):
        st, body = self.daemon.vcall(method, request)
        self.assertEqual(body.get("code"), code, "%s %s -> %s"
                         % (method, request, body))
        if contains:
            self.assertIn(contains, body["message"])
        return body

    def create(self, vid, size=8 * MiB, **kw):
        req = {"id": vid, "poolId": "nas", "sizeBytes": str(size)}
        req.update(kw)
        return self.ok("CreateVolume", req)

    def path(self, name):
        return os.path.join(self.export, name)

    def files(self):
        return sorted(os.listdir(self.export))

    def write(self, name, data, offset):
        with open(self.path(name), "r+b") as f:
            f.seek(offset)
            f.write(data)

    def read(self, name, offset, length):
        with open(self.path(name), "rb") as f:
            f.seek(offset)
            return f.read(length)

    def wait_available(self, vid, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.ok("GetVolume", {"id": vid})
            if v["state"] != "creating":
                return v
            time.sleep(0.05)
        self.fail("volume %s still creating" % vid)

    # -- tests -------------------------------------------------------------
    def test_create_idempotency_delete(self):
        v = self.create("n1", 16 * MiB, name="nas disk")
        self.assertEqual(v["state"], "available")
        self.assertEqual(v["sizeBytes"], str(16 * MiB))
        self.assertEqual(v["backendName"], "127.0.0.1:/lq/lq-n1.raw")
        self.assertEqual(self.files(), ["lq-n1.meta", "lq-n1.raw"])
        st = os.lstat(self.path("lq-n1.raw"))
        self.assertEqual(st.st_size, 16 * MiB)
        self.assertEqual(st.st_blocks, 0)                    # sparse
        with open(self.path("lq-n1.meta")) as f:
            self.assertEqual(json.load(f)["name"], "nas disk")
        again = self.create("n1", 16 * MiB, name="nas disk")
        self.assertEqual(again["createdAt"], v["createdAt"])
        self.refused("CreateVolume", {"id": "n1", "poolId": "nas",
                                      "sizeBytes": str(MiB)},
                     "already_exists")
        self.assertEqual([x["id"] for x in
                          self.ok("ListVolumes", {"poolId": "nas"})
                          ["volumes"]], ["n1"])
        self.assertEqual(disk_source(self.daemon, "n1"), {
            "type": "network", "protocol": "nfs", "name": "/lq/lq-n1.raw",
            "format": "raw", "hosts": [{"name": "127.0.0.1", "port":
                                        str(self.ganesha.port),
                                        "transport": "tcp"}]})
        self.ok("DeleteVolume", {"id": "n1"})
        self.assertEqual(self.files(), [])
        self.ok("DeleteVolume", {"id": "n1"})
        self.refused("GetVolume", {"id": "n1"}, "not_found")

    def test_snapshot_rollback_clone_bytes(self):
        a, b = os.urandom(300 * 1024), os.urandom(300 * 1024)
        self.create("n2", 8 * MiB)
        self.write("lq-n2.raw", a, 2 * MiB)
        s = self.ok("CreateSnapshot", {"volumeId": "n2", "id": "ns1",
                                       "name": "before"})
        self.assertEqual(s["sizeBytes"], str(8 * MiB))
        snap = "lq-snap~n2~ns1.raw"
        # The agent copied it over NFS, sparse where the volume is zero.
        self.assertEqual(self.read(snap, 2 * MiB, len(a)), a)
        self.assertLess(os.lstat(self.path(snap)).st_blocks * 512, 2 * MiB)
        self.ok("CreateSnapshot", {"volumeId": "n2", "id": "ns1",
                                   "name": "before"})
        self.refused("CreateSnapshot", {"volumeId": "n2", "id": "ns1",
                                        "name": "other"}, "already_exists")
        self.write("lq-n2.raw", b, 2 * MiB)
        self.ok("RollbackSnapshot", {"volumeId": "n2", "id": "ns1"})
        self.assertEqual(self.read("lq-n2.raw", 2 * MiB, len(a)), a)

        c = self.ok("CreateVolume", {"id": "n2c", "poolId": "nas",
                                     "sizeBytes": str(12 * MiB),
                                     "source": {"snapshotId": "ns1"}})
        self.assertIn(c["state"], ("creating", "available"))
        c = self.wait_available("n2c")
        self.assertEqual(c["state"], "available", c)
        self.assertEqual(c["sizeBytes"], str(12 * MiB))
        self.assertNotIn("parent", c)               # a full copy
        self.assertEqual(self.read("lq-n2c.raw", 2 * MiB, len(a)), a)
        self.ok("DeleteSnapshot", {"volumeId": "n2", "id": "ns1"})
        self.assertNotIn(snap, self.files())
        self.assertEqual(self.ok("ListSnapshots", {"volumeId": "n2"})
                         .get("snapshots", []), [])
        # The clone stands alone.
        self.assertEqual(self.read("lq-n2c.raw", 2 * MiB, len(a)), a)
        self.ok("CreateSnapshot", {"volumeId": "n2", "id": "ns2"})
        self.ok("DeleteVolume", {"id": "n2"})               # snapshots too
        self.ok("DeleteVolume", {"id": "n2c"})
        self.assertEqual(self.files(), [])

    def test_resize_and_import(self):
        self.create("n3", 4 * MiB)
        self.refused("ResizeVolume", {"id": "n3", "sizeBytes": str(MiB)},
                     "failed_precondition", "allowShrink")
        v = self.ok("ResizeVolume", {"id": "n3", "sizeBytes": str(8 * MiB)})
        self.assertEqual(v["sizeBytes"], str(8 * MiB))
        self.assertEqual(os.lstat(self.path("lq-n3.raw")).st_size, 8 * MiB)
        self.ok("ResizeVolume", {"id": "n3", "sizeBytes": str(MiB),
                                 "allowShrink": True})
        self.assertEqual(os.lstat(self.path("lq-n3.raw")).st_size, MiB)
        self.ok("DeleteVolume", {"id": "n3"})

        src = os.path.join(self.tmp, "src.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", src,
                        str(32 * MiB)], check=True)
        data = os.urandom(MiB)
        chunk = os.path.join(self.tmp, "chunk")
        with open(chunk, "wb") as f:
            f.write(data)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c",
                        "write -s %s %d %d" % (chunk, 20 * MiB, MiB), src],
                       check=True, capture_output=True)
        self.ok("CreateVolume", {"id": "n4", "poolId": "nas",
                                 "source": {"imagePath": src}})
        v = self.wait_available("n4")
        self.assertEqual(v["state"], "available", v)
        self.assertEqual(self.read("lq-n4.raw", 20 * MiB, MiB), data)
        self.assertLess(os.lstat(self.path("lq-n4.raw")).st_blocks * 512,
                        4 * MiB)
        r = subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F",
                            "raw", src, self.path("lq-n4.raw")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.ok("DeleteVolume", {"id": "n4"})

    def test_foreign_files_and_leftovers(self):
        os.symlink("/etc/passwd", self.path("lq-evil.raw"))
        with open(self.path("lq-evil.meta"), "w") as f:
            json.dump({"volume_id": "evil"}, f)
        self.refused("GetVolume", {"id": "evil"}, "failed_precondition",
                     "symbolic link")
        self.refused("CreateVolume", {"id": "evil", "poolId": "nas",
                                      "sizeBytes": str(MiB)},
                     "failed_precondition", "symbolic link")
        os.unlink(self.path("lq-evil.raw"))
        with open(self.path("lq-foreign.raw"), "wb") as f:
            f.truncate(MiB)
        self.assertEqual(self.ok("ListVolumes", {}).get("volumes", []), [])
        self.refused("DeleteVolume", {"id": "foreign"},
                     "failed_precondition", "not a limiquantix volume")
        os.unlink(self.path("lq-foreign.raw"))
        # What a crashed create leaves: invisible, cleaned by the retry.
        open(self.path("lq-tmp~crash.raw"), "w").close()
        self.refused("GetVolume", {"id": "crash"}, "not_found")
        self.create("crash", MiB)
        self.assertEqual(self.files(),
                         ["lq-crash.meta", "lq-crash.raw", "lq-evil.meta"])
        self.ok("DeleteVolume", {"id": "crash"})
        self.ok("DeleteVolume", {"id": "evil"})     # the orphan metadata
        self.assertEqual(self.files(), [])

    def test_pool_status_and_server_down(self):
        pool = self.ok("ListPools", {}, service=POOLS)["pools"][0]
        self.assertEqual(pool["health"], "ok", pool)
        st = os.statvfs(self.export)
        self.assertEqual(int(pool["capacityBytes"]),
                         st.f_blocks * st.f_frsize)
        self.create("n5", MiB)
        self.ganesha.stop()
        try:
            t = time.time()
            pool = self.ok("ListPools", {}, service=POOLS)["pools"][0]
            self.assertEqual(pool["health"], "unavailable")
            self.assertIn("mount", pool["message"])
            self.refused("GetVolume", {"id": "n5"}, "unavailable")
            self.assertLess(time.time() - t, 30)
        finally:
            self.ganesha.start()
        self.assertEqual(self.ok("GetVolume", {"id": "n5"})["sizeBytes"],
                         str(MiB))
        self.ok("DeleteVolume", {"id": "n5"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
