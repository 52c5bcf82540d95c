#!/usr/bin/python3
"""End-to-end test of the long-polling chat demo.

Usage: chat_test.py http|chromium PROGRAM

Starts PROGRAM on a free port with --logging=debug, whose "waiters: N (why)" lines tell how many
long polls are waiting, then:
  http      checks that it finds its templates beside itself first and that a bad --root is
            refused, then drives it with python3-requests and raw sockets: posts without the
            XSRF token are refused (403); a long poll started before a post is answered with
            it; a cursor gets the messages after it, an unknown or evicted one all the cached
            ones, the newest one a wait; the cache keeps the last 200; a long poll whose client
            disconnects stops waiting; and SIGTERM answers the polls still waiting and exits 0
            within a few seconds;
  chromium  drives the real page in two headless Chromium tabs over the DevTools protocol
            (../chromium_devtools.py): a message posted with the form in one appears, escaped,
            in the other and vice versa, a tab opened later shows them from the cache, closing
            it ends its long poll, and SIGTERM with the tabs open stops the server promptly.
Fails (never skips) when python3-requests, python3-websockets or Chromium is missing.
"""

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import socket
import sys
import time

# demo_testing.py and chromium_devtools.py are in examples/; no __pycache__ is left in the sources.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import demo_testing  # noqa: E402
from demo_testing import Failure, check  # noqa: E402

TOTAL_SECONDS = 40
STEP_SECONDS = 10
# How long SIGTERM may take with long polls waiting: they must not hold the shutdown.
SHUTDOWN_SECONDS = 3
CACHE_SIZE = 200
UUID4 = demo_testing.UUID4
WAITERS = re.compile(r"waiters: (\d+) \(([^)]*)\)")


class Server(demo_testing.Server):
    """The demo on a free port of 127.0.0.1, started from another folder (so that it must find
    its templates by itself) with --logging=debug, which logs its waiting long polls; stop()
    fails if it takes SHUTDOWN_SECONDS."""

    def __init__(self, program, workdir):
        super().__init__(program, workdir, "--logging=debug", timeout=STEP_SECONDS,
                         shutdown_seconds=SHUTDOWN_SECONDS)

    def waiters(self):
        """The last (count, why) the server logged about its waiting long polls, or (0, None)."""
        found = WAITERS.findall(self.log_text())
        return (int(found[-1][0]), found[-1][1]) if found else (0, None)

    def wait_for_waiters(self, count, why=None):
        """Until the server logs that `count` long polls wait (for reason `why` if given)."""
        deadline = time.monotonic() + STEP_SECONDS
        while self.waiters()[0] != count or (why is not None and self.waiters()[1] != why):
            check(self.process.poll() is None, "the server exited with %s while waiting for "
                  "%d waiters" % (self.process.returncode, count))
            check(time.monotonic() < deadline, "the server did not get to %d waiting long polls "
                  "(%s) within %d s; last: %r" % (count, why, STEP_SECONDS, self.waiters()))
            time.sleep(0.02)


# --- http --------------------------------------------------------------------------------------


