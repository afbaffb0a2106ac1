"""lq-dpdk-check against the real host: EAL with virtual ports, refusals.

Needs root (it writes nr_hugepages).  Every test puts the 2M hugepage count
back to what it was before, whatever happens; the tool itself must give
back what it reserves, and leave nothing in /var/run/dpdk.  No PMD thread
ever runs: the tool only probes and starts ports, it never polls them.
"""
import glob
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import hostlock  # noqa: E402

TOOL = os.environ.get("LQ_DPDK_CHECK", "build/lq-dpdk-check")
HP = "/sys/kernel/mm/hugepages/hugepages-%dkB/nr_hugepages"
HP2M = HP % 2048
HP1G = HP % (1024 * 1024)


def read_int(path):
    with open(path) as f:
        return int(f.read())


def write_int(path, value):
    with open(path, "w") as f:
        f.write("%d\n" % value)


def online_cpus():
    cpus = set()
    with open("/sys/devices/system/cpu/online") as f:
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    return sorted(cpus)


def leftovers():
    return glob.glob("/var/run/dpdk/lq-dpdk-check-*")


def setUpModule():
    # Alone on the host (hugepages, /var/run/dpdk); the hugepage counts
    # are put back at exit whatever happens.
    if os.geteuid() == 0:
        hostlock.hold("dpdk")
        hostlock.keep_hugepages()


class DpdkCheckTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root (hugepages)")
        if len(online_cpus()) < 2:
            self.skipTest("needs two CPUs (an lcore and a PMD core)")
        self.cpus = online_cpus()
        self.lcore = self.cpus[0]
        self.pmd = self.cpus[-1]
        self.orig_2m = read_int(HP2M)
        # Also when tearDown's checks fail or setUp fails after this.
        self.addCleanup(write_int, HP2M, self.orig_2m)
        self.dir = tempfile.mkdtemp(prefix="lq-test-dpdk-")
        self.before = set(leftovers())

    def tearDown(self):
        write_int(HP2M, self.orig_2m)
        self.assertEqual(read_int(HP2M), self.orig_2m)
        self.assertEqual(set(leftovers()), self.before,
                         "EAL runtime directory left behind")
        subprocess.run(["rm", "-rf", self.dir], check=True)

    def config(self, text):
        path = os.path.join(self.dir, "node.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def vdev_config(self, count=0, socket_mem=16, size="2M", pmd=None):
        return self.config(
            "dpdk:\n"
            "  enabled: true\n"
            "  pmd_cores: \"%s\"\n"
            "  lcore: %d\n"
            "  socket_mem_mb: %d\n"
            "  hugepages: {count: %d, size: %s}\n"
            "  extra_eal_args: [--no-pci, --in-memory]\n"
            "  interfaces:\n"
            "    - {name: null0, vdev: net_null0}\n"
            "    - {name: ring0, vdev: net_ring0}\n"
            % (self.pmd if pmd is None else pmd, self.lcore, socket_mem,
               count, size))

    def run_tool(self, args, pin=True, timeout=60):
        """Runs the tool, pinned (like a daemon kept off the PMD cores) to
        the lcore unless 'pin' is false."""
        def preexec():
            if pin:
                os.sched_setaffinity(0, {self.lcore})
        p = subprocess.run([TOOL] + args, capture_output=True, text=True,
                           timeout=timeout, preexec_fn=preexec)
        self.output = "stdout:\n%s\nstderr:\n%s" % (p.stdout, p.stderr)
        return p

    def assertOk(self, p):
        self.assertEqual(p.returncode, 0, self.output)
        self.assertIn("ok: this host can run the DPDK fast path", p.stdout)

    def assertRefused(self, p, reason):
        self.assertEqual(p.returncode, 1, self.output)
        self.assertIn(reason, p.stderr, self.output)
        self.assertNotIn("eal: initialised", p.stdout, self.output)

    def test_eal_and_virtual_ports(self):
        # The test reserves the pages; count 0 means "use what is there".
        write_int(HP2M, self.orig_2m + 16)
        p = self.run_tool(["-c", self.vdev_config(), "--no-ovs"])
        self.assertOk(p)
        self.assertIn("pmd %d, lcore %d, daemon %d"
                      % (self.pmd, self.lcore, self.lcore), p.stdout)
        self.assertIn("--vdev net_null0 --vdev net_ring0 --no-pci "
                      "--in-memory", p.stdout)
        self.assertIn("eal: initialised, 1 lcore(s), 2 port(s)", p.stdout)
        self.assertRegex(p.stdout, r"port 0 net_null0 \(null0\): driver "
                         r"net_null, mac [0-9A-F:]{17}, link up")
        self.assertRegex(p.stdout, r"port 1 net_ring0 \(ring0\): driver "
                         r"net_ring, mac [0-9A-F:]{17}, link up")
        self.assertNotIn("given back", p.stdout)
        # The tool changed nothing: the test's 16 pages are still there.
        self.assertEqual(read_int(HP2M), self.orig_2m + 16)

    def test_reserves_and_gives_back(self):
        p = self.run_tool(["-c", self.vdev_config(count=self.orig_2m + 8,
                                                  socket_mem=8),
                           "--no-ovs", "--no-start"])
        self.assertOk(p)
        self.assertIn("raised from %d" % self.orig_2m, p.stdout)
        self.assertIn("(not started)", p.stdout)
        self.assertIn("hugepages: given back (nr_hugepages %d again)"
                      % self.orig_2m, p.stdout)
        self.assertEqual(read_int(HP2M), self.orig_2m)

    def test_extra_eal_args_after_dashdash(self):
        write_int(HP2M, self.orig_2m + 8)
        path = self.config(
            "dpdk:\n  pmd_cores: \"%d\"\n  lcore: %d\n  socket_mem_mb: 0\n"
            % (self.pmd, self.lcore))
        p = self.run_tool(["-c", path, "--no-ovs", "--", "--no-pci",
                           "--vdev", "net_ring7"])
        self.assertOk(p)
        self.assertIn("(dpdk.enabled: false, checked anyway)", p.stdout)
        self.assertRegex(p.stdout, r"port 0 net_ring7 \(not in "
                         r"dpdk.interfaces\): driver net_ring")

    def test_refuses_bad_core_list(self):
        p = self.run_tool(["-c", self.vdev_config(pmd="3-1"), "--no-ovs"])
        self.assertRefused(p, "node.yaml:3: dpdk.pmd_cores: backwards range "
                           "3-1 in \"3-1\"")

    def test_refuses_absent_and_overlapping_cores_changing_nothing(self):
        # Asks for more hugepages too: refused before reserving them.
        absent = max(self.cpus) + 1
        p = self.run_tool(["-c", self.vdev_config(
            count=self.orig_2m + 8, pmd="%d,%d" % (self.pmd, absent))],
            pin=False)
        self.assertRefused(p, "dpdk.pmd_cores: CPU %d not present (online "
                           "CPUs: " % absent)
        self.assertIn("dpdk.pmd_cores: CPU %d overlaps the daemon's CPU "
                      "affinity" % self.pmd, p.stderr)
        # ovs-vswitchd-dpdk is installed (scripts/lib.sh): not named.
        self.assertNotIn("ovs-vswitchd is not the DPDK build", p.stderr)
        self.assertNotIn("raised from", p.stdout)
        self.assertEqual(read_int(HP2M), self.orig_2m)

    def test_refuses_without_hugepages(self):
        if read_int(HP1G) if os.path.exists(HP1G) else 0:
            self.skipTest("this host has 1G hugepages reserved")
        p = self.run_tool(["-c", self.vdev_config(size="1G"), "--no-ovs"])
        if os.path.exists(HP1G):
            self.assertRefused(p, "hugepages: no 1G hugepages reserved "
                               "(dpdk.hugepages.count is 0")
        else:   # A kernel without 1G pages (no hugepages-1048576kB).
            self.assertRefused(p, "hugepages: this kernel has no 1G "
                               "hugepages")

    def test_refuses_socket_mem_beyond_hugepages(self):
        write_int(HP2M, self.orig_2m + 4)
        free = read_int(HP2M.replace("nr_", "free_"))
        p = self.run_tool(["-c", self.vdev_config(socket_mem=4096),
                           "--no-ovs"])
        self.assertRefused(p, "hugepages: dpdk.socket_mem_mb is 4096 MB but "
                           "only %d MB of 2M hugepages are free" % (free * 2))

    def test_ovs_build_check(self):
        fake = os.path.join(self.dir, "ovs-vswitchd-dpdk")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho 'ovs-vswitchd (Open vSwitch) 3.1.0'\n"
                    "echo 'DPDK 22.11.1'\n")
        os.chmod(fake, 0o755)
        write_int(HP2M, self.orig_2m + 8)
        cfg = self.vdev_config(socket_mem=8)
        p = self.run_tool(["-c", cfg, "--ovs-vswitchd", fake, "--no-eal"])
        self.assertOk(p)
        self.assertIn("ovs-vswitchd: ovs-vswitchd (Open vSwitch) 3.1.0; "
                      "DPDK 22.11.1", p.stdout)
        self.assertNotIn("eal:", p.stdout)

        plain = "/usr/sbin/ovs-vswitchd"
        if os.path.exists(plain):
            p = self.run_tool(["-c", cfg, "--ovs-vswitchd", plain])
            self.assertRefused(p, "ovs-vswitchd is not the DPDK build: "
                               "\"%s --version\" does not mention DPDK"
                               % plain)
        if not os.path.exists("/usr/lib/openvswitch-switch-dpdk/"
                              "ovs-vswitchd-dpdk"):
            p = self.run_tool(["-c", cfg])
            self.assertRefused(p, "ovs-vswitchd is not the DPDK build: "
                               "/usr/lib/openvswitch-switch-dpdk/"
                               "ovs-vswitchd-dpdk not found (install "
                               "openvswitch-switch-dpdk)")

    def test_eal_failure_is_reported(self):
        write_int(HP2M, self.orig_2m + 8)
        path = self.config(
            "dpdk:\n  pmd_cores: \"%d\"\n  lcore: %d\n  socket_mem_mb: 0\n"
            "  extra_eal_args: [--no-pci]\n"
            "  interfaces:\n    - {name: bogus, vdev: net_bogus0}\n"
            % (self.pmd, self.lcore))
        p = self.run_tool(["-c", path, "--no-ovs"])
        self.assertEqual(p.returncode, 1, self.output)
        self.assertIn("lq-dpdk-check: EAL initialisation failed: ", p.stderr)
        self.assertIn("FAILED", p.stdout)

    def test_usage(self):
        p = self.run_tool(["--bogus"])
        self.assertEqual(p.returncode, 2, self.output)
        p = self.run_tool(["-c", "/nonexistent.yaml"])
        self.assertEqual(p.returncode, 1, self.output)
        self.assertIn("/nonexistent.yaml: cannot open config file", p.stderr)
        p = self.run_tool(["-c", self.vdev_config(), "--daemon-cpus", "x"])
        self.assertEqual(p.returncode, 2, self.output)
        self.assertIn("--daemon-cpus: expected a CPU number", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
