#!/usr/bin/env python3
"""Differential test of `lqctl nb` against Debian's ovn-nbctl 23.03.

Builds many randomised OVN Northbound databases, each in a private
ovsdb-server under a temporary directory: a first part written by real
ovn-nbctl commands (what operators and Neutron write), a second by one
ovsdb-client transaction of random rows (every address form, every ACL
direction/action/option, routes with ECMP, route tables, invalid prefixes,
NAT of every type, load balancers and groups, DHCP options, DNS, QoS,
meters, port groups, names that need quoting, UTF-8, empty sets and maps,
duplicate names).  Then it runs the same command lines through
`ovn-nbctl` and `lqctl nb` and requires the same stdout, the same stderr
and the same exit status.  The only thing masked is the wall-clock time
at the start of a log line (ovsdb's reconnect warnings), which no two runs
share.

Then it checks what only lqctl nb does: write commands (and "sync" with
--wait) are refused and the database stays as it was.

Environment: LQ_CTL (path to lqctl).  Options: --dbs N (default 50),
--seed S (default: random, printed, so a failure can be replayed),
--jobs J (parallel databases, default 3), --per-db N (random command
lines per database, default 45, plus about 25 fixed ones), --verbose.
Python standard library only.
"""
import argparse
import collections
import concurrent.futures
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"
LQCTL = os.environ.get("LQ_CTL", "lqctl")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\|",
                       re.MULTILINE)

# Names chosen to need quoting, escaping or UTF-8 somewhere.
ODD_NAMES = ["with space", 'quo"te', "back\\slash", "ünïcødé", "сеть",
             "日本語", "a,b", "x=y", "{brace}", "[sq]", "semi;colon",
             "emoji-\U0001F680", "tab\there", "123", "-dash", "new\nline",
             "a" * 40, "dollar$sign", "'single'", "colon:name"]
MATCHES = ["ip4", "ip6", "ip", 'inport == "p1" && ip4.src == 10.0.0.0/8',
           "tcp.dst == 22", "udp && udp.dst == {53, 67}", "arp",
           'outport == "ünï" && ip4', "1", "icmp4 || icmp6",
           "eth.src == 00:00:00:00:00:01", 'ip4.dst == $as_1 && tcp']
ACL_ACTIONS = ["allow", "allow-related", "allow-stateless", "drop", "reject"]
SEVERITIES = ["alert", "warning", "notice", "info", "debug"]
DIRECTIONS = ["from-lport", "to-lport"]
PORT_TYPES = ["", "", "", "router", "localnet", "localport", "external",
              "virtual", "vtep", "l2gateway"]
V4 = ["10.0.0.0/24", "10.0.0.1/24", "0.0.0.0/0", "192.168.1.1",
      "192.168.1.1/32", "172.16.0.0/12", "10.1.2.3/8", "10.0.0.0/24"]
V6 = ["fd00::/64", "fd00::1/64", "::/0", "2001:db8::1", "2001:db8::/32",
      "fd00:1::5/128"]
BAD_PREFIXES = ["bogus", "10.0.0.0/33", "", "fd00::/129"]
NEXTHOPS = ["10.0.0.1", "10.0.0.254", "fd00::1", "discard", "",
            "10.0.0.1/24", "not-an-ip"]
VIP_KEYS = ["1.1.1.1:80", "1.1.1.1", "[fd00::1]:443", "fd00::2",
            "10.0.0.10:8080", "bogus", "2.2.2.2:53", "[fd00::3]"]
TABLES = ["ACL", "Address_Set", "BFD", "Connection", "DHCP_Options", "DNS",
          "Gateway_Chassis", "HA_Chassis", "HA_Chassis_Group",
          "Load_Balancer", "Load_Balancer_Group", "Logical_Router",
          "Logical_Router_Policy", "Logical_Router_Port",
          "Logical_Router_Static_Route", "Logical_Switch",
          "Logical_Switch_Port", "Meter", "Meter_Band", "NAT", "NB_Global",
          "Port_Group", "QoS", "Static_MAC_Binding", "Mirror", "Copp",
          "Forwarding_Group", "Chassis_Template_Var"]


def mac(rng):
    return "0a:00:%02x:%02x:%02x:%02x" % tuple(rng.randrange(256)
                                               for _ in range(4))


def v4(rng):
    return "10.%d.%d.%d" % (rng.randrange(4), rng.randrange(256),
                            rng.randrange(1, 255))


def v6(rng):
    return "fd00::%x" % rng.randrange(1, 0xffff)


def smap(rng, keys, values, max_n=3):
    n = rng.randrange(max_n + 1)
    return {rng.choice(keys): rng.choice(values) for _ in range(n)}


def oset(values):
    """An OVSDB set in JSON."""
    return ["set", list(values)]


def omap(d):
    return ["map", [[k, v] for k, v in sorted(d.items())]]


def ref(name):
    return ["named-uuid", name]


def maybe(rng, value, p=0.5):
    """An optional column: the value, or the empty set."""
    return value if rng.random() < p else ["set", []]


