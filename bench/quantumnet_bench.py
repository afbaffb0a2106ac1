#!/usr/bin/env python3
"""QuantumNet benchmark: limiquantix-node's API versus one ovn-nbctl call per
object, on the same private OVN, in the same run.

Workload (issue 3): 10 networks, 50 security groups of 5 rules, 1,000 ports
(100 per network, each in 2 groups), then delete everything.  Then bind N
ports to veth devices and time until every one is UP.

usage: bench/quantumnet_bench.py [--build DIR] [--ports N] [--bind N]
Prints a markdown table (paste into docs/benchmarks.md).
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))

NET = "limiquantix.network.v1.VirtualNetworkService/"
PORT = "limiquantix.network.v1.PortService/"
SG = "limiquantix.network.v1.SecurityGroupService/"


def ids(n):
    return [str(uuid.uuid4()) for _ in range(n)]


def workload(n_ports):
    nets = ids(10)
    sgs = ids(50)
    per_net = n_ports // len(nets)
    ports = []
    for i, net in enumerate(nets):
        for k in range(per_net):
            ports.append({
                "id": str(uuid.uuid4()), "networkId": net,
                "ip": "10.%d.%d.%d" % (100 + i, 1 + k // 250, 2 + k % 250),
                "mac": "0a:%02x:00:00:%02x:%02x" % (i, k // 256, k % 256),
                "sgs": [sgs[(i * 7 + k) % 50], sgs[(i * 7 + k + 1) % 50]]})
    return nets, sgs, ports


def rules_for(j):
    return [{"id": str(uuid.uuid4()), "direction": "ingress",
             "protocol": "tcp", "portRangeMin": 1000 + j * 10 + r,
             "portRangeMax": 1000 + j * 10 + r} for r in range(4)] + [
        {"id": str(uuid.uuid4()), "direction": "egress"}]


def run_api(node, nets, sgs, ports, workers):
    def net_body(i, n):
        return {"id": n, "name": "bench%d" % i, "subnets": [
            {"cidr": "10.%d.0.0/16" % (100 + i)}]}

    def create_port(p):
        node.api(PORT + "CreatePort", {
            "id": p["id"], "networkId": p["networkId"],
            "macAddress": p["mac"], "fixedIps": [{"ipAddress": p["ip"]}],
            "securityGroupIds": p["sgs"]})

    t0 = time.time()
    for i, n in enumerate(nets):
        node.api(NET + "CreateNetwork", net_body(i, n))
    for j, s in enumerate(sgs):
        node.api(SG + "CreateSecurityGroup", {"id": s, "name": "sg%d" % j,
                                              "rules": rules_for(j)})
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        list(ex.map(create_port, ports))
    t_create = time.time() - t0

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda p: node.api(PORT + "DeletePort", {"id": p["id"]}),
                    ports))
    for s in sgs:
        node.api(SG + "DeleteSecurityGroup", {"id": s})
    for n in nets:
        node.api(NET + "DeleteNetwork", {"id": n})
    t_delete = time.time() - t0
    return t_create, t_delete


def run_nbctl(node, nets, sgs, ports):
    db = "--db=unix:%s/ovn/nb.sock" % node.sandbox

    def nbctl(*args):
        subprocess.run(["ovn-nbctl", db] + list(args), check=True,
                       capture_output=True)

    t0 = time.time()
    for i, n in enumerate(nets):
        ls = "nbctl-" + n
        cidr = "10.%d.0.0/16" % (100 + i)
        nbctl("--", "ls-add", ls,
              "--", "--id=@d", "create", "DHCP_Options", "cidr=" + cidr,
              "options:server_id=10.%d.0.1" % (100 + i),
              "options:server_mac=0a:00:00:00:00:01",
              "options:lease_time=43200",
              "options:router=10.%d.0.1" % (100 + i))
    for j, s in enumerate(sgs):
        pg = "pgn_" + s.replace("-", "_")
        args = ["--", "pg-add", pg]
        for r in rules_for(j)[:4]:
            args += ["--", "acl-add", pg, "to-lport", "1002",
                     "outport == @%s && ip4 && tcp && tcp.dst == %d"
                     % (pg, r["portRangeMin"]), "allow-related"]
        args += ["--", "acl-add", pg, "from-lport", "1002",
                 "inport == @%s && ip4" % pg, "allow-related"]
        nbctl(*args)
    for p in ports:
        addr = "%s %s" % (p["mac"], p["ip"])
        args = ["--", "--id=@p", "create", "Logical_Switch_Port",
                "name=" + p["id"], 'addresses="%s"' % addr,
                'port_security="%s"' % addr,
                "--", "add", "Logical_Switch", "nbctl-" + p["networkId"],
                "ports", "@p"]
        for s in p["sgs"]:
            args += ["--", "add", "Port_Group", "pgn_" + s.replace("-", "_"),
                     "ports", "@p"]
        nbctl(*args)
    t_create = time.time() - t0

    t0 = time.time()
    for p in ports:
        nbctl("lsp-del", p["id"])
    for s in sgs:
        nbctl("pg-del", "pgn_" + s.replace("-", "_"))
    for n in nets:
        nbctl("ls-del", "nbctl-" + n)
    nbctl("--", "--all", "destroy", "DHCP_Options")
    t_delete = time.time() - t0
    return t_create, t_delete


def run_bind(node, n):
    from netlib import sh
    net = str(uuid.uuid4())
    node.api(NET + "CreateNetwork", {"id": net, "subnets": [
        {"cidr": "10.200.0.0/16"}]})
    ports = []
    for i in range(n):
        p = node.api(PORT + "CreatePort", {"id": str(uuid.uuid4()),
                                           "networkId": net,
                                           "portSecurityEnabled": False})
        dev = "lqb%d" % i
        sh("ip", "link", "add", dev, "type", "veth", "peer", "name",
           "lqbp%d" % i)
        sh("ip", "link", "set", dev, "up")
        ports.append((p["id"], dev))
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(lambda pd: node.api(PORT + "BindPort", {
            "portId": pd[0], "deviceName": pd[1]}), ports))
    elapsed = time.time() - t0
    assert all(r["status"] == "UP" for r in results)
    for pid, dev in ports:
        node.api(PORT + "DeletePort", {"id": pid})
        sh("ip", "link", "del", dev, check=False)
    node.api(NET + "DeleteNetwork", {"id": net})
    return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--bind", type=int, default=20)
    ap.add_argument("--workers", type=int, default=8)
    a = ap.parse_args()
    os.environ["LQ_NODE"] = os.path.join(a.build, "limiquantix-node")
    os.environ["LQ_CTL"] = os.path.join(a.build, "lqctl")
    from netlib import Node

    node = Node().start()
    try:
        nets, sgs, ports = workload(a.ports)
        n_objects = len(nets) + len(sgs) + 5 * len(sgs) + len(ports)
        api_seq = run_api(node, nets, sgs, ports, 1)
        nets, sgs, ports = workload(a.ports)
        api_par = run_api(node, nets, sgs, ports, a.workers)
        nets, sgs, ports = workload(a.ports)
        nbctl = run_nbctl(node, nets, sgs, ports)
        report(a, n_objects, len(ports), api_seq, api_par, nbctl)
        if a.bind:
            bind = run_bind(node, a.bind)
            print("\nBindPort of %d ports (8 concurrent) until all UP: %.2f s "
                  "(%.1f ports/s)" % (a.bind, bind, a.bind / bind))
    finally:
        node.stop()


def report(a, n_objects, n_ports, api_seq, api_par, nbctl):
    def row(name, t):
        return "| %s | %.2f s | %.0f | %.2f s | %.0f |" % (
            name, t[0], n_objects / t[0], t[1], n_objects / t[1])

    print("Objects: %d (10 networks, 50 security groups, 250 rules, %d "
          "ports in 2 groups each)\n" % (n_objects, n_ports))
    print("| client | create | objects/s | delete | objects/s |")
    print("|---|---|---|---|---|")
    print(row("limiquantix API, 1 client", api_seq))
    print(row("limiquantix API, %d clients" % a.workers, api_par))
    print(row("ovn-nbctl, one call per object", nbctl))
    print("\nRatio (API %d clients / ovn-nbctl): create %.1fx, delete %.1fx"
          % (a.workers, nbctl[0] / api_par[0], nbctl[1] / api_par[1]))
    print("Ratio (API 1 client / ovn-nbctl): create %.1fx, delete %.1fx"
          % (nbctl[0] / api_seq[0], nbctl[1] / api_seq[1]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
