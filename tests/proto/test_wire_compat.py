"""proto/ against the control plane's contract (tests/proto/seed/).

- The descriptors: wirecompat.check_all() finds no difference between the
  seed's services, messages, fields and enum values and ours, and our
  additions keep to their numbers (docs/proto.md).
- The checker itself: mutated copies of our descriptors (a field
  renumbered, retyped, renamed, a method's streaming or types changed, an
  enum value moved, a map made a list...) are each reported; additions are
  not.
- The bytes: every seed message, filled in, is encoded by the seed's
  classes and decoded by ours (binary and proto3 JSON) to the same value,
  and back.
- The copies in tests/proto/seed/ are those of ../shared/seed-contract/
  when that exists.
"""
import filecmp
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protoenv  # noqa: E402
import wirecompat  # noqa: E402

from google.protobuf import descriptor_pb2, descriptor_pool  # noqa: E402
from google.protobuf import json_format, message_factory  # noqa: E402

FDP = descriptor_pb2.FieldDescriptorProto
NODE = ".limiquantix.node.v1."
COMPUTE = ".limiquantix.compute.v1."


def setUpModule():
    global SEED, SEED_FILES, STAND_INS, OURS
    SEED, SEED_FILES, STAND_INS = protoenv.seed_descriptor_set()
    OURS = protoenv.ours_descriptor_set()


def problems(ours):
    return wirecompat.check_all(SEED, SEED_FILES, STAND_INS, ours)


def find_message(fds, full):
    """The DescriptorProto of `full` (".pkg.Outer.Inner") in fds."""
    for f in fds.file:
        prefix = "." + f.package
        stack = [(prefix + "." + m.name, m) for m in f.message_type]
        while stack:
            name, m = stack.pop()
            if name == full:
                return m
            stack += [(name + "." + n.name, n) for n in m.nested_type]
    raise KeyError(full)


def find_field(fds, message, field):
    for f in find_message(fds, message).field:
        if f.name == field:
            return f
    raise KeyError(field)


def find_enum(fds, full):
    for f in fds.file:
        for e in f.enum_type:
            if "." + f.package + "." + e.name == full:
                return e
    raise KeyError(full)


def find_method(fds, service, method):
    for f in fds.file:
        for s in f.service:
            if "." + f.package + "." + s.name == service:
                for m in s.method:
                    if m.name == method:
                        return s, m
    raise KeyError(method)


class TestContract(unittest.TestCase):
    def test_compatible(self):
        self.assertEqual(problems(OURS), [])

    def test_seed_is_not_empty(self):
        # A broken staging must not make everything vacuously compatible.
        seed = wirecompat.Index(SEED, SEED_FILES)
        s = seed.services[NODE + "NodeDaemonService"][0]
        self.assertEqual(len(s.method), 26)
        self.assertGreater(len(seed.messages), 40)
        self.assertIn(COMPUTE + "RegisterNodeRequest", seed.messages)
        self.assertIn(COMPUTE + "UpdateHeartbeatResponse", seed.messages)
        self.assertEqual(sorted(STAND_INS),
                         [COMPUTE + "NodeRole", COMPUTE + "Taint"])

    def test_one_service(self):
        services = [(f.package, s.name) for f in OURS.file
                    for s in f.service]
        self.assertEqual(services.count(("limiquantix.node.v1",
                                         "NodeDaemonService")), 1)
        s, _ = find_method(OURS, NODE + "NodeDaemonService", "HealthCheck")
        names = {m.name for m in s.method}
        # Ours on top of the seed's 26.
        self.assertTrue({"GetVMMetrics", "WatchEvents"} <= names)
        self.assertEqual(len(names), 32)

    def test_streaming_methods(self):
        for method in ("MigrateVM", "StreamMetrics", "StreamEvents"):
            _, m = find_method(OURS, NODE + "NodeDaemonService", method)
            self.assertTrue(m.server_streaming, method)
            self.assertFalse(m.client_streaming, method)


def mutated(change):
    fds = descriptor_pb2.FileDescriptorSet()
    fds.CopyFrom(OURS)
    change(fds)
    return fds