class Client:
    """A browser's session seen over HTTP: the _xsrf cookie the page set, and the chat's POSTs."""

    def __init__(self, requests, server):
        self.requests = requests
        self.server = server
        self.session = requests.Session()
        page = self.get_page()
        check('id="messageform"' in page and 'name="_xsrf"' in page,
              "the page has no form with an _xsrf field:\n" + page)
        self.token = self.session.cookies.get("_xsrf")
        check(self.token, "the page set no _xsrf cookie")

    def get_page(self):
        response = self.session.get(self.server.url, timeout=STEP_SECONDS)
        check(response.status_code == 200, "GET /: %d" % response.status_code)
        return response.text

    def shown(self):
        """The ids of the messages the page lists, in order."""
        return re.findall(r'<div class="message" id="m([^"]+)">', self.get_page())

    def post(self, path, fields, xsrf=True, **kwargs):
        if xsrf:
            fields = dict(fields, _xsrf=self.token)
        # Each call on its own (no shared session): several may run at once from threads.
        return self.requests.post(self.server.url + path.lstrip("/"), data=fields,
                                  cookies={"_xsrf": self.token}, timeout=STEP_SECONDS, **kwargs)

    def new_message(self, body):
        """Posts `body` as the page's script does; returns the message the server answers."""
        response = self.post("/a/message/new", {"body": body})
        check(response.status_code == 200, "posting %r: %d" % (body, response.status_code))
        check(response.headers["Content-Type"].startswith("application/json"),
              "posting %r answered %s" % (body, response.headers["Content-Type"]))
        message = response.json()
        check(set(message) == {"id", "body", "html"}, "unexpected answer %r" % message)
        check(UUID4.match(message["id"]), "the id %r is not a UUID" % message["id"])
        check(message["body"] == body, "the body came back as %r" % message["body"])
        return message

    def updates(self, cursor=None):
        """A long poll, to its end; returns the messages it answered."""
        fields = {} if cursor is None else {"cursor": cursor}
        response = self.post("/a/message/updates", fields)
        check(response.status_code == 200, "polling: %d %s" % (response.status_code,
                                                               response.text))
        answer = response.json()
        check(set(answer) == {"messages"}, "unexpected poll answer %r" % answer)
        return answer["messages"]

    def raw_poll(self, cursor):
        """A long poll sent on a socket of its own, which the caller reads or closes."""
        body = "cursor=%s&_xsrf=%s" % (cursor, self.token.replace("|", "%7C"))
        request = ("POST /a/message/updates HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Cookie: _xsrf=%s\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   "Content-Length: %d\r\n\r\n%s"
                   % (self.server.port, self.token, len(body), body))
        connection = socket.create_connection(("127.0.0.1", self.server.port), STEP_SECONDS)
        connection.sendall(request.encode())
        return connection


def read_response(connection):
    """Reads an HTTP response to its end (the server closes after it); (head, body)."""
    data = b""
    deadline = time.monotonic() + STEP_SECONDS
    while True:
        connection.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = connection.recv(65536)
        except socket.timeout:
            raise Failure("no complete answer within %d s, got %r" % (STEP_SECONDS, data))
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode(), body


def bodies(messages):
    return [message["body"] for message in messages]


def ids(messages):
    return [message["id"] for message in messages]


