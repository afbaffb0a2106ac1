"""Shared helpers of the proto/ tests: where things are, compiling .proto
files to FileDescriptorSets, staging the seed's contract, finding buf.

Paths come from the environment (tests/proto/meson.build sets them) and
default to this checkout, so every test also runs as
`/usr/bin/python3 tests/proto/test_x.py` (the system Python: python3-protobuf
and python3-grpc-tools are Debian packages).

- LQ_SOURCE_ROOT: the repository (buf.yaml, proto/)
- LQ_PROTO_DIR: proto/
- LQ_PROTO_SEED_DIR: tests/proto/seed/ (copies of the seed's files)
- LQ_SEED_ORIGIN: where the copies come from (../shared/seed-contract);
  optional
- LQ_PROTOC: the system protoc; optional
- LQ_NPM_CACHE: where npm installs @bufbuild/buf
  (/var/cache/limiquantix-node/npm; ~/.cache/limiquantix-node/npm for a
  user who cannot write there)
- LQ_BUF_VERSION: the buf release to install (BUF_VERSION below)
"""
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("LQ_SOURCE_ROOT",
                             os.path.dirname(os.path.dirname(HERE)))
PROTO_DIR = os.environ.get("LQ_PROTO_DIR", os.path.join(SOURCE_ROOT, "proto"))
SEED_DIR = os.environ.get("LQ_PROTO_SEED_DIR", os.path.join(HERE, "seed"))
SEED_ORIGIN = os.environ.get(
    "LQ_SEED_ORIGIN",
    os.path.join(os.path.dirname(SOURCE_ROOT), "shared", "seed-contract"))


def _default_npm_cache():
    system = "/var/cache/limiquantix-node"
    if os.access(system if os.path.isdir(system) else "/var/cache", os.W_OK):
        return os.path.join(system, "npm")
    user = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(user, "limiquantix-node", "npm")


NPM_CACHE = os.environ.get("LQ_NPM_CACHE") or _default_npm_cache()
# Pinned so that lint results do not change under us; bump deliberately.
BUF_VERSION = os.environ.get("LQ_BUF_VERSION", "1.75.0")

# The seed's files, and where the control plane keeps them (the path they
# are staged under: it decides the generated module names).
SEED_FILES = {
    "node_daemon.seed.proto": "limiquantix/node/v1/node_daemon.proto",
    "node_service.seed.excerpt.proto":
        "limiquantix/compute/v1/node_service.proto",
}
# The excerpt has no package line; the control plane's NodeService lives
# here (the node calls /limiquantix.compute.v1.NodeService/RegisterNode).
EXCERPT_PACKAGE = "limiquantix.compute.v1"


def proto_files(root=PROTO_DIR):
    """Every .proto under root, relative to it, sorted."""
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".proto"):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def wkt_include():
    """The directory holding google/protobuf/*.proto for grpc_tools."""
    import grpc_tools
    return os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")


class ProtocError(Exception):
    pass


def grpc_protoc(args):
    """Runs grpc_tools' bundled protoc in a child process (its errors go to
    stderr, which we capture); raises ProtocError on failure."""
    cmd = [sys.executable, "-m", "grpc_tools.protoc",
           "-I" + wkt_include()] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode:
        raise ProtocError(p.stderr.strip() or "protoc exited %d"
                          % p.returncode)
    return p


def generate_python(include_dir, files, out):
    """Python messages and gRPC stubs for 'files' (under include_dir) in
    the new directory 'out'."""
    os.makedirs(out)
    grpc_protoc(["-I" + include_dir, "--python_out=" + out,
                 "--grpc_python_out=" + out] + files)


def import_from(path, *modules):
    """Modules of one generated tree (the seed's and ours share package
    names, so each is imported with only its own tree on sys.path)."""
    import importlib
    for name in list(sys.modules):
        if name == "limiquantix" or name.startswith("limiquantix."):
            del sys.modules[name]
    sys.path.insert(0, path)
    try:
        return [importlib.import_module(m) for m in modules]
    finally:
        sys.path.remove(path)


def seed_node_stubs(tmp):
    """(node_daemon_pb2, node_daemon_pb2_grpc) generated from the seed under
    tmp, as the control plane generates its client."""
    stage = os.path.join(tmp, "seed")
    staged, _ = stage_seed(stage)
    out = os.path.join(tmp, "seed_py")
    generate_python(stage, staged, out)
    return import_from(out, "limiquantix.node.v1.node_daemon_pb2",
                       "limiquantix.node.v1.node_daemon_pb2_grpc")


def descriptor_set(include_dir, files=None):
    """Compiles files (default: all) under include_dir into a
    FileDescriptorSet with its imports (google/protobuf/* included)."""
    from google.protobuf import descriptor_pb2
    files = files or proto_files(include_dir)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        grpc_protoc(["-I" + include_dir, "--include_imports",
                     "--descriptor_set_out=" + out] + files)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
    return fds


_TYPE_RE = re.compile(r"^\s*(?:repeated\s+|optional\s+)?"
                      r"([A-Z][\w.]*)\s+\w+\s*=\s*\d+", re.M)


