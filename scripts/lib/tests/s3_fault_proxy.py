#!/usr/bin/env python3
"""s3_fault_proxy: a fault-injecting HTTP reverse proxy in front of a REAL S3 server.

THE ONE FAKE THIS PROJECT ALLOWS.  drctl's tests talk to real S3 servers (SeaweedFS, Ceph
radosgw) on loopback, never to mocks.  This proxy exists only because a real server cannot be
made to produce the faults below on demand: throttling bursts, a connection cut halfway through
an upload or a download, a response whose body is shorter than its Content-Length, a TCP reset,
a lost response to a request the server did carry out, a distant region's latency, an endpoint
that is down.  Everything that is not a fault is forwarded byte for byte to the real server,
which still checks every SigV4 signature and stores every object.  Never use this to stand in
for a server.

usage: s3_fault_proxy.py --upstream http://127.0.0.1:PORT [--port 0] --port-file F
                         [--plan PLAN.json] [--stats-file S] [--seed N]
                         [--tls-self-signed DIR] [--quiet]

Pass-through: method, request target (exactly as received, never re-encoded), every header in
order (Host included: SigV4 signs it, and the upstream verifies against the Host the client
sent, i.e. the proxy's host:port) and the body (Content-Length or chunked, raw chunk framing
kept) go to the upstream; status, reason, headers and body come back unchanged.  The upstream
must be http://127.0.0.1:PORT; anything else is refused.  `Expect: 100-continue` is answered
by the proxy with `100 Continue` and forwarded as well (http.client sends the body at once and
skips the upstream's own 100).  Client connections are HTTP/1.1 persistent; one upstream
connection is kept per client connection and re-opened when the upstream closed it.

Plan (JSON object, every key optional; re-read on each request and every 50 ms, and a changed
content takes effect at once, counters restarting from zero; an unreadable/invalid plan is
reported on stderr and the previous plan stays):
  {"latency_ms": 150,                      # delay before each request is handled
   "down": false | true | "hang",          # true: stop listening (connection refused) and cut
                                           #   open connections; "hang": accept but never read
                                           #   or answer (a black hole; closed when it ends)
   "status_burst":      {"every": 7, "count": 3, "statuses": [503, 500, "SlowDown"]},
   "drop_upload":       {"every": 5, "after_bytes": 65536},
   "drop_download":     {"every": 5, "after_bytes": 4096},
   "truncate_response": {"every": 6},
   "reset":             {"every": 9},
   "lose_response":     {"every": 4, "only_methods": ["POST"]}}
Every fault rule also takes "only_methods" (list; replaces the kind's default methods),
"path_contains" (substring of the raw request target, query included) and, instead of "every",
"probability" (0..1, drawn from a generator seeded with --seed, 0 when not given, re-seeded at
each plan load, so a run is reproducible for the same request order).  A rule with neither
"every" nor "probability" fires on every eligible request.

Counting: each rule counts its own eligible requests (1, 2, 3, ...) and fires when that count
is a multiple of "every".  When several rules fire on one request, the first of this order
wins: reset, status_burst, drop_upload, lose_response, drop_download, truncate_response.
What each fault does on the wire (eligible requests in brackets):
  status_burst [any method]: the count that is a multiple of "every" starts a burst: it and
      the next count-1 eligible requests are answered by the proxy, not forwarded: the request
      body is read, then a complete S3 XML error with Content-Length, connection kept alive.
      statuses cycle through the list: "SlowDown" -> 503 SlowDown, 503 -> ServiceUnavailable,
      500 -> InternalError, other S3 codes / HTTP numbers likewise.
  drop_upload [requests with a body]: reads after_bytes of the body (all of it if shorter),
      forwards nothing, then closes with a TCP RST: no response at all.
  lose_response [any method]: forwards the whole request, waits until the upstream has
      answered (so the server did the work), then RST to the client: no response byte.
  drop_download [GET]: forwards, sends status + headers (true Content-Length) and
      min(after_bytes, length-1) body bytes, then TCP RST.  An empty body: RST, nothing sent.
  truncate_response [GET]: forwards, sends status + headers (true Content-Length) and
      length//2 body bytes, then closes cleanly (FIN).  Chunked answers: half the body as one
      chunk, no last-chunk.  An empty body: FIN, nothing sent.
  reset [any method]: reads the request (body included), forwards nothing, closes with TCP RST
      (SO_LINGER 0).
  down true: the listening socket is closed, so connects get ECONNREFUSED, the way an endpoint
      whose service is not running answers; open keep-alive connections are shut down.  When it
      ends the same port listens again.  (A host that silently drops packets is "hang".)

  down "hang": connects still succeed (the kernel completes them) but nothing is read or
      answered, like a black hole; requests on already-open connections stall too.  When it
      ends, every connection held during it is closed (FIN) without anything forwarded.

Stats: JSON written atomically to --stats-file after every request (and at down transitions)
and served (never forwarded, never faulted, no latency) at GET /__proxy/stats:
  requests (numbered requests seen), forwarded (sent upstream), answered (complete answers
  written), statuses {"200": n, ...}, faults {kind: n} (kinds above; "down" counts periods of
  down, "hang" connections/requests held, "client_gone", "upstream_error", "bad_request"),
  bytes_in (request body bytes read from clients), bytes_out (response body bytes written),
  connections, down_cut_connections, down_transitions, upstream_errors (answered 502),
  tls_handshake_failures, plan_loads, plan_errors, plan (the plan in force), port, pid.
Log lines on stderr carry only sequence,
method, path, query parameter NAMES, status and fault: never headers, never query values
(Authorization, x-amz-security-token and presigned X-Amz-Signature are credentials).

--tls-self-signed DIR: makes DIR/cert.pem + DIR/key.pem with the openssl CLI at start
(self-signed, subjectAltName IP:127.0.0.1, DNS:localhost) and serves HTTPS, TLS 1.2 minimum.
SIGTERM/SIGINT: closes every socket and exits 0 at once.
"""
import argparse
import http.client
import http.server
import json
import os
import random
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate
from xml.sax.saxutils import escape

