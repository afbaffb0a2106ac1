#!/usr/bin/env python3
"""bench_rbd: limiquantix-node's RBD driver against the tools a user would
otherwise run, on the same throw-away cluster in the same run.

  bench/storage/bench_rbd.py [--node build/limiquantix-node] [--count 200]
                             [--import-gib 1] [--clones 20]

Measures
  1. create + delete N volumes: VolumeService over the Unix socket vs
     `rbd create` / `rbd rm` (one process each, as a script would);
  2. clone-from-snapshot latency: CreateVolume{source.snapshotId} vs
     `rbd clone` (the snapshot is protected once, beforehand, for both);
  3. import of a mostly-sparse qcow2 (1 GiB virtual, 64 MiB of data in 16
     runs): ours vs `qemu-img convert -O raw SRC rbd:...` vs `qemu-img
     convert -O raw SRC tmp.raw && rbd import tmp.raw`;
and prints a markdown table.  The cluster is tests/ceph-vstart (memstore:
the numbers measure the client side, not disks)."""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "storage"))
import storagetest  # noqa: E402
from storagetest import MiB  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


class Bench:
    def __init__(self, args):
        self.args = args
        self.cluster = storagetest.cephvstart.Cluster(memstore_bytes=6 << 30)
        self.cluster.start()
        yaml = "storage:\n  pools:\n" + storagetest.pool_yaml(self.cluster)
        self.daemon = storagetest.StorageDaemon(yaml).start()
        self.tmp = tempfile.mkdtemp(prefix="lq-bench-")
        self.rows = []

    def rbd(self, *argv):
        subprocess.run(["rbd", "-c", self.cluster.conf, "--keyring",
                        self.cluster.keyring, "--id", "admin"] + list(argv),
                       check=True, capture_output=True)

    def api(self, method, req):
        st, body = self.daemon.vcall(method, req)
        if st != 200:
            raise RuntimeError("%s: %s" % (method, body))
        return body

    def wait(self, vid):
        while True:
            v = self.api("GetVolume", {"id": vid})
            if v["state"] == "available":
                return v
            if v["state"] == "error":
                raise RuntimeError(v["errorMessage"])
            time.sleep(0.01)

    def row(self, what, ours, theirs, tool, unit="s"):
        self.rows.append((what, ours, theirs, tool, unit))

    # 1 -------------------------------------------------------------------
    def create_delete(self):
        n = self.args.count

        def ours():
            for i in range(n):
                self.api("CreateVolume", {"id": "b%d" % i, "poolId": "ceph",
                                          "sizeBytes": str(64 * MiB)})
            for i in range(n):
                self.api("DeleteVolume", {"id": "b%d" % i})

        def theirs():
            for i in range(n):
                self.rbd("create", "--size", "64M", "rbd/r%d" % i)
            for i in range(n):
                self.rbd("rm", "--no-progress", "rbd/r%d" % i)
        self.row("create + delete %d volumes" % n, timed(ours),
                 timed(theirs), "`rbd create` + `rbd rm`")

    # 2 -------------------------------------------------------------------
    def clones(self):
        self.api("CreateVolume", {"id": "golden", "poolId": "ceph",
                                  "sizeBytes": str(256 * MiB)})
        self.api("CreateSnapshot", {"volumeId": "golden", "id": "gold-s"})
        self.rbd("snap", "protect", "rbd/lq-golden@lq-gold-s")
        ours, theirs = [], []
        for i in range(self.args.clones):
            ours.append(timed(lambda: self.api(
                "CreateVolume", {"id": "c%d" % i, "poolId": "ceph",
                                 "source": {"snapshotId": "gold-s",
                                            "volumeId": "golden"}})))
            theirs.append(timed(lambda: self.rbd(
                "clone", "rbd/lq-golden@lq-gold-s", "rbd/rc%d" % i)))
        self.row("clone from snapshot (median of %d)" % self.args.clones,
                 statistics.median(ours) * 1000,
                 statistics.median(theirs) * 1000, "`rbd clone`", "ms")
        for i in range(self.args.clones):
            self.api("DeleteVolume", {"id": "c%d" % i})
            self.rbd("rm", "--no-progress", "rbd/rc%d" % i)
        self.api("DeleteVolume", {"id": "golden", "force": True})

    # 3 -------------------------------------------------------------------
    def imports(self):
        gib = self.args.import_gib
        src = os.path.join(self.tmp, "src.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", src,
                        "%dG" % gib], check=True)
        cmds = []
        for i in range(16):       # 16 runs of 4 MiB spread over the disk
            off = i * (gib << 30) // 16
            cmds += ["-c", "write -P %d %d 4M" % (i + 1, off)]
        subprocess.run(["qemu-io", "-f", "qcow2"] + cmds + [src], check=True,
                       capture_output=True)

        def ours():
            self.api("CreateVolume", {"id": "imp", "poolId": "ceph",
                                      "source": {"imagePath": src}})
            self.wait("imp")
        t_ours = timed(ours)

        target = ("rbd:rbd/qimp:conf=%s:id=admin:keyring=%s"
                  % (self.cluster.conf, self.cluster.keyring))
        t_qemu = timed(lambda: subprocess.run(
            ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", src, target],
            check=True, capture_output=True))

        raw = os.path.join(self.tmp, "src.raw")

        def rbd_import():
            subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O",
                            "raw", src, raw], check=True)
            self.rbd("import", "--no-progress", raw, "rbd/rimp")
        t_rbd = timed(rbd_import)
        label = "import %d GiB qcow2 (64 MiB data)" % gib
        self.row(label, t_ours, t_qemu, "`qemu-img convert -O raw … rbd:`")
        self.row(label, t_ours, t_rbd,
                 "`qemu-img convert` to raw + `rbd import`")
        v = self.api("GetVolume", {"id": "imp"})
        self.allocated = int(v["allocatedBytes"])
        self.api("DeleteVolume", {"id": "imp"})
        self.rbd("rm", "--no-progress", "rbd/qimp")
        self.rbd("rm", "--no-progress", "rbd/rimp")

    def report(self):
        print("| operation | limiquantix-node | other tool | tool | "
              "ratio (tool / ours) |")
        print("|---|---|---|---|---|")
        for what, ours, theirs, tool, unit in self.rows:
            print("| %s | %.2f %s | %.2f %s | %s | %.2fx |"
                  % (what, ours, unit, theirs, unit, tool, theirs / ours))
        print()
        print("Imported volume allocation: %d MiB of %d GiB."
              % (self.allocated // MiB, self.args.import_gib))

    def close(self):
        self.daemon.stop()
        self.cluster.destroy()
        subprocess.run(["rm", "-rf", self.tmp])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", default=os.path.join(ROOT, "build",
                                                   "limiquantix-node"))
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--clones", type=int, default=20)
    ap.add_argument("--import-gib", type=int, default=1)
    args = ap.parse_args()
    storagetest.lqtest.NODE = os.path.abspath(args.node)
    b = Bench(args)
    try:
        b.create_delete()
        b.clones()
        b.imports()
        b.report()
    finally:
        b.close()


if __name__ == "__main__":
    main()
