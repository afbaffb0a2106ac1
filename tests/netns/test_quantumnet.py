"""QuantumNet on real OVN + OVS: network namespaces as VMs, traffic that
passes or is dropped, and the Northbound rows behind it."""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from netlib import NET, PORT, SG, NetVM, Node, new_id, sh  # noqa: E402

node = None


def setUpModule():
    global node
    node = Node().start()


def tearDownModule():
    rc = node.stop()
    assert rc == 0, "daemon exited %d:\n%s" % (rc, node.read_log())


class Base(unittest.TestCase):
    def setUp(self):
        self.vms = []
        self.ports = []
        self.networks = []
        self.sgs = []

    def tearDown(self):
        for vm in self.vms:
            vm.destroy()
        for p in self.ports:
            node.api_status(PORT + "DeletePort", {"id": p})
        for sg in reversed(self.sgs):
            node.api_status(SG + "DeleteSecurityGroup", {"id": sg})
        for n in self.networks:
            node.api_status(NET + "DeleteNetwork", {"id": n})

    def network(self, cidrs, **kw):
        body = {"id": new_id(), "name": "t",
                "subnets": [{"cidr": c} for c in cidrs]}
        body.update(kw)
        r = node.api(NET + "CreateNetwork", body)
        self.networks.append(r["id"])
        return r

    def port(self, net, **kw):
        body = {"id": new_id(), "networkId": net["id"]}
        body.update(kw)
        p = node.api(PORT + "CreatePort", body)
        self.ports.append(p["id"])
        return p

    def vm(self, net, bind=True, configure=True, **kw):
        vm = NetVM(node, self.port(net, **kw))
        self.vms.append(vm)
        if bind:
            bound = vm.bind()
            self.assertEqual(bound["status"], "UP")
            self.assertEqual(bound["deviceName"], vm.host_dev)
        if configure:
            vm.configure()
        return vm

    def sg(self, rules=None, **kw):
        body = {"id": new_id(), "name": "sg"}
        if rules is not None:
            body["rules"] = [dict(r, id=r.get("id", new_id())) for r in rules]
        body.update(kw)
        r = node.api(SG + "CreateSecurityGroup", body)
        self.sgs.append(r["id"])
        return r

    def acls_of(self, sg_id):
        pg = "pg_" + sg_id.replace("-", "_")
        return node.nbctl("--bare", "--columns=match", "find", "ACL",
                          "external_ids:\"limiquantix:sg_id\"=\"%s\"" % sg_id
                          ).split("\n\n"), pg


