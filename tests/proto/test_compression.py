"""gzip compression against the real daemon (sandbox mode), with real
clients: grpcio compressing its requests (grpc.Compression.Gzip), nghttp
(nghttp2-client) for the raw gRPC frames of a compressed answer, curl
--compressed for Connect over HTTP/1.1 and HTTP/2, curl sending a gzip
body.  A compressed answer decodes to what the uncompressed one is; an
encoding we do not speak is UNIMPLEMENTED; a small gzip body that
inflates past server.max_request_bytes is RESOURCE_EXHAUSTED.

Run with /usr/bin/python3 (Debian's python3-grpcio / python3-grpc-tools).
"""
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import protoenv  # noqa: E402
from lqtest import Daemon  # noqa: E402

import grpc  # noqa: E402

TMP = tempfile.mkdtemp(prefix="lq-gzip-")
NETS = "limiquantix.network.v1.VirtualNetworkService"
N_NETWORKS = 12         # ListNetworks answers several KiB


def setUpModule():
    global net_pb, net_rpc, daemon, channel, nets
    protoenv.generate_python(protoenv.PROTO_DIR, protoenv.proto_files(),
                             os.path.join(TMP, "ours_py"))
    net_pb, net_rpc = protoenv.import_from(
        os.path.join(TMP, "ours_py"), "limiquantix.network.v1.network_pb2",
        "limiquantix.network.v1.network_pb2_grpc")
    daemon = Daemon().start()
    channel = grpc.insecure_channel("127.0.0.1:%d" % daemon.port)
    nets = net_rpc.VirtualNetworkServiceStub(channel)
    for i in range(N_NETWORKS):
        # Compressed requests: grpcio gzips each message and says so.
        nets.CreateNetwork(net_pb.Network(
            id=str(uuid.uuid4()), name="gzip-%02d-%s" % (i, "x" * 40),
            subnets=[net_pb.Subnet(cidr="10.%d.0.0/24" % (90 + i))]),
            timeout=30, compression=grpc.Compression.Gzip)


def tearDownModule():
    channel.close()
    rc = daemon.stop()
    shutil.rmtree(TMP, ignore_errors=True)
    assert rc == 0, "daemon exited %d:\n%s" % (rc, daemon.read_log())


def url(path):
    return "http://127.0.0.1:%d/%s" % (daemon.port, path)


def grpc_frame(msg):
    data = msg.SerializeToString()
    return struct.pack(">BI", 0, len(data)) + data


