#!/usr/bin/env python3
"""Self-test for s3_fault_proxy.py (no pytest): a tiny in-memory upstream on 127.0.0.1, the
proxy as a subprocess in front of it, and raw http.client / socket clients that check
pass-through, keep-alive, Host, every fault kind, plan reload, stats, TLS and SIGTERM.

usage: python3 scripts/lib/tests/s3_fault_proxy_selftest.py
Last line: "N passed, N failed"; exit status 1 on any failure.
"""
import hashlib
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY = os.path.join(HERE, "s3_fault_proxy.py")
RESULTS = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    if ok:
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    else:
        RESULTS["failed"] += 1
        print(f"FAIL {name} {detail}")


# --- the upstream: stores PUT bodies, returns them on GET, echoes what it received ----------
class Store:
    objects = {}
    log = []  # (method, raw target, Host)
    lock = threading.Lock()


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def target(self):
        return self.requestline.split()[1]

    def body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionError("short body")
        return data

    def reply(self, status, body=b"", headers=(), send_body=True):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Seen-Host", self.headers.get("Host", ""))
        self.send_header("X-Seen-Target", self.target())
        self.send_header("X-Seen-Expect", self.headers.get("Expect", ""))
        self.send_header("X-Seen-TE", self.headers.get("Transfer-Encoding", ""))
        self.send_header("X-Seen-Peer-Port", str(self.client_address[1]))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def record(self):
        with Store.lock:
            Store.log.append((self.command, self.target(), self.headers.get("Host")))

    def do_PUT(self):
        try:
            data = self.body()
        except (ConnectionError, ValueError, OSError):
            self.close_connection = True
            return
        self.record()
        Store.objects[self.target().split("?")[0]] = data
        self.reply(200, headers=[("ETag", '"%s"' % hashlib.md5(data).hexdigest())])

    def do_POST(self):
        self.body()
        self.record()
        self.reply(200, b"<Ok/>")

    def do_GET(self, send_body=True):
        self.record()
        path = self.target().split("?")[0]
        if path == "/echo":
            body = json.dumps({"target": self.target(), "headers": self.headers.items()}).encode()
            return self.reply(200, body, send_body=send_body)
        if path.startswith("/chunked/"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                piece = bytes([65 + i]) * 10000
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        if path in Store.objects:
            return self.reply(200, Store.objects[path], send_body=send_body)
        self.reply(404, b"<Error><Code>NoSuchKey</Code></Error>", send_body=send_body)

    def do_HEAD(self):
        self.do_GET(send_body=False)


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # faults cut connections
            super().handle_error(request, client_address)


def upstream_saw(method, target):
    with Store.lock:
        return any(m == method and t == target for m, t, _ in Store.log)


# --- helpers ------------------------------------------------------------------------------
def write_plan(path, plan):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(plan if isinstance(plan, str) else json.dumps(plan))
    os.replace(tmp, path)


def start_proxy(tmp, name, upstream_port, extra=()):
    port_file = os.path.join(tmp, f"{name}.port")
    stderr = open(os.path.join(tmp, f"{name}.log"), "wb")
    proc = subprocess.Popen([sys.executable, PROXY, "--upstream", f"http://127.0.0.1:{upstream_port}",
                             "--port", "0", "--port-file", port_file, *extra],
                            stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.time() + 10
    while time.time() < deadline:
        if os.path.exists(port_file):
            return proc, int(open(port_file).read())
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError(f"proxy {name} did not start: " + open(stderr.name).read())


def raw_exchange(port, request, timeout=3.0, body=b"", read_body=True):
    """Sends raw bytes; returns (status, headers, body bytes, ending, send_error).

    ending: "complete" (Content-Length reached), "eof", "reset" or "timeout"."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    send_error = None
    try:
        sock.sendall(request + body)
    except OSError as e:
        send_error = e
    data, ending = b"", None
    head_end, length = -1, None
    try:
        while True:
            if head_end >= 0 and length is not None and len(data) - head_end - 4 >= length:
                ending = "complete"
                break
            piece = sock.recv(65536)
            if not piece:
                ending = "eof"
                break
            data += piece
            if head_end < 0 and b"\r\n\r\n" in data:
                head_end = data.index(b"\r\n\r\n")
                for line in data[:head_end].split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1]) if read_body else 0
    except ConnectionResetError:
        ending = "reset"
    except socket.timeout:
        ending = "timeout"
    finally:
        sock.close()
    if head_end < 0:
        return None, {}, data, ending, send_error
    lines = data[:head_end].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, data[head_end + 4:], ending, send_error


def get(port, path, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    return r, r.read()


def stats(port):
    r, body = get(port, "/__proxy/stats")
    return json.loads(body)


def stats_now(path):
    with open(path) as f:
        return json.load(f)


def wait_for(predicate, timeout=2.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            pass
        time.sleep(0.02)
    return False


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


# --- the tests ------------------------------------------------------------------------------
def main():
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="s3-fault-proxy-selftest.")
    upstream = QuietServer(("127.0.0.1", 0), Upstream)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    up_port = upstream.server_address[1]
    plan = os.path.join(tmp, "plan.json")
    stats_file = os.path.join(tmp, "stats.json")
    write_plan(plan, {})
    proc, port = start_proxy(tmp, "proxy", up_port,
                             ["--plan", plan, "--stats-file", stats_file, "--seed", "7"])
    procs = [proc]
    try:
        run(tmp, plan, stats_file, proc, port, up_port, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        upstream.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"({time.time() - started:.1f} s)")
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)


def run(tmp, plan, stats_file, proc, port, up_port, procs):
    host = f"127.0.0.1:{port}"

    # Refused upstreams.
    for bad in ("http://10.1.2.3:9000", "http://localhost:9000", "https://127.0.0.1:9000",
                "http://127.0.0.1:9000/prefix"):
        done = subprocess.run([sys.executable, PROXY, "--upstream", bad, "--port-file",
                               os.path.join(tmp, "never")], capture_output=True, timeout=10)
        check(f"upstream {bad} refused", done.returncode != 0 and b"127.0.0.1" in done.stderr
              and not os.path.exists(os.path.join(tmp, "never")), done.stderr[-200:])

    # 20 MiB PUT with Expect: 100-continue, answered before the body is sent.
    big = os.urandom(20 * 1024 * 1024)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"PUT /b/big HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(big)}\r\n"
                 f"Expect: 100-continue\r\n\r\n".encode())
    interim = sock.recv(4096)
    check("Expect: 100-continue answered with 100 Continue",
          interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim[:80])
    sock.sendall(big)
    f = sock.makefile("rb")
    resp = http.client.HTTPResponse(sock, method="PUT")
    resp.fp = f
    resp.begin()
    resp.read()
    check("20 MiB PUT answered 200", resp.status == 200, resp.status)
    check("20 MiB PUT stored byte-exact upstream", Store.objects.get("/b/big") == big)
    sock.close()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    r, body = get(port, "/b/big", conn=conn)
    check("20 MiB GET byte-exact", r.status == 200 and hashlib.sha256(body).digest()
          == hashlib.sha256(big).digest(), (r.status, len(body)))
    conn.request("HEAD", "/b/big")
    r = conn.getresponse()
    r.read()
    check("HEAD keeps Content-Length, no body", r.status == 200 and
          r.getheader("Content-Length") == str(len(big)))

    # Keep-alive: one client connection, several requests, the upstream connection reused too.
    before = stats(port)["connections"]
    sock_before = conn.sock
    peers = set()
    for i in range(4):
        r, _ = get(port, "/echo", conn=conn)
        peers.add(r.getheader("X-Seen-Peer-Port"))
    check("client keep-alive reused", conn.sock is sock_before and
          stats(port)["connections"] - before == 1, stats(port)["connections"] - before)
    check("upstream connection reused", len(peers) == 1, peers)

    # Host, raw target and header order/duplicates unchanged.
    r, body = get(port, "/echo", conn=conn)
    check("Host preserved (proxy's host:port)", r.getheader("X-Seen-Host") == host,
          r.getheader("X-Seen-Host"))
    odd_targets = ["/b/a%2Fb%20c~%7E+x?list-type=2&prefix=a%2F&x=", "//double//slash?q=%2f%2F",
                   "/b/k?partNumber=1&uploadId=Zm9v%3D"]
    for target in odd_targets:
        conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", "bucket.s3.example:9000")
        conn.endheaders()
        r = conn.getresponse()
        r.read()
        check(f"target {target} and custom Host unchanged",
              r.getheader("X-Seen-Target") == target and
              r.getheader("X-Seen-Host") == "bucket.s3.example:9000",
              (r.getheader("X-Seen-Target"), r.getheader("X-Seen-Host")))
    conn.putrequest("GET", "/echo", skip_host=True, skip_accept_encoding=True)
    sent = [("Host", host), ("X-A", "1"), ("Authorization", "AWS4-HMAC-SHA256 SECRET-AUTH-MARK"),
            ("x-amz-security-token", "SECRET-TOKEN-MARK"), ("X-A", "3"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]
    for k, v in sent:
        conn.putheader(k, v)
    conn.endheaders()
    r = conn.getresponse()
    echoed = [tuple(h) for h in json.loads(r.read())["headers"]]
    check("every header forwarded in order, duplicates kept", echoed == sent, echoed)
    conn.request("GET", "/b/log?X-Amz-Signature=SECRET-QUERY-MARK&X-Amz-Credential=SECRET-CRED")
    conn.getresponse().read()

    # Chunked request body and chunked response.
    conn.request("PUT", "/b/chunked-up", body=iter([b"abc" * 1000, b"", b"xyz" * 5000]),
                 headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
    r = conn.getresponse()
    r.read()
    check("chunked PUT forwarded chunked, stored whole", r.status == 200 and
          r.getheader("X-Seen-TE") == "chunked" and
          Store.objects.get("/b/chunked-up") == b"abc" * 1000 + b"xyz" * 5000)
    r, body = get(port, "/chunked/one", conn=conn)
    check("chunked response relayed", r.chunked and body == b"A" * 10000 + b"B" * 10000 + b"C" * 10000)

    # curl (libcurl sends Expect: 100-continue for bodies over 1 MiB).
    if shutil.which("curl"):
        path = os.path.join(tmp, "seventeen")
        with open(path, "wb") as f:
            f.write(big[:17 * 1024 * 1024])
        done = subprocess.run(["curl", "-sS", "-v", "--http1.1", "-T", path, "-o", "/dev/null",
                               "-w", "%{http_code}", f"http://{host}/b/curl17"],
                              capture_output=True, timeout=30)
        check("curl 17 MiB PUT (Expect: 100-continue) through the proxy",
              done.stdout == b"200" and b"100 Continue" in done.stderr and
              Store.objects.get("/b/curl17") == big[:17 * 1024 * 1024], (done.stdout, done.stderr[-300:]))

    # status_burst: every 3rd starts a burst of 2; bodies drained, connection kept.
    write_plan(plan, {"status_burst": {"every": 3, "count": 2, "statuses": ["SlowDown", 500]}})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    seen = []
    for i in range(7):
        conn.request("PUT", f"/burst/{i}", body=b"0123456789")
        r = conn.getresponse()
        body = r.read()
        code = body.split(b"<Code>")[1].split(b"</Code>")[0].decode() if b"<Code>" in body else ""
        seen.append((r.status, code))
    expected = [(200, ""), (200, ""), (503, "SlowDown"), (500, "InternalError"), (200, ""),
                (503, "SlowDown"), (500, "InternalError")]
    check("status_burst pattern on one keep-alive connection", seen == expected, seen)
    check("status_burst answers not forwarded",
          sorted(k for k in Store.objects if k.startswith("/burst/")) == ["/burst/0", "/burst/1", "/burst/4"])
    write_plan(plan, {"status_burst": {"every": 1, "statuses": [503]}})
    r, body = get(port, "/b/big", conn=conn)
    check("status 503 -> ServiceUnavailable XML", r.status == 503 and
          b"<Code>ServiceUnavailable</Code>" in body and
          r.getheader("Content-Type") == "application/xml")

    # Plan reload: counters restart, invalid plans keep the previous one.
    write_plan(plan, {})
    r, _ = get(port, "/b/big", conn=conn)
    check("plan reload takes effect on the next request", r.status == 200)
    errors = stats(port)["plan_errors"]
    write_plan(plan, "{not json")
    r, _ = get(port, "/echo", conn=conn)
    write_plan(plan, {"bogus_fault": {}})
    r2, _ = get(port, "/echo", conn=conn)
    check("invalid plans rejected, previous plan kept", r.status == 200 and r2.status == 200 and
          stats(port)["plan_errors"] == errors + 2)

    # drop_upload: the 2nd request with a body; GETs do not count.
    write_plan(plan, {"drop_upload": {"every": 2, "after_bytes": 65536}})
    one_mib = os.urandom(1024 * 1024)
    get(port, "/echo")
    status, _, _, ending, _ = raw_exchange(
        port, f"PUT /up/a HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(one_mib)}\r\n\r\n".encode(),
        body=one_mib)
    check("drop_upload: 1st upload passes", status == 200 and Store.objects.get("/up/a") == one_mib)
    in_before = stats(port)["bytes_in"]
    status, _, data, ending, send_error = raw_exchange(
        port, f"PUT /up/b HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(one_mib)}\r\n\r\n".encode(),
        body=one_mib)
    check("drop_upload: 2nd upload cut, no response, reset", status is None and data == b"" and
          (ending == "reset" or isinstance(send_error, (ConnectionResetError, BrokenPipeError))),
          (status, ending, send_error))
    check("drop_upload: nothing forwarded", "/up/b" not in Store.objects and
          not upstream_saw("PUT", "/up/b"))
    check("drop_upload: read exactly after_bytes", stats(port)["bytes_in"] - in_before == 65536,
          stats(port)["bytes_in"] - in_before)

    # lose_response: the server does the work, the client never hears of it.
    write_plan(plan, {"lose_response": {"every": 1, "only_methods": ["PUT"]}})
    status, _, data, ending, _ = raw_exchange(
        port, f"PUT /lost/c HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nhello".encode())
    check("lose_response: reset, no response byte", status is None and data == b"" and
          ending == "reset", (status, ending))
    check("lose_response: the upstream stored it", Store.objects.get("/lost/c") == b"hello")
    r, body = get(port, "/lost/c")
    check("lose_response: other methods untouched", r.status == 200 and body == b"hello")

    # drop_download: headers with the true length, after_bytes of body, then RST.
    write_plan(plan, {"drop_download": {"every": 1, "after_bytes": 4096}})
    get_up_a = f"GET /up/a HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    status, headers, data, ending, _ = raw_exchange(port, get_up_a)
    check("drop_download: 200, true Content-Length, 4096 bytes, reset",
          status == 200 and headers.get("content-length") == str(len(one_mib)) and
          data == one_mib[:4096] and ending == "reset", (status, headers, len(data), ending))
    status, headers, data, ending, _ = raw_exchange(
        port, f"GET /lost/c HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    check("drop_download: short body -> length-1 bytes, reset",
          status == 200 and data == b"hell" and ending == "reset", (status, data, ending))
    status, _, data, ending, _ = raw_exchange(
        port, f"HEAD /up/a HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(), read_body=False)
    check("drop_download: HEAD untouched", status == 200 and ending == "complete", (status, ending))

    # truncate_response: every 2nd GET gets half its body, then a clean close.
    write_plan(plan, {"truncate_response": {"every": 2}})
    status, _, data, ending, _ = raw_exchange(port, get_up_a)
    check("truncate_response: 1st GET whole", status == 200 and data == one_mib and ending == "complete")
    status, headers, data, ending, _ = raw_exchange(port, get_up_a)
    check("truncate_response: 2nd GET half, true Content-Length, FIN",
          status == 200 and headers.get("content-length") == str(len(one_mib)) and
          data == one_mib[:len(one_mib) // 2] and ending == "eof", (status, len(data), ending))
    raw_exchange(port, f"GET /chunked/t HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    status, headers, data, ending, _ = raw_exchange(
        port, f"GET /chunked/t HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    check("truncate_response: chunked -> half as one chunk, no last-chunk, FIN",
          status == 200 and headers.get("transfer-encoding") == "chunked" and
          data == b"3a98\r\n" + (b"A" * 10000 + b"B" * 5000) + b"\r\n" and ending == "eof",
          (status, data[:20], len(data), ending))

    # reset with a path filter.
    write_plan(plan, {"reset": {"every": 1, "path_contains": "/victim"}})
    status, _, _, ending, _ = raw_exchange(port, f"GET /b/bystander HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    check("reset: unfiltered path untouched", status == 404 and ending == "complete", (status, ending))
    status, _, data, ending, _ = raw_exchange(
        port, f"PUT /b/victim HTTP/1.1\r\nHost: {host}\r\nContent-Length: 3\r\n\r\nabc".encode())
    check("reset: RST after reading the request, nothing forwarded",
          status is None and data == b"" and ending == "reset" and not upstream_saw("PUT", "/b/victim"),
          (status, ending))

    # latency.
    write_plan(plan, {"latency_ms": 300})
    t = time.time()
    get(port, "/echo")
    slow = time.time() - t
    write_plan(plan, {})
    t = time.time()
    get(port, "/echo")
    fast = time.time() - t
    check("latency_ms delays, removal restores", slow >= 0.3 and fast < 0.2, (slow, fast))

    # probability with --seed: reproducible after a reload re-seeds.
    patterns = []
    for text in ('{"status_burst": {"probability": 0.5}}', '{"status_burst":  {"probability": 0.5}}'):
        write_plan(plan, text)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        pattern = ""
        for i in range(30):
            r, _ = get(port, "/echo", conn=conn)
            pattern += "x" if r.status == 503 else "."
        patterns.append(pattern)
    check("probability: seeded pattern reproducible and mixed", patterns[0] == patterns[1] and
          5 <= patterns[0].count("x") <= 25, patterns)
    write_plan(plan, {})

    # down: connection refused, open connections cut, the same port back afterwards.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    get(port, "/echo", conn=conn)
    write_plan(plan, {"down": True})
    check("down: connections refused", wait_for(lambda: refused(port)))
    try:
        get(port, "/echo", conn=conn)
        cut = False
    except (OSError, http.client.HTTPException):
        cut = True
    check("down: open keep-alive connection cut", cut and stats_now(stats_file)["down_cut_connections"] >= 1)
    write_plan(plan, {})
    check("down ended: same port answers again", wait_for(lambda: get(port, "/echo")[0].status == 200))

    # down "hang": connects, never answers; closed when it ends.
    write_plan(plan, {"down": "hang"})
    check("hang: noticed", wait_for(lambda: json.load(open(stats_file))["plan"].get("down") == "hang"))
    sock = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    sock.sendall(f"GET /echo HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    try:
        sock.recv(100)
        hung = False
    except socket.timeout:
        hung = True
    check("hang: connect succeeds, no answer", hung)
    write_plan(plan, {})
    sock.settimeout(2)
    try:
        closed = sock.recv(100) == b""
    except OSError:
        closed = True
    sock.close()
    check("hang ended: held connection closed, service back",
          closed and get(port, "/echo")[0].status == 200)

    # Stats.
    s = stats(port)
    on_disk = json.load(open(stats_file))
    kinds = {"status_burst", "drop_upload", "lose_response", "drop_download",
             "truncate_response", "reset", "down", "hang"}
    check("stats: every fault kind counted", kinds <= set(s["faults"]), s["faults"])
    check("stats: counts", s["faults"]["status_burst"] >= 5 and s["faults"]["drop_upload"] == 1 and
          s["faults"]["lose_response"] == 1 and s["faults"]["drop_download"] == 2 and
          s["faults"]["truncate_response"] == 2 and s["faults"]["reset"] == 1, s["faults"])
    check("stats: bytes in/out", s["bytes_in"] >= 21 * 2**20 and s["bytes_out"] >= 20 * 2**20,
          (s["bytes_in"], s["bytes_out"]))
    check("stats: file matches endpoint", on_disk["requests"] == s["requests"] and
          on_disk["faults"] == s["faults"] and s["forwarded"] > 30)
    check("stats endpoint never forwarded", not any(t.startswith("/__proxy") for _, t, _ in Store.log))

    # TLS with a self-signed certificate.
    tls_dir = os.path.join(tmp, "tls")
    tproc, tport = start_proxy(tmp, "tls", up_port, ["--tls-self-signed", tls_dir])
    procs.append(tproc)
    cert = os.path.join(tls_dir, "cert.pem")
    for name in ("127.0.0.1", "localhost"):
        ctx = ssl.create_default_context(cafile=cert)
        c = http.client.HTTPSConnection(name, tport, context=ctx, timeout=5)
        c.request("PUT", "/tls/obj", body=one_mib)
        r = c.getresponse()
        r.read()
        r2, body = get(tport, "/tls/obj", conn=c)
        check(f"TLS trusted via cert.pem as {name}", r.status == 200 and body == one_mib and
              r2.getheader("X-Seen-Host") == f"{name}:{tport}" and
              c.sock.version() in ("TLSv1.2", "TLSv1.3"))
    try:
        c = http.client.HTTPSConnection("127.0.0.1", tport, context=ssl.create_default_context(), timeout=5)
        c.request("GET", "/echo")
        c.getresponse()
        check("TLS untrusted by the default context", False, "handshake succeeded")
    except ssl.SSLCertVerificationError as e:
        check("TLS untrusted by the default context", e.verify_code in (18, 19, 20, 21), e)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(cert)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        with socket.create_connection(("127.0.0.1", tport), timeout=5) as s_:
            with old.wrap_socket(s_, server_hostname="127.0.0.1"):
                pass
        check("TLS 1.1 refused", False)
    except (ssl.SSLError, OSError):
        check("TLS 1.1 refused", True)
    if shutil.which("curl"):
        ok = subprocess.run(["curl", "-sS", "--cacert", cert, "-o", "/dev/null", "-w", "%{http_code}",
                             f"https://127.0.0.1:{tport}/echo"], capture_output=True, timeout=10)
        bad = subprocess.run(["curl", "-sS", "-o", "/dev/null", f"https://localhost:{tport}/echo"],
                             capture_output=True, timeout=10)
        check("curl: --cacert cert.pem trusted, system store refuses (60)",
              ok.stdout == b"200" and bad.returncode == 60, (ok.stdout, ok.stderr, bad.returncode))
    t = time.time()
    tproc.send_signal(signal.SIGINT)
    check("SIGINT: TLS proxy exits 0 promptly", tproc.wait(5) == 0 and time.time() - t < 2)

    # SIGTERM, with a keep-alive connection open; logs hold no secrets.
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    get(port, "/echo", conn=idle)
    t = time.time()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(5)
    check("SIGTERM: exits 0 promptly, port closed", code == 0 and time.time() - t < 2 and refused(port),
          (code, time.time() - t))
    text = open(os.path.join(tmp, "proxy.log")).read()
    check("log: no header or query values", "SECRET" not in text and
          "X-Amz-Signature&X-Amz-Credential" in text and "PUT /burst/2 503 status_burst" in text,
          [line for line in text.splitlines() if "SECRET" in line or "/b/log" in line])


if __name__ == "__main__":
    main()
