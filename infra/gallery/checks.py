"""Checks on what people read in the gallery: no markup or template syntax, sane titles, no empty regions (pure).

Each function takes plain text as the browser or the renderer produced it and
returns a list of problems in English (empty: fine), so the generator can
report them and the tests can assert on them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Markup or template syntax that must never reach what a person reads.
LEAK_MARKS = ("<", ">", "{{", "{%")
# Values a template prints when it is handed nothing: Python's None, JavaScript's
# undefined, a float that is not a number. Whole words only (ASCII letters and
# digits around them end the word; Japanese text does not), so "Nonexistent" or
# "nano" pass while "担当：None" does not.
LEAK_WORDS = re.compile(r"(?<![A-Za-z0-9_])(None|undefined|nan|NaN)(?![A-Za-z0-9_])")
# Signed action links carry random base64url text; words are not looked for in
# URLs (the marks above still are).
URL = re.compile(r"https?://[^\s<>\"']+")
TITLE_MAX = 60
CONTEXT = 24


def _around(text: str, start: int, end: int) -> str:
    shown = text[max(start - CONTEXT, 0) : end + CONTEXT]
    return " ".join(shown.split())


def leaks(text: str, where: str) -> list[str]:
    """Markup, template syntax or empty-value words in text a person reads."""
    problems = []
    for mark in LEAK_MARKS:
        at = text.find(mark)
        if at >= 0:
            problems.append(f"{where}: {mark!r} in the text: …{_around(text, at, at + len(mark))}…")
    prose = URL.sub(" ", text)
    for found in LEAK_WORDS.finditer(prose):
        problems.append(
            f"{where}: {found.group(1)!r} in the text: …{_around(prose, found.start(), found.end())}…"
        )
    return problems


def title_problems(title: str | None, where: str) -> list[str]:
    """A <title> is short plain text on one line: no markup, at most TITLE_MAX characters."""
    if title is None:
        return [f"{where}: no <title>"]
    problems = []
    if not title.strip():
        problems.append(f"{where}: the <title> is empty")
    if "\n" in title or "\r" in title:
        problems.append(f"{where}: the <title> spans lines: {title!r}")
    if len(title.strip()) > TITLE_MAX:
        problems.append(
            f"{where}: the <title> has {len(title.strip())} characters (at most {TITLE_MAX}): {title.strip()!r}"
        )
    problems += leaks(title, f"{where} <title>")
    return problems


def page_region_problems(headings: Sequence[str], main: str | None, where: str) -> list[str]:
    """Every page has a heading and content: at least one <h1>, none empty, a non-empty <main>."""
    problems = []
    if not headings:
        problems.append(f"{where}: no <h1>")
    problems += [f"{where}: an empty <h1>" for heading in headings if not heading.strip()]
    if main is None:
        problems.append(f"{where}: no <main>")
    elif not main.strip():
        problems.append(f"{where}: the <main> is empty")
    return problems


def mail_region_problems(subject: str, text: str, html_text: str, where: str) -> list[str]:
    """Every mail has a subject and a body, in its text part and in its HTML part."""
    problems = []
    if not subject.strip():
        problems.append(f"{where}: the subject is empty")
    if not text.strip():
        problems.append(f"{where}: the text part is empty")
    if not html_text.strip():
        problems.append(f"{where}: the HTML part shows no text")
    return problems


def page_problems(
    *, where: str, title: str | None, headings: Sequence[str], main: str | None, text: str
) -> list[str]:
    """Everything checked on one page, as the browser shows it (innerText, <title>)."""
    return [
        *leaks(text, where),
        *title_problems(title, where),
        *page_region_problems(headings, main, where),
    ]


def mail_problems(
    *, where: str, subject: str, text: str, html_title: str | None, html_text: str
) -> list[str]:
    """Everything checked on one mail: subject and text part as sent, the HTML part as shown."""
    return [
        *leaks(subject, f"{where} subject"),
        *leaks(text, f"{where} text part"),
        *leaks(html_text, f"{where} HTML part"),
        *title_problems(html_title, f"{where} HTML part"),
        *mail_region_problems(subject, text, html_text, where),
    ]


def all_problems(manifest: dict[str, list[dict[str, object]]]) -> list[str]:
    """Every problem of a gallery manifest (gallery.json): its pages and its mails."""
    found: list[str] = []
    for page in manifest.get("pages", []):
        found += page_problems(
            where=str(page["name"]),
            title=_optional(page.get("title")),
            headings=_strings(page.get("headings")),
            main=_optional(page.get("main")),
            text=str(page.get("text") or ""),
        )
    for mail in manifest.get("mails", []):
        found += mail_problems(
            where=str(mail["name"]),
            subject=str(mail.get("subject") or ""),
            text=str(mail.get("text") or ""),
            html_title=_optional(mail.get("html_title")),
            html_text=str(mail.get("html_text") or ""),
        )
    return found


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []
