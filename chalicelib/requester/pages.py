"""Rendering the requester's pages (templates/requester/) in ja, en or やさしい日本語, with the
headers every page carries."""

from __future__ import annotations

from datetime import date
from typing import Any

from markupsafe import Markup

from chalicelib.core.errors import FieldError
from chalicelib.core.messages import FIELD_LABELS, message_in
from chalicelib.core.receipt import JST
from chalicelib.core.settings import Settings
from chalicelib.core.text import ruby_base, ruby_html
from chalicelib.core.timefmt import parse_iso
from chalicelib.requester.i18n import (
    HTML_LANG,
    LANGUAGE_NAMES,
    LANGUAGES,
    NEXT_WORDS,
    STATUS_WORDS,
    UI,
)

WEEKDAYS = {
    "ja": "月火水木金土日",
    "easy": ("[月|げつ]", "[火|か]", "[水|すい]", "[木|もく]", "[金|きん]", "[土|ど]", "[日|にち]"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def headers() -> dict[str, str | list[str]]:
    """No script at all, nothing from elsewhere, never framed, never cached; the URL holds a
    token, so no referrer leaves the page."""
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def shown(text: str, lang: str) -> str:
    """A text for the page body: in やさしい日本語 its readings become <ruby> (safe HTML)."""
    return Markup(ruby_html(text)) if lang == "easy" else text


def plain(text: str, lang: str) -> str:
    """A text for a title or an attribute, where markup cannot go."""
    return ruby_base(text) if lang == "easy" else text


def day(value: date, lang: str) -> str:
    """A business day as people read it: 2026年12月1日（火） / Tue 1 Dec 2026."""
    weekday = WEEKDAYS[lang][value.weekday()]
    if lang == "en":
        return f"{weekday} {value.day} {MONTHS_EN[value.month - 1]} {value.year}"
    if lang == "easy":
        return f"{value.month}[月|がつ]{value.day}[日|にち]（{weekday}）"
    return f"{value.year}年{value.month}月{value.day}日（{weekday}）"


def moment(value: str, lang: str) -> str:
    """A stored timestamp in Japan time: 2026年11月26日 10:30 / 26 Nov 2026 10:30 (easy: with
    readings)."""
    local = parse_iso(value).astimezone(JST)
    clock = f"{local:%H:%M}"
    if lang == "en":
        return f"{local.day} {MONTHS_EN[local.month - 1]} {local.year} {clock}"
    if lang == "easy":
        return f"{local.year}[年|ねん]{local.month}[月|がつ]{local.day}[日|にち] {clock}"
    return f"{local.year}年{local.month}月{local.day}日 {clock}"


class Words:
    """The page's words in one language: `t.key` for the body, `tp.key` for titles."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def _raw(self, key: str, params: dict[str, Any]) -> str:
        if isinstance(params.get("status"), str) and params["status"] in STATUS_WORDS[self.lang]:
            params = {**params, "status": STATUS_WORDS[self.lang][params["status"]]}
        if params.get("at"):
            params = {**params, "at": moment(str(params["at"]), self.lang)}
        return UI[self.lang][key].format(**params) if params else UI[self.lang][key]

    def text(self, key: str, **params: Any) -> str:
        """The words of `key`; a `status` parameter naming a requester status is put in words."""
        return shown(self._raw(key, params), self.lang)

    def plain(self, key: str, **params: Any) -> str:
        return plain(self._raw(key, params), self.lang)

    def status(self, key: str) -> str:
        return shown(STATUS_WORDS[self.lang][key], self.lang)

    def status_plain(self, key: str) -> str:
        return plain(STATUS_WORDS[self.lang][key], self.lang)

    def next(self, key: str, when: date | None) -> str:
        raw = NEXT_WORDS[self.lang][key]
        if when is not None:
            raw = raw.format(date=day(when, self.lang))
        return shown(raw, self.lang)

    def language_name(self, code: str) -> str:
        """Each language by its own name; on a plain Japanese page with its reading."""
        if self.lang == "easy" and code == "ja":
            return shown("[日本語|にほんご]", self.lang)
        return LANGUAGE_NAMES[code]

    def when(self, value: str) -> str:
        return shown(moment(value, self.lang), self.lang)

    def label(self, field: str) -> str:
        return shown(FIELD_LABELS[field].get(self.lang), self.lang)

    def error(self, error: FieldError) -> str:
        return shown(message_in(error, self.lang), self.lang)


def render(
    template: str,
    *,
    lang: str,
    settings: Settings,
    depth: int,
    method: str,
    **context: Any,
) -> str:
    """One page; `depth`: how many path segments below /my/ the page is (for relative links)."""
    # Imported here: the JSON intake path never renders pages (cold start).
    from chalicelib.templating import environment

    if method == "HEAD":
        return ""  # HEAD answers the headers only
    words = Words(lang)
    return (
        environment()
        .get_template(f"requester/{template}.html")
        .render(
            lang=lang,
            html_lang=HTML_LANG[lang],
            jp=lang != "en",
            languages=[(code, words.language_name(code)) for code in LANGUAGES if code != lang],
            w=words,
            up="../" * depth,
            desk={"name": settings.desk_name, "contact": settings.desk_contact},
            **context,
        )
    )
