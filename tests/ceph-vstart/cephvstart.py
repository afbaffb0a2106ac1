"""cephvstart: a throw-away single-node Ceph cluster for tests.

Ceph's own vstart.sh is not packaged in Debian, so this is the project's:
one ceph-mon (msgr v2 only) and one ceph-osd on memstore (data in RAM),
cephx on, pool size 1, no ceph-mgr (RBD does not need one), everything on
127.0.0.1 under a private directory, and an `rbd` pool ready to use.

Design decisions (see ../../../shared/ENVIRONMENT.md, "Ceph"):
- Keys are generated here (a cephx key is 2+8+2+16 bytes, base64) instead of
  running ceph-authtool once per key; `ceph-mon --mkfs --keyring` imports
  all of them, so no `ceph auth` round trips are needed.
- The monmap is built by `ceph-mon --mkfs` itself from `mon_host` + `fsid`.
- Every mon command (`osd new`, `osd pool create`, ...) goes through one
  librados session (python3-rados), not one `ceph` CLI process each
  (0.4 s apiece).
- Daemons run in the foreground (`-f`) as our children in a new session,
  with their pids written to DIR/*.pid; `stop` kills them with SIGKILL
  (SIGTERM makes the OSD wait 5 s for the mon that is already gone).
- "Ready" means an object write to the rbd pool has succeeded, which
  implies the mon is in quorum, the OSD is up and the PGs are active.

Used by tests/storage/*.py (import it) and by hand through ./ceph-vstart.
"""
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid

try:
    import rados
except ImportError:  # pyenv or venv pythons lack Debian's python3-rados
    sys.path.append("/usr/lib/python3/dist-packages")
    import rados


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AlreadyRunning(RuntimeError):
    """start() on a directory whose cluster still runs."""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _cephx_key():
    """A new cephx secret in the keyring's base64 form: type 1 (AES),
    creation time, length 16, 16 random bytes."""
    now = time.time()
    blob = struct.pack("<HIIH", 1, int(now), int((now % 1) * 1e9), 16)
    return base64.b64encode(blob + os.urandom(16)).decode()


CONF_TEMPLATE = """\
[global]
fsid = {fsid}
mon_host = v2:127.0.0.1:{mon_port}
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_msgr2 = true
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
keyring = {dir}/keyring
run_dir = {dir}/run
pid_file =
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 1
mon_data_avail_crit = 0
osd_crush_chooseleaf_type = 0
rbd_default_clone_format = 2
# A crashed client's watch (an import killed with -9) goes after 5 s
# instead of 30, so tests that retry after a crash stay short.
osd_client_watch_timeout = 5

[mon]
admin_socket = {dir}/run/$name.asok
log_file = {dir}/log/$name.log
mon_data = {dir}/mon.$id
mon_initial_members = a
paxos_propose_interval = 0.01
paxos_min_wait = 0.001
mon_osd_reporter_subtree_level = osd
mon_allow_pool_delete = true
mon_mgr_digest_period = 1

[osd]
admin_socket = {dir}/run/$name.asok
log_file = {dir}/log/$name.log
osd_data = {dir}/osd.$id
osd_objectstore = {objectstore}
memstore_device_bytes = {memstore_bytes}
bluestore_block_path = {dir}/osd.$id.block
bluestore_block_size = {memstore_bytes}
bluestore_block_create = true
bluestore_fsck_on_mount = false
bluestore_fsck_on_umount = false
bluestore_cache_size = 134217728
osd_class_update_on_start = false
osd_max_object_name_len = 460
osd_max_object_namespace_len = 64
osd_op_num_shards = 1
osd_op_num_threads_per_shard = 2
osd_mon_report_interval = 1

[mgr]
admin_socket = {dir}/run/$name.asok
log_file = {dir}/log/$name.log
mgr_data = {dir}/mgr.$id
keyring = {dir}/keyring
mgr_stats_period = 1
mon_mgr_digest_period = 1
mgr_tick_period = 1
mgr_initial_modules =
"""

KEYRING_TEMPLATE = """\
[mon.]
\tkey = {mon_key}
\tcaps mon = "allow *"
[client.admin]
\tkey = {admin_key}
\tcaps mon = "allow *"
\tcaps osd = "allow *"
\tcaps mgr = "allow *"
[mgr.x]
\tkey = {mgr_key}
\tcaps mon = "allow profile mgr"
\tcaps osd = "allow *"
\tcaps mds = "allow *"
"""


