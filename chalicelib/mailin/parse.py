"""Reading one raw inbound message (bytes, as SES stores it in S3) into what the desk needs (pure).

`parse_inbound` returns the sender, the recipients, the thread ids, whether the
message is machine mail that must be dropped (auto-reply, bounce, list), and
the new text the person wrote: the plain part (or the HTML part turned into
text), with quoted text, the reply header of the person's mail client and
signature-ish trailers removed.

Anything wrong with the message raises `MalformedMail` and nothing else: the
stdlib parser is only asked for the MIME structure; the headers the desk
relies on (From, To, Cc, Subject, the message ids) are read from their raw
text by the small, linear parsers below. Two reasons, both measured on the
Python this project runs:
- `email.policy.default` parses structured headers in quadratic time (a
  40 KB Content-Type takes seconds, 200 KB minutes), so every `Content-*`
  header is length-checked before the stdlib sees the message;
- `email.utils.getaddresses` on this Python still has the CVE-2023-27043
  confusions, and the sender address decides who may act on a case.
HTML is turned into text by a small linear tokenizer rather than
`html.parser`, which is quadratic on unterminated constructs on this Python
(CVE-2025-6069: 100 KB of `<!--` takes seconds).

Quoted text: `>` lines go wherever they are (so bottom-posted and inline
answers keep their new text); an attribution line ("On … wrote:",
"… さんは書きました:", "…のメール:", Gmail's "2026年11月26日(木) 10:00 名前 <a@b>:",
also wrapped over two or three lines) goes with them, and when no `>` lines
follow a clearly dated or addressed attribution, the rest is taken to be the
quoted original; Outlook's separators ("-----Original Message-----",
"-----元のメッセージ-----", a line of underscores) and its header block
("From:/Sent:/To:/Subject:", "差出人:/送信日時:/宛先:/件名:", half- or
full-width colons) cut the rest. Signatures: everything from a "-- " line,
trailing "iPhoneから送信" / "Sent from my …" lines, and a trailing block framed
by two rule lines (━━━ / ---- / ==== …), the usual Japanese business
signature.

mail-parser-reply (the multilingual fork of email_reply_parser) was tried
first: of the client formats the desk sees it recognises Gmail (Japanese and
English), Thunderbird English and Outlook's English header block, but none of
Outlook's Japanese header block, Thunderbird Japanese, iPhone Japanese or a
wrapped Gmail attribution, and it cuts a note at any two lines that start
with "To:"/"Cc:"; quotequail knows no Japanese and needs lxml. The patterns
are therefore kept here, in one place, with a test per client.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import errors as email_errors
from email import policy
from email.message import Message
from email.parser import BytesParser

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# Limits that keep the stdlib parser and the text handling linear and bounded.
_MAX_MIME_HEADER = 2048  # bytes of one unfolded Content-* header
_MAX_MIME_HEADERS_TOTAL = 128 * 1024  # bytes of all Content-* headers together
_MAX_PARTS = 256  # Content-Type headers in the whole message
_MAX_CONTAINERS = 64  # multipart/* and message/* parts
_MAX_DEPTH = 16  # nesting of multiparts
_MAX_DASH_LINES = 10_000  # lines starting with "--" (boundary lines: 1M empty parts take a minute)
_MAX_HEADER_FIELDS = 1000  # top-level header fields read
_MAX_ADDRESS_HEADER = 16 * 1024  # characters of From / To / Cc read
_MAX_SUBJECT = 4096
_MAX_ID_HEADER = 64 * 1024  # References in a long thread
_MAX_IDS = 200
_MAX_TEXT = 1_000_000  # characters of the chosen body part kept before stripping
_MAX_HTML = 4_000_000  # characters of HTML turned into text
_MAX_TAG = 4096  # attributes of longer tags are not read
_MAX_PATTERN_LINE = 400  # attribution and header patterns only look at short lines


class MalformedMail(ValueError):
    """The message cannot be read safely (broken MIME, undecodable text, oversize)."""


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
    _check_mime_headers(raw)
    message = BytesParser(policy=policy.default).parsebytes(raw)
    headers = _raw_headers(message)
    if not headers:
        raise MalformedMail("no header fields")

    senders = _addresses_of(headers.get("from", []), strict=True)
    sender = senders[0] if len(senders) == 1 else None
    recipients = _addresses_of(headers.get("to", []) + headers.get("cc", []), strict=False)
    subject = " ".join(_decode_words(value[:_MAX_SUBJECT]) for value in headers.get("subject", []))
    subject = re.sub(r"\s+", " ", subject).strip()
    message_ids = _message_ids(" ".join(headers.get("message-id", [])[:1]))
    in_reply_to: list[str] = []
    for name in ("in-reply-to", "references"):
        for value in headers.get(name, []):
            for found in _message_ids(value):
                if found not in in_reply_to and len(in_reply_to) < _MAX_IDS:
                    in_reply_to.append(found)

    automatic = _automatic(message, headers, sender, subject)
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


# --- what the stdlib parser is allowed to see --------------------------------

_MIME_HEADER = re.compile(rb"^content-[a-z0-9-]*[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*", re.I | re.M)
_CONTAINER_TYPE = re.compile(rb"^content-type[ \t]*:[ \t\r\n]*(?:multipart|message)/", re.I)


def _check_mime_headers(raw: bytes) -> None:
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


def _raw_headers(message: Message) -> dict[str, list[str]]:
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


# --- addresses, ids, encoded words -------------------------------------------

_ADDRESS = re.compile(r"[^\s@<>()\[\]\\,;:\"]+@[^\s@<>()\[\]\\,;:\"]+")


def _addresses_of(values: list[str], *, strict: bool) -> list[str]:
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


def _message_ids(value: str) -> list[str]:
    value = value[:_MAX_ID_HEADER]
    found = _MSG_ID.findall(value)
    if not found:
        bare = value.strip()
        if bare and len(bare) <= 998 and not any(ch.isspace() for ch in bare):
            found = [bare]
    return [str(item) for item in found[:_MAX_IDS]]


_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]*)\?=")


def _decode_words(value: str) -> str:
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
            _decode_bytes(piece, charset, strict=False) if isinstance(piece, bytes) else piece
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


# --- charsets ------------------------------------------------------------------

# Labels mail clients use that Python does not know.
_LABEL_ALIASES = {
    "windows-31j": "cp932",
    "x-sjis": "cp932",
    "x-ms-cp932": "cp932",
    "x-euc-jp": "euc_jp",
    "euc-jp-ms": "euc_jp",
    "iso-2022-jp-ms": "iso2022_jp",
    "cp50220": "iso2022_jp",
    "cp50221": "iso2022_jp",
    "cp50222": "iso2022_jp",
    "unicode-1-1-utf-8": "utf-8",
}
# Charset labels as mail clients write them → the codecs to try, in order.
_CHARSET_CHAINS: dict[str, tuple[str, ...]] = {
    "ascii": ("utf-8", "cp932"),  # "us-ascii" is often a lie
    "utf_8": ("utf-8",),
    "shift_jis": ("cp932", "shift_jis_2004"),
    "cp932": ("cp932", "shift_jis_2004"),
    "shift_jis_2004": ("shift_jis_2004", "cp932"),
    "shift_jisx0213": ("shift_jisx0213", "cp932"),
    "euc_jp": ("euc_jp", "euc_jis_2004"),
    "euc_jis_2004": ("euc_jis_2004", "euc_jp"),
    "latin_1": ("cp1252", "latin-1"),
    "iso8859_1": ("cp1252", "latin-1"),
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "euc_kr": ("cp949",),
}
# Text codecs that are no mail charset and could do surprising things.
_REFUSED_CODECS = frozenset(
    {"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "mbcs", "oem"}
)
_ISO2022JP = frozenset(
    {
        "iso2022_jp",
        "iso2022_jp_1",
        "iso2022_jp_2",
        "iso2022_jp_3",
        "iso2022_jp_2004",
        "iso2022_jp_ext",
    }
)


def _decode_bytes(data: bytes, charset: str | None, *, strict: bool) -> str:
    """Text of `data` in `charset`; an unknown charset is read as UTF-8, or (strict) refused."""
    label = (charset or "us-ascii").strip().strip("\"'").lower()
    try:
        name = codecs.lookup(_LABEL_ALIASES.get(label, label)).name.replace("-", "_")
    except (LookupError, ValueError):
        name = ""
    if name in _ISO2022JP:
        try:
            return data.decode(name)
        except UnicodeDecodeError:
            return _decode_iso2022jp(data)
    if not name or name in _REFUSED_CODECS:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            if strict:
                raise MalformedMail(f"unknown charset {label[:40]!r}") from None
            return data.decode("utf-8", "replace")
    chain = _CHARSET_CHAINS.get(name, (name,))
    for codec in chain:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    try:
        return data.decode(chain[0], "replace")
    except LookupError:  # a codec that is no text encoding (e.g. "rot13")
        if strict:
            raise MalformedMail(f"charset {label[:40]!r} is no text encoding") from None
        return data.decode("utf-8", "replace")


_ISO2022_ESCAPE = re.compile(rb"\x1b(\$[@B]|\$\(D|\([BJI])")


def _decode_iso2022jp(data: bytes) -> str:
    """ISO-2022-JP as Japanese mail clients write it (with the NEC and IBM additions of CP932).

    Outlook and others label mail ISO-2022-JP yet use characters such as ①
    or ㈱ from row 13, which Python's strict codec refuses: JIS X 0208 runs
    are turned into Shift_JIS and read as CP932, as ISO-2022-JP-MS does.
    """
    out: list[str] = []
    mode = b"(B"
    position = 0
    for match in _ISO2022_ESCAPE.finditer(data):
        out.append(_iso2022_run(data[position : match.start()], mode))
        mode = match.group(1)
        position = match.end()
    out.append(_iso2022_run(data[position:], mode))
    return "".join(out)


def _iso2022_run(run: bytes, mode: bytes) -> str:
    if not run:
        return ""
    if mode in (b"$B", b"$@"):
        sjis = bytearray()
        for line in run.split(b"\n"):  # a line end between two-byte pairs (broken, but seen)
            if sjis:
                sjis += b"\n"
            for i in range(0, len(line) - 1, 2):
                j1, j2 = line[i], line[i + 1]
                if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
                    sjis += b"?"
                    continue
                s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
                s2 = j2 + (0x1F if j1 % 2 else 0x7E)
                if j1 % 2 and s2 >= 0x7F:
                    s2 += 1
                sjis += bytes((s1, s2))
        return bytes(sjis).decode("cp932", "replace")
    if mode == b"(I":
        return "".join(chr(0xFF61 + b - 0x21) if 0x21 <= b <= 0x5F else chr(b) for b in run)
    return run.decode("ascii", "replace")


# --- the body ------------------------------------------------------------------

_FATAL_DEFECTS = (
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.MultipartInvariantViolationDefect,
)


def _body_text(message: Message) -> str:
    """The first inline text/plain part with text, else the first text/html part, stripped."""
    markup: Message | None = None
    for part in _leaf_parts(message):
        if part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            text = _part_text(part)
            if text.strip():
                return strip_quoted_text(text[:_MAX_TEXT])
        elif kind == "text/html" and markup is None:
            markup = part
    if markup is not None:
        return strip_quoted_text(html_to_text(_part_text(markup)[:_MAX_HTML])[:_MAX_TEXT])
    return ""


def _leaf_parts(message: Message) -> Iterator[Message]:
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


def _part_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    text = _decode_bytes(data, part.get_content_charset(), strict=True)
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


# --- HTML to text ------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_RAW_TEXT_TAGS = frozenset({"script", "style", "textarea", "title", "xmp"})
_HIDDEN_TAGS = frozenset({"head", "template", "noscript", "object", "svg", "math"})
# Containers of quoted text or of the sender's signature, dropped with their content.
_QUOTE_CLASSES = frozenset(
    {
        "gmail_quote",
        "gmail_quote_container",
        "gmail_attr",
        "gmail_signature",
        "moz-cite-prefix",
        "moz-signature",
        "moz-forward-container",
        "yahoo_quoted",
        "protonmail_quote",
    }
)
_QUOTE_IDS = frozenset({"mail-editor-reference-message-container"})
# Where Outlook's reply header starts: everything from here on is the original.
_STOP_IDS = frozenset({"divrplyfwdmsg", "x_divrplyfwdmsg", "appendonsend", "stopspelling"})
_STOP_CLASSES = frozenset({"outlookmessageheader"})
_OUTLOOK_BORDER = re.compile(r"border-top\s*:\s*solid\s+#(?:e1e1e1|b5c4df)", re.I)
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9:_-]{0,40}")
_ATTRIBUTE = re.compile(r"([^\s=/>\"']+)\s*(?:=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")
_COLLAPSE = re.compile(r"[ \t\n\r\f]+")


class _TextSink:
    """Lines of text; a soft break ends a line only when it has text (block elements)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current: list[str] = []
        self.content = False  # the current line has more than collapsible spaces
        self.space = False  # the current line ends with a collapsible space

    def data(self, text: str, *, pre: bool) -> None:
        if pre:
            first, *rest = text.split("\n")
            self._append(first)
            for line in rest:
                self.hard_break()
                self._append(line)
            return
        text = _COLLAPSE.sub(" ", text)
        if not self.content or self.space:
            text = text.lstrip(" ")
        if text:
            self._append(text)
            self.space = text.endswith(" ")

    def _append(self, text: str) -> None:
        if text:
            self.current.append(text)
            self.content = True
            self.space = False

    def soft_break(self) -> None:
        if self.content:
            self.hard_break()

    def hard_break(self) -> None:
        self.lines.append("".join(self.current))
        self.current = []
        self.content = self.space = False

    def text(self) -> str:
        self.soft_break()
        return "\n".join(line.replace("\xa0", " ").rstrip() for line in self.lines)


