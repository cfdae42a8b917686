"""HTML mail bodies turned into text in linear time, quote containers and reply headers dropped."""

from __future__ import annotations

import html
import re

# A small linear tokenizer rather than `html.parser`, which is quadratic on
# unterminated constructs on this Python (CVE-2025-6069: 100 KB of `<!--`
# takes seconds).
_MAX_TAG = 4096  # attributes of longer tags are not read
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

    A tolerant tokenizer in linear time (see the top of this module for why not html.parser).
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
