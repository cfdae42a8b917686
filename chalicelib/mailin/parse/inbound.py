"""One raw message read into an `InboundMail`: the concerns of the package put together."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser

from chalicelib.mailin.parse.exceptions import MalformedMail
from chalicelib.mailin.parse.headers import MAX_IDS, addresses_of, decode_words, ids_of, raw_headers
from chalicelib.mailin.parse.html_text import html_to_text
from chalicelib.mailin.parse.machine_mail import machine_mail_reason
from chalicelib.mailin.parse.mime import check_mime_headers, leaf_parts, part_text
from chalicelib.mailin.parse.quoting import strip_quoted_text

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

_MAX_SUBJECT = 4096
_MAX_TEXT = 1_000_000  # characters of the chosen body part kept before stripping
_MAX_HTML = 4_000_000  # characters of HTML turned into text


@dataclass(frozen=True)
class InboundMail:
    message_id: str | None  # the Message-ID header, stripped of <>
    sender: str | None  # the address in From (lowercased), None if unparseable
    recipients: list[str]  # addresses in To + Cc (lowercased)
    subject: str  # decoded, "" if none
    in_reply_to: list[str]  # ids from In-Reply-To and References, stripped of <>
    text: str  # the new text the person wrote
    automatic: str | None  # why this is machine mail that must be dropped, else None


def parse_inbound(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> InboundMail:
    """Read one raw message; raises MalformedMail (and nothing else) when it cannot be read."""
    try:
        return _parse(raw, max_bytes)
    except MalformedMail:
        raise
    except Exception as exc:  # whatever the stdlib raises on hostile input
        raise MalformedMail(f"unreadable message ({type(exc).__name__})") from exc


def _parse(raw: bytes, max_bytes: int) -> InboundMail:
    if not isinstance(raw, bytes | bytearray):
        raise MalformedMail("not bytes")
    if len(raw) > max_bytes:
        raise MalformedMail(f"message larger than {max_bytes} bytes")
    raw = bytes(raw)
    check_mime_headers(raw)
    message = BytesParser(policy=policy.default).parsebytes(raw)
    headers = raw_headers(message)
    if not headers:
        raise MalformedMail("no header fields")

    senders = addresses_of(headers.get("from", []), strict=True)
    sender = senders[0] if len(senders) == 1 else None
    recipients = addresses_of(headers.get("to", []) + headers.get("cc", []), strict=False)
    subject = " ".join(decode_words(value[:_MAX_SUBJECT]) for value in headers.get("subject", []))
    subject = re.sub(r"\s+", " ", subject).strip()
    message_ids = ids_of(" ".join(headers.get("message-id", [])[:1]))
    in_reply_to: list[str] = []
    for name in ("in-reply-to", "references"):
        for value in headers.get(name, []):
            for found in ids_of(value):
                if found not in in_reply_to and len(in_reply_to) < MAX_IDS:
                    in_reply_to.append(found)

    automatic = machine_mail_reason(message, headers, sender, subject)
    try:
        text = _body_text(message)
    except MalformedMail:
        if automatic is None:
            raise
        text = ""  # machine mail is dropped anyway: no alert for its broken body
    return InboundMail(
        message_id=message_ids[0] if message_ids else None,
        sender=sender,
        recipients=recipients,
        subject=subject,
        in_reply_to=in_reply_to,
        text=text,
        automatic=automatic,
    )


def _body_text(message: Message) -> str:
    """The first inline text/plain part with text, else the first text/html part, stripped."""
    markup: Message | None = None
    for part in leaf_parts(message):
        if part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            text = part_text(part)
            if text.strip():
                return strip_quoted_text(text[:_MAX_TEXT])
        elif kind == "text/html" and markup is None:
            markup = part
    if markup is not None:
        return strip_quoted_text(html_to_text(part_text(markup)[:_MAX_HTML])[:_MAX_TEXT])
    return ""
