"""Rendering the form's pages and the headers every page carries."""

from __future__ import annotations

from typing import Any

from chalicelib.core.consultation import MAX_MESSAGE
from chalicelib.core.deployment import Deployment, Label
from chalicelib.core.errors import FieldError
from chalicelib.core.messages import FIELD_LABELS, message_in
from chalicelib.core.settings import Settings
from chalicelib.core.text import ruby_base, ruby_html, ruby_plain
from chalicelib.intake.formdata import FIELD_ORDER
from chalicelib.intake.i18n import HTML_LANG, LANGUAGE_NAMES, LANGUAGES, UI
from chalicelib.templating import environment


def security_headers(settings: Settings) -> dict[str, str]:
    """Strict CSP (no inline script or style, nothing from third parties), framing only by
    the configured origins, no caching of pages that show personal data."""
    ancestors = " ".join(["'self'", *settings.allowed_origins])
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; "
            f"frame-ancestors {ancestors}"
        ),
        "X-Content-Type-Options": "nosniff",
        # same-origin, not no-referrer: with no-referrer Chromium sends
        # `Origin: null` on the form's own posts, which the origin check refuses.
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _shown(text: str, lang: str) -> str:
    """A text for the page: in やさしい日本語 its readings become <ruby> (safe HTML)."""
    if lang != "easy":
        return text
    from markupsafe import Markup

    return Markup(ruby_html(text))


def choices(deployment: Deployment, lang: str) -> dict[str, list[tuple[str, str]]]:
    def pick(table: dict[str, Label], *, plain: bool = False) -> list[tuple[str, str]]:
        # A <select>'s options hold text only: readings in brackets there.
        return [
            (key, ruby_plain(label.get(lang)) if plain else _shown(label.get(lang), lang))
            for key, label in table.items()
        ]

    return {
        "requester_type": pick(deployment.requester_types),
        "municipality": pick(deployment.municipalities, plain=True),
        # Only what is still offered (an admin may deactivate entries).
        "support_types": pick(deployment.active_support_types()),
        "category": pick(deployment.active_categories()),
        "preferred_format": pick(deployment.preferred_formats),
    }


def field_labels(lang: str) -> dict[str, str]:
    return {name: _shown(label.get(lang), lang) for name, label in FIELD_LABELS.items()}


def error_view(errors: list[FieldError], lang: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Errors in page order for the summary, and one message per field beside it.

    The summary shows each field's own message, word for word (the message
    already names the field)."""
    by_field: dict[str, str] = {}
    for err in errors:
        by_field.setdefault(err.field, _shown(message_in(err, lang), lang))
    ordered = sorted(
        by_field, key=lambda f: FIELD_ORDER.index(f) if f in FIELD_ORDER else len(FIELD_ORDER)
    )
    summary = [{"field": f, "message": by_field[f], "known": f in FIELD_ORDER} for f in ordered]
    return summary, by_field


def page_texts(lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """The page's words: for the page body (with readings as <ruby> in やさしい日本語), and
    as plain text for titles and attributes, where markup cannot go."""
    words = UI[lang]
    if lang != "easy":
        return words, words
    return (
        {key: _shown(value, lang) for key, value in words.items()},
        {key: ruby_base(value) for key, value in words.items()},
    )


def render_page(
    template: str,
    *,
    lang: str,
    embed: bool,
    settings: Settings,
    deployment: Deployment,
    **context: Any,
) -> str:
    t, plain = page_texts(lang)
    return (
        environment()
        .get_template(f"form/{template}.html")
        .render(
            lang=lang,
            html_lang=HTML_LANG[lang],
            # Japanese punctuation in headings and lists for ja and easy.
            jp=lang != "en",
            languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES if code != lang],
            embed=embed,
            t=t,
            tp=plain,
            labels=field_labels(lang),
            choices=choices(deployment, lang),
            desk={"name": settings.desk_name, "contact": settings.desk_contact},
            notice_version=deployment.privacy_notice_version,
            contact_days=deployment.expected_contact_business_days,
            max_message=MAX_MESSAGE,
            **context,
        )
    )
