"""wirecompat: is our proto/ a compatible superset of the seed's contract?

Compares two FileDescriptorSets by fully qualified name (files may differ:
the seed keeps everything in one file, we split it):

- every seed service exists, and every method of it with the same input and
  output type and the same client and server streaming;
- every seed message exists (same syntax, map entries stay map entries),
  and every seed field, found by number, has the same name, JSON name,
  type, label, type name (message and enum fields), oneof and proto3
  optional-ness;
- every seed enum exists, and every seed value, found by number, has the
  same name.

Additions are allowed (methods, messages, fields, enum values), with one
rule of ours (docs/proto.md): in a message or enum the seed defines, what
we add is numbered from EXTENSION_BASE, so that a field the seed adds later
(its next number) cannot collide with one of ours.

Run directly, it checks proto/ against tests/proto/seed/ and prints what
differs:  /usr/bin/python3 tests/proto/wirecompat.py
"""
from google.protobuf import descriptor_pb2

FDP = descriptor_pb2.FieldDescriptorProto
EXTENSION_BASE = 100

FIELD_ATTRS = ("name", "json_name", "type", "label", "type_name",
               "proto3_optional")


class Index:
    """The messages, enums and services of a FileDescriptorSet by fully
    qualified name (".pkg.Outer.Inner"), each with its file."""

    def __init__(self, fds, only_files=None):
        self.messages, self.enums, self.services = {}, {}, {}
        for f in fds.file:
            if only_files is not None and f.name not in only_files:
                continue
            prefix = "." + f.package if f.package else ""
            for m in f.message_type:
                self._message(m, prefix, f)
            for e in f.enum_type:
                self.enums[prefix + "." + e.name] = (e, f)
            for s in f.service:
                self.services[prefix + "." + s.name] = (s, f)

    def _message(self, m, prefix, f):
        full = prefix + "." + m.name
        self.messages[full] = (m, f)
        for n in m.nested_type:
            self._message(n, full, f)
        for e in m.enum_type:
            self.enums[full + "." + e.name] = (e, f)


def _fmt(attr, value):
    if attr == "type":
        return FDP.Type.Name(value)
    if attr == "label":
        return FDP.Label.Name(value)
    return repr(value)


def _syntax(f):
    return f.syntax or "proto2"


def _oneof(m, field):
    if field.HasField("oneof_index"):
        return m.oneof_decl[field.oneof_index].name
    return None


def _contract_files(fds):
    return {f.name for f in fds.file
            if not f.name.startswith("google/protobuf/")}


def check(seed_fds, ours_fds, seed_files=None, opaque=(), exempt=None,
          extension_base=EXTENSION_BASE):
    """The list of incompatibilities (strings); empty when ours is
    compatible.

    seed_files: the files of seed_fds that are the contract (default: all
    but google/protobuf/*).  opaque: seed messages that are stand-ins
    (named by the seed, not defined by it): only their existence is
    checked.  exempt: {message or enum full name: {numbers}} of additions
    allowed below extension_base."""
    seed_files = (_contract_files(seed_fds) if seed_files is None
                  else set(seed_files))
    seed = Index(seed_fds, seed_files)
    ours = Index(ours_fds)
    exempt = exempt or {}
    problems = []

    for name, (s, _) in sorted(seed.services.items()):
        if name not in ours.services:
            problems.append("service %s: missing" % name[1:])
            continue
        o = ours.services[name][0]
        ours_methods = {m.name: m for m in o.method}
        for sm in s.method:
            where = "rpc %s.%s" % (name[1:], sm.name)
            om = ours_methods.get(sm.name)
            if om is None:
                problems.append(where + ": missing")
                continue
            for attr in ("input_type", "output_type", "client_streaming",
                         "server_streaming"):
                if getattr(sm, attr) != getattr(om, attr):
                    problems.append("%s: %s is %r in ours, %r in the seed"
                                    % (where, attr, getattr(om, attr),
                                       getattr(sm, attr)))
            if (sm.options.idempotency_level
                    != om.options.idempotency_level):
                problems.append(where + ": idempotency_level differs")

    for name, (sm, sf) in sorted(seed.messages.items()):
        where = "message %s" % name[1:]
        if name not in ours.messages:
            problems.append(where + ": missing")
            continue
        om, of = ours.messages[name]
        if name in opaque:
            continue
        if _syntax(sf) != _syntax(of):
            problems.append("%s: syntax %s in ours, %s in the seed"
                            % (where, _syntax(of), _syntax(sf)))
        if sm.options.map_entry != om.options.map_entry:
            problems.append("%s: map entry %s in ours, %s in the seed"
                            % (where, om.options.map_entry,
                               sm.options.map_entry))
        by_number = {f.number: f for f in om.field}
        by_name = {f.name: f for f in om.field}
        seed_numbers = set()
        for sfd in sm.field:
            seed_numbers.add(sfd.number)
            fwhere = "field %s.%s = %d" % (name[1:], sfd.name, sfd.number)
            ofd = by_number.get(sfd.number)
            if ofd is None:
                moved = by_name.get(sfd.name)
                problems.append(fwhere + (": renumbered to %d in ours"
                                          % moved.number if moved
                                          else ": missing"))
                continue
            for attr in FIELD_ATTRS:
                sv, ov = getattr(sfd, attr), getattr(ofd, attr)
                if sv != ov:
                    problems.append("%s: %s is %s in ours, %s in the seed"
                                    % (fwhere, attr, _fmt(attr, ov),
                                       _fmt(attr, sv)))
            if _oneof(sm, sfd) != _oneof(om, ofd):
                problems.append("%s: oneof %r in ours, %r in the seed"
                                % (fwhere, _oneof(om, ofd), _oneof(sm, sfd)))
            if sfd.options.packed != ofd.options.packed:
                problems.append(fwhere + ": packed differs")
        allowed = exempt.get(name, set())
        for ofd in om.field:
            if (ofd.number not in seed_numbers and ofd.number < extension_base
                    and ofd.number not in allowed):
                problems.append("field %s.%s = %d: ours, in a seed message, "
                                "must be numbered from %d"
                                % (name[1:], ofd.name, ofd.number,
                                   extension_base))

    for name, (se, _) in sorted(seed.enums.items()):
        where = "enum %s" % name[1:]
        if name not in ours.enums:
            problems.append(where + ": missing")
            continue
        oe = ours.enums[name][0]
        by_number = {v.number: v for v in oe.value}
        by_name = {v.name: v for v in oe.value}
        seed_numbers = set()
        for sv in se.value:
            seed_numbers.add(sv.number)
            vwhere = "enum value %s.%s = %d" % (name[1:], sv.name, sv.number)
            ov = by_number.get(sv.number)
            if ov is None:
                moved = by_name.get(sv.name)
                problems.append(vwhere + (": renumbered to %d in ours"
                                          % moved.number if moved
                                          else ": missing"))
            elif ov.name != sv.name:
                problems.append("%s: named %s in ours" % (vwhere, ov.name))
        allowed = exempt.get(name, set())
        for ov in oe.value:
            if (ov.number not in seed_numbers and ov.number < extension_base
                    and ov.number not in allowed):
                problems.append("enum value %s.%s = %d: ours, in a seed enum, "
                                "must be numbered from %d"
                                % (name[1:], ov.name, ov.number,
                                   extension_base))
    return problems


