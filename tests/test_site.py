"""The built book loads nothing from the network, and every page's images and assets load.

The site is built from the committed chapters (no execution, like ``build_book.py --skip-execute``)
into a temporary folder, served by ``http.server`` on 127.0.0.1, and every ``.html`` page is opened
in headless Chromium (Debian's ``chromium``) driven by Playwright. A page fails when

* it makes any request to a host other than 127.0.0.1/localhost (``data:`` and ``blob:`` are fine),
  or declares a preconnect/dns-prefetch to one. Such requests are recorded and aborted, and the
  browser resolves no other host name, so the test itself never touches the network;
* a resource answers HTTP >= 400 or fails to load (image, script, stylesheet, font, ...), an
  ``<img>`` ends up with ``naturalWidth == 0`` and cannot be decoded, or math is left untypeset;
* the console shows an error (e.g. "Failed to load resource") or the page throws an uncaught
  exception, apart from the harmless toolchain messages in ``KNOWN_CONSOLE_NOISE``.

Set-up: ``scripts/install_chromium.sh`` (Debian: ``apt-get install -y chromium``). Knobs:
``CHROMIUM=/path/to/chromium`` picks another browser; ``SITE_HTML=_build/html`` checks an existing
build (e.g. after ``make book``) instead of building one.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
HARMLESS_SCHEMES = {"data", "blob", "about"}
NOT_PAGES = {"_static", "_sources", "_images"}  # asset folders (_static holds Jinja macro .html files)
PAGE_TIMEOUT_MS = 30_000
SETTLE_TIMEOUT_MS = 10_000
# Console messages of the current toolchain that are harmless and not about loading anything; each
# disappears with the _config.yml change named beside it (then the entry can go).
KNOWN_CONSOLE_NOISE = [
    # Sphinx 7.4 writes inline scripts added after builder init twice; sphinx-thebe's starts with
    # `const THEBE_JS_URL`, so the copy throws. Gone when `sphinx_thebe` is left out of
    # sphinx.config.extensions (thebe is off anyway).
    re.compile(r"Identifier 'THEBE_JS_URL' has already been declared"),
]
INSTALL_HINT = (
    "Install it with `scripts/install_chromium.sh` (as root; on Debian it runs "
    "`apt-get install -y chromium`), or set CHROMIUM=/path/to/chromium."
)

# Runs in the page after it has loaded: waits for MathJax and for every <img> (lazy ones made eager),
# then lists the images that did not load and any preconnect/dns-prefetch hints.
INSPECT_JS = """
async (settleMs) => {
  const timeout = new Promise(resolve => setTimeout(resolve, settleMs));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await Promise.race([MathJax.startup.promise.catch(() => null), timeout]);
  }
  const images = Array.from(document.images);
  for (const img of images) if (img.loading === "lazy") img.loading = "eager";
  const settled = img => img.complete ? null : new Promise(resolve => {
    img.addEventListener("load", resolve, {once: true});
    img.addEventListener("error", resolve, {once: true});
  });
  await Promise.race([Promise.all(images.map(settled)), timeout]);
  const broken = [];
  for (const img of images) {
    if (img.naturalWidth > 0) continue;
    const src = img.currentSrc || img.getAttribute("src") || "";
    let reason = "naturalWidth 0";
    if (!src) {
      reason = "no src";
    } else if (!img.complete) {
      reason = `still loading after ${settleMs} ms`;
    } else {
      try { await img.decode(); continue; }  // e.g. an SVG without an intrinsic size
      catch (error) { reason = "naturalWidth 0, cannot be decoded"; }
    }
    broken.push({src: src, reason: reason});
  }
  // Sphinx math: every page that has some must have it typeset by (the local) MathJax
  const maths = document.querySelectorAll(".math.notranslate").length;
  const typeset = document.querySelectorAll("mjx-container").length;
  const mathjax = maths > 0 && typeset === 0 ? `${maths} math elements, none typeset by MathJax` : null;
  const hints = Array.from(document.querySelectorAll(
    'link[rel~="preconnect"], link[rel~="dns-prefetch"]')).map(link => link.href);
  return {broken: broken, hints: hints, mathjax: mathjax, url: location.href};
}
"""

pytestmark = pytest.mark.slow  # builds the site from the committed chapters and opens every page in a browser


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in HARMLESS_SCHEMES or (parts.hostname or "") in LOCAL_HOSTS


def short(url: str) -> str:
    """A URL for messages: the site-relative path for the local server, else the whole URL."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and (parts.hostname or "") in LOCAL_HOSTS:
        return parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
    return url if len(url) < 200 else url[:200] + "..."


