"""The MIME structure: size limits before the stdlib parser, the text parts, their decoding."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import errors as email_errors
from email.message import Message

from chalicelib.mailin.parse.charsets import decode_bytes
from chalicelib.mailin.parse.exceptions import MalformedMail

# The stdlib parser is only asked for the MIME structure, and only after
# `check_mime_headers`: `email.policy.default` parses structured headers in
# quadratic time on this Python (a 40 KB Content-Type takes seconds, 200 KB
# minutes), so every `Content-*` header is length-checked before it sees the message.
# Limits that keep the stdlib parser and the text handling linear and bounded.
_MAX_MIME_HEADER = 2048  # bytes of one unfolded Content-* header
_MAX_MIME_HEADERS_TOTAL = 128 * 1024  # bytes of all Content-* headers together
_MAX_PARTS = 256  # Content-Type headers in the whole message
_MAX_CONTAINERS = 64  # multipart/* and message/* parts
_MAX_DEPTH = 16  # nesting of multiparts
_MAX_DASH_LINES = 10_000  # lines starting with "--" (boundary lines: 1M empty parts take a minute)

_MIME_HEADER = re.compile(rb"^content-[a-z0-9-]*[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*", re.I | re.M)
_CONTAINER_TYPE = re.compile(rb"^content-type[ \t]*:[ \t\r\n]*(?:multipart|message)/", re.I)


def check_mime_headers(raw: bytes) -> None:
    """Refuse what would make the stdlib parser slow or deep: long or many Content-* headers.

    The stdlib also ends lines at a lone CR, so the scan reads a copy with every line end as LF.
    """
    raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if raw.startswith(b"--") + raw.count(b"\n--") > _MAX_DASH_LINES:
        raise MalformedMail("too many boundary lines")
    total = parts = containers = 0
    for match in _MIME_HEADER.finditer(raw):
        size = match.end() - match.start()
        if size > _MAX_MIME_HEADER:
            raise MalformedMail("a Content-* header is too long")
        total += size
        if total > _MAX_MIME_HEADERS_TOTAL:
            raise MalformedMail("too many Content-* headers")
        if match.group().lower().startswith(b"content-type"):
            parts += 1
            if _CONTAINER_TYPE.match(match.group()):
                containers += 1
    if parts > _MAX_PARTS:
        raise MalformedMail("too many MIME parts")
    if containers > _MAX_CONTAINERS:
        raise MalformedMail("too many nested MIME parts")


_FATAL_DEFECTS = (
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.MultipartInvariantViolationDefect,
)


def leaf_parts(message: Message) -> Iterator[Message]:
    """The non-multipart parts, depth first; attached messages are not entered."""
    count = 0
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > _MAX_PARTS or depth > _MAX_DEPTH:
            raise MalformedMail("too many or too deeply nested MIME parts")
        if any(isinstance(defect, _FATAL_DEFECTS) for defect in part.defects):
            raise MalformedMail("broken multipart structure")
        if part.get_content_maintype() == "multipart":
            children = part.get_payload()
            if not isinstance(children, list):
                raise MalformedMail("multipart without parts")
            # A string among the parts is a broken structure: nothing to read there.
            stack.extend(
                (child, depth + 1) for child in reversed(children) if isinstance(child, Message)
            )
        elif part.get_content_maintype() != "message":
            yield part


def part_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    text = decode_bytes(data, part.get_content_charset(), strict=True)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if part.get_content_type() == "text/plain":
        flowed = str(part.get_param("format", "") or "").lower() == "flowed"
        if flowed:
            delsp = str(part.get_param("delsp", "") or "").lower() == "yes"
            text = _unflow(text, delsp=delsp)
    return text


def _unflow(text: str, *, delsp: bool) -> str:
    """RFC 3676 format=flowed: soft line breaks joined, space-stuffing removed."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]
        if pending is not None and depth != pending_depth:
            out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
            pending = None
        joined = body if pending is None else pending + body
        soft = joined.endswith(" ") and body != "-- "
        if soft:
            pending = joined[:-1] if delsp else joined
            pending_depth = depth
        else:
            out.append(">" * depth + (" " if depth else "") + joined)
            pending = None
    if pending is not None:
        out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
    return "\n".join(out)
