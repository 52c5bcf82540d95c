#!/usr/bin/python3
"""End-to-end test of the file_upload demo.

Usage: file_upload_test.py FILE_RECEIVER FILE_UPLOADER [--check-memory]

Starts the receiver on a free port with --max_body_size=32 MiB. With --check-memory (not under
sanitizers, whose allocators keep freed memory), checks that a streamed PUT of 24 MiB grows the
receiver's peak memory by less than half of that. Then uploads with the uploader a file of several
MiB, an empty file, one with a non-ASCII name and one with quotes in its name, by PUT and by
multipart POST, and checks the sizes, SHA-256 digests, names and types the server answered against
what Python computes; checks that an upload over the limit is refused with 413 (through the
uploader, and by hand before the body is sent); and that SIGTERM stops the server with status 0.
"""

import hashlib
import json
import os
import re
import socket
import subprocess
import sys

# demo_testing.py is in examples/; no __pycache__ is left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import demo_testing  # noqa: E402
from demo_testing import Failure, check  # noqa: E402

STEP_SECONDS = 15
MAX_BODY_SIZE = 32 << 20
STREAMED_SIZE = 24 << 20
LINE = re.compile(r'^(PUT|POST) (".*") \((.*)\): (\d+) bytes, sha256 ([0-9a-f]{64})$')


def upload(uploader, url, method, paths):
    """Runs the uploader; gives its exit status, its parsed lines and its stderr."""
    result = subprocess.run([uploader, "--url=" + url, "--method=" + method] + paths,
                            capture_output=True, timeout=STEP_SECONDS)
    lines = []
    for line in result.stdout.decode().splitlines():
        match = LINE.match(line)
        check(match, "unexpected line from the uploader: %r" % line)
        lines.append((match.group(1), json.loads(match.group(2)), match.group(3),
                      int(match.group(4)), match.group(5)))
    return result.returncode, lines, result.stderr.decode(errors="replace")


def expected(method, files):
    return [(method, name, content_type, len(data), hashlib.sha256(data).hexdigest())
            for name, content_type, data in files]


def raw_put_status(port, length):
    """Sends the head of a PUT with Content-Length `length` and Expect: 100-continue, and gives the
    status of the first response (a 100 or the final one), without sending the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=STEP_SECONDS) as connection:
        connection.sendall(("PUT /raw.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n"
                            "Expect: 100-continue\r\n\r\n" % length).encode())
        data = b""
        while b"\r\n" not in data:
            chunk = connection.recv(4096)
            check(chunk, "the server closed without answering the PUT head")
            data += chunk
        return int(data.split(b" ", 2)[1])


def peak_memory(pid):
    """The peak resident memory of process `pid`, in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise Failure("no VmHWM in /proc/%d/status" % pid)


def test_uploads(receiver, uploader, workdir, check_memory):
    files = [
        ("big.bin", "application/octet-stream", os.urandom(6 << 20 | 12345)),
        ("empty.txt", "text/plain", b""),
        ("r\u00e9sum\u00e9 \u65e5\u672c.txt", "text/plain", "d\u00e9j\u00e0 vu\n".encode()),
        ('say "hi".json', "application/json", b'{"hi": 1}\n'),
    ]
    paths = []
    for name, _, data in files:
        path = os.path.join(workdir, name)
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
    too_big = os.path.join(workdir, "too_big.bin")
    with open(too_big, "wb") as f:
        f.write(b"\0" * (MAX_BODY_SIZE + 1))

    with demo_testing.Server(receiver, workdir, "--max_body_size=%d" % MAX_BODY_SIZE,
                             timeout=STEP_SECONDS) as server:
        url, port = server.url, server.port

        # First, while the receiver has held no large body yet.
        if check_memory:
            streamed = os.path.join(workdir, "streamed.bin")
            with open(streamed, "wb") as f:
                f.write(os.urandom(1 << 20) * (STREAMED_SIZE >> 20))
            before = peak_memory(server.process.pid)
            status, lines, errors = upload(uploader, url, "PUT", [streamed])
            check(status == 0 and lines and lines[0][3] == STREAMED_SIZE,
                  "the streamed PUT failed (%d): %r %s" % (status, lines, errors))
            growth = peak_memory(server.process.pid) - before
            check(growth < STREAMED_SIZE // 2,
                  "a streamed PUT of %d bytes grew the receiver by %d bytes" %
                  (STREAMED_SIZE, growth))
            print("ok: a PUT of %d bytes grew the receiver by %d bytes" % (STREAMED_SIZE, growth))

        for method in ("PUT", "POST"):
            status, lines, errors = upload(uploader, url, method, paths)
            check(status == 0, "the %s upload failed (%d): %s" % (method, status, errors))
            check(lines == expected(method, files),
                  "%s answers differ:\n%r\n%r" % (method, lines, expected(method, files)))
            print("ok: %s of %d files, %d bytes" % (method, len(files),
                                                    sum(len(d) for _, _, d in files)))

        for method in ("PUT", "POST"):
            status, lines, errors = upload(uploader, url, method, [too_big])
            check(status == 1 and "413" in errors and not lines,
                  "a %s over the limit was not refused with 413: %d %r %s" %
                  (method, status, lines, errors))
        check(raw_put_status(port, MAX_BODY_SIZE + 1) == 413, "a raw PUT over the limit got no 413")
        check(raw_put_status(port, MAX_BODY_SIZE) == 100, "a raw PUT at the limit was refused")
        print("ok: uploads over %d bytes are refused with 413" % MAX_BODY_SIZE)

        server.stop()
        server_log = server.log_text()
        check('PUT "big.bin" "application/octet-stream" %d bytes' % len(files[0][2]) in server_log,
              "the server did not log the PUT: " + server_log)
        check("200 POST /post (127.0.0.1)" in server_log, "no access log line for the POST")


def main():
    check_memory = "--check-memory" in sys.argv[3:]
    receiver, uploader = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    for program, option in ((receiver, "--max-body-size="), (uploader, "--method=")):
        help_text = subprocess.run([program, "--help"], capture_output=True,
                                   timeout=STEP_SECONDS).stdout.decode()
        check(option in help_text, "%s --help does not list %s" % (program, option))
    bad = subprocess.run([uploader, "--method=GET", sys.argv[0]], capture_output=True,
                         timeout=STEP_SECONDS)
    check(bad.returncode == 2 and b"PUT or POST" in bad.stderr, "--method=GET was accepted")

    with demo_testing.temporary_folder("file_upload_test.") as workdir:
        test_uploads(receiver, uploader, workdir, check_memory)


if __name__ == "__main__":
    sys.exit(demo_testing.run(main))
