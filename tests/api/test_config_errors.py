"""A bad node.yaml or flag stops the daemon before it listens, with an
error naming the file, line and key."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from lqtest import NODE  # noqa: E402


def run_node(config_text=None, args=()):
    d = tempfile.mkdtemp(prefix="lq-cfg-")
    argv = [NODE, "--sandbox", d + "/sb", "--listen", "127.0.0.1:0",
            "--metrics-port", "0"]
    path = os.path.join(d, "node.yaml")
    if config_text is not None:
        with open(path, "w") as f:
            f.write(config_text)
        argv += ["-c", path]
    argv += list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    return r, path, d


class ConfigErrorTest(unittest.TestCase):
    def assertRefused(self, text, expected_tail, args=()):
        r, path, d = run_node(text, args)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(expected_tail.replace("FILE", path), r.stderr)
        self.assertFalse(os.path.exists(d + "/sb/node.sock"))

    def test_unknown_key(self):
        self.assertRefused("server:\n  listen_address: 127.0.0.1:0\n"
                           "  metric_port: 9\n",
                           "FILE:3: server.metric_port: unknown key")

    def test_wrong_type(self):
        self.assertRefused("control_plane:\n  heartbeat_interval_secs: soon\n",
                           "FILE:2: control_plane.heartbeat_interval_secs: "
                           "expected an integer in 1..3600, got \"soon\"")

    def test_platform_keys(self):
        """hypervisor.virt_type, machine, cpu_mode, cpu_model."""
        for text, tail in [
            ("hypervisor: {virt_type: xen}\n", "hypervisor.virt_type: "
             "expected auto, kvm or qemu, got \"xen\""),
            ("hypervisor: {machine: \"q35 -bios x\"}\n",
             "hypervisor.machine: expected a machine type"),
            ("hypervisor: {cpu_mode: host}\n", "hypervisor.cpu_mode: "
             "expected host-model, host-passthrough or custom, got "
             "\"host\""),
            ("hypervisor: {cpu_mode: custom}\n", "hypervisor.cpu_model: "
             "required with cpu_mode custom"),
            ("hypervisor: {cpu_model: EPYC}\n", "hypervisor.cpu_model: "
             "only with cpu_mode custom"),
            ("hypervisor: {cpu_mode: custom, cpu_model: \"a'b\"}\n",
             "hypervisor.cpu_model: expected a CPU model"),
            ("hypervisor: {virt_type: qemu, cpu_mode: host-model}\n",
             "hypervisor.cpu_mode: host-model needs KVM"),
        ]:
            with self.subTest(text=text):
                self.assertRefused(text, tail)

    def test_missing_file(self):
        r, _, d = run_node(None, ["-c", "/nonexistent/node.yaml"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/node.yaml: cannot open config file",
                      r.stderr)

    def test_tls_without_files(self):
        self.assertRefused("tls:\n  enabled: true\n",
                           "tls: enabled needs cert_path, key_path and ca_path")

    def test_tls_unreadable_cert(self):
        self.assertRefused("tls: {enabled: true, cert_path: /nope.pem, "
                           "key_path: /nope.key, ca_path: /nope-ca.pem}\n",
                           "tls.cert_path: cannot open \"/nope.pem\"")

    def test_bad_listen_address(self):
        r, _, d = run_node(None, ["--listen", "localhost"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("server.listen_address: expected IP:PORT", r.stderr)

    def test_usage_errors_exit_2(self):
        r, _, _ = run_node(None, ["--no-such-flag"])
        self.assertEqual(r.returncode, 2)
        r, _, _ = run_node(None, ["--log-level", "chatty"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--log-level", r.stderr)

    def test_second_daemon_on_same_socket_refused(self):
        d = tempfile.mkdtemp(prefix="lq-cfg-")
        first = subprocess.Popen([NODE, "--sandbox", d, "--listen", "",
                                  "--metrics-port", "0"],
                                 stderr=subprocess.PIPE, text=True)
        try:
            line = ""
            while "ready" not in line:
                line = first.stderr.readline()
                self.assertTrue(line, "first daemon died")
            r = subprocess.run([NODE, "--sandbox", d, "--listen", "",
                                "--metrics-port", "0"],
                               capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 1)
            self.assertIn("another daemon is listening", r.stderr)
            # ...and the first one's socket is untouched.
            self.assertTrue(os.path.exists(d + "/node.sock"))
        finally:
            first.terminate()
            self.assertEqual(first.wait(timeout=20), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
