"""netlib: network namespaces as VMs on a limiquantix-node sandbox.

A NetVM is a network namespace with one veth pair: "eth0" inside, the host
end plugged into br-int by BindPort.  TX checksum offload is turned off on
both ends: OVS's userspace datapath does not fill in checksums, so TCP and
UDP would fail while ICMP works (see shared ENVIRONMENT.md).
"""
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "api"))
from lqtest import Daemon  # noqa: E402

NET = "limiquantix.network.v1.VirtualNetworkService/"
PORT = "limiquantix.network.v1.PortService/"
SG = "limiquantix.network.v1.SecurityGroupService/"


def sh(*argv, check=True, timeout=30, **kw):
    return subprocess.run(argv, check=check, capture_output=True, text=True,
                          timeout=timeout, **kw)


def new_id():
    return str(uuid.uuid4())


class Node(Daemon):
    """The daemon in sandbox mode, with API helpers."""

    def api(self, method, body=None, expect=200):
        service, name = method.rsplit("/", 1)
        status, r = self.call(name, body or {}, service=service)
        if expect is not None and status != expect:
            raise AssertionError("%s -> %d %s" % (method, status, r))
        return r

    def api_status(self, method, body):
        service, name = method.rsplit("/", 1)
        return self.call(name, body, service=service)

    def nbctl(self, *args):
        return sh("ovn-nbctl", "--db=unix:%s/ovn/nb.sock" % self.sandbox,
                  *args).stdout

    def vsctl(self, *args):
        """ovs-vsctl on the sandbox's Open_vSwitch database (no waiting
        for ovs-vswitchd)."""
        return sh("ovs-vsctl", "--no-wait",
                  "--db=unix:%s/ovs/db.sock" % self.sandbox, *args).stdout

    def appctl(self, *args):
        """ovs-appctl to the sandbox's ovs-vswitchd."""
        return sh("ovs-appctl", "-t",
                  "%s/ovs/ovs-vswitchd.ctl" % self.sandbox, *args).stdout

    def lsp_uuid(self, name):
        return self.nbctl("--bare", "--columns=_uuid", "find",
                          "Logical_Switch_Port", "name=%s" % name).strip()

    def nb_dump(self):
        """Every row we care about, for before/after comparisons."""
        out = []
        for table in ("Logical_Switch", "Logical_Switch_Port", "Port_Group",
                      "ACL", "DHCP_Options", "DNS", "Address_Set"):
            out.append(self.nbctl("--format=json", "--columns=_uuid",
                                  "list", table))
            out.append(self.nbctl("--format=json", "list", table)
                       .replace(" ", ""))
        return out

    def nb_rows(self, table, key, value):
        """Rows of 'table' whose external_ids:key == value."""
        out = self.nbctl("--format=json", "find", table,
                         "external_ids:\"%s\"=\"%s\"" % (key, value))
        return json.loads(out)["data"]


class NetVM:
    count = 0

    def __init__(self, node, port):
        NetVM.count += 1
        self.node = node
        self.port = port
        self.ns = "lqt%d-%d" % (os.getpid() % 10000, NetVM.count)
        tag = "%d-%d" % (os.getpid() % 1000, NetVM.count)
        self.host_dev = "lqh" + tag
        peer = "lqp" + tag
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.host_dev, "type", "veth", "peer",
           "name", peer)
        sh("ip", "link", "set", peer, "netns", self.ns)
        self.x("ip", "link", "set", peer, "name", "eth0")
        self.x("ip", "link", "set", "eth0", "address", port["macAddress"])
        self.x("ip", "link", "set", "lo", "up")
        self.x("ip", "link", "set", "eth0", "up")
        sh("ip", "link", "set", self.host_dev, "up")
        sh("ethtool", "-K", self.host_dev, "tx", "off")
        self.x("ethtool", "-K", "eth0", "tx", "off")
        self.procs = []

    def x(self, *argv, check=True, timeout=30):
        return sh("ip", "netns", "exec", self.ns, *argv, check=check,
                  timeout=timeout)

    def bind(self, expect=200):
        return self.node.api(PORT + "BindPort", {
            "portId": self.port["id"], "deviceName": self.host_dev,
            "vmId": "vm-" + self.ns}, expect=expect)

    def configure(self, mtu=None):
        """Static addresses from the port's fixed IPs."""
        for f in self.port["fixedIps"]:
            plen = f["subnetCidr"].split("/")[1]
            if ":" in f["ipAddress"]:
                self.x("ip", "-6", "addr", "add",
                       "%s/%s" % (f["ipAddress"], plen), "dev", "eth0",
                       "nodad")
            else:
                self.x("ip", "addr", "add", "%s/%s" % (f["ipAddress"], plen),
                       "dev", "eth0")
        if mtu:
            self.x("ip", "link", "set", "eth0", "mtu", str(mtu))

    def ip4(self):
        return [f["ipAddress"] for f in self.port["fixedIps"]
                if ":" not in f["ipAddress"]][0]

    def ip6(self):
        return [f["ipAddress"] for f in self.port["fixedIps"]
                if ":" in f["ipAddress"]][0]

    def ping(self, ip, count=1):
        cmd = "ping6" if ":" in ip else "ping"
        r = self.x(cmd, "-c", str(count), "-W", "1", ip, check=False)
        return r.returncode == 0

    def ping_eventually(self, ip, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.ping(ip):
                return True
        return False

    def listen(self, proto, port):
        """A server echoing "ok" to each client, in the background."""
        code = ("import socket,sys\n"
                "p=sys.argv[1]; n=int(sys.argv[2])\n"
                "fam=socket.AF_INET6 if ':' in sys.argv[3] else socket.AF_INET\n"
                "if p=='tcp':\n"
                "  s=socket.socket(fam); s.setsockopt(socket.SOL_SOCKET,"
                "socket.SO_REUSEADDR,1); s.bind((sys.argv[3],n)); s.listen()\n"
                "  while True:\n"
                "    c,_=s.accept(); c.sendall(b'ok'); c.close()\n"
                "else:\n"
                "  s=socket.socket(fam,socket.SOCK_DGRAM); s.bind((sys.argv[3],n))\n"
                "  while True:\n"
                "    d,a=s.recvfrom(100); s.sendto(b'ok',a)\n")
        any_addr = "::" if proto.endswith("6") else "0.0.0.0"
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable,
                              "-c", code, proto.rstrip("6"), str(port),
                              any_addr])
        self.procs.append(p)
        time.sleep(0.3)

    def connect(self, proto, ip, port, timeout=2):
        code = ("import socket,sys\n"
                "fam=socket.AF_INET6 if ':' in sys.argv[2] else socket.AF_INET\n"
                "t=socket.SOCK_STREAM if sys.argv[1]=='tcp' else socket.SOCK_DGRAM\n"
                "s=socket.socket(fam,t); s.settimeout(float(sys.argv[4]))\n"
                "s.connect((sys.argv[2],int(sys.argv[3])))\n"
                "if t==socket.SOCK_DGRAM: s.send(b'hi')\n"
                "print(s.recv(10).decode())\n")
        r = self.x(sys.executable, "-c", code, proto, ip, str(port),
                   str(timeout), check=False, timeout=timeout + 10)
        return r.stdout.strip() == "ok"

    def destroy(self):
        for p in self.procs:
            p.kill()
            p.wait()
        sh("ip", "netns", "del", self.ns, check=False)
        sh("ip", "link", "del", self.host_dev, check=False)
