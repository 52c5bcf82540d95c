#!/usr/bin/python3
"""End-to-end test of the websocket chat demo.

Usage: websocket_test.py clients|chromium PROGRAM

Starts PROGRAM on a free port, then:
  clients   checks that it finds its templates beside itself first and that a bad --root is
            refused, then drives it with python3-websockets clients and urllib: a message is
            broadcast to every open socket as {id, body, html} with the body escaped, the page
            lists the cached messages (the last 200), a malformed message closes only its own
            socket (1011), and SIGTERM closes the sockets still open with 1001 and exits 0;
  chromium  drives the real page in headless Chromium over the DevTools protocol: a message
            posted with the form in one page appears, escaped, in another, and a page opened
            later shows it from the cache.
Fails (never skips) when python3-websockets or Chromium is missing.
"""

import asyncio
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

TOTAL_SECONDS = 40
STEP_SECONDS = 10
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


try:
    import websockets
    import websockets.exceptions
except ImportError:
    print("FAIL: python3-websockets is missing (apt-get install python3-websockets)",
          file=sys.stderr)
    sys.exit(1)


class Server:
    """The demo on a free port of 127.0.0.1, its log kept in a file."""

    def __init__(self, program, workdir):
        self.log_path = os.path.join(workdir, "server.log")
        self.log = open(self.log_path, "wb")
        # Started from another folder, so that it must find its templates by itself.
        self.process = subprocess.Popen([program, "--port=0", "--address=127.0.0.1"],
                                        stdout=subprocess.PIPE, stderr=self.log, cwd=workdir)
        line = self._first_line()
        match = re.fullmatch(r"Listening on http://127\.0\.0\.1:(\d+)/", line)
        check(match, "unexpected first line from the server: %r" % line)
        self.port = int(match.group(1))
        self.url = "http://127.0.0.1:%d/" % self.port
        self.socket_url = "ws://127.0.0.1:%d/chatsocket" % self.port

    def _first_line(self):
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + STEP_SECONDS
        data = b""
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            check(remaining > 0 and selector.select(remaining), "the server printed no address")
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise Failure("the server closed its output before printing its address "
                              "(exit status %s)" % self.process.poll())
            data += chunk
        return data.split(b"\n", 1)[0].decode()

    def stop(self):
        """SIGTERM; the server must exit 0."""
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(STEP_SECONDS)
        except subprocess.TimeoutExpired:
            raise Failure("the server did not stop within %d s of SIGTERM" % STEP_SECONDS)
        check(status == 0, "the server exited with %d after SIGTERM" % status)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_text(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()


def get_page(url):
    with urllib.request.urlopen(url, timeout=STEP_SECONDS) as response:
        check(response.status == 200, "GET %s: %d" % (url, response.status))
        return response.read().decode(), response.headers


def expected_html(chat):
    return '<div class="message" id="m%s">%s</div>' % (chat["id"], chat["_escaped"])


async def receive_chat(socket, what):
    try:
        text = await asyncio.wait_for(socket.recv(), STEP_SECONDS)
    except asyncio.TimeoutError:
        raise Failure("no broadcast of %s within %d s" % (what, STEP_SECONDS))
    check(isinstance(text, str), "the broadcast of %s is not a text message" % what)
    chat = json.loads(text)
    check(set(chat) == {"id", "body", "html"}, "unexpected broadcast of %s: %r" % (what, chat))
    check(UUID4.match(chat["id"]), "the id %r is not a UUID" % chat["id"])
    return chat


async def post(socket, body, escaped, *readers):
    """Sends `body` from `socket`; every reader gets the same broadcast, with `escaped` as HTML."""
    await socket.send(json.dumps({"body": body, "_xsrf": "ignored"}))
    chats = [await receive_chat(reader, repr(body)) for reader in readers]
    chat = chats[0]
    for other in chats[1:]:
        check(other == chat, "two clients got different broadcasts: %r and %r" % (chat, other))
    check(chat["body"] == body, "the body came back as %r, not %r" % (chat["body"], body))
    chat["_escaped"] = escaped
    check(chat["html"].strip() == expected_html(chat),
          "html %r, expected %r" % (chat["html"], expected_html(chat)))
    return chat


async def connect(server):
    socket = await websockets.connect(server.socket_url, open_timeout=STEP_SECONDS)
    # The demo turns permessage-deflate on, as Tornado's does.
    names = [extension.name for extension in socket.extensions]
    check(names == ["permessage-deflate"], "negotiated extensions: %r" % names)
    return socket


async def closed_with(socket, code, what):
    try:
        await asyncio.wait_for(socket.wait_closed(), STEP_SECONDS)
    except asyncio.TimeoutError:
        raise Failure("%s: the socket was not closed within %d s" % (what, STEP_SECONDS))
    check(socket.close_code == code, "%s: close code %s, expected %d"
          % (what, socket.close_code, code))


async def test_clients(server):
    page, headers = get_page(server.url)
    check('id="messageform"' in page and 'name="_xsrf"' in page,
          "the page has no form with an _xsrf field:\n" + page)
    check("_xsrf=" in (headers.get("Set-Cookie") or ""), "the page set no _xsrf cookie")
    check('class="message"' not in page, "a fresh server's page shows messages")
    script = re.search(r'<script src="(/static/chat\.js\?v=[0-9a-f]+)"', page)
    check(script, "the page does not load static/chat.js with a version:\n" + page)
    source, _ = get_page(server.url.rstrip("/") + script.group(1))
    check("/chatsocket" in source, "static/chat.js was not served")

    one = await connect(server)
    # Its own message coming back shows that `one` is among the open sockets.
    first = await post(one, "see www.tornadoweb.org",
                       'see <a href="http://www.tornadoweb.org">www.tornadoweb.org</a>', one)
    two = await connect(server)
    # Sent by `two`, whose open() ran before its first message: both must get it.
    second = await post(two, "<b>&", "&lt;b&gt;&amp;", one, two)
    check(second["id"] != first["id"], "two messages got the same id")

    # A client coming later sees both in the page, oldest first.
    page, _ = get_page(server.url)
    positions = [page.find(expected_html(chat)) for chat in (first, second)]
    check(-1 not in positions and positions[0] < positions[1],
          "the page does not list the messages in order:\n" + page)

    # A malformed message closes its own socket (1011) and no other.
    bad = await connect(server)
    await bad.send("this is not JSON")
    await closed_with(bad, 1011, "after a malformed message")
    third = await post(one, "still here", "still here", one, two)

    # The cache keeps the last 200 messages.
    bodies = ["message %d" % i for i in range(205)]
    for body in bodies:
        await one.send(json.dumps({"body": body}))
    for reader in (one, two):
        for body in bodies:
            chat = await receive_chat(reader, repr(body))
            check(chat["body"] == body, "got %r where %r was expected" % (chat["body"], body))
    page, _ = get_page(server.url)
    shown = re.findall(r'<div class="message" id="m[^"]+">([^<]*)</div>', page)
    check(shown == bodies[-200:], "the page shows %d messages, from %r to %r"
          % (len(shown), shown[:1], shown[-1:]))
    check(third["id"] not in page, "a message older than the last 200 is still shown")

    # SIGTERM closes the sockets still open with 1001 (going away) before the server exits.
    await two.close()
    server.process.send_signal(signal.SIGTERM)
    await closed_with(one, 1001, "after SIGTERM")
    deadline = time.monotonic() + STEP_SECONDS
    while server.process.poll() is None:
        check(time.monotonic() < deadline, "the server did not exit within %d s of SIGTERM"
              % STEP_SECONDS)
        await asyncio.sleep(0.05)
    check(server.process.returncode == 0, "the server exited with %d after SIGTERM"
          % server.process.returncode)


class DevTools:
    """A connection to Chromium's DevTools protocol, with pages attached in flat mode."""

    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0
        self.pending = {}
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self):
        try:
            async for text in self.socket:
                message = json.loads(text)
                future = self.pending.pop(message.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(message)
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(Failure("the DevTools connection closed"))

    async def call(self, method, params=None, session=None):
        self.next_id += 1
        request = {"id": self.next_id, "method": method, "params": params or {}}
        if session is not None:
            request["sessionId"] = session
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.socket.send(json.dumps(request))
        try:
            reply = await asyncio.wait_for(future, STEP_SECONDS)
        except asyncio.TimeoutError:
            raise Failure("DevTools: no answer to %s within %d s" % (method, STEP_SECONDS))
        check("error" not in reply, "DevTools: %s failed: %r" % (method, reply.get("error")))
        return reply["result"]

    async def open_page(self, url):
        target = await self.call("Target.createTarget", {"url": url})
        attached = await self.call("Target.attachToTarget",
                                   {"targetId": target["targetId"], "flatten": True})
        return attached["sessionId"]

    async def evaluate(self, page, expression):
        result = await self.call("Runtime.evaluate",
                                 {"expression": expression, "returnByValue": True}, page)
        check("exceptionDetails" not in result,
              "the page threw evaluating %s: %r" % (expression, result.get("exceptionDetails")))
        return result["result"].get("value")

    async def wait_for(self, page, expression, what):
        """Polls `expression` in `page` until it is true."""
        deadline = time.monotonic() + STEP_SECONDS
        while True:
            try:
                if await self.evaluate(page, expression):
                    return
            except Failure:
                # The page may be between documents while it loads.
                pass
            check(time.monotonic() < deadline, "%s: not within %d s" % (what, STEP_SECONDS))
            await asyncio.sleep(0.05)


def start_chromium(workdir):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    check(os.access(chromium, os.X_OK), "Chromium is missing (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="profile-", dir=workdir)
    log = open(os.path.join(workdir, "chromium.log"), "wb")
    # A session of its own, so that the whole process group can be killed at the end.
    process = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--user-data-dir=" + profile, "--remote-debugging-port=0", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    return process, profile


async def devtools_address(process, profile):
    path = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + STEP_SECONDS
    while True:
        try:
            with open(path) as f:
                lines = f.read().split("\n")
            if len(lines) >= 2 and lines[0].isdigit() and lines[1].startswith("/devtools/"):
                return "ws://127.0.0.1:%s%s" % (lines[0], lines[1])
        except FileNotFoundError:
            pass
        check(process.poll() is None, "Chromium exited with %s" % process.returncode)
        check(time.monotonic() < deadline, "Chromium wrote no DevToolsActivePort file")
        await asyncio.sleep(0.05)


MESSAGES_OF = 'Array.from(document.querySelectorAll("#inbox .message"), e => e.textContent)'


async def test_chromium(server, workdir):
    process, profile = start_chromium(workdir)
    try:
        address = await devtools_address(process, profile)
        socket = await websockets.connect(address, open_timeout=STEP_SECONDS, max_size=None)
        devtools = DevTools(socket)
        connected = "typeof updater === 'object' && updater.socket !== null && " \
                    "updater.socket.readyState === WebSocket.OPEN"
        sender = await devtools.open_page(server.url)
        reader = await devtools.open_page(server.url)
        for page in (sender, reader):
            await devtools.wait_for(page, connected, "the page's socket opening")

        body = "<b>bold?</b> & co"
        cleared = await devtools.evaluate(sender, """(() => {
            const input = document.getElementById("message");
            input.value = %s;
            document.querySelector("#messageform input[type=submit]").click();
            return input.value;
        })()""" % json.dumps(body))
        check(cleared == "", "the form's text field was not cleared after posting")
        shows = "%s.filter(text => text === %s).length === 1" % (MESSAGES_OF, json.dumps(body))
        for page, name in ((reader, "the other page"), (sender, "the sending page")):
            await devtools.wait_for(page, shows, "the message showing once in " + name)
            injected = await devtools.evaluate(page, 'document.querySelectorAll("#inbox b").length')
            check(injected == 0, "the message's markup reached the DOM of " + name)

        # Typed into the other page and sent with Enter, as a user does.
        reply = "a reply"
        await devtools.evaluate(reader, 'document.getElementById("message").focus()')
        await devtools.call("Input.insertText", {"text": reply}, reader)
        for kind in ("keyDown", "keyUp"):
            await devtools.call("Input.dispatchKeyEvent",
                                {"type": kind, "key": "Enter", "code": "Enter", "text": "\r",
                                 "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13}, reader)
        # Compact, as JSON.stringify writes it.
        expected = json.dumps([body, reply], separators=(",", ":"))
        both = "JSON.stringify(%s) === %s" % (MESSAGES_OF, json.dumps(expected))
        await devtools.wait_for(sender, both, "the reply showing in the first page")

        # A page opened now shows both from the cache the server rendered into it.
        later = await devtools.open_page(server.url)
        await devtools.wait_for(later, connected, "the later page's socket opening")
        await devtools.wait_for(later, both, "the cached messages showing in a later page")

        # The pages are still open: their sockets must not hold the server up.
        server.stop()
        await socket.close()
        devtools.reader.cancel()
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def test_finding_files(program, workdir):
    """The templates beside the program win over the source folder's; --root overrides both."""
    result = subprocess.run([program, "--help"], capture_output=True, text=True,
                            timeout=STEP_SECONDS)
    check(result.returncode == 0 and "--root=" in result.stdout,
          "--help does not list --root:\n" + result.stdout + result.stderr)
    missing = os.path.join(workdir, "missing")
    result = subprocess.run([program, "--port=0", "--root=" + missing], capture_output=True,
                            text=True, timeout=STEP_SECONDS)
    check(result.returncode == 1 and missing in result.stderr,
          "a --root without templates: status %d, %r" % (result.returncode, result.stderr))

    beside = os.path.join(workdir, "beside")
    source = os.path.dirname(os.path.abspath(__file__))
    shutil.copytree(os.path.join(source, "static"), os.path.join(beside, "static"))
    shutil.copytree(os.path.join(source, "templates"), os.path.join(beside, "templates"))
    with open(os.path.join(beside, "templates", "index.html"), "a") as f:
        f.write("<!-- the copy beside the program -->\n")
    copy = os.path.join(beside, os.path.basename(program))
    shutil.copy2(program, copy)
    server = Server(copy, workdir)
    try:
        page, _ = get_page(server.url)
        check("the copy beside the program" in page,
              "the program did not use the templates beside it:\n" + page)
        server.stop()
    finally:
        server.kill()


async def run(mode, server, workdir):
    if mode == "clients":
        await test_clients(server)
    else:
        await test_chromium(server, workdir)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("clients", "chromium"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, program = sys.argv[1], os.path.abspath(sys.argv[2])
    workdir = tempfile.mkdtemp(prefix="websocket_test-")
    server = None
    try:
        if mode == "clients":
            test_finding_files(program, workdir)
        server = Server(program, workdir)
        asyncio.run(asyncio.wait_for(run(mode, server, workdir), TOTAL_SECONDS))
        print("ok: %s" % mode)
        return 0
    except (Failure, asyncio.TimeoutError, OSError, subprocess.SubprocessError,
            websockets.exceptions.WebSocketException) as error:
        message = str(error) or "the test did not finish within %d s" % TOTAL_SECONDS
        print("FAIL: %s: %s" % (type(error).__name__, message), file=sys.stderr)
        if server is not None:
            print("--- server log ---\n" + server.log_text(), file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