def html_to_text(markup: str) -> str:
    """Text of an HTML mail body: blocks as lines, quote containers and Outlook's reply header dropped.

    A tolerant tokenizer in linear time (see the module docstring for why not html.parser).
    """
    sink = _TextSink()
    lower = markup.lower()
    stack: list[tuple[str, bool]] = []  # (tag, hides its content)
    hidden = 0
    pre = 0
    position = 0
    length = len(markup)
    while position < length:
        start = markup.find("<", position)
        if start < 0:
            start = length
        if start > position and not hidden:
            sink.data(html.unescape(markup[position:start]), pre=pre > 0)
        if start >= length:
            break
        if markup.startswith("<!--", start):
            end = markup.find("-->", start + 4)
            if end < 0:
                break
            position = end + 3
            continue
        following = markup[start + 1 : start + 2]
        if following in ("!", "?") or (
            following == "/" and markup[start + 2 : start + 3].isalpha()
        ):
            end = markup.find(">", start)
            if end < 0:
                break
            if following == "/":
                name_match = _TAG_NAME.match(markup, start + 2)
                name = name_match.group().lower() if name_match else ""
                hidden, pre = _close(name, stack, sink, hidden, pre)
            position = end + 1
            continue
        if not following.isalpha():
            if not hidden:
                sink.data("<", pre=pre > 0)
            position = start + 1
            continue
        end = markup.find(">", start)
        if end < 0:
            break
        name_match = _TAG_NAME.match(markup, start + 1)
        name = name_match.group().lower() if name_match else ""
        tag = markup[start + 1 : end]
        position = end + 1
        attributes = _attributes(tag[len(name) :]) if len(tag) <= _MAX_TAG else {}
        if not hidden and _is_stop(name, attributes):
            break
        if name in _RAW_TEXT_TAGS:
            close = lower.find("</" + name, position)
            if close < 0:
                break
            close_end = markup.find(">", close)
            position = close_end + 1 if close_end >= 0 else length
            continue
        if name == "body":
            stack.clear()
            hidden = 0
            pre = 0
        if name in _BLOCK_TAGS and not hidden:
            sink.soft_break()
        if name == "br" and not hidden:
            sink.hard_break()
        if name in _VOID_TAGS or tag.endswith("/"):
            continue
        hides = name in _HIDDEN_TAGS or name == "blockquote" or _is_quote_container(attributes)
        stack.append((name, hides))
        hidden += hides
        pre += name == "pre"
    return sink.text()


