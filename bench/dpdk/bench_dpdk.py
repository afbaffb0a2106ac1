#!/usr/bin/env python3
"""bench_dpdk: 64-byte VM-to-VM forwarding through OVN-programmed flows on
the DPDK fast path vs OVS's userspace datapath without DPDK, in one run.

  bench/dpdk/bench_dpdk.py [--node build/limiquantix-node] [--seconds 5]
                           [--chart docs/img/dpdk-bench.svg]

Both datapaths get the same logical configuration through the API: one
network, two ports A and B, bound by BindPort, first without port
security or security groups ("plain"), then with port security and a
stateful security group allowing UDP from A to B (every packet through
conntrack, committed once, then established).

The traffic comes from one DPDK testpmd in `io` forwarding mode that holds
both "VMs": port 0 is A, port 1 is B.  `start tx_first 64` injects 64
bursts of 64-byte UDP packets from A to B's MAC and IP; whatever OVS
delivers to B comes back out of A (io forwarding), so the same packets
loop A->B through OVS as fast as the datapath forwards them.  (B's own
injected burst goes to an unknown MAC and is dropped.)  The rate is
testpmd's Rx-pps on port 1 over the measuring window: packets per second
OVS forwarded from A to B.
- DPDK fast path: --sandbox with dpdk.enabled (ovs-vswitchd-dpdk, one PMD
  on CPU 1); A and B are vhost-user ports; testpmd uses virtio-user
  (--single-file-segments), forwarding on CPU 0.
- Userspace path: --sandbox (plain ovs-vswitchd, datapath netdev); A and B
  are veth devices bound by BindPort; testpmd uses net_af_packet on their
  peers, forwarding on CPU 0.
Also reported: the packets per second the datapath took in (OVS's own
count, pmd-stats-show after pmd-stats-clear; on the userspace path some
forwarded packets are lost on the way to testpmd's af_packet socket, so
this is higher than what B receives), and cycles per packet:
ovs-vswitchd's CPU time (utime+stime, all threads) during the window times
the CPU clock, over the packets the datapath took in; for the DPDK path
also OVS's own "processing cycles per packet" of the PMD (the number on
/metrics as limiquantix_dpdk_pmd_cycles_per_packet).

Needs root, 2 CPUs, hugepages (reserved and given back).  Prints a
markdown table; --chart writes an SVG bar chart.
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "dpdk"))
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

from netlib import NET, PORT, SG, new_id, sh  # noqa: E402

BOGUS_MAC = "02:00:00:00:be:ef"


def tsc_hz():
    with open("/proc/cpuinfo") as f:
        m = re.search(r"cpu MHz\s*:\s*([\d.]+)", f.read())
    return float(m.group(1)) * 1e6


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Testpmd:
    """Interactive testpmd, io forwarding on CPU 0 between two ports."""

    def __init__(self, vdevs, tx_ip, peer_mac, extra_eal=()):
        # stdbuf: testpmd printf()s its statistics, and stdout is a pipe.
        argv = ["stdbuf", "-o0", "taskset", "-c", "0,1", "dpdk-testpmd", "--main-lcore", "1",
                "-l", "0,1", "--no-pci", "--no-telemetry",
                "--file-prefix=lqbench%d" % os.getpid()]
        argv += list(extra_eal)
        argv += ["--vdev=" + v for v in vdevs]
        argv += ["--", "-i", "--no-mlockall", "--total-num-mbufs=16384",
                 "--forward-mode=io", "--burst=64", "--txpkts=64",
                 "--tx-ip=%s" % tx_ip, "--tx-udp=4000,5001",
                 "--eth-peer=0,%s" % peer_mac,
                 "--eth-peer=1,%s" % BOGUS_MAC]
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     bufsize=1)
        self.out = []
        self.expect("testpmd> ", 60)

    def expect(self, prompt, timeout):
        """Reads output up to 'prompt'; returns it."""
        buf = ""
        deadline = time.time() + timeout
        fd = self.proc.stdout.fileno()
        os.set_blocking(fd, False)
        while prompt not in buf:
            try:
                chunk = os.read(fd, 65536).decode(errors="replace")
            except BlockingIOError:
                chunk = None
            if chunk:
                buf += chunk
                continue
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("%s (exit %s): no %r:\n%s"
                                   % (" ".join(self.argv), self.proc.poll(),
                                      prompt, buf[-3000:]))
            time.sleep(0.05)
        self.out.append(buf)
        return buf

    def cmd(self, line, timeout=30):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.expect("testpmd> ", timeout)

    def quit(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def port_stats(text, port):
    m = re.search(r"NIC statistics for port %d.*?RX-packets: +(\d+).*?"
                  r"Rx-pps: +(\d+)" % port, text, re.S)
    if not m:
        raise RuntimeError("no statistics for port %d in:\n%s"
                           % (port, text))
    return int(m.group(1)), int(m.group(2))


class Run:
    """One datapath: a sandbox daemon, a network, ports A and B."""

    def __init__(self, dpdk, node_bin, bursts=64):
        import lqtest
        self.bursts = bursts
        from netlib import Node
        lqtest.NODE = node_bin
        self.dpdk = dpdk
        if dpdk:
            from dpdklib import DpdkNode
            self.node = DpdkNode(pages=512)
        else:
            self.node = Node()
            self.node.args = ["taskset", "-c", "1"] + self.node.args
        self.node.start(wait=False)
        self.node.wait_ready(timeout=120)
        if dpdk:
            deadline = time.time() + 60
            while "DPDK initialized" not in self.node.read_log():
                if time.time() > deadline:
                    raise RuntimeError(self.node.read_log())
                time.sleep(0.2)
        self.veths = []

    def vswitchd_pid(self):
        with open("%s/ovs/ovs-vswitchd.pid" % self.node.sandbox) as f:
            return int(f.read())

    def setup(self):
        n = self.node
        self.net = n.api(NET + "CreateNetwork", {
            "id": new_id(), "name": "bench",
            "subnets": [{"cidr": "10.90.0.0/24"}]})
        self.a = n.api(PORT + "CreatePort", {
            "id": new_id(), "networkId": self.net["id"],
            "portSecurityEnabled": False})
        self.b = n.api(PORT + "CreatePort", {
            "id": new_id(), "networkId": self.net["id"],
            "portSecurityEnabled": False})
        self.vdevs = []
        for i, p in enumerate((self.a, self.b)):
            if self.dpdk:
                dev = "vhbench%d" % i
                n.api(PORT + "BindPort", {"portId": p["id"],
                                          "deviceName": dev,
                                          "deviceType": "vhostuser"})
                self.vdevs.append(
                    "net_virtio_user%d,path=%s/%s,server=1,mac=%s"
                    % (i, n.vhost_dir(), dev, p["macAddress"]))
            else:
                dev, peer = "lqbv%d" % i, "lqbv%dp" % i
                sh("ip", "link", "del", dev, check=False)
                sh("ip", "link", "add", dev, "type", "veth", "peer", "name",
                   peer)
                self.veths.append(dev)
                sh("ip", "link", "set", peer, "address", p["macAddress"])
                for d in (dev, peer):
                    sh("ip", "link", "set", d, "up")
                    sh("ethtool", "-K", d, "tx", "off", check=False)
                n.api(PORT + "BindPort", {"portId": p["id"],
                                          "deviceName": dev})
                self.vdevs.append("net_af_packet%d,iface=%s,qpairs=1"
                                  % (i, peer))

    def secure(self):
        """Port security and a stateful SG on both ports."""
        n = self.node
        self.sg = n.api(SG + "CreateSecurityGroup", {
            "id": new_id(), "name": "udp", "rules": [
                {"id": new_id(), "direction": "ingress", "protocol": "udp"},
                {"id": new_id(), "direction": "egress"}]})
        for p in (self.a, self.b):
            n.api(PORT + "UpdatePort", {
                "port": {"id": p["id"], "portSecurityEnabled": True,
                         "securityGroupIds": [self.sg["id"]]},
                "updateMask": "portSecurityEnabled,securityGroupIds"})
        time.sleep(2)       # ovn-controller installs the ACL flows.

    def start_loop(self, t, tries=5):
        """Injects the packets; again if the loop died out (injected before
        ovn-controller had installed the flows, so all were dropped)."""
        for _ in range(tries):
            t.cmd("start tx_first %d" % self.bursts)
            time.sleep(2)                   # Flows set up, loop full.
            rx0 = port_stats(t.cmd("show port stats all"), 1)[0]
            time.sleep(0.5)
            if port_stats(t.cmd("show port stats all"), 1)[0] > rx0:
                return
            t.cmd("stop")
        raise RuntimeError("no packets loop from A to B")

    def measure(self, seconds):
        self.node.appctl("dpctl/del-flows")
        ip = lambda p: p["fixedIps"][0]["ipAddress"]  # noqa: E731
        # Without hugepages (af_packet needs none) EAL cannot run
        # --in-memory; its runtime directory is removed after.
        extra = ["--in-memory", "--single-file-segments", "-m", "256"] \
            if self.dpdk else ["--no-huge", "-m", "512"]
        t = Testpmd(self.vdevs, "%s,%s" % (ip(self.a), ip(self.b)),
                    self.b["macAddress"], extra)
        try:
            if self.dpdk:
                for dev in ("vhbench0", "vhbench1"):
                    deadline = time.time() + 30
                    while self.node.vsctl("get", "Interface", dev,
                                     "link_state").strip() != "up":
                        if time.time() > deadline:
                            raise RuntimeError("vhost link %s down" % dev)
                        time.sleep(0.2)
            self.start_loop(t)
            self.node.appctl("dpif-netdev/pmd-stats-clear")
            pid = self.vswitchd_pid()
            cpu0, t0 = cpu_seconds(pid), time.time()
            rx0 = port_stats(t.cmd("show port stats all"), 1)[0]
            time.sleep(seconds)
            text = t.cmd("show port stats all")
            cpu1, t1 = cpu_seconds(pid), time.time()
            rx1 = port_stats(text, 1)[0]
            pmd = self.node.appctl("dpif-netdev/pmd-stats-show")
            if os.environ.get("LQ_BENCH_DEBUG"):
                print(pmd, file=sys.stderr)
            t.cmd("stop")
        finally:
            t.quit()
            sh("rm", "-rf", "/var/run/dpdk/lqbench%d" % os.getpid())
        pps = (rx1 - rx0) / (t1 - t0)
        # Packets the datapath took in (PMD and main thread), which is
        # what ovs-vswitchd's CPU time was spent on.
        dp_packets = sum(int(x) for x in
                         re.findall(r"packets received: (\d+)", pmd))
        cpp = (cpu1 - cpu0) * tsc_hz() / dp_packets if dp_packets else 0
        m = re.search(r"pmd thread.*?avg processing cycles per packet: "
                      r"([\d.]+)", pmd, re.S)
        return {"mpps": pps / 1e6, "cycles": cpp,
                "dp_mpps": dp_packets / (t1 - t0) / 1e6,
                "pmd_cycles": float(m.group(1)) if m else None,
                "cpu": (cpu1 - cpu0) / (t1 - t0)}

    def stop(self):
        rc = self.node.stop()
        for d in self.veths:
            sh("ip", "link", "del", d, check=False)
        if rc:
            raise RuntimeError("daemon exited %d:\n%s"
                               % (rc, self.node.read_log()[-2000:]))


def svg_chart(results, path):
    """Horizontal bars, Mpps, one per scenario."""
    rows = [("DPDK, plain", results["dpdk"]["plain"]["mpps"], "#2b7bb9"),
            ("DPDK, stateful SG", results["dpdk"]["sg"]["mpps"], "#2b7bb9"),
            ("userspace, plain", results["userspace"]["plain"]["mpps"],
             "#999999"),
            ("userspace, stateful SG", results["userspace"]["sg"]["mpps"],
             "#999999")]
    top = max(r[1] for r in rows) or 1
    width, bar_x, bar_w = 640, 170, 380
    lines = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" '
             'height="%d" font-family="sans-serif" font-size="13">'
             % (width, 40 + 34 * len(rows)),
             '<text x="10" y="20" font-weight="bold">64-byte VM-to-VM '
             'forwarding through OVN flows, one direction (Mpps)</text>']
    for i, (label, v, color) in enumerate(rows):
        y = 36 + 34 * i
        w = max(1, int(bar_w * v / top))
        lines.append('<text x="10" y="%d">%s</text>' % (y + 17, label))
        lines.append('<rect x="%d" y="%d" width="%d" height="24" '
                     'fill="%s"/>' % (bar_x, y, w, color))
        lines.append('<text x="%d" y="%d">%.2f</text>'
                     % (bar_x + w + 6, y + 17, v))
    lines.append("</svg>")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", default=os.path.join(ROOT, "build",
                                                   "limiquantix-node"))
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--bursts", type=int, default=64,
                    help="bursts of 64 packets injected into the loop")
    ap.add_argument("--chart")
    args = ap.parse_args()
    os.environ["LQ_NODE"] = os.path.abspath(args.node)

    results = {}
    for name, dpdk in (("dpdk", True), ("userspace", False)):
        run = Run(dpdk, os.path.abspath(args.node), args.bursts)
        try:
            run.setup()
            plain = run.measure(args.seconds)
            run.secure()
            sg = run.measure(args.seconds)
            results[name] = {"plain": plain, "sg": sg}
        finally:
            run.stop()

    d, u = results["dpdk"], results["userspace"]
    print("| scenario | DPDK fast path | userspace (no DPDK) | ratio |")
    print("|---|---|---|---|")
    for key, label in (("plain", "no security group"),
                       ("sg", "stateful security group")):
        print("| %s: Mpps delivered to B | %.2f | %.3f | %.1fx |"
              % (label, d[key]["mpps"], u[key]["mpps"],
                 d[key]["mpps"] / u[key]["mpps"] if u[key]["mpps"] else 0))
        print("| %s: Mpps into the datapath (OVS's count) | %.2f | %.3f | "
              "%.1fx |" % (label, d[key]["dp_mpps"], u[key]["dp_mpps"],
                           d[key]["dp_mpps"] / u[key]["dp_mpps"]
                           if u[key]["dp_mpps"] else 0))
        print("| %s: ovs-vswitchd CPU cycles/packet | %.0f | %.0f | %.2f |"
              % (label, d[key]["cycles"], u[key]["cycles"],
                 d[key]["cycles"] / u[key]["cycles"]
                 if u[key]["cycles"] else 0))
        print("| %s: PMD processing cycles/packet (OVS) | %s | - | |"
              % (label, "%.0f" % d[key]["pmd_cycles"]
                 if d[key]["pmd_cycles"] is not None else "-"))
        print("| %s: ovs-vswitchd CPU use | %.0f%% | %.0f%% | |"
              % (label, 100 * d[key]["cpu"], 100 * u[key]["cpu"]))
    for name in ("dpdk", "userspace"):
        # From the datapath's own rate: the cost of the ct() actions and
        # the recirculations a stateful security group adds per packet.
        plain, sg = results[name]["plain"], results[name]["sg"]
        cost = (1 / sg["dp_mpps"] - 1 / plain["dp_mpps"]) * 1e3 \
            if sg["dp_mpps"] and plain["dp_mpps"] else 0
        print("\nconntrack cost on %s: %.0f ns/packet, %.0f cycles/packet "
              "(%.0f%% of the plain rate left)"
              % (name, cost, sg["cycles"] - plain["cycles"],
                 100 * sg["dp_mpps"] / plain["dp_mpps"]
                 if plain["dp_mpps"] else 0))
    if args.chart:
        svg_chart(results, args.chart)
        print("\nchart: %s" % args.chart)


if __name__ == "__main__":
    main()
