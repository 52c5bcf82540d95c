#!/usr/bin/python3
"""End-to-end test of the webspider demo: it crawls squall's own docs.

Usage: webspider_test.py WEBSPIDER DOCS_SERVER DOCS_FOLDER

Renders DOCS_FOLDER into a temporary site (each Markdown file as a small HTML page whose links to
other .md files point at their .html; other files copied; a listing page per folder), adds a page
of awkward links (comments, scripts, references, odd quoting, dot segments, other sites, a missing
page, a folder without its slash) and a page outside the docs, serves the site with docs_server,
and crawls http://127.0.0.1:PORT/docs/ with webspider. The pages it must find are computed here the
way Tornado's own webspider finds them (Python's HTMLParser, urljoin, urldefrag; then quote, as
browsers encode spaces and non-ASCII bytes). Checks that the
crawler fetched exactly those, each once, with the same redirects and failures, that the server saw
no request outside /docs/, and that another local site the pages link to got no request at all.
"""

import html
import html.parser
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse

# demo_testing.py is in examples/; no __pycache__ is left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import demo_testing  # noqa: E402
from demo_testing import Failure, check  # noqa: E402

STEP_SECONDS = 20
MD_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)")


# ---- the site --------------------------------------------------------------------------------

def md_target(target):
    """A Markdown link's target in the rendering: x.md[#frag] becomes x.html[#frag]."""
    path, hash_, fragment = target.partition("#")
    if path.endswith(".md") and "://" not in path:
        path = path[:-3] + ".html"
    return path + hash_ + fragment


def render_markdown(text, title):
    """A minimal HTML page for a Markdown text: its lines as paragraphs, its links as links."""
    body = []
    for line in text.splitlines():
        out, last = [], 0
        for match in MD_LINK.finditer(line):
            out.append(html.escape(line[last:match.start()]))
            out.append('<a href="%s">%s</a>' % (html.escape(md_target(match.group(2))),
                                                 html.escape(match.group(1))))
            last = match.end()
        out.append(html.escape(line[last:]))
        body.append("<p>%s</p>" % "".join(out))
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>\n"
            "<body>\n%s\n</body></html>\n" % (html.escape(title), "\n".join(body)))


def render_docs(source, target):
    """Mirrors `source` into `target`: .md files rendered, others copied, a listing per folder."""
    for folder, dirs, files in os.walk(source):
        dirs.sort()
        relative = os.path.relpath(folder, source)
        out_folder = os.path.join(target, relative)
        os.makedirs(out_folder, exist_ok=True)
        entries = ['<a href="%s/">%s/</a>' % (urllib.parse.quote(d), html.escape(d)) for d in dirs]
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(".md"):
                out_name = name[:-3] + ".html"
                with open(path, encoding="utf-8", errors="replace") as f:
                    page = render_markdown(f.read(), name)
                with open(os.path.join(out_folder, out_name), "w", encoding="utf-8") as f:
                    f.write(page)
            else:
                out_name = name
                shutil.copyfile(path, os.path.join(out_folder, name))
            entries.append('<a href="%s">%s</a>' % (urllib.parse.quote(out_name),
                                                   html.escape(out_name)))
        if relative == ".":
            entries.append('<a href="edge.html#top">awkward links</a>')
        if "index.html" not in os.listdir(out_folder):
            with open(os.path.join(out_folder, "index.html"), "w", encoding="utf-8") as f:
                items = "\n".join("<li>%s</li>" % e for e in entries)
                f.write("<!DOCTYPE html>\n<html><body><h1>%s</h1>\n<ul>\n%s\n</ul></body></html>\n"
                        % (html.escape(relative), items))


def edge_page(port, trap_port, a_folder):
    """Links that a naive extractor or resolver gets wrong, and links leaving the site."""
    folder_link = '<a href="%s">folder without its slash</a>' % a_folder if a_folder else ""
    return """<!DOCTYPE html>
<html><head><title>edge</title><link rel="stylesheet" href="style.css"></head><body>
<!-- <a href="commented.html">a link in a comment</a> -->
<script>document.write('<a href="scripted.html">a link in a script</a>');</script>
<style>a[href="styled.html"] { color: red }</style>
<A HREF='index.html#top'>upper case, single quotes</A>
<a href=web.html>bare value</a>
<a class="x" href = " coroutines.html " >spaces</a>
<a href="edge.html?a=1&amp;b=2">a query with a reference</a>
<a href="web&#46;html#x">a numeric reference</a>
<a href="./examples/../async.html">dot segments</a>
<a href="../docs/websocket.html">up and down again</a>
<a href="/outside.html">same host, outside the docs</a>
<a href="http://127.0.0.1:%(trap)d/trap.html">another site</a>
<a href="//127.0.0.1:%(trap)d/trap2.html">another site, scheme-relative</a>
<a href="HTTP://127.0.0.1:%(port)d/docs/httpclient.html">upper-case scheme</a>
<a href="mailto:someone@example.com">mail</a>
<a href="javascript:void(0)">script</a>
<a name="anchor">no href</a>
<a href="missing.html">a missing page</a>
%(folder)s
<p>1 < 2 and <b>bold</b> text</p>
<a href="unterminated.html
""" % {"port": port, "trap": trap_port, "folder": folder_link}


# ---- what the crawler must find ---------------------------------------------------------------

class LinkParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href is not None:
            self.links.append(href.strip(" \t\n\r\f"))


