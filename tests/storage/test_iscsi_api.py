"""The iscsi backend against a real tgtd started by the test.

The exporting node is the daemon on the host (export.backing_pool: a local
pool); another "node" is a network namespace joined by a veth pair, where
QEMU's libiscsi driver (qemu-io, qemu-img) reads and writes the LUNs and a
second daemon attaches the same target as a consumer.  tgtd listens only on
the host end of the veth and is stopped by pid."""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from storagetest import MiB, POOLS, StorageDaemon, disk_source  # noqa
import hostlock  # noqa: E402
import lqtest  # noqa: E402

IQN = "iqn.2026-11.io.limiquantix.test:san"
USER = "lqnode"
SECRET = "Chap-Secret-4711xyz"
MUTUAL_USER = "lqtarget"
MUTUAL_SECRET = "Mutual-Secret-0815abc"


def run(args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True,
                          timeout=60, **kw)


class Tgtd:
    def __init__(self, portal, ctl):
        self.portal = portal
        self.ctl = ctl
        self.proc = None

    def start(self, log):
        # tgtd's control sockets are host-global (/var/run/tgtd/socket.N):
        # one test process with a tgtd at a time, across meson runs too.
        hostlock.hold("tgtd")
        self.proc = subprocess.Popen(
            ["tgtd", "-f", "-C", str(self.ctl), "--iscsi",
             "portal=%s" % self.portal], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while self.adm("--mode", "system", "--op", "show",
                       check=False).returncode:
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("tgtd did not start")
            time.sleep(0.05)

    def adm(self, *args, check=True):
        return run(["tgtadm", "-C", str(self.ctl), "--lld", "iscsi"]
                   + list(args), check=check)

    def show(self):
        return self.adm("--mode", "target", "--op", "show").stdout

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        for suffix in ("", ".lock"):
            try:
                os.unlink("/var/run/tgtd/socket.%d%s" % (self.ctl, suffix))
            except OSError:
                pass

    def stop(self):
        if self.proc and self.proc.poll() is None:
            out = self.adm("--mode", "target", "--op", "show",
                           check=False).stdout
            for tid in re.findall(r"^Target (\d+):", out, re.M):
                self.adm("--mode", "target", "--op", "delete", "--force",
                         "--tid", tid, check=False)
            self.adm("--mode", "system", "--op", "delete", check=False)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


class IscsiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        n = os.getpid() % 200 + 20
        cls.ns = "lqi%d" % os.getpid()
        cls.vh, cls.vn = "lqih%d" % os.getpid(), "lqin%d" % os.getpid()
        cls.host_ip, cls.ns_ip = "10.213.%d.1" % n, "10.213.%d.2" % n
        cls.tmp = tempfile.mkdtemp(prefix="lq-iscsi-")
        cls.back = os.path.join(cls.tmp, "back")
        os.mkdir(cls.back, 0o700)
        cls.port = lqtest.free_port()
        cls.ctl = 1000 + os.getpid() % 9000     # tgtd refuses large -C values
        cls.portal = "%s:%d" % (cls.host_ip, cls.port)
        cls.tgtd = Tgtd(cls.portal, cls.ctl)
        cls.consumer = None
        try:
            run(["ip", "netns", "add", cls.ns])
            run(["ip", "link", "add", cls.vh, "type", "veth", "peer", "name",
                 cls.vn])
            run(["ip", "link", "set", cls.vn, "netns", cls.ns])
            run(["ip", "addr", "add", cls.host_ip + "/24", "dev", cls.vh])
            run(["ip", "link", "set", cls.vh, "up"])
            cls.ns_run(["ip", "addr", "add", cls.ns_ip + "/24", "dev",
                        cls.vn])
            cls.ns_run(["ip", "link", "set", cls.vn, "up"])
            cls.ns_run(["ip", "link", "set", "lo", "up"])
            cls.tgtd_log = open(os.path.join(cls.tmp, "tgtd.log"), "w")
            cls.tgtd.start(cls.tgtd_log)
            cls.daemon = StorageDaemon(cls.node_yaml(),
                                       image_dirs=[cls.tmp]).start()
        except Exception:
            cls.cleanup()
            raise

    @classmethod
    def node_yaml(cls):
        return ("storage:\n  pools:\n"
                "    - {id: back, backend: local, path: %s}\n"
                "    - id: san\n"
                "      backend: iscsi\n"
                "      portal: \"%s\"\n"
                "      target_iqn: %s\n"
                "      chap_user: %s\n"
                "      chap_secret: %s\n"
                "      mutual_chap_user: %s\n"
                "      mutual_chap_secret: %s\n"
                "      export: {backing_pool: back, tgtd_control_port: %d,"
                " acl: \"%s/24\"}\n"
                % (cls.back, cls.portal, IQN, USER, SECRET, MUTUAL_USER,
                   MUTUAL_SECRET, cls.ctl, cls.host_ip.rsplit(".", 1)[0]
                   + ".0"))

    @classmethod
    def ns_run(cls, args, check=True):
        return run(["ip", "netns", "exec", cls.ns] + args, check=check)

    @classmethod
    def cleanup(cls):
        if cls.consumer:
            cls.consumer.stop()
        cls.tgtd.stop()
        run(["ip", "netns", "del", cls.ns], check=False)
        run(["ip", "link", "del", cls.vh], check=False)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.daemon.stop()
            log = cls.daemon.read_log()
            if rc != 0:
                raise AssertionError("daemon exited %d:\n%s" % (rc, log))
            # No CHAP secret in any log line.
            assert SECRET not in log and MUTUAL_SECRET not in log, log
        finally:
            cls.cleanup()

    # -- helpers ---------------------------------------------------------
    def ok(self, method, request, daemon=None, service=None):
        d = daemon or self.daemon
        if service:
            st, body = d.call(method, request, service=service)
        else:
            st, body = d.vcall(method, request)
        self.assertEqual(st, 200, "%s %s -> %s" % (method, request, body))
        self.assertNotIn(SECRET, json.dumps(body))
        return body

    def refused(self, method, request, code, contains=None, daemon=None):
        st, body = (daemon or self.daemon).vcall(method, request)
        self.assertEqual(body.get("code"), code, "%s %s -> %s"
                         % (method, request, body))
        if contains:
            self.assertIn(contains, body["message"])
        self.assertNotIn(SECRET, body["message"])
        return body

    def create(self, vid, size=8 * MiB, **kw):
        req = {"id": vid, "poolId": "san", "sizeBytes": str(size)}
        req.update(kw)
        return self.ok("CreateVolume", req)

    def url(self, lun, user=USER, secret=SECRET):
        cred = "%s%%%s@" % (user, secret) if user else ""
        return "iscsi://%s%s/%s/%d" % (cred, self.portal, IQN, lun)

    def lun_of(self, vid):
        v = self.ok("GetVolume", {"id": vid})
        iqn, lun = v["backendName"].rsplit("/", 1)
        self.assertEqual(iqn, IQN)
        return int(lun)

    def raw(self, vid):
        return os.path.join(self.back, "lq-lun~%s.raw" % vid)

    def ns_write(self, lun, data, offset):
        src = os.path.join(self.tmp, "chunk")
        with open(src, "wb") as f:
            f.write(data)
        r = self.ns_run(["qemu-io", "-f", "raw", "-c",
                         "write -s %s %d %d" % (src, offset, len(data)),
                         self.url(lun)], check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("wrote %d/%d bytes" % (len(data), len(data)), r.stdout)

    def ns_read(self, lun, offset, length):
        out = os.path.join(self.tmp, "read.raw")
        r = self.ns_run(["qemu-img", "convert", "-f", "raw", "-O", "raw",
                         self.url(lun), out], check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        os.unlink(out)
        return data

    def luns_in_tgtd(self):
        return re.findall(r"SCSI SN: (\S+)", self.tgtd.show())

    # -- tests -------------------------------------------------------------
    def test_create_export_read_write_delete(self):
        v = self.create("v1", 16 * MiB, name="disk one")
        self.assertEqual(v["state"], "available")
        self.assertEqual(v["sizeBytes"], str(16 * MiB))
        self.assertEqual(v["name"], "disk one")
        lun = self.lun_of("v1")
        self.assertGreaterEqual(lun, 1)
        st = os.lstat(self.raw("v1"))
        self.assertEqual(st.st_size, 16 * MiB)
        self.assertEqual(st.st_blocks, 0)                   # sparse
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertFalse([f for f in os.listdir(self.back) if "tmp" in f])
        show = self.tgtd.show()
        self.assertIn("SCSI SN: v1", show)
        self.assertIn("Target 1: " + IQN, show)
        self.assertIn(self.host_ip.rsplit(".", 1)[0] + ".0/24", show)
        self.assertIn(USER, show)
        self.assertIn(MUTUAL_USER + " (outgoing)", show)

        # Written from the other node through libiscsi; the bytes land in
        # the backing file and read back the same over iSCSI.
        data = os.urandom(256 * 1024)
        self.ns_write(lun, data, 3 * MiB)
        with open(self.raw("v1"), "rb") as f:
            f.seek(3 * MiB)
            self.assertEqual(f.read(len(data)), data)
        self.assertEqual(self.ns_read(lun, 3 * MiB, len(data)), data)
        r = self.ns_run(["iscsi-inq", "-e", "1", "-c", "128",
                         self.url(lun)])
        self.assertIn("v1", r.stdout)

        # What libvirt is given: a network disk and a secret to look up,
        # never the secret itself.
        ds = disk_source(self.daemon, "v1")
        self.assertEqual(ds, {
            "type": "network", "protocol": "iscsi",
            "name": "%s/%d" % (IQN, lun), "format": "raw",
            "hosts": [{"name": self.host_ip, "port": str(self.port),
                       "transport": "tcp"}],
            "authUsername": USER, "secretType": "iscsi",
            "secretUsage": "lq-iscsi-san"})

        # Idempotent by id.
        again = self.create("v1", 16 * MiB, name="disk one")
        self.assertEqual(again["createdAt"], v["createdAt"])
        self.refused("CreateVolume", {"id": "v1", "poolId": "san",
                                      "sizeBytes": str(32 * MiB)},
                     "already_exists")

        # Delete removes the LUN (the export) and the file.
        self.ok("DeleteVolume", {"id": "v1"})
        self.assertNotIn("v1", self.luns_in_tgtd())
        self.assertFalse(os.path.exists(self.raw("v1")))
        r = self.ns_run(["qemu-io", "-f", "raw", "-c", "read 0 512",
                         self.url(lun)], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.ok("DeleteVolume", {"id": "v1"})
        self.refused("GetVolume", {"id": "v1"}, "not_found")

    def test_chap_refused_with_a_wrong_secret(self):
        self.create("v2", 4 * MiB)
        lun = self.lun_of("v2")
        for url in (self.url(lun, secret="Wrong-Secret-123"),
                    self.url(lun, user="intruder"), self.url(lun, user=None)):
            r = self.ns_run(["iscsi-inq", url], check=False)
            self.assertNotEqual(r.returncode, 0, url)
            self.assertIn("Login Failed", r.stdout + r.stderr)
        r = self.ns_run(["iscsi-inq", self.url(lun)], check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.ok("DeleteVolume", {"id": "v2"})

    def test_consumer_node_discovers_luns(self):
        self.create("v3", 8 * MiB, name="shared")
        lun = self.lun_of("v3")

        def consumer_yaml(secret):
            return ("storage:\n  pools:\n"
                    "    - {id: remote, backend: iscsi, portal: \"%s\", "
                    "target_iqn: %s, chap_user: %s, chap_secret: %s}\n"
                    % (self.portal, IQN, USER, secret))

        def in_ns(d):
            d.args = ["ip", "netns", "exec", self.ns] + d.args
            return d

        c = in_ns(StorageDaemon(consumer_yaml(SECRET)))
        type(self).consumer = c.start()
        vols = self.ok("ListVolumes", {}, daemon=c)["volumes"]
        self.assertEqual([(v["id"], v["sizeBytes"], v["backendName"])
                          for v in vols], [("v3", str(8 * MiB),
                                            "%s/%d" % (IQN, lun))])
        v = self.ok("GetVolume", {"id": "v3"}, daemon=c)
        self.assertEqual(v["sizeBytes"], str(8 * MiB))
        pool = self.ok("ListPools", {}, daemon=c,
                       service=POOLS)["pools"][0]
        self.assertEqual(pool["health"], "ok", pool)
        self.refused("CreateVolume", {"id": "v9", "poolId": "remote",
                                      "sizeBytes": str(MiB)},
                     "failed_precondition", "exports it", daemon=c)
        self.refused("DeleteVolume", {"id": "v3"}, "failed_precondition",
                     daemon=c)
        self.ok("DeleteVolume", {"id": "v3"})
        self.assertEqual(self.ok("ListVolumes", {}, daemon=c)
                         .get("volumes", []), [])
        self.assertEqual(c.stop(), 0)
        type(self).consumer = None
        self.assertNotIn(SECRET, c.read_log())

        # A consumer with the wrong secret: the pool is unavailable, the
        # reason is the login, and the secret appears nowhere.
        bad = in_ns(StorageDaemon(consumer_yaml("Wrong-Secret-123")))
        type(self).consumer = bad.start()
        pool = self.ok("ListPools", {}, daemon=bad,
                       service=POOLS)["pools"][0]
        self.assertEqual(pool["health"], "unavailable")
        self.assertIn("Authentication failure", pool["message"])
        self.assertNotIn("Wrong-Secret", pool["message"])
        self.assertEqual(bad.stop(), 0)
        type(self).consumer = None
        self.assertNotIn("Wrong-Secret", bad.read_log())

    def test_resize_and_import(self):
        self.create("v4", 4 * MiB)
        self.refused("ResizeVolume", {"id": "v4", "sizeBytes": str(2 * MiB)},
                     "failed_precondition", "allowShrink")
        v = self.ok("ResizeVolume", {"id": "v4", "sizeBytes": str(12 * MiB)})
        self.assertEqual(v["sizeBytes"], str(12 * MiB))
        lun = self.lun_of("v4")
        r = self.ns_run(["iscsi-readcapacity16", self.url(lun)])
        self.assertIn("Totalsize:%d" % (12 * MiB), r.stdout.replace(" ", ""))
        self.ok("DeleteVolume", {"id": "v4"})

        src = os.path.join(self.tmp, "src.qcow2")
        run(["qemu-img", "create", "-q", "-f", "qcow2", src, str(8 * MiB)])
        data = os.urandom(MiB)
        chunk = os.path.join(self.tmp, "src-chunk")
        with open(chunk, "wb") as f:
            f.write(data)
        run(["qemu-io", "-f", "qcow2", "-c",
             "write -s %s %d %d" % (chunk, 5 * MiB, len(data)), src])
        self.ok("CreateVolume", {"id": "v5", "poolId": "san",
                                 "source": {"imagePath": src}})
        deadline = time.time() + 60
        while True:
            v = self.ok("GetVolume", {"id": "v5"})
            if v["state"] != "creating" or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(v["state"], "available", v)
        self.assertLess(os.lstat(self.raw("v5")).st_blocks * 512, 2 * MiB)
        self.assertEqual(self.ns_read(self.lun_of("v5"), 5 * MiB, MiB), data)
        self.ok("DeleteVolume", {"id": "v5"})

    def test_tgtd_restart_is_reconciled_from_the_files(self):
        self.create("v6", 4 * MiB)
        data = os.urandom(64 * 1024)
        lun = self.lun_of("v6")
        self.ns_write(lun, data, 0)
        # tgtd keeps its configuration in memory only.
        self.tgtd.kill()
        self.tgtd.start(self.tgtd_log)
        self.assertEqual(self.luns_in_tgtd(), [])
        v = self.ok("GetVolume", {"id": "v6"})
        self.assertEqual(v["errorMessage"], "")
        self.assertIn("v6", self.luns_in_tgtd())
        self.assertEqual(self.lun_of("v6"), lun)
        self.assertEqual(self.ns_read(lun, 0, len(data)), data)
        self.ok("DeleteVolume", {"id": "v6"})

    def test_refusals(self):
        self.refused("CreateVolume", {"id": "x" * 37, "poolId": "san",
                                      "sizeBytes": str(MiB)},
                     "invalid_argument", "id: at most 36 characters")
        self.create("v7", MiB)
        self.refused("CreateSnapshot", {"volumeId": "v7", "id": "s1"},
                     "unimplemented", "snapshots")
        pools = {p["id"]: p for p in
                 self.ok("ListPools", {}, service=POOLS)["pools"]}
        self.assertEqual(pools["san"]["health"], "ok", pools["san"])
        self.assertGreater(int(pools["san"]["capacityBytes"]), 0)
        # The backing pool does not list the LUN files as its volumes.
        ids = [v["id"] for v in
               self.ok("ListVolumes", {"poolId": "back"}).get("volumes", [])]
        self.assertEqual(ids, [])
        self.ok("DeleteVolume", {"id": "v7"})
        self.assertEqual(os.listdir(self.back), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
