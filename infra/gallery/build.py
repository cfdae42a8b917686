"""Builds the gallery folder: screenshots, mail files, gallery.json and index.html.

One live stack, one Chromium, one page per kind reused throughout. The
manifest (gallery.json) holds what the browser showed of each page and mail,
so the checks (infra/gallery/checks.py) run on it here and in the tests.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chalicelib.core.settings import settings_from
from chalicelib.intake.i18n import LANGUAGES
from chalicelib.runtime import load_deployment
from infra.gallery.charts import write_chart_pages
from infra.gallery.checks import all_problems
from infra.gallery.console import console_pages
from infra.gallery.mails import (
    MAIL_BASE_URL,
    GalleryError,
    RenderedSample,
    mail_samples,
    render_sample,
)
from infra.gallery.pages import (
    FORM_MIN_SECONDS,
    Shot,
    action_pages,
    all_form_pages,
    read_page,
    receipt_on,
    requester_pages,
    submission,
    survey_pages,
)
from infra.gallery.stack import running_stack
from infra.local.dev import stage_environment
from infra.local.launch import CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("DX_DESK_CHROMIUM", "/usr/bin/chromium"))
# Narrow first, so the page is left at desktop width for the next step.
WIDTHS = {"375": {"width": 375, "height": 812}, "1280": {"width": 1280, "height": 900}}
STACK_ENV = {
    "FORM_MIN_SECONDS": str(FORM_MIN_SECONDS),
    # Every submission of the run comes from 127.0.0.1.
    "RATE_LIMIT_PER_HOUR": "1000",
}
MARKER = ".dx-desk-gallery"


@dataclass
class MailShot:
    name: str
    template: str
    note: str
    subject: str
    text: str
    html_title: str | None
    html_text: str
    files: dict[str, str]
    screenshots: dict[str, str] = field(default_factory=dict)
    overflow: dict[str, int] = field(default_factory=dict)


@dataclass
class Gallery:
    folder: Path
    pages: list[Shot]
    mails: list[MailShot]
    seconds: dict[str, float]

    def manifest(self) -> dict[str, Any]:
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "languages": list(LANGUAGES),
            "widths": sorted(WIDTHS, key=int, reverse=True),
            "pages": [asdict(page) for page in self.pages],
            "mails": [asdict(mail) for mail in self.mails],
        }


def browser_missing() -> str | None:
    """Why no screenshots can be taken here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (bash tests/browser/install.sh installs it)"
    return None


def japanese_fonts_missing() -> bool:
    """Without a Japanese font Chromium draws boxes (apt-get install fonts-noto-cjk)."""
    if shutil.which("fc-list") is None:
        return False  # cannot tell
    found = subprocess.run(
        ["fc-list", ":lang=ja", "family"], capture_output=True, text=True, check=False
    )
    return not found.stdout.strip()


def prepare(folder: Path) -> None:
    """An empty gallery folder; refuses to empty a folder that is not a gallery."""
    if folder.exists():
        if any(folder.iterdir()) and not (folder / MARKER).exists():
            raise GalleryError(f"{folder} is not empty and is not a gallery: choose another folder")
        shutil.rmtree(folder)
    (folder / "pages").mkdir(parents=True)
    (folder / "mails").mkdir()
    (folder / MARKER).write_text("made by python -m infra.gallery; emptied on each run\n")


def screenshots(
    page: Page, folder: Path, kind: str, stem: str
) -> tuple[dict[str, str], dict[str, int]]:
    """Full-page PNGs at every width: width → path inside the gallery, and width → drawn
    width where the page is wider than the screen (a person would scroll sideways)."""
    taken, overflow = {}, {}
    for label, size in WIDTHS.items():
        page.set_viewport_size(size)  # type: ignore[arg-type]
        relative = f"{kind}/{stem}-{label}.png"
        page.screenshot(path=str(folder / relative), full_page=True)
        taken[label] = relative
        drawn = int(page.evaluate("() => document.documentElement.scrollWidth"))
        if drawn > size["width"]:
            overflow[label] = drawn
    ordered = sorted(taken, key=int, reverse=True)
    return {label: taken[label] for label in ordered}, overflow


def _goto_file(page: Page, path: Path) -> int:
    """A page written into the gallery folder (the report charts), read from disk: shown as
    200 once it has loaded with its charts block (no server answers a file:// page)."""
    page.goto(path.as_uri())
    if page.locator("section.report-charts").count() != 1:
        raise GalleryError(f"{path}: the report charts did not render")
    return 200


