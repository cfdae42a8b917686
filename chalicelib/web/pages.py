"""Rendering the form's pages and the headers every page carries."""

from __future__ import annotations

from typing import Any

from chalicelib.config import Deployment, Settings
from chalicelib.domain.messages import FIELD_LABELS
from chalicelib.errors import FieldError
from chalicelib.templating import environment
from chalicelib.web.formdata import FIELD_ORDER
from chalicelib.web.i18n import UI


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


def choices(deployment: Deployment, lang: str) -> dict[str, list[tuple[str, str]]]:
    def pick(table: dict[str, Any]) -> list[tuple[str, str]]:
        return [(key, label.ja if lang == "ja" else label.en) for key, label in table.items()]

    return {
        "requester_type": pick(deployment.requester_types),
        "municipality": pick(deployment.municipalities),
        # Only what is still offered (an admin may deactivate entries).
        "support_types": pick(deployment.active_support_types()),
        "category": pick(deployment.active_categories()),
        "preferred_format": pick(deployment.preferred_formats),
    }


def field_labels(lang: str) -> dict[str, str]:
    return {name: (ja if lang == "ja" else en) for name, (ja, en, _) in FIELD_LABELS.items()}


def error_view(errors: list[FieldError], lang: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Errors in page order for the summary, and one message per field beside it."""
    by_field: dict[str, str] = {}
    for err in errors:
        by_field.setdefault(err.field, err.message if lang == "ja" else err.message_en)
    ordered = sorted(
        by_field, key=lambda f: FIELD_ORDER.index(f) if f in FIELD_ORDER else len(FIELD_ORDER)
    )
    labels = field_labels(lang)
    summary = [
        {"field": f, "label": labels.get(f, f), "message": by_field[f], "known": f in FIELD_ORDER}
        for f in ordered
    ]
    return summary, by_field


def render_page(
    template: str,
    *,
    lang: str,
    embed: bool,
    settings: Settings,
    deployment: Deployment,
    **context: Any,
) -> str:
    return (
        environment()
        .get_template(f"form/{template}.html")
        .render(
            lang=lang,
            other_lang="en" if lang == "ja" else "ja",
            embed=embed,
            t=UI[lang],
            labels=field_labels(lang),
            choices=choices(deployment, lang),
            desk={"name": settings.desk_name, "contact": settings.desk_contact},
            notice_version=deployment.privacy_notice_version,
            contact_days=deployment.expected_contact_business_days,
            **context,
        )
    )
