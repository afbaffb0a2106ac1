#!/usr/bin/env python3
"""bench_vm: limiquantix-node's compute API against `virsh`, on the same
private libvirtd in the same run.

  bench/compute/bench_vm.py [--node build/limiquantix-node] [--count 10]

Measures, for COUNT VMs one after the other (TCG guests booting Debian's
kernel with the tests' busybox initramfs, 256 MiB, one vCPU):
  1. boot: CreateVM + StartVM through the API until the guest's first
     serial marker (LQ-GUEST-BOOTED), vs `virsh define` + `virsh start` of
     the same domain XML (our XML, with another name and UUID) until the
     same marker;
  2. hot-plug: AttachDisk (a raw file) until the guest prints that it sees
     the disk, vs `virsh attach-device --live` of the same <disk> element.
The daemon runs in embedded mode with --sandbox-libvirt; virsh talks to
that libvirtd.  Prints a markdown table with medians and the ratio
(ours / virsh: below 1 is faster)."""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "compute"))
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))
import computetest  # noqa: E402
from netlib import Node  # noqa: E402

VM = "limiquantix.node.v1.NodeDaemonService/"


def wait_marker(path, marker, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path, errors="replace") as f:
                if marker in f.read():
                    return time.time()
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError("no %s in %s" % (marker, path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", default=os.path.join(ROOT, "build",
                                                   "limiquantix-node"))
    ap.add_argument("--count", type=int, default=10)
    args = ap.parse_args()
    os.environ["LQ_NODE"] = args.node
    computetest.lqtest.NODE = args.node
    why = computetest.missing_prerequisites()
    if why:
        sys.exit("bench_vm: " + why)

    tmp = tempfile.mkdtemp(prefix="lq-bench-vm-")
    kernel, _ = computetest.kernel()
    initrd = os.path.join(tmp, "initrd")
    computetest.build_initramfs(initrd, net=True)
    disk = os.path.join(tmp, "disk.raw")
    with open(disk, "wb") as f:
        f.write(b"LQ-PATTERN-bench\n".ljust(1 << 20, b"\0"))

    node = Node(args=["--sandbox-libvirt"])
    node.start(wait=False)
    node.wait_ready(timeout=120)
    uri = "qemu:///system?socket=%s/libvirt/sock/libvirt-sock" % node.sandbox

    def virsh(*a):
        r = subprocess.run(["virsh", "-q", "-c", uri] + list(a),
                           capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise RuntimeError("virsh %s: %s" % (a, r.stderr))
        return r.stdout

    def api(method, body):
        status, r = node.call(method, body, service=VM.rstrip("/"))
        if status != 200:
            raise RuntimeError("%s: %s" % (method, r))
        return r

    results = {"boot_ours": [], "boot_virsh": [], "attach_ours": [],
               "attach_virsh": []}
    try:
        for i in range(args.count):
            # Ours.
            log = os.path.join(tmp, "ours-%d.log" % i)
            vm = str(uuid.uuid4())
            t0 = time.time()
            api("CreateVM", {"vmId": vm, "name": "bench-%d" % i, "spec": {
                "memoryMib": 256, "kernelPath": kernel, "initrdPath": initrd,
                "kernelCmdline": "console=ttyS0 panic=-1 lq.disk=read",
                "serialLogPath": log}})
            api("StartVM", {"vmId": vm})
            results["boot_ours"].append(wait_marker(log, "LQ-GUEST-BOOTED")
                                        - t0)
            t0 = time.time()
            api("AttachDisk", {"vmId": vm, "disk": {"id": "data",
                                                    "path": disk,
                                                    "readonly": True}})
            results["attach_ours"].append(
                wait_marker(log, "LQ-GUEST-DISK-READ") - t0)
            xml = virsh("dumpxml", "--inactive", vm)
            disk_xml = re.search(r"<disk .*?</disk>", xml, re.S).group(0)
            api("ForceStopVM", {"vmId": vm})
            api("DeleteVM", {"vmId": vm})

            # virsh, with the same XML minus the hot-plugged disk.
            vlog = os.path.join(tmp, "virsh-%d.log" % i)
            other = str(uuid.uuid4())
            vxml = xml.replace(vm, other).replace(log, vlog)
            vxml = vxml.replace("bench-%d<" % i, "vbench-%d<" % i)
            vxml = vxml.replace(disk_xml, "")
            path = os.path.join(tmp, "virsh-%d.xml" % i)
            with open(path, "w") as f:
                f.write(vxml)
            dpath = os.path.join(tmp, "disk-%d.xml" % i)
            with open(dpath, "w") as f:
                f.write(disk_xml)
            t0 = time.time()
            virsh("define", path)
            virsh("start", other)
            results["boot_virsh"].append(wait_marker(vlog, "LQ-GUEST-BOOTED")
                                         - t0)
            t0 = time.time()
            virsh("attach-device", other, dpath, "--live")
            results["attach_virsh"].append(
                wait_marker(vlog, "LQ-GUEST-DISK-READ") - t0)
            virsh("destroy", other)
            virsh("undefine", other)
            print("vm %d: boot %.2f / %.2f s, attach %.2f / %.2f s"
                  % (i, results["boot_ours"][-1], results["boot_virsh"][-1],
                     results["attach_ours"][-1], results["attach_virsh"][-1]),
                  file=sys.stderr)
    finally:
        node.stop()

    med = {k: statistics.median(v) for k, v in results.items()}
    print("| what (%d VMs, median) | limiquantix-node | virsh | ratio |"
          % args.count)
    print("|---|---|---|---|")
    print("| CreateVM+StartVM → first serial marker | %.2f s | %.2f s "
          "(define+start) | %.2f |" % (med["boot_ours"], med["boot_virsh"],
                                      med["boot_ours"] / med["boot_virsh"]))
    print("| AttachDisk → guest sees the disk | %.2f s | %.2f s "
          "(attach-device --live) | %.2f |"
          % (med["attach_ours"], med["attach_virsh"],
             med["attach_ours"] / med["attach_virsh"]))


if __name__ == "__main__":
    main()