FAULT_ORDER = ("reset", "status_burst", "drop_upload", "lose_response", "drop_download",
               "truncate_response")
DEFAULT_METHODS = {"drop_download": ("GET",), "truncate_response": ("GET",)}
S3_CODES = {  # code -> (HTTP status, message)
    "SlowDown": (503, "Please reduce your request rate."),
    "ServiceUnavailable": (503, "Service is unable to handle request."),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "RequestTimeout": (400, "Your socket connection to the server was not read from or written "
                            "to within the timeout period."),
    "BadGateway": (502, "Bad gateway."),
    "GatewayTimeout": (504, "Gateway timeout."),
    "TooManyRequests": (429, "Too many requests."),
}
STATUS_CODES = {503: "ServiceUnavailable", 500: "InternalError", 502: "BadGateway",
                504: "GatewayTimeout", 429: "TooManyRequests", 400: "RequestTimeout"}
CHUNK = 65536
QUIET = False


def log(message):
    if not QUIET:
        print(f"s3-fault-proxy: {message}", file=sys.stderr, flush=True)


class PlanError(Exception):
    pass


class BadRequest(Exception):
    pass


class ClientGone(Exception):
    pass


def s3_error_for(entry):
    """(status, code, message) for one entry of status_burst.statuses."""
    if isinstance(entry, bool):
        raise PlanError(f"status_burst.statuses: {entry!r} is not a status")
    if isinstance(entry, int):
        if not 400 <= entry <= 599:
            raise PlanError(f"status_burst.statuses: {entry} is not a 4xx/5xx status")
        code = STATUS_CODES.get(entry, "".join(
            word.capitalize() for word in http.HTTPStatus(entry).phrase.split()))
        return entry, code, S3_CODES.get(code, (entry, http.HTTPStatus(entry).phrase))[1]
    if isinstance(entry, str) and entry in S3_CODES:
        status, message = S3_CODES[entry]
        return status, entry, message
    raise PlanError(f"status_burst.statuses: unknown entry {entry!r} "
                    f"(an HTTP status number or one of {sorted(S3_CODES)})")


