"""Browser tests: one live local stack and one Chromium for the whole session.

Needs Debian's /usr/bin/chromium, Playwright for Python and axe-core under
tests/browser/node_modules (`bash tests/browser/install.sh` installs the first
and the last). Anything missing skips these tests, except with CI=true, where it
fails them: CI must not pass by running no browser test.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from infra.local.launch import CHROMIUM_ARGS
from tests.conftest import ROOT
from tests.livestack import Stack, mail_text, running_stack
from tests.livestack import http as request

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = Path(os.environ.get("DX_DESK_CHROMIUM", "/usr/bin/chromium"))
AXE_JS = BROWSER_DIR / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
HOST_PAGE_PORT = 8001  # an origin the local stage's ALLOWED_ORIGINS lists (frame-ancestors)
MAIL_TIMEOUT = 20.0

DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 320, "height": 640}
# 1280×900 at 200 % browser zoom lays out like a 640×450 viewport (WCAG 1.4.4 / 1.4.10).
ZOOM_200 = {"width": 640, "height": 450}


def unavailable(reason: str) -> NoReturn:
    """Skip locally, fail in CI (where a skipped browser suite would hide a missing install)."""
    hint = "install with: bash tests/browser/install.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} ({hint}); CI=true requires the browser tests", pytrace=False)
    pytest.skip(f"{reason} ({hint})")


@dataclass
class Mail:
    destinations: list[str]
    text: str


class LiveStack(Stack):
    """`python -m infra.local.dev` on free ports: the API (form pages included) and moto."""

    def form_url(self, lang: str = "ja", *, embed: bool = False) -> str:
        return f"{self.api}/form/input?lang={lang}" + ("&embed=1" if embed else "")

    def sent_mail(self) -> list[Mail]:
        status, _, body = request("GET", f"{self.moto}/moto-api/data.json")
        assert status == 200, body
        raw = json.loads(body).get("ses", {}).get("RawMessage", [])
        return [Mail(list(m.get("destinations", [])), mail_text(m["raw_data"])) for m in raw]

    def wait_for_mail(self, receipt: str, recipients: set[str]) -> list[Mail]:
        """The mails naming `receipt`, once every one of `recipients` has one (or at the
        timeout), plus a short grace period for any that should not come."""
        deadline = time.monotonic() + MAIL_TIMEOUT
        naming: list[Mail] = []
        while time.monotonic() < deadline:
            naming = [m for m in self.sent_mail() if receipt in m.text]
            if recipients <= {address for m in naming for address in m.destinations}:
                time.sleep(1.5)  # longer than one outbox sweep: duplicates would show
                return [m for m in self.sent_mail() if receipt in m.text]
            time.sleep(0.25)
        return naming


BROWSER_STACK_ENV = {
    # The form asks again for posts sent sooner than this after rendering;
    # the tests wait a little over it before pressing 確認.
    "FORM_MIN_SECONDS": "2",
    # Every submission of the session comes from 127.0.0.1.
    "RATE_LIMIT_PER_HOUR": "1000",
}


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    log_path = tmp_path_factory.mktemp("browser-stack") / "dev-stack.log"
    with running_stack(log_path, BROWSER_STACK_ENV, LiveStack) as stack:
        assert isinstance(stack, LiveStack)
        yield stack


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed in this environment")
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    instance = playwright_session.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.exists():
        unavailable(f"axe-core is missing ({AXE_JS.relative_to(ROOT)})")
    return AXE_JS.read_text(encoding="utf-8")


@dataclass
class PageProblems:
    """Uncaught exceptions and CSP refusals seen by one page (failed loads are expected:
    422 answers, favicon)."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.messages.append(f"uncaught: {exc}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = str(message.text)
        if message.type == "error" and not text.startswith("Failed to load resource"):
            self.messages.append(f"console.error: {text}")
        elif "Content Security Policy" in text:
            self.messages.append(f"CSP: {text}")


OpenPage = Callable[..., "Page"]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """`open_page(js=True, viewport=DESKTOP, enhanced=True)`: a page in a fresh context.

    The CSP stays enforced (axe is injected through the DevTools protocol, which
    the CSP does not govern), so a script or style the policy refuses fails the test.
    `enhanced=False` keeps JavaScript on but never loads static/form.js: the pages
    behave as with JavaScript off, and axe can still run in them (in a context with
    JavaScript disabled, axe.run() never settles: its timers do not fire).
    """
    contexts: list[BrowserContext] = []
    problems: list[tuple[Page, PageProblems]] = []

    def open_(
        *, js: bool = True, viewport: dict[str, int] | None = None, enhanced: bool = True
    ) -> Page:
        context = browser.new_context(
            java_script_enabled=js,
            viewport=viewport or DESKTOP,  # type: ignore[arg-type]
            locale="ja-JP",
            timezone_id="Asia/Tokyo",
        )
        context.set_default_timeout(10_000)
        if not enhanced:
            context.route("**/form/static/form.js", lambda route: route.abort())
        contexts.append(context)
        page = context.new_page()
        seen = PageProblems()
        seen.watch(page)
        problems.append((page, seen))
        return page

    yield open_
    for context in contexts:
        context.close()
    reported = [f"{page.url}: {m}" for page, seen in problems for m in seen.messages]
    if reported:
        pytest.fail("the page reported problems:\n" + "\n".join(reported), pytrace=False)


class HostPage(http.server.BaseHTTPRequestHandler):
    """Serves one HTML string: another site's page that embeds the form."""

    html = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.html)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


@pytest.fixture
def host_page(live_stack: LiveStack) -> Iterator[str]:
    """http://localhost:8001/: a page of another origin with the embed snippet."""
    html = f"""<!DOCTYPE html>
<html lang="ja">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>県のページ（埋め込みテスト）</title></head>
<body>
<h1>DX相談窓口のご案内</h1>
<p>下のフォームからご相談ください。</p>
<div id="dx-desk-form"></div>
<script src="{live_stack.api}/form/static/embed.js" data-lang="ja" async></script>
<p id="after-form">ページの続き</p>
</body>
</html>
""".encode()
    handler = type("Host", (HostPage,), {"html": html})
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", HOST_PAGE_PORT), handler)
    except OSError as exc:
        unavailable(f"port {HOST_PAGE_PORT} (the embedding page's origin) is in use: {exc}")
    thread = threading.Thread(target=server.serve_forever, name="host-page", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{HOST_PAGE_PORT}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
