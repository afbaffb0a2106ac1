"""A stock Connect client from the npm registry (@connectrpc/connect-node
with @bufbuild/protobuf; tests/proto/connect_client.mjs) against the real
daemon (sandbox mode, libvirt's test driver), over HTTP/2, with both
codecs: unary calls and the server streams StreamMetrics and
StreamEvents; both codecs give the same messages; errors are the
client's ConnectError codes.

Run with /usr/bin/python3; needs node and npm (the packages are pinned in
protoenv.NPM_PACKAGES and installed into the npm cache on first use).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import protoenv  # noqa: E402
from lqtest import Daemon  # noqa: E402

TMP = tempfile.mkdtemp(prefix="lq-connect-node-")
NODE_SVC = "limiquantix.node.v1.NodeDaemonService"
NET_SVC = "limiquantix.network.v1.VirtualNetworkService"
CODECS = ("json", "binary")


def setUpModule():
    global daemon, modules, descriptors
    if not shutil.which("node"):
        raise unittest.SkipTest("node is not installed")
    modules = protoenv.npm_modules()
    descriptors = os.path.join(TMP, "set.pb")
    with open(descriptors, "wb") as f:
        f.write(protoenv.ours_descriptor_set().SerializeToString())
    daemon = Daemon(config='hypervisor: {libvirt_uri: "test:///default"}\n'
                    ).start()


def tearDownModule():
    rc = daemon.stop()
    shutil.rmtree(TMP, ignore_errors=True)
    assert rc == 0, "daemon exited %d:\n%s" % (rc, daemon.read_log())


def connect(service, method, codec, request=None, max_messages=None):
    """The client's output: a list of messages, or {"error": ...}."""
    argv = ["node", os.path.join(HERE, "connect_client.mjs"),
            "http://127.0.0.1:%d" % daemon.port, descriptors, service,
            method, codec, json.dumps(request or {})]
    if max_messages:
        argv.append(str(max_messages))
    env = dict(os.environ, NODE_PATH=modules)
    # ESM imports resolve from the script's directory upwards, not
    # NODE_PATH: run a copy next to the modules.
    script = os.path.join(os.path.dirname(modules), "connect_client.mjs")
    shutil.copy(argv[1], script)
    argv[1] = script
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                       env=env)
    lines = [json.loads(line) for line in p.stdout.splitlines() if line]
    if p.returncode == 3:
        return lines[-1]
    assert p.returncode == 0, p.stderr
    return lines


class ConnectNodeTest(unittest.TestCase):
    def test_unary_both_codecs(self):
        got = {c: connect(NODE_SVC, "HealthCheck", c) for c in CODECS}
        for c in CODECS:
            self.assertEqual(got[c][0]["hypervisor"], "libvirt", got[c])
        self.assertEqual(got["json"][0]["version"], got["binary"][0]["version"])
        net_id = str(uuid.uuid4())
        made = connect(NET_SVC, "CreateNetwork", "binary", {
            "id": net_id, "name": "from-node",
            "subnets": [{"cidr": "10.73.0.0/24"}]})[0]
        self.assertEqual(made["subnets"][0]["gatewayIp"], "10.73.0.1")
        for c in CODECS:
            self.assertEqual(connect(NET_SVC, "GetNetwork", c,
                                     {"id": net_id})[0], made)
        err = connect(NET_SVC, "GetNetwork", "json", {"id": str(uuid.uuid4())})
        self.assertEqual(err["error"]["code"], "NotFound", err)
        err = connect(NET_SVC, "CreateNetwork", "binary", {"id": "not-a-uuid"})
        self.assertEqual(err["error"]["code"], "InvalidArgument", err)
        self.assertTrue(err["error"]["message"].startswith("id: "), err)

    def test_stream_metrics_both_codecs(self):
        for c in CODECS:
            t = time.time()
            samples = connect(NODE_SVC, "StreamMetrics", c,
                              {"intervalSeconds": 1}, max_messages=2)
            self.assertEqual(len(samples), 2, c)
            for m in samples:
                self.assertGreater(int(m["memoryTotalBytes"]), 0)
                self.assertIn("timestamp", m)
            self.assertLess(time.time() - t, 30)
        err = connect(NODE_SVC, "StreamMetrics", "json",
                      {"intervalSeconds": 4000}, max_messages=1)
        self.assertEqual(err["error"]["code"], "InvalidArgument", err)

    def test_stream_events_both_codecs(self):
        vm_id = str(uuid.uuid4())
        results = {}

        def watch(codec):
            results[codec] = connect(NODE_SVC, "StreamEvents", codec,
                                     max_messages=2)
        threads = [threading.Thread(target=watch, args=(c,)) for c in CODECS]
        for th in threads:
            th.start()
        time.sleep(3)                   # both streams open
        for method, body in (("CreateVM", {
                "vmId": vm_id, "name": "node-" + vm_id[:8],
                "spec": {"cpuCores": 1, "memoryMib": 64}}),
                ("StartVM", {"vmId": vm_id}),
                ("ForceStopVM", {"vmId": vm_id})):
            status, r = daemon.call(method, body)
            self.assertEqual(status, 200, r)
        for th in threads:
            th.join(60)
        for c in CODECS:
            # proto3 JSON leaves out the zero value (EVENT_TYPE_UNKNOWN).
            types = [e.get("type", "EVENT_TYPE_UNKNOWN") for e in results[c]
                     if e.get("vmId") == vm_id]
            self.assertEqual(types, ["EVENT_TYPE_UNKNOWN",
                                     "EVENT_TYPE_VM_STARTED"], results[c])
        strip = [{k: v for k, v in e.items() if k != "timestamp"}
                 for e in results["json"]]
        self.assertEqual(strip, [{k: v for k, v in e.items()
                                  if k != "timestamp"}
                                 for e in results["binary"]])
        daemon.call("DeleteVM", {"vmId": vm_id})


if __name__ == "__main__":
    unittest.main(verbosity=2)
