#!/usr/bin/python3
"""bench_api: the daemon's unary API over gRPC/h2c (binary protobuf) with
h2load vs over HTTP/1.1 Connect JSON with wrk, in the same run.

  bench/api/bench_api.py [--node build/limiquantix-node] [--seconds 10]
                         [--connections 1,16,64] [--streams 1] [--runs 1]
                         [--chart docs/img/api-bench.svg]

Methods: limiquantix.node.v1.NodeDaemonService/HealthCheck (answered on
the server's loop) and limiquantix.network.v1.PortService/GetPort of a port
made for the run (answered by the QuantumNet engine from its NB replica).
The daemon runs in sandbox mode pinned to CPU 0 (its OVS and OVN inherit
that, idle while measuring); h2load and wrk run one thread each on CPU 1,
with the same number of connections and one request in flight per
connection (h2load -m 1, as HTTP/1.1 without pipelining), unless
--streams asks h2load for more.  For N > 1 the same N calls in flight
are also measured as a gRPC client makes them: one connection with N
concurrent streams (h2load -c 1 -m N; grpc-go multiplexes every call to
a target on one connection).

Before measuring, the very request h2load sends is sent once with curl
--http2-prior-knowledge and must answer HTTP 200 with grpc-status 0 in
its trailers and a reply that protoc can decode; the JSON one once over
HTTP/1.1.  A run with any failed, errored or non-2xx request is an error.
Reported: requests/s, p99 latency (h2load from its per-request
--log-file, wrk from --latency) and the daemon's CPU time per request.
Needs root (sandbox OVS/OVN).  Prints a markdown table.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))

from netlib import NET, PORT, Node, new_id, sh  # noqa: E402

HEALTH = "limiquantix.node.v1.NodeDaemonService/HealthCheck"
GETPORT = PORT + "GetPort"
PROTO = {HEALTH: ("limiquantix/node/v1/node_daemon.proto",
                  "limiquantix.node.v1.HealthCheckRequest",
                  "limiquantix.node.v1.HealthCheckResponse"),
         GETPORT: ("limiquantix/network/v1/network.proto",
                   "limiquantix.network.v1.IdRequest",
                   "limiquantix.network.v1.Port")}
DAEMON_CPU, LOAD_CPU = "0", "1"


def protoc(mode, msg, proto, data):
    return subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"),
                           "--%s=%s" % (mode, msg), proto], input=data,
                          capture_output=True, check=True).stdout


def grpc_body(method, text):
    """Binary request: the 5-byte gRPC prefix (not compressed, length)
    and the message protoc encodes from its text format."""
    proto, req, _ = PROTO[method]
    msg = protoc("encode", req, proto, text.encode())
    return b"\0" + len(msg).to_bytes(4, "big") + msg


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_grpc(url, method, path):
    """One call with curl, as h2load sends it: 200, grpc-status 0, a
    reply that decodes."""
    out = path + ".reply"
    r = sh("curl", "-sS", "--http2-prior-knowledge", "-D", "-", "-o", out,
           "--data-binary", "@" + path, "-H", "content-type: application/grpc",
           "-H", "te: trailers", url + "/" + method)
    heads = r.stdout.lower()
    if not heads.startswith("http/2 200") or \
            not re.search(r"^grpc-status: 0\r?$", heads, re.M):
        raise RuntimeError("%s over gRPC:\n%s" % (method, r.stdout))
    with open(out, "rb") as f:
        reply = f.read()
    proto, _, resp = PROTO[method]
    assert len(reply) == 5 + int.from_bytes(reply[1:5], "big"), reply
    return protoc("decode", resp, proto, reply[5:]).decode()


def check_json(url, method, body):
    r = sh("curl", "-sS", "--http1.1", "-w", "\n%{http_code}", "-d", body,
           "-H", "content-type: application/json", url + "/" + method)
    reply, code = r.stdout.rsplit("\n", 1)
    if code != "200":
        raise RuntimeError("%s over HTTP/1.1: %s %s" % (method, code, reply))
    return reply


class Bench:
    def __init__(self, node, seconds, streams, tmp):
        self.node, self.seconds, self.streams = node, seconds, streams
        self.url = "http://127.0.0.1:%d" % node.port
        self.tmp = tmp

    def measured(self, argv, env=None):
        """Runs the load generator (argv, with "-D"/"-d" and the duration
        last but one) for one second, not counted, then for the run."""
        run = ["taskset", "-c", LOAD_CPU] + argv
        subprocess.run(run[:-2] + ["1s"] + run[-1:], env=env, check=True,
                       capture_output=True, timeout=60)
        pid = self.node.proc.pid
        t0 = cpu_seconds(pid)
        out = subprocess.run(run, env=env, capture_output=True, text=True,
                             check=True, timeout=self.seconds + 60).stdout
        return out, cpu_seconds(pid) - t0

    def h2load(self, method, body_file, conns, streams=None):
        log = os.path.join(self.tmp, "h2load.log")
        out, cpu = self.measured([
            "h2load", "-t", "1", "-c", str(conns),
            "-m", str(streams or self.streams),
            "--log-file=" + log, "-d", body_file,
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            "-D", "%ds" % self.seconds, self.url + "/" + method])
        rps = float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s",
                              out).group(1))
        req = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, "
                        r"(\d+) succeeded, (\d+) failed, (\d+) errored, "
                        r"(\d+) timeout", out)
        done, ok = int(req.group(2)), int(req.group(3))
        bad = re.search(r"status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, "
                        r"(\d+) 5xx", out).groups()
        if ok != done or done == 0 or any(map(int, req.groups()[3:] + bad)):
            raise RuntimeError("h2load: failed requests\n" + out)
        with open(log) as f:
            lat = sorted(int(line.split("\t")[2]) for line in f)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1e3
        return {"rps": rps, "p99": p99, "us": 1e6 * cpu / done}

    def wrk(self, method, body, conns):
        out, cpu = self.measured([
            "wrk", "-t", "1", "-c", str(conns), "--latency",
            "-s", os.path.join(HERE, "post.lua"),
            "-d", "%ds" % self.seconds, self.url + "/" + method],
            dict(os.environ, LQ_BODY=body))
        if "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError("wrk: failed requests\n" + out)
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        n = int(re.search(r"(\d+) requests in", out).group(1))
        v, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out,
                            re.M).groups()
        p99 = float(v) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
        return {"rps": rps, "p99": p99, "us": 1e6 * cpu / n}


def median_of(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def svg_chart(rows, path):
    """Grouped horizontal bars: req/s per method and connection count,
    gRPC/h2 above HTTP/1.1 JSON."""
    top = max(max(r["h2"]["rps"], r["h1"]["rps"], r["mux"]["rps"])
              for r in rows) or 1
    width, bar_x, bar_w, h = 760, 230, 420, 40 + 92 * len(rows)
    lines = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" '
             'height="%d" font-family="sans-serif" font-size="13">'
             % (width, h + 20),
             '<text x="10" y="20" font-weight="bold">Unary calls per second '
             '(blue: gRPC h2c, N conns; green: gRPC h2c, 1 conn x N '
             'streams; grey: JSON HTTP/1.1, N conns)</text>']
    for i, r in enumerate(rows):
        y = 36 + 92 * i
        lines.append('<text x="10" y="%d">%s, N = %d</text>'
                     % (y + 44, r["method"].rsplit("/", 1)[1], r["conns"]))
        for j, (key, color) in enumerate((("h2", "#2b7bb9"),
                                          ("mux", "#3a9a5b"),
                                          ("h1", "#999999"))):
            v = r[key]["rps"]
            w = max(1, int(bar_w * v / top))
            lines.append('<rect x="%d" y="%d" width="%d" height="26" '
                         'fill="%s"/>' % (bar_x, y + 28 * j, w, color))
            lines.append('<text x="%d" y="%d">%.0f</text>'
                         % (bar_x + w + 6, y + 28 * j + 18, v))
    lines.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", default=os.path.join(ROOT, "build",
                                                   "limiquantix-node"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", default="1,16,64")
    ap.add_argument("--streams", type=int, default=1,
                    help="h2load streams in flight per connection")
    ap.add_argument("--runs", type=int, default=1,
                    help="measure each case N times, report the median")
    ap.add_argument("--chart")
    args = ap.parse_args()
    os.environ["LQ_NODE"] = os.path.abspath(args.node)

    node = Node()
    node.args = ["taskset", "-c", DAEMON_CPU] + node.args
    node.start()
    tmp = tempfile.mkdtemp(prefix="lq-bench-api-")
    rows = []
    try:
        net, port = new_id(), new_id()
        node.api(NET + "CreateNetwork", {"id": net, "subnets": [
            {"cidr": "10.77.0.0/24"}]})
        node.api(PORT + "CreatePort", {"id": port, "networkId": net})
        # The first dependency check (on a worker) is done before measuring.
        while "starting:" in str(node.api(HEALTH).get("problems")):
            time.sleep(0.2)
        bench = Bench(node, args.seconds, args.streams, tmp)
        cases = [(HEALTH, "{}", ""),
                 (GETPORT, '{"id": "%s"}' % port, 'id: "%s"' % port)]
        for method, body, text in cases:
            body_file = os.path.join(tmp, method.rsplit("/", 1)[1] + ".bin")
            with open(body_file, "wb") as f:
                f.write(grpc_body(method, text))
            print("%s, gRPC reply:\n%s\nJSON reply: %s\n" % (
                method, check_grpc(bench.url, method, body_file).strip(),
                check_json(bench.url, method, body)))
            for conns in map(int, args.connections.split(",")):
                h2 = [bench.h2load(method, body_file, conns)
                      for _ in range(args.runs)]
                h1 = [bench.wrk(method, body, conns)
                      for _ in range(args.runs)]
                # The same number of calls in flight as one gRPC client
                # makes them: one connection, N concurrent streams
                # (grpc-go's ClientConn multiplexes every call to a
                # target on one HTTP/2 connection).
                mux = [bench.h2load(method, body_file, 1, conns)
                       for _ in range(args.runs)] if conns > 1 else h2
                rows.append({"method": method, "conns": conns,
                             "h2": median_of(h2), "h1": median_of(h1),
                             "mux": median_of(mux)})
                print("  %s %d conns: h2 %s, h1 %s, mux %s" % (
                    method.rsplit("/", 1)[1], conns, h2, h1, mux),
                    flush=True)
    finally:
        rc = node.stop()
        shutil.rmtree(tmp)
    if rc:
        raise RuntimeError("daemon exited %d" % rc)

    print("\n| method | calls in flight | gRPC h2c, N conns req/s | p99 | "
          "daemon CPU/req | JSON HTTP/1.1, N conns req/s | p99 | "
          "daemon CPU/req | ratio | gRPC h2c, 1 conn x N streams req/s | "
          "p99 | daemon CPU/req | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        h2, h1, mux = r["h2"], r["h1"], r["mux"]
        print("| %s | %d | %.0f | %.2f ms | %.1f µs | %.0f | %.2f ms | "
              "%.1f µs | %.2f | %.0f | %.2f ms | %.1f µs | %.2f |" % (
                  r["method"].rsplit("/", 1)[1], r["conns"], h2["rps"],
                  h2["p99"], h2["us"], h1["rps"], h1["p99"], h1["us"],
                  h2["rps"] / h1["rps"], mux["rps"], mux["p99"], mux["us"],
                  mux["rps"] / h1["rps"]))
    if args.chart:
        svg_chart(rows, args.chart)
        print("\nchart: %s" % args.chart)


if __name__ == "__main__":
    main()
