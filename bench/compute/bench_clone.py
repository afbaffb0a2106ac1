#!/usr/bin/env python3
"""bench_clone: a VM whose 1 GiB disk is a linked clone of a base image,
through limiquantix-node, against virt-install --import of the same image
with `qemu-img create -b` done by hand, on the same private libvirtd in
the same run.

  bench/compute/bench_clone.py [--node build/limiquantix-node] [--count 5]

The image is a 1 GiB qcow2 with 64 MiB of data and a marker line at
offset 0.  Ours: the image imported once into a local pool
(CreateVolume imagePath) and snapshotted; per VM, CreateVM with
disks[0] = {imageVolumeId, imageSnapshotId} + StartVM until the guest
prints the marker it read from its own disk.  Theirs: per VM,
`qemu-img create -f qcow2 -b image -F qcow2 overlay` + `virt-install
--import` of that overlay (same kernel, initramfs and command line, 256
MiB, one vCPU) until the same marker.  Also reports the bytes allocated
for each VM's disk (no copy of the image on either side).  Prints a
markdown table with medians and the ratio (ours / virt-install)."""
import argparse
import os
import shutil
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
VOL = "limiquantix.storage.v1.VolumeService/"
MARKER = "LQ-GUEST-DISK-READ LQ-PATTERN-base"


def wait_marker(path, marker, timeout=180):
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


def allocated(path):
    return os.stat(path).st_blocks * 512


def make_image(path, tmp):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, "1G"],
                   check=True)
    line = os.path.join(tmp, "line")
    with open(line, "wb") as f:
        f.write(b"LQ-PATTERN-base\n")
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -s %s 0 16" % line,
                    "-c", "write -P 0x5a 64M 64M", path], check=True,
                   capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", default=os.path.join(ROOT, "build",
                                                   "limiquantix-node"))
    ap.add_argument("--count", type=int, default=5)
    args = ap.parse_args()
    os.environ["LQ_NODE"] = args.node
    computetest.lqtest.NODE = args.node
    why = computetest.missing_prerequisites()
    if why or not shutil.which("virt-install"):
        sys.exit("bench_clone: " + (why or "no virt-install (virtinst)"))

    tmp = tempfile.mkdtemp(prefix="lq-bench-clone-")
    kernel, _ = computetest.kernel()
    initrd = os.path.join(tmp, "initrd")
    computetest.build_initramfs(initrd, net=True)
    image = os.path.join(tmp, "image.qcow2")
    make_image(image, tmp)
    pool = os.path.join(tmp, "pool")
    os.mkdir(pool, 0o700)
    cmdline = "console=ttyS0 panic=-1 lq.disk=read"

    node = Node(config="storage:\n  pools:\n"
                "    - {id: local, backend: local, path: %s}\n" % pool,
                args=["--sandbox-libvirt"], image_dirs=["/boot", tmp])
    node.start(wait=False)
    node.wait_ready(timeout=120)
    uri = "qemu:///system?socket=%s/libvirt/sock/libvirt-sock" % node.sandbox

    def run(*argv):
        r = subprocess.run(list(argv), capture_output=True, text=True,
                           timeout=300)
        if r.returncode:
            raise RuntimeError("%s: %s" % (argv[0], r.stderr))
        return r.stdout

    def api(method, body):
        service, name = method.rsplit("/", 1)
        status, r = node.call(name, body, service=service)
        if status != 200:
            raise RuntimeError("%s: %s" % (method, r))
        return r

    results = {"ours": [], "theirs": [], "ours_bytes": [],
               "theirs_bytes": []}
    try:
        api(VOL + "CreateVolume", {"id": "base", "poolId": "local",
                                   "source": {"imagePath": image}})
        while api(VOL + "GetVolume", {"id": "base"})["state"] == "creating":
            time.sleep(0.1)
        api(VOL + "CreateSnapshot", {"volumeId": "base", "id": "base-v1"})
        for i in range(args.count):
            vm = str(uuid.uuid4())
            t0 = time.time()
            r = api(VM + "CreateVM", {"vmId": vm, "name": "clone-%d" % i,
                                      "spec": {
                "memoryMib": 256, "kernelPath": kernel, "initrdPath": initrd,
                "kernelCmdline": cmdline, "serialLog": True,
                "disks": [{"id": "root", "imageVolumeId": "base",
                           "imageSnapshotId": "base-v1"}]}})
            log = r["status"]["serialLogPath"]
            api(VM + "StartVM", {"vmId": vm})
            results["ours"].append(wait_marker(log, MARKER) - t0)
            clone = [f for f in os.listdir(pool)
                     if f.startswith("lq-") and f.endswith(".qcow2")
                     and "base" not in f]
            results["ours_bytes"].append(
                sum(allocated(os.path.join(pool, f)) for f in clone))
            api(VM + "ForceStopVM", {"vmId": vm})
            api(VM + "DeleteVM", {"vmId": vm})

            overlay = os.path.join(tmp, "vi-%d.qcow2" % i)
            vlog = os.path.join(tmp, "vi-%d.log" % i)
            t0 = time.time()
            run("qemu-img", "create", "-q", "-f", "qcow2", "-b", image,
                "-F", "qcow2", overlay)
            run("virt-install", "--connect", uri, "--name", "vi-%d" % i,
                "--memory", "256", "--vcpus", "1", "--import",
                "--disk", "path=%s,format=qcow2,bus=virtio" % overlay,
                "--boot", "kernel=%s,initrd=%s,kernel_args=%s"
                % (kernel, initrd, cmdline),
                "--serial", "file,path=%s" % vlog, "--network", "none",
                "--graphics", "none", "--noautoconsole",
                "--osinfo", "detect=on,require=off")
            results["theirs"].append(wait_marker(vlog, MARKER) - t0)
            results["theirs_bytes"].append(allocated(overlay))
            run("virsh", "-c", uri, "destroy", "vi-%d" % i)
            run("virsh", "-c", uri, "undefine", "vi-%d" % i)
            os.unlink(overlay)
            print("vm %d: %.2f s ours, %.2f s virt-install" % (
                i, results["ours"][-1], results["theirs"][-1]),
                file=sys.stderr)
        api(VOL + "DeleteSnapshot", {"volumeId": "base", "id": "base-v1"})
        api(VOL + "DeleteVolume", {"id": "base"})
    finally:
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    print("| what (%d VMs, median) | limiquantix-node | virt-install | "
          "ratio |" % args.count)
    print("|---|---|---|---|")
    print("| 1 GiB linked-clone disk: create + start → guest reads the "
          "image's marker | %.2f s | %.2f s (qemu-img create -b + "
          "virt-install --import) | %.2f |"
          % (med["ours"], med["theirs"], med["ours"] / med["theirs"]))
    print("| bytes allocated for the VM's disk (image: 1 GiB, 64 MiB "
          "data) | %d KiB | %d KiB | |"
          % (med["ours_bytes"] // 1024, med["theirs_bytes"] // 1024))


if __name__ == "__main__":
    main()
