"""Rendering mail from templates/ into real MIME messages (Jinja2 + email.message)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

import jinja2

from chalicelib.core.deployment import Deployment
from chalicelib.core.settings import Settings
from chalicelib.core.timefmt import parse_iso
from chalicelib.templating import environment, label_lookup


class HeaderInjection(ValueError):
    """A rendered header value held a line break; the message is not built."""


class RenderError(ValueError):
    """A template failed (missing template or value); fixed by a deploy, not by retrying now."""


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render(
    template: str, context: dict[str, Any], *, settings: Settings, deployment: Deployment
) -> RenderedMail:
    env = environment()
    full = {
        **context,
        "desk": {"name": settings.desk_name, "contact": settings.desk_contact},
        "label": label_lookup(deployment),
        "expected_contact_business_days": deployment.expected_contact_business_days,
        # Every mail about a case in progress can say how many consultations remain.
        "max_sessions": settings.max_sessions,
    }
    try:
        subject = env.get_template(f"mail/{template}.subject.txt").render(full).strip()
        return RenderedMail(
            subject=subject,
            text=env.get_template(f"mail/{template}.txt").render(full),
            html=env.get_template(f"mail/{template}.html").render(full),
        )
    except jinja2.TemplateError as exc:
        raise RenderError(f"{template}: {type(exc).__name__}") from exc


def _header_safe(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise HeaderInjection("line break in a header value")
    return value


def case_root_id(receipt_number: str, domain: str) -> str:
    """The Message-ID every mail about one case refers to, so clients thread them together."""
    return f"<{receipt_number}@{domain}>"


def build_mime(
    rendered: RenderedMail,
    *,
    to: list[str],
    receipt_number: str,
    message_id: str,
    created_at: str,
    settings: Settings,
    reply_to: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message; only our own values reach the headers.

    Recipients are addresses that passed validation (never display names), the
    subject comes from a template that prints no user text, and every header
    value is checked for line breaks once more before it is set.
    """
    msg = EmailMessage()
    name, address = parseaddr(settings.mail_from)
    msg["From"] = _header_safe(formataddr((name, address)) if name else address)
    msg["To"] = _header_safe(", ".join(to))
    msg["Subject"] = _header_safe(rendered.subject)
    if reply_to:
        # The per-case address: a reply reaches the desk's inbound handler.
        msg["Reply-To"] = _header_safe(reply_to)
    msg["Date"] = format_datetime(parse_iso(created_at))
    root = case_root_id(receipt_number, settings.mail_domain)
    msg["Message-ID"] = f"<{receipt_number}.{message_id}@{settings.mail_domain}>"
    msg["In-Reply-To"] = root
    msg["References"] = root
    # RFC 3834: machine-sent; well-behaved auto-responders stay quiet.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Content-Language"] = "ja"
    msg.set_content(rendered.text, charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return msg
