"""Headless Chromium driven over the DevTools protocol, for the examples' end-to-end tests.

    async with await Chromium.start() as chromium:
        page = await chromium.open_page("http://127.0.0.1:8888/")
        await page.wait_for("document.readyState === 'complete'", "the page loading")
        title = await page.evaluate("document.title")

Chromium runs headless with a fresh profile in a session of its own, and `close()` kills its
whole process group; leaving an `async with` block by an exception also prints the end of
Chromium's log to stderr. Every call has a deadline (`timeout`, in seconds) and fails with
DevToolsError when it passes, when Chromium is missing or exits, or when the page throws. Needs
Debian's chromium and python3-websockets; a missing one is an ImportError or a DevToolsError
that names the package, so that a test fails (never skips) with a clear message.
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

try:
    import websockets
except ImportError:
    raise ImportError("python3-websockets is missing (apt-get install python3-websockets)") \
        from None

DEFAULT_TIMEOUT = 10.0
# How much of Chromium's log a failing `async with` block prints.
LOG_TAIL = 5000

# Headless, without the sandbox (containers and root lack it), and without what would reach the
# network or slow the start: updates, sync, first-run dialogs.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--remote-debugging-port=0"]


class DevToolsError(Exception):
    """Chromium is missing, did not answer in time, or reported an error."""


class Chromium:
    """A headless Chromium process and the DevTools connection to it."""

    def __init__(self, process, profile, socket, timeout):
        self.process = process
        self.profile = profile
        self.timeout = timeout
        self._socket = socket
        self._next_id = 0
        self._pending = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, executable=None, timeout=DEFAULT_TIMEOUT):
        """Starts Chromium (`executable`, else `chromium` from PATH or /usr/bin/chromium) with a
        fresh profile and connects to it."""
        executable = executable or shutil.which("chromium") or "/usr/bin/chromium"
        if not os.access(executable, os.X_OK):
            raise DevToolsError("Chromium is missing (apt-get install chromium)")
        profile = tempfile.mkdtemp(prefix="chromium-profile-")
        log = open(os.path.join(profile, "chromium.log"), "wb")
        # A session of its own: its renderers and helpers all die with the process group.
        process = subprocess.Popen([executable, *FLAGS, "--user-data-dir=" + profile,
                                    "about:blank"], stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=log, start_new_session=True)
        log.close()
        try:
            address = await _devtools_address(process, profile, timeout)
            socket = await websockets.connect(address, open_timeout=timeout, max_size=None)
        except BaseException:
            _kill(process)
            shutil.rmtree(profile, ignore_errors=True)
            raise
        return cls(process, profile, socket, timeout)

    async def __aenter__(self):
        return self

    async def __aexit__(self, kind, error, trace):
        # What Chromium said often tells why a page misbehaved.
        if kind is not None and not issubclass(kind, KeyboardInterrupt):
            print("--- chromium log ---\n" + self.log()[-LOG_TAIL:], file=sys.stderr)
        await self.close()

    async def close(self):
        """Closes the connection, kills Chromium's process group and removes the profile."""
        self._reader.cancel()
        try:
            await asyncio.wait_for(self._socket.close(), 1)
        except (asyncio.TimeoutError, websockets.exceptions.WebSocketException, OSError):
            pass
        _kill(self.process)
        shutil.rmtree(self.profile, ignore_errors=True)

    def log(self):
        """What Chromium wrote to its stdout and stderr so far."""
        try:
            with open(os.path.join(self.profile, "chromium.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    async def call(self, method, params=None, session=None):
        """Sends DevTools command `method` (to page `session` if given) and returns its result."""
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            request["sessionId"] = session
        answer = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = answer
        await self._socket.send(json.dumps(request))
        try:
            reply = await asyncio.wait_for(answer, self.timeout)
        except asyncio.TimeoutError:
            raise DevToolsError("no answer to %s within %g s" % (method, self.timeout)) from None
        finally:
            self._pending.pop(request["id"], None)
        if "error" in reply:
            raise DevToolsError("%s failed: %s" % (method, reply["error"]))
        return reply["result"]

    async def open_page(self, url):
        """Opens `url` in a new tab and returns the Page, attached but maybe not loaded yet."""
        target = await self.call("Target.createTarget", {"url": url})
        # Flat mode: the page's commands go over this same connection, tagged by session.
        attached = await self.call("Target.attachToTarget",
                                   {"targetId": target["targetId"], "flatten": True})
        return Page(self, target["targetId"], attached["sessionId"])

    async def _read(self):
        try:
            async for text in self._socket:
                message = json.loads(text)
                answer = self._pending.get(message.get("id"))
                if answer is not None and not answer.done():
                    answer.set_result(message)
        except websockets.exceptions.WebSocketException:
            pass
        finally:
            for answer in self._pending.values():
                if not answer.done():
                    answer.set_exception(DevToolsError("the DevTools connection closed"))


class Page:
    """One tab of a Chromium, attached over its DevTools connection."""

    def __init__(self, chromium, target_id, session):
        self.chromium = chromium
        self.target_id = target_id
        self.session = session

    async def call(self, method, params=None):
        """Sends DevTools command `method` to this page and returns its result."""
        return await self.chromium.call(method, params, self.session)

    async def close(self):
        """Closes the tab, as a user closing it would (its connections are dropped)."""
        await self.chromium.call("Target.closeTarget", {"targetId": self.target_id})

    async def evaluate(self, expression):
        """The value of JavaScript `expression` in the page, a Promise's being awaited. Raises
        DevToolsError if it throws or its value cannot be returned as JSON."""
        result = await self.call("Runtime.evaluate", {"expression": expression,
                                                      "awaitPromise": True,
                                                      "returnByValue": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text")
            raise DevToolsError("the page threw evaluating %s: %s" % (expression, thrown))
        return result["result"].get("value")

    async def wait_for(self, expression, what, timeout=None):
        """Evaluates `expression` every 50 ms until it is truthy; DevToolsError naming `what`
        if it is not within `timeout` seconds (the Chromium's by default)."""
        timeout = self.chromium.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last_error = None
        while True:
            try:
                if await self.evaluate(expression):
                    return
                last_error = None
            except DevToolsError as error:
                # Between two documents while the page loads, the expression may throw.
                last_error = error
            if self.chromium.process.poll() is not None:
                raise DevToolsError("Chromium exited (%s) while waiting for %s"
                                    % (self.chromium.process.returncode, what))
            if time.monotonic() >= deadline:
                raise DevToolsError("%s: not within %g s%s" % (
                    what, timeout, " (last error: %s)" % last_error if last_error else ""))
            await asyncio.sleep(0.05)

    async def type_text(self, text):
        """Types `text` into the focused element, as a keyboard would (input events fire)."""
        await self.call("Input.insertText", {"text": text})

    async def press_enter(self):
        """Presses and releases Enter in the focused element."""
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent",
                            {"type": kind, "key": "Enter", "code": "Enter", "text": "\r",
                             "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13})


async def _devtools_address(process, profile, timeout):
    """The browser's DevTools WebSocket URL, from the DevToolsActivePort file in the profile
    (its port on the first line, its path on the second)."""
    path = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                lines = f.read().split("\n")
            if len(lines) >= 2 and lines[0].isdigit() and lines[1].startswith("/devtools/"):
                return "ws://127.0.0.1:%s%s" % (lines[0], lines[1])
        except FileNotFoundError:
            pass
        if process.poll() is not None:
            raise DevToolsError("Chromium exited with %s before listening" % process.returncode)
        if time.monotonic() >= deadline:
            raise DevToolsError("Chromium wrote no DevToolsActivePort within %g s" % timeout)
        await asyncio.sleep(0.05)


def _kill(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
