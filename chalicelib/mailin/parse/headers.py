"""Header fields read from their raw text: addresses, message ids, RFC 2047 encoded words."""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from email.message import Message

from chalicelib.mailin.parse.charsets import decode_bytes

# The headers the desk relies on (From, To, Cc, Subject, the message ids) are
# read from their raw text by the small, linear parsers below, not by the
# stdlib: its structured headers parse in quadratic time (see mime.py), and
# `email.utils.getaddresses` on this Python still has the CVE-2023-27043
# confusions, while the sender address decides who may act on a case.
_MAX_HEADER_FIELDS = 1000  # top-level header fields read
_MAX_ADDRESS_HEADER = 16 * 1024  # characters of From / To / Cc read
_MAX_ID_HEADER = 64 * 1024  # References in a long thread
MAX_IDS = 200


def raw_headers(message: Message) -> dict[str, list[str]]:
    """Top-level header fields by lowercased name, unfolded, raw (encoded words left as they are)."""
    headers: dict[str, list[str]] = {}
    for count, (name, value) in enumerate(message.raw_items()):
        if count >= _MAX_HEADER_FIELDS:
            break
        text = _unescape_raw(str(value))
        text = re.sub(r"\r?\n(?=[ \t])", "", text).strip()
        headers.setdefault(str(name).strip().lower(), []).append(text)
    return headers


def _unescape_raw(value: str) -> str:
    """8-bit header bytes arrive as surrogate escapes: read them as UTF-8 (or Shift_JIS)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    for encoding in ("utf-8", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


_ADDRESS = re.compile(r"[^\s@<>()\[\]\\,;:\"]+@[^\s@<>()\[\]\\,;:\"]+")


def addresses_of(values: list[str], *, strict: bool) -> list[str]:
    """The addresses in address header fields, lowercased, each once.

    strict (the sender): nothing at all when any field or item cannot be read;
    otherwise unreadable fields and items are skipped.
    """
    found: list[str] = []
    for value in values:
        items = _address_items(value) if len(value) <= _MAX_ADDRESS_HEADER else None
        if items is None:
            if strict:
                return []
            continue
        for item in items:
            if _ADDRESS.fullmatch(item) is None:
                if strict:
                    return []
                continue
            lowered = item.lower()
            if lowered not in found:
                found.append(lowered)
    return found


def _address_items(value: str) -> list[str] | None:
    """Addr-specs in one field value: display names, quoted strings and comments are skipped.

    A small RFC 5322 scanner (linear): "," ";" ":" outside quotes, comments and
    angle brackets separate items (":" and ";" end a group's name and list);
    an item's address is the text inside its angle brackets, or the item
    itself when it has none. None for unbalanced quotes, comments or brackets.
    """
    items: list[str] = []
    bare: list[str] = []
    angle: list[str] | None = None
    angled: str | None = None
    depth = 0
    quoted = escaped = False

    def close_item() -> None:
        nonlocal angled
        items.append(angled if angled is not None else "".join(bare).strip())
        bare.clear()
        angled = None

    for ch in value:
        if escaped:
            escaped = False
            continue
        if quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            continue
        if depth:
            if ch == "\\":
                escaped = True
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            continue
        if angle is not None:
            if ch == ">":
                route, _, spec = "".join(angle).rpartition(":")
                angled = spec.strip() if route.startswith("@") or not route else None
                if angled is None:
                    return None
                angle = None
            elif ch == "<":
                return None
            else:
                angle.append(ch)
            continue
        if ch == '"':
            quoted = True
            bare.clear()  # a quoted display name, never an address
        elif ch == "(":
            depth = 1
        elif ch == "<":
            if angled is not None:
                return None
            angle = []
        elif ch in ",;:":
            close_item()
        elif ch == ">" or ch == ")":
            return None
        elif angled is None:
            bare.append(ch)
    if quoted or depth or angle is not None:
        return None
    close_item()
    return [item for item in items if item]


_MSG_ID = re.compile(r"<\s*([^<>\s]{1,998})\s*>")


def ids_of(value: str) -> list[str]:
    value = value[:_MAX_ID_HEADER]
    found = _MSG_ID.findall(value)
    if not found:
        bare = value.strip()
        if bare and len(bare) <= 998 and not any(ch.isspace() for ch in bare):
            found = [bare]
    return [str(item) for item in found[:MAX_IDS]]


_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]*)\?=")


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded (never raises); adjacent words of one charset joined first."""
    pieces: list[tuple[str, bytes | str]] = []  # (charset or "", bytes for encoded, str for text)
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        if between and not (between.isspace() and pieces and pieces[-1][0]):
            pieces.append(("", between))
        charset, kind, payload = match.group(1), match.group(2).lower(), match.group(3)
        charset = charset.split("*", 1)[0]  # RFC 2231 language suffix
        data = _b_decode(payload) if kind == "b" else _q_decode(payload)
        if pieces and pieces[-1][0].lower() == charset.lower():
            previous = pieces[-1][1]
            if isinstance(previous, bytes):
                pieces[-1] = (pieces[-1][0], previous + data)
                position = match.end()
                continue
        pieces.append((charset, data))
        position = match.end()
    if position < len(value):
        pieces.append(("", value[position:]))
    out = []
    for charset, piece in pieces:
        out.append(
            decode_bytes(piece, charset, strict=False) if isinstance(piece, bytes) else piece
        )
    return "".join(out)


def _b_decode(payload: str) -> bytes:
    data = payload.encode("ascii", "replace")
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return data


def _q_decode(payload: str) -> bytes:
    data = payload.encode("ascii", "replace").replace(b"_", b" ")
    return quopri.decodestring(data, header=False)