# Field kinds for check_json_names().
_KINDS = {
    "string": {FDP.TYPE_STRING},
    "bool": {FDP.TYPE_BOOL},
    "integer": {FDP.TYPE_INT32, FDP.TYPE_INT64, FDP.TYPE_UINT32,
                FDP.TYPE_UINT64, FDP.TYPE_SINT32, FDP.TYPE_SINT64,
                FDP.TYPE_FIXED32, FDP.TYPE_FIXED64, FDP.TYPE_SFIXED32,
                FDP.TYPE_SFIXED64},
}


def check_json_names(ours_fds, message, spec):
    """Checks that `message` (".pkg.Name") accepts a JSON object shaped as
    `spec`: {jsonName: kind}, kind being "string", "integer", "bool",
    "[string]" (repeated), "map" (map<string, string>) or a nested spec
    (a message field).  For contracts the seed gives only as JSON."""
    ours = Index(ours_fds)
    problems = []

    def walk(full, spec):
        if full not in ours.messages:
            problems.append("message %s: missing" % full[1:])
            return
        m = ours.messages[full][0]
        fields = {f.json_name: f for f in m.field}
        for key, kind in spec.items():
            where = "%s JSON field %r" % (full[1:], key)
            f = fields.get(key)
            if f is None:
                problems.append(where + ": missing")
                continue
            repeated = f.label == FDP.LABEL_REPEATED
            entry = (ours.messages.get(f.type_name, (None,))[0]
                     if f.type == FDP.TYPE_MESSAGE else None)
            is_map = bool(entry and entry.options.map_entry)
            if isinstance(kind, dict):
                if f.type != FDP.TYPE_MESSAGE or repeated:
                    problems.append(where + ": not a message")
                else:
                    walk(f.type_name, kind)
            elif kind == "map":
                if not is_map:
                    problems.append(where + ": not a map")
            elif kind.startswith("["):
                if not repeated or is_map or f.type not in _KINDS[kind[1:-1]]:
                    problems.append(where + ": not a list of " + kind[1:-1])
            elif repeated or f.type not in _KINDS[kind]:
                problems.append("%s: %s, not a single %s"
                                % (where, FDP.Type.Name(f.type), kind))

    walk(message, spec)
    return problems


# Additions allowed below EXTENSION_BASE in a seed message: the seed's own
# agent sends RegisterNodeRequest.cpuInfo and memoryInfo
# (control_plane_calls.seed.md) though the excerpt stops at field 6; 7 and
# 8 are the numbers the control plane's node_service.proto gives them.
EXEMPT = {".limiquantix.compute.v1.RegisterNodeRequest": {7, 8}}

# The seed agent's RegisterNode JSON (control_plane_calls.seed.md, seed
# lines 20270-20300): what the control plane reads from a node.
SEED_REGISTER_JSON = {
    "hostname": "string",
    "managementIp": "string",
    "labels": "map",
    "role": {"compute": "bool", "storage": "bool", "controlPlane": "bool"},
    "cpuInfo": {"model": "string", "sockets": "integer",
                "coresPerSocket": "integer", "threadsPerCore": "integer",
                "features": "[string]"},
    "memoryInfo": {"totalMib": "integer", "allocatableMib": "integer"},
}


def check_all(seed_fds, seed_files, stand_ins, ours_fds):
    """Every check of ours against the seed, as the tests run them."""
    return (check(seed_fds, ours_fds, seed_files, opaque=stand_ins,
                  exempt=EXEMPT)
            + check_json_names(ours_fds,
                               ".limiquantix.compute.v1.RegisterNodeRequest",
                               SEED_REGISTER_JSON))


if __name__ == "__main__":
    import sys
    import protoenv
    seed_fds, files, stand_ins = protoenv.seed_descriptor_set()
    found = check_all(seed_fds, files, stand_ins,
                      protoenv.ours_descriptor_set())
    for p in found:
        print(p)
    print("%d incompatibilities" % len(found))
    sys.exit(1 if found else 0)