class L2Test(Base):
    def test_two_ports_talk_icmp_tcp_udp(self):
        net = self.network(["10.10.0.0/24"])
        a = self.vm(net, portSecurityEnabled=False)
        b = self.vm(net, portSecurityEnabled=False)
        self.assertTrue(a.ping_eventually(b.ip4()))
        b.listen("tcp", 5001)
        b.listen("udp", 5002)
        self.assertTrue(a.connect("tcp", b.ip4(), 5001))
        self.assertTrue(a.connect("udp", b.ip4(), 5002))
        # NB: the ports are on the switch, with no port security.
        ls = "lqnet-" + net["id"]
        self.assertIn(a.port["id"], node.nbctl("lsp-list", ls))
        self.assertEqual(node.nbctl("lsp-get-port-security",
                                    a.port["id"]).strip(), "")
        self.assertEqual(node.nbctl("lsp-get-up", a.port["id"]).strip(), "up")

    def test_networks_are_isolated(self):
        # Same CIDR on two networks: same addresses, separate segments.
        n1 = self.network(["10.20.0.0/24"])
        n2 = self.network(["10.20.0.0/24"])
        a = self.vm(n1, portSecurityEnabled=False,
                    fixedIps=[{"ipAddress": "10.20.0.10"}])
        b = self.vm(n2, portSecurityEnabled=False,
                    fixedIps=[{"ipAddress": "10.20.0.11"}])
        c = self.vm(n1, portSecurityEnabled=False,
                    fixedIps=[{"ipAddress": "10.20.0.12"}])
        self.assertTrue(a.ping_eventually(c.ip4()))
        self.assertFalse(a.ping(b.ip4(), count=2))
        # NB: two switches, each holding only its own ports.
        self.assertIn(c.port["id"], node.nbctl("lsp-list", "lqnet-" + n1["id"]))
        self.assertNotIn(b.port["id"], node.nbctl("lsp-list",
                                                  "lqnet-" + n1["id"]))

    def test_dhcp_lease_and_dns(self):
        body = {"id": new_id(), "name": "dhcp", "mtu": 1400,
                "dnsDomain": "lab.example",
                "subnets": [{"cidr": "10.30.0.0/24", "gatewayIp": "10.30.0.1",
                             "dnsServers": ["10.30.0.1"]}]}
        net = node.api(NET + "CreateNetwork", body)
        self.networks.append(net["id"])
        default_sg = self.sg()
        a = self.vm(net, configure=False, dnsName="alpha",
                    securityGroupIds=[default_sg["id"]])
        b = self.vm(net, configure=False, dnsName="beta",
                    portSecurityEnabled=False)

        script = os.path.join(node.dir, "udhcpc.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n[ \"$1\" = bound ] && env > %s/lease.$interface"
                    ".$$ ; exit 0\n" % node.dir)
        os.chmod(script, 0o755)
        a.x("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5",
            "-T", "1", "-O", "mtu", "-O", "domain", "-s", script, timeout=30)
        lease = {}
        for name in os.listdir(node.dir):
            if name.startswith("lease.eth0"):
                with open(os.path.join(node.dir, name)) as f:
                    for line in f:
                        k, _, v = line.strip().partition("=")
                        lease[k] = v
        self.assertEqual(lease.get("ip"), a.ip4())
        self.assertEqual(lease.get("router"), "10.30.0.1")
        self.assertEqual(lease.get("dns"), "10.30.0.1")
        self.assertEqual(lease.get("mtu"), "1400")
        self.assertEqual(lease.get("subnet"), "255.255.255.0")
        self.assertEqual(lease.get("domain"), "lab.example")

        # Magic DNS: OVN answers for the peer's name.  There is no router
        # yet to answer ARP for the resolver address, so give the guest a
        # neighbour entry as a router would.
        a.configure()
        a.x("ip", "neigh", "replace", "10.30.0.1", "lladdr",
            "0a:00:00:00:00:01", "dev", "eth0")
        r = a.x("busybox", "nslookup", "beta.lab.example", "10.30.0.1",
                check=False)
        self.assertIn(b.ip4(), r.stdout, r.stdout + r.stderr)
        records = node.nb_rows("DNS", "limiquantix:network_id", net["id"])
        self.assertEqual(len(records), 1)
        self.assertIn("beta.lab.example", json.dumps(records))
        dhcp = node.nb_rows("DHCP_Options", "limiquantix:network_id",
                            net["id"])
        self.assertEqual(len(dhcp), 1)
        self.assertIn("mtu", json.dumps(dhcp))

    def test_ipv6_dual_stack(self):
        net = self.network(["10.40.0.0/24", "fd00:40::/64"])
        a = self.vm(net, portSecurityEnabled=False)
        b = self.vm(net, portSecurityEnabled=False)
        self.assertTrue(a.ping_eventually(b.ip4()))
        self.assertTrue(a.ping_eventually(b.ip6()))
        b.listen("tcp6", 5003)
        self.assertTrue(a.connect("tcp", b.ip6(), 5003))
        # NB: both families in addresses, one DHCP scope per family.
        addrs = node.nbctl("lsp-get-addresses", b.port["id"])
        self.assertIn(b.ip4(), addrs)
        self.assertIn(b.ip6(), addrs)
        self.assertEqual(len(node.nb_rows("DHCP_Options",
                                          "limiquantix:network_id",
                                          net["id"])), 2)