def expected_crawl(site, base_url):
    """Crawls the files of `site` as Tornado's webspider crawls a server: gives the URLs fetched,
    redirected (to where) and failed."""
    fetched, redirected, failed = set(), {}, set()
    seen, todo = {base_url}, [base_url]
    while todo:
        url = todo.pop()
        parts = urllib.parse.urlsplit(url)
        path = os.path.join(site, urllib.parse.unquote(parts.path).lstrip("/"))
        links = []
        if os.path.isdir(path) and not parts.path.endswith("/"):
            redirected[url] = parts.path + "/"
            links = [parts.path + "/"]
        elif os.path.isdir(path):
            path = os.path.join(path, "index.html")
        if url in redirected:
            pass
        elif os.path.isfile(path):
            fetched.add(url)
            if path.endswith(".html"):
                parser = LinkParser()
                with open(path, encoding="utf-8", errors="replace") as f:
                    parser.feed(f.read())
                links = parser.links
        else:
            failed.add(url)
        for link in links:
            new_url = urllib.parse.urldefrag(urllib.parse.urljoin(url, link))[0]
            # As browsers (and the crawler) do, bytes a URL may not hold are percent-encoded.
            new_url = urllib.parse.quote(new_url, safe="-._~:/?#[]@!$&'()*+,;=%")
            if new_url.startswith(base_url) and new_url not in seen:
                seen.add(new_url)
                todo.append(new_url)
    return fetched, redirected, failed


# ---- the programs ----------------------------------------------------------------------------

class TrapHandler(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):
        TrapHandler.hits.append(self.path)
        self.send_error(418)

    def log_message(self, *args):
        pass


def crawl(webspider, base_url, concurrency):
    """Runs the crawler; gives its fetched set, redirects, failed set and summary line."""
    result = subprocess.run([webspider, "--base_url=" + base_url,
                             "--concurrency=%d" % concurrency, "--timeout=15s"],
                            capture_output=True, timeout=STEP_SECONDS)
    output = result.stdout.decode(errors="replace")
    check(result.returncode == 0, "webspider exited with %d:\n%s%s" %
          (result.returncode, output, result.stderr.decode(errors="replace")))
    lines = output.splitlines()
    fetched, redirected, failed, reported = set(), {}, set(), []
    for line in lines[:-1]:
        kind, _, rest = line.partition(" ")
        if kind == "fetched":
            url = rest
            fetched.add(url)
        elif kind == "redirected":
            url, _, location = rest.partition(" -> ")
            redirected[url] = location
        elif kind == "failed":
            url = rest.split(": ", 1)[0]
            failed.add(url)
        else:
            raise Failure("unexpected line from webspider: %r" % line)
        reported.append(url)
    check(len(reported) == len(set(reported)), "a URL was reported twice:\n" + output)
    summary = re.fullmatch(r"Done in [0-9.e-]+ seconds: (\d+) fetched, (\d+) redirected, "
                           r"(\d+) failed\.", lines[-1] if lines else "")
    check(summary, "unexpected summary line: %r" % (lines[-1:],))
    counts = tuple(int(n) for n in summary.groups())
    check(counts == (len(fetched), len(redirected), len(failed)),
          "the summary does not count the lines: " + lines[-1])
    return fetched, redirected, failed


def test_crawl(webspider, docs_server, docs, workdir, trap_port):
    site = os.path.join(workdir, "site")
    render_docs(docs, os.path.join(site, "docs"))
    with open(os.path.join(site, "outside.html"), "w") as f:
        f.write('<a href="docs/">the docs</a>\n')

    with demo_testing.Server(docs_server, workdir, "--root=" + site, timeout=STEP_SECONDS,
                             name="docs_server") as server:
        base_url = server.url + "docs/"
        folders = sorted(d for d in os.listdir(os.path.join(site, "docs"))
                         if os.path.isdir(os.path.join(site, "docs", d)))
        with open(os.path.join(site, "docs", "edge.html"), "w") as f:
            f.write(edge_page(server.port, trap_port, folders[0] if folders else None))

        want = expected_crawl(site, base_url)
        check(len(want[0]) > 10, "the rendered docs have too few pages: %r" % (want[0],))
        for concurrency in (10, 1):
            got = crawl(webspider, base_url, concurrency)
            for name, w, g in zip(("fetched", "redirected", "failed"), want, got):
                check(w == g, "with --concurrency=%d the %s URLs differ:\n  missing %r\n  extra %r"
                      % (concurrency, name, sorted(set(w) - set(g)), sorted(set(g) - set(w))))
            print("ok: --concurrency=%d fetched %d pages, %d redirect(s), %d failure(s)" %
                  (concurrency, len(got[0]), len(got[1]), len(got[2])))

        server.stop()
        check(not TrapHandler.hits, "the crawler left the site: %r" % TrapHandler.hits)
        requests = re.findall(r"\] \d{3} GET (\S+) \(127\.0\.0\.1\)", server.log_text())
        check(requests, "docs_server logged no request")
        outside = [r for r in requests if not r.startswith("/docs/")]
        check(not outside, "requests outside the docs: %r" % outside)
        total = sum(len(w) for w in want)
        check(len(requests) == 2 * total,
              "docs_server got %d requests for %d URLs crawled twice" % (len(requests), total))
        print("ok: %d requests, none outside /docs/, none to another site" % len(requests))


def main():
    webspider, docs_server = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    docs = os.path.abspath(sys.argv[3])
    bad = subprocess.run([webspider, "--base_url=ftp://x/"], capture_output=True,
                         timeout=STEP_SECONDS)
    check(bad.returncode == 2, "an ftp:// base URL was accepted")

    trap = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TrapHandler)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    try:
        with demo_testing.temporary_folder("webspider_test.") as workdir:
            test_crawl(webspider, docs_server, docs, workdir, trap.server_address[1])
    finally:
        trap.shutdown()


if __name__ == "__main__":
    sys.exit(demo_testing.run(main))