class Rule:
    KEYS = {"every", "probability", "only_methods", "path_contains", "after_bytes", "count",
            "statuses"}

    def __init__(self, kind, spec):
        if spec is True:
            spec = {}
        if not isinstance(spec, dict):
            raise PlanError(f"{kind}: expected an object")
        unknown = set(spec) - self.KEYS
        if unknown:
            raise PlanError(f"{kind}: unknown keys {sorted(unknown)}")
        self.kind = kind
        self.every = int(spec.get("every", 1))
        if self.every < 1:
            raise PlanError(f"{kind}.every must be >= 1")
        self.probability = spec.get("probability")
        if self.probability is not None and not 0 <= float(self.probability) <= 1:
            raise PlanError(f"{kind}.probability must be within 0..1")
        methods = spec.get("only_methods", DEFAULT_METHODS.get(kind))
        self.methods = None if methods is None else {str(m).upper() for m in methods}
        self.path_contains = spec.get("path_contains")
        self.after_bytes = int(spec.get("after_bytes", 65536 if kind == "drop_upload" else 4096))
        if self.after_bytes < 0:
            raise PlanError(f"{kind}.after_bytes must be >= 0")
        self.count = int(spec.get("count", 1))
        if self.count < 1:
            raise PlanError(f"{kind}.count must be >= 1")
        self.statuses = [s3_error_for(s) for s in spec.get("statuses", ["SlowDown"])]
        if not self.statuses:
            raise PlanError(f"{kind}.statuses must not be empty")
        self.seen = 0

    def eligible(self, method, target, has_body):
        if self.methods is not None and method not in self.methods:
            return False
        if self.path_contains is not None and self.path_contains not in target:
            return False
        if self.kind == "drop_upload" and not has_body:
            return False
        return True

    def hit(self, rng):
        if self.probability is not None:
            return rng.random() < float(self.probability)
        return self.seen % self.every == 0


class Plan:
    KEYS = {"latency_ms", "down"} | set(FAULT_ORDER)

    def __init__(self, data, seed):
        if not isinstance(data, dict):
            raise PlanError("the plan must be a JSON object")
        unknown = set(data) - self.KEYS
        if unknown:
            raise PlanError(f"unknown keys {sorted(unknown)}")
        self.data = data
        self.latency = float(data.get("latency_ms", 0)) / 1000.0
        self.down = data.get("down", False)
        if self.down not in (False, True, "hang"):
            raise PlanError('down must be false, true or "hang"')
        self.rules = [Rule(kind, data[kind]) for kind in FAULT_ORDER
                      if data.get(kind) not in (None, False)]
        self.rng = random.Random(seed)
        self.burst_left = 0
        self.burst_index = 0
        self.lock = threading.Lock()

    def decide(self, method, target, has_body):
        """The fault for this request: (rule, status tuple or None), or (None, None)."""
        with self.lock:
            chosen = None
            for rule in self.rules:
                if not rule.eligible(method, target, has_body):
                    continue
                rule.seen += 1
                if rule.kind == "status_burst":
                    fired = None
                    if self.burst_left > 0:
                        self.burst_left -= 1
                        self.burst_index += 1
                        fired = rule.statuses[self.burst_index % len(rule.statuses)]
                    elif rule.hit(self.rng):
                        self.burst_left = rule.count - 1
                        self.burst_index = 0
                        fired = rule.statuses[0]
                    if fired is not None and chosen is None:
                        chosen = (rule, fired)
                elif rule.hit(self.rng) and chosen is None:
                    chosen = (rule, None)
            return chosen or (None, None)


