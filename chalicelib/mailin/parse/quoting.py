"""The new text of a reply: quoted text, mail clients' reply headers and signatures removed."""

from __future__ import annotations

import re

# Quoted text: `>` lines go wherever they are (so bottom-posted and inline
# answers keep their new text); an attribution line ("On … wrote:",
# "… さんは書きました:", "…のメール:", Gmail's "2026年11月26日(木) 10:00 名前 <a@b>:",
# also wrapped over two or three lines) goes with them, and when no `>` lines
# follow a clearly dated or addressed attribution, the rest is taken to be the
# quoted original; Outlook's separators ("-----Original Message-----",
# "-----元のメッセージ-----", a line of underscores) and its header block
# ("From:/Sent:/To:/Subject:", "差出人:/送信日時:/宛先:/件名:", half- or
# full-width colons) cut the rest. Signatures: everything from a "-- " line,
# trailing "iPhoneから送信" / "Sent from my …" lines, and a trailing block framed
# by two rule lines (━━━ / ---- / ==== …), the usual Japanese business
# signature.
#
# mail-parser-reply (the multilingual fork of email_reply_parser) was tried
# first: of the client formats the desk sees it recognises Gmail (Japanese and
# English), Thunderbird English and Outlook's English header block, but none of
# Outlook's Japanese header block, Thunderbird Japanese, iPhone Japanese or a
# wrapped Gmail attribution, and it cuts a note at any two lines that start
# with "To:"/"Cc:"; quotequail knows no Japanese and needs lxml. The patterns
# are therefore kept here, in one place, with a test per client.

_MAX_PATTERN_LINE = 400  # attribution and header patterns only look at short lines
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
