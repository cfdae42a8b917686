"""Receipt numbers: dated in Japan time, digits only, a check digit that catches typos."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from chalicelib.core.receipt import is_valid_receipt_number, new_receipt_number


def test_receipt_number_is_dated_in_japan_time() -> None:
    # 2026-11-26 16:00 UTC is already the 27th in Japan.
    number = new_receipt_number(datetime(2026, 11, 26, 16, 0, tzinfo=UTC), draw=lambda _: 4821)
    assert number.startswith("DX-261127-04821")
    assert len(number) == len("DX-261127-048217")
    assert is_valid_receipt_number(number)


def test_every_single_digit_typo_is_detected() -> None:
    number = new_receipt_number(datetime(2026, 11, 26, tzinfo=UTC), draw=lambda _: 31415)
    for position, char in enumerate(number):
        if not char.isdigit():
            continue
        for digit in "0123456789":
            if digit == char:
                continue
            typo = number[:position] + digit + number[position + 1 :]
            assert not is_valid_receipt_number(typo), typo


def test_every_swap_of_adjacent_digits_is_detected() -> None:
    for serial in (12345, 90817, 55012):
        number = new_receipt_number(datetime(2026, 1, 5, tzinfo=UTC), draw=lambda _, s=serial: s)
        for i, j in itertools.pairwise(range(len(number))):
            a, b = number[i], number[j]
            if not (a.isdigit() and b.isdigit()) or a == b:
                continue
            swapped = number[:i] + b + a + number[j + 1 :]
            assert not is_valid_receipt_number(swapped), swapped


def test_malformed_numbers_are_not_valid() -> None:
    for value in ("", "DX-2611-1", "dx-261126-482175", "DX-261126-48217O", "DX-261126-4821755"):
        assert not is_valid_receipt_number(value)