class PlanHolder:
    def __init__(self, path, seed, proxy):
        self.path, self.seed, self.proxy = path, seed, proxy
        self.content = None
        self.plan = Plan({}, seed)
        self.lock = threading.Lock()

    def refresh(self):
        if not self.path:
            return self.plan
        try:
            with open(self.path, "rb") as f:
                content = f.read()
        except FileNotFoundError:
            content = b""
        except OSError as e:
            log(f"plan {self.path}: {e}")
            return self.plan
        with self.lock:
            if content == self.content:
                return self.plan
            self.content = content
            try:
                self.plan = Plan(json.loads(content) if content.strip() else {}, self.seed)
                self.proxy.count("plan_loads")
                log(f"plan loaded: {json.dumps(self.plan.data, sort_keys=True)}")
            except (ValueError, TypeError, PlanError) as e:
                self.proxy.count("plan_errors")
                log(f"plan {self.path} not used ({e}); the previous plan stays")
            return self.plan


class UpstreamConnection(http.client.HTTPConnection):
    def _encode_request(self, request):
        # The request target goes out byte for byte as the client sent it.
        return request.encode("latin-1")


class BodyReader:
    """The request body from the client: yields it raw (chunk framing kept) for forwarding."""

    def __init__(self, rfile, headers):
        self.rfile = rfile
        self.payload = 0
        self.chunk_left = 0
        encodings = headers.get_all("Transfer-Encoding") or []
        lengths = headers.get_all("Content-Length") or []
        if encodings:
            codings = [c.strip().lower() for e in encodings for c in e.split(",") if c.strip()]
            if not codings or codings[-1] != "chunked" or lengths:
                raise BadRequest("unsupported Transfer-Encoding")
            self.mode, self.remaining = "chunked", None
        elif lengths:
            if len(set(lengths)) != 1 or not lengths[0].strip().isdigit():
                raise BadRequest("bad Content-Length")
            self.mode, self.remaining = "length", int(lengths[0])
        else:
            self.mode, self.remaining = "none", 0
        self.present = self.mode == "chunked" or (self.mode == "length" and self.remaining > 0)
        self.done = not self.present

    def _read(self, n):
        data = self.rfile.read(n)
        if len(data) < n:
            raise ClientGone()
        return data

    def pieces(self, limit=None):
        """Raw body bytes to forward; stops once `limit` payload bytes were read."""
        def room():
            return CHUNK if limit is None else min(CHUNK, limit - self.payload)
        if self.mode == "length":
            while self.remaining > 0 and room() > 0:
                data = self._read(min(self.remaining, room()))
                self.remaining -= len(data)
                self.payload += len(data)
                yield data
            self.done = self.remaining == 0
        elif self.mode == "chunked":
            while not self.done:
                if self.chunk_left == 0:
                    line = self.rfile.readline(65537)
                    if not line.endswith(b"\n"):
                        raise ClientGone()
                    try:
                        size = int(line.split(b";", 1)[0].strip(), 16)
                    except ValueError:
                        raise BadRequest("bad chunk size") from None
                    if size == 0:
                        trailer = line
                        while True:
                            more = self.rfile.readline(65537)
                            if not more.endswith(b"\n"):
                                raise ClientGone()
                            trailer += more
                            if more in (b"\r\n", b"\n"):
                                break
                        self.done = True
                        yield trailer
                        return
                    self.chunk_left = size
                    yield line
                if room() <= 0:
                    return
                data = self._read(min(self.chunk_left, room()))
                self.chunk_left -= len(data)
                self.payload += len(data)
                if self.chunk_left == 0:
                    end = self.rfile.readline(3)
                    if end not in (b"\r\n", b"\n"):
                        raise BadRequest("bad chunk end")
                    data += end
                yield data

    def drain(self):
        for _ in self.pieces():
            pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300
    server_version = "s3-fault-proxy"

    def log_message(self, format, *args):
        pass  # http.server would log the request line: its query may hold a presigned signature

    def setup(self):
        super().setup()
        self.upstream = None

    def finish(self):
        if self.upstream is not None:
            self.upstream.close()
        try:
            super().finish()
        except OSError:
            pass

    # --- writing ------------------------------------------------------------------------
    def write_head(self, status, reason, headers):
        lines = [f"HTTP/1.1 {status} {reason}\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in headers]
        lines.append("\r\n")
        self.wfile.write("".join(lines).encode("latin-1"))

    def write_body(self, data):
        if data:
            self.wfile.write(data)
            self.proxy.count("bytes_out", len(data))

    def abort(self, rst):
        """Ends the client connection once this request is recorded in the stats: with a TCP
        RST (SO_LINGER 0) or a clean FIN.  Nothing more is written to it."""
        self.close_connection = True
        self.pending_abort = "rst" if rst else "fin"

    def finish_abort(self):
        how, self.pending_abort = getattr(self, "pending_abort", None), None
        if how is None:
            return
        sock = self.connection
        try:
            if how == "rst":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                os.close(sock.detach())
            else:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def answer(self, status, content_type, body, extra=()):
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
                   ("Date", formatdate(usegmt=True)), ("Server", self.server_version)]
        self.write_head(status, http.HTTPStatus(status).phrase, headers + list(extra))
        if self.command != "HEAD":
            self.write_body(body)
        return status

    def s3_error(self, status, code, message, seq):
        rid = f"FAULTPROXY{seq:08X}"
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s'
                '</Message><Resource>%s</Resource><RequestId>%s</RequestId></Error>'
                % (code, escape(message), escape(self.target.split("?", 1)[0]), rid)).encode()
        return self.answer(status, "application/xml", body, [("x-amz-request-id", rid)])

    # --- dispatch -------------------------------------------------------------------------
    def handle_request(self):
        try:
            self.handle_request_inner()
        finally:
            self.finish_abort()

    def handle_request_inner(self):
        self.proxy = self.server
        self.target = self.requestline.split()[1]  # raw, not http.server's normalised .path
        path = self.target.split("?", 1)[0]
        if path.startswith("/__proxy/"):
            return self.admin(path)
        plan = self.proxy.plans.refresh()
        if plan.down:
            return self.refuse_while_down(plan)
        try:
            body = BodyReader(self.rfile, self.headers)
        except BadRequest as e:
            self.close_connection = True
            status = self.answer(400, "text/plain", f"{e}\n".encode())
            self.proxy.finish_request(0, self.command, self.target, status, "bad_request")
            return
        seq = self.proxy.next_seq()
        rule, burst_status = plan.decide(self.command, self.target, body.present)
        kind = rule.kind if rule else None
        if plan.latency > 0:
            time.sleep(plan.latency)
        status, fault = "-", kind
        try:
            if kind == "reset":
                body.drain()
                self.abort(rst=True)
            elif kind == "status_burst":
                body.drain()
                status = self.s3_error(*burst_status, seq)
            elif kind == "drop_upload":
                for _ in body.pieces(limit=rule.after_bytes):
                    pass
                self.abort(rst=True)
            else:
                status, fault = self.forward(body, rule)
        except (ClientGone, OSError):  # the client went away, or its socket failed
            self.close_connection = True
            self.drop_upstream()
            fault = fault or "client_gone"
        finally:
            self.proxy.count("bytes_in", body.payload)
        if not body.done:
            self.close_connection = True  # unread body bytes would be taken for a request
        self.proxy.finish_request(seq, self.command, self.target, status, fault)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = handle_request

    def refuse_while_down(self, plan):
        self.close_connection = True
        if plan.down == "hang":
            self.proxy.count_fault("hang")
            while self.proxy.plans.refresh().down == "hang" and not self.proxy.stopping.is_set():
                time.sleep(0.05)
            self.abort(rst=False)
        else:  # arrived while the listener was being closed
            self.proxy.count("down_cut_connections")
            self.abort(rst=True)
        self.proxy.finish_request(0, self.command, self.target, "-", str(plan.down == "hang" and
                                  "hang" or "down"), count=False)

    def admin(self, path):
        try:
            BodyReader(self.rfile, self.headers).drain()
        except (BadRequest, ClientGone):
            self.close_connection = True
        if path == "/__proxy/stats" and self.command in ("GET", "HEAD"):
            body = json.dumps(self.proxy.snapshot(), indent=1, sort_keys=True).encode() + b"\n"
            self.answer(200, "application/json", body)
        else:
            self.answer(404, "text/plain", b"no such proxy endpoint\n")

    # --- forwarding -----------------------------------------------------------------------
    def upstream_connection(self):
        conn = self.upstream
        if conn is not None and conn.sock is not None:
            readable, _, _ = select.select([conn.sock], [], [], 0)
            if readable:  # the upstream closed it (or sent garbage): start afresh
                conn.close()
                conn = None
        if conn is None or conn.sock is None:
            if conn is not None:
                conn.close()
            conn = UpstreamConnection("127.0.0.1", self.proxy.upstream_port, timeout=300)
            self.upstream = conn
        return conn

    def drop_upstream(self):
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None

    def forward(self, body, rule):
        kind = rule.kind if rule else None
        conn = self.upstream_connection()
        try:
            conn.putrequest(self.command, self.target, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            self.proxy.count("forwarded")
            sent_all = True
            try:
                for piece in body.pieces():
                    conn.send(piece)
            except (BrokenPipeError, ConnectionResetError):
                sent_all = False  # the upstream may have answered early: see whether it did
            try:
                resp = conn.getresponse()
            except (http.client.HTTPException, OSError):
                if sent_all:
                    raise
                raise ConnectionError("upstream closed during the upload") from None
        except ClientGone:
            self.drop_upstream()
            raise
        except (http.client.HTTPException, OSError) as e:
            self.drop_upstream()
            self.close_connection = True
            self.proxy.count("upstream_errors")
            log(f"upstream error: {type(e).__name__}")
            return self.answer(502, "text/plain", b"s3-fault-proxy: upstream failed\n"), \
                kind or "upstream_error"
        return self.relay(resp, rule), kind

    def relay(self, resp, rule):
        kind = rule.kind if rule else None
        status, headers = resp.status, resp.msg.items()
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        if kind == "lose_response":
            self.drop_upstream()
            self.abort(rst=True)
            return status
        if kind in ("drop_download", "truncate_response") and not no_body:
            return self.relay_broken(resp, kind, rule)
        for name, value in headers:
            if name.lower() == "connection" and "close" in value.lower():
                self.close_connection = True
        if not no_body and not resp.chunked and resp.length is None:
            self.close_connection = True  # the body ends when the upstream closes
        self.write_head(status, resp.reason, headers)
        if not no_body:
            while True:
                data = resp.read(CHUNK)
                if not data:
                    break
                if resp.chunked:
                    self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
                    self.proxy.count("bytes_out", len(data))
                else:
                    self.write_body(data)
            if resp.chunked:
                self.wfile.write(b"0\r\n\r\n")
        if resp.will_close:
            self.drop_upstream()
        else:
            resp.close()
        return status

    def relay_broken(self, resp, kind, rule):
        """Status + headers, then part of the body, then the connection ends."""
        if resp.length is not None:
            length = resp.length
            keep = length // 2 if kind == "truncate_response" else min(rule.after_bytes, length - 1)
            data = resp.read(max(keep, 0)) if length > 0 else b""
        else:  # chunked or close-delimited: read enough to know whether the body is longer
            cap = None if kind == "truncate_response" else rule.after_bytes + 1
            data = resp.read() if cap is None else resp.read(cap)
            length = len(data)
            keep = length // 2 if kind == "truncate_response" else min(rule.after_bytes, length - 1)
            data = data[:max(keep, 0)]
        self.drop_upstream()
        if length > 0:
            self.write_head(resp.status, resp.reason, resp.msg.items())
            if resp.chunked:
                if data:
                    self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
                    self.proxy.count("bytes_out", len(data))
            else:
                self.write_body(data)
        self.abort(rst=(kind == "drop_download"))
        return resp.status


class Proxy:
    def __init__(self, args):
        upstream = urllib.parse.urlsplit(args.upstream)
        if upstream.scheme != "http" or upstream.hostname != "127.0.0.1" or not upstream.port \
                or upstream.path not in ("", "/") or upstream.query or upstream.username:
            raise SystemExit(f"s3-fault-proxy: --upstream must be http://127.0.0.1:PORT, "
                             f"not {args.upstream!r}")
        self.upstream_port = upstream.port
        self.port = args.port
        self.stats_file = args.stats_file
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.stats_lock = threading.Lock()
        self.seq = 0
        self.stats = {"requests": 0, "forwarded": 0, "answered": 0, "faults": {},
                      "statuses": {}, "bytes_in": 0, "bytes_out": 0, "connections": 0,
                      "upstream_errors": 0, "tls_handshake_failures": 0, "plan_loads": 0,
                      "plan_errors": 0, "down_transitions": 0,
                      "down_cut_connections": 0}
        self.clients = set()
        self.held = []  # connections accepted while down == "hang"
        self.listener = None
        self.tls = make_tls(args.tls_self_signed) if args.tls_self_signed else None
        self.plans = PlanHolder(args.plan, args.seed if args.seed is not None else 0, self)

    # --- stats --------------------------------------------------------------------------
    def count(self, key, n=1):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def count_fault(self, kind):
        with self.lock:
            self.stats["faults"][kind] = self.stats["faults"].get(kind, 0) + 1

    def next_seq(self):
        with self.lock:
            self.seq += 1
            self.stats["requests"] += 1
            return self.seq

    def snapshot(self):
        with self.lock:
            snap = json.loads(json.dumps(self.stats))
        snap["plan"] = self.plans.plan.data
        snap["port"] = self.port
        snap["pid"] = os.getpid()
        return snap

    def write_stats(self):
        if not self.stats_file:
            return
        with self.stats_lock:
            data = json.dumps(self.snapshot(), indent=1, sort_keys=True) + "\n"
            tmp = f"{self.stats_file}.tmp.{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(data)
            os.replace(tmp, self.stats_file)

    def finish_request(self, seq, method, target, status, fault, count=True):
        with self.lock:
            if count and fault:
                self.stats["faults"][fault] = self.stats["faults"].get(fault, 0) + 1
            if status != "-":
                self.stats["answered"] += 1
                self.stats["statuses"][str(status)] = self.stats["statuses"].get(str(status), 0) + 1
        path, _, query = target.partition("?")
        names = "&".join(p.split("=", 1)[0] for p in query.split("&") if p) if query else ""
        log(f"#{seq} {method} {path}{'?' + names if names else ''} {status} {fault or ''}".rstrip())
        self.write_stats()

    # --- sockets ------------------------------------------------------------------------
    def open_listener(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", self.port))
        except OSError:
            s.close()
            raise
        s.listen(128)
        self.port = s.getsockname()[1]
        self.listener = s

    def close_listener(self):
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def cut_clients(self):
        with self.lock:
            clients = list(self.clients)
        for sock in clients:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        return len(clients)

    def release_held(self):
        for sock in self.held:
            try:
                sock.close()
            except OSError:
                pass
        self.held = []

    def serve_connection(self, sock, address):
        with self.lock:
            self.clients.add(sock)
            self.stats["connections"] += 1
        conn = sock
        try:
            if self.tls is not None:
                sock.settimeout(30)
                try:
                    conn = self.tls.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    self.count("tls_handshake_failures")
                    return
                with self.lock:
                    self.clients.discard(sock)
                    self.clients.add(conn)
            Handler(conn, address, self)
        except (OSError, ssl.SSLError, ClientGone):
            pass
        except Exception as e:  # noqa: BLE001 - one connection's bug must not stop the proxy
            log(f"connection failed: {type(e).__name__}: {e}")
        finally:
            with self.lock:
                self.clients.discard(sock)
                self.clients.discard(conn)
            for s in (conn, sock):
                try:
                    s.close()
                except OSError:
                    pass

    def run(self, port_file):
        self.open_listener()
        tmp = f"{port_file}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{self.port}\n")
        os.replace(tmp, port_file)
        log(f"listening on {'https' if self.tls else 'http'}://127.0.0.1:{self.port}/ -> "
            f"http://127.0.0.1:{self.upstream_port}/")
        last_down = False
        while not self.stopping.is_set():
            down = self.plans.refresh().down
            if down != last_down:
                self.count("down_transitions")
                if down is True:
                    self.count_fault("down")
                    self.close_listener()
                    self.count("down_cut_connections", self.cut_clients())
                if last_down == "hang":
                    self.release_held()
                last_down = down
                self.write_stats()
            if down is True:
                self.stopping.wait(0.05)
                continue
            if self.listener is None:
                try:
                    self.open_listener()
                except OSError as e:
                    log(f"cannot listen again on port {self.port}: {e}")
                    self.stopping.wait(0.2)
                    continue
            try:
                readable, _, _ = select.select([self.listener], [], [], 0.05)
            except (OSError, ValueError):
                continue
            if not readable:
                continue
            try:
                sock, address = self.listener.accept()
            except OSError:
                continue
            if down == "hang":
                self.held.append(sock)
                self.count_fault("hang")
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.serve_connection, args=(sock, address),
                             daemon=True).start()
        self.close_listener()
        self.cut_clients()
        self.release_held()
        self.write_stats()


