"""buf on proto/ with the repository's buf.yaml: `buf build`, `buf lint`,
and `buf breaking` against the seed's contract (tests/proto/seed/, staged
at the control plane's paths) with buf.yaml's breaking rules: buf's own
second opinion on what test_wire_compat.py checks.  Copies with a lint
error and with a renumbered seed field must fail, so the checks have teeth.

buf comes from npm (@bufbuild/buf, pinned in protoenv.BUF_VERSION),
installed into $LQ_NPM_CACHE (/var/cache/limiquantix-node/npm) on first
use.  Without npm (and no such buf there) the test is skipped (exit 77)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protoenv  # noqa: E402

BUF = None


class TestBuf(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.env = dict(os.environ, BUF_CACHE_DIR=os.path.join(cls.tmp.name,
                                                              "cache"))
        cls.seed = os.path.join(cls.tmp.name, "seed")
        protoenv.stage_seed(cls.seed)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def buf(self, *args, root=protoenv.SOURCE_ROOT):
        return subprocess.run([BUF] + list(args), cwd=root, env=self.env,
                              capture_output=True, text=True, timeout=120)

    def assertOk(self, p):
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def copy_tree(self):
        root = tempfile.mkdtemp(dir=self.tmp.name)
        shutil.copy(os.path.join(protoenv.SOURCE_ROOT, "buf.yaml"), root)
        shutil.copytree(protoenv.PROTO_DIR, os.path.join(root, "proto"))
        return root

    def test_build(self):
        self.assertOk(self.buf("build"))

    def test_lint(self):
        self.assertOk(self.buf("lint"))

    def test_breaking_against_seed(self):
        self.assertOk(self.buf("breaking", "--against", self.seed))

    def test_lint_has_teeth(self):
        root = self.copy_tree()
        with open(os.path.join(root, "proto/limiquantix/node/v1/x.proto"),
                  "w") as f:
            f.write('syntax = "proto3";\npackage limiquantix.node.v1;\n'
                    "message bad_name { string BadField = 1; }\n")
        p = self.buf("lint", root=root)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("bad_name", p.stdout + p.stderr)

    def test_breaking_has_teeth(self):
        root = self.copy_tree()
        path = os.path.join(root, "proto/limiquantix/node/v1/compute.proto")
        with open(path) as f:
            text = f.read()
        self.assertIn("uint64 memory_mib = 4;", text)
        with open(path, "w") as f:
            f.write(text.replace("uint64 memory_mib = 4;",
                                 "uint64 memory_mib = 40;"))
        p = self.buf("breaking", "--against", self.seed, root=root)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("memory_mib", p.stdout + p.stderr)


if __name__ == "__main__":
    try:
        BUF = protoenv.buf_path()
    except protoenv.NoNpm as e:
        print("SKIP: %s" % e)
        sys.exit(77)
    unittest.main(verbosity=2)
