"""proto/ compiles as a whole, with the system protoc (Debian's 3.21, as
in `protoc -I proto --descriptor_set_out=/dev/null $(find proto -name
'*.proto')`) and with grpc_tools' bundled one; every file also compiles
alone (it imports what it uses).  A tree with a second
`service NodeDaemonService` (the contract's old state) is refused, so the
check has teeth."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protoenv  # noqa: E402

PROTOC = os.environ.get("LQ_PROTOC") or shutil.which("protoc")


def system_protoc(include_dir, files):
    return subprocess.run([PROTOC, "-I", include_dir,
                           "--descriptor_set_out=/dev/null"] + files,
                          capture_output=True, text=True, timeout=120)


class TestProtoc(unittest.TestCase):
    def setUp(self):
        self.files = protoenv.proto_files()
        self.assertIn("limiquantix/node/v1/node_daemon.proto", self.files)

    def test_system_protoc_whole_tree(self):
        if not PROTOC:
            self.skipTest("no protoc (apt-get install protobuf-compiler)")
        p = system_protoc(protoenv.PROTO_DIR, self.files)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")

    def test_grpc_tools_whole_tree(self):
        fds = protoenv.descriptor_set(protoenv.PROTO_DIR, self.files)
        self.assertTrue(set(self.files) <= {f.name for f in fds.file})

    def test_each_file_alone(self):
        for f in self.files:
            with self.subTest(file=f):
                protoenv.descriptor_set(protoenv.PROTO_DIR, [f])

    def test_duplicate_service_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            tree = os.path.join(tmp, "proto")
            shutil.copytree(protoenv.PROTO_DIR, tree)
            with open(os.path.join(tree, "limiquantix/node/v1/extra.proto"),
                      "w") as f:
                f.write('syntax = "proto3";\npackage limiquantix.node.v1;\n'
                        "service NodeDaemonService {}\n")
            files = protoenv.proto_files(tree)
            with self.assertRaises(protoenv.ProtocError) as e:
                protoenv.descriptor_set(tree, files)
            self.assertIn("already defined", str(e.exception))
            if PROTOC:
                p = system_protoc(tree, files)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("NodeDaemonService", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
