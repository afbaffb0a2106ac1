"""Registration and heartbeats against a small fake control plane that
records every call it receives and can be told to fail."""
import http.server
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from lqtest import Daemon, free_port  # noqa: E402

NODE_SERVICE = "/limiquantix.compute.v1.NodeService/"


class FakeControlPlane:
    def __init__(self):
        self.calls = []             # (method, body)
        self.fail_heartbeats = 0    # answer this many heartbeats with 503
        self.interval = 1
        self.lock = threading.Lock()
        self.n_registered = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(
                    int(self.headers["Content-Length"])))
                method = self.path[len(NODE_SERVICE):]
                status, reply = fake.answer(method, body, self.headers)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1",
                                                       self.port), Handler)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def answer(self, method, body, headers):
        with self.lock:
            self.calls.append((method, body, dict(headers)))
            if method == "RegisterNode":
                self.n_registered += 1
                return 200, {"id": "node-%d" % self.n_registered,
                             "hostname": body.get("hostname")}
            if method == "UpdateHeartbeat":
                if self.fail_heartbeats > 0:
                    self.fail_heartbeats -= 1
                    return 503, {"code": "unavailable",
                                 "message": "maintenance"}
                return 200, {"acknowledged": True,
                             "heartbeatIntervalSecs": self.interval}
            return 404, {"code": "unimplemented", "message": method}

    def wait_for(self, predicate, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if predicate(list(self.calls)):
                    return list(self.calls)
            time.sleep(0.05)
        raise AssertionError("timed out; calls: %s"
                             % [c[0] for c in self.calls])

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def methods(calls):
    return [c[0] for c in calls]


class RegistrationTest(unittest.TestCase):
    def setUp(self):
        self.cp = FakeControlPlane()

    def tearDown(self):
        self.cp.stop()

    def test_register_heartbeat_and_reregister(self):
        d = Daemon(config="node:\n  labels: {rack: r7}\n"
                          "control_plane:\n  heartbeat_interval_secs: 1\n",
                   args=["--control-plane", "http://127.0.0.1:%d"
                         % self.cp.port]).start()
        try:
            calls = self.cp.wait_for(
                lambda c: methods(c).count("UpdateHeartbeat") >= 2)
            self.assertEqual(calls[0][0], "RegisterNode")
            reg = calls[0][1]
            self.assertEqual(reg["hostname"], os.uname().nodename)
            self.assertEqual(reg["labels"], {"rack": "r7"})
            self.assertRegex(reg["managementIp"], r":%d$" % d.port)
            self.assertGreater(int(reg["memoryInfo"]["totalBytes"]), 0)
            self.assertGreater(reg["cpuInfo"]["totalThreads"], 0)
            # The seed agent's names: memory in MiB, the CPU's flags.
            mem = reg["memoryInfo"]
            self.assertEqual(int(mem["totalMib"]),
                             int(mem["totalBytes"]) >> 20)
            self.assertEqual(int(mem["allocatableMib"]),
                             int(mem["allocatableBytes"]) >> 20)
            with open("/proc/cpuinfo") as f:
                flags = next(l for l in f if l.startswith("flags"))
            self.assertEqual(set(reg["cpuInfo"]["features"]),
                             set(flags.split(":", 1)[1].split()))
            self.assertEqual(calls[0][2].get("Content-Type"),
                             "application/json")

            hb = [c[1] for c in calls if c[0] == "UpdateHeartbeat"]
            for h in hb:
                self.assertEqual(h["nodeId"], "node-1")
                self.assertGreater(int(h["memoryTotalMib"]), 0)
                self.assertIn("load1m", h)
                self.assertIn("cpuUsagePercent", h)

            # Three failed heartbeats make the node register again.
            with self.cp.lock:
                self.cp.fail_heartbeats = 3
            calls = self.cp.wait_for(
                lambda c: methods(c).count("RegisterNode") >= 2
                and c[-1][0] == "UpdateHeartbeat"
                and c[-1][1]["nodeId"] == "node-2", timeout=40)
            after_first = methods(calls)[methods(calls).index(
                "UpdateHeartbeat"):]
            i = after_first.index("RegisterNode")
            # Exactly the failed heartbeats came before re-registering.
            failed_run = after_first[:i][-3:]
            self.assertEqual(failed_run, ["UpdateHeartbeat"] * 3)
        finally:
            self.assertEqual(d.stop(), 0, d.read_log())

        import urllib.request  # noqa: F401 (metrics checked while up below)

    def test_backoff_while_unreachable_then_registers(self):
        dead_port = free_port()
        d = Daemon(args=["--control-plane",
                         "http://127.0.0.1:%d" % dead_port]).start()
        try:
            time.sleep(3.5)  # Attempts at ~0, 1, 3 s: backoff 1 s, 2 s, ...
            text = __import__("urllib.request").request.urlopen(
                "http://127.0.0.1:%d/metrics" % d.metrics_port).read()
            self.assertIn(b"limiquantix_node_control_plane_registered 0",
                          text)
            log = d.read_log()
            self.assertIn("registration failed (retry in 1 s)", log)
            # The retries are spaced: at most 3 attempts in 3.5 s.
            self.assertLessEqual(log.count("registration failed"), 3)
        finally:
            self.assertEqual(d.stop(), 0, d.read_log())

    def test_no_control_plane_no_registration(self):
        d = Daemon().start()
        try:
            time.sleep(0.5)
            self.assertEqual(self.cp.calls, [])
        finally:
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