def _shown_path(url: str) -> str:
    if url.startswith("file:"):
        return "/".join(urlsplit(url).path.split("/")[-2:])  # charts/report.html
    path = urlsplit(url).path
    # Signed tokens and sign-in secrets stay out of the gallery's text.
    for prefix in ("/actions/", "/survey/", "/followup/", "/console/signin/"):
        if path.startswith(prefix):
            return prefix + "{token}"
    return path


def write_mail_files(folder: Path, samples: list[RenderedSample]) -> list[MailShot]:
    shots = []
    for rendered in samples:
        sample, mail = rendered.sample, rendered.rendered
        text_file, html_file = f"mails/{sample.name}.txt", f"mails/{sample.name}.html"
        (folder / text_file).write_text(f"件名 / Subject: {mail.subject}\n\n{mail.text}", "utf-8")
        (folder / html_file).write_text(mail.html, "utf-8")
        shots.append(
            MailShot(
                name=sample.name,
                template=sample.template,
                note=sample.note,
                subject=mail.subject,
                text=mail.text,
                html_title=None,
                html_text="",
                files={"text": text_file, "html": html_file},
            )
        )
    return shots


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def _new_page(browser: Browser, *, block: str | None) -> Page:
    context = browser.new_context(
        viewport=WIDTHS["1280"],  # type: ignore[arg-type]
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
    )
    context.set_default_timeout(15_000)
    if block:
        context.route(block, lambda route: route.abort())
    return context.new_page()


def shoot_mails(
    browser: Browser, folder: Path, mails: list[MailShot], samples: list[RenderedSample]
) -> None:
    """Each HTML part as a mail client would show it (nothing is fetched from anywhere)."""
    page = _new_page(browser, block="**/*")
    for shot, rendered in zip(mails, samples, strict=True):
        page.set_content(rendered.rendered.html, wait_until="load")
        shot.screenshots, shot.overflow = screenshots(page, folder, "mails", shot.name)
        seen = read_page(page)
        shot.html_title = seen["title"]
        shot.html_text = str(seen["text"])
    page.context.close()


def build(folder: Path, *, log: Callable[[str], object] = print) -> Gallery:
    """Everything into `folder` (emptied first); raises GalleryError or StackError."""
    started = time.monotonic()
    seconds: dict[str, float] = {}
    prepare(folder)
    mail_settings = settings_from({**stage_environment(), "PUBLIC_BASE_URL": MAIL_BASE_URL})
    deployment = load_deployment(mail_settings.deployment_file)
    rendered = [
        render_sample(sample, mail_settings, deployment)
        for sample in mail_samples(mail_settings, deployment)
    ]
    mails = write_mail_files(folder, rendered)
    seconds["mail"] = time.monotonic() - started

    with running_stack(STACK_ENV) as stack, chromium() as browser:
        seconds["start"] = time.monotonic() - started - seconds["mail"]
        log(f"ローカル環境 / local stack: {stack.api}")
        settings = settings_from({**stage_environment(), **STACK_ENV, "PUBLIC_BASE_URL": stack.api})

        def capture(page: Page, name: str, lang: str, note: str, status: int) -> Shot:
            taken, overflow = screenshots(page, folder, "pages", name)
            seen = read_page(page)
            return Shot(
                name=name,
                group=name.split("-", 1)[0],
                lang=lang,
                html_lang=str(seen["lang"]),
                note=note,
                status=status,
                path=_shown_path(page.url),
                title=seen["title"],
                headings=[str(h) for h in seen["headings"]],
                main=seen["main"],
                text=str(seen["text"]),
                screenshots=taken,
                overflow=overflow,
            )

        mark = time.monotonic()
        page = _new_page(browser, block="**/form/static/form.js")
        pages = all_form_pages(page, stack.api, settings, capture)
        pages += action_pages(page, receipt_on(pages, "form-done-ja"), settings, capture)
        pages += requester_pages(
            page,
            receipt_on(pages, "form-done-easy"),
            submission("easy", "done")["email"],
            settings,
            capture,
        )
        pages += survey_pages(page, receipt_on(pages, "form-done-ja"), settings, capture)
        page.context.close()
        page = _new_page(browser, block=None)
        pages += console_pages(
            page, stack.api, stack.moto, receipt_on(pages, "form-done-ja"), capture
        )
        page.context.close()
        seconds["pages"] = time.monotonic() - mark
        mark = time.monotonic()
        page = _new_page(browser, block=None)
        for chart_page in write_chart_pages(folder, deployment):
            status = _goto_file(page, folder / chart_page.file)
            pages.append(capture(page, chart_page.name, "ja", chart_page.note, status))
        page.context.close()
        seconds["charts"] = time.monotonic() - mark
        mark = time.monotonic()
        shoot_mails(browser, folder, mails, rendered)
        seconds["mail screenshots"] = time.monotonic() - mark

    gallery = Gallery(folder, pages, mails, seconds)
    manifest = gallery.manifest()
    (folder / "gallery.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8"
    )
    (folder / "index.html").write_text(index_html(manifest, all_problems(manifest)), "utf-8")
    seconds["total"] = time.monotonic() - started
    return gallery


