#!/usr/bin/env python3
"""`lqctl net show` and `lqctl sg explain` on a Northbound database holding
QuantumNet rows: written here with ovsdb-client exactly as the engine
writes them (src/ovn-bridge/nb_*.c: external_ids keys, canonical spec and
rule JSON, pg_<id> port groups, ACL matches from acl.c, lq_pg_drop), into
a private ovsdb-server.  Environment: LQ_CTL.  Python standard library
only; no daemon, no ovs-vswitchd."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_nbctl_diff import Server, transact, oset, omap, ref  # noqa: E402

LQCTL = os.environ.get("LQ_CTL", "lqctl")
NET1 = "6f1c9a52-0000-4000-8000-000000000001"
NET2 = "6f1c9a52-0000-4000-8000-000000000002"
P1 = "7a000000-0000-4000-8000-000000000001"
P2 = "7a000000-0000-4000-8000-000000000002"
P3 = "7a000000-0000-4000-8000-000000000003"
SG1 = "5b000000-0000-4000-8000-000000000001"
SG2 = "5b000000-0000-4000-8000-000000000002"
R1 = "9c000000-0000-4000-8000-000000000001"
R2 = "9c000000-0000-4000-8000-000000000002"
R3 = "9c000000-0000-4000-8000-000000000003"
R4 = "9c000000-0000-4000-8000-000000000004"


def pg_name(sg):
    return "pg_" + sg.replace("-", "_")


def canonical(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def network_row(net_id, name, spec):
    return {"name": "lqnet-" + net_id, "external_ids": omap({
        "limiquantix:network_id": net_id, "limiquantix:name": name,
        "limiquantix:spec": canonical(spec)})}


def port_row(pid, name, addr, secured, sgs, up, extra=None):
    ext = {"limiquantix:port_id": pid, "limiquantix:network_id": NET1,
           "limiquantix:name": name,
           "limiquantix:security_group_ids": ",".join(sgs)}
    ext.update(extra or {})
    return {"name": pid, "addresses": oset([addr]),
            "port_security": oset([addr] if secured else []),
            "up": up, "external_ids": omap(ext)}


def rule_acl(sg, rule, direction, match):
    return {"name": rule["id"], "direction": direction, "priority": 1002,
            "match": match, "action": "allow-related",
            "external_ids": omap({
                "limiquantix:sg_id": sg, "limiquantix:sg_rule_id": rule["id"],
                "limiquantix:rule": canonical(rule)})}


def populate(remote):
    ops = []

    def insert(table, row, name):
        ops.append({"op": "insert", "table": table, "row": row,
                    "uuid-name": name})

    web = {"id": NET1, "name": "web", "type": "overlay", "mtu": 1442,
           "dnsDomain": "lq.internal",
           "subnets": [{"cidr": "10.0.0.0/24", "gatewayIp": "10.0.0.1",
                        "dhcpEnabled": True, "dnsServers": ["10.0.0.1"],
                        "allocationPools": [{"start": "10.0.0.2",
                                             "end": "10.0.0.254"}]}]}
    db = {"id": NET2, "name": "db", "type": "vlan", "vlanId": 100,
          "physicalNetwork": "physnet1", "mtu": 1500, "dnsDomain": "",
          "subnets": [{"cidr": "10.9.0.0/24", "gatewayIp": "",
                       "dhcpEnabled": False, "dnsServers": [],
                       "allocationPools": [{"start": "10.9.0.1",
                                            "end": "10.9.0.254"}]}]}
    insert("Logical_Switch_Port", port_row(
        P1, "vm1-eth0", "fa:16:3e:00:00:01 10.0.0.5", True, [SG1, SG2], True,
        {"limiquantix:dns_name": "vm1", "limiquantix:vm_id": "vm-1",
         "limiquantix:binding_host": "node-1",
         "limiquantix:device_name": "tap1"}), "p1")
    insert("Logical_Switch_Port", port_row(
        P2, "open-port", "fa:16:3e:00:00:02 10.0.0.6", False, [], False),
        "p2")
    insert("Logical_Switch_Port", port_row(
        P3, "locked", "fa:16:3e:00:00:03 10.0.0.7", True, [], False), "p3")
    insert("Logical_Switch", dict(network_row(NET1, "web", web),
                                  ports=oset([ref("p1"), ref("p2"),
                                              ref("p3")])), "ls1")
    insert("Logical_Switch", network_row(NET2, "db", db), "ls2")
    # Not ours: must not show up.
    insert("Logical_Switch", {"name": "foreign"}, "ls3")

    r1 = {"id": R1, "direction": "ingress", "ethertype": "IPv4",
          "protocol": "tcp", "portRangeMin": 80, "portRangeMax": 80,
          "remoteIpPrefix": "0.0.0.0/0", "description": "http"}
    r2 = {"id": R2, "direction": "egress", "ethertype": "IPv4",
          "protocol": "", "description": ""}
    r3 = {"id": R3, "direction": "ingress", "ethertype": "IPv4",
          "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22,
          "remoteIpPrefix": "10.0.0.0/8", "description": "ssh"}
    r4 = {"id": R4, "direction": "ingress", "ethertype": "IPv6",
          "protocol": "icmp", "portRangeMin": 128, "remoteGroupId": SG1,
          "description": ""}
    pg1, pg2 = pg_name(SG1), pg_name(SG2)
    insert("ACL", rule_acl(SG1, r1, "to-lport",
                           "outport == @%s && ip4 && tcp && tcp.dst == 80"
                           % pg1), "a1")
    insert("ACL", rule_acl(SG1, r2, "from-lport",
                           "inport == @%s && ip4" % pg1), "a2")
    # Tampered: the rule says port 22.
    insert("ACL", rule_acl(SG2, r3, "to-lport",
                           "outport == @%s && ip4 && ip4.src == 10.0.0.0/8 "
                           "&& tcp && tcp.dst == 23" % pg2), "a3")
    insert("ACL", rule_acl(SG2, r4, "to-lport",
                           "outport == @%s && ip6 && ip6.src == $%s_ip6 && "
                           "icmp6 && icmp6.type == 128" % (pg2, pg1)), "a4")
    insert("Port_Group", {"name": pg1, "ports": oset([ref("p1")]),
                          "acls": oset([ref("a1"), ref("a2")]),
                          "external_ids": omap({
                              "limiquantix:sg_id": SG1,
                              "limiquantix:name": "web"})}, "pg1")
    insert("Port_Group", {"name": pg2, "ports": oset([ref("p1")]),
                          "acls": oset([ref("a3"), ref("a4")]),
                          "external_ids": omap({
                              "limiquantix:sg_id": SG2,
                              "limiquantix:name": "ssh"})}, "pg2")
    drops = [("from-lport", 1002, "inport == @lq_pg_drop && ip4 && ip4.dst "
              "== {255.255.255.255, 0.0.0.0/0} && udp && udp.src == 68 && "
              "udp.dst == 67", "allow"),
             ("from-lport", 1001, "inport == @lq_pg_drop && ip", "drop"),
             ("to-lport", 1001, "outport == @lq_pg_drop && ip", "drop")]
    for i, (d, prio, match, action) in enumerate(drops):
        insert("ACL", {"direction": d, "priority": prio, "match": match,
                       "action": action, "external_ids": omap(
                           {"limiquantix:owner": "drop"})}, "d%d" % i)
    insert("Port_Group", {"name": "lq_pg_drop",
                          "ports": oset([ref("p1"), ref("p3")]),
                          "acls": oset(ref("d%d" % i)
                                       for i in range(len(drops)))}, "drop")
    transact(remote, ops)


def lqctl(*args, env_db=None):
    env = {k: v for k, v in os.environ.items() if k != "OVN_NB_DB"}
    if env_db:
        env["OVN_NB_DB"] = env_db
    return subprocess.run([LQCTL, *args], capture_output=True, text=True,
                          env=env, timeout=60)


FAILURES = []


def expect(cond, what, r=None):
    if not cond:
        FAILURES.append(what + ("" if r is None else
                                "\n  rc=%d\n  out=%s\n  err=%s"
                                % (r.returncode, r.stdout, r.stderr)))


def main():
    if not shutil.which("ovsdb-server"):
        print("SKIP: ovsdb-server not installed")
        return 77
    root = tempfile.mkdtemp(prefix="lqctl-net-")
    server = Server(root)
    try:
        populate(server.remote)
        db = "--db=" + server.remote

        r = lqctl("net", "show", db)
        out = r.stdout
        expect(r.returncode == 0, "net show", r)
        for frag in ["network %s (db): vlan 100 on physnet1, MTU 1500" % NET2,
                     "network %s (web): overlay, MTU 1442, DNS domain "
                     "lq.internal" % NET1,
                     "    logical switch lqnet-%s (" % NET1,
                     "    subnet 10.0.0.0/24, gateway 10.0.0.1, DHCP on, "
                     "DNS servers 10.0.0.1",
                     "    subnet 10.9.0.0/24, no gateway, DHCP off",
                     "    port %s (vm1-eth0): UP" % P1,
                     "        MAC fa:16:3e:00:00:01, IPs 10.0.0.5, DNS "
                     "vm1.lq.internal",
                     "        VM vm-1, bound on node-1 to tap1",
                     "        security groups: web (%s), ssh (%s)"
                     % (SG1, SG2),
                     "    port %s (open-port): DOWN" % P2,
                     "        port security off: no filtering",
                     "        no security groups: all IP traffic dropped",
                     "        not bound", "    no ports"]:
            expect(frag in out, "net show lacks %r" % frag, r)
        expect("foreign" not in out, "net show shows a foreign switch", r)
        expect(out.index("(db)") < out.index("(web)"),
               "networks not sorted by name", r)
        expect(out.index("locked") < out.index("open-port")
               < out.index("vm1-eth0"), "ports not sorted by name", r)

        for which in ("web", NET1, "lqnet-" + NET1):
            r = lqctl("net", "show", which, env_db=server.remote)
            expect(r.returncode == 0 and "(web)" in r.stdout
                   and "(db)" not in r.stdout, "net show %s" % which, r)
        r = lqctl("net", "show", db, "nosuch")
        expect(r.returncode == 1 and r.stderr ==
               "lqctl net: nosuch: no such network\n", "unknown network", r)
        r = lqctl("net", "list")
        expect(r.returncode == 2 and "usage" in r.stderr, "net usage", r)
        r = lqctl("net", "show", "--db=unix:%s/none.sock" % root)
        expect(r.returncode == 1 and "database connection failed"
               in r.stderr, "net show, no database", r)

        r = lqctl("sg", "explain", db, "vm1-eth0")
        out = r.stdout
        expect(r.returncode == 0, "sg explain", r)
        pg1, pg2 = pg_name(SG1), pg_name(SG2)
        for frag in [
                "port %s (vm1-eth0) on network %s (web), UP" % (P1, NET1),
                "    port security on: sends only from fa:16:3e:00:00:01 "
                "10.0.0.5; IP traffic no rule allows is dropped",
                "security group web (%s), port group %s" % (SG1, pg1),
                "    rule %s: allows in IPv4 tcp port 80 from anywhere "
                "(\"http\")" % R1,
                "        ACL   to-lport  1002 (outport == @%s && ip4 && tcp "
                "&& tcp.dst == 80) allow-related" % pg1,
                "    rule %s: allows out IPv4 any protocol to anywhere" % R2,
                "        ACL from-lport  1002 (inport == @%s && ip4) "
                "allow-related" % pg1,
                "    rule %s: allows in IPv4 tcp port 22 from 10.0.0.0/8"
                % R3,
                "        ! differs from the rule, which implies: to-lport "
                "1002 (outport == @%s && ip4 && ip4.src == 10.0.0.0/8 && "
                "tcp && tcp.dst == 22) allow-related" % pg2,
                "    rule %s: allows in IPv6 icmpv6 type 128 from members of "
                "web (%s)" % (R4, SG1),
                "default, port group lq_pg_drop",
                "        ACL from-lport  1001 (inport == @lq_pg_drop && ip) "
                "drop",
                "    ingress: allowed IPv4 tcp port 22 from 10.0.0.0/8 "
                "(ssh); IPv4 tcp port 80 from anywhere (web); IPv6 icmpv6 "
                "type 128 from members of web (%s) (ssh); all other IP "
                "traffic is dropped" % SG1,
                "    egress: allowed IPv4 any protocol to anywhere (web); "
                "all other IP traffic is dropped"]:
            expect(frag in out, "sg explain lacks %r" % frag, r)
        # The ACL that matches its rule is not flagged.
        expect(out.count("! differs") == 1, "only the tampered ACL differs",
               r)

        r = lqctl("sg", "explain", db, P2)
        expect(r.returncode == 0 and "port security off" in r.stdout
               and "everything passes, both ways" in r.stdout,
               "sg explain, open port", r)
        r = lqctl("sg", "explain", db, "locked")
        expect(r.returncode == 0 and "no security groups" in r.stdout
               and "    ingress: all other IP traffic is dropped"
               in r.stdout, "sg explain, no groups", r)
        r = lqctl("sg", "explain", db, "nosuch")
        expect(r.returncode == 1 and r.stderr ==
               "lqctl sg: nosuch: no such port\n", "sg explain, unknown", r)
        r = lqctl("sg", "explain", db)
        expect(r.returncode == 2, "sg explain without a port", r)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    for f in FAILURES:
        print("FAIL: " + f)
    print("%d failures" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
