"""gRPC over HTTP/2 cleartext against the real daemon (sandbox mode), with
Python's grpcio: stubs generated at test time from the seed control
plane's protos (as its grpc-go client is) and from ours.

- HealthCheck and GetNodeInfo through the seed's stubs, over TCP and over
  the Unix socket (unix: target), equal to what Connect JSON returns;
- our network service through stubs from proto/ (a port's round trip);
- errors arrive as gRPC status codes matching our Connect codes
  (invalid_argument -> INVALID_ARGUMENT, not_found -> NOT_FOUND), an
  unknown method is UNIMPLEMENTED;
- a deadline the call cannot meet is DEADLINE_EXCEEDED, at the deadline;
- 200 concurrent calls on one channel, HTTP/1.1 and HTTP/2 clients on the
  same port, a client that goes away mid-call: the daemon still answers
  (and exits cleanly: the sanitizer build checks leaks at stop).
- buf curl --protocol grpc (a second, Go, gRPC client) and Connect over
  HTTP/2 with curl --http2-prior-knowledge.

Run with /usr/bin/python3 (Debian's python3-grpcio / python3-grpc-tools).
"""
import concurrent.futures
import json
import os
import shutil
import socket
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
from lqtest import Daemon  # noqa: E402

import grpc  # noqa: E402

TMP = tempfile.mkdtemp(prefix="lq-grpc-")
NET = "limiquantix.network.v1.VirtualNetworkService"


def setUpModule():
    global seed_pb, seed_rpc, net_pb, net_rpc, daemon
    protoenv.generate_python(protoenv.PROTO_DIR, protoenv.proto_files(),
                             os.path.join(TMP, "ours_py"))
    net_pb, net_rpc = protoenv.import_from(
        os.path.join(TMP, "ours_py"), "limiquantix.network.v1.network_pb2",
        "limiquantix.network.v1.network_pb2_grpc")
    global watch_request, watch_response, ours_method_types, KERNEL_STANDIN
    # Our own messages of NodeDaemonService share full names with the
    # seed's: they live in a descriptor pool of their own.
    from google.protobuf import descriptor_pool, message_factory
    pool = descriptor_pool.DescriptorPool()
    for fd in protoenv.ours_descriptor_set().file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    watch_request = factory.GetPrototype(pool.FindMessageTypeByName(
        "limiquantix.node.v1.WatchEventsRequest"))
    watch_response = factory.GetPrototype(pool.FindMessageTypeByName(
        "limiquantix.node.v1.WatchEventsResponse"))
    service = pool.FindServiceByName("limiquantix.node.v1.NodeDaemonService")

    def ours_method_types(name):
        m = service.FindMethodByName(name)
        return (factory.GetPrototype(m.input_type),
                factory.GetPrototype(m.output_type))
    # A raw disk image file inside the daemon's image_dirs.
    KERNEL_STANDIN = os.path.join(TMP, "images", "disk.raw")
    os.makedirs(os.path.dirname(KERNEL_STANDIN), exist_ok=True)
    with open(KERNEL_STANDIN, "wb") as f:
        f.truncate(1 << 20)
    seed_pb, seed_rpc = protoenv.seed_node_stubs(TMP)
    # libvirt's in-process test driver: WatchEvents can block (deadlines).
    daemon = Daemon(config='hypervisor: {libvirt_uri: "test:///default", '
                    'image_dirs: ["%s"], ' % os.path.dirname(KERNEL_STANDIN) +
                    'migration: {peers: {node-a: "192.0.2.7", '
                    'node-down: "qemu+tcp://127.0.0.1:1/system"}}}\n'
                    ).start()


def tearDownModule():
    # A stream open while the daemon stops ends with UNAVAILABLE, saying
    # why, not with a reset connection.
    channel = grpc.insecure_channel("127.0.0.1:%d" % daemon.port)
    stream = seed_rpc.NodeDaemonServiceStub(channel).StreamMetrics(
        seed_pb.StreamMetricsRequest(interval_seconds=1), timeout=60)
    next(stream)                # Open for sure: the first sample came.
    rc = daemon.stop()
    try:
        next(stream)
        raise AssertionError("the stream went on after the daemon stopped")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAVAILABLE, e
        assert "shutting down" in e.details(), e.details()
    channel.close()
    shutil.rmtree(TMP, ignore_errors=True)
    assert rc == 0, "daemon exited %d:\n%s" % (rc, daemon.read_log())