def nghttp(path, body, *headers, verbose=False):
    """nghttp POSTing 'body' as gRPC; (stdout bytes)."""
    req = os.path.join(TMP, "req.bin")
    with open(req, "wb") as f:
        f.write(body)
    cmd = ["nghttp", "-d", req, "-H", ":method: POST",
           "-H", "content-type: application/grpc", "-H", "te: trailers"]
    for h in headers:
        cmd += ["-H", h]
    if verbose:
        cmd.append("-v")
    r = subprocess.run(cmd + [url(path)], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


class CompressionTest(unittest.TestCase):
    def listed(self):
        r = nets.ListNetworks(net_pb.ListNetworksRequest(), timeout=30)
        return sorted(n.name for n in r.networks if n.name.startswith("gzip"))

    def test_grpc_requests_and_answers(self):
        plain = nets.ListNetworks(net_pb.ListNetworksRequest(), timeout=30)
        self.assertEqual(len(self.listed()), N_NETWORKS)
        self.assertGreater(plain.ByteSize(), 1536)
        # The raw answer to a client that accepts gzip: flag 1, gzip bytes.
        path = NETS + "/ListNetworks"
        req = grpc_frame(net_pb.ListNetworksRequest())
        log = nghttp(path, req, "grpc-accept-encoding: gzip",
                     verbose=True).decode(errors="replace")
        self.assertIn("grpc-encoding: gzip", log)
        self.assertIn("grpc-status: 0", log)
        raw = nghttp(path, req, "grpc-accept-encoding: gzip")
        self.assertEqual(raw[0], 1)
        (length,) = struct.unpack(">I", raw[1:5])
        self.assertEqual(length, len(raw) - 5)
        self.assertLess(length, plain.ByteSize())
        got = net_pb.ListNetworksResponse.FromString(gzip.decompress(raw[5:]))
        self.assertEqual(sorted(n.id for n in got.networks),
                         sorted(n.id for n in plain.networks))
        # Without grpc-accept-encoding: identity.
        raw = nghttp(path, req)
        self.assertEqual(raw[0], 0)
        # A compressed request by hand: the same answer.
        z = gzip.compress(net_pb.ListNetworksRequest().SerializeToString())
        raw = nghttp(path, struct.pack(">BI", 1, len(z)) + z,
                     "grpc-encoding: gzip")
        self.assertEqual(raw[0], 0)

    def test_grpc_refusals(self):
        path = NETS + "/ListNetworks"
        z = gzip.compress(b"")
        log = nghttp(path, struct.pack(">BI", 1, len(z)) + z,
                     "grpc-encoding: br", verbose=True).decode()
        self.assertIn("grpc-status: 12", log)     # UNIMPLEMENTED
        self.assertIn("grpc-accept-encoding: gzip, identity", log)
        # Marked compressed, no encoding named.
        log = nghttp(path, struct.pack(">BI", 1, len(z)) + z,
                     verbose=True).decode()
        self.assertIn("grpc-status: 3", log)      # INVALID_ARGUMENT
        # Not gzip at all.
        log = nghttp(path, struct.pack(">BI", 1, 4) + b"oops",
                     "grpc-encoding: gzip", verbose=True).decode()
        self.assertIn("grpc-status: 3", log)
        self.assertIn("not valid gzip", log)
        # 64 MiB of zeros in a ~64 KiB message: past max_request_bytes.
        bomb = gzip.compress(b"\0" * (64 << 20))
        log = nghttp(path, struct.pack(">BI", 1, len(bomb)) + bomb,
                     "grpc-encoding: gzip", verbose=True).decode()
        self.assertIn("grpc-status: 8", log)      # RESOURCE_EXHAUSTED
        self.assertIn("once decompressed", log)

    def curl(self, *args, body=b"{}"):
        req = os.path.join(TMP, "body")
        with open(req, "wb") as f:
            f.write(body)
        hdr = os.path.join(TMP, "headers")
        r = subprocess.run(
            ["curl", "-sS", "-D", hdr, "-H", "Content-Type: application/json",
             "--data-binary", "@" + req, *args, url(NETS + "/ListNetworks")],
            capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(hdr) as f:
            headers = f.read().lower()
        return headers, r.stdout

    def test_connect_json(self):
        for h2 in ([], ["--http2-prior-knowledge"]):
            headers, plain = self.curl(*h2)
            self.assertNotIn("content-encoding: gzip", headers)
            headers, body = self.curl("--compressed", *h2)
            self.assertIn("content-encoding: gzip", headers, h2)
            self.assertEqual(json.loads(body), json.loads(plain))
            # A gzip request body.
            headers, body = self.curl("-H", "Content-Encoding: gzip", *h2,
                                      body=gzip.compress(b"{}"))
            self.assertIn(" 200", headers.splitlines()[0])
            self.assertEqual(json.loads(body), json.loads(plain))
            headers, body = self.curl("-H", "Content-Encoding: br", *h2)
            self.assertEqual(json.loads(body)["code"], "unimplemented", h2)
            headers, body = self.curl(
                "-H", "Content-Encoding: gzip", *h2,
                body=gzip.compress(b" " * (8 << 20)))
            self.assertEqual(json.loads(body)["code"], "resource_exhausted")
        # Small answers stay uncompressed.
        r = subprocess.run(
            ["curl", "-sS", "-D", "-", "--compressed", "-o", "/dev/null",
             "-H", "Content-Type: application/json", "-d", "{}",
             url("limiquantix.node.v1.NodeDaemonService/HealthCheck")],
            capture_output=True, text=True, timeout=30)
        self.assertNotIn("content-encoding: gzip", r.stdout.lower())


if __name__ == "__main__":
    unittest.main(verbosity=2)