def _links(files: dict[str, str]) -> str:
    return " ".join(
        f'<a href="{html.escape(path)}">{html.escape(label)}</a>' for label, path in files.items()
    )


def _overflow(overflow: dict[str, int]) -> str:
    return "、".join(
        f"{html.escape(width)} px で幅 {drawn} px（横スクロール / scrolls sideways）"
        for width, drawn in overflow.items()
    )


def _thumbnail(shots: dict[str, str]) -> str:
    narrow = shots.get("375")
    if not narrow:
        return ""
    return f'<a href="{html.escape(narrow)}"><img src="{html.escape(narrow)}" alt="" loading="lazy"></a>'


def index_html(manifest: dict[str, Any], problems: list[str]) -> str:
    """A plain page listing everything (escaped; nothing but the gallery's own files)."""
    e = html.escape
    rows_pages = []
    for page in manifest["pages"]:
        widths = {f"{w} px": path for w, path in page["screenshots"].items()}
        rows_pages.append(
            "<tr>"
            f"<td>{_thumbnail(page['screenshots'])}</td>"
            f"<td><code>{e(page['name'])}</code></td>"
            f"<td>{e(page['lang'])}</td>"
            f"<td>{e(page['note'])}</td>"
            f"<td>{e(str(page['status']))} <code>{e(page['path'])}</code></td>"
            f"<td>{e(page['title'] or '')}</td>"
            f"<td>{_links(widths)}</td>"
            f"<td>{_overflow(page['overflow'])}</td>"
            "</tr>"
        )
    rows_mails = []
    for mail in manifest["mails"]:
        files = {
            "本文 / text": mail["files"]["text"],
            "HTML": mail["files"]["html"],
            **{f"{w} px": path for w, path in mail["screenshots"].items()},
        }
        rows_mails.append(
            "<tr>"
            f"<td>{_thumbnail(mail['screenshots'])}</td>"
            f"<td><code>{e(mail['name'])}</code></td>"
            f"<td>{e(mail['note'])}</td>"
            f"<td>{e(mail['subject'])}</td>"
            f"<td>{_links(files)}</td>"
            f"<td>{_overflow(mail['overflow'])}</td>"
            "</tr>"
        )
    if problems:
        found = "".join(f"<li>{e(problem)}</li>" for problem in problems)
        checks = f"<p><strong>{len(problems)} 件の問題 / problems</strong></p><ul>{found}</ul>"
    else:
        checks = "<p>問題なし / no problems found</p>"
    languages = "、".join(manifest["languages"])
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>画面とメールの一覧 / Page gallery</title>
<style>
body {{ font-family: sans-serif; margin: 1rem; line-height: 1.5 }}
table {{ border-collapse: collapse }}
td, th {{ border-bottom: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top }}
img {{ width: 120px; height: 160px; object-fit: cover; object-position: top; border: 1px solid #ccc }}
</style>
</head>
<body>
<main>
<h1>画面とメールの一覧 / Page gallery</h1>
<p>作成 / made {e(manifest["generated_at"])}。言語 / languages: {e(languages)}。
幅 / widths: {e(", ".join(manifest["widths"]))} px（全体のスクリーンショット / full-page screenshots）。
フォームの画面は、サーバーが返す HTML をそのまま表示したもの（JavaScript なしの表示）です。
The form pages are shown as the server renders them (as without JavaScript).</p>
<h2>チェック / Checks</h2>
{checks}
<h2>画面 / Pages ({len(manifest["pages"])})</h2>
<table>
<thead><tr><th>375 px</th><th>名前 / name</th><th>言語 / lang</th><th>内容 / what</th><th>HTTP</th><th>title</th><th>画像 / images</th><th>はみ出し / overflow</th></tr></thead>
<tbody>
{chr(10).join(rows_pages)}
</tbody>
</table>
<h2>メール / Mail ({len(manifest["mails"])})</h2>
<table>
<thead><tr><th>375 px</th><th>名前 / name</th><th>内容 / what</th><th>件名 / subject</th><th>ファイル / files</th><th>はみ出し / overflow</th></tr></thead>
<tbody>
{chr(10).join(rows_mails)}
</tbody>
</table>
</main>
</body>
</html>
"""
