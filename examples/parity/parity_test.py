#!/usr/bin/python3
"""Black-box test of the parity app against its spec (SPEC.md of the parity suite).

Usage:
  parity_test.py PROGRAM [-k SUBSTRING]...
  parity_test.py --against-reference [APP_PY] [-k SUBSTRING]...

Starts PROGRAM (or, with --against-reference, the Tornado 6.2 reference app, copied to a
temporary folder) on a free port, from another folder, with `--port N` appended as two
arguments as the acceptance suite does. Then checks the spec's MUST rules route by route with
strict clients: raw sockets whose responses are parsed by h11, `requests`, `websockets`, and a
raw WebSocket client for the protocol violations. Checks where the spec makes squall follow an
RFC that Tornado breaks (SPEC §8) are marked `rfc` and skipped against the reference. Finally
sends SIGTERM and expects the app to exit within 5 s.

Prints one line per check and a summary; exits 1 if any check failed.
"""

import asyncio
import base64
import contextlib
import gzip
import hashlib
import hmac
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime

import h11
import requests
import websockets
import websockets.exceptions

# demo_testing.py is in examples/; no __pycache__ is left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from demo_testing import Failure, check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_REFERENCE = "/work/shared/parity/reference/app.py"
TOTAL_DEADLINE = 240  # seconds for the whole run; CTest's own limit is 300
IO_TIMEOUT = 5.0
IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT$")
GZIP_TEXT = "".join(
    "line %04d: the quick brown fox jumps over the lazy dog\n" % i for i in range(1000)).encode()
BIG_BIN = bytes(i % 251 for i in range(102400))
TEMPLATE_SCRIPT = (
    "<!DOCTYPE html>\n<html><head><title>Parity</title></head>\n<body>\n"
    "<h1>Hello, &lt;script&gt;!</h1>\n<ul>\n<li>alpha</li>\n<li>beta</li>\n"
    "<li>&lt;gamma &amp; delta&gt;</li>\n</ul>\n<p>3 items</p>\n</body>\n</html>\n").encode()
REASONS = {
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
    411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a Teapot",
    421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
    424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required",
    428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    510: "Not Extended", 511: "Network Authentication Required",
}
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def eq(actual, expected, what):
    if actual != expected:
        raise Failure("%s: expected %r, got %r" % (what, expected, actual))


