"""gRPC server reflection against the real daemon (sandbox mode):

- `buf curl` (connect-go's client, no schema file) lists the services and
  methods and calls HealthCheck and CreateNetwork by reflection alone, over
  gRPC (reflection v1 and v1alpha) and Connect (a Connect bidi stream);
- grpcio with messages generated from gRPC's reflection.proto: several
  requests on one bidirectional stream answered in order; a file with its
  imports; a method's and a nested message's file; an unknown symbol is
  NOT_FOUND in the answer, not a broken stream; a message that is not a
  ServerReflectionRequest ends the stream with INVALID_ARGUMENT;
- over HTTP/1.1 the stream is refused (UNIMPLEMENTED).

Run with /usr/bin/python3 (Debian's python3-grpcio / python3-grpc-tools).
"""
import json
import os
import shutil
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
from google.protobuf import descriptor_pb2  # noqa: E402

TMP = tempfile.mkdtemp(prefix="lq-reflection-")
REFLECTION_DIR = os.path.join(protoenv.SOURCE_ROOT, "src", "api",
                              "reflection")
INFO = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


def setUpModule():
    global rpb, daemon, channel
    out = os.path.join(TMP, "py")
    protoenv.generate_python(REFLECTION_DIR,
                             ["grpc/reflection/v1/reflection.proto"], out)
    # By path: the package "grpc" is grpcio's.
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "reflection_pb2", os.path.join(out, "grpc", "reflection", "v1",
                                       "reflection_pb2.py"))
    rpb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rpb)
    daemon = Daemon().start()
    channel = grpc.insecure_channel("127.0.0.1:%d" % daemon.port)


def tearDownModule():
    channel.close()
    rc = daemon.stop()
    shutil.rmtree(TMP, ignore_errors=True)
    assert rc == 0, "daemon exited %d:\n%s" % (rc, daemon.read_log())


def our_services():
    """The services of proto/ the node serves (NodeService is the control
    plane's: the node calls it)."""
    return {"%s.%s" % (f.package, s.name)
            for f in protoenv.ours_descriptor_set().file for s in f.service
            } - {"limiquantix.compute.v1.NodeService"}


class BufCurlTest(unittest.TestCase):
    def buf(self, *args):
        try:
            buf = protoenv.buf_path()
        except protoenv.NoNpm as e:
            self.skipTest(str(e))
        p = subprocess.run([buf, "curl", "--http2-prior-knowledge", *args],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_list_and_call_without_schema(self):
        base = "http://127.0.0.1:%d" % daemon.port
        for proto in (["--protocol", "grpc"],
                      ["--protocol", "grpc", "--reflect-protocol",
                       "grpc-v1alpha"],
                      ["--protocol", "connect"]):
            listed = set(self.buf(*proto, "--list-services",
                                  base).split())
            self.assertLessEqual(our_services(), listed, proto)
            self.assertIn("grpc.reflection.v1.ServerReflection", listed)
            methods = self.buf(*proto, "--list-methods", base).split()
            self.assertIn("limiquantix.node.v1.NodeDaemonService/"
                          "StreamEvents", methods)
            health = json.loads(self.buf(
                *proto, "-d", "{}",
                base + "/limiquantix.node.v1.NodeDaemonService/HealthCheck"))
            self.assertIn("version", health)
        net = json.loads(self.buf(
            "--protocol", "grpc", "-d",
            json.dumps({"id": str(uuid.uuid4()), "name": "by-reflection"}),
            base + "/limiquantix.network.v1.VirtualNetworkService/"
            "CreateNetwork"))
        self.assertEqual(net["name"], "by-reflection")


class ReflectionStreamTest(unittest.TestCase):
    def call(self, requests):
        info = channel.stream_stream(
            INFO, request_serializer=rpb.ServerReflectionRequest.
            SerializeToString,
            response_deserializer=rpb.ServerReflectionResponse.FromString)
        return list(info(iter(requests), timeout=30))

    def files(self, response):
        return [descriptor_pb2.FileDescriptorProto.FromString(b)
                for b in response.file_descriptor_response.
                file_descriptor_proto]

    def test_requests_on_one_stream(self):
        R = rpb.ServerReflectionRequest
        answers = self.call([
            R(host="h", list_services=""),
            R(file_by_filename="limiquantix/node/v1/node_daemon.proto"),
            R(file_containing_symbol="limiquantix.node.v1.NodeDaemonService."
                                     "CreateVM"),
            R(file_containing_symbol="limiquantix.network.v1.Port"),
            R(file_containing_symbol="no.such.Symbol"),
            R(all_extension_numbers_of_type="limiquantix.network.v1.Port"),
            R(file_containing_extension=rpb.ExtensionRequest(
                containing_type="limiquantix.network.v1.Port",
                extension_number=100)),
        ])
        self.assertEqual(len(answers), 7)
        self.assertEqual(answers[0].valid_host, "h")
        self.assertEqual(answers[0].original_request.host, "h")
        names = {s.name for s in answers[0].list_services_response.service}
        self.assertLessEqual(our_services(), names)
        files = self.files(answers[1])
        self.assertEqual(files[0].name,
                         "limiquantix/node/v1/node_daemon.proto")
        # With what it imports, each once.
        names = [f.name for f in files]
        self.assertIn("google/protobuf/empty.proto", names)
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(set(files[0].dependency) - set(names), set())
        # The method's file declares the service.
        svc = [s.name for s in self.files(answers[2])[0].service]
        self.assertIn("NodeDaemonService", svc)
        self.assertEqual(self.files(answers[3])[0].name,
                         "limiquantix/network/v1/network.proto")
        self.assertEqual(answers[4].error_response.error_code,
                         grpc.StatusCode.NOT_FOUND.value[0])
        self.assertIn("no.such.Symbol",
                      answers[4].error_response.error_message)
        self.assertEqual(answers[5].all_extension_numbers_response.
                         base_type_name, "limiquantix.network.v1.Port")
        self.assertEqual(answers[6].error_response.error_code,
                         grpc.StatusCode.NOT_FOUND.value[0])

    def test_bad_message_ends_the_stream(self):
        info = channel.stream_stream(INFO, request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as ctx:
            list(info(iter([b"\xff\xff\xff"]), timeout=30))
        self.assertEqual(ctx.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)

    def test_http1_refused(self):
        status, r = daemon.call(INFO.split("/")[2],
                                service=INFO.split("/")[1])
        self.assertEqual(r["code"], "unimplemented", r)
        self.assertIn("bidirectional", r["message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
