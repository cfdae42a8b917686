"""Normalising and checking Japanese text input (pure; no I/O).

Short fields (names, addresses, numbers) are NFKC-normalised so that
full-width digits and letters, `＠` and half-width kana become their usual
forms; long free text is NFC only, so that what the requester wrote keeps its
look. Control characters (newline and tab allowed in long text only),
surrogates and bidirectional overrides are refused, not silently removed:
they never come from a keyboard, and dropping them could change meaning.

Invisible characters: a one-line value refuses format characters (Unicode
category Cf: zero-width space, byte order mark, joiners, soft hyphen, tag
characters) and the line and paragraph separators (Zl, Zp), which no one
means in a name or an address and which make two equal-looking values
differ. Long text keeps format characters (a zero-width joiner holds an
emoji sequence together, and a zero-width space pasted from a web page
harms no one in a message shown escaped), turns the separators into line
ends like CR and CRLF, and refuses only tag characters outside an emoji
flag sequence: they can carry text no one sees.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Bidirectional embedding, override and isolate controls, and the marks that
# can reorder text on screen (the "Trojan Source" family).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

# Every dash-like character people type in phone numbers, including the
# katakana prolonged sound mark that Japanese IMEs often produce for "-".
PHONE_SEPARATORS = frozenset(
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d\uff70\u30fc"
    " \u3000()（）.．"
)

# Invisible in a one-line value (see the module docstring).
ONE_LINE_INVISIBLE = frozenset({"Cf", "Zl", "Zp"})
LINE_SEPARATORS = {ord("\u2028"): "\n", ord("\u2029"): "\n"}
_TAG_CHARACTER = re.compile("[\U000e0000-\U000e007f]")
# A subdivision flag (England, Scotland, Wales): black flag, tag letters, cancel tag.
_EMOJI_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")

_WHITESPACE_RUN = re.compile(r"\s+")
_KANA_ALLOWED = re.compile(
    r"^[\u3041-\u3096\u30a1-\u30fa\u30fc\u30fb\u309d\u309e\u30fd\u30fe A-Za-z'.-]+$"
)


# What makes a spreadsheet treat a cell as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: str) -> bool:
    """Whether a spreadsheet could run `value` as a formula.

    Judged on the NFKC form with surrounding white space removed as well as
    on the value itself: Excel reads a full-width `＝` as `=` and ignores
    the spaces before it, so `＝1+1` and ` =1+1` run too.
    """
    return value.startswith(FORMULA_START) or (
        unicodedata.normalize("NFKC", value).strip().startswith(FORMULA_START)
    )


class TextError(ValueError):
    """Carries a machine code; the messages live in core/messages.py."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def _check_characters(text: str, *, allow: frozenset[str], one_line: bool) -> None:
    for ch in text:
        if ch in allow:
            continue
        if ch in BIDI_CONTROLS:
            raise TextError("forbidden_character")
        # Cc: C0/C1 controls and DEL; Cs: lone surrogates (JSON can carry
        # them, UTF-8 cannot). Private-use characters stay allowed: some
        # Japanese systems still type rare kanji in names as 外字, and so do
        # variation selectors (category Mn) that pick a kanji's form.
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs"):
            raise TextError("forbidden_character")
        if one_line and category in ONE_LINE_INVISIBLE:
            raise TextError("invisible_character")


def normalize_short(value: str, *, max_length: int) -> str:
    """NFKC, trimmed, inner white space folded to one space; refuses control and invisible
    characters."""
    _check_characters(value, allow=frozenset(), one_line=True)
    text = unicodedata.normalize("NFKC", value)
    text = _WHITESPACE_RUN.sub(" ", text).strip()
    if len(text) > max_length:
        raise TextError("too_long", max=max_length)
    return text


def normalize_long(value: str, *, max_length: int) -> str:
    """NFC, line ends made LF, trailing space trimmed; newline and tab allowed."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").translate(LINE_SEPARATORS)
    _check_characters(text, allow=frozenset("\n\t"), one_line=False)
    if _TAG_CHARACTER.search(_EMOJI_TAG_SEQUENCE.sub("", text)):
        raise TextError("invisible_character")
    text = unicodedata.normalize("NFC", text).strip()
    if len(text) > max_length:
        raise TextError("too_long", max=max_length)
    return text


def normalize_phone(value: str) -> str:
    """Digits only (a leading + kept for international numbers); checks the length."""
    _check_characters(value, allow=frozenset(), one_line=True)
    text = unicodedata.normalize("NFKC", value).strip()
    digits = "".join(ch for ch in text if ch not in PHONE_SEPARATORS)
    international = digits.startswith("+")
    body = digits[1:] if international else digits
    if not body.isascii() or not body.isdigit():
        raise TextError("invalid_phone")
    if international:
        if body.startswith("81") and 11 <= len(body) <= 12:
            return "0" + body[2:]
        if 8 <= len(body) <= 15:
            return "+" + body
        raise TextError("invalid_phone")
    if not body.startswith("0") or not 10 <= len(body) <= 11:
        raise TextError("invalid_phone")
    return body


def display_phone(value: str) -> str:
    """A stored phone number (digits, or + and digits) as people read it: 059-000-0000.

    Japanese numbers get their national format (the area code's length varies:
    03-1234-5678, 0595-12-3456, 090-1234-5678), others the international one;
    a number the metadata cannot place is shown as stored.
    """
    # Imported here: only pages and mail show phone numbers, not the intake path.
    import phonenumbers

    if not value:
        return value
    try:
        parsed = phonenumbers.parse(value, "JP")
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(parsed):
        return value
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == 81
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return str(phonenumbers.format_number(parsed, style))


def check_kana(text: str) -> str:
    """A reading: katakana or hiragana (latin letters allowed for foreign names)."""
    if not _KANA_ALLOWED.match(text):
        raise TextError("invalid_kana")
    return text


# Readings in やさしい日本語 text: `[漢字|かんじ]` (core/messages.py, intake/i18n.py).
_READING = re.compile(r"\[([^\[\]|]+)\|([^\[\]|]+)\]")


def ruby_html(text: str) -> str:
    """HTML with <ruby> for each marked reading; everything else escaped."""
    out: list[str] = []
    last = 0
    for match in _READING.finditer(text):
        out.append(html.escape(text[last : match.start()], quote=False))
        base, reading = (html.escape(part, quote=False) for part in match.groups())
        out.append(f"<ruby>{base}<rp>（</rp><rt>{reading}</rt><rp>）</rp></ruby>")
        last = match.end()
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def ruby_plain(text: str) -> str:
    """Plain text: each marked reading in brackets after its kanji (mail text, titles)."""
    return _READING.sub(lambda m: f"{m.group(1)}（{m.group(2)}）", text)


def ruby_base(text: str) -> str:
    """Plain text without the readings (attributes, where screen readers read the kanji)."""
    return _READING.sub(lambda m: m.group(1), text)