class TestChecker(unittest.TestCase):
    """Each mutation of ours must be reported, naming what changed."""

    def assertReported(self, change, *words):
        found = problems(mutated(change))
        self.assertTrue(any(all(w in p for w in words) for p in found),
                        "%s not reported: %s" % (words, found))

    def test_field_renumbered(self):
        def change(fds):
            find_field(fds, NODE + "VMSpec", "memory_mib").number = 40
        self.assertReported(change, "VMSpec.memory_mib = 4",
                            "renumbered to 40")

    def test_fields_swapped(self):
        def change(fds):
            find_field(fds, NODE + "VMSpec", "cpu_cores").number = 2
            find_field(fds, NODE + "VMSpec", "cpu_sockets").number = 1
        self.assertReported(change, "VMSpec.cpu_cores = 1", "name")

    def test_field_retyped(self):
        def change(fds):
            find_field(fds, NODE + "CreateVMOnNodeRequest",
                       "vm_id").type = FDP.TYPE_BYTES
        self.assertReported(change, "CreateVMOnNodeRequest.vm_id",
                            "TYPE_BYTES")

    def test_integer_width_changed(self):
        def change(fds):
            find_field(fds, NODE + "VMSpec",
                       "memory_mib").type = FDP.TYPE_UINT32
        self.assertReported(change, "VMSpec.memory_mib", "TYPE_UINT32")

    def test_field_renamed(self):
        def change(fds):
            f = find_field(fds, NODE + "StopVMRequest", "timeout_seconds")
            f.name, f.json_name = "timeout_secs", "timeoutSecs"
        self.assertReported(change, "StopVMRequest.timeout_seconds",
                            "timeout_secs")

    def test_field_removed(self):
        def change(fds):
            m = find_message(fds, NODE + "MigrateVMRequest")
            del m.field[3]  # storage = 4
        self.assertReported(change, "MigrateVMRequest.storage = 4",
                            "missing")

    def test_label_changed(self):
        def change(fds):
            find_field(fds, NODE + "NodeInfoResponse",
                       "storage").label = FDP.LABEL_OPTIONAL
        self.assertReported(change, "NodeInfoResponse.storage", "label")

    def test_message_type_changed(self):
        def change(fds):
            find_field(fds, NODE + "AttachDiskRequest",
                       "disk").type_name = NODE + "NicSpec"
        self.assertReported(change, "AttachDiskRequest.disk", "type_name")

    def test_enum_field_type_changed(self):
        def change(fds):
            find_field(fds, NODE + "DiskSpec",
                       "bus").type_name = NODE + "NicModel"
        self.assertReported(change, "DiskSpec.bus", "NicModel")

    def test_map_made_a_list(self):
        def change(fds):
            entry = find_message(fds, NODE + "NodeEvent.MetadataEntry")
            entry.options.map_entry = False
        self.assertReported(change, "NodeEvent.MetadataEntry", "map entry")

    def test_message_removed(self):
        def change(fds):
            for f in fds.file:
                for i, m in enumerate(f.message_type):
                    if m.name == "ConsoleSpec":
                        del f.message_type[i]
                        return
        self.assertReported(change, "ConsoleSpec", "missing")

    def test_heartbeat_field_retyped(self):
        def change(fds):
            find_field(fds, COMPUTE + "UpdateHeartbeatRequest",
                       "memory_total_mib").type = FDP.TYPE_INT64
        self.assertReported(change, "memory_total_mib", "TYPE_INT64")

    def test_output_type_changed(self):
        def change(fds):
            _, m = find_method(fds, NODE + "NodeDaemonService", "StartVM")
            m.output_type = NODE + "VMStatusResponse"
        self.assertReported(change, "StartVM", "output_type")

    def test_input_type_changed(self):
        def change(fds):
            _, m = find_method(fds, NODE + "NodeDaemonService",
                               "GetNodeInfo")
            m.input_type = NODE + "HealthCheckRequest"
        self.assertReported(change, "GetNodeInfo", "input_type")

    def test_stream_made_unary(self):
        def change(fds):
            _, m = find_method(fds, NODE + "NodeDaemonService", "MigrateVM")
            m.server_streaming = False
        self.assertReported(change, "MigrateVM", "server_streaming")

    def test_method_removed(self):
        def change(fds):
            s, _ = find_method(fds, NODE + "NodeDaemonService",
                               "ReceiveMigration")
            for i, m in enumerate(s.method):
                if m.name == "ReceiveMigration":
                    del s.method[i]
                    return
        self.assertReported(change, "ReceiveMigration", "missing")

    def test_package_changed(self):
        def change(fds):
            for f in fds.file:
                if f.name == "limiquantix/node/v1/node_daemon.proto":
                    f.package = "limiquantix.nodedaemon.v1"
        self.assertReported(change, "service limiquantix.node.v1."
                            "NodeDaemonService", "missing")

    def test_enum_value_renumbered(self):
        def change(fds):
            for v in find_enum(fds, NODE + "PowerState").value:
                if v.name == "POWER_STATE_CRASHED":
                    v.number = 6
        self.assertReported(change, "POWER_STATE_CRASHED = 5",
                            "renumbered to 6")

    def test_enum_value_renamed(self):
        def change(fds):
            raw = find_enum(fds, NODE + "DiskFormat").value[1]
            raw.name = "DISK_FORMAT_IMG"
        self.assertReported(change, "DISK_FORMAT_RAW = 1", "DISK_FORMAT_IMG")

    def test_addition_below_100(self):
        def change(fds):
            m = find_message(fds, NODE + "VMSpec")
            m.field.add(name="cloud_init_data", json_name="cloudInitData",
                        number=12, type=FDP.TYPE_STRING,
                        label=FDP.LABEL_OPTIONAL)
        self.assertReported(change, "VMSpec.cloud_init_data = 12",
                            "numbered from 100")

    def test_enum_addition_below_100(self):
        def change(fds):
            find_enum(fds, NODE + "NicModel").value.add(
                name="NIC_MODEL_VMXNET3", number=3)
        self.assertReported(change, "NIC_MODEL_VMXNET3 = 3",
                            "numbered from 100")

    def test_seed_json_name_lost(self):
        def change(fds):
            f = find_field(fds, COMPUTE + "MemoryInfo", "total_mib")
            f.name, f.json_name = "total_mb", "totalMb"
        self.assertReported(change, "MemoryInfo", "'totalMib'", "missing")

    def test_additions_are_fine(self):
        def change(fds):
            m = find_message(fds, NODE + "VMSpec")
            m.field.add(name="extra", json_name="extra", number=150,
                        type=FDP.TYPE_STRING, label=FDP.LABEL_OPTIONAL)
            find_enum(fds, NODE + "PowerState").value.add(
                name="POWER_STATE_MIGRATING", number=101)
            s, _ = find_method(fds, NODE + "NodeDaemonService", "StartVM")
            s.method.add(name="Extra", input_type=NODE + "VMIdRequest",
                         output_type=NODE + "VMStatusResponse")
            for f in fds.file:
                if f.name == "limiquantix/node/v1/compute.proto":
                    f.message_type.add(name="BrandNew")
        self.assertEqual(problems(mutated(change)), [])