class SecurityGroupTest(Base):
    def open_sg(self):
        return self.sg([{"direction": "ingress", "ethertype": "IPv4"},
                        {"direction": "egress", "ethertype": "IPv4"},
                        {"direction": "ingress", "ethertype": "IPv6"},
                        {"direction": "egress", "ethertype": "IPv6"}])

    def test_default_group(self):
        net = self.network(["10.50.0.0/24"])
        sg = self.sg()      # Neutron default: egress only.
        self.assertEqual(len(sg["rules"]), 2)
        a = self.vm(net, securityGroupIds=[sg["id"]])
        b = self.vm(net, portSecurityEnabled=False)
        # Egress allowed, and the replies (return traffic) come back.
        self.assertTrue(a.ping_eventually(b.ip4()))
        b.listen("tcp", 6000)
        self.assertTrue(a.connect("tcp", b.ip4(), 6000))
        # Ingress dropped.
        a.listen("tcp", 6001)
        self.assertFalse(b.ping(a.ip4(), count=2))
        self.assertFalse(b.connect("tcp", a.ip4(), 6001, timeout=1))
        # NB: port group with the port, egress ACLs, drop group membership.
        pg = "pg_" + sg["id"].replace("-", "_")
        members = node.nbctl("--bare", "--columns=ports", "list",
                             "Port_Group", pg)
        self.assertIn(node.lsp_uuid(a.port["id"]), members)
        self.assertIn(node.lsp_uuid(a.port["id"]), node.nbctl(
            "--bare", "--columns=ports", "list", "Port_Group", "lq_pg_drop"))
        acls = node.nbctl("acl-list", pg)
        self.assertIn("from-lport  1002 (inport == @%s && ip4) "
                      "allow-related" % pg, acls)
        self.assertIn("allow-related", acls)

    def test_tcp_port_range(self):
        net = self.network(["10.51.0.0/24"])
        sg = self.sg([{"direction": "ingress", "protocol": "tcp",
                       "portRangeMin": 8000, "portRangeMax": 8001},
                      {"direction": "egress"}])
        a = self.vm(net, securityGroupIds=[sg["id"]])
        b = self.vm(net, portSecurityEnabled=False)
        for p in (7999, 8000, 8001, 8002):
            a.listen("tcp", p)
        time.sleep(0.5)
        self.assertTrue(b.connect("tcp", a.ip4(), 8000))
        self.assertTrue(b.connect("tcp", a.ip4(), 8001))
        self.assertFalse(b.connect("tcp", a.ip4(), 8002, timeout=1))
        self.assertFalse(b.connect("tcp", a.ip4(), 7999, timeout=1))
        self.assertIn("tcp.dst >= 8000 && tcp.dst <= 8001",
                      node.nbctl("acl-list", "pg_" + sg["id"]
                                 .replace("-", "_")))

    def test_remote_ip_prefix(self):
        net = self.network(["10.52.0.0/24"])
        b = self.vm(net, portSecurityEnabled=False)
        c = self.vm(net, portSecurityEnabled=False)
        sg = self.sg([{"direction": "ingress", "protocol": "icmp",
                       "remoteIpPrefix": b.ip4() + "/32"},
                      {"direction": "egress"}])
        a = self.vm(net, securityGroupIds=[sg["id"]])
        self.assertTrue(b.ping_eventually(a.ip4()))
        self.assertFalse(c.ping(a.ip4(), count=2))
        self.assertIn("ip4.src == %s/32" % b.ip4(),
                      node.nbctl("acl-list", "pg_" + sg["id"]
                                 .replace("-", "_")))

    def test_remote_group_membership_changes_no_acl(self):
        net = self.network(["10.53.0.0/24"])
        clients = self.sg(name="clients")
        web = self.sg([{"direction": "ingress", "protocol": "tcp",
                        "portRangeMin": 80, "portRangeMax": 80,
                        "remoteGroupId": clients["id"]},
                       {"direction": "egress"}], name="web")
        server = self.vm(net, securityGroupIds=[web["id"]])
        member = self.vm(net, securityGroupIds=[clients["id"]])
        outsider = self.vm(net, securityGroupIds=[self.open_sg()["id"]])
        server.listen("tcp", 80)
        deadline = time.time() + 10
        while time.time() < deadline and not member.connect(
                "tcp", server.ip4(), 80, timeout=1):
            pass
        self.assertTrue(member.connect("tcp", server.ip4(), 80))
        self.assertFalse(outsider.connect("tcp", server.ip4(), 80, timeout=1))

        acls_before = node.nbctl("--format=json", "list", "ACL")
        node.api(PORT + "UpdatePort", {
            "port": {"id": outsider.port["id"],
                     "securityGroupIds": [clients["id"]]},
            "updateMask": "securityGroupIds"})
        self.assertEqual(acls_before, node.nbctl("--format=json", "list",
                                                 "ACL"))
        deadline = time.time() + 10
        ok = False
        while time.time() < deadline and not ok:
            ok = outsider.connect("tcp", server.ip4(), 80, timeout=1)
        self.assertTrue(ok)
        self.assertIn("$pg_%s_ip4" % clients["id"].replace("-", "_"),
                      node.nbctl("acl-list", "pg_" + web["id"]
                                 .replace("-", "_")))

    def test_icmp_type_rule_and_removal(self):
        net = self.network(["10.54.0.0/24"])
        rule_id = new_id()
        sg = self.sg([{"id": rule_id, "direction": "ingress",
                       "protocol": "icmp", "portRangeMin": 8},
                      {"direction": "egress"}])
        a = self.vm(net, securityGroupIds=[sg["id"]])
        b = self.vm(net, portSecurityEnabled=False)
        self.assertTrue(b.ping_eventually(a.ip4()))
        self.assertIn("icmp4.type == 8", node.nbctl(
            "acl-list", "pg_" + sg["id"].replace("-", "_")))
        node.api(SG + "RemoveRule", {"securityGroupId": sg["id"],
                                     "ruleId": rule_id})
        self.assertEqual(node.nb_rows("ACL", "limiquantix:sg_rule_id",
                                      rule_id), [])
        time.sleep(1.5)
        self.assertFalse(b.ping(a.ip4(), count=2))
        # Adding it back opens it again.
        node.api(SG + "AddRule", {"securityGroupId": sg["id"], "rule": {
            "id": rule_id, "direction": "ingress", "protocol": "icmp",
            "portRangeMin": 8}})
        self.assertTrue(b.ping_eventually(a.ip4()))

    def test_spoofing_dropped(self):
        net = self.network(["10.55.0.0/24"])
        sg = self.open_sg()
        a = self.vm(net, securityGroupIds=[sg["id"]])
        b = self.vm(net, portSecurityEnabled=False)
        self.assertTrue(a.ping_eventually(b.ip4()))
        self.assertIn(a.ip4(), node.nbctl("lsp-get-port-security",
                                          a.port["id"]))
        # Another source IP from the same MAC: dropped.
        a.x("ip", "addr", "flush", "dev", "eth0")
        a.x("ip", "addr", "add", "10.55.0.200/24", "dev", "eth0")
        self.assertFalse(a.ping(b.ip4(), count=2))
        # Back to its own IP but a forged MAC: dropped.
        a.x("ip", "addr", "flush", "dev", "eth0")
        a.configure()
        a.x("ip", "link", "set", "eth0", "address", "0a:de:ad:be:ef:01")
        self.assertFalse(a.ping(b.ip4(), count=2))
        a.x("ip", "link", "set", "eth0", "address", a.port["macAddress"])
        self.assertTrue(a.ping_eventually(b.ip4()))