def make_tls(directory):
    os.makedirs(directory, exist_ok=True)
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
               "-days", "7", "-subj", "/CN=127.0.0.1",
               "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
               "-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
               "-addext", "extendedKeyUsage=serverAuth"]
    old = os.umask(0o077)
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        os.umask(old)
    if done.returncode != 0:
        raise SystemExit("s3-fault-proxy: openssl could not make the certificate:\n"
                         + done.stderr.decode(errors="replace"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def main():
    global QUIET
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of the real server")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--port-file", required=True, help="written once listening")
    parser.add_argument("--plan", help="JSON fault plan, re-read while running")
    parser.add_argument("--stats-file", help="JSON stats, rewritten after every request")
    parser.add_argument("--seed", type=int, help="seed for rules with a probability")
    parser.add_argument("--tls-self-signed", metavar="DIR",
                        help="serve HTTPS with a new self-signed DIR/cert.pem")
    parser.add_argument("--quiet", action="store_true", help="no log lines")
    args = parser.parse_args()
    QUIET = args.quiet
    proxy = Proxy(args)

    def stop(signum, frame):
        proxy.stopping.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    # A test killed with SIGKILL never stops its proxy: leave when the parent is gone.
    parent = os.getppid()

    def watch_parent():
        while not proxy.stopping.wait(0.5):
            if os.getppid() != parent:
                proxy.stopping.set()
    threading.Thread(target=watch_parent, daemon=True).start()
    proxy.run(args.port_file)
    log("stopped")
    sys.stderr.flush()
    os._exit(0)  # handler threads may be blocked in reads; their sockets are already cut


if __name__ == "__main__":
    main()