# --- The app under test ---------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    def __init__(self, command, workdir):
        self.port = free_port()
        self.log_path = os.path.join(workdir, "app.log")
        self.log = open(self.log_path, "wb")
        # From another folder: the app must find static/ and templates/ by itself.
        self.proc = subprocess.Popen(command + ["--port", str(self.port)], cwd=workdir,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            check(self.proc.poll() is None, "the app exited at start-up: " + self.tail())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                check(time.monotonic() < deadline, "the app did not listen within 30 s")
                time.sleep(0.05)
        self.base = "http://127.0.0.1:%d" % self.port

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tail(self):
        return self.text()[-3000:]

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise Failure("the app did not exit within 5 s of SIGTERM")
        self.log.close()


APP = None
REFERENCE = False


# --- A raw HTTP/1.1 client whose responses h11 validates ------------------------------------


class Response:
    def __init__(self, status, reason, version, headers, body, informational):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers  # [(lowercase name, value)] in order
        self.body = body
        self.informational = informational

    def get(self, name, default=None):
        values = self.all(name)
        return values[0] if values else default

    def all(self, name):
        return [v for n, v in self.headers if n == name.lower()]

    def has(self, name):
        return bool(self.all(name))

    def __repr__(self):
        return "<%d %s %r %r>" % (self.status, self.reason, self.headers, self.body[:200])


class Raw:
    """One TCP connection; requests are sent as raw bytes, responses read with h11."""

    def __init__(self, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", APP.port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.pending = b""

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _recv(self):
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        try:
            return self.sock.recv(65536)
        except ConnectionResetError:
            return b""

    def response(self, method="GET"):
        """Reads one response to a request of `method`; h11 raises on anything malformed."""
        conn = h11.Connection(h11.CLIENT)
        # h11 parses a response only after it has "sent" a request: it learns the method (HEAD
        # responses have no body) from it. The bytes are discarded.
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        informational = []
        head = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(self._recv())
                continue
            if isinstance(event, h11.InformationalResponse):
                informational.append(event.status_code)
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise Failure("the connection closed before a response")
        # Bytes h11 read past this response belong to the next one.
        self.pending = bytes(conn.trailing_data[0]) + self.pending
        headers = [(n.decode().lower(), v.decode("latin-1")) for n, v in head.headers]
        return Response(head.status_code, head.reason.decode("latin-1"),
                        head.http_version.decode(), headers, body, informational)

    def closes(self, timeout=IO_TIMEOUT):
        """Whether the server closes the connection (without sending anything more)."""
        self.sock.settimeout(timeout)
        try:
            data = self.pending or self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        if data:
            raise Failure("expected the connection to close, got %r" % data[:200])
        return True

    def read_until_closed(self, timeout=IO_TIMEOUT):
        """Everything until the server closes or `timeout` passes: (the bytes, whether it
        closed)."""
        self.sock.settimeout(timeout)
        out = self.pending
        self.pending = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                return out, True  # closed with unread data in its buffer: a reset
            if not data:
                return out, True
            out += data
        return out, False

    def read_all(self, timeout=IO_TIMEOUT):
        """Everything until the server closes; Failure if it does not within `timeout`."""
        out, closed = self.read_until_closed(timeout)
        check(closed, "the connection stayed open; got %r" % out[:300])
        return out


def request(method, target, headers=(), body=b"", version="1.1", host=True):
    """Sends one request on a new connection (`Connection: close` unless a header says
    otherwise) and returns the response."""
    lines = ["%s %s HTTP/%s" % (method, target, version)]
    names = [h[0].lower() for h in headers]
    if host and "host" not in names:
        lines.append("Host: 127.0.0.1:%d" % APP.port)
    if "connection" not in names:
        lines.append("Connection: close")
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    lines += ["%s: %s" % h for h in headers]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with Raw() as c:
        c.send(data)
        return c.response(method)


def get(target, headers=()):
    return request("GET", target, headers)


def raw_exchange(data, timeout=IO_TIMEOUT, must_close=False):
    """Sends `data` and returns all the bytes until the server closes (or the timeout; with
    `must_close`, the timeout is a failure)."""
    with Raw(timeout) as c:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            c.send(data)
        out, closed = c.read_until_closed(timeout)
        check(closed or not must_close,
              "the connection stayed open after %r; got %r" % (data[:60], out[:120]))
        return out


def statuses(data):
    """The status codes of every response in raw bytes (final and interim)."""
    return [int(m) for m in re.findall(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3})", data)]


def check_error_page(resp, code, head=False):
    reason = REASONS.get(code, "Unknown")
    eq(resp.status, code, "status")
    eq(resp.reason, reason, "reason phrase of %d" % code)
    eq(resp.get("content-type", "").lower(), "text/html; charset=utf-8", "error page type")
    escaped = reason.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        "'", "&#39;")
    page = ("<html><title>%d: %s</title><body>%d: %s</body></html>" %
            (code, escaped, code, escaped)).encode()
    eq(resp.get("content-length"), str(len(page)), "error page Content-Length")
    if not head:
        eq(resp.body, page, "error page of %d" % code)


def check_date(resp):
    date = resp.get("date")
    check(date is not None, "no Date header")
    check(IMF_FIXDATE.match(date), "Date is not an IMF-fixdate: %r" % date)
    age = abs(time.time() - parsedate_to_datetime(date).timestamp())
    check(age < 60, "Date is not current: %r" % date)


def check_one_piece(resp, ctype=None):
    check(resp.has("content-length"), "no Content-Length")
    check(not resp.has("transfer-encoding"), "chunked where one piece was expected")
    eq(int(resp.get("content-length")), len(resp.body), "Content-Length vs body")
    check_date(resp)
    if ctype is not None:
        eq(resp.get("content-type", "").lower(), ctype.lower(), "Content-Type")


# --- The checks -------------------------------------------------------------------------------

TESTS = []


def test(*tags):
    def register(fn):
        TESTS.append((fn.__name__, fn, set(tags)))
        return fn
    return register


# §1 process interface


@test()
def static_and_templates_found_from_another_folder():
    eq(get("/static/hello.txt").body, b"hello static\n", "hello.txt")
    eq(get("/template?name=%3Cscript%3E").body, TEMPLATE_SCRIPT, "template")


@test()
def thirty_concurrent_connections_and_a_slow_client_delay_nobody():
    slow = Raw()
    slow.send(b"GET / HTTP/1.1\r\nHo")  # a client sending its head bit by bit
    idle = [Raw() for _ in range(30)]
    try:
        for c in idle:
            c.send(b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
        start = time.monotonic()
        for c in idle:
            eq(c.response().status, 200, "status on one of 30 connections")
        check(time.monotonic() - start < 2, "30 connections took too long")
        sleeper = Raw()
        sleeper.send(b"GET /sleep?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        start = time.monotonic()
        eq(get("/").status, 200, "status while others wait")
        check(time.monotonic() - start < 0.5, "a sleeping handler delayed another client")
        slow.send(b"st: x\r\n\r\n")
        eq(slow.response().status, 200, "the slow client's status")
        eq(sleeper.response().status, 200, "the sleeper's status")
        sleeper.close()
    finally:
        slow.close()
        for c in idle:
            c.close()


# §3.1-3.3 content types, framing, Date


@test()
def content_types_lengths_and_dates():
    cases = [("/", "text/html; charset=UTF-8", b"Hello, world"),
             ("/plaintext", "text/plain; charset=UTF-8", b"Hello, World!"),
             ("/json", "application/json; charset=UTF-8", None)]
    for target, ctype, body in cases:
        resp = get(target)
        eq(resp.status, 200, target)
        check_one_piece(resp, ctype)
        if body is not None:
            eq(resp.body, body, target)
    eq(json.loads(get("/json").body), {"message": "Hello, World!"}, "/json body")
    eq(get("/plaintext").get("content-length"), "13", "/plaintext length")


@test()
def errors_have_date_and_length():
    for target in ("/nope", "/status/503", "/boom"):
        resp = get(target)
        check_one_piece(resp, "text/html; charset=UTF-8")


# §3.4 ETag / 304


@test()
def automatic_etag_and_304():
    resp = get("/plaintext")
    etag = resp.get("etag")
    eq(etag, '"%s"' % hashlib.sha1(b"Hello, World!").hexdigest(), "ETag of /plaintext")
    check(get("/").get("etag") != etag, "different bodies, same ETag")
    eq(get("/plaintext").get("etag"), etag, "ETag is stable")
    for inm in (etag, "W/" + etag, '"nope", ' + etag, "*"):
        r = get("/plaintext", [("If-None-Match", inm)])
        eq(r.status, 304, "If-None-Match %s" % inm)
        eq(r.body, b"", "304 body")
        eq(r.get("etag"), etag, "304 ETag")
        check(not r.has("content-length") and not r.has("transfer-encoding"),
              "a 304 with Content-Length or Transfer-Encoding")
        check_date(r)
    eq(get("/plaintext", [("If-None-Match", '"nope"')]).status, 200, "non-matching ETag")
    r = request("HEAD", "/plaintext", [("If-None-Match", etag)])
    eq(r.status, 304, "HEAD with a matching ETag")
    check(get("/stream?chunks=1&delay_ms=0").get("etag") is None, "a streamed response has ETag")


# §3.5 error page


@test()
def default_error_pages_for_every_code():
    for code in list(REASONS) + [499, 599, 460]:
        check_error_page(get("/status/%d" % code), code)
    check_error_page(get("/status/0404"), 404)
    for target in ("/status/200", "/status/302", "/status/600", "/status/99999",
                   "/status/99999999999999999999999"):
        check_error_page(get(target), 400)


# §3.6 gzip


def gunzip(data):
    return gzip.decompress(data)


@test()
def gzip_when_accepted_and_large_enough():
    r = get("/gzip", [("Accept-Encoding", "gzip")])
    eq(r.status, 200, "status")
    eq(r.get("content-encoding"), "gzip", "Content-Encoding")
    check_one_piece(r, "text/plain; charset=UTF-8")
    check("accept-encoding" in r.get("vary", "").lower(), "no Vary: Accept-Encoding")
    eq(gunzip(r.body), GZIP_TEXT, "decompressed body")
    check(len(r.body) * 3 < len(GZIP_TEXT), "compressed body not under a third")
    r2 = get("/gzip", [("Accept-Encoding", "deflate, gzip;q=0.8")])
    eq(r2.get("content-encoding"), "gzip", "gzip in a list")
    for ae in (None, "identity", "br"):
        r = get("/gzip", [("Accept-Encoding", ae)] if ae else [])
        check(not r.has("content-encoding"), "compressed for Accept-Encoding %r" % ae)
        eq(r.body, GZIP_TEXT, "/gzip body for %r" % ae)
        check("accept-encoding" in r.get("vary", "").lower(), "no Vary for %r" % ae)


@test("rfc")
def gzip_q0_is_refused():
    r = get("/gzip", [("Accept-Encoding", "gzip;q=0")])
    check(not r.has("content-encoding"), "gzip;q=0 still got gzip (RFC 9110 §12.5.3)")
    eq(r.body, GZIP_TEXT, "body")


@test()
def small_and_binary_bodies_are_not_compressed():
    for target in ("/json", "/plaintext", "/static/big.bin"):
        r = get(target, [("Accept-Encoding", "gzip")])
        check(not r.has("content-encoding"), "%s was compressed" % target)
        check("accept-encoding" in r.get("vary", "").lower(), "%s without Vary" % target)
    eq(get("/static/big.bin", [("Accept-Encoding", "gzip")]).body, BIG_BIN, "big.bin")


@test()
def streamed_gzip_is_chunked():
    r = get("/stream?chunks=3&delay_ms=0", [("Accept-Encoding", "gzip")])
    eq(r.get("content-encoding"), "gzip", "streamed Content-Encoding")
    check(not r.has("content-length"), "streamed gzip with Content-Length")
    eq(r.get("transfer-encoding", "").lower(), "chunked", "streamed gzip framing")
    eq(gunzip(r.body), b"chunk 0\nchunk 1\nchunk 2\n", "streamed body")


# §3.7 HEAD, OPTIONS, unknown methods and paths


@test()
def head_answers_like_get():
    targets = ["/", "/json", "/greet/abc", "/template", "/sleep?ms=1", "/status/404",
               "/status/503", "/gzip", "/static/hello.txt", "/static/big.bin"]
    for ae in ([], [("Accept-Encoding", "gzip")]):
        for target in targets:
            g = get(target, ae)
            h = request("HEAD", target, ae)
            eq(h.status, g.status, "HEAD status of %s" % target)
            eq(h.body, b"", "HEAD body of %s" % target)
            for name in ("content-type", "content-length", "content-encoding"):
                eq(h.get(name), g.get(name), "HEAD %s of %s" % (name, target))


@test()
def unimplemented_methods_get_405():
    cases = [("POST", "/"), ("PUT", "/json"), ("DELETE", "/plaintext"), ("PATCH", "/args"),
             ("OPTIONS", "/"), ("OPTIONS", "/json"), ("GET", "/echo"), ("GET", "/upload"),
             ("GET", "/form"), ("GET", "/publish"), ("POST", "/static/hello.txt")]
    for method, target in cases:
        r = request(method, target, body=b"x" if method in ("POST", "PUT", "PATCH") else b"")
        check_error_page(r, 405)


@test("rfc")
def every_405_says_allow():
    cases = {("POST", "/"): {"GET", "HEAD"}, ("GET", "/echo"): {"POST", "OPTIONS"},
             ("GET", "/upload"): {"PUT"}, ("OPTIONS", "/json"): {"GET", "HEAD"},
             ("PATCH", "/echo"): {"POST", "OPTIONS"}, ("PUT", "/ws/echo"): {"GET"}}
    for (method, target), allowed in cases.items():
        r = request(method, target)
        eq(r.status, 405, "%s %s" % (method, target))
        got = {m.strip() for m in r.get("allow", "").split(",") if m.strip()}
        eq(got, allowed, "Allow of %s %s" % (method, target))


@test()
def unknown_methods_get_405_or_501():
    for method in ("FOO", "TRACE", "get", "CONNECT"):
        with Raw() as c:
            target = "127.0.0.1:1" if method == "CONNECT" else "/"
            c.send(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" %
                    (method, target)).encode())
            data = c.read_all()
        check(statuses(data)[:1] in ([400], [405], [501]) or (method == "CONNECT" and not data),
              "%s got %r" % (method, data[:100]))


@test()
def unknown_paths_get_404():
    for target in ("/nope", "/json/", "/JSON", "/greet/", "/greet/a/b", "/status/abc"):
        check_error_page(get(target), 404)


# §3.8 query arguments


@test()
def query_argument_rules():
    r = get("/args?a=1&b=2&a=3&q=x+y&bare&s=%20z%20")
    eq(json.loads(r.body), {"a": ["1", "3"], "b": ["2"], "q": ["x y"], "bare": [""], "s": ["z"]},
       "/args")
    eq(json.loads(get("/args").body), {}, "no query")
    eq(json.loads(get("/args?e=&c=a%01b%1fc%0Dd&t=%09x%0B").body),
       {"e": [""], "c": ["a b c\rd"], "t": ["x"]}, "control characters and strip")
    eq(json.loads(get("/args?u=J%C3%BCrgen").body), {"u": ["Jürgen"]}, "UTF-8 value")
    eq(json.loads(get("/args?n=%C2%A0x%E3%80%80&f=%1Cy%1F").body), {"n": ["x"], "f": ["y"]},
       "Python's str.strip(): Unicode white space")
    check_error_page(get("/args?u=%FF"), 400)


@test("rfc")
def query_argument_names_are_utf8():
    eq(json.loads(get("/args?J%C3%BC=1").body), {"Jü": ["1"]}, "UTF-8 name")
    check_error_page(get("/args?%FF=1"), 400)


@test()
def integer_arguments_are_ascii_digits_in_range():
    for bad in ("-1", "%2B1", "1.0", "abc", "10001", "1e3", "", "%D9%A1", "0x10"):
        r = get("/sleep?ms=" + bad)
        eq(r.status, 400, "/sleep?ms=" + bad)
        check_error_page(r, 400)
    check_error_page(get("/sleep"), 400)
    eq(get("/sleep?ms=+1").body, b"slept 1", "'+' is a space, stripped")
    eq(get("/sleep?ms=%201%20").body, b"slept 1", "stripped integer")


# §4 routes


@test()
def greet_decodes_its_path():
    eq(get("/greet/J%C3%BCrgen%20M").body, "Hello, Jürgen M".encode(), "greet")
    eq(get("/greet/a+b").body, b"Hello, a+b", "plus kept")
    eq(get("/greet/%20x%20").body, b"Hello,  x ", "not stripped")
    check_one_piece(get("/greet/x"), "text/plain; charset=UTF-8")
    check_error_page(get("/greet/%FF"), 400)


@test()
def headers_as_lists():
    r = request("GET", "/headers", [("X-Multi", "one"), ("X-Multi", "  two  "),
                                    ("X-List", "a, b")])
    body = json.loads(r.body)
    eq(r.get("content-type", "").lower(), "application/json; charset=utf-8", "type")
    eq(body.get("x-multi"), ["one", "two"], "repeated header")
    eq(body.get("x-list"), ["a, b"], "not split on commas")
    eq(body.get("host"), ["127.0.0.1:%d" % APP.port], "host")


def multipart(parts, boundary="XyZzY"):
    out = b""
    for headers, content in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        for h in headers:
            out += h.encode() + b"\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


@test()
def form_bodies():
    ct = [("Content-Type", "application/x-www-form-urlencoded")]
    r = request("POST", "/form", ct, b"a=1&b=%20two%20&a=3&q=x+y&bare&e=")
    eq(json.loads(r.body), {"args": {"a": ["1", "3"], "b": [" two "], "q": ["x y"], "bare": [""],
                                     "e": [""]}, "files": {}}, "urlencoded")
    body = multipart([
        (['Content-Disposition: form-data; name="f"'], b"v1"),
        (['Content-Disposition: form-data; name="up"; filename="a.txt"',
          "Content-Type: text/plain"], b"file one"),
        (['Content-Disposition: form-data; name="up"; filename="b.bin"'], b"\x00\x01"),
        (['Content-Disposition: form-data; name="f"'], "é".encode()),
    ])
    r = request("POST", "/form", [("Content-Type", "multipart/form-data; boundary=XyZzY")], body)
    eq(r.status, 200, "multipart status")
    eq(json.loads(r.body), {
        "args": {"f": ["v1", "é"]},
        "files": {"up": [
            {"filename": "a.txt", "content_type": "text/plain", "size": 8,
             "sha256": hashlib.sha256(b"file one").hexdigest()},
            {"filename": "b.bin", "content_type": "application/unknown", "size": 2,
             "sha256": hashlib.sha256(b"\x00\x01").hexdigest()}]}}, "multipart")
    r = request("POST", "/form", [("Content-Type", "text/plain")], b"a=1")
    eq(json.loads(r.body), {"args": {}, "files": {}}, "other type")
    eq(json.loads(request("POST", "/form?q=1", ct, b"").body), {"args": {}, "files": {}},
       "query arguments are not form arguments")
    check_error_page(request("POST", "/form", ct, b"a=%FF"), 400)


@test()
def malformed_multipart_is_400():
    ct = [("Content-Type", "multipart/form-data; boundary=XyZzY")]
    bodies = [
        b'--XyZzY\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n',  # no final boundary
        b"--XyZzY\r\n\r\nv\r\n--XyZzY--\r\n",  # a part without headers
        b'--XyZzY\r\nContent-Disposition: form-data; filename="x"\r\n\r\nv\r\n--XyZzY--\r\n',
    ]
    for body in bodies:
        r = request("POST", "/form", ct, body)
        eq(r.status, 400, "malformed multipart %r" % body[:60])


@test()
def echo_post_and_options():
    r = request("POST", "/echo", [("Content-Type", "text/x-thing; a=b")], b"hello")
    eq((r.status, r.body, r.get("content-type")), (200, b"hello", "text/x-thing; a=b"), "echo")
    check_one_piece(r)
    r = request("POST", "/echo", [], b"\x00\xff")
    eq((r.body, r.get("content-type")), (b"\x00\xff", "application/octet-stream"), "no type")
    r = request("POST", "/echo", [("Content-Length", "0")])
    eq((r.status, r.body), (200, b""), "empty body")
    r = request("POST", "/echo", [("Transfer-Encoding", "chunked")],
                b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n")
    eq(r.body, b"abc0123456789", "chunked body")
    r = request("OPTIONS", "/echo")
    eq(r.status, 204, "OPTIONS status")
    eq(r.get("allow"), "POST, OPTIONS", "OPTIONS Allow")
    check(not r.has("content-length") and not r.has("transfer-encoding"), "204 framing")
    eq(r.body, b"", "204 body")


@test()
def echo_needs_no_xsrf_token():
    eq(request("POST", "/echo", [], b"x").status, 200, "POST /echo without a token")


@test()
def upload_streams_and_limits():
    for body in (b"", b"hello", os.urandom(300000)):
        r = request("PUT", "/upload", [("Content-Length", str(len(body)))], body)
        eq(json.loads(r.body), {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()},
           "upload of %d bytes" % len(body))
    r = request("PUT", "/upload", [("Transfer-Encoding", "chunked")],
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    eq(json.loads(r.body)["size"], 11, "chunked upload")
    # Exactly 64 MiB is accepted.
    size = 64 << 20
    with Raw(timeout=30) as c:
        c.send(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        block = b"\xab" * (1 << 20)
        for _ in range(64):
            c.send(block)
        r = c.response()
        expected = hashlib.sha256(block * 64).hexdigest()
        eq(json.loads(r.body), {"size": size, "sha256": expected}, "64 MiB upload")
    # One byte more is refused before the body is read, and the connection closed.
    with Raw() as c:
        c.send(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (size + 1))
        r = c.response()
        check(r.status in (400, 413), "oversized upload got %d" % r.status)
        check(c.closes(), "the connection stayed open after refusing the upload")
    # A chunked body growing past the limit is refused as it passes it.
    with Raw(timeout=30) as c:
        c.send(b"PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"100000\r\n" + b"\x00" * 0x100000 + b"\r\n"
        refused = None
        try:
            for _ in range(70):
                c.send(piece)
        except (BrokenPipeError, ConnectionResetError):
            refused = True
        data = c.read_all(timeout=10) if not refused else c.pending
        if data:
            check(statuses(data)[:1] in ([400], [413]), "chunked oversize got %r" % data[:80])


@test()
def status_and_boom():
    check_error_page(get("/boom"), 500)
    check(b"boom" not in get("/boom").body.lower().replace(b"<body>", b""), "exception text")
    eq(get("/").status, 200, "still serving after /boom")


@test()
def redirects():
    for target, code in (("/redirect", 302), ("/redirect/permanent", 301)):
        r = get(target)
        eq((r.status, r.get("location"), r.body), (code, "/", b""), target)


@test()
def plain_cookies():
    r = get("/cookie/set?name=flavour&value=choc.chip-1_2")
    eq((r.status, r.body), (200, b"set"), "set")
    cookies = r.all("set-cookie")
    eq(len(cookies), 1, "one Set-Cookie")
    parts = [p.strip() for p in cookies[0].split(";")]
    eq(parts[0], "flavour=choc.chip-1_2", "cookie")
    check("path=/" in [p.lower() for p in parts[1:]], "no Path=/ in %r" % cookies[0])
    for query in ("name=a%20b&value=x", "name=x&value=a;b", "name=x&value=" + "v" * 65,
                  "name=x", "value=x", "name=&value=x"):
        r = get("/cookie/set?" + query)
        eq(r.status, 400, "cookie/set?" + query)
        check(not r.has("set-cookie"), "a refused cookie was set")
    r = get("/cookie/get?name=b", [("Cookie", "a=1; b=two; c=3")])
    eq((r.status, r.body), (200, b"two"), "cookie/get")
    check_one_piece(r, "text/plain; charset=UTF-8")
    check_error_page(get("/cookie/get?name=z", [("Cookie", "a=1")]), 404)
    check_error_page(get("/cookie/get?name=z"), 404)


def signed_value(value, name="signed", secret="parity-secret", timestamp=None):
    def field(s):
        return b"%d:%s" % (len(s), s)
    ts = str(int(time.time() if timestamp is None else timestamp)).encode()
    b64 = base64.b64encode(value.encode())
    to_sign = b"|".join([b"2", field(b"0"), field(ts), field(name.encode()), field(b64), b""])
    sig = hmac.new(secret.encode(), to_sign, hashlib.sha256).hexdigest().encode()
    return (to_sign + sig).decode()


@test()
def signed_cookies():
    value = "héllo wörld = ; ok"
    r = get("/signed/set?value=" + requests.utils.quote(value))
    eq((r.status, r.body), (200, b"set"), "signed/set")
    cookies = r.all("set-cookie")
    eq(len(cookies), 1, "one Set-Cookie")
    m = re.match(r'signed=("?)([^";]*)\1;', cookies[0])
    check(m, "no signed cookie in %r" % cookies[0])
    attrs = cookies[0].lower()
    check("path=/" in attrs and "expires=" in attrs, "attributes of %r" % cookies[0])
    expires = re.search(r"expires=([^;]+)", cookies[0], re.I).group(1)
    days = (parsedate_to_datetime(expires).timestamp() - time.time()) / 86400
    check(29.9 < days < 30.1, "expires is not 30 days ahead: %r" % expires)
    signed = m.group(2)
    fields = signed.split("|")
    eq(fields[0], "2", "version")
    eq(fields[3], "6:signed", "name field")
    to_sign = signed[:signed.rindex("|") + 1]
    eq(fields[-1], hmac.new(b"parity-secret", to_sign.encode(), hashlib.sha256).hexdigest(),
       "signature")
    r = get("/signed/get", [("Cookie", "signed=" + m.group(0)[7:-1])])
    eq((r.status, r.body.decode()), (200, value), "round trip")
    # Cookies made as Tornado makes them.
    eq(get("/signed/get", [("Cookie", "signed=" + signed_value("abc"))]).body, b"abc", "built")
    eq(get("/signed/get", [("Cookie", 'signed="%s"' % signed_value("q=1"))]).body, b"q=1",
       "quoted")
    eq(get("/signed/get", [("Cookie", "signed=" + signed_value("old", timestamp=time.time() -
                                                               30 * 86400))]).status,
       200, "30 days old")
    bad = [signed_value("x", secret="other"), signed_value("x", name="other"),
           signed_value("x", timestamp=time.time() - 32 * 86400), "garbage", "2|1:0|",
           signed_value("abc")[:-1] + ("0" if signed_value("abc")[-1] != "0" else "1")]
    for cookie in bad:
        check_error_page(get("/signed/get", [("Cookie", "signed=" + cookie)]), 403)
    check_error_page(get("/signed/get"), 403)


def xsrf_page():
    r = get("/xsrf")
    eq(r.status, 200, "GET /xsrf")
    eq(r.get("content-type", "").lower(), "text/html; charset=utf-8", "type")
    check(b'<form method="post" action="/xsrf">' in r.body, "no form")
    m = re.search(rb'<input type="hidden" name="_xsrf" value="([^"]+)"/>', r.body)
    check(m, "no xsrf_form_html element in %r" % r.body)
    cookie = None
    for c in r.all("set-cookie"):
        mm = re.match(r"_xsrf=([^;]+);", c)
        if mm:
            cookie = mm.group(1)
            check("path=/" in c.lower(), "_xsrf cookie without Path=/")
    check(cookie, "no _xsrf cookie set")
    return m.group(1).decode(), cookie


@test()
def xsrf_protection():
    token, cookie = xsrf_page()
    check(re.match(r"^2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+$", token), "token format %r" % token)
    r = get("/xsrf", [("Cookie", "_xsrf=" + cookie)])
    check(not any(c.startswith("_xsrf=") for c in r.all("set-cookie")), "cookie set again")
    form = [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", "_xsrf=" + cookie)]
    quote = requests.utils.quote
    ok = [request("POST", "/xsrf", form, ("_xsrf=" + quote(token, safe="")).encode()),
          request("POST", "/xsrf", form, ("_xsrf=" + quote(cookie, safe="")).encode()),
          request("POST", "/xsrf", [("Cookie", "_xsrf=" + cookie), ("X-XSRFToken", token)]),
          request("POST", "/xsrf", [("Cookie", "_xsrf=" + cookie), ("X-CSRFToken", token)])]
    for r in ok:
        eq((r.status, r.body), (200, b"xsrf ok"), "accepted token")
        eq(r.get("content-type", "").lower(), "text/plain; charset=utf-8", "type")
    other_token, _ = xsrf_page()
    refused = [request("POST", "/xsrf", form, b"a=1"),
               request("POST", "/xsrf", [("X-XSRFToken", token)]),
               request("POST", "/xsrf", [("Cookie", "_xsrf=" + cookie),
                                         ("X-XSRFToken", other_token)])]
    for r in refused:
        check_error_page(r, 403)


@test()
def sleeps_do_not_block():
    eq(get("/sleep?ms=0").body, b"slept 0", "sleep 0")
    r = get("/sleep?ms=20")
    check_one_piece(r, "text/plain; charset=UTF-8")
    start = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        bodies = list(pool.map(lambda _: get("/sleep?ms=300").body, range(20)))
    eq(bodies, [b"slept 300"] * 20, "bodies")
    check(time.monotonic() - start < 1.5, "20 concurrent sleeps took %.2f s" %
          (time.monotonic() - start))


@test()
def fetch_multi_executor():
    eq(json.loads(get("/fetch?path=/json").body),
       {"status": 200, "body": '{"message": "Hello, World!"}'}
       if REFERENCE else {"status": 200, "body": get("/json").body.decode()}, "fetch /json")
    eq(json.loads(get("/fetch?path=/status/404").body)["status"], 404, "error status")
    eq(json.loads(get("/fetch?path=/redirect").body), {"status": 200, "body": "Hello, world"},
       "redirect followed")
    eq(json.loads(get("/fetch?path=%2Fargs%3Fa%3D1").body)["body"].replace(" ", ""),
       '{"a":["1"]}', "a query")
    for bad in ("/fetch", "/fetch?path=json", "/fetch?path="):
        check_error_page(get(bad), 400)
    eq(json.loads(get("/multi").body), {"count": 5}, "multi")
    eq(json.loads(get("/multi?n=50").body), {"count": 50}, "multi 50")
    for bad in ("0", "51", "x"):
        check_error_page(get("/multi?n=" + bad), 400)
    eq(json.loads(get("/executor?n=10").body), {"n": 10, "sum": 45}, "executor")
    eq(json.loads(get("/executor?n=10000000").body),
       {"n": 10000000, "sum": 10000000 * 9999999 // 2}, "executor 1e7")
    for bad in ("/executor", "/executor?n=10000001", "/executor?n=1&ms=5001"):
        check_error_page(get(bad), 400)
    with Raw() as c:
        c.send(b"GET /executor?n=10&ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
        # While the job blocks its thread, the loop must keep answering.
        answered = 0
        deadline = time.monotonic() + 5
        while not select.select([c.sock], [], [], 0)[0] and time.monotonic() < deadline:
            start = time.monotonic()
            eq(get("/").status, 200, "GET / during the executor job")
            check(time.monotonic() - start < 0.4, "the executor blocked the loop")
            answered += 1
        check(answered >= 3, "only %d requests answered during the job" % answered)
        eq(json.loads(c.response().body), {"n": 10, "sum": 45}, "executor with ms")


@test()
def template_renders_escaped():
    r = get("/template?name=%3Cscript%3E")
    eq(r.body, TEMPLATE_SCRIPT, "template body")
    check_one_piece(r, "text/html; charset=UTF-8")
    check(b"<h1>Hello, world!</h1>" in get("/template").body, "default name")
    check(b"<h1>Hello, &quot;a&#39;&amp;</h1>" in get("/template?name=%22a%27%26").body.replace(
        b"!", b""), "quotes escaped")


@test()
def gzip_route_body():
    r = get("/gzip")
    eq(r.body, GZIP_TEXT, "/gzip body")
    eq(len(r.body), 55000, "length")


@test()
def stream_is_chunked_and_flushed():
    with Raw() as c:
        start = time.monotonic()
        c.send(b"GET /stream?chunks=4&delay_ms=200 HTTP/1.1\r\nHost: x\r\n\r\n")
        first = c.sock.recv(65536)
        t_first = time.monotonic() - start
        check(t_first < 0.4, "first piece after %.2f s" % t_first)
        c.pending = first
        r = c.response()
        t_last = time.monotonic() - start
        eq(r.get("transfer-encoding", "").lower(), "chunked", "framing")
        check(not r.has("content-length"), "streamed with Content-Length")
        eq(r.body, b"chunk 0\nchunk 1\nchunk 2\nchunk 3\n", "body")
        check(t_last >= 0.55, "last piece after only %.2f s" % t_last)
        eq(r.get("content-type", "").lower(), "text/plain; charset=utf-8", "type")
        check_date(r)
    for bad in ("chunks=0", "chunks=101", "delay_ms=1001", "chunks=-1"):
        check_error_page(get("/stream?" + bad), 400)
    eq(get("/stream?delay_ms=0").body, b"".join(b"chunk %d\n" % i for i in range(5)), "default")


@test()
def stream_to_http10_is_not_chunked():
    with Raw() as c:
        c.send(b"GET /stream?chunks=3&delay_ms=10 HTTP/1.0\r\n\r\n")
        data = c.read_all()
    head, _, body = data.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1."), "status line %r" % head[:40])
    check(b"transfer-encoding" not in head.lower(), "chunked to HTTP/1.0")
    eq(body, b"chunk 0\nchunk 1\nchunk 2\n", "HTTP/1.0 streamed body")


@test()
def stream_client_going_away_is_quiet():
    with Raw() as c:
        c.send(b"GET /stream?chunks=20&delay_ms=20 HTTP/1.1\r\nHost: x\r\n\r\n")
        c.sock.recv(100)
    # Served meanwhile and after the stream would have ended (20 x 20 ms).
    end = time.monotonic() + 0.6
    while time.monotonic() < end:
        eq(get("/").status, 200, "still serving")


@test()
def ip_with_xheaders():
    def ip(headers):
        return json.loads(get("/ip", headers).body)
    eq(ip([]), {"remote_ip": "127.0.0.1", "protocol": "http"}, "no headers")
    eq(ip([("X-Real-Ip", "10.1.2.3")])["remote_ip"], "10.1.2.3", "X-Real-Ip")
    eq(ip([("X-Forwarded-For", "1.1.1.1, 2.2.2.2 ")])["remote_ip"], "2.2.2.2", "X-F-F last")
    eq(ip([("X-Forwarded-For", "::1")])["remote_ip"], "::1", "IPv6")
    eq(ip([("X-Forwarded-For", "junk")])["remote_ip"], "127.0.0.1", "invalid X-F-F")
    eq(ip([("X-Real-Ip", "junk"), ("X-Forwarded-For", "3.3.3.3")])["remote_ip"], "127.0.0.1",
       "invalid X-Real-Ip hides X-F-F")
    eq(ip([("X-Real-Ip", "4.4.4.4"), ("X-Forwarded-For", "3.3.3.3")])["remote_ip"], "4.4.4.4",
       "X-Real-Ip first")
    eq(ip([("X-Scheme", "https")])["protocol"], "https", "X-Scheme")
    eq(ip([("X-Forwarded-Proto", "http, https")])["protocol"], "https", "X-F-P last")
    eq(ip([("X-Forwarded-Proto", "ftp")])["protocol"], "http", "X-F-P invalid")
    eq(ip([("X-Scheme", "junk"), ("X-Forwarded-Proto", "https")])["protocol"], "http",
       "X-Scheme first")


@test()
def long_polling():
    def waiters(channel):
        return json.loads(get("/longpoll/waiters?channel=" + channel).body)["waiters"]

    def wait_for_waiters(channel, n, within=3):
        deadline = time.monotonic() + within
        while waiters(channel) != n:
            check(time.monotonic() < deadline, "waiters of %s never became %d" % (channel, n))
            time.sleep(0.02)

    eq(json.loads(get("/longpoll?channel=t0&timeout_ms=100").body), {"messages": []}, "timeout")
    eq(waiters("t0"), 0, "no waiter after a timeout")
    pollers = [Raw() for _ in range(3)]
    other = Raw()
    try:
        for c in pollers:
            c.send(b"GET /longpoll?channel=lp1&timeout_ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n")
        other.send(b"GET /longpoll?channel=lp2&timeout_ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for_waiters("lp1", 3)
        wait_for_waiters("lp2", 1)
        r = request("POST", "/publish?channel=lp1", [], "héllo".encode())
        eq(json.loads(r.body), {"delivered": 3}, "delivered")
        for c in pollers:
            eq(json.loads(c.response().body), {"messages": ["héllo"]}, "message")
        eq(waiters("lp1"), 0, "no waiters after publishing")
        eq(waiters("lp2"), 1, "another channel unaffected")
        # A client that leaves is forgotten promptly.
        other.close()
        wait_for_waiters("lp2", 0, within=1.2)
    finally:
        for c in pollers:
            c.close()
        other.close()
    eq(json.loads(request("POST", "/publish?channel=none", [], b"x").body), {"delivered": 0},
       "nobody waiting")
    check_error_page(request("POST", "/publish", [], b"\xff"), 400)
    check_error_page(get("/longpoll?timeout_ms=60001"), 400)
    with Raw() as c:  # the default channel
        c.send(b"GET /longpoll?timeout_ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for_waiters("default", 1)
        eq(json.loads(request("POST", "/publish", [], b"d").body), {"delivered": 1}, "default")
        eq(json.loads(c.response().body), {"messages": ["d"]}, "default channel message")


# §5 static files


@test()
def static_full_responses():
    r = get("/static/hello.txt")
    eq(r.body, b"hello static\n", "hello.txt")
    check(r.get("content-type", "").startswith("text/plain"), "type %r" % r.get("content-type"))
    eq(r.get("accept-ranges"), "bytes", "Accept-Ranges")
    etag = r.get("etag")
    check(etag and re.match(r'^"[^"]+"$', etag), "strong ETag %r" % etag)
    eq(get("/static/hello.txt").get("etag"), etag, "stable ETag")
    check(IMF_FIXDATE.match(r.get("last-modified", "")), "Last-Modified %r" %
          r.get("last-modified"))
    eq(r.get("content-length"), "13", "Content-Length")
    r = get("/static/big.bin")
    eq((r.body, r.get("content-type", "").split(";")[0]), (BIG_BIN, "application/octet-stream"),
       "big.bin")
    check_error_page(get("/static/missing.txt"), 404)
    h = request("HEAD", "/static/big.bin")
    eq((h.status, h.body, h.get("content-length"), h.get("etag")),
       (200, b"", "102400", r.get("etag")), "HEAD")


@test()
def static_conditional_requests():
    r = get("/static/hello.txt")
    etag, modified = r.get("etag"), r.get("last-modified")
    r304 = get("/static/hello.txt", [("If-None-Match", etag)])
    eq((r304.status, r304.body, r304.get("etag")), (304, b"", etag), "If-None-Match")
    check(not r304.has("content-length") and not r304.has("transfer-encoding"), "304 framing")
    eq(get("/static/hello.txt", [("If-Modified-Since", modified)]).status, 304, "IMS equal")
    eq(get("/static/hello.txt", [("If-Modified-Since", "Sun, 06 Nov 2094 08:49:37 GMT")]).status,
       304, "IMS later")
    eq(get("/static/hello.txt", [("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")]).status,
       200, "IMS earlier")


@test()
def static_ranges():
    def rng(value):
        return get("/static/big.bin", [("Range", value)])
    for value, a, b in (("bytes=0-9", 0, 9), ("bytes=100-", 100, 102399),
                        ("bytes=-10", 102390, 102399), ("bytes=102000-999999", 102000, 102399)):
        r = rng(value)
        eq(r.status, 206, value)
        eq(r.get("content-range"), "bytes %d-%d/102400" % (a, b), "Content-Range of " + value)
        eq(r.get("content-length"), str(b - a + 1), "Content-Length of " + value)
        eq(r.body, BIG_BIN[a:b + 1], "body of " + value)
    r = rng("bytes=0-")
    check(r.status in (200, 206) and r.body == BIG_BIN, "whole-file range")
    r = rng("bytes=102400-")
    eq((r.status, r.get("content-range")), (416, "bytes */102400"), "range past the end")
    eq(r.reason, REASONS[416], "416 reason phrase")
    r = rng("items=0-5")
    eq((r.status, r.body), (200, BIG_BIN), "unknown unit")
    r = rng("bytes=abc")
    check(r.status in (200, 416), "unparsable range got %d" % r.status)


@test("rfc")
def static_if_range_mismatch_gets_everything():
    r = get("/static/big.bin", [("Range", "bytes=0-9"), ("If-Range", '"not-the-etag"')])
    eq((r.status, len(r.body)), (200, 102400), "If-Range mismatch")
    etag = get("/static/big.bin").get("etag")
    eq(get("/static/big.bin", [("Range", "bytes=0-9"), ("If-Range", etag)]).status, 206,
       "If-Range match")


@test()
def static_never_leaves_its_folder():
    targets = ["/static/../parity.hpp", "/static/%2e%2e/main.cpp", "/static/..%2fmain.cpp",
               "/static/%2e%2e%2fapp.py", "/static//etc/passwd", "/static/%2fetc/passwd",
               "/static/..\\main.cpp", "/static/..%5cmain.cpp", "/static/../../etc/passwd",
               "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/templates/../../x"]
    for target in targets:
        try:
            r = get(target)
        except (Failure, OSError):
            continue  # a closed connection is accepted
        check(r.status in (400, 403, 404), "%s got %d" % (target, r.status))
        check(b"root:" not in r.body and b"#include" not in r.body and b"import" not in r.body,
              "%s served a file outside static/" % target)


# §6 WebSocket


def ws_handshake_request(headers):
    lines = ["GET /ws/echo HTTP/1.1", "Host: 127.0.0.1:%d" % APP.port] + \
        ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ws_headers(key="dGhlIHNhbXBsZSBub25jZQ==", **extra):
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
               ("Sec-WebSocket-Version", "13")]
    for name, value in extra.items():
        name = name.replace("_", "-")
        headers = [h for h in headers if h[0].lower() != name.lower()]
        if value is not None:
            headers.append((name, value))
    return headers


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise Failure("closed during the handshake: %r" % data)
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, rest


class WsRaw:
    """A raw WebSocket client for framing checks and protocol violations."""

    def __init__(self, extensions=None):
        self.sock = socket.create_connection(("127.0.0.1", APP.port), timeout=IO_TIMEOUT)
        extra = {"Sec-WebSocket-Extensions": extensions} if extensions else {}
        self.sock.sendall(ws_handshake_request(ws_headers(**extra)))
        status, self.headers, self.buffer = read_head(self.sock)
        eq(status, 101, "handshake status")

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True):
        first = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", first, (0x80 if mask else 0) | n)
        elif n < 65536:
            head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, n)
        else:
            head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
                (int.from_bytes(payload, "big") ^ int.from_bytes((key * (n // 4 + 1))[:n],
                                                                  "big")).to_bytes(n, "big")
            head += key
        self.sock.sendall(head + payload)

    def _need(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk

    def read_frame(self):
        """(fin, rsv, opcode, payload, header length) of the next frame; EOFError on close."""
        self._need(2)
        b0, b1 = self.buffer[0], self.buffer[1]
        check(not b1 & 0x80, "a masked server frame")
        n = b1 & 0x7f
        pos = 2
        if n == 126:
            self._need(4)
            n = struct.unpack("!H", self.buffer[2:4])[0]
            check(n >= 126, "non-minimal 16-bit length")
            pos = 4
        elif n == 127:
            self._need(10)
            n = struct.unpack("!Q", self.buffer[2:10])[0]
            check(n >= 65536, "non-minimal 64-bit length")
            pos = 10
        self._need(pos + n)
        payload = self.buffer[pos:pos + n]
        self.buffer = self.buffer[pos + n:]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xf, payload, pos

    def expect_failure(self, what):
        """The server fails the connection: at most a close frame (1002/1003/1007), then TCP
        closes; never data."""
        try:
            while True:
                fin, rsv, opcode, payload, _ = self.read_frame()
                if opcode == 8:
                    if len(payload) >= 2:
                        code = struct.unpack("!H", payload[:2])[0]
                        check(code in (1002, 1003, 1007), "%s: close code %d" % (what, code))
                    break
                raise Failure("%s: the server answered with opcode %d" % (what, opcode))
            self.sock.settimeout(IO_TIMEOUT)
            while self.sock.recv(65536):
                pass
        except (EOFError, ConnectionResetError):
            pass
        except socket.timeout:
            raise Failure("%s: the connection stayed open" % what)


@test()
def websocket_handshake():
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", APP.port), timeout=IO_TIMEOUT) as s:
        s.sendall(ws_handshake_request(ws_headers(key)))
        status, headers, _ = read_head(s)
    eq(status, 101, "status")
    eq(headers.get("upgrade", [""])[0].lower(), "websocket", "Upgrade")
    check("content-length" not in headers and "transfer-encoding" not in headers,
          "a 101 with Content-Length or Transfer-Encoding")
    check("upgrade" in headers.get("connection", [""])[0].lower(), "Connection")
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    eq(headers.get("sec-websocket-accept"), [accept], "Sec-WebSocket-Accept")
    check("sec-websocket-extensions" not in headers, "an extension that was not offered")
    check("sec-websocket-protocol" not in headers, "a subprotocol was selected")
    refused = [
        (ws_headers(Upgrade=None), 400), (ws_headers(Upgrade="h2c"), 400),
        (ws_headers(Connection="keep-alive"), 400), (ws_headers(Sec_WebSocket_Key=None), 400),
        (ws_headers(Origin="http://evil.example"), 403),
    ]
    for headers_, code in refused:
        with socket.create_connection(("127.0.0.1", APP.port), timeout=IO_TIMEOUT) as s:
            s.sendall(ws_handshake_request(headers_))
            status, _, _ = read_head(s)
        eq(status, code, "refused handshake %r" % headers_)
    with socket.create_connection(("127.0.0.1", APP.port), timeout=IO_TIMEOUT) as s:
        s.sendall(ws_handshake_request(ws_headers(Sec_WebSocket_Version="12")))
        status, headers, _ = read_head(s)
    eq(status, 426, "version 12")
    check("13" in headers.get("sec-websocket-version", [""])[0], "426 without version 13")
    for version in ("7", "8"):  # Tornado also speaks these drafts; 426 is as good
        with socket.create_connection(("127.0.0.1", APP.port), timeout=IO_TIMEOUT) as s:
            s.sendall(ws_handshake_request(ws_headers(Sec_WebSocket_Version=version)))
            status, headers, _ = read_head(s)
        check(status in (101, 426), "version %s got %d" % (version, status))
    for origin in ("http://127.0.0.1:%d" % APP.port, "HTTP://127.0.0.1:%d" % APP.port):
        with socket.create_connection(("127.0.0.1", APP.port), timeout=IO_TIMEOUT) as s:
            s.sendall(ws_handshake_request(ws_headers(Origin=origin)))
            status, _, _ = read_head(s)
        eq(status, 101, "same origin %s" % origin)
    with socket.create_connection(("127.0.0.1", APP.port), timeout=IO_TIMEOUT) as s:
        s.sendall(ws_handshake_request(ws_headers(
            Upgrade="WebSocket", Connection="keep-alive, Upgrade")))
        eq(read_head(s)[0], 101, "case-insensitive Upgrade and a Connection list")


def run_async(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 30))


@test()
def websocket_echo():
    async def go():
        url = "ws://127.0.0.1:%d/ws/echo" % APP.port
        async with websockets.connect(url, max_size=None, compression=None) as ws:
            for message in ("hello", "", b"\x00\x01bin", b"", "é" * 1000,
                            os.urandom(1 << 20), "t" * (1 << 20)):
                await ws.send(message)
                eq(await ws.recv(), message, "echo of %r" % message[:20])
            for i in range(20):
                await ws.send("m%d" % i)
            eq([await ws.recv() for _ in range(20)], ["m%d" % i for i in range(20)], "order")
            pong = await ws.ping(b"data")
            await asyncio.wait_for(pong, 5)
            await ws.send("close")
            with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            eq((ws.close_code, ws.close_reason), (1000, "bye"), "close after 'close'")
        async with websockets.connect(url, max_size=None) as ws:
            await ws.close(4321, "done")
            eq(ws.close_code, 4321, "the server echoes the close code")
        async with websockets.connect(url, max_size=None, compression=None) as ws:
            # The server may close while the message is still being sent.
            with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                await ws.send(b"x" * ((10 << 20) + 1))
                await asyncio.wait_for(ws.recv(), 10)
            eq(ws.close_code, 1009, "too big")
    run_async(go())


@test()
def websocket_permessage_deflate():
    ws = WsRaw("permessage-deflate; client_max_window_bits")
    try:
        ext = ",".join(ws.headers.get("sec-websocket-extensions", []))
        check("permessage-deflate" in ext, "permessage-deflate not accepted: %r" % ext)
        params = [p.strip() for p in ext.split(";")]
        check("client_max_window_bits" not in params, "valueless client_max_window_bits echoed")
        compressor = zlib.compressobj(wbits=-15)
        text = ("compress me " * 50).encode()
        data = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
        ws.send_frame(1, data[:-4], rsv=4)
        fin, rsv, opcode, payload, _ = ws.read_frame()
        eq(opcode, 1, "opcode")
        if rsv & 4:
            payload = zlib.decompressobj(wbits=-15).decompress(payload + b"\x00\x00\xff\xff")
        eq(payload, text, "compressed echo")
    finally:
        ws.close()

    async def go():
        url = "ws://127.0.0.1:%d/ws/echo" % APP.port
        async with websockets.connect(url) as client:  # offers permessage-deflate
            for message in ("abc" * 1000, b"\x01" * 5000, "small"):
                await client.send(message)
                eq(await client.recv(), message, "deflated echo")
    run_async(go())


@test()
def websocket_frames_and_control():
    ws = WsRaw()
    try:
        for size in (0, 125, 126, 65535, 65536, 70000):
            ws.send_frame(2, b"z" * size)
            fin, rsv, opcode, payload, hlen = ws.read_frame()
            eq((fin, opcode, len(payload)), (True, 2, size), "echo of %d bytes" % size)
            eq(hlen, 2 if size < 126 else 4 if size < 65536 else 10, "minimal length")
        ws.send_frame(1, b"fra", fin=False)
        ws.send_frame(9, b"pp")  # a ping between fragments
        ws.send_frame(0, b"gm", fin=False)
        ws.send_frame(0, b"ent", fin=True)
        frames = [ws.read_frame() for _ in range(2)]
        eq(frames[0][2:4], (10, b"pp"), "pong with the ping's payload")
        eq(frames[1][2:4], (1, b"fragment"), "reassembled message")
        ws.send_frame(8, struct.pack("!H", 1000) + b"bye")
        fin, rsv, opcode, payload, _ = ws.read_frame()
        eq((opcode, payload[:2]), (8, struct.pack("!H", 1000)), "close echoed")
        ws.sock.settimeout(IO_TIMEOUT)
        with contextlib.suppress(ConnectionResetError):
            eq(ws.sock.recv(10), b"", "TCP closed after the close handshake")
    finally:
        ws.close()


@test()
def websocket_violations_fail_the_connection():
    cases = [
        ("reserved bit", lambda w: w.send_frame(1, b"x", rsv=4)),
        ("reserved bit 2", lambda w: w.send_frame(1, b"x", rsv=2)),
        ("unknown opcode", lambda w: w.send_frame(3, b"x")),
        ("unknown control opcode", lambda w: w.send_frame(0xb, b"x")),
        ("control frame over 125", lambda w: w.send_frame(9, b"p" * 126)),
        ("fragmented control frame", lambda w: w.send_frame(9, b"p", fin=False)),
        ("continuation without start", lambda w: w.send_frame(0, b"x")),
        ("data inside a fragmented message",
         lambda w: (w.send_frame(1, b"a", fin=False), w.send_frame(1, b"b"))),
        ("invalid UTF-8", lambda w: w.send_frame(1, b"\xff\xfe")),
        ("invalid UTF-8 across fragments",
         lambda w: (w.send_frame(1, b"\xe2\x82", fin=False), w.send_frame(0, b"A"))),
    ]
    if not REFERENCE:
        cases.append(("unmasked frame", lambda w: w.send_frame(1, b"x", mask=False)))
    for what, act in cases:
        ws = WsRaw()
        try:
            act(ws)
            ws.expect_failure(what)
        finally:
            ws.close()


# §7 HTTP/1.1 conformance


def head_bytes(target="/json", extra=b""):
    return b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


@test()
def persistent_connections():
    with Raw() as c:
        for _ in range(3):
            c.send(head_bytes())
            eq(c.response().status, 200, "keep-alive")
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        eq(c.response().status, 200, "Connection: close")
        check(c.closes(), "not closed after Connection: close")
    with Raw() as c:
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        data = c.read_all()
        check(data.startswith(b"HTTP/1.") and data.endswith(b"Hello, world"), "HTTP/1.0")
    with Raw() as c:
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.response()
        eq(r.status, 200, "HTTP/1.0 keep-alive")
        if "keep-alive" in r.get("connection", "").lower():
            c.send(b"GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            eq(c.response().status, 200, "second HTTP/1.0 request")
        else:
            check(c.closes(), "HTTP/1.0 without keep-alive was not closed")


@test()
def pipelining_answers_in_order():
    batch = (b"GET /sleep?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n"
             b"HEAD /json HTTP/1.1\r\nHost: x\r\n\r\n"
             b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
             b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"2\r\nde\r\n0\r\n\r\n"
             b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    with Raw() as c:
        c.send(batch)
        bodies = [c.response("GET").body, c.response("HEAD").body, c.response("POST").body,
                  c.response("POST").body, c.response("GET").body]
    eq(bodies, [b"slept 200", b"", b"abc", b"de", b"Hello, World!"], "pipelined responses")


@test()
def expect_100_continue():
    with Raw() as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
               b"Expect: 100-continue\r\n\r\n")
        c.sock.settimeout(IO_TIMEOUT)
        first = c.sock.recv(65536)
        check(first.startswith(b"HTTP/1.1 100"), "no interim 100: %r" % first[:60])
        c.pending = first
        c.send(b"hello")
        r = c.response("POST")
        eq((r.status, r.body, r.informational), (200, b"hello", [100]), "after 100")


@test()
def chunked_request_bodies():
    for te, body in (("chunked", b"a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n"),
                     ("Chunked", b"3\r\nabc\r\n0\r\n\r\n")):
        r = request("POST", "/echo", [("Transfer-Encoding", te)], body)
        eq(r.status, 200, "Transfer-Encoding: %s" % te)
    r = request("POST", "/echo", [("Transfer-Encoding", "chunked")],
                b"a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n")
    eq(r.body, b"0123456789abcdefghij", "hex sizes in either case")


@test("rfc")
def chunk_extensions_and_trailers():
    r = request("POST", "/echo", [("Transfer-Encoding", "chunked")],
                b"5;foo=bar\r\nhello\r\n0\r\n\r\n")
    eq((r.status, r.body), (200, b"hello"), "chunk extension")
    r = request("POST", "/echo", [("Transfer-Encoding", "chunked")],
                b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n")
    eq((r.status, r.body), (200, b"hello"), "trailer")


@test()
def get_with_a_body_and_odd_request_lines():
    with Raw() as c:
        c.send(b"GET /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
               b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        eq(c.response().status, 200, "GET with a body")
        eq(c.response().body, b"Hello, World!", "the next request")
    with Raw() as c:
        c.send(b"\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        eq(c.response().body, b"Hello, World!", "a CRLF before the request line")
    data = raw_exchange(b"GET /plaintext HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(data.startswith(b"HTTP/1.1 200"), "HTTP/1.2: %r" % data[:40])
    data = raw_exchange(b"GET /plaintext HTTP/1.0\r\n\r\n")
    check(data.startswith(b"HTTP/1.") and b" 200 " in data[:15], "HTTP/1.0 without Host")
    r = request("GET", "/json", [("Upgrade", "websocket"), ("Connection", "Upgrade, close")])
    eq(r.status, 200, "Upgrade on a normal route")
    r = get("/args?x=" + "a" * 7990)
    eq((r.status, len(json.loads(r.body)["x"][0])), (200, 7990), "8000-byte request-target")
    r = get("/headers", [("X-Big", "v" * 8192)])
    eq(json.loads(r.body)["x-big"], ["v" * 8192], "8 KiB header value")


def rejected(data, allowed, what, must_close=True):
    """Sends `data`: the answer must be one of `allowed` statuses (or a bare close)."""
    out = raw_exchange(data, must_close=must_close)
    codes = statuses(out)
    check(out == b"" or (codes and codes[0] in allowed),
          "%s: expected %s or a close, got %r" % (what, allowed, out[:120]))
    if must_close:
        check(len(codes) <= 1, "%s: more than one response (smuggling?): %r" % (what, out[:300]))
    return codes


@test()
def malformed_request_lines():
    for line in (b"GARBAGE", b"GET /", b"GET / HTTP/1.1 extra", b" GET / HTTP/1.1",
                 b"GET / HTTP/1.x", b"GET / HTTP/11", b"GET  / HTTP/1.1"):
        rejected(line + b"\r\nHost: x\r\n\r\n", [400], repr(line))
    for line in (b"GET / HTTP/2.0", b"GET / HTTP/3.0", b"GET / http/1.1", b"GET / HTTP/1"):
        rejected(line + b"\r\nHost: x\r\n\r\n", [400, 505], repr(line))
    out = raw_exchange(b"GET /\r\n")
    check(out == b"" or out.startswith(b"HTTP/1.1 4") or out.startswith(b"HTTP/1.1 5"),
          "HTTP/0.9 got %r" % out[:60])
    out = raw_exchange(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    check(out == b"" or statuses(out)[:1] in ([400], [505]), "HTTP/2 preface got %r" % out[:60])


@test()
def nul_and_oversized_heads():
    out = raw_exchange(b"GET /a\x00b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(out == b"" or statuses(out)[:1] in ([400], [404]), "NUL target: %r" % out[:60])
    rejected(b"GET /" + b"a" * (65 << 10) + b" HTTP/1.1\r\nHost: x\r\n\r\n", [400, 414, 431],
             "long target")
    big = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
    rejected(b"GET / HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n", [400, 431], "big header section")


@test()
def malformed_header_lines():
    rejected(b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", [400], "no colon")
    out = raw_exchange(b"GET /headers HTTP/1.1\r\n Leading: ws\r\nHost: x\r\n"
                       b"Connection: close\r\n\r\n")
    codes = statuses(out)
    check(codes[:1] in ([400], [200]) or out == b"", "whitespace before the first header")
    if codes[:1] == [200]:
        check(b"leading" not in out.split(b"\r\n\r\n", 1)[1].lower(), "that line was used")
    out = raw_exchange(b"GET /headers HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n"
                       b"Connection: close\r\n\r\n")
    codes = statuses(out)
    check(codes[:1] == [400] or out == b"" or
          (codes[:1] == [200] and b'"x-fold":["a b"]' in out.replace(b" ", b"").replace(
              b'"ab"', b'"a b"')), "obs-fold: %r" % out[-200:])
    out = raw_exchange(b"GET /plaintext HTTP/1.1\nHost: x\nConnection: close\n\n")
    check(out == b"" or statuses(out)[:1] in ([200], [400]), "bare LF: %r" % out[:60])


@test("rfc")
def rfc_header_rules():
    rejected(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", [400], "HTTP/1.1 without Host")
    rejected(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", [400], "two Host lines")
    rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello", [400],
             "space before the colon")
    for bad in (b"X-A: a\x00b", b"X-A: a\rb"):
        out = raw_exchange(b"GET /headers HTTP/1.1\r\nHost: x\r\n" + bad +
                           b"\r\nConnection: close\r\n\r\n")
        codes = statuses(out)
        check(out == b"" or codes[:1] == [400] or
              (codes[:1] == [200] and b"\\u0000" not in out and b"\\r" not in out),
              "%r reached the application" % bad)
    r = request("GET", "http://127.0.0.1:%d/json" % APP.port)
    eq(r.status, 200, "absolute-form request-target")


@test()
def content_length_rules():
    for cl in (b"0x5", b"abc", b"", b"5 5", b"5.0", b"5;"):
        rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + cl +
                 b"\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n", [400], "Content-Length %r" % cl)
    rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
             b"hello!", [400], "differing Content-Length")
    rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
             [400, 413], "overflowing Content-Length")
    for same in (b"Content-Length: 5, 5\r\n", b"Content-Length: 5\r\nContent-Length: 5\r\n"):
        out = raw_exchange(b"POST /echo HTTP/1.1\r\nHost: x\r\n" + same +
                           b"Connection: close\r\n\r\nhello")
        codes = statuses(out)
        check(out == b"" or codes[:1] == [400] or (codes[:1] == [200] and
                                                   out.endswith(b"\r\n\r\nhello")),
              "repeated Content-Length: %r" % out[:100])
    rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 104857601\r\n\r\n", [400, 413],
             "over the body limit")


@test("rfc")
def content_length_signs():
    for cl in (b"+5", b"-1"):
        rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + cl +
                 b"\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n", [400], "Content-Length %r" % cl)


@test()
def content_length_and_transfer_encoding():
    out = raw_exchange(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                       b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    codes = statuses(out)
    check(codes in ([], [400], [200]), "CL+TE: %r" % out[:200])
    check(b"Hello, World!" not in out, "the bytes after a CL+TE request were answered")


@test()
def malformed_chunked_framing():
    for body in (b"zz\r\nhello\r\n0\r\n\r\n", b"\r\nhello\r\n0\r\n\r\n",
                 b"5\r\nhelloXX0\r\n\r\n", b"ffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"):
        rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
                 b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", [400, 413], "chunks %r" % body)
    eq(get("/").status, 200, "healthy after malformed chunks")


@test("rfc")
def rfc_chunk_and_coding_rules():
    # Tornado 6.2 spins forever on a negative chunk size (SPEC §8.12).
    rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"-5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", [400], "chunk size -5")
    rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0x5\r\nhello\r\n0\r\n\r\n", [400], "chunk size 0x5")
    for te, allowed in ((b"gzip, chunked", [400, 501]), (b"chunked, gzip", [400, 501]),
                        (b"chunked, chunked", [400, 501])):
        rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + b"\r\n\r\n"
                 b"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", allowed,
                 "Transfer-Encoding %r" % te)


@test()
def abandoned_and_garbage_connections_leave_it_healthy():
    for data in (b"GET / HTTP/1.1\r\nHo", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n"
                 b"\r\nabc", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),
                 b"\x00" * 100):
        with Raw() as c:
            c.send(data)
    eq(get("/").status, 200, "healthy")
    check(APP.alive(), "the app died")


# --- Running -----------------------------------------------------------------------------------


def main(argv):
    global APP, REFERENCE
    args = argv[1:]
    filters = []
    while "-k" in args:
        i = args.index("-k")
        filters.append(args[i + 1])
        del args[i:i + 2]
    workdir = tempfile.mkdtemp(prefix="parity_test_")
    if args and args[0] == "--against-reference":
        REFERENCE = True
        source = args[1] if len(args) > 1 else DEFAULT_REFERENCE
        copy = os.path.join(workdir, "reference")
        # The reference writes static/big.bin beside itself: run a writable copy.
        shutil.copytree(os.path.dirname(os.path.abspath(source)), copy)
        for root, dirs, files in os.walk(copy):
            os.chmod(root, 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        command = ["/usr/bin/python3", os.path.join(copy, os.path.basename(source))]
    elif len(args) == 1:
        command = [os.path.abspath(args[0])]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    started = time.monotonic()
    passed, failed, skipped = [], [], []
    try:
        APP = App(command, workdir)
        for name, fn, tags in TESTS:
            if filters and not any(f in name for f in filters):
                continue
            if REFERENCE and "rfc" in tags:
                skipped.append(name)
                continue
            if time.monotonic() - started > TOTAL_DEADLINE:
                failed.append(name)
                print("FAIL %s: out of time" % name)
                continue
            t0 = time.monotonic()
            try:
                fn()
                passed.append(name)
                print("ok   %s (%.2fs)" % (name, time.monotonic() - t0))
            except Exception as e:  # every failure is reported, the run goes on
                failed.append(name)
                detail = str(e) if isinstance(e, Failure) else traceback.format_exc()
                print("FAIL %s: %s" % (name, detail))
            if not APP.alive():
                print("FAIL the app died; its log:\n" + APP.tail())
                failed.append("app alive")
                break
        try:
            APP.stop()
            if not REFERENCE:
                eq(APP.proc.returncode, 0, "exit status after SIGTERM")
            report = re.search(r"(ERROR: \w+Sanitizer|runtime error:).*", APP.text())
            check(not report, "sanitizer report: %s" % (report and report.group(0)))
            print("ok   exits_on_sigterm")
        except Failure as e:
            failed.append("exits_on_sigterm")
            print("FAIL exits_on_sigterm: %s" % e)
    except Failure as e:
        print("FAIL start: %s" % e)
        failed.append("start")
    finally:
        if APP is not None and APP.proc.poll() is None:
            os.killpg(APP.proc.pid, signal.SIGKILL)
        if failed and APP is not None:
            print("--- app log (tail) ---\n" + APP.tail())
        shutil.rmtree(workdir, ignore_errors=True)
    print("%d passed, %d failed, %d skipped (rfc-only against the reference) in %.1f s" %
          (len(passed), len(failed), len(skipped), time.monotonic() - started))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