class Cluster:
    """A single-node Ceph under 'dir' (created when None).

    start() returns self; conf and keyring paths are attributes.  The
    cluster object survives the Python process: stop() reads the pids from
    the directory, so `ceph-vstart stop DIR` works from another process."""

    def __init__(self, dir=None, pool="rbd", memstore_bytes=4 << 30,
                 objectstore="memstore", mgr=False, client_timeout=None):
        self.dir = os.path.abspath(dir) if dir else tempfile.mkdtemp(
            prefix="lq-ceph-")
        self.conf = os.path.join(self.dir, "ceph.conf")
        self.keyring = os.path.join(self.dir, "keyring")
        self.pool = pool
        self.user = "admin"
        self.memstore_bytes = memstore_bytes
        # memstore: fastest, data in RAM, lost when the OSD dies.
        # bluestore: a sparse file outside the OSD dir, survives restart_osd.
        self.objectstore = objectstore
        # ceph-mgr: RBD works without one, but pool and cluster usage
        # (rados_cluster_stat, pool stats) stay zero unless a mgr reports.
        self.mgr = mgr
        # Seconds for client mount/mon/osd operation timeouts ([client] in
        # ceph.conf), so tests of a dead cluster do not wait for defaults.
        self.client_timeout = client_timeout
        self.mon_port = None

    # -- start ------------------------------------------------------------
    def start(self, timeout=60):
        t0 = time.time()
        for name in ("mon.a", "osd.0", "mgr.x"):
            pid = self._pid(name)
            if pid and _alive(pid):
                raise AlreadyRunning("a cluster is already running in %s "
                                   "(%s, pid %d): stop it first"
                                   % (self.dir, name, pid))
        for sub in ("mon.a", "osd.0", "mgr.x"):  # a previous cluster's
            if os.path.exists(os.path.join(self.dir, sub)):
                subprocess.run(["rm", "-rf", os.path.join(self.dir, sub)])
        for sub in ("run", "log", "mon.a", "osd.0", "mgr.x"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.mon_port = _free_port()
        fsid = str(uuid.uuid4())
        with open(self.conf, "w") as f:
            f.write(CONF_TEMPLATE.format(fsid=fsid, dir=self.dir,
                                         mon_port=self.mon_port,
                                         memstore_bytes=self.memstore_bytes,
                                         objectstore=self.objectstore))
            if self.client_timeout:
                f.write("\n[client]\n")
                for key in ("client_mount_timeout", "rados_mon_op_timeout",
                            "rados_osd_op_timeout"):
                    f.write("%s = %d\n" % (key, self.client_timeout))
        fd = os.open(self.keyring, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, "w") as f:
            f.write(KEYRING_TEMPLATE.format(mon_key=_cephx_key(),
                                            admin_key=_cephx_key(),
                                            mgr_key=_cephx_key()))
        monmap = os.path.join(self.dir, "monmap")
        self._run(["monmaptool", "--create", "--clobber", "--fsid", fsid,
                   "--addv", "a", "[v2:127.0.0.1:%d]" % self.mon_port,
                   monmap])
        self._run(["ceph-mon", "-c", self.conf, "-i", "a", "--mkfs",
                   "--monmap", monmap, "--keyring", self.keyring])
        self._spawn("mon.a", ["ceph-mon", "-c", self.conf, "-i", "a", "-f"])

        osd_uuid = str(uuid.uuid4())
        osd_key = _cephx_key()
        with self.connect(timeout=timeout) as r:
            osd_id = self._mon(r, {"prefix": "osd new", "uuid": osd_uuid,
                                   "id": 0},
                               json.dumps({"cephx_secret": osd_key}))
            osd_keyring = os.path.join(self.dir, "osd.0", "keyring")
            with open(osd_keyring, "w") as f:
                f.write("[osd.0]\n\tkey = %s\n" % osd_key)
            os.chmod(osd_keyring, 0o600)
            self._run(["ceph-osd", "-c", self.conf, "-i", "0", "--mkfs",
                       "--osd-uuid", osd_uuid, "--keyring", osd_keyring])
            self._spawn("osd.0", ["ceph-osd", "-c", self.conf, "-i", "0",
                                  "-f", "--keyring", osd_keyring])
            del osd_id
            self._mon(r, {"prefix": "osd set-require-min-compat-client",
                          "version": "mimic",
                          "yes_i_really_mean_it": True})
            if self.mgr:
                self._spawn("mgr.x", ["ceph-mgr", "-c", self.conf, "-i", "x",
                                      "-f"])
            self.create_pool(r, self.pool)
            self._wait_writable(r, self.pool, t0 + timeout)
        self.startup_seconds = time.time() - t0
        return self

    def create_pool(self, r, name, pg_num=8):
        self._mon(r, {"prefix": "osd pool create", "pool": name,
                      "pg_num": pg_num, "pgp_num": pg_num})
        self._mon(r, {"prefix": "osd pool application enable",
                      "pool": name, "app": "rbd"})

    def connect(self, timeout=30):
        """A rados.Rados as client.admin; connected by `with` (its
        __enter__ connects and __exit__ shuts down)."""
        r = rados.Rados(conffile=self.conf, name="client.admin",
                        conf={"keyring": self.keyring,
                              "client_mount_timeout": str(timeout),
                              "rados_mon_op_timeout": str(timeout),
                              "log_file": "", "admin_socket": ""})
        return r

    def _mon(self, r, cmd, inbuf=""):
        ret, out, err = r.mon_command(json.dumps(cmd),
                                      inbuf.encode() if inbuf else b"",
                                      timeout=30)
        if ret != 0:
            raise RuntimeError("ceph %s: %s (%d)" % (cmd["prefix"], err, ret))
        return out

    def _wait_writable(self, r, pool, deadline):
        """Writes a probe object until one write completes.  A write sent
        before the PGs are active can sit in the client for seconds, so
        each attempt gets 0.5 s before another is sent; all are awaited
        before the probe is removed, so none lands afterwards."""
        with r.open_ioctx(pool) as io:
            pending = []
            while True:
                try:
                    pending.append(io.aio_write_full("lq-vstart-probe", b"ok"))
                    end = min(deadline, time.time() + 0.5)
                    while not pending[-1].is_complete() and time.time() < end:
                        time.sleep(0.005)
                    if pending[-1].is_complete() and \
                            pending[-1].get_return_value() == 0:
                        for c in pending:
                            c.wait_for_complete()
                        io.remove_object("lq-vstart-probe")
                        return
                except rados.Error:
                    pass
                if time.time() > deadline:
                    raise RuntimeError("pool %s not writable; see %s/log"
                                       % (pool, self.dir))
                self._check_alive()

    # -- processes ----------------------------------------------------------
    def _run(self, argv):
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        if r.returncode:
            raise RuntimeError("%s failed (%d):\n%s"
                               % (" ".join(argv), r.returncode, r.stdout))

    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, "log", name + ".out"), "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=log, start_new_session=True)
        log.close()
        with open(self._pidfile(name), "w") as f:
            f.write("%d\n" % p.pid)
        self._children = getattr(self, "_children", {})
        self._children[name] = p
        return p

    def _pidfile(self, name):
        return os.path.join(self.dir, name + ".pid")

    def _check_alive(self):
        for name, p in getattr(self, "_children", {}).items():
            if p.poll() is not None:
                raise RuntimeError("%s exited %d; see %s/log"
                                   % (name, p.returncode, self.dir))

    def _pid(self, name):
        try:
            with open(self._pidfile(name)) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def _kill(self, name):
        pid = self._pid(name)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p = getattr(self, "_children", {}).get(name)
        if p is not None:
            p.wait()
        else:
            # Not our child: wait for it to go away.
            for _ in range(500):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.01)
        os.unlink(self._pidfile(name))

    def restart_osd(self, down_seconds=0.0):
        """SIGKILL the OSD and start it again (memstore: its data is lost
        with the process, so only use this on a cluster whose contents do
        not matter any more, or to test failure handling)."""
        self._kill("osd.0")
        time.sleep(down_seconds)
        self._start_osd()

    def _start_osd(self):
        osd_keyring = os.path.join(self.dir, "osd.0", "keyring")
        self._spawn("osd.0", ["ceph-osd", "-c", self.conf, "-i", "0",
                              "-f", "--keyring", osd_keyring])

    def kill_all(self):
        """SIGKILL every daemon: the cluster is gone (see start_again)."""
        self.stop()

    def start_again(self):
        """Starts the mon (its store is on disk) and the OSD again after
        kill_all(); with memstore the OSD has lost its data and will not
        start, so use bluestore for this."""
        self._spawn("mon.a", ["ceph-mon", "-c", self.conf, "-i", "a", "-f"])
        self._start_osd()
        if self.mgr:
            self._spawn("mgr.x", ["ceph-mgr", "-c", self.conf, "-i", "x",
                                  "-f"])

    def stop(self):
        self._kill("mgr.x")
        self._kill("osd.0")
        self._kill("mon.a")

    def destroy(self):
        """stop() and remove the directory."""
        self.stop()
        subprocess.run(["rm", "-rf", self.dir])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()