@dataclass
class PageReport:
    external: list[str] = field(default_factory=list)  # "<type> <url>"
    broken: list[str] = field(default_factory=list)  # "<type> <url>: <why>"
    console: list[str] = field(default_factory=list)  # "<text> (at <url>)"
    redirected_to: str = ""  # where the page sent the browser (index.html -> intro.html)


def load_build_book():
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_site(workdir: Path) -> Path:
    """Render the committed chapters as they are (no execution) into ``workdir``; return the HTML."""
    build_book = load_build_book()
    stage = workdir / "stage"
    build_book.stage_sources(stage)
    build_book.disable_execution(stage / "_config.yml")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(stage), "--all", "-W", "--keep-going",
               "--path-output", str(workdir)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    html = workdir / "_build" / "html"
    if result.returncode != 0 or not (html / "index.html").exists():
        pytest.fail(f"the book did not build ({' '.join(command)}, exit {result.returncode}):\n"
                    f"{(result.stdout + result.stderr)[-4000:]}", pytrace=False)
    return html


def site_pages(html: Path) -> list[str]:
    """Every .html page of the site, as a path relative to ``html``."""
    pages = (p.relative_to(html) for p in html.rglob("*.html"))
    return sorted(p.as_posix() for p in pages if p.parts[0] not in NOT_PAGES)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """``with serve(folder) as base_url:`` serves ``folder`` on 127.0.0.1 from a thread."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def check_page(context, url: str) -> PageReport:
    """Open ``url`` in a new tab and report external requests, broken resources, console errors."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    report = PageReport()
    page = context.new_page()

    def route(route):
        request = route.request
        if is_local(request.url):
            route.continue_()
        else:
            report.external.append(f"{request.resource_type} {request.url}")
            route.abort("blockedbyclient")

    def on_failed(request):
        if is_local(request.url):
            report.broken.append(f"{request.resource_type} {short(request.url)}: {request.failure}")
        elif not any(entry.endswith(" " + request.url) for entry in report.external):
            report.external.append(f"{request.resource_type} {request.url}")

    def on_response(response):
        if response.status >= 400:
            report.broken.append(
                f"{response.request.resource_type} {short(response.url)}: HTTP {response.status}")

    def on_console(message):
        if message.type != "error":
            return
        where = message.location.get("url", "") if message.location else ""
        if where and not is_local(where):
            return  # an external request, reported as such
        report.console.append(message.text + (f" (at {short(where)})" if where else ""))

    page.route("**/*", route)
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: report.console.append(f"uncaught {error}"))
    page.on("websocket", lambda ws: None if is_local(ws.url) else report.external.append(
        f"websocket {ws.url}"))
    try:
        page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        for attempt in range(3):  # a meta-refresh redirect (index.html) replaces the document
            with contextlib.suppress(PlaywrightTimeout):  # still busy: the checks below report what did not load
                page.wait_for_load_state("networkidle", timeout=SETTLE_TIMEOUT_MS)
            try:
                found = page.evaluate(INSPECT_JS, SETTLE_TIMEOUT_MS)
                break
            except PlaywrightError as error:
                if "context was destroyed" not in str(error) or attempt == 2:
                    raise
                page.wait_for_load_state("load", timeout=PAGE_TIMEOUT_MS)
        if found["mathjax"]:
            report.broken.append(f"math: {found['mathjax']}")
        if found["url"] != url:
            report.redirected_to = short(found["url"])
        for image in found["broken"]:
            report.broken.append(f"img {short(image['src'])}: {image['reason']}")
        for hint in found["hints"]:
            if not is_local(hint):
                report.external.append(f"preconnect {hint}")
    finally:
        page.close()
    return report


def check_site(browser, html: Path, pages: list[str]) -> dict[str, PageReport]:
    with serve(html) as base:
        context = browser.new_context(service_workers="block")
        try:
            return {page: check_page(context, base + page) for page in pages}
        finally:
            context.close()


