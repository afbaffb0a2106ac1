"""storagetest: helpers for the storage tests against a real Ceph.

Each test file starts one throw-away cluster (tests/ceph-vstart) and one
limiquantix-node whose node.yaml declares pools on it, then checks what the
API did by looking at the cluster itself through librbd/librados (Debian's
python3-rbd / python3-rados) and `rbd export`.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "ceph-vstart"))
import cephvstart  # noqa: E402
import lqtest  # noqa: E402

try:
    import rbd
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import rbd  # noqa: E402

VOLUMES = "limiquantix.storage.v1.VolumeService"
POOLS = "limiquantix.storage.v1.StoragePoolService"
MiB = 1 << 20

FEATURES = (rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK
            | rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF
            | rbd.RBD_FEATURE_DEEP_FLATTEN)


def pool_yaml(cluster, pool_id="ceph", rbd_pool="rbd", extra=""):
    return ("    - {id: %s, backend: rbd, ceph_conf: %s, ceph_user: admin, "
            "ceph_keyring: %s, rbd_pool: %s%s}\n"
            % (pool_id, cluster.conf, cluster.keyring, rbd_pool, extra))


class StorageDaemon(lqtest.Daemon):
    """limiquantix-node without --sandbox (no private OVS/OVN): the node.yaml
    given, a Unix socket and a loopback port in a private directory."""

    def __init__(self, config, image_dirs=()):
        super().__init__(config=config, image_dirs=image_dirs)
        self.socket = os.path.join(self.dir, "node.sock")
        self.args = [lqtest.NODE, "-c", self.config_path,
                     "--unix-socket", self.socket,
                     "--listen", "127.0.0.1:%d" % self.port,
                     "--metrics-port", "0"]

    def vcall(self, method, request=None):
        return self.call(method, request, service=VOLUMES)

    def pcall(self, method, request=None):
        return self.call(method, request, service=POOLS)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()


class CephTestCase(unittest.TestCase):
    """Starts a cluster and a daemon once per test class."""

    objectstore = "memstore"
    mgr = False
    client_timeout = None       # [client] op timeouts in ceph.conf
    extra_pools = ""            # more node.yaml pool entries
    ceph_pools = ()             # more Ceph pools to create

    @classmethod
    def setUpClass(cls):
        # Import sources live here: the daemon's only image directory.
        cls.images = tempfile.mkdtemp(prefix="lq-images-")
        cls.cluster = cephvstart.Cluster(objectstore=cls.objectstore,
                                         mgr=cls.mgr, memstore_bytes=2 << 30,
                                         client_timeout=cls.client_timeout)
        try:
            cls.cluster.start()
            cls.rados = cls.cluster.connect()
            cls.rados.connect()
            for name in cls.ceph_pools:
                cls.cluster.create_pool(cls.rados, name)
            cls.ioctx = cls.rados.open_ioctx("rbd")
            cls.daemon = cls.start_daemon()
        except Exception:
            cls.cluster.destroy()
            raise

    @classmethod
    def node_yaml(cls):
        return ("storage:\n  pools:\n" + pool_yaml(cls.cluster)
                + cls.extra_pools.format(conf=cls.cluster.conf,
                                         keyring=cls.cluster.keyring))

    @classmethod
    def start_daemon(cls):
        return StorageDaemon(cls.node_yaml(),
                             image_dirs=[cls.images]).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.daemon.stop()
            if rc != 0:
                raise AssertionError("daemon exited %d:\n%s"
                                     % (rc, cls.daemon.read_log()))
        finally:
            cls.ioctx.close()
            cls.rados.shutdown()
            cls.cluster.destroy()
            shutil.rmtree(cls.images, ignore_errors=True)

    @classmethod
    def reconnect(cls):
        """A new checking client: one that had a session with an OSD that
        was killed waits ~10 s for its objecter to notice; a new one reads
        the current maps at once."""
        cls.ioctx.close()
        cls.rados.shutdown()
        cls.rados = cls.cluster.connect()
        cls.rados.connect()
        cls.ioctx = cls.rados.open_ioctx("rbd")

    # -- helpers ---------------------------------------------------------
    def ok(self, method, request, service=VOLUMES):
        status, body = self.daemon.call(method, request, service=service)
        self.assertEqual(status, 200, "%s %s -> %s" % (method, request, body))
        return body

    def refused(self, method, request, code, status=None, contains=None):
        st, body = self.daemon.vcall(method, request)
        self.assertEqual(body.get("code"), code, "%s %s -> %s"
                         % (method, request, body))
        if status is not None:
            self.assertEqual(st, status)
        if contains:
            self.assertIn(contains, body["message"])
        return body

    def create(self, vid, size=8 * MiB, **kw):
        req = {"id": vid, "poolId": kw.pop("pool", "ceph"),
               "sizeBytes": str(size)}
        req.update(kw)
        return self.ok("CreateVolume", req)

    def wait_available(self, vid, timeout=60, daemon=None):
        daemon = daemon or self.daemon
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            st, v = daemon.vcall("GetVolume", {"id": vid})
            self.assertEqual(st, 200, v)
            seen.append((v["state"], v["progressPercent"], v["operation"]))
            if v["state"] == "available" and v["operation"] != "flatten" \
                    or v["state"] == "error":
                return v, seen
            if v["operation"] == "flatten" and v["progressPercent"] == 100 \
                    and "parent" not in v:
                return v, seen
            time.sleep(0.05)
        self.fail("volume %s not available: %s" % (vid, seen[-5:]))

    def image_names(self, ioctx=None):
        return sorted(rbd.RBD().list(ioctx or self.ioctx))

    def image(self, vid, read_only=True, ioctx=None):
        return rbd.Image(ioctx or self.ioctx, "lq-" + vid,
                         read_only=read_only)

    def write(self, vid, data, offset=0):
        with self.image(vid, read_only=False) as im:
            im.write(data, offset)

    def read(self, vid, offset, length):
        with self.image(vid) as im:
            return im.read(offset, length)

    def rbd_export(self, vid, path, pool="rbd"):
        subprocess.run(["rbd", "-c", self.cluster.conf, "--keyring",
                        self.cluster.keyring, "--id", "admin", "export",
                        "%s/lq-%s" % (pool, vid), path, "--no-progress"],
                       check=True, capture_output=True, timeout=60)

    def object_count(self, vid):
        """RADOS data objects of an image (thin: only those written)."""
        with self.image(vid) as im:
            prefix = im.block_name_prefix()
        return sum(1 for o in self.ioctx.list_objects()
                   if o.key.startswith(prefix + "."))


def disk_source(daemon, vid):
    """What lq_volume_disk_source() returns for 'vid' on the daemon's
    pools (tests/storage/disk_source_tool.c, in-process C API)."""
    tool = os.environ.get("LQ_DISK_SOURCE",
                          "build/tests/storage/lq-disk-source")
    r = subprocess.run([tool, daemon.config_path, vid], capture_output=True,
                       text=True, timeout=120)
    if r.returncode:
        raise AssertionError("lq-disk-source %s: %s" % (vid, r.stderr))
    return json.loads(r.stdout)


def dumps(o):
    return json.dumps(o, indent=1, sort_keys=True)
