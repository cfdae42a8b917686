"""The dev server's request log without secrets: signed-link tokens in paths and queries are masked."""

from __future__ import annotations

import re
import sys
from typing import Any
from urllib.parse import parse_qsl, urlencode

MASK = "[token]"

# Path prefixes whose next segment is always a secret (signed action links, the
# requester's page, console sign-in links), but for the fixed pages named beside them.
_SECRET_SEGMENT_AFTER = frozenset({"actions", "my", "signin"})
_NOT_SECRET = frozenset({"lookup"})
# Query parameters that carry secrets whatever their length.
_SECRET_QUERY_NAMES = re.compile(r"token|signature|sig|key|secret", re.IGNORECASE)
# A token's shape: long, URL-safe, with letters and digits. Receipt numbers
# (DX-261206-123079, 16 characters), dates and page sizes stay readable.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_.~%=+/-]{24,}")
_REQUEST_LINE = re.compile(r"(?P<method>[A-Z]+) (?P<target>\S+)(?P<rest> HTTP/\S+)?")


def _looks_like_token(value: str) -> bool:
    return (
        bool(_TOKEN_SHAPE.fullmatch(value))
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


def mask_path(target: str) -> str:
    """`target` (path and query) with every token-like segment and value replaced by MASK."""
    path, sep, query = target.partition("?")
    segments = path.split("/")
    masked = []
    for i, segment in enumerate(segments):
        after_secret = (
            i > 0 and segments[i - 1] in _SECRET_SEGMENT_AFTER and segment not in ("", *_NOT_SECRET)
        )
        masked.append(MASK if after_secret or _looks_like_token(segment) else segment)
    result = "/".join(masked)
    if not sep:
        return result
    pairs = [
        (name, MASK if _SECRET_QUERY_NAMES.search(name) or _looks_like_token(value) else value)
        for name, value in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{result}?{urlencode(pairs, safe='[]')}"


def mask_request_line(text: str) -> str:
    """A log line's `"METHOD target HTTP/x"` part with the target masked; other text unchanged."""

    def replace(found: re.Match[str]) -> str:
        return f"{found['method']} {mask_path(found['target'])}{found['rest'] or ''}"

    return _REQUEST_LINE.sub(replace, text)


def _masked_log_message(self: Any, format: str, *args: Any) -> None:
    message = mask_request_line(format % args)
    sys.stderr.write(f"{self.address_string()} - - [{self.log_date_time_string()}] {message}\n")


def mask_chalice_local_access_log() -> None:
    """Make chalice local's request handler write masked request lines (idempotent)."""
    import chalice.local

    chalice.local.ChaliceRequestHandler.log_message = _masked_log_message