def problems(reports: dict[str, PageReport], kind: str, ignore=()) -> str:
    lines = [f"  {page}{f' (redirects to {report.redirected_to})' if report.redirected_to else ''}:"
             f" {entry}" for page, report in reports.items()
             for entry in dict.fromkeys(getattr(report, kind))
             if not any(pattern.search(entry) for pattern in ignore)]
    return "\n".join(lines)


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path or not os.access(path, os.X_OK):
        where = f"CHROMIUM={os.environ['CHROMIUM']} is not executable" if os.environ.get(
            "CHROMIUM") else "`chromium` is not on PATH"
        pytest.fail(f"headless Chromium is needed to check the built site: {where}. {INSTALL_HINT}",
                    pytrace=False)
    return path


@pytest.fixture(scope="module")
def browser(chromium):
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the `playwright` package is missing: run `make setup` (it is pinned in "
                    "requirements.txt; no browser download is needed).", pytrace=False)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=chromium,
                timeout=PAGE_TIMEOUT_MS,
                args=[
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    # no host name but the local ones resolves: nothing can leave the machine
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                ],
            )
        except PlaywrightError as error:
            pytest.fail(f"{chromium} did not start under Playwright: {error}\n{INSTALL_HINT}",
                        pytrace=False)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if os.environ.get("SITE_HTML"):
        html = Path(os.environ["SITE_HTML"]).resolve()
        if not (html / "index.html").exists():
            pytest.fail(f"SITE_HTML={html} holds no index.html", pytrace=False)
        return html
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def reports(browser, site) -> dict[str, PageReport]:
    return check_site(browser, site, site_pages(site))


# --- tests ---------------------------------------------------------------------------------------

def test_every_toc_page_was_opened(reports):
    docs = load_build_book().toc_docnames(ROOT / "_toc.yml")
    missing = [doc for doc in docs if f"{doc}.html" not in reports]
    assert not missing, f"TOC documents without an HTML page: {missing}; opened {sorted(reports)}"


def test_site_makes_no_external_requests(reports):
    found = problems(reports, "external")
    assert not found, ("the built site loads from the network (it must be self-contained):\n"
                       f"{found}")


def test_every_image_and_asset_loads(reports):
    found = problems(reports, "broken")
    assert not found, f"images or assets that did not load:\n{found}"


def test_no_console_errors(reports):
    """Console errors (a resource that failed to load, a script error) and uncaught exceptions."""
    found = problems(reports, "console", ignore=KNOWN_CONSOLE_NOISE)
    assert not found, f"console errors or uncaught exceptions:\n{found}"


def test_checker_catches_external_and_broken_resources(browser, tmp_path):
    """The checks themselves work: a page with a CDN script, a remote font, a missing image (also a
    lazy one below the fold) and an undecodable image is reported, and a clean page is not."""
    (tmp_path / "bad.png").write_bytes(b"not a png")
    (tmp_path / "ok.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="4" height="4"/></svg>')
    (tmp_path / "clean.html").write_text(
        '<!doctype html><title>clean</title><img src="ok.svg">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7">')
    (tmp_path / "dirty.html").write_text(
        '<!doctype html><title>dirty</title>'
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>'
        '<style>@font-face{font-family:x;src:url(https://fonts.gstatic.com/x.woff2)}'
        'body{font-family:x}</style><p>text</p>'
        '<p class="math notranslate">\\(x\\)</p><img src="missing.png"><img src="bad.png">'
        '<img loading="lazy" style="margin-top:5000px" src="missing-lazy.png">')
    reports = check_site(browser, tmp_path, ["clean.html", "dirty.html"])
    clean, dirty = reports["clean.html"], reports["dirty.html"]
    assert clean == PageReport(), clean
    external = " ".join(dirty.external)
    assert "cdn.jsdelivr.net" in external and "fonts.gstatic.com" in external, dirty.external
    broken = " ".join(dirty.broken)
    assert "image missing.png: HTTP 404" in broken, dirty.broken
    assert "image missing-lazy.png: HTTP 404" in broken, dirty.broken
    assert "img bad.png: naturalWidth 0" in broken, dirty.broken
    assert "none typeset by MathJax" in broken, dirty.broken
    assert any("404" in line for line in dirty.console), dirty.console
