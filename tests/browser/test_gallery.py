"""`make gallery` (python -m infra.gallery): every page in every language and every mail is
built, and none shows markup, template syntax or empty-value words, a bad <title> or an empty region.

The generator runs once, as `make gallery` runs it (its own stack and Chromium),
into a temporary folder; the tests read what it wrote.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from chalicelib.intake.i18n import HTML_LANG, LANGUAGES
from infra.gallery.build import browser_missing
from infra.gallery.checks import all_problems, title_problems
from infra.gallery.mails import mail_templates
from tests.browser.conftest import unavailable
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

GENERATOR_TIMEOUT = 300
WIDTHS = {"1280": 1280, "375": 375}
# Every state of the form and the HTTP status it answers with.
FORM_STATES = {
    "input": 200,
    "input-errors": 422,
    "token-expired": 400,
    "confirm": 200,
    "done": 200,
    "token-used": 409,
    "too-fast": 400,
    "done-held": 200,
}
ACTION_PAGES = {
    "confirm": 200,
    "done": 200,
    "confirm-used": 200,
    "already-used": 409,
    "confirm-refused": 200,
    "confirm-expert": 200,
    "confirm-session": 200,
    "expired": 410,
    "invalid": 404,
    "not-found": 404,
}


@dataclass(frozen=True)
class Built:
    folder: Path
    manifest: dict[str, Any]
    output: str


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Built:
    missing = browser_missing()
    if missing:
        unavailable(missing)
    folder = tmp_path_factory.mktemp("gallery") / "gallery"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "infra.gallery", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=GENERATOR_TIMEOUT,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    # 1: built, but a check found problems; the tests below name them.
    if result.returncode not in (0, 1):
        pytest.fail(f"python -m infra.gallery exited with {result.returncode}:\n{output}")
    print(f"gallery built in {time.monotonic() - started:.1f} s\n{result.stdout}")
    manifest = json.loads((folder / "gallery.json").read_text(encoding="utf-8"))
    return Built(folder, manifest, output)


def by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in entries}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_every_state_of_the_form_in_every_language(gallery: Built) -> None:
    pages = by_name(gallery.manifest["pages"])
    assert gallery.manifest["languages"] == list(LANGUAGES)
    for lang in LANGUAGES:
        for state, status in FORM_STATES.items():
            name = f"form-{state}-{lang}"
            assert name in pages, f"{name} is missing from the gallery"
            page = pages[name]
            # やさしい日本語 is Japanese to the browser and to screen readers.
            assert (page["status"], page["html_lang"]) == (status, HTML_LANG[lang]), name


CONSOLE_PAGES = {
    "signin": 200,
    "signin-sent": 200,
    "signin-link": 200,
    "home": 200,
    "experts": 200,
    "expert": 200,
    "expert-edit": 200,
    "expert-new": 200,
    "import": 200,
    "audit": 200,
    "cases": 200,
    "staff": 200,
    "staff-new": 200,
    "taxonomy": 200,
    "taxonomy-edit": 200,
    "report": 200,
    "privacy": 200,
    "case": 200,
    "import-errors": 422,
    "expert-edit-errors": 422,
}


def test_every_action_link_page(gallery: Built) -> None:
    pages = by_name(gallery.manifest["pages"])
    shown = {name: page["status"] for name, page in pages.items() if page["group"] == "actions"}
    assert shown == {f"actions-{state}": status for state, status in ACTION_PAGES.items()}
    # Signed tokens stay out of the gallery's text.
    assert {pages[name]["path"] for name in shown} == {"/actions/{token}"}


def test_the_report_charts_are_shown_with_data_and_without(gallery: Built) -> None:
    pages = by_name(gallery.manifest["pages"])
    charts = {name: page for name, page in pages.items() if page["group"] == "charts"}
    assert set(charts) == {"charts-report", "charts-empty"}
    assert {page["path"] for page in charts.values()} == {"charts/report.html", "charts/empty.html"}
    assert "月別の相談件数" in charts["charts-report"]["main"]
    assert "満足度アンケートの回答はまだありません。" in charts["charts-empty"]["main"]
    for page in charts.values():
        assert (gallery.folder / page["path"]).is_file()


def test_every_survey_page(gallery: Built) -> None:
    pages = by_name(gallery.manifest["pages"])
    shown = {name: page["status"] for name, page in pages.items() if page["group"] == "survey"}
    assert shown == {
        "survey-ja": 200,
        "survey-en": 200,
        "survey-easy": 200,
        "survey-errors": 422,
        "survey-thanks": 200,
        "survey-answered": 200,
    }
    assert (pages["survey-en"]["html_lang"], pages["survey-easy"]["html_lang"]) == ("en", "ja")
    assert {pages[name]["path"] for name in shown} == {"/survey/{token}"}


def test_every_console_page(gallery: Built) -> None:
    pages = by_name(gallery.manifest["pages"])
    shown = {name: page["status"] for name, page in pages.items() if page["group"] == "console"}
    assert shown == {f"console-{state}": status for state, status in CONSOLE_PAGES.items()}
    # The sign-in link's secret stays out of the gallery.
    assert pages["console-signin-link"]["path"] == "/console/signin/{token}"


def test_every_mail_template_with_its_files(gallery: Built) -> None:
    mails = gallery.manifest["mails"]
    assert {mail["template"] for mail in mails} == set(mail_templates())
    for mail in mails:
        text = (gallery.folder / mail["files"]["text"]).read_text(encoding="utf-8")
        assert text == f"件名 / Subject: {mail['subject']}\n\n{mail['text']}"
        assert (
            (gallery.folder / mail["files"]["html"])
            .read_text(encoding="utf-8")
            .startswith("<!DOCTYPE html>")
        ), mail["name"]


def test_screenshots_are_full_page_pngs_at_both_widths(gallery: Built) -> None:
    for kind in ("pages", "mails"):
        for entry in gallery.manifest[kind]:
            assert set(entry["screenshots"]) == set(WIDTHS), entry["name"]
            for label, relative in entry["screenshots"].items():
                width, height = png_size(gallery.folder / relative)
                drawn = entry["overflow"].get(label, WIDTHS[label])
                # A page that is wider than the screen is drawn whole (and listed as such).
                assert width == drawn >= WIDTHS[label], (relative, width)
                assert height >= 200, (relative, height)
    # No page and no mail makes a person scroll sideways, at 1280 or at 375 px.
    wide = {
        entry["name"]: entry["overflow"]
        for kind in ("pages", "mails")
        for entry in gallery.manifest[kind]
        if entry["overflow"]
    }
    assert wide == {}


def test_no_page_or_mail_shows_markup_template_syntax_or_empty_values(gallery: Built) -> None:
    problems = all_problems(gallery.manifest)
    assert problems == [], "\n".join(problems)
    # Each entry was really read: a check on nothing would pass anything.
    for page in gallery.manifest["pages"]:
        assert page["headings"] and page["main"] and page["text"] and page["title"], page["name"]
    for mail in gallery.manifest["mails"]:
        assert mail["subject"] and mail["text"] and mail["html_text"], mail["name"]
        assert mail["html_title"], mail["name"]


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.tags: set[str] = set()
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._in_title = tag == "title"
        self.references += [v or "" for k, v in attrs if k in ("href", "src", "srcset", "action")]

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def test_index_lists_everything_plainly_and_loads_nothing_from_elsewhere(gallery: Built) -> None:
    index = (gallery.folder / "index.html").read_text(encoding="utf-8")
    parsed = Links()
    parsed.feed(index)
    assert title_problems(parsed.title, "index.html") == []
    assert not parsed.tags & {"script", "link", "iframe", "object", "embed", "base"}
    for reference in parsed.references:
        assert ":" not in reference and not reference.startswith("/"), reference
        assert (gallery.folder / reference).is_file(), reference
    listed = {
        *(p for page in gallery.manifest["pages"] for p in page["screenshots"].values()),
        *(p for mail in gallery.manifest["mails"] for p in mail["screenshots"].values()),
        *(p for mail in gallery.manifest["mails"] for p in mail["files"].values()),
    }
    assert listed <= set(parsed.references)
    assert "問題なし / no problems found" in index