class GrpcTest(unittest.TestCase):
    def setUp(self):
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % daemon.port)
        grpc.channel_ready_future(self.channel).result(timeout=20)
        self.node = seed_rpc.NodeDaemonServiceStub(self.channel)

    def tearDown(self):
        self.channel.close()

    def test_seed_client_over_tcp_and_unix(self):
        h = self.node.HealthCheck(seed_pb.HealthCheckRequest(), timeout=10)
        status, j = daemon.call("HealthCheck")
        self.assertEqual(status, 200)
        self.assertEqual(h.version, j["version"])
        self.assertEqual(h.hypervisor, "libvirt")
        info = self.node.GetNodeInfo(_empty(), timeout=10)
        status, j = daemon.call("GetNodeInfo")
        self.assertEqual(info.node_id, j["nodeId"])
        self.assertEqual(info.memory.total_bytes,
                         int(j["memory"]["totalBytes"]))
        self.assertEqual(info.cpu.total_threads, os.cpu_count())
        caps = info.capabilities
        self.assertEqual((caps.name, caps.supports_hotplug,
                          caps.supports_gpu_passthrough), ("libvirt", True,
                                                           False))
        self.assertEqual(caps.max_vcpus, 16)    # the test driver's host
        self.assertGreater(caps.max_memory_bytes, 0)
        with grpc.insecure_channel("unix:" + daemon.socket) as ch:
            stub = seed_rpc.NodeDaemonServiceStub(ch)
            self.assertEqual(stub.HealthCheck(seed_pb.HealthCheckRequest(),
                                              timeout=10).version,
                             h.version)

    def test_seed_vm_lifecycle(self):
        """The seed control plane's calls, by its own vmId, on libvirt's
        test driver: CreateVM -> GetVMStatus POWER_STATE_STOPPED -> StartVM
        -> POWER_STATE_RUNNING -> StopVM -> DeleteVM -> NOT_FOUND."""
        vm_id = str(uuid.uuid4())
        spec = seed_pb.VMSpec(cpu_cores=1, memory_mib=64)
        r = self.node.CreateVM(seed_pb.CreateVMOnNodeRequest(
            vm_id=vm_id, name="seed-" + vm_id[:8], spec=spec,
            labels={"owner": "cp"}), timeout=30)
        self.assertEqual(r.vm_id, vm_id)
        self.assertTrue(r.created)
        self.assertEqual(r.message, "VM %s defined" % vm_id)
        ident = seed_pb.VMIdRequest(vm_id=vm_id)
        st = self.node.GetVMStatus(ident, timeout=30)
        self.assertEqual(st.state, seed_pb.POWER_STATE_STOPPED)
        self.assertEqual(st.name, "seed-" + vm_id[:8])
        # Idempotent by vmId: the same request again is the same VM, not
        # created by this call.
        r = self.node.CreateVM(seed_pb.CreateVMOnNodeRequest(
            vm_id=vm_id, name="seed-" + vm_id[:8], spec=spec,
            labels={"owner": "cp"}), timeout=30)
        self.assertEqual((r.vm_id, r.created), (vm_id, False))
        # Lifecycle calls answer google.protobuf.Empty: no bytes, no
        # unknown fields (the status is GetVMStatus's).
        empty = self.channel.unary_unary(
            "/limiquantix.node.v1.NodeDaemonService/StartVM",
            request_serializer=seed_pb.VMIdRequest.SerializeToString,
            response_deserializer=lambda b: b)
        self.assertEqual(empty(ident, timeout=30), b"")
        self.assertFalse(st.HasField("started_at"))
        self.assertFalse(st.HasField("resource_usage"))
        t0 = time.time()
        self.node.StartVM(ident, timeout=30)
        st = self.node.GetVMStatus(ident, timeout=30)
        self.assertEqual(st.state, seed_pb.POWER_STATE_RUNNING)
        # started_at and resource_usage as the seed's classes decode them.
        self.assertTrue(st.HasField("started_at"))
        self.assertLess(abs(st.started_at.ToMilliseconds() / 1000 - t0), 2)
        self.assertEqual(st.resource_usage.memory_total_bytes, 64 << 20)
        listed = self.node.ListVMs(_empty(), timeout=30)
        self.assertIn(vm_id, [v.vm_id for v in listed.vms])
        self.assertEqual([v.started_at for v in listed.vms
                          if v.vm_id == vm_id], [st.started_at])
        self.node.StopVM(seed_pb.StopVMRequest(vm_id=vm_id,
                                               timeout_seconds=5),
                         timeout=30)
        self.assertEqual(self.node.GetVMStatus(ident, timeout=30).state,
                         seed_pb.POWER_STATE_STOPPED)
        self.node.DeleteVM(ident, timeout=30)
        with self.assertRaises(grpc.RpcError) as ctx:
            self.node.GetVMStatus(ident, timeout=30)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_seed_enums(self):
        """Enum-valued fields as the seed's client encodes them (numbers on
        the wire), equal to the same spec in proto3 JSON by name: the JSON
        CreateVM finds the VM the gRPC one defined."""
        vm_id = str(uuid.uuid4())
        spec = seed_pb.VMSpec(
            cpu_cores=1, cpu_threads_per_core=1, memory_mib=64,
            firmware=seed_pb.FIRMWARE_UEFI,
            boot_order=[seed_pb.BOOT_DEVICE_NETWORK,
                        seed_pb.BOOT_DEVICE_DISK],
            nics=[])
        self.node.CreateVM(seed_pb.CreateVMOnNodeRequest(
            vm_id=vm_id, name="enum-" + vm_id[:8], spec=spec), timeout=30)
        status, body = daemon.call("CreateVM", {
            "vmId": vm_id, "name": "enum-" + vm_id[:8],
            "spec": {"cpuCores": 1, "cpuThreadsPerCore": 1, "memoryMib": 64,
                     "firmware": "FIRMWARE_UEFI",
                     "bootOrder": ["BOOT_DEVICE_NETWORK", 0]}})
        self.assertEqual(status, 200, body)
        status, body = daemon.call("CreateVM", {
            "vmId": vm_id, "name": "enum-" + vm_id[:8],
            "spec": {"memoryMib": 64, "firmware": "FIRMWARE_BIOS"}})
        self.assertEqual(body.get("code"), "already_exists", body)
        self.node.DeleteVM(seed_pb.VMIdRequest(vm_id=vm_id), timeout=30)
        # A number the enum does not define: INVALID_ARGUMENT naming the
        # field, nothing defined.
        with self.assertRaises(grpc.RpcError) as ctx:
            self.node.CreateVM(seed_pb.CreateVMOnNodeRequest(
                vm_id=vm_id, name="enum-" + vm_id[:8],
                spec=seed_pb.VMSpec(memory_mib=64, firmware=5)), timeout=30)
        self.assertEqual(ctx.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(ctx.exception.details().startswith("spec.firmware"),
                        ctx.exception.details())
        with self.assertRaises(grpc.RpcError) as ctx:
            self.node.GetVMStatus(seed_pb.VMIdRequest(vm_id=vm_id),
                                  timeout=30)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_typed_methods_agree_across_codecs(self):
        """One decoding for both codecs: every typed method's binary reply,
        parsed by a class generated from proto/, equals its JSON reply
        parsed strictly (unknown fields rejected) into the same class; a
        bad request is refused with the same code and field in both."""
        from google.protobuf import json_format
        vm_id = str(uuid.uuid4())
        create = {"vmId": vm_id, "name": "codec-" + vm_id[:8],
                  "labels": {"a": "1"},
                  "spec": {"cpuCores": 2, "memoryMib": 96,
                           "disks": [{"id": "d", "sizeGib": 0,
                                      "path": KERNEL_STANDIN,
                                      "bus": "DISK_BUS_SATA",
                                      "throughputMbps": 1}],
                           "bootOrder": ["BOOT_DEVICE_DISK"]}}
        ident = {"vmId": vm_id}
        status, j = daemon.call("CreateVM", create)
        self.assertEqual(status, 200, j)
        # Each call twice: binary then JSON (CreateVM answers created
        # false both times: the VM exists).
        calls = [("CreateVM", create), ("GetVMStatus", ident),
                 ("GetNodeInfo", {}), ("HealthCheck", {})]
        for method, req in calls:
            in_t, out_t = ours_method_types(method)
            binary = self.channel.unary_unary(
                "/limiquantix.node.v1.NodeDaemonService/" + method,
                request_serializer=in_t.SerializeToString,
                response_deserializer=out_t.FromString)(
                    json_format.ParseDict(req, in_t()), timeout=30)
            status, j = daemon.call(method, req)
            self.assertEqual(status, 200, (method, j))
            strict = json_format.ParseDict(j, out_t())
            if method == "HealthCheck":
                strict.uptime_seconds = binary.uptime_seconds
            if method == "GetNodeInfo":     # Live counters.
                for m in (binary, strict):
                    m.ClearField("memory")
                    m.ClearField("storage")
                    m.ClearField("network")
                    m.ClearField("hugepages")
            self.assertEqual(binary, strict, method)
            # JSON replies carry every field, defaults included.
            if method == "GetVMStatus":
                self.assertEqual((j["serialLogPath"], j["startedAt"]
                                  if "startedAt" in j else None), ("", None))
        in_t, out_t = ours_method_types("ListVMs")
        listed = self.channel.unary_unary(
            "/limiquantix.node.v1.NodeDaemonService/ListVMs",
            request_serializer=in_t.SerializeToString,
            response_deserializer=out_t.FromString)(in_t(), timeout=30)
        status, j = daemon.call("ListVMs", {})
        strict = json_format.ParseDict(j, out_t())
        self.assertEqual([v for v in listed.vms if v.vm_id == vm_id],
                         [v for v in strict.vms if v.vm_id == vm_id])
        bad = [
            ({"vmId": "nope", "spec": {"memoryMib": 1}}, "vmId"),
            ({"spec": {"memoryMib": 64, "firmware": 7}}, "spec.firmware"),
            ({"spec": {"memoryMib": 64, "disks": [{"id": "d", "bus": 9}]}},
             "spec.disks[0].bus"),
            ({"spec": {"memoryMib": 64, "nics": [{"macAddress": "x"}]}},
             "spec.nics[0].macAddress"),
        ]
        in_t, out_t = ours_method_types("CreateVM")
        for req, field in bad:
            status, j = daemon.call("CreateVM", req)
            self.assertEqual(j.get("code"), "invalid_argument", (req, j))
            self.assertTrue(j["message"].startswith(field + ": "), j)
            msg = in_t()
            spec = msg.spec
            spec.memory_mib = req["spec"]["memoryMib"]
            msg.vm_id = req.get("vmId", "")
            # Undefined enum numbers can only be sent in binary by setting
            # the raw field; python's open enums allow it.
            spec.firmware = req["spec"].get("firmware", 0)
            for d in req["spec"].get("disks", []):
                spec.disks.add(id=d["id"], bus=d["bus"])
            for n in req["spec"].get("nics", []):
                spec.nics.add(mac_address=n["macAddress"])
            with self.assertRaises(grpc.RpcError) as ctx:
                self.channel.unary_unary(
                    "/limiquantix.node.v1.NodeDaemonService/CreateVM",
                    request_serializer=in_t.SerializeToString,
                    response_deserializer=out_t.FromString)(msg, timeout=30)
            self.assertEqual(ctx.exception.code(),
                             grpc.StatusCode.INVALID_ARGUMENT)
            self.assertTrue(ctx.exception.details().startswith(field + ": "),
                            ctx.exception.details())
        # A JSON field the contract lacks is refused by name; in binary an
        # unknown field number is skipped, as protobuf's rules say.
        status, j = daemon.call("GetVMStatus", {"vmId": vm_id, "vm": 1})
        self.assertEqual((j.get("code"), j.get("message")),
                         ("invalid_argument", "vm: unknown field of "
                          "limiquantix.node.v1.VMIdRequest"))
        self.node.DeleteVM(seed_pb.VMIdRequest(vm_id=vm_id), timeout=30)

    def test_stream_events(self):
        """StreamEvents as the seed defines it: events of VMs created and
        started after the stream opened arrive in order, typed; the stream
        ends cleanly when the client cancels."""
        stream = self.node.StreamEvents(_empty(), timeout=60)
        time.sleep(0.5)     # the stream is open before the VM changes
        vm_id = str(uuid.uuid4())
        self.node.CreateVM(seed_pb.CreateVMOnNodeRequest(
            vm_id=vm_id, name="ev-" + vm_id[:8],
            spec=seed_pb.VMSpec(cpu_cores=1, memory_mib=64)), timeout=30)
        ident = seed_pb.VMIdRequest(vm_id=vm_id)
        self.node.StartVM(ident, timeout=30)
        self.node.ForceStopVM(ident, timeout=30)
        # The seed's StopVM of a paused VM: forced off, and the event
        # says so.
        self.node.StartVM(ident, timeout=30)
        self.node.PauseVM(ident, timeout=30)
        self.node.StopVM(seed_pb.StopVMRequest(vm_id=vm_id,
                                               timeout_seconds=5), timeout=30)
        self.assertEqual(self.node.GetVMStatus(ident, timeout=30).state,
                         seed_pb.POWER_STATE_STOPPED)
        seen, stops = [], []
        for ev in stream:
            if ev.vm_id != vm_id:
                continue
            seen.append(ev.type)
            self.assertTrue(ev.timestamp.seconds > 0)
            if ev.type == seed_pb.EVENT_TYPE_VM_STOPPED:
                stops.append(ev)
                if len(stops) == 2:
                    break
        stream.cancel()
        self.assertEqual([t for t in seen if t != seed_pb.EVENT_TYPE_UNKNOWN],
                         [seed_pb.EVENT_TYPE_VM_STARTED,
                          seed_pb.EVENT_TYPE_VM_STOPPED,
                          seed_pb.EVENT_TYPE_VM_STARTED,
                          seed_pb.EVENT_TYPE_VM_PAUSED,
                          seed_pb.EVENT_TYPE_VM_STOPPED])
        self.assertNotIn("forced", stops[0].metadata)
        self.assertEqual(stops[1].metadata["forced"], "PAUSED")
        self.assertIn("forced off by StopVM", stops[1].message)
        self.node.DeleteVM(ident, timeout=30)
        # Many streams at once, all abandoned: the node answers on.
        streams = [self.node.StreamEvents(_empty(), timeout=60)
                   for _ in range(50)]
        for s in streams:
            s.cancel()
        self.assertTrue(self.node.HealthCheck(seed_pb.HealthCheckRequest(),
                                              timeout=10).version)

    def test_stream_metrics(self):
        """StreamMetrics: samples of the node and of every VM of ours each
        intervalSeconds, rates from the second reading on; a bad interval
        is INVALID_ARGUMENT; cancel ends it."""
        vm_id = str(uuid.uuid4())
        self.node.CreateVM(seed_pb.CreateVMOnNodeRequest(
            vm_id=vm_id, name="mt-" + vm_id[:8],
            spec=seed_pb.VMSpec(cpu_cores=1, memory_mib=64)), timeout=30)
        ident = seed_pb.VMIdRequest(vm_id=vm_id)
        self.node.StartVM(ident, timeout=30)
        start = time.monotonic()
        stream = self.node.StreamMetrics(
            seed_pb.StreamMetricsRequest(interval_seconds=1), timeout=60)
        samples = []
        for m in stream:
            samples.append((time.monotonic() - start, m))
            if len(samples) == 3:
                break
        stream.cancel()
        times = [t for t, _ in samples]
        self.assertLess(times[0], 2.5, times)       # first after <= 1 s
        self.assertGreater(times[2] - times[1], 0.7, times)
        self.assertLess(times[2] - times[1], 1.6, times)
        for _, m in samples:
            self.assertGreater(m.memory_total_bytes, m.memory_used_bytes)
            self.assertGreater(m.memory_used_bytes, 0)
            self.assertTrue(0 <= m.cpu_usage_percent <= 100)
            self.assertGreater(m.timestamp.seconds, 1700000000)
            names = [n.interface for n in m.networks]
            self.assertNotIn("lo", names)
            vm = [v for v in m.vms if v.vm_id == vm_id]
            self.assertEqual(len(vm), 1, m.vms)
            self.assertEqual(vm[0].name, "mt-" + vm_id[:8])
        self.assertLess(samples[0][1].timestamp.ToMilliseconds(),
                        samples[1][1].timestamp.ToMilliseconds())
        with self.assertRaises(grpc.RpcError) as ctx:
            next(self.node.StreamMetrics(
                seed_pb.StreamMetricsRequest(interval_seconds=3601),
                timeout=10))
        self.assertEqual(ctx.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("intervalSeconds", ctx.exception.details())
        self.node.ForceStopVM(ident, timeout=30)
        self.node.DeleteVM(ident, timeout=30)

    def test_prepare_and_receive_migration(self):
        """The seed's target-side handshake: a token for a VM from a peer,
        accepted once; strangers, VMs already here and reused or foreign
        tokens are refused."""
        vm_id = str(uuid.uuid4())
        tok = self.node.PrepareMigration(seed_pb.PrepareMigrationRequest(
            vm_id=vm_id, source_node_uri="qemu+tls://192.0.2.7/system"),
            timeout=30)
        self.assertEqual(tok.vm_id, vm_id)
        self.assertEqual(len(tok.token), 32)
        self.assertGreater(tok.expires_at.seconds, time.time() + 200)

        def refused(call, req, code, fragment):
            with self.assertRaises(grpc.RpcError) as ctx:
                call(req, timeout=30)
            self.assertEqual(ctx.exception.code(), code)
            self.assertIn(fragment, ctx.exception.details())

        refused(self.node.ReceiveMigration, seed_pb.MigrationToken(
            token=tok.token, vm_id=str(uuid.uuid4())),
            grpc.StatusCode.INVALID_ARGUMENT, "another VM")
        # The wrong-VM attempt used it up.
        refused(self.node.ReceiveMigration, tok,
                grpc.StatusCode.FAILED_PRECONDITION, "token")
        tok = self.node.PrepareMigration(seed_pb.PrepareMigrationRequest(
            vm_id=vm_id, source_node_uri="node-a"), timeout=30)
        self.node.ReceiveMigration(tok, timeout=30)
        refused(self.node.ReceiveMigration, tok,
                grpc.StatusCode.FAILED_PRECONDITION, "used")
        refused(self.node.PrepareMigration, seed_pb.PrepareMigrationRequest(
            vm_id=vm_id, source_node_uri="qemu+tcp://10.9.9.9/system"),
            grpc.StatusCode.INVALID_ARGUMENT, "sourceNodeUri")
        self.node.CreateVM(seed_pb.CreateVMOnNodeRequest(
            vm_id=vm_id, name="here-" + vm_id[:8],
            spec=seed_pb.VMSpec(cpu_cores=1, memory_mib=64)), timeout=30)
        refused(self.node.PrepareMigration, seed_pb.PrepareMigrationRequest(
            vm_id=vm_id, source_node_uri="node-a"),
            grpc.StatusCode.ALREADY_EXISTS, "already on this node")
        # MigrateVM refusals arrive as the stream's status.
        with self.assertRaises(grpc.RpcError) as ctx:
            list(self.node.MigrateVM(seed_pb.MigrateVMRequest(
                vm_id=vm_id, target_node_uri="qemu+ext:///x?command=/bin/true"),
                timeout=30))
        self.assertEqual(ctx.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)
        # A peer that is down: PREPARING, then FAILED with the reason, and
        # the stream's status says it too.
        seen = []
        with self.assertRaises(grpc.RpcError) as ctx:
            for p in self.node.MigrateVM(seed_pb.MigrateVMRequest(
                    vm_id=vm_id, target_node_uri="node-down"), timeout=30):
                seen.append(p)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual([p.phase for p in seen],
                         [seed_pb.MIGRATION_PHASE_PREPARING,
                          seed_pb.MIGRATION_PHASE_FAILED])
        self.assertIn("cannot connect", seen[-1].error)
        self.node.DeleteVM(seed_pb.VMIdRequest(vm_id=vm_id), timeout=30)

    def raw_grpc(self, path, body):
        """nghttp POSTing 'body' (prefix included, as given) as gRPC: the
        response headers and trailers it printed."""
        f = os.path.join(TMP, "raw.bin")
        with open(f, "wb") as out:
            out.write(body)
        r = subprocess.run(
            ["nghttp", "-v", "-d", f, "-H", ":method: POST", "-H",
             "content-type: application/grpc", "-H", "te: trailers",
             "http://127.0.0.1:%d/%s" % (daemon.port, path)],
            capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.decode(errors="replace")

    def test_bad_frames(self):
        """Broken gRPC framing and messages from a real HTTP/2 client and
        from grpcio: each a clear status; the daemon answers on."""
        path = NET + "/CreateNetwork"
        cases = [
            (b"\x00\x00\x00", "3", "5-byte prefix"),         # truncated
            (b"\x00\x00\x00\x00\x64" + b"\x0a\x01x", "3",
             "prefix says 100 bytes"),                       # wrong length
            (b"\x00\x00\x00\x00\x02\x0a\x05", "3", ""),      # cut message
            # name (field 2) "\xff": not UTF-8.
            (b"\x00\x00\x00\x00\x03\x12\x01\xff", "3", "UTF-8"),
        ]
        for body, status, fragment in cases:
            log = self.raw_grpc(path, body)
            self.assertIn("grpc-status: " + status, log, body)
            self.assertIn(fragment, log, body)
        # 5 MiB: over server.max_request_bytes (4 MiB).
        raw = self.channel.unary_unary("/%s" % path,
                                       request_serializer=lambda b: b,
                                       response_deserializer=lambda b: b)
        big = net_pb.Network(name="x" * (5 << 20)).SerializeToString()
        with self.assertRaises(grpc.RpcError) as ctx:
            raw(big, timeout=30)
        self.assertEqual(ctx.exception.code(),
                         grpc.StatusCode.RESOURCE_EXHAUSTED)
        # An enum number the contract does not have.
        with self.assertRaises(grpc.RpcError) as ctx:
            self.node.CreateVM(seed_pb.CreateVMOnNodeRequest(
                vm_id=str(uuid.uuid4()), name="enum",
                spec=seed_pb.VMSpec(memory_mib=64, firmware=99)), timeout=30)
        self.assertEqual(ctx.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("firmware", ctx.exception.details())
        self.assertTrue(self.node.HealthCheck(seed_pb.HealthCheckRequest(),
                                              timeout=10).version)

    def test_200_streams(self):
        """200 StreamEvents at once over four connections (50 each, under
        the node's 100 streams per connection): every one sees the same
        event; then all are cancelled and the node answers on."""
        # A connection each (grpcio shares one between equal channels).
        channels = [grpc.insecure_channel(
            "127.0.0.1:%d" % daemon.port,
            options=[("grpc.use_local_subchannel_pool", 1)])
            for _ in range(4)]
        try:
            stubs = [seed_rpc.NodeDaemonServiceStub(c) for c in channels]
            streams = [stubs[i % 4].StreamEvents(_empty(), timeout=120)
                       for i in range(200)]
            time.sleep(2)           # all open before the event
            vm_id = str(uuid.uuid4())
            self.node.CreateVM(seed_pb.CreateVMOnNodeRequest(
                vm_id=vm_id, name="many-" + vm_id[:8],
                spec=seed_pb.VMSpec(cpu_cores=1, memory_mib=64)), timeout=30)
            ident = seed_pb.VMIdRequest(vm_id=vm_id)
            self.node.StartVM(ident, timeout=30)

            def first_start(stream):
                for ev in stream:
                    if ev.vm_id == vm_id \
                            and ev.type == seed_pb.EVENT_TYPE_VM_STARTED:
                        return True
                return False
            with concurrent.futures.ThreadPoolExecutor(50) as pool:
                seen = list(pool.map(first_start, streams))
            self.assertEqual(seen, [True] * 200)
            for st in streams:
                st.cancel()
            self.node.ForceStopVM(ident, timeout=30)
            self.node.DeleteVM(ident, timeout=30)
        finally:
            for c in channels:
                c.close()
        self.assertTrue(self.node.HealthCheck(seed_pb.HealthCheckRequest(),
                                              timeout=10).version)

    def test_our_services_and_status_codes(self):
        nets = net_rpc.VirtualNetworkServiceStub(self.channel)
        ports = net_rpc.PortServiceStub(self.channel)
        net_id, port_id = str(uuid.uuid4()), str(uuid.uuid4())
        net = nets.CreateNetwork(net_pb.Network(
            id=net_id, name="grpc",
            subnets=[net_pb.Subnet(cidr="10.72.0.0/24")]), timeout=30)
        self.assertEqual(net.subnets[0].gateway_ip.value, "10.72.0.1")
        port = ports.CreatePort(net_pb.Port(id=port_id, network_id=net_id),
                                timeout=30)
        self.assertEqual(port.fixed_ips[0].ip_address, "10.72.0.2")
        self.assertEqual(ports.GetPort(net_pb.IdRequest(id=port_id),
                                       timeout=30), port)

        def code_of(call, *args):
            with self.assertRaises(grpc.RpcError) as ctx:
                call(*args, timeout=30)
            return ctx.exception.code(), ctx.exception.details()

        code, details = code_of(nets.CreateNetwork, net_pb.Network(
            id="not-a-uuid"))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(details.startswith("id: "), details)
        code, _ = code_of(nets.GetNetwork,
                          net_pb.IdRequest(id=str(uuid.uuid4())))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        ports.DeletePort(net_pb.IdRequest(id=port_id), timeout=30)
        nets.DeleteNetwork(net_pb.IdRequest(id=net_id), timeout=30)

        unknown = self.channel.unary_unary(
            "/limiquantix.node.v1.NodeDaemonService/NoSuchMethod",
            request_serializer=lambda m: b"",
            response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as ctx:
            unknown(None, timeout=10)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.UNIMPLEMENTED)

    def test_network_presence_in_binary(self):
        """What binary callers could not say before the wrappers and the
        update mask: no gateway, DHCP off, port security off, ICMP type 0,
        no addresses, no rules, and clearing a port's security groups."""
        from google.protobuf import field_mask_pb2, wrappers_pb2
        nets = net_rpc.VirtualNetworkServiceStub(self.channel)
        ports = net_rpc.PortServiceStub(self.channel)
        sgs = net_rpc.SecurityGroupServiceStub(self.channel)
        net_id, sg_id, rule_id = (str(uuid.uuid4()) for _ in range(3))
        p1, p2, p3 = (str(uuid.uuid4()) for _ in range(3))
        net = nets.CreateNetwork(net_pb.Network(
            id=net_id, subnets=[net_pb.Subnet(
                cidr="10.74.0.0/24",
                gateway_ip=wrappers_pb2.StringValue(value=""),
                dhcp_enabled=wrappers_pb2.BoolValue(value=False))]),
            timeout=30)
        sn = net.subnets[0]
        self.assertTrue(sn.HasField("gateway_ip"))
        self.assertEqual(sn.gateway_ip.value, "")
        self.assertFalse(sn.dhcp_enabled.value)
        # Without a gateway the whole range is allocatable.
        self.assertEqual(sn.allocation_pools[0].start, "10.74.0.1")
        self.assertEqual(nets.GetNetwork(net_pb.IdRequest(id=net_id),
                                         timeout=30), net)

        sg = sgs.CreateSecurityGroup(net_pb.SecurityGroup(
            id=sg_id, rules=[net_pb.Rule(
                id=rule_id, direction="ingress", protocol="icmp",
                port_range_min=wrappers_pb2.Int32Value(value=0))]),
            timeout=30)
        self.assertEqual(len(sg.rules), 1)
        self.assertTrue(sg.rules[0].HasField("port_range_min"))
        self.assertEqual(sg.rules[0].port_range_min.value, 0)
        self.assertFalse(sg.rules[0].HasField("port_range_max"))
        bare = sgs.CreateSecurityGroup(net_pb.SecurityGroup(
            id=str(uuid.uuid4()), no_default_rules=True), timeout=30)
        self.assertEqual(len(bare.rules), 0)
        default = sgs.CreateSecurityGroup(net_pb.SecurityGroup(
            id=str(uuid.uuid4())), timeout=30)
        self.assertEqual(sorted(r.direction for r in default.rules),
                         ["egress", "egress"])

        open_port = ports.CreatePort(net_pb.Port(
            id=p1, network_id=net_id,
            port_security_enabled=wrappers_pb2.BoolValue(value=False)),
            timeout=30)
        self.assertFalse(open_port.port_security_enabled.value)
        self.assertEqual(open_port.fixed_ips[0].ip_address, "10.74.0.1")
        no_ip = ports.CreatePort(net_pb.Port(id=p2, network_id=net_id,
                                             no_fixed_ips=True), timeout=30)
        self.assertEqual(len(no_ip.fixed_ips), 0)

        guarded = ports.CreatePort(net_pb.Port(
            id=p3, network_id=net_id, name="guarded",
            security_group_ids=[sg_id]), timeout=30)
        self.assertTrue(guarded.port_security_enabled.value)
        self.assertEqual(list(guarded.security_group_ids), [sg_id])
        # Clear the groups (an empty list: only a mask can say it), then
        # turn port security off; the name stays as it was.
        mask = field_mask_pb2.FieldMask
        cleared = ports.UpdatePort(net_pb.UpdatePortRequest(
            port=net_pb.Port(id=p3),
            update_mask=mask(paths=["security_group_ids"])), timeout=30)
        self.assertEqual(list(cleared.security_group_ids), [])
        self.assertEqual(cleared.name, "guarded")
        self.assertTrue(cleared.port_security_enabled.value)
        off = ports.UpdatePort(net_pb.UpdatePortRequest(
            port=net_pb.Port(
                id=p3, port_security_enabled=wrappers_pb2.BoolValue(
                    value=False))), timeout=30)
        self.assertFalse(off.port_security_enabled.value)
        self.assertEqual(ports.GetPort(net_pb.IdRequest(id=p3), timeout=30),
                         off)

        def refused(call, request):
            with self.assertRaises(grpc.RpcError) as ctx:
                call(request, timeout=30)
            self.assertEqual(ctx.exception.code(),
                             grpc.StatusCode.INVALID_ARGUMENT)
            return ctx.exception.details()
        self.assertIn("updateMask: \"mac_address\"", refused(
            ports.UpdatePort, net_pb.UpdatePortRequest(
                port=net_pb.Port(id=p3),
                update_mask=mask(paths=["mac_address"]))))
        self.assertIn("portSecurityEnabled", refused(
            ports.UpdatePort, net_pb.UpdatePortRequest(
                port=net_pb.Port(id=p3, security_group_ids=[sg_id]),
                update_mask=mask(paths=["security_group_ids"]))))
        self.assertIn("rule.portRangeMin", refused(
            sgs.AddRule, net_pb.AddRuleRequest(
                security_group_id=sg_id, rule=net_pb.Rule(
                    id=str(uuid.uuid4()), direction="ingress",
                    protocol="tcp",
                    port_range_min=wrappers_pb2.Int32Value(value=-1)))))
        self.assertIn("noFixedIps", refused(ports.CreatePort, net_pb.Port(
            id=str(uuid.uuid4()), network_id=net_id, no_fixed_ips=True,
            fixed_ips=[net_pb.FixedIp(ip_address="10.74.0.9")])))

        for pid in (p1, p2, p3):
            ports.DeletePort(net_pb.IdRequest(id=pid), timeout=30)
        for g in (sg_id, bare.id, default.id):
            sgs.DeleteSecurityGroup(net_pb.IdRequest(id=g), timeout=30)
        nets.DeleteNetwork(net_pb.IdRequest(id=net_id), timeout=30)

    def test_deadline(self):
        """A long poll (WatchEvents, 10 s) under a 1 s gRPC deadline ends
        with DEADLINE_EXCEEDED at the deadline, not after the poll."""
        watch = self.channel.unary_unary(
            "/limiquantix.node.v1.NodeDaemonService/WatchEvents",
            request_serializer=watch_request.SerializeToString,
            response_deserializer=watch_response.FromString)
        # From the newest event on (other tests made some).
        try:
            since = watch(watch_request(timeout_seconds=1),
                          timeout=5).last_seq
        except grpc.RpcError:
            since = 0           # None yet: the poll ran out.
        t = time.time()
        with self.assertRaises(grpc.RpcError) as ctx:
            watch(watch_request(since_seq=since, timeout_seconds=10),
                  timeout=1)
        took = time.time() - t
        self.assertEqual(ctx.exception.code(),
                         grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(took, 5)
        # The late result is dropped; the node answers on.
        self.assertTrue(self.node.HealthCheck(seed_pb.HealthCheckRequest(),
                                              timeout=10).version)

    def test_many_concurrent_calls(self):
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            futures = [self.node.HealthCheck.future(
                seed_pb.HealthCheckRequest(), timeout=60)
                for _ in range(200)]
            versions = {f.result().version for f in futures}
        self.assertEqual(len(versions), 1)

    def test_abandoned_call_and_mixed_clients(self):
        # A client that sends half an HTTP/2 request and goes away.
        s = socket.create_connection(("127.0.0.1", daemon.port))
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04")
        s.close()
        s = socket.create_connection(("127.0.0.1", daemon.port))
        s.sendall(b"PRI * HTTP/2.0\r\n")     # a prefix only, then silence
        s.close()
        # HTTP/1.1 on the same port still works, then gRPC again.
        status, _, body = daemon.post(
            "/limiquantix.node.v1.NodeDaemonService/HealthCheck", b"{}",
            unix=False)
        self.assertEqual(status, 200)
        self.assertEqual(self.node.HealthCheck(
            seed_pb.HealthCheckRequest(), timeout=10).hypervisor, "libvirt")

    def test_buf_curl_grpc_and_curl_h2c(self):
        try:
            buf = protoenv.buf_path()
        except protoenv.NoNpm as e:
            self.skipTest(str(e))
        url = "http://127.0.0.1:%d/%s/CreateNetwork" % (daemon.port, NET)
        p = subprocess.run(
            [buf, "curl", "--schema", protoenv.PROTO_DIR, "--protocol",
             "grpc", "--http2-prior-knowledge", "-d",
             json.dumps({"id": str(uuid.uuid4()), "name": "buf"}), url],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["name"], "buf")
        if shutil.which("curl"):
            p = subprocess.run(
                ["curl", "-s", "--http2-prior-knowledge", "-H",
                 "Content-Type: application/json", "-d", "{}",
                 "http://127.0.0.1:%d/limiquantix.node.v1.NodeDaemonService"
                 "/HealthCheck" % daemon.port], capture_output=True,
                text=True, timeout=60)
            self.assertEqual(json.loads(p.stdout)["hypervisor"], "libvirt")


def _empty():
    from google.protobuf import empty_pb2
    return empty_pb2.Empty()


if __name__ == "__main__":
    unittest.main(verbosity=2)