def _close(
    name: str, stack: list[tuple[str, bool]], sink: _TextSink, hidden: int, pre: int
) -> tuple[int, int]:
    """Pop `name` and what was left open inside it; an end tag never opened is ignored."""
    if any(open_name == name for open_name, _ in stack):
        while stack:
            open_name, hides = stack.pop()
            hidden -= hides
            pre -= open_name == "pre"
            if open_name == name:
                break
    if not hidden:
        if name == "br":
            sink.hard_break()
        elif name in _BLOCK_TAGS:
            sink.soft_break()
    return hidden, pre


def _attributes(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(text):
        name = match.group(1).lower()
        value = match.group(2) or ""
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        found.setdefault(name, html.unescape(value))
    return found


def _classes(attributes: dict[str, str]) -> set[str]:
    return {token.lower() for token in attributes.get("class", "").split()}


def _is_quote_container(attributes: dict[str, str]) -> bool:
    if not attributes:
        return False
    return bool(_classes(attributes) & _QUOTE_CLASSES) or (
        attributes.get("id", "").lower() in _QUOTE_IDS
    )


def _is_stop(name: str, attributes: dict[str, str]) -> bool:
    if not attributes:
        return False
    if attributes.get("id", "").lower() in _STOP_IDS or _classes(attributes) & _STOP_CLASSES:
        return True
    return name == "div" and _OUTLOOK_BORDER.search(attributes.get("style", "")) is not None


# --- quoted text and signatures ------------------------------------------------------

_QUOTED_LINE = re.compile(r"^[ \t]*[>＞]")
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:original message|forwarded message|元のメッセージ|オリジナルメッセージ|"
    r"転送されたメッセージ|転送メッセージ|メッセージ原文)\s*-{2,}\s*$",
    re.I,
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_HEADER_FROM = re.compile(r"^\s*\*?\s*(?:from|差出人|送信者|送信元)\s*\*?\s*[:：]", re.I)
_HEADER_OTHER = re.compile(
    r"^\s*\*?\s*(?:sent|date|to|cc|subject|送信日時|送信日|日付|日時|宛先|件名)\s*\*?\s*[:：]",
    re.I,
)
# An attribution that names an address, or a date or time, is certainly one.
_ADDRESSED = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_DATED = re.compile(r"<[^<>\s]+@[^<>\s]+>|\d{1,2}[:：]\d{2}|\d{4}[/年.-]\d{1,2}")
# Attribution lines, matched on one line or two or three lines joined (clients wrap them),
# each with what makes it certain.
_ATTRIBUTIONS = (
    (re.compile(r"^on\s.{2,300}\swrote\s*:$", re.I), _DATED),  # Gmail, Apple Mail, Thunderbird
    (re.compile(r"^.{1,300}\swrote\s*:$", re.I), _DATED),  # "Name wrote:" (Thunderbird)
    (re.compile(r"^.{1,300}(?:さん|様)?は書きました\s*[:：]$"), _DATED),  # Thunderbird (ja)
    (re.compile(r"^.{1,300}のメール\s*[:：]$"), _DATED),  # iPhone / Apple Mail (ja)
    # Gmail (ja): "2026年11月26日(木) 10:00 名前 <a@b>:" (its date alone proves nothing)
    (re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日.{0,12}\d{1,2}[:：]\d{2}.{0,300}[:：]$"), _ADDRESSED),
)
_SIGNATURE_DASHES = re.compile(r"^--\s*$")
_SENT_FROM = re.compile(
    r"^\s*(?:sent from my .{1,40}|sent from (?:mail|outlook) for .{1,30}|get outlook for .{1,30}|"
    r"(?:iphone|ipad|android|galaxy|xperia|aquos|arrows|スマートフォン|スマホ|携帯|モバイル)"
    r"から送信(?:しました)?|outlook for (?:ios|android) を入手|windows 版?の?メールから送信|"
    r"yahoo!?\s?メール(?:アプリ)?から送信)\s*$",
    re.I,
)
_RULE = re.compile(r"^\s*[-=_~*#━─═＝＿〜～＊＃◆◇■□●○☆★]{8,}\s*$")
_MAX_SIGNATURE_LINES = 12


def strip_quoted_text(text: str) -> str:
    """The new text of a reply: quoted text, reply headers and signature-ish trailers removed."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = lines[: _outlook_cut(lines)]
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _QUOTED_LINE.match(line):
            index += 1
            continue
        span, strong = _attribution(lines, index)
        if span:
            following = next((i for i in range(index + span, len(lines)) if lines[i].strip()), None)
            if following is None or _QUOTED_LINE.match(lines[following]):
                index += span
                continue
            if strong:
                break  # quoted without ">": the rest is the original
        kept.append(line)
        index += 1
    kept = _strip_signature(kept)
    out: list[str] = []
    for line in kept:
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    return "\n".join(out).strip("\n").strip()


def _outlook_cut(lines: list[str]) -> int:
    """Index of Outlook's separator or reply header block, or len(lines)."""
    for index, line in enumerate(lines):
        if len(line) > _MAX_PATTERN_LINE:
            continue
        if _SEPARATOR.match(line):
            return index
        if _UNDERSCORES.match(line):
            nearby = [other for other in lines[index + 1 : index + 4] if other.strip()][:2]
            if any(_HEADER_FROM.match(other) for other in nearby):
                return index
        if _HEADER_FROM.match(line):
            window = lines[index + 1 : index + 4]
            if any(
                len(other) <= _MAX_PATTERN_LINE and _HEADER_OTHER.match(other) for other in window
            ):
                return index
    return len(lines)


def _attribution(lines: list[str], index: int) -> tuple[int, bool]:
    """(lines the attribution at `index` spans, whether it is certainly one); (0, False) if none."""
    parts: list[str] = []
    for span in range(1, 4):
        if index + span > len(lines):
            break
        line = lines[index + span - 1].strip()
        if not line or _QUOTED_LINE.match(line) or len(line) > _MAX_PATTERN_LINE:
            break
        parts.append(line)
        for candidate in (" ".join(parts), "".join(parts)):
            for pattern, certain in _ATTRIBUTIONS:
                if pattern.match(candidate):
                    return span, certain.search(candidate) is not None
    return 0, False


def _strip_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if _SIGNATURE_DASHES.match(line):
            lines = lines[:index]
            break
    while lines and (not lines[-1].strip() or _SENT_FROM.match(lines[-1])):
        lines = lines[:-1]
    if lines and _RULE.match(lines[-1]):
        last = len(lines) - 1
        for index in range(last - 2, max(-1, last - _MAX_SIGNATURE_LINES - 1), -1):
            if _RULE.match(lines[index]):
                lines = lines[:index]
                break
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


# --- machine mail --------------------------------------------------------------------

_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_AUTOREPLY_HEADERS = (
    "x-autoreply",
    "x-autorespond",
    "x-autorespond-by",
    "x-auto-reply",
    "x-autogenerated",
    "x-mail-autoreply",
    "x-ms-exchange-generated-message-source",
)
_OUT_OF_OFFICE = re.compile(
    r"^\s*[\[【(（<〈《]?\s*(?:自動応答|自動返信|自動回答|自動送信|不在(?:通知|連絡|のお知らせ|のご連絡)?|"
    r"休暇中|out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response)"
    r"(?:\s*[\]】)）>〉》:：]|\s|$)",
    re.I,
)


def _automatic(
    message: Message, headers: dict[str, list[str]], sender: str | None, subject: str
) -> str | None:
    """Why the message is machine mail (RFC 3834 and common practice), or None."""
    if any(re.fullmatch(r"<?\s*>?", value) for value in headers.get("return-path", [])):
        return "bounce"
    if message.get_content_type() == "multipart/report":
        report = str(message.get_param("report-type", "") or "").lower()
        if report == "disposition-notification":
            return "read-receipt"
        return "bounce" if report in ("delivery-status", "") else "report"
    if "x-failed-recipients" in headers:
        return "bounce"
    if sender is not None and sender.partition("@")[0] in _BOUNCE_SENDERS:
        return "bounce"
    for value in headers.get("auto-submitted", []):
        if value.split(";", 1)[0].strip().lower() != "no":
            return "auto-submitted"
    if any(name in headers for name in _AUTOREPLY_HEADERS):
        return "auto-reply"
    for value in headers.get("x-auto-response-suppress", []):
        if re.search(r"\b(?:all|oof|autoreply)\b", value, re.I):
            return "auto-reply"
    if "x-ms-exchange-inbox-rules-loop" in headers:
        return "auto-forward"
    for value in headers.get("precedence", []):
        precedence = value.strip().lower()
        if precedence in ("bulk", "junk"):
            return "bulk"
        if precedence == "list":
            return "list"
        if precedence == "auto_reply":
            return "auto-reply"
    if any(name in headers for name in ("list-id", "list-unsubscribe", "list-post")):
        return "list"
    if _OUT_OF_OFFICE.match(subject):
        return "out-of-office"
    return None
