"""--sandbox --sandbox-ceph: the embedded mode brings its own Ceph, with a
usable rbd pool, and stops it on exit."""
import glob
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "api"))
from lqtest import Daemon  # noqa: E402


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


class SandboxCephTest(unittest.TestCase):
    def test_sandbox_ceph(self):
        d = Daemon(args=["--sandbox-ceph"]).start()
        try:
            r = d.lqctl("-o", "json", "pool", "list")
            self.assertEqual(r.returncode, 0, r.stderr)
            pool = json.loads(r.stdout)["pools"][0]
            self.assertEqual((pool["id"], pool["backend"], pool["health"]),
                             ("sandbox-ceph", "rbd", "ok"))
            r = d.lqctl("-o", "json", "volume", "create", "--pool",
                        "sandbox-ceph", "--size", "16M", "--name", "v")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["state"], "available")
            pids = []
            for path in glob.glob(os.path.join(d.sandbox, "ceph", "*.pid")):
                with open(path) as f:
                    pids.append(int(f.read().strip()))
            self.assertTrue(pids)
            self.assertTrue(all(alive(p) for p in pids))
        finally:
            self.assertEqual(d.stop(), 0, d.read_log())
        self.assertFalse(any(alive(p) for p in pids))


if __name__ == "__main__":
    unittest.main(verbosity=2)
