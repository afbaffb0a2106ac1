"""gRPC and Connect over HTTP/2 under TLS (ALPN "h2") on the daemon's mTLS
listener, next to HTTP/1.1 on the same port; real clients only:

- grpcio with stubs generated from the seed (the control plane's client)
  and a trusted client certificate: HealthCheck, GetNodeInfo, the VM
  lifecycle by vmId on libvirt's test driver, StreamEvents;
- no client certificate, or one from another CA: every call is
  UNAUTHENTICATED, as HTTP/1.1 answers 401;
- curl offering h2 and http/1.1 is answered over HTTP/2, Python's ssl
  offering only http/1.1 (and no ALPN at all) over HTTP/1.1 by
  libmicrohttpd;
- a client that sends half a ClientHello, or plaintext HTTP/2 to the TLS
  port, and goes away: the daemon answers on.

Run with /usr/bin/python3 (Debian's python3-grpcio / python3-grpc-tools).
"""
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import protoenv  # noqa: E402
from lqtest import Daemon, SERVICE  # noqa: E402
from test_tls import make_ca, make_cert  # noqa: E402

import grpc  # noqa: E402
from google.protobuf import empty_pb2  # noqa: E402

TMP = tempfile.mkdtemp(prefix="lq-grpc-tls-")


def setUpModule():
    global seed_pb, seed_rpc, daemon, certs
    seed_pb, seed_rpc = protoenv.seed_node_stubs(TMP)
    certs = os.path.join(TMP, "certs")
    os.makedirs(certs)
    make_ca(certs, "ca")
    make_ca(certs, "rogue-ca")
    make_cert(certs, "server", "ca", server=True)
    make_cert(certs, "client", "ca")
    make_cert(certs, "rogue", "rogue-ca")
    daemon = Daemon(config=(
        'hypervisor: {libvirt_uri: "test:///default"}\n'
        "tls:\n  enabled: true\n"
        "  cert_path: %s/server.pem\n  key_path: %s/server.key\n"
        "  ca_path: %s/ca.pem\n" % (certs, certs, certs))).start()


def tearDownModule():
    rc = daemon.stop()
    shutil.rmtree(TMP, ignore_errors=True)
    assert rc == 0, "daemon exited %d:\n%s" % (rc, daemon.read_log())


def read(name):
    with open(os.path.join(certs, name), "rb") as f:
        return f.read()


def channel(client=None):
    creds = grpc.ssl_channel_credentials(
        root_certificates=read("ca.pem"),
        private_key=read(client + ".key") if client else None,
        certificate_chain=read(client + ".pem") if client else None)
    ch = grpc.secure_channel("localhost:%d" % daemon.port, creds)
    grpc.channel_ready_future(ch).result(timeout=20)
    return ch


class GrpcTlsTest(unittest.TestCase):
    def test_seed_client_with_certificate(self):
        with channel("client") as ch:
            node = seed_rpc.NodeDaemonServiceStub(ch)
            h = node.HealthCheck(seed_pb.HealthCheckRequest(), timeout=10)
            self.assertEqual(h.hypervisor, "libvirt")
            self.assertTrue(node.GetNodeInfo(empty_pb2.Empty(),
                                             timeout=10).hostname)
            stream = node.StreamEvents(empty_pb2.Empty(), timeout=60)
            time.sleep(0.5)         # the stream is open before the VM starts
            vm_id = str(uuid.uuid4())
            node.CreateVM(seed_pb.CreateVMOnNodeRequest(
                vm_id=vm_id, name="tls-" + vm_id[:8],
                spec=seed_pb.VMSpec(cpu_cores=1, memory_mib=64)), timeout=30)
            ident = seed_pb.VMIdRequest(vm_id=vm_id)
            node.StartVM(ident, timeout=30)
            self.assertEqual(node.GetVMStatus(ident, timeout=10).state,
                             seed_pb.POWER_STATE_RUNNING)
            for ev in stream:
                if ev.vm_id == vm_id \
                        and ev.type == seed_pb.EVENT_TYPE_VM_STARTED:
                    break
            stream.cancel()
            node.ForceStopVM(ident, timeout=30)
            node.DeleteVM(ident, timeout=30)

    def test_untrusted_clients_unauthenticated(self):
        for client in (None, "rogue"):
            with channel(client) as ch:
                node = seed_rpc.NodeDaemonServiceStub(ch)
                with self.assertRaises(grpc.RpcError) as ctx:
                    node.HealthCheck(seed_pb.HealthCheckRequest(), timeout=10)
                self.assertEqual(ctx.exception.code(),
                                 grpc.StatusCode.UNAUTHENTICATED, client)
                stream = node.StreamEvents(empty_pb2.Empty(), timeout=10)
                with self.assertRaises(grpc.RpcError) as ctx:
                    next(stream)
                self.assertEqual(ctx.exception.code(),
                                 grpc.StatusCode.UNAUTHENTICATED, client)

    def curl(self, *args):
        r = subprocess.run(
            ["curl", "-sS", "--cacert", os.path.join(certs, "ca.pem"),
             "--cert", os.path.join(certs, "client.pem"),
             "--key", os.path.join(certs, "client.key"),
             "-H", "Content-Type: application/json", "-d", "{}",
             "-w", "\n%{http_version} %{http_code}", *args,
             "https://localhost:%d/%s/HealthCheck" % (daemon.port, SERVICE)],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        body, _, tail = r.stdout.rpartition("\n")
        return tail, json.loads(body)

    def test_alpn_picks_the_server(self):
        # curl offers h2 and http/1.1: HTTP/2 (ours); --http1.1 offers only
        # http/1.1: libmicrohttpd.
        tail, body = self.curl()
        self.assertEqual(tail, "2 200")
        self.assertEqual(body["hypervisor"], "libvirt")
        tail, body = self.curl("--http1.1")
        self.assertEqual(tail, "1.1 200")
        for alpn in (["http/1.1"], None):
            ctx = ssl.create_default_context(
                cafile=os.path.join(certs, "ca.pem"))
            ctx.load_cert_chain(os.path.join(certs, "client.pem"),
                                os.path.join(certs, "client.key"))
            if alpn:
                ctx.set_alpn_protocols(alpn)
            conn = http.client.HTTPSConnection("localhost", daemon.port,
                                               context=ctx, timeout=20)
            conn.request("POST", "/%s/HealthCheck" % SERVICE, body=b"{}",
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            self.assertEqual(r.status, 200, alpn)
            self.assertEqual(r.version, 11)
            conn.close()

    def test_broken_clients(self):
        # Half a ClientHello that offers h2, then gone; the HTTP/2 preface
        # in clear text; garbage.
        hello = ssl.create_default_context()
        hello.set_alpn_protocols(["h2"])
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = hello.wrap_bio(inc, out, server_hostname="localhost")
        with self.assertRaises(ssl.SSLWantReadError):
            obj.do_handshake()
        client_hello = out.read()
        for data in (client_hello[:len(client_hello) // 2],
                     b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"\x16\x03" * 400):
            s = socket.create_connection(("127.0.0.1", daemon.port))
            s.sendall(data)
            s.close()
        with channel("client") as ch:
            node = seed_rpc.NodeDaemonServiceStub(ch)
            self.assertTrue(node.HealthCheck(seed_pb.HealthCheckRequest(),
                                             timeout=10).version)


if __name__ == "__main__":
    unittest.main(verbosity=2)