def classes(fds):
    """{full name without dot: message class} from fds in a pool of its
    own (ours and the seed's define the same names)."""
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    # message_factory.GetMessageClass: protobuf >= 4.22; Debian 12 has 4.21.
    get_class = (getattr(message_factory, "GetMessageClass", None)
                 or message_factory.MessageFactory(pool).GetPrototype)
    out = {}
    for f in fds.file:
        fd = pool.FindFileByName(f.name)
        stack = list(fd.message_types_by_name.values())
        while stack:
            d = stack.pop()
            stack += d.nested_types
            if not d.GetOptions().map_entry:
                out[d.full_name] = get_class(d)
    return out


SCALARS = {
    FDP.TYPE_STRING: lambda n: "s%d" % n,
    FDP.TYPE_BYTES: lambda n: b"b%d" % n,
    FDP.TYPE_BOOL: lambda n: True,
    FDP.TYPE_DOUBLE: lambda n: n + 0.5,
    FDP.TYPE_FLOAT: lambda n: n + 0.5,
}


def fill(msg, depth=0):
    """Sets every field of msg to a non-default value (two elements for
    lists, one entry for maps), nested messages to depth 3."""
    for f in msg.DESCRIPTOR.fields:
        n = f.number + 1
        if f.message_type and f.message_type.GetOptions().map_entry:
            getattr(msg, f.name)["k%d" % n] = "v%d" % n
        elif f.message_type:
            if depth >= 3:
                continue
            if f.label == f.LABEL_REPEATED:
                for _ in range(2):
                    fill(getattr(msg, f.name).add(), depth + 1)
            else:
                fill(getattr(msg, f.name), depth + 1)
        else:
            if f.enum_type:
                value = f.enum_type.values[-1].number
            else:
                value = SCALARS.get(f.type, lambda n: n)(n)
            if f.label == f.LABEL_REPEATED:
                getattr(msg, f.name).extend([value, value])
            else:
                setattr(msg, f.name, value)
    return msg


class TestBytes(unittest.TestCase):
    def test_round_trip(self):
        seed, ours = classes(SEED), classes(OURS)
        contract = wirecompat.Index(SEED, SEED_FILES)
        names = [n[1:] for n in contract.messages
                 if n not in STAND_INS and n[1:] in seed]
        self.assertGreater(len(names), 40)
        for name in names:
            with self.subTest(message=name):
                original = fill(seed[name]())
                as_dict = json_format.MessageToDict(original)
                # Binary: seed -> ours -> seed.
                theirs = ours[name].FromString(original.SerializeToString())
                self.assertEqual(json_format.MessageToDict(theirs), as_dict)
                back = seed[name].FromString(theirs.SerializeToString())
                self.assertEqual(back, original)
                # proto3 JSON, unknown fields refused.
                parsed = json_format.Parse(
                    json_format.MessageToJson(original), ours[name]())
                self.assertEqual(json_format.MessageToDict(parsed), as_dict)
                again = json_format.Parse(json_format.MessageToJson(parsed),
                                          seed[name]())
                self.assertEqual(again, original)


class TestSeedCopies(unittest.TestCase):
    def test_copies_match_origin(self):
        if not os.path.isdir(protoenv.SEED_ORIGIN):
            self.skipTest("no %s here (a CI clone): the copies in %s are "
                          "used as they are" % (protoenv.SEED_ORIGIN,
                                                protoenv.SEED_DIR))
        for name in protoenv.SEED_FILES:
            with self.subTest(file=name):
                self.assertTrue(filecmp.cmp(
                    os.path.join(protoenv.SEED_ORIGIN, name),
                    os.path.join(protoenv.SEED_DIR, name), shallow=False),
                    "%s differs from %s: copy it again (tests/proto/seed/"
                    "README.md)" % (name, protoenv.SEED_ORIGIN))


if __name__ == "__main__":
    unittest.main(verbosity=2)
