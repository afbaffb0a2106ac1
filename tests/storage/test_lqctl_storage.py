"""lqctl pool / volume against the real daemon and a real single-node Ceph:
what the CLI prints, its exit codes, and the images it leaves in the
cluster."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storagetest import CephTestCase, MiB  # noqa: E402

LQCTL = os.environ.get("LQ_CTL", "build/lqctl")


class LqctlStorageTest(CephTestCase):
    def lqctl(self, *args):
        return subprocess.run([LQCTL, "--socket", self.daemon.socket]
                              + list(args), capture_output=True, text=True,
                              timeout=120)

    def test_pool_list(self):
        r = self.lqctl("pool", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"POOL +BACKEND +HEALTH")
        self.assertRegex(r.stdout, r"\n\S+ +rbd +ok ")
        r = self.lqctl("-o", "json", "pool", "list")
        self.assertEqual(json.loads(r.stdout)["pools"][0]["backend"], "rbd")

    def test_volume_lifecycle(self):
        pool = json.loads(self.lqctl("-o", "json", "pool", "list")
                          .stdout)["pools"][0]["id"]
        r = self.lqctl("volume", "create", "--pool", pool, "--size", "8M",
                       "--name", "cli-disk", "--id", "cli-vol-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("State:       available", r.stdout)
        self.assertIn("8.0 MiB", r.stdout)
        self.assertIn("lq-cli-vol-1", self.image_names())

        r = self.lqctl("volume", "list", pool)
        self.assertRegex(r.stdout, r"cli-vol-1 +\S+ +cli-disk +available")
        r = self.lqctl("volume", "resize", "cli-vol-1", "16M")
        self.assertEqual(r.returncode, 0, r.stderr)
        with self.image("cli-vol-1") as im:
            self.assertEqual(im.size(), 16 * MiB)
        # Shrinking needs the flag: a server-side refusal is exit 1.
        r = self.lqctl("volume", "resize", "cli-vol-1", "4M")
        self.assertEqual(r.returncode, 1)
        self.assertIn("failed_precondition", r.stderr)

        r = self.lqctl("volume", "snapshot", "create", "cli-vol-1", "s1")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.lqctl("-o", "json", "volume", "snapshot", "list",
                       "cli-vol-1")
        snaps = json.loads(r.stdout)["snapshots"]
        self.assertEqual([s["name"] for s in snaps], ["s1"])

        r = self.lqctl("volume", "delete", "cli-vol-1", "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("lq-cli-vol-1", self.image_names())

    def test_import_with_progress(self):
        pool = json.loads(self.lqctl("-o", "json", "pool", "list")
                          .stdout)["pools"][0]["id"]
        # In the node's image directory: lqctl names a file the node may
        # read (it passes the absolute path of a relative one).
        with tempfile.NamedTemporaryFile(suffix=".raw", delete=False,
                                         dir=self.images) as f:
            f.write(b"limiquantix" * 1000)
            f.truncate(4 * MiB)
            path = f.name
        try:
            rel = os.path.relpath(path)
            r = self.lqctl("volume", "create", "--pool", pool, "--import",
                           rel, "--id", "cli-imp")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("State:       available", r.stdout)
            self.assertEqual(self.read("cli-imp", 0, 11), b"limiquantix")
            # The image library: the import is a base image ("file", no
            # path); an empty volume is not.
            r = self.lqctl("volume", "images", pool)
            self.assertEqual(r.returncode, 0, r.stderr)
            rows = [line.split() for line in r.stdout.splitlines()]
            self.assertEqual(rows[0], ["IMAGE", "POOL", "SOURCE", "CLONES",
                                       "SIZE", "URL"])
            self.assertIn(["cli-imp", pool, "file", "0", "4.0", "MiB"],
                          rows[1:])
            images = json.loads(self.lqctl("-o", "json", "volume", "images")
                                .stdout)["images"]
            self.assertIn("cli-imp", [i["volume"]["id"] for i in images])
        finally:
            os.unlink(path)
            self.lqctl("volume", "delete", "cli-imp", "--force")

    def test_usage_errors(self):
        self.assertEqual(self.lqctl("volume", "create", "--size",
                                    "1G").returncode, 2)
        self.assertEqual(self.lqctl("volume", "create", "--pool", "x",
                                    "--size", "lots").returncode, 2)
        self.assertEqual(self.lqctl("volume", "frob").returncode, 2)
        r = self.lqctl("volume", "get", "no-such-volume")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not_found", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
