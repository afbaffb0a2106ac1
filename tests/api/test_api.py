"""API tests against a running limiquantix-node (Unix socket and TCP)."""
import json
import os
import socket
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from lqtest import Daemon, SERVICE  # noqa: E402


def meminfo_kib(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, "daemon exited %d:\n%s" % (rc, cls.d.read_log())
        # A clean stop removes the socket.
        assert not os.path.exists(cls.d.socket)

    def test_health(self):
        status, r = self.d.call("HealthCheck")
        self.assertEqual(status, 200)
        # The sandbox has OVS/OVN but no libvirtd (no --sandbox-libvirt):
        # once checked, the node says it is not healthy, and why.
        deadline = time.time() + 20
        while (any("not been checked" in p for p in r["problems"])
               and time.time() < deadline):
            time.sleep(0.1)
            status, r = self.d.call("HealthCheck")
        self.assertIs(r["healthy"], False, r)
        self.assertEqual(len(r["problems"]), 1, r)
        self.assertTrue(r["problems"][0].startswith("libvirt: cannot "
                                                    "connect"), r)
        self.assertEqual(r["hypervisor"], "libvirt")
        self.assertRegex(r["hypervisorVersion"], r"^\d+\.\d+\.\d+$")
        self.assertRegex(r["version"], r"^\d+\.\d+\.\d+")
        # proto3 JSON: uint64 is a decimal string.
        self.assertIsInstance(r["uptimeSeconds"], str)
        self.assertGreaterEqual(int(r["uptimeSeconds"]), 0)

    def test_node_info_matches_host(self):
        status, r = self.d.call("GetNodeInfo")
        self.assertEqual(status, 200)
        self.assertEqual(r["hostname"], socket.gethostname())
        self.assertEqual(int(r["memory"]["totalBytes"]),
                         meminfo_kib("MemTotal") * 1024)
        self.assertEqual(r["cpu"]["totalThreads"], os.cpu_count())
        names = {n["name"] for n in r["network"]}
        self.assertEqual(names, set(os.listdir("/sys/class/net")))
        lo = [n for n in r["network"] if n["name"] == "lo"][0]
        self.assertIn("127.0.0.1", lo["ipAddresses"])
        self.assertTrue(any(fs["mountPoint"] == "/" for fs in r["storage"]))
        self.assertRegex(r["nodeId"], r"^[0-9a-f-]{36}$")

    def test_same_answer_over_tcp(self):
        status, _, data = self.d.post("/%s/HealthCheck" % SERVICE, unix=False)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data)["version"],
                         self.d.call("HealthCheck")[1]["version"])

    def assertConnectError(self, result, http_status, code):
        status, headers, data = result
        self.assertEqual(status, http_status, data)
        self.assertEqual(headers.get("Content-Type"), "application/json")
        err = json.loads(data)
        self.assertEqual(err["code"], code)
        self.assertTrue(err["message"])
        return err

    def test_malformed_json(self):
        for body in ['{"a":', "[1]", "nope", '{"a":1}}']:
            err = self.assertConnectError(
                self.d.post("/%s/HealthCheck" % SERVICE, body), 400,
                "invalid_argument")
            self.assertIn("malformed JSON", err["message"])

    def test_unknown_method(self):
        err = self.assertConnectError(
            self.d.post("/%s/NoSuchMethod" % SERVICE), 404, "unimplemented")
        self.assertIn("NoSuchMethod", err["message"])
        self.assertConnectError(self.d.post("/"), 404, "unimplemented")

    def test_oversized_body_is_refused(self):
        big = b'{"pad":"' + b"x" * (4 * 1024 * 1024 + 16) + b'"}'
        # Declared length over the limit: refused before reading it.
        try:
            result = self.d.post("/%s/HealthCheck" % SERVICE, big)
        except (BrokenPipeError, ConnectionResetError):
            return  # Refused and closed mid-upload: also a refusal.
        self.assertConnectError(result, 429, "resource_exhausted")

    def test_oversized_chunked_body_is_refused(self):
        conn = __import__("lqtest").UnixHTTPConnection(self.d.socket)
        conn.putrequest("POST", "/%s/HealthCheck" % SERVICE)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"x" * 65536
        try:
            for _ in range(70):  # 4.4 MiB
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
            r = conn.getresponse()
            self.assertEqual(r.status, 429)
            self.assertEqual(json.loads(r.read())["code"],
                             "resource_exhausted")
        except (BrokenPipeError, ConnectionResetError):
            pass
        conn.close()

    def test_get_is_not_allowed(self):
        self.assertConnectError(
            self.d.post("/%s/HealthCheck" % SERVICE, b"", method="GET"),
            405, "unimplemented")

    def test_wrong_content_type(self):
        # application/json and application/proto are the Connect unary
        # codecs (tests/proto/test_connect_codecs.py); anything else: 415.
        err = self.assertConnectError(
            self.d.post("/%s/HealthCheck" % SERVICE, b"{}",
                        headers={"Content-Type": "text/xml"}),
            415, "invalid_argument")
        self.assertIn("application/json or application/proto",
                      err["message"])

    def test_connect_protocol_version(self):
        status, _, _ = self.d.post("/%s/HealthCheck" % SERVICE,
                                   headers={"Connect-Protocol-Version": "1"})
        self.assertEqual(status, 200)
        self.assertConnectError(
            self.d.post("/%s/HealthCheck" % SERVICE,
                        headers={"Connect-Protocol-Version": "2"}),
            400, "invalid_argument")

    def test_unix_socket_permissions(self):
        st = os.stat(self.d.socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, os.getuid())
        # Another user cannot connect.
        pid = os.fork()
        if pid == 0:
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(self.d.socket)
                os._exit(1)
            except PermissionError:
                os._exit(0)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)

    def test_metrics(self):
        self.d.call("HealthCheck")
        self.d.post("/%s/HealthCheck" % SERVICE, "{bad")
        import urllib.request
        text = urllib.request.urlopen(
            "http://127.0.0.1:%d/metrics" % self.d.metrics_port).read().decode()
        m = "limiquantix.node.v1.NodeDaemonService/HealthCheck"
        self.assertRegex(text, r'limiquantix_node_rpc_requests_total\{method='
                         r'"%s",code="ok"\} [1-9]' % m)
        self.assertRegex(text, r'limiquantix_node_rpc_requests_total\{method='
                         r'"%s",code="invalid_argument"\} [1-9]' % m)
        self.assertIn('limiquantix_node_rpc_duration_seconds_bucket{method='
                      '"%s",le="+Inf"}' % m, text)
        self.assertRegex(text, r"\nprocess_resident_memory_bytes [1-9]")
        self.assertRegex(text, r"\nprocess_open_fds [1-9]")

    def test_lqctl(self):
        r = self.d.lqctl("health")
        self.assertEqual(r.returncode, 0, r.stderr)
        # No libvirtd in this sandbox: lqctl says so.
        self.assertIn("Healthy:             NO", r.stdout)
        self.assertIn("Problem:             libvirt: cannot connect",
                      r.stdout)
        r = self.d.lqctl("-o", "json", "node", "info")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["hostname"],
                         socket.gethostname())
        r = self.d.lqctl("node", "info")
        self.assertIn("Management IP:", r.stdout)
        self.assertIn("lo ", r.stdout)
        # Server-side error: exit 1 with the code.
        r = self.d.lqctl("call", SERVICE + "/Nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unimplemented", r.stderr)
        # Usage errors: exit 2.
        self.assertEqual(self.d.lqctl("frobnicate").returncode, 2)
        self.assertEqual(self.d.lqctl("-o", "yaml", "health").returncode, 2)

    def test_lqctl_daemon_down(self):
        r = subprocess.run([os.environ.get("LQ_CTL", "build/lqctl"),
                            "--socket", "/nonexistent/x.sock", "health"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unavailable", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