class Server:
    """A private ovsdb-server with a fresh Northbound database."""

    def __init__(self, root):
        self.dir = tempfile.mkdtemp(prefix="nbdiff-", dir=root)
        self.db = os.path.join(self.dir, "nb.db")
        self.sock = os.path.join(self.dir, "nb.sock")
        self.pidfile = os.path.join(self.dir, "nb.pid")
        self.remote = "unix:" + self.sock
        subprocess.run(["ovsdb-tool", "create", self.db, SCHEMA], check=True,
                       capture_output=True)
        subprocess.run(["ovsdb-server", self.db,
                        "--remote=punix:" + self.sock,
                        "--pidfile=" + self.pidfile,
                        "--unixctl=" + os.path.join(self.dir, "nb.ctl"),
                        "--log-file=" + os.path.join(self.dir, "nb.log"),
                        "--detach", "--no-chdir"], check=True,
                       capture_output=True)

    def stop(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, 15)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.01)
        except (OSError, ValueError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def clean_env(remote=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OVN_NB_DAEMON", "OVN_NBCTL_OPTIONS", "OVN_NB_DB")}
    if remote:
        env["OVN_NB_DB"] = remote
    return env


def nbctl(remote, *args):
    r = subprocess.run(["ovn-nbctl", "--db=" + remote, *args],
                       capture_output=True, text=True, env=clean_env())
    if r.returncode:
        raise RuntimeError("ovn-nbctl %s: %s" % (args[:6], r.stderr))
    return r.stdout


def transact(remote, ops):
    r = subprocess.run(["ovsdb-client", "transact", remote,
                        json.dumps(["OVN_Northbound", *ops])],
                       capture_output=True, text=True, check=True)
    result = json.loads(r.stdout)
    for op in result:
        if op and "error" in op:
            raise RuntimeError("transaction failed: %s" % result)
    return result


# Phase 1: what ovn-nbctl itself writes.
def populate_with_nbctl(rng, remote):
    cmds = []
    used_ips = set()

    def unique(gen):
        # ovn-nbctl refuses an address already used on the same switch.
        while True:
            ip = gen(rng)
            if ip not in used_ips:
                used_ips.add(ip)
                return ip

    def add(*argv, options=()):
        cmds.extend(["--", *options, *argv])

    n_ls = rng.randrange(1, 4)
    for i in range(n_ls):
        ls = "ls%d" % i
        add("ls-add", ls)
        for j in range(rng.randrange(0, 4)):
            p = "%s-p%d" % (ls, j)
            add("lsp-add", ls, p)
            a = mac(rng)
            form = rng.randrange(5)
            ip = unique(v4)
            addrs = {0: [a], 1: ["%s %s" % (a, ip)],
                     2: ["%s %s %s" % (a, ip, unique(v6))],
                     3: ["unknown", "%s %s" % (a, ip)],
                     4: ["dynamic"]}[form]
            add("lsp-set-addresses", p, *addrs)
            if rng.random() < 0.5:
                add("lsp-set-port-security", p, "%s %s/24" % (a, ip))
            if rng.random() < 0.3:
                add("lsp-set-type", p, rng.choice(["localnet", "localport"]))
                add("lsp-set-options", p, "network_name=physnet%d" % j)
            if rng.random() < 0.3:
                add("lsp-set-enabled", p, rng.choice(["enabled",
                                                      "disabled"]))
        for j in range(rng.randrange(0, 4)):
            opts = ["--may-exist"]
            if rng.random() < 0.4:
                opts = ["--log", "--severity=%s" % rng.choice(SEVERITIES),
                        "--name=acl%d" % j]
            if rng.random() < 0.3:
                opts.append("--apply-after-lb")
            action = rng.choice(["allow", "allow-related", "drop",
                                 "reject"])
            if action.startswith("allow") and rng.random() < 0.3:
                opts.append("--label=%d" % rng.randrange(1, 5000))
            add("acl-add", ls, rng.choice(DIRECTIONS),
                str(rng.choice([0, 100, 1001, 1002, 32767])),
                rng.choice(MATCHES), action, options=opts)
    if rng.random() < 0.7:
        add("pg-add", "pg_nbctl")
        add("acl-add", "pg_nbctl", "to-lport", "1002",
            "outport == @pg_nbctl && ip4", "allow-related")
        add("acl-add", "pg_nbctl", "from-lport", "1002",
            "inport == @pg_nbctl && ip6", "allow-related")

    for i in range(rng.randrange(0, 3)):
        lr = "lr%d" % i
        add("lr-add", lr)
        for j in range(rng.randrange(0, 3)):
            lrp = "%s-rp%d" % (lr, j)
            add("lrp-add", lr, lrp, mac(rng), "10.%d.%d.1/24" % (i, j),
                "fd%02x:%x::1/64" % (i, j))
            if rng.random() < 0.4:
                add("lrp-set-gateway-chassis", lrp, "chassis-%d" % j,
                    str(rng.randrange(1, 30)))
        routes = set()
        for j in range(rng.randrange(0, 5)):
            opts = []
            table = rng.choice(["", "", "rtb0", "rtb1"])
            policy = rng.choice(["", "", "src-ip"])
            if table:
                opts.append("--route-table=" + table)
            if policy:
                opts.append("--policy=" + policy)
            prefix = rng.choice(["0.0.0.0/0", "10.9.%d.0/24" % j,
                                 "192.168.0.0/24", "fd99::/64"])
            hop = "10.%d.0.%d" % (i, j + 2) if ":" not in prefix else \
                "fd%02x:0::%x" % (i, j + 2)
            if (prefix, table, policy) in routes:
                opts.append("--ecmp")       # Another next hop: ECMP.
            routes.add((prefix, table, policy))
            add("lr-route-add", lr, prefix, hop, options=opts)
        if rng.random() < 0.6:
            add("lr-nat-add", lr, "snat", "172.16.%d.1" % i,
                "10.%d.0.0/16" % i)
        if rng.random() < 0.4:
            add("lr-nat-add", lr, "dnat", "172.16.%d.2" % i, "10.%d.0.5" % i)

    for i in range(rng.randrange(0, 3)):
        lb = "lb%d" % i
        add("lb-add", lb, "30.0.0.%d:80" % (i + 1),
            "10.0.0.2:80,10.0.0.3:80", rng.choice(["tcp", "udp"]))
        if rng.random() < 0.5:
            add("lb-add", lb, "30.0.1.%d" % (i + 1), "10.0.0.4")
        if n_ls and rng.random() < 0.6:
            add("ls-lb-add", "ls%d" % rng.randrange(n_ls), lb)
    if rng.random() < 0.5:
        add("meter-add", "meter%d" % rng.randrange(3), "drop",
            str(rng.randrange(1, 1000)), rng.choice(["kbps", "pktps"]),
            options=["--fair"] if rng.random() < 0.5 else [])
    if rng.random() < 0.3:
        add("set-connection", "ptcp:6641", "pssl:6642")
    if n_ls and rng.random() < 0.4:
        add("qos-add", "ls0", "from-lport", "100", "ip4", "rate=100",
            "burst=200", "dscp=12")
    if rng.random() < 0.3:
        add("ha-chassis-group-add", "hag0")
        add("ha-chassis-group-add-chassis", "hag0", "ch-a", "10")
    if cmds:
        nbctl(remote, *cmds)


# Phase 2: random rows written with one ovsdb-client transaction.
def populate_with_transaction(rng, remote):
    ops = []
    names = {"ls": [], "lsp": [], "lr": [], "lrp": [], "lb": [],
             "dhcp": [], "pg": []}
    counter = [0]

    def uname(kind):
        counter[0] += 1
        return "%s%d" % (kind, counter[0])

    def insert(table, row, kind=None):
        n = uname(kind or table.lower())
        ops.append({"op": "insert", "table": table, "row": row,
                    "uuid-name": n})
        return n

    def name(prefix):
        r = rng.random()
        if r < 0.35:
            return rng.choice(ODD_NAMES)
        if r < 0.4:
            return ""
        return "%s-%d" % (prefix, rng.randrange(1000))

    used_port_names = set()

    def unique(prefix):
        for _ in range(100):
            n = name(prefix)
            if n not in used_port_names:
                used_port_names.add(n)
                return n
        n = "%s-%s" % (prefix, uuid.uuid4())
        used_port_names.add(n)
        return n

    dhcps = []
    for _ in range(rng.randrange(0, 4)):
        cidr = rng.choice(["10.0.0.0/24", "192.168.0.0/16", "fd00::/64",
                           "10.5.0.0/24"])
        opts = smap(rng, ["lease_time", "router", "server_id", "server_mac",
                          "dns_server", "mtu", "domain_name"],
                    ["3600", "10.0.0.1", "{8.8.8.8, 1.1.1.1}",
                     '"example.org"', "0a:00:00:00:00:01", "1442"], 5)
        dhcps.append(insert("DHCP_Options", {
            "cidr": cidr, "options": omap(opts),
            "external_ids": omap(smap(rng, ["k"], ["v"]))}))

    bfds = [insert("BFD", {"logical_port": "lrp-bfd%d" % i,
                           "dst_ip": "10.0.0.%d" % i})
            for i in range(rng.randrange(0, 2))]

    lbs = []
    for _ in range(rng.randrange(0, 4)):
        template = rng.random() < 0.25
        if template:
            vips = {"^VIP%d:^PORT" % i: "^BACKENDS" for i in range(2)}
        else:
            vips = {rng.choice(VIP_KEYS): "10.0.0.%d:80,10.0.0.%d:80" % (
                rng.randrange(2, 9), rng.randrange(10, 20))
                for _ in range(rng.randrange(0, 4))}
        opts = {"template": "true"} if template else \
            smap(rng, ["reject", "hairpin_snat_ip"], ["true", "1.2.3.4"], 1)
        lbs.append(insert("Load_Balancer", {
            "name": name("lb") if rng.random() < 0.8 else "lb-dup",
            "vips": omap(vips), "options": omap(opts),
            "protocol": maybe(rng, rng.choice(["tcp", "udp", "sctp"]),
                              0.7)}))
    groups = []
    for i in range(rng.randrange(0, 3)):
        groups.append(insert("Load_Balancer_Group", {
            "name": "lbg%d-%d" % (i, rng.randrange(1000)),
            "load_balancer": oset(ref(x) for x in rng.sample(
                lbs, rng.randrange(len(lbs) + 1)))}))

    ports_all = []
    for _ in range(rng.randrange(1, 5)):
        ports = []
        for _ in range(rng.randrange(0, 6)):
            pname = unique("port")
            a = mac(rng)
            forms = [a, "%s %s" % (a, v4(rng)),
                     "%s %s %s" % (a, v4(rng), v6(rng)),
                     "%s %s" % (a, v6(rng)),
                     "%s %s %s" % (a, v4(rng), v4(rng)),
                     "unknown", "dynamic", "router", "%s dynamic" % a,
                     "dynamic %s" % v4(rng), "not an address"]
            n_addr = rng.choice([0, 1, 1, 1, 2, 3])
            addresses = rng.sample(forms, n_addr)
            psec = rng.sample([a, "%s %s/24" % (a, v4(rng)),
                               "%s %s %s/64" % (a, v4(rng), v6(rng))],
                              rng.randrange(3))
            opts = smap(rng, ["router-port", "requested-chassis", "foo",
                              "network_name", "ünï"],
                        ["lrp-x", "chassis-1", "bar", "phys", "",
                         "va lue"], 3)
            ext = smap(rng, ["neutron:port_name", "limiquantix:port_id"],
                       ["", "nice-name", "ünï"], 2)
            row = {"name": pname, "type": rng.choice(PORT_TYPES),
                   "addresses": oset(addresses),
                   "port_security": oset(psec),
                   "options": omap(opts), "external_ids": omap(ext),
                   "up": maybe(rng, rng.random() < 0.5, 0.6),
                   "enabled": maybe(rng, rng.random() < 0.5, 0.4)}
            if rng.random() < 0.2:
                row["parent_name"] = rng.choice(["parent", "ünï"])
                row["tag_request"] = rng.randrange(0, 4096)
            if rng.random() < 0.2:
                row["tag"] = rng.randrange(1, 4096)
            if dhcps and rng.random() < 0.5:
                row["dhcpv4_options"] = ref(rng.choice(dhcps))
            if dhcps and rng.random() < 0.3:
                row["dhcpv6_options"] = ref(rng.choice(dhcps))
            ports.append(insert("Logical_Switch_Port", row, "lsp"))
            names["lsp"].append(pname)
        ports_all += ports

        acls = []
        n_acls = rng.randrange(0, 7)
        base = None
        for k in range(n_acls):
            row = {"direction": rng.choice(DIRECTIONS),
                   "priority": rng.choice([0, 1, 1001, 1002, 2000, 32767]),
                   "match": rng.choice(MATCHES),
                   "action": rng.choice(ACL_ACTIONS),
                   "log": rng.random() < 0.4,
                   "name": maybe(rng, rng.choice(["n1", "ünï", "a b",
                                                  "x" * 63])),
                   "severity": maybe(rng, rng.choice(SEVERITIES)),
                   "meter": maybe(rng, rng.choice(["m1", "acl-meter"]), 0.3),
                   "label": rng.choice([0, 0, 7, 4294967295]),
                   "options": omap(smap(rng, ["apply-after-lb", "x"],
                                        ["true", "false", "yes"], 1))}
            if base and rng.random() < 0.3:
                # Same sort key, different action: a tie to break.
                row.update({k2: base[k2] for k2 in
                            ("direction", "priority", "match", "options")})
            base = row
            acls.append(insert("ACL", row))

        qos = []
        for _ in range(rng.randrange(0, 3)):
            qos.append(insert("QoS", {
                "priority": rng.randrange(0, 32768),
                "direction": rng.choice(DIRECTIONS),
                "match": rng.choice(MATCHES),
                "action": omap({"dscp": rng.randrange(64)}
                               if rng.random() < 0.5 else {}),
                "bandwidth": omap(smap(rng, ["rate", "burst"],
                                       [1, 1000, 4294967295], 2))}))
        dns = []
        if rng.random() < 0.5:
            dns.append(insert("DNS", {"records": omap({
                "vm1.example.org": "10.0.0.5 fd00::5",
                "ünï.example": "10.0.0.6"})}))
        lname = name("net") if rng.random() < 0.7 else "dup-net"
        names["ls"].append(lname)
        insert("Logical_Switch", {
            "name": lname,
            "ports": oset(ref(p) for p in ports),
            "acls": oset(ref(a) for a in acls),
            "qos_rules": oset(ref(q) for q in qos),
            "dns_records": oset(ref(d) for d in dns),
            "load_balancer": oset(ref(x) for x in rng.sample(
                lbs, rng.randrange(len(lbs) + 1))),
            "load_balancer_group": oset(ref(x) for x in rng.sample(
                groups, rng.randrange(len(groups) + 1))),
            "external_ids": omap(smap(rng, ["neutron:network_name",
                                            "limiquantix:network_id"],
                                      ["", "net-alias", "сеть"], 2)),
            "other_config": omap(smap(rng, ["subnet", "mcast_snoop"],
                                      ["10.0.0.0/24", "true"]))})

    for i in range(rng.randrange(0, 3)):
        acls = [insert("ACL", {
            "direction": rng.choice(DIRECTIONS),
            "priority": rng.choice([1001, 1002]),
            "match": rng.choice(MATCHES), "action": rng.choice(ACL_ACTIONS),
            "log": False, "options": omap(smap(rng, ["apply-after-lb"],
                                               ["true"], 1))})
            for _ in range(rng.randrange(0, 4))]
        pgname = rng.choice(["pg_%d" % i, "pg ünï %d" % i,
                             rng.choice(names["ls"] or ["pg"])])
        if pgname in names["pg"]:
            continue
        names["pg"].append(pgname)
        insert("Port_Group", {
            "name": pgname, "acls": oset(ref(a) for a in acls),
            "ports": oset(ref(p) for p in rng.sample(
                ports_all, rng.randrange(len(ports_all) + 1)))})

    insert("Address_Set", {"name": "as_1", "addresses": oset(
        [v4(rng) for _ in range(rng.randrange(4))])})

    gc_n = [0]
    for _ in range(rng.randrange(0, 3)):
        lrps = []
        lrp_names = []
        for _ in range(rng.randrange(0, 4)):
            pname = unique("rport")
            nets = rng.sample(["10.0.0.1/24", "192.168.0.1/16",
                               "fd00::1/64", "10.1.0.1/24"],
                              rng.randrange(1, 4))
            gcs = []
            for _ in range(rng.randrange(0, 3)):
                gc_n[0] += 1
                gcs.append(insert("Gateway_Chassis", {
                    "name": "gc%d-%d" % (gc_n[0], rng.randrange(100)),
                    "chassis_name": rng.choice(["ch1", "ch2", "ünï"]),
                    "priority": rng.choice([1, 10, 10, 32767])}))
            lrps.append(insert("Logical_Router_Port", {
                "name": pname, "mac": mac(rng), "networks": oset(nets),
                "gateway_chassis": oset(ref(g) for g in gcs),
                "enabled": maybe(rng, rng.random() < 0.5, 0.3),
                "options": omap(smap(rng, ["route_table", "redirect-type",
                                           "gateway_mtu"],
                                     ["rtb-1", "bridged", "1400", ""], 2)),
                "peer": maybe(rng, "peer-port", 0.2)}, "lrp"))
            lrp_names.append(pname)
            names["lrp"].append(pname)

        routes = []
        for _ in range(rng.randrange(0, 7)):
            fam = rng.random()
            prefix = rng.choice(V4 if fam < 0.55 else V6 if fam < 0.9
                                else BAD_PREFIXES)
            row = {"ip_prefix": prefix, "nexthop": rng.choice(NEXTHOPS),
                   "route_table": rng.choice(["", "", "rtb-1", "rtb-2"]),
                   "policy": maybe(rng, rng.choice(["dst-ip", "src-ip"])),
                   "output_port": maybe(rng, rng.choice(
                       lrp_names or ["out"]), 0.3),
                   "options": omap(smap(rng, ["ecmp_symmetric_reply"],
                                        ["true", "false"], 1)),
                   "external_ids": omap(smap(rng, ["ic-learned-route"],
                                             ["x"], 1))}
            if bfds and rng.random() < 0.3:
                row["bfd"] = ref(rng.choice(bfds))
            routes.append(insert("Logical_Router_Static_Route", row))

        policies = [insert("Logical_Router_Policy", {
            "priority": rng.choice([10, 100, 100, 32767]),
            "match": rng.choice(MATCHES),
            "action": rng.choice(["allow", "drop", "reroute"]),
            "nexthops": oset(rng.sample(["10.0.0.1", "10.0.0.2", "fd00::1",
                                         "bad"], rng.randrange(3))),
            "options": omap(smap(rng, ["pkt_mark"], ["5"], 1))})
            for _ in range(rng.randrange(0, 3))]

        nats = []
        for _ in range(rng.randrange(0, 5)):
            row = {"type": rng.choice(["snat", "dnat", "dnat_and_snat"]),
                   "external_ip": rng.choice(["172.16.0.1", "172.16.0.2",
                                              "fd00:ff::1"]),
                   "logical_ip": rng.choice(["10.0.0.0/24", "10.0.0.5",
                                             "fd00::5"]),
                   "external_port_range": rng.choice(["", "", "1000-2000"])}
            if rng.random() < 0.4:
                row["external_mac"] = mac(rng)
                row["logical_port"] = rng.choice(names["lsp"] or ["vm"])
            elif rng.random() < 0.2:
                row["external_mac"] = mac(rng)
            if lrps and rng.random() < 0.4:
                row["gateway_port"] = ref(rng.choice(lrps))
            nats.append(insert("NAT", row))

        rname = name("router") if rng.random() < 0.7 else "dup-router"
        names["lr"].append(rname)
        insert("Logical_Router", {
            "name": rname, "ports": oset(ref(p) for p in lrps),
            "static_routes": oset(ref(r) for r in routes),
            "policies": oset(ref(p) for p in policies),
            "nat": oset(ref(n) for n in nats),
            "load_balancer": oset(ref(x) for x in rng.sample(
                lbs, rng.randrange(len(lbs) + 1))),
            "load_balancer_group": oset(ref(x) for x in rng.sample(
                groups, rng.randrange(len(groups) + 1))),
            "external_ids": omap(smap(rng, ["neutron:router_name"],
                                      ["", "rt-alias"], 1))})

    for i in range(rng.randrange(0, 3)):
        insert("Static_MAC_Binding", {
            "logical_port": rng.choice(names["lrp"] or ["lrp-x"]),
            "ip": "10.0.0.%d" % (i + 1), "mac": mac(rng)})
    if rng.random() < 0.3:
        insert("Mirror", {"name": "mirror%d" % rng.randrange(9),
                          "filter": rng.choice(DIRECTIONS),
                          "sink": "10.0.0.9", "type": "gre",
                          "index": rng.randrange(100)})
    transact(remote, ops)


def select_all(remote):
    """Returns {table: [row, ...]} of the rows we name in commands."""
    want = {"Logical_Switch": ["_uuid", "name"],
            "Logical_Switch_Port": ["_uuid", "name"],
            "Logical_Router": ["_uuid", "name"],
            "Logical_Router_Port": ["_uuid", "name"],
            "Port_Group": ["_uuid", "name"],
            "Load_Balancer": ["_uuid", "name"],
            "DHCP_Options": ["_uuid"],
            "ACL": ["_uuid", "name"],
            "NAT": ["_uuid", "external_ip"]}
    ops = [{"op": "select", "table": t, "where": [], "columns": c}
           for t, c in want.items()]
    result = transact(remote, ops)
    out = {}
    for (table, _), r in zip(want.items(), result):
        rows = []
        for row in r["rows"]:
            name = row.get("name", row.get("external_ip"))
            if isinstance(name, list):      # An empty optional column.
                name = None
            rows.append({"uuid": row["_uuid"][1], "name": name})
        out[table] = rows
    return out


def pick_id(rng, rows, kind="name"):
    """A name or UUID of one of 'rows', or one that matches nothing."""
    r = rng.random()
    if rows and r < 0.55:
        row = rng.choice(rows)
        return row["name"] if row["name"] is not None else row["uuid"]
    if rows and r < 0.8:
        return rng.choice(rows)["uuid"]
    if r < 0.85:
        # Names that several rows may share.
        return rng.choice(["dup-net", "dup-router", "lb-dup"])
    if r < 0.9:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return rng.choice(["nosuch", "", "ünï-nosuch"])


FORMATS = [[], [], ["--format=list"], ["--format=csv"], ["--format=json"],
           ["--format=html"], ["--bare"], ["--no-headings"],
           ["--format=table", "--no-headings"], ["--data=bare"],
           ["--data=json"], ["--format=json", "--pretty"], ["--oneline"],
           ["--max-column-width=10"], ["-f", "csv", "-d", "bare"],
           ["--format=bare"]]


def command_lines(rng, rows, per_db):
    """The command lines to run, each a list of arguments: every command of
    the issue at least once, then a random sample of the rest."""
    ls, lsp = rows["Logical_Switch"], rows["Logical_Switch_Port"]
    lr, lrp = rows["Logical_Router"], rows["Logical_Router_Port"]
    pg, lb = rows["Port_Group"], rows["Load_Balancer"]
    dhcp = rows["DHCP_Options"]

    def port():
        return pick_id(rng, lsp)

    def switch():
        return pick_id(rng, ls)

    def router():
        return pick_id(rng, lr)

    def dhcp_id():
        if dhcp and rng.random() < 0.8:
            return rng.choice(dhcp)["uuid"]
        return rng.choice(["not-a-uuid", str(uuid.uuid4())])

    def table():
        if rng.random() < 0.15:
            # Abbreviated, differently cased, ambiguous or unknown.
            return rng.choice(["Logical_Sw", "logical_switch", "nosuch",
                               "ls", "port", "Logical_Router_P", "acl",
                               "Load"])
        return rng.choice(TABLES)

    def record(t):
        key = {"Logical_Switch": ls, "Logical_Switch_Port": lsp,
               "Logical_Router": lr, "Logical_Router_Port": lrp,
               "Port_Group": pg, "Load_Balancer": lb,
               "DHCP_Options": dhcp, "ACL": rows["ACL"],
               "NAT": rows["NAT"]}.get(t, [])
        return pick_id(rng, key)

    columns = {"Logical_Switch": ["name", "ports", "acls", "external_ids",
                                  "other_config", "load_balancer"],
               "Logical_Switch_Port": ["name", "addresses", "options",
                                       "up", "enabled", "tag", "type",
                                       "port_security", "external_ids"],
               "Logical_Router": ["name", "ports", "nat", "static_routes"],
               "Logical_Router_Port": ["name", "mac", "networks",
                                       "options", "enabled"],
               "ACL": ["priority", "match", "action", "direction", "log",
                       "name", "options", "label"],
               "Load_Balancer": ["name", "vips", "protocol", "options"],
               "DHCP_Options": ["cidr", "options", "external_ids"],
               "NAT": ["type", "external_ip", "logical_ip", "external_mac"],
               "Port_Group": ["name", "ports", "acls"]}

    def cols(t):
        c = columns.get(t, ["_uuid", "name"])
        chosen = rng.sample(c, rng.randrange(1, len(c) + 1))
        if rng.random() < 0.3:
            chosen.insert(0, "_uuid")
        if rng.random() < 0.1:
            chosen.append("nosuchcolumn")
        return ",".join(chosen)

    def get_line():
        t = rng.choice(list(columns))
        c = rng.choice(columns[t] + ["_uuid", "nosuch"])
        if c in ("options", "external_ids", "other_config", "vips") and \
                rng.random() < 0.6:
            c += ":" + rng.choice(["router-port", "neutron:port_name",
                                   "apply-after-lb", "lease_time",
                                   "nosuchkey", "1.1.1.1:80"])
        opts = rng.choice([[], [], ["--if-exists"]])
        return [*opts, "get", t, record(t), c]

    def find_line():
        t = rng.choice(list(columns))
        conds = []
        for _ in range(rng.randrange(0, 3)):
            c = rng.choice(columns[t])
            op = rng.choice(["=", "!=", "{=}", "{>=}", "{<=}", "<", ">"])
            if c in ("priority", "label", "tag"):
                v = str(rng.choice([0, 1001, 1002, 32767]))
            elif c in ("up", "enabled", "log"):
                v = rng.choice(["true", "false"])
            elif c in ("options", "external_ids", "vips", "other_config"):
                c += ":" + rng.choice(["apply-after-lb", "router-port",
                                       "neutron:port_name"])
                v = rng.choice(['"true"', "x", '""'])
                op = rng.choice(["=", "!="])
            elif c in ("ports", "acls", "nat", "static_routes",
                       "load_balancer"):
                v = "[]"
                op = rng.choice(["=", "!=", "{=}", "{>=}"])
            else:
                v = json.dumps(rng.choice(["", "ip4", "allow", "drop",
                                           "ünï", "router", "dnat"]),
                               ensure_ascii=False)
            conds.append(c + op + v)
        opts = [("--columns=" + cols(t))] if rng.random() < 0.5 else []
        return [*opts, "find", t, *conds]

    def list_line():
        t = table()
        opts = [("--columns=" + cols(t))] if rng.random() < 0.4 else []
        recs = [record(t) for _ in range(rng.randrange(0, 2))]
        if recs and rng.random() < 0.3:
            opts.append("--if-exists")
        return [*opts, "list", t, *recs]

    def acl_line():
        opts = rng.choice([[], [], ["--type=switch"], ["--type=port-group"],
                           ["--type=bogus"]])
        target = pick_id(rng, rng.choice([ls, pg, pg]))
        return [*opts, "acl-list", target]

    def route_line():
        opts = rng.choice([[], [], ["--route-table=rtb-1"],
                           ["--route-table=rtb2"], ["--route-table="]])
        return [*opts, "lr-route-list", router()]

    gens = {
        "show": lambda: ["show"] + rng.choice([[], [switch()], [router()]]),
        "ls-list": lambda: ["ls-list"],
        "lsp-list": lambda: ["lsp-list", switch()],
        "lsp-get-addresses": lambda: ["lsp-get-addresses", port()],
        "lsp-get-port-security": lambda: ["lsp-get-port-security", port()],
        "lsp-get-up": lambda: ["lsp-get-up", port()],
        "lsp-get-type": lambda: ["lsp-get-type", port()],
        "lsp-get-options": lambda: ["lsp-get-options", port()],
        "lsp-get-dhcpv4-options": lambda: ["lsp-get-dhcpv4-options",
                                           port()],
        "acl-list": acl_line,
        "lr-list": lambda: ["lr-list"],
        "lrp-list": lambda: ["lrp-list", router()],
        "lr-route-list": route_line,
        "lr-nat-list": lambda: ["lr-nat-list", router()],
        "lb-list": lambda: ["lb-list"] + rng.choice(
            [[], [pick_id(rng, lb)]]),
        "ls-lb-list": lambda: ["ls-lb-list", switch()],
        "dhcp-options-list": lambda: ["dhcp-options-list"],
        "dhcp-options-get-options": lambda: ["dhcp-options-get-options",
                                             dhcp_id()],
        "list": list_line,
        "get": get_line,
        "find": find_line,
        # Beyond the issue's list: the other read-only commands.
        "lsp-get-enabled": lambda: ["lsp-get-enabled", port()],
        "lsp-get-tag": lambda: ["lsp-get-tag", port()],
        "lsp-get-parent": lambda: ["lsp-get-parent", port()],
        "lsp-get-dhcpv6-options": lambda: ["lsp-get-dhcpv6-options",
                                           port()],
        "lsp-get-ls": lambda: ["lsp-get-ls", port()],
        "lrp-get-enabled": lambda: ["lrp-get-enabled", pick_id(rng, lrp)],
        "lrp-get-redirect-type": lambda: ["lrp-get-redirect-type",
                                          pick_id(rng, lrp)],
        "lrp-get-gateway-chassis": lambda: ["lrp-get-gateway-chassis",
                                            pick_id(rng, lrp)],
        "lr-lb-list": lambda: ["lr-lb-list", router()],
        "lr-policy-list": lambda: ["lr-policy-list", router()],
        "qos-list": lambda: ["qos-list", switch()],
        "meter-list": lambda: ["meter-list"],
        "mirror-list": lambda: ["mirror-list"],
        "static-mac-binding-list": lambda: ["static-mac-binding-list"],
        "ha-chassis-group-list": lambda: ["ha-chassis-group-list"],
        "get-connection": lambda: ["get-connection"],
        "get-ssl": lambda: ["get-ssl"],
        "sync": lambda: ["sync"],
    }
    issue = list(gens)[:21]
    lines = [gens[name]() for name in issue]
    names = list(gens)
    while len(lines) < per_db:
        lines.append(gens[rng.choice(names)]())

    # Global options, bad usage and several commands in one line.
    out = []
    for line in lines:
        r = rng.random()
        if r < 0.25:
            line = rng.choice(FORMATS) + line
        out.append(line)
    out += [
        ["--oneline", "ls-list", "--", "lr-list", "--", "show"],
        ["ls-list", "--", "lsp-list", switch(), "--", "lb-list"],
        ["lsp-list"], ["lsp-list", "a", "b"], ["nosuch-command"],
        ["--nosuch-option", "ls-list"], ["--col=name", "list",
                                         "Logical_Switch"],
        ["--may-exist", "ls-list"], ["--columns=name", "ls-list"],
        ["--no", "ls-list"], [], ["--"], ["-t", "0", "ls-list"],
        ["--wait=bogus", "ls-list"], ["--route-table=x", "lr-route-list"],
        ["get", "Logical_Switch", switch(), "nosuch"],
        ["list", "Logical_Switch_Port", "--", "--columns=name", "list",
         "ACL"],
        ["comment", "hello", "--", "ls-list"],
        ["--commands"], ["--options"],
        ["--db=unix:/nonexistent/nb.sock", "ls-list"],
        ["--wait=sb", "ls-list"], ["--dry-run", "lr-list"],
    ]
    return out


def run_both(remote, line, via_env, extra_env=None):
    """Runs one command line through both tools; returns the two results."""
    results = []
    for tool in (["ovn-nbctl"], [LQCTL, "nb"]):
        if via_env:
            argv, env = tool + line, clean_env(remote)
        else:
            argv, env = tool + ["--db=" + remote] + line, clean_env()
        env.update(extra_env or {})
        try:
            r = subprocess.run(argv, capture_output=True, env=env,
                               timeout=20)
            out, err, rc = r.stdout, r.stderr, r.returncode
        except subprocess.TimeoutExpired:
            out, err, rc = b"", b"<timeout>", -1
        err = TIMESTAMP.sub("<time>|", err.decode("utf-8", "replace"))
        results.append((out, err, rc))
    return results


def command_name(line):
    skip_next = False
    for a in line:
        if skip_next:
            skip_next = False
            continue
        if a in ("-t", "-f", "-d"):
            skip_next = True
            continue
        if not a.startswith("-"):
            return a
    return "(none)"


def test_one_db(index, seed, per_db, root, verbose):
    rng = random.Random("%s-%d" % (seed, index))
    server = Server(root)
    stats = collections.defaultdict(lambda: [0, 0])  # name -> [ok, bad]
    failures = []
    try:
        populate_with_nbctl(rng, server.remote)
        populate_with_transaction(rng, server.remote)
        rows = select_all(server.remote)
        lines = [(line, None) for line in command_lines(rng, rows, per_db)]
        # Options from the environment, as ovn-nbctl reads them.
        lines += [(["list", "Logical_Switch"],
                   {"OVN_NBCTL_OPTIONS": rng.choice(
                       ["--format=csv --no-headings", "--bare",
                        "--columns=name --format=json", "--oneline"])}),
                  (["lr-list"], {"OVN_NBCTL_OPTIONS": "--nosuch"})]
        for line, extra_env in lines:
            a, b = run_both(server.remote, line, rng.random() < 0.5,
                            extra_env)
            name = command_name(line)
            if a == b:
                stats[name][0] += 1
                continue
            stats[name][1] += 1
            failures.append((index, line, a, b))
            if verbose:
                print("MISMATCH db %d: %r" % (index, line), flush=True)
    finally:
        server.stop()
    return stats, failures


def show_failure(index, line, a, b):
    print("--- db %d: %r" % (index, line))
    for what, x, y in (("stdout", a[0], b[0]), ("stderr", a[1], b[1]),
                       ("status", a[2], b[2])):
        if x != y:
            print("  %s differs:\n    ovn-nbctl: %r\n    lqctl nb:  %r"
                  % (what, x[:600] if what != "status" else x,
                     y[:600] if what != "status" else y))


def test_read_only(root):
    """lqctl nb refuses writes and "sync --wait" and leaves the database
    alone."""
    server = Server(root)
    problems = []
    try:
        nbctl(server.remote, "ls-add", "sw0", "--", "lsp-add", "sw0", "p0")
        before = nbctl(server.remote, "show")
        for line in (["ls-add", "x"], ["lsp-del", "p0"],
                     ["set", "Logical_Switch", "sw0", "name=y"],
                     ["ls-list", "--", "ls-del", "sw0"],
                     ["--wait=sb", "sync"], ["--wait=hv", "sync"],
                     ["destroy", "Logical_Switch", "sw0"],
                     ["create", "Logical_Switch", "name=z"],
                     ["--detach"], ["init"], ["fwd-group-list"]):
            try:
                r = subprocess.run([LQCTL, "nb", "--db=" + server.remote,
                                    *line], capture_output=True, text=True,
                                   env=clean_env(), timeout=20)
            except subprocess.TimeoutExpired:
                problems.append("%r: timed out" % line)
                continue
            if (r.returncode != 1 or r.stdout
                    or not r.stderr.startswith("lqctl nb: ")):
                problems.append("%r: rc=%d out=%r err=%r"
                                % (line, r.returncode, r.stdout, r.stderr))
        if nbctl(server.remote, "show") != before:
            problems.append("the database changed")
    finally:
        server.stop()
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dbs", type=int, default=50)
    ap.add_argument("--seed", default=None)
    ap.add_argument("--jobs", type=int, default=3)
    ap.add_argument("--per-db", type=int, default=45)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    seed = args.seed or "%08x" % random.getrandbits(32)
    print("seed %s (replay with --seed %s), %d databases" % (
        seed, seed, args.dbs), flush=True)

    for tool in ("ovn-nbctl", "ovsdb-server", "ovsdb-tool", "ovsdb-client"):
        if not shutil.which(tool):
            print("SKIP: %s not installed" % tool)
            return 77
    start = time.time()
    root = tempfile.mkdtemp(prefix="nbctl-diff-")
    totals = collections.defaultdict(lambda: [0, 0])
    dbs_per_command = collections.defaultdict(lambda: [set(), set()])
    failures = []
    try:
        problems = test_read_only(root)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(test_one_db, i, seed, args.per_db, root,
                                   args.verbose) for i in range(args.dbs)]
            for i, f in enumerate(futures):
                stats, fails = f.result()
                failures += fails
                for name, (ok, bad) in stats.items():
                    totals[name][0] += ok
                    totals[name][1] += bad
                    dbs_per_command[name][0 if not bad else 1].add(i)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print("%-26s %8s %8s %14s" % ("command", "same", "differ",
                                  "DBs all same"))
    for name in sorted(totals):
        ok, bad = totals[name]
        same_dbs = dbs_per_command[name][0] - dbs_per_command[name][1]
        print("%-26s %8d %8d %9d/%-4d" % (
            name, ok, bad, len(same_dbs),
            len(dbs_per_command[name][0] | dbs_per_command[name][1])))
    n_ok = sum(t[0] for t in totals.values())
    n_bad = sum(t[1] for t in totals.values())
    print("%d command lines identical, %d differ, on %d databases in %.1fs"
          % (n_ok, n_bad, args.dbs, time.time() - start))
    for f in failures[:30]:
        show_failure(*f)
    for p in problems:
        print("read-only check failed: " + p)
    if failures or problems:
        print("FAIL (seed %s)" % seed)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
