"""mTLS on the TCP listener: refused without a trusted client certificate,
accepted with one.  Certificates are made by openssl in a temp dir."""
import http.client
import json
import os
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from lqtest import Daemon, LQCTL, SERVICE  # noqa: E402


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=%s" % name, "-keyout", name + ".key",
            "-out", name + ".pem", cwd=d)


def make_cert(d, name, ca, server=False):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
            "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        if server:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
            "-CAkey", ca + ".key", "-CAcreateserial", "-days", "2",
            "-extfile", ext, "-out", name + ".pem", cwd=d)


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        probe = Daemon()
        d = cls.certs = probe.dir
        make_ca(d, "ca")
        make_ca(d, "rogue-ca")
        make_cert(d, "server", "ca", server=True)
        make_cert(d, "client", "ca")
        make_cert(d, "rogue", "rogue-ca")
        cls.d = Daemon(config=(
            "tls:\n  enabled: true\n"
            "  cert_path: %s/server.pem\n  key_path: %s/server.key\n"
            "  ca_path: %s/ca.pem\n" % (d, d, d))).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, cls.d.read_log()

    def request(self, cert=None):
        ctx = ssl.create_default_context(cafile=os.path.join(self.certs,
                                                             "ca.pem"))
        if cert:
            ctx.load_cert_chain(os.path.join(self.certs, cert + ".pem"),
                                os.path.join(self.certs, cert + ".key"))
        conn = http.client.HTTPSConnection("127.0.0.1", self.d.port,
                                           context=ctx, timeout=20)
        conn.request("POST", "/%s/HealthCheck" % SERVICE, body=b"{}",
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        conn.close()
        return r.status, body

    def test_without_client_cert_refused(self):
        try:
            status, body = self.request()
        except (ssl.SSLError, ConnectionResetError):
            return  # Refused in the handshake: also fine.
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body)["code"], "unauthenticated")

    def test_untrusted_client_cert_refused(self):
        try:
            status, body = self.request("rogue")
        except (ssl.SSLError, ConnectionResetError):
            return
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body)["code"], "unauthenticated")

    def test_trusted_client_cert_accepted(self):
        status, body = self.request("client")
        self.assertEqual(status, 200, body)
        self.assertIn(json.loads(body)["healthy"], (True, False))

    def test_plain_http_gets_nothing(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=5)
        with self.assertRaises((http.client.HTTPException, ConnectionError,
                                OSError)):
            conn.request("POST", "/%s/HealthCheck" % SERVICE, body=b"{}")
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                self.fail("plain HTTP answered 200 on the TLS port")
            raise ConnectionError("refused")

    def test_lqctl_over_mtls(self):
        c = self.certs
        base = [LQCTL, "--server", "https://127.0.0.1:%d" % self.d.port,
                "--ca", c + "/ca.pem"]
        r = subprocess.run(base + ["--cert", c + "/client.pem",
                                   "--key", c + "/client.key", "health"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Healthy:             ", r.stdout)
        self.assertIn("Version:             ", r.stdout)
        r = subprocess.run(base + ["health"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)

    def test_unix_socket_still_works(self):
        status, r = self.d.call("HealthCheck")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
