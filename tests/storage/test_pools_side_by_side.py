"""local, iscsi and nfs pools declared in one node.yaml and used side by
side through lqctl (lvm-thin needs a guest: test_lvm_api.py).

A private tgtd and nfs-ganesha on 127.0.0.1, started by the test and
stopped by pid (the helpers of test_iscsi_api.py and test_nfs_api.py)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storagetest import MiB, StorageDaemon  # noqa: E402
import lqtest  # noqa: E402
from test_iscsi_api import Tgtd  # noqa: E402
from test_nfs_api import Ganesha  # noqa: E402

LQCTL = os.environ.get("LQ_CTL", "build/lqctl")
IQN = "iqn.2026-11.io.limiquantix.test:side"
SECRET = "Side-By-Side-Secret-1"


class SideBySideTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-pools-")
        for d in ("disk", "back"):
            os.mkdir(os.path.join(cls.tmp, d), 0o700)
        cls.tgtd = Tgtd("127.0.0.1:%d" % lqtest.free_port(),
                        1000 + (os.getpid() + 4321) % 9000)
        cls.ganesha = Ganesha(os.path.join(cls.tmp, "ganesha"),
                              lqtest.free_port())
        cls.daemon = None
        try:
            cls.tgtd_log = open(os.path.join(cls.tmp, "tgtd.log"), "w")
            cls.tgtd.start(cls.tgtd_log)
            cls.ganesha.start()
            cls.daemon = StorageDaemon(
                "storage:\n  pools:\n"
                "    - {id: disk, backend: local, path: %(t)s/disk}\n"
                "    - {id: back, backend: local, path: %(t)s/back}\n"
                "    - {id: san, backend: iscsi, portal: \"%(portal)s\", "
                "target_iqn: %(iqn)s, chap_user: node, chap_secret: %(sec)s,"
                " export: {backing_pool: back, tgtd_control_port: %(ctl)d, "
                "acl: 127.0.0.1}}\n"
                "    - {id: nas, backend: nfs, server: 127.0.0.1, export: /lq,"
                " nfs_version: 4, port: %(nfs)d}\n"
                % {"t": cls.tmp, "portal": cls.tgtd.portal, "iqn": IQN,
                   "sec": SECRET, "ctl": cls.tgtd.ctl,
                   "nfs": cls.ganesha.port}).start()
        except Exception:
            cls.cleanup()
            raise

    @classmethod
    def cleanup(cls):
        cls.ganesha.stop()
        cls.tgtd.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.daemon.stop()
            log = cls.daemon.read_log()
            if rc != 0:
                raise AssertionError("daemon exited %d:\n%s" % (rc, log))
            assert SECRET not in log
        finally:
            cls.cleanup()

    def lqctl(self, *args):
        r = subprocess.run([LQCTL, "--socket", self.daemon.socket]
                           + list(args), capture_output=True, text=True,
                           timeout=120)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        return r

    def test_pools_side_by_side(self):
        r = self.lqctl("pool", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        for pool, backend in (("disk", "local"), ("back", "local"),
                              ("san", "iscsi"), ("nas", "nfs")):
            self.assertRegex(r.stdout, r"\n%s +%s +ok " % (pool, backend))

        for pool in ("disk", "san", "nas"):
            vid = "v-" + pool
            r = self.lqctl("volume", "create", "--pool", pool, "--size", "8M",
                           "--name", "disk on " + pool, "--id", vid)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("State:       available", r.stdout)
            self.assertIn("8.0 MiB", r.stdout)
            r = self.lqctl("volume", "resize", vid, "16M")
            self.assertEqual(r.returncode, 0, r.stderr)
            r = self.lqctl("volume", "resize", vid, "4M")
            self.assertEqual(r.returncode, 1)
            self.assertIn("failed_precondition", r.stderr)
        # The same id in another pool is the same volume: already_exists.
        r = self.lqctl("volume", "create", "--pool", "nas", "--size", "8M",
                       "--id", "v-disk")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already_exists", r.stderr)
        # ...also with the very same spec (issue 13: the pool is part of
        # what "the same create" means), and nothing is made in 'back'.
        back = sorted(os.listdir(os.path.join(self.tmp, "back")))
        r = self.lqctl("volume", "create", "--pool", "disk", "--size", "8M",
                       "--name", "twin", "--id", "v-twin")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.lqctl("volume", "create", "--pool", "back", "--size", "8M",
                       "--name", "twin", "--id", "v-twin")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("already_exists", r.stderr)
        self.assertIn("already exists in pool disk, not in pool back",
                      r.stderr)
        self.assertEqual(sorted(os.listdir(os.path.join(self.tmp, "back"))),
                         back)
        r = self.lqctl("volume", "delete", "v-twin")
        self.assertEqual(r.returncode, 0, r.stderr)

        vols = json.loads(self.lqctl("-o", "json", "volume", "list")
                          .stdout)["volumes"]
        self.assertEqual(sorted((v["id"], v["poolId"], v["sizeBytes"])
                                for v in vols),
                         [("v-disk", "disk", str(16 * MiB)),
                          ("v-nas", "nas", str(16 * MiB)),
                          ("v-san", "san", str(16 * MiB))])
        # What each backend made.
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "disk",
                                                    "lq-v-disk.qcow2")))
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "back",
                                                    "lq-lun~v-san.raw")))
        self.assertTrue(os.path.exists(os.path.join(self.ganesha.dir,
                                                    "export",
                                                    "lq-v-nas.raw")))
        self.assertIn("SCSI SN: v-san", self.tgtd.show())

        # Snapshots where the backend has them; a clear refusal where not.
        for pool in ("disk", "nas"):
            r = self.lqctl("volume", "snapshot", "create", "v-" + pool,
                           "s-" + pool)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.lqctl("volume", "snapshot", "create", "v-san", "s-san")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unimplemented", r.stderr)

        for pool in ("disk", "san", "nas"):
            r = self.lqctl("volume", "delete", "v-" + pool)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(self.lqctl("-o", "json", "volume", "list")
                                    .stdout).get("volumes", []), [])
        self.assertNotIn("v-san", self.tgtd.show())


if __name__ == "__main__":
    unittest.main(verbosity=2)
