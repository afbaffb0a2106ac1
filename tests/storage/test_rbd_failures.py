"""Failures of the cluster under the RBD driver: the whole cluster killed
and started again (calls fail with "unavailable" within the client
timeouts, then the node reconnects), the OSD restarted while volumes are
being created (each call fails cleanly or completes, nothing leaks,
retries finish the job), and pools that cannot be used at all.

The OSD runs on bluestore (a sparse file) so that it keeps its data across
a restart; memstore would lose it.  ceph.conf sets 3 s client timeouts
(the node keeps timeouts that ceph.conf sets), so that operations against
a dead cluster fail quickly."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storagetest import MiB, CephTestCase  # noqa: E402


class FailureTest(CephTestCase):
    objectstore = "bluestore"
    client_timeout = 3
    extra_pools = ("    - {{id: noconf, backend: rbd, "
                   "ceph_conf: /nonexistent/ceph.conf, rbd_pool: rbd}}\n"
                   "    - {{id: nopool, backend: rbd, ceph_conf: {conf}, "
                   "ceph_keyring: {keyring}, rbd_pool: missing}}\n")

    def test_cluster_down_then_back(self):
        self.create("survivor", 4 * MiB)
        self.write("survivor", b"S" * 4096, 0)
        self.cluster.kill_all()
        t = time.time()
        body = self.refused("GetVolume", {"id": "survivor"}, "unavailable",
                            503)
        self.assertIn("pool ceph", body["message"])
        self.assertLess(time.time() - t, 15)
        pools = {p["id"]: p for p in self.ok(
            "ListPools", {},
            service="limiquantix.storage.v1.StoragePoolService")["pools"]}
        self.assertEqual(pools["ceph"]["health"], "unavailable")
        self.refused("CreateVolume", {"id": "nope", "poolId": "ceph",
                                      "sizeBytes": "4096"}, "unavailable")

        self.cluster.start_again()
        deadline = time.time() + 60
        while True:         # the node reconnects on its own
            st, v = self.daemon.vcall("GetVolume", {"id": "survivor"})
            if st == 200 or time.time() > deadline:
                break
            self.assertEqual(v["code"], "unavailable", v)
            time.sleep(0.5)
        self.assertEqual(st, 200, v)
        self.assertEqual(v["state"], "available")
        self.reconnect()
        self.assertEqual(self.read("survivor", 0, 4096), b"S" * 4096)
        self.assertNotIn("lq-nope", self.image_names())
        self.assertNotIn("lq-tmp~nope", self.image_names())
        self.ok("DeleteVolume", {"id": "survivor"})

    def test_osd_restart_during_creates(self):
        ids = ["r%02d" % i for i in range(16)]
        results = {}

        def creator():
            for vid in ids:
                st, body = self.daemon.vcall(
                    "CreateVolume", {"id": vid, "poolId": "ceph",
                                     "sizeBytes": str(4 * MiB)})
                results[vid] = (st, body)

        t = threading.Thread(target=creator)
        t.start()
        while len(results) < 3:
            time.sleep(0.01)
        self.cluster.restart_osd(down_seconds=1.0)
        t.join(timeout=180)
        self.assertFalse(t.is_alive())

        # Each call either completed or failed with a clean error.
        failed = []
        for vid in ids:
            st, body = results[vid]
            if st == 200:
                self.assertEqual(body["state"], "available", body)
            else:
                self.assertIn(body.get("code"),
                              ("unavailable", "internal",
                               "deadline_exceeded"), body)
                self.assertIn(vid, body["message"])
                failed.append(vid)

        # No failed call left a volume behind...
        self.reconnect()
        names = self.image_names()
        for vid in failed:
            self.assertNotIn("lq-" + vid, names)
        # ...and retries (the caller's job) complete every one.
        for vid in ids:
            deadline = time.time() + 60
            while True:
                st, body = self.daemon.vcall(
                    "CreateVolume", {"id": vid, "poolId": "ceph",
                                     "sizeBytes": str(4 * MiB)})
                if st == 200 or time.time() > deadline:
                    break
                time.sleep(0.5)
            self.assertEqual(st, 200, body)
        names = self.image_names()
        self.assertEqual(sorted(n for n in names if n.startswith("lq-")),
                         ["lq-" + vid for vid in ids])      # no lq-tmp~
        for vid in ids:
            self.write(vid, vid.encode() * 100, 0)
            self.assertEqual(self.read(vid, 0, 300), vid.encode() * 100)
            with self.image(vid) as im:
                self.assertEqual(im.metadata_get("lq.volume_id"), vid)
        vols = self.ok("ListVolumes", {"poolId": "ceph"})["volumes"]
        self.assertEqual(sorted(v["id"] for v in vols), ids)
        for vid in ids:
            self.ok("DeleteVolume", {"id": vid})
        self.assertEqual([n for n in self.image_names()
                          if n.startswith("lq-")], [])

    def test_unusable_pools(self):
        pools = {p["id"]: p for p in
                 self.ok("ListPools", {},
                         service="limiquantix.storage.v1.StoragePoolService")
                 ["pools"]}
        self.assertEqual(pools["ceph"]["health"], "ok")
        self.assertEqual(pools["noconf"]["health"], "unavailable")
        self.assertIn("ceph_conf: cannot read \"/nonexistent/ceph.conf\"",
                      pools["noconf"]["message"])
        self.assertEqual(pools["nopool"]["health"], "unavailable")
        self.assertIn("rbd_pool: Ceph pool \"missing\" does not exist",
                      pools["nopool"]["message"])
        self.refused("CreateVolume", {"id": "x", "poolId": "nopool",
                                      "sizeBytes": "4096"},
                     "unavailable", contains="does not exist")
        # The key never appears in an error.
        with open(self.cluster.keyring) as f:
            keys = [line.split("=", 1)[1].strip() for line in f
                    if "key =" in line]
        for p in pools.values():
            for k in keys:
                self.assertNotIn(k, p["message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
