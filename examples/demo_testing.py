"""What the examples' end-to-end tests share: failing with a message, starting a demo on a free
port and stopping it, a temporary folder, and turning the outcome into an exit status.

    import demo_testing
    from demo_testing import check

    def main():
        with demo_testing.temporary_folder("hello_test-") as workdir:
            with demo_testing.Server(program, workdir, timeout=10) as server:
                check(fetch(server.url) == "Hello, world", "wrong greeting")
                server.stop()

    if __name__ == "__main__":
        sys.exit(demo_testing.run(main))

A demo prints "Listening on http://ADDR:PORT/" as its first line on stdout when given --port=0;
Server reads it with a deadline and keeps the demo's stderr (its log) in a file of the test's
folder, printed when the `with` block fails. The tests run as scripts from CTest and put this
folder on sys.path themselves. Needs nothing outside Python's standard library.
"""

import asyncio
import contextlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

# How much of a log a failing test prints: its end tells what went wrong.
LOG_TAIL = 20000
# A version 4 UUID in its canonical form, as the chat demos name their messages.
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Failure(Exception):
    """A check of the test failed; the message says which and how."""


class Usage(Exception):
    """The command line is wrong; the message is the usage to print."""


def mode_and_program(modes, usage):
    """The test's command line, MODE PROGRAM with MODE one of `modes`: (mode, the program's
    absolute path). Usage(usage) if it is not that."""
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        raise Usage(usage)
    return sys.argv[1], os.path.abspath(sys.argv[2])


def check(condition, message):
    """Raises Failure(message) unless `condition` is true."""
    if not condition:
        raise Failure(message)


def read_line(process, timeout, what):
    """The first line `process` prints on its stdout (a pipe), without its newline; Failure naming
    `what` if none comes within `timeout` seconds or the output ends before. What follows the line
    in the same read is dropped."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        check(remaining > 0 and selector.select(remaining),
              "%s printed no address within %g s" % (what, timeout))
        # Not process.stdout.read(): it would wait for more than is there.
        chunk = os.read(process.stdout.fileno(), 4096)
        check(chunk, "%s closed its output before printing its address (exit status %s): %r"
              % (what, process.poll(), data))
        data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace")


class Server:
    """A demo program serving on a free port of 127.0.0.1 (it is given --port=0 and
    --address=127.0.0.1 after `options`), started from `workdir` so that it must find its files
    by itself, its stderr kept in a log file there. `timeout` bounds the start and the stop;
    `name` is how failures call it; with `shutdown_seconds`, stop() also fails when SIGTERM took
    that long. Used as a context manager, it is killed at the end of the block and, when the
    block raised, the tail of its log goes to stderr."""

    def __init__(self, program, workdir, *options, timeout, name="the server",
                 shutdown_seconds=None):
        self.name = name
        self.timeout = timeout
        self.shutdown_seconds = shutdown_seconds
        descriptor, self.log_path = tempfile.mkstemp(prefix="server-", suffix=".log", dir=workdir)
        self.log = os.fdopen(descriptor, "wb")
        try:
            self.process = subprocess.Popen(
                [program, *options, "--port=0", "--address=127.0.0.1"], stdout=subprocess.PIPE,
                stderr=self.log, cwd=workdir)
        except OSError:
            self.log.close()
            raise
        try:
            line = read_line(self.process, timeout, name)
            match = re.fullmatch(r"Listening on (http://127\.0\.0\.1:(\d+)/)", line)
            check(match, "unexpected first line from %s: %r" % (name, line))
        except Exception:
            self.__exit__(*sys.exc_info())
            raise
        self.url = match.group(1)
        self.port = int(match.group(2))

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if kind is not None and not issubclass(kind, KeyboardInterrupt):
            print("--- log of %s ---\n%s" % (self.name, self.log_text()[-LOG_TAIL:]),
                  file=sys.stderr)
        self.kill()

    def log_text(self):
        """What the program wrote to stderr so far."""
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        """Sends SIGTERM and waits: Failure unless the program exits with status 0 within
        `timeout` (and `shutdown_seconds`, if given). Returns the seconds it took."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(self.timeout)
        except subprocess.TimeoutExpired:
            raise Failure("%s did not stop within %g s of SIGTERM" % (self.name, self.timeout)) \
                from None
        took = time.monotonic() - start
        check(status == 0, "%s exited with %d after SIGTERM" % (self.name, status))
        if self.shutdown_seconds is not None:
            check(took < self.shutdown_seconds,
                  "%s took %.1f s to stop after SIGTERM" % (self.name, took))
        return took

    def kill(self):
        """Kills the program if it still runs and closes the log; its text stays readable."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.log.close()


def check_finding_files(program, source, workdir, start, fetch, timeout):
    """For a demo that finds its templates/ and static/ beside itself, else in `source` (the
    folder of its sources): checks that copies beside the program win over those in `source`,
    and that a --root without them is refused. `start(copy)` starts a copy of the program as a
    Server; `fetch(url)` gives the text of a page."""
    result = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=timeout)
    check(result.returncode == 0 and "--root=" in result.stdout,
          "--help does not list --root:\n" + result.stdout + result.stderr)
    missing = os.path.join(workdir, "missing")
    result = subprocess.run([program, "--port=0", "--root=" + missing], capture_output=True,
                            text=True, timeout=timeout)
    check(result.returncode == 1 and missing in result.stderr,
          "a --root without templates: status %d, %r" % (result.returncode, result.stderr))

    beside = os.path.join(workdir, "beside")
    shutil.copytree(os.path.join(source, "static"), os.path.join(beside, "static"))
    shutil.copytree(os.path.join(source, "templates"), os.path.join(beside, "templates"))
    with open(os.path.join(beside, "templates", "index.html"), "a") as f:
        f.write("<!-- the copy beside the program -->\n")
    copy = os.path.join(beside, os.path.basename(program))
    shutil.copy2(program, copy)
    with start(copy) as server:
        page = fetch(server.url)
        check("the copy beside the program" in page,
              "the program did not use the templates beside it:\n" + page)
        server.stop()


@contextlib.contextmanager
def temporary_folder(prefix):
    """A new folder for the test's files, removed with everything in it at the end."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_async(coroutine, seconds):
    """Runs `coroutine` in a new event loop; Failure if it has not finished within `seconds`."""
    start = time.monotonic()
    try:
        return asyncio.run(asyncio.wait_for(coroutine, seconds))
    except asyncio.TimeoutError:
        if time.monotonic() - start < seconds:
            raise  # a timeout inside the test that it did not turn into a Failure
        raise Failure("the test did not finish within %g s" % seconds) from None


def run(main, *args):
    """Calls main(*args) and gives the exit status for sys.exit: what main returned (0 for None);
    2 after printing the usage if it raised Usage; or 1 after printing "FAIL: ..." to stderr when
    it raised anything else (a traceback too, unless it was a Failure, whose message says it
    all)."""
    try:
        status = main(*args)
    except Usage as usage:
        print(usage, file=sys.stderr)
        return 2
    except Failure as error:
        print("FAIL: %s" % error, file=sys.stderr)
        return 1
    except Exception as error:
        traceback.print_exc()
        print("FAIL: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        return 1
    return 0 if status is None else status
