"""Receipt numbers (受付番号): read over the phone, typed by staff, never reused.

Format `DX-YYMMDD-NNNNNC`: the reception date in Japan time, five random
digits and a Damm check digit, which catches every single-digit typo and
every swap of adjacent digits. Digits only, so nothing can be misread
(no O/0, I/1). Uniqueness is enforced by the store, not by chance: the case
item is written with a condition that the number is unused.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

# Japan keeps no daylight saving time: a fixed offset needs no tz database.
JST = timezone(timedelta(hours=9), "JST")

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

_PATTERN = re.compile(r"^DX-(\d{6})-(\d{6})$")


def damm_digit(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def new_receipt_number(now: datetime, draw: Callable[[int], int] = secrets.randbelow) -> str:
    date_part = now.astimezone(JST).strftime("%y%m%d")
    serial = f"{draw(100_000):05d}"
    return f"DX-{date_part}-{serial}{damm_digit(date_part + serial)}"


def is_valid_receipt_number(value: str) -> bool:
    match = _PATTERN.match(value)
    if not match:
        return False
    return damm_digit(match.group(1) + match.group(2)) == 0
