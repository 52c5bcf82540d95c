#!/usr/bin/python3
"""End-to-end test of the websocket chat demo.

Usage: websocket_test.py clients|chromium PROGRAM

Starts PROGRAM on a free port, then:
  clients   checks that it finds its templates beside itself first and that a bad --root is
            refused, then drives it with python3-websockets clients and urllib: a message is
            broadcast to every open socket as {id, body, html} with the body escaped, the page
            lists the cached messages (the last 200), a malformed message closes only its own
            socket (1011), and SIGTERM closes the sockets still open with 1001 and exits 0;
  chromium  drives the real page in headless Chromium over the DevTools protocol
            (../chromium_devtools.py): a message posted with the form in one page appears,
            escaped, in another, and a page opened later shows it from the cache.
Fails (never skips) when python3-websockets or Chromium is missing.
"""

import asyncio
import json
import os
import re
import signal
import sys
import time
import urllib.request

# demo_testing.py and chromium_devtools.py are in examples/; no __pycache__ is left in the sources.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import demo_testing  # noqa: E402
from demo_testing import Failure, check  # noqa: E402

TOTAL_SECONDS = 40
STEP_SECONDS = 10
UUID4 = demo_testing.UUID4

try:
    import websockets
    import websockets.exceptions
except ImportError:
    print("FAIL: python3-websockets is missing (apt-get install python3-websockets)",
          file=sys.stderr)
    sys.exit(1)


def start_server(program, workdir):
    """The demo on a free port, started from another folder so that it must find its templates
    by itself."""
    return demo_testing.Server(program, workdir, timeout=STEP_SECONDS)


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
    socket = await websockets.connect("ws://127.0.0.1:%d/chatsocket" % server.port,
                                      open_timeout=STEP_SECONDS)
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


MESSAGES_OF = 'Array.from(document.querySelectorAll("#inbox .message"), e => e.textContent)'


async def test_chromium(server):
    import chromium_devtools

    async with await chromium_devtools.Chromium.start(timeout=STEP_SECONDS) as chromium:
        connected = "typeof updater === 'object' && updater.socket !== null && " \
                    "updater.socket.readyState === WebSocket.OPEN"
        sender = await chromium.open_page(server.url)
        reader = await chromium.open_page(server.url)
        for page in (sender, reader):
            await page.wait_for(connected, "the page's socket opening")

        body = "<b>bold?</b> & co"
        cleared = await sender.evaluate("""(() => {
            const input = document.getElementById("message");
            input.value = %s;
            document.querySelector("#messageform input[type=submit]").click();
            return input.value;
        })()""" % json.dumps(body))
        check(cleared == "", "the form's text field was not cleared after posting")
        shows = "%s.filter(text => text === %s).length === 1" % (MESSAGES_OF, json.dumps(body))
        for page, name in ((reader, "the other page"), (sender, "the sending page")):
            await page.wait_for(shows, "the message showing once in " + name)
            injected = await page.evaluate('document.querySelectorAll("#inbox b").length')
            check(injected == 0, "the message's markup reached the DOM of " + name)

        # Typed into the other page and sent with Enter, as a user does.
        reply = "a reply"
        await reader.evaluate('document.getElementById("message").focus()')
        await reader.type_text(reply)
        await reader.press_enter()
        # Compact, as JSON.stringify writes it.
        expected = json.dumps([body, reply], separators=(",", ":"))
        both = "JSON.stringify(%s) === %s" % (MESSAGES_OF, json.dumps(expected))
        await sender.wait_for(both, "the reply showing in the first page")

        # A page opened now shows both from the cache the server rendered into it.
        later = await chromium.open_page(server.url)
        await later.wait_for(connected, "the later page's socket opening")
        await later.wait_for(both, "the cached messages showing in a later page")

        # The pages are still open: their sockets must not hold the server up.
        server.stop()


async def run(mode, server):
    if mode == "clients":
        await test_clients(server)
    else:
        await test_chromium(server)


def main():
    mode, program = demo_testing.mode_and_program(("clients", "chromium"), __doc__)
    with demo_testing.temporary_folder("websocket_test-") as workdir:
        if mode == "clients":
            # The templates beside the program win over the source folder's.
            demo_testing.check_finding_files(
                program, os.path.dirname(os.path.abspath(__file__)), workdir,
                lambda copy: start_server(copy, workdir), lambda url: get_page(url)[0],
                STEP_SECONDS)
        with start_server(program, workdir) as server:
            demo_testing.run_async(run(mode, server), TOTAL_SECONDS)
    print("ok: %s" % mode)


if __name__ == "__main__":
    sys.exit(demo_testing.run(main))
