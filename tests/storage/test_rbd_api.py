"""VolumeService and StoragePoolService against a real single-node Ceph.

Every assertion looks at the cluster itself (librbd through python3-rbd,
`rbd export`), not only at what the API answers."""
import os
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storagetest import (FEATURES, MiB, POOLS, CephTestCase,  # noqa: E402
                         rbd)


class VolumeApiTest(CephTestCase):
    mgr = True                  # pool statistics come from a ceph-mgr
    ceph_pools = ("rbd2",)
    # A second pool with a short clone chain limit.
    extra_pools = ("    - {{id: shallow, backend: rbd, ceph_conf: {conf}, "
                   "ceph_user: admin, ceph_keyring: {keyring}, rbd_pool: rbd2, "
                   "max_clone_depth: 2}}\n")

    def test_create_write_read_and_idempotency(self):
        v = self.create("vol-a", 16 * MiB, name="disk one")
        self.assertEqual(v["state"], "available")
        self.assertEqual(v["sizeBytes"], str(16 * MiB))
        self.assertEqual(v["name"], "disk one")
        self.assertEqual(v["backendName"], "rbd/lq-vol-a")

        # The image, as librbd sees it.
        with self.image("vol-a") as im:
            self.assertEqual(im.size(), 16 * MiB)
            self.assertEqual(im.features() & FEATURES, FEATURES)
            self.assertEqual(im.metadata_get("lq.volume_id"), "vol-a")
            self.assertEqual(im.metadata_get("lq.name"), "disk one")
        self.assertNotIn("lq-tmp~vol-a", self.image_names())

        data = os.urandom(64 * 1024)
        self.write("vol-a", data, 5 * MiB)
        self.assertEqual(self.read("vol-a", 5 * MiB, len(data)), data)
        v = self.ok("GetVolume", {"id": "vol-a"})
        self.assertGreater(int(v["allocatedBytes"]), 0)
        self.assertLess(int(v["allocatedBytes"]), 16 * MiB)   # thin

        # Same request again: success, nothing changes.
        again = self.create("vol-a", 16 * MiB, name="disk one")
        self.assertEqual(again["createdAt"], v["createdAt"])
        self.assertEqual(self.read("vol-a", 5 * MiB, len(data)), data)
        # Same id, another spec: already_exists, the volume is untouched.
        self.refused("CreateVolume", {"id": "vol-a", "poolId": "ceph",
                                      "name": "disk one",
                                      "sizeBytes": str(32 * MiB)},
                     "already_exists", 409)
        self.refused("CreateVolume", {"id": "vol-a", "poolId": "ceph",
                                      "name": "other",
                                      "sizeBytes": str(16 * MiB)},
                     "already_exists", 409)
        with self.image("vol-a") as im:
            self.assertEqual(im.size(), 16 * MiB)

        self.ok("DeleteVolume", {"id": "vol-a"})
        self.assertNotIn("lq-vol-a", self.image_names())
        # Deleting what is gone succeeds (a retried delete).
        self.ok("DeleteVolume", {"id": "vol-a"})
        self.refused("GetVolume", {"id": "vol-a"}, "not_found", 404)

    def test_invalid_requests_create_nothing(self):
        before = self.image_names()
        d = tempfile.mkdtemp(dir=self.images)
        escape = os.path.join(self.images, "shadow-link")
        if not os.path.lexists(escape):
            os.symlink("/etc/shadow", escape)
        cases = [
            ({"id": "bad1", "poolId": "nope", "sizeBytes": "1048576"},
             "poolId: unknown pool"),
            ({"id": "bad1", "poolId": "ceph", "sizeBytes": "0"},
             "sizeBytes: must be greater than 0"),
            ({"id": "bad1", "poolId": "ceph"},
             "sizeBytes: must be greater than 0"),
            ({"id": "bad1", "poolId": "ceph", "sizeBytes": "1000"},
             "not a multiple of 512"),
            ({"id": "bad1", "poolId": "ceph", "sizeBytes": "-512"},
             "sizeBytes: \"-512\" is not an unsigned integer"),
            ({"id": "bad1", "poolId": "ceph", "sizeBytes": "1048576",
              "name": "a/b"}, "name: must not contain '/'"),
            ({"id": "bad1", "poolId": "ceph", "sizeBytes": "1048576",
              "name": "a@b"}, "name: must not contain '@'"),
            ({"id": "bad/1", "poolId": "ceph", "sizeBytes": "1048576"},
             "id: \"bad/1\" is not a valid id"),
            ({"poolId": "ceph", "sizeBytes": "1048576"}, "id: required"),
            ({"id": "bad1", "poolId": "ceph",
              "source": {"imagePath": d + "/missing.qcow2"}},
             "No such file or directory"),
            ({"id": "bad1", "poolId": "ceph", "source": {"imagePath": d}},
             "is not a regular file"),
            ({"id": "bad1", "poolId": "ceph",
              "source": {"imagePath": "relative.raw"}},
             "is not an absolute path"),
            ({"id": "bad1", "poolId": "ceph",
              "source": {"imagePath": "/etc/hostname", "snapshotId": "x"}},
             "source: set one of snapshotId, imagePath and url"),
            # Host files outside the image directories (issue 13): the
            # shadow file, a keyring, a device, a symlink leading out.
            ({"id": "bad1", "poolId": "ceph",
              "source": {"imagePath": "/etc/shadow"}},
             "is not inside one of the node's image directories"),
            ({"id": "bad1", "poolId": "ceph",
              "source": {"imagePath": self.cluster.keyring}},
             "is not inside one of the node's image directories"),
            ({"id": "bad1", "poolId": "ceph",
              "source": {"imagePath": "/dev/zero"}},
             "is not inside one of the node's image directories"),
            ({"id": "bad1", "poolId": "ceph",
              "source": {"imagePath": escape}},
             "is not inside one of the node's image directories"),
            ({"id": "bad1", "poolId": "ceph",
              "source": {"imagePath": self.images + "/../../etc/passwd"}},
             "is not inside one of the node's image directories"),
            ({"id": "bad1", "poolId": "ceph", "source": "x"},
             "source: expected an object"),
            ({"id": "bad1", "poolId": "ceph", "sizeBytes": True},
             "sizeBytes: expected an integer"),
        ]
        for req, msg in cases:
            with self.subTest(req=req):
                self.refused("CreateVolume", req, "invalid_argument", 400,
                             msg)
        self.assertEqual(self.image_names(), before)

    def test_snapshot_clone_rollback_flatten(self):
        self.create("base", 8 * MiB)
        a = b"A" * 4096
        b = b"B" * 4096
        self.write("base", a, 0)
        snap = self.ok("CreateSnapshot", {"volumeId": "base", "id": "base-s1",
                                          "name": "golden"})
        self.assertEqual(snap["name"], "golden")
        self.assertEqual(snap["sizeBytes"], str(8 * MiB))
        with self.image("base") as im:
            self.assertIn("lq-base-s1", [s["name"] for s in im.list_snaps()])
        # Idempotent; another name for the same id is refused.
        self.ok("CreateSnapshot", {"volumeId": "base", "id": "base-s1",
                                   "name": "golden"})
        self.refused("CreateSnapshot", {"volumeId": "base", "id": "base-s1",
                                        "name": "silver"}, "already_exists")
        self.write("base", b, 0)

        # Clone by snapshot id alone (found by scanning the pool).
        c = self.create("clone1", 0, source={"snapshotId": "base-s1"})
        self.assertEqual(c["parent"], {"volumeId": "base",
                                       "snapshotId": "base-s1"})
        self.assertEqual(c["cloneDepth"], 1)
        self.assertEqual(c["sizeBytes"], str(8 * MiB))
        with self.image("clone1") as im:
            self.assertEqual(im.parent_info(), ("rbd", "lq-base",
                                                "lq-base-s1"))
            self.assertEqual(im.features() & FEATURES, FEATURES)
        with self.image("base") as im:
            self.assertTrue(im.is_protected_snap("lq-base-s1"))
        # The clone sees the snapshot's data, not the parent's current data.
        self.assertEqual(self.read("clone1", 0, 4096), a)
        # Writing to the clone leaves the parent alone.
        self.write("clone1", b"C" * 4096, 0)
        self.assertEqual(self.read("clone1", 0, 4096), b"C" * 4096)
        self.assertEqual(self.read("base", 0, 4096), b)

        # A bigger clone, with the volume named explicitly.
        c2 = self.create("clone2", 16 * MiB,
                         source={"snapshotId": "base-s1", "volumeId": "base"})
        self.assertEqual(c2["sizeBytes"], str(16 * MiB))
        self.refused("CreateVolume", {"id": "clone3", "poolId": "ceph",
                                      "sizeBytes": str(4 * MiB),
                                      "source": {"snapshotId": "base-s1"}},
                     "invalid_argument", contains="smaller than the snapshot")
        self.refused("CreateVolume", {"id": "clone3", "poolId": "ceph",
                                      "source": {"snapshotId": "nope"}},
                     "not_found")
        self.refused("CreateVolume", {"id": "clone3", "poolId": "ceph",
                                      "source": {"snapshotId": "nope",
                                                 "volumeId": "base"}},
                     "not_found", contains="snapshot \"nope\" of volume")
        self.refused("CreateVolume", {"id": "clone3", "poolId": "ceph",
                                      "source": {"snapshotId": "base-s1",
                                                 "volumeId": "nope"}},
                     "not_found")
        self.ok("DeleteSnapshot", {"volumeId": "base", "id": "nope"})

        snaps = self.ok("ListSnapshots", {"volumeId": "base"})["snapshots"]
        self.assertEqual([(s["id"], s["name"], s["protected"])
                          for s in snaps], [("base-s1", "golden", True)])

        # Rollback: the volume reads the snapshot's data again.
        v = self.ok("RollbackSnapshot", {"volumeId": "base",
                                         "id": "base-s1"})
        self.assertEqual(v["id"], "base")
        self.assertEqual(self.read("base", 0, 4096), a)
        self.refused("RollbackSnapshot", {"volumeId": "base", "id": "nope"},
                     "not_found")
        # ... but not while a client has the volume open.
        with self.image("base", read_only=False) as im:
            im.write(b"x", 0)       # takes the exclusive lock, watches
            self.refused("RollbackSnapshot", {"volumeId": "base",
                                              "id": "base-s1"},
                         "failed_precondition", contains="attached")

        # Flatten in the background, then the clone stands alone.
        f = self.ok("FlattenVolume", {"id": "clone1"})
        self.assertEqual(f["operation"], "flatten")
        v, _ = self.wait_available("clone1")
        self.assertNotIn("parent", v)
        self.assertEqual(v["cloneDepth"], 0)
        self.assertEqual(v["errorMessage"], "")
        with self.image("clone1") as im:
            self.assertRaises(rbd.ImageNotFound, im.parent_info)
        self.assertEqual(self.read("clone1", 0, 4096), b"C" * 4096)
        # Flattening a volume without parent changes nothing.
        self.ok("FlattenVolume", {"id": "clone1"})

        for vid in ("clone1", "clone2"):
            self.ok("DeleteVolume", {"id": vid})
        self.ok("DeleteSnapshot", {"volumeId": "base", "id": "base-s1"})
        self.ok("DeleteSnapshot", {"id": "base-s1"})   # idempotent
        with self.image("base") as im:
            self.assertEqual(list(im.list_snaps()), [])
        self.ok("DeleteVolume", {"id": "base"})

    def test_refused_and_forced_deletes(self):
        self.create("parent", 8 * MiB)
        self.write("parent", b"P" * 8192, 0)
        self.ok("CreateSnapshot", {"volumeId": "parent", "id": "parent-s"})
        self.create("child", 0, source={"snapshotId": "parent-s"})

        body = self.refused("DeleteVolume", {"id": "parent"},
                            "failed_precondition", 400)
        self.assertIn("has clones (child)", body["message"])
        body = self.refused("DeleteSnapshot", {"id": "parent-s"},
                            "failed_precondition", 400)
        self.assertIn("has clones (child)", body["message"])
        self.assertIn("lq-parent", self.image_names())

        # Attached: a librbd client holds the child open.
        im = self.image("child", read_only=False)
        try:
            body = self.refused("DeleteVolume", {"id": "child"},
                                "failed_precondition")
            self.assertIn("attached", body["message"])
            self.assertTrue(self.ok("GetVolume", {"id": "child"})["attached"])
        finally:
            im.close()
        self.assertFalse(self.ok("GetVolume", {"id": "child"})["attached"])

        # Forced: the clone is flattened first and keeps its data.
        self.ok("DeleteVolume", {"id": "parent", "force": True})
        self.assertNotIn("lq-parent", self.image_names())
        with self.image("child") as im:
            self.assertRaises(rbd.ImageNotFound, im.parent_info)
        self.assertEqual(self.read("child", 0, 8192), b"P" * 8192)
        self.ok("DeleteVolume", {"id": "child"})

    def test_force_delete_cuts_off_attached_client(self):
        self.create("held", 4 * MiB)
        r2 = self.cluster.connect()
        r2.connect()
        io2 = r2.open_ioctx("rbd")
        im = rbd.Image(io2, "lq-held")
        try:
            self.refused("DeleteVolume", {"id": "held"},
                         "failed_precondition", contains="attached")
            self.ok("DeleteVolume", {"id": "held", "force": True})
            self.assertNotIn("lq-held", self.image_names())
        finally:
            try:
                im.close()
            except rbd.Error:
                pass            # blocklisted, as intended
            io2.close()
            r2.shutdown()

    def test_concurrent_identical_creates(self):
        results = []

        def create():
            results.append(self.daemon.vcall(
                "CreateVolume", {"id": "race", "poolId": "ceph",
                                 "sizeBytes": str(4 * MiB)}))
        threads = [threading.Thread(target=create) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([st for st, _ in results], [200] * 4, results)
        self.assertEqual(len({b["createdAt"] for _, b in results}), 1)
        names = self.image_names()
        self.assertIn("lq-race", names)
        self.assertNotIn("lq-tmp~race", names)
        self.ok("DeleteVolume", {"id": "race"})

    def test_resize(self):
        self.create("grow", 8 * MiB)
        self.write("grow", b"G" * 4096, 7 * MiB)
        v = self.ok("ResizeVolume", {"id": "grow", "sizeBytes": str(32 * MiB)})
        self.assertEqual(v["sizeBytes"], str(32 * MiB))
        with self.image("grow") as im:
            self.assertEqual(im.size(), 32 * MiB)
        self.assertEqual(self.read("grow", 7 * MiB, 4096), b"G" * 4096)
        body = self.refused("ResizeVolume", {"id": "grow",
                                             "sizeBytes": str(4 * MiB)},
                            "failed_precondition")
        self.assertIn("allowShrink", body["message"])
        with self.image("grow") as im:
            self.assertEqual(im.size(), 32 * MiB)
        self.refused("ResizeVolume", {"id": "grow", "sizeBytes": "1000"},
                     "invalid_argument")
        self.refused("ResizeVolume", {"id": "nope", "sizeBytes": "4096"},
                     "not_found")
        v = self.ok("ResizeVolume", {"id": "grow", "sizeBytes": str(4 * MiB),
                                     "allowShrink": True})
        with self.image("grow") as im:
            self.assertEqual(im.size(), 4 * MiB)
        self.ok("DeleteVolume", {"id": "grow"})

    def test_clone_chain_auto_flatten(self):
        # Pool "shallow" (Ceph pool rbd2) allows chains of 2.
        io2 = self.rados.open_ioctx("rbd2")
        try:
            self.create("g0", 4 * MiB, pool="shallow")
            with rbd.Image(io2, "lq-g0") as im:
                im.write(b"Z" * 4096, 0)
            prev = "g0"
            for depth in (1, 2, 3):
                self.ok("CreateSnapshot", {"volumeId": prev,
                                           "id": prev + "-s"})
                vid = "g%d" % depth
                v = self.create(vid, 0, pool="shallow",
                                source={"snapshotId": prev + "-s",
                                        "volumeId": prev})
                if depth <= 2:
                    self.assertEqual(v["state"], "available")
                    self.assertEqual(v["cloneDepth"], depth)
                else:
                    # Too deep: created in the background, flattened.
                    self.assertEqual(v["state"], "creating")
                    self.assertEqual(v["operation"], "clone")
                    v, _ = self.wait_available(vid)
                    self.assertEqual(v["state"], "available")
                    self.assertEqual(v["cloneDepth"], 0)
                    self.assertNotIn("parent", v)
                    with rbd.Image(io2, "lq-" + vid, read_only=True) as im:
                        self.assertRaises(rbd.ImageNotFound, im.parent_info)
                with rbd.Image(io2, "lq-" + vid, read_only=True) as im:
                    self.assertEqual(im.read(0, 4096), b"Z" * 4096)
                prev = vid
            vols = self.ok("ListVolumes", {"poolId": "shallow"})["volumes"]
            self.assertEqual(sorted(v["id"] for v in vols),
                             ["g0", "g1", "g2", "g3"])
            for vid in ("g3", "g2", "g1", "g0"):
                self.ok("DeleteVolume", {"id": vid, "force": True})
            self.assertEqual(rbd.RBD().list(io2), [])
        finally:
            io2.close()

    def test_list_volumes_from_the_cluster(self):
        self.create("l1", 4 * MiB, name="first")
        self.create("l2", 4 * MiB)
        # Images that are not ours are not listed.
        rbd.RBD().create(self.ioctx, "someone-elses", 4 * MiB)
        rbd.RBD().create(self.ioctx, "lq-impostor", 4 * MiB)
        try:
            vols = self.ok("ListVolumes", {"poolId": "ceph"})["volumes"]
            ids = {v["id"]: v for v in vols}
            self.assertIn("l1", ids)
            self.assertIn("l2", ids)
            self.assertEqual(ids["l1"]["name"], "first")
            self.assertNotIn("impostor", ids)
            self.assertFalse(any(v["id"].startswith("someone")
                                 for v in vols))
            allv = self.ok("ListVolumes", {})["volumes"]
            self.assertTrue({"l1", "l2"} <= {v["id"] for v in allv})
            self.refused("ListVolumes", {"poolId": "nope"},
                         "invalid_argument")
            # Not ours: refused, not deleted.
            self.refused("DeleteVolume", {"id": "impostor"},
                         "failed_precondition", contains="not a limiquantix")
            self.assertIn("lq-impostor", self.image_names())
        finally:
            rbd.RBD().remove(self.ioctx, "someone-elses")
            rbd.RBD().remove(self.ioctx, "lq-impostor")
            self.ok("DeleteVolume", {"id": "l1"})
            self.ok("DeleteVolume", {"id": "l2"})

    def test_list_pools(self):
        self.create("cap", 4 * MiB)
        self.write("cap", os.urandom(4 * MiB), 0)
        # The mgr reports pool usage about once a second.
        deadline = time.time() + 20
        while True:
            pools = {p["id"]: p for p in
                     self.ok("ListPools", {}, service=POOLS)["pools"]}
            ceph = pools["ceph"]
            # Pool usage and cluster capacity reach the mon separately.
            if int(ceph["allocatedBytes"]) >= 4 * MiB \
                    and int(ceph["capacityBytes"]) > 0 \
                    or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(ceph["backend"], "rbd")
        self.assertEqual(ceph["health"], "ok")
        self.assertEqual(int(ceph["capacityBytes"]), 2 << 30)  # memstore
        self.assertGreaterEqual(int(ceph["allocatedBytes"]), 4 * MiB)
        self.assertGreater(int(ceph["availableBytes"]), 0)
        self.assertLessEqual(int(ceph["availableBytes"]),
                             int(ceph["capacityBytes"]))
        self.assertEqual(pools["shallow"]["health"], "ok")
        self.ok("DeleteVolume", {"id": "cap"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
