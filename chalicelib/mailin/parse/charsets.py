"""Bytes to text in the charsets Japanese mail arrives in, with the fallbacks clients need."""

from __future__ import annotations

import codecs
import re

from chalicelib.mailin.parse.exceptions import MalformedMail

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


def decode_bytes(data: bytes, charset: str | None, *, strict: bool) -> str:
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
