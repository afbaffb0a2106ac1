"""Connect unary with both codecs against the real daemon (sandbox mode):
application/proto encoded and decoded by real clients, never our encoder.

- Python's protobuf runtime (python3-protobuf) with classes generated from
  proto/ by grpc_tools at test time: requests packed by it, replies parsed
  strictly by it; every reply equals what the JSON codec returns for the
  same call (both parsed into the same generated message).
- `buf curl` from @bufbuild/buf (npm), a stock Connect client, which
  speaks application/proto by default.
- Bad binary input: a truncated message, a wrong wire type, invalid UTF-8
  in a string field, an over-limit body: clear errors (JSON, as Connect
  wants), and the daemon still answers.

Run with /usr/bin/python3 (Debian's python3-protobuf / python3-grpc-tools).
"""
import importlib
import json
import os
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

NODE = "limiquantix.node.v1.NodeDaemonService"
NET = "limiquantix.network.v1.VirtualNetworkService"
PORT = "limiquantix.network.v1.PortService"
SG = "limiquantix.network.v1.SecurityGroupService"
POOLS = "limiquantix.storage.v1.StoragePoolService"


def generate(out):
    """Python classes for proto/ (and the well-known types) in 'out'."""
    protoenv.grpc_protoc(["-I" + protoenv.PROTO_DIR, "--python_out=" + out]
                         + protoenv.proto_files())
    sys.path.insert(0, out)


class ConnectCodecTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gen = tempfile.mkdtemp(prefix="lq-pb-")
        generate(cls.gen)
        from google.protobuf import json_format, symbol_database
        cls.json_format = json_format
        for mod in ("limiquantix.node.v1.node_daemon_pb2",
                    "limiquantix.network.v1.network_pb2",
                    "limiquantix.storage.v1.storage_pb2"):
            importlib.import_module(mod)
        cls.db = symbol_database.Default()
        from google.protobuf import descriptor_pool
        cls.pool = descriptor_pool.Default()
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, "daemon exited %d:\n%s" % (rc, cls.d.read_log())

    def method(self, service, name):
        return self.pool.FindServiceByName(service).methods_by_name[name]

    def message(self, descriptor):
        return self.db.GetPrototype(descriptor)()

    def binary(self, service, name, request):
        """Packs 'request' (a dict, through the generated class), POSTs
        application/proto; returns (status, reply message or error)."""
        m = self.method(service, name)
        req = self.json_format.ParseDict(request, self.message(m.input_type))
        status, headers, data = self.d.post(
            "/%s/%s" % (service, name), req.SerializeToString(),
            headers={"Content-Type": "application/proto"})
        if status != 200:
            self.assertEqual(headers.get("Content-Type"), "application/json")
            return status, json.loads(data)
        self.assertEqual(headers.get("Content-Type"), "application/proto")
        reply = self.message(m.output_type)
        reply.ParseFromString(data)
        return status, reply

    def same_both_ways(self, service, name, request):
        """The binary reply equals the JSON reply, both in the generated
        message (the JSON one parsed strictly: no field outside the
        contract)."""
        status, b = self.binary(service, name, request)
        self.assertEqual(status, 200, b)
        status, j = self.d.call(name, request, service=service)
        self.assertEqual(status, 200, j)
        parsed = self.json_format.ParseDict(
            j, self.message(self.method(service, name).output_type))
        return b, parsed

    def test_node_methods(self):
        b, j = self.same_both_ways(NODE, "HealthCheck", {})
        self.assertEqual(b.version, j.version)
        self.assertEqual(b.hypervisor, "libvirt")
        self.assertEqual(list(b.problems), list(j.problems))
        b, j = self.same_both_ways(NODE, "GetNodeInfo", {})
        self.assertEqual(b.node_id, j.node_id)
        # Live host data: the total is fixed, what is free moves between
        # the two calls.
        self.assertEqual(b.memory.total_bytes, j.memory.total_bytes)
        self.assertEqual(b.memory.total_bytes,
                         b.memory.available_bytes + b.memory.used_bytes)
        self.assertEqual(b.cpu, j.cpu)

    def test_network_round_trip(self):
        net_id, sg_id, port_id = (str(uuid.uuid4()) for _ in range(3))
        status, net = self.binary(NET, "CreateNetwork", {
            "id": net_id, "name": "codec",
            "subnets": [{"cidr": "10.71.0.0/24"}]})
        self.assertEqual(status, 200, net)
        self.assertEqual(net.id, net_id)
        self.assertEqual(net.subnets[0].gateway_ip.value, "10.71.0.1")
        status, sg = self.binary(SG, "CreateSecurityGroup", {
            "id": sg_id, "name": "web", "rules": [{
                "id": str(uuid.uuid4()), "direction": "ingress",
                "protocol": "tcp", "portRangeMin": 80, "portRangeMax": 80}]})
        self.assertEqual(status, 200, sg)
        status, port = self.binary(PORT, "CreatePort", {
            "id": port_id, "networkId": net_id, "securityGroupIds": [sg_id]})
        self.assertEqual(status, 200, port)
        self.assertEqual(port.fixed_ips[0].ip_address, "10.71.0.2")
        for service, name, req in ((NET, "GetNetwork", {"id": net_id}),
                                   (NET, "ListNetworks", {}),
                                   (PORT, "GetPort", {"id": port_id}),
                                   (SG, "GetSecurityGroup", {"id": sg_id}),
                                   (POOLS, "ListPools", {})):
            with self.subTest(method=name):
                b, j = self.same_both_ways(service, name, req)
                self.assertEqual(b, j)
        self.binary(PORT, "DeletePort", {"id": port_id})
        self.binary(SG, "DeleteSecurityGroup", {"id": sg_id})
        status, _ = self.binary(NET, "DeleteNetwork", {"id": net_id})
        self.assertEqual(status, 200)
        # Errors keep their code and name the field, whatever the codec.
        status, err = self.binary(NET, "GetNetwork", {"id": "nope"})
        self.assertEqual((status, err["code"]), (400, "invalid_argument"))
        self.assertTrue(err["message"].startswith("id: "), err)

    def raw(self, service, name, data):
        return self.d.post("/%s/%s" % (service, name), data,
                           headers={"Content-Type": "application/proto"})

    def test_bad_binary_input(self):
        good = self.json_format.ParseDict(
            {"id": str(uuid.uuid4()), "name": "x"},
            self.message(self.method(NET, "CreateNetwork").input_type)
        ).SerializeToString()
        cases = [
            (good[:-1], "not a valid limiquantix.network.v1.Network"),
            (b"\x0a\xff\xff\xff\xff\x0f", "not a valid"),   # length > body
            (b"\x0b", "not a valid"),                   # bad wire type
            # field 2 (name), a string, with invalid UTF-8.
            (b"\x12\x03a\xc3\x28", "name: not valid UTF-8"),
        ]
        for data, fragment in cases:
            with self.subTest(data=data):
                status, headers, body = self.raw(NET, "CreateNetwork", data)
                self.assertEqual(status, 400, body)
                err = json.loads(body)
                self.assertEqual(err["code"], "invalid_argument")
                self.assertIn(fragment, err["message"])
        # Over server.max_request_bytes: refused from the declared length,
        # before the body is read (the connection may close under us).
        big = b"\x12" + b"\x80\x80\x80\x03" + b"a" * (6 << 20)
        try:
            status, _, body = self.raw(NET, "CreateNetwork", big)
            self.assertEqual(json.loads(body)["code"], "resource_exhausted")
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, body = self.raw("x.Y", "Z", b"")
        self.assertEqual(json.loads(body)["code"], "unimplemented")
        # Still answering.
        status, r = self.d.call("HealthCheck")
        self.assertEqual(status, 200)

    def test_buf_curl(self):
        try:
            buf = protoenv.buf_path()
        except protoenv.NoNpm as e:
            self.skipTest(str(e))
        url = "http://127.0.0.1:%d/%s/HealthCheck" % (self.d.port, NODE)
        p = subprocess.run([buf, "curl", "-v", "--schema",
                            protoenv.PROTO_DIR, "--protocol", "connect",
                            "-d", "{}", url], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Content-Type: application/proto", p.stderr)
        self.assertEqual(json.loads(p.stdout)["hypervisor"], "libvirt")
        url = "http://127.0.0.1:%d/%s/GetNetwork" % (self.d.port, NET)
        p = subprocess.run([buf, "curl", "--schema", protoenv.PROTO_DIR,
                            "--protocol", "connect", "-d",
                            json.dumps({"id": str(uuid.uuid4())}), url],
                           capture_output=True, text=True, timeout=120)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not_found", p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
