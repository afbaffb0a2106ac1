"""CreateVolume from an http(s) URL into a local pool, through the real
daemon, against an HTTP server started by the test on 127.0.0.1 (Python's
http.server with handlers that misbehave on purpose).

- A qcow2 image: the volume's bytes equal the image's (`qemu-img compare`),
  its size is the image's virtual size; a redirect is followed.
- A transfer that breaks off half-way is resumed with a Range request and
  the bytes are still equal; a server without ranges is read again from
  the start.
- A wrong sha256, a 404 and a redirect to file:// fail the volume (state
  error, the message says why) and leave no volume file and no temporary
  download; DeleteVolume during a slow download cancels it.
- Bad URLs are refused naming source.url or source.sha256, before
  anything is made."""
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storagetest import MiB, StorageDaemon  # noqa: E402


class Images:
    """What the server serves, and what it saw."""
    files = {}                  # path -> bytes
    ranges = []                 # (path, Range header or None)
    broken_once = set()         # paths that already broke off once
    lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path
        rng = self.headers.get("Range")
        with Images.lock:
            Images.ranges.append((path, rng))
        if path == "/redirect":
            return self.redirect("/image.qcow2")
        if path == "/to-file":
            return self.redirect("file:///etc/passwd")
        name = path.split("?")[0]
        data = Images.files.get(name.lstrip("/").replace("slow-", "")
                                .replace("flaky-", "").replace("noranges-",
                                                               ""))
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        if rng and "noranges" not in name:
            start = int(rng.split("=")[1].split("-")[0])
        if start:
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d"
                             % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges",
                         "none" if "noranges" in name else "bytes")
        self.end_headers()
        body = data[start:]
        breaks = ("flaky-" in name or "noranges-" in name)
        with Images.lock:
            first = name not in Images.broken_once
            if breaks and first:
                Images.broken_once.add(name)
        if breaks and first:
            # Half of it, then the connection drops.
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if "slow-" in name:
            for off in range(0, len(body), 64 * 1024):
                self.wfile.write(body[off:off + 64 * 1024])
                time.sleep(0.1)
            return
        self.wfile.write(body)

    def redirect(self, where):
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass                    # Clients that hang up (cancel, no ranges).


class UrlImportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lq-url-")
        cls.pool = os.path.join(cls.tmp, "pool")
        os.mkdir(cls.pool, 0o700)
        cls.downloads = os.path.join(cls.tmp, "tmpdir")
        os.mkdir(cls.downloads, 0o700)
        # A qcow2 image with data at 1 MiB and 40 MiB of 64 MiB.
        src = os.path.join(cls.tmp, "image.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", src,
                        "64M"], check=True)
        for off in (1, 40):
            subprocess.run(["qemu-io", "-f", "qcow2", "-c",
                            "write -P 0x%02x %dM 512k" % (off, off), src],
                           check=True, capture_output=True)
        cls.qcow2 = src
        with open(src, "rb") as f:
            Images.files["image.qcow2"] = f.read()
        cls.raw = os.urandom(3 * MiB)
        Images.files["disk.raw"] = cls.raw
        cls.server = QuietServer(("127.0.0.1", 0), Handler)
        cls.base = "http://127.0.0.1:%d" % cls.server.server_address[1]
        threading.Thread(target=cls.server.serve_forever,
                         daemon=True).start()
        cls.daemon = StorageDaemon(
            "storage:\n  pools:\n"
            "    - {id: disk, backend: local, path: %s}\n" % cls.pool)
        cls.daemon.env = {"TMPDIR": cls.downloads}
        cls.daemon.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        try:
            rc = cls.daemon.stop()
            assert rc == 0, cls.daemon.read_log()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def ok(self, method, request):
        status, body = self.daemon.vcall(method, request)
        self.assertEqual(status, 200, "%s %s -> %s" % (method, request, body))
        return body

    def wait_done(self, vid, timeout=60):
        deadline = time.time() + timeout
        seen = set()
        while time.time() < deadline:
            v = self.ok("GetVolume", {"id": vid})
            seen.add(v.get("operation", ""))
            if v["state"] != "creating":
                return v, seen
            time.sleep(0.05)
        self.fail("volume %s still creating" % vid)

    def path(self, vid):
        return os.path.join(self.pool, "lq-%s.qcow2" % vid)

    def left_behind(self):
        return os.listdir(self.downloads)

    def raw_of(self, vid):
        out = os.path.join(self.tmp, vid + ".raw")
        subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw",
                        self.path(vid), out], check=True)
        with open(out, "rb") as f:
            data = f.read()
        os.unlink(out)
        return data

    def test_image_library(self):
        """ListImages: the volumes imported from a URL or a file, with the
        URL minus query and fragment (a signed URL's query is a
        credential) and the sha256 given; an empty volume is not an
        image; 'clones' counts the volumes cloned from it."""
        sha = hashlib.sha256(Images.files["image.qcow2"]).hexdigest()
        self.ok("CreateVolume", {"id": "lib-img", "poolId": "disk",
                                 "source": {"url": self.base + "/image.qcow2"
                                            "?sig=SECRET#frag",
                                            "sha256": sha}})
        self.addCleanup(self.daemon.vcall, "DeleteVolume",
                        {"id": "lib-img", "force": True})
        self.ok("CreateVolume", {"id": "lib-plain", "poolId": "disk",
                                 "sizeBytes": str(MiB)})
        self.addCleanup(self.daemon.vcall, "DeleteVolume",
                        {"id": "lib-plain"})
        v, _ = self.wait_done("lib-img")
        self.assertEqual(v["state"], "available", v)
        images = self.ok("ListImages", {"poolId": "disk"})["images"]
        self.assertEqual([i["volume"]["id"] for i in images], ["lib-img"])
        img = images[0]
        self.assertEqual((img["source"], img["url"], img["sha256"],
                          img.get("clones", 0)),
                         ("url", self.base + "/image.qcow2", sha, 0))
        self.assertEqual(img["volume"]["sizeBytes"], str(64 * MiB))
        self.assertEqual(self.ok("ListImages", {})["images"], images)

        self.ok("CreateSnapshot", {"volumeId": "lib-img", "id": "lib-s"})
        self.ok("CreateVolume", {"id": "lib-clone", "poolId": "disk",
                                 "source": {"snapshotId": "lib-s",
                                            "volumeId": "lib-img"}})
        self.addCleanup(self.daemon.vcall, "DeleteVolume",
                        {"id": "lib-clone"})
        self.wait_done("lib-clone")
        img = self.ok("ListImages", {"poolId": "disk"})["images"]
        self.assertEqual([(i["volume"]["id"], i["clones"]) for i in img],
                         [("lib-img", 1)])
        status, body = self.daemon.vcall("ListImages", {"poolId": "nope"})
        self.assertEqual(body.get("code"), "invalid_argument", body)
        self.assertIn("poolId", body["message"])
        self.assertNotIn("SECRET", self.daemon.read_log())

    def test_qcow2_and_redirect(self):
        for vid, url in (("web", "/image.qcow2"), ("redir", "/redirect")):
            sha = hashlib.sha256(Images.files["image.qcow2"]).hexdigest()
            v = self.ok("CreateVolume", {"id": vid, "poolId": "disk",
                                         "source": {"url": self.base + url,
                                                    "sha256": sha}})
            self.assertEqual(v["state"], "creating")
            v, ops = self.wait_done(vid)
            self.assertEqual(v["state"], "available", v)
            self.assertEqual(v["sizeBytes"], str(64 * MiB))
            r = subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F",
                                "qcow2", self.qcow2, self.path(vid)],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # The same request again: the same volume.
            self.assertEqual(self.ok("CreateVolume", {
                "id": vid, "poolId": "disk",
                "source": {"url": self.base + url, "sha256": sha}})["state"],
                "available")
            self.ok("DeleteVolume", {"id": vid})
        self.assertEqual(self.left_behind(), [])

    def test_resume_after_a_broken_transfer(self):
        v = self.ok("CreateVolume", {
            "id": "flaky", "poolId": "disk", "sizeBytes": str(4 * MiB),
            "source": {"url": self.base + "/flaky-disk.raw",
                       "sha256": hashlib.sha256(self.raw).hexdigest()}})
        v, _ = self.wait_done("flaky")
        self.assertEqual(v["state"], "available", v)
        self.assertEqual(v["sizeBytes"], str(4 * MiB))
        data = self.raw_of("flaky")
        self.assertEqual(data[:len(self.raw)], self.raw)
        self.assertEqual(data[len(self.raw):], bytes(MiB))
        seen = [r for p, r in Images.ranges if p == "/flaky-disk.raw"]
        self.assertEqual(seen[0], None)
        self.assertEqual(seen[1], "bytes=%d-" % (len(self.raw) // 2))
        self.assertIn("resuming", self.daemon.read_log())
        self.ok("DeleteVolume", {"id": "flaky"})

        # A server that ignores Range: read again from the start.
        self.ok("CreateVolume", {
            "id": "again", "poolId": "disk",
            "source": {"url": self.base + "/noranges-disk.raw",
                       "sha256": hashlib.sha256(self.raw).hexdigest()}})
        v, _ = self.wait_done("again")
        self.assertEqual(v["state"], "available", v)
        self.assertEqual(self.raw_of("again"), self.raw)
        self.ok("DeleteVolume", {"id": "again"})
        self.assertEqual(self.left_behind(), [])

    def test_failures_leave_nothing(self):
        cases = [("badsum", {"url": self.base + "/disk.raw",
                             "sha256": "0" * 64},
                  "source.sha256: the downloaded image's SHA-256 is %s"
                  % hashlib.sha256(self.raw).hexdigest()),
                 ("gone", {"url": self.base + "/nosuch.raw"},
                  "404"),
                 ("tofile", {"url": self.base + "/to-file"},
                  "source.url: download of %s/to-file failed" % self.base)]
        for vid, source, why in cases:
            self.ok("CreateVolume", {"id": vid, "poolId": "disk",
                                     "source": source})
            v, _ = self.wait_done(vid)
            self.assertEqual(v["state"], "error", v)
            self.assertIn(why, v["errorMessage"])
            self.assertFalse(os.path.exists(self.path(vid)))
            self.assertEqual(self.left_behind(), [])
            self.ok("DeleteVolume", {"id": vid})
            st, body = self.daemon.vcall("GetVolume", {"id": vid})
            self.assertEqual(body["code"], "not_found", body)

    def test_delete_cancels_a_download(self):
        Images.files["big.raw"] = bytes(32 * MiB)
        self.ok("CreateVolume", {"id": "slow", "poolId": "disk",
                                 "source": {"url": self.base +
                                            "/slow-big.raw?sig=SECRET"}})
        deadline = time.time() + 30
        while time.time() < deadline:
            v = self.ok("GetVolume", {"id": "slow"})
            if v.get("operation") == "download" \
                    and int(v.get("progressPercent", 0)) > 0:
                break
            time.sleep(0.1)
        self.assertEqual(v.get("operation"), "download", v)
        self.assertTrue(self.left_behind())     # the partial download
        t = time.time()
        self.ok("DeleteVolume", {"id": "slow"})
        self.assertLess(time.time() - t, 10)
        self.assertEqual(self.left_behind(), [])
        self.assertFalse(os.path.exists(self.path("slow")))
        # The signed query is in no log.
        self.assertNotIn("SECRET", self.daemon.read_log())

    def test_bad_sources_refused(self):
        before = sorted(os.listdir(self.pool))
        cases = [({"url": "file:///etc/passwd"}, "source.url: expected an "
                  "http:// or https:// URL"),
                 ({"url": "ftp://127.0.0.1/x"}, "source.url: expected"),
                 ({"url": "http://user:pw@127.0.0.1/x"},
                  "source.url: credentials in the URL are not accepted"),
                 ({"url": "http:///x"}, "source.url: no host"),
                 ({"url": "http://127.0.0.1/a b"}, "source.url: spaces"),
                 ({"url": "http://127.0.0.1/" + "a" * 2100},
                  "source.url: longer than"),
                 ({"url": self.base + "/disk.raw", "sha256": "abc"},
                  "source.sha256: expected 64 hex digits"),
                 ({"sha256": "0" * 64, "snapshotId": "s"},
                  "source.sha256: only with source.url"),
                 ({"url": self.base + "/disk.raw", "imagePath": "/tmp/x"},
                  "source: set one of")]
        for source, why in cases:
            st, body = self.daemon.vcall("CreateVolume", {
                "id": "bad", "poolId": "disk", "source": source})
            self.assertEqual(body.get("code"), "invalid_argument",
                             (source, body))
            self.assertIn(why, body["message"], source)
        self.assertEqual(sorted(os.listdir(self.pool)), before)
        st, body = self.daemon.vcall("GetVolume", {"id": "bad"})
        self.assertEqual(body["code"], "not_found", body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