@contextlib.contextmanager
def thread_pool():
    """Threads for the long polls that wait; at the end, the ones still waiting are left to
    end with the server."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def test_http(program, workdir, requests):
    with Server(program, workdir) as server, thread_pool() as pool:
        client = Client(requests, server)
        page = client.get_page()
        check('class="message"' not in page, "a fresh server's page shows messages")
        script = re.search(r'<script src="(/static/chat\.js\?v=[0-9a-f]+)"', page)
        check(script, "the page does not load static/chat.js with a version:\n" + page)
        source = client.session.get(server.url.rstrip("/") + script.group(1),
                                    timeout=STEP_SECONDS).text
        check("/a/message/updates" in source, "static/chat.js was not served")

        # XSRF: every POST needs the token of the cookie.
        for path in ("/a/message/new", "/a/message/updates"):
            response = client.post(path, {"body": "forged"}, xsrf=False)
            check(response.status_code == 403, "POST %s without _xsrf: %d"
                  % (path, response.status_code))
            response = client.post(path, {"body": "forged", "_xsrf": "2|00|00|0"}, xsrf=False)
            check(response.status_code == 403, "POST %s with a wrong _xsrf: %d"
                  % (path, response.status_code))
        check(client.shown() == [], "a refused post reached the page")

        # A long poll started before the post is answered with the message after it.
        poll = pool.submit(client.updates)
        server.wait_for_waiters(1, "a long poll started waiting")
        check(not poll.done(), "a long poll was answered with nothing to say: %r"
              % (poll.done() and poll.result()))
        first = client.new_message("<b>bold</b> & www.tornadoweb.org")
        check(first["html"].strip() == '<div class="message" id="m%s">&lt;b&gt;bold&lt;/b&gt; '
              '&amp; <a href="http://www.tornadoweb.org">www.tornadoweb.org</a></div>'
              % first["id"], "the message's html is %r" % first["html"])
        check(poll.result(STEP_SECONDS) == [first], "the waiting poll got %r" % poll.result())
        server.wait_for_waiters(0, "woken by a message")

        # A plain form post (no script) is redirected to `next`, a path of this site only.
        response = client.post("/a/message/new", {"body": "from a form", "next": "/"},
                               allow_redirects=False)
        check(response.status_code == 302 and response.headers.get("Location") == "/",
              "a form post with next=/: %d to %r" % (response.status_code,
                                                     response.headers.get("Location")))
        response = client.post("/a/message/new", {"body": "elsewhere?",
                                                  "next": "//example.com/"},
                               allow_redirects=False)
        check(response.status_code == 302 and response.headers.get("Location") == "/",
              "next=//example.com/ redirected to %r" % response.headers.get("Location"))

        # Cursors: the messages after it at once; all of them without one or with an unknown one.
        after_first = client.updates(first["id"])
        check(bodies(after_first) == ["from a form", "elsewhere?"],
              "the messages after the first: %r" % bodies(after_first))
        everything = [first] + after_first
        check(client.updates() == everything, "a poll without a cursor did not get everything")
        check(client.updates("no-such-id") == everything,
              "a poll with an unknown cursor did not get everything")
        check(client.shown() == ids(everything), "the page does not list the three messages")

        # The newest message as the cursor: the poll waits for the next one.
        newest = everything[-1]["id"]
        poll = pool.submit(client.updates, newest)
        server.wait_for_waiters(1, "a long poll started waiting")
        check(not poll.done(), "a poll at the newest cursor was answered at once")
        fourth = client.new_message("fourth")
        check(poll.result(STEP_SECONDS) == [fourth], "the waiting poll got %r" % poll.result())
        server.wait_for_waiters(0, "woken by a message")

        # Clients that go away stop waiting: their waiters leave, and nothing else is disturbed.
        sockets = [client.raw_poll(fourth["id"]) for _ in range(5)]
        server.wait_for_waiters(5)
        for connection in sockets:
            connection.close()
        server.wait_for_waiters(0, "the client went away")
        poll = pool.submit(client.updates, fourth["id"])
        server.wait_for_waiters(1, "a long poll started waiting")
        fifth = client.new_message("fifth")
        check(poll.result(STEP_SECONDS) == [fifth], "after the disconnections, a poll got %r"
              % poll.result())

        # The cache keeps the last 200 messages.
        many = [client.new_message("message %d" % i) for i in range(CACHE_SIZE + 5)]
        shown = client.shown()
        check(shown == ids(many[-CACHE_SIZE:]), "the page shows %d messages, not the last %d"
              % (len(shown), CACHE_SIZE))
        check(client.updates(many[4]["id"]) == many[-CACHE_SIZE:],
              "a poll with an evicted cursor did not get the whole cache")
        check(client.updates(many[10]["id"]) == many[11:],
              "a poll with a cached cursor did not get the messages after it")

        # SIGTERM answers the polls still waiting (with nothing) instead of waiting for them.
        waiting = client.raw_poll(many[-1]["id"])
        server.wait_for_waiters(1, "a long poll started waiting")
        took = server.stop()
        head, body = read_response(waiting)
        check(head.startswith("HTTP/1.1 200 ") and json.loads(body) == {"messages": []},
              "the poll waiting at shutdown got %r %r" % (head, body))
        check(re.search(r"(?im)^Connection: close$", head), "the last answer kept the "
              "connection alive:\n" + head)
        problems = [line for line in server.log_text().splitlines()
                    if line.startswith(("[E", "[C")) or "Uncaught" in line]
        check(not problems, "the server logged errors:\n" + "\n".join(problems))
        print("ok: http (stopped in %.2f s)" % took)


# --- chromium ----------------------------------------------------------------------------------

MESSAGES_OF = 'Array.from(document.querySelectorAll("#inbox .message"), e => e.textContent)'


async def wait_for_waiters(server, count, why=None):
    # The server's log is read by a thread, so that the DevTools connection keeps being served.
    await asyncio.get_running_loop().run_in_executor(None, server.wait_for_waiters, count, why)


async def test_chromium(program, workdir):
    import chromium_devtools

    with Server(program, workdir) as server:
        async with await chromium_devtools.Chromium.start(timeout=STEP_SECONDS) as chromium:
            loaded = "document.readyState === 'complete' && typeof updater === 'object'"
            sender = await chromium.open_page(server.url)
            reader = await chromium.open_page(server.url)
            for page in (sender, reader):
                await page.wait_for(loaded, "the chat page loading")
            # Both pages have their long poll waiting: a message posted now must come through it.
            await wait_for_waiters(server, 2)

            body = "<b>bold?</b> & co"
            await sender.evaluate("""(() => {
                document.getElementById("message").value = %s;
                document.querySelector("#messageform input[type=submit]").click();
            })()""" % json.dumps(body))
            shows = "%s.filter(text => text === %s).length === 1" % (MESSAGES_OF, json.dumps(body))
            for page, name in ((reader, "the other page"), (sender, "the sending page")):
                await page.wait_for(shows, "the message showing once in " + name)
                injected = await page.evaluate('document.querySelectorAll("#inbox b").length')
                check(injected == 0, "the message's markup reached the DOM of " + name)
            await sender.wait_for('document.getElementById("message").value === ""',
                                  "the sender's text field clearing")

            # Typed into the other page and sent with Enter, as a user does.
            reply = "a reply"
            await reader.evaluate('document.getElementById("message").focus()')
            await reader.type_text(reply)
            await reader.press_enter()
            both = "JSON.stringify(%s) === %s" % (MESSAGES_OF,
                                                  json.dumps(json.dumps([body, reply],
                                                                        separators=(",", ":"))))
            for page, name in ((sender, "the first page"), (reader, "the replying page")):
                await page.wait_for(both, "the reply showing in " + name)

            # A page opened now shows both from the cache, and polls from the last of them.
            await wait_for_waiters(server, 2)
            later = await chromium.open_page(server.url)
            await later.wait_for(loaded, "the later page loading")
            check(await later.evaluate("JSON.stringify(%s)" % MESSAGES_OF)
                  == json.dumps([body, reply], separators=(",", ":")),
                  "the later page does not show the cached messages")
            check(await later.evaluate("updater.cursor === document.querySelector("
                                       "'#inbox .message:last-child').id.substring(1)"),
                  "the later page does not poll from its last message")
            await wait_for_waiters(server, 3)
            # Closing its tab ends its long poll on the server.
            await later.close()
            await wait_for_waiters(server, 2, "the client went away")

            # The pages left open must not hold the server up.
            took = await asyncio.get_running_loop().run_in_executor(None, server.stop)
            refused = [line for line in server.log_text().splitlines() if " 403 " in line]
            check(not refused,
                  "the server refused some of the pages' posts:\n" + "\n".join(refused))
            print("ok: chromium (stopped in %.2f s)" % took)


def main():
    mode, program = demo_testing.mode_and_program(("http", "chromium"), __doc__)
    with demo_testing.temporary_folder("chat_test-") as workdir:
        if mode == "http":
            try:
                import requests
            except ImportError:
                raise ImportError("python3-requests is missing (apt-get install python3-requests)")

            # The templates beside the program win over the source folder's.
            demo_testing.check_finding_files(
                program, os.path.dirname(os.path.abspath(__file__)), workdir,
                lambda copy: Server(copy, workdir),
                lambda url: requests.get(url, timeout=STEP_SECONDS).text, STEP_SECONDS)
            test_http(program, workdir, requests)
        else:
            demo_testing.run_async(test_chromium(program, workdir), TOTAL_SECONDS)


if __name__ == "__main__":
    sys.exit(demo_testing.run(main))