class LifecycleTest(Base):
    def test_delete_network_removes_every_row(self):
        net = self.network(["10.60.0.0/24", "fd00:60::/64"], type="vlan",
                           vlanId=100, physicalNetwork="physnet1")
        p = self.port(net, dnsName="gone")
        ls = "lqnet-" + net["id"]
        self.assertIn("localnet", node.nbctl("show", ls))
        self.assertEqual(node.nbctl("--bare", "--columns=tag", "list",
                                    "Logical_Switch_Port",
                                    ls + "-localnet").strip(), "100")
        self.assertEqual(len(node.nb_rows("DHCP_Options",
                                          "limiquantix:network_id",
                                          net["id"])), 2)
        status, r = node.api_status(NET + "DeleteNetwork", {"id": net["id"]})
        self.assertEqual((status, r["code"]), (400, "failed_precondition"))
        node.api(PORT + "DeletePort", {"id": p["id"]})
        self.ports.remove(p["id"])
        node.api(NET + "DeleteNetwork", {"id": net["id"]})
        self.networks.remove(net["id"])
        for table in ("Logical_Switch", "DHCP_Options", "DNS",
                      "Logical_Switch_Port"):
            self.assertEqual(node.nb_rows(table, "limiquantix:network_id",
                                          net["id"]), [], table)
        status, r = node.api_status(NET + "GetNetwork", {"id": net["id"]})
        self.assertEqual((status, r["code"]), (404, "not_found"))

    def test_idempotent_create(self):
        body = {"id": new_id(), "name": "idem",
                "subnets": [{"cidr": "10.61.0.0/24"}]}
        a = node.api(NET + "CreateNetwork", body)
        self.networks.append(a["id"])
        self.assertEqual(node.api(NET + "CreateNetwork", body), a)
        self.assertEqual(len(node.nb_rows("Logical_Switch",
                                          "limiquantix:network_id",
                                          a["id"])), 1)
        status, r = node.api_status(NET + "CreateNetwork",
                                    dict(body, name="other"))
        self.assertEqual((status, r["code"]), (409, "already_exists"))
        pbody = {"id": new_id(), "networkId": a["id"], "name": "p"}
        p1 = node.api(PORT + "CreatePort", pbody)
        self.ports.append(p1["id"])
        self.assertEqual(node.api(PORT + "CreatePort", pbody)["fixedIps"],
                         p1["fixedIps"])
        status, r = node.api_status(PORT + "CreatePort",
                                    dict(pbody, name="q"))
        self.assertEqual((status, r["code"]), (409, "already_exists"))

    def test_fixed_ip_honoured_or_refused(self):
        net = self.network(["10.62.0.0/24"])
        p = self.port(net, fixedIps=[{"ipAddress": "10.62.0.77"}])
        self.assertEqual(p["fixedIps"], [{"subnetCidr": "10.62.0.0/24",
                                          "ipAddress": "10.62.0.77"}])
        status, r = node.api_status(PORT + "CreatePort", {
            "id": new_id(), "networkId": net["id"],
            "fixedIps": [{"ipAddress": "10.62.0.77"}]})
        self.assertEqual((status, r["code"]), (409, "already_exists"))
        self.assertIn("10.62.0.77", r["message"])
        # Allocation skips the taken address and the gateway.
        q = self.port(net)
        self.assertEqual(q["fixedIps"][0]["ipAddress"], "10.62.0.2")

    def test_bad_input_changes_nothing(self):
        net = self.network(["10.63.0.0/24"])
        sg = self.sg()
        before = node.nb_dump()
        bad = [
            (NET + "CreateNetwork", {"id": new_id(), "subnets": [
                {"cidr": "10.0.0.0/33"}]}, "subnets[0].cidr"),
            (NET + "CreateNetwork", {"id": new_id(), "subnets": [
                {"cidr": "10.0.0.0/24"}, {"cidr": "10.0.0.128/25"}]},
             "overlaps"),
            (NET + "CreateNetwork", {"id": new_id(), "subnets": [
                {"cidr": "10.0.0.0/24", "gatewayIp": "10.0.1.1"}]},
             "gatewayIp"),
            (NET + "CreateNetwork", {"id": new_id(), "type": "vlan",
                                     "vlanId": 4095,
                                     "physicalNetwork": "p"}, "vlanId"),
            (NET + "CreateNetwork", {"id": "not-a-uuid"}, "id"),
            (SG + "AddRule", {"securityGroupId": sg["id"], "rule": {
                "id": new_id(), "direction": "ingress", "protocol": "tcp",
                "portRangeMin": 90, "portRangeMax": 80}}, "portRangeMin"),
            (SG + "AddRule", {"securityGroupId": sg["id"], "rule": {
                "id": new_id(), "direction": "ingress", "protocol": "tcp",
                "portRangeMin": 70000}}, "portRange"),
            (SG + "AddRule", {"securityGroupId": sg["id"], "rule": {
                "id": new_id(), "direction": "ingress",
                "protocol": "gre2"}}, "protocol"),
            (SG + "AddRule", {"securityGroupId": sg["id"], "rule": {
                "id": new_id(), "direction": "ingress",
                "remoteIpPrefix": "0.0.0.0/0 || 1"}}, "remoteIpPrefix"),
            (SG + "AddRule", {"securityGroupId": sg["id"], "rule": {
                "id": new_id(), "direction": "ingress",
                "remoteGroupId": new_id()}}, "remoteGroupId"),
            (PORT + "CreatePort", {"id": new_id(), "networkId": new_id()},
             "networkId"),
            (PORT + "CreatePort", {"id": new_id(), "networkId": net["id"],
                                   "macAddress": "01:00:5e:00:00:01"},
             "macAddress"),
            (PORT + "CreatePort", {"id": new_id(), "networkId": net["id"],
                                   "fixedIps": [{"ipAddress": "10.63.0.5"},
                                                {"ipAddress": "10.63.0.5"}]},
             "duplicate"),
            (PORT + "CreatePort", {"id": new_id(), "networkId": net["id"],
                                   "securityGroupIds": [new_id()]},
             "securityGroupIds[0]"),
            (PORT + "BindPort", {"portId": new_id(), "deviceName": "x"},
             "not found"),
        ]
        for method, body, field in bad:
            status, r = node.api_status(method, body)
            self.assertIn(status, (400, 404), (method, body, r))
            self.assertIn(field, r["message"], (method, body, r))
        self.assertEqual(before, node.nb_dump())

    def test_bind_refuses_host_devices(self):
        """BindPort plugs only a VM's own tap or veth (issue 13): never the
        loopback, a physical NIC, a bridge, a device already on a bridge,
        another kind of device or another port's VM tap; each refusal
        names deviceName and changes nothing in OVS or OVN."""
        net = self.network(["10.67.0.0/24"], name="hostdev")
        p = self.port(net)
        other = self.port(net)
        tag = "%d" % (os.getpid() % 10000)
        br, enslaved, peer = "lqbr" + tag, "lqen" + tag, "lqep" + tag
        dummy = "lqdu" + tag
        other_tap = "lq" + other["id"].replace("-", "")[:12]
        sh("ip", "link", "add", br, "type", "bridge")
        self.addCleanup(sh, "ip", "link", "del", br, check=False)
        sh("ip", "link", "add", enslaved, "type", "veth", "peer", "name",
           peer)
        self.addCleanup(sh, "ip", "link", "del", enslaved, check=False)
        sh("ip", "link", "set", enslaved, "master", br)
        # Another kind of device: a dummy, or (kernels without the dummy
        # module) an ifb device the host already has.
        kind = "dummy"
        if sh("ip", "link", "add", dummy, "type", "dummy",
              check=False).returncode:
            ifbs = sorted(d for d in os.listdir("/sys/class/net")
                          if d.startswith("ifb"))
            dummy, kind = (ifbs[0], "ifb") if ifbs else (None, None)
        else:
            self.addCleanup(sh, "ip", "link", "del", dummy, check=False)
        sh("ip", "tuntap", "add", "dev", other_tap, "mode", "tap")
        self.addCleanup(sh, "ip", "link", "del", other_tap, check=False)
        cases = [("lo", "is the loopback device"),
                 (br, "is a bridge"),
                 (enslaved, "is already attached to " + br),
                 (dummy, "is a device of kind \"%s\"" % kind),
                 (other_tap, "is the tap of another port's VM"),
                 ("nosuchdev0", "no network device")]
        cases = [c for c in cases if c[0]]
        nics = [d for d in os.listdir("/sys/class/net")
                if os.path.exists("/sys/class/net/%s/device" % d)]
        if nics:
            cases.append((nics[0], "is a physical network interface"))
        before_ovs = node.vsctl("--columns=name,external_ids", "list",
                                "Interface")
        before_nb = node.nb_dump()
        for dev, why in cases:
            status, r = node.api_status(PORT + "BindPort", {
                "portId": p["id"], "deviceName": dev})
            self.assertEqual((status, r.get("code")),
                             (400, "invalid_argument"), (dev, r))
            self.assertTrue(r["message"].startswith("deviceName: "), r)
            self.assertIn(why, r["message"], (dev, r))
        self.assertEqual(node.vsctl("--columns=name,external_ids", "list",
                                    "Interface"), before_ovs)
        self.assertEqual(node.nb_dump(), before_nb)
        self.assertEqual(node.api(PORT + "GetPort", {"id": p["id"]})
                         ["deviceName"], "")

    def test_lqctl_views_of_our_rows(self):
        net = self.network(["10.65.0.0/24"], name="views")
        sg = self.sg([{"direction": "ingress", "protocol": "tcp",
                       "portRangeMin": 22}], name="ssh")
        p = self.port(net, securityGroupIds=[sg["id"]])
        r = node.lqctl("net", "show", net["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("subnet 10.65.0.0/24, gateway 10.65.0.1", r.stdout)
        self.assertIn(p["fixedIps"][0]["ipAddress"], r.stdout)
        self.assertIn("security groups: ssh (%s)" % sg["id"], r.stdout)
        r = node.lqctl("sg", "explain", p["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("allows in IPv4 tcp port 22 from anywhere", r.stdout)
        self.assertIn("tcp.dst == 22) allow-related", r.stdout)
        # lqctl nb reads the same database ovn-nbctl does, same output.
        pg = "pg_" + sg["id"].replace("-", "_")
        self.assertEqual(node.lqctl("nb", "acl-list", pg).stdout,
                         node.nbctl("acl-list", pg))

    def trace(self, *args):
        r = node.lqctl("net", "trace", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_trace_agrees_with_packets(self):
        """lqctl net trace (ovn-trace on the real SB) names the rule that
        lets a packet through and the default drop that stops another,
        and says the same as real traffic between the two ports."""
        net = self.network(["10.66.0.0/24"], name="tr")
        sg = self.sg([{"direction": "ingress", "protocol": "tcp",
                       "portRangeMin": 80, "portRangeMax": 80,
                       "id": "00000000-0000-4000-8000-000000000080"},
                      {"direction": "egress",
                       "id": "00000000-0000-4000-8000-0000000000e0"}],
                     name="web")
        a = self.vm(net, name="tra", securityGroupIds=[sg["id"]])
        b = self.vm(net, name="trb", securityGroupIds=[sg["id"]])
        b.listen("tcp", 80)
        b.listen("tcp", 22)
        self.assertTrue(a.connect("tcp", b.ip4(), 80))
        self.assertFalse(a.connect("tcp", b.ip4(), 22, timeout=1))

        out = self.trace("--from", "tra", "--to", "trb", "tcp/80")
        self.assertIn("packet: tcp %s -> %s port 80" % (a.ip4(), b.ip4()),
                      out)
        self.assertIn("leaving tra: allowed by security group web (%s) rule "
                      "00000000-0000-4000-8000-0000000000e0: out IPv4 any "
                      "protocol to anywhere" % sg["id"], out)
        self.assertIn("entering trb: allowed by security group web (%s) rule "
                      "00000000-0000-4000-8000-000000000080: in IPv4 tcp port "
                      "80 from anywhere" % sg["id"], out)
        self.assertIn("tcp.dst == 80) allow-related", out)
        self.assertTrue(out.endswith("verdict: allowed, delivered to trb\n"),
                        out)

        # By id and by address; the receiver's default drop decides.
        out = self.trace("--from", a.port["id"], "--to", b.ip4(), "tcp/22")
        self.assertIn("entering trb: dropped by the default drop: no rule of "
                      "the security groups of trb allows it", out)
        self.assertIn("ACL to-lport 1001 (outport == @lq_pg_drop && ip) drop",
                      out)
        self.assertTrue(out.endswith("verdict: dropped\n"), out)
        self.assertFalse(a.ping(b.ip4()))
        self.assertIn("verdict: dropped",
                      self.trace("--from", "tra", "--to", "trb", "icmp"))

        # Without the egress rule the sender's own default drop decides.
        node.api(SG + "RemoveRule", {
            "securityGroupId": sg["id"],
            "ruleId": "00000000-0000-4000-8000-0000000000e0"})
        # ovn-trace reads the Southbound DB, which ovn-northd updates a
        # moment after the Northbound change.
        deadline = time.time() + 10
        while True:
            out = self.trace("--from", "tra", "--to", "trb", "tcp/80")
            if "verdict: dropped" in out or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertIn("leaving tra: dropped by the default drop", out)
        self.assertNotIn("entering trb", out)
        self.assertFalse(a.connect("tcp", b.ip4(), 80, timeout=1))

        # Bad input: clear errors, exit 1 or 2.
        for args, code, msg in (
                (("--from", "tra", "--to", "trb", "tcp"), 1,
                 "PROTO: tcp needs a destination port"),
                (("--from", "tra", "--to", "nosuch", "tcp/1"), 1,
                 "nosuch: no such port"),
                (("--from", "tra", "--to", "trb", "--ip6", "udp/1"), 1,
                 "--to trb: the port has no IPv6 address"),
                (("--from", "tra", "--to", "trb", "tcp/99999"), 1,
                 "PROTO: expected a port 1-65535"),
                (("--from", "tra", "tcp/1"), 2, "--from, --to and PROTO")):
            r = node.lqctl("net", "trace", *args)
            self.assertEqual(r.returncode, code, (args, r.stderr))
            self.assertIn(msg, r.stderr, args)

    def test_delete_sg_in_use_refused(self):
        net = self.network(["10.64.0.0/24"])
        sg = self.sg()
        self.port(net, securityGroupIds=[sg["id"]])
        status, r = node.api_status(SG + "DeleteSecurityGroup",
                                    {"id": sg["id"]})
        self.assertEqual((status, r["code"]), (400, "failed_precondition"))


class ReconcileTest(unittest.TestCase):
    def test_restart_restores_and_collects(self):
        net = node.api(NET + "CreateNetwork", {
            "id": new_id(), "subnets": [{"cidr": "10.70.0.0/24"}]})
        try:
            # Behind our back: delete our DHCP row, add an orphan of ours.
            dhcp = node.nb_rows("DHCP_Options", "limiquantix:network_id",
                                net["id"])[0][0][1]
            node.nbctl("destroy", "DHCP_Options", dhcp)
            orphan_net = new_id()
            node.nbctl("create", "DHCP_Options", "cidr=10.99.0.0/24",
                       "external_ids:\"limiquantix:network_id\"=\"%s\""
                       % orphan_net)
            self.assertEqual(node.stop(), 0)
            node.start()
            deadline = time.time() + 10
            while time.time() < deadline and not node.nb_rows(
                    "DHCP_Options", "limiquantix:network_id", net["id"]):
                time.sleep(0.1)
            self.assertEqual(len(node.nb_rows(
                "DHCP_Options", "limiquantix:network_id", net["id"])), 1)
            self.assertEqual(node.nb_rows("DHCP_Options",
                                          "limiquantix:network_id",
                                          orphan_net), [])
            # Nothing duplicated.
            self.assertEqual(len(node.nb_rows(
                "Logical_Switch", "limiquantix:network_id", net["id"])), 1)
            self.assertEqual(node.nbctl("--bare", "--columns=name", "find",
                                        "Port_Group", "name=lq_pg_drop")
                             .count("lq_pg_drop"), 1)
        finally:
            node.api_status(NET + "DeleteNetwork", {"id": net["id"]})


if __name__ == "__main__":
    unittest.main(verbosity=2)
