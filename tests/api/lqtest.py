"""lqtest: helpers for tests that run the real limiquantix-node daemon.

Each Daemon runs in its own temporary directory with its own Unix socket
and loopback ports, and is stopped by pid.  Binaries come from the build
tree through the LQ_NODE and LQ_CTL environment variables (set by meson).
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import hostlock  # noqa: E402

NODE = os.environ.get("LQ_NODE", "build/limiquantix-node")
LQCTL = os.environ.get("LQ_CTL", "build/lqctl")
SERVICE = "limiquantix.node.v1.NodeDaemonService"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=90):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def hypervisor_yaml(libvirt_uri=None, image_dirs=(), peers=None,
                    state_dir=None, extra=None):
    """node.yaml's hypervisor section.  'image_dirs': the directories whose
    files the API may name (kernels, disk images, import sources; nothing
    else is reachable); 'peers': migration targets, node name -> libvirt
    URI (QEMU's stream unencrypted: no TLS set up here)."""
    y = "hypervisor:\n"
    if libvirt_uri:
        y += '  libvirt_uri: "%s"\n' % libvirt_uri
    if image_dirs:
        y += "  image_dirs: [%s]\n" % ", ".join('"%s"' % d
                                                 for d in image_dirs)
    if state_dir:
        y += '  state_dir: "%s"\n' % state_dir
    for key, value in sorted((extra or {}).items()):
        if isinstance(value, int) and not isinstance(value, bool):
            y += '  %s: %d\n' % (key, value)
        elif isinstance(value, (list, tuple)):
            y += '  %s: [%s]\n' % (key, ", ".join('"%s"' % v for v in value))
        else:
            y += '  %s: "%s"\n' % (key, value)
    if peers:
        y += "  migration:\n    tls: false\n    peers:\n" + "".join(
            '      %s: "%s"\n' % kv for kv in sorted(peers.items()))
    return y


class Daemon:
    """A limiquantix-node started in a private directory."""

    def __init__(self, config=None, args=(), tls=False, image_dirs=(),
                 peers=None):
        self.dir = tempfile.mkdtemp(prefix="lq-test-")
        if image_dirs or peers:
            assert config is None or "hypervisor:" not in config
            config = (config or "") + "\n" + hypervisor_yaml(
                image_dirs=image_dirs, peers=peers)
        self.sandbox = os.path.join(self.dir, "sandbox")
        self.socket = os.path.join(self.sandbox, "node.sock")
        self.port = free_port()
        self.metrics_port = free_port()
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.args = [NODE, "--sandbox", self.sandbox,
                     "--listen", "127.0.0.1:%d" % self.port,
                     "--metrics-port", str(self.metrics_port)] + list(args)
        if config is not None:
            self.config_path = os.path.join(self.dir, "node.yaml")
            with open(self.config_path, "w") as f:
                f.write(config)
            self.args += ["-c", self.config_path]
        self.proc = None

    def start(self, wait=True):
        if "--sandbox" in self.args:
            # OVS's userspace datapath makes host-wide tap devices
            # (ovs-netdev, br-int): one sandbox on the machine at a time.
            hostlock.hold("ovs-netdev")
        self.log = open(self.log_path, "w")
        env = dict(os.environ, **getattr(self, "env", {}))
        self.proc = subprocess.Popen(self.args, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited %d:\n%s"
                                   % (self.proc.returncode, self.read_log()))
            if "ready: node" in self.read_log():
                return
            time.sleep(0.05)
        raise RuntimeError("daemon not ready:\n" + self.read_log())

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        """SIGTERM, then return the exit status (sanitizer errors make it
        non-zero)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        self.log.close()
        self.reap_sandbox()
        return self.proc.returncode

    def reap_sandbox(self):
        """A daemon that died abnormally leaves its sandbox OVS/OVN running;
        stop them by pid so they cannot disturb the next test."""
        for sub in ("ovs", "ovn"):
            d = os.path.join(self.sandbox, sub)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                if not name.endswith(".pid"):
                    continue
                try:
                    with open(os.path.join(d, name)) as f:
                        os.kill(int(f.read().strip()), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        # And any left without a pidfile: processes whose command line
        # names this test's private sandbox directory.
        mine = (self.sandbox + "/").encode()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if mine in f.read():
                        os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass

    def post(self, path, body=b"{}", headers=None, unix=True, method="POST"):
        """Raw HTTP request; returns (status, headers, body bytes)."""
        if isinstance(body, str):
            body = body.encode()
        conn = (UnixHTTPConnection(self.socket) if unix
                else http.client.HTTPConnection("127.0.0.1", self.port,
                                                timeout=30))
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, dict(r.getheaders()), data

    def call(self, method, request=None, service=SERVICE):
        status, _, data = self.post("/%s/%s" % (service, method),
                                    json.dumps(request or {}))
        return status, json.loads(data)

    def lqctl(self, *args):
        return subprocess.run([LQCTL, "--sandbox", self.sandbox] + list(args),
                              capture_output=True, text=True, timeout=60)