def wrap_excerpt(text, package=EXCERPT_PACKAGE):
    """Makes the seed's excerpt a compilable file: syntax and package lines
    if missing, unbalanced braces closed, and an empty message for every
    type it names but does not define.  Returns (text, stand-in names)."""
    head = []
    if not re.search(r"^\s*syntax\s*=", text, re.M):
        head.append('syntax = "proto3";')
    if not re.search(r"^\s*package\s+", text, re.M):
        head.append("package %s;" % package)
    body = re.sub(r"//[^\n]*", "", text)
    defined = set(re.findall(r"\b(?:message|enum)\s+(\w+)", body))
    used = {t for t in _TYPE_RE.findall(body) if "." not in t}
    missing = sorted(used - defined)
    tail = ["}" * (body.count("{") - body.count("}"))]
    tail += ["// stand-in: named by the excerpt, defined elsewhere",
             *("message %s {}" % m for m in missing)]
    return "\n".join(head + [text] + tail) + "\n", missing


def stage_seed(dst, seed_dir=SEED_DIR):
    """Copies the seed's files under dst at the control plane's paths (the
    excerpt wrapped); returns (the staged paths relative to dst, the excerpt's
    stand-in type names, fully qualified)."""
    staged, stand_ins = [], []
    for name, path in SEED_FILES.items():
        with open(os.path.join(seed_dir, name)) as f:
            text = f.read()
        if "excerpt" in name:
            text, missing = wrap_excerpt(text)
            stand_ins += [".%s.%s" % (EXCERPT_PACKAGE, m) for m in missing]
        os.makedirs(os.path.dirname(os.path.join(dst, path)), exist_ok=True)
        with open(os.path.join(dst, path), "w") as f:
            f.write(text)
        staged.append(path)
    return staged, stand_ins


def seed_descriptor_set():
    """(FileDescriptorSet of the staged seed, its file names, stand-ins)."""
    with tempfile.TemporaryDirectory() as tmp:
        staged, stand_ins = stage_seed(tmp)
        return descriptor_set(tmp, staged), staged, stand_ins


def ours_descriptor_set():
    return descriptor_set(PROTO_DIR)


class NoNpm(Exception):
    pass


# What the tests install from npm, pinned, in one `npm install` (a second
# install of another set would prune the first): buf, and a stock Connect
# client for Node (test_connect_node).
NPM_PACKAGES = {
    "@bufbuild/buf": BUF_VERSION,
    "@connectrpc/connect": "2.3.0",
    "@connectrpc/connect-node": "2.3.0",
    "@bufbuild/protobuf": "2.17.0",
}


def _npm_installed(name, version):
    try:
        with open(os.path.join(NPM_CACHE, "node_modules", name,
                               "package.json")) as f:
            return json.load(f).get("version") == version
    except (OSError, ValueError):
        return False


def npm_modules():
    """NPM_CACHE/node_modules with NPM_PACKAGES installed (under a lock:
    parallel test runs share the cache).  Raises NoNpm when npm is absent
    and they are not all there."""
    def complete():
        return all(_npm_installed(n, v) for n, v in NPM_PACKAGES.items())

    modules = os.path.join(NPM_CACHE, "node_modules")
    if complete():
        return modules
    npm = shutil.which("npm")
    if not npm:
        raise NoNpm("npm is not installed: cannot install %s into %s"
                    % (", ".join(NPM_PACKAGES), NPM_CACHE))
    os.makedirs(NPM_CACHE, exist_ok=True)
    with open(os.path.join(NPM_CACHE, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete():
            p = subprocess.run(
                [npm, "install", "--prefix", NPM_CACHE, "--no-audit",
                 "--no-fund", "--no-save", "--loglevel=error"]
                + ["%s@%s" % nv for nv in NPM_PACKAGES.items()],
                capture_output=True, text=True, timeout=600)
            if p.returncode or not complete():
                raise RuntimeError("npm install into %s failed:\n%s%s"
                                   % (NPM_CACHE, p.stdout, p.stderr))
    return modules


def buf_path():
    """buf at BUF_VERSION (npm_modules())."""
    buf = os.path.join(npm_modules(), ".bin", "buf")
    p = subprocess.run([buf, "--version"], capture_output=True, text=True,
                       timeout=60)
    if p.returncode or p.stdout.strip() != BUF_VERSION:
        raise RuntimeError("%s is not buf %s" % (buf, BUF_VERSION))
    return buf
    npm = shutil.which("npm")
    if not npm:
        raise NoNpm("npm is not installed: cannot install @bufbuild/buf@%s "
                    "into %s" % (BUF_VERSION, NPM_CACHE))
    os.makedirs(NPM_CACHE, exist_ok=True)
    with open(os.path.join(NPM_CACHE, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not usable():
            p = subprocess.run(
                [npm, "install", "--prefix", NPM_CACHE, "--no-audit",
                 "--no-fund", "--no-save", "--loglevel=error",
                 "@bufbuild/buf@" + BUF_VERSION],
                capture_output=True, text=True, timeout=600)
            if p.returncode or not usable():
                raise RuntimeError("npm install @bufbuild/buf@%s into %s "
                                   "failed:\n%s%s" % (BUF_VERSION, NPM_CACHE,
                                                      p.stdout, p.stderr))
    return buf
