"""The nfs backend over NFSv3 (the default), with a guest writing a volume
through QEMU's own NFS driver and the agent reading it back.

NFSv3 needs rpcbind on port 111, so the whole test runs in a private
network namespace and mount namespace (a fresh tmpfs on /run, with the
source and build trees and the test's directory bound back if they are
under /run): it re-executes itself there with --inside, then starts
rpcbind and nfs-ganesha (NFSv3 and v4, VFS FSAL on a temporary
directory), the daemon (nfs_version 3, through the portmapper, libnfs
writes of 32 KiB) and a QEMU/TCG guest (tests/storage/lvmguest.py) whose
/dev/vda is the volume as libvirt would attach it
(nfs://server/export/lq-<id>.raw).  Every daemon is stopped by pid;
deleting the namespace ends anything left."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

MiB = 1 << 20

GANESHA_CONF = """
NFS_CORE_PARAM {{
    Protocols = 3, 4;
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Mount_Path_Pseudo = true;
}}
NFSv4 {{ Graceless = true; RecoveryRoot = {dir}/recovery; }}
EXPORT {{
    Export_Id = 1;
    Path = {dir}/export;
    Pseudo = /lq;
    Access_Type = RW;
    Squash = No_Root_Squash;
    Protocols = 3, 4;
    Transports = TCP;
    SecType = sys;
    FSAL {{ Name = VFS; }}
}}
LOG {{ Default_Log_Level = WARN; }}
"""


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120,
                          **kw)


class Nfs3InsideTest(unittest.TestCase):
    """Runs inside the private namespaces."""

    @classmethod
    def setUpClass(cls):
        import lvmguest
        from storagetest import StorageDaemon
        # Made (and removed) by Nfs3Test outside the namespace; anywhere:
        # the guest is told to see it (lvmguest.run's expose).
        cls.tmp = os.environ["LQ_NFS3_DIR"]
        os.makedirs(os.path.join(cls.tmp, "export"))
        os.makedirs(os.path.join(cls.tmp, "recovery"))
        cls.export = os.path.join(cls.tmp, "export")
        conf = os.path.join(cls.tmp, "ganesha.conf")
        with open(conf, "w") as f:
            f.write(GANESHA_CONF.format(dir=cls.tmp))
        # rpcbind's socket and state (/run/rpcbind*) private to this test;
        # whatever of the host's /run the test needs stays visible.
        lvmguest.tmpfs_keeping("/run", lvmguest.needed_paths(
            extra=[cls.tmp]))
        os.makedirs("/run/rpcbind")
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        # ganesha fails its name lookups without a second address.
        subprocess.run(["ip", "addr", "add", "127.0.0.2/8", "dev", "lo"],
                       check=True)
        cls.procs = []
        cls.log = open(os.path.join(cls.tmp, "services.log"), "w")
        cls.procs.append(subprocess.Popen(["rpcbind", "-f", "-w"],
                                          stdout=cls.log,
                                          stderr=subprocess.STDOUT))
        time.sleep(0.2)
        cls.procs.append(subprocess.Popen(
            ["ganesha.nfsd", "-F", "-f", conf, "-L",
             os.path.join(cls.tmp, "ganesha.log"), "-p", "/run/ganesha.pid"],
            stdout=cls.log, stderr=subprocess.STDOUT))
        deadline = time.time() + 20
        while run(["nfs-ls", "nfs://127.0.0.1/lq"]).returncode:
            if time.time() > deadline:
                raise RuntimeError("ganesha did not start")
            time.sleep(0.1)
        cls.daemon = StorageDaemon(
            "storage:\n  pools:\n"
            "    - {id: nas, backend: nfs, server: 127.0.0.1, export: /lq}\n",
            image_dirs=[cls.tmp]).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.daemon.stop()
            if rc != 0:
                raise AssertionError("daemon exited %d:\n%s"
                                     % (rc, cls.daemon.read_log()))
        finally:
            for p in reversed(cls.procs):
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            cls.log.close()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def ok(self, method, request):
        st, body = self.daemon.vcall(method, request)
        self.assertEqual(st, 200, "%s %s -> %s" % (method, request, body))
        return body

    def wait_available(self, vid):
        deadline = time.time() + 120
        while True:
            v = self.ok("GetVolume", {"id": vid})
            if v["state"] != "creating" or time.time() > deadline:
                return v
            time.sleep(0.1)

    def read(self, name, offset, length):
        with open(os.path.join(self.export, name), "rb") as f:
            f.seek(offset)
            return f.read(length)

    def test_guest_writes_agent_reads_back(self):
        import lvmguest
        why = lvmguest.missing_prerequisites()
        if why:
            self.skipTest(why)
        self.ok("CreateVolume", {"id": "g1", "poolId": "nas",
                                 "sizeBytes": str(16 * MiB)})
        data = os.urandom(512 * 1024)
        pattern = os.path.join(self.tmp, "pattern")
        with open(pattern, "wb") as f:
            f.write(data)
        # The guest writes its /dev/vda: the volume through QEMU's NFS
        # driver, as libvirt attaches it (protocol nfs, name
        # <export>/lq-<id>.raw).
        gdir = tempfile.mkdtemp(dir=self.tmp)
        rc, out = lvmguest.run(
            ["/bin/dd", "if=" + pattern, "of=/dev/vda", "bs=64k", "seek=48",
             "conv=fsync"], {"PATH": "/usr/bin:/bin"},
            "nfs://127.0.0.1/lq/lq-g1.raw", gdir, timeout=300,
            expose=[self.tmp])
        self.assertEqual(rc, 0, out)

        # The agent reads it back through libnfs (NFSv3): a snapshot is a
        # copy it makes, and so is a clone of that snapshot.
        self.ok("CreateSnapshot", {"volumeId": "g1", "id": "g1s"})
        self.assertEqual(self.read("lq-snap~g1~g1s.raw", 3 * MiB, len(data)),
                         data)
        self.ok("CreateVolume", {"id": "g2", "poolId": "nas",
                                 "source": {"snapshotId": "g1s"}})
        self.assertEqual(self.wait_available("g2")["state"], "available")
        self.assertEqual(self.read("lq-g2.raw", 3 * MiB, len(data)), data)
        # And QEMU reads the clone over NFS too.
        out = os.path.join(self.tmp, "g2.raw")
        r = run(["qemu-img", "convert", "-f", "raw", "-O", "raw",
                 "nfs://127.0.0.1/lq/lq-g2.raw", out])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            f.seek(3 * MiB)
            self.assertEqual(f.read(len(data)), data)

        # An import writes 32 KiB pieces over NFSv3.
        src = os.path.join(self.tmp, "src.raw")
        big = os.urandom(3 * MiB)
        with open(src, "wb") as f:
            f.truncate(8 * MiB)
            f.seek(MiB)
            f.write(big)
        self.ok("CreateVolume", {"id": "g3", "poolId": "nas",
                                 "source": {"imagePath": src}})
        self.assertEqual(self.wait_available("g3")["state"], "available")
        self.assertEqual(self.read("lq-g3.raw", MiB, len(big)), big)
        for vid in ("g1", "g2", "g3"):
            self.ok("DeleteVolume", {"id": vid})
        self.assertEqual(os.listdir(self.export), [])


class Nfs3Test(unittest.TestCase):
    """Runs on the host: the namespaces around Nfs3InsideTest."""

    def test_nfs3_in_namespace(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        # rpcbind is private to the namespaces, but NFSv3 tests take the
        # host's rpcbind lock all the same (docs/testing.md).
        import hostlock
        hostlock.hold("rpcbind")
        ns = "lqnfs3-%d" % os.getpid()
        d = tempfile.mkdtemp(prefix="lq-nfs3-")
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            r = subprocess.run(
                ["ip", "netns", "exec", ns, "unshare", "-m",
                 "--propagation", "private", sys.executable,
                 os.path.abspath(__file__), "--inside"],
                capture_output=True, text=True, timeout=900,
                env=dict(os.environ, LQ_NFS3_DIR=d))
            sys.stderr.write(r.stdout + r.stderr)
            self.assertEqual(r.returncode, 0, "tests in the namespace failed")
        finally:
            subprocess.run(["ip", "netns", "del", ns])
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if "--inside" in sys.argv:
        sys.argv.remove("--inside")
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(
            Nfs3InsideTest)
    else:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(Nfs3Test)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
